/* test-rootless: the whole start and stop as an unprivileged user, with the real vxmd as root.
 *
 * A simulated workstation (vxm-simhost, mounted allow_other), the real vxmd started by hand with
 * --root on it (its default group, vxm: made for the test when missing), the real vxm run as
 * users made for the test (one in group vxm, one outside it), the real QEMU under TCG through
 * tests/vxm-qemu-sim, the real swtpm:
 *
 *   vxmd not running: vxm start is refused with the fix, nothing changed on the host;
 *   not in group vxm, and no polkit to ask (vxmd gets no system bus): vxm start is refused by
 *   vxmd with the fix, nothing changed (polkit's side: tests/test-vxmd.c, /vxm/vxmd/polkit/);
 *   in group vxm: vxm init, vxm start (background), vxm status --json says running; the
 *   supervisor, QEMU and swtpm have the user's uid (/proc/PID/status); the GPU's functions are
 *   on vfio-pci and /dev/vfio/N is the user's; vxm stop; the host's state dump is as before.
 *
 * The users, the group (when made here), their processes and their folders are removed at exit,
 * even when an assertion fails.
 *
 * Built a second time as test-crash (-DVXM_CRASH_MATRIX), it runs only the crash matrix
 * (/vxm/crash/, see there): the same users, vxmd and helpers, a suite of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "vxm-simhost-fixture.h"
#include "vxm-test-users.h"
#include "vxm-test-util.h"

#define VM           "win11"
#define GPU          "0000:01:00.0"
#define HOST_UUID    "4c4c4544-0042-3510-8052-b4c04f564831" /* intel-nvidia-turing's [dmi] */
#define BOARD_SERIAL "J816467203"

static char user_in[32], user_out[32];
static GPid running_vxmd;

static void
stop_running_vxmd(void)
{
  if (running_vxmd > 0)
    kill(running_vxmd, SIGTERM);
  running_vxmd = 0;
}

static void
make_users(void)
{
  g_snprintf(user_in, sizeof user_in, "vxmr%di", (int)getpid());
  g_snprintf(user_out, sizeof user_out, "vxmr%do", (int)getpid());
  vxm_test_users_on_cleanup(stop_running_vxmd);
  vxm_test_group_add("vxm", TRUE); /* the package's group, when it is not installed */
  vxm_test_user_add(user_in, "vxm");
  vxm_test_user_add(user_out, NULL);
}

typedef struct {
  const char *user;
  uid_t uid;
  char *home; /* a temporary folder the user owns: HOME and the XDG folders */
  char *argv_log;
  GStrv envp;
} User;

static void
chown_to(const char *path, const struct passwd *pw)
{
  g_assert_cmpint(chown(path, pw->pw_uid, pw->pw_gid), ==, 0);
}

static User *
user_new(const char *name)
{
  static const char *const xdg[] = {"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
                                    "XDG_RUNTIME_DIR", "XDG_CACHE_HOME"};
  struct passwd *pw = getpwnam(name);
  g_autoptr(GStrvBuilder) env = g_strv_builder_new();
  User *u = g_new0(User, 1);

  g_assert_nonnull(pw);
  u->user = name;
  u->uid = pw->pw_uid;
  u->home = vxm_test_mkdtemp();
  chown_to(u->home, pw);
  for (guint i = 0; i < G_N_ELEMENTS(xdg); i++) {
    g_autofree char *dir = g_build_filename(u->home, xdg[i], NULL);
    g_autofree char *kv = g_strdup_printf("%s=%s", xdg[i], dir);

    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    chown_to(dir, pw);
    g_strv_builder_add(env, kv);
  }
  u->argv_log = g_build_filename(u->home, "qemu-argv.txt", NULL);
  {
    g_autofree char *home = g_strdup_printf("HOME=%s", u->home);
    g_autofree char *path = g_strdup_printf("PATH=%s", g_getenv("PATH"));
    g_autofree char *log = g_strdup_printf("VXM_TEST_ARGV_LOG=%s", u->argv_log);
    g_autofree char *user = g_strdup_printf("USER=%s", name);

    g_strv_builder_add_many(env, home, path, log, user, "NO_COLOR=1", "LC_ALL=C.UTF-8", NULL);
  }
  u->envp = g_strv_builder_end(env);
  return u;
}

static void
user_free(User *u)
{
  vxm_test_rm_rf(u->home);
  g_free(u->home);
  g_free(u->argv_log);
  g_strfreev(u->envp);
  g_free(u);
}

/* `vxm ARGS... --root MOUNT` as @u, with @u's environment only; returns the exit status. */
static int
run_vxm(User *u, VxmSimhost *sim, char **out, const char *first, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *stdout_text = NULL, *stderr_text = NULL;
  va_list ap;
  int status = 0;

  g_ptr_array_add(argv, vxm_test_user_binary("src/cli/vxm"));
  va_start(ap, first);
  for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
    g_ptr_array_add(argv, g_strdup(a));
  va_end(ap);
  g_ptr_array_add(argv, g_strdup("--root"));
  g_ptr_array_add(argv, g_strdup(vxm_simhost_root(sim)));
  g_ptr_array_add(argv, NULL);
  if (!g_spawn_sync(u->home, (char **)argv->pdata, u->envp, G_SPAWN_DEFAULT, vxm_test_become_user,
                    (gpointer)u->user, &stdout_text, &stderr_text, &status, &error))
    g_error("cannot run %s as %s: %s", (char *)argv->pdata[0], u->user, error->message);
  /* before the checks: a sanitizer's report or a crash's last words are in stderr */
  g_test_message("$ (%s) vxm %s ... -> wait status 0x%x\n%s%s", u->user, first, (guint)status,
                 stdout_text, stderr_text);
  g_assert_true(WIFEXITED(status));
  g_assert_cmpint(WEXITSTATUS(status), !=, 120); /* vxm_test_become_user failed */
  if (out != NULL)
    *out = g_strconcat(stdout_text, stderr_text, NULL);
  return WEXITSTATUS(status);
}

/* [display]: the Dell shows hdmi1 (the host's input); the guest's is dp1. Written into the
 * config file, as a user who edits it by hand would. */
