/* Integration: the real vxm binary with --root on static host trees. */
#include <errno.h>
#include <json-glib/json-glib.h>
#include <pty.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vxm-test-sysfs.h"
#include "vxm-test-util.h"

/* QEMU's capabilities, probed once for the whole program by the qemu check */
static char *shared_cache;

typedef struct {
  char *root;
  char *vxm;
  char *home;     /* the user's XDG folders: no VM unless a test writes one */
  GPtrArray *env; /* NULL-terminated */
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
  f->root = vxm_test_mkdtemp();
  vxm_test_machine_build(f->root, GPOINTER_TO_INT(data));
  f->vxm = vxm_test_build_path("src/cli/vxm");
  f->home = vxm_test_mkdtemp();
  f->env = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(f->env, g_strdup_printf("XDG_CONFIG_HOME=%s/config", f->home));
  g_ptr_array_add(f->env, g_strdup_printf("XDG_DATA_HOME=%s/data", f->home));
  g_ptr_array_add(f->env, g_strdup_printf("XDG_STATE_HOME=%s/state", f->home));
  g_ptr_array_add(f->env, g_strdup_printf("XDG_CACHE_HOME=%s", shared_cache));
  g_ptr_array_add(f->env, NULL);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
  vxm_test_rm_rf(f->root);
  vxm_test_rm_rf(f->home);
  g_free(f->root);
  g_free(f->vxm);
  g_free(f->home);
  g_ptr_array_unref(f->env);
}

/* Runs vxm COMMAND --root ROOT ARGS... */
static int
run_vxm(Fixture *f, char **out, char **err, const char *command, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  va_list ap;
  const char *arg;

  g_ptr_array_add(argv, f->vxm);
  g_ptr_array_add(argv, (char *)command);
  g_ptr_array_add(argv, "--root");
  g_ptr_array_add(argv, f->root);
  va_start(ap, command);
  while ((arg = va_arg(ap, const char *)) != NULL)
    g_ptr_array_add(argv, (char *)arg);
  va_end(ap);
  g_ptr_array_add(argv, NULL);
  return vxm_test_run((const char *const *)argv->pdata, (const char *const *)f->env->pdata, out,
                      err);
}

static JsonArray *
parse_array(const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  json_parser_load_from_data(parser, text, -1, &error);
  g_assert_no_error(error);
  root = json_parser_get_root(parser);
  g_assert_true(JSON_NODE_HOLDS_ARRAY(root));
  return json_array_ref(json_node_get_array(root));
}

static void
assert_null_member(JsonObject *obj, const char *key)
{
  g_assert_true(json_object_has_member(obj, key));
  g_assert_true(json_node_is_null(json_object_get_member(obj, key)));
}

