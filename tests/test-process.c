/* vxm-process and vxm-socket-wait: what the supervisor relies on when it runs QEMU and swtpm. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "qemu/vxm-process.h"
#include "qemu/vxm-socket-wait.h"
#include "vxm-test-users.h"
#include "vxm-test-util.h"

#include <pwd.h>

static char *
child_path(void)
{
  return vxm_test_build_path("tests/vxm-test-child");
}

static void
on_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;
  *out = g_object_ref(result);
}

static void
iterate_until(GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration(NULL, TRUE);
}

static void
wait_exit(VxmProcess *process)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  vxm_process_wait_async(process, NULL, on_done, &result);
  iterate_until(&result);
  g_assert_true(vxm_process_wait_finish(process, result, &error));
  g_assert_no_error(error);
  g_assert_true(vxm_process_has_exited(process));
}

/* Runs the test child with @args and @envp, returns its log (stdout+stderr). */
static char *
run_child(const char *const *args, const char *const *envp, const VxmProcessFd *fds, guint n_fds,
          VxmProcessFlags flags, int *out_exit)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *log = g_build_filename(dir, "child.log", NULL);
  g_autofree char *child = child_path();
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmProcess) process = NULL;
  char *contents = NULL;
  char *body;

  g_ptr_array_add(argv, child);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add(argv, (gpointer)args[i]);
  g_ptr_array_add(argv, NULL);
  process =
      vxm_process_spawn((const char *const *)argv->pdata, envp, fds, n_fds, log, flags, &error);
  g_assert_no_error(error);
  g_assert_cmpint(vxm_process_get_pid(process), >, 0);
  if (flags & VXM_PROCESS_NO_PIDFD)
    g_assert_cmpint(vxm_process_get_pidfd(process), ==, -1);
  else
    g_assert_cmpint(vxm_process_get_pidfd(process), >=, 0);
  wait_exit(process);
  *out_exit = vxm_process_get_exit_status(process);
  g_assert_true(g_file_get_contents(log, &contents, NULL, &error));
  /* The first line says what started; the child's output follows. */
  g_assert_true(g_str_has_prefix(strstr(contents, " vxm: starting "), " vxm: starting /"));
  g_assert_nonnull(strchr(contents, '\n'));
  body = g_strdup(strchr(contents, '\n') + 1);
  g_free(contents);
  vxm_test_rm_rf(dir);
  return body;
}

static void
test_env_cleared(void)
{
  const char *const env[] = {"ONLY=this", "AND=that", NULL};
  g_autofree char *out = NULL;
  g_autofree char *out_empty = NULL;
  int status = -1;

  g_setenv("VXM_TEST_LEAK", "1", TRUE);
  out = run_child((const char *const[]){"env", NULL}, env, NULL, 0, 0, &status);
  g_assert_cmpint(status, ==, 0);
  g_assert_cmpstr(out, ==, "ONLY=this\nAND=that\n");
  out_empty = run_child((const char *const[]){"env", NULL}, NULL, NULL, 0, 0, &status);
  g_assert_cmpstr(out_empty, ==, "");
}

static void
test_fds(void)
{
  int a[2], b[2], leak;
  char buf[16] = {0};
  g_autofree char *out = NULL;
  g_autofree char *out2 = NULL;
  int status = -1;

  /* Without close-on-exec on purpose: the spawn must still not leak them. */
  g_assert_cmpint(pipe(a), ==, 0);
  g_assert_cmpint(pipe(b), ==, 0);
  leak = dup(a[1]);
  {
    /* Crossed: each source sits at the other's target number. */
    VxmProcessFd fds[] = {{a[1], b[1]}, {b[1], a[1]}};
    g_autofree char *target = g_strdup_printf("%d", b[1]);
    g_autofree char *sorted = NULL;
    out = run_child((const char *const[]){"fds", NULL}, NULL, fds, 2, 0, &status);
    g_assert_cmpint(status, ==, 0);
    sorted = a[1] < b[1] ? g_strdup_printf("0\n1\n2\n%d\n%d\n", a[1], b[1])
                         : g_strdup_printf("0\n1\n2\n%d\n%d\n", b[1], a[1]);
    g_assert_cmpstr(out, ==, sorted);

    /* And the fd at the target number is the right one: fd b[1] in the child is pipe a. */
    out2 =
        run_child((const char *const[]){"write", target, "via-a", NULL}, NULL, fds, 2, 0, &status);
    g_assert_cmpint(status, ==, 0);
    g_assert_cmpint(read(a[0], buf, sizeof(buf) - 1), ==, 5);
    g_assert_cmpstr(buf, ==, "via-a");
  }
  close(a[0]);
  close(a[1]);
  close(b[0]);
  close(b[1]);
  close(leak);
}

