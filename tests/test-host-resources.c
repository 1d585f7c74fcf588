/* Host resources on this machine's real kernel (root): 2 MiB hugepages reserved by vxm and
 * used by the real QEMU (TCG) through a memfd hugetlb backend, its threads pinned per a plan
 * from the real CPU topology, then the count restored; RLIMIT_MEMLOCK raised on real child
 * processes and read back from /proc/PID/limits. Every test puts the hugepage count back in
 * its teardown, whatever happened. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "cpu/vxm-cpu-list.h"
#include "cpu/vxm-cpu-pinning.h"
#include "memory/vxm-hugepages.h"
#include "memory/vxm-memlock.h"
#include "qemu/vxm-qmp-client.h"
#include "qemu/vxm-socket-wait.h"
#include "vxm-test-util.h"

#define MIB (G_GUINT64_CONSTANT(1) << 20)

typedef struct {
  gboolean skipped;
  VxmHostfs *hostfs; /* the real root */
  char *nr_path;     /* host path of the global 2 MiB nr_hugepages */
  char *saved_nr;    /* its value before the test */
  GSubprocess *qemu;
  char *dir;
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->skipped = !vxm_test_require_root();
  if (f->skipped)
    return;
  f->hostfs = vxm_hostfs_new(NULL);
  f->nr_path = vxm_hugepage_pool_attr_path(VXM_HUGEPAGE_SIZE_2M, -1, "nr_hugepages");
  f->saved_nr = vxm_hostfs_read_attr(f->hostfs, f->nr_path, &error);
  g_assert_no_error(error);
  f->dir = vxm_test_mkdtemp();
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  if (f->skipped)
    return;
  if (f->qemu != NULL) {
    g_subprocess_force_exit(f->qemu);
    (void)g_subprocess_wait(f->qemu, NULL, NULL);
    g_clear_object(&f->qemu);
  }
  /* echo $saved > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages, not through the
   * code under test */
  if (!vxm_hostfs_write_attr(f->hostfs, f->nr_path, f->saved_nr, &error))
    g_printerr("# could not restore %s to %s: %s\n", f->nr_path, f->saved_nr, error->message);
  vxm_test_rm_rf(f->dir);
  g_free(f->dir);
  g_free(f->saved_nr);
  g_free(f->nr_path);
  g_object_unref(f->hostfs);
}

static guint64
read_pool_attr(Fixture *f, const char *attr)
{
  g_autofree char *path = vxm_hugepage_pool_attr_path(VXM_HUGEPAGE_SIZE_2M, -1, attr);
  g_autoptr(GError) error = NULL;
  guint64 value = 0;

  g_assert_true(vxm_hostfs_read_attr_uint64(f->hostfs, path, 10, &value, &error));
  return value;
}

static void
on_socket(GObject *source, GAsyncResult *result, gpointer data)
{
  int *fd = data;
  g_autoptr(GError) error = NULL;

  *fd = vxm_wait_for_socket_finish(result, &error);
  g_assert_no_error(error);
}

static VxmQmpClient *
connect_qmp(const char *path)
{
  int fd = -2;
  g_autoptr(GError) error = NULL;
  VxmQmpClient *client;

  vxm_wait_for_socket_async(path, 20000, NULL, on_socket, &fd);
  while (fd == -2)
    g_main_context_iteration(NULL, TRUE);
  client = vxm_qmp_client_new_for_fd(fd, &error);
  g_assert_no_error(error);
  g_assert_true(vxm_qmp_client_handshake_sync(client, 20000, &error));
  g_assert_no_error(error);
  return client;
}

/* Reserve 512 MiB of 2 MiB pages, start the real QEMU on them (paused), see them in use, pin
 * its threads per a plan from this machine's topology, quit, release: count as before. */
