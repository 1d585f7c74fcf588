/* What the binding commands act on: a GPU named by a PCI address, or by a VM's name (its
 * configured guest GPU, or the single candidate when the config says auto). */
#include <string.h>

#include "pci/vxm-pci-address.h"
#include "pci/vxm-sysfs-writer.h"
#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-cli.h"

void
vxm_cli_target_clear(VxmCliTarget *target)
{
  g_clear_object(&target->gpu);
  g_clear_pointer(&target->vm_name, g_free);
}

static VxmGpu *
single_candidate(VxmHostfs *hostfs, const char *vm, GError **error)
{
  g_autoptr(GPtrArray) gpus = vxm_gpu_list(hostfs, error);
  VxmGpu *found = NULL;
  guint n = 0;

  if (gpus == NULL)
    return NULL;
  for (guint i = 0; i < gpus->len; i++) {
    VxmGpu *gpu = g_ptr_array_index(gpus, i);

    if (vxm_gpu_get_role(gpu) == VXM_GPU_ROLE_CANDIDATE) {
      found = gpu;
      n++;
    }
  }
  if (n != 1) {
    g_set_error(error, VXM_ERROR, n == 0 ? VXM_ERROR_NOT_FOUND : VXM_ERROR_INVALID_ARGUMENT,
                "VM %s has gpu = auto and this host has %s: choose one with vxm config %s "
                "--set-gpu ADDR (see vxm list-gpus)",
                vm, n == 0 ? "no guest candidate" : "several candidates", vm);
    return NULL;
  }
  return g_object_ref(found);
}

gboolean
vxm_cli_resolve_target(VxmCli *cli, VxmHostfs *hostfs, const char *text, VxmCliTarget *target,
                       GError **error)
{
  VxmPciAddress addr;
  g_autoptr(VxmVmPaths) paths = NULL;
  g_autoptr(VxmVmConfig) config = NULL;

  memset(target, 0, sizeof *target);
  if (vxm_pci_address_parse(text, &addr, NULL)) {
    target->gpu = vxm_gpu_find(hostfs, text, error);
    return target->gpu != NULL;
  }
  if (!vxm_vm_name_validate(text, -1, NULL)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "'%s' is neither a PCI address (0000:01:00.0) nor a VM name", text);
    return FALSE;
  }
  paths = vxm_vm_paths_new(text, error);
  if (paths == NULL)
    return FALSE;
  config = vxm_vm_config_load(paths, error);
  if (config == NULL)
    return FALSE;
  target->vm_name = g_strdup(text);
  target->keep_bound = config->keep_bound;
  target->timeout_ms = config->unbind_timeout * 1000;
  if (config->gpu != NULL)
    target->gpu = vxm_gpu_find(hostfs, config->gpu, error);
  else
    target->gpu = single_candidate(hostfs, text, error);
  if (target->gpu == NULL) {
    g_prefix_error(error, "VM %s: ", text);
    return FALSE;
  }
  return TRUE;
}

gboolean
vxm_cli_parse_timeout(const char *text, guint *out_ms, GError **error)
{
  g_autofree char *copy = g_strstrip(g_strdup(text != NULL ? text : ""));
  double value;
  char *end = NULL;
  double scale = 1000.0;

  value = g_ascii_strtod(copy, &end);
  if (end != NULL && strcmp(end, "ms") == 0)
    scale = 1.0;
  else if (end == NULL || (strcmp(end, "s") != 0 && *end != '\0'))
    goto bad;
  if (end == copy || value <= 0 || value * scale > 3600 * 1000.0)
    goto bad;
  *out_ms = (guint)(value * scale + 0.5);
  if (*out_ms == 0)
    goto bad;
  return TRUE;
bad:
  g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
              "'%s' is not a time limit: give seconds (10, 2.5s) or milliseconds (300ms), at most "
              "an hour",
              text != NULL ? text : "");
  return FALSE;
}