static void
test_list_gpus_json(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonArray) gpus = NULL;
  JsonObject *igpu, *nv;
  JsonArray *functions, *reasons;
  static const char *const required[] = {
      "address",
      "vendor_id",
      "device_id",
      "subsystem_vendor_id",
      "subsystem_device_id",
      "class",
      "vendor_name",
      "device_name",
      "driver",
      "boot_vga",
      "iommu_group",
      "numa_node",
      "functions",
      "role",
      "reasons",
  };

  g_assert_cmpint(run_vxm(f, &out, &err, "list-gpus", "--json", NULL), ==, 0);
  g_assert_cmpstr(err, ==, "");
  gpus = parse_array(out);
  g_assert_cmpuint(json_array_get_length(gpus), ==, 2);
  igpu = json_array_get_object_element(gpus, 0);
  nv = json_array_get_object_element(gpus, 1);
  for (gsize i = 0; i < G_N_ELEMENTS(required); i++) {
    g_assert_true(json_object_has_member(igpu, required[i]));
    g_assert_true(json_object_has_member(nv, required[i]));
  }

  g_assert_cmpstr(json_object_get_string_member(igpu, "address"), ==, "0000:00:02.0");
  g_assert_true(json_object_get_boolean_member(igpu, "boot_vga"));
  g_assert_cmpstr(json_object_get_string_member(igpu, "role"), ==, "host");
  g_assert_cmpstr(json_object_get_string_member(igpu, "driver"), ==, "i915");
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(igpu, "functions")), ==, 0);

  g_assert_cmpstr(json_object_get_string_member(nv, "address"), ==, "0000:01:00.0");
  g_assert_cmpstr(json_object_get_string_member(nv, "vendor_id"), ==, "10de");
  g_assert_cmpstr(json_object_get_string_member(nv, "device_id"), ==, "1e81");
  g_assert_cmpstr(json_object_get_string_member(nv, "subsystem_vendor_id"), ==, "1458");
  g_assert_cmpstr(json_object_get_string_member(nv, "subsystem_device_id"), ==, "3ffa");
  g_assert_cmpstr(json_object_get_string_member(nv, "class"), ==, "0300");
  g_assert_cmpstr(json_object_get_string_member(nv, "vendor_name"), ==, "NVIDIA Corporation");
  g_assert_cmpstr(json_object_get_string_member(nv, "device_name"), ==,
                  "TU104 [GeForce RTX 2080 SUPER]");
  g_assert_cmpstr(json_object_get_string_member(nv, "driver"), ==, "nvidia");
  g_assert_false(json_object_get_boolean_member(nv, "boot_vga"));
  g_assert_cmpint(json_object_get_int_member(nv, "iommu_group"), ==, 1);
  g_assert_cmpint(json_object_get_int_member(nv, "numa_node"), ==, -1);
  g_assert_cmpstr(json_object_get_string_member(nv, "role"), ==, "candidate");
  reasons = json_object_get_array_member(nv, "reasons");
  g_assert_cmpuint(json_array_get_length(reasons), ==, 0);

  functions = json_object_get_array_member(nv, "functions");
  g_assert_cmpuint(json_array_get_length(functions), ==, 3);
  {
    static const struct {
      const char *address, *class_code, *driver;
    } expected[] = {
        {"0000:01:00.1", "0403", "snd_hda_intel"},
        {"0000:01:00.2", "0c03", "xhci_hcd"},
        {"0000:01:00.3", "0c80", "nvidia-gpu"},
    };
    for (guint i = 0; i < 3; i++) {
      JsonObject *fn = json_array_get_object_element(functions, i);

      g_assert_cmpstr(json_object_get_string_member(fn, "address"), ==, expected[i].address);
      g_assert_cmpstr(json_object_get_string_member(fn, "class"), ==, expected[i].class_code);
      g_assert_cmpstr(json_object_get_string_member(fn, "driver"), ==, expected[i].driver);
    }
  }
  /* the extras: DRM nodes, reset methods, group members with the bridge */
  {
    JsonArray *drm = json_object_get_array_member(nv, "drm_nodes");
    JsonArray *members = json_object_get_array_member(nv, "iommu_group_members");
    JsonObject *bridge;

    g_assert_cmpstr(json_array_get_string_element(drm, 0), ==, "card1");
    g_assert_cmpstr(json_array_get_string_element(drm, 1), ==, "renderD129");
    g_assert_cmpuint(json_array_get_length(members), ==, 5);
    bridge = json_array_get_object_element(members, 0);
    g_assert_cmpstr(json_object_get_string_member(bridge, "address"), ==, "0000:00:01.0");
    g_assert_cmpstr(json_object_get_string_member(bridge, "class"), ==, "0604");
    g_assert_false(json_object_get_boolean_member(bridge, "own"));
    g_assert_true(json_object_get_boolean_member(bridge, "allowed"));
  }
}

