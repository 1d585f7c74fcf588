/* vxm-supervisor: the VM's state machine. See the header for the choreography. */
#include "supervisor/vxm-supervisor.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-hostfs.h"
#include "common/vxm-run-as.h"
#include "common/vxm-util.h"
#include "cpu/vxm-cpu-list.h"
#include "cpu/vxm-cpu-pinning.h"
#include "input/vxm-input-object.h"
#include "input/vxm-input-watch.h"
#include "pci/vxm-vfio.h"
#include "qemu/vxm-process.h"
#include "qemu/vxm-socket-wait.h"
#include "supervisor/vxm-logind-inhibitor.h"
#include "supervisor/vxm-supervisor-steps.h"
#include "usb/vxm-usb-device.h"
#include "usb/vxm-usb-watch.h"
#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-lock.h"

#define SWTPM_SOCKET_TIMEOUT_MS 10000
#define SWTPM_STOP_TIMEOUT_MS   2000

struct _VxmSupervisor {
  GObject parent_instance;

  VxmHostOps *ops;
  VxmSupervisorPlan *plan;
  VxmVmState state;
  char *failure;
  char *started; /* ISO 8601 */

  int lock_fd;
  int gpu_lock_fd; /* the guest GPU's lock: held from before the detach until it is back */
  int log_fd;
  VxmProcess *qemu;
  VxmProcess *swtpm;
  VxmQmpClient *qmp;
  GCancellable *cancellable; /* the start's waits */

  guint pending;           /* parallel steps still running */
  gboolean gpu_touched;    /* detach was attempted: teardown must reattach */
  gboolean tearing_down;   /* teardown began (once) */
  guint teardown_pending;  /* teardown branches still running */
  gboolean stop_requested; /* by the user or a signal: the end is "stopped", not "failed" */
  gboolean quit_sent;
  gboolean monitor_switched; /* a monitor went to its guest input: switch it back */
  GPtrArray *monitor_states; /* MonitorState, one per plan->monitors */
  gboolean monitor_busy;     /* a switch runs in a worker thread */
  gboolean restore_waiting;  /* QEMU is gone, the host is restored once the switch ends */
  guint powerdown_source;
  guint quit_source;

  guint signal_sources[3];
  guint signals_received;

  char *monitor_failure;  /* the socket or greeting failed: used unless QEMU's exit explains */
  gboolean shutdown_step; /* "shutdown-guest" is running: QEMU's exit ends it */
  gboolean powerdown_timed_out;

  VxmHostfs *hostfs;            /* the planned host root: input links are watched under it */
  gboolean hugepages_held;      /* reserve-hugepages succeeded: teardown releases them */
  gboolean hugepages_tried;     /* it ran (a partial reservation is journaled): release */
  gboolean hugepages_fell_back; /* short, with hugepages_fallback: QEMU runs on normal RAM */
  guint64 hugepages_reserved;   /* the page size reserved (auto: plan's size or its alternative) */
  VxmRunAs *run_as;             /* QEMU's and swtpm's user when vxm is root (sudo), else NULL */
  gboolean devices_granted;     /* a grant ran: teardown revokes */
  GPtrArray *granted_nodes;     /* char*: nodes given to QEMU's user now */
  gboolean memlock_raised;
  char *memlock_warning;
  gboolean pinned;      /* the pinning plan was applied to QEMU's threads */
  GArray *vcpu_threads; /* gint thread ids from query-cpus-fast */
  VxmInputWatch *input_watch;
  VxmUsbWatch *usb_watch;
  GString *restore_failures;
  guint restore_stage;

  /* issue 17: the logind inhibitor lock (plan->inhibit), held while the VM's run lasts */
  int inhibit_fd;          /* -1: not held */
  char *inhibit_since;     /* ISO 8601, when it was granted */
  char *inhibit_error;     /* why it is not held (no logind, refused) */
  gboolean inhibit_asking; /* the request is under way */

  char *run_state;
  JsonArray *steps;
  GHashTable *step_started; /* name -> gint64 monotonic start */
  GPtrArray *restored;
};

enum { SIGNAL_PROGRESS, SIGNAL_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE(VxmSupervisor, vxm_supervisor, G_TYPE_OBJECT)

static void teardown(VxmSupervisor *self);
static void send_quit(VxmSupervisor *self);

/* ---- log, progress, state ---- */

static void G_GNUC_PRINTF(2, 3) sv_log(VxmSupervisor *self, const char *format, ...)
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

static void
emit_progress(VxmSupervisor *self, JsonObject *event)
{
  g_signal_emit(self, signals[SIGNAL_PROGRESS], 0, event);
}

static char *
now_iso(void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc();

  return g_date_time_format_iso8601(now);
}

static void
write_state_file(VxmSupervisor *self)
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
    sv_log(self, "cannot write the state file: %s", error->message);
}

static void
set_state(VxmSupervisor *self, VxmVmState state)
{
  g_autoptr(JsonObject) event = json_object_new();

  if (self->state == state)
    return;
  self->state = state;
  if (state == VXM_VM_STATE_FAILED)
    sv_log(self, "state: failed: %s", self->failure);
  else
    sv_log(self, "state: %s", vxm_vm_state_to_string(state));
  write_state_file(self);
  json_object_set_string_member(event, "event", "state");
  json_object_set_string_member(event, "state", vxm_vm_state_to_string(state));
  if (state == VXM_VM_STATE_FAILED && self->failure != NULL)
    json_object_set_string_member(event, "reason", self->failure);
  emit_progress(self, event);
}

/* The first failure is the reason; later ones are only logged. */
static void
set_failure(VxmSupervisor *self, const char *message)
{
  if (self->failure == NULL)
    self->failure = g_strdup(message);
  else
    sv_log(self, "also: %s", message);
}

static void
step_begin(VxmSupervisor *self, const char *step)
{
  g_autoptr(JsonObject) event = json_object_new();

  /* every step has its label (vxm-supervisor-steps.c): people read labels, not ids */
  g_warn_if_fail(vxm_supervisor_step_label(step) != NULL);
  g_hash_table_insert(self->step_started, g_strdup(step),
                      g_memdup2(&(gint64){g_get_monotonic_time()}, sizeof(gint64)));
  sv_log(self, "%s: started", step);
  json_object_set_string_member(event, "event", "step");
  json_object_set_string_member(event, "step", step);
  json_object_set_string_member(event, "status", "started");
  emit_progress(self, event);
}

/* @status: "ok", "failed", "skipped". */
static void
step_end(VxmSupervisor *self, const char *step, const char *status, const char *message)
{
  g_autoptr(JsonObject) event = json_object_new();
  gint64 *t0 = g_hash_table_lookup(self->step_started, step);
  gint64 ms = t0 != NULL ? (g_get_monotonic_time() - *t0) / 1000 : 0;
  JsonObject *record;

  g_warn_if_fail(vxm_supervisor_step_label(step) != NULL);
  sv_log(self, "%s: %s (%" G_GINT64_FORMAT " ms)%s%s", step, status, ms, message ? ": " : "",
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
  emit_progress(self, event);
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
static char *
describe_exit(VxmProcess *process, const char *who, const char *when)
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

/* ---- preparing: conflicts and the lock ---- */

/* Refuses when another VM with the same GPU is running (its lock is held). */
static gboolean
check_gpu_conflict(VxmSupervisor *self, GError **error)
{
  const VxmSupervisorPlan *plan = self->plan;
  g_autofree char *running = NULL;
  g_autofree char *holder = NULL;
  g_autoptr(GError) local_error = NULL;

  if (plan->gpu_address == NULL)
    return TRUE;
  running = vxm_vm_running_with_gpu(plan->paths->name, plan->gpu_address);
  if (running != NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                "VM %s is running with the same GPU %s: stop it first (vxm stop %s)", running,
                plan->gpu_address, running);
    return FALSE;
  }

  /* a card another journal holds (vxm detach, another VM's keep_bound, a crash) */
  holder = vxm_host_ops_gpu_holder(self->ops, plan->paths->name, plan->gpu_address, &local_error);
  if (holder != NULL) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_BUSY, holder);
    return FALSE;
  }
  if (local_error != NULL && !vxm_host_ops_error_is_unavailable(local_error))
    sv_log(self, "cannot read the host's journals: %s", local_error->message);
  return TRUE;
}

