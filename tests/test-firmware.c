/* Firmware descriptors and selection, on descriptor trees under a temporary host root. */
#include <glib/gstdio.h>
#include <string.h>

#include "common/vxm-error.h"
#include "vm/vxm-firmware-descriptor.h"
#include "vm/vxm-firmware.h"
#include "vxm-test-util.h"

#define SHARE "usr/share/qemu/firmware/"
#define ETC   "etc/qemu/firmware/"

typedef struct {
  char *root;
  char *user_dir; /* stands for $XDG_CONFIG_HOME/qemu/firmware */
  VxmHostfs *hostfs;
} Fixture;

static void
copy_real_descriptor(const char *root, const char *name)
{
  g_autofree char *rel = g_build_filename("tests/data/firmware/debian12", name, NULL);
  g_autofree char *src = vxm_test_source_path(rel);
  g_autofree char *contents = NULL;
  g_autofree char *dest = g_strconcat(SHARE, name, NULL);

  g_assert_true(g_file_get_contents(src, &contents, NULL, NULL));
  vxm_test_write_file(root, dest, contents);
}

/* Debian 12's ovmf package: its three descriptors and the files they name. */
static void
fixture_setup(Fixture *fx, gconstpointer data)
{
  fx->root = vxm_test_mkdtemp();
  fx->user_dir = g_build_filename(fx->root, "home-config", "qemu", "firmware", NULL);
  fx->hostfs = vxm_hostfs_new(fx->root);
  copy_real_descriptor(fx->root, "40-edk2-x86_64-secure-enrolled.json");
  copy_real_descriptor(fx->root, "50-edk2-x86_64-secure.json");
  copy_real_descriptor(fx->root, "60-edk2-x86_64.json");
  vxm_test_write_file(fx->root, "usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "code-sb");
  vxm_test_symlink(fx->root, "usr/share/OVMF/OVMF_CODE_4M.ms.fd", "OVMF_CODE_4M.secboot.fd");
  vxm_test_write_file(fx->root, "usr/share/OVMF/OVMF_CODE_4M.fd", "code");
  vxm_test_write_file(fx->root, "usr/share/OVMF/OVMF_VARS_4M.fd", "vars");
  vxm_test_write_file(fx->root, "usr/share/OVMF/OVMF_VARS_4M.ms.fd", "vars-ms");
}

static void
fixture_teardown(Fixture *fx, gconstpointer data)
{
  g_object_unref(fx->hostfs);
  vxm_test_rm_rf(fx->root);
  g_free(fx->root);
  g_free(fx->user_dir);
}

static VxmFirmware *
select_fw(Fixture *fx, gboolean secure_boot, GError **error)
{
  VxmFirmwareRequest req = {.secure_boot = secure_boot, .user_dir = fx->user_dir};

  return vxm_firmware_select_full(fx->hostfs, &req, error);
}

static char *
synthetic(const char *code, const char *vars, const char *mode, const char *features)
{
  return g_strdup_printf("{\"interface-types\": [\"uefi\"],\n"
                         " \"mapping\": {\"device\": \"flash\", \"mode\": \"%s\",\n"
                         "   \"executable\": {\"filename\": \"%s\", \"format\": \"raw\"},\n"
                         "   \"nvram-template\": {\"filename\": \"%s\", \"format\": \"raw\"}},\n"
                         " \"targets\": [{\"architecture\": \"x86_64\", \"machines\": "
                         "[\"pc-q35-*\"]}],\n"
                         " \"features\": [%s]}\n",
                         mode, code, vars, features);
}

static void
test_debian_secure_boot(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmFirmware) fw = select_fw(fx, TRUE, &error);
  g_autofree char *expected_code =
      g_build_filename(fx->root, "usr/share/OVMF/OVMF_CODE_4M.ms.fd", NULL);

  g_assert_no_error(error);
  g_assert_cmpstr(fw->descriptor_name, ==, "40-edk2-x86_64-secure-enrolled.json");
  g_assert_cmpstr(fw->code_host_path, ==, "/usr/share/OVMF/OVMF_CODE_4M.ms.fd");
  g_assert_cmpstr(fw->code_path, ==, expected_code);
  g_assert_cmpstr(fw->vars_template_host_path, ==, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
  g_assert_cmpstr(fw->code_format, ==, "raw");
  g_assert_cmpstr(fw->vars_format, ==, "raw");
  g_assert_true(fw->secure_boot);
  g_assert_true(fw->enrolled_keys);
  g_assert_true(fw->requires_smm);
  g_assert_false(fw->fallback);
  g_assert_null(fw->message);
  g_assert_cmpuint(fw->warnings->len, ==, 0);
}

static void
test_debian_no_secure_boot(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmFirmware) fw = select_fw(fx, FALSE, &error);

  g_assert_no_error(error);
  g_assert_cmpstr(fw->descriptor_name, ==, "60-edk2-x86_64.json");
  g_assert_cmpstr(fw->code_host_path, ==, "/usr/share/OVMF/OVMF_CODE_4M.fd");
  g_assert_cmpstr(fw->vars_template_host_path, ==, "/usr/share/OVMF/OVMF_VARS_4M.fd");
  g_assert_false(fw->secure_boot);
  g_assert_false(fw->requires_smm);
  /* the two secure-boot descriptors were passed over, with the reason */
  g_assert_cmpuint(fw->notes->len, ==, 2);
  g_assert_nonnull(strstr(g_ptr_array_index(fw->notes, 0), "40-edk2-x86_64-secure-enrolled"));
  g_assert_nonnull(strstr(g_ptr_array_index(fw->notes, 0), "secure boot, which is off"));
}

