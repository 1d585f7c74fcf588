/* vxm-supervisor: one VM's life, from "host has both GPUs" to "guest running" and back.
 *
 * The choreography of design.md, on the thread-default main loop:
 *   preparing  check no other running VM wants the GPU, take the VM's lock, then in parallel
 *              (worker threads: host ops block) { detach the GPU's group, then give its
 *              /dev/vfio/N to the user; reserve hugepages; give the input nodes to the user;
 *              make the Looking Glass memory; start swtpm and wait for its socket (inotify) }
 *   starting   raise RLIMIT_MEMLOCK of this process (QEMU inherits it at fork), exec QEMU
 *              paused (-S; the plan's fallback argv when the reservation fell short and
 *              hugepages_fallback allows it), wait for its QMP socket, handshake,
 *              query-cpus-fast and pin the vCPU and other threads, cont
 *   running    QEMU's exit (pidfd), QMP events and the input hotplug watcher
 *   stopping   system_powerdown, then quit after the time limit (or quit at once when forced);
 *              SIGTERM, then SIGKILL when QEMU does not go
 *   restoring  after QEMU has exited, one step after another: reattach the GPU, release the
 *              hugepages, revoke the device nodes, restore what the journal still holds and
 *              clear it; swtpm stopped beside them
 *   stopped / failed (why)
 * QEMU exiting for any reason, a failed step, a stop request or a signal all lead to the same
 * teardown; each teardown step is idempotent. Host changes go through VxmHostOps, whose
 * engines journal them first.
 *
 * Progress: the "progress" signal carries one JSON object per event:
 *   {"event": "step", "step": "detach-gpu", "status": "started"|"ok"|"failed"|"skipped",
 *    "ms": N (when done), "message": "..." (optional)}
 *   {"event": "state", "state": "running", "reason": "..." (failed only)}
 * "finished" is emitted once, when the state is stopped or failed.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "ops/vxm-host-ops.h"
#include "plan/vxm-supervisor-plan.h"
#include "qemu/vxm-qmp-client.h"
#include "supervisor/vxm-vm-state.h"

G_BEGIN_DECLS

#define VXM_TYPE_SUPERVISOR (vxm_supervisor_get_type())
G_DECLARE_FINAL_TYPE(VxmSupervisor, vxm_supervisor, VXM, SUPERVISOR, GObject)

/* Takes ownership of @plan. */
VxmSupervisor *vxm_supervisor_new(VxmHostOps *ops, VxmSupervisorPlan *plan);

/* Begins the start; everything after happens on the main loop. */
void vxm_supervisor_start(VxmSupervisor *self);

/* Asks the VM to stop: ACPI power-down, quit after @timeout_s (< 0: the plan's
 * shutdown_timeout), or quit at once when @force. During the start, the start is abandoned and
 * the host restored. A second, forced request shortens a pending one. */
void vxm_supervisor_stop(VxmSupervisor *self, gboolean force, gint timeout_s);

/* SIGTERM, SIGINT and SIGHUP stop the guest cleanly (a second one forces the stop), through
 * the main loop (g_unix_signal_add). Until the supervisor is disposed. */
void vxm_supervisor_handle_signals(VxmSupervisor *self);

VxmVmState vxm_supervisor_get_state(VxmSupervisor *self);
/* Why the VM failed (or NULL). */
const char *vxm_supervisor_get_failure(VxmSupervisor *self);
/* QEMU's last run state as QMP events told it ("prelaunch", "running", "paused", "shutdown"),
 * NULL before QEMU runs. */
const char *vxm_supervisor_get_run_state(VxmSupervisor *self);
/* The QMP client while QEMU's monitor is connected and ready, else NULL. */
VxmQmpClient *vxm_supervisor_get_qmp(VxmSupervisor *self);
const VxmSupervisorPlan *vxm_supervisor_get_plan(VxmSupervisor *self);
GPid vxm_supervisor_get_qemu_pid(VxmSupervisor *self);
GPid vxm_supervisor_get_swtpm_pid(VxmSupervisor *self);
/* Lines saying what teardown gave back to the host. */
GPtrArray *vxm_supervisor_get_restored(VxmSupervisor *self);

/* The status object (see docs/status-json.md): name, state, reason, pids, run_state, gpu,
 * hugepages, memlock, pinning, granted_nodes, inputs, steps, restored, logs, started,
 * updated. */
JsonNode *vxm_supervisor_to_json(VxmSupervisor *self);

/* The path of the state file: state_dir/status.json. */
char *vxm_supervisor_state_file(const VxmVmPaths *paths);

G_END_DECLS
