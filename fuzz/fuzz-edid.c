/* Fuzz target: the EDID parser on arbitrary bytes (a monitor, a cable or a sysfs file may
 * give anything), then everything derived from a parse. */
#include <stdint.h>

#include "display/vxm-edid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autoptr(VxmEdid) edid = vxm_edid_parse(data, size, NULL);

  if (edid != NULL) {
    g_autofree char *id = vxm_edid_identity(edid);
    g_autofree char *desc = vxm_edid_describe(edid);

    (void)vxm_edid_same_monitor(edid, edid);
    (void)vxm_edid_matches(edid, edid->manufacturer, edid->product_code, edid->serial_number);
  }
  return 0;
}
