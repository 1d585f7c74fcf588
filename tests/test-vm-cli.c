/* Integration tests: the real vxm binary with HOME and the XDG folders in a temporary folder
 * and --root on a small static host tree (QEMU's firmware descriptors and OVMF files, meminfo,
 * CPUs): init (real qemu-img, real swtpm_setup), refusals, failures that must leave nothing,
 * list, config, reset with planted symlinks and a held lock, and the virtio-win download from
 * a server on 127.0.0.1. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "common/vxm-error.h"
#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-lock.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-test-http.h"
#include "vxm-test-sysfs.h"
#include "vxm-test-util.h"

static gboolean private_mounts; /* this process has its own mount namespace */

typedef struct {
  char *tmp;
  char *root; /* --root */
  char *home;
  char *config_home, *data_home, *state_home, *runtime_dir, *cache_home;
  GPtrArray *env; /* "KEY=VALUE" for the binary */
} Env;

static void
copy_into(const char *from, const char *root, const char *relative)
{
  g_autofree char *data = NULL;
  gsize len;

  g_assert_true(g_file_get_contents(from, &data, &len, NULL));
  vxm_test_write_file(root, relative, ""); /* parents */
  {
    g_autofree char *to = g_build_filename(root, relative, NULL);
    g_assert_true(g_file_set_contents(to, data, (gssize)len, NULL));
  }
}

static void
env_setup(Env *e, gconstpointer data)
{
  static const char *const descriptors[] = {"40-edk2-x86_64-secure-enrolled.json",
                                            "50-edk2-x86_64-secure.json", "60-edk2-x86_64.json"};
  static const char *const ovmf[] = {"OVMF_CODE_4M.secboot.fd", "OVMF_VARS_4M.ms.fd",
                                     "OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd"};

  e->tmp = vxm_test_mkdtemp();
  e->root = g_build_filename(e->tmp, "root", NULL);
  e->home = g_build_filename(e->tmp, "home", NULL);
  e->config_home = g_build_filename(e->home, ".config", NULL);
  e->data_home = g_build_filename(e->home, ".local/share", NULL);
  e->state_home = g_build_filename(e->home, ".local/state", NULL);
  e->cache_home = g_build_filename(e->home, ".cache", NULL);
  e->runtime_dir = g_build_filename(e->tmp, "run", NULL);
  g_assert_cmpint(g_mkdir_with_parents(e->home, 0700), ==, 0);
  g_assert_cmpint(g_mkdir_with_parents(e->runtime_dir, 0700), ==, 0);

  /* the host: Debian's firmware descriptors and OVMF files, 32 GiB, 12 CPUs */
  for (gsize i = 0; i < G_N_ELEMENTS(descriptors); i++) {
    g_autofree char *from = g_build_filename("/usr/share/qemu/firmware", descriptors[i], NULL);
    g_autofree char *rel = g_build_filename("usr/share/qemu/firmware", descriptors[i], NULL);
    copy_into(from, e->root, rel);
  }
  for (gsize i = 0; i < G_N_ELEMENTS(ovmf); i++) {
    g_autofree char *from = g_build_filename("/usr/share/OVMF", ovmf[i], NULL);
    g_autofree char *rel = g_build_filename("usr/share/OVMF", ovmf[i], NULL);
    copy_into(from, e->root, rel);
  }
  vxm_test_symlink(e->root, "usr/share/OVMF/OVMF_CODE_4M.ms.fd", "OVMF_CODE_4M.secboot.fd");
  vxm_test_write_file(e->root, "proc/meminfo", "MemTotal:       32768000 kB\n");
  vxm_test_write_file(e->root, "sys/devices/system/cpu/online", "0-11\n");
  vxm_test_write_file(e->root, "sys/devices/system/cpu/cpu0/topology/thread_siblings_list",
                      "0,6\n");
  vxm_test_write_file(e->root, "sys/bus/pci/devices", NULL);

  e->env = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(e->env, g_strconcat("HOME=", e->home, NULL));
  g_ptr_array_add(e->env, g_strconcat("XDG_CONFIG_HOME=", e->config_home, NULL));
  g_ptr_array_add(e->env, g_strconcat("XDG_DATA_HOME=", e->data_home, NULL));
  g_ptr_array_add(e->env, g_strconcat("XDG_STATE_HOME=", e->state_home, NULL));
  g_ptr_array_add(e->env, g_strconcat("XDG_CACHE_HOME=", e->cache_home, NULL));
  g_ptr_array_add(e->env, g_strconcat("XDG_RUNTIME_DIR=", e->runtime_dir, NULL));
  g_ptr_array_add(e->env, g_strconcat("VXM_ROOT=", e->root, NULL));
  g_ptr_array_add(e->env, g_strdup("no_proxy=127.0.0.1"));
  g_ptr_array_add(e->env, g_strdup("NO_PROXY=127.0.0.1"));
  g_ptr_array_add(e->env, NULL);

  /* this process computes the same paths as the binary */
  g_setenv("HOME", e->home, TRUE);
  g_setenv("XDG_CONFIG_HOME", e->config_home, TRUE);
  g_setenv("XDG_DATA_HOME", e->data_home, TRUE);
  g_setenv("XDG_STATE_HOME", e->state_home, TRUE);
  g_setenv("XDG_RUNTIME_DIR", e->runtime_dir, TRUE);
}

static void
env_teardown(Env *e, gconstpointer data)
{
  vxm_test_rm_rf(e->tmp);
  g_free(e->tmp);
  g_free(e->root);
  g_free(e->home);
  g_free(e->config_home);
  g_free(e->data_home);
  g_free(e->state_home);
  g_free(e->runtime_dir);
  g_free(e->cache_home);
  g_ptr_array_unref(e->env);
}

/* Runs vxm ARGS... with the test's environment plus @extra ("KEY=VALUE", nullable). */
static int
vxm(Env *e, const char *extra, char **out, char **err, ...)
{
  g_autofree char *bin = vxm_test_build_path("src/cli/vxm");
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_autoptr(GPtrArray) envp = g_ptr_array_new();
  const char *arg;
  va_list ap;
  g_autofree char *o = NULL;
  g_autofree char *r = NULL;
  int status;

  g_ptr_array_add(argv, bin);
  va_start(ap, err);
  while ((arg = va_arg(ap, const char *)) != NULL)
    g_ptr_array_add(argv, (gpointer)arg);
  va_end(ap);
  g_ptr_array_add(argv, NULL);
  for (guint i = 0; i + 1 < e->env->len; i++)
    g_ptr_array_add(envp, g_ptr_array_index(e->env, i));
  if (extra != NULL)
    g_ptr_array_add(envp, (gpointer)extra);
  g_ptr_array_add(envp, NULL);
  status = vxm_test_run((const char *const *)argv->pdata, (const char *const *)envp->pdata, &o, &r);
  if (g_test_verbose())
    g_printerr("vxm exit %d\n--- stdout\n%s--- stderr\n%s", status, o, r);
  if (out != NULL)
    *out = g_steal_pointer(&o);
  if (err != NULL)
    *err = g_steal_pointer(&r);
  return status;
}

