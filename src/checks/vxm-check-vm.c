/* vxm-check-vm: what a VM needs from the host's software and memory: UEFI firmware, QEMU,
 * swtpm, and RAM (with hugepages). Programs are this machine's (found in PATH), also when
 * --root points at another host root: they are what vxm start would run. */
#include <string.h>

#include "common/vxm-util.h"
#include "memory/vxm-hugepage-pools.h"
#include "memory/vxm-hugepages.h"
#include "platform/vxm-meminfo.h"
#include "vm/vxm-firmware.h"
#include "vm/vxm-qemu-caps.h"
#include "vxm-check.h"

/* What the host keeps for itself beside the guest's RAM. */
#define HOST_RESERVE (G_GUINT64_CONSTANT(2) << 30)
#define GIB          (G_GUINT64_CONSTANT(1) << 30)

static const char *
vm_name(VxmCheckContext *ctx)
{
  const VxmVmConfig *config = vxm_check_context_get_vm_config(ctx);
  return config != NULL && config->name != NULL ? config->name : "NAME";
}

void
vxm_check_firmware(VxmCheckContext *ctx, VxmCheckResult *result)
{
  const VxmVmConfig *config = vxm_check_context_get_vm_config(ctx);
  VxmFirmwareRequest request = {.secure_boot = config != NULL ? config->secure_boot : TRUE};
  g_autoptr(VxmFirmware) fw = NULL;
  g_autoptr(GError) error = NULL;
  const char *kind;

  if (config != NULL) {
    request.code = config->firmware_code;
    request.vars_template = config->firmware_vars_template;
  }
  kind = request.secure_boot ? "UEFI firmware with Secure Boot and Microsoft's keys enrolled"
                             : "UEFI firmware";
  fw = vxm_firmware_select_full(vxm_check_context_get_hostfs(ctx), &request, &error);
  if (fw == NULL) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL,
                         "install OVMF, which brings the firmware and QEMU's descriptors for it: "
                         "sudo apt-get install ovmf",
                         "no %s found: %s", kind, error->message);
    return;
  }
  if (fw->fallback) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN,
                         "reinstall OVMF so QEMU's firmware descriptors are there again: sudo "
                         "apt-get install --reinstall ovmf",
                         "%s found only by its usual path (%s): %s", kind, fw->code_host_path,
                         fw->message != NULL ? fw->message : "no descriptor fits");
    return;
  }
  if (fw->warnings != NULL && fw->warnings->len > 0) {
    g_autoptr(GString) list = g_string_new(NULL);

    for (guint i = 0; i < fw->warnings->len; i++)
      g_string_append_printf(list, "%s%s", i > 0 ? "; " : "",
                             (char *)g_ptr_array_index(fw->warnings, i));
    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN,
                         "fix or remove the broken descriptor files named above",
                         "%s: %s (%s), but some descriptors are broken: %s", kind,
                         fw->descriptor_name, fw->code_host_path, list->str);
    return;
  }
  vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL, "%s: %s (%s)", kind, fw->descriptor_name,
                       fw->code_host_path);
}

void
vxm_check_qemu(VxmCheckContext *ctx, VxmCheckResult *result)
{
  const VxmVmConfig *config = vxm_check_context_get_vm_config(ctx);
  const char *binary =
      config != NULL && config->qemu_binary != NULL ? config->qemu_binary : "qemu-system-x86_64";
  g_autofree char *path = NULL;
  g_autoptr(VxmQemuCaps) caps = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) missing = g_string_new(NULL);
  static const char *const types[] = {"vfio-pci", "pcie-root-port", "tpm-crb", "virtio-blk-pci"};

  path = vxm_qemu_caps_resolve_binary(binary, &error);
  if (path == NULL) {
    g_autofree char *fix =
        strchr(binary, '/') != NULL
            ? g_strdup_printf("install QEMU (sudo apt-get install qemu-system-x86) or point the "
                              "VM at it: vxm config %s --set host.qemu_binary=PATH",
                              vm_name(ctx))
            : g_strdup("install QEMU: sudo apt-get install qemu-system-x86");
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix, "QEMU is missing: %s", error->message);
    return;
  }
  caps = vxm_qemu_caps_get(path, NULL, &error);
  if (caps == NULL) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL,
                         "reinstall QEMU (sudo apt-get install --reinstall qemu-system-x86) and "
                         "see what it prints when run by hand",
                         "%s does not answer as QEMU should: %s", path, error->message);
    return;
  }
  if (!vxm_qemu_caps_has_machine(caps, "q35"))
    g_string_append(missing, "the q35 machine");
  for (gsize i = 0; i < G_N_ELEMENTS(types); i++) {
    if (!vxm_qemu_caps_has_type(caps, types[i]))
      g_string_append_printf(missing, "%sthe %s device", missing->len > 0 ? ", " : "", types[i]);
  }
  if (missing->len > 0) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL,
                         "install Debian's full QEMU for x86: sudo apt-get install "
                         "qemu-system-x86",
                         "QEMU %s (%s) lacks what vxm needs: %s", caps->version, path,
                         missing->str);
    return;
  }
  vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL, "QEMU %s (%s)", caps->version, path);
}

