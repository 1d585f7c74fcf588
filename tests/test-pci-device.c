#include <string.h>

#include "common/vxm-error.h"
#include "pci/vxm-pci-bus.h"
#include "pci/vxm-pci-device.h"
#include "vxm-test-sysfs.h"
#include "vxm-test-util.h"

typedef struct {
  char *root;
  VxmHostfs *fs;
  VxmPciIds *ids;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
  f->root = vxm_test_mkdtemp();
  vxm_test_machine_build(f->root, GPOINTER_TO_INT(data));
  f->fs = vxm_hostfs_new(f->root);
  f->ids = vxm_pci_ids_load(f->fs, NULL);
  g_assert_nonnull(f->ids);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
  g_clear_object(&f->ids);
  g_clear_object(&f->fs);
  vxm_test_rm_rf(f->root);
  g_free(f->root);
}

static void
test_reads_nested_device(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmPciDevice) dev = vxm_pci_device_new(f->fs, "1:0.0", f->ids, &error);
  const char *const *resets;
  const char *const *drm;
  g_autofree char *desc = NULL;
  g_autofree char *name = NULL;

  g_assert_no_error(error);
  g_assert_cmpstr(vxm_pci_device_get_address(dev), ==, "0000:01:00.0");
  /* the kernel puts it below its bridge; the canonical path says so */
  g_assert_cmpstr(vxm_pci_device_get_sysfs_path(dev), ==,
                  "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0");
  g_assert_cmphex(vxm_pci_device_get_vendor_id(dev), ==, 0x10de);
  g_assert_cmphex(vxm_pci_device_get_device_id(dev), ==, 0x1e81);
  g_assert_true(vxm_pci_device_has_subsystem(dev));
  g_assert_cmphex(vxm_pci_device_get_subsystem_vendor_id(dev), ==, 0x1458);
  g_assert_cmphex(vxm_pci_device_get_subsystem_device_id(dev), ==, 0x3ffa);
  g_assert_cmphex(vxm_pci_device_get_class(dev), ==, 0x030000);
  g_assert_cmphex(vxm_pci_device_get_class_code(dev), ==, 0x0300);
  g_assert_cmpint(vxm_pci_device_get_revision(dev), ==, 0xa1);
  g_assert_cmpstr(vxm_pci_device_get_driver(dev), ==, "nvidia");
  g_assert_null(vxm_pci_device_get_driver_override(dev));
  g_assert_true(vxm_pci_device_has_boot_vga(dev));
  g_assert_false(vxm_pci_device_is_boot_vga(dev));
  g_assert_cmpint(vxm_pci_device_get_iommu_group(dev), ==, 1);
  g_assert_cmpint(vxm_pci_device_get_numa_node(dev), ==, -1);
  resets = vxm_pci_device_get_reset_methods(dev);
  g_assert_nonnull(resets);
  g_assert_cmpstr(resets[0], ==, "flr");
  g_assert_cmpstr(resets[1], ==, "bus");
  g_assert_null(resets[2]);
  drm = vxm_pci_device_get_drm_nodes(dev);
  g_assert_cmpstr(drm[0], ==, "card1");
  g_assert_cmpstr(drm[1], ==, "renderD129");
  g_assert_null(drm[2]);
  g_assert_cmpstr(vxm_pci_device_get_vendor_name(dev), ==, "NVIDIA Corporation");
  g_assert_cmpstr(vxm_pci_device_get_device_name(dev), ==, "TU104 [GeForce RTX 2080 SUPER]");
  g_assert_cmpstr(vxm_pci_device_get_class_name(dev), ==, "VGA compatible controller");
  g_assert_true(vxm_pci_device_is_display(dev));
  name = vxm_pci_device_dup_display_name(dev);
  g_assert_cmpstr(name, ==, "NVIDIA Corporation TU104 [GeForce RTX 2080 SUPER]");
  desc = vxm_pci_device_dup_description(dev);
  g_assert_cmpstr(desc, ==, "0000:01:00.0 (VGA compatible controller, 0300)");

  /* the tree's links have the kernel's shape and depth (simhost trees must match) */
  {
    g_autofree char *group = vxm_hostfs_read_link(
        f->fs, "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/iommu_group", &error);
    g_autofree char *driver = vxm_hostfs_read_link(
        f->fs, "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/driver", &error);
    g_autofree char *back =
        vxm_hostfs_read_link(f->fs, "/sys/kernel/iommu_groups/1/devices/0000:01:00.0", &error);

    g_assert_no_error(error);
    g_assert_cmpstr(group, ==, "../../../../kernel/iommu_groups/1");
    g_assert_cmpstr(driver, ==, "../../../../bus/pci/drivers/nvidia");
    g_assert_cmpstr(back, ==, "../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0");
  }
}

