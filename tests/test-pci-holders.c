#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/syscall.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "pci/vxm-pci-holders.h"
#include "pci/vxm-sysfs-writer.h"
#include "vxmd/vxm-vxmd-caps.h"
#include "vxm-test-util.h"

static void
make_gpu(const char *root, const char *bdf, const char *vendor, const char *card,
         const char *render)
{
  g_autofree char *dev = g_strdup_printf("sys/devices/pci0000:00/0000:00:01.0/%s", bdf);
  g_autofree char *link = g_strdup_printf("sys/bus/pci/devices/%s", bdf);
  g_autofree char *target = g_strdup_printf("../../../devices/pci0000:00/0000:00:01.0/%s", bdf);
  g_autofree char *vendor_file = g_strdup_printf("%s/vendor", dev);
  g_autofree char *card_dir = g_strdup_printf("%s/drm/%s", dev, card);
  g_autofree char *render_dir = g_strdup_printf("%s/drm/%s", dev, render);

  vxm_test_write_file(root, vendor_file, vendor);
  vxm_test_write_file(root, card_dir, NULL);
  vxm_test_write_file(root, render_dir, NULL);
  vxm_test_symlink(root, link, target);
}

static void
make_process(const char *root, int pid, const char *comm, const char *const *fds)
{
  g_autofree char *comm_file = g_strdup_printf("proc/%d/comm", pid);
  g_autofree char *comm_text = g_strdup_printf("%s\n", comm);

  vxm_test_write_file(root, comm_file, comm_text);
  for (int i = 0; fds[i] != NULL; i++) {
    g_autofree char *fd = g_strdup_printf("proc/%d/fd/%d", pid, i);
    vxm_test_symlink(root, fd, fds[i]);
  }
}

/* Narrows this process's effective and permitted capabilities to @caps (no libcap: two
 * syscalls). */
static gboolean
keep_capabilities(guint64 caps)
{
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
  struct __user_cap_data_struct data[2];

  /* only those this process has: this sandbox's root lacks CAP_SYS_RESOURCE */
  if (syscall(SYS_capget, &header, data) != 0)
    return FALSE;
  data[0].effective = data[0].permitted &= (guint32)caps;
  data[1].effective = data[1].permitted &= (guint32)(caps >> 32);
  data[0].inheritable = data[1].inheritable = 0;
  return syscall(SYS_capset, &header, data) == 0;
}

/* The capabilities data/systemd/vxmd.service leaves vxmd (CapabilityBoundingSet). */
static guint64
unit_capabilities(void)
{
  static const struct {
    const char *name;
    int cap;
  } known[] = {{"CAP_CHOWN", CAP_CHOWN},
               {"CAP_DAC_OVERRIDE", CAP_DAC_OVERRIDE},
               {"CAP_DAC_READ_SEARCH", CAP_DAC_READ_SEARCH},
               {"CAP_FOWNER", CAP_FOWNER},
               {"CAP_SYS_PTRACE", CAP_SYS_PTRACE},
               {"CAP_SYS_ADMIN", CAP_SYS_ADMIN},
               {"CAP_SYS_RESOURCE", CAP_SYS_RESOURCE},
               {"CAP_SYS_MODULE", CAP_SYS_MODULE}};
  g_autofree char *path = vxm_test_source_path("data/systemd/vxmd.service");
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint64 caps = 0;

  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    g_auto(GStrv) names = NULL;

    if (!g_str_has_prefix(lines[i], "CapabilityBoundingSet="))
      continue;
    names = g_strsplit(lines[i] + strlen("CapabilityBoundingSet="), " ", -1);
    for (guint k = 0; names[k] != NULL; k++) {
      guint j;

      for (j = 0; j < G_N_ELEMENTS(known) && g_strcmp0(known[j].name, names[k]) != 0; j++)
        ;
      if (j == G_N_ELEMENTS(known))
        g_error("vxmd.service names %s, which this test does not know", names[k]);
      caps |= G_GUINT64_CONSTANT(1) << known[j].cap;
    }
  }
  g_assert_cmpuint(caps, !=, 0);
  return caps;
}

