/* vxm list-gpus: every display controller, its functions and IOMMU group, and its role. */
#include <string.h>

#include "pci/vxm-gpu.h"
#include "vxm-cli.h"

static const char *
role_sgr(VxmGpuRole role)
{
  switch (role) {
  case VXM_GPU_ROLE_HOST: return "1;34";
  case VXM_GPU_ROLE_CANDIDATE: return "1;32";
  case VXM_GPU_ROLE_GUEST: return "1;36";
  case VXM_GPU_ROLE_UNUSABLE: return "1;31";
  }
  return "0";
}

static char *
group_text(VxmPciDevice *dev)
{
  gint group = vxm_pci_device_get_iommu_group(dev);
  return group >= 0 ? g_strdup_printf("%d", group) : g_strdup("-");
}

static const char *
or_dash(const char *s)
{
  return s != NULL ? s : "-";
}

/* "Audio device (0403)" */
static char *
class_text(VxmPciDevice *dev)
{
  const char *name = vxm_pci_device_get_class_name(dev);
  guint16 code = vxm_pci_device_get_class_code(dev);

  return name != NULL ? g_strdup_printf("%s (%04x)", name, code)
                      : g_strdup_printf("class %04x", code);
}

static void
print_table(VxmCli *cli, GPtrArray *gpus)
{
  int w_role = (int)strlen("candidate"), w_driver = (int)strlen("DRIVER"),
      w_group = (int)strlen("GROUP");

  for (guint i = 0; i < gpus->len; i++) {
    VxmPciDevice *dev = vxm_gpu_get_device(g_ptr_array_index(gpus, i));
    g_autofree char *group = group_text(dev);

    w_driver = MAX(w_driver, (int)strlen(or_dash(vxm_pci_device_get_driver(dev))));
    w_group = MAX(w_group, (int)strlen(group));
  }
  g_print("%-12s  %-*s  %-*s  %-*s  %s\n", "ADDRESS", w_role, "ROLE", w_driver, "DRIVER", w_group,
          "GROUP", "NAME");
  for (guint i = 0; i < gpus->len; i++) {
    VxmGpu *gpu = g_ptr_array_index(gpus, i);
    VxmPciDevice *dev = vxm_gpu_get_device(gpu);
    g_autofree char *group = group_text(dev);
    g_autofree char *name = vxm_pci_device_dup_display_name(dev);
    g_autofree char *role =
        g_strdup_printf("%-*s", w_role, vxm_gpu_role_to_string(vxm_gpu_get_role(gpu)));
    g_autofree char *role_col = vxm_cli_colored(cli, role_sgr(vxm_gpu_get_role(gpu)), role);

    g_print("%-12s  %s  %-*s  %-*s  %s\n", vxm_gpu_get_address(gpu), role_col, w_driver,
            or_dash(vxm_pci_device_get_driver(dev)), w_group, group, name);
  }
}

static void
print_device_line(VxmGpu *gpu, VxmPciDevice *dev, gboolean mark_own)
{
  g_autofree char *cls = class_text(dev);
  g_autofree char *group = group_text(dev);
  const char *override = vxm_pci_device_get_driver_override(dev);

  g_print("    %s  %-32s  %-14s  group %s%s%s%s\n", vxm_pci_device_get_address(dev), cls,
          or_dash(vxm_pci_device_get_driver(dev)), group, override != NULL ? ", override " : "",
          override != NULL ? override : "",
          mark_own && vxm_gpu_owns(gpu, dev) ? "  (this card)" : "");
  if (vxm_pci_device_get_busy(dev) != NULL)
    g_print("      %s\n", vxm_pci_device_get_busy(dev));
}

