/* vxm-test-login1: a stand-in for logind's Inhibit, for the supervisor's tests (issue 17).
 *
 *   vxm-test-login1 --log FILE [--refuse]
 *
 * Owns org.freedesktop.login1 on the system bus GIO finds (DBUS_SYSTEM_BUS_ADDRESS: the test's
 * private dbus-daemon) and serves org.freedesktop.login1.Manager.Inhibit(what, who, why, mode)
 * as logind does: it answers with a file descriptor (the write end of a pipe) and holds the lock
 * while that descriptor is open anywhere. It appends to FILE, one line each:
 *   ready
 *   inhibit N uid=UID what=WHAT who=WHO mode=MODE why=WHY
 *   released N          (the pipe's write end was closed everywhere: the lock went)
 * With --refuse it answers Inhibit with org.freedesktop.DBus.Error.AccessDenied, as logind does
 * when polkit says no, and logs "refused uid=UID what=WHAT".
 */
#include <fcntl.h>
#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <glib-unix.h>
#include <stdio.h>
#include <unistd.h>

static const char introspection[] =
    "<node><interface name='org.freedesktop.login1.Manager'>"
    "<method name='Inhibit'><arg type='s' direction='in'/><arg type='s' direction='in'/>"
    "<arg type='s' direction='in'/><arg type='s' direction='in'/>"
    "<arg type='h' direction='out'/></method>"
    "</interface></node>";

static char *log_path;
static gboolean refuse;
static guint count;

static void G_GNUC_PRINTF(1, 2) log_line(const char *format, ...)
{
  va_list ap;
  g_autofree char *line = NULL;
  FILE *f = fopen(log_path, "a");

  va_start(ap, format);
  line = g_strdup_vprintf(format, ap);
  va_end(ap);
  if (f == NULL)
    g_error("cannot open %s", log_path);
  fprintf(f, "%s\n", line);
  fclose(f);
}

static gboolean
on_hangup(int fd, GIOCondition condition, gpointer user_data)
{
  char buf[16];

  /* the write end is gone when a read returns 0 (EOF) */
  if ((condition & G_IO_IN) && read(fd, buf, sizeof buf) > 0)
    return G_SOURCE_CONTINUE;
  log_line("released %u", GPOINTER_TO_UINT(user_data));
  close(fd);
  return G_SOURCE_REMOVE;
}

static guint32
sender_uid(GDBusConnection *bus, const char *sender)
{
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
      bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "GetConnectionUnixUser", g_variant_new("(s)", sender), G_VARIANT_TYPE("(u)"),
      G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
  guint32 uid = G_MAXUINT32;

  if (reply != NULL)
    g_variant_get(reply, "(u)", &uid);
  return uid;
}

static void
on_call(GDBusConnection *bus, const char *sender, const char *path, const char *interface,
        const char *method, GVariant *parameters, GDBusMethodInvocation *invocation,
        gpointer user_data)
{
  const char *what, *who, *why, *mode;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GError) error = NULL;
  guint32 uid = sender_uid(bus, sender);
  int pipe_fds[2];
  gint handle;

  g_variant_get(parameters, "(&s&s&s&s)", &what, &who, &why, &mode);
  if (refuse) {
    log_line("refused uid=%u what=%s", uid, what);
    g_dbus_method_invocation_return_dbus_error(
        invocation, "org.freedesktop.DBus.Error.AccessDenied", "Permission denied");
    return;
  }
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    g_dbus_method_invocation_return_dbus_error(invocation, "org.freedesktop.DBus.Error.Failed",
                                               "pipe failed");
    return;
  }
  count++;
  log_line("inhibit %u uid=%u what=%s who=%s mode=%s why=%s", count, uid, what, who, mode, why);
  fds = g_unix_fd_list_new();
  handle = g_unix_fd_list_append(fds, pipe_fds[1], &error);
  close(pipe_fds[1]); /* the list has its own copy: the caller's is then the only one */
  g_assert_no_error(error);
  g_unix_fd_add(pipe_fds[0], G_IO_IN | G_IO_HUP | G_IO_ERR, on_hangup, GUINT_TO_POINTER(count));
  g_dbus_method_invocation_return_value_with_unix_fd_list(invocation, g_variant_new("(h)", handle),
                                                          fds);
}

static void
on_name_acquired(GDBusConnection *bus, const char *name, gpointer user_data)
{
  log_line("ready");
}

static void
on_name_lost(GDBusConnection *bus, const char *name, gpointer user_data)
{
  g_printerr("vxm-test-login1: cannot own %s on the system bus\n", name);
  exit(1);
}

int
main(int argc, char **argv)
{
  GOptionEntry entries[] = {
      {"log", 0, 0, G_OPTION_ARG_FILENAME, &log_path, "Where to log", "FILE"},
      {"refuse", 0, 0, G_OPTION_ARG_NONE, &refuse, "Refuse every Inhibit", NULL},
      {NULL},
  };
  g_autoptr(GOptionContext) context = g_option_context_new(NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusNodeInfo) info = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  static const GDBusInterfaceVTable vtable = {on_call, NULL, NULL, {0}};

  g_option_context_add_main_entries(context, entries, NULL);
  if (!g_option_context_parse(context, &argc, &argv, &error) || log_path == NULL) {
    g_printerr("vxm-test-login1: %s\n", error != NULL ? error->message : "--log FILE is needed");
    return 2;
  }
  info = g_dbus_node_info_new_for_xml(introspection, &error);
  g_assert_no_error(error);
  bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
  if (bus == NULL) {
    g_printerr("vxm-test-login1: %s\n", error->message);
    return 1;
  }
  g_dbus_connection_register_object(bus, "/org/freedesktop/login1", info->interfaces[0], &vtable,
                                    NULL, NULL, &error);
  g_assert_no_error(error);
  g_bus_own_name_on_connection(bus, "org.freedesktop.login1", G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                               on_name_acquired, on_name_lost, NULL, NULL);
  g_main_loop_run(loop);
  return 0;
}
