#include "vxm-sysfs-writer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
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
      if (child->pidfd >= 0)
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

/* TRUE when @pid, one of the stuck children, has finished (and is reaped now). */
static gboolean
stuck_child_finished(pid_t pid)
{
  gboolean gone = TRUE;

  vxm_sysfs_writer_reap();
  g_mutex_lock(&stuck_lock);
  for (guint i = 0; stuck_children != NULL && i < stuck_children->len; i++)
    if (g_array_index(stuck_children, StuckChild, i).pid == pid)
      gone = FALSE;
  g_mutex_unlock(&stuck_lock);
  return gone;
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

/* ---- reads that may block: one reader process, asked over a socket ---- */

/* The longest attribute read through the reader (sysfs gives at most a page). */
#define READER_MAX 4096

typedef struct {
  gint32 error; /* errno of the read, 0 when it worked */
  char text[READER_MAX];
} ReaderReply;

static GMutex reader_lock;
static pid_t reader_pid;
static int reader_sock = -1;
static pid_t reader_owner; /* the process that forked it: a fork of vxm starts its own */
/* paths whose read was left blocked -> the reader process stuck in it */
static GHashTable *blocked_reads;

/* In the reader: async-signal-safe calls only, like child_write. One request is a path; the
 * reply is its errno and content. EOF on the socket (vxm closed it or exited) ends it. */
static G_GNUC_NORETURN void
reader_main(int sock)
{
  char path[4096];
  ReaderReply reply;

  for (;;) {
    ssize_t n = recv(sock, path, sizeof path - 1, 0);
    ssize_t got = 0;
    int fd;

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      _exit(0);
    path[n] = '\0';
    reply.error = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
      reply.error = errno;
    } else {
      do
        got = read(fd, reply.text, sizeof reply.text);
      while (got < 0 && errno == EINTR);
      if (got < 0) {
        reply.error = errno;
        got = 0;
      }
      close(fd);
    }
    if (send(sock, &reply, offsetof(ReaderReply, text) + (size_t)got, MSG_NOSIGNAL) < 0)
      _exit(0);
  }
}

/* With reader_lock held: after a fork (the supervisor going to the background) the reader is
 * the parent's, and answers to two processes on one socket would mix: this one starts its own. */
static void
reader_forget_inherited(void)
{
  if (reader_owner == 0 || reader_owner == getpid())
    return;
  if (reader_sock >= 0)
    close(reader_sock);
  reader_sock = -1;
  reader_pid = 0;
  reader_owner = 0;
  g_clear_pointer(&blocked_reads, g_hash_table_unref);
}

/* With reader_lock held. */
static gboolean
reader_start(GError **error)
{
  int pair[2];
  pid_t pid;

  if (reader_sock >= 0)
    return TRUE;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    return vxm_error_set_from_errno(error, errno, "cannot start the sysfs reader (socketpair)");
  pid = fork();
  if (pid < 0) {
    int errsv = errno;

    close(pair[0]);
    close(pair[1]);
    return vxm_error_set_from_errno(error, errsv, "cannot start the sysfs reader (fork)");
  }
  if (pid == 0) {
    int null_fd;

    /* the socket becomes fd 3, everything else vxm had open is let go (see child_write) */
    if (dup2(pair[1], 3) < 0)
      _exit(1);
    (void)syscall(SYS_close_range, 4U, ~0U, 0U);
    null_fd = open("/dev/null", O_RDWR | O_NOCTTY);
    if (null_fd >= 0) {
      dup2(null_fd, STDIN_FILENO);
      dup2(null_fd, STDOUT_FILENO);
      dup2(null_fd, STDERR_FILENO);
      if (null_fd > 3)
        close(null_fd);
    }
    reader_main(3);
  }
  close(pair[1]);
  reader_sock = pair[0];
  reader_pid = pid;
  reader_owner = getpid();
  return TRUE;
}

/* With reader_lock held: the reader is blocked in the kernel (or gone); a new one is started
 * for the next read, and this one is reaped once it finishes. */
