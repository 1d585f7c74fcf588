/* vxm-qmp-client: an asynchronous QMP client on the GLib main loop. */
#include "qemu/vxm-qmp-client.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib-unix.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "qemu/vxm-qmp-reader.h"

#define READ_CHUNK (64 * 1024)

/* ---- the QMP error domain: an extended GError with QEMU's class and desc ---- */

typedef struct {
  char *klass;
  char *desc;
} VxmQmpErrorPrivate;

/* GLib's generated wrappers look up the private part through a function that can return
 * NULL, and GCC's -Wnull-dereference follows it into these hooks, which GLib only calls with
 * a valid pointer. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"

static void
vxm_qmp_error_private_init(VxmQmpErrorPrivate *priv)
{
}

static void
vxm_qmp_error_private_copy(const VxmQmpErrorPrivate *src, VxmQmpErrorPrivate *dest)
{
  dest->klass = g_strdup(src->klass);
  dest->desc = g_strdup(src->desc);
}

static void
vxm_qmp_error_private_clear(VxmQmpErrorPrivate *priv)
{
  g_clear_pointer(&priv->klass, g_free);
  g_clear_pointer(&priv->desc, g_free);
}

G_DEFINE_EXTENDED_ERROR(VxmQmpError, vxm_qmp_error)
#pragma GCC diagnostic pop

const char *
vxm_qmp_error_get_class(const GError *error)
{
  VxmQmpErrorPrivate *priv = error ? vxm_qmp_error_get_private(error) : NULL;
  return priv ? priv->klass : NULL;
}

const char *
vxm_qmp_error_get_desc(const GError *error)
{
  VxmQmpErrorPrivate *priv = error ? vxm_qmp_error_get_private(error) : NULL;
  return priv ? priv->desc : NULL;
}

static GError *
qmp_error_new(const char *command, const char *klass, const char *desc)
{
  static const struct {
    const char *klass;
    VxmQmpErrorCode code;
  } classes[] = {
      {"CommandNotFound", VXM_QMP_ERROR_COMMAND_NOT_FOUND},
      {"DeviceNotActive", VXM_QMP_ERROR_DEVICE_NOT_ACTIVE},
      {"DeviceNotFound", VXM_QMP_ERROR_DEVICE_NOT_FOUND},
      {"KVMMissingCap", VXM_QMP_ERROR_KVM_MISSING_CAP},
  };
  VxmQmpErrorCode code = VXM_QMP_ERROR_GENERIC;
  VxmQmpErrorPrivate *priv;
  GError *error;

  for (gsize i = 0; i < G_N_ELEMENTS(classes); i++) {
    if (g_strcmp0(klass, classes[i].klass) == 0)
      code = classes[i].code;
  }
  error = g_error_new(VXM_QMP_ERROR, code, "QEMU refused QMP command '%s': %s (%s)", command, desc,
                      klass);
  priv = vxm_qmp_error_get_private(error);
  if (priv != NULL) {
    priv->klass = g_strdup(klass);
    priv->desc = g_strdup(desc);
  }
  return error;
}

/* ---- the client ---- */

typedef struct _Pending Pending;

struct _VxmQmpClient {
  GObject parent_instance;

  int fd;
  GMainContext *context;
  GSource *read_source;
  GSource *write_source;
  VxmQmpReader *reader;
  GByteArray *wbuf;
  gsize wpos;

  gint64 next_id;
  GHashTable *pending;   /* id -> Pending (owned), sent or held */
  GHashTable *abandoned; /* ids whose caller gave up (timeout, cancel): late replies dropped */
  GQueue held;           /* Pending issued before the handshake finished */

  VxmQmpMessage *greeting;
  GTask *handshake;
  GSource *handshake_timeout;
  gboolean negotiating; /* qmp_capabilities sent */
  gboolean ready;
  gboolean disconnected;
};

