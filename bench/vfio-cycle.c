/* bench/vfio-cycle: time of the binding engine on the simulated workstation, in process
 * (no exec, no pci.ids parse per run): detach and reattach of the Turing card's four
 * functions, N rounds; prints the median and the range of each.
 * Usage (as root): bench-vfio-cycle [ROUNDS] */
#include <stdio.h>
#include <stdlib.h>

#include "journal/vxm-journal.h"
#include "pci/vxm-gpu.h"
#include "pci/vxm-vfio.h"
#include "vxm-simhost-fixture.h"

static int
compare_doubles(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void
report(const char *what, double *ms, int n)
{
  qsort(ms, n, sizeof *ms, compare_doubles);
  printf("%-9s median %6.1f ms  (min %.1f, max %.1f, %d rounds)\n", what, ms[n / 2], ms[0],
         ms[n - 1], n);
}

int
main(int argc, char **argv)
{
  int rounds = argc > 1 ? atoi(argv[1]) : 20;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmSimhost) sim = vxm_simhost_start("intel-nvidia-turing", &error);
  g_autoptr(VxmHostfs) fs = NULL;
  g_autofree double *detach = NULL;
  g_autofree double *reattach = NULL;

  if (sim == NULL || rounds < 1) {
    fprintf(stderr, "bench-vfio-cycle: %s\n", error != NULL ? error->message : "bad rounds");
    return 1;
  }
  detach = g_new(double, rounds);
  reattach = g_new(double, rounds);
  fs = vxm_hostfs_new(vxm_simhost_root(sim));
  for (int i = 0; i < rounds; i++) {
    g_autoptr(VxmGpu) gpu = vxm_gpu_find(fs, "01:00.0", &error);
    g_autoptr(VxmJournal) journal = gpu != NULL ? vxm_journal_new(fs, "bench", &error) : NULL;
    gint64 t0, t1, t2;

    if (journal == NULL)
      break;
    t0 = g_get_monotonic_time();
    if (!vxm_vfio_detach_group(fs, gpu, journal, NULL, NULL, &error))
      break;
    t1 = g_get_monotonic_time();
    if (!vxm_vfio_reattach_group(fs, journal, NULL, NULL, &error))
      break;
    t2 = g_get_monotonic_time();
    detach[i] = (t1 - t0) / 1000.0;
    reattach[i] = (t2 - t1) / 1000.0;
  }
  if (error != NULL) {
    fprintf(stderr, "bench-vfio-cycle: %s\n", error->message);
    return 1;
  }
  printf("4 functions, 12 sysfs writes and 8-9 journal writes each way\n");
  report("detach", detach, rounds);
  report("reattach", reattach, rounds);
  return 0;
}
