/* vxm-check-guest: what a Windows guest with the guest GPU needs from the host's kernel beyond
 * passthrough itself: KVM ignoring the MSRs it does not emulate, a 64-bit PCI window for the
 * GPU's BARs, and the card's power saving (D3cold) while vfio-pci holds it idle. */
#include <string.h>

#include "common/vxm-host-system.h"
#include "pci/vxm-pci-bars.h"
#include "plan/vxm-qemu-argv.h"
#include "vxm-check.h"

#define NO_GUEST_GPU "skipped: no guest GPU to check (see the guest-gpu check)"

#define KVM_PARAMS        VXM_HOST_SYS_MODULES "/kvm/parameters"
#define KVM_IGNORE_MSRS   KVM_PARAMS "/ignore_msrs"
#define KVM_REPORT_MSRS   KVM_PARAMS "/report_ignored_msrs"
#define KVM_MODPROBE_CONF VXM_HOST_ETC_MODPROBE_D "/kvm.conf"
#define KVM_OPTIONS       "options kvm ignore_msrs=1 report_ignored_msrs=0"
#define VFIO_IDLE_D3      VXM_HOST_SYS_MODULES "/vfio_pci/parameters/disable_idle_d3"
#define VFIO_MODPROBE     VXM_HOST_ETC_MODPROBE_D "/vfio.conf"
#define VFIO_OPTIONS      "options vfio-pci disable_idle_d3=1"

/* A bool module parameter: 1 (Y), 0 (N), -1 when it cannot be read. */
static int
read_bool_param(VxmHostfs *hostfs, const char *path)
{
  g_autofree char *text = vxm_hostfs_read_attr(hostfs, path, NULL);

  if (text == NULL)
    return -1;
  if (g_str_equal(text, "Y") || g_str_equal(text, "1"))
    return 1;
  if (g_str_equal(text, "N") || g_str_equal(text, "0"))
    return 0;
  return -1;
}

/* How to make "options ..." in /etc/modprobe.d/FILE last (the immutable root's route when the
 * root is an overlay), for a fix. */
static char *
modprobe_d_steps(VxmHostfs *hostfs, const char *file, const char *options)
{
  g_autofree char *inside = g_strdup_printf("write '%s' to %s", options, file);
  g_autofree char *lasting = NULL;

  if (!vxm_host_system_change_is_volatile(hostfs, file))
    return g_strdup_printf("to keep it: write '%s' to %s (read when the module loads)", options,
                           file);
  lasting = vxm_host_system_lasting_steps(hostfs, inside);
  return g_strdup_printf("to keep it: %s (a file written to %s in the running system is lost at "
                         "the next boot)",
                         lasting, VXM_HOST_ETC_MODPROBE_D);
}

static char *
guest_label(VxmGpu *gpu)
{
  g_autofree char *name = vxm_pci_device_dup_display_name(vxm_gpu_get_device(gpu));
  return g_strdup_printf("%s (%s)", vxm_gpu_get_address(gpu), name);
}

void
vxm_check_ignore_msrs(VxmCheckContext *ctx, VxmCheckResult *result)
{
  VxmHostfs *hostfs = vxm_check_context_get_hostfs(ctx);
  int ignore, report;
  g_autofree char *keep = NULL;
  g_autofree char *cmdline = NULL;
  g_autofree char *fix = NULL;

  if (!vxm_hostfs_is_dir(hostfs, VXM_HOST_SYS_MODULES "/kvm")) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_UNKNOWN, NULL,
                         "not applicable: the kvm module is not loaded (the kvm check says why)");
    return;
  }
  ignore = read_bool_param(hostfs, KVM_IGNORE_MSRS);
  if (ignore < 0) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_UNKNOWN, NULL, "cannot read %s", KVM_IGNORE_MSRS);
    return;
  }
  if (ignore == 1) {
    report = read_bool_param(hostfs, KVM_REPORT_MSRS);
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "KVM ignores a guest's accesses to MSRs it does not emulate "
                         "(kvm.ignore_msrs = Y)%s",
                         report == 1 ? "; each is written to the kernel log "
                                       "(report_ignored_msrs = Y; N keeps the log quiet)"
                                     : "");
    return;
  }
  keep = modprobe_d_steps(hostfs, KVM_MODPROBE_CONF, KVM_OPTIONS);
  cmdline =
      vxm_check_how_to_add_kernel_params(hostfs, "kvm.ignore_msrs=1 kvm.report_ignored_msrs=0");
  fix = g_strdup_printf("for now: echo 1 | sudo tee %s (until the next boot); %s; or %s",
                        KVM_IGNORE_MSRS, keep, cmdline);
  vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, fix,
                       "KVM answers a guest's access to an MSR it does not emulate with a fault "
                       "(kvm.ignore_msrs = N): Windows guests stop with a blue screen on some "
                       "CPUs (often ones newer than the kernel)");
}