/* @name in @dir_fd (not followed when a link) to @user when root owns it. */
static gboolean
give_at(int dir_fd, const char *name, const char *shown, const VxmRunAs *user, GError **error)
{
  struct stat st;

  if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? TRUE
                           : vxm_error_set_from_errno(error, errno, "cannot inspect %s", shown);
  if (st.st_uid != 0 || S_ISLNK(st.st_mode))
    return TRUE;
  if (fchownat(dir_fd, name, user->uid, user->gid, AT_SYMLINK_NOFOLLOW) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot give %s to user %s", shown, user->name);
  return TRUE;
}

/* The folders above @path that root made inside a folder of @user (XDG_DATA_HOME made by a
 * `sudo vxm init` in the user's home) become the user's, so QEMU can reach the VM's files;
 * nothing is given when no folder of the user's is above them. */
static gboolean
give_parents(const char *path, const VxmRunAs *user, GError **error)
{
  g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *dir = g_path_get_dirname(path);
  struct stat st;

  while (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 && !g_str_equal(dir, "/")) {
    char *up = g_path_get_dirname(dir);

    g_ptr_array_add(made, g_steal_pointer(&dir));
    dir = up;
  }
  if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != user->uid)
    return TRUE;
  for (guint i = made->len; i > 0; i--) {
    const char *shown = g_ptr_array_index(made, i - 1);

    if (!give_at(AT_FDCWD, shown, shown, user, error))
      return FALSE;
  }
  return TRUE;
}

/* As root for a sudo user: the files QEMU and swtpm open (the VM's folder, disk, UEFI
 * variables, TPM state, logs) become the user's where root owns them (a `sudo vxm init`), so
 * they run with the user's rights only. Links are never followed. */
