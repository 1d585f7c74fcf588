/* vxm-qmp-reader: QMP framing and message classification, with no I/O.
 *
 * Bytes from the monitor socket go in (any split, any number of messages per chunk); complete,
 * classified messages come out. QMP sends one JSON object per line ending in "\r\n" (vxm
 * never turns on QEMU's pretty printing). Everything a peer can send is handled as data: a
 * line over the size cap, invalid UTF-8, JSON that does not parse, nests too deep, has data
 * after its object or is not an object, or an object that is neither a greeting, a reply nor
 * an event, is a VXM_ERROR_PROTOCOL error for that line, never a crash. This is the fuzzed
 * layer.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The largest line accepted (query-qmp-schema replies are about 200 KiB). */
#define VXM_QMP_READER_MAX_LINE (16 * 1024 * 1024)
/* Deepest nesting accepted; QEMU's own parser stops at 1024, its replies use far fewer. */
#define VXM_QMP_READER_MAX_DEPTH 128

typedef enum {
  VXM_QMP_MESSAGE_GREETING, /* {"QMP": {"version": ..., "capabilities": [...]}} */
  VXM_QMP_MESSAGE_RETURN,   /* {"return": ANY, "id": ANY?} */
  VXM_QMP_MESSAGE_ERROR,    /* {"error": {"class": S, "desc": S}, "id": ANY?} */
  VXM_QMP_MESSAGE_EVENT,    /* {"event": S, "data": {...}?, "timestamp": {...}?} */
} VxmQmpMessageKind;

/* One classified message. Fields that do not apply to the kind are NULL/0. */
typedef struct {
  VxmQmpMessageKind kind;
  JsonObject *object;  /* the whole message */
  JsonNode *id;        /* replies: the "id" member, or NULL when the reply has none */
  JsonNode *ret;       /* RETURN: the "return" member */
  char *error_class;   /* ERROR: "GenericError", "CommandNotFound", ... */
  char *error_desc;    /* ERROR: QEMU's human-readable text */
  char *event;         /* EVENT: its name */
  JsonObject *data;    /* EVENT: "data", or an empty object when absent */
  gint64 timestamp_us; /* EVENT: QEMU's wall-clock timestamp in microseconds, -1 if absent */
  /* GREETING */
  int version_major;
  int version_minor;
  int version_micro;
  char *package;
  GStrv capabilities;
} VxmQmpMessage;

void vxm_qmp_message_free(VxmQmpMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmQmpMessage, vxm_qmp_message_free)

/* Classifies one parsed JSON value as a QMP message. */
VxmQmpMessage *vxm_qmp_message_new_from_node(JsonNode *node,
                                             GError **error) G_GNUC_WARN_UNUSED_RESULT;

typedef struct _VxmQmpReader VxmQmpReader;

/* @max_line: the largest line accepted, 0 for VXM_QMP_READER_MAX_LINE. */
VxmQmpReader *vxm_qmp_reader_new(gsize max_line);
void vxm_qmp_reader_free(VxmQmpReader *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmQmpReader, vxm_qmp_reader_free)

/* Appends bytes. Fails (and stays failed) when a line grows beyond the cap: the stream can no
 * longer be framed, the connection must be dropped. */
gboolean vxm_qmp_reader_feed(VxmQmpReader *self, const void *data, gsize length,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The next complete message, or NULL: with @error unset when no complete line is buffered,
 * with @error set when the next line was not a valid QMP message (that line is consumed, so
 * a caller that wants to may go on reading). */
VxmQmpMessage *vxm_qmp_reader_next(VxmQmpReader *self, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* At end of stream: fails when a partial line is left over (a truncated message). */
gboolean vxm_qmp_reader_finish(VxmQmpReader *self, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Bytes buffered that do not yet form a complete line. */
gsize vxm_qmp_reader_get_pending(VxmQmpReader *self);

G_END_DECLS
