/* vxm-supervisor: the VM's state machine (preparing, starting, running, stopping, restoring,
 * stopped or failed), its log and progress, the start, the stop and the teardown. See the header
 * for the choreography and vxm-supervisor-private.h for the files that do each part. */
#include "supervisor/vxm-supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "supervisor/vxm-logind-inhibitor.h"
#include "supervisor/vxm-supervisor-private.h"
#include "supervisor/vxm-supervisor-steps.h"
#include "vm/vxm-vm-lock.h"

enum { SIGNAL_PROGRESS, SIGNAL_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE(VxmSupervisor, vxm_supervisor, G_TYPE_OBJECT)

/* ---- log, progress, state ---- */

void
vxm_sv_log(VxmSupervisor *self, const char *format, ...)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local();
  g_autofree char *stamp = g_date_time_format(now, "%F %T.%f");
  g_autofree char *message = NULL;
  g_autofree char *line = NULL;
  va_list args;

  va_start(args, format);
  message = g_strdup_vprintf(format, args);
  va_end(args);
  stamp[strlen(stamp) - 3] = '\0'; /* milliseconds */
  line = g_strdup_printf("%s %s\n", stamp, message);
  vxm_debug_timing("supervisor: %s", message);
  if (self->log_fd >= 0 && write(self->log_fd, line, strlen(line)) < 0)
    g_debug("cannot write vxm.log: %s", g_strerror(errno));
  g_debug("%s", message);
}

void
vxm_sv_emit_progress(VxmSupervisor *self, JsonObject *event)
{
  g_signal_emit(self, signals[SIGNAL_PROGRESS], 0, event);
}

char *
vxm_sv_now_iso(void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc();

  return g_date_time_format_iso8601(now);
}

void
vxm_sv_write_state_file(VxmSupervisor *self)
{
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) status = NULL;
  g_autoptr(GError) error = NULL;

  /* only the supervisor holding the lock speaks for the VM (a refused second start must not
   * overwrite the running one's file) */
  if (self->lock_fd < 0)
    return;
  path = vxm_supervisor_state_file(self->plan->paths);
  status = vxm_supervisor_to_json(self);
  if (!vxm_vm_state_file_write(path, status, &error))
    vxm_sv_log(self, "cannot write the state file: %s", error->message);
}

void
vxm_sv_set_state(VxmSupervisor *self, VxmVmState state)
{
  g_autoptr(JsonObject) event = json_object_new();

  if (self->state == state)
    return;
  self->state = state;
  if (state == VXM_VM_STATE_FAILED)
    vxm_sv_log(self, "state: failed: %s", self->failure);
  else
    vxm_sv_log(self, "state: %s", vxm_vm_state_to_string(state));
  vxm_sv_write_state_file(self);
  json_object_set_string_member(event, "event", "state");
  json_object_set_string_member(event, "state", vxm_vm_state_to_string(state));
  if (state == VXM_VM_STATE_FAILED && self->failure != NULL)
    json_object_set_string_member(event, "reason", self->failure);
  vxm_sv_emit_progress(self, event);
}

/* The first failure is the reason; later ones are only logged. */
void
vxm_sv_set_failure(VxmSupervisor *self, const char *message)
{
  if (self->failure == NULL)
    self->failure = g_strdup(message);
  else
    vxm_sv_log(self, "also: %s", message);
}

void
vxm_sv_step_begin(VxmSupervisor *self, const char *step)
{
  g_autoptr(JsonObject) event = json_object_new();

  /* every step has its label (vxm-supervisor-steps.c): people read labels, not ids */
  g_warn_if_fail(vxm_supervisor_step_label(step) != NULL);
  g_hash_table_insert(self->step_started, g_strdup(step),
                      g_memdup2(&(gint64){g_get_monotonic_time()}, sizeof(gint64)));
  vxm_sv_log(self, "%s: started", step);
  json_object_set_string_member(event, "event", "step");
  json_object_set_string_member(event, "step", step);
  json_object_set_string_member(event, "status", "started");
  vxm_sv_emit_progress(self, event);
}

