/* Tests of the CPU topology reader and the pinning plan, on static sysfs trees of real machine
 * shapes, with golden plans in tests/data/pinning (VXM_TEST_REGENERATE_OUTPUT=1 rewrites them). */
#include <string.h>

#include "common/vxm-error.h"
#include "cpu/vxm-cpu-list.h"
#include "cpu/vxm-cpu-pinning-plan.h"
#include "cpu/vxm-cpu-topology.h"
#include "vxm-test-util.h"

/* One online CPU: its core (siblings), package, L3 group and node. */
static void
write_cpu(const char *root, guint cpu, gint package, gint core_id, const char *siblings,
          const char *l3)
{
  g_autofree char *dir = g_strdup_printf("sys/devices/system/cpu/cpu%u", cpu);
  g_autofree char *p = NULL;
  g_autofree char *pkg = g_strdup_printf("%d", package);
  g_autofree char *core = g_strdup_printf("%d", core_id);

  p = g_strdup_printf("%s/topology/physical_package_id", dir);
  vxm_test_write_file(root, p, pkg);
  g_free(p);
  p = g_strdup_printf("%s/topology/core_id", dir);
  vxm_test_write_file(root, p, core);
  g_free(p);
  p = g_strdup_printf("%s/topology/thread_siblings_list", dir);
  vxm_test_write_file(root, p, siblings);
  g_free(p);
  p = g_strdup_printf("%s/topology/core_cpus_list", dir);
  vxm_test_write_file(root, p, siblings);
  g_free(p);
  /* L1 and L2 first, so the reader must look for level 3 */
  p = g_strdup_printf("%s/cache/index0/level", dir);
  vxm_test_write_file(root, p, "1\n");
  g_free(p);
  p = g_strdup_printf("%s/cache/index0/shared_cpu_list", dir);
  vxm_test_write_file(root, p, siblings);
  g_free(p);
  p = g_strdup_printf("%s/cache/index2/level", dir);
  vxm_test_write_file(root, p, "2\n");
  g_free(p);
  p = g_strdup_printf("%s/cache/index2/shared_cpu_list", dir);
  vxm_test_write_file(root, p, siblings);
  g_free(p);
  if (l3 != NULL) {
    p = g_strdup_printf("%s/cache/index3/level", dir);
    vxm_test_write_file(root, p, "3\n");
    g_free(p);
    p = g_strdup_printf("%s/cache/index3/shared_cpu_list", dir);
    vxm_test_write_file(root, p, l3);
  }
}

static void
write_node(const char *root, guint node, const char *cpulist)
{
  g_autofree char *p = g_strdup_printf("sys/devices/system/node/node%u/cpulist", node);
  vxm_test_write_file(root, p, cpulist);
}

/* A 6-core/12-thread desktop (Ryzen 5 / Core i5 layout: CPU k and k+6 are siblings). */
static void
machine_desktop(const char *root)
{
  vxm_test_write_file(root, "sys/devices/system/cpu/online", "0-11\n");
  for (guint c = 0; c < 12; c++) {
    g_autofree char *sib = g_strdup_printf("%u,%u\n", c % 6, c % 6 + 6);
    write_cpu(root, c, 0, (gint)(c % 6), sib, "0-11\n");
  }
  write_node(root, 0, "0-11\n");
}

/* A Ryzen 9 5950X: 16 cores/32 threads, two CCDs with an L3 each (0-7,16-23 and 8-15,24-31). */
static void
machine_ryzen_2ccd(const char *root)
{
  vxm_test_write_file(root, "sys/devices/system/cpu/online", "0-31\n");
  for (guint c = 0; c < 32; c++) {
    guint core = c % 16;
    g_autofree char *sib = g_strdup_printf("%u,%u\n", core, core + 16);
    write_cpu(root, c, 0, (gint)core, sib, core < 8 ? "0-7,16-23\n" : "8-15,24-31\n");
  }
  write_node(root, 0, "0-31\n");
}

/* An Intel hybrid (Core i9-13900K): 8 P cores with SMT (CPUs 0-15, siblings adjacent) and 16 E
 * cores (CPUs 16-31), one L3, the cpu_core and cpu_atom PMUs. */