/* /etc overrides /usr/share by file name; the user's folder overrides both. */
static void
test_overrides(Fixture *fx, gconstpointer data)
{
  g_autofree char *etc = synthetic("/opt/fw/ETC_CODE.fd", "/opt/fw/ETC_VARS.fd", "split",
                                   "\"secure-boot\", \"enrolled-keys\"");
  g_autofree char *user_code = g_build_filename(fx->root, "mine", "USER_CODE.fd", NULL);
  g_autofree char *user_vars = g_build_filename(fx->root, "mine", "USER_VARS.fd", NULL);
  g_autofree char *user = synthetic(user_code, user_vars, "split",
                                    "\"secure-boot\", \"enrolled-keys\", \"requires-smm\"");
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmFirmware) fw = NULL;
  g_autoptr(VxmFirmware) fw2 = NULL;

  vxm_test_write_file(fx->root, ETC "40-edk2-x86_64-secure-enrolled.json", etc);
  vxm_test_write_file(fx->root, "opt/fw/ETC_CODE.fd", "x");
  vxm_test_write_file(fx->root, "opt/fw/ETC_VARS.fd", "x");
  fw = select_fw(fx, TRUE, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(fw->descriptor_path, ==,
                  "/etc/qemu/firmware/40-edk2-x86_64-secure-enrolled.json");
  g_assert_cmpstr(fw->code_host_path, ==, "/opt/fw/ETC_CODE.fd");
  g_assert_false(fw->requires_smm); /* this one does not ask for SMM */
  g_assert_true(fw->secure_boot);

  /* the user's descriptor names its own files, which are not under the host root */
  vxm_test_write_file(fx->root, "mine/USER_CODE.fd", "x");
  vxm_test_write_file(fx->root, "mine/USER_VARS.fd", "x");
  vxm_test_write_file(fx->user_dir, "40-edk2-x86_64-secure-enrolled.json", user);
  fw2 = select_fw(fx, TRUE, &error);
  g_assert_no_error(error);
  g_assert_true(g_str_has_prefix(fw2->descriptor_path, fx->user_dir));
  g_assert_cmpstr(fw2->code_path, ==, user_code);
  g_assert_cmpstr(fw2->code_host_path, ==, user_code);
  g_assert_true(fw2->requires_smm);
}

/* A lower file name wins among those that fit, whatever folder it is in. */
static void
test_order_by_name(Fixture *fx, gconstpointer data)
{
  g_autofree char *d =
      synthetic("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd", "split",
                "\"secure-boot\", \"enrolled-keys\", \"requires-smm\"");
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmFirmware) fw = NULL;

  vxm_test_write_file(fx->root, ETC "30-local.json", d);
  fw = select_fw(fx, TRUE, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(fw->descriptor_name, ==, "30-local.json");
}

