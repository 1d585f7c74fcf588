/* vxm inputs: the host's keyboards and mice, what each is, and whether a VM takes it. */
#include <string.h>

#include "input/vxm-input-object.h"
#include "input/vxm-input-set.h"
#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-cli.h"

static void
print_table(VxmCli *cli, VxmInputSet *set, const char *vm)
{
  int w_kind = (int)strlen("touchpad"), w_event = (int)strlen("EVENT");

  for (guint i = 0; i < set->devices->len; i++) {
    VxmInputDevice *d = g_ptr_array_index(set->devices, i);
    w_event = MAX(w_event, (int)strlen(d->event));
  }
  g_print("%-*s  %-*s  %-4s  %s\n", w_event, "EVENT", w_kind, "KIND", "VM", "NAME");
  for (guint i = 0; i < set->devices->len; i++) {
    VxmInputDevice *d = g_ptr_array_index(set->devices, i);
    g_autofree char *take =
        g_strdup_printf("%-4s", d->taken ? (d->primary ? "yes*" : "yes") : "no");
    g_autofree char *take_col = vxm_cli_colored(cli, d->taken ? "1;32" : "2", take);

    g_print("%-*s  %-*s  %s  %s%s\n", w_event, d->event, w_kind, vxm_input_kind_to_string(d->kind),
            take_col, d->name ? d->name : "(no name)", d->is_virtual ? " (virtual)" : "");
    g_print("%-*s  %s\n", w_event, "", d->path);
    g_print("%-*s  %s\n", w_event, "", d->reason);
  }
  for (guint i = 0; i < set->missing->len; i++) {
    const char *name = set->missing->pdata[i];
    g_autofree char *why = NULL;
    VxmHostInputKind kind;

    if (vxm_input_pending_kind(name, &kind, &why))
      g_print("missing: %s is named in VM %s's inputs but not plugged in: it joins the guest "
              "when plugged in\n",
              name, vm);
    else
      g_print("missing: %s is named in VM %s's inputs but not plugged in, and would stay out "
              "of a running guest: %s\n",
              name, vm, why);
  }
  if (set->devices->len == 0)
    g_print("no input devices\n");
  else
    g_print("\nyes*: the primary keyboard (grab_all: its %s switches every device between host "
            "and guest)\n",
            "grab toggle");
}

int
vxm_cli_cmd_inputs(VxmCli *cli, int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmInputSet) set = NULL;
  g_autoptr(VxmVmConfig) config = NULL;
  VxmHostfs *hostfs;
  const char *vm = NULL;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, "[NAME]",
                     "Lists keyboards, mice, touchpads and other input devices with their kind "
                     "(from capability bits), stable path and whether VM NAME takes them "
                     "(its [input] inputs; without NAME: auto)."))
    return VXM_EXIT_USAGE;
  if (argc > 2)
    return vxm_cli_usage_error(cli, "too many arguments");
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL)
    return vxm_cli_fail(cli, error);
  if (argc == 2) {
    g_autoptr(VxmVmPaths) paths = vxm_vm_paths_new(argv[1], &error);

    if (paths == NULL)
      return vxm_cli_fail_arg(cli, error);
    config = vxm_vm_config_load(paths, &error);
    if (config == NULL)
      return vxm_cli_fail(cli, error);
    vm = argv[1];
  }
  set = vxm_input_set_discover(hostfs, &error);
  if (set == NULL)
    return vxm_cli_fail(cli, error);
  vxm_input_set_select(set, config != NULL ? (const char *const *)config->inputs : NULL);
  if (json) {
    g_autoptr(JsonNode) node = vxm_input_set_to_json(set);
    vxm_cli_print_json(node);
  } else {
    print_table(cli, set, vm);
  }
  return VXM_EXIT_OK;
}
