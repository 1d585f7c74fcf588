/* vxm-cpu-pinning-plan: which host CPU runs each vCPU, where QEMU's other threads go, and the
 * -smp topology that matches, as a pure function of the host topology and the VM config.
 *
 * auto: the first host_cores cores (with their SMT siblings) stay with the host; the guest
 * gets whole cores with their siblings, from the guest GPU's NUMA node first, P cores before
 * E cores on hybrid CPUs, and from one L3 group when the cores fit in one (the group with
 * the most free cores, so the host's own cores are left alone). The guest sees cores of as
 * many threads as the host cores it runs on. An explicit list maps vCPU i to the i-th CPU.
 * QEMU's other threads (main loop, I/O, workers) run on every CPU no vCPU uses.
 * The plan is data: the argv builder takes its -smp, the supervisor applies it after QEMU
 * started paused, `vxm status` and `vxm start --dry-run` print it.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "cpu/vxm-cpu-topology.h"
#include "vm/vxm-vm-config.h"

G_BEGIN_DECLS

/* What the plan is asked for; vxm_cpu_pinning_request_from_config() fills it from a VM. */
typedef struct {
  VxmVmCpuPinning mode;   /* auto, off, list */
  const GArray *list;     /* LIST: guint host CPU per vCPU, in vCPU order */
  guint vcpus;            /* 0: auto */
  guint threads_per_core; /* 0: auto (the host cores' SMT width) */
  guint host_cores;       /* auto: cores kept for the host (at least 1) */
  gint gpu_node;          /* NUMA node of the guest GPU, -1 when unknown */
} VxmCpuPinningRequest;

void vxm_cpu_pinning_request_from_config(VxmCpuPinningRequest *request, const VxmVmConfig *config,
                                         gint gpu_node);

typedef struct {
  VxmVmCpuPinning mode; /* what was asked */
  gboolean pinned;      /* FALSE when cpu_pinning = off: only the topology below applies */
  guint vcpus;          /* sockets * cores * threads */
  guint sockets;        /* -smp */
  guint cores;
  guint threads;
  GArray *vcpu_cpus;     /* guint: host CPU of vCPU i (empty when not pinned) */
  GArray *emulator_cpus; /* guint, sorted: host CPUs for QEMU's other threads */
  GArray *host_cpus;     /* guint, sorted: CPUs kept for the host (auto), else not vCPUs */
  gint node;             /* NUMA node of every vCPU, -1 when several or unknown */
  gint l3;               /* L3 group of every vCPU, -1 when several or unknown */
  GPtrArray *notes;      /* char*: why, for dry-run and status */
} VxmCpuPinningPlan;

/* Plans pinning for @request on @topology. Errors (CONFIG) say what does not fit and what to
 * change: too many vCPUs for the free cores, a listed CPU that is not online, an odd vCPU
 * count for two-thread cores. */
VxmCpuPinningPlan *vxm_cpu_pinning_plan_new(VxmCpuTopology *topology,
                                            const VxmCpuPinningRequest *request,
                                            GError **error) G_GNUC_WARN_UNUSED_RESULT;
VxmCpuPinningPlan *vxm_cpu_pinning_plan_copy(const VxmCpuPinningPlan *plan);
void vxm_cpu_pinning_plan_free(VxmCpuPinningPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmCpuPinningPlan, vxm_cpu_pinning_plan_free)

/* Human text, one fact a line (the golden files under tests/data/pinning). */
char *vxm_cpu_pinning_plan_to_string(const VxmCpuPinningPlan *plan);
/* {"pinned", "vcpus", "sockets", "cores", "threads", "vcpu_cpus": [..], "emulator_cpus": "0-1",
 *  "host_cpus": "0-1", "numa_node": 1|null, "l3_group": 0|null, "notes": [..]} */
JsonNode *vxm_cpu_pinning_plan_to_json(const VxmCpuPinningPlan *plan);
/* Back from _to_json() (the supervisor plan carries it to the background supervisor). */
VxmCpuPinningPlan *vxm_cpu_pinning_plan_from_json(JsonNode *node,
                                                  GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
