/* vxm-vxmd-protocol: parsing and writing vxmd's messages (see the header for the format). */
#include "ops/vxm-vxmd-protocol.h"

#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-hostfs.h"
#include "pci/vxm-pci-address.h"
#include "usb/vxm-usb-device.h"

/* which fields each request must / may carry */
enum { F_VM = 1, F_VM_OPT = 2, F_GPU = 4, F_NODES = 8, F_PAGES = 16, F_BYTES = 32, F_DDC = 64 };

/* Every request: its name on the wire and its fields, for the parser and the writer. What vxmd
 * does with it is its row in vxmd/vxm-vxmd-operations.c. */
static const struct {
  const char *name;
  guint fields;
} requests[VXM_VXMD_N_OPS] = {
    [VXM_VXMD_OP_HELLO] = {"hello", 0},
    [VXM_VXMD_OP_PREPARE_GPU] = {"prepare-gpu", F_VM | F_GPU},
    [VXM_VXMD_OP_RELEASE_GPU] = {"release-gpu", F_VM | F_GPU},
    [VXM_VXMD_OP_GRANT_NODES] = {"grant-nodes", F_VM | F_NODES},
    [VXM_VXMD_OP_REVOKE_NODES] = {"revoke-nodes", F_VM},
    [VXM_VXMD_OP_RESERVE_HUGEPAGES] = {"reserve-hugepages", F_VM | F_PAGES},
    [VXM_VXMD_OP_RELEASE_HUGEPAGES] = {"release-hugepages", F_VM},
    [VXM_VXMD_OP_RAISE_MEMLOCK] = {"raise-memlock", F_VM | F_BYTES},
    [VXM_VXMD_OP_DDC_SWITCH] = {"ddc-switch", F_VM | F_GPU | F_DDC},
    [VXM_VXMD_OP_DMI_IDENTITY] = {"dmi-identity", 0},
    [VXM_VXMD_OP_JOURNAL_STATUS] = {"journal-status", F_VM_OPT},
    [VXM_VXMD_OP_RECOVER] = {"recover", F_VM_OPT},
    [VXM_VXMD_OP_RESTORE_ALL] = {"restore-all", F_VM},
    [VXM_VXMD_OP_GPU_STATUS] = {"gpu-status", F_VM_OPT | F_GPU},
};

static const char *const known_members[] = {
    "vxmd",      "request", "vm",          "gpu",     "keep_bound", "timeout_ms", "nodes",
    "page_size", "count",   "node",        "bytes",   "monitor",    "input",      "host_input",
    "to_guest",  "auto",    "drop_caches", "compact", "extra",      NULL};

const char *
vxm_vxmd_op_to_string(VxmVxmdOp op)
{
  return (guint)op < G_N_ELEMENTS(requests) ? requests[op].name : "unknown";
}

void
vxm_vxmd_request_free(VxmVxmdRequest *req)
{
  if (req == NULL)
    return;
  g_free(req->vm);
  g_free(req->gpu);
  g_strfreev(req->extra);
  g_strfreev(req->nodes);
  g_free(req->monitor);
  g_free(req);
}

static gboolean
name_chars_ok(const char *name, gsize max, const char *extra)
{
  gsize len = strlen(name);

  if (len == 0 || len > max)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum(name[i]) && strchr(extra, name[i]) == NULL)
      return FALSE;
  return TRUE;
}

gboolean
vxm_vxmd_check_vm_name(const char *name, GError **error)
{
  if (name != NULL && name_chars_ok(name, 64, "_-"))
    return TRUE;
  g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
              "'%s' is not a VM name vxmd accepts: 1 to 64 letters, digits, '_' or '-'",
              name != NULL ? name : "");
  return FALSE;
}

static gboolean
is_decimal(const char *s, gsize max_digits)
{
  gsize len = strlen(s);

  if (len == 0 || len > max_digits || (len > 1 && s[0] == '0'))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit(s[i]))
      return FALSE;
  return TRUE;
}

/* A /dev/input/by-id or by-path link name as udev makes them: its characters (udev replaces
 * any other with '_' or \xNN, and those never reach here) and "-event-", never "." or "..";
 * with no '/' it cannot leave its folder. */
