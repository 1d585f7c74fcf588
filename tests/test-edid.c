/* EDID parsing: identity, descriptors, dates, checksums, and agreement with edid-decode. */
#include <string.h>

#include "common/vxm-error.h"
#include "display/vxm-edid.h"
#include "vxm-test-util.h"

static GBytes *
load_edid(const char *name)
{
  g_autofree char *rel = g_strdup_printf("tests/data/edid/%s", name);
  g_autofree char *path = vxm_test_source_path(rel);
  g_autoptr(GError) error = NULL;
  char *data = NULL;
  gsize len = 0;

  g_file_get_contents(path, &data, &len, &error);
  g_assert_no_error(error);
  return g_bytes_new_take(data, len);
}

static VxmEdid *
parse_file(const char *name)
{
  g_autoptr(GBytes) bytes = load_edid(name);
  g_autoptr(GError) error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data(bytes, &len);
  VxmEdid *edid = vxm_edid_parse(data, len, &error);

  g_assert_no_error(error);
  return edid;
}

static void
test_identity(void)
{
  g_autoptr(VxmEdid) edid = parse_file("dell-u2720q.bin");
  g_autofree char *id = vxm_edid_identity(edid);

  g_assert_cmpstr(edid->manufacturer, ==, "DEL");
  g_assert_cmpuint(edid->product_code, ==, 41234);
  g_assert_cmpuint(edid->serial_number, ==, 12345);
  g_assert_cmpstr(edid->name, ==, "DELL U2720Q");
  g_assert_cmpstr(edid->serial, ==, "ABC123");
  g_assert_cmpuint(edid->week, ==, 12);
  g_assert_cmpuint(edid->year, ==, 2021);
  g_assert_false(edid->model_year);
  g_assert_cmpuint(edid->version, ==, 1);
  g_assert_cmpuint(edid->revision, ==, 4);
  g_assert_cmpuint(edid->extensions, ==, 0);
  g_assert_true(edid->checksum_ok);
  g_assert_cmpstr(id, ==, "DEL:41234:12345");
  g_assert_true(vxm_edid_matches(edid, "del", 41234, 12345));
  g_assert_false(vxm_edid_matches(edid, "DEL", 41234, 12346));
}

static void
test_model_year_and_text(void)
{
  g_autoptr(VxmEdid) aoc = parse_file("aoc-24g2.bin");
  g_autoptr(VxmEdid) sam = parse_file("samsung-old.bin");
  g_autoptr(VxmEdid) lg = parse_file("lg-27gl850.bin");
  g_autofree char *sam_desc = vxm_edid_describe(sam);

  g_assert_true(aoc->model_year);
  g_assert_cmpuint(aoc->week, ==, 0);
  g_assert_cmpuint(aoc->year, ==, 2019);
  g_assert_cmpstr(aoc->name, ==, "24G2W1G4");
  g_assert_null(aoc->serial);
  g_assert_cmpuint(g_strv_length(aoc->texts), ==, 1);
  g_assert_cmpstr(aoc->texts[0], ==, "AOC GAMING");

  /* no name descriptor: messages fall back to the PNP id and product code */
  g_assert_null(sam->name);
  g_assert_cmpuint(g_strv_length(sam->texts), ==, 2);
  g_assert_cmpstr(sam->texts[1], ==, "H1AK500000");
  g_assert_cmpstr(sam_desc, ==, "SAM 0x0317");
  g_assert_cmpuint(sam->revision, ==, 3);

  /* serial only as a string; one extension block */
  g_assert_cmpuint(lg->serial_number, ==, 0);
  g_assert_cmpstr(lg->serial, ==, "003NTXR5Q123");
  g_assert_cmpuint(lg->extensions, ==, 1);
  g_assert_true(lg->checksum_ok);
}

static void
test_bad_checksum_kept(void)
{
  g_autoptr(GBytes) bytes = load_edid("dell-u2720q.bin");
  g_autofree guint8 *copy = g_memdup2(g_bytes_get_data(bytes, NULL), 128);
  g_autoptr(VxmEdid) edid = NULL;
  g_autoptr(GError) error = NULL;

  copy[127] ^= 0x5a;
  edid = vxm_edid_parse(copy, 128, &error);
  g_assert_no_error(error);
  g_assert_false(edid->checksum_ok);
  /* the rest is still there, as the kernel keeps it */
  g_assert_cmpstr(edid->manufacturer, ==, "DEL");
  g_assert_cmpstr(edid->name, ==, "DELL U2720Q");
}

