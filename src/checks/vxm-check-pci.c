/* vxm-check-pci: the foundation's preflight checks: IOMMU, KVM, two GPUs, a guest GPU. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "common/vxm-host-system.h"
#include "common/vxm-util.h"
#include "pci/vxm-gpu.h"
#include "vm/vxm-vm-config.h"
#include "vxm-check.h"

typedef enum {
  CPU_OTHER,
  CPU_INTEL,
  CPU_AMD,
} CpuKind;

static CpuKind
cpu_kind(VxmCheckContext *ctx)
{
  const char *vendor = vxm_check_context_get_cpu_vendor(ctx);

  if (g_strcmp0(vendor, "GenuineIntel") == 0)
    return CPU_INTEL;
  if (g_strcmp0(vendor, "AuthenticAMD") == 0 || g_strcmp0(vendor, "HygonGenuine") == 0)
    return CPU_AMD;
  return CPU_OTHER;
}

/* The kernel command line's words, or an empty list when it cannot be read. */
static GStrv
read_cmdline(VxmHostfs *hostfs)
{
  g_autofree char *text = vxm_hostfs_read_attr(hostfs, VXM_HOST_PROC_CMDLINE, NULL);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
  g_auto(GStrv) words = g_strsplit_set(text != NULL ? text : "", " \t\n", -1);

  for (gsize i = 0; words[i] != NULL; i++) {
    if (words[i][0] != '\0')
      g_strv_builder_add(builder, words[i]);
  }
  return g_strv_builder_end(builder);
}

char *
vxm_check_how_to_add_kernel_params(VxmHostfs *hostfs, const char *params)
{
  g_autofree char *how = NULL;
  g_autofree char *lasting = NULL;
  const char *file;

  if (vxm_hostfs_exists(hostfs, VXM_HOST_ETC_DEFAULT_GRUB) ||
      !vxm_hostfs_exists(hostfs, VXM_HOST_ETC_KERNEL_CMDLINE)) {
    file = VXM_HOST_ETC_DEFAULT_GRUB;
    how = g_strdup_printf(
        "add %s to GRUB_CMDLINE_LINUX_DEFAULT in %s, run 'sudo update-grub' and reboot "
        "(with systemd-boot instead: add them to %s, or run 'sudo kernelstub -a \"%s\"' on "
        "Pop!_OS-style systems, then reboot)",
        params, VXM_HOST_ETC_DEFAULT_GRUB, VXM_HOST_ETC_KERNEL_CMDLINE, params);
  } else {
    file = VXM_HOST_ETC_KERNEL_CMDLINE;
    how = g_strdup_printf("add %s to %s (or run 'sudo kernelstub -a \"%s\"' where kernelstub "
                          "manages it), update the boot entries and reboot",
                          params, VXM_HOST_ETC_KERNEL_CMDLINE, params);
  }
  /* an immutable root drops an edit of /etc/default/grub at the reboot it needs */
  if (vxm_host_system_change_is_volatile(hostfs, file)) {
    g_autofree char *inside =
        g_strdup_printf("add %s to %s and update the boot entries (update-grub)", params, file);

    lasting = vxm_host_system_lasting_steps(hostfs, inside);
    return g_strdup_printf("%s, then reboot (an edit of %s in the running system is lost at "
                           "that reboot)",
                           lasting, file);
  }
  return g_steal_pointer(&how);
}

