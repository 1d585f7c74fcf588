/* vxm-qmp-reader: QMP framing and message classification, with no I/O. */
#include "qemu/vxm-qmp-reader.h"

#include <string.h>

#include "common/vxm-error.h"

struct _VxmQmpReader {
  GByteArray *buf;
  gsize start;   /* first byte not yet consumed */
  gsize scanned; /* bytes from start known to hold no newline */
  gsize tail;    /* offset of the bytes after the last newline fed */
  gsize max_line;
  gboolean failed; /* a line overflowed: the stream cannot be framed any more */
};

void
vxm_qmp_message_free(VxmQmpMessage *message)
{
  if (message == NULL)
    return;
  g_clear_pointer(&message->object, json_object_unref);
  g_clear_pointer(&message->id, json_node_unref);
  g_clear_pointer(&message->ret, json_node_unref);
  g_free(message->error_class);
  g_free(message->error_desc);
  g_free(message->event);
  g_clear_pointer(&message->data, json_object_unref);
  g_free(message->package);
  g_strfreev(message->capabilities);
  g_free(message);
}

/* Typed member access that never trips json-glib's precondition checks on unexpected types. */
static JsonObject *
member_object(JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member(object, name);
  return node != NULL && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
}

static const char *
member_string(JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member(object, name);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_value_type(node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string(node);
}

static gboolean
member_int(JsonObject *object, const char *name, gint64 *out)
{
  JsonNode *node = json_object_get_member(object, name);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_value_type(node) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int(node);
  return TRUE;
}

static gboolean
parse_greeting(VxmQmpMessage *msg, JsonObject *qmp, GError **error)
{
  JsonObject *version = qmp ? member_object(qmp, "version") : NULL;
  JsonObject *qemu = version ? member_object(version, "qemu") : NULL;
  JsonNode *caps = qmp ? json_object_get_member(qmp, "capabilities") : NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
  gint64 major, minor, micro;

  if (qemu == NULL || !member_int(qemu, "major", &major) || !member_int(qemu, "minor", &minor) ||
      !member_int(qemu, "micro", &micro) || major < 0 || major > G_MAXINT || minor < 0 ||
      minor > G_MAXINT || micro < 0 || micro > G_MAXINT) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                        "QMP greeting has no valid QMP.version.qemu {major, minor, micro}");
    return FALSE;
  }
  if (caps == NULL || !JSON_NODE_HOLDS_ARRAY(caps)) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                        "QMP greeting has no QMP.capabilities array");
    return FALSE;
  }
  for (guint i = 0; i < json_array_get_length(json_node_get_array(caps)); i++) {
    JsonNode *cap = json_array_get_element(json_node_get_array(caps), i);
    if (!JSON_NODE_HOLDS_VALUE(cap) || json_node_get_value_type(cap) != G_TYPE_STRING) {
      g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                          "QMP greeting lists a capability that is not a string");
      return FALSE;
    }
    g_strv_builder_add(builder, json_node_get_string(cap));
  }
  msg->kind = VXM_QMP_MESSAGE_GREETING;
  msg->version_major = (int)major;
  msg->version_minor = (int)minor;
  msg->version_micro = (int)micro;
  msg->package = g_strdup(member_string(version, "package"));
  msg->capabilities = g_strv_builder_end(builder);
  return TRUE;
}

