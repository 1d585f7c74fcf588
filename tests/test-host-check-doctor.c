/* vxm check as the doctor: the checks beyond the IOMMU group (reset, boot framebuffer,
 * holders, firmware, QEMU, swtpm, memory) on static host trees, each problem with its fix. */
#include <string.h>
#include <unistd.h>

#include "checks/vxm-check.h"
#include "journal/vxm-journal.h"
#include "pci/vxm-vfio.h"
#include "vm/vxm-vm-config.h"
#include "vxm-test-sysfs.h"
#include "vxm-test-util.h"

typedef struct {
  char *root;
  VxmHostfs *fs;
  VxmVmConfig *config; /* NULL: no VM */
  char *empty_path;    /* a folder with no programs, for PATH */
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
  f->root = vxm_test_mkdtemp();
  vxm_test_machine_build(f->root, GPOINTER_TO_INT(data));
  f->fs = vxm_hostfs_new(f->root);
  f->empty_path = vxm_test_mkdtemp();
  /* empty 2 MiB and 1 GiB hugepage pools, as a host has them */
  for (guint i = 0; i < 2; i++) {
    static const char *const attrs[] = {"nr_hugepages", "free_hugepages", "resv_hugepages",
                                        "surplus_hugepages"};
    for (guint a = 0; a < G_N_ELEMENTS(attrs); a++) {
      g_autofree char *rel = g_strdup_printf("sys/kernel/mm/hugepages/hugepages-%skB/%s",
                                             i == 0 ? "2048" : "1048576", attrs[a]);
      vxm_test_write_file(f->root, rel, "0\n");
    }
  }
}

/* Sets the 1 GiB pool: @nr pages reserved, @free of them free. */
static void
write_gigantic_pool(Fixture *f, const char *nr, const char *free_pages)
{
  vxm_test_write_file(f->root, "sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", nr);
  vxm_test_write_file(f->root, "sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages",
                      free_pages);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
  g_clear_object(&f->fs);
  g_clear_pointer(&f->config, vxm_vm_config_free);
  vxm_test_rm_rf(f->root);
  vxm_test_rm_rf(f->empty_path);
  g_free(f->root);
  g_free(f->empty_path);
}

static VxmVmConfig *
vm(Fixture *f)
{
  if (f->config == NULL)
    f->config = vxm_vm_config_new("win11");
  return f->config;
}

/* Runs check @id with the fixture's VM (if any) and returns its result. */
static VxmCheckResult *
run_one(Fixture *f, const char *id)
{
  g_autoptr(VxmCheckContext) ctx =
      vxm_check_context_new(f->fs, f->config != NULL ? f->config->gpu : NULL);
  const char *only[] = {id, NULL};
  g_autoptr(GPtrArray) results = NULL;

  vxm_check_context_set_vm_config(ctx, f->config);
  results = vxm_check_run(ctx, only);
  g_assert_cmpuint(results->len, ==, 1);
  return g_ptr_array_steal_index(results, 0);
}

static void
assert_contains(const char *text, const char *needle)
{
  if (text == NULL || strstr(text, needle) == NULL)
    g_error("expected '%s' in: %s", needle, text != NULL ? text : "(null)");
}

/* --- reset --- */

static void
test_reset_nvidia(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) r = run_one(f, "reset");

  g_assert_cmpint(r->status, ==, VXM_CHECK_STATUS_OK);
  assert_contains(r->message, "0000:01:00.0 (");
  assert_contains(r->message, "can be reset (flr, bus)");
  g_assert_null(r->fix);
}

/* An RX 580 (Polaris 10) as the guest GPU: the AMD reset bug, and its two fixes. */
static void
test_reset_amd_bug(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) warn = NULL;
  g_autoptr(VxmCheckResult) vendor_reset = NULL;
  g_autoptr(VxmCheckResult) kept = NULL;

  vxm_test_sysfs_set_attr(f->root, "0000:03:00.0", "device", "0x67df");
  g_free(vm(f)->gpu);
  vm(f)->gpu = g_strdup("0000:03:00.0");
  warn = run_one(f, "reset");
  g_assert_cmpint(warn->status, ==, VXM_CHECK_STATUS_WARN);
  assert_contains(warn->message, "AMD Polaris 10 card, which has the AMD reset bug");
  assert_contains(warn->fix, "vxm config win11 --set gpu.keep_bound=true");
  assert_contains(warn->fix,
                  "echo device_specific | sudo tee /sys/bus/pci/devices/0000:03:00.0/reset_method");

  vxm_test_sysfs_set_attr(f->root, "0000:03:00.0", "reset_method", "device_specific");
  vendor_reset = run_one(f, "reset");
  g_assert_cmpint(vendor_reset->status, ==, VXM_CHECK_STATUS_OK);
  assert_contains(vendor_reset->message, "vendor-reset resets it");

  vxm_test_sysfs_set_attr(f->root, "0000:03:00.0", "reset_method", "flr bus");
  vm(f)->keep_bound = TRUE;
  kept = run_one(f, "reset");
  g_assert_cmpint(kept->status, ==, VXM_CHECK_STATUS_OK);
  assert_contains(kept->message, "keep_bound is on");
}