static gboolean
input_link_name_ok(const char *name)
{
  return name_chars_ok(name, 200, "_:+-.#=@") && strcmp(name, ".") != 0 &&
         strcmp(name, "..") != 0 && strstr(name, "-event-") != NULL;
}

gboolean
vxm_vxmd_check_node_name(const char *name, GError **error)
{
  if (name != NULL) {
    if (g_str_has_prefix(name, "vfio:") && is_decimal(name + 5, 6))
      return TRUE;
    if (g_str_has_prefix(name, "event") && is_decimal(name + 5, 6))
      return TRUE;
    if (g_str_has_prefix(name, "usb:")) {
      g_autofree char *path = g_strconcat(VXM_HOST_DEV_BUS_USB "/", name + 4, NULL);
      guint bus, dev;

      if (vxm_usb_node_parse(path, &bus, &dev))
        return TRUE;
    }
    if (g_str_has_prefix(name, VXM_VXMD_BY_PATH_PREFIX) &&
        input_link_name_ok(name + strlen(VXM_VXMD_BY_PATH_PREFIX)))
      return TRUE;
    if (input_link_name_ok(name))
      return TRUE;
  }
  g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
              "'%s' is not a device node name vxmd accepts: vfio:N (an IOMMU group), eventN, a "
              "/dev/input/by-id name, by-path:NAME for a /dev/input/by-path name or usb:BBB/DDD "
              "for /dev/bus/usb/BBB/DDD (never a path)",
              name != NULL ? name : "");
  return FALSE;
}

char *
vxm_vxmd_node_host_path(const char *name)
{
  if (!vxm_vxmd_check_node_name(name, NULL))
    return NULL;
  if (g_str_has_prefix(name, "vfio:"))
    return g_strdup_printf(VXM_HOST_DEV_VFIO "/%s", name + 5);
  if (g_str_has_prefix(name, "event") && is_decimal(name + 5, 6))
    return g_strdup_printf(VXM_HOST_DEV_INPUT "/%s", name);
  if (g_str_has_prefix(name, "usb:"))
    return g_strconcat(VXM_HOST_DEV_BUS_USB "/", name + 4, NULL);
  if (g_str_has_prefix(name, VXM_VXMD_BY_PATH_PREFIX))
    return g_strdup_printf(VXM_HOST_DEV_INPUT "/by-path/%s",
                           name + strlen(VXM_VXMD_BY_PATH_PREFIX));
  return g_strdup_printf(VXM_HOST_DEV_INPUT "/by-id/%s", name);
}

char *
vxm_vxmd_node_name_for_path(const char *host_path, GError **error)
{
  g_autofree char *name = NULL;

  if (host_path != NULL && g_str_has_prefix(host_path, VXM_HOST_DEV_VFIO "/"))
    name = g_strdup_printf("vfio:%s", host_path + strlen(VXM_HOST_DEV_VFIO "/"));
  else if (host_path != NULL && g_str_has_prefix(host_path, VXM_HOST_DEV_BUS_USB "/"))
    name = g_strdup_printf("usb:%s", host_path + strlen(VXM_HOST_DEV_BUS_USB "/"));
  else if (host_path != NULL && g_str_has_prefix(host_path, VXM_HOST_DEV_INPUT "/by-id/"))
    name = g_strdup(host_path + strlen(VXM_HOST_DEV_INPUT "/by-id/"));
  else if (host_path != NULL && g_str_has_prefix(host_path, VXM_HOST_DEV_INPUT "/by-path/"))
    name = g_strconcat(VXM_VXMD_BY_PATH_PREFIX, host_path + strlen(VXM_HOST_DEV_INPUT "/by-path/"),
                       NULL);
  else if (host_path != NULL && g_str_has_prefix(host_path, VXM_HOST_DEV_INPUT "/"))
    name = g_strdup(host_path + strlen(VXM_HOST_DEV_INPUT "/"));
  /* the name is checked, and must lead back to the same path: "by-id/x" or "event3-event-x"
   * under /dev/input would otherwise name another node */
  if (name != NULL && vxm_vxmd_check_node_name(name, NULL)) {
    g_autofree char *back = vxm_vxmd_node_host_path(name);

    if (g_strcmp0(back, host_path) == 0)
      return g_steal_pointer(&name);
  }
  g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
              "%s is not a node vxmd can hand over (only /dev/vfio/N, /dev/input/eventN, "
              "links in /dev/input/by-id and /dev/input/by-path, and /dev/bus/usb/BBB/DDD)",
              host_path != NULL ? host_path : "(null)");
  return NULL;
}

