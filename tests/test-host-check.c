#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checks/vxm-check-vxmd.h"
#include "checks/vxm-check.h"
#include "vxm-simhost-fixture.h"
#include "vxm-test-sysfs.h"
#include "vxm-test-util.h"

typedef struct {
  char *root;
  VxmHostfs *fs;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
  f->root = vxm_test_mkdtemp();
  vxm_test_machine_build(f->root, GPOINTER_TO_INT(data));
  f->fs = vxm_hostfs_new(f->root);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
  g_clear_object(&f->fs);
  vxm_test_rm_rf(f->root);
  g_free(f->root);
}

/* Runs the one check @id (with @guest configured) and returns its result. */
static VxmCheckResult *
run_one(Fixture *f, const char *id, const char *guest)
{
  g_autoptr(VxmCheckContext) ctx = vxm_check_context_new(f->fs, guest);
  const char *only[] = {id, NULL};
  g_autoptr(GPtrArray) results = vxm_check_run(ctx, only);
  VxmCheckResult *r;

  g_assert_cmpuint(results->len, ==, 1);
  r = g_ptr_array_steal_index(results, 0);
  g_assert_cmpstr(r->id, ==, id);
  return r;
}

static void
test_registry_order(void)
{
  gsize n = 0;
  const VxmCheckDef *defs = vxm_check_get_registry(&n);
  static const char *const ids[] = {"iommu",    "kvm",         "ignore-msrs", "gpus",   "guest-gpu",
                                    "reset",    "framebuffer", "holders",     "bars",   "d3cold",
                                    "firmware", "qemu",        "swtpm",       "memory", "monitor",
                                    "inputs",   "vxmd"};

  g_assert_cmpuint(n, ==, G_N_ELEMENTS(ids));
  for (gsize i = 0; i < n; i++)
    g_assert_cmpstr(defs[i].id, ==, ids[i]);
}

static void
test_good_machine_passes(Fixture *f, gconstpointer data)
{
  static const char *const only[] = {"iommu", "kvm",         "ignore-msrs", "gpus", "guest-gpu",
                                     "reset", "framebuffer", "holders",     "bars", "firmware",
                                     "qemu",  "swtpm",       "memory",      NULL};
  g_autoptr(VxmCheckContext) ctx = NULL;
  g_autoptr(GPtrArray) results = NULL;

  /* the addresses as root reads them, no boot framebuffer on the guest GPU (without the file
   * the framebuffer check cannot run: not a pass) */
  vxm_test_write_file(f->root, "proc/iomem",
                      "00000000-00000fff : Reserved\nc0000000-c07e8fff : efifb\n");
  ctx = vxm_check_context_new(f->fs, NULL);
  /* every check of the host's hardware and software but the monitor's (a machine without a
   * monitor warns; test-display has its tests), the inputs' (test-input-simhost) and vxmd's
   * (below) */
  results = vxm_check_run(ctx, only);

  g_assert_cmpuint(results->len, ==, G_N_ELEMENTS(only) - 1);
  for (guint i = 0; i < results->len; i++) {
    VxmCheckResult *r = g_ptr_array_index(results, i);

    if (r->status != VXM_CHECK_STATUS_OK)
      g_error("%s: %s", r->id, r->message);
    g_assert_null(r->fix);
  }
  g_assert_true(vxm_check_results_passed(results));
}

