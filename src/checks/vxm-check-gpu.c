/* vxm-check-gpu: checks of the guest GPU beyond its IOMMU group: can it be reset between guest
 * runs (and the AMD reset bug), does a boot framebuffer sit in its memory, does a process hold
 * it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/vxm-util.h"
#include "ops/vxm-host-ops-local.h"
#include "pci/vxm-pci-holders.h"
#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-lock.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-check.h"

#define NO_GUEST_GPU "skipped: no guest GPU to check (see the guest-gpu check)"
#define NO_GUEST_FIX NULL /* the guest-gpu check has the fix */

/* A label for messages: "0000:03:00.0 (AMD Radeon RX 580)". */
static char *
guest_label(VxmGpu *gpu)
{
  g_autofree char *name = vxm_pci_device_dup_display_name(vxm_gpu_get_device(gpu));
  return g_strdup_printf("%s (%s)", vxm_gpu_get_address(gpu), name);
}

static const char *
vm_name(VxmCheckContext *ctx)
{
  const VxmVmConfig *config = vxm_check_context_get_vm_config(ctx);
  return config != NULL && config->name != NULL ? config->name : "NAME";
}

/* AMD GPU families whose function-level reset does not bring the card back (the "AMD reset
 * bug"): the device id ranges of the chips vendor-reset handles. */
static const struct {
  guint16 first;
  guint16 last;
  const char *family;
} amd_reset_bug[] = {
    {0x67c0, 0x67df, "Polaris 10"}, {0x67e0, 0x67ff, "Polaris 11"}, {0x6980, 0x699f, "Polaris 12"},
    {0x6fdf, 0x6fdf, "Polaris 20"}, {0x6860, 0x687f, "Vega 10"},    {0x66a0, 0x66af, "Vega 20"},
    {0x7310, 0x731f, "Navi 10"},    {0x7360, 0x736f, "Navi 12"},    {0x7340, 0x734f, "Navi 14"},
};

/* The family name when @dev has the AMD reset bug, else NULL. */
static const char *
amd_reset_bug_family(VxmPciDevice *dev)
{
  guint16 id = vxm_pci_device_get_device_id(dev);

  if (vxm_pci_device_get_vendor_id(dev) != 0x1002)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS(amd_reset_bug); i++) {
    if (id >= amd_reset_bug[i].first && id <= amd_reset_bug[i].last)
      return amd_reset_bug[i].family;
  }
  return NULL;
}

void
vxm_check_reset(VxmCheckContext *ctx, VxmCheckResult *result)
{
  VxmGpu *gpu = vxm_check_context_get_guest(ctx);
  const VxmVmConfig *config = vxm_check_context_get_vm_config(ctx);
  VxmPciDevice *dev;
  const char *const *methods;
  const char *family;
  g_autofree char *label = NULL;
  g_autofree char *list = NULL;
  g_autofree char *reset_attr = NULL;

  if (gpu == NULL) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, NO_GUEST_FIX, NO_GUEST_GPU);
    return;
  }
  dev = vxm_gpu_get_device(gpu);
  label = guest_label(gpu);
  methods = vxm_pci_device_get_reset_methods(dev);
  list = methods != NULL ? g_strjoinv(", ", (char **)methods) : NULL;
  family = amd_reset_bug_family(dev);

  if (family != NULL) {
    g_autofree char *fix = NULL;

    if (methods != NULL && g_strv_contains(methods, "device_specific")) {
      vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                           "%s is an AMD %s card (the AMD reset bug), and its reset_method "
                           "includes device_specific: vendor-reset resets it",
                           label, family);
      return;
    }
    if (config != NULL && config->keep_bound) {
      vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                           "%s is an AMD %s card (the AMD reset bug); keep_bound is on, so it "
                           "stays on vfio-pci between guest runs",
                           label, family);
      return;
    }
    fix = g_strdup_printf(
        "keep the card on vfio-pci between guest runs: vxm config %s --set gpu.keep_bound=true "
        "(vxm reattach gives it back to the host later); or install the vendor-reset kernel "
        "module (github.com/gnif/vendor-reset, with dkms) and select it: echo device_specific | "
        "sudo tee %s/%s/reset_method",
        vm_name(ctx), VXM_HOST_SYS_PCI_DEVICES, vxm_gpu_get_address(gpu));
    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, fix,
                         "%s is an AMD %s card, which has the AMD reset bug: once a guest has "
                         "used it, it may not work again (in the guest or on the host) until "
                         "the machine is powered off",
                         label, family);
    return;
  }

  if (methods != NULL && methods[0] != NULL) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL, "%s can be reset (%s)", label, list);
    return;
  }
  /* no reset_method: an old kernel (before 5.15) still has `reset` when a reset exists */
  reset_attr = g_build_filename(vxm_pci_device_get_sysfs_path(dev), "reset", NULL);
  if (vxm_hostfs_exists(vxm_check_context_get_hostfs(ctx), reset_attr)) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "%s can be reset (this kernel does not name the method)", label);
    return;
  }
  {
    g_autofree char *fix = g_strdup_printf(
        "keep the card on vfio-pci between guest runs: vxm config %s --set gpu.keep_bound=true",
        vm_name(ctx));
    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, fix,
                         "%s offers no reset method (no reset_method or reset in sysfs): the "
                         "guest may find it as the last run left it, and the host may not get "
                         "it back working",
                         label);
  }
}

