#include "vxm-pci-device.h"

#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "pci/vxm-pci-holders.h"
#include "pci/vxm-sysfs-writer.h"

struct _VxmPciDevice {
  GObject parent_instance;
  VxmHostfs *hostfs;
  VxmPciIds *ids; /* nullable */
  VxmPciAddress addr;
  char *address;
  char *sysfs_path;

  guint16 vendor_id;
  guint16 device_id;
  gboolean has_subsystem;
  guint16 subsystem_vendor_id;
  guint16 subsystem_device_id;
  guint32 class;
  gint revision;
  char *driver;
  char *driver_override;
  gboolean has_boot_vga;
  gboolean boot_vga;
  gint iommu_group;
  gint numa_node;
  GStrv reset_methods;
  GStrv drm_nodes;
  char *busy; /* why driver_override could not be read, or NULL */
};

G_DEFINE_FINAL_TYPE(VxmPciDevice, vxm_pci_device, G_TYPE_OBJECT)

static void
vxm_pci_device_finalize(GObject *object)
{
  VxmPciDevice *self = VXM_PCI_DEVICE(object);

  g_clear_object(&self->hostfs);
  g_clear_object(&self->ids);
  g_free(self->address);
  g_free(self->sysfs_path);
  g_free(self->driver);
  g_free(self->driver_override);
  g_strfreev(self->reset_methods);
  g_strfreev(self->drm_nodes);
  g_free(self->busy);
  G_OBJECT_CLASS(vxm_pci_device_parent_class)->finalize(object);
}

static void
vxm_pci_device_class_init(VxmPciDeviceClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = vxm_pci_device_finalize;
}

static void
vxm_pci_device_init(VxmPciDevice *self)
{
  self->iommu_group = -1;
  self->numa_node = -1;
  self->revision = -1;
}

/* An attribute that must be there and be a hex number no wider than @max. */
static gboolean
read_hex(VxmPciDevice *self, const char *attr, guint64 max, guint64 *out, GError **error)
{
  g_autofree char *path = g_strdup_printf("%s/%s", self->sysfs_path, attr);

  if (!vxm_hostfs_read_attr_uint64(self->hostfs, path, 16, out, error))
    return FALSE;
  if (*out > max) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "%s holds 0x%" G_GINT64_MODIFIER "x, too large", path, *out);
    return FALSE;
  }
  return TRUE;
}

/* Like read_hex, but a missing attribute is fine: *found says whether it was there. */
static gboolean
read_hex_optional(VxmPciDevice *self, const char *attr, guint64 max, gboolean *found, guint64 *out,
                  GError **error)
{
  g_autofree char *path = g_strdup_printf("%s/%s", self->sysfs_path, attr);

  *found = vxm_hostfs_exists(self->hostfs, path);
  if (!*found)
    return TRUE;
  return read_hex(self, attr, max, out, error);
}

static char *
read_optional_attr(VxmPciDevice *self, const char *attr)
{
  g_autofree char *path = g_strdup_printf("%s/%s", self->sysfs_path, attr);

  return vxm_hostfs_read_attr(self->hostfs, path, NULL);
}

static GStrv
split_words(const char *text)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
  g_auto(GStrv) words = g_strsplit_set(text, " \t\n", -1);

  for (gsize i = 0; words[i] != NULL; i++) {
    if (words[i][0] != '\0')
      g_strv_builder_add(builder, words[i]);
  }
  return g_strv_builder_end(builder);
}

