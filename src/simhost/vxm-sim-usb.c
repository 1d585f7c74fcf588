/* vxm-sim-usb: USB devices, their sysfs and /dev/bus/usb nodes, plug and unplug (see the
 * header). */
#include "vxm-sim-usb.h"

#include <errno.h>
#include <string.h>

#include "common/vxm-util.h"

#define USB_SYSFS_ROOT "/sys/devices/pci0000:00/0000:00:14.0"
#define USB_DEVICES    "/sys/bus/usb/devices"
#define USB_DEV        "/dev/bus/usb"

typedef struct {
  VxmSimUsb *usb;
  char *name;
  guint bus;
  char *port; /* "2", "3.1" */
  guint devnum;
  guint32 vendor;
  guint32 product;
  char *product_name;
  char *manufacturer;
  char *serial;
  gboolean plugged;
} Device;

struct _VxmSimUsb {
  VxmSimHost *host;
  GPtrArray *devices;      /* Device */
  GHashTable *next_devnum; /* bus -> the next number the kernel gives on it */
};

static char *
sysname(const Device *d)
{
  return g_strdup_printf("%u-%s", d->bus, d->port);
}

static char *
device_dir(const Device *d)
{
  g_autofree char *name = sysname(d);

  return g_strdup_printf(USB_SYSFS_ROOT "/usb%u/%s", d->bus, name);
}

static char *
node_path(guint bus, guint devnum)
{
  return g_strdup_printf(USB_DEV "/%03u/%03u", bus, devnum);
}

/* The attributes a USB device has (drivers/usb/core/sysfs.c), the ones vxm and lsusb read. */
static void
put_device_attrs(VxmSimHost *host, const char *dir, guint bus, guint devnum, guint32 vendor,
                 guint32 product, const char *product_name, const char *manufacturer,
                 const char *serial, guint device_class)
{
  vxm_sim_node_put_text(host->root, dir, "idVendor", "%04x\n", vendor);
  vxm_sim_node_put_text(host->root, dir, "idProduct", "%04x\n", product);
  vxm_sim_node_put_text(host->root, dir, "busnum", "%u\n", bus);
  vxm_sim_node_put_text(host->root, dir, "devnum", "%u\n", devnum);
  vxm_sim_node_put_text(host->root, dir, "bDeviceClass", "%02x\n", device_class);
  vxm_sim_node_put_text(host->root, dir, "dev", "189:%u\n", (bus - 1) * 128 + devnum - 1);
  if (product_name != NULL)
    vxm_sim_node_put_text(host->root, dir, "product", "%s\n", product_name);
  if (manufacturer != NULL)
    vxm_sim_node_put_text(host->root, dir, "manufacturer", "%s\n", manufacturer);
  if (serial != NULL)
    vxm_sim_node_put_text(host->root, dir, "serial", "%s\n", serial);
  vxm_sim_node_put_text(host->root, dir, "uevent",
                        "MAJOR=189\nMINOR=%u\nDEVNAME=bus/usb/%03u/%03u\nDEVTYPE=usb_device\n"
                        "PRODUCT=%x/%x/100\nTYPE=%u/0/0\nBUSNUM=%03u\nDEVNUM=%03u\n",
                        (bus - 1) * 128 + devnum - 1, bus, devnum, vendor, product, device_class,
                        bus, devnum);
}

static void
build_root_hub(VxmSimUsb *usb, guint bus)
{
  VxmSimHost *host = usb->host;
  g_autofree char *dir = g_strdup_printf(USB_SYSFS_ROOT "/usb%u", bus);
  g_autofree char *link = g_strdup_printf(USB_DEVICES "/usb%u", bus);
  g_autofree char *node = node_path(bus, 1);
  g_autofree char *bus_dir = g_strdup_printf(USB_DEV "/%03u", bus);

  vxm_sim_node_mkdir_p(host->root, dir);
  put_device_attrs(host, dir, bus, 1, 0x1d6b, 0x0002, "xHCI Host Controller",
                   "Linux 6.1.0 xhci-hcd", "0000:00:14.0", 9);
  vxm_sim_node_put_link(host->root, link, dir);
  vxm_sim_node_mkdir_p(host->root, bus_dir);
  vxm_sim_host_add_device_node(host, node, 0664, 0, 0);
}