static gboolean
give_vm_files(const VxmSupervisor *self, GError **error)
{
  const VxmVmPaths *paths = self->plan->paths;
  const VxmRunAs *user = self->run_as;
  g_autofree char *data_parent = g_path_get_dirname(paths->data_dir);
  g_autofree char *state_parent = g_path_get_dirname(paths->state_dir);
  const char *const files[] = {
      data_parent,    paths->data_dir, paths->disk_qcow2, paths->disk_raw, paths->efi_vars,
      paths->tpm_dir, state_parent,    paths->state_dir,  paths->qemu_log, paths->swtpm_log};
  vxm_autofd int tpm_fd = -1;
  DIR *dir;
  struct dirent *entry;

  if (user == NULL)
    return TRUE;
  if (!give_parents(data_parent, user, error) || !give_parents(state_parent, user, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
    if (!give_at(AT_FDCWD, files[i], files[i], user, error))
      return FALSE;
  }
  tpm_fd = open(paths->tpm_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (tpm_fd < 0)
    return TRUE; /* none (no TPM) or a link: swtpm reports what it cannot open */
  dir = fdopendir(dup(tpm_fd));
  if (dir == NULL)
    return vxm_error_set_from_errno(error, errno, "cannot read %s", paths->tpm_dir);
  while ((entry = readdir(dir)) != NULL) {
    g_autofree char *shown = g_build_filename(paths->tpm_dir, entry->d_name, NULL);

    if (g_str_equal(entry->d_name, ".") || g_str_equal(entry->d_name, ".."))
      continue;
    if (!give_at(tpm_fd, entry->d_name, shown, user, error)) {
      closedir(dir);
      return FALSE;
    }
  }
  closedir(dir);
  return TRUE;
}

static gboolean
prepare_dirs(VxmSupervisor *self, GError **error)
{
  const VxmVmPaths *paths = self->plan->paths;

  /* invariant 4: as root, QEMU and swtpm run as the sudo user, or the start is refused */
  g_clear_pointer(&self->run_as, vxm_run_as_free);
  if (!vxm_run_as_for_children(&self->run_as, error))
    return FALSE;
  if (self->run_as != NULL)
    sv_log(self, "QEMU and swtpm run as user %s (uid %u, gid %u), who invoked sudo",
           self->run_as->name, (guint)self->run_as->uid, (guint)self->run_as->gid);
  if (g_mkdir_with_parents(paths->state_dir, 0700) < 0)
    return vxm_error_set_from_errno(error, errno, "cannot create the log folder %s",
                                    paths->state_dir);
  if (!vxm_vm_paths_ensure_runtime_dir(paths, error))
    return FALSE;
  if (self->plan->swtpm_argv != NULL) {
    if (g_mkdir_with_parents(paths->tpm_dir, 0700) < 0)
      return vxm_error_set_from_errno(error, errno, "cannot create the TPM state folder %s",
                                      paths->tpm_dir);
    if (chmod(paths->tpm_dir, 0700) < 0)
      return vxm_error_set_from_errno(error, errno, "cannot make %s private (0700)",
                                      paths->tpm_dir);
  }
  return give_vm_files(self, error);
}

/* ---- host steps in worker threads (VxmHostOps calls block) ---- */

typedef struct _HostJob HostJob;
typedef gboolean (*HostJobFunc)(VxmSupervisor *self, HostJob *job, GError **error);
typedef void (*HostJobDone)(VxmSupervisor *self, HostJob *job, const GError *error);

struct _HostJob {
  const char *step;
  HostJobFunc func;
  HostJobDone done;
  GPtrArray *report;
  GStrv nodes; /* grants: what to give */
};

static void
host_job_free(HostJob *job)
{
  g_ptr_array_unref(job->report);
  g_strfreev(job->nodes);
  g_free(job);
}

static void
host_job_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  HostJob *job = task_data;
  GError *error = NULL;

  (void)cancellable;
  if (!job->func(VXM_SUPERVISOR(source), job, &error))
    g_task_return_error(task, error);
  else
    g_task_return_boolean(task, TRUE);
}

static void
on_host_job(GObject *source, GAsyncResult *result, gpointer user_data)
{
  VxmSupervisor *self = VXM_SUPERVISOR(source);
  HostJob *job = g_task_get_task_data(G_TASK(result));
  g_autoptr(GError) error = NULL;

  (void)user_data;
  for (guint i = 0; i < job->report->len; i++)
    sv_log(self, "  %s", (const char *)g_ptr_array_index(job->report, i));
  g_task_propagate_boolean(G_TASK(result), &error);
  job->done(self, job, error);
}

/* Runs @func in a worker thread as step @step (begun here); @done gets the error, on the main
 * loop, and ends the step. @nodes (copied) for grants. */
static void
run_host_job(VxmSupervisor *self, const char *step, HostJobFunc func, HostJobDone done,
             const char *const *nodes)
{
  g_autoptr(GTask) task = g_task_new(self, NULL, on_host_job, NULL);
  HostJob *job = g_new0(HostJob, 1);

  job->step = step;
  job->func = func;
  job->done = done;
  job->report = g_ptr_array_new_with_free_func(g_free);
  job->nodes = g_strdupv((char **)nodes);
  g_task_set_task_data(task, job, (GDestroyNotify)host_job_free);
  step_begin(self, step);
  g_task_run_in_thread(task, host_job_thread);
}

static const char *
last_report_line(HostJob *job)
{
  return job->report->len > 0 ? g_ptr_array_index(job->report, job->report->len - 1) : NULL;
}

/* ---- the parallel preparation ---- */

static void start_qemu(VxmSupervisor *self);
static void raise_memlock(VxmSupervisor *self);

static void
prepared_one(VxmSupervisor *self)
{
  g_assert(self->pending > 0);
  if (--self->pending > 0)
    return;
  if (self->failure != NULL || self->stop_requested) {
    teardown(self);
    return;
  }
  raise_memlock(self);
}

static gboolean
grant_job(VxmSupervisor *self, HostJob *job, GError **error)
{
  return vxm_host_ops_grant_devices(self->ops, self->plan->paths->name,
                                    (const char *const *)job->nodes, job->report, error);
}

static void
grant_done(VxmSupervisor *self, HostJob *job, const GError *error)
{
  self->devices_granted = TRUE; /* even a failed grant may have given some: revoke */
  if (error != NULL) {
    g_autofree char *message =
        g_strdup_printf("cannot give the device nodes to QEMU's user: %s", error->message);

    step_end(self, job->step, "failed", message);
    set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
  } else {
    g_autofree char *list = g_strjoinv(", ", job->nodes);

    for (guint i = 0; job->nodes[i] != NULL; i++)
      g_ptr_array_add(self->granted_nodes, g_strdup(job->nodes[i]));
    step_end(self, job->step, "ok", list);
  }
  prepared_one(self);
}

static gboolean
reserve_job(VxmSupervisor *self, HostJob *job, GError **error)
{
  const VxmSupervisorPlan *plan = self->plan;

  VxmHostOpsHugepages hugepages = {.page_size = plan->hugepage_size,
                                   .count = plan->hugepage_count,
                                   .node = plan->hugepage_node >= 0 ? plan->hugepage_node
                                                                    : plan->hugepage_alt_node,
                                   .auto_size = plan->hugepages_auto,
                                   .drop_caches = plan->hugepages_drop_caches,
                                   .compact = plan->hugepages_compact};

  /* read by reserve_done, on the main loop, once this job has ended */
  return vxm_host_ops_reserve_hugepages(self->ops, plan->paths->name, &hugepages,
                                        &self->hugepages_reserved, job->report, error);
}

static void
reserve_done(VxmSupervisor *self, HostJob *job, const GError *error)
{
  const VxmSupervisorPlan *plan = self->plan;

  self->hugepages_tried = TRUE;
  if (error == NULL && self->hugepages_reserved != plan->hugepage_size &&
      (self->hugepages_reserved != plan->hugepage_alt_size || plan->qemu_argv_alt == NULL)) {
    /* pages QEMU's argv does not name: its backend would not match them */
    g_autofree char *message = g_strdup_printf(
        "cannot reserve hugepages: %" G_GUINT64_FORMAT " KiB pages were reserved where the plan "
        "has %" G_GUINT64_FORMAT " KiB ones: start the VM again (vxm start plans anew)",
        self->hugepages_reserved >> 10, plan->hugepage_size >> 10);

    self->hugepages_held = TRUE; /* teardown gives them back */
    step_end(self, job->step, "failed", message);
    set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
  } else if (error == NULL) {
    self->hugepages_held = TRUE;
    step_end(self, job->step, "ok", last_report_line(job));
  } else if (g_error_matches(error, VXM_ERROR, VXM_ERROR_NO_SPACE) && plan->hugepages_fallback &&
             plan->qemu_argv_fallback != NULL) {
    /* the engine gave the pool back: the guest runs on normal memory */
    g_autofree char *message =
        g_strdup_printf("%s; starting with normal memory (hugepages_fallback)", error->message);

    self->hugepages_fell_back = TRUE;
    step_end(self, job->step, "skipped", message);
  } else {
    g_autofree char *message = g_strdup_printf("cannot reserve hugepages: %s", error->message);

    step_end(self, job->step, "failed", message);
    set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
  }
  prepared_one(self);
}

static gboolean
looking_glass_job(VxmSupervisor *self, HostJob *job, GError **error)
{
  return vxm_host_ops_prepare_looking_glass(self->ops, self->plan->paths->name,
                                            self->plan->looking_glass_bytes, job->report, error);
}

static void
looking_glass_done(VxmSupervisor *self, HostJob *job, const GError *error)
{
  if (error != NULL) {
    g_autofree char *message =
        g_strdup_printf("cannot make the Looking Glass memory: %s", error->message);

    step_end(self, job->step, "failed", message);
    set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
  } else {
    step_end(self, job->step, "ok", last_report_line(job));
  }
  prepared_one(self);
}

/* ---- memlock: raised on this process, which QEMU inherits at fork ---- */

static gboolean
memlock_job(VxmSupervisor *self, HostJob *job, GError **error)
{
  int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  gboolean ok;

  if (pidfd < 0)
    return vxm_error_set_from_errno(error, errno, "cannot open a pidfd on the supervisor");
  ok = vxm_host_ops_raise_memlock(self->ops, self->plan->paths->name, pidfd,
                                  self->plan->memlock_bytes, job->report, error);
  close(pidfd);
  return ok;
}

static void
memlock_done(VxmSupervisor *self, HostJob *job, const GError *error)
{
  g_autofree char *size = vxm_format_bytes(self->plan->memlock_bytes);

  if (error == NULL) {
    self->memlock_raised = TRUE;
    step_end(self, job->step, "ok", last_report_line(job));
  } else if (self->plan->gpu_address == NULL || !vxm_hostfs_is_real(self->hostfs)) {
    /* nothing is pinned without VFIO (a simulated host passes no device through) */
    self->memlock_warning =
        g_strdup_printf("RLIMIT_MEMLOCK stays as it is (%s; %s would be needed with VFIO): %s",
                        self->plan->gpu_address == NULL ? "no passthrough" : "simulated host", size,
                        error->message);
    step_end(self, job->step, "skipped", self->memlock_warning);
  } else {
    g_autofree char *message = g_strdup_printf(
        "cannot raise RLIMIT_MEMLOCK to %s, which VFIO needs to pin the guest's RAM: %s: run "
        "vxm start as root with CAP_SYS_RESOURCE (or through vxmd), or raise the limit for "
        "your user (LimitMEMLOCK= in systemd, memlock in /etc/security/limits.conf)",
        size, error->message);

    step_end(self, job->step, "failed", message);
    set_failure(self, message);
    teardown(self);
    return;
  }
  if (self->stop_requested) {
    teardown(self);
    return;
  }
  start_qemu(self);
}

static void
raise_memlock(VxmSupervisor *self)
{
  if (self->plan->memlock_bytes == 0) {
    start_qemu(self);
    return;
  }
  run_host_job(self, "raise-memlock", memlock_job, memlock_done, NULL);
}

static gboolean
detach_job(VxmSupervisor *self, HostJob *job, GError **error)
{
  VxmHostOpsGpu gpu = {.gpu_address = self->plan->gpu_address,
                       .timeout_ms = self->plan->unbind_timeout_ms,
                       .keep_bound = self->plan->keep_bound,
                       .extra = (const char *const *)self->plan->extra_devices};

  return vxm_host_ops_detach_gpu(self->ops, self->plan->paths->name, &gpu, job->report, error);
}

static void
detach_done(VxmSupervisor *self, HostJob *job, const GError *error)
{
  if (error != NULL) {
    g_autofree char *message = g_strdup_printf("cannot give GPU %s to vfio-pci: %s",
                                               self->plan->gpu_address, error->message);

    step_end(self, job->step, "failed", message);
    set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
  } else {
    g_autofree char *summary =
        g_strdup_printf("%s and its functions on vfio-pci", self->plan->gpu_address);

    step_end(self, job->step, "ok", summary);
    if (self->plan->vfio_nodes != NULL && self->plan->vfio_nodes[0] != NULL &&
        !self->stop_requested) {
      /* the group's node exists once the group is on vfio-pci; this branch stays pending */
      run_host_job(self, "grant-vfio", grant_job, grant_done,
                   (const char *const *)self->plan->vfio_nodes);
      return;
    }
  }
  prepared_one(self);
}

static void
on_swtpm_exited(VxmProcess *process, int wait_status, gpointer user_data)
{
  VxmSupervisor *self = user_data;
  g_autofree char *message = NULL;

  (void)wait_status;
  if (self->tearing_down)
    return;
  /* with --terminate, swtpm ends by itself (status 0) when QEMU goes: that is QEMU's exit, seen
   * from the other side, and QEMU's own exit is what counts */
  if (vxm_process_get_exit_status(process) == 0 && self->state != VXM_VM_STATE_PREPARING) {
    sv_log(self, "swtpm ended with QEMU's connection");
    return;
  }
  message = describe_exit(process, "swtpm",
                          self->state == VXM_VM_STATE_PREPARING ? "at start" : "while the VM ran");
  sv_log(self, "%s", message);
  set_failure(self, message);
  if (self->state == VXM_VM_STATE_PREPARING) {
    g_cancellable_cancel(self->cancellable); /* its socket wait ends, prepared_one follows */
  } else if (self->qemu != NULL && !vxm_process_has_exited(self->qemu)) {
    /* without its TPM the guest cannot go on: stop it */
    send_quit(self);
  }
}

static void
on_swtpm_socket(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VxmSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  int fd;

  (void)source;
  fd = vxm_wait_for_socket_finish(result, &error);
  if (fd >= 0) {
    close(fd);
    if (chmod(self->plan->paths->swtpm_socket, 0600) < 0)
      sv_log(self, "cannot set mode 0600 on %s: %s", self->plan->paths->swtpm_socket,
             g_strerror(errno));
    step_end(self, "start-swtpm", "ok", NULL);
  } else if (self->failure != NULL && vxm_process_has_exited(self->swtpm)) {
    step_end(self, "start-swtpm", "failed", self->failure);
  } else if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    step_end(self, "start-swtpm", "failed", "abandoned");
  } else {
    g_autofree char *log = vxm_vm_paths_display(self->plan->paths->swtpm_log);
    g_autofree char *message =
        g_strdup_printf("swtpm did not open its socket: %s: read %s", error->message, log);

    step_end(self, "start-swtpm", "failed", message);
    set_failure(self, message);
  }
  prepared_one(self);
}

