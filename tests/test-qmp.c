/* The QMP client against the scripted fake server (tests/vxm-fake-qmp.c). */
#include <json-glib/json-glib.h>

#include "common/vxm-error.h"
#include "qemu/vxm-qmp-client.h"
#include "vxm-fake-qmp.h"
#include "vxm-test-util.h"

typedef struct {
  GAsyncResult *result;
} Wait;

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

static VxmQmpClient *
connect_ready(VxmFakeQmp *fake)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQmpClient) client = vxm_qmp_client_new_for_path(vxm_fake_qmp_get_path(fake), &error);

  g_assert_no_error(error);
  g_assert_true(vxm_qmp_client_handshake_sync(client, 5000, &error));
  g_assert_no_error(error);
  return g_steal_pointer(&client);
}

/* Runs @command and returns its "return" member serialised, or NULL with @error. */
static char *
run(VxmQmpClient *client, const char *command, guint timeout_ms, GError **error)
{
  g_autoptr(JsonNode) ret = vxm_qmp_client_execute_sync(client, command, NULL, timeout_ms, error);
  return ret ? json_to_string(ret, FALSE) : NULL;
}

static void
test_handshake(void)
{
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(VxmQmpClient) client = NULL;
  int major = 0, minor = 0, micro = 0;

  vxm_fake_qmp_expect_handshake(fake);
  client = connect_ready(fake);
  g_assert_true(vxm_qmp_client_is_ready(client));
  g_assert_true(vxm_qmp_client_get_version(client, &major, &minor, &micro));
  g_assert_cmpint(major, ==, 7);
  g_assert_cmpint(minor, ==, 2);
  g_assert_cmpint(micro, ==, 22);
  g_assert_cmpstr(vxm_qmp_client_get_package(client), ==, "Debian 1:7.2+dfsg-7+deb12u18+b3");
  g_assert_cmpstrv(vxm_qmp_client_get_capabilities(client), ((const char *[]){"oob", NULL}));
  vxm_fake_qmp_assert_done(fake);
}

static void
test_handshake_refused(void)
{
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQmpClient) client = vxm_qmp_client_new_for_path(vxm_fake_qmp_get_path(fake), &error);

  vxm_fake_qmp_greet(fake);
  vxm_fake_qmp_expect(fake, "qmp_capabilities",
                      "{\"error\": {\"class\": \"GenericError\", \"desc\": \"nope\"}}");
  g_assert_false(vxm_qmp_client_handshake_sync(client, 5000, &error));
  g_assert_error(error, VXM_QMP_ERROR, VXM_QMP_ERROR_GENERIC);
  g_assert_false(vxm_qmp_client_is_ready(client));
  vxm_fake_qmp_assert_done(fake);
}

static void
test_no_greeting(void)
{
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQmpClient) client = vxm_qmp_client_new_for_path(vxm_fake_qmp_get_path(fake), &error);

  g_assert_false(vxm_qmp_client_handshake_sync(client, 50, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_TIMEOUT);
  g_assert_nonnull(strstr(error->message, "greeting"));
}

static void
test_commands(void)
{
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) args = json_object_new();
  g_autoptr(JsonNode) ret = NULL;
  g_autoptr(GPtrArray) received = NULL;
  g_autofree char *status = NULL;

  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect(fake, "query-status",
                      "{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, "
                      "\"running\": false}}");
  vxm_fake_qmp_expect(fake, "device_del", "{\"return\": {}}");
  client = connect_ready(fake);
  status = run(client, "query-status", 0, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(status, ==, "{\"status\":\"prelaunch\",\"singlestep\":false,\"running\":false}");

  json_object_set_string_member(args, "id", "kbd0");
  ret = vxm_qmp_client_execute_sync(client, "device_del", args, 0, &error);
  g_assert_no_error(error);
  g_assert_true(JSON_NODE_HOLDS_OBJECT(ret));
  vxm_fake_qmp_assert_done(fake);

  /* What QEMU saw: ids counting up, arguments passed through. */
  received = vxm_fake_qmp_get_received(fake);
  g_assert_cmpuint(received->len, ==, 3);
  g_assert_cmpstr(g_ptr_array_index(received, 0), ==,
                  "{\"execute\":\"qmp_capabilities\",\"id\":1}");
  g_assert_cmpstr(g_ptr_array_index(received, 1), ==, "{\"execute\":\"query-status\",\"id\":2}");
  g_assert_cmpstr(g_ptr_array_index(received, 2), ==,
                  "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"kbd0\"},\"id\":3}");
}

