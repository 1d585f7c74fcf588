/* Fuzz target for the QMP reader: bytes from a hostile or broken QEMU must give messages or
 * errors, never a crash, a hang or unbounded memory. The normal test run replays
 * corpus/qmp-reader/; to fuzz with libFuzzer (from the top of the tree, after a build):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc -Ibuild \
 *     $(pkg-config --cflags glib-2.0 json-glib-1.0) fuzz/fuzz-qmp-reader.c \
 *     src/qemu/vxm-qmp-reader.c src/common/vxm-error.c \
 *     $(pkg-config --libs glib-2.0 json-glib-1.0) -o fuzz-qmp-reader
 *   ./fuzz-qmp-reader -max_total_time=300 fuzz/corpus/qmp-reader */
#include <stddef.h>
#include <stdint.h>

#include "qemu/vxm-qmp-reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feeds @data in chunks of @chunk bytes, draining after each, as the client does. */
static void
replay(const uint8_t *data, size_t size, size_t chunk, gsize max_line)
{
  g_autoptr(VxmQmpReader) reader = vxm_qmp_reader_new(max_line);

  for (size_t off = 0; off < size; off += chunk) {
    g_autoptr(GError) error = NULL;
    if (!vxm_qmp_reader_feed(reader, data + off, MIN(chunk, size - off), &error))
      return;
    for (;;) {
      g_autoptr(GError) next_error = NULL;
      g_autoptr(VxmQmpMessage) msg = vxm_qmp_reader_next(reader, &next_error);
      if (msg == NULL && next_error == NULL)
        break;
    }
  }
  {
    g_autoptr(GError) error = NULL;
    (void)!vxm_qmp_reader_finish(reader, &error);
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  replay(data, size, size > 0 ? size : 1, 0);
  replay(data, size, 1, 0);
  replay(data, size, 7, 64); /* a small cap reaches the overflow paths */
  return 0;
}
