/* vxm-supervisor-plan: the plain data a supervisor runs. */
#include "plan/vxm-supervisor-plan.h"

#include <string.h>

#include "common/vxm-error.h"
#include "input/vxm-input-object.h"
#include "plan/vxm-supervisor-plan-private.h"
#include "usb/vxm-usb-device.h"

VxmSupervisorPlan *
vxm_supervisor_plan_new(const char *vm_name, GError **error)
{
  g_autoptr(VxmSupervisorPlan) plan = g_new0(VxmSupervisorPlan, 1);

  plan->paths = vxm_vm_paths_new(vm_name, error);
  if (plan->paths == NULL)
    return NULL;
  plan->shutdown_timeout_s = 60;
  plan->hugepage_node = -1;
  plan->hugepage_alt_node = -1;
  plan->hugepages_drop_caches = TRUE;
  plan->hugepages_compact = TRUE;
  plan->input_objects = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_input_object_free);
  plan->input_pending = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_input_object_free);
  plan->monitors = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_vm_monitor_switch_free);
  plan->usb_devices = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_usb_passthrough_free);
  return g_steal_pointer(&plan);
}

void
vxm_supervisor_plan_free(VxmSupervisorPlan *plan)
{
  if (plan == NULL)
    return;
  g_clear_pointer(&plan->paths, vxm_vm_paths_free);
  g_free(plan->gpu_address);
  g_clear_pointer(&plan->monitors, g_ptr_array_unref);
  g_free(plan->inhibit);
  g_strfreev(plan->qemu_argv);
  g_strfreev(plan->qemu_envp);
  g_strfreev(plan->swtpm_argv);
  g_strfreev(plan->swtpm_envp);
  g_free(plan->host_root);
  g_strfreev(plan->qemu_argv_fallback);
  g_strfreev(plan->qemu_argv_alt);
  g_clear_pointer(&plan->pinning, vxm_cpu_pinning_plan_free);
  g_strfreev(plan->vfio_nodes);
  g_strfreev(plan->extra_devices);
  g_strfreev(plan->input_nodes);
  g_clear_pointer(&plan->input_objects, g_ptr_array_unref);
  g_clear_pointer(&plan->input_pending, g_ptr_array_unref);
  g_clear_pointer(&plan->usb_devices, g_ptr_array_unref);
  g_free(plan);
}

GStrv
vxm_supervisor_plan_child_environ(void)
{
  static const char *const keep[] = {
      "HOME", "USER", "LANG", "LC_ALL", "XDG_RUNTIME_DIR", "TMPDIR", VXM_TEST_SEAM_ARGV_LOG};
  g_auto(GStrv) env = g_get_environ();
  g_autoptr(GStrvBuilder) out = g_strv_builder_new();

  for (guint i = 0; env[i] != NULL; i++) {
    gboolean pass = g_str_has_prefix(env[i], VXM_TEST_SEAM_QEMU_SIM_);

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

static void
add_objects(JsonObject *obj, const char *member, GPtrArray *objects)
{
  JsonArray *array = json_array_new();

  for (guint i = 0; i < objects->len; i++)
    json_array_add_object_element(array, vxm_input_object_to_json(objects->pdata[i]));
  json_object_set_array_member(obj, member, array);
}

static gboolean
get_objects(JsonObject *obj, const char *member, GPtrArray *out, GError **error)
{
  JsonArray *array;

  if (!json_object_has_member(obj, member) ||
      !JSON_NODE_HOLDS_ARRAY(json_object_get_member(obj, member)))
    return TRUE;
  array = json_object_get_array_member(obj, member);
  for (guint i = 0; i < json_array_get_length(array); i++) {
    JsonNode *element = json_array_get_element(array, i);
    VxmInputObject *o = JSON_NODE_HOLDS_OBJECT(element)
                            ? vxm_input_object_from_json(json_node_get_object(element))
                            : NULL;

    if (o == NULL) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "%s %u has no id or evdev", member, i);
      return FALSE;
    }
    g_ptr_array_add(out, o);
  }
  return TRUE;
}

JsonArray *
vxm_supervisor_plan_monitors_to_json(const GPtrArray *monitors)
{
  JsonArray *out = json_array_new();

  for (guint i = 0; i < monitors->len; i++) {
    const VxmVmMonitorSwitch *sw = g_ptr_array_index(monitors, i);
    JsonObject *m = json_object_new();
    g_autofree char *host = vxm_vm_monitor_input_to_string(sw->host_input);
    g_autofree char *guest = vxm_vm_monitor_input_to_string(sw->guest_input);

    json_object_set_string_member(m, "monitor", sw->spec);
    json_object_set_int_member(m, "host_input", sw->host_input);
    json_object_set_int_member(m, "guest_input", sw->guest_input);
    json_object_set_string_member(m, "host_input_name", host);
    json_object_set_string_member(m, "guest_input_name", guest);
    json_array_add_object_element(out, m);
  }
  return out;
}

