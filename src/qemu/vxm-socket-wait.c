/* vxm-socket-wait: waiting for a child's unix socket to appear and accept connections. */
#include "qemu/vxm-socket-wait.h"

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib-unix.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"

#define RETRY_MIN_MS 1
#define RETRY_MAX_MS 32

typedef struct {
  GTask *task; /* held until completion */
  char *path;
  char *name;
  guint timeout_ms;
  int inotify_fd;
  int last_errno;
  guint retry_ms;
  GSource *inotify_source;
  GSource *timeout_source;
  GSource *retry_source;
  GSource *cancel_source;
} SocketWait;

static void
drop_source(GSource **source)
{
  if (*source != NULL) {
    g_source_destroy(*source);
    g_clear_pointer(source, g_source_unref);
  }
}

static void
socket_wait_free(SocketWait *w)
{
  drop_source(&w->inotify_source);
  drop_source(&w->timeout_source);
  drop_source(&w->retry_source);
  drop_source(&w->cancel_source);
  vxm_close_fdp(&w->inotify_fd);
  g_free(w->path);
  g_free(w->name);
  g_free(w);
}

/* Returns the result (an fd, or -1 with @error taken) and frees the wait. */
static void
socket_wait_complete(SocketWait *w, int fd, GError *error)
{
  GTask *task = g_steal_pointer(&w->task);

  socket_wait_free(w);
  if (fd >= 0)
    g_task_return_int(task, fd);
  else
    g_task_return_error(task, error);
  g_object_unref(task);
}

static int
try_connect(const char *path, int *out_errno)
{
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  vxm_autofd int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int rc;

  if (fd < 0) {
    *out_errno = errno;
    return -1;
  }
  g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
  do
    rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
  while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    *out_errno = errno;
    return -1;
  }
  return g_steal_fd(&fd);
}

static gboolean on_retry(gpointer user_data);

/* One attempt; completes the wait on success or on an error that waiting cannot fix. */
static void
attempt(SocketWait *w)
{
  int fd = try_connect(w->path, &w->last_errno);

  if (fd >= 0) {
    socket_wait_complete(w, fd, NULL);
    return;
  }
  switch (w->last_errno) {
  case ENOENT: return; /* inotify tells us when it appears */
  case ECONNREFUSED:
  case EAGAIN:
    /* Bound but not yet listening (or backlog full): no event marks listen(). */
    if (w->retry_source == NULL) {
      w->retry_ms = w->retry_ms ? MIN(w->retry_ms * 2, RETRY_MAX_MS) : RETRY_MIN_MS;
      w->retry_source = g_timeout_source_new(w->retry_ms);
      g_source_set_callback(w->retry_source, on_retry, w, NULL);
      g_source_attach(w->retry_source, g_task_get_context(w->task));
    }
    return;
  default: {
    GError *error = NULL;
    vxm_error_set_from_errno(&error, w->last_errno, "cannot connect to socket %s", w->path);
    socket_wait_complete(w, -1, error);
  }
  }
}

static gboolean
on_retry(gpointer user_data)
{
  SocketWait *w = user_data;

  g_clear_pointer(&w->retry_source, g_source_unref);
  attempt(w);
  return G_SOURCE_REMOVE;
}

static gboolean
on_inotify(int fd, GIOCondition condition, gpointer user_data)
{
  SocketWait *w = user_data;
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  gboolean ours = FALSE;
  ssize_t n;

  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    for (char *p = buf; p < buf + n;) {
      const struct inotify_event *ev = (const struct inotify_event *)p;
      if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
        socket_wait_complete(w, -1,
                             g_error_new(VXM_ERROR, VXM_ERROR_NOT_FOUND,
                                         "the folder of socket %s went away while waiting",
                                         w->path));
        return G_SOURCE_REMOVE;
      }
      if ((ev->mask & IN_Q_OVERFLOW) || (ev->len > 0 && g_strcmp0(ev->name, w->name) == 0))
        ours = TRUE;
      p += sizeof(struct inotify_event) + ev->len;
    }
  }
  if (ours) {
    w->retry_ms = 0;
    drop_source(&w->retry_source);
    attempt(w); /* may free w: touch nothing after */
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_timeout(gpointer user_data)
{
  SocketWait *w = user_data;

  g_clear_pointer(&w->timeout_source, g_source_unref);
  socket_wait_complete(w, -1,
                       g_error_new(VXM_ERROR, VXM_ERROR_TIMEOUT,
                                   "socket %s did not accept connections within %u ms (last "
                                   "error: %s); see the log of the program that should create it",
                                   w->path, w->timeout_ms, g_strerror(w->last_errno)));
  return G_SOURCE_REMOVE;
}

static gboolean
on_cancelled(GCancellable *cancellable, gpointer user_data)
{
  SocketWait *w = user_data;

  g_clear_pointer(&w->cancel_source, g_source_unref);
  socket_wait_complete(w, -1,
                       g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                   "waiting for socket %s was cancelled", w->path));
  return G_SOURCE_REMOVE;
}

void
vxm_wait_for_socket_async(const char *path, guint timeout_ms, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new(NULL, cancellable, callback, user_data);
  g_autofree char *dir = g_path_get_dirname(path);
  GMainContext *context = g_task_get_context(task);
  struct sockaddr_un addr;
  SocketWait *w;

  g_task_set_source_tag(task, vxm_wait_for_socket_async);
  if (strlen(path) >= sizeof(addr.sun_path)) {
    g_task_return_new_error(task, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                            "socket path %s is longer than a unix socket allows", path);
    g_object_unref(task);
    return;
  }
  w = g_new0(SocketWait, 1);
  w->task = task;
  w->path = g_strdup(path);
  w->name = g_path_get_basename(path);
  w->timeout_ms = timeout_ms;
  w->last_errno = ENOENT;
  w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w->inotify_fd < 0 || inotify_add_watch(w->inotify_fd, dir,
                                             IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF |
                                                 IN_MOVE_SELF | IN_ONLYDIR) < 0) {
    GError *error = NULL;
    vxm_error_set_from_errno(&error, errno, "cannot watch folder %s for socket %s", dir, w->name);
    socket_wait_complete(w, -1, error);
    return;
  }
  w->inotify_source = g_unix_fd_source_new(w->inotify_fd, G_IO_IN);
  g_source_set_callback(w->inotify_source, G_SOURCE_FUNC(on_inotify), w, NULL);
  g_source_attach(w->inotify_source, context);
  w->timeout_source = g_timeout_source_new(timeout_ms);
  g_source_set_callback(w->timeout_source, on_timeout, w, NULL);
  g_source_attach(w->timeout_source, context);
  if (cancellable != NULL) {
    w->cancel_source = g_cancellable_source_new(cancellable);
    g_source_set_callback(w->cancel_source, G_SOURCE_FUNC(on_cancelled), w, NULL);
    g_source_attach(w->cancel_source, context);
  }
  /* The watch is in place before the first look, so an appearance cannot be missed. */
  attempt(w);
}

int
vxm_wait_for_socket_finish(GAsyncResult *result, GError **error)
{
  g_return_val_if_fail(g_task_is_valid(result, NULL), -1);
  return (int)g_task_propagate_int(G_TASK(result), error);
}
