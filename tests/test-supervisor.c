/* The supervisor's logic: a fake QEMU (tests/vxm-fake-qemu.c, real QMP over a real socket),
 * the real swtpm, and host steps recorded by a test VxmHostOps. */
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "supervisor/vxm-control-client.h"
#include "supervisor/vxm-control-server.h"
#include "supervisor/vxm-supervisor.h"
#include "vm/vxm-vm-lock.h"
#include "vxm-test-util.h"

#define GPU "0000:01:00.0"

/* ---- a VxmHostOps that records what it was asked ---- */

#define TEST_TYPE_OPS (test_ops_get_type())
G_DECLARE_FINAL_TYPE(TestOps, test_ops, TEST, OPS, GObject)

struct _TestOps {
  GObject parent_instance;
  GMutex lock;
  GPtrArray *calls;
  gboolean fail_detach;
};

static void test_ops_iface_init(VxmHostOpsInterface *iface);
G_DEFINE_TYPE_WITH_CODE(TestOps, test_ops, G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(VXM_TYPE_HOST_OPS, test_ops_iface_init))

static void
record(TestOps *self, const char *call)
{
  g_mutex_lock(&self->lock);
  g_ptr_array_add(self->calls, g_strdup(call));
  g_mutex_unlock(&self->lock);
}

static gboolean
ops_detach(VxmHostOps *ops, const char *vm, const VxmHostOpsGpu *gpu, GPtrArray *report,
           GError **error)
{
  TestOps *self = TEST_OPS(ops);
  g_autofree char *call = g_strdup_printf("detach %s %s", vm, gpu->gpu_address);

  record(self, call);
  if (self->fail_detach) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED, "a process holds the card");
    return FALSE;
  }
  g_ptr_array_add(report, g_strdup("0000:01:00.0: nvidia -> vfio-pci"));
  return TRUE;
}

static gboolean
ops_reattach(VxmHostOps *ops, const char *vm, const VxmHostOpsGpu *gpu, GPtrArray *report,
             GError **error)
{
  g_autofree char *call = g_strdup_printf("reattach %s %s", vm, gpu->gpu_address);

  (void)error;
  record(TEST_OPS(ops), call);
  g_ptr_array_add(report, g_strdup("0000:01:00.0: vfio-pci -> nvidia"));
  return TRUE;
}

static gboolean
ops_restore_all(VxmHostOps *ops, const char *vm, const char *const *skip, GPtrArray *report,
                GError **error)
{
  g_autofree char *call = g_strdup_printf("restore %s", vm);

  (void)skip;
  (void)report;
  (void)error;
  record(TEST_OPS(ops), call);
  return TRUE;
}

static gboolean
ops_switch_monitor(VxmHostOps *ops, const char *vm, const char *monitor, const char *gpu_address,
                   guint input, guint host_input, gboolean to_guest, GPtrArray *report,
                   GError **error)
{
  g_autofree char *call =
      g_strdup_printf("monitor %s %s %s 0x%02x (host 0x%02x) %s", vm, monitor, gpu_address, input,
                      host_input, to_guest ? "guest" : "host");

  (void)error;
  record(TEST_OPS(ops), call);
  g_ptr_array_add(report, g_strdup("DELL U2720Q switched"));
  return TRUE;
}

static void
test_ops_iface_init(VxmHostOpsInterface *iface)
{
  iface->switch_monitor = ops_switch_monitor;
  iface->detach_gpu = ops_detach;
  iface->reattach_gpu = ops_reattach;
  iface->restore_all = ops_restore_all;
}

static void
test_ops_finalize(GObject *object)
{
  TestOps *self = TEST_OPS(object);

  g_ptr_array_unref(self->calls);
  g_mutex_clear(&self->lock);
  G_OBJECT_CLASS(test_ops_parent_class)->finalize(object);
}

static void
test_ops_class_init(TestOpsClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = test_ops_finalize;
}

static void
test_ops_init(TestOps *self)
{
  g_mutex_init(&self->lock);
  self->calls = g_ptr_array_new_with_free_func(g_free);
}

