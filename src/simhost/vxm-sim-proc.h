/* vxm-sim-proc: simulated processes ([process PID] groups).
 *
 * Serves /proc/PID/{comm,cmdline,status} and /proc/PID/fd/N links to the device nodes a
 * process holds (fds 0-2 are /dev/null, the listed nodes follow from 3), so vxm's holder
 * scan finds, say, nvidia-persistenced holding /dev/nvidia0. A process can be killed through
 * the control folder; the host lock is held by callers.
 */
#pragma once

#include "vxm-sim-host.h"

G_BEGIN_DECLS

VxmSimProc *vxm_sim_proc_new(VxmSimHost *host, VxmSimMachine *machine,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_sim_proc_free(VxmSimProc *proc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmSimProc, vxm_sim_proc_free)

/* The process exits: /proc/PID goes. 0, or -ESRCH when there is no such live process. */
int vxm_sim_proc_kill(VxmSimProc *proc, const char *pid_text);

/* TRUE when a live simulated process holds a node matching one of @globs (fnmatch). */
gboolean vxm_sim_proc_holds(VxmSimProc *proc, const char *const *globs);

/* A real process (@pid, of the machine running the simulator) opened @node, a modelled device
 * node: /proc/PID appears with its real comm and an fd linking to @node, as the kernel shows
 * every holder; closing it takes the fd away (and /proc/PID with its last one). */
void vxm_sim_proc_open_node(VxmSimProc *proc, guint pid, uid_t uid, const char *node);
void vxm_sim_proc_close_node(VxmSimProc *proc, guint pid, const char *node);

void vxm_sim_proc_dump_state(VxmSimProc *proc, GPtrArray *lines);

G_END_DECLS
