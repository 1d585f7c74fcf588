/* Tests of the download against a local HTTP server on 127.0.0.1: complete, resume after a
 * dropped connection, checksum, HTTP 404, connection refused. Nothing leaves the machine. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "vm/vxm-download.h"
#include "vxm-test-http.h"
#include "vxm-test-util.h"

#define SIZE (3 * 1024 * 1024 + 123)

typedef struct {
  VxmTestHttp *http;
  GBytes *content;
  char *sha256;
  char *dir;
  char *dest;
  char *part;
  guint progress_calls;
  gboolean saw_finished;
  guint64 last_received, last_total, resumed_from;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
  guint8 *buf = g_malloc(SIZE);

  for (gsize i = 0; i < SIZE; i++)
    buf[i] = (guint8)(i * 7 + i / 4096);
  f->content = g_bytes_new_take(buf, SIZE);
  f->sha256 = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, f->content);
  f->http = vxm_test_http_new();
  vxm_test_http_add_file(f->http, "/virtio-win.iso", f->content);
  f->dir = vxm_test_mkdtemp();
  f->dest = g_build_filename(f->dir, "virtio-win.iso", NULL);
  f->part = g_strconcat(f->dest, ".part", NULL);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
  vxm_test_http_free(f->http);
  g_bytes_unref(f->content);
  g_free(f->sha256);
  vxm_test_rm_rf(f->dir);
  g_free(f->dir);
  g_free(f->dest);
  g_free(f->part);
}

static void
on_progress(const VxmDownloadProgress *p, gpointer data)
{
  Fixture *f = data;

  f->progress_calls++;
  g_assert_cmpuint(p->received, >=, f->last_received);
  f->last_received = p->received;
  f->last_total = p->total;
  f->resumed_from = p->resumed_from;
  if (p->finished)
    f->saw_finished = TRUE;
}

static void
assert_file_is_content(Fixture *f, const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;

  g_assert_true(g_file_get_contents(path, &data, &len, NULL));
  g_assert_cmpuint(len, ==, SIZE);
  g_assert_cmpmem(data, len, g_bytes_get_data(f->content, NULL), SIZE);
}

static void
test_complete(Fixture *f, gconstpointer data)
{
  g_autofree char *url = vxm_test_http_url(f->http, "/virtio-win.iso");
  g_autoptr(GError) error = NULL;

  g_assert_true(vxm_download_file(url, f->dest, f->sha256, on_progress, f, &error));
  g_assert_no_error(error);
  assert_file_is_content(f, f->dest);
  g_assert_false(g_file_test(f->part, G_FILE_TEST_EXISTS));
  g_assert_true(f->saw_finished);
  g_assert_cmpuint(f->last_received, ==, SIZE);
  g_assert_cmpuint(f->last_total, ==, SIZE);
}

static void
test_resume(Fixture *f, gconstpointer data)
{
  g_autofree char *url = vxm_test_http_url(f->http, "/virtio-win.iso");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ranges = NULL;
  struct stat st;

  /* the server drops the connection after 1 MiB */
  vxm_test_http_drop_next_after(f->http, 1024 * 1024);
  g_assert_false(vxm_download_file(url, f->dest, f->sha256, on_progress, f, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_IO);
  g_assert_nonnull(strstr(error->message, "run the same command again to resume"));
  g_assert_nonnull(strstr(error->message, url));
  g_clear_error(&error);
  g_assert_false(g_file_test(f->dest, G_FILE_TEST_EXISTS));
  g_assert_cmpint(stat(f->part, &st), ==, 0);
  g_assert_cmpint(st.st_size, ==, 1024 * 1024);

  /* the second run asks only for the rest */
  g_assert_true(vxm_download_file(url, f->dest, f->sha256, on_progress, f, &error));
  g_assert_no_error(error);
  assert_file_is_content(f, f->dest);
  g_assert_cmpuint(f->resumed_from, ==, 1024 * 1024);
  ranges = vxm_test_http_get_ranges(f->http);
  g_assert_cmpuint(ranges->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(ranges, 0), ==, "");
  g_assert_cmpstr(g_ptr_array_index(ranges, 1), ==, "bytes=1048576-");
}

