/* vxm-vm-config: one VM's config: its lifecycle and loading (the keys and their parsers:
 * vxm-vm-config-keys.c, -parse.c, -devices.c; the edits: vxm-vm-config-edit.c). */
#include "vxm-vm-config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "pci/vxm-pci-address.h"
#include "vxm-vm-config-private.h"

/* ---- lifecycle ----------------------------------------------------------------------------- */

static void
config_clear(VxmVmConfig *c)
{
  g_free(c->name);
  g_free(c->path);
  g_free(c->text);
  g_clear_pointer(&c->keyfile, g_key_file_unref);
  g_free(c->gpu);
  g_free(c->rom_file);
  g_free(c->installer_iso);
  g_free(c->virtio_iso);
  g_free(c->disk_path);
  g_free(c->hv_vendor_id);
  g_free(c->network_bridge);
  g_free(c->mac);
  g_free(c->firmware_code);
  g_free(c->firmware_vars_template);
  g_free(c->firmware_descriptor);
  g_strfreev(c->inputs);
  g_clear_pointer(&c->usb_devices, g_array_unref);
  g_strfreev(c->pci_extra);
  g_clear_pointer(&c->cpu_pinning_list, g_array_unref);
  g_free(c->monitor_edid_manufacturer);
  g_free(c->monitor_connector);
  g_clear_pointer(&c->monitors, g_ptr_array_unref);
  g_free(c->qemu_binary);
  g_free(c->inhibit);
  g_free(c->resolved.disk_path);
  g_free(c->resolved.qemu_binary);
  memset(c, 0, sizeof *c);
}

void
vxm_vm_config_free(VxmVmConfig *config)
{
  if (config == NULL)
    return;
  config_clear(config);
  g_free(config);
}

/* Fills every field from its default: the table is the one source of defaults. */
static void
apply_defaults(VxmVmConfig *c)
{
  gsize n_defs;
  const KeyDef *key_defs = vxm_vm_config_key_defs(&n_defs);

  for (gsize i = 0; i < n_defs; i++) {
    gboolean ok = key_defs[i].parse(c, key_defs[i].info.default_value, NULL);
    g_assert(ok);
  }
}

VxmVmConfig *
vxm_vm_config_new(const char *name)
{
  VxmVmConfig *c = g_new0(VxmVmConfig, 1);

  c->name = g_strdup(name ? name : VXM_VM_DEFAULT_NAME);
  c->text = g_strdup("");
  c->keyfile = g_key_file_new();
  c->usb_devices = g_array_new(FALSE, FALSE, sizeof(guint32));
  apply_defaults(c);
  return c;
}

/* ---- loading ------------------------------------------------------------------------------- */

static void
line_clear(gpointer p)
{
  Line *l = p;
  g_free(l->group);
  g_free(l->key);
}

/* Splits @text into lines and tells group headers ("[x]", key NULL, group set), key lines and
 * the rest (comments, blanks: group and key NULL). GKeyFile's own syntax rules. */
GArray *
vxm_vm_config_scan_lines(const char *text, gsize length)
{
  GArray *lines = g_array_new(FALSE, TRUE, sizeof(Line));
  g_autofree char *group = NULL;
  gsize pos = 0, n = 0;

  g_array_set_clear_func(lines, line_clear);
  while (pos < length) {
    const char *nl = memchr(text + pos, '\n', length - pos);
    gsize end = nl ? (gsize)(nl - text) + 1 : length;
    g_autofree char *raw = g_strndup(text + pos, end - pos);
    char *s = g_strstrip(raw);
    Line l = {NULL, NULL, ++n, pos, end};

    if (*s == '[') {
      char *close = strrchr(s, ']');
      if (close != NULL) {
        g_free(group);
        group = g_strndup(s + 1, (gsize)(close - s - 1));
        l.group = g_strdup(group);
      }
    } else if (*s != '#' && *s != '\0') {
      char *eq = strchr(s, '=');
      if (eq != NULL) {
        *eq = '\0';
        l.key = g_strdup(g_strchomp(s));
        l.group = g_strdup(group);
      }
    }
    g_array_append_val(lines, l);
    pos = end;
  }
  return lines;
}

