#include "vxm-test-polkit.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <linux/magic.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vxm-test-util.h"

#define POLKITD "/usr/lib/polkit-1/polkitd"

struct _VxmTestPolkit {
  char *dir;     /* temporary: bus socket, actions, rules, run/systemd, logs */
  char *address; /* the bus */
  char *cgroup;  /* our slice in the host's cgroup hierarchy */
  GPid bus_pid;
  GPid polkitd_pid;
  GHashTable *procs; /* session id -> its cgroup.procs */
  /* what polkitd's child setup mounts, worked out before the fork */
  char *actions, *rules, *run_source, *run_target, *log;
};

/* The hierarchy whose paths sd-login reads (libsystemd's own choice): cgroup2 at
 * /sys/fs/cgroup, or at /sys/fs/cgroup/unified beside v1 controllers, or v1 name=systemd. */
static char *
systemd_cgroup_base(void)
{
  struct statfs fs;

  if (statfs("/sys/fs/cgroup", &fs) != 0)
    return NULL;
  if (fs.f_type == CGROUP2_SUPER_MAGIC)
    return g_strdup("/sys/fs/cgroup");
  if (statfs("/sys/fs/cgroup/unified", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC)
    return g_strdup("/sys/fs/cgroup/unified");
  if (statfs("/sys/fs/cgroup/systemd", &fs) == 0 && fs.f_type == CGROUP_SUPER_MAGIC)
    return g_strdup("/sys/fs/cgroup/systemd");
  return NULL;
}

static void
polkitd_setup(gpointer data)
{
  VxmTestPolkit *pk = data;
  int log = open(pk->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

  if (log < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
    _exit(123);
  /* its own view of three folders; nothing of the host's changes */
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      mount(pk->actions, "/usr/share/polkit-1/actions", NULL, MS_BIND, NULL) != 0 ||
      mount(pk->rules, "/etc/polkit-1/rules.d", NULL, MS_BIND, NULL) != 0 ||
      mount(pk->run_source, pk->run_target, NULL, MS_BIND, NULL) != 0)
    _exit(124);
}

static gboolean
name_has_owner(GDBusConnection *bus, const char *name)
{
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
      bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
      g_variant_new("(s)", name), G_VARIANT_TYPE("(b)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
  gboolean owned = FALSE;

  if (reply != NULL)
    g_variant_get(reply, "(b)", &owned);
  return owned;
}

static void
start_polkitd(VxmTestPolkit *pk)
{
  const char *argv[] = {POLKITD, NULL};
  g_auto(GStrv) envp =
      g_environ_setenv(g_get_environ(), "DBUS_SYSTEM_BUS_ADDRESS", pk->address, TRUE);

  /* G_DEBUG=fatal-criticals (meson test sets it) is for our code: polkitd 126 logs a critical
   * (g_object_unref of NULL) for each action folder it does not find (/etc/polkit-1/actions,
   * /run/polkit-1/actions, ...) and would abort on the first check */
  envp = g_environ_unsetenv(envp, "G_DEBUG");
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;

  g_assert_true(g_spawn_async(NULL, (char **)argv, envp, G_SPAWN_DO_NOT_REAP_CHILD, polkitd_setup,
                              pk, &pk->polkitd_pid, &error));
  g_assert_no_error(error);
  bus = g_dbus_connection_new_for_address_sync(pk->address,
                                               G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                   G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                               NULL, NULL, &error);
  g_assert_no_error(error);
  for (guint i = 0; i < 1000 && !name_has_owner(bus, "org.freedesktop.PolicyKit1"); i++)
    g_usleep(10 * 1000);
  if (!name_has_owner(bus, "org.freedesktop.PolicyKit1")) {
    g_autofree char *log = NULL;

    g_file_get_contents(pk->log, &log, NULL, NULL);
    g_error("polkitd did not come up on the test bus in 10 s; its log:\n%s", log);
  }
}

char *
vxm_test_system_bus_start(const char *dir, GPid *out_pid)
{
  g_autofree char *dbus_daemon = g_find_program_in_path("dbus-daemon");
  g_autofree char *conf = NULL;
  g_autofree char *conf_text = NULL;
  g_autofree char *address_line = NULL;
  g_autoptr(GError) error = NULL;
  int out_fd = -1;

  g_assert_nonnull(dbus_daemon);
  /* a system bus of our own: everyone may connect, own names and call (the policy under test
   * is polkit's or logind's, not the bus's) */
  conf = g_build_filename(dir, "system-bus.conf", NULL);
  conf_text = g_strdup_printf(
      "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
      " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
      "<busconfig>\n"
      "  <type>system</type>\n"
      "  <listen>unix:path=%s/system_bus_socket</listen>\n"
      "  <auth>EXTERNAL</auth>\n"
      "  <policy context=\"default\">\n"
      "    <allow user=\"*\"/>\n"
      "    <allow own=\"*\"/>\n"
      "    <allow send_type=\"method_call\"/>\n"
      "    <allow send_type=\"signal\"/>\n"
      "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
      "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
      "    <allow receive_type=\"method_call\"/>\n"
      "    <allow receive_type=\"method_return\"/>\n"
      "    <allow receive_type=\"error\"/>\n"
      "    <allow receive_type=\"signal\"/>\n"
      "  </policy>\n"
      "</busconfig>\n",
      dir);
  g_assert_true(g_file_set_contents(conf, conf_text, -1, NULL));
  {
    g_autofree char *config_arg = g_strdup_printf("--config-file=%s", conf);
    const char *argv[] = {dbus_daemon, config_arg, "--nofork", "--print-address=1", NULL};
    g_autoptr(GIOChannel) channel = NULL;

    g_assert_true(g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
                                           NULL, NULL, out_pid, NULL, &out_fd, NULL, &error));
    g_assert_no_error(error);
    /* the address is printed once the bus listens */
    channel = g_io_channel_unix_new(out_fd);
    g_io_channel_set_close_on_unref(channel, TRUE);
    g_assert_cmpint(g_io_channel_read_line(channel, &address_line, NULL, NULL, &error), ==,
                    G_IO_STATUS_NORMAL);
    g_assert_no_error(error);
  }
  return g_strdup(g_strstrip(address_line));
}

VxmTestPolkit *
vxm_test_polkit_start(const char *policy_file, GHashTable *rules, char **out_skip_reason)
{
  VxmTestPolkit *pk;
  g_autofree char *base = systemd_cgroup_base();
  g_autofree char *policy_text = NULL;
  g_autofree char *policy_copy = NULL;
  g_autofree char *policy_name = g_path_get_basename(policy_file);
  g_autofree char *dbus_daemon = g_find_program_in_path("dbus-daemon");

  if (!g_file_test(POLKITD, G_FILE_TEST_IS_EXECUTABLE) || dbus_daemon == NULL ||
      getpwnam("polkitd") == NULL) {
    *out_skip_reason = g_strdup("needs polkitd (" POLKITD ", user polkitd) and dbus-daemon: "
                                "apt-get install polkitd dbus-daemon");
    return NULL;
  }
  if (base == NULL) {
    *out_skip_reason = g_strdup("no cgroup hierarchy at /sys/fs/cgroup for login sessions");
    return NULL;
  }
  pk = g_new0(VxmTestPolkit, 1);
  pk->procs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  pk->dir = vxm_test_mkdtemp();
  g_assert_cmpint(chmod(pk->dir, 0755), ==, 0); /* polkitd runs as user polkitd */
  pk->cgroup = g_strdup_printf("%s/vxmtest%d.slice", base, (int)getpid());
  g_assert_cmpint(g_mkdir_with_parents(pk->cgroup, 0755), ==, 0);
  pk->actions = g_build_filename(pk->dir, "actions", NULL);
  pk->rules = g_build_filename(pk->dir, "rules.d", NULL);
  pk->log = g_build_filename(pk->dir, "polkitd.log", NULL);
  if (g_file_test("/run/systemd", G_FILE_TEST_IS_DIR)) {
    pk->run_source = g_build_filename(pk->dir, "run", "systemd", NULL);
    pk->run_target = g_strdup("/run/systemd");
  } else {
    pk->run_source = g_build_filename(pk->dir, "run", NULL);
    pk->run_target = g_strdup("/run");
  }
  g_assert_cmpint(g_mkdir_with_parents(pk->actions, 0755), ==, 0);
  g_assert_cmpint(g_mkdir_with_parents(pk->rules, 0755), ==, 0);
  for (guint i = 0; i < 4; i++) {
    static const char *const sub[] = {"sessions", "users", "seats", "machines"};
    g_autofree char *d = g_build_filename(pk->dir, "run", "systemd", sub[i], NULL);

    g_assert_cmpint(g_mkdir_with_parents(d, 0755), ==, 0);
  }
  g_assert_true(g_file_get_contents(policy_file, &policy_text, NULL, NULL));
  policy_copy = g_build_filename(pk->actions, policy_name, NULL);
  g_assert_true(g_file_set_contents(policy_copy, policy_text, -1, NULL));
  g_assert_cmpint(chmod(policy_copy, 0644), ==, 0);
  if (rules != NULL) {
    GHashTableIter it;
    gpointer name, js;

    g_hash_table_iter_init(&it, rules);
    while (g_hash_table_iter_next(&it, &name, &js)) {
      g_autofree char *path = g_build_filename(pk->rules, name, NULL);

      g_assert_true(g_file_set_contents(path, js, -1, NULL));
      g_assert_cmpint(chmod(path, 0644), ==, 0);
    }
  }

  pk->address = vxm_test_system_bus_start(pk->dir, &pk->bus_pid);
  start_polkitd(pk);
  return pk;
}

const char *
vxm_test_polkit_bus_address(VxmTestPolkit *pk)
{
  return pk->address;
}

static void
stop_child(GPid *pid)
{
  if (*pid <= 0)
    return;
  kill(*pid, SIGTERM);
  waitpid(*pid, NULL, 0);
  *pid = 0;
}

void
vxm_test_polkit_stop_polkitd(VxmTestPolkit *pk)
{
  stop_child(&pk->polkitd_pid);
}

void
vxm_test_polkit_free(VxmTestPolkit *pk)
{
  GHashTableIter it;
  gpointer procs;

  if (pk == NULL)
    return;
  stop_child(&pk->polkitd_pid);
  stop_child(&pk->bus_pid);
  /* the sessions' cgroups, then our slice: empty by now (the clients were waited for) */
  g_hash_table_iter_init(&it, pk->procs);
  while (g_hash_table_iter_next(&it, NULL, &procs)) {
    g_autofree char *dir = g_path_get_dirname(procs);

    if (rmdir(dir) != 0)
      g_printerr("could not remove the test's cgroup %s: %s\n", dir, g_strerror(errno));
  }
  if (rmdir(pk->cgroup) != 0)
    g_printerr("could not remove the test's cgroup %s: %s\n", pk->cgroup, g_strerror(errno));
  vxm_test_rm_rf(pk->dir);
  g_hash_table_unref(pk->procs);
  g_free(pk->dir);
  g_free(pk->address);
  g_free(pk->cgroup);
  g_free(pk->actions);
  g_free(pk->rules);
  g_free(pk->run_source);
  g_free(pk->run_target);
  g_free(pk->log);
  g_free(pk);
}

const char *
vxm_test_polkit_set_session(VxmTestPolkit *pk, const char *id, const char *user,
                            VxmTestSessionKind kind)
{
  struct passwd *pw = getpwnam(user);
  g_autofree char *session = NULL;
  g_autofree char *user_file = NULL;
  g_autofree char *session_text = NULL;
  g_autoptr(GString) user_text = NULL;
  g_autofree char *scope = NULL;
  gboolean active = kind != VXM_TEST_SESSION_INACTIVE_LOCAL; /* logind: a seatless one is */

  g_assert_nonnull(pw);
  session = g_build_filename(pk->dir, "run", "systemd", "sessions", id, NULL);
  user_file = g_strdup_printf("%s/run/systemd/users/%u", pk->dir, (guint)pw->pw_uid);
  /* what logind writes (the keys sd-login reads) */
  session_text = g_strdup_printf(
      "UID=%u\nUSER=%s\nACTIVE=%d\nIS_DISPLAY=%d\nSTATE=%s\nREMOTE=%d\nTYPE=%s\nCLASS=user\n"
      "SCOPE=session-%s.scope\n%s",
      (guint)pw->pw_uid, user, active, kind != VXM_TEST_SESSION_REMOTE,
      active ? "active" : "online", kind == VXM_TEST_SESSION_REMOTE,
      kind == VXM_TEST_SESSION_REMOTE ? "tty" : "wayland", id,
      kind == VXM_TEST_SESSION_REMOTE ? "REMOTE_HOST=192.0.2.7\n" : "SEAT=seat0\nVTNR=2\n");
  user_text = g_string_new(NULL);
  g_string_append_printf(user_text, "NAME=%s\nSTATE=%s\nSESSIONS=%s\n", user,
                         active ? "active" : "online", id);
  if (active)
    g_string_append_printf(user_text, "ACTIVE_SESSIONS=%s\n", id);
  if (kind != VXM_TEST_SESSION_REMOTE)
    g_string_append_printf(user_text, "DISPLAY=%s\n", id);
  g_assert_true(g_file_set_contents(session, session_text, -1, NULL));
  g_assert_true(g_file_set_contents(user_file, user_text->str, -1, NULL));
  g_assert_cmpint(chmod(session, 0644), ==, 0);
  g_assert_cmpint(chmod(user_file, 0644), ==, 0);
  scope = g_strdup_printf("%s/session-%s.scope", pk->cgroup, id);
  if (!g_hash_table_contains(pk->procs, id)) {
    g_assert_cmpint(g_mkdir_with_parents(scope, 0755), ==, 0);
    g_hash_table_insert(pk->procs, g_strdup(id), g_build_filename(scope, "cgroup.procs", NULL));
  }
  return g_hash_table_lookup(pk->procs, id);
}
