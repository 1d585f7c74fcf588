/* vxm check: the `monitor` check (DDC/CI is optional: problems are warnings, never failures). */
#include <unistd.h>

#include "checks/vxm-check.h"
#include "display/vxm-display.h"
#include "display/vxm-drm-connector.h"
#include "vm/vxm-vm-config.h"

void
vxm_check_monitor(VxmCheckContext *ctx, VxmCheckResult *result)
{
  VxmHostfs *hostfs = vxm_check_context_get_hostfs(ctx);
  /* the VM being checked (vxm check NAME), not always 'default' */
  const VxmVmConfig *config = vxm_check_context_get_vm_config(ctx);
  const char *name = config != NULL ? config->name : "NAME";
  g_autofree char *fix = NULL;
  g_autoptr(GPtrArray) connectors = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *spec = config != NULL ? vxm_display_monitor_spec(config) : g_strdup("auto");
  g_autofree char *identity = NULL;
  const char *guest_gpu = vxm_check_context_get_guest_gpu(ctx);
  VxmDrmConnector *found = NULL;

  if (config != NULL && config->gpu != NULL)
    guest_gpu = config->gpu;
  if (spec == NULL) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "monitor switching is off (VM %s: monitor = off)", config->name);
    return;
  }
  identity = vxm_display_resolve_identity(hostfs, spec, guest_gpu, &error);
  if (identity == NULL) {
    fix = g_strdup_printf("connect the monitor to the host GPU, or name it: vxm config %s --set "
                          "monitor=MFG:PRODUCT:SERIAL (vxm monitors lists them)",
                          name);
    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, fix,
                         "the monitor is not switched automatically: %s", error->message);
    return;
  }
  connectors = vxm_drm_connector_list(hostfs, NULL);
  if (connectors != NULL)
    vxm_drm_connector_match_buses(hostfs, connectors);
  for (guint i = 0; connectors != NULL && i < connectors->len && found == NULL; i++) {
    VxmDrmConnector *c = connectors->pdata[i];
    g_autofree char *id = NULL;

    if (!vxm_drm_connector_has_monitor(c) || c->i2c_bus < 0)
      continue;
    id = vxm_edid_identity(c->edid);
    if (g_strcmp0(id, identity) == 0 && (guest_gpu == NULL || g_strcmp0(c->gpu, guest_gpu) != 0))
      found = c;
  }
  if (found == NULL) {
    /* as root the EDIDs were readable already: only the module can be missing */
    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN,
                         geteuid() == 0 ? "load i2c-dev (modprobe i2c-dev), so the bus can be "
                                          "found by its EDID"
                                        : "load i2c-dev (modprobe i2c-dev) and run vxm check as "
                                          "root, so the bus can be found by its EDID",
                         "monitor %s has no DDC bus on the host GPU's connectors", identity);
    return;
  }
  {
    g_autofree char *desc = vxm_edid_describe(found->edid);

    fix = g_strdup_printf("say which inputs the GPUs are cabled to: vxm config %s --set "
                          "host_input=hdmi1 --set guest_input=dp1",
                          name);
    if (config == NULL || config->host_input == 0 || config->guest_input == 0)
      vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, fix,
                           "%s (%s) on %s, DDC bus i2c-%d, but no host_input and guest_input are "
                           "set",
                           desc, identity, found->name, found->i2c_bus);
    else
      vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL, "%s (%s) on %s, DDC bus i2c-%d", desc,
                           identity, found->name, found->i2c_bus);
  }
}
