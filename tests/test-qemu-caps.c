/* QEMU capabilities: the real binary's probe, the cache and its invalidation, the parser. */
#include <string.h>
#include <sys/stat.h>

#include "common/vxm-error.h"
#include "vm/vxm-qemu-caps.h"
#include "vxm-test-util.h"

/* The real QEMU is part of the test set-up; in CI its absence is a failure. */
static char *
require_qemu(void)
{
  char *path = g_find_program_in_path("qemu-system-x86_64");

  if (path == NULL) {
    if (g_strcmp0(g_getenv("CI"), "true") == 0)
      g_error("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)");
    g_test_skip("qemu-system-x86_64 is not installed");
  }
  return path;
}

static void
assert_windows_guest_caps(const VxmQemuCaps *caps)
{
  const char *q35 = vxm_qemu_caps_resolve_machine(caps, "q35");

  g_assert_nonnull(q35);
  g_assert_true(g_str_has_prefix(q35, "pc-q35-"));
  g_assert_true(vxm_qemu_caps_has_machine(caps, q35));
  g_assert_true(vxm_qemu_caps_has_type(caps, "vfio-pci"));
  g_assert_true(vxm_qemu_caps_has_type(caps, "pcie-root-port"));
  g_assert_true(vxm_qemu_caps_has_type(caps, "tpm-crb"));
  g_assert_true(vxm_qemu_caps_has_type(caps, "input-linux"));
  g_assert_true(vxm_qemu_caps_has_type(caps, "memory-backend-memfd"));
  g_assert_true(vxm_qemu_caps_has_type(caps, "ivshmem-plain"));
  g_assert_true(vxm_qemu_caps_has_type(caps, "virtio-blk-pci"));
  g_assert_true(vxm_qemu_caps_has_type(caps, "ich9-intel-hda"));
  g_assert_false(vxm_qemu_caps_has_type(caps, "no-such-device"));
  g_assert_true(vxm_qemu_caps_has_accel(caps, "tcg"));
  g_assert_true(vxm_qemu_caps_has_accel(caps, "kvm"));
  g_assert_true(vxm_qemu_caps_has_audiodev(caps, "none"));
  g_assert_true(vxm_qemu_caps_has_machine_prop(caps, "smm"));
  g_assert_true(vxm_qemu_caps_has_option(caps, "sandbox"));
  g_assert_true(vxm_qemu_caps_version_at_least(caps, 7, 0));
}

static void
test_probe_real(void)
{
  g_autofree char *qemu = require_qemu();
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQemuCaps) caps = NULL;

  if (qemu == NULL)
    return;
  caps = vxm_qemu_caps_probe("qemu-system-x86_64", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(caps->binary, ==, qemu);
  g_assert_cmpuint(caps->size, >, 0);
  assert_windows_guest_caps(caps);
  g_test_message("probe took %.3f s (QEMU %s)", caps->probe_seconds, caps->version);
}

/* A reader slower than QEMU (a loaded machine): QEMU's answers outgrow the pipe and wait in
 * QEMU's buffer. The probe still gets every one of them, because it asks QEMU to quit only
 * after the last answer came; a quit sent with the requests made QEMU exit with the rest
 * unwritten, and the probe failed ("stopped before its command-line options"). */
static void
test_probe_slow_reader(void)
{
  g_autofree char *qemu = require_qemu();
  g_autofree char *slow = vxm_test_build_path("tests/vxm-test-slow-qemu");
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQemuCaps) caps = NULL;

  if (qemu == NULL)
    return;
  caps = vxm_qemu_caps_probe(slow, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(caps->binary, ==, slow);
  assert_windows_guest_caps(caps);
  g_test_message("probe through a slow reader took %.3f s", caps->probe_seconds);
}

