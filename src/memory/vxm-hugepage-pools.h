/* vxm-hugepage-pools: the host's hugepage pools as sysfs shows them, under the host root.
 *
 * One pool per page size (2 MiB, 1 GiB) globally (VXM_HOST_SYS_HUGEPAGES/hugepages-NkB) and,
 * on NUMA machines, per node (VXM_HOST_SYS_NODES/nodeN/hugepages/hugepages-NkB), each with
 * nr_hugepages (the pool's size, surplus included), free_hugepages and surplus_hugepages; the
 * global pool also has resv_hugepages (promised to a mapping, not yet touched). Paths to the
 * nr_hugepages file a reservation writes come from here too.
 */
#pragma once

#include "common/vxm-hostfs.h"

G_BEGIN_DECLS

#define VXM_HUGEPAGE_SIZE_2M (G_GUINT64_CONSTANT(2) << 20)
#define VXM_HUGEPAGE_SIZE_1G (G_GUINT64_CONSTANT(1) << 30)

typedef struct {
  guint64 page_size; /* bytes */
  gint node;         /* -1: the global pool */
  guint64 nr;        /* nr_hugepages */
  guint64 free;      /* free_hugepages */
  guint64 surplus;   /* surplus_hugepages */
  guint64 resv;      /* resv_hugepages (global pools only, else 0) */
} VxmHugepagePool;

typedef struct _VxmHugepagePools VxmHugepagePools;

/* Reads every pool. A host without hugetlb support (no VXM_HOST_SYS_HUGEPAGES) reads as no
 * sizes at all, not as an error. */
VxmHugepagePools *vxm_hugepage_pools_read(VxmHostfs *hostfs,
                                          GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_hugepage_pools_free(VxmHugepagePools *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmHugepagePools, vxm_hugepage_pools_free)

/* Page sizes the kernel offers (guint64 bytes), smallest first. */
const GArray *vxm_hugepage_pools_get_sizes(VxmHugepagePools *self);
gboolean vxm_hugepage_pools_has_size(VxmHugepagePools *self, guint64 page_size);
/* NUMA nodes with their own pools (guint), sorted; empty without NUMA. */
const GArray *vxm_hugepage_pools_get_nodes(VxmHugepagePools *self);
/* The pool of @page_size on @node (-1: global), or NULL when there is none. */
const VxmHugepagePool *vxm_hugepage_pools_get(VxmHugepagePools *self, guint64 page_size, gint node);
/* Every pool: global ones first, then per node. */
guint vxm_hugepage_pools_get_n_pools(VxmHugepagePools *self);
const VxmHugepagePool *vxm_hugepage_pools_get_pool(VxmHugepagePools *self, guint index);

/* Host path of a pool's attribute ("nr_hugepages", "free_hugepages", ...). */
char *vxm_hugepage_pool_attr_path(guint64 page_size, gint node, const char *attr);
/* Reads one pool afresh. */
gboolean vxm_hugepage_pool_read(VxmHostfs *hostfs, guint64 page_size, gint node,
                                VxmHugepagePool *out, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* "2 MiB", "1 GiB": a page size for messages. */
char *vxm_hugepage_size_to_string(guint64 page_size);
/* "the 2 MiB pool on node 1", "the global 2 MiB pool". */
char *vxm_hugepage_pool_describe(guint64 page_size, gint node);

G_END_DECLS