static gboolean
read_all(VxmPciDevice *self, GError **error)
{
  g_autofree char *link = g_strdup_printf("%s/%s", VXM_HOST_SYS_PCI_DEVICES, self->address);
  g_autofree char *canon = NULL;
  g_autofree char *driver_path = NULL;
  g_autofree char *group_path = NULL;
  g_autofree char *drm_path = NULL;
  g_autofree char *text = NULL;
  gboolean found;
  gboolean busy = FALSE;
  guint64 v;

  if (!vxm_hostfs_exists(self->hostfs, link)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND, "no PCI device %s (see vxm list-gpus)",
                self->address);
    return FALSE;
  }
  canon = vxm_hostfs_resolve(self->hostfs, link, error);
  if (canon == NULL)
    return FALSE;
  g_free(self->sysfs_path);
  self->sysfs_path = g_steal_pointer(&canon);

  if (!read_hex(self, "vendor", 0xffff, &v, error))
    return FALSE;
  self->vendor_id = (guint16)v;
  if (!read_hex(self, "device", 0xffff, &v, error))
    return FALSE;
  self->device_id = (guint16)v;
  if (!read_hex(self, "class", 0xffffff, &v, error))
    return FALSE;
  self->class = (guint32)v;

  self->subsystem_vendor_id = self->subsystem_device_id = 0;
  if (!read_hex_optional(self, "subsystem_vendor", 0xffff, &found, &v, error))
    return FALSE;
  self->has_subsystem = found;
  if (found) {
    self->subsystem_vendor_id = (guint16)v;
    if (!read_hex(self, "subsystem_device", 0xffff, &v, error))
      return FALSE;
    self->subsystem_device_id = (guint16)v;
  }
  if (!read_hex_optional(self, "revision", 0xff, &found, &v, error))
    return FALSE;
  self->revision = found ? (gint)v : -1;

  g_clear_pointer(&self->driver, g_free);
  driver_path = g_strdup_printf("%s/driver", self->sysfs_path);
  if (vxm_hostfs_exists(self->hostfs, driver_path)) {
    self->driver = vxm_hostfs_read_link_basename(self->hostfs, driver_path, error);
    if (self->driver == NULL)
      return FALSE;
  }

  /* driver_override's show takes the device lock, which an unbind waiting in the kernel
   * holds: read with a time limit (vxm-sysfs-writer), the others never block */
  g_clear_pointer(&self->driver_override, g_free);
  g_clear_pointer(&self->busy, g_free);
  {
    g_autofree char *path = g_strdup_printf("%s/driver_override", self->sysfs_path);
    g_autoptr(GError) local = NULL;

    text = vxm_sysfs_read_timeout(self->hostfs, path, 0, &local);
    if (text != NULL)
      g_strchomp(text);
    else if (g_error_matches(local, VXM_ERROR, VXM_ERROR_TIMEOUT))
      busy = TRUE;
  }
  if (text != NULL && text[0] != '\0' && strcmp(text, "(null)") != 0)
    self->driver_override = g_steal_pointer(&text);
  g_clear_pointer(&text, g_free);

  text = read_optional_attr(self, "boot_vga");
  self->has_boot_vga = text != NULL;
  self->boot_vga = text != NULL && strcmp(g_strstrip(text), "1") == 0;
  g_clear_pointer(&text, g_free);

  self->iommu_group = -1;
  group_path = g_strdup_printf("%s/iommu_group", self->sysfs_path);
  if (vxm_hostfs_exists(self->hostfs, group_path)) {
    g_autofree char *group = vxm_hostfs_read_link_basename(self->hostfs, group_path, error);
    gint64 n;

    if (group == NULL)
      return FALSE;
    if (!vxm_parse_int64(group, 10, &n) || n < 0 || n > G_MAXINT) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                  "%s points to '%s', not an IOMMU group number", group_path, group);
      return FALSE;
    }
    self->iommu_group = (gint)n;
  }
  if (busy)
    self->busy = vxm_pci_holders_describe_busy(self->hostfs, self->address, self->iommu_group);

  self->numa_node = -1;
  text = read_optional_attr(self, "numa_node");
  if (text != NULL) {
    gint64 n;

    if (vxm_parse_int64(g_strstrip(text), 10, &n) && n >= -1 && n <= G_MAXINT)
      self->numa_node = (gint)n;
  }
  g_clear_pointer(&text, g_free);

  g_clear_pointer(&self->reset_methods, g_strfreev);
  text = read_optional_attr(self, "reset_method");
  if (text != NULL)
    self->reset_methods = split_words(text);
  g_clear_pointer(&text, g_free);

  g_clear_pointer(&self->drm_nodes, g_strfreev);
  drm_path = g_strdup_printf("%s/drm", self->sysfs_path);
  if (vxm_hostfs_is_dir(self->hostfs, drm_path)) {
    g_autoptr(GPtrArray) names = vxm_hostfs_list_dir(self->hostfs, drm_path, NULL);

    if (names != NULL) {
      g_ptr_array_add(names, NULL);
      self->drm_nodes = (GStrv)g_ptr_array_free(g_steal_pointer(&names), FALSE);
    }
  }
  if (self->drm_nodes == NULL)
    self->drm_nodes = g_new0(char *, 1);
  return TRUE;
}

VxmPciDevice *
vxm_pci_device_new(VxmHostfs *hostfs, const char *address, VxmPciIds *ids, GError **error)
{
  g_autoptr(VxmPciDevice) self = NULL;
  VxmPciAddress addr;

  g_return_val_if_fail(VXM_IS_HOSTFS(hostfs), NULL);
  if (!vxm_pci_address_parse(address, &addr, error))
    return NULL;
  self = g_object_new(VXM_TYPE_PCI_DEVICE, NULL);
  self->hostfs = g_object_ref(hostfs);
  self->ids = ids != NULL ? g_object_ref(ids) : NULL;
  self->addr = addr;
  self->address = vxm_pci_address_to_string(&addr);
  if (!read_all(self, error)) {
    if (error != NULL && *error != NULL && (*error)->code != VXM_ERROR_NOT_FOUND)
      g_prefix_error(error, "cannot read PCI device %s: ", self->address);
    return NULL;
  }
  return g_steal_pointer(&self);
}

gboolean
vxm_pci_device_reload(VxmPciDevice *self, GError **error)
{
  if (!read_all(self, error)) {
    if (error != NULL && *error != NULL && (*error)->code != VXM_ERROR_NOT_FOUND)
      g_prefix_error(error, "cannot read PCI device %s: ", self->address);
    return FALSE;
  }
  return TRUE;
}

const char *
vxm_pci_device_get_address(VxmPciDevice *self)
{
  return self->address;
}

