/* vxm-process: a child process the supervisor runs (QEMU, swtpm), from spawn to reaped exit. */
#include "qemu/vxm-process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib-unix.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct _VxmProcess {
  GObject parent_instance;

  GPid pid;
  int pidfd;
  char *name;
  char *log_path;
  GMainContext *context;
  GSource *exit_source;
  gboolean exited;
  int wait_status;
  GPtrArray *waiters; /* Waiter */
};

typedef struct {
  GTask *task;
  GSource *cancel;
} Waiter;

static void
waiter_free(Waiter *waiter)
{
  if (waiter->cancel != NULL) {
    g_source_destroy(waiter->cancel);
    g_source_unref(waiter->cancel);
  }
  g_clear_object(&waiter->task);
  g_free(waiter);
}

enum { SIGNAL_EXITED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE(VxmProcess, vxm_process, G_TYPE_OBJECT)

static void
vxm_process_finalize(GObject *object)
{
  VxmProcess *self = VXM_PROCESS(object);

  /* A running child holds a ref on its VxmProcess: we only get here after the reap. */
  if (self->exit_source != NULL) {
    g_source_destroy(self->exit_source);
    g_source_unref(self->exit_source);
  }
  vxm_close_fdp(&self->pidfd);
  g_free(self->name);
  g_free(self->log_path);
  g_ptr_array_unref(self->waiters);
  g_main_context_unref(self->context);
  G_OBJECT_CLASS(vxm_process_parent_class)->finalize(object);
}

static void
vxm_process_class_init(VxmProcessClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = vxm_process_finalize;
  signals[SIGNAL_EXITED] = g_signal_new("exited", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);
}

static void
vxm_process_init(VxmProcess *self)
{
  self->pidfd = -1;
  self->waiters = g_ptr_array_new_with_free_func((GDestroyNotify)waiter_free);
  self->context = g_main_context_ref_thread_default();
}

/* Records the exit, wakes every waiter, drops the self-reference held while running. */
static void
process_exited(VxmProcess *self, int wait_status)
{
  g_autoptr(GPtrArray) waiters = NULL;

  self->exited = TRUE;
  self->wait_status = wait_status;
  vxm_close_fdp(&self->pidfd);
  if (self->exit_source != NULL) {
    g_source_destroy(self->exit_source);
    g_clear_pointer(&self->exit_source, g_source_unref);
  }
  g_debug("%s (pid %d) ended, wait status 0x%x", self->name, self->pid, wait_status);
  waiters = g_steal_pointer(&self->waiters);
  self->waiters = g_ptr_array_new_with_free_func((GDestroyNotify)waiter_free);
  g_signal_emit(self, signals[SIGNAL_EXITED], 0, wait_status);
  for (guint i = 0; i < waiters->len; i++) {
    Waiter *waiter = g_ptr_array_index(waiters, i);
    g_task_return_boolean(waiter->task, TRUE);
  }
  g_object_unref(self);
}

static gboolean
on_pidfd_readable(int fd, GIOCondition condition, gpointer user_data)
{
  VxmProcess *self = user_data;
  int status = 0;
  pid_t rc;

  /* The pid cannot be recycled before we reap it, so waitpid on it is exact. */
  do
    rc = waitpid(self->pid, &status, WNOHANG);
  while (rc < 0 && errno == EINTR);
  if (rc == 0)
    return G_SOURCE_CONTINUE;
  if (rc < 0) {
    g_message("cannot reap %s (pid %d): %s", self->name, self->pid, g_strerror(errno));
    status = W_EXITCODE(255, 0);
  }
  process_exited(self, status);
  return G_SOURCE_REMOVE;
}

static void
on_child_watch(GPid pid, int wait_status, gpointer user_data)
{
  process_exited(user_data, wait_status);
}

typedef struct {
  const char *path;
  char *const *argv;
  char *const *envp;
  const VxmProcessFd *fds;
  guint n_fds;
  int *tmp; /* n_fds + 3 slots, preallocated: the child must not allocate */
  int stdin_fd;
  int log_fd;
  int err_fd;
  int min_tmp;
  int max_fd; /* for the CLOEXEC loop when close_range lacks CLOSE_RANGE_CLOEXEC */
  VxmProcessFlags flags;
  pid_t parent;
  const VxmRunAs *user; /* NULL: keep this process's credentials */
} ChildSetup;

static void G_GNUC_NORETURN
child_fail(int err_fd)
{
  int errsv = errno;
  ssize_t G_GNUC_UNUSED n = write(err_fd, &errsv, sizeof(errsv));
  _exit(127);
}

/* Runs between fork and exec: async-signal-safe calls only. */
static void G_GNUC_NORETURN
child_exec(const ChildSetup *s)
{
  struct sigaction dfl = {.sa_handler = SIG_DFL};
  sigset_t none;
  int err_fd = s->err_fd;

  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP)
      sigaction(sig, &dfl, NULL);
  }
  /* First: a credential change clears PR_SET_PDEATHSIG, so that comes after. */
  if (s->user != NULL) {
    if (setgroups(s->user->n_groups, s->user->groups) < 0 || setgid(s->user->gid) < 0 ||
        setuid(s->user->uid) < 0)
      child_fail(err_fd);
    if (getuid() == 0 || geteuid() == 0 || getgid() == 0 || getegid() == 0) {
      errno = EPERM;
      child_fail(err_fd);
    }
  }
  if ((s->flags & VXM_PROCESS_NEW_PROCESS_GROUP) && setpgid(0, 0) < 0)
    child_fail(err_fd);
  if (s->flags & VXM_PROCESS_KILL_WITH_PARENT) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
      child_fail(err_fd);
    if (getppid() != s->parent)
      _exit(127);
  }
  /* Everything inherited closes at exec, except what is dup2()ed below (dup2 clears it). */
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    for (int fd = 3; fd <= s->max_fd; fd++)
      fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  /* Move every source above every target first, so no dup2 clobbers a later source. */
  err_fd = fcntl(err_fd, F_DUPFD_CLOEXEC, s->min_tmp);
  if (err_fd < 0)
    child_fail(s->err_fd);
  for (guint i = 0; i < s->n_fds; i++) {
    s->tmp[i] = fcntl(s->fds[i].source_fd, F_DUPFD_CLOEXEC, s->min_tmp);
    if (s->tmp[i] < 0)
      child_fail(err_fd);
  }
  s->tmp[s->n_fds] = fcntl(s->stdin_fd, F_DUPFD_CLOEXEC, s->min_tmp);
  s->tmp[s->n_fds + 1] = s->log_fd >= 0 ? fcntl(s->log_fd, F_DUPFD_CLOEXEC, s->min_tmp) : 1;
  s->tmp[s->n_fds + 2] = s->log_fd >= 0 ? s->tmp[s->n_fds + 1] : 2;
  for (guint i = 0; i < 3; i++) {
    if (s->tmp[s->n_fds + i] < 0 || dup2(s->tmp[s->n_fds + i], (int)i) < 0)
      child_fail(err_fd);
  }
  for (guint i = 0; i < s->n_fds; i++) {
    if (dup2(s->tmp[i], s->fds[i].target_fd) < 0)
      child_fail(err_fd);
  }
  execve(s->path, s->argv, s->envp);
  child_fail(err_fd);
}

