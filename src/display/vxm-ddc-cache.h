/* vxm-ddc-cache: which I2C bus reaches which monitor, remembered between runs.
 *
 * Finding a monitor's bus costs a walk of /sys/class/drm, maybe EDID reads on every bus, and a
 * Get VCP to see that DDC/CI answers; with the answer cached, a switch is one write. The cache
 * is $XDG_CACHE_HOME/vxm/ddc-cache.json, per host root and monitor identity (EDID
 * "MFG:PRODUCT:SERIAL"): the bus, the connector it was found on and how. It is a hint, never
 * trusted: the caller validates an entry cheaply (the connector's sysfs EDID, or the bus's
 * EDID at 0x50) before using it, and rescans when it no longer holds. A missing or damaged
 * file is an empty cache.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint bus;
  char *connector; /* "card0-HDMI-A-1" */
  char *source;    /* "link", "aux", "edid-match" */
} VxmDdcCacheEntry;

typedef struct _VxmDdcCache VxmDdcCache;

/* Reads the cache file (absent or unreadable: empty). */
VxmDdcCache *vxm_ddc_cache_load(const char *root);
void vxm_ddc_cache_free(VxmDdcCache *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmDdcCache, vxm_ddc_cache_free)

/* $XDG_CACHE_HOME/vxm/ddc-cache.json */
char *vxm_ddc_cache_path(void);

/* The entry for @identity under this cache's root, or NULL. */
const VxmDdcCacheEntry *vxm_ddc_cache_lookup(VxmDdcCache *self, const char *identity);
void vxm_ddc_cache_store(VxmDdcCache *self, const char *identity, guint bus, const char *connector,
                         const char *source);
void vxm_ddc_cache_forget(VxmDdcCache *self, const char *identity);

/* Writes the file atomically when something changed. */
gboolean vxm_ddc_cache_save(VxmDdcCache *self, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