static void
add_display_settings(User *u, const char *monitor)
{
  g_autofree char *path =
      g_build_filename(u->home, "XDG_CONFIG_HOME", "vxm", "vms", VM ".conf", NULL);
  g_autofree char *text = NULL;
  g_autofree char *with = NULL;

  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  g_assert_null(strstr(text, "[display]"));
  with = g_strdup_printf("%s\n[display]\nmonitor = %s\nhost_input = hdmi1\nguest_input = dp1\n",
                         text, monitor);
  /* replaced in place: the file stays the user's */
  g_assert_true(g_file_set_contents_full(path, with, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
}

static void
init_vm(User *u, VxmSimhost *sim)
{
  g_autofree char *qemu = vxm_test_user_binary("tests/vxm-qemu-sim");
  g_autofree char *qemu_set = g_strdup_printf("qemu_binary=%s", qemu);

  g_assert_cmpint(run_vxm(u, sim, NULL, "init", VM, "--disk-size", "64M", "--set", qemu_set,
                          "--set", "shutdown_timeout=2", "--set", "vcpus=1", NULL),
                  ==, 0);
}

/* Waits (inotify on the file) until @path contains @needle; the guard is a limit, not a pace. */

typedef struct {
  GPid pid;
  char *log;
} Vxmd;

/* The real vxmd, as root, on the simulated host; ready once it logs so (its log is a file). */
static Vxmd *
vxmd_start(VxmSimhost *sim, const char *tmp)
{
  Vxmd *d = g_new0(Vxmd, 1);
  g_autofree char *bin = vxm_test_build_path("src/vxmd/vxmd");
  const char *argv[] = {bin, "--root", vxm_simhost_root(sim), NULL};
  g_autoptr(GError) error = NULL;
  /* no system bus: polkit cannot be asked, group vxm alone decides */
  g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "DBUS_SYSTEM_BUS_ADDRESS",
                                        "unix:path=/nonexistent/vxm-test-no-system-bus", TRUE);
  int fd;

  d->log = g_build_filename(tmp, "vxmd.log", NULL);
  fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_assert_cmpint(fd, >=, 0);
  g_assert_true(g_spawn_async_with_pipes_and_fds(NULL, argv, (const char *const *)envp,
                                                 G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, -1, fd, fd,
                                                 NULL, NULL, 0, &d->pid, NULL, NULL, NULL, &error));
  g_assert_no_error(error);
  close(fd);
  running_vxmd = d->pid;
  g_assert_true(vxm_test_wait_file_contains(d->log, "vxmd ready", 30));
  return d;
}

static void
vxmd_stop(Vxmd *d)
{
  g_autofree char *log = NULL;
  int status = 0;

  kill(d->pid, SIGTERM);
  g_assert_cmpint(waitpid(d->pid, &status, 0), ==, d->pid);
  running_vxmd = 0;
  g_assert_true(g_file_get_contents(d->log, &log, NULL, NULL));
  g_test_message("vxmd's log:\n%s", log);
  g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  g_free(d->log);
  g_free(d);
}

static JsonObject *
status_json(User *u, VxmSimhost *sim)
{
  g_autofree char *out = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;

  g_assert_cmpint(run_vxm(u, sim, &out, "status", VM, "--json", NULL), ==, 0);
  json_parser_load_from_data(parser, out, -1, &error);
  g_assert_no_error(error);
  return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

/* Every uid of /proc/PID/status (real, effective, saved, fs) is @uid. */
static void
assert_process_uid(gint64 pid, uid_t uid, const char *what)
{
  g_autofree char *path = g_strdup_printf("/proc/%" G_GINT64_FORMAT "/status", pid);
  g_autofree char *text = NULL;
  const char *line;
  guint r, e, s, f;

  g_assert_cmpint(pid, >, 0);
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  line = strstr(text, "\nUid:");
  g_assert_nonnull(line);
  g_assert_cmpint(sscanf(line + 5, "%u %u %u %u", &r, &e, &s, &f), ==, 4);
  g_test_message("%s (pid %" G_GINT64_FORMAT "): Uid: %u %u %u %u", what, pid, r, e, s, f);
  g_assert_cmpuint(r, ==, uid);
  g_assert_cmpuint(e, ==, uid);
  g_assert_cmpuint(s, ==, uid);
  g_assert_cmpuint(f, ==, uid);
}

static char *
driver_of(VxmSimhost *sim, const char *bdf)
{
  g_autofree char *host = g_strdup_printf("/sys/bus/pci/devices/%s/driver", bdf);
  g_autofree char *link = vxm_simhost_path(sim, host);
  g_autofree char *target = g_file_read_link(link, NULL);

  return target != NULL ? g_path_get_basename(target) : g_strdup("(none)");
}

static char *
vfio_group_of_gpu(VxmSimhost *sim)
{
  g_autofree char *link = vxm_simhost_path(sim, "/sys/bus/pci/devices/" GPU "/iommu_group");
  g_autofree char *target = g_file_read_link(link, NULL);

  g_assert_nonnull(target);
  return g_path_get_basename(target);
}

static void
assert_monitor_input(VxmSimhost *sim, const char *input)
{
  g_autofree char *state = vxm_simhost_state(sim);
  g_autofree char *line = g_strdup_printf("monitor dell input=%s\n", input);

  if (strstr(state, line) == NULL)
    g_error("state has no '%s':\n%s", line, state);
}

/* A refused start: exit 1 with @why and @fix, no host write, the same state dump. */
static void
assert_start_refused(User *u, VxmSimhost *sim, const char *why, const char *fix)
{
  g_autofree char *before = vxm_simhost_state(sim);
  g_autofree char *after = NULL;
  g_autofree char *log = NULL;
  g_autofree char *out = NULL;

  vxm_simhost_clear_log(sim);
  g_assert_cmpint(run_vxm(u, sim, &out, "start", VM, NULL), ==, 1);
  g_assert_nonnull(strstr(out, why));
  g_assert_nonnull(strstr(out, fix));
  g_assert_null(strstr(out, "Errno")); /* a sentence, not a raw errno */
  after = vxm_simhost_state(sim);
  log = vxm_simhost_read_log(sim);
  g_assert_cmpstr(after, ==, before);
  g_assert_cmpstr(log, ==, "");
}

static JsonObject *parse_object(const char *text);

static void
test_refusals(void)
{
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = NULL;
  User *in, *out;
  Vxmd *d;

  if (!vxm_test_require_root())
    return;
  tmp = vxm_test_mkdtemp();
  sim = vxm_simhost_start("intel-nvidia-turing", &error);
  g_assert_no_error(error);
  in = user_new(user_in);
  out = user_new(user_out);
  init_vm(in, sim);
  init_vm(out, sim);

  /* nobody listens: the sentence says how to start it */
  assert_start_refused(in, sim, "vxmd is not running", "sudo systemctl enable --now vxmd.socket");

  /* vxmd runs, but this user is not in group vxm and polkit cannot be asked */
  d = vxmd_start(sim, tmp);
  {
    g_autofree char *fix = g_strdup_printf("sudo usermod -aG vxm %s", user_out);

    assert_start_refused(out, sim, "and polkit could not be asked", fix);
  }
  vxmd_stop(d);

  user_free(in);
  user_free(out);
  vxm_test_rm_rf(tmp);
}

static void
test_start_stop(void)
{
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) status = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *out = NULL;
  g_autofree char *group = NULL;
  g_autofree char *node = NULL;
  g_autofree char *argv_text = NULL;
  JsonArray *devices;
  JsonArray *entries;
  gboolean client_recorded = FALSE;
  struct stat st;
  User *u;
  Vxmd *d;

  if (!vxm_test_require_root())
    return;
  tmp = vxm_test_mkdtemp();
  sim = vxm_simhost_start("intel-nvidia-turing", &error);
  g_assert_no_error(error);
  u = user_new(user_in);
  init_vm(u, sim);
  g_assert_cmpint(run_vxm(u, sim, NULL, "config", VM, "--set", "smbios=host", NULL), ==, 0);
  add_display_settings(u, "auto");
  d = vxmd_start(sim, tmp);
  before = vxm_simhost_state(sim);

  g_assert_cmpint(run_vxm(u, sim, &out, "start", VM, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "is running"));
  g_assert_true(g_file_get_contents(u->argv_log, &argv_text, NULL, NULL));
  g_assert_nonnull(strstr(argv_text, "vfio-pci,host=" GPU));
  g_assert_nonnull(strstr(argv_text, "\n-sandbox\non,"));
  /* smbios = host: the UUID and serials the user cannot read came from vxmd */
  g_assert_nonnull(strstr(argv_text, "\n-smbios\ntype=1,manufacturer=Micro-Star International "
                                     "Co.,, Ltd.,product=MS-7B17,"));
  g_assert_nonnull(strstr(argv_text, ",uuid=" HOST_UUID ","));
  g_assert_nonnull(strstr(argv_text, ",serial=" BOARD_SERIAL));

  /* once the guest runs, the monitor goes to its input through vxmd's ddc-switch (journaled) */
  {
    g_autofree char *vxm_log =
        g_build_filename(u->home, "XDG_STATE_HOME", "vxm", VM, "vxm.log", NULL);

    g_assert_true(vxm_test_wait_file_contains(vxm_log, "switched to dp1", 30));
  }
  assert_monitor_input(sim, "dp1");

  status = status_json(u, sim);
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "running");
  g_assert_true(g_str_has_prefix(json_object_get_string_member_with_default(status, "host_ops", ""),
                                 "through vxmd"));
  /* the supervisor, QEMU and swtpm are the user's own processes */
  assert_process_uid(json_object_get_int_member(status, "supervisor_pid"), u->uid, "supervisor");
  assert_process_uid(json_object_get_int_member(status, "qemu_pid"), u->uid, "qemu");
  assert_process_uid(json_object_get_int_member(status, "swtpm_pid"), u->uid, "swtpm");

  /* vxmd did the host's part: every function on vfio-pci, the group's node the user's */
  devices = json_object_get_array_member(status, "devices");
  g_assert_nonnull(devices);
  g_assert_cmpuint(json_array_get_length(devices), ==, 4);
  for (guint i = 0; i < json_array_get_length(devices); i++) {
    JsonObject *dev = json_array_get_object_element(devices, i);
    g_autofree char *driver = driver_of(sim, json_object_get_string_member(dev, "address"));

    g_assert_cmpstr(json_object_get_string_member(dev, "driver"), ==, "vfio-pci");
    g_assert_cmpstr(driver, ==, "vfio-pci");
  }
  group = vfio_group_of_gpu(sim);
  node = g_strdup_printf("/dev/vfio/%s", group);
  {
    g_autofree char *path = vxm_simhost_path(sim, node);

    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpuint(st.st_uid, ==, u->uid);
  }
  /* the journal (vxmd's) records who asked */
  entries = json_object_get_array_member(json_object_get_object_member(status, "host"), "entries");
  g_assert_nonnull(entries);
  for (guint i = 0; i < json_array_get_length(entries); i++) {
    JsonObject *entry = json_array_get_object_element(entries, i);

    if (g_strcmp0(json_object_get_string_member_with_default(entry, "kind", ""), "vxmd-client") ==
        0)
      client_recorded = TRUE;
  }
  g_assert_true(client_recorded);

  /* the whole-host view as the user: vxmd's journals, the GPU's binding by address */
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(u, sim, &out, "status", "--json", NULL), ==, 0);
  {
    g_autoptr(JsonObject) all = parse_object(out);
    JsonArray *journals = json_object_get_array_member(all, "journals");
    JsonObject *j0;

    g_assert_cmpuint(json_array_get_length(journals), ==, 1);
    j0 = json_array_get_object_element(journals, 0);
    g_assert_cmpstr(json_object_get_string_member(j0, "name"), ==, VM);
    g_assert_cmpstr(json_object_get_string_member(j0, "status"), ==, "running");
    g_assert_cmpint(json_object_get_int_member(j0, "uid"), ==, u->uid);
  }
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(u, sim, &out, "status", GPU, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "vfio-pci"));

  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(u, sim, &out, "stop", VM, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "the host is restored"));
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
  {
    g_autofree char *path = vxm_simhost_path(sim, node);

    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
  }
  g_clear_pointer(&status, json_object_unref);
  status = status_json(u, sim);
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "stopped");
  g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(status, "host")));

  vxmd_stop(d);
  user_free(u);
  vxm_test_rm_rf(tmp);
}

