/* A scripted QMP server for tests. */
#include "vxm-fake-qmp.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-glib/json-glib.h>

#include "vxm-test-util.h"

typedef enum {
  STEP_RAW,
  STEP_EXPECT,
  STEP_REPLY_DEFERRED,
  STEP_WAIT_CLOSE,
  STEP_CLOSE,
  STEP_QUIT,
} StepKind;

typedef struct {
  StepKind kind;
  char *command;
  char *text; /* raw bytes, or the reply */
  guint delay_ms;
  guint handle; /* deferred: 0 = answer now */
} Step;

struct _VxmFakeQmp {
  char *dir;
  char *path;
  int listen_fd;
  GThread *thread;
  GAsyncQueue *steps;

  GMutex lock;
  GCond cond;
  int conn_fd;
  gboolean stopping;
  guint queued;
  guint completed;
  guint next_handle;
  GPtrArray *received;
  GPtrArray *failures;
  GHashTable *deferred_ids; /* handle -> JsonNode id (or a null node) */
  GString *inbuf;           /* thread only */
};

static void
step_free(Step *step)
{
  g_free(step->command);
  g_free(step->text);
  g_free(step);
}

static void fail(VxmFakeQmp *fake, const char *format, ...) G_GNUC_PRINTF(2, 3);

static void
fail(VxmFakeQmp *fake, const char *format, ...)
{
  va_list ap;

  va_start(ap, format);
  g_mutex_lock(&fake->lock);
  g_ptr_array_add(fake->failures, g_strdup_vprintf(format, ap));
  g_mutex_unlock(&fake->lock);
  va_end(ap);
}

static int
conn(VxmFakeQmp *fake)
{
  int fd;

  g_mutex_lock(&fake->lock);
  if (fake->conn_fd == -1 && !fake->stopping) {
    g_mutex_unlock(&fake->lock);
    fd = accept4(fake->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    g_mutex_lock(&fake->lock);
    if (fd >= 0 && fake->stopping)
      close(fd);
    else
      fake->conn_fd = fd;
  }
  fd = fake->conn_fd;
  g_mutex_unlock(&fake->lock);
  return fd;
}

static void
send_all(VxmFakeQmp *fake, const char *bytes, gsize length)
{
  int fd = conn(fake);

  while (fd >= 0 && length > 0) {
    ssize_t n = send(fd, bytes, length, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return; /* the client went away: the test sees it from its side */
    bytes += n;
    length -= (gsize)n;
  }
}

/* The next line from the client, NULL at end of stream. */
static char *
read_line(VxmFakeQmp *fake)
{
  int fd = conn(fake);
  char buf[4096];

  for (;;) {
    const char *nl = memchr(fake->inbuf->str, '\n', fake->inbuf->len);
    ssize_t n;
    if (nl != NULL) {
      char *line = g_strndup(fake->inbuf->str, (gsize)(nl - fake->inbuf->str));
      g_string_erase(fake->inbuf, 0, nl - fake->inbuf->str + 1);
      return line;
    }
    if (fd < 0)
      return NULL;
    n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return NULL;
    g_string_append_len(fake->inbuf, buf, n);
  }
}

static void
send_reply(VxmFakeQmp *fake, JsonNode *id, const char *reply)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *line = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data(parser, reply, -1, &error) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
    fail(fake, "fake QMP: reply in the test script is not a JSON object: %s", reply);
    return;
  }
  root = json_parser_get_root(parser);
  if (id != NULL && !JSON_NODE_HOLDS_NULL(id))
    json_object_set_member(json_node_get_object(root), "id", json_node_copy(id));
  text = json_to_string(root, FALSE);
  line = g_strconcat(text, "\r\n", NULL);
  send_all(fake, line, strlen(line));
}

