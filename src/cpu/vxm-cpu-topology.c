/* vxm-cpu-topology: reads the host's CPU topology from sysfs under the host root. */
#include "vxm-cpu-topology.h"

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "cpu/vxm-cpu-list.h"

struct _VxmCpuTopology {
  GArray *online;     /* guint */
  GPtrArray *cores;   /* VxmCpuCore */
  GPtrArray *l3;      /* VxmCpuCache */
  GArray *nodes;      /* guint */
  GHashTable *by_cpu; /* cpu -> VxmCpuCore (borrowed) */
  guint n_packages;
  gboolean hybrid;
};

static void
cpu_core_free(VxmCpuCore *core)
{
  g_array_unref(core->cpus);
  g_free(core);
}

static void
cpu_cache_free(VxmCpuCache *cache)
{
  g_array_unref(cache->cpus);
  g_free(cache);
}

void
vxm_cpu_topology_free(VxmCpuTopology *self)
{
  if (self == NULL)
    return;
  g_clear_pointer(&self->online, g_array_unref);
  g_clear_pointer(&self->cores, g_ptr_array_unref);
  g_clear_pointer(&self->l3, g_ptr_array_unref);
  g_clear_pointer(&self->nodes, g_array_unref);
  g_clear_pointer(&self->by_cpu, g_hash_table_unref);
  g_free(self);
}

/* A CPU list attribute restricted to @online; NULL (no error) when the file is missing. */
static GArray *
read_cpu_list(VxmHostfs *hostfs, const char *host_path, const GArray *online, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GArray) all = NULL;
  g_autoptr(GArray) out = vxm_cpu_list_new();

  if (!vxm_hostfs_exists(hostfs, host_path))
    return NULL;
  text = vxm_hostfs_read_attr(hostfs, host_path, error);
  if (text == NULL)
    return NULL;
  all = vxm_cpu_list_parse(text, host_path, error);
  if (all == NULL)
    return NULL;
  for (guint i = 0; i < all->len; i++) {
    guint cpu = g_array_index(all, guint, i);
    if (online == NULL || vxm_cpu_list_contains(online, cpu))
      g_array_append_val(out, cpu);
  }
  return g_steal_pointer(&out);
}

static gint
read_int_or(VxmHostfs *hostfs, const char *host_path, gint fallback)
{
  gint64 v;

  if (!vxm_hostfs_exists(hostfs, host_path) ||
      !vxm_hostfs_read_attr_int64(hostfs, host_path, 10, &v, NULL))
    return fallback;
  return (gint)v;
}

/* The L3 cache CPUs of @cpu (from cache/indexN with level 3), or NULL when none is shown. */
static GArray *
read_l3_of_cpu(VxmHostfs *hostfs, guint cpu, const GArray *online, GError **error)
{
  g_autofree char *dir = g_strdup_printf(VXM_HOST_SYS_CPUS "/cpu%u/cache", cpu);
  g_autoptr(GPtrArray) names = NULL;

  if (!vxm_hostfs_is_dir(hostfs, dir))
    return NULL;
  names = vxm_hostfs_list_dir(hostfs, dir, error);
  if (names == NULL)
    return NULL;
  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    g_autofree char *level_path = NULL;
    g_autofree char *shared_path = NULL;

    if (!g_str_has_prefix(name, "index"))
      continue;
    level_path = g_strdup_printf("%s/%s/level", dir, name);
    if (read_int_or(hostfs, level_path, -1) != 3)
      continue;
    shared_path = g_strdup_printf("%s/%s/shared_cpu_list", dir, name);
    return read_cpu_list(hostfs, shared_path, online, error);
  }
  return NULL;
}

/* Marks cores listed by a hybrid PMU's cpus file with @type. */
static gboolean
read_core_type(VxmCpuTopology *self, VxmHostfs *hostfs, const char *pmu_dir, VxmCpuCoreType type,
               GError **error)
{
  g_autofree char *path = g_strdup_printf("%s/cpus", pmu_dir);
  g_autoptr(GArray) cpus = NULL;
  g_autoptr(GError) local_error = NULL;

  cpus = read_cpu_list(hostfs, path, self->online, &local_error);
  if (cpus == NULL) {
    if (local_error != NULL) {
      g_propagate_error(error, g_steal_pointer(&local_error));
      return FALSE;
    }
    return TRUE;
  }
  for (guint i = 0; i < cpus->len; i++) {
    VxmCpuCore *core =
        g_hash_table_lookup(self->by_cpu, GUINT_TO_POINTER(g_array_index(cpus, guint, i)));
    if (core != NULL)
      core->type = type;
  }
  self->hybrid = TRUE;
  return TRUE;
}

