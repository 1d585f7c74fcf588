/* Tests of hugepage pools and reservations: static trees for reading and decisions, the
 * simulated workstation (vxm-simhost) for what the kernel does to writes: per-node pools,
 * the fragmentation limit that compaction raises, short reservations, 1 GiB pages, restoring
 * the previous count, the journal and its undo. The real kernel is in test-host-resources. */
#include <string.h>

#include "common/vxm-error.h"
#include "journal/vxm-journal.h"
#include "memory/vxm-hugepages.h"
#include "ops/vxm-host-ops-local.h"
#include "vxm-simhost-fixture.h"
#include "vxm-test-util.h"

#define GIB           (G_GUINT64_CONSTANT(1) << 30)
#define HP2M_NR       "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
#define NODE1_HP2M_NR "/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"
#define NODE0_HP2M_NR "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"

/* A static tree with a global 2 MiB pool (and optionally nodes). */
static void
write_pool(const char *root, const char *dir, guint64 nr, guint64 free_pages, gboolean global)
{
  g_autofree char *nr_text = g_strdup_printf("%" G_GUINT64_FORMAT "\n", nr);
  g_autofree char *free_text = g_strdup_printf("%" G_GUINT64_FORMAT "\n", free_pages);
  g_autofree char *p = NULL;

  p = g_strdup_printf("%s/nr_hugepages", dir);
  vxm_test_write_file(root, p, nr_text);
  g_free(p);
  p = g_strdup_printf("%s/free_hugepages", dir);
  vxm_test_write_file(root, p, free_text);
  g_free(p);
  p = g_strdup_printf("%s/surplus_hugepages", dir);
  vxm_test_write_file(root, p, "0\n");
  if (global) {
    g_free(p);
    p = g_strdup_printf("%s/resv_hugepages", dir);
    vxm_test_write_file(root, p, "0\n");
  }
}

static void
test_pools_read(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmHugepagePools) pools = NULL;
  const VxmHugepagePool *pool;

  write_pool(root, "sys/kernel/mm/hugepages/hugepages-2048kB", 300, 200, TRUE);
  write_pool(root, "sys/kernel/mm/hugepages/hugepages-1048576kB", 8, 8, TRUE);
  write_pool(root, "sys/devices/system/node/node0/hugepages/hugepages-2048kB", 100, 100, FALSE);
  write_pool(root, "sys/devices/system/node/node1/hugepages/hugepages-2048kB", 200, 100, FALSE);
  write_pool(root, "sys/devices/system/node/node1/hugepages/hugepages-1048576kB", 8, 8, FALSE);
  vxm_test_write_file(root, "sys/devices/system/node/online", "0-1\n");

  pools = vxm_hugepage_pools_read(hostfs, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(vxm_hugepage_pools_get_sizes(pools)->len, ==, 2);
  g_assert_cmpuint(g_array_index(vxm_hugepage_pools_get_sizes(pools), guint64, 0), ==,
                   VXM_HUGEPAGE_SIZE_2M);
  g_assert_true(vxm_hugepage_pools_has_size(pools, VXM_HUGEPAGE_SIZE_1G));
  g_assert_cmpuint(vxm_hugepage_pools_get_nodes(pools)->len, ==, 2);
  pool = vxm_hugepage_pools_get(pools, VXM_HUGEPAGE_SIZE_2M, 1);
  g_assert_nonnull(pool);
  g_assert_cmpuint(pool->nr, ==, 200);
  g_assert_cmpuint(pool->free, ==, 100);
  pool = vxm_hugepage_pools_get(pools, VXM_HUGEPAGE_SIZE_2M, -1);
  g_assert_cmpuint(pool->nr, ==, 300);
  g_assert_null(vxm_hugepage_pools_get(pools, VXM_HUGEPAGE_SIZE_1G, 0));
  g_assert_cmpuint(vxm_hugepage_pools_get_n_pools(pools), ==, 5);
  vxm_test_rm_rf(root);
}

/* Pages reserved at boot and still free are used as they are: nothing is written. */
static void
test_already_reserved(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmHugepages) hp = NULL;
  g_autofree char *nr = NULL;
  VxmHugepagesRequest req;

  write_pool(root, "sys/kernel/mm/hugepages/hugepages-2048kB", 4096, 4096, TRUE);
  vxm_hugepages_request_init(&req);
  req.setting = VXM_VM_HUGEPAGES_2M;
  hp = vxm_hugepages_reserve(hostfs, 8 * GIB, &req, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(hp->page_size, ==, VXM_HUGEPAGE_SIZE_2M);
  g_assert_cmpuint(hp->pages, ==, 4096);
  g_assert_false(hp->changed);
  g_assert_cmpuint(hp->attempts, ==, 0);
  nr = vxm_hostfs_read_attr(hostfs, HP2M_NR, NULL);
  g_assert_cmpstr(nr, ==, "4096");
  /* no drop_caches or compact_memory either: the static tree has neither file */
  g_assert_true(vxm_hugepages_release(hp, hostfs, NULL, &error));
  vxm_test_rm_rf(root);
}