static gboolean protocol_error(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
protocol_error(GError **error, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start(ap, fmt);
  msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "bad request to vxmd: %s", msg);
  return FALSE;
}

/* A member's string value, NULL (and an error) if present with another type. */
static gboolean
get_string(JsonObject *obj, const char *member, gboolean required, char **out, GError **error)
{
  JsonNode *node = json_object_get_member(obj, member);
  const char *s;

  *out = NULL;
  if (node == NULL) {
    if (required)
      return protocol_error(error, "\"%s\" is missing", member);
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
    return protocol_error(error, "\"%s\" must be a string", member);
  s = json_node_get_string(node);
  *out = g_strdup(s);
  return TRUE;
}

static gboolean
get_uint(JsonObject *obj, const char *member, gboolean required, guint64 max, guint64 *out,
         GError **error)
{
  JsonNode *node = json_object_get_member(obj, member);
  gint64 v;

  if (node == NULL) {
    if (required)
      return protocol_error(error, "\"%s\" is missing", member);
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64)
    return protocol_error(error, "\"%s\" must be an integer", member);
  v = json_node_get_int(node);
  if (v < 0 || (guint64)v > max)
    return protocol_error(error, "\"%s\" is out of range (0..%" G_GUINT64_FORMAT ")", member, max);
  *out = (guint64)v;
  return TRUE;
}

static gboolean
get_bool(JsonObject *obj, const char *member, gboolean *out, GError **error)
{
  JsonNode *node = json_object_get_member(obj, member);

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_BOOLEAN)
    return protocol_error(error, "\"%s\" must be true or false", member);
  *out = json_node_get_boolean(node);
  return TRUE;
}

/* ---------------------------------------------------------------- a strict JSON scanner
 *
 * json-glib (1.6 to 1.10) is lenient where a privileged parser must not be: a repeated member
 * wins silently (a second "request"), anything after the first value is ignored, and C and C++
 * comments are skipped. The raw text is scanned here first, to RFC 8259 and no further: one
 * object, nothing but whitespace after it, no comment, every member name once per object and
 * without escapes (vxmd's names are plain words), nesting at most SCAN_MAX_DEPTH deep. */

#define SCAN_MAX_DEPTH 8

typedef struct {
  const char *start, *p, *end;
  GError **error;
} Scan;

static gboolean scan_value(Scan *s, guint depth);

static void
scan_ws(Scan *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
    s->p++;
}

static gboolean
scan_fail(Scan *s, const char *what)
{
  if (s->p + 1 < s->end && s->p[0] == '/' && (s->p[1] == '*' || s->p[1] == '/'))
    what = "a comment (JSON has none)";
  else if (s->p >= s->end)
    what = "the end of the message";
  return protocol_error(s->error, "not JSON (strictly): %s at byte %" G_GSIZE_FORMAT, what,
                        (gsize)(s->p - s->start));
}