static gboolean config_error(GError **error, const char *display, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

static gboolean
config_error(GError **error, const char *display, const char *format, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  if (display == NULL) /* an edit from the command line: the file is not where the fault is */
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT, msg);
  else
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "%s: %s", display, msg);
  return FALSE;
}

/* "16G  # default" -> "16G": a '#' after a space or tab (or first) starts a comment, as in what
 * vxm config --show prints (GKeyFile itself knows only whole-line comments). */
void
vxm_vm_config_strip_inline_comment(char *value)
{
  for (char *p = value; *p != '\0'; p++) {
    if (*p == '#' && (p == value || p[-1] == ' ' || p[-1] == '\t')) {
      *p = '\0';
      break;
    }
  }
  g_strstrip(value);
}

/* What GKeyFile does not check, or reports without a line number: encoding, NULs, duplicates,
 * keys outside a group, lines that are none of group, key or comment. */
static gboolean
check_syntax(const char *text, gsize length, const char *display, GError **error)
{
  g_autoptr(GArray) lines = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  const char *bad = NULL;

  if (memchr(text, '\0', length) != NULL) {
    gsize off = (gsize)((const char *)memchr(text, '\0', length) - text), line = 1;
    for (gsize i = 0; i < off; i++)
      line += text[i] == '\n';
    return config_error(error, display, "line %zu: contains a NUL byte; is this a text file?",
                        line);
  }
  if (!g_utf8_validate(text, (gssize)length, &bad)) {
    gsize line = 1;
    for (const char *p = text; p < bad; p++)
      line += *p == '\n';
    return config_error(error, display, "line %zu: not valid UTF-8; save the file as UTF-8", line);
  }
  lines = vxm_vm_config_scan_lines(text, length);
  for (guint i = 0; i < lines->len; i++) {
    Line *l = &g_array_index(lines, Line, i);
    g_autofree char *id = NULL;
    gpointer prev;

    if (l->group == NULL && l->key == NULL) {
      g_autofree char *raw = g_strndup(text + l->start, l->end - l->start);
      char *s = g_strstrip(raw);

      if (*s != '\0' && *s != '#')
        return config_error(error, display,
                            "line %zu: '%s' is neither KEY = VALUE, a [group] nor a # comment",
                            l->line, s);
      continue;
    }
    if (l->group == NULL)
      return config_error(error, display,
                          "line %zu: key '%s' comes before any [group]; put it under one", l->line,
                          l->key);
    if (l->key != NULL && strchr(l->key, '[') != NULL)
      return config_error(error, display, "line %zu: [%s] %s: translated keys are not supported",
                          l->line, l->group, l->key);
    id = l->key ? g_strdup_printf("%s\n%s", l->group, l->key) : g_strdup_printf("[%s", l->group);
    if (g_hash_table_lookup_extended(seen, id, NULL, &prev)) {
      if (l->key != NULL)
        return config_error(error, display,
                            "line %zu: [%s] %s is set twice (first on line %u); keep one", l->line,
                            l->group, l->key, GPOINTER_TO_UINT(prev));
      return config_error(error, display,
                          "line %zu: group [%s] appears twice (first on line %u); merge them",
                          l->line, l->group, GPOINTER_TO_UINT(prev));
    }
    g_hash_table_insert(seen, g_steal_pointer(&id), GUINT_TO_POINTER((guint)l->line));
  }
  return TRUE;
}

/* "line N: " for KEY in [GROUP] of @text, "" when not found (the edits of a command line). */
char *
vxm_vm_config_key_line(const char *text, const char *group, const char *key)
{
  g_autoptr(GArray) lines = NULL;

  if (text == NULL)
    return g_strdup("");
  lines = vxm_vm_config_scan_lines(text, strlen(text));
  for (guint i = 0; i < lines->len; i++) {
    const Line *l = &g_array_index(lines, Line, i);

    if (l->key != NULL && g_strcmp0(l->group, group) == 0 && strcmp(l->key, key) == 0)
      return g_strdup_printf("line %zu: ", l->line);
  }
  return g_strdup("");
}