/* Scans @root for holders of 0000:01:00.0 in a child with only @caps; its count of processes
 * whose open files could not be read. */
static guint
unreadable_with(const char *root, guint64 caps)
{
  pid_t scanner = fork();
  int status = 0;

  if (scanner == 0) {
    g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
    g_autoptr(GPtrArray) holders = NULL;
    guint unreadable = 0;

    if (!keep_capabilities(caps))
      _exit(255);
    holders = vxm_pci_holders_scan(fs, "0000:01:00.0", &unreadable, NULL);
    _exit(holders == NULL ? 254 : (int)MIN(unreadable, 200u));
  }
  g_assert_cmpint(waitpid(scanner, &status, 0), ==, scanner);
  g_assert_true(WIFEXITED(status));
  g_assert_cmpint(WEXITSTATUS(status), <, 254);
  return (guint)WEXITSTATUS(status);
}

/* In a child with only @caps: writes /proc/sys/vm/compact_memory and drop_caches (1: the page
 * cache, which only costs rereads), as vxmd does, and opens the 2 MiB pool's nr_hugepages for
 * writing (its handler checks no capability, only the open's permission; a write could race
 * another test's reservation); "ok" or the first path that failed. */
static char *
vm_writes_with(guint64 caps)
{
  static const char *const paths[] = {"/proc/sys/vm/compact_memory", "/proc/sys/vm/drop_caches",
                                      "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"};
  int pipe_fds[2];
  pid_t child;
  char buf[256] = "";
  ssize_t n;

  g_assert_cmpint(pipe(pipe_fds), ==, 0);
  child = fork();
  if (child == 0) {
    const char *result = "ok";

    close(pipe_fds[0]);
    if (!keep_capabilities(caps))
      result = "cannot narrow the capabilities";
    for (gsize i = 0; i < G_N_ELEMENTS(paths) && g_str_equal(result, "ok"); i++) {
      int fd = open(paths[i], O_WRONLY | O_CLOEXEC);

      if (fd < 0 && errno == ENOENT && i == 2)
        break; /* no 2 MiB pages on this kernel */
      if (fd < 0 || (i < 2 && write(fd, "1\n", 2) != 2))
        result = paths[i];
      if (fd >= 0)
        close(fd);
    }
    if (write(pipe_fds[1], result, strlen(result)) < 0)
      _exit(1);
    _exit(0);
  }
  close(pipe_fds[1]);
  n = read(pipe_fds[0], buf, sizeof buf - 1);
  close(pipe_fds[0]);
  g_assert_cmpint(waitpid(child, NULL, 0), ==, child);
  return g_strndup(buf, n > 0 ? (gsize)n : 0);
}

/* On the real /proc, with another user's process running. Without CAP_SYS_PTRACE another
 * user's /proc/PID/fd lists (CAP_DAC_OVERRIDE) but its links cannot be read: that process
 * must count as unreadable (the detach then refuses), never as holding nothing, since an
 * NVIDIA unbind under a holder vxm did not see hangs for good. With the capabilities
 * vxmd.service gives vxmd, vxmd reads every process root can. */
