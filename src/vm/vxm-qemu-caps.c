#include "vxm-qemu-caps.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"

#define CACHE_FORMAT     1
#define PROBE_TIMEOUT_MS 15000

static guint probe_count;

static GHashTable *
new_set(void)
{
  return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static void
set_add(GHashTable *set, const char *key, const char *value)
{
  g_hash_table_replace(set, g_strdup(key), g_strdup(value != NULL ? value : ""));
}

static VxmQemuCaps *
caps_new(void)
{
  VxmQemuCaps *self = g_new0(VxmQemuCaps, 1);

  self->machines = new_set();
  self->types = new_set();
  self->machine_props = new_set();
  self->options = new_set();
  self->audiodevs = new_set();
  self->accels = new_set();
  return self;
}

void
vxm_qemu_caps_free(VxmQemuCaps *self)
{
  if (self == NULL)
    return;
  g_free(self->binary);
  g_free(self->version);
  g_free(self->package);
  g_hash_table_unref(self->machines);
  g_hash_table_unref(self->types);
  g_hash_table_unref(self->machine_props);
  g_hash_table_unref(self->options);
  g_hash_table_unref(self->audiodevs);
  g_hash_table_unref(self->accels);
  g_free(self);
}

guint
vxm_qemu_caps_probe_count(void)
{
  return g_atomic_int_get(&probe_count);
}

char *
vxm_qemu_caps_resolve_binary(const char *binary, GError **error)
{
  g_autofree char *found = NULL;

  if (binary == NULL || *binary == '\0')
    binary = "qemu-system-x86_64";
  if (strchr(binary, '/') != NULL)
    found = g_canonicalize_filename(binary, NULL);
  else
    found = g_find_program_in_path(binary);
  if (found == NULL || !g_file_test(found, G_FILE_TEST_IS_EXECUTABLE) ||
      g_file_test(found, G_FILE_TEST_IS_DIR)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                "QEMU binary %s %s: install qemu-system-x86 or set the VM's qemu key to its path",
                binary,
                strchr(binary, '/') != NULL ? "is not an executable file" : "is not in PATH");
    return NULL;
  }
  return g_steal_pointer(&found);
}

