/* vxm config [NAME] [--show [--json]] [--set KEY=VALUE]... [--unset KEY]... [--set-gpu ADDR|TEXT]
 */
#include <string.h>

#include "common/vxm-util.h"
#include "pci/vxm-gpu.h"
#include "pci/vxm-pci-address.h"
#include "vm/vxm-vm-config.h"
#include "plan/vxm-vm-resolve.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-cli.h"

/* The value shown for a key: what the file says (or the default), plus what auto became. */
static char *
resolved_note(VxmVmConfig *c, const char *group, const char *key)
{
  const VxmVmResolved *r = &c->resolved;

  if (!r->done)
    return NULL;
  if (strcmp(group, "memory") == 0 && strcmp(key, "size") == 0 && c->memory_bytes == 0)
    return vxm_format_bytes(r->memory_bytes);
  if (strcmp(group, "cpu") == 0 && strcmp(key, "vcpus") == 0 && c->vcpus == 0)
    return g_strdup_printf("%u of the host's %u", r->vcpus, r->host_cpus);
  if (strcmp(group, "cpu") == 0 && strcmp(key, "threads_per_core") == 0 && c->threads_per_core == 0)
    return g_strdup_printf("%u", r->threads_per_core);
  if (strcmp(group, "disk") == 0 && strcmp(key, "path") == 0 && c->disk_path == NULL)
    return g_strdup(r->disk_path);
  if (strcmp(group, "host") == 0 && strcmp(key, "qemu_binary") == 0)
    return g_strdup(r->qemu_binary ? r->qemu_binary : "not found in PATH");
  return NULL;
}

static int
show(VxmCli *cli, VxmVmConfig *config, const VxmVmPaths *paths, gboolean json)
{
  const VxmVmConfigKey *keys = vxm_vm_config_keys();
  g_autoptr(GError) error = NULL;
  VxmHostfs *hostfs = vxm_cli_get_hostfs(cli, &error);
  g_autofree char *resolve_problem = NULL;

  if (hostfs == NULL)
    return vxm_cli_fail(cli, error);
  if (!vxm_vm_config_resolve(config, hostfs, paths, &error))
    resolve_problem = g_strdup(error->message);

  if (json) {
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;
    const char *group = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, config->name);
    json_builder_set_member_name(b, "config_file");
    json_builder_add_string_value(b, paths->config_file);
    json_builder_set_member_name(b, "settings");
    json_builder_begin_object(b);
    for (gsize i = 0; keys[i].group != NULL; i++) {
      g_autofree char *value = vxm_vm_config_get_text(config, keys[i].group, keys[i].key);
      if (g_strcmp0(group, keys[i].group) != 0) {
        if (group != NULL)
          json_builder_end_object(b);
        group = keys[i].group;
        json_builder_set_member_name(b, group);
        json_builder_begin_object(b);
      }
      json_builder_set_member_name(b, keys[i].key);
      json_builder_add_string_value(b, value);
    }
    if (group != NULL)
      json_builder_end_object(b);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "resolved");
    if (config->resolved.done) {
      const VxmVmResolved *r = &config->resolved;
      json_builder_begin_object(b);
      json_builder_set_member_name(b, "memory_bytes");
      json_builder_add_int_value(b, (gint64)r->memory_bytes);
      json_builder_set_member_name(b, "vcpus");
      json_builder_add_int_value(b, r->vcpus);
      json_builder_set_member_name(b, "threads_per_core");
      json_builder_add_int_value(b, r->threads_per_core);
      json_builder_set_member_name(b, "host_cpus");
      json_builder_add_int_value(b, r->host_cpus);
      json_builder_set_member_name(b, "host_memory_bytes");
      json_builder_add_int_value(b, (gint64)r->host_memory);
      json_builder_set_member_name(b, "disk_path");
      json_builder_add_string_value(b, r->disk_path);
      json_builder_set_member_name(b, "qemu_binary");
      if (r->qemu_binary)
        json_builder_add_string_value(b, r->qemu_binary);
      else
        json_builder_add_null_value(b);
      json_builder_end_object(b);
    } else {
      json_builder_add_null_value(b);
    }
    json_builder_set_member_name(b, "resolve_error");
    if (resolve_problem)
      json_builder_add_string_value(b, resolve_problem);
    else
      json_builder_add_null_value(b);

    json_builder_set_member_name(b, "paths");
    json_builder_begin_object(b);
    {
      const struct {
        const char *name, *value;
      } p[] = {{"data", paths->data_dir},         {"efi_vars", paths->efi_vars},
               {"tpm", paths->tpm_dir},           {"runtime", paths->runtime_dir},
               {"qmp_socket", paths->qmp_socket}, {"state", paths->state_dir}};
      for (gsize i = 0; i < G_N_ELEMENTS(p); i++) {
        json_builder_set_member_name(b, p[i].name);
        json_builder_add_string_value(b, p[i].value);
      }
    }
    json_builder_end_object(b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    vxm_cli_print_json(root);
    return VXM_EXIT_OK;
  }

  {
    g_autofree char *shown = vxm_vm_paths_display(paths->config_file);
    const char *group = NULL;

    g_print("# VM %s: %s\n", config->name, shown);
    if (resolve_problem != NULL)
      g_print("# cannot resolve the auto values: %s\n", resolve_problem);
    for (gsize i = 0; keys[i].group != NULL; i++) {
      g_autofree char *value = vxm_vm_config_get_text(config, keys[i].group, keys[i].key);
      g_autofree char *note = resolved_note(config, keys[i].group, keys[i].key);
      gboolean is_default = !g_key_file_has_key(config->keyfile, keys[i].group, keys[i].key, NULL);

      if (g_strcmp0(group, keys[i].group) != 0) {
        group = keys[i].group;
        g_print("\n[%s]\n", group);
      }
      g_print("%s = %s", keys[i].key, value);
      if (note != NULL && is_default)
        g_print("  # %s; default", note);
      else if (note != NULL)
        g_print("  # %s", note);
      else if (is_default)
        g_print("  # default");
      g_print("\n");
    }
  }
  return VXM_EXIT_OK;
}