static void
test_bridge_and_unbound(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmPciDevice) bridge = vxm_pci_device_new(f->fs, "0000:00:01.0", f->ids, &error);
  g_autoptr(VxmPciDevice) usb = NULL;

  g_assert_no_error(error);
  g_assert_false(vxm_pci_device_has_boot_vga(bridge));
  g_assert_null(vxm_pci_device_get_reset_methods(bridge));
  g_assert_null(vxm_pci_device_get_drm_nodes(bridge)[0]);
  g_assert_false(vxm_pci_device_is_display(bridge));

  /* unbound, an override set, no group, a NUMA node: each read as such */
  vxm_test_sysfs_set_driver(f->root, "0000:01:00.2", NULL);
  vxm_test_sysfs_set_attr(f->root, "0000:01:00.2", "driver_override", "vfio-pci");
  vxm_test_sysfs_set_iommu_group(f->root, "0000:01:00.2", -1);
  vxm_test_sysfs_set_attr(f->root, "0000:01:00.2", "numa_node", "1");
  usb = vxm_pci_device_new(f->fs, "01:00.2", NULL, &error);
  g_assert_no_error(error);
  g_assert_null(vxm_pci_device_get_driver(usb));
  g_assert_cmpstr(vxm_pci_device_get_driver_override(usb), ==, "vfio-pci");
  g_assert_cmpint(vxm_pci_device_get_iommu_group(usb), ==, -1);
  g_assert_cmpint(vxm_pci_device_get_numa_node(usb), ==, 1);
  /* without pci.ids: no names, but the built-in class table still speaks */
  g_assert_null(vxm_pci_device_get_vendor_name(usb));
  g_assert_cmpstr(vxm_pci_device_get_class_name(usb), ==, "USB controller");
  {
    g_autofree char *name = vxm_pci_device_dup_display_name(usb);
    g_assert_cmpstr(name, ==, "10de:1ad8");
  }
}

static void
test_reload_sees_binding(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmPciDevice) dev = vxm_pci_device_new(f->fs, "0000:01:00.1", f->ids, &error);

  g_assert_no_error(error);
  g_assert_cmpstr(vxm_pci_device_get_driver(dev), ==, "snd_hda_intel");
  vxm_test_sysfs_set_attr(f->root, "0000:01:00.1", "driver_override", "vfio-pci");
  vxm_test_sysfs_set_driver(f->root, "0000:01:00.1", "vfio-pci");
  g_assert_true(vxm_pci_device_reload(dev, &error));
  g_assert_no_error(error);
  g_assert_cmpstr(vxm_pci_device_get_driver(dev), ==, "vfio-pci");
  g_assert_cmpstr(vxm_pci_device_get_driver_override(dev), ==, "vfio-pci");
  vxm_test_sysfs_set_attr(f->root, "0000:01:00.1", "driver_override", "(null)");
  vxm_test_sysfs_set_driver(f->root, "0000:01:00.1", NULL);
  g_assert_true(vxm_pci_device_reload(dev, &error));
  g_assert_null(vxm_pci_device_get_driver(dev));
  g_assert_null(vxm_pci_device_get_driver_override(dev));
}