static gboolean
stat_binary(const char *path, gint64 *mtime, guint64 *size, GError **error)
{
  struct stat st;

  if (stat(path, &st) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot stat the QEMU binary %s", path);
  *mtime = (gint64)st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
  *size = (guint64)st.st_size;
  return TRUE;
}

/* ---- running the binary ---- */

/* The ids of the probe's QMP requests: it asks QEMU to quit only once each has an answer. */
static const char *const probe_ids[] = {"version", "options",       "machines",
                                        "types",   "machine-props", "io_uring"};

typedef struct {
  GSubprocess *proc;
  int out_fd; /* the child's stdout, read here until EOF, or -1 when done */
  int err_fd; /* the child's stderr, likewise */
  GString *out;
  GString *err;
  gsize scanned;        /* how much of @out has been looked at for answers (whole lines) */
  GHashTable *answered; /* the QMP child's answered ids; NULL for a child that only prints */
  gboolean quit_sent;
  int stdin_writer; /* the write end of the child's stdin, held open until it is done, or -1 */
} Child;

static void
child_clear(Child *child)
{
  if (child->stdin_writer >= 0)
    close(child->stdin_writer);
  child->stdin_writer = -1;
  g_clear_object(&child->proc);
  if (child->out != NULL)
    g_string_free(child->out, TRUE);
  if (child->err != NULL)
    g_string_free(child->err, TRUE);
  child->out = child->err = NULL;
  g_clear_pointer(&child->answered, g_hash_table_unref);
}

static gboolean
child_done(const Child *child)
{
  return child->out_fd < 0 && child->err_fd < 0;
}

/* Starts @argv with @input already in its stdin, whose write end stays open in @child until the
 * child is done: QEMU's QMP monitor drops the requests it has read but not yet run when its
 * input ends (CHR_EVENT_CLOSED), so an input closed early loses the last answers on a busy
 * machine. */
static gboolean
spawn(Child *child, const char *const *argv, const char *input, GError **error)
{
  g_autoptr(GSubprocessLauncher) launcher =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  const char *const env[] = {"LC_ALL=C", NULL};
  int fds[2];
  gsize len = strlen(input);

  child->stdin_writer = child->out_fd = child->err_fd = -1;
  child->out = g_string_new(NULL);
  child->err = g_string_new(NULL);
  if (!g_unix_open_pipe(fds, FD_CLOEXEC, error))
    return FALSE;
  /* the probe's input is a few hundred bytes: the pipe holds it all before the child reads */
  if (len > 0 && write(fds[1], input, len) != (gssize)len) {
    vxm_error_set_from_errno(error, errno, "cannot write QEMU's probe input");
    close(fds[0]);
    close(fds[1]);
    return FALSE;
  }
  child->stdin_writer = fds[1];
  g_subprocess_launcher_take_stdin_fd(launcher, fds[0]);
  /* a clean environment: nothing of the caller's changes what QEMU reports */
  g_subprocess_launcher_set_environ(launcher, (char **)env);
  child->proc = g_subprocess_launcher_spawnv(launcher, argv, error);
  if (child->proc == NULL)
    return FALSE;
  /* the streams stay the subprocess's: these are only borrowed for reading */
  child->out_fd =
      g_unix_input_stream_get_fd(G_UNIX_INPUT_STREAM(g_subprocess_get_stdout_pipe(child->proc)));
  child->err_fd =
      g_unix_input_stream_get_fd(G_UNIX_INPUT_STREAM(g_subprocess_get_stderr_pipe(child->proc)));
  return TRUE;
}

/* The "id" of one QMP answer line, or NULL (a greeting, an event, not JSON). */
static char *
reply_id(const char *line, gsize len)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonNode *root;
  JsonNode *id;

  if (!json_parser_load_from_data(parser, line, (gssize)len, NULL))
    return NULL;
  root = json_parser_get_root(parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root))
    return NULL;
  /* an answer has "return" or "error": an echo of the request (a binary that is cat) is none */
  if (!json_object_has_member(json_node_get_object(root), "return") &&
      !json_object_has_member(json_node_get_object(root), "error"))
    return NULL;
  id = json_object_get_member(json_node_get_object(root), "id");
  if (id == NULL || !JSON_NODE_HOLDS_VALUE(id) || json_node_get_value_type(id) != G_TYPE_STRING)
    return NULL;
  return g_strdup(json_node_get_string(id));
}

/* Notes the ids answered in the whole lines that came since the last look, and once every
 * request has its answer, asks QEMU to quit. Never before: QEMU exits on `quit` with the
 * answers it could not yet write to a full pipe still in its buffer, so a quit sent with the
 * requests loses the last answers whenever this side reads slowly (a loaded machine). */
static void
scan_answers(Child *child)
{
  static const char quit[] = "{\"execute\": \"quit\"}\n";
  const char *nl;

  while ((nl = memchr(child->out->str + child->scanned, '\n', child->out->len - child->scanned)) !=
         NULL) {
    const char *line = child->out->str + child->scanned;
    char *id = reply_id(line, (gsize)(nl - line));

    if (id != NULL)
      g_hash_table_add(child->answered, id);
    child->scanned = (gsize)(nl - child->out->str) + 1;
  }
  if (child->quit_sent)
    return;
  for (gsize i = 0; i < G_N_ELEMENTS(probe_ids); i++)
    if (!g_hash_table_contains(child->answered, probe_ids[i]))
      return;
  child->quit_sent = TRUE;
  /* a QEMU gone already gives EPIPE (SIGPIPE is ignored), and its EOF ends the read */
  if (write(child->stdin_writer, quit, sizeof quit - 1) < 0)
    g_debug("QEMU's probe: cannot send quit: %s", g_strerror(errno));
}

