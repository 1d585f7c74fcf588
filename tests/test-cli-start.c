/* Integration: the real `vxm start --dry-run` with XDG folders in a temp dir and --root on a
 * static workstation (Intel iGPU + NVIDIA Turing with four functions, Debian's firmware
 * descriptors). It must print the plan and change nothing. */
#include <json-glib/json-glib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <sys/stat.h>

#include "vxm-test-sysfs.h"
#include "vxm-test-util.h"

typedef struct {
  char *tmp;
  char *root;
  char *home;
  char *vxm;
  GStrv env;
} Fixture;

static void
copy_descriptor(const char *root, const char *name)
{
  g_autofree char *rel = g_build_filename("tests/data/firmware/debian12", name, NULL);
  g_autofree char *src = vxm_test_source_path(rel);
  g_autofree char *dest = g_build_filename("usr/share/qemu/firmware", name, NULL);
  g_autofree char *contents = NULL;

  g_assert_true(g_file_get_contents(src, &contents, NULL, NULL));
  vxm_test_write_file(root, dest, contents);
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
  g_autoptr(GStrvBuilder) env = g_strv_builder_new();
  g_autofree char *e_home = NULL;

  f->tmp = vxm_test_mkdtemp();
  f->root = g_build_filename(f->tmp, "root", NULL);
  f->home = g_build_filename(f->tmp, "home", NULL);
  f->vxm = vxm_test_build_path("src/cli/vxm");
  vxm_test_machine_build(f->root, VXM_TEST_MACHINE_INTEL_NVIDIA);
  vxm_test_write_file(f->root, "proc/meminfo",
                      "MemTotal:       32768000 kB\n"
                      "MemFree:        20000000 kB\n");
  vxm_test_write_file(f->root, "sys/devices/system/cpu/online", "0-11\n");
  for (guint i = 0; i < 4; i++) {
    static const char *const attrs[] = {"nr_hugepages", "free_hugepages", "surplus_hugepages",
                                        "resv_hugepages"};
    g_autofree char *attr =
        g_strdup_printf("sys/kernel/mm/hugepages/hugepages-2048kB/%s", attrs[i]);

    vxm_test_write_file(f->root, attr, "0\n");
  }
  vxm_test_write_file(f->root, "sys/devices/system/cpu/cpu0/topology/thread_siblings_list",
                      "0,6\n");
  copy_descriptor(f->root, "40-edk2-x86_64-secure-enrolled.json");
  copy_descriptor(f->root, "50-edk2-x86_64-secure.json");
  copy_descriptor(f->root, "60-edk2-x86_64.json");
  vxm_test_write_file(f->root, "usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "code");
  vxm_test_symlink(f->root, "usr/share/OVMF/OVMF_CODE_4M.ms.fd", "OVMF_CODE_4M.secboot.fd");
  vxm_test_write_file(f->root, "usr/share/OVMF/OVMF_VARS_4M.ms.fd", "vars");
  vxm_test_write_file(f->root, "usr/share/OVMF/OVMF_CODE_4M.fd", "code");
  vxm_test_write_file(f->root, "usr/share/OVMF/OVMF_VARS_4M.fd", "vars");
  vxm_test_write_file(f->home, ".config/vxm/vms/win11.conf",
                      "# the user's comment\n"
                      "[gpu]\naddress = 01:00.0\n\n"
                      "[memory]\nsize = 8G\nhugepages = 2M\n\n"
                      "[network]\nmac = 02:5e:a7:00:00:09\n\n"
                      "[audio]\nbackend = none\n");

  e_home = g_strdup_printf("HOME=%s", f->home);
  g_strv_builder_add(env, e_home);
#define XDG(var, sub)                                                     \
  do {                                                                    \
    g_autofree char *kv = g_strdup_printf("%s=%s/%s", var, f->home, sub); \
    g_strv_builder_add(env, kv);                                          \
  } while (0)
  XDG("XDG_CONFIG_HOME", ".config");
  XDG("XDG_DATA_HOME", ".local/share");
  XDG("XDG_STATE_HOME", ".local/state");
  XDG("XDG_CACHE_HOME", ".cache");
  XDG("XDG_RUNTIME_DIR", "run");
#undef XDG
  f->env = g_strv_builder_end(env);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
  vxm_test_rm_rf(f->tmp);
  g_free(f->tmp);
  g_free(f->root);
  g_free(f->home);
  g_free(f->vxm);
  g_strfreev(f->env);
}

static int
run_start(Fixture *f, char **out, char **err, const char *arg1, const char *arg2, const char *arg3)
{
  const char *argv[] = {f->vxm, "start", "--root", f->root, arg1, arg2, arg3, NULL};

  return vxm_test_run(argv, (const char *const *)f->env, out, err);
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every file under @dir with its size and mtime: what "changed nothing" is checked against. */
static void
snapshot_dir(GString *s, const char *dir, const char *rel)
{
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name(d)) != NULL)
    g_ptr_array_add(names, g_strdup(name));
  g_ptr_array_sort(names, compare_names);
  for (guint i = 0; i < names->len; i++) {
    const char *n = g_ptr_array_index(names, i);
    g_autofree char *path = g_build_filename(dir, n, NULL);
    g_autofree char *sub = g_build_filename(rel, n, NULL);
    struct stat st;

    g_assert_cmpint(lstat(path, &st), ==, 0);
    g_string_append_printf(s, "%s %o %lld %lld.%09ld\n", sub, st.st_mode, (long long)st.st_size,
                           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    if (S_ISDIR(st.st_mode))
      snapshot_dir(s, path, sub);
  }
}

static char *
snapshot(Fixture *f)
{
  GString *s = g_string_new(NULL);
  g_autofree char *config = g_build_filename(f->home, ".config", NULL);

  snapshot_dir(s, f->root, "root");
  snapshot_dir(s, config, "config");
  return g_string_free(s, FALSE);
}

static gboolean
strv_json_has(JsonArray *array, const char *value)
{
  for (guint i = 0; i < json_array_get_length(array); i++)
    if (g_strcmp0(json_array_get_string_element(array, i), value) == 0)
      return TRUE;
  return FALSE;
}

static void
test_dry_run_json(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *before = snapshot(f);
  g_autofree char *after = NULL;
  g_autofree char *data_dir = g_build_filename(f->home, ".local/share/vxm", NULL);
  g_autofree char *run_dir = g_build_filename(f->home, "run/vxm", NULL);
  g_autofree char *state_dir = g_build_filename(f->home, ".local/state/vxm", NULL);
  g_autofree char *code = g_build_filename(f->root, "usr/share/OVMF/OVMF_CODE_4M.ms.fd", NULL);
  g_autofree char *pflash0 =
      g_strdup_printf("if=pflash,unit=0,format=raw,readonly=on,file=%s", code);
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  JsonObject *obj;
  JsonArray *qemu, *swtpm, *steps;
  JsonObject *first_step, *fw;
  int status;

  status = run_start(f, &out, &err, "--dry-run", "--json", "win11");
  g_assert_cmpstr(err, ==, "");
  g_assert_cmpint(status, ==, 0);
  json_parser_load_from_data(parser, out, -1, &error);
  g_assert_no_error(error);
  obj = json_node_get_object(json_parser_get_root(parser));
  g_assert_true(json_object_has_member(obj, "qemu"));
  g_assert_true(json_object_has_member(obj, "swtpm"));
  g_assert_true(json_object_has_member(obj, "steps"));
  qemu = json_object_get_array_member(obj, "qemu");
  swtpm = json_object_get_array_member(obj, "swtpm");
  steps = json_object_get_array_member(obj, "steps");

  g_assert_true(g_str_has_suffix(json_array_get_string_element(qemu, 0), "qemu-system-x86_64"));
  g_assert_true(strv_json_has(qemu, "win11,debug-threads=on"));
  g_assert_true(strv_json_has(qemu, "vfio-pci,host=0000:01:00.0,id=gpu-fn0,bus=gpu-port,"
                                    "addr=00.0,multifunction=on"));
  g_assert_true(strv_json_has(qemu, "vfio-pci,host=0000:01:00.3,id=gpu-fn3,bus=gpu-port,"
                                    "addr=00.3"));
  g_assert_true(strv_json_has(qemu, "memory-backend-memfd,id=mem0,size=8G,hugetlb=on,"
                                    "hugetlbsize=2M,share=on,prealloc=on"));
  /* the firmware file as QEMU on this machine opens it: under the root */
  g_assert_true(strv_json_has(qemu, pflash0));
  g_assert_true(strv_json_has(qemu, "-S"));
  g_assert_cmpstr(json_array_get_string_element(swtpm, 0), ==, "swtpm");

  first_step = json_array_get_object_element(steps, 0);
  g_assert_cmpstr(json_object_get_string_member(first_step, "kind"), ==, "detach-gpu");
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(first_step, "subjects")), ==,
                   4);
  g_assert_nonnull(strstr(json_object_get_string_member(first_step, "description"),
                          "0000:01:00.0 0000:01:00.1 0000:01:00.2 0000:01:00.3"));
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(steps, 1), "kind"),
                  ==, "reserve-hugepages");
  g_assert_cmpint(json_object_get_int_member(json_array_get_object_element(steps, 1), "amount"), ==,
                  4096);
  /* what the start will reserve, raise and pin: 2M asked, no pool read here (reserved at
   * start), RAM + 1 GiB; this root's topology is incomplete, so auto pinning is off */
  {
    JsonObject *hp = json_object_get_object_member(obj, "hugepages");

    g_assert_nonnull(hp);
    g_assert_cmpint(json_object_get_int_member(hp, "page_size"), ==, 2 << 20);
    g_assert_cmpint(json_object_get_int_member(hp, "count"), ==, 4096);
    g_assert_true(json_object_get_null_member(hp, "node"));
    g_assert_cmpint(json_object_get_int_member(obj, "memlock_bytes"), ==,
                    G_GINT64_CONSTANT(9) << 30);
    g_assert_true(json_object_get_null_member(obj, "pinning"));
    g_assert_true(json_object_get_null_member(obj, "qemu_fallback"));
    g_assert_cmpstr(
        json_array_get_string_element(json_object_get_array_member(obj, "vfio_nodes"), 0), ==,
        "/dev/vfio/1");
  }
  fw = json_object_get_object_member(obj, "firmware");
  g_assert_cmpstr(json_object_get_string_member(fw, "descriptor"), ==,
                  "40-edk2-x86_64-secure-enrolled.json");

  /* nothing changed: the host tree and the config; no VM folder was made */
  after = snapshot(f);
  g_assert_cmpstr(before, ==, after);
  g_assert_false(g_file_test(data_dir, G_FILE_TEST_EXISTS));
  g_assert_false(g_file_test(run_dir, G_FILE_TEST_EXISTS));
  g_assert_false(g_file_test(state_dir, G_FILE_TEST_EXISTS));
}

