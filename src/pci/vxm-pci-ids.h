/* vxm-pci-ids: names for PCI ids, from the pci.ids file under the host root.
 *
 * The file (~1.3 MB) is read once and split into lines in place; only vendor and class lines
 * are indexed. Device, subsystem and subclass names are found on demand by walking the lines
 * of their vendor (or class), so loading costs one pass over the file and a lookup costs a
 * binary search plus a short walk. Malformed lines are skipped, never fatal: the parser
 * accepts any bytes (see fuzz/fuzz-pci-ids.c). Names returned are owned by the VxmPciIds.
 * Not thread-safe; share one per thread.
 */
#pragma once

#include <gio/gio.h>

#include "common/vxm-hostfs.h"

G_BEGIN_DECLS

#define VXM_TYPE_PCI_IDS (vxm_pci_ids_get_type())
G_DECLARE_FINAL_TYPE(VxmPciIds, vxm_pci_ids, VXM, PCI_IDS, GObject)

/* Parses a pci.ids text from memory (copied). Never fails: bad lines are ignored. */
VxmPciIds *vxm_pci_ids_new_from_data(const char *data, gsize length);

/* Loads VXM_HOST_PCI_IDS, else VXM_HOST_PCI_IDS_HWDATA, under @hostfs's root.
 * VXM_ERROR_NOT_FOUND when neither exists (callers usually go on without names). */
VxmPciIds *vxm_pci_ids_load(VxmHostfs *hostfs, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* A database read on its first lookup (names are for people: a command that never shows one
 * never reads the file). A missing file gives no names, as with vxm_pci_ids_load(). */
VxmPciIds *vxm_pci_ids_new_lazy(VxmHostfs *hostfs);

/* The host path the ids were loaded from, or NULL when parsed from memory. */
const char *vxm_pci_ids_get_source(VxmPciIds *self);

/* Number of vendors indexed (for tests and the benchmark). */
guint vxm_pci_ids_get_vendor_count(VxmPciIds *self);

/* "NVIDIA Corporation", or NULL when unknown. */
const char *vxm_pci_ids_get_vendor_name(VxmPciIds *self, guint16 vendor_id);
/* "GA102 [GeForce RTX 3080]", or NULL when unknown. */
const char *vxm_pci_ids_get_device_name(VxmPciIds *self, guint16 vendor_id, guint16 device_id);
/* The subsystem's name, e.g. "GeForce RTX 3080 Gaming OC", or NULL when unknown. */
const char *vxm_pci_ids_get_subsystem_name(VxmPciIds *self, guint16 vendor_id, guint16 device_id,
                                           guint16 subvendor_id, guint16 subdevice_id);

/* The name of a class code's top 16 bits (0x0c03 -> "USB controller"): the subclass name
 * from pci.ids, else the class name, else a built-in table of the common ones. @self may be
 * NULL (built-in table only). NULL when nothing knows the code. */
const char *vxm_pci_ids_get_class_name(VxmPciIds *self, guint16 class_code);

G_END_DECLS
