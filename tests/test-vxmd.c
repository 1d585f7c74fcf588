/* test-vxmd: the real vxmd (root) on simulated workstations, asked by real unprivileged users.
 *
 * Users and a group are made for the test (vxmt<pid>a in the group, vxmt<pid>b in it too,
 * vxmt<pid>o outside it; for polkit, d, i and r outside it with an active local, an inactive
 * local and a remote session) and removed at exit, even when an assertion fails. Every hostile
 * request must be refused with nothing changed on the host: the simulator's state dump is the
 * same and its log (every sysfs write, chown, chmod, open of a device node) is empty.
 *
 * vxmd gets no system bus (polkit cannot be asked, the group alone decides), except in the
 * /vxm/vxmd/polkit/ tests, which start a real polkitd on a bus of their own
 * (vxm-test-polkit.h).
 */
#include <fcntl.h>
#include <gio/gio.h>
#include <grp.h>
#include <json-glib/json-glib.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vxm-simhost-fixture.h"
#include "vxm-test-polkit.h"
#include "vxm-test-users.h"
#include "vxm-test-util.h"

static char group_name[64];
static char user_a[32], user_b[32], user_out[32];
static char user_d[32], user_i[32], user_r[32]; /* polkit: desktop, inactive, remote */
static guint hostile_cases;

/* the system bus vxmd is given: by default one that does not exist */
static const char *vxmd_bus_address = "unix:path=/nonexistent/vxm-test-no-system-bus";
/* user -> cgroup.procs of their login session (vxm-test-polkit.h), for their clients */
static GHashTable *session_procs;

static GPid running_vxmd; /* killed on any exit, so an assertion leaves nothing behind */
/* a capability vxmd starts without (out of its bounding set, as a unit's would be), or -1 */
static int vxmd_without_cap = -1;
static VxmTestPolkit *running_polkit; /* the same */

static void
stop_running_vxmd(void)
{
  if (running_vxmd > 0) {
    kill(running_vxmd, SIGTERM);
    waitpid(running_vxmd, NULL, 0);
  }
  g_clear_pointer(&running_polkit, vxm_test_polkit_free);
}

static void
make_users(void)
{
  g_snprintf(group_name, sizeof group_name, "vxm-test-%d", (int)getpid());
  g_snprintf(user_a, sizeof user_a, "vxmt%da", (int)getpid());
  g_snprintf(user_b, sizeof user_b, "vxmt%db", (int)getpid());
  g_snprintf(user_out, sizeof user_out, "vxmt%do", (int)getpid());
  vxm_test_users_on_cleanup(stop_running_vxmd);
  g_assert_true(vxm_test_group_add(group_name, FALSE));
  vxm_test_user_add(user_a, group_name);
  vxm_test_user_add(user_b, group_name);
  vxm_test_user_add(user_out, NULL);
  g_snprintf(user_d, sizeof user_d, "vxmt%dd", (int)getpid());
  g_snprintf(user_i, sizeof user_i, "vxmt%di", (int)getpid());
  g_snprintf(user_r, sizeof user_r, "vxmt%dr", (int)getpid());
  vxm_test_user_add(user_d, NULL);
  vxm_test_user_add(user_i, NULL);
  vxm_test_user_add(user_r, NULL);
  session_procs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static uid_t
uid_of(const char *user)
{
  struct passwd *pw = getpwnam(user);

  g_assert_nonnull(pw);
  return pw->pw_uid;
}

typedef struct {
  VxmSimhost *sim;
  GPid vxmd;
  char *socket;
} Host;

/* child setup for vxmd: its system bus; when socket-activated (@data), LISTEN_PID must be its
 * own pid, known only here */
static void
vxmd_child_setup(gpointer data)
{
  char pid[32];

  if (setenv("DBUS_SYSTEM_BUS_ADDRESS", vxmd_bus_address, 1) != 0)
    _exit(121);
  if (vxmd_without_cap >= 0 && prctl(PR_CAPBSET_DROP, vxmd_without_cap, 0, 0, 0) != 0)
    _exit(121);
  if (data == NULL)
    return;
  g_snprintf(pid, sizeof pid, "%d", (int)getpid());
  if (setenv("LISTEN_PID", pid, 1) != 0 || setenv("LISTEN_FDS", "1", 1) != 0)
    _exit(121);
}

static gboolean
socket_ready(const char *path)
{
  struct stat st;

  return stat(path, &st) == 0 && (st.st_mode & 07777) == 0666;
}

/* how long vxmd waits for a silent client: short, so the silent-client case ends soon */
static const char *idle_timeout_ms = "1500";

/* vxmd on @h->sim: its own socket, or (@listen_fd >= 0) the one given as systemd does, fd 3 */
static void
host_spawn_vxmd(Host *h, int listen_fd)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *vxmd = vxm_test_build_path("src/vxmd/vxmd");
  const char *argv[] = {vxmd,
                        "--root",
                        vxm_simhost_root(h->sim),
                        "--group",
                        group_name,
                        "--idle-timeout-ms",
                        idle_timeout_ms,
                        NULL};
  int target = 3;

  if (listen_fd < 0)
    h->socket = vxm_simhost_path(h->sim, "/run/vxm/vxmd.sock");
  g_assert_true(g_spawn_async_with_pipes_and_fds(
      NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, vxmd_child_setup,
      listen_fd >= 0 ? GINT_TO_POINTER(1) : NULL, -1, -1, -1, listen_fd >= 0 ? &listen_fd : NULL,
      listen_fd >= 0 ? &target : NULL, listen_fd >= 0 ? 1 : 0, &h->vxmd, NULL, NULL, NULL, &error));
  g_assert_no_error(error);
  running_vxmd = h->vxmd;
  if (listen_fd >= 0)
    return; /* the socket listens already: connections wait in its backlog */
  /* readiness: the socket appears, then gets its mode just before vxmd listens */
  for (guint i = 0; i < 1000 && !socket_ready(h->socket); i++)
    g_usleep(10000);
  g_assert_true(socket_ready(h->socket));
}

static Host *
host_start(const char *machine, const char *vxmd_conf)
{
  Host *h = g_new0(Host, 1);
  g_autoptr(GError) error = NULL;

  h->sim = vxm_simhost_start(machine, &error);
  g_assert_no_error(error);
  if (vxmd_conf != NULL) {
    g_autofree char *dir = vxm_simhost_path(h->sim, "/etc/vxm");
    g_autofree char *conf = g_build_filename(dir, "vxmd.conf", NULL);

    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_assert_true(g_file_set_contents(conf, vxmd_conf, -1, NULL));
  }
  host_spawn_vxmd(h, -1);
  return h;
}

/* Ends vxmd with @sig and checks how it exited (SIGKILL: it cannot clean up, as in a crash). */
static void
host_kill_vxmd(Host *h, int sig)
{
  int status;

  kill(h->vxmd, sig);
  g_assert_cmpint(waitpid(h->vxmd, &status, 0), ==, h->vxmd);
  running_vxmd = 0;
  if (sig == SIGKILL)
    g_assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  else
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  g_clear_pointer(&h->socket, g_free);
}

static void
host_stop(Host *h)
{
  host_kill_vxmd(h, SIGTERM);
  vxm_simhost_stop(h->sim);
  g_free(h);
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
  return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

/* Every name under the simulated /run/vxm (vxmd's journals and socket) with each regular
 * file's contents: what a refused request must leave as it was. */
static void
append_tree(GString *out, const char *dir, const char *rel)
{
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *name;

  while (d != NULL && (name = g_dir_read_name(d)) != NULL)
    g_ptr_array_add(names, g_strdup(name));
  g_ptr_array_sort(names, compare_names);
  for (guint i = 0; i < names->len; i++) {
    g_autofree char *path = g_build_filename(dir, names->pdata[i], NULL);
    g_autofree char *sub = g_build_filename(rel, names->pdata[i], NULL);
    g_autofree char *text = NULL;
    struct stat st;

    g_assert_cmpint(lstat(path, &st), ==, 0);
    g_string_append_printf(out, "%s %o %u\n", sub, st.st_mode, (guint)st.st_uid);
    if (S_ISDIR(st.st_mode))
      append_tree(out, path, sub);
    else if (S_ISREG(st.st_mode) && g_file_get_contents(path, &text, NULL, NULL))
      g_string_append_printf(out, "%s\n", text);
  }
}

static char *
run_vxm_tree(Host *h)
{
  g_autofree char *dir = vxm_simhost_path(h->sim, "/run/vxm");
  GString *out = g_string_new(NULL);

  append_tree(out, dir, "/run/vxm");
  return g_string_free(out, FALSE);
}

/* Runs the raw client as @user; its reply line in @out_reply. Exit: 0 ok, 1 refused. */
static char *last_stderr;

typedef struct {
  const char *user;
  const char *session_procs; /* NULL: no login session */
} ClientAs;

/* child setup: into @user's login session (its cgroup) while still root, then become @user */
static void
become_user_in_session(gpointer data)
{
  const ClientAs *as = data;

  if (as->session_procs != NULL) {
    int fd = open(as->session_procs, O_WRONLY | O_CLOEXEC);

    if (fd < 0 || write(fd, "0\n", 2) != 2)
      _exit(122);
    close(fd);
  }
  vxm_test_become_user((gpointer)as->user);
}

static int
client(Host *h, const char *user, const char *mode, const char *arg, const char *arg2,
       char **out_reply)
{
  g_autofree char *bin = vxm_test_user_binary("tests/vxm-test-vxmd-client");
  const char *argv[] = {bin, h->socket, mode, arg, arg2, NULL};
  char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;
  ClientAs as = {user, session_procs != NULL ? g_hash_table_lookup(session_procs, user) : NULL};

  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, become_user_in_session, &as,
                    out_reply, &err, &status, &error))
    g_error("cannot run %s as %s: %s", bin, user, error->message);
  g_free(last_stderr);
  last_stderr = err;
  g_assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static int
ask(Host *h, const char *user, const char *line, char **out_reply)
{
  int rc = client(h, user, "line", line, NULL, out_reply);

  g_test_message("%s: %s -> %s%s", user, line, *out_reply, last_stderr);
  return rc;
}

