/* The whole cycle, for real: vxm-simhost as the host (--root on its mount), the real vxm
 * binary, the real QEMU under TCG through tests/vxm-qemu-sim (this machine has no KVM and no
 * VFIO), the real swtpm and OVMF secure boot from the real firmware descriptors.
 *
 *   vxm init -> vxm start -> QMP running, query-tpm shows tpm-crb on the emulator, the firmware
 *   reaches its boot manager (serial log), vxm status --json reports it all -> vxm stop ->
 *   the simulated host is exactly as before.
 *   vxm start -> SIGKILL of the supervisor -> its QEMU and swtpm end too -> vxm recover -> the
 *   host is exactly as before.
 * What goes wrong, with the real parts: QEMU refusing its command line, QEMU killed while the
 * guest runs, swtpm failing to start; each says which log to read and leaves the simulated host
 * exactly as it was. `vxm start --foreground` on a terminal (a pty): live progress, and Ctrl+C
 * stops the guest (ACPI power-down, the time limit, quit) and restores the host.
 * Host resources on the way (issues 5 and 7): the simulated hugepage pool grows for the guest
 * and goes back to its previous count, the input nodes are the user's while the guest runs,
 * the real QEMU's threads are pinned as the plan says (sched_getaffinity), and a keyboard
 * unplugged and plugged back is the real QEMU's again (object-del, re-grant, object-add).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "cpu/vxm-cpu-list.h"
#include "cpu/vxm-cpu-pinning.h"
#include "qemu/vxm-qmp-client.h"
#include "supervisor/vxm-control-client.h"
#include "vm/vxm-vm-lock.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-simhost-fixture.h"
#include "vxm-test-polkit.h"
#include "vxm-test-users.h"
#include "vxm-test-util.h"

#include <pwd.h>

#define VM "win11"

typedef struct {
  char *tmp;
  VxmSimhost *sim;
  char *vxm;
  char *argv_log;
  GStrv envp;
  uid_t user_uid; /* the sudo user: vxm runs as root, as `sudo vxm` does */
  gid_t user_gid;
} E2e;

/* one per test process: the account database is the machine's, and other worktrees' suites may
 * run this test at the same time */
static char *
sudo_user_name(void)
{
  static char name[32];

  if (name[0] == '\0')
    g_snprintf(name, sizeof name, "vxme2e%d", (int)getpid());
  return name;
}

/* vxm runs as root in these tests as under sudo: QEMU and swtpm run as this user (design
 * invariant 4); a root without SUDO_UID is refused (test_root_without_sudo). */
static void
sudo_user(uid_t *uid, gid_t *gid)
{
  static uid_t made = 0;
  struct passwd *pw;

  if (made == 0)
    made = vxm_test_user_add(sudo_user_name(), NULL);
  pw = getpwuid(made);
  g_assert_nonnull(pw);
  *uid = made;
  *gid = pw->pw_gid;
}

static void
strv_take(GStrvBuilder *b, char *s)
{
  g_strv_builder_add(b, s);
  g_free(s);
}

static void
e2e_setup_machine(E2e *e, const char *machine, const char *const *extra_env)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GStrvBuilder) env = g_strv_builder_new();
  static const char *const xdg[] = {"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
                                    "XDG_RUNTIME_DIR"};

  e->tmp = vxm_test_mkdtemp();
  sudo_user(&e->user_uid, &e->user_gid);
  /* the user's home, as with sudo -E: vxm keeps the XDG folders it is given */
  g_assert_cmpint(chown(e->tmp, e->user_uid, e->user_gid), ==, 0);
  e->sim = vxm_simhost_start(machine, &error);
  g_assert_no_error(error);
  e->vxm = vxm_test_build_path("src/cli/vxm");
  e->argv_log = g_build_filename(e->tmp, "qemu-argv.txt", NULL);
  /* this process reads the same folders as the vxm it runs */
  for (guint i = 0; i < G_N_ELEMENTS(xdg); i++) {
    g_autofree char *dir = g_build_filename(e->tmp, xdg[i], NULL);

    g_mkdir_with_parents(dir, 0700);
    g_assert_cmpint(chown(dir, e->user_uid, e->user_gid), ==, 0);
    g_setenv(xdg[i], dir, TRUE);
    strv_take(env, g_strdup_printf("%s=%s", xdg[i], dir));
  }
  strv_take(env, g_strdup_printf("HOME=%s", e->tmp));
  strv_take(env, g_strdup_printf("PATH=%s", g_getenv("PATH")));
  strv_take(env, g_strdup_printf("VXM_TEST_ARGV_LOG=%s", e->argv_log));
  g_strv_builder_add(env, "NO_COLOR=1");
  g_strv_builder_add(env, "LC_ALL=C.UTF-8");
  strv_take(env, g_strdup_printf("SUDO_UID=%u", (guint)e->user_uid));
  strv_take(env, g_strdup_printf("SUDO_GID=%u", (guint)e->user_gid));
  strv_take(env, g_strconcat("SUDO_USER=", sudo_user_name(), NULL));
  for (guint i = 0; extra_env != NULL && extra_env[i] != NULL; i++)
    g_strv_builder_add(env, extra_env[i]);
  /* no logind unless a test serves one (issue 17): not this machine's system bus, if it has
   * one; the start goes on without the lock */
  strv_take(env, g_strdup_printf("DBUS_SYSTEM_BUS_ADDRESS=unix:path=%s/no-system-bus", e->tmp));
  e->envp = g_strv_builder_end(env);
}

static void
e2e_setup_with(E2e *e, const char *const *extra_env)
{
  e2e_setup_machine(e, "intel-nvidia-turing", extra_env);
}

static void
e2e_setup(E2e *e)
{
  e2e_setup_with(e, NULL);
}

static void
e2e_teardown(E2e *e)
{
  g_clear_pointer(&e->sim, vxm_simhost_stop);
  vxm_test_rm_rf(e->tmp);
  g_free(e->tmp);
  g_free(e->vxm);
  g_free(e->argv_log);
  g_strfreev(e->envp);
}

/* Runs `vxm ARGS... --root MOUNT`; returns the exit status. */
static int
run_vxm(E2e *e, char **out, const char *first, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_autofree char *err = NULL;
  g_autofree char *stdout_text = NULL;
  va_list ap;
  int status;

  g_ptr_array_add(argv, e->vxm);
  va_start(ap, first);
  for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
    g_ptr_array_add(argv, (char *)a);
  va_end(ap);
  g_ptr_array_add(argv, "--root");
  g_ptr_array_add(argv, (char *)vxm_simhost_root(e->sim));
  g_ptr_array_add(argv, NULL);
  status = vxm_test_run((const char *const *)argv->pdata, (const char *const *)e->envp,
                        &stdout_text, &err);
  g_test_message("$ vxm %s ... -> %d\n%s%s", first, status, stdout_text, err);
  if (out != NULL)
    *out = g_strconcat(stdout_text, err, NULL);
  return status;
}

static void
init_vm(E2e *e)
{
  g_autofree char *sim = vxm_test_user_binary("tests/vxm-qemu-sim");
  g_autofree char *qemu_set = g_strdup_printf("qemu_binary=%s", sim);

  g_assert_cmpint(run_vxm(e, NULL, "init", VM, "--disk-size", "64M", "--set", qemu_set, "--set",
                          "shutdown_timeout=2", "--set", "vcpus=1", NULL),
                  ==, 0);
}

static JsonObject *
status_json(E2e *e)
{
  g_autofree char *out = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;

  g_assert_cmpint(run_vxm(e, &out, "status", VM, "--json", NULL), ==, 0);
  /* stdout is the JSON; stderr (empty here) follows it */
  json_parser_load_from_data(parser, out, -1, &error);
  g_assert_no_error(error);
  return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

/* Puts @dir first in the PATH that vxm (and so its supervisor) gets. */
static void
e2e_prepend_path(E2e *e, const char *dir)
{
  for (guint i = 0; e->envp[i] != NULL; i++) {
    if (g_str_has_prefix(e->envp[i], "PATH=")) {
      char *path = g_strdup_printf("PATH=%s:%s", dir, e->envp[i] + strlen("PATH="));

      g_free(e->envp[i]);
      e->envp[i] = path;
      return;
    }
  }
  g_assert_not_reached();
}

static char *
vm_log(const char *which)
{
  g_autoptr(VxmVmPaths) paths = vxm_vm_paths_new(VM, NULL);
  char *text = NULL;

  g_assert_true(g_file_get_contents(g_str_equal(which, "vxm") ? paths->vxm_log : paths->qemu_log,
                                    &text, NULL, NULL));
  return text;
}

/* /proc/@pid/status: every uid (real, effective, saved, fs) is @uid, every gid @gid, and no
 * supplementary group is root's; a process that runs as root fails here. */
static void
assert_runs_as(gint64 pid, uid_t uid, gid_t gid)
{
  g_autofree char *path = g_strdup_printf("/proc/%" G_GINT64_FORMAT "/status", pid);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint seen = 0;

  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    const char *name = lines[i];
    g_auto(GStrv) fields = NULL;
    guint expect;

    if (g_str_has_prefix(name, "Uid:"))
      expect = uid;
    else if (g_str_has_prefix(name, "Gid:"))
      expect = gid;
    else if (g_str_has_prefix(name, "Groups:"))
      expect = G_MAXUINT;
    else
      continue;
    seen++;
    g_test_message("pid %" G_GINT64_FORMAT " %s", pid, name);
    fields = g_strsplit_set(g_strstrip(strchr(lines[i], ':') + 1), " \t", -1);
    for (guint j = 0; fields[j] != NULL; j++) {
      if (fields[j][0] == '\0')
        continue;
      if (expect == G_MAXUINT)
        g_assert_cmpstr(fields[j], !=, "0");
      else
        g_assert_cmpuint(g_ascii_strtoull(fields[j], NULL, 10), ==, expect);
    }
  }
  g_assert_cmpuint(seen, ==, 3);
}

/* The files QEMU and swtpm use are the sudo user's, not root's. */
static void
assert_vm_files_of(uid_t uid)
{
  g_autoptr(VxmVmPaths) paths = vxm_vm_paths_new(VM, NULL);
  const char *const files[] = {
      paths->data_dir,   paths->disk_qcow2,   paths->efi_vars,  paths->tpm_dir,  paths->runtime_dir,
      paths->qmp_socket, paths->swtpm_socket, paths->state_dir, paths->qemu_log, paths->swtpm_log};
  g_autoptr(GDir) tpm = g_dir_open(paths->tpm_dir, 0, NULL);
  const char *name;
  struct stat st;

  for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
    g_assert_cmpint(lstat(files[i], &st), ==, 0);
    if (st.st_uid != uid)
      g_test_message("%s belongs to uid %u", files[i], (guint)st.st_uid);
    g_assert_cmpuint(st.st_uid, ==, uid);
  }
  g_assert_nonnull(tpm);
  while ((name = g_dir_read_name(tpm)) != NULL) {
    g_autofree char *path = g_build_filename(paths->tpm_dir, name, NULL);

    g_assert_cmpint(lstat(path, &st), ==, 0);
    g_assert_cmpuint(st.st_uid, ==, uid);
  }
}

/* An fd that becomes readable when process @pid has exited (not when it is reaped: this
 * machine's PID 1 reaps orphans late). -1 when it is already gone. */
static int
pidfd_of(gint64 pid)
{
  int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);

  g_assert_true(fd >= 0 || errno == ESRCH);
  return fd;
}

/* TRUE when the process behind @pidfd has exited within @timeout_ms; closes @pidfd. */
static gboolean
pidfd_exited(int pidfd, int timeout_ms)
{
  struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
  int n;

  if (pidfd < 0)
    return TRUE;
  do
    n = poll(&pfd, 1, timeout_ms);
  while (n < 0 && errno == EINTR);
  close(pidfd);
  return n == 1;
}

/* The driver the simulated kernel itself has for @bdf (its state, not what vxm says). */
static char *
sim_driver_of(E2e *e, const char *bdf)
{
  g_autofree char *state = vxm_simhost_state(e->sim);
  g_autofree char *key = g_strdup_printf("pci %s ", bdf);
  const char *line = strstr(state, key);
  const char *drv;

  g_assert_nonnull(line);
  drv = strstr(line, "driver=");
  g_assert_nonnull(drv);
  drv += strlen("driver=");
  return g_strndup(drv, strcspn(drv, " \n"));
}

static JsonNode *
qmp_query(const char *execute)
{
  g_autoptr(VxmVmPaths) paths = vxm_vm_paths_new(VM, NULL);
  g_autoptr(JsonObject) request = json_object_new();
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(GError) error = NULL;

  json_object_set_string_member(request, "command", "qmp-query");
  json_object_set_string_member(request, "execute", execute);
  reply = vxm_control_request(paths, request, 10000, &error);
  g_assert_no_error(error);
  return json_node_copy(json_object_get_member(reply, "return"));
}

/* Waits (inotify on the file) until @path contains @needle; a guard, not a timed assertion. */

/* ---- host resources ---- */

#define POOL_2M       "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
#define G915_KBD_NAME "usb-Logitech_G915_WIRELESS_RGB_MECHANICAL_GAMING_KEYBOARD_1C7A3B92-event-kbd"
#define G915_KBD      "/dev/input/by-id/" G915_KBD_NAME