static void
test_error_reply(void)
{
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;
  g_autofree char *ret = NULL;
  g_autofree char *ret2 = NULL;

  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect(fake, "device_del",
                      "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device 'nope' not "
                      "found\"}}");
  vxm_fake_qmp_expect(fake, "x-frobnicate",
                      "{\"error\": {\"class\": \"SomethingNew\", \"desc\": \"new class\"}}");
  client = connect_ready(fake);
  ret = run(client, "device_del", 0, &error);
  g_assert_null(ret);
  g_assert_error(error, VXM_QMP_ERROR, VXM_QMP_ERROR_DEVICE_NOT_FOUND);
  g_assert_cmpstr(vxm_qmp_error_get_class(error), ==, "DeviceNotFound");
  g_assert_cmpstr(vxm_qmp_error_get_desc(error), ==, "Device 'nope' not found");
  g_assert_nonnull(strstr(error->message, "device_del"));
  /* A class this QEMU does not know yet still carries its name. */
  ret2 = run(client, "x-frobnicate", 0, &error2);
  g_assert_error(error2, VXM_QMP_ERROR, VXM_QMP_ERROR_GENERIC);
  g_assert_cmpstr(vxm_qmp_error_get_class(error2), ==, "SomethingNew");
  g_assert_null(vxm_qmp_error_get_class(NULL));
  vxm_fake_qmp_assert_done(fake);
}

typedef struct {
  const char *name;
  GAsyncResult *result;
  char *value;
} Cmd;

static void
on_cmd_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
  Cmd *cmd = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = vxm_qmp_client_execute_finish(VXM_QMP_CLIENT(source), result, &error);

  g_assert_no_error(error);
  cmd->value = json_to_string(ret, FALSE);
  cmd->result = g_object_ref(result);
}

static void
test_out_of_order(void)
{
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(VxmQmpClient) client = NULL;
  Cmd a = {"query-status"}, b = {"query-version"}, c = {"query-name"};
  guint ha, hb, hc;

  vxm_fake_qmp_expect_handshake(fake);
  ha = vxm_fake_qmp_expect_deferred(fake, "query-status");
  hb = vxm_fake_qmp_expect_deferred(fake, "query-version");
  hc = vxm_fake_qmp_expect_deferred(fake, "query-name");
  vxm_fake_qmp_reply_deferred(fake, hc, "{\"return\": \"c\"}");
  vxm_fake_qmp_reply_deferred(fake, ha, "{\"return\": \"a\"}");
  vxm_fake_qmp_reply_deferred(fake, hb, "{\"return\": \"b\"}");
  client = connect_ready(fake);
  vxm_qmp_client_execute_async(client, a.name, NULL, 0, NULL, on_cmd_done, &a);
  vxm_qmp_client_execute_async(client, b.name, NULL, 0, NULL, on_cmd_done, &b);
  vxm_qmp_client_execute_async(client, c.name, NULL, 0, NULL, on_cmd_done, &c);
  iterate_until(&a.result);
  iterate_until(&b.result);
  iterate_until(&c.result);
  g_assert_cmpstr(a.value, ==, "\"a\"");
  g_assert_cmpstr(b.value, ==, "\"b\"");
  g_assert_cmpstr(c.value, ==, "\"c\"");
  vxm_fake_qmp_assert_done(fake);
  for (Cmd *cmd = &a; cmd != NULL; cmd = cmd == &a ? &b : cmd == &b ? &c : NULL) {
    g_object_unref(cmd->result);
    g_free(cmd->value);
  }
}

