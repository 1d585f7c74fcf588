/* vxm-hugepage-pools: reads the host's hugepage pools. */
#include "vxm-hugepage-pools.h"

#include "common/vxm-error.h"
#include "common/vxm-util.h"

#include <string.h>

struct _VxmHugepagePools {
  GArray *sizes; /* guint64 */
  GArray *nodes; /* guint */
  GArray *pools; /* VxmHugepagePool */
};

void
vxm_hugepage_pools_free(VxmHugepagePools *self)
{
  if (self == NULL)
    return;
  g_clear_pointer(&self->sizes, g_array_unref);
  g_clear_pointer(&self->nodes, g_array_unref);
  g_clear_pointer(&self->pools, g_array_unref);
  g_free(self);
}

char *
vxm_hugepage_pool_attr_path(guint64 page_size, gint node, const char *attr)
{
  guint64 kb = page_size >> 10;

  if (node < 0)
    return g_strdup_printf(VXM_HOST_SYS_HUGEPAGES "/hugepages-%" G_GUINT64_FORMAT "kB/%s", kb,
                           attr);
  return g_strdup_printf(
      VXM_HOST_SYS_NODES "/node%d/hugepages/hugepages-%" G_GUINT64_FORMAT "kB/%s", node, kb, attr);
}

char *
vxm_hugepage_size_to_string(guint64 page_size)
{
  return vxm_format_bytes(page_size);
}

char *
vxm_hugepage_pool_describe(guint64 page_size, gint node)
{
  g_autofree char *size = vxm_hugepage_size_to_string(page_size);

  if (node < 0)
    return g_strdup_printf("the %s hugepage pool", size);
  return g_strdup_printf("the %s hugepage pool of NUMA node %d", size, node);
}

static gboolean
read_count(VxmHostfs *hostfs, guint64 page_size, gint node, const char *attr, gboolean optional,
           guint64 *out, GError **error)
{
  g_autofree char *path = vxm_hugepage_pool_attr_path(page_size, node, attr);

  *out = 0;
  if (optional && !vxm_hostfs_exists(hostfs, path))
    return TRUE;
  return vxm_hostfs_read_attr_uint64(hostfs, path, 10, out, error);
}

gboolean
vxm_hugepage_pool_read(VxmHostfs *hostfs, guint64 page_size, gint node, VxmHugepagePool *out,
                       GError **error)
{
  memset(out, 0, sizeof(*out));
  out->page_size = page_size;
  out->node = node;
  return read_count(hostfs, page_size, node, "nr_hugepages", FALSE, &out->nr, error) &&
         read_count(hostfs, page_size, node, "free_hugepages", FALSE, &out->free, error) &&
         read_count(hostfs, page_size, node, "surplus_hugepages", TRUE, &out->surplus, error) &&
         read_count(hostfs, page_size, node, "resv_hugepages", TRUE, &out->resv, error);
}

static gint
compare_u64(gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;
  return x < y ? -1 : (x > y ? 1 : 0);
}

/* Page sizes from the "hugepages-2048kB" folder names under @host_dir. */
static GArray *
read_sizes(VxmHostfs *hostfs, const char *host_dir, GError **error)
{
  g_autoptr(GArray) sizes = g_array_new(FALSE, FALSE, sizeof(guint64));
  g_autoptr(GPtrArray) names = vxm_hostfs_list_dir(hostfs, host_dir, error);

  if (names == NULL)
    return NULL;
  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    g_autofree char *number = NULL;
    guint64 kb;

    if (!g_str_has_prefix(name, "hugepages-") || !g_str_has_suffix(name, "kB"))
      continue;
    number = g_strndup(name + strlen("hugepages-"), strlen(name) - strlen("hugepages-") - 2);
    if (vxm_parse_uint64(number, 10, &kb) && kb > 0 && kb < (G_MAXUINT64 >> 10)) {
      guint64 bytes = kb << 10;
      g_array_append_val(sizes, bytes);
    }
  }
  g_array_sort(sizes, compare_u64);
  return g_steal_pointer(&sizes);
}