/* A hostile request: refused with @why in the reply, nothing changed on the host. */
static void
refused(Host *h, const char *user, const char *mode, const char *arg, const char *arg2,
        const char *why)
{
  g_autofree char *before = vxm_simhost_state(h->sim);
  g_autofree char *run_before = run_vxm_tree(h);
  g_autofree char *run_after = NULL;
  g_autofree char *after = NULL;
  g_autofree char *log = NULL;
  g_autofree char *reply = NULL;

  int rc;

  vxm_simhost_clear_log(h->sim);
  rc = client(h, user, mode, arg, arg2, &reply);
  g_assert_cmpint(rc, ==, 1); /* vxmd's refusal: anyone may connect (0666) */
  if (strstr(reply, why) == NULL)
    g_error("request %s %s as %s: expected a refusal saying '%s', got: %s", mode,
            arg != NULL ? arg : "", user, why, reply);
  g_assert_nonnull(strstr(reply, "\"ok\":false"));
  after = vxm_simhost_state(h->sim);
  log = vxm_simhost_read_log(h->sim);
  g_assert_cmpstr(after, ==, before);
  g_assert_cmpstr(log, ==, "");
  /* no journal (not even one naming the VM for this user) and no other file left behind */
  run_after = run_vxm_tree(h);
  g_assert_cmpstr(run_after, ==, run_before);
  hostile_cases++;
}

/* A request aimed at another user's VM by its name: with per-user VM names it reaches only the
 * caller's own VM of that name (which holds nothing), so whatever the answer, nothing changed. */
static void
unchanged(Host *h, const char *user, const char *line)
{
  g_autofree char *before = vxm_simhost_state(h->sim);
  g_autofree char *run_before = run_vxm_tree(h);
  g_autofree char *run_after = NULL;
  g_autofree char *after = NULL;
  g_autofree char *log = NULL;
  g_autofree char *reply = NULL;

  vxm_simhost_clear_log(h->sim);
  (void)client(h, user, "line", line, NULL, &reply);
  g_test_message("%s: %s -> %s", user, line, reply);
  after = vxm_simhost_state(h->sim);
  log = vxm_simhost_read_log(h->sim);
  g_assert_cmpstr(after, ==, before);
  g_assert_cmpstr(log, ==, "");
  run_after = run_vxm_tree(h);
  g_assert_cmpstr(run_after, ==, run_before);
  hostile_cases++;
}

#define GPU         "0000:01:00.0"
#define KBD_BY_ID   "usb-Logitech_G915_WIRELESS_RGB_MECHANICAL_GAMING_KEYBOARD_1C7A3B92-event-kbd"
#define MOUSE_BY_ID "usb-Logitech_G502_HERO_Gaming_Mouse_5F8A3E21-event-mouse"
#define PREPARE_A   "{\"vxmd\":1,\"request\":\"prepare-gpu\",\"vm\":\"alpha\",\"gpu\":\"" GPU "\"}"

static char *
vfio_node_of_gpu(Host *h)
{
  g_autofree char *link = vxm_simhost_path(h->sim, "/sys/bus/pci/devices/" GPU "/iommu_group");
  g_autofree char *target = g_file_read_link(link, NULL);

  g_assert_nonnull(target);
  return g_path_get_basename(target);
}

static void
test_prepare_grant_release(void)
{
  Host *h;
  g_autofree char *initial = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *group = NULL;
  g_autofree char *grant = NULL;
  g_autofree char *node = NULL;
  g_autofree char *driver = NULL;
  g_autofree char *driver_link = NULL;
  struct stat st;

  if (!vxm_test_require_root())
    return;
  h = host_start("intel-nvidia-turing", NULL);
  initial = vxm_simhost_state(h->sim);
  g_assert_cmpint(ask(h, user_a, "{\"vxmd\":1,\"request\":\"hello\"}", &reply), ==, 0);
  g_assert_nonnull(strstr(reply, user_a));
  g_clear_pointer(&reply, g_free);

  g_assert_cmpint(ask(h, user_a, PREPARE_A, &reply), ==, 0);
  driver_link = vxm_simhost_path(h->sim, "/sys/bus/pci/devices/" GPU "/driver");
  driver = g_file_read_link(driver_link, NULL);
  g_assert_true(g_str_has_suffix(driver, "/vfio-pci"));

  group = vfio_node_of_gpu(h);
  grant = g_strdup_printf("{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"alpha\","
                          "\"nodes\":[\"vfio:%s\"]}",
                          group);
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, user_a, grant, &reply), ==, 0);
  node = g_strdup_printf("%s/dev/vfio/%s", vxm_simhost_root(h->sim), group);
  g_assert_cmpint(stat(node, &st), ==, 0);
  g_assert_cmpuint(st.st_uid, ==, uid_of(user_a));

  /* the journal records who asked */
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, user_b, "{\"vxmd\":1,\"request\":\"journal-status\"}", &reply), ==, 0);
  g_assert_nonnull(strstr(reply, "\"name\":\"alpha\""));

  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(
      ask(h, user_a, "{\"vxmd\":1,\"request\":\"revoke-nodes\",\"vm\":\"alpha\"}", &reply), ==, 0);
  g_assert_cmpint(stat(node, &st), ==, 0);
  g_assert_cmpuint(st.st_uid, ==, 0);
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(
      ask(h, user_a,
          "{\"vxmd\":1,\"request\":\"release-gpu\",\"vm\":\"alpha\",\"gpu\":\"" GPU "\"}", &reply),
      ==, 0);
  {
    g_autofree char *final = vxm_simhost_state(h->sim);
    g_assert_cmpstr(final, ==, initial);
  }
  host_stop(h);
}

/* On a fresh boot without vfio-pci (the lab's), vxmd loads it for the detach and unloads it at
 * the release: the host ends as it began, the module included. */
static void
test_loads_vfio_pci(void)
{
  Host *h;
  g_autofree char *initial = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *prepared = NULL;
  g_autofree char *final = NULL;
  g_autofree char *log = NULL;

  if (!vxm_test_require_root())
    return;
  h = host_start("lab-q35", NULL);
  initial = vxm_simhost_state(h->sim);
  g_assert_nonnull(strstr(initial, "driver vfio-pci new_id=none unloaded\n"));
  g_assert_cmpint(ask(h, user_a, PREPARE_A, &reply), ==, 0);
  g_assert_nonnull(strstr(reply, "loaded the vfio-pci module"));
  prepared = vxm_simhost_state(h->sim);
  g_assert_nonnull(strstr(prepared, "driver vfio-pci new_id=none\n"));
  g_assert_nonnull(strstr(prepared, "pci " GPU " driver=vfio-pci"));
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(
      ask(h, user_a,
          "{\"vxmd\":1,\"request\":\"release-gpu\",\"vm\":\"alpha\",\"gpu\":\"" GPU "\"}", &reply),
      ==, 0);
  g_assert_nonnull(strstr(reply, "unloaded vfio_pci"));
  final = vxm_simhost_state(h->sim);
  g_assert_cmpstr(final, ==, initial);
  log = vxm_simhost_read_log(h->sim);
  g_assert_nonnull(strstr(log, "modprobe /sys/module/vfio_pci -> ok"));
  g_assert_nonnull(strstr(log, "rmmod /sys/module/vfio_pci -> ok"));
  host_stop(h);
}