static void
test_timeout(void)
{
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *slow = NULL;
  g_autofree char *next = NULL;
  guint handle;

  vxm_fake_qmp_expect_handshake(fake);
  handle = vxm_fake_qmp_expect_deferred(fake, "query-status");
  vxm_fake_qmp_expect(fake, "query-name", "{\"return\": {\"name\": \"win11\"}}");
  vxm_fake_qmp_reply_deferred(fake, handle, "{\"return\": {\"status\": \"late\"}}");
  client = connect_ready(fake);
  slow = run(client, "query-status", 50, &error);
  g_assert_null(slow);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_TIMEOUT);
  g_assert_nonnull(strstr(error->message, "query-status"));
  /* The late reply to the abandoned command does not answer the next one. */
  next = run(client, "query-name", 0, NULL);
  g_assert_cmpstr(next, ==, "{\"name\":\"win11\"}");
  g_assert_true(vxm_qmp_client_is_connected(client));
  vxm_fake_qmp_assert_done(fake);
}

static void
test_cancel(void)
{
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect_deferred(fake, "query-status");
  client = connect_ready(fake);
  vxm_qmp_client_execute_async(client, "query-status", NULL, 0, cancellable, on_done, &result);
  g_cancellable_cancel(cancellable);
  iterate_until(&result);
  ret = vxm_qmp_client_execute_finish(client, result, &error);
  g_assert_null(ret);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  vxm_fake_qmp_assert_done(fake);
}

typedef struct {
  GPtrArray *names;
  GPtrArray *data;
  GArray *timestamps;
  guint shutdowns;
} Events;

static void
on_event(VxmQmpClient *client, const char *name, JsonObject *data, gint64 timestamp_us,
         gpointer user_data)
{
  Events *events = user_data;
  g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);

  json_node_set_object(node, data);
  g_ptr_array_add(events->names, g_strdup(name));
  g_ptr_array_add(events->data, json_to_string(node, FALSE));
  g_array_append_val(events->timestamps, timestamp_us);
}

static void
on_shutdown(VxmQmpClient *client, const char *name, JsonObject *data, gint64 timestamp_us,
            gpointer user_data)
{
  Events *events = user_data;
  g_assert_cmpstr(name, ==, "SHUTDOWN");
  events->shutdowns++;
}