/* The device's sysfs (before its node, as the kernel's device_add). Host lock held. */
static void
build_sysfs(Device *d)
{
  VxmSimHost *host = d->usb->host;
  g_autofree char *dir = device_dir(d);
  g_autofree char *name = sysname(d);
  g_autofree char *link = g_strdup_printf(USB_DEVICES "/%s", name);
  g_autofree char *intf_dir = g_strdup_printf("%s/%s:1.0", dir, name);
  g_autofree char *intf_link = g_strdup_printf(USB_DEVICES "/%s:1.0", name);

  vxm_sim_node_mkdir_p(host->root, dir);
  put_device_attrs(host, dir, d->bus, d->devnum, d->vendor, d->product, d->product_name,
                   d->manufacturer, d->serial, 0);
  vxm_sim_node_mkdir_p(host->root, intf_dir);
  vxm_sim_node_put_text(host->root, intf_dir, "bInterfaceNumber", "00\n");
  vxm_sim_node_put_text(host->root, intf_dir, "bInterfaceClass", "03\n");
  vxm_sim_node_put_link(host->root, link, dir);
  vxm_sim_node_put_link(host->root, intf_link, intf_dir);
}

static void
remove_sysfs(Device *d)
{
  VxmSimHost *host = d->usb->host;
  g_autofree char *dir = device_dir(d);
  g_autofree char *name = sysname(d);
  g_autofree char *link = g_strdup_printf(USB_DEVICES "/%s", name);
  g_autofree char *intf_link = g_strdup_printf(USB_DEVICES "/%s:1.0", name);

  vxm_sim_node_remove_path(host->root, link);
  vxm_sim_node_remove_path(host->root, intf_link);
  vxm_sim_node_remove_path(host->root, dir);
}

static VxmSimNode *
new_node(void)
{
  VxmSimNode *node = vxm_sim_node_new_file(0664, NULL);

  node->flags |= VXM_SIM_NODE_FLAG_DEVICE;
  return node;
}

/* Deferred: the node through the mount, after the lock is let go. */
typedef struct {
  char *path;
  gboolean add;
} NodeWork;

static void
node_work_free(gpointer data)
{
  NodeWork *work = data;

  g_free(work->path);
  g_free(work);
}

static void
announce_node(gpointer data, gpointer user_data)
{
  NodeWork *work = data;
  VxmSimHost *host = user_data;

  if (work->add)
    vxm_sim_host_announce_node(host, work->path, new_node());
  else
    vxm_sim_host_announce_unlink(host, work->path);
}

static void
defer_node(VxmSimUsb *usb, const Device *d, gboolean add)
{
  NodeWork *work = g_new0(NodeWork, 1);

  work->path = node_path(d->bus, d->devnum);
  work->add = add;
  vxm_sim_host_defer(usb->host, announce_node, work, node_work_free);
}

static Device *
find_device(VxmSimUsb *usb, const char *name)
{
  for (guint i = 0; i < usb->devices->len; i++) {
    Device *d = g_ptr_array_index(usb->devices, i);

    if (g_strcmp0(d->name, name) == 0)
      return d;
  }
  return NULL;
}

static gboolean
devnum_taken(VxmSimUsb *usb, const Device *self, guint bus, guint devnum)
{
  if (devnum == 1)
    return TRUE; /* the root hub's */
  for (guint i = 0; i < usb->devices->len; i++) {
    Device *o = g_ptr_array_index(usb->devices, i);

    if (o != self && o->plugged && o->bus == bus && o->devnum == devnum)
      return TRUE;
  }
  return FALSE;
}

int
vxm_sim_usb_unplug(VxmSimUsb *usb, const char *name)
{
  Device *d = find_device(usb, name);

  if (d == NULL)
    return -ENOENT;
  if (!d->plugged)
    return -EALREADY;
  d->plugged = FALSE;
  remove_sysfs(d);
  defer_node(usb, d, FALSE);
  return 0;
}

int
vxm_sim_usb_replug(VxmSimUsb *usb, const char *name, guint devnum)
{
  Device *d = find_device(usb, name);

  if (d == NULL)
    return -ENOENT;
  if (d->plugged)
    return -EALREADY;
  if (devnum == 0) {
    /* the kernel's usb_alloc_dev: the next free number after the last one given, 2-127 */
    guint next = GPOINTER_TO_UINT(g_hash_table_lookup(usb->next_devnum, GUINT_TO_POINTER(d->bus)));

    for (guint tries = 0; tries < 127 && devnum == 0; tries++, next = next >= 127 ? 2 : next + 1)
      if (!devnum_taken(usb, d, d->bus, next))
        devnum = next;
    if (devnum == 0)
      return -EBUSY;
    g_hash_table_insert(usb->next_devnum, GUINT_TO_POINTER(d->bus),
                        GUINT_TO_POINTER(devnum >= 127 ? 2 : devnum + 1));
  } else if (devnum_taken(usb, d, d->bus, devnum)) {
    return -EBUSY;
  }
  d->devnum = devnum;
  d->plugged = TRUE;
  build_sysfs(d);
  defer_node(usb, d, TRUE);
  return 0;
}