/* SIGKILL of the user's supervisor: vxmd keeps the journal; `vxm recover` (refused while the VM
 * runs) gives everything back once that vxm is gone. */
static void
test_kill_recover(void)
{
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) status = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *before = NULL;
  g_autofree char *running = NULL;
  g_autofree char *after = NULL;
  g_autofree char *out = NULL;
  struct pollfd pfd = {.events = POLLIN};
  gint64 pid;
  User *u;
  Vxmd *d;

  if (!vxm_test_require_root())
    return;
  tmp = vxm_test_mkdtemp();
  sim = vxm_simhost_start("intel-nvidia-turing", &error);
  g_assert_no_error(error);
  u = user_new(user_in);
  init_vm(u, sim);
  d = vxmd_start(sim, tmp);
  before = vxm_simhost_state(sim);
  g_assert_cmpint(run_vxm(u, sim, NULL, "start", VM, NULL), ==, 0);
  running = vxm_simhost_state(sim);
  g_assert_cmpstr(running, !=, before);

  /* the VM runs: recover leaves it alone, and changes nothing */
  g_assert_cmpint(run_vxm(u, sim, &out, "recover", VM, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "left alone"));
  g_assert_nonnull(strstr(out, "still runs"));
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, running);
  g_clear_pointer(&after, g_free);

  status = status_json(u, sim);
  pid = json_object_get_int_member(status, "supervisor_pid");
  pfd.fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  g_assert_cmpint(pfd.fd, >=, 0);
  g_assert_cmpint(kill((pid_t)pid, SIGKILL), ==, 0);
  g_assert_cmpint(poll(&pfd, 1, 30000), ==, 1);
  close(pfd.fd);

  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(u, sim, &out, "recover", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "win11: "));
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
  vxmd_stop(d);
  user_free(u);
  vxm_test_rm_rf(tmp);
}

/* vxm display by hand, as a user: vxmd writes the DDC/CI the user's i2c node would refuse. */
static void
test_display(void)
{
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *out = NULL;
  g_autofree char *log = NULL;
  User *u;
  Vxmd *d;

  if (!vxm_test_require_root())
    return;
  tmp = vxm_test_mkdtemp();
  sim = vxm_simhost_start("intel-nvidia-turing", &error);
  g_assert_no_error(error);
  u = user_new(user_in);
  init_vm(u, sim);
  add_display_settings(u, "DEL:41234:12345");
  assert_monitor_input(sim, "hdmi1");
  g_assert_cmpint(run_vxm(u, sim, &out, "display", "guest", VM, NULL), ==, 1);
  g_assert_nonnull(strstr(out, "sudo systemctl enable --now vxmd.socket"));
  assert_monitor_input(sim, "hdmi1");

  d = vxmd_start(sim, tmp);
  vxm_simhost_clear_log(sim);
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(u, sim, &out, "display", "guest", VM, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "DELL U2720Q (DEL:41234:12345) switched to dp1"));
  assert_monitor_input(sim, "dp1");
  log = vxm_simhost_read_log(sim);
  g_assert_nonnull(strstr(log, "write /dev/i2c-3 51 84 03 60 00 0f d7 -> ok\n"));
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(u, sim, &out, "display", "host", VM, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "switched to hdmi1"));
  assert_monitor_input(sim, "hdmi1");
  vxmd_stop(d);
  user_free(u);
  vxm_test_rm_rf(tmp);
}

/* Monitor @name (the machine file's) shows @input in the simulator's own state. */
static void
assert_monitor_named(VxmSimhost *sim, const char *name, const char *input)
{
  g_autofree char *state = vxm_simhost_state(sim);
  g_autofree char *line = g_strdup_printf("monitor %s input=%s\n", name, input);

  if (strstr(state, line) == NULL)
    g_error("state has no '%s':\n%s", line, state);
}

/* [display] monitors as a user without root: the Dell (by EDID identity) and the AOC (by
 * connector) each go to their guest input through vxmd once the guest runs, each with its own
 * journal entry, and each back to its host input at the stop; the host is as before. */
