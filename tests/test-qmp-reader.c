/* The QMP reader: framing and classification of what QEMU (or something broken) sends. */
#include "common/vxm-error.h"
#include "qemu/vxm-qmp-reader.h"
#include "vxm-test-util.h"

typedef struct {
  guint greetings, returns, errors, events, bad;
} Counts;

static void
drain(VxmQmpReader *reader, Counts *counts)
{
  for (;;) {
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmQmpMessage) msg = vxm_qmp_reader_next(reader, &error);
    if (msg == NULL && error == NULL)
      return;
    if (msg == NULL) {
      g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
      counts->bad++;
      continue;
    }
    switch (msg->kind) {
    case VXM_QMP_MESSAGE_GREETING: counts->greetings++; break;
    case VXM_QMP_MESSAGE_RETURN: counts->returns++; break;
    case VXM_QMP_MESSAGE_ERROR: counts->errors++; break;
    case VXM_QMP_MESSAGE_EVENT: counts->events++; break;
    }
  }
}

/* The session captured from this machine's QEMU 7.2, cut at every chunk size. */
static void
test_transcript_any_split(void)
{
  g_autofree char *path = vxm_test_source_path("fuzz/corpus/qmp-reader/transcript-qemu-7.2");
  g_autofree char *data = NULL;
  gsize length = 0;

  g_assert_true(g_file_get_contents(path, &data, &length, NULL));
  for (gsize chunk = 1; chunk <= length; chunk = chunk < 16 ? chunk + 1 : chunk * 3) {
    g_autoptr(VxmQmpReader) reader = vxm_qmp_reader_new(0);
    Counts counts = {0};

    for (gsize off = 0; off < length; off += chunk) {
      g_assert_true(vxm_qmp_reader_feed(reader, data + off, MIN(chunk, length - off), NULL));
      drain(reader, &counts);
    }
    g_assert_true(vxm_qmp_reader_finish(reader, NULL));
    g_assert_cmpuint(counts.greetings, ==, 1);
    g_assert_cmpuint(counts.returns, ==, 10);
    g_assert_cmpuint(counts.errors, ==, 4);
    g_assert_cmpuint(counts.events, ==, 6);
    g_assert_cmpuint(counts.bad, ==, 0);
  }
}

static VxmQmpMessage *
parse_one(const char *text, GError **error)
{
  g_autoptr(VxmQmpReader) reader = vxm_qmp_reader_new(0);

  g_assert_true(vxm_qmp_reader_feed(reader, text, strlen(text), NULL));
  return vxm_qmp_reader_next(reader, error);
}

static void
test_greeting(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQmpMessage) msg =
      parse_one("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "
                "\"package\": \"Debian\"}, \"capabilities\": [\"oob\"]}}\r\n",
                &error);

  g_assert_no_error(error);
  g_assert_cmpint(msg->kind, ==, VXM_QMP_MESSAGE_GREETING);
  g_assert_cmpint(msg->version_major, ==, 7);
  g_assert_cmpint(msg->version_minor, ==, 2);
  g_assert_cmpint(msg->version_micro, ==, 22);
  g_assert_cmpstr(msg->package, ==, "Debian");
  g_assert_cmpstrv(msg->capabilities, ((const char *[]){"oob", NULL}));
}