static gboolean
parse_event(VxmQmpMessage *msg, JsonObject *object, GError **error)
{
  const char *name = member_string(object, "event");
  JsonNode *data = json_object_get_member(object, "data");
  JsonNode *timestamp = json_object_get_member(object, "timestamp");

  if (name == NULL || *name == '\0') {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                        "QMP event has no name (\"event\" is not a non-empty string)");
    return FALSE;
  }
  if (data != NULL && !JSON_NODE_HOLDS_OBJECT(data)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "QMP event %s has a \"data\" member that is not an object", name);
    return FALSE;
  }
  msg->timestamp_us = -1;
  if (timestamp != NULL) {
    gint64 seconds, micro;
    if (!JSON_NODE_HOLDS_OBJECT(timestamp) ||
        !member_int(json_node_get_object(timestamp), "seconds", &seconds) ||
        !member_int(json_node_get_object(timestamp), "microseconds", &micro) || seconds < 0 ||
        seconds > G_MAXINT64 / G_USEC_PER_SEC - 1 || micro < 0 || micro >= G_USEC_PER_SEC) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "QMP event %s has a malformed timestamp",
                  name);
      return FALSE;
    }
    msg->timestamp_us = seconds * G_USEC_PER_SEC + micro;
  }
  msg->kind = VXM_QMP_MESSAGE_EVENT;
  msg->event = g_strdup(name);
  msg->data = data ? json_object_ref(json_node_get_object(data)) : json_object_new();
  return TRUE;
}

VxmQmpMessage *
vxm_qmp_message_new_from_node(JsonNode *node, GError **error)
{
  g_autoptr(VxmQmpMessage) msg = g_new0(VxmQmpMessage, 1);
  JsonObject *object;
  JsonNode *id;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "QMP message is a JSON %s, not an object",
                node == NULL                  ? "nothing"
                : JSON_NODE_HOLDS_ARRAY(node) ? "array"
                : JSON_NODE_HOLDS_NULL(node)  ? "null"
                                              : "scalar");
    return NULL;
  }
  object = json_node_get_object(node);
  msg->object = json_object_ref(object);
  msg->timestamp_us = -1;
  id = json_object_get_member(object, "id");
  if (id != NULL)
    msg->id = json_node_ref(id);

  if (json_object_has_member(object, "return")) {
    msg->kind = VXM_QMP_MESSAGE_RETURN;
    msg->ret = json_node_ref(json_object_get_member(object, "return"));
  } else if (json_object_has_member(object, "error")) {
    JsonObject *err = member_object(object, "error");
    const char *klass = err ? member_string(err, "class") : NULL;
    const char *desc = err ? member_string(err, "desc") : NULL;
    if (klass == NULL || desc == NULL) {
      g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                          "QMP error reply lacks a string \"class\" and \"desc\"");
      return NULL;
    }
    msg->kind = VXM_QMP_MESSAGE_ERROR;
    msg->error_class = g_strdup(klass);
    msg->error_desc = g_strdup(desc);
  } else if (json_object_has_member(object, "event")) {
    if (!parse_event(msg, object, error))
      return NULL;
  } else if (json_object_has_member(object, "QMP")) {
    if (!parse_greeting(msg, member_object(object, "QMP"), error))
      return NULL;
  } else {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                        "QMP message has none of \"return\", \"error\", \"event\" or \"QMP\"");
    return NULL;
  }
  return g_steal_pointer(&msg);
}

VxmQmpReader *
vxm_qmp_reader_new(gsize max_line)
{
  VxmQmpReader *self = g_new0(VxmQmpReader, 1);
  self->buf = g_byte_array_new();
  self->max_line = max_line ? max_line : VXM_QMP_READER_MAX_LINE;
  return self;
}

void
vxm_qmp_reader_free(VxmQmpReader *self)
{
  if (self == NULL)
    return;
  g_byte_array_unref(self->buf);
  g_free(self);
}

gsize
vxm_qmp_reader_get_pending(VxmQmpReader *self)
{
  return self->buf->len - self->start;
}

gboolean
vxm_qmp_reader_feed(VxmQmpReader *self, const void *data, gsize length, GError **error)
{
  const guint8 *bytes = data;
  const guint8 *last_nl;

  if (self->failed) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                        "QMP stream already failed: a line was over the size limit");
    return FALSE;
  }
  /* Only the unterminated tail can overflow; complete lines are checked as they are taken. */
  last_nl = length ? memrchr(bytes, '\n', length) : NULL;
  if (last_nl != NULL ? (gsize)(bytes + length - last_nl - 1) > self->max_line
                      : self->buf->len - self->tail + length > self->max_line) {
    self->failed = TRUE;
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "QMP message longer than %" G_GSIZE_FORMAT " bytes without a line end",
                self->max_line);
    return FALSE;
  }
  /* Drop consumed bytes before growing, so the buffer stays about one line long. */
  if (self->start > 0 && self->start >= self->buf->len / 2) {
    g_byte_array_remove_range(self->buf, 0, self->start);
    self->tail -= MIN(self->tail, self->start);
    self->start = 0;
  }
  if (last_nl != NULL)
    self->tail = self->buf->len + (gsize)(last_nl - bytes) + 1;
  g_byte_array_append(self->buf, bytes, length);
  return TRUE;
}

