/* vxm-vxmd: vxmd's server: its socket (made, or passed by systemd), one worker thread
 * per connection, the framing (a JSON line each way, with the fds SCM_RIGHTS brings), the
 * per-user connection cap, and the request loop that hands each line to the operations. */
#include "vxmd/vxm-vxmd.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "ops/vxm-host-ops-local.h"
#include "ops/vxm-journal-kinds.h"
#include "vxmd/vxm-vxmd-private.h"

/* Connections one user (not root) may have open at once: a member of the group who opens many
 * and sends nothing must not take every worker from the other users. vxm itself uses one or
 * two at a time, a starting VM one per parallel step; the tests use eight threads at once. */
#define MAX_CONNECTIONS_PER_USER 16

VxmVxmd *
vxm_vxmd_new(const VxmVxmdOptions *options, GError **error)
{
  g_autoptr(VxmVxmd) self = g_new0(VxmVxmd, 1);
  struct group grp, *res = NULL;
  char buf[4096];

  g_mutex_init(&self->lock);
  g_mutex_init(&self->grant_lock);
  self->busy_gpus = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  self->user_connections = g_hash_table_new(g_direct_hash, g_direct_equal);
  self->claims = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  self->hostfs = vxm_hostfs_new(options->root);
  self->proc_fs = vxm_hostfs_new(NULL);
  self->store = vxm_journal_store_new(self->hostfs);
  self->ops = vxm_host_ops_local_new_with_store(self->hostfs, self->store);
  self->group = g_strdup(options->group != NULL ? options->group : "vxm");
  self->idle_timeout_ms = options->idle_timeout_ms > 0 ? options->idle_timeout_ms : 10000;
  if (getgrnam_r(self->group, &grp, buf, sizeof buf, &res) != 0 || res == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "group %s does not exist: create it (systemd-sysusers, or groupadd --system %s)",
                self->group, self->group);
    return NULL;
  }
  self->group_gid = grp.gr_gid;
  if (!vxm_vxmd_policy_load(self, error))
    return NULL;
  self->auth =
      vxm_vxmd_auth_new(self->group, self->group_gid, (const char *const *)self->allowed_users);
  vxm_journal_register_all_kinds();
  vxm_vxmd_claims_register_kind();
  self->service = g_threaded_socket_service_new(
      (int)(options->max_connections > 0 ? options->max_connections : 64));
  return g_steal_pointer(&self);
}

void
vxm_vxmd_free(VxmVxmd *self)
{
  if (self == NULL)
    return;
  if (self->service != NULL) {
    g_socket_service_stop(self->service);
    g_socket_listener_close(G_SOCKET_LISTENER(self->service));
    g_object_unref(self->service);
  }
  if (self->socket_path != NULL)
    unlink(self->socket_path);
  g_free(self->socket_path);
  g_clear_object(&self->ops);
  g_clear_object(&self->store);
  g_clear_object(&self->hostfs);
  g_clear_object(&self->proc_fs);
  g_hash_table_unref(self->busy_gpus);
  g_hash_table_unref(self->user_connections);
  g_hash_table_unref(self->claims);
  g_strfreev(self->allowed_gpus);
  g_strfreev(self->allowed_users);
  vxm_vxmd_auth_free(self->auth);
  g_free(self->group);
  g_mutex_clear(&self->lock);
  g_mutex_clear(&self->grant_lock);
  g_free(self);
}

static gboolean
send_all(int fd, const char *data, gsize len, guint timeout_ms)
{
  while (len > 0) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    ssize_t n;

    if (poll(&p, 1, (int)timeout_ms) <= 0)
      return FALSE;
    n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n <= 0)
      return FALSE;
    data += n;
    len -= (gsize)n;
  }
  return TRUE;
}

static void
peer_close_fds(VxmVxmdPeer *peer)
{
  for (guint i = 0; i < peer->n_fds; i++)
    close(peer->fds[i]);
  peer->n_fds = 0;
}

static void
reply_error(int fd, guint timeout_ms, const GError *error)
{
  g_autofree char *line = vxm_vxmd_reply_error(error);

  send_all(fd, line, strlen(line), timeout_ms);
}

/* Reads what is there (with any fds) into @buf: >0 bytes read, 0 end of stream, -1 error or
 * time out. */