static void
test_dry_run_human(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  /* a broken descriptor is a warning naming the file, not a failure */
  vxm_test_write_file(f->root, "etc/qemu/firmware/10-broken.json", "{not json");
  status = run_start(f, &out, &err, "--dry-run", "win11", NULL);
  g_test_message("%s", out);
  g_assert_cmpint(status, ==, 0);
  g_assert_nonnull(strstr(err, "/etc/qemu/firmware/10-broken.json"));
  g_assert_nonnull(strstr(out, "Host steps:"));
  g_assert_nonnull(strstr(out, "detach-gpu"));
  g_assert_nonnull(strstr(out, "  -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
                               "resourcecontrol=deny \\\n"));
  g_assert_nonnull(strstr(out, "swtpm:\n  swtpm \\\n  socket \\\n  --tpm2 \\\n"));
  g_assert_nonnull(strstr(out, "Hugepages:\n  4096 x 2 MiB pages from the 2 MiB hugepage pool\n"));
  g_assert_nonnull(strstr(out, "  RLIMIT_MEMLOCK: 9 GiB (guest RAM + 1 GiB)\n"));
  g_assert_nonnull(strstr(out, "CPU pinning:\n  none: cpu_pinning = auto: the vCPUs are not "
                               "pinned (cannot read the host's CPU topology: CPU 1 is online but "
                               "/sys/devices/system/cpu/cpu1/topology "
                               "is missing"));
}