static void
test_hostile(void)
{
  Host *h;
  g_autofree char *reply = NULL;
  g_autofree char *group = NULL;
  g_autofree char *other_group = NULL;
  g_autofree char *vxmd_pid = NULL;
  g_autofree char *oversized = g_strdup_printf("%d", 70 * 1024);

  if (!vxm_test_require_root())
    return;
  h = host_start("intel-nvidia-turing", NULL);

  /* not in the group, polkit cannot be asked: hello only (it says who they are) */
  g_assert_cmpint(ask(h, user_out, "{\"vxmd\":1,\"request\":\"hello\"}", &reply), ==, 0);
  g_assert_nonnull(strstr(reply, user_out));
  g_clear_pointer(&reply, g_free);
  refused(h, user_out, "line", PREPARE_A, NULL, "and polkit could not be asked");
  refused(h, user_out, "line", PREPARE_A, NULL, "so group vxm-test-");
  refused(h, user_out, "line", "{\"vxmd\":1,\"request\":\"journal-status\"}", NULL,
          "join group vxm-test-");
  refused(h, user_out, "line", "{\"vxmd\":1,\"request\":\"dmi-identity\"}", NULL,
          "and polkit could not be asked");
  refused(h, user_out, "line", "{\"vxmd\":1,\"request\":\"recover\"}", NULL,
          "and polkit could not be asked");
  /* malformed, truncated, oversized */
  refused(h, user_a, "line", "this is not json", NULL, "not JSON");
  refused(h, user_a, "line", "[1,2,3]", NULL, "JSON object");
  refused(h, user_a, "raw-hex", "7b227678", NULL, "truncated");
  refused(h, user_a, "big", oversized, NULL, "at most 65536");
  refused(h, user_a, "raw-hex", "7b2276786d64223a312c002272657175657374220a", NULL, "no NUL");
  /* unknown requests, versions and members */
  refused(h, user_a, "line", "{\"vxmd\":1,\"request\":\"format-disk\"}", NULL, "unknown request");
  refused(h, user_a, "line", "{\"vxmd\":2,\"request\":\"hello\"}", NULL, "version 2");
  refused(h, user_a, "line", "{\"request\":\"hello\"}", NULL, "\\\"vxmd\\\" is missing");
  refused(h, user_a, "line", "{\"vxmd\":1,\"request\":\"hello\",\"path\":\"/etc/shadow\"}", NULL,
          "unknown member");
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"prepare-gpu\",\"vm\":7,\"gpu\":\"" GPU "\"}", NULL,
          "must be a string");
  /* ambiguous JSON json-glib would run: a second "request" (the last would win), a second
   * value after the object, comments, an escaped member name, numbers of the wrong kind */
  refused(h, user_a, "line", "{\"vxmd\":1,\"request\":\"hello\",\"request\":\"recover\"}", NULL,
          "member \\\"request\\\" appears twice");
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"hello\"}{\"vxmd\":1,\"request\":\"recover\"}", NULL,
          "more after the object (one JSON value per message) at byte 28");
  refused(h, user_a, "line", "{\"vxmd\":1,/* hi */\"request\":\"recover\"}", NULL,
          "a comment (JSON has none) at byte 10");
  refused(h, user_a, "line", "{\"vxmd\":1,\"request\":\"recover\"}// hi", NULL,
          "a comment (JSON has none) at byte 30");
  refused(h, user_a, "line", "{\"vxmd\":1,\"re\\u0071uest\":\"recover\"}", NULL,
          "an escape in a member name");
  refused(h, user_a, "line", "{\"vxmd\":1,\"request\":\"recover\",}", NULL, "not JSON (strictly)");
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"reserve-hugepages\",\"vm\":\"gamma\",\"page_size\":"
          "2097152,\"count\":\"4\"}",
          NULL, "\\\"count\\\" must be an integer");
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"reserve-hugepages\",\"vm\":\"gamma\",\"page_size\":"
          "2097152,\"count\":4.0}",
          NULL, "\\\"count\\\" must be an integer");
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"reserve-hugepages\",\"vm\":\"gamma\",\"page_size\":"
          "2097152,\"count\":4,\"compact\":\"no\"}",
          NULL, "\\\"compact\\\" must be true or false");
  /* names with slashes, dots and NULs */
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"prepare-gpu\",\"vm\":\"../etc\",\"gpu\":\"" GPU "\"}", NULL,
          "not a VM name");
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"prepare-gpu\",\"vm\":\"a.b\",\"gpu\":\"" GPU "\"}", NULL,
          "not a VM name");
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"prepare-gpu\",\"vm\":\"a\\u0000b\",\"gpu\":\"" GPU "\"}", NULL,
          "NUL in a string");
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"prepare-gpu\",\"vm\":\"alpha\",\"gpu\":\"/sys/bus/pci/"
          "devices/0000:01:00.0\"}",
          NULL, "gpu");
  /* node names that are paths */
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"alpha\",\"nodes\":[\"/dev/sda\"]}",
          NULL, "never a path");
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"alpha\",\"nodes\":[\"../../sda\"]}",
          NULL, "never a path");
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"alpha\",\"nodes\":[\"vfio:../1\"]}",
          NULL, "never a path");
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"alpha\",\"nodes\":[]}", NULL,
          "1 to 32");
  /* the read-only gpu-status: addresses only, members only */
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"gpu-status\",\"gpu\":\"../../sys/bus/pci/devices\"}", NULL,
          "gpu");
  refused(h, user_out, "line", "{\"vxmd\":1,\"request\":\"gpu-status\",\"gpu\":\"" GPU "\"}", NULL,
          "and polkit could not be asked");
  refused(h, user_a, "line", "{\"vxmd\":1,\"request\":\"gpu-status\",\"gpu\":\"0000:00:17.0\"}",
          NULL, "is not a GPU");
  /* a device outside the policy: the boot VGA, and the SATA controller */
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"prepare-gpu\",\"vm\":\"alpha\",\"gpu\":\"0000:00:02.0\"}",
          NULL, "boot");
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"prepare-gpu\",\"vm\":\"alpha\",\"gpu\":\"0000:00:17.0\"}",
          NULL, "0000:00:17.0 (SATA controller, 0106) is not a GPU");
  /* a vfio node with no GPU prepared for the VM */
  group = vfio_node_of_gpu(h);
  {
    g_autofree char *grant = g_strdup_printf(
        "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"alpha\",\"nodes\":[\"vfio:%s\"]}", group);
    refused(h, user_a, "line", grant, NULL, "not the group of a GPU prepared");
  }
  /* memlock for someone else's process (vxmd's own, root's), a reaped one, a non-pidfd */
  vxmd_pid = g_strdup_printf("%d", (int)h->vxmd);
  refused(h, user_a, "memlock-pid", vxmd_pid, "1073741824", "is not yours");
  refused(h, user_a, "memlock-dead", "1073741824", NULL, "has exited");
  refused(h, user_a, "memlock-nofd", "1073741824", NULL, "not a pidfd");
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"raise-memlock\",\"vm\":\"alpha\",\"bytes\":1024}", NULL,
          "exactly one pidfd");
  /* more than the host has: no guest can pin that much */
  refused(h, user_a, "memlock-self", "9223372036854775807", NULL,
          "is more than this host's memory");
  /* by-path names that would leave their folder or hide a NUL */
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"alpha\",\"nodes\":[\"by-path:..\"]}",
          NULL, "never a path");
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"alpha\",\"nodes\":[\"by-path:../../"
          "sda-event-kbd\"]}",
          NULL, "never a path");
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"alpha\",\"nodes\":[\"by-path:pci-"
          "0000:00:14.0-usb-0:3:1.0\\u0000-event-kbd\"]}",
          NULL, "NUL in a string");
  /* refused after the VM was claimed (no such monitor; no such hugepage size): the first
   * request for a name leaves no journal that would keep the name for this user */
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"ddc-switch\",\"vm\":\"gamma\",\"gpu\":\"" GPU
          "\",\"monitor\":\"XYZ:1:2\",\"input\":15,\"host_input\":17,\"to_guest\":true}",
          NULL, "XYZ:1:2");
  /* to the guest with no input to switch back to: its undo could never run */
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"ddc-switch\",\"vm\":\"gamma\",\"gpu\":\"" GPU
          "\",\"monitor\":\"DEL:41234:12345\",\"input\":15,\"to_guest\":true}",
          NULL, "has no host_input");
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"reserve-hugepages\",\"vm\":\"gamma\",\"page_size\":"
          "12345,\"count\":4}",
          NULL, "12345");

  /* another user's VM: a prepares alpha; b's "alpha" is b's own, which holds nothing */
  g_assert_cmpint(ask(h, user_a, PREPARE_A, &reply), ==, 0);
  unchanged(h, user_b,
            "{\"vxmd\":1,\"request\":\"release-gpu\",\"vm\":\"alpha\",\"gpu\":\"" GPU "\"}");
  unchanged(h, user_b, "{\"vxmd\":1,\"request\":\"revoke-nodes\",\"vm\":\"alpha\"}");
  refused(h, user_out, "line",
          "{\"vxmd\":1,\"request\":\"release-gpu\",\"vm\":\"alpha\",\"gpu\":\"" GPU "\"}", NULL,
          "and polkit could not be asked");
  unchanged(h, user_b, "{\"vxmd\":1,\"request\":\"restore-all\",\"vm\":\"alpha\"}");
  unchanged(h, user_b, "{\"vxmd\":1,\"request\":\"recover\",\"vm\":\"alpha\"}");
  unchanged(h, user_b, "{\"vxmd\":1,\"request\":\"release-hugepages\",\"vm\":\"alpha\"}");
  {
    g_autofree char *grant = g_strdup_printf(
        "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"alpha\",\"nodes\":[\"vfio:%s\"]}", group);
    refused(h, user_b, "line", grant, NULL, "is not the group of a GPU prepared for VM alpha");
  }
  /* the same GPU for another VM while alpha holds it */
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"prepare-gpu\",\"vm\":\"beta\",\"gpu\":\"" GPU "\"}", NULL,
          "in use by alpha");
  /* the host's last GPU (the other is alpha's now) */
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"prepare-gpu\",\"vm\":\"beta\",\"gpu\":\"0000:00:02.0\"}", NULL,
          "it is the last GPU the host has: every other GPU (0000:01:00.0 on vfio-pci)");
  /* input nodes: a's keyboard is a's, by any of its names; a node root does not own */
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(
      ask(h, user_a,
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"alpha\",\"nodes\":[\"" KBD_BY_ID "\"]}",
          &reply),
      ==, 0);
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"beta\",\"nodes\":[\"" KBD_BY_ID "\"]}",
          NULL, "is given to VM alpha of uid");
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"beta\",\"nodes\":[\"event3\"]}", NULL,
          "/dev/input/event3 is given to VM alpha");
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"beta\",\"nodes\":[\"by-path:pci-0000:"
          "00:14.0-usb-0:3:1.0-event-kbd\"]}",
          NULL, "is given to VM alpha");
  {
    g_autofree char *mouse = vxm_simhost_path(h->sim, "/dev/input/event7");

    g_assert_cmpint(chown(mouse, uid_of(user_out), (gid_t)-1), ==, 0);
    refused(h, user_a, "line",
            "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"alpha\",\"nodes\":[\"" MOUSE_BY_ID
            "\"]}",
            NULL, "/dev/input/event7) is owned by uid");
    g_assert_cmpint(chown(mouse, 0, (gid_t)-1), ==, 0);
  }
  /* USB nodes ([usb] devices): a's controller is a's, a hub never, a path never */
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(
      ask(h, user_a,
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"alpha\",\"nodes\":[\"usb:001/006\"]}",
          &reply),
      ==, 0);
  {
    g_autofree char *pad = vxm_simhost_path(h->sim, "/dev/bus/usb/001/006");
    struct stat st;

    g_assert_cmpint(stat(pad, &st), ==, 0);
    g_assert_cmpuint(st.st_uid, ==, uid_of(user_a));
  }
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"beta\",\"nodes\":[\"usb:001/006\"]}",
          NULL, "/dev/bus/usb/001/006 is given to VM alpha");
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"beta\",\"nodes\":[\"usb:001/001\"]}",
          NULL, "/dev/bus/usb/001/001 is a USB hub");
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"beta\",\"nodes\":[\"usb:001/099\"]}",
          NULL, "/dev/bus/usb/001/099");
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"beta\",\"nodes\":[\"usb:../../"
          "sda\"]}",
          NULL, "never a path");
  /* root may recover anyone's VM */
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, "root", "{\"vxmd\":1,\"request\":\"recover\",\"vm\":\"alpha\"}", &reply),
                  ==, 0);
  g_test_message("%u hostile requests refused with nothing changed on the host", hostile_cases);
  host_stop(h);
}

static GSubprocess *
client_async(Host *h, const char *user, const char *mode, const char *arg)
{
  g_autofree char *bin = vxm_test_user_binary("tests/vxm-test-vxmd-client");
  g_autoptr(GSubprocessLauncher) launcher =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GError) error = NULL;
  GSubprocess *p;

  g_subprocess_launcher_set_child_setup(launcher, vxm_test_become_user, (gpointer)user, NULL);
  p = g_subprocess_launcher_spawn(launcher, &error, bin, h->socket, mode, arg, NULL);
  if (p == NULL)
    g_error("cannot run %s as %s: %s", bin, user, error->message);
  return p;
}

static char *
client_finish(GSubprocess *p, int *out_status)
{
  g_autoptr(GError) error = NULL;
  char *out = NULL;

  g_assert_true(g_subprocess_communicate_utf8(p, NULL, NULL, &out, NULL, &error));
  g_assert_no_error(error);
  *out_status = g_subprocess_get_exit_status(p);
  return out;
}

/* Like client_finish, but a client still running after @ms is left running (status -1, ""
 * returned): a connection vxmd accepted, which the caller keeps. */
static char *
client_wait_or_keep(GSubprocess *p, guint ms, int *out_status)
{
  for (guint waited = 0; waited < ms && g_subprocess_get_identifier(p) != NULL; waited += 10)
    g_usleep(10 * 1000);
  if (g_subprocess_get_identifier(p) != NULL) {
    *out_status = -1;
    return g_strdup("");
  }
  return client_finish(p, out_status);
}