static void
test_errors_name_the_device(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmPciDevice) missing = vxm_pci_device_new(f->fs, "05:00.0", f->ids, &error);
  g_autoptr(VxmPciDevice) bad = NULL;
  g_autoptr(VxmPciDevice) garbage = NULL;

  g_assert_null(missing);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_cmpstr(error->message, ==, "no PCI device 0000:05:00.0 (see vxm list-gpus)");
  g_clear_error(&error);

  vxm_test_sysfs_set_attr(f->root, "0000:01:00.0", "vendor", "nvidia");
  bad = vxm_pci_device_new(f->fs, "0000:01:00.0", f->ids, &error);
  g_assert_null(bad);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
  g_assert_nonnull(strstr(error->message, "0000:01:00.0"));
  g_assert_nonnull(strstr(error->message, "vendor"));
  g_clear_error(&error);

  garbage = vxm_pci_device_new(f->fs, "01:00", f->ids, &error);
  g_assert_null(garbage);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
}

static void
test_bus_enumerates_sorted(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmPciBus) bus = vxm_pci_bus_new(f->fs, &error);
  GPtrArray *devices;
  g_autoptr(GPtrArray) group1 = NULL;
  g_autoptr(GPtrArray) nogroup = NULL;
  static const char *const expected[] = {
      "0000:00:00.0", "0000:00:01.0", "0000:00:02.0", "0000:00:14.0", "0000:00:1c.0",
      "0000:01:00.0", "0000:01:00.1", "0000:01:00.2", "0000:01:00.3", "0000:03:00.0",
  };

  g_assert_no_error(error);
  devices = vxm_pci_bus_get_devices(bus);
  g_assert_cmpuint(devices->len, ==, G_N_ELEMENTS(expected));
  for (guint i = 0; i < devices->len; i++)
    g_assert_cmpstr(vxm_pci_device_get_address(g_ptr_array_index(devices, i)), ==, expected[i]);
  g_assert_true(vxm_pci_bus_get_iommu_enabled(bus));
  g_assert_cmpuint(vxm_pci_bus_get_iommu_group_count(bus), ==, 5);
  g_assert_nonnull(vxm_pci_bus_get_ids(bus));
  g_assert_true(vxm_pci_bus_lookup(bus, "1:0.3") == g_ptr_array_index(devices, 8));
  g_assert_null(vxm_pci_bus_lookup(bus, "0000:09:00.0"));

  group1 = vxm_pci_bus_get_iommu_group_members(bus, 1);
  g_assert_cmpuint(group1->len, ==, 5);
  g_assert_cmpstr(vxm_pci_device_get_address(g_ptr_array_index(group1, 0)), ==, "0000:00:01.0");
  g_assert_cmpstr(vxm_pci_device_get_address(g_ptr_array_index(group1, 4)), ==, "0000:01:00.3");
  nogroup = vxm_pci_bus_get_iommu_group_members(bus, 99);
  g_assert_cmpuint(nogroup->len, ==, 0);
}

static void
test_bus_iommu_off(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmPciBus) bus = vxm_pci_bus_new(f->fs, &error);

  g_assert_no_error(error);
  /* the folder exists but holds no group: off */
  g_assert_false(vxm_pci_bus_get_iommu_enabled(bus));
  g_assert_cmpuint(vxm_pci_bus_get_iommu_group_count(bus), ==, 0);
}

static void
test_bus_bad_root(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmPciBus) bus = vxm_pci_bus_new(fs, &error);

  g_assert_null(bus);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, VXM_HOST_SYS_PCI_DEVICES));
  vxm_test_rm_rf(root);
}

#define ADD(path, func, machine) \
  g_test_add(path, Fixture, GINT_TO_POINTER(machine), fixture_setup, func, fixture_teardown)

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  ADD("/vxm/pci/device/nested-under-bridge", test_reads_nested_device,
      VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/pci/device/bridge-and-unbound", test_bridge_and_unbound, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/pci/device/reload-sees-binding", test_reload_sees_binding,
      VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/pci/device/errors-name-the-device", test_errors_name_the_device,
      VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/pci/bus/enumerates-sorted", test_bus_enumerates_sorted, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/pci/bus/iommu-off", test_bus_iommu_off, VXM_TEST_MACHINE_IOMMU_OFF);
  g_test_add_func("/vxm/pci/bus/bad-root", test_bus_bad_root);
  return g_test_run();
}