static void
test_decisions(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmHugepages) hp = NULL;
  VxmHugepagesRequest req;

  /* no hugetlb at all: auto runs on normal memory and says so */
  vxm_hugepages_request_init(&req);
  hp = vxm_hugepages_reserve(hostfs, 8 * GIB, &req, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(hp->page_size, ==, 0);
  g_assert_nonnull(strstr(hp->warning, "offers no hugepages"));
  g_clear_pointer(&hp, vxm_hugepages_free);

  write_pool(root, "sys/kernel/mm/hugepages/hugepages-2048kB", 0, 0, TRUE);
  /* off: nothing */
  req.setting = VXM_VM_HUGEPAGES_OFF;
  hp = vxm_hugepages_reserve(hostfs, 8 * GIB, &req, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(hp->page_size, ==, 0);
  g_assert_null(hp->warning);
  g_clear_pointer(&hp, vxm_hugepages_free);

  /* 1G asked on a host without 1 GiB pages */
  req.setting = VXM_VM_HUGEPAGES_1G;
  hp = vxm_hugepages_reserve(hostfs, 8 * GIB, &req, &error);
  g_assert_null(hp);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED);
  g_assert_nonnull(strstr(error->message, "no 1 GiB pages"));
  g_clear_error(&error);

  /* a size that is not whole pages */
  write_pool(root, "sys/kernel/mm/hugepages/hugepages-1048576kB", 0, 0, TRUE);
  hp = vxm_hugepages_reserve(hostfs, 8 * GIB + 512 * 1024 * 1024, &req, &error);
  g_assert_null(hp);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_CONFIG);
  g_assert_nonnull(strstr(error->message, "not a whole number of 1 GiB pages"));
  vxm_test_rm_rf(root);
}

/* ---- on the simulated workstation ---- */

static VxmSimhost *
start_machine(const char *contents, char **out_dir)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *path = g_build_filename(dir, "hugepages.machine", NULL);
  g_autoptr(GError) error = NULL;
  VxmSimhost *sim;

  g_file_set_contents(path, contents, -1, &error);
  g_assert_no_error(error);
  sim = vxm_simhost_start(path, &error);
  g_assert_no_error(error);
  *out_dir = g_steal_pointer(&dir);
  return sim;
}

/* One node; 2048 pages obtainable now, 12288 after compaction; 512 reserved at boot. */
#define FRAGMENTED_MACHINE                                                       \
  "[machine]\ndescription=fragmented memory\ncpus=2\nmem_total_kib=25165824\n\n" \
  "[hugepages]\nnodes=1\nsizes_kib=2048,1048576\n2048kB_obtainable=2048\n"       \
  "2048kB_obtainable_compacted=12288\n2048kB_reserved=512\n"

static char *
read_host(VxmHostfs *hostfs, const char *host_path)
{
  g_autoptr(GError) error = NULL;
  char *text = vxm_hostfs_read_attr(hostfs, host_path, &error);
  g_assert_no_error(error);
  return text;
}

typedef struct {
  guint calls;
  guint last_attempt;
  guint64 last_obtained;
} Progress;

static void
on_progress(const char *message, guint attempt, guint64 obtained, guint64 target, gpointer data)
{
  Progress *p = data;
  p->calls++;
  p->last_attempt = attempt;
  p->last_obtained = obtained;
}

/* Without compaction the fragmentation limit leaves the reservation short; the error has the
 * count obtained and the fixes, and the pool is back at its previous count. With compaction
 * (the default) the same reservation succeeds, and release restores the previous count
 * (512), not zero. */
