/* vxm-usb-device: USB devices by VID:PID in sysfs, and their QEMU usb-host form. */
#include "vxm-usb-device.h"

#include <string.h>

#include "common/vxm-util.h"

void
vxm_usb_device_free(VxmUsbDevice *self)
{
  if (self == NULL)
    return;
  g_free(self->sysname);
  g_free(self->product_name);
  g_free(self->manufacturer);
  g_free(self);
}

static gboolean
read_hex16(VxmHostfs *hostfs, const char *dir, const char *attr, guint16 *out)
{
  g_autofree char *path = g_strdup_printf("%s/%s", dir, attr);
  guint64 value = 0;

  if (!vxm_hostfs_read_attr_uint64(hostfs, path, 16, &value, NULL) || value > 0xffff)
    return FALSE;
  *out = (guint16)value;
  return TRUE;
}

static gboolean
read_uint(VxmHostfs *hostfs, const char *dir, const char *attr, guint max, guint *out)
{
  g_autofree char *path = g_strdup_printf("%s/%s", dir, attr);
  guint64 value = 0;

  if (!vxm_hostfs_read_attr_uint64(hostfs, path, 10, &value, NULL) || value == 0 || value > max)
    return FALSE;
  *out = (guint)value;
  return TRUE;
}

static char *
read_string(VxmHostfs *hostfs, const char *dir, const char *attr)
{
  g_autofree char *path = g_strdup_printf("%s/%s", dir, attr);
  g_autofree char *value = vxm_hostfs_read_attr(hostfs, path, NULL);

  if (value == NULL || *g_strstrip(value) == '\0')
    return NULL;
  return g_steal_pointer(&value);
}

GPtrArray *
vxm_usb_devices_list(VxmHostfs *hostfs)
{
  GPtrArray *devices = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_usb_device_free);
  g_autoptr(GPtrArray) names = vxm_hostfs_list_dir(hostfs, VXM_HOST_SYS_BUS_USB_DEVICES, NULL);

  for (guint i = 0; names != NULL && i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    g_autofree char *dir = NULL;
    g_autoptr(VxmUsbDevice) d = NULL;

    if (strchr(name, ':') != NULL)
      continue; /* an interface */
    dir = g_strdup_printf(VXM_HOST_SYS_BUS_USB_DEVICES "/%s", name);
    d = g_new0(VxmUsbDevice, 1);
    if (!read_hex16(hostfs, dir, "idVendor", &d->vendor) ||
        !read_hex16(hostfs, dir, "idProduct", &d->product) ||
        !read_uint(hostfs, dir, "busnum", 255, &d->busnum) ||
        !read_uint(hostfs, dir, "devnum", 127, &d->devnum))
      continue; /* going away while read, or not a device */
    d->sysname = g_strdup(name);
    {
      guint16 device_class = 0;

      if (read_hex16(hostfs, dir, "bDeviceClass", &device_class))
        d->device_class = device_class;
    }
    d->product_name = read_string(hostfs, dir, "product");
    d->manufacturer = read_string(hostfs, dir, "manufacturer");
    g_ptr_array_add(devices, g_steal_pointer(&d));
  }
  return devices;
}

VxmUsbDevice *
vxm_usb_devices_find(GPtrArray *devices, guint16 vendor, guint16 product)
{
  for (guint i = 0; i < devices->len; i++) {
    VxmUsbDevice *d = g_ptr_array_index(devices, i);

    if (d->vendor == vendor && d->product == product)
      return d;
  }
  return NULL;
}

VxmUsbDevice *
vxm_usb_devices_find_node(GPtrArray *devices, guint busnum, guint devnum)
{
  for (guint i = 0; i < devices->len; i++) {
    VxmUsbDevice *d = g_ptr_array_index(devices, i);

    if (d->busnum == busnum && d->devnum == devnum)
      return d;
  }
  return NULL;
}

char *
vxm_usb_device_node(const VxmUsbDevice *self)
{
  return g_strdup_printf(VXM_HOST_DEV_BUS_USB "/%03u/%03u", self->busnum, self->devnum);
}

char *
vxm_usb_device_describe(const VxmUsbDevice *self)
{
  if (self->manufacturer != NULL && self->product_name != NULL)
    return g_strdup_printf("%s %s", self->manufacturer, self->product_name);
  return g_strdup(self->product_name != NULL   ? self->product_name
                  : self->manufacturer != NULL ? self->manufacturer
                                               : "");
}