static void
test_list_gpus_json_nulls(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *ids = g_build_filename(f->root, "usr/share/misc/pci.ids", NULL);
  g_autoptr(JsonArray) gpus = NULL;
  JsonObject *nv;
  JsonObject *fn;

  /* no pci.ids, IOMMU off, the GPU unbound: null where unknown */
  g_assert_cmpint(unlink(ids), ==, 0);
  vxm_test_sysfs_set_driver(f->root, "0000:01:00.0", NULL);
  g_assert_cmpint(run_vxm(f, &out, &err, "list-gpus", "--json", NULL), ==, 0);
  gpus = parse_array(out);
  nv = json_array_get_object_element(gpus, 1);
  assert_null_member(nv, "vendor_name");
  assert_null_member(nv, "device_name");
  assert_null_member(nv, "driver");
  assert_null_member(nv, "iommu_group");
  g_assert_cmpstr(json_object_get_string_member(nv, "role"), ==, "unusable");
  g_assert_cmpstr(json_array_get_string_element(json_object_get_array_member(nv, "reasons"), 0), ==,
                  "the IOMMU is off, so no device can be passed through: turn it on (see vxm "
                  "check)");
  fn = json_array_get_object_element(json_object_get_array_member(nv, "functions"), 0);
  assert_null_member(fn, "iommu_group");
}

static void
test_list_gpus_human(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_cmpint(run_vxm(f, &out, &err, "list-gpus", NULL), ==, 0);
  lines = g_strsplit(out, "\n", -1);
  g_assert_true(g_str_has_prefix(lines[0], "ADDRESS       ROLE       DRIVER  GROUP  NAME"));
  g_assert_cmpstr(lines[1], ==,
                  "0000:00:02.0  host       i915    2      Intel Corporation CoffeeLake-S GT2 "
                  "[UHD Graphics 630]");
  g_assert_cmpstr(lines[2], ==,
                  "0000:01:00.0  unusable   nvidia  14     NVIDIA Corporation GA102 [GeForce RTX "
                  "3080]");
  /* then the details, with the reason naming both offenders */
  g_assert_nonnull(strstr(out, "IOMMU group 14:"));
  g_assert_nonnull(strstr(out, "0000:00:14.0 (USB controller, 0c03) and 0000:03:00.0 (Ethernet "
                               "controller, 0200)"));
  g_assert_nonnull(strstr(out, "0000:01:00.1  Audio device (0403)"));
  /* NO_COLOR is set by the test runner: no escape codes */
  g_assert_null(strchr(out, '\033'));
}

static void
test_check_good(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonArray) checks = NULL;
  /* in registry order; d3cold (not knowable beforehand here: "unknown"), monitor, inputs and
   * vxmd are looked at below */
  static const char *const ids[] = {"iommu", "kvm",         "ignore-msrs", "gpus", "guest-gpu",
                                    "reset", "framebuffer", "holders",     "bars", "firmware",
                                    "qemu",  "swtpm",       "memory"};
  JsonObject *monitor, *inputs, *vxmd, *d3cold;

  /* as a user, the vxmd check fails here (no vxmd under this tree): root makes the changes */
  if (!vxm_test_require_root())
    return;
  /* root reads the real addresses; no boot framebuffer in the guest GPU's memory */
  vxm_test_write_file(f->root, "proc/iomem",
                      "00000000-00000fff : Reserved\nc0000000-c07e8fff : efifb\n");
  g_assert_cmpint(run_vxm(f, &out, &err, "check", "--json", NULL), ==, 0);
  checks = parse_array(out);
  g_assert_cmpuint(json_array_get_length(checks), ==, G_N_ELEMENTS(ids) + 4);
  /* d3cold sits after bars (index 9): whether the card survives D3cold is not known here */
  d3cold = json_array_get_object_element(checks, 9);
  g_assert_cmpstr(json_object_get_string_member(d3cold, "id"), ==, "d3cold");
  g_assert_cmpstr(json_object_get_string_member(d3cold, "status"), ==, "unknown");
  json_array_remove_element(checks, 9);
  /* this tree has no display connectors and no input devices: both are warnings (the guest
   * starts without them), not failures */
  monitor = json_array_get_object_element(checks, G_N_ELEMENTS(ids));
  g_assert_cmpstr(json_object_get_string_member(monitor, "id"), ==, "monitor");
  g_assert_cmpstr(json_object_get_string_member(monitor, "status"), ==, "warn");
  inputs = json_array_get_object_element(checks, G_N_ELEMENTS(ids) + 1);
  g_assert_cmpstr(json_object_get_string_member(inputs, "id"), ==, "inputs");
  g_assert_cmpstr(json_object_get_string_member(inputs, "status"), ==, "warn");
  g_assert_nonnull(strstr(json_object_get_string_member(inputs, "message"), "no keyboard"));
  /* run as root: no vxmd needed */
  vxmd = json_array_get_object_element(checks, G_N_ELEMENTS(ids) + 2);
  g_assert_cmpstr(json_object_get_string_member(vxmd, "id"), ==, "vxmd");
  g_assert_cmpstr(json_object_get_string_member(vxmd, "status"), ==, "ok");
  for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
    JsonObject *c = json_array_get_object_element(checks, i);

    g_assert_cmpuint(json_object_get_size(c), ==, 4);
    g_assert_cmpstr(json_object_get_string_member(c, "id"), ==, ids[i]);
    g_assert_cmpstr(json_object_get_string_member(c, "status"), ==, "ok");
    g_assert_cmpuint(strlen(json_object_get_string_member(c, "message")), >, 0);
    assert_null_member(c, "fix");
  }
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(f, &out, &err, "check", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "✔ iommu "));
  g_assert_nonnull(strstr(out, "✔ guest-gpu    0000:01:00.0 (NVIDIA Corporation TU104"));
  g_assert_nonnull(strstr(out, "14 ok, 2 warnings, 0 failed, 1 not checked"));
}