static void
test_sim_fragmentation(void)
{
  g_autofree char *dir = NULL;
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmHugepages) hp = NULL;
  g_autofree char *nr = NULL;
  g_autofree char *log = NULL;
  VxmHugepagesRequest req;
  Progress progress = {0};

  if (!vxm_test_require_root())
    return;
  sim = start_machine(FRAGMENTED_MACHINE, &dir);
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));

  vxm_hugepages_request_init(&req);
  req.setting = VXM_VM_HUGEPAGES_2M;
  req.compact = FALSE;
  req.drop_caches = FALSE;
  hp = vxm_hugepages_reserve(hostfs, 8 * GIB, &req, &error);
  g_assert_null(hp);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NO_SPACE);
  /* 512 free at boot + 1536 more up to the 2048 limit, of 4096 */
  if (strstr(error->message, "only 2048 of the 4096 2 MiB pages") == NULL ||
      strstr(error->message, "hugepagesz=2M hugepages=4096") == NULL ||
      strstr(error->message, "close memory-hungry programs") == NULL ||
      strstr(error->message, "hugepages_fallback") == NULL ||
      strstr(error->message, "back at 512") == NULL)
    g_error("unexpected message: %s", error->message);
  g_clear_error(&error);
  nr = read_host(hostfs, HP2M_NR);
  g_assert_cmpstr(nr, ==, "512");
  g_clear_pointer(&nr, g_free);
  log = vxm_simhost_read_log(sim);
  g_assert_null(strstr(log, "compact_memory"));
  g_assert_null(strstr(log, "drop_caches"));
  g_clear_pointer(&log, g_free);
  vxm_simhost_clear_log(sim);

  vxm_hugepages_request_init(&req);
  req.setting = VXM_VM_HUGEPAGES_2M;
  req.progress = on_progress;
  req.progress_data = &progress;
  hp = vxm_hugepages_reserve(hostfs, 8 * GIB, &req, &error);
  g_assert_no_error(error);
  g_assert_true(hp->changed);
  g_assert_cmpuint(hp->previous, ==, 512);
  g_assert_cmpuint(hp->target, ==, 4096 + 0); /* 512 free + 3584 more */
  g_assert_cmpuint(hp->attempts, ==, 1);
  g_assert_cmpuint(progress.last_obtained, ==, 4096);
  g_assert_cmpuint(progress.calls, >=, 3);
  nr = read_host(hostfs, HP2M_NR);
  g_assert_cmpstr(nr, ==, "4096");
  g_clear_pointer(&nr, g_free);
  log = vxm_simhost_read_log(sim);
  /* drop caches, then compact, then write the target */
  g_assert_nonnull(strstr(log, "1 write /proc/sys/vm/drop_caches 3 -> ok\n"));
  g_assert_nonnull(strstr(log, "2 write /proc/sys/vm/compact_memory 1 -> ok\n"));
  g_assert_nonnull(strstr(log, "nr_hugepages 4096 -> ok\n"));

  g_assert_true(vxm_hugepages_release(hp, hostfs, NULL, &error));
  g_assert_no_error(error);
  nr = read_host(hostfs, HP2M_NR);
  g_assert_cmpstr(nr, ==, "512");
  /* idempotent */
  g_assert_true(vxm_hugepages_release(hp, hostfs, NULL, &error));
  vxm_test_rm_rf(dir);
}

/* Short with hugepages_fallback: normal memory, a warning with the counts, pool restored. */
static void
test_sim_fallback(void)
{
  g_autofree char *dir = NULL;
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmHugepages) hp = NULL;
  g_autofree char *nr = NULL;
  VxmHugepagesRequest req;

  if (!vxm_test_require_root())
    return;
  sim = start_machine(FRAGMENTED_MACHINE, &dir);
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  vxm_hugepages_request_init(&req);
  req.fallback = TRUE;
  req.max_tries = 2;
  /* 32 GiB: more than even compaction gives (12288 pages = 24 GiB) */
  hp = vxm_hugepages_reserve(hostfs, 32 * GIB, &req, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(hp->page_size, ==, 0);
  g_assert_false(hp->changed);
  g_assert_cmpuint(hp->attempts, ==, 2);
  if (strstr(hp->warning, "only 12288 of the 16384 2 MiB pages") == NULL ||
      strstr(hp->warning, "normal memory") == NULL)
    g_error("unexpected warning: %s", hp->warning);
  nr = read_host(hostfs, HP2M_NR);
  g_assert_cmpstr(nr, ==, "512");
  vxm_test_rm_rf(dir);
}

/* Two nodes, GPU on node 1: the 2 MiB pages come from node 1's pool; node 0 is untouched.
 * 1 GiB pages reserved at boot on node 1 are used by auto without a write. */
