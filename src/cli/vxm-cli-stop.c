/* vxm stop: asks the VM's supervisor to stop the guest (ACPI power-down, then quit after the
 * time limit; --force quits at once) and follows it until the host is restored. */
#include "supervisor/vxm-control-client.h"
#include "supervisor/vxm-control-server.h"
#include "vm/vxm-vm-lock.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-cli-progress.h"
#include "vxm-cli.h"

static gboolean
on_event(JsonObject *event, gpointer user_data)
{
  if (user_data != NULL)
    vxm_cli_progress_event(user_data, event);
  return TRUE;
}

/* --json: {"name", "state": "stopped"|"not-running"|"failed", "restored": [...],
 * "reason": string or null} */
static void
print_json(const char *name, const char *state, JsonArray *restored, const char *reason)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autoptr(JsonNode) node = NULL;

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "name");
  json_builder_add_string_value(b, name);
  json_builder_set_member_name(b, "state");
  json_builder_add_string_value(b, state);
  json_builder_set_member_name(b, "restored");
  json_builder_begin_array(b);
  for (guint i = 0; restored != NULL && i < json_array_get_length(restored); i++)
    json_builder_add_string_value(b, json_array_get_string_element(restored, i));
  json_builder_end_array(b);
  json_builder_set_member_name(b, "reason");
  if (reason != NULL)
    json_builder_add_string_value(b, reason);
  else
    json_builder_add_null_value(b);
  json_builder_end_object(b);
  node = json_builder_get_root(b);
  vxm_cli_print_json(node);
}

int
vxm_cli_cmd_stop(VxmCli *cli, int argc, char **argv)
{
  gboolean force = FALSE, json = FALSE;
  gint timeout_s = -1;
  const GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json,
       "Print the outcome as JSON ({name, state, restored, reason}) instead of the steps", NULL},
      {"force", 'f', 0, G_OPTION_ARG_NONE, &force,
       "Quit QEMU at once instead of asking the guest to shut down", NULL},
      {"timeout", 't', 0, G_OPTION_ARG_INT, &timeout_s,
       "Seconds the guest gets to shut down before QEMU is quit (default: the VM's "
       "shutdown_timeout)",
       "S"},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmVmPaths) paths = NULL;
  g_autoptr(JsonObject) request = json_object_new();
  g_autoptr(JsonObject) status = NULL;
  g_autoptr(VxmCliProgress) printer = NULL;
  const char *state;
  JsonArray *restored;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, "[NAME]",
                     "Stop a VM: ACPI power-down, then quit after its shutdown_timeout (or at\n"
                     "once with --force); returns once the host is restored.\n"
                     "Exit status: 0 when the VM stopped and the host is restored (or it was not\n"
                     "running), 1 when the host could not be fully restored or the supervisor\n"
                     "could not be reached (read the VM's vxm.log; `vxm recover` undoes what is\n"
                     "left), 2 on a usage error."))
    return VXM_EXIT_USAGE;
  if (argc > 2)
    return vxm_cli_usage_error(cli, "too many arguments: give at most one VM name");
  if (timeout_s < -1)
    return vxm_cli_usage_error(cli, "--timeout takes a number of seconds, 0 or more");
  paths = vxm_cli_vm_paths(cli, argc > 1 ? argv[1] : NULL, &error);
  if (paths == NULL)
    return vxm_cli_fail_arg(cli, error);
  if (!vxm_vm_is_running(paths)) {
    /* a name that is no VM is a mistake, not "not running" */
    if (!vxm_vm_paths_check_exists(paths, &error))
      return vxm_cli_fail(cli, error);
    if (json)
      print_json(paths->name, "not-running", NULL, NULL);
    else if (!cli->quiet)
      g_print("VM %s is not running\n", paths->name);
    return VXM_EXIT_OK;
  }
  json_object_set_string_member(request, "command", "stop");
  json_object_set_boolean_member(request, "force", force);
  if (timeout_s >= 0)
    json_object_set_int_member(request, "timeout", timeout_s);
  if (!json)
    printer = vxm_cli_progress_new(cli);
  if (!cli->quiet && !json)
    g_print("Stopping VM %s%s\n", paths->name,
            force ? " (forced: quit at once)"
                  : " (ACPI power-down, then quit after the time limit)");
  status = vxm_control_follow(paths, request, 0, on_event, printer, &error);
  if (printer != NULL)
    vxm_cli_progress_clear(printer);
  if (status == NULL) {
    g_autofree char *log = vxm_vm_paths_display(paths->vxm_log);

    /* the lock says a supervisor runs: "not running" would mislead */
    if (g_error_matches(error, VXM_ERROR, VXM_ERROR_NOT_FOUND)) {
      g_autofree char *socket = vxm_control_socket_path(paths);

      g_clear_error(&error);
      g_set_error(&error, VXM_ERROR, VXM_ERROR_IO,
                  "VM %s's supervisor holds the VM's lock but does not answer on %s (hung, or "
                  "still starting)",
                  paths->name, socket);
    }
    g_prefix_error(&error, "cannot stop VM %s: ", paths->name);
    vxm_cli_fail(cli, error);
    g_printerr("  read its log, %s; `vxm status %s` shows what the host still holds.\n"
               "  Once the supervisor has exited (end it if it hangs), `vxm recover %s` gives "
               "back the GPU, hugepages and device nodes it held.\n",
               log, paths->name, paths->name);
    return VXM_EXIT_FAILURE;
  }
  restored = json_object_get_array_member(status, "restored");
  state = json_object_get_string_member_with_default(status, "state", "?");
  if (json) {
    gboolean failed = g_strcmp0(state, "failed") == 0;

    print_json(paths->name, failed ? "failed" : "stopped", restored,
               failed ? json_object_get_string_member_with_default(status, "reason", "?") : NULL);
    return failed ? VXM_EXIT_FAILURE : VXM_EXIT_OK;
  }
  /* what a step's line already said is not said again */
  for (guint i = 0; restored != NULL && i < json_array_get_length(restored) && !cli->quiet; i++) {
    const char *line = json_array_get_string_element(restored, i);

    if (!vxm_cli_progress_was_shown(printer, line))
      g_print("  restored: %s\n", line);
  }
  if (g_strcmp0(state, "failed") == 0) {
    const char *reason = json_object_get_string_member_with_default(status, "reason", "?");
    g_autofree char *log = vxm_vm_paths_display(paths->vxm_log);

    g_printerr("vxm stop: VM %s ended with a failure: %s\n  (supervisor log: %s)\n", paths->name,
               reason, log);
    return VXM_EXIT_FAILURE;
  }
  if (!cli->quiet)
    g_print("VM %s stopped; the host is restored\n", paths->name);
  return VXM_EXIT_OK;
}