/* An RX 6800 (Navi 21) has no reset bug. */
static void
test_reset_amd_navi21(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) r = run_one(f, "reset");

  g_assert_cmpint(r->status, ==, VXM_CHECK_STATUS_OK);
  assert_contains(r->message, "0000:03:00.0");
}

static void
test_reset_none(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) none = NULL;
  g_autoptr(VxmCheckResult) old_kernel = NULL;

  vxm_test_sysfs_set_attr(f->root, "0000:01:00.0", "reset_method", NULL);
  none = run_one(f, "reset");
  g_assert_cmpint(none->status, ==, VXM_CHECK_STATUS_WARN);
  assert_contains(none->message, "offers no reset method");
  assert_contains(none->fix, "--set gpu.keep_bound=true");

  /* a kernel before 5.15 has `reset` without `reset_method` */
  vxm_test_sysfs_set_attr(f->root, "0000:01:00.0", "reset", "");
  old_kernel = run_one(f, "reset");
  g_assert_cmpint(old_kernel->status, ==, VXM_CHECK_STATUS_OK);
}

/* Checks that need a guest GPU say so when there is none. */
static void
test_no_guest(Fixture *f, gconstpointer data)
{
  static const char *const ids[] = {"reset", "framebuffer", "holders"};

  for (gsize i = 0; i < G_N_ELEMENTS(ids); i++) {
    g_autoptr(VxmCheckResult) r = run_one(f, ids[i]);

    g_assert_cmpint(r->status, ==, VXM_CHECK_STATUS_WARN);
    assert_contains(r->message, "no guest GPU");
  }
}

/* --- framebuffer --- */

#define NVIDIA_RESOURCE                                        \
  "0x00000000f6000000 0x00000000f6ffffff 0x0000000000040200\n" \
  "0x00000000e0000000 0x00000000efffffff 0x000000000014220c\n" \
  "0x0000000000000000 0x0000000000000000 0x0000000000000000\n" \
  "0x00000000f0000000 0x00000000f1ffffff 0x000000000014220c\n" \
  "0x0000000000000000 0x0000000000000000 0x0000000000000000\n" \
  "0x000000000000e000 0x000000000000e07f 0x0000000000040101\n" \
  "0x00000000f7000000 0x00000000f707ffff 0x0000000000046200\n"

static void
write_iomem(Fixture *f, const char *framebuffer_range)
{
  g_autofree char *dir = vxm_test_sysfs_device_dir(f->root, "0000:01:00.0");
  g_autofree char *resource = g_build_filename(dir, "resource", NULL);
  g_autofree char *iomem = g_strdup_printf("00000000-00000fff : Reserved\n"
                                           "c0000000-cfffffff : 0000:00:02.0\n"
                                           "e0000000-f1ffffff : PCI Bus 0000:01\n"
                                           "  e0000000-efffffff : 0000:01:00.0\n"
                                           "    %s : efifb\n"
                                           "  f6000000-f6ffffff : 0000:01:00.0\n",
                                           framebuffer_range);

  vxm_test_write_file(f->root, resource, NVIDIA_RESOURCE);
  vxm_test_write_file(f->root, "proc/iomem", iomem);
}

