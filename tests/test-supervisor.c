/* The supervisor's logic: a fake QEMU (tests/vxm-fake-qemu.c, real QMP over a real socket),
 * the real swtpm, and host steps recorded by a test VxmHostOps. */
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "cpu/vxm-cpu-list.h"
#include "cpu/vxm-cpu-pinning.h"
#include "input/vxm-input-object.h"
#include "plan/vxm-supervisor-plan-private.h"
#include "supervisor/vxm-control-client.h"
#include "supervisor/vxm-control-server.h"
#include "supervisor/vxm-supervisor.h"
#include "supervisor/vxm-supervisor-steps.h"
#include "vm/vxm-vm-lock.h"
#include "vxm-test-users.h"
#include "vxm-test-util.h"

#include <pwd.h>

#define GPU "0000:01:00.0"

/* ---- a VxmHostOps that records what it was asked ---- */

#define TEST_TYPE_OPS (test_ops_get_type())
G_DECLARE_FINAL_TYPE(TestOps, test_ops, TEST, OPS, GObject)

struct _TestOps {
  GObject parent_instance;
  GMutex lock;
  GPtrArray *calls;
  gboolean fail_detach;
  const char *dead_monitor; /* a monitor that does not answer (issue 17) */
  /* issue 5/7 */
  GPtrArray *timeline; /* ops calls and step events, in the order they happened */
  GCond cond;
  gboolean rendezvous; /* detach and reserve each wait (5 s at most) for the other to run */
  gboolean in_detach, in_reserve;
  gboolean overlapped;       /* both were running at once */
  gboolean reserve_short;    /* reserve fails NO_SPACE with the engine's counts */
  guint64 reserve_page_size; /* the size reserve says it took; 0: the one asked */
  gboolean memlock_refused;
  guint64 memlock_bytes;
  gint64 memlock_pid; /* the process behind the pidfd */
};

static void test_ops_iface_init(VxmHostOpsInterface *iface);
G_DEFINE_TYPE_WITH_CODE(TestOps, test_ops, G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(VXM_TYPE_HOST_OPS, test_ops_iface_init))

static void
record(TestOps *self, const char *call)
{
  g_mutex_lock(&self->lock);
  g_ptr_array_add(self->calls, g_strdup(call));
  g_ptr_array_add(self->timeline, g_strdup(call));
  g_mutex_unlock(&self->lock);
}

/* Marks @mine running and waits until @other runs too (or 5 s): only parallel steps meet. */
static void
meet(TestOps *self, gboolean *mine, gboolean *other)
{
  gint64 deadline = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;

  g_mutex_lock(&self->lock);
  *mine = TRUE;
  g_cond_broadcast(&self->cond);
  while (!*other)
    if (!g_cond_wait_until(&self->cond, &self->lock, deadline))
      break;
  if (*other)
    self->overlapped = TRUE;
  g_mutex_unlock(&self->lock);
}

static gboolean
ops_detach(VxmHostOps *ops, const char *vm, const VxmHostOpsGpu *gpu, GPtrArray *report,
           GError **error)
{
  TestOps *self = TEST_OPS(ops);
  g_autofree char *call = g_strdup_printf("detach %s %s", vm, gpu->gpu_address);

  record(self, call);
  if (self->rendezvous)
    meet(self, &self->in_detach, &self->in_reserve);
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

  record(TEST_OPS(ops), call);
  if (g_strcmp0(monitor, TEST_OPS(ops)->dead_monitor) == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "cannot reach monitor %s over DDC/CI", monitor);
    return FALSE;
  }
  g_ptr_array_add(report, g_strdup_printf("%s switched", monitor));
  return TRUE;
}

static gboolean
ops_reserve(VxmHostOps *ops, const char *vm, const VxmHostOpsHugepages *hp, guint64 *out_page_size,
            GPtrArray *report, GError **error)
{
  TestOps *self = TEST_OPS(ops);
  g_autofree char *call =
      g_strdup_printf("reserve %s %" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT " node %d%s%s", vm,
                      hp->count, hp->page_size >> 20, hp->node, hp->auto_size ? " auto" : "",
                      hp->compact && hp->drop_caches ? "" : " no-compact");

  record(self, call);
  if (self->rendezvous)
    meet(self, &self->in_reserve, &self->in_detach);
  if (self->reserve_short) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NO_SPACE,
                "only 3 of the %" G_GUINT64_FORMAT " 2 MiB pages could be had", hp->count);
    return FALSE;
  }
  /* auto: the engine took the other size (what the kernel could give) */
  *out_page_size = self->reserve_page_size != 0 ? self->reserve_page_size : hp->page_size;
  g_ptr_array_add(report, g_strdup_printf("hugepages: %" G_GUINT64_FORMAT " pages",
                                          hp->page_size * hp->count / *out_page_size));
  return TRUE;
}

static gboolean
ops_release(VxmHostOps *ops, const char *vm, GPtrArray *report, GError **error)
{
  g_autofree char *call = g_strdup_printf("release %s", vm);

  (void)error;
  record(TEST_OPS(ops), call);
  g_ptr_array_add(report, g_strdup("hugepage pool back to 0"));
  return TRUE;
}

static gboolean
ops_grant(VxmHostOps *ops, const char *vm, const char *const *nodes, gint64 uid, GPtrArray *report,
          GError **error)
{
  g_autofree char *list = g_strjoinv(",", (char **)nodes);
  g_autofree char *call = g_strdup_printf("grant %s %s", vm, list);

  (void)report;
  (void)error;
  record(TEST_OPS(ops), call);
  return TRUE;
}

static gboolean
ops_revoke(VxmHostOps *ops, const char *vm, GPtrArray *report, GError **error)
{
  g_autofree char *call = g_strdup_printf("revoke %s", vm);

  (void)report;
  (void)error;
  record(TEST_OPS(ops), call);
  return TRUE;
}