static VxmVmPaths *
paths_for(const char *name)
{
  g_autoptr(GError) error = NULL;
  VxmVmPaths *p = vxm_vm_paths_new(name, &error);

  g_assert_no_error(error);
  return p;
}

static gboolean
lexists(const char *path)
{
  struct stat st;
  return lstat(path, &st) == 0;
}

/* After a failed init: no config, no data folder, no temporary folder, no runtime folder. */
static void
assert_nothing_of(Env *e, const char *name)
{
  g_autoptr(VxmVmPaths) p = paths_for(name);
  g_autofree char *vxm_data = g_build_filename(e->data_home, "vxm", NULL);
  g_autoptr(GDir) dir = g_dir_open(vxm_data, 0, NULL);
  const char *entry;

  g_assert_false(lexists(p->config_file));
  g_assert_false(lexists(p->data_dir));
  g_assert_false(lexists(p->runtime_dir));
  g_assert_false(lexists(p->state_dir));
  while (dir != NULL && (entry = g_dir_read_name(dir)) != NULL) {
    if (g_str_has_prefix(entry, "."))
      g_error("init left %s/%s behind", vxm_data, entry);
  }
}

static VxmVmConfig *
load_config(const char *name)
{
  g_autoptr(VxmVmPaths) p = paths_for(name);
  g_autoptr(GError) error = NULL;
  VxmVmConfig *c = vxm_vm_config_load(p, &error);

  g_assert_no_error(error);
  return c;
}

static void
assert_contains(const char *haystack, const char *needle)
{
  if (haystack == NULL || strstr(haystack, needle) == NULL)
    g_error("'%s' does not contain '%s'", haystack ? haystack : "(null)", needle);
}

/* ---- init ---------------------------------------------------------------------------------- */

static void
test_init(Env *e, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(VxmVmPaths) p = paths_for("win11");
  g_autoptr(VxmVmConfig) c = NULL;
  g_autofree char *vars = NULL;
  g_autofree char *template = NULL;
  g_autofree char *disk = NULL;
  g_autofree char *permall = g_build_filename(p->tpm_dir, "tpm2-00.permall", NULL);
  g_autofree char *template_path =
      g_build_filename(e->root, "usr/share/OVMF/OVMF_VARS_4M.ms.fd", NULL);
  gsize vars_len, template_len, disk_len;
  struct stat st;
  guint first;

  g_assert_cmpint(vxm(e, NULL, &out, &err, "init", "win11", "--disk-size", "20G", NULL), ==, 0);
  assert_contains(out, "firmware");
  assert_contains(out, "40-edk2-x86_64-secure-enrolled.json");
  assert_contains(out, "created 20 GiB qcow2");
  assert_contains(out, "TPM 2.0 state");
  assert_contains(out, " s)\n");
  assert_contains(out, "VM win11 is ready");

  c = load_config("win11");
  g_assert_cmpstr(c->firmware_code, ==, "/usr/share/OVMF/OVMF_CODE_4M.ms.fd");
  g_assert_cmpstr(c->firmware_vars_template, ==, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
  g_assert_cmpstr(c->firmware_descriptor, ==, "40-edk2-x86_64-secure-enrolled.json");
  g_assert_cmpuint(c->disk_size, ==, G_GUINT64_CONSTANT(20) << 30);
  g_assert_nonnull(c->mac);
  first = (guint)g_ascii_strtoull(c->mac, NULL, 16);
  g_assert_cmpuint(first & 3, ==, 2);

  /* the VM's own copy of the VARS template */
  g_assert_true(g_file_get_contents(p->efi_vars, &vars, &vars_len, NULL));
  g_assert_true(g_file_get_contents(template_path, &template, &template_len, NULL));
  g_assert_cmpmem(vars, vars_len, template, template_len);
  /* a qcow2 disk made by qemu-img */
  g_assert_true(g_file_get_contents(p->disk_qcow2, &disk, &disk_len, NULL));
  g_assert_cmpmem(disk, 4, "QFI\xfb", 4);
  /* TPM state made by swtpm_setup */
  g_assert_cmpint(stat(permall, &st), ==, 0);
  g_assert_cmpint(st.st_size, >, 0);
  /* private folders */
  g_assert_cmpint(stat(p->data_dir, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0700);
  g_assert_cmpint(stat(p->tpm_dir, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0077, ==, 0);
  g_assert_cmpint(stat(p->config_file, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);
  g_assert_true(g_file_test(p->state_dir, G_FILE_TEST_IS_DIR));
}

static void
test_init_settings(Env *e, gconstpointer data)
{
  g_autofree char *err = NULL;
  g_autoptr(VxmVmConfig) c = NULL;
  g_autoptr(VxmVmPaths) p = paths_for("plain");

  /* no TPM, no secure boot, raw disk: the non-secure firmware pair, no swtpm */
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "init", "plain", "--set", "tpm=off", "--set",
                      "secure_boot=off", "--set", "disk.format=raw", "--disk-size", "1G", "--set",
                      "memory.size=8G", NULL),
                  ==, 0);
  c = load_config("plain");
  g_assert_false(c->tpm);
  g_assert_cmpstr(c->firmware_descriptor, ==, "60-edk2-x86_64.json");
  g_assert_cmpstr(c->firmware_code, ==, "/usr/share/OVMF/OVMF_CODE_4M.fd");
  g_assert_cmpuint(c->memory_bytes, ==, G_GUINT64_CONSTANT(8) << 30);
  g_assert_true(g_file_test(p->disk_raw, G_FILE_TEST_IS_REGULAR));
  g_assert_false(lexists(p->tpm_dir));
  g_clear_pointer(&err, g_free);

  /* a bad setting is a bad command line, refused before anything is made, naming the key */
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "init", "bad", "--set", "memory.size=2G", NULL), ==, 2);
  assert_contains(err, "[memory] size = '2G'");
  assert_nothing_of(e, "bad");
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "init", "bad", "--disk-size", "lots", NULL), ==, 2);
  assert_contains(err, "[disk] size = 'lots'");
  assert_nothing_of(e, "bad");
  g_clear_pointer(&err, g_free);

  /* --json: the outcome for scripts, the steps in "done"; stop of a VM that is not running */
  {
    g_autofree char *json_out = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *o;

    g_assert_cmpint(vxm(e, NULL, &json_out, NULL, "init", "scripted", "--json", "--set", "tpm=off",
                        "--disk-size", "1G", NULL),
                    ==, 0);
    g_assert_true(json_parser_load_from_data(parser, json_out, -1, NULL));
    o = json_node_get_object(json_parser_get_root(parser));
    g_assert_cmpstr(json_object_get_string_member(o, "name"), ==, "scripted");
    g_assert_cmpstr(json_object_get_string_member(o, "state"), ==, "created");
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(o, "done")), >, 2);
    g_clear_pointer(&json_out, g_free);
    g_assert_cmpint(vxm(e, NULL, &json_out, NULL, "stop", "scripted", "--json", NULL), ==, 0);
    g_assert_true(json_parser_load_from_data(parser, json_out, -1, NULL));
    o = json_node_get_object(json_parser_get_root(parser));
    g_assert_cmpstr(json_object_get_string_member(o, "state"), ==, "not-running");
  }

  /* the monitor's two inputs go together: one init sets both */
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "init", "pair", "--set", "tpm=off", "--set",
                      "host_input=hdmi1", "--set", "guest_input=dp1", "--disk-size", "1G", NULL),
                  ==, 0);
  g_clear_pointer(&err, g_free);
  {
    g_autoptr(VxmVmConfig) pair = load_config("pair");
    g_assert_cmpuint(pair->host_input, ==, 0x11);
    g_assert_cmpuint(pair->guest_input, ==, 0x0f);
  }

  g_assert_cmpint(vxm(e, NULL, NULL, &err, "init", "bad", "--set", "vcpu=2", NULL), ==, 2);
  assert_contains(err, "did you mean 'cpu.vcpus'?");
  assert_nothing_of(e, "bad");
  g_clear_pointer(&err, g_free);

  g_assert_cmpint(vxm(e, NULL, NULL, &err, "init", "../evil", NULL), ==, 2);
  assert_contains(err, "a name is not a path");
}