static char *
calls_joined(TestOps *ops)
{
  g_autoptr(GString) s = g_string_new(NULL);

  g_mutex_lock(&ops->lock);
  for (guint i = 0; i < ops->calls->len; i++)
    g_string_append_printf(s, "%s%s", i ? "; " : "", (char *)g_ptr_array_index(ops->calls, i));
  g_mutex_unlock(&ops->lock);
  return g_string_free(g_steal_pointer(&s), FALSE);
}

/* ---- fixture ---- */

typedef struct {
  char *tmp;
  TestOps *ops;
  GPtrArray *states; /* state names in the order the supervisor announced them */
  GPtrArray *steps;  /* "step=status" of every step event */
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
  (void)data;
  f->tmp = vxm_test_mkdtemp();
  for (guint i = 0; i < 4; i++) {
    static const char *const vars[] = {"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
                                       "XDG_RUNTIME_DIR"};
    g_autofree char *dir = g_build_filename(f->tmp, vars[i], NULL);

    g_mkdir_with_parents(dir, 0700);
    g_setenv(vars[i], dir, TRUE);
  }
  f->ops = g_object_new(TEST_TYPE_OPS, NULL);
  f->states = g_ptr_array_new_with_free_func(g_free);
  f->steps = g_ptr_array_new_with_free_func(g_free);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
  g_clear_pointer(&f->steps, g_ptr_array_unref);
  (void)data;
  g_clear_object(&f->ops);
  g_ptr_array_unref(f->states);
  vxm_test_rm_rf(f->tmp);
  g_free(f->tmp);
}

static VxmSupervisorPlan *
make_plan(const char *name, const char *mode, gboolean tpm)
{
  g_autoptr(GError) error = NULL;
  VxmSupervisorPlan *plan = vxm_supervisor_plan_new(name, &error);
  g_autofree char *fake = vxm_test_build_path("tests/vxm-fake-qemu");
  g_autofree char *qmp = NULL;
  g_autofree char *mode_env = g_strdup_printf("FAKE_QEMU_MODE=%s", mode);

  g_assert_no_error(error);
  qmp = g_strdup_printf("unix:%s,server=on,wait=off", plan->paths->qmp_socket);
  plan->gpu_address = g_strdup(GPU);
  plan->qemu_argv = g_strdupv((char *[]){fake, "-S", "-qmp", qmp, NULL});
  plan->qemu_envp = g_strdupv((char *[]){mode_env, NULL});
  if (tpm) {
    g_autofree char *state = g_strdup_printf("dir=%s,mode=0600", plan->paths->tpm_dir);
    g_autofree char *ctrl =
        g_strdup_printf("type=unixio,path=%s,mode=0600", plan->paths->swtpm_socket);
    g_autofree char *log = g_strdup_printf("file=%s", plan->paths->swtpm_log);

    plan->swtpm_argv = g_strdupv((char *[]){"swtpm", "socket", "--tpm2", "--tpmstate", state,
                                            "--ctrl", ctrl, "--terminate", "--log", log, NULL});
  }
  plan->shutdown_timeout_s = 1;
  plan->quit_timeout_ms = 2000;
  plan->qmp_timeout_ms = 5000;
  return plan;
}

static void
on_progress(VxmSupervisor *sv, JsonObject *event, gpointer user_data)
{
  Fixture *f = user_data;

  (void)sv;
  if (g_strcmp0(json_object_get_string_member(event, "event"), "state") == 0)
    g_ptr_array_add(f->states, g_strdup(json_object_get_string_member(event, "state")));
  if (g_strcmp0(json_object_get_string_member(event, "event"), "step") == 0 &&
      json_object_has_member(event, "status"))
    g_ptr_array_add(f->steps, g_strdup_printf("%s=%s", json_object_get_string_member(event, "step"),
                                              json_object_get_string_member(event, "status")));
}

static VxmSupervisor *
new_supervisor(Fixture *f, VxmSupervisorPlan *plan)
{
  VxmSupervisor *sv = vxm_supervisor_new(VXM_HOST_OPS(f->ops), plan);

  g_signal_connect(sv, "progress", G_CALLBACK(on_progress), f);
  return sv;
}