static void
test_refused(void)
{
  g_autoptr(GBytes) bytes = load_edid("dell-u2720q.bin");
  g_autofree guint8 *copy = g_memdup2(g_bytes_get_data(bytes, NULL), 128);
  g_autoptr(GError) error = NULL;
  VxmEdid *edid;

  edid = vxm_edid_parse(copy, 100, &error);
  g_assert_null(edid);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
  g_assert_nonnull(strstr(error->message, "100 bytes"));
  g_clear_error(&error);

  copy[1] = 0;
  edid = vxm_edid_parse(copy, 128, &error);
  g_assert_null(edid);
  g_assert_nonnull(strstr(error->message, "not an EDID"));
}

/* The serial string only in the CTA-861 extension's descriptors (several LG models) is read;
 * parsing only the base block does not see it. */
static void
test_cta_serial(void)
{
  g_autoptr(VxmEdid) edid = parse_file("lg-27gp850-cta-serial.bin");
  g_autoptr(GBytes) bytes = load_edid("lg-27gp850-cta-serial.bin");
  g_autoptr(VxmEdid) base_only = NULL;

  g_assert_cmpstr(edid->name, ==, "LG ULTRAGEAR");
  g_assert_cmpstr(edid->serial, ==, "23362B001483");
  g_assert_cmpuint(edid->extensions, ==, 1);
  base_only = vxm_edid_parse(g_bytes_get_data(bytes, NULL), 128, NULL);
  g_assert_null(base_only->serial);
}

/* What edid-decode says about @path: the lines naming what vxm parses. */
static char *
edid_decode(const char *path)
{
  g_autofree char *tool = g_find_program_in_path("edid-decode");
  const char *argv[] = {tool, path, NULL};
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  vxm_test_run(argv, NULL, &out, &err);
  return g_steal_pointer(&out);
}

/* The same lines, from vxm's parse, in edid-decode's words. */
static void expect_line(const char *decoded, const char *name, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

static void
expect_line(const char *decoded, const char *name, const char *format, ...)
{
  va_list ap;
  g_autofree char *line = NULL;

  va_start(ap, format);
  line = g_strdup_vprintf(format, ap);
  va_end(ap);
  if (strstr(decoded, line) == NULL)
    g_error("%s: edid-decode does not say \"%s\":\n%s", name, line, decoded);
}

static void
compare_with_edid_decode(const char *name, const guint8 *data, gsize len)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autofree char *decoded = NULL;
  g_autoptr(VxmEdid) edid = NULL;
  g_autoptr(GError) error = NULL;
  guint8 sum = 0;

  g_file_set_contents(path, (const char *)data, len, &error);
  g_assert_no_error(error);
  decoded = edid_decode(path);
  edid = vxm_edid_parse(data, len, &error);
  g_assert_no_error(error);

  expect_line(decoded, name, "EDID Structure Version & Revision: %u.%u\n", edid->version,
              edid->revision);
  expect_line(decoded, name, "    Manufacturer: %s\n", edid->manufacturer);
  expect_line(decoded, name, "    Model: %u\n", edid->product_code);
  if (edid->serial_number != 0)
    expect_line(decoded, name, "    Serial Number: %u\n", edid->serial_number);
  else
    g_assert_null(strstr(decoded, "    Serial Number:"));
  if (edid->model_year)
    expect_line(decoded, name, "    Model year: %u\n", edid->year);
  else if (edid->week != 0)
    expect_line(decoded, name, "    Made in: week %u of %u\n", edid->week, edid->year);
  if (edid->name != NULL)
    expect_line(decoded, name, "Display Product Name: '%s'\n", edid->name);
  else
    g_assert_null(strstr(decoded, "Display Product Name:"));
  if (edid->serial != NULL)
    expect_line(decoded, name, "Display Product Serial Number: '%s'\n", edid->serial);
  for (guint i = 0; edid->texts[i] != NULL; i++)
    expect_line(decoded, name, "Alphanumeric Data String: '%s'\n", edid->texts[i]);
  if (edid->extensions > 0)
    expect_line(decoded, name, "  Extension blocks: %u\n", edid->extensions);
  /* the preferred mode (Looking Glass's auto size): edid-decode's first detailed timing */
  g_assert_cmpuint(edid->preferred_width, >, 0);
  expect_line(decoded, name, "    DTD 1: %5ux%-5u", edid->preferred_width, edid->preferred_height);
  for (guint i = 0; i < 127; i++)
    sum += data[i];
  if (edid->checksum_ok)
    expect_line(decoded, name, "Checksum: 0x%02x\n", data[127]);
  else
    expect_line(decoded, name, "Checksum: 0x%02x (should be 0x%02x)\n", data[127],
                (guint8)(0x100 - sum));
  vxm_test_rm_rf(dir);
}