/* Two users ask for one GPU at once: one gets it, the other is told who has it. A client that
 * connects and says nothing does not hold anyone up and is dropped. */
static void
test_race_and_silence(void)
{
  Host *h;
  g_autofree char *initial = NULL;
  g_autoptr(GSubprocess) silent = NULL;
  g_autoptr(GSubprocess) pa = NULL;
  g_autoptr(GSubprocess) pb = NULL;
  g_autofree char *ra = NULL, *rb = NULL, *rs = NULL, *reply = NULL;
  int sa, sb, ss;

  if (!vxm_test_require_root())
    return;
  h = host_start("intel-nvidia-turing", NULL);
  initial = vxm_simhost_state(h->sim);
  silent = client_async(h, user_a, "hold", NULL);
  pa = client_async(h, user_a, "line",
                    "{\"vxmd\":1,\"request\":\"prepare-gpu\",\"vm\":\"r1\",\"gpu\":\"" GPU "\"}");
  pb = client_async(h, user_b, "line",
                    "{\"vxmd\":1,\"request\":\"prepare-gpu\",\"vm\":\"r2\",\"gpu\":\"" GPU "\"}");
  ra = client_finish(pa, &sa);
  rb = client_finish(pb, &sb);
  g_test_message("r1: %s r2: %s", ra, rb);
  /* exactly one wins; the loser's refusal names the other VM */
  g_assert_cmpint(sa + sb, ==, 1);
  g_assert_nonnull(strstr(sa == 0 ? rb : ra, sa == 0 ? "r1" : "r2"));
  hostile_cases++;
  /* the silent client is still connected, others were served; it is dropped at its limit */
  rs = client_finish(silent, &ss);
  g_assert_cmpstr(rs, ==, "dropped\n");
  hostile_cases++;
  g_assert_cmpint(ask(h, sa == 0 ? user_a : user_b,
                      sa == 0 ? "{\"vxmd\":1,\"request\":\"release-gpu\",\"vm\":\"r1\",\"gpu\":"
                                "\"" GPU "\"}"
                              : "{\"vxmd\":1,\"request\":\"release-gpu\",\"vm\":\"r2\",\"gpu\":"
                                "\"" GPU "\"}",
                      &reply),
                  ==, 0);
  {
    g_autofree char *final = vxm_simhost_state(h->sim);
    g_assert_cmpstr(final, ==, initial);
  }
  host_stop(h);
}

/* A member who opens connections and sends nothing gets at most 16 at once; the next is refused
 * with the reason, and another user is served all the while. */
static void
test_connection_flood(void)
{
  Host *h;
  g_autoptr(GPtrArray) holds = g_ptr_array_new_with_free_func(g_object_unref);
  g_autofree char *refusal = NULL;
  g_autofree char *reply = NULL;
  int status = 0;

  if (!vxm_test_require_root())
    return;
  idle_timeout_ms = "30000"; /* the held connections stay for the whole test */
  h = host_start("intel-nvidia-turing", NULL);
  idle_timeout_ms = "1500";
  for (guint i = 0; i < 16; i++)
    g_ptr_array_add(holds, client_async(h, user_a, "hold", NULL));
  /* the holds connect in their own time: ask until the 17th connection is the one refused.
   * A refusal comes at once, but the client must start, become the user and connect first:
   * on a loaded machine (the sanitizer run) that took more than 100 ms, and a try that short
   * never saw it. A try still connected after 2 s got a slot a hold had not taken yet, and one
   * of the holds may have been refused in its place: the try is kept as a hold, so the slots
   * fill up all the same (killing it freed the slot for the next try, for ever). */
  for (guint tries = 0; tries < 30; tries++) {
    GSubprocess *one_more = client_async(h, user_a, "hold", NULL);

    g_free(refusal);
    refusal = client_wait_or_keep(one_more, 2000, &status);
    if (status == -1)
      g_ptr_array_add(holds, one_more);
    else
      g_object_unref(one_more);
    if (status == 1)
      break;
  }
  g_test_message("17th connection: %s", refusal);
  g_assert_cmpint(status, ==, 1);
  g_assert_nonnull(strstr(refusal, "at most 16 at once"));
  hostile_cases++;
  g_assert_cmpint(ask(h, user_b, "{\"vxmd\":1,\"request\":\"hello\"}", &reply), ==, 0);
  for (guint i = 0; i < holds->len; i++) {
    g_subprocess_send_signal(holds->pdata[i], SIGKILL);
    g_subprocess_wait(holds->pdata[i], NULL, NULL);
  }
  /* the slots come back when the connections close */
  g_clear_pointer(&reply, g_free);
  for (guint tries = 0; tries < 100; tries++) {
    g_clear_pointer(&reply, g_free);
    if (ask(h, user_a, "{\"vxmd\":1,\"request\":\"hello\"}", &reply) == 0)
      break;
    g_usleep(50 * 1000);
  }
  g_assert_nonnull(strstr(reply, "\"ok\":true"));
  host_stop(h);
}

#define POOL_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"

static guint64
pool_2m(Host *h)
{
  g_autofree char *path = vxm_simhost_path(h->sim, POOL_2M);
  g_autofree char *text = NULL;

  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  return g_ascii_strtoull(text, NULL, 10);
}

/* echo @count > nr_hugepages, as an admin reserving pages at boot */
static void
set_pool_2m(Host *h, guint count)
{
  g_autofree char *path = vxm_simhost_path(h->sim, POOL_2M);
  g_autofree char *text = g_strdup_printf("%u\n", count);
  FILE *f = fopen(path, "w");

  g_assert_nonnull(f);
  g_assert_cmpint(fputs(text, f), >=, 0);
  g_assert_cmpint(fclose(f), ==, 0);
  g_assert_cmpuint(pool_2m(h), ==, count);
}

static void
reserve_2m(Host *h, const char *user, const char *vm, guint count)
{
  g_autofree char *line = g_strdup_printf(
      "{\"vxmd\":1,\"request\":\"reserve-hugepages\",\"vm\":\"%s\",\"page_size\":2097152,"
      "\"count\":%u,\"drop_caches\":false,\"compact\":false}",
      vm, count);
  g_autofree char *reply = NULL;

  g_assert_cmpint(ask(h, user, line, &reply), ==, 0);
}

static void
release_2m(Host *h, const char *user, const char *vm)
{
  g_autofree char *line =
      g_strdup_printf("{\"vxmd\":1,\"request\":\"release-hugepages\",\"vm\":\"%s\"}", vm);
  g_autofree char *reply = NULL;

  g_assert_cmpint(ask(h, user, line, &reply), ==, 0);
}

static void
restore_all(Host *h, const char *user, const char *vm)
{
  g_autofree char *line =
      g_strdup_printf("{\"vxmd\":1,\"request\":\"restore-all\",\"vm\":\"%s\"}", vm);
  g_autofree char *reply = NULL;

  g_assert_cmpint(ask(h, user, line, &reply), ==, 0);
}

/* Hugepages: no more than the host can hold, per request and per user, refused before the host
 * drops a cache; and each VM gives back exactly what it added, whatever the others did. */
static void
test_hugepages(void)
{
  Host *h;
  g_autofree char *initial = NULL;

  if (!vxm_test_require_root())
    return;
  h = host_start("intel-nvidia-turing", NULL);
  initial = vxm_simhost_state(h->sim);
  /* 2^24 pages of 1 GiB, a whole host's worth plus one, none at all: refused, nothing dropped */
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"reserve-hugepages\",\"vm\":\"gamma\",\"page_size\":"
          "1073741824,\"count\":16777216}",
          NULL, "are more than this host's memory (31.2 GiB)");
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"reserve-hugepages\",\"vm\":\"gamma\",\"page_size\":"
          "2097152,\"count\":16001}",
          NULL, "16001 pages (31.3 GiB) are more than this host's memory");
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"reserve-hugepages\",\"vm\":\"gamma\",\"page_size\":"
          "2097152,\"count\":0}",
          NULL, "reserves nothing");
  /* per user: with 12000 MiB held, 10001 pages more (20002 MiB) pass alone, not together (MemTotal
   * here is 32000 MiB) */
  g_assert_cmpuint(pool_2m(h), ==, 0);
  reserve_2m(h, user_a, "alpha", 6000);
  g_assert_cmpuint(pool_2m(h), ==, 6000);
  refused(h, user_a, "line",
          "{\"vxmd\":1,\"request\":\"reserve-hugepages\",\"vm\":\"beta\",\"page_size\":"
          "2097152,\"count\":10001}",
          NULL, "with the 11.7 GiB your VMs hold already");
  restore_all(h, user_a, "alpha");
  g_assert_cmpuint(pool_2m(h), ==, 0);

  /* A 10, B 15, A releases, B releases: back to the start; and in the other order */
  reserve_2m(h, user_a, "alpha", 10);
  reserve_2m(h, user_b, "beta", 15);
  g_assert_cmpuint(pool_2m(h), ==, 25);
  release_2m(h, user_a, "alpha");
  g_assert_cmpuint(pool_2m(h), ==, 15);
  release_2m(h, user_b, "beta");
  g_assert_cmpuint(pool_2m(h), ==, 0);
  restore_all(h, user_a, "alpha");
  restore_all(h, user_b, "beta");
  reserve_2m(h, user_b, "beta", 15);
  reserve_2m(h, user_a, "alpha", 10);
  g_assert_cmpuint(pool_2m(h), ==, 25);
  release_2m(h, user_b, "beta");
  g_assert_cmpuint(pool_2m(h), ==, 10);
  /* a release asked twice gives back nothing more */
  release_2m(h, user_b, "beta");
  g_assert_cmpuint(pool_2m(h), ==, 10);
  restore_all(h, user_a, "alpha");
  g_assert_cmpuint(pool_2m(h), ==, 0);
  restore_all(h, user_b, "beta");

  /* pages reserved at boot (20): A takes 4 of them, journaled as A's; B's 18 are not served
   * from A's 4, so the pool grows by 2; each release leaves the boot pages alone */
  set_pool_2m(h, 20);
  reserve_2m(h, user_a, "alpha", 4);
  g_assert_cmpuint(pool_2m(h), ==, 20);
  reserve_2m(h, user_b, "beta", 18);
  g_assert_cmpuint(pool_2m(h), ==, 22);
  release_2m(h, user_a, "alpha");
  g_assert_cmpuint(pool_2m(h), ==, 22);
  restore_all(h, user_b, "beta");
  g_assert_cmpuint(pool_2m(h), ==, 20);
  restore_all(h, user_a, "alpha");
  g_assert_cmpuint(pool_2m(h), ==, 20);
  set_pool_2m(h, 0);
  {
    g_autofree char *final = vxm_simhost_state(h->sim);
    g_assert_cmpstr(final, ==, initial);
  }
  host_stop(h);
}