static void
test_events(void)
{
  static const char *const names[] = {"SHUTDOWN",       "POWERDOWN",  "RESET",
                                      "STOP",           "RESUME",     "GUEST_PANICKED",
                                      "DEVICE_DELETED", "X_NEW_THING"};
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(VxmQmpClient) client = NULL;
  g_autofree char *ret = NULL;
  Events events = {g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free),
                   g_array_new(FALSE, FALSE, sizeof(gint64)), 0};
  gint64 before = g_get_real_time();

  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect(fake, "cont", "{\"return\": {}}");
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    const char *data = NULL;
    if (g_str_equal(names[i], "SHUTDOWN"))
      data = "{\"guest\": true, \"reason\": \"guest-shutdown\"}";
    else if (g_str_equal(names[i], "DEVICE_DELETED"))
      data = "{\"device\": \"kbd1\", \"path\": \"/machine/peripheral/kbd1\"}";
    else if (g_str_equal(names[i], "GUEST_PANICKED"))
      data = "{\"action\": \"pause\"}";
    vxm_fake_qmp_send_event(fake, names[i], data);
  }
  vxm_fake_qmp_send_raw(fake, "{\"event\": \"NO_DATA_NO_TIME\"}\r\n");
  vxm_fake_qmp_expect(fake, "query-status", "{\"return\": {}}");
  client = connect_ready(fake);
  g_signal_connect(client, "event", G_CALLBACK(on_event), &events);
  g_signal_connect(client, "event::SHUTDOWN", G_CALLBACK(on_shutdown), &events);
  /* Events arrive while commands are in flight; a command after them orders the check. */
  ret = run(client, "cont", 0, NULL);
  g_assert_cmpstr(ret, ==, "{}");
  g_free(g_steal_pointer(&ret));
  ret = run(client, "query-status", 0, NULL);
  g_assert_cmpstr(ret, ==, "{}");

  g_assert_cmpuint(events.names->len, ==, G_N_ELEMENTS(names) + 1);
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    g_assert_cmpstr(g_ptr_array_index(events.names, i), ==, names[i]);
    g_assert_cmpint(g_array_index(events.timestamps, gint64, i), >=, before - G_USEC_PER_SEC);
  }
  g_assert_cmpstr(g_ptr_array_index(events.data, 0), ==,
                  "{\"guest\":true,\"reason\":\"guest-shutdown\"}");
  g_assert_cmpstr(g_ptr_array_index(events.data, 6), ==,
                  "{\"device\":\"kbd1\",\"path\":\"/machine/peripheral/kbd1\"}");
  g_assert_cmpstr(g_ptr_array_index(events.data, 1), ==, "{}");
  g_assert_cmpstr(g_ptr_array_index(events.names, 8), ==, "NO_DATA_NO_TIME");
  g_assert_cmpint(g_array_index(events.timestamps, gint64, 8), ==, -1);
  g_assert_cmpuint(events.shutdowns, ==, 1);
  vxm_fake_qmp_assert_done(fake);
  g_ptr_array_unref(events.names);
  g_ptr_array_unref(events.data);
  g_array_unref(events.timestamps);
}

typedef struct {
  guint count;
  GError *error;
} Disconnect;

static void
on_disconnected(VxmQmpClient *client, const GError *error, gpointer user_data)
{
  Disconnect *d = user_data;
  d->count++;
  d->error = error ? g_error_copy(error) : NULL;
}

/* Sends @command, lets the fake misbehave, returns the command's error. */
static GError *
command_against(VxmFakeQmp *fake, Disconnect *d, VxmQmpClient **out_client)
{
  g_autoptr(VxmQmpClient) client = connect_ready(fake);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonNode) ret = NULL;
  GError *error = NULL;

  g_signal_connect(client, "disconnected", G_CALLBACK(on_disconnected), d);
  vxm_qmp_client_execute_async(client, "query-status", NULL, 5000, NULL, on_done, &result);
  iterate_until(&result);
  ret = vxm_qmp_client_execute_finish(client, result, &error);
  g_assert_null(ret);
  g_assert_false(vxm_qmp_client_is_connected(client));
  g_assert_cmpuint(d->count, ==, 1);
  *out_client = g_steal_pointer(&client);
  return error;
}

static void
test_garbage(void)
{
  static const char *const garbage[] = {
      "this is not json\r\n",
      "[1, 2, 3]\r\n",
      "{\"neither\": \"return nor event\"}\r\n",
      "{\"error\": {\"class\": 42}}\r\n",
      "{\"return\": {}, \"id\": 2}\xff\xfe\r\n",
      "{\"event\": {\"not\": \"a string\"}}\r\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS(garbage); i++) {
    g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
    g_autoptr(VxmQmpClient) client = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) after = NULL;
    Disconnect d = {0};

    vxm_fake_qmp_expect_handshake(fake);
    vxm_fake_qmp_expect_deferred(fake, "query-status");
    vxm_fake_qmp_send_raw(fake, garbage[i]);
    vxm_fake_qmp_wait_client_close(fake);
    error = command_against(fake, &d, &client);
    g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
    g_assert_error(d.error, VXM_ERROR, VXM_ERROR_PROTOCOL);
    g_test_message("garbage %zu: %s", i, error->message);
    g_clear_error(&error);
    /* Once disconnected, commands fail at once instead of hanging. */
    after = vxm_qmp_client_execute_sync(client, "query-status", NULL, 0, &error);
    g_assert_null(after);
    g_assert_error(error, VXM_ERROR, VXM_ERROR_IO);
    vxm_fake_qmp_assert_done(fake);
    g_clear_error(&d.error);
  }
}

