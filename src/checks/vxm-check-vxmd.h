/* vxm-check-vxmd: `vxm check`'s vxmd check, with the group as a parameter for tests. */
#pragma once

#include "checks/vxm-check.h"

G_BEGIN_DECLS

/* The group whose members may ask vxmd (vxmd --group overrides it on the daemon's side). */
#define VXM_VXMD_GROUP "vxm"

/* The check, for members of @group: root needs no vxmd; a user must have the group in this
 * login and vxmd must answer hello. */
void vxm_check_vxmd_for_group(VxmCheckContext *ctx, VxmCheckResult *result, const char *group);

G_END_DECLS