static void
run_expect(VxmFakeQmp *fake, Step *step)
{
  g_autofree char *line = read_line(fake);
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject *object;
  JsonNode *id;
  const char *execute = NULL;

  if (line == NULL) {
    fail(fake, "fake QMP: expected command '%s', the client closed", step->command);
    return;
  }
  g_mutex_lock(&fake->lock);
  g_ptr_array_add(fake->received, g_strdup(line));
  g_mutex_unlock(&fake->lock);
  if (!json_parser_load_from_data(parser, line, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
    fail(fake, "fake QMP: expected command '%s', got non-JSON: %s", step->command, line);
    return;
  }
  object = json_node_get_object(json_parser_get_root(parser));
  if (json_object_has_member(object, "execute"))
    execute = json_object_get_string_member(object, "execute");
  id = json_object_get_member(object, "id");
  if (g_strcmp0(execute, step->command) != 0) {
    fail(fake, "fake QMP: expected command '%s', got: %s", step->command, line);
    send_reply(fake, id, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"unexpected\"}}");
    return;
  }
  if (step->handle != 0) {
    g_mutex_lock(&fake->lock);
    g_hash_table_insert(fake->deferred_ids, GUINT_TO_POINTER(step->handle),
                        id ? json_node_copy(id) : json_node_new(JSON_NODE_NULL));
    g_mutex_unlock(&fake->lock);
    return;
  }
  if (step->delay_ms > 0)
    g_usleep(step->delay_ms * G_TIME_SPAN_MILLISECOND); /* a slow QEMU, on the fake's side */
  send_reply(fake, id, step->text);
}

static void
run_step(VxmFakeQmp *fake, Step *step)
{
  switch (step->kind) {
  case STEP_RAW: send_all(fake, step->text, strlen(step->text)); break;
  case STEP_EXPECT: run_expect(fake, step); break;
  case STEP_REPLY_DEFERRED: {
    JsonNode *id;
    g_mutex_lock(&fake->lock);
    id = g_hash_table_lookup(fake->deferred_ids, GUINT_TO_POINTER(step->handle));
    g_mutex_unlock(&fake->lock);
    if (id == NULL)
      fail(fake, "fake QMP: deferred reply %u before its command arrived", step->handle);
    else
      send_reply(fake, id, step->text);
    break;
  }
  case STEP_WAIT_CLOSE: {
    char *line;
    while ((line = read_line(fake)) != NULL) {
      g_mutex_lock(&fake->lock);
      g_ptr_array_add(fake->received, line);
      g_mutex_unlock(&fake->lock);
    }
    break;
  }
  case STEP_CLOSE:
    g_mutex_lock(&fake->lock);
    if (fake->conn_fd >= 0) {
      close(fake->conn_fd);
      fake->conn_fd = -2; /* closed: no new accept */
    }
    g_mutex_unlock(&fake->lock);
    break;
  case STEP_QUIT: break;
  }
}

static gpointer
fake_thread(gpointer data)
{
  VxmFakeQmp *fake = data;

  for (;;) {
    Step *step = g_async_queue_pop(fake->steps);
    gboolean quit = step->kind == STEP_QUIT;
    gboolean stopping;

    g_mutex_lock(&fake->lock);
    stopping = fake->stopping;
    g_mutex_unlock(&fake->lock);
    if (!stopping)
      run_step(fake, step);
    step_free(step);
    g_mutex_lock(&fake->lock);
    fake->completed++;
    g_cond_broadcast(&fake->cond);
    g_mutex_unlock(&fake->lock);
    if (quit)
      return NULL;
  }
}

static void
push(VxmFakeQmp *fake, StepKind kind, const char *command, const char *text, guint delay_ms,
     guint handle)
{
  Step *step = g_new0(Step, 1);

  step->kind = kind;
  step->command = g_strdup(command);
  step->text = g_strdup(text);
  step->delay_ms = delay_ms;
  step->handle = handle;
  g_mutex_lock(&fake->lock);
  fake->queued++;
  g_mutex_unlock(&fake->lock);
  g_async_queue_push(fake->steps, step);
}

VxmFakeQmp *
vxm_fake_qmp_new(void)
{
  VxmFakeQmp *fake = g_new0(VxmFakeQmp, 1);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};

  fake->dir = vxm_test_mkdtemp();
  fake->path = g_build_filename(fake->dir, "qmp.sock", NULL);
  g_assert_cmpuint(strlen(fake->path), <, sizeof(addr.sun_path));
  strcpy(addr.sun_path, fake->path);
  fake->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint(fake->listen_fd, >=, 0);
  g_assert_cmpint(bind(fake->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
  g_assert_cmpint(listen(fake->listen_fd, 4), ==, 0);
  fake->conn_fd = -1;
  fake->next_handle = 1;
  fake->received = g_ptr_array_new_with_free_func(g_free);
  fake->failures = g_ptr_array_new_with_free_func(g_free);
  fake->deferred_ids =
      g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)json_node_unref);
  fake->inbuf = g_string_new(NULL);
  fake->steps = g_async_queue_new();
  g_mutex_init(&fake->lock);
  g_cond_init(&fake->cond);
  fake->thread = g_thread_new("fake-qmp", fake_thread, fake);
  return fake;
}

void
vxm_fake_qmp_free(VxmFakeQmp *fake)
{
  if (fake == NULL)
    return;
  g_mutex_lock(&fake->lock);
  fake->stopping = TRUE;
  /* Unblock a read or an accept the script is stuck in. */
  if (fake->conn_fd >= 0)
    shutdown(fake->conn_fd, SHUT_RDWR);
  shutdown(fake->listen_fd, SHUT_RDWR);
  g_mutex_unlock(&fake->lock);
  push(fake, STEP_QUIT, NULL, NULL, 0, 0);
  g_thread_join(fake->thread);
  if (fake->conn_fd >= 0)
    close(fake->conn_fd);
  close(fake->listen_fd);
  g_async_queue_unref(fake->steps);
  g_ptr_array_unref(fake->received);
  g_ptr_array_unref(fake->failures);
  g_hash_table_unref(fake->deferred_ids);
  g_string_free(fake->inbuf, TRUE);
  g_mutex_clear(&fake->lock);
  g_cond_clear(&fake->cond);
  vxm_test_rm_rf(fake->dir);
  g_free(fake->dir);
  g_free(fake->path);
  g_free(fake);
}

