#include "vxm-test-sysfs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vxm-test-util.h"

/* "../" repeated so that a link inside @dir (relative to root, under sys/) reaches sys/. */
static char *
up_to_sys(const char *dir)
{
  g_auto(GStrv) parts = g_strsplit(dir, "/", -1);
  guint n = g_strv_length(parts);
  GString *s = g_string_new(NULL);

  for (guint i = 1; i < n; i++)
    g_string_append(s, "../");
  return g_string_free(s, FALSE);
}

char *
vxm_test_sysfs_device_dir(const char *root, const char *bdf)
{
  g_autofree char *link = g_build_filename(root, "sys/bus/pci/devices", bdf, NULL);
  g_autofree char *real_root = realpath(root, NULL);
  g_autofree char *real = realpath(link, NULL);

  g_assert_nonnull(real_root);
  if (real == NULL)
    g_error("test tree has no PCI device %s under %s", bdf, root);
  g_assert_true(g_str_has_prefix(real, real_root));
  return g_strdup(real + strlen(real_root) + 1);
}

/* The device folder's path below sys/ ("devices/pci0000:00/..."). */
static const char *
below_sys(const char *dir)
{
  g_assert_true(g_str_has_prefix(dir, "sys/"));
  return dir + strlen("sys/");
}

static void
remove_path(const char *root, const char *relative)
{
  g_autofree char *path = g_build_filename(root, relative, NULL);
  unlink(path);
}

/* Writes an attribute in a known device folder (saves resolving the device each time). */
static void
set_attr_in(const char *root, const char *dir, const char *attr, const char *value)
{
  g_autofree char *rel = g_build_filename(dir, attr, NULL);
  g_autofree char *text = NULL;

  if (value == NULL) {
    remove_path(root, rel);
    return;
  }
  text = g_strdup_printf("%s\n", value);
  vxm_test_write_file(root, rel, text);
}

void
vxm_test_sysfs_set_attr(const char *root, const char *bdf, const char *attr, const char *value)
{
  g_autofree char *dir = vxm_test_sysfs_device_dir(root, bdf);

  set_attr_in(root, dir, attr, value);
}

void
vxm_test_sysfs_set_subsystem(const char *root, const char *bdf, guint16 subvendor,
                             guint16 subdevice)
{
  g_autofree char *v = g_strdup_printf("0x%04x", subvendor);
  g_autofree char *d = g_strdup_printf("0x%04x", subdevice);

  vxm_test_sysfs_set_attr(root, bdf, "subsystem_vendor", v);
  vxm_test_sysfs_set_attr(root, bdf, "subsystem_device", d);
}

void
vxm_test_sysfs_set_boot_vga(const char *root, const char *bdf, gboolean boot_vga)
{
  vxm_test_sysfs_set_attr(root, bdf, "boot_vga", boot_vga ? "1" : "0");
}

void
vxm_test_sysfs_set_driver(const char *root, const char *bdf, const char *driver)
{
  g_autofree char *dir = vxm_test_sysfs_device_dir(root, bdf);
  g_autofree char *driver_link = g_build_filename(dir, "driver", NULL);
  g_autofree char *driver_link_path = g_build_filename(root, driver_link, NULL);
  char old[4096];
  ssize_t n = readlink(driver_link_path, old, sizeof old - 1);

  if (n > 0) {
    g_autofree char *old_name = NULL;
    g_autofree char *back = NULL;

    old[n] = '\0';
    old_name = g_path_get_basename(old);
    back = g_build_filename("sys/bus/pci/drivers", old_name, bdf, NULL);
    remove_path(root, back);
    remove_path(root, driver_link);
  }
  if (driver != NULL) {
    g_autofree char *up = up_to_sys(dir);
    g_autofree char *target = g_strdup_printf("%sbus/pci/drivers/%s", up, driver);
    g_autofree char *drv_dir = g_build_filename("sys/bus/pci/drivers", driver, NULL);
    g_autofree char *back = g_build_filename(drv_dir, bdf, NULL);
    g_autofree char *up_drv = up_to_sys(drv_dir);
    g_autofree char *back_target = g_strdup_printf("%s%s", up_drv, below_sys(dir));
    g_autofree char *bind = g_build_filename(drv_dir, "bind", NULL);
    g_autofree char *unbind = g_build_filename(drv_dir, "unbind", NULL);

    vxm_test_write_file(root, bind, "");
    vxm_test_write_file(root, unbind, "");
    vxm_test_symlink(root, driver_link, target);
    vxm_test_symlink(root, back, back_target);
  }
}