static guint
journal_count(Host *h)
{
  g_autofree char *dir = vxm_simhost_path(h->sim, "/run/vxm/journal");
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  guint n = 0;

  while (d != NULL && g_dir_read_name(d) != NULL)
    n++;
  return n;
}

/* A user holds at most 8 VMs' journals (each is read on every grant and status): the ninth VM
 * is refused with nothing changed, while the ones held can still grow and another user is
 * served. */
static void
test_journals(void)
{
  Host *h;
  g_autofree char *initial = NULL;

  if (!vxm_test_require_root())
    return;
  h = host_start("intel-nvidia-turing", NULL);
  initial = vxm_simhost_state(h->sim);
  /* eight VMs with a page each, the ninth refused, nothing changed; another user is served */
  for (guint i = 0; i < 8; i++) {
    g_autofree char *vm = g_strdup_printf("vm%u", i);

    reserve_2m(h, user_b, vm, 1);
  }
  g_assert_cmpuint(journal_count(h), ==, 8);
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"reserve-hugepages\",\"vm\":\"vm8\",\"page_size\":2097152,"
          "\"count\":1}",
          NULL, "already holds host resources for 8 VMs (at most 8 at once)");
  reserve_2m(h, user_a, "alpha", 1);
  /* the ones they hold are still theirs to add to */
  reserve_2m(h, user_b, "vm0", 1);
  restore_all(h, user_a, "alpha");
  for (guint i = 0; i < 8; i++) {
    g_autofree char *vm = g_strdup_printf("vm%u", i);

    restore_all(h, user_b, vm);
  }
  g_assert_cmpuint(journal_count(h), ==, 0);
  {
    g_autofree char *final = vxm_simhost_state(h->sim);
    g_assert_cmpstr(final, ==, initial);
  }
  host_stop(h);
}

/* A's GPU held on vfio-pci (release-gpu with keep_bound): B's requests for A's VM are refused
 * before the journal is looked up, so its owner and "held" stay as they were. */
static void
test_held_journal(void)
{
  Host *h;
  g_autofree char *initial = NULL;
  g_autofree char *reply = NULL;
  const char *b_lines[] = {
      "{\"vxmd\":1,\"request\":\"revoke-nodes\",\"vm\":\"alpha\"}",
      "{\"vxmd\":1,\"request\":\"recover\",\"vm\":\"alpha\"}",
      "{\"vxmd\":1,\"request\":\"restore-all\",\"vm\":\"alpha\"}",
      "{\"vxmd\":1,\"request\":\"release-hugepages\",\"vm\":\"alpha\"}",
      "{\"vxmd\":1,\"request\":\"release-gpu\",\"vm\":\"alpha\",\"gpu\":\"" GPU "\"}",
  };

  if (!vxm_test_require_root())
    return;
  h = host_start("intel-nvidia-turing", NULL);
  initial = vxm_simhost_state(h->sim);
  g_assert_cmpint(ask(h, user_a, PREPARE_A, &reply), ==, 0);
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, user_a,
                      "{\"vxmd\":1,\"request\":\"release-gpu\",\"vm\":\"alpha\",\"gpu\":\"" GPU
                      "\",\"keep_bound\":true}",
                      &reply),
                  ==, 0);
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, user_a, "{\"vxmd\":1,\"request\":\"journal-status\"}", &reply), ==, 0);
  g_assert_nonnull(strstr(reply, "\"status\":\"held\""));
  for (guint i = 0; i < G_N_ELEMENTS(b_lines); i++)
    unchanged(h, user_b, b_lines[i]);
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, user_a, "{\"vxmd\":1,\"request\":\"journal-status\"}", &reply), ==, 0);
  g_assert_nonnull(strstr(reply, "\"status\":\"held\""));
  /* A's next start takes the held card back; the GPU goes home at A's release */
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, user_a, PREPARE_A, &reply), ==, 0);
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(
      ask(h, user_a,
          "{\"vxmd\":1,\"request\":\"release-gpu\",\"vm\":\"alpha\",\"gpu\":\"" GPU "\"}", &reply),
      ==, 0);
  {
    g_autofree char *final = vxm_simhost_state(h->sim);
    g_assert_cmpstr(final, ==, initial);
  }
  host_stop(h);
}

static char *
ddc_line(const char *vm, guint input, gboolean to_guest)
{
  return g_strdup_printf("{\"vxmd\":1,\"request\":\"ddc-switch\",\"vm\":\"%s\",\"gpu\":\"" GPU
                         "\",\"monitor\":\"DEL:41234:12345\",\"input\":%u,\"host_input\":17,"
                         "\"to_guest\":%s}",
                         vm, input, to_guest ? "true" : "false");
}

/* The shared monitor: while A's VM holds the GPU and shows on the monitor, B cannot switch it
 * (for a VM of B's, for A's VM, by the other GPU's name, back to the host); A can, and root. */
static void
test_monitor(void)
{
  Host *h;
  g_autofree char *initial = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *to_a = ddc_line("alpha", 15, TRUE);
  g_autofree char *back_a = ddc_line("alpha", 17, FALSE);
  g_autofree char *to_gamma = ddc_line("gamma", 16, TRUE);
  g_autofree char *back_gamma = ddc_line("gamma", 17, FALSE);
  g_autofree char *b_to_a = ddc_line("alpha", 16, TRUE);

  if (!vxm_test_require_root())
    return;
  h = host_start("intel-nvidia-turing", NULL);
  initial = vxm_simhost_state(h->sim);
  g_assert_cmpint(ask(h, user_a, PREPARE_A, &reply), ==, 0);
  /* the GPU is A's: B may not switch the monitor for it */
  refused(h, user_b, "line", to_gamma, NULL, "GPU " GPU " is held by VM alpha of uid ");
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, user_a, to_a, &reply), ==, 0);
  g_assert_nonnull(strstr(reply, "switched to dp1"));
  refused(h, user_b, "line", to_gamma, NULL, "is held by VM alpha of uid");
  refused(h, user_b, "line", back_gamma, NULL, "is held by VM alpha of uid");
  refused(h, user_b, "line", b_to_a, NULL, "is held by VM alpha of uid");
  /* the same monitor by the host GPU's name: it shows A's guest */
  refused(h, user_b, "line",
          "{\"vxmd\":1,\"request\":\"ddc-switch\",\"vm\":\"gamma\",\"gpu\":\"0000:00:02.0\","
          "\"monitor\":\"DEL:41234:12345\",\"input\":17,\"to_guest\":false}",
          NULL, "monitor DEL:41234:12345 shows VM alpha of uid");
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, user_a, back_a, &reply), ==, 0);
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(
      ask(h, user_a,
          "{\"vxmd\":1,\"request\":\"release-gpu\",\"vm\":\"alpha\",\"gpu\":\"" GPU "\"}", &reply),
      ==, 0);
  /* nobody's guest on it now: B may switch it by hand (vxm display), and back */
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, user_b, back_gamma, &reply), ==, 0);
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, "root", back_gamma, &reply), ==, 0);
  {
    g_autofree char *final = vxm_simhost_state(h->sim);
    g_assert_cmpstr(final, ==, initial);
  }
  host_stop(h);
}

/* vxmd restarted (killed) under a running VM: the new one serves the teardown of the VM's vxm,
 * which still runs (same process, same uid), and nobody else's. */
static void
test_vxmd_restart(void)
{
  Host *h;
  g_autofree char *initial = NULL;
  g_autofree char *bin = vxm_test_build_path("tests/vxm-test-vxmd-client");
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) vxm = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *reply = NULL;

  if (!vxm_test_require_root())
    return;
  h = host_start("intel-nvidia-turing", NULL);
  initial = vxm_simhost_state(h->sim);
  launcher =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup(launcher, vxm_test_become_user, (gpointer)user_a, NULL);
  vxm = g_subprocess_launcher_spawn(
      launcher, &error, bin, h->socket, "two-lines", PREPARE_A,
      "{\"vxmd\":1,\"request\":\"release-gpu\",\"vm\":\"alpha\",\"gpu\":\"" GPU "\"}", NULL);
  g_assert_no_error(error);
  out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(vxm));
  first = g_data_input_stream_read_line(out, NULL, NULL, &error);
  g_assert_no_error(error);
  g_test_message("prepare: %s", first);
  g_assert_nonnull(strstr(first, "\"ok\":true"));

  host_kill_vxmd(h, SIGKILL);
  {
    /* the dead vxmd's socket is still there; ready is when the new one makes its own */
    g_autofree char *stale = vxm_simhost_path(h->sim, "/run/vxm/vxmd.sock");

    g_assert_cmpint(unlink(stale), ==, 0);
  }
  host_spawn_vxmd(h, -1);
  /* the orphan recovery at start leaves it (its vxm runs); B may not take it over */
  unchanged(h, user_b,
            "{\"vxmd\":1,\"request\":\"release-gpu\",\"vm\":\"alpha\",\"gpu\":\"" GPU "\"}");
  unchanged(h, user_b, "{\"vxmd\":1,\"request\":\"restore-all\",\"vm\":\"alpha\"}");
  /* A's recover is refused: its vxm still runs and will tear down */
  refused(h, user_a, "line", "{\"vxmd\":1,\"request\":\"recover\",\"vm\":\"alpha\"}", NULL,
          "still runs");
  /* the live vxm tears down through the new vxmd */
  g_assert_true(
      g_output_stream_write_all(g_subprocess_get_stdin_pipe(vxm), "\n", 1, NULL, NULL, &error));
  g_assert_no_error(error);
  second = g_data_input_stream_read_line(out, NULL, NULL, &error);
  g_assert_no_error(error);
  g_test_message("release after the restart: %s", second);
  g_assert_nonnull(strstr(second, "\"ok\":true"));
  g_assert_true(g_subprocess_wait_check(vxm, NULL, &error));
  g_assert_no_error(error);
  g_assert_cmpint(ask(h, user_a, "{\"vxmd\":1,\"request\":\"journal-status\"}", &reply), ==, 0);
  {
    g_autofree char *final = vxm_simhost_state(h->sim);
    g_assert_cmpstr(final, ==, initial);
  }
  host_stop(h);
}

static char *
journal_text(Host *h, const char *user, const char *vm)
{
  g_autofree char *name = g_strdup_printf("/run/vxm/journal/%s.u%u.json", vm, (guint)uid_of(user));
  g_autofree char *path = vxm_simhost_path(h->sim, name);
  char *text = NULL;

  return g_file_get_contents(path, &text, NULL, NULL) ? text : NULL;
}