static void
test_two_monitors(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-two-monitors");
  g_autofree char *tmp = NULL;
  g_autofree char *out = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *vxm_log = NULL;
  g_autoptr(JsonObject) status = NULL;
  JsonArray *monitors;
  User *u;
  Vxmd *d;

  if (sim == NULL)
    return;
  tmp = vxm_test_mkdtemp();
  u = user_new(user_in);
  init_vm(u, sim);
  g_assert_cmpint(run_vxm(u, sim, NULL, "config", VM, "--set",
                          "monitors=DEL:41234:12345 hdmi1 dp1; card0-DP-2 dp1 hdmi1", NULL),
                  ==, 0);
  d = vxmd_start(sim, tmp);
  assert_monitor_named(sim, "dell", "hdmi1");
  assert_monitor_named(sim, "aoc", "dp1");
  before = vxm_simhost_state(sim);

  g_assert_cmpint(run_vxm(u, sim, &out, "start", VM, NULL), ==, 0);
  vxm_log = g_build_filename(u->home, "XDG_STATE_HOME", "vxm", VM, "vxm.log", NULL);
  g_assert_true(vxm_test_wait_file_contains(vxm_log, "switch-monitor: ok", 30));
  assert_monitor_named(sim, "dell", "dp1");
  assert_monitor_named(sim, "aoc", "hdmi1");
  status = status_json(u, sim);
  monitors = json_object_get_array_member(status, "monitors");
  g_assert_nonnull(monitors);
  g_assert_cmpuint(json_array_get_length(monitors), ==, 2);

  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(u, sim, &out, "stop", VM, NULL), ==, 0);
  assert_monitor_named(sim, "dell", "hdmi1");
  assert_monitor_named(sim, "aoc", "dp1");
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
  vxmd_stop(d);
  user_free(u);
  vxm_test_rm_rf(tmp);
}

/* Runs tests/vxm-test-host-ops-vxmd as @u: VxmHostOpsVxmd's every operation, in this process's
 * terms (the helper prints a line per step). */
static void
run_host_ops(User *u, VxmSimhost *sim, const char *gpu, const char *const *steps)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  int status = 0;

  g_ptr_array_add(argv, vxm_test_user_binary("tests/vxm-test-host-ops-vxmd"));
  g_ptr_array_add(argv, g_strdup(vxm_simhost_root(sim)));
  g_ptr_array_add(argv, g_strdup("opsvm"));
  g_ptr_array_add(argv, g_strdup(gpu));
  for (gsize i = 0; steps[i] != NULL; i++)
    g_ptr_array_add(argv, g_strdup(steps[i]));
  g_ptr_array_add(argv, NULL);
  if (!g_spawn_sync(u->home, (char **)argv->pdata, u->envp, G_SPAWN_DEFAULT, vxm_test_become_user,
                    (gpointer)u->user, &out, &err, &status, &error))
    g_error("cannot run %s as %s: %s", (char *)argv->pdata[0], u->user, error->message);
  g_test_message("host ops as %s:\n%s%s", u->user, out, err);
  g_assert_true(WIFEXITED(status));
  g_assert_cmpint(WEXITSTATUS(status), ==, 0);
  for (gsize i = 0; steps[i] != NULL; i++) {
    g_autofree char *line = g_strdup_printf("ok %s\n", steps[i]);

    g_assert_nonnull(strstr(out, line));
  }
}

static gboolean
have_cap_sys_resource(void)
{
  g_autofree char *text = NULL;
  const char *line;
  guint64 caps = 0;

  g_assert_true(g_file_get_contents("/proc/self/status", &text, NULL, NULL));
  line = strstr(text, "\nCapEff:");
  g_assert_nonnull(line);
  caps = g_ascii_strtoull(line + 8, NULL, 16);
  return (caps & (G_GUINT64_CONSTANT(1) << 24)) != 0; /* CAP_SYS_RESOURCE */
}

#define KEYBOARD \
  "/dev/input/by-id/usb-Logitech_G915_WIRELESS_RGB_MECHANICAL_GAMING_KEYBOARD_1C7A3B92-event-kbd"

/* Every VxmHostOpsVxmd operation as the user, several threads at once included; the host is as
 * before afterwards. Hugepages on the machine that has pools. */
static void
test_host_ops(void)
{
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(VxmSimhost) amd = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  const char *memlock_step;
  User *u;
  Vxmd *d;

  if (!vxm_test_require_root())
    return;
  /* prlimit(2) on another uid's process needs CAP_SYS_RESOURCE, which vxmd has from this
   * process; some sandboxes drop it, and then the refusal must travel back unchanged */
  memlock_step = have_cap_sys_resource() ? "memlock-self:1073741824" : "memlock-denied:1073741824";
  if (!have_cap_sys_resource())
    g_test_message("no CAP_SYS_RESOURCE here: raise-memlock is checked to be denied cleanly");
  tmp = vxm_test_mkdtemp();
  u = user_new(user_in);
  sim = vxm_simhost_start("intel-nvidia-turing", &error);
  g_assert_no_error(error);
  d = vxmd_start(sim, tmp);
  before = vxm_simhost_state(sim);
  run_host_ops(u, sim, GPU,
               (const char *const[]){"threads", "detach", "grant-vfio", "vfio-mine",
                                     "bound:vfio-pci", "held-by:opsvm", "grant:" KEYBOARD,
                                     "mine:" KEYBOARD, "journal-has:device-node-owner",
                                     "journal-has:pci-bind", memlock_step, "memlock-pid:1",
                                     "threads", "revoke", "reattach", "restore",
                                     /* keep_bound: the supervisor's release, then restore */
                                     "detach", "reattach-keep", "restore", "bound:vfio-pci",
                                     "held-by:keep_bound", "detach", "reattach", NULL});
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
  vxmd_stop(d);
  g_clear_pointer(&sim, vxm_simhost_stop);
  g_clear_pointer(&before, g_free);
  g_clear_pointer(&after, g_free);

  amd = vxm_simhost_start("amd-apu-radeon", &error);
  g_assert_no_error(error);
  d = vxmd_start(amd, tmp);
  before = vxm_simhost_state(amd);
  run_host_ops(u, amd, "0000:03:00.0",
               (const char *const[]){"hugepages:4", "journal-has:hugepages", "release-hugepages",
                                     "restore", NULL});
  after = vxm_simhost_state(amd);
  g_assert_cmpstr(after, ==, before);
  vxmd_stop(d);
  user_free(u);
  vxm_test_rm_rf(tmp);
}

#define LAPTOP_KBD      "/dev/input/by-path/platform-i8042-serio-0-event-kbd"
#define LAPTOP_TOUCHPAD "/dev/input/by-path/pci-0000:00:15.1-platform-i2c_designware.1-event-mouse"

/* A laptop: the built-in keyboard has only a by-path link (the i8042 has no USB serial for
 * by-id), and the touchpad's by-path name holds ':' and '.'. The grants a rootless start makes
 * (VxmHostOpsVxmd.grant_devices, as the user) give both to the user; the host is as before
 * afterwards. The machine has no GPU, so this runs the start's input step, not a whole start. */
static void
test_laptop_by_path(void)
{
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  User *u;
  Vxmd *d;

  if (!vxm_test_require_root())
    return;
  tmp = vxm_test_mkdtemp();
  u = user_new(user_in);
  sim = vxm_simhost_start("laptop-input", &error);
  g_assert_no_error(error);
  d = vxmd_start(sim, tmp);
  before = vxm_simhost_state(sim);
  run_host_ops(u, sim, "0000:00:02.0",
               (const char *const[]){"grant:" LAPTOP_KBD, "grant:" LAPTOP_TOUCHPAD,
                                     "mine:" LAPTOP_KBD, "mine:" LAPTOP_TOUCHPAD,
                                     "journal-has:device-node-owner", "revoke", "restore", NULL});
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
  vxmd_stop(d);
  user_free(u);
  vxm_test_rm_rf(tmp);
}

