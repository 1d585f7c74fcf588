/* vxm-sim-machine: reading a machine file (see the header). */
#include "vxm-sim-machine.h"

#include <stdarg.h>
#include <string.h>

#include "common/vxm-error.h"

struct _VxmSimMachine {
  char *path;
  GKeyFile *keyfile;
  GHashTable *understood; /* "group" and "group\nkey" */
};

VxmSimMachine *
vxm_sim_machine_load(const char *path, GError **error)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new();
  g_autoptr(GError) local_error = NULL;
  VxmSimMachine *machine;

  if (!g_key_file_load_from_file(keyfile, path, G_KEY_FILE_NONE, &local_error)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "cannot load machine file %s: %s", path,
                local_error->message);
    return NULL;
  }
  machine = g_new0(VxmSimMachine, 1);
  machine->path = g_strdup(path);
  machine->keyfile = g_steal_pointer(&keyfile);
  machine->understood = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  return machine;
}

void
vxm_sim_machine_free(VxmSimMachine *machine)
{
  if (machine == NULL)
    return;
  g_free(machine->path);
  g_key_file_unref(machine->keyfile);
  g_hash_table_unref(machine->understood);
  g_free(machine);
}

const char *
vxm_sim_machine_get_path(VxmSimMachine *machine)
{
  return machine->path;
}

char *
vxm_sim_machine_resolve_path(VxmSimMachine *machine, const char *path)
{
  g_autofree char *dir = NULL;

  if (g_path_is_absolute(path))
    return g_strdup(path);
  dir = g_path_get_dirname(machine->path);
  return g_build_filename(dir, path, NULL);
}

gboolean
vxm_sim_machine_error(VxmSimMachine *machine, GError **error, const char *group, const char *key,
                      const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list ap;

  va_start(ap, format);
  message = g_strdup_vprintf(format, ap);
  va_end(ap);
  if (key != NULL)
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "%s: [%s] %s: %s", machine->path, group, key,
                message);
  else
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "%s: [%s]: %s", machine->path, group, message);
  return FALSE;
}

static void
mark(VxmSimMachine *machine, const char *group, const char *key)
{
  g_hash_table_add(machine->understood, g_strdup(group));
  if (key != NULL)
    g_hash_table_add(machine->understood, g_strdup_printf("%s\n%s", group, key));
}

GPtrArray *
vxm_sim_machine_groups(VxmSimMachine *machine, const char *prefix)
{
  g_auto(GStrv) groups = g_key_file_get_groups(machine->keyfile, NULL);
  g_autofree char *start = g_strdup_printf("%s ", prefix);
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

  for (guint i = 0; groups[i] != NULL; i++) {
    if (!g_str_has_prefix(groups[i], start))
      continue;
    mark(machine, groups[i], NULL);
    g_ptr_array_add(names, g_strdup(groups[i] + strlen(start)));
  }
  return names;
}

gboolean
vxm_sim_machine_has_group(VxmSimMachine *machine, const char *group)
{
  if (!g_key_file_has_group(machine->keyfile, group))
    return FALSE;
  mark(machine, group, NULL);
  return TRUE;
}

gboolean
vxm_sim_machine_has_key(VxmSimMachine *machine, const char *group, const char *key)
{
  return g_key_file_has_key(machine->keyfile, group, key, NULL);
}