static gssize
receive(int fd, GByteArray *buf, VxmVxmdPeer *peer, guint timeout_ms)
{
  char data[4096];
  union {
    char buf[CMSG_SPACE(sizeof(int) * VXM_VXMD_MAX_FDS)];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  struct pollfd p = {.fd = fd, .events = POLLIN};
  ssize_t n;

  for (;;) {
    int r = poll(&p, 1, (int)timeout_ms);

    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    break;
  }
  if (n < 0)
    return -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      gsize count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      int fds[VXM_VXMD_MAX_FDS];

      memcpy(fds, CMSG_DATA(c), MIN(count, (gsize)VXM_VXMD_MAX_FDS) * sizeof(int));
      for (gsize i = 0; i < count && i < VXM_VXMD_MAX_FDS; i++) {
        if (peer->n_fds < VXM_VXMD_MAX_FDS)
          peer->fds[peer->n_fds++] = fds[i];
        else
          close(fds[i]);
      }
    }
  }
  g_byte_array_append(buf, (const guint8 *)data, (guint)n);
  return n;
}

/* Counts a connection of @uid; refuses one past MAX_CONNECTIONS_PER_USER (root has no limit). */
static gboolean
take_connection(VxmVxmd *self, uid_t uid, GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
  guint open = GPOINTER_TO_UINT(g_hash_table_lookup(self->user_connections, GUINT_TO_POINTER(uid)));

  if (uid != 0 && open >= MAX_CONNECTIONS_PER_USER) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                "vxmd refused: uid %u already has %u connections open to vxmd (at most %d at "
                "once); close the others (a vxm that hangs, or a script that connects and waits) "
                "and ask again",
                (guint)uid, open, MAX_CONNECTIONS_PER_USER);
    return FALSE;
  }
  g_hash_table_insert(self->user_connections, GUINT_TO_POINTER(uid), GUINT_TO_POINTER(open + 1));
  return TRUE;
}

static void
drop_connection(VxmVxmd *self, uid_t uid)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
  guint open = GPOINTER_TO_UINT(g_hash_table_lookup(self->user_connections, GUINT_TO_POINTER(uid)));

  if (open <= 1)
    g_hash_table_remove(self->user_connections, GUINT_TO_POINTER(uid));
  else
    g_hash_table_insert(self->user_connections, GUINT_TO_POINTER(uid), GUINT_TO_POINTER(open - 1));
}

static void serve_requests(VxmVxmd *self, int fd, VxmVxmdPeer *peer);

static void
serve_connection(VxmVxmd *self, int fd)
{
  VxmVxmdCaller caller;
  VxmVxmdPeer peer = {0};
  g_autoptr(GError) auth_error = NULL;

  if (!vxm_vxmd_caller_init(&caller, self->proc_fs, fd, &auth_error)) {
    g_message("connection refused: %s", auth_error->message);
    vxm_vxmd_caller_clear(&caller);
    return;
  }
  peer.uid = caller.uid;
  peer.gid = caller.gid;
  peer.pid = caller.pid;
  peer.caller = &caller;
  /* anyone may connect (the socket is 0666): an account, allowed_users and the per-user cap
   * here; what each request needs, as it comes */
  if (!vxm_vxmd_auth_identify(self->auth, &caller, &auth_error) ||
      !take_connection(self, peer.uid, &auth_error)) {
    g_message("refused uid %u (pid %d): %s", (guint)peer.uid, (int)peer.pid, auth_error->message);
    reply_error(fd, self->idle_timeout_ms, auth_error);
    vxm_vxmd_caller_clear(&caller);
    return;
  }
  peer.user = caller.user;
  serve_requests(self, fd, &peer);
  drop_connection(self, peer.uid);
  peer_close_fds(&peer);
  vxm_vxmd_caller_clear(&caller);
}

/* One connection's requests, one line each, until the client closes or stays silent too long. */
static void
serve_requests(VxmVxmd *self, int fd, VxmVxmdPeer *peer)
{
  g_autoptr(GByteArray) buf = g_byte_array_new();

  for (;;) {
    guint8 *nl = buf->len > 0 ? memchr(buf->data, '\n', buf->len) : NULL;
    gssize n;

    if (nl != NULL) {
      gsize line_len = (gsize)(nl - buf->data) + 1;
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
      g_autoptr(JsonNode) result = NULL;
      g_autoptr(VxmVxmdRequest) req =
          vxm_vxmd_request_parse((const char *)buf->data, line_len, &error);
      g_autofree char *reply = NULL;

      g_byte_array_remove_range(buf, 0, (guint)line_len);
      if (req != NULL && req->vm != NULL) {
        char *journal_name = vxm_vxmd_vm_journal_name(self, peer->uid, req->vm);

        g_free(req->vm);
        req->vm = journal_name;
      }
      if (req != NULL) {
        g_message("%s (uid %u, pid %d): %s%s%s", peer->user, (guint)peer->uid, (int)peer->pid,
                  vxm_vxmd_op_to_string(req->op), req->vm != NULL ? " " : "",
                  req->vm != NULL ? req->vm : "");
        gboolean ok = vxm_vxmd_operation_run(self, peer, req, report, &result, &error);

        if (!ok)
          g_message("  refused or failed: %s", error->message);
        vxm_vxmd_release_claim(self, peer);
      }
      peer_close_fds(peer); /* fds belong to the request they came with */
      reply = error != NULL ? vxm_vxmd_reply_error(error) : vxm_vxmd_reply_ok(report, result);
      if (!send_all(fd, reply, strlen(reply), self->idle_timeout_ms))
        break;
      continue;
    }
    if (buf->len >= VXM_VXMD_MAX_MESSAGE) {
      g_autoptr(GError) error =
          g_error_new(VXM_ERROR, VXM_ERROR_PROTOCOL,
                      "bad request to vxmd: a message is at most %d bytes", VXM_VXMD_MAX_MESSAGE);
      reply_error(fd, self->idle_timeout_ms, error);
      break;
    }
    n = receive(fd, buf, peer, self->idle_timeout_ms);
    if (n == 0 && buf->len > 0) {
      g_autoptr(GError) error = g_error_new(
          VXM_ERROR, VXM_ERROR_PROTOCOL, "bad request to vxmd: truncated (no newline at the end)");
      reply_error(fd, self->idle_timeout_ms, error);
      break;
    }
    if (n <= 0)
      break; /* closed, failed, or silent for too long */
  }
}