static void
start_swtpm(VxmSupervisor *self)
{
  g_autoptr(GError) error = NULL;

  step_begin(self, "start-swtpm");
  /* a dead supervisor must not leave it: PDEATHSIG, and --terminate when QEMU goes */
  self->swtpm = vxm_process_spawn_as(
      (const char *const *)self->plan->swtpm_argv, (const char *const *)self->plan->swtpm_envp,
      NULL, 0, self->plan->paths->swtpm_log,
      VXM_PROCESS_NEW_PROCESS_GROUP | VXM_PROCESS_KILL_WITH_PARENT, self->run_as, &error);
  if (self->swtpm == NULL) {
    g_autofree char *message = g_strdup_printf("cannot start swtpm: %s", error->message);

    step_end(self, "start-swtpm", "failed", message);
    set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
    prepared_one(self);
    return;
  }
  sv_log(self, "swtpm pid %d", vxm_process_get_pid(self->swtpm));
  g_signal_connect(self->swtpm, "exited", G_CALLBACK(on_swtpm_exited), self);
  vxm_wait_for_socket_async(self->plan->paths->swtpm_socket, SWTPM_SOCKET_TIMEOUT_MS,
                            self->cancellable, on_swtpm_socket, g_object_ref(self));
}

/* ---- starting: QEMU ---- */

static void
on_qmp_event(VxmQmpClient *client, const char *name, JsonObject *data, gint64 timestamp_us,
             gpointer user_data)
{
  VxmSupervisor *self = user_data;
  g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), data);
  g_autofree char *text = json_to_string(node, FALSE);
  const char *run_state = NULL;

  (void)client;
  (void)timestamp_us;
  sv_log(self, "QMP event %s %s", name, text);
  if (g_strcmp0(name, "RESUME") == 0)
    run_state = "running";
  else if (g_strcmp0(name, "STOP") == 0)
    run_state = "paused";
  else if (g_strcmp0(name, "SHUTDOWN") == 0)
    run_state = "shutdown";
  else if (g_strcmp0(name, "GUEST_PANICKED") == 0)
    run_state = "guest-panicked";
  if (run_state != NULL) {
    g_free(self->run_state);
    self->run_state = g_strdup(run_state);
    write_state_file(self);
  }
}

static void
on_qmp_disconnected(VxmQmpClient *client, const GError *error, gpointer user_data)
{
  VxmSupervisor *self = user_data;

  (void)client;
  sv_log(self, "QMP connection closed%s%s", error ? ": " : "", error ? error->message : "");
}

static void
on_qemu_exited(VxmProcess *process, int wait_status, gpointer user_data)
{
  VxmSupervisor *self = user_data;

  (void)wait_status;
  g_clear_handle_id(&self->powerdown_source, g_source_remove);
  g_clear_handle_id(&self->quit_source, g_source_remove);
  if (self->state == VXM_VM_STATE_STARTING && !self->stop_requested &&
      vxm_process_get_exit_status(process) > 0) {
    /* QEMU refused something: its own words say more than a lost monitor connection */
    g_autofree char *message = describe_exit(process, "QEMU", "at start");

    step_end(self, "start-qemu", "failed", message);
    set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
  } else if (self->stop_requested || self->quit_sent || self->tearing_down) {
    g_autofree char *message = describe_exit(process, "QEMU", "after it was asked to stop");

    sv_log(self, "%s", message);
  } else if (self->state == VXM_VM_STATE_STARTING) {
    g_autofree char *message = describe_exit(process, "QEMU", "at start");

    step_end(self, "start-qemu", "failed", message);
    set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
  } else if (self->state == VXM_VM_STATE_RUNNING) {
    gboolean clean = vxm_process_get_exit_status(process) == 0;
    g_autofree char *message = describe_exit(process, "QEMU", "while the VM ran");

    if (clean)
      sv_log(self, "QEMU exited: the guest shut down");
    else
      set_failure(self, message);
  }
  if (self->monitor_failure != NULL)
    set_failure(self, self->monitor_failure);
  if (self->shutdown_step) {
    self->shutdown_step = FALSE;
    step_end(self, "shutdown-guest", "ok",
             self->powerdown_timed_out ? "no ACPI shutdown within the time limit: QEMU quit"
             : self->quit_sent         ? "QEMU quit"
                                       : "the guest shut down");
  }
  g_clear_pointer(&self->run_state, g_free);
  self->run_state = g_strdup("exited");
  if (self->qmp != NULL)
    vxm_qmp_client_close(self->qmp);
  teardown(self);
}

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
    sv_log(self, "  %s", (const char *)g_ptr_array_index(report, i));
  self->devices_granted = TRUE;
  return ok;
}

static void
on_input_changed(VxmInputWatch *watch, const char *id, const char *what, const char *message,
                 gpointer user_data)
{
  VxmSupervisor *self = user_data;
  g_autoptr(JsonObject) event = json_object_new();

  (void)watch;
  sv_log(self, "input %s: %s: %s", id, what, message);
  json_object_set_string_member(event, "event", "input");
  json_object_set_string_member(event, "id", id);
  json_object_set_string_member(event, "what", what);
  json_object_set_string_member(event, "message", message);
  emit_progress(self, event);
  write_state_file(self); /* the inputs' state */
}

static void
start_input_watch(VxmSupervisor *self)
{
  g_autoptr(GError) error = NULL;

  if ((self->plan->input_objects->len == 0 && self->plan->input_pending->len == 0) ||
      self->input_watch != NULL || self->qmp == NULL)
    return;
  self->input_watch = vxm_input_watch_new(self->hostfs, self->qmp, self->plan->input_objects,
                                          self->plan->input_pending, &error);
  if (self->input_watch == NULL) {
    /* the guest has its devices; only a replugged one would stay out */
    sv_log(self, "keyboards and mice are not watched for replug: %s", error->message);
    return;
  }
  vxm_input_watch_set_grant_func(self->input_watch, regrant_node, self, NULL);
  g_signal_connect(self->input_watch, "changed", G_CALLBACK(on_input_changed), self);
  sv_log(self, "watching %u input device(s) for unplug and replug, %u not plugged in yet",
         self->plan->input_objects->len, self->plan->input_pending->len);
}

static void
stop_input_watch(VxmSupervisor *self)
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
  sv_log(self, "usb %s: %s: %s", id, what, message);
  json_object_set_string_member(event, "event", "usb");
  json_object_set_string_member(event, "id", id);
  json_object_set_string_member(event, "what", what);
  json_object_set_string_member(event, "message", message);
  emit_progress(self, event);
  write_state_file(self);
}