static void
print_details(VxmCli *cli, VxmGpu *gpu)
{
  VxmPciDevice *dev = vxm_gpu_get_device(gpu);
  g_autofree char *name = vxm_pci_device_dup_display_name(dev);
  g_autofree char *cls = class_text(dev);
  const char *const *resets = vxm_pci_device_get_reset_methods(dev);
  const char *const *drm = vxm_pci_device_get_drm_nodes(dev);
  const char *subsystem = vxm_pci_device_get_subsystem_name(dev);
  GPtrArray *functions = vxm_gpu_get_functions(gpu);
  GArray *groups = vxm_gpu_get_iommu_groups(gpu);
  GPtrArray *members = vxm_gpu_get_iommu_group_members(gpu);
  GPtrArray *reasons = vxm_gpu_get_reasons(gpu);
  VxmGpuRole role = vxm_gpu_get_role(gpu);
  g_autofree char *role_text = vxm_cli_colored(cli, role_sgr(role), vxm_gpu_role_to_string(role));
  g_autofree char *resets_text = resets != NULL ? g_strjoinv(" ", (char **)resets) : NULL;
  g_autofree char *drm_text = g_strjoinv(" ", (char **)drm);

  g_print("\n%s  %s\n", vxm_gpu_get_address(gpu), name);
  g_print("  %s, ids %04x:%04x", cls, vxm_pci_device_get_vendor_id(dev),
          vxm_pci_device_get_device_id(dev));
  if (vxm_pci_device_has_subsystem(dev))
    g_print(", subsystem %04x:%04x%s%s%s", vxm_pci_device_get_subsystem_vendor_id(dev),
            vxm_pci_device_get_subsystem_device_id(dev), subsystem != NULL ? " (" : "",
            subsystem != NULL ? subsystem : "", subsystem != NULL ? ")" : "");
  g_print("\n  driver %s, boot VGA %s, NUMA node %d, reset %s, DRM %s\n",
          or_dash(vxm_pci_device_get_driver(dev)), vxm_pci_device_is_boot_vga(dev) ? "yes" : "no",
          vxm_pci_device_get_numa_node(dev),
          resets_text != NULL && *resets_text ? resets_text : "-", *drm_text ? drm_text : "-");
  if (functions->len > 0) {
    g_print("  functions:\n");
    for (guint i = 0; i < functions->len; i++)
      print_device_line(gpu, g_ptr_array_index(functions, i), FALSE);
  }
  if (groups->len > 0) {
    g_autoptr(GString) list = g_string_new(NULL);

    for (guint i = 0; i < groups->len; i++)
      g_string_append_printf(list, "%s%d", i > 0 ? ", " : "", g_array_index(groups, gint, i));
    g_print("  IOMMU group%s %s:\n", groups->len > 1 ? "s" : "", list->str);
    for (guint i = 0; i < members->len; i++)
      print_device_line(gpu, g_ptr_array_index(members, i), TRUE);
  } else {
    g_print("  IOMMU group: none\n");
  }
  if (vxm_pci_device_get_busy(dev) != NULL)
    g_print("  %s\n", vxm_pci_device_get_busy(dev));
  g_print("  role: %s\n", role_text);
  for (guint i = 0; i < reasons->len; i++)
    g_print("    - %s\n", (char *)g_ptr_array_index(reasons, i));
}

int
vxm_cli_cmd_list_gpus(VxmCli *cli, int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON array, one object per GPU", NULL},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmPciBus) bus = NULL;
  g_autoptr(GPtrArray) gpus = NULL;
  VxmHostfs *hostfs;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, NULL,
                     "Lists every GPU (display controller) with its functions, IOMMU group and "
                     "whether it can be given to the guest."))
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

  if (json) {
    g_autoptr(JsonArray) array = json_array_new();
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_ARRAY);

    for (guint i = 0; i < gpus->len; i++)
      json_array_add_element(array, vxm_gpu_to_json(g_ptr_array_index(gpus, i)));
    json_node_set_array(node, array);
    vxm_cli_print_json(node);
    return VXM_EXIT_OK;
  }
  if (gpus->len == 0) {
    g_print("No GPU (display controller, class 03xx) found under %s.\n",
            vxm_hostfs_get_root(hostfs));
    return VXM_EXIT_OK;
  }
  print_table(cli, gpus);
  for (guint i = 0; i < gpus->len; i++)
    print_details(cli, g_ptr_array_index(gpus, i));
  return VXM_EXIT_OK;
}