static void
test_framebuffer_in_guest_bar(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) new_kernel = NULL;
  g_autoptr(VxmCheckResult) old_kernel = NULL;

  write_iomem(f, "e0000000-e07e8fff");
  vxm_test_write_file(f->root, "proc/sys/kernel/osrelease", "6.1.0-13-amd64\n");
  new_kernel = run_one(f, "framebuffer");
  g_assert_cmpint(new_kernel->status, ==, VXM_CHECK_STATUS_WARN);
  assert_contains(new_kernel->message, "efifb at e0000000-e07e8fff in BAR 1");
  assert_contains(new_kernel->fix, "primary display in the firmware setup");
  assert_contains(new_kernel->fix, "video=efifb:off");
  assert_contains(new_kernel->fix, "update-grub");

  vxm_test_write_file(f->root, "proc/sys/kernel/osrelease", "5.10.0-26-amd64\n");
  old_kernel = run_one(f, "framebuffer");
  g_assert_cmpint(old_kernel->status, ==, VXM_CHECK_STATUS_FAIL);
  assert_contains(old_kernel->message, "BAR 0: can't reserve");
}

static void
test_framebuffer_elsewhere(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) r = NULL;

  write_iomem(f, "c0000000-c07e8fff"); /* in the iGPU, where it belongs */
  r = run_one(f, "framebuffer");
  g_assert_cmpint(r->status, ==, VXM_CHECK_STATUS_OK);
  assert_contains(r->message, "no boot framebuffer sits in 0000:01:00.0");
}

/* A user who is not root reads /proc/iomem with every address zero. */
static void
test_framebuffer_hidden(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) r = NULL;

  vxm_test_write_file(f->root, "proc/iomem",
                      "00000000-00000000 : Reserved\n00000000-00000000 : PCI Bus 0000:01\n"
                      "  00000000-00000000 : 0000:01:00.0\n    00000000-00000000 : efifb\n");
  r = run_one(f, "framebuffer");
  /* not a pass: nothing was looked at; "run as root" only to a user who is not */
  g_assert_cmpint(r->status, ==, VXM_CHECK_STATUS_UNKNOWN);
  g_assert_cmpstr(vxm_check_status_to_string(r->status), ==, "unknown");
  assert_contains(r->message, "cannot tell whether a boot framebuffer sits in 0000:01:00.0");
  if (geteuid() != 0) {
    g_assert_cmpstr(r->fix, ==, "run vxm check as root to see");
  } else {
    g_assert_null(r->fix);
    assert_contains(r->message, "even to root");
  }
  g_assert_null(strstr(r->message, "as root"));
}

/* Without /proc/iomem the check cannot run: it says so, and does not pass. */
static void
test_framebuffer_no_iomem(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) r = NULL;
  g_autofree char *iomem = g_build_filename(f->root, "proc/iomem", NULL);

  (void)unlink(iomem);
  r = run_one(f, "framebuffer");
  g_assert_cmpint(r->status, ==, VXM_CHECK_STATUS_UNKNOWN);
  assert_contains(r->message, "cannot tell whether a boot framebuffer sits in");
}

/* --- holders --- */

static void
test_holders(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) free_card = run_one(f, "holders");
  g_autoptr(VxmCheckResult) held = NULL;

  g_assert_cmpint(free_card->status, ==, VXM_CHECK_STATUS_OK);
  vxm_test_write_file(f->root, "proc/1187/comm", "nvidia-persiste\n");
  vxm_test_symlink(f->root, "proc/1187/fd/3", "/dev/nvidiactl");
  vxm_test_write_file(f->root, "proc/4120/comm", "obs\n");
  vxm_test_symlink(f->root, "proc/4120/fd/7", "/dev/dri/renderD129");
  held = run_one(f, "holders");
  g_assert_cmpint(held->status, ==, VXM_CHECK_STATUS_FAIL);
  assert_contains(held->message, "vxm start would refuse");
  assert_contains(held->message, "1187 (nvidia-persiste: /dev/nvidiactl)");
  assert_contains(held->message, "4120 (obs: /dev/dri/renderD129)");
  g_assert_nonnull(held->fix);
  assert_contains(held->fix, "nvidia-persistenced");
}

/* vxm check VM knows what vxm start would refuse: the GPU in another VM's journal (a running
 * VM's, or one left on vfio-pci); the VM's own running journal is not in the way. */
