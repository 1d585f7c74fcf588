/* vxm-cpu-topology: the host's CPUs as sysfs describes them, under the host root.
 *
 * Online logical CPUs grouped into cores (SMT siblings), with their package, NUMA node, L3
 * cache group (an AMD CCD/CCX, or the whole package on most Intel parts) and core type on
 * hybrid Intel CPUs (P cores listed by the cpu_core PMU, E cores by cpu_atom). Read once;
 * the pinning plan is computed from it without touching the host again.
 */
#pragma once

#include "common/vxm-hostfs.h"

G_BEGIN_DECLS

typedef enum {
  VXM_CPU_CORE_TYPE_UNKNOWN,     /* not a hybrid CPU: every core is alike */
  VXM_CPU_CORE_TYPE_PERFORMANCE, /* a hybrid CPU's P core */
  VXM_CPU_CORE_TYPE_EFFICIENCY,  /* a hybrid CPU's E core */
} VxmCpuCoreType;

typedef struct {
  guint index;         /* position in the topology's cores, in order of first CPU */
  gint package;        /* physical_package_id */
  gint core_id;        /* core_id (unique within a package only) */
  gint node;           /* NUMA node, -1 when unknown */
  gint l3;             /* index of its L3 group, -1 when sysfs shows no L3 */
  VxmCpuCoreType type; /* P or E on hybrid CPUs */
  GArray *cpus;        /* online logical CPUs of this core (its SMT siblings), sorted */
} VxmCpuCore;

typedef struct {
  guint index;
  GArray *cpus; /* online CPUs sharing this L3, sorted */
} VxmCpuCache;

typedef struct _VxmCpuTopology VxmCpuTopology;

/* Reads VXM_HOST_SYS_CPUS (online, cpuN/topology, cpuN/cache), VXM_HOST_SYS_NODES (nodeN/cpulist)
 * and the hybrid PMUs' cpus. Missing optional parts (caches, nodes, PMUs) leave the fields
 * unknown; a missing online list or topology is an error naming the file. */
VxmCpuTopology *vxm_cpu_topology_read(VxmHostfs *hostfs, GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_cpu_topology_free(VxmCpuTopology *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmCpuTopology, vxm_cpu_topology_free)

/* Online logical CPUs, sorted. */
const GArray *vxm_cpu_topology_get_online(VxmCpuTopology *self);
/* Cores (VxmCpuCore), in order of their first CPU. */
guint vxm_cpu_topology_get_n_cores(VxmCpuTopology *self);
const VxmCpuCore *vxm_cpu_topology_get_core(VxmCpuTopology *self, guint index);
/* The core holding logical CPU @cpu, or NULL when @cpu is not online. */
const VxmCpuCore *vxm_cpu_topology_get_core_of_cpu(VxmCpuTopology *self, guint cpu);
/* L3 groups (VxmCpuCache), in order of their first CPU. */
guint vxm_cpu_topology_get_n_l3(VxmCpuTopology *self);
const VxmCpuCache *vxm_cpu_topology_get_l3(VxmCpuTopology *self, guint index);
/* NUMA nodes that hold online CPUs, sorted. */
const GArray *vxm_cpu_topology_get_nodes(VxmCpuTopology *self);
guint vxm_cpu_topology_get_n_packages(VxmCpuTopology *self);
/* TRUE on a hybrid CPU (P and E cores). */
gboolean vxm_cpu_topology_is_hybrid(VxmCpuTopology *self);

const char *vxm_cpu_core_type_to_string(VxmCpuCoreType type);

/* A short description: "12 CPUs in 6 cores (2 threads each), 1 package, 1 L3 group, 1 node". */
char *vxm_cpu_topology_describe(VxmCpuTopology *self);

G_END_DECLS
