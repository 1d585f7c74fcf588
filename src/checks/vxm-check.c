#include "vxm-check.h"

#include <string.h>

#include "pci/vxm-gpu.h"

/* The registry: add a line here for each new check. */
static const VxmCheckDef registry[] = {
    {"iommu", "the IOMMU is on", vxm_check_iommu},
    {"kvm", "/dev/kvm is usable", vxm_check_kvm},
    {"ignore-msrs", "KVM ignores MSRs it does not emulate", vxm_check_ignore_msrs},
    {"gpus", "the machine has two GPUs", vxm_check_gpus},
    {"guest-gpu", "a GPU can be given to the guest", vxm_check_guest_gpu},
    {"reset", "the guest GPU can be reset between runs", vxm_check_reset},
    {"framebuffer", "no boot framebuffer holds the guest GPU's memory", vxm_check_framebuffer},
    {"holders", "no process holds the guest GPU", vxm_check_holders},
    {"bars", "the guest GPU's BARs fit the guest's 64-bit PCI window", vxm_check_bars},
    {"d3cold", "the guest GPU is not powered off while idle", vxm_check_d3cold},
    {"firmware", "a UEFI firmware with Secure Boot is installed", vxm_check_firmware},
    {"qemu", "QEMU is installed", vxm_check_qemu},
    {"swtpm", "swtpm and swtpm_setup are installed", vxm_check_swtpm},
    {"memory", "the host has memory for the guest", vxm_check_memory},
    {"monitor", "the monitor can be switched over DDC/CI", vxm_check_monitor},
    {"inputs", "a keyboard and a mouse for the guest", vxm_check_inputs},
    {"vxmd", "vxmd does the privileged steps for this user", vxm_check_vxmd},
};

struct _VxmCheckContext {
  VxmHostfs *hostfs;
  char *guest_gpu;
  VxmPciBus *bus;
  GPtrArray *gpus;
  GError *bus_error;
  gboolean cpu_vendor_read;
  char *cpu_vendor;
  const VxmVmConfig *config;
};

const char *
vxm_check_status_to_string(VxmCheckStatus status)
{
  switch (status) {
  case VXM_CHECK_STATUS_OK: return "ok";
  case VXM_CHECK_STATUS_WARN: return "warn";
  case VXM_CHECK_STATUS_FAIL: return "fail";
  case VXM_CHECK_STATUS_UNKNOWN: return "unknown";
  }
  return "fail";
}

void
vxm_check_result_free(VxmCheckResult *result)
{
  if (result == NULL)
    return;
  g_free(result->id);
  g_free(result->message);
  g_free(result->fix);
  g_free(result);
}

void
vxm_check_result_set(VxmCheckResult *result, VxmCheckStatus status, const char *fix,
                     const char *format, ...)
{
  va_list ap;

  result->status = status;
  g_free(result->message);
  va_start(ap, format);
  result->message = g_strdup_vprintf(format, ap);
  va_end(ap);
  g_free(result->fix);
  result->fix = g_strdup(fix);
}

VxmCheckContext *
vxm_check_context_new(VxmHostfs *hostfs, const char *guest_gpu)
{
  VxmCheckContext *ctx = g_new0(VxmCheckContext, 1);

  ctx->hostfs = g_object_ref(hostfs);
  ctx->guest_gpu = g_strdup(guest_gpu);
  return ctx;
}

void
vxm_check_context_free(VxmCheckContext *ctx)
{
  if (ctx == NULL)
    return;
  g_clear_object(&ctx->hostfs);
  g_clear_object(&ctx->bus);
  g_clear_pointer(&ctx->gpus, g_ptr_array_unref);
  g_clear_error(&ctx->bus_error);
  g_free(ctx->guest_gpu);
  g_free(ctx->cpu_vendor);
  g_free(ctx);
}

VxmHostfs *
vxm_check_context_get_hostfs(VxmCheckContext *ctx)
{
  return ctx->hostfs;
}

const char *
vxm_check_context_get_guest_gpu(VxmCheckContext *ctx)
{
  return ctx->guest_gpu;
}