static void
machine_intel_hybrid(const char *root)
{
  vxm_test_write_file(root, "sys/devices/system/cpu/online", "0-31\n");
  for (guint c = 0; c < 16; c++) {
    g_autofree char *sib = g_strdup_printf("%u-%u\n", c & ~1u, (c & ~1u) + 1);
    write_cpu(root, c, 0, (gint)(c / 2 * 4), sib, "0-31\n");
  }
  for (guint c = 16; c < 32; c++) {
    g_autofree char *sib = g_strdup_printf("%u\n", c);
    write_cpu(root, c, 0, (gint)(32 + c - 16), sib, "0-31\n");
  }
  vxm_test_write_file(root, "sys/devices/cpu_core/cpus", "0-15\n");
  vxm_test_write_file(root, "sys/devices/cpu_atom/cpus", "16-31\n");
  write_node(root, 0, "0-31\n");
}

/* A two-socket machine: 2 x 8 cores with SMT, one NUMA node and L3 per socket. */
static void
machine_two_node(const char *root)
{
  vxm_test_write_file(root, "sys/devices/system/cpu/online", "0-31\n");
  for (guint c = 0; c < 32; c++) {
    guint core = c % 16, pkg = core / 8;
    g_autofree char *sib = g_strdup_printf("%u,%u\n", core, core + 16);
    write_cpu(root, c, (gint)pkg, (gint)(core % 8), sib, pkg == 0 ? "0-7,16-23\n" : "8-15,24-31\n");
  }
  write_node(root, 0, "0-7,16-23\n");
  write_node(root, 1, "8-15,24-31\n");
  vxm_test_write_file(root, "sys/devices/system/node/node2/cpulist", "\n"); /* memory only */
}

typedef void (*MachineFunc)(const char *root);

/* Each machine's tree is written once and shared by the tests (removed at the end). */
static GHashTable *machine_roots; /* MachineFunc -> root */

static const char *
machine_root(MachineFunc machine)
{
  char *root = g_hash_table_lookup(machine_roots, machine);

  if (root == NULL) {
    root = vxm_test_mkdtemp();
    machine(root);
    g_hash_table_insert(machine_roots, machine, root);
  }
  return root;
}

static void
remove_machine_root(gpointer key, gpointer value, gpointer data)
{
  vxm_test_rm_rf(value);
}

static VxmCpuTopology *
read_machine(MachineFunc machine, char **out_root)
{
  g_autofree char *root = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GError) error = NULL;
  VxmCpuTopology *topology;

  if (out_root != NULL) {
    /* a private copy the test may change */
    root = vxm_test_mkdtemp();
    machine(root);
  } else {
    root = g_strdup(machine_root(machine));
  }
  hostfs = vxm_hostfs_new(root);
  topology = vxm_cpu_topology_read(hostfs, &error);
  g_assert_no_error(error);
  if (out_root != NULL)
    *out_root = g_steal_pointer(&root);
  return topology;
}

static void
request_init(VxmCpuPinningRequest *req)
{
  memset(req, 0, sizeof(*req));
  req->mode = VXM_VM_CPU_PINNING_AUTO;
  req->host_cores = 1;
  req->gpu_node = -1;
}

typedef struct {
  const char *golden;
  MachineFunc machine;
  VxmVmCpuPinning mode;
  const char *list;
  guint vcpus;
  guint threads;
  guint host_cores;
  gint gpu_node;
} GoldenCase;

