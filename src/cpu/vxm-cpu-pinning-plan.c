/* vxm-cpu-pinning-plan: plans vCPU pinning and the -smp topology from the host topology. */
#include "vxm-cpu-pinning-plan.h"

#include "common/vxm-error.h"
#include "cpu/vxm-cpu-list.h"

#define N_TIERS 4

void
vxm_cpu_pinning_request_from_config(VxmCpuPinningRequest *request, const VxmVmConfig *config,
                                    gint gpu_node)
{
  memset(request, 0, sizeof(*request));
  request->mode = config->cpu_pinning;
  request->list = config->cpu_pinning_list;
  request->vcpus = config->vcpus;
  request->threads_per_core = config->threads_per_core;
  request->host_cores = config->host_cores;
  request->gpu_node = gpu_node;
}

VxmCpuPinningPlan *
vxm_cpu_pinning_plan_copy(const VxmCpuPinningPlan *plan)
{
  VxmCpuPinningPlan *copy = g_memdup2(plan, sizeof *plan);

  copy->vcpu_cpus = g_array_copy(plan->vcpu_cpus);
  copy->emulator_cpus = g_array_copy(plan->emulator_cpus);
  copy->host_cpus = g_array_copy(plan->host_cpus);
  copy->notes = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < plan->notes->len; i++)
    g_ptr_array_add(copy->notes, g_strdup(g_ptr_array_index(plan->notes, i)));
  return copy;
}

void
vxm_cpu_pinning_plan_free(VxmCpuPinningPlan *plan)
{
  if (plan == NULL)
    return;
  g_array_unref(plan->vcpu_cpus);
  g_array_unref(plan->emulator_cpus);
  g_array_unref(plan->host_cpus);
  g_ptr_array_unref(plan->notes);
  g_free(plan);
}

static VxmCpuPinningPlan *
plan_new(VxmVmCpuPinning mode)
{
  VxmCpuPinningPlan *plan = g_new0(VxmCpuPinningPlan, 1);

  plan->mode = mode;
  plan->sockets = 1;
  plan->vcpu_cpus = vxm_cpu_list_new();
  plan->emulator_cpus = vxm_cpu_list_new();
  plan->host_cpus = vxm_cpu_list_new();
  plan->node = -1;
  plan->l3 = -1;
  plan->notes = g_ptr_array_new_with_free_func(g_free);
  return plan;
}

/* Every online CPU not in @used; all online CPUs when that leaves none. */
static void
fill_emulator_cpus(VxmCpuPinningPlan *plan, VxmCpuTopology *topology)
{
  const GArray *online = vxm_cpu_topology_get_online(topology);
  g_autoptr(GArray) used = vxm_cpu_list_new();

  for (guint i = 0; i < plan->vcpu_cpus->len; i++)
    vxm_cpu_list_add(used, g_array_index(plan->vcpu_cpus, guint, i));
  for (guint i = 0; i < online->len; i++) {
    guint cpu = g_array_index(online, guint, i);
    if (!vxm_cpu_list_contains(used, cpu))
      g_array_append_val(plan->emulator_cpus, cpu);
  }
  if (plan->emulator_cpus->len == 0) {
    g_array_append_vals(plan->emulator_cpus, online->data, online->len);
    g_ptr_array_add(plan->notes,
                    g_strdup("every CPU runs a vCPU: QEMU's other threads share all of them"));
  }
}

/* The node and L3 group all vCPUs share, or -1. */
static void
fill_locality(VxmCpuPinningPlan *plan, VxmCpuTopology *topology)
{
  for (guint i = 0; i < plan->vcpu_cpus->len; i++) {
    const VxmCpuCore *core =
        vxm_cpu_topology_get_core_of_cpu(topology, g_array_index(plan->vcpu_cpus, guint, i));
    if (i == 0) {
      plan->node = core->node;
      plan->l3 = core->l3;
    } else {
      if (plan->node != core->node)
        plan->node = -1;
      if (plan->l3 != core->l3)
        plan->l3 = -1;
    }
  }
}

