/* vxm-input-watch: keeps a running VM's keyboards and mice working across unplug and replug.
 *
 * QEMU's input-linux closes a device on its first read error (the unplug) and never opens it
 * again. The watcher, run by the supervisor on its main loop while QEMU runs, watches
 * /dev/input/by-id and /dev/input/by-path with inotify (no polling):
 *   - the link of a passed-through device goes: the device is gone; its dead object is
 *     deleted at once (QMP object-del; input-linux is a QOM object, not a device, so
 *     object-del answers synchronously and no DEVICE_DELETED event comes). The guest goes on
 *     with one input less. Deleting at once, not at replug, because QEMU 7.2 keeps the closed
 *     fd's number in the dead object and closes it again on object-del: later, that number
 *     can be another object's new fd (seen with the real QEMU here);
 *   - a link of that name comes back (udev makes it after the node and its permissions):
 *     the watcher first re-grants the node to the VM's user (the grant function, which
 *     journals), then sends object-add with the same properties the VM started with
 *     (vxm-input-object), preceded by object-del if the dead object is still there.
 * A device named in the config but absent at start is "pending": object-added the first time
 * a link of its name appears in either folder (QEMU then opens that link). QEMU opens the new node
 * with the grab taken (its own rule at open), so a re-added mouse is the guest's even while the
 * keyboard's toggle had given the host the grab; a re-added primary keyboard takes every device to
 * the guest (grab_all). Each change is reported through the "changed" signal: (id, what, message)
 * with what one of "gone", "back", "readded", "failed".
 */
#pragma once

#include <gio/gio.h>

#include "common/vxm-hostfs.h"
#include "qemu/vxm-qmp-client.h"

G_BEGIN_DECLS

#define VXM_TYPE_INPUT_WATCH (vxm_input_watch_get_type())
G_DECLARE_FINAL_TYPE(VxmInputWatch, vxm_input_watch, VXM, INPUT_WATCH, GObject)

/* Gives the node at @host_path (a by-id or by-path link) to the VM's user again; runs on the main
 * loop before the object is re-added. FALSE with @error: the object is not re-added. */
typedef gboolean (*VxmInputWatchGrantFunc)(const char *host_path, gpointer user_data,
                                           GError **error);

/* Watches the objects @objects (VxmInputObject, copied) that QEMU runs with, and @pending
 * (VxmInputObject, copied; may be NULL): objects not added yet because their device was
 * absent at start. Objects whose evdev is not a by-id or by-path link under @hostfs (an
 * eventN, which a replug renumbers) are not watched.
 * Fails when inotify cannot be set up. Reports go to the thread-default main context. */
VxmInputWatch *vxm_input_watch_new(VxmHostfs *hostfs, VxmQmpClient *qmp, GPtrArray *objects,
                                   GPtrArray *pending, GError **error) G_GNUC_WARN_UNUSED_RESULT;

void vxm_input_watch_set_grant_func(VxmInputWatch *self, VxmInputWatchGrantFunc func,
                                    gpointer user_data, GDestroyNotify destroy);

/* How many QMP re-adds are in flight (for tests and teardown). */
guint vxm_input_watch_get_busy(VxmInputWatch *self);

/* What the watcher knows of object @id, for `vxm status`: @state "attached" (QEMU has it),
 * "unplugged" (its link went; it rejoins when plugged back), "waiting" (named in the config,
 * not plugged in since the start), "failed" (plugged back but not re-added: @message says
 * why); @evdev the path QEMU opens; @message the last report or NULL. FALSE when @id is not
 * watched (its path is no by-id or by-path link). Pointers valid until the next main loop
 * iteration. */
gboolean vxm_input_watch_get_state(VxmInputWatch *self, const char *id, const char **state,
                                   const char **evdev, const char **message);

G_END_DECLS
