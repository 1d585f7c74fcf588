#include "vxm-journal-kinds.h"

#include "display/vxm-display.h"
#include "input/vxm-input-access.h"
#include "memory/vxm-hugepages.h"
#include "memory/vxm-looking-glass.h"
#include "pci/vxm-vfio.h"
#include "platform/vxm-kernel-module.h"

void
vxm_journal_register_all_kinds(void)
{
  vxm_vfio_register_journal_kinds();         /* "pci-bind" */
  vxm_hugepages_register_journal_kind();     /* "hugepages" */
  vxm_looking_glass_register_journal_kind(); /* "looking-glass" */
  vxm_device_node_register_journal_kind();   /* "device-node-owner" */
  vxm_display_register_journal_kinds();      /* "monitor-input" */
  vxm_kernel_module_register_journal_kind(); /* "kernel-module" */
}
