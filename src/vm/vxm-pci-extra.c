/* vxm-pci-extra: extra PCI devices for the guest and what the host needs (see the header). */
#include "vm/vxm-pci-extra.h"

#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-host-system.h"
#include "input/vxm-input-set.h"
#include "pci/vxm-pci-address.h"

typedef struct {
  char *name;    /* the kernel's name of the keyboard */
  char *address; /* the PCI device above it, NULL when none (i8042, a platform device) */
} Keyboard;

struct _VxmHostNeeds {
  GHashTable *mounts;   /* PCI address -> "the root file system (/ from /dev/nvme0n1p2)" */
  GPtrArray *keyboards; /* Keyboard */
};

static void
keyboard_free(Keyboard *k)
{
  g_free(k->name);
  g_free(k->address);
  g_free(k);
}

/* "0000:02:00.0" exactly: the kernel's name of a PCI device folder in a sysfs path. */
static gboolean
is_pci_name(const char *s)
{
  VxmPciAddress addr;

  return strlen(s) == 12 && s[4] == ':' && s[7] == ':' && s[10] == '.' &&
         vxm_pci_address_parse(s, &addr, NULL);
}

/* The last PCI device folder on a sysfs path: the endpoint (the ones before are bridges). */
static char *
last_pci_component(const char *path)
{
  g_auto(GStrv) parts = g_strsplit(path, "/", -1);
  const char *found = NULL;

  for (guint i = 0; parts[i] != NULL; i++)
    if (is_pci_name(parts[i]))
      found = parts[i];
  return g_strdup(found);
}

/* The PCI devices under block device @host_path (a link in /sys/dev/block or
 * /sys/class/block) into @out: the last PCI device on its canonical sysfs path; else (a
 * virtual device) those of the devices in its slaves folder (device mapper, md) or its
 * multipath folder (an NVMe namespace with native multipath lives in
 * /sys/devices/virtual/nvme-subsystem, its paths under the controllers), a partition's
 * through its disk. */
static void
block_devices(VxmHostfs *hostfs, const char *host_path, GPtrArray *out, guint depth)
{
  g_autofree char *canonical = vxm_hostfs_resolve(hostfs, host_path, NULL);
  g_autofree char *pci = NULL;
  g_autofree char *partition = NULL;
  const char *const below[] = {"slaves", "multipath", NULL};

  if (depth > 8)
    return;
  if (canonical == NULL) {
    /* a link to nothing (a device going away): its target may still name the device */
    g_autofree char *target = vxm_hostfs_read_link(hostfs, host_path, NULL);

    pci = target != NULL ? last_pci_component(target) : NULL;
    if (pci != NULL && !g_ptr_array_find_with_equal_func(out, pci, g_str_equal, NULL))
      g_ptr_array_add(out, g_steal_pointer(&pci));
    return;
  }
  pci = last_pci_component(canonical);
  if (pci != NULL) {
    if (!g_ptr_array_find_with_equal_func(out, pci, g_str_equal, NULL))
      g_ptr_array_add(out, g_steal_pointer(&pci));
    return;
  }
  partition = g_strdup_printf("%s/partition", canonical);
  if (vxm_hostfs_exists(hostfs, partition)) {
    g_autofree char *disk = g_path_get_dirname(canonical);

    block_devices(hostfs, disk, out, depth + 1);
    return;
  }
  for (guint k = 0; below[k] != NULL; k++) {
    g_autofree char *dir = g_strdup_printf("%s/%s", canonical, below[k]);
    g_autoptr(GPtrArray) names = vxm_hostfs_list_dir(hostfs, dir, NULL);

    for (guint i = 0; names != NULL && i < names->len; i++) {
      g_autofree char *link = g_strdup_printf("%s/%s", dir, (char *)g_ptr_array_index(names, i));

      block_devices(hostfs, link, out, depth + 1);
    }
  }
}