/* Reads what is there on @fd into @into; at EOF (or a read error) marks it done (*fd = -1). */
static void
drain(int *fd, GString *into)
{
  char buf[16384];
  gssize n;

  do
    n = read(*fd, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    g_string_append_len(into, buf, n);
    return;
  }
  *fd = -1; /* the stream still owns the descriptor */
}

/* Reads both children's stdout and stderr to their end, within the probe's time limit. */
static gboolean
run_children(Child *children, guint n, const char *binary, GError **error)
{
  gint64 deadline = g_get_monotonic_time() + (gint64)PROBE_TIMEOUT_MS * 1000;

  for (;;) {
    struct pollfd pfds[4];
    int *fds[4];
    GString *into[4];
    Child *owner[4];
    nfds_t npfd = 0;
    gint64 left = (deadline - g_get_monotonic_time()) / 1000;
    int ready;

    for (guint i = 0; i < n; i++) {
      int *pair[2] = {&children[i].out_fd, &children[i].err_fd};
      GString *bufs[2] = {children[i].out, children[i].err};

      for (guint k = 0; k < 2; k++) {
        if (*pair[k] < 0 || npfd >= G_N_ELEMENTS(pfds))
          continue;
        pfds[npfd] = (struct pollfd){.fd = *pair[k], .events = POLLIN};
        fds[npfd] = pair[k];
        into[npfd] = bufs[k];
        owner[npfd] = k == 0 ? &children[i] : NULL;
        npfd++;
      }
    }
    if (npfd == 0)
      return TRUE;
    if (left <= 0) {
      for (guint i = 0; i < n; i++)
        if (!child_done(&children[i]))
          g_subprocess_force_exit(children[i].proc);
      g_set_error(error, VXM_ERROR, VXM_ERROR_TIMEOUT,
                  "QEMU (%s) did not answer its capability probe within %d s", binary,
                  PROBE_TIMEOUT_MS / 1000);
      return FALSE;
    }
    ready = poll(pfds, npfd, (int)MIN(left, G_MAXINT));
    if (ready < 0 && errno != EINTR) {
      vxm_error_set_from_errno(error, errno, "cannot read QEMU's (%s) answers", binary);
      for (guint i = 0; i < n; i++)
        g_subprocess_force_exit(children[i].proc);
      return FALSE;
    }
    for (nfds_t j = 0; ready > 0 && j < npfd; j++) {
      if (pfds[j].revents == 0)
        continue;
      drain(fds[j], into[j]);
      if (owner[j] != NULL && owner[j]->answered != NULL)
        scan_answers(owner[j]);
    }
  }
}

/* ---- typed members: QEMU's output and the cache file are untrusted, so a member of the
 * wrong type is "absent", never a json-glib critical ---- */

static const char *
member_string(JsonObject *obj, const char *member, const char *fallback)
{
  JsonNode *node = obj != NULL ? json_object_get_member(obj, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_value_type(node) != G_TYPE_STRING)
    return fallback;
  return json_node_get_string(node);
}

static gint64
member_int(JsonObject *obj, const char *member, gint64 fallback)
{
  JsonNode *node = obj != NULL ? json_object_get_member(obj, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_value_type(node) != G_TYPE_INT64)
    return fallback;
  return json_node_get_int(node);
}

static gboolean
member_bool(JsonObject *obj, const char *member, gboolean fallback)
{
  JsonNode *node = obj != NULL ? json_object_get_member(obj, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_value_type(node) != G_TYPE_BOOLEAN)
    return fallback;
  return json_node_get_boolean(node);
}

static JsonObject *
member_object(JsonObject *obj, const char *member)
{
  JsonNode *node = obj != NULL ? json_object_get_member(obj, member) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
}