static void
test_init_refuses_overwrite(Env *e, gconstpointer data)
{
  g_autofree char *err = NULL;
  g_autoptr(VxmVmConfig) before = NULL;
  g_autoptr(VxmVmConfig) same = NULL;
  g_autoptr(VxmVmConfig) replaced = NULL;
  g_autoptr(VxmVmPaths) p = paths_for("win11");
  g_autofree char *marker = g_build_filename(p->data_dir, "marker", NULL);

  g_assert_cmpint(vxm(e, NULL, NULL, NULL, "init", "win11", "--set", "tpm=off", NULL), ==, 0);
  before = load_config("win11");
  vxm_test_write_file(p->data_dir, "marker", "mine");

  g_assert_cmpint(vxm(e, NULL, NULL, &err, "init", "win11", NULL), ==, 1);
  assert_contains(err, "VM win11 already exists");
  assert_contains(err, "--force");
  same = load_config("win11");
  g_assert_cmpstr(same->mac, ==, before->mac);
  g_assert_true(g_file_test(marker, G_FILE_TEST_EXISTS));

  /* --force replaces everything: new MAC, the old files gone, the new ones in place */
  g_assert_cmpint(vxm(e, NULL, NULL, NULL, "init", "win11", "--force", "--set", "tpm=off", NULL),
                  ==, 0);
  replaced = load_config("win11");
  g_assert_cmpstr(replaced->mac, !=, before->mac);
  g_assert_false(g_file_test(marker, G_FILE_TEST_EXISTS));
  g_assert_true(g_file_test(p->efi_vars, G_FILE_TEST_EXISTS));
  assert_nothing_of(e, "no-such-vm"); /* and no temporary folders */
}

static void
test_init_refuses_while_running(Env *e, gconstpointer data)
{
  g_autoptr(VxmVmPaths) p = paths_for("win11");
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int lock;

  g_assert_cmpint(vxm(e, NULL, NULL, NULL, "init", "win11", "--set", "tpm=off", NULL), ==, 0);
  lock = vxm_vm_lock_acquire(p, &error);
  g_assert_no_error(error);
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "init", "win11", "--force", NULL), ==, 1);
  assert_contains(err, "VM win11 is running");
  close(lock);
}

/* A folder of symlinks to the real tools, minus some, plus fakes. */
static char *
tool_dir(Env *e, const char *const *real, const char *fake_name, const char *fake_target)
{
  char *dir = g_build_filename(e->tmp, "bin", NULL);

  g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
  for (gsize i = 0; real != NULL && real[i] != NULL; i++) {
    g_autofree char *found = g_find_program_in_path(real[i]);
    g_assert_nonnull(found);
    vxm_test_symlink(dir, real[i], found);
  }
  if (fake_name != NULL)
    vxm_test_symlink(dir, fake_name, fake_target);
  return dir;
}

static void
test_init_fails_without_qemu_img(Env *e, gconstpointer data)
{
  const char *const tools[] = {"swtpm_setup", "swtpm", "swtpm_localca", NULL};
  g_autofree char *bin = tool_dir(e, tools, NULL, NULL);
  g_autofree char *path = g_strconcat("PATH=", bin, NULL);
  g_autofree char *err = NULL;

  g_assert_cmpint(vxm(e, path, NULL, &err, "init", "win11", NULL), ==, 1);
  assert_contains(err, "qemu-img not found in PATH: install qemu-utils");
  assert_nothing_of(e, "win11");
}

static void
test_init_fails_in_swtpm_setup(Env *e, gconstpointer data)
{
  const char *const tools[] = {"qemu-img", "swtpm", "swtpm_localca", NULL};
  g_autofree char *falsebin = g_find_program_in_path("false");
  g_autofree char *bin = tool_dir(e, tools, "swtpm_setup", falsebin);
  g_autofree char *path = g_strconcat("PATH=", bin, NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  /* the disk is made first, then swtpm_setup fails: the disk must go too */
  g_assert_cmpint(vxm(e, path, &out, &err, "init", "win11", NULL), ==, 1);
  assert_contains(out, "created 128 GiB qcow2");
  assert_contains(err, "creating the TPM state (swtpm_setup) failed (exit status 1)");
  assert_nothing_of(e, "win11");
}

static void
test_init_fails_with_missing_disk_folder(Env *e, gconstpointer data)
{
  g_autofree char *err = NULL;
  g_autofree char *disk = g_build_filename(e->tmp, "nowhere", "disk.qcow2", NULL);
  g_autofree char *set = g_strconcat("disk.path=", disk, NULL);

  g_assert_cmpint(vxm(e, NULL, NULL, &err, "init", "win11", "--set", set, NULL), ==, 1);
  assert_contains(err, "does not exist");
  assert_nothing_of(e, "win11");
}

/* Root only: a private mount namespace for tmpfs mounts that vanish with this process. */
static char *
mount_tmpfs(Env *e, const char *name, const char *options, unsigned long flags)
{
  char *dir = g_build_filename(e->tmp, name, NULL);

  g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
  if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | flags, options) != 0)
    g_error("mount tmpfs on %s: %s", dir, g_strerror(errno));
  return dir;
}