/* A check that could not run (no /proc/iomem to read) is neither a pass nor a warning: its own
 * status, marker and count, and it does not fail vxm check. */
static void
test_check_not_checked(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonArray) checks = NULL;
  JsonObject *fb = NULL;
  guint warnings = 0, unknown = 0;
  g_autofree char *summary = NULL;

  /* vfio-pci keeps idle cards powered: the d3cold check knows, framebuffer is the only one
   * that cannot run */
  vxm_test_write_file(f->root, "sys/module/vfio_pci/parameters/disable_idle_d3", "Y\n");
  run_vxm(f, &out, &err, "check", "--json", NULL);
  checks = parse_array(out);
  for (guint i = 0; i < json_array_get_length(checks); i++) {
    JsonObject *c = json_array_get_object_element(checks, i);
    const char *status = json_object_get_string_member(c, "status");

    if (g_str_equal(json_object_get_string_member(c, "id"), "framebuffer"))
      fb = c;
    warnings += g_str_equal(status, "warn");
    unknown += g_str_equal(status, "unknown");
  }
  g_assert_nonnull(fb);
  g_assert_cmpstr(json_object_get_string_member(fb, "status"), ==, "unknown");
  g_assert_nonnull(strstr(json_object_get_string_member(fb, "message"), "cannot tell"));
  g_assert_cmpuint(unknown, ==, 1);

  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  run_vxm(f, &out, &err, "check", NULL);
  g_assert_nonnull(strstr(out, "?? framebuffer "));
  summary = g_strdup_printf(", %u warning%s, ", warnings, warnings == 1 ? "" : "s");
  g_assert_nonnull(strstr(out, summary));
  g_assert_nonnull(strstr(out, " failed, 1 not checked\n"));
}

static void
test_check_without_kvm(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *kvm = g_build_filename(f->root, "dev/kvm", NULL);
  g_autoptr(JsonArray) checks = NULL;
  JsonObject *c;

  g_assert_cmpint(unlink(kvm), ==, 0);
  g_assert_cmpint(run_vxm(f, &out, &err, "check", "--json", NULL), ==, 1);
  checks = parse_array(out);
  c = json_array_get_object_element(checks, 1);
  g_assert_cmpstr(json_object_get_string_member(c, "id"), ==, "kvm");
  g_assert_cmpstr(json_object_get_string_member(c, "status"), ==, "fail");
  g_assert_nonnull(strstr(json_object_get_string_member(c, "fix"), "modprobe kvm_intel"));
  /* the others still pass */
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(checks, 4), "status"),
                  ==, "ok");
}