static void
read_mounts(VxmHostNeeds *needs, VxmHostfs *hostfs)
{
  g_autoptr(GPtrArray) mounts = vxm_host_system_list_mounts(hostfs);

  for (guint i = 0; i < mounts->len; i++) {
    VxmHostMount *m = g_ptr_array_index(mounts, i);
    g_autoptr(GPtrArray) pcis = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *what = NULL;

    if (m->devnum != NULL && !g_str_has_prefix(m->devnum, "0:")) {
      g_autofree char *link = g_strdup_printf(VXM_HOST_SYS_DEV_BLOCK "/%s", m->devnum);
      block_devices(hostfs, link, pcis, 0);
    } else if (m->source != NULL && g_str_has_prefix(m->source, "/dev/")) {
      /* btrfs and the like show 0:N: the source names the device ("/dev/mapper/x" is a link
       * to ../dm-N) */
      g_autofree char *resolved = vxm_hostfs_resolve(hostfs, m->source, NULL);
      g_autofree char *name = g_path_get_basename(resolved != NULL ? resolved : m->source);
      g_autofree char *link = g_strdup_printf(VXM_HOST_SYS_CLASS_BLOCK "/%s", name);

      block_devices(hostfs, link, pcis, 0);
    }
    if (pcis->len == 0)
      continue;
    what = strcmp(m->mountpoint, "/") == 0
               ? g_strdup_printf("the root file system (/ from %s)", m->source)
               : g_strdup_printf("%s (from %s)", m->mountpoint, m->source);
    for (guint k = 0; k < pcis->len; k++) {
      const char *pci = g_ptr_array_index(pcis, k);

      /* the root file system is named before any other mount on the same device */
      if (!g_hash_table_contains(needs->mounts, pci) || strcmp(m->mountpoint, "/") == 0)
        g_hash_table_insert(needs->mounts, g_strdup(pci), g_strdup(what));
    }
  }
}

/* Swap partitions (/proc/swaps: "Filename Type Size Used Priority"); a swap file is on a
 * mounted file system already. */
static void
read_swaps(VxmHostNeeds *needs, VxmHostfs *hostfs)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!vxm_hostfs_read_file(hostfs, VXM_HOST_PROC_SWAPS, &text, NULL, NULL))
    return;
  lines = g_strsplit(text, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++) {
    g_auto(GStrv) fields = g_strsplit_set(lines[i], " \t", -1);
    g_autoptr(GPtrArray) words = g_ptr_array_new();
    g_autoptr(GPtrArray) pcis = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *name = NULL;
    g_autofree char *link = NULL;
    g_autofree char *resolved = NULL;
    g_autofree char *what = NULL;

    for (guint k = 0; fields[k] != NULL; k++)
      if (fields[k][0] != '\0')
        g_ptr_array_add(words, fields[k]);
    if (words->len < 2 || strcmp(g_ptr_array_index(words, 1), "partition") != 0 ||
        !g_str_has_prefix(g_ptr_array_index(words, 0), "/dev/"))
      continue;
    resolved = vxm_hostfs_resolve(hostfs, g_ptr_array_index(words, 0), NULL);
    name = g_path_get_basename(resolved != NULL ? resolved : g_ptr_array_index(words, 0));
    link = g_strdup_printf(VXM_HOST_SYS_CLASS_BLOCK "/%s", name);
    block_devices(hostfs, link, pcis, 0);
    what = g_strdup_printf("the swap partition %s", (char *)g_ptr_array_index(words, 0));
    for (guint k = 0; k < pcis->len; k++)
      if (!g_hash_table_contains(needs->mounts, g_ptr_array_index(pcis, k)))
        g_hash_table_insert(needs->mounts, g_strdup(g_ptr_array_index(pcis, k)), g_strdup(what));
  }
}

static void
read_keyboards(VxmHostNeeds *needs, VxmHostfs *hostfs)
{
  g_autoptr(VxmInputSet) set = vxm_input_set_discover(hostfs, NULL);

  for (guint i = 0; set != NULL && i < set->devices->len; i++) {
    VxmInputDevice *dev = g_ptr_array_index(set->devices, i);
    Keyboard *k;

    if (dev->kind != VXM_INPUT_KIND_KEYBOARD || dev->is_virtual)
      continue;
    k = g_new0(Keyboard, 1);
    k->name = g_strdup(dev->name != NULL ? dev->name : dev->event);
    k->address = dev->syspath != NULL ? last_pci_component(dev->syspath) : NULL;
    g_ptr_array_add(needs->keyboards, k);
  }
}

VxmHostNeeds *
vxm_host_needs_read(VxmHostfs *hostfs)
{
  VxmHostNeeds *needs = g_new0(VxmHostNeeds, 1);

  needs->mounts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  needs->keyboards = g_ptr_array_new_with_free_func((GDestroyNotify)keyboard_free);
  read_mounts(needs, hostfs);
  read_swaps(needs, hostfs);
  read_keyboards(needs, hostfs);
  return needs;
}