/* @status: "ok", "failed", "skipped". */
void
vxm_sv_step_end(VxmSupervisor *self, const char *step, const char *status, const char *message)
{
  g_autoptr(JsonObject) event = json_object_new();
  gint64 *t0 = g_hash_table_lookup(self->step_started, step);
  gint64 ms = t0 != NULL ? (g_get_monotonic_time() - *t0) / 1000 : 0;
  JsonObject *record;

  g_warn_if_fail(vxm_supervisor_step_label(step) != NULL);
  vxm_sv_log(self, "%s: %s (%" G_GINT64_FORMAT " ms)%s%s", step, status, ms, message ? ": " : "",
             message ? message : "");
  json_object_set_string_member(event, "event", "step");
  json_object_set_string_member(event, "step", step);
  json_object_set_string_member(event, "status", status);
  json_object_set_int_member(event, "ms", ms);
  if (message != NULL)
    json_object_set_string_member(event, "message", message);
  record = json_object_new();
  json_object_set_string_member(record, "step", step);
  json_object_set_string_member(record, "status", status);
  json_object_set_int_member(record, "ms", ms);
  if (message != NULL)
    json_object_set_string_member(record, "message", message);
  json_array_add_object_element(self->steps, record);
  vxm_sv_emit_progress(self, event);
}

/* ---- messages about children ---- */

/* The last non-empty line of @path, NULL when there is none. */
static char *
last_log_line(const char *path)
{
  g_autofree char *text = NULL;
  gsize length = 0;
  g_auto(GStrv) lines = NULL;

  if (path == NULL || !g_file_get_contents(path, &text, &length, NULL))
    return NULL;
  lines = g_strsplit(text, "\n", -1);
  for (guint i = g_strv_length(lines); i-- > 0;) {
    g_strstrip(lines[i]);
    if (lines[i][0] != '\0')
      return g_strdup(lines[i]);
  }
  return NULL;
}

/* "QEMU exited with status 1 at start: read ~/.local/state/vxm/win11/qemu.log (last line: ...)" */
char *
vxm_sv_describe_exit(VxmProcess *process, const char *who, const char *when)
{
  const char *log = vxm_process_get_log_path(process);
  g_autofree char *shown = log != NULL ? vxm_vm_paths_display(log) : NULL;
  g_autofree char *last = last_log_line(log);
  g_autofree char *how = NULL;

  if (vxm_process_get_term_signal(process) != 0)
    how = g_strdup_printf("was killed by signal %d (%s)", vxm_process_get_term_signal(process),
                          g_strsignal(vxm_process_get_term_signal(process)));
  else
    how = g_strdup_printf("exited with status %d", vxm_process_get_exit_status(process));
  if (shown == NULL)
    return g_strdup_printf("%s %s %s", who, how, when);
  if (last == NULL)
    return g_strdup_printf("%s %s %s: read %s", who, how, when, shown);
  return g_strdup_printf("%s %s %s: read %s (last line: %s)", who, how, when, shown, last);
}

/* ---- the parallel preparation ---- */

void
vxm_sv_prepared_one(VxmSupervisor *self)
{
  g_assert(self->pending > 0);
  if (--self->pending > 0)
    return;
  if (self->failure != NULL || self->stop_requested) {
    vxm_sv_teardown(self);
    return;
  }
  vxm_sv_raise_memlock(self);
}

/* ---- stopping ---- */

