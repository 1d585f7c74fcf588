/* Fuzz target: the pci.ids parser (VxmPciIds) on arbitrary bytes, then lookups of the ids the
 * input itself mentions, so the on-demand walks over device and subsystem lines run on the
 * same damaged text the index was built from. */
#include <stdint.h>
#include <string.h>

#include "pci/vxm-pci-ids.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Up to @digits hex digits at @p (stopping at @end); -1 when none. */
static gint
hex_at(const uint8_t *p, const uint8_t *end, guint digits)
{
  gint value = 0;
  guint n = 0;

  while (n < digits && p + n < end && g_ascii_isxdigit(p[n])) {
    value = value * 16 + g_ascii_xdigit_value(p[n]);
    n++;
  }
  return n > 0 ? value : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autoptr(VxmPciIds) ids = vxm_pci_ids_new_from_data((const char *)data, size);
  const uint8_t *p = data;
  const uint8_t *end = data + size;
  gint vendor = 0, device = 0, klass = 0;
  guint lookups = 0;

  (void)vxm_pci_ids_get_vendor_count(ids);
  (void)vxm_pci_ids_get_vendor_name(ids, 0xffff);
  (void)vxm_pci_ids_get_class_name(ids, 0x0300);
  while (p < end && lookups < 4096) {
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    const uint8_t *line_end = nl != NULL ? nl : end;
    gint id;

    if (p[0] == 'C' && p + 2 < line_end && (id = hex_at(p + 2, line_end, 2)) >= 0) {
      klass = id;
      (void)vxm_pci_ids_get_class_name(ids, (guint16)(klass << 8));
    } else if (p[0] == '\t' && p + 1 < line_end && p[1] == '\t') {
      gint sv = hex_at(p + 2, line_end, 4);
      gint sd = p + 7 < line_end ? hex_at(p + 7, line_end, 4) : -1;

      if (sv >= 0 && sd >= 0)
        (void)vxm_pci_ids_get_subsystem_name(ids, (guint16)vendor, (guint16)device, (guint16)sv,
                                             (guint16)sd);
    } else if (p[0] == '\t' && (id = hex_at(p + 1, line_end, 4)) >= 0) {
      device = id;
      (void)vxm_pci_ids_get_device_name(ids, (guint16)vendor, (guint16)device);
      (void)vxm_pci_ids_get_class_name(ids, (guint16)((klass << 8) | (id & 0xff)));
    } else if ((id = hex_at(p, line_end, 4)) >= 0) {
      vendor = id;
      (void)vxm_pci_ids_get_vendor_name(ids, (guint16)vendor);
    }
    lookups++;
    p = line_end + 1;
  }
  return 0;
}