static void
test_real_qemu(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmHugepages) hp = NULL;
  g_autoptr(VxmQmpClient) qmp = NULL;
  g_autoptr(JsonNode) cpus = NULL;
  g_autoptr(VxmCpuTopology) topology = NULL;
  g_autoptr(VxmCpuPinningPlan) plan = NULL;
  g_autoptr(GArray) tids = g_array_new(FALSE, FALSE, sizeof(gint));
  g_autoptr(GArray) threads = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *qmp_path = NULL;
  g_autofree char *qmp_arg = NULL;
  guint64 before_nr, free_before, free_running;
  VxmHugepagesRequest req;
  VxmCpuPinningRequest pin_req = {0};
  GPid pid;
  JsonArray *array;

  if (f->skipped)
    return;
  before_nr = read_pool_attr(f, "nr_hugepages");

  vxm_hugepages_request_init(&req);
  req.setting = VXM_VM_HUGEPAGES_2M;
  hp = vxm_hugepages_reserve(f->hostfs, 512 * MIB, &req, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(hp->page_size, ==, VXM_HUGEPAGE_SIZE_2M);
  g_assert_cmpuint(hp->pages, ==, 256);
  g_assert_cmpuint(hp->previous, ==, before_nr);
  free_before = read_pool_attr(f, "free_hugepages");
  g_assert_cmpuint(free_before, >=, 256);

  /* the plan: this machine's CPUs, one core kept for the host */
  topology = vxm_cpu_topology_read(f->hostfs, &error);
  g_assert_no_error(error);
  pin_req.mode = VXM_VM_CPU_PINNING_AUTO;
  pin_req.host_cores = 1;
  pin_req.vcpus = 1;
  pin_req.gpu_node = -1;
  plan = vxm_cpu_pinning_plan_new(topology, &pin_req, &error);
  g_assert_no_error(error);
  g_assert_true(plan->pinned);
  g_assert_cmpuint(plan->vcpus, ==, 1);

  qmp_path = g_build_filename(f->dir, "qmp.sock", NULL);
  qmp_arg = g_strdup_printf("unix:%s,server=on,wait=off", qmp_path);
  launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  {
    const char *argv[] = {"qemu-system-x86_64",
                          "-machine",
                          "q35,accel=tcg",
                          "-m",
                          "512M",
                          "-smp",
                          "1",
                          "-object",
                          "memory-backend-memfd,id=mem0,size=512M,hugetlb=on,hugetlbsize=2M,"
                          "share=on,prealloc=on",
                          "-machine",
                          "memory-backend=mem0",
                          "-nodefaults",
                          "-display",
                          "none",
                          "-S",
                          "-qmp",
                          qmp_arg,
                          NULL};
    f->qemu = g_subprocess_launcher_spawnv(launcher, argv, &error);
    g_assert_no_error(error);
  }
  pid = (GPid)atoi(g_subprocess_get_identifier(f->qemu));
  qmp = connect_qmp(qmp_path);

  /* prealloc=on: every page is taken before QMP answers */
  free_running = read_pool_attr(f, "free_hugepages");
  g_assert_cmpuint(free_running, ==, free_before - 256);

  cpus = vxm_qmp_client_execute_sync(qmp, "query-cpus-fast", NULL, 0, &error);
  g_assert_no_error(error);
  array = json_node_get_array(cpus);
  g_assert_cmpuint(json_array_get_length(array), ==, 1);
  for (guint i = 0; i < json_array_get_length(array); i++) {
    gint tid =
        (gint)json_object_get_int_member(json_array_get_object_element(array, i), "thread-id");
    g_array_append_val(tids, tid);
  }
  g_assert_true(vxm_cpu_pinning_apply(plan, pid, tids, &error));
  g_assert_no_error(error);

  /* sched_getaffinity of every thread of the real process */
  threads = vxm_cpu_pinning_list_threads(pid, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(threads->len, >=, 2);
  for (guint i = 0; i < threads->len; i++) {
    gint tid = g_array_index(threads, gint, i);
    g_autoptr(GArray) affinity = vxm_cpu_pinning_get_affinity(tid, &error);
    g_autofree char *got = NULL;
    g_autofree char *want = NULL;
    g_assert_no_error(error);
    got = vxm_cpu_list_format(affinity);
    want = tid == g_array_index(tids, gint, 0)
               ? g_strdup_printf("%u", g_array_index(plan->vcpu_cpus, guint, 0))
               : vxm_cpu_list_format(plan->emulator_cpus);
    g_assert_cmpstr(got, ==, want);
  }

  {
    g_autoptr(JsonNode) reply = vxm_qmp_client_execute_sync(qmp, "quit", NULL, 0, &error);
    g_assert_no_error(error);
  }
  g_assert_true(g_subprocess_wait(f->qemu, NULL, &error));
  g_clear_object(&f->qemu);
  g_assert_cmpuint(read_pool_attr(f, "free_hugepages"), ==, free_before);

  g_assert_true(vxm_hugepages_release(hp, f->hostfs, NULL, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(read_pool_attr(f, "nr_hugepages"), ==, before_nr);
}

/* The "Max locked memory" soft and hard values of /proc/PID/limits of a real process. */
static void
read_proc_memlock(pid_t pid, char **soft, char **hard)
{
  g_autofree char *path = g_strdup_printf("/proc/%d/limits", (int)pid);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;

  g_file_get_contents(path, &text, NULL, &error);
  g_assert_no_error(error);
  lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    if (g_str_has_prefix(lines[i], "Max locked memory")) {
      g_auto(GStrv) fields = g_strsplit_set(lines[i] + strlen("Max locked memory"), " ", -1);
      guint n = 0;
      for (guint k = 0; fields[k] != NULL; k++) {
        if (*fields[k] == '\0')
          continue;
        if (n == 0)
          *soft = g_strdup(fields[k]);
        else if (n == 1)
          *hard = g_strdup(fields[k]);
        n++;
      }
      return;
    }
  }
  g_assert_not_reached();
}

/* CAP_SYS_RESOURCE in the effective set: root in a container may lack it (this machine
 * does), and then only limits up to the current hard limit can be given. */
static gboolean
have_cap_sys_resource(void)
{
  g_autofree char *status = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_true(g_file_get_contents("/proc/self/status", &status, NULL, NULL));
  lines = g_strsplit(status, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    guint64 caps;
    if (g_str_has_prefix(lines[i], "CapEff:") &&
        g_ascii_string_to_unsigned(g_strstrip(lines[i] + 7), 16, 0, G_MAXUINT64, &caps, NULL))
      return (caps >> 24) & 1; /* CAP_SYS_RESOURCE */
  }
  return FALSE;
}

static guint64 child_soft_limit;

/* Child setup for the target: a low soft limit, so raising it shows. */
static void
lower_soft_limit(gpointer data)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
    rl.rlim_cur = child_soft_limit;
    (void)setrlimit(RLIMIT_MEMLOCK, &rl);
  }
}

