/* vxm-input-object: QEMU's input-linux objects for a VM's input devices.
 *
 * One object per evdev node: id kbdN or mouseN (numbered in the order of the host facts),
 * evdev the node's stable path, grab_all=on on the primary keyboard only (QEMU: when that
 * keyboard's grab toggles, every object without grab_all follows; two grab_all objects would
 * not follow each other), repeat=on on keyboards (QEMU passes the host's autorepeat), and
 * grab-toggle from the VM's config on every object. The argv builder prints them as
 * -object options; the hotplug watcher sends the same properties to object-add, so an object
 * re-added after an unplug is the one QEMU was started with.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* One evdev node a VM takes, as the host facts list it (what the objects are made from). */
typedef enum {
  VXM_HOST_INPUT_KEYBOARD,
  VXM_HOST_INPUT_MOUSE,
} VxmHostInputKind;

typedef struct {
  char *path; /* "/dev/input/by-id/usb-Logitech_...-event-kbd" */
  VxmHostInputKind kind;
  gboolean primary; /* the keyboard that carries grab_all and the grab toggle */
} VxmHostInput;

VxmHostInput *vxm_host_input_new(const char *path, VxmHostInputKind kind, gboolean primary);
void vxm_host_input_free(VxmHostInput *input);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmHostInput, vxm_host_input_free)

typedef struct {
  char *id;    /* "kbd0", "mouse0" */
  char *evdev; /* the path QEMU opens (local, under the host root) */
  VxmHostInputKind kind;
  gboolean grab_all;
  gboolean repeat;
  char *grab_toggle; /* "ctrl-ctrl", ... or NULL for QEMU's default */
} VxmInputObject;

VxmInputObject *vxm_input_object_copy(const VxmInputObject *object);
void vxm_input_object_free(VxmInputObject *object);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmInputObject, vxm_input_object_free)

/* For a device [input] inputs names that is not plugged in at start. TRUE, with its kind,
 * when the hotplug watcher can add it once it is: udev's /dev/input/by-id and by-path names
 * end in -event-kbd or -event-mouse. FALSE with @why (the reason and what to do) for an eventN
 * name (the kernel numbers a device anew each time it is plugged in) and for a name without
 * that suffix (its kind is unknown until it is there). */
gboolean vxm_input_pending_kind(const char *name, VxmHostInputKind *kind, char **why);

/* "by-path" for a name of udev's by-path form (it starts with the bus path: pci-,
 * platform-, acpi-, ...), else "by-id": where a device that is not plugged in is first looked
 * for. The hotplug watcher accepts the name's link in either folder. */
const char *vxm_input_link_folder(const char *name);

/* The objects for @inputs (VxmHostInput), in order. */
GPtrArray *vxm_input_objects_new(GPtrArray *inputs, const char *grab_toggle);

/* "input-linux,id=kbd0,evdev=PATH,grab_all=on,repeat=on,grab-toggle=ctrl-ctrl" (values
 * escaped for QEMU's option parser). */
char *vxm_input_object_to_option(const VxmInputObject *object);

/* The arguments of QMP object-add: {"qom-type": "input-linux", "id", "evdev", "grab_all",
 * "repeat", "grab-toggle"}. */
JsonObject *vxm_input_object_to_qmp(const VxmInputObject *object);

/* For the supervisor plan: {"id", "evdev", "kind": "keyboard"|"mouse", "grab_all", "repeat",
 * "grab_toggle"} and back (NULL when id or evdev is missing). */
JsonObject *vxm_input_object_to_json(const VxmInputObject *object);
VxmInputObject *vxm_input_object_from_json(JsonObject *obj);

G_END_DECLS
