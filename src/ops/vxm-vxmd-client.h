/* vxm-vxmd-client: one request to vxmd and its reply, from the unprivileged side. */
#pragma once

#include "common/vxm-hostfs.h"
#include "ops/vxm-vxmd-protocol.h"

G_BEGIN_DECLS

/* Connects to VXM_HOST_RUN_VXM/vxmd.sock under @hostfs, sends @req (with @pass_fd as
 * SCM_RIGHTS when >= 0), waits for the reply. vxmd's refusal comes back as @error with vxmd's
 * code and words; a missing daemon or a closed door as a sentence with the fix. */
gboolean vxm_vxmd_client_call(VxmHostfs *hostfs, const VxmVxmdRequest *req, int pass_fd,
                              GPtrArray *report, JsonNode **out_result,
                              GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
