/* vxm-vfio-static: binding a GPU to vfio-pci at boot, for systems where run-time binding
 * cannot work (a driver that never lets go, the AMD reset bug).
 *
 * Owns /etc/modprobe.d/vxm-vfio.conf: `options vfio-pci ids=VVVV:DDDD,...` for every endpoint
 * of the GPU's IOMMU group, and `softdep DRIVER pre: vfio-pci` for each driver that would
 * otherwise claim them first, so vfio-pci loads before them in the initramfs. The ids match
 * every device with those ids, so an identical device elsewhere on the host is refused.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "common/vxm-hostfs.h"
#include "pci/vxm-gpu.h"

G_BEGIN_DECLS

#define VXM_VFIO_STATIC_CONF VXM_HOST_ETC_MODPROBE_D "/vxm-vfio.conf"

/* The file's text for @gpu (pure: reads sysfs, writes nothing). Refused (REFUSED) when the
 * group is not passthrough-safe or another device on the host shares one of the ids. */
char *vxm_vfio_static_binding_render(VxmHostfs *hostfs, VxmGpu *gpu,
                                     GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Writes the file atomically; @out_next (nullable) gets what the user must run next. */
gboolean vxm_vfio_static_binding_write(VxmHostfs *hostfs, VxmGpu *gpu, char **out_next,
                                       GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Removes the file (nothing to do when absent); @out_next as above. */
gboolean vxm_vfio_static_binding_remove(VxmHostfs *hostfs, char **out_next,
                                        GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* {"file", "enabled", "ids": [...], "softdeps": [...], "devices": [{"address", "ids", "listed",
 *  "driver"}] (when @gpu is given), "in_effect": every endpoint listed and on vfio-pci,
 *  "kind": "lasting" | "until reboot" (an overlay root on tmpfs: the next boot drops the file),
 *  and on such a root "lasting_file" (the lower layer's copy, what the next boot reads) with
 *  "lasting_enabled" (true, false, null when the lower layer is not visible)}.
 * On such a root write and remove change nothing and fail (REFUSED) with the steps through
 * the lower layer (overlayroot-chroot): a boot-time setting that the boot drops never acts. */
JsonNode *vxm_vfio_static_binding_status(VxmHostfs *hostfs, VxmGpu *gpu,
                                         GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
