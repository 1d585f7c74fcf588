/* bench-start-stop: what vxm start and vxm stop cost beside QEMU itself (not a test).
 *
 * On a simulated workstation (vxm-simhost, like the demo; needs root for FUSE), with the real
 * QEMU under TCG through vxm-qemu-sim and the real swtpm:
 *   1. `vxm start` until the guest runs, and `vxm stop --force` until the host is restored,
 *      N times; the medians, with the host step (detach) the supervisor reports;
 *   2. the same swtpm and QEMU argv (recorded by vxm-qemu-sim) started directly: swtpm, its
 *      socket, QEMU, QMP handshake, cont; then QMP quit and both exits; N times;
 *   3. with delays injected (simhost `delay` faults, a slow swtpm first in PATH): the NVIDIA
 *      unbind takes 800 ms, the write that grows the hugepage pool 1.5 s, swtpm 500 ms to
 *      start: time to running beside the slowest path (the lock, the longest of the parallel
 *      branches detach + grant-vfio, reserve-hugepages, start-swtpm, grant-inputs, then the
 *      sequential raise-memlock, start-qemu, qmp, pin-vcpus, cont) and the sum of the steps.
 *      The bench VM has hugepages: the simulated machine has 2 MiB pools.
 * Usage: bench-start-stop [N] (default 5). Prints the numbers.
 */
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "qemu/vxm-process.h"
#include "qemu/vxm-qmp-client.h"
#include "qemu/vxm-socket-wait.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-simhost-fixture.h"
#include "vxm-test-util.h"

#define VM "bench"

static char *tmp;
static char *vxm;
static const char *root_override; /* --root for vxm instead of the simulator's mount */
static VxmSimhost *sim;
static GStrv envp;

static void
strv_take(GStrvBuilder *b, char *s)
{
  g_strv_builder_add(b, s);
  g_free(s);
}

static int
cmp_double(gconstpointer a, gconstpointer b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

static double
median(GArray *values)
{
  g_array_sort(values, cmp_double);
  return values->len ? g_array_index(values, double, values->len / 2) : 0;
}

static double
now_ms(void)
{
  return g_get_monotonic_time() / 1000.0;
}

static int
run_vxm(char **out, const char *first, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_autofree char *err = NULL;
  g_autofree char *text = NULL;
  va_list ap;
  int status;

  g_ptr_array_add(argv, vxm);
  va_start(ap, first);
  for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
    g_ptr_array_add(argv, (char *)a);
  va_end(ap);
  g_ptr_array_add(argv, "--root");
  g_ptr_array_add(argv, (char *)(root_override ? root_override : vxm_simhost_root(sim)));
  g_ptr_array_add(argv, NULL);
  status = vxm_test_run((const char *const *)argv->pdata, (const char *const *)envp, &text, &err);
  if (status != 0)
    g_printerr("vxm %s failed (%d):\n%s%s\n", first, status, text, err);
  if (out != NULL)
    *out = g_strconcat(text, err, NULL);
  return status;
}

/* The step durations of the last run, from `vxm status --json`. */
static GHashTable *
last_steps(void)
{
  g_autofree char *out = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  GHashTable *steps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  JsonArray *array;

  if (run_vxm(&out, "status", VM, "--json", NULL) != 0 ||
      !json_parser_load_from_data(parser, out, -1, NULL))
    return steps;
  array = json_object_get_array_member(json_node_get_object(json_parser_get_root(parser)), "steps");
  for (guint i = 0; array != NULL && i < json_array_get_length(array); i++) {
    JsonObject *s = json_array_get_object_element(array, i);
    double ms = (double)json_object_get_int_member(s, "ms");

    g_hash_table_insert(steps, g_strdup(json_object_get_string_member(s, "step")),
                        g_memdup2(&ms, sizeof ms));
  }
  return steps;
}

static double
step_ms(GHashTable *steps, const char *name)
{
  double *v = g_hash_table_lookup(steps, name);

  return v ? *v : 0;
}

/* A plain copy of the simulated host's tree in @dest (sysfs, /proc, /etc and /run with their
 * contents; /dev as empty files: its evdev and i2c nodes answer only ioctls and block on read),
 * /usr shared: what vxm reads to plan a start, at the speed of a kernel filesystem instead of
 * FUSE's round trips. */
static void
snapshot_tree(const char *dest)
{
  static const char *const dirs[] = {"sys", "proc", "etc", "run"};
  g_autofree char *dev = g_build_filename(vxm_simhost_root(sim), "dev", NULL);
  g_autofree char *usr = g_build_filename(dest, "usr", NULL);

  g_mkdir_with_parents(dest, 0755);
  vxm_test_run((const char *const[]){"/bin/cp", "-a", "--attributes-only", dev, dest, NULL}, NULL,
               NULL, NULL);
  for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
    g_autofree char *src = g_build_filename(vxm_simhost_root(sim), dirs[i], NULL);
    g_autofree char *err = NULL;

    /* write-only attributes (remove, drop_caches) cannot be read: cp says so and goes on */
    vxm_test_run((const char *const[]){"/bin/cp", "-a", src, dest, NULL}, NULL, NULL, &err);
  }
  if (symlink("/usr", usr) != 0)
    g_error("cannot link %s", usr);
}