static gboolean
check_fds(const VxmProcessFd *fds, guint n_fds, GError **error)
{
  for (guint i = 0; i < n_fds; i++) {
    if (fds[i].source_fd < 0 || fds[i].target_fd < 3) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                  "cannot pass fd %d as %d to a child: targets start at 3", fds[i].source_fd,
                  fds[i].target_fd);
      return FALSE;
    }
    for (guint j = 0; j < i; j++) {
      if (fds[j].target_fd == fds[i].target_fd) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                    "cannot pass two fds as %d to a child", fds[i].target_fd);
        return FALSE;
      }
    }
  }
  return TRUE;
}

static int
open_log(const char *log_path, const char *const *argv, GError **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local();
  g_autofree char *stamp = g_date_time_format_iso8601(now);
  g_autofree char *cmdline = g_strjoinv(" ", (char **)argv);
  g_autofree char *header = g_strdup_printf("%s vxm: starting %s\n", stamp, cmdline);
  int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);

  if (fd < 0) {
    vxm_error_set_from_errno(error, errno, "cannot open log file %s", log_path);
    return -1;
  }
  if (write(fd, header, strlen(header)) < 0) {
    vxm_error_set_from_errno(error, errno, "cannot write log file %s", log_path);
    close(fd);
    return -1;
  }
  return fd;
}

