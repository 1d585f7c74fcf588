/* vxm-dmi-identity: the host's DMI identity (/sys/class/dmi/id), which a VM with
 * `smbios = host` passes through as SMBIOS. The serials and the UUID are root-only on a real
 * host, which is why an unprivileged vxm asks vxmd for them. */
#pragma once

#include <json-glib/json-glib.h>

#include "common/vxm-hostfs.h"

G_BEGIN_DECLS

/* The field names read, NULL-terminated (sys_vendor, product_name, ..., bios_date): every
 * field -smbios type=0, 1 and 2 takes, and the chassis'. */
const char *const *vxm_dmi_identity_fields(void);

/* {"sys_vendor": "...", ...}: a missing or unreadable field is null. Never fails. */
JsonNode *vxm_dmi_identity_read(VxmHostfs *hostfs);

G_END_DECLS
