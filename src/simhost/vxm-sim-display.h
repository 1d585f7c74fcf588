/* vxm-sim-display: DRM connectors, their monitors, and the I2C buses that carry DDC.
 *
 * Reads [monitor NAME] and [connector cardN-NAME] groups. While a card's DRM node exists (its
 * GPU bound to a DRM driver), serves its connectors under the card's sysfs folder
 * (status, enabled, edid, and a `ddc` link or, for DisplayPort, an i2c-N folder), the I2C
 * adapters (/sys/class/i2c-dev/i2c-N with name and device, /sys/bus/i2c/devices) and
 * /dev/i2c-N, which answers I2C_SLAVE and DDC/CI like the monitor on the other end: the EDID
 * at 0x50, Set VCP 0x60 changing its input, Get VCP replies with checksums, the spec's timing
 * (a reply read too soon, or a command during the monitor's busy time after Set VCP, is a
 * NAK: EIO), and faults set through .simhost/ddc (NAK, bad checksum, null reply, silence).
 * A monitor cabled to two GPUs is one monitor: its input is shared. The host lock is held by
 * callers.
 */
#pragma once

#include "vxm-sim-host.h"

G_BEGIN_DECLS

typedef struct _VxmSimDisplay VxmSimDisplay;

VxmSimDisplay *vxm_sim_display_new(VxmSimHost *host, VxmSimMachine *machine,
                                   GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_sim_display_free(VxmSimDisplay *display);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmSimDisplay, vxm_sim_display_free)

/* Called by the PCI area when a card's DRM folder appears (@card_dir, its sysfs path) or goes. */
void vxm_sim_display_card_added(VxmSimDisplay *display, const char *card, const char *card_dir);
void vxm_sim_display_card_removed(VxmSimDisplay *display, const char *card);

/* "monitor NAME input=0x11" lines. */
void vxm_sim_display_dump_state(VxmSimDisplay *display, GPtrArray *lines);

G_END_DECLS
