/* Replays a fuzz target's corpus as a normal test (the idea of fwupd's fu-fuzzer-main.c):
 * `fuzz-NAME CORPUS_DIR` feeds every file to LLVMFuzzerTestOneInput and prints TAP. A crash
 * or sanitizer report fails the test; libFuzzer builds link their own main instead. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
compare_names(gconstpointer a, gconstpointer b)
{
  return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *name;

  if (argc != 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  dir = g_dir_open(argv[1], 0, &error);
  if (dir == NULL) {
    printf("Bail out! cannot open corpus %s: %s\n", argv[1], error->message);
    return 1;
  }
  while ((name = g_dir_read_name(dir)) != NULL)
    g_ptr_array_add(names, g_strdup(name));
  g_ptr_array_sort(names, compare_names);
  printf("1..%u\n", names->len);
  for (guint i = 0; i < names->len; i++) {
    g_autofree char *path = g_build_filename(argv[1], g_ptr_array_index(names, i), NULL);
    g_autofree char *contents = NULL;
    gsize length = 0;

    if (!g_file_get_contents(path, &contents, &length, &error)) {
      printf("not ok %u - %s: %s\n", i + 1, (char *)g_ptr_array_index(names, i), error->message);
      return 1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)contents, length);
    printf("ok %u - %s\n", i + 1, (char *)g_ptr_array_index(names, i));
    fflush(stdout);
  }
  return 0;
}