void
vxm_supervisor_stop(VxmSupervisor *self, gboolean force, gint timeout_s)
{
  guint limit_s = timeout_s >= 0 ? (guint)timeout_s : self->plan->shutdown_timeout_s;

  g_return_if_fail(VXM_IS_SUPERVISOR(self));
  vxm_sv_log(self, "stop requested%s", force ? " (forced)" : "");
  self->stop_requested = TRUE;
  switch (self->state) {
  case VXM_VM_STATE_PREPARING:
    /* the parallel steps finish, then vxm_sv_teardown (vxm_sv_prepared_one) */
    g_cancellable_cancel(self->cancellable);
    return;
  case VXM_VM_STATE_STARTING:
    /* the guest has not run: nothing to shut down gracefully */
    vxm_sv_send_quit(self);
    return;
  case VXM_VM_STATE_RUNNING: break;
  case VXM_VM_STATE_STOPPING:
    if (force)
      vxm_sv_send_quit(self);
    return;
  case VXM_VM_STATE_RESTORING:
  case VXM_VM_STATE_STOPPED:
  case VXM_VM_STATE_FAILED: return;
  }
  vxm_sv_set_state(self, VXM_VM_STATE_STOPPING);
  if (self->monitor_switched)
    vxm_sv_switch_monitor(self, FALSE);
  self->shutdown_step = TRUE;
  vxm_sv_step_begin(self, "shutdown-guest");
  if (force || limit_s == 0 || self->qmp == NULL || !vxm_qmp_client_is_ready(self->qmp)) {
    vxm_sv_send_quit(self);
    return;
  }
  vxm_sv_powerdown(self, limit_s);
}

static gboolean
on_signal(gpointer user_data)
{
  VxmSupervisor *self = user_data;

  self->signals_received++;
  vxm_sv_log(self, "signal received: stopping the guest%s",
             self->signals_received > 1 ? " now (second signal)" : "");
  vxm_supervisor_stop(self, self->signals_received > 1, -1);
  return G_SOURCE_CONTINUE;
}

void
vxm_supervisor_handle_signals(VxmSupervisor *self)
{
  static const int signums[] = {SIGTERM, SIGINT, SIGHUP};

  for (guint i = 0; i < G_N_ELEMENTS(signums); i++) {
    if (self->signal_sources[i] == 0)
      self->signal_sources[i] = g_unix_signal_add(signums[i], on_signal, self);
  }
}

/* ---- the logind inhibitor (issue 17) ---- */

static void
release_inhibitor(VxmSupervisor *self)
{
  if (self->inhibit_fd < 0)
    return;
  /* closing the fd is the release: logind sees it go */
  close(self->inhibit_fd);
  self->inhibit_fd = -1;
  vxm_sv_log(self, "released the logind inhibitor lock (%s)", self->plan->inhibit);
}

static gboolean
finished(VxmSupervisor *self)
{
  return self->state == VXM_VM_STATE_STOPPED || self->state == VXM_VM_STATE_FAILED;
}

static void
on_inhibited(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VxmSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  int fd = vxm_logind_inhibit_finish(result, &error);

  (void)source;
  self->inhibit_asking = FALSE;
  if (fd < 0) {
    /* the VM runs without it: said in the start's output and in vxm status */
    self->inhibit_error = g_strdup_printf(
        "%s; the host may suspend while the VM runs, and the guest GPU would not survive it",
        error->message);
    vxm_sv_step_end(self, "inhibit-sleep", "skipped", self->inhibit_error);
    return;
  }
  if (finished(self)) {
    close(fd); /* the run ended while logind answered */
    vxm_sv_step_end(self, "inhibit-sleep", "skipped", "the VM had already stopped");
    return;
  }
  self->inhibit_fd = fd;
  self->inhibit_since = vxm_sv_now_iso();
  {
    g_autofree char *message =
        g_strdup_printf("logind blocks %s while the VM runs", self->plan->inhibit);

    vxm_sv_step_end(self, "inhibit-sleep", "ok", message);
  }
}

/* Asks logind for the lock; the start goes on meanwhile (it never waits on logind). */
static void
take_inhibitor(VxmSupervisor *self)
{
  g_autofree char *why = NULL;

  if (self->plan->inhibit == NULL)
    return;
  why = g_strdup_printf("VM %s runs with a passed-through GPU, which a host suspend would leave "
                        "unusable to the guest",
                        self->plan->paths->name);
  self->inhibit_asking = TRUE;
  vxm_sv_step_begin(self, "inhibit-sleep");
  vxm_logind_inhibit_async(self->plan->inhibit, "vxm", why, NULL, on_inhibited, g_object_ref(self));
}