static int
control_store(VxmSimNode *node, const char *buf, gsize len)
{
  VxmSimUsb *usb = node->owner;
  g_autofree char *text = g_strndup(buf, len);
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

  for (gsize i = 0; lines[i] != NULL; i++) {
    char *line = g_strstrip(lines[i]);
    g_auto(GStrv) args = NULL;
    gboolean unplug;
    guint64 devnum = 0;
    Device *d;
    g_autofree char *path = NULL;
    int res;

    if (*line == '\0')
      continue;
    args = g_strsplit_set(line, " \t", -1);
    unplug = g_strcmp0(args[0], "unplug") == 0;
    if ((!unplug && g_strcmp0(args[0], "replug") != 0) || args[1] == NULL ||
        (unplug && args[2] != NULL) || (!unplug && args[2] != NULL && args[3] != NULL) ||
        (!unplug && args[2] != NULL &&
         (!vxm_parse_uint64(args[2], 10, &devnum) || devnum < 2 || devnum > 127))) {
      g_printerr("vxm-simhost: usb: expected unplug NAME or replug NAME [DEVNUM 2-127]\n");
      return -EINVAL;
    }
    d = find_device(usb, args[1]);
    path = d != NULL && unplug ? node_path(d->bus, d->devnum) : NULL;
    res =
        unplug ? vxm_sim_usb_unplug(usb, args[1]) : vxm_sim_usb_replug(usb, args[1], (guint)devnum);
    if (path == NULL)
      path = d != NULL && d->plugged ? node_path(d->bus, d->devnum) : g_strdup(USB_DEV);
    vxm_sim_host_log(usb->host, unplug ? "unplug" : "replug", path, args[1], -1, res);
    if (res != 0)
      return res;
  }
  return 0;
}

static char *
device_state(const Device *d)
{
  g_autofree char *name = sysname(d);
  g_autofree char *node = node_path(d->bus, d->devnum);

  return g_strdup_printf("usb %s %s %04x:%04x %s%s%s", d->name, name, d->vendor, d->product,
                         d->plugged ? "plugged" : "unplugged", d->plugged ? " " : "",
                         d->plugged ? node : "");
}

static char *
control_show(VxmSimNode *node, gssize *len)
{
  VxmSimUsb *usb = node->owner;
  GString *out = g_string_new(NULL);

  (void)len;
  for (guint i = 0; i < usb->devices->len; i++) {
    g_autofree char *line = device_state(g_ptr_array_index(usb->devices, i));
    g_string_append_printf(out, "%s\n", line);
  }
  return g_string_free(out, FALSE);
}

void
vxm_sim_usb_add_control(VxmSimUsb *usb)
{
  VxmSimNode *node = vxm_sim_node_new_generated(0644, control_show, control_store, usb, NULL, 0);

  node->flags |= VXM_SIM_NODE_FLAG_CONTROL;
  vxm_sim_node_put(usb->host->root, VXM_SIM_CONTROL_DIR "/usb", node);
}

void
vxm_sim_usb_dump_state(VxmSimUsb *usb, GPtrArray *lines)
{
  for (guint i = 0; i < usb->devices->len; i++)
    g_ptr_array_add(lines, device_state(g_ptr_array_index(usb->devices, i)));
}

/* ---- the machine file ---- */

static void
device_free(Device *d)
{
  g_free(d->name);
  g_free(d->port);
  g_free(d->product_name);
  g_free(d->manufacturer);
  g_free(d->serial);
  g_free(d);
}

static gboolean
port_ok(const char *port)
{
  g_auto(GStrv) parts = g_strsplit(port, ".", -1);

  if (parts[0] == NULL || g_strv_length(parts) > 6)
    return FALSE;
  for (gsize i = 0; parts[i] != NULL; i++) {
    guint64 n;

    if (!vxm_parse_uint64(parts[i], 10, &n) || n < 1 || n > 31)
      return FALSE;
  }
  return TRUE;
}