static JsonObject *
parse_object(const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data(parser, text, -1, &error);
  g_assert_no_error(error);
  return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

/* vxm fingerprint: the user cannot read the UUID and serials (0400 root), vxmd can; root reads
 * them itself, and both see the same identity. */
static void
test_fingerprint(void)
{
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) as_user = NULL;
  g_autoptr(JsonObject) as_root = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *out = NULL;
  g_autofree char *root_out = NULL;
  g_autofree char *root_err = NULL;
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  User *u;
  Vxmd *d;

  if (!vxm_test_require_root())
    return;
  tmp = vxm_test_mkdtemp();
  sim = vxm_simhost_start("intel-nvidia-turing", &error);
  g_assert_no_error(error);
  u = user_new(user_in);

  /* the UUID is root's on this host, as on a real one */
  {
    g_autofree char *path = vxm_simhost_path(sim, "/sys/class/dmi/id/product_uuid");
    struct stat st;

    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 07777, ==, 0400);
    g_assert_cmpuint(st.st_uid, ==, 0);
  }
  /* the door is vxmd's: without it, the fix */
  g_assert_cmpint(run_vxm(u, sim, &out, "fingerprint", NULL), ==, 1);
  g_assert_nonnull(strstr(out, "sudo systemctl enable --now vxmd.socket"));
  g_clear_pointer(&out, g_free);

  d = vxmd_start(sim, tmp);
  g_assert_cmpint(run_vxm(u, sim, &out, "fingerprint", "--json", NULL), ==, 0);
  as_user = parse_object(out);
  g_assert_cmpstr(json_object_get_string_member(as_user, "product_uuid"), ==, HOST_UUID);
  g_assert_cmpstr(json_object_get_string_member(as_user, "board_serial"), ==, BOARD_SERIAL);
  g_assert_cmpstr(json_object_get_string_member(as_user, "sys_vendor"), ==,
                  "Micro-Star International Co., Ltd.");
  g_assert_cmpstr(json_object_get_string_member(as_user, "bios_date"), ==, "03/12/2020");
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(u, sim, &out, "fingerprint", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "  uuid          " HOST_UUID "\n"));
  g_assert_nonnull(strstr(out, "identify this machine"));
  vxmd_stop(d);

  /* as root, without vxmd: the same object */
  g_assert_cmpint(vxm_test_run((const char *const[]){vxm, "fingerprint", "--json", "--root",
                                                     vxm_simhost_root(sim), NULL},
                               NULL, &root_out, &root_err),
                  ==, 0);
  as_root = parse_object(root_out);
  for (const char *const *f = (const char *const[]){"sys_vendor", "product_name", "product_serial",
                                                    "product_uuid", "board_name", "board_serial",
                                                    "board_asset_tag", "bios_version", NULL};
       *f != NULL; f++)
    g_assert_cmpstr(json_object_get_string_member(as_root, *f), ==,
                    json_object_get_string_member(as_user, *f));
  user_free(u);
  vxm_test_rm_rf(tmp);
}

/* ---- the crash matrix (the test-crash build of this file) ----
 *
 * SIGKILL of each of vxm (the CLI), the supervisor, QEMU, swtpm and vxmd at moments spread over
 * the whole start and the whole stop, then `vxm recover` as the user: the simulated host (its
 * state and every file vxm may write) is as before the start, and the VM starts and stops
 * again. A moment is a host operation of that start or stop: a reference run lists them, a
 * probing run hangs each in turn and notes which processes exist then; a cell hangs its
 * operation, kills its process, lets the operation go on, waits until things settle and
 * recovers. The cells of one process and one phase run in one case whose failure names the
 * cell. */

typedef enum { V_CLI, V_SUPERVISOR, V_QEMU, V_SWTPM, V_VXMD, N_VICTIMS } Victim;
static const char *const victim_name[N_VICTIMS] = {"vxm", "supervisor", "qemu", "swtpm", "vxmd"};

/* The cells of one process in one phase; spread evenly over the moments it lives in. */
#define CELLS_PER_PHASE  5
#define CELLS_PER_VICTIM 10

typedef struct {
  char *op; /* a host operation that hangs, or NULL: */
  char *path;
  const char *line; /* the moment the supervisor logs this (QEMU runs, no host operation) */
  gboolean alive[N_VICTIMS];
} Moment;

/* The supervisor's log lines of a start and of a stop while QEMU runs, in their order. */
static const char *const start_lines[] = {
    "QEMU pid ",     "qmp: started",   "qmp: ok", "pin-vcpus: ok",
    "cont: started", "state: running", NULL};
static const char *const stop_lines[] = {"stop requested", "shutdown-guest: started",
                                         "ACPI power-down", "did not shut down within", NULL};

typedef struct {
  char *tmp;
  VxmSimhost *sim;
  User *u;
  Vxmd *d;
  char *before;
  char *tree_before;
  GPtrArray *moments[2]; /* Moment*: [0] the start's, [1] the stop's */
} Crash;

static Crash *crash; /* made by the first case, kept for the others (one simulator, one user) */
static guint crash_cells[N_VICTIMS];
static guint crash_bugs; /* cells that found a bug (the case fails, the matrix goes on) */

static void
moment_free(Moment *m)
{
  g_free(m->op);
  g_free(m->path);
  g_free(m);
}

/* vxm start's child that runs the VM (not the short-lived fork before its exec) */
static gboolean
is_supervisor(const char *pid)
{
  g_autofree char *path = g_strdup_printf("/proc/%s/cmdline", pid);
  g_autofree char *text = NULL;
  gsize len = 0;

  if (!g_file_get_contents(path, &text, &len, NULL))
    return FALSE;
  for (gsize i = 0; i + 1 < len; i++)
    if (text[i] == '\0')
      text[i] = ' ';
  return strstr(text, "--plan-fd=") != NULL;
}

/* The pid of @v among @u's processes (or vxmd), 0 when there is none; zombies do not count. */
static GPid
find_victim(Crash *c, Victim v, GPid cli)
{
  g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
  const char *name;

  if (v == V_VXMD)
    return c->d->pid;
  g_assert_nonnull(proc);
  while ((name = g_dir_read_name(proc)) != NULL) {
    g_autofree char *status_path = g_strdup_printf("/proc/%s/status", name);
    g_autofree char *status = NULL;
    g_autofree char *comm = NULL;
    const char *line;
    GPid pid = (GPid)g_ascii_strtoll(name, NULL, 10);
    guint uid;

    if (pid <= 0 || !g_file_get_contents(status_path, &status, NULL, NULL))
      continue;
    line = strstr(status, "\nUid:");
    if (line == NULL || sscanf(line + 5, "%u", &uid) != 1 || uid != c->u->uid)
      continue;
    line = strstr(status, "\nState:");
    if (line == NULL)
      continue;
    line += strlen("\nState:");
    line += strspn(line, " \t");
    if (*line == 'Z' || *line == 'X')
      continue;
    comm = g_strndup(status + strlen("Name:\t"), strcspn(status + strlen("Name:\t"), "\n"));
    if ((v == V_CLI && pid == cli) ||
        (v == V_SUPERVISOR && pid != cli && g_str_equal(comm, "vxm") && is_supervisor(name)) ||
        (v == V_QEMU && g_str_has_prefix(comm, "qemu-system")) ||
        (v == V_SWTPM && g_str_equal(comm, "swtpm")))
      return pid;
  }
  return 0;
}

/* `vxm COMMAND VM --root MOUNT` as the user, not waited for; its output goes to a file. */
static GPid
spawn_vxm(Crash *c, const char *command)
{
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  g_autofree char *log = g_build_filename(c->tmp, "vxm-async.log", NULL);
  const char *argv[] = {vxm, command, VM, "--root", vxm_simhost_root(c->sim), NULL};
  g_autoptr(GError) error = NULL;
  GPid pid = 0;
  int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  g_assert_cmpint(fd, >=, 0);
  g_assert_true(g_spawn_async_with_pipes_and_fds(c->u->home, argv, (const char *const *)c->u->envp,
                                                 G_SPAWN_DO_NOT_REAP_CHILD, vxm_test_become_user,
                                                 (gpointer)c->u->user, -1, fd, fd, NULL, NULL, 0,
                                                 &pid, NULL, NULL, NULL, &error));
  g_assert_no_error(error);
  close(fd);
  return pid;
}