static guint64
sim_uint(E2e *e, const char *host_path)
{
  g_autofree char *path = vxm_simhost_path(e->sim, host_path);
  g_autofree char *text = NULL;

  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  return g_ascii_strtoull(text, NULL, 10);
}

static void
sim_stat(E2e *e, const char *host_path, struct stat *st)
{
  g_autofree char *path = vxm_simhost_path(e->sim, host_path);

  g_assert_cmpint(stat(path, st), ==, 0);
}

static guint
count_kind(JsonObject *status, const char *kind)
{
  JsonArray *entries =
      json_object_get_array_member(json_object_get_object_member(status, "host"), "entries");
  guint n = 0;

  for (guint i = 0; i < json_array_get_length(entries); i++)
    n += g_strcmp0(json_object_get_string_member(json_array_get_object_element(entries, i), "kind"),
                   kind) == 0;
  return n;
}

static gboolean
strv_node_contains(JsonArray *array, const char *value)
{
  for (guint i = 0; i < json_array_get_length(array); i++)
    if (g_strcmp0(json_array_get_string_element(array, i), value) == 0)
      return TRUE;
  return FALSE;
}

/* The CPUs of @wanted that this machine has: the plan names the simulated host's CPUs, the
 * kernel keeps only real ones in an affinity mask. */
static char *
real_cpus(const char *wanted)
{
  g_autofree char *online_text = NULL;
  g_autoptr(GArray) online = NULL;
  g_autoptr(GArray) want = vxm_cpu_list_parse(wanted, "plan", NULL);
  g_autoptr(GArray) out = vxm_cpu_list_new();

  g_assert_true(g_file_get_contents("/sys/devices/system/cpu/online", &online_text, NULL, NULL));
  online = vxm_cpu_list_parse(g_strstrip(online_text), "online", NULL);
  g_assert_nonnull(want);
  for (guint i = 0; i < want->len; i++)
    if (vxm_cpu_list_contains(online, g_array_index(want, guint, i)))
      vxm_cpu_list_add(out, g_array_index(want, guint, i));
  return vxm_cpu_list_format(out);
}

static char *
affinity_of(gint tid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) cpus = vxm_cpu_pinning_get_affinity(tid, &error);

  g_assert_no_error(error);
  return vxm_cpu_list_format(cpus);
}

/* Every thread of the real QEMU runs where the plan says: each vCPU thread on its CPU, the
 * others on the emulator CPUs. */
static void
assert_pinned(JsonObject *status)
{
  JsonObject *pinning = json_object_get_object_member(status, "pinning");
  JsonArray *vcpu_cpus = json_object_get_array_member(pinning, "vcpu_cpus");
  JsonArray *threads = json_object_get_array_member(pinning, "vcpu_threads");
  g_autofree char *emulator = real_cpus(json_object_get_string_member(pinning, "emulator_cpus"));
  gint64 qemu = json_object_get_int_member(status, "qemu_pid");
  g_autoptr(GArray) tids = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true(json_object_get_boolean_member(pinning, "applied"));
  g_assert_cmpuint(json_array_get_length(threads), ==, json_array_get_length(vcpu_cpus));
  g_assert_cmpuint(json_array_get_length(threads), >=, 1);
  for (guint i = 0; i < json_array_get_length(threads); i++) {
    g_autofree char *want =
        g_strdup_printf("%" G_GINT64_FORMAT, json_array_get_int_element(vcpu_cpus, i));
    g_autofree char *real = real_cpus(want);
    g_autofree char *got = affinity_of((gint)json_array_get_int_element(threads, i));

    g_test_message("vCPU %u: thread %" G_GINT64_FORMAT " on CPUs %s (plan: %s)", i,
                   json_array_get_int_element(threads, i), got, want);
    g_assert_cmpstr(real, !=, "");
    g_assert_cmpstr(got, ==, real);
  }
  tids = vxm_cpu_pinning_list_threads((GPid)qemu, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(tids->len, >, json_array_get_length(threads));
  for (guint i = 0; i < tids->len; i++) {
    gint tid = g_array_index(tids, gint, i);
    gboolean vcpu = FALSE;
    g_autofree char *got = NULL;

    for (guint k = 0; k < json_array_get_length(threads); k++)
      vcpu = vcpu || json_array_get_int_element(threads, k) == tid;
    if (vcpu)
      continue;
    got = affinity_of(tid);
    g_assert_cmpstr(got, ==, emulator);
  }
}

static void
assert_devices_on(JsonObject *status, const char *driver)
{
  JsonArray *devices = json_object_get_array_member(status, "devices");

  g_assert_nonnull(devices);
  g_assert_cmpuint(json_array_get_length(devices), ==, 4);
  for (guint i = 0; i < json_array_get_length(devices); i++) {
    JsonObject *d = json_array_get_object_element(devices, i);

    g_assert_cmpstr(json_object_get_string_member(d, "driver"), ==, driver);
  }
}

static guint
count_occurrences(const char *text, const char *needle)
{
  guint n = 0;

  for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
    n++;
  return n;
}

/* No "restored: X" line repeats an X a step's line already said. */
static void
assert_each_fact_once(const char *out)
{
  g_auto(GStrv) lines = g_strsplit(out, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++) {
    const char *fact = strstr(lines[i], "restored: ");

    if (fact == NULL)
      continue;
    fact += strlen("restored: ");
    if (count_occurrences(out, fact) != 1)
      g_error("said twice: %s\nin:\n%s", fact, out);
  }
}

static void
test_start_stop(void)
{
  E2e e = {0};
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *tree_before = NULL;
  g_autofree char *tree_after = NULL;
  g_autofree char *out = NULL;
  g_autofree char *argv_text = NULL;
  int qemu_fd, swtpm_fd, supervisor_fd;
  g_autofree char *serial = NULL;
  g_autoptr(JsonObject) status = NULL;
  g_autoptr(JsonNode) tpm = NULL;
  g_autoptr(JsonNode) run = NULL;
  JsonObject *tpm0;
  JsonArray *entries;

  guint64 pool_before;
  struct stat kbd_before, kbd_running, kbd_after;
  JsonObject *hp;

  if (!vxm_test_require_root())
    return;
  e2e_setup(&e);
  init_vm(&e);
  before = vxm_simhost_state(e.sim);
  tree_before = vxm_simhost_writable_tree(e.sim);
  pool_before = sim_uint(&e, POOL_2M);
  sim_stat(&e, G915_KBD, &kbd_before);
  vxm_simhost_clear_log(e.sim);

  g_assert_cmpint(run_vxm(&e, &out, "start", VM, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "is running"));
  /* how to get the keyboard back comes first, before commands typed on that keyboard */
  g_assert_nonnull(strstr(out, "press both Ctrl keys together to take them back"));
  g_assert_true(strstr(out, "press both Ctrl keys") < strstr(out, "is running"));
  g_assert_nonnull(strstr(out, "give the GPU to vfio-pci"));
  /* the input devices' long by-id paths, one per line */
  g_assert_nonnull(strstr(out, "\n      /dev/input/by-id/"));
  g_assert_nonnull(strstr(out, "reserve hugepages"));
  g_assert_nonnull(strstr(out, "pin the vCPU threads"));

  /* QEMU got vxm's real argv: the GPU's functions as vfio-pci, paused, sandboxed */
  g_assert_true(g_file_get_contents(e.argv_log, &argv_text, NULL, NULL));
  g_assert_nonnull(strstr(argv_text, "vfio-pci,host=0000:01:00.0"));
  g_assert_nonnull(strstr(argv_text, "vfio-pci,host=0000:01:00.3"));
  g_assert_nonnull(strstr(argv_text, "\n-S\n"));
  g_assert_nonnull(strstr(argv_text, "\n-sandbox\non,"));

  /* QEMU itself says the guest runs, with its TPM on the emulator */
  run = qmp_query("query-status");
  g_assert_cmpstr(json_object_get_string_member(json_node_get_object(run), "status"), ==,
                  "running");
  tpm = qmp_query("query-tpm");
  g_assert_cmpuint(json_array_get_length(json_node_get_array(tpm)), ==, 1);
  tpm0 = json_array_get_object_element(json_node_get_array(tpm), 0);
  g_assert_cmpstr(json_object_get_string_member(tpm0, "model"), ==, "tpm-crb");
  g_assert_cmpstr(
      json_object_get_string_member(json_object_get_object_member(tpm0, "options"), "type"), ==,
      "emulator");

  /* vxm status --json: running, pids, QEMU's run state, the GPU on vfio-pci, the journal */
  status = status_json(&e);
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "running");
  g_assert_cmpstr(json_object_get_string_member(status, "run_state"), ==, "running");
  g_assert_cmpint(json_object_get_int_member(status, "qemu_pid"), >, 0);
  g_assert_cmpint(json_object_get_int_member(status, "swtpm_pid"), >, 0);
  g_assert_cmpint(json_object_get_int_member(status, "supervisor_pid"), >, 0);
  g_assert_cmpstr(json_object_get_string_member(status, "gpu"), ==, "0000:01:00.0");
  assert_devices_on(status, "vfio-pci");
  /* and the simulated kernel agrees, for each of the card's four functions */
  for (guint fn = 0; fn < 4; fn++) {
    g_autofree char *bdf = g_strdup_printf("0000:01:00.%u", fn);
    g_autofree char *driver = sim_driver_of(&e, bdf);

    g_assert_cmpstr(driver, ==, "vfio-pci");
  }
  /* taken now, so that a reused pid cannot answer for them after the stop */
  qemu_fd = pidfd_of(json_object_get_int_member(status, "qemu_pid"));
  swtpm_fd = pidfd_of(json_object_get_int_member(status, "swtpm_pid"));
  supervisor_fd = pidfd_of(json_object_get_int_member(status, "supervisor_pid"));
  g_assert_cmpint(qemu_fd, >=, 0);
  g_assert_cmpint(swtpm_fd, >=, 0);
  g_assert_cmpint(supervisor_fd, >=, 0);
  /* invariant 4: vxm ran as root (as `sudo vxm start`), QEMU and swtpm run as the sudo user */
  assert_runs_as(json_object_get_int_member(status, "qemu_pid"), e.user_uid, e.user_gid);
  assert_runs_as(json_object_get_int_member(status, "swtpm_pid"), e.user_uid, e.user_gid);
  assert_vm_files_of(e.user_uid);
  entries = json_object_get_array_member(json_object_get_object_member(status, "host"), "entries");
  /* the four functions' binding, the pools, /dev/vfio/1 and the four input nodes; hugepages =
   * auto tried 1 GiB pages first (the machine makes none at run time: that entry is undone)
   * and took 2 MiB ones */
  g_assert_cmpuint(count_kind(status, "pci-bind"), ==, 4);
  g_assert_cmpuint(count_kind(status, "hugepages"), ==, 2);
  g_assert_cmpuint(count_kind(status, "device-node-owner"), ==, 5);
  g_assert_cmpuint(json_array_get_length(entries), ==, 11);

  /* the simulated pool holds the guest's RAM while it runs */
  hp = json_object_get_object_member(status, "hugepages");
  g_assert_nonnull(hp);
  g_assert_true(json_object_get_boolean_member(hp, "held"));
  g_assert_cmpint(json_object_get_int_member(hp, "page_size"), ==, 2 << 20);
  g_assert_cmpuint(sim_uint(&e, POOL_2M), ==,
                   pool_before + (guint64)json_object_get_int_member(hp, "count"));
  /* the keyboard and /dev/vfio/1 are the user's, read-write */
  g_assert_true(
      strv_node_contains(json_object_get_array_member(status, "granted_nodes"), G915_KBD));
  g_assert_true(
      strv_node_contains(json_object_get_array_member(status, "granted_nodes"), "/dev/vfio/1"));
  sim_stat(&e, G915_KBD, &kbd_running);
  g_assert_cmpuint(kbd_running.st_uid, ==, e.user_uid);
  g_assert_cmpuint(kbd_running.st_mode & 0600, ==, 0600);
  {
    g_autofree char *log = vxm_simhost_read_log(e.sim);

    g_assert_nonnull(strstr(log, "chown /dev/input/event3"));
    g_assert_nonnull(strstr(log, "chown /dev/vfio/1"));
  }
  /* memlock: refused here (no CAP_SYS_RESOURCE), a warning on a simulated host */
  g_assert_nonnull(json_object_get_object_member(status, "memlock"));
  /* the real QEMU's threads: vCPU on its CPU, the rest on the emulator CPUs */
  assert_pinned(status);
  {
    g_autofree char *human = NULL;

    g_assert_cmpint(run_vxm(&e, &human, "status", VM, NULL), ==, 0);
    g_assert_nonnull(strstr(human, "  hugepages: 7680 x 2 MiB, held\n"));
    g_assert_nonnull(strstr(human, "  pinning: vCPU 0 -> CPU 1 (thread "));
    g_assert_nonnull(strstr(human, "  memlock: 16 GiB wanted, not raised"));
    g_assert_nonnull(strstr(human, "  input kbd0: "));
    g_assert_nonnull(strstr(human, "/dev/vfio/1"));
  }

  /* the firmware (secure boot OVMF) reached its boot manager */
  serial = g_strdup(
      json_object_get_string_member(json_object_get_object_member(status, "logs"), "serial"));
  g_assert_true(vxm_test_wait_file_contains(serial, "BdsDxe", 180));

  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(&e, &out, "stop", VM, NULL), ==, 0);
  /* each restoration once: on its step's line or as "restored:", not both */
  g_test_message("vxm stop:\n%s", out);
  g_assert_cmpuint(count_occurrences(out, "0000:01:00.0 back on nvidia"), ==, 1);
  assert_each_fact_once(out);
  g_assert_nonnull(strstr(out, "the host is restored"));
  /* OVMF without an OS ignores the ACPI power-down: the user sees the time limit run out and
   * QEMU quit, and the log says the same */
  g_assert_nonnull(strstr(out, "ACPI power-down, then quit after the time limit"));
  g_assert_nonnull(strstr(out, "no ACPI shutdown within the time limit: QEMU quit"));
  {
    g_autofree char *log = vm_log("vxm");
    const char *powerdown = strstr(log, "QMP event POWERDOWN");
    const char *timed_out = strstr(log, "the guest did not shut down within the time limit: quit");

    g_assert_nonnull(powerdown);
    g_assert_nonnull(timed_out);
    g_assert_true(powerdown < timed_out);
    g_assert_nonnull(strstr(timed_out, "QMP quit"));
  }
  /* QEMU and swtpm have exited when the stop returns; the supervisor right after */
  g_assert_true(pidfd_exited(qemu_fd, 0));
  g_assert_true(pidfd_exited(swtpm_fd, 0));
  g_assert_true(pidfd_exited(supervisor_fd, 30000));
  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);
  /* every file vxm may write is as it was: no journal folder, socket or shared memory left */
  tree_after = vxm_simhost_writable_tree(e.sim);
  g_assert_cmpstr(tree_after, ==, tree_before);
  /* the pool is back at its previous count, the keyboard back to its owner and mode */
  g_assert_cmpuint(sim_uint(&e, POOL_2M), ==, pool_before);
  sim_stat(&e, G915_KBD, &kbd_after);
  g_assert_cmpuint(kbd_after.st_uid, ==, kbd_before.st_uid);
  g_assert_cmpuint(kbd_after.st_gid, ==, kbd_before.st_gid);
  g_assert_cmpuint(kbd_after.st_mode, ==, kbd_before.st_mode);

  g_clear_pointer(&status, json_object_unref);
  status = status_json(&e);
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "stopped");
  g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(status, "host")));
  g_assert_cmpstr(
      json_object_get_string_member(
          json_array_get_object_element(json_object_get_array_member(status, "devices"), 0),
          "driver"),
      ==, "nvidia");
  /* the power-down step waited the whole time limit (shutdown_timeout=2) before the quit */
  {
    JsonArray *steps = json_object_get_array_member(status, "steps");
    gboolean seen = FALSE;

    for (guint i = 0; i < json_array_get_length(steps); i++) {
      JsonObject *step = json_array_get_object_element(steps, i);

      if (g_strcmp0(json_object_get_string_member(step, "step"), "shutdown-guest") != 0)
        continue;
      seen = TRUE;
      g_assert_cmpint(json_object_get_int_member(step, "ms"), >=, 2000);
    }
    g_assert_true(seen);
  }
  e2e_teardown(&e);
}