static gboolean
on_hang(gpointer data)
{
  (void)data;
  g_error("the supervisor did not reach the expected state in 30 s");
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until the supervisor is in @state or final (a guard against hangs, not a
 * timed assertion). */
static void
run_until(VxmSupervisor *sv, VxmVmState state)
{
  guint guard = g_timeout_add_seconds(30, on_hang, NULL);

  while (vxm_supervisor_get_state(sv) != state &&
         !vxm_vm_state_is_final(vxm_supervisor_get_state(sv)))
    g_main_context_iteration(NULL, TRUE);
  g_source_remove(guard);
}

static char *
states_joined(Fixture *f)
{
  g_autoptr(GString) s = g_string_new(NULL);

  for (guint i = 0; i < f->states->len; i++)
    g_string_append_printf(s, "%s%s", i ? " " : "", (char *)g_ptr_array_index(f->states, i));
  return g_string_free(g_steal_pointer(&s), FALSE);
}

static char *
read_text(const char *path)
{
  char *text = NULL;

  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  return text;
}

static void
assert_cleaned_up(VxmSupervisor *sv)
{
  const VxmSupervisorPlan *plan = vxm_supervisor_get_plan(sv);

  g_assert_false(vxm_vm_is_running(plan->paths));
  g_assert_false(g_file_test(plan->paths->qmp_socket, G_FILE_TEST_EXISTS));
  g_assert_false(g_file_test(plan->paths->swtpm_socket, G_FILE_TEST_EXISTS));
  g_assert_cmpint(vxm_supervisor_get_qemu_pid(sv), ==, 0);
  g_assert_cmpint(vxm_supervisor_get_swtpm_pid(sv), ==, 0);
}

/* ---- tests ---- */

static void
test_start_stop(Fixture *f, gconstpointer data)
{
  VxmSupervisorPlan *plan = make_plan("win11", "normal", TRUE);
  g_autoptr(VxmSupervisor) sv = new_supervisor(f, plan);
  g_autofree char *state_file = vxm_supervisor_state_file(plan->paths);
  g_autoptr(JsonNode) status = NULL;
  g_autofree char *calls = NULL;
  g_autofree char *states = NULL;
  struct stat st;

  (void)data;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_RUNNING);
  g_assert_cmpstr(vxm_supervisor_get_failure(sv), ==, NULL);
  g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_RUNNING);
  g_assert_cmpstr(vxm_supervisor_get_run_state(sv), ==, "running");
  g_assert_true(vxm_vm_is_running(plan->paths));
  g_assert_cmpint(vxm_supervisor_get_qemu_pid(sv), >, 0);
  g_assert_cmpint(vxm_supervisor_get_swtpm_pid(sv), >, 0);
  /* swtpm: private state, private socket */
  g_assert_cmpint(stat(plan->paths->tpm_dir, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0700);
  g_assert_cmpint(stat(plan->paths->swtpm_socket, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);
  /* the state file tells `vxm status` */
  status = vxm_vm_state_file_read(state_file, NULL);
  g_assert_nonnull(status);
  g_assert_cmpstr(json_object_get_string_member(json_node_get_object(status), "state"), ==,
                  "running");

  vxm_supervisor_stop(sv, FALSE, -1);
  run_until(sv, VXM_VM_STATE_STOPPED);
  g_assert_cmpstr(vxm_supervisor_get_failure(sv), ==, NULL);
  g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_STOPPED);
  states = states_joined(f);
  g_assert_cmpstr(states, ==, "preparing starting running stopping restoring stopped");
  calls = calls_joined(f->ops);
  g_assert_cmpstr(calls, ==, "detach win11 " GPU "; reattach win11 " GPU "; restore win11");
  g_assert_cmpuint(vxm_supervisor_get_restored(sv)->len, ==, 1);
  assert_cleaned_up(sv);
  g_clear_pointer(&status, json_node_unref);
  status = vxm_vm_state_file_read(state_file, NULL);
  g_assert_cmpstr(json_object_get_string_member(json_node_get_object(status), "state"), ==,
                  "stopped");
}

static void
test_bad_option(Fixture *f, gconstpointer data)
{
  VxmSupervisorPlan *plan = make_plan("win11", "bad-option", TRUE);
  g_autoptr(VxmSupervisor) sv = new_supervisor(f, plan);
  g_autofree char *calls = NULL;
  const char *why;

  (void)data;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_FAILED);
  g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_FAILED);
  why = vxm_supervisor_get_failure(sv);
  g_assert_nonnull(why);
  g_test_message("failure: %s", why);
  /* what happened, which log, and QEMU's own last line */
  g_assert_nonnull(strstr(why, "QEMU exited with status 1 at start"));
  g_assert_nonnull(strstr(why, "qemu.log"));
  g_assert_nonnull(strstr(why, "'bogus' is not a valid device model name"));
  calls = calls_joined(f->ops);
  g_assert_cmpstr(calls, ==, "detach win11 " GPU "; reattach win11 " GPU "; restore win11");
  assert_cleaned_up(sv);
}

