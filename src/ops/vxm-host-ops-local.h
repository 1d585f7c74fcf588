/* vxm-host-ops-local: VxmHostOps done in this process, with the core library.
 *
 * Used when vxm runs as root without vxmd (and by the tests, on a simulated host root). It
 * keeps each VM's journal (/run/vxm/journal/NAME.json under the host root) open in a
 * VxmJournalStore while the VM runs: the binding engine journals into it, and restore_all
 * undoes it.
 */
#pragma once

#include "common/vxm-hostfs.h"
#include "ops/vxm-host-ops.h"
#include "ops/vxm-journal-store.h"

G_BEGIN_DECLS

#define VXM_TYPE_HOST_OPS_LOCAL (vxm_host_ops_local_get_type())
G_DECLARE_FINAL_TYPE(VxmHostOpsLocal, vxm_host_ops_local, VXM, HOST_OPS_LOCAL, GObject)

VxmHostOps *vxm_host_ops_local_new(VxmHostfs *hostfs);
/* With journals kept in @store, which the caller shares (vxmd stamps and checks them). */
VxmHostOps *vxm_host_ops_local_new_with_store(VxmHostfs *hostfs, VxmJournalStore *store);

G_END_DECLS
