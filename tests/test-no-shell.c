/* test-no-shell: no shell anywhere in the tree (design.md invariant 4). Greps src/, tests/ and
 * tools/ for the ways a shell gets in: system(), popen(), "/bin/sh", and "sh" "-c" argv pairs.
 * This file is the one place the patterns may appear. */
#include <string.h>

#include "vxm-test-util.h"

static const char *const patterns[] = {"system(",          "popen(", "/bin/sh", "\"sh\", \"-c\"",
                                       "\"bash\", \"-c\"", "execl(", NULL};

static void
scan(const char *dir, GPtrArray *hits)
{
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name(d)) != NULL) {
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
      scan(path, hits);
      continue;
    }
    if (!g_str_has_suffix(name, ".c") && !g_str_has_suffix(name, ".h") &&
        !g_str_has_suffix(name, ".py") && !g_str_has_suffix(name, "meson.build"))
      continue;
    if (strcmp(name, "test-no-shell.c") == 0 || !g_file_get_contents(path, &text, NULL, NULL))
      continue;
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i] != NULL; i++)
      for (guint p = 0; patterns[p] != NULL; p++) {
        const char *at = strstr(lines[i], patterns[p]);

        /* a word ending in "system(" (vxm_foo_subsystem() ...) is not system() */
        if (at != NULL && p == 0 && at > lines[i] && (g_ascii_isalnum(at[-1]) || at[-1] == '_'))
          continue;
        if (at != NULL)
          g_ptr_array_add(hits, g_strdup_printf("%s:%u: %s", path, i + 1, g_strstrip(lines[i])));
      }
  }
}

static void
test_no_shell(void)
{
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func(g_free);
  const char *const dirs[] = {"src", "tests", "tools", NULL};

  for (guint i = 0; dirs[i] != NULL; i++) {
    g_autofree char *dir = vxm_test_source_path(dirs[i]);
    scan(dir, hits);
  }
  for (guint i = 0; i < hits->len; i++)
    g_test_message("shell use: %s", (const char *)hits->pdata[i]);
  g_assert_cmpuint(hits->len, ==, 0);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/tree/no-shell", test_no_shell);
  return g_test_run();
}