static void
test_kill_recover(void)
{
  E2e e = {0};
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *tree_before = NULL;
  g_autofree char *recovered = NULL;
  g_autofree char *tree_after = NULL;
  g_autofree char *out = NULL;
  g_autoptr(JsonObject) status = NULL;
  g_autoptr(VxmVmPaths) paths = NULL;
  struct pollfd pfd = {.events = POLLIN};
  guint64 pool_before;
  gint64 pid;
  int qemu_fd, swtpm_fd;

  if (!vxm_test_require_root())
    return;
  e2e_setup(&e);
  init_vm(&e);
  paths = vxm_vm_paths_new(VM, NULL);
  before = vxm_simhost_state(e.sim);
  tree_before = vxm_simhost_writable_tree(e.sim);
  pool_before = sim_uint(&e, POOL_2M);
  g_assert_cmpint(run_vxm(&e, NULL, "start", VM, NULL), ==, 0);
  status = status_json(&e);
  g_assert_cmpuint(sim_uint(&e, POOL_2M), >, pool_before);
  pid = json_object_get_int_member(status, "supervisor_pid");
  g_assert_cmpint(pid, >, 0);
  g_assert_cmpint(json_object_get_int_member(status, "qemu_pid"), >, 0);
  g_assert_cmpint(json_object_get_int_member(status, "swtpm_pid"), >, 0);
  /* taken before the kill, so a reused pid cannot answer for them */
  qemu_fd = pidfd_of(json_object_get_int_member(status, "qemu_pid"));
  swtpm_fd = pidfd_of(json_object_get_int_member(status, "swtpm_pid"));
  g_assert_cmpint(qemu_fd, >=, 0);
  g_assert_cmpint(swtpm_fd, >=, 0);

  /* SIGKILL: no teardown runs; the journal is all that is left */
  pfd.fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  g_assert_cmpint(pfd.fd, >=, 0);
  g_assert_cmpint(kill((pid_t)pid, SIGKILL), ==, 0);
  g_assert_cmpint(poll(&pfd, 1, 30000), ==, 1);
  close(pfd.fd);
  /* nothing outlives the supervisor: QEMU dies with it (PDEATHSIG), swtpm when QEMU goes */
  g_assert_true(pidfd_exited(qemu_fd, 30000));
  g_assert_true(pidfd_exited(swtpm_fd, 30000));
  g_assert_false(vxm_vm_is_running(paths));
  g_clear_pointer(&status, json_object_unref);
  status = status_json(&e);
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "failed");
  g_assert_nonnull(strstr(json_object_get_string_member(status, "reason"), "vxm recover"));
  assert_devices_on(status, "vfio-pci");
  /* the pages are still held: only the journal knows */
  g_assert_cmpuint(sim_uint(&e, POOL_2M), >, pool_before);

  /* a new start is refused until the host is recovered */
  g_assert_cmpint(run_vxm(&e, &out, "start", VM, NULL), ==, 1);
  g_assert_nonnull(strstr(out, "vxm recover"));

  g_assert_cmpint(run_vxm(&e, &recovered, "recover", NULL), ==, 0);
  /* each restoration said once */
  g_assert_cmpuint(count_occurrences(recovered, "0000:01:00.0 back on nvidia"), ==, 1);
  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);
  tree_after = vxm_simhost_writable_tree(e.sim);
  g_assert_cmpstr(tree_after, ==, tree_before);
  g_assert_cmpuint(sim_uint(&e, POOL_2M), ==, pool_before);
  e2e_teardown(&e);
}

/* The real QEMU refuses its command line (vxm-qemu-sim adds an option it does not know): vxm
 * start fails with QEMU's own words and its log, and the simulated host is as before. */
static void
test_qemu_bad_option(void)
{
  E2e e = {0};
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *out = NULL;
  g_autofree char *qemu_log = NULL;
  g_autoptr(JsonObject) status = NULL;
  g_autoptr(VxmVmPaths) paths = NULL;
  guint64 pool_before;
  const char *reason;

  if (!vxm_test_require_root())
    return;
  e2e_setup_with(&e, (const char *const[]){"VXM_QEMU_SIM_EXTRA_OPTION=-no-such-option", NULL});
  init_vm(&e);
  paths = vxm_vm_paths_new(VM, NULL);
  before = vxm_simhost_state(e.sim);
  pool_before = sim_uint(&e, POOL_2M);

  g_assert_cmpint(run_vxm(&e, &out, "start", VM, NULL), ==, 1);
  g_assert_nonnull(strstr(out, "QEMU exited with status 1 at start"));
  g_assert_nonnull(strstr(out, "/qemu.log"));
  g_assert_nonnull(strstr(out, "-no-such-option: invalid option"));
  qemu_log = vm_log("qemu");
  g_assert_nonnull(strstr(qemu_log, "-no-such-option: invalid option"));

  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);
  g_assert_cmpuint(sim_uint(&e, POOL_2M), ==, pool_before);
  g_assert_false(vxm_vm_is_running(paths));
  g_assert_false(g_file_test(paths->swtpm_socket, G_FILE_TEST_EXISTS));
  status = status_json(&e);
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "failed");
  reason = json_object_get_string_member(status, "reason");
  g_assert_nonnull(strstr(reason, "QEMU exited with status 1 at start"));
  g_assert_nonnull(strstr(reason, "/qemu.log"));
  g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(status, "host")));
  g_assert_cmpstr(
      json_object_get_string_member(
          json_array_get_object_element(json_object_get_array_member(status, "devices"), 0),
          "driver"),
      ==, "nvidia");
  e2e_teardown(&e);
}

/* The real QEMU is killed while the guest runs: the supervisor sees it (pidfd), says so with
 * QEMU's log, restores the host exactly, and exits. */
static void
test_qemu_killed(void)
{
  E2e e = {0};
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr(JsonObject) status = NULL;
  guint64 pool_before;
  gint64 qemu_pid;
  int supervisor_fd;
  const char *reason;

  if (!vxm_test_require_root())
    return;
  e2e_setup(&e);
  init_vm(&e);
  before = vxm_simhost_state(e.sim);
  pool_before = sim_uint(&e, POOL_2M);
  g_assert_cmpint(run_vxm(&e, NULL, "start", VM, NULL), ==, 0);
  status = status_json(&e);
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "running");
  qemu_pid = json_object_get_int_member(status, "qemu_pid");
  g_assert_cmpint(qemu_pid, >, 0);
  supervisor_fd = pidfd_of(json_object_get_int_member(status, "supervisor_pid"));
  g_assert_cmpint(supervisor_fd, >=, 0);
  g_assert_cmpuint(sim_uint(&e, POOL_2M), >, pool_before);

  g_assert_cmpint(kill((pid_t)qemu_pid, SIGKILL), ==, 0);
  /* the supervisor tears down and exits by itself */
  g_assert_true(pidfd_exited(supervisor_fd, 60000));

  g_clear_pointer(&status, json_object_unref);
  status = status_json(&e);
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "failed");
  reason = json_object_get_string_member(status, "reason");
  g_test_message("reason: %s", reason);
  g_assert_nonnull(strstr(reason, "QEMU was killed by signal 9"));
  g_assert_nonnull(strstr(reason, "while the VM ran"));
  g_assert_nonnull(strstr(reason, "/qemu.log"));
  g_assert_false(json_object_get_boolean_member(status, "running"));
  g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(status, "host")));
  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);
  g_assert_cmpuint(sim_uint(&e, POOL_2M), ==, pool_before);
  e2e_teardown(&e);
}

/* swtpm exits at once (a `swtpm` that is /bin/false, first in PATH): the start fails naming
 * swtpm's log, QEMU never runs, and nothing of the host stays changed. */
static void
test_swtpm_fails(void)
{
  E2e e = {0};
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *out = NULL;
  g_autofree char *bin = NULL;
  g_autofree char *fake = NULL;
  g_autoptr(JsonObject) status = NULL;
  g_autoptr(VxmVmPaths) paths = NULL;
  guint64 pool_before;

  if (!vxm_test_require_root())
    return;
  e2e_setup(&e);
  init_vm(&e);
  paths = vxm_vm_paths_new(VM, NULL);
  bin = g_build_filename(e.tmp, "bin", NULL);
  fake = g_build_filename(bin, "swtpm", NULL);
  g_assert_cmpint(g_mkdir_with_parents(bin, 0755), ==, 0);
  g_assert_cmpint(symlink("/bin/false", fake), ==, 0);
  e2e_prepend_path(&e, bin);
  before = vxm_simhost_state(e.sim);
  pool_before = sim_uint(&e, POOL_2M);

  g_assert_cmpint(run_vxm(&e, &out, "start", VM, NULL), ==, 1);
  g_assert_nonnull(strstr(out, "swtpm exited with status 1 at start"));
  g_assert_nonnull(strstr(out, "/swtpm.log"));
  /* QEMU never ran: vxm-qemu-sim writes its argv first thing */
  g_assert_false(g_file_test(e.argv_log, G_FILE_TEST_EXISTS));

  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);
  g_assert_cmpuint(sim_uint(&e, POOL_2M), ==, pool_before);
  g_assert_false(vxm_vm_is_running(paths));
  status = status_json(&e);
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "failed");
  g_assert_nonnull(strstr(json_object_get_string_member(status, "reason"), "/swtpm.log"));
  g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(status, "host")));
  e2e_teardown(&e);
}

/* What the pty's master side has read so far; reads until @needle is in it, the child closes
 * the terminal, or @guard_s runs out (a guard, not a timed assertion). */