/* Devices the config names that are not plugged in: those the watcher can add later are
 * planned (kind from udev's suffix, link folder from the name's form) and the note promises
 * it; an eventN or a name of unknown kind is left out with the reason and what to do. */
static void
test_dry_run_pending_inputs(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *conf = g_build_filename(f->home, ".config/vxm/vms/win11.conf", NULL);
  g_autofree char *text = NULL;
  g_autofree char *kbd = g_strdup_printf("%s/dev/input/by-id/usb-Nope_Keyboard-event-kbd", f->root);
  g_autofree char *mouse =
      g_strdup_printf("%s/dev/input/by-path/pci-0000:00:14.0-usb-0:2:1.0-event-mouse", f->root);
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  JsonArray *pending;
  int status;

  g_assert_true(g_file_get_contents(conf, &text, NULL, NULL));
  {
    g_autofree char *more = g_strconcat(
        text,
        "\n[input]\ninputs = usb-Nope_Keyboard-event-kbd, "
        "pci-0000:00:14.0-usb-0:2:1.0-event-mouse, event7, usb-Nope_Pad-event-joystick\n",
        NULL);
    g_assert_true(g_file_set_contents(conf, more, -1, NULL));
  }
  status = run_start(f, &out, &err, "--dry-run", "--json", "win11");
  if (status != 0)
    g_test_message("vxm start --dry-run --json: %s", err);
  g_assert_cmpint(status, ==, 0);
  json_parser_load_from_data(parser, out, -1, &error);
  g_assert_no_error(error);
  pending = json_object_get_array_member(json_node_get_object(json_parser_get_root(parser)),
                                         "pending_inputs");
  g_assert_cmpuint(json_array_get_length(pending), ==, 2);
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(pending, 0), "id"),
                  ==, "kbd0");
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(pending, 0), "evdev"),
                  ==, kbd);
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(pending, 1), "id"),
                  ==, "mouse0");
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(pending, 1), "evdev"),
                  ==, mouse);

  g_free(g_steal_pointer(&out));
  g_free(g_steal_pointer(&err));
  status = run_start(f, &out, &err, "--dry-run", "win11", NULL);
  g_test_message("%s%s", out, err);
  g_assert_cmpint(status, ==, 0);
  g_assert_nonnull(strstr(out, "input usb-Nope_Keyboard-event-kbd is not plugged in (no "
                               "/dev/input/by-id/usb-Nope_Keyboard-event-kbd): it joins the "
                               "guest when plugged in"));
  g_assert_nonnull(strstr(out, "input pci-0000:00:14.0-usb-0:2:1.0-event-mouse is not plugged in "
                               "(no /dev/input/by-path/pci-0000:00:14.0-usb-0:2:1.0-event-mouse): "
                               "it joins the guest when plugged in"));
  g_assert_nonnull(strstr(out, "input event7 is not plugged in, and stays out of the guest if it "
                               "is plugged in while the VM runs: event7 is a kernel number"));
  g_assert_nonnull(strstr(out, "name it by its /dev/input/by-id or by-path link"));
  g_assert_nonnull(
      strstr(out, "input usb-Nope_Pad-event-joystick is not plugged in, and stays out"));
  g_assert_nonnull(strstr(out, "plug it in and start the VM again"));
  g_assert_null(strstr(out, "event7 (not plugged in: added when it is)"));
  g_assert_null(strstr(out, "joystick (not plugged in: added when it is)"));
}

