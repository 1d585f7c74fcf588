/* vxm-sim-hugepages: hugepage pools with fragmentation (see the header). */
#include "vxm-sim-hugepages.h"

#include <errno.h>
#include <string.h>

#include "common/vxm-hostfs.h"

#define GROUP         "hugepages"
#define SYS_HUGEPAGES VXM_HOST_SYS_HUGEPAGES
#define SYS_NODES     VXM_HOST_SYS_NODES
#define PROC_VM       "/proc/sys/vm"
#define DEFAULT_KIB   2048
#define MAX_NODES     64

typedef struct {
  guint64 size_kib;
  guint nodes;
  guint64 *nr;        /* reserved pages per node */
  guint64 *limit;     /* obtainable now per node */
  guint64 *compacted; /* obtainable after compaction per node */
  guint64 overcommit;
} Pool;

struct _VxmSimHugepages {
  VxmSimHost *host;
  guint nodes;
  guint cpus;
  GPtrArray *pools; /* Pool*, by size */
};

enum {
  ATTR_NR, /* pool-wide nr_hugepages (sysfs and /proc/sys/vm) */
  ATTR_FREE,
  ATTR_RESV,
  ATTR_SURPLUS,
  ATTR_OVERCOMMIT,
  ATTR_NODE_NR, /* item: pool, node in the upper bits of attr */
  ATTR_NODE_FREE,
  ATTR_NODE_SURPLUS,
  ATTR_COMPACT,
  ATTR_DROP_CACHES,
  ATTR_NODES_ONLINE,
  ATTR_NODE_CPULIST,
};

#define NODE_ATTR(attr, node) ((attr) | ((node) << 8))
#define ATTR_OF(value)        (0xff & (value))
#define NODE_OF(value)        ((value) >> 8)

static void
pool_free(Pool *pool)
{
  g_free(pool->nr);
  g_free(pool->limit);
  g_free(pool->compacted);
  g_free(pool);
}

void
vxm_sim_hugepages_free(VxmSimHugepages *hp)
{
  if (hp == NULL)
    return;
  g_ptr_array_unref(hp->pools);
  g_free(hp);
}

static guint64
pool_total(Pool *pool)
{
  guint64 total = 0;

  for (guint n = 0; n < pool->nodes; n++)
    total += pool->nr[n];
  return total;
}

/* echo N > nr_hugepages: the kernel spreads a pool-wide count over the nodes in turn and
 * stops where no node can give more; freeing takes from the nodes in turn too. */
static void
pool_set_total(Pool *pool, guint64 want)
{
  guint64 total = pool_total(pool);
  gboolean progress = TRUE;

  while (total < want && progress) {
    progress = FALSE;
    for (guint n = 0; n < pool->nodes && total < want; n++) {
      if (pool->nr[n] < pool->limit[n]) {
        pool->nr[n]++;
        total++;
        progress = TRUE;
      }
    }
  }
  while (total > want) {
    for (guint n = pool->nodes; n > 0 && total > want; n--) {
      if (pool->nr[n - 1] > 0) {
        pool->nr[n - 1]--;
        total--;
      }
    }
  }
}

static gboolean
parse_count(const char *buf, gsize len, guint64 *out)
{
  g_autofree char *text = g_strstrip(g_strndup(buf, len));

  return g_ascii_string_to_unsigned(text, 10, 0, G_MAXINT64, out, NULL);
}

static char *
hp_show(VxmSimNode *node, gssize *len)
{
  VxmSimHugepages *hp = node->owner;
  Pool *pool = node->item;
  guint node_id = NODE_OF(node->attr);

  switch (ATTR_OF(node->attr)) {
  case ATTR_NR:
  case ATTR_FREE: return g_strdup_printf("%" G_GUINT64_FORMAT "\n", pool_total(pool));
  case ATTR_RESV:
  case ATTR_SURPLUS: return g_strdup("0\n");
  case ATTR_OVERCOMMIT: return g_strdup_printf("%" G_GUINT64_FORMAT "\n", pool->overcommit);
  case ATTR_NODE_NR:
  case ATTR_NODE_FREE: return g_strdup_printf("%" G_GUINT64_FORMAT "\n", pool->nr[node_id]);
  case ATTR_NODE_SURPLUS: return g_strdup("0\n");
  case ATTR_NODES_ONLINE:
    return hp->nodes == 1 ? g_strdup("0\n") : g_strdup_printf("0-%u\n", hp->nodes - 1);
  case ATTR_NODE_CPULIST: {
    guint per = MAX(hp->cpus / hp->nodes, 1);
    guint first = node_id * per;
    guint last = MIN(first + per, hp->cpus) - 1;
    return first == last ? g_strdup_printf("%u\n", first) : g_strdup_printf("%u-%u\n", first, last);
  }
  default: return g_strdup("");
  }
}