/* A structural pre-check json-glib does not do: nesting depth (its parser recurses once per
 * level, so an attacker's "[[[[..." would exhaust the stack) and data after the top-level
 * value (json-glib accepts "{} {}" as one document). Brackets inside strings do not count. */
static gboolean
check_structure(const char *text, gsize length, GError **error)
{
  gboolean in_string = FALSE, escaped = FALSE, closed = FALSE;
  guint depth = 0;

  for (gsize i = 0; i < length; i++) {
    char c = text[i];
    if (closed) {
      if (!g_ascii_isspace(c)) {
        g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                            "QMP message has data after its JSON object");
        return FALSE;
      }
    } else if (in_string) {
      if (escaped)
        escaped = FALSE;
      else if (c == '\\')
        escaped = TRUE;
      else if (c == '"')
        in_string = FALSE;
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '{' || c == '[') {
      if (++depth > VXM_QMP_READER_MAX_DEPTH) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "QMP message nests deeper than %d levels",
                    VXM_QMP_READER_MAX_DEPTH);
        return FALSE;
      }
    } else if ((c == '}' || c == ']') && depth > 0) {
      closed = --depth == 0;
    }
  }
  return TRUE;
}

static VxmQmpMessage *
parse_line(const char *line, gsize length, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!g_utf8_validate_len(line, length, NULL)) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                        "QMP message is not valid UTF-8 (or holds a NUL byte)");
    return NULL;
  }
  if (!check_structure(line, length, error))
    return NULL;
  parser = json_parser_new_immutable();
  if (!json_parser_load_from_data(parser, line, (gssize)length, &local_error)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "QMP message is not valid JSON: %s",
                local_error->message);
    return NULL;
  }
  return vxm_qmp_message_new_from_node(json_parser_get_root(parser), error);
}

static gboolean
is_blank(const char *text, gsize length)
{
  for (gsize i = 0; i < length; i++) {
    if (!g_ascii_isspace(text[i]))
      return FALSE;
  }
  return TRUE;
}

VxmQmpMessage *
vxm_qmp_reader_next(VxmQmpReader *self, GError **error)
{
  for (;;) {
    gsize avail = self->buf->len - self->start;
    const char *base;
    const char *nl;
    gsize length;

    if (avail <= self->scanned)
      return NULL;
    base = (const char *)self->buf->data + self->start;
    nl = memchr(base + self->scanned, '\n', avail - self->scanned);
    if (nl == NULL) {
      self->scanned = avail;
      return NULL;
    }
    length = (gsize)(nl - base);
    self->start += length + 1;
    self->scanned = 0;
    if (length > 0 && base[length - 1] == '\r')
      length--;
    if (length > self->max_line) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                  "QMP message of %" G_GSIZE_FORMAT " bytes is over the %" G_GSIZE_FORMAT
                  " byte limit",
                  length, self->max_line);
      return NULL;
    }
    if (is_blank(base, length))
      continue;
    return parse_line(base, length, error);
  }
}

gboolean
vxm_qmp_reader_finish(VxmQmpReader *self, GError **error)
{
  gsize pending = vxm_qmp_reader_get_pending(self);

  if (self->failed) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                        "QMP stream ended after a line over the size limit");
    return FALSE;
  }
  if (pending > 0 && !is_blank((const char *)self->buf->data + self->start, pending)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "QMP stream ended in the middle of a message (%" G_GSIZE_FORMAT
                " bytes without a line end)",
                pending);
    return FALSE;
  }
  return TRUE;
}
