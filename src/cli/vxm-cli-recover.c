/* vxm recover: after a crash or kill -9, undo every journal whose vxm process is gone. */
#include <unistd.h>

#include "journal/vxm-journal.h"
#include "ops/vxm-host-ops-vxmd.h"
#include "ops/vxm-journal-kinds.h"
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

static Outcome *
recover_one(VxmHostfs *hostfs, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmJournal) journal = vxm_journal_load(hostfs, name, &error);
  VxmJournalUndoContext ctx = {.hostfs = hostfs};
  Outcome *o;

  if (journal == NULL) {
    o = outcome_new(name, "failed");
    o->why = g_strdup(error->message);
    return o;
  }
  switch (vxm_journal_get_owner_status(journal)) {
  case VXM_JOURNAL_OWNER_ALIVE:
    o = outcome_new(name, "left");
    o->why = g_strdup_printf("its vxm (pid %" G_GINT64_FORMAT ") still runs",
                             vxm_journal_get_owner(journal)->pid);
    return o;
  case VXM_JOURNAL_OWNER_HELD:
    o = outcome_new(name, "left");
    o->why = g_strdup_printf("%s: vxm reattach gives it back", vxm_journal_get_held(journal));
    return o;
  case VXM_JOURNAL_OWNER_GONE:
  default: break;
  }
  o = outcome_new(name, "restored");
  if (!vxm_journal_claim(journal, &error) || !vxm_journal_undo(journal, &ctx, o->lines, &error)) {
    o->action = "failed";
    o->why = g_strdup(error->message);
  }
  return o;
}

/* Without root, vxmd keeps the journals: it recovers this user's VMs whose vxm is gone. */
static GPtrArray *
recover_through_vxmd(VxmHostOpsVxmd *ops, const char *name, GError **error)
{
  g_autoptr(GPtrArray) outcomes = g_ptr_array_new_with_free_func((GDestroyNotify)outcome_free);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

  if (name != NULL) {
    g_ptr_array_add(names, g_strdup(name));
  } else {
    g_autoptr(JsonNode) list = vxm_host_ops_vxmd_list_journals(ops, error);
    JsonArray *array;

    if (list == NULL)
      return NULL;
    array = json_node_get_array(list);
    for (guint i = 0; i < json_array_get_length(array); i++) {
      JsonObject *j = json_array_get_object_element(array, i);

      if (j != NULL && json_object_get_int_member_with_default(j, "uid", -1) == (gint64)getuid())
        g_ptr_array_add(names, g_strdup(json_object_get_string_member_with_default(j, "name", "")));
    }
  }
  for (guint i = 0; i < names->len; i++) {
    g_autoptr(GError) local = NULL;
    Outcome *o = outcome_new(names->pdata[i], "restored");

    if (!vxm_host_ops_vxmd_recover(ops, names->pdata[i], o->lines, &local)) {
      o->action = g_error_matches(local, VXM_ERROR, VXM_ERROR_BUSY) ? "left" : "failed";
      o->why = g_strdup(local->message);
    }
    g_ptr_array_add(outcomes, o);
  }
  return g_steal_pointer(&outcomes);
}

/* A name is a VM's when it has a config, or a journal left (a VM removed while its host
 * changes were still recorded): anything else is a typo, not "nothing to recover". */
static gboolean
known_name(VxmHostfs *hostfs, VxmHostOps *ops, const char *name, GError **error)
{
  g_autoptr(VxmVmPaths) paths = vxm_vm_paths_new(name, error);

  if (paths == NULL)
    return FALSE;
  if (g_file_test(paths->config_file, G_FILE_TEST_EXISTS))
    return TRUE;
  if (VXM_IS_HOST_OPS_VXMD(ops)) {
    g_autoptr(JsonNode) list = vxm_host_ops_vxmd_list_journals(VXM_HOST_OPS_VXMD(ops), NULL);
    JsonArray *array =
        list != NULL && JSON_NODE_HOLDS_ARRAY(list) ? json_node_get_array(list) : NULL;

    for (guint i = 0; array != NULL && i < json_array_get_length(array); i++) {
      JsonObject *j = json_array_get_object_element(array, i);

      if (j != NULL &&
          g_strcmp0(json_object_get_string_member_with_default(j, "name", ""), name) == 0)
        return TRUE;
    }
  } else if (vxm_journal_exists(hostfs, name)) {
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
  vxm_journal_register_all_kinds();
  if (argc == 2 && !g_str_has_prefix(argv[1], "manual-") &&
      !known_name(hostfs, ops, argv[1], &error))
    return vxm_cli_fail(cli, error);
  if (VXM_IS_HOST_OPS_VXMD(ops)) {
    g_autoptr(GPtrArray) done =
        recover_through_vxmd(VXM_HOST_OPS_VXMD(ops), argc == 2 ? argv[1] : NULL, &error);

    if (done == NULL)
      return vxm_cli_fail(cli, error);
    for (guint i = 0; i < done->len; i++) {
      Outcome *o = g_ptr_array_index(done, i);

      failed = failed || g_str_equal(o->action, "failed");
      restored += g_str_equal(o->action, "restored");
    }
    g_ptr_array_extend_and_steal(outcomes, g_steal_pointer(&done));
  } else if (argc == 2) {
    names = g_ptr_array_new_with_free_func(g_free);
    if (vxm_journal_exists(hostfs, argv[1]))
      g_ptr_array_add(names, g_strdup(argv[1]));
  } else {
    names = vxm_journal_list(hostfs, &error);
    if (names == NULL)
      return vxm_cli_fail(cli, error);
  }
  for (guint i = 0; names != NULL && i < names->len; i++) {
    Outcome *o = recover_one(hostfs, g_ptr_array_index(names, i));

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
