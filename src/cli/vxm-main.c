/* vxm: the command-line front end. Dispatches to one file per subcommand. */
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/vxm-run-as.h"
#include "common/vxm-util.h"
#include "vxm-cli.h"
#include "vxm-config.h"

static const VxmCliCommand commands[] = {
    /* keep sorted by name */
    {"check", "Check that this machine can give its second GPU to a guest", vxm_cli_cmd_check},
    {"config", "Show or change a VM's settings", vxm_cli_cmd_config},
    {"detach", "Give a GPU's IOMMU group to vfio-pci by hand", vxm_cli_cmd_detach},
    {"display", "Switch the monitor to the host's or the guest's input (or --probe it)",
     vxm_cli_cmd_display},
    {"fingerprint", "Show this machine's DMI identity (what smbios = host gives a guest)",
     vxm_cli_cmd_fingerprint},
    {"init", "Create a VM: disk, UEFI variables, TPM state, config", vxm_cli_cmd_init},
    {"inputs", "List keyboards and mice, their kind and path, and whether a VM takes them",
     vxm_cli_cmd_inputs},
    {"list", "List the VMs with their state, guest GPU and disk", vxm_cli_cmd_list},
    {"list-devices", "List the PCI devices and which can be given to a guest whole",
     vxm_cli_cmd_list_devices},
    {"list-gpus", "List the GPUs, their IOMMU groups and which can be the guest's",
     vxm_cli_cmd_list_gpus},
    {"monitors", "List the display connectors, their monitors (EDID) and DDC buses",
     vxm_cli_cmd_monitors},
    {"reattach", "Give a GPU's devices back to their original drivers", vxm_cli_cmd_reattach},
    {"recover", "Undo what a crashed or killed vxm left changed on the host", vxm_cli_cmd_recover},
    {"reset", "Remove a VM's files after confirmation", vxm_cli_cmd_reset},
    {"start", "Start a VM: prepare the host, run swtpm and QEMU, supervise", vxm_cli_cmd_start},
    {"static-binding", "Bind the guest GPU to vfio-pci at boot (on, off, status)",
     vxm_cli_cmd_static_binding},
    {"status", "Show VMs: state, pids, where the GPU's devices are bound, what the host holds",
     vxm_cli_cmd_status},
    {"stop", "Stop a VM (ACPI power-down, then quit) and restore the host", vxm_cli_cmd_stop},
    {"version", "Print vxm's version", NULL},
};

static void
print_usage(FILE *out)
{
  int width = 0;

  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
    width = MAX(width, (int)strlen(commands[i].name));
  fprintf(out, "Usage: vxm [--version] [--help] [--root DIR] [--quiet] COMMAND [OPTIONS]\n\n"
               "Run a Windows guest on this workstation's second GPU, and give it back.\n\n"
               "Commands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
    fprintf(out, "  %-*s  %s\n", width, commands[i].name, commands[i].summary);
  fprintf(out, "\nEvery command takes --help, and --root DIR (or VXM_ROOT) to act on a\n"
               "simulated or other host root instead of /.\n");
}

/* `vxm --root DIR start NAME`: the options every command takes (--root DIR, --root=DIR,
 * --quiet, -q) may come before the command too; they are moved behind it, where the command's
 * parser reads them. Returns the new argv (its strings are @argv's), or NULL after saying what
 * is wrong. */
static char **
command_first(int argc, char **argv)
{
  g_autoptr(GPtrArray) globals = g_ptr_array_new();
  g_autoptr(GPtrArray) out = g_ptr_array_new();
  int i = 1;

  while (i < argc && argv[i][0] == '-') {
    if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
      g_ptr_array_add(globals, argv[i]);
      g_ptr_array_add(globals, argv[i + 1]);
      i += 2;
    } else if (strcmp(argv[i], "--root") == 0) {
      fprintf(stderr, "vxm: --root needs a folder (vxm --root DIR COMMAND ...)\n");
      return NULL;
    } else if (g_str_has_prefix(argv[i], "--root=") || strcmp(argv[i], "--quiet") == 0 ||
               strcmp(argv[i], "-q") == 0) {
      g_ptr_array_add(globals, argv[i++]);
    } else {
      fprintf(stderr,
              "vxm: unknown option '%s' before the command: options go after it (vxm COMMAND "
              "--help lists them)\n",
              argv[i]);
      return NULL;
    }
  }
  if (i == argc) {
    fprintf(stderr, "vxm: no command after the options (vxm --help lists the commands)\n");
    return NULL;
  }
  g_ptr_array_add(out, argv[0]);
  g_ptr_array_add(out, argv[i]);
  g_ptr_array_extend(out, globals, NULL, NULL);
  for (int k = i + 1; k < argc; k++)
    g_ptr_array_add(out, argv[k]);
  g_ptr_array_add(out, NULL);
  return (char **)g_ptr_array_free(g_steal_pointer(&out), FALSE);
}

int
main(int argc, char **argv)
{
  g_autofree char **reordered = NULL;
  VxmCli cli = {0};
  char *help_argv[4];
  const char *no_color = g_getenv("NO_COLOR");
  int status;

  vxm_debug_timing("main %s", argc > 1 ? argv[1] : "");
  setlocale(LC_ALL, "");
  /* sudo vxm: the invoking user's VM folders, not root's (QEMU runs as that user) */
  vxm_run_as_adopt_sudo_environment();
  if (argc < 2) {
    print_usage(stderr);
    return VXM_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
    printf("vxm %s\n", VXM_VERSION);
    return VXM_EXIT_OK;
  }
  if (strcmp(argv[1], "help") == 0 && argc == 3) {
    /* vxm help start: start's own help */
    help_argv[0] = argv[0];
    help_argv[1] = argv[2];
    help_argv[2] = (char *)"--help";
    help_argv[3] = NULL;
    argv = help_argv;
    argc = 3;
  } else if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
             strcmp(argv[1], "help") == 0) {
    print_usage(stdout);
    return VXM_EXIT_OK;
  }
  if (argv[1][0] == '-') {
    reordered = command_first(argc, argv);
    if (reordered == NULL)
      return VXM_EXIT_USAGE;
    argv = reordered;
    argc = (int)g_strv_length(argv);
  }
  cli.color = isatty(STDOUT_FILENO) && (no_color == NULL || *no_color == '\0');
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
    if (strcmp(argv[1], commands[i].name) == 0) {
      g_autofree char *prgname = g_strdup_printf("vxm %s", commands[i].name);

      g_set_prgname(prgname);
      cli.command = commands[i].name;
      if (commands[i].run == NULL) {
        printf("vxm %s\n", VXM_VERSION);
        return VXM_EXIT_OK;
      }
      status = commands[i].run(&cli, argc - 1, argv + 1);
      g_clear_object(&cli.hostfs);
      g_free(cli.root_option);
      return status;
    }
  }
  {
    const char *names[G_N_ELEMENTS(commands)];
    const char *best;

    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
      names[i] = commands[i].name;
    best = vxm_closest_word(argv[1], names, G_N_ELEMENTS(commands));
    if (best != NULL) {
      fprintf(stderr, "vxm: unknown command '%s': did you mean '%s'? (vxm --help lists them)\n",
              argv[1], best);
      return VXM_EXIT_USAGE;
    }
  }
  fprintf(stderr, "vxm: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr);
  return VXM_EXIT_USAGE;
}