static gboolean
read_nodes(VxmCpuTopology *self, VxmHostfs *hostfs, GError **error)
{
  g_autoptr(GPtrArray) names = NULL;

  if (!vxm_hostfs_is_dir(hostfs, VXM_HOST_SYS_NODES))
    return TRUE;
  names = vxm_hostfs_list_dir(hostfs, VXM_HOST_SYS_NODES, error);
  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    guint64 node;
    g_autofree char *path = NULL;
    g_autoptr(GArray) cpus = NULL;
    g_autoptr(GError) local_error = NULL;

    if (!g_str_has_prefix(name, "node") || !vxm_parse_uint64(name + 4, 10, &node) ||
        node > G_MAXINT)
      continue;
    path = g_strdup_printf(VXM_HOST_SYS_NODES "/%s/cpulist", name);
    cpus = read_cpu_list(hostfs, path, self->online, &local_error);
    if (local_error != NULL) {
      g_propagate_error(error, g_steal_pointer(&local_error));
      return FALSE;
    }
    if (cpus == NULL || cpus->len == 0)
      continue; /* a memory-only node */
    vxm_cpu_list_add(self->nodes, (guint)node);
    for (guint c = 0; c < cpus->len; c++) {
      VxmCpuCore *core =
          g_hash_table_lookup(self->by_cpu, GUINT_TO_POINTER(g_array_index(cpus, guint, c)));
      if (core != NULL)
        core->node = (gint)node;
    }
  }
  return TRUE;
}

static gboolean
read_cores(VxmCpuTopology *self, VxmHostfs *hostfs, GError **error)
{
  g_autoptr(GHashTable) by_siblings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) packages = g_hash_table_new(NULL, NULL);

  for (guint i = 0; i < self->online->len; i++) {
    guint cpu = g_array_index(self->online, guint, i);
    g_autofree char *dir = g_strdup_printf(VXM_HOST_SYS_CPUS "/cpu%u/topology", cpu);
    g_autofree char *core_cpus = g_strdup_printf("%s/core_cpus_list", dir);
    g_autofree char *siblings = g_strdup_printf("%s/thread_siblings_list", dir);
    g_autofree char *package_path = g_strdup_printf("%s/physical_package_id", dir);
    g_autofree char *core_id_path = g_strdup_printf("%s/core_id", dir);
    g_autoptr(GArray) sibling_cpus = NULL;
    g_autoptr(GError) local_error = NULL;
    g_autofree char *key = NULL;
    VxmCpuCore *core;

    if (!vxm_hostfs_is_dir(hostfs, dir)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                  "CPU %u is online but %s is missing: the kernel shows no CPU topology", cpu, dir);
      return FALSE;
    }
    sibling_cpus = read_cpu_list(hostfs, core_cpus, self->online, &local_error);
    if (sibling_cpus == NULL && local_error == NULL)
      sibling_cpus = read_cpu_list(hostfs, siblings, self->online, &local_error);
    if (local_error != NULL) {
      g_propagate_error(error, g_steal_pointer(&local_error));
      return FALSE;
    }
    if (sibling_cpus == NULL || !vxm_cpu_list_contains(sibling_cpus, cpu)) {
      g_clear_pointer(&sibling_cpus, g_array_unref);
      sibling_cpus = vxm_cpu_list_new();
      g_array_append_val(sibling_cpus, cpu);
    }
    key = vxm_cpu_list_format(sibling_cpus);
    core = g_hash_table_lookup(by_siblings, key);
    if (core == NULL) {
      core = g_new0(VxmCpuCore, 1);
      core->index = self->cores->len;
      core->package = read_int_or(hostfs, package_path, 0);
      core->core_id = read_int_or(hostfs, core_id_path, (gint)cpu);
      core->node = -1;
      core->l3 = -1;
      core->cpus = g_array_ref(sibling_cpus);
      g_ptr_array_add(self->cores, core);
      g_hash_table_insert(by_siblings, g_steal_pointer(&key), core);
      g_hash_table_add(packages, GINT_TO_POINTER(core->package + 1));
    }
    g_hash_table_insert(self->by_cpu, GUINT_TO_POINTER(cpu), core);
  }
  self->n_packages = g_hash_table_size(packages);
  return TRUE;
}

static gboolean
read_caches(VxmCpuTopology *self, VxmHostfs *hostfs, GError **error)
{
  for (guint i = 0; i < self->online->len; i++) {
    guint cpu = g_array_index(self->online, guint, i);
    VxmCpuCore *core = g_hash_table_lookup(self->by_cpu, GUINT_TO_POINTER(cpu));
    g_autoptr(GArray) shared = NULL;
    g_autoptr(GError) local_error = NULL;
    VxmCpuCache *cache = NULL;

    if (core->l3 >= 0)
      continue;
    shared = read_l3_of_cpu(hostfs, cpu, self->online, &local_error);
    if (local_error != NULL) {
      g_propagate_error(error, g_steal_pointer(&local_error));
      return FALSE;
    }
    if (shared == NULL || shared->len == 0)
      continue;
    for (guint k = 0; k < self->l3->len && cache == NULL; k++) {
      VxmCpuCache *c = g_ptr_array_index(self->l3, k);
      if (vxm_cpu_list_contains(c->cpus, cpu))
        cache = c;
    }
    if (cache == NULL) {
      cache = g_new0(VxmCpuCache, 1);
      cache->index = self->l3->len;
      cache->cpus = g_steal_pointer(&shared);
      g_ptr_array_add(self->l3, cache);
    }
    core->l3 = (gint)cache->index;
  }
  return TRUE;
}