static gboolean
pty_read_until(int master, GString *text, const char *needle, guint guard_s)
{
  gint64 end = g_get_monotonic_time() + (gint64)guard_s * G_USEC_PER_SEC;

  while (strstr(text->str, needle) == NULL) {
    struct pollfd pfd = {.fd = master, .events = POLLIN};
    gint64 left_ms = (end - g_get_monotonic_time()) / 1000;
    char buf[4096];
    ssize_t n;

    if (left_ms <= 0)
      return FALSE;
    if (poll(&pfd, 1, (int)left_ms) <= 0)
      continue;
    n = read(master, buf, sizeof buf);
    if (n <= 0)
      return strstr(text->str, needle) != NULL; /* EIO: the child closed the terminal */
    g_string_append_len(text, buf, n);
  }
  return TRUE;
}

/* `vxm start --foreground` on a terminal: the steps are drawn live (the active ones on one
 * line, redrawn), and Ctrl+C (the terminal's SIGINT) stops the guest with an ACPI power-down,
 * quits it after the time limit, restores the host and exits 0. */
static void
test_foreground_ctrl_c(void)
{
  E2e e = {0};
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *log = NULL;
  g_autoptr(GString) screen = g_string_new(NULL);
  g_autoptr(GStrvBuilder) env = g_strv_builder_new();
  g_autoptr(JsonObject) status = NULL;
  g_auto(GStrv) envp = NULL;
  const char *argv[8];
  int master, slave, wait_status = 0;
  pid_t child;

  if (!vxm_test_require_root())
    return;
  e2e_setup(&e);
  init_vm(&e);
  before = vxm_simhost_state(e.sim);
  g_strv_builder_addv(env, (const char **)e.envp);
  g_strv_builder_add(env, "TERM=xterm");
  envp = g_strv_builder_end(env);
  argv[0] = e.vxm;
  argv[1] = "start";
  argv[2] = VM;
  argv[3] = "--foreground";
  argv[4] = "--root";
  argv[5] = vxm_simhost_root(e.sim);
  argv[6] = NULL;
  g_assert_cmpint(openpty(&master, &slave, NULL, NULL, NULL), ==, 0);

  child = fork();
  g_assert_cmpint(child, >=, 0);
  if (child == 0) {
    /* a session of its own with the pty as its controlling terminal, like a shell's job */
    if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0 || dup2(slave, 0) < 0 ||
        dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
      _exit(126);
    close(master);
    if (slave > 2)
      close(slave);
    execve(argv[0], (char *const *)argv, envp);
    _exit(127);
  }
  close(slave);

  /* the finished step's line (the live line has "… run the guest") */
  g_assert_true(pty_read_until(master, screen, "✔ run the guest", 180));
  g_test_message("terminal until running:\n%s", screen->str);
  g_assert_nonnull(strstr(screen->str, "Ctrl+C stops the guest"));
  g_assert_true(pty_read_until(master, screen, "press both Ctrl keys together", 10));
  /* live: the steps under way are drawn on one line, then erased and redrawn */
  g_assert_nonnull(strstr(screen->str, "  … "));
  g_assert_nonnull(strstr(screen->str, "\r\033[K"));
  g_assert_nonnull(strstr(screen->str, "✔"));
  status = status_json(&e);
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "running");

  /* Ctrl+C as typed: the line discipline sends SIGINT to the terminal's foreground group */
  g_assert_cmpint(write(master, "\x03", 1), ==, 1);
  g_assert_true(pty_read_until(master, screen, "the host is restored", 120));
  g_test_message("terminal:\n%s", screen->str);
  g_assert_cmpint(waitpid(child, &wait_status, 0), ==, child);
  close(master);
  g_assert_true(WIFEXITED(wait_status));
  g_assert_cmpint(WEXITSTATUS(wait_status), ==, 0);
  g_assert_nonnull(strstr(screen->str, "no ACPI shutdown within the time limit: QEMU quit"));
  g_assert_cmpuint(count_occurrences(screen->str, "0000:01:00.0 back on nvidia"), ==, 1);
  assert_each_fact_once(screen->str);

  log = vm_log("vxm");
  g_assert_nonnull(strstr(log, "signal received: stopping the guest"));
  g_assert_null(strstr(log, "second signal"));
  g_assert_true(strstr(log, "signal received") < strstr(log, "QMP event POWERDOWN"));
  g_assert_nonnull(strstr(log, "the guest did not shut down within the time limit: quit"));
  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);
  e2e_teardown(&e);
}

/* Ctrl+C while `vxm start` waits for its background start cancels the start as --foreground
 * does: the supervisor undoes what it began, the host is as before, and it says so. */
static void
test_background_ctrl_c(void)
{
  E2e e = {0};
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *first = NULL;
  g_autofree char *rest = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GDataInputStream) lines = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) status = NULL;

  if (!vxm_test_require_root())
    return;
  e2e_setup(&e);
  init_vm(&e);
  before = vxm_simhost_state(e.sim);
  launcher =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_environ(launcher, e.envp);
  child = g_subprocess_launcher_spawn(launcher, &error, e.vxm, "start", VM, "--root",
                                      vxm_simhost_root(e.sim), NULL);
  g_assert_no_error(error);
  lines = g_data_input_stream_new(g_subprocess_get_stdout_pipe(child));
  first = g_data_input_stream_read_line_utf8(lines, NULL, NULL, &error);
  g_assert_no_error(error);
  g_assert_nonnull(strstr(first, "in the background"));
  /* once the start is under way (the lock is taken), Ctrl+C */
  for (;;) {
    g_autofree char *line = g_data_input_stream_read_line_utf8(lines, NULL, NULL, &error);

    g_assert_no_error(error);
    g_assert_nonnull(line);
    if (strstr(line, "lock the VM") != NULL)
      break;
  }
  g_subprocess_send_signal(child, SIGINT);
  g_assert_true(g_subprocess_communicate_utf8(child, NULL, NULL, &rest, &err, &error));
  g_assert_no_error(error);
  g_test_message("stdout: %s\n%s\nstderr: %s", first, rest, err);
  g_assert_cmpint(g_subprocess_get_exit_status(child), ==, 1);
  /* monitor = auto is the usual case: no note about it at every start */
  g_assert_null(strstr(err, "note: monitor = auto"));
  /* off a terminal too, every step's duration ends in the same column */
  {
    g_autoptr(GRegex) re = g_regex_new("^  (ok|skipped|FAILED) +.*?[0-9.]+ m?s", 0, 0, NULL);
    g_auto(GStrv) step_lines = g_strsplit(rest, "\n", -1);
    gint column = -1;

    for (guint i = 0; step_lines[i] != NULL; i++) {
      g_autoptr(GMatchInfo) m = NULL;
      gint end = 0;

      if (!g_regex_match(re, step_lines[i], 0, &m))
        continue;
      g_assert_true(g_match_info_fetch_pos(m, 0, NULL, &end));
      if (column < 0)
        column = end;
      if (end != column)
        g_error("step line not aligned (column %d, not %d): '%s'\n%s", end, column, step_lines[i],
                rest);
    }
    g_assert_cmpint(column, >, 0);
  }
  g_assert_nonnull(strstr(err, "cancelling"));
  g_assert_nonnull(strstr(err, "the start of VM " VM " was cancelled; the host is restored"));
  status = status_json(&e);
  g_assert_cmpstr(json_object_get_string_member(status, "state"), !=, "running");
  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);
  e2e_teardown(&e);
}

/* A two-node host, the guest GPU on node 1 with 1 GiB pages reserved there at boot: the dry run
 * takes them from node 1, binds the memory backend to it, and pins the vCPUs on node 1's CPUs
 * with -smp from the plan. */
static void
test_dry_run_two_node(void)
{
  E2e e = {0};
  g_autofree char *out = NULL;
  g_autofree char *human = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  g_autofree char *sim = vxm_test_user_binary("tests/vxm-qemu-sim");
  g_autofree char *qemu_set = NULL;
  g_autofree char *argv = NULL;
  g_autofree char *smp = NULL;
  JsonObject *root, *hp, *pinning;
  JsonArray *qemu;
  g_autoptr(GString) args = g_string_new(NULL);

  if (!vxm_test_require_root())
    return;
  e2e_setup_machine(&e, "xeon-two-node", NULL);
  qemu_set = g_strdup_printf("qemu_binary=%s", sim);
  g_assert_cmpint(run_vxm(&e, NULL, "init", VM, "--disk-size", "64M", "--set", qemu_set, "--set",
                          "memory.size=8G", "--set", "tpm=false", NULL),
                  ==, 0);
  g_assert_cmpint(run_vxm(&e, &out, "start", VM, "--dry-run", "--json", NULL), ==, 0);
  g_assert_true(json_parser_load_from_data(parser, out, -1, &error));
  root = json_node_get_object(json_parser_get_root(parser));
  hp = json_object_get_object_member(root, "hugepages");
  g_assert_nonnull(hp);
  g_assert_cmpint(json_object_get_int_member(hp, "page_size"), ==, 1 << 30);
  g_assert_cmpint(json_object_get_int_member(hp, "count"), ==, 8);
  g_assert_cmpint(json_object_get_int_member(hp, "node"), ==, 1);
  g_assert_cmpint(json_object_get_int_member(root, "memlock_bytes"), ==,
                  G_GINT64_CONSTANT(9) << 30);
  pinning = json_object_get_object_member(root, "pinning");
  g_assert_true(json_object_get_boolean_member(pinning, "pinned"));
  g_assert_cmpint(json_object_get_int_member(pinning, "numa_node"), ==, 1);
  qemu = json_object_get_array_member(root, "qemu");
  for (guint i = 0; i < json_array_get_length(qemu); i++)
    g_string_append_printf(args, "%s\n", json_array_get_string_element(qemu, i));
  g_assert_nonnull(
      strstr(args->str, "hugetlbsize=1G,share=on,prealloc=on,host-nodes=1,policy=bind"));
  smp = g_strdup_printf("\n-smp\n%" G_GINT64_FORMAT ",sockets=1,cores=%" G_GINT64_FORMAT
                        ",threads=%" G_GINT64_FORMAT "\n",
                        json_object_get_int_member(pinning, "vcpus"),
                        json_object_get_int_member(pinning, "cores"),
                        json_object_get_int_member(pinning, "threads"));
  g_assert_nonnull(strstr(args->str, smp));
  /* the guest's vCPUs are on node 1's CPUs (20-39: the simulator splits them evenly) */
  for (guint i = 0; i < json_array_get_length(json_object_get_array_member(pinning, "vcpu_cpus"));
       i++)
    g_assert_cmpint(
        json_array_get_int_element(json_object_get_array_member(pinning, "vcpu_cpus"), i), >=, 20);

  g_assert_cmpint(run_vxm(&e, &human, "start", VM, "--dry-run", NULL), ==, 0);
  g_assert_nonnull(strstr(human, "8 x 1 GiB pages from the 1 GiB hugepage pool of NUMA node 1"));
  g_assert_nonnull(strstr(human, "numa node: 1"));
  e2e_teardown(&e);
}

static void
sim_input(E2e *e, const char *line)
{
  g_autofree char *path = vxm_simhost_path(e->sim, "/.simhost/input");
  int fd = open(path, O_WRONLY);

  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(write(fd, line, strlen(line)), ==, (gssize)strlen(line));
  close(fd);
}

static char *
sim_input_line(E2e *e, const char *name)
{
  g_autofree char *path = vxm_simhost_path(e->sim, "/.simhost/input");
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *prefix = g_strdup_printf("input %s ", name);

  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix(lines[i], prefix))
      return g_strdup(lines[i]);
  return g_strdup("");
}

#define KBD_GRABBED "input g915-kbd event3 plugged grab=qemu-system-x86 clients=1"

/* Until the simulated keyboard's line is @want: a QMP round trip each time (QEMU has handled
 * what its fds had before it answers), at most 200. */
static void
wait_kbd(E2e *e, const char *want)
{
  g_autofree char *line = NULL;

  for (guint i = 0; i < 200; i++) {
    g_autoptr(JsonNode) barrier = qmp_query("query-status");

    g_free(line);
    line = sim_input_line(e, "g915-kbd");
    if (g_str_equal(line, want))
      return;
  }
  g_assert_cmpstr(line, ==, want);
}

