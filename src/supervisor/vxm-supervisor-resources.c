/* vxm-supervisor-resources: what the start takes from the host and the teardown gives back,
 * as a table of resources (the GPU, hugepages, device nodes, the rest of the journal), each
 * with its preparation, its release and its keep_bound policy; plus the preparation that
 * gives nothing back: the GPU conflict check, the VM's files, RLIMIT_MEMLOCK. Host changes go
 * through VxmHostOps (whose calls block: each runs in a worker thread as one step). */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "pci/vxm-vfio.h"
#include "supervisor/vxm-supervisor-private.h"
#include "usb/vxm-usb-device.h"
#include "vm/vxm-vm-lock.h"

/* ---- preparing: conflicts and the lock ---- */

/* Refuses when another VM with the same GPU is running (its lock is held). */
gboolean
vxm_sv_check_gpu_conflict(VxmSupervisor *self, GError **error)
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
    vxm_sv_log(self, "cannot read the host's journals: %s", local_error->message);
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

gboolean
vxm_sv_prepare_dirs(VxmSupervisor *self, GError **error)
{
  const VxmVmPaths *paths = self->plan->paths;

  /* invariant 4: as root, QEMU and swtpm run as the sudo user, or the start is refused */
  g_clear_pointer(&self->run_as, vxm_run_as_free);
  if (!vxm_run_as_for_children(&self->run_as, error))
    return FALSE;
  if (self->run_as != NULL)
    vxm_sv_log(self, "QEMU and swtpm run as user %s (uid %u, gid %u), who invoked sudo",
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
    vxm_sv_log(self, "  %s", (const char *)g_ptr_array_index(job->report, i));
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
  vxm_sv_step_begin(self, step);
  g_task_run_in_thread(task, host_job_thread);
}

static const char *
last_report_line(HostJob *job)
{
  return job->report->len > 0 ? g_ptr_array_index(job->report, job->report->len - 1) : NULL;
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
  self->held[VXM_SV_RESOURCE_DEVICES] = TRUE; /* even a failed grant may have given some: revoke */
  if (error != NULL) {
    g_autofree char *message =
        g_strdup_printf("cannot give the device nodes to QEMU's user: %s", error->message);

    vxm_sv_step_end(self, job->step, "failed", message);
    vxm_sv_set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
  } else {
    g_autofree char *list = g_strjoinv(", ", job->nodes);

    for (guint i = 0; job->nodes[i] != NULL; i++)
      g_ptr_array_add(self->granted_nodes, g_strdup(job->nodes[i]));
    vxm_sv_step_end(self, job->step, "ok", list);
  }
  vxm_sv_prepared_one(self);
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

  self->held[VXM_SV_RESOURCE_HUGEPAGES] = TRUE;
  if (error == NULL && self->hugepages_reserved != plan->hugepage_size &&
      (self->hugepages_reserved != plan->hugepage_alt_size || plan->qemu_argv_alt == NULL)) {
    /* pages QEMU's argv does not name: its backend would not match them */
    g_autofree char *message = g_strdup_printf(
        "cannot reserve hugepages: %" G_GUINT64_FORMAT " KiB pages were reserved where the plan "
        "has %" G_GUINT64_FORMAT " KiB ones: start the VM again (vxm start plans anew)",
        self->hugepages_reserved >> 10, plan->hugepage_size >> 10);

    self->hugepages_held = TRUE; /* teardown gives them back */
    vxm_sv_step_end(self, job->step, "failed", message);
    vxm_sv_set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
  } else if (error == NULL) {
    self->hugepages_held = TRUE;
    vxm_sv_step_end(self, job->step, "ok", last_report_line(job));
  } else if (g_error_matches(error, VXM_ERROR, VXM_ERROR_NO_SPACE) && plan->hugepages_fallback &&
             plan->qemu_argv_fallback != NULL) {
    /* the engine gave the pool back: the guest runs on normal memory */
    g_autofree char *message =
        g_strdup_printf("%s; starting with normal memory (hugepages_fallback)", error->message);

    self->hugepages_fell_back = TRUE;
    vxm_sv_step_end(self, job->step, "skipped", message);
  } else {
    g_autofree char *message = g_strdup_printf("cannot reserve hugepages: %s", error->message);

    vxm_sv_step_end(self, job->step, "failed", message);
    vxm_sv_set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
  }
  vxm_sv_prepared_one(self);
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

    vxm_sv_step_end(self, job->step, "failed", message);
    vxm_sv_set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
  } else {
    vxm_sv_step_end(self, job->step, "ok", last_report_line(job));
  }
  vxm_sv_prepared_one(self);
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

    vxm_sv_step_end(self, job->step, "failed", message);
    vxm_sv_set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
  } else {
    g_autofree char *summary =
        g_strdup_printf("%s and its functions on vfio-pci", self->plan->gpu_address);

    vxm_sv_step_end(self, job->step, "ok", summary);
    if (self->plan->vfio_nodes != NULL && self->plan->vfio_nodes[0] != NULL &&
        !self->stop_requested) {
      /* the group's node exists once the group is on vfio-pci; this branch stays pending */
      run_host_job(self, "grant-vfio", grant_job, grant_done,
                   (const char *const *)self->plan->vfio_nodes);
      return;
    }
  }
  vxm_sv_prepared_one(self);
}

