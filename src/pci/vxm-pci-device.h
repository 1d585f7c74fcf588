/* vxm-pci-device: one PCI function as sysfs shows it (ids, class, driver, IOMMU group, NUMA
 * node, reset methods, DRM nodes), read through the host root. A snapshot: call
 * vxm_pci_device_reload() after anything may have changed it (binding, unbinding). */
#pragma once

#include <gio/gio.h>

#include "common/vxm-hostfs.h"
#include "pci/vxm-pci-address.h"
#include "pci/vxm-pci-ids.h"

G_BEGIN_DECLS

#define VXM_TYPE_PCI_DEVICE (vxm_pci_device_get_type())
G_DECLARE_FINAL_TYPE(VxmPciDevice, vxm_pci_device, VXM, PCI_DEVICE, GObject)

/* Class codes (top 16 bits of the 24-bit class) the GPU rules care about. */
#define VXM_PCI_CLASS_DISPLAY_MASK 0xff00
#define VXM_PCI_CLASS_DISPLAY      0x0300 /* any 0x03xx: VGA, 3D, other display */
#define VXM_PCI_CLASS_VGA          0x0300
#define VXM_PCI_CLASS_HOST_BRIDGE  0x0600
#define VXM_PCI_CLASS_PCI_BRIDGE   0x0604

/* Loads the device at @address (any form vxm_pci_address_parse accepts). @ids may be NULL
 * (no names). A missing device is VXM_ERROR_NOT_FOUND "no PCI device 0000:05:00.0 ...". */
VxmPciDevice *vxm_pci_device_new(VxmHostfs *hostfs, const char *address, VxmPciIds *ids,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Reads every attribute again (the driver, driver_override, group change under binding). */
gboolean vxm_pci_device_reload(VxmPciDevice *self, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* "0000:01:00.0" */
const char *vxm_pci_device_get_address(VxmPciDevice *self);
const VxmPciAddress *vxm_pci_device_get_pci_address(VxmPciDevice *self);
/* The canonical host path, under its bridges: "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0"
 */
const char *vxm_pci_device_get_sysfs_path(VxmPciDevice *self);

guint16 vxm_pci_device_get_vendor_id(VxmPciDevice *self);
guint16 vxm_pci_device_get_device_id(VxmPciDevice *self);
/* FALSE when sysfs has no subsystem ids (then both ids read 0). */
gboolean vxm_pci_device_has_subsystem(VxmPciDevice *self);
guint16 vxm_pci_device_get_subsystem_vendor_id(VxmPciDevice *self);
guint16 vxm_pci_device_get_subsystem_device_id(VxmPciDevice *self);
/* The 24-bit class (0x030000) and its top 16 bits (0x0300). */
guint32 vxm_pci_device_get_class(VxmPciDevice *self);
guint16 vxm_pci_device_get_class_code(VxmPciDevice *self);
/* -1 when sysfs has no revision. */
gint vxm_pci_device_get_revision(VxmPciDevice *self);

/* The bound driver ("nvidia"), or NULL when unbound. */
const char *vxm_pci_device_get_driver(VxmPciDevice *self);
/* driver_override, or NULL when unset ("(null)") or absent. */
const char *vxm_pci_device_get_driver_override(VxmPciDevice *self);
/* Set when driver_override could not be read in time: the device is busy in the kernel (an
 * unbind waiting for a holder of its /dev/vfio/N, or a hung driver), and what is known of it
 * is all but its override. "0000:01:00.0 is busy in the kernel: an unbind is waiting for
 * process 4321 (...)"; NULL normally. */
const char *vxm_pci_device_get_busy(VxmPciDevice *self);
/* Whether sysfs has boot_vga (VGA-class devices only), and whether it reads 1. */
gboolean vxm_pci_device_has_boot_vga(VxmPciDevice *self);
gboolean vxm_pci_device_is_boot_vga(VxmPciDevice *self);
/* The IOMMU group number, or -1 when the device has none (IOMMU off). */
gint vxm_pci_device_get_iommu_group(VxmPciDevice *self);
/* -1 without NUMA. */
gint vxm_pci_device_get_numa_node(VxmPciDevice *self);
/* The reset methods in the kernel's order ("flr", "bus"), or NULL when sysfs has no
 * reset_method (an old kernel, or a device without any reset). */
const char *const *vxm_pci_device_get_reset_methods(VxmPciDevice *self);
/* DRM node names from the device's drm/ folder ("card1", "renderD128"), sorted; never NULL. */
const char *const *vxm_pci_device_get_drm_nodes(VxmPciDevice *self);

/* Names from pci.ids, NULL when unknown. */
const char *vxm_pci_device_get_vendor_name(VxmPciDevice *self);
const char *vxm_pci_device_get_device_name(VxmPciDevice *self);
const char *vxm_pci_device_get_subsystem_name(VxmPciDevice *self);
/* "USB controller"; NULL when neither pci.ids nor the built-in table knows the class. */
const char *vxm_pci_device_get_class_name(VxmPciDevice *self);
/* "NVIDIA Corporation GA102 [GeForce RTX 3080]", falling back to ids ("10de:2206"). */
char *vxm_pci_device_dup_display_name(VxmPciDevice *self);
/* "0000:00:14.0 (USB controller, 0c03)": how messages name a device. */
char *vxm_pci_device_dup_description(VxmPciDevice *self);

gboolean vxm_pci_device_is_display(VxmPciDevice *self);

/* Sorting GPtrArrays of devices by address. */
gint vxm_pci_device_compare(gconstpointer a, gconstpointer b);
gint vxm_pci_device_compare_ptr(gconstpointer a, gconstpointer b);

G_END_DECLS
