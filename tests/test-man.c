/* The manual pages: each renders without a groff warning, vxm(1) documents every command and
 * option the binary has, vxm-config(5) every config key with its default, vxm-simhost(1) every
 * option. A new command, option or key fails here until its documentation is written. */
#include <string.h>

#include "vm/vxm-vm-config.h"
#include "vxm-test-cli-help.h"
#include "vxm-test-util.h"

static char *
read_page(const char *name)
{
  g_autofree char *rel = g_build_filename("man", name, NULL);
  g_autofree char *path = vxm_test_source_path(rel);
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_file_get_contents(path, &text, NULL, &error);
  g_assert_no_error(error);
  return text;
}

/* @text as it appears in roff source: '-' is written '\-'. */
static char *
roff_escape(const char *text)
{
  g_autoptr(GString) s = g_string_new(NULL);

  for (const char *p = text; *p != '\0'; p++) {
    if (*p == '-')
      g_string_append(s, "\\-");
    else if (*p == '\\')
      g_string_append(s, "\\e");
    else
      g_string_append_c(s, *p);
  }
  return g_string_free(g_steal_pointer(&s), FALSE);
}

static void
test_render(gconstpointer data)
{
  const char *page = data;
  g_autofree char *rel = g_build_filename("man", page, NULL);
  g_autofree char *path = vxm_test_source_path(rel);
  g_autofree char *groff = g_find_program_in_path("groff");
  const char *argv[] = {groff, "-man", "-Tutf8", "-ww", "-z", path, NULL};
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (groff == NULL) {
    g_test_skip("groff is not installed (Debian: groff-base)");
    return;
  }
  g_assert_cmpint(vxm_test_run(argv, NULL, &out, &err), ==, 0);
  /* -ww turns on every warning: a page with a roff mistake prints one */
  g_assert_cmpstr(err, ==, "");
}

/* The text of the section whose heading line starts with @heading, up to the next .SS or .SH. */
static char *
section(const char *page, const char *heading)
{
  const char *start = page;
  const char *end;
  g_autofree char *needle = g_strconcat("\n", heading, NULL);

  start = strstr(page, needle);
  if (start == NULL)
    return NULL;
  start++;
  end = start + 1;
  while ((end = strchr(end, '\n')) != NULL) {
    end++;
    if (g_str_has_prefix(end, ".SS") || g_str_has_prefix(end, ".SH"))
      break;
  }
  return end != NULL ? g_strndup(start, end - start) : g_strdup(start);
}

/* vxm(1) has a section ".SS "vxm COMMAND ..." for every command, naming each of its options. */
static void
test_vxm_commands(void)
{
  g_autofree char *page = read_page("vxm.1");
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  g_autoptr(GPtrArray) commands = vxm_test_cli_commands();
  g_autoptr(GString) missing = g_string_new(NULL);

  for (guint i = 0; i < commands->len; i++) {
    const char *command = g_ptr_array_index(commands, i);
    g_autofree char *escaped = roff_escape(command);
    g_autofree char *heading = g_strdup_printf(".SS \"vxm %s", escaped);
    g_autofree char *heading_sp = g_strdup_printf("%s ", heading);
    g_autofree char *heading_q = g_strdup_printf("%s\"", heading);
    g_autofree char *text = section(page, heading_sp);
    g_autoptr(GPtrArray) options = NULL;

    if (text == NULL)
      text = section(page, heading_q);
    if (text == NULL) {
      g_string_append_printf(missing, "\n  no section '.SS \"vxm %s ...\"'", escaped);
      continue;
    }
    if (g_str_equal(command, "version"))
      continue;
    options = vxm_test_cli_options(vxm, command);
    for (guint o = 0; o < options->len; o++) {
      const char *option = g_ptr_array_index(options, o);
      g_autofree char *roff = roff_escape(option);

      if (vxm_test_cli_option_is_common(option))
        continue;
      if (strstr(text, roff) == NULL)
        g_string_append_printf(missing, "\n  vxm %s: option %s", command, option);
    }
  }
  if (missing->len > 0)
    g_error("man/vxm.1 does not document:%s", missing->str);
}

/* The common options and environment are documented once. */
static void
test_vxm_common(void)
{
  g_autofree char *page = read_page("vxm.1");
  static const char *const needles[] = {
      "\\-\\-root",         "\\-\\-quiet",        "\\-\\-json",       ".B VXM_ROOT",
      ".B NO_COLOR",        ".B XDG_CONFIG_HOME", ".B XDG_DATA_HOME", ".B XDG_STATE_HOME",
      ".B XDG_RUNTIME_DIR", ".SH EXIT STATUS",    ".SH FILES",        ".SH EXAMPLES"};

  for (gsize i = 0; i < G_N_ELEMENTS(needles); i++) {
    if (strstr(page, needles[i]) == NULL)
      g_error("man/vxm.1 lacks %s", needles[i]);
  }
}

typedef struct {
  char *group;
  char *key;
  char *text; /* the entry, from its .TP to the next .TP, .SS or .SH */
} Entry;

static void
entry_free(Entry *e)
{
  g_free(e->group);
  g_free(e->key);
  g_free(e->text);
  g_free(e);
}