static void
test_truncated(void)
{
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  Disconnect d = {0};

  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect_deferred(fake, "query-status");
  vxm_fake_qmp_send_raw(fake, "{\"return\": {\"status\": \"runn");
  vxm_fake_qmp_close(fake);
  error = command_against(fake, &d, &client);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
  g_assert_nonnull(strstr(error->message, "query-status"));
  g_assert_error(d.error, VXM_ERROR, VXM_ERROR_PROTOCOL);
  g_assert_nonnull(strstr(d.error->message, "middle of a message"));
  vxm_fake_qmp_assert_done(fake);
  g_clear_error(&d.error);
}

static void
test_closed_mid_command(void)
{
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  Disconnect d = {0};

  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect_deferred(fake, "query-status");
  vxm_fake_qmp_close(fake);
  error = command_against(fake, &d, &client);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_IO);
  g_assert_nonnull(strstr(error->message, "'query-status'"));
  g_assert_nonnull(strstr(error->message, "closed"));
  g_assert_null(d.error); /* a clean end of stream */
  vxm_fake_qmp_assert_done(fake);
}

static void
test_unknown_id(void)
{
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(VxmQmpClient) client = NULL;
  g_autofree char *ret = NULL;

  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_send_raw(fake, "{\"return\": {}, \"id\": 9999}\r\n{\"return\": {}, \"id\": "
                              "\"libvirt-1\"}\r\n{\"return\": {}}\r\n");
  vxm_fake_qmp_expect(fake, "query-name", "{\"return\": {}}");
  client = connect_ready(fake);
  ret = run(client, "query-name", 0, NULL);
  g_assert_cmpstr(ret, ==, "{}");
  g_assert_true(vxm_qmp_client_is_connected(client));
  vxm_fake_qmp_assert_done(fake);
}

static void
test_pipelined(void)
{
  enum { N = 300 };
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(GPtrArray) received = NULL;
  Cmd *cmds = g_new0(Cmd, N);

  vxm_fake_qmp_expect_handshake(fake);
  for (guint i = 0; i < N; i++) {
    g_autofree char *reply = g_strdup_printf("{\"return\": {\"n\": %u}}", i);
    vxm_fake_qmp_expect(fake, "query-status", reply);
  }
  client = connect_ready(fake);
  for (guint i = 0; i < N; i++)
    vxm_qmp_client_execute_async(client, "query-status", NULL, 0, NULL, on_cmd_done, &cmds[i]);
  for (guint i = 0; i < N; i++) {
    g_autofree char *expected = g_strdup_printf("{\"n\":%u}", i);
    iterate_until(&cmds[i].result);
    g_assert_cmpstr(cmds[i].value, ==, expected);
    g_object_unref(cmds[i].result);
    g_free(cmds[i].value);
  }
  vxm_fake_qmp_assert_done(fake);
  received = vxm_fake_qmp_get_received(fake);
  g_assert_cmpuint(received->len, ==, N + 1);
  g_free(cmds);
}