static void
test_reply_and_event(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmQmpMessage) ret =
      parse_one("{\"return\": {\"status\": \"running\"}, \"id\": 6}\r\n", &error);
  g_autoptr(VxmQmpMessage) err = parse_one(
      "{\"id\": \"str-id\", \"error\": {\"class\": \"GenericError\", \"desc\": \"bad\"}}\n",
      &error);
  g_autoptr(VxmQmpMessage) noid = parse_one("{\"return\": 5}\n", &error);
  g_autoptr(VxmQmpMessage) ev = parse_one(
      "{\"timestamp\": {\"seconds\": 1795491169, \"microseconds\": 359406}, \"event\": "
      "\"RESET\", \"data\": {\"guest\": false, \"reason\": \"host-qmp-system-reset\"}}\r\n",
      &error);

  g_assert_no_error(error);
  g_assert_cmpint(ret->kind, ==, VXM_QMP_MESSAGE_RETURN);
  g_assert_cmpint(json_node_get_int(ret->id), ==, 6);
  g_assert_cmpstr(json_object_get_string_member(json_node_get_object(ret->ret), "status"), ==,
                  "running");
  g_assert_cmpint(err->kind, ==, VXM_QMP_MESSAGE_ERROR);
  g_assert_cmpstr(json_node_get_string(err->id), ==, "str-id");
  g_assert_cmpstr(err->error_class, ==, "GenericError");
  g_assert_cmpstr(err->error_desc, ==, "bad");
  g_assert_null(noid->id);
  g_assert_cmpint(json_node_get_int(noid->ret), ==, 5);
  g_assert_cmpint(ev->kind, ==, VXM_QMP_MESSAGE_EVENT);
  g_assert_cmpstr(ev->event, ==, "RESET");
  g_assert_cmpint(ev->timestamp_us, ==, G_GINT64_CONSTANT(1795491169359406));
  g_assert_cmpstr(json_object_get_string_member(ev->data, "reason"), ==, "host-qmp-system-reset");
}

