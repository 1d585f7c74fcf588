#include <string.h>

#include "common/vxm-error.h"
#include "pci/vxm-pci-ids.h"
#include "vxm-test-sysfs.h"
#include "vxm-test-util.h"

static VxmPciIds *
load_fixture(void)
{
  g_autofree char *path = vxm_test_source_path("tests/data/pci.ids");
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;

  g_file_get_contents(path, &contents, &len, &error);
  g_assert_no_error(error);
  return vxm_pci_ids_new_from_data(contents, len);
}

static void
test_fixture_names(void)
{
  g_autoptr(VxmPciIds) ids = load_fixture();

  g_assert_cmpstr(vxm_pci_ids_get_vendor_name(ids, 0x10de), ==, "NVIDIA Corporation");
  g_assert_cmpstr(vxm_pci_ids_get_vendor_name(ids, 0x1002), ==,
                  "Advanced Micro Devices, Inc. [AMD/ATI]");
  g_assert_cmpstr(vxm_pci_ids_get_device_name(ids, 0x10de, 0x2206), ==, "GA102 [GeForce RTX 3080]");
  g_assert_cmpstr(vxm_pci_ids_get_device_name(ids, 0x8086, 0x3e92), ==,
                  "CoffeeLake-S GT2 [UHD Graphics 630]");
  /* the device belongs to its vendor: the same id under another vendor is not it */
  g_assert_null(vxm_pci_ids_get_device_name(ids, 0x1002, 0x2206));
  g_assert_null(vxm_pci_ids_get_vendor_name(ids, 0xdead));
  g_assert_null(vxm_pci_ids_get_device_name(ids, 0x10de, 0xffff));
  g_assert_cmpstr(vxm_pci_ids_get_subsystem_name(ids, 0x1002, 0x73bf, 0x1da2, 0x438e), ==,
                  "NITRO+ Radeon RX 6800 XT");
  g_assert_null(vxm_pci_ids_get_subsystem_name(ids, 0x1002, 0x73bf, 0x1da2, 0x0001));
  /* a subsystem line of the next device is not this device's */
  g_assert_null(vxm_pci_ids_get_subsystem_name(ids, 0x1002, 0xab28, 0x1da2, 0x438e));
  g_assert_cmpuint(vxm_pci_ids_get_vendor_count(ids), ==, 5);
  g_assert_null(vxm_pci_ids_get_source(ids));
}

static void
test_class_names(void)
{
  g_autoptr(VxmPciIds) ids = load_fixture();
  g_autoptr(VxmPciIds) empty = vxm_pci_ids_new_from_data("", 0);

  g_assert_cmpstr(vxm_pci_ids_get_class_name(ids, 0x0c03), ==, "USB controller");
  g_assert_cmpstr(vxm_pci_ids_get_class_name(ids, 0x0200), ==, "Ethernet controller");
  g_assert_cmpstr(vxm_pci_ids_get_class_name(ids, 0x0302), ==, "3D controller");
  /* an unknown subclass of a known class falls back to the class's name */
  g_assert_cmpstr(vxm_pci_ids_get_class_name(ids, 0x0377), ==, "Display controller");
  /* without pci.ids, the built-in table names what IOMMU groups usually hold */
  g_assert_cmpstr(vxm_pci_ids_get_class_name(NULL, 0x0c03), ==, "USB controller");
  g_assert_cmpstr(vxm_pci_ids_get_class_name(empty, 0x0604), ==, "PCI bridge");
  g_assert_cmpstr(vxm_pci_ids_get_class_name(NULL, 0x0403), ==, "Audio device");
  g_assert_null(vxm_pci_ids_get_class_name(NULL, 0xff42));
}

static void
test_malformed_lines(void)
{
  /* every kind of damage: short ids, bad hex, no name, a stray top-level line ending the
   * vendor's block, CRLF, trailing blanks, an embedded NUL, no final newline */
  static const char data[] = "# comment\n"
                             "10de  NVIDIA Corporation  \r\n"
                             "\t2206  GA102 [GeForce RTX 3080]\r\n"
                             "\t22  short id\n"
                             "\tzzzz  bad hex\n"
                             "\t1e81\n"
                             "\t\t1458 403b  Gaming OC\n"
                             "\t\t1458  missing subdevice\n"
                             "garbage at top level\n"
                             "\t1aef  orphaned device line\n"
                             "1002\n"
                             "1002\tAMD with a tab\n"
                             "\t73bf  Navi\0 21\n"
                             "1002  duplicate vendor\n"
                             "C 0c  Serial bus controller\n"
                             "\t03  USB controller\n"
                             "C zz  broken class\n"
                             "\t03  not a subclass of anything\n"
                             "8086  Intel Corporation";
  g_autoptr(VxmPciIds) ids = vxm_pci_ids_new_from_data(data, sizeof data - 1);

  g_assert_cmpstr(vxm_pci_ids_get_vendor_name(ids, 0x10de), ==, "NVIDIA Corporation");
  g_assert_cmpstr(vxm_pci_ids_get_device_name(ids, 0x10de, 0x2206), ==, "GA102 [GeForce RTX 3080]");
  g_assert_null(vxm_pci_ids_get_device_name(ids, 0x10de, 0x1e81));
  g_assert_null(vxm_pci_ids_get_device_name(ids, 0x10de, 0x1aef));
  /* the first of duplicate vendors wins */
  g_assert_cmpstr(vxm_pci_ids_get_vendor_name(ids, 0x1002), ==, "AMD with a tab");
  g_assert_cmpstr(vxm_pci_ids_get_device_name(ids, 0x1002, 0x73bf), ==, "Navi");
  g_assert_cmpstr(vxm_pci_ids_get_vendor_name(ids, 0x8086), ==, "Intel Corporation");
  g_assert_cmpstr(vxm_pci_ids_get_class_name(ids, 0x0c03), ==, "USB controller");
  g_assert_cmpuint(vxm_pci_ids_get_vendor_count(ids), ==, 3);
}