/* Median of @n runs of `vxm start VM --dry-run` on the current root, in ms. */
static double
plan_ms(guint n)
{
  g_autoptr(GArray) times = g_array_new(FALSE, FALSE, sizeof(double));

  for (guint i = 0; i < n + 1; i++) {
    double t0 = now_ms(), ms;

    if (run_vxm(NULL, "start", VM, "--dry-run", NULL) != 0)
      g_error("vxm start --dry-run failed");
    ms = now_ms() - t0;
    if (i > 0)
      g_array_append_val(times, ms);
  }
  return median(times);
}

/* ---- QEMU started directly ---- */

static void
on_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
  (void)source;
  *(GAsyncResult **)user_data = g_object_ref(result);
}

static GAsyncResult *
wait_result(GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration(NULL, TRUE);
  return *slot;
}

static GStrv
read_argv(const char *path)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();

  if (!g_file_get_contents(path, &text, NULL, NULL))
    g_error("no recorded argv in %s", path);
  lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '\0')
      g_strv_builder_add(b, lines[i]);
  return g_strv_builder_end(b);
}

/* One direct run: returns start ms (to running) and stop ms (quit to both exits). */
static void
direct_run(GStrv qemu_argv, GStrv swtpm_argv, const char *swtpm_sock, const char *qmp_sock,
           double *start_ms, double *stop_ms)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmProcess) swtpm = NULL;
  g_autoptr(VxmProcess) qemu = NULL;
  g_autoptr(VxmQmpClient) qmp = NULL;
  g_autoptr(JsonNode) reply = NULL;
  GAsyncResult *r = NULL;
  g_autofree char *log = g_build_filename(tmp, "direct.log", NULL);
  double t0 = now_ms();
  int fd;

  unlink(swtpm_sock);
  unlink(qmp_sock);
  swtpm = vxm_process_spawn((const char *const *)swtpm_argv, (const char *const *)envp, NULL, 0,
                            log, VXM_PROCESS_KILL_WITH_PARENT, &error);
  g_assert_no_error(error);
  vxm_wait_for_socket_async(swtpm_sock, 10000, NULL, on_done, &r);
  fd = vxm_wait_for_socket_finish(wait_result(&r), &error);
  g_assert_no_error(error);
  close(fd);
  g_clear_object(&r);
  qemu = vxm_process_spawn((const char *const *)qemu_argv, (const char *const *)envp, NULL, 0, log,
                           VXM_PROCESS_KILL_WITH_PARENT, &error);
  g_assert_no_error(error);
  vxm_wait_for_socket_async(qmp_sock, 30000, NULL, on_done, &r);
  fd = vxm_wait_for_socket_finish(wait_result(&r), &error);
  g_assert_no_error(error);
  g_clear_object(&r);
  qmp = vxm_qmp_client_new_for_fd(fd, &error);
  g_assert_no_error(error);
  g_assert_true(vxm_qmp_client_handshake_sync(qmp, 30000, &error));
  reply = vxm_qmp_client_execute_sync(qmp, "cont", NULL, 0, &error);
  g_assert_no_error(error);
  *start_ms = now_ms() - t0;

  t0 = now_ms();
  g_clear_pointer(&reply, json_node_unref);
  reply = vxm_qmp_client_execute_sync(qmp, "quit", NULL, 0, NULL);
  vxm_process_wait_async(qemu, NULL, on_done, &r);
  g_assert_true(vxm_process_wait_finish(qemu, wait_result(&r), NULL));
  g_clear_object(&r);
  vxm_process_terminate_async(swtpm, SIGTERM, 2000, NULL, on_done, &r);
  g_assert_true(vxm_process_terminate_finish(swtpm, wait_result(&r), NULL, NULL));
  g_clear_object(&r);
  *stop_ms = now_ms() - t0;
  vxm_qmp_client_close(qmp);
}

