/* vxm-control-server: JSON lines over the VM's control socket, on the main loop. */
#include "supervisor/vxm-control-server.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"

#define MAX_REQUEST 4096

typedef struct {
  VxmControlServer *server;
  GSocketConnection *connection;
  GDataInputStream *input;
  GCancellable *cancellable;
  gboolean watching;
} Client;

struct _VxmControlServer {
  VxmSupervisor *supervisor;
  GSocketService *service;
  char *path;
  GPtrArray *clients; /* Client */
  gulong progress_id;
  gulong finished_id;
};

char *
vxm_control_socket_path(const VxmVmPaths *paths)
{
  return g_build_filename(paths->runtime_dir, "control.sock", NULL);
}

static void
client_free(Client *client)
{
  g_cancellable_cancel(client->cancellable);
  g_io_stream_close(G_IO_STREAM(client->connection), NULL, NULL);
  g_clear_object(&client->input);
  g_clear_object(&client->connection);
  g_clear_object(&client->cancellable);
  g_free(client);
}

static void
client_drop(Client *client)
{
  g_ptr_array_remove(client->server->clients, client);
}

/* One line; a client that does not read is dropped rather than allowed to block us. */
static gboolean
client_send(Client *client, JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), object);
  g_autofree char *text = json_to_string(node, FALSE);
  g_autofree char *line = g_strconcat(text, "\n", NULL);
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(client->connection));

  return g_output_stream_write_all(out, line, strlen(line), NULL, NULL, NULL);
}

static void
send_error(Client *client, const char *message)
{
  g_autoptr(JsonObject) reply = json_object_new();

  json_object_set_string_member(reply, "error", message);
  client_send(client, reply);
  client_drop(client);
}

static void read_next(Client *client);

static void
send_status(Client *client)
{
  g_autoptr(JsonObject) reply = json_object_new();
  JsonNode *status = vxm_supervisor_to_json(client->server->supervisor);

  json_object_set_member(reply, "status", status);
  client_send(client, reply);
}

typedef struct {
  VxmControlServer *server;
  Client *client;
} StatusQuery;

static void
on_query_status(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree StatusQuery *query = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = vxm_qmp_client_execute_finish(VXM_QMP_CLIENT(source), result, &error);
  g_autoptr(JsonObject) answer = json_object_new();
  JsonNode *status;

  /* the client may have gone, or the server with it */
  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (!g_ptr_array_find(query->server->clients, query->client, NULL))
    return;
  status = vxm_supervisor_to_json(query->server->supervisor);
  if (reply != NULL && JSON_NODE_HOLDS_OBJECT(reply)) {
    JsonObject *obj = json_node_get_object(reply);

    json_object_set_string_member(
        json_node_get_object(status), "run_state",
        json_object_get_string_member_with_default(obj, "status", "unknown"));
  }
  json_object_set_member(answer, "status", status);
  client_send(query->client, answer);
  read_next(query->client);
}

static void
on_query(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree StatusQuery *query = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = vxm_qmp_client_execute_finish(VXM_QMP_CLIENT(source), result, &error);
  g_autoptr(JsonObject) answer = json_object_new();

  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (!g_ptr_array_find(query->server->clients, query->client, NULL))
    return;
  if (reply == NULL) {
    send_error(query->client, error->message);
    return;
  }
  json_object_set_member(answer, "return", g_steal_pointer(&reply));
  client_send(query->client, answer);
  read_next(query->client);
}

static void
handle_request(Client *client, const char *line)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject *request;
  const char *command;

  if (!json_parser_load_from_data(parser, line, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
    send_error(client, "a request is one JSON object per line");
    return;
  }
  request = json_node_get_object(json_parser_get_root(parser));
  command = json_object_get_string_member_with_default(request, "command", "");
  if (g_strcmp0(command, "status") == 0) {
    VxmQmpClient *qmp = vxm_supervisor_get_qmp(client->server->supervisor);

    if (qmp != NULL) {
      StatusQuery *query = g_new0(StatusQuery, 1);

      query->server = client->server;
      query->client = client;
      vxm_qmp_client_execute_async(qmp, "query-status", NULL, 2000, client->cancellable,
                                   on_query_status, query);
      return;
    }
    send_status(client);
    read_next(client);
  } else if (g_strcmp0(command, "qmp-query") == 0) {
    VxmQmpClient *qmp = vxm_supervisor_get_qmp(client->server->supervisor);
    const char *execute = json_object_get_string_member_with_default(request, "execute", "");
    StatusQuery *query;

    /* read-only QMP commands only: the supervisor owns QEMU's state */
    if (!g_str_has_prefix(execute, "query-")) {
      send_error(client, "qmp-query runs QMP query-* commands only");
      return;
    }
    if (qmp == NULL) {
      send_error(client, "QEMU's monitor is not connected");
      return;
    }
    query = g_new0(StatusQuery, 1);
    query->server = client->server;
    query->client = client;
    vxm_qmp_client_execute_async(qmp, execute, NULL, 5000, client->cancellable, on_query, query);
  } else if (g_strcmp0(command, "stop") == 0 || g_strcmp0(command, "watch") == 0) {
    client->watching = TRUE;
    if (g_strcmp0(command, "stop") == 0) {
      g_autoptr(JsonObject) ok = json_object_new();

      json_object_set_boolean_member(ok, "ok", TRUE);
      client_send(client, ok);
      vxm_supervisor_stop(client->server->supervisor,
                          json_object_get_boolean_member_with_default(request, "force", FALSE),
                          (gint)json_object_get_int_member_with_default(request, "timeout", -1));
    }
    /* a watcher reads nothing more; it gets events until "finished" */
  } else {
    g_autofree char *message =
        g_strdup_printf("unknown command \"%s\" (known: status, qmp-query, stop, watch)", command);

    send_error(client, message);
  }
}