static void
test_init_fails_on_full_disk(Env *e, gconstpointer data)
{
  g_autofree char *err = NULL;
  g_autofree char *tiny = NULL;
  g_autofree char *data_env = NULL;
  g_autofree char *small = NULL;
  g_autofree char *disk_set = NULL;

  if (!vxm_test_require_root())
    return;
  if (!private_mounts) {
    g_test_skip("no private mount namespace");
    return;
  }
  /* the data folder on a 256 KiB filesystem: the 528 KiB VARS copy does not fit */
  tiny = mount_tmpfs(e, "tiny", "size=256k,mode=0700", 0);
  data_env = g_strconcat("XDG_DATA_HOME=", tiny, NULL);
  g_setenv("XDG_DATA_HOME", tiny, TRUE);
  g_assert_cmpint(vxm(e, data_env, NULL, &err, "init", "win11", NULL), ==, 1);
  assert_contains(err, "No space left on device");
  assert_nothing_of(e, "win11");
  g_setenv("XDG_DATA_HOME", e->data_home, TRUE);
  g_clear_pointer(&err, g_free);

  /* the disk on a 16 KiB filesystem: qemu-img fails, after the VARS copy */
  small = mount_tmpfs(e, "small", "size=16k,mode=0700", 0);
  disk_set = g_strdup_printf("disk.path=%s/disk.qcow2", small);
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "init", "win11", "--set", disk_set, NULL), ==, 1);
  assert_contains(err, "creating the disk failed");
  assert_contains(err, "No space left on device");
  assert_nothing_of(e, "win11");
  {
    g_autofree char *left = g_build_filename(small, "disk.qcow2", NULL);
    g_assert_false(lexists(left));
  }
  umount2(tiny, MNT_DETACH);
  umount2(small, MNT_DETACH);
}

static void
test_init_fails_on_read_only_disk_folder(Env *e, gconstpointer data)
{
  g_autofree char *err = NULL;
  g_autofree char *ro = NULL;
  g_autofree char *disk_set = NULL;

  if (!vxm_test_require_root())
    return;
  if (!private_mounts) {
    g_test_skip("no private mount namespace");
    return;
  }
  /* read-only even for root */
  ro = mount_tmpfs(e, "ro", "size=1m", MS_RDONLY);
  disk_set = g_strdup_printf("disk.path=%s/disk.qcow2", ro);
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "init", "win11", "--set", disk_set, NULL), ==, 1);
  assert_contains(err, "creating the disk failed");
  assert_contains(err, "Read-only file system");
  assert_nothing_of(e, "win11");
  umount2(ro, MNT_DETACH);
}

/* ---- download through init ----------------------------------------------------------------- */

static GBytes *
iso_bytes(void)
{
  gsize size = 2 * 1024 * 1024 + 77;
  guint8 *buf = g_malloc(size);

  for (gsize i = 0; i < size; i++)
    buf[i] = (guint8)(i % 251);
  return g_bytes_new_take(buf, size);
}

static void
test_init_downloads_virtio(Env *e, gconstpointer data)
{
  g_autoptr(VxmTestHttp) http = vxm_test_http_new();
  g_autoptr(GBytes) iso = iso_bytes();
  g_autofree char *sha = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, iso);
  g_autofree char *url = vxm_test_http_url(http, "/stable/virtio-win-0.1.240.iso");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(VxmVmConfig) c = NULL;
  g_autoptr(VxmVmPaths) p = paths_for("win11");
  g_autofree char *expect = g_build_filename(p->data_dir, "virtio-win-0.1.240.iso", NULL);
  g_autofree char *got = NULL;
  gsize got_len;

  vxm_test_http_add_file(http, "/stable/virtio-win-0.1.240.iso", iso);
  g_assert_cmpint(vxm(e, NULL, &out, &err, "init", "win11", "--set", "tpm=off", "--virtio-iso", url,
                      "--sha256", sha, NULL),
                  ==, 0);
  /* not a terminal: plain progress lines, no carriage returns */
  assert_contains(out, "  download    100%");
  g_assert_null(strchr(out, '\r'));
  assert_contains(out, "downloaded virtio-win-0.1.240.iso (2.0 MiB), SHA-256 verified");
  c = load_config("win11");
  g_assert_cmpstr(c->virtio_iso, ==, expect);
  g_assert_true(g_file_get_contents(expect, &got, &got_len, NULL));
  g_assert_cmpmem(got, got_len, g_bytes_get_data(iso, NULL), g_bytes_get_size(iso));
}

/* On a terminal: a progress bar redrawn in place, with percent, MiB/s and ETA. */
static void
test_init_download_progress_bar(Env *e, gconstpointer data)
{
  g_autoptr(VxmTestHttp) http = vxm_test_http_new();
  g_autoptr(GBytes) iso = iso_bytes();
  g_autofree char *url = vxm_test_http_url(http, "/virtio-win.iso");
  g_autofree char *bin = vxm_test_build_path("src/cli/vxm");
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) seen = g_string_new(NULL);
  int master, slave;
  char buf[4096];
  ssize_t n;

  vxm_test_http_add_file(http, "/virtio-win.iso", iso);
  master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  g_assert_cmpint(master, >=, 0);
  g_assert_cmpint(grantpt(master), ==, 0);
  g_assert_cmpint(unlockpt(master), ==, 0);
  slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  g_assert_cmpint(slave, >=, 0);
  for (guint i = 0; i + 1 < e->env->len; i++) {
    g_auto(GStrv) kv = g_strsplit(g_ptr_array_index(e->env, i), "=", 2);
    g_subprocess_launcher_setenv(launcher, kv[0], kv[1], TRUE);
  }
  g_subprocess_launcher_take_stdout_fd(launcher, slave);
  proc = g_subprocess_launcher_spawn(launcher, &error, bin, "init", "win11", "--set", "tpm=off",
                                     "--virtio-iso", url, NULL);
  g_assert_no_error(error);
  g_subprocess_wait(proc, NULL, &error);
  g_assert_no_error(error);
  g_object_unref(g_steal_pointer(&launcher)); /* closes our copy of the slave */
  while ((n = read(master, buf, sizeof buf)) > 0)
    g_string_append_len(seen, buf, n);
  close(master);
  g_assert_cmpint(g_subprocess_get_exit_status(proc), ==, 0);
  assert_contains(seen->str, "\r  download    [##############################] 100%");
  assert_contains(seen->str, "MiB/s  ETA ");
  /* redrawn in place: a bar followed by a carriage return, no new line between */
  assert_contains(seen->str, " \r  download    [");
}

static void
test_init_download_resumes(Env *e, gconstpointer data)
{
  g_autoptr(VxmTestHttp) http = vxm_test_http_new();
  g_autoptr(GBytes) iso = iso_bytes();
  g_autofree char *sha = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, iso);
  g_autofree char *url = vxm_test_http_url(http, "/virtio-win.iso");
  g_autofree char *part =
      g_build_filename(e->cache_home, "vxm", "downloads", "virtio-win.iso.part", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GPtrArray) ranges = NULL;
  struct stat st;

  vxm_test_http_add_file(http, "/virtio-win.iso", iso);
  vxm_test_http_drop_next_after(http, 700000);
  g_assert_cmpint(
      vxm(e, NULL, &out, &err, "init", "win11", "--virtio-iso", url, "--sha256", sha, NULL), ==, 1);
  assert_contains(err, "run the same command again to resume");
  assert_nothing_of(e, "win11");
  /* the partial download is kept in the cache, outside any VM */
  g_assert_cmpint(stat(part, &st), ==, 0);
  g_assert_cmpint(st.st_size, ==, 700000);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  g_assert_cmpint(
      vxm(e, NULL, &out, &err, "init", "win11", "--virtio-iso", url, "--sha256", sha, NULL), ==, 0);
  assert_contains(out, "(resumed)");
  ranges = vxm_test_http_get_ranges(http);
  g_assert_cmpuint(ranges->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(ranges, 1), ==, "bytes=700000-");
  g_assert_false(lexists(part));
}