struct _Pending {
  VxmQmpClient *client; /* not a ref: the task holds one */
  gint64 id;
  char *command;
  char *line;
  GTask *task;
  GSource *timeout;
  GSource *cancel;
};

enum { SIGNAL_EVENT, SIGNAL_DISCONNECTED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE(VxmQmpClient, vxm_qmp_client, G_TYPE_OBJECT)

static void client_disconnect(VxmQmpClient *self, const GError *error);

static int
compare_ids(gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return x < y ? -1 : x > y;
}

/* The ids of the pending commands: a snapshot that stays valid while callbacks run. */
static GArray *
pending_ids(VxmQmpClient *self)
{
  GArray *ids = g_array_new(FALSE, FALSE, sizeof(gint64));
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init(&iter, self->pending);
  while (g_hash_table_iter_next(&iter, &key, NULL))
    g_array_append_val(ids, *(gint64 *)key);
  g_array_sort(ids, compare_ids);
  return ids;
}

static void
destroy_source(GSource **source)
{
  if (*source != NULL) {
    g_source_destroy(*source);
    g_clear_pointer(source, g_source_unref);
  }
}

static void
pending_free(Pending *p)
{
  destroy_source(&p->timeout);
  destroy_source(&p->cancel);
  g_clear_object(&p->task);
  g_free(p->command);
  g_free(p->line);
  g_free(p);
}

/* Removes @p from the client and hands its result to the caller. Takes @error. */
static void
pending_complete(Pending *p, JsonNode *ret, GError *error)
{
  VxmQmpClient *self = p->client;
  g_autoptr(GTask) task = g_steal_pointer(&p->task);

  g_queue_remove(&self->held, p);
  g_hash_table_remove(self->pending, &p->id); /* frees p */
  if (error != NULL)
    g_task_return_error(task, error);
  else
    g_task_return_pointer(task, json_node_ref(ret), (GDestroyNotify)json_node_unref);
}

static void
pending_abandon(Pending *p, GError *error)
{
  gint64 *id = g_new(gint64, 1);

  *id = p->id;
  g_hash_table_add(p->client->abandoned, id);
  pending_complete(p, NULL, error);
}

static gboolean
on_pending_timeout(gpointer user_data)
{
  Pending *p = user_data;
  guint ms = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(p->task), "vxm-timeout-ms"));

  pending_abandon(p, g_error_new(VXM_ERROR, VXM_ERROR_TIMEOUT,
                                 "QMP command '%s' got no reply from QEMU within %u ms; see "
                                 "qemu.log for why QEMU stopped answering",
                                 p->command, ms));
  return G_SOURCE_REMOVE;
}

static gboolean
on_pending_cancelled(GCancellable *cancellable, gpointer user_data)
{
  Pending *p = user_data;

  pending_abandon(p, g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED, "QMP command '%s' was cancelled",
                                 p->command));
  return G_SOURCE_REMOVE;
}

static void
vxm_qmp_client_finalize(GObject *object)
{
  VxmQmpClient *self = VXM_QMP_CLIENT(object);

  /* Tasks hold a ref on the client, so nothing is pending here. */
  destroy_source(&self->read_source);
  destroy_source(&self->write_source);
  destroy_source(&self->handshake_timeout);
  vxm_close_fdp(&self->fd);
  g_hash_table_unref(self->pending);
  g_hash_table_unref(self->abandoned);
  vxm_qmp_reader_free(self->reader);
  g_byte_array_unref(self->wbuf);
  vxm_qmp_message_free(self->greeting);
  g_main_context_unref(self->context);
  G_OBJECT_CLASS(vxm_qmp_client_parent_class)->finalize(object);
}