static gboolean
scan_literal(Scan *s, const char *word)
{
  gsize n = strlen(word);

  if ((gsize)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
    return scan_fail(s, "an unexpected character");
  s->p += n;
  return TRUE;
}

/* A string; its raw text (without quotes) in @out_raw/@out_len, @out_escaped if it has '\'. */
static gboolean
scan_string(Scan *s, const char **out_raw, gsize *out_len, gboolean *out_escaped)
{
  const char *raw;

  if (s->p >= s->end || *s->p != '"')
    return scan_fail(s, "a missing string");
  raw = ++s->p;
  *out_escaped = FALSE;
  while (s->p < s->end && *s->p != '"') {
    guchar c = (guchar)*s->p;

    if (c < 0x20)
      return scan_fail(s, "a control character in a string");
    if (c == '\\') {
      *out_escaped = TRUE;
      s->p++;
      if (s->p >= s->end)
        break;
      if (*s->p == 'u') {
        for (guint i = 1; i <= 4; i++)
          if (s->p + i >= s->end || !g_ascii_isxdigit(s->p[i]))
            return scan_fail(s, "a bad \\u escape");
        s->p += 4;
      } else if (strchr("\"\\/bfnrt", *s->p) == NULL) {
        return scan_fail(s, "a bad escape");
      }
    }
    s->p++;
  }
  if (s->p >= s->end)
    return scan_fail(s, "an unterminated string");
  *out_raw = raw;
  *out_len = (gsize)(s->p - raw);
  s->p++;
  return TRUE;
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static gboolean
scan_number(Scan *s)
{
  const char *digits;

  if (s->p < s->end && *s->p == '-')
    s->p++;
  digits = s->p;
  while (s->p < s->end && g_ascii_isdigit(*s->p))
    s->p++;
  if (s->p == digits || (*digits == '0' && s->p - digits > 1))
    return scan_fail(s, "a bad number");
  if (s->p < s->end && *s->p == '.') {
    digits = ++s->p;
    while (s->p < s->end && g_ascii_isdigit(*s->p))
      s->p++;
    if (s->p == digits)
      return scan_fail(s, "a bad number");
  }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
    s->p++;
    if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
      s->p++;
    digits = s->p;
    while (s->p < s->end && g_ascii_isdigit(*s->p))
      s->p++;
    if (s->p == digits)
      return scan_fail(s, "a bad number");
  }
  return TRUE;
}

static gboolean
scan_object(Scan *s, guint depth)
{
  g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  s->p++; /* '{' */
  scan_ws(s);
  if (s->p < s->end && *s->p == '}') {
    s->p++;
    return TRUE;
  }
  for (;;) {
    const char *raw = NULL;
    gsize len = 0;
    gboolean escaped = FALSE;
    char *name;

    scan_ws(s);
    if (!scan_string(s, &raw, &len, &escaped))
      return FALSE;
    if (escaped) {
      s->p = raw;
      return scan_fail(s, "an escape in a member name");
    }
    name = g_strndup(raw, len);
    if (!g_hash_table_add(names, name)) {
      s->p = raw;
      return protocol_error(s->error, "member \"%s\" appears twice (byte %" G_GSIZE_FORMAT ")",
                            name, (gsize)(raw - 1 - s->start));
    }
    scan_ws(s);
    if (s->p >= s->end || *s->p != ':')
      return scan_fail(s, "a missing ':'");
    s->p++;
    if (!scan_value(s, depth + 1))
      return FALSE;
    scan_ws(s);
    if (s->p < s->end && *s->p == ',') {
      s->p++;
      continue;
    }
    if (s->p < s->end && *s->p == '}') {
      s->p++;
      return TRUE;
    }
    return scan_fail(s, "a missing ',' or '}'");
  }
}

static gboolean
scan_array(Scan *s, guint depth)
{
  s->p++; /* '[' */
  scan_ws(s);
  if (s->p < s->end && *s->p == ']') {
    s->p++;
    return TRUE;
  }
  for (;;) {
    if (!scan_value(s, depth + 1))
      return FALSE;
    scan_ws(s);
    if (s->p < s->end && *s->p == ',') {
      s->p++;
      continue;
    }
    if (s->p < s->end && *s->p == ']') {
      s->p++;
      return TRUE;
    }
    return scan_fail(s, "a missing ',' or ']'");
  }
}

static gboolean
scan_value(Scan *s, guint depth)
{
  const char *raw;
  gsize len;
  gboolean escaped;

  if (depth > SCAN_MAX_DEPTH)
    return protocol_error(s->error, "nested more than %d deep", SCAN_MAX_DEPTH);
  scan_ws(s);
  if (s->p >= s->end)
    return scan_fail(s, "a missing value");
  switch (*s->p) {
  case '{': return scan_object(s, depth);
  case '[': return scan_array(s, depth);
  case '"': return scan_string(s, &raw, &len, &escaped);
  case 't': return scan_literal(s, "true");
  case 'f': return scan_literal(s, "false");
  case 'n': return scan_literal(s, "null");
  default:
    if (*s->p == '-' || g_ascii_isdigit(*s->p))
      return scan_number(s);
    return scan_fail(s, "an unexpected character");
  }
}

/* The whole message: one object and nothing after it but whitespace. */
static gboolean
scan_message(const char *data, gsize len, GError **error)
{
  Scan s = {.start = data, .p = data, .end = data + len, .error = error};

  const char *first;

  scan_ws(&s);
  first = s.p;
  if (!scan_value(&s, 0))
    return FALSE;
  if (*first != '{')
    return protocol_error(error, "a message is a JSON object");
  scan_ws(&s);
  if (s.p < s.end)
    return scan_fail(&s, "more after the object (one JSON value per message)");
  return TRUE;
}

static JsonObject *
parse_object(const char *data, gsize len, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable();
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (len > VXM_VXMD_MAX_MESSAGE) {
    protocol_error(error, "message of %" G_GSIZE_FORMAT " bytes (at most %d)", len,
                   VXM_VXMD_MAX_MESSAGE);
    return NULL;
  }
  if (len > 0 && data[len - 1] == '\n')
    len--;
  if (len == 0) {
    protocol_error(error, "empty message");
    return NULL;
  }
  if (memchr(data, '\0', len) != NULL || memchr(data, '\n', len) != NULL) {
    protocol_error(error, "a message is one line of JSON text (no NUL, no newline inside)");
    return NULL;
  }
  /* json-glib would hand "a\u0000b" over as "a": no NUL may hide in a string either */
  if (g_strstr_len(data, (gssize)len, "\\u0000") != NULL) {
    protocol_error(error, "a NUL in a string (\\u0000) is never valid here");
    return NULL;
  }
  if (!g_utf8_validate(data, (gssize)len, NULL)) {
    protocol_error(error, "message is not UTF-8");
    return NULL;
  }
  if (!scan_message(data, len, error))
    return NULL;
  if (!json_parser_load_from_data(parser, data, (gssize)len, &local_error)) {
    protocol_error(error, "not JSON: %s", local_error->message);
    return NULL;
  }
  root = json_parser_get_root(parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
    protocol_error(error, "a message is a JSON object");
    return NULL;
  }
  return json_object_ref(json_node_get_object(root));
}

static gboolean
check_version(JsonObject *obj, GError **error)
{
  guint64 version = 0;

  if (!get_uint(obj, "vxmd", TRUE, G_MAXINT32, &version, error))
    return FALSE;
  if (version != VXM_VXMD_PROTOCOL_VERSION) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "protocol version %" G_GUINT64_FORMAT " is not spoken here (vxmd speaks %d): "
                "vxm and vxmd come from different versions, install them together",
                version, VXM_VXMD_PROTOCOL_VERSION);
    return FALSE;
  }
  return TRUE;
}

