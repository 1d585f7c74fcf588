/* vxm-test-qemu-wrapper: stands in for qemu-system-x86_64 in end-to-end tests (never installed).
 *
 * It records the argv vxm gave it, one argument a line, in the file named by
 * $VXM_TEST_ARGV_LOG (so a test can assert the real argv), applies the transformation of
 * tests/vxm-qemu-wrapper.h (no VFIO, no input-linux, TCG instead of KVM, ...), says on stderr
 * what it changed, and execs the real QEMU: $VXM_TEST_QEMU, else qemu-system-x86_64 from PATH.
 * $VXM_TEST_QEMU_MEMORY (e.g. 256M) shrinks guest RAM; $VXM_TEST_QEMU_HUGEPAGES (e.g. 2M)
 * keeps the hugetlb backend with that page size (else hugetlb is dropped).
 * $VXM_TEST_QEMU_KEEP_INPUT=1 keeps the input-linux objects (their evdev paths are simulated
 * nodes of a vxm-simhost mount) and preloads $VXM_TEST_EVDEV_SHIM into QEMU, which passes
 * EVIOCGRAB's by-value argument by reference so it can reach a FUSE file (see the shim).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vxm-qemu-wrapper.h"

int
main(int argc, char **argv)
{
  const char *log = g_getenv("VXM_TEST_ARGV_LOG");
  const char *qemu_env = g_getenv("VXM_TEST_QEMU");
  g_autofree char *qemu = NULL;
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
  VxmQemuWrapperOptions opts = {0};
  g_auto(GStrv) out = NULL;

  if (log != NULL && *log != '\0') {
    g_autoptr(GString) text = g_string_new(NULL);
    g_autoptr(GError) error = NULL;

    for (int i = 0; i < argc; i++)
      g_string_append_printf(text, "%s\n", argv[i]);
    if (!g_file_set_contents(log, text->str, (gssize)text->len, &error)) {
      fprintf(stderr, "vxm-test-qemu-wrapper: cannot write %s: %s\n", log, error->message);
      return 127;
    }
  }
  qemu = qemu_env != NULL && *qemu_env != '\0' ? g_strdup(qemu_env)
                                               : g_find_program_in_path("qemu-system-x86_64");
  if (qemu == NULL) {
    fprintf(stderr, "vxm-test-qemu-wrapper: qemu-system-x86_64 is not in PATH\n");
    return 127;
  }
  opts.qemu = qemu;
  opts.memory = g_getenv("VXM_TEST_QEMU_MEMORY");
  opts.hugepage_size = g_getenv("VXM_TEST_QEMU_HUGEPAGES");
  opts.keep_input = g_strcmp0(g_getenv("VXM_TEST_QEMU_KEEP_INPUT"), "1") == 0;
  if (opts.keep_input) {
    const char *shim = g_getenv("VXM_TEST_EVDEV_SHIM");

    if (shim != NULL && *shim != '\0') {
      g_setenv("LD_PRELOAD", shim, TRUE);
      g_ptr_array_add(notes, g_strdup_printf("input-linux kept; LD_PRELOAD=%s (EVIOCGRAB by "
                                             "reference on FUSE evdev nodes)",
                                             shim));
    } else {
      g_ptr_array_add(notes, g_strdup("input-linux kept without the evdev shim: QEMU's "
                                      "EVIOCGRAB fails with EFAULT on simulated nodes"));
    }
  }
  out = vxm_qemu_wrapper_transform((const char *const *)argv, &opts, notes);
  for (guint i = 0; i < notes->len; i++)
    fprintf(stderr, "vxm-test-qemu-wrapper: %s\n", (char *)g_ptr_array_index(notes, i));
  fflush(stderr);
  execv(qemu, out);
  fprintf(stderr, "vxm-test-qemu-wrapper: cannot run %s: %s\n", qemu, strerror(errno));
  return 127;
}
