#include "vxm-pci-bus.h"

#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"

struct _VxmPciBus {
  GObject parent_instance;
  VxmHostfs *hostfs;
  VxmPciIds *ids;
  GPtrArray *devices;     /* VxmPciDevice, sorted */
  GHashTable *by_address; /* normalised address -> VxmPciDevice (borrowed from devices) */
  GHashTable *groups;     /* GINT_TO_POINTER(group) -> GPtrArray of VxmPciDevice */
  gboolean iommu_enabled;
  gboolean scoped;   /* vxm_pci_bus_new_for_gpus(): only what the GPUs need */
  gboolean has_slot; /* and this slot (the guest GPU's) */
  VxmPciAddress slot;
};

G_DEFINE_FINAL_TYPE(VxmPciBus, vxm_pci_bus, G_TYPE_OBJECT)

static void
vxm_pci_bus_finalize(GObject *object)
{
  VxmPciBus *self = VXM_PCI_BUS(object);

  g_clear_object(&self->hostfs);
  g_clear_object(&self->ids);
  g_clear_pointer(&self->by_address, g_hash_table_unref);
  g_clear_pointer(&self->groups, g_hash_table_unref);
  g_clear_pointer(&self->devices, g_ptr_array_unref);
  G_OBJECT_CLASS(vxm_pci_bus_parent_class)->finalize(object);
}

static void
vxm_pci_bus_class_init(VxmPciBusClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = vxm_pci_bus_finalize;
}

static void
vxm_pci_bus_init(VxmPciBus *self)
{
}

/* A scoped bus reads only the groups of the devices it holds (the members join it). */
static gboolean
group_wanted(VxmPciBus *self, gint group, GHashTable *wanted)
{
  return wanted == NULL || g_hash_table_contains(wanted, GINT_TO_POINTER(group));
}

static gboolean
read_groups(VxmPciBus *self, GHashTable *wanted, GError **error)
{
  g_autoptr(GPtrArray) names = NULL;

  self->iommu_enabled = FALSE;
  if (!vxm_hostfs_is_dir(self->hostfs, VXM_HOST_SYS_IOMMU_GROUPS))
    return TRUE;
  names = vxm_hostfs_list_dir(self->hostfs, VXM_HOST_SYS_IOMMU_GROUPS, error);
  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    g_autofree char *dir = NULL;
    g_autoptr(GPtrArray) members = NULL;
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_object_unref);
    gint64 group;

    if (!vxm_parse_int64(name, 10, &group) || group < 0 || group > G_MAXINT)
      continue;
    self->iommu_enabled = TRUE;
    if (!group_wanted(self, (gint)group, wanted))
      continue;
    dir = g_strdup_printf("%s/%s/devices", VXM_HOST_SYS_IOMMU_GROUPS, name);
    members = vxm_hostfs_list_dir(self->hostfs, dir, NULL);
    for (guint j = 0; members != NULL && j < members->len; j++) {
      const char *address = g_ptr_array_index(members, j);
      VxmPciDevice *dev = vxm_pci_bus_lookup(self, address);

      if (dev != NULL) {
        g_ptr_array_add(list, g_object_ref(dev));
      } else {
        /* listed in the group but not on the bus: load it from the group's link */
        g_autoptr(GError) local = NULL;
        VxmPciDevice *loaded = vxm_pci_device_new(self->hostfs, address, self->ids, &local);

        if (loaded != NULL && wanted != NULL) {
          /* a scoped bus holds the members of its groups (a bridge above the card) */
          g_ptr_array_add(self->devices, g_object_ref(loaded));
          g_hash_table_insert(self->by_address, (gpointer)vxm_pci_device_get_address(loaded),
                              loaded);
        }
        if (loaded != NULL)
          g_ptr_array_add(list, loaded);
        else
          g_debug("IOMMU group %s lists %s: %s", name, address, local->message);
      }
    }
    g_ptr_array_sort(list, vxm_pci_device_compare_ptr);
    g_hash_table_insert(self->groups, GINT_TO_POINTER((gint)group), g_steal_pointer(&list));
  }
  if (wanted != NULL)
    g_ptr_array_sort(self->devices, vxm_pci_device_compare_ptr);
  return TRUE;
}

static char *
slot_key(const VxmPciAddress *addr)
{
  return g_strdup_printf("%04x:%02x:%02x", addr->domain, addr->bus, addr->device);
}

/* The slots a scoped bus loads: @self->slot and every slot with a display controller. The
 * class is one read, a whole device a dozen; a slot already wanted needs no more reads. */
static GHashTable *
wanted_slots(VxmPciBus *self, GPtrArray *names)
{
  GHashTable *slots = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    g_autofree char *key = NULL;
    g_autofree char *path = NULL;
    guint64 class_value = 0;
    VxmPciAddress addr;

    if (!vxm_pci_address_parse(name, &addr, NULL))
      continue;
    key = slot_key(&addr);
    if (g_hash_table_contains(slots, key))
      continue;
    path = g_strdup_printf("%s/%s/class", VXM_HOST_SYS_PCI_DEVICES, name);
    /* unreadable: loading it says why (or skips a device removed meanwhile) */
    if ((self->has_slot && vxm_pci_address_same_slot(&addr, &self->slot)) ||
        !vxm_hostfs_read_attr_uint64(self->hostfs, path, 16, &class_value, NULL) ||
        ((class_value >> 8) & VXM_PCI_CLASS_DISPLAY_MASK) == VXM_PCI_CLASS_DISPLAY)
      g_hash_table_add(slots, g_steal_pointer(&key));
  }
  return slots;
}