static void
start_usb_watch(VxmSupervisor *self)
{
  g_autoptr(GError) error = NULL;
  guint pending = 0;

  if (self->plan->usb_devices->len == 0 || self->usb_watch != NULL || self->qmp == NULL)
    return;
  self->usb_watch = vxm_usb_watch_new(self->hostfs, self->qmp, self->plan->usb_devices, &error);
  if (self->usb_watch == NULL) {
    sv_log(self, "USB devices are not watched for plugging: %s", error->message);
    return;
  }
  vxm_usb_watch_set_grant_func(self->usb_watch, regrant_node, self, NULL);
  g_signal_connect(self->usb_watch, "changed", G_CALLBACK(on_usb_changed), self);
  for (guint i = 0; i < self->plan->usb_devices->len; i++)
    pending += ((VxmUsbPassthrough *)g_ptr_array_index(self->plan->usb_devices, i))->node == NULL;
  sv_log(self, "watching %u USB device(s) for plugging, %u not plugged in yet",
         self->plan->usb_devices->len, pending);
}

static void
stop_usb_watch(VxmSupervisor *self)
{
  if (self->usb_watch == NULL)
    return;
  g_signal_handlers_disconnect_by_data(self->usb_watch, self);
  g_clear_object(&self->usb_watch);
}

/* ---- the monitor (issue 6): guest input once the guest runs, host input at teardown ---- */

static void restore_host(VxmSupervisor *self);

static gboolean
wants_monitor(VxmSupervisor *self)
{
  return self->plan->monitors->len > 0;
}

/* Where vxm last put one monitor, for `vxm status`. */
typedef struct {
  gboolean on_guest;
  char *since; /* ISO 8601, NULL before any switch */
  char *error; /* its last switch failed: why (the others went on) */
} MonitorState;

static void
monitor_state_free(MonitorState *state)
{
  g_free(state->since);
  g_free(state->error);
  g_free(state);
}

static MonitorState *
monitor_state(VxmSupervisor *self, guint i)
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

static void switch_monitor(VxmSupervisor *self, gboolean to_guest);

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
  g_autofree char *now = now_iso();

  (void)user_data;
  /* each monitor's outcome is in the job: the task itself always succeeds */
  g_assert_true(g_task_propagate_boolean(G_TASK(result), NULL));
  self->monitor_busy = FALSE;
  for (guint i = 0; i < job->report->len; i++)
    sv_log(self, "  %s", (const char *)g_ptr_array_index(job->report, i));
  for (guint i = 0; i < job->which->len; i++) {
    MonitorState *state = monitor_state(self, g_array_index(job->which, guint, i));
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
    step_end(self, step, "failed", failures->str);
  else
    step_end(self, step, "ok",
             job->report->len > 0 ? g_ptr_array_index(job->report, job->report->len - 1) : NULL);
  if (job->to_guest && self->monitor_switched && (self->stop_requested || self->tearing_down) &&
      !self->restore_waiting) {
    /* the switch to the guest ended after the stop began (QEMU still going): back now */
    switch_monitor(self, FALSE);
  } else if (self->restore_waiting) {
    self->restore_waiting = FALSE;
    restore_host(self);
  }
}

/* Switches the monitors in a worker thread (DDC/CI waits tens of milliseconds per command):
 * to the guest inputs once the guest runs, back to the host's (those vxm put on the guest) as
 * soon as a stop begins (the user sees the host while the guest shuts down). A switch asked
 * while another runs is decided when that one ends (on_monitor_switched). */
static void
switch_monitor(VxmSupervisor *self, gboolean to_guest)
{
  g_autoptr(GTask) task = NULL;
  MonitorJob *job;

  if (!wants_monitor(self) || self->monitor_busy)
    return;
  job = g_new0(MonitorJob, 1);
  job->to_guest = to_guest;
  job->report = g_ptr_array_new_with_free_func(g_free);
  job->which = g_array_new(FALSE, FALSE, sizeof(guint));
  job->errors = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < self->plan->monitors->len; i++)
    if (to_guest || monitor_state(self, i)->on_guest)
      g_array_append_val(job->which, i);
  task = g_task_new(self, NULL, on_monitor_switched, NULL);
  self->monitor_busy = TRUE;
  g_task_set_task_data(task, job, (GDestroyNotify)monitor_job_free);
  step_begin(self, job->to_guest ? "switch-monitor" : "switch-monitor-back");
  g_task_run_in_thread(task, monitor_thread);
}

static void start_input_watch(VxmSupervisor *self);
static void start_usb_watch(VxmSupervisor *self);

static void
on_cont(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VxmSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = vxm_qmp_client_execute_finish(VXM_QMP_CLIENT(source), result, &error);

  if (self->tearing_down || self->state != VXM_VM_STATE_STARTING)
    return;
  if (reply == NULL) {
    g_autofree char *message =
        g_strdup_printf("QEMU refused to run the guest (cont): %s", error->message);

    step_end(self, "cont", "failed", message);
    set_failure(self, message);
    send_quit(self);
    return;
  }
  step_end(self, "cont", "ok", NULL);
  if (g_strcmp0(self->run_state, "prelaunch") == 0 || self->run_state == NULL) {
    g_free(self->run_state);
    self->run_state = g_strdup("running");
  }
  set_state(self, VXM_VM_STATE_RUNNING);
  start_input_watch(self);
  start_usb_watch(self);
  switch_monitor(self, TRUE);
  if (self->stop_requested)
    vxm_supervisor_stop(self, FALSE, -1);
}

static void
send_cont(VxmSupervisor *self)
{
  step_begin(self, "cont");
  vxm_qmp_client_execute_async(self->qmp, "cont", NULL, 0, NULL, on_cont, g_object_ref(self));
}

static gint
compare_cpu_index(gconstpointer a, gconstpointer b)
{
  JsonObject *x = json_node_get_object(*(JsonNode *const *)a);
  JsonObject *y = json_node_get_object(*(JsonNode *const *)b);

  return (gint)(json_object_get_int_member_with_default(x, "cpu-index", 0) -
                json_object_get_int_member_with_default(y, "cpu-index", 0));
}

/* The vCPU thread ids in vCPU order from query-cpus-fast's reply. */
static GArray *
vcpu_threads_from_reply(JsonNode *reply, GError **error)
{
  g_autoptr(GArray) tids = g_array_new(FALSE, FALSE, sizeof(gint));
  g_autoptr(GPtrArray) cpus = g_ptr_array_new();
  JsonArray *array;

  if (!JSON_NODE_HOLDS_ARRAY(reply)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "query-cpus-fast did not answer a list");
    return NULL;
  }
  array = json_node_get_array(reply);
  for (guint i = 0; i < json_array_get_length(array); i++) {
    JsonNode *cpu = json_array_get_element(array, i);

    if (!JSON_NODE_HOLDS_OBJECT(cpu) ||
        !json_object_has_member(json_node_get_object(cpu), "thread-id")) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "query-cpus-fast: vCPU %u has no thread-id",
                  i);
      return NULL;
    }
    g_ptr_array_add(cpus, cpu);
  }
  g_ptr_array_sort(cpus, compare_cpu_index);
  for (guint i = 0; i < cpus->len; i++) {
    gint tid = (gint)json_object_get_int_member(json_node_get_object(cpus->pdata[i]), "thread-id");

    g_array_append_val(tids, tid);
  }
  return g_steal_pointer(&tids);
}