static gboolean
plan_list(VxmCpuPinningPlan *plan, VxmCpuTopology *topology, const VxmCpuPinningRequest *req,
          GError **error)
{
  const GArray *online = vxm_cpu_topology_get_online(topology);
  g_autofree char *online_text = vxm_cpu_list_format(online);
  guint n = req->list != NULL ? req->list->len : 0;
  guint threads = req->threads_per_core;

  if (n == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "[cpu] cpu_pinning lists no host CPU: list some (online: %s), or use auto",
                online_text);
    return FALSE;
  }
  for (guint i = 0; i < n; i++) {
    guint cpu = g_array_index(req->list, guint, i);
    if (!vxm_cpu_list_contains(online, cpu)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                  "[cpu] cpu_pinning lists CPU %u, which this host does not have online "
                  "(online: %s): list only online CPUs, or use auto",
                  cpu, online_text);
      return FALSE;
    }
  }
  if (req->vcpus != 0 && req->vcpus != n) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "[cpu] cpu_pinning lists %u host CPUs but vcpus = %u: list one host CPU per "
                "vCPU, or set vcpus = auto",
                n, req->vcpus);
    return FALSE;
  }
  /* The list is a set of host CPUs: the vCPUs take them core by core, so SMT siblings become
   * the threads of one guest core. Whole cores of one width make guest cores of that width. */
  {
    guint width = 0;
    gboolean whole = TRUE;
    for (guint c = 0; c < vxm_cpu_topology_get_n_cores(topology); c++) {
      const VxmCpuCore *core = vxm_cpu_topology_get_core(topology, c);
      guint listed = 0;
      for (guint k = 0; k < core->cpus->len; k++) {
        guint cpu = g_array_index(core->cpus, guint, k);
        gboolean in_list = FALSE;
        for (guint i = 0; i < n && !in_list; i++)
          in_list = g_array_index(req->list, guint, i) == cpu;
        if (in_list) {
          g_array_append_val(plan->vcpu_cpus, cpu);
          listed++;
        }
      }
      if (listed == 0)
        continue;
      if (listed != core->cpus->len || (width != 0 && width != listed))
        whole = FALSE;
      width = listed;
    }
    if (threads == 0)
      threads = whole ? width : 1;
  }
  if (n % threads != 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "[cpu] cpu_pinning lists %u host CPUs, which cannot be split into cores of "
                "threads_per_core = %u: list an even number of CPUs or set threads_per_core = 1",
                n, threads);
    return FALSE;
  }
  plan->pinned = TRUE;
  plan->vcpus = n;
  plan->threads = threads;
  plan->cores = n / threads;
  fill_emulator_cpus(plan, topology);
  g_array_append_vals(plan->host_cpus, plan->emulator_cpus->data, plan->emulator_cpus->len);
  fill_locality(plan, topology);
  return TRUE;
}

/* Lower is better: the GPU's node before the others, P (or uniform) cores before E cores. */
static guint
core_tier(VxmCpuTopology *topology, const VxmCpuCore *core, gint node_pref)
{
  guint tier = 0;

  if (node_pref >= 0 && core->node != node_pref)
    tier += 2;
  if (vxm_cpu_topology_is_hybrid(topology) && core->type == VXM_CPU_CORE_TYPE_EFFICIENCY)
    tier += 1;
  return tier;
}

typedef struct {
  gint l3;
  GPtrArray *cores; /* const VxmCpuCore*, borrowed */
} CoreGroup;

static void
core_group_free(CoreGroup *group)
{
  g_ptr_array_unref(group->cores);
  g_free(group);
}

/* Most cores first; on a tie the lower L3 index. */
static gint
compare_groups(gconstpointer a, gconstpointer b)
{
  const CoreGroup *ga = *(const CoreGroup *const *)a;
  const CoreGroup *gb = *(const CoreGroup *const *)b;

  if (ga->cores->len != gb->cores->len)
    return ga->cores->len > gb->cores->len ? -1 : 1;
  return ga->l3 < gb->l3 ? -1 : (ga->l3 > gb->l3 ? 1 : 0);
}

static gint
compare_cores(gconstpointer a, gconstpointer b)
{
  const VxmCpuCore *ca = *(const VxmCpuCore *const *)a;
  const VxmCpuCore *cb = *(const VxmCpuCore *const *)b;

  return ca->index < cb->index ? -1 : (ca->index > cb->index ? 1 : 0);
}

/* Takes up to @wanted cores from @cores (one tier) into @chosen, from one L3 group when one
 * can hold them all, else from the largest groups first. */