static gboolean
ops_memlock(VxmHostOps *ops, const char *vm, int pidfd, guint64 bytes, GPtrArray *report,
            GError **error)
{
  TestOps *self = TEST_OPS(ops);
  g_autofree char *call = g_strdup_printf("memlock %s %" G_GUINT64_FORMAT, vm, bytes);
  g_autofree char *fdinfo_path = g_strdup_printf("/proc/self/fdinfo/%d", pidfd);
  g_autofree char *fdinfo = NULL;
  const char *pid_line;

  (void)report;
  record(self, call);
  /* the process the supervisor asks for: itself (QEMU inherits the limit at fork) */
  if (g_file_get_contents(fdinfo_path, &fdinfo, NULL, NULL) &&
      (pid_line = strstr(fdinfo, "Pid:")) != NULL)
    self->memlock_pid = g_ascii_strtoll(pid_line + 4, NULL, 10);
  self->memlock_bytes = bytes;
  if (self->memlock_refused) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION, "that needs CAP_SYS_RESOURCE");
    return FALSE;
  }
  return TRUE;
}

static gboolean
ops_looking_glass(VxmHostOps *ops, const char *vm, guint64 bytes, GPtrArray *report, GError **error)
{
  g_autofree char *call = g_strdup_printf("looking-glass %s %" G_GUINT64_FORMAT, vm, bytes);

  (void)report;
  (void)error;
  record(TEST_OPS(ops), call);
  return TRUE;
}

static void
test_ops_iface_init(VxmHostOpsInterface *iface)
{
  iface->prepare_looking_glass = ops_looking_glass;
  iface->reserve_hugepages = ops_reserve;
  iface->release_hugepages = ops_release;
  iface->grant_devices = ops_grant;
  iface->revoke_devices = ops_revoke;
  iface->raise_memlock = ops_memlock;
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
  g_ptr_array_unref(self->timeline);
  g_cond_clear(&self->cond);
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
  g_cond_init(&self->cond);
  self->calls = g_ptr_array_new_with_free_func(g_free);
  self->timeline = g_ptr_array_new_with_free_func(g_free);
}

/* Where @entry first is in the timeline (-1: not there). */
static gint
timeline_index(TestOps *ops, const char *entry)
{
  gint found = -1;

  g_mutex_lock(&ops->lock);
  for (guint i = 0; i < ops->timeline->len && found < 0; i++)
    if (g_str_has_prefix(g_ptr_array_index(ops->timeline, i), entry))
      found = (gint)i;
  g_mutex_unlock(&ops->lock);
  if (found < 0)
    g_test_message("not in the timeline: %s", entry);
  return found;
}

static void
assert_before(TestOps *ops, const char *first, const char *second)
{
  gint a = timeline_index(ops, first);
  gint b = timeline_index(ops, second);

  g_assert_cmpint(a, >=, 0);
  g_assert_cmpint(b, >=, 0);
  if (a >= b)
    g_test_message("%s is not before %s", first, second);
  g_assert_cmpint(a, <, b);
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

/* As root, the supervisor runs the fake QEMU and swtpm as the sudo user, or refuses (design
 * invariant 4): these tests run as under `sudo` of a test user, whose home is @tmp. */
static void
as_sudo_user(const char *tmp)
{
  static uid_t uid = 0;
  g_autofree char *sudo_uid = NULL;
  g_autofree char *sudo_gid = NULL;
  g_autoptr(GDir) dir = NULL;
  struct passwd *pw;
  const char *name;

  if (geteuid() != 0)
    return;
  if (uid == 0) {
    g_autofree char *user = g_strdup_printf("vxmsv%d", (int)getpid()); /* one per program */

    uid = vxm_test_user_add(user, NULL);
  }
  pw = getpwuid(uid);
  g_assert_nonnull(pw);
  sudo_uid = g_strdup_printf("%u", (guint)uid);
  sudo_gid = g_strdup_printf("%u", (guint)pw->pw_gid);
  g_setenv("SUDO_UID", sudo_uid, TRUE);
  g_setenv("SUDO_GID", sudo_gid, TRUE);
  g_assert_cmpint(chown(tmp, uid, pw->pw_gid), ==, 0);
  dir = g_dir_open(tmp, 0, NULL);
  g_assert_nonnull(dir);
  while ((name = g_dir_read_name(dir)) != NULL) {
    g_autofree char *path = g_build_filename(tmp, name, NULL);

    g_assert_cmpint(chown(path, uid, pw->pw_gid), ==, 0);
  }
}

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
  as_sudo_user(f->tmp);
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
  g_autofree char *fake = vxm_test_user_binary("tests/vxm-fake-qemu");
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
      json_object_has_member(event, "status")) {
    g_autofree char *step = g_strdup_printf("%s=%s", json_object_get_string_member(event, "step"),
                                            json_object_get_string_member(event, "status"));

    /* every step a supervisor announces has the label people read (vxm-supervisor-steps.c) */
    if (vxm_supervisor_step_label(json_object_get_string_member(event, "step")) == NULL)
      g_error("step %s has no label in vxm-supervisor-steps.c",
              json_object_get_string_member(event, "step"));
    g_ptr_array_add(f->steps, g_strdup(step));
    g_mutex_lock(&f->ops->lock);
    g_ptr_array_add(f->ops->timeline, g_strdup_printf("step %s", step));
    g_mutex_unlock(&f->ops->lock);
  }
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

/* Two VMs with one GPU start at once: both pass the "is another VM running with it" check
 * before either holds its lock. The GPU's lock decides: the second is refused, touches
 * nothing, and the first starts. */
