/* vxm reattach: give a GPU's devices back to the drivers they had before vxm took them. */
#include "journal/vxm-journal.h"
#include "ops/vxm-journal-kinds.h"
#include "pci/vxm-vfio.h"
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
  g_autoptr(GPtrArray) journals = NULL;
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
  VxmCliTarget target = {0};
  VxmVfioOptions options = {0};
  VxmHostfs *hostfs;
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
  options.timeout_ms = target.timeout_ms;
  if (timeout_text != NULL && !vxm_cli_parse_timeout(timeout_text, &options.timeout_ms, &error)) {
    vxm_cli_target_clear(&target);
    return vxm_cli_fail_arg(cli, error);
  }
  vxm_journal_register_all_kinds();

  journals = vxm_vfio_find_journals(hostfs, target.gpu, problems, &error);
  if (journals == NULL)
    goto fail;
  for (guint i = 0; i < problems->len; i++)
    g_printerr("vxm reattach: %s\n", (char *)g_ptr_array_index(problems, i));
  if (journals->len == 0) {
    g_autoptr(GError) bound = NULL;

    if (vxm_vfio_check_bound(hostfs, target.gpu, &bound))
      g_set_error(&error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                  "%s is on vfio-pci but vxm has no record of its original drivers (static "
                  "binding, or bound by another tool): vxm status shows how it is bound",
                  vxm_gpu_get_address(target.gpu));
    else if (json)
      vxm_cli_print_outcome_json("gpu", vxm_gpu_get_address(target.gpu), "nothing", NULL);
    else if (!cli->quiet)
      g_print("nothing to give back: vxm has not detached %s\n", vxm_gpu_get_address(target.gpu));
    if (error != NULL)
      goto fail;
    goto out;
  }
  for (guint i = 0; i < journals->len; i++) {
    VxmJournal *journal = g_ptr_array_index(journals, i);
    g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) local = NULL;
    gboolean ok;

    if (vxm_journal_get_owner_status(journal) == VXM_JOURNAL_OWNER_ALIVE) {
      g_set_error(&local, VXM_ERROR, VXM_ERROR_BUSY,
                  "%s holds %s (pid %" G_GINT64_FORMAT "): stop it first (vxm stop %s)",
                  vxm_journal_get_name(journal), vxm_gpu_get_address(target.gpu),
                  vxm_journal_get_owner(journal)->pid, vxm_journal_get_name(journal));
      status = vxm_cli_fail(cli, local);
      continue;
    }
    ok = vxm_vfio_reattach_group(hostfs, journal, &options, report, &local);
    for (guint k = 0; k < report->len; k++) {
      if (json)
        g_ptr_array_add(done, g_strdup(g_ptr_array_index(report, k)));
      else if (!cli->quiet)
        g_print("%s\n", (char *)g_ptr_array_index(report, k));
    }
    if (!ok)
      status = vxm_cli_fail(cli, local);
  }
  if (json)
    vxm_cli_print_outcome_json("gpu", vxm_gpu_get_address(target.gpu),
                               status == VXM_EXIT_OK ? "reattached" : "failed", done);
  goto out;
fail:
  status = vxm_cli_fail(cli, error);
out:
  vxm_cli_target_clear(&target);
  return status;
}
