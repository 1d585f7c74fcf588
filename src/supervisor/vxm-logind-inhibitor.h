/* vxm-logind-inhibitor: an inhibitor lock from logind, so the host does not sleep under a guest
 * that holds a passed-through GPU (a host suspend leaves the card in a state the guest does not
 * survive).
 *
 * org.freedesktop.login1.Manager.Inhibit(what, who, why, mode) on the system bus, which both
 * systemd-logind and elogind serve, returns a file descriptor: the lock is held while that fd
 * is open, so it goes when the supervisor closes it at the end of the VM, or when the
 * supervisor dies. The system bus is GIO's: DBUS_SYSTEM_BUS_ADDRESS when set, else
 * /run/dbus/system_bus_socket. The caller runs as the VM's user; logind asks polkit
 * (org.freedesktop.login1.inhibit-block-sleep and -idle, allowed to an active local session by
 * default) and may refuse.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Asks logind for a "block" lock on @what ("sleep", "sleep:idle", logind's colon-separated
 * list), naming @who and @why; no interactive authorization is asked for. */
void vxm_logind_inhibit_async(const char *what, const char *who, const char *why,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data);
/* The lock's fd (the caller's, O_CLOEXEC), or -1 with the reason: no system bus, no logind on
 * it, or logind refused (polkit). */
int vxm_logind_inhibit_finish(GAsyncResult *result, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