static void
test_line_ends(void)
{
  g_autoptr(VxmQmpReader) reader = vxm_qmp_reader_new(0);
  const char *text = "\r\n\n   \r\n{\"return\": 1}\n{\"return\": 2}\r\n{\"return\": 3}";
  Counts counts = {0};
  g_autoptr(GError) error = NULL;

  g_assert_true(vxm_qmp_reader_feed(reader, text, strlen(text), NULL));
  drain(reader, &counts);
  g_assert_cmpuint(counts.returns, ==, 2);
  g_assert_cmpuint(vxm_qmp_reader_get_pending(reader), ==, strlen("{\"return\": 3}"));
  /* End of stream with a message half-read is a truncated message. */
  g_assert_false(vxm_qmp_reader_finish(reader, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
  g_assert_nonnull(strstr(error->message, "middle of a message"));
}

static void
test_size_cap(void)
{
  g_autoptr(VxmQmpReader) reader = vxm_qmp_reader_new(32);
  g_autoptr(VxmQmpReader) ok = vxm_qmp_reader_new(32);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;
  g_autoptr(GError) error3 = NULL;
  g_autoptr(VxmQmpMessage) msg = NULL;
  g_autoptr(VxmQmpMessage) after = NULL;
  const char *exact = "{\"return\": \"0123456789abcdefgh\"}\r\n"; /* 32 bytes before \r\n */
  const char *long_line = "{\"return\": \"0123456789abcdefghijklmnopqrstu\"}\n{\"return\": 1}\n";
  char big[40];

  g_assert_cmpuint(strlen(exact), ==, 34);
  g_assert_true(vxm_qmp_reader_feed(ok, exact, strlen(exact), NULL));
  msg = vxm_qmp_reader_next(ok, &error);
  g_assert_no_error(error);
  g_assert_nonnull(msg);

  /* A complete over-long line is refused; the next line still reads. */
  g_assert_true(vxm_qmp_reader_feed(ok, long_line, strlen(long_line), NULL));
  g_assert_null(vxm_qmp_reader_next(ok, &error3));
  g_assert_error(error3, VXM_ERROR, VXM_ERROR_PROTOCOL);
  after = vxm_qmp_reader_next(ok, NULL);
  g_assert_nonnull(after);

  /* An unterminated line past the cap cannot be framed: the stream is dead. */
  memset(big, 'x', sizeof(big));
  g_assert_true(vxm_qmp_reader_feed(reader, big, 20, NULL));
  g_assert_false(vxm_qmp_reader_feed(reader, big, 20, &error2));
  g_assert_error(error2, VXM_ERROR, VXM_ERROR_PROTOCOL);
  g_assert_false(vxm_qmp_reader_feed(reader, "\n", 1, NULL));
  g_assert_false(vxm_qmp_reader_finish(reader, NULL));
}

static void
test_malformed(void)
{
  static const char *const bad[] = {
      "this is not json",
      "[1, 2, 3]",
      "\"a string\"",
      "null",
      "{}",
      "{\"neither\": 1}",
      "{\"error\": {\"class\": 42, \"desc\": \"x\"}}",
      "{\"error\": \"x\"}",
      "{\"error\": {\"class\": \"GenericError\"}}",
      "{\"event\": 5}",
      "{\"event\": \"\"}",
      "{\"event\": \"X\", \"data\": [1]}",
      "{\"event\": \"X\", \"timestamp\": {\"seconds\": -1, \"microseconds\": 0}}",
      "{\"event\": \"X\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 1000000}}",
      "{\"event\": \"X\", \"timestamp\": {\"seconds\": \"1\", \"microseconds\": 0}}",
      "{\"QMP\": 1}",
      "{\"QMP\": {\"version\": {\"qemu\": {\"major\": \"7\", \"minor\": 2, \"micro\": 0}}, "
      "\"capabilities\": []}}",
      "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}}, "
      "\"capabilities\": [1]}}",
      "{\"return\": {}, \"id\": 1}\xff\xfe",
      "{\"return\": {",
      "{\"return\": 1}}",
      "{\"return\": 1} {\"return\": 2}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(VxmQmpReader) reader = vxm_qmp_reader_new(0);
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmQmpMessage) msg = NULL;
    g_autoptr(VxmQmpMessage) next = NULL;
    g_autofree char *text = g_strdup_printf("%s\r\n{\"return\": \"next\"}\r\n", bad[i]);

    g_assert_true(vxm_qmp_reader_feed(reader, text, strlen(text), NULL));
    msg = vxm_qmp_reader_next(reader, &error);
    g_test_message("%s -> %s", bad[i], error ? error->message : "accepted");
    g_assert_null(msg);
    g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
    /* The broken line is consumed; what follows is read normally. */
    next = vxm_qmp_reader_next(reader, NULL);
    g_assert_nonnull(next);
    g_assert_cmpstr(json_node_get_string(next->ret), ==, "next");
  }
}

static void
test_nul_byte(void)
{
  g_autoptr(VxmQmpReader) reader = vxm_qmp_reader_new(0);
  g_autoptr(GError) error = NULL;
  const char text[] = "{\"return\": \"a\0b\"}\n";

  g_assert_true(vxm_qmp_reader_feed(reader, text, sizeof(text) - 1, NULL));
  g_assert_null(vxm_qmp_reader_next(reader, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
}

static void
test_nesting(void)
{
  g_autoptr(GString) deep = g_string_new(NULL);
  g_autoptr(GString) fine = g_string_new("{\"return\": ");
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;
  g_autoptr(VxmQmpMessage) too_deep = NULL;
  g_autoptr(VxmQmpMessage) ok = NULL;

  for (int i = 0; i < 100000; i++)
    g_string_append_c(deep, '[');
  g_string_append_c(deep, '\n');
  too_deep = parse_one(deep->str, &error);
  g_assert_null(too_deep);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
  g_assert_nonnull(strstr(error->message, "nests"));

  /* Brackets inside strings do not count. */
  for (int i = 0; i < 100; i++)
    g_string_append(fine, "[\"[[[{{{\\\"\",");
  g_string_append(fine, "1");
  for (int i = 0; i < 100; i++)
    g_string_append_c(fine, ']');
  g_string_append(fine, "}\n");
  ok = parse_one(fine->str, &error2);
  g_assert_no_error(error2);
  g_assert_nonnull(ok);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/qmp/reader/transcript-any-split", test_transcript_any_split);
  g_test_add_func("/vxm/qmp/reader/greeting", test_greeting);
  g_test_add_func("/vxm/qmp/reader/reply-and-event", test_reply_and_event);
  g_test_add_func("/vxm/qmp/reader/line-ends", test_line_ends);
  g_test_add_func("/vxm/qmp/reader/size-cap", test_size_cap);
  g_test_add_func("/vxm/qmp/reader/malformed", test_malformed);
  g_test_add_func("/vxm/qmp/reader/nul-byte", test_nul_byte);
  g_test_add_func("/vxm/qmp/reader/nesting", test_nesting);
  return g_test_run();
}
