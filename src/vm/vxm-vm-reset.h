/* vxm-vm-reset: removing a VM's files (config, disk, UEFI variables, TPM state, logs).
 *
 * Removal walks each of the VM's folders with openat/unlinkat and never follows a symlink:
 * a link planted inside (to ~/Documents, to /) is removed as a link, its target untouched.
 * A disk the config places outside vxm's folders is the user's file and is kept.
 */
#pragma once

#include "vm/vxm-vm-paths.h"

G_BEGIN_DECLS

/* Removes VM @paths->name. Refuses (VXM_ERROR_BUSY) while it runs, NOT_FOUND when there is no
 * such VM. @report (nullable) gets one line per thing removed or kept. */
gboolean vxm_vm_reset(const VxmVmPaths *paths, GPtrArray *report,
                      GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* rm -r @path without following any symlink inside it (or @path itself, if a link: the link is
 * removed). An absent path is fine. Used by reset and by init's cleanup. */
gboolean vxm_vm_remove_tree(const char *path, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