/* ---- restoring ---- */

void
vxm_sv_teardown_one_done(VxmSupervisor *self)
{
  g_assert(self->teardown_pending > 0);
  if (--self->teardown_pending > 0)
    return;
  unlink(self->plan->paths->qmp_socket);
  unlink(self->plan->paths->swtpm_socket);
  /* the host is whole again: it may sleep */
  release_inhibitor(self);
  /* the state file is written before the lock goes: a new start may take it right after */
  vxm_sv_set_state(self, self->failure != NULL ? VXM_VM_STATE_FAILED : VXM_VM_STATE_STOPPED);
  if (self->lock_fd >= 0) {
    close(self->lock_fd);
    self->lock_fd = -1;
  }
  if (self->gpu_lock_fd >= 0) {
    close(self->gpu_lock_fd);
    self->gpu_lock_fd = -1;
  }
  g_signal_emit(self, signals[SIGNAL_FINISHED], 0);
}

/* Once QEMU is gone (or never ran): everything given back, in parallel branches. */
void
vxm_sv_restore_host(VxmSupervisor *self)
{
  vxm_sv_set_state(self, VXM_VM_STATE_RESTORING);
  self->teardown_pending = 2; /* this function's own share, released at the end */
  vxm_sv_restore_resources(self);
  vxm_sv_stop_swtpm(self);
  vxm_sv_teardown_one_done(self);
}

static void
on_qemu_gone(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VxmSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!vxm_process_wait_finish(VXM_PROCESS(source), result, &error))
    vxm_sv_log(self, "waiting for QEMU: %s", error->message);
  if (self->monitor_busy) {
    /* the journal's undo would switch the monitor a second time under it */
    self->restore_waiting = TRUE;
    return;
  }
  vxm_sv_restore_host(self);
}

void
vxm_sv_teardown(VxmSupervisor *self)
{
  if (self->tearing_down)
    return;
  self->tearing_down = TRUE;
  g_cancellable_cancel(self->cancellable);
  g_clear_handle_id(&self->powerdown_source, g_source_remove);
  vxm_sv_stop_input_watch(self);
  vxm_sv_stop_usb_watch(self);
  if (self->qemu != NULL && !vxm_process_has_exited(self->qemu)) {
    /* the monitor back to the host while QEMU goes (a QEMU that is already gone leaves it to
     * the journal's undo in vxm_sv_restore_host) */
    if (self->monitor_switched)
      vxm_sv_switch_monitor(self, FALSE);
    /* the devices can only go back once QEMU has let go of them */
    vxm_sv_set_state(self, VXM_VM_STATE_STOPPING);
    self->quit_sent = FALSE;
    vxm_sv_send_quit(self);
    vxm_process_wait_async(self->qemu, NULL, on_qemu_gone, g_object_ref(self));
    return;
  }
  if (self->monitor_busy) {
    /* a monitor switch still runs: the restore (and the journal's undo) waits for it */
    self->restore_waiting = TRUE;
    return;
  }
  vxm_sv_restore_host(self);
}

/* ---- start ---- */

static void
fail_early(VxmSupervisor *self, const char *step, GError *error)
{
  vxm_sv_step_end(self, step, "failed", error->message);
  vxm_sv_set_failure(self, error->message);
  self->tearing_down = TRUE;
  vxm_sv_set_state(self, VXM_VM_STATE_FAILED);
  g_signal_emit(self, signals[SIGNAL_FINISHED], 0);
}