void
vxm_host_needs_free(VxmHostNeeds *needs)
{
  if (needs == NULL)
    return;
  g_hash_table_unref(needs->mounts);
  g_ptr_array_unref(needs->keyboards);
  g_free(needs);
}

const char *
vxm_host_needs_mounts(VxmHostNeeds *needs, const char *address)
{
  return g_hash_table_lookup(needs->mounts, address);
}

GPtrArray *
vxm_host_needs_keyboards(VxmHostNeeds *needs, const char *address)
{
  GPtrArray *names = NULL;

  for (guint i = 0; i < needs->keyboards->len; i++) {
    Keyboard *k = g_ptr_array_index(needs->keyboards, i);

    if (g_strcmp0(k->address, address) != 0)
      continue;
    if (names == NULL)
      names = g_ptr_array_new_with_free_func(g_free);
    if (!g_ptr_array_find_with_equal_func(names, k->name, g_str_equal, NULL))
      g_ptr_array_add(names, g_strdup(k->name));
  }
  return names;
}

/* ---- the policy ---- */

static gboolean
is_bridge(VxmPciDevice *dev)
{
  guint16 code = vxm_pci_device_get_class_code(dev);
  return code == VXM_PCI_CLASS_PCI_BRIDGE || code == VXM_PCI_CLASS_HOST_BRIDGE;
}

/* A group member that may stay behind, as in the GPU's group rule. */
static gboolean
member_may_stay(VxmPciDevice *dev)
{
  guint16 code = vxm_pci_device_get_class_code(dev);

  return code == VXM_PCI_CLASS_PCI_BRIDGE ||
         (code == VXM_PCI_CLASS_HOST_BRIDGE && vxm_pci_device_get_driver(dev) == NULL);
}

static char *
describe(VxmPciDevice *dev)
{
  const char *class_name = vxm_pci_device_get_class_name(dev);

  if (class_name != NULL)
    return g_strdup_printf("%s (%s)", vxm_pci_device_get_address(dev), class_name);
  return g_strdup_printf("%s (class %04x)", vxm_pci_device_get_address(dev),
                         vxm_pci_device_get_class_code(dev));
}

static gboolean
in_gpu_groups(VxmGpu *gpu, gint group)
{
  GArray *groups = vxm_gpu_get_iommu_groups(gpu);

  for (guint i = 0; i < groups->len; i++)
    if (g_array_index(groups, gint, i) == group)
      return TRUE;
  return FALSE;
}

static void
add_group(VxmPciBus *bus, GHashTable *set, const char *address)
{
  VxmPciDevice *dev = vxm_pci_bus_lookup(bus, address);
  g_autoptr(GPtrArray) members = NULL;

  if (dev == NULL)
    return;
  g_hash_table_add(set, g_strdup(vxm_pci_device_get_address(dev)));
  if (vxm_pci_device_get_iommu_group(dev) < 0)
    return;
  members = vxm_pci_bus_get_iommu_group_members(bus, vxm_pci_device_get_iommu_group(dev));
  for (guint i = 0; i < members->len; i++)
    g_hash_table_add(set, g_strdup(vxm_pci_device_get_address(g_ptr_array_index(members, i))));
}

/* The addresses that leave the host with @address: every endpoint of its group and of the
 * groups of @extra. */
static GHashTable *
leaving_set(VxmPciBus *bus, const char *address, const char *const *extra)
{
  GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  add_group(bus, set, address);
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    add_group(bus, set, extra[i]);
  return set;
}

