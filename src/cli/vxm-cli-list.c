/* vxm list [--json]: every VM with its state, guest GPU and disk. */
#include <string.h>

#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-lock.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-cli.h"

typedef struct {
  char *name;
  const char *state; /* as vxm status says it */
  gboolean running;
  char *gpu; /* NULL = auto */
  char *disk;
  char *error; /* the config's problem, if it does not load */
} Row;

static void
row_free(gpointer p)
{
  Row *r = p;
  g_free(r->name);
  g_free(r->gpu);
  g_free(r->disk);
  g_free(r->error);
  g_free(r);
}

int
vxm_cli_cmd_list(VxmCli *cli, int argc, char **argv)
{
  gboolean opt_json = FALSE;
  const GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &opt_json, "Print JSON", NULL},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func(row_free);

  if (!vxm_cli_parse(cli, &argc, &argv, entries, NULL, "List the VMs: state, guest GPU, disk."))
    return VXM_EXIT_USAGE;
  if (argc > 1)
    return vxm_cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
  names = vxm_vm_paths_list_names(&error);
  if (names == NULL)
    return vxm_cli_fail(cli, error);

  for (guint i = 0; i < names->len; i++) {
    g_autoptr(VxmVmPaths) paths = vxm_vm_paths_new(g_ptr_array_index(names, i), NULL);
    g_autoptr(VxmVmConfig) config = NULL;
    g_autoptr(GError) local = NULL;
    Row *r = g_new0(Row, 1);

    r->name = g_strdup(paths->name);
    r->state = vxm_cli_vm_state_name(paths);
    r->running = g_str_equal(r->state, "running");
    config = vxm_vm_config_load(paths, &local);
    if (config != NULL) {
      r->gpu = g_strdup(config->gpu);
      r->disk = g_strdup(config->disk_path                               ? config->disk_path
                         : config->disk_format == VXM_VM_DISK_FORMAT_RAW ? paths->disk_raw
                                                                         : paths->disk_qcow2);
    } else {
      r->error = g_strdup(local->message);
    }
    g_ptr_array_add(rows, r);
  }

  if (opt_json) {
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;

    json_builder_begin_array(b);
    for (guint i = 0; i < rows->len; i++) {
      Row *r = g_ptr_array_index(rows, i);
      json_builder_begin_object(b);
      json_builder_set_member_name(b, "name");
      json_builder_add_string_value(b, r->name);
      json_builder_set_member_name(b, "state");
      json_builder_add_string_value(b, r->state);
      json_builder_set_member_name(b, "gpu");
      if (r->gpu != NULL)
        json_builder_add_string_value(b, r->gpu);
      else if (r->error == NULL)
        json_builder_add_string_value(b, "auto");
      else
        json_builder_add_null_value(b);
      json_builder_set_member_name(b, "disk");
      if (r->disk != NULL)
        json_builder_add_string_value(b, r->disk);
      else
        json_builder_add_null_value(b);
      json_builder_set_member_name(b, "error");
      if (r->error != NULL)
        json_builder_add_string_value(b, r->error);
      else
        json_builder_add_null_value(b);
      json_builder_end_object(b);
    }
    json_builder_end_array(b);
    root = json_builder_get_root(b);
    vxm_cli_print_json(root);
    return VXM_EXIT_OK;
  }

  if (rows->len == 0) {
    if (!cli->quiet)
      g_print("No VMs yet: create one with vxm init [NAME]\n");
    return VXM_EXIT_OK;
  }
  g_print("%-20s %-8s %-13s %-7s %s\n", "NAME", "STATE", "GPU", "CONFIG", "DISK");
  for (guint i = 0; i < rows->len; i++) {
    Row *r = g_ptr_array_index(rows, i);
    g_autofree char *padded = g_strdup_printf("%-8s", r->state);
    g_autofree char *state = vxm_cli_colored(cli,
                                             r->running                        ? "32"
                                             : g_str_equal(r->state, "failed") ? "31"
                                                                               : "0",
                                             padded);
    g_autofree char *disk = vxm_vm_paths_display(r->disk);

    /* a broken config has its own column; the error follows the row */
    if (r->error != NULL)
      g_print("%-20s %s %-13s %-7s %s\n", r->name, state, "-", "broken", r->error);
    else
      g_print("%-20s %s %-13s %-7s %s\n", r->name, state, r->gpu ? r->gpu : "auto", "ok", disk);
  }
  return VXM_EXIT_OK;
}