void
vxm_supervisor_start(VxmSupervisor *self)
{
  const VxmVmPaths *paths = self->plan->paths;
  g_autoptr(GError) error = NULL;

  g_return_if_fail(VXM_IS_SUPERVISOR(self));
  g_return_if_fail(self->started == NULL);
  self->started = vxm_sv_now_iso();
  if (g_mkdir_with_parents(paths->state_dir, 0700) == 0)
    self->log_fd = open(paths->vxm_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  vxm_sv_log(self, "starting VM %s (supervisor pid %d, %s)", paths->name, (int)getpid(),
             vxm_host_ops_describe(self->ops));
  {
    g_autoptr(JsonObject) event = json_object_new();

    json_object_set_string_member(event, "event", "state");
    json_object_set_string_member(event, "state", "preparing");
    vxm_sv_emit_progress(self, event);
  }

  vxm_sv_step_begin(self, "lock");
  if (!vxm_sv_prepare_dirs(self, &error) || !vxm_sv_check_gpu_conflict(self, &error)) {
    fail_early(self, "lock", error);
    return;
  }
  self->lock_fd = vxm_vm_lock_acquire(paths, &error);
  if (self->lock_fd < 0) {
    fail_early(self, "lock", error);
    return;
  }
  /* closes the race of two VMs with this GPU that both passed the check above; after the
   * VM's own lock, so a second start of this VM is refused as such */
  if (self->plan->gpu_address != NULL) {
    self->gpu_lock_fd = vxm_gpu_lock_acquire(paths, self->plan->gpu_address, &error);
    if (self->gpu_lock_fd < 0) {
      fail_early(self, "lock", error);
      return;
    }
  }
  vxm_sv_step_end(self, "lock", "ok", NULL);
  vxm_sv_write_state_file(self);
  /* we hold the lock: sockets left by a dead run are stale */
  unlink(paths->qmp_socket);
  unlink(paths->swtpm_socket);

  take_inhibitor(self);
  self->pending = 1; /* this function's own share, released below */
  /* in parallel: worker threads, each a branch of self->pending */
  vxm_sv_prepare_resources(self);
  if (self->plan->swtpm_argv != NULL) {
    self->pending++;
    vxm_sv_start_swtpm(self);
  }
  vxm_sv_prepared_one(self);
}

/* ---- accessors ---- */

VxmVmState
vxm_supervisor_get_state(VxmSupervisor *self)
{
  return self->state;
}

const char *
vxm_supervisor_get_failure(VxmSupervisor *self)
{
  return self->failure;
}

const char *
vxm_supervisor_get_run_state(VxmSupervisor *self)
{
  return self->run_state;
}

VxmQmpClient *
vxm_supervisor_get_qmp(VxmSupervisor *self)
{
  if (self->qmp == NULL || !vxm_qmp_client_is_ready(self->qmp))
    return NULL;
  return self->qmp;
}

const VxmSupervisorPlan *
vxm_supervisor_get_plan(VxmSupervisor *self)
{
  return self->plan;
}

static GPid
live_pid(VxmProcess *process)
{
  return process != NULL && !vxm_process_has_exited(process) ? vxm_process_get_pid(process) : 0;
}

GPid
vxm_supervisor_get_qemu_pid(VxmSupervisor *self)
{
  return live_pid(self->qemu);
}

GPid
vxm_supervisor_get_swtpm_pid(VxmSupervisor *self)
{
  return live_pid(self->swtpm);
}

GPtrArray *
vxm_supervisor_get_restored(VxmSupervisor *self)
{
  return self->restored;
}

char *
vxm_supervisor_state_file(const VxmVmPaths *paths)
{
  return g_build_filename(paths->state_dir, "status.json", NULL);
}

/* ---- GObject ---- */

static void
vxm_supervisor_dispose(GObject *object)
{
  VxmSupervisor *self = VXM_SUPERVISOR(object);

  g_clear_handle_id(&self->powerdown_source, g_source_remove);
  g_clear_handle_id(&self->quit_source, g_source_remove);
  for (guint i = 0; i < G_N_ELEMENTS(self->signal_sources); i++)
    g_clear_handle_id(&self->signal_sources[i], g_source_remove);
  if (self->qemu != NULL)
    g_signal_handlers_disconnect_by_data(self->qemu, self);
  if (self->swtpm != NULL)
    g_signal_handlers_disconnect_by_data(self->swtpm, self);
  vxm_sv_stop_input_watch(self);
  vxm_sv_stop_usb_watch(self);
  if (self->qmp != NULL) {
    g_signal_handlers_disconnect_by_data(self->qmp, self);
    vxm_qmp_client_close(self->qmp);
  }
  g_clear_object(&self->qmp);
  g_clear_object(&self->qemu);
  g_clear_object(&self->swtpm);
  G_OBJECT_CLASS(vxm_supervisor_parent_class)->dispose(object);
}

static void
vxm_supervisor_finalize(GObject *object)
{
  VxmSupervisor *self = VXM_SUPERVISOR(object);

  if (self->lock_fd >= 0)
    close(self->lock_fd);
  if (self->gpu_lock_fd >= 0)
    close(self->gpu_lock_fd);
  if (self->log_fd >= 0)
    close(self->log_fd);
  g_clear_object(&self->ops);
  g_clear_object(&self->hostfs);
  g_clear_object(&self->cancellable);
  g_ptr_array_unref(self->granted_nodes);
  g_clear_pointer(&self->run_as, vxm_run_as_free);
  g_free(self->memlock_warning);
  g_clear_pointer(&self->vcpu_threads, g_array_unref);
  g_string_free(self->restore_failures, TRUE);
  vxm_supervisor_plan_free(self->plan);
  g_free(self->failure);
  g_free(self->monitor_failure);
  g_free(self->started);
  g_clear_pointer(&self->monitor_states, g_ptr_array_unref);
  if (self->inhibit_fd >= 0)
    close(self->inhibit_fd);
  g_free(self->inhibit_since);
  g_free(self->inhibit_error);
  g_free(self->run_state);
  json_array_unref(self->steps);
  g_hash_table_unref(self->step_started);
  g_ptr_array_unref(self->restored);
  G_OBJECT_CLASS(vxm_supervisor_parent_class)->finalize(object);
}

static void
vxm_supervisor_class_init(VxmSupervisorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS(klass);

  object_class->dispose = vxm_supervisor_dispose;
  object_class->finalize = vxm_supervisor_finalize;
  signals[SIGNAL_PROGRESS] = g_signal_new("progress", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 1, JSON_TYPE_OBJECT);
  signals[SIGNAL_FINISHED] = g_signal_new("finished", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
vxm_supervisor_init(VxmSupervisor *self)
{
  self->lock_fd = -1;
  self->gpu_lock_fd = -1;
  self->log_fd = -1;
  self->cancellable = g_cancellable_new();
  self->steps = json_array_new();
  self->step_started = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  self->restored = g_ptr_array_new_with_free_func(g_free);
  self->granted_nodes = g_ptr_array_new_with_free_func(g_free);
  self->restore_failures = g_string_new(NULL);
  self->monitor_states = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_sv_monitor_state_free);
  self->inhibit_fd = -1;
}

VxmSupervisor *
vxm_supervisor_new(VxmHostOps *ops, VxmSupervisorPlan *plan)
{
  VxmSupervisor *self = g_object_new(VXM_TYPE_SUPERVISOR, NULL);

  self->ops = g_object_ref(ops);
  self->plan = plan;
  self->hostfs = vxm_hostfs_new(plan->host_root != NULL ? plan->host_root : "/");
  if (plan->qmp_timeout_ms == 0)
    plan->qmp_timeout_ms = VXM_SUPERVISOR_QMP_TIMEOUT_MS_DEFAULT;
  if (plan->quit_timeout_ms == 0)
    plan->quit_timeout_ms = VXM_SUPERVISOR_QUIT_TIMEOUT_MS_DEFAULT;
  return self;
}