/* A VM whose lock is held (its supervisor runs) is not started twice. */
static void
test_already_running(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *dir = g_build_filename(f->home, "run", "vxm", "win11", NULL);
  g_autofree char *lock = g_build_filename(dir, "lock", NULL);
  int fd, status;

  g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
  fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(flock(fd, LOCK_EX | LOCK_NB), ==, 0);
  status = run_start(f, &out, &err, "win11", NULL, NULL);
  close(fd);
  if (status != 1 || strstr(err, "VM win11 is already running") == NULL)
    g_error("exit %d, stderr: %s", status, err);
  g_assert_nonnull(strstr(err, "vxm stop win11"));
}

/* The lock is held but nothing answers on the control socket (a hung supervisor): vxm stop
 * fails, names the supervisor's log and says how to get the host back. */
static void
test_stop_unreachable(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *dir = g_build_filename(f->home, "run", "vxm", "win11", NULL);
  g_autofree char *lock = g_build_filename(dir, "lock", NULL);
  const char *argv[] = {f->vxm, "stop", "--root", f->root, "win11", NULL};
  int fd, status;

  g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
  fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(flock(fd, LOCK_EX | LOCK_NB), ==, 0);
  status = vxm_test_run(argv, (const char *const *)f->env, &out, &err);
  close(fd);
  g_test_message("stdout:\n%sstderr:\n%s", out, err);
  g_assert_cmpint(status, ==, 1);
  g_assert_nonnull(strstr(err, "cannot stop VM win11"));
  g_assert_nonnull(strstr(err, "does not answer on"));
  g_assert_nonnull(strstr(err, "win11/vxm.log"));
  g_assert_nonnull(strstr(err, "`vxm recover win11`"));
}

