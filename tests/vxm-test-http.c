#include "vxm-test-http.h"

#include <gio/gio.h>
#include <string.h>

struct _VxmTestHttp {
  GSocket *listener;
  guint16 port;
  GThread *thread;
  GCancellable *cancel;
  GMutex lock;
  GHashTable *files; /* path -> GBytes */
  gssize drop_after; /* -1: none */
  GPtrArray *ranges;
};

static gboolean
send_all(GSocket *s, const void *data, gsize len, GCancellable *cancel)
{
  gsize done = 0;
  while (done < len) {
    gssize n = g_socket_send(s, (const char *)data + done, len - done, cancel, NULL);
    if (n <= 0)
      return FALSE;
    done += (gsize)n;
  }
  return TRUE;
}

static void
serve(VxmTestHttp *self, GSocket *conn)
{
  char buf[8192];
  gsize len = 0;
  g_autofree char *path = NULL;
  g_autofree char *range = NULL;
  g_autoptr(GBytes) content = NULL;
  g_autoptr(GString) head = g_string_new(NULL);
  g_auto(GStrv) lines = NULL;
  const guint8 *data;
  gsize size, start = 0, body;
  gssize drop;

  while (len < sizeof buf - 1) {
    gssize n = g_socket_receive(conn, buf + len, sizeof buf - 1 - len, self->cancel, NULL);
    if (n <= 0)
      return;
    len += (gsize)n;
    buf[len] = '\0';
    if (strstr(buf, "\r\n\r\n") != NULL)
      break;
  }
  lines = g_strsplit(buf, "\r\n", -1);
  if (lines[0] == NULL || !g_str_has_prefix(lines[0], "GET "))
    return;
  path = g_strndup(lines[0] + 4, strcspn(lines[0] + 4, " "));
  for (gsize i = 1; lines[i] != NULL && *lines[i]; i++) {
    if (g_ascii_strncasecmp(lines[i], "Range:", 6) == 0)
      range = g_strstrip(g_strdup(lines[i] + 6));
  }

  g_mutex_lock(&self->lock);
  g_ptr_array_add(self->ranges, g_strdup(range ? range : ""));
  content = g_hash_table_lookup(self->files, path);
  if (content != NULL)
    g_bytes_ref(content);
  drop = self->drop_after;
  self->drop_after = -1;
  g_mutex_unlock(&self->lock);

  if (content == NULL) {
    const char *r = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\n"
                    "not found";
    send_all(conn, r, strlen(r), self->cancel);
    return;
  }
  data = g_bytes_get_data(content, &size);
  if (range != NULL && g_str_has_prefix(range, "bytes=")) {
    start = (gsize)g_ascii_strtoull(range + 6, NULL, 10);
    if (start >= size) {
      g_string_printf(head,
                      "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */%zu\r\n"
                      "Content-Length: 0\r\nConnection: close\r\n\r\n",
                      size);
      send_all(conn, head->str, head->len, self->cancel);
      return;
    }
    g_string_printf(head,
                    "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %zu-%zu/%zu\r\n"
                    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                    start, size - 1, size, size - start);
  } else {
    g_string_printf(head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                    size);
  }
  body = size - start;
  if (drop >= 0 && (gsize)drop < body)
    body = (gsize)drop;
  if (send_all(conn, head->str, head->len, self->cancel))
    send_all(conn, data + start, body, self->cancel);
}

static gpointer
run(gpointer data)
{
  VxmTestHttp *self = data;

  for (;;) {
    g_autoptr(GSocket) conn = g_socket_accept(self->listener, self->cancel, NULL);
    if (conn == NULL)
      return NULL;
    serve(self, conn);
    g_socket_shutdown(conn, FALSE, TRUE, NULL);
    g_socket_close(conn, NULL);
  }
}

VxmTestHttp *
vxm_test_http_new(void)
{
  VxmTestHttp *self = g_new0(VxmTestHttp, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  self->listener =
      g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error(error);
  g_assert_true(g_socket_bind(self->listener, addr, TRUE, &error));
  g_assert_true(g_socket_listen(self->listener, &error));
  bound = g_socket_get_local_address(self->listener, &error);
  self->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  self->cancel = g_cancellable_new();
  self->files =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
  self->ranges = g_ptr_array_new_with_free_func(g_free);
  self->drop_after = -1;
  g_mutex_init(&self->lock);
  self->thread = g_thread_new("vxm-test-http", run, self);
  return self;
}

void
vxm_test_http_free(VxmTestHttp *self)
{
  g_cancellable_cancel(self->cancel);
  g_thread_join(self->thread);
  g_socket_close(self->listener, NULL);
  g_object_unref(self->listener);
  g_object_unref(self->cancel);
  g_hash_table_unref(self->files);
  g_ptr_array_unref(self->ranges);
  g_mutex_clear(&self->lock);
  g_free(self);
}

void
vxm_test_http_add_file(VxmTestHttp *self, const char *path, GBytes *content)
{
  g_mutex_lock(&self->lock);
  g_hash_table_insert(self->files, g_strdup(path), g_bytes_ref(content));
  g_mutex_unlock(&self->lock);
}

void
vxm_test_http_drop_next_after(VxmTestHttp *self, gsize bytes)
{
  g_mutex_lock(&self->lock);
  self->drop_after = (gssize)bytes;
  g_mutex_unlock(&self->lock);
}

char *
vxm_test_http_url(VxmTestHttp *self, const char *path)
{
  return g_strdup_printf("http://127.0.0.1:%u%s", self->port, path);
}

GPtrArray *
vxm_test_http_get_ranges(VxmTestHttp *self)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func(g_free);

  g_mutex_lock(&self->lock);
  for (guint i = 0; i < self->ranges->len; i++)
    g_ptr_array_add(copy, g_strdup(g_ptr_array_index(self->ranges, i)));
  g_mutex_unlock(&self->lock);
  return copy;
}

guint16
vxm_test_http_unused_port(void)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocket) s =
      g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  guint16 port;

  g_assert_true(g_socket_bind(s, addr, TRUE, NULL));
  bound = g_socket_get_local_address(s, NULL);
  port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  g_socket_close(s, NULL);
  return port;
}
