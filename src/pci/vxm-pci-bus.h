/* vxm-pci-bus: a snapshot of the host's PCI devices and IOMMU groups.
 *
 * Every device under VXM_HOST_SYS_PCI_DEVICES, sorted by address, with names from pci.ids
 * when the host has it, and the members of each IOMMU group from
 * VXM_HOST_SYS_IOMMU_GROUPS/N/devices. Take a new snapshot (or reload) after binding. */
#pragma once

#include <gio/gio.h>

#include "common/vxm-hostfs.h"
#include "pci/vxm-pci-device.h"
#include "pci/vxm-pci-ids.h"

G_BEGIN_DECLS

#define VXM_TYPE_PCI_BUS (vxm_pci_bus_get_type())
G_DECLARE_FINAL_TYPE(VxmPciBus, vxm_pci_bus, VXM, PCI_BUS, GObject)

/* Reads every device. A missing pci.ids only means no names; a missing PCI devices folder
 * is VXM_ERROR_NOT_FOUND naming it (a wrong --root). */
VxmPciBus *vxm_pci_bus_new(VxmHostfs *hostfs, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Reads only what the GPUs need: the functions of every slot with a display controller (and
 * of @address's slot, nullable), and the members of their IOMMU groups. Every question about
 * a GPU (vxm-gpu: functions, groups, roles, the passthrough policy) gets the same answer as
 * from the whole bus; other devices are simply not there. For vxm start, which must not wait
 * for a scan of every device. */
VxmPciBus *vxm_pci_bus_new_for_gpus(VxmHostfs *hostfs, const char *address,
                                    GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Reads everything again (a bus from vxm_pci_bus_new_for_gpus() keeps its scope). */
gboolean vxm_pci_bus_reload(VxmPciBus *self, GError **error) G_GNUC_WARN_UNUSED_RESULT;

VxmHostfs *vxm_pci_bus_get_hostfs(VxmPciBus *self);
/* Read at the first name asked (vxm_pci_ids_new_lazy()): no names when the host has none. */
VxmPciIds *vxm_pci_bus_get_ids(VxmPciBus *self);

/* Every device (VxmPciDevice), sorted by address. */
GPtrArray *vxm_pci_bus_get_devices(VxmPciBus *self);

/* The device at @address (any accepted form), or NULL. */
VxmPciDevice *vxm_pci_bus_lookup(VxmPciBus *self, const char *address);

/* TRUE when the IOMMU is on: VXM_HOST_SYS_IOMMU_GROUPS exists and holds groups. */
gboolean vxm_pci_bus_get_iommu_enabled(VxmPciBus *self);
/* Number of IOMMU groups. */
guint vxm_pci_bus_get_iommu_group_count(VxmPciBus *self);

/* The members (VxmPciDevice) of IOMMU group @group, sorted by address; empty when the group
 * does not exist. A member the device list lacks is loaded on its own. Transfer full:
 * g_ptr_array_unref() it. */
GPtrArray *vxm_pci_bus_get_iommu_group_members(VxmPciBus *self, gint group);

G_END_DECLS