static void
test_holders_other_vm(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmJournal) journal = NULL;
  g_autoptr(JsonObject) bind = json_object_new();
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmCheckResult) taken = NULL;
  g_autoptr(VxmCheckResult) own = NULL;
  guint index = 0;

  journal = vxm_journal_new(f->fs, "gaming", &error);
  g_assert_no_error(error);
  json_object_set_string_member(bind, "device", "0000:01:00.0");
  json_object_set_string_member(bind, "driver", "nvidia");
  g_assert_true(vxm_journal_begin(journal, VXM_VFIO_JOURNAL_KIND, bind, &index, &error));
  g_assert_true(vxm_journal_finish(journal, index, VXM_JOURNAL_STATE_DONE, NULL, &error));

  taken = run_one(f, "holders");
  g_assert_cmpint(taken->status, ==, VXM_CHECK_STATUS_FAIL);
  assert_contains(taken->message, "vxm start would refuse: GPU 0000:01:00.0 is in use by gaming");
  g_assert_nonnull(taken->fix);

  g_free(vm(f)->name);
  vm(f)->name = g_strdup("gaming");
  own = run_one(f, "holders");
  g_assert_cmpint(own->status, ==, VXM_CHECK_STATUS_OK);
}

/* --- firmware --- */

static void
test_firmware(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) ok = run_one(f, "firmware");
  g_autoptr(VxmCheckResult) missing = NULL;
  g_autofree char *share = g_build_filename(f->root, "usr/share/qemu", NULL);
  g_autofree char *ovmf = g_build_filename(f->root, "usr/share/OVMF", NULL);

  g_assert_cmpint(ok->status, ==, VXM_CHECK_STATUS_OK);
  assert_contains(ok->message, "Secure Boot and Microsoft's keys enrolled");
  assert_contains(ok->message, "40-edk2-x86_64-secure-enrolled.json");

  vxm_test_rm_rf(share);
  vxm_test_rm_rf(ovmf);
  missing = run_one(f, "firmware");
  g_assert_cmpint(missing->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_cmpstr(missing->fix, ==,
                  "install OVMF, which brings the firmware and QEMU's descriptors for it: sudo "
                  "apt-get install ovmf");
}

/* --- programs: swtpm and QEMU from PATH --- */

static void
test_swtpm_missing(Fixture *f, gconstpointer data)
{
  g_autofree char *saved = g_strdup(g_getenv("PATH"));
  g_autoptr(VxmCheckResult) missing = NULL;
  g_autoptr(VxmCheckResult) no_tpm = NULL;

  g_setenv("PATH", f->empty_path, TRUE);
  missing = run_one(f, "swtpm");
  vm(f)->tpm = FALSE;
  no_tpm = run_one(f, "swtpm");
  g_setenv("PATH", saved, TRUE);

  g_assert_cmpint(missing->status, ==, VXM_CHECK_STATUS_FAIL);
  assert_contains(missing->message, "swtpm and swtpm_setup not in PATH");
  g_assert_cmpstr(missing->fix, ==, "install it: sudo apt-get install swtpm swtpm-tools");
  g_assert_cmpint(no_tpm->status, ==, VXM_CHECK_STATUS_OK);
  assert_contains(no_tpm->message, "not needed: VM win11 has no TPM");
}

static void
test_qemu(Fixture *f, gconstpointer data)
{
  g_autofree char *saved = g_strdup(g_getenv("PATH"));
  g_autoptr(VxmCheckResult) found = NULL;
  g_autoptr(VxmCheckResult) not_in_path = NULL;
  g_autoptr(VxmCheckResult) bad_path = NULL;

  /* the real QEMU this machine has (the suite runs it elsewhere too) */
  found = run_one(f, "qemu");
  if (found->status != VXM_CHECK_STATUS_OK)
    g_test_message("qemu check: %s", found->message);
  g_assert_cmpint(found->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_true(g_str_has_prefix(found->message, "QEMU "));
  assert_contains(found->message, "qemu-system-x86_64)");

  g_setenv("PATH", f->empty_path, TRUE);
  not_in_path = run_one(f, "qemu");
  g_setenv("PATH", saved, TRUE);
  g_assert_cmpint(not_in_path->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_cmpstr(not_in_path->fix, ==, "install QEMU: sudo apt-get install qemu-system-x86");

  g_free(vm(f)->qemu_binary);
  vm(f)->qemu_binary = g_strdup("/opt/qemu/bin/qemu-system-x86_64");
  bad_path = run_one(f, "qemu");
  g_assert_cmpint(bad_path->status, ==, VXM_CHECK_STATUS_FAIL);
  assert_contains(bad_path->message, "/opt/qemu/bin/qemu-system-x86_64");
  assert_contains(bad_path->fix, "vxm config win11 --set host.qemu_binary=PATH");
}

/* --- memory --- */

static void
test_memory_enough(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) r = run_one(f, "memory");

  /* 32 GiB: auto gives the guest 16 GiB, in 2 MiB pages without reserved 1 GiB pages */
  g_assert_cmpint(r->status, ==, VXM_CHECK_STATUS_OK);
  assert_contains(r->message, "the host has 32 GiB of RAM: enough for the guest's 16 GiB");
  assert_contains(r->message, "vxm start reserves 8192 2 MiB hugepages");
}

static void
test_memory_short(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) vm_too_big = NULL;
  g_autoptr(VxmCheckResult) host_too_small = NULL;

  vm(f)->memory_bytes = G_GUINT64_CONSTANT(32) << 30;
  vm_too_big = run_one(f, "memory");
  g_assert_cmpint(vm_too_big->status, ==, VXM_CHECK_STATUS_FAIL);
  assert_contains(vm_too_big->message, "not enough for the guest's 32 GiB");
  assert_contains(vm_too_big->fix, "vxm config win11 --set memory.size=30G");

  vxm_test_host_add_meminfo(f->root, G_GUINT64_CONSTANT(5) << 20);
  vm(f)->memory_bytes = 0; /* auto: 4 GiB, the floor */
  host_too_small = run_one(f, "memory");
  g_assert_cmpint(host_too_small->status, ==, VXM_CHECK_STATUS_FAIL);
  assert_contains(host_too_small->message, "the host has 5 GiB of RAM");
  assert_contains(host_too_small->fix, "add RAM");
}