/* ---- the table ---- */

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

static void restore_next(VxmSupervisor *self);

/* One release ended: its lines join what was restored, a failure (@what: what could not be
 * given back) is kept for restore-host's summary, and the next resource goes on. */
static void
release_ended(VxmSupervisor *self, HostJob *job, const GError *error, const char *what)
{
  restored_lines(self, job);
  if (error != NULL) {
    restore_failed(self, "%s: %s", what, error->message);
    vxm_sv_step_end(self, job->step, "failed", error->message);
  } else {
    vxm_sv_step_end(self, job->step, "ok", last_report_line(job));
  }
  restore_next(self);
}

/* gpu: detach-gpu (then grant-vfio) / reattach-gpu */

static void
prepare_gpu(VxmSupervisor *self)
{
  if (self->plan->gpu_address == NULL)
    return;
  self->pending++;
  self->held[VXM_SV_RESOURCE_GPU] = TRUE; /* a detach that fails half way is reattached */
  run_host_job(self, "detach-gpu", detach_job, detach_done, NULL);
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
  g_autofree char *what = g_strdup_printf("cannot give GPU %s back", self->plan->gpu_address);

  release_ended(self, job, error, what);
}

/* hugepages: reserve-hugepages / release-hugepages (their previous count) */

static void
prepare_hugepages(VxmSupervisor *self)
{
  if (self->plan->hugepage_size == 0 || self->plan->hugepage_count == 0)
    return;
  self->pending++;
  run_host_job(self, "reserve-hugepages", reserve_job, reserve_done, NULL);
}

static gboolean
release_job(VxmSupervisor *self, HostJob *job, GError **error)
{
  return vxm_host_ops_release_hugepages(self->ops, self->plan->paths->name, job->report, error);
}

static void
release_done(VxmSupervisor *self, HostJob *job, const GError *error)
{
  if (error == NULL)
    self->hugepages_held = FALSE;
  release_ended(self, job, error, "cannot give the hugepages back");
}

/* devices: grant-inputs, grant-usb (grant-vfio follows the detach) / revoke-devices (owner,
 * group and mode back) */

static void
prepare_devices(VxmSupervisor *self)
{
  g_autoptr(GStrvBuilder) usb = g_strv_builder_new();
  g_auto(GStrv) usb_nodes = NULL;

  if (self->plan->input_nodes != NULL && self->plan->input_nodes[0] != NULL) {
    self->pending++;
    run_host_job(self, "grant-inputs", grant_job, grant_done,
                 (const char *const *)self->plan->input_nodes);
  }
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

static gboolean
revoke_job(VxmSupervisor *self, HostJob *job, GError **error)
{
  return vxm_host_ops_revoke_devices(self->ops, self->plan->paths->name, job->report, error);
}

static void
revoke_done(VxmSupervisor *self, HostJob *job, const GError *error)
{
  if (error == NULL)
    g_ptr_array_set_size(self->granted_nodes, 0);
  release_ended(self, job, error, "cannot take the device nodes back");
}

/* journal: prepare-looking-glass / restore-host: whatever the journal still holds (the Looking
 * Glass file, a monitor input), then the journal cleared; the last release, whose step says
 * whether the host is whole */

static void
prepare_journal(VxmSupervisor *self)
{
  self->held[VXM_SV_RESOURCE_JOURNAL] = TRUE; /* the engines journal every host change */
  if (self->plan->looking_glass_bytes == 0)
    return;
  self->pending++;
  run_host_job(self, "prepare-looking-glass", looking_glass_job, looking_glass_done, NULL);
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
    vxm_sv_step_end(self, job->step, "failed", self->restore_failures->str);
    vxm_sv_set_failure(self, self->restore_failures->str);
  } else {
    vxm_sv_step_end(self, job->step, "ok", NULL);
  }
  restore_next(self);
}

