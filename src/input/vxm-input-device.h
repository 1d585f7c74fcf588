/* vxm-input-device: one evdev node of the host (/dev/input/eventN) and what it is.
 *
 * Read from /sys/class/input/inputN (name, phys, uniq, id/{bustype,vendor,product,version},
 * capabilities/{ev,key,rel,abs,sw,snd}, properties, the eventN folder) and /dev/input/by-id,
 * by-path through the host root. Each event node is classified on its own, by capability
 * bits, never by name:
 *   keyboard  EV_KEY with the 26 letter keys (KEY_A..KEY_Z)
 *   mouse     EV_REL with REL_X and REL_Y, and BTN_LEFT
 *   touchpad  EV_ABS with ABS_X and ABS_Y, and BTN_TOOL_FINGER, and not a direct-input
 *             device (INPUT_PROP_DIRECT: touchscreens)
 *   other     everything else: power and sleep buttons, consumer and system control keys,
 *             lid and video switches (EV_SW), the PC speaker (EV_SND), touchscreens, tablets
 * A node that is both (a keyboard with a pointing stick on one interface) is a keyboard.
 * Virtual devices (uinput, software keyboards) are flagged: bus BUS_VIRTUAL (0x06), a sysfs
 * path under /sys/devices/virtual, or no phys.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "common/vxm-hostfs.h"
#include "input/vxm-input-bitmap.h"

G_BEGIN_DECLS

typedef enum {
  VXM_INPUT_KIND_KEYBOARD,
  VXM_INPUT_KIND_MOUSE,
  VXM_INPUT_KIND_TOUCHPAD,
  VXM_INPUT_KIND_OTHER,
} VxmInputKind;

typedef struct {
  char *input;   /* "input5": the folder under /sys/class/input */
  char *event;   /* "event3": the node under /dev/input */
  char *name;    /* "Logitech G915" (the kernel's name attribute) */
  char *phys;    /* "usb-0000:00:14.0-3/input0", NULL when empty */
  char *uniq;    /* serial, NULL when empty */
  char *syspath; /* resolved host path of the inputN folder */
  guint16 bustype, vendor, product, version;

  VxmInputBitmap *ev, *key, *rel, *abs, *sw, *props;

  VxmInputKind kind;
  const char *detail; /* static: "lid or video switch", "PC speaker", ... for OTHER */
  gboolean is_virtual;
  guint letter_keys; /* of KEY_A..KEY_Z */
  guint keys;        /* key codes below BTN_MISC */

  GPtrArray *by_id; /* names in /dev/input/by-id linking to the node, sorted */
  char *by_path;    /* name in /dev/input/by-path, or NULL */
  char *path;       /* stable host path: by-id, else by-path, else /dev/input/eventN */
  char *device_key; /* the physical device: phys without its last "/inputN" part */

  /* filled by the selection (vxm-input-set) */
  gboolean taken;
  gboolean primary;
  char *reason;
} VxmInputDevice;

VxmInputDevice *vxm_input_device_new(void);
void vxm_input_device_free(VxmInputDevice *device);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmInputDevice, vxm_input_device_free)

/* Reads /sys/class/input/@input (the links in /dev/input are added by the set). NULL with
 * NOT_FOUND when it is not an input device with an event node. */
VxmInputDevice *vxm_input_device_load(VxmHostfs *hostfs, const char *input,
                                      GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Sets kind, detail, is_virtual, letter_keys and keys from the bitmaps and ids. */
void vxm_input_device_classify(VxmInputDevice *device);

/* The host path vxm and QEMU open: the stable one. */
const char *vxm_input_device_get_path(const VxmInputDevice *device);
/* The best name for config files and messages: the first by-id name, else by-path, else eventN. */
const char *vxm_input_device_get_config_name(const VxmInputDevice *device);
/* TRUE when @name is one of its by-id names, its by-path name or its eventN. */
gboolean vxm_input_device_has_name(const VxmInputDevice *device, const char *name);

const char *vxm_input_kind_to_string(VxmInputKind kind);

/* {"event", "name", "kind", "detail", "path", "by_id": [...], "by_path", "phys", "uniq",
 *  "bustype", "vendor", "product", "version" (hex strings), "virtual", "taken", "primary",
 *  "reason"} */
JsonNode *vxm_input_device_to_json(const VxmInputDevice *device);

G_END_DECLS
