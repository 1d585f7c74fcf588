/* vxm-control-server: the running supervisor's control socket.
 *
 * A unix socket at $XDG_RUNTIME_DIR/vxm/NAME/control.sock (mode 0600) speaking JSON lines.
 * Requests, one per line:
 *   {"command": "status"}                        -> {"status": {...}} (QEMU asked for its
 *                                                   run state first, when its monitor is up)
 *   {"command": "stop", "force": B, "timeout": S} -> {"ok": true}, then the events as below
 *   {"command": "watch"}                         -> the events as below
 *   {"command": "qmp-query", "execute": "query-tpm"} -> {"return": ...}: QMP query-* commands
 *                                                   only (the supervisor owns QEMU's state)
 * Events are the supervisor's progress objects, one per line, and at the end
 *   {"event": "finished", "status": {...}}; then the server closes the connection.
 * A bad request gets {"error": "..."} and the connection is closed.
 */
#pragma once

#include "supervisor/vxm-supervisor.h"

G_BEGIN_DECLS

typedef struct _VxmControlServer VxmControlServer;

/* The control socket's path for the VM. */
char *vxm_control_socket_path(const VxmVmPaths *paths);

/* Listens (replacing a stale socket; the caller holds the VM's lock). */
VxmControlServer *vxm_control_server_new(VxmSupervisor *supervisor,
                                         GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Stops listening, removes the socket, closes every connection. */
void vxm_control_server_free(VxmControlServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmControlServer, vxm_control_server_free)

G_END_DECLS
