/* Static trees (no kernel reactions): static binding files, and refusals that must come
 * before any write. */
#include <string.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "journal/vxm-journal.h"
#include "pci/vxm-gpu.h"
#include "pci/vxm-vfio-static.h"
#include "pci/vxm-vfio.h"
#include "vxm-test-util.h"

static void
add_device(const char *root, const char *bdf, const char *vendor, const char *device,
           const char *cls, const char *driver, int group, const char *boot_vga)
{
  g_autofree char *dir = g_strdup_printf("sys/devices/pci0000:00/0000:00:01.0/%s", bdf);
  g_autofree char *link = g_strdup_printf("sys/bus/pci/devices/%s", bdf);
  g_autofree char *target = g_strdup_printf("../../../devices/pci0000:00/0000:00:01.0/%s", bdf);
  struct {
    const char *name, *value;
  } attrs[] = {
      {"vendor", vendor}, {"device", device}, {"class", cls}, {"driver_override", "(null)\n"}};

  for (guint i = 0; i < G_N_ELEMENTS(attrs); i++) {
    g_autofree char *file = g_strdup_printf("%s/%s", dir, attrs[i].name);
    vxm_test_write_file(root, file, attrs[i].value);
  }
  if (boot_vga != NULL) {
    g_autofree char *file = g_strdup_printf("%s/boot_vga", dir);
    vxm_test_write_file(root, file, boot_vga);
  }
  vxm_test_symlink(root, link, target);
  if (driver != NULL) {
    g_autofree char *drv_link = g_strdup_printf("%s/driver", dir);
    g_autofree char *drv_target = g_strdup_printf("../../../../bus/pci/drivers/%s", driver);
    g_autofree char *drv_dir = g_strdup_printf("sys/bus/pci/drivers/%s", driver);

    vxm_test_write_file(root, drv_dir, NULL);
    vxm_test_symlink(root, drv_link, drv_target);
  }
  if (group >= 0) {
    g_autofree char *grp_link = g_strdup_printf("%s/iommu_group", dir);
    g_autofree char *grp_target = g_strdup_printf("../../../../kernel/iommu_groups/%d", group);
    g_autofree char *member = g_strdup_printf("sys/kernel/iommu_groups/%d/devices/%s", group, bdf);
    g_autofree char *member_target =
        g_strdup_printf("../../../../devices/pci0000:00/0000:00:01.0/%s", bdf);

    vxm_test_symlink(root, grp_link, grp_target);
    vxm_test_symlink(root, member, member_target);
  }
}

/* Intel iGPU (boot VGA) + NVIDIA Turing with four functions in group 14. */
static char *
make_turing(void)
{
  char *root = vxm_test_mkdtemp();

  add_device(root, "0000:00:02.0", "0x8086\n", "0x9bc5\n", "0x030000\n", "i915", 1, "1\n");
  add_device(root, "0000:01:00.0", "0x10de\n", "0x1f07\n", "0x030000\n", "nvidia", 14, "0\n");
  add_device(root, "0000:01:00.1", "0x10de\n", "0x10f9\n", "0x040300\n", "snd_hda_intel", 14, NULL);
  add_device(root, "0000:01:00.2", "0x10de\n", "0x1ada\n", "0x0c0330\n", "xhci_hcd", 14, NULL);
  add_device(root, "0000:01:00.3", "0x10de\n", "0x1adb\n", "0x0c8000\n", "nvidia-gpu", 14, NULL);
  vxm_test_symlink(root, "sys/bus/pci/drivers/xhci_hcd/module", "../../../../module/xhci_pci");
  vxm_test_write_file(root, "sys/bus/pci/drivers/vfio-pci", NULL);
  vxm_test_write_file(root, "proc/1/comm", "systemd\n");
  return root;
}

static VxmGpu *
find_gpu(VxmHostfs *fs, const char *addr)
{
  g_autoptr(GError) error = NULL;
  VxmGpu *gpu = vxm_gpu_find(fs, addr, &error);

  g_assert_no_error(error);
  return gpu;
}

