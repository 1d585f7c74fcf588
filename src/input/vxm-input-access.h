/* vxm-input-access: giving device nodes to the user whose QEMU opens them, and taking them back.
 *
 * QEMU's input-linux opens /dev/input/eventN read-write, so the VM's user needs rw on the
 * nodes for the VM's life. A grant resolves the node (a by-id link leads to eventN), journals
 * its owner, group and mode (kind "device-node-owner") BEFORE changing it, then makes the user
 * its owner with u+rw. Undo (stop, recover, revoke) puts back exactly the recorded owner,
 * group and mode; a node that is gone (unplugged) has nothing to give back: the kernel's new
 * node is root's again. Nothing here is input specific, so /dev/vfio/N can use it too; the
 * privileged helper (issue 8) calls the same functions on behalf of a user.
 */
#pragma once

#include <sys/types.h>

#include "common/vxm-hostfs.h"
#include "journal/vxm-journal.h"

G_BEGIN_DECLS

#define VXM_DEVICE_NODE_JOURNAL_KIND "device-node-owner"

void vxm_device_node_register_journal_kind(void);

/* Gives @host_path (links followed inside the root) to @uid, group @gid ((gid_t)-1: kept),
 * with u+rw added to its mode. Journaled first in @journal. A line for the user goes to
 * @report (may be NULL). */
gboolean vxm_device_node_grant(VxmHostfs *hostfs, VxmJournal *journal, const char *host_path,
                               uid_t uid, gid_t gid, GPtrArray *report,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Undoes every "device-node-owner" entry of @journal not undone yet, last first, leaving other
 * kinds alone. TRUE when all went back. */
gboolean vxm_device_node_revoke_all(VxmHostfs *hostfs, VxmJournal *journal, GPtrArray *report,
                                    GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