const char *
vxm_fake_qmp_get_path(VxmFakeQmp *fake)
{
  return fake->path;
}

void
vxm_fake_qmp_greet(VxmFakeQmp *fake)
{
  push(fake, STEP_RAW, NULL, VXM_FAKE_QMP_GREETING, 0, 0);
}

void
vxm_fake_qmp_expect_handshake(VxmFakeQmp *fake)
{
  vxm_fake_qmp_greet(fake);
  vxm_fake_qmp_expect(fake, "qmp_capabilities", "{\"return\": {}}");
}

void
vxm_fake_qmp_expect(VxmFakeQmp *fake, const char *command, const char *reply)
{
  push(fake, STEP_EXPECT, command, reply, 0, 0);
}

void
vxm_fake_qmp_expect_delayed(VxmFakeQmp *fake, const char *command, const char *reply,
                            guint delay_ms)
{
  push(fake, STEP_EXPECT, command, reply, delay_ms, 0);
}

guint
vxm_fake_qmp_expect_deferred(VxmFakeQmp *fake, const char *command)
{
  guint handle;

  g_mutex_lock(&fake->lock);
  handle = fake->next_handle++;
  g_mutex_unlock(&fake->lock);
  push(fake, STEP_EXPECT, command, NULL, 0, handle);
  return handle;
}

void
vxm_fake_qmp_reply_deferred(VxmFakeQmp *fake, guint handle, const char *reply)
{
  push(fake, STEP_REPLY_DEFERRED, NULL, reply, 0, handle);
}

void
vxm_fake_qmp_send_event(VxmFakeQmp *fake, const char *name, const char *data_json)
{
  gint64 now = g_get_real_time();
  g_autofree char *line =
      g_strdup_printf("{\"timestamp\": {\"seconds\": %" G_GINT64_FORMAT
                      ", \"microseconds\": %" G_GINT64_FORMAT "}, \"event\": \"%s\"%s%s}\r\n",
                      now / G_USEC_PER_SEC, now % G_USEC_PER_SEC, name,
                      data_json ? ", \"data\": " : "", data_json ? data_json : "");

  push(fake, STEP_RAW, NULL, line, 0, 0);
}

void
vxm_fake_qmp_send_raw(VxmFakeQmp *fake, const char *bytes)
{
  push(fake, STEP_RAW, NULL, bytes, 0, 0);
}

void
vxm_fake_qmp_wait_client_close(VxmFakeQmp *fake)
{
  push(fake, STEP_WAIT_CLOSE, NULL, NULL, 0, 0);
}

void
vxm_fake_qmp_close(VxmFakeQmp *fake)
{
  push(fake, STEP_CLOSE, NULL, NULL, 0, 0);
}

void
vxm_fake_qmp_assert_done(VxmFakeQmp *fake)
{
  g_mutex_lock(&fake->lock);
  while (fake->completed < fake->queued)
    g_cond_wait(&fake->cond, &fake->lock);
  for (guint i = 0; i < fake->failures->len; i++)
    g_test_message("%s", (const char *)g_ptr_array_index(fake->failures, i));
  g_assert_cmpuint(fake->failures->len, ==, 0);
  g_mutex_unlock(&fake->lock);
}

GPtrArray *
vxm_fake_qmp_get_received(VxmFakeQmp *fake)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func(g_free);

  g_mutex_lock(&fake->lock);
  for (guint i = 0; i < fake->received->len; i++)
    g_ptr_array_add(copy, g_strdup(g_ptr_array_index(fake->received, i)));
  g_mutex_unlock(&fake->lock);
  return copy;
}

JsonObject *
vxm_fake_qmp_received_args(VxmFakeQmp *fake, guint index, const char *command)
{
  g_autoptr(GPtrArray) received = vxm_fake_qmp_get_received(fake);
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject *o;

  g_assert_cmpuint(index, <, received->len);
  g_assert_true(json_parser_load_from_data(parser, received->pdata[index], -1, NULL));
  o = json_node_get_object(json_parser_get_root(parser));
  g_assert_cmpstr(json_object_get_string_member(o, "execute"), ==, command);
  return json_object_has_member(o, "arguments")
             ? json_object_ref(json_object_get_object_member(o, "arguments"))
             : json_object_new();
}

VxmQmpClient *
vxm_fake_qmp_connect(VxmFakeQmp *fake)
{
  g_autoptr(GError) error = NULL;
  VxmQmpClient *client = vxm_qmp_client_new_for_path(vxm_fake_qmp_get_path(fake), &error);

  g_assert_no_error(error);
  g_assert_true(vxm_qmp_client_handshake_sync(client, 10000, &error));
  g_assert_no_error(error);
  return client;
}
