#include "vxm-test-cli-help.h"

#include <string.h>

#include "vxm-test-util.h"

GPtrArray *
vxm_test_cli_commands(void)
{
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  const char *argv[] = {vxm, "--help", NULL};
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;
  GPtrArray *commands = g_ptr_array_new_with_free_func(g_free);
  gboolean in_list = FALSE;

  g_assert_cmpint(vxm_test_run(argv, NULL, &out, &err), ==, 0);
  lines = g_strsplit(out, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++) {
    g_auto(GStrv) words = NULL;

    if (g_str_equal(lines[i], "Commands:")) {
      in_list = TRUE;
      continue;
    }
    if (!in_list)
      continue;
    if (!g_str_has_prefix(lines[i], "  "))
      break;
    words = g_strsplit_set(g_strstrip(lines[i]), " ", 2);
    g_ptr_array_add(commands, g_strdup(words[0]));
  }
  g_assert_cmpuint(commands->len, >, 5);
  return commands;
}

GPtrArray *
vxm_test_cli_options(const char *program, const char *command)
{
  const char *argv[] = {program, command != NULL ? command : "--help",
                        command != NULL ? "--help" : NULL, NULL};
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;
  GPtrArray *options = g_ptr_array_new_with_free_func(g_free);
  gboolean in_list = FALSE;

  g_assert_cmpint(vxm_test_run(argv, NULL, &out, &err), ==, 0);
  lines = g_strsplit(out, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++) {
    g_auto(GStrv) words = NULL;

    if (g_str_equal(lines[i], "Application Options:")) {
      in_list = TRUE;
      continue;
    }
    if (!in_list)
      continue;
    if (!g_str_has_prefix(lines[i], "  -"))
      break;
    /* "  -n, --dry-run     Show ..." or "  --root=DIR   Folder ..." */
    words = g_strsplit_set(g_strstrip(lines[i]), " ", -1);
    for (gsize w = 0; words[w] != NULL && words[w][0] == '-'; w++) {
      char *option = words[w];
      char *cut = strpbrk(option, ",=");

      if (cut != NULL)
        *cut = '\0';
      g_ptr_array_add(options, g_strdup(option));
    }
  }
  g_assert_cmpuint(options->len, >, 0);
  return options;
}

gboolean
vxm_test_cli_option_is_common(const char *option)
{
  return g_str_equal(option, "--root") || g_str_equal(option, "--quiet") ||
         g_str_equal(option, "-q");
}