VxmCpuTopology *
vxm_cpu_topology_read(VxmHostfs *hostfs, GError **error)
{
  g_autoptr(VxmCpuTopology) self = g_new0(VxmCpuTopology, 1);
  g_autofree char *online_text = NULL;

  self->cores = g_ptr_array_new_with_free_func((GDestroyNotify)cpu_core_free);
  self->l3 = g_ptr_array_new_with_free_func((GDestroyNotify)cpu_cache_free);
  self->nodes = vxm_cpu_list_new();
  self->by_cpu = g_hash_table_new(NULL, NULL);

  online_text = vxm_hostfs_read_attr(hostfs, VXM_HOST_SYS_CPUS "/online", error);
  if (online_text == NULL) {
    g_prefix_error(error, "cannot read the host's CPU topology: ");
    return NULL;
  }
  self->online = vxm_cpu_list_parse(online_text, VXM_HOST_SYS_CPUS "/online", error);
  if (self->online == NULL)
    return NULL;
  if (self->online->len == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "%s lists no CPU",
                VXM_HOST_SYS_CPUS "/online");
    return NULL;
  }
  if (!read_cores(self, hostfs, error) || !read_caches(self, hostfs, error) ||
      !read_nodes(self, hostfs, error) ||
      !read_core_type(self, hostfs, VXM_HOST_SYS_CPU_CORE_PMU, VXM_CPU_CORE_TYPE_PERFORMANCE,
                      error) ||
      !read_core_type(self, hostfs, VXM_HOST_SYS_CPU_ATOM_PMU, VXM_CPU_CORE_TYPE_EFFICIENCY,
                      error)) {
    g_prefix_error(error, "cannot read the host's CPU topology: ");
    return NULL;
  }
  return g_steal_pointer(&self);
}

const GArray *
vxm_cpu_topology_get_online(VxmCpuTopology *self)
{
  return self->online;
}

guint
vxm_cpu_topology_get_n_cores(VxmCpuTopology *self)
{
  return self->cores->len;
}

const VxmCpuCore *
vxm_cpu_topology_get_core(VxmCpuTopology *self, guint index)
{
  g_return_val_if_fail(index < self->cores->len, NULL);
  return g_ptr_array_index(self->cores, index);
}

const VxmCpuCore *
vxm_cpu_topology_get_core_of_cpu(VxmCpuTopology *self, guint cpu)
{
  return g_hash_table_lookup(self->by_cpu, GUINT_TO_POINTER(cpu));
}

guint
vxm_cpu_topology_get_n_l3(VxmCpuTopology *self)
{
  return self->l3->len;
}

const VxmCpuCache *
vxm_cpu_topology_get_l3(VxmCpuTopology *self, guint index)
{
  g_return_val_if_fail(index < self->l3->len, NULL);
  return g_ptr_array_index(self->l3, index);
}

const GArray *
vxm_cpu_topology_get_nodes(VxmCpuTopology *self)
{
  return self->nodes;
}

guint
vxm_cpu_topology_get_n_packages(VxmCpuTopology *self)
{
  return self->n_packages;
}

gboolean
vxm_cpu_topology_is_hybrid(VxmCpuTopology *self)
{
  return self->hybrid;
}

const char *
vxm_cpu_core_type_to_string(VxmCpuCoreType type)
{
  switch (type) {
  case VXM_CPU_CORE_TYPE_PERFORMANCE: return "P";
  case VXM_CPU_CORE_TYPE_EFFICIENCY: return "E";
  case VXM_CPU_CORE_TYPE_UNKNOWN: break;
  }
  return "-";
}

char *
vxm_cpu_topology_describe(VxmCpuTopology *self)
{
  GString *out = g_string_new(NULL);
  guint max_threads = 1, n_p = 0, n_e = 0;

  for (guint i = 0; i < self->cores->len; i++) {
    const VxmCpuCore *core = g_ptr_array_index(self->cores, i);
    max_threads = MAX(max_threads, core->cpus->len);
    n_p += core->type == VXM_CPU_CORE_TYPE_PERFORMANCE;
    n_e += core->type == VXM_CPU_CORE_TYPE_EFFICIENCY;
  }
  g_string_append_printf(out, "%u CPUs in %u cores (up to %u threads each), %u package%s",
                         self->online->len, self->cores->len, max_threads, self->n_packages,
                         self->n_packages == 1 ? "" : "s");
  if (self->hybrid)
    g_string_append_printf(out, ", %u P + %u E cores", n_p, n_e);
  g_string_append_printf(out, ", %u L3 group%s, %u NUMA node%s", self->l3->len,
                         self->l3->len == 1 ? "" : "s", MAX(1u, self->nodes->len),
                         MAX(1u, self->nodes->len) == 1 ? "" : "s");
  return g_string_free(out, FALSE);
}