static gboolean
on_run(GThreadedSocketService *service, GSocketConnection *connection, GObject *source,
       gpointer user_data)
{
  VxmVxmd *self = user_data;
  GSocket *socket = g_socket_connection_get_socket(connection);

  (void)service;
  (void)source;
  serve_connection(self, g_socket_get_fd(socket));
  g_io_stream_close(G_IO_STREAM(connection), NULL, NULL);
  return TRUE;
}

gboolean
vxm_vxmd_listen(VxmVxmd *self, int fd, GError **error)
{
  g_autoptr(GSocket) gsocket = NULL;

  if (fd < 0) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    g_autofree char *dir = vxm_hostfs_path(self->hostfs, VXM_HOST_RUN_VXM);
    g_autofree char *path = g_build_filename(dir, VXM_VXMD_SOCKET_NAME, NULL);
    vxm_autofd int s = -1;

    if (strlen(path) >= sizeof addr.sun_path) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT, "socket path %s is too long", path);
      return FALSE;
    }
    if (g_mkdir_with_parents(dir, 0755) != 0) {
      vxm_error_set_from_errno(error, errno, "cannot create %s", dir);
      return FALSE;
    }
    strcpy(addr.sun_path, path);
    /* a socket someone answers on is another vxmd's: taking its path would leave its clients
     * with a vxmd that does not hold their journals */
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0 && connect(s, (struct sockaddr *)&addr, sizeof addr) == 0) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                  "another vxmd listens on %s: stop it first (or let it serve)", path);
      return FALSE;
    }
    if (s >= 0)
      close(s);
    unlink(path);
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
      vxm_error_set_from_errno(error, errno, "cannot listen on %s", path);
      return FALSE;
    }
    /* ours from here: removed when vxmd ends (only then: never another vxmd's) */
    self->socket_path = g_steal_pointer(&path);
    /* anyone may connect (as with vxmd.socket): vxmd authorises each request itself */
    if (chmod(self->socket_path, 0666) != 0 || listen(s, 64) != 0) {
      vxm_error_set_from_errno(error, errno, "cannot listen on %s", self->socket_path);
      return FALSE;
    }
    fd = s;
    s = -1;
  }
  gsocket = g_socket_new_from_fd(fd, error);
  if (gsocket == NULL)
    return FALSE;
  if (!g_socket_listener_add_socket(G_SOCKET_LISTENER(self->service), gsocket, NULL, error))
    return FALSE;
  g_signal_connect(self->service, "run", G_CALLBACK(on_run), self);
  g_socket_service_start(self->service);
  return TRUE;
}

int
vxm_vxmd_socket_from_systemd(GError **error)
{
  const char *pid = g_getenv("LISTEN_PID");
  const char *fds = g_getenv("LISTEN_FDS");
  gint64 p = 0, n = 0;
  struct stat st;

  if (pid == NULL || fds == NULL)
    return -1;
  if (!vxm_parse_int64(pid, 10, &p) || p != getpid())
    return -1;
  if (!vxm_parse_int64(fds, 10, &n) || n != 1) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "systemd passed %s sockets: vxmd.socket must have exactly one", fds);
    return -2;
  }
  /* SD_LISTEN_FDS_START */
  if (fstat(3, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "fd 3 from systemd is not a socket");
    return -2;
  }
  fcntl(3, F_SETFD, FD_CLOEXEC);
  g_unsetenv("LISTEN_PID");
  g_unsetenv("LISTEN_FDS");
  g_unsetenv("LISTEN_FDNAMES");
  return 3;
}