static void
test_sim_numa(void)
{
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmHugepages) hp = NULL;
  g_autofree char *nr = NULL;
  g_autofree char *log = NULL;
  g_autofree char *state_before = NULL;
  g_autofree char *state_after = NULL;
  VxmHugepagesRequest req;

  sim = vxm_simhost_start_for_test("xeon-two-node");
  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  state_before = vxm_simhost_state(sim);

  vxm_hugepages_request_init(&req);
  req.setting = VXM_VM_HUGEPAGES_2M;
  req.node = 1;
  hp = vxm_hugepages_reserve(hostfs, 16 * GIB, &req, &error);
  g_assert_no_error(error);
  g_assert_cmpint(hp->node, ==, 1);
  g_assert_cmpuint(hp->pages, ==, 8192);
  nr = read_host(hostfs, NODE1_HP2M_NR);
  g_assert_cmpstr(nr, ==, "8192");
  g_clear_pointer(&nr, g_free);
  nr = read_host(hostfs, NODE0_HP2M_NR);
  g_assert_cmpstr(nr, ==, "0");
  g_clear_pointer(&nr, g_free);
  log = vxm_simhost_read_log(sim);
  g_assert_nonnull(strstr(log, "write " NODE1_HP2M_NR " 8192 -> ok\n"));
  g_assert_null(strstr(log, "node0/hugepages"));
  g_assert_true(vxm_hugepages_release(hp, hostfs, NULL, &error));
  state_after = vxm_simhost_state(sim);
  g_assert_cmpstr(state_after, ==, state_before);
  g_clear_pointer(&hp, vxm_hugepages_free);

  /* auto with 8 GiB: the eight 1 GiB pages reserved at boot on node 1 */
  vxm_simhost_clear_log(sim);
  vxm_hugepages_request_init(&req);
  req.node = 1;
  hp = vxm_hugepages_reserve(hostfs, 8 * GIB, &req, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(hp->page_size, ==, VXM_HUGEPAGE_SIZE_1G);
  g_assert_cmpint(hp->node, ==, 1);
  g_assert_false(hp->changed);
  g_clear_pointer(&log, g_free);
  log = vxm_simhost_read_log(sim);
  g_assert_cmpstr(log, ==, "");
  g_clear_pointer(&hp, vxm_hugepages_free);

  /* auto with 16 GiB: 8 more 1 GiB pages cannot be had at run time, so 2 MiB pages */
  hp = vxm_hugepages_reserve(hostfs, 16 * GIB, &req, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(hp->page_size, ==, VXM_HUGEPAGE_SIZE_2M);
  g_assert_cmpint(hp->node, ==, 1);
  nr = read_host(hostfs,
                 "/sys/devices/system/node/node1/hugepages/hugepages-1048576kB/nr_hugepages");
  g_assert_cmpstr(nr, ==, "8"); /* the 1 GiB try was given back */
  g_assert_true(vxm_hugepages_release(hp, hostfs, NULL, &error));
  g_clear_pointer(&state_after, g_free);
  state_after = vxm_simhost_state(sim);
  g_assert_cmpstr(state_after, ==, state_before);
}

/* 1G explicitly: reserved at run time when the machine can give them. */
static guint
count_lines_with(const char *text, const char *needle)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    n += strstr(lines[i], needle) != NULL;
  return n;
}