/* ---- parsing ---- */

static void
parse_version(VxmQemuCaps *self, JsonObject *obj)
{
  JsonObject *qemu = member_object(obj, "qemu");

  if (qemu == NULL)
    return;
  self->version_major = (guint)member_int(qemu, "major", 0);
  self->version_minor = (guint)member_int(qemu, "minor", 0);
  self->version_micro = (guint)member_int(qemu, "micro", 0);
  g_free(self->version);
  self->version =
      g_strdup_printf("%u.%u.%u", self->version_major, self->version_minor, self->version_micro);
  g_free(self->package);
  self->package = g_strdup(member_string(obj, "package", ""));
}

/* Each element's "name" (and for machines its "alias") into @set. */
static void
collect_names(JsonArray *array, GHashTable *set, const char *value_member, const char *suffix)
{
  for (guint i = 0; i < json_array_get_length(array); i++) {
    JsonNode *node = json_array_get_element(array, i);
    JsonObject *obj;
    const char *name;
    g_autofree char *key = NULL;

    if (!JSON_NODE_HOLDS_OBJECT(node))
      continue;
    obj = json_node_get_object(node);
    name = member_string(obj, "name", NULL);
    if (name == NULL)
      continue;
    if (suffix != NULL) {
      if (!g_str_has_suffix(name, suffix))
        continue;
      key = g_strndup(name, strlen(name) - strlen(suffix));
    } else {
      key = g_strdup(name);
    }
    set_add(set, key, value_member != NULL ? member_string(obj, value_member, "") : "");
  }
}

/* One QMP reply line, matched by its "id"; greetings and events are read or skipped. */
static void
parse_qmp_line(VxmQemuCaps *self, const char *line, GHashTable *answered)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject *obj;
  JsonNode *ret;
  const char *id;

  if (*line == '\0' || !json_parser_load_from_data(parser, line, -1, NULL))
    return; /* not JSON: a warning QEMU printed on stdout, say */
  if (json_parser_get_root(parser) == NULL || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
    return; /* a blank line parses to no root */
  obj = json_node_get_object(json_parser_get_root(parser));
  if (json_object_has_member(obj, "QMP")) {
    JsonObject *version = member_object(member_object(obj, "QMP"), "version");
    if (version != NULL)
      parse_version(self, version);
    return;
  }
  id = member_string(obj, "id", NULL);
  if (id == NULL)
    return; /* an event */
  ret = json_object_get_member(obj, "return");
  if (ret == NULL) {
    set_add(answered, id, "error");
    return;
  }
  set_add(answered, id, "ok");
  if (strcmp(id, "version") == 0 && JSON_NODE_HOLDS_OBJECT(ret)) {
    parse_version(self, json_node_get_object(ret));
  } else if (strcmp(id, "machines") == 0 && JSON_NODE_HOLDS_ARRAY(ret)) {
    collect_names(json_node_get_array(ret), self->machines, "alias", NULL);
  } else if (strcmp(id, "types") == 0 && JSON_NODE_HOLDS_ARRAY(ret)) {
    collect_names(json_node_get_array(ret), self->types, NULL, NULL);
    collect_names(json_node_get_array(ret), self->accels, NULL, "-accel");
  } else if (strcmp(id, "machine-props") == 0 && JSON_NODE_HOLDS_ARRAY(ret)) {
    collect_names(json_node_get_array(ret), self->machine_props, NULL, NULL);
  } else if (strcmp(id, "options") == 0 && JSON_NODE_HOLDS_ARRAY(ret)) {
    JsonArray *array = json_node_get_array(ret);

    for (guint i = 0; i < json_array_get_length(array); i++) {
      JsonNode *node = json_array_get_element(array, i);
      const char *option;

      if (!JSON_NODE_HOLDS_OBJECT(node))
        continue;
      option = member_string(json_node_get_object(node), "option", "");
      if (*option != '\0')
        set_add(self->options, option, "");
    }
  } else if (strcmp(id, "io_uring") == 0) {
    self->io_uring = TRUE;
  }
}