static void
vxm_qmp_client_class_init(VxmQmpClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS(klass);

  object_class->finalize = vxm_qmp_client_finalize;
  signals[SIGNAL_EVENT] =
      g_signal_new("event", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED, 0,
                   NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, JSON_TYPE_OBJECT, G_TYPE_INT64);
  signals[SIGNAL_DISCONNECTED] =
      g_signal_new("disconnected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                   G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
vxm_qmp_client_init(VxmQmpClient *self)
{
  self->fd = -1;
  self->next_id = 1;
  self->reader = vxm_qmp_reader_new(0);
  self->wbuf = g_byte_array_new();
  self->pending =
      g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, (GDestroyNotify)pending_free);
  self->abandoned = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
  g_queue_init(&self->held);
  self->context = g_main_context_ref_thread_default();
}

/* ---- writing ---- */

static gboolean on_writable(int fd, GIOCondition condition, gpointer user_data);

/* Sends what the socket takes now; the rest goes when it is writable again. */
static void
client_flush(VxmQmpClient *self)
{
  while (self->fd >= 0 && self->wpos < self->wbuf->len) {
    ssize_t n = send(self->fd, self->wbuf->data + self->wpos, self->wbuf->len - self->wpos,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN) {
      if (self->write_source == NULL) {
        self->write_source = g_unix_fd_source_new(self->fd, G_IO_OUT);
        g_source_set_callback(self->write_source, G_SOURCE_FUNC(on_writable), self, NULL);
        g_source_attach(self->write_source, self->context);
      }
      return;
    }
    if (n < 0) {
      g_autoptr(GError) error = NULL;
      vxm_error_set_from_errno(&error, errno, "cannot send to QEMU's QMP socket");
      client_disconnect(self, error);
      return;
    }
    self->wpos += (gsize)n;
  }
  g_byte_array_set_size(self->wbuf, 0);
  self->wpos = 0;
  destroy_source(&self->write_source);
}

static gboolean
on_writable(int fd, GIOCondition condition, gpointer user_data)
{
  VxmQmpClient *self = user_data;
  g_autoptr(VxmQmpClient) hold = g_object_ref(self);

  client_flush(self);
  return G_SOURCE_CONTINUE; /* client_flush destroys the source when done */
}

static void
client_write_line(VxmQmpClient *self, const char *line)
{
  g_byte_array_append(self->wbuf, (const guint8 *)line, strlen(line));
  g_byte_array_append(self->wbuf, (const guint8 *)"\n", 1);
  client_flush(self);
}

/* ---- reading ---- */

static void
handle_reply(VxmQmpClient *self, VxmQmpMessage *msg)
{
  Pending *p = NULL;
  gint64 id = -1;

  if (msg->id != NULL && JSON_NODE_HOLDS_VALUE(msg->id) &&
      json_node_get_value_type(msg->id) == G_TYPE_INT64) {
    id = json_node_get_int(msg->id);
    p = g_hash_table_lookup(self->pending, &id);
  }
  if (p == NULL || g_queue_find(&self->held, p) != NULL) {
    if (id >= 0 && g_hash_table_remove(self->abandoned, &id)) {
      g_debug("QMP: dropping a late reply to command id %" G_GINT64_FORMAT, id);
      return;
    }
    g_message("QMP protocol error: a reply with an unknown id (%s); ignored",
              id >= 0 ? "no command pending with that number" : "not an id vxm sent");
    return;
  }
  if (msg->kind == VXM_QMP_MESSAGE_ERROR)
    pending_complete(p, NULL, qmp_error_new(p->command, msg->error_class, msg->error_desc));
  else
    pending_complete(p, msg->ret, NULL);
}

static void
handle_greeting(VxmQmpClient *self, VxmQmpMessage *msg)
{
  if (self->greeting != NULL) {
    g_message("QMP protocol error: a second greeting; ignored");
    return;
  }
  self->greeting = msg;
  g_debug("QMP greeting: QEMU %d.%d.%d", msg->version_major, msg->version_minor,
          msg->version_micro);
}

static void start_negotiation(VxmQmpClient *self);

static void
handle_message(VxmQmpClient *self, VxmQmpMessage *msg)
{
  switch (msg->kind) {
  case VXM_QMP_MESSAGE_GREETING:
    handle_greeting(self, msg);
    if (self->handshake != NULL && !self->negotiating)
      start_negotiation(self);
    return; /* kept */
  case VXM_QMP_MESSAGE_RETURN:
  case VXM_QMP_MESSAGE_ERROR: handle_reply(self, msg); break;
  case VXM_QMP_MESSAGE_EVENT:
    g_signal_emit(self, signals[SIGNAL_EVENT], g_quark_try_string(msg->event), msg->event,
                  msg->data, msg->timestamp_us);
    break;
  }
  vxm_qmp_message_free(msg);
}

static gboolean
on_readable(int fd, GIOCondition condition, gpointer user_data)
{
  VxmQmpClient *self = user_data;
  g_autoptr(VxmQmpClient) hold = g_object_ref(self);
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *buf = g_malloc(READ_CHUNK);
  ssize_t n;

  do
    n = read(self->fd, buf, READ_CHUNK);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN)
    return G_SOURCE_CONTINUE;
  if (n < 0 && errno != ECONNRESET) {
    vxm_error_set_from_errno(&error, errno, "cannot read from QEMU's QMP socket");
    client_disconnect(self, error);
    return G_SOURCE_REMOVE;
  }
  /* QEMU 7.2 resets the connection when it exits after quit: after whole messages, a reset
   * is the same end of stream as a close. */
  if (n <= 0) {
    if (!vxm_qmp_reader_finish(self->reader, &error))
      g_prefix_error(&error, "QEMU closed the QMP connection: ");
    client_disconnect(self, error);
    return G_SOURCE_REMOVE;
  }
  if (!vxm_qmp_reader_feed(self->reader, buf, (gsize)n, &error)) {
    client_disconnect(self, error);
    return G_SOURCE_REMOVE;
  }
  while (!self->disconnected) {
    VxmQmpMessage *msg = vxm_qmp_reader_next(self->reader, &error);
    if (msg == NULL) {
      if (error != NULL) {
        /* A peer that sends garbage cannot be trusted to frame the rest. */
        client_disconnect(self, error);
        return G_SOURCE_REMOVE;
      }
      break;
    }
    handle_message(self, msg);
  }
  return self->disconnected ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

/* ---- disconnecting ---- */

static void
client_disconnect(VxmQmpClient *self, const GError *error)
{
  g_autoptr(VxmQmpClient) hold = g_object_ref(self);
  g_autoptr(GArray) ids = NULL;

  if (self->disconnected)
    return;
  self->disconnected = TRUE;
  self->ready = FALSE;
  destroy_source(&self->read_source);
  destroy_source(&self->write_source);
  vxm_close_fdp(&self->fd);

  ids = pending_ids(self);
  for (guint i = 0; i < ids->len; i++) {
    Pending *p = g_hash_table_lookup(self->pending, &g_array_index(ids, gint64, i));
    GError *perr;

    if (p == NULL)
      continue;
    if (error != NULL) {
      perr = g_error_copy(error);
      g_prefix_error(&perr, "QMP command '%s' failed, the connection to QEMU ended: ", p->command);
    } else {
      perr = g_error_new(VXM_ERROR, VXM_ERROR_IO,
                         "QMP command '%s' failed: the connection to QEMU closed before its "
                         "reply (did QEMU exit? see qemu.log)",
                         p->command);
    }
    pending_complete(p, NULL, perr);
  }
  /* While negotiating, the failing qmp_capabilities command completes the handshake. */
  if (self->handshake != NULL && !self->negotiating) {
    g_autoptr(GTask) task = g_steal_pointer(&self->handshake);
    destroy_source(&self->handshake_timeout);
    g_task_return_new_error(task, VXM_ERROR, error ? error->code : VXM_ERROR_IO,
                            "QMP handshake failed: the connection to QEMU ended%s%s",
                            error ? ": " : " before the greeting", error ? error->message : "");
  }
  g_signal_emit(self, signals[SIGNAL_DISCONNECTED], 0, error);
}

void
vxm_qmp_client_close(VxmQmpClient *self)
{
  g_return_if_fail(VXM_IS_QMP_CLIENT(self));

  if (self->disconnected)
    return;
  /* Pending commands get a cancellation, not a transport error. */
  {
    g_autoptr(GArray) ids = pending_ids(self);
    for (guint i = 0; i < ids->len; i++) {
      Pending *p = g_hash_table_lookup(self->pending, &g_array_index(ids, gint64, i));
      if (p == NULL)
        continue;
      pending_complete(p, NULL,
                       g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                   "QMP command '%s' was cancelled: vxm closed the connection",
                                   p->command));
    }
  }
  client_disconnect(self, NULL);
}