static int
compare_lines(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The simulator's state dump as sorted lines, with @from replaced by @to: a node renumbered by
 * a replug moves in the dump's order. */
static char *
sorted_state(const char *state, const char *from, const char *to)
{
  g_autoptr(GString) text = g_string_new(state);
  g_auto(GStrv) lines = NULL;

  if (from != NULL)
    g_string_replace(text, from, to, 0);
  lines = g_strsplit(text->str, "\n", -1);
  qsort(lines, g_strv_length(lines), sizeof(char *), compare_lines);
  return g_strjoinv("\n", lines);
}

/* The status's input object @id: its "state" member ("attached", ...) or NULL. */
static const char *
input_state(JsonObject *status, const char *id)
{
  JsonArray *inputs = json_object_get_array_member(status, "inputs");

  for (guint i = 0; i < json_array_get_length(inputs); i++) {
    JsonObject *o = json_array_get_object_element(inputs, i);

    if (g_strcmp0(json_object_get_string_member(o, "id"), id) == 0)
      return json_object_get_string_member(o, "state");
  }
  g_assert_not_reached();
}

/* How many device-node-owner entries of the running VM's journal are for @path. */
static guint
node_entries(JsonObject *status, const char *path)
{
  JsonArray *entries =
      json_object_get_array_member(json_object_get_object_member(status, "host"), "entries");
  guint n = 0;

  for (guint i = 0; i < json_array_get_length(entries); i++) {
    JsonObject *entry = json_array_get_object_element(entries, i);

    if (g_strcmp0(json_object_get_string_member(entry, "kind"), "device-node-owner") == 0 &&
        g_strcmp0(
            json_object_get_string_member(json_object_get_object_member(entry, "data"), "path"),
            path) == 0)
      n++;
  }
  return n;
}

/* The real QEMU keeps its input-linux objects (vxm-qemu-sim with KEEP_INPUT and the evdev
 * shim): the keyboard is unplugged and plugged back while the guest runs, and the supervisor's
 * watcher deletes the dead object, gives the new node to the user and adds the object again;
 * QEMU grabs the new node. Then it is unplugged again and comes back as a new node (event20,
 * as real kernels often give): the watcher gives that node and QEMU opens it through the same
 * by-id path. At stop every node is back to what it was (the new one as the old one was). */
static void
test_input_replug(void)
{
  E2e e = {0};
  const char *shim = g_getenv("VXM_TEST_EVDEV_SHIM");
  g_autofree char *shim_env = NULL;
  g_autofree char *out = NULL;
  g_autofree char *log = NULL;
  g_autofree char *vxm_log = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr(JsonObject) status = NULL;
  struct stat kbd_before, kbd_after;

  if (!vxm_test_require_root())
    return;
  if (shim == NULL) {
    g_test_skip("VXM_TEST_EVDEV_SHIM is not set (run through meson test)");
    return;
  }
  shim_env = g_strdup_printf("VXM_QEMU_SIM_EVDEV_SHIM=%s", shim);
  e2e_setup_with(&e, (const char *const[]){"VXM_QEMU_SIM_KEEP_INPUT=1", shim_env, NULL});
  init_vm(&e);
  sim_stat(&e, G915_KBD, &kbd_before);
  before = vxm_simhost_state(e.sim);
  g_assert_cmpint(run_vxm(&e, &out, "start", VM, NULL), ==, 0);
  status = status_json(&e);
  vxm_log =
      g_strdup(json_object_get_string_member(json_object_get_object_member(status, "logs"), "vxm"));
  wait_kbd(&e, KBD_GRABBED);
  g_assert_cmpstr(input_state(status, "kbd0"), ==, "attached");

  vxm_simhost_clear_log(e.sim);
  sim_input(&e, "unplug g915-kbd\n");
  g_assert_true(vxm_test_wait_file_contains(vxm_log, "input kbd0: gone", 30));
  {
    g_autoptr(JsonObject) unplugged = status_json(&e);
    g_autofree char *human = NULL;

    g_assert_cmpstr(input_state(unplugged, "kbd0"), ==, "unplugged");
    g_assert_cmpstr(input_state(unplugged, "mouse0"), ==, "attached");
    g_assert_cmpint(run_vxm(&e, &human, "status", VM, NULL), ==, 0);
    g_assert_nonnull(strstr(human, "-event-kbd (unplugged: it rejoins the guest when plugged "
                                   "back in)\n"));
  }
  sim_input(&e, "replug g915-kbd\n");
  g_assert_true(vxm_test_wait_file_contains(vxm_log, "input kbd0: readded", 30));
  wait_kbd(&e, KBD_GRABBED);
  log = vxm_simhost_read_log(e.sim);
  g_test_message("simulator log, unplug and replug:\n%s", log);
  /* re-granted before QEMU opened the new node */
  g_assert_nonnull(strstr(log, "chown /dev/input/event3"));
  g_assert_true(strstr(log, "chown /dev/input/event3") <
                strstr(log, "open /dev/input/event3 rw -> ok"));
  g_assert_nonnull(strstr(log, "ioctl /dev/input/event3 EVIOCGRAB 1 -> ok"));
  /* the re-grant is journaled, so the stop gives it back */
  g_clear_pointer(&status, json_object_unref);
  status = status_json(&e);
  g_assert_cmpuint(node_entries(status, "/dev/input/event3"), ==, 2);
  g_assert_cmpstr(input_state(status, "kbd0"), ==, "attached");

  /* again, and the kernel gives it a new node */
  vxm_simhost_clear_log(e.sim);
  sim_input(&e, "unplug g915-kbd\n");
  sim_input(&e, "replug g915-kbd event20\n");
  g_assert_true(vxm_test_wait_file_contains(vxm_log, "(/dev/input/event20) to ", 30));
  wait_kbd(&e, "input g915-kbd event20 plugged grab=qemu-system-x86 clients=1");
  g_clear_pointer(&log, g_free);
  log = vxm_simhost_read_log(e.sim);
  g_test_message("simulator log, replug as event20:\n%s", log);
  g_assert_nonnull(strstr(log, "chown /dev/input/event20"));
  g_assert_true(strstr(log, "chown /dev/input/event20") <
                strstr(log, "open /dev/input/event20 rw -> ok"));
  g_clear_pointer(&status, json_object_unref);
  status = status_json(&e);
  g_assert_cmpuint(node_entries(status, "/dev/input/event20"), ==, 1);

  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(&e, &out, "stop", VM, NULL), ==, 0);
  g_clear_pointer(&log, g_free);
  log = sim_input_line(&e, "g915-kbd");
  g_assert_cmpstr(log, ==, "input g915-kbd event20 plugged grab=none clients=0");
  /* the keyboard's node (now event20) has the owner and mode event3 had before the start,
   * and nothing else of the host differs */
  sim_stat(&e, G915_KBD, &kbd_after);
  g_assert_cmpuint(kbd_after.st_uid, ==, kbd_before.st_uid);
  g_assert_cmpuint(kbd_after.st_gid, ==, kbd_before.st_gid);
  g_assert_cmpuint(kbd_after.st_mode, ==, kbd_before.st_mode);
  after = vxm_simhost_state(e.sim);
  {
    g_autofree char *want = sorted_state(before, "event3 ", "event20 ");
    g_autofree char *got = sorted_state(after, NULL, NULL);

    g_assert_cmpstr(got, ==, want);
  }
  g_clear_pointer(&status, json_object_unref);
  status = status_json(&e);
  g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(status, "host")));
  e2e_teardown(&e);
}

/* A keyboard the config names is unplugged when the VM starts: QEMU starts without it, and
 * it joins the guest when it is plugged in (granted first, then object-add). */
static void
test_input_pending(void)
{
  E2e e = {0};
  const char *shim = g_getenv("VXM_TEST_EVDEV_SHIM");
  g_autofree char *shim_env = NULL;
  g_autofree char *sim = vxm_test_user_binary("tests/vxm-qemu-sim");
  g_autofree char *qemu_set = NULL;
  g_autofree char *argv_text = NULL;
  g_autofree char *log = NULL;
  g_autofree char *line = NULL;
  g_autofree char *vxm_log = NULL;
  g_autoptr(JsonObject) status = NULL;

  if (!vxm_test_require_root())
    return;
  if (shim == NULL) {
    g_test_skip("VXM_TEST_EVDEV_SHIM is not set (run through meson test)");
    return;
  }
  shim_env = g_strdup_printf("VXM_QEMU_SIM_EVDEV_SHIM=%s", shim);
  e2e_setup_with(&e, (const char *const[]){"VXM_QEMU_SIM_KEEP_INPUT=1", shim_env, NULL});
  qemu_set = g_strdup_printf("qemu_binary=%s", sim);
  g_assert_cmpint(run_vxm(&e, NULL, "init", VM, "--disk-size", "64M", "--set", qemu_set, "--set",
                          "shutdown_timeout=2", "--set", "vcpus=1", "--set",
                          "inputs=" G915_KBD_NAME, NULL),
                  ==, 0);
  sim_input(&e, "unplug g915-kbd\n");
  g_assert_cmpint(run_vxm(&e, NULL, "start", VM, NULL), ==, 0);
  g_assert_true(g_file_get_contents(e.argv_log, &argv_text, NULL, NULL));
  g_assert_null(strstr(argv_text, "input-linux"));
  status = status_json(&e);
  vxm_log =
      g_strdup(json_object_get_string_member(json_object_get_object_member(status, "logs"), "vxm"));
  g_assert_true(vxm_test_wait_file_contains(vxm_log, "1 not plugged in yet", 30));
  g_clear_pointer(&status, json_object_unref);
  status = status_json(&e);
  g_assert_cmpstr(input_state(status, "kbd0"), ==, "waiting");
  {
    g_autofree char *human = NULL;

    g_assert_cmpint(run_vxm(&e, &human, "status", VM, NULL), ==, 0);
    g_assert_nonnull(strstr(human, "  input kbd0: "));
    g_assert_nonnull(
        strstr(human, G915_KBD " (not plugged in yet: it joins the guest when it is)\n"));
  }

  vxm_simhost_clear_log(e.sim);
  sim_input(&e, "replug g915-kbd\n");
  g_assert_true(vxm_test_wait_file_contains(vxm_log, "input kbd0: readded", 30));
  wait_kbd(&e, KBD_GRABBED);
  log = vxm_simhost_read_log(e.sim);
  g_assert_true(strstr(log, "chown /dev/input/event3") <
                strstr(log, "open /dev/input/event3 rw -> ok"));
  g_clear_pointer(&status, json_object_unref);
  status = status_json(&e);
  g_assert_cmpstr(input_state(status, "kbd0"), ==, "attached");
  g_assert_cmpint(run_vxm(&e, NULL, "stop", VM, NULL), ==, 0);
  line = sim_input_line(&e, "g915-kbd");
  g_assert_cmpstr(line, ==, "input g915-kbd event3 plugged grab=none clients=0");
  e2e_teardown(&e);
}

/* keep_bound: at stop the GPU stays on vfio-pci (the journal held for it) while the hugepages
 * and the device nodes are given back; `vxm reattach` then gives the GPU back too. */
static void
test_keep_bound(void)
{
  E2e e = {0};
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *sim = vxm_test_user_binary("tests/vxm-qemu-sim");
  g_autofree char *qemu_set = g_strdup_printf("qemu_binary=%s", sim);
  g_autoptr(JsonObject) status = NULL;
  struct stat kbd_before, kbd_after;
  guint64 pool_before;
  JsonObject *host;

  if (!vxm_test_require_root())
    return;
  e2e_setup(&e);
  g_assert_cmpint(run_vxm(&e, NULL, "init", VM, "--disk-size", "64M", "--set", qemu_set, "--set",
                          "shutdown_timeout=2", "--set", "vcpus=1", "--set", "keep_bound=true",
                          NULL),
                  ==, 0);
  before = vxm_simhost_state(e.sim);
  pool_before = sim_uint(&e, POOL_2M);
  sim_stat(&e, G915_KBD, &kbd_before);
  g_assert_cmpint(run_vxm(&e, NULL, "start", VM, NULL), ==, 0);
  g_assert_cmpuint(sim_uint(&e, POOL_2M), >, pool_before);
  g_assert_cmpint(run_vxm(&e, NULL, "stop", VM, NULL), ==, 0);

  status = status_json(&e);
  assert_devices_on(status, "vfio-pci");
  g_assert_cmpuint(sim_uint(&e, POOL_2M), ==, pool_before);
  sim_stat(&e, G915_KBD, &kbd_after);
  g_assert_cmpuint(kbd_after.st_uid, ==, kbd_before.st_uid);
  g_assert_cmpuint(kbd_after.st_mode, ==, kbd_before.st_mode);
  host = json_object_get_object_member(status, "host");
  g_assert_nonnull(host);
  g_assert_nonnull(json_object_get_string_member(host, "held"));

  g_assert_cmpint(run_vxm(&e, NULL, "reattach", VM, NULL), ==, 0);
  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);
  e2e_teardown(&e);
}

/* ---- [pci] extra: whole devices beside the GPU ---- */

#define EXTRA_USB  "0000:04:00.0"
#define EXTRA_NVME "0000:05:00.0"

static char *
sim_driver(E2e *e, const char *bdf)
{
  g_autofree char *link = g_strdup_printf("/sys/bus/pci/devices/%s/driver", bdf);
  g_autofree char *path = vxm_simhost_path(e->sim, link);
  g_autofree char *target = g_file_read_link(path, NULL);

  return target != NULL ? g_path_get_basename(target) : NULL;
}

static char *
sim_attr(E2e *e, const char *bdf, const char *attr)
{
  g_autofree char *host = g_strdup_printf("/sys/bus/pci/devices/%s/%s", bdf, attr);
  g_autofree char *path = vxm_simhost_path(e->sim, host);
  char *text = NULL;

  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  return g_strchomp(text);
}

/* The pci-bind entries of the running VM's journal marked extra, for @bdf. */
static guint
extra_entries(JsonObject *status, const char *bdf)
{
  JsonArray *entries =
      json_object_get_array_member(json_object_get_object_member(status, "host"), "entries");
  guint n = 0;

  for (guint i = 0; i < json_array_get_length(entries); i++) {
    JsonObject *entry = json_array_get_object_element(entries, i);
    JsonObject *data = json_object_get_object_member(entry, "data");

    if (g_strcmp0(json_object_get_string_member(entry, "kind"), "pci-bind") == 0 &&
        g_strcmp0(json_object_get_string_member(data, "device"), bdf) == 0 &&
        json_object_get_boolean_member_with_default(data, "extra", FALSE))
      n++;
  }
  return n;
}

