#include "vxm-cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/vxm-util.h"
#include "ops/vxm-host-ops-local.h"
#include "ops/vxm-host-ops-vxmd.h"

static GOptionEntry common_entries[] = {
    {"root", 0, 0, G_OPTION_ARG_FILENAME, NULL,
     "Folder that stands for the host's / (default: $VXM_ROOT or /)", "DIR"},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, NULL, "Print only errors", NULL},
    {NULL},
};

static gboolean
takes_value(const GOptionEntry *e)
{
  return e->arg != G_OPTION_ARG_NONE && !(e->flags & G_OPTION_FLAG_NO_ARG);
}

/* "--gpu --root DIR": GOption would take "--root" as --gpu's value and then read DIR as a
 * name. An option's value never starts with "--": say the value is missing instead. */
static gboolean
check_values(VxmCli *cli, int argc, char **argv, const GOptionEntry *const *tables)
{
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      return TRUE;
    if (!g_str_has_prefix(argv[i], "-") || strchr(argv[i], '=') != NULL ||
        !g_str_has_prefix(argv[i + 1], "--"))
      continue;
    for (guint t = 0; tables[t] != NULL; t++) {
      for (const GOptionEntry *e = tables[t]; e->long_name != NULL; e++) {
        gboolean is_long =
            g_str_has_prefix(argv[i], "--") && strcmp(argv[i] + 2, e->long_name) == 0;
        gboolean is_short = e->short_name != 0 && argv[i][1] == e->short_name && argv[i][2] == '\0';

        if ((is_long || is_short) && takes_value(e)) {
          vxm_cli_usage_error(cli, "%s needs a value%s%s, not the option %s", argv[i],
                              e->arg_description ? ": " : "",
                              e->arg_description ? e->arg_description : "", argv[i + 1]);
          return FALSE;
        }
      }
    }
  }
  return TRUE;
}

/* "did you mean --json?" for an option GOption did not know. */
static char *
option_hint(const char *message, const GOptionEntry *const *tables)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *unknown = strstr(message, "--");
  g_autofree char *word = NULL;
  const char *best;

  if (unknown == NULL)
    return g_strdup("");
  word = g_strndup(unknown + 2, strcspn(unknown + 2, " =\n"));
  for (guint t = 0; tables[t] != NULL; t++)
    for (const GOptionEntry *e = tables[t]; e->long_name != NULL; e++)
      if (!(e->flags & G_OPTION_FLAG_HIDDEN))
        g_ptr_array_add(names, g_strdup(e->long_name));
  best = vxm_closest_word(word, (const char *const *)names->pdata, names->len);
  return best != NULL ? g_strdup_printf(": did you mean --%s?", best) : g_strdup("");
}

gboolean
vxm_cli_parse(VxmCli *cli, int *argc, char ***argv, const GOptionEntry *entries,
              const char *parameter_string, const char *description)
{
  g_autoptr(GOptionContext) ctx = g_option_context_new(parameter_string);
  g_autoptr(GError) error = NULL;
  GOptionEntry common[G_N_ELEMENTS(common_entries)];
  g_autofree char *root = NULL;

  memcpy(common, common_entries, sizeof common);
  common[0].arg_data = &root;
  common[1].arg_data = &cli->quiet;

  if (entries != NULL)
    g_option_context_add_main_entries(ctx, entries, NULL);
  g_option_context_add_main_entries(ctx, common, NULL);
  if (description != NULL)
    g_option_context_set_summary(ctx, description);
  g_option_context_set_strict_posix(ctx, FALSE);
  {
    const GOptionEntry *tables[] = {entries != NULL ? entries : common, common, NULL};

    if (!check_values(cli, *argc, *argv, tables))
      return FALSE;
    if (!g_option_context_parse(ctx, argc, argv, &error)) {
      g_autofree char *hint = g_error_matches(error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION)
                                  ? option_hint(error->message, tables)
                                  : g_strdup("");

      vxm_cli_usage_error(cli, "%s%s", error->message, hint);
      return FALSE;
    }
  }
  if (root != NULL) {
    g_free(cli->root_option);
    cli->root_option = g_steal_pointer(&root);
  }
  return TRUE;
}