VxmVxmdRequest *
vxm_vxmd_request_parse(const char *data, gsize len, GError **error)
{
  g_autoptr(JsonObject) obj = parse_object(data, len, error);
  g_autoptr(VxmVxmdRequest) req = g_new0(VxmVxmdRequest, 1);
  g_autofree char *op = NULL;
  g_autofree char *gpu = NULL;
  guint64 v = 0;
  guint fields;
  gboolean found = FALSE;

  if (obj == NULL)
    return NULL;
  if (!check_version(obj, error))
    return NULL;
  if (!get_string(obj, "request", TRUE, &op, error))
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS(requests); i++) {
    if (g_strcmp0(op, requests[i].name) == 0) {
      req->op = (VxmVxmdOp)i;
      found = TRUE;
    }
  }
  if (!found) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "unknown request '%s': vxmd does not do that",
                op);
    return NULL;
  }
  {
    g_autoptr(GList) members = json_object_get_members(obj);

    for (GList *l = members; l != NULL; l = l->next)
      if (!g_strv_contains(known_members, l->data)) {
        protocol_error(error, "unknown member \"%s\" in %s", (const char *)l->data, op);
        return NULL;
      }
  }
  fields = requests[req->op].fields;
  req->numa_node = -1;

  if ((fields & (F_VM | F_VM_OPT)) != 0) {
    if (!get_string(obj, "vm", (fields & F_VM) != 0, &req->vm, error))
      return NULL;
    if (req->vm != NULL && !vxm_vxmd_check_vm_name(req->vm, error))
      return NULL;
  }
  if ((fields & F_GPU) != 0) {
    VxmPciAddress addr;

    if (!get_string(obj, "gpu", TRUE, &gpu, error))
      return NULL;
    if (!vxm_pci_address_parse(gpu, &addr, error))
      return NULL;
    req->gpu = vxm_pci_address_to_string(&addr);
    if (!get_bool(obj, "keep_bound", &req->keep_bound, error) ||
        !get_uint(obj, "timeout_ms", FALSE, 600000, &v, error))
      return NULL;
    req->timeout_ms = (guint)v;
    if (json_object_has_member(obj, "extra")) {
      /* [pci] extra: PCI addresses only, normalised; vxmd judges each (vxm-pci-extra) */
      JsonNode *node = json_object_get_member(obj, "extra");
      JsonArray *array = JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
      g_autoptr(GPtrArray) addrs = g_ptr_array_new_with_free_func(g_free);

      if (array == NULL || json_array_get_length(array) > 32) {
        protocol_error(error, "\"extra\" must be a list of at most 32 PCI addresses");
        return NULL;
      }
      for (guint i = 0; i < json_array_get_length(array); i++) {
        JsonNode *el = json_array_get_element(array, i);
        VxmPciAddress extra;

        if (!JSON_NODE_HOLDS_VALUE(el) || json_node_get_value_type(el) != G_TYPE_STRING) {
          protocol_error(error, "\"extra\" must be a list of PCI addresses");
          return NULL;
        }
        if (!vxm_pci_address_parse(json_node_get_string(el), &extra, error))
          return NULL;
        g_ptr_array_add(addrs, vxm_pci_address_to_string(&extra));
      }
      g_ptr_array_add(addrs, NULL);
      req->extra = (char **)g_ptr_array_free(g_steal_pointer(&addrs), FALSE);
    }
  }
  if ((fields & F_NODES) != 0) {
    JsonNode *node = json_object_get_member(obj, "nodes");
    JsonArray *array;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

    if (node == NULL || !JSON_NODE_HOLDS_ARRAY(node)) {
      protocol_error(error, "\"nodes\" must be a list of node names");
      return NULL;
    }
    array = json_node_get_array(node);
    if (json_array_get_length(array) == 0 || json_array_get_length(array) > VXM_VXMD_MAX_NODES) {
      protocol_error(error, "\"nodes\" must name 1 to %d nodes", VXM_VXMD_MAX_NODES);
      return NULL;
    }
    for (guint i = 0; i < json_array_get_length(array); i++) {
      JsonNode *el = json_array_get_element(array, i);

      if (!JSON_NODE_HOLDS_VALUE(el) || json_node_get_value_type(el) != G_TYPE_STRING) {
        protocol_error(error, "\"nodes\" must be a list of strings");
        return NULL;
      }
      if (!vxm_vxmd_check_node_name(json_node_get_string(el), error))
        return NULL;
      g_ptr_array_add(names, g_strdup(json_node_get_string(el)));
    }
    g_ptr_array_add(names, NULL);
    req->nodes = (char **)g_ptr_array_free(g_steal_pointer(&names), FALSE);
  }
  if ((fields & F_PAGES) != 0) {
    guint64 numa = G_MAXUINT64;

    if (!get_uint(obj, "page_size", TRUE, G_MAXINT64, &req->page_size, error) ||
        !get_uint(obj, "count", TRUE, 1 << 24, &req->count, error) ||
        !get_uint(obj, "node", FALSE, 1023, &numa, error))
      return NULL;
    req->numa_node = numa == G_MAXUINT64 ? -1 : (gint)numa;
    req->drop_caches = TRUE;
    req->compact = TRUE;
    if (!get_bool(obj, "auto", &req->auto_size, error) ||
        !get_bool(obj, "drop_caches", &req->drop_caches, error) ||
        !get_bool(obj, "compact", &req->compact, error))
      return NULL;
  }
  if ((fields & F_BYTES) != 0 && !get_uint(obj, "bytes", TRUE, G_MAXINT64, &req->bytes, error))
    return NULL;
  if ((fields & F_DDC) != 0) {
    if (!get_string(obj, "monitor", TRUE, &req->monitor, error))
      return NULL;
    if (!name_chars_ok(req->monitor, 128, " _:#+-.")) {
      protocol_error(error, "\"monitor\" must be a monitor identity as vxm monitors shows it");
      return NULL;
    }
    if (!get_uint(obj, "input", TRUE, 0xffff, &v, error))
      return NULL;
    req->input = (guint)v;
    v = 0;
    if (!get_uint(obj, "host_input", FALSE, 0xffff, &v, error) ||
        !get_bool(obj, "to_guest", &req->to_guest, error))
      return NULL;
    req->host_input = (guint)v;
  }
  return g_steal_pointer(&req);
}

