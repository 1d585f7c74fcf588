/* bench/qemu-caps-probe: how long asking QEMU for its capabilities takes, three ways.
 *   qmp+audiodev  what vxm does: one QMP session and `-audiodev help`, side by side
 *   help-serial   the five `-X help` / --version runs one after another
 *   help-parallel the same five at once
 *   cache-hit     vxm_qemu_caps_get() with a warm cache (a stat and a JSON read)
 * Prints the median of N runs (default 11) of each. */
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>

#include "vm/vxm-qemu-caps.h"

static int
compare_doubles(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, compare_doubles);
  return v[n / 2];
}

static void
run_help(const char *qemu, gboolean parallel)
{
  const char *const args[][3] = {{"-machine", "help", NULL},
                                 {"-device", "help", NULL},
                                 {"-audiodev", "help", NULL},
                                 {"-accel", "help", NULL},
                                 {"--version", NULL, NULL}};
  GSubprocess *procs[G_N_ELEMENTS(args)];

  for (gsize i = 0; i < G_N_ELEMENTS(args); i++) {
    procs[i] = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE,
                                NULL, qemu, args[i][0], args[i][1], NULL);
    if (!parallel) {
      g_subprocess_communicate_utf8(procs[i], NULL, NULL, NULL, NULL, NULL);
      g_clear_object(&procs[i]);
    }
  }
  for (gsize i = 0; parallel && i < G_N_ELEMENTS(args); i++) {
    g_subprocess_communicate_utf8(procs[i], NULL, NULL, NULL, NULL, NULL);
    g_object_unref(procs[i]);
  }
}

int
main(int argc, char **argv)
{
  int n = argc > 1 ? atoi(argv[1]) : 11;
  g_autofree char *qemu = vxm_qemu_caps_resolve_binary(NULL, NULL);
  g_autofree char *cache = g_dir_make_tmp("vxm-bench-XXXXXX", NULL);
  double *t_qmp = g_new(double, n), *t_serial = g_new(double, n), *t_par = g_new(double, n),
         *t_hit = g_new(double, n);
  g_autoptr(VxmQemuCaps) warm = NULL;

  if (qemu == NULL || n < 1) {
    fprintf(stderr, "usage: qemu-caps-probe [RUNS] (needs qemu-system-x86_64 in PATH)\n");
    return 1;
  }
  warm = vxm_qemu_caps_get(qemu, cache, NULL);
  for (int i = 0; i < n; i++) {
    gint64 t0 = g_get_monotonic_time();
    g_autoptr(VxmQemuCaps) caps = vxm_qemu_caps_probe(qemu, NULL);
    gint64 t1 = g_get_monotonic_time();
    g_autoptr(VxmQemuCaps) hit = NULL;

    run_help(qemu, FALSE);
    gint64 t2 = g_get_monotonic_time();
    run_help(qemu, TRUE);
    gint64 t3 = g_get_monotonic_time();
    hit = vxm_qemu_caps_get(qemu, cache, NULL);
    gint64 t4 = g_get_monotonic_time();
    t_qmp[i] = (double)(t1 - t0) / 1000;
    t_serial[i] = (double)(t2 - t1) / 1000;
    t_par[i] = (double)(t3 - t2) / 1000;
    t_hit[i] = (double)(t4 - t3) / 1000;
  }
  printf("QEMU %s, %d runs, medians:\n", warm != NULL ? warm->version : "?", n);
  printf("  qmp+audiodev   %8.1f ms\n", median(t_qmp, n));
  printf("  help-serial    %8.1f ms\n", median(t_serial, n));
  printf("  help-parallel  %8.1f ms\n", median(t_par, n));
  printf("  cache-hit      %8.2f ms\n", median(t_hit, n));
  g_free(t_qmp);
  g_free(t_serial);
  g_free(t_par);
  g_free(t_hit);
  return 0;
}
