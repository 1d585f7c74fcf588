/* vxm-sim-hugepages: hugepage pools, global and per NUMA node, with fragmentation.
 *
 * Reads [hugepages]. Serves /sys/kernel/mm/hugepages/hugepages-SIZEkB/ (nr, free, resv, surplus),
 * /sys/devices/system/node/{online,possible,nodeN/cpulist,nodeN/hugepages/...},
 * /proc/sys/vm/{nr_hugepages,nr_overcommit_hugepages,compact_memory,drop_caches} and the
 * HugePages lines of /proc/meminfo. Each node has, per page size, a limit of pages that can
 * be obtained now (fragmentation); a reservation above it gets only that many, as the
 * kernel's does, and reading back shows what was obtained. Writing 1 to compact_memory
 * raises every limit to its compacted value. The host lock is held by callers.
 */
#pragma once

#include "vxm-sim-host.h"

G_BEGIN_DECLS

VxmSimHugepages *vxm_sim_hugepages_new(VxmSimHost *host, VxmSimMachine *machine,
                                       guint64 mem_total_kib, guint cpus,
                                       GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_sim_hugepages_free(VxmSimHugepages *hp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmSimHugepages, vxm_sim_hugepages_free)

/* "hugepages 2048kB node0 nr=512" lines; limits are not state (compaction lasts). */
void vxm_sim_hugepages_dump_state(VxmSimHugepages *hp, GPtrArray *lines);

/* The HugePages_* and Hugepagesize lines of /proc/meminfo, and the Hugetlb total. */
void vxm_sim_hugepages_meminfo(VxmSimHugepages *hp, GString *out);

G_END_DECLS