static void
test_unknown_vm(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = run_start(f, &out, &err, "--dry-run", "nope", NULL);

  g_assert_cmpint(status, ==, 1);
  g_assert_nonnull(strstr(err, "nope"));
  g_assert_cmpstr(out, ==, "");
}

/* The dry run's prepare-looking-glass size for [memory] looking_glass = auto with @monitor, and
 * its notes. */
static gint64
looking_glass_planned(Fixture *f, const char *monitor, char **out_notes)
{
  g_autofree char *config = g_strdup_printf(
      "[gpu]\naddress = 01:00.0\n\n[memory]\nsize = 8G\nhugepages = 2M\nlooking_glass = auto\n\n"
      "[network]\nmac = 02:5e:a7:00:00:09\n\n[audio]\nbackend = none\n\n"
      "[display]\nmonitor = %s\n",
      monitor);
  g_autofree char *out = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  JsonArray *steps;
  gint64 amount = -1;

  g_autoptr(GString) notes = g_string_new(NULL);
  JsonArray *array;

  vxm_test_write_file(f->home, ".config/vxm/vms/win11.conf", config);
  g_assert_cmpint(run_start(f, &out, NULL, "--dry-run", "--json", "win11"), ==, 0);
  g_assert_true(json_parser_load_from_data(parser, out, -1, &error));
  array = json_object_get_array_member(json_node_get_object(json_parser_get_root(parser)), "notes");
  for (guint i = 0; i < json_array_get_length(array); i++)
    g_string_append_printf(notes, "%s\n", json_array_get_string_element(array, i));
  *out_notes = g_string_free(g_steal_pointer(&notes), FALSE);
  steps = json_object_get_array_member(json_node_get_object(json_parser_get_root(parser)), "steps");
  for (guint i = 0; i < json_array_get_length(steps); i++) {
    JsonObject *step = json_array_get_object_element(steps, i);

    if (g_strcmp0(json_object_get_string_member(step, "kind"), "prepare-looking-glass") == 0)
      amount = json_object_get_int_member(step, "amount");
  }
  return amount;
}

/* looking_glass = auto: sized for the configured monitor's preferred mode from its EDID (an
 * LG 27GL850, 2560x1440: 64 MiB), else for 4K (128 MiB), and the note says which. */
static void
test_looking_glass_auto(Fixture *f, gconstpointer data)
{
  g_autofree char *edid_src = vxm_test_source_path("tests/data/edid/lg-27gl850.bin");
  g_autofree char *edid = NULL;
  g_autofree char *edid_dest = NULL;
  g_autofree char *err = NULL;
  gsize len = 0;

  g_assert_true(g_file_get_contents(edid_src, &edid, &len, NULL));
  vxm_test_write_file(f->root, "sys/class/drm/card1-DP-1/status", "connected\n");
  edid_dest = g_build_filename(f->root, "sys/class/drm/card1-DP-1/edid", NULL);
  g_assert_true(g_file_set_contents(edid_dest, edid, (gssize)len, NULL));

  g_assert_cmpint(looking_glass_planned(f, "card1-DP-1", &err), ==, 64 << 20);
  g_assert_nonnull(strstr(err, "looking_glass = auto: 64 MiB for "));
  g_assert_nonnull(strstr(err, "preferred mode 2560x1440"));
  g_clear_pointer(&err, g_free);

  g_assert_cmpint(looking_glass_planned(f, "off", &err), ==, 128 << 20);
  g_assert_nonnull(strstr(err, "looking_glass = auto: 128 MiB, sized for 3840x2160: no monitor"));
  g_clear_pointer(&err, g_free);

  /* /dev/kvmfr0 of 32 MiB: refused before anything, with the module option */
  vxm_test_write_file(f->root, "dev/kvmfr0", "");
  vxm_test_write_file(f->root, "sys/module/kvmfr/parameters/static_size_mb", "32\n");
  {
    g_autofree char *out = NULL;
    const char *argv[] = {f->vxm, "start", "--root", f->root, "--dry-run", "win11", NULL};

    g_assert_cmpint(vxm_test_run(argv, (const char *const *)f->env, &out, &err), ==, 1);
    if (strstr(err, "/dev/kvmfr0 is 32 MiB but Looking Glass needs 128 MiB") == NULL ||
        strstr(err, "static_size_mb=128") == NULL)
      g_error("unexpected error: %s", err);
  }
}