static void
test_same_gpu_race(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmVmPaths) a_paths = vxm_vm_paths_new("a", NULL);
  g_autoptr(VxmSupervisor) b = NULL;
  g_autoptr(VxmSupervisor) a = NULL;
  g_autofree char *calls = NULL;
  int held;

  (void)data;
  write_config("a", GPU);
  write_config("b", GPU);
  /* the race as b meets it: its check found a not running, then a took the GPU's lock */
  held = vxm_gpu_lock_acquire(a_paths, GPU, NULL);
  g_assert_cmpint(held, >=, 0);
  b = new_supervisor(f, make_plan("b", "normal", FALSE));
  vxm_supervisor_start(b);
  run_until(b, VXM_VM_STATE_FAILED);
  g_assert_cmpint(vxm_supervisor_get_state(b), ==, VXM_VM_STATE_FAILED);
  g_test_message("failure: %s", vxm_supervisor_get_failure(b));
  g_assert_nonnull(strstr(vxm_supervisor_get_failure(b), "GPU " GPU " is taken by VM a"));
  g_assert_nonnull(strstr(vxm_supervisor_get_failure(b), "vxm stop a"));
  calls = calls_joined(f->ops);
  g_assert_cmpstr(calls, ==, "");
  close(held);
  g_clear_object(&b); /* its process would have exited: its VM lock goes */

  /* once the GPU's lock is free, a starts with it */
  a = new_supervisor(f, make_plan("a", "normal", FALSE));
  vxm_supervisor_start(a);
  run_until(a, VXM_VM_STATE_RUNNING);
  g_assert_cmpint(vxm_supervisor_get_state(a), ==, VXM_VM_STATE_RUNNING);
  vxm_supervisor_stop(a, TRUE, -1);
  run_until(a, VXM_VM_STATE_STOPPED);
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

/* ---- host resources (issues 5 and 7) ---- */

#define KBD "/dev/input/by-id/usb-Test_Keyboard-event-kbd"

/* A plan with everything the CLI decides: 4 x 2 MiB pages on node 1, memlock, one vCPU
 * pinned to CPU @vcpu_cpu and QEMU's other threads on CPU @emulator_cpu, /dev/vfio/1 and a
 * keyboard, and a fallback argv that logs its argv to @argv_log. */
static VxmSupervisorPlan *
make_resources_plan(const char *argv_log, guint vcpu_cpu, guint emulator_cpu)
{
  VxmSupervisorPlan *plan = make_plan("win11", "normal", FALSE);
  g_autoptr(GStrvBuilder) fallback = g_strv_builder_new();
  g_autofree char *log_env = g_strdup_printf("FAKE_QEMU_ARGV_LOG=%s", argv_log);
  VxmInputObject kbd = {.id = "kbd0",
                        .evdev = KBD,
                        .kind = VXM_HOST_INPUT_KEYBOARD,
                        .grab_all = TRUE,
                        .repeat = TRUE,
                        .grab_toggle = "ctrl-ctrl"};
  g_autoptr(JsonNode) pinning = NULL;
  g_autofree char *pinning_json = g_strdup_printf(
      "{\"mode\": \"list\", \"pinned\": true, \"sockets\": 1, \"cores\": 1, \"threads\": 1, "
      "\"vcpu_cpus\": [%u], \"emulator_cpus\": \"%u\", \"host_cpus\": \"%u\"}",
      vcpu_cpu, emulator_cpu, emulator_cpu);

  plan->hugepage_size = 2 << 20;
  plan->hugepage_count = 4;
  plan->hugepage_node = 1;
  for (guint i = 0; plan->qemu_argv[i] != NULL; i++)
    g_strv_builder_add(fallback, plan->qemu_argv[i]);
  g_strv_builder_add_many(fallback, "-name", "fallback", NULL);
  plan->qemu_argv_fallback = g_strv_builder_end(fallback);
  g_strfreev(plan->qemu_envp);
  plan->qemu_envp = g_strdupv((char *[]){"FAKE_QEMU_MODE=normal", log_env, NULL});
  plan->memlock_bytes = (G_GUINT64_CONSTANT(9) << 30);
  pinning = json_from_string(pinning_json, NULL);
  plan->pinning = vxm_cpu_pinning_plan_from_json(pinning, NULL);
  g_assert_nonnull(plan->pinning);
  plan->vfio_nodes = g_strdupv((char *[]){"/dev/vfio/1", NULL});
  plan->input_nodes = g_strdupv((char *[]){KBD, NULL});
  g_ptr_array_add(plan->input_objects, vxm_input_object_copy(&kbd));
  return plan;
}

/* Two CPUs this process may use (the pinning tests pin the fake QEMU's threads on them). */
static gboolean
two_cpus(guint *a, guint *b)
{
  cpu_set_t set;
  gint found = 0;

  CPU_ZERO(&set);
  g_assert_cmpint(sched_getaffinity(0, sizeof set, &set), ==, 0);
  for (guint cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++) {
    if (!CPU_ISSET(cpu, &set))
      continue;
    if (found++ == 0)
      *a = cpu;
    else
      *b = cpu;
  }
  if (found < 2)
    g_test_skip("pinning needs two CPUs");
  return found == 2;
}

static char *
affinity_text(gint tid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) cpus = vxm_cpu_pinning_get_affinity(tid, &error);

  g_assert_no_error(error);
  return vxm_cpu_list_format(cpus);
}

/* The start's order: reserve and detach overlap, /dev/vfio after the detach, memlock before
 * QEMU, pinning before cont; QEMU's vCPU thread runs on its CPU and the others on the
 * emulator's; the teardown gives everything back in reverse. */
