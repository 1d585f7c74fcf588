#include "vxm-journal-kinds.h"

#include "display/vxm-display.h"
#include "input/vxm-input-access.h"
#include "pci/vxm-vfio.h"

void
vxm_journal_register_all_kinds(void)
{
  vxm_vfio_register_journal_kinds();       /* "pci-bind" */
  vxm_device_node_register_journal_kind(); /* "device-node-owner" */
  vxm_display_register_journal_kinds();    /* "monitor-input" */
}
