/* The QMP client and vxm-process against the real QEMU installed here (TCG, paused, no disk).
 * Timings are printed as test messages for the report, never asserted. */
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "qemu/vxm-process.h"
#include "qemu/vxm-qmp-client.h"
#include "qemu/vxm-socket-wait.h"
#include "vxm-test-util.h"

#define QEMU "qemu-system-x86_64"

static char *
find_qemu(void)
{
  char *path = g_find_program_in_path(QEMU);

  if (path == NULL) {
    if (g_strcmp0(g_getenv("CI"), "true") == 0)
      g_test_fail_printf("%s is missing and CI must run this test", QEMU);
    else
      g_test_skip(QEMU " is not installed");
  }
  return path;
}

static void
on_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;
  *out = g_object_ref(result);
}

static void
iterate_until(GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration(NULL, TRUE);
}

typedef struct {
  GPtrArray *names;
  char *deleted_device;
  char *shutdown_reason;
  guint disconnects;
  gboolean disconnect_error;
} Seen;

static void
on_event(VxmQmpClient *client, const char *name, JsonObject *data, gint64 timestamp_us,
         gpointer user_data)
{
  Seen *seen = user_data;

  g_ptr_array_add(seen->names, g_strdup(name));
  if (g_str_equal(name, "DEVICE_DELETED") && json_object_has_member(data, "device"))
    seen->deleted_device = g_strdup(json_object_get_string_member(data, "device"));
  if (g_str_equal(name, "SHUTDOWN") && json_object_has_member(data, "reason"))
    seen->shutdown_reason = g_strdup(json_object_get_string_member(data, "reason"));
}

static void
on_disconnected(VxmQmpClient *client, const GError *error, gpointer user_data)
{
  Seen *seen = user_data;
  seen->disconnects++;
  seen->disconnect_error = error != NULL;
  g_test_message("QMP connection ended: %s", error ? error->message : "clean end of stream");
}

static gboolean
seen_event(Seen *seen, const char *name)
{
  for (guint i = 0; i < seen->names->len; i++) {
    if (g_str_equal(g_ptr_array_index(seen->names, i), name))
      return TRUE;
  }
  return FALSE;
}

/* Events come when QEMU sends them: the main loop runs until one arrives (or the test's
 * time limit ends it). */
static void
wait_event(Seen *seen, const char *name)
{
  while (!seen_event(seen, name))
    g_main_context_iteration(NULL, TRUE);
}

static char *
status_of(VxmQmpClient *client)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = vxm_qmp_client_execute_sync(client, "query-status", NULL, 0, &error);

  g_assert_no_error(error);
  return g_strdup(json_object_get_string_member(json_node_get_object(ret), "status"));
}

static void
execute_ok(VxmQmpClient *client, const char *command, JsonObject *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = vxm_qmp_client_execute_sync(client, command, args, 0, &error);

  g_assert_no_error(error);
  g_assert_nonnull(ret);
}

static void
wait_exit(VxmProcess *process)
{
  g_autoptr(GAsyncResult) result = NULL;

  vxm_process_wait_async(process, NULL, on_done, &result);
  iterate_until(&result);
  g_assert_true(vxm_process_wait_finish(process, result, NULL));
}

