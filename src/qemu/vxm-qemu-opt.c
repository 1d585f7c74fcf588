/* vxm-qemu-opt: QEMU's option syntax (see the header). */
#include "vxm-qemu-opt.h"

#include <string.h>

char *
vxm_qemu_escape_opt(const char *value)
{
  GString *out = g_string_sized_new(strlen(value) + 4);

  for (const char *p = value; *p != '\0'; p++) {
    if (*p == ',')
      g_string_append_c(out, ',');
    g_string_append_c(out, *p);
  }
  return g_string_free(out, FALSE);
}
