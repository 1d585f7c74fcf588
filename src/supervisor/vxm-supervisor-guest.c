/* vxm-supervisor-guest: while the guest runs: keyboards, mice and [usb] devices watched for
 * unplug and replug (their nodes granted again), and the monitors switched to the guest's
 * input and back (DDC/CI, in a worker thread). */
#include "supervisor/vxm-supervisor-private.h"
#include "usb/vxm-usb-device.h"
#include "vm/vxm-vm-config.h"

/* ---- input hotplug (issue 7): the watcher runs while the guest does ---- */

/* A replugged keyboard's or USB device's node to QEMU's user (journaled by the ops). */
static gboolean
regrant_node(const char *host_path, gpointer user_data, GError **error)
{
  VxmSupervisor *self = user_data;
  const char *nodes[] = {host_path, NULL};
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
  gboolean ok =
      vxm_host_ops_grant_devices(self->ops, self->plan->paths->name, nodes, report, error);

  for (guint i = 0; i < report->len; i++)
    vxm_sv_log(self, "  %s", (const char *)g_ptr_array_index(report, i));
  self->held[VXM_SV_RESOURCE_DEVICES] = TRUE;
  return ok;
}

static void
on_input_changed(VxmInputWatch *watch, const char *id, const char *what, const char *message,
                 gpointer user_data)
{
  VxmSupervisor *self = user_data;
  g_autoptr(JsonObject) event = json_object_new();

  (void)watch;
  vxm_sv_log(self, "input %s: %s: %s", id, what, message);
  json_object_set_string_member(event, "event", "input");
  json_object_set_string_member(event, "id", id);
  json_object_set_string_member(event, "what", what);
  json_object_set_string_member(event, "message", message);
  vxm_sv_emit_progress(self, event);
  vxm_sv_write_state_file(self); /* the inputs' state */
}

void
vxm_sv_start_input_watch(VxmSupervisor *self)
{
  g_autoptr(GError) error = NULL;

  if ((self->plan->input_objects->len == 0 && self->plan->input_pending->len == 0) ||
      self->input_watch != NULL || self->qmp == NULL)
    return;
  self->input_watch = vxm_input_watch_new(self->hostfs, self->qmp, self->plan->input_objects,
                                          self->plan->input_pending, &error);
  if (self->input_watch == NULL) {
    /* the guest has its devices; only a replugged one would stay out */
    vxm_sv_log(self, "keyboards and mice are not watched for replug: %s", error->message);
    return;
  }
  vxm_input_watch_set_grant_func(self->input_watch, regrant_node, self, NULL);
  g_signal_connect(self->input_watch, "changed", G_CALLBACK(on_input_changed), self);
  vxm_sv_log(self, "watching %u input device(s) for unplug and replug, %u not plugged in yet",
             self->plan->input_objects->len, self->plan->input_pending->len);
}

void
vxm_sv_stop_input_watch(VxmSupervisor *self)
{
  if (self->input_watch == NULL)
    return;
  g_signal_handlers_disconnect_by_data(self->input_watch, self);
  g_clear_object(&self->input_watch);
}

/* ---- [usb] devices: device_add when plugged in, device_del when gone ---- */

static void
on_usb_changed(VxmUsbWatch *watch, const char *id, const char *what, const char *message,
               gpointer user_data)
{
  VxmSupervisor *self = user_data;
  g_autoptr(JsonObject) event = json_object_new();

  (void)watch;
  vxm_sv_log(self, "usb %s: %s: %s", id, what, message);
  json_object_set_string_member(event, "event", "usb");
  json_object_set_string_member(event, "id", id);
  json_object_set_string_member(event, "what", what);
  json_object_set_string_member(event, "message", message);
  vxm_sv_emit_progress(self, event);
  vxm_sv_write_state_file(self);
}

void
vxm_sv_start_usb_watch(VxmSupervisor *self)
{
  g_autoptr(GError) error = NULL;
  guint pending = 0;

  if (self->plan->usb_devices->len == 0 || self->usb_watch != NULL || self->qmp == NULL)
    return;
  self->usb_watch = vxm_usb_watch_new(self->hostfs, self->qmp, self->plan->usb_devices, &error);
  if (self->usb_watch == NULL) {
    vxm_sv_log(self, "USB devices are not watched for plugging: %s", error->message);
    return;
  }
  vxm_usb_watch_set_grant_func(self->usb_watch, regrant_node, self, NULL);
  g_signal_connect(self->usb_watch, "changed", G_CALLBACK(on_usb_changed), self);
  for (guint i = 0; i < self->plan->usb_devices->len; i++)
    pending += ((VxmUsbPassthrough *)g_ptr_array_index(self->plan->usb_devices, i))->node == NULL;
  vxm_sv_log(self, "watching %u USB device(s) for plugging, %u not plugged in yet",
             self->plan->usb_devices->len, pending);
}

void
vxm_sv_stop_usb_watch(VxmSupervisor *self)
{
  if (self->usb_watch == NULL)
    return;
  g_signal_handlers_disconnect_by_data(self->usb_watch, self);
  g_clear_object(&self->usb_watch);
}

/* ---- the monitor (issue 6): guest input once the guest runs, host input at teardown ---- */

gboolean
vxm_sv_wants_monitor(VxmSupervisor *self)
{
  return self->plan->monitors->len > 0;
}

void
vxm_sv_monitor_state_free(MonitorState *state)
{
  g_free(state->since);
  g_free(state->error);
  g_free(state);
}

