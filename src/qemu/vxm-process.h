/* vxm-process: a child process the supervisor runs (QEMU, swtpm), from spawn to reaped exit.
 *
 * Spawning: an argv (no shell, ever), exactly the environment given (nothing inherited),
 * stdin at end of file, stdout and stderr appended to a log file, and no file descriptor
 * inherited except the ones listed, each placed at the number the child expects. The child
 * can get its own process group and can be killed when the supervisor dies.
 *
 * Waiting: on a pidfd watched by the main loop (pidfd_open), reaped with waitpid; where pidfds
 * are missing, GLib's child watch. Never a sleep loop, kill(pid, 0) or /proc polling: this
 * machine's PID 1 reaps orphans late, so only the parent's own wait is a reliable end.
 * A running VxmProcess keeps itself alive until its child is reaped.
 *
 * All sources attach to the thread-default main context current at spawn time.
 */
#pragma once

#include <gio/gio.h>

#include "common/vxm-run-as.h"

G_BEGIN_DECLS

/* An fd the child inherits: @source_fd in this process becomes @target_fd (>= 3) there. */
typedef struct {
  int source_fd;
  int target_fd;
} VxmProcessFd;

typedef enum {
  VXM_PROCESS_FLAGS_NONE = 0,
  /* setpgid(0, 0) in the child: terminal signals to the supervisor do not reach it. */
  VXM_PROCESS_NEW_PROCESS_GROUP = 1 << 0,
  /* PR_SET_PDEATHSIG SIGKILL: the child dies when the spawning thread does (swtpm must never
   * outlive the supervisor). Spawn from the main thread. */
  VXM_PROCESS_KILL_WITH_PARENT = 1 << 1,
  /* Use GLib's waitpid-based child watch even when pidfds work (tests, old kernels). */
  VXM_PROCESS_NO_PIDFD = 1 << 2,
} VxmProcessFlags;

#define VXM_TYPE_PROCESS (vxm_process_get_type())
G_DECLARE_FINAL_TYPE(VxmProcess, vxm_process, VXM, PROCESS, GObject)

/* Starts @argv. argv[0] without a slash is looked up in vxm's own PATH (the child gets no
 * PATH unless @envp has one). @envp: the child's whole environment, NULL for an empty one.
 * @log_path: opened O_APPEND (created 0600) for stdout and stderr, after a line saying what
 * started; NULL leaves vxm's own stdout and stderr. Fails when the program cannot be
 * executed (the exec error is reported, not a later exit status 127). */
VxmProcess *vxm_process_spawn(const char *const *argv, const char *const *envp,
                              const VxmProcessFd *fds, guint n_fds, const char *log_path,
                              VxmProcessFlags flags, GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* The same, the child running as @user (NULL: as this process): between fork and exec it
 * takes the user's groups, gid and uid (real, effective and saved), before anything else, and
 * fails the spawn when it cannot or is still root; the log file is handed to the user. */
VxmProcess *vxm_process_spawn_as(const char *const *argv, const char *const *envp,
                                 const VxmProcessFd *fds, guint n_fds, const char *log_path,
                                 VxmProcessFlags flags, const VxmRunAs *user,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;

GPid vxm_process_get_pid(VxmProcess *self);
/* The pidfd, -1 when the fallback is in use or after exit. */
int vxm_process_get_pidfd(VxmProcess *self);
/* The program's base name ("qemu-system-x86_64"), for messages. */
const char *vxm_process_get_name(VxmProcess *self);
const char *vxm_process_get_log_path(VxmProcess *self);

gboolean vxm_process_has_exited(VxmProcess *self);
/* After exit: the raw wait status, the exit code (-1 when killed by a signal), the signal
 * (0 when it exited). */
int vxm_process_get_wait_status(VxmProcess *self);
int vxm_process_get_exit_status(VxmProcess *self);
int vxm_process_get_term_signal(VxmProcess *self);
/* After exit: TRUE for exit status 0, else an error saying how it ended and which log to read. */
gboolean vxm_process_check_success(VxmProcess *self, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Sends @signum (through the pidfd, so a recycled pid is never hit). A process that already
 * exited is not an error. */
gboolean vxm_process_send_signal(VxmProcess *self, int signum,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Completes when the child has exited and was reaped; errors only on cancellation. */
void vxm_process_wait_async(VxmProcess *self, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
gboolean vxm_process_wait_finish(VxmProcess *self, GAsyncResult *result,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Sends @signum, waits up to @timeout_ms for the exit, then SIGKILL and waits for the exit.
 * @out_killed tells whether SIGKILL was needed. */
void vxm_process_terminate_async(VxmProcess *self, int signum, guint timeout_ms,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean vxm_process_terminate_finish(VxmProcess *self, GAsyncResult *result, gboolean *out_killed,
                                      GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Signal "exited": void (*)(VxmProcess *, int wait_status, gpointer user_data), once, after
 * the child was reaped. */

G_END_DECLS
