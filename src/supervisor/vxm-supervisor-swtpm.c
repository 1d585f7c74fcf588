/* vxm-supervisor-swtpm: the TPM emulator: spawned beside the preparation, ready when its
 * socket answers, its exit (a failure before QEMU runs, QEMU's own exit seen from the other
 * side after), stopped at teardown. */
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qemu/vxm-socket-wait.h"
#include "supervisor/vxm-supervisor-private.h"

#define SWTPM_SOCKET_TIMEOUT_MS 10000
#define SWTPM_STOP_TIMEOUT_MS   2000

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
    vxm_sv_log(self, "swtpm ended with QEMU's connection");
    return;
  }
  message = vxm_sv_describe_exit(
      process, "swtpm", self->state == VXM_VM_STATE_PREPARING ? "at start" : "while the VM ran");
  vxm_sv_log(self, "%s", message);
  vxm_sv_set_failure(self, message);
  if (self->state == VXM_VM_STATE_PREPARING) {
    g_cancellable_cancel(self->cancellable); /* its socket wait ends, prepared_one follows */
  } else if (self->qemu != NULL && !vxm_process_has_exited(self->qemu)) {
    /* without its TPM the guest cannot go on: stop it */
    vxm_sv_send_quit(self);
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
      vxm_sv_log(self, "cannot set mode 0600 on %s: %s", self->plan->paths->swtpm_socket,
                 g_strerror(errno));
    vxm_sv_step_end(self, "start-swtpm", "ok", NULL);
  } else if (self->failure != NULL && vxm_process_has_exited(self->swtpm)) {
    vxm_sv_step_end(self, "start-swtpm", "failed", self->failure);
  } else if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    vxm_sv_step_end(self, "start-swtpm", "failed", "abandoned");
  } else {
    g_autofree char *log = vxm_vm_paths_display(self->plan->paths->swtpm_log);
    g_autofree char *message =
        g_strdup_printf("swtpm did not open its socket: %s: read %s", error->message, log);

    vxm_sv_step_end(self, "start-swtpm", "failed", message);
    vxm_sv_set_failure(self, message);
  }
  vxm_sv_prepared_one(self);
}

void
vxm_sv_start_swtpm(VxmSupervisor *self)
{
  g_autoptr(GError) error = NULL;

  vxm_sv_step_begin(self, "start-swtpm");
  /* a dead supervisor must not leave it: PDEATHSIG, and --terminate when QEMU goes */
  self->swtpm = vxm_process_spawn_as(
      (const char *const *)self->plan->swtpm_argv, (const char *const *)self->plan->swtpm_envp,
      NULL, 0, self->plan->paths->swtpm_log,
      VXM_PROCESS_NEW_PROCESS_GROUP | VXM_PROCESS_KILL_WITH_PARENT, self->run_as, &error);
  if (self->swtpm == NULL) {
    g_autofree char *message = g_strdup_printf("cannot start swtpm: %s", error->message);

    vxm_sv_step_end(self, "start-swtpm", "failed", message);
    vxm_sv_set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
    vxm_sv_prepared_one(self);
    return;
  }
  vxm_sv_log(self, "swtpm pid %d", vxm_process_get_pid(self->swtpm));
  g_signal_connect(self->swtpm, "exited", G_CALLBACK(on_swtpm_exited), self);
  vxm_wait_for_socket_async(self->plan->paths->swtpm_socket, SWTPM_SOCKET_TIMEOUT_MS,
                            self->cancellable, on_swtpm_socket, g_object_ref(self));
}

static void
on_swtpm_stopped(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VxmSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean killed = FALSE;

  if (!vxm_process_terminate_finish(VXM_PROCESS(source), result, &killed, &error))
    vxm_sv_step_end(self, "stop-swtpm", "failed", error->message);
  else
    vxm_sv_step_end(self, "stop-swtpm", "ok", killed ? "killed after the time limit" : NULL);
  vxm_sv_teardown_one_done(self);
}

/* swtpm --terminate usually went with QEMU already: then this ends at once. */
void
vxm_sv_stop_swtpm(VxmSupervisor *self)
{
  if (self->swtpm == NULL)
    return;
  self->teardown_pending++;
  vxm_sv_step_begin(self, "stop-swtpm");
  vxm_process_terminate_async(self->swtpm, SIGTERM, SWTPM_STOP_TIMEOUT_MS, NULL, on_swtpm_stopped,
                              g_object_ref(self));
}