void
vxm_check_swtpm(VxmCheckContext *ctx, VxmCheckResult *result)
{
  const VxmVmConfig *config = vxm_check_context_get_vm_config(ctx);
  g_autofree char *swtpm = g_find_program_in_path("swtpm");
  g_autofree char *setup = g_find_program_in_path("swtpm_setup");
  g_autoptr(GString) missing = g_string_new(NULL);
  g_autoptr(GString) packages = g_string_new(NULL);

  if (swtpm == NULL) {
    g_string_append(missing, "swtpm");
    g_string_append(packages, "swtpm");
  }
  if (setup == NULL) {
    g_string_append_printf(missing, "%sswtpm_setup", missing->len > 0 ? " and " : "");
    g_string_append_printf(packages, "%sswtpm-tools", packages->len > 0 ? " " : "");
  }
  if (missing->len == 0) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL, "swtpm (%s) and swtpm_setup (%s)",
                         swtpm, setup);
    return;
  }
  if (config != NULL && !config->tpm) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "%s not in PATH, and not needed: VM %s has no TPM", missing->str,
                         config->name);
    return;
  }
  {
    g_autofree char *fix = g_strdup_printf("install it: sudo apt-get install %s", packages->str);
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix,
                         "%s not in PATH: Windows 11 needs a TPM 2.0, which vxm gives the "
                         "guest with swtpm",
                         missing->str);
  }
}

/* What vxm start would plan for @guest bytes: the hugepage candidates and the one it picks,
 * from the same functions its plan uses. Returns the number of candidates (-1 with @error, 0
 * with @out_note for normal memory). */
static gint
hugepages_plan(VxmCheckContext *ctx, guint64 guest, VxmHugepagesCandidate c[2], char **out_note,
               GError **error)
{
  const VxmVmConfig *config = vxm_check_context_get_vm_config(ctx);
  VxmGpu *gpu = vxm_check_context_get_guest(ctx);
  gint node = gpu != NULL ? vxm_pci_device_get_numa_node(vxm_gpu_get_device(gpu)) : -1;
  g_autoptr(VxmHugepagePools) pools = NULL;
  VxmHugepagesRequest req;

  if (config != NULL)
    vxm_hugepages_request_from_config(&req, config, node);
  else {
    vxm_hugepages_request_init(&req);
    req.node = node;
  }
  pools = vxm_hugepage_pools_read(vxm_check_context_get_hostfs(ctx), error);
  if (pools == NULL)
    return -1;
  return vxm_hugepages_candidates(pools, guest, &req, c, out_note, error);
}

static char *
pool_text(const VxmHugepagesCandidate *c)
{
  return c->node >= 0 ? g_strdup_printf(" on NUMA node %d", c->node) : g_strdup("");
}