gboolean
vxm_pci_bus_reload(VxmPciBus *self, GError **error)
{
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GHashTable) slots = NULL;

  g_clear_pointer(&self->by_address, g_hash_table_unref);
  g_clear_pointer(&self->groups, g_hash_table_unref);
  g_clear_pointer(&self->devices, g_ptr_array_unref);
  self->devices = g_ptr_array_new_with_free_func(g_object_unref);
  self->by_address = g_hash_table_new(g_str_hash, g_str_equal);
  self->groups =
      g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)g_ptr_array_unref);

  names = vxm_hostfs_list_dir(self->hostfs, VXM_HOST_SYS_PCI_DEVICES, error);
  if (names == NULL) {
    g_prefix_error(error, "cannot list the host's PCI devices: ");
    return FALSE;
  }
  if (self->scoped)
    slots = wanted_slots(self, names);
  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    g_autoptr(GError) local = NULL;
    VxmPciAddress addr;
    VxmPciDevice *dev;

    if (!vxm_pci_address_parse(name, &addr, NULL))
      continue; /* not a device link */
    if (slots != NULL) {
      g_autofree char *key = slot_key(&addr);

      if (!g_hash_table_contains(slots, key))
        continue;
    }
    dev = vxm_pci_device_new(self->hostfs, name, self->ids, &local);
    if (dev == NULL) {
      /* a device removed while we list is not an error; anything else is */
      if (g_error_matches(local, VXM_ERROR, VXM_ERROR_NOT_FOUND)) {
        g_clear_error(&local);
        continue;
      }
      g_propagate_error(error, g_steal_pointer(&local));
      return FALSE;
    }
    g_ptr_array_add(self->devices, dev);
  }
  g_ptr_array_sort(self->devices, vxm_pci_device_compare_ptr);
  for (guint i = 0; i < self->devices->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(self->devices, i);
    g_hash_table_insert(self->by_address, (gpointer)vxm_pci_device_get_address(dev), dev);
  }
  if (self->scoped) {
    g_autoptr(GHashTable) wanted = g_hash_table_new(g_direct_hash, g_direct_equal);

    for (guint i = 0; i < self->devices->len; i++) {
      gint group = vxm_pci_device_get_iommu_group(g_ptr_array_index(self->devices, i));

      if (group >= 0)
        g_hash_table_add(wanted, GINT_TO_POINTER(group));
    }
    return read_groups(self, wanted, error);
  }
  return read_groups(self, NULL, error);
}

VxmPciBus *
vxm_pci_bus_new(VxmHostfs *hostfs, GError **error)
{
  g_autoptr(VxmPciBus) self = g_object_new(VXM_TYPE_PCI_BUS, NULL);

  self->hostfs = g_object_ref(hostfs);
  self->ids = vxm_pci_ids_new_lazy(hostfs);
  if (!vxm_pci_bus_reload(self, error))
    return NULL;
  return g_steal_pointer(&self);
}

VxmPciBus *
vxm_pci_bus_new_for_gpus(VxmHostfs *hostfs, const char *address, GError **error)
{
  g_autoptr(VxmPciBus) self = g_object_new(VXM_TYPE_PCI_BUS, NULL);

  self->hostfs = g_object_ref(hostfs);
  self->ids = vxm_pci_ids_new_lazy(hostfs);
  if (address != NULL && !vxm_pci_address_parse(address, &self->slot, error))
    return NULL;
  self->has_slot = address != NULL;
  self->scoped = TRUE;
  if (!vxm_pci_bus_reload(self, error))
    return NULL;
  return g_steal_pointer(&self);
}

VxmHostfs *
vxm_pci_bus_get_hostfs(VxmPciBus *self)
{
  return self->hostfs;
}

VxmPciIds *
vxm_pci_bus_get_ids(VxmPciBus *self)
{
  return self->ids;
}

GPtrArray *
vxm_pci_bus_get_devices(VxmPciBus *self)
{
  return self->devices;
}

VxmPciDevice *
vxm_pci_bus_lookup(VxmPciBus *self, const char *address)
{
  g_autofree char *normal = vxm_pci_address_normalize(address, NULL);

  if (normal == NULL)
    return NULL;
  return g_hash_table_lookup(self->by_address, normal);
}

gboolean
vxm_pci_bus_get_iommu_enabled(VxmPciBus *self)
{
  return self->iommu_enabled;
}

guint
vxm_pci_bus_get_iommu_group_count(VxmPciBus *self)
{
  return g_hash_table_size(self->groups);
}

GPtrArray *
vxm_pci_bus_get_iommu_group_members(VxmPciBus *self, gint group)
{
  GPtrArray *members = g_hash_table_lookup(self->groups, GINT_TO_POINTER(group));

  if (members == NULL)
    return g_ptr_array_new_with_free_func(g_object_unref);
  return g_ptr_array_ref(members);
}
