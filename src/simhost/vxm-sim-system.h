/* vxm-sim-system: the [machine] group and the host's plain parts.
 *
 * /proc/cmdline, /proc/meminfo, /proc/cpuinfo, /dev/kvm and /sys/module/kvm* (with kvm's
 * ignore_msrs and report_ignored_msrs), /dev/nvidia0
 * and /dev/nvidiactl, /dev/null, the writable in-memory /run, /etc and /dev/shm (seeded by
 * [file PATH] groups), and /usr/share passed through read-only from a real folder.
 */
#pragma once

#include "vxm-sim-host.h"

G_BEGIN_DECLS

VxmSimSystem *vxm_sim_system_new(VxmSimHost *host, VxmSimMachine *machine,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_sim_system_free(VxmSimSystem *system);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmSimSystem, vxm_sim_system_free)

gboolean vxm_sim_system_iommu(VxmSimSystem *system);
const char *vxm_sim_system_description(VxmSimSystem *system);
guint64 vxm_sim_system_mem_total_kib(VxmSimSystem *system);
guint vxm_sim_system_cpus(VxmSimSystem *system);

/* A bool module parameter (/sys/module/M/parameters/P, param_ops_bool): reads Y or N; root
 * writes what kstrtobool takes (y/Y/t/T/1, n/N/f/F/0, on, off), else EINVAL. @value is the
 * caller's and must outlive the node. */
VxmSimNode *vxm_sim_bool_param_new(VxmSimHost *host, gboolean *value);

G_END_DECLS