static const GoldenCase golden_cases[] = {
    {"desktop-6c12t", machine_desktop, VXM_VM_CPU_PINNING_AUTO, NULL, 0, 0, 1, -1},
    {"desktop-6c12t-4vcpus", machine_desktop, VXM_VM_CPU_PINNING_AUTO, NULL, 4, 0, 1, -1},
    {"desktop-6c12t-host2", machine_desktop, VXM_VM_CPU_PINNING_AUTO, NULL, 0, 0, 2, -1},
    {"desktop-6c12t-list", machine_desktop, VXM_VM_CPU_PINNING_LIST, "2-5,8-11", 0, 0, 1, -1},
    {"desktop-6c12t-off", machine_desktop, VXM_VM_CPU_PINNING_OFF, NULL, 0, 0, 1, -1},
    {"ryzen-2ccd", machine_ryzen_2ccd, VXM_VM_CPU_PINNING_AUTO, NULL, 0, 0, 1, -1},
    {"ryzen-2ccd-16vcpus", machine_ryzen_2ccd, VXM_VM_CPU_PINNING_AUTO, NULL, 16, 0, 1, -1},
    {"ryzen-2ccd-8vcpus", machine_ryzen_2ccd, VXM_VM_CPU_PINNING_AUTO, NULL, 8, 0, 1, -1},
    {"intel-hybrid", machine_intel_hybrid, VXM_VM_CPU_PINNING_AUTO, NULL, 0, 0, 1, -1},
    {"intel-hybrid-20vcpus", machine_intel_hybrid, VXM_VM_CPU_PINNING_AUTO, NULL, 20, 0, 1, -1},
    {"two-node-gpu1", machine_two_node, VXM_VM_CPU_PINNING_AUTO, NULL, 0, 0, 1, 1},
    {"two-node-gpu1-20vcpus", machine_two_node, VXM_VM_CPU_PINNING_AUTO, NULL, 20, 0, 1, 1},
    {"two-node-no-gpu-node", machine_two_node, VXM_VM_CPU_PINNING_AUTO, NULL, 0, 0, 1, -1},
};

static char *
plan_text(const GoldenCase *gc)
{
  g_autoptr(VxmCpuTopology) topology = read_machine(gc->machine, NULL);
  g_autoptr(VxmCpuPinningPlan) plan = NULL;
  g_autoptr(GArray) list = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *describe = vxm_cpu_topology_describe(topology);
  g_autofree char *body = NULL;
  VxmCpuPinningRequest req;

  request_init(&req);
  req.mode = gc->mode;
  req.vcpus = gc->vcpus;
  req.threads_per_core = gc->threads;
  req.host_cores = gc->host_cores;
  req.gpu_node = gc->gpu_node;
  if (gc->list != NULL) {
    list = vxm_cpu_list_parse(gc->list, "test", &error);
    g_assert_no_error(error);
    req.list = list;
  }
  plan = vxm_cpu_pinning_plan_new(topology, &req, &error);
  g_assert_no_error(error);
  body = vxm_cpu_pinning_plan_to_string(plan);
  return g_strdup_printf("host: %s\ngpu numa node: %d\n%s", describe, gc->gpu_node, body);
}

static void
test_golden(gconstpointer data)
{
  const GoldenCase *gc = data;
  g_autofree char *relative = g_strdup_printf("tests/data/pinning/%s.txt", gc->golden);
  g_autofree char *actual = plan_text(gc);

  vxm_test_check_golden(relative, actual, "VXM_TEST_REGENERATE_OUTPUT");
}

/* Properties every auto plan must have, whatever the golden files say. */
static void
test_auto_invariants(void)
{
  for (guint i = 0; i < G_N_ELEMENTS(golden_cases); i++) {
    const GoldenCase *gc = &golden_cases[i];
    g_autoptr(VxmCpuTopology) topology = read_machine(gc->machine, NULL);
    g_autoptr(VxmCpuPinningPlan) plan = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) list = NULL;
    VxmCpuPinningRequest req;

    request_init(&req);
    req.mode = gc->mode;
    req.vcpus = gc->vcpus;
    req.host_cores = gc->host_cores;
    req.gpu_node = gc->gpu_node;
    if (gc->list != NULL) {
      list = vxm_cpu_list_parse(gc->list, "test", &error);
      req.list = list;
    }
    plan = vxm_cpu_pinning_plan_new(topology, &req, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(plan->sockets * plan->cores * plan->threads, ==, plan->vcpus);
    if (!plan->pinned)
      continue;
    g_assert_cmpuint(plan->vcpu_cpus->len, ==, plan->vcpus);
    for (guint v = 0; v < plan->vcpu_cpus->len; v++) {
      guint cpu = g_array_index(plan->vcpu_cpus, guint, v);
      const VxmCpuCore *core = vxm_cpu_topology_get_core_of_cpu(topology, cpu);
      /* no host CPU runs two vCPUs, none runs QEMU's other threads too */
      for (guint w = v + 1; w < plan->vcpu_cpus->len; w++)
        g_assert_cmpuint(cpu, !=, g_array_index(plan->vcpu_cpus, guint, w));
      g_assert_false(vxm_cpu_list_contains(plan->emulator_cpus, cpu));
      /* the threads of one guest core are SMT siblings of one host core */
      if (plan->threads > 1 && v % plan->threads != 0) {
        guint first = g_array_index(plan->vcpu_cpus, guint, v - v % plan->threads);
        g_assert_true(core == vxm_cpu_topology_get_core_of_cpu(topology, first));
      }
      /* auto never touches the host's kept cores */
      if (gc->mode == VXM_VM_CPU_PINNING_AUTO)
        g_assert_false(vxm_cpu_list_contains(plan->host_cpus, cpu));
    }
  }
}