/* VM names are each user's own: A's "alpha" holds the GPU; B's "alpha" is another VM, served,
 * and nothing B asks for it reaches A's (its journal byte for byte as it was). */
static void
test_namespaces(void)
{
  Host *h;
  g_autofree char *initial = NULL;
  g_autofree char *a_journal = NULL;
  g_autofree char *reply = NULL;

  if (!vxm_test_require_root())
    return;
  h = host_start("intel-nvidia-turing", NULL);
  initial = vxm_simhost_state(h->sim);
  g_assert_cmpint(ask(h, user_a, PREPARE_A, &reply), ==, 0);
  reserve_2m(h, user_a, "alpha", 10);
  a_journal = journal_text(h, user_a, "alpha");
  g_assert_nonnull(a_journal);
  /* B's alpha: its own pages, its own journal */
  reserve_2m(h, user_b, "alpha", 15);
  g_assert_cmpuint(pool_2m(h), ==, 25);
  {
    g_autofree char *b_journal = journal_text(h, user_b, "alpha");
    g_autofree char *a_now = journal_text(h, user_a, "alpha");

    g_assert_nonnull(b_journal);
    g_assert_cmpstr(a_now, ==, a_journal);
  }
  /* each sees their own alpha; the list names both, with their uids */
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, user_b, "{\"vxmd\":1,\"request\":\"journal-status\"}", &reply), ==, 0);
  g_assert_nonnull(strstr(reply, "\"name\":\"alpha\",\"journal\":\"alpha.u"));
  release_2m(h, user_b, "alpha");
  restore_all(h, user_b, "alpha");
  g_assert_cmpuint(pool_2m(h), ==, 10);
  {
    g_autofree char *a_now = journal_text(h, user_a, "alpha");

    g_assert_cmpstr(a_now, ==, a_journal);
  }
  restore_all(h, user_a, "alpha");
  g_assert_cmpuint(pool_2m(h), ==, 0);
  {
    g_autofree char *final = vxm_simhost_state(h->sim);
    g_assert_cmpstr(final, ==, initial);
  }
  host_stop(h);
}

/* The policy on other machines: a GPU sharing its group with a NIC and storage; the only GPU;
 * an admin allowlist that leaves the GPU out. */
static void
test_policy_machines(void)
{
  struct {
    const char *machine, *conf, *gpu, *why;
  } cases[] = {
      {"dgpu-shared-group", NULL, "0000:21:00.0",
       "0000:03:00.1 (SATA controller, 0106) and 0000:1e:00.0 (Ethernet controller, 0200), which "
       "are not this card's"},
      {"single-gpu", NULL, "0000:01:00.0", "it is this machine's only GPU"},
      /* refused by the binding engine after the VM was claimed: no journal is left */
      {"intel-nvidia-turing-held", NULL, GPU, "nvidia-persistenced"},
      {"intel-nvidia-turing", "[policy]\nallowed_gpus=0000:02:00.0\n", GPU, "allowed_gpus"},
  };

  if (!vxm_test_require_root())
    return;
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    Host *h = host_start(cases[i].machine, cases[i].conf);
    g_autofree char *line = g_strdup_printf(
        "{\"vxmd\":1,\"request\":\"prepare-gpu\",\"vm\":\"alpha\",\"gpu\":\"%s\"}", cases[i].gpu);

    refused(h, user_a, "line", line, NULL, cases[i].why);
    host_stop(h);
  }
  {
    /* [pci] extra sent straight to vxmd is judged there as in vxm start: the host's root disk
     * (LUKS on the NVMe), its only keyboard's controller, an absent device; nothing changes */
    static const struct {
      const char *extra, *why;
    } extra[] = {
        {"0000:02:00.0", "0000:02:00.0: it holds the host's root disk"},
        {"0000:00:14.0", "0000:00:14.0: it is the controller of the host's only keyboard"},
        {"0000:04:00.0\",\"0000:0a:00.0", "0000:0a:00.0: there is no such PCI device"},
    };
    Host *h = host_start("intel-nvidia-turing-disks", NULL);

    for (guint i = 0; i < G_N_ELEMENTS(extra); i++) {
      g_autofree char *line = g_strdup_printf("{\"vxmd\":1,\"request\":\"prepare-gpu\",\"vm\":"
                                              "\"alpha\",\"gpu\":\"" GPU "\",\"extra\":[\"%s\"]}",
                                              extra[i].extra);

      refused(h, user_a, "line", line, NULL, extra[i].why);
    }
    host_stop(h);
  }
  g_test_message("%u hostile requests refused so far", hostile_cases);
}

/* Socket activation: vxmd serves the listening socket it is given as fd 3 (LISTEN_PID its own
 * pid, LISTEN_FDS=1) and makes none of its own. */
static void
test_socket_activation(void)
{
  g_autofree char *tmp = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *own = NULL;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  Host *h;
  int fd;

  if (!vxm_test_require_root())
    return;
  h = g_new0(Host, 1);
  h->sim = vxm_simhost_start("intel-nvidia-turing", NULL);
  g_assert_nonnull(h->sim);
  tmp = vxm_test_mkdtemp();
  g_assert_cmpint(chmod(tmp, 0755), ==, 0);
  h->socket = g_build_filename(tmp, "activated.sock", NULL);
  g_assert_cmpuint(strlen(h->socket), <, sizeof addr.sun_path);
  strcpy(addr.sun_path, h->socket);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof addr), ==, 0);
  g_assert_cmpint(chmod(h->socket, 0666), ==, 0);
  g_assert_cmpint(listen(fd, 8), ==, 0);
  host_spawn_vxmd(h, fd);
  close(fd);

  g_assert_cmpint(ask(h, user_a, "{\"vxmd\":1,\"request\":\"hello\"}", &reply), ==, 0);
  g_assert_nonnull(strstr(reply, "\"user\":\""));
  g_assert_nonnull(strstr(reply, user_a));
  own = vxm_simhost_path(h->sim, "/run/vxm/vxmd.sock");
  g_assert_false(g_file_test(own, G_FILE_TEST_EXISTS));
  host_stop(h);
  vxm_test_rm_rf(tmp);
}

/* Started without systemd (OpenRC): vxmd makes its own socket, 0666 root:root as
 * vxmd.socket gives it, and a second vxmd on the same root refuses to take it over (the first
 * keeps serving), where an unlink would have left the first one's clients talking to a vxmd
 * that does not hold their journals. */
static void
test_own_socket_second_refused(void)
{
  g_autofree char *vxmd = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;
  int status = -1;
  Host *h;

  if (!vxm_test_require_root())
    return;
  h = host_start("intel-nvidia-turing", NULL);
  g_assert_cmpint(stat(h->socket, &st), ==, 0);
  g_assert_true(S_ISSOCK(st.st_mode));
  g_assert_cmpint(st.st_mode & 07777, ==, 0666);
  g_assert_cmpint(st.st_uid, ==, 0);
  g_assert_cmpint(st.st_gid, ==, 0);

  vxmd = vxm_test_build_path("src/vxmd/vxmd");
  {
    const char *argv[] = {vxmd, "--root", vxm_simhost_root(h->sim), "--group", group_name, NULL};

    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, &err, &status, &error));
  }
  g_assert_no_error(error);
  g_assert_true(WIFEXITED(status));
  g_assert_cmpint(WEXITSTATUS(status), ==, 1);
  g_assert_nonnull(strstr(err, "another vxmd listens on "));
  /* the first still answers on its socket (as root: the test's users are not in the group) */
  {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    const char hello[] = "{\"vxmd\":1,\"request\":\"hello\"}\n";
    char buf[512] = {0};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpuint(strlen(h->socket), <, sizeof addr.sun_path);
    strcpy(addr.sun_path, h->socket);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof addr), ==, 0);
    g_assert_cmpint(write(fd, hello, strlen(hello)), ==, (gssize)strlen(hello));
    g_assert_cmpint(read(fd, buf, sizeof buf - 1), >, 0);
    g_assert_nonnull(strstr(buf, "\"ok\":true"));
    close(fd);
  }
  host_stop(h);
}

/* A vxmd that died (SIGKILL) with a VM prepared whose client is gone: the next vxmd recovers
 * that journal as it starts, before it serves anyone, and the host is as it was. */
static void
test_orphan_recovered_at_start(void)
{
  Host *h;
  g_autofree char *initial = NULL;
  g_autofree char *prepared = NULL;
  g_autofree char *restored = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *journal = NULL;
  g_autofree char *driver_link = NULL;
  g_autofree char *driver = NULL;

  if (!vxm_test_require_root())
    return;
  h = host_start("intel-nvidia-turing", NULL);
  initial = vxm_simhost_state(h->sim);
  g_assert_cmpint(ask(h, user_a, PREPARE_A, &reply), ==, 0);
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(
      ask(h, user_a,
          "{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"alpha\",\"nodes\":[\"" KBD_BY_ID "\"]}",
          &reply),
      ==, 0);
  prepared = vxm_simhost_state(h->sim);
  g_assert_cmpstr(prepared, !=, initial);
  /* vxmd dies; the client that asked (the raw client, reaped) is gone too */
  host_kill_vxmd(h, SIGKILL);
  {
    /* A's VM "alpha" is the journal alpha.uUID: VM names are each user's own */
    g_autofree char *name =
        g_strdup_printf("/run/vxm/journal/alpha.u%u.json", (guint)uid_of(user_a));

    journal = vxm_simhost_path(h->sim, name);
  }
  g_assert_true(g_file_test(journal, G_FILE_TEST_EXISTS));
  restored = vxm_simhost_state(h->sim);
  g_assert_cmpstr(restored, ==, prepared);
  g_clear_pointer(&restored, g_free);

  {
    /* the dead vxmd's socket is still there; ready is when the new one makes its own */
    g_autofree char *stale = vxm_simhost_path(h->sim, "/run/vxm/vxmd.sock");

    g_assert_cmpint(unlink(stale), ==, 0);
  }
  host_spawn_vxmd(h, -1); /* recovery runs before it listens */
  restored = vxm_simhost_state(h->sim);
  g_assert_cmpstr(restored, ==, initial);
  g_assert_false(g_file_test(journal, G_FILE_TEST_EXISTS));
  driver_link = vxm_simhost_path(h->sim, "/sys/bus/pci/devices/" GPU "/driver");
  driver = g_file_read_link(driver_link, NULL);
  g_assert_true(g_str_has_suffix(driver, "/nvidia"));
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, user_b, "{\"vxmd\":1,\"request\":\"journal-status\"}", &reply), ==, 0);
  g_assert_null(strstr(reply, "alpha"));
  host_stop(h);
}