static void
test_sim_1g(void)
{
  g_autofree char *dir = NULL;
  g_autofree char *log = NULL;
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmHugepages) hp = NULL;
  g_autofree char *nr = NULL;
  g_autofree char *desc = NULL;
  VxmHugepagesRequest req;

  if (!vxm_test_require_root())
    return;
  sim = start_machine("[machine]\ndescription=1G\ncpus=2\nmem_total_kib=25165824\n\n"
                      "[hugepages]\nnodes=1\nsizes_kib=2048,1048576\n"
                      "1048576kB_obtainable=2\n1048576kB_obtainable_compacted=6\n"
                      "1048576kB_reserved=1\n",
                      &dir);
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  vxm_hugepages_request_init(&req);
  req.setting = VXM_VM_HUGEPAGES_1G;
  hp = vxm_hugepages_reserve(hostfs, 4 * GIB, &req, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(hp->page_size, ==, VXM_HUGEPAGE_SIZE_1G);
  g_assert_cmpuint(hp->previous, ==, 1);
  g_assert_cmpuint(hp->target, ==, 4);
  desc = vxm_hugepages_describe(hp);
  g_assert_cmpstr(desc, ==, "4 x 1 GiB pages (4 GiB), pool 1 -> 4");
  nr = read_host(hostfs, "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages");
  g_assert_cmpstr(nr, ==, "4");
  g_clear_pointer(&nr, g_free);
  g_assert_true(vxm_hugepages_release(hp, hostfs, NULL, &error));
  nr = read_host(hostfs, "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages");
  g_assert_cmpstr(nr, ==, "1");
  g_clear_pointer(&hp, vxm_hugepages_free);
  g_clear_pointer(&nr, g_free);

  /* 8 GiB: the kernel cannot give 8 even compacted: the error tells the boot option */
  hp = vxm_hugepages_reserve(hostfs, 8 * GIB, &req, &error);
  g_assert_null(hp);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NO_SPACE);
  if (strstr(error->message, "only 6 of the 8 1 GiB pages") == NULL ||
      strstr(error->message, "hugepagesz=1G hugepages=8") == NULL)
    g_error("unexpected message: %s", error->message);
  nr = read_host(hostfs, "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages");
  g_assert_cmpstr(nr, ==, "1");
  g_clear_pointer(&nr, g_free);

  /* auto, 8 GiB: the 1 GiB pool gets one try (not the whole retry budget), the caches are
   * dropped once, and the guest gets 2 MiB pages */
  g_clear_error(&error);
  vxm_simhost_clear_log(sim);
  req.setting = VXM_VM_HUGEPAGES_AUTO;
  hp = vxm_hugepages_reserve(hostfs, 8 * GIB, &req, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(hp->page_size, ==, VXM_HUGEPAGE_SIZE_2M);
  log = vxm_simhost_read_log(sim);
  g_assert_cmpuint(count_lines_with(log, "hugepages-1048576kB/nr_hugepages"), ==,
                   2); /* try, back */
  g_assert_cmpuint(count_lines_with(log, "drop_caches"), ==, 1);
  g_assert_true(vxm_hugepages_release(hp, hostfs, NULL, &error));
  g_assert_no_error(error);
  nr = read_host(hostfs, "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages");
  g_assert_cmpstr(nr, ==, "1");
  vxm_test_rm_rf(dir);
}

/* The journal has the previous count before the pool is touched; after a crash (no release),
 * undo gives the pool back, and a second undo has nothing to do. */
static void
test_sim_journal_undo(void)
{
  g_autofree char *dir = NULL;
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmHugepages) hp = NULL;
  g_autoptr(VxmJournal) journal = NULL;
  g_autoptr(VxmJournal) loaded = NULL;
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *nr = NULL;
  VxmJournalEntry *entry;
  VxmJournalUndoContext ctx = {0};
  VxmHugepagesRequest req;

  if (!vxm_test_require_root())
    return;
  vxm_hugepages_register_journal_kind();
  sim = start_machine(FRAGMENTED_MACHINE, &dir);
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  journal = vxm_journal_new(hostfs, "win11", &error);
  g_assert_no_error(error);

  vxm_hugepages_request_init(&req);
  req.journal = journal;
  hp = vxm_hugepages_reserve(hostfs, 4 * GIB, &req, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(hp->page_size, ==, VXM_HUGEPAGE_SIZE_2M); /* no 1 GiB pages obtainable */
  g_assert_cmpint(hp->journal_index, >=, 0);

  /* what is on disk: the failed 1 GiB try undone, then the 2 MiB one done, with previous */
  loaded = vxm_journal_load(hostfs, "win11", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(vxm_journal_get_n_entries(loaded), ==, 2);
  entry = vxm_journal_get_entry(loaded, 0);
  g_assert_cmpstr(entry->kind, ==, "hugepages");
  g_assert_cmpint(entry->state, ==, VXM_JOURNAL_STATE_UNDONE);
  g_assert_cmpint(json_object_get_int_member(entry->data, "page_size_kb"), ==, 1048576);
  entry = vxm_journal_get_entry(loaded, 1);
  g_assert_cmpint(entry->state, ==, VXM_JOURNAL_STATE_DONE);
  g_assert_cmpint(json_object_get_int_member(entry->data, "page_size_kb"), ==, 2048);
  g_assert_cmpint(json_object_get_int_member(entry->data, "previous"), ==, 512);
  g_assert_cmpint(json_object_get_int_member(entry->data, "target"), ==, 2048);
  g_assert_cmpint(json_object_get_int_member(entry->data, "node"), ==, -1);

  /* the supervisor "crashed": recover undoes from the journal */
  ctx.hostfs = hostfs;
  g_assert_true(vxm_journal_undo(loaded, &ctx, report, &error));
  g_assert_no_error(error);
  nr = read_host(hostfs, HP2M_NR);
  g_assert_cmpstr(nr, ==, "512");
  g_assert_cmpuint(report->len, >=, 1);
  g_assert_false(vxm_journal_exists(hostfs, "win11"));

  /* the undo checks the host: an entry whose write never happened needs nothing */
  {
    g_autoptr(VxmJournal) again = vxm_journal_new(hostfs, "win11", &error);
    guint index;
    g_autoptr(JsonObject) data = json_object_new();
    g_assert_no_error(error);
    json_object_set_int_member(data, "page_size_kb", 2048);
    json_object_set_int_member(data, "node", -1);
    json_object_set_int_member(data, "previous", 512);
    json_object_set_int_member(data, "target", 9999);
    g_assert_true(vxm_journal_begin(again, "hugepages", data, &index, &error));
    vxm_simhost_clear_log(sim);
    g_assert_true(vxm_journal_undo(again, &ctx, NULL, &error));
    g_assert_no_error(error);
    g_clear_pointer(&nr, g_free);
    nr = vxm_simhost_read_log(sim);
    g_assert_null(strstr(nr, "nr_hugepages")); /* nothing written */
  }
  vxm_test_rm_rf(dir);
}

/* Through the supervisor's local host ops (what `vxm start` as root uses): reserve on the
 * GPU's node, journaled under the VM's name; release by VM name; restore_all after a "crash". */
static void
test_sim_host_ops(void)
{
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(VxmHostOps) ops = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *nr = NULL;
  VxmHostOpsHugepages hp2m = {.page_size = VXM_HUGEPAGE_SIZE_2M,
                              .count = 4096,
                              .node = 1,
                              .drop_caches = TRUE,
                              .compact = TRUE};

  sim = vxm_simhost_start_for_test("xeon-two-node");
  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  ops = vxm_host_ops_local_new(hostfs);
  before = vxm_simhost_state(sim);

  g_assert_true(vxm_host_ops_reserve_hugepages(ops, "win11", &hp2m, NULL, report, &error));
  g_assert_no_error(error);
  nr = read_host(hostfs, NODE1_HP2M_NR);
  g_assert_cmpstr(nr, ==, "4096");
  g_assert_cmpuint(report->len, ==, 1);
  g_assert_nonnull(strstr(g_ptr_array_index(report, 0), "on NUMA node 1"));
  g_assert_true(vxm_journal_exists(hostfs, "win11"));
  g_assert_true(vxm_host_ops_release_hugepages(ops, "win11", report, &error));
  g_assert_no_error(error);
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);

  /* reserved again, then restore_all (teardown or recover) gives it back too */
  hp2m.count = 2048;
  g_assert_true(vxm_host_ops_reserve_hugepages(ops, "win11", &hp2m, NULL, report, &error));
  g_assert_true(vxm_host_ops_restore_all(ops, "win11", NULL, report, &error));
  g_assert_no_error(error);
  g_clear_pointer(&after, g_free);
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
  g_assert_false(vxm_journal_exists(hostfs, "win11"));
}