void
vxm_check_memory(VxmCheckContext *ctx, VxmCheckResult *result)
{
  VxmHostfs *hostfs = vxm_check_context_get_hostfs(ctx);
  const VxmVmConfig *config = vxm_check_context_get_vm_config(ctx);
  VxmVmHugepages hugepages = config != NULL ? config->hugepages : VXM_VM_HUGEPAGES_AUTO;
  g_autofree char *meminfo = NULL;
  g_autofree char *total_text = NULL;
  g_autofree char *guest_text = NULL;
  g_autofree char *pages_note = NULL;
  g_autofree char *where = NULL;
  g_autoptr(GError) error = NULL;
  VxmHugepagesCandidate c[2];
  const VxmHugepagesCandidate *plan;
  guint64 total = 0;
  guint64 guest;
  guint64 available = 0;
  guint64 to_reserve;
  gint n;

  if (!vxm_hostfs_read_file(hostfs, VXM_HOST_PROC_MEMINFO, &meminfo, NULL, &error) ||
      !vxm_meminfo_parse(meminfo, "MemTotal", &total)) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_UNKNOWN, NULL,
                         "cannot tell how much memory the host has: %s",
                         error != NULL ? error->message : "no MemTotal in " VXM_HOST_PROC_MEMINFO);
    return;
  }
  if (config != NULL && config->memory_bytes > 0)
    guest = config->memory_bytes;
  else
    guest = vxm_vm_config_auto_memory(total);
  total_text = vxm_format_bytes(total);
  guest_text = vxm_format_bytes(guest);

  if (total < guest + HOST_RESERVE) {
    g_autofree char *fix = NULL;
    guint64 fits = total > HOST_RESERVE ? (total - HOST_RESERVE) / GIB : 0;

    if (fits >= VXM_VM_MEMORY_MIN / GIB)
      fix =
          g_strdup_printf("give the guest less: vxm config %s --set memory.size=%" G_GUINT64_FORMAT
                          "G (Windows 11 needs 4G)",
                          vm_name(ctx), fits);
    else
      fix = g_strdup("add RAM: Windows 11 needs 4 GiB and the host about 2 GiB beside it");
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix,
                         "the host has %s of RAM: not enough for the guest's %s and 2 GiB for "
                         "the host",
                         total_text, guest_text);
    return;
  }

  if (hugepages == VXM_VM_HUGEPAGES_OFF) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "the host has %s of RAM: enough for the guest's %s and 2 GiB for the "
                         "host; hugepages are off",
                         total_text, guest_text);
    return;
  }
  n = hugepages_plan(ctx, guest, c, &pages_note, &error);
  if (n < 0) {
    g_autofree char *fix =
        hugepages == VXM_VM_HUGEPAGES_AUTO
            ? NULL
            : g_strdup_printf("vxm config %s --set hugepages=auto", vm_name(ctx));

    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, fix,
                         "the host has %s of RAM, enough for the guest's %s, but %s", total_text,
                         guest_text, error->message);
    return;
  }
  if (n == 0) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "the host has %s of RAM: enough for the guest's %s and 2 GiB for the "
                         "host; %s",
                         total_text, guest_text, pages_note);
    return;
  }
  plan = &c[vxm_hugepages_planned(c, n)];
  where = pool_text(plan);
  to_reserve = (plan->pages - MIN(plan->available, plan->pages)) * plan->page_size;

  /* 1 GiB pages asked for by name, short: they usually have to be reserved at boot */
  if (hugepages == VXM_VM_HUGEPAGES_1G && to_reserve > 0) {
    g_autofree char *params = g_strdup_printf(
        "default_hugepagesz=1G hugepagesz=1G hugepages=%" G_GUINT64_FORMAT, plan->pages);
    g_autofree char *how = vxm_check_how_to_add_kernel_params(hostfs, params);
    g_autofree char *fix = g_strdup_printf(
        "1 GiB pages usually have to be reserved at boot: %s; or use 2 MiB pages: vxm "
        "config %s --set hugepages=2M",
        how, vm_name(ctx));

    vxm_check_result_set(
        result, VXM_CHECK_STATUS_WARN, fix,
        "the host has %s of RAM, enough for the guest's %s, but only %" G_GUINT64_FORMAT
        " of the %" G_GUINT64_FORMAT " 1 GiB hugepages it asks for are free%s",
        total_text, guest_text, MIN(plan->available, plan->pages), plan->pages, where);
    return;
  }
  /* Reserving hugepages cannot take memory that programs use (MemAvailable already counts the
   * caches vxm start drops): say so now rather than after a failed reservation at start. */
  if (to_reserve > 0 && vxm_meminfo_parse(meminfo, "MemAvailable", &available) &&
      available < to_reserve) {
    g_autofree char *available_text = vxm_format_bytes(available);
    g_autofree char *reserve_text = vxm_format_bytes(to_reserve);
    guint64 fits = available / GIB;
    g_autofree char *less = fits >= VXM_VM_MEMORY_MIN / GIB
                                ? g_strdup_printf(", or give the guest less: vxm config %s --set "
                                                  "memory.size=%" G_GUINT64_FORMAT "G",
                                                  vm_name(ctx), fits)
                                : g_strdup("");
    g_autofree char *fix =
        g_strdup_printf("close programs that use memory before vxm start (free -h shows what is "
                        "available)%s",
                        less);

    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, fix,
                         "the host has %s of RAM, but only %s of it is available now: "
                         "vxm start reserves %s of hugepages for the guest's %s and would "
                         "get fewer",
                         total_text, available_text, reserve_text, guest_text);
    return;
  }
  if (plan->page_size == VXM_HUGEPAGE_SIZE_2M && n == 2)
    pages_note = g_strdup_printf(
        "vxm start reserves %" G_GUINT64_FORMAT " 2 MiB hugepages%s (%" G_GUINT64_FORMAT
        " of the %" G_GUINT64_FORMAT " 1 GiB pages it would prefer are free)",
        plan->pages, where, MIN(c[0].available, c[0].pages), c[0].pages);
  else if (to_reserve == 0)
    pages_note = g_strdup_printf(
        "%" G_GUINT64_FORMAT " %s hugepages are reserved%s: the guest "
        "gets them",
        plan->pages, plan->page_size == VXM_HUGEPAGE_SIZE_2M ? "2 MiB" : "1 GiB", where);
  else
    pages_note =
        g_strdup_printf("vxm start reserves %" G_GUINT64_FORMAT " %s hugepages%s", plan->pages,
                        plan->page_size == VXM_HUGEPAGE_SIZE_2M ? "2 MiB" : "1 GiB", where);
  vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                       "the host has %s of RAM: enough for the guest's %s and 2 GiB for the "
                       "host; %s",
                       total_text, guest_text, pages_note);
}