VxmHugepagePools *
vxm_hugepage_pools_read(VxmHostfs *hostfs, GError **error)
{
  g_autoptr(VxmHugepagePools) self = g_new0(VxmHugepagePools, 1);

  self->nodes = g_array_new(FALSE, FALSE, sizeof(guint));
  self->pools = g_array_new(FALSE, FALSE, sizeof(VxmHugepagePool));
  if (!vxm_hostfs_is_dir(hostfs, VXM_HOST_SYS_HUGEPAGES)) {
    self->sizes = g_array_new(FALSE, FALSE, sizeof(guint64));
    return g_steal_pointer(&self);
  }
  self->sizes = read_sizes(hostfs, VXM_HOST_SYS_HUGEPAGES, error);
  if (self->sizes == NULL)
    return NULL;
  for (guint i = 0; i < self->sizes->len; i++) {
    VxmHugepagePool pool;
    if (!vxm_hugepage_pool_read(hostfs, g_array_index(self->sizes, guint64, i), -1, &pool, error))
      return NULL;
    g_array_append_val(self->pools, pool);
  }

  if (vxm_hostfs_is_dir(hostfs, VXM_HOST_SYS_NODES)) {
    g_autoptr(GPtrArray) names = vxm_hostfs_list_dir(hostfs, VXM_HOST_SYS_NODES, error);
    if (names == NULL)
      return NULL;
    for (guint i = 0; i < names->len; i++) {
      const char *name = g_ptr_array_index(names, i);
      g_autofree char *dir = NULL;
      g_autoptr(GArray) sizes = NULL;
      guint64 node;
      guint n;

      if (!g_str_has_prefix(name, "node") || !vxm_parse_uint64(name + 4, 10, &node) ||
          node > G_MAXINT)
        continue;
      dir = g_strdup_printf(VXM_HOST_SYS_NODES "/%s/hugepages", name);
      if (!vxm_hostfs_is_dir(hostfs, dir))
        continue;
      sizes = read_sizes(hostfs, dir, error);
      if (sizes == NULL)
        return NULL;
      for (guint s = 0; s < sizes->len; s++) {
        VxmHugepagePool pool;
        if (!vxm_hugepage_pool_read(hostfs, g_array_index(sizes, guint64, s), (gint)node, &pool,
                                    error))
          return NULL;
        g_array_append_val(self->pools, pool);
      }
      n = (guint)node;
      g_array_append_val(self->nodes, n);
    }
  }
  return g_steal_pointer(&self);
}

const GArray *
vxm_hugepage_pools_get_sizes(VxmHugepagePools *self)
{
  return self->sizes;
}

gboolean
vxm_hugepage_pools_has_size(VxmHugepagePools *self, guint64 page_size)
{
  for (guint i = 0; i < self->sizes->len; i++)
    if (g_array_index(self->sizes, guint64, i) == page_size)
      return TRUE;
  return FALSE;
}

const GArray *
vxm_hugepage_pools_get_nodes(VxmHugepagePools *self)
{
  return self->nodes;
}

const VxmHugepagePool *
vxm_hugepage_pools_get(VxmHugepagePools *self, guint64 page_size, gint node)
{
  for (guint i = 0; i < self->pools->len; i++) {
    const VxmHugepagePool *pool = &g_array_index(self->pools, VxmHugepagePool, i);
    if (pool->page_size == page_size && pool->node == node)
      return pool;
  }
  return NULL;
}

guint
vxm_hugepage_pools_get_n_pools(VxmHugepagePools *self)
{
  return self->pools->len;
}

const VxmHugepagePool *
vxm_hugepage_pools_get_pool(VxmHugepagePools *self, guint index)
{
  g_return_val_if_fail(index < self->pools->len, NULL);
  return &g_array_index(self->pools, VxmHugepagePool, index);
}