static void
test_resources_order(Fixture *f, gconstpointer data)
{
  g_autofree char *argv_log = g_build_filename(f->tmp, "argv.txt", NULL);
  g_autoptr(VxmSupervisor) sv = NULL;
  g_autoptr(JsonNode) status = NULL;
  g_autofree char *calls = NULL;
  g_autofree char *argv_text = NULL;
  g_autofree char *vcpu = NULL;
  g_autofree char *other = NULL;
  g_autofree char *want_vcpu = NULL;
  g_autofree char *want_other = NULL;
  guint cpu_a = 0, cpu_b = 0;
  VxmSupervisorPlan *plan;
  JsonObject *obj, *pinning;
  gint vcpu_tid;
  GPid qemu;

  (void)data;
  if (!two_cpus(&cpu_a, &cpu_b))
    return;
  want_vcpu = g_strdup_printf("%u", cpu_b);
  want_other = g_strdup_printf("%u", cpu_a);
  plan = make_resources_plan(argv_log, cpu_b, cpu_a);
  plan->looking_glass_bytes = 32 << 20;
  sv = new_supervisor(f, plan);
  f->ops->rendezvous = TRUE;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_RUNNING);
  g_assert_cmpstr(vxm_supervisor_get_failure(sv), ==, NULL);
  /* in parallel: each waited for the other */
  g_assert_true(f->ops->overlapped);
  assert_before(f->ops, "grant win11 " KBD, "step start-qemu=started");
  assert_before(f->ops, "step detach-gpu=ok", "grant win11 /dev/vfio/1");
  assert_before(f->ops, "grant win11 /dev/vfio/1", "memlock win11");
  assert_before(f->ops, "step reserve-hugepages=ok", "memlock win11");
  assert_before(f->ops, "memlock win11", "step start-qemu=started");
  assert_before(f->ops, "looking-glass win11 33554432", "step start-qemu=started");
  assert_before(f->ops, "step qmp=ok", "step pin-vcpus=started");
  assert_before(f->ops, "step pin-vcpus=ok", "step cont=started");
  g_assert_cmpint(timeline_index(f->ops, "reserve win11 4x2 node 1"), >=, 0);
  /* memlock of the supervisor itself, which QEMU inherits */
  g_assert_cmpint(f->ops->memlock_pid, ==, getpid());
  g_assert_cmpuint(f->ops->memlock_bytes, ==, G_GUINT64_CONSTANT(9) << 30);
  /* the hugepage argv, not the fallback */
  g_assert_true(g_file_get_contents(argv_log, &argv_text, NULL, NULL));
  g_assert_null(strstr(argv_text, "fallback"));

  /* the fake QEMU's own threads, pinned before cont */
  status = vxm_supervisor_to_json(sv);
  obj = json_node_get_object(status);
  pinning = json_object_get_object_member(obj, "pinning");
  g_assert_true(json_object_get_boolean_member(pinning, "applied"));
  vcpu_tid =
      (gint)json_array_get_int_element(json_object_get_array_member(pinning, "vcpu_threads"), 0);
  qemu = vxm_supervisor_get_qemu_pid(sv);
  vcpu = affinity_text(vcpu_tid);
  g_assert_cmpuint(vcpu_tid, !=, qemu);
  g_assert_cmpstr(vcpu, ==, want_vcpu);
  other = affinity_text(qemu);
  g_assert_cmpstr(other, ==, want_other);
  g_assert_true(
      json_object_get_boolean_member(json_object_get_object_member(obj, "hugepages"), "held"));
  g_assert_cmpint(json_array_get_length(json_object_get_array_member(obj, "granted_nodes")), ==, 2);

  vxm_supervisor_stop(sv, TRUE, -1);
  run_until(sv, VXM_VM_STATE_STOPPED);
  g_assert_cmpstr(vxm_supervisor_get_failure(sv), ==, NULL);
  calls = calls_joined(f->ops);
  g_assert_nonnull(
      strstr(calls, "reattach win11 " GPU "; release win11; revoke win11; restore win11"));
  assert_cleaned_up(sv);
}

/* hugepages = auto, planned 2 MiB pages on node 1 with 1 GiB on node 0 as the alternative:
 * the host ops took 1 GiB pages, so QEMU gets the alternative argv, the request said auto
 * and no compaction (hugepages_compact = false), and status shows the pages held. */
static void
test_resources_auto_alternative(Fixture *f, gconstpointer data)
{
  g_autofree char *argv_log = g_build_filename(f->tmp, "argv.txt", NULL);
  VxmSupervisorPlan *plan = make_resources_plan(argv_log, 0, 0);
  g_autoptr(GStrvBuilder) alt = g_strv_builder_new();
  g_autoptr(VxmSupervisor) sv = NULL;
  g_autoptr(JsonNode) status = NULL;
  g_autofree char *argv_text = NULL;
  JsonObject *hp;

  (void)data;
  g_clear_pointer(&plan->pinning, vxm_cpu_pinning_plan_free);
  plan->hugepage_count = 4096; /* 8 GiB of 2 MiB pages */
  plan->hugepages_auto = TRUE;
  plan->hugepages_drop_caches = plan->hugepages_compact = FALSE;
  plan->hugepage_alt_size = 1 << 30;
  plan->hugepage_alt_node = 0;
  for (guint i = 0; plan->qemu_argv[i] != NULL; i++)
    g_strv_builder_add(alt, plan->qemu_argv[i]);
  g_strv_builder_add_many(alt, "-name", "one-gib-pages", NULL);
  plan->qemu_argv_alt = g_strv_builder_end(alt);
  sv = new_supervisor(f, plan);
  f->ops->reserve_page_size = 1 << 30;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_RUNNING);
  g_assert_cmpstr(vxm_supervisor_get_failure(sv), ==, NULL);
  g_assert_cmpint(timeline_index(f->ops, "reserve win11 4096x2 node 1 auto no-compact"), >=, 0);
  g_assert_true(g_file_get_contents(argv_log, &argv_text, NULL, NULL));
  g_assert_nonnull(strstr(argv_text, "-name\none-gib-pages\n"));
  status = vxm_supervisor_to_json(sv);
  hp = json_object_get_object_member(json_node_get_object(status), "hugepages");
  g_assert_cmpint(json_object_get_int_member(hp, "page_size"), ==, 1 << 30);
  g_assert_cmpint(json_object_get_int_member(hp, "count"), ==, 8);
  g_assert_cmpint(json_object_get_int_member(hp, "node"), ==, 0);
  g_assert_true(json_object_get_boolean_member(hp, "held"));
  vxm_supervisor_stop(sv, TRUE, -1);
  run_until(sv, VXM_VM_STATE_STOPPED);
  g_assert_cmpint(timeline_index(f->ops, "release win11"), >=, 0);
}