VxmProcess *
vxm_process_spawn(const char *const *argv, const char *const *envp, const VxmProcessFd *fds,
                  guint n_fds, const char *log_path, VxmProcessFlags flags, GError **error)
{
  return vxm_process_spawn_as(argv, envp, fds, n_fds, log_path, flags, NULL, error);
}

VxmProcess *
vxm_process_spawn_as(const char *const *argv, const char *const *envp, const VxmProcessFd *fds,
                     guint n_fds, const char *log_path, VxmProcessFlags flags, const VxmRunAs *user,
                     GError **error)
{
  static const char *const empty_env[] = {NULL};
  g_autoptr(VxmProcess) self = NULL;
  g_autofree char *path = NULL;
  g_autofree int *tmp = NULL;
  vxm_autofd int log_fd = -1;
  vxm_autofd int stdin_r = -1;
  vxm_autofd int stdin_w = -1;
  vxm_autofd int err_r = -1;
  vxm_autofd int err_w = -1;
  int pipefd[2];
  struct rlimit rl;
  ChildSetup setup = {0};
  int child_errno = 0;
  ssize_t n;
  pid_t pid;

  g_return_val_if_fail(argv != NULL && argv[0] != NULL, NULL);
  if (!check_fds(fds, n_fds, error))
    return NULL;
  path = strchr(argv[0], '/') ? g_strdup(argv[0]) : g_find_program_in_path(argv[0]);
  if (path == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                "cannot run %s: not found in PATH; install it or give its full path", argv[0]);
    return NULL;
  }
  if (log_path != NULL && (log_fd = open_log(log_path, argv, error)) < 0)
    return NULL;
  if (user != NULL && log_fd >= 0 && fchown(log_fd, user->uid, user->gid) < 0)
    return vxm_error_set_from_errno(error, errno, "cannot give log file %s to user %s", log_path,
                                    user->name),
           NULL;
  if (pipe2(pipefd, O_CLOEXEC) < 0)
    return vxm_error_set_from_errno(error, errno, "cannot create a pipe"), NULL;
  stdin_r = pipefd[0];
  stdin_w = pipefd[1];
  if (pipe2(pipefd, O_CLOEXEC) < 0)
    return vxm_error_set_from_errno(error, errno, "cannot create a pipe"), NULL;
  err_r = pipefd[0];
  err_w = pipefd[1];

  setup.path = path;
  setup.argv = (char *const *)argv;
  setup.envp = (char *const *)(envp ? envp : empty_env);
  setup.fds = fds;
  setup.n_fds = n_fds;
  setup.tmp = tmp = g_new0(int, n_fds + 3);
  setup.stdin_fd = stdin_r;
  setup.log_fd = log_fd;
  setup.err_fd = err_w;
  setup.min_tmp = 3;
  for (guint i = 0; i < n_fds; i++)
    setup.min_tmp = MAX(setup.min_tmp, fds[i].target_fd + 1);
  setup.max_fd =
      getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
  setup.flags = flags;
  setup.parent = getpid();
  setup.user = user;

  pid = fork();
  if (pid < 0)
    return vxm_error_set_from_errno(error, errno, "cannot fork to run %s", argv[0]), NULL;
  if (pid == 0)
    child_exec(&setup);

  vxm_close_fdp(&err_w);
  do
    n = read(err_r, &child_errno, sizeof(child_errno));
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
      ;
    if (user != NULL)
      vxm_error_set_from_errno(error, child_errno, "cannot run %s as user %s (uid %u)", path,
                               user->name, (guint)user->uid);
    else
      vxm_error_set_from_errno(error, child_errno, "cannot run %s", path);
    return NULL;
  }

  self = g_object_new(VXM_TYPE_PROCESS, NULL);
  self->pid = pid;
  self->name = g_path_get_basename(argv[0]);
  self->log_path = g_strdup(log_path);
  if (!(flags & VXM_PROCESS_NO_PIDFD))
    self->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (self->pidfd >= 0) {
    self->exit_source = g_unix_fd_source_new(self->pidfd, G_IO_IN);
    g_source_set_callback(self->exit_source, G_SOURCE_FUNC(on_pidfd_readable), self, NULL);
  } else {
    self->exit_source = g_child_watch_source_new(pid);
    g_source_set_callback(self->exit_source, G_SOURCE_FUNC(on_child_watch), self, NULL);
  }
  g_source_attach(self->exit_source, self->context);
  g_object_ref(self); /* held until the child is reaped */
  g_debug("started %s (pid %d, pidfd %d)", self->name, pid, self->pidfd);
  return g_steal_pointer(&self);
}

