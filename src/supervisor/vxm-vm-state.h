/* vxm-vm-state: the life of a running VM as the supervisor sees it, and the state file.
 *
 *   preparing -> starting -> running -> stopping -> restoring -> stopped
 *   (any of them) ---------------------------------> restoring -> failed (with why)
 *
 * The state file ($XDG_STATE_HOME/vxm/NAME/status.json) is the supervisor's last word, written
 * atomically at every change, so `vxm status` can tell what happened after the supervisor is
 * gone; while it runs, its control socket is asked instead.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  VXM_VM_STATE_PREPARING,
  VXM_VM_STATE_STARTING,
  VXM_VM_STATE_RUNNING,
  VXM_VM_STATE_STOPPING,
  VXM_VM_STATE_RESTORING,
  VXM_VM_STATE_STOPPED,
  VXM_VM_STATE_FAILED,
} VxmVmState;

/* "preparing", ..., "failed" (the JSON values). */
const char *vxm_vm_state_to_string(VxmVmState state);
gboolean vxm_vm_state_from_string(const char *text, VxmVmState *out);
/* TRUE for stopped and failed: the supervisor is done. */
gboolean vxm_vm_state_is_final(VxmVmState state);

/* Writes @status (an object) to @path atomically (temporary file, rename), without an fsync:
 * the file only describes the VM for `vxm status`, several times per start and stop; what
 * must survive a crash is the host journal's, which syncs every entry. After a power cut the
 * file may be old or empty (a read then says it is not a state file). */
gboolean vxm_vm_state_file_write(const char *path, JsonNode *status,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Reads it back; NOT_FOUND when the VM never ran. */
JsonNode *vxm_vm_state_file_read(const char *path, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