VxmPciBus *
vxm_check_context_get_bus(VxmCheckContext *ctx, GError **error)
{
  if (ctx->bus == NULL && ctx->bus_error == NULL)
    ctx->bus = vxm_pci_bus_new(ctx->hostfs, &ctx->bus_error);
  if (ctx->bus == NULL) {
    g_propagate_error(error, g_error_copy(ctx->bus_error));
    return NULL;
  }
  return ctx->bus;
}

GPtrArray *
vxm_check_context_get_gpus(VxmCheckContext *ctx, GError **error)
{
  VxmPciBus *bus;

  if (ctx->gpus != NULL)
    return ctx->gpus;
  bus = vxm_check_context_get_bus(ctx, error);
  if (bus == NULL)
    return NULL;
  if (ctx->guest_gpu != NULL) {
    /* the configured GPU may be given by name: resolve it to an address first */
    g_autoptr(GPtrArray) plain = vxm_gpu_list_for_bus(bus, NULL);
    g_autoptr(VxmGpu) guest = vxm_gpu_find_in_list(plain, ctx->guest_gpu, NULL);

    ctx->gpus = vxm_gpu_list_for_bus(bus, guest != NULL ? vxm_gpu_get_address(guest) : NULL);
  } else {
    ctx->gpus = vxm_gpu_list_for_bus(bus, NULL);
  }
  return ctx->gpus;
}

const char *
vxm_check_context_get_cpu_vendor(VxmCheckContext *ctx)
{
  g_autofree char *cpuinfo = NULL;
  g_auto(GStrv) lines = NULL;

  if (ctx->cpu_vendor_read)
    return ctx->cpu_vendor;
  ctx->cpu_vendor_read = TRUE;
  if (!vxm_hostfs_read_file(ctx->hostfs, VXM_HOST_PROC_CPUINFO, &cpuinfo, NULL, NULL))
    return NULL;
  lines = g_strsplit(cpuinfo, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++) {
    char *colon;

    if (!g_str_has_prefix(lines[i], "vendor_id"))
      continue;
    colon = strchr(lines[i], ':');
    if (colon == NULL)
      continue;
    ctx->cpu_vendor = g_strstrip(g_strdup(colon + 1));
    break;
  }
  return ctx->cpu_vendor;
}

void
vxm_check_context_set_vm_config(VxmCheckContext *ctx, const VxmVmConfig *config)
{
  ctx->config = config;
}

const VxmVmConfig *
vxm_check_context_get_vm_config(VxmCheckContext *ctx)
{
  return ctx->config;
}

VxmGpu *
vxm_check_context_get_guest(VxmCheckContext *ctx)
{
  GPtrArray *gpus = vxm_check_context_get_gpus(ctx, NULL);
  VxmGpu *found = NULL;

  if (gpus == NULL)
    return NULL;
  for (guint i = 0; i < gpus->len; i++) {
    VxmGpu *gpu = g_ptr_array_index(gpus, i);
    VxmGpuRole role = vxm_gpu_get_role(gpu);

    if (role == VXM_GPU_ROLE_GUEST)
      return gpu;
    if (ctx->guest_gpu == NULL && role == VXM_GPU_ROLE_CANDIDATE) {
      if (found != NULL)
        return NULL; /* several: the user chooses */
      found = gpu;
    }
  }
  return found;
}

const VxmCheckDef *
vxm_check_get_registry(gsize *n_checks)
{
  *n_checks = G_N_ELEMENTS(registry);
  return registry;
}

GPtrArray *
vxm_check_run(VxmCheckContext *ctx, const char *const *only)
{
  GPtrArray *results = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_check_result_free);

  for (gsize i = 0; i < G_N_ELEMENTS(registry); i++) {
    VxmCheckResult *result;

    if (only != NULL && !g_strv_contains(only, registry[i].id))
      continue;
    result = g_new0(VxmCheckResult, 1);
    result->id = g_strdup(registry[i].id);
    result->status = VXM_CHECK_STATUS_FAIL;
    registry[i].func(ctx, result);
    if (result->message == NULL)
      result->message = g_strdup("the check said nothing (a bug in vxm)");
    g_ptr_array_add(results, result);
  }
  return results;
}

gboolean
vxm_check_results_passed(GPtrArray *results)
{
  for (guint i = 0; i < results->len; i++) {
    VxmCheckResult *r = g_ptr_array_index(results, i);

    if (r->status == VXM_CHECK_STATUS_FAIL)
      return FALSE;
  }
  return TRUE;
}
