/* vxm-fuzz-replay: runs a fuzz target's corpus without libFuzzer (fwupd's fu-fuzzer-main.c).
 *
 * Linked with one fuzz-NAME.c, it feeds every file named on the command line (folders: every
 * file in them, sorted) to LLVMFuzzerTestOneInput, whole and cut short at a few points (the
 * truncations a stream reader meets), and prints TAP. A crash, a sanitizer report or an
 * assertion fails the test; so does an empty corpus. Built and run by fuzz/meson.build for
 * every target, so CI exercises each parser on every run. */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
compare_strings(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
collect(const char *path, GPtrArray *files)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) children = NULL;
  const char *name;

  if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
    g_ptr_array_add(files, g_strdup(path));
    return;
  }
  dir = g_dir_open(path, 0, NULL);
  if (dir == NULL)
    return;
  children = g_ptr_array_new_with_free_func(g_free);
  while ((name = g_dir_read_name(dir)) != NULL) {
    if (name[0] != '.')
      g_ptr_array_add(children, g_build_filename(path, name, NULL));
  }
  g_ptr_array_sort(children, compare_strings);
  for (guint i = 0; i < children->len; i++)
    collect(g_ptr_array_index(children, i), files);
}

/* A copy, so that a target reading one byte too far trips ASan instead of reading the
 * next allocation. */
static void
feed(const char *data, gsize size)
{
  g_autofree uint8_t *copy = g_malloc(size > 0 ? size : 1);

  if (size > 0)
    memcpy(copy, data, size);
  LLVMFuzzerTestOneInput(copy, size);
}

int
main(int argc, char **argv)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
  guint n = 0;

  for (int i = 1; i < argc; i++)
    collect(argv[i], files);
  if (files->len == 0) {
    printf("1..0\nBail out! no corpus files given\n");
    return 1;
  }
  printf("1..%u\n", files->len);
  for (guint i = 0; i < files->len; i++) {
    const char *path = g_ptr_array_index(files, i);
    g_autofree char *data = NULL;
    g_autoptr(GError) error = NULL;
    gsize size = 0;
    g_autofree char *base = g_path_get_basename(path);

    if (!g_file_get_contents(path, &data, &size, &error)) {
      printf("not ok %u - %s: %s\n", ++n, base, error->message);
      continue;
    }
    feed(data, size);
    /* cut short: empty, one byte, half, all but one */
    feed(data, 0);
    feed(data, MIN(size, 1));
    feed(data, size / 2);
    if (size > 0)
      feed(data, size - 1);
    printf("ok %u - %s (%" G_GSIZE_FORMAT " bytes)\n", ++n, base, size);
    fflush(stdout);
  }
  return 0;
}