/* An empty file hides the descriptor of the same name; with none left that fits, the
 * known Debian pair is used and the result says so. */
static void
test_hidden_then_fallback(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmFirmware) fw = NULL;

  vxm_test_write_file(fx->root, ETC "40-edk2-x86_64-secure-enrolled.json", "");
  fw = select_fw(fx, TRUE, &error);
  g_assert_no_error(error);
  g_assert_true(fw->fallback);
  g_assert_null(fw->descriptor_name);
  g_assert_cmpstr(fw->code_host_path, ==, "/usr/share/OVMF/OVMF_CODE_4M.ms.fd");
  g_assert_cmpstr(fw->vars_template_host_path, ==, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
  g_assert_true(fw->requires_smm);
  g_assert_nonnull(fw->message);
  g_assert_nonnull(strstr(fw->message, "no firmware descriptor fits"));
  g_assert_nonnull(strstr(fw->message, "hidden by the empty file"));
  g_assert_nonnull(strstr(fw->message, "50-edk2-x86_64-secure.json"));
  g_assert_nonnull(strstr(fw->message, "without enrolled keys"));
  /* it would boot, only without secure boot: the reason says so */
  g_assert_nonnull(strstr(fw->message, "Windows would boot, but without secure boot"));
}

/* Broken JSON is reported with its file name; the rest is still chosen. */
static void
test_broken_json(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmFirmware) fw = NULL;

  vxm_test_write_file(fx->root, SHARE "10-broken.json", "{\"interface-types\": [\"uefi\",");
  vxm_test_write_file(fx->root, ETC "20-not-a-descriptor.json", "[1, 2, 3]");
  vxm_test_write_file(fx->root, ETC "21-no-mapping.json",
                      "{\"interface-types\": [\"uefi\"], \"targets\": []}");
  fw = select_fw(fx, TRUE, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(fw->descriptor_name, ==, "40-edk2-x86_64-secure-enrolled.json");
  g_assert_cmpuint(fw->warnings->len, ==, 3);
  g_assert_nonnull(
      strstr(g_ptr_array_index(fw->warnings, 0), "/usr/share/qemu/firmware/10-broken.json"));
  g_assert_nonnull(strstr(g_ptr_array_index(fw->warnings, 1), "20-not-a-descriptor.json"));
  g_assert_nonnull(strstr(g_ptr_array_index(fw->warnings, 2), "\"mapping\""));
}

/* Nothing fits and no known pair exists: the error lists every file and why. */
static void
test_nothing_fits(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmFirmware) fw = NULL;
  g_autofree char *stateless = synthetic("/usr/share/OVMF/OVMF_CODE_4M.fd", "/x", "stateless",
                                         "\"secure-boot\", \"enrolled-keys\"");

  g_autofree char *code_file =
      g_build_filename(fx->root, "usr/share/OVMF/OVMF_CODE_4M.secboot.fd", NULL);

  vxm_test_write_file(fx->root, ETC "45-stateless.json", stateless);
  g_assert_cmpint(g_unlink(code_file), ==, 0);
  fw = select_fw(fx, TRUE, &error);
  g_assert_null(fw);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "40-edk2-x86_64-secure-enrolled.json"));
  g_assert_nonnull(
      strstr(error->message, "CODE file /usr/share/OVMF/OVMF_CODE_4M.ms.fd is missing"));
  g_assert_nonnull(strstr(error->message, "45-stateless.json"));
  g_assert_nonnull(strstr(error->message, "flash mode stateless"));
  g_assert_nonnull(strstr(error->message, "60-edk2-x86_64.json"));
  g_assert_nonnull(strstr(error->message, "no secure-boot feature"));
  g_assert_nonnull(strstr(error->message, "ovmf"));
}

/* A VM keeps the CODE+VARS pair it was created with: the descriptor naming it, else the
 * pair itself (flagged), never another descriptor's CODE with this VM's VARS. */