/* ADDR is normalised; TEXT (a name or ids) is looked up among the host's GPUs. */
static gboolean
gpu_value(VxmCli *cli, const char *text, char **out, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(VxmGpu) gpu = NULL;
  g_autofree char *addr = NULL;
  VxmPciAddress parsed;
  VxmHostfs *hostfs;

  if (g_ascii_strcasecmp(text, "auto") == 0) {
    *out = g_strdup("auto");
    return TRUE;
  }
  hostfs = vxm_cli_get_hostfs(cli, error);
  if (hostfs == NULL)
    return FALSE;
  if (vxm_pci_address_parse(text, &parsed, NULL))
    addr = vxm_pci_address_to_string(&parsed);
  gpu = vxm_gpu_find(hostfs, text, &local);
  if (gpu == NULL) {
    if (addr != NULL && g_error_matches(local, VXM_ERROR, VXM_ERROR_NOT_FOUND)) {
      /* configuring for a card that is not in this host (yet): say so, keep the address */
      if (!cli->quiet)
        g_printerr("vxm config: warning: no GPU at %s on this host (%s)\n", addr, local->message);
      *out = g_steal_pointer(&addr);
      return TRUE;
    }
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  if (!cli->quiet && vxm_gpu_get_role(gpu) != VXM_GPU_ROLE_CANDIDATE &&
      vxm_gpu_get_role(gpu) != VXM_GPU_ROLE_GUEST) {
    GPtrArray *reasons = vxm_gpu_get_reasons(gpu);
    g_printerr("vxm config: warning: %s is %s as things stand:\n", vxm_gpu_get_address(gpu),
               vxm_gpu_role_to_string(vxm_gpu_get_role(gpu)));
    for (guint i = 0; reasons != NULL && i < reasons->len; i++)
      g_printerr("  - %s\n", (const char *)g_ptr_array_index(reasons, i));
  }
  *out = g_strdup(vxm_gpu_get_address(gpu));
  return TRUE;
}

/* --keys: what the shell completions offer after --set and --unset, read from the key table so
 * they never drift from it */
static void
print_keys(void)
{
  const VxmVmConfigKey *keys = vxm_vm_config_keys();

  for (gsize i = 0; keys[i].group != NULL; i++)
    g_print("%s.%s\t%s\n", keys[i].group, keys[i].key,
            keys[i].values != NULL ? keys[i].values : "");
}

int
vxm_cli_cmd_config(VxmCli *cli, int argc, char **argv)
{
  gboolean opt_show = FALSE, opt_json = FALSE, opt_keys = FALSE;
  g_auto(GStrv) opt_set = NULL;
  g_auto(GStrv) opt_unset = NULL;
  g_autofree char *opt_gpu = NULL;
  g_autofree char *opt_static = NULL;
  const GOptionEntry entries[] = {
      {"show", 0, 0, G_OPTION_ARG_NONE, &opt_show,
       "Print every key's effective value, with what auto resolves to (the default action)", NULL},
      {"json", 0, 0, G_OPTION_ARG_NONE, &opt_json, "With --show: print JSON", NULL},
      {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_set,
       "Set KEY (group.key, or a key only one group has) to VALUE; repeatable", "KEY=VALUE"},
      {"unset", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_unset,
       "Remove KEY from the file so its default applies; repeatable", "KEY"},
      {"set-gpu", 0, 0, G_OPTION_ARG_STRING, &opt_gpu,
       "Set the guest GPU by PCI address or by a piece of its name (see vxm list-gpus)",
       "ADDR|TEXT"},
      {"static-binding", 0, 0, G_OPTION_ARG_STRING, &opt_static,
       "Bind the VM's guest GPU to vfio-pci at boot (on) or stop doing so (off); the same as "
       "vxm static-binding",
       "on|off"},
      {"keys", 0, 0, G_OPTION_ARG_NONE, &opt_keys,
       "List every key, a tab and the fixed values it takes (for shell completion)", NULL},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmVmPaths) paths = NULL;
  g_autoptr(VxmVmConfig) config = NULL;
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(GPtrArray) values = NULL;
  gboolean edits;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, "[NAME]",
                     "Show or change a VM's settings. Changes are checked before the file is\n"
                     "written (atomically), and the file's comments and order are kept."))
    return VXM_EXIT_USAGE;
  if (argc > 2)
    return vxm_cli_usage_error(cli, "expected at most one VM name, got '%s' and '%s'", argv[1],
                               argv[2]);
  edits = opt_set != NULL || opt_unset != NULL || opt_gpu != NULL;
  if (opt_keys) {
    if (argc > 1 || edits || opt_show || opt_json || opt_static != NULL)
      return vxm_cli_usage_error(cli, "--keys goes alone: it lists the keys of every VM");
    print_keys();
    return VXM_EXIT_OK;
  }
  if (opt_json && edits)
    return vxm_cli_usage_error(cli, "--json goes with --show, not with changes");
  if (opt_static != NULL && g_strcmp0(opt_static, "on") != 0 && g_strcmp0(opt_static, "off") != 0)
    return vxm_cli_usage_error(cli, "--static-binding takes on or off, not '%s'", opt_static);
  if (opt_static != NULL && opt_json)
    return vxm_cli_usage_error(cli, "--json goes with --show, not with --static-binding");
  if (!edits && opt_static == NULL)
    opt_show = TRUE;

  paths = vxm_vm_paths_new(argc > 1 ? argv[1] : NULL, &error);
  if (paths == NULL)
    return vxm_cli_usage_error(cli, "%s", error->message);
  config = vxm_vm_config_load(paths, &error);
  if (config == NULL) {
    if (g_error_matches(error, VXM_ERROR, VXM_ERROR_NOT_FOUND)) {
      g_autofree char *hint = vxm_vm_name_suggestion(paths->name);

      g_printerr("vxm config: no VM %s%s: create it with vxm init %s\n", paths->name, hint,
                 paths->name);
      return VXM_EXIT_FAILURE;
    }
    return vxm_cli_fail(cli, error);
  }

  /* every edit of this command first, then the result checked once: keys that go in pairs
   * (host_input and guest_input) can be set by one command */
  keys = g_ptr_array_new_with_free_func(g_free);
  values = g_ptr_array_new_with_free_func(g_free);
  for (gsize i = 0; opt_set != NULL && opt_set[i] != NULL; i++) {
    g_auto(GStrv) kv = g_strsplit(opt_set[i], "=", 2);
    if (kv[1] == NULL)
      return vxm_cli_usage_error(cli, "--set %s: expected KEY=VALUE", opt_set[i]);
    g_ptr_array_add(keys, g_strdup(g_strstrip(kv[0])));
    g_ptr_array_add(values, g_strdup(g_strstrip(kv[1])));
  }
  for (gsize i = 0; opt_unset != NULL && opt_unset[i] != NULL; i++) {
    g_ptr_array_add(keys, g_strdup(opt_unset[i]));
    g_ptr_array_add(values, NULL);
  }
  if (opt_gpu != NULL) {
    g_autofree char *value = NULL;
    if (!gpu_value(cli, opt_gpu, &value, &error))
      return vxm_cli_fail(cli, error);
    g_ptr_array_add(keys, g_strdup("gpu.address"));
    g_ptr_array_add(values, g_steal_pointer(&value));
  }
  g_ptr_array_add(keys, NULL);
  g_ptr_array_add(values, NULL);
  if (edits && !vxm_vm_config_set_many(config, (const char *const *)keys->pdata,
                                       (const char *const *)values->pdata, &error)) {
    if (g_error_matches(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT))
      return vxm_cli_usage_error(cli, "%s", error->message);
    return vxm_cli_fail(cli, error);
  }
  if (opt_gpu != NULL && !cli->quiet)
    g_print("guest GPU: %s\n", config->gpu ? config->gpu : "auto");
  if (edits && !vxm_vm_config_save(config, NULL, &error))
    return vxm_cli_fail(cli, error);
  if (opt_static != NULL) {
    /* the engine and its messages are vxm static-binding's: one code path for both spellings */
    char *sb_argv[] = {(char *)"static-binding", opt_static, paths->name, NULL};
    return vxm_cli_cmd_static_binding(cli, 3, sb_argv);
  }
  if (opt_show)
    return show(cli, config, paths, opt_json);
  return VXM_EXIT_OK;
}