static void
test_lifecycle(void)
{
  g_autofree char *qemu = find_qemu();
  g_autofree char *dir = NULL;
  g_autofree char *sock = NULL;
  g_autofree char *log = NULL;
  g_autofree char *qmp_opt = NULL;
  g_autofree char *status = NULL;
  g_autofree char *log_text = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmProcess) process = NULL;
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(GAsyncResult) waited = NULL;
  g_autoptr(JsonObject) kbd = json_object_new();
  g_autoptr(JsonObject) del = json_object_new();
  Seen seen = {g_ptr_array_new_with_free_func(g_free)};
  gint64 t0, t_socket, t_greeting, t_ready, t_quit, t_exit;
  int fd;

  if (qemu == NULL)
    return;
  dir = vxm_test_mkdtemp();
  sock = g_build_filename(dir, "qmp.sock", NULL);
  log = g_build_filename(dir, "qemu.log", NULL);
  qmp_opt = g_strdup_printf("unix:%s,server=on,wait=off", sock);
  {
    const char *const argv[] = {
        qemu, "-machine", "q35,accel=tcg",     "-nodefaults", "-display", "none",
        "-S", "-device",  "qemu-xhci,id=xhci", "-qmp",        qmp_opt,    NULL};
    t0 = g_get_monotonic_time();
    process =
        vxm_process_spawn(argv, NULL, NULL, 0, log,
                          VXM_PROCESS_NEW_PROCESS_GROUP | VXM_PROCESS_KILL_WITH_PARENT, &error);
  }
  g_assert_no_error(error);
  g_assert_cmpint(vxm_process_get_pidfd(process), >=, 0);

  vxm_wait_for_socket_async(sock, 30000, NULL, on_done, &waited);
  iterate_until(&waited);
  fd = vxm_wait_for_socket_finish(waited, &error);
  g_assert_no_error(error);
  t_socket = g_get_monotonic_time();
  client = vxm_qmp_client_new_for_fd(fd, &error);
  g_assert_no_error(error);
  g_signal_connect(client, "event", G_CALLBACK(on_event), &seen);
  g_signal_connect(client, "disconnected", G_CALLBACK(on_disconnected), &seen);
  while (!vxm_qmp_client_get_version(client, NULL, NULL, NULL))
    g_main_context_iteration(NULL, TRUE);
  t_greeting = g_get_monotonic_time();
  g_assert_true(vxm_qmp_client_handshake_sync(client, 30000, &error));
  g_assert_no_error(error);
  t_ready = g_get_monotonic_time();
  g_test_message("QEMU under TCG: exec to socket accepting %.1f ms, to greeting %.1f ms, to "
                 "capabilities negotiated %.1f ms",
                 (t_socket - t0) / 1000.0, (t_greeting - t0) / 1000.0, (t_ready - t0) / 1000.0);
  {
    int major = 0;
    g_assert_true(vxm_qmp_client_get_version(client, &major, NULL, NULL));
    g_assert_cmpint(major, >=, 7);
  }

  status = status_of(client);
  g_assert_cmpstr(status, ==, "prelaunch");
  g_free(g_steal_pointer(&status));
  {
    gint64 start = g_get_monotonic_time();
    for (int i = 0; i < 50; i++)
      g_free(status_of(client));
    g_test_message("QMP query-status round trip: %.3f ms (mean of 50)",
                   (g_get_monotonic_time() - start) / 50000.0);
  }

  execute_ok(client, "cont", NULL);
  wait_event(&seen, "RESUME");
  status = status_of(client);
  g_assert_cmpstr(status, ==, "running");

  /* A USB keyboard unplugs at once, without guest cooperation. */
  json_object_set_string_member(kbd, "driver", "usb-kbd");
  json_object_set_string_member(kbd, "id", "kbd1");
  json_object_set_string_member(kbd, "bus", "xhci.0");
  execute_ok(client, "device_add", kbd);
  json_object_set_string_member(del, "id", "kbd1");
  execute_ok(client, "device_del", del);
  wait_event(&seen, "DEVICE_DELETED");
  g_assert_cmpstr(seen.deleted_device, ==, "kbd1");

  execute_ok(client, "stop", NULL);
  wait_event(&seen, "STOP");
  execute_ok(client, "cont", NULL);
  execute_ok(client, "system_reset", NULL);
  wait_event(&seen, "RESET");
  execute_ok(client, "system_powerdown", NULL);
  wait_event(&seen, "POWERDOWN");

  /* A QMP error from the real QEMU carries its class. */
  {
    g_autoptr(JsonNode) ret = vxm_qmp_client_execute_sync(client, "device_del", del, 0, &error);
    g_assert_null(ret);
    g_assert_error(error, VXM_QMP_ERROR, VXM_QMP_ERROR_DEVICE_NOT_FOUND);
    g_clear_error(&error);
  }

  t_quit = g_get_monotonic_time();
  execute_ok(client, "quit", NULL);
  wait_event(&seen, "SHUTDOWN");
  g_assert_cmpstr(seen.shutdown_reason, ==, "host-qmp-quit");
  wait_exit(process);
  t_exit = g_get_monotonic_time();
  g_test_message("QEMU: quit to exit reaped through the pidfd %.1f ms", (t_exit - t_quit) / 1000.0);
  g_assert_true(vxm_process_check_success(process, &error));
  g_assert_no_error(error);
  g_assert_cmpint(vxm_process_get_exit_status(process), ==, 0);
  while (seen.disconnects == 0)
    g_main_context_iteration(NULL, TRUE);
  g_assert_false(vxm_qmp_client_is_connected(client));
  g_assert_false(seen.disconnect_error); /* quit is a clean end, not a failure */

  g_assert_true(g_file_get_contents(log, &log_text, NULL, NULL));
  g_assert_nonnull(strstr(log_text, "vxm: starting "));

  g_ptr_array_unref(seen.names);
  g_free(seen.deleted_device);
  g_free(seen.shutdown_reason);
  vxm_test_rm_rf(dir);
}