void
vxm_test_sysfs_set_iommu_group(const char *root, const char *bdf, gint group)
{
  g_autofree char *dir = vxm_test_sysfs_device_dir(root, bdf);
  g_autofree char *group_link = g_build_filename(dir, "iommu_group", NULL);
  g_autofree char *group_link_path = g_build_filename(root, group_link, NULL);
  char old[4096];
  ssize_t n = readlink(group_link_path, old, sizeof old - 1);

  if (n > 0) {
    g_autofree char *old_group = NULL;
    g_autofree char *back = NULL;

    old[n] = '\0';
    old_group = g_path_get_basename(old);
    back = g_build_filename("sys/kernel/iommu_groups", old_group, "devices", bdf, NULL);
    remove_path(root, back);
    remove_path(root, group_link);
  }
  if (group >= 0) {
    g_autofree char *up = up_to_sys(dir);
    g_autofree char *target = g_strdup_printf("%skernel/iommu_groups/%d", up, group);
    g_autofree char *devices = g_strdup_printf("sys/kernel/iommu_groups/%d/devices", group);
    g_autofree char *back = g_build_filename(devices, bdf, NULL);
    g_autofree char *up_devices = up_to_sys(devices);
    g_autofree char *back_target = g_strdup_printf("%s%s", up_devices, below_sys(dir));

    vxm_test_symlink(root, group_link, target);
    vxm_test_symlink(root, back, back_target);
  }
}