static void
test_recorded_pair(Fixture *fx, gconstpointer data)
{
  VxmFirmwareRequest req = {.secure_boot = TRUE,
                            .user_dir = fx->user_dir,
                            .code = "/usr/share/OVMF/OVMF_CODE_4M.ms.fd",
                            .vars_template = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"};
  VxmFirmwareRequest old = {.secure_boot = TRUE,
                            .user_dir = fx->user_dir,
                            .code = "/opt/old/CODE.fd",
                            .vars_template = "/opt/old/VARS.fd"};
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmFirmware) fw = vxm_firmware_select_full(fx->hostfs, &req, &error);
  g_autoptr(VxmFirmware) fw2 = NULL;
  g_autoptr(VxmFirmware) fw3 = NULL;

  g_assert_no_error(error);
  g_assert_cmpstr(fw->descriptor_name, ==, "40-edk2-x86_64-secure-enrolled.json");
  g_assert_false(fw->fallback);

  fw2 = vxm_firmware_select_full(fx->hostfs, &old, &error);
  g_assert_null(fw2); /* the recorded files are gone */
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "not the CODE image this VM was created with"));
  g_clear_error(&error);

  vxm_test_write_file(fx->root, "opt/old/CODE.fd", "x");
  vxm_test_write_file(fx->root, "opt/old/VARS.fd", "x");
  fw3 = vxm_firmware_select_full(fx->hostfs, &old, &error);
  g_assert_no_error(error);
  g_assert_true(fw3->fallback);
  g_assert_cmpstr(fw3->code_host_path, ==, "/opt/old/CODE.fd");
  g_assert_true(fw3->requires_smm);
  g_assert_nonnull(strstr(fw3->message, "the pair this VM was created with"));
  g_assert_cmpstr(fw3->code_format, ==, "raw");
  g_assert_cmpstr(fw3->vars_format, ==, "raw");

  /* each recorded file keeps its own format: a qcow2 pair is not mapped as raw flash */
  {
    VxmFirmwareRequest qcow = {.secure_boot = TRUE,
                               .user_dir = fx->user_dir,
                               .code = "/opt/old/CODE.qcow2",
                               .vars_template = "/opt/old/VARS.fd"};
    g_autoptr(VxmFirmware) fw4 = NULL;

    vxm_test_write_file(fx->root, "opt/old/CODE.qcow2",
                        "QFI\xfb"
                        "version 3 header");
    fw4 = vxm_firmware_select_full(fx->hostfs, &qcow, &error);
    g_assert_no_error(error);
    g_assert_true(fw4->fallback);
    g_assert_cmpstr(fw4->code_format, ==, "qcow2");
    g_assert_cmpstr(fw4->vars_format, ==, "raw");
  }
}

static void
test_empty_tree(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(root);
  VxmFirmwareRequest req = {.secure_boot = FALSE, .user_dir = ""};
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmFirmware) fw = vxm_firmware_select_full(hostfs, &req, &error);

  g_assert_null(fw);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "no descriptor files in /usr/share/qemu/firmware"));
  vxm_test_rm_rf(root);
}

/* A concrete machine type only fits a target whose glob matches it. */
static void
test_machine_globs(Fixture *fx, gconstpointer data)
{
  VxmFirmwareRequest req = {.secure_boot = FALSE,
                            .user_dir = fx->user_dir,
                            .machine = "pc-i440fx-7.2",
                            .no_fallback = TRUE};
  VxmFirmwareRequest q35 = {
      .secure_boot = FALSE, .user_dir = fx->user_dir, .machine = "pc-q35-7.2", .no_fallback = TRUE};
  VxmFirmwareRequest arm = {.secure_boot = FALSE,
                            .user_dir = fx->user_dir,
                            .architecture = "aarch64",
                            .no_fallback = TRUE};
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmFirmware) fw = vxm_firmware_select_full(fx->hostfs, &req, &error);
  g_autoptr(VxmFirmware) fw2 = NULL;
  g_autoptr(VxmFirmware) fw3 = NULL;

  g_assert_no_error(error);
  g_assert_cmpstr(fw->descriptor_name, ==, "60-edk2-x86_64.json"); /* it lists pc-i440fx-* */
  fw2 = vxm_firmware_select_full(fx->hostfs, &q35, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(fw2->descriptor_name, ==, "60-edk2-x86_64.json");
  fw3 = vxm_firmware_select_full(fx->hostfs, &arm, &error);
  g_assert_null(fw3);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "no aarch64 target"));
}