static void
test_holders_real_proc(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autofree char *proc = g_build_filename(root, "proc", NULL);
  guint64 unit = 0;
  guint all;
  pid_t other;

  if (!vxm_test_require_root())
    return;
  unit = unit_capabilities();
  make_gpu(root, "0000:01:00.0", "0x10de\n", "card1", "renderD129");
  g_assert_cmpint(symlink("/proc", proc), ==, 0);
  other = fork();
  if (other == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0)
      _exit(120);
    char *const sleep_argv[] = {"/bin/sleep", "60", NULL};

    execv(sleep_argv[0], sleep_argv);
    _exit(127);
  }
  g_assert_cmpint(other, >, 0);
  g_usleep(200 * 1000); /* its exec, so its fds are its own */
  /* root with every capability it has is the reference: a process more privileged than this
   * one (this sandbox's PID 1) stays unreadable to root too */
  all = unreadable_with(root, G_MAXUINT64);
  g_assert_cmpuint(unreadable_with(root, unit & ~(G_GUINT64_CONSTANT(1) << CAP_SYS_PTRACE)), >,
                   all);
  /* the fd folder, mode 0500, is the other user's: listing it takes CAP_DAC_READ_SEARCH */
  g_assert_cmpuint(unreadable_with(root, unit & ~(G_GUINT64_CONSTANT(1) << CAP_DAC_READ_SEARCH)), >,
                   all);
  g_assert_cmpuint(unreadable_with(root, unit), ==, all);
  /* and the memory writes vxmd makes need no capability the unit lacks (CAP_SYS_ADMIN,
   * CAP_DAC_OVERRIDE): on this machine's real kernel, the pool written with its own count */
  {
    g_autofree char *writes = vm_writes_with(unit);

    g_assert_cmpstr(writes, ==, "ok");
  }
  kill(other, SIGKILL);
  waitpid(other, NULL, 0);
  vxm_test_rm_rf(root);
}

static void
test_holders_found(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) nvidia = NULL;
  g_autoptr(GPtrArray) amd = NULL;
  g_autofree char *text = NULL;
  g_autofree char *advice = NULL;
  guint unreadable = 99;

  make_gpu(root, "0000:01:00.0", "0x10de\n", "card1", "renderD129");
  make_gpu(root, "0000:03:00.0", "0x1002\n", "card2", "renderD130");
  make_gpu(root, "0000:00:02.0", "0x8086\n", "card0", "renderD128");
  make_process(root, 100, "Xorg",
               (const char *[]){"/dev/null", "/dev/dri/card1", "/dev/dri/renderD129", NULL});
  make_process(root, 200, "nvidia-persiste",
               (const char *[]){"/dev/nvidiactl", "/dev/nvidia0", NULL});
  make_process(root, 300, "bash", (const char *[]){"/dev/pts/0", "/dev/dri/card0", NULL});
  make_process(root, 400, "blender", (const char *[]){"/dev/dri/renderD130", NULL});
  /* a process that exits between the listing and the fd scan: no fd folder */
  vxm_test_write_file(root, "proc/500/comm", "gone\n");
  vxm_test_write_file(root, "proc/self-ish", "");

  nvidia = vxm_pci_holders_scan(fs, "0000:01:00.0", &unreadable, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(unreadable, ==, 0);
  text = vxm_pci_holders_describe(nvidia);
  g_assert_cmpstr(text, ==,
                  "100 (Xorg: /dev/dri/card1, /dev/dri/renderD129), "
                  "200 (nvidia-persiste: /dev/nvidia0, /dev/nvidiactl)");
  /* neither init running nor installed: both commands */
  advice = vxm_pci_holders_advice(fs, "0000:01:00.0", nvidia);
  g_assert_nonnull(strstr(advice, "sudo systemctl stop nvidia-persistenced (systemd) or sudo "
                                  "rc-service nvidia-persistenced stop (OpenRC)"));

  /* /dev/nvidia* does not hold an AMD card */
  amd = vxm_pci_holders_scan(fs, "0000:03:00.0", NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(amd->len, ==, 1);
  g_assert_cmpint(((VxmPciHolder *)g_ptr_array_index(amd, 0))->pid, ==, 400);
  g_assert_cmpstr(((VxmPciHolder *)g_ptr_array_index(amd, 0))->comm, ==, "blender");
  vxm_test_rm_rf(root);
}

/* A host tree with an Intel iGPU (boot VGA, card0), an NVIDIA guest GPU (card1) and @init
 * running ("openrc" or "systemd"). */
static char *
advice_host(const char *init)
{
  char *root = vxm_test_mkdtemp();

  make_gpu(root, "0000:01:00.0", "0x10de\n", "card1", "renderD129");
  make_gpu(root, "0000:00:02.0", "0x8086\n", "card0", "renderD128");
  vxm_test_write_file(root, "sys/devices/pci0000:00/0000:00:01.0/0000:00:02.0/boot_vga", "1\n");
  if (g_strcmp0(init, "openrc") == 0)
    vxm_test_write_file(root, "run/openrc/softlevel", "default\n");
  else
    vxm_test_write_file(root, "run/systemd/system/.keep", "");
  return root;
}

static char *
advice_for_holders(const char *root)
{
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) holders = vxm_pci_holders_scan(fs, "0000:01:00.0", NULL, &error);

  g_assert_no_error(error);
  g_assert_cmpuint(holders->len, >, 0);
  return vxm_pci_holders_advice(fs, "0000:01:00.0", holders);
}