/* Pages of a size no planned argv names (a vxmd that decided otherwise): QEMU is not started
 * with a backend that does not match them; the start fails saying so and gives them back. */
static void
test_resources_size_unplanned(Fixture *f, gconstpointer data)
{
  g_autofree char *argv_log = g_build_filename(f->tmp, "argv.txt", NULL);
  VxmSupervisorPlan *plan = make_resources_plan(argv_log, 0, 0);
  g_autoptr(VxmSupervisor) sv = NULL;

  (void)data;
  g_clear_pointer(&plan->pinning, vxm_cpu_pinning_plan_free);
  sv = new_supervisor(f, plan);
  f->ops->reserve_page_size = 1 << 30;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_FAILED);
  g_assert_nonnull(strstr(vxm_supervisor_get_failure(sv), "1048576 KiB pages were reserved"));
  g_assert_false(g_file_test(argv_log, G_FILE_TEST_EXISTS));
  g_assert_cmpint(timeline_index(f->ops, "release win11"), >=, 0);
}

/* Short of hugepages with hugepages_fallback: QEMU gets the argv without the hugepage backend
 * and the step says why. */
static void
test_resources_fallback(Fixture *f, gconstpointer data)
{
  g_autofree char *argv_log = g_build_filename(f->tmp, "argv.txt", NULL);
  VxmSupervisorPlan *plan = make_resources_plan(argv_log, 0, 0);
  g_autoptr(VxmSupervisor) sv = NULL;
  g_autoptr(JsonNode) status = NULL;
  g_autofree char *argv_text = NULL;

  (void)data;
  g_clear_pointer(&plan->pinning, vxm_cpu_pinning_plan_free);
  plan->hugepages_fallback = TRUE;
  sv = new_supervisor(f, plan);
  f->ops->reserve_short = TRUE;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_RUNNING);
  g_assert_cmpstr(vxm_supervisor_get_failure(sv), ==, NULL);
  g_assert_true(
      g_ptr_array_find_with_equal_func(f->steps, "reserve-hugepages=skipped", g_str_equal, NULL));
  g_assert_true(g_file_get_contents(argv_log, &argv_text, NULL, NULL));
  g_assert_nonnull(strstr(argv_text, "-name\nfallback\n"));
  status = vxm_supervisor_to_json(sv);
  g_assert_true(json_object_get_boolean_member(
      json_object_get_object_member(json_node_get_object(status), "hugepages"), "fell_back"));
  vxm_supervisor_stop(sv, TRUE, -1);
  run_until(sv, VXM_VM_STATE_STOPPED);
  /* a partial reservation is journaled: release runs anyway (idempotent) */
  g_assert_cmpint(timeline_index(f->ops, "release win11"), >=, 0);
}

/* Short without fallback: the start fails with the counts, QEMU never runs, and the teardown
 * still reattaches, releases and revokes. */
static void
test_resources_short(Fixture *f, gconstpointer data)
{
  g_autofree char *argv_log = g_build_filename(f->tmp, "argv.txt", NULL);
  VxmSupervisorPlan *plan = make_resources_plan(argv_log, 0, 0);
  g_autoptr(VxmSupervisor) sv = new_supervisor(f, plan);
  g_autofree char *calls = NULL;

  (void)data;
  f->ops->reserve_short = TRUE;
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_FAILED);
  g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_FAILED);
  g_assert_nonnull(strstr(vxm_supervisor_get_failure(sv), "only 3 of the 4 2 MiB pages"));
  g_assert_false(g_file_test(argv_log, G_FILE_TEST_EXISTS));
  g_assert_cmpint(timeline_index(f->ops, "memlock"), <, 0);
  calls = calls_joined(f->ops);
  g_assert_nonnull(
      strstr(calls, "reattach win11 " GPU "; release win11; revoke win11; restore win11"));
  assert_cleaned_up(sv);
}

/* RLIMIT_MEMLOCK refused: on a real host with a GPU the start fails before QEMU, saying what
 * to do; on a simulated host it is a warning and the guest runs. */