static void
test_init_download_errors(Env *e, gconstpointer data)
{
  g_autoptr(VxmTestHttp) http = vxm_test_http_new();
  g_autoptr(GBytes) iso = iso_bytes();
  g_autofree char *url = vxm_test_http_url(http, "/virtio-win.iso");
  g_autofree char *missing = vxm_test_http_url(http, "/gone.iso");
  g_autofree char *refused =
      g_strdup_printf("http://127.0.0.1:%u/virtio-win.iso", vxm_test_http_unused_port());
  g_autofree char *part =
      g_build_filename(e->cache_home, "vxm", "downloads", "virtio-win.iso.part", NULL);
  g_autofree char *err = NULL;
  const char *wrong = "1111111111111111111111111111111111111111111111111111111111111111";

  vxm_test_http_add_file(http, "/virtio-win.iso", iso);
  g_assert_cmpint(
      vxm(e, NULL, NULL, &err, "init", "win11", "--virtio-iso", url, "--sha256", wrong, NULL), ==,
      1);
  assert_contains(err, "checksum mismatch");
  assert_nothing_of(e, "win11");
  g_assert_false(lexists(part));
  g_clear_pointer(&err, g_free);

  g_assert_cmpint(vxm(e, NULL, NULL, &err, "init", "win11", "--virtio-iso", missing, NULL), ==, 1);
  assert_contains(err, "HTTP 404");
  assert_nothing_of(e, "win11");
  g_clear_pointer(&err, g_free);

  g_assert_cmpint(vxm(e, NULL, NULL, &err, "init", "win11", "--virtio-iso", refused, NULL), ==, 1);
  assert_contains(err, "connection refused");
  assert_nothing_of(e, "win11");
}

static void
test_init_virtio_path(Env *e, gconstpointer data)
{
  g_autofree char *iso = g_build_filename(e->tmp, "my virtio, drivers.iso", NULL);
  g_autofree char *missing = g_build_filename(e->tmp, "nope.iso", NULL);
  g_autofree char *err = NULL;
  g_autoptr(VxmVmConfig) c = NULL;

  vxm_test_write_file(e->tmp, "my virtio, drivers.iso", "iso");
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "init", "win11", "--virtio-iso", missing, NULL), ==, 1);
  assert_contains(err, "no such file");
  assert_nothing_of(e, "win11");

  g_assert_cmpint(
      vxm(e, NULL, NULL, NULL, "init", "win11", "--set", "tpm=off", "--virtio-iso", iso, NULL), ==,
      0);
  c = load_config("win11");
  g_assert_cmpstr(c->virtio_iso, ==, iso);
  /* only recorded: not copied into the VM */
  g_assert_true(g_file_test(iso, G_FILE_TEST_IS_REGULAR));
}

/* ---- list ---------------------------------------------------------------------------------- */

static void
test_list(Env *e, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autoptr(VxmVmPaths) p = paths_for("alpha");
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  JsonArray *array;
  int lock;

  g_assert_cmpint(vxm(e, NULL, &out, NULL, "list", NULL), ==, 0);
  assert_contains(out, "No VMs yet");
  g_clear_pointer(&out, g_free);

  g_assert_cmpint(vxm(e, NULL, NULL, NULL, "init", "beta", "--set", "tpm=off", NULL), ==, 0);
  g_assert_cmpint(vxm(e, NULL, NULL, NULL, "init", "alpha", "--set", "tpm=off", "--set",
                      "gpu.address=0000:0a:00.0", NULL),
                  ==, 0);
  /* a broken config is listed with its problem, not hidden; stray files are ignored */
  vxm_test_write_file(e->config_home, "vxm/vms/gamma.conf", "[memory]\nsize = lots\n");
  vxm_test_write_file(e->config_home, "vxm/vms/not a vm.conf", "");
  vxm_test_write_file(e->config_home, "vxm/vms/README", "");

  lock = vxm_vm_lock_acquire(p, &error);
  g_assert_no_error(error);
  g_assert_cmpint(vxm(e, NULL, &out, NULL, "list", NULL), ==, 0);
  assert_contains(out, "NAME");
  assert_contains(out, "alpha                running  0000:0a:00.0");
  assert_contains(out, "beta                 stopped  auto ");
  assert_contains(out, "gamma");
  /* a broken config in its own column, the problem after it */
  assert_contains(out, "CONFIG");
  assert_contains(out, " broken  ");
  assert_contains(out, "[memory] size = 'lots'");
  g_assert_null(strstr(out, "not a vm"));
  g_clear_pointer(&out, g_free);

  g_assert_cmpint(vxm(e, NULL, &out, NULL, "list", "--json", NULL), ==, 0);
  close(lock);
  g_assert_true(json_parser_load_from_data(parser, out, -1, &error));
  array = json_node_get_array(json_parser_get_root(parser));
  g_assert_cmpuint(json_array_get_length(array), ==, 3);
  {
    JsonObject *a = json_array_get_object_element(array, 0);
    JsonObject *b = json_array_get_object_element(array, 1);
    JsonObject *g = json_array_get_object_element(array, 2);

    g_assert_cmpstr(json_object_get_string_member(a, "name"), ==, "alpha");
    g_assert_cmpstr(json_object_get_string_member(a, "state"), ==, "running");
    g_assert_cmpstr(json_object_get_string_member(a, "gpu"), ==, "0000:0a:00.0");
    g_assert_cmpstr(json_object_get_string_member(a, "disk"), ==, p->disk_qcow2);
    g_assert_true(json_object_get_null_member(a, "error"));
    g_assert_cmpstr(json_object_get_string_member(b, "state"), ==, "stopped");
    g_assert_cmpstr(json_object_get_string_member(b, "gpu"), ==, "auto");
    g_assert_cmpstr(json_object_get_string_member(g, "name"), ==, "gamma");
    /* list says what status says: a supervisor that died while the VM ran is "failed" */
    {
      g_autoptr(VxmVmPaths) beta = paths_for("beta");
      g_autofree char *list_out = NULL;
      g_autofree char *status_out = NULL;

      vxm_test_write_file(beta->state_dir, "status.json",
                          "{\"name\": \"beta\", \"state\": \"running\"}");
      g_assert_cmpint(vxm(e, NULL, &list_out, NULL, "list", NULL), ==, 0);
      assert_contains(list_out, "beta                 failed   auto ");
      vxm(e, NULL, &status_out, NULL, "status", "beta", NULL);
      assert_contains(status_out, "VM beta: failed");
    }
    /* a mistake made in a running VM's config does not make status fail */
    {
      g_autofree char *status_out = NULL;
      int held = vxm_vm_lock_acquire(p, &error);

      g_assert_no_error(error);
      vxm_test_write_file(e->config_home, "vxm/vms/alpha.conf", "[memory]\nsize = lots\n");
      g_assert_cmpint(vxm(e, NULL, &status_out, NULL, "status", "alpha", NULL), ==, 0);
      assert_contains(status_out, "config: broken: ");
      close(held);
    }
    g_assert_true(json_object_get_null_member(g, "disk"));
    assert_contains(json_object_get_string_member(g, "error"), "expected a size like 16G");
  }
  /* status without a name shows every VM in the order list does */
  {
    g_autofree char *status_out = NULL;
    const char *pa, *pb, *pg;

    vxm(e, NULL, &status_out, NULL, "status", NULL);
    pa = strstr(status_out, "VM alpha");
    pb = strstr(status_out, "VM beta");
    pg = strstr(status_out, "VM gamma");
    if (pa == NULL || pb == NULL || pg == NULL || !(pa < pb && pb < pg))
      g_error("vxm status: the VMs are not alpha, beta, gamma in that order:\n%s", status_out);
  }
}