/* hugepages = 1G on a host without 1 GiB pages: refused before anything, with the fix. */
static void
test_hugepages_size_missing(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GString) before = g_string_new(NULL);
  g_autoptr(GString) after = g_string_new(NULL);
  int status;

  vxm_test_write_file(f->home, ".config/vxm/vms/win11.conf",
                      "[gpu]\naddress = 01:00.0\n\n[memory]\nsize = 8G\nhugepages = 1G\n\n"
                      "[network]\nmac = 02:5e:a7:00:00:09\n\n[audio]\nbackend = none\n");
  snapshot_dir(before, f->tmp, "");
  status = run_start(f, &out, &err, "--dry-run", "win11", NULL);
  g_assert_cmpint(status, ==, 1);
  if (strstr(err, "hugepages = 1G, but this host offers no 1 GiB pages") == NULL ||
      strstr(err, "use hugepages = auto or off") == NULL)
    g_error("unexpected error: %s", err);
  snapshot_dir(after, f->tmp, "");
  g_assert_cmpstr(after->str, ==, before->str);
}

/* Reasons vxm start already knows are refused before the first host change, the dry run
 * included (exit 1): a boot-VGA guest GPU, a held card, a missing installer ISO. */
static void
test_refuses_known_reasons(Fixture *f, gconstpointer data)
{
  static const struct {
    const char *config;
    const char *expect;
  } cases[] = {
      {"[gpu]\naddress = 00:02.0\n", "its guest GPU 0000:00:02.0 cannot be given to a guest"},
      {"[gpu]\naddress = 01:00.0\n[media]\ninstaller_iso = /nonexistent/Win11.iso\n",
       "media.installer_iso = /nonexistent/Win11.iso: no such file"},
      {"[gpu]\naddress = 01:00.0\n", "1 process holds its guest GPU 0000:01:00.0: 1187"},
  };
  g_autoptr(GString) before = g_string_new(NULL);

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *config = g_strconcat(
        cases[i].config,
        "[memory]\nsize = 8G\nhugepages = 2M\n[network]\nmac = 02:5e:a7:00:00:09\n", NULL);
    g_autoptr(GString) after = g_string_new(NULL);

    vxm_test_write_file(f->home, ".config/vxm/vms/win11.conf", config);
    if (i == 2) {
      vxm_test_write_file(f->root, "proc/1187/comm", "nvidia-persiste\n");
      vxm_test_symlink(f->root, "proc/1187/fd/3", "/dev/nvidiactl");
    }
    g_string_truncate(before, 0);
    snapshot_dir(before, f->tmp, "");
    for (guint dry = 0; dry < 2; dry++) {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      g_assert_cmpint(run_start(f, &out, &err, dry ? "--dry-run" : "--foreground", "win11", NULL),
                      ==, 1);
      if (strstr(err, "refusing to start VM win11") == NULL || strstr(err, cases[i].expect) == NULL)
        g_error("case %zu: unexpected error: %s", i, err);
    }
    snapshot_dir(after, f->tmp, "");
    g_assert_cmpstr(after->str, ==, before->str);
  }
}

/* A name that is no VM is an error with a suggestion, not success; without a name the only
 * VM there is is used. */
static void
test_vm_names(Fixture *f, gconstpointer data)
{
  static const char *const commands[] = {"stop", "recover", "start"};
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
    const char *argv[] = {f->vxm, commands[i], "--root", f->root, "win12", NULL};

    g_assert_cmpint(vxm_test_run(argv, (const char *const *)f->env, &out, &err), ==, 1);
    if (strstr(err, "no VM win12 (did you mean 'win11'?)") == NULL)
      g_error("vxm %s win12: unexpected error: %s", commands[i], err);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
  }
  /* win11 is the only VM: vxm start without a name takes it */
  g_assert_cmpint(run_start(f, &out, &err, "--dry-run", NULL, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "win11"));
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  /* with two and none called default, it asks for one */
  vxm_test_write_file(f->home, ".config/vxm/vms/other.conf", "");
  g_assert_cmpint(run_start(f, &out, &err, "--dry-run", NULL, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "several VMs (other, win11)"));
}