static Device *
load_device(VxmSimUsb *usb, VxmSimMachine *machine, const char *name, GError **error)
{
  g_autofree char *group = g_strdup_printf("usb %s", name);
  g_autoptr(GError) local = NULL;
  Device *d = g_new0(Device, 1);
  gint64 bus, devnum;

  d->usb = usb;
  d->name = g_strdup(name);
  if (!vxm_sim_machine_get_int(machine, group, "bus", 1, 255, 1, &bus, error) ||
      !vxm_sim_machine_get_string(machine, group, "port", NULL, &d->port, error) ||
      !vxm_sim_machine_get_int(machine, group, "devnum", 2, 127, -1, &devnum, error) ||
      !vxm_sim_machine_get_hex(machine, group, "vendor", 4, TRUE, 0, &d->vendor, error) ||
      !vxm_sim_machine_get_hex(machine, group, "product", 4, TRUE, 0, &d->product, error) ||
      !vxm_sim_machine_get_string(machine, group, "name", NULL, &d->product_name, error) ||
      !vxm_sim_machine_get_string(machine, group, "manufacturer", NULL, &d->manufacturer, error) ||
      !vxm_sim_machine_get_string(machine, group, "serial", NULL, &d->serial, error) ||
      !vxm_sim_machine_get_bool(machine, group, "plugged", TRUE, &d->plugged, error)) {
    device_free(d);
    return NULL;
  }
  if (d->port == NULL || !port_ok(d->port)) {
    vxm_sim_machine_error(machine, error, group, "port",
                          "required: the hub port path, like 2 or 3.1 (sysfs name BUS-PORT)");
    device_free(d);
    return NULL;
  }
  if (devnum < 0) {
    vxm_sim_machine_error(machine, error, group, "devnum",
                          "required: its device number on the bus, 2-127 (/dev/bus/usb/BBB/DDD)");
    device_free(d);
    return NULL;
  }
  d->bus = (guint)bus;
  d->devnum = (guint)devnum;
  return d;
}

VxmSimUsb *
vxm_sim_usb_new(VxmSimHost *host, VxmSimMachine *machine, GError **error)
{
  VxmSimUsb *usb = g_new0(VxmSimUsb, 1);
  g_autoptr(GPtrArray) names = vxm_sim_machine_groups(machine, "usb");

  usb->host = host;
  usb->devices = g_ptr_array_new_with_free_func((GDestroyNotify)device_free);
  usb->next_devnum = g_hash_table_new(NULL, NULL);
  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    Device *d = load_device(usb, machine, name, error);

    if (d == NULL) {
      vxm_sim_usb_free(usb);
      return NULL;
    }
    for (guint j = 0; j < usb->devices->len; j++) {
      Device *o = g_ptr_array_index(usb->devices, j);
      g_autofree char *group = g_strdup_printf("usb %s", name);

      if (o->bus == d->bus && (o->devnum == d->devnum || g_strcmp0(o->port, d->port) == 0)) {
        vxm_sim_machine_error(machine, error, group, "devnum",
                              "bus %u devnum %u or port %s is also [usb %s]'s", d->bus, d->devnum,
                              d->port, o->name);
        device_free(d);
        vxm_sim_usb_free(usb);
        return NULL;
      }
    }
    g_ptr_array_add(usb->devices, d);
  }
  if (usb->devices->len == 0)
    return usb; /* no USB at all: no /sys/bus/usb, as a machine without USB */
  vxm_sim_node_mkdir_p(host->root, USB_DEVICES);
  vxm_sim_node_mkdir_p(host->root, USB_DEV);
  for (guint i = 0; i < usb->devices->len; i++) {
    Device *d = g_ptr_array_index(usb->devices, i);
    guint next = GPOINTER_TO_UINT(g_hash_table_lookup(usb->next_devnum, GUINT_TO_POINTER(d->bus)));
    g_autofree char *bus_hub = g_strdup_printf(USB_DEVICES "/usb%u", d->bus);

    if (vxm_sim_node_lookup(host->root, bus_hub, NULL) == NULL)
      build_root_hub(usb, d->bus);
    /* numbers go on after the highest one the machine file gives on the bus */
    g_hash_table_insert(usb->next_devnum, GUINT_TO_POINTER(d->bus),
                        GUINT_TO_POINTER(MAX(next, MIN(d->devnum + 1, 127u))));
    if (!d->plugged)
      continue;
    build_sysfs(d);
    {
      g_autofree char *node = node_path(d->bus, d->devnum);
      vxm_sim_host_add_device_node(host, node, 0664, 0, 0);
    }
  }
  return usb;
}

void
vxm_sim_usb_free(VxmSimUsb *usb)
{
  if (usb == NULL)
    return;
  g_ptr_array_unref(usb->devices);
  g_hash_table_unref(usb->next_devnum);
  g_free(usb);
}
