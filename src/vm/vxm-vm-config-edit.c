/* vxm-vm-config-edit: `vxm config --set/--unset`: edits of the file's text that keep the
 * user's comments and order, checked by loading the result; saving. */
#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "vxm-vm-config-private.h"

/* ---- editing ------------------------------------------------------------------------------- */

/* A value as GKeyFile reads it back: backslashes doubled, leading space kept with \s. */
static char *
escape_value(const char *value)
{
  GString *s = g_string_new(NULL);

  for (const char *p = value; *p; p++) {
    if (*p == '\\')
      g_string_append(s, "\\\\");
    else if (p == value && *p == ' ')
      g_string_append(s, "\\s");
    else
      g_string_append_c(s, *p);
  }
  return g_string_free(s, FALSE);
}

/* Replaces this config's content by @text's, validated as a whole (pairs of keys set by one
 * command are checked together). On error nothing changes. */
static gboolean
replace_text(VxmVmConfig *c, const char *text, GError **error)
{
  g_autoptr(VxmVmConfig) fresh =
      vxm_vm_config_load_text(c->name, c->path, NULL, text, strlen(text), error);
  VxmVmConfig tmp;

  if (fresh == NULL)
    return FALSE;
  tmp = *c;
  *c = *fresh;
  *fresh = tmp;
  return TRUE;
}

/* Edits @text line by line: the key's line is replaced (or removed when @value is NULL), or
 * a line added after its group's last key, or the group appended. Returns the new text. */
static char *
edit_text(const char *text, const KeyDef *def, const char *value, GError **error)
{
  g_autoptr(GArray) lines = vxm_vm_config_scan_lines(text, strlen(text));
  g_autoptr(GString) out = g_string_new(NULL);
  g_autofree char *escaped = value ? escape_value(value) : NULL;
  const char *group = def->info.group, *key = def->info.key;
  gssize key_line = -1, group_line = -1, insert_after = -1;

  if (value != NULL) {
    for (const char *p = value; *p; p++) {
      if ((guchar)*p < 0x20 || *p == 0x7f) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                    "[%s] %s: the value contains a control character", group, key);
        return NULL;
      }
      if (*p == '#' && (p == value || p[-1] == ' ' || p[-1] == '\t')) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                    "[%s] %s: a '#' after a space starts a comment in the file: the value "
                    "cannot hold one (rename the file)",
                    group, key);
        return NULL;
      }
    }
  }
  for (guint i = 0; i < lines->len; i++) {
    Line *l = &g_array_index(lines, Line, i);

    if (l->group == NULL || strcmp(l->group, group) != 0)
      continue;
    if (l->key == NULL) {
      group_line = i;
      insert_after = i;
    } else {
      insert_after = i;
      if (strcmp(l->key, key) == 0)
        key_line = i;
    }
  }
  if (key_line >= 0) {
    Line *l = &g_array_index(lines, Line, key_line);
    const char *eq = memchr(text + l->start, '=', l->end - l->start);
    gsize value_start = (gsize)(eq - text) + 1;
    gsize line_end = l->end;

    g_string_append_len(out, text, (gssize)l->start);
    if (value != NULL) {
      /* keep "key = " as the user spaced it */
      g_string_append_len(out, text + l->start, (gssize)(value_start - l->start));
      while (value_start < line_end && text[value_start] == ' ') {
        g_string_append_c(out, ' ');
        value_start++;
      }
      g_string_append_printf(out, "%s\n", escaped);
    }
    g_string_append(out, text + line_end);
  } else if (value == NULL) {
    g_string_append(out, text); /* nothing to unset */
  } else if (group_line >= 0) {
    Line *l = &g_array_index(lines, Line, insert_after);
    g_string_append_len(out, text, (gssize)l->end);
    if (out->len > 0 && out->str[out->len - 1] != '\n')
      g_string_append_c(out, '\n');
    g_string_append_printf(out, "%s = %s\n", key, escaped);
    g_string_append(out, text + l->end);
  } else {
    g_string_append(out, text);
    if (out->len > 0 && out->str[out->len - 1] != '\n')
      g_string_append_c(out, '\n');
    if (out->len > 0)
      g_string_append_c(out, '\n');
    g_string_append_printf(out, "[%s]\n%s = %s\n", group, key, escaped);
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

gboolean
vxm_vm_config_set_many(VxmVmConfig *c, const char *const *keys, const char *const *values,
                       GError **error)
{
  g_autofree char *text = g_strdup(c->text);

  for (gsize i = 0; keys[i] != NULL; i++) {
    const KeyDef *def;
    char *next;

    if (!vxm_vm_config_find_key(keys[i], &def, error))
      return FALSE;
    next = edit_text(text, def, values[i], error);
    if (next == NULL)
      return FALSE;
    g_free(text);
    text = next;
  }
  return replace_text(c, text, error);
}

gboolean
vxm_vm_config_set(VxmVmConfig *c, const char *key, const char *value, GError **error)
{
  const char *keys[] = {key, NULL};
  const char *values[] = {value, NULL};

  g_return_val_if_fail(value != NULL, FALSE);
  return vxm_vm_config_set_many(c, keys, values, error);
}

gboolean
vxm_vm_config_unset(VxmVmConfig *c, const char *key, GError **error)
{
  const char *keys[] = {key, NULL};
  const char *values[] = {NULL, NULL};

  return vxm_vm_config_set_many(c, keys, values, error);
}

char *
vxm_vm_config_to_data(VxmVmConfig *c, gsize *length)
{
  if (length != NULL)
    *length = strlen(c->text);
  return g_strdup(c->text);
}

gboolean
vxm_vm_config_save(VxmVmConfig *c, const char *path, GError **error)
{
  const char *target = path ? path : c->path;
  g_autofree char *display = NULL;

  g_return_val_if_fail(target != NULL, FALSE);
  if (!vxm_file_replace_atomic(target, c->text, -1, 0600, error)) {
    display = vxm_vm_paths_display(target);
    g_prefix_error(error, "cannot write %s: ", display);
    return FALSE;
  }
  if (path != NULL && g_strcmp0(path, c->path) != 0) {
    g_free(c->path);
    c->path = g_strdup(path);
  }
  return TRUE;
}

char *
vxm_vm_config_get_text(VxmVmConfig *c, const char *group, const char *key)
{
  const KeyDef *def = vxm_vm_config_find_def(group, key);
  char *value;

  g_return_val_if_fail(def != NULL, NULL);
  value = g_key_file_get_string(c->keyfile, group, key, NULL);
  if (value != NULL) {
    vxm_vm_config_strip_inline_comment(value);
    return value;
  }
  return g_strdup(def->info.default_value);
}