/* ---------------------------------------------------------------- polkit */

static char *
policy_file(void)
{
  return g_build_filename(g_getenv("VXM_SOURCE_DIR"), "data", "polkit", "org.vxm.vxmd.policy",
                          NULL);
}

/* A real polkitd on a bus of its own, vxmd asking it; NULL (test skipped) where it cannot run. */
static VxmTestPolkit *
polkit_start(GHashTable *rules)
{
  g_autofree char *policy = policy_file();
  g_autofree char *skip = NULL;

  running_polkit = vxm_test_polkit_start(policy, rules, &skip);
  if (running_polkit == NULL) {
    g_test_skip(skip);
    return NULL;
  }
  vxmd_bus_address = vxm_test_polkit_bus_address(running_polkit);
  return running_polkit;
}

static void
polkit_stop(void)
{
  vxmd_bus_address = "unix:path=/nonexistent/vxm-test-no-system-bus";
  g_hash_table_remove_all(session_procs);
  g_clear_pointer(&running_polkit, vxm_test_polkit_free);
}

static void
set_session(VxmTestPolkit *pk, const char *user, VxmTestSessionKind kind)
{
  g_autofree char *id = g_strdup_printf("%s", user + 4); /* "vxmt" + pid + letter: letters and
                                                            digits, as logind's ids */
  const char *procs = vxm_test_polkit_set_session(pk, id, user, kind);

  g_hash_table_insert(session_procs, g_strdup(user), g_strdup(procs));
}

static char *
prepare_line(const char *vm, const char *gpu)
{
  return g_strdup_printf("{\"vxmd\":1,\"request\":\"prepare-gpu\",\"vm\":\"%s\",\"gpu\":\"%s\"}",
                         vm, gpu);
}

static char *
release_line(const char *vm, const char *gpu)
{
  return g_strdup_printf("{\"vxmd\":1,\"request\":\"release-gpu\",\"vm\":\"%s\",\"gpu\":\"%s\"}",
                         vm, gpu);
}

/* @user prepares the GPU for @vm (on vfio-pci after), then gives it back (the host as before). */
static void
served_prepare_release(Host *h, const char *user, const char *vm)
{
  g_autofree char *before = vxm_simhost_state(h->sim);
  g_autofree char *after = NULL;
  g_autofree char *prepare = prepare_line(vm, GPU);
  g_autofree char *release = release_line(vm, GPU);
  g_autofree char *reply = NULL;
  g_autofree char *driver_link = vxm_simhost_path(h->sim, "/sys/bus/pci/devices/" GPU "/driver");
  g_autofree char *driver = NULL;

  g_assert_cmpint(ask(h, user, prepare, &reply), ==, 0);
  driver = g_file_read_link(driver_link, NULL);
  g_assert_true(g_str_has_suffix(driver, "/vfio-pci"));
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, user, release, &reply), ==, 0);
  after = vxm_simhost_state(h->sim);
  g_assert_cmpstr(after, ==, before);
}

#define CHALLENGE "only with an administrator's password"

/* The vxmd line of `vxm check --json` run as @user (in their session, if any) on @h. */
static char *
vxm_check_vxmd_line(Host *h, const char *user)
{
  g_autofree char *vxm = vxm_test_user_binary("src/cli/vxm");
  const char *argv[] = {vxm, "check", "--json", "--root", vxm_simhost_root(h->sim), NULL};
  const char *envp[] = {"NO_COLOR=1", "LC_ALL=C.UTF-8", "HOME=/nonexistent", NULL};
  ClientAs as = {user, g_hash_table_lookup(session_procs, user)};
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonArray *checks;

  if (!g_spawn_sync(NULL, (char **)argv, (char **)envp, G_SPAWN_STDERR_TO_DEV_NULL,
                    become_user_in_session, &as, &out, NULL, NULL, &error))
    g_error("cannot run %s as %s: %s", vxm, user, error->message);
  g_assert_true(json_parser_load_from_data(parser, out, -1, &error));
  g_assert_no_error(error);
  checks = json_node_get_array(json_parser_get_root(parser));
  for (guint i = 0; i < json_array_get_length(checks); i++) {
    JsonObject *c = json_array_get_object_element(checks, i);

    if (g_strcmp0(json_object_get_string_member(c, "id"), "vxmd") == 0) {
      JsonNode *fix = json_object_get_member(c, "fix");
      char *line = g_strdup_printf("%s: %s / %s", json_object_get_string_member(c, "status"),
                                   json_object_get_string_member(c, "message"),
                                   JSON_NODE_HOLDS_NULL(fix) ? "-" : json_node_get_string(fix));

      g_test_message("vxm check as %s: %s", user, line);
      return line;
    }
  }
  g_error("vxm check --json has no vxmd check: %s", out);
}

/* The shipped defaults: the user of the active local session is served with no group and no
 * password; an inactive local session, a remote one and no session are refused, naming the
 * rule and the ways in; a member of the group is served without a session (polkit not asked);
 * a VM started in the active session is still given back after the session went inactive. With
 * polkitd gone, the group alone decides and the refusal says polkit could not be asked. */
static void
test_polkit_sessions(void)
{
  VxmTestPolkit *pk;
  Host *h;
  g_autofree char *reply = NULL;
  g_autofree char *prepare_desk = prepare_line("desk", GPU);
  g_autofree char *release_desk = release_line("desk", GPU);

  if (!vxm_test_require_root())
    return;
  pk = polkit_start(NULL);
  if (pk == NULL)
    return;
  set_session(pk, user_d, VXM_TEST_SESSION_ACTIVE_LOCAL);
  set_session(pk, user_i, VXM_TEST_SESSION_INACTIVE_LOCAL);
  set_session(pk, user_r, VXM_TEST_SESSION_REMOTE);
  h = host_start("intel-nvidia-turing", NULL);

  /* the desktop user: no group, no password */
  served_prepare_release(h, user_d, "desk");
  /* a member without any session: the group, polkit not asked */
  served_prepare_release(h, user_a, "head");

  /* inactive, remote, none: refused with the rule and what to do, nothing changed */
  refused(h, user_i, "line", prepare_desk, NULL, "polkit lets");
  refused(h, user_i, "line", prepare_desk, NULL, "org.vxm.vxmd.run-vm " CHALLENGE);
  refused(h, user_i, "line", prepare_desk, NULL, "use vxm from the active local session");
  refused(h, user_i, "line", prepare_desk, NULL, "join group vxm-test-");
  refused(h, user_i, "line", prepare_desk, NULL, "rule in /etc/polkit-1/rules.d");
  refused(h, user_r, "line", prepare_desk, NULL, "org.vxm.vxmd.run-vm " CHALLENGE);
  refused(h, user_out, "line", prepare_desk, NULL, "org.vxm.vxmd.run-vm " CHALLENGE);
  refused(h, user_i, "line",
          "{\"vxmd\":1,\"request\":\"ddc-switch\",\"vm\":\"desk\",\"gpu\":\"" GPU
          "\",\"monitor\":\"DEL:41271:1\",\"input\":15,\"to_guest\":true}",
          NULL, "org.vxm.vxmd.switch-monitor " CHALLENGE);
  /* hello is for anyone, and says whether (and how) they may run VMs, for `vxm check` */
  g_assert_cmpint(ask(h, user_r, "{\"vxmd\":1,\"request\":\"hello\"}", &reply), ==, 0);
  g_assert_nonnull(strstr(reply, "\"run_vm\":false,\"via\":\"none\",\"refusal\":\"polkit lets"));
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, user_d, "{\"vxmd\":1,\"request\":\"hello\"}", &reply), ==, 0);
  g_assert_nonnull(strstr(reply, "\"run_vm\":true,\"via\":\"polkit\""));
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, user_a, "{\"vxmd\":1,\"request\":\"hello\"}", &reply), ==, 0);
  g_assert_nonnull(strstr(reply, "\"run_vm\":true,\"via\":\"group\""));
  g_clear_pointer(&reply, g_free);
  /* and `vxm check` tells them (it checks group vxm, which must exist as vxmd's would) */
  vxm_test_group_add("vxm", TRUE);
  {
    g_autofree char *desktop = vxm_check_vxmd_line(h, user_d);
    g_autofree char *remote = vxm_check_vxmd_line(h, user_r);

    g_assert_true(g_str_has_prefix(desktop, "ok: vxmd answers at"));
    g_assert_nonnull(strstr(desktop, "through polkit (the user of the active local session)"));
    g_assert_true(g_str_has_prefix(remote, "fail: polkit lets"));
    g_assert_nonnull(strstr(remote, "sudo usermod -aG vxm "));
  }

  /* the desktop user's session goes inactive while their VM holds the GPU (another user
   * switched in): they may give it back, and take nothing more */
  g_assert_cmpint(ask(h, user_d, prepare_desk, &reply), ==, 0);
  g_clear_pointer(&reply, g_free);
  set_session(pk, user_d, VXM_TEST_SESSION_INACTIVE_LOCAL);
  refused(h, user_d, "line",
          "{\"vxmd\":1,\"request\":\"reserve-hugepages\",\"vm\":\"desk\",\"page_size\":"
          "2097152,\"count\":4}",
          NULL, CHALLENGE);
  g_assert_cmpint(ask(h, user_d, "{\"vxmd\":1,\"request\":\"journal-status\"}", &reply), ==, 0);
  g_clear_pointer(&reply, g_free);
  g_assert_cmpint(ask(h, user_d, release_desk, &reply), ==, 0);
  g_clear_pointer(&reply, g_free);
  set_session(pk, user_d, VXM_TEST_SESSION_ACTIVE_LOCAL);

  /* polkitd stops: the group alone decides, and the refusal says why */
  vxm_test_polkit_stop_polkitd(pk);
  refused(h, user_d, "line", prepare_desk, NULL, "and polkit could not be asked");
  served_prepare_release(h, user_a, "head");
  host_stop(h);
  polkit_stop();
}

/* An administrator's rules in /etc/polkit-1/rules.d: one lets a remote user in, one keeps the
 * desktop user out (the refusal says a rule said no). */