static int
hp_store(VxmSimNode *node, const char *buf, gsize len)
{
  VxmSimHugepages *hp = node->owner;
  Pool *pool = node->item;
  guint node_id = NODE_OF(node->attr);
  guint64 value;

  if (!parse_count(buf, len, &value))
    return -EINVAL;
  switch (ATTR_OF(node->attr)) {
  case ATTR_NR:
    /* echo $N > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages */
    pool_set_total(pool, value);
    return 0;
  case ATTR_NODE_NR:
    /* echo $N > /sys/devices/system/node/node$N/hugepages/hugepages-2048kB/nr_hugepages */
    /* more than the node can give now gets what it can give; readback shows it */
    pool->nr[node_id] = value <= pool->nr[node_id] ? value : MIN(value, pool->limit[node_id]);
    return 0;
  case ATTR_OVERCOMMIT: pool->overcommit = value; return 0;
  case ATTR_COMPACT:
    /* echo 1 > /proc/sys/vm/compact_memory: free memory is defragmented */
    if (value != 1)
      return -EINVAL;
    for (guint i = 0; i < hp->pools->len; i++) {
      Pool *p = hp->pools->pdata[i];
      for (guint n = 0; n < p->nodes; n++)
        p->limit[n] = MAX(p->limit[n], p->compacted[n]);
    }
    return 0;
  case ATTR_DROP_CACHES: return value >= 1 && value <= 3 ? 0 : -EINVAL;
  default: return -EACCES;
  }
}

static void
put(VxmSimHugepages *hp, const char *path, guint mode, Pool *pool, guint attr, gboolean sysfs)
{
  VxmSimNode *node = vxm_sim_node_new_generated(mode, (mode & 0444) ? hp_show : NULL,
                                                (mode & 0200) ? hp_store : NULL, hp, pool, attr);

  if (sysfs)
    node->flags |= VXM_SIM_NODE_FLAG_ATTRIBUTE;
  vxm_sim_node_put(hp->host->root, path, node);
}

static void
put_cpu_file(VxmSimHugepages *hp, const char *path, const char *contents)
{
  VxmSimNode *node = vxm_sim_node_new_file(0444, contents);

  node->flags |= VXM_SIM_NODE_FLAG_ATTRIBUTE;
  vxm_sim_node_put(hp->host->root, path, node);
}

/* The CPUs the nodes' cpulists name, as vxm's topology reader sees them: one package, one
 * thread per core (no cache folders: the L3 group is unknown, as on some VMs). */
static void
put_cpus(VxmSimHugepages *hp)
{
  g_autofree char *online = g_strdup_printf(hp->cpus > 1 ? "0-%u\n" : "0\n", hp->cpus - 1);

  put_cpu_file(hp, VXM_HOST_SYS_CPUS "/online", online);
  put_cpu_file(hp, VXM_HOST_SYS_CPUS "/possible", online);
  for (guint cpu = 0; cpu < hp->cpus; cpu++) {
    g_autofree char *dir = g_strdup_printf(VXM_HOST_SYS_CPUS "/cpu%u/topology", cpu);
    g_autofree char *self_list = g_strdup_printf("%u\n", cpu);
    g_autofree char *core_cpus = g_strdup_printf("%s/core_cpus_list", dir);
    g_autofree char *siblings = g_strdup_printf("%s/thread_siblings_list", dir);
    g_autofree char *package = g_strdup_printf("%s/physical_package_id", dir);
    g_autofree char *core_id = g_strdup_printf("%s/core_id", dir);

    put_cpu_file(hp, core_cpus, self_list);
    put_cpu_file(hp, siblings, self_list);
    put_cpu_file(hp, package, "0\n");
    put_cpu_file(hp, core_id, self_list);
  }
}

static gboolean
get_per_node(VxmSimMachine *machine, const char *key, guint nodes, guint64 def, guint64 *out,
             GError **error)
{
  g_auto(GStrv) values = NULL;
  guint count;

  if (!vxm_sim_machine_get_list(machine, GROUP, key, &values, error))
    return FALSE;
  count = g_strv_length(values);
  if (count != 0 && count != 1 && count != nodes)
    return vxm_sim_machine_error(machine, error, GROUP, key,
                                 "give one value for every node or one for all (%u nodes)", nodes);
  for (guint n = 0; n < nodes; n++) {
    guint64 v = def;
    if (count > 0 &&
        !g_ascii_string_to_unsigned(values[count == 1 ? 0 : n], 10, 0, G_MAXINT64, &v, NULL))
      return vxm_sim_machine_error(machine, error, GROUP, key, "'%s' is not a page count",
                                   values[count == 1 ? 0 : n]);
    out[n] = v;
  }
  return TRUE;
}