static void
test_descriptor_parse(void)
{
  const char *minimal = "{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"flash\","
                        " \"executable\": {\"filename\": \"/a/CODE.fd\"}},"
                        " \"targets\": [{\"architecture\": \"x86_64\", \"machines\": "
                        "[\"pc-q35-[5-9].*\"]}]}";
  const char *memory = "{\"interface-types\": [\"bios\"], \"mapping\": {\"device\": \"memory\","
                       " \"filename\": \"/a/bios.bin\"}, \"targets\": [], \"features\": []}";
  const char *bad_format = "{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": "
                           "\"flash\", \"executable\": {\"filename\": \"/a\", \"format\": "
                           "\"vmdk\"}}, \"targets\": []}";
  const char *relative = "{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": "
                         "\"flash\", \"executable\": {\"filename\": \"a.fd\"}}, \"targets\": []}";
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmFirmwareDescriptor) d = NULL;
  g_autoptr(VxmFirmwareDescriptor) m = NULL;
  g_autoptr(VxmFirmwareDescriptor) b = NULL;

  d = vxm_firmware_descriptor_parse("x.json", "/p/x.json", minimal, strlen(minimal), &error);
  g_assert_no_error(error);
  g_assert_cmpstr(d->mode, ==, "split");
  g_assert_cmpstr(d->code_format, ==, "raw");
  g_assert_null(d->vars_template_path);
  g_assert_nonnull(d->features);
  g_assert_true(vxm_firmware_descriptor_supports(d, "x86_64", NULL));
  g_assert_true(vxm_firmware_descriptor_supports(d, "x86_64", "pc-q35-7.2"));
  g_assert_false(vxm_firmware_descriptor_supports(d, "x86_64", "pc-q35-4.2"));

  m = vxm_firmware_descriptor_parse("m.json", "/p/m.json", memory, strlen(memory), &error);
  g_assert_no_error(error);
  g_assert_cmpstr(m->device, ==, "memory");
  g_assert_null(m->code_path);

  b = vxm_firmware_descriptor_parse("b.json", "/p/b.json", bad_format, strlen(bad_format), &error);
  g_assert_null(b);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_CONFIG);
  g_assert_nonnull(strstr(error->message, "/p/b.json"));
  g_assert_nonnull(strstr(error->message, "vmdk"));
  g_clear_error(&error);
  b = vxm_firmware_descriptor_parse("r.json", "/p/r.json", relative, strlen(relative), &error);
  g_assert_null(b);
  g_assert_nonnull(strstr(error->message, "absolute path"));
}

/* The machine's own descriptors, when installed: the pick must be the enrolled one. */
static void
test_this_machine(void)
{
  g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(NULL);
  VxmFirmwareRequest req = {.secure_boot = TRUE, .user_dir = ""};
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmFirmware) fw = NULL;

  if (!g_file_test("/usr/share/qemu/firmware/40-edk2-x86_64-secure-enrolled.json",
                   G_FILE_TEST_EXISTS)) {
    g_test_skip("Debian's ovmf package is not installed");
    return;
  }
  fw = vxm_firmware_select_full(hostfs, &req, &error);
  g_assert_no_error(error);
  g_assert_true(fw->enrolled_keys);
  g_assert_true(g_file_test(fw->code_path, G_FILE_TEST_IS_REGULAR));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define FX(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  FX("/vxm/firmware/select/debian-secure-boot", test_debian_secure_boot);
  FX("/vxm/firmware/select/debian-no-secure-boot", test_debian_no_secure_boot);
  FX("/vxm/firmware/select/overrides", test_overrides);
  FX("/vxm/firmware/select/order-by-name", test_order_by_name);
  FX("/vxm/firmware/select/hidden-then-fallback", test_hidden_then_fallback);
  FX("/vxm/firmware/select/broken-json", test_broken_json);
  FX("/vxm/firmware/select/nothing-fits", test_nothing_fits);
  FX("/vxm/firmware/select/machine-globs", test_machine_globs);
  FX("/vxm/firmware/select/recorded-pair", test_recorded_pair);
  g_test_add_func("/vxm/firmware/select/empty-tree", test_empty_tree);
  g_test_add_func("/vxm/firmware/select/this-machine", test_this_machine);
  g_test_add_func("/vxm/firmware/descriptor/parse", test_descriptor_parse);
  return g_test_run();
}
