/* vxm-supervisor-status: the status object of `vxm status` and the state file (see
 * docs/status-json.md). */
#include <unistd.h>

#include "cpu/vxm-cpu-pinning.h"
#include "input/vxm-input-object.h"
#include "supervisor/vxm-supervisor-private.h"
#include "usb/vxm-usb-device.h"
#include "vm/vxm-vm-config.h"

static void
add_pid(JsonBuilder *b, const char *member, GPid pid)
{
  json_builder_set_member_name(b, member);
  if (pid > 0)
    json_builder_add_int_value(b, pid);
  else
    json_builder_add_null_value(b);
}

static void
add_string(JsonBuilder *b, const char *member, const char *value)
{
  json_builder_set_member_name(b, member);
  if (value != NULL)
    json_builder_add_string_value(b, value);
  else
    json_builder_add_null_value(b);
}
/* "inhibitor": the logind lock that keeps the host from sleeping, null for inhibit = none:
 * {"what": "sleep"|"sleep:idle", "held": bool, "since": ISO 8601 or null, "asking": bool (the
 * request is under way), "error": why it is not held, or null}. */
static void
add_inhibitor(VxmSupervisor *self, JsonBuilder *b)
{
  json_builder_set_member_name(b, "inhibitor");
  if (self->plan->inhibit == NULL) {
    json_builder_add_null_value(b);
    return;
  }
  json_builder_begin_object(b);
  add_string(b, "what", self->plan->inhibit);
  json_builder_set_member_name(b, "held");
  json_builder_add_boolean_value(b, self->inhibit_fd >= 0);
  add_string(b, "since", self->inhibit_fd >= 0 ? self->inhibit_since : NULL);
  json_builder_set_member_name(b, "asking");
  json_builder_add_boolean_value(b, self->inhibit_asking);
  add_string(b, "error", self->inhibit_error);
  json_builder_end_object(b);
}

/* One monitor's status: {"spec", "input": "guest"|"host"|null (null: not switched yet),
 * "input_name", "since": ISO 8601 or null, "error": why its last switch failed, or null}. */
static void
add_one_monitor(VxmSupervisor *self, JsonBuilder *b, guint i)
{
  const VxmVmMonitorSwitch *sw = g_ptr_array_index(self->plan->monitors, i);
  MonitorState *state = vxm_sv_monitor_state(self, i);
  g_autofree char *input_name = NULL;

  if (state->since != NULL)
    input_name = vxm_vm_monitor_input_to_string(state->on_guest ? sw->guest_input : sw->host_input);
  add_string(b, "spec", sw->spec);
  add_string(b, "input", state->since == NULL ? NULL : state->on_guest ? "guest" : "host");
  add_string(b, "input_name", input_name);
  add_string(b, "since", state->since);
  add_string(b, "error", state->error);
  json_builder_set_member_name(b, "switching");
  json_builder_add_boolean_value(b, self->monitor_busy);
}

/* "monitors": every monitor this VM switches (add_one_monitor), [] when none; "monitor": the
 * first of them, or null (what one-monitor scripts read). */
