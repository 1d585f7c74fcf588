/* vxm detach: give a GPU's IOMMU group to vfio-pci by hand, until vxm reattach. */
#include "journal/vxm-journal.h"
#include "pci/vxm-vfio.h"
#include "vxm-cli.h"

int
vxm_cli_cmd_detach(VxmCli *cli, int argc, char **argv)
{
  gboolean force = FALSE, json = FALSE;
  g_autofree char *timeout_text = NULL;
  GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json,
       "Print the outcome as JSON ({gpu, state: detached|already, done})", NULL},
      {"force", 'f', 0, G_OPTION_ARG_NONE, &force,
       "Go ahead although an AMD or Intel card is in use (never for NVIDIA, never past the "
       "group, boot VGA or last-GPU rules)",
       NULL},
      {"timeout", 't', 0, G_OPTION_ARG_STRING, &timeout_text,
       "Time limit for a driver's unbind (default 10 s, or the VM's unbind_timeout)", "S"},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(VxmJournal) journal = NULL;
  g_autoptr(GPtrArray) existing = NULL;
  g_autofree char *name = NULL;
  VxmCliTarget target = {0};
  VxmVfioOptions options = {0};
  VxmHostfs *hostfs;
  int status = VXM_EXIT_OK;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, "NAME|ADDR",
                     "Give a GPU's IOMMU group (every function of the card) to vfio-pci and keep "
                     "it there until vxm reattach.\nNAME is a VM (its guest GPU); ADDR a PCI "
                     "address (0000:01:00.0)."))
    return VXM_EXIT_USAGE;
  if (argc != 2)
    return vxm_cli_usage_error(cli, "give one VM name or PCI address");
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL || !vxm_cli_resolve_target(cli, hostfs, argv[1], &target, &error))
    return vxm_cli_fail_arg(cli, error);
  options.force = force;
  options.timeout_ms = target.timeout_ms;
  if (timeout_text != NULL && !vxm_cli_parse_timeout(timeout_text, &options.timeout_ms, &error)) {
    vxm_cli_target_clear(&target);
    return vxm_cli_fail_arg(cli, error);
  }

  /* one record per card: refuse while another vxm (or a VM) has it */
  existing = vxm_vfio_find_journals(hostfs, target.gpu, NULL, &error);
  if (existing == NULL)
    goto fail;
  for (guint i = 0; i < existing->len; i++) {
    VxmJournal *other = g_ptr_array_index(existing, i);

    switch (vxm_journal_get_owner_status(other)) {
    case VXM_JOURNAL_OWNER_HELD:
      if (json)
        vxm_cli_print_outcome_json("gpu", vxm_gpu_get_address(target.gpu), "already", NULL);
      else if (!cli->quiet)
        g_print("%s is already on vfio-pci (%s); vxm reattach %s gives it back\n",
                vxm_gpu_get_address(target.gpu), vxm_journal_get_held(other),
                vxm_gpu_get_address(target.gpu));
      goto out;
    case VXM_JOURNAL_OWNER_ALIVE:
      g_set_error(&error, VXM_ERROR, VXM_ERROR_BUSY,
                  "%s is being handled by %s (pid %" G_GINT64_FORMAT "): wait for it, or stop it",
                  vxm_gpu_get_address(target.gpu), vxm_journal_get_name(other),
                  vxm_journal_get_owner(other)->pid);
      goto fail;
    case VXM_JOURNAL_OWNER_GONE:
    default:
      g_set_error(&error, VXM_ERROR, VXM_ERROR_BUSY,
                  "%s was left half-done by a vxm that is gone (journal %s): run vxm recover "
                  "first",
                  vxm_gpu_get_address(target.gpu), vxm_journal_get_path(other));
      goto fail;
    }
  }

  name = vxm_vfio_manual_journal_name(target.gpu);
  journal = vxm_journal_new(hostfs, name, &error);
  if (journal == NULL)
    goto fail;
  if (!vxm_vfio_detach_group(hostfs, target.gpu, journal, &options, report, &error)) {
    g_autoptr(GError) local = NULL;

    /* put back completely: no record needed; anything left stays for vxm recover */
    if (vxm_journal_is_clear(journal) && !vxm_journal_remove(journal, &local))
      g_printerr("vxm detach: %s\n", local->message);
    goto fail;
  }
  if (!vxm_journal_hold(journal, "detached by hand with vxm detach", &error))
    goto fail;
  if (json) {
    vxm_cli_print_outcome_json("gpu", vxm_gpu_get_address(target.gpu), "detached", report);
  } else if (!cli->quiet) {
    for (guint i = 0; i < report->len; i++)
      g_print("%s\n", (char *)g_ptr_array_index(report, i));
    g_print("%s is on vfio-pci; vxm reattach %s gives it back\n", vxm_gpu_get_address(target.gpu),
            vxm_gpu_get_address(target.gpu));
  }
  goto out;
fail:
  status = vxm_cli_fail(cli, error);
out:
  vxm_cli_target_clear(&target);
  return status;
}