static gboolean
load_pool(VxmSimHugepages *hp, VxmSimMachine *machine, guint64 size_kib, guint64 mem_total_kib,
          GError **error)
{
  Pool *pool = g_new0(Pool, 1);
  g_autofree char *k_reserved = g_strdup_printf("%" G_GUINT64_FORMAT "kB_reserved", size_kib);
  g_autofree char *k_obtainable = g_strdup_printf("%" G_GUINT64_FORMAT "kB_obtainable", size_kib);
  g_autofree char *k_compacted =
      g_strdup_printf("%" G_GUINT64_FORMAT "kB_obtainable_compacted", size_kib);
  /* Without numbers in the machine file: half the memory in 2 MiB pages now, three quarters
   * after compaction; 1 GiB pages only at boot. */
  guint64 per_node_kib = mem_total_kib / hp->nodes;
  gboolean small = size_kib < 1048576;
  guint64 def_limit = small ? per_node_kib / 2 / size_kib : 0;
  guint64 def_compacted = small ? per_node_kib * 3 / 4 / size_kib : 0;

  pool->size_kib = size_kib;
  pool->nodes = hp->nodes;
  pool->nr = g_new0(guint64, hp->nodes);
  pool->limit = g_new0(guint64, hp->nodes);
  pool->compacted = g_new0(guint64, hp->nodes);
  g_ptr_array_add(hp->pools, pool);
  if (!get_per_node(machine, k_reserved, hp->nodes, 0, pool->nr, error) ||
      !get_per_node(machine, k_obtainable, hp->nodes, def_limit, pool->limit, error) ||
      !get_per_node(machine, k_compacted, hp->nodes, def_compacted, pool->compacted, error))
    return FALSE;
  for (guint n = 0; n < hp->nodes; n++) {
    pool->limit[n] = MAX(pool->limit[n], pool->nr[n]);
    pool->compacted[n] = MAX(pool->compacted[n], pool->limit[n]);
  }
  return TRUE;
}

static void
build_tree(VxmSimHugepages *hp)
{
  for (guint i = 0; i < hp->pools->len; i++) {
    Pool *pool = hp->pools->pdata[i];
    g_autofree char *dir =
        g_strdup_printf(SYS_HUGEPAGES "/hugepages-%" G_GUINT64_FORMAT "kB", pool->size_kib);
    static const struct {
      const char *name;
      guint attr;
      guint mode;
    } attrs[] = {{"nr_hugepages", ATTR_NR, 0644},
                 {"nr_hugepages_mempolicy", ATTR_NR, 0644},
                 {"free_hugepages", ATTR_FREE, 0444},
                 {"resv_hugepages", ATTR_RESV, 0444},
                 {"surplus_hugepages", ATTR_SURPLUS, 0444},
                 {"nr_overcommit_hugepages", ATTR_OVERCOMMIT, 0644}};

    for (gsize a = 0; a < G_N_ELEMENTS(attrs); a++) {
      g_autofree char *path = g_strdup_printf("%s/%s", dir, attrs[a].name);
      put(hp, path, attrs[a].mode, pool, attrs[a].attr, TRUE);
    }
    for (guint n = 0; n < hp->nodes; n++) {
      g_autofree char *node_dir = g_strdup_printf(
          SYS_NODES "/node%u/hugepages/hugepages-%" G_GUINT64_FORMAT "kB", n, pool->size_kib);
      g_autofree char *nr = g_strdup_printf("%s/nr_hugepages", node_dir);
      g_autofree char *free_pages = g_strdup_printf("%s/free_hugepages", node_dir);
      g_autofree char *surplus = g_strdup_printf("%s/surplus_hugepages", node_dir);

      put(hp, nr, 0644, pool, NODE_ATTR(ATTR_NODE_NR, n), TRUE);
      put(hp, free_pages, 0444, pool, NODE_ATTR(ATTR_NODE_FREE, n), TRUE);
      put(hp, surplus, 0444, pool, NODE_ATTR(ATTR_NODE_SURPLUS, n), TRUE);
    }
    if (pool->size_kib == DEFAULT_KIB) {
      put(hp, PROC_VM "/nr_hugepages", 0644, pool, ATTR_NR, FALSE);
      put(hp, PROC_VM "/nr_overcommit_hugepages", 0644, pool, ATTR_OVERCOMMIT, FALSE);
    }
  }
  put(hp, PROC_VM "/compact_memory", 0200, NULL, ATTR_COMPACT, FALSE);
  put(hp, PROC_VM "/drop_caches", 0200, NULL, ATTR_DROP_CACHES, FALSE);
  put(hp, SYS_NODES "/online", 0444, NULL, ATTR_NODES_ONLINE, TRUE);
  put(hp, SYS_NODES "/possible", 0444, NULL, ATTR_NODES_ONLINE, TRUE);
  put(hp, SYS_NODES "/has_memory", 0444, NULL, ATTR_NODES_ONLINE, TRUE);
  for (guint n = 0; n < hp->nodes; n++) {
    g_autofree char *cpulist = g_strdup_printf(SYS_NODES "/node%u/cpulist", n);
    put(hp, cpulist, 0444, NULL, NODE_ATTR(ATTR_NODE_CPULIST, n), TRUE);
  }
  put_cpus(hp);
}