MonitorState *
vxm_sv_monitor_state(VxmSupervisor *self, guint i)
{
  while (self->monitor_states->len <= i)
    g_ptr_array_add(self->monitor_states, g_new0(MonitorState, 1));
  return g_ptr_array_index(self->monitor_states, i);
}

typedef struct {
  gboolean to_guest;
  GPtrArray *report;
  GArray *which;     /* guint: the monitors this job switches (plan->monitors indexes) */
  GPtrArray *errors; /* char*, one per @which: NULL when that monitor switched */
} MonitorJob;

static void
monitor_job_free(MonitorJob *job)
{
  g_ptr_array_unref(job->report);
  g_array_unref(job->which);
  g_ptr_array_unref(job->errors);
  g_free(job);
}

/* Each monitor in turn, each on its own: one that does not answer does not keep the others. */
static void
monitor_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  VxmSupervisor *self = source;
  MonitorJob *job = task_data;

  (void)cancellable;
  for (guint i = 0; i < job->which->len; i++) {
    const VxmVmMonitorSwitch *sw =
        g_ptr_array_index(self->plan->monitors, g_array_index(job->which, guint, i));
    g_autoptr(GError) error = NULL;

    if (!vxm_host_ops_switch_monitor(self->ops, self->plan->paths->name, sw->spec,
                                     self->plan->gpu_address,
                                     job->to_guest ? sw->guest_input : sw->host_input,
                                     sw->host_input, job->to_guest, job->report, &error))
      g_ptr_array_add(job->errors, g_strdup_printf("%s: %s", sw->spec, error->message));
    else
      g_ptr_array_add(job->errors, NULL);
  }
  g_task_return_boolean(task, TRUE);
}

static gboolean
any_monitor_on_guest(VxmSupervisor *self)
{
  for (guint i = 0; i < self->monitor_states->len; i++)
    if (((MonitorState *)g_ptr_array_index(self->monitor_states, i))->on_guest)
      return TRUE;
  return FALSE;
}

static void
on_monitor_switched(GObject *source, GAsyncResult *result, gpointer user_data)
{
  VxmSupervisor *self = VXM_SUPERVISOR(source);
  MonitorJob *job = g_task_get_task_data(G_TASK(result));
  const char *step = job->to_guest ? "switch-monitor" : "switch-monitor-back";
  g_autoptr(GString) failures = g_string_new(NULL);
  g_autofree char *now = vxm_sv_now_iso();

  (void)user_data;
  /* each monitor's outcome is in the job: the task itself always succeeds */
  g_assert_true(g_task_propagate_boolean(G_TASK(result), NULL));
  self->monitor_busy = FALSE;
  for (guint i = 0; i < job->report->len; i++)
    vxm_sv_log(self, "  %s", (const char *)g_ptr_array_index(job->report, i));
  for (guint i = 0; i < job->which->len; i++) {
    MonitorState *state = vxm_sv_monitor_state(self, g_array_index(job->which, guint, i));
    const char *error = g_ptr_array_index(job->errors, i);

    g_free(state->error);
    state->error = g_strdup(error);
    if (error != NULL) {
      g_string_append_printf(failures, "%s%s", failures->len > 0 ? "; " : "", error);
      continue;
    }
    state->on_guest = job->to_guest;
    g_free(state->since);
    state->since = g_strdup(now);
  }
  self->monitor_switched = any_monitor_on_guest(self);
  /* DDC/CI is a convenience: the guest runs (or the host is restored) without it */
  if (failures->len > 0)
    vxm_sv_step_end(self, step, "failed", failures->str);
  else
    vxm_sv_step_end(self, step, "ok",
                    job->report->len > 0 ? g_ptr_array_index(job->report, job->report->len - 1)
                                         : NULL);
  if (job->to_guest && self->monitor_switched && (self->stop_requested || self->tearing_down) &&
      !self->restore_waiting) {
    /* the switch to the guest ended after the stop began (QEMU still going): back now */
    vxm_sv_switch_monitor(self, FALSE);
  } else if (self->restore_waiting) {
    self->restore_waiting = FALSE;
    vxm_sv_restore_host(self);
  }
}

/* Switches the monitors in a worker thread (DDC/CI waits tens of milliseconds per command):
 * to the guest inputs once the guest runs, back to the host's (those vxm put on the guest) as
 * soon as a stop begins (the user sees the host while the guest shuts down). A switch asked
 * while another runs is decided when that one ends (on_monitor_switched). */
void
vxm_sv_switch_monitor(VxmSupervisor *self, gboolean to_guest)
{
  g_autoptr(GTask) task = NULL;
  MonitorJob *job;

  if (!vxm_sv_wants_monitor(self) || self->monitor_busy)
    return;
  job = g_new0(MonitorJob, 1);
  job->to_guest = to_guest;
  job->report = g_ptr_array_new_with_free_func(g_free);
  job->which = g_array_new(FALSE, FALSE, sizeof(guint));
  job->errors = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < self->plan->monitors->len; i++)
    if (to_guest || vxm_sv_monitor_state(self, i)->on_guest)
      g_array_append_val(job->which, i);
  task = g_task_new(self, NULL, on_monitor_switched, NULL);
  self->monitor_busy = TRUE;
  g_task_set_task_data(task, job, (GDestroyNotify)monitor_job_free);
  vxm_sv_step_begin(self, job->to_guest ? "switch-monitor" : "switch-monitor-back");
  g_task_run_in_thread(task, monitor_thread);
}