static void
on_cpus(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VxmSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = vxm_qmp_client_execute_finish(VXM_QMP_CLIENT(source), result, &error);
  g_autoptr(GArray) tids = NULL;
  const VxmCpuPinningPlan *pinning = self->plan->pinning;

  if (self->tearing_down || self->state != VXM_VM_STATE_STARTING)
    return;
  if (reply != NULL)
    tids = vcpu_threads_from_reply(reply, &error);
  if (tids != NULL && tids->len != pinning->vcpu_cpus->len)
    g_set_error(&error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "QEMU runs %u vCPUs but the pinning plan has %u", tids->len,
                pinning->vcpu_cpus->len);
  if (error == NULL &&
      !vxm_cpu_pinning_apply(pinning, vxm_process_get_pid(self->qemu), tids, &error))
    g_prefix_error(&error, "cannot pin QEMU's threads: ");
  if (error != NULL && !vxm_hostfs_is_real(self->hostfs)) {
    /* a simulated host's CPUs are not this machine's: the plan may name CPUs it lacks */
    g_autofree char *message = g_strdup_printf(
        "vCPUs not pinned (the simulated host's CPUs are not this machine's): %s", error->message);

    step_end(self, "pin-vcpus", "skipped", message);
    if (self->stop_requested)
      send_quit(self);
    else
      send_cont(self);
    return;
  }
  if (error != NULL) {
    /* the guest must not run on other CPUs than the plan says */
    g_autofree char *message = g_strdup_printf("vCPU pinning failed: %s", error->message);

    step_end(self, "pin-vcpus", "failed", message);
    set_failure(self, message);
    send_quit(self);
    return;
  }
  {
    g_autofree char *emulator = vxm_cpu_list_format(pinning->emulator_cpus);
    g_autoptr(GString) text = g_string_new(NULL);

    for (guint i = 0; i < tids->len; i++)
      g_string_append_printf(text, "vCPU %u (thread %d) on CPU %u, ", i,
                             g_array_index(tids, gint, i),
                             g_array_index(pinning->vcpu_cpus, guint, i));
    g_string_append_printf(text, "QEMU's other threads on CPUs %s", emulator);
    self->pinned = TRUE;
    g_clear_pointer(&self->vcpu_threads, g_array_unref);
    self->vcpu_threads = g_steal_pointer(&tids);
    step_end(self, "pin-vcpus", "ok", text->str);
  }
  if (self->stop_requested) {
    send_quit(self);
    return;
  }
  send_cont(self);
}

static void
on_handshake(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VxmSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!vxm_qmp_client_handshake_finish(VXM_QMP_CLIENT(source), result, &error)) {
    if (self->tearing_down || vxm_process_has_exited(self->qemu))
      return; /* on_qemu_exited has the reason */
    {
      g_autofree char *log = vxm_vm_paths_display(self->plan->paths->qemu_log);
      g_autofree char *message =
          g_strdup_printf("no QMP greeting from QEMU: %s: read %s", error->message, log);

      step_end(self, "qmp", "failed", message);
      self->monitor_failure = g_strdup(message);
      send_quit(self);
    }
    return;
  }
  step_end(self, "qmp", "ok", NULL);
  if (self->stop_requested) {
    send_quit(self);
    return;
  }
  if (self->plan->pinning != NULL && self->plan->pinning->pinned) {
    step_begin(self, "pin-vcpus");
    vxm_qmp_client_execute_async(self->qmp, "query-cpus-fast", NULL, 0, NULL, on_cpus,
                                 g_object_ref(self));
    return;
  }
  send_cont(self);
}

static void
on_qmp_socket(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VxmSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  int fd;

  (void)source;
  fd = vxm_wait_for_socket_finish(result, &error);
  if (fd < 0) {
    if (self->tearing_down || vxm_process_has_exited(self->qemu))
      return;
    if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_autofree char *log = vxm_vm_paths_display(self->plan->paths->qemu_log);
      g_autofree char *message =
          g_strdup_printf("QEMU did not open its monitor socket: %s: read %s; if QEMU is only "
                          "slow (a large guest's RAM is pinned first), raise start_timeout in "
                          "the VM's [host] section",
                          error->message, log);

      step_end(self, "start-qemu", "failed", message);
      self->monitor_failure = g_strdup(message);
    }
    send_quit(self);
    return;
  }
  step_end(self, "start-qemu", "ok", NULL);
  self->qmp = vxm_qmp_client_new_for_fd(fd, &error);
  if (self->qmp == NULL) {
    set_failure(self, error->message);
    send_quit(self);
    return;
  }
  g_signal_connect(self->qmp, "event", G_CALLBACK(on_qmp_event), self);
  g_signal_connect(self->qmp, "disconnected", G_CALLBACK(on_qmp_disconnected), self);
  step_begin(self, "qmp");
  vxm_qmp_client_handshake_async(self->qmp, self->plan->qmp_timeout_ms, self->cancellable,
                                 on_handshake, g_object_ref(self));
}

/* The argv with -S after argv[0] when it is missing: the guest never runs before we say so. */
static GStrv
qemu_argv_paused(GStrv argv)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();

  if (g_strv_contains((const char *const *)argv, "-S"))
    return g_strdupv(argv);
  g_strv_builder_add(b, argv[0]);
  g_strv_builder_add(b, "-S");
  for (guint i = 1; argv[i] != NULL; i++)
    g_strv_builder_add(b, argv[i]);
  return g_strv_builder_end(b);
}

/* hugepages = auto took the plan's other page size (the kernel could, or could not, make the
 * 1 GiB pages) */
static gboolean
took_alternative_hugepages(VxmSupervisor *self)
{
  return self->hugepages_held && self->plan->hugepage_alt_size != 0 &&
         self->hugepages_reserved == self->plan->hugepage_alt_size;
}

/* QEMU's argv for the memory the guest got: normal (hugepages_fallback), the plan's page
 * size, or the alternative size auto took. */
static GStrv
planned_argv(VxmSupervisor *self)
{
  const VxmSupervisorPlan *plan = self->plan;

  if (self->hugepages_fell_back)
    return plan->qemu_argv_fallback;
  if (plan->qemu_argv_alt != NULL && took_alternative_hugepages(self))
    return plan->qemu_argv_alt;
  return plan->qemu_argv;
}

static void
start_qemu(VxmSupervisor *self)
{
  g_auto(GStrv) argv = qemu_argv_paused(planned_argv(self));
  g_autoptr(GError) error = NULL;
  g_autofree char *joined = g_strjoinv(" ", argv);

  set_state(self, VXM_VM_STATE_STARTING);
  step_begin(self, "start-qemu");
  sv_log(self, "QEMU argv: %s", joined);
  unlink(self->plan->paths->qmp_socket);
  self->qemu = vxm_process_spawn_as(
      (const char *const *)argv, (const char *const *)self->plan->qemu_envp, NULL, 0,
      self->plan->paths->qemu_log, VXM_PROCESS_NEW_PROCESS_GROUP | VXM_PROCESS_KILL_WITH_PARENT,
      self->run_as, &error);
  if (self->qemu == NULL) {
    g_autofree char *message = g_strdup_printf("cannot start QEMU: %s", error->message);

    step_end(self, "start-qemu", "failed", message);
    set_failure(self, message);
    teardown(self);
    return;
  }
  sv_log(self, "QEMU pid %d", vxm_process_get_pid(self->qemu));
  self->run_state = g_strdup("prelaunch");
  write_state_file(self);
  g_signal_connect(self->qemu, "exited", G_CALLBACK(on_qemu_exited), self);
  vxm_wait_for_socket_async(self->plan->paths->qmp_socket, self->plan->qmp_timeout_ms,
                            self->cancellable, on_qmp_socket, g_object_ref(self));
}

/* ---- stopping ---- */

static void
on_terminated(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VxmSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean killed = FALSE;

  if (!vxm_process_terminate_finish(VXM_PROCESS(source), result, &killed, &error))
    sv_log(self, "cannot end %s: %s", vxm_process_get_name(VXM_PROCESS(source)), error->message);
  else if (killed)
    sv_log(self, "%s did not end on SIGTERM: killed", vxm_process_get_name(VXM_PROCESS(source)));
}

static gboolean
on_quit_timeout(gpointer user_data)
{
  VxmSupervisor *self = user_data;

  self->quit_source = 0;
  sv_log(self, "QEMU still runs %u ms after quit: SIGTERM", self->plan->quit_timeout_ms);
  vxm_process_terminate_async(self->qemu, SIGTERM, 2000, NULL, on_terminated, g_object_ref(self));
  return G_SOURCE_REMOVE;
}

static void
on_quit_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VxmSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = vxm_qmp_client_execute_finish(VXM_QMP_CLIENT(source), result, &error);

  if (reply == NULL && !self->tearing_down)
    sv_log(self, "quit: %s", error->message);
}