static void
test_memlock_refused(Fixture *f, gconstpointer data)
{
  g_autofree char *argv_log = g_build_filename(f->tmp, "argv.txt", NULL);
  VxmSupervisorPlan *plan = make_resources_plan(argv_log, 0, 0);
  g_autoptr(VxmSupervisor) sv = NULL;
  gboolean simulated = GPOINTER_TO_INT(data);

  g_clear_pointer(&plan->pinning, vxm_cpu_pinning_plan_free);
  if (simulated)
    plan->host_root = g_strdup(f->tmp);
  sv = new_supervisor(f, plan);
  f->ops->memlock_refused = TRUE;
  vxm_supervisor_start(sv);
  run_until(sv, simulated ? VXM_VM_STATE_RUNNING : VXM_VM_STATE_FAILED);
  if (simulated) {
    g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_RUNNING);
    g_assert_true(
        g_ptr_array_find_with_equal_func(f->steps, "raise-memlock=skipped", g_str_equal, NULL));
    vxm_supervisor_stop(sv, TRUE, -1);
    run_until(sv, VXM_VM_STATE_STOPPED);
  } else {
    g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_FAILED);
    g_assert_nonnull(strstr(vxm_supervisor_get_failure(sv), "CAP_SYS_RESOURCE"));
    g_assert_nonnull(strstr(vxm_supervisor_get_failure(sv), "9 GiB"));
    g_assert_false(g_file_test(argv_log, G_FILE_TEST_EXISTS));
    g_assert_cmpint(timeline_index(f->ops, "release win11"), >=, 0);
    g_assert_cmpint(timeline_index(f->ops, "revoke win11"), >=, 0);
  }
  assert_cleaned_up(sv);
}

/* A plan naming a CPU this machine lacks: on a real host the start fails before the guest
 * runs; on a simulated host (whose CPUs are not this machine's) it runs unpinned, said so. */
static void
test_pinning_impossible(Fixture *f, gconstpointer data)
{
  g_autofree char *argv_log = g_build_filename(f->tmp, "argv.txt", NULL);
  VxmSupervisorPlan *plan = make_resources_plan(argv_log, 4000, 0);
  g_autoptr(VxmSupervisor) sv = NULL;
  gboolean simulated = GPOINTER_TO_INT(data);

  if (simulated)
    plan->host_root = g_strdup(f->tmp);
  sv = new_supervisor(f, plan);
  vxm_supervisor_start(sv);
  run_until(sv, simulated ? VXM_VM_STATE_RUNNING : VXM_VM_STATE_FAILED);
  if (simulated) {
    g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_RUNNING);
    g_assert_true(
        g_ptr_array_find_with_equal_func(f->steps, "pin-vcpus=skipped", g_str_equal, NULL));
    vxm_supervisor_stop(sv, TRUE, -1);
    run_until(sv, VXM_VM_STATE_STOPPED);
  } else {
    g_assert_cmpint(vxm_supervisor_get_state(sv), ==, VXM_VM_STATE_FAILED);
    g_assert_nonnull(strstr(vxm_supervisor_get_failure(sv), "vCPU pinning failed"));
    /* the guest never ran */
    g_assert_false(g_ptr_array_find_with_equal_func(f->steps, "cont=started", g_str_equal, NULL));
  }
  assert_cleaned_up(sv);
}