/* The race-free way: the supervisor binds and listens, QEMU inherits the listening socket,
 * and the client connects before QEMU even runs. */
static void
test_prebound_socket(void)
{
  g_autofree char *qemu = find_qemu();
  g_autofree char *dir = NULL;
  g_autofree char *sock = NULL;
  g_autofree char *status = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmProcess) process = NULL;
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  vxm_autofd int listener = -1;
  gboolean killed = TRUE;

  if (qemu == NULL)
    return;
  dir = vxm_test_mkdtemp();
  sock = g_build_filename(dir, "qmp.sock", NULL);
  g_strlcpy(addr.sun_path, sock, sizeof(addr.sun_path));
  listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint(bind(listener, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
  g_assert_cmpint(listen(listener, 1), ==, 0);
  client = vxm_qmp_client_new_for_path(sock, &error);
  g_assert_no_error(error);
  {
    const char *const argv[] = {qemu,
                                "-machine",
                                "q35,accel=tcg",
                                "-nodefaults",
                                "-display",
                                "none",
                                "-S",
                                "-chardev",
                                "socket,id=qmp,fd=3,server=on,wait=off",
                                "-mon",
                                "chardev=qmp,mode=control",
                                NULL};
    VxmProcessFd fds[] = {{listener, 3}};
    process = vxm_process_spawn(argv, NULL, fds, 1, NULL, VXM_PROCESS_KILL_WITH_PARENT, &error);
  }
  g_assert_no_error(error);
  vxm_close_fdp(&listener);
  g_assert_true(vxm_qmp_client_handshake_sync(client, 30000, &error));
  g_assert_no_error(error);
  status = status_of(client);
  g_assert_cmpstr(status, ==, "prelaunch");

  /* SIGTERM is a clean stop for QEMU: no SIGKILL needed. */
  vxm_process_terminate_async(process, SIGTERM, 10000, NULL, on_done, &result);
  iterate_until(&result);
  g_assert_true(vxm_process_terminate_finish(process, result, &killed, &error));
  g_assert_false(killed);
  g_test_message("QEMU after SIGTERM: exit status %d, signal %d",
                 vxm_process_get_exit_status(process), vxm_process_get_term_signal(process));
  g_assert_true(vxm_process_get_exit_status(process) == 0 ||
                vxm_process_get_term_signal(process) == SIGTERM);
  vxm_test_rm_rf(dir);
}

static void
test_bad_option(void)
{
  g_autofree char *qemu = find_qemu();
  g_autofree char *dir = NULL;
  g_autofree char *log = NULL;
  g_autofree char *log_text = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmProcess) process = NULL;

  if (qemu == NULL)
    return;
  dir = vxm_test_mkdtemp();
  log = g_build_filename(dir, "qemu.log", NULL);
  {
    const char *const argv[] = {qemu, "-no-such-option-at-all", NULL};
    process = vxm_process_spawn(argv, NULL, NULL, 0, log, 0, &error);
  }
  g_assert_no_error(error);
  wait_exit(process);
  g_assert_cmpint(vxm_process_get_exit_status(process), ==, 1);
  g_assert_false(vxm_process_check_success(process, &error));
  /* The error sends the user to the log, and the log says what QEMU disliked. */
  g_assert_nonnull(strstr(error->message, log));
  g_assert_true(g_file_get_contents(log, &log_text, NULL, NULL));
  g_assert_nonnull(strstr(log_text, "-no-such-option-at-all"));
  vxm_test_rm_rf(dir);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/qmp/qemu/lifecycle", test_lifecycle);
  g_test_add_func("/vxm/qmp/qemu/prebound-socket", test_prebound_socket);
  g_test_add_func("/vxm/qmp/qemu/bad-option", test_bad_option);
  return g_test_run();
}