GPid
vxm_process_get_pid(VxmProcess *self)
{
  g_return_val_if_fail(VXM_IS_PROCESS(self), 0);
  return self->pid;
}

int
vxm_process_get_pidfd(VxmProcess *self)
{
  g_return_val_if_fail(VXM_IS_PROCESS(self), -1);
  return self->pidfd;
}

const char *
vxm_process_get_name(VxmProcess *self)
{
  g_return_val_if_fail(VXM_IS_PROCESS(self), NULL);
  return self->name;
}

const char *
vxm_process_get_log_path(VxmProcess *self)
{
  g_return_val_if_fail(VXM_IS_PROCESS(self), NULL);
  return self->log_path;
}

gboolean
vxm_process_has_exited(VxmProcess *self)
{
  g_return_val_if_fail(VXM_IS_PROCESS(self), FALSE);
  return self->exited;
}

int
vxm_process_get_wait_status(VxmProcess *self)
{
  g_return_val_if_fail(VXM_IS_PROCESS(self), -1);
  return self->exited ? self->wait_status : -1;
}

int
vxm_process_get_exit_status(VxmProcess *self)
{
  g_return_val_if_fail(VXM_IS_PROCESS(self), -1);
  return self->exited && WIFEXITED(self->wait_status) ? WEXITSTATUS(self->wait_status) : -1;
}

int
vxm_process_get_term_signal(VxmProcess *self)
{
  g_return_val_if_fail(VXM_IS_PROCESS(self), 0);
  return self->exited && WIFSIGNALED(self->wait_status) ? WTERMSIG(self->wait_status) : 0;
}

gboolean
vxm_process_check_success(VxmProcess *self, GError **error)
{
  g_autofree char *hint = NULL;

  g_return_val_if_fail(VXM_IS_PROCESS(self), FALSE);
  hint = self->log_path ? g_strdup_printf("; see %s", self->log_path) : g_strdup("");
  if (!self->exited) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY, "%s (pid %d) is still running", self->name,
                self->pid);
    return FALSE;
  }
  if (WIFSIGNALED(self->wait_status)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_FAILED, "%s (pid %d) was killed by signal %d (%s)%s",
                self->name, self->pid, WTERMSIG(self->wait_status),
                g_strsignal(WTERMSIG(self->wait_status)), hint);
    return FALSE;
  }
  if (WEXITSTATUS(self->wait_status) != 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_FAILED, "%s (pid %d) exited with status %d%s",
                self->name, self->pid, WEXITSTATUS(self->wait_status), hint);
    return FALSE;
  }
  return TRUE;
}

gboolean
vxm_process_send_signal(VxmProcess *self, int signum, GError **error)
{
  int rc;

  g_return_val_if_fail(VXM_IS_PROCESS(self), FALSE);
  if (self->exited)
    return TRUE;
  /* Without a pidfd, kill() is still exact: the unreaped pid cannot be recycled. */
  if (self->pidfd >= 0)
    rc = (int)syscall(SYS_pidfd_send_signal, self->pidfd, signum, NULL, 0);
  else
    rc = kill(self->pid, signum);
  if (rc < 0 && errno != ESRCH)
    return vxm_error_set_from_errno(error, errno, "cannot send signal %d to %s (pid %d)", signum,
                                    self->name, self->pid);
  return TRUE;
}

