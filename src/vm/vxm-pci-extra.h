/* vxm-pci-extra: whole PCI devices given to the guest beside its GPU ([pci] extra: a USB
 * controller, an NVMe, a capture card), and the one policy that decides which may go.
 *
 * What the host needs is read from the host root, so the simulated workstation answers it:
 *   - the PCI devices under every mounted block device (/proc/self/mountinfo's MAJ:MIN through
 *     /sys/dev/block to the device's sysfs path and the last PCI device on it; device mapper,
 *     md and partitions through /sys/class/block/X/slaves), the root file system first, and
 *     the swap partitions of /proc/swaps;
 *   - the USB (or other) controller above each physical keyboard (/sys/class/input).
 * The policy for one device: it exists; it is not a bridge; it is not a display controller
 * (the host's GPUs are the host's, the guest's is [gpu] address); it is not in the guest GPU's
 * IOMMU group (that goes with the GPU already); no mounted file system is on it; it does not
 * carry every keyboard the host has left; it has an IOMMU group, and every endpoint of that
 * group is listed too (they all go together). vxm start, the supervisor's host steps, vxmd
 * and vxm list-devices all ask here.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "common/vxm-hostfs.h"
#include "pci/vxm-gpu.h"
#include "pci/vxm-pci-bus.h"

G_BEGIN_DECLS

typedef struct _VxmHostNeeds VxmHostNeeds;

/* Reads the mounts and keyboards of the host (nothing readable: nothing known, no error). */
VxmHostNeeds *vxm_host_needs_read(VxmHostfs *hostfs);
void vxm_host_needs_free(VxmHostNeeds *needs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmHostNeeds, vxm_host_needs_free)

/* "the root file system (/ from /dev/nvme0n1p2)", "/home (from /dev/sda1)" or "the swap
 * partition /dev/sdb2" when a mounted file system or swap is on @address (a PCI endpoint),
 * else NULL. */
const char *vxm_host_needs_mounts(VxmHostNeeds *needs, const char *address);
/* The names of the physical keyboards below @address (strings), NULL when none. */
GPtrArray *vxm_host_needs_keyboards(VxmHostNeeds *needs, const char *address);

/* Why @address cannot be an extra device of a guest whose GPU is @gpu (nullable) when the
 * devices of @extra (normalised addresses, nullable) go with it; NULL when it can. */
char *vxm_pci_extra_refusal(VxmPciBus *bus, VxmHostNeeds *needs, VxmGpu *gpu, const char *address,
                            const char *const *extra);

/* Checks every address of @extra for a guest beside @gpu (nullable) on a fresh snapshot of the
 * host, and returns the endpoints to move to vfio-pci (VxmPciDevice, sorted): each extra
 * device with its IOMMU group. REFUSED (NOT_FOUND for an absent device) naming every device
 * refused and why, before anything changed. */
GPtrArray *vxm_pci_extra_resolve(VxmHostfs *hostfs, VxmGpu *gpu, const char *const *extra,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* For `vxm list-devices`: why @dev cannot be an extra device of a guest (whatever its GPU),
 * NULL when it can; a function of one of @gpus (vxm_gpu_list_for_bus()) or a device in its
 * IOMMU group goes to the guest with that card. */
char *vxm_pci_extra_list_reason(VxmPciBus *bus, VxmHostNeeds *needs, GPtrArray *gpus,
                                VxmPciDevice *dev);

/* Every PCI device for `vxm list-devices --json`: {"address", "vendor", "device", "class",
 * "vendor_name", "device_name", "class_name", "iommu_group", "driver", "passable",
 * "reason"} (names, group, driver null when unknown; reason null when passable), sorted. */
JsonNode *vxm_pci_extra_list_json(VxmPciBus *bus, VxmHostNeeds *needs, GPtrArray *gpus);

G_END_DECLS
