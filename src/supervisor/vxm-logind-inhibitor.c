/* vxm-logind-inhibitor: logind's Inhibit over GDBus (see the header). */
#include "supervisor/vxm-logind-inhibitor.h"

#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <unistd.h>

#include "common/vxm-error.h"

#define LOGIND_NAME        "org.freedesktop.login1"
#define LOGIND_PATH        "/org/freedesktop/login1"
#define LOGIND_INTERFACE   "org.freedesktop.login1.Manager"
#define INHIBIT_TIMEOUT_MS 10000

typedef struct {
  char *what, *who, *why;
} InhibitData;

static void
inhibit_data_free(InhibitData *data)
{
  g_free(data->what);
  g_free(data->who);
  g_free(data->why);
  g_free(data);
}

static void
on_inhibit_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_with_unix_fd_list_finish(
      G_DBUS_CONNECTION(source), &fds, result, &error);
  gint32 handle = -1;
  int fd;

  if (reply == NULL) {
    g_autofree char *remote = g_dbus_error_get_remote_error(error);

    g_dbus_error_strip_remote_error(error);
    if (g_strcmp0(remote, "org.freedesktop.DBus.Error.ServiceUnknown") == 0 ||
        g_strcmp0(remote, "org.freedesktop.DBus.Error.NameHasNoOwner") == 0)
      g_task_return_new_error(task, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                              "no logind on the system bus (neither systemd-logind nor elogind "
                              "runs): %s",
                              error->message);
    else if (g_strcmp0(remote, "org.freedesktop.DBus.Error.AccessDenied") == 0 ||
             g_strcmp0(remote, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired") == 0)
      g_task_return_new_error(task, VXM_ERROR, VXM_ERROR_PERMISSION,
                              "logind refused the inhibitor lock (polkit: "
                              "org.freedesktop.login1.inhibit-block-sleep): %s",
                              error->message);
    else
      g_task_return_new_error(task, VXM_ERROR, VXM_ERROR_PROTOCOL,
                              "logind's Inhibit failed: %s%s%s", error->message,
                              remote != NULL ? " " : "", remote != NULL ? remote : "");
    return;
  }
  g_variant_get(reply, "(h)", &handle);
  if (fds == NULL || handle < 0 || handle >= g_unix_fd_list_get_length(fds)) {
    g_task_return_new_error(task, VXM_ERROR, VXM_ERROR_PROTOCOL,
                            "logind's Inhibit answered without a file descriptor");
    return;
  }
  fd = g_unix_fd_list_get(fds, handle, &error);
  if (fd < 0) {
    g_task_return_error(task, g_steal_pointer(&error));
    return;
  }
  /* GIO gives a dup; it must not leak into QEMU or swtpm, which would hold the lock on */
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  g_task_return_int(task, fd);
}

static void
on_bus(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  InhibitData *data = g_task_get_task_data(task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_finish(result, &error);

  (void)source;
  if (bus == NULL) {
    g_task_return_new_error(task, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                            "no system bus (so no logind): %s", error->message);
    return;
  }
  /* GIO's shared bus connection would exit the process when the bus goes (a dbus restart):
   * that would take the guest along. The lock lives in its fd, not in this connection. */
  g_dbus_connection_set_exit_on_close(bus, FALSE);
  g_dbus_connection_call_with_unix_fd_list(
      bus, LOGIND_NAME, LOGIND_PATH, LOGIND_INTERFACE, "Inhibit",
      g_variant_new("(ssss)", data->what, data->who, data->why, "block"), G_VARIANT_TYPE("(h)"),
      G_DBUS_CALL_FLAGS_NO_AUTO_START, INHIBIT_TIMEOUT_MS, NULL, g_task_get_cancellable(task),
      on_inhibit_reply, g_object_ref(task));
}

void
vxm_logind_inhibit_async(const char *what, const char *who, const char *why,
                         GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  GTask *task = g_task_new(NULL, cancellable, callback, user_data);
  InhibitData *data = g_new0(InhibitData, 1);

  data->what = g_strdup(what);
  data->who = g_strdup(who);
  data->why = g_strdup(why);
  g_task_set_task_data(task, data, (GDestroyNotify)inhibit_data_free);
  g_task_set_source_tag(task, vxm_logind_inhibit_async);
  g_bus_get(G_BUS_TYPE_SYSTEM, cancellable, on_bus, task);
}

int
vxm_logind_inhibit_finish(GAsyncResult *result, GError **error)
{
  g_return_val_if_fail(g_task_is_valid(result, NULL), -1);
  return (int)g_task_propagate_int(G_TASK(result), error);
}