/* What keep_bound (the GPU stays on vfio-pci after the VM) does to a resource. */
typedef enum {
  /* its own release is told (plan->keep_bound): the GPU's reattach gives back everything but
   * the binding and keeps the journal held for it; restore-host spares that journal */
  KEEP_BOUND_TOLD,
  /* not released when the GPU was kept bound: the reattach kept the journal held for it, and
   * releasing again would claim that journal */
  KEEP_BOUND_LEFT,
} KeepBound;

typedef struct {
  const char *name;
  void (*prepare)(VxmSupervisor *self); /* begins its preparation branches (self->pending) */
  const char *restore_step;
  HostJobFunc restore;  /* in a worker thread */
  HostJobDone restored; /* on the main loop; goes on with the next resource */
  KeepBound keep_bound;
} Resource;

/* The host's resources, prepared in parallel in this order (each step begins in it) and given
 * back one after another in the same order, once QEMU has let go of them: the GPU first, whose
 * reattach with keep_bound decides what the others may still release, the journal's sweep last.
 * A release that fails is reported and the next still runs; the journal keeps what is left for
 * `vxm recover`. Indexed by VxmSvResource. */
static const Resource resources[VXM_SV_N_RESOURCES] = {
    [VXM_SV_RESOURCE_GPU] = {"gpu", prepare_gpu, "reattach-gpu", reattach_job, reattach_done,
                             KEEP_BOUND_TOLD},
    [VXM_SV_RESOURCE_HUGEPAGES] = {"hugepages", prepare_hugepages, "release-hugepages", release_job,
                                   release_done, KEEP_BOUND_LEFT},
    [VXM_SV_RESOURCE_DEVICES] = {"devices", prepare_devices, "revoke-devices", revoke_job,
                                 revoke_done, KEEP_BOUND_LEFT},
    [VXM_SV_RESOURCE_JOURNAL] = {"journal", prepare_journal, "restore-host", restore_all_job,
                                 restore_all_done, KEEP_BOUND_TOLD},
};

void
vxm_sv_prepare_resources(VxmSupervisor *self)
{
  for (guint i = 0; i < G_N_ELEMENTS(resources); i++)
    resources[i].prepare(self);
}

static gboolean
kept_bound(VxmSupervisor *self)
{
  return self->held[VXM_SV_RESOURCE_GPU] && self->plan->keep_bound;
}

/* The next held resource's release (self->restore_stage: the table index), or the end of this
 * teardown branch. */
static void
restore_next(VxmSupervisor *self)
{
  while (self->restore_stage < G_N_ELEMENTS(resources)) {
    const Resource *r = &resources[self->restore_stage++];

    if (!self->held[r - resources] || (r->keep_bound == KEEP_BOUND_LEFT && kept_bound(self)))
      continue;
    run_host_job(self, r->restore_step, r->restore, r->restored, NULL);
    return;
  }
  vxm_sv_teardown_one_done(self);
}

void
vxm_sv_restore_resources(VxmSupervisor *self)
{
  self->restore_stage = 0;
  restore_next(self);
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
    vxm_sv_step_end(self, job->step, "ok", last_report_line(job));
  } else if (self->plan->gpu_address == NULL || !vxm_hostfs_is_real(self->hostfs)) {
    /* nothing is pinned without VFIO (a simulated host passes no device through) */
    self->memlock_warning =
        g_strdup_printf("RLIMIT_MEMLOCK stays as it is (%s; %s would be needed with VFIO): %s",
                        self->plan->gpu_address == NULL ? "no passthrough" : "simulated host", size,
                        error->message);
    vxm_sv_step_end(self, job->step, "skipped", self->memlock_warning);
  } else {
    g_autofree char *message = g_strdup_printf(
        "cannot raise RLIMIT_MEMLOCK to %s, which VFIO needs to pin the guest's RAM: %s: run "
        "vxm start as root with CAP_SYS_RESOURCE (or through vxmd), or raise the limit for "
        "your user (LimitMEMLOCK= in systemd, memlock in /etc/security/limits.conf)",
        size, error->message);

    vxm_sv_step_end(self, job->step, "failed", message);
    vxm_sv_set_failure(self, message);
    vxm_sv_teardown(self);
    return;
  }
  if (self->stop_requested) {
    vxm_sv_teardown(self);
    return;
  }
  vxm_sv_start_qemu(self);
}

void
vxm_sv_raise_memlock(VxmSupervisor *self)
{
  if (self->plan->memlock_bytes == 0) {
    vxm_sv_start_qemu(self);
    return;
  }
  run_host_job(self, "raise-memlock", memlock_job, memlock_done, NULL);
}