static void
test_memory_gigantic_pages(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) short_pages = NULL;
  g_autoptr(VxmCheckResult) enough = NULL;

  vm(f)->memory_bytes = G_GUINT64_CONSTANT(16) << 30;
  vm(f)->hugepages = VXM_VM_HUGEPAGES_1G;
  write_gigantic_pool(f, "4\n", "4\n");
  short_pages = run_one(f, "memory");
  g_assert_cmpint(short_pages->status, ==, VXM_CHECK_STATUS_WARN);
  assert_contains(short_pages->message, "only 4 of the 16 1 GiB hugepages");
  assert_contains(short_pages->fix, "default_hugepagesz=1G hugepagesz=1G hugepages=16");
  assert_contains(short_pages->fix, "--set hugepages=2M");

  write_gigantic_pool(f, "16\n", "16\n");
  enough = run_one(f, "memory");
  g_assert_cmpint(enough->status, ==, VXM_CHECK_STATUS_OK);
  assert_contains(enough->message, "16 1 GiB hugepages are reserved");
}

/* MemTotal 32 GiB, MemAvailable @available_gib: what programs leave free right now. */
static void
write_meminfo_available(Fixture *f, guint available_gib)
{
  g_autofree char *text =
      g_strdup_printf("MemTotal:       33554432 kB\nMemFree:         1048576 kB\n"
                      "MemAvailable:   %" G_GUINT64_FORMAT " kB\nHugePages_Total:       0\n"
                      "Hugepagesize:       2048 kB\n",
                      (guint64)available_gib << 20);

  vxm_test_write_file(f->root, "proc/meminfo", text);
}

