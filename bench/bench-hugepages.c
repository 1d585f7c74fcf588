/* bench/hugepages: time to reserve 8 GiB of 2 MiB pages on this machine's real kernel, without
 * and with drop_caches + compact_memory first; the pool goes back to its previous count after
 * every round (and at exit). Needs root. Prints each round and the medians.
 *
 *   build/bench/bench-hugepages [--gib N] [--rounds N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "memory/vxm-hugepages.h"

static int
compare_times(const void *a, const void *b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return x < y ? -1 : (x > y ? 1 : 0);
}

static void
restore(VxmHostfs *hostfs, const char *nr_path, const char *saved)
{
  /* echo $saved > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages */
  if (!vxm_hostfs_write_attr(hostfs, nr_path, saved, NULL))
    g_printerr("could not put %s back to %s\n", nr_path, saved);
}

typedef struct {
  const char *name;
  gboolean drop_caches;
  gboolean compact;
} Mode;

int
main(int argc, char **argv)
{
  gint gib = 8, rounds = 5;
  GOptionEntry entries[] = {
      {"gib", 0, 0, G_OPTION_ARG_INT, &gib, "GiB to reserve (default 8)", "N"},
      {"rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "rounds per mode (default 5)", "N"},
      {NULL},
  };
  g_autoptr(GOptionContext) context = g_option_context_new("- time hugepage reservations");
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(NULL);
  g_autofree char *nr_path = vxm_hugepage_pool_attr_path(VXM_HUGEPAGE_SIZE_2M, -1, "nr_hugepages");
  g_autofree char *saved = NULL;
  const Mode modes[] = {
      {"no compaction first", FALSE, FALSE},
      {"drop caches + compact first", TRUE, TRUE},
  };

  g_option_context_add_main_entries(context, entries, NULL);
  if (!g_option_context_parse(context, &argc, &argv, &error) || gib <= 0 || rounds <= 0) {
    g_printerr("%s\n", error != NULL ? error->message : "--gib and --rounds must be positive");
    return 2;
  }
  if (geteuid() != 0) {
    g_printerr("bench-hugepages needs root (it writes %s)\n", nr_path);
    return 1;
  }
  saved = vxm_hostfs_read_attr(hostfs, nr_path, &error);
  if (saved == NULL) {
    g_printerr("%s\n", error->message);
    return 1;
  }
  g_print("reserving %d GiB of 2 MiB pages (%d pages), %d rounds per mode; pool at %s before\n",
          gib, gib * 512, rounds, saved);

  for (guint m = 0; m < G_N_ELEMENTS(modes); m++) {
    g_autofree gint64 *times = g_new0(gint64, rounds);
    for (gint r = 0; r < rounds; r++) {
      g_autoptr(VxmHugepages) hp = NULL;
      VxmHugepagesRequest req;
      gint64 start;

      vxm_hugepages_request_init(&req);
      req.setting = VXM_VM_HUGEPAGES_2M;
      req.drop_caches = modes[m].drop_caches;
      req.compact = modes[m].compact;
      start = g_get_monotonic_time();
      hp = vxm_hugepages_reserve(hostfs, (guint64)gib << 30, &req, &error);
      times[r] = g_get_monotonic_time() - start;
      if (hp == NULL) {
        g_printerr("%s: %s\n", modes[m].name, error->message);
        restore(hostfs, nr_path, saved);
        return 1;
      }
      g_print("  %-28s round %d: %8.1f ms (%u tr%s)\n", modes[m].name, r + 1, times[r] / 1000.0,
              hp->attempts, hp->attempts == 1 ? "y" : "ies");
      if (!vxm_hugepages_release(hp, hostfs, NULL, &error)) {
        g_printerr("release: %s\n", error->message);
        restore(hostfs, nr_path, saved);
        return 1;
      }
    }
    qsort(times, rounds, sizeof(gint64), compare_times);
    g_print("%-30s median %8.1f ms, min %8.1f ms, max %8.1f ms\n", modes[m].name,
            times[rounds / 2] / 1000.0, times[0] / 1000.0, times[rounds - 1] / 1000.0);
  }
  if (!vxm_hostfs_write_attr(hostfs, nr_path, saved, &error)) {
    g_printerr("could not put %s back to %s: %s\n", nr_path, saved, error->message);
    return 1;
  }
  return 0;
}
