/* vxm-usb-device: USB devices the guest is given whole (`[usb] devices`), found by VID:PID.
 *
 * The host's devices come from sysfs: /sys/bus/usb/devices/B-P[.P...] (interfaces, "B-P:C.I",
 * are skipped) with idVendor, idProduct, busnum, devnum, product and manufacturer; the node
 * libusb (QEMU's usb-host) opens is /dev/bus/usb/BBB/DDD. A replug gets the next devnum, so a
 * new node: grants are made per node and the old one's is gone with it.
 *
 * VxmUsbPassthrough is one configured device as the start plans it (QEMU's device id, the ids,
 * the node when present), carried in the supervisor's plan and watched for hotplug.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "common/vxm-hostfs.h"

G_BEGIN_DECLS

/* QEMU's controller for them: its id, and the bus name devices go on. */
#define VXM_USB_XHCI_ID  "xhci"
#define VXM_USB_XHCI_BUS "xhci.0"

typedef struct {
  char *sysname; /* "1-2", "3-1.4" */
  guint16 vendor;
  guint16 product;
  guint busnum;
  guint devnum;
  guint device_class; /* bDeviceClass: 0x09 for a hub, 0 when defined per interface */
  char *product_name; /* NULL when the device has no string */
  char *manufacturer;
} VxmUsbDevice;

void vxm_usb_device_free(VxmUsbDevice *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmUsbDevice, vxm_usb_device_free)

/* Every USB device the host has now (VxmUsbDevice), in sysfs order; an empty array when the
 * host has no USB (no /sys/bus/usb). */
GPtrArray *vxm_usb_devices_list(VxmHostfs *hostfs);
/* The first of @devices with these ids, or NULL. */
VxmUsbDevice *vxm_usb_devices_find(GPtrArray *devices, guint16 vendor, guint16 product);
/* The one at /dev/bus/usb/@busnum/@devnum, or NULL. */
VxmUsbDevice *vxm_usb_devices_find_node(GPtrArray *devices, guint busnum, guint devnum);

#define VXM_USB_CLASS_HUB 0x09

/* "/dev/bus/usb/001/004" */
char *vxm_usb_device_node(const VxmUsbDevice *self);
/* "Logitech USB Receiver", or "" when sysfs has neither string. */
char *vxm_usb_device_describe(const VxmUsbDevice *self);
/* Parses "/dev/bus/usb/BBB/DDD" (exactly 3 digits each, 1-255 and 1-127). */
gboolean vxm_usb_node_parse(const char *host_path, guint *busnum, guint *devnum);

typedef struct {
  char *id; /* QEMU's device id: "usb-046d-c52b" */
  guint16 vendor;
  guint16 product;
  char *node;        /* the host node now, NULL when not plugged in at start */
  char *description; /* "Logitech USB Receiver", may be "" */
} VxmUsbPassthrough;

/* "usb-046d-c52b": stable across runs and replugs. */
char *vxm_usb_qemu_id(guint16 vendor, guint16 product);
VxmUsbPassthrough *vxm_usb_passthrough_new(guint16 vendor, guint16 product);
VxmUsbPassthrough *vxm_usb_passthrough_copy(const VxmUsbPassthrough *self);
void vxm_usb_passthrough_free(VxmUsbPassthrough *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmUsbPassthrough, vxm_usb_passthrough_free)
/* The -device value: "usb-host,id=usb-046d-c52b,bus=xhci.0,vendorid=0x046d,productid=0xc52b". */
char *vxm_usb_passthrough_to_option(const VxmUsbPassthrough *self);
/* The same as device_add's arguments. */
JsonObject *vxm_usb_passthrough_to_qmp(const VxmUsbPassthrough *self);
/* {"id", "vendor": "046d", "product": "c52b", "node", "description"} and back (NULL: bad). */
JsonObject *vxm_usb_passthrough_to_json(const VxmUsbPassthrough *self);
VxmUsbPassthrough *vxm_usb_passthrough_from_json(JsonObject *obj);

G_END_DECLS