/* Cross-key rules, after every key parsed. */
static gboolean
check_consistency(VxmVmConfig *c, const char *display, GError **error)
{
  if ((c->firmware_code == NULL) != (c->firmware_vars_template == NULL))
    return config_error(error, display,
                        "[firmware] code and vars_template go together: set both (vxm init "
                        "does) or neither");
  if (c->firmware_descriptor != NULL && c->firmware_code == NULL)
    return config_error(error, display,
                        "[firmware] descriptor is set without code and vars_template: set all "
                        "three, or remove descriptor");
  if (c->vcpus != 0 && c->threads_per_core != 0 && c->vcpus % c->threads_per_core != 0)
    return config_error(error, display,
                        "[cpu] vcpus = %u cannot be split into cores of threads_per_core = %u: "
                        "use an even number of vcpus or threads_per_core = 1",
                        c->vcpus, c->threads_per_core);
  if (c->cpu_pinning == VXM_VM_CPU_PINNING_LIST && c->vcpus != 0 &&
      c->cpu_pinning_list->len != c->vcpus)
    return config_error(error, display,
                        "[cpu] cpu_pinning lists %u host CPUs but vcpus = %u: list one host "
                        "CPU per vCPU, or set vcpus = auto",
                        c->cpu_pinning_list->len, c->vcpus);
  for (guint i = 0; c->gpu != NULL && c->pci_extra != NULL && c->pci_extra[i] != NULL; i++) {
    VxmPciAddress gpu, extra;

    if (vxm_pci_address_parse(c->gpu, &gpu, NULL) &&
        vxm_pci_address_parse(c->pci_extra[i], &extra, NULL) &&
        vxm_pci_address_same_slot(&gpu, &extra))
      return config_error(error, display,
                          "[pci] extra lists %s, a function of the guest GPU ([gpu] address = "
                          "%s): it goes to the guest with the GPU already: remove it from extra",
                          c->pci_extra[i], c->gpu);
  }
  if ((c->host_input == 0) != (c->guest_input == 0))
    return config_error(error, display,
                        "[display] host_input and guest_input go together: set both, or "
                        "neither to leave the monitor alone");
  if (c->host_input != 0 && c->host_input == c->guest_input)
    return config_error(error, display,
                        "[display] host_input and guest_input are the same input: the guest GPU "
                        "is plugged into another one");
  if (c->monitors != NULL) {
    /* monitor = auto and empty inputs (the example's defaults) are no second form */
    static const char *const single[] = {"monitor", "host_input", "guest_input"};
    const gboolean used[] = {c->monitor != VXM_VM_MONITOR_AUTO, c->host_input != 0,
                             c->guest_input != 0};
    g_autoptr(GString) set = g_string_new(NULL);
    g_autoptr(GString) fix = g_string_new(NULL);

    for (guint i = 0; i < G_N_ELEMENTS(single); i++) {
      if (!used[i])
        continue;
      g_string_append_printf(set, "%s%s", set->len > 0 ? ", " : "", single[i]);
      g_string_append_printf(fix, " --unset display.%s", single[i]);
    }
    if (set->len > 0)
      return config_error(error, display,
                          "[display] monitors lists every monitor to switch, and %s %s the "
                          "one-monitor form: keep one form (vxm config%s removes the other; "
                          "add that monitor to monitors if it should switch too)",
                          set->str, strchr(set->str, ',') != NULL ? "are" : "is", fix->str);
  }
  return TRUE;
}

/* @display NULL: the text is a file plus the command line's edits, and errors are the edits'
 * (VXM_ERROR_INVALID_ARGUMENT, no file name). */