/* `-audiodev help`: a header line, then one backend name per line. Anything else (a module
 * QEMU could not load, a future header) is skipped. */
static void
parse_audiodev_help(VxmQemuCaps *self, const char *text)
{
  g_auto(GStrv) lines = g_strsplit(text != NULL ? text : "", "\n", -1);
  gboolean in_list = FALSE;

  for (gsize i = 0; lines[i] != NULL; i++) {
    const char *line = g_strstrip(lines[i]);
    gboolean word = *line != '\0';

    if (g_str_has_suffix(line, ":")) {
      in_list = strstr(line, "audio") != NULL;
      continue;
    }
    for (const char *p = line; *p != '\0'; p++)
      if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
        word = FALSE;
    if (in_list && word)
      set_add(self->audiodevs, line, "");
  }
}

VxmQemuCaps *
vxm_qemu_caps_parse(const char *qmp_output, const char *audiodev_help, GError **error)
{
  g_autoptr(VxmQemuCaps) self = caps_new();
  g_autoptr(GHashTable) answered = new_set();
  g_auto(GStrv) lines = g_strsplit(qmp_output != NULL ? qmp_output : "", "\n", -1);

  for (gsize i = 0; lines[i] != NULL; i++)
    parse_qmp_line(self, lines[i], answered);
  parse_audiodev_help(self, audiodev_help);
  if (self->version == NULL || g_hash_table_size(self->machines) == 0 ||
      g_hash_table_size(self->types) == 0) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                        "it did not give its version, machines and device types over QMP");
    return NULL;
  }
  /* a missing answer would read as a missing feature (no -sandbox: "built without seccomp"),
   * and be cached as such: an answer cut short is no answer */
  if (!g_hash_table_contains(answered, "options")) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                        "its answer over QMP stopped before its command-line options");
    return NULL;
  }
  return g_steal_pointer(&self);
}

static char *
qmp_script(const char *binary)
{
  g_autoptr(GString) s = g_string_new("{\"execute\": \"qmp_capabilities\"}\n");
  g_autofree char *escaped = g_strescape(binary, NULL);

  g_string_append(s, "{\"execute\": \"query-version\", \"id\": \"version\"}\n"
                     "{\"execute\": \"query-machines\", \"id\": \"machines\"}\n"
                     "{\"execute\": \"qom-list-types\", \"arguments\": {\"abstract\": false},"
                     " \"id\": \"types\"}\n"
                     "{\"execute\": \"qom-list-properties\", \"arguments\": {\"typename\":"
                     " \"generic-pc-machine\"}, \"id\": \"machine-props\"}\n"
                     "{\"execute\": \"query-command-line-options\", \"id\": \"options\"}\n");
  /* io_uring needs both the build and the kernel: open a regular file (the binary itself,
   * read-only) with it and see */
  g_string_append_printf(s,
                         "{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"file\","
                         " \"node-name\": \"probe0\", \"filename\": \"%s\", \"read-only\": true,"
                         " \"aio\": \"io_uring\"}, \"id\": \"io_uring\"}\n",
                         escaped);
  /* no quit here: scan_answers() sends it once every answer is in */
  return g_string_free(g_steal_pointer(&s), FALSE);
}