static void
test_polkit_admin_rules(void)
{
  g_autoptr(GHashTable) rules = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
  g_autofree char *prepare = prepare_line("desk", GPU);
  VxmTestPolkit *pk;
  Host *h;

  if (!vxm_test_require_root())
    return;
  g_hash_table_insert(
      rules, "50-vxm-test.rules",
      g_strdup_printf(
          "polkit.addRule(function(action, subject) {\n"
          "  if (action.id.indexOf(\"org.vxm.vxmd.\") != 0) return polkit.Result.NOT_HANDLED;\n"
          "  if (subject.user == \"%s\") return polkit.Result.YES;\n"
          "  if (subject.user == \"%s\") return polkit.Result.NO;\n"
          "  return polkit.Result.NOT_HANDLED;\n"
          "});\n",
          user_r, user_d));
  pk = polkit_start(rules);
  if (pk == NULL)
    return;
  set_session(pk, user_d, VXM_TEST_SESSION_ACTIVE_LOCAL);
  set_session(pk, user_r, VXM_TEST_SESSION_REMOTE);
  h = host_start("intel-nvidia-turing", NULL);
  served_prepare_release(h, user_r, "remote");
  refused(h, user_d, "line", prepare, NULL, "polkit does not allow org.vxm.vxmd.run-vm");
  refused(h, user_d, "line", prepare, NULL, "a rule in /etc/polkit-1/rules.d");
  host_stop(h);
  polkit_stop();
  g_test_message("%u requests refused with nothing changed on the host, in all", hostile_cases);
}

/* One user's whole cycle through vxmd: hello, prepare, grant, a release while the user's
 * process holds /dev/vfio/N, revoke, release, hugepages. Each step's answer, by name. */
static GHashTable *
capability_cycle(Host *h)
{
  GHashTable *answers = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
  g_autofree char *group = vfio_node_of_gpu(h);
  g_autofree char *node = g_strdup_printf("%s/dev/vfio/%s", vxm_simhost_root(h->sim), group);
  g_autofree char *child = vxm_test_user_binary("tests/vxm-test-child");
  g_autofree char *grant =
      g_strdup_printf("{\"vxmd\":1,\"request\":\"grant-nodes\",\"vm\":\"alpha\","
                      "\"nodes\":[\"vfio:%s\",\"%s\"]}",
                      group, KBD_BY_ID);
  const char *release =
      "{\"vxmd\":1,\"request\":\"release-gpu\",\"vm\":\"alpha\",\"gpu\":\"" GPU "\"}";
  const char *steps[][2] = {
      {"hello", "{\"vxmd\":1,\"request\":\"hello\"}"},
      {"prepare", PREPARE_A},
      {"grant", grant},
      {"release-held", release},
      {"revoke", "{\"vxmd\":1,\"request\":\"revoke-nodes\",\"vm\":\"alpha\"}"},
      {"release", release},
      {"reserve", "{\"vxmd\":1,\"request\":\"reserve-hugepages\",\"vm\":\"alpha\","
                  "\"page_size\":2097152,\"count\":4,\"drop_caches\":true,\"compact\":true}"},
      {"unreserve", "{\"vxmd\":1,\"request\":\"release-hugepages\",\"vm\":\"alpha\"}"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(steps); i++) {
    g_autofree char *reply = NULL;
    GPid holder = 0;
    int rc;

    if (g_str_equal(steps[i][0], "release-held")) {
      /* user A's process holds the group's node, as its QEMU would */
      const char *argv[] = {child, "open-hold", node, NULL};
      ClientAs as = {user_a, NULL};
      g_autoptr(GError) error = NULL;
      int out = -1;
      char line[8] = "";

      g_assert_true(g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                             become_user_in_session, &as, &holder, NULL, &out, NULL,
                                             &error));
      g_assert_no_error(error);
      /* "held": the node is open; nothing when it could not be (a grant that failed) */
      if (read(out, line, sizeof line - 1) <= 0)
        g_test_message("the holder could not open %s", node);
      close(out);
    }
    rc = ask(h, user_a, steps[i][1], &reply);
    g_hash_table_insert(answers, (gpointer)steps[i][0], g_strdup_printf("%d %s", rc, reply));
    if (holder != 0) {
      kill(holder, SIGKILL);
      waitpid(holder, NULL, 0);
      g_spawn_close_pid(holder);
    }
  }
  return answers;
}

static void
assert_answer(GHashTable *answers, const char *step, const char *expected)
{
  const char *answer = g_hash_table_lookup(answers, step);

  if (answer == NULL || strstr(answer, expected) == NULL)
    g_error("%s: expected an answer with '%s', got: %s", step, expected, answer);
}

/* Every capability vxmd keeps (data/systemd/vxmd.service, vxm_vxmd_capabilities()) is shown
 * needed: vxmd started without it fails the step that uses it, saying so, with the host as it
 * was. With its own set (which lacks CAP_DAC_OVERRIDE, CAP_FOWNER and CAP_SYS_ADMIN) the whole
 * cycle works. The simulated workstation mounts with default_permissions, so the kernel checks
 * chown rights and file modes as on a real host, and its /proc/PID/fd links answer only their
 * owner or a caller with CAP_SYS_PTRACE, as the kernel's do. */
static void
test_capabilities(void)
{
  static const struct {
    int without;
    const char *name;
  } runs[] = {{-1, "vxmd's own set"},
              {CAP_CHOWN, "CAP_CHOWN"},
              {CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH"},
              {CAP_SYS_PTRACE, "CAP_SYS_PTRACE"}};

  if (!vxm_test_require_root())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS(runs); i++) {
    Host *h;
    g_autofree char *initial = NULL;
    g_autofree char *final = NULL;
    g_autoptr(GHashTable) answers = NULL;

    g_test_message("vxmd without %s", runs[i].name);
    vxmd_without_cap = runs[i].without;
    h = host_start("intel-nvidia-turing", NULL);
    vxmd_without_cap = -1;
    initial = vxm_simhost_state(h->sim);
    answers = capability_cycle(h);
    assert_answer(answers, "hello", "0 ");
    assert_answer(answers, "prepare", "0 ");
    assert_answer(answers, "reserve", "0 ");
    assert_answer(answers, "unreserve", "0 ");
    assert_answer(answers, "release", "0 ");
    switch (runs[i].without) {
    case -1:
      assert_answer(answers, "grant", "0 ");
      assert_answer(answers, "release-held", "1 process holds IOMMU group");
      assert_answer(answers, "revoke", "back to 0:0 mode 0600");
      break;
    case CAP_CHOWN: assert_answer(answers, "grant", "Operation not permitted"); break;
    default:
      /* the holder unseen: refused, never an unbind the kernel would make wait */
      assert_answer(answers, "grant", "0 ");
      assert_answer(answers, "release-held", "cannot tell whether a process holds IOMMU group");
      assert_answer(answers, "revoke", "back to 0:0 mode 0600");
      break;
    }
    final = vxm_simhost_state(h->sim);
    g_assert_cmpstr(final, ==, initial);
    host_stop(h);
  }
}

/* A restore-all of a VM while another request of the same VM still runs (its unbind hangs in
 * the kernel): the restore waits for it (the VM's lock in the journal store), then gives
 * everything back. Without the lock it undid and let go of the journal under the running
 * request. */
static void
test_restore_all_waits_for_the_vm(void)
{
  Host *h;
  g_autoptr(GError) error = NULL;
  g_autofree char *initial = NULL;
  g_autofree char *final = NULL;
  g_autofree char *prepared = NULL;
  g_autofree char *restored = NULL;
  GSubprocess *prepare;
  GSubprocess *restore;
  int prepare_status = -1, restore_status = -1;

  if (!vxm_test_require_root())
    return;
  h = host_start("intel-nvidia-turing", NULL);
  initial = vxm_simhost_state(h->sim);
  g_assert_true(vxm_simhost_add_fault(h->sim, "write *unbind hang count=1", &error));
  g_assert_no_error(error);
  prepare = client_async(h, user_a, "line", PREPARE_A);
  g_assert_true(vxm_simhost_wait_hung(h->sim, 1, 20000));
  restore =
      client_async(h, user_a, "line", "{\"vxmd\":1,\"request\":\"restore-all\",\"vm\":\"alpha\"}");
  /* however long the prepare takes, the restore waits for it */
  g_usleep(1000 * 1000);
  g_assert_nonnull(g_subprocess_get_identifier(restore));
  g_assert_cmpuint(vxm_simhost_hung_count(h->sim), ==, 1);
  vxm_simhost_release(h->sim);
  prepared = client_finish(prepare, &prepare_status);
  restored = client_finish(restore, &restore_status);
  g_test_message("prepare: %s\nrestore-all: %s", prepared, restored);
  g_assert_cmpint(prepare_status, ==, 0);
  g_assert_cmpint(restore_status, ==, 0);
  g_assert_nonnull(strstr(restored, "back on"));
  g_object_unref(prepare);
  g_object_unref(restore);
  final = vxm_simhost_state(h->sim);
  g_assert_cmpstr(final, ==, initial);
  host_stop(h);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  if (geteuid() == 0)
    make_users();
  g_test_add_func("/vxm/vxmd/user/prepare-grant-release", test_prepare_grant_release);
  g_test_add_func("/vxm/vxmd/user/loads-and-unloads-vfio-pci", test_loads_vfio_pci);
  g_test_add_func("/vxm/vxmd/hostile/intel-nvidia-turing", test_hostile);
  g_test_add_func("/vxm/vxmd/hostile/race-and-silence", test_race_and_silence);
  g_test_add_func("/vxm/vxmd/hostile/policy-machines", test_policy_machines);
  g_test_add_func("/vxm/vxmd/hostile/connection-flood", test_connection_flood);
  g_test_add_func("/vxm/vxmd/hostile/hugepages", test_hugepages);
  g_test_add_func("/vxm/vxmd/hostile/journals", test_journals);
  g_test_add_func("/vxm/vxmd/hostile/held-journal", test_held_journal);
  g_test_add_func("/vxm/vxmd/hostile/monitor", test_monitor);
  g_test_add_func("/vxm/vxmd/hostile/namespaces", test_namespaces);
  g_test_add_func("/vxm/vxmd/start/restart-under-a-running-vm", test_vxmd_restart);
  g_test_add_func("/vxm/vxmd/start/socket-activation", test_socket_activation);
  g_test_add_func("/vxm/vxmd/start/own-socket-second-refused", test_own_socket_second_refused);
  g_test_add_func("/vxm/vxmd/start/orphan-journal-recovered", test_orphan_recovered_at_start);
  g_test_add_func("/vxm/vxmd/race/restore-all-waits-for-the-vm", test_restore_all_waits_for_the_vm);
  g_test_add_func("/vxm/vxmd/polkit/sessions", test_polkit_sessions);
  g_test_add_func("/vxm/vxmd/polkit/admin-rules", test_polkit_admin_rules);
  g_test_add_func("/vxm/vxmd/capabilities", test_capabilities);
  return g_test_run();
}
