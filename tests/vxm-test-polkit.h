/* A real polkitd on a private D-Bus system bus, and login sessions it believes, for vxmd's
 * authorization tests (root only).
 *
 * dbus-daemon runs with a system-bus configuration of its own on a socket in a temporary
 * folder (vxmd and polkitd find it through DBUS_SYSTEM_BUS_ADDRESS). polkitd
 * (/usr/lib/polkit-1/polkitd, as packaged) runs in a mount namespace of its own, where the
 * test's folders are bound over /usr/share/polkit-1/actions (only the action file under test),
 * /etc/polkit-1/rules.d (the test's rules) and /run/systemd: nothing of the host's is written.
 *
 * Sessions: polkitd built with libsystemd asks sd-login, which reads no D-Bus but files:
 * sd_pid_get_session() takes the session from the process's cgroup path (a unit named
 * session-ID.scope in the hierarchy systemd uses), and the session's and user's state come
 * from /run/systemd/sessions/ID and /run/systemd/users/UID (what logind or elogind write). So a
 * session here is those two files plus a cgroup the test's process is moved into: the cgroup
 * is made under the host's cgroup hierarchy and removed at the end.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* A private system bus (dbus-daemon) listening on @dir/system_bus_socket, which lets everyone
 * connect, own names and call; its address (for DBUS_SYSTEM_BUS_ADDRESS). Stop it by killing
 * and reaping *@out_pid. dbus-daemon must be installed. */
char *vxm_test_system_bus_start(const char *dir, GPid *out_pid);

typedef struct _VxmTestPolkit VxmTestPolkit;

/* Starts the bus and polkitd with @policy_file as the only action file and @rules (file name
 * -> JavaScript) in /etc/polkit-1/rules.d. NULL with the reason when this machine cannot
 * (no polkitd, no dbus-daemon, no cgroup hierarchy): the caller skips. */
VxmTestPolkit *vxm_test_polkit_start(const char *policy_file, GHashTable *rules,
                                     char **out_skip_reason);
const char *vxm_test_polkit_bus_address(VxmTestPolkit *pk);
/* Stops polkitd only (the bus stays): vxmd then finds nobody to ask. */
void vxm_test_polkit_stop_polkitd(VxmTestPolkit *pk);
void vxm_test_polkit_free(VxmTestPolkit *pk);

typedef enum {
  VXM_TEST_SESSION_ACTIVE_LOCAL,   /* on seat0, in front */
  VXM_TEST_SESSION_INACTIVE_LOCAL, /* on seat0, another user's session in front */
  VXM_TEST_SESSION_REMOTE,         /* ssh: no seat */
} VxmTestSessionKind;

/* Writes (or rewrites) @user's session @id of @kind; its cgroup's cgroup.procs is returned
 * (owned by @pk): a process that writes "0" to it joins the session. */
const char *vxm_test_polkit_set_session(VxmTestPolkit *pk, const char *id, const char *user,
                                        VxmTestSessionKind kind);

G_END_DECLS