static void
test_static_on_off(void)
{
  g_autofree char *root = make_turing();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(VxmGpu) gpu = find_gpu(fs, "0000:01:00.0");
  g_autoptr(GError) error = NULL;
  g_autofree char *next = NULL;
  g_autofree char *next_off = NULL;
  g_autofree char *text = NULL;
  g_autofree char *path = g_build_filename(root, "etc/modprobe.d/vxm-vfio.conf", NULL);
  g_autoptr(JsonNode) status = NULL;
  g_autoptr(JsonNode) status_off = NULL;

  g_assert_true(vxm_vfio_static_binding_write(fs, gpu, &next, &error));
  g_assert_no_error(error);
  g_assert_nonnull(strstr(next, "update-initramfs -u"));
  g_assert_nonnull(strstr(next, "reboot"));
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  g_assert_nonnull(
      strstr(text, "\noptions vfio-pci ids=10de:1f07,10de:10f9,10de:1ada,10de:1adb\n"));
  g_assert_nonnull(strstr(text, "softdep nvidia pre: vfio-pci\n"));
  g_assert_nonnull(strstr(text, "softdep nouveau pre: vfio-pci\n"));
  g_assert_nonnull(strstr(text, "softdep snd_hda_intel pre: vfio-pci\n"));
  /* the module behind the xhci_hcd driver */
  g_assert_nonnull(strstr(text, "softdep xhci_pci pre: vfio-pci\n"));
  g_assert_nonnull(strstr(text, "softdep nvidia_gpu pre: vfio-pci\n"));

  status = vxm_vfio_static_binding_status(fs, gpu, &error);
  g_assert_no_error(error);
  g_assert_true(json_object_get_boolean_member(json_node_get_object(status), "enabled"));
  /* written but not in effect until the reboot */
  g_assert_false(json_object_get_boolean_member(json_node_get_object(status), "in_effect"));
  g_assert_cmpuint(
      json_array_get_length(json_object_get_array_member(json_node_get_object(status), "ids")), ==,
      4);

  g_assert_true(vxm_vfio_static_binding_remove(fs, &next_off, &error));
  g_assert_nonnull(next_off);
  g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
  status_off = vxm_vfio_static_binding_status(fs, gpu, &error);
  g_assert_false(json_object_get_boolean_member(json_node_get_object(status_off), "enabled"));
  /* no mountinfo in this tree: a plain root, whose /etc lasts */
  g_assert_cmpstr(json_object_get_string_member(json_node_get_object(status_off), "kind"), ==,
                  "lasting");
  vxm_test_rm_rf(root);
}

/* mountinfo of Nitrux-like roots: / an overlay with its lower layer read-only at
 * /media/root-ro and its upper layer on @upper_fs at /media/root-rw */
static void
write_overlay_mountinfo(const char *root, const char *upper_fs)
{
  g_autofree char *text = g_strdup_printf(
      "22 1 0:21 / /media/root-ro ro,relatime - ext4 /dev/sda2 ro\n"
      "23 1 0:22 / /media/root-rw rw,relatime - %s %s rw\n"
      "24 1 0:23 / / rw,relatime - overlay overlayroot "
      "rw,lowerdir=/media/root-ro,upperdir=/media/root-rw/overlay,workdir=/media/root-rw/"
      "overlay-workdir/_\n"
      "25 24 0:5 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n",
      upper_fs, g_strcmp0(upper_fs, "tmpfs") == 0 ? "tmpfs-root" : "/dev/sda3");

  vxm_test_write_file(root, "proc/self/mountinfo", text);
}

/* On an overlay root on tmpfs, on and off write nothing (the boot that would use the file
 * drops it) and give the steps through the lower layer; status says the running file lasts
 * until reboot and reads the lower layer's copy for what the next boot does. */
