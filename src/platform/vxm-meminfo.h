/* vxm-meminfo: values of /proc/meminfo (under the host root), the one reader of it. */
#pragma once

#include "common/vxm-hostfs.h"

G_BEGIN_DECLS

/* @key's value ("MemTotal", "MemAvailable") in @meminfo's text, in bytes; FALSE when absent or
 * not a number. */
gboolean vxm_meminfo_parse(const char *meminfo, const char *key, guint64 *out_bytes);

/* The same, read from the host's /proc/meminfo; an error names the file and the key. */
gboolean vxm_meminfo_read(VxmHostfs *hostfs, const char *key, guint64 *out_bytes,
                          GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
