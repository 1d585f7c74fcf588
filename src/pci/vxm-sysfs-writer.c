#include "vxm-sysfs-writer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"

/* exit status of the child when write(2) stored fewer bytes than given */
#define SHORT_WRITE_STATUS 255

typedef struct {
  pid_t pid;
  int pidfd;
} StuckChild;

static GMutex stuck_lock;
static __thread gint64 last_stuck_pid;

gint64
vxm_sysfs_writer_last_stuck_pid(void)
{
  return last_stuck_pid;
}

static GArray *stuck_children; /* of StuckChild */

guint
vxm_sysfs_writer_reap(void)
{
  guint left;

  g_mutex_lock(&stuck_lock);
  for (guint i = 0; stuck_children != NULL && i < stuck_children->len;) {
    StuckChild *child = &g_array_index(stuck_children, StuckChild, i);
    int status;
    pid_t r = waitpid(child->pid, &status, WNOHANG);

    if (r == child->pid || (r < 0 && errno == ECHILD)) {
      close(child->pidfd);
      g_array_remove_index_fast(stuck_children, i);
      continue;
    }
    i++;
  }
  left = stuck_children != NULL ? stuck_children->len : 0;
  g_mutex_unlock(&stuck_lock);
  return left;
}

static void
keep_stuck_child(pid_t pid, int pidfd)
{
  StuckChild child = {pid, pidfd};

  g_mutex_lock(&stuck_lock);
  if (stuck_children == NULL)
    stuck_children = g_array_new(FALSE, FALSE, sizeof(StuckChild));
  g_array_append_val(stuck_children, child);
  g_mutex_unlock(&stuck_lock);
}

char *
vxm_sysfs_format_timeout(guint timeout_ms)
{
  if (timeout_ms % 1000 == 0)
    return g_strdup_printf("%u s", timeout_ms / 1000);
  if (timeout_ms > 1000)
    return g_strdup_printf("%.1f s", timeout_ms / 1000.0);
  return g_strdup_printf("%u ms", timeout_ms);
}

static char *
printable_value(const char *value)
{
  if (g_strcmp0(value, "\n") == 0)
    return g_strdup("\\n");
  return g_strchomp(g_strdup(value));
}

/* In the child: async-signal-safe calls only. A child that hangs outlives vxm, so it lets go
 * of everything vxm had open first: a caller reading vxm's output (a script, a test) would
 * otherwise wait for the end of a pipe the hung child still holds. */
static G_GNUC_NORETURN void
child_write(const char *path, const char *value, size_t len)
{
  int null_fd, fd;
  ssize_t n;

  (void)syscall(SYS_close_range, 3U, ~0U, 0U);
  null_fd = open("/dev/null", O_RDWR | O_NOCTTY);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    dup2(null_fd, STDERR_FILENO);
    if (null_fd > STDERR_FILENO)
      close(null_fd);
  }
  fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);

  if (fd < 0)
    _exit(errno);
  do
    n = write(fd, value, len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    _exit(errno);
  if ((size_t)n != len)
    _exit(SHORT_WRITE_STATUS);
  if (close(fd) < 0 && errno != EINTR)
    _exit(errno);
  _exit(0);
}

gboolean
vxm_sysfs_write_timeout(VxmHostfs *hostfs, const char *host_path, const char *value,
                        guint timeout_ms, GError **error)
{
  g_autofree char *path = vxm_hostfs_path(hostfs, host_path);
  g_autofree char *shown = printable_value(value);
  size_t len = strlen(value);
  vxm_autofd int pidfd = -1;
  gint64 deadline;
  int status = 0;
  pid_t pid;

  if (timeout_ms == 0)
    timeout_ms = VXM_SYSFS_WRITE_TIMEOUT_DEFAULT_MS;
  last_stuck_pid = 0;
  vxm_sysfs_writer_reap();

  pid = fork();
  if (pid < 0)
    return vxm_error_set_from_errno(error, errno, "cannot start a process to write %s", host_path);
  if (pid == 0)
    child_write(path, value, len);

  pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) {
    /* no pidfd (Linux < 5.3): waiting without a time limit is the one thing not to do */
    int errsv = errno;

    keep_stuck_child(pid, -1);
    return vxm_error_set_from_errno(error, errsv,
                                    "cannot watch the process writing %s (pidfd_open; vxm needs "
                                    "Linux 5.3 or newer)",
                                    host_path);
  }

  deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  for (;;) {
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
    gint64 left_ms = (deadline - g_get_monotonic_time() + 999) / 1000;
    int r;

    if (left_ms <= 0) {
      g_autofree char *limit = vxm_sysfs_format_timeout(timeout_ms);

      keep_stuck_child(pid, g_steal_fd(&pidfd));
      last_stuck_pid = pid;
      g_set_error(error, VXM_ERROR, VXM_ERROR_TIMEOUT, "writing '%s' to %s did not finish in %s",
                  shown, host_path, limit);
      return FALSE;
    }
    r = poll(&pfd, 1, (int)MIN(left_ms, G_MAXINT));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return vxm_error_set_from_errno(error, errno, "cannot wait for the write to %s", host_path);
    if (r > 0)
      break;
  }
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return vxm_error_set_from_errno(error, errno, "cannot collect the write to %s", host_path);
  }
  if (WIFSIGNALED(status)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "the process writing '%s' to %s was killed (%s)",
                shown, host_path, g_strsignal(WTERMSIG(status)));
    return FALSE;
  }
  if (WEXITSTATUS(status) == SHORT_WRITE_STATUS) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "short write of '%s' to %s", shown, host_path);
    return FALSE;
  }
  if (WEXITSTATUS(status) != 0)
    return vxm_error_set_from_errno(error, WEXITSTATUS(status), "writing '%s' to %s failed", shown,
                                    host_path);
  return TRUE;
}
