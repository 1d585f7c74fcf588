/* vxm-sysfs-writer: sysfs writes (and reads) that may never return, made safe to attempt.
 *
 * Writing a device's driver/unbind runs the driver's remove(): the NVIDIA driver blocks there
 * for as long as anything holds the card, in uninterruptible sleep, and nothing short of a
 * reboot ends it. bind and drivers_probe run a probe(), which can hang the same way. So the
 * write is done by a forked child (open, write, close, _exit with errno: async-signal-safe
 * calls only, so forking a threaded process is fine) and the parent waits on a pidfd with
 * poll(2) and a time limit. On expiry the child is left where it is (it may be in D state and
 * cannot be killed); it is reaped by a later call once it finishes, never left a zombie for
 * longer than the next write, and never waited on forever.
 *
 * Why not double-fork and let init reap: the supervisor may be a child subreaper (for QEMU),
 * so orphans would come back to us anyway, and we would lose the child's exit status, which
 * tells whether a late write succeeded. Why not a thread: a thread stuck in the kernel cannot
 * be abandoned cleanly, and a process exit would wait for it.
 *
 * Every write goes through here, driver_override included: on a real kernel storing the
 * override cannot hang, but under --root the write goes to a FUSE server (vxm-simhost) which
 * can stall, and a fork costs well under a millisecond beside a driver's probe.
 */
#pragma once

#include "common/vxm-hostfs.h"

G_BEGIN_DECLS

#define VXM_SYSFS_WRITE_TIMEOUT_DEFAULT_MS 10000

/* Writes @value to @host_path with one write(2) in a child process and waits at most
 * @timeout_ms (0: the default, 10 s). The child's errno becomes the error (e.g. BUSY for
 * EBUSY). When the time runs out: VXM_ERROR_TIMEOUT, and the write may still complete later. */
gboolean vxm_sysfs_write_timeout(VxmHostfs *hostfs, const char *host_path, const char *value,
                                 guint timeout_ms, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The pid of the child left behind by this thread's last timed-out write (0 if none yet):
 * journaled so that recovery waits for it rather than racing a write still in the kernel. */
gint64 vxm_sysfs_writer_last_stuck_pid(void);

/* Reaps children of earlier timed-out writes that have finished since (each write does this
 * first). Returns how many are still running. */
guint vxm_sysfs_writer_reap(void);

#define VXM_SYSFS_READ_TIMEOUT_DEFAULT_MS 2000

/* Reads @host_path, an attribute whose show may block in the kernel, with a time limit (0: the
 * default, 2 s), and returns its content as read (trailing newline kept), or NULL with the
 * read's errno, or VXM_ERROR_TIMEOUT. While an unbind waits in a driver's remove() it holds
 * the device lock, and reading driver_override takes that lock: the read sleeps uninterruptibly
 * (D state) until the unbind ends, and so would vxm.
 *
 * So the read is done by a reader process that vxm forks once and asks over a socket (the
 * cost of a read is a round trip, not a fork); a reader left blocked is abandoned (reaped
 * later, like a stuck writer) and the next read starts another. A later read of a path whose
 * reader is still blocked fails at once (TIMEOUT), so a command that reads the same attribute
 * twice waits once. Only attributes whose show takes the device lock need this (for PCI:
 * driver_override); vendor, class, the driver link and the like never block. */
char *vxm_sysfs_read_timeout(VxmHostfs *hostfs, const char *host_path, guint timeout_ms,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* "10 s", "300 ms": a time limit for messages. */
char *vxm_sysfs_format_timeout(guint timeout_ms);

G_END_DECLS