/* The services' commands are the running init's: an OpenRC user is never told systemctl. */
static void
test_advice_init(void)
{
  const char *inits[] = {"openrc", "systemd"};

  for (guint i = 0; i < G_N_ELEMENTS(inits); i++) {
    g_autofree char *root = advice_host(inits[i]);
    g_autofree char *advice = NULL;

    make_process(root, 200, "nvidia-persiste", (const char *[]){"/dev/nvidia0", NULL});
    advice = advice_for_holders(root);
    if (i == 0) {
      g_assert_cmpstr(advice, ==,
                      "stop nvidia-persistenced: sudo rc-service nvidia-persistenced stop");
    } else {
      g_assert_cmpstr(advice, ==,
                      "stop nvidia-persistenced: sudo systemctl stop nvidia-persistenced");
    }
    vxm_test_rm_rf(root);
  }
}

/* Hyprland (aquamarine) holding the guest card: AQ_DRM_DEVICES with the host's own card. */
static void
test_advice_hyprland(void)
{
  g_autofree char *root = advice_host("openrc");
  g_autofree char *advice = NULL;

  make_process(root, 700, "Hyprland", (const char *[]){"/dev/dri/card1", "/dev/dri/card0", NULL});
  vxm_test_write_file(root, "proc/700/status", "Name:\tHyprland\nPPid:\t650\n");
  vxm_test_write_file(root, "proc/650/comm", "bash\n");
  vxm_test_write_file(root, "proc/650/status", "Name:\tbash\nPPid:\t1\n");
  advice = advice_for_holders(root);
  g_assert_cmpstr(advice, ==,
                  "Hyprland uses this card: add `env = AQ_DRM_DEVICES,/dev/dri/card0` to "
                  "~/.config/hypr/hyprland.conf and log in again (AQ_DRM_DEVICES keeps it on the "
                  "host GPU)");
  vxm_test_rm_rf(root);
}