static void
test_topology_read(void)
{
  g_autoptr(VxmCpuTopology) hybrid = read_machine(machine_intel_hybrid, NULL);
  g_autoptr(VxmCpuTopology) ryzen = read_machine(machine_ryzen_2ccd, NULL);
  g_autoptr(VxmCpuTopology) numa = read_machine(machine_two_node, NULL);
  const VxmCpuCore *core;

  g_assert_true(vxm_cpu_topology_is_hybrid(hybrid));
  g_assert_cmpuint(vxm_cpu_topology_get_n_cores(hybrid), ==, 24);
  core = vxm_cpu_topology_get_core_of_cpu(hybrid, 3);
  g_assert_cmpint(core->type, ==, VXM_CPU_CORE_TYPE_PERFORMANCE);
  g_assert_cmpuint(core->cpus->len, ==, 2);
  core = vxm_cpu_topology_get_core_of_cpu(hybrid, 20);
  g_assert_cmpint(core->type, ==, VXM_CPU_CORE_TYPE_EFFICIENCY);
  g_assert_cmpuint(core->cpus->len, ==, 1);

  g_assert_false(vxm_cpu_topology_is_hybrid(ryzen));
  g_assert_cmpuint(vxm_cpu_topology_get_n_l3(ryzen), ==, 2);
  g_assert_cmpint(vxm_cpu_topology_get_core_of_cpu(ryzen, 24)->l3, ==, 1);
  g_assert_cmpint(vxm_cpu_topology_get_core_of_cpu(ryzen, 7)->l3, ==, 0);

  g_assert_cmpuint(vxm_cpu_topology_get_nodes(numa)->len, ==, 2); /* node2 has no CPUs */
  g_assert_cmpuint(vxm_cpu_topology_get_n_packages(numa), ==, 2);
  g_assert_cmpint(vxm_cpu_topology_get_core_of_cpu(numa, 25)->node, ==, 1);
}

/* Offline CPUs (a hot-unplugged core) are not planned on. */
static void
test_topology_offline(void)
{
  g_autofree char *root = NULL;
  g_autoptr(VxmCpuTopology) topology = read_machine(machine_desktop, &root);
  g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;

  vxm_test_write_file(root, "sys/devices/system/cpu/online", "0-4,6-10\n");
  g_clear_pointer(&topology, vxm_cpu_topology_free);
  topology = vxm_cpu_topology_read(hostfs, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(vxm_cpu_topology_get_online(topology)->len, ==, 10);
  g_assert_null(vxm_cpu_topology_get_core_of_cpu(topology, 5));
  g_assert_cmpuint(vxm_cpu_topology_get_core_of_cpu(topology, 11) == NULL, ==, TRUE);
  vxm_test_rm_rf(root);
}

static void
test_topology_missing(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmCpuTopology) topology = NULL;

  vxm_test_write_file(root, "sys/devices/system/cpu/online", "0-x\n");
  topology = vxm_cpu_topology_read(hostfs, &error);
  g_assert_null(topology);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
  g_assert_nonnull(strstr(error->message, "/sys/devices/system/cpu/online"));
  vxm_test_rm_rf(root);
}

