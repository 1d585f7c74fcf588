#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-host-system.h"
#include "common/vxm-hostfs.h"
#include "common/vxm-util.h"
#include "platform/vxm-meminfo.h"
#include "vxm-test-util.h"

static void
test_hostfs_maps_paths(void)
{
  g_autoptr(VxmHostfs) real = vxm_hostfs_new(NULL);
  g_autoptr(VxmHostfs) sim = vxm_hostfs_new("/tmp/sim//");
  g_autofree char *p1 = vxm_hostfs_path(real, VXM_HOST_SYS_PCI_DEVICES);
  g_autofree char *p2 = vxm_hostfs_pathf(sim, "%s/%s/driver", VXM_HOST_SYS_PCI_DEVICES, "x");
  g_autofree char *back = vxm_hostfs_host_path(sim, "/tmp/sim/sys/bus");
  g_autofree char *outside = vxm_hostfs_host_path(sim, "/tmp/simulated/sys");

  g_assert_true(vxm_hostfs_is_real(real));
  g_assert_false(vxm_hostfs_is_real(sim));
  g_assert_cmpstr(p1, ==, "/sys/bus/pci/devices");
  g_assert_cmpstr(p2, ==, "/tmp/sim/sys/bus/pci/devices/x/driver");
  g_assert_cmpstr(back, ==, "/sys/bus");
  g_assert_null(outside);
}

