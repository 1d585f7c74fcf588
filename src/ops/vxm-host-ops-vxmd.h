/* vxm-host-ops-vxmd: VxmHostOps done by vxmd, the privileged helper, for an unprivileged vxm.
 *
 * Every operation is one request on its own connection to VXM_HOST_RUN_VXM/vxmd.sock under the
 * host root (vxm_vxmd_client_call), so calls from several worker threads at once need no
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

G_END_DECLS