static void
test_load_from_root(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmPciIds) missing = vxm_pci_ids_load(fs, &error);
  g_autoptr(VxmPciIds) hwdata = NULL;
  g_autoptr(VxmPciIds) misc = NULL;

  /* neither file: NOT_FOUND naming both and the package to install */
  g_assert_null(missing);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, VXM_HOST_PCI_IDS));
  g_assert_nonnull(strstr(error->message, VXM_HOST_PCI_IDS_HWDATA));
  g_clear_error(&error);

  /* hwdata's location is the fallback */
  vxm_test_write_file(root, "usr/share/hwdata/pci.ids", "1234  Hwdata Vendor\n");
  hwdata = vxm_pci_ids_load(fs, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(vxm_pci_ids_get_source(hwdata), ==, VXM_HOST_PCI_IDS_HWDATA);
  g_assert_cmpstr(vxm_pci_ids_get_vendor_name(hwdata, 0x1234), ==, "Hwdata Vendor");

  /* and /usr/share/misc comes first */
  vxm_test_host_add_pci_ids(root);
  misc = vxm_pci_ids_load(fs, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(vxm_pci_ids_get_source(misc), ==, VXM_HOST_PCI_IDS);
  g_assert_null(vxm_pci_ids_get_vendor_name(misc, 0x1234));
  g_assert_cmpstr(vxm_pci_ids_get_vendor_name(misc, 0x10de), ==, "NVIDIA Corporation");
  vxm_test_rm_rf(root);
}

/* A lazy database reads the file at its first lookup, not when made: a file written in
 * between is the one seen, and without a file there are no names but the built-in classes. */
static void
test_lazy(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(VxmPciIds) lazy = vxm_pci_ids_new_lazy(fs);
  g_autoptr(VxmPciIds) none = vxm_pci_ids_new_lazy(fs);

  vxm_test_write_file(root, "usr/share/hwdata/pci.ids", "1234  Written Later\n");
  g_assert_cmpstr(vxm_pci_ids_get_vendor_name(lazy, 0x1234), ==, "Written Later");
  g_assert_cmpstr(vxm_pci_ids_get_source(lazy), ==, VXM_HOST_PCI_IDS_HWDATA);
  vxm_test_rm_rf(root);

  /* read once: the file gone after the first lookup changes nothing */
  g_assert_cmpstr(vxm_pci_ids_get_vendor_name(lazy, 0x1234), ==, "Written Later");
  g_assert_null(vxm_pci_ids_get_vendor_name(none, 0x1234));
  g_assert_null(vxm_pci_ids_get_device_name(none, 0x1234, 0x0001));
  g_assert_cmpstr(vxm_pci_ids_get_class_name(none, 0x0300), ==, "VGA compatible controller");
}

static void
test_real_file(void)
{
  g_autofree char *root = NULL;
  g_autoptr(VxmHostfs) fs = NULL;
  g_autoptr(VxmPciIds) ids = NULL;
  g_autoptr(GError) error = NULL;
  const char *real = "/usr/share/misc/pci.ids";

  if (!g_file_test(real, G_FILE_TEST_EXISTS)) {
    g_test_skip("this machine has no /usr/share/misc/pci.ids");
    return;
  }
  root = vxm_test_mkdtemp();
  vxm_test_symlink(root, "usr/share/misc/pci.ids", real);
  fs = vxm_hostfs_new(root);
  ids = vxm_pci_ids_load(fs, &error);
  g_assert_no_error(error);
  /* the real list has thousands of vendors, and the names every GPU user knows */
  g_assert_cmpuint(vxm_pci_ids_get_vendor_count(ids), >, 2000);
  g_assert_cmpstr(vxm_pci_ids_get_vendor_name(ids, 0x10de), ==, "NVIDIA Corporation");
  g_assert_cmpstr(vxm_pci_ids_get_device_name(ids, 0x10de, 0x2206), ==, "GA102 [GeForce RTX 3080]");
  g_assert_cmpstr(vxm_pci_ids_get_vendor_name(ids, 0x8086), ==, "Intel Corporation");
  g_assert_cmpstr(vxm_pci_ids_get_class_name(ids, 0x0c03), ==, "USB controller");
  /* the last vendor in the file is found too (ffff is "Illegal Vendor ID") */
  g_assert_nonnull(vxm_pci_ids_get_vendor_name(ids, 0xffff));
  vxm_test_rm_rf(root);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/pci/ids/fixture-names", test_fixture_names);
  g_test_add_func("/vxm/pci/ids/class-names", test_class_names);
  g_test_add_func("/vxm/pci/ids/malformed-lines", test_malformed_lines);
  g_test_add_func("/vxm/pci/ids/load-from-root", test_load_from_root);
  g_test_add_func("/vxm/pci/ids/lazy", test_lazy);
  g_test_add_func("/vxm/pci/ids/real-file", test_real_file);
  return g_test_run();
}
