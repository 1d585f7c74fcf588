#include "vxm-meminfo.h"

#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"

gboolean
vxm_meminfo_parse(const char *meminfo, const char *key, guint64 *out_bytes)
{
  gsize key_len = strlen(key);

  for (const char *line = meminfo; line != NULL && *line != '\0';) {
    const char *end = strchr(line, '\n');

    if (strncmp(line, key, key_len) == 0 && line[key_len] == ':') {
      const char *start = line + key_len + 1;
      g_autofree char *value =
          end != NULL ? g_strndup(start, (gsize)(end - start)) : g_strdup(start);
      g_auto(GStrv) fields = g_strsplit_set(g_strstrip(value), " \t", 2);
      guint64 kib;

      /* "MemTotal:       32768000 kB" */
      if (fields[0] == NULL || !vxm_parse_uint64(fields[0], 10, &kib) || kib > G_MAXUINT64 / 1024)
        return FALSE;
      *out_bytes = kib * 1024;
      return TRUE;
    }
    line = end != NULL ? end + 1 : NULL;
  }
  return FALSE;
}

gboolean
vxm_meminfo_read(VxmHostfs *hostfs, const char *key, guint64 *out_bytes, GError **error)
{
  g_autofree char *text = NULL;

  if (!vxm_hostfs_read_file(hostfs, VXM_HOST_PROC_MEMINFO, &text, NULL, error))
    return FALSE;
  if (vxm_meminfo_parse(text, key, out_bytes))
    return TRUE;
  g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND, "%s has no %s line", VXM_HOST_PROC_MEMINFO,
              key);
  return FALSE;
}