const VxmPciAddress *
vxm_pci_device_get_pci_address(VxmPciDevice *self)
{
  return &self->addr;
}

const char *
vxm_pci_device_get_sysfs_path(VxmPciDevice *self)
{
  return self->sysfs_path;
}

guint16
vxm_pci_device_get_vendor_id(VxmPciDevice *self)
{
  return self->vendor_id;
}

guint16
vxm_pci_device_get_device_id(VxmPciDevice *self)
{
  return self->device_id;
}

gboolean
vxm_pci_device_has_subsystem(VxmPciDevice *self)
{
  return self->has_subsystem;
}

guint16
vxm_pci_device_get_subsystem_vendor_id(VxmPciDevice *self)
{
  return self->subsystem_vendor_id;
}

guint16
vxm_pci_device_get_subsystem_device_id(VxmPciDevice *self)
{
  return self->subsystem_device_id;
}

guint32
vxm_pci_device_get_class(VxmPciDevice *self)
{
  return self->class;
}

guint16
vxm_pci_device_get_class_code(VxmPciDevice *self)
{
  return (guint16)(self->class >> 8);
}

gint
vxm_pci_device_get_revision(VxmPciDevice *self)
{
  return self->revision;
}

const char *
vxm_pci_device_get_driver(VxmPciDevice *self)
{
  return self->driver;
}

const char *
vxm_pci_device_get_busy(VxmPciDevice *self)
{
  g_return_val_if_fail(VXM_IS_PCI_DEVICE(self), NULL);
  return self->busy;
}

const char *
vxm_pci_device_get_driver_override(VxmPciDevice *self)
{
  return self->driver_override;
}

gboolean
vxm_pci_device_has_boot_vga(VxmPciDevice *self)
{
  return self->has_boot_vga;
}

gboolean
vxm_pci_device_is_boot_vga(VxmPciDevice *self)
{
  return self->boot_vga;
}

gint
vxm_pci_device_get_iommu_group(VxmPciDevice *self)
{
  return self->iommu_group;
}

gint
vxm_pci_device_get_numa_node(VxmPciDevice *self)
{
  return self->numa_node;
}

const char *const *
vxm_pci_device_get_reset_methods(VxmPciDevice *self)
{
  return (const char *const *)self->reset_methods;
}

const char *const *
vxm_pci_device_get_drm_nodes(VxmPciDevice *self)
{
  return (const char *const *)self->drm_nodes;
}

const char *
vxm_pci_device_get_vendor_name(VxmPciDevice *self)
{
  return self->ids != NULL ? vxm_pci_ids_get_vendor_name(self->ids, self->vendor_id) : NULL;
}

const char *
vxm_pci_device_get_device_name(VxmPciDevice *self)
{
  return self->ids != NULL
             ? vxm_pci_ids_get_device_name(self->ids, self->vendor_id, self->device_id)
             : NULL;
}

const char *
vxm_pci_device_get_subsystem_name(VxmPciDevice *self)
{
  if (self->ids == NULL || !self->has_subsystem)
    return NULL;
  return vxm_pci_ids_get_subsystem_name(self->ids, self->vendor_id, self->device_id,
                                        self->subsystem_vendor_id, self->subsystem_device_id);
}

const char *
vxm_pci_device_get_class_name(VxmPciDevice *self)
{
  return vxm_pci_ids_get_class_name(self->ids, vxm_pci_device_get_class_code(self));
}

char *
vxm_pci_device_dup_display_name(VxmPciDevice *self)
{
  const char *vendor = vxm_pci_device_get_vendor_name(self);
  const char *device = vxm_pci_device_get_device_name(self);

  if (vendor != NULL && device != NULL)
    return g_strdup_printf("%s %s", vendor, device);
  if (vendor != NULL)
    return g_strdup_printf("%s device %04x", vendor, self->device_id);
  return g_strdup_printf("%04x:%04x", self->vendor_id, self->device_id);
}

char *
vxm_pci_device_dup_description(VxmPciDevice *self)
{
  const char *class_name = vxm_pci_device_get_class_name(self);

  if (class_name == NULL)
    return g_strdup_printf("%s (class %04x)", self->address, vxm_pci_device_get_class_code(self));
  return g_strdup_printf("%s (%s, %04x)", self->address, class_name,
                         vxm_pci_device_get_class_code(self));
}

gboolean
vxm_pci_device_is_display(VxmPciDevice *self)
{
  return (vxm_pci_device_get_class_code(self) & VXM_PCI_CLASS_DISPLAY_MASK) ==
         VXM_PCI_CLASS_DISPLAY;
}

gint
vxm_pci_device_compare(gconstpointer a, gconstpointer b)
{
  VxmPciDevice *x = (VxmPciDevice *)a, *y = (VxmPciDevice *)b;

  return vxm_pci_address_compare(&x->addr, &y->addr);
}

gint
vxm_pci_device_compare_ptr(gconstpointer a, gconstpointer b)
{
  return vxm_pci_device_compare(*(VxmPciDevice *const *)a, *(VxmPciDevice *const *)b);
}
