/* vxm-pci-bars: a PCI function's memory BARs as sysfs shows them.
 *
 * `resource` holds one "start end flags" line per resource (lines 0-5 the BARs); a BAR the
 * PCIe Resizable BAR capability covers also has `resourceN_resize`, a bitmap of the sizes it
 * can take (bit 0 = 1 MiB, bit N = 2^N MiB; Documentation/ABI/testing/sysfs-bus-pci, Linux
 * 6.1 and later). The size a guest sees is the current one: QEMU's vfio-pci offers the
 * guest no other.
 */
#pragma once

#include "common/vxm-hostfs.h"

G_BEGIN_DECLS

#define VXM_PCI_BAR_COUNT 6

typedef struct {
  guint index;           /* 0-5 */
  guint64 size;          /* bytes, now */
  gboolean is_64bit;     /* IORESOURCE_MEM_64: mapped above 4 GiB by the guest's firmware */
  gboolean prefetchable; /* IORESOURCE_PREFETCH */
  guint64 resize_sizes;  /* resourceN_resize's bitmap; 0: not resizable (or no such file) */
} VxmPciBar;

/* The assigned memory BARs of the device whose sysfs folder is @device_dir (a host path).
 * NULL with an error when `resource` cannot be read. */
GArray *vxm_pci_bars_read(VxmHostfs *hostfs, const char *device_dir,
                          GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The largest size @bar's resize bitmap offers, 0 when not resizable. */
guint64 vxm_pci_bar_max_resize(const VxmPciBar *bar);

/* "256 MiB", "32 GiB": a BAR size (a power of two) for messages. */
char *vxm_pci_bar_size_to_string(guint64 bytes);

G_END_DECLS