static void
test_memory_available(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) busy = NULL;
  g_autoptr(VxmCheckResult) pool_helps = NULL;
  g_autoptr(VxmCheckResult) pool_covers = NULL;
  g_autoptr(VxmCheckResult) off = NULL;
  g_autoptr(VxmCheckResult) gigantic = NULL;
  g_autoptr(VxmCheckResult) room = NULL;

  /* 16 GiB guest in 2 MiB pages, but programs leave only 6 GiB */
  vm(f)->memory_bytes = G_GUINT64_CONSTANT(16) << 30;
  write_meminfo_available(f, 6);
  busy = run_one(f, "memory");
  g_assert_cmpint(busy->status, ==, VXM_CHECK_STATUS_WARN);
  assert_contains(busy->message, "only 6 GiB of it is available");
  assert_contains(busy->message, "reserves 16 GiB of hugepages for the guest's 16 GiB");
  assert_contains(busy->fix, "close programs");
  assert_contains(busy->fix, "vxm config win11 --set memory.size=6G");

  /* 4 GiB of free 2 MiB pages are already in the pool: start takes only the other 12 GiB */
  vxm_test_write_file(f->root, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "2048\n");
  vxm_test_write_file(f->root, "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "2048\n");
  vxm_test_write_file(f->root, "sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages", "0\n");
  pool_helps = run_one(f, "memory");
  g_assert_cmpint(pool_helps->status, ==, VXM_CHECK_STATUS_WARN);
  assert_contains(pool_helps->message, "reserves 12 GiB of hugepages");

  vxm_test_write_file(f->root, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "8192\n");
  vxm_test_write_file(f->root, "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "8192\n");
  pool_covers = run_one(f, "memory");
  g_assert_cmpint(pool_covers->status, ==, VXM_CHECK_STATUS_OK);
  vxm_test_write_file(f->root, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "0\n");
  vxm_test_write_file(f->root, "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "0\n");

  /* without hugepages, or with the 1 GiB pages reserved at boot, start reserves nothing */
  vm(f)->hugepages = VXM_VM_HUGEPAGES_OFF;
  off = run_one(f, "memory");
  g_assert_cmpint(off->status, ==, VXM_CHECK_STATUS_OK);
  vm(f)->hugepages = VXM_VM_HUGEPAGES_AUTO;
  write_gigantic_pool(f, "16\n", "16\n");
  gigantic = run_one(f, "memory");
  g_assert_cmpint(gigantic->status, ==, VXM_CHECK_STATUS_OK);
  write_gigantic_pool(f, "0\n", "0\n");

  write_meminfo_available(f, 20);
  room = run_one(f, "memory");
  g_assert_cmpint(room->status, ==, VXM_CHECK_STATUS_OK);
  assert_contains(room->message, "vxm start reserves 8192 2 MiB hugepages");
}

/* The figure vxm check predicts is the one vxm start plans: memory.size = auto in whole GiB,
 * and 1 GiB pages only when their pool has them free (reserved pages another VM holds are not
 * the guest's). */
static void
test_memory_as_start_plans(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmCheckResult) odd = NULL;
  g_autoptr(VxmCheckResult) held = NULL;
  g_autoptr(VxmCheckResult) free_gigantic = NULL;

  /* 31.5 GiB: auto gives 15 GiB (start's figure), not 15.75 GiB */
  vxm_test_host_add_meminfo(f->root, G_GUINT64_CONSTANT(33030144));
  odd = run_one(f, "memory");
  g_assert_cmpint(odd->status, ==, VXM_CHECK_STATUS_OK);
  assert_contains(odd->message, "enough for the guest's 15 GiB");
  assert_contains(odd->message, "vxm start reserves 7680 2 MiB hugepages");

  /* 16 1 GiB pages reserved, none free: start takes 2 MiB pages */
  vxm_test_host_add_meminfo(f->root, G_GUINT64_CONSTANT(32) << 20);
  write_gigantic_pool(f, "16\n", "0\n");
  held = run_one(f, "memory");
  g_assert_cmpint(held->status, ==, VXM_CHECK_STATUS_OK);
  assert_contains(held->message, "vxm start reserves 8192 2 MiB hugepages (0 of the 16 1 GiB");
  g_assert_null(strstr(held->message, "the guest gets them"));

  write_gigantic_pool(f, "16\n", "16\n");
  free_gigantic = run_one(f, "memory");
  assert_contains(free_gigantic->message, "16 1 GiB hugepages are reserved: the guest gets them");
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
  ADD("/vxm/host/check/reset/nvidia", test_reset_nvidia, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/reset/amd-reset-bug", test_reset_amd_bug, VXM_TEST_MACHINE_AMD_RADEON);
  ADD("/vxm/host/check/reset/amd-navi21", test_reset_amd_navi21, VXM_TEST_MACHINE_AMD_RADEON);
  ADD("/vxm/host/check/reset/none", test_reset_none, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/no-guest-gpu", test_no_guest, VXM_TEST_MACHINE_SINGLE_GPU);
  ADD("/vxm/host/check/memory/as-start-plans", test_memory_as_start_plans,
      VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/framebuffer/no-iomem", test_framebuffer_no_iomem,
      VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/framebuffer/in-guest-bar", test_framebuffer_in_guest_bar,
      VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/framebuffer/elsewhere", test_framebuffer_elsewhere,
      VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/framebuffer/hidden", test_framebuffer_hidden, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/holders", test_holders, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/holders/other-vm", test_holders_other_vm, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/firmware", test_firmware, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/swtpm-missing", test_swtpm_missing, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/qemu", test_qemu, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/memory/enough", test_memory_enough, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/memory/short", test_memory_short, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/memory/1g-pages", test_memory_gigantic_pages, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/host/check/memory/available", test_memory_available, VXM_TEST_MACHINE_INTEL_NVIDIA);
  status = g_test_run();
  vxm_test_rm_rf(cache);
  return status;
}