VxmSimHugepages *
vxm_sim_hugepages_new(VxmSimHost *host, VxmSimMachine *machine, guint64 mem_total_kib, guint cpus,
                      GError **error)
{
  g_autoptr(VxmSimHugepages) hp = g_new0(VxmSimHugepages, 1);
  g_auto(GStrv) sizes = NULL;
  gint64 nodes;

  hp->host = host;
  hp->cpus = cpus;
  hp->pools = g_ptr_array_new_with_free_func((GDestroyNotify)pool_free);
  vxm_sim_machine_has_group(machine, GROUP);
  if (!vxm_sim_machine_get_int(machine, GROUP, "nodes", 1, MAX_NODES, 1, &nodes, error) ||
      !vxm_sim_machine_get_list(machine, GROUP, "sizes_kib", &sizes, error))
    return NULL;
  hp->nodes = nodes;
  if (sizes[0] == NULL) {
    g_strfreev(sizes);
    sizes = g_strsplit("2048,1048576", ",", -1);
  }
  for (guint i = 0; sizes[i] != NULL; i++) {
    guint64 size;
    if (!g_ascii_string_to_unsigned(sizes[i], 10, 4, G_MAXUINT32, &size, NULL))
      return vxm_sim_machine_error(machine, error, GROUP, "sizes_kib",
                                   "'%s' is not a page size in KiB (2048, 1048576)", sizes[i]),
             NULL;
    if (!load_pool(hp, machine, size, mem_total_kib, error))
      return NULL;
  }
  build_tree(hp);
  return g_steal_pointer(&hp);
}

void
vxm_sim_hugepages_dump_state(VxmSimHugepages *hp, GPtrArray *lines)
{
  for (guint i = 0; i < hp->pools->len; i++) {
    Pool *pool = hp->pools->pdata[i];
    for (guint n = 0; n < pool->nodes; n++)
      g_ptr_array_add(lines, g_strdup_printf("hugepages %" G_GUINT64_FORMAT
                                             "kB node%u nr=%" G_GUINT64_FORMAT,
                                             pool->size_kib, n, pool->nr[n]));
    g_ptr_array_add(lines, g_strdup_printf("hugepages %" G_GUINT64_FORMAT
                                           "kB overcommit=%" G_GUINT64_FORMAT,
                                           pool->size_kib, pool->overcommit));
  }
}

void
vxm_sim_hugepages_meminfo(VxmSimHugepages *hp, GString *out)
{
  guint64 hugetlb = 0;
  Pool *def = NULL;

  for (guint i = 0; i < hp->pools->len; i++) {
    Pool *pool = hp->pools->pdata[i];
    hugetlb += pool_total(pool) * pool->size_kib;
    if (pool->size_kib == DEFAULT_KIB)
      def = pool;
  }
  g_string_append_printf(out, "HugePages_Total: %7" G_GUINT64_FORMAT "\n",
                         def ? pool_total(def) : 0);
  g_string_append_printf(out, "HugePages_Free:  %7" G_GUINT64_FORMAT "\n",
                         def ? pool_total(def) : 0);
  g_string_append(out, "HugePages_Rsvd:        0\nHugePages_Surp:        0\n");
  g_string_append_printf(out, "Hugepagesize:   %8d kB\n", DEFAULT_KIB);
  g_string_append_printf(out, "Hugetlb:        %8" G_GUINT64_FORMAT " kB\n", hugetlb);
}
