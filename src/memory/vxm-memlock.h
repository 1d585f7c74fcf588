/* vxm-memlock: RLIMIT_MEMLOCK for the QEMU process.
 *
 * VFIO pins all guest RAM (and the Looking Glass buffer), so QEMU needs RLIMIT_MEMLOCK of
 * guest RAM + 1 GiB (+ the Looking Glass size), else "vfio_pin_pages_remote: RLIMIT_MEMLOCK
 * exceeded". Two ways to give it:
 *  - before exec, in the child (vxm_memlock_child_setup(), for a spawn's child-setup hook):
 *    setrlimit on itself; raising the hard limit needs CAP_SYS_RESOURCE (vxm as root);
 *  - on a running process (vxm_memlock_raise_pid()): prlimit(2), which needs
 *    CAP_SYS_RESOURCE; vxmd does this for an unprivileged user's QEMU (issue 8).
 *
 * The pid race: between the caller choosing a pid and prlimit, the process may exit and its
 * pid be reused by another process, which would then get the limit. vxm_memlock_raise_pid()
 * opens a pidfd first (pinning the process it means), calls prlimit on the pid, then asks the
 * pidfd whether that process is still alive (poll on the pidfd: no CAP_KILL needed). While it lives
 * its pid cannot have been reused, so the prlimit hit it; if it died meanwhile the limit may
 * have hit a stranger, which is reported (the stranger's limit was only raised, never lowered,
 * and a recycled pid within microseconds is improbable). When the caller is QEMU's parent and
 * has not reaped it, the pid cannot be reused at all (a zombie keeps it), so this check is a
 * second line of defence; vxmd, which is not the parent, depends on it.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define VXM_MEMLOCK_HEADROOM (G_GUINT64_CONSTANT(1) << 30)

/* Guest RAM + 1 GiB + the Looking Glass buffer (0 when off). */
guint64 vxm_memlock_required(guint64 memory_bytes, guint64 looking_glass_bytes);

/* Sets @pid's RLIMIT_MEMLOCK soft and hard limits to at least @bytes (a higher limit stays:
 * never lowered), checked with a pidfd as described above. PERMISSION without
 * CAP_SYS_RESOURCE, NOT_FOUND when the process is gone. */
gboolean vxm_memlock_raise_pid(pid_t pid, guint64 bytes, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The same for the process behind @pidfd (the host ops' and vxmd's form: the caller already
 * holds the process). The pid is read from /proc/self/fdinfo of the pidfd. */
gboolean vxm_memlock_raise_pidfd(int pidfd, guint64 bytes,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The current soft and hard RLIMIT_MEMLOCK of @pid (RLIM_INFINITY as G_MAXUINT64). */
gboolean vxm_memlock_get_pid(pid_t pid, guint64 *soft, guint64 *hard,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* For a spawn's child-setup hook (GSpawnChildSetupFunc): @user_data points to a guint64 byte
 * count. Async-signal-safe: setrlimit only; on failure the child goes on with its limit, and
 * QEMU's own error names RLIMIT_MEMLOCK. */
void vxm_memlock_child_setup(gpointer user_data);

G_END_DECLS
