/* vxm-sim-input: evdev input devices of the simulated host.
 *
 * Reads [input NAME] groups (tests/simhost/README.md). For each plugged device it serves
 * /sys/class/input/inputN (name, phys, uniq, properties, id/, capabilities/ exactly as the
 * machine file gives the kernel's bitmaps, eventN/dev, uevent) with its class links,
 * /dev/input/eventN (root:input 0660) and the by-id and by-path links udev makes.
 *
 * /dev/input/eventN behaves as evdev for QEMU's input-linux and for vxm: EVIOCGVERSION,
 * EVIOCGID, EVIOCGNAME/PHYS/UNIQ, EVIOCGPROP, EVIOCGBIT, EVIOCGKEY (the keys held now),
 * EVIOCGLED/SND/SW, EVIOCGABS, EVIOCSCLOCKID and EVIOCGRAB (one grabbing client; events go
 * only to it while it holds the grab, as the kernel does). Each open file has its own queue
 * of struct input_event (24 bytes); a read takes whole events, EAGAIN when empty and
 * O_NONBLOCK, else waits; poll wakes the reader (FUSE poll notifications). Unplug (the
 * control file) makes every open file fail with ENODEV and poll HUP|ERR, removes the node,
 * the sysfs folder and the links; replug brings a fresh device (root's again, no grab).
 * The by-id and by-path links come and go through the mount itself
 * (vxm_sim_host_announce_link), so inotify on those folders sees them as it would see udev.
 *
 * Control file .simhost/input, one command a line:
 *   NAME CODE VALUE[, CODE VALUE...]  events (KEY_LEFTCTRL 1, BTN_LEFT 0, REL_X -5, or
 *                                     TYPE:CODE VALUE in numbers), then SYN_REPORT
 *   unplug NAME | replug NAME [eventN]  a replug comes back as the same eventN, or as the
 *                                     one given (real kernels often give a new number;
 *                                     the by-id and by-path links then lead to it)
 * Reading it shows each device's line of the state dump.
 *
 * State dump: "input NAME eventN plugged|unplugged grab=COMM|none clients=N".
 * Log: "ioctl /dev/input/eventN EVIOCGRAB 1 -> ok", "event /dev/input/eventN KEY_LEFTCTRL 1",
 * "unplug /dev/input/eventN NAME", "replug /dev/input/eventN NAME" (the node it came back as).
 */
#pragma once

#include "vxm-sim-host.h"

G_BEGIN_DECLS

VxmSimInput *vxm_sim_input_new(VxmSimHost *host, VxmSimMachine *machine,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_sim_input_free(VxmSimInput *input);

/* Adds .simhost/input (after the host's control folder exists). Lock held. */
void vxm_sim_input_add_control(VxmSimInput *input);

void vxm_sim_input_dump_state(VxmSimInput *input, GPtrArray *lines);

/* Unplugs or replugs device NAME: 0 or -ENOENT (no such device), -EALREADY; a replug with
 * @event >= 0 comes back as /dev/input/eventEVENT (-EBUSY when a plugged device has it), else
 * as the number it had. Lock held; the by-id links follow after the lock is let go
 * (deferred). */
int vxm_sim_input_unplug(VxmSimInput *input, const char *name);
int vxm_sim_input_replug(VxmSimInput *input, const char *name, gint event);

G_END_DECLS