static void
expect_plan_error(MachineFunc machine, VxmCpuPinningRequest *req, const char *needle)
{
  g_autoptr(VxmCpuTopology) topology = read_machine(machine, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmCpuPinningPlan) plan = vxm_cpu_pinning_plan_new(topology, req, &error);

  g_assert_null(plan);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_CONFIG);
  if (strstr(error->message, needle) == NULL)
    g_error("'%s' not in: %s", needle, error->message);
}

static void
test_plan_errors(void)
{
  VxmCpuPinningRequest req;
  g_autoptr(GArray) list = vxm_cpu_list_parse("2,3,40", "test", NULL);

  request_init(&req);
  req.vcpus = 12;
  expect_plan_error(machine_desktop, &req,
                    "vcpus = 12 needs 6 cores of 2 threads, but only 5 are free");
  request_init(&req);
  req.host_cores = 6;
  expect_plan_error(machine_desktop, &req, "host_cores = 6 leaves no core for the guest");
  request_init(&req);
  req.mode = VXM_VM_CPU_PINNING_LIST;
  req.list = list;
  expect_plan_error(machine_desktop, &req, "lists CPU 40, which this host does not have online");
  request_init(&req);
  req.vcpus = 5;
  req.threads_per_core = 2;
  expect_plan_error(machine_desktop, &req,
                    "vcpus = 5 cannot be split into cores of threads_per_core = 2");
}

static void
test_cpu_list(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) cpus = vxm_cpu_list_parse("8-11,0-3,2\n", "x", &error);
  g_autofree char *text = NULL;
  g_autoptr(GArray) bad = NULL;

  g_assert_no_error(error);
  text = vxm_cpu_list_format(cpus);
  g_assert_cmpstr(text, ==, "0-3,8-11");
  bad = vxm_cpu_list_parse("3-1", "/sys/x", &error);
  g_assert_null(bad);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
  g_assert_nonnull(strstr(error->message, "/sys/x holds '3-1'"));
}

static void
test_plan_json(void)
{
  g_autoptr(VxmCpuTopology) topology = read_machine(machine_two_node, NULL);
  g_autoptr(VxmCpuPinningPlan) plan = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;
  VxmCpuPinningRequest req;

  request_init(&req);
  req.gpu_node = 1;
  req.vcpus = 4;
  plan = vxm_cpu_pinning_plan_new(topology, &req, NULL);
  node = vxm_cpu_pinning_plan_to_json(plan);
  text = json_to_string(node, FALSE);
  g_assert_cmpstr(text, ==,
                  "{\"mode\":\"auto\",\"pinned\":true,\"vcpus\":4,\"sockets\":1,\"cores\":2,"
                  "\"threads\":2,\"vcpu_cpus\":[8,24,9,25],\"emulator_cpus\":\"0-7,10-23,26-31\","
                  "\"host_cpus\":\"0,16\",\"numa_node\":1,\"l3_group\":1,\"notes\":[]}");
}

int
main(int argc, char **argv)
{
  int status;

  g_test_init(&argc, &argv, NULL);
  machine_roots = g_hash_table_new_full(NULL, NULL, NULL, g_free);
  for (guint i = 0; i < G_N_ELEMENTS(golden_cases); i++) {
    g_autofree char *name = g_strdup_printf("/vxm/cpu/pinning/golden/%s", golden_cases[i].golden);
    g_test_add_data_func(name, &golden_cases[i], test_golden);
  }
  g_test_add_func("/vxm/cpu/pinning/auto-invariants", test_auto_invariants);
  g_test_add_func("/vxm/cpu/pinning/errors", test_plan_errors);
  g_test_add_func("/vxm/cpu/pinning/json", test_plan_json);
  g_test_add_func("/vxm/cpu/topology/read", test_topology_read);
  g_test_add_func("/vxm/cpu/topology/offline-cpus", test_topology_offline);
  g_test_add_func("/vxm/cpu/topology/malformed", test_topology_missing);
  g_test_add_func("/vxm/cpu/list/parse-format", test_cpu_list);
  status = g_test_run();
  g_hash_table_foreach(machine_roots, remove_machine_root, NULL);
  g_hash_table_unref(machine_roots);
  return status;
}