VxmVmConfig *
vxm_vm_config_load_text(const char *name, const char *path, const char *display, const char *data,
                        gsize length, GError **error)
{
  g_autoptr(VxmVmConfig) c = vxm_vm_config_new(name);
  g_autoptr(GError) local = NULL;
  g_auto(GStrv) groups = NULL;

  if (!check_syntax(data, length, display, error))
    return NULL;
  if (!g_key_file_load_from_data(c->keyfile, data, length, G_KEY_FILE_KEEP_COMMENTS, &local)) {
    config_error(error, display, "%s", local->message);
    return NULL;
  }
  g_free(c->text);
  c->text = g_strndup(data, length);
  c->path = g_strdup(path);

  groups = g_key_file_get_groups(c->keyfile, NULL);
  for (gsize g = 0; groups[g] != NULL; g++) {
    g_auto(GStrv) keys = NULL;

    if (!vxm_vm_config_is_group(groups[g])) {
      g_autofree char *hint = vxm_vm_config_suggest_group(groups[g]);
      config_error(error, display, "unknown group [%s]%s", groups[g], hint);
      return NULL;
    }
    keys = g_key_file_get_keys(c->keyfile, groups[g], NULL, NULL);
    for (gsize k = 0; keys[k] != NULL; k++) {
      const KeyDef *def = vxm_vm_config_find_def(groups[g], keys[k]);
      g_autofree char *value = NULL;
      g_autoptr(GError) perr = NULL;

      if (def == NULL) {
        g_autofree char *hint = vxm_vm_config_suggest_key(groups[g], keys[k]);
        config_error(error, display, "[%s] unknown key '%s'%s", groups[g], keys[k], hint);
        return NULL;
      }
      value = g_key_file_get_string(c->keyfile, groups[g], keys[k], &perr);
      if (value == NULL) {
        config_error(error, display, "[%s] %s: %s", groups[g], keys[k], perr->message);
        return NULL;
      }
      vxm_vm_config_strip_inline_comment(value);
      if (!def->parse(c, value, &perr)) {
        g_autofree char *expected = g_strconcat("expected ", def->info.allowed, NULL);
        g_autofree char *where =
            display != NULL ? vxm_vm_config_key_line(c->text, groups[g], keys[k]) : g_strdup("");
        config_error(error, display, "%s[%s] %s = '%s': %s", where, groups[g], keys[k], value,
                     perr ? perr->message : expected);
        return NULL;
      }
    }
  }
  if (!check_consistency(c, display, error))
    return NULL;
  return g_steal_pointer(&c);
}

VxmVmConfig *
vxm_vm_config_load_data(const char *name, const char *path, const char *data, gsize length,
                        GError **error)
{
  g_autofree char *display = vxm_vm_paths_display(path ? path : "(config)");

  return vxm_vm_config_load_text(name, path, display, data, length, error);
}

VxmVmConfig *
vxm_vm_config_load_file(const char *name, const char *path, GError **error)
{
  g_autofree char *display = vxm_vm_paths_display(path);
  g_autofree char *data = NULL;
  vxm_autofd int fd = -1;
  struct stat st;
  gsize length = 0;

  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) {
      g_autofree char *hint = vxm_vm_name_suggestion(name);

      g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                  "no VM %s%s: %s does not exist; create "
                  "it with vxm init %s",
                  name, hint, display, name);
      return NULL;
    }
    vxm_error_set_from_errno(error, errno, "cannot open %s", display);
    return NULL;
  }
  if (fstat(fd, &st) != 0) {
    vxm_error_set_from_errno(error, errno, "cannot inspect %s", display);
    return NULL;
  }
  if (S_ISDIR(st.st_mode)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "%s is a folder, not a config file: move it away", display);
    return NULL;
  }
  if (!S_ISREG(st.st_mode) || st.st_size > 1024 * 1024) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "%s is not a regular text file of at most 1 MiB", display);
    return NULL;
  }
  data = g_malloc((gsize)st.st_size + 1);
  while (length < (gsize)st.st_size) {
    ssize_t n = read(fd, data + length, (gsize)st.st_size - length);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      vxm_error_set_from_errno(error, errno, "cannot read %s", display);
      return NULL;
    }
    if (n == 0)
      break;
    length += (gsize)n;
  }
  data[length] = '\0';
  return vxm_vm_config_load_data(name, path, data, length, error);
}

VxmVmConfig *
vxm_vm_config_load(const VxmVmPaths *paths, GError **error)
{
  return vxm_vm_config_load_file(paths->name, paths->config_file, error);
}