static void
on_line(GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;
  gsize length = 0;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8(G_DATA_INPUT_STREAM(source),
                                                                    result, &length, &error);

  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return; /* client freed */
  if (line == NULL) {
    if (!client->watching)
      client_drop(client);
    return;
  }
  if (length > MAX_REQUEST) {
    send_error(client, "request too long");
    return;
  }
  handle_request(client, line);
}

static void
read_next(Client *client)
{
  g_data_input_stream_read_line_async(client->input, G_PRIORITY_DEFAULT, client->cancellable,
                                      on_line, client);
}

static gboolean
on_incoming(GSocketService *service, GSocketConnection *connection, GObject *source_object,
            gpointer user_data)
{
  VxmControlServer *server = user_data;
  Client *client = g_new0(Client, 1);
  GSocket *socket = g_socket_connection_get_socket(connection);

  (void)service;
  (void)source_object;
  g_socket_set_timeout(socket, 2);
  client->server = server;
  client->connection = g_object_ref(connection);
  client->cancellable = g_cancellable_new();
  client->input = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(connection)));
  g_ptr_array_add(server->clients, client);
  read_next(client);
  return TRUE;
}

static void
on_progress(VxmSupervisor *supervisor, JsonObject *event, gpointer user_data)
{
  VxmControlServer *server = user_data;

  (void)supervisor;
  for (guint i = server->clients->len; i-- > 0;) {
    Client *client = g_ptr_array_index(server->clients, i);

    if (client->watching && !client_send(client, event))
      client_drop(client);
  }
}

static void
on_finished(VxmSupervisor *supervisor, gpointer user_data)
{
  VxmControlServer *server = user_data;
  g_autoptr(JsonObject) event = json_object_new();

  json_object_set_string_member(event, "event", "finished");
  json_object_set_member(event, "status", vxm_supervisor_to_json(supervisor));
  for (guint i = server->clients->len; i-- > 0;) {
    Client *client = g_ptr_array_index(server->clients, i);

    if (client->watching) {
      client_send(client, event);
      client_drop(client);
    }
  }
}

VxmControlServer *
vxm_control_server_new(VxmSupervisor *supervisor, GError **error)
{
  const VxmSupervisorPlan *plan = vxm_supervisor_get_plan(supervisor);
  g_autoptr(VxmControlServer) server = g_new0(VxmControlServer, 1);
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) local_error = NULL;
  mode_t old_umask;
  gboolean ok;

  server->supervisor = g_object_ref(supervisor);
  server->clients = g_ptr_array_new_with_free_func((GDestroyNotify)client_free);
  server->path = vxm_control_socket_path(plan->paths);
  server->service = g_socket_service_new();
  unlink(server->path);
  address = g_unix_socket_address_new(server->path);
  /* 0600 from the start: no window in which others could connect */
  old_umask = umask(0177);
  ok = g_socket_listener_add_address(G_SOCKET_LISTENER(server->service), address,
                                     G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL,
                                     &local_error);
  umask(old_umask);
  if (!ok) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "cannot listen on the control socket %s: %s",
                server->path, local_error->message);
    return NULL;
  }
  g_signal_connect(server->service, "incoming", G_CALLBACK(on_incoming), server);
  server->progress_id = g_signal_connect(supervisor, "progress", G_CALLBACK(on_progress), server);
  server->finished_id = g_signal_connect(supervisor, "finished", G_CALLBACK(on_finished), server);
  g_socket_service_start(server->service);
  return g_steal_pointer(&server);
}

void
vxm_control_server_free(VxmControlServer *server)
{
  if (server == NULL)
    return;
  if (server->service != NULL) {
    g_socket_service_stop(server->service);
    g_socket_listener_close(G_SOCKET_LISTENER(server->service));
    g_clear_object(&server->service);
  }
  if (server->path != NULL)
    unlink(server->path);
  if (server->supervisor != NULL) {
    g_clear_signal_handler(&server->progress_id, server->supervisor);
    g_clear_signal_handler(&server->finished_id, server->supervisor);
    g_clear_object(&server->supervisor);
  }
  g_clear_pointer(&server->clients, g_ptr_array_unref);
  g_free(server->path);
  g_free(server);
}