static void
init_vm_extra(E2e *e, const char *extra)
{
  g_autofree char *sim = vxm_test_user_binary("tests/vxm-qemu-sim");
  g_autofree char *qemu_set = g_strdup_printf("qemu_binary=%s", sim);
  g_autofree char *extra_set = g_strdup_printf("pci.extra=%s", extra);

  g_assert_cmpint(run_vxm(e, NULL, "init", VM, "--disk-size", "64M", "--set", qemu_set, "--set",
                          "shutdown_timeout=2", "--set", "vcpus=1", "--set", extra_set, NULL),
                  ==, 0);
}

static void
assert_extra_on_vfio(E2e *e)
{
  const char *const extra[] = {EXTRA_USB, EXTRA_NVME, NULL};

  for (guint i = 0; extra[i] != NULL; i++) {
    g_autofree char *driver = sim_driver(e, extra[i]);
    g_autofree char *override = sim_attr(e, extra[i], "driver_override");

    g_assert_cmpstr(driver, ==, "vfio-pci");
    g_assert_cmpstr(override, ==, "vfio-pci");
  }
}

/* [pci] extra on the simulated workstation: the spare USB card and NVMe go to vfio-pci with the
 * GPU (journaled as extra), QEMU gets a vfio-pci device for each on a root port of its own,
 * their /dev/vfio nodes are the user's; at stop each is back on its driver with its
 * driver_override as it was, and the host is exactly as before. */
static void
test_pci_extra_start_stop(void)
{
  E2e e = {0};
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *argv_text = NULL;
  g_autoptr(JsonObject) status = NULL;
  g_autofree char *usb_driver = NULL;
  g_autofree char *nvme_driver = NULL;
  struct stat node;

  if (!vxm_test_require_root())
    return;
  e2e_setup_machine(&e, "intel-nvidia-turing-disks", NULL);
  init_vm_extra(&e, EXTRA_USB "," EXTRA_NVME);
  before = vxm_simhost_state(e.sim);
  g_assert_cmpint(run_vxm(&e, NULL, "start", VM, NULL), ==, 0);

  assert_extra_on_vfio(&e);
  status = status_json(&e);
  g_assert_cmpuint(extra_entries(status, EXTRA_USB), ==, 1);
  g_assert_cmpuint(extra_entries(status, EXTRA_NVME), ==, 1);
  g_assert_cmpuint(extra_entries(status, "0000:01:00.0"), ==, 0);
  {
    JsonArray *extra = json_object_get_array_member(status, "extra_devices");

    g_assert_cmpuint(json_array_get_length(extra), ==, 2);
    g_assert_cmpstr(
        json_object_get_string_member(json_array_get_object_element(extra, 0), "driver"), ==,
        "vfio-pci");
  }
  /* the groups' nodes are the user's while the guest runs */
  sim_stat(&e, "/dev/vfio/10", &node);
  g_assert_cmpuint(node.st_uid, ==, e.user_uid);
  sim_stat(&e, "/dev/vfio/12", &node);
  g_assert_cmpuint(node.st_uid, ==, e.user_uid);
  g_assert_true(g_file_get_contents(e.argv_log, &argv_text, NULL, NULL));
  g_assert_nonnull(strstr(argv_text, "vfio-pci,host=" EXTRA_USB ",id=extra0,bus=extra-port0\n"));
  g_assert_nonnull(strstr(argv_text, "vfio-pci,host=" EXTRA_NVME ",id=extra1,bus=extra-port1\n"));

  g_assert_cmpint(run_vxm(&e, NULL, "stop", VM, NULL), ==, 0);
  usb_driver = sim_driver(&e, EXTRA_USB);
  nvme_driver = sim_driver(&e, EXTRA_NVME);
  g_assert_cmpstr(usb_driver, ==, "xhci_hcd");
  g_assert_cmpstr(nvme_driver, ==, "nvme");
  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);
  e2e_teardown(&e);
}

/* SIGKILL of the supervisor with the extra devices on vfio-pci: only the journal knows them,
 * and vxm recover gives each back to its driver. */
static void
test_pci_extra_kill_recover(void)
{
  E2e e = {0};
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *recovered = NULL;
  g_autoptr(JsonObject) status = NULL;
  struct pollfd pfd = {.events = POLLIN};
  gint64 pid;
  int qemu_fd;

  if (!vxm_test_require_root())
    return;
  e2e_setup_machine(&e, "intel-nvidia-turing-disks", NULL);
  init_vm_extra(&e, EXTRA_USB "," EXTRA_NVME);
  before = vxm_simhost_state(e.sim);
  g_assert_cmpint(run_vxm(&e, NULL, "start", VM, NULL), ==, 0);
  status = status_json(&e);
  pid = json_object_get_int_member(status, "supervisor_pid");
  qemu_fd = pidfd_of(json_object_get_int_member(status, "qemu_pid"));
  g_assert_cmpint(qemu_fd, >=, 0);
  pfd.fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  g_assert_cmpint(pfd.fd, >=, 0);
  g_assert_cmpint(kill((pid_t)pid, SIGKILL), ==, 0);
  g_assert_cmpint(poll(&pfd, 1, 30000), ==, 1);
  close(pfd.fd);
  g_assert_true(pidfd_exited(qemu_fd, 30000));
  assert_extra_on_vfio(&e);

  g_assert_cmpint(run_vxm(&e, &recovered, "recover", NULL), ==, 0);
  g_assert_cmpuint(count_occurrences(recovered, EXTRA_USB " back on xhci_hcd"), ==, 1);
  g_assert_cmpuint(count_occurrences(recovered, EXTRA_NVME " back on nvme"), ==, 1);
  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);
  e2e_teardown(&e);
}

/* What the host needs is refused before anything changes, with the reason: the NVMe under the
 * root file system (LUKS on it: found through dm-0's slaves), the SATA controller of /home, and
 * the USB controller of the only keyboards. No QEMU ran. */
static void
test_pci_extra_refused(void)
{
  const struct {
    const char *extra;
    const char *reason;
  } cases[] = {
      {"0000:02:00.0", "0000:02:00.0: it holds the host's root disk: the root file system (/ from "
                       "/dev/mapper/cryptroot) is on it"},
      {"0000:00:17.0", "0000:00:17.0: it holds a disk the host has mounted: /home (from "
                       "/dev/sda1) is on it"},
      {"0000:00:14.0", "0000:00:14.0: it is the controller of the host's only keyboard (Logitech "
                       "G915"},
      {"0000:01:00.2", "it is a function of the guest GPU 0000:01:00.0"},
      {"0000:0a:00.0", "0000:0a:00.0: there is no such PCI device on this host"},
  };
  E2e e = {0};
  g_autofree char *before = NULL;

  if (!vxm_test_require_root())
    return;
  e2e_setup_machine(&e, "intel-nvidia-turing-disks", NULL);
  init_vm(&e);
  before = vxm_simhost_state(e.sim);
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *set = g_strdup_printf("pci.extra=" EXTRA_USB ",%s", cases[i].extra);
    g_autofree char *out = NULL;
    g_autofree char *after = NULL;

    g_assert_cmpint(run_vxm(&e, NULL, "config", VM, "--set", set, NULL), ==, 0);
    g_assert_cmpint(run_vxm(&e, &out, "start", VM, NULL), !=, 0);
    g_assert_nonnull(strstr(out, "refusing to give [pci] extra to the guest"));
    g_assert_nonnull(strstr(out, cases[i].reason));
    /* the allowed one is not named */
    g_assert_null(strstr(out, EXTRA_USB ":"));
    after = vxm_simhost_state(e.sim);
    g_assert_cmpstr(after, ==, before);
    g_assert_false(g_file_test(e.argv_log, G_FILE_TEST_EXISTS));
  }
  e2e_teardown(&e);
}

/* Root without a sudo user (a root login): the start is refused with the reason and the fix,
 * before anything on the host changes, and no QEMU or swtpm ran. */
static void
test_root_without_sudo(void)
{
  E2e e = {0};
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GStrvBuilder) env = g_strv_builder_new();

  if (!vxm_test_require_root())
    return;
  e2e_setup(&e);
  init_vm(&e);
  for (guint i = 0; e.envp[i] != NULL; i++) {
    if (!g_str_has_prefix(e.envp[i], "SUDO_"))
      g_strv_builder_add(env, e.envp[i]);
  }
  g_strfreev(e.envp);
  e.envp = g_strv_builder_end(env);
  before = vxm_simhost_state(e.sim);
  g_assert_cmpint(run_vxm(&e, &out, "start", VM, NULL), ==, 1);
  g_assert_nonnull(strstr(out, "vxm runs as root without a sudo user (SUDO_UID is not set), and "
                               "QEMU and swtpm never run as root"));
  g_assert_nonnull(strstr(out, "run vxm as your user (vxmd does the privileged part), or sudo "
                               "from your user"));
  g_assert_false(g_file_test(e.argv_log, G_FILE_TEST_EXISTS));
  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);
  e2e_teardown(&e);
}

/* ---- issue 17: several monitors ---- */

/* Polls `vxm status --json` until no monitor switch is under way and every monitor has an
 * input or an error; returns that status. */
static JsonObject *
status_monitors_settled(E2e *e)
{
  for (guint tries = 0; tries < 300; tries++) {
    g_autoptr(JsonObject) status = status_json(e);
    JsonArray *monitors = json_object_get_array_member(status, "monitors");
    gboolean settled = monitors != NULL && json_array_get_length(monitors) > 0;

    for (guint i = 0; settled && i < json_array_get_length(monitors); i++) {
      JsonObject *m = json_array_get_object_element(monitors, i);

      if (json_object_get_boolean_member(m, "switching") ||
          (JSON_NODE_HOLDS_NULL(json_object_get_member(m, "input")) &&
           JSON_NODE_HOLDS_NULL(json_object_get_member(m, "error"))))
        settled = FALSE;
    }
    if (settled)
      return g_steal_pointer(&status);
    g_usleep(100 * 1000);
  }
  g_error("the monitors did not settle within 30 s");
}

static void
assert_sim_input(E2e *e, const char *monitor, const char *input)
{
  g_autofree char *state = vxm_simhost_state(e->sim);
  g_autofree char *line = g_strdup_printf("monitor %s input=%s\n", monitor, input);

  if (strstr(state, line) == NULL)
    g_error("the simulated host has no '%s':\n%s", line, state);
}

static void
set_two_monitors(E2e *e)
{
  /* the Dell by its EDID identity, the AOC by its host connector */
  g_assert_cmpint(run_vxm(e, NULL, "config", VM, "--set",
                          "monitors=DEL:41234:12345 hdmi1 dp1; card0-DP-2 dp1 hdmi1", NULL),
                  ==, 0);
}

/* Two monitors at one desk: the dry run lists both; both switch to their guest inputs once the
 * guest runs and back at stop; after a SIGKILL of the supervisor, vxm recover switches both
 * back. */
static void
test_monitors_two(void)
{
  E2e e = {0};
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *out = NULL;
  g_autoptr(JsonObject) status = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  JsonArray *monitors;
  JsonObject *m;
  struct pollfd pfd = {.events = POLLIN};
  gint64 pid;

  if (!vxm_test_require_root())
    return;
  e2e_setup_machine(&e, "intel-nvidia-two-monitors", NULL);
  init_vm(&e);
  set_two_monitors(&e);
  before = vxm_simhost_state(e.sim);
  assert_sim_input(&e, "dell", "hdmi1");
  assert_sim_input(&e, "aoc", "dp1");

  /* the dry run shows both, with their inputs, and a step each */
  g_assert_cmpint(run_vxm(&e, &out, "start", VM, "--dry-run", "--json", NULL), ==, 0);
  json_parser_load_from_data(parser, out, -1, &error);
  g_assert_no_error(error);
  monitors =
      json_object_get_array_member(json_node_get_object(json_parser_get_root(parser)), "monitors");
  g_assert_cmpuint(json_array_get_length(monitors), ==, 2);
  m = json_array_get_object_element(monitors, 0);
  g_assert_cmpstr(json_object_get_string_member(m, "monitor"), ==, "DEL:41234:12345");
  g_assert_cmpstr(json_object_get_string_member(m, "host_input_name"), ==, "hdmi1");
  g_assert_cmpstr(json_object_get_string_member(m, "guest_input_name"), ==, "dp1");
  m = json_array_get_object_element(monitors, 1);
  g_assert_cmpstr(json_object_get_string_member(m, "monitor"), ==, "card0-DP-2");
  g_assert_cmpint(json_object_get_int_member(m, "guest_input"), ==, 0x11);
  g_assert_nonnull(strstr(out, "switch monitor DEL:41234:12345 to dp1"));
  g_assert_nonnull(strstr(out, "switch monitor card0-DP-2 to hdmi1"));
  g_clear_pointer(&out, g_free);

  g_assert_cmpint(run_vxm(&e, &out, "start", VM, NULL), ==, 0);
  status = status_monitors_settled(&e);
  monitors = json_object_get_array_member(status, "monitors");
  for (guint i = 0; i < 2; i++) {
    m = json_array_get_object_element(monitors, i);
    g_assert_cmpstr(json_object_get_string_member(m, "input"), ==, "guest");
    g_assert_nonnull(json_object_get_string_member(m, "since"));
  }
  assert_sim_input(&e, "dell", "dp1");
  assert_sim_input(&e, "aoc", "hdmi1");
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(&e, &out, "status", VM, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "monitor: DEL:41234:12345, on the guest's input (dp1) since"));
  g_assert_nonnull(strstr(out, "monitor: card0-DP-2, on the guest's input (hdmi1) since"));
  /* no logind here: the VM runs, and says the host may sleep */
  g_assert_nonnull(strstr(out, "host sleep: NOT blocked: no system bus"));

  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(&e, &out, "stop", VM, NULL), ==, 0);
  assert_sim_input(&e, "dell", "hdmi1");
  assert_sim_input(&e, "aoc", "dp1");

  /* again, and the supervisor is killed: the journal brings both back */
  g_assert_cmpint(run_vxm(&e, NULL, "start", VM, NULL), ==, 0);
  g_clear_pointer(&status, json_object_unref);
  status = status_monitors_settled(&e);
  assert_sim_input(&e, "dell", "dp1");
  assert_sim_input(&e, "aoc", "hdmi1");
  pid = json_object_get_int_member(status, "supervisor_pid");
  pfd.fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  g_assert_cmpint(pfd.fd, >=, 0);
  g_assert_cmpint(kill((pid_t)pid, SIGKILL), ==, 0);
  g_assert_cmpint(poll(&pfd, 1, 30000), ==, 1);
  close(pfd.fd);
  assert_sim_input(&e, "dell", "dp1");
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(&e, &out, "recover", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "DEL:41234:12345) back to hdmi1"));
  g_assert_nonnull(strstr(out, "AOC:9218:2587) back to dp1"));
  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);
  e2e_teardown(&e);
}