static void
test_check_single_gpu(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint(run_vxm(f, &out, &err, "check", NULL), ==, 1);
  g_assert_nonnull(strstr(out, "✘ gpus         vxm is for two-GPU machines: the host keeps one GPU "
                               "and the guest gets the other; this machine has only "
                               "0000:01:00.0"));
  g_assert_nonnull(strstr(out, "\n               fix: add a second GPU"));
  g_assert_nonnull(strstr(out, "✔ iommu"));
}

static void
test_check_quiet(Fixture *f, gconstpointer data)
{
  g_autofree char *full = NULL;
  g_autofree char *quiet = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;
  guint not_ok = 0;

  g_assert_cmpint(run_vxm(f, &full, &err, "check", NULL), ==, 1);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(f, &quiet, &err, "check", "--quiet", NULL), ==, 1);
  /* only what did not pass, each with its fix, and no summary */
  g_assert_null(strstr(quiet, "✔"));
  g_assert_null(strstr(quiet, " ok, "));
  g_assert_nonnull(strstr(quiet, "✘ gpus"));
  g_assert_nonnull(strstr(quiet, "fix: add a second GPU"));
  /* ... and every line of the full output that is not an ok check or the summary */
  lines = g_strsplit(full, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    if (*lines[i] == '\0' || g_str_has_prefix(lines[i], "✔") || strstr(lines[i], " ok, ") != NULL)
      continue;
    if (strstr(quiet, lines[i]) == NULL)
      g_error("--quiet left out '%s'", lines[i]);
    not_ok++;
  }
  g_assert_cmpuint(not_ok, >=, 2);
  g_assert_cmpuint(strlen(quiet), <, strlen(full));
}

/* Runs vxm check with its standard output on a terminal (a pty); @no_color: NO_COLOR's value
 * or NULL for unset. Returns what the terminal got. */