VxmQemuCaps *
vxm_qemu_caps_probe(const char *binary, GError **error)
{
  g_autofree char *path = vxm_qemu_caps_resolve_binary(binary, error);
  g_autofree char *script = NULL;
  gint64 mtime = 0;
  guint64 size = 0;
  g_autoptr(VxmQemuCaps) parsed = NULL;
  Child children[2] = {{.stdin_writer = -1, .out_fd = -1, .err_fd = -1},
                       {.stdin_writer = -1, .out_fd = -1, .err_fd = -1}};
  gint64 start = g_get_monotonic_time();
  gboolean ok;

  if (path == NULL)
    return NULL;
  if (!stat_binary(path, &mtime, &size, error))
    return NULL;
  g_atomic_int_inc(&probe_count);
  /* a binary that exits without reading its stdin must give EPIPE, not kill vxm (GDBus
   * ignores SIGPIPE process-wide for the same reason) */
  signal(SIGPIPE, SIG_IGN);

  {
    const char *qmp_argv[] = {path,       "-machine", "none", "-nodefaults", "-no-user-config",
                              "-display", "none",     "-qmp", "stdio",       NULL};
    const char *audio_argv[] = {path, "-audiodev", "help", NULL};

    script = qmp_script(path);
    children[0].answered = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    if (!spawn(&children[0], qmp_argv, script, error)) {
      child_clear(&children[0]);
      g_prefix_error(error, "cannot run QEMU (%s): ", path);
      return NULL;
    }
    if (!spawn(&children[1], audio_argv, "", error)) {
      g_subprocess_force_exit(children[0].proc);
      child_clear(&children[0]);
      child_clear(&children[1]);
      g_prefix_error(error, "cannot run QEMU (%s): ", path);
      return NULL;
    }
  }
  ok = run_children(children, 2, path, error);
  if (ok) {
    g_autoptr(GError) local = NULL;

    parsed = vxm_qemu_caps_parse(children[0].out->str, children[1].out->str, &local);
    if (parsed == NULL) {
      g_autofree char *err = g_strdup(children[0].err->str);

      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "QEMU (%s): %s%s%s", path, local->message,
                  *g_strstrip(err) != '\0' ? "; it said: " : "", err);
      ok = FALSE;
    }
  }
  child_clear(&children[0]);
  child_clear(&children[1]);
  if (!ok)
    return NULL;
  parsed->binary = g_steal_pointer(&path);
  parsed->mtime = mtime;
  parsed->size = size;
  parsed->probe_seconds = (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
  return g_steal_pointer(&parsed);
}

/* ---- JSON (the cache and the test fixtures) ---- */

static int
compare_strings(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of @set, sorted (the strings belong to @set). */
static GPtrArray *
sorted_keys(GHashTable *set)
{
  GPtrArray *keys = g_ptr_array_new();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init(&iter, set);
  while (g_hash_table_iter_next(&iter, &key, NULL))
    g_ptr_array_add(keys, key);
  g_ptr_array_sort(keys, compare_strings);
  return keys;
}

static void
add_sorted_array(JsonBuilder *b, const char *member, GHashTable *set)
{
  g_autoptr(GPtrArray) keys = sorted_keys(set);

  json_builder_set_member_name(b, member);
  json_builder_begin_array(b);
  for (guint i = 0; i < keys->len; i++)
    json_builder_add_string_value(b, g_ptr_array_index(keys, i));
  json_builder_end_array(b);
}

JsonNode *
vxm_qemu_caps_to_json(const VxmQemuCaps *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autoptr(GPtrArray) machines = sorted_keys(self->machines);

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "format");
  json_builder_add_int_value(b, CACHE_FORMAT);
  json_builder_set_member_name(b, "binary");
  json_builder_add_string_value(b, self->binary);
  json_builder_set_member_name(b, "mtime");
  json_builder_add_int_value(b, self->mtime);
  json_builder_set_member_name(b, "size");
  json_builder_add_int_value(b, (gint64)self->size);
  json_builder_set_member_name(b, "version");
  json_builder_add_string_value(b, self->version);
  json_builder_set_member_name(b, "package");
  json_builder_add_string_value(b, self->package != NULL ? self->package : "");
  json_builder_set_member_name(b, "io-uring");
  json_builder_add_boolean_value(b, self->io_uring);
  json_builder_set_member_name(b, "machines");
  json_builder_begin_object(b);
  for (guint i = 0; i < machines->len; i++) {
    const char *name = g_ptr_array_index(machines, i);
    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, g_hash_table_lookup(self->machines, name));
  }
  json_builder_end_object(b);
  add_sorted_array(b, "accels", self->accels);
  add_sorted_array(b, "audiodevs", self->audiodevs);
  add_sorted_array(b, "machine-props", self->machine_props);
  add_sorted_array(b, "options", self->options);
  add_sorted_array(b, "types", self->types);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static gboolean