/* One line of /proc/iomem: "  e0000000-efffffff : 0000:01:00.0". */
static gboolean
parse_iomem_line(const char *line, guint64 *start, guint64 *end, const char **name)
{
  const char *p = line;
  char *dash;
  char *colon;

  while (*p == ' ')
    p++;
  *start = g_ascii_strtoull(p, &dash, 16);
  if (dash == p || *dash != '-')
    return FALSE;
  *end = g_ascii_strtoull(dash + 1, &colon, 16);
  if (colon == dash + 1 || strncmp(colon, " : ", 3) != 0)
    return FALSE;
  *name = colon + 3;
  return TRUE;
}

/* The names the kernel's boot framebuffers register in /proc/iomem. */
static gboolean
is_boot_framebuffer(const char *name)
{
  static const char *const names[] = {"efifb", "simpledrm", "simple-framebuffer", "BOOTFB",
                                      "vesafb"};

  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    if (strstr(name, names[i]) != NULL)
      return TRUE;
  }
  return FALSE;
}

/* The kernel's version as MAJOR * 1000 + MINOR, 0 when unknown. */
static guint
kernel_version(VxmHostfs *hostfs)
{
  g_autofree char *text = vxm_hostfs_read_attr(hostfs, VXM_HOST_PROC_OSRELEASE, NULL);
  char *end = NULL;
  guint64 major, minor;

  if (text == NULL)
    return 0;
  major = g_ascii_strtoull(text, &end, 10);
  if (end == text || *end != '.')
    return 0;
  minor = g_ascii_strtoull(end + 1, NULL, 10);
  return (guint)(major * 1000 + minor);
}

void
vxm_check_framebuffer(VxmCheckContext *ctx, VxmCheckResult *result)
{
  VxmHostfs *hostfs = vxm_check_context_get_hostfs(ctx);
  VxmGpu *gpu = vxm_check_context_get_guest(ctx);
  g_autofree char *iomem = NULL;
  g_autofree char *resource = NULL;
  g_autofree char *resource_path = NULL;
  g_autofree char *label = NULL;
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) bars = NULL;
  g_autoptr(GString) found = g_string_new(NULL);
  g_autoptr(GError) error = NULL;
  gboolean all_zero = TRUE;
  guint version;

  if (gpu == NULL) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, NO_GUEST_FIX, NO_GUEST_GPU);
    return;
  }
  label = guest_label(gpu);
  if (!vxm_hostfs_read_file(hostfs, VXM_HOST_PROC_IOMEM, &iomem, NULL, &error)) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_UNKNOWN, NULL,
                         "cannot tell whether a boot framebuffer sits in %s's memory: %s", label,
                         error->message);
    return;
  }
  resource_path =
      g_build_filename(vxm_pci_device_get_sysfs_path(vxm_gpu_get_device(gpu)), "resource", NULL);
  resource = vxm_hostfs_read_attr(hostfs, resource_path, NULL);
  bars = g_strsplit(resource != NULL ? resource : "", "\n", -1);
  lines = g_strsplit(iomem, "\n", -1);

  for (gsize i = 0; lines[i] != NULL; i++) {
    guint64 start, end;
    const char *name;

    if (!parse_iomem_line(lines[i], &start, &end, &name))
      continue;
    if (start != 0 || end != 0)
      all_zero = FALSE;
    if (!is_boot_framebuffer(name))
      continue;
    /* the first six lines of `resource` are BARs 0-5: "start end flags" */
    for (gsize bar = 0; bar < 6 && bars[bar] != NULL; bar++) {
      g_auto(GStrv) f = g_strsplit_set(bars[bar], " \t", -1);
      guint64 bar_start, bar_end, flags;

      if (g_strv_length(f) < 3)
        continue;
      bar_start = g_ascii_strtoull(f[0], NULL, 16);
      bar_end = g_ascii_strtoull(f[1], NULL, 16);
      flags = g_ascii_strtoull(f[2], NULL, 16);
      if ((flags & 0x200) == 0 || bar_end <= bar_start) /* IORESOURCE_MEM */
        continue;
      if (start <= bar_end && end >= bar_start)
        g_string_append_printf(found,
                               "%s%s at %" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER
                               "x in BAR %" G_GSIZE_FORMAT,
                               found->len > 0 ? ", " : "", name, start, end, bar);
    }
  }
  if (all_zero) {
    /* the kernel shows the addresses to root (CAP_SYS_ADMIN) only */
    if (geteuid() != 0)
      vxm_check_result_set(result, VXM_CHECK_STATUS_UNKNOWN, "run vxm check as root to see",
                           "cannot tell whether a boot framebuffer sits in %s's memory: %s "
                           "hides addresses from users other than root",
                           label, VXM_HOST_PROC_IOMEM);
    else
      vxm_check_result_set(result, VXM_CHECK_STATUS_UNKNOWN, NULL,
                           "cannot tell whether a boot framebuffer sits in %s's memory: every "
                           "address in %s reads as zero, even to root (a kernel that hides "
                           "them: kptr_restrict, lockdown)",
                           label, VXM_HOST_PROC_IOMEM);
    return;
  }
  if (found->len == 0) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "no boot framebuffer sits in %s's memory", label);
    return;
  }

  version = kernel_version(hostfs);
  {
    g_autofree char *how = vxm_check_how_to_add_kernel_params(
        hostfs, strstr(found->str, "efifb") != NULL || strstr(found->str, "vesafb") != NULL
                    ? "video=efifb:off video=vesafb:off"
                    : "initcall_blacklist=sysfb_init");
    g_autofree char *fix = g_strdup_printf(
        "make the host's GPU the primary display in the firmware setup (so the boot "
        "framebuffer lives there), or keep the kernel from using this card for its console: %s",
        how);

    if (version != 0 && version < 6001)
      vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix,
                           "the boot framebuffer holds %s's memory (%s in %s): QEMU will fail "
                           "with \"BAR 0: can't reserve\"",
                           label, found->str, VXM_HOST_PROC_IOMEM);
    else
      vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, fix,
                           "the boot framebuffer holds %s's memory (%s in %s): vfio-pci (Linux "
                           "6.1 and later) removes it when it takes the card, and the host's "
                           "console on that card goes with it; older kernels fail with \"BAR "
                           "0: can't reserve\"",
                           label, found->str, VXM_HOST_PROC_IOMEM);
  }
}

