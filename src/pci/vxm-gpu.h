/* vxm-gpu: a GPU (a display controller, class 0x03xx) with its companion functions and its
 * IOMMU groups, and the one passthrough policy every part of vxm applies to it.
 *
 * A GPU is the lowest-numbered display function of a slot; every other function of the same
 * domain:bus:device (audio 0x0403, USB 0x0c03, UCSI 0x0c80, a second display function) is one
 * of its functions. Its role:
 *   host       it is the boot VGA device;
 *   guest      it is the configured guest GPU and passthrough-safe;
 *   candidate  it is passthrough-safe (it could be given to a guest);
 *   unusable   otherwise, with reasons naming every offending device.
 * vxm_gpu_check_passthrough_safe() is the single policy: list-gpus, check, the binding engine
 * and the privileged helper all call it rather than re-deriving the rules.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "common/vxm-hostfs.h"
#include "pci/vxm-pci-bus.h"
#include "pci/vxm-pci-device.h"

G_BEGIN_DECLS

typedef enum {
  VXM_GPU_ROLE_HOST,
  VXM_GPU_ROLE_CANDIDATE,
  VXM_GPU_ROLE_GUEST,
  VXM_GPU_ROLE_UNUSABLE,
} VxmGpuRole;

/* "host", "candidate", "guest", "unusable" (the JSON values). */
const char *vxm_gpu_role_to_string(VxmGpuRole role);

#define VXM_TYPE_GPU (vxm_gpu_get_type())
G_DECLARE_FINAL_TYPE(VxmGpu, vxm_gpu, VXM, GPU, GObject)

/* Every GPU of the host, sorted by address (a fresh VxmPciBus snapshot). */
GPtrArray *vxm_gpu_list(VxmHostfs *hostfs, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Every GPU of @bus's snapshot, sorted by address. @guest_address (nullable, any accepted
 * form) is the configured guest GPU: it gets role guest when it is passthrough-safe. */
/* The same GPUs as vxm_gpu_list(), reading only what they need (vxm_pci_bus_new_for_gpus()):
 * their buses hold no other device, so vxm_gpu_find_in_list() on them cannot tell "not a GPU"
 * from "no such device". */
GPtrArray *vxm_gpu_list_only(VxmHostfs *hostfs, GError **error) G_GNUC_WARN_UNUSED_RESULT;
GPtrArray *vxm_gpu_list_for_bus(VxmPciBus *bus, const char *guest_address);

/* The GPU that @text names: a PCI address (the GPU's or one of its functions'), or else a
 * case-insensitive piece of its vendor/device/subsystem name or of its "vvvv:dddd" ids.
 * NOT_FOUND when nothing matches; INVALID_ARGUMENT when the address is not a GPU or the text
 * matches several (the message lists them). An address reads only that GPU's slot, its IOMMU
 * groups and the other display controllers (vxm_pci_bus_new_for_gpus()). */
VxmGpu *vxm_gpu_find(VxmHostfs *hostfs, const char *text, GError **error) G_GNUC_WARN_UNUSED_RESULT;
VxmGpu *vxm_gpu_find_in_list(GPtrArray *gpus, const char *text,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT;

VxmPciBus *vxm_gpu_get_bus(VxmGpu *self);
/* The display function itself. */
VxmPciDevice *vxm_gpu_get_device(VxmGpu *self);
const char *vxm_gpu_get_address(VxmGpu *self);
/* The card's other functions (VxmPciDevice), sorted by address; may be empty. */
GPtrArray *vxm_gpu_get_functions(VxmGpu *self);
/* The GPU and its functions, sorted: what goes to the guest. */
GPtrArray *vxm_gpu_get_all_functions(VxmGpu *self);
/* The IOMMU groups of the GPU and its functions (gint), sorted, unique; empty when none. */
GArray *vxm_gpu_get_iommu_groups(VxmGpu *self);
/* Every member (VxmPciDevice) of those groups, the card's own included, sorted, unique. */
GPtrArray *vxm_gpu_get_iommu_group_members(VxmGpu *self);
/* TRUE when @device is the GPU or one of its functions (same domain:bus:device). */
gboolean vxm_gpu_owns(VxmGpu *self, VxmPciDevice *device);

VxmGpuRole vxm_gpu_get_role(VxmGpu *self);
/* Why it is not (or cannot be) the guest GPU (strings); empty for a candidate or guest. */
GPtrArray *vxm_gpu_get_reasons(VxmGpu *self);

/* THE passthrough policy. TRUE when this GPU may be given to a guest as things stand in its
 * snapshot: the IOMMU is on; it is not the boot VGA device; it is not the machine's only GPU;
 * the host keeps another GPU (not every other one is on vfio-pci or pci-stub); the GPU and
 * each of its functions have an IOMMU group; and every device in those groups is one of the
 * card's own functions, a PCI bridge (0x0604), or a host bridge (0x0600) with no driver
 * bound. Otherwise FALSE, and @reasons (nullable; transfer full, strings) gets one sentence
 * per broken rule, each naming every offending device by address and class, and the fix.
 * It judges the GPU's snapshot: callers about to act (binding, vxmd) take a fresh one first
 * (vxm_gpu_find() or vxm_gpu_list()), then call this. An admin allowlist may only narrow it. */
gboolean vxm_gpu_check_passthrough_safe(VxmGpu *self, GPtrArray **reasons);

/* The GPU as `vxm list-gpus --json` prints it: the keys of issue 2 (ids lowercase hex without
 * 0x, class as the top 16 bits "0300", arrays sorted by address, null where unknown) plus
 * class_name, subsystem_name, revision, driver_override, iommu_groups, reset_method,
 * drm_nodes, sysfs_path and iommu_group_members. */
JsonNode *vxm_gpu_to_json(VxmGpu *self);

G_END_DECLS
