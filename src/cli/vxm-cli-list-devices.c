/* vxm list-devices: every PCI device, its IOMMU group and driver, and whether it can be given
 * to a guest whole ([pci] extra), or why not (vxm-pci-extra). */
#include <string.h>

#include "pci/vxm-gpu.h"
#include "vm/vxm-pci-extra.h"
#include "vxm-cli.h"

static const char *
or_dash(const char *s)
{
  return s != NULL ? s : "-";
}

static void
print_table(VxmCli *cli, VxmPciBus *bus, VxmHostNeeds *needs, GPtrArray *gpus)
{
  GPtrArray *devices = vxm_pci_bus_get_devices(bus);
  int w_driver = (int)strlen("DRIVER"), w_group = (int)strlen("GROUP");

  for (guint i = 0; i < devices->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(devices, i);
    g_autofree char *group = g_strdup_printf("%d", vxm_pci_device_get_iommu_group(dev));

    w_driver = MAX(w_driver, (int)strlen(or_dash(vxm_pci_device_get_driver(dev))));
    w_group = MAX(w_group, (int)strlen(group));
  }
  g_print("%-12s  %-*s  %-*s  %-4s  %s\n", "ADDRESS", w_group, "GROUP", w_driver, "DRIVER", "PASS",
          "DEVICE");
  for (guint i = 0; i < devices->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(devices, i);
    gint n = vxm_pci_device_get_iommu_group(dev);
    g_autofree char *group = n >= 0 ? g_strdup_printf("%d", n) : g_strdup("-");
    g_autofree char *why = vxm_pci_extra_list_reason(bus, needs, gpus, dev);
    g_autofree char *name = vxm_pci_device_dup_display_name(dev);
    const char *class_name = vxm_pci_device_get_class_name(dev);
    g_autofree char *cls =
        class_name != NULL
            ? g_strdup_printf("%s (%04x)", class_name, vxm_pci_device_get_class_code(dev))
            : g_strdup_printf("class %04x", vxm_pci_device_get_class_code(dev));
    g_autofree char *pass =
        vxm_cli_colored(cli, why == NULL ? "1;32" : "1;31", why == NULL ? "yes " : "no  ");

    g_print("%-12s  %-*s  %-*s  %s  %s: %s\n", vxm_pci_device_get_address(dev), w_group, group,
            w_driver, or_dash(vxm_pci_device_get_driver(dev)), pass, cls, name);
    if (why != NULL)
      g_print("%-12s  %s\n", "", why);
  }
}

int
vxm_cli_cmd_list_devices(VxmCli *cli, int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON array, one object per device", NULL},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmPciBus) bus = NULL;
  g_autoptr(GPtrArray) gpus = NULL;
  g_autoptr(VxmHostNeeds) needs = NULL;
  VxmHostfs *hostfs;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, NULL,
                     "Lists every PCI device with its IOMMU group and driver, and whether it can "
                     "be given to a guest whole ([pci] extra in the VM's config), or why not: "
                     "the host's disks and only keyboard stay, GPUs go as [gpu] address, and an "
                     "IOMMU group goes whole."))
    return VXM_EXIT_USAGE;
  if (argc > 1)
    return vxm_cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL)
    return vxm_cli_fail(cli, error);
  bus = vxm_pci_bus_new(hostfs, &error);
  if (bus == NULL)
    return vxm_cli_fail(cli, error);
  gpus = vxm_gpu_list_for_bus(bus, NULL);
  needs = vxm_host_needs_read(hostfs);
  if (json) {
    g_autoptr(JsonNode) node = vxm_pci_extra_list_json(bus, needs, gpus);

    vxm_cli_print_json(node);
    return VXM_EXIT_OK;
  }
  if (vxm_pci_bus_get_devices(bus)->len == 0) {
    g_print("No PCI device found under %s.\n", vxm_hostfs_get_root(hostfs));
    return VXM_EXIT_OK;
  }
  print_table(cli, bus, needs, gpus);
  return VXM_EXIT_OK;
}
