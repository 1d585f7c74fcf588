/* vxm-sim-block: the host's block devices and mounts, as vxm reads them to know which PCI
 * devices hold its disks ([block NAME] and [mount PATH] groups of the machine file).
 *
 * A disk sits in its controller's sysfs folder (/sys/devices/.../0000:02:00.0/nvme/nvme0/
 * nvme0n1), a partition in its disk's, a device-mapper or md device in
 * /sys/devices/virtual/block with links to the devices below it in slaves/ (and back in their
 * holders/). Served: each folder's dev (MAJ:MIN), partition, size, slaves and holders; the
 * links /sys/block/NAME (disks and virtual devices), /sys/class/block/NAME and
 * /sys/dev/block/MAJ:MIN; /dev/NAME, /dev/mapper/DM_NAME, /dev/disk/by-id and by-uuid; and
 * /proc/self/mountinfo with one line per [mount] group, in file order. Static: nothing here
 * changes while the machine runs.
 */
#pragma once

#include "vxm-sim-host.h"

G_BEGIN_DECLS

typedef struct _VxmSimBlock VxmSimBlock;

VxmSimBlock *vxm_sim_block_new(VxmSimHost *host, VxmSimMachine *machine,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_sim_block_free(VxmSimBlock *block);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmSimBlock, vxm_sim_block_free)

G_END_DECLS