/* Reaps the CLI (at most @guard_s seconds); its output goes to the test's log. */
static gboolean
reap_vxm(Crash *c, GPid pid, guint guard_s, int *status)
{
  g_autofree char *log = g_build_filename(c->tmp, "vxm-async.log", NULL);
  g_autofree char *text = NULL;

  for (guint waited = 0; waitpid(pid, status, WNOHANG) == 0; waited += 20) {
    if (waited >= guard_s * 1000)
      return FALSE;
    g_usleep(20 * G_TIME_SPAN_MILLISECOND);
  }
  if (g_file_get_contents(log, &text, NULL, NULL))
    g_test_message("(async vxm) -> 0x%x\n%s", *status, text);
  return TRUE;
}

/* Lets the hung operation go on and waits until nothing hangs. */
static void
release_hang(Crash *c)
{
  vxm_simhost_clear_faults(c->sim);
  vxm_simhost_release(c->sim);
  for (guint waited = 0; vxm_simhost_hung_count(c->sim) > 0 && waited < 30000; waited += 5)
    g_usleep(5 * G_TIME_SPAN_MILLISECOND);
}

static void
hang_at(Crash *c, Moment *m)
{
  g_autofree char *rule = g_strdup_printf("%s %s hang count=1", m->op, m->path);
  g_autoptr(GError) error = NULL;

  g_assert_true(vxm_simhost_add_fault(c->sim, rule, &error));
  g_assert_no_error(error);
}

/* The host's changes of one phase (after clear_log), first of each operation and path. */
static GPtrArray *
phase_moments(Crash *c)
{
  static const char *const changes[] = {"write",  "chown", "chmod",  "create", "mkdir",
                                        "unlink", "rmdir", "rename", NULL};
  g_autofree char *log = vxm_simhost_read_log(c->sim);
  g_auto(GStrv) lines = g_strsplit(log, "\n", -1);
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  GPtrArray *moments = g_ptr_array_new_with_free_func((GDestroyNotify)moment_free);

  for (guint i = 0; lines[i] != NULL; i++) {
    g_auto(GStrv) words = g_strsplit(lines[i], " ", 4);
    Moment *m;

    if (g_strv_length(words) < 4 || !g_strv_contains(changes, words[1]))
      continue;
    if (!g_hash_table_add(seen, g_strdup_printf("%s %s", words[1], words[2])))
      continue;
    m = g_new0(Moment, 1);
    m->op = g_strdup(words[1]);
    m->path = g_strdup(words[2]);
    g_ptr_array_add(moments, m);
  }
  return moments;
}

/* How many operations have hung since the log was cleared. */
static guint64
count_hangs(Crash *c)
{
  g_autofree char *log = vxm_simhost_read_log(c->sim);
  guint64 n = 0;

  for (const char *p = strstr(log, " -> hang\n"); p != NULL; p = strstr(p + 1, " -> hang\n"))
    n++;
  return n;
}

/* The probing run of a phase: every moment not yet met hangs; each time something hangs, the
 * moments met are noted (in the order met, with the processes alive then) and the rest hang
 * again. Host steps run in parallel, so the order can differ from the reference run's, and a
 * moment passed while the rules were being set again is dropped. @moments becomes the moments
 * met, in order. */
static void
probe_phase(Crash *c, GPtrArray *moments, gboolean stop)
{
  g_autoptr(GPtrArray) met = g_ptr_array_new_with_free_func((GDestroyNotify)moment_free);
  g_autoptr(GPtrArray) rest = g_ptr_array_new_with_free_func((GDestroyNotify)moment_free);
  GPid cli;
  int status = 0;
  guint64 hangs_seen = 0;
  gboolean done = FALSE;

  while (moments->len > 0)
    g_ptr_array_add(rest, g_ptr_array_steal_index(moments, 0));
  if (stop)
    g_assert_cmpint(run_vxm(c->u, c->sim, NULL, "start", VM, NULL), ==, 0);
  for (guint i = 0; i < rest->len; i++)
    hang_at(c, rest->pdata[i]);
  vxm_simhost_clear_log(c->sim);
  cli = spawn_vxm(c, stop ? "stop" : "start");
  while (!done) {
    g_autofree char *log = NULL;
    g_auto(GStrv) lines = NULL;
    guint64 hangs = 0;

    /* something new hangs (a line of the log), or vxm ends; a hang must not last long (vxm
     * gives a sysfs write 10 s) */
    for (guint waited = 0; count_hangs(c) <= hangs_seen; waited += 5) {
      if (waitpid(cli, &status, WNOHANG) == cli) {
        done = TRUE;
        break;
      }
      if (waited >= 60000)
        g_error("probing the %s: vxm neither ends nor reaches a host operation",
                stop ? "stop" : "start");
      g_usleep(5 * G_TIME_SPAN_MILLISECOND);
    }
    if (done)
      break;
    g_usleep(20 * G_TIME_SPAN_MILLISECOND); /* a parallel step's operation may hang too */
    log = vxm_simhost_read_log(c->sim);
    lines = g_strsplit(log, "\n", -1);
    for (guint l = 0; lines[l] != NULL; l++) {
      g_auto(GStrv) words = g_strsplit(lines[l], " ", 3);

      if (!g_str_has_suffix(lines[l], " -> hang") || g_strv_length(words) < 3 ||
          ++hangs <= hangs_seen)
        continue;
      for (guint i = 0; i < rest->len; i++) {
        Moment *m = rest->pdata[i];

        if (g_str_equal(m->op, words[1]) && g_str_has_prefix(words[2], m->path) &&
            (words[2][strlen(m->path)] == ' ' || words[2][strlen(m->path)] == '\0')) {
          for (Victim v = 0; v < N_VICTIMS; v++)
            m->alive[v] = find_victim(c, v, cli) > 0;
          g_test_message("moment %s %u: %s %s: vxm %d supervisor %d qemu %d swtpm %d",
                         stop ? "stop" : "start", met->len, m->op, m->path, m->alive[V_CLI],
                         m->alive[V_SUPERVISOR], m->alive[V_QEMU], m->alive[V_SWTPM]);
          g_ptr_array_add(met, g_ptr_array_steal_index(rest, i));
          break;
        }
      }
    }
    hangs_seen = hangs;
    vxm_simhost_clear_faults(c->sim);
    for (guint i = 0; i < rest->len; i++)
      hang_at(c, rest->pdata[i]);
    vxm_simhost_release(c->sim);
  }
  vxm_simhost_clear_faults(c->sim);
  g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (!stop)
    g_assert_cmpint(run_vxm(c->u, c->sim, NULL, "stop", VM, NULL), ==, 0);
  for (guint i = 0; i < rest->len; i++)
    g_test_message("moment %s: %s %s passed unprobed", stop ? "stop" : "start",
                   ((Moment *)rest->pdata[i])->op, ((Moment *)rest->pdata[i])->path);
  while (met->len > 0)
    g_ptr_array_add(moments, g_ptr_array_steal_index(met, 0));
}

