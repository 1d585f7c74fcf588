/* vxm-supervisor-plan: the plain data a supervisor runs. */
#include "supervisor/vxm-supervisor-plan.h"

#include <string.h>

#include "common/vxm-error.h"

VxmSupervisorPlan *
vxm_supervisor_plan_new(const char *vm_name, GError **error)
{
  g_autoptr(VxmSupervisorPlan) plan = g_new0(VxmSupervisorPlan, 1);

  plan->paths = vxm_vm_paths_new(vm_name, error);
  if (plan->paths == NULL)
    return NULL;
  plan->shutdown_timeout_s = 60;
  return g_steal_pointer(&plan);
}

void
vxm_supervisor_plan_free(VxmSupervisorPlan *plan)
{
  if (plan == NULL)
    return;
  g_clear_pointer(&plan->paths, vxm_vm_paths_free);
  g_free(plan->gpu_address);
  g_strfreev(plan->qemu_argv);
  g_strfreev(plan->qemu_envp);
  g_strfreev(plan->swtpm_argv);
  g_strfreev(plan->swtpm_envp);
  g_free(plan);
}

GStrv
vxm_supervisor_plan_child_environ(void)
{
  static const char *const keep[] = {
      "HOME", "USER", "LANG", "LC_ALL", "XDG_RUNTIME_DIR", "TMPDIR", "VXM_TEST_ARGV_LOG"};
  g_auto(GStrv) env = g_get_environ();
  g_autoptr(GStrvBuilder) out = g_strv_builder_new();

  for (guint i = 0; env[i] != NULL; i++) {
    gboolean pass = g_str_has_prefix(env[i], "VXM_QEMU_SIM_");

    for (guint k = 0; !pass && k < G_N_ELEMENTS(keep); k++) {
      gsize n = strlen(keep[k]);

      pass = strncmp(env[i], keep[k], n) == 0 && env[i][n] == '=';
    }
    if (pass)
      g_strv_builder_add(out, env[i]);
  }
  return g_strv_builder_end(out);
}

static void
add_strv(JsonObject *obj, const char *member, GStrv strv)
{
  JsonArray *array;

  if (strv == NULL) {
    json_object_set_null_member(obj, member);
    return;
  }
  array = json_array_new();
  for (guint i = 0; strv[i] != NULL; i++)
    json_array_add_string_element(array, strv[i]);
  json_object_set_array_member(obj, member, array);
}

static GStrv
get_strv(JsonObject *obj, const char *member)
{
  JsonNode *node = json_object_get_member(obj, member);
  g_autoptr(GStrvBuilder) b = NULL;
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY(node))
    return NULL;
  array = json_node_get_array(node);
  b = g_strv_builder_new();
  for (guint i = 0; i < json_array_get_length(array); i++) {
    const char *s = json_array_get_string_element(array, i);

    if (s != NULL)
      g_strv_builder_add(b, s);
  }
  return g_strv_builder_end(b);
}

JsonNode *
vxm_supervisor_plan_to_json(const VxmSupervisorPlan *plan)
{
  JsonObject *obj = json_object_new();

  json_object_set_string_member(obj, "name", plan->paths->name);
  if (plan->gpu_address != NULL)
    json_object_set_string_member(obj, "gpu", plan->gpu_address);
  else
    json_object_set_null_member(obj, "gpu");
  json_object_set_int_member(obj, "unbind_timeout_ms", plan->unbind_timeout_ms);
  json_object_set_boolean_member(obj, "keep_bound", plan->keep_bound);
  add_strv(obj, "qemu_argv", plan->qemu_argv);
  add_strv(obj, "qemu_envp", plan->qemu_envp);
  add_strv(obj, "swtpm_argv", plan->swtpm_argv);
  add_strv(obj, "swtpm_envp", plan->swtpm_envp);
  json_object_set_int_member(obj, "shutdown_timeout_s", plan->shutdown_timeout_s);
  json_object_set_int_member(obj, "qmp_timeout_ms", plan->qmp_timeout_ms);
  json_object_set_int_member(obj, "quit_timeout_ms", plan->quit_timeout_ms);
  return json_node_init_object(json_node_alloc(), obj);
}

VxmSupervisorPlan *
vxm_supervisor_plan_from_json(JsonNode *node, GError **error)
{
  g_autoptr(VxmSupervisorPlan) plan = NULL;
  JsonObject *obj;
  const char *name;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "a supervisor plan is a JSON object");
    return NULL;
  }
  obj = json_node_get_object(node);
  name = json_object_get_string_member_with_default(obj, "name", NULL);
  if (name == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "supervisor plan without a VM name");
    return NULL;
  }
  if (!vxm_vm_name_validate(name, -1, error)) {
    g_prefix_error(error, "supervisor plan: ");
    return NULL;
  }
  plan = vxm_supervisor_plan_new(name, error);
  if (plan == NULL)
    return NULL;
  plan->gpu_address = g_strdup(json_object_get_string_member_with_default(obj, "gpu", NULL));
  plan->unbind_timeout_ms =
      (guint)json_object_get_int_member_with_default(obj, "unbind_timeout_ms", 0);
  plan->keep_bound = json_object_get_boolean_member_with_default(obj, "keep_bound", FALSE);
  plan->qemu_argv = get_strv(obj, "qemu_argv");
  plan->qemu_envp = get_strv(obj, "qemu_envp");
  plan->swtpm_argv = get_strv(obj, "swtpm_argv");
  plan->swtpm_envp = get_strv(obj, "swtpm_envp");
  plan->shutdown_timeout_s =
      (guint)json_object_get_int_member_with_default(obj, "shutdown_timeout_s", 60);
  plan->qmp_timeout_ms = (guint)json_object_get_int_member_with_default(obj, "qmp_timeout_ms", 0);
  plan->quit_timeout_ms = (guint)json_object_get_int_member_with_default(obj, "quit_timeout_ms", 0);
  if (plan->qemu_argv == NULL || plan->qemu_argv[0] == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "supervisor plan of VM %s has no QEMU argv",
                name);
    return NULL;
  }
  return g_steal_pointer(&plan);
}
