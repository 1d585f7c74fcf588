/* vxm-usb-watch: the VM's USB devices follow their plugging while the guest runs.
 *
 * Run by the supervisor on its main loop while QEMU runs, like the input watcher: inotify on
 * /dev/bus/usb and each bus folder in it (no polling). A node appearing is looked up in sysfs
 * (/sys/bus/usb/devices: busnum, devnum, idVendor, idProduct; the kernel makes those before
 * the node); one of the VM's VID:PIDs is first granted to the VM's user (the grant function,
 * which journals), then added to QEMU (QMP device_add of its usb-host on the xHCI bus, with
 * the id it would have had at start). A node of one of them going is the device unplugged: its
 * usb-host goes too (device_del; USB unplug in QEMU is immediate), so the guest sees it leave,
 * and a replug (a new node: the kernel gives the next devnum) adds it again. QMP requests for a
 * device are one at a time; what changed meanwhile is reconciled when the answer comes.
 * Each change is reported through the "changed" signal: (id, what, message), what one of
 * "gone", "back", "added", "removed", "failed".
 */
#pragma once

#include <gio/gio.h>

#include "common/vxm-hostfs.h"
#include "qemu/vxm-qmp-client.h"

G_BEGIN_DECLS

#define VXM_TYPE_USB_WATCH (vxm_usb_watch_get_type())
G_DECLARE_FINAL_TYPE(VxmUsbWatch, vxm_usb_watch, VXM, USB_WATCH, GObject)

/* Gives the node at @host_path (/dev/bus/usb/BBB/DDD) to the VM's user; FALSE with @error: the
 * device is not added. */
typedef gboolean (*VxmUsbWatchGrantFunc)(const char *host_path, gpointer user_data, GError **error);

/* Watches @devices (VxmUsbPassthrough, copied): those with a node are in QEMU (its command
 * line), the others are added when plugged in. Fails when inotify cannot be set up. Reports go
 * to the thread-default main context. */
VxmUsbWatch *vxm_usb_watch_new(VxmHostfs *hostfs, VxmQmpClient *qmp, GPtrArray *devices,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;

void vxm_usb_watch_set_grant_func(VxmUsbWatch *self, VxmUsbWatchGrantFunc func, gpointer user_data,
                                  GDestroyNotify destroy);

/* QMP requests in flight (for tests and teardown). */
guint vxm_usb_watch_get_busy(VxmUsbWatch *self);

/* For `vxm status`: @state "attached" (QEMU has it), "unplugged", "waiting" (not plugged in
 * since the start), "failed" (@message says why); @node its node now or NULL. FALSE when @id
 * is not watched. Pointers valid until the next main loop iteration. */
gboolean vxm_usb_watch_get_state(VxmUsbWatch *self, const char *id, const char **state,
                                 const char **node, const char **message);

G_END_DECLS