static void
choose_from_tier(GPtrArray *cores, guint wanted, GPtrArray *chosen)
{
  g_autoptr(GPtrArray) groups = g_ptr_array_new_with_free_func((GDestroyNotify)core_group_free);

  for (guint i = 0; i < cores->len; i++) {
    const VxmCpuCore *core = g_ptr_array_index(cores, i);
    CoreGroup *group = NULL;
    for (guint g = 0; g < groups->len && group == NULL; g++) {
      CoreGroup *candidate = g_ptr_array_index(groups, g);
      if (candidate->l3 == core->l3)
        group = candidate;
    }
    if (group == NULL) {
      group = g_new0(CoreGroup, 1);
      group->l3 = core->l3;
      group->cores = g_ptr_array_new();
      g_ptr_array_add(groups, group);
    }
    g_ptr_array_add(group->cores, (gpointer)core);
  }
  g_ptr_array_sort(groups, compare_groups);
  /* The groups are sorted largest first: the first one fits if any does. */
  for (guint g = 0; g < groups->len && wanted > 0; g++) {
    CoreGroup *group = g_ptr_array_index(groups, g);
    for (guint i = 0; i < group->cores->len && wanted > 0; i++, wanted--)
      g_ptr_array_add(chosen, g_ptr_array_index(group->cores, i));
  }
}

