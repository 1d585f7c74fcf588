/* vxm detach: give a GPU's IOMMU group to vfio-pci by hand, until vxm reattach. */
#include "ops/vxm-host-ops.h"
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
  g_autoptr(VxmHostOps) ops = NULL;
  g_autofree char *held_by = NULL;
  VxmCliTarget target = {0};
  VxmHostOpsGpu gpu = {0};
  VxmHostfs *hostfs;
  const char *address;
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
  address = vxm_gpu_get_address(target.gpu);
  gpu.gpu_address = address;
  gpu.force = force;
  gpu.timeout_ms = target.timeout_ms;
  if (timeout_text != NULL && !vxm_cli_parse_timeout(timeout_text, &gpu.timeout_ms, &error)) {
    vxm_cli_target_clear(&target);
    return vxm_cli_fail_arg(cli, error);
  }
  ops = vxm_cli_get_host_ops(cli, hostfs, &error);
  if (ops == NULL || !vxm_host_ops_hold_gpu(ops, &gpu, &held_by, report, &error)) {
    status = vxm_cli_fail(cli, error);
  } else if (held_by != NULL) {
    if (json)
      vxm_cli_print_outcome_json("gpu", address, "already", NULL);
    else if (!cli->quiet)
      g_print("%s is already on vfio-pci (%s); vxm reattach %s gives it back\n", address, held_by,
              address);
  } else if (json) {
    vxm_cli_print_outcome_json("gpu", address, "detached", report);
  } else if (!cli->quiet) {
    for (guint i = 0; i < report->len; i++)
      g_print("%s\n", (char *)g_ptr_array_index(report, i));
    g_print("%s is on vfio-pci; vxm reattach %s gives it back\n", address, address);
  }
  vxm_cli_target_clear(&target);
  return status;
}