void
vxm_test_sysfs_add_pci(const char *root, const char *bdf, const char *parent_bdf, guint16 vendor,
                       guint16 device, guint32 class_24, const char *driver, gint iommu_group)
{
  g_autofree char *parent_dir = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *up = NULL;
  g_autofree char *target = NULL;
  g_autofree char *link = g_build_filename("sys/bus/pci/devices", bdf, NULL);
  g_autofree char *text = NULL;
  guint16 code = (guint16)(class_24 >> 8);

  g_assert_cmpuint(strlen(bdf), ==, 12);
  if (parent_bdf != NULL) {
    parent_dir = vxm_test_sysfs_device_dir(root, parent_bdf);
  } else {
    g_autofree char *bus = g_strndup(bdf, 7); /* "0000:00" */
    parent_dir = g_strdup_printf("sys/devices/pci%s", bus);
  }
  dir = g_build_filename(parent_dir, bdf, NULL);
  vxm_test_write_file(root, dir, NULL);
  up = up_to_sys("sys/bus/pci/devices");
  target = g_strdup_printf("%s%s", up, below_sys(dir));
  vxm_test_symlink(root, link, target);
  vxm_test_write_file(root, "sys/bus/pci/drivers_probe", "");

  text = g_strdup_printf("0x%04x", vendor);
  set_attr_in(root, dir, "vendor", text);
  set_attr_in(root, dir, "subsystem_vendor", text);
  g_free(text);
  text = g_strdup_printf("0x%04x", device);
  set_attr_in(root, dir, "device", text);
  set_attr_in(root, dir, "subsystem_device", text);
  g_free(text);
  text = g_strdup_printf("0x%06x", class_24);
  set_attr_in(root, dir, "class", text);
  set_attr_in(root, dir, "revision", "0xa1");
  set_attr_in(root, dir, "numa_node", "-1");
  set_attr_in(root, dir, "driver_override", "(null)");
  if (code == 0x0300)
    set_attr_in(root, dir, "boot_vga", "0");
  if ((code >> 8) != 0x06)
    set_attr_in(root, dir, "reset_method", "flr bus");
  /* every PCI device has these: allowed into D3cold, running, and its resources (none
   * assigned until vxm_test_sysfs_set_bar) */
  set_attr_in(root, dir, "d3cold_allowed", "1");
  set_attr_in(root, dir, "power_state", "D0");
  {
    g_autoptr(GString) zero = g_string_new(NULL);
    g_autofree char *rel = g_build_filename(dir, "resource", NULL);

    for (guint i = 0; i < 13; i++)
      g_string_append(zero, "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
    vxm_test_write_file(root, rel, zero->str);
  }
  vxm_test_sysfs_set_driver(root, bdf, driver);
  vxm_test_sysfs_set_iommu_group(root, bdf, iommu_group);
}

void
vxm_test_sysfs_set_bar(const char *root, const char *bdf, guint bar, guint64 start, guint64 size,
                       guint64 flags, guint64 resize)
{
  g_autofree char *dir = vxm_test_sysfs_device_dir(root, bdf);
  g_autofree char *rel = g_build_filename(dir, "resource", NULL);
  g_autofree char *path = g_build_filename(root, rel, NULL);
  g_autofree char *old = NULL;
  g_autofree char *resize_attr = g_strdup_printf("resource%u_resize", bar);
  g_autoptr(GString) text = g_string_new(NULL);
  g_auto(GStrv) lines = NULL;

  g_assert_cmpuint(bar, <, 6);
  if (!g_file_get_contents(path, &old, NULL, NULL))
    old = g_strdup("");
  lines = g_strsplit(old, "\n", -1);
  /* a function's `resource`: 13 lines (6 BARs, the ROM, the bridge windows) */
  for (guint i = 0; i < 13; i++) {
    if (i == bar)
      g_string_append_printf(text,
                             "0x%016" G_GINT64_MODIFIER "x 0x%016" G_GINT64_MODIFIER
                             "x 0x%016" G_GINT64_MODIFIER "x\n",
                             start, start + size - 1, flags);
    else if (i < g_strv_length(lines) && lines[i][0] != '\0')
      g_string_append_printf(text, "%s\n", lines[i]);
    else
      g_string_append(text, "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
  }
  vxm_test_write_file(root, rel, text->str);
  if (resize != 0) {
    g_autofree char *value = g_strdup_printf("%016" G_GINT64_MODIFIER "x", resize);
    set_attr_in(root, dir, resize_attr, value);
  }
}

void
vxm_test_sysfs_add_drm(const char *root, const char *bdf, const char *node)
{
  g_autofree char *dir = vxm_test_sysfs_device_dir(root, bdf);
  g_autofree char *dev = g_build_filename(dir, "drm", node, "dev", NULL);

  vxm_test_write_file(root, dev, g_str_has_prefix(node, "render") ? "226:128\n" : "226:1\n");
}

void
vxm_test_sysfs_make_iommu_groups_dir(const char *root)
{
  vxm_test_write_file(root, "sys/kernel/iommu_groups", NULL);
  /* kvm with what a VFIO guide sets: MSRs ignored, quietly */
  vxm_test_write_file(root, "sys/module/kvm/parameters/ignore_msrs", "Y\n");
  vxm_test_write_file(root, "sys/module/kvm/parameters/report_ignored_msrs", "N\n");
}

void
vxm_test_host_add_cpuinfo(const char *root, const char *cpu_vendor)
{
  g_autofree char *text = NULL;

  text = g_strdup_printf("processor\t: 0\nvendor_id\t: %s\ncpu family\t: 6\n"
                         "model name\t: Test CPU\nflags\t\t: fpu vme %s\n\n"
                         "processor\t: 1\nvendor_id\t: %s\ncpu family\t: 6\n\n",
                         cpu_vendor, strcmp(cpu_vendor, "AuthenticAMD") == 0 ? "svm" : "vmx",
                         cpu_vendor);
  vxm_test_write_file(root, "proc/cpuinfo", text);
}

void
vxm_test_host_add_cmdline(const char *root, const char *cmdline)
{
  g_autofree char *text = g_strdup_printf("%s\n", cmdline);
  vxm_test_write_file(root, "proc/cmdline", text);
}

void
vxm_test_host_add_kvm(const char *root)
{
  vxm_test_write_file(root, "dev/kvm", "");
}

void
vxm_test_host_add_pci_ids(const char *root)
{
  g_autofree char *fixture = vxm_test_source_path("tests/data/pci.ids");
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;

  g_file_get_contents(fixture, &contents, NULL, &error);
  g_assert_no_error(error);
  vxm_test_write_file(root, "usr/share/misc/pci.ids", contents);
}

void
vxm_test_host_add_meminfo(const char *root, guint64 total_kib)
{
  g_autofree char *text = g_strdup_printf("MemTotal:       %" G_GUINT64_FORMAT " kB\n"
                                          "MemFree:        %" G_GUINT64_FORMAT " kB\n"
                                          "HugePages_Total:       0\n"
                                          "Hugepagesize:       2048 kB\n",
                                          total_kib, total_kib / 2);
  vxm_test_write_file(root, "proc/meminfo", text);
}

/* Leaves a file a test has already put there alone. */
static void
write_new_file(const char *root, const char *relative, const char *contents)
{
  g_autofree char *path = g_build_filename(root, relative, NULL);

  if (!g_file_test(path, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK))
    vxm_test_write_file(root, relative, contents);
}

void
vxm_test_host_add_firmware(const char *root)
{
  static const char *const descriptors[] = {"40-edk2-x86_64-secure-enrolled.json",
                                            "50-edk2-x86_64-secure.json", "60-edk2-x86_64.json"};

  for (gsize i = 0; i < G_N_ELEMENTS(descriptors); i++) {
    g_autofree char *rel = g_build_filename("tests/data/firmware/debian12", descriptors[i], NULL);
    g_autofree char *src = vxm_test_source_path(rel);
    g_autofree char *dest = g_build_filename("usr/share/qemu/firmware", descriptors[i], NULL);
    g_autofree char *contents = NULL;

    g_assert_true(g_file_get_contents(src, &contents, NULL, NULL));
    write_new_file(root, dest, contents);
  }
  write_new_file(root, "usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "code-sb");
  write_new_file(root, "usr/share/OVMF/OVMF_CODE_4M.fd", "code");
  write_new_file(root, "usr/share/OVMF/OVMF_VARS_4M.fd", "vars");
  write_new_file(root, "usr/share/OVMF/OVMF_VARS_4M.ms.fd", "vars-ms");
  {
    g_autofree char *ms = g_build_filename(root, "usr/share/OVMF/OVMF_CODE_4M.ms.fd", NULL);
    if (!g_file_test(ms, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK))
      vxm_test_symlink(root, "usr/share/OVMF/OVMF_CODE_4M.ms.fd", "OVMF_CODE_4M.secboot.fd");
  }
}

static void
add_host_files(const char *root, const char *cpu_vendor, const char *cmdline)
{
  vxm_test_host_add_cpuinfo(root, cpu_vendor);
  vxm_test_host_add_cmdline(root, cmdline);
  vxm_test_host_add_kvm(root);
  vxm_test_host_add_pci_ids(root);
  vxm_test_host_add_meminfo(root, G_GUINT64_CONSTANT(32) << 20);
  vxm_test_host_add_firmware(root);
  vxm_test_write_file(root, "sys/kernel/iommu_groups", NULL);
  /* kvm with what a VFIO guide sets: MSRs ignored, quietly */
  vxm_test_write_file(root, "sys/module/kvm/parameters/ignore_msrs", "Y\n");
  vxm_test_write_file(root, "sys/module/kvm/parameters/report_ignored_msrs", "N\n");
}

/* The usual Intel desktop around the GPUs; @gpu_group is the group of the CPU's x16 slot. */
static void
add_intel_platform(const char *root, gint gpu_group, gboolean iommu)
{
  vxm_test_sysfs_add_pci(root, "0000:00:00.0", NULL, 0x8086, 0x3e30, 0x060000, "skl_uncore",
                         iommu ? 0 : -1);
  vxm_test_sysfs_add_pci(root, "0000:00:01.0", NULL, 0x8086, 0x1901, 0x060400, "pcieport",
                         iommu ? gpu_group : -1);
  vxm_test_sysfs_add_pci(root, "0000:00:02.0", NULL, 0x8086, 0x3e92, 0x030000, "i915",
                         iommu ? 2 : -1);
  vxm_test_sysfs_set_boot_vga(root, "0000:00:02.0", TRUE);
  vxm_test_sysfs_add_drm(root, "0000:00:02.0", "card0");
  vxm_test_sysfs_add_drm(root, "0000:00:02.0", "renderD128");
  vxm_test_sysfs_add_pci(root, "0000:00:14.0", NULL, 0x8086, 0xa36d, 0x0c0330, "xhci_hcd",
                         iommu ? 3 : -1);
  vxm_test_sysfs_add_pci(root, "0000:00:1c.0", NULL, 0x8086, 0xa33c, 0x060400, "pcieport",
                         iommu ? 5 : -1);
  vxm_test_sysfs_add_pci(root, "0000:03:00.0", "0000:00:1c.0", 0x10ec, 0x8168, 0x020000, "r8169",
                         iommu ? 5 : -1);
}

/* NVIDIA Turing with its four functions in @slot ("0000:01:00") below @parent. */
static void
add_turing(const char *root, const char *slot, const char *parent, gint group)
{
  g_autofree char *f0 = g_strdup_printf("%s.0", slot);
  g_autofree char *f1 = g_strdup_printf("%s.1", slot);
  g_autofree char *f2 = g_strdup_printf("%s.2", slot);
  g_autofree char *f3 = g_strdup_printf("%s.3", slot);

  vxm_test_sysfs_add_pci(root, f0, parent, 0x10de, 0x1e81, 0x030000, "nvidia", group);
  vxm_test_sysfs_set_subsystem(root, f0, 0x1458, 0x3ffa);
  /* Turing's BARs without Resizable BAR: 16 MiB registers, 256 MiB and 32 MiB 64-bit */
  vxm_test_sysfs_set_bar(root, f0, 0, 0xde000000, 16 << 20, 0x00040200, 0);
  vxm_test_sysfs_set_bar(root, f0, 1, G_GUINT64_CONSTANT(0x7fe0000000), 256 << 20,
                         VXM_TEST_BAR_MEM64_PREFETCH, 0);
  vxm_test_sysfs_set_bar(root, f0, 3, G_GUINT64_CONSTANT(0x7ff0000000), 32 << 20,
                         VXM_TEST_BAR_MEM64_PREFETCH, 0);
  vxm_test_sysfs_add_drm(root, f0, "card1");
  vxm_test_sysfs_add_drm(root, f0, "renderD129");
  vxm_test_sysfs_add_pci(root, f1, parent, 0x10de, 0x10f8, 0x040300, "snd_hda_intel", group);
  vxm_test_sysfs_add_pci(root, f2, parent, 0x10de, 0x1ad8, 0x0c0330, "xhci_hcd", group);
  vxm_test_sysfs_add_pci(root, f3, parent, 0x10de, 0x1ad9, 0x0c8000, "nvidia-gpu", group);
}

void
vxm_test_machine_build(const char *root, VxmTestMachine machine)
{
  switch (machine) {
  case VXM_TEST_MACHINE_INTEL_NVIDIA:
    add_host_files(root, "GenuineIntel",
                   "BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p2 ro quiet "
                   "intel_iommu=on iommu=pt");
    add_intel_platform(root, 1, TRUE);
    add_turing(root, "0000:01:00", "0000:00:01.0", 1);
    break;
  case VXM_TEST_MACHINE_IOMMU_OFF:
    add_host_files(root, "GenuineIntel", "BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p2 ro quiet");
    add_intel_platform(root, 1, FALSE);
    add_turing(root, "0000:01:00", "0000:00:01.0", -1);
    break;
  case VXM_TEST_MACHINE_SHARED_GROUP:
    /* a board without ACS below the chipset: everything on its lanes shares group 14 */
    add_host_files(root, "GenuineIntel", "BOOT_IMAGE=/vmlinuz ro intel_iommu=on");
    vxm_test_sysfs_add_pci(root, "0000:00:00.0", NULL, 0x8086, 0x3e30, 0x060000, NULL, 0);
    vxm_test_sysfs_add_pci(root, "0000:00:02.0", NULL, 0x8086, 0x3e92, 0x030000, "i915", 2);
    vxm_test_sysfs_set_boot_vga(root, "0000:00:02.0", TRUE);
    vxm_test_sysfs_add_pci(root, "0000:00:14.0", NULL, 0x8086, 0xa36d, 0x0c0330, "xhci_hcd", 14);
    vxm_test_sysfs_add_pci(root, "0000:00:1c.0", NULL, 0x8086, 0xa33c, 0x060400, "pcieport", 14);
    vxm_test_sysfs_add_pci(root, "0000:00:1c.4", NULL, 0x8086, 0xa334, 0x060400, "pcieport", 14);
    vxm_test_sysfs_add_pci(root, "0000:01:00.0", "0000:00:1c.4", 0x10de, 0x2206, 0x030000, "nvidia",
                           14);
    vxm_test_sysfs_set_subsystem(root, "0000:01:00.0", 0x1458, 0x403b);
    vxm_test_sysfs_add_pci(root, "0000:01:00.1", "0000:00:1c.4", 0x10de, 0x1aef, 0x040300,
                           "snd_hda_intel", 14);
    vxm_test_sysfs_add_pci(root, "0000:03:00.0", "0000:00:1c.0", 0x10ec, 0x8168, 0x020000, "r8169",
                           14);
    break;
  case VXM_TEST_MACHINE_AMD_RADEON:
    add_host_files(root, "AuthenticAMD", "BOOT_IMAGE=/vmlinuz root=UUID=1234 ro quiet splash");
    vxm_test_sysfs_add_pci(root, "0000:00:00.0", NULL, 0x1022, 0x1630, 0x060000, NULL, 0);
    vxm_test_sysfs_add_pci(root, "0000:00:01.1", NULL, 0x1022, 0x1633, 0x060400, "pcieport", 1);
    vxm_test_sysfs_add_pci(root, "0000:01:00.0", "0000:00:01.1", 0x1002, 0x1478, 0x060400,
                           "pcieport", 12);
    vxm_test_sysfs_add_pci(root, "0000:02:00.0", "0000:01:00.0", 0x1002, 0x1479, 0x060400,
                           "pcieport", 12);
    vxm_test_sysfs_add_pci(root, "0000:03:00.0", "0000:02:00.0", 0x1002, 0x73bf, 0x030000, "amdgpu",
                           12);
    vxm_test_sysfs_set_subsystem(root, "0000:03:00.0", 0x1da2, 0x438e);
    /* RX 6800 with Resizable BAR offered (256 MiB to 16 GiB) but left at 256 MiB */
    vxm_test_sysfs_set_bar(root, "0000:03:00.0", 0, G_GUINT64_CONSTANT(0x7c00000000), 256 << 20,
                           VXM_TEST_BAR_MEM64_PREFETCH, 0x7f00);
    vxm_test_sysfs_set_bar(root, "0000:03:00.0", 2, G_GUINT64_CONSTANT(0x7c10000000), 2 << 20,
                           VXM_TEST_BAR_MEM64_PREFETCH, 0);
    vxm_test_sysfs_set_bar(root, "0000:03:00.0", 5, 0xfcd00000, 1 << 20, 0x00040200, 0);
    vxm_test_sysfs_add_drm(root, "0000:03:00.0", "card1");
    vxm_test_sysfs_add_drm(root, "0000:03:00.0", "renderD129");
    vxm_test_sysfs_add_pci(root, "0000:03:00.1", "0000:02:00.0", 0x1002, 0xab28, 0x040300,
                           "snd_hda_intel", 12);
    vxm_test_sysfs_add_pci(root, "0000:00:08.1", NULL, 0x1022, 0x1635, 0x060400, "pcieport", 5);
    vxm_test_sysfs_add_pci(root, "0000:0e:00.0", "0000:00:08.1", 0x1002, 0x1638, 0x030000, "amdgpu",
                           13);
    vxm_test_sysfs_set_boot_vga(root, "0000:0e:00.0", TRUE);
    vxm_test_sysfs_add_drm(root, "0000:0e:00.0", "card0");
    vxm_test_sysfs_add_drm(root, "0000:0e:00.0", "renderD128");
    vxm_test_sysfs_add_pci(root, "0000:0e:00.1", "0000:00:08.1", 0x1002, 0x1637, 0x040300,
                           "snd_hda_intel", 14);
    break;
  case VXM_TEST_MACHINE_TWO_DGPU:
    add_host_files(root, "AuthenticAMD", "BOOT_IMAGE=/vmlinuz ro quiet");
    vxm_test_sysfs_add_pci(root, "0000:00:00.0", NULL, 0x1022, 0x1480, 0x060000, NULL, 0);
    vxm_test_sysfs_add_pci(root, "0000:00:01.1", NULL, 0x1022, 0x1483, 0x060400, "pcieport", 2);
    vxm_test_sysfs_add_pci(root, "0000:00:03.1", NULL, 0x1022, 0x1483, 0x060400, "pcieport", 4);
    add_turing(root, "0000:01:00", "0000:00:01.1", 16);
    vxm_test_sysfs_set_boot_vga(root, "0000:01:00.0", TRUE);
    vxm_test_sysfs_add_pci(root, "0000:02:00.0", "0000:00:03.1", 0x1002, 0x73bf, 0x030000, "amdgpu",
                           17);
    vxm_test_sysfs_add_pci(root, "0000:02:00.1", "0000:00:03.1", 0x1002, 0xab28, 0x040300,
                           "snd_hda_intel", 18);
    break;
  case VXM_TEST_MACHINE_SINGLE_GPU:
    add_host_files(root, "GenuineIntel", "BOOT_IMAGE=/vmlinuz ro quiet intel_iommu=on");
    vxm_test_sysfs_add_pci(root, "0000:00:00.0", NULL, 0x8086, 0x3e30, 0x060000, NULL, 0);
    vxm_test_sysfs_add_pci(root, "0000:00:01.0", NULL, 0x8086, 0x1901, 0x060400, "pcieport", 1);
    vxm_test_sysfs_add_pci(root, "0000:01:00.0", "0000:00:01.0", 0x10de, 0x2206, 0x030000, "nvidia",
                           1);
    vxm_test_sysfs_set_boot_vga(root, "0000:01:00.0", TRUE);
    vxm_test_sysfs_add_pci(root, "0000:01:00.1", "0000:00:01.0", 0x10de, 0x1aef, 0x040300,
                           "snd_hda_intel", 1);
    break;
  }
}