/* Ends QEMU: QMP quit when the monitor is up, else SIGTERM; SIGKILL when it lingers. */
static void
send_quit(VxmSupervisor *self)
{
  g_clear_handle_id(&self->powerdown_source, g_source_remove);
  if (self->qemu == NULL || vxm_process_has_exited(self->qemu)) {
    if (self->qemu == NULL && self->pending == 0)
      teardown(self);
    return;
  }
  if (self->quit_sent)
    return;
  self->quit_sent = TRUE;
  if (self->qmp != NULL && vxm_qmp_client_is_ready(self->qmp)) {
    sv_log(self, "QMP quit");
    vxm_qmp_client_execute_async(self->qmp, "quit", NULL, 0, NULL, on_quit_reply,
                                 g_object_ref(self));
    self->quit_source = g_timeout_add(self->plan->quit_timeout_ms, on_quit_timeout, self);
  } else {
    sv_log(self, "QEMU's monitor is not up: SIGTERM");
    vxm_process_terminate_async(self->qemu, SIGTERM, self->plan->quit_timeout_ms, NULL,
                                on_terminated, g_object_ref(self));
  }
}

static gboolean
on_powerdown_timeout(gpointer user_data)
{
  VxmSupervisor *self = user_data;

  self->powerdown_source = 0;
  self->powerdown_timed_out = TRUE;
  sv_log(self, "the guest did not shut down within the time limit: quit");
  send_quit(self);
  return G_SOURCE_REMOVE;
}

static void
on_powerdown_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VxmSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = vxm_qmp_client_execute_finish(VXM_QMP_CLIENT(source), result, &error);

  if (reply == NULL && !self->tearing_down) {
    sv_log(self, "system_powerdown: %s: quit", error->message);
    send_quit(self);
  }
}

void
vxm_supervisor_stop(VxmSupervisor *self, gboolean force, gint timeout_s)
{
  guint limit_s = timeout_s >= 0 ? (guint)timeout_s : self->plan->shutdown_timeout_s;

  g_return_if_fail(VXM_IS_SUPERVISOR(self));
  sv_log(self, "stop requested%s", force ? " (forced)" : "");
  self->stop_requested = TRUE;
  switch (self->state) {
  case VXM_VM_STATE_PREPARING:
    /* the parallel steps finish, then teardown (prepared_one) */
    g_cancellable_cancel(self->cancellable);
    return;
  case VXM_VM_STATE_STARTING:
    /* the guest has not run: nothing to shut down gracefully */
    send_quit(self);
    return;
  case VXM_VM_STATE_RUNNING: break;
  case VXM_VM_STATE_STOPPING:
    if (force)
      send_quit(self);
    return;
  case VXM_VM_STATE_RESTORING:
  case VXM_VM_STATE_STOPPED:
  case VXM_VM_STATE_FAILED: return;
  }
  set_state(self, VXM_VM_STATE_STOPPING);
  if (self->monitor_switched)
    switch_monitor(self, FALSE);
  self->shutdown_step = TRUE;
  step_begin(self, "shutdown-guest");
  if (force || limit_s == 0 || self->qmp == NULL || !vxm_qmp_client_is_ready(self->qmp)) {
    send_quit(self);
    return;
  }
  sv_log(self, "ACPI power-down, quit in %u s if the guest has not shut down", limit_s);
  vxm_qmp_client_execute_async(self->qmp, "system_powerdown", NULL, 0, NULL, on_powerdown_reply,
                               g_object_ref(self));
  /* g_timeout_add_seconds may fire up to a second early: the guest gets its whole time */
  self->powerdown_source = g_timeout_add(limit_s * 1000, on_powerdown_timeout, self);
}