static void
test_queued_before_handshake(void)
{
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQmpClient) client = vxm_qmp_client_new_for_path(vxm_fake_qmp_get_path(fake), &error);
  g_autoptr(GAsyncResult) hs = NULL;
  g_autoptr(GPtrArray) received = NULL;
  Cmd cmd = {"query-status"};

  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect(fake, "query-status", "{\"return\": \"after\"}");
  vxm_qmp_client_handshake_async(client, 5000, NULL, on_done, &hs);
  vxm_qmp_client_execute_async(client, "query-status", NULL, 0, NULL, on_cmd_done, &cmd);
  iterate_until(&cmd.result);
  iterate_until(&hs);
  g_assert_true(vxm_qmp_client_handshake_finish(client, hs, &error));
  g_assert_cmpstr(cmd.value, ==, "\"after\"");
  vxm_fake_qmp_assert_done(fake);
  received = vxm_fake_qmp_get_received(fake);
  g_assert_nonnull(strstr(g_ptr_array_index(received, 0), "qmp_capabilities"));
  g_object_unref(cmd.result);
  g_free(cmd.value);
}

static void
test_close(void)
{
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;
  Disconnect d = {0};

  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect_deferred(fake, "query-status");
  vxm_fake_qmp_wait_client_close(fake);
  client = connect_ready(fake);
  g_signal_connect(client, "disconnected", G_CALLBACK(on_disconnected), &d);
  vxm_qmp_client_execute_async(client, "query-status", NULL, 0, NULL, on_done, &result);
  vxm_qmp_client_close(client);
  vxm_qmp_client_close(client);
  iterate_until(&result);
  ret = vxm_qmp_client_execute_finish(client, result, &error);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint(d.count, ==, 1);
  g_assert_null(d.error);
  /* The fake's read returns end of stream: the socket really was closed. */
  vxm_fake_qmp_assert_done(fake);
}

static void
test_new_for_socket(void)
{
  g_autoptr(VxmFakeQmp) fake = vxm_fake_qmp_new();
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new(vxm_fake_qmp_get_path(fake));
  g_autoptr(GSocket) socket =
      g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_autoptr(VxmQmpClient) client = NULL;
  g_autofree char *ret = NULL;

  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect(fake, "query-status", "{\"return\": 1}");
  g_assert_true(g_socket_connect(socket, address, NULL, &error));
  client = vxm_qmp_client_new_for_socket(socket, &error);
  g_assert_no_error(error);
  g_assert_true(vxm_qmp_client_handshake_sync(client, 5000, &error));
  ret = run(client, "query-status", 0, &error);
  g_assert_cmpstr(ret, ==, "1");
  vxm_fake_qmp_assert_done(fake);
}

static void
test_connect_refused(void)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *path = g_build_filename(dir, "missing.sock", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQmpClient) client = vxm_qmp_client_new_for_path(path, &error);

  g_assert_null(client);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, path));
  vxm_test_rm_rf(dir);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/qmp/client/handshake", test_handshake);
  g_test_add_func("/vxm/qmp/client/handshake-refused", test_handshake_refused);
  g_test_add_func("/vxm/qmp/client/no-greeting", test_no_greeting);
  g_test_add_func("/vxm/qmp/client/commands", test_commands);
  g_test_add_func("/vxm/qmp/client/error-reply", test_error_reply);
  g_test_add_func("/vxm/qmp/client/out-of-order", test_out_of_order);
  g_test_add_func("/vxm/qmp/client/timeout", test_timeout);
  g_test_add_func("/vxm/qmp/client/cancel", test_cancel);
  g_test_add_func("/vxm/qmp/client/events", test_events);
  g_test_add_func("/vxm/qmp/client/garbage", test_garbage);
  g_test_add_func("/vxm/qmp/client/truncated", test_truncated);
  g_test_add_func("/vxm/qmp/client/closed-mid-command", test_closed_mid_command);
  g_test_add_func("/vxm/qmp/client/unknown-id", test_unknown_id);
  g_test_add_func("/vxm/qmp/client/pipelined", test_pipelined);
  g_test_add_func("/vxm/qmp/client/queued-before-handshake", test_queued_before_handshake);
  g_test_add_func("/vxm/qmp/client/close", test_close);
  g_test_add_func("/vxm/qmp/client/new-for-socket", test_new_for_socket);
  g_test_add_func("/vxm/qmp/client/connect-refused", test_connect_refused);
  return g_test_run();
}