static void
test_qemu_killed(Fixture *f, gconstpointer data)
{
  VxmSupervisorPlan *plan = make_plan("win11", "normal", TRUE);
  g_autoptr(VxmSupervisor) sv = new_supervisor(f, plan);
  g_autofree char *calls = NULL;

  (void)data;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_RUNNING);
  g_assert_cmpint(kill(vxm_supervisor_get_qemu_pid(sv), SIGKILL), ==, 0);
  run_until(sv, VXM_VM_STATE_FAILED);
  g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_FAILED);
  g_assert_nonnull(strstr(vxm_supervisor_get_failure(sv), "QEMU was killed by signal 9"));
  calls = calls_joined(f->ops);
  g_assert_cmpstr(calls, ==, "detach win11 " GPU "; reattach win11 " GPU "; restore win11");
  assert_cleaned_up(sv);
}

static void
test_swtpm_fails(Fixture *f, gconstpointer data)
{
  VxmSupervisorPlan *plan = make_plan("win11", "normal", TRUE);
  g_autoptr(VxmSupervisor) sv = NULL;
  g_autofree char *calls = NULL;
  g_autofree char *log = NULL;

  (void)data;
  /* swtpm refuses its command line: exits at once */
  g_free(plan->swtpm_argv[1]);
  plan->swtpm_argv[1] = g_strdup("--no-such-option");
  sv = new_supervisor(f, plan);
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_FAILED);
  g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_FAILED);
  g_assert_nonnull(strstr(vxm_supervisor_get_failure(sv), "swtpm exited with status"));
  g_assert_nonnull(strstr(vxm_supervisor_get_failure(sv), "swtpm.log"));
  /* QEMU never ran, the GPU went back */
  log = read_text(plan->paths->vxm_log);
  g_assert_null(strstr(log, "start-qemu"));
  g_assert_false(g_file_test(plan->paths->qemu_log, G_FILE_TEST_EXISTS));
  calls = calls_joined(f->ops);
  g_assert_cmpstr(calls, ==, "detach win11 " GPU "; reattach win11 " GPU "; restore win11");
  assert_cleaned_up(sv);
}

static void
test_detach_refused(Fixture *f, gconstpointer data)
{
  VxmSupervisorPlan *plan = make_plan("win11", "normal", TRUE);
  g_autoptr(VxmSupervisor) sv = new_supervisor(f, plan);

  (void)data;
  f->ops->fail_detach = TRUE;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_FAILED);
  g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_FAILED);
  g_assert_nonnull(strstr(vxm_supervisor_get_failure(sv), "a process holds the card"));
  /* swtpm, started beside the detach, was stopped again */
  assert_cleaned_up(sv);
  g_assert_false(g_file_test(plan->paths->qemu_log, G_FILE_TEST_EXISTS));
}

static void
test_powerdown_ignored(Fixture *f, gconstpointer data)
{
  VxmSupervisorPlan *plan = make_plan("win11", "ignore-powerdown", FALSE);
  g_autoptr(VxmSupervisor) sv = new_supervisor(f, plan);
  g_autofree char *log = NULL;

  (void)data;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_RUNNING);
  vxm_supervisor_stop(sv, FALSE, 1);
  run_until(sv, VXM_VM_STATE_STOPPED);
  g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_STOPPED);
  log = read_text(plan->paths->vxm_log);
  g_assert_nonnull(strstr(log, "QMP event POWERDOWN"));
  g_assert_nonnull(strstr(log, "did not shut down within the time limit: quit"));
  g_assert_nonnull(strstr(log, "QMP quit"));
  assert_cleaned_up(sv);
}