static void
test_fd_targets_checked(void)
{
  const char *const argv[] = {"/bin/true", NULL};
  VxmProcessFd bad[] = {{0, 1}};
  VxmProcessFd twice[] = {{0, 5}, {1, 5}};
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;

  g_assert_null(vxm_process_spawn(argv, NULL, bad, 1, NULL, 0, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
  g_assert_null(vxm_process_spawn(argv, NULL, twice, 2, NULL, 0, &error2));
  g_assert_error(error2, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
}

static void
test_log_capture(void)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *log = g_build_filename(dir, "child.log", NULL);
  g_autofree char *child = child_path();
  const char *const argv[] = {child, "out-err", NULL};
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  struct stat st;

  /* Appended, not truncated: a restarted QEMU keeps the previous run's log above. */
  vxm_test_write_file(dir, "child.log", "previous run\n");
  for (int i = 0; i < 2; i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmProcess) process = vxm_process_spawn(argv, NULL, NULL, 0, log, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(vxm_process_get_log_path(process), ==, log);
    g_assert_cmpstr(vxm_process_get_name(process), ==, "vxm-test-child");
    wait_exit(process);
  }
  g_assert_true(g_file_get_contents(log, &contents, NULL, NULL));
  lines = g_strsplit(contents, "\n", -1);
  g_assert_cmpuint(g_strv_length(lines), ==, 8);
  g_assert_cmpstr(lines[0], ==, "previous run");
  g_assert_nonnull(strstr(lines[1], "vxm-test-child out-err"));
  g_assert_cmpstr(lines[2], ==, "to-stdout");
  g_assert_cmpstr(lines[3], ==, "to-stderr");
  g_assert_cmpstr(lines[5], ==, "to-stdout");
  g_assert_cmpstr(lines[6], ==, "to-stderr");
  g_assert_cmpint(stat(log, &st), ==, 0);
  vxm_test_rm_rf(dir);
}

static void
test_exit_status(gconstpointer data)
{
  VxmProcessFlags flags = GPOINTER_TO_UINT(data);
  g_autofree char *child = child_path();
  const char *const exit3[] = {child, "exit", "3", NULL};
  const char *const exit0[] = {child, "exit", "0", NULL};
  g_autofree char *usr1 = g_strdup_printf("%d", SIGUSR1);
  const char *const raise_usr1[] = {child, "raise", usr1, NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmProcess) p3 = vxm_process_spawn(exit3, NULL, NULL, 0, NULL, flags, &error);
  g_autoptr(VxmProcess) p0 = vxm_process_spawn(exit0, NULL, NULL, 0, NULL, flags, &error);
  g_autoptr(VxmProcess) ps = vxm_process_spawn(raise_usr1, NULL, NULL, 0, NULL, flags, &error);
  g_autoptr(GError) e3 = NULL;
  g_autoptr(GError) es = NULL;

  g_assert_no_error(error);
  wait_exit(p3);
  wait_exit(p0);
  wait_exit(ps);
  g_assert_cmpint(vxm_process_get_exit_status(p3), ==, 3);
  g_assert_cmpint(vxm_process_get_term_signal(p3), ==, 0);
  g_assert_false(vxm_process_check_success(p3, &e3));
  g_assert_nonnull(strstr(e3->message, "exited with status 3"));
  g_assert_true(vxm_process_check_success(p0, NULL));
  g_assert_cmpint(vxm_process_get_exit_status(ps), ==, -1);
  g_assert_cmpint(vxm_process_get_term_signal(ps), ==, SIGUSR1);
  g_assert_false(vxm_process_check_success(ps, &es));
  g_assert_nonnull(strstr(es->message, "killed by signal"));
  /* Waiting again on an ended process returns at once. */
  wait_exit(p3);
}

typedef struct {
  guint count;
  int status;
} Exited;

static void
on_exited(VxmProcess *process, int status, gpointer user_data)
{
  Exited *e = user_data;
  e->count++;
  e->status = status;
}

static VxmProcess *
spawn_hanging(const char *mode, Exited *exited)
{
  g_autofree char *child = child_path();
  const char *const argv[] = {child, mode, NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmProcess) process = NULL;
  int ready[2];
  char c;

  g_assert_cmpint(pipe2(ready, O_CLOEXEC), ==, 0);
  process = vxm_process_spawn(argv, NULL, (VxmProcessFd[]){{ready[1], 3}}, 1, NULL,
                              VXM_PROCESS_NEW_PROCESS_GROUP, &error);
  g_assert_no_error(error);
  g_signal_connect(process, "exited", G_CALLBACK(on_exited), exited);
  close(ready[1]);
  g_assert_cmpint(read(ready[0], &c, 1), ==, 1); /* its signal disposition is in place */
  close(ready[0]);
  return g_steal_pointer(&process);
}

static void
test_terminate(void)
{
  Exited exited = {0};
  g_autoptr(VxmProcess) process = spawn_hanging("hang", &exited);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gboolean killed = TRUE;

  vxm_process_terminate_async(process, SIGTERM, 5000, NULL, on_done, &result);
  iterate_until(&result);
  g_assert_true(vxm_process_terminate_finish(process, result, &killed, &error));
  g_assert_false(killed);
  g_assert_cmpint(vxm_process_get_term_signal(process), ==, SIGTERM);
  g_assert_cmpuint(exited.count, ==, 1);
  g_assert_true(WIFSIGNALED(exited.status));
}

static void
test_terminate_escalates(void)
{
  Exited exited = {0};
  g_autoptr(VxmProcess) process = spawn_hanging("hang-ignore-term", &exited);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gboolean killed = FALSE;

  vxm_process_terminate_async(process, SIGTERM, 100, NULL, on_done, &result);
  iterate_until(&result);
  g_assert_true(vxm_process_terminate_finish(process, result, &killed, &error));
  g_assert_true(killed);
  g_assert_cmpint(vxm_process_get_term_signal(process), ==, SIGKILL);
  g_assert_cmpuint(exited.count, ==, 1);
  /* Signalling an ended process is not an error. */
  g_assert_true(vxm_process_send_signal(process, SIGTERM, NULL));
}

static void
test_wait_cancelled(void)
{
  Exited exited = {0};
  g_autoptr(VxmProcess) process = spawn_hanging("hang", &exited);
  g_autoptr(GCancellable) cancellable = g_cancellable_new();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  vxm_process_wait_async(process, cancellable, on_done, &result);
  g_cancellable_cancel(cancellable);
  iterate_until(&result);
  g_assert_false(vxm_process_wait_finish(process, result, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false(vxm_process_has_exited(process));
  g_assert_true(vxm_process_send_signal(process, SIGKILL, NULL));
  wait_exit(process);
  g_assert_cmpint(vxm_process_get_term_signal(process), ==, SIGKILL);
}

static void
test_process_group(void)
{
  g_autofree char *own = NULL;
  g_autofree char *shared = NULL;
  int status = -1;

  own = run_child((const char *const[]){"pgid", NULL}, NULL, NULL, 0, VXM_PROCESS_NEW_PROCESS_GROUP,
                  &status);
  g_assert_cmpstr(own, ==, "leader\n");
  shared = run_child((const char *const[]){"pgid", NULL}, NULL, NULL, 0, 0, &status);
  g_assert_cmpstr(shared, ==, "member\n");
}

static void
test_exec_errors(void)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *plain = g_build_filename(dir, "not-executable", NULL);
  const char *const missing[] = {"vxm-no-such-program-anywhere", NULL};
  const char *const noexec[] = {plain, NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;

  g_assert_null(vxm_process_spawn(missing, NULL, NULL, 0, NULL, 0, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "vxm-no-such-program-anywhere"));

  vxm_test_write_file(dir, "not-executable", "data\n");
  /* No x bit at all: even root gets EACCES from execve. */
  chmod(plain, 0644);
  g_assert_null(vxm_process_spawn(noexec, NULL, NULL, 0, NULL, 0, &error2));
  g_assert_error(error2, VXM_ERROR, VXM_ERROR_PERMISSION);
  g_assert_nonnull(strstr(error2->message, plain));
  vxm_test_rm_rf(dir);
}

static void
test_log_unwritable(void)
{
  const char *const argv[] = {"/bin/true", NULL};
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *log = g_build_filename(dir, "missing-folder", "qemu.log", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_null(vxm_process_spawn(argv, NULL, NULL, 0, log, 0, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, log));
  vxm_test_rm_rf(dir);
}

/* ---- socket wait ---- */

typedef struct {
  char *path;
  guint delay_ms;
  guint listen_delay_ms;
  int fd;
} Listener;

static int
bind_socket(const char *path)
{
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
  g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
  return fd;
}

/* Plays a program that creates its socket late (and maybe listens later still). */
static gpointer
listener_thread(gpointer data)
{
  Listener *l = data;

  g_usleep(l->delay_ms * G_TIME_SPAN_MILLISECOND);
  l->fd = bind_socket(l->path);
  g_usleep(l->listen_delay_ms * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint(listen(l->fd, 1), ==, 0);
  return NULL;
}

static int
wait_socket(const char *path, guint timeout_ms, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  vxm_wait_for_socket_async(path, timeout_ms, NULL, on_done, &result);
  iterate_until(&result);
  return vxm_wait_for_socket_finish(result, error);
}

static void
check_socket_appears(guint listen_delay_ms)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  Listener l = {g_build_filename(dir, "swtpm.sock", NULL), 50, listen_delay_ms, -1};
  g_autoptr(GError) error = NULL;
  GThread *thread = g_thread_new("listener", listener_thread, &l);
  vxm_autofd int fd = wait_socket(l.path, 10000, &error);
  vxm_autofd int accepted = -1;

  g_assert_no_error(error);
  g_assert_cmpint(fd, >=, 0);
  g_thread_join(thread);
  /* A real connection: the listener can accept it. */
  accepted = accept(l.fd, NULL, NULL);
  g_assert_cmpint(accepted, >=, 0);
  g_assert_cmpint(fcntl(fd, F_GETFD) & FD_CLOEXEC, !=, 0);
  close(l.fd);
  g_free(l.path);
  vxm_test_rm_rf(dir);
}

static void
test_socket_appears(void)
{
  check_socket_appears(0);
}

static void
test_socket_listens_late(void)
{
  check_socket_appears(60);
}

static void
test_socket_already_there(void)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *path = g_build_filename(dir, "qmp.sock", NULL);
  vxm_autofd int listener = bind_socket(path);
  g_autoptr(GError) error = NULL;
  vxm_autofd int fd = -1;

  g_assert_cmpint(listen(listener, 1), ==, 0);
  fd = wait_socket(path, 1000, &error);
  g_assert_no_error(error);
  g_assert_cmpint(fd, >=, 0);
  vxm_test_rm_rf(dir);
}

static void
test_socket_timeout(void)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *path = g_build_filename(dir, "never.sock", NULL);
  g_autofree char *stale = g_build_filename(dir, "stale.sock", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;

  g_assert_cmpint(wait_socket(path, 80, &error), ==, -1);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_TIMEOUT);
  g_assert_nonnull(strstr(error->message, path));

  /* A socket file left by a dead program: nobody will ever accept. */
  close(bind_socket(stale));
  g_assert_cmpint(wait_socket(stale, 80, &error2), ==, -1);
  g_assert_error(error2, VXM_ERROR, VXM_ERROR_TIMEOUT);
  g_assert_nonnull(strstr(error2->message, "refused"));
  vxm_test_rm_rf(dir);
}

static void
test_socket_no_folder(void)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *path = g_build_filename(dir, "gone", "qmp.sock", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint(wait_socket(path, 1000, &error), ==, -1);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  vxm_test_rm_rf(dir);
}

static void
test_socket_cancelled(void)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *path = g_build_filename(dir, "never.sock", NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  vxm_wait_for_socket_async(path, 60000, cancellable, on_done, &result);
  g_cancellable_cancel(cancellable);
  iterate_until(&result);
  g_assert_cmpint(vxm_wait_for_socket_finish(result, &error), ==, -1);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  vxm_test_rm_rf(dir);
}

/* One of the /proc/PID/status lines ("Uid:"), its fields after the name. */
static GStrv
status_fields(GPid pid, const char *name)
{
  g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
  lines = g_strsplit(contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    if (g_str_has_prefix(lines[i], name))
      return g_strsplit_set(g_strstrip(lines[i] + strlen(name)), " \t", -1);
  }
  g_assert_not_reached();
}

static void
test_run_as_user(void)
{
  g_autofree char *dir = NULL;
  g_autofree char *log = NULL;
  g_autofree char *child = NULL;
  g_autoptr(VxmRunAs) user = NULL;
  g_autoptr(VxmProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) uids = NULL;
  g_auto(GStrv) gids = NULL;
  g_autofree char *name = NULL;
  g_auto(GStrv) groups = NULL;
  struct passwd *pw;
  struct stat st;
  uid_t uid;

  if (geteuid() != 0) {
    g_test_skip("dropping to another user needs root");
    return;
  }
  name = g_strdup_printf("vxmproc%d", (int)getpid()); /* one per program: suites run at once */
  uid = vxm_test_user_add(name, NULL);
  pw = getpwuid(uid);
  g_assert_nonnull(pw);
  user = vxm_run_as_lookup(uid, pw->pw_gid, &error);
  g_assert_no_error(error);
  dir = vxm_test_mkdtemp();
  log = g_build_filename(dir, "child.log", NULL);
  child = vxm_test_user_binary("tests/vxm-test-child");
  process = vxm_process_spawn_as((const char *const[]){child, "hang", NULL}, NULL, NULL, 0, log,
                                 VXM_PROCESS_KILL_WITH_PARENT, user, &error);
  g_assert_no_error(error);
  /* real, effective, saved and filesystem ids: all the user's, no group root */
  uids = status_fields(vxm_process_get_pid(process), "Uid:");
  gids = status_fields(vxm_process_get_pid(process), "Gid:");
  groups = status_fields(vxm_process_get_pid(process), "Groups:");
  g_assert_cmpuint(g_strv_length(uids), ==, 4);
  for (guint i = 0; i < 4; i++) {
    g_assert_cmpuint(g_ascii_strtoull(uids[i], NULL, 10), ==, uid);
    g_assert_cmpuint(g_ascii_strtoull(gids[i], NULL, 10), ==, pw->pw_gid);
  }
  for (guint i = 0; groups[i] != NULL; i++)
    g_assert_cmpstr(groups[i], !=, "0");
  g_assert_cmpint(stat(log, &st), ==, 0);
  g_assert_cmpuint(st.st_uid, ==, uid);
  g_assert_true(vxm_process_send_signal(process, SIGKILL, &error));
  g_assert_no_error(error);
  wait_exit(process);
  g_assert_cmpint(vxm_process_get_term_signal(process), ==, SIGKILL);
  g_clear_object(&process);

  /* a program the user cannot run: the spawn fails and says as whom */
  g_assert_cmpint(chmod(log, 0700), ==, 0);
  process =
      vxm_process_spawn_as((const char *const[]){log, NULL}, NULL, NULL, 0, NULL, 0, user, &error);
  g_assert_null(process);
  g_assert_nonnull(error);
  {
    g_autofree char *as_whom = g_strdup_printf("as user %s", name);

    g_assert_nonnull(strstr(error->message, as_whom));
  }
  vxm_test_rm_rf(dir);
}

static void
assert_refused(VxmRunAs *user, GError *error, const char *what)
{
  g_assert_null(user);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_REFUSED);
  g_test_message("%s", error->message);
  g_assert_nonnull(strstr(error->message, what));
  g_assert_nonnull(strstr(error->message, "run vxm as your user (vxmd does the privileged part), "
                                          "or sudo from your user"));
}

static void
test_run_as_sudo_checked(void)
{
  struct {
    const char *uid;
    const char *gid;
    const char *what;
  } refused[] = {
      {NULL, NULL, "without a sudo user (SUDO_UID is not set)"},
      {"", "0", "without a sudo user (SUDO_UID is not set)"},
      {"1000x", "1000", "SUDO_UID=1000x is not a number"},
      {"0", "0", "the sudo user is root"},
      {"4000000000", "100", "uid 4000000000 (SUDO_UID) has no account"},
      {"65534", NULL, "SUDO_GID is not set"},
      {"65534", "0", "not a group of user"},
  };
  struct passwd *nobody = getpwuid(65534);

  for (guint i = 0; i < G_N_ELEMENTS(refused); i++) {
    g_autoptr(GError) error = NULL;
    VxmRunAs *user;

    if (nobody == NULL && g_strcmp0(refused[i].uid, "65534") == 0)
      continue; /* no nobody account here: refused for a different reason */
    user = vxm_run_as_from_sudo(refused[i].uid, refused[i].gid, &error);
    assert_refused(user, error, refused[i].what);
  }
  if (nobody != NULL) {
    g_autoptr(GError) error = NULL;
    g_autofree char *gid = g_strdup_printf("%u", (guint)nobody->pw_gid);
    g_autoptr(VxmRunAs) user = vxm_run_as_from_sudo("65534", gid, &error);

    g_assert_no_error(error);
    g_assert_cmpuint(user->uid, ==, 65534);
    g_assert_cmpstr(user->name, ==, nobody->pw_name);
    g_assert_cmpuint(user->n_groups, >=, 1);
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/process/spawn/env-cleared", test_env_cleared);
  g_test_add_func("/vxm/process/spawn/fds-passed-not-leaked", test_fds);
  g_test_add_func("/vxm/process/spawn/fd-targets-checked", test_fd_targets_checked);
  g_test_add_func("/vxm/process/spawn/log-capture", test_log_capture);
  g_test_add_func("/vxm/process/spawn/process-group", test_process_group);
  g_test_add_func("/vxm/process/spawn/exec-errors", test_exec_errors);
  g_test_add_func("/vxm/process/spawn/log-unwritable", test_log_unwritable);
  g_test_add_func("/vxm/process/spawn/run-as-user", test_run_as_user);
  g_test_add_func("/vxm/process/run-as/sudo-checked", test_run_as_sudo_checked);
  g_test_add_data_func("/vxm/process/exit/pidfd", GUINT_TO_POINTER(0), test_exit_status);
  g_test_add_data_func("/vxm/process/exit/child-watch", GUINT_TO_POINTER(VXM_PROCESS_NO_PIDFD),
                       test_exit_status);
  g_test_add_func("/vxm/process/terminate/sigterm", test_terminate);
  g_test_add_func("/vxm/process/terminate/escalates-to-sigkill", test_terminate_escalates);
  g_test_add_func("/vxm/process/wait/cancelled", test_wait_cancelled);
  g_test_add_func("/vxm/process/socket-wait/appears", test_socket_appears);
  g_test_add_func("/vxm/process/socket-wait/listens-late", test_socket_listens_late);
  g_test_add_func("/vxm/process/socket-wait/already-there", test_socket_already_there);
  g_test_add_func("/vxm/process/socket-wait/timeout", test_socket_timeout);
  g_test_add_func("/vxm/process/socket-wait/no-folder", test_socket_no_folder);
  g_test_add_func("/vxm/process/socket-wait/cancelled", test_socket_cancelled);
  return g_test_run();
}
