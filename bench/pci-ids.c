/* bench/pci-ids: how long loading pci.ids and looking names up take.
 * Usage: bench-pci-ids [ROOT] (default /): loads ROOT's pci.ids 50 times, prints the median
 * load time, then the cost of a vendor+device lookup over every device line of the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci/vxm-pci-ids.h"

static int
compare_doubles(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(argc > 1 ? argv[1] : NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmPciIds) ids = NULL;
  g_autoptr(GArray) pairs = g_array_new(FALSE, FALSE, sizeof(guint32));
  g_autofree char *text = NULL;
  double times[50];
  gsize len = 0;
  guint found = 0, rounds = 20;
  guint16 vendor = 0;
  gint64 t0;

  for (gsize i = 0; i < G_N_ELEMENTS(times); i++) {
    gint64 start = g_get_monotonic_time();
    g_autoptr(VxmPciIds) one = vxm_pci_ids_load(fs, &error);

    if (one == NULL) {
      fprintf(stderr, "bench-pci-ids: %s\n", error->message);
      return 1;
    }
    times[i] = (double)(g_get_monotonic_time() - start) / 1000.0;
  }
  qsort(times, G_N_ELEMENTS(times), sizeof times[0], compare_doubles);
  {
    /* what vxm list-gpus pays: a load and the first lookup in the biggest vendor */
    double cold[20];

    for (gsize i = 0; i < G_N_ELEMENTS(cold); i++) {
      gint64 start = g_get_monotonic_time();
      g_autoptr(VxmPciIds) one = vxm_pci_ids_load(fs, NULL);

      (void)vxm_pci_ids_get_device_name(one, 0x8086, 0x3e92);
      cold[i] = (double)(g_get_monotonic_time() - start) / 1000.0;
    }
    qsort(cold, G_N_ELEMENTS(cold), sizeof cold[0], compare_doubles);
    printf("load + first Intel device name: median %.2f ms\n", cold[G_N_ELEMENTS(cold) / 2]);
  }
  ids = vxm_pci_ids_load(fs, &error);
  g_assert_no_error(error);

  /* every vendor/device pair the file names, for the lookups */
  if (!vxm_hostfs_read_file(fs, vxm_pci_ids_get_source(ids), &text, &len, &error)) {
    fprintf(stderr, "bench-pci-ids: %s\n", error->message);
    return 1;
  }
  for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    guint v;

    if (line[0] == 'C')
      break;
    if (line[0] != '\t' && sscanf(line, "%4x", &v) == 1) {
      vendor = (guint16)v;
    } else if (line[0] == '\t' && line[1] != '\t' && sscanf(line + 1, "%4x", &v) == 1) {
      guint32 pair = ((guint32)vendor << 16) | v;
      g_array_append_val(pairs, pair);
    }
  }

  t0 = g_get_monotonic_time();
  for (guint r = 0; r < rounds; r++) {
    for (guint i = 0; i < pairs->len; i++) {
      guint32 pair = g_array_index(pairs, guint32, i);
      found += vxm_pci_ids_get_device_name(ids, (guint16)(pair >> 16), (guint16)pair) != NULL;
    }
  }
  printf("pci.ids: %s, %" G_GSIZE_FORMAT " bytes, %u vendors, %u devices\n",
         vxm_pci_ids_get_source(ids), len, vxm_pci_ids_get_vendor_count(ids), pairs->len);
  printf("load: median %.2f ms, min %.2f ms, max %.2f ms (%zu runs)\n",
         times[G_N_ELEMENTS(times) / 2], times[0], times[G_N_ELEMENTS(times) - 1],
         G_N_ELEMENTS(times));
  printf("device lookup: %.2f us on average (%u lookups, %u found)\n",
         (double)(g_get_monotonic_time() - t0) / ((double)rounds * pairs->len), rounds * pairs->len,
         found);
  return 0;
}
