/* vxm-input-bitmap: the kernel's capability bitmaps (see the header). */
#include "vxm-input-bitmap.h"

#include <string.h>

#include "common/vxm-error.h"

VxmInputBitmap *
vxm_input_bitmap_new(void)
{
  VxmInputBitmap *bitmap = g_new0(VxmInputBitmap, 1);

  bitmap->words = g_array_new(FALSE, TRUE, sizeof(guint64));
  return bitmap;
}

void
vxm_input_bitmap_free(VxmInputBitmap *bitmap)
{
  if (bitmap == NULL)
    return;
  g_array_unref(bitmap->words);
  g_free(bitmap);
}

static void
bad_text(GError **error, const char *text, const char *word, const char *why)
{
  g_autofree char *stripped = g_strstrip(g_strdup(text));
  g_autofree char *quoted = g_strescape(stripped, NULL);

  g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "capability bitmap \"%s\": word \"%s\" %s",
              quoted, word, why);
}

VxmInputBitmap *
vxm_input_bitmap_parse(const char *text, guint word_bits, GError **error)
{
  g_autoptr(VxmInputBitmap) bitmap = vxm_input_bitmap_new();
  g_auto(GStrv) tokens = NULL;
  g_autoptr(GPtrArray) words = g_ptr_array_new();
  guint digits = word_bits / 4;

  g_return_val_if_fail(text != NULL, NULL);
  if (word_bits != 32 && word_bits != 64) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "capability bitmap word size %u is not 32 or 64", word_bits);
    return NULL;
  }
  tokens = g_strsplit_set(text, " \t\n", -1);
  for (gsize i = 0; tokens[i] != NULL; i++)
    if (tokens[i][0] != '\0')
      g_ptr_array_add(words, tokens[i]);
  /* most significant first: the last token is word 0 */
  for (guint k = 0; k < words->len; k++) {
    const char *word = g_ptr_array_index(words, words->len - 1 - k);
    gsize len = strlen(word);
    guint64 value = 0;

    if (len > digits) {
      g_autofree char *why = g_strdup_printf("is wider than %u bits", word_bits);
      bad_text(error, text, word, why);
      return NULL;
    }
    for (gsize j = 0; j < len; j++) {
      int v = g_ascii_xdigit_value(word[j]);
      if (v < 0) {
        bad_text(error, text, word, "is not hexadecimal");
        return NULL;
      }
      value = (value << 4) | (guint64)v;
    }
    if (word_bits == 64) {
      g_array_append_val(bitmap->words, value);
    } else {
      /* two 32-bit kernel words make one of ours */
      if (k % 2 == 0) {
        g_array_append_val(bitmap->words, value);
      } else {
        g_array_index(bitmap->words, guint64, k / 2) |= value << 32;
      }
    }
  }
  return g_steal_pointer(&bitmap);
}

gboolean
vxm_input_bitmap_test(const VxmInputBitmap *bitmap, guint bit)
{
  guint index = bit / 64;

  if (bitmap == NULL || index >= bitmap->words->len)
    return FALSE;
  return (g_array_index(bitmap->words, guint64, index) >> (bit % 64)) & 1;
}

void
vxm_input_bitmap_set(VxmInputBitmap *bitmap, guint bit)
{
  guint index = bit / 64;

  if (index >= bitmap->words->len)
    g_array_set_size(bitmap->words, index + 1);
  g_array_index(bitmap->words, guint64, index) |= G_GUINT64_CONSTANT(1) << (bit % 64);
}

guint
vxm_input_bitmap_count_range(const VxmInputBitmap *bitmap, guint first, guint last)
{
  guint n = 0;

  for (guint bit = first; bit <= last; bit++)
    n += vxm_input_bitmap_test(bitmap, bit);
  return n;
}

char *
vxm_input_bitmap_to_string(const VxmInputBitmap *bitmap, guint word_bits)
{
  g_autoptr(GString) out = g_string_new(NULL);
  g_autoptr(GArray) words = g_array_new(FALSE, TRUE, sizeof(guint64));
  guint n;

  for (guint i = 0; i < bitmap->words->len; i++) {
    guint64 w = g_array_index(bitmap->words, guint64, i);
    if (word_bits == 64) {
      g_array_append_val(words, w);
    } else {
      guint64 lo = w & 0xffffffffu, hi = w >> 32;
      g_array_append_val(words, lo);
      g_array_append_val(words, hi);
    }
  }
  n = words->len;
  while (n > 1 && g_array_index(words, guint64, n - 1) == 0)
    n--;
  if (n == 0)
    return g_strdup("0");
  for (guint i = n; i > 0; i--)
    g_string_append_printf(out, "%s%" G_GINT64_MODIFIER "x", i == n ? "" : " ",
                           g_array_index(words, guint64, i - 1));
  return g_string_free(g_steal_pointer(&out), FALSE);
}

void
vxm_input_bitmap_to_bytes(const VxmInputBitmap *bitmap, guint8 *out, gsize len)
{
  memset(out, 0, len);
  for (gsize i = 0; i < len; i++)
    for (guint b = 0; b < 8; b++)
      if (vxm_input_bitmap_test(bitmap, (guint)(i * 8 + b)))
        out[i] |= (guint8)(1u << b);
}