static gboolean
get_monitors(JsonObject *obj, GPtrArray *out, GError **error)
{
  JsonArray *array;

  if (!json_object_has_member(obj, "monitors"))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY(json_object_get_member(obj, "monitors"))) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "monitors is not an array");
    return FALSE;
  }
  array = json_object_get_array_member(obj, "monitors");
  for (guint i = 0; i < json_array_get_length(array); i++) {
    JsonNode *node = json_array_get_element(array, i);
    JsonObject *m;
    VxmVmMonitorSwitch *sw;
    gint64 host, guest;

    if (!JSON_NODE_HOLDS_OBJECT(node)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "monitors[%u] is not an object", i);
      return FALSE;
    }
    m = json_node_get_object(node);
    host = json_object_get_int_member_with_default(m, "host_input", 0);
    guest = json_object_get_int_member_with_default(m, "guest_input", 0);
    if (json_object_get_string_member_with_default(m, "monitor", NULL) == NULL || host <= 0 ||
        host > 0xffff || guest <= 0 || guest > 0xffff) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                  "monitors[%u] needs a monitor and both inputs", i);
      return FALSE;
    }
    sw = g_new0(VxmVmMonitorSwitch, 1);
    sw->spec = g_strdup(json_object_get_string_member(m, "monitor"));
    sw->host_input = (guint)host;
    sw->guest_input = (guint)guest;
    g_ptr_array_add(out, sw);
  }
  return TRUE;
}