static gboolean
on_wait_cancelled(GCancellable *cancellable, gpointer user_data)
{
  Waiter *waiter = user_data;
  VxmProcess *self = g_task_get_source_object(waiter->task);
  g_autoptr(GTask) task = g_object_ref(waiter->task);

  g_ptr_array_remove(self->waiters, waiter); /* frees waiter and its source */
  g_task_return_error_if_cancelled(task);
  return G_SOURCE_REMOVE;
}

void
vxm_process_wait_async(VxmProcess *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                       gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  Waiter *waiter;

  g_return_if_fail(VXM_IS_PROCESS(self));
  task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, vxm_process_wait_async);
  if (self->exited) {
    g_task_return_boolean(task, TRUE);
    return;
  }
  waiter = g_new0(Waiter, 1);
  waiter->task = g_steal_pointer(&task);
  if (cancellable != NULL) {
    waiter->cancel = g_cancellable_source_new(cancellable);
    g_source_set_callback(waiter->cancel, G_SOURCE_FUNC(on_wait_cancelled), waiter, NULL);
    g_source_attach(waiter->cancel, self->context);
  }
  g_ptr_array_add(self->waiters, waiter);
}

gboolean
vxm_process_wait_finish(VxmProcess *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
  return g_task_propagate_boolean(G_TASK(result), error);
}

typedef struct {
  GSource *timeout;
  gboolean killed;
} TerminateData;

static void
terminate_data_free(TerminateData *data)
{
  if (data->timeout != NULL) {
    g_source_destroy(data->timeout);
    g_source_unref(data->timeout);
  }
  g_free(data);
}

static gboolean
on_terminate_timeout(gpointer user_data)
{
  GTask *task = user_data;
  VxmProcess *self = g_task_get_source_object(task);
  TerminateData *data = g_task_get_task_data(task);
  g_autoptr(GError) error = NULL;

  g_clear_pointer(&data->timeout, g_source_unref);
  g_message("%s (pid %d) did not exit in time; sending SIGKILL", self->name, self->pid);
  data->killed = TRUE;
  if (!vxm_process_send_signal(self, SIGKILL, &error))
    g_message("%s", error->message);
  return G_SOURCE_REMOVE;
}

static void
on_terminated(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  TerminateData *data = g_task_get_task_data(task);

  if (data->timeout != NULL) {
    g_source_destroy(data->timeout);
    g_clear_pointer(&data->timeout, g_source_unref);
  }
  if (!vxm_process_wait_finish(VXM_PROCESS(source), result, &error))
    g_task_return_error(task, g_steal_pointer(&error));
  else
    g_task_return_boolean(task, TRUE);
}

void
vxm_process_terminate_async(VxmProcess *self, int signum, guint timeout_ms,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  TerminateData *data = g_new0(TerminateData, 1);

  g_return_if_fail(VXM_IS_PROCESS(self));
  task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, vxm_process_terminate_async);
  g_task_set_task_data(task, data, (GDestroyNotify)terminate_data_free);
  if (self->exited) {
    g_task_return_boolean(task, TRUE);
    return;
  }
  if (!vxm_process_send_signal(self, signum, &error)) {
    g_task_return_error(task, g_steal_pointer(&error));
    return;
  }
  data->timeout = g_timeout_source_new(timeout_ms);
  g_source_set_callback(data->timeout, on_terminate_timeout, task, NULL);
  g_source_attach(data->timeout, self->context);
  vxm_process_wait_async(self, cancellable, on_terminated, g_object_ref(task));
}

gboolean
vxm_process_terminate_finish(VxmProcess *self, GAsyncResult *result, gboolean *out_killed,
                             GError **error)
{
  TerminateData *data;

  g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
  data = g_task_get_task_data(G_TASK(result));
  if (out_killed != NULL)
    *out_killed = data->killed;
  return g_task_propagate_boolean(G_TASK(result), error);
}
