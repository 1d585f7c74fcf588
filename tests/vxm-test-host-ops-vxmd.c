/* vxm-test-host-ops-vxmd: drives VxmHostOpsVxmd for test-rootless, run as the test's user.
 *
 *   vxm-test-host-ops-vxmd ROOT VM GPU STEP...
 *     threads             8 threads at once: hello, journal_status, binding_status, gpu_holder
 *     detach | reattach   the GPU (prepare-gpu + its /dev/vfio/N, release-gpu)
 *     reattach-keep       release-gpu with keep_bound (the binding stays, held)
 *     vfio-mine           /dev/vfio/N of the GPU's group belongs to this user
 *     bound:DRIVER        every function of the GPU is on DRIVER (binding_status)
 *     held-by:WORDS       gpu_holder for another VM names WORDS
 *     hugepages:N         reserve N 2 MiB pages on any node | release-hugepages
 *     grant:PATH          grant_devices of a host path (/dev/input/by-id/...) | revoke
 *     mine:PATH           PATH belongs to this user
 *     memlock-self:BYTES  raise_memlock of this process (its pidfd), then getrlimit says so
 *     memlock-denied:BYTES  the same where vxmd lacks CAP_SYS_RESOURCE: the refusal names the
 *                         capability, and the limit is unchanged
 *     memlock-pid:PID     raise_memlock of someone else's process: must be refused
 *     journal-has:KIND    journal_status lists an entry of KIND
 *     restore             restore_all
 * Prints "ok STEP" per step; on the first failure prints why and exits 1.
 */
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/vxm-hostfs.h"
#include "memory/vxm-hugepages.h"
#include "ops/vxm-host-ops-vxmd.h"

typedef struct {
  VxmHostOps *ops;
  const char *vm;
  const char *gpu;
  gint failures;
} Ctx;

static gpointer
thread_main(gpointer data)
{
  Ctx *ctx = data;

  for (guint round = 0; round < 4; round++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) journal = NULL;
    g_autoptr(JsonNode) binding = NULL;
    g_autofree char *holder = NULL;
    g_auto(VxmHostOpsHello) hello = {0};

    if (!vxm_host_ops_hello(ctx->ops, &hello, &error) ||
        (journal = vxm_host_ops_journal_status(ctx->ops, ctx->vm, &error)) == NULL ||
        (binding = vxm_host_ops_binding_status(ctx->ops, ctx->gpu, &error)) == NULL ||
        ((holder = vxm_host_ops_gpu_holder(ctx->ops, ctx->vm, ctx->gpu, &error)) == NULL &&
         error != NULL)) {
      g_printerr("thread: %s\n", error->message);
      g_atomic_int_inc(&ctx->failures);
      return NULL;
    }
  }
  return NULL;
}

static gboolean
owned_by_me(VxmHostfs *hostfs, const char *host_path, GError **error)
{
  g_autofree char *path = vxm_hostfs_path(hostfs, host_path);
  struct stat st;

  if (stat(path, &st) != 0) {
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", host_path,
                g_strerror(errno));
    return FALSE;
  }
  if (st.st_uid != getuid()) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM, "%s is uid %u's, not mine (%u)", host_path,
                (guint)st.st_uid, (guint)getuid());
    return FALSE;
  }
  return TRUE;
}

static char *
vfio_node(VxmHostfs *hostfs, const char *gpu)
{
  g_autofree char *link = g_strdup_printf(VXM_HOST_SYS_PCI_DEVICES "/%s/iommu_group", gpu);
  g_autofree char *group = vxm_hostfs_read_link_basename(hostfs, link, NULL);

  return group != NULL ? g_strdup_printf(VXM_HOST_DEV_VFIO "/%s", group) : NULL;
}

