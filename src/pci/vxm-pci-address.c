#include "vxm-pci-address.h"

#include <string.h>

#include "common/vxm-error.h"

/* Reads 1..@max_digits hex digits; returns the count read, 0 on none or too many. */
static guint
parse_hex(const char *p, guint max_digits, guint *out)
{
  guint n = 0, value = 0;

  while (g_ascii_isxdigit(p[n])) {
    if (n == max_digits)
      return 0;
    value = value * 16 + (guint)g_ascii_xdigit_value(p[n]);
    n++;
  }
  *out = value;
  return n;
}

static gboolean
parse_strict(const char *s, VxmPciAddress *out)
{
  guint a, b, c, d, n;
  gboolean has_domain;
  const char *p = s;

  /* count the colons to tell "dom:bus:dev.fn" from "bus:dev.fn" */
  has_domain = strchr(s, ':') != strrchr(s, ':');

  if (has_domain) {
    if ((n = parse_hex(p, 4, &a)) == 0 || p[n] != ':')
      return FALSE;
    p += n + 1;
  } else {
    a = 0;
  }
  if ((n = parse_hex(p, 2, &b)) == 0 || p[n] != ':')
    return FALSE;
  p += n + 1;
  if ((n = parse_hex(p, 2, &c)) == 0 || p[n] != '.')
    return FALSE;
  p += n + 1;
  if ((n = parse_hex(p, 1, &d)) == 0 || p[n] != '\0')
    return FALSE;
  if (c > 0x1f || d > 7)
    return FALSE;
  out->domain = (guint16)a;
  out->bus = (guint8)b;
  out->device = (guint8)c;
  out->function = (guint8)d;
  return TRUE;
}

gboolean
vxm_pci_address_parse(const char *text, VxmPciAddress *out, GError **error)
{
  g_autofree char *copy = NULL;

  if (text == NULL || *text == '\0') {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "empty PCI address: give one like 0000:01:00.0 (see vxm list-gpus)");
    return FALSE;
  }
  copy = g_strstrip(g_strdup(text));
  if (!parse_strict(copy, out)) {
    g_autofree char *shown = g_strescape(text, NULL);
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "'%s' is not a PCI address: expected DOMAIN:BUS:DEVICE.FUNCTION in hex, like "
                "0000:01:00.0 or 01:00.0 (device 00-1f, function 0-7; see vxm list-gpus)",
                shown);
    return FALSE;
  }
  return TRUE;
}

char *
vxm_pci_address_to_string(const VxmPciAddress *addr)
{
  return g_strdup_printf("%04x:%02x:%02x.%x", addr->domain, addr->bus, addr->device,
                         addr->function);
}

char *
vxm_pci_address_normalize(const char *text, GError **error)
{
  VxmPciAddress addr;

  if (!vxm_pci_address_parse(text, &addr, error))
    return NULL;
  return vxm_pci_address_to_string(&addr);
}

gboolean
vxm_pci_address_same_slot(const VxmPciAddress *a, const VxmPciAddress *b)
{
  return a->domain == b->domain && a->bus == b->bus && a->device == b->device;
}

int
vxm_pci_address_compare(const VxmPciAddress *a, const VxmPciAddress *b)
{
  if (a->domain != b->domain)
    return a->domain < b->domain ? -1 : 1;
  if (a->bus != b->bus)
    return a->bus < b->bus ? -1 : 1;
  if (a->device != b->device)
    return a->device < b->device ? -1 : 1;
  if (a->function != b->function)
    return a->function < b->function ? -1 : 1;
  return 0;
}
