/* vxm-supervisor-qemu: the QEMU session: spawned paused (-S) as QEMU's user, its QMP socket and
 * handshake, the vCPU threads pinned, cont; its events and its exit; ACPI power-down and quit
 * (SIGTERM, then SIGKILL, when it does not go). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "cpu/vxm-cpu-list.h"
#include "cpu/vxm-cpu-pinning.h"
#include "qemu/vxm-socket-wait.h"
#include "supervisor/vxm-supervisor-private.h"

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
  vxm_sv_log(self, "QMP event %s %s", name, text);
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
    vxm_sv_write_state_file(self);
  }
}

static void
on_qmp_disconnected(VxmQmpClient *client, const GError *error, gpointer user_data)
{
  VxmSupervisor *self = user_data;

  (void)client;
  vxm_sv_log(self, "QMP connection closed%s%s", error ? ": " : "", error ? error->message : "");
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
    g_autofree char *message = vxm_sv_describe_exit(process, "QEMU", "at start");

    vxm_sv_step_end(self, "start-qemu", "failed", message);
    vxm_sv_set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
  } else if (self->stop_requested || self->quit_sent || self->tearing_down) {
    g_autofree char *message = vxm_sv_describe_exit(process, "QEMU", "after it was asked to stop");

    vxm_sv_log(self, "%s", message);
  } else if (self->state == VXM_VM_STATE_STARTING) {
    g_autofree char *message = vxm_sv_describe_exit(process, "QEMU", "at start");

    vxm_sv_step_end(self, "start-qemu", "failed", message);
    vxm_sv_set_failure(self, message);
    g_cancellable_cancel(self->cancellable);
  } else if (self->state == VXM_VM_STATE_RUNNING) {
    gboolean clean = vxm_process_get_exit_status(process) == 0;
    g_autofree char *message = vxm_sv_describe_exit(process, "QEMU", "while the VM ran");

    if (clean)
      vxm_sv_log(self, "QEMU exited: the guest shut down");
    else
      vxm_sv_set_failure(self, message);
  }
  if (self->monitor_failure != NULL)
    vxm_sv_set_failure(self, self->monitor_failure);
  if (self->shutdown_step) {
    self->shutdown_step = FALSE;
    vxm_sv_step_end(self, "shutdown-guest", "ok",
                    self->powerdown_timed_out ? "no ACPI shutdown within the time limit: QEMU quit"
                    : self->quit_sent         ? "QEMU quit"
                                              : "the guest shut down");
  }
  g_clear_pointer(&self->run_state, g_free);
  self->run_state = g_strdup("exited");
  if (self->qmp != NULL)
    vxm_qmp_client_close(self->qmp);
  vxm_sv_teardown(self);
}

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

    vxm_sv_step_end(self, "cont", "failed", message);
    vxm_sv_set_failure(self, message);
    vxm_sv_send_quit(self);
    return;
  }
  vxm_sv_step_end(self, "cont", "ok", NULL);
  if (g_strcmp0(self->run_state, "prelaunch") == 0 || self->run_state == NULL) {
    g_free(self->run_state);
    self->run_state = g_strdup("running");
  }
  vxm_sv_set_state(self, VXM_VM_STATE_RUNNING);
  vxm_sv_start_input_watch(self);
  vxm_sv_start_usb_watch(self);
  vxm_sv_switch_monitor(self, TRUE);
  if (self->stop_requested)
    vxm_supervisor_stop(self, FALSE, -1);
}

static void
send_cont(VxmSupervisor *self)
{
  vxm_sv_step_begin(self, "cont");
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

    vxm_sv_step_end(self, "pin-vcpus", "skipped", message);
    if (self->stop_requested)
      vxm_sv_send_quit(self);
    else
      send_cont(self);
    return;
  }
  if (error != NULL) {
    /* the guest must not run on other CPUs than the plan says */
    g_autofree char *message = g_strdup_printf("vCPU pinning failed: %s", error->message);

    vxm_sv_step_end(self, "pin-vcpus", "failed", message);
    vxm_sv_set_failure(self, message);
    vxm_sv_send_quit(self);
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
    vxm_sv_step_end(self, "pin-vcpus", "ok", text->str);
  }
  if (self->stop_requested) {
    vxm_sv_send_quit(self);
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

      vxm_sv_step_end(self, "qmp", "failed", message);
      self->monitor_failure = g_strdup(message);
      vxm_sv_send_quit(self);
    }
    return;
  }
  vxm_sv_step_end(self, "qmp", "ok", NULL);
  if (self->stop_requested) {
    vxm_sv_send_quit(self);
    return;
  }
  if (self->plan->pinning != NULL && self->plan->pinning->pinned) {
    vxm_sv_step_begin(self, "pin-vcpus");
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

      vxm_sv_step_end(self, "start-qemu", "failed", message);
      self->monitor_failure = g_strdup(message);
    }
    vxm_sv_send_quit(self);
    return;
  }
  vxm_sv_step_end(self, "start-qemu", "ok", NULL);
  self->qmp = vxm_qmp_client_new_for_fd(fd, &error);
  if (self->qmp == NULL) {
    vxm_sv_set_failure(self, error->message);
    vxm_sv_send_quit(self);
    return;
  }
  g_signal_connect(self->qmp, "event", G_CALLBACK(on_qmp_event), self);
  g_signal_connect(self->qmp, "disconnected", G_CALLBACK(on_qmp_disconnected), self);
  vxm_sv_step_begin(self, "qmp");
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
gboolean
vxm_sv_took_alternative_hugepages(VxmSupervisor *self)
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
  if (plan->qemu_argv_alt != NULL && vxm_sv_took_alternative_hugepages(self))
    return plan->qemu_argv_alt;
  return plan->qemu_argv;
}