/* Who other than the VM being checked holds @address: another VM configured with it that is
 * running (its lock), or a journal (another VM's run, vxm detach, a keep_bound, a crash), as
 * the supervisor asks before its first host change. NULL when nobody (or the journals cannot be
 * read: the process scan below still looks). */
static char *
vm_holding(VxmCheckContext *ctx, const char *address)
{
  const VxmVmConfig *config = vxm_check_context_get_vm_config(ctx);
  const char *self = config != NULL ? config->name : NULL;
  g_autofree char *running = vxm_vm_running_with_gpu(self, address);
  g_autoptr(VxmHostOps) ops = NULL;

  if (running != NULL)
    return g_strdup_printf("VM %s is running with the same GPU %s: stop it first (vxm stop %s)",
                           running, address, running);
  ops = vxm_host_ops_local_new(vxm_check_context_get_hostfs(ctx));
  return vxm_host_ops_gpu_holder(ops, self, address, NULL);
}

void
vxm_check_holders(VxmCheckContext *ctx, VxmCheckResult *result)
{
  VxmGpu *gpu = vxm_check_context_get_guest(ctx);
  g_autoptr(GPtrArray) holders = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *label = NULL;
  guint unreadable = 0;

  if (gpu == NULL) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, NO_GUEST_FIX, NO_GUEST_GPU);
    return;
  }
  label = guest_label(gpu);
  /* an unbind waiting in the kernel (found when driver_override could not be read in time) */
  {
    GPtrArray *members = vxm_gpu_get_iommu_group_members(gpu);

    for (guint i = 0; i < members->len; i++) {
      const char *busy = vxm_pci_device_get_busy(g_ptr_array_index(members, i));

      if (busy != NULL) {
        vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL,
                             "stop the VM (or the process) named: the unbind finishes once it "
                             "lets go, then vxm reattach or vxm recover",
                             "%s", busy);
        return;
      }
    }
  }
  /* another VM (running, or left on vfio-pci), vxm detach or a keep_bound: what vxm start asks
   * before it changes anything */
  {
    g_autofree char *holder = vm_holding(ctx, vxm_gpu_get_address(gpu));

    if (holder != NULL) {
      vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL,
                           "free it as the line above says (vxm status NAME shows what a VM "
                           "holds), then run vxm check again",
                           "vxm start would refuse: %s", holder);
      return;
    }
  }
  holders = vxm_pci_holders_scan(vxm_check_context_get_hostfs(ctx), vxm_gpu_get_address(gpu),
                                 &unreadable, &error);
  if (holders == NULL) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_UNKNOWN, NULL,
                         "cannot tell which processes hold %s: %s", label, error->message);
    return;
  }
  if (holders->len > 0) {
    g_autofree char *who = vxm_pci_holders_describe(holders);
    g_autofree char *advice = vxm_pci_holders_advice(vxm_check_context_get_hostfs(ctx),
                                                     vxm_gpu_get_address(gpu), holders);

    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, advice,
                         "processes hold %s, so vxm start would refuse to take it: %s", label, who);
    return;
  }
  if (unreadable > 0 && geteuid() != 0)
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "no process of yours holds %s (%u processes of other users could not "
                         "be looked at; run vxm check as root to see them)",
                         label, unreadable);
  else if (unreadable > 0)
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "no process holds %s (%u processes could not be looked at: they ended "
                         "while being read)",
                         label, unreadable);
  else
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL, "no process holds %s", label);
}