read_set(JsonObject *obj, const char *member, GHashTable *set, GError **error)
{
  JsonArray *array;

  if (!json_object_has_member(obj, member) ||
      !JSON_NODE_HOLDS_ARRAY(json_object_get_member(obj, member))) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "\"%s\" is not an array", member);
    return FALSE;
  }
  array = json_object_get_array_member(obj, member);
  for (guint i = 0; i < json_array_get_length(array); i++) {
    JsonNode *node = json_array_get_element(array, i);

    if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING)
      set_add(set, json_node_get_string(node), "");
  }
  return TRUE;
}

VxmQemuCaps *
vxm_qemu_caps_from_json(JsonNode *node, GError **error)
{
  g_autoptr(VxmQemuCaps) self = caps_new();
  g_auto(GStrv) parts = NULL;
  JsonObject *obj;
  JsonObject *machines;
  const char *version;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "not a JSON object");
    return NULL;
  }
  obj = json_node_get_object(node);
  if (member_int(obj, "format", 0) != CACHE_FORMAT) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "unknown format");
    return NULL;
  }
  version = member_string(obj, "version", NULL);
  machines = member_object(obj, "machines");
  if (version == NULL || machines == NULL) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "no version or machines");
    return NULL;
  }
  self->binary = g_strdup(member_string(obj, "binary", ""));
  self->mtime = member_int(obj, "mtime", 0);
  self->size = (guint64)member_int(obj, "size", 0);
  self->version = g_strdup(version);
  parts = g_strsplit(version, ".", 3);
  self->version_major = parts[0] != NULL ? (guint)g_ascii_strtoull(parts[0], NULL, 10) : 0;
  self->version_minor =
      parts[0] != NULL && parts[1] != NULL ? (guint)g_ascii_strtoull(parts[1], NULL, 10) : 0;
  self->version_micro = parts[0] != NULL && parts[1] != NULL && parts[2] != NULL
                            ? (guint)g_ascii_strtoull(parts[2], NULL, 10)
                            : 0;
  self->package = g_strdup(member_string(obj, "package", ""));
  self->io_uring = member_bool(obj, "io-uring", FALSE);
  {
    g_autoptr(GList) names = json_object_get_members(machines);

    for (GList *l = names; l != NULL; l = l->next) {
      JsonNode *alias = json_object_get_member(machines, l->data);
      set_add(self->machines, l->data,
              JSON_NODE_HOLDS_VALUE(alias) && json_node_get_value_type(alias) == G_TYPE_STRING
                  ? json_node_get_string(alias)
                  : "");
    }
  }
  if (!read_set(obj, "accels", self->accels, error) ||
      !read_set(obj, "audiodevs", self->audiodevs, error) ||
      !read_set(obj, "machine-props", self->machine_props, error) ||
      !read_set(obj, "options", self->options, error) ||
      !read_set(obj, "types", self->types, error))
    return NULL;
  return g_steal_pointer(&self);
}

VxmQemuCaps *
vxm_qemu_caps_load(const char *path, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  VxmQemuCaps *caps;

  if (!json_parser_load_from_mapped_file(parser, path, error)) {
    g_prefix_error(error, "cannot read QEMU capabilities %s: ", path);
    return NULL;
  }
  caps = vxm_qemu_caps_from_json(json_parser_get_root(parser), error);
  if (caps == NULL)
    g_prefix_error(error, "bad QEMU capabilities file %s: ", path);
  return caps;
}