JsonNode *
vxm_supervisor_plan_to_json(const VxmSupervisorPlan *plan)
{
  JsonObject *obj = json_object_new();
  JsonNode *node;

  json_object_set_string_member(obj, "name", plan->paths->name);
  if (plan->gpu_address != NULL)
    json_object_set_string_member(obj, "gpu", plan->gpu_address);
  else
    json_object_set_null_member(obj, "gpu");
  json_object_set_int_member(obj, "unbind_timeout_ms", plan->unbind_timeout_ms);
  json_object_set_boolean_member(obj, "keep_bound", plan->keep_bound);
  add_strv(obj, "extra_devices", plan->extra_devices);
  add_strv(obj, "qemu_argv", plan->qemu_argv);
  add_strv(obj, "qemu_envp", plan->qemu_envp);
  add_strv(obj, "swtpm_argv", plan->swtpm_argv);
  add_strv(obj, "swtpm_envp", plan->swtpm_envp);
  json_object_set_int_member(obj, "shutdown_timeout_s", plan->shutdown_timeout_s);
  json_object_set_int_member(obj, "qmp_timeout_ms", plan->qmp_timeout_ms);
  json_object_set_int_member(obj, "quit_timeout_ms", plan->quit_timeout_ms);
  json_object_set_array_member(obj, "monitors",
                               vxm_supervisor_plan_monitors_to_json(plan->monitors));
  if (plan->inhibit != NULL)
    json_object_set_string_member(obj, "inhibit", plan->inhibit);
  else
    json_object_set_null_member(obj, "inhibit");
  if (plan->host_root != NULL)
    json_object_set_string_member(obj, "host_root", plan->host_root);
  else
    json_object_set_null_member(obj, "host_root");
  {
    JsonObject *hp = json_object_new();

    json_object_set_int_member(hp, "page_size", (gint64)plan->hugepage_size);
    json_object_set_int_member(hp, "count", (gint64)plan->hugepage_count);
    json_object_set_int_member(hp, "node", plan->hugepage_node);
    json_object_set_boolean_member(hp, "fallback", plan->hugepages_fallback);
    json_object_set_boolean_member(hp, "drop_caches", plan->hugepages_drop_caches);
    json_object_set_boolean_member(hp, "compact", plan->hugepages_compact);
    json_object_set_boolean_member(hp, "auto", plan->hugepages_auto);
    json_object_set_int_member(hp, "alt_page_size", (gint64)plan->hugepage_alt_size);
    json_object_set_int_member(hp, "alt_node", plan->hugepage_alt_node);
    json_object_set_object_member(obj, "hugepages", hp);
  }
  add_strv(obj, "qemu_argv_fallback", plan->qemu_argv_fallback);
  add_strv(obj, "qemu_argv_alt", plan->qemu_argv_alt);
  json_object_set_int_member(obj, "memlock_bytes", (gint64)plan->memlock_bytes);
  if (plan->pinning != NULL)
    json_object_set_member(obj, "pinning", vxm_cpu_pinning_plan_to_json(plan->pinning));
  else
    json_object_set_null_member(obj, "pinning");
  add_strv(obj, "vfio_nodes", plan->vfio_nodes);
  add_strv(obj, "input_nodes", plan->input_nodes);
  add_objects(obj, "input_objects", plan->input_objects);
  add_objects(obj, "input_pending", plan->input_pending);
  {
    JsonArray *usb = json_array_new();

    for (guint i = 0; i < plan->usb_devices->len; i++)
      json_array_add_object_element(usb, vxm_usb_passthrough_to_json(plan->usb_devices->pdata[i]));
    json_object_set_array_member(obj, "usb_devices", usb);
  }
  json_object_set_int_member(obj, "looking_glass_bytes", (gint64)plan->looking_glass_bytes);
  /* the node takes the only reference: json_node_init_object() would add one */
  node = json_node_new(JSON_NODE_OBJECT);
  json_node_take_object(node, obj);
  return node;
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
  plan->extra_devices = get_strv(obj, "extra_devices");
  plan->qemu_argv = get_strv(obj, "qemu_argv");
  plan->qemu_envp = get_strv(obj, "qemu_envp");
  plan->swtpm_argv = get_strv(obj, "swtpm_argv");
  plan->swtpm_envp = get_strv(obj, "swtpm_envp");
  plan->shutdown_timeout_s =
      (guint)json_object_get_int_member_with_default(obj, "shutdown_timeout_s", 60);
  plan->qmp_timeout_ms = (guint)json_object_get_int_member_with_default(obj, "qmp_timeout_ms", 0);
  plan->quit_timeout_ms = (guint)json_object_get_int_member_with_default(obj, "quit_timeout_ms", 0);
  if (!get_monitors(obj, plan->monitors, error)) {
    g_prefix_error(error, "supervisor plan of VM %s: ", name);
    return NULL;
  }
  plan->inhibit = g_strdup(json_object_get_string_member_with_default(obj, "inhibit", NULL));
  plan->host_root = g_strdup(json_object_get_string_member_with_default(obj, "host_root", NULL));
  if (json_object_has_member(obj, "hugepages") &&
      JSON_NODE_HOLDS_OBJECT(json_object_get_member(obj, "hugepages"))) {
    JsonObject *hp = json_object_get_object_member(obj, "hugepages");
    gint64 size = json_object_get_int_member_with_default(hp, "page_size", 0);
    gint64 count = json_object_get_int_member_with_default(hp, "count", 0);

    if (size < 0 || count < 0) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                  "supervisor plan of VM %s: negative hugepage size or count", name);
      return NULL;
    }
    plan->hugepage_size = (guint64)size;
    plan->hugepage_count = (guint64)count;
    plan->hugepage_node =
        (gint)CLAMP(json_object_get_int_member_with_default(hp, "node", -1), -1, 1023);
    plan->hugepages_fallback = json_object_get_boolean_member_with_default(hp, "fallback", FALSE);
    plan->hugepages_drop_caches =
        json_object_get_boolean_member_with_default(hp, "drop_caches", TRUE);
    plan->hugepages_compact = json_object_get_boolean_member_with_default(hp, "compact", TRUE);
    plan->hugepages_auto = json_object_get_boolean_member_with_default(hp, "auto", FALSE);
    size = json_object_get_int_member_with_default(hp, "alt_page_size", 0);
    plan->hugepage_alt_size = size > 0 ? (guint64)size : 0;
    plan->hugepage_alt_node =
        (gint)CLAMP(json_object_get_int_member_with_default(hp, "alt_node", -1), -1, 1023);
  }
  plan->qemu_argv_fallback = get_strv(obj, "qemu_argv_fallback");
  plan->qemu_argv_alt = get_strv(obj, "qemu_argv_alt");
  plan->memlock_bytes =
      (guint64)MAX(0, json_object_get_int_member_with_default(obj, "memlock_bytes", 0));
  if (json_object_has_member(obj, "pinning") && !json_object_get_null_member(obj, "pinning")) {
    plan->pinning = vxm_cpu_pinning_plan_from_json(json_object_get_member(obj, "pinning"), error);
    if (plan->pinning == NULL) {
      g_prefix_error(error, "supervisor plan of VM %s: ", name);
      return NULL;
    }
  }
  plan->vfio_nodes = get_strv(obj, "vfio_nodes");
  plan->input_nodes = get_strv(obj, "input_nodes");
  if (!get_objects(obj, "input_objects", plan->input_objects, error) ||
      !get_objects(obj, "input_pending", plan->input_pending, error)) {
    g_prefix_error(error, "supervisor plan of VM %s: ", name);
    return NULL;
  }
  if (json_object_has_member(obj, "usb_devices") &&
      JSON_NODE_HOLDS_ARRAY(json_object_get_member(obj, "usb_devices"))) {
    JsonArray *usb = json_object_get_array_member(obj, "usb_devices");

    for (guint i = 0; i < json_array_get_length(usb); i++) {
      JsonNode *element = json_array_get_element(usb, i);
      VxmUsbPassthrough *d = JSON_NODE_HOLDS_OBJECT(element)
                                 ? vxm_usb_passthrough_from_json(json_node_get_object(element))
                                 : NULL;

      if (d == NULL) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                    "supervisor plan of VM %s: usb_devices %u has no vendor or product", name, i);
        return NULL;
      }
      g_ptr_array_add(plan->usb_devices, d);
    }
  }
  plan->looking_glass_bytes =
      (guint64)MAX(0, json_object_get_int_member_with_default(obj, "looking_glass_bytes", 0));
  if (plan->qemu_argv == NULL || plan->qemu_argv[0] == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "supervisor plan of VM %s has no QEMU argv",
                name);
    return NULL;
  }
  return g_steal_pointer(&plan);
}