static char *
check_on_terminal(Fixture *f, const char *no_color)
{
  const char *argv[] = {f->vxm, "check", "--root", f->root, NULL};
  g_auto(GStrv) env = g_get_environ();
  g_autoptr(GString) got = g_string_new(NULL);
  g_autoptr(GError) error = NULL;
  int master = -1, slave = -1, wait_status = 0;
  GPid pid;
  char buf[4096];
  ssize_t n;

  g_assert_cmpint(openpty(&master, &slave, NULL, NULL, NULL), ==, 0);
  env = g_environ_unsetenv(env, "VXM_ROOT");
  env = g_environ_setenv(env, "LC_ALL", "C.UTF-8", TRUE);
  env = g_environ_setenv(env, "XDG_CONFIG_HOME", f->home, TRUE);
  env = g_environ_setenv(env, "XDG_CACHE_HOME", shared_cache, TRUE);
  env = no_color != NULL ? g_environ_setenv(env, "NO_COLOR", no_color, TRUE)
                         : g_environ_unsetenv(env, "NO_COLOR");
  g_spawn_async_with_fds(NULL, (char **)argv, env, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, -1,
                         slave, -1, &error);
  g_assert_no_error(error);
  close(slave);
  /* the terminal reads EIO once the child has closed its side */
  while ((n = read(master, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      g_string_append_len(got, buf, n);
  close(master);
  g_assert_cmpint(waitpid(pid, &wait_status, 0), ==, pid);
  g_spawn_close_pid(pid);
  g_assert_true(WIFEXITED(wait_status));
  g_assert_cmpint(WEXITSTATUS(wait_status), ==, 1);
  return g_string_free(g_steal_pointer(&got), FALSE);
}

static void
test_check_colour(Fixture *f, gconstpointer data)
{
  g_autofree char *terminal = check_on_terminal(f, NULL);
  g_autofree char *no_color = check_on_terminal(f, "1");
  g_autofree char *empty_no_color = check_on_terminal(f, "");
  g_autofree char *piped = NULL;
  g_autofree char *err = NULL;

  /* a failed check in bold red, a passed one in bold green, each reset after its marker */
  g_assert_nonnull(strstr(terminal, "\033[1;31m✘\033[0m gpus"));
  g_assert_nonnull(strstr(terminal, "\033[1;32m✔\033[0m iommu"));
  /* NO_COLOR set to anything turns it off; set but empty does not (no-color.org) */
  g_assert_null(strchr(no_color, '\033'));
  g_assert_nonnull(strstr(no_color, "✘ gpus"));
  g_assert_nonnull(strstr(empty_no_color, "\033[1;31m✘"));
  /* not a terminal: no colour */
  g_assert_cmpint(run_vxm(f, &piped, &err, "check", NULL), ==, 1);
  g_assert_null(strchr(piped, '\033'));
}

static void
test_check_configured_gpu(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonArray) checks = NULL;
  JsonObject *guest;

  g_assert_cmpint(run_vxm(f, &out, &err, "check", "--json", "--gpu", "2080", NULL), ==, 0);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(f, &out, &err, "check", "--json", "--gpu", "radeon", NULL), ==, 1);
  checks = parse_array(out);
  guest = json_array_get_object_element(checks, 4);
  g_assert_cmpstr(json_object_get_string_member(guest, "status"), ==, "fail");
  g_assert_nonnull(
      strstr(json_object_get_string_member(guest, "message"), "no GPU matches 'radeon'"));
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_clear_pointer(&checks, json_array_unref);

  /* the boot VGA device: no slot or ACS makes it the guest's, and the fix does not say so */
  g_assert_cmpint(run_vxm(f, &out, &err, "check", "--json", "--gpu", "00:02.0", NULL), ==, 1);
  checks = parse_array(out);
  guest = json_array_get_object_element(checks, 4);
  g_assert_cmpstr(json_object_get_string_member(guest, "status"), ==, "fail");
  g_assert_nonnull(strstr(json_object_get_string_member(guest, "message"), "boot VGA"));
  g_assert_nonnull(
      strstr(json_object_get_string_member(guest, "fix"), "give the guest the other GPU"));
  g_assert_null(strstr(json_object_get_string_member(guest, "fix"), "ACS"));
}

static void
test_check_iommu_off(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonArray) checks = NULL;
  JsonObject *iommu, *guest;

  g_assert_cmpint(run_vxm(f, &out, &err, "check", "--json", NULL), ==, 1);
  checks = parse_array(out);
  iommu = json_array_get_object_element(checks, 0);
  guest = json_array_get_object_element(checks, 4);
  g_assert_cmpstr(json_object_get_string_member(iommu, "status"), ==, "fail");
  g_assert_nonnull(strstr(json_object_get_string_member(iommu, "fix"), "intel_iommu=on"));
  g_assert_cmpstr(json_object_get_string_member(guest, "status"), ==, "fail");
  g_assert_cmpstr(json_object_get_string_member(guest, "fix"), ==,
                  "turn the IOMMU on first (see the iommu check)");
}

static void
test_root_handling(Fixture *f, gconstpointer data)
{
  const char *bad[] = {f->vxm, "list-gpus", "--root", "/nonexistent/vxm-root", NULL};
  const char *env_argv[] = {f->vxm, "list-gpus", "--json", NULL};
  g_autofree char *env_root = g_strdup_printf("VXM_ROOT=%s", f->root);
  const char *envp[] = {env_root, NULL};
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *empty = vxm_test_mkdtemp();

  g_assert_cmpint(vxm_test_run(bad, NULL, &out, &err), ==, 1);
  g_assert_cmpstr(out, ==, "");
  g_assert_true(g_str_has_prefix(err, "vxm list-gpus: host root /nonexistent/vxm-root is not a "
                                      "folder"));
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  /* VXM_ROOT stands in for --root */
  g_assert_cmpint(vxm_test_run(env_argv, envp, &out, &err), ==, 0);
  g_assert_nonnull(strstr(out, "\"0000:01:00.0\""));
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  /* a folder that is not a host's /: the error names what is missing */
  {
    const char *argv[] = {f->vxm, "list-gpus", "--root", empty, NULL};

    g_assert_cmpint(vxm_test_run(argv, NULL, &out, &err), ==, 1);
    g_assert_nonnull(strstr(err, "/sys/bus/pci/devices"));
    g_assert_null(strstr(err, empty));
  }
  vxm_test_rm_rf(empty);
}