/* The second get is served from the cache file; the JSON round trip keeps every fact. */
static void
test_cache_hit(void)
{
  g_autofree char *qemu = require_qemu();
  g_autofree char *dir = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQemuCaps) first = NULL;
  g_autoptr(VxmQemuCaps) second = NULL;
  g_autoptr(JsonNode) j1 = NULL;
  g_autoptr(JsonNode) j2 = NULL;
  g_autoptr(GDir) listing = NULL;
  const char *name;
  guint before;

  if (qemu == NULL)
    return;
  dir = vxm_test_mkdtemp();
  before = vxm_qemu_caps_probe_count();
  first = vxm_qemu_caps_get(qemu, dir, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(vxm_qemu_caps_probe_count(), ==, before + 1);
  second = vxm_qemu_caps_get("qemu-system-x86_64", dir, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(vxm_qemu_caps_probe_count(), ==, before + 1);
  assert_windows_guest_caps(second);
  j1 = vxm_qemu_caps_to_json(first);
  j2 = vxm_qemu_caps_to_json(second);
  g_assert_true(json_node_equal(j1, j2));

  listing = g_dir_open(dir, 0, NULL);
  name = g_dir_read_name(listing);
  g_assert_nonnull(name);
  g_assert_true(g_str_has_prefix(name, "qemu-caps-"));
  g_assert_true(g_str_has_suffix(name, ".json"));
  vxm_test_rm_rf(dir);
}

static char *
only_file_in(const char *dir)
{
  g_autoptr(GDir) listing = g_dir_open(dir, 0, NULL);
  const char *name;

  g_assert_nonnull(listing);
  name = g_dir_read_name(listing);
  g_assert_nonnull(name);
  g_assert_null(g_dir_read_name(listing));
  return g_build_filename(dir, name, NULL);
}

/* Rewrites one member of the cache entry, as if the binary had been different when probed. */
static void
edit_cache(const char *file, const char *member, gint64 delta)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(JsonGenerator) gen = json_generator_new();
  JsonObject *obj;

  g_assert_true(json_parser_load_from_file(parser, file, NULL));
  obj = json_node_get_object(json_parser_get_root(parser));
  json_object_set_int_member(obj, member, json_object_get_int_member(obj, member) + delta);
  json_generator_set_root(gen, json_parser_get_root(parser));
  g_assert_true(json_generator_to_file(gen, file, NULL));
}

/* A QEMU upgrade changes the binary's mtime (or size): a cache entry made for another mtime
 * is not used. (The real binary's mtime cannot be changed by a test, and a copy elsewhere
 * does not find its modules, so the entry is aged instead.) Corrupt entries are probed over. */
static void
test_cache_invalidation(void)
{
  g_autofree char *qemu = require_qemu();
  g_autofree char *dir = NULL;
  g_autofree char *file = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQemuCaps) c1 = NULL;
  g_autoptr(VxmQemuCaps) c2 = NULL;
  g_autoptr(VxmQemuCaps) c3 = NULL;
  g_autoptr(VxmQemuCaps) c4 = NULL;
  g_autoptr(VxmQemuCaps) c5 = NULL;
  struct stat st;
  guint before;

  if (qemu == NULL)
    return;
  dir = vxm_test_mkdtemp();
  g_assert_cmpint(stat(qemu, &st), ==, 0);
  before = vxm_qemu_caps_probe_count();
  c1 = vxm_qemu_caps_get(qemu, dir, &error);
  g_assert_no_error(error);
  g_assert_cmpint(c1->mtime, ==,
                  (gint64)st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000);
  g_assert_cmpuint(c1->size, ==, (guint64)st.st_size);
  file = only_file_in(dir);

  edit_cache(file, "mtime", -1000000);
  c2 = vxm_qemu_caps_get(qemu, dir, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(vxm_qemu_caps_probe_count(), ==, before + 2);
  c3 = vxm_qemu_caps_get(qemu, dir, &error); /* the entry was rewritten: a hit again */
  g_assert_no_error(error);
  g_assert_cmpuint(vxm_qemu_caps_probe_count(), ==, before + 2);

  edit_cache(file, "size", 1);
  c4 = vxm_qemu_caps_get(qemu, dir, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(vxm_qemu_caps_probe_count(), ==, before + 3);

  g_assert_true(g_file_set_contents(file, "{\"format\": 1, \"machi", -1, NULL));
  c5 = vxm_qemu_caps_get(qemu, dir, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(vxm_qemu_caps_probe_count(), ==, before + 4);
  assert_windows_guest_caps(c5);
  vxm_test_rm_rf(dir);
}

static void
test_missing_binary(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQemuCaps) caps =
      vxm_qemu_caps_get("qemu-system-nonexistent", "/nonexistent", &error);
  g_autoptr(VxmQemuCaps) caps2 = NULL;

  g_assert_null(caps);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "qemu-system-nonexistent is not in PATH"));
  g_clear_error(&error);
  caps2 = vxm_qemu_caps_probe("/etc/passwd", &error);
  g_assert_null(caps2);
  g_assert_nonnull(strstr(error->message, "/etc/passwd"));
}

/* A binary that is not QEMU (here: true(1)) is an error that names it, not a crash. */
static void
test_not_qemu(void)
{
  g_autofree char *t = g_find_program_in_path("true");
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQemuCaps) caps = NULL;

  g_assert_nonnull(t);
  caps = vxm_qemu_caps_probe(t, &error);
  g_assert_null(caps);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
  g_assert_nonnull(strstr(error->message, t));
}