static void
test_hostfs_attrs(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;
  g_autofree char *vendor = NULL;
  g_autofree char *driver = NULL;
  g_autofree char *resolved = NULL;
  g_autoptr(GPtrArray) names = NULL;
  gint64 numa = 0;
  guint64 cls = 0;

  vxm_test_write_file(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/vendor", "0x10de\n");
  vxm_test_write_file(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/class", "0x030000\n");
  vxm_test_write_file(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/numa_node", "-1\n");
  vxm_test_write_file(root, "sys/bus/pci/drivers/nvidia/bind", "");
  vxm_test_symlink(root, "sys/bus/pci/devices/0000:01:00.0",
                   "../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0");
  vxm_test_symlink(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/driver",
                   "../../../../bus/pci/drivers/nvidia");

  vendor = vxm_hostfs_read_attr(fs, "/sys/bus/pci/devices/0000:01:00.0/vendor", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(vendor, ==, "0x10de");
  g_assert_true(
      vxm_hostfs_read_attr_uint64(fs, "/sys/bus/pci/devices/0000:01:00.0/class", 0, &cls, &error));
  g_assert_cmphex(cls, ==, 0x030000);
  g_assert_true(vxm_hostfs_read_attr_int64(fs, "/sys/bus/pci/devices/0000:01:00.0/numa_node", 10,
                                           &numa, &error));
  g_assert_cmpint(numa, ==, -1);
  driver = vxm_hostfs_read_link_basename(fs, "/sys/bus/pci/devices/0000:01:00.0/driver", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(driver, ==, "nvidia");
  resolved = vxm_hostfs_resolve(fs, "/sys/bus/pci/devices/0000:01:00.0", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(resolved, ==, "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0");

  names = vxm_hostfs_list_dir(fs, "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(names->len, ==, 4);
  g_assert_cmpstr(g_ptr_array_index(names, 0), ==, "class");
  g_assert_cmpstr(g_ptr_array_index(names, 3), ==, "vendor");

  /* a missing attribute names the host path, not the local one */
  g_assert_null(vxm_hostfs_read_attr(fs, "/sys/bus/pci/devices/0000:02:00.0/vendor", &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "/sys/bus/pci/devices/0000:02:00.0/vendor"));
  g_assert_null(strstr(error->message, root));
  g_clear_error(&error);

  /* a number that is not one is reported as such */
  g_assert_false(vxm_hostfs_read_attr_int64(fs, "/sys/bus/pci/devices/0000:01:00.0/vendor", 10,
                                            &numa, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
  g_clear_error(&error);

  g_assert_true(
      vxm_hostfs_write_attr(fs, "/sys/bus/pci/drivers/nvidia/bind", "0000:01:00.0", &error));
  g_assert_no_error(error);
  vxm_test_rm_rf(root);
}

static void
test_hostfs_cli_root(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new_for_cli("/nonexistent/vxm-root", &error);

  g_assert_null(fs);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "/nonexistent/vxm-root"));
}

static void
test_parse_numbers(void)
{
  gint64 s;
  guint64 u;

  g_assert_true(vxm_parse_int64("-1", 10, &s));
  g_assert_cmpint(s, ==, -1);
  g_assert_true(vxm_parse_uint64("0x10de", 0, &u));
  g_assert_cmphex(u, ==, 0x10de);
  g_assert_false(vxm_parse_uint64("-1", 10, &u));
  g_assert_false(vxm_parse_uint64("12 ", 10, &u));
  g_assert_false(vxm_parse_uint64("", 10, &u));
  g_assert_false(vxm_parse_uint64("99999999999999999999999", 10, &u));
  g_assert_false(vxm_parse_int64(" 1", 10, &s));
}

static void
test_parse_size(void)
{
  static const struct {
    const char *in;
    guint64 bytes;
  } ok[] = {
      {"16G", 16ull << 30}, {"512M", 512ull << 20}, {"8GiB", 8ull << 30}, {"4096", 4096},
      {"1t", 1ull << 40},   {"2MB", 2ull << 20},    {"64k", 64ull << 10},
  };
  static const char *const bad[] = {"", "G", "-1G", "1X", "1.5G", "99999999999999999999T"};
  guint64 v;

  for (gsize i = 0; i < G_N_ELEMENTS(ok); i++) {
    g_assert_true(vxm_parse_size(ok[i].in, &v));
    g_assert_cmpuint(v, ==, ok[i].bytes);
  }
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
    g_assert_false(vxm_parse_size(bad[i], &v));
}

static void
test_atomic_replace(void)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *path = g_build_filename(dir, "journal", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;

  g_assert_true(vxm_file_replace_atomic(path, "one", -1, 0600, &error));
  g_assert_true(vxm_file_replace_atomic(path, "two", -1, 0600, &error));
  g_assert_no_error(error);
  g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
  g_assert_cmpstr(contents, ==, "two");
  g_assert_cmpint(stat(path, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);

  /* the mode asked for, not the replaced file's (GLib 2.84's g_file_set_contents_full keeps
   * that one) nor the umask's */
  g_assert_cmpint(chmod(path, 0644), ==, 0);
  g_assert_true(vxm_file_replace_atomic(path, "three", -1, 0600, &error));
  g_assert_cmpint(stat(path, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);
  {
    mode_t old_umask = umask(077);
    gboolean ok = vxm_file_replace_atomic(path, "four", -1, 0644, &error);

    umask(old_umask);
    g_assert_true(ok);
  }
  g_assert_cmpint(stat(path, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0644);
  g_assert_no_error(error);

  /* a folder that does not exist is an error naming the file, nothing is created */
  g_assert_false(vxm_file_replace_atomic("/nonexistent/dir/x", "x", -1, 0600, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  vxm_test_rm_rf(dir);
}

/* The unsynced variant still replaces in one step: new content, its mode, no temporary left. */
static void
test_replace_atomic_nosync(void)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *path = g_build_filename(dir, "status.json", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) listing = NULL;
  struct stat st;

  g_assert_true(vxm_file_replace_atomic_nosync(path, "one", -1, 0600, &error));
  g_assert_true(vxm_file_replace_atomic_nosync(path, "two!", 3, 0600, &error));
  g_assert_no_error(error);
  g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
  g_assert_cmpstr(contents, ==, "two");
  g_assert_cmpint(stat(path, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);
  g_assert_cmpint(chmod(path, 0644), ==, 0);
  g_assert_true(vxm_file_replace_atomic_nosync(path, "three", -1, 0600, &error));
  g_assert_cmpint(stat(path, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);
  listing = g_dir_open(dir, 0, NULL);
  g_assert_cmpstr(g_dir_read_name(listing), ==, "status.json");
  g_assert_null(g_dir_read_name(listing));

  g_assert_false(vxm_file_replace_atomic_nosync("/nonexistent/dir/x", "x", -1, 0600, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "/nonexistent/dir/x"));
  vxm_test_rm_rf(dir);
}

static void
test_format_bytes(void)
{
  g_autofree char *a = vxm_format_bytes(512ull << 20);
  g_autofree char *b = vxm_format_bytes(3ull << 29);
  g_autofree char *c = vxm_format_bytes(100);

  g_assert_cmpstr(a, ==, "512 MiB");
  g_assert_cmpstr(b, ==, "1.5 GiB");
  g_assert_cmpstr(c, ==, "100 bytes");
}

/* /proc/meminfo's values in bytes; a key that only starts like another is not it. */
static void
test_meminfo(void)
{
  const char *text = "MemTotalish:   1 kB\nMemTotal:       32768000 kB\n"
                     "MemFree:         1024 kB\nMemAvailable:   20000000 kB\nBroken:  x kB";
  guint64 bytes = 0;

  g_assert_true(vxm_meminfo_parse(text, "MemTotal", &bytes));
  g_assert_cmpuint(bytes, ==, G_GUINT64_CONSTANT(32768000) * 1024);
  g_assert_true(vxm_meminfo_parse(text, "MemAvailable", &bytes));
  g_assert_cmpuint(bytes, ==, G_GUINT64_CONSTANT(20000000) * 1024);
  g_assert_false(vxm_meminfo_parse(text, "SwapTotal", &bytes));
  g_assert_false(vxm_meminfo_parse(text, "Broken", &bytes));
  g_assert_false(vxm_meminfo_parse("", "MemTotal", &bytes));
}

/* The running init from /run, else the installed one; its commands in every hint. */
static void
test_host_system_init(void)
{
  const struct {
    const char *files[3];
    VxmHostInit init;
    const char *enable, *logs, *stop_sddm;
  } cases[] = {
      {{"run/systemd/system/.keep", "sbin/openrc-run", NULL},
       VXM_HOST_INIT_SYSTEMD,
       "sudo systemctl enable --now vxmd.socket",
       "journalctl -u vxmd",
       "sudo systemctl stop sddm"},
      {{"run/openrc/softlevel", "lib/systemd/systemd", NULL},
       VXM_HOST_INIT_OPENRC,
       "sudo rc-update add vxmd default && sudo rc-service vxmd start",
       "/var/log/vxmd.log",
       "sudo rc-service sddm stop"},
      /* an image or a chroot: nothing runs, the installed init decides */
      {{"sbin/openrc-run", NULL},
       VXM_HOST_INIT_OPENRC,
       "sudo rc-update add vxmd default && sudo rc-service vxmd start",
       "/var/log/vxmd.log",
       "sudo rc-service sddm stop"},
      {{"usr/lib/systemd/systemd", NULL},
       VXM_HOST_INIT_SYSTEMD,
       "sudo systemctl enable --now vxmd.socket",
       "journalctl -u vxmd",
       "sudo systemctl stop sddm"},
      /* neither (or both installed, neither running): both, each named */
      {{NULL},
       VXM_HOST_INIT_UNKNOWN,
       "sudo systemctl enable --now vxmd.socket (systemd) or sudo rc-update add vxmd default && "
       "sudo rc-service vxmd start (OpenRC)",
       "journalctl -u vxmd (systemd) or /var/log/vxmd.log (OpenRC)",
       "sudo systemctl stop sddm (systemd) or sudo rc-service sddm stop (OpenRC)"},
  };

  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *root = vxm_test_mkdtemp();
    g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
    g_autofree char *enable = NULL, *logs = NULL, *stop = NULL;

    for (guint k = 0; cases[i].files[k] != NULL; k++)
      vxm_test_write_file(root, cases[i].files[k], "");
    g_assert_cmpint(vxm_host_system_get_init(fs), ==, cases[i].init);
    enable = vxm_host_system_vxmd_enable_command(fs);
    logs = vxm_host_system_vxmd_log_hint(fs);
    stop = vxm_host_system_service_command(fs, "sddm", "stop");
    g_assert_cmpstr(enable, ==, cases[i].enable);
    g_assert_cmpstr(logs, ==, cases[i].logs);
    g_assert_cmpstr(stop, ==, cases[i].stop_sddm);
    vxm_test_rm_rf(root);
  }
}

/* mountinfo decides: an overlay root on tmpfs drops /etc, /usr, /boot at reboot, but not a
 * separate /var/lib mount; an overlay on a disk, or a plain root, lasts. */
static void
test_host_system_overlay_root(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_auto(VxmHostRootKind) kind = {0};
  g_autofree char *steps = NULL;

  /* no mountinfo at all: nothing shows the root is volatile */
  g_assert_false(vxm_host_system_change_is_volatile(fs, "/etc/default/grub"));
  g_assert_cmpstr(vxm_host_system_change_kind(fs, "/etc/vxm/vxmd.conf"), ==, "lasting");
  g_assert_null(vxm_host_system_lasting_steps(fs, "edit it"));

  /* Nitrux-like: the tmpfs at /media/root-rw holds the upper layer; /var/lib is its own mount
   * (a mount point with an escaped space too) */
  vxm_test_write_file(root, "proc/self/mountinfo",
                      "22 1 8:2 / /media/root-ro ro,relatime - ext4 /dev/sda2 ro\n"
                      "23 1 0:22 / /media/root-rw rw,relatime - tmpfs tmpfs-root rw,size=8G\n"
                      "24 1 0:23 / / rw,relatime - overlay overlayroot rw,lowerdir=/media/root-ro,"
                      "upperdir=/media/root-rw/overlay,workdir=/media/root-rw/overlay-workdir/_\n"
                      "30 24 8:3 / /var/lib rw,relatime shared:5 - ext4 /dev/sda3 rw\n"
                      "31 24 8:4 / /mnt/my\\040disk rw,relatime - ext4 /dev/sda4 rw\n");
  vxm_host_system_get_root_kind(fs, &kind);
  g_assert_true(kind.overlay);
  g_assert_true(kind.volatile_);
  g_assert_cmpstr(kind.upper_fs, ==, "tmpfs");
  g_assert_cmpstr(kind.lowerdir, ==, "/media/root-ro");
  g_assert_true(vxm_host_system_change_is_volatile(fs, "/etc/modprobe.d/kvmfr.conf"));
  g_assert_true(vxm_host_system_change_is_volatile(fs, "/usr/lib/x"));
  g_assert_true(vxm_host_system_change_is_volatile(fs, "/boot/grub/grub.cfg"));
  g_assert_true(vxm_host_system_change_is_volatile(fs, "/var/libx"));
  g_assert_false(vxm_host_system_change_is_volatile(fs, "/var/lib/vxm/state"));
  g_assert_false(vxm_host_system_change_is_volatile(fs, "/mnt/my disk/x"));
  g_assert_cmpstr(vxm_host_system_change_kind(fs, "/etc/vxm/vxmd.conf"), ==, "until reboot");
  steps = vxm_host_system_lasting_steps(fs, "edit /etc/default/grub and run update-grub");
  g_assert_cmpstr(steps, ==,
                  "sudo overlayroot-chroot (this root is an overlay on tmpfs that the next boot "
                  "discards; it opens the lasting layer, /media/root-ro, read-write and logs to "
                  "/var/log/overlayroot-audit.log), edit /etc/default/grub and run update-grub "
                  "there, then exit (read-only again)");
  vxm_host_root_kind_clear(&kind);

  /* the upper layer on a disk: lasting */
  vxm_test_write_file(root, "proc/self/mountinfo",
                      "23 1 8:3 / /persist rw - ext4 /dev/sda3 rw\n"
                      "24 1 0:23 / / rw - overlay overlay rw,lowerdir=/ro,upperdir=/persist/up,"
                      "workdir=/persist/work\n");
  vxm_host_system_get_root_kind(fs, &kind);
  g_assert_true(kind.overlay);
  g_assert_false(kind.volatile_);
  g_assert_false(vxm_host_system_change_is_volatile(fs, "/etc/x"));
  vxm_host_root_kind_clear(&kind);

  /* an overlay whose upper layer is nowhere to be seen: not shown to last */
  vxm_test_write_file(
      root, "proc/self/mountinfo",
      "24 1 0:23 / / rw - overlay overlay rw,lowerdir=/ro,upperdir=/up,workdir=/w\n");
  g_assert_true(vxm_host_system_change_is_volatile(fs, "/etc/x"));

  /* a plain root, with a tmpfs elsewhere: lasting */
  vxm_test_write_file(root, "proc/self/mountinfo",
                      "20 1 8:2 / / rw,relatime - ext4 /dev/sda2 rw\n"
                      "21 20 0:5 / /tmp rw - tmpfs tmpfs rw\n");
  vxm_host_system_get_root_kind(fs, &kind);
  g_assert_false(kind.overlay);
  g_assert_false(vxm_host_system_change_is_volatile(fs, "/etc/x"));
  vxm_test_rm_rf(root);
}

/* A pidfd's process: alive while it runs, ESRCH once it has exited. */
static void
test_pidfd_is_alive(void)
{
  pid_t child = fork();
  int pidfd;

  if (child == 0) {
    pause();
    _exit(0);
  }
  g_assert_cmpint(child, >, 0);
  pidfd = (int)syscall(SYS_pidfd_open, child, 0);
  g_assert_cmpint(pidfd, >=, 0);
  g_assert_true(vxm_pidfd_is_alive(pidfd));
  g_assert_cmpint(kill(child, SIGKILL), ==, 0);
  g_assert_cmpint(waitpid(child, NULL, 0), ==, child);
  errno = 0;
  g_assert_false(vxm_pidfd_is_alive(pidfd));
  g_assert_cmpint(errno, ==, ESRCH);
  close(pidfd);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/hostfs/maps-paths", test_hostfs_maps_paths);
  g_test_add_func("/vxm/hostfs/attrs", test_hostfs_attrs);
  g_test_add_func("/vxm/hostfs/cli-root", test_hostfs_cli_root);
  g_test_add_func("/vxm/util/parse-numbers", test_parse_numbers);
  g_test_add_func("/vxm/util/parse-size", test_parse_size);
  g_test_add_func("/vxm/util/replace-atomic-nosync", test_replace_atomic_nosync);
  g_test_add_func("/vxm/util/atomic-replace", test_atomic_replace);
  g_test_add_func("/vxm/util/format-bytes", test_format_bytes);
  g_test_add_func("/vxm/memory/meminfo", test_meminfo);
  g_test_add_func("/vxm/util/pidfd-is-alive", test_pidfd_is_alive);
  g_test_add_func("/vxm/host-system/init", test_host_system_init);
  g_test_add_func("/vxm/host-system/overlay-root", test_host_system_overlay_root);
  return g_test_run();
}
