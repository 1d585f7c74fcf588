/* vxm-pci-address: PCI addresses (domain:bus:device.function), parsed and normalised. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint16 domain;
  guint8 bus;
  guint8 device;   /* 0..31 */
  guint8 function; /* 0..7 */
} VxmPciAddress;

/* Accepts "0000:01:00.0", "01:00.0", "1:0.0", any case, surrounding spaces allowed.
 * Anything else is VXM_ERROR_INVALID_ARGUMENT naming the text. */
gboolean vxm_pci_address_parse(const char *text, VxmPciAddress *out,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The kernel's form, "0000:01:00.0". */
char *vxm_pci_address_to_string(const VxmPciAddress *addr);

/* Normalises text to the kernel's form, or NULL with an error. */
char *vxm_pci_address_normalize(const char *text, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* TRUE when both sit in the same slot (domain, bus, device): functions of one card. */
gboolean vxm_pci_address_same_slot(const VxmPciAddress *a, const VxmPciAddress *b);

int vxm_pci_address_compare(const VxmPciAddress *a, const VxmPciAddress *b);

G_END_DECLS
