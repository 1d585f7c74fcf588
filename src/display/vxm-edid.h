/* vxm-edid: a monitor's EDID base block, parsed.
 *
 * What identifies a monitor (manufacturer PNP id, product code, serial number) and what a
 * person recognises it by (the display name, serial string and text descriptors, week and year
 * of manufacture or model year), with the version, the extension count and whether the
 * checksum holds, and the preferred mode (the first detailed timing). A bad checksum is flagged,
 * not fatal: the rest is kept, as the kernel and edid-decode do. Strings are read as
 * edid-decode reads them (they end at 0x0A, a NUL or any other control byte). Of the
 * extensions, only the display descriptors of CTA-861 blocks are read (a serial string kept
 * there); @raw holds the base block.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VXM_EDID_BLOCK_SIZE 128

typedef struct {
  char manufacturer[4];  /* "DEL": three letters from the 5-bit PNP code */
  guint16 product_code;  /* little-endian bytes 10-11 */
  guint32 serial_number; /* little-endian bytes 12-15; 0 when the monitor gives none */
  guint week;            /* 1-54, or 0 when not given (and for a model year) */
  guint year;            /* year of manufacture or model year; 0 when not given */
  gboolean model_year;   /* @year is a model year (week byte 0xFF) */
  guint version;         /* 1 */
  guint revision;        /* 3 or 4 */
  char *name;            /* display name descriptor 0xFC, or NULL */
  char *serial;          /* serial string descriptor 0xFF, or NULL */
  GStrv texts;           /* text descriptors 0xFE, in order; never NULL */
  guint extensions;      /* byte 126 */
  gboolean checksum_ok;  /* the 128 bytes sum to 0 mod 256 */
  guint preferred_width; /* the first detailed timing (the preferred mode); 0 when none */
  guint preferred_height;
  guint8 raw[VXM_EDID_BLOCK_SIZE];
} VxmEdid;

/* Parses the base block at the start of @data (@length may include extensions). Fails
 * (PROTOCOL) on fewer than 128 bytes or a wrong header; a bad checksum is only flagged. */
VxmEdid *vxm_edid_parse(const guint8 *data, gsize length, GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_edid_free(VxmEdid *edid);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmEdid, vxm_edid_free)

/* "DEL:41234:12345": manufacturer, product code and serial number, the form the VM config's
 * `monitor` key takes. */
char *vxm_edid_identity(const VxmEdid *edid);

/* TRUE when @a and @b name the same monitor (manufacturer, product, serial number and, when
 * both have one, the serial string). */
gboolean vxm_edid_same_monitor(const VxmEdid *a, const VxmEdid *b);

/* TRUE when @edid is the monitor named by @manufacturer, @product and @serial. */
gboolean vxm_edid_matches(const VxmEdid *edid, const char *manufacturer, guint product,
                          guint32 serial);

/* "DELL U2720Q" or, without a name descriptor, "DEL 0xa112": for messages. */
char *vxm_edid_describe(const VxmEdid *edid);

G_END_DECLS