/* ---- construction ---- */

VxmQmpClient *
vxm_qmp_client_new_for_fd(int fd, GError **error)
{
  g_autoptr(VxmQmpClient) self = NULL;
  int flags;

  if (fd < 0) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                        "no file descriptor for the QMP connection");
    return NULL;
  }
  self = g_object_new(VXM_TYPE_QMP_CLIENT, NULL);
  self->fd = fd;
  flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
      fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
    vxm_error_set_from_errno(error, errno, "cannot make QMP socket fd %d non-blocking", fd);
    return NULL;
  }
  self->read_source = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback(self->read_source, G_SOURCE_FUNC(on_readable), self, NULL);
  g_source_attach(self->read_source, self->context);
  return g_steal_pointer(&self);
}

VxmQmpClient *
vxm_qmp_client_new_for_socket(GSocket *socket, GError **error)
{
  int fd;

  g_return_val_if_fail(G_IS_SOCKET(socket), NULL);
  fd = fcntl(g_socket_get_fd(socket), F_DUPFD_CLOEXEC, 3);
  if (fd < 0) {
    vxm_error_set_from_errno(error, errno, "cannot duplicate the QMP socket");
    return NULL;
  }
  return vxm_qmp_client_new_for_fd(fd, error);
}

VxmQmpClient *
vxm_qmp_client_new_for_path(const char *path, GError **error)
{
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  vxm_autofd int fd = -1;
  int rc;

  if (strlen(path) >= sizeof(addr.sun_path)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "QMP socket path %s is longer than a unix socket allows (%zu bytes); use a "
                "shorter runtime folder",
                path, sizeof(addr.sun_path) - 1);
    return NULL;
  }
  strcpy(addr.sun_path, path);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return vxm_error_set_from_errno(error, errno, "cannot create a unix socket"), NULL;
  do
    rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
  while (rc < 0 && errno == EINTR);
  if (rc < 0 && errno != EINPROGRESS) {
    vxm_error_set_from_errno(error, errno, "cannot connect to QEMU's QMP socket %s", path);
    return NULL;
  }
  return vxm_qmp_client_new_for_fd(g_steal_fd(&fd), error);
}