char *
vxm_pci_extra_refusal(VxmPciBus *bus, VxmHostNeeds *needs, VxmGpu *gpu, const char *address,
                      const char *const *extra)
{
  VxmPciDevice *dev = vxm_pci_bus_lookup(bus, address);
  g_autoptr(GPtrArray) keyboards = NULL;
  g_autoptr(GPtrArray) members = NULL;
  g_autoptr(GString) others = NULL;
  const char *mounts;
  gint group;

  if (dev == NULL)
    return g_strdup("there is no such PCI device on this host (vxm list-devices shows them)");
  if (is_bridge(dev))
    return g_strdup("it is a bridge: list the devices behind it instead");
  if (gpu != NULL && vxm_gpu_owns(gpu, dev))
    return g_strdup_printf("it is a function of the guest GPU %s, which goes to the guest with "
                           "the GPU already: remove it from [pci] extra",
                           vxm_gpu_get_address(gpu));
  if (vxm_pci_device_is_display(dev)) {
    if (vxm_pci_device_is_boot_vga(dev))
      return g_strdup("it is the host GPU (the boot VGA device): the host's console and desktop "
                      "run on it");
    return g_strdup("it is a GPU: the host keeps its GPUs, and the guest's GPU is [gpu] "
                    "address");
  }
  group = vxm_pci_device_get_iommu_group(dev);
  if (gpu != NULL && group >= 0 && in_gpu_groups(gpu, group))
    return g_strdup_printf("it is in IOMMU group %d with the guest GPU %s, so it goes to the guest "
                           "with the GPU already: remove it from [pci] extra",
                           group, vxm_gpu_get_address(gpu));
  if (!vxm_pci_bus_get_iommu_enabled(bus))
    return g_strdup("the IOMMU is off, so no device can be passed through: turn it on (see vxm "
                    "check)");
  if (group < 0)
    return g_strdup("it has no IOMMU group, so it cannot be passed through");
  mounts = vxm_host_needs_mounts(needs, address);
  if (mounts != NULL && g_str_has_prefix(mounts, "the root file system"))
    return g_strdup_printf("it holds the host's root disk: %s is on it", mounts);
  if (mounts != NULL && g_str_has_prefix(mounts, "the swap partition"))
    return g_strdup_printf("it holds a disk the host swaps to: %s is on it; swapoff it (and take "
                           "it out of /etc/fstab) first",
                           mounts);
  if (mounts != NULL)
    return g_strdup_printf("it holds a disk the host has mounted: %s is on it; unmount it (and "
                           "take it out of /etc/fstab) first",
                           mounts);
  keyboards = vxm_host_needs_keyboards(needs, address);
  if (keyboards != NULL) {
    g_autoptr(GHashTable) leaving = leaving_set(bus, address, extra);
    gboolean other = FALSE;

    for (guint i = 0; i < needs->keyboards->len && !other; i++) {
      Keyboard *k = g_ptr_array_index(needs->keyboards, i);

      other = k->address == NULL || !g_hash_table_contains(leaving, k->address);
    }
    if (!other) {
      g_ptr_array_add(keyboards, NULL);
      g_autofree char *names = g_strjoinv(", ", (char **)keyboards->pdata);

      return g_strdup_printf("it is the controller of the host's only keyboard (%s): the host "
                             "would be left without one; plug a keyboard into another "
                             "controller first",
                             names);
    }
  }
  members = vxm_pci_bus_get_iommu_group_members(bus, group);
  others = g_string_new(NULL);
  for (guint i = 0; i < members->len; i++) {
    VxmPciDevice *m = g_ptr_array_index(members, i);
    const char *maddr = vxm_pci_device_get_address(m);
    g_autofree char *text = NULL;

    if (strcmp(maddr, address) == 0 || member_may_stay(m) ||
        (extra != NULL && g_strv_contains(extra, maddr)))
      continue;
    text = describe(m);
    g_string_append_printf(others, "%s%s", others->len > 0 ? ", " : "", text);
  }
  if (others->len > 0)
    return g_strdup_printf("its IOMMU group %d also holds %s: a group goes to the guest whole, "
                           "so list those in [pci] extra too (if the host can spare them)",
                           group, others->str);
  return NULL;
}

