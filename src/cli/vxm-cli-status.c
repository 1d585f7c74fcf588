/* vxm status: for now the binding part: where every device of the guest GPU(s) is bound and
 * why, and the journals on the host. (The supervisor issue adds the VM's state.) */
#include "journal/vxm-journal.h"
#include "pci/vxm-vfio.h"
#include "vxm-cli.h"

static JsonNode *
journals_json(VxmHostfs *hostfs, GError **error)
{
  g_autoptr(GPtrArray) names = vxm_journal_list(hostfs, error);
  g_autoptr(JsonBuilder) b = json_builder_new();
  static const char *const statuses[] = {"running", "orphaned", "held"};

  if (names == NULL)
    return NULL;
  json_builder_begin_array(b);
  for (guint i = 0; i < names->len; i++) {
    g_autoptr(GError) local = NULL;
    g_autoptr(VxmJournal) journal = vxm_journal_load(hostfs, g_ptr_array_index(names, i), &local);
    const VxmJournalOwner *owner;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, g_ptr_array_index(names, i));
    if (journal == NULL) {
      json_builder_set_member_name(b, "status");
      json_builder_add_string_value(b, "corrupt");
      json_builder_set_member_name(b, "error");
      json_builder_add_string_value(b, local->message);
      json_builder_end_object(b);
      continue;
    }
    owner = vxm_journal_get_owner(journal);
    json_builder_set_member_name(b, "status");
    json_builder_add_string_value(b, statuses[vxm_journal_get_owner_status(journal)]);
    json_builder_set_member_name(b, "pid");
    if (owner != NULL)
      json_builder_add_int_value(b, owner->pid);
    else
      json_builder_add_null_value(b);
    json_builder_set_member_name(b, "held");
    if (vxm_journal_get_held(journal) != NULL)
      json_builder_add_string_value(b, vxm_journal_get_held(journal));
    else
      json_builder_add_null_value(b);
    json_builder_set_member_name(b, "entries");
    json_builder_add_int_value(b, vxm_journal_get_n_entries(journal));
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  return json_builder_get_root(b);
}

int
vxm_cli_cmd_status(VxmCli *cli, int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON object", NULL},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) gpus = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonNode) journals = NULL;
  VxmHostfs *hostfs;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, "[NAME|ADDR]",
                     "Show where every device of the guest GPU is bound, and why."))
    return VXM_EXIT_USAGE;
  if (argc > 2)
    return vxm_cli_usage_error(cli, "give at most one VM name or PCI address");
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL)
    return vxm_cli_fail(cli, error);
  if (argc == 2) {
    VxmCliTarget target = {0};

    if (!vxm_cli_resolve_target(cli, hostfs, argv[1], &target, &error))
      return vxm_cli_fail(cli, error);
    gpus = g_ptr_array_new_with_free_func(g_object_unref);
    g_ptr_array_add(gpus, g_object_ref(target.gpu));
    vxm_cli_target_clear(&target);
  } else {
    g_autoptr(GPtrArray) all = vxm_gpu_list(hostfs, &error);

    if (all == NULL)
      return vxm_cli_fail(cli, error);
    gpus = g_ptr_array_new_with_free_func(g_object_unref);
    for (guint i = 0; i < all->len; i++) {
      VxmGpu *gpu = g_ptr_array_index(all, i);

      /* the host's own GPU is not vxm's business; a GPU without IOMMU group has no binding */
      if (vxm_gpu_get_role(gpu) != VXM_GPU_ROLE_HOST && vxm_gpu_get_iommu_groups(gpu)->len > 0)
        g_ptr_array_add(gpus, g_object_ref(gpu));
    }
  }

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "gpus");
  json_builder_begin_array(b);
  for (guint i = 0; i < gpus->len; i++) {
    VxmGpu *gpu = g_ptr_array_index(gpus, i);
    JsonNode *devices = vxm_vfio_binding_status(hostfs, gpu, &error);

    if (devices == NULL)
      return vxm_cli_fail(cli, error);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "address");
    json_builder_add_string_value(b, vxm_gpu_get_address(gpu));
    json_builder_set_member_name(b, "devices");
    json_builder_add_value(b, devices);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  journals = journals_json(hostfs, &error);
  if (journals == NULL)
    return vxm_cli_fail(cli, error);
  json_builder_set_member_name(b, "journals");
  json_builder_add_value(b, json_node_copy(journals));
  json_builder_end_object(b);
  root = json_builder_get_root(b);

  if (json) {
    vxm_cli_print_json(root);
    return VXM_EXIT_OK;
  }
  {
    JsonArray *list = json_object_get_array_member(json_node_get_object(root), "gpus");
    JsonArray *js = json_node_get_array(journals);

    if (json_array_get_length(list) == 0)
      g_print("no GPU that could go to a guest\n");
    for (guint i = 0; i < json_array_get_length(list); i++) {
      JsonObject *gpu = json_array_get_object_element(list, i);
      JsonArray *devs = json_object_get_array_member(gpu, "devices");

      g_print("GPU %s\n", json_object_get_string_member(gpu, "address"));
      for (guint k = 0; k < json_array_get_length(devs); k++) {
        JsonObject *d = json_array_get_object_element(devs, k);
        const char *driver = json_object_get_string_member_with_default(d, "driver", NULL);

        g_print("  %s  %-14s %s\n", json_object_get_string_member(d, "address"),
                driver != NULL ? driver : "-", json_object_get_string_member(d, "reason"));
      }
    }
    for (guint i = 0; i < json_array_get_length(js); i++) {
      JsonObject *j = json_array_get_object_element(js, i);

      g_print("journal %s: %s\n", json_object_get_string_member(j, "name"),
              json_object_get_string_member(j, "status"));
    }
  }
  return VXM_EXIT_OK;
}