static void
test_usage(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = run_start(f, &out, &err, "--json", "win11", NULL);

  g_assert_cmpint(status, ==, 2);
  g_assert_nonnull(strstr(err, "--json goes with --dry-run"));
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  /* -f is --force (stop, detach), never --foreground; an option's value is not an option */
  g_assert_cmpint(run_start(f, &out, &err, "-f", "win11", NULL), ==, 2);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_start(f, &out, &err, "--dry-run", "--jsn", "win11"), ==, 2);
  g_assert_nonnull(strstr(err, "did you mean --json?"));
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  {
    const char *argv[] = {f->vxm, "check", "--gpu", "--root", f->root, NULL};

    g_assert_cmpint(vxm_test_run(argv, (const char *const *)f->env, &out, &err), ==, 2);
    g_assert_nonnull(strstr(err, "--gpu needs a value"));
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
  }
  {
    const char *argv[] = {f->vxm, "strat", NULL};

    g_assert_cmpint(vxm_test_run(argv, (const char *const *)f->env, &out, &err), ==, 2);
    g_assert_nonnull(strstr(err, "did you mean 'start'?"));
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
  }
  {
    const char *argv[] = {f->vxm, "help", "start", NULL};

    g_assert_cmpint(vxm_test_run(argv, (const char *const *)f->env, &out, &err), ==, 0);
    g_assert_nonnull(strstr(out, "vxm start [OPTION"));
    g_assert_nonnull(strstr(out, "--dry-run"));
  }
}

/* Issue 17: [cpu] hide_kvm and hv_vendor_id set with vxm config --set and shown back by
 * --show; the dry-run's argv and its "guest" and "audio" members carry them; a 32 GiB
 * resizable BAR gets OVMF a 64 GiB 64-bit window; the audio latency goes to the backends that
 * take it. */