static void
test_static_overlay_root(void)
{
  g_autofree char *root = make_turing();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(VxmGpu) gpu = find_gpu(fs, "0000:01:00.0");
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error_off = NULL;
  g_autoptr(JsonNode) status = NULL;
  g_autofree char *path = g_build_filename(root, "etc/modprobe.d/vxm-vfio.conf", NULL);
  JsonObject *obj;

  write_overlay_mountinfo(root, "tmpfs");
  vxm_test_write_file(root, "media/root-ro/etc/hostname", "nitrux\n");
  g_assert_false(vxm_vfio_static_binding_write(fs, gpu, NULL, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_REFUSED);
  g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
  g_assert_nonnull(strstr(error->message, "nothing written: / is an overlay on tmpfs"));
  g_assert_nonnull(strstr(error->message, "lasting layer (/media/root-ro)"));
  g_assert_nonnull(strstr(error->message, "1. sudo overlayroot-chroot"));
  g_assert_nonnull(strstr(error->message, "/var/log/overlayroot-audit.log"));
  g_assert_nonnull(
      strstr(error->message, "2. write /etc/modprobe.d/vxm-vfio.conf there with these lines:\n"));
  g_assert_nonnull(strstr(
      error->message, "\n       options vfio-pci ids=10de:1f07,10de:10f9,10de:1ada,10de:1adb\n"));
  g_assert_nonnull(strstr(error->message, "3. update-initramfs -u, then exit"));

  /* off: the same refusal, with the file left as it was */
  vxm_test_write_file(root, "etc/modprobe.d/vxm-vfio.conf", "options vfio-pci ids=10de:1f07\n");
  g_assert_false(vxm_vfio_static_binding_remove(fs, NULL, &error_off));
  g_assert_error(error_off, VXM_ERROR, VXM_ERROR_REFUSED);
  g_assert_nonnull(strstr(error_off->message, "2. rm /etc/modprobe.d/vxm-vfio.conf\n"));
  g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));

  /* on in the running root, off in the lasting layer: off after the reboot */
  g_clear_error(&error);
  status = vxm_vfio_static_binding_status(fs, gpu, &error);
  g_assert_no_error(error);
  obj = json_node_get_object(status);
  g_assert_true(json_object_get_boolean_member(obj, "enabled"));
  g_assert_cmpstr(json_object_get_string_member(obj, "kind"), ==, "until reboot");
  g_assert_cmpstr(json_object_get_string_member(obj, "lasting_file"), ==,
                  "/media/root-ro/etc/modprobe.d/vxm-vfio.conf");
  g_assert_false(json_object_get_boolean_member(obj, "lasting_enabled"));
  g_clear_pointer(&status, json_node_unref);
  vxm_test_write_file(root, "media/root-ro/etc/modprobe.d/vxm-vfio.conf",
                      "options vfio-pci ids=10de:1f07\n");
  status = vxm_vfio_static_binding_status(fs, gpu, &error);
  g_assert_true(json_object_get_boolean_member(json_node_get_object(status), "lasting_enabled"));
  vxm_test_rm_rf(root);
}

/* An overlay whose upper layer is on a disk lasts: on writes as on a plain root. */
static void
test_static_overlay_on_disk(void)
{
  g_autofree char *root = make_turing();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(VxmGpu) gpu = find_gpu(fs, "0000:01:00.0");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) status = NULL;
  g_autofree char *path = g_build_filename(root, "etc/modprobe.d/vxm-vfio.conf", NULL);

  write_overlay_mountinfo(root, "ext4");
  g_assert_true(vxm_vfio_static_binding_write(fs, gpu, NULL, &error));
  g_assert_no_error(error);
  g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
  status = vxm_vfio_static_binding_status(fs, gpu, &error);
  g_assert_cmpstr(json_object_get_string_member(json_node_get_object(status), "kind"), ==,
                  "lasting");
  g_assert_false(json_object_has_member(json_node_get_object(status), "lasting_file"));
  vxm_test_rm_rf(root);
}

static void
test_static_same_ids_refused(void)
{
  g_autofree char *root = make_turing();
  g_autoptr(VxmHostfs) fs = NULL;
  g_autoptr(VxmGpu) gpu = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;

  /* a second, identical card the host keeps: ids= would take it too */
  add_device(root, "0000:02:00.0", "0x10de\n", "0x1f07\n", "0x030000\n", "nvidia", 15, "0\n");
  fs = vxm_hostfs_new(root);
  gpu = find_gpu(fs, "0000:01:00.0");
  g_assert_false(vxm_vfio_static_binding_write(fs, gpu, NULL, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_REFUSED);
  g_assert_nonnull(strstr(error->message, "0000:02:00.0 has the same ids (10de:1f07)"));
  path = g_build_filename(root, "etc/modprobe.d/vxm-vfio.conf", NULL);
  g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
  vxm_test_rm_rf(root);
}

/* Refusals before any write: in a static tree every write would change a file, so the
 * files are compared before and after. */
static int
compare_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
digest_dir(const char *path, GString *out)
{
  g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name(dir)) != NULL)
    g_ptr_array_add(names, g_strdup(name));
  g_ptr_array_sort(names, compare_names);
  for (guint i = 0; i < names->len; i++) {
    g_autofree char *child = g_build_filename(path, g_ptr_array_index(names, i), NULL);
    g_autofree char *target = g_file_read_link(child, NULL);
    g_autofree char *contents = NULL;

    g_string_append_printf(out, "%s -> %s\n", child, target != NULL ? target : "");
    if (target != NULL)
      continue;
    if (g_file_test(child, G_FILE_TEST_IS_DIR))
      digest_dir(child, out);
    else if (g_file_get_contents(child, &contents, NULL, NULL))
      g_string_append_printf(out, "  %s\n", contents);
  }
}