/* ---- commands ---- */

static char *
build_command_line(const char *command, JsonObject *arguments, gint64 id)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object(builder);
  json_builder_set_member_name(builder, "execute");
  json_builder_add_string_value(builder, command);
  if (arguments != NULL) {
    g_autoptr(JsonNode) args = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(args, arguments);
    json_builder_set_member_name(builder, "arguments");
    json_builder_add_value(builder, g_steal_pointer(&args));
  }
  json_builder_set_member_name(builder, "id");
  json_builder_add_int_value(builder, id);
  json_builder_end_object(builder);
  root = json_builder_get_root(builder);
  return json_to_string(root, FALSE);
}

static void
client_execute(VxmQmpClient *self, const char *command, JsonObject *arguments, guint timeout_ms,
               gboolean hold_until_ready, GCancellable *cancellable, GTask *task)
{
  Pending *p;

  if (self->disconnected) {
    g_task_return_new_error(task, VXM_ERROR, VXM_ERROR_IO,
                            "cannot send QMP command '%s': the connection to QEMU is closed",
                            command);
    g_object_unref(task);
    return;
  }
  if (timeout_ms == 0)
    timeout_ms = VXM_QMP_DEFAULT_TIMEOUT_MS;
  p = g_new0(Pending, 1);
  p->client = self;
  p->id = self->next_id++;
  p->command = g_strdup(command);
  p->task = task;
  p->line = build_command_line(command, arguments, p->id);
  g_object_set_data(G_OBJECT(task), "vxm-timeout-ms", GUINT_TO_POINTER(timeout_ms));
  g_hash_table_insert(self->pending, &p->id, p);

  p->timeout = g_timeout_source_new(timeout_ms);
  g_source_set_callback(p->timeout, on_pending_timeout, p, NULL);
  g_source_attach(p->timeout, self->context);
  if (cancellable != NULL) {
    p->cancel = g_cancellable_source_new(cancellable);
    g_source_set_callback(p->cancel, G_SOURCE_FUNC(on_pending_cancelled), p, NULL);
    g_source_attach(p->cancel, self->context);
  }
  if (hold_until_ready && !self->ready)
    g_queue_push_tail(&self->held, p);
  else
    client_write_line(self, p->line);
}