/* `vxm start --dry-run --json` for an 8 GiB guest on @sim's GPU 0000:af:00.0 (NUMA node 1):
 * its "hugepages" object and "hugepages_why"; @human gets the human-readable plan. */
static JsonObject *
dry_run(VxmSimhost *sim, const char *extra_memory, char **out_why, char **out_human)
{
  g_autofree char *home = vxm_test_mkdtemp();
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  g_autofree char *config = g_strdup_printf("[gpu]\naddress = af:00.0\n\n"
                                            "[memory]\nsize = 8G\n%s\n"
                                            "[network]\nmac = 02:5e:a7:00:00:09\n\n"
                                            "[audio]\nbackend = none\n\n"
                                            "[security]\ntpm = off\n",
                                            extra_memory);
  g_autofree char *e_path = g_strdup_printf("PATH=%s", g_getenv("PATH"));
  g_auto(GStrv) env =
      vxm_test_user_env(home, NULL, (const char *const[]){e_path, "NO_COLOR=1", NULL});
  const char *const *envp = (const char *const *)env;
  const char *json_argv[] = {
      vxm, "start", "win11", "--dry-run", "--json", "--root", vxm_simhost_root(sim), NULL};
  const char *human_argv[] = {vxm, "start", "win11", "--dry-run", "--root", vxm_simhost_root(sim),
                              NULL};
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  JsonObject *root, *hp;
  int status;

  vxm_test_write_file(home, ".config/vxm/vms/win11.conf", config);
  status = vxm_test_run(json_argv, envp, &out, &err);
  if (status != 0)
    g_error("vxm start --dry-run --json: %d\n%s%s", status, out, err);
  g_assert_true(json_parser_load_from_data(parser, out, -1, &error));
  g_assert_no_error(error);
  root = json_node_get_object(json_parser_get_root(parser));
  *out_why = g_strdup(json_object_get_string_member_with_default(root, "hugepages_why", ""));
  hp = json_object_get_object_member(root, "hugepages");
  g_assert_nonnull(hp);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  status = vxm_test_run(human_argv, envp, out_human, &err);
  g_assert_cmpint(status, ==, 0);
  vxm_test_rm_rf(home);
  return json_object_ref(hp);
}

