/* vxm-simhost-fixture: mounts a simulated workstation (vxm-simhost) for a test.
 *
 *   g_autoptr(VxmSimhost) sim = NULL;
 *   if (!vxm_test_require_root())
 *     return;
 *   sim = vxm_simhost_start("intel-nvidia-turing", &error);
 *   g_assert_no_error(error);
 *   ... run vxm with --root vxm_simhost_root(sim) ...
 *
 * The machine comes from tests/simhost/NAME.machine (or a path when NAME holds a '/'); the
 * binary from $VXM_SIMHOST (set by tests/meson.build), else the build tree. The mount is on a
 * fresh temporary folder and is always taken down: by vxm_simhost_stop() (g_autoptr), by an
 * atexit handler for whatever is still mounted, and, if the test process dies, by the
 * simulator itself (it gets SIGTERM when the thread that started it exits, and mounts with
 * auto_unmount). Start a simulator from the test's main thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VxmSimhost VxmSimhost;

VxmSimhost *vxm_simhost_start(const char *machine_name, GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_simhost_stop(VxmSimhost *sim);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmSimhost, vxm_simhost_stop)

/* The mount: the simulated host's "/" (give it to vxm as --root). */
const char *vxm_simhost_root(VxmSimhost *sim);
/* The local path of a host path under the mount: root + "/sys/...". */
char *vxm_simhost_path(VxmSimhost *sim, const char *host_path);
/* The machine file in use. */
const char *vxm_simhost_machine_path(VxmSimhost *sim);

/* .simhost/log: every operation since mount or the last clear. */
char *vxm_simhost_read_log(VxmSimhost *sim);
void vxm_simhost_clear_log(VxmSimhost *sim);
/* .simhost/state: the canonical dump of the mutable host state. */
char *vxm_simhost_state(VxmSimhost *sim);

/* Every file vxm may write outside the kernel's /sys and /proc (which the state describes):
 * /run, /dev, /etc, /var, /tmp; one sorted line a file (type, mode, owner, checksum). */
char *vxm_simhost_writable_tree(VxmSimhost *sim);

/* .simhost/faults: one rule ("write /sys/bus/pci/drivers/nvidia/unbind errno=EBUSY count=1"). */
gboolean vxm_simhost_add_fault(VxmSimhost *sim, const char *rule,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_simhost_clear_faults(VxmSimhost *sim);
/* Lets every operation blocked by a hang rule go on. */
void vxm_simhost_release(VxmSimhost *sim);
/* How many operations are blocked in a hang now. */
guint vxm_simhost_hung_count(VxmSimhost *sim);
/* Waits (up to @timeout_ms) until at least @count operations hang; FALSE on time out. */
gboolean vxm_simhost_wait_hung(VxmSimhost *sim, guint count, guint timeout_ms);

/* Hot-unplug and replug of a PCI device by BDF; a simulated process exits. */
gboolean vxm_simhost_unplug(VxmSimhost *sim, const char *bdf,
                            GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_simhost_replug(VxmSimhost *sim, const char *bdf,
                            GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_simhost_kill(VxmSimhost *sim, guint pid, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* For a test: the machine mounted, or NULL (the test recorded as skipped) when not root; a
 * machine that does not start fails the test. */
VxmSimhost *vxm_simhost_start_for_test(const char *machine_name);
/* One command to the control file .simhost/@file ("input", "usb", "modules", ...) with one
 * plain write, as a person's echo does; the write's errno, 0 when it was taken. */
int vxm_simhost_control(VxmSimhost *sim, const char *file, const char *line);
/* The text of a host file under the mount, its trailing newline cut; NULL when unreadable. */
char *vxm_simhost_read(VxmSimhost *sim, const char *host_path);

/* Path of the vxm-simhost binary the fixture runs. */
char *vxm_simhost_binary(void);

G_END_DECLS