static GSubprocess *
spawn_sleeper(GSubprocessLauncher *launcher)
{
  g_autoptr(GError) error = NULL;
  const char *argv[] = {"sleep", "60", NULL};
  GSubprocess *child;

  child = g_subprocess_launcher_spawnv(launcher, argv, &error);
  g_assert_no_error(error);
  return child;
}

/* The size the tests ask for: a guest's worth when vxm may raise hard limits, else the hard
 * limit this process has (which prlimit may give without privileges). */
static guint64
wanted_limit(void)
{
  struct rlimit rl;

  if (have_cap_sys_resource())
    return vxm_memlock_required(8ull << 30, 32 * MIB);
  g_assert_cmpint(getrlimit(RLIMIT_MEMLOCK, &rl), ==, 0);
  g_assert_true(rl.rlim_max != RLIM_INFINITY);
  return rl.rlim_max;
}

static void
test_memlock_prlimit(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autofree char *soft = NULL;
  g_autofree char *hard = NULL;
  g_autofree char *want = NULL;
  guint64 bytes, s, h;
  pid_t pid;

  if (f->skipped)
    return;
  g_assert_cmpuint(vxm_memlock_required(8ull << 30, 32 * MIB), ==,
                   (8ull << 30) + (1ull << 30) + 32 * MIB);
  bytes = wanted_limit();
  child_soft_limit = 64 * 1024;
  launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_set_child_setup(launcher, lower_soft_limit, NULL, NULL);
  child = spawn_sleeper(launcher);
  pid = atoi(g_subprocess_get_identifier(child));
  read_proc_memlock(pid, &soft, &hard);
  g_assert_cmpstr(soft, ==, "65536");
  g_clear_pointer(&soft, g_free);
  g_clear_pointer(&hard, g_free);

  if (!vxm_memlock_raise_pid(pid, bytes, &error))
    g_assert_no_error(error);
  read_proc_memlock(pid, &soft, &hard);
  want = g_strdup_printf("%" G_GUINT64_FORMAT, bytes);
  g_assert_cmpstr(soft, ==, want);
  g_assert_cmpstr(hard, ==, want);
  g_assert_true(vxm_memlock_get_pid(pid, &s, &h, &error));
  g_assert_cmpuint(s, ==, bytes);

  /* never lowered; the pidfd form reaches the same process */
  {
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    g_assert_cmpint(pidfd, >=, 0);
    g_assert_true(vxm_memlock_raise_pidfd(pidfd, 64 * 1024, &error));
    g_assert_no_error(error);
    close(pidfd);
  }
  g_clear_pointer(&soft, g_free);
  g_clear_pointer(&hard, g_free);
  read_proc_memlock(pid, &soft, &hard);
  g_assert_cmpstr(soft, ==, want);

  /* beyond the hard limit without CAP_SYS_RESOURCE: the error says what it needs */
  if (!have_cap_sys_resource()) {
    g_assert_false(vxm_memlock_raise_pid(pid, vxm_memlock_required(8ull << 30, 0), &error));
    g_assert_error(error, VXM_ERROR, VXM_ERROR_PERMISSION);
    g_assert_nonnull(strstr(error->message, "CAP_SYS_RESOURCE"));
    g_clear_error(&error);
  }

  {
    /* a pidfd whose process has exited and been reaped */
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    g_subprocess_force_exit(child);
    g_assert_true(g_subprocess_wait(child, NULL, NULL));
    g_assert_false(vxm_memlock_raise_pidfd(pidfd, bytes, &error));
    g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
    g_clear_error(&error);
    close(pidfd);
  }
  /* a pid that names no process */
  g_assert_false(vxm_memlock_raise_pid(G_MAXINT - 1, bytes, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
}

/* setrlimit in the child before exec, the hook for a spawner with CAP_SYS_RESOURCE. `vxm
 * start` does not use it: its supervisor raises its own limit (raise_memlock on its own pidfd,
 * locally or through vxmd) and QEMU inherits it; test_memlock_prlimit covers that path. */
static void
test_memlock_child_setup(Fixture *f, gconstpointer data)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autofree char *soft = NULL;
  g_autofree char *hard = NULL;
  g_autofree char *want = NULL;
  static guint64 bytes;
  struct rlimit saved, low;

  if (f->skipped)
    return;
  bytes = wanted_limit();
  /* a low soft limit in this process, so the child starts low and must raise it itself */
  g_assert_cmpint(getrlimit(RLIMIT_MEMLOCK, &saved), ==, 0);
  low = saved;
  low.rlim_cur = 64 * 1024;
  g_assert_cmpint(setrlimit(RLIMIT_MEMLOCK, &low), ==, 0);
  launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_set_child_setup(launcher, vxm_memlock_child_setup, &bytes, NULL);
  child = spawn_sleeper(launcher);
  g_assert_cmpint(setrlimit(RLIMIT_MEMLOCK, &saved), ==, 0);
  read_proc_memlock(atoi(g_subprocess_get_identifier(child)), &soft, &hard);
  want = g_strdup_printf("%" G_GUINT64_FORMAT, bytes);
  g_assert_cmpstr(soft, ==, want);
  g_assert_cmpstr(hard, ==, want);
  g_subprocess_force_exit(child);
  g_assert_true(g_subprocess_wait(child, NULL, NULL));
}

/* Without CAP_SYS_RESOURCE prlimit cannot raise a hard limit: the error says what is needed.
 * The unprivileged side is a child that dropped to nobody and raises its own sibling. */
static void
test_memlock_unprivileged(Fixture *f, gconstpointer data)
{
  pid_t target, worker;
  int status;
  int pipefd[2];
  char buf[512] = "";
  ssize_t n;

  if (f->skipped)
    return;
  int ready[2];
  char c;

  /* the target is nobody's before the worker starts */
  g_assert_cmpint(pipe(ready), ==, 0);
  target = fork();
  if (target == 0) {
    close(ready[0]);
    if (setgid(65534) != 0 || setuid(65534) != 0)
      _exit(2);
    if (write(ready[1], "r", 1) != 1)
      _exit(3);
    pause();
    _exit(0);
  }
  close(ready[1]);
  g_assert_cmpint(read(ready[0], &c, 1), ==, 1);
  close(ready[0]);
  g_assert_cmpint(pipe(pipefd), ==, 0);
  worker = fork();
  if (worker == 0) {
    g_autoptr(GError) error = NULL;
    close(pipefd[0]);
    if (setgid(65534) != 0 || setuid(65534) != 0)
      _exit(2);
    if (vxm_memlock_raise_pid(target, G_GUINT64_CONSTANT(1) << 40, &error))
      _exit(3);
    if (write(pipefd[1], error->message, strlen(error->message)) < 0)
      _exit(4);
    _exit(error->code == VXM_ERROR_PERMISSION ? 0 : 5);
  }
  close(pipefd[1]);
  n = read(pipefd[0], buf, sizeof(buf) - 1);
  close(pipefd[0]);
  g_assert_cmpint(waitpid(worker, &status, 0), ==, worker);
  kill(target, SIGKILL);
  waitpid(target, NULL, 0);
  g_assert_cmpint(n, >, 0);
  g_assert_true(WIFEXITED(status));
  g_assert_cmpint(WEXITSTATUS(status), ==, 0);
  if (strstr(buf, "CAP_SYS_RESOURCE") == NULL)
    g_error("unexpected: %s", buf);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add("/vxm/host-resources/real/hugepages-qemu-pinning", Fixture, NULL, fixture_set_up,
             test_real_qemu, fixture_tear_down);
  g_test_add("/vxm/host-resources/real/memlock-prlimit", Fixture, NULL, fixture_set_up,
             test_memlock_prlimit, fixture_tear_down);
  g_test_add("/vxm/host-resources/real/memlock-child-setup", Fixture, NULL, fixture_set_up,
             test_memlock_child_setup, fixture_tear_down);
  g_test_add("/vxm/host-resources/real/memlock-unprivileged", Fixture, NULL, fixture_set_up,
             test_memlock_unprivileged, fixture_tear_down);
  return g_test_run();
}