static void
test_force_stop(Fixture *f, gconstpointer data)
{
  VxmSupervisorPlan *plan = make_plan("win11", "ignore-powerdown", FALSE);
  g_autoptr(VxmSupervisor) sv = new_supervisor(f, plan);
  g_autofree char *log = NULL;

  (void)data;
  plan->shutdown_timeout_s = 3600;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_RUNNING);
  vxm_supervisor_stop(sv, TRUE, -1);
  run_until(sv, VXM_VM_STATE_STOPPED);
  g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_STOPPED);
  log = read_text(plan->paths->vxm_log);
  g_assert_null(strstr(log, "ACPI power-down"));
  g_assert_nonnull(strstr(log, "QMP quit"));
}

static void
test_sigterm(Fixture *f, gconstpointer data)
{
  VxmSupervisorPlan *plan = make_plan("win11", "normal", TRUE);
  g_autoptr(VxmSupervisor) sv = new_supervisor(f, plan);
  g_autofree char *log = NULL;
  g_autofree char *calls = NULL;

  (void)data;
  vxm_supervisor_handle_signals(sv);
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_RUNNING);
  g_assert_cmpint(kill(getpid(), SIGTERM), ==, 0);
  run_until(sv, VXM_VM_STATE_STOPPED);
  g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_STOPPED);
  log = read_text(plan->paths->vxm_log);
  /* cleanly: the guest was asked to power down, and went without a quit */
  g_assert_nonnull(strstr(log, "signal received"));
  g_assert_nonnull(strstr(log, "ACPI power-down"));
  g_assert_null(strstr(log, "QMP quit"));
  calls = calls_joined(f->ops);
  g_assert_cmpstr(calls, ==, "detach win11 " GPU "; reattach win11 " GPU "; restore win11");
  assert_cleaned_up(sv);
}

static void
test_second_start_refused(Fixture *f, gconstpointer data)
{
  VxmSupervisorPlan *plan = make_plan("win11", "normal", FALSE);
  g_autoptr(VxmSupervisor) sv = new_supervisor(f, plan);
  g_autoptr(VxmSupervisor) second = new_supervisor(f, make_plan("win11", "normal", FALSE));
  g_autofree char *state_file = vxm_supervisor_state_file(plan->paths);
  g_autoptr(JsonNode) status = NULL;
  g_autofree char *calls = NULL;

  (void)data;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_RUNNING);
  vxm_supervisor_start(second);
  run_until(second, VXM_VM_STATE_FAILED);
  g_assert_cmpint(vxm_supervisor_get_state(second), ==, VXM_VM_STATE_FAILED);
  g_assert_nonnull(strstr(vxm_supervisor_get_failure(second), "running"));
  /* the first one is untouched: still running, its state file still says so */
  g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_RUNNING);
  status = vxm_vm_state_file_read(state_file, NULL);
  g_assert_cmpstr(json_object_get_string_member(json_node_get_object(status), "state"), ==,
                  "running");
  calls = calls_joined(f->ops);
  g_assert_cmpstr(calls, ==, "detach win11 " GPU);
  vxm_supervisor_stop(sv, TRUE, -1);
  run_until(sv, VXM_VM_STATE_STOPPED);
}

static void
write_config(const char *name, const char *gpu)
{
  g_autofree char *dir = g_build_filename(g_getenv("XDG_CONFIG_HOME"), "vxm", "vms", NULL);
  g_autofree char *path = g_strdup_printf("%s/%s.conf", dir, name);
  g_autofree char *text = g_strdup_printf("[gpu]\naddress = %s\n", gpu);

  g_mkdir_with_parents(dir, 0700);
  g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static void
test_same_gpu_refused(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmSupervisor) a = new_supervisor(f, make_plan("a", "normal", FALSE));
  g_autoptr(VxmSupervisor) b = NULL;
  g_autoptr(VxmSupervisor) c = NULL;
  VxmSupervisorPlan *plan_c = NULL;

  (void)data;
  write_config("a", GPU);
  write_config("b", GPU);
  write_config("c", "0000:02:00.0");
  vxm_supervisor_start(a);
  run_until(a, VXM_VM_STATE_RUNNING);
  b = new_supervisor(f, make_plan("b", "normal", FALSE));
  vxm_supervisor_start(b);
  run_until(b, VXM_VM_STATE_FAILED);
  g_assert_cmpint(vxm_supervisor_get_state(b), ==, VXM_VM_STATE_FAILED);
  g_assert_nonnull(strstr(vxm_supervisor_get_failure(b), "VM a is running with the same GPU"));
  /* a VM with another GPU starts beside it */
  plan_c = make_plan("c", "normal", FALSE);
  g_free(plan_c->gpu_address);
  plan_c->gpu_address = g_strdup("0000:02:00.0");
  c = new_supervisor(f, plan_c);
  vxm_supervisor_start(c);
  run_until(c, VXM_VM_STATE_RUNNING);
  g_assert_cmpint(vxm_supervisor_get_state(c), ==, VXM_VM_STATE_RUNNING);
  vxm_supervisor_stop(a, TRUE, -1);
  vxm_supervisor_stop(c, TRUE, -1);
  run_until(a, VXM_VM_STATE_STOPPED);
  run_until(c, VXM_VM_STATE_STOPPED);
}

