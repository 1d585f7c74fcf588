/* vxm-vm-resolve: the step that turns every "auto" of a VM config into a value from the host
 * (memory from meminfo, CPUs from sysfs) and the VM's paths, into config->resolved. A decision,
 * so it lives with the start planner (which calls it) above the CPU list parser it uses; the
 * config itself keeps only what the user wrote. */
#pragma once

#include "common/vxm-hostfs.h"
#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-paths.h"

G_BEGIN_DECLS

/* Resolves every auto from the host (memory from meminfo, CPUs from sysfs) and the paths. */
gboolean vxm_vm_config_resolve(VxmVmConfig *config, VxmHostfs *hostfs, const VxmVmPaths *paths,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
