/* Fuzz target: what a QEMU binary prints to the capability probe. The input is the QMP
 * session's output, a NUL, then `-audiodev help`'s output; the parsed caps are then written
 * as cache JSON and read back, as the cache does. */
#include <stdint.h>
#include <string.h>

#include "vm/vxm-qemu-caps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const uint8_t *nul = memchr(data, '\0', size);
  g_autofree char *qmp = g_strndup((const char *)data, nul != NULL ? (gsize)(nul - data) : size);
  g_autofree char *audio =
      nul != NULL ? g_strndup((const char *)nul + 1, size - (gsize)(nul - data) - 1) : NULL;
  g_autoptr(VxmQemuCaps) caps = vxm_qemu_caps_parse(qmp, audio, NULL);
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(VxmQemuCaps) back = NULL;

  if (caps == NULL)
    return 0;
  caps->binary = g_strdup("/fuzz/qemu");
  (void)vxm_qemu_caps_resolve_machine(caps, "q35");
  (void)vxm_qemu_caps_version_at_least(caps, 7, 2);
  node = vxm_qemu_caps_to_json(caps);
  back = vxm_qemu_caps_from_json(node, NULL);
  g_assert(back != NULL);
  g_assert(g_hash_table_size(back->types) == g_hash_table_size(caps->types));
  return 0;
}