static char *
tree_digest(const char *root)
{
  GString *out = g_string_new(NULL);

  digest_dir(root, out);
  return g_string_free(out, FALSE);
}

static void
expect_refusal(const char *root, const char *addr, gboolean force, gint code,
               const char *const *needles)
{
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(VxmGpu) gpu = find_gpu(fs, addr);
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmJournal) journal = vxm_journal_new(fs, "refusal", &error);
  g_autofree char *before = tree_digest(root);
  g_autofree char *after = NULL;
  VxmVfioOptions options = {.timeout_ms = 300, .force = force};

  g_assert_no_error(error);
  g_assert_false(vxm_vfio_detach_group(fs, gpu, journal, &options, NULL, &error));
  g_assert_error(error, VXM_ERROR, code);
  for (guint i = 0; needles[i] != NULL; i++) {
    if (strstr(error->message, needles[i]) == NULL)
      g_error("'%s' not in: %s", needles[i], error->message);
  }
  after = tree_digest(root);
  g_assert_cmpstr(before, ==, after);
  g_assert_false(vxm_journal_exists(fs, "refusal"));
}

static void
test_refusals(void)
{
  g_autofree char *root = make_turing();

  /* the boot VGA (the policy's rule) */
  expect_refusal(root, "0000:00:02.0", TRUE, VXM_ERROR_REFUSED,
                 (const char *[]){"refusing to detach 0000:00:02.0", "boot", NULL});
  /* holders: Xorg and nvidia-persistenced; --force does not override NVIDIA */
  vxm_test_write_file(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/drm/card1", NULL);
  vxm_test_write_file(root, "proc/4242/comm", "nvidia-persiste\n");
  vxm_test_symlink(root, "proc/4242/fd/3", "/dev/nvidiactl");
  vxm_test_write_file(root, "proc/777/comm", "Xorg\n");
  vxm_test_symlink(root, "proc/777/fd/9", "/dev/dri/card1");
  expect_refusal(root, "0000:01:00.0", TRUE, VXM_ERROR_BUSY,
                 (const char *[]){"0000:01:00.0", "777 (Xorg: /dev/dri/card1)",
                                  "4242 (nvidia-persiste: /dev/nvidiactl)",
                                  "systemctl stop nvidia-persistenced", "--force cannot", NULL});
  vxm_test_rm_rf(root);

  g_free(root);

  /* vfio-pci not loaded */
  root = make_turing();
  {
    g_autofree char *vfio = g_build_filename(root, "sys/bus/pci/drivers/vfio-pci", NULL);
    g_assert_cmpint(rmdir(vfio), ==, 0);
  }
  expect_refusal(root, "0000:01:00.0", FALSE, VXM_ERROR_UNSUPPORTED,
                 (const char *[]){"0000:01:00.0", "modprobe vfio-pci", NULL});
  vxm_test_rm_rf(root);
  g_free(root);

  /* an unsafe group: a NIC shares group 14 */
  root = make_turing();
  add_device(root, "0000:03:00.0", "0x8086\n", "0x15f3\n", "0x020000\n", "igc", 14, NULL);
  expect_refusal(root, "0000:01:00.0", TRUE, VXM_ERROR_REFUSED,
                 (const char *[]){"refusing to detach 0000:01:00.0", "0000:03:00.0", NULL});
  vxm_test_rm_rf(root);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/vfio/static-binding/on-off", test_static_on_off);
  g_test_add_func("/vxm/vfio/static-binding/same-ids-refused", test_static_same_ids_refused);
  g_test_add_func("/vxm/vfio/static-binding/overlay-root-refused-with-steps",
                  test_static_overlay_root);
  g_test_add_func("/vxm/vfio/static-binding/overlay-on-disk-lasts", test_static_overlay_on_disk);
  g_test_add_func("/vxm/vfio/detach/refused-before-any-write", test_refusals);
  return g_test_run();
}