static void
test_part_already_complete(Fixture *f, gconstpointer data)
{
  g_autofree char *url = vxm_test_http_url(f->http, "/virtio-win.iso");
  g_autoptr(GError) error = NULL;

  /* a .part holding everything (killed before the rename): the server answers 416 */
  g_assert_true(g_file_set_contents(f->part, g_bytes_get_data(f->content, NULL), SIZE, NULL));
  g_assert_true(vxm_download_file(url, f->dest, f->sha256, NULL, NULL, &error));
  g_assert_no_error(error);
  assert_file_is_content(f, f->dest);
}

static void
test_checksum_mismatch(Fixture *f, gconstpointer data)
{
  g_autofree char *url = vxm_test_http_url(f->http, "/virtio-win.iso");
  g_autoptr(GError) error = NULL;
  const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";

  g_assert_false(vxm_download_file(url, f->dest, wrong, NULL, NULL, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
  g_assert_nonnull(strstr(error->message, "checksum mismatch"));
  g_assert_nonnull(strstr(error->message, f->sha256));
  g_assert_nonnull(strstr(error->message, "removed"));
  g_assert_false(g_file_test(f->part, G_FILE_TEST_EXISTS));
  g_assert_false(g_file_test(f->dest, G_FILE_TEST_EXISTS));
  g_clear_error(&error);

  /* a malformed checksum is refused before any request */
  g_assert_false(vxm_download_file(url, f->dest, "abc", NULL, NULL, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull(strstr(error->message, "64 hex digits"));
}

static void
test_not_found(Fixture *f, gconstpointer data)
{
  g_autofree char *url = vxm_test_http_url(f->http, "/nope.iso");
  g_autoptr(GError) error = NULL;

  g_assert_false(vxm_download_file(url, f->dest, NULL, NULL, NULL, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "HTTP 404"));
  g_assert_nonnull(strstr(error->message, url));
  /* the error page never lands in a file */
  g_assert_false(g_file_test(f->part, G_FILE_TEST_EXISTS));
  g_assert_false(g_file_test(f->dest, G_FILE_TEST_EXISTS));
}

static void
test_connection_refused(Fixture *f, gconstpointer data)
{
  g_autofree char *url =
      g_strdup_printf("http://127.0.0.1:%u/virtio-win.iso", vxm_test_http_unused_port());
  g_autoptr(GError) error = NULL;

  g_assert_false(vxm_download_file(url, f->dest, NULL, NULL, NULL, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_IO);
  g_assert_nonnull(strstr(error->message, "connection refused"));
  g_assert_false(g_file_test(f->dest, G_FILE_TEST_EXISTS));
}

static void
test_only_http(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false(vxm_download_is_url("file:///etc/passwd"));
  g_assert_false(vxm_download_is_url("/srv/virtio-win.iso"));
  g_assert_true(vxm_download_is_url("HTTPS://example.org/x.iso"));
  g_assert_false(vxm_download_file("file:///etc/passwd", f->dest, NULL, NULL, NULL, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
  g_assert_false(g_file_test(f->part, G_FILE_TEST_EXISTS));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  /* the loopback server must be reached directly, whatever proxy the caller has */
  g_setenv("no_proxy", "127.0.0.1", TRUE);
  g_setenv("NO_PROXY", "127.0.0.1", TRUE);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD("/vxm/vm/download/complete", test_complete);
  ADD("/vxm/vm/download/resume", test_resume);
  ADD("/vxm/vm/download/part-already-complete", test_part_already_complete);
  ADD("/vxm/vm/download/checksum-mismatch", test_checksum_mismatch);
  ADD("/vxm/vm/download/not-found", test_not_found);
  ADD("/vxm/vm/download/connection-refused", test_connection_refused);
  ADD("/vxm/vm/download/only-http", test_only_http);
  return g_test_run();
}