/* The new fields cross to the background supervisor unchanged. */
static void
test_plan_json_resources(Fixture *f, gconstpointer data)
{
  g_autofree char *argv_log = g_build_filename(f->tmp, "argv.txt", NULL);
  g_autoptr(VxmSupervisorPlan) plan = make_resources_plan(argv_log, 3, 1);
  g_autoptr(VxmSupervisorPlan) back = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  const VxmInputObject *kbd;

  (void)data;
  plan->hugepages_fallback = TRUE;
  plan->hugepages_auto = TRUE;
  plan->hugepages_compact = FALSE;
  plan->hugepage_alt_size = 1 << 30;
  plan->hugepage_alt_node = 0;
  plan->qemu_argv_alt = g_strdupv(plan->qemu_argv_fallback);
  plan->looking_glass_bytes = 64 << 20;
  plan->host_root = g_strdup("/tmp/sim");
  g_ptr_array_add(plan->input_pending,
                  vxm_input_object_copy(g_ptr_array_index(plan->input_objects, 0)));
  node = vxm_supervisor_plan_to_json(plan);
  back = vxm_supervisor_plan_from_json(node, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(back->hugepage_size, ==, 2 << 20);
  g_assert_cmpuint(back->hugepage_count, ==, 4);
  g_assert_cmpint(back->hugepage_node, ==, 1);
  g_assert_true(back->hugepages_fallback);
  g_assert_true(back->hugepages_drop_caches && !back->hugepages_compact);
  g_assert_true(back->hugepages_auto);
  g_assert_cmpuint(back->hugepage_alt_size, ==, 1 << 30);
  g_assert_cmpint(back->hugepage_alt_node, ==, 0);
  g_assert_true(g_strv_equal((const char *const *)back->qemu_argv_alt,
                             (const char *const *)plan->qemu_argv_alt));
  g_assert_true(g_strv_equal((const char *const *)back->qemu_argv_fallback,
                             (const char *const *)plan->qemu_argv_fallback));
  g_assert_cmpuint(back->memlock_bytes, ==, G_GUINT64_CONSTANT(9) << 30);
  g_assert_cmpuint(back->looking_glass_bytes, ==, 64 << 20);
  g_assert_cmpstr(back->host_root, ==, "/tmp/sim");
  g_assert_nonnull(back->pinning);
  g_assert_true(back->pinning->pinned);
  g_assert_cmpuint(g_array_index(back->pinning->vcpu_cpus, guint, 0), ==, 3);
  g_assert_true(vxm_cpu_list_contains(back->pinning->emulator_cpus, 1));
  g_assert_cmpstr(back->vfio_nodes[0], ==, "/dev/vfio/1");
  g_assert_cmpstr(back->input_nodes[0], ==, KBD);
  g_assert_cmpuint(back->input_objects->len, ==, 1);
  kbd = g_ptr_array_index(back->input_objects, 0);
  g_assert_cmpstr(kbd->id, ==, "kbd0");
  g_assert_cmpstr(kbd->evdev, ==, KBD);
  g_assert_true(kbd->grab_all && kbd->repeat);
  g_assert_cmpint(kbd->kind, ==, VXM_HOST_INPUT_KEYBOARD);
  g_assert_cmpstr(kbd->grab_toggle, ==, "ctrl-ctrl");
  g_assert_cmpuint(back->input_pending->len, ==, 1);
}

static void
add_plan_monitor(VxmSupervisorPlan *plan, const char *spec, guint host, guint guest)
{
  VxmVmMonitorSwitch *sw = g_new0(VxmVmMonitorSwitch, 1);

  sw->spec = g_strdup(spec);
  sw->host_input = host;
  sw->guest_input = guest;
  g_ptr_array_add(plan->monitors, sw);
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
  add_plan_monitor(plan, "DEL:41234:12345", 0x11, 0x0f);
  add_plan_monitor(plan, "card1-DP-2", 0x0f, 0x12);
  node = vxm_supervisor_plan_to_json(plan);
  back = vxm_supervisor_plan_from_json(node, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(back->paths->name, ==, "win11");
  g_assert_cmpstr(back->gpu_address, ==, GPU);
  g_assert_true(back->keep_bound);
  g_assert_cmpuint(back->unbind_timeout_ms, ==, 7000);
  g_assert_cmpuint(back->monitors->len, ==, 2);
  {
    const VxmVmMonitorSwitch *m0 = g_ptr_array_index(back->monitors, 0);
    const VxmVmMonitorSwitch *m1 = g_ptr_array_index(back->monitors, 1);

    g_assert_cmpstr(m0->spec, ==, "DEL:41234:12345");
    g_assert_cmpuint(m0->host_input, ==, 0x11);
    g_assert_cmpuint(m0->guest_input, ==, 0x0f);
    g_assert_cmpstr(m1->spec, ==, "card1-DP-2");
    g_assert_cmpuint(m1->host_input, ==, 0x0f);
    g_assert_cmpuint(m1->guest_input, ==, 0x12);
  }
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

  add_plan_monitor(plan, "DEL:41234:12345", 0x11, 0x0f);
  return plan;
}

/* The status's "monitor": @input ("guest", "host", or NULL before any switch) and its name. */
static void
assert_monitor_status(VxmSupervisor *sv, const char *input, const char *input_name)
{
  g_autoptr(JsonNode) status = vxm_supervisor_to_json(sv);
  JsonObject *m = json_object_get_object_member(json_node_get_object(status), "monitor");
  JsonNode *since;

  g_assert_nonnull(m);
  g_assert_cmpstr(json_object_get_string_member(m, "spec"), ==, "DEL:41234:12345");
  g_assert_cmpstr(json_object_get_string_member(m, "input"), ==, input);
  g_assert_cmpstr(json_object_get_string_member(m, "input_name"), ==, input_name);
  since = json_object_get_member(m, "since");
  if (input == NULL) {
    g_assert_true(JSON_NODE_HOLDS_NULL(since));
  } else {
    g_autoptr(GDateTime) when = g_date_time_new_from_iso8601(json_node_get_string(since), NULL);
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();

    g_assert_nonnull(when);
    g_assert_cmpint(g_date_time_difference(now, when), <, 60 * G_TIME_SPAN_SECOND);
  }
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
  /* vxm status says where the monitor is, and since when */
  assert_monitor_status(sv, "guest", "dp1");
  vxm_supervisor_stop(sv, FALSE, -1);
  run_until(sv, VXM_VM_STATE_STOPPED);
  assert_monitor_status(sv, "host", "hdmi1");
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

/* The monitor at @index of the status's "monitors". */
static JsonObject *
monitor_status(JsonNode *status, guint index)
{
  JsonArray *monitors = json_object_get_array_member(json_node_get_object(status), "monitors");

  g_assert_nonnull(monitors);
  return json_array_get_object_element(monitors, index);
}

/* Two monitors: both go to their guest inputs and back, each with its own inputs; one that
 * does not answer does not keep the other, and the status says which failed and why. */
static void
test_monitor_two_one_dead(Fixture *f, gconstpointer data)
{
  VxmSupervisorPlan *plan = make_monitor_plan();
  g_autoptr(VxmSupervisor) sv = NULL;
  g_autoptr(JsonNode) status = NULL;
  g_autofree char *calls = NULL;
  JsonObject *m;

  (void)data;
  add_plan_monitor(plan, "card1-DP-2", 0x0f, 0x12);
  add_plan_monitor(plan, "AOC:9232:4711", 0x12, 0x11);
  f->ops->dead_monitor = "card1-DP-2";
  sv = new_supervisor(f, plan);
  vxm_supervisor_start(sv);
  run_until(sv, VXM_VM_STATE_RUNNING);
  run_until_step(f, "switch-monitor=failed");
  status = vxm_supervisor_to_json(sv);
  m = monitor_status(status, 0);
  g_assert_cmpstr(json_object_get_string_member(m, "input"), ==, "guest");
  g_assert_cmpstr(json_object_get_string_member(m, "input_name"), ==, "dp1");
  m = monitor_status(status, 1);
  g_assert_cmpstr(json_object_get_string_member(m, "spec"), ==, "card1-DP-2");
  g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(m, "input")));
  g_assert_nonnull(strstr(json_object_get_string_member(m, "error"), "DDC/CI"));
  m = monitor_status(status, 2);
  g_assert_cmpstr(json_object_get_string_member(m, "input"), ==, "guest");
  g_assert_cmpstr(json_object_get_string_member(m, "input_name"), ==, "hdmi1");
  g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(m, "error")));
  /* "monitor" is the first, for one-monitor readers */
  g_assert_cmpstr(
      json_object_get_string_member(
          json_object_get_object_member(json_node_get_object(status), "monitor"), "spec"),
      ==, "DEL:41234:12345");
  vxm_supervisor_stop(sv, FALSE, -1);
  run_until(sv, VXM_VM_STATE_STOPPED);
  g_clear_pointer(&status, json_node_unref);
  status = vxm_supervisor_to_json(sv);
  g_assert_cmpstr(json_object_get_string_member(monitor_status(status, 0), "input"), ==, "host");
  g_assert_cmpstr(json_object_get_string_member(monitor_status(status, 2), "input_name"), ==,
                  "hdmi2");
  calls = calls_joined(f->ops);
  /* back: only the two vxm put on the guest */
  g_assert_cmpstr(calls, ==,
                  "detach win11 " GPU "; monitor win11 DEL:41234:12345 " GPU " 0x0f (host 0x11) "
                  "guest; monitor win11 card1-DP-2 " GPU " 0x12 (host 0x0f) guest; monitor win11 "
                  "AOC:9232:4711 " GPU " 0x11 (host 0x12) guest; monitor win11 DEL:41234:12345 " GPU
                  " 0x11 (host 0x11) host; monitor win11 AOC:9232:4711 " GPU " 0x12 (host 0x12) "
                  "host; reattach win11 " GPU "; restore win11");
  assert_cleaned_up(sv);
}

