/* vxm-edid: EDID base block parsing (VESA E-EDID 1.3/1.4, section 3), and the display
 * descriptors of CTA-861 extension blocks. */
#include "vxm-edid.h"

#include <string.h>

#include "common/vxm-error.h"

static const guint8 edid_header[8] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};

#define DESCRIPTOR_NAME   0xfc
#define DESCRIPTOR_SERIAL 0xff
#define DESCRIPTOR_TEXT   0xfe

void
vxm_edid_free(VxmEdid *edid)
{
  if (edid == NULL)
    return;
  g_free(edid->name);
  g_free(edid->serial);
  g_strfreev(edid->texts);
  g_free(edid);
}

/* A descriptor's 13 text bytes as edid-decode reads them: printable ASCII and spaces up to
 * the 0x0A that ends the string; a NUL or any other control or non-ASCII byte ends it too
 * (monitors that end strings with NULs exist), it is never shown as text. */
static char *
descriptor_text(const guint8 *text)
{
  char out[14];
  gsize n = 0;

  for (gsize i = 0; i < 13 && (g_ascii_isgraph(text[i]) || text[i] == ' '); i++)
    out[n++] = (char)text[i];
  out[n] = '\0';
  return g_strdup(out);
}

/* One 18-byte descriptor; display descriptors (pixel clock 0, then 00, then the tag) give the
 * name, serial string and texts; the first of each kind wins. */
static void
read_descriptor(VxmEdid *edid, const guint8 *desc, GStrvBuilder *texts)
{
  if (desc[0] != 0 || desc[1] != 0 || desc[2] != 0)
    return;
  switch (desc[3]) {
  case DESCRIPTOR_NAME:
    if (edid->name == NULL)
      edid->name = descriptor_text(desc + 5);
    break;
  case DESCRIPTOR_SERIAL:
    if (edid->serial == NULL)
      edid->serial = descriptor_text(desc + 5);
    break;
  case DESCRIPTOR_TEXT: {
    g_autofree char *text = descriptor_text(desc + 5);
    g_strv_builder_add(texts, text);
    break;
  }
  default: break;
  }
}

VxmEdid *
vxm_edid_parse(const guint8 *data, gsize length, GError **error)
{
  g_autoptr(VxmEdid) edid = NULL;
  g_autoptr(GStrvBuilder) texts = g_strv_builder_new();
  guint16 mfg;
  guint8 sum = 0;

  if (length < VXM_EDID_BLOCK_SIZE) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "EDID too short: %" G_GSIZE_FORMAT " bytes, a base block has 128", length);
    return NULL;
  }
  if (memcmp(data, edid_header, sizeof edid_header) != 0) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                        "not an EDID: the block does not start with 00 ff ff ff ff ff ff 00");
    return NULL;
  }
  edid = g_new0(VxmEdid, 1);
  memcpy(edid->raw, data, VXM_EDID_BLOCK_SIZE);
  for (gsize i = 0; i < VXM_EDID_BLOCK_SIZE; i++)
    sum += data[i];
  edid->checksum_ok = sum == 0;

  /* bytes 8-9, big-endian: three 5-bit letters, 1 = 'A' */
  mfg = (guint16)(data[8] << 8 | data[9]);
  for (guint i = 0; i < 3; i++) {
    guint letter = (mfg >> (10 - 5 * i)) & 0x1f;
    edid->manufacturer[i] = letter >= 1 && letter <= 26 ? (char)('A' + letter - 1) : '?';
  }
  edid->product_code = (guint16)(data[10] | data[11] << 8);
  edid->serial_number = (guint32)data[12] | (guint32)data[13] << 8 | (guint32)data[14] << 16 |
                        (guint32)data[15] << 24;
  /* week 0xff: byte 17 is a model year (EDID 1.4); week 0: no week given */
  if (data[16] == 0xff) {
    edid->model_year = TRUE;
    edid->week = 0;
  } else {
    edid->week = data[16] <= 54 ? data[16] : 0;
  }
  edid->year = data[17] != 0 || data[16] != 0 ? 1990u + data[17] : 0;
  edid->version = data[18];
  edid->revision = data[19];
  edid->extensions = data[126];
  /* a detailed timing has a pixel clock; the first one is the preferred mode (EDID 1.3+) */
  if (data[54] != 0 || data[55] != 0) {
    edid->preferred_width = data[56] | (guint)(data[58] & 0xf0) << 4;
    edid->preferred_height = data[59] | (guint)(data[61] & 0xf0) << 4;
  }

  for (guint d = 0; d < 4; d++)
    read_descriptor(edid, data + 54 + 18 * d, texts);
  /* CTA-861 extensions (tag 02) have 18-byte descriptors from the offset in byte 2 to byte
   * 126; several LG monitors keep their serial string there */
  for (guint b = 1; b <= edid->extensions && (b + 1) * VXM_EDID_BLOCK_SIZE <= length; b++) {
    const guint8 *block = data + b * VXM_EDID_BLOCK_SIZE;
    guint offset = block[2];

    if (block[0] != 0x02 || offset < 4)
      continue;
    for (; offset + 18 <= VXM_EDID_BLOCK_SIZE - 1; offset += 18)
      read_descriptor(edid, block + offset, texts);
  }
  edid->texts = g_strv_builder_end(texts);
  return g_steal_pointer(&edid);
}

char *
vxm_edid_identity(const VxmEdid *edid)
{
  return g_strdup_printf("%s:%u:%u", edid->manufacturer, edid->product_code, edid->serial_number);
}

gboolean
vxm_edid_matches(const VxmEdid *edid, const char *manufacturer, guint product, guint32 serial)
{
  return g_ascii_strcasecmp(edid->manufacturer, manufacturer) == 0 &&
         edid->product_code == product && edid->serial_number == serial;
}

gboolean
vxm_edid_same_monitor(const VxmEdid *a, const VxmEdid *b)
{
  if (!vxm_edid_matches(a, b->manufacturer, b->product_code, b->serial_number))
    return FALSE;
  return a->serial == NULL || b->serial == NULL || strcmp(a->serial, b->serial) == 0;
}

char *
vxm_edid_describe(const VxmEdid *edid)
{
  if (edid->name != NULL && edid->name[0] != '\0')
    return g_strdup(edid->name);
  return g_strdup_printf("%s 0x%04x", edid->manufacturer, edid->product_code);
}