static void
add_monitor(VxmSupervisor *self, JsonBuilder *b)
{
  json_builder_set_member_name(b, "monitor");
  if (!vxm_sv_wants_monitor(self)) {
    json_builder_add_null_value(b);
  } else {
    json_builder_begin_object(b);
    add_one_monitor(self, b, 0);
    json_builder_end_object(b);
  }
  json_builder_set_member_name(b, "monitors");
  json_builder_begin_array(b);
  for (guint i = 0; i < self->plan->monitors->len; i++) {
    json_builder_begin_object(b);
    add_one_monitor(self, b, i);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
}

/* Issue 5/7 for `vxm status`: hugepages, memlock, pinning, the nodes and inputs QEMU has. */
static void
add_resources(VxmSupervisor *self, JsonBuilder *b)
{
  const VxmSupervisorPlan *plan = self->plan;

  json_builder_set_member_name(b, "hugepages");
  if (plan->hugepage_size == 0 || plan->hugepage_count == 0) {
    json_builder_add_null_value(b);
  } else {
    /* what auto took once reserved, else what the plan has */
    gboolean alt = vxm_sv_took_alternative_hugepages(self);
    guint64 size = alt ? plan->hugepage_alt_size : plan->hugepage_size;
    gint node = alt ? plan->hugepage_alt_node : plan->hugepage_node;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "page_size");
    json_builder_add_int_value(b, (gint64)size);
    json_builder_set_member_name(b, "count");
    json_builder_add_int_value(b, (gint64)(plan->hugepage_size * plan->hugepage_count / size));
    json_builder_set_member_name(b, "node");
    if (node >= 0)
      json_builder_add_int_value(b, node);
    else
      json_builder_add_null_value(b);
    json_builder_set_member_name(b, "held");
    json_builder_add_boolean_value(b, self->hugepages_held);
    json_builder_set_member_name(b, "fell_back");
    json_builder_add_boolean_value(b, self->hugepages_fell_back);
    json_builder_end_object(b);
  }
  json_builder_set_member_name(b, "memlock");
  if (plan->memlock_bytes == 0) {
    json_builder_add_null_value(b);
  } else {
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "bytes");
    json_builder_add_int_value(b, (gint64)plan->memlock_bytes);
    json_builder_set_member_name(b, "raised");
    json_builder_add_boolean_value(b, self->memlock_raised);
    add_string(b, "warning", self->memlock_warning);
    json_builder_end_object(b);
  }
  json_builder_set_member_name(b, "pinning");
  if (plan->pinning == NULL) {
    json_builder_add_null_value(b);
  } else {
    g_autoptr(JsonNode) node = vxm_cpu_pinning_plan_to_json(plan->pinning);
    JsonObject *obj = json_node_get_object(node);
    JsonArray *threads = json_array_new();

    json_object_set_boolean_member(obj, "applied", self->pinned);
    for (guint i = 0; self->vcpu_threads != NULL && i < self->vcpu_threads->len; i++)
      json_array_add_int_element(threads, g_array_index(self->vcpu_threads, gint, i));
    json_object_set_array_member(obj, "vcpu_threads", threads);
    json_builder_add_value(b, g_steal_pointer(&node));
  }
  json_builder_set_member_name(b, "granted_nodes");
  json_builder_begin_array(b);
  for (guint i = 0; i < self->granted_nodes->len; i++)
    json_builder_add_string_value(b, g_ptr_array_index(self->granted_nodes, i));
  json_builder_end_array(b);
  json_builder_set_member_name(b, "inputs");
  json_builder_begin_array(b);
  for (guint i = 0; i < plan->input_objects->len + plan->input_pending->len; i++) {
    gboolean pending = i >= plan->input_objects->len;
    const VxmInputObject *o =
        pending ? g_ptr_array_index(plan->input_pending, i - plan->input_objects->len)
                : g_ptr_array_index(plan->input_objects, i);
    const char *state = NULL, *evdev = o->evdev, *message = NULL;
    gboolean watched =
        self->input_watch != NULL &&
        vxm_input_watch_get_state(self->input_watch, o->id, &state, &evdev, &message);

    /* the watcher runs while the guest does; an object it does not watch is QEMU's till the
     * end, one planned for later never joins */
    if (self->input_watch != NULL && !watched)
      state = pending ? "waiting" : "attached";
    json_builder_begin_object(b);
    add_string(b, "id", o->id);
    add_string(b, "kind", o->kind == VXM_HOST_INPUT_KEYBOARD ? "keyboard" : "mouse");
    add_string(b, "evdev", evdev);
    add_string(b, "state", state);
    json_builder_set_member_name(b, "watched");
    json_builder_add_boolean_value(b, watched);
    add_string(b, "message", message);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "usb");
  json_builder_begin_array(b);
  for (guint i = 0; i < plan->usb_devices->len; i++) {
    const VxmUsbPassthrough *d = g_ptr_array_index(plan->usb_devices, i);
    const char *state = d->node != NULL ? "attached" : "waiting", *node = d->node;
    const char *message = NULL;
    g_autofree char *ids = g_strdup_printf("%04x:%04x", d->vendor, d->product);

    if (self->usb_watch != NULL)
      vxm_usb_watch_get_state(self->usb_watch, d->id, &state, &node, &message);
    json_builder_begin_object(b);
    add_string(b, "id", d->id);
    add_string(b, "usb_id", ids);
    add_string(b, "description", d->description);
    add_string(b, "node", node);
    add_string(b, "state", state);
    add_string(b, "message", message);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
}

JsonNode *
vxm_supervisor_to_json(VxmSupervisor *self)
{
  const VxmVmPaths *paths = self->plan->paths;
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autofree char *updated = vxm_sv_now_iso();
  g_autofree char *serial = g_build_filename(paths->state_dir, "serial.log", NULL);
  g_autoptr(JsonNode) steps = json_node_init_array(json_node_alloc(), self->steps);

  json_builder_begin_object(b);
  add_string(b, "name", paths->name);
  add_string(b, "state", vxm_vm_state_to_string(self->state));
  add_string(b, "reason", self->failure);
  add_pid(b, "supervisor_pid", vxm_vm_state_is_final(self->state) ? 0 : getpid());
  add_pid(b, "qemu_pid", vxm_supervisor_get_qemu_pid(self));
  add_pid(b, "swtpm_pid", vxm_supervisor_get_swtpm_pid(self));
  add_string(b, "run_state", self->run_state);
  add_string(b, "gpu", self->plan->gpu_address);
  add_string(b, "host_ops", vxm_host_ops_describe(self->ops));
  add_resources(self, b);
  add_monitor(self, b);
  add_inhibitor(self, b);
  json_builder_set_member_name(b, "steps");
  json_builder_add_value(b, json_node_copy(steps));
  json_builder_set_member_name(b, "restored");
  json_builder_begin_array(b);
  for (guint i = 0; i < self->restored->len; i++)
    json_builder_add_string_value(b, g_ptr_array_index(self->restored, i));
  json_builder_end_array(b);
  json_builder_set_member_name(b, "logs");
  json_builder_begin_object(b);
  add_string(b, "vxm", paths->vxm_log);
  add_string(b, "qemu", paths->qemu_log);
  add_string(b, "swtpm", self->plan->swtpm_argv != NULL ? paths->swtpm_log : NULL);
  add_string(b, "serial", serial);
  json_builder_end_object(b);
  add_string(b, "started", self->started);
  add_string(b, "updated", updated);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