/* The greeter's compositor under greetd, and SDDM's greeter: named, with their restart. */
static void
test_advice_display_managers(void)
{
  g_autofree char *root = advice_host("openrc");
  g_autofree char *advice = NULL;
  g_autofree char *root2 = advice_host("systemd");
  g_autofree char *advice2 = NULL;

  make_process(root, 600, "Hyprland", (const char *[]){"/dev/dri/card1", NULL});
  vxm_test_write_file(root, "proc/600/status",
                      "Name:\tHyprland\nUmask:\t0022\nPPid:\t550\nUid:\t110\t110\t110\t110\n");
  vxm_test_write_file(root, "proc/550/comm", "greetd\n");
  vxm_test_write_file(root, "proc/550/status", "Name:\tgreetd\nPPid:\t1\n");
  advice = advice_for_holders(root);
  g_assert_cmpstr(advice, ==,
                  "greetd's greeter runs Hyprland on this card: put "
                  "AQ_DRM_DEVICES=/dev/dri/card0 before the greeter's command in "
                  "/etc/greetd/config.toml (command = \"env AQ_DRM_DEVICES=/dev/dri/card0 ...\"), "
                  "then sudo rc-service greetd restart");

  /* the user's own session under greetd (the user's uid): the compositor's advice */
  make_process(root, 610, "Hyprland", (const char *[]){"/dev/dri/card1", NULL});
  vxm_test_write_file(root, "proc/610/status",
                      "Name:\tHyprland\nPPid:\t560\nUid:\t1000\t1000\t1000\t1000\n");
  vxm_test_write_file(root, "proc/560/comm", "greetd\n");
  vxm_test_write_file(root, "proc/560/status", "Name:\tgreetd\nPPid:\t1\n");
  g_clear_pointer(&advice, g_free);
  advice = advice_for_holders(root);
  g_assert_nonnull(strstr(advice,
                          "; Hyprland uses this card: add `env = "
                          "AQ_DRM_DEVICES,/dev/dri/card0` to ~/.config/hypr/hyprland.conf"));

  make_process(root2, 800, "sddm-greeter-qt", (const char *[]){"/dev/dri/renderD129", NULL});
  vxm_test_write_file(root2, "proc/800/status", "Name:\tsddm-greeter-qt\nPPid:\t790\n");
  vxm_test_write_file(root2, "proc/790/comm", "sddm-helper\n");
  vxm_test_write_file(root2, "proc/790/status", "Name:\tsddm-helper\nPPid:\t780\n");
  vxm_test_write_file(root2, "proc/780/comm", "sddm\n");
  make_process(root2, 801, "firefox", (const char *[]){"/dev/dri/renderD129", NULL});
  advice2 = advice_for_holders(root2);
  g_assert_cmpstr(advice2, ==,
                  "SDDM's greeter uses this card (sddm-greeter-qt): limit it to the host GPU "
                  "(Wayland greeter: KWIN_DRM_DEVICES=/dev/dri/card0 in the CompositorCommand of "
                  "[Wayland] in /etc/sddm.conf.d/; X11: the Xorg config's BusID), then sudo "
                  "systemctl restart sddm; close the programs above (or kill PID) and try again");
  vxm_test_rm_rf(root);
  vxm_test_rm_rf(root2);
}

/* vxmd narrows itself to vxmd.service's CapabilityBoundingSet (OpenRC cannot do it for it):
 * in a child, the bounding set after the call is the unit's set (as far as this process had
 * it), effective and permitted hold nothing else, and no_new_privs is set. */
static void
test_vxmd_limits_capabilities(void)
{
  pid_t child;
  int status = 0;

  if (geteuid() != 0) {
    g_test_skip("needs root (CAP_SETPCAP to drop from the bounding set)");
    return;
  }
  g_assert_cmpuint(vxm_vxmd_capabilities(), ==, unit_capabilities());
  child = fork();
  if (child == 0) {
    g_autofree char *text = NULL;
    guint64 bnd = 0, eff = 0, prm = 0, nnp = 0;
    guint64 unit = unit_capabilities();
    const char *p;

    if (!vxm_vxmd_limit_capabilities(NULL))
      _exit(10);
    if (!g_file_get_contents("/proc/self/status", &text, NULL, NULL))
      _exit(11);
    if ((p = strstr(text, "\nCapBnd:\t")) == NULL || !(bnd = g_ascii_strtoull(p + 9, NULL, 16)))
      _exit(12);
    if ((p = strstr(text, "\nCapEff:\t")) != NULL)
      eff = g_ascii_strtoull(p + 9, NULL, 16);
    if ((p = strstr(text, "\nCapPrm:\t")) != NULL)
      prm = g_ascii_strtoull(p + 9, NULL, 16);
    if ((p = strstr(text, "\nNoNewPrivs:\t")) != NULL)
      nnp = g_ascii_strtoull(p + 13, NULL, 10);
    /* this sandbox's root may lack some (CAP_SYS_RESOURCE): never more than the unit's */
    if ((bnd & ~unit) != 0 || (eff & ~unit) != 0 || (prm & ~unit) != 0)
      _exit(13);
    if ((bnd & (G_GUINT64_CONSTANT(1) << CAP_DAC_READ_SEARCH)) == 0 || nnp != 1)
      _exit(14);
    _exit(0);
  }
  g_assert_cmpint(waitpid(child, &status, 0), ==, child);
  g_assert_true(WIFEXITED(status));
  g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

static void
test_holders_missing_device(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) holders = vxm_pci_holders_scan(fs, "0000:09:00.0", NULL, &error);

  g_assert_null(holders);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "0000:09:00.0"));
  vxm_test_rm_rf(root);
}