static gboolean
plan_auto(VxmCpuPinningPlan *plan, VxmCpuTopology *topology, const VxmCpuPinningRequest *req,
          GError **error)
{
  guint n_cores = vxm_cpu_topology_get_n_cores(topology);
  guint host_cores = MAX(1u, req->host_cores);
  const GArray *nodes = vxm_cpu_topology_get_nodes(topology);
  gint node_pref = -1;
  GPtrArray *tiers[N_TIERS];
  g_autoptr(GPtrArray) chosen = g_ptr_array_new();
  guint threads = req->threads_per_core, vcpus = req->vcpus, wanted, best_tier = N_TIERS;
  guint free_cores = 0;

  if (host_cores >= n_cores) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "[cpu] host_cores = %u leaves no core for the guest: this host has %u cores; "
                "lower host_cores, or set cpu_pinning = off",
                host_cores, n_cores);
    return FALSE;
  }
  if (nodes->len > 1 && req->gpu_node >= 0 && vxm_cpu_list_contains(nodes, (guint)req->gpu_node))
    node_pref = req->gpu_node;

  for (guint i = 0; i < host_cores; i++) {
    const VxmCpuCore *core = vxm_cpu_topology_get_core(topology, i);
    for (guint c = 0; c < core->cpus->len; c++)
      vxm_cpu_list_add(plan->host_cpus, g_array_index(core->cpus, guint, c));
  }

  /* The SMT width of the best free cores decides the guest's threads per core. */
  for (guint t = 0; t < N_TIERS; t++)
    tiers[t] = g_ptr_array_new();
  for (guint i = host_cores; i < n_cores; i++) {
    const VxmCpuCore *core = vxm_cpu_topology_get_core(topology, i);
    guint tier = core_tier(topology, core, node_pref);
    best_tier = MIN(best_tier, tier);
    g_ptr_array_add(tiers[tier], (gpointer)core);
  }
  if (threads == 0) {
    threads = G_MAXUINT;
    for (guint i = 0; i < tiers[best_tier]->len; i++)
      threads =
          MIN(threads, ((const VxmCpuCore *)g_ptr_array_index(tiers[best_tier], i))->cpus->len);
    if (vcpus != 0 && vcpus % threads != 0) {
      g_ptr_array_add(plan->notes,
                      g_strdup_printf("vcpus = %u is not a multiple of %u: the guest gets "
                                      "single-thread cores, one per host core",
                                      vcpus, threads));
      threads = 1;
    }
  }
  if (vcpus != 0 && vcpus % threads != 0) {
    for (guint t = 0; t < N_TIERS; t++)
      g_ptr_array_unref(tiers[t]);
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "[cpu] vcpus = %u cannot be split into cores of threads_per_core = %u: use a "
                "multiple of %u, or threads_per_core = 1",
                vcpus, threads, threads);
    return FALSE;
  }
  /* Only cores with enough threads can hold a guest core. */
  for (guint t = 0; t < N_TIERS; t++) {
    for (guint i = 0; i < tiers[t]->len;) {
      const VxmCpuCore *core = g_ptr_array_index(tiers[t], i);
      if (core->cpus->len < threads)
        g_ptr_array_remove_index(tiers[t], i);
      else
        i++;
    }
    free_cores += tiers[t]->len;
  }
  if (vcpus == 0) {
    for (guint t = 0; t < N_TIERS && vcpus == 0; t++)
      vcpus = tiers[t]->len * threads;
    if (node_pref >= 0)
      g_ptr_array_add(plan->notes, g_strdup_printf("vcpus = auto: the free cores of NUMA node "
                                                   "%d, where the guest GPU is",
                                                   node_pref));
    if (vxm_cpu_topology_is_hybrid(topology) && tiers[best_tier]->len > 0 &&
        ((const VxmCpuCore *)g_ptr_array_index(tiers[best_tier], 0))->type ==
            VXM_CPU_CORE_TYPE_PERFORMANCE)
      g_ptr_array_add(plan->notes,
                      g_strdup("vcpus = auto: P cores only; E cores stay with the host"));
  }
  wanted = vcpus / threads;
  if (wanted > free_cores && req->threads_per_core == 0 && threads > 1 &&
      vcpus <= n_cores - host_cores) {
    /* Not enough cores of that width (E cores have one thread): one vCPU per core. */
    g_ptr_array_add(plan->notes,
                    g_strdup_printf("vcpus = %u do not fit in cores of %u threads: the guest "
                                    "gets single-thread cores, one per host core",
                                    vcpus, threads));
    threads = 1;
    wanted = vcpus;
    free_cores = 0;
    for (guint t = 0; t < N_TIERS; t++)
      g_ptr_array_set_size(tiers[t], 0);
    for (guint i = host_cores; i < n_cores; i++) {
      const VxmCpuCore *core = vxm_cpu_topology_get_core(topology, i);
      g_ptr_array_add(tiers[core_tier(topology, core, node_pref)], (gpointer)core);
      free_cores++;
    }
  }
  if (wanted > free_cores || vcpus == 0) {
    g_autofree char *host_text = vxm_cpu_list_format(plan->host_cpus);
    for (guint t = 0; t < N_TIERS; t++)
      g_ptr_array_unref(tiers[t]);
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "[cpu] vcpus = %u needs %u cores of %u thread%s, but only %u are free after "
                "keeping host_cores = %u (CPUs %s) for the host: lower vcpus or host_cores",
                vcpus, wanted, threads, threads == 1 ? "" : "s", free_cores, host_cores, host_text);
    return FALSE;
  }
  for (guint t = 0; t < N_TIERS; t++) {
    if (chosen->len < wanted)
      choose_from_tier(tiers[t], wanted - chosen->len, chosen);
    g_ptr_array_unref(tiers[t]);
  }
  g_ptr_array_sort(chosen, compare_cores);
  for (guint i = 0; i < chosen->len; i++) {
    const VxmCpuCore *core = g_ptr_array_index(chosen, i);
    for (guint t = 0; t < threads; t++)
      g_array_append_val(plan->vcpu_cpus, g_array_index(core->cpus, guint, t));
  }
  plan->pinned = TRUE;
  plan->vcpus = vcpus;
  plan->threads = threads;
  plan->cores = wanted;
  fill_emulator_cpus(plan, topology);
  fill_locality(plan, topology);
  if (plan->l3 < 0 && vxm_cpu_topology_get_n_l3(topology) > 1)
    g_ptr_array_add(plan->notes,
                    g_strdup("the vCPUs span several L3 groups: fewer vcpus would fit in one"));
  if (node_pref >= 0 && plan->node != node_pref)
    g_ptr_array_add(plan->notes, g_strdup_printf("not every vCPU is on NUMA node %d, where the "
                                                 "guest GPU is: fewer vcpus would fit there",
                                                 node_pref));
  return TRUE;
}

static void
plan_off(VxmCpuPinningPlan *plan, VxmCpuTopology *topology, const VxmCpuPinningRequest *req)
{
  guint host_cores = MAX(1u, req->host_cores);
  guint n_cores = vxm_cpu_topology_get_n_cores(topology);
  guint vcpus = req->vcpus, threads = req->threads_per_core;
  guint width = vxm_cpu_topology_get_core(topology, n_cores - 1)->cpus->len;

  if (vcpus == 0) {
    for (guint i = MIN(host_cores, n_cores - 1); i < n_cores; i++)
      vcpus += vxm_cpu_topology_get_core(topology, i)->cpus->len;
  }
  if (threads == 0)
    threads = vcpus % width == 0 ? width : 1;
  plan->vcpus = vcpus;
  plan->threads = threads;
  plan->cores = vcpus / threads;
}