/* The entries of vxm-config(5)'s KEYS section: ".SS "[group]"", then ".TP" ".B key" text. */
static GPtrArray *
config_entries(const char *page)
{
  g_auto(GStrv) lines = g_strsplit(page, "\n", -1);
  GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify)entry_free);
  g_autofree char *group = NULL;
  gboolean in_keys = FALSE;
  Entry *current = NULL;
  GString *text = NULL;

  for (gsize i = 0; lines[i] != NULL; i++) {
    const char *l = lines[i];
    gboolean boundary =
        g_str_has_prefix(l, ".TP") || g_str_has_prefix(l, ".SS") || g_str_has_prefix(l, ".SH");

    if (boundary && current != NULL) {
      current->text = g_string_free(text, FALSE);
      g_ptr_array_add(entries, current);
      current = NULL;
    }
    if (g_str_has_prefix(l, ".SH"))
      in_keys = g_str_equal(l, ".SH KEYS");
    if (!in_keys)
      continue;
    if (g_str_has_prefix(l, ".SS \"[")) {
      g_free(group);
      group = g_strndup(l + 6, strcspn(l + 6, "]"));
    } else if (g_str_has_prefix(l, ".TP") && lines[i + 1] != NULL &&
               g_str_has_prefix(lines[i + 1], ".B ")) {
      current = g_new0(Entry, 1);
      current->group = g_strdup(group);
      current->key = g_strdup(lines[i + 1] + 3);
      text = g_string_new(NULL);
      i++;
    } else if (current != NULL) {
      g_string_append_printf(text, "%s\n", l);
    }
  }
  g_assert_null(current);
  return entries;
}

/* Every key of the table has an entry under its group with its default, and nothing else does. */
static void
test_config_keys(void)
{
  g_autofree char *page = read_page("vxm-config.5");
  g_autoptr(GPtrArray) entries = config_entries(page);
  const VxmVmConfigKey *keys = vxm_vm_config_keys();
  g_autoptr(GString) problems = g_string_new(NULL);
  gsize n_keys = 0;

  for (gsize k = 0; keys[k].group != NULL; k++) {
    g_autofree char *roff_key = roff_escape(keys[k].key);
    g_autofree char *roff_default = roff_escape(keys[k].default_value);
    g_autofree char *want = keys[k].default_value[0] == '\0'
                                ? g_strdup("Default: empty.")
                                : g_strdup_printf("Default: \\fB%s\\fR.", roff_default);
    Entry *found = NULL;

    n_keys++;
    for (guint e = 0; e < entries->len; e++) {
      Entry *entry = g_ptr_array_index(entries, e);
      if (g_strcmp0(entry->group, keys[k].group) == 0 && g_str_equal(entry->key, roff_key))
        found = entry;
    }
    if (found == NULL)
      g_string_append_printf(problems, "\n  [%s] %s is not documented", keys[k].group, keys[k].key);
    else if (strstr(found->text, want) == NULL)
      g_string_append_printf(problems, "\n  [%s] %s: expected '%s'", keys[k].group, keys[k].key,
                             want);
    else if (strstr(found->text, "Example: ") == NULL)
      g_string_append_printf(problems, "\n  [%s] %s has no example", keys[k].group, keys[k].key);
  }
  for (guint e = 0; e < entries->len; e++) {
    Entry *entry = g_ptr_array_index(entries, e);
    gboolean known = FALSE;

    for (gsize k = 0; keys[k].group != NULL; k++) {
      g_autofree char *roff_key = roff_escape(keys[k].key);
      if (g_strcmp0(entry->group, keys[k].group) == 0 && g_str_equal(entry->key, roff_key))
        known = TRUE;
    }
    if (!known)
      g_string_append_printf(problems, "\n  [%s] %s is documented but is no key", entry->group,
                             entry->key);
  }
  if (problems->len > 0)
    g_error("man/vxm-config.5 and vxm_vm_config_keys() differ:%s", problems->str);
  g_assert_cmpuint(entries->len, ==, n_keys);
}

static void
test_simhost_options(void)
{
  const char *simhost = g_getenv("VXM_SIMHOST");
  g_autofree char *page = read_page("vxm-simhost.1");
  g_autoptr(GPtrArray) options = NULL;

  if (simhost == NULL) {
    g_test_skip("vxm-simhost is not built (no libfuse3)");
    return;
  }
  options = vxm_test_cli_options(simhost, NULL);
  for (guint o = 0; o < options->len; o++) {
    g_autofree char *roff = roff_escape(g_ptr_array_index(options, o));
    if (strstr(page, roff) == NULL)
      g_error("man/vxm-simhost.1 does not document %s", (char *)g_ptr_array_index(options, o));
  }
}

int
main(int argc, char **argv)
{
  static const char *const pages[] = {"vxm.1", "vxm-config.5", "vxm-simhost.1", "vxmd.8"};

  g_test_init(&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS(pages); i++) {
    g_autofree char *path = g_strdup_printf("/vxm/man/render/%s", pages[i]);
    g_test_add_data_func(path, pages[i], test_render);
  }
  g_test_add_func("/vxm/man/vxm/every-command-and-option", test_vxm_commands);
  g_test_add_func("/vxm/man/vxm/common-options-environment", test_vxm_common);
  g_test_add_func("/vxm/man/vxm-config/every-key-with-default", test_config_keys);
  g_test_add_func("/vxm/man/vxm-simhost/every-option", test_simhost_options);
  return g_test_run();
}
