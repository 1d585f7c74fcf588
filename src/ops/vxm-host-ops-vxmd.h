/* vxm-host-ops-vxmd: VxmHostOps done by vxmd, the privileged helper, for an unprivileged vxm.
 *
 * Every operation is one request on its own connection to VXM_HOST_RUN_VXM/vxmd.sock under the
 * host root (vxm_helper_client_call), so calls from several worker threads at once need no
 * lock. vxmd keeps the VM's journal and checks every request against its policy and the uid
 * that prepared the VM; this side only translates: host paths to node names, the caller's own
 * pidfd as SCM_RIGHTS.
 */
#pragma once

#include "common/vxm-hostfs.h"
#include "ops/vxm-host-ops.h"

G_BEGIN_DECLS

#define VXM_TYPE_HOST_OPS_VXMD (vxm_host_ops_vxmd_get_type())
G_DECLARE_FINAL_TYPE(VxmHostOpsVxmd, vxm_host_ops_vxmd, VXM, HOST_OPS_VXMD, GObject)

VxmHostOps *vxm_host_ops_vxmd_new(VxmHostfs *hostfs);

/* Asks vxmd who we are: FALSE with the sentence and its fix when vxmd is not running or will
 * not serve this user (not in group vxm, not in allowed_users). */
gboolean vxm_host_ops_vxmd_hello(VxmHostOpsVxmd *self, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* vxmd's recover: one VM's journal (@vm), or every journal of this user whose vxm is gone
 * (@vm NULL; every journal for root). What was given back goes to @report. */
gboolean vxm_host_ops_vxmd_recover(VxmHostOpsVxmd *self, const char *vm, GPtrArray *report,
                                   GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* vxmd's journals: [{"name", "uid" (who prepared it, -1 unknown), "entries", "clear"}...]. */
JsonNode *vxm_host_ops_vxmd_list_journals(VxmHostOpsVxmd *self,
                                          GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
