/* vxm reattach: give a GPU's devices back to the drivers they had before vxm took them. */
#include "ops/vxm-host-ops.h"
#include "vxm-cli.h"

int
vxm_cli_cmd_reattach(VxmCli *cli, int argc, char **argv)
{
  g_autofree char *timeout_text = NULL;
  gboolean json = FALSE;
  g_autoptr(GPtrArray) done = g_ptr_array_new_with_free_func(g_free);
  GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json,
       "Print the outcome as JSON ({gpu, state: reattached|nothing|failed, done})", NULL},
      {"timeout", 't', 0, G_OPTION_ARG_STRING, &timeout_text,
       "Time limit for each unbind and probe (default 10 s)", "S"},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(VxmHostOps) ops = NULL;
  VxmCliTarget target = {0};
  VxmHostOpsGpu gpu = {0};
  VxmHostfs *hostfs;
  const char *address;
  gboolean found = FALSE, ok;
  int status = VXM_EXIT_OK;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, "NAME|ADDR",
                     "Give a GPU's devices back to their original drivers (after vxm detach, or "
                     "a VM with keep_bound).\nThe guest must not be running."))
    return VXM_EXIT_USAGE;
  if (argc != 2)
    return vxm_cli_usage_error(cli, "give one VM name or PCI address");
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL || !vxm_cli_resolve_target(cli, hostfs, argv[1], &target, &error))
    return vxm_cli_fail_arg(cli, error);
  address = vxm_gpu_get_address(target.gpu);
  gpu.gpu_address = address;
  gpu.timeout_ms = target.timeout_ms;
  if (timeout_text != NULL && !vxm_cli_parse_timeout(timeout_text, &gpu.timeout_ms, &error)) {
    vxm_cli_target_clear(&target);
    return vxm_cli_fail_arg(cli, error);
  }
  ops = vxm_cli_get_host_ops(cli, hostfs, &error);
  if (ops == NULL) {
    status = vxm_cli_fail(cli, error);
    goto out;
  }
  ok = vxm_host_ops_release_held_gpu(ops, &gpu, &found, problems, report, &error);
  for (guint i = 0; i < problems->len; i++)
    g_printerr("vxm reattach: %s\n", (char *)g_ptr_array_index(problems, i));
  for (guint k = 0; k < report->len; k++) {
    if (json)
      g_ptr_array_add(done, g_strdup(g_ptr_array_index(report, k)));
    else if (!cli->quiet)
      g_print("%s\n", (char *)g_ptr_array_index(report, k));
  }
  if (!ok) {
    status = vxm_cli_fail(cli, error);
    if (!found)
      goto out;
  } else if (!found) {
    if (json)
      vxm_cli_print_outcome_json("gpu", address, "nothing", NULL);
    else if (!cli->quiet)
      g_print("nothing to give back: vxm has not detached %s\n", address);
    goto out;
  }
  if (json)
    vxm_cli_print_outcome_json("gpu", address, status == VXM_EXIT_OK ? "reattached" : "failed",
                               done);
out:
  vxm_cli_target_clear(&target);
  return status;
}
