/* Fuzz target: a VM config file (VxmVmConfig) parsed and validated from arbitrary bytes. A
 * config that loads is then edited through --set/--unset's line editor and must load again
 * with the same values: edits never produce a file vxm itself would refuse. */
#include <stdint.h>
#include <string.h>

#include "vm/vxm-vm-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autoptr(VxmVmConfig) config = NULL;
  g_autoptr(VxmVmConfig) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  const VxmVmConfigKey *keys = vxm_vm_config_keys();

  if (size > 64 * 1024)
    return 0;
  config = vxm_vm_config_load_data("fuzz", "/fuzz.conf", (const char *)data, size, &error);
  if (config == NULL) {
    g_assert(error != NULL && error->message != NULL);
    return 0;
  }
  /* keys can be set back to their default and unset again (a fifth of them per input) */
  for (gsize i = 0; keys[i].group != NULL; i++) {
    g_autofree char *spec = NULL;
    g_autoptr(GError) local = NULL;

    if (i % 5 != size % 5)
      continue;
    spec = g_strdup_printf("%s.%s", keys[i].group, keys[i].key);
    if (!vxm_vm_config_set(config, spec, keys[i].default_value, &local)) {
      /* only a cross-key rule may refuse a default */
      g_assert(local != NULL);
      continue;
    }
    g_clear_error(&local);
    if (!vxm_vm_config_unset(config, spec, &local))
      g_assert(local != NULL);
  }
  text = vxm_vm_config_to_data(config, NULL);
  again = vxm_vm_config_load_data("fuzz", "/fuzz.conf", text, strlen(text), &error);
  g_assert(again != NULL);
  g_assert(again->memory_bytes == config->memory_bytes);
  g_assert(again->vcpus == config->vcpus);
  g_assert(g_strcmp0(again->gpu, config->gpu) == 0);
  g_assert(g_strcmp0(again->mac, config->mac) == 0);
  return 0;
}
