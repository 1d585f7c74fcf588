/* vxm-control-client: blocking JSON-lines requests to a supervisor's control socket. */
#include "supervisor/vxm-control-client.h"

#include <string.h>

#include "common/vxm-error.h"
#include "supervisor/vxm-control-server.h"

static GSocketConnection *
connect_control(const VxmVmPaths *paths, GError **error)
{
  g_autofree char *path = vxm_control_socket_path(paths);
  g_autoptr(GSocketClient) client = g_socket_client_new();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new(path);
  g_autoptr(GError) local_error = NULL;
  GSocketConnection *connection;

  connection = g_socket_client_connect(client, G_SOCKET_CONNECTABLE(address), NULL, &local_error);
  if (connection == NULL) {
    if (g_error_matches(local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
        g_error_matches(local_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
      g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                  "VM %s is not running (no supervisor "
                  "listens on %s)",
                  paths->name, path);
    else
      g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "cannot reach VM %s's supervisor at %s: %s",
                  paths->name, path, local_error->message);
    return NULL;
  }
  return connection;
}

static gboolean
send_line(GSocketConnection *connection, JsonObject *request, GError **error)
{
  g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), request);
  g_autofree char *text = json_to_string(node, FALSE);
  g_autofree char *line = g_strconcat(text, "\n", NULL);
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(connection));

  if (!g_output_stream_write_all(out, line, strlen(line), NULL, NULL, error)) {
    g_prefix_error(error, "cannot send to the supervisor: ");
    return FALSE;
  }
  return TRUE;
}

/* The next line as an object; NULL with @error unset at the end of the stream. */
static JsonObject *
read_object(GDataInputStream *input, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_utf8(input, NULL, NULL, &local_error);

  if (line == NULL) {
    if (local_error != NULL)
      g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "reading from the supervisor: %s",
                  local_error->message);
    return NULL;
  }
  if (!json_parser_load_from_data(parser, line, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "the supervisor sent something that is "
                "not a JSON object: %s",
                line);
    return NULL;
  }
  return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

static gboolean
check_error_reply(JsonObject *reply, GError **error)
{
  if (json_object_has_member(reply, "error")) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "the supervisor refused the request: %s",
                json_object_get_string_member_with_default(reply, "error", "?"));
    return FALSE;
  }
  return TRUE;
}

JsonObject *
vxm_control_request(const VxmVmPaths *paths, JsonObject *request, guint timeout_ms, GError **error)
{
  g_autoptr(GSocketConnection) connection = connect_control(paths, error);
  g_autoptr(GDataInputStream) input = NULL;
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(GError) local_error = NULL;

  if (connection == NULL)
    return NULL;
  g_socket_set_timeout(g_socket_connection_get_socket(connection),
                       (timeout_ms > 0 ? timeout_ms : 10000 + 999) / 1000);
  if (!send_line(connection, request, error))
    return NULL;
  input = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(connection)));
  reply = read_object(input, &local_error);
  if (reply == NULL) {
    if (local_error == NULL)
      g_set_error(error, VXM_ERROR, VXM_ERROR_IO,
                  "VM %s's supervisor closed the connection "
                  "without an answer",
                  paths->name);
    else
      g_propagate_error(error, g_steal_pointer(&local_error));
    return NULL;
  }
  if (!check_error_reply(reply, error))
    return NULL;
  return g_steal_pointer(&reply);
}

JsonObject *
vxm_control_follow(const VxmVmPaths *paths, JsonObject *request, guint timeout_ms,
                   VxmControlEventFunc func, gpointer user_data, GError **error)
{
  g_autoptr(GSocketConnection) connection = connect_control(paths, error);
  g_autoptr(GDataInputStream) input = NULL;

  if (connection == NULL)
    return NULL;
  g_socket_set_timeout(g_socket_connection_get_socket(connection), (timeout_ms + 999) / 1000);
  if (!send_line(connection, request, error))
    return NULL;
  input = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(connection)));
  for (;;) {
    g_autoptr(GError) local_error = NULL;
    g_autoptr(JsonObject) event = read_object(input, &local_error);

    if (event == NULL) {
      if (local_error != NULL)
        g_propagate_error(error, g_steal_pointer(&local_error));
      else
        g_set_error(error, VXM_ERROR, VXM_ERROR_IO,
                    "VM %s's supervisor went away before it finished: read %s", paths->name,
                    paths->vxm_log);
      return NULL;
    }
    if (!check_error_reply(event, error))
      return NULL;
    if (g_strcmp0(json_object_get_string_member_with_default(event, "event", ""), "finished") ==
        0) {
      JsonNode *status = json_object_get_member(event, "status");

      if (status == NULL || !JSON_NODE_HOLDS_OBJECT(status)) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                    "the supervisor's last message has "
                    "no status");
        return NULL;
      }
      return json_object_ref(json_node_get_object(status));
    }
    if (func != NULL && json_object_has_member(event, "event") && !func(event, user_data)) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "stopped following");
      return NULL;
    }
  }
}