static void
test_dry_run_guest_compat(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  JsonObject *obj, *guest, *audio, *settings;
  JsonArray *qemu;
  const char *backend;
  int status;

  {
    const char *set[] = {f->vxm,
                         "config",
                         "win11",
                         "--set",
                         "cpu.hide_kvm=true",
                         "--set",
                         "hv_vendor_id=vxmvendorid",
                         "--set",
                         "audio.backend=auto",
                         "--set",
                         "latency_ms=30",
                         NULL};
    const char *bad[] = {f->vxm, "config", "win11", "--set", "hv_vendor_id=a,b", NULL};
    const char *show[] = {f->vxm, "config", "win11", "--show", "--json", NULL};

    g_assert_cmpint(vxm_test_run(set, (const char *const *)f->env, &out, &err), ==, 0);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
    /* refused with what is allowed, and nothing changed */
    g_assert_cmpint(vxm_test_run(bad, (const char *const *)f->env, &out, &err), ==, 2);
    g_assert_nonnull(strstr(err, "[cpu] hv_vendor_id = 'a,b'"));
    g_assert_nonnull(strstr(err, "other than a comma"));
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(vxm_test_run(show, (const char *const *)f->env, &out, &err), ==, 0);
    json_parser_load_from_data(parser, out, -1, &error);
    g_assert_no_error(error);
    settings = json_object_get_object_member(json_node_get_object(json_parser_get_root(parser)),
                                             "settings");
    g_assert_cmpstr(
        json_object_get_string_member(json_object_get_object_member(settings, "cpu"), "hide_kvm"),
        ==, "true");
    g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(settings, "cpu"),
                                                  "hv_vendor_id"),
                    ==, "vxmvendorid");
    g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(settings, "audio"),
                                                  "latency_ms"),
                    ==, "30");
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
  }
  /* the RTX 2070 as a card with Resizable BAR on: BAR 1 at 32 GiB (it offers 256 MiB-32 GiB),
   * BAR 3 32 MiB */
  vxm_test_sysfs_set_bar(f->root, "0000:01:00.0", 1, G_GUINT64_CONSTANT(0x4000000000),
                         G_GUINT64_CONSTANT(32) << 30, VXM_TEST_BAR_MEM64_PREFETCH, 0xff00);
  vxm_test_sysfs_set_bar(f->root, "0000:01:00.0", 3, G_GUINT64_CONSTANT(0x4800000000),
                         G_GUINT64_CONSTANT(32) << 20, VXM_TEST_BAR_MEM64_PREFETCH, 0);

  status = run_start(f, &out, &err, "--dry-run", "--json", "win11");
  if (status != 0)
    g_test_message("vxm start --dry-run --json: %s", err);
  g_assert_cmpint(status, ==, 0);
  g_object_unref(parser);
  parser = json_parser_new();
  json_parser_load_from_data(parser, out, -1, &error);
  g_assert_no_error(error);
  obj = json_node_get_object(json_parser_get_root(parser));
  qemu = json_object_get_array_member(obj, "qemu");
  guest = json_object_get_object_member(obj, "guest");
  audio = json_object_get_object_member(obj, "audio");
  g_assert_true(json_object_get_boolean_member(guest, "hide_kvm"));
  g_assert_cmpstr(json_object_get_string_member(guest, "hv_vendor_id"), ==, "vxmvendorid");
  g_assert_cmpstr(json_object_get_string_member(guest, "vmport"), ==, "off");
  g_assert_cmpint(json_object_get_int_member(guest, "gpu_bar64_bytes"), ==,
                  (G_GINT64_CONSTANT(32) << 30) + (G_GINT64_CONSTANT(32) << 20));
  g_assert_cmpint(json_object_get_int_member(guest, "pci_mmio64_mb"), ==, 65536);
  g_assert_true(strv_json_has(qemu, "name=opt/ovmf/X-PciMmio64Mb,string=65536"));
  g_assert_true(strv_json_has(qemu, "host,kvm=off,hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,"
                                    "hv-vpindex,hv-runtime,hv-synic,hv-stimer,hv-reset,"
                                    "hv-frequencies,hv-tlbflush,hv-ipi,hv-time,"
                                    "hv-vendor-id=vxmvendorid"));
  /* the backend this machine's QEMU has decides whether the latency applies */
  backend = json_object_get_string_member(audio, "backend");
  g_assert_nonnull(backend);
  if (g_strcmp0(backend, "pipewire") == 0 || g_strcmp0(backend, "pa") == 0) {
    g_autofree char *dev =
        g_strdup_printf("%s,id=snd0,in.latency=30000,out.latency=30000", backend);

    g_assert_cmpint(json_object_get_int_member(audio, "latency_us"), ==, 30000);
    g_assert_true(strv_json_has(qemu, dev));
  } else {
    g_assert_true(json_object_get_null_member(audio, "latency_us"));
    g_assert_nonnull(strstr(out, "latency_ms = 30 is not applied"));
  }

  /* without the large BAR, the firmware's default window */
  vxm_test_sysfs_set_bar(f->root, "0000:01:00.0", 1, G_GUINT64_CONSTANT(0x4000000000),
                         G_GUINT64_CONSTANT(256) << 20, VXM_TEST_BAR_MEM64_PREFETCH, 0xff00);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_start(f, &out, &err, "--dry-run", "win11", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "64-bit PCI window: the firmware's default"));
  g_assert_nonnull(strstr(out, "KVM signature: hidden (hide_kvm)"));
  g_assert_null(strstr(out, "X-PciMmio64Mb"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define FX(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  FX("/vxm/cli/start/dry-run-json", test_dry_run_json);
  FX("/vxm/cli/start/dry-run-human", test_dry_run_human);
  FX("/vxm/cli/start/dry-run-pending-inputs", test_dry_run_pending_inputs);
  FX("/vxm/cli/start/dry-run-guest-compat", test_dry_run_guest_compat);
  FX("/vxm/cli/start/already-running", test_already_running);
  FX("/vxm/cli/start/unknown-vm", test_unknown_vm);
  FX("/vxm/cli/stop/supervisor-unreachable", test_stop_unreachable);
  FX("/vxm/cli/start/json-needs-dry-run", test_usage);
  FX("/vxm/cli/start/hugepages-size-missing", test_hugepages_size_missing);
  FX("/vxm/cli/start/looking-glass-auto", test_looking_glass_auto);
  FX("/vxm/cli/start/refuses-known-reasons", test_refuses_known_reasons);
  FX("/vxm/cli/vm-names", test_vm_names);
  return g_test_run();
}