static void
test_writer_ok_and_errno(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *path = g_build_filename(root, "sys/attr", NULL);

  vxm_test_write_file(root, "sys/attr", "");
  g_assert_true(vxm_sysfs_write_timeout(fs, "/sys/attr", "vfio-pci", 1000, &error));
  g_assert_no_error(error);
  g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
  g_assert_cmpstr(contents, ==, "vfio-pci");

  /* the child's errno is the error, naming the host path */
  g_assert_false(vxm_sysfs_write_timeout(fs, "/sys/missing/unbind", "0000:01:00.0", 1000, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "/sys/missing/unbind"));
  g_assert_null(strstr(error->message, root));
  vxm_test_rm_rf(root);
}

static void
test_writer_hang(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;
  g_autofree char *fifo = g_build_filename(root, "unbind", NULL);
  char buf[64] = {0};
  int fd, status;
  ssize_t n;

  /* opening a FIFO for writing blocks until a reader comes: a write that hangs */
  g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
  g_assert_false(vxm_sysfs_write_timeout(fs, "/unbind", "0000:01:00.0", 300, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_TIMEOUT);
  g_assert_cmpstr(error->message, ==, "writing '0000:01:00.0' to /unbind did not finish in 300 ms");
  g_assert_cmpuint(vxm_sysfs_writer_reap(), ==, 1);

  /* the stuck write completes later and its child is reaped, not left a zombie */
  fd = open(fifo, O_RDONLY);
  g_assert_cmpint(fd, >=, 0);
  n = read(fd, buf, sizeof buf - 1);
  g_assert_cmpint(n, ==, strlen("0000:01:00.0"));
  close(fd);
  for (int i = 0; i < 5000 && vxm_sysfs_writer_reap() > 0; i++)
    g_usleep(1000);
  g_assert_cmpuint(vxm_sysfs_writer_reap(), ==, 0);
  g_assert_cmpint(waitpid(-1, &status, WNOHANG), ==, -1);
  g_assert_cmpint(errno, ==, ECHILD);
  vxm_test_rm_rf(root);
}

/* Who holds an IOMMU group's /dev/vfio/N: only that group's node counts (not another group's,
 * not the container /dev/vfio/vfio), and the busy report names the first holder. */
static void
test_holders_vfio_group(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) holders = NULL;
  g_autofree char *who = NULL;
  g_autofree char *busy = NULL;
  g_autofree char *unknown = NULL;
  guint unreadable = 99;

  make_process(root, 4321, "qemu-system-x86",
               (const char *const[]){"/dev/null", "/dev/vfio/vfio", "/dev/vfio/5", NULL});
  make_process(root, 77, "qemu-system-x86", (const char *const[]){"/dev/vfio/50", NULL});
  make_process(root, 88, "other", (const char *const[]){"/dev/vfio/vfio", NULL});
  holders = vxm_pci_holders_scan_vfio_group(fs, 5, &unreadable, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(holders->len, ==, 1);
  g_assert_cmpuint(unreadable, ==, 0);
  who = vxm_pci_holders_describe(holders);
  g_assert_cmpstr(who, ==, "4321 (qemu-system-x86: /dev/vfio/5)");
  busy = vxm_pci_holders_describe_busy(fs, "0000:01:00.0", 5);
  g_assert_true(g_str_has_prefix(busy, "0000:01:00.0 is busy in the kernel: an unbind is waiting "
                                       "for process 4321 (qemu-system-x86, holding /dev/vfio/5)"));
  unknown = vxm_pci_holders_describe_busy(fs, "0000:02:00.0", 7);
  g_assert_true(g_str_has_prefix(unknown, "0000:02:00.0 is busy in the kernel: a driver's unbind "
                                          "or probe of it has not finished"));
  vxm_test_rm_rf(root);
}

/* A read that blocks (a FIFO with no writer stands for driver_override under a pending
 * unbind) returns at its time limit; the same path then fails at once while the first read is
 * still blocked; other reads go on through a new reader; once the blocked read ends, the path
 * reads again. */
static void
test_reader_blocked(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;
  g_autofree char *fifo = g_build_filename(root, "driver_override", NULL);
  g_autofree char *text = NULL;
  gint64 start;
  int fd;

  vxm_test_write_file(root, "vendor", "0x10de\n");
  text = vxm_sysfs_read_timeout(fs, "/vendor", 1000, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(text, ==, "0x10de\n");
  g_clear_pointer(&text, g_free);
  text = vxm_sysfs_read_timeout(fs, "/missing", 1000, &error);
  g_assert_null(text);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_clear_error(&error);

  g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
  start = g_get_monotonic_time();
  text = vxm_sysfs_read_timeout(fs, "/driver_override", 300, &error);
  g_assert_null(text);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_TIMEOUT);
  g_assert_cmpstr(error->message, ==, "reading /driver_override did not finish in 300 ms");
  g_assert_cmpint(g_get_monotonic_time() - start, >=, 300 * G_TIME_SPAN_MILLISECOND);
  g_clear_error(&error);
  /* once is enough: the next read of it does not wait again */
  start = g_get_monotonic_time();
  g_assert_null(vxm_sysfs_read_timeout(fs, "/driver_override", 300, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_TIMEOUT);
  g_assert_nonnull(strstr(error->message, "still blocked"));
  g_assert_cmpint(g_get_monotonic_time() - start, <, 250 * G_TIME_SPAN_MILLISECOND);
  g_clear_error(&error);
  /* the rest still reads, through a new reader */
  text = vxm_sysfs_read_timeout(fs, "/vendor", 1000, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(text, ==, "0x10de\n");
  g_clear_pointer(&text, g_free);

  /* the blocked read ends (a writer comes and goes): the path can be read again */
  fd = open(fifo, O_WRONLY | O_CLOEXEC);
  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(write(fd, "(null)\n", 7), ==, 7);
  close(fd);
  for (int i = 0; i < 5000 && vxm_sysfs_writer_reap() > 0; i++)
    g_usleep(1000);
  g_assert_cmpuint(vxm_sysfs_writer_reap(), ==, 0);
  g_assert_null(vxm_sysfs_read_timeout(fs, "/driver_override", 300, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_TIMEOUT);
  g_assert_cmpstr(error->message, ==, "reading /driver_override did not finish in 300 ms");
  g_clear_error(&error);
  fd = open(fifo, O_WRONLY | O_CLOEXEC);
  close(fd);
  vxm_test_rm_rf(root);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/pci/holders/found", test_holders_found);
  g_test_add_func("/vxm/pci/holders/missing-device", test_holders_missing_device);
  g_test_add_func("/vxm/pci/holders/advice/init-commands", test_advice_init);
  g_test_add_func("/vxm/pci/holders/advice/hyprland", test_advice_hyprland);
  g_test_add_func("/vxm/pci/holders/advice/greetd-sddm", test_advice_display_managers);
  g_test_add_func("/vxm/vxmd/capabilities/limited-like-the-unit", test_vxmd_limits_capabilities);
  g_test_add_func("/vxm/pci/holders/real-proc-unit-capabilities", test_holders_real_proc);
  g_test_add_func("/vxm/pci/sysfs-writer/ok-and-errno", test_writer_ok_and_errno);
  g_test_add_func("/vxm/pci/sysfs-writer/hang-then-reaped", test_writer_hang);
  g_test_add_func("/vxm/pci/holders/vfio-group", test_holders_vfio_group);
  /* last: it leaves its reader process running, which hang-then-reaped would count */
  g_test_add_func("/vxm/pci/sysfs-reader/blocked-read-time-limited", test_reader_blocked);
  return g_test_run();
}