void
vxm_qmp_client_execute_async(VxmQmpClient *self, const char *command, JsonObject *arguments,
                             guint timeout_ms, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail(VXM_IS_QMP_CLIENT(self));
  g_return_if_fail(command != NULL);
  task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, vxm_qmp_client_execute_async);
  client_execute(self, command, arguments, timeout_ms, TRUE, cancellable, task);
}

JsonNode *
vxm_qmp_client_execute_finish(VxmQmpClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail(g_task_is_valid(result, self), NULL);
  return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- handshake ---- */

static void
release_held(VxmQmpClient *self, const GError *error)
{
  Pending *p;

  while ((p = g_queue_pop_head(&self->held)) != NULL) {
    if (error == NULL) {
      client_write_line(self, p->line);
      if (self->disconnected)
        break;
    } else {
      pending_complete(p, NULL,
                       g_error_new(error->domain, error->code, "QMP command '%s' not sent: %s",
                                   p->command, error->message));
    }
  }
}

static void
on_capabilities(GObject *source, GAsyncResult *result, gpointer user_data)
{
  VxmQmpClient *self = VXM_QMP_CLIENT(source);
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = g_task_propagate_pointer(G_TASK(result), &error);

  if (self->handshake == task)
    g_clear_object(&self->handshake);
  if (ret == NULL) {
    g_prefix_error(&error, "QMP capability negotiation failed: ");
    release_held(self, error);
    g_task_return_error(task, g_steal_pointer(&error));
    return;
  }
  self->ready = TRUE;
  release_held(self, NULL);
  g_task_return_boolean(task, TRUE);
}

static void
start_negotiation(VxmQmpClient *self)
{
  GTask *inner = g_task_new(self, NULL, on_capabilities, g_object_ref(self->handshake));
  guint timeout_ms = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(self->handshake), "vxm-ms"));

  self->negotiating = TRUE;
  destroy_source(&self->handshake_timeout);
  client_execute(self, "qmp_capabilities", NULL, timeout_ms, FALSE,
                 g_task_get_cancellable(self->handshake), inner);
}

static gboolean
on_greeting_timeout(gpointer user_data)
{
  VxmQmpClient *self = user_data;
  g_autoptr(GTask) task = g_steal_pointer(&self->handshake);
  guint ms = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(task), "vxm-ms"));
  g_autoptr(GError) error =
      g_error_new(VXM_ERROR, VXM_ERROR_TIMEOUT,
                  "QEMU sent no QMP greeting within %u ms; see qemu.log for why it stalled", ms);

  g_clear_pointer(&self->handshake_timeout, g_source_unref);
  release_held(self, error);
  g_task_return_error(task, g_steal_pointer(&error));
  return G_SOURCE_REMOVE;
}