void
vxm_check_iommu(VxmCheckContext *ctx, VxmCheckResult *result)
{
  VxmHostfs *hostfs = vxm_check_context_get_hostfs(ctx);
  g_autoptr(GError) error = NULL;
  VxmPciBus *bus = vxm_check_context_get_bus(ctx, &error);
  g_auto(GStrv) cmdline = read_cmdline(hostfs);
  g_autofree char *fix = NULL;
  g_autofree char *how = NULL;
  const char *disabler = NULL;
  CpuKind cpu = cpu_kind(ctx);

  if (bus != NULL && vxm_pci_bus_get_iommu_enabled(bus)) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL, "the IOMMU is on (%u groups)",
                         vxm_pci_bus_get_iommu_group_count(bus));
    return;
  }
  if (bus == NULL && vxm_hostfs_is_dir(hostfs, VXM_HOST_SYS_IOMMU_GROUPS)) {
    /* groups exist, but the PCI bus cannot be read: the gpus check reports that */
    g_autoptr(GPtrArray) groups = vxm_hostfs_list_dir(hostfs, VXM_HOST_SYS_IOMMU_GROUPS, NULL);

    if (groups != NULL && groups->len > 0) {
      vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL, "the IOMMU is on (%u groups)",
                           groups->len);
      return;
    }
  }

  for (gsize i = 0; cmdline[i] != NULL; i++) {
    if (strcmp(cmdline[i], "intel_iommu=off") == 0 || strcmp(cmdline[i], "amd_iommu=off") == 0 ||
        strcmp(cmdline[i], "iommu=off") == 0)
      disabler = cmdline[i];
  }
  if (disabler != NULL) {
    g_autofree char *remove = NULL;

    how = vxm_check_how_to_add_kernel_params(hostfs, cpu == CPU_AMD ? "amd_iommu=on iommu=pt"
                                                                    : "intel_iommu=on iommu=pt");
    remove = g_strdup_printf("the kernel command line turns it off with %s: remove it and %s",
                             disabler, how);
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, remove,
                         "the IOMMU is off (no groups in %s): %s is on the kernel command line",
                         VXM_HOST_SYS_IOMMU_GROUPS, disabler);
    return;
  }

  switch (cpu) {
  case CPU_INTEL:
    if (g_strv_contains((const char *const *)cmdline, "intel_iommu=on")) {
      fix = g_strdup("the kernel command line already has intel_iommu=on: turn on VT-d "
                     "(Intel Virtualization Technology for Directed I/O) in the firmware setup "
                     "and reboot");
    } else {
      how = vxm_check_how_to_add_kernel_params(hostfs, "intel_iommu=on iommu=pt");
      fix = g_strdup_printf("turn on VT-d in the firmware setup, then %s", how);
    }
    break;
  case CPU_AMD:
    how = vxm_check_how_to_add_kernel_params(hostfs, "amd_iommu=on iommu=pt");
    fix = g_strdup_printf("on AMD the kernel turns the IOMMU on by itself when the firmware "
                          "offers it: enable IOMMU (often under AMD CBS or NBIO) and SVM in the "
                          "firmware setup and reboot; if it stays off, %s",
                          how);
    break;
  case CPU_OTHER:
    how =
        vxm_check_how_to_add_kernel_params(hostfs, "intel_iommu=on (Intel) or amd_iommu=on (AMD)");
    fix =
        g_strdup_printf("turn on VT-d (Intel) or IOMMU (AMD) in the firmware setup, then %s", how);
    break;
  }
  vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix,
                       "the IOMMU is off: %s holds no groups, so no device can be passed through",
                       VXM_HOST_SYS_IOMMU_GROUPS);
}

void
vxm_check_kvm(VxmCheckContext *ctx, VxmCheckResult *result)
{
  VxmHostfs *hostfs = vxm_check_context_get_hostfs(ctx);
  g_autofree char *path = vxm_hostfs_path(hostfs, VXM_HOST_DEV_KVM);
  CpuKind cpu = cpu_kind(ctx);
  const char *module = cpu == CPU_INTEL ? "kvm_intel" : cpu == CPU_AMD ? "kvm_amd" : NULL;
  const char *feature = cpu == CPU_INTEL ? "VT-x (Intel Virtualization Technology)"
                        : cpu == CPU_AMD ? "SVM (AMD-V)"
                                         : "VT-x (Intel) or SVM (AMD)";
  vxm_autofd int fd = -1;
  int errsv;

  fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL, "%s is usable", VXM_HOST_DEV_KVM);
    return;
  }
  errsv = errno;
  if (errsv == ENOENT || errsv == ENXIO || errsv == ENODEV) {
    g_autofree char *fix =
        g_strdup_printf("enable %s in the firmware setup, then load the module: sudo modprobe %s",
                        feature, module != NULL ? module : "kvm_intel (or kvm_amd)");
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix,
                         "%s is missing: the kernel offers no hardware virtualization",
                         VXM_HOST_DEV_KVM);
  } else if (errsv == EACCES || errsv == EPERM) {
    g_autofree char *fix =
        g_strdup_printf("add yourself to group kvm: sudo usermod -aG kvm %s, then log out and "
                        "back in",
                        g_get_user_name());
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix, "%s cannot be opened by you: %s",
                         VXM_HOST_DEV_KVM, g_strerror(errsv));
  } else {
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL,
                         "check that the kvm module is loaded (lsmod) and see dmesg",
                         "%s cannot be opened: %s", VXM_HOST_DEV_KVM, g_strerror(errsv));
  }
}

