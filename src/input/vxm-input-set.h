/* vxm-input-set: the host's input devices and which of them a VM takes.
 *
 * Discovery lists /sys/class/input/inputN folders with an event node, classifies each (see
 * vxm-input-device.h) and gives it a stable path: a /dev/input/by-id link when one names the
 * node (the first in sort order), else its by-path link, else /dev/input/eventN.
 *
 * Selection, for a VM's [input] inputs:
 *   auto (NULL)  every keyboard and mouse that is not virtual; touchpads are listed but not
 *                taken (QEMU turns a touchpad into an absolute pointer: name it to take it)
 *   a list       exactly the devices named (by-id name, by-path name or eventN), whatever
 *                their kind; names not present go to @missing
 *   empty list   nothing
 * The primary keyboard (grab_all=on, where Ctrl+Ctrl switches everything) is, among the taken
 * keyboards, the one with the most letter keys; on a tie one that is not a later interface
 * (phys ".../input1" and up) of a device with a mouse interface, so a gaming mouse's keyboard
 * interface is a secondary keyboard while a gaming keyboard with a mouse interface stays
 * primary; then the one with the most keys; then the first stable path. Every node is
 * classified on its own, so a device with several interfaces gives several objects.
 */
#pragma once

#include "input/vxm-input-device.h"
#include "input/vxm-input-object.h"

G_BEGIN_DECLS

typedef struct {
  GPtrArray *devices; /* VxmInputDevice, by event number */
  GPtrArray *missing; /* configured names that no device has (strings) */
} VxmInputSet;

VxmInputSet *vxm_input_set_discover(VxmHostfs *hostfs, GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_input_set_free(VxmInputSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmInputSet, vxm_input_set_free)

/* Marks taken, primary and reason on every device for @names (NULL: auto). */
void vxm_input_set_select(VxmInputSet *set, const char *const *names);

VxmInputDevice *vxm_input_set_find(VxmInputSet *set, const char *name);

/* Appends the taken devices to @inputs (VxmHostInput, freed with vxm_host_input_free(): the
 * host facts' inputs), each with its stable path as a local path under the host root (what
 * QEMU opens): keyboards first (primary first), then pointers. */
void vxm_input_set_add_inputs(VxmInputSet *set, VxmHostfs *hostfs, GPtrArray *inputs);

/* [device, ...] as vxm_input_device_to_json(). */
JsonNode *vxm_input_set_to_json(VxmInputSet *set);

G_END_DECLS