/* ---- the cache ---- */

static char *
cache_path(const char *cache_dir, const char *binary)
{
  g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, binary, -1);
  g_autofree char *name = NULL;

  hash[16] = '\0';
  name = g_strdup_printf("qemu-caps-%s.json", hash);
  return g_build_filename(cache_dir, name, NULL);
}

VxmQemuCaps *
vxm_qemu_caps_get(const char *binary, const char *cache_dir, GError **error)
{
  g_autofree char *path = vxm_qemu_caps_resolve_binary(binary, error);
  g_autofree char *dir = NULL;
  g_autofree char *file = NULL;
  g_autoptr(VxmQemuCaps) cached = NULL;
  g_autoptr(VxmQemuCaps) probed = NULL;
  g_autoptr(JsonGenerator) gen = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;
  gint64 mtime = 0;
  guint64 size = 0;

  if (path == NULL)
    return NULL;
  if (!stat_binary(path, &mtime, &size, error))
    return NULL;
  dir = cache_dir != NULL ? g_strdup(cache_dir)
                          : g_build_filename(g_get_user_cache_dir(), "vxm", NULL);
  file = cache_path(dir, path);
  cached = vxm_qemu_caps_load(file, NULL);
  if (cached != NULL && g_strcmp0(cached->binary, path) == 0 && cached->mtime == mtime &&
      cached->size == size)
    return g_steal_pointer(&cached);

  probed = vxm_qemu_caps_probe(path, error);
  if (probed == NULL)
    return NULL;
  node = vxm_qemu_caps_to_json(probed);
  gen = json_generator_new();
  json_generator_set_root(gen, node);
  text = json_generator_to_data(gen, NULL);
  /* a cache that cannot be written only costs the next run a probe */
  if (g_mkdir_with_parents(dir, 0700) == 0)
    (void)!vxm_file_replace_atomic(file, text, -1, 0600, NULL);
  return g_steal_pointer(&probed);
}

/* ---- questions ---- */

const char *
vxm_qemu_caps_resolve_machine(const VxmQemuCaps *self, const char *machine)
{
  GHashTableIter iter;
  gpointer key, value;

  if (g_hash_table_contains(self->machines, machine)) {
    g_hash_table_iter_init(&iter, self->machines);
    while (g_hash_table_iter_next(&iter, &key, &value))
      if (strcmp(key, machine) == 0)
        return key;
  }
  g_hash_table_iter_init(&iter, self->machines);
  while (g_hash_table_iter_next(&iter, &key, &value))
    if (strcmp(value, machine) == 0)
      return key;
  return NULL;
}

gboolean
vxm_qemu_caps_has_machine(const VxmQemuCaps *self, const char *machine)
{
  return vxm_qemu_caps_resolve_machine(self, machine) != NULL;
}

gboolean
vxm_qemu_caps_has_type(const VxmQemuCaps *self, const char *type)
{
  return g_hash_table_contains(self->types, type);
}

gboolean
vxm_qemu_caps_has_machine_prop(const VxmQemuCaps *self, const char *prop)
{
  return g_hash_table_contains(self->machine_props, prop);
}

gboolean
vxm_qemu_caps_has_option(const VxmQemuCaps *self, const char *option)
{
  return g_hash_table_contains(self->options, option);
}

gboolean
vxm_qemu_caps_has_audiodev(const VxmQemuCaps *self, const char *backend)
{
  return g_hash_table_contains(self->audiodevs, backend);
}

gboolean
vxm_qemu_caps_has_accel(const VxmQemuCaps *self, const char *accel)
{
  return g_hash_table_contains(self->accels, accel);
}

gboolean
vxm_qemu_caps_version_at_least(const VxmQemuCaps *self, guint major, guint minor)
{
  return self->version_major > major ||
         (self->version_major == major && self->version_minor >= minor);
}