static void
reader_abandon(const char *path)
{
  if (reader_sock < 0)
    return;
  close(reader_sock);
  reader_sock = -1;
  if (path != NULL) {
    if (blocked_reads == NULL)
      blocked_reads = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_hash_table_insert(blocked_reads, g_strdup(path), GINT_TO_POINTER(reader_pid));
  }
  keep_stuck_child(reader_pid, -1);
  reader_pid = 0;
}

/* With reader_lock held: TRUE when an earlier read of @path is still blocked. */
static gboolean
read_still_blocked(const char *path)
{
  gpointer pid;

  if (blocked_reads == NULL || !g_hash_table_lookup_extended(blocked_reads, path, NULL, &pid))
    return FALSE;
  /* it finished (reaped now): the path can be read again */
  if (stuck_child_finished(GPOINTER_TO_INT(pid))) {
    g_hash_table_remove(blocked_reads, path);
    return FALSE;
  }
  return TRUE;
}

char *
vxm_sysfs_read_timeout(VxmHostfs *hostfs, const char *host_path, guint timeout_ms, GError **error)
{
  g_autofree char *path = vxm_hostfs_path(hostfs, host_path);
  g_autofree ReaderReply *reply = g_new0(ReaderReply, 1);
  g_autofree char *limit = NULL;
  gint64 deadline;
  ssize_t n;

  if (timeout_ms == 0)
    timeout_ms = VXM_SYSFS_READ_TIMEOUT_DEFAULT_MS;
  if (strlen(path) >= 4096) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT, "path too long: %s", host_path);
    return NULL;
  }
  limit = vxm_sysfs_format_timeout(timeout_ms);
  g_mutex_lock(&reader_lock);
  reader_forget_inherited();
  if (read_still_blocked(path)) {
    g_mutex_unlock(&reader_lock);
    g_set_error(error, VXM_ERROR, VXM_ERROR_TIMEOUT,
                "reading %s is still blocked in the kernel (an earlier read did not finish)",
                host_path);
    return NULL;
  }
  if (!reader_start(error)) {
    g_mutex_unlock(&reader_lock);
    return NULL;
  }
  if (send(reader_sock, path, strlen(path), MSG_NOSIGNAL) < 0) {
    /* the reader died (killed?): one more try with a new one */
    reader_abandon(NULL);
    if (!reader_start(error) || send(reader_sock, path, strlen(path), MSG_NOSIGNAL) < 0) {
      int errsv = errno;

      reader_abandon(NULL);
      g_mutex_unlock(&reader_lock);
      if (error != NULL && *error != NULL)
        return NULL;
      vxm_error_set_from_errno(error, errsv, "cannot ask the sysfs reader for %s", host_path);
      return NULL;
    }
  }
  deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  for (;;) {
    struct pollfd pfd = {.fd = reader_sock, .events = POLLIN};
    gint64 left_ms = (deadline - g_get_monotonic_time() + 999) / 1000;
    int r;

    if (left_ms <= 0) {
      reader_abandon(path);
      g_mutex_unlock(&reader_lock);
      g_set_error(error, VXM_ERROR, VXM_ERROR_TIMEOUT, "reading %s did not finish in %s", host_path,
                  limit);
      return NULL;
    }
    r = poll(&pfd, 1, (int)MIN(left_ms, G_MAXINT));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int errsv = errno;

      reader_abandon(NULL);
      g_mutex_unlock(&reader_lock);
      return vxm_error_set_from_errno(error, errsv, "cannot wait for the read of %s", host_path),
             NULL;
    }
    if (r > 0)
      break;
  }
  n = recv(reader_sock, reply, sizeof *reply, 0);
  if (n < (ssize_t)offsetof(ReaderReply, text)) {
    int errsv = n < 0 ? errno : EPIPE;

    reader_abandon(NULL);
    g_mutex_unlock(&reader_lock);
    vxm_error_set_from_errno(error, errsv, "the sysfs reader gave no answer for %s", host_path);
    return NULL;
  }
  g_mutex_unlock(&reader_lock);
  if (reply->error != 0) {
    vxm_error_set_from_errno(error, reply->error, "cannot read %s", host_path);
    return NULL;
  }
  return g_strndup(reply->text, (gsize)n - offsetof(ReaderReply, text));
}
