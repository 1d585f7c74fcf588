/* vxm-util: small helpers every area uses: fds, numbers, atomic files. */
#pragma once

#include <glib.h>
#include <errno.h>
#include <unistd.h>

G_BEGIN_DECLS

static inline void
vxm_close_fdp(int *fd)
{
  if (*fd >= 0) {
    int errsv = errno;
    close(*fd);
    errno = errsv;
    *fd = -1;
  }
}

/* An int file descriptor closed when it goes out of scope. */
#define vxm_autofd __attribute__((cleanup(vxm_close_fdp)))

/* Closes @fd in a thread of its own, nobody waiting: closing an inotify instance waits for the
 * kernel's SRCU grace period (16 ms measured), which a teardown need not. */
void vxm_close_in_background(int fd);

/* Whether the process of @pidfd still runs: poll(2) on the pidfd (readable once the process
 * has exited), which needs no right over the process, unlike pidfd_send_signal(2) with signal
 * 0 (EPERM for another uid's process without CAP_KILL, which vxmd does not keep). FALSE with
 * errno ESRCH when it has exited, or poll's errno when the poll failed. */
gboolean vxm_pidfd_is_alive(int pidfd);

/* Strict number parsing: the whole string, no sign for unsigned, no overflow. */
gboolean vxm_parse_int64(const char *text, guint base, gint64 *out);
gboolean vxm_parse_uint64(const char *text, guint base, guint64 *out);

/* Writes @path atomically: a temporary file beside it, fsync, rename, fsync of the folder.
 * Either the old or the new content is there after a crash, never a mix. */
gboolean vxm_file_replace_atomic(const char *path, const char *contents, gssize length, int mode,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Writes @path atomically without waiting for the disk: a temporary file beside it, then
 * rename. Readers see the old or the new content, never a mix; after a power cut the file may
 * be old or empty. For files that only describe (a VM's status), never for the journal. */
gboolean vxm_file_replace_atomic_nosync(const char *path, const char *contents, gssize length,
                                        int mode, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* With VXM_DEBUG_TIMING set: "vxm-timing: PID MS WHAT" on stderr, MS on CLOCK_MONOTONIC (one
 * clock for every process of a start, so the lines of the CLI, the supervisor and a test can be
 * merged). For finding where a command's time goes; costs one getenv otherwise. */
void vxm_debug_timing(const char *format, ...) G_GNUC_PRINTF(1, 2);

/* "1.5 GiB", "512 MiB": for messages. */
char *vxm_format_bytes(guint64 bytes);

/* Parses "16G", "512M", "4096K", "1T", "8GiB", plain bytes. */
gboolean vxm_parse_size(const char *text, guint64 *out_bytes);

/* The candidate closest to @word (case-insensitive edit distance at most 2, or a third of its
 * length), or NULL: for "did you mean". */
const char *vxm_closest_word(const char *word, const char *const *candidates, gsize n);

G_END_DECLS