/* ---- a slow swtpm: this program under the name "swtpm" ---- */

static int
slow_swtpm(char **argv)
{
  const char *delay = g_getenv("BENCH_SWTPM_DELAY_MS");

  g_usleep((gulong)g_ascii_strtoull(delay ? delay : "500", NULL, 10) * 1000);
  argv[0] = "/usr/bin/swtpm";
  execv(argv[0], argv);
  return 127;
}

int
main(int argc, char **argv)
{
  guint n = argc > 1 ? (guint)g_ascii_strtoull(argv[1], NULL, 10) : 5;
  g_autoptr(GError) error = NULL;
  g_autoptr(GStrvBuilder) env = g_strv_builder_new();
  g_autoptr(GArray) vxm_start = g_array_new(FALSE, FALSE, sizeof(double));
  g_autoptr(GArray) vxm_stop = g_array_new(FALSE, FALSE, sizeof(double));
  g_autoptr(GArray) detach = g_array_new(FALSE, FALSE, sizeof(double));
  g_autoptr(GArray) restore = g_array_new(FALSE, FALSE, sizeof(double));
  g_autoptr(GArray) direct_start = g_array_new(FALSE, FALSE, sizeof(double));
  g_autoptr(GArray) direct_stop = g_array_new(FALSE, FALSE, sizeof(double));
  g_autofree char *qemu_sim = NULL;
  g_autofree char *qemu_set = NULL;
  g_autofree char *argv_log = NULL;
  g_autofree char *bin = NULL;
  g_autofree char *swtpm_link = NULL;
  g_auto(GStrv) qemu_argv = NULL;
  g_auto(GStrv) swtpm_argv = NULL;
  static const char *const xdg[] = {"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
                                    "XDG_RUNTIME_DIR"};
  const char *build = g_getenv("VXM_BUILD_DIR");

  if (g_str_has_suffix(argv[0], "/swtpm") || g_strcmp0(argv[0], "swtpm") == 0)
    return slow_swtpm(argv);
  if (geteuid() != 0) {
    g_printerr("bench-start-stop: needs root (it mounts a simulated workstation with FUSE)\n");
    return 1;
  }
  if (build == NULL)
    g_setenv("VXM_BUILD_DIR", build = g_get_current_dir(), TRUE);
  tmp = vxm_test_mkdtemp();
  vxm = vxm_test_build_path("src/cli/vxm");
  qemu_sim = vxm_test_build_path("tests/vxm-qemu-sim");
  argv_log = g_build_filename(tmp, "argv.txt", NULL);
  sim = vxm_simhost_start("intel-nvidia-turing", &error);
  if (sim == NULL) {
    g_printerr("bench-start-stop: %s (run from the build folder, or set VXM_BUILD_DIR and "
               "VXM_SOURCE_DIR)\n",
               error->message);
    return 1;
  }
  for (guint i = 0; i < G_N_ELEMENTS(xdg); i++) {
    g_autofree char *dir = g_build_filename(tmp, xdg[i], NULL);

    g_mkdir_with_parents(dir, 0700);
    g_setenv(xdg[i], dir, TRUE);
    strv_take(env, g_strdup_printf("%s=%s", xdg[i], dir));
  }
  /* a folder with a slow "swtpm" first in PATH, used only in the delay runs */
  bin = g_build_filename(tmp, "bin", NULL);
  g_mkdir_with_parents(bin, 0700);
  swtpm_link = g_build_filename(bin, "swtpm", NULL);
  {
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);

    if (symlink(self, swtpm_link) < 0)
      g_error("cannot link %s", swtpm_link);
  }
  strv_take(env, g_strdup_printf("HOME=%s", tmp));
  strv_take(env, g_strdup_printf("PATH=%s", g_getenv("PATH")));
  strv_take(env, g_strdup_printf("VXM_TEST_ARGV_LOG=%s", argv_log));
  g_strv_builder_add(env, "NO_COLOR=1");
  envp = g_strv_builder_end(env);

  qemu_set = g_strdup_printf("qemu_binary=%s", qemu_sim);
  if (run_vxm(NULL, "init", VM, "--disk-size", "64M", "--set", qemu_set, "--set", "vcpus=1",
              NULL) != 0)
    return 1;

  g_print("vxm start/stop on the simulated workstation (intel-nvidia-turing), QEMU under TCG "
          "through vxm-qemu-sim, real swtpm; %u runs each\n",
          n);
  for (guint i = 0; i < n + 1; i++) {
    g_autoptr(GHashTable) steps = NULL;
    double t0 = now_ms(), start, stop;

    if (run_vxm(NULL, "start", VM, NULL) != 0)
      return 1;
    start = now_ms() - t0;
    t0 = now_ms();
    if (run_vxm(NULL, "stop", VM, "--force", NULL) != 0)
      return 1;
    stop = now_ms() - t0;
    steps = last_steps();
    if (i == 0)
      continue; /* warm-up: QEMU capability cache, page cache */
    g_array_append_val(vxm_start, start);
    g_array_append_val(vxm_stop, stop);
    {
      /* teardown gives things back one after the other: the host's share is their sum */
      double d = step_ms(steps, "detach-gpu"),
             r = step_ms(steps, "reattach-gpu") + step_ms(steps, "release-hugepages") +
                 step_ms(steps, "revoke-devices") + step_ms(steps, "restore-host");

      g_array_append_val(detach, d);
      g_array_append_val(restore, r);
    }
  }

  /* the same argv, directly */
  qemu_argv = read_argv(argv_log);
  {
    g_autoptr(VxmVmPaths) paths = vxm_vm_paths_new(VM, NULL);
    g_autofree char *tpm = g_strdup_printf("dir=%s,mode=0600", paths->tpm_dir);
    g_autofree char *ctrl = g_strdup_printf("type=unixio,path=%s,mode=0600", paths->swtpm_socket);
    g_autofree char *qemu_real = NULL;

    swtpm_argv = g_strdupv((char *[]){"/usr/bin/swtpm", "socket", "--tpm2", "--tpmstate", tpm,
                                      "--ctrl", ctrl, "--terminate", NULL});
    /* the recorded argv as vxm gave it, run through the same vxm-qemu-sim */
    g_free(qemu_argv[0]);
    qemu_argv[0] = g_strdup(qemu_sim);
    for (guint i = 0; i < n + 1; i++) {
      double s, t;

      direct_run(qemu_argv, swtpm_argv, paths->swtpm_socket, paths->qmp_socket, &s, &t);
      if (i == 0)
        continue;
      g_array_append_val(direct_start, s);
      g_array_append_val(direct_stop, t);
    }
  }

  {
    double vs = median(vxm_start), vt = median(vxm_stop), ds = median(direct_start),
           dt = median(direct_stop), dd = median(detach), rr = median(restore);

    g_print("\n%-44s %10s %10s\n", "median of each", "start", "stop");
    g_print("%-44s %8.0f ms %7.0f ms\n", "vxm start / vxm stop --force (whole commands)", vs, vt);
    g_print("%-44s %8.0f ms %7.0f ms\n", "  of which host steps (detach / give back)", dd, rr);
    g_print("%-44s %8.0f ms %7.0f ms\n", "swtpm + same QEMU argv directly", ds, dt);
    g_print("%-44s %9.2fx %9.2fx\n", "ratio vxm / direct", vs / ds, vt / dt);
    g_print("%-44s %8.0f ms %7.0f ms\n", "vxm beyond QEMU and the host steps", vs - ds - dd,
            vt - dt - rr);
    g_print("(start: detach runs beside swtpm, so subtracting both the detach and the direct\n"
            " swtpm start under-counts vxm's share by up to the swtpm start)\n");
    {
      /* what of vxm's share is the simulator: the plan's few hundred sysfs reads cost a FUSE
       * round trip each here, microseconds on a real kernel's sysfs */
      g_autofree char *copy = g_build_filename(tmp, "plain-root", NULL);
      double fuse_plan, plain_plan;

      fuse_plan = plan_ms(n);
      snapshot_tree(copy);
      root_override = copy;
      plain_plan = plan_ms(n);
      root_override = NULL;
      g_print("\n%-60s %6.0f ms\n", "vxm start --dry-run (the plan) on the simulated host (FUSE)",
              fuse_plan);
      g_print("%-60s %6.0f ms\n", "the same on a plain copy of its tree (kernel-speed reads)",
              plain_plan);
      g_print("%-60s %6.0f ms\n", "vxm beyond QEMU and the host steps, reads at kernel speed",
              vs - ds - dd - (fuse_plan - plain_plan));
    }
  }

  /* delays: unbind 800 ms, hugepages 1.5 s, swtpm 500 ms */
  {
    static const char *const branches[][3] = {
        {"detach-gpu", "grant-vfio", NULL},
        {"reserve-hugepages", NULL},
        {"start-swtpm", NULL},
        {"grant-inputs", NULL},
        {"prepare-looking-glass", NULL},
    };
    static const char *const tail[] = {"raise-memlock", "start-qemu", "qmp", "pin-vcpus", "cont"};
    g_autofree char *path = g_strdup_printf("%s:%s", bin, g_getenv("PATH"));
    g_autoptr(GHashTable) steps = NULL;
    g_autoptr(GString) branch_text = g_string_new(NULL);
    g_autoptr(GString) tail_text = g_string_new(NULL);
    double t0, total, longest = 0, tail_ms = 0, slowest, sum = 0;
    GHashTableIter it;
    gpointer key, value;

    for (guint i = 0; envp[i] != NULL; i++) {
      if (g_str_has_prefix(envp[i], "PATH=")) {
        g_free(envp[i]);
        envp[i] = g_strdup_printf("PATH=%s", path);
      }
    }
    if (!vxm_simhost_add_fault(sim, "write /sys/bus/pci/drivers/nvidia/unbind delay=800", &error))
      g_error("%s", error->message);
    /* the reserve's write only (count=1): the read-back and the release stay quick */
    if (!vxm_simhost_add_fault(sim, "write */hugepages-2048kB/nr_hugepages delay=1500 count=1",
                               &error))
      g_error("%s", error->message);
    t0 = now_ms();
    if (run_vxm(NULL, "start", VM, NULL) != 0)
      return 1;
    total = now_ms() - t0;
    steps = last_steps();
    if (run_vxm(NULL, "stop", VM, "--force", NULL) != 0)
      return 1;
    vxm_simhost_clear_faults(sim);
    /* the parallel branches end together; what follows waits for the longest of them */
    for (guint b = 0; b < G_N_ELEMENTS(branches); b++) {
      double ms = 0;

      if (!g_hash_table_contains(steps, branches[b][0]))
        continue; /* not in this VM's start (no Looking Glass) */
      for (guint k = 0; branches[b][k] != NULL; k++) {
        ms += step_ms(steps, branches[b][k]);
        g_string_append_printf(branch_text, "%s%s %.0f", k ? " + " : (branch_text->len ? ", " : ""),
                               branches[b][k], step_ms(steps, branches[b][k]));
      }
      longest = MAX(longest, ms);
    }
    for (guint k = 0; k < G_N_ELEMENTS(tail); k++) {
      tail_ms += step_ms(steps, tail[k]);
      g_string_append_printf(tail_text, "%s%s %.0f", k ? ", " : "", tail[k],
                             step_ms(steps, tail[k]));
    }
    slowest = step_ms(steps, "lock") + longest + tail_ms;
    g_hash_table_iter_init(&it, steps);
    while (g_hash_table_iter_next(&it, &key, &value))
      sum += *(double *)value;
    g_print("\nwith delays (NVIDIA unbind +800 ms, hugepage pool write +1.5 s, swtpm start "
            "+500 ms):\n");
    g_print("  in parallel (ms): %s\n", branch_text->str);
    g_print("  then (ms): %s\n", tail_text->str);
    g_print("  time to running (whole vxm start)                 %6.0f ms\n", total);
    g_print("  slowest path (lock + longest branch + the rest)   %6.0f ms\n", slowest);
    g_print("  sum of every step                                 %6.0f ms\n", sum);
  }
  vxm_simhost_stop(sim);
  vxm_test_rm_rf(tmp);
  return 0;
}
