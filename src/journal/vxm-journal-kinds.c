#include "vxm-journal-kinds.h"

#include "memory/vxm-hugepages.h"
#include "memory/vxm-looking-glass.h"
#include "input/vxm-input-access.h"
#include "pci/vxm-vfio.h"

void
vxm_journal_register_all_kinds(void)
{
  vxm_vfio_register_journal_kinds();         /* "pci-bind" */
  vxm_hugepages_register_journal_kind();     /* "hugepages" */
  vxm_looking_glass_register_journal_kind(); /* "looking-glass" */
  vxm_device_node_register_journal_kind();   /* "device-node-owner" */
}