static gboolean
parse_3digits(const char *s, guint max, guint *out)
{
  guint value = 0;

  for (gsize i = 0; i < 3; i++) {
    if (!g_ascii_isdigit(s[i]))
      return FALSE;
    value = value * 10 + (guint)(s[i] - '0');
  }
  if (value == 0 || value > max)
    return FALSE;
  *out = value;
  return TRUE;
}

gboolean
vxm_usb_node_parse(const char *host_path, guint *busnum, guint *devnum)
{
  const char *p;

  if (host_path == NULL || !g_str_has_prefix(host_path, VXM_HOST_DEV_BUS_USB "/"))
    return FALSE;
  p = host_path + strlen(VXM_HOST_DEV_BUS_USB "/");
  return strlen(p) == 7 && p[3] == '/' && parse_3digits(p, 255, busnum) &&
         parse_3digits(p + 4, 127, devnum);
}

char *
vxm_usb_qemu_id(guint16 vendor, guint16 product)
{
  return g_strdup_printf("usb-%04x-%04x", vendor, product);
}

VxmUsbPassthrough *
vxm_usb_passthrough_new(guint16 vendor, guint16 product)
{
  VxmUsbPassthrough *self = g_new0(VxmUsbPassthrough, 1);

  self->id = vxm_usb_qemu_id(vendor, product);
  self->vendor = vendor;
  self->product = product;
  self->description = g_strdup("");
  return self;
}

VxmUsbPassthrough *
vxm_usb_passthrough_copy(const VxmUsbPassthrough *self)
{
  VxmUsbPassthrough *copy = g_new0(VxmUsbPassthrough, 1);

  copy->id = g_strdup(self->id);
  copy->vendor = self->vendor;
  copy->product = self->product;
  copy->node = g_strdup(self->node);
  copy->description = g_strdup(self->description);
  return copy;
}

void
vxm_usb_passthrough_free(VxmUsbPassthrough *self)
{
  if (self == NULL)
    return;
  g_free(self->id);
  g_free(self->node);
  g_free(self->description);
  g_free(self);
}

char *
vxm_usb_passthrough_to_option(const VxmUsbPassthrough *self)
{
  return g_strdup_printf("usb-host,id=%s,bus=" VXM_USB_XHCI_BUS ",vendorid=0x%04x,productid=0x%04x",
                         self->id, self->vendor, self->product);
}

JsonObject *
vxm_usb_passthrough_to_qmp(const VxmUsbPassthrough *self)
{
  JsonObject *args = json_object_new();

  json_object_set_string_member(args, "driver", "usb-host");
  json_object_set_string_member(args, "id", self->id);
  json_object_set_string_member(args, "bus", VXM_USB_XHCI_BUS);
  json_object_set_int_member(args, "vendorid", self->vendor);
  json_object_set_int_member(args, "productid", self->product);
  return args;
}

JsonObject *
vxm_usb_passthrough_to_json(const VxmUsbPassthrough *self)
{
  JsonObject *obj = json_object_new();
  g_autofree char *vendor = g_strdup_printf("%04x", self->vendor);
  g_autofree char *product = g_strdup_printf("%04x", self->product);

  json_object_set_string_member(obj, "id", self->id);
  json_object_set_string_member(obj, "vendor", vendor);
  json_object_set_string_member(obj, "product", product);
  if (self->node != NULL)
    json_object_set_string_member(obj, "node", self->node);
  else
    json_object_set_null_member(obj, "node");
  json_object_set_string_member(obj, "description", self->description);
  return obj;
}

VxmUsbPassthrough *
vxm_usb_passthrough_from_json(JsonObject *obj)
{
  const char *vendor = json_object_get_string_member_with_default(obj, "vendor", "");
  const char *product = json_object_get_string_member_with_default(obj, "product", "");
  const char *node = json_object_get_string_member_with_default(obj, "node", NULL);
  guint64 v = 0, p = 0;
  VxmUsbPassthrough *self;

  if (!vxm_parse_uint64(vendor, 16, &v) || !vxm_parse_uint64(product, 16, &p) || v > 0xffff ||
      p > 0xffff)
    return NULL;
  self = vxm_usb_passthrough_new((guint16)v, (guint16)p);
  self->node = g_strdup(node);
  g_free(self->description);
  self->description = g_strdup(json_object_get_string_member_with_default(obj, "description", ""));
  return self;
}
