/* vxm-socket-wait: waiting for a child's unix socket to appear and accept connections.
 *
 * swtpm and QEMU create their sockets some milliseconds after exec. The wait is driven by
 * inotify on the socket's folder (IN_CREATE, IN_MOVED_TO, IN_ATTRIB): no polling while the
 * path does not exist. A socket can exist before it listens (bind, then listen): a connect
 * refused in that window is retried with a short backoff (1 ms doubling to 32 ms), the only
 * time-based retry, bounded by the time limit. A stale socket nobody listens on therefore ends
 * in a timeout that names the last error.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Completes once a connect() to @path succeeds. The folder of @path must exist. */
void vxm_wait_for_socket_async(const char *path, guint timeout_ms, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
/* The connected socket (close-on-exec; the caller owns it, e.g. for vxm_qmp_client_new_for_fd),
 * or -1 with @error (VXM_ERROR_TIMEOUT, VXM_ERROR_NOT_FOUND for a missing folder, ...). */
int vxm_wait_for_socket_finish(GAsyncResult *result, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
