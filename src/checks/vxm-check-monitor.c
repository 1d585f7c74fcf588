/* vxm check: the `monitor` check (DDC/CI is optional: problems are warnings, never failures).
 * With several monitors ([display] monitors) each is checked, and the result is the worst. */
#include <unistd.h>

#include "checks/vxm-check.h"
#include "display/vxm-display.h"
#include "display/vxm-drm-connector.h"
#include "vm/vxm-vm-config.h"

/* One monitor: @spec with its inputs (0: not set); @listed when it comes from `monitors`. */
static void
check_one(VxmHostfs *hostfs, const char *name, const char *spec, guint host_input,
          guint guest_input, gboolean listed, const char *guest_gpu, VxmCheckResult *result)
{
  g_autofree char *fix = NULL;
  g_autoptr(GPtrArray) connectors = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *identity = NULL;
  VxmDrmConnector *found = NULL;

  identity = vxm_display_resolve_identity(hostfs, spec, guest_gpu, &error);
  if (identity == NULL) {
    if (listed)
      fix = g_strdup_printf("connect monitor %s to the host GPU, or correct its entry: vxm config "
                            "%s --set 'monitors=...' (vxm monitors lists them)",
                            spec, name);
    else
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
    if (host_input == 0 || guest_input == 0)
      vxm_check_result_set(result, VXM_CHECK_STATUS_WARN, fix,
                           "%s (%s) on %s, DDC bus i2c-%d, but no host_input and guest_input are "
                           "set",
                           desc, identity, found->name, found->i2c_bus);
    else
      vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL, "%s (%s) on %s, DDC bus i2c-%d", desc,
                           identity, found->name, found->i2c_bus);
  }
}

void
vxm_check_monitor(VxmCheckContext *ctx, VxmCheckResult *result)
{
  VxmHostfs *hostfs = vxm_check_context_get_hostfs(ctx);
  /* the VM being checked (vxm check NAME), not always 'default' */
  const VxmVmConfig *config = vxm_check_context_get_vm_config(ctx);
  const char *name = config != NULL ? config->name : "NAME";
  const char *guest_gpu = vxm_check_context_get_guest_gpu(ctx);
  g_autoptr(GString) messages = g_string_new(NULL);
  g_autoptr(GString) fixes = g_string_new(NULL);
  VxmCheckStatus worst = VXM_CHECK_STATUS_OK;

  if (config != NULL && config->gpu != NULL)
    guest_gpu = config->gpu;
  if (guest_gpu == NULL) {
    /* gpu = auto: the one candidate is the guest's, and its cables go with it */
    VxmGpu *guest = vxm_check_context_get_guest(ctx);

    if (guest != NULL)
      guest_gpu = vxm_gpu_get_address(guest);
  }
  if (config == NULL || config->monitors == NULL) {
    g_autofree char *spec = config != NULL ? vxm_display_monitor_spec(config) : g_strdup("auto");

    if (spec == NULL) {
      vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                           "monitor switching is off (VM %s: monitor = off)", config->name);
      return;
    }
    check_one(hostfs, name, spec, config != NULL ? config->host_input : 0,
              config != NULL ? config->guest_input : 0, FALSE, guest_gpu, result);
    return;
  }
  /* each listed monitor; the result is the worst of them, every one said */
  for (guint i = 0; i < config->monitors->len; i++) {
    const VxmVmMonitorSwitch *sw = g_ptr_array_index(config->monitors, i);
    VxmCheckResult one = {0};

    check_one(hostfs, name, sw->spec, sw->host_input, sw->guest_input, TRUE, guest_gpu, &one);
    if (one.status > worst)
      worst = one.status;
    g_string_append_printf(messages, "%s%s", messages->len > 0 ? "; " : "", one.message);
    if (one.fix != NULL)
      g_string_append_printf(fixes, "%s%s", fixes->len > 0 ? "; " : "", one.fix);
    g_free(one.message);
    g_free(one.fix);
  }
  vxm_check_result_set(result, worst, fixes->len > 0 ? fixes->str : NULL, "%s", messages->str);
}