gboolean
vxm_sim_machine_get_string(VxmSimMachine *machine, const char *group, const char *key,
                           const char *def, char **out, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  char *value;

  mark(machine, group, key);
  if (!g_key_file_has_key(machine->keyfile, group, key, NULL)) {
    *out = g_strdup(def);
    return TRUE;
  }
  value = g_key_file_get_string(machine->keyfile, group, key, &local_error);
  if (value == NULL)
    return vxm_sim_machine_error(machine, error, group, key, "%s", local_error->message);
  /* Trailing blanks are dropped, escaped newlines (file contents) kept. */
  for (gsize len = strlen(value); len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t');)
    value[--len] = '\0';
  *out = value;
  return TRUE;
}

gboolean
vxm_sim_machine_get_bool(VxmSimMachine *machine, const char *group, const char *key, gboolean def,
                         gboolean *out, GError **error)
{
  g_autofree char *text = NULL;

  if (!vxm_sim_machine_get_string(machine, group, key, NULL, &text, error))
    return FALSE;
  if (text == NULL) {
    *out = def;
    return TRUE;
  }
  if (g_strv_contains((const char *const[]){"true", "on", "yes", "1", NULL}, text)) {
    *out = TRUE;
  } else if (g_strv_contains((const char *const[]){"false", "off", "no", "0", NULL}, text)) {
    *out = FALSE;
  } else {
    return vxm_sim_machine_error(machine, error, group, key,
                                 "'%s' is not a boolean (true/false, on/off, yes/no)", text);
  }
  return TRUE;
}

gboolean
vxm_sim_machine_get_int(VxmSimMachine *machine, const char *group, const char *key, gint64 min,
                        gint64 max, gint64 def, gint64 *out, GError **error)
{
  g_autofree char *text = NULL;

  if (!vxm_sim_machine_get_string(machine, group, key, NULL, &text, error))
    return FALSE;
  if (text == NULL) {
    *out = def;
    return TRUE;
  }
  if (!g_ascii_string_to_signed(text, 10, min, max, out, NULL))
    return vxm_sim_machine_error(
        machine, error, group, key,
        "'%s' is not a number from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT, text, min, max);
  return TRUE;
}

gboolean
vxm_sim_machine_get_hex(VxmSimMachine *machine, const char *group, const char *key, guint digits,
                        gboolean required, guint32 def, guint32 *out, GError **error)
{
  g_autofree char *text = NULL;
  guint64 value;

  if (!vxm_sim_machine_get_string(machine, group, key, NULL, &text, error))
    return FALSE;
  if (text == NULL) {
    if (required)
      return vxm_sim_machine_error(machine, error, group, key, "missing (%u hex digits)", digits);
    *out = def;
    return TRUE;
  }
  if (strlen(text) == 0 || strlen(text) > digits || g_str_has_prefix(text, "0x") ||
      !g_ascii_string_to_unsigned(text, 16, 0, G_MAXUINT32, &value, NULL))
    return vxm_sim_machine_error(machine, error, group, key,
                                 "'%s' is not a hex number of at most %u digits (no 0x)", text,
                                 digits);
  *out = (guint32)value;
  return TRUE;
}

gboolean
vxm_sim_machine_get_list(VxmSimMachine *machine, const char *group, const char *key, GStrv *out,
                         GError **error)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) parts = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new();

  if (!vxm_sim_machine_get_string(machine, group, key, "", &text, error))
    return FALSE;
  parts = g_strsplit_set(text, ", \t", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (parts[i][0] != '\0')
      g_strv_builder_add(builder, parts[i]);
  *out = g_strv_builder_end(builder);
  return TRUE;
}

gboolean
vxm_sim_machine_check_understood(VxmSimMachine *machine, GError **error)
{
  g_auto(GStrv) groups = g_key_file_get_groups(machine->keyfile, NULL);

  for (guint i = 0; groups[i] != NULL; i++) {
    g_auto(GStrv) keys = NULL;

    if (!g_hash_table_contains(machine->understood, groups[i]))
      return vxm_sim_machine_error(
          machine, error, groups[i], NULL,
          "unknown group (known: [machine], [driver NAME], [pci BDF], [process PID], "
          "[file PATH], [hugepages], [dmi], [block NAME], [mount PATH], ...)");
    keys = g_key_file_get_keys(machine->keyfile, groups[i], NULL, NULL);
    for (guint k = 0; keys != NULL && keys[k] != NULL; k++) {
      g_autofree char *id = g_strdup_printf("%s\n%s", groups[i], keys[k]);
      if (!g_hash_table_contains(machine->understood, id))
        return vxm_sim_machine_error(machine, error, groups[i], keys[k],
                                     "unknown key (see tests/simhost/README.md)");
    }
  }
  return TRUE;
}