VxmCpuPinningPlan *
vxm_cpu_pinning_plan_new(VxmCpuTopology *topology, const VxmCpuPinningRequest *request,
                         GError **error)
{
  g_autoptr(VxmCpuPinningPlan) plan = plan_new(request->mode);

  switch (request->mode) {
  case VXM_VM_CPU_PINNING_OFF: plan_off(plan, topology, request); return g_steal_pointer(&plan);
  case VXM_VM_CPU_PINNING_LIST:
    if (!plan_list(plan, topology, request, error))
      return NULL;
    return g_steal_pointer(&plan);
  case VXM_VM_CPU_PINNING_AUTO:
    if (!plan_auto(plan, topology, request, error))
      return NULL;
    return g_steal_pointer(&plan);
  }
  g_assert_not_reached();
}

static const char *
mode_to_string(VxmVmCpuPinning mode)
{
  switch (mode) {
  case VXM_VM_CPU_PINNING_AUTO: return "auto";
  case VXM_VM_CPU_PINNING_OFF: return "off";
  case VXM_VM_CPU_PINNING_LIST: return "list";
  }
  return "?";
}

char *
vxm_cpu_pinning_plan_to_string(const VxmCpuPinningPlan *plan)
{
  GString *out = g_string_new(NULL);
  g_autofree char *emulator = vxm_cpu_list_format(plan->emulator_cpus);
  g_autofree char *host = vxm_cpu_list_format(plan->host_cpus);

  g_string_append_printf(out, "pinning: %s\n", mode_to_string(plan->mode));
  g_string_append_printf(out, "vcpus: %u (%u socket%s, %u core%s, %u thread%s)\n", plan->vcpus,
                         plan->sockets, plan->sockets == 1 ? "" : "s", plan->cores,
                         plan->cores == 1 ? "" : "s", plan->threads, plan->threads == 1 ? "" : "s");
  if (!plan->pinned) {
    g_string_append(out, "vcpu threads: not pinned (the host's scheduler places them)\n");
  } else {
    if (plan->node >= 0)
      g_string_append_printf(out, "numa node: %d\n", plan->node);
    else
      g_string_append(out, "numa node: any\n");
    if (plan->l3 >= 0)
      g_string_append_printf(out, "l3 group: %d\n", plan->l3);
    else
      g_string_append(out, "l3 group: several or unknown\n");
    for (guint i = 0; i < plan->vcpu_cpus->len; i++)
      g_string_append_printf(out, "vcpu %u: cpu %u\n", i, g_array_index(plan->vcpu_cpus, guint, i));
    g_string_append_printf(out, "emulator threads: cpus %s\n", emulator);
    g_string_append_printf(out, "host cpus: %s\n", host);
  }
  for (guint i = 0; i < plan->notes->len; i++)
    g_string_append_printf(out, "note: %s\n", (const char *)g_ptr_array_index(plan->notes, i));
  return g_string_free(out, FALSE);
}

JsonNode *
vxm_cpu_pinning_plan_to_json(const VxmCpuPinningPlan *plan)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autofree char *emulator = vxm_cpu_list_format(plan->emulator_cpus);
  g_autofree char *host = vxm_cpu_list_format(plan->host_cpus);

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "mode");
  json_builder_add_string_value(b, mode_to_string(plan->mode));
  json_builder_set_member_name(b, "pinned");
  json_builder_add_boolean_value(b, plan->pinned);
  json_builder_set_member_name(b, "vcpus");
  json_builder_add_int_value(b, plan->vcpus);
  json_builder_set_member_name(b, "sockets");
  json_builder_add_int_value(b, plan->sockets);
  json_builder_set_member_name(b, "cores");
  json_builder_add_int_value(b, plan->cores);
  json_builder_set_member_name(b, "threads");
  json_builder_add_int_value(b, plan->threads);
  json_builder_set_member_name(b, "vcpu_cpus");
  json_builder_begin_array(b);
  for (guint i = 0; i < plan->vcpu_cpus->len; i++)
    json_builder_add_int_value(b, g_array_index(plan->vcpu_cpus, guint, i));
  json_builder_end_array(b);
  json_builder_set_member_name(b, "emulator_cpus");
  json_builder_add_string_value(b, emulator);
  json_builder_set_member_name(b, "host_cpus");
  json_builder_add_string_value(b, host);
  json_builder_set_member_name(b, "numa_node");
  if (plan->node >= 0)
    json_builder_add_int_value(b, plan->node);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "l3_group");
  if (plan->l3 >= 0)
    json_builder_add_int_value(b, plan->l3);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "notes");
  json_builder_begin_array(b);
  for (guint i = 0; i < plan->notes->len; i++)
    json_builder_add_string_value(b, g_ptr_array_index(plan->notes, i));
  json_builder_end_array(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static gboolean
mode_from_string(const char *text, VxmVmCpuPinning *mode)
{
  static const VxmVmCpuPinning modes[] = {VXM_VM_CPU_PINNING_AUTO, VXM_VM_CPU_PINNING_OFF,
                                          VXM_VM_CPU_PINNING_LIST};

  for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
    if (g_strcmp0(text, mode_to_string(modes[i])) == 0) {
      *mode = modes[i];
      return TRUE;
    }
  }
  return FALSE;
}

