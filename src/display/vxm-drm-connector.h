/* vxm-drm-connector: the display connectors the host's DRM drivers expose, with their monitor.
 *
 * From /sys/class/drm (through the host root): every connector cardN-NAME, its status, the GPU
 * it belongs to (the PCI device above cardN), the EDID of what is plugged in, and the I2C bus
 * that carries DDC to it: the `ddc` link (HDMI, DVI, VGA), an `i2c-N` folder (DisplayPort's
 * AUX channel), else the bus under the same GPU whose EDID at 0x50 is the connector's (which
 * needs root to read /dev/i2c-N). Everything but that last match works without privileges.
 * Monitors are known by their EDID (manufacturer, product, serial), never by bus number,
 * which changes between boots.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "common/vxm-hostfs.h"
#include "display/vxm-edid.h"

G_BEGIN_DECLS

typedef enum {
  VXM_DRM_DDC_NONE,       /* no bus known */
  VXM_DRM_DDC_LINK,       /* the connector's `ddc` link */
  VXM_DRM_DDC_AUX,        /* an i2c-N folder in the connector (DisplayPort AUX) */
  VXM_DRM_DDC_EDID_MATCH, /* the bus whose EDID at 0x50 matched */
} VxmDrmDdcSource;

typedef struct {
  char *name;         /* "card1-DP-1" */
  char *card;         /* "card1" */
  char *connector;    /* "DP-1" */
  char *gpu;          /* "0000:01:00.0", or NULL when the card has no PCI device */
  char *status;       /* "connected", "disconnected", "unknown" */
  GBytes *edid_bytes; /* the sysfs edid, NULL when empty */
  VxmEdid *edid;      /* parsed, NULL when none or unreadable */
  gint i2c_bus;       /* -1 when not known */
  VxmDrmDdcSource ddc_source;
} VxmDrmConnector;

void vxm_drm_connector_free(VxmDrmConnector *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmDrmConnector, vxm_drm_connector_free)

/* One connector by name ("card1-DP-1"). */
VxmDrmConnector *vxm_drm_connector_load(VxmHostfs *hostfs, const char *name,
                                        GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Every connector, sorted by name. An absent /sys/class/drm is an empty list. */
GPtrArray *vxm_drm_connector_list(VxmHostfs *hostfs, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* For connected connectors with an EDID but no bus: reads the EDID at 0x50 of each I2C bus of
 * the same GPU and takes the one that matches byte for byte. Buses that cannot be read (no
 * privileges, busy) are skipped. */
void vxm_drm_connector_match_buses(VxmHostfs *hostfs, GPtrArray *connectors);

/* TRUE when a monitor is plugged in (status connected with an EDID). */
gboolean vxm_drm_connector_has_monitor(const VxmDrmConnector *self);

/* The bus an I2C adapter belongs to: the PCI address in the adapter's sysfs path, or NULL. */
char *vxm_drm_i2c_bus_gpu(VxmHostfs *hostfs, guint bus);

/* "link", "aux", "edid-match" or NULL. */
const char *vxm_drm_ddc_source_to_string(VxmDrmDdcSource source);

/* {"connector", "gpu", "status", "i2c_bus", "edid": {...} | null} (vxm monitors --json). */
JsonNode *vxm_drm_connector_to_json(const VxmDrmConnector *self);

G_END_DECLS