/* "address sizes : 39 bits physical, 48 bits virtual" in cpuinfo; 0 when not there. */
static guint
phys_bits(VxmHostfs *hostfs)
{
  g_autofree char *cpuinfo = NULL;
  const char *line;

  if (!vxm_hostfs_read_file(hostfs, VXM_HOST_PROC_CPUINFO, &cpuinfo, NULL, NULL))
    return 0;
  line = strstr(cpuinfo, "address sizes");
  if (line == NULL || (line = strchr(line, ':')) == NULL)
    return 0;
  return (guint)g_ascii_strtoull(line + 1, NULL, 10);
}

/* The largest size @sizes (a resize bitmap) offers at bit @limit or below; -1 when none. */
static gint
resize_bit_at_most(guint64 sizes, gint limit)
{
  for (gint bit = MIN(limit, 43); bit >= 0; bit--)
    if (sizes & (G_GUINT64_CONSTANT(1) << bit))
      return bit;
  return -1;
}

void
vxm_check_bars(VxmCheckContext *ctx, VxmCheckResult *result)
{
  VxmHostfs *hostfs = vxm_check_context_get_hostfs(ctx);
  VxmGpu *gpu = vxm_check_context_get_guest(ctx);
  GPtrArray *fns;
  g_autofree char *label = NULL;
  g_autofree char *total_text = NULL;
  g_autoptr(GString) list = g_string_new(NULL);
  const VxmPciBar *largest = NULL;
  const char *largest_addr = NULL;
  g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
  guint64 total = 0, mmio64;
  guint bits;

  if (gpu == NULL) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, NULL, NO_GUEST_GPU);
    return;
  }
  label = guest_label(gpu);
  fns = vxm_gpu_get_all_functions(gpu);
  for (guint i = 0; i < fns->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(fns, i);
    g_autoptr(GError) error = NULL;
    GArray *bars = vxm_pci_bars_read(hostfs, vxm_pci_device_get_sysfs_path(dev), &error);

    if (bars == NULL) {
      vxm_check_result_set(result, VXM_CHECK_STATUS_UNKNOWN, NULL,
                           "cannot tell how large %s's BARs are: %s", label, error->message);
      return;
    }
    g_ptr_array_add(keep, bars);
    for (guint b = 0; b < bars->len; b++) {
      const VxmPciBar *bar = &g_array_index(bars, VxmPciBar, b);

      if (!bar->is_64bit)
        continue;
      total += bar->size;
      if (largest == NULL || bar->size > largest->size) {
        largest = bar;
        largest_addr = vxm_pci_device_get_address(dev);
      }
    }
  }
  if (largest == NULL) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "%s has no 64-bit BAR: nothing needs room above 4 GiB", label);
    return;
  }
  {
    g_autofree char *size = vxm_pci_bar_size_to_string(largest->size);
    guint64 max = vxm_pci_bar_max_resize(largest);

    g_string_append_printf(list, "the largest, BAR %u of %s, is %s", largest->index, largest_addr,
                           size);
    if (max > 0) {
      g_autofree char *max_text = vxm_pci_bar_size_to_string(max);
      g_string_append_printf(list, " (a resizable BAR: up to %s)", max_text);
    }
  }
  total_text = vxm_pci_bar_size_to_string(total);
  mmio64 = vxm_qemu_argv_mmio64_mb(total);
  bits = phys_bits(hostfs);
  /* OVMF aligns the window to its size above the guest's RAM: it ends at twice its size at
   * least, which the CPU's physical address width must reach */
  if (mmio64 > 0 && bits > 0 && bits < 64 && (mmio64 << 21) > (G_GUINT64_CONSTANT(1) << bits)) {
    g_autofree char *fix = NULL;
    g_autofree char *window = vxm_pci_bar_size_to_string(mmio64 << 20);
    /* a BAR of 1/16 of the address space leaves the window room */
    gint fit_bit = resize_bit_at_most(largest->resize_sizes, (gint)bits - 4 - 20);

    if (fit_bit >= 0) {
      g_autofree char *fit = vxm_pci_bar_size_to_string(G_GUINT64_CONSTANT(1) << (fit_bit + 20));

      fix = g_strdup_printf(
          "make the BAR smaller: turn off Resizable BAR (\"Re-Size BAR Support\") in the "
          "firmware setup; or, until the next boot, unbind every function of the card from its "
          "driver (echo ADDR | sudo tee %s/ADDR/driver/unbind for each), then echo %d | sudo "
          "tee %s/%s/resource%u_resize (bit N is 2^N MiB: %d gives %s), then vxm start",
          VXM_HOST_SYS_PCI_DEVICES, fit_bit, VXM_HOST_SYS_PCI_DEVICES, largest_addr, largest->index,
          fit_bit, fit);
    } else {
      fix = g_strdup_printf("BAR %u of %s cannot be made smaller (it is not resizable to a size "
                            "that fits): this card needs a CPU with more physical address bits",
                            largest->index, largest_addr);
    }
    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, fix,
                         "%s's 64-bit BARs take %s (%s): the guest's firmware needs a %s window "
                         "for them, which this CPU's %u-bit physical addresses cannot place",
                         label, total_text, list->str, window, bits);
    return;
  }
  if (mmio64 > 0) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "%s's 64-bit BARs take %s (%s), more than OVMF's default %d MiB "
                         "window: handled, vxm start gives the firmware a %" G_GUINT64_FORMAT
                         " MiB one (-fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=%" G_GUINT64_FORMAT
                         "; vxm start --dry-run shows it)",
                         label, total_text, list->str, VXM_QEMU_OVMF_MMIO64_DEFAULT_MB, mmio64,
                         mmio64);
    return;
  }
  vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                       "%s's 64-bit BARs take %s (%s): they fit OVMF's default %d MiB window "
                       "(vxm start makes it larger when a BAR grows)",
                       label, total_text, list->str, VXM_QEMU_OVMF_MMIO64_DEFAULT_MB);
}