static void
test_iommu_hints_intel(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) r = NULL;
  g_autoptr(VxmCheckResult) already = NULL;
  g_autoptr(VxmCheckResult) disabled = NULL;
  g_autoptr(VxmCheckResult) overlay = NULL;

  vxm_test_write_file(f->root, "etc/default/grub", "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n");
  r = run_one(f, "iommu", NULL);
  g_assert_cmpint(r->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_nonnull(strstr(r->message, "IOMMU is off"));
  g_assert_nonnull(strstr(r->fix, "intel_iommu=on"));
  g_assert_nonnull(strstr(r->fix, "GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub"));
  g_assert_nonnull(strstr(r->fix, "update-grub"));
  g_assert_nonnull(strstr(r->fix, "reboot"));
  g_assert_null(strstr(r->fix, "amd_iommu"));

  /* already on the command line: the firmware is what is left */
  vxm_test_host_add_cmdline(f->root, "BOOT_IMAGE=/vmlinuz ro intel_iommu=on");
  already = run_one(f, "iommu", NULL);
  g_assert_cmpint(already->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_nonnull(strstr(already->fix, "already has intel_iommu=on"));
  g_assert_nonnull(strstr(already->fix, "VT-d"));

  /* turned off by a parameter: say which one to remove */
  vxm_test_host_add_cmdline(f->root, "BOOT_IMAGE=/vmlinuz ro iommu=off");
  disabled = run_one(f, "iommu", NULL);
  g_assert_nonnull(strstr(disabled->message, "iommu=off"));
  g_assert_nonnull(strstr(disabled->fix, "remove it"));

  /* an immutable root (overlay on tmpfs): the edit goes into the lasting layer */
  vxm_test_host_add_cmdline(f->root, "BOOT_IMAGE=/vmlinuz ro quiet");
  vxm_test_write_file(f->root, "proc/self/mountinfo",
                      "22 1 8:2 / /media/root-ro ro - ext4 /dev/sda2 ro\n"
                      "23 1 0:22 / /media/root-rw rw - tmpfs tmpfs-root rw\n"
                      "24 1 0:23 / / rw - overlay overlayroot rw,lowerdir=/media/root-ro,"
                      "upperdir=/media/root-rw/overlay,workdir=/media/root-rw/w\n");
  overlay = run_one(f, "iommu", NULL);
  g_assert_cmpint(overlay->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_cmpstr(overlay->fix, ==,
                  "turn on VT-d in the firmware setup, then sudo overlayroot-chroot (this root is "
                  "an overlay on tmpfs that the next boot discards; it opens the lasting layer, "
                  "/media/root-ro, read-write and logs to /var/log/overlayroot-audit.log), add "
                  "intel_iommu=on iommu=pt to /etc/default/grub and update the boot entries "
                  "(update-grub) there, then exit (read-only again), then reboot (an edit of "
                  "/etc/default/grub in the running system is lost at that reboot)");
}

static void
test_iommu_hints_amd(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) r = NULL;

  vxm_test_host_add_cpuinfo(f->root, "AuthenticAMD");
  r = run_one(f, "iommu", NULL);
  g_assert_cmpint(r->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_nonnull(strstr(r->fix, "amd_iommu=on"));
  g_assert_nonnull(strstr(r->fix, "on AMD the kernel turns the IOMMU on by itself"));
  g_assert_null(strstr(r->fix, "intel_iommu"));
}

static void
test_kvm(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) ok = run_one(f, "kvm", NULL);
  g_autoptr(VxmCheckResult) missing = NULL;

  g_assert_cmpint(ok->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_null(ok->fix);
  {
    g_autofree char *kvm = g_build_filename(f->root, "dev/kvm", NULL);
    g_assert_cmpint(unlink(kvm), ==, 0);
  }
  missing = run_one(f, "kvm", NULL);
  g_assert_cmpint(missing->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_nonnull(strstr(missing->message, "/dev/kvm is missing"));
  g_assert_nonnull(strstr(missing->fix, "modprobe kvm_intel"));
  g_assert_nonnull(strstr(missing->fix, "VT-x"));
}

static void
test_kvm_permission(Fixture *f, gconstpointer data)
{
  g_autofree char *kvm = g_build_filename(f->root, "dev/kvm", NULL);
  g_autoptr(VxmCheckResult) r = NULL;

  g_assert_cmpint(chmod(kvm, 0), ==, 0);
  if (geteuid() == 0) {
    /* root opens a mode 000 file anyway: check as an unprivileged user in a child */
    int wstatus = 0;
    pid_t pid;

    g_assert_cmpint(chmod(f->root, 0755), ==, 0);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
      g_autoptr(VxmCheckResult) child = NULL;

      if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
        _exit(3);
      child = run_one(f, "kvm", NULL);
      _exit(child->status == VXM_CHECK_STATUS_FAIL && strstr(child->fix, "usermod -aG kvm") ? 0
                                                                                            : 1);
    }
    g_assert_cmpint(waitpid(pid, &wstatus, 0), ==, pid);
    g_assert_true(WIFEXITED(wstatus));
    g_assert_cmpint(WEXITSTATUS(wstatus), ==, 0);
    return;
  }
  r = run_one(f, "kvm", NULL);
  g_assert_cmpint(r->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_nonnull(strstr(r->fix, "usermod -aG kvm"));
}

static void
test_single_gpu_refused(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) gpus = run_one(f, "gpus", NULL);
  g_autoptr(VxmCheckResult) guest = run_one(f, "guest-gpu", NULL);

  g_assert_cmpint(gpus->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_cmpstr(gpus->message, ==,
                  "vxm is for two-GPU machines: the host keeps one GPU and the guest gets the "
                  "other; this machine has only 0000:01:00.0 (NVIDIA Corporation GA102 [GeForce "
                  "RTX 3080], host)");
  g_assert_nonnull(gpus->fix);
  g_assert_cmpint(guest->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_nonnull(strstr(guest->fix, "second GPU"));
}

static void
test_shared_group_fails(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) gpus = run_one(f, "gpus", NULL);
  g_autoptr(VxmCheckResult) guest = run_one(f, "guest-gpu", NULL);

  g_assert_cmpint(gpus->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_cmpint(guest->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_nonnull(strstr(guest->message, "0000:00:14.0 (USB controller, 0c03)"));
  g_assert_nonnull(strstr(guest->message, "0000:03:00.0 (Ethernet controller, 0200)"));
  g_assert_nonnull(strstr(guest->fix, "another PCIe slot"));
  /* the host's own GPU is not listed as a failed candidate */
  g_assert_null(strstr(guest->message, "boot VGA"));
}

static void
test_no_gpu(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(VxmCheckContext) ctx = vxm_check_context_new(fs, NULL);
  g_autoptr(GPtrArray) results = NULL;
  VxmCheckResult *gpus, *guest;

  /* a server with a host bridge and a NIC, and no pci.ids, cpuinfo or cmdline */
  vxm_test_sysfs_add_pci(root, "0000:00:00.0", NULL, 0x8086, 0x3e30, 0x060000, NULL, 0);
  vxm_test_sysfs_add_pci(root, "0000:00:1f.6", NULL, 0x8086, 0x15bc, 0x020000, "e1000e", 1);
  results = vxm_check_run(ctx, NULL);
  gpus = g_ptr_array_index(results, 3);
  guest = g_ptr_array_index(results, 4);
  g_assert_cmpstr(gpus->id, ==, "gpus");
  g_assert_cmpint(gpus->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_true(g_str_has_suffix(gpus->message, "this machine has no GPU at all"));
  g_assert_cmpint(guest->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_cmpstr(guest->message, ==, "no GPU can be the guest GPU: this machine has none");
  g_assert_false(vxm_check_results_passed(results));
  vxm_test_rm_rf(root);
}

static void
test_configured_guest(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) by_name = run_one(f, "guest-gpu", "geforce");
  g_autoptr(VxmCheckResult) host = run_one(f, "guest-gpu", "00:02.0");
  g_autoptr(VxmCheckResult) nonsense = run_one(f, "guest-gpu", "voodoo");

  g_assert_cmpint(by_name->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_nonnull(strstr(by_name->message, "configured guest GPU 0000:01:00.0"));
  g_assert_cmpint(host->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_nonnull(strstr(host->message, "boot VGA"));
  g_assert_cmpint(nonsense->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_nonnull(strstr(nonsense->message, "no GPU matches 'voodoo'"));
  g_assert_nonnull(strstr(nonsense->fix, "--set-gpu"));
}

/* ---- vxmd: root needs none; a user needs the group in this login and a daemon that answers ----
 */

typedef struct {
  int status;
  char *message;
  char *fix;
} ChildCheck;

static void
child_check_clear(ChildCheck *c)
{
  g_free(c->message);
  g_free(c->fix);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ChildCheck, child_check_clear)

/* The vxmd check for members of @group, run as nobody (uid and gid 65534) with @extra_gid as
 * its only supplementary group (-1: none), in a child. */
static void
vxmd_check_as_nobody(Fixture *f, const char *group, gint extra_gid, ChildCheck *out)
{
  int fds[2];
  pid_t pid;
  int wstatus = 0;
  g_autofree char *text = NULL;
  g_auto(GStrv) parts = NULL;
  GString *buf = g_string_new(NULL);
  char chunk[512];
  ssize_t n;

  g_assert_cmpint(pipe(fds), ==, 0);
  pid = fork();
  g_assert_cmpint(pid, >=, 0);
  if (pid == 0) {
    g_autoptr(VxmCheckContext) ctx = NULL;
    VxmCheckResult r = {0};
    gid_t gid = (gid_t)extra_gid;
    g_autofree char *line = NULL;

    close(fds[0]);
    if (setgroups(extra_gid >= 0 ? 1 : 0, &gid) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
      _exit(3);
    ctx = vxm_check_context_new(f->fs, NULL);
    vxm_check_vxmd_for_group(ctx, &r, group);
    line = g_strdup_printf("%d\n%s\n%s", r.status, r.message ? r.message : "", r.fix ? r.fix : "");
    if (write(fds[1], line, strlen(line)) != (ssize_t)strlen(line))
      _exit(4);
    _exit(0);
  }
  close(fds[1]);
  while ((n = read(fds[0], chunk, sizeof chunk)) > 0)
    g_string_append_len(buf, chunk, n);
  close(fds[0]);
  g_assert_cmpint(waitpid(pid, &wstatus, 0), ==, pid);
  g_assert_true(WIFEXITED(wstatus));
  g_assert_cmpint(WEXITSTATUS(wstatus), ==, 0);
  text = g_string_free(buf, FALSE);
  parts = g_strsplit(text, "\n", 3);
  g_assert_cmpuint(g_strv_length(parts), ==, 3);
  out->status = atoi(parts[0]);
  out->message = g_strdup(parts[1]);
  out->fix = parts[2][0] != '\0' ? g_strdup(parts[2]) : NULL;
  g_test_message("vxmd check as nobody (%s): %s / %s", group, out->message,
                 out->fix ? out->fix : "-");
}

static void
test_vxmd_root(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) r = NULL;

  if (geteuid() != 0) {
    g_test_skip("needs root (the check as root)");
    return;
  }
  r = run_one(f, "vxmd", NULL);
  g_assert_cmpint(r->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_nonnull(strstr(r->message, "as root"));
}

static void
test_vxmd_group(Fixture *f, gconstpointer data)
{
  g_auto(ChildCheck) missing = {0};
  g_auto(ChildCheck) outside = {0};
  g_auto(ChildCheck) not_running = {0};
  g_auto(ChildCheck) openrc = {0};

  if (!vxm_test_require_root())
    return;
  /* the socket's folder must be reachable for nobody, as /run/vxm is */
  g_assert_cmpint(chmod(f->root, 0755), ==, 0);

  vxmd_check_as_nobody(f, "vxm-test-no-such-group", -1, &missing);
  g_assert_cmpint(missing.status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_nonnull(strstr(missing.message, "group vxm-test-no-such-group does not exist"));
  g_assert_nonnull(strstr(missing.fix, "groupadd --system vxm-test-no-such-group"));

  /* gid 0 exists everywhere and nobody is not in it */
  vxmd_check_as_nobody(f, "root", -1, &outside);
  g_assert_cmpint(outside.status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_nonnull(strstr(outside.message, "nobody is not in group root"));
  g_assert_nonnull(strstr(outside.fix, "sudo usermod -aG root nobody"));
  g_assert_nonnull(strstr(outside.fix, "log out and in"));

  /* in the group (nobody's own group), but no vxmd under this root */
  vxmd_check_as_nobody(f, "nogroup", 65534, &not_running);
  g_assert_cmpint(not_running.status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_nonnull(strstr(not_running.message, "vxmd is not running"));
  g_assert_nonnull(strstr(not_running.fix, "systemctl enable --now vxmd.socket"));

  /* the same on a host running OpenRC (Nitrux): its commands, never systemctl */
  vxm_test_write_file(f->root, "run/openrc/softlevel", "default\n");
  vxmd_check_as_nobody(f, "nogroup", 65534, &openrc);
  g_assert_cmpint(openrc.status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_cmpstr(openrc.fix, ==,
                  "sudo rc-update add vxmd default && sudo rc-service vxmd start (vxmd then runs "
                  "from every boot)");
  g_assert_null(strstr(openrc.message, "systemctl"));
}

/* The real vxmd under the test's root, for group nogroup: nobody is let in. */
static void
test_vxmd_answers(Fixture *f, gconstpointer data)
{
  g_autofree char *vxmd = vxm_test_build_path("src/vxmd/vxmd");
  g_autoptr(GSubprocess) daemon = NULL;
  g_autoptr(GDataInputStream) err = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(ChildCheck) ok = {0};
  g_autofree char *line = NULL;

  if (!vxm_test_require_root())
    return;
  g_assert_cmpint(chmod(f->root, 0755), ==, 0);
  daemon = g_subprocess_new(G_SUBPROCESS_FLAGS_STDERR_PIPE, &error, vxmd, "--root", f->root,
                            "--group", "nogroup", NULL);
  g_assert_no_error(error);
  /* readiness: vxmd says so once it listens */
  err = g_data_input_stream_new(g_subprocess_get_stderr_pipe(daemon));
  while ((line = g_data_input_stream_read_line(err, NULL, NULL, &error)) != NULL) {
    g_test_message("vxmd: %s", line);
    if (strstr(line, "vxmd ready") != NULL)
      break;
    g_clear_pointer(&line, g_free);
  }
  g_assert_no_error(error);
  g_assert_nonnull(line);

  vxmd_check_as_nobody(f, "nogroup", 65534, &ok);
  g_assert_cmpint(ok.status, ==, VXM_CHECK_STATUS_OK);
  g_assert_nonnull(strstr(ok.message, "vxmd answers at"));
  g_assert_nonnull(strstr(ok.message, "lets nobody in"));
  g_assert_null(ok.fix);

  g_subprocess_send_signal(daemon, SIGTERM);
  g_assert_true(g_subprocess_wait(daemon, NULL, &error));
}

/* The real vxmd for group root, with no system bus: nobody is outside the group, and the check
 * shows vxmd's own refusal (polkit could not be asked) with the fix. */
static void
test_vxmd_refuses(Fixture *f, gconstpointer data)
{
  g_autofree char *vxmd = vxm_test_build_path("src/vxmd/vxmd");
  g_autoptr(GSubprocessLauncher) launcher =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) daemon = NULL;
  g_autoptr(GDataInputStream) err = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(ChildCheck) refused = {0};
  g_autofree char *line = NULL;

  if (!vxm_test_require_root())
    return;
  g_assert_cmpint(chmod(f->root, 0755), ==, 0);
  g_subprocess_launcher_setenv(launcher, "DBUS_SYSTEM_BUS_ADDRESS",
                               "unix:path=/nonexistent/vxm-test-no-system-bus", TRUE);
  daemon = g_subprocess_launcher_spawn(launcher, &error, vxmd, "--root", f->root, "--group", "root",
                                       NULL);
  g_assert_no_error(error);
  err = g_data_input_stream_new(g_subprocess_get_stderr_pipe(daemon));
  while ((line = g_data_input_stream_read_line(err, NULL, NULL, &error)) != NULL) {
    if (strstr(line, "vxmd ready") != NULL)
      break;
    g_clear_pointer(&line, g_free);
  }
  g_assert_no_error(error);
  g_assert_nonnull(line);

  vxmd_check_as_nobody(f, "root", -1, &refused);
  g_assert_cmpint(refused.status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_nonnull(strstr(refused.message, "nobody is not in group root, and polkit could not be "
                                           "asked"));
  g_assert_nonnull(strstr(refused.fix, "sudo usermod -aG root nobody"));

  g_subprocess_send_signal(daemon, SIGTERM);
  g_assert_true(g_subprocess_wait(daemon, NULL, &error));
}

/* Every failed check of @ctx's host has a fix; returns how many failed. */
static guint
assert_every_fail_has_fix(const char *host, VxmCheckContext *ctx)
{
  g_autoptr(GPtrArray) results = vxm_check_run(ctx, NULL);
  guint failed = 0;

  for (guint i = 0; i < results->len; i++) {
    VxmCheckResult *r = g_ptr_array_index(results, i);

    if (r->status != VXM_CHECK_STATUS_FAIL)
      continue;
    failed++;
    if (r->fix == NULL || *r->fix == '\0')
      g_error("%s: check %s fails without a fix: %s", host, r->id, r->message);
  }
  return failed;
}

static void
test_fix_for_every_fail_static(void)
{
  guint failed = 0;

  for (int machine = VXM_TEST_MACHINE_INTEL_NVIDIA; machine <= VXM_TEST_MACHINE_IOMMU_OFF;
       machine++) {
    g_autofree char *root = vxm_test_mkdtemp();
    g_autoptr(VxmHostfs) fs = NULL;
    g_autoptr(VxmCheckContext) ctx = NULL;
    g_autofree char *label = g_strdup_printf("static machine %d", machine);

    vxm_test_machine_build(root, machine);
    fs = vxm_hostfs_new(root);
    ctx = vxm_check_context_new(fs, NULL);
    failed += assert_every_fail_has_fix(label, ctx);
    vxm_test_rm_rf(root);
  }
  /* the single-GPU, shared-group and IOMMU-off machines fail something */
  g_assert_cmpuint(failed, >=, 3);
}

static void
test_fix_for_unreadable_pci(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(VxmCheckContext) ctx = vxm_check_context_new(fs, NULL);
  const char *only[] = {"gpus", "guest-gpu", NULL};
  g_autoptr(GPtrArray) results = NULL;

  /* a --root without sys/bus/pci: a container, a chroot, a typo */
  results = vxm_check_run(ctx, only);
  for (guint i = 0; i < results->len; i++) {
    VxmCheckResult *r = g_ptr_array_index(results, i);

    g_assert_cmpint(r->status, ==, VXM_CHECK_STATUS_FAIL);
    g_assert_nonnull(r->fix);
    g_assert_nonnull(strstr(r->fix, "sys/bus/pci/devices"));
    g_assert_nonnull(strstr(r->fix, root));
  }
  g_assert_cmpuint(assert_every_fail_has_fix("an empty root", ctx), >=, 2);
  vxm_test_rm_rf(root);
}

static void
test_fix_for_every_fail_simhost(void)
{
  g_autofree char *dir = vxm_test_source_path("tests/simhost");
  g_autoptr(GDir) d = NULL;
  const char *name;
  guint machines = 0;

  if (g_getenv("VXM_SIMHOST") == NULL) {
    g_test_skip("vxm-simhost is not built (no libfuse3)");
    return;
  }
  if (!vxm_test_require_root())
    return;
  d = g_dir_open(dir, 0, NULL);
  g_assert_nonnull(d);
  while ((name = g_dir_read_name(d)) != NULL) {
    g_autofree char *path = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmSimhost) sim = NULL;
    g_autoptr(VxmHostfs) fs = NULL;
    g_autoptr(VxmCheckContext) ctx = NULL;

    if (!g_str_has_suffix(name, ".machine"))
      continue;
    path = g_build_filename(dir, name, NULL);
    sim = vxm_simhost_start(path, &error);
    g_assert_no_error(error);
    fs = vxm_hostfs_new(vxm_simhost_root(sim));
    ctx = vxm_check_context_new(fs, NULL);
    assert_every_fail_has_fix(name, ctx);
    machines++;
  }
  g_assert_cmpuint(machines, >=, 9);
}

/* kvm.ignore_msrs: on passes (and says when the kernel log gets a line each time); off warns
 * with the module option and, on an immutable root, the lasting route; no kvm: nothing to
 * check. */
static void
test_ignore_msrs(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) on = NULL;
  g_autoptr(VxmCheckResult) noisy = NULL;
  g_autoptr(VxmCheckResult) off = NULL;
  g_autoptr(VxmCheckResult) overlay = NULL;
  g_autoptr(VxmCheckResult) no_kvm = NULL;
  g_autofree char *kvm = g_build_filename(f->root, "sys/module/kvm", NULL);

  on = run_one(f, "ignore-msrs", NULL);
  g_assert_cmpint(on->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_nonnull(strstr(on->message, "kvm.ignore_msrs = Y"));
  g_assert_null(strstr(on->message, "kernel log"));
  g_assert_null(on->fix);

  vxm_test_write_file(f->root, "sys/module/kvm/parameters/report_ignored_msrs", "Y\n");
  noisy = run_one(f, "ignore-msrs", NULL);
  g_assert_cmpint(noisy->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_nonnull(strstr(noisy->message, "report_ignored_msrs = Y"));

  vxm_test_write_file(f->root, "sys/module/kvm/parameters/ignore_msrs", "N\n");
  off = run_one(f, "ignore-msrs", NULL);
  g_assert_cmpint(off->status, ==, VXM_CHECK_STATUS_WARN);
  g_assert_nonnull(strstr(off->message, "blue screen"));
  g_assert_nonnull(strstr(off->fix, "echo 1 | sudo tee /sys/module/kvm/parameters/ignore_msrs"));
  g_assert_nonnull(strstr(off->fix, "write 'options kvm ignore_msrs=1 report_ignored_msrs=0' "
                                    "to /etc/modprobe.d/kvm.conf"));
  g_assert_nonnull(strstr(off->fix, "kvm.ignore_msrs=1 kvm.report_ignored_msrs=0"));
  g_assert_null(strstr(off->fix, "overlayroot"));

  /* Nitrux: /etc is on an overlay the next boot discards */
  vxm_test_write_file(f->root, "proc/self/mountinfo",
                      "22 1 8:2 / /media/root-ro ro - ext4 /dev/sda2 ro\n"
                      "23 1 0:22 / /media/root-rw rw - tmpfs tmpfs-root rw\n"
                      "24 1 0:23 / / rw - overlay overlayroot rw,lowerdir=/media/root-ro,"
                      "upperdir=/media/root-rw/overlay,workdir=/media/root-rw/w\n");
  overlay = run_one(f, "ignore-msrs", NULL);
  g_assert_cmpint(overlay->status, ==, VXM_CHECK_STATUS_WARN);
  g_assert_nonnull(strstr(overlay->fix, "sudo overlayroot-chroot"));
  g_assert_nonnull(strstr(overlay->fix,
                          "write 'options kvm ignore_msrs=1 "
                          "report_ignored_msrs=0' to /etc/modprobe.d/kvm.conf there"));
  g_assert_nonnull(strstr(overlay->fix, "lost at the next boot"));

  vxm_test_rm_rf(kvm);
  no_kvm = run_one(f, "ignore-msrs", NULL);
  g_assert_cmpint(no_kvm->status, ==, VXM_CHECK_STATUS_UNKNOWN);
  g_assert_nonnull(strstr(no_kvm->message, "not applicable"));
}

/* The guest GPU's 64-bit BARs: within OVMF's default window, larger (handled by vxm start),
 * too large for the CPU's address width (the exact resize), unreadable (not checked). */
static void
test_bars(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) small = NULL;
  g_autoptr(VxmCheckResult) large = NULL;
  g_autoptr(VxmCheckResult) narrow = NULL;
  g_autoptr(VxmCheckResult) unreadable = NULL;
  g_autofree char *dir = vxm_test_sysfs_device_dir(f->root, "0000:01:00.0");
  g_autofree char *resource = g_build_filename(f->root, dir, "resource", NULL);

  small = run_one(f, "bars", NULL);
  g_assert_cmpint(small->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_nonnull(strstr(small->message, "take 288 MiB (the largest, BAR 1 of 0000:01:00.0, is "
                                          "256 MiB): they fit OVMF's default 32768 MiB window"));

  /* Resizable BAR turned on in the firmware: 32 GiB */
  vxm_test_sysfs_set_bar(f->root, "0000:01:00.0", 1, G_GUINT64_CONSTANT(0x4000000000),
                         G_GUINT64_CONSTANT(32) << 30, VXM_TEST_BAR_MEM64_PREFETCH, 0xff00);
  large = run_one(f, "bars", NULL);
  g_assert_cmpint(large->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_nonnull(strstr(large->message, "is 32 GiB (a resizable BAR: up to 32 GiB)"));
  g_assert_nonnull(strstr(large->message, "handled"));
  g_assert_nonnull(strstr(large->message, "-fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=65536"));
  g_assert_null(large->fix);

  /* a CPU with 36 physical address bits cannot place a 64 GiB window */
  vxm_test_write_file(f->root, "proc/cpuinfo",
                      "processor\t: 0\nvendor_id\t: GenuineIntel\n"
                      "address sizes\t: 36 bits physical, 48 bits virtual\n\n");
  narrow = run_one(f, "bars", NULL);
  g_assert_cmpint(narrow->status, ==, VXM_CHECK_STATUS_WARN);
  g_assert_nonnull(strstr(narrow->message, "36-bit physical addresses"));
  g_assert_nonnull(strstr(narrow->fix, "echo 12 | sudo tee /sys/bus/pci/devices/0000:01:00.0/"
                                       "resource1_resize"));
  g_assert_nonnull(strstr(narrow->fix, "12 gives 4 GiB"));

  /* a 32 GiB BAR that cannot be resized: no resize to suggest */
  vxm_test_sysfs_set_attr(f->root, "0000:01:00.0", "resource1_resize", NULL);
  {
    g_autoptr(VxmCheckResult) fixed = run_one(f, "bars", NULL);

    g_assert_cmpint(fixed->status, ==, VXM_CHECK_STATUS_WARN);
    g_assert_null(strstr(fixed->fix, "resource1_resize"));
    g_assert_nonnull(strstr(fixed->fix, "more physical address bits"));
  }

  g_assert_cmpint(unlink(resource), ==, 0);
  unreadable = run_one(f, "bars", NULL);
  g_assert_cmpint(unreadable->status, ==, VXM_CHECK_STATUS_UNKNOWN);
  g_assert_nonnull(strstr(unreadable->message, "cannot tell how large"));
}

/* The AMD card offers Resizable BAR but runs at 256 MiB: said, and it fits. */
static void
test_bars_resizable_offered(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) r = run_one(f, "bars", NULL);

  g_assert_cmpint(r->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_nonnull(strstr(r->message, "BAR 0 of 0000:03:00.0, is 256 MiB (a resizable BAR: up to "
                                      "16 GiB)"));
  g_assert_nonnull(strstr(r->message, "fit OVMF's default"));
}

/* D3cold: what can be known (vfio-pci's disable_idle_d3, d3cold_allowed, the power state now)
 * and what cannot (whether the card comes back): the latter is "not checked", not a pass. */
static void
test_d3cold(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) unknown = NULL;
  g_autoptr(VxmCheckResult) kept = NULL;
  g_autoptr(VxmCheckResult) not_allowed = NULL;
  g_autoptr(VxmCheckResult) now = NULL;
  g_autoptr(VxmCheckResult) overlay = NULL;

  unknown = run_one(f, "d3cold", NULL);
  g_assert_cmpint(unknown->status, ==, VXM_CHECK_STATUS_UNKNOWN);
  g_assert_nonnull(strstr(unknown->message, "not known beforehand"));
  g_assert_nonnull(strstr(unknown->message, "vfio-pci is not loaded yet"));
  g_assert_nonnull(strstr(unknown->fix, "write 'options vfio-pci disable_idle_d3=1' to "
                                        "/etc/modprobe.d/vfio.conf"));

  vxm_test_write_file(f->root, "sys/module/vfio_pci/parameters/disable_idle_d3", "Y\n");
  kept = run_one(f, "d3cold", NULL);
  g_assert_cmpint(kept->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_nonnull(strstr(kept->message, "disable_idle_d3 = Y"));

  vxm_test_write_file(f->root, "sys/module/vfio_pci/parameters/disable_idle_d3", "N\n");
  vxm_test_sysfs_set_attr(f->root, "0000:01:00.0", "d3cold_allowed", "0");
  not_allowed = run_one(f, "d3cold", NULL);
  g_assert_cmpint(not_allowed->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_nonnull(strstr(not_allowed->message, "d3cold_allowed is 0"));

  vxm_test_sysfs_set_attr(f->root, "0000:01:00.0", "d3cold_allowed", "1");
  vxm_test_sysfs_set_attr(f->root, "0000:01:00.0", "power_state", "D3cold");
  now = run_one(f, "d3cold", NULL);
  g_assert_cmpint(now->status, ==, VXM_CHECK_STATUS_WARN);
  g_assert_nonnull(strstr(now->message, "is in D3cold now"));
  g_assert_nonnull(strstr(now->fix, "echo 0 | sudo tee /sys/bus/pci/devices/0000:01:00.0/"
                                    "d3cold_allowed"));

  vxm_test_write_file(f->root, "proc/self/mountinfo",
                      "24 1 0:23 / / rw - overlay overlayroot rw,lowerdir=/media/root-ro,"
                      "upperdir=/media/root-rw/overlay,workdir=/media/root-rw/w\n"
                      "23 1 0:22 / /media/root-rw rw - tmpfs tmpfs-root rw\n");
  overlay = run_one(f, "d3cold", NULL);
  g_assert_nonnull(strstr(overlay->fix, "sudo overlayroot-chroot"));
  g_assert_nonnull(strstr(overlay->fix, "/etc/modprobe.d/vfio.conf there"));
}

/* echo VALUE > PATH with one write(2) under the simulator; 0 or the errno. */
static int
sim_write(VxmSimhost *sim, const char *host_path, const char *value)
{
  g_autofree char *path = vxm_simhost_path(sim, host_path);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  int result = 0;

  if (fd < 0)
    return errno;
  if (write(fd, value, strlen(value)) < 0)
    result = errno;
  close(fd);
  return result;
}

static char *
sim_read(VxmSimhost *sim, const char *host_path)
{
  g_autofree char *path = vxm_simhost_path(sim, host_path);
  char *text = NULL;

  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  return text;
}

/* The same three checks against the simulator, which models each file they read: kvm's
 * parameters (root writes them), resource and resourceN_resize (a resize only while no driver
 * is bound), d3cold_allowed and power_state (D3cold once vfio-pci holds the card idle). */
static void
test_guest_checks_simhost(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(VxmHostfs) fs = NULL;
  g_autoptr(VxmCheckResult) msrs_off = NULL;
  g_autoptr(VxmCheckResult) msrs_on = NULL;
  g_autoptr(VxmCheckResult) bars_large = NULL;
  g_autoptr(VxmCheckResult) bars_small = NULL;
  g_autoptr(VxmCheckResult) d3_unknown = NULL;
  g_autoptr(VxmCheckResult) d3_now = NULL;
  g_autoptr(VxmCheckResult) d3_kept = NULL;
  g_autofree char *text = NULL;
  g_autofree char *power = NULL;
  g_autofree char *power_after = NULL;
  const char *power_state = "/sys/bus/pci/devices/0000:0c:00.0/power_state";
  const char *resize = "/sys/bus/pci/devices/0000:0c:00.0/resource1_resize";
  Fixture f = {0};

  if (g_getenv("VXM_SIMHOST") == NULL) {
    g_test_skip("vxm-simhost is not built (no libfuse3)");
    return;
  }
  sim = vxm_simhost_start_for_test("two-dgpu-rebar");
  if (sim == NULL)
    return;
  fs = vxm_hostfs_new(vxm_simhost_root(sim));
  f.fs = fs;

  msrs_off = run_one(&f, "ignore-msrs", NULL);
  g_assert_cmpint(msrs_off->status, ==, VXM_CHECK_STATUS_WARN);
  g_assert_cmpint(sim_write(sim, "/sys/module/kvm/parameters/ignore_msrs", "maybe"), ==, EINVAL);
  text = sim_read(sim, "/sys/module/kvm/parameters/ignore_msrs");
  g_assert_cmpstr(text, ==, "N\n");
  g_assert_cmpint(sim_write(sim, "/sys/module/kvm/parameters/ignore_msrs", "1"), ==, 0);
  msrs_on = run_one(&f, "ignore-msrs", NULL);
  g_assert_cmpint(msrs_on->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_nonnull(strstr(msrs_on->message, "report_ignored_msrs = Y"));

  bars_large = run_one(&f, "bars", NULL);
  g_assert_cmpint(bars_large->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_nonnull(strstr(bars_large->message, "is 32 GiB (a resizable BAR: up to 32 GiB)"));
  g_assert_nonnull(strstr(bars_large->message, "string=65536"));

  /* the kernel resizes only with no driver on the slot, and only to a size it offers */
  g_assert_cmpint(sim_write(sim, resize, "8"), ==, EBUSY);
  g_assert_cmpint(sim_write(sim, "/sys/bus/pci/drivers/nvidia/unbind", "0000:0c:00.0"), ==, 0);
  g_assert_cmpint(sim_write(sim, resize, "8"), ==, EBUSY); /* the audio function is bound */
  g_assert_cmpint(sim_write(sim, "/sys/bus/pci/drivers/snd_hda_intel/unbind", "0000:0c:00.1"), ==,
                  0);
  g_assert_cmpint(sim_write(sim, resize, "3"), ==, EINVAL);
  g_assert_cmpint(sim_write(sim, resize, "8"), ==, 0);
  bars_small = run_one(&f, "bars", NULL);
  g_assert_cmpint(bars_small->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_nonnull(strstr(bars_small->message, "is 256 MiB (a resizable BAR: up to 32 GiB)"));
  g_assert_nonnull(strstr(bars_small->message, "fit OVMF's default"));

  /* unbound, the card runs; vfio-pci holding it idle lets the board cut its power */
  d3_unknown = run_one(&f, "d3cold", NULL);
  g_assert_cmpint(d3_unknown->status, ==, VXM_CHECK_STATUS_UNKNOWN);
  g_assert_cmpint(sim_write(sim, "/sys/bus/pci/devices/0000:0c:00.0/driver_override", "vfio-pci"),
                  ==, 0);
  g_assert_cmpint(sim_write(sim, "/sys/bus/pci/drivers_probe", "0000:0c:00.0"), ==, 0);
  power = sim_read(sim, power_state);
  g_assert_cmpstr(power, ==, "D3cold\n");
  d3_now = run_one(&f, "d3cold", NULL);
  g_assert_cmpint(d3_now->status, ==, VXM_CHECK_STATUS_WARN);
  g_assert_nonnull(strstr(d3_now->message, "is in D3cold now"));
  g_assert_cmpint(sim_write(sim, "/sys/module/vfio_pci/parameters/disable_idle_d3", "Y"), ==, 0);
  power_after = sim_read(sim, power_state);
  g_assert_cmpstr(power_after, ==, "D0\n");
  d3_kept = run_one(&f, "d3cold", NULL);
  g_assert_cmpint(d3_kept->status, ==, VXM_CHECK_STATUS_OK);
}

#define ADD(path, func, machine) \
  g_test_add(path, Fixture, GINT_TO_POINTER(machine), fixture_setup, func, fixture_teardown)

int
main(int argc, char **argv)
{
  g_autofree char *cache = vxm_test_mkdtemp();
  int status;

  g_test_init(&argc, &argv, NULL);
  /* the qemu check caches what it learns from QEMU: not in the user's cache */
  g_setenv("XDG_CACHE_HOME", cache, TRUE);
  g_test_add_func("/vxm/host/check/registry-order", test_registry_order);
  ADD("/vxm/host/check/good-machine-passes", test_good_machine_passes,
      VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/good-amd-machine-passes", test_good_machine_passes,
      VXM_TEST_MACHINE_AMD_RADEON);
  ADD("/vxm/host/check/iommu-hints-intel", test_iommu_hints_intel, VXM_TEST_MACHINE_IOMMU_OFF);
  ADD("/vxm/host/check/iommu-hints-amd", test_iommu_hints_amd, VXM_TEST_MACHINE_IOMMU_OFF);
  ADD("/vxm/host/check/kvm", test_kvm, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/kvm-permission", test_kvm_permission, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/single-gpu-refused", test_single_gpu_refused, VXM_TEST_MACHINE_SINGLE_GPU);
  ADD("/vxm/host/check/shared-group-fails", test_shared_group_fails, VXM_TEST_MACHINE_SHARED_GROUP);
  g_test_add_func("/vxm/host/check/no-gpu", test_no_gpu);
  g_test_add_func("/vxm/host/check/fix-for-every-fail/static", test_fix_for_every_fail_static);
  g_test_add_func("/vxm/host/check/fix-for-every-fail/unreadable-pci", test_fix_for_unreadable_pci);
  g_test_add_func("/vxm/host/check/fix-for-every-fail/simhost", test_fix_for_every_fail_simhost);
  ADD("/vxm/host/check/ignore-msrs", test_ignore_msrs, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/bars", test_bars, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/bars-resizable-offered", test_bars_resizable_offered,
      VXM_TEST_MACHINE_AMD_RADEON);
  ADD("/vxm/host/check/d3cold", test_d3cold, VXM_TEST_MACHINE_INTEL_NVIDIA);
  g_test_add_func("/vxm/host/check/guest-checks-simhost", test_guest_checks_simhost);
  ADD("/vxm/host/check/configured-guest", test_configured_guest, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/vxmd/root-needs-none", test_vxmd_root, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/vxmd/group-and-daemon", test_vxmd_group, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/vxmd/answers", test_vxmd_answers, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/vxmd/refuses-without-polkit", test_vxmd_refuses,
      VXM_TEST_MACHINE_INTEL_NVIDIA);
  status = g_test_run();
  vxm_test_rm_rf(cache);
  return status;
}