/* Stray lines, events, errors and unknown ids are skipped. */
static void
test_parse_robust(void)
{
  const char *qmp =
      "qemu-system-x86_64: warning: something odd\n"
      "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 1, \"minor\": 0, \"major\": 9}, "
      "\"package\": \"x\"}, \"capabilities\": []}}\n"
      "{\"return\": {}}\n"
      "{\"return\": [{\"name\": \"pc-q35-9.0\", \"alias\": \"q35\"}, {\"name\": \"none\"}, 42],"
      " \"id\": \"machines\"}\n"
      "{\"event\": \"SHUTDOWN\", \"data\": {}}\n"
      "{\"return\": [{\"name\": \"vfio-pci\", \"parent\": \"pci-device\"}, {\"name\": "
      "\"kvm-accel\"}, {\"nameless\": 1}], \"id\": \"types\"}\n"
      "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}, \"id\": \"io_uring\"}\n"
      "{\"return\": [1, 2], \"id\": \"from-the-future\"}\n"
      "{\"return\": [{\"option\": \"sandbox\", \"parameters\": []}], \"id\": \"options\"}\n"
      "[truncated";
  const char *audio = "Available audio drivers:\nnone\nqemu: module audio-audio-oss not found, do "
                      "you want to install qemu-system-gui package?\npa\n\nalsa\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQemuCaps) caps = vxm_qemu_caps_parse(qmp, audio, &error);
  g_autoptr(VxmQemuCaps) none = NULL;

  g_assert_no_error(error);
  g_assert_cmpstr(caps->version, ==, "9.0.1");
  g_assert_cmpstr(vxm_qemu_caps_resolve_machine(caps, "q35"), ==, "pc-q35-9.0");
  g_assert_true(vxm_qemu_caps_has_machine(caps, "none"));
  g_assert_true(vxm_qemu_caps_has_type(caps, "vfio-pci"));
  g_assert_true(vxm_qemu_caps_has_accel(caps, "kvm"));
  g_assert_false(vxm_qemu_caps_has_accel(caps, "tcg"));
  g_assert_false(caps->io_uring);
  g_assert_true(vxm_qemu_caps_has_option(caps, "sandbox"));
  g_assert_true(vxm_qemu_caps_has_audiodev(caps, "pa"));
  g_assert_true(vxm_qemu_caps_has_audiodev(caps, "alsa"));
  g_assert_false(vxm_qemu_caps_has_audiodev(caps, "oss"));
  g_assert_cmpuint(g_hash_table_size(caps->audiodevs), ==, 3);
  g_assert_true(vxm_qemu_caps_version_at_least(caps, 8, 2));
  g_assert_false(vxm_qemu_caps_version_at_least(caps, 9, 1));

  none = vxm_qemu_caps_parse("garbage\n", "", &error);
  g_assert_null(none);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
  g_clear_error(&error);

  /* cut short before the options (QEMU drops what it has not run when its input ends): not a
   * QEMU without -sandbox, an answer to ask again */
  {
    g_autofree char *cut = g_strndup(qmp, strstr(qmp, "{\"return\": [{\"option\"") - qmp);

    none = vxm_qemu_caps_parse(cut, audio, &error);
    g_assert_null(none);
    g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
    g_assert_nonnull(strstr(error->message, "stopped before its command-line options"));
  }
}

/* The caps the golden argv tests use: checked in, loadable, a Windows guest's needs there. */
static void
test_fixture(void)
{
  g_autofree char *path = vxm_test_source_path("tests/data/qemu-caps-7.2.json");
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQemuCaps) caps = NULL;

  /* VXM_TEST_REGENERATE_CAPS=1 rewrites the fixture from this machine's QEMU (and fails, so
   * the diff is reviewed) */
  if (vxm_test_regenerating("VXM_TEST_REGENERATE_CAPS")) {
    g_autoptr(VxmQemuCaps) probed = vxm_qemu_caps_probe("qemu-system-x86_64", &error);
    g_autoptr(JsonNode) node = NULL;
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autofree char *text = NULL;

    g_assert_no_error(error);
    node = vxm_qemu_caps_to_json(probed);
    json_generator_set_root(gen, node);
    json_generator_set_pretty(gen, TRUE);
    text = json_generator_to_data(gen, NULL);
    vxm_test_check_golden("tests/data/qemu-caps-7.2.json", text, "VXM_TEST_REGENERATE_CAPS");
  }
  caps = vxm_qemu_caps_load(path, &error);
  g_assert_no_error(error);
  assert_windows_guest_caps(caps);
  g_assert_cmpstr(caps->version, ==, "7.2.22");
  g_assert_true(caps->io_uring);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/qemu-caps/probe/real-binary", test_probe_real);
  g_test_add_func("/vxm/qemu-caps/probe/slow-reader", test_probe_slow_reader);
  g_test_add_func("/vxm/qemu-caps/probe/missing-binary", test_missing_binary);
  g_test_add_func("/vxm/qemu-caps/probe/not-qemu", test_not_qemu);
  g_test_add_func("/vxm/qemu-caps/cache/hit", test_cache_hit);
  g_test_add_func("/vxm/qemu-caps/cache/invalidated-by-mtime", test_cache_invalidation);
  g_test_add_func("/vxm/qemu-caps/parse/robust", test_parse_robust);
  g_test_add_func("/vxm/qemu-caps/fixture", test_fixture);
  return g_test_run();
}
