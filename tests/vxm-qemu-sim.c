/* vxm-qemu-sim: runs the QEMU command line vxm built for a VFIO + KVM workstation on a machine
 * that has neither (this CI machine, the demo), and says so.
 *
 * It exists because this machine has no /dev/kvm and no VFIO: vfio-pci devices and
 * input-linux objects are dropped, KVM becomes TCG, memory is made small (the rules are in
 * vxm-qemu-wrapper.h). Everything else of vxm's argv reaches the real QEMU unchanged: the
 * firmware, secure boot, the TPM, the QMP monitor, the serial log, the sandbox. Built always,
 * installed never; set a VM's qemu_binary to it.
 *
 * Environment (the supervisor passes VXM_QEMU_SIM_* and VXM_TEST_ARGV_LOG through):
 *   VXM_QEMU_SIM_QEMU    the real QEMU (default /usr/bin/qemu-system-x86_64)
 *   VXM_QEMU_SIM_MEMORY  guest RAM instead of vxm's (default 512M)
 *   VXM_TEST_ARGV_LOG    file that gets the argv vxm gave, one argument a line
 *   VXM_QEMU_SIM_KEEP_INPUT=1  keep the input-linux objects (a vxm-simhost's evdev nodes),
 *                        with VXM_QEMU_SIM_EVDEV_SHIM preloaded (tests/vxm-test-evdev-shim.c)
 *   VXM_QEMU_SIM_TEST_QMP  a unix socket path: a second QMP monitor there, for a test to ask
 *                        the real QEMU what it has (device_add, device_del) while vxm's
 *                        supervisor holds the first
 *   VXM_QEMU_SIM_EXTRA_OPTION  one more argument for the real QEMU (a test gives it one QEMU
 *                        refuses, to see a real QEMU fail at start)
 * With `-machine help`-style probes (vxm's capability probe), it just execs the real QEMU.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "vxm-qemu-wrapper.h"

int
main(int argc, char **argv)
{
  const char *qemu = g_getenv("VXM_QEMU_SIM_QEMU");
  const char *memory = g_getenv("VXM_QEMU_SIM_MEMORY");
  const char *argv_log = g_getenv("VXM_TEST_ARGV_LOG");
  const char *extra = g_getenv("VXM_QEMU_SIM_EXTRA_OPTION");
  const char *test_qmp = g_getenv("VXM_QEMU_SIM_TEST_QMP");
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
  VxmQemuWrapperOptions options = {0};
  g_auto(GStrv) real = NULL;
  gboolean probe = FALSE;

  if (qemu == NULL)
    qemu = "/usr/bin/qemu-system-x86_64";
  options.qemu = qemu;
  options.memory = memory != NULL ? memory : "512M";
  options.keep_input = g_strcmp0(g_getenv("VXM_QEMU_SIM_KEEP_INPUT"), "1") == 0;
  if (options.keep_input) {
    const char *shim = g_getenv("VXM_QEMU_SIM_EVDEV_SHIM");

    if (shim != NULL && *shim != '\0') {
      g_setenv("LD_PRELOAD", shim, TRUE);
      g_ptr_array_add(notes, g_strdup_printf("input-linux kept; LD_PRELOAD=%s", shim));
    }
  }

  /* the capability probe (-qmp stdio with -machine none, -audiodev help...): nothing to drop */
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "help") == 0 || g_str_has_suffix(argv[i], "=help") ||
        strcmp(argv[i], "-version") == 0 || strcmp(argv[i], "--version") == 0 ||
        (strcmp(argv[i], "-machine") == 0 && i + 1 < argc && strcmp(argv[i + 1], "none") == 0))
      probe = TRUE;
  }
  if (probe) {
    argv[0] = (char *)qemu;
    execv(qemu, argv);
    fprintf(stderr, "vxm-qemu-sim: cannot run %s: %s\n", qemu, strerror(errno));
    return 127;
  }

  if (argv_log != NULL) {
    g_autoptr(GString) text = g_string_new(NULL);

    for (int i = 0; i < argc; i++)
      g_string_append_printf(text, "%s\n", argv[i]);
    if (!g_file_set_contents(argv_log, text->str, (gssize)text->len, NULL))
      fprintf(stderr, "vxm-qemu-sim: cannot write %s\n", argv_log);
  }
  real = vxm_qemu_wrapper_transform((const char *const *)argv, &options, notes);
  if (extra != NULL && *extra != '\0') {
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();

    g_strv_builder_addv(b, (const char **)real);
    g_strv_builder_add(b, extra);
    g_strfreev(real);
    real = g_strv_builder_end(b);
    g_ptr_array_add(notes, g_strdup_printf("added %s (VXM_QEMU_SIM_EXTRA_OPTION)", extra));
  }
  if (test_qmp != NULL && *test_qmp != '\0') {
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_auto(GStrv) parts = g_strsplit(test_qmp, ",", -1);
    g_autofree char *escaped = g_strjoinv(",,", parts); /* QEMU's option syntax */
    g_autofree char *option = g_strdup_printf("unix:%s,server=on,wait=off", escaped);

    g_strv_builder_addv(b, (const char **)real);
    g_strv_builder_add(b, "-qmp");
    g_strv_builder_add(b, option);
    g_strfreev(real);
    real = g_strv_builder_end(b);
    g_ptr_array_add(notes, g_strdup_printf("a second QMP monitor on %s for the test", test_qmp));
  }
  fprintf(stderr,
          "vxm-qemu-sim: this machine has no KVM and no VFIO: running %s under TCG, "
          "without the passed-through devices\n",
          qemu);
  for (guint i = 0; i < notes->len; i++)
    fprintf(stderr, "vxm-qemu-sim: %s\n", (char *)g_ptr_array_index(notes, i));
  fflush(stderr);
  execv(qemu, real);
  fprintf(stderr, "vxm-qemu-sim: cannot run %s: %s\n", qemu, strerror(errno));
  return 127;
}