GPtrArray *
vxm_pci_extra_resolve(VxmHostfs *hostfs, VxmGpu *gpu, const char *const *extra, GError **error)
{
  g_autoptr(VxmPciBus) bus = NULL;
  g_autoptr(VxmHostNeeds) needs = NULL;
  g_autoptr(GPtrArray) endpoints = g_ptr_array_new_with_free_func(g_object_unref);
  g_autoptr(GString) refused = g_string_new(NULL);
  gboolean all_absent = TRUE;

  if (extra == NULL || extra[0] == NULL)
    return g_steal_pointer(&endpoints);
  bus = vxm_pci_bus_new(hostfs, error);
  if (bus == NULL)
    return NULL;
  needs = vxm_host_needs_read(hostfs);
  for (guint i = 0; extra[i] != NULL; i++) {
    g_autofree char *why = vxm_pci_extra_refusal(bus, needs, gpu, extra[i], extra);

    if (why == NULL)
      continue;
    all_absent = all_absent && vxm_pci_bus_lookup(bus, extra[i]) == NULL;
    g_string_append_printf(refused, "%s%s: %s", refused->len > 0 ? "; " : "", extra[i], why);
  }
  if (refused->len > 0) {
    g_set_error(error, VXM_ERROR, all_absent ? VXM_ERROR_NOT_FOUND : VXM_ERROR_REFUSED,
                "refusing to give [pci] extra to the guest: %s", refused->str);
    return NULL;
  }
  for (guint i = 0; extra[i] != NULL; i++) {
    VxmPciDevice *dev = vxm_pci_bus_lookup(bus, extra[i]);
    g_autoptr(GPtrArray) members =
        vxm_pci_bus_get_iommu_group_members(bus, vxm_pci_device_get_iommu_group(dev));

    for (guint k = 0; k < members->len; k++) {
      VxmPciDevice *m = g_ptr_array_index(members, k);

      if (is_bridge(m) || g_ptr_array_find(endpoints, m, NULL))
        continue;
      g_ptr_array_add(endpoints, g_object_ref(m));
    }
  }
  g_ptr_array_sort(endpoints, vxm_pci_device_compare_ptr);
  return g_steal_pointer(&endpoints);
}

static void
set_string_or_null(JsonBuilder *b, const char *member, const char *value)
{
  json_builder_set_member_name(b, member);
  if (value != NULL)
    json_builder_add_string_value(b, value);
  else
    json_builder_add_null_value(b);
}

char *
vxm_pci_extra_list_reason(VxmPciBus *bus, VxmHostNeeds *needs, GPtrArray *gpus, VxmPciDevice *dev)
{
  gint group = vxm_pci_device_get_iommu_group(dev);

  for (guint i = 0; i < gpus->len && !vxm_pci_device_is_display(dev) && !is_bridge(dev); i++) {
    VxmGpu *gpu = g_ptr_array_index(gpus, i);

    if (vxm_gpu_owns(gpu, dev))
      return g_strdup_printf("it is a function of the GPU %s: it goes to the guest with that "
                             "card ([gpu] address)",
                             vxm_gpu_get_address(gpu));
    if (group >= 0 && in_gpu_groups(gpu, group))
      return g_strdup_printf("it is in IOMMU group %d with the GPU %s: it goes to the guest with "
                             "that card ([gpu] address), or not at all",
                             group, vxm_gpu_get_address(gpu));
  }
  return vxm_pci_extra_refusal(bus, needs, NULL, vxm_pci_device_get_address(dev), NULL);
}

JsonNode *
vxm_pci_extra_list_json(VxmPciBus *bus, VxmHostNeeds *needs, GPtrArray *gpus)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  GPtrArray *devices = vxm_pci_bus_get_devices(bus);

  json_builder_begin_array(b);
  for (guint i = 0; i < devices->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(devices, i);
    const char *address = vxm_pci_device_get_address(dev);
    g_autofree char *why = vxm_pci_extra_list_reason(bus, needs, gpus, dev);
    g_autofree char *vendor = g_strdup_printf("%04x", vxm_pci_device_get_vendor_id(dev));
    g_autofree char *device = g_strdup_printf("%04x", vxm_pci_device_get_device_id(dev));
    g_autofree char *cls = g_strdup_printf("%04x", vxm_pci_device_get_class_code(dev));

    json_builder_begin_object(b);
    set_string_or_null(b, "address", address);
    set_string_or_null(b, "vendor", vendor);
    set_string_or_null(b, "device", device);
    set_string_or_null(b, "class", cls);
    set_string_or_null(b, "vendor_name", vxm_pci_device_get_vendor_name(dev));
    set_string_or_null(b, "device_name", vxm_pci_device_get_device_name(dev));
    set_string_or_null(b, "class_name", vxm_pci_device_get_class_name(dev));
    json_builder_set_member_name(b, "iommu_group");
    if (vxm_pci_device_get_iommu_group(dev) >= 0)
      json_builder_add_int_value(b, vxm_pci_device_get_iommu_group(dev));
    else
      json_builder_add_null_value(b);
    set_string_or_null(b, "driver", vxm_pci_device_get_driver(dev));
    json_builder_set_member_name(b, "passable");
    json_builder_add_boolean_value(b, why == NULL);
    set_string_or_null(b, "reason", why);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  return json_builder_get_root(b);
}