static void
crash_setup(void)
{
  g_autoptr(GError) error = NULL;
  Crash *c = g_new0(Crash, 1);

  c->tmp = vxm_test_mkdtemp();
  c->sim = vxm_simhost_start("intel-nvidia-turing", &error);
  g_assert_no_error(error);
  c->u = user_new(user_in);
  init_vm(c->u, c->sim);
  add_display_settings(c->u, "auto");
  /* the guest (OVMF's boot manager) ignores ACPI power-down: each stop waits this long */
  g_assert_cmpint(run_vxm(c->u, c->sim, NULL, "config", VM, "--set", "shutdown_timeout=1", NULL),
                  ==, 0);
  c->d = vxmd_start(c->sim, c->tmp);
  c->before = vxm_simhost_state(c->sim);
  c->tree_before = vxm_simhost_writable_tree(c->sim);
  /* the reference runs: the operations of a whole start, then of a whole stop */
  vxm_simhost_clear_log(c->sim);
  g_assert_cmpint(run_vxm(c->u, c->sim, NULL, "start", VM, NULL), ==, 0);
  c->moments[0] = phase_moments(c);
  vxm_simhost_clear_log(c->sim);
  g_assert_cmpint(run_vxm(c->u, c->sim, NULL, "stop", VM, NULL), ==, 0);
  c->moments[1] = phase_moments(c);
  g_assert_cmpuint(c->moments[0]->len, >=, CELLS_PER_PHASE);
  g_assert_cmpuint(c->moments[1]->len, >=, CELLS_PER_PHASE);
  probe_phase(c, c->moments[0], FALSE);
  probe_phase(c, c->moments[1], TRUE);
  for (guint stop = 0; stop < 2; stop++) {
    const char *const *lines = stop ? stop_lines : start_lines;

    for (guint i = 0; lines[i] != NULL; i++) {
      Moment *m = g_new0(Moment, 1);

      m->line = lines[i];
      for (Victim v = 0; v < N_VICTIMS; v++)
        m->alive[v] = TRUE;
      /* in time order: after the start's host steps, before the stop's */
      g_ptr_array_insert(c->moments[stop], stop ? (gint)i : -1, m);
    }
  }
  {
    g_autofree char *state = vxm_simhost_state(c->sim);

    g_assert_cmpstr(state, ==, c->before);
  }
  crash = c;
}

/* After a kill: waits until the VM is running, stopped or failed; that state. */
static char *
settled_state(Crash *c, const char *cell)
{
  for (guint waited = 0;; waited += 100) {
    g_autoptr(JsonObject) status = status_json(c->u, c->sim);
    const char *state = json_object_get_string_member(status, "state");

    if (!g_strv_contains(
            (const char *const[]){"preparing", "starting", "stopping", "restoring", NULL}, state))
      return g_strdup(state);
    if (waited >= 60000)
      g_error("%s: the VM is still %s a minute after the kill", cell, state);
    g_usleep(100 * G_TIME_SPAN_MILLISECOND);
  }
}

static gboolean
host_as_before(Crash *c, const char *cell, const char *when, gboolean report)
{
  g_autofree char *state = vxm_simhost_state(c->sim);
  g_autofree char *tree = vxm_simhost_writable_tree(c->sim);

  if (!g_str_equal(state, c->before)) {
    if (report)
      g_test_message("%s: %s, the host's state differs:\n--- before\n%s--- now\n%s", cell, when,
                     c->before, state);
    return FALSE;
  }
  if (!g_str_equal(tree, c->tree_before)) {
    if (report)
      g_test_message("%s: %s, the files vxm may write differ:\n--- before\n%s--- now\n%s", cell,
                     when, c->tree_before, tree);
    return FALSE;
  }
  return TRUE;
}

/* A cell found a bug: the case fails, saying which cell and what; then the host must still come
 * back (vxmd restarted if it ended, recover again) so the other cells run and report too. */
static void
cell_bug(Crash *c, const char *cell, const char *what)
{
  int vxmd_status = 0;

  if (waitpid(c->d->pid, &vxmd_status, WNOHANG) == c->d->pid) {
    g_autofree char *log = NULL;

    if (g_file_get_contents(c->d->log, &log, NULL, NULL))
      g_test_message("the vxmd that ended (wait status 0x%x), its log:\n%s", vxmd_status, log);
    g_test_fail_printf("%s: %s; vxmd ended (wait status 0x%x)", cell, what, vxmd_status);
    g_free(c->d->log);
    g_free(c->d);
    c->d = vxmd_start(c->sim, c->tmp);
  } else {
    g_test_fail_printf("%s: %s", cell, what);
  }
  crash_bugs++;
  for (guint waited = 0;; waited += 500) {
    g_autofree char *state = settled_state(c, cell);

    if (g_str_equal(state, "running"))
      run_vxm(c->u, c->sim, NULL, "stop", VM, "--force", NULL);
    if (run_vxm(c->u, c->sim, NULL, "recover", NULL) == 0 &&
        host_as_before(c, cell, "recovering after the bug", waited >= 60000))
      return;
    if (waited >= 60000)
      g_error("%s: the host does not come back a minute after: %s", cell, what);
    g_usleep(500 * G_TIME_SPAN_MILLISECOND);
  }
}

static void
assert_host_as_before(Crash *c, const char *cell, const char *when)
{
  if (!host_as_before(c, cell, when, TRUE)) {
    g_autofree char *what = g_strdup_printf("%s, the host is not as before (see the log)", when);

    cell_bug(c, cell, what);
  }
}

/* One cell; FALSE when the victim had no process at that moment this time (not counted). */
static gboolean
crash_cell(Crash *c, gboolean stop, guint index, Victim v)
{
  Moment *m = c->moments[stop]->pdata[index];
  g_autofree char *cell =
      g_strdup_printf("/vxm/crash/kill-%s/%s-%u (%s%s%s)", victim_name[v], stop ? "stop" : "start",
                      index, m->line ? m->line : m->op, m->line ? "" : " ", m->line ? "" : m->path);
  g_autofree char *out = NULL;
  g_autofree char *state = NULL;
  int pidfd, status = 0;
  GPid cli, pid;

  g_test_message("cell %s", cell);
  if (stop)
    g_assert_cmpint(run_vxm(c->u, c->sim, NULL, "start", VM, NULL), ==, 0);
  if (m->line != NULL) {
    g_autofree char *log =
        g_build_filename(c->u->home, "XDG_STATE_HOME", "vxm", VM, "vxm.log", NULL);
    g_autofree char *text = NULL;
    gsize from = 0;

    if (g_file_get_contents(log, &text, &from, NULL))
      g_clear_pointer(&text, g_free);
    cli = spawn_vxm(c, stop ? "stop" : "start");
    for (guint waited = 0;; waited += 2) {
      gsize len = 0;

      g_clear_pointer(&text, g_free);
      if (g_file_get_contents(log, &text, &len, NULL) && len > from &&
          strstr(text + from, m->line) != NULL)
        break;
      if (waited >= 60000)
        g_error("%s: the supervisor never logged '%s'", cell, m->line);
      g_usleep(2 * G_TIME_SPAN_MILLISECOND);
    }
  } else {
    hang_at(c, m);
    cli = spawn_vxm(c, stop ? "stop" : "start");
    if (!vxm_simhost_wait_hung(c->sim, 1, 60000))
      g_error("%s: the operation was not reached", cell);
  }
  pid = find_victim(c, v, cli);
  if (pid <= 0) {
    /* parallel host steps: the probe saw it at this moment, this run did not get that far */
    g_test_message("%s: no %s process at this moment this time: cell not counted", cell,
                   victim_name[v]);
    release_hang(c);
    g_assert_true(reap_vxm(c, cli, 120, &status));
    g_assert_cmpint(run_vxm(c->u, c->sim, NULL, "stop", VM, NULL), ==, 0);
    assert_host_as_before(c, cell, "after a stop");
    return FALSE;
  }
  pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  g_assert_cmpint(pidfd, >=, 0);
  g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
  /* a process blocked in the simulator's hang dies once the operation goes on */
  release_hang(c);
  {
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

    if (poll(&pfd, 1, 30000) != 1)
      g_error("%s: the %s did not die", cell, victim_name[v]);
    close(pidfd);
  }
  if (v == V_VXMD) {
    g_assert_cmpint(waitpid(c->d->pid, &status, 0), ==, c->d->pid);
    g_free(c->d->log);
    g_free(c->d);
    c->d = vxmd_start(c->sim, c->tmp);
  }
  if (!reap_vxm(c, cli, 120, &status))
    g_error("%s: vxm %s did not end", cell, stop ? "stop" : "start");
  state = settled_state(c, cell);
  g_test_message("%s: the VM is %s after the kill", cell, state);
  if (g_str_equal(state, "running")) {
    /* the kill did not end the start (or the supervisor has not yet seen a killed QEMU or
     * swtpm): stop it as a user would. With QEMU or swtpm killed, the stop rightly says the VM
     * ended with a failure, naming it, and still gives the host back. */
    g_autofree char *stop_out = NULL;
    int stopped = run_vxm(c->u, c->sim, &stop_out, "stop", VM, "--force", NULL);

    if (stopped != 0 &&
        !((v == V_QEMU || v == V_SWTPM) && strstr(stop_out, "ended with a failure") &&
          strstr(stop_out, victim_name[v]) != NULL))
      g_error("%s: vxm stop --force after the kill: %d\n%s", cell, stopped, stop_out);
  }
  if (run_vxm(c->u, c->sim, &out, "recover", NULL) != 0) {
    g_autofree char *what = g_strdup_printf("vxm recover failed: %s", out);

    cell_bug(c, cell, what);
  }
  assert_host_as_before(c, cell, "after vxm recover");
  g_clear_pointer(&out, g_free);
  if (run_vxm(c->u, c->sim, &out, "start", VM, NULL) != 0) {
    g_autofree char *log =
        g_build_filename(c->u->home, "XDG_STATE_HOME", "vxm", VM, "vxm.log", NULL);
    g_autofree char *text = NULL;

    g_file_get_contents(log, &text, NULL, NULL);
    g_test_message("vxm.log:\n%s", text + (strlen(text) > 3000 ? strlen(text) - 3000 : 0));
    {
      g_autofree char *what = g_strdup_printf("the VM does not start again: %s", out);

      cell_bug(c, cell, what);
    }
    if (run_vxm(c->u, c->sim, NULL, "start", VM, NULL) != 0)
      g_error("%s: the VM does not start even after the host came back", cell);
  }
  g_assert_cmpint(run_vxm(c->u, c->sim, NULL, "stop", VM, "--force", NULL), ==, 0);
  assert_host_as_before(c, cell, "after a start and stop that follow");
  crash_cells[v]++;
  return TRUE;
}

