/* vxm-cpu-pinning: applies a pinning plan to a running QEMU.
 *
 * QEMU is started paused (-S); the supervisor asks QMP query-cpus-fast for each vCPU's
 * thread id, then pins each vCPU thread to its host CPU and every other thread of the process
 * (main loop, I/O threads, workers, read from /proc/PID/task) to the plan's emulator CPUs,
 * and only then sends cont: the guest never runs unpinned. Threads QEMU starts later inherit
 * the affinity of the thread that creates them (the main loop), so they land on the emulator
 * CPUs too.
 *
 * The QEMU process is real even when the host root is simulated, so its threads are read from
 * this machine's /proc, not from under --root.
 */
#pragma once

#include <sys/types.h>

#include "cpu/vxm-cpu-pinning-plan.h"

G_BEGIN_DECLS

/* Pins @qemu_pid's threads per @plan. @vcpu_thread_ids: gint thread id of vCPU i, in vCPU
 * order (QMP query-cpus-fast "thread-id"); each must be a thread of @qemu_pid. The caller is
 * QEMU's parent and has not reaped it, so the pid cannot be recycled meanwhile. A plan that is
 * not pinned does nothing. */
gboolean vxm_cpu_pinning_apply(const VxmCpuPinningPlan *plan, GPid qemu_pid,
                               const GArray *vcpu_thread_ids,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The CPUs thread @tid may run on (sched_getaffinity), sorted. */
GArray *vxm_cpu_pinning_get_affinity(pid_t tid, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Thread ids of process @pid (from /proc/PID/task), sorted. */
GArray *vxm_cpu_pinning_list_threads(GPid pid, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
