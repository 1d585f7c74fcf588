/* bench/ddc-switch: how long switching the monitor's input takes, on the simulated
 * workstation (intel-nvidia-turing: one monitor on both GPUs), beside the protocol's floor.
 *   cold  no bus cache: scan the connectors, Get VCP on the bus (proves DDC/CI answers and
 *         reads the input), then Set VCP; its floor is one command gap (50 ms)
 *   warm  the cached bus, validated from sysfs, then one Set VCP write; its floor is 0 ms
 * Each is measured in-process (vxm_display_set_input) and as the whole `vxm display guest`
 * command. Prints medians of N runs (default 15). Needs root (FUSE).
 *   build/bench/bench-ddc-switch [RUNS]   (from the top of the tree) */
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "display/vxm-ddc-cache.h"
#include "display/vxm-ddc.h"
#include "display/vxm-display.h"
#include "vxm-simhost-fixture.h"
#include "vxm-test-util.h"

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
forget_cache(void)
{
  g_autofree char *path = vxm_ddc_cache_path();
  unlink(path);
}

/* In-process: ms per switch, and the ms of it spent in mandated waits. */
static void
measure_lib(VxmHostfs *hostfs, gboolean cold, int runs, double *ms, double *waited)
{
  for (int i = 0; i < runs; i++) {
    g_auto(VxmDisplayResult) result = {0};
    g_autoptr(GError) error = NULL;
    guint input = i % 2 == 0 ? 0x0f : 0x11; /* alternate, so every run writes */
    gint64 t0;

    if (cold)
      forget_cache();
    /* a real caller starts a new process per switch: no wait carried between runs */
    g_usleep(VXM_DDC_COMMAND_WAIT_MS * 1000);
    t0 = g_get_monotonic_time();
    if (!vxm_display_set_input(hostfs, "DEL:41234:12345", NULL, input, &result, &error)) {
      g_printerr("switch failed: %s\n", error->message);
      exit(1);
    }
    ms[i] = (g_get_monotonic_time() - t0) / 1000.0;
    waited[i] = result.waited_us / 1000.0;
    if (result.cache_hit == cold) {
      g_printerr("expected a cache %s\n", cold ? "miss" : "hit");
      exit(1);
    }
  }
}

static void
measure_cli(const char *root, const char *vxm, gboolean cold, int runs, double *ms)
{
  for (int i = 0; i < runs; i++) {
    const char *which = i % 2 == 0 ? "guest" : "host";
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GError) error = NULL;
    gint64 t0;

    if (cold)
      forget_cache();
    g_usleep(VXM_DDC_COMMAND_WAIT_MS * 1000);
    t0 = g_get_monotonic_time();
    proc = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, vxm, "display", which,
                            "win11", "--root", root, NULL);
    if (proc == NULL || !g_subprocess_wait_check(proc, NULL, &error)) {
      g_printerr("vxm display %s failed: %s\n", which, error->message);
      exit(1);
    }
    ms[i] = (g_get_monotonic_time() - t0) / 1000.0;
  }
}

int
main(int argc, char **argv)
{
  int runs = argc > 1 ? atoi(argv[1]) : 15;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autofree char *home = vxm_test_mkdtemp();
  g_autofree char *cache = g_build_filename(home, "cache", NULL);
  g_autofree char *config = g_build_filename(home, "config", NULL);
  g_autofree char *build = NULL;
  g_autofree char *vxm = NULL;
  double *cold = g_new0(double, runs), *warm = g_new0(double, runs);
  double *cold_wait = g_new0(double, runs), *warm_wait = g_new0(double, runs);
  double *cli_cold = g_new0(double, runs), *cli_warm = g_new0(double, runs);
  double *noop = g_new0(double, runs);

  if (runs < 1)
    runs = 15;
  if (geteuid() != 0) {
    g_printerr("bench-ddc-switch needs root (it mounts vxm-simhost with FUSE)\n");
    return 1;
  }
  if (g_getenv("VXM_BUILD_DIR") == NULL && g_file_test("build/src/cli/vxm", G_FILE_TEST_EXISTS))
    g_setenv("VXM_BUILD_DIR", build = g_build_filename(g_get_current_dir(), "build", NULL), TRUE);
  vxm = vxm_test_build_path("src/cli/vxm");
  g_setenv("XDG_CACHE_HOME", cache, TRUE);
  g_setenv("XDG_CONFIG_HOME", config, TRUE);
  vxm_test_write_file(home, "config/vxm/vms/win11.conf",
                      "[display]\nmonitor = DEL:41234:12345\nhost_input = hdmi1\n"
                      "guest_input = dp1\n");
  sim = vxm_simhost_start("intel-nvidia-turing", &error);
  if (sim == NULL) {
    g_printerr("cannot start vxm-simhost: %s\n", error->message);
    return 1;
  }
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));

  measure_lib(hostfs, TRUE, runs, cold, cold_wait);
  measure_lib(hostfs, FALSE, runs, warm, warm_wait);
  measure_cli(vxm_simhost_root(sim), vxm, TRUE, runs, cli_cold);
  measure_cli(vxm_simhost_root(sim), vxm, FALSE, runs, cli_warm);
  for (int i = 0; i < runs; i++) {
    g_autoptr(GSubprocess) proc = NULL;
    gint64 t0 = g_get_monotonic_time();

    proc = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE, NULL, vxm, "--version", NULL);
    g_subprocess_wait(proc, NULL, NULL);
    noop[i] = (g_get_monotonic_time() - t0) / 1000.0;
  }

  printf("DDC/CI input switch on vxm-simhost (intel-nvidia-turing), median of %d runs\n", runs);
  printf("%-28s %10s %14s %12s\n", "", "time ms", "of it waits", "floor ms");
  printf("%-28s %10.2f %14.2f %12d\n", "cold (scan, Get VCP, Set)", median(cold, runs),
         median(cold_wait, runs), VXM_DDC_COMMAND_WAIT_MS);
  printf("%-28s %10.2f %14.2f %12d\n", "warm (cached bus, 1 write)", median(warm, runs),
         median(warm_wait, runs), 0);
  printf("%-28s %10.2f %14s %12d\n", "vxm display guest, cold", median(cli_cold, runs), "",
         VXM_DDC_COMMAND_WAIT_MS);
  printf("%-28s %10.2f %14s %12d\n", "vxm display guest, warm", median(cli_warm, runs), "", 0);
  printf("%-28s %10.2f\n", "vxm --version (process)", median(noop, runs));
  printf("floor: the spec's mandated waits (a reply read >= %d ms after its request, the next "
         "command >= %d ms after the previous one); ddcutil: about 750 ms per command with "
         "detection (facts.md)\n",
         VXM_DDC_REPLY_WAIT_MS, VXM_DDC_COMMAND_WAIT_MS);
  vxm_test_rm_rf(home);
  return 0;
}