void
vxm_sv_start_qemu(VxmSupervisor *self)
{
  g_auto(GStrv) argv = qemu_argv_paused(planned_argv(self));
  g_autoptr(GError) error = NULL;
  g_autofree char *joined = g_strjoinv(" ", argv);

  vxm_sv_set_state(self, VXM_VM_STATE_STARTING);
  vxm_sv_step_begin(self, "start-qemu");
  vxm_sv_log(self, "QEMU argv: %s", joined);
  unlink(self->plan->paths->qmp_socket);
  self->qemu = vxm_process_spawn_as(
      (const char *const *)argv, (const char *const *)self->plan->qemu_envp, NULL, 0,
      self->plan->paths->qemu_log, VXM_PROCESS_NEW_PROCESS_GROUP | VXM_PROCESS_KILL_WITH_PARENT,
      self->run_as, &error);
  if (self->qemu == NULL) {
    g_autofree char *message = g_strdup_printf("cannot start QEMU: %s", error->message);

    vxm_sv_step_end(self, "start-qemu", "failed", message);
    vxm_sv_set_failure(self, message);
    vxm_sv_teardown(self);
    return;
  }
  vxm_sv_log(self, "QEMU pid %d", vxm_process_get_pid(self->qemu));
  self->run_state = g_strdup("prelaunch");
  vxm_sv_write_state_file(self);
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
    vxm_sv_log(self, "cannot end %s: %s", vxm_process_get_name(VXM_PROCESS(source)),
               error->message);
  else if (killed)
    vxm_sv_log(self, "%s did not end on SIGTERM: killed",
               vxm_process_get_name(VXM_PROCESS(source)));
}

static gboolean
on_quit_timeout(gpointer user_data)
{
  VxmSupervisor *self = user_data;

  self->quit_source = 0;
  vxm_sv_log(self, "QEMU still runs %u ms after quit: SIGTERM", self->plan->quit_timeout_ms);
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
    vxm_sv_log(self, "quit: %s", error->message);
}

/* Ends QEMU: QMP quit when the monitor is up, else SIGTERM; SIGKILL when it lingers. */
void
vxm_sv_send_quit(VxmSupervisor *self)
{
  g_clear_handle_id(&self->powerdown_source, g_source_remove);
  if (self->qemu == NULL || vxm_process_has_exited(self->qemu)) {
    if (self->qemu == NULL && self->pending == 0)
      vxm_sv_teardown(self);
    return;
  }
  if (self->quit_sent)
    return;
  self->quit_sent = TRUE;
  if (self->qmp != NULL && vxm_qmp_client_is_ready(self->qmp)) {
    vxm_sv_log(self, "QMP quit");
    vxm_qmp_client_execute_async(self->qmp, "quit", NULL, 0, NULL, on_quit_reply,
                                 g_object_ref(self));
    self->quit_source = g_timeout_add(self->plan->quit_timeout_ms, on_quit_timeout, self);
  } else {
    vxm_sv_log(self, "QEMU's monitor is not up: SIGTERM");
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
  vxm_sv_log(self, "the guest did not shut down within the time limit: quit");
  vxm_sv_send_quit(self);
  return G_SOURCE_REMOVE;
}

static void
on_powerdown_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VxmSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = vxm_qmp_client_execute_finish(VXM_QMP_CLIENT(source), result, &error);

  if (reply == NULL && !self->tearing_down) {
    vxm_sv_log(self, "system_powerdown: %s: quit", error->message);
    vxm_sv_send_quit(self);
  }
}

void
vxm_sv_powerdown(VxmSupervisor *self, guint limit_s)
{
  vxm_sv_log(self, "ACPI power-down, quit in %u s if the guest has not shut down", limit_s);
  vxm_qmp_client_execute_async(self->qmp, "system_powerdown", NULL, 0, NULL, on_powerdown_reply,
                               g_object_ref(self));
  /* g_timeout_add_seconds may fire up to a second early: the guest gets its whole time */
  self->powerdown_source = g_timeout_add(limit_s * 1000, on_powerdown_timeout, self);
}