VxmHostfs *
vxm_cli_get_hostfs(VxmCli *cli, GError **error)
{
  if (cli->hostfs == NULL)
    cli->hostfs = vxm_hostfs_new_for_cli(cli->root_option, error);
  return cli->hostfs;
}

/* The one place that decides how a command changes the host: as root in this process (the
 * user is told), otherwise through vxmd, asked once here so a missing daemon or a closed door
 * is reported before anything starts. */
VxmHostOps *
vxm_cli_get_host_ops(VxmCli *cli, VxmHostfs *hostfs, GError **error)
{
  g_autoptr(VxmHostOps) ops = NULL;
  g_auto(VxmHostOpsHello) hello = {0};

  if (geteuid() == 0) {
    ops = vxm_host_ops_local_new(hostfs);
    /* on a --root host the start line says it; on the real one every command does */
    if (vxm_hostfs_is_real(hostfs) && !cli->quiet)
      g_printerr("vxm %s: %s\n", cli->command, vxm_host_ops_describe(ops));
    return g_steal_pointer(&ops);
  }
  ops = vxm_host_ops_vxmd_new(hostfs);
  if (!vxm_host_ops_hello(ops, &hello, error))
    return NULL;
  return g_steal_pointer(&ops);
}

int
vxm_cli_fail(VxmCli *cli, const GError *error)
{
  g_printerr("vxm %s: %s\n", cli->command, error->message);
  return VXM_EXIT_FAILURE;
}

int
vxm_cli_fail_arg(VxmCli *cli, const GError *error)
{
  if (g_error_matches(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT))
    return vxm_cli_usage_error(cli, "%s", error->message);
  return vxm_cli_fail(cli, error);
}

int
vxm_cli_usage_error(VxmCli *cli, const char *format, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  g_printerr("vxm %s: %s\nTry 'vxm %s --help'.\n", cli->command, msg, cli->command);
  return VXM_EXIT_USAGE;
}

void
vxm_cli_print_outcome_json(const char *key, const char *value, const char *state, GPtrArray *done)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autoptr(JsonNode) node = NULL;

  json_builder_begin_object(b);
  json_builder_set_member_name(b, key);
  json_builder_add_string_value(b, value);
  json_builder_set_member_name(b, "state");
  json_builder_add_string_value(b, state);
  json_builder_set_member_name(b, "done");
  json_builder_begin_array(b);
  for (guint i = 0; done != NULL && i < done->len; i++)
    json_builder_add_string_value(b, g_ptr_array_index(done, i));
  json_builder_end_array(b);
  json_builder_end_object(b);
  node = json_builder_get_root(b);
  vxm_cli_print_json(node);
}

void
vxm_cli_print_json(JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new();
  g_autofree char *text = NULL;

  json_generator_set_pretty(gen, TRUE);
  json_generator_set_indent(gen, 2);
  json_generator_set_root(gen, node);
  text = json_generator_to_data(gen, NULL);
  g_print("%s\n", text);
}

char *
vxm_cli_colored(VxmCli *cli, const char *sgr, const char *text)
{
  if (!cli->color)
    return g_strdup(text);
  return g_strdup_printf("\033[%sm%s\033[0m", sgr, text);
}

VxmVmPaths *
vxm_cli_vm_paths(VxmCli *cli, const char *name, GError **error)
{
  g_autofree char *chosen = NULL;

  if (name == NULL) {
    chosen = vxm_vm_default_name(error);
    if (chosen == NULL)
      return NULL;
    name = chosen;
  }
  (void)cli;
  return vxm_vm_paths_new(name, error);
}
