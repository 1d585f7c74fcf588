/* vxm-pci-bars: a PCI function's memory BARs (see the header). */
#include "vxm-pci-bars.h"

#include "common/vxm-util.h"

#define IORESOURCE_MEM      0x00000200
#define IORESOURCE_PREFETCH 0x00002000
#define IORESOURCE_MEM_64   0x00100000

GArray *
vxm_pci_bars_read(VxmHostfs *hostfs, const char *device_dir, GError **error)
{
  g_autofree char *path = g_build_filename(device_dir, "resource", NULL);
  g_autofree char *text = vxm_hostfs_read_attr(hostfs, path, error);
  g_auto(GStrv) lines = NULL;
  g_autoptr(GArray) bars = NULL;

  if (text == NULL)
    return NULL;
  bars = g_array_new(FALSE, TRUE, sizeof(VxmPciBar));
  lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; i < VXM_PCI_BAR_COUNT && lines[i] != NULL; i++) {
    g_auto(GStrv) f = g_strsplit_set(g_strstrip(lines[i]), " \t", -1);
    g_autofree char *resize_path = NULL;
    VxmPciBar bar = {.index = i};
    guint64 start, end, flags;

    if (g_strv_length(f) != 3 || !vxm_parse_uint64(f[0], 16, &start) ||
        !vxm_parse_uint64(f[1], 16, &end) || !vxm_parse_uint64(f[2], 16, &flags))
      continue;
    if ((flags & IORESOURCE_MEM) == 0 || end <= start)
      continue; /* I/O ports, or not assigned */
    bar.size = end - start + 1;
    bar.is_64bit = (flags & IORESOURCE_MEM_64) != 0;
    bar.prefetchable = (flags & IORESOURCE_PREFETCH) != 0;
    resize_path = g_strdup_printf("%s/resource%u_resize", device_dir, i);
    if (!vxm_hostfs_read_attr_uint64(hostfs, resize_path, 16, &bar.resize_sizes, NULL))
      bar.resize_sizes = 0;
    g_array_append_val(bars, bar);
  }
  return g_steal_pointer(&bars);
}

guint64
vxm_pci_bar_max_resize(const VxmPciBar *bar)
{
  for (gint bit = 63 - 20; bit >= 0; bit--)
    if (bar->resize_sizes & (G_GUINT64_CONSTANT(1) << bit))
      return G_GUINT64_CONSTANT(1) << (bit + 20);
  return 0;
}

char *
vxm_pci_bar_size_to_string(guint64 bytes)
{
  if (bytes >= (G_GUINT64_CONSTANT(1) << 30) && bytes % (G_GUINT64_CONSTANT(1) << 30) == 0)
    return g_strdup_printf("%" G_GUINT64_FORMAT " GiB", bytes >> 30);
  if (bytes >= (G_GUINT64_CONSTANT(1) << 20) && bytes % (G_GUINT64_CONSTANT(1) << 20) == 0)
    return g_strdup_printf("%" G_GUINT64_FORMAT " MiB", bytes >> 20);
  return g_strdup_printf("%" G_GUINT64_FORMAT " KiB", bytes >> 10);
}