void
vxm_check_d3cold(VxmCheckContext *ctx, VxmCheckResult *result)
{
  VxmHostfs *hostfs = vxm_check_context_get_hostfs(ctx);
  VxmGpu *gpu = vxm_check_context_get_guest(ctx);
  const char *dir;
  g_autofree char *label = NULL;
  g_autofree char *allowed_path = NULL;
  g_autofree char *state_path = NULL;
  g_autofree char *allowed = NULL;
  g_autofree char *state = NULL;
  g_autofree char *keep = NULL;
  g_autofree char *fix = NULL;
  g_autoptr(GError) error = NULL;
  int no_idle_d3;

  if (gpu == NULL) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, NULL, NO_GUEST_GPU);
    return;
  }
  label = guest_label(gpu);
  dir = vxm_pci_device_get_sysfs_path(vxm_gpu_get_device(gpu));
  allowed_path = g_build_filename(dir, "d3cold_allowed", NULL);
  state_path = g_build_filename(dir, "power_state", NULL);
  no_idle_d3 = read_bool_param(hostfs, VFIO_IDLE_D3);
  keep = modprobe_d_steps(hostfs, VFIO_MODPROBE, VFIO_OPTIONS);
  fix = g_strdup_printf("keep vfio-pci from powering the card down while it waits for the guest: "
                        "for now, echo 1 | sudo tee %s (with vfio-pci loaded) or echo 0 | sudo "
                        "tee %s/%s/d3cold_allowed (both until the next boot); %s",
                        VFIO_IDLE_D3, VXM_HOST_SYS_PCI_DEVICES, vxm_gpu_get_address(gpu), keep);

  if (no_idle_d3 == 1) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "vfio-pci keeps the devices it holds powered while idle "
                         "(disable_idle_d3 = Y): %s does not go into D3cold between guest runs",
                         label);
    return;
  }
  allowed = vxm_hostfs_read_attr(hostfs, allowed_path, &error);
  if (allowed == NULL) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_UNKNOWN, NULL,
                         "cannot tell whether %s may go into D3cold: %s", label, error->message);
    return;
  }
  if (g_str_equal(allowed, "0")) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "the kernel does not put %s into D3cold (its d3cold_allowed is 0; the "
                         "next boot sets it back to 1)",
                         label);
    return;
  }
  state = vxm_hostfs_read_attr(hostfs, state_path, NULL);
  if (g_strcmp0(state, "D3cold") == 0) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, fix,
                         "%s is in D3cold now (its power cut while vfio-pci holds it idle): "
                         "some cards do not come back from it, and the guest then fails to "
                         "start (\"Unable to change power state from D3cold to D0, device "
                         "inaccessible\")",
                         label);
    return;
  }
  /* whether the platform can cut the slot's power, and whether this card survives it, shows
   * only when it happens */
  vxm_check_result_set(result, VXM_CHECK_STATUS_UNKNOWN, fix,
                       "not known beforehand: %s may be put into D3cold while vfio-pci holds it "
                       "idle (d3cold_allowed is 1, vfio-pci's disable_idle_d3 is %s), and "
                       "whether this card comes back from it shows only then; if a guest start "
                       "fails with \"Unable to change power state from D3cold to D0\", do the fix",
                       label,
                       no_idle_d3 == 0 ? "N"
                                       : "N unless /etc/modprobe.d sets it (vfio-pci is not "
                                         "loaded yet)");
}