static guint
moments_alive(GPtrArray *moments, Victim v, GArray *indices)
{
  guint n = 0;

  for (guint i = 0; i < moments->len; i++)
    if (((Moment *)moments->pdata[i])->alive[v]) {
      if (indices != NULL)
        g_array_append_val(indices, i);
      n++;
    }
  return n;
}

/* Cells spread evenly over the moments of @phase where @v lives: CELLS_PER_PHASE, or more when
 * the other phase has too few to reach CELLS_PER_VICTIM together (every moment of the start when
 * the two phases together have barely enough). A moment where the victim had no process this
 * time (parallel steps) is made up for by the nearest moment not yet tried. */
static void
test_crash(gconstpointer data)
{
  Victim v = GPOINTER_TO_UINT(data) / 2;
  gboolean stop = GPOINTER_TO_UINT(data) % 2;
  g_autoptr(GArray) alive = g_array_new(FALSE, FALSE, sizeof(guint));
  g_autofree gboolean *tried = NULL;
  guint other, want, n, counted = 0;

  if (!vxm_test_require_root())
    return;
  if (crash == NULL)
    crash_setup();
  moments_alive(crash->moments[stop], v, alive);
  tried = g_new0(gboolean, alive->len + 1);
  /* the start's case runs first: the stop's makes up for what it could not do */
  if (stop) {
    other = crash_cells[v];
    want = MAX(CELLS_PER_PHASE, CELLS_PER_VICTIM > other ? CELLS_PER_VICTIM - other : 0);
  } else {
    other = moments_alive(crash->moments[1], v, NULL);
    want = alive->len + other <= CELLS_PER_VICTIM + 2
               ? alive->len
               : MAX(CELLS_PER_PHASE, CELLS_PER_VICTIM > MIN(other, CELLS_PER_PHASE)
                                          ? CELLS_PER_VICTIM - MIN(other, CELLS_PER_PHASE)
                                          : 0) +
                     (other <= CELLS_PER_PHASE); /* a spare: the stop has none to give */
  }
  n = MIN(alive->len, want);
  g_test_message("kill-%s during the %s: %u of %u moments", victim_name[v], stop ? "stop" : "start",
                 n, alive->len);
  /* evenly spread picks first; a cell not counted is made up for by the nearest untried moment */
  for (guint k = 0; counted < n && k < alive->len; k++) {
    guint pick = k < n ? (n == 1 ? 0 : k * (alive->len - 1) / (n - 1)) : 0;
    gboolean found = FALSE;

    for (guint d = 0; d < alive->len && !found; d++) {
      if (pick + d < alive->len && !tried[pick + d]) {
        pick += d;
        found = TRUE;
      } else if (pick >= d && !tried[pick - d]) {
        pick -= d;
        found = TRUE;
      }
    }
    if (!found)
      break; /* every moment tried */
    tried[pick] = TRUE;
    if (crash_cell(crash, stop, g_array_index(alive, guint, pick), v))
      counted++;
  }
}

/* At least 10 moments for each process; then the simulator, vxmd and the user go. */
static void
test_crash_count(void)
{
  guint total = 0;

  if (!vxm_test_require_root())
    return;
  for (Victim v = 0; v < N_VICTIMS; v++) {
    g_test_message("kill-%s: %u cells", victim_name[v], crash_cells[v]);
    total += crash_cells[v];
  }
  g_test_message("crash matrix: %u cells, %u of them found a bug", total, crash_bugs);
  for (Victim v = 0; v < N_VICTIMS; v++)
    if (crash_cells[v] < CELLS_PER_VICTIM)
      g_error("kill-%s: only %u moments over the start and the stop", victim_name[v],
              crash_cells[v]);
  g_assert_nonnull(crash);
  vxmd_stop(crash->d);
  g_ptr_array_unref(crash->moments[0]);
  g_ptr_array_unref(crash->moments[1]);
  g_free(crash->before);
  g_free(crash->tree_before);
  user_free(crash->u);
  g_clear_pointer(&crash->sim, vxm_simhost_stop);
  vxm_test_rm_rf(crash->tmp);
  g_free(crash->tmp);
  g_clear_pointer(&crash, g_free);
}

int
main(int argc, char **argv)
{
#ifdef VXM_CRASH_MATRIX
  const gboolean crash_matrix = TRUE; /* test-crash: the crash matrix only */
#else
  const gboolean crash_matrix = FALSE;
#endif

  g_test_init(&argc, &argv, NULL);
  if (geteuid() == 0)
    make_users();
  if (crash_matrix) {
    for (Victim v = 0; v < N_VICTIMS; v++)
      for (guint stop = 0; stop < 2; stop++) {
        g_autofree char *path =
            g_strdup_printf("/vxm/crash/kill-%s/%s", victim_name[v], stop ? "stop" : "start");

        g_test_add_data_func(path, GUINT_TO_POINTER(v * 2 + stop), test_crash);
      }
    g_test_add_func("/vxm/crash/total/cell-count", test_crash_count);
    return g_test_run();
  }
  g_test_add_func("/vxm/rootless/refused/no-vxmd-and-not-in-group", test_refusals);
  g_test_add_func("/vxm/rootless/start-status-stop/simhost", test_start_stop);
  g_test_add_func("/vxm/rootless/fingerprint/through-vxmd", test_fingerprint);
  g_test_add_func("/vxm/rootless/kill-supervisor/recover", test_kill_recover);
  g_test_add_func("/vxm/rootless/display/through-vxmd", test_display);
  g_test_add_func("/vxm/rootless/display/two-monitors-through-vxmd", test_two_monitors);
  g_test_add_func("/vxm/rootless/host-ops-vxmd/every-operation", test_host_ops);
  g_test_add_func("/vxm/rootless/grant/laptop-by-path", test_laptop_by_path);
  return g_test_run();
}