static void
test_odd_text(void)
{
  g_autofree char *tool = g_find_program_in_path("edid-decode");
  g_autoptr(GBytes) bytes = load_edid("dell-u2720q.bin");
  g_autofree guint8 *copy = g_memdup2(g_bytes_get_data(bytes, NULL), 128);
  g_autoptr(VxmEdid) edid = NULL;
  g_autoptr(GError) error = NULL;

  /* the name descriptor (the third, at 90) with a control byte and no terminator */
  g_assert_cmpuint(copy[90 + 3], ==, 0xfc);
  memcpy(copy + 90 + 5,
         "AB\x01"
         "CDEFGHIJKLM",
         13);
  edid = vxm_edid_parse(copy, 128, &error);
  g_assert_no_error(error);
  /* a control byte ends the string, as in edid-decode: it is not text */
  g_assert_cmpstr(edid->name, ==, "AB");
  g_assert_false(edid->checksum_ok);
  g_clear_pointer(&edid, vxm_edid_free);

  /* a string that ends at a NUL (some monitors): no "?" for the padding */
  memcpy(copy + 90 + 5, "23362B001483\0", 13);
  edid = vxm_edid_parse(copy, 128, &error);
  g_assert_cmpstr(edid->name, ==, "23362B001483");
  g_clear_pointer(&edid, vxm_edid_free);
  if (tool != NULL)
    compare_with_edid_decode("nul-ended-name.bin", copy, 128);

  /* an empty name (all NULs) is empty, and described by the ids */
  memset(copy + 90 + 5, 0, 13);
  edid = vxm_edid_parse(copy, 128, &error);
  g_assert_cmpstr(edid->name, ==, "");
  {
    g_autofree char *desc = vxm_edid_describe(edid);
    g_assert_cmpstr(desc, ==, "DEL 0xa112");
  }
}

static void
test_edid_decode(void)
{
  static const char *const files[] = {"dell-u2720q.bin", "lg-27gl850.bin", "aoc-24g2.bin",
                                      "samsung-old.bin", "lg-27gp850-cta-serial.bin"};
  g_autofree char *tool = g_find_program_in_path("edid-decode");

  if (tool == NULL) {
    if (g_strcmp0(g_getenv("CI"), "true") == 0)
      g_test_fail_printf("edid-decode is missing: CI installs it (tools/packages.txt)");
    else
      g_test_skip("edid-decode is not installed (apt-get install edid-decode)");
    return;
  }
  for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
    g_autoptr(GBytes) bytes = load_edid(files[i]);
    gsize len;
    const guint8 *data = g_bytes_get_data(bytes, &len);
    g_autofree guint8 *bad = g_memdup2(data, len);

    compare_with_edid_decode(files[i], data, len);
    /* and with a broken checksum: both flag it, both keep the rest */
    bad[127] ^= 0x01;
    compare_with_edid_decode("bad-checksum.bin", bad, len);
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/display/edid/identity", test_identity);
  g_test_add_func("/vxm/display/edid/model-year-and-text", test_model_year_and_text);
  g_test_add_func("/vxm/display/edid/bad-checksum-kept", test_bad_checksum_kept);
  g_test_add_func("/vxm/display/edid/refused", test_refused);
  g_test_add_func("/vxm/display/edid/odd-text", test_odd_text);
  g_test_add_func("/vxm/display/edid/cta-serial", test_cta_serial);
  g_test_add_func("/vxm/display/edid/edid-decode", test_edid_decode);
  return g_test_run();
}