/* The test seams (vxm-supervisor-plan-private.h) reach QEMU and swtpm, and nothing else of
 * vxm's environment does but the few variables they use. */
static void
test_child_environ_seams(void)
{
  g_auto(GStrv) env = NULL;

  g_setenv(VXM_TEST_SEAM_ARGV_LOG, "/tmp/argv.log", TRUE);
  g_setenv(VXM_TEST_SEAM_QEMU_SIM_ "SEAM_CHECK", "1", TRUE);
  g_setenv("VXM_QEMU_SIMSEAM_CHECK", "1", TRUE); /* the prefix is the whole "VXM_QEMU_SIM_" */
  g_setenv("VXM_NOT_A_SEAM", "1", TRUE);
  env = vxm_supervisor_plan_child_environ();
  g_unsetenv(VXM_TEST_SEAM_ARGV_LOG);
  g_unsetenv(VXM_TEST_SEAM_QEMU_SIM_ "SEAM_CHECK");
  g_unsetenv("VXM_QEMU_SIMSEAM_CHECK");
  g_unsetenv("VXM_NOT_A_SEAM");
  g_assert_cmpstr(g_environ_getenv(env, "VXM_TEST_ARGV_LOG"), ==, "/tmp/argv.log");
  g_assert_cmpstr(g_environ_getenv(env, "VXM_QEMU_SIM_SEAM_CHECK"), ==, "1");
  g_assert_null(g_environ_getenv(env, "VXM_QEMU_SIMSEAM_CHECK"));
  g_assert_null(g_environ_getenv(env, "VXM_NOT_A_SEAM"));
  g_assert_cmpstr(g_environ_getenv(env, "HOME"), ==, g_getenv("HOME"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD("/vxm/supervisor/start-stop/clean", test_start_stop);
  g_test_add_func("/vxm/supervisor/plan/child-environ-seams", test_child_environ_seams);
  ADD("/vxm/supervisor/start/qemu-bad-option", test_bad_option);
  ADD("/vxm/supervisor/start/qmp-silent", test_qmp_silent);
  ADD("/vxm/supervisor/start/swtpm-fails", test_swtpm_fails);
  ADD("/vxm/supervisor/start/detach-refused", test_detach_refused);
  ADD("/vxm/supervisor/start/second-start-refused", test_second_start_refused);
  ADD("/vxm/supervisor/start/same-gpu-refused", test_same_gpu_refused);
  ADD("/vxm/supervisor/start/same-gpu-race", test_same_gpu_race);
  ADD("/vxm/supervisor/run/qemu-killed", test_qemu_killed);
  ADD("/vxm/supervisor/stop/powerdown-ignored", test_powerdown_ignored);
  ADD("/vxm/supervisor/stop/force", test_force_stop);
  ADD("/vxm/supervisor/stop/sigterm", test_sigterm);
  ADD("/vxm/supervisor/control/status-and-stop", test_control_socket);
  ADD("/vxm/supervisor/monitor/start-stop", test_monitor_start_stop);
  ADD("/vxm/supervisor/monitor/qemu-killed", test_monitor_qemu_killed);
  ADD("/vxm/supervisor/monitor/two-one-dead", test_monitor_two_one_dead);
  ADD("/vxm/supervisor/control/refusals", test_control_refusals);
  ADD("/vxm/supervisor/plan/json-roundtrip", test_plan_json);
  ADD("/vxm/supervisor/plan/json-resources", test_plan_json_resources);
  ADD("/vxm/supervisor/resources/order-and-pinning", test_resources_order);
  ADD("/vxm/supervisor/resources/hugepages-short-fallback", test_resources_fallback);
  ADD("/vxm/supervisor/resources/hugepages-short-fails", test_resources_short);
  ADD("/vxm/supervisor/resources/hugepages-auto-alternative", test_resources_auto_alternative);
  ADD("/vxm/supervisor/resources/hugepages-size-unplanned", test_resources_size_unplanned);
  g_test_add("/vxm/supervisor/resources/memlock-refused/real-host", Fixture, GINT_TO_POINTER(0),
             fixture_setup, test_memlock_refused, fixture_teardown);
  g_test_add("/vxm/supervisor/resources/pinning-impossible/real-host", Fixture, GINT_TO_POINTER(0),
             fixture_setup, test_pinning_impossible, fixture_teardown);
  g_test_add("/vxm/supervisor/resources/pinning-impossible/simulated", Fixture, GINT_TO_POINTER(1),
             fixture_setup, test_pinning_impossible, fixture_teardown);
  g_test_add("/vxm/supervisor/resources/memlock-refused/simulated", Fixture, GINT_TO_POINTER(1),
             fixture_setup, test_memlock_refused, fixture_teardown);
  return g_test_run();
}