static void
test_usage_errors(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint(run_vxm(f, &out, &err, "list-gpus", "--frobnicate", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "--frobnicate"));
  g_assert_nonnull(strstr(err, "vxm list-gpus --help"));
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(f, &out, &err, "check", "win11", "extra", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "'extra'"));
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(f, &out, &err, "check", "--help", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "--json"));
  g_assert_nonnull(strstr(out, "--root"));
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  /* a malformed value or name on the command line exits 2 from every command */
  {
    static const char *const bad[][4] = {
        {"detach", "01:00.0", "--timeout", "lots"},
        {"reattach", "01:00.0", "--timeout", "lots"},
        {"stop", "../x", NULL, NULL},
        {"start", "../x", NULL, NULL},
        {"check", "../x", NULL, NULL},
        {"inputs", "../x", NULL, NULL},
        {"recover", "../x", NULL, NULL},
        {"status", "../x", NULL, NULL},
        {"config", "../x", NULL, NULL},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
      int status = run_vxm(f, &out, &err, bad[i][0], bad[i][1], bad[i][2], bad[i][3], NULL);

      if (status != 2 || strstr(err, "--help") == NULL)
        g_error("vxm %s %s: exit %d, stderr: %s", bad[i][0], bad[i][1], status, err);
      g_clear_pointer(&out, g_free);
      g_clear_pointer(&err, g_free);
    }
  }
}

/* vxm check NAME checks that VM's settings: here, more memory than the host has */
static void
test_check_vm(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonArray) checks = NULL;
  g_autofree char *config_home = g_build_filename(f->home, "config", NULL);
  JsonObject *memory = NULL;

  vxm_test_write_file(config_home, "vxm/vms/win11.conf",
                      "[gpu]\naddress = 0000:01:00.0\n[memory]\nsize = 64G\n");
  g_assert_cmpint(run_vxm(f, &out, &err, "check", "win11", "--json", NULL), ==, 1);
  checks = parse_array(out);
  for (guint i = 0; i < json_array_get_length(checks); i++) {
    JsonObject *c = json_array_get_object_element(checks, i);
    if (g_strcmp0(json_object_get_string_member(c, "id"), "memory") == 0)
      memory = c;
  }
  g_assert_nonnull(memory);
  g_assert_cmpstr(json_object_get_string_member(memory, "status"), ==, "fail");
  g_assert_nonnull(strstr(json_object_get_string_member(memory, "message"), "guest's 64 GiB"));
  g_assert_cmpstr(json_object_get_string_member(memory, "fix"), ==,
                  "give the guest less: vxm config win11 --set memory.size=30G (Windows 11 "
                  "needs 4G)");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  /* the monitor check reads the VM named, not 'default', and its fix names it */
  vxm_test_write_file(config_home, "vxm/vms/win11.conf", "[display]\nmonitor = card0-DP-9\n");
  vxm_test_write_file(config_home, "vxm/vms/off.conf", "[display]\nmonitor = off\n");
  run_vxm(f, &out, &err, "check", "off", NULL); /* the vxmd check fails for a user */
  g_assert_nonnull(strstr(out, "monitor switching is off (VM off: monitor = off)"));
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  run_vxm(f, &out, &err, "check", "win11", NULL);
  g_assert_nonnull(strstr(out, "card0-DP-9"));
  g_assert_nonnull(strstr(out, "vxm config win11 --set monitor="));
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  /* the default VM is read when it exists, and a VM that does not exist is an error */
  g_assert_cmpint(run_vxm(f, &out, &err, "check", "nosuch", NULL), ==, 1);
  g_assert_nonnull(strstr(err, "nosuch"));
  g_assert_cmpstr(out, ==, "");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  vxm_test_write_file(config_home, "vxm/vms/default.conf", "[memory]\nsize = 64G\n");
  g_assert_cmpint(run_vxm(f, &out, &err, "check", NULL), ==, 1);
  g_assert_nonnull(strstr(out, "✘ memory"));
}