static void
test_qmp_silent(Fixture *f, gconstpointer data)
{
  VxmSupervisorPlan *plan = make_plan("win11", "no-greeting", FALSE);
  g_autoptr(VxmSupervisor) sv = new_supervisor(f, plan);

  (void)data;
  plan->qmp_timeout_ms = 300;
  plan->quit_timeout_ms = 300;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_FAILED);
  g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_FAILED);
  g_assert_nonnull(strstr(vxm_supervisor_get_failure(sv), "no QMP greeting from QEMU"));
  assert_cleaned_up(sv);
}

/* The control socket: status while running, stop with events until finished. */
typedef struct {
  VxmVmPaths *paths;
  JsonObject *status;
  JsonObject *finished;
  GPtrArray *events;
  GError *error;
} ControlCall;

static gboolean
collect_event(JsonObject *event, gpointer user_data)
{
  ControlCall *call = user_data;
  g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), event);

  g_ptr_array_add(call->events, json_to_string(node, FALSE));
  return TRUE;
}

static gpointer
control_thread(gpointer user_data)
{
  ControlCall *call = user_data;
  g_autoptr(JsonObject) status_req = json_object_new();
  g_autoptr(JsonObject) stop_req = json_object_new();

  json_object_set_string_member(status_req, "command", "status");
  call->status = vxm_control_request(call->paths, status_req, 0, &call->error);
  if (call->status == NULL)
    return NULL;
  json_object_set_string_member(stop_req, "command", "stop");
  json_object_set_boolean_member(stop_req, "force", TRUE);
  call->finished = vxm_control_follow(call->paths, stop_req, 0, collect_event, call, &call->error);
  return NULL;
}

static void
test_control_socket(Fixture *f, gconstpointer data)
{
  VxmSupervisorPlan *plan = make_plan("win11", "ignore-powerdown", FALSE);
  g_autoptr(VxmSupervisor) sv = new_supervisor(f, plan);
  g_autoptr(VxmControlServer) server = NULL;
  g_autoptr(GError) error = NULL;
  ControlCall call = {.events = g_ptr_array_new_with_free_func(g_free)};
  g_autofree char *control_path = NULL;
  GThread *thread;
  JsonObject *status;
  struct stat st;

  (void)data;
  call.paths = vxm_vm_paths_new("win11", NULL);
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_RUNNING);
  server = vxm_control_server_new(sv, &error);
  g_assert_no_error(error);
  control_path = vxm_control_socket_path(plan->paths);
  g_assert_cmpint(stat(control_path, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);
  thread = g_thread_new("control", control_thread, &call);
  run_until(sv, VXM_VM_STATE_STOPPED);
  /* let the server flush the final event to the client */
  while (g_main_context_iteration(NULL, FALSE))
    ;
  g_clear_pointer(&server, vxm_control_server_free);
  g_thread_join(thread);
  g_assert_no_error(call.error);
  status = json_object_get_object_member(call.status, "status");
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "running");
  /* asked of QEMU itself through QMP query-status */
  g_assert_cmpstr(json_object_get_string_member(status, "run_state"), ==, "running");
  g_assert_cmpint(json_object_get_int_member(status, "qemu_pid"), >, 0);
  g_assert_cmpstr(json_object_get_string_member(call.finished, "state"), ==, "stopped");
  g_assert_cmpuint(call.events->len, >, 0);
  g_assert_false(g_file_test(control_path, G_FILE_TEST_EXISTS));
  json_object_unref(call.status);
  json_object_unref(call.finished);
  g_ptr_array_unref(call.events);
  vxm_vm_paths_free(call.paths);
}