/* ---- config -------------------------------------------------------------------------------- */

static void
test_config(Env *e, gconstpointer data)
{
  g_autoptr(VxmVmPaths) p = paths_for("win11");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *text = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  JsonObject *root, *settings;

  /* no such VM */
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "config", "win11", "--set", "vcpus=2", NULL), ==, 1);
  assert_contains(err, "no VM win11: create it with vxm init win11");
  g_clear_pointer(&err, g_free);

  vxm_test_write_file(e->config_home, "vxm/vms/win11.conf",
                      "# my gaming VM\n[memory]\n# more for games\nsize = 12G\n\n[cpu]\n"
                      "vcpus = 4 \n# keep\n");
  g_assert_cmpint(vxm(e, NULL, &out, &err, "config", "win11", "--set", "memory.size=16G", "--set",
                      "host_cores=2", "--set-gpu", "1:0.0", "--unset", "cpu.vcpus", NULL),
                  ==, 0);
  g_assert_true(g_file_get_contents(p->config_file, &text, NULL, NULL));
  g_assert_cmpstr(text, ==,
                  "# my gaming VM\n[memory]\n# more for games\nsize = 16G\n\n[cpu]\n"
                  "host_cores = 2\n# keep\n\n[gpu]\naddress = 0000:01:00.0\n");
  assert_contains(err, "no GPU at 0000:01:00.0 on this host");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_clear_pointer(&text, g_free);

  /* a bad value changes nothing and says why; it is a bad command line (exit 2), and the
   * file, which is fine, is not named */
  g_assert_cmpint(
      vxm(e, NULL, NULL, &err, "config", "win11", "--set", "grab_toggle=ctrl-alt", NULL), ==, 2);
  assert_contains(err, "[input] grab_toggle = 'ctrl-alt': expected ctrl-ctrl, alt-alt");
  g_assert_null(strstr(err, "win11.conf"));
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "config", "win11", "--set", "hugepage=1G", NULL), ==, 2);
  assert_contains(err, "did you mean 'memory.hugepages'?");
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "config", "win11", "--set", "memory.size=12Q", NULL), ==,
                  2);
  g_clear_pointer(&err, g_free);

  /* keys that go in pairs, set by one command: checked together, as vxm check's fix says */
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "config", "win11", "--set", "host_input=hdmi1", "--set",
                      "guest_input=dp1", NULL),
                  ==, 0);
  g_clear_pointer(&err, g_free);
  g_assert_true(g_file_get_contents(p->config_file, &text, NULL, NULL));
  assert_contains(text, "[display]\nhost_input = hdmi1\nguest_input = dp1\n");
  g_clear_pointer(&text, g_free);
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "config", "win11", "--unset", "host_input", "--unset",
                      "guest_input", NULL),
                  ==, 0);
  g_clear_pointer(&err, g_free);

  /* several monitors (issue 17): refused beside the one-monitor form, with the --unset that
   * fixes it; set with it in one command, shown back as written */
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "config", "win11", "--set", "monitor=card1-DP-1", NULL),
                  ==, 0);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "config", "win11", "--set",
                      "monitors=DEL:41234:12345 hdmi1 dp1; card1-DP-2 dp1 hdmi2", NULL),
                  ==, 2);
  assert_contains(err, "vxm config --unset display.monitor");
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(
      vxm(e, NULL, NULL, &err, "config", "win11", "--set", "monitors=DEL:41234:12345 hdmi1", NULL),
      ==, 2);
  assert_contains(err, "[display] monitors = 'DEL:41234:12345 hdmi1': entry 1");
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "config", "win11", "--set",
                      "monitors=DEL:41234:12345 hdmi1 dp1; card1-DP-2 dp1 hdmi2", "--unset",
                      "monitor", NULL),
                  ==, 0);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vxm(e, NULL, &out, NULL, "config", "win11", "--show", "--json", NULL), ==, 0);
  assert_contains(out, "\"monitors\" : \"DEL:41234:12345 hdmi1 dp1; card1-DP-2 dp1 hdmi2\"");
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(vxm(e, NULL, &out, NULL, "config", "win11", "--show", NULL), ==, 0);
  assert_contains(out, "monitors = DEL:41234:12345 hdmi1 dp1; card1-DP-2 dp1 hdmi2\n");
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "config", "win11", "--unset", "monitors", NULL), ==, 0);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "config", "win11", "--set-gpu", "GeForce", NULL), ==, 1);
  g_clear_pointer(&err, g_free);
  g_assert_true(g_file_get_contents(p->config_file, &text, NULL, NULL));
  assert_contains(text, "size = 16G\n");
  g_assert_null(strstr(text, "grab_toggle"));

  /* --show: effective values and what auto became (16 GiB set; 12 CPUs, SMT, 2 host cores) */
  g_assert_cmpint(vxm(e, NULL, &out, NULL, "config", "win11", "--show", NULL), ==, 0);
  assert_contains(out, "[memory]\nsize = 16G\n");
  assert_contains(out, "vcpus = auto  # 8 of the host's 12; default\n");
  assert_contains(out, "threads_per_core = auto  # 2; default\n");
  assert_contains(out, "grab_toggle = ctrl-ctrl  # default\n");

  /* --show's output, pasted back into the file, loads and means the same (every value; the
   * notes say "default" no more, since every key is now in the file) */
  {
    g_autofree char *again = NULL;
    g_auto(GStrv) a = NULL;
    g_auto(GStrv) b = NULL;

    g_assert_true(g_file_set_contents(p->config_file, out, -1, NULL));
    g_assert_cmpint(vxm(e, NULL, &again, &err, "config", "win11", "--show", NULL), ==, 0);
    a = g_strsplit(out, "\n", -1);
    b = g_strsplit(again, "\n", -1);
    g_assert_cmpuint(g_strv_length(a), ==, g_strv_length(b));
    for (guint i = 0; a[i] != NULL; i++) {
      char *ca = strstr(a[i], "  #"), *cb = strstr(b[i], "  #");

      if (ca != NULL)
        *ca = '\0';
      if (cb != NULL)
        *cb = '\0';
      g_assert_cmpstr(a[i], ==, b[i]);
    }
    g_clear_pointer(&err, g_free);
  }
  g_clear_pointer(&out, g_free);

  g_assert_cmpint(vxm(e, NULL, &out, NULL, "config", "win11", "--show", "--json", NULL), ==, 0);
  g_assert_true(json_parser_load_from_data(parser, out, -1, &error));
  root = json_node_get_object(json_parser_get_root(parser));
  settings = json_object_get_object_member(root, "settings");
  g_assert_cmpstr(
      json_object_get_string_member(json_object_get_object_member(settings, "memory"), "size"), ==,
      "16G");
  g_assert_cmpstr(
      json_object_get_string_member(json_object_get_object_member(settings, "gpu"), "address"), ==,
      "0000:01:00.0");
  g_assert_cmpint(
      json_object_get_int_member(json_object_get_object_member(root, "resolved"), "vcpus"), ==, 8);
  g_assert_cmpint(
      json_object_get_int_member(json_object_get_object_member(root, "resolved"), "memory_bytes"),
      ==, G_GINT64_CONSTANT(16) << 30);
  g_assert_cmpstr(json_object_get_string_member(root, "config_file"), ==, p->config_file);
}