/* One of two monitors does not answer DDC/CI: the other still switches both ways, the start
 * and stop succeed, and the status names the one that failed and why. */
static void
test_monitors_one_dead(void)
{
  E2e e = {0};
  g_autofree char *out = NULL;
  g_autofree char *ddc = NULL;
  g_autoptr(JsonObject) status = NULL;
  JsonArray *monitors;
  JsonObject *m;
  int fd;

  if (!vxm_test_require_root())
    return;
  e2e_setup_machine(&e, "intel-nvidia-two-monitors", NULL);
  init_vm(&e);
  set_two_monitors(&e);
  ddc = vxm_simhost_path(e.sim, "/.simhost/ddc");
  fd = open(ddc, O_WRONLY);
  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(write(fd, "aoc silent on", 13), ==, 13);
  close(fd);

  g_assert_cmpint(run_vxm(&e, &out, "start", VM, NULL), ==, 0);
  status = status_monitors_settled(&e);
  monitors = json_object_get_array_member(status, "monitors");
  m = json_array_get_object_element(monitors, 0);
  g_assert_cmpstr(json_object_get_string_member(m, "input"), ==, "guest");
  g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(m, "error")));
  m = json_array_get_object_element(monitors, 1);
  g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(m, "input")));
  g_assert_nonnull(strstr(json_object_get_string_member(m, "error"), "card0-DP-2"));
  assert_sim_input(&e, "dell", "dp1");
  assert_sim_input(&e, "aoc", "dp1");
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(&e, &out, "status", VM, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "monitor: card0-DP-2, not switched: card0-DP-2: "));
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(&e, &out, "stop", VM, NULL), ==, 0);
  assert_sim_input(&e, "dell", "hdmi1");
  assert_sim_input(&e, "aoc", "dp1");
  /* nothing is left for recover */
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(&e, &out, "recover", NULL), ==, 0);
  g_assert_null(strstr(out, "back to"));
  e2e_teardown(&e);
}

/* ---- issue 17: no sleep while the guest holds the GPU ---- */

typedef struct {
  char *dir;
  char *address;
  char *log;
  GPid bus_pid;
  GPid service_pid;
} Login1;

/* A private system bus with vxm-test-login1 owning org.freedesktop.login1 on it; vxm (and its
 * supervisor) get the bus's address. */
static Login1 *
login1_start(E2e *e, gboolean refuse)
{
  Login1 *l = g_new0(Login1, 1);
  g_autofree char *service = vxm_test_build_path("tests/vxm-test-login1");
  g_autofree char *bus_env = NULL;
  g_autoptr(GError) error = NULL;

  l->dir = vxm_test_mkdtemp();
  l->address = vxm_test_system_bus_start(l->dir, &l->bus_pid);
  l->log = g_build_filename(l->dir, "login1.log", NULL);
  bus_env = g_strdup_printf("DBUS_SYSTEM_BUS_ADDRESS=%s", l->address);
  {
    const char *argv[] = {service, "--log", l->log, refuse ? "--refuse" : NULL, NULL};
    const char *envp[] = {bus_env, NULL};

    g_assert_true(g_spawn_async(NULL, (char **)argv, (char **)envp, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                NULL, &l->service_pid, &error));
    g_assert_no_error(error);
  }
  g_assert_true(vxm_test_wait_file_contains(l->log, "ready\n", 20));
  for (guint i = 0; e->envp[i] != NULL; i++) {
    if (g_str_has_prefix(e->envp[i], "DBUS_SYSTEM_BUS_ADDRESS=")) {
      g_free(e->envp[i]);
      e->envp[i] = g_steal_pointer(&bus_env);
    }
  }
  return l;
}

static void
login1_stop(Login1 *l)
{
  kill(l->service_pid, SIGTERM);
  waitpid(l->service_pid, NULL, 0);
  kill(l->bus_pid, SIGTERM);
  waitpid(l->bus_pid, NULL, 0);
  vxm_test_rm_rf(l->dir);
  g_free(l->dir);
  g_free(l->address);
  g_free(l->log);
  g_free(l);
}

static char *
login1_log(Login1 *l)
{
  char *text = NULL;

  g_assert_true(g_file_get_contents(l->log, &text, NULL, NULL));
  return text;
}

static JsonObject *
inhibitor_of(JsonObject *status)
{
  JsonObject *in = json_object_get_object_member(status, "inhibitor");

  g_assert_nonnull(in);
  return in;
}

/* While the guest runs, the supervisor holds logind's inhibitor lock (sleep, mode block, who
 * vxm, why naming the VM); logind sees it go at vxm stop, and when the supervisor is killed. */
static void
test_inhibit_held(void)
{
  E2e e = {0};
  g_autofree char *out = NULL;
  g_autofree char *log = NULL;
  g_autoptr(JsonObject) status = NULL;
  g_autofree char *inhibit_line = NULL;
  struct pollfd pfd = {.events = POLLIN};
  Login1 *l;
  gint64 pid;

  if (!vxm_test_require_root())
    return;
  e2e_setup(&e);
  l = login1_start(&e, FALSE);
  init_vm(&e);

  g_assert_cmpint(run_vxm(&e, &out, "start", VM, "--dry-run", "--json", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "\"inhibit\" : \"sleep\""));
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(&e, &out, "start", VM, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "keep the host from sleeping (logind)"));
  /* the service saw the request, from the supervisor (root here: vxm runs under sudo) */
  inhibit_line = g_strdup_printf("inhibit 1 uid=0 what=sleep who=vxm mode=block why=VM %s runs "
                                 "with a passed-through GPU",
                                 VM);
  g_assert_true(vxm_test_wait_file_contains(l->log, inhibit_line, 20));
  log = login1_log(l);
  g_assert_null(strstr(log, "released"));
  status = status_json(&e);
  g_assert_true(json_object_get_boolean_member(inhibitor_of(status), "held"));
  g_assert_cmpstr(json_object_get_string_member(inhibitor_of(status), "what"), ==, "sleep");
  g_assert_nonnull(json_object_get_string_member(inhibitor_of(status), "since"));
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(&e, &out, "status", VM, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "host sleep: blocked (logind inhibitor lock: sleep) since"));
  /* QEMU and swtpm did not inherit it: it goes with the supervisor's own close */
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(&e, &out, "stop", VM, NULL), ==, 0);
  g_assert_true(vxm_test_wait_file_contains(l->log, "released 1\n", 20));

  /* sleep and idle, then SIGKILL: the lock goes with the process */
  g_assert_cmpint(run_vxm(&e, NULL, "config", VM, "--set", "inhibit=sleep,idle", NULL), ==, 0);
  g_assert_cmpint(run_vxm(&e, NULL, "start", VM, NULL), ==, 0);
  g_assert_true(vxm_test_wait_file_contains(l->log, "inhibit 2 uid=0 what=sleep:idle who=vxm", 20));
  g_clear_pointer(&log, g_free);
  log = login1_log(l);
  g_assert_null(strstr(log, "released 2"));
  g_clear_pointer(&status, json_object_unref);
  status = status_json(&e);
  pid = json_object_get_int_member(status, "supervisor_pid");
  pfd.fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  g_assert_cmpint(pfd.fd, >=, 0);
  g_assert_cmpint(kill((pid_t)pid, SIGKILL), ==, 0);
  g_assert_cmpint(poll(&pfd, 1, 30000), ==, 1);
  close(pfd.fd);
  g_assert_true(vxm_test_wait_file_contains(l->log, "released 2\n", 20));
  /* the status does not claim a lock the dead supervisor cannot hold */
  g_clear_pointer(&status, json_object_unref);
  status = status_json(&e);
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "failed");
  g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(status, "inhibitor")));
  g_assert_cmpint(run_vxm(&e, NULL, "recover", NULL), ==, 0);

  /* inhibit = none: logind is not asked */
  g_assert_cmpint(run_vxm(&e, NULL, "config", VM, "--set", "inhibit=none", NULL), ==, 0);
  g_assert_cmpint(run_vxm(&e, NULL, "start", VM, NULL), ==, 0);
  g_clear_pointer(&status, json_object_unref);
  status = status_json(&e);
  g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(status, "inhibitor")));
  g_assert_cmpint(run_vxm(&e, NULL, "stop", VM, NULL), ==, 0);
  g_clear_pointer(&log, g_free);
  log = login1_log(l);
  g_assert_null(strstr(log, "inhibit 3"));
  login1_stop(l);
  e2e_teardown(&e);
}

/* logind refuses (polkit said no): the VM starts anyway; the start's output and vxm status say
 * the host sleep is not blocked, and why. */
static void
test_inhibit_refused(void)
{
  E2e e = {0};
  g_autofree char *out = NULL;
  g_autoptr(JsonObject) status = NULL;
  JsonObject *in;
  Login1 *l;

  if (!vxm_test_require_root())
    return;
  e2e_setup(&e);
  l = login1_start(&e, TRUE);
  init_vm(&e);
  g_assert_cmpint(run_vxm(&e, &out, "start", VM, NULL), ==, 0);
  g_assert_true(vxm_test_wait_file_contains(l->log, "refused uid=0 what=sleep", 20));
  /* the answer may come after the start's output: the status has it */
  for (guint tries = 0; tries < 100; tries++) {
    g_clear_pointer(&status, json_object_unref);
    status = status_json(&e);
    if (!json_object_get_boolean_member(inhibitor_of(status), "asking"))
      break;
    g_usleep(100 * 1000);
  }
  in = inhibitor_of(status);
  g_assert_false(json_object_get_boolean_member(in, "held"));
  g_assert_nonnull(
      strstr(json_object_get_string_member(in, "error"), "logind refused the inhibitor lock"));
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "running");
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(&e, &out, "status", VM, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "host sleep: NOT blocked: logind refused the inhibitor lock"));
  g_assert_cmpint(run_vxm(&e, NULL, "stop", VM, NULL), ==, 0);
  login1_stop(l);
  e2e_teardown(&e);
}

/* ---- [usb] devices ---- */

#define XBOX_ID   "045e:0b12"
#define XBOX_NODE "/dev/bus/usb/001/006"

static void
sim_usb(E2e *e, const char *line)
{
  g_autofree char *path = vxm_simhost_path(e->sim, "/.simhost/usb");
  int fd = open(path, O_WRONLY);

  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(write(fd, line, strlen(line)), ==, (gssize)strlen(line));
  close(fd);
}

/* What the real QEMU has as devices (qom-list /machine/peripheral over the second monitor
 * vxm-qemu-sim opens for the test), as "name name ..." */
static char *
qemu_peripherals(const char *socket_path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQmpClient) client = vxm_qmp_client_new_for_path(socket_path, &error);
  g_autoptr(JsonObject) args = json_object_new();
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(GString) names = g_string_new(NULL);
  JsonArray *list;

  g_assert_no_error(error);
  g_assert_true(vxm_qmp_client_handshake_sync(client, 10000, &error));
  g_assert_no_error(error);
  json_object_set_string_member(args, "path", "/machine/peripheral");
  reply = vxm_qmp_client_execute_sync(client, "qom-list", args, 10000, &error);
  g_assert_no_error(error);
  list = json_node_get_array(reply);
  for (guint i = 0; i < json_array_get_length(list); i++)
    g_string_append_printf(
        names, " %s",
        json_object_get_string_member(json_array_get_object_element(list, i), "name"));
  g_string_append_c(names, ' ');
  vxm_qmp_client_close(client);
  return g_string_free(g_steal_pointer(&names), FALSE);
}