static char *
read_machine_with(const char *from, const char *to)
{
  g_autofree char *path = vxm_test_source_path("tests/simhost/xeon-two-node.machine");
  g_autofree char *text = NULL;
  g_autoptr(GString) s = NULL;

  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  s = g_string_new(text);
  g_assert_cmpuint(g_string_replace(s, from, to, 1), ==, 1);
  return g_string_free(g_steal_pointer(&s), FALSE);
}

#define NODE1_HP1G_NR "/sys/devices/system/node/node1/hugepages/hugepages-1048576kB/nr_hugepages"
#define NODE0_HP1G_NR "/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages"

/* hugepages = auto as `vxm start` does it, GPU on node 1 with eight 1 GiB pages reserved there
 * at boot: the dry run plans them and says why; the host ops (auto) take them, writing
 * nothing. */
static void
test_sim_auto_start_1g(void)
{
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(VxmHostOps) ops = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(JsonObject) hp = NULL;
  g_autofree char *why = NULL;
  g_autofree char *human = NULL;
  g_autofree char *log = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  JsonObject *alt;
  VxmHostOpsHugepages req = {.auto_size = TRUE, .drop_caches = TRUE, .compact = TRUE};
  guint64 page_size = 0;

  sim = vxm_simhost_start_for_test("xeon-two-node");
  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));

  hp = dry_run(sim, "", &why, &human);
  g_assert_cmpint(json_object_get_int_member(hp, "page_size"), ==, 1 << 30);
  g_assert_cmpint(json_object_get_int_member(hp, "count"), ==, 8);
  g_assert_cmpint(json_object_get_int_member(hp, "node"), ==, 1);
  alt = json_object_get_object_member(hp, "alternative");
  g_assert_cmpint(json_object_get_int_member(alt, "page_size"), ==, 2 << 20);
  g_assert_cmpint(json_object_get_int_member(alt, "node"), ==, 1);
  g_assert_cmpstr(why, ==,
                  "hugepages = auto: 1 GiB pages, node 1's 1 GiB pool has 8 free (the "
                  "guest needs 8)");
  g_assert_nonnull(strstr(human, "8 x 1 GiB pages from the 1 GiB hugepage pool of NUMA node 1\n"
                                 "  or 4096 x 2 MiB pages from the 2 MiB hugepage pool of NUMA "
                                 "node 1\n"));
  g_assert_nonnull(strstr(human, "  why: 1 GiB pages, node 1's 1 GiB pool has 8 free"));

  /* what the supervisor asks with that plan */
  before = vxm_simhost_state(sim);
  vxm_simhost_clear_log(sim);
  ops = vxm_host_ops_local_new(hostfs);
  req.page_size = json_object_get_int_member(hp, "page_size");
  req.count = json_object_get_int_member(hp, "count");
  req.node = 1;
  g_assert_true(vxm_host_ops_reserve_hugepages(ops, "win11", &req, &page_size, report, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(page_size, ==, VXM_HUGEPAGE_SIZE_1G);
  log = vxm_simhost_read_log(sim);
  g_assert_null(strstr(log, "nr_hugepages"));
  g_assert_true(vxm_host_ops_restore_all(ops, "win11", NULL, report, &error));
  g_assert_no_error(error);
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
}

/* The same with the 1 GiB pages reserved at boot on node 0, not the GPU's: the dry run plans
 * 2 MiB pages on node 1 and says why (node 0's pages, the boot option); the host ops try 1 GiB
 * pages on node 1 (the kernel cannot make them), give that pool back and take 2 MiB pages
 * there; node 0's pages are not touched. hugepages_compact = false: no drop_caches, no
 * compact_memory. */
static void
test_sim_auto_start_other_node(void)
{
  g_autofree char *machine = read_machine_with("1048576kB_reserved=0,8", "1048576kB_reserved=8,0");
  g_autofree char *dir = NULL;
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(VxmHostOps) ops = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(JsonObject) hp = NULL;
  g_autofree char *why = NULL;
  g_autofree char *human = NULL;
  g_autofree char *log = NULL;
  g_autofree char *nr = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  JsonObject *alt;
  VxmHostOpsHugepages req = {.auto_size = TRUE, .node = 1};
  guint64 page_size = 0;

  if (!vxm_test_require_root())
    return;
  sim = start_machine(machine, &dir);
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));

  hp = dry_run(sim, "hugepages_compact = false\n", &why, &human);
  g_assert_cmpint(json_object_get_int_member(hp, "page_size"), ==, 2 << 20);
  g_assert_cmpint(json_object_get_int_member(hp, "count"), ==, 4096);
  g_assert_cmpint(json_object_get_int_member(hp, "node"), ==, 1);
  g_assert_false(json_object_get_boolean_member(hp, "compact"));
  alt = json_object_get_object_member(hp, "alternative");
  g_assert_cmpint(json_object_get_int_member(alt, "page_size"), ==, 1 << 30);
  g_assert_cmpint(json_object_get_int_member(alt, "node"), ==, 1);
  if (strstr(why, "2 MiB pages, node 1's 1 GiB pool has 0 of the 8 free the guest needs") == NULL ||
      strstr(why, "node 0 has 8 free but the guest GPU is on node 1") == NULL ||
      strstr(why, "hugepagesz=1G hugepages=1:8") == NULL)
    g_error("unexpected why: %s", why);
  g_assert_nonnull(strstr(human, "4096 x 2 MiB pages from the 2 MiB hugepage pool of NUMA node 1"));
  g_assert_nonnull(strstr(human, "hugepages_compact = false"));

  before = vxm_simhost_state(sim);
  vxm_simhost_clear_log(sim);
  ops = vxm_host_ops_local_new(hostfs);
  req.page_size = json_object_get_int_member(hp, "page_size");
  req.count = json_object_get_int_member(hp, "count");
  g_assert_true(vxm_host_ops_reserve_hugepages(ops, "win11", &req, &page_size, report, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(page_size, ==, VXM_HUGEPAGE_SIZE_2M);
  nr = read_host(hostfs, NODE1_HP2M_NR);
  g_assert_cmpstr(nr, ==, "4096");
  g_clear_pointer(&nr, g_free);
  nr = read_host(hostfs, NODE1_HP1G_NR);
  g_assert_cmpstr(nr, ==, "0");
  g_clear_pointer(&nr, g_free);
  nr = read_host(hostfs, NODE0_HP1G_NR);
  g_assert_cmpstr(nr, ==, "8");
  log = vxm_simhost_read_log(sim);
  g_assert_null(strstr(log, "node0/"));
  g_assert_null(strstr(log, "drop_caches"));
  g_assert_null(strstr(log, "compact_memory"));
  g_assert_nonnull(strstr(log, "write " NODE1_HP1G_NR " 8 -> ok\n"));
  /* the journal: the 1 GiB try, given back (undone), then the 2 MiB pages */
  {
    g_autoptr(VxmJournal) journal = vxm_journal_load(hostfs, "win11", &error);

    g_assert_no_error(error);
    g_assert_cmpuint(vxm_journal_get_n_entries(journal), ==, 2);
    g_assert_cmpint(vxm_journal_get_entry(journal, 0)->state, ==, VXM_JOURNAL_STATE_UNDONE);
    g_assert_cmpint(vxm_journal_get_entry(journal, 1)->state, ==, VXM_JOURNAL_STATE_DONE);
  }
  g_assert_true(vxm_host_ops_restore_all(ops, "win11", NULL, report, &error));
  g_assert_no_error(error);
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
  vxm_test_rm_rf(dir);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/memory/hugepages/pools/read", test_pools_read);
  g_test_add_func("/vxm/memory/hugepages/already-reserved", test_already_reserved);
  g_test_add_func("/vxm/memory/hugepages/decisions", test_decisions);
  g_test_add_func("/vxm/memory/hugepages/simhost/fragmentation-and-compaction",
                  test_sim_fragmentation);
  g_test_add_func("/vxm/memory/hugepages/simhost/short-with-fallback", test_sim_fallback);
  g_test_add_func("/vxm/memory/hugepages/simhost/numa-node-and-1g-at-boot", test_sim_numa);
  g_test_add_func("/vxm/memory/hugepages/simhost/1g-at-run-time", test_sim_1g);
  g_test_add_func("/vxm/memory/hugepages/simhost/journal-undo", test_sim_journal_undo);
  g_test_add_func("/vxm/memory/hugepages/simhost/host-ops-local", test_sim_host_ops);
  g_test_add_func("/vxm/memory/hugepages/simhost/start-auto/1g-on-gpu-node",
                  test_sim_auto_start_1g);
  g_test_add_func("/vxm/memory/hugepages/simhost/start-auto/1g-on-other-node",
                  test_sim_auto_start_other_node);
  return g_test_run();
}
