/* bench-sysfs-read [ROUNDS]: the cost of reading driver_override with a time limit (through
 * vxm's reader process) beside a plain read, on this machine's own sysfs (reads only), and what
 * it adds to building the PCI device list that list-gpus, status and check start from. */
#include <stdio.h>
#include <stdlib.h>

#include "common/vxm-hostfs.h"
#include "pci/vxm-pci-bus.h"
#include "pci/vxm-sysfs-writer.h"

static double
now_us(void)
{
  return (double)g_get_monotonic_time();
}

int
main(int argc, char **argv)
{
  guint rounds = argc > 1 ? (guint)atoi(argv[1]) : 200;
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new("/");
  g_autoptr(GPtrArray) names = vxm_hostfs_list_dir(fs, VXM_HOST_SYS_PCI_DEVICES, NULL);
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
  double t0, first, plain = 0, timed = 0, bus_ms = 0;

  for (guint i = 0; names != NULL && i < names->len; i++)
    g_ptr_array_add(paths, g_strdup_printf(VXM_HOST_SYS_PCI_DEVICES "/%s/driver_override",
                                           (char *)g_ptr_array_index(names, i)));
  if (paths->len == 0 || rounds == 0) {
    fprintf(stderr, "no PCI devices under /sys/bus/pci/devices\n");
    return 1;
  }
  /* the first timed read forks the reader */
  t0 = now_us();
  g_free(vxm_sysfs_read_timeout(fs, g_ptr_array_index(paths, 0), 0, NULL));
  first = now_us() - t0;

  for (guint r = 0; r < rounds; r++) {
    for (guint i = 0; i < paths->len; i++) {
      const char *path = g_ptr_array_index(paths, i);
      char *text;

      t0 = now_us();
      text = vxm_hostfs_read_attr(fs, path, NULL);
      plain += now_us() - t0;
      g_free(text);
      t0 = now_us();
      text = vxm_sysfs_read_timeout(fs, path, 0, NULL);
      timed += now_us() - t0;
      g_free(text);
    }
  }
  for (guint r = 0; r < rounds; r++) {
    g_autoptr(VxmPciBus) bus = NULL;

    t0 = now_us();
    bus = vxm_pci_bus_new(fs, NULL);
    bus_ms += (now_us() - t0) / 1000.0;
  }
  printf("devices: %u, rounds: %u\n", paths->len, rounds);
  printf("first timed read (forks the reader): %.0f us\n", first);
  printf("driver_override read: plain %.1f us, time-limited %.1f us (+%.1f us)\n",
         plain / (rounds * paths->len), timed / (rounds * paths->len),
         (timed - plain) / (rounds * paths->len));
  printf("the PCI device list (every device read, as list-gpus does): %.2f ms\n", bus_ms / rounds);
  return 0;
}