char *
vxm_vxmd_request_to_line(const VxmVxmdRequest *req)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autoptr(JsonGenerator) gen = json_generator_new();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "vxmd");
  json_builder_add_int_value(b, VXM_VXMD_PROTOCOL_VERSION);
  json_builder_set_member_name(b, "request");
  json_builder_add_string_value(b, vxm_vxmd_op_to_string(req->op));
  if (req->vm != NULL) {
    json_builder_set_member_name(b, "vm");
    json_builder_add_string_value(b, req->vm);
  }
  if (req->gpu != NULL) {
    json_builder_set_member_name(b, "gpu");
    json_builder_add_string_value(b, req->gpu);
    json_builder_set_member_name(b, "keep_bound");
    json_builder_add_boolean_value(b, req->keep_bound);
    json_builder_set_member_name(b, "timeout_ms");
    json_builder_add_int_value(b, req->timeout_ms);
    if (req->extra != NULL && req->extra[0] != NULL) {
      json_builder_set_member_name(b, "extra");
      json_builder_begin_array(b);
      for (guint i = 0; req->extra[i] != NULL; i++)
        json_builder_add_string_value(b, req->extra[i]);
      json_builder_end_array(b);
    }
  }
  if (req->nodes != NULL) {
    json_builder_set_member_name(b, "nodes");
    json_builder_begin_array(b);
    for (gsize i = 0; req->nodes[i] != NULL; i++)
      json_builder_add_string_value(b, req->nodes[i]);
    json_builder_end_array(b);
  }
  if (req->op == VXM_VXMD_OP_RESERVE_HUGEPAGES) {
    json_builder_set_member_name(b, "page_size");
    json_builder_add_int_value(b, (gint64)req->page_size);
    json_builder_set_member_name(b, "count");
    json_builder_add_int_value(b, (gint64)req->count);
    if (req->numa_node >= 0) {
      json_builder_set_member_name(b, "node");
      json_builder_add_int_value(b, req->numa_node);
    }
    json_builder_set_member_name(b, "auto");
    json_builder_add_boolean_value(b, req->auto_size);
    json_builder_set_member_name(b, "drop_caches");
    json_builder_add_boolean_value(b, req->drop_caches);
    json_builder_set_member_name(b, "compact");
    json_builder_add_boolean_value(b, req->compact);
  }
  if (req->op == VXM_VXMD_OP_RAISE_MEMLOCK) {
    json_builder_set_member_name(b, "bytes");
    json_builder_add_int_value(b, (gint64)req->bytes);
  }
  if (req->op == VXM_VXMD_OP_DDC_SWITCH) {
    json_builder_set_member_name(b, "monitor");
    json_builder_add_string_value(b, req->monitor);
    json_builder_set_member_name(b, "input");
    json_builder_add_int_value(b, req->input);
    json_builder_set_member_name(b, "host_input");
    json_builder_add_int_value(b, req->host_input);
    json_builder_set_member_name(b, "to_guest");
    json_builder_add_boolean_value(b, req->to_guest);
  }
  json_builder_end_object(b);
  root = json_builder_get_root(b);
  json_generator_set_root(gen, root);
  text = json_generator_to_data(gen, NULL);
  return g_strconcat(text, "\n", NULL);
}

