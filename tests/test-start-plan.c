/* The start planner (plan/vxm-start-planner.h) on every simulated workstation of
 * tests/simhost: one VM with the default config (QEMU's capabilities from
 * tests/data/qemu-caps-7.2.json, so no QEMU is probed), planned by calling the planner
 * directly, and its plan as `vxm start --dry-run --json` prints it compared with
 * tests/data/start-plan/MACHINE.json (a refused start: {"error": ...}). A change to any
 * decision shows as a diff there; VXM_TEST_REGENERATE_OUTPUT=1 rewrites the files.
 * The simulated root and this test's own folders stand as @ROOT@ and @HOME@. */
#include <string.h>

#include "common/vxm-error.h"
#include "plan/vxm-start-planner.h"
#include "vxm-simhost-fixture.h"
#include "vxm-test-util.h"

#define VM "win11"

static char *home;

static VxmQemuCaps *
caps_from_file(const char *binary, gpointer user_data, GError **error)
{
  g_autofree char *path = vxm_test_source_path("tests/data/qemu-caps-7.2.json");

  (void)binary;
  (void)user_data;
  return vxm_qemu_caps_load(path, error);
}

static char *
replace_all(const char *text, const char *from, const char *to)
{
  g_auto(GStrv) parts = g_strsplit(text, from, -1);

  return g_strjoinv(to, parts);
}

/* The plan (or the refusal) as text, with the folders that differ from run to run named. */
static char *
plan_text(const char *root, VxmStartPlan *plan, const GError *error)
{
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;
  g_autofree char *rooted = NULL;
  g_autofree char *homed = NULL;

  if (plan != NULL) {
    node = vxm_start_plan_to_json(plan);
  } else {
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "error");
    json_builder_add_string_value(b, error->message);
    json_builder_end_object(b);
    node = json_builder_get_root(b);
  }
  text = json_to_string(node, TRUE);
  /* the home first: the temporary folders share a prefix, the root is not inside it */
  homed = replace_all(text, home, "@HOME@");
  rooted = replace_all(homed, root, "@ROOT@");
  return g_strconcat(rooted, "\n", NULL);
}

/* A default config whose QEMU is absolute, so the argv does not depend on this machine's PATH. */
static VxmVmConfig *
new_config(void)
{
  VxmVmConfig *config = vxm_vm_config_new(VM);

  g_free(config->qemu_binary);
  config->qemu_binary = g_strdup("/usr/bin/qemu-system-x86_64");
  return config;
}

static void
test_machine(gconstpointer data)
{
  const char *machine = data;
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmStartPlan) plan = NULL;
  g_autoptr(VxmVmPaths) paths = NULL;
  g_autoptr(VxmVmConfig) config = NULL;
  g_autofree char *golden = g_strdup_printf("tests/data/start-plan/%s.json", machine);
  g_autofree char *actual = NULL;
  VxmStartContext ctx = {.qemu_caps = caps_from_file};

  sim = vxm_simhost_start_for_test(machine);
  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  ctx.hostfs = hostfs;
  paths = vxm_vm_paths_new(VM, &error);
  g_assert_no_error(error);
  config = new_config();
  plan = vxm_start_plan_build(&ctx, g_steal_pointer(&paths), g_steal_pointer(&config), &error);
  g_assert_true((plan == NULL) == (error != NULL));
  actual = plan_text(vxm_simhost_root(sim), plan, error);
  vxm_test_check_golden(golden, actual, "VXM_TEST_REGENERATE_OUTPUT");
}

/* The planner never writes what it observed into the facts: the argvs differ in their
 * hugepage backend only through the plan's decisions. */
static void
test_facts_untouched(void)
{
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmStartPlan) plan = NULL;
  g_autoptr(VxmVmPaths) paths = NULL;
  VxmVmConfig *config;
  VxmStartContext ctx = {.qemu_caps = caps_from_file};

  /* eight 1 GiB pages on the GPU's node: hugepages and pinning are both decided */
  sim = vxm_simhost_start_for_test("xeon-two-node");
  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  ctx.hostfs = hostfs;
  paths = vxm_vm_paths_new(VM, &error);
  g_assert_no_error(error);
  config = new_config();
  plan = vxm_start_plan_build(&ctx, g_steal_pointer(&paths), config, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(plan->hugepage_size, >, 0);
  g_assert_cmpuint(plan->facts->hugepage_bytes, ==, 0);
  g_assert_cmpint(plan->facts->hugepage_node, ==, -1);
  g_assert_nonnull(plan->pinning);
  g_assert_cmpuint(plan->sockets * plan->cores * plan->threads, ==, plan->pinning->vcpus);
  {
    g_autoptr(VxmSupervisorPlan) sv = vxm_start_plan_to_supervisor_plan(plan, &error);
    g_autoptr(JsonNode) a = NULL;
    g_autoptr(JsonNode) b = NULL;

    g_assert_no_error(error);
    /* a copy of the struct, whole */
    g_assert_true(sv->pinning != plan->pinning);
    a = vxm_cpu_pinning_plan_to_json(sv->pinning);
    b = vxm_cpu_pinning_plan_to_json(plan->pinning);
    g_assert_true(json_node_equal(a, b));
    g_assert_cmpuint(sv->hugepage_size, ==, plan->hugepage_size);
  }
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
  return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
  g_autofree char *dir_path = vxm_test_source_path("tests/simhost");
  g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
  g_autoptr(GPtrArray) machines = g_ptr_array_new_with_free_func(g_free);
  static const char *const xdg[] = {"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
                                    "XDG_RUNTIME_DIR", "XDG_CACHE_HOME"};
  const char *entry;
  int status;

  g_test_init(&argc, &argv, NULL);
  home = vxm_test_mkdtemp();
  g_setenv("HOME", home, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS(xdg); i++) {
    g_autofree char *sub = g_build_filename(home, xdg[i], NULL);

    g_mkdir_with_parents(sub, 0700);
    g_setenv(xdg[i], sub, TRUE);
  }
  g_assert_nonnull(dir);
  while ((entry = g_dir_read_name(dir)) != NULL)
    if (g_str_has_suffix(entry, ".machine"))
      g_ptr_array_add(machines, g_strndup(entry, strlen(entry) - strlen(".machine")));
  g_ptr_array_sort(machines, compare_names);
  g_assert_cmpuint(machines->len, >, 0);
  for (guint i = 0; i < machines->len; i++) {
    const char *name = g_ptr_array_index(machines, i);
    g_autofree char *path = g_strdup_printf("/start-plan/golden/%s", name);

    g_test_add_data_func(path, name, test_machine);
  }
  g_test_add_func("/start-plan/facts-untouched", test_facts_untouched);
  status = g_test_run();
  vxm_test_rm_rf(home);
  g_free(home);
  return status;
}