static JsonObject *
usb_entry(JsonObject *status, const char *usb_id)
{
  JsonArray *usb = json_object_get_array_member(status, "usb");

  for (guint i = 0; i < json_array_get_length(usb); i++) {
    JsonObject *o = json_array_get_object_element(usb, i);

    if (g_strcmp0(json_object_get_string_member(o, "usb_id"), usb_id) == 0)
      return o;
  }
  g_error("no usb %s in vxm status", usb_id);
}

static void
assert_node_of(E2e *e, const char *host_path, uid_t uid)
{
  struct stat st;

  sim_stat(e, host_path, &st);
  g_assert_cmpuint(st.st_uid, ==, uid);
  g_assert_cmphex(st.st_mode & 0600, ==, 0600);
}

/* [usb] devices on the simulated workstation with the real QEMU: the controller plugged in at
 * start is on QEMU's command line and its node is the user's while the guest runs; the tablet
 * plugged in later is granted and device_added (QEMU has it); the controller unplugged is
 * device_deleted (QEMU no longer has it); after stop every node is root's again, exactly. A bad
 * value for the key is refused and changes nothing. */
static void
test_usb(void)
{
  E2e e = {0};
  g_autofree char *sim = vxm_test_user_binary("tests/vxm-qemu-sim");
  g_autofree char *qemu_set = g_strdup_printf("qemu_binary=%s", sim);
  g_autofree char *test_qmp = NULL;
  g_autofree char *test_qmp_env = NULL;
  g_autofree char *out = NULL;
  g_autofree char *conf_before = NULL;
  g_autofree char *conf_after = NULL;
  g_autofree char *argv_text = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *vxm_log = NULL;
  g_autofree char *devices = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(JsonObject) status = NULL;
  g_autoptr(VxmVmPaths) paths = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *usb;
  JsonObject *o;

  if (!vxm_test_require_root())
    return;
  e2e_setup(&e);
  test_qmp = g_build_filename(e.tmp, "test-qmp.sock", NULL);
  test_qmp_env = g_strdup_printf("VXM_QEMU_SIM_TEST_QMP=%s", test_qmp);
  {
    g_autoptr(GStrvBuilder) env = g_strv_builder_new();

    g_strv_builder_addv(env, (const char **)e.envp);
    g_strv_builder_add(env, test_qmp_env);
    g_strfreev(e.envp);
    e.envp = g_strv_builder_end(env);
  }
  g_assert_cmpint(run_vxm(&e, NULL, "init", VM, "--disk-size", "64M", "--set", qemu_set, "--set",
                          "shutdown_timeout=2", "--set", "vcpus=1", "--set",
                          "usb.devices=" XBOX_ID ",056a:0374", NULL),
                  ==, 0);
  paths = vxm_vm_paths_new(VM, NULL);

  /* refused with the reason, the file unchanged */
  g_assert_true(g_file_get_contents(paths->config_file, &conf_before, NULL, NULL));
  g_assert_cmpint(run_vxm(&e, &out, "config", VM, "--set", "devices=045e:0b12,045E:0B12", NULL), !=,
                  0);
  g_assert_nonnull(strstr(out, "045e:0b12 is listed twice; keep one"));
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(&e, &out, "config", VM, "--set", "devices=xbox", NULL), !=, 0);
  g_assert_nonnull(strstr(out, "'xbox' is not a USB id VID:PID"));
  g_clear_pointer(&out, g_free);
  g_assert_true(g_file_get_contents(paths->config_file, &conf_after, NULL, NULL));
  g_assert_cmpstr(conf_after, ==, conf_before);
  g_assert_cmpint(run_vxm(&e, &out, "config", VM, "--show", NULL), ==, 0);
  g_assert_nonnull(strstr(out, XBOX_ID ",056a:0374"));
  g_clear_pointer(&out, g_free);

  /* the dry run: each device and whether it is plugged in */
  g_assert_cmpint(run_vxm(&e, &out, "start", VM, "--dry-run", "--json", NULL), ==, 0);
  g_assert_true(json_parser_load_from_data(parser, out, -1, &error));
  g_assert_no_error(error);
  usb = json_object_get_array_member(json_node_get_object(json_parser_get_root(parser)),
                                     "usb_devices");
  g_assert_cmpuint(json_array_get_length(usb), ==, 2);
  o = json_array_get_object_element(usb, 0);
  g_assert_cmpstr(json_object_get_string_member(o, "id"), ==, "usb-045e-0b12");
  g_assert_true(json_object_get_boolean_member(o, "present"));
  g_assert_cmpstr(json_object_get_string_member(o, "node"), ==, XBOX_NODE);
  g_assert_cmpstr(json_object_get_string_member(o, "description"), ==,
                  "Microsoft Xbox Wireless Controller");
  o = json_array_get_object_element(usb, 1);
  g_assert_cmpstr(json_object_get_string_member(o, "usb_id"), ==, "056a:0374");
  g_assert_false(json_object_get_boolean_member(o, "present"));
  g_assert_true(json_object_get_null_member(o, "node"));
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(&e, &out, "start", VM, "--dry-run", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "  045e:0b12 " XBOX_NODE " Microsoft Xbox Wireless Controller\n"));
  g_assert_nonnull(strstr(out, "  056a:0374 not plugged in: added when it is\n"));
  g_clear_pointer(&out, g_free);

  before = vxm_simhost_state(e.sim);
  g_assert_cmpint(run_vxm(&e, NULL, "start", VM, NULL), ==, 0);
  g_assert_true(g_file_get_contents(e.argv_log, &argv_text, NULL, NULL));
  g_assert_nonnull(strstr(argv_text, "\nqemu-xhci,id=xhci\n"));
  g_assert_nonnull(strstr(
      argv_text, "\nusb-host,id=usb-045e-0b12,bus=xhci.0,vendorid=0x045e,productid=0x0b12\n"));
  g_assert_null(strstr(argv_text, "usb-056a-0374"));
  assert_node_of(&e, XBOX_NODE, e.user_uid);
  status = status_json(&e);
  vxm_log =
      g_strdup(json_object_get_string_member(json_object_get_object_member(status, "logs"), "vxm"));
  g_assert_true(vxm_test_wait_file_contains(vxm_log, "1 not plugged in yet", 30));
  devices = qemu_peripherals(test_qmp);
  g_assert_nonnull(strstr(devices, " usb-045e-0b12 "));
  g_assert_nonnull(strstr(devices, " xhci "));
  g_assert_null(strstr(devices, " usb-056a-0374 "));
  g_clear_pointer(&status, json_object_unref);
  status = status_json(&e);
  g_assert_cmpstr(json_object_get_string_member(usb_entry(status, XBOX_ID), "state"), ==,
                  "attached");
  g_assert_cmpstr(json_object_get_string_member(usb_entry(status, "056a:0374"), "state"), ==,
                  "waiting");
  g_assert_cmpint(run_vxm(&e, &out, "status", VM, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "  usb 045e:0b12 Microsoft Xbox Wireless Controller: " XBOX_NODE
                               " (attached)\n"));
  g_assert_nonnull(strstr(out, "  usb 056a:0374: not plugged in yet: it joins the guest when it "
                               "is\n"));
  g_clear_pointer(&out, g_free);

  /* plugged in: granted, then added to the running guest */
  sim_usb(&e, "replug wacom\n");
  g_assert_true(vxm_test_wait_file_contains(vxm_log, "usb usb-056a-0374: added", 30));
  assert_node_of(&e, "/dev/bus/usb/001/008", e.user_uid);
  g_clear_pointer(&devices, g_free);
  devices = qemu_peripherals(test_qmp);
  g_assert_nonnull(strstr(devices, " usb-056a-0374 "));
  {
    g_autofree char *log = vxm_simhost_read_log(e.sim);

    g_assert_nonnull(strstr(log, "chown /dev/bus/usb/001/008"));
  }

  /* unplugged: removed from the guest */
  sim_usb(&e, "unplug xbox-pad\n");
  g_assert_true(vxm_test_wait_file_contains(vxm_log, "usb usb-045e-0b12: removed", 30));
  g_clear_pointer(&devices, g_free);
  devices = qemu_peripherals(test_qmp);
  g_assert_null(strstr(devices, " usb-045e-0b12 "));
  g_assert_nonnull(strstr(devices, " usb-056a-0374 "));
  g_clear_pointer(&status, json_object_unref);
  status = status_json(&e);
  g_assert_cmpstr(json_object_get_string_member(usb_entry(status, XBOX_ID), "state"), ==,
                  "unplugged");
  g_assert_cmpstr(json_object_get_string_member(usb_entry(status, "056a:0374"), "node"), ==,
                  "/dev/bus/usb/001/008");

  g_assert_cmpint(run_vxm(&e, NULL, "stop", VM, NULL), ==, 0);
  /* the tablet's node is root's again; with the devices as they were, the host is too */
  assert_node_of(&e, "/dev/bus/usb/001/008", 0);
  sim_usb(&e, "unplug wacom\nreplug xbox-pad 6\n");
  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);
  e2e_teardown(&e);
}

/* SIGKILL of the supervisor while the controller is the user's: vxm recover gives its node
 * back to root with the mode it had. */
static void
test_usb_recover(void)
{
  E2e e = {0};
  g_autofree char *sim = vxm_test_user_binary("tests/vxm-qemu-sim");
  g_autofree char *qemu_set = g_strdup_printf("qemu_binary=%s", sim);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr(JsonObject) status = NULL;
  struct pollfd pfd = {.events = POLLIN};
  gint64 pid;
  int qemu_fd;

  if (!vxm_test_require_root())
    return;
  e2e_setup(&e);
  g_assert_cmpint(run_vxm(&e, NULL, "init", VM, "--disk-size", "64M", "--set", qemu_set, "--set",
                          "shutdown_timeout=2", "--set", "vcpus=1", "--set", "devices=" XBOX_ID,
                          NULL),
                  ==, 0);
  before = vxm_simhost_state(e.sim);
  g_assert_cmpint(run_vxm(&e, NULL, "start", VM, NULL), ==, 0);
  assert_node_of(&e, XBOX_NODE, e.user_uid);
  status = status_json(&e);
  pid = json_object_get_int_member(status, "supervisor_pid");
  qemu_fd = pidfd_of(json_object_get_int_member(status, "qemu_pid"));
  pfd.fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  g_assert_cmpint(pfd.fd, >=, 0);
  g_assert_cmpint(kill((pid_t)pid, SIGKILL), ==, 0);
  g_assert_cmpint(poll(&pfd, 1, 30000), ==, 1);
  close(pfd.fd);
  g_assert_true(pidfd_exited(qemu_fd, 30000));
  assert_node_of(&e, XBOX_NODE, e.user_uid); /* only the journal knows now */
  g_assert_cmpint(run_vxm(&e, NULL, "recover", NULL), ==, 0);
  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);
  e2e_teardown(&e);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/e2e/start-status-stop/simhost", test_start_stop);
  g_test_add_func("/vxm/e2e/kill-supervisor/recover", test_kill_recover);
  g_test_add_func("/vxm/e2e/start/qemu-bad-option", test_qemu_bad_option);
  g_test_add_func("/vxm/e2e/run/qemu-killed", test_qemu_killed);
  g_test_add_func("/vxm/e2e/start/swtpm-fails", test_swtpm_fails);
  g_test_add_func("/vxm/e2e/foreground/ctrl-c", test_foreground_ctrl_c);
  g_test_add_func("/vxm/e2e/background/ctrl-c", test_background_ctrl_c);
  g_test_add_func("/vxm/e2e/input-replug/simhost", test_input_replug);
  g_test_add_func("/vxm/e2e/dry-run/two-node", test_dry_run_two_node);
  g_test_add_func("/vxm/e2e/input-pending/simhost", test_input_pending);
  g_test_add_func("/vxm/e2e/keep-bound/resources-back", test_keep_bound);
  g_test_add_func("/vxm/e2e/start/root-without-sudo-refused", test_root_without_sudo);
  g_test_add_func("/vxm/e2e/monitors/two-start-stop-kill-recover", test_monitors_two);
  g_test_add_func("/vxm/e2e/monitors/one-dead", test_monitors_one_dead);
  g_test_add_func("/vxm/e2e/inhibit/held-released", test_inhibit_held);
  g_test_add_func("/vxm/e2e/inhibit/refused", test_inhibit_refused);
  g_test_add_func("/vxm/e2e/usb/plug-unplug", test_usb);
  g_test_add_func("/vxm/e2e/usb/kill-supervisor/recover", test_usb_recover);
  g_test_add_func("/vxm/e2e/pci-extra/start-stop", test_pci_extra_start_stop);
  g_test_add_func("/vxm/e2e/pci-extra/kill-recover", test_pci_extra_kill_recover);
  g_test_add_func("/vxm/e2e/pci-extra/host-needs-refused", test_pci_extra_refused);
  return g_test_run();
}
