/* vxm display host|guest [NAME], vxm display --probe [NAME]: the monitor's input by hand. */
#include <string.h>

#include <unistd.h>

#include "display/vxm-display.h"
#include "vm/vxm-vm-config.h"
#include "vxm-cli.h"

/* Without root, the switch is vxmd's ddc-switch (the i2c nodes are root's): by hand it journals
 * nothing, like the local switch, so it needs the VM's name and guest GPU only to pick the
 * monitor's connector. */
static gboolean
switch_through_vxmd(VxmCli *cli, VxmHostfs *hostfs, const char *vm, const char *spec, guint input,
                    guint host_input, GPtrArray *report, GError **error)
{
  g_autoptr(VxmHostOps) ops = vxm_cli_get_host_ops(cli, hostfs, error);
  VxmCliTarget target = {0};
  gboolean ok;

  if (ops == NULL || !vxm_cli_resolve_target(cli, hostfs, vm, &target, error))
    return FALSE;
  ok = vxm_host_ops_switch_monitor(ops, vm, spec, vxm_gpu_get_address(target.gpu), input,
                                   host_input, FALSE, report, error);
  vxm_cli_target_clear(&target);
  return ok;
}

/* --probe --json: what the line says, for scripts; role is "host", "guest" or null. */
static JsonNode *
probe_json(const VxmDisplayResult *result, const char *input_name, const char *role)
{
  g_autoptr(JsonBuilder) b = json_builder_new();

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "monitor");
  json_builder_add_string_value(b, result->identity);
  json_builder_set_member_name(b, "description");
  json_builder_add_string_value(b, result->description);
  json_builder_set_member_name(b, "connector");
  json_builder_add_string_value(b, result->connector);
  json_builder_set_member_name(b, "bus");
  json_builder_add_int_value(b, result->bus);
  json_builder_set_member_name(b, "input");
  json_builder_add_int_value(b, result->previous_input);
  json_builder_set_member_name(b, "input_name");
  json_builder_add_string_value(b, input_name);
  json_builder_set_member_name(b, "role");
  if (role != NULL)
    json_builder_add_string_value(b, role);
  else
    json_builder_add_null_value(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

/* The monitors to act on: --monitor (with the inputs the VM lists for it, if any), else every
 * monitor of [display] monitors, else the one-monitor form (its inputs 0 when unset). Empty for
 * monitor = off. */
static GPtrArray *
display_targets(const VxmVmConfig *config, const char *monitor_option)
{
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_vm_monitor_switch_free);
  VxmVmMonitorSwitch *t;

  if (config != NULL && config->monitors != NULL && monitor_option == NULL) {
    g_ptr_array_unref(out);
    return vxm_vm_config_monitor_switches(config);
  }
  t = g_new0(VxmVmMonitorSwitch, 1);
  t->spec = monitor_option != NULL ? g_strdup(monitor_option)
                                   : (config != NULL ? vxm_display_monitor_spec(config) : NULL);
  if (t->spec == NULL) {
    vxm_vm_monitor_switch_free(t);
    return out;
  }
  if (config != NULL && config->monitors != NULL) {
    for (guint i = 0; i < config->monitors->len; i++) {
      const VxmVmMonitorSwitch *sw = g_ptr_array_index(config->monitors, i);

      if (g_ascii_strcasecmp(sw->spec, t->spec) == 0) {
        t->host_input = sw->host_input;
        t->guest_input = sw->guest_input;
      }
    }
  } else if (config != NULL) {
    t->host_input = config->host_input;
    t->guest_input = config->guest_input;
  }
  g_ptr_array_add(out, t);
  return out;
}

/* One monitor: probe it (into @probes when several are printed as one JSON array) or switch it
 * to @which's input (@input when given). */
static gboolean
display_one(VxmCli *cli, VxmHostfs *hostfs, const VxmVmPaths *paths, const VxmVmConfig *config,
            const VxmVmMonitorSwitch *t, gboolean probe, gboolean json, JsonArray *probes,
            const char *which, guint input, GError **error)
{
  g_auto(VxmDisplayResult) result = {0};
  g_autofree char *input_name = NULL;
  const char *spec = t->spec;

  if (!probe && input == 0)
    input = strcmp(which, "guest") == 0 ? t->guest_input : t->host_input;
  if (!probe && input == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "VM %s has no %s_input: set it (vxm config %s --set %s_input=dp1) or give --input",
                paths->name, which, paths->name, which);
    return FALSE;
  }

  if (probe) {
    g_autofree char *shown = NULL;
    const char *role = NULL;

    if (!vxm_display_get_input(hostfs, spec, config ? config->gpu : NULL, &result, error))
      return FALSE;
    shown = vxm_vm_monitor_input_to_string((guint)result.previous_input & 0xff);
    if (t->host_input != 0 && (t->host_input & 0xff) == ((guint)result.previous_input & 0xff))
      role = "host";
    else if (t->guest_input != 0 &&
             (t->guest_input & 0xff) == ((guint)result.previous_input & 0xff))
      role = "guest";
    if (json) {
      g_autoptr(JsonNode) node = probe_json(&result, shown, role);

      if (probes != NULL)
        json_array_add_element(probes, g_steal_pointer(&node));
      else
        vxm_cli_print_json(node);
      return TRUE;
    }
    g_print("%s (%s) shows %s (0x%04x%s%s%s), read on %s over /dev/i2c-%u\n", result.description,
            result.identity, shown, (guint)result.previous_input, role != NULL ? ", the " : "",
            role != NULL ? role : "", role != NULL ? "'s input" : "", result.connector, result.bus);
    return TRUE;
  }
  input_name = vxm_vm_monitor_input_to_string(input);
  if (geteuid() != 0) {
    g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);

    if (!switch_through_vxmd(cli, hostfs, paths != NULL ? paths->name : "default", spec, input,
                             t->host_input, report, error)) {
      g_prefix_error(error, "cannot switch the monitor to %s: ", input_name);
      return FALSE;
    }
    for (guint i = 0; i < report->len && !cli->quiet; i++)
      g_print("%s (%s input)\n", (char *)g_ptr_array_index(report, i), which);
    return TRUE;
  }
  if (!vxm_display_set_input(hostfs, spec, config ? config->gpu : NULL, input, &result, error)) {
    g_prefix_error(error, "cannot switch the monitor to %s: ", input_name);
    return FALSE;
  }
  if (!cli->quiet) {
    if (!result.written)
      g_print("%s (%s) already shows %s\n", result.description, result.identity, input_name);
    else
      g_print("%s (%s) switched to %s (%s input) on %s over /dev/i2c-%u%s\n", result.description,
              result.identity, input_name, which, result.connector, result.bus,
              result.cache_hit ? ", cached bus" : "");
  }
  return TRUE;
}