static void
test_plan_json(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmSupervisorPlan) plan = make_plan("win11", "normal", TRUE);
  g_autoptr(VxmSupervisorPlan) back = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) bad =
      json_from_string("{\"name\": \"../etc\", \"qemu_argv\": [\"q\"]}", NULL);
  g_autoptr(GError) error = NULL;

  (void)f;
  (void)data;
  plan->keep_bound = TRUE;
  plan->unbind_timeout_ms = 7000;
  plan->monitor = g_strdup("DEL:41234:12345");
  plan->monitor_host_input = 0x11;
  plan->monitor_guest_input = 0x0f;
  node = vxm_supervisor_plan_to_json(plan);
  back = vxm_supervisor_plan_from_json(node, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(back->paths->name, ==, "win11");
  g_assert_cmpstr(back->gpu_address, ==, GPU);
  g_assert_true(back->keep_bound);
  g_assert_cmpuint(back->unbind_timeout_ms, ==, 7000);
  g_assert_cmpstr(back->monitor, ==, "DEL:41234:12345");
  g_assert_cmpuint(back->monitor_host_input, ==, 0x11);
  g_assert_cmpuint(back->monitor_guest_input, ==, 0x0f);
  g_assert_cmpuint(back->shutdown_timeout_s, ==, 1);
  g_assert_true(
      g_strv_equal((const char *const *)back->qemu_argv, (const char *const *)plan->qemu_argv));
  g_assert_true(
      g_strv_equal((const char *const *)back->swtpm_argv, (const char *const *)plan->swtpm_argv));
  /* a name that is not a VM name is refused, not turned into paths */
  g_clear_pointer(&back, vxm_supervisor_plan_free);
  back = vxm_supervisor_plan_from_json(bad, &error);
  g_assert_null(back);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
}

typedef struct {
  VxmVmPaths *paths;
  gint done;
} BadRequests;

static gpointer
bad_requests_thread(gpointer user_data)
{
  BadRequests *req = user_data;
  VxmVmPaths *paths = req->paths;
  g_autoptr(JsonObject) unknown = json_object_new();
  g_autoptr(JsonObject) write_cmd = json_object_new();
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *messages = g_ptr_array_new_with_free_func(g_free);

  json_object_set_string_member(unknown, "command", "reboot");
  reply = vxm_control_request(paths, unknown, 0, &error);
  g_ptr_array_add(messages, g_strdup(error ? error->message : "(no error)"));
  g_clear_error(&error);
  json_object_set_string_member(write_cmd, "command", "qmp-query");
  json_object_set_string_member(write_cmd, "execute", "quit");
  reply = vxm_control_request(paths, write_cmd, 0, &error);
  g_ptr_array_add(messages, g_strdup(error ? error->message : "(no error)"));
  g_atomic_int_set(&req->done, 1);
  g_main_context_wakeup(NULL);
  return messages;
}

/* The control socket refuses what it does not know, and QMP commands that change QEMU. */
static void
test_control_refusals(Fixture *f, gconstpointer data)
{
  VxmSupervisorPlan *plan = make_plan("win11", "normal", FALSE);
  g_autoptr(VxmSupervisor) sv = new_supervisor(f, plan);
  g_autoptr(VxmControlServer) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  BadRequests req = {0};
  GThread *thread;

  (void)data;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_RUNNING);
  server = vxm_control_server_new(sv, &error);
  g_assert_no_error(error);
  req.paths = plan->paths;
  thread = g_thread_new("control", bad_requests_thread, &req);
  /* serve until the client thread is done */
  while (!g_atomic_int_get(&req.done))
    g_main_context_iteration(NULL, TRUE);
  messages = g_thread_join(thread);
  g_assert_nonnull(strstr(g_ptr_array_index(messages, 0), "unknown command \"reboot\""));
  g_assert_nonnull(strstr(g_ptr_array_index(messages, 1), "query-* commands only"));
  g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_RUNNING);
  vxm_supervisor_stop(sv, TRUE, -1);
  run_until(sv, VXM_VM_STATE_STOPPED);
}

