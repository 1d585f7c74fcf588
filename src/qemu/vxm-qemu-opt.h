/* vxm-qemu-opt: QEMU's option syntax, for every area that writes a QEMU option or property
 * (the argv builder, the input objects). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "a,b" -> "a,,b": a value QEMU's option parser takes back as "a,b". */
char *vxm_qemu_escape_opt(const char *value);

G_END_DECLS