/* The options every command takes may come before the command: same answer either way; an
 * unknown option there is a usage error that says where options go. */
static void
test_options_before_command(Fixture *f, gconstpointer data)
{
  g_autofree char *after = NULL, *before = NULL, *equals = NULL, *err = NULL;
  g_autofree char *root_equals = g_strdup_printf("--root=%s", f->root);

  g_assert_cmpint(run_vxm(f, &after, NULL, "list-gpus", "--json", NULL), ==, 0);
  g_assert_cmpint(
      vxm_test_run((const char *const[]){f->vxm, "--root", f->root, "list-gpus", "--json", NULL},
                   (const char *const *)f->env->pdata, &before, NULL),
      ==, 0);
  g_assert_cmpstr(before, ==, after);
  g_assert_cmpint(
      vxm_test_run((const char *const[]){f->vxm, root_equals, "-q", "list-gpus", "--json", NULL},
                   (const char *const *)f->env->pdata, &equals, NULL),
      ==, 0);
  g_assert_cmpstr(equals, ==, after);
  g_assert_cmpint(vxm_test_run((const char *const[]){f->vxm, "--bogus", "list-gpus", NULL},
                               (const char *const *)f->env->pdata, NULL, &err),
                  ==, 2);
  g_assert_nonnull(strstr(err, "unknown option '--bogus' before the command"));
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vxm_test_run((const char *const[]){f->vxm, "--root", f->root, NULL},
                               (const char *const *)f->env->pdata, NULL, &err),
                  ==, 2);
  g_assert_nonnull(strstr(err, "no command after the options"));
}

#define ADD(path, func, machine) \
  g_test_add(path, Fixture, GINT_TO_POINTER(machine), fixture_setup, func, fixture_teardown)

int
main(int argc, char **argv)
{
  int status;

  g_test_init(&argc, &argv, NULL);
  shared_cache = vxm_test_mkdtemp();
  ADD("/vxm/cli/check/vm", test_check_vm, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/cli/list-gpus/json", test_list_gpus_json, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/cli/list-gpus/json-nulls", test_list_gpus_json_nulls, VXM_TEST_MACHINE_IOMMU_OFF);
  ADD("/vxm/cli/list-gpus/human", test_list_gpus_human, VXM_TEST_MACHINE_SHARED_GROUP);
  ADD("/vxm/cli/check/good-machine", test_check_good, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/cli/check/without-kvm", test_check_without_kvm, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/cli/check/not-checked", test_check_not_checked, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/cli/check/single-gpu", test_check_single_gpu, VXM_TEST_MACHINE_SINGLE_GPU);
  ADD("/vxm/cli/check/quiet", test_check_quiet, VXM_TEST_MACHINE_SINGLE_GPU);
  ADD("/vxm/cli/check/colour", test_check_colour, VXM_TEST_MACHINE_SINGLE_GPU);
  ADD("/vxm/cli/check/configured-gpu", test_check_configured_gpu, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/cli/check/iommu-off", test_check_iommu_off, VXM_TEST_MACHINE_IOMMU_OFF);
  ADD("/vxm/cli/root-handling", test_root_handling, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/cli/usage-errors", test_usage_errors, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/cli/options-before-command", test_options_before_command,
      VXM_TEST_MACHINE_INTEL_NVIDIA);
  status = g_test_run();
  vxm_test_rm_rf(shared_cache);
  g_free(shared_cache);
  return status;
}
