/* vxm recover: after a crash or kill -9, undo every journal whose vxm process is gone. */
#include <unistd.h>

#include "journal/vxm-journal.h"
#include "vxm-cli.h"

typedef struct {
  char *journal;
  const char *action; /* "restored", "left", "failed" */
  char *why;
  GPtrArray *lines;
} Outcome;

static void
outcome_free(Outcome *o)
{
  g_free(o->journal);
  g_free(o->why);
  g_ptr_array_unref(o->lines);
  g_free(o);
}

static Outcome *
outcome_new(const char *journal, const char *action)
{
  Outcome *o = g_new0(Outcome, 1);

  o->journal = g_strdup(journal);
  o->action = action;
  o->lines = g_ptr_array_new_with_free_func(g_free);
  return o;
}

/* One journal through the host's ops: left (BUSY: its process runs, or it holds a GPU by
 * hand) or failed, with the reason. */
static Outcome *
recover_one(VxmHostOps *ops, const char *name)
{
  g_autoptr(GError) error = NULL;
  Outcome *o = outcome_new(name, "restored");

  if (!vxm_host_ops_recover(ops, name, o->lines, &error)) {
    o->action = g_error_matches(error, VXM_ERROR, VXM_ERROR_BUSY) ? "left" : "failed";
    o->why = g_strdup(error->message);
  }
  return o;
}

/* The journals to recover: @name's, or every one of this user's (root: everyone's). */
static GPtrArray *
journal_names(VxmHostOps *ops, const char *name, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(JsonNode) list = vxm_host_ops_list_journals(ops, error);
  JsonArray *array;

  if (list == NULL)
    return NULL;
  array = json_node_get_array(list);
  for (guint i = 0; i < json_array_get_length(array); i++) {
    JsonObject *j = json_array_get_object_element(array, i);
    const char *shown = j != NULL ? json_object_get_string_member_with_default(j, "name", "") : "";

    /* through vxmd a user asks for their own: vxmd names each journal's user */
    if (name == NULL && geteuid() != 0 &&
        json_object_get_int_member_with_default(j, "uid", -1) != (gint64)getuid())
      continue;
    if (name == NULL || g_strcmp0(shown, name) == 0)
      g_ptr_array_add(names, g_strdup(shown));
  }
  /* vxmd answers for a name it does not list (another user's VM: refused, with the reason) */
  if (name != NULL && names->len == 0 && geteuid() != 0)
    g_ptr_array_add(names, g_strdup(name));
  return g_steal_pointer(&names);
}

/* A name is a VM's when it has a config, or a journal left (a VM removed while its host
 * changes were still recorded): anything else is a typo, not "nothing to recover". */
static gboolean
known_name(VxmHostOps *ops, const char *name, GError **error)
{
  g_autoptr(VxmVmPaths) paths = vxm_vm_paths_new(name, error);
  g_autoptr(JsonNode) list = NULL;
  JsonArray *array;

  if (paths == NULL)
    return FALSE;
  if (g_file_test(paths->config_file, G_FILE_TEST_EXISTS))
    return TRUE;
  list = vxm_host_ops_list_journals(ops, NULL);
  array = list != NULL && JSON_NODE_HOLDS_ARRAY(list) ? json_node_get_array(list) : NULL;
  for (guint i = 0; array != NULL && i < json_array_get_length(array); i++) {
    JsonObject *j = json_array_get_object_element(array, i);

    if (j != NULL &&
        g_strcmp0(json_object_get_string_member_with_default(j, "name", ""), name) == 0)
      return TRUE;
  }
  return vxm_vm_paths_check_exists(paths, error);
}

int
vxm_cli_cmd_recover(VxmCli *cli, int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print what was done as JSON", NULL},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(VxmHostOps) ops = NULL;
  g_autoptr(GPtrArray) outcomes = g_ptr_array_new_with_free_func((GDestroyNotify)outcome_free);
  gboolean failed = FALSE;
  guint restored = 0;
  VxmHostfs *hostfs;

  if (!vxm_cli_parse(
          cli, &argc, &argv, entries, "[NAME]",
          "Give back everything a crashed or killed vxm left changed on the host "
          "(the GPU's devices and their drivers, hugepages, the Looking Glass file, device "
          "node owners, the monitor's input).\nNAME limits it to one VM's (or one "
          "manual-ADDR) journal."))
    return VXM_EXIT_USAGE;
  if (argc > 2)
    return vxm_cli_usage_error(cli, "give at most one name");
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL)
    return vxm_cli_fail(cli, error);
  if (argc == 2 && !vxm_journal_check_name(argv[1], &error))
    return vxm_cli_fail_arg(cli, error);
  ops = vxm_cli_get_host_ops(cli, hostfs, &error);
  if (ops == NULL)
    return vxm_cli_fail(cli, error);
  if (argc == 2 && !g_str_has_prefix(argv[1], "manual-") && !known_name(ops, argv[1], &error))
    return vxm_cli_fail(cli, error);
  names = journal_names(ops, argc == 2 ? argv[1] : NULL, &error);
  if (names == NULL)
    return vxm_cli_fail(cli, error);
  for (guint i = 0; i < names->len; i++) {
    Outcome *o = recover_one(ops, g_ptr_array_index(names, i));

    failed = failed || g_str_equal(o->action, "failed");
    restored += g_str_equal(o->action, "restored");
    g_ptr_array_add(outcomes, o);
  }

  if (json) {
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) node = NULL;

    json_builder_begin_array(b);
    for (guint i = 0; i < outcomes->len; i++) {
      Outcome *o = g_ptr_array_index(outcomes, i);

      json_builder_begin_object(b);
      json_builder_set_member_name(b, "journal");
      json_builder_add_string_value(b, o->journal);
      json_builder_set_member_name(b, "action");
      json_builder_add_string_value(b, o->action);
      json_builder_set_member_name(b, "why");
      if (o->why != NULL)
        json_builder_add_string_value(b, o->why);
      else
        json_builder_add_null_value(b);
      json_builder_set_member_name(b, "done");
      json_builder_begin_array(b);
      for (guint k = 0; k < o->lines->len; k++)
        json_builder_add_string_value(b, g_ptr_array_index(o->lines, k));
      json_builder_end_array(b);
      json_builder_end_object(b);
    }
    json_builder_end_array(b);
    node = json_builder_get_root(b);
    vxm_cli_print_json(node);
    return failed ? VXM_EXIT_FAILURE : VXM_EXIT_OK;
  }

  for (guint i = 0; i < outcomes->len; i++) {
    Outcome *o = g_ptr_array_index(outcomes, i);

    if (g_str_equal(o->action, "failed")) {
      for (guint k = 0; k < o->lines->len; k++)
        g_print("%s: %s\n", o->journal, (char *)g_ptr_array_index(o->lines, k));
      g_printerr("vxm recover: %s: %s\n", o->journal, o->why);
      continue;
    }
    if (cli->quiet)
      continue;
    if (g_str_equal(o->action, "left")) {
      g_print("%s: left alone (%s)\n", o->journal, o->why);
      continue;
    }
    for (guint k = 0; k < o->lines->len; k++)
      g_print("%s: %s\n", o->journal, (char *)g_ptr_array_index(o->lines, k));
    if (o->lines->len == 0)
      g_print("%s: nothing had changed; journal cleared\n", o->journal);
  }
  if (restored == 0 && !failed && !cli->quiet)
    g_print("nothing to recover\n");
  return failed ? VXM_EXIT_FAILURE : VXM_EXIT_OK;
}
