#include "vxm-journal-kinds.h"

#include "pci/vxm-vfio.h"

void
vxm_journal_register_all_kinds(void)
{
  vxm_vfio_register_journal_kinds(); /* "pci-bind" */
}