/* Runs the main loop until the supervisor announced @step_status ("switch-monitor=ok"). */
static void
run_until_step(Fixture *f, const char *step_status)
{
  guint guard = g_timeout_add_seconds(30, on_hang, NULL);

  while (!g_ptr_array_find_with_equal_func(f->steps, step_status, g_str_equal, NULL))
    g_main_context_iteration(NULL, TRUE);
  g_source_remove(guard);
}

/* Runs the main loop until a recorded call contains @text (a guard against hangs). */
static void
run_until_call(Fixture *f, const char *text)
{
  guint guard = g_timeout_add_seconds(30, on_hang, NULL);

  for (;;) {
    g_autofree char *calls = calls_joined(f->ops);
    if (strstr(calls, text) != NULL)
      break;
    g_main_context_iteration(NULL, TRUE);
  }
  g_source_remove(guard);
}

static VxmSupervisorPlan *
make_monitor_plan(void)
{
  VxmSupervisorPlan *plan = make_plan("win11", "normal", FALSE);

  plan->monitor = g_strdup("DEL:41234:12345");
  plan->monitor_host_input = 0x11;
  plan->monitor_guest_input = 0x0f;
  return plan;
}

/* The monitor goes to the guest once the guest runs, and back as soon as the stop begins,
 * before the devices go back. */
static void
test_monitor_start_stop(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmSupervisor) sv = new_supervisor(f, make_monitor_plan());
  g_autofree char *calls = NULL;

  (void)data;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_RUNNING);
  run_until_step(f, "switch-monitor=ok");
  vxm_supervisor_stop(sv, FALSE, -1);
  run_until(sv, VXM_VM_STATE_STOPPED);
  g_assert_cmpstr(vxm_supervisor_get_failure(sv), ==, NULL);
  calls = calls_joined(f->ops);
  g_assert_cmpstr(calls, ==,
                  "detach win11 " GPU "; monitor win11 DEL:41234:12345 " GPU " 0x0f (host 0x11) "
                  "guest; monitor win11 DEL:41234:12345 " GPU " 0x11 (host 0x11) host; "
                  "reattach win11 " GPU "; restore win11");
  assert_cleaned_up(sv);
}

/* QEMU dies: the supervisor does not switch (the journal's monitor-input undo, in the
 * restore, switches back). */
static void
test_monitor_qemu_killed(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmSupervisor) sv = new_supervisor(f, make_monitor_plan());
  g_autofree char *calls = NULL;

  (void)data;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_RUNNING);
  run_until_call(f, "0x0f (host 0x11) guest");
  g_assert_cmpint(kill(vxm_supervisor_get_qemu_pid(sv), SIGKILL), ==, 0);
  run_until(sv, VXM_VM_STATE_FAILED);
  calls = calls_joined(f->ops);
  g_assert_cmpstr(calls, ==,
                  "detach win11 " GPU "; monitor win11 DEL:41234:12345 " GPU " 0x0f (host 0x11) "
                  "guest; reattach win11 " GPU "; restore win11");
  assert_cleaned_up(sv);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD("/vxm/supervisor/start-stop/clean", test_start_stop);
  ADD("/vxm/supervisor/start/qemu-bad-option", test_bad_option);
  ADD("/vxm/supervisor/start/qmp-silent", test_qmp_silent);
  ADD("/vxm/supervisor/start/swtpm-fails", test_swtpm_fails);
  ADD("/vxm/supervisor/start/detach-refused", test_detach_refused);
  ADD("/vxm/supervisor/start/second-start-refused", test_second_start_refused);
  ADD("/vxm/supervisor/start/same-gpu-refused", test_same_gpu_refused);
  ADD("/vxm/supervisor/run/qemu-killed", test_qemu_killed);
  ADD("/vxm/supervisor/stop/powerdown-ignored", test_powerdown_ignored);
  ADD("/vxm/supervisor/stop/force", test_force_stop);
  ADD("/vxm/supervisor/stop/sigterm", test_sigterm);
  ADD("/vxm/supervisor/control/status-and-stop", test_control_socket);
  ADD("/vxm/supervisor/monitor/start-stop", test_monitor_start_stop);
  ADD("/vxm/supervisor/monitor/qemu-killed", test_monitor_qemu_killed);
  ADD("/vxm/supervisor/control/refusals", test_control_refusals);
  ADD("/vxm/supervisor/plan/json-roundtrip", test_plan_json);
  return g_test_run();
}
