/* vxm-vxmd-client: talking to vxmd over its unix socket. */
#include "ops/vxm-vxmd-client.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-host-system.h"
#include "common/vxm-util.h"

static int
connect_vxmd(VxmHostfs *hostfs, GError **error)
{
  g_autofree char *path = vxm_hostfs_path(hostfs, VXM_HOST_RUN_VXM "/" VXM_VXMD_SOCKET_NAME);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  vxm_autofd int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int ret;

  if (fd < 0 || strlen(path) >= sizeof addr.sun_path) {
    vxm_error_set_from_errno(error, fd < 0 ? errno : ENAMETOOLONG, "cannot reach vxmd at %s", path);
    return -1;
  }
  strcpy(addr.sun_path, path);
  ret = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  if (ret != 0) {
    int e = errno;

    if (e == ENOENT || e == ECONNREFUSED) {
      g_autofree char *enable = vxm_host_system_vxmd_enable_command(hostfs);

      g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                  "vxmd is not running (nothing listens on %s): start it with `%s`", path, enable);
    } else if (e == EACCES || e == EPERM)
      g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                  "you may not use vxmd (%s is for group vxm): add yourself with "
                  "`sudo usermod -aG vxm $USER`, then log out and in again",
                  path);
    else
      vxm_error_set_from_errno(error, e, "cannot reach vxmd at %s", path);
    return -1;
  }
  return g_steal_fd(&fd);
}

gboolean
vxm_vxmd_client_call(VxmHostfs *hostfs, const VxmVxmdRequest *req, int pass_fd, GPtrArray *report,
                     JsonNode **out_result, GError **error)
{
  g_autofree char *line = vxm_vxmd_request_to_line(req);
  g_autoptr(GByteArray) buf = g_byte_array_new();
  vxm_autofd int fd = connect_vxmd(hostfs, error);
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = line, .iov_len = strlen(line)};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  gsize sent = 0;

  if (fd < 0)
    return FALSE;
  if (pass_fd >= 0) {
    struct cmsghdr *c;

    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  while (sent < strlen(line)) {
    ssize_t n;

    iov.iov_base = line + sent;
    iov.iov_len = strlen(line) - sent;
    n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      vxm_error_set_from_errno(error, errno, "cannot send %s to vxmd",
                               vxm_vxmd_op_to_string(req->op));
      return FALSE;
    }
    sent += (gsize)n;
    msg.msg_control = NULL; /* the fd goes once, with the first bytes */
    msg.msg_controllen = 0;
  }
  for (;;) {
    char data[4096];
    ssize_t n = read(fd, data, sizeof data);
    guint8 *nl;

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      g_autofree char *logs = vxm_host_system_vxmd_log_hint(hostfs);

      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                  "vxmd closed the connection without answering %s: see %s",
                  vxm_vxmd_op_to_string(req->op), logs);
      return FALSE;
    }
    g_byte_array_append(buf, (const guint8 *)data, (guint)n);
    nl = memchr(buf->data, '\n', buf->len);
    if (nl != NULL)
      return vxm_vxmd_reply_parse((const char *)buf->data, (gsize)(nl - buf->data) + 1, report,
                                  out_result, error);
    if (buf->len > VXM_VXMD_MAX_MESSAGE) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "vxmd's reply is too long");
      return FALSE;
    }
  }
}