static char *
reply_line(JsonBuilder *b)
{
  g_autoptr(JsonGenerator) gen = json_generator_new();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_end_object(b);
  root = json_builder_get_root(b);
  json_generator_set_root(gen, root);
  text = json_generator_to_data(gen, NULL);
  return g_strconcat(text, "\n", NULL);
}

char *
vxm_vxmd_reply_ok(GPtrArray *report, JsonNode *result)
{
  g_autoptr(JsonBuilder) b = json_builder_new();

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "vxmd");
  json_builder_add_int_value(b, VXM_VXMD_PROTOCOL_VERSION);
  json_builder_set_member_name(b, "ok");
  json_builder_add_boolean_value(b, TRUE);
  json_builder_set_member_name(b, "report");
  json_builder_begin_array(b);
  for (guint i = 0; report != NULL && i < report->len; i++)
    json_builder_add_string_value(b, g_ptr_array_index(report, i));
  json_builder_end_array(b);
  if (result != NULL) {
    json_builder_set_member_name(b, "result");
    json_builder_add_value(b, json_node_copy(result));
  }
  return reply_line(b);
}

char *
vxm_vxmd_reply_error(const GError *error)
{
  g_autoptr(JsonBuilder) b = json_builder_new();

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "vxmd");
  json_builder_add_int_value(b, VXM_VXMD_PROTOCOL_VERSION);
  json_builder_set_member_name(b, "ok");
  json_builder_add_boolean_value(b, FALSE);
  json_builder_set_member_name(b, "error");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "code");
  json_builder_add_int_value(b, error->domain == VXM_ERROR ? error->code : VXM_ERROR_FAILED);
  json_builder_set_member_name(b, "message");
  json_builder_add_string_value(b, error->message);
  json_builder_end_object(b);
  return reply_line(b);
}

