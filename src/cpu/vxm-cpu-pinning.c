/* vxm-cpu-pinning: pins a running QEMU's threads with sched_setaffinity. */
#include "vxm-cpu-pinning.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "common/vxm-error.h"
#include "common/vxm-hostfs.h"
#include "common/vxm-util.h"
#include "cpu/vxm-cpu-list.h"

static gint
compare_tids(gconstpointer a, gconstpointer b)
{
  gint ta = *(const gint *)a, tb = *(const gint *)b;
  return ta < tb ? -1 : (ta > tb ? 1 : 0);
}

GArray *
vxm_cpu_pinning_list_threads(GPid pid, GError **error)
{
  /* The real /proc: QEMU is a real process even under a simulated host root. */
  g_autofree char *dir = g_strdup_printf(VXM_HOST_PROC "/%d/task", (int)pid);
  g_autoptr(GDir) d = NULL;
  g_autoptr(GArray) tids = g_array_new(FALSE, FALSE, sizeof(gint));
  const char *name;

  d = g_dir_open(dir, 0, error);
  if (d == NULL) {
    g_prefix_error(error, "cannot list the threads of QEMU (pid %d): ", (int)pid);
    return NULL;
  }
  while ((name = g_dir_read_name(d)) != NULL) {
    gint64 tid;
    if (vxm_parse_int64(name, 10, &tid) && tid > 0 && tid <= G_MAXINT) {
      gint t = (gint)tid;
      g_array_append_val(tids, t);
    }
  }
  g_array_sort(tids, compare_tids);
  return g_steal_pointer(&tids);
}

static cpu_set_t *
cpu_set_from_list(const GArray *cpus, gsize *out_size)
{
  guint max = 0;
  cpu_set_t *set;

  for (guint i = 0; i < cpus->len; i++)
    max = MAX(max, g_array_index(cpus, guint, i));
  set = CPU_ALLOC(max + 1);
  *out_size = CPU_ALLOC_SIZE(max + 1);
  CPU_ZERO_S(*out_size, set);
  for (guint i = 0; i < cpus->len; i++)
    CPU_SET_S(g_array_index(cpus, guint, i), *out_size, set);
  return set;
}

static int
set_affinity(pid_t tid, const GArray *cpus)
{
  gsize size;
  cpu_set_t *set = cpu_set_from_list(cpus, &size);
  int r = sched_setaffinity(tid, size, set);
  int errsv = errno;

  CPU_FREE(set);
  return r == 0 ? 0 : errsv;
}

GArray *
vxm_cpu_pinning_get_affinity(pid_t tid, GError **error)
{
  g_autoptr(GArray) cpus = vxm_cpu_list_new();
  gsize size = CPU_ALLOC_SIZE(VXM_CPU_LIST_MAX);
  cpu_set_t *set = CPU_ALLOC(VXM_CPU_LIST_MAX);

  CPU_ZERO_S(size, set);
  if (sched_getaffinity(tid, size, set) != 0) {
    int errsv = errno;
    CPU_FREE(set);
    vxm_error_set_from_errno(error, errsv, "cannot read the CPU affinity of thread %d", (int)tid);
    return NULL;
  }
  for (guint c = 0; c < VXM_CPU_LIST_MAX; c++)
    if (CPU_ISSET_S(c, size, set))
      g_array_append_val(cpus, c);
  CPU_FREE(set);
  return g_steal_pointer(&cpus);
}

gboolean
vxm_cpu_pinning_apply(const VxmCpuPinningPlan *plan, GPid qemu_pid, const GArray *vcpu_thread_ids,
                      GError **error)
{
  g_autoptr(GArray) threads = NULL;
  g_autoptr(GHashTable) vcpu_tids = g_hash_table_new(NULL, NULL);

  if (!plan->pinned)
    return TRUE;
  if (vcpu_thread_ids->len != plan->vcpu_cpus->len) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "QEMU (pid %d) reports %u vCPU threads but the plan has %u vCPUs: the -smp "
                "topology and the pinning plan disagree",
                (int)qemu_pid, vcpu_thread_ids->len, plan->vcpu_cpus->len);
    return FALSE;
  }
  threads = vxm_cpu_pinning_list_threads(qemu_pid, error);
  if (threads == NULL)
    return FALSE;
  for (guint i = 0; i < vcpu_thread_ids->len; i++) {
    gint tid = g_array_index(vcpu_thread_ids, gint, i);
    if (bsearch(&tid, threads->data, threads->len, sizeof(gint), compare_tids) == NULL) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                  "vCPU %u's thread %d is not a thread of QEMU (pid %d): refusing to pin it", i,
                  tid, (int)qemu_pid);
      return FALSE;
    }
    g_hash_table_add(vcpu_tids, GINT_TO_POINTER(tid));
  }

  /* The main loop first, so threads it starts from now on inherit the emulator CPUs. */
  for (guint pass = 0; pass < 2; pass++) {
    for (guint i = 0; i < threads->len; i++) {
      gint tid = g_array_index(threads, gint, i);
      int errsv;
      if ((pass == 0) != (tid == (gint)qemu_pid) ||
          g_hash_table_contains(vcpu_tids, GINT_TO_POINTER(tid)))
        continue;
      errsv = set_affinity(tid, plan->emulator_cpus);
      if (errsv == ESRCH)
        continue; /* a worker thread that ended meanwhile */
      if (errsv != 0) {
        g_autofree char *cpus = vxm_cpu_list_format(plan->emulator_cpus);
        return vxm_error_set_from_errno(error, errsv,
                                        "cannot pin QEMU (pid %d) thread %d to CPUs %s",
                                        (int)qemu_pid, tid, cpus);
      }
    }
  }
  for (guint i = 0; i < vcpu_thread_ids->len; i++) {
    gint tid = g_array_index(vcpu_thread_ids, gint, i);
    guint cpu = g_array_index(plan->vcpu_cpus, guint, i);
    g_autoptr(GArray) one = vxm_cpu_list_new();
    int errsv;

    g_array_append_val(one, cpu);
    errsv = set_affinity(tid, one);
    if (errsv != 0)
      return vxm_error_set_from_errno(error, errsv,
                                      "cannot pin vCPU %u (thread %d of QEMU pid %d) to CPU %u", i,
                                      tid, (int)qemu_pid, cpu);
  }
  return TRUE;
}