int
vxm_cli_cmd_display(VxmCli *cli, int argc, char **argv)
{
  gboolean probe = FALSE;
  gboolean json = FALSE;
  g_autofree char *monitor_option = NULL;
  g_autofree char *input_option = NULL;
  GOptionEntry entries[] = {
      {"probe", 0, 0, G_OPTION_ARG_NONE, &probe, "Read the input the monitor shows now", NULL},
      {"json", 0, 0, G_OPTION_ARG_NONE, &json,
       "With --probe: print {monitor, description, connector, bus, input, input_name, role}", NULL},
      {"monitor", 0, 0, G_OPTION_ARG_STRING, &monitor_option,
       "The monitor (MFG:PRODUCT:SERIAL, a connector, or auto) instead of the VM's", "MONITOR"},
      {"input", 0, 0, G_OPTION_ARG_STRING, &input_option,
       "The input to switch to (dp1, hdmi1, ... or a number) instead of the VM's", "INPUT"},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmVmPaths) paths = NULL;
  g_autoptr(VxmVmConfig) config = NULL;
  g_autoptr(GPtrArray) targets = NULL;
  g_autoptr(JsonArray) probes = NULL;
  const char *which = NULL;
  guint failed = 0;
  const char *name = NULL;
  guint input = 0;
  VxmHostfs *hostfs;

  if (!vxm_cli_parse(
          cli, &argc, &argv, entries, "host|guest [NAME] | --probe [--json] [NAME]",
          "Switches the monitor of VM NAME (default: default) to the host's or the "
          "guest's input over DDC/CI, as vxm start and stop do, or reads the input it "
          "shows (--probe). The monitor and inputs come from the VM's [display] "
          "settings. DDC/CI needs root: without it, vxmd switches (--probe needs root)."))
    return VXM_EXIT_USAGE;
  if (json && !probe)
    return vxm_cli_usage_error(cli, "--json goes with --probe (a switch prints one line)");
  if (!probe) {
    if (argc < 2)
      return vxm_cli_usage_error(cli, "say which input: host or guest (or --probe)");
    which = argv[1];
    if (strcmp(which, "host") != 0 && strcmp(which, "guest") != 0)
      return vxm_cli_usage_error(cli, "'%s': host or guest", which);
    argc--, argv++;
  }
  if (argc > 2)
    return vxm_cli_usage_error(cli, "unexpected argument '%s'", argv[2]);
  name = argc > 1 ? argv[1] : NULL;
  if (input_option != NULL && !vxm_vm_monitor_input_parse(input_option, &input))
    return vxm_cli_usage_error(cli,
                               "'%s' is not an input: dp1, dp2, hdmi1, hdmi2, dvi1, dvi2, "
                               "vga1, or a number 0x01-0xff",
                               input_option);
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL)
    return vxm_cli_fail(cli, error);

  /* the VM's settings, unless both the monitor and the input are given */
  if (monitor_option == NULL || (!probe && input_option == NULL) || name != NULL) {
    paths = vxm_vm_paths_new(name, &error);
    if (paths == NULL)
      return vxm_cli_fail_arg(cli, error);
    config = vxm_vm_config_load(paths, &error);
    if (config == NULL)
      return vxm_cli_fail(cli, error);
  }
  targets = display_targets(config, monitor_option);
  if (targets->len == 0) {
    g_set_error(&error, VXM_ERROR, VXM_ERROR_CONFIG,
                "VM %s has monitor = off: set [display] monitor (vxm config --set monitor=auto) "
                "or give --monitor",
                paths->name);
    return vxm_cli_fail(cli, error);
  }
  if (probe && json && targets->len > 1)
    probes = json_array_new();
  /* each monitor on its own: one that does not answer does not keep the others */
  for (guint i = 0; i < targets->len; i++) {
    const VxmVmMonitorSwitch *t = g_ptr_array_index(targets, i);
    g_autoptr(GError) one_error = NULL;

    if (!display_one(cli, hostfs, paths, config, t, probe, json, probes, which, input,
                     &one_error)) {
      if (targets->len == 1)
        return vxm_cli_fail(cli, one_error);
      g_prefix_error(&one_error, "%s: ", t->spec);
      g_printerr("vxm display: %s\n", one_error->message);
      failed++;
    }
  }
  if (probes != NULL) {
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_ARRAY);

    json_node_set_array(node, probes);
    vxm_cli_print_json(node);
  }
  if (failed > 0) {
    g_set_error(&error, VXM_ERROR, VXM_ERROR_IO, "%u of the %u monitors failed (said above)",
                failed, targets->len);
    return vxm_cli_fail(cli, error);
  }
  return VXM_EXIT_OK;
}
