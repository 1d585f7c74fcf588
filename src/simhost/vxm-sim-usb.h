/* vxm-sim-usb: USB devices of the simulated host, as the kernel and udev show them.
 *
 * Reads [usb NAME] groups (tests/simhost/README.md). Each bus a device is on gets its root hub
 * (/sys/bus/usb/devices/usbN: 1d6b:0002, devnum 1; /dev/bus/usb/BBB/001). A plugged device
 * is /sys/devices/pci0000:00/0000:00:14.0/usbN/N-PORT with idVendor, idProduct, busnum,
 * devnum, product, manufacturer, serial, uevent (BUSNUM, DEVNUM, DEVNAME, PRODUCT, TYPE) and
 * its interface N-PORT:1.0, linked from /sys/bus/usb/devices, and /dev/bus/usb/BBB/DDD
 * (root:root 0664, as udev's default rule leaves it). The node comes and goes through the
 * mount itself (vxm_sim_host_announce_node), so inotify on the bus folder sees it as it would
 * see devtmpfs; sysfs is there before the node, as the kernel's device_add makes it.
 *
 * Control file .simhost/usb, one command a line:
 *   unplug NAME | replug NAME [DEVNUM]  a replug takes the bus's next device number (the kernel
 *                                     counts on: a replugged device gets a new node), or the
 *                                     one given; the new node is root's again
 * Reading it shows each device's line of the state dump.
 *
 * State dump: "usb NAME BUS-PORT VVVV:PPPP plugged /dev/bus/usb/BBB/DDD" or "... unplugged".
 * Log: "unplug /dev/bus/usb/BBB/DDD NAME", "replug /dev/bus/usb/BBB/DDD NAME".
 */
#pragma once

#include "vxm-sim-host.h"

G_BEGIN_DECLS

VxmSimUsb *vxm_sim_usb_new(VxmSimHost *host, VxmSimMachine *machine,
                           GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_sim_usb_free(VxmSimUsb *usb);
/* Adds .simhost/usb. Lock held. */
void vxm_sim_usb_add_control(VxmSimUsb *usb);
void vxm_sim_usb_dump_state(VxmSimUsb *usb, GPtrArray *lines);
/* 0, -ENOENT (no such device), -EALREADY, -EBUSY (@devnum taken on the bus). Lock held; the
 * node follows once the lock is let go (deferred). @devnum 0: the bus's next. */
int vxm_sim_usb_unplug(VxmSimUsb *usb, const char *name);
int vxm_sim_usb_replug(VxmSimUsb *usb, const char *name, guint devnum);

G_END_DECLS