static void
test_config_set_gpu_by_name(Env *e, gconstpointer data)
{
  g_autoptr(VxmVmPaths) p = paths_for("win11");
  g_autoptr(VxmVmConfig) c = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  vxm_test_machine_build(e->root, VXM_TEST_MACHINE_INTEL_NVIDIA);
  vxm_test_write_file(e->config_home, "vxm/vms/win11.conf", "# mine\n");

  /* a piece of the card's name */
  g_assert_cmpint(vxm(e, NULL, &out, &err, "config", "win11", "--set-gpu", "nvidia", NULL), ==, 0);
  assert_contains(out, "guest GPU: 0000:01:00.0");
  c = load_config("win11");
  g_assert_cmpstr(c->gpu, ==, "0000:01:00.0");
  g_clear_pointer(&c, vxm_vm_config_free);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  /* one of its functions, in short form: the GPU it belongs to */
  g_assert_cmpint(vxm(e, NULL, &out, &err, "config", "win11", "--set-gpu", "1:0.1", NULL), ==, 0);
  c = load_config("win11");
  g_assert_cmpstr(c->gpu, ==, "0000:01:00.0");
  g_clear_pointer(&c, vxm_vm_config_free);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  /* the host's boot GPU is accepted with a warning saying why it cannot work */
  g_assert_cmpint(vxm(e, NULL, &out, &err, "config", "win11", "--set-gpu", "00:02.0", NULL), ==, 0);
  assert_contains(err, "0000:00:02.0 is host as things stand");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  /* text matching nothing changes nothing */
  g_assert_cmpint(vxm(e, NULL, &out, &err, "config", "win11", "--set-gpu", "voodoo", NULL), ==, 1);
  c = load_config("win11");
  g_assert_cmpstr(c->gpu, ==, "0000:00:02.0");
  g_assert_cmpstr(c->text, ==, "# mine\n\n[gpu]\naddress = 0000:00:02.0\n");
}

static void
test_config_static_binding(Env *e, gconstpointer data)
{
  g_autofree char *conf = g_build_filename(e->root, "etc/modprobe.d/vxm-vfio.conf", NULL);
  g_autofree char *other = g_build_filename(e->root, "etc/modprobe.d/other.conf", NULL);
  g_autofree char *text = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  vxm_test_machine_build(e->root, VXM_TEST_MACHINE_INTEL_NVIDIA);
  vxm_test_write_file(e->root, "etc/modprobe.d/other.conf", "options snd_hda_intel power_save=1\n");
  vxm_test_write_file(e->config_home, "vxm/vms/win11.conf", "[gpu]\naddress = 0000:01:00.0\n");

  g_assert_cmpint(vxm(e, NULL, NULL, &err, "config", "win11", "--static-binding", "maybe", NULL),
                  ==, 2);
  assert_contains(err, "on or off");
  g_assert_false(lexists(conf));
  g_clear_pointer(&err, g_free);

  g_assert_cmpint(vxm(e, NULL, &out, &err, "config", "win11", "--static-binding", "on", NULL), ==,
                  0);
  assert_contains(out, "update-initramfs -u");
  g_assert_true(g_file_get_contents(conf, &text, NULL, NULL));
  assert_contains(text, "options vfio-pci ids=10de:");
  assert_contains(text, "softdep nvidia pre: vfio-pci");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  g_assert_cmpint(vxm(e, NULL, &out, &err, "config", "win11", "--static-binding", "off", NULL), ==,
                  0);
  g_assert_false(lexists(conf));
  /* the user's own modprobe files are left alone */
  g_assert_true(lexists(other));
}

/* ---- reset --------------------------------------------------------------------------------- */

