/* vxm-sim-pci: the simulated PCI bus, its drivers and the IOMMU.
 *
 * Reads [driver NAME] and [pci BDF] groups. Serves /sys/devices/pci*, /sys/bus/pci (devices,
 * drivers with bind, unbind, new_id, remove_id; drivers_probe, drivers_autoprobe, rescan),
 * /sys/kernel/iommu_groups, /sys/class/drm, /sys/module for the drivers' modules,
 * /dev/vfio and /dev/dri, and reacts to writes as the kernel's PCI core does
 * (drivers/pci/pci-driver.c, drivers/base/bus.c, vfio-pci's probe). All functions run with
 * the host lock held.
 */
#pragma once

#include "vxm-sim-host.h"

G_BEGIN_DECLS

VxmSimPci *vxm_sim_pci_new(VxmSimHost *host, VxmSimMachine *machine, gboolean iommu,
                           GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_sim_pci_free(VxmSimPci *pci);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmSimPci, vxm_sim_pci_free)

/* Lines of the state dump: "pci BDF driver=X override=Y ...", "driver NAME new_id ...",
 * "vfio-group N". */
void vxm_sim_pci_dump_state(VxmSimPci *pci, GPtrArray *lines);

/* Hot-unplug of a device (and the devices below it when it is a bridge), as if removed;
 * replug brings it back (and what was removed with it) and probes drivers like a hotplug.
 * 0 or -ENODEV (unknown or already in that state), -EINVAL (bad text). */
int vxm_sim_pci_unplug(VxmSimPci *pci, const char *bdf);
int vxm_sim_pci_replug(VxmSimPci *pci, const char *bdf);

/* The present device an operation on @path with @value names (its attribute folder, or the
 * BDF written to bind/unbind/drivers_probe), for the vanish fault; NULL when none. */
char *vxm_sim_pci_device_for_operation(VxmSimPci *pci, const char *path, const char *value,
                                       gssize value_len);

/* TRUE when @node is a driver's unbind whose driver waits for its users (machine key
 * unbind_waits_for, like NVIDIA's "Attempting to remove device with non-zero usage count")
 * and a simulated process holds one of those nodes or the device's DRM nodes. */
gboolean vxm_sim_pci_unbind_would_wait(VxmSimPci *pci, VxmSimNode *node, const char *buf,
                                       gsize len);

G_END_DECLS