gboolean
vxm_vxmd_reply_parse(const char *data, gsize len, GPtrArray *report, JsonNode **out_result,
                     GError **error)
{
  g_autoptr(JsonObject) obj = parse_object(data, len, error);
  gboolean ok = FALSE;
  JsonNode *node;

  if (obj == NULL) {
    g_prefix_error(error, "vxmd's reply: ");
    return FALSE;
  }
  if (!check_version(obj, error) || !get_bool(obj, "ok", &ok, error))
    return FALSE;
  if (!ok) {
    JsonObject *err = json_object_get_object_member(obj, "error");
    guint64 code = VXM_ERROR_FAILED;
    g_autofree char *message = NULL;

    if (err == NULL || !get_uint(err, "code", FALSE, VXM_ERROR_STUCK, &code, NULL) ||
        !get_string(err, "message", TRUE, &message, NULL)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "vxmd failed without saying why");
      return FALSE;
    }
    g_set_error_literal(error, VXM_ERROR, (gint)code, message);
    return FALSE;
  }
  node = json_object_get_member(obj, "report");
  if (report != NULL && node != NULL && JSON_NODE_HOLDS_ARRAY(node)) {
    JsonArray *a = json_node_get_array(node);

    for (guint i = 0; i < json_array_get_length(a); i++) {
      JsonNode *el = json_array_get_element(a, i);
      if (JSON_NODE_HOLDS_VALUE(el) && json_node_get_value_type(el) == G_TYPE_STRING)
        g_ptr_array_add(report, g_strdup(json_node_get_string(el)));
    }
  }
  if (out_result != NULL) {
    node = json_object_get_member(obj, "result");
    *out_result = node != NULL ? json_node_copy(node) : NULL;
  }
  return TRUE;
}