static char *
gpu_label(VxmGpu *gpu)
{
  g_autofree char *name = vxm_pci_device_dup_display_name(vxm_gpu_get_device(gpu));
  return g_strdup_printf("%s (%s)", vxm_gpu_get_address(gpu), name);
}

#define TWO_GPU_RULE \
  "vxm is for two-GPU machines: the host keeps one GPU and the guest gets the other"

/* A host whose PCI devices cannot be listed at all is most often a container or a chroot
 * without the host's /sys, or a --root that is not a host tree. */
static char *
unreadable_pci_fix(VxmCheckContext *ctx)
{
  g_autofree char *devices =
      vxm_hostfs_path(vxm_check_context_get_hostfs(ctx), VXM_HOST_SYS_PCI_DEVICES);

  return g_strdup_printf("vxm reads the PCI devices from %s: run vxm check on the host itself "
                         "(not in a container or chroot without the host's /sys), or give "
                         "--root a folder that holds sys/bus/pci/devices",
                         devices);
}

void
vxm_check_gpus(VxmCheckContext *ctx, VxmCheckResult *result)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *gpus = vxm_check_context_get_gpus(ctx, &error);
  g_autoptr(GString) list = g_string_new(NULL);
  static const char *fix =
      "add a second GPU, or turn on the CPU's integrated graphics in the firmware setup (often "
      "'iGPU Multi-Monitor' or 'Integrated Graphics'), so the host keeps one GPU and the guest "
      "gets the other";

  if (gpus == NULL) {
    g_autofree char *unreadable = unreadable_pci_fix(ctx);

    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, unreadable, "%s", error->message);
    return;
  }
  for (guint i = 0; i < gpus->len; i++) {
    VxmGpu *gpu = g_ptr_array_index(gpus, i);
    g_autofree char *name = vxm_pci_device_dup_display_name(vxm_gpu_get_device(gpu));

    g_string_append_printf(list, "%s%s (%s, %s)", i > 0 ? ", " : "", vxm_gpu_get_address(gpu), name,
                           vxm_gpu_role_to_string(vxm_gpu_get_role(gpu)));
  }
  if (gpus->len == 0)
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL,
                         "vxm needs two GPUs: check that the cards are seated and powered and "
                         "that the integrated graphics are on in the firmware setup",
                         TWO_GPU_RULE "; this machine has no GPU at all");
  else if (gpus->len == 1)
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix,
                         TWO_GPU_RULE "; this machine has only %s", list->str);
  else
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL, "%u GPUs: %s", gpus->len, list->str);
}

static char *
join_reasons(GPtrArray *reasons)
{
  g_autoptr(GString) s = g_string_new(NULL);

  for (guint i = 0; i < reasons->len; i++)
    g_string_append_printf(s, "%s%s", i > 0 ? "; " : "", (char *)g_ptr_array_index(reasons, i));
  return g_string_free(g_steal_pointer(&s), FALSE);
}

/* The fix for the first rule that keeps @gpus from the guest, in the order a user fixes them. */
static const char *
fix_for(VxmCheckContext *ctx, GPtrArray *gpus)
{
  g_autoptr(GError) error = NULL;
  VxmPciBus *bus = vxm_check_context_get_bus(ctx, &error);

  if (bus != NULL && !vxm_pci_bus_get_iommu_enabled(bus))
    return "turn the IOMMU on first (see the iommu check)";
  if (gpus->len < 2)
    return "vxm needs a second GPU (see the gpus check)";
  return "put the guest card in another PCIe slot (one wired to the CPU rather than the "
         "chipset) or enable ACS in the firmware setup, then run vxm check again; "
         "vxm list-gpus shows each group";
}