static gboolean
run_step(Ctx *ctx, VxmHostfs *hostfs, const char *step, GError **error)
{
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
  VxmHostOpsGpu gpu = {.gpu_address = ctx->gpu};
  const char *arg = strchr(step, ':') != NULL ? strchr(step, ':') + 1 : NULL;
  gboolean ok = TRUE;

  if (strcmp(step, "threads") == 0) {
    GThread *threads[8];

    for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
      threads[i] = g_thread_new("ops", thread_main, ctx);
    for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
      g_thread_join(threads[i]);
    if (g_atomic_int_get(&ctx->failures) > 0) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%d threads failed", ctx->failures);
      return FALSE;
    }
  } else if (strcmp(step, "detach") == 0) {
    ok = vxm_host_ops_detach_gpu(ctx->ops, ctx->vm, &gpu, report, error);
  } else if (strcmp(step, "reattach-keep") == 0) {
    gpu.keep_bound = TRUE;
    ok = vxm_host_ops_reattach_gpu(ctx->ops, ctx->vm, &gpu, report, error);
  } else if (strcmp(step, "reattach") == 0) {
    ok = vxm_host_ops_reattach_gpu(ctx->ops, ctx->vm, &gpu, report, error);
  } else if (strcmp(step, "grant-vfio") == 0) {
    /* what the supervisor's grant-vfio step asks once the group is on vfio-pci */
    g_autofree char *node = vfio_node(hostfs, ctx->gpu);
    const char *nodes[] = {node, NULL};

    ok = node != NULL && vxm_host_ops_grant_devices(ctx->ops, ctx->vm, nodes, report, error);
  } else if (strcmp(step, "vfio-mine") == 0) {
    g_autofree char *node = vfio_node(hostfs, ctx->gpu);

    ok = node != NULL && owned_by_me(hostfs, node, error);
  } else if (g_str_has_prefix(step, "bound:")) {
    g_autoptr(JsonNode) devices = vxm_host_ops_binding_status(ctx->ops, ctx->gpu, error);
    JsonArray *array;

    if (devices == NULL)
      return FALSE;
    array = json_node_get_array(devices);
    for (guint i = 0; i < json_array_get_length(array); i++) {
      JsonObject *d = json_array_get_object_element(array, i);
      const char *driver = json_object_get_string_member_with_default(d, "driver", NULL);

      if (g_strcmp0(driver, arg) != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s is on %s",
                    json_object_get_string_member(d, "address"), driver ? driver : "nothing");
        return FALSE;
      }
    }
    ok = json_array_get_length(array) > 0;
  } else if (g_str_has_prefix(step, "held-by:")) {
    g_autofree char *holder = vxm_host_ops_gpu_holder(ctx->ops, "someone-else", ctx->gpu, error);

    if (holder == NULL || strstr(holder, arg) == NULL) {
      if (error != NULL && *error == NULL)
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "holder: %s", holder ? holder : "none");
      return FALSE;
    }
    g_print("  holder: %s\n", holder);
  } else if (g_str_has_prefix(step, "hugepages:")) {
    VxmHostOpsHugepages hp = {.page_size = VXM_HUGEPAGE_SIZE_2M,
                              .count = g_ascii_strtoull(arg, NULL, 10),
                              .node = -1,
                              .drop_caches = TRUE,
                              .compact = TRUE};
    guint64 page_size = 0;

    ok = vxm_host_ops_reserve_hugepages(ctx->ops, ctx->vm, &hp, &page_size, report, error);
  } else if (strcmp(step, "release-hugepages") == 0) {
    ok = vxm_host_ops_release_hugepages(ctx->ops, ctx->vm, report, error);
  } else if (g_str_has_prefix(step, "grant:")) {
    const char *nodes[] = {arg, NULL};

    ok = vxm_host_ops_grant_devices(ctx->ops, ctx->vm, nodes, report, error);
  } else if (strcmp(step, "revoke") == 0) {
    ok = vxm_host_ops_revoke_devices(ctx->ops, ctx->vm, report, error);
  } else if (g_str_has_prefix(step, "mine:")) {
    ok = owned_by_me(hostfs, arg, error);
  } else if (g_str_has_prefix(step, "memlock-self:")) {
    guint64 bytes = g_ascii_strtoull(arg, NULL, 10);
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    struct rlimit rl;

    ok = pidfd >= 0 && vxm_host_ops_raise_memlock(ctx->ops, ctx->vm, pidfd, bytes, report, error);
    if (pidfd >= 0)
      close(pidfd);
    if (ok && (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur < bytes || rl.rlim_max < bytes)) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                  "RLIMIT_MEMLOCK is %llu/%llu after the raise", (unsigned long long)rl.rlim_cur,
                  (unsigned long long)rl.rlim_max);
      return FALSE;
    }
    if (ok)
      g_print("  RLIMIT_MEMLOCK now %llu\n", (unsigned long long)rl.rlim_cur);
  } else if (g_str_has_prefix(step, "memlock-denied:")) {
    g_autoptr(GError) denied = NULL;
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    struct rlimit rl_before, rl_after;

    getrlimit(RLIMIT_MEMLOCK, &rl_before);
    ok = pidfd >= 0 && vxm_host_ops_raise_memlock(ctx->ops, ctx->vm, pidfd,
                                                  g_ascii_strtoull(arg, NULL, 10), report, &denied);
    if (pidfd >= 0)
      close(pidfd);
    getrlimit(RLIMIT_MEMLOCK, &rl_after);
    if (ok || denied == NULL || strstr(denied->message, "CAP_SYS_RESOURCE") == NULL ||
        rl_after.rlim_cur != rl_before.rlim_cur) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                  "expected a refusal naming CAP_SYS_RESOURCE: %s",
                  denied ? denied->message : "raised");
      return FALSE;
    }
    g_print("  denied: %s\n", denied->message);
    ok = TRUE;
  } else if (g_str_has_prefix(step, "memlock-pid:")) {
    g_autoptr(GError) refused = NULL;
    int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)g_ascii_strtoll(arg, NULL, 10), 0);

    if (pidfd < 0) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "pidfd_open %s: %s", arg,
                  g_strerror(errno));
      return FALSE;
    }
    ok = vxm_host_ops_raise_memlock(ctx->ops, ctx->vm, pidfd, 1 << 30, report, &refused);
    close(pidfd);
    if (ok || strstr(refused->message, "is not yours") == NULL) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "memlock of pid %s was not refused: %s",
                  arg, refused ? refused->message : "raised");
      return FALSE;
    }
    g_print("  refused: %s\n", refused->message);
    ok = TRUE;
  } else if (g_str_has_prefix(step, "journal-has:")) {
    g_autoptr(JsonNode) journal = vxm_host_ops_journal_status(ctx->ops, ctx->vm, error);
    JsonArray *entries;

    if (journal == NULL)
      return FALSE;
    ok = FALSE;
    entries = JSON_NODE_HOLDS_OBJECT(journal)
                  ? json_object_get_array_member(json_node_get_object(journal), "entries")
                  : NULL;
    for (guint i = 0; entries != NULL && i < json_array_get_length(entries); i++)
      ok = ok || g_strcmp0(json_object_get_string_member_with_default(
                               json_array_get_object_element(entries, i), "kind", NULL),
                           arg) == 0;
    if (!ok)
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "no %s entry in the journal", arg);
  } else if (strcmp(step, "restore") == 0) {
    ok = vxm_host_ops_restore_all(ctx->ops, ctx->vm, NULL, report, error);
  } else {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "unknown step");
    return FALSE;
  }
  for (guint i = 0; i < report->len; i++)
    g_print("  %s\n", (char *)g_ptr_array_index(report, i));
  if (!ok && error != NULL && *error == NULL)
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "failed");
  return ok;
}

int
main(int argc, char **argv)
{
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(VxmHostOps) ops = NULL;
  Ctx ctx = {0};

  if (argc < 5) {
    g_printerr("usage: %s ROOT VM GPU STEP...\n", argv[0]);
    return 2;
  }
  hostfs = vxm_hostfs_new(argv[1]);
  ops = vxm_host_ops_vxmd_new(hostfs);
  ctx.ops = ops;
  ctx.vm = argv[2];
  ctx.gpu = argv[3];
  for (int i = 4; i < argc; i++) {
    g_autoptr(GError) error = NULL;

    if (!run_step(&ctx, hostfs, argv[i], &error)) {
      g_print("FAILED %s: %s\n", argv[i], error->message);
      return 1;
    }
    g_print("ok %s\n", argv[i]);
  }
  return 0;
}