static gboolean
on_signal(gpointer user_data)
{
  VxmSupervisor *self = user_data;

  self->signals_received++;
  sv_log(self, "signal received: stopping the guest%s",
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
  sv_log(self, "released the logind inhibitor lock (%s)", self->plan->inhibit);
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
    step_end(self, "inhibit-sleep", "skipped", self->inhibit_error);
    return;
  }
  if (finished(self)) {
    close(fd); /* the run ended while logind answered */
    step_end(self, "inhibit-sleep", "skipped", "the VM had already stopped");
    return;
  }
  self->inhibit_fd = fd;
  self->inhibit_since = now_iso();
  {
    g_autofree char *message =
        g_strdup_printf("logind blocks %s while the VM runs", self->plan->inhibit);

    step_end(self, "inhibit-sleep", "ok", message);
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
  step_begin(self, "inhibit-sleep");
  vxm_logind_inhibit_async(self->plan->inhibit, "vxm", why, NULL, on_inhibited, g_object_ref(self));
}

/* ---- restoring ---- */

static void
teardown_one_done(VxmSupervisor *self)
{
  g_assert(self->teardown_pending > 0);
  if (--self->teardown_pending > 0)
    return;
  unlink(self->plan->paths->qmp_socket);
  unlink(self->plan->paths->swtpm_socket);
  /* the host is whole again: it may sleep */
  release_inhibitor(self);
  /* the state file is written before the lock goes: a new start may take it right after */
  set_state(self, self->failure != NULL ? VXM_VM_STATE_FAILED : VXM_VM_STATE_STOPPED);
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

/* The host given back in the reverse order of the start, one step each, in worker threads:
 * reattach-gpu (QEMU has let go of it), release-hugepages (their previous count),
 * revoke-devices (owner, group and mode back), then restore-host: whatever the journal still
 * holds (the Looking Glass file, a monitor input) and the journal cleared. A step that fails
 * is reported and the next still runs; the journal keeps what is left for `vxm recover`. */
static void restore_next(VxmSupervisor *self);

static void restore_failed(VxmSupervisor *self, const char *format, ...) G_GNUC_PRINTF(2, 3);

static void
restore_failed(VxmSupervisor *self, const char *format, ...)
{
  va_list args;

  va_start(args, format);
  g_string_append_vprintf(self->restore_failures, format, args);
  va_end(args);
  g_string_append(self->restore_failures, "; ");
}

static void
restored_lines(VxmSupervisor *self, HostJob *job)
{
  for (guint i = 0; i < job->report->len; i++)
    g_ptr_array_add(self->restored, g_strdup(g_ptr_array_index(job->report, i)));
}

static gboolean
reattach_job(VxmSupervisor *self, HostJob *job, GError **error)
{
  VxmHostOpsGpu gpu = {.gpu_address = self->plan->gpu_address,
                       .timeout_ms = self->plan->unbind_timeout_ms,
                       .keep_bound = self->plan->keep_bound};

  return vxm_host_ops_reattach_gpu(self->ops, self->plan->paths->name, &gpu, job->report, error);
}

static void
reattach_done(VxmSupervisor *self, HostJob *job, const GError *error)
{
  restored_lines(self, job);
  if (error != NULL) {
    restore_failed(self, "cannot give GPU %s back: %s", self->plan->gpu_address, error->message);
    step_end(self, job->step, "failed", error->message);
  } else {
    step_end(self, job->step, "ok", last_report_line(job));
  }
  restore_next(self);
}

static gboolean
release_job(VxmSupervisor *self, HostJob *job, GError **error)
{
  return vxm_host_ops_release_hugepages(self->ops, self->plan->paths->name, job->report, error);
}

static void
release_done(VxmSupervisor *self, HostJob *job, const GError *error)
{
  restored_lines(self, job);
  if (error != NULL) {
    restore_failed(self, "cannot give the hugepages back: %s", error->message);
    step_end(self, job->step, "failed", error->message);
  } else {
    self->hugepages_held = FALSE;
    step_end(self, job->step, "ok", last_report_line(job));
  }
  restore_next(self);
}

static gboolean
revoke_job(VxmSupervisor *self, HostJob *job, GError **error)
{
  return vxm_host_ops_revoke_devices(self->ops, self->plan->paths->name, job->report, error);
}

static void
revoke_done(VxmSupervisor *self, HostJob *job, const GError *error)
{
  restored_lines(self, job);
  if (error != NULL) {
    restore_failed(self, "cannot take the device nodes back: %s", error->message);
    step_end(self, job->step, "failed", error->message);
  } else {
    g_ptr_array_set_size(self->granted_nodes, 0);
    step_end(self, job->step, "ok", last_report_line(job));
  }
  restore_next(self);
}

static gboolean
restore_all_job(VxmSupervisor *self, HostJob *job, GError **error)
{
  static const char *const keep[] = {VXM_VFIO_JOURNAL_KIND, NULL};
  g_autoptr(GError) local_error = NULL;

  if (!vxm_host_ops_restore_all(self->ops, self->plan->paths->name,
                                self->plan->keep_bound ? keep : NULL, job->report, &local_error) &&
      !vxm_host_ops_error_is_unavailable(local_error)) {
    g_propagate_error(error, g_steal_pointer(&local_error));
    return FALSE;
  }
  return TRUE;
}

static void
restore_all_done(VxmSupervisor *self, HostJob *job, const GError *error)
{
  restored_lines(self, job);
  if (error != NULL)
    restore_failed(self, "the host is not fully restored: %s", error->message);
  if (self->restore_failures->len > 0) {
    g_string_truncate(self->restore_failures, self->restore_failures->len - 2);
    g_string_append(self->restore_failures, " (run `vxm recover` once the cause is fixed)");
    step_end(self, job->step, "failed", self->restore_failures->str);
    set_failure(self, self->restore_failures->str);
  } else {
    step_end(self, job->step, "ok", NULL);
  }
  teardown_one_done(self);
}

static void
restore_next(VxmSupervisor *self)
{
  switch (self->restore_stage++) {
  case 0:
    if (self->gpu_touched) {
      run_host_job(self, "reattach-gpu", reattach_job, reattach_done, NULL);
      return;
    }
    G_GNUC_FALLTHROUGH;
  case 1:
    self->restore_stage = 2;
    /* keep_bound: the reattach gave back everything but the binding and kept the journal
     * held for it; asking again would claim that journal */
    if (self->hugepages_tried && !(self->gpu_touched && self->plan->keep_bound)) {
      run_host_job(self, "release-hugepages", release_job, release_done, NULL);
      return;
    }
    G_GNUC_FALLTHROUGH;
  case 2:
    self->restore_stage = 3;
    if (self->devices_granted && !(self->gpu_touched && self->plan->keep_bound)) {
      run_host_job(self, "revoke-devices", revoke_job, revoke_done, NULL);
      return;
    }
    G_GNUC_FALLTHROUGH;
  default:
    self->restore_stage = 4;
    run_host_job(self, "restore-host", restore_all_job, restore_all_done, NULL);
    return;
  }
}

static void
on_swtpm_stopped(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VxmSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean killed = FALSE;

  if (!vxm_process_terminate_finish(VXM_PROCESS(source), result, &killed, &error))
    step_end(self, "stop-swtpm", "failed", error->message);
  else
    step_end(self, "stop-swtpm", "ok", killed ? "killed after the time limit" : NULL);
  teardown_one_done(self);
}

/* Once QEMU is gone (or never ran): everything given back, in parallel branches. */
static void
restore_host(VxmSupervisor *self)
{
  set_state(self, VXM_VM_STATE_RESTORING);
  self->teardown_pending = 2; /* this function's own share, released at the end */
  self->restore_stage = 0;
  restore_next(self);
  if (self->swtpm != NULL) {
    self->teardown_pending++;
    step_begin(self, "stop-swtpm");
    /* swtpm --terminate usually went with QEMU already: then this returns at once */
    vxm_process_terminate_async(self->swtpm, SIGTERM, SWTPM_STOP_TIMEOUT_MS, NULL, on_swtpm_stopped,
                                g_object_ref(self));
  }
  teardown_one_done(self);
}

static void
on_qemu_gone(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VxmSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!vxm_process_wait_finish(VXM_PROCESS(source), result, &error))
    sv_log(self, "waiting for QEMU: %s", error->message);
  if (self->monitor_busy) {
    /* the journal's undo would switch the monitor a second time under it */
    self->restore_waiting = TRUE;
    return;
  }
  restore_host(self);
}

static void
teardown(VxmSupervisor *self)
{
  if (self->tearing_down)
    return;
  self->tearing_down = TRUE;
  g_cancellable_cancel(self->cancellable);
  g_clear_handle_id(&self->powerdown_source, g_source_remove);
  stop_input_watch(self);
  stop_usb_watch(self);
  if (self->qemu != NULL && !vxm_process_has_exited(self->qemu)) {
    /* the monitor back to the host while QEMU goes (a QEMU that is already gone leaves it to
     * the journal's undo in restore_host) */
    if (self->monitor_switched)
      switch_monitor(self, FALSE);
    /* the devices can only go back once QEMU has let go of them */
    set_state(self, VXM_VM_STATE_STOPPING);
    self->quit_sent = FALSE;
    send_quit(self);
    vxm_process_wait_async(self->qemu, NULL, on_qemu_gone, g_object_ref(self));
    return;
  }
  if (self->monitor_busy) {
    /* a monitor switch still runs: the restore (and the journal's undo) waits for it */
    self->restore_waiting = TRUE;
    return;
  }
  restore_host(self);
}

/* ---- start ---- */

static void
fail_early(VxmSupervisor *self, const char *step, GError *error)
{
  step_end(self, step, "failed", error->message);
  set_failure(self, error->message);
  self->tearing_down = TRUE;
  set_state(self, VXM_VM_STATE_FAILED);
  g_signal_emit(self, signals[SIGNAL_FINISHED], 0);
}

void
vxm_supervisor_start(VxmSupervisor *self)
{
  const VxmVmPaths *paths = self->plan->paths;
  g_autoptr(GError) error = NULL;

  g_return_if_fail(VXM_IS_SUPERVISOR(self));
  g_return_if_fail(self->started == NULL);
  self->started = now_iso();
  if (g_mkdir_with_parents(paths->state_dir, 0700) == 0)
    self->log_fd = open(paths->vxm_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  sv_log(self, "starting VM %s (supervisor pid %d, %s)", paths->name, (int)getpid(),
         vxm_host_ops_describe(self->ops));
  {
    g_autoptr(JsonObject) event = json_object_new();

    json_object_set_string_member(event, "event", "state");
    json_object_set_string_member(event, "state", "preparing");
    emit_progress(self, event);
  }

  step_begin(self, "lock");
  if (!prepare_dirs(self, &error) || !check_gpu_conflict(self, &error)) {
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
  step_end(self, "lock", "ok", NULL);
  write_state_file(self);
  /* we hold the lock: sockets left by a dead run are stale */
  unlink(paths->qmp_socket);
  unlink(paths->swtpm_socket);

  take_inhibitor(self);
  self->pending = 1; /* this function's own share, released below */
  if (self->plan->gpu_address != NULL) {
    self->pending++;
    self->gpu_touched = TRUE;
    run_host_job(self, "detach-gpu", detach_job, detach_done, NULL);
  }
  if (self->plan->hugepage_size > 0 && self->plan->hugepage_count > 0) {
    self->pending++;
    run_host_job(self, "reserve-hugepages", reserve_job, reserve_done, NULL);
  }
  if (self->plan->input_nodes != NULL && self->plan->input_nodes[0] != NULL) {
    self->pending++;
    run_host_job(self, "grant-inputs", grant_job, grant_done,
                 (const char *const *)self->plan->input_nodes);
  }
  {
    g_autoptr(GStrvBuilder) usb = g_strv_builder_new();
    g_auto(GStrv) usb_nodes = NULL;

    for (guint i = 0; i < self->plan->usb_devices->len; i++) {
      const VxmUsbPassthrough *d = g_ptr_array_index(self->plan->usb_devices, i);

      if (d->node != NULL)
        g_strv_builder_add(usb, d->node);
    }
    usb_nodes = g_strv_builder_end(usb);
    if (usb_nodes[0] != NULL) {
      self->pending++;
      run_host_job(self, "grant-usb", grant_job, grant_done, (const char *const *)usb_nodes);
    }
  }
  if (self->plan->looking_glass_bytes > 0) {
    self->pending++;
    run_host_job(self, "prepare-looking-glass", looking_glass_job, looking_glass_done, NULL);
  }
  if (self->plan->swtpm_argv != NULL) {
    self->pending++;
    start_swtpm(self);
  }
  prepared_one(self);
}

/* ---- accessors and JSON ---- */

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
  MonitorState *state = monitor_state(self, i);
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
  if (!wants_monitor(self)) {
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
    gboolean alt = took_alternative_hugepages(self);
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
  g_autofree char *updated = now_iso();
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
  stop_input_watch(self);
  stop_usb_watch(self);
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
  self->monitor_states = g_ptr_array_new_with_free_func((GDestroyNotify)monitor_state_free);
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