static gboolean
cpus_from_member(JsonObject *obj, const char *member, GArray *out, GError **error)
{
  const char *text = json_object_get_string_member_with_default(obj, member, "");
  g_autoptr(GArray) cpus = vxm_cpu_list_parse(text, member, error);

  if (cpus == NULL)
    return FALSE;
  for (guint i = 0; i < cpus->len; i++)
    vxm_cpu_list_add(out, g_array_index(cpus, guint, i));
  return TRUE;
}

VxmCpuPinningPlan *
vxm_cpu_pinning_plan_from_json(JsonNode *node, GError **error)
{
  g_autoptr(VxmCpuPinningPlan) plan = NULL;
  VxmVmCpuPinning mode;
  JsonObject *obj;
  JsonArray *vcpus;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "a pinning plan is a JSON object");
    return NULL;
  }
  obj = json_node_get_object(node);
  if (!mode_from_string(json_object_get_string_member_with_default(obj, "mode", NULL), &mode)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "a pinning plan without a valid mode");
    return NULL;
  }
  plan = plan_new(mode);
  plan->pinned = json_object_get_boolean_member_with_default(obj, "pinned", FALSE);
  plan->sockets = (guint)CLAMP(json_object_get_int_member_with_default(obj, "sockets", 1), 1, 4096);
  plan->cores = (guint)CLAMP(json_object_get_int_member_with_default(obj, "cores", 1), 1, 4096);
  plan->threads = (guint)CLAMP(json_object_get_int_member_with_default(obj, "threads", 1), 1, 8);
  plan->vcpus = plan->sockets * plan->cores * plan->threads;
  vcpus = json_object_has_member(obj, "vcpu_cpus") ? json_object_get_array_member(obj, "vcpu_cpus")
                                                   : NULL;
  for (guint i = 0; vcpus != NULL && i < json_array_get_length(vcpus); i++) {
    gint64 cpu = json_array_get_int_element(vcpus, i);

    if (cpu < 0 || cpu >= VXM_CPU_LIST_MAX) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                  "pinning plan: vCPU %u on CPU %" G_GINT64_FORMAT, i, cpu);
      return NULL;
    }
    g_array_append_val(plan->vcpu_cpus, (guint){(guint)cpu});
  }
  if (plan->pinned && plan->vcpu_cpus->len != plan->vcpus) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "pinning plan: %u vCPUs but %u pinned CPUs",
                plan->vcpus, plan->vcpu_cpus->len);
    return NULL;
  }
  if (!cpus_from_member(obj, "emulator_cpus", plan->emulator_cpus, error) ||
      !cpus_from_member(obj, "host_cpus", plan->host_cpus, error)) {
    g_prefix_error(error, "pinning plan: ");
    return NULL;
  }
  if (json_object_has_member(obj, "numa_node") && !json_object_get_null_member(obj, "numa_node"))
    plan->node = (gint)json_object_get_int_member(obj, "numa_node");
  if (json_object_has_member(obj, "l3_group") && !json_object_get_null_member(obj, "l3_group"))
    plan->l3 = (gint)json_object_get_int_member(obj, "l3_group");
  if (json_object_has_member(obj, "notes")) {
    JsonArray *notes = json_object_get_array_member(obj, "notes");

    for (guint i = 0; notes != NULL && i < json_array_get_length(notes); i++)
      g_ptr_array_add(plan->notes, g_strdup(json_array_get_string_element(notes, i)));
  }
  return g_steal_pointer(&plan);
}