static void
test_reset_never_follows_symlinks(Env *e, gconstpointer data)
{
  g_autoptr(VxmVmPaths) p = paths_for("win11");
  g_autofree char *outside = g_build_filename(e->tmp, "outside", NULL);
  g_autofree char *precious = g_build_filename(outside, "precious.txt", NULL);
  g_autofree char *precious_dir_file = g_build_filename(outside, "dir", "keep.txt", NULL);
  g_autofree char *own_disk = g_build_filename(e->tmp, "mine.qcow2", NULL);
  g_autofree char *outside_dir = g_build_filename(outside, "dir", NULL);
  g_autofree char *out = NULL;
  struct stat st;

  g_assert_cmpint(vxm(e, NULL, NULL, NULL, "init", "win11", NULL), ==, 0);
  vxm_test_write_file(outside, "precious.txt", "keep me");
  vxm_test_write_file(outside, "dir/keep.txt", "keep me too");
  /* links planted inside the VM's folders, pointing out of them */
  vxm_test_symlink(p->data_dir, "link-to-file", precious);
  vxm_test_symlink(p->tpm_dir, "link-to-dir", outside);
  vxm_test_symlink(p->data_dir, "nested/deeper/link-to-dir", outside_dir);
  vxm_test_symlink(p->state_dir, "qemu.log", precious);

  g_assert_cmpint(vxm(e, NULL, &out, NULL, "reset", "win11", "--yes", NULL), ==, 0);
  assert_contains(out, "VM win11 removed");
  g_assert_false(lexists(p->config_file));
  g_assert_false(lexists(p->data_dir));
  g_assert_false(lexists(p->state_dir));
  g_assert_cmpint(stat(precious, &st), ==, 0);
  g_assert_cmpint(stat(precious_dir_file, &st), ==, 0);

  /* the data folder itself replaced by a link: the link goes, not what it points at */
  g_assert_cmpint(vxm(e, NULL, NULL, NULL, "init", "win11", "--set", "tpm=off", NULL), ==, 0);
  vxm_test_rm_rf(p->data_dir);
  vxm_test_symlink(e->tmp, "home/.local/share/vxm/win11", outside);
  g_assert_true(g_str_has_suffix(p->data_dir, "home/.local/share/vxm/win11"));
  g_assert_cmpint(vxm(e, NULL, NULL, NULL, "reset", "win11", "--yes", NULL), ==, 0);
  g_assert_false(lexists(p->data_dir));
  g_assert_cmpint(stat(precious, &st), ==, 0);
  g_assert_cmpint(stat(precious_dir_file, &st), ==, 0);
  g_clear_pointer(&out, g_free);

  /* a disk of the user's outside vxm's folders is kept, and reset says so */
  vxm_test_write_file(e->tmp, "mine.qcow2", "QFI");
  {
    g_autofree char *set = g_strconcat("disk.path=", own_disk, NULL);
    g_assert_cmpint(
        vxm(e, NULL, NULL, NULL, "init", "win11", "--set", set, "--set", "tpm=off", NULL), ==, 0);
  }
  g_assert_cmpint(vxm(e, NULL, &out, NULL, "reset", "win11", "--yes", NULL), ==, 0);
  assert_contains(out, "kept");
  g_assert_cmpint(stat(own_disk, &st), ==, 0);
}

static void
test_reset_refuses_while_running(Env *e, gconstpointer data)
{
  g_autoptr(VxmVmPaths) p = paths_for("win11");
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int lock;

  g_assert_cmpint(vxm(e, NULL, NULL, NULL, "init", "win11", "--set", "tpm=off", NULL), ==, 0);
  lock = vxm_vm_lock_acquire(p, &error);
  g_assert_no_error(error);
  g_assert_true(vxm_vm_is_running(p));
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "reset", "win11", "--yes", NULL), ==, 1);
  assert_contains(err, "VM win11 is running: stop it first with vxm stop win11");
  g_assert_true(lexists(p->config_file));
  g_assert_true(lexists(p->efi_vars));
  close(lock);
  g_assert_false(vxm_vm_is_running(p));
  g_assert_cmpint(vxm(e, NULL, NULL, NULL, "reset", "win11", "--yes", NULL), ==, 0);
  g_assert_false(lexists(p->config_file));

  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vxm(e, NULL, NULL, &err, "reset", "win11", "--yes", NULL), ==, 1);
  assert_contains(err, "no VM win11");
}

/* Runs vxm reset NAME with @answer on stdin. */
static int
reset_answering(Env *e, const char *name, const char *answer, char **out)
{
  g_autofree char *bin = vxm_test_build_path("src/cli/vxm");
  g_autoptr(GSubprocessLauncher) launcher =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i + 1 < e->env->len; i++) {
    g_auto(GStrv) kv = g_strsplit(g_ptr_array_index(e->env, i), "=", 2);
    g_subprocess_launcher_setenv(launcher, kv[0], kv[1], TRUE);
  }
  proc = g_subprocess_launcher_spawn(launcher, &error, bin, "reset", name, NULL);
  g_assert_no_error(error);
  g_subprocess_communicate_utf8(proc, answer, NULL, out, NULL, &error);
  g_assert_no_error(error);
  return g_subprocess_get_exit_status(proc);
}

static void
test_reset_typed_confirmation(Env *e, gconstpointer data)
{
  g_autoptr(VxmVmPaths) p = paths_for("win11");
  g_autofree char *out = NULL;

  g_assert_cmpint(vxm(e, NULL, NULL, NULL, "init", "win11", "--set", "tpm=off", NULL), ==, 0);
  g_assert_cmpint(reset_answering(e, "win11", "yes\n", &out), ==, 1);
  assert_contains(out, "Type the VM's name");
  assert_contains(out, "not confirmed");
  g_assert_true(lexists(p->config_file));
  g_clear_pointer(&out, g_free);

  g_assert_cmpint(reset_answering(e, "win11", "", &out), ==, 1);
  g_assert_true(lexists(p->config_file));
  g_clear_pointer(&out, g_free);

  g_assert_cmpint(reset_answering(e, "win11", "win11\n", &out), ==, 0);
  assert_contains(out, "VM win11 removed");
  g_assert_false(lexists(p->config_file));
  g_assert_false(lexists(p->data_dir));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);

  /* tmpfs mounts for the full-disk tests live in a namespace of their own (root only), so
   * they vanish with this process whatever happens; no thread may exist yet */
  if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
      mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
    private_mounts = TRUE;

#define ADD(path, fn) g_test_add(path, Env, NULL, env_setup, fn, env_teardown)
  ADD("/vxm/vm/cli/init/creates", test_init);
  ADD("/vxm/vm/cli/init/settings", test_init_settings);
  ADD("/vxm/vm/cli/init/refuses-overwrite", test_init_refuses_overwrite);
  ADD("/vxm/vm/cli/init/refuses-while-running", test_init_refuses_while_running);
  ADD("/vxm/vm/cli/init/fails-without-qemu-img", test_init_fails_without_qemu_img);
  ADD("/vxm/vm/cli/init/fails-in-swtpm-setup", test_init_fails_in_swtpm_setup);
  ADD("/vxm/vm/cli/init/fails-with-missing-disk-folder", test_init_fails_with_missing_disk_folder);
  ADD("/vxm/vm/cli/init/fails-on-full-disk", test_init_fails_on_full_disk);
  ADD("/vxm/vm/cli/init/fails-on-read-only-disk-folder", test_init_fails_on_read_only_disk_folder);
  ADD("/vxm/vm/cli/init/downloads-virtio", test_init_downloads_virtio);
  ADD("/vxm/vm/cli/init/download-progress-bar", test_init_download_progress_bar);
  ADD("/vxm/vm/cli/init/download-resumes", test_init_download_resumes);
  ADD("/vxm/vm/cli/init/download-errors", test_init_download_errors);
  ADD("/vxm/vm/cli/init/virtio-path", test_init_virtio_path);
  ADD("/vxm/vm/cli/list", test_list);
  ADD("/vxm/vm/cli/config", test_config);
  ADD("/vxm/vm/cli/config/set-gpu-by-name", test_config_set_gpu_by_name);
  ADD("/vxm/vm/cli/config/static-binding", test_config_static_binding);
  ADD("/vxm/vm/cli/reset/never-follows-symlinks", test_reset_never_follows_symlinks);
  ADD("/vxm/vm/cli/reset/refuses-while-running", test_reset_refuses_while_running);
  ADD("/vxm/vm/cli/reset/typed-confirmation", test_reset_typed_confirmation);
  return g_test_run();
}
