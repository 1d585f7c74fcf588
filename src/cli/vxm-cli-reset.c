/* vxm reset NAME [--yes]: remove a VM's config, disk, UEFI variables and TPM state. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vm/vxm-vm-lock.h"
#include "vm/vxm-vm-paths.h"
#include "vm/vxm-vm-reset.h"
#include "vxm-cli.h"

int
vxm_cli_cmd_reset(VxmCli *cli, int argc, char **argv)
{
  gboolean opt_yes = FALSE;
  const GOptionEntry entries[] = {
      {"yes", 'y', 0, G_OPTION_ARG_NONE, &opt_yes, "Do not ask: remove at once (for scripts)",
       NULL},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmVmPaths) paths = NULL;
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);

  if (!vxm_cli_parse(cli, &argc, &argv, entries, "NAME",
                     "Remove a VM: its config, disk, UEFI variables, TPM state and logs.\n"
                     "Asks you to type the VM's name first, unless --yes."))
    return VXM_EXIT_USAGE;
  if (argc != 2)
    return vxm_cli_usage_error(cli, "give the name of the VM to remove (see vxm list)");
  paths = vxm_vm_paths_new(argv[1], &error);
  if (paths == NULL)
    return vxm_cli_usage_error(cli, "%s", error->message);

  if (vxm_vm_is_running(paths)) {
    g_printerr("vxm reset: VM %s is running: stop it first with vxm stop %s\n", paths->name,
               paths->name);
    return VXM_EXIT_FAILURE;
  }
  if (!g_file_test(paths->config_file, G_FILE_TEST_EXISTS) &&
      !g_file_test(paths->data_dir, G_FILE_TEST_EXISTS)) {
    g_printerr("vxm reset: no VM %s (see vxm list)\n", paths->name);
    return VXM_EXIT_FAILURE;
  }
  if (!opt_yes) {
    char line[256] = "";
    g_autofree char *data = vxm_vm_paths_display(paths->data_dir);

    g_print("This removes VM %s for good: its config, disk, UEFI variables and TPM state\n"
            "(%s). Type the VM's name to go on: ",
            paths->name, data);
    fflush(stdout);
    if (fgets(line, sizeof line, stdin) == NULL) {
      g_print("\n");
      g_printerr(
          "vxm reset: not confirmed (no answer): nothing removed; --yes skips the question\n");
      return VXM_EXIT_FAILURE;
    }
    if (!isatty(STDIN_FILENO))
      g_print("\n");
    if (strcmp(g_strchomp(line), paths->name) != 0) {
      g_printerr("vxm reset: not confirmed: nothing removed\n");
      return VXM_EXIT_FAILURE;
    }
  }
  if (!vxm_vm_reset(paths, report, &error))
    return vxm_cli_fail(cli, error);
  if (!cli->quiet) {
    for (guint i = 0; i < report->len; i++)
      g_print("  %s\n", (const char *)g_ptr_array_index(report, i));
    g_print("VM %s removed\n", paths->name);
  }
  return VXM_EXIT_OK;
}
