/* Fuzz target: a QEMU firmware descriptor (JSON from /usr/share/qemu/firmware or a user's
 * folder), parsed and then asked what selection asks. */
#include <stdint.h>

#include "vm/vxm-firmware-descriptor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autoptr(VxmFirmwareDescriptor) desc =
      vxm_firmware_descriptor_parse("fuzz.json", "/fuzz.json", (const char *)data, size, NULL);

  if (desc == NULL)
    return 0;
  (void)vxm_firmware_descriptor_has_interface(desc, "uefi");
  (void)vxm_firmware_descriptor_has_feature(desc, "secure-boot");
  (void)vxm_firmware_descriptor_supports(desc, "x86_64", NULL);
  (void)vxm_firmware_descriptor_supports(desc, "x86_64", "pc-q35-7.2");
  return 0;
}
