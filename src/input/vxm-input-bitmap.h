/* vxm-input-bitmap: the kernel's capability bitmaps of an input device.
 *
 * /sys/class/input/inputN/capabilities/{ev,key,rel,abs,sw,...} print a bitmap as hexadecimal
 * words of the kernel's unsigned long, separated by spaces, the most significant word first,
 * with leading zero words left out ("120013", "3 0 0 0 0 0 0 0 0 fffffffffffffffe"). A word
 * has VXM_INPUT_BITMAP_WORD_BITS bits on this machine (64 on x86_64); the parser takes the
 * width so tests can read a 32-bit kernel's format too.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VXM_INPUT_BITMAP_WORD_BITS ((guint)(sizeof(unsigned long) * 8))

typedef struct {
  GArray *words; /* guint64, least significant word first */
} VxmInputBitmap;

VxmInputBitmap *vxm_input_bitmap_new(void);
void vxm_input_bitmap_free(VxmInputBitmap *bitmap);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmInputBitmap, vxm_input_bitmap_free)

/* Parses @text as the kernel prints it with @word_bits-bit words (32 or 64). Surrounding
 * white space and a trailing newline are ignored; an empty text is an empty bitmap. A word
 * wider than @word_bits or anything but hex digits is an error quoting the text. */
VxmInputBitmap *vxm_input_bitmap_parse(const char *text, guint word_bits,
                                       GError **error) G_GNUC_WARN_UNUSED_RESULT;

gboolean vxm_input_bitmap_test(const VxmInputBitmap *bitmap, guint bit);
void vxm_input_bitmap_set(VxmInputBitmap *bitmap, guint bit);
/* Set bits in [@first, @last]. */
guint vxm_input_bitmap_count_range(const VxmInputBitmap *bitmap, guint first, guint last);
/* The kernel's text for it with @word_bits-bit words ("0" when empty). */
char *vxm_input_bitmap_to_string(const VxmInputBitmap *bitmap, guint word_bits);
/* Bytes as EVIOCGBIT fills them (little-endian bit order), @len bytes. */
void vxm_input_bitmap_to_bytes(const VxmInputBitmap *bitmap, guint8 *out, gsize len);

G_END_DECLS