void
vxm_check_guest_gpu(VxmCheckContext *ctx, VxmCheckResult *result)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *gpus = vxm_check_context_get_gpus(ctx, &error);
  const char *configured = vxm_check_context_get_guest_gpu(ctx);
  g_autoptr(GPtrArray) candidates = g_ptr_array_new();
  g_autoptr(GString) why = g_string_new(NULL);

  if (gpus == NULL) {
    g_autofree char *unreadable = unreadable_pci_fix(ctx);

    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, unreadable, "%s", error->message);
    return;
  }

  if (configured != NULL) {
    g_autoptr(VxmGpu) gpu = vxm_gpu_find_in_list(gpus, configured, &error);
    g_autofree char *label = NULL;
    g_autofree char *reasons = NULL;

    if (gpu == NULL) {
      vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL,
                           "choose the guest GPU again with vxm config --set-gpu ADDRESS "
                           "(see vxm list-gpus)",
                           "the configured guest GPU: %s", error->message);
      return;
    }
    label = gpu_label(gpu);
    if (vxm_gpu_get_role(gpu) == VXM_GPU_ROLE_GUEST) {
      vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                           "the configured guest GPU %s can be passed through", label);
      return;
    }
    reasons = join_reasons(vxm_gpu_get_reasons(gpu));
    /* the boot VGA device stays the host's whatever its slot: another slot or ACS is no fix */
    if (vxm_gpu_get_role(gpu) == VXM_GPU_ROLE_HOST) {
      const VxmVmConfig *config = vxm_check_context_get_vm_config(ctx);
      g_autofree char *fix = g_strdup_printf(
          "give the guest the other GPU: vxm config %s --set-gpu ADDRESS (vxm list-gpus shows "
          "which can be the guest's), or make the other card the boot GPU in the firmware setup",
          config != NULL ? config->name : "NAME");

      vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix,
                           "the configured guest GPU %s cannot be passed through: %s", label,
                           reasons);
      return;
    }
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix_for(ctx, gpus),
                         "the configured guest GPU %s cannot be passed through: %s", label,
                         reasons);
    return;
  }

  for (guint i = 0; i < gpus->len; i++) {
    VxmGpu *gpu = g_ptr_array_index(gpus, i);
    VxmGpuRole role = vxm_gpu_get_role(gpu);
    g_autofree char *label = gpu_label(gpu);
    g_autofree char *reasons = NULL;

    if (role == VXM_GPU_ROLE_CANDIDATE || role == VXM_GPU_ROLE_GUEST) {
      g_ptr_array_add(candidates, gpu);
      continue;
    }
    /* the host's GPU is never the guest's: say why only when there is no other */
    if (role == VXM_GPU_ROLE_HOST && gpus->len > 1)
      continue;
    reasons = join_reasons(vxm_gpu_get_reasons(gpu));
    g_string_append_printf(why, "%s%s: %s", why->len > 0 ? "; " : "", label, reasons);
  }
  if (candidates->len == 1) {
    g_autofree char *label = gpu_label(g_ptr_array_index(candidates, 0));
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "%s can be the guest GPU: its IOMMU group holds only its own functions "
                         "and bridges",
                         label);
  } else if (candidates->len > 1) {
    g_autoptr(GString) list = g_string_new(NULL);

    for (guint i = 0; i < candidates->len; i++) {
      g_autofree char *label = gpu_label(g_ptr_array_index(candidates, i));
      g_string_append_printf(list, "%s%s", i > 0 ? ", " : "", label);
    }
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "%u GPUs can be the guest GPU: %s; choose one with vxm config "
                         "--set-gpu ADDRESS",
                         candidates->len, list->str);
  } else if (gpus->len == 0) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix_for(ctx, gpus),
                         "no GPU can be the guest GPU: this machine has none");
  } else {
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix_for(ctx, gpus),
                         "no GPU can be the guest GPU: %s", why->str);
  }
}