void
vxm_qmp_client_handshake_async(VxmQmpClient *self, guint timeout_ms, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail(VXM_IS_QMP_CLIENT(self));
  task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, vxm_qmp_client_handshake_async);
  if (timeout_ms == 0)
    timeout_ms = VXM_QMP_DEFAULT_TIMEOUT_MS;
  g_object_set_data(G_OBJECT(task), "vxm-ms", GUINT_TO_POINTER(timeout_ms));
  if (self->disconnected) {
    g_task_return_new_error(task, VXM_ERROR, VXM_ERROR_IO,
                            "QMP handshake impossible: the connection to QEMU is closed");
    return;
  }
  if (self->ready || self->handshake != NULL || self->negotiating) {
    g_task_return_new_error(task, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT, "QMP handshake already %s",
                            self->ready ? "done" : "in progress");
    return;
  }
  self->handshake = g_steal_pointer(&task);
  if (self->greeting != NULL) {
    start_negotiation(self);
    return;
  }
  self->handshake_timeout = g_timeout_source_new(timeout_ms);
  g_source_set_callback(self->handshake_timeout, on_greeting_timeout, self, NULL);
  g_source_attach(self->handshake_timeout, self->context);
}

gboolean
vxm_qmp_client_handshake_finish(VxmQmpClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
  return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- blocking wrappers ---- */

static void
on_sync_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;
  *out = g_object_ref(result);
}

static GAsyncResult *
run_until(VxmQmpClient *self, GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration(self->context, TRUE);
  return *result;
}

gboolean
vxm_qmp_client_handshake_sync(VxmQmpClient *self, guint timeout_ms, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  vxm_qmp_client_handshake_async(self, timeout_ms, NULL, on_sync_done, &result);
  return vxm_qmp_client_handshake_finish(self, run_until(self, &result), error);
}

JsonNode *
vxm_qmp_client_execute_sync(VxmQmpClient *self, const char *command, JsonObject *arguments,
                            guint timeout_ms, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  vxm_qmp_client_execute_async(self, command, arguments, timeout_ms, NULL, on_sync_done, &result);
  return vxm_qmp_client_execute_finish(self, run_until(self, &result), error);
}

/* ---- state ---- */

gboolean
vxm_qmp_client_is_connected(VxmQmpClient *self)
{
  g_return_val_if_fail(VXM_IS_QMP_CLIENT(self), FALSE);
  return !self->disconnected;
}

gboolean
vxm_qmp_client_is_ready(VxmQmpClient *self)
{
  g_return_val_if_fail(VXM_IS_QMP_CLIENT(self), FALSE);
  return self->ready;
}

gboolean
vxm_qmp_client_get_version(VxmQmpClient *self, int *major, int *minor, int *micro)
{
  g_return_val_if_fail(VXM_IS_QMP_CLIENT(self), FALSE);
  if (self->greeting == NULL)
    return FALSE;
  if (major)
    *major = self->greeting->version_major;
  if (minor)
    *minor = self->greeting->version_minor;
  if (micro)
    *micro = self->greeting->version_micro;
  return TRUE;
}

const char *
vxm_qmp_client_get_package(VxmQmpClient *self)
{
  g_return_val_if_fail(VXM_IS_QMP_CLIENT(self), NULL);
  return self->greeting ? self->greeting->package : NULL;
}

const char *const *
vxm_qmp_client_get_capabilities(VxmQmpClient *self)
{
  g_return_val_if_fail(VXM_IS_QMP_CLIENT(self), NULL);
  return self->greeting ? (const char *const *)self->greeting->capabilities : NULL;
}
