/* The simulated workstation against the kernel's semantics, through a real FUSE mount. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-hostfs.h"
#include "common/vxm-util.h"
#include "vxm-simhost-fixture.h"
#include "vxm-test-util.h"

#define TURING         "intel-nvidia-turing"
#define GPU            "0000:01:00.0"
#define DEV(bdf, attr) "/sys/bus/pci/devices/" bdf "/" attr
#define DRIVERS        "/sys/bus/pci/drivers"
#define PROBE          "/sys/bus/pci/drivers_probe"

static const char *const machines[] = {"intel-nvidia-turing",
                                       "intel-nvidia-turing-held",
                                       "intel-nvidia-turing-disks",
                                       "amd-apu-radeon",
                                       "dgpu-shared-group",
                                       "two-dgpu",
                                       "single-gpu",
                                       "iommu-off",
                                       NULL};

/* echo VALUE > PATH with one write(2), as vxm does; returns 0 or the errno. */
static int
sys_write(VxmSimhost *sim, const char *host_path, const char *value)
{
  g_autofree char *path = vxm_simhost_path(sim, host_path);
  vxm_autofd int fd = open(path, O_WRONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return errno;
  n = write(fd, value, strlen(value));
  return n < 0 ? errno : 0;
}

static char *
sys_read(VxmSimhost *sim, const char *host_path)
{
  g_autofree char *path = vxm_simhost_path(sim, host_path);
  char *text = NULL;

  if (!g_file_get_contents(path, &text, NULL, NULL))
    return NULL;
  return text;
}

static char *
sys_link(VxmSimhost *sim, const char *host_path)
{
  g_autofree char *path = vxm_simhost_path(sim, host_path);

  return g_file_read_link(path, NULL);
}

static gboolean
sys_exists(VxmSimhost *sim, const char *host_path)
{
  g_autofree char *path = vxm_simhost_path(sim, host_path);
  struct stat st;

  return lstat(path, &st) == 0;
}

static char *
driver_of(VxmSimhost *sim, const char *bdf)
{
  g_autofree char *link = g_strdup_printf("/sys/bus/pci/devices/%s/driver", bdf);
  g_autofree char *target = sys_link(sim, link);

  return target ? g_path_get_basename(target) : g_strdup("none");
}

/* The sequence of facts.md: override, unbind, probe. */
static void
detach_to_vfio(VxmSimhost *sim, const char *bdf)
{
  g_autofree char *override = g_strdup_printf("/sys/bus/pci/devices/%s/driver_override", bdf);
  g_autofree char *unbind = g_strdup_printf("/sys/bus/pci/devices/%s/driver/unbind", bdf);

  g_assert_cmpint(sys_write(sim, override, "vfio-pci"), ==, 0);
  if (sys_exists(sim, unbind))
    g_assert_cmpint(sys_write(sim, unbind, bdf), ==, 0);
  g_assert_cmpint(sys_write(sim, PROBE, bdf), ==, 0);
}

static void
reattach(VxmSimhost *sim, const char *bdf)
{
  g_autofree char *override = g_strdup_printf("/sys/bus/pci/devices/%s/driver_override", bdf);
  g_autofree char *unbind = g_strdup_printf("/sys/bus/pci/devices/%s/driver/unbind", bdf);

  g_assert_cmpint(sys_write(sim, override, "\n"), ==, 0);
  if (sys_exists(sim, unbind))
    g_assert_cmpint(sys_write(sim, unbind, bdf), ==, 0);
  g_assert_cmpint(sys_write(sim, PROBE, bdf), ==, 0);
}

/* ---- machines ---- */

static void
test_machines_load(void)
{
  for (guint i = 0; machines[i] != NULL; i++) {
    g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(machines[i]);
    g_autofree char *state = NULL;
    g_autofree char *control = NULL;

    if (sim == NULL)
      return;
    state = vxm_simhost_state(sim);
    g_assert_nonnull(strstr(state, "pci 0000:00:00.0 driver=none"));
    control = sys_read(sim, "/.simhost/machine");
    g_assert_nonnull(strstr(control, vxm_simhost_machine_path(sim)));
    g_assert_true(sys_exists(sim, "/sys/bus/pci/drivers/vfio-pci/bind"));
  }
  {
    /* the lab's machine boots without vfio-pci */
    g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("lab-q35");
    if (sim == NULL)
      return;
    g_assert_false(sys_exists(sim, "/sys/bus/pci/drivers/vfio-pci"));
  }
}

static void
test_machine_errors(void)
{
  static const struct {
    const char *text;
    const char *expect[3];
  } cases[] = {
      {"[machine]\n[pci 0000:01:00.0]\nvendor=zz10\ndevice=1f07\nclass=030000\niommu_group=1\n",
       {"[pci 0000:01:00.0]", "vendor", "zz10"}},
      {"[machine]\ncolour=blue\n", {"[machine]", "colour", "unknown key"}},
      {"[machine]\n[gpu 1]\nx=1\n", {"[gpu 1]", "unknown group", NULL}},
      {"[machine]\n[pci 0000:01:00.0]\nvendor=10de\ndevice=1f07\nclass=030000\n"
       "iommu_group=1\ndriver=nouveau\n",
       {"[pci 0000:01:00.0]", "driver", "nouveau"}},
      {"[machine]\n[pci 0000:00:02.0]\nvendor=8086\ndevice=3e92\nclass=030000\niommu_group=1\n"
       "[pci 0000:01:00.0]\nparent=0000:00:02.0\nvendor=10de\ndevice=1f07\nclass=030000\n"
       "iommu_group=2\n",
       {"[pci 0000:01:00.0]", "parent", "not a PCI bridge"}},
      {"[machine]\n[pci 0000:01:00.0]\nvendor=10de\ndevice=1f07\nclass=030000\n",
       {"[pci 0000:01:00.0]", "iommu_group", "missing"}},
      {"[machine]\n[pci 1:0.0]\nvendor=10de\ndevice=1f07\nclass=030000\n",
       {"[pci 1:0.0]", "0000:01:00.0", NULL}},
      {"[machine]\niommu=maybe\n", {"[machine]", "iommu", "maybe"}},
      {"[machine]\n[driver nvidia]\nids=10de\n", {"[driver nvidia]", "ids", "10de"}},
      {"[machine\n", {"cannot load machine file", NULL, NULL}},
      {"[pci 0000:01:00.0]\nvendor=10de\n", {"[machine]", "missing", NULL}},
      {"[machine]\n[block sda]\ndev=8:0\npci=0000:00:17.0\n",
       {"[block sda]", "pci", "no [pci 0000:00:17.0]"}},
      {"[machine]\n[block sda1]\ndev=8:1\ndisk=sda\n", {"[block sda1]", "disk", "no [block sda]"}},
      {"[machine]\n[block dm-0]\ndev=254\n", {"[block dm-0]", "dev", "MAJOR:MINOR"}},
      {"[machine]\n[block dm-0]\ndev=254:0\nslaves=sdz\n", {"[block dm-0]", "slaves", "sdz"}},
      {"[machine]\n[mount /]\nblock=sda\nfstype=ext4\n", {"[mount /]", "block", "no [block sda]"}},
      {"[machine]\n[mount /]\nfstype=ext4\ncolour=red\n", {"[mount /]", "colour", "unknown key"}},
      /* the simulator's own parsers: the kernel's forms only */
      {"[machine]\n[pci 0000:0A:00.0]\nvendor=10de\ndevice=1f07\nclass=030000\n",
       {"[pci 0000:0A:00.0]", "kernel's form", NULL}},
      {"[machine]\n[pci 0000:01:20.0]\nvendor=10de\ndevice=1f07\nclass=030000\n",
       {"[pci 0000:01:20.0]", "kernel's form", NULL}},
      {"[machine]\n[input k]\nevent=3\nname=k\nev=3\nkey=1 0 0 0 0 0 0 0 0 0 0 0 0\n",
       {"[input k]", "key", "beyond the kernel's largest bitmap"}},
      {"[machine]\n[input k]\nevent=3\nname=k\nev=12x\n", {"[input k]", "ev", "not hexadecimal"}},
      {"[machine]\n[input k]\nevent=3\nname=k\nev=1ffffffffffffffff\n",
       {"[input k]", "ev", "wider than 64 bits"}},
      {"[machine]\n[monitor m]\nedid=00ffffffffffff00\ninput=hdmi3\n",
       {"[monitor m]", "input", "hdmi3"}},
      {"[machine]\n[monitor m]\nedid=00ffffffffffff00\ninput=hdmi1\ninputs=hdmi1,0x100\n",
       {"[monitor m]", "inputs", "0x100"}},
  };
  g_autofree char *binary = vxm_simhost_binary();
  g_autofree char *dir = vxm_test_mkdtemp();

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *name = g_strdup_printf("bad-%zu.machine", i);
    g_autofree char *file = g_build_filename(dir, name, NULL);
    const char *argv[] = {binary, "--machine", file, dir, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    vxm_test_write_file(dir, name, cases[i].text);
    g_assert_cmpint(vxm_test_run(argv, NULL, &out, &err), ==, 1);
    g_assert_nonnull(strstr(err, file));
    for (guint k = 0; k < 3 && cases[i].expect[k] != NULL; k++) {
      if (strstr(err, cases[i].expect[k]) == NULL)
        g_error("case %zu: '%s' not in: %s", i, cases[i].expect[k], err);
    }
  }
  {
    const char *argv[] = {binary, NULL};
    g_autofree char *err = NULL;
    g_assert_cmpint(vxm_test_run(argv, NULL, NULL, &err), ==, 2);
    g_assert_nonnull(strstr(err, "--machine"));
  }
  vxm_test_rm_rf(dir);
}

/* ---- block devices and mounts ---- */

/* Where vxm finds the host's disks: mountinfo in file order, /sys/dev/block to the device's
 * folder under its controller (a partition inside its disk), a mapped device in
 * /sys/devices/virtual/block with slaves and holders both ways, the /dev links. */
static void
test_block_devices(void)
{
  static const struct {
    const char *link, *target;
  } links[] = {
      {"/sys/dev/block/254:0", "../../devices/virtual/block/dm-0"},
      {"/sys/dev/block/259:2",
       "../../devices/pci0000:00/0000:00:1b.0/0000:02:00.0/nvme/nvme0/nvme0n1/nvme0n1p2"},
      {"/sys/dev/block/8:1", "../../devices/pci0000:00/0000:00:17.0/ata3/host2/target2:0:0/"
                             "2:0:0:0/block/sda/sda1"},
      {"/sys/block/dm-0", "../devices/virtual/block/dm-0"},
      {"/sys/class/block/nvme0n1p2",
       "../../devices/pci0000:00/0000:00:1b.0/0000:02:00.0/nvme/nvme0/nvme0n1/nvme0n1p2"},
      {"/sys/devices/virtual/block/dm-0/slaves/nvme0n1p2",
       "../../../../pci0000:00/0000:00:1b.0/0000:02:00.0/nvme/nvme0/nvme0n1/nvme0n1p2"},
      {"/sys/class/block/nvme0n1p2/holders/dm-0", "../../../../../../../../virtual/block/dm-0"},
      {"/dev/mapper/cryptroot", "../dm-0"},
      {"/dev/disk/by-uuid/1A2B-3C4D", "../../nvme0n1p1"},
      {"/dev/disk/by-id/nvme-WD_BLACK_SN850_1TB_21345A800123", "../../nvme1n1"},
  };
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing-disks");
  g_autofree char *mountinfo = NULL;
  g_autofree char *dev = NULL;
  g_autofree char *partition = NULL;
  g_autofree char *dm_name = NULL;

  if (sim == NULL)
    return;
  mountinfo = sys_read(sim, "/proc/self/mountinfo");
  g_assert_cmpstr(mountinfo, ==,
                  "21 1 254:0 / / rw,relatime shared:1 - ext4 /dev/mapper/cryptroot "
                  "rw,errors=remount-ro\n"
                  "22 21 0:20 / /run rw,nosuid,nodev,noexec,relatime shared:2 - tmpfs tmpfs "
                  "rw,size=3276800k,mode=755\n"
                  "23 21 259:1 / /boot/efi rw,relatime shared:3 - vfat /dev/nvme0n1p1 "
                  "rw,fmask=0077,dmask=0077\n"
                  "24 21 8:1 / /home rw,relatime shared:4 - ext4 /dev/sda1 rw\n");
  for (gsize i = 0; i < G_N_ELEMENTS(links); i++) {
    g_autofree char *target = sys_link(sim, links[i].link);

    if (g_strcmp0(target, links[i].target) != 0)
      g_error("%s -> %s, not %s", links[i].link, target, links[i].target);
  }
  dev = sys_read(sim, "/sys/class/block/nvme0n1p2/dev");
  g_assert_cmpstr(dev, ==, "259:2\n");
  partition = sys_read(sim, "/sys/class/block/nvme0n1p2/partition");
  g_assert_cmpstr(partition, ==, "2\n");
  dm_name = sys_read(sim, "/sys/block/dm-0/dm/name");
  g_assert_cmpstr(dm_name, ==, "cryptroot\n");
  /* partitions are not whole devices */
  g_assert_false(sys_exists(sim, "/sys/block/nvme0n1p2"));
  g_assert_true(sys_exists(sim, "/sys/block/nvme0n1"));
  g_assert_true(sys_exists(sim, "/dev/nvme1n1"));
  /* a machine without [mount] groups has no mountinfo */
  {
    g_autoptr(VxmSimhost) plain = vxm_simhost_start_for_test("intel-nvidia-turing");
    g_assert_false(sys_exists(plain, "/proc/self/mountinfo"));
  }
}

/* ---- sysfs layout and attributes ---- */

static void
test_attributes(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(TURING);
  g_autoptr(VxmHostfs) fs = NULL;
  g_autoptr(GError) error = NULL;
  static const struct {
    const char *path;
    const char *value;
  } attrs[] = {
      {DEV(GPU, "vendor"), "0x10de\n"},
      {DEV(GPU, "device"), "0x1f07\n"},
      {DEV(GPU, "subsystem_vendor"), "0x1458\n"},
      {DEV(GPU, "subsystem_device"), "0x37c2\n"},
      {DEV(GPU, "class"), "0x030000\n"},
      {DEV(GPU, "revision"), "0xa1\n"},
      {DEV(GPU, "driver_override"), "(null)\n"},
      {DEV(GPU, "boot_vga"), "0\n"},
      {DEV(GPU, "numa_node"), "-1\n"},
      {DEV(GPU, "reset_method"), "bus\n"},
      {DEV("0000:01:00.1", "reset_method"), "flr bus\n"},
      {DEV("0000:01:00.1", "class"), "0x040300\n"},
      {DEV("0000:00:02.0", "boot_vga"), "1\n"},
      {DEV("0000:02:00.0", "class"), "0x010802\n"},
      {"/sys/kernel/iommu_groups/1/type", "DMA\n"},
      {"/sys/bus/pci/drivers_autoprobe", "1\n"},
  };
  static const struct {
    const char *path;
    const char *target;
  } links[] = {
      {"/sys/bus/pci/devices/" GPU, "../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0"},
      {"/sys/bus/pci/devices/0000:00:02.0", "../../../devices/pci0000:00/0000:00:02.0"},
      {DEV(GPU, "iommu_group"), "../../../../kernel/iommu_groups/1"},
      {DEV("0000:00:02.0", "iommu_group"), "../../../kernel/iommu_groups/2"},
      {DEV(GPU, "driver"), "../../../../bus/pci/drivers/nvidia"},
      {DEV("0000:00:01.0", "driver"), "../../../bus/pci/drivers/pcieport"},
      {"/sys/kernel/iommu_groups/1/devices/" GPU,
       "../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0"},
      {DRIVERS "/nvidia/" GPU, "../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0"},
      {DRIVERS "/xhci_hcd/module", "../../../../module/xhci_pci"},
      {"/sys/class/drm/card1", "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/drm/card1"},
      {"/dev/dri/by-path/pci-0000:01:00.0-render", "../renderD129"},
  };
  g_autofree char *resolved = NULL;
  g_autoptr(GPtrArray) members = NULL;

  if (sim == NULL)
    return;
  for (gsize i = 0; i < G_N_ELEMENTS(attrs); i++) {
    g_autofree char *value = sys_read(sim, attrs[i].path);
    g_assert_cmpstr(value, ==, attrs[i].value);
  }
  for (gsize i = 0; i < G_N_ELEMENTS(links); i++) {
    g_autofree char *target = sys_link(sim, links[i].path);
    g_assert_cmpstr(target, ==, links[i].target);
  }
  /* boot_vga only on VGA devices, reset_method only when the machine gives one */
  g_assert_false(sys_exists(sim, DEV("0000:01:00.1", "boot_vga")));
  g_assert_false(sys_exists(sim, DEV("0000:00:02.0", "reset_method")));
  g_assert_true(sys_exists(sim, DEV(GPU, "drm/card1/dev")));
  g_assert_true(sys_exists(sim, DEV(GPU, "drm/renderD129")));
  g_assert_false(sys_exists(sim, DEV("0000:01:00.1", "drm")));
  g_assert_true(sys_exists(sim, "/dev/dri/card1"));
  g_assert_true(sys_exists(sim, "/dev/vfio/vfio"));
  g_assert_false(sys_exists(sim, "/dev/vfio/1"));
  /* the control folder is not part of the host's listing */
  {
    g_autofree char *root = vxm_simhost_path(sim, "/");
    g_autoptr(GDir) dir = g_dir_open(root, 0, NULL);
    const char *name;
    while ((name = g_dir_read_name(dir)) != NULL)
      g_assert_cmpstr(name, !=, ".simhost");
  }

  /* through vxm's own host-root layer */
  fs = vxm_hostfs_new(vxm_simhost_root(sim));
  resolved = vxm_hostfs_resolve(fs, "/sys/kernel/iommu_groups/1/devices/" GPU, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(resolved, ==, "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0");
  members = vxm_hostfs_list_dir(fs, "/sys/kernel/iommu_groups/1/devices", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(members->len, ==, 5);
  g_assert_cmpstr(members->pdata[0], ==, "0000:00:01.0");
  g_assert_cmpstr(members->pdata[4], ==, "0000:01:00.3");
  {
    g_autofree char *grp =
        vxm_hostfs_read_link_basename(fs, DEV("0000:01:00.3", "iommu_group"), &error);
    g_assert_no_error(error);
    g_assert_cmpstr(grp, ==, "1");
  }
  /* read-only attributes refuse writes like sysfs */
  g_assert_cmpint(sys_write(sim, DEV(GPU, "vendor"), "0x1002"), ==, EACCES);
  g_assert_cmpint(sys_write(sim, DEV(GPU, "reset_method"), "flr"), ==, EINVAL);
  g_assert_cmpint(sys_write(sim, DEV(GPU, "reset_method"), ""), ==, 0);
  g_assert_cmpint(sys_write(sim, DEV(GPU, "reset_method"), "default\n"), ==, 0);
  {
    g_autofree char *method = sys_read(sim, DEV(GPU, "reset_method"));
    g_assert_cmpstr(method, ==, "bus\n");
  }
}

/* ---- binding ---- */

static void
test_detach_reattach(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(TURING);
  static const char *const group[] = {"0000:01:00.0", "0000:01:00.1", "0000:01:00.2",
                                      "0000:01:00.3"};
  static const char *const original[] = {"nvidia", "snd_hda_intel", "xhci_hcd", "nvidia-gpu"};
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *log = NULL;

  if (sim == NULL)
    return;
  before = vxm_simhost_state(sim);
  vxm_simhost_clear_log(sim);
  for (gsize i = 0; i < G_N_ELEMENTS(group); i++) {
    g_autofree char *driver = NULL;
    detach_to_vfio(sim, group[i]);
    driver = driver_of(sim, group[i]);
    g_assert_cmpstr(driver, ==, "vfio-pci");
    /* the group's node appears with its first device on vfio-pci */
    g_assert_true(sys_exists(sim, "/dev/vfio/1"));
  }
  /* the GPU's DRM nodes went with the nvidia driver */
  g_assert_false(sys_exists(sim, "/dev/dri/card1"));
  g_assert_false(sys_exists(sim, DEV(GPU, "drm")));
  g_assert_true(sys_exists(sim, "/dev/dri/card0"));
  g_assert_true(sys_exists(sim, DRIVERS "/vfio-pci/0000:01:00.3"));
  {
    g_autofree char *override = sys_read(sim, DEV(GPU, "driver_override"));
    g_assert_cmpstr(override, ==, "vfio-pci\n");
  }
  for (gsize i = 0; i < G_N_ELEMENTS(group); i++) {
    g_autofree char *driver = NULL;
    g_assert_true(sys_exists(sim, "/dev/vfio/1"));
    reattach(sim, group[i]);
    driver = driver_of(sim, group[i]);
    g_assert_cmpstr(driver, ==, original[i]);
  }
  /* and goes with the last */
  g_assert_false(sys_exists(sim, "/dev/vfio/1"));
  g_assert_true(sys_exists(sim, "/dev/dri/renderD129"));
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);

  log = vxm_simhost_read_log(sim);
  g_assert_true(g_str_has_prefix(
      log, "1 write /sys/bus/pci/devices/0000:01:00.0/driver_override vfio-pci -> ok\n"
           "2 write /sys/bus/pci/drivers/nvidia/unbind 0000:01:00.0 -> ok\n"
           "3 write /sys/bus/pci/drivers_probe 0000:01:00.0 -> ok\n"));
  g_assert_nonnull(strstr(log,
                          "write /sys/bus/pci/devices/0000:01:00.3/driver_override \"\" -> ok\n"
                          "23 write /sys/bus/pci/drivers/vfio-pci/unbind 0000:01:00.3 -> ok\n"));
}

static void
test_round_trip_every_machine(void)
{
  for (guint m = 0; machines[m] != NULL; m++) {
    g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(machines[m]);
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autofree char *devices = NULL;
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GPtrArray) bdfs = g_ptr_array_new_with_free_func(g_free);
    gboolean iommu;
    const char *name;

    if (sim == NULL)
      return;
    if (strstr(machines[m], "-held") != NULL) {
      /* the holders would block the unbinds (see holders-block-unbind) */
      g_autoptr(GError) error = NULL;
      g_assert_true(vxm_simhost_kill(sim, 1187, &error));
      g_assert_true(vxm_simhost_kill(sim, 4120, &error));
    }
    before = vxm_simhost_state(sim);
    iommu = sys_exists(sim, "/sys/kernel/iommu_groups");
    devices = vxm_simhost_path(sim, "/sys/bus/pci/devices");
    dir = g_dir_open(devices, 0, NULL);
    while ((name = g_dir_read_name(dir)) != NULL) {
      g_autofree char *cls_path = g_strdup_printf("/sys/bus/pci/devices/%s/class", name);
      g_autofree char *cls = sys_read(sim, cls_path);
      /* endpoints only: vfio-pci refuses bridges */
      if (!g_str_has_prefix(cls, "0x0604") && !g_str_has_prefix(cls, "0x0600"))
        g_ptr_array_add(bdfs, g_strdup(name));
    }
    for (guint i = 0; i < bdfs->len; i++) {
      g_autofree char *driver = NULL;
      detach_to_vfio(sim, bdfs->pdata[i]);
      driver = driver_of(sim, bdfs->pdata[i]);
      g_assert_cmpstr(driver, ==, iommu ? "vfio-pci" : "none");
    }
    for (guint i = 0; i < bdfs->len; i++)
      reattach(sim, bdfs->pdata[i]);
    after = vxm_simhost_state(sim);
    g_assert_cmpstr(after, ==, before);
  }
}

static void
test_bind_errors(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(TURING);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *log = NULL;

  if (sim == NULL)
    return;
  before = vxm_simhost_state(sim);
  vxm_simhost_clear_log(sim);
  /* unbind from a driver the device is not bound to */
  g_assert_cmpint(sys_write(sim, DRIVERS "/snd_hda_intel/unbind", GPU), ==, ENODEV);
  /* bind of a bound device to a matching driver */
  g_assert_cmpint(sys_write(sim, DRIVERS "/nvidia/bind", GPU "\n"), ==, EBUSY);
  /* a driver whose ids do not match */
  g_assert_cmpint(sys_write(sim, DRIVERS "/i915/bind", GPU), ==, ENODEV);
  /* no such device, short forms and garbage are not names the kernel knows */
  g_assert_cmpint(sys_write(sim, DRIVERS "/nvidia/bind", "0000:09:00.0"), ==, ENODEV);
  g_assert_cmpint(sys_write(sim, DRIVERS "/nvidia/unbind", "01:00.0"), ==, ENODEV);
  g_assert_cmpint(sys_write(sim, PROBE, "1:0.0"), ==, ENODEV);
  g_assert_cmpint(sys_write(sim, PROBE, "garbage"), ==, ENODEV);
  g_assert_cmpint(sys_write(sim, DRIVERS "/vfio-pci/new_id", "zz"), ==, EINVAL);
  g_assert_cmpint(sys_write(sim, DRIVERS "/vfio-pci/remove_id", "10de 1f07"), ==, ENODEV);
  /* vfio-pci refuses bridges even when asked by override */
  g_assert_cmpint(sys_write(sim, DEV("0000:00:01.0", "driver_override"), "vfio-pci"), ==, 0);
  g_assert_cmpint(sys_write(sim, DRIVERS "/pcieport/unbind", "0000:00:01.0"), ==, 0);
  g_assert_cmpint(sys_write(sim, DRIVERS "/vfio-pci/bind", "0000:00:01.0"), ==, EINVAL);
  g_assert_cmpint(sys_write(sim, DEV("0000:00:01.0", "driver_override"), "\n"), ==, 0);
  g_assert_cmpint(sys_write(sim, DRIVERS "/pcieport/bind", "0000:00:01.0"), ==, 0);
  /* the bind and unbind attributes are write-only */
  g_assert_null(sys_read(sim, DRIVERS "/nvidia/bind"));

  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
  log = vxm_simhost_read_log(sim);
  g_assert_true(
      g_str_has_prefix(log, "1 write /sys/bus/pci/drivers/snd_hda_intel/unbind 0000:01:00.0 -> "
                            "ENODEV\n"
                            "2 write /sys/bus/pci/drivers/nvidia/bind 0000:01:00.0 -> EBUSY\n"));
}

static void
test_override_and_probe(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(TURING);
  const char *audio = "0000:01:00.1";
  g_autofree char *driver = NULL;
  g_autofree char *override = NULL;

  if (sim == NULL)
    return;
  /* an override naming a driver that does not exist leaves the device unbound */
  g_assert_cmpint(sys_write(sim, DEV("0000:01:00.1", "driver_override"), "pci-stub\n"), ==, 0);
  g_assert_cmpint(sys_write(sim, DRIVERS "/snd_hda_intel/unbind", audio), ==, 0);
  g_assert_cmpint(sys_write(sim, PROBE, audio), ==, 0);
  driver = driver_of(sim, audio);
  g_assert_cmpstr(driver, ==, "none");
  /* and keeps other drivers from binding it, even explicitly */
  g_assert_cmpint(sys_write(sim, DRIVERS "/snd_hda_intel/bind", audio), ==, ENODEV);
  /* writing a newline clears it; the override is read back as (null) */
  g_assert_cmpint(sys_write(sim, DEV("0000:01:00.1", "driver_override"), "\n"), ==, 0);
  override = sys_read(sim, DEV("0000:01:00.1", "driver_override"));
  g_assert_cmpstr(override, ==, "(null)\n");
  /* probing a bound device changes nothing and succeeds */
  g_assert_cmpint(sys_write(sim, PROBE, GPU), ==, 0);
  /* an unbound device with no override gets the first matching driver */
  g_assert_cmpint(sys_write(sim, PROBE, audio), ==, 0);
  g_clear_pointer(&driver, g_free);
  driver = driver_of(sim, audio);
  g_assert_cmpstr(driver, ==, "snd_hda_intel");
  /* explicit bind after unbind works when ids match */
  g_assert_cmpint(sys_write(sim, DRIVERS "/snd_hda_intel/unbind", audio), ==, 0);
  g_assert_cmpint(sys_write(sim, DRIVERS "/snd_hda_intel/bind", audio), ==, 0);
  /* only the text up to the first newline counts; a lone newline clears */
  g_assert_cmpint(sys_write(sim, DEV("0000:01:00.1", "driver_override"), "vfio-pci\nx"), ==, 0);
  g_clear_pointer(&override, g_free);
  override = sys_read(sim, DEV("0000:01:00.1", "driver_override"));
  g_assert_cmpstr(override, ==, "vfio-pci\n");
  g_assert_cmpint(sys_write(sim, DEV("0000:01:00.1", "driver_override"), "\n"), ==, 0);
  g_clear_pointer(&override, g_free);
  override = sys_read(sim, DEV("0000:01:00.1", "driver_override"));
  g_assert_cmpstr(override, ==, "(null)\n");
  /* autoprobe off: nothing binds on its own after new_id */
  g_assert_cmpint(sys_write(sim, "/sys/bus/pci/drivers_autoprobe", "2"), ==, EINVAL);
}

static void
test_new_id_remove_id(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(TURING);
  g_autofree char *before = NULL;
  g_autofree char *state = NULL;
  g_autofree char *after = NULL;
  g_autofree char *driver = NULL;

  if (sim == NULL)
    return;
  before = vxm_simhost_state(sim);
  g_assert_cmpint(sys_write(sim, DRIVERS "/nvidia/unbind", GPU), ==, 0);
  /* new_id adds the id and probes unbound matching devices, like the kernel */
  g_assert_cmpint(sys_write(sim, DRIVERS "/vfio-pci/new_id", "10de 1f07\n"), ==, 0);
  driver = driver_of(sim, GPU);
  g_assert_cmpstr(driver, ==, "vfio-pci");
  g_assert_true(sys_exists(sim, "/dev/vfio/1"));
  state = vxm_simhost_state(sim);
  g_assert_nonnull(strstr(state, "driver vfio-pci new_id=10de:1f07\n"));
  /* the same id again: the driver already matches it */
  g_assert_cmpint(sys_write(sim, DRIVERS "/vfio-pci/new_id", "10de 1f07"), ==, EEXIST);
  g_assert_cmpint(sys_write(sim, DRIVERS "/vfio-pci/remove_id", "10de 1f07"), ==, 0);
  g_assert_cmpint(sys_write(sim, DRIVERS "/vfio-pci/remove_id", "10de 1f07"), ==, ENODEV);
  /* removing the id does not unbind */
  g_clear_pointer(&driver, g_free);
  driver = driver_of(sim, GPU);
  g_assert_cmpstr(driver, ==, "vfio-pci");
  g_assert_cmpint(sys_write(sim, DRIVERS "/vfio-pci/unbind", GPU), ==, 0);
  g_assert_false(sys_exists(sim, "/dev/vfio/1"));
  g_assert_cmpint(sys_write(sim, PROBE, GPU), ==, 0);
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
}

/* ---- /dev ---- */

static void
test_vfio_group_node(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(TURING);
  g_autofree char *node = NULL;
  g_autofree char *log = NULL;
  g_autofree char *state = NULL;
  struct stat st;
  vxm_autofd int fd = -1;

  if (sim == NULL)
    return;
  node = vxm_simhost_path(sim, "/dev/vfio/1");
  detach_to_vfio(sim, "0000:01:00.1");
  g_assert_cmpint(stat(node, &st), ==, 0);
  g_assert_true(S_ISREG(st.st_mode));
  g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
  g_assert_cmpuint(st.st_uid, ==, 0);
  vxm_simhost_clear_log(sim);
  /* handing the node to a user sticks and is logged */
  g_assert_cmpint(chown(node, 1000, 1000), ==, 0);
  g_assert_cmpint(chmod(node, 0660), ==, 0);
  g_assert_cmpint(stat(node, &st), ==, 0);
  g_assert_cmpuint(st.st_uid, ==, 1000);
  g_assert_cmpuint(st.st_gid, ==, 1000);
  g_assert_cmpuint(st.st_mode & 07777, ==, 0660);
  fd = open(node, O_RDWR | O_CLOEXEC);
  g_assert_cmpint(fd, >=, 0);
  log = vxm_simhost_read_log(sim);
  g_assert_cmpstr(log, ==,
                  "1 chown /dev/vfio/1 1000:1000 -> ok\n"
                  "2 chmod /dev/vfio/1 0660 -> ok\n"
                  "3 open /dev/vfio/1 rw -> ok\n");
  /* one open file per group, as vfio's group file allows */
  {
    vxm_autofd int second = open(node, O_RDWR | O_CLOEXEC);
    g_assert_cmpint(second, <, 0);
    g_assert_cmpint(errno, ==, EBUSY);
  }
  /* the unbinds below would wait for it (see unbind-waits-for-vfio-holder) */
  close(g_steal_fd(&fd));
  state = vxm_simhost_state(sim);
  g_assert_nonnull(strstr(state, "dev /dev/vfio/1 owner=1000:1000 mode=0660\n"));
  /* a second device of the group keeps the node; the last one leaving removes it */
  detach_to_vfio(sim, GPU);
  reattach(sim, "0000:01:00.1");
  g_assert_true(sys_exists(sim, "/dev/vfio/1"));
  reattach(sim, GPU);
  g_assert_false(sys_exists(sim, "/dev/vfio/1"));
  /* it comes back as the kernel makes it: root's, 0600 */
  detach_to_vfio(sim, GPU);
  g_assert_cmpint(stat(node, &st), ==, 0);
  g_assert_cmpuint(st.st_uid, ==, 0);
  g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
}

static void
test_iommu_off(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("iommu-off");
  g_autofree char *driver = NULL;
  g_autofree char *cmdline = NULL;

  if (sim == NULL)
    return;
  g_assert_false(sys_exists(sim, "/sys/kernel/iommu_groups"));
  g_assert_false(sys_exists(sim, DEV(GPU, "iommu_group")));
  g_assert_false(sys_exists(sim, "/dev/vfio"));
  g_assert_true(sys_exists(sim, DEV(GPU, "vendor")));
  cmdline = sys_read(sim, "/proc/cmdline");
  g_assert_null(strstr(cmdline, "iommu"));
  /* vfio-pci cannot take a device without an IOMMU group */
  g_assert_cmpint(sys_write(sim, DRIVERS "/nvidia/unbind", GPU), ==, 0);
  g_assert_cmpint(sys_write(sim, DRIVERS "/vfio-pci/new_id", "10de 1b80"), ==, 0);
  driver = driver_of(sim, GPU);
  g_assert_cmpstr(driver, ==, "none");
  g_assert_cmpint(sys_write(sim, DEV(GPU, "driver_override"), "vfio-pci"), ==, 0);
  g_assert_cmpint(sys_write(sim, DRIVERS "/vfio-pci/bind", GPU), ==, EINVAL);
  g_assert_cmpint(sys_write(sim, PROBE, GPU), ==, 0);
  g_clear_pointer(&driver, g_free);
  driver = driver_of(sim, GPU);
  g_assert_cmpstr(driver, ==, "none");
  g_assert_false(sys_exists(sim, "/dev/vfio"));
}

/* ---- /proc ---- */

static void
test_proc(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing-held");
  g_autoptr(VxmSimhost) amd = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *comm = NULL;
  g_autofree char *fd3 = NULL;
  g_autofree char *fd4 = NULL;
  g_autofree char *obs = NULL;
  g_autofree char *meminfo = NULL;
  g_autofree char *cpuinfo = NULL;
  g_autofree char *cmdline = NULL;
  g_autofree char *state = NULL;
  gsize len = 0;

  if (sim == NULL)
    return;
  comm = sys_read(sim, "/proc/1187/comm");
  /* the kernel keeps 15 characters of a command's name */
  g_assert_cmpstr(comm, ==, "nvidia-persiste\n");
  fd3 = sys_link(sim, "/proc/1187/fd/3");
  fd4 = sys_link(sim, "/proc/1187/fd/4");
  obs = sys_link(sim, "/proc/4120/fd/3");
  g_assert_cmpstr(fd3, ==, "/dev/nvidia0");
  g_assert_cmpstr(fd4, ==, "/dev/nvidiactl");
  g_assert_cmpstr(obs, ==, "/dev/dri/renderD129");
  {
    g_autofree char *path = vxm_simhost_path(sim, "/proc/1187/cmdline");
    g_assert_true(g_file_get_contents(path, &cmdline, &len, NULL));
    g_assert_cmpmem(cmdline, len, "/usr/bin/nvidia-persistenced\0--user\0nvidia-persistenced", 56);
  }
  meminfo = sys_read(sim, "/proc/meminfo");
  g_assert_true(g_str_has_prefix(meminfo, "MemTotal:       32768000 kB\n"));
  cpuinfo = sys_read(sim, "/proc/cpuinfo");
  g_assert_nonnull(strstr(cpuinfo, "vendor_id\t: GenuineIntel\n"));
  g_assert_true(sys_exists(sim, "/dev/kvm"));
  g_assert_true(sys_exists(sim, "/dev/nvidia0"));

  /* the holder exits */
  g_assert_true(vxm_simhost_kill(sim, 1187, &error));
  g_assert_no_error(error);
  g_assert_false(sys_exists(sim, "/proc/1187"));
  g_assert_false(vxm_simhost_kill(sim, 1187, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  state = vxm_simhost_state(sim);
  g_assert_nonnull(strstr(state, "process 1187 exited\nprocess 4120 obs\n"));

  amd = vxm_simhost_start_for_test("amd-apu-radeon");
  g_clear_pointer(&cpuinfo, g_free);
  cpuinfo = sys_read(amd, "/proc/cpuinfo");
  g_assert_nonnull(strstr(cpuinfo, "vendor_id\t: AuthenticAMD\n"));
  g_assert_false(sys_exists(amd, "/dev/nvidia0"));
  g_assert_false(sys_exists(amd, "/proc/1187"));
}

/* Where another user's /proc/PID/fd link points is the kernel's to tell only to that user or
 * to a caller with CAP_SYS_PTRACE (proc_fd_link's ptrace check): root without it gets EACCES,
 * as vxmd would if its unit lacked the capability. @uid: the child's uid (0: root without
 * CAP_SYS_PTRACE). The child's readlink errno, 0 when it read the link. */
static int
fd_link_errno_as(VxmSimhost *sim, uid_t uid)
{
  g_autofree char *link = vxm_simhost_path(sim, "/proc/4120/fd/3");
  pid_t child = fork();
  int status = 0;

  if (child == 0) {
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[2];
    char target[256];

    if (uid != 0 && (setgid(uid) != 0 || setuid(uid) != 0))
      _exit(200);
    if (uid == 0) {
      if (syscall(SYS_capget, &header, data) != 0)
        _exit(201);
      data[CAP_SYS_PTRACE / 32].effective &= ~(1u << (CAP_SYS_PTRACE % 32));
      if (syscall(SYS_capset, &header, data) != 0)
        _exit(202);
    }
    _exit(readlink(link, target, sizeof target) < 0 ? errno : 0);
  }
  g_assert_cmpint(waitpid(child, &status, 0), ==, child);
  g_assert_true(WIFEXITED(status));
  g_assert_cmpint(WEXITSTATUS(status), <, 200);
  return WEXITSTATUS(status);
}

static void
test_proc_fd_links_need_ptrace(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing-held");
  g_autofree char *obs = NULL;

  if (sim == NULL)
    return;
  /* root with its capabilities reads it (test_proc); without CAP_SYS_PTRACE it may not */
  obs = sys_link(sim, "/proc/4120/fd/3");
  g_assert_cmpstr(obs, ==, "/dev/dri/renderD129");
  g_assert_cmpint(fd_link_errno_as(sim, 0), ==, EACCES);
  /* obs's own user may */
  g_assert_cmpint(fd_link_errno_as(sim, 1000), ==, 0);
}

/* ---- faults ---- */

static void
test_fault_errno_count(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(TURING);
  g_autoptr(GError) error = NULL;
  g_autofree char *rules = NULL;
  g_autofree char *log = NULL;
  g_autofree char *driver = NULL;

  if (sim == NULL)
    return;
  g_assert_true(vxm_simhost_add_fault(
      sim, "write /sys/bus/pci/drivers/*/unbind errno=EBUSY count=1", &error));
  g_assert_no_error(error);
  rules = sys_read(sim, "/.simhost/faults");
  g_assert_cmpstr(rules, ==, "write /sys/bus/pci/drivers/*/unbind errno=EBUSY count=1\n");
  vxm_simhost_clear_log(sim);
  g_assert_cmpint(sys_write(sim, DEV(GPU, "driver/unbind"), GPU), ==, EBUSY);
  /* nothing happened */
  driver = driver_of(sim, GPU);
  g_assert_cmpstr(driver, ==, "nvidia");
  /* the rule is used up */
  g_assert_cmpint(sys_write(sim, DEV(GPU, "driver/unbind"), GPU), ==, 0);
  g_clear_pointer(&rules, g_free);
  rules = sys_read(sim, "/.simhost/faults");
  g_assert_cmpstr(rules, ==, "");
  log = vxm_simhost_read_log(sim);
  g_assert_cmpstr(log, ==,
                  "1 write /sys/bus/pci/drivers/nvidia/unbind 0000:01:00.0 -> EBUSY\n"
                  "2 write /sys/bus/pci/drivers/nvidia/unbind 0000:01:00.0 -> ok\n");

  /* a value glob picks the device; an attribute matches by its bus path */
  g_assert_true(vxm_simhost_add_fault(
      sim, "write /sys/bus/pci/drivers_probe value=0000:01:00.1 errno=ENOMEM", &error));
  g_assert_true(vxm_simhost_add_fault(
      sim, "write /sys/bus/pci/devices/*/driver_override errno=EINVAL", &error));
  g_assert_true(vxm_simhost_add_fault(sim, "open /dev/nvidia* errno=EACCES", &error));
  g_assert_cmpint(sys_write(sim, PROBE, "0000:01:00.1"), ==, ENOMEM);
  g_assert_cmpint(sys_write(sim, PROBE, GPU), ==, 0);
  g_assert_cmpint(sys_write(sim, DEV("0000:01:00.2", "driver_override"), "vfio-pci"), ==, EINVAL);
  g_assert_cmpint(sys_write(sim, "/dev/nvidiactl", "x"), ==, EACCES);
  g_clear_pointer(&driver, g_free);
  driver = driver_of(sim, GPU);
  g_assert_cmpstr(driver, ==, "nvidia");
  vxm_simhost_clear_faults(sim);
  g_assert_cmpint(sys_write(sim, DEV("0000:01:00.2", "driver_override"), "\n"), ==, 0);

  /* malformed rules are refused */
  g_assert_false(vxm_simhost_add_fault(sim, "write /x errno=ENOPE", &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
  g_clear_error(&error);
  g_assert_false(vxm_simhost_add_fault(sim, "frobnicate /x hang", &error));
  g_clear_error(&error);
  g_assert_false(vxm_simhost_add_fault(sim, "write /x", &error));
  g_clear_error(&error);
  g_assert_false(vxm_simhost_add_fault(sim, "write /x hang errno=EIO", &error));
  g_clear_error(&error);
}

static void
test_fault_delay(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(TURING);
  g_autoptr(GError) error = NULL;
  g_autofree char *driver = NULL;
  gint64 started;

  if (sim == NULL)
    return;
  g_assert_true(
      vxm_simhost_add_fault(sim, "write /sys/bus/pci/drivers/nvidia/unbind delay=300", &error));
  g_assert_no_error(error);
  started = g_get_monotonic_time();
  g_assert_cmpint(sys_write(sim, DRIVERS "/nvidia/unbind", GPU), ==, 0);
  /* the write waited, then took effect */
  g_assert_cmpint(g_get_monotonic_time() - started, >=, 300 * G_TIME_SPAN_MILLISECOND);
  driver = driver_of(sim, GPU);
  g_assert_cmpstr(driver, ==, "none");
}

typedef struct {
  VxmSimhost *sim;
  int result;
} HangJob;

static gpointer
hang_thread(gpointer data)
{
  HangJob *job = data;

  job->result = sys_write(job->sim, DRIVERS "/nvidia/unbind", GPU);
  return NULL;
}

static void
test_fault_hang_release(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(TURING);
  g_autoptr(GError) error = NULL;
  g_autofree char *driver = NULL;
  g_autofree char *vendor = NULL;
  g_autofree char *log = NULL;
  HangJob job = {NULL, -1};
  GThread *thread;

  if (sim == NULL)
    return;
  job.sim = sim;
  g_assert_true(
      vxm_simhost_add_fault(sim, "write /sys/bus/pci/drivers/nvidia/unbind hang", &error));
  vxm_simhost_clear_log(sim);
  thread = g_thread_new("unbind", hang_thread, &job);
  g_assert_true(vxm_simhost_wait_hung(sim, 1, 10000));
  /* the unbind has not happened; the rest of the host still answers */
  driver = driver_of(sim, GPU);
  g_assert_cmpstr(driver, ==, "nvidia");
  vendor = sys_read(sim, DEV("0000:01:00.1", "vendor"));
  g_assert_cmpstr(vendor, ==, "0x10de\n");
  g_assert_cmpint(sys_write(sim, DRIVERS "/snd_hda_intel/unbind", "0000:01:00.1"), ==, 0);
  log = vxm_simhost_read_log(sim);
  g_assert_true(g_str_has_prefix(log, "1 write /sys/bus/pci/drivers/nvidia/unbind 0000:01:00.0 "
                                      "-> hang\n"));
  vxm_simhost_release(sim);
  g_thread_join(thread);
  /* released, it went on */
  g_assert_cmpint(job.result, ==, 0);
  g_clear_pointer(&driver, g_free);
  driver = driver_of(sim, GPU);
  g_assert_cmpstr(driver, ==, "none");
  g_assert_cmpuint(vxm_simhost_hung_count(sim), ==, 0);
  g_clear_pointer(&log, g_free);
  log = vxm_simhost_read_log(sim);
  g_assert_nonnull(strstr(log, "3 write /sys/bus/pci/drivers/nvidia/unbind 0000:01:00.0 -> ok\n"));
}

static void
test_holders_block_unbind(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing-held");
  g_autoptr(GError) error = NULL;
  g_autofree char *driver = NULL;
  g_autofree char *log = NULL;
  HangJob job = {NULL, -1};
  GThread *thread;

  if (sim == NULL)
    return;
  job.sim = sim;
  vxm_simhost_clear_log(sim);
  /* NVIDIA's unbind waits while anything holds the card, as the real driver does */
  thread = g_thread_new("unbind", hang_thread, &job);
  g_assert_true(vxm_simhost_wait_hung(sim, 1, 10000));
  log = vxm_simhost_read_log(sim);
  g_assert_cmpstr(log, ==, "1 write /sys/bus/pci/drivers/nvidia/unbind 0000:01:00.0 -> hang\n");
  /* one holder gone is not enough; the driver core took the driver link away before
   * calling the driver's remove(), which is what waits */
  g_assert_true(vxm_simhost_kill(sim, 4120, &error));
  g_assert_no_error(error);
  driver = driver_of(sim, GPU);
  g_assert_cmpstr(driver, ==, "none");
  g_assert_cmpuint(vxm_simhost_hung_count(sim), ==, 1);
  /* the last one gone lets it finish */
  g_assert_true(vxm_simhost_kill(sim, 1187, &error));
  g_thread_join(thread);
  g_assert_cmpint(job.result, ==, 0);
  g_clear_pointer(&driver, g_free);
  driver = driver_of(sim, GPU);
  g_assert_cmpstr(driver, ==, "none");
  /* devices nothing holds unbind at once */
  g_assert_cmpint(sys_write(sim, DRIVERS "/snd_hda_intel/unbind", "0000:01:00.1"), ==, 0);
}

/* ---- lab facts (tests/simhost/README.md, "Checked against the lab") ---- */

#define LAB       "lab-q35"
#define LAB_GPU   "0000:01:00.0"
#define LAB_AUDIO "0000:01:00.1"
#define LAB_GROUP "/dev/vfio/5"

typedef struct {
  VxmSimhost *sim;
  const char *path;
  const char *value; /* NULL: read */
  int result;
  char *text;
  gint done;
} SysJob;

static gpointer
sys_job_thread(gpointer data)
{
  SysJob *job = data;

  if (job->value != NULL)
    job->result = sys_write(job->sim, job->path, job->value);
  else
    job->text = sys_read(job->sim, job->path);
  g_atomic_int_set(&job->done, 1);
  return NULL;
}

static gboolean
control(VxmSimhost *sim, const char *file, const char *text)
{
  g_autofree char *path = g_strdup_printf("/.simhost/%s", file);
  return sys_write(sim, path, text) == 0;
}

/* The lab's GPU slot on vfio-pci, its group file open in this process. */
static int
lab_group_held(VxmSimhost *sim)
{
  g_autofree char *node = vxm_simhost_path(sim, LAB_GROUP);
  int fd;

  g_assert_true(control(sim, "modules", "load vfio-pci"));
  detach_to_vfio(sim, LAB_GPU);
  detach_to_vfio(sim, LAB_AUDIO);
  fd = open(node, O_RDWR | O_CLOEXEC);
  g_assert_cmpint(fd, >=, 0);
  return fd;
}

static void
test_unbind_waits_for_vfio_holder(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(LAB);
  g_autofree char *fd_link = NULL;
  g_autofree char *comm = NULL;
  g_autofree char *log = NULL;
  g_autofree char *driver = NULL;
  SysJob job = {0};
  GThread *thread;
  int fd;

  if (sim == NULL)
    return;
  fd = lab_group_held(sim);
  /* the holder shows in /proc like any process holding a file */
  {
    g_autofree char *link = g_strdup_printf("/proc/%d/fd/3", (int)getpid());
    fd_link = sys_link(sim, link);
  }
  g_assert_cmpstr(fd_link, ==, LAB_GROUP);
  {
    g_autofree char *comm_path = g_strdup_printf("/proc/%d/comm", (int)getpid());
    comm = sys_read(sim, comm_path);
    g_assert_cmpstr(comm, ==, "test-simhost\n");
  }
  vxm_simhost_clear_log(sim);
  job = (SysJob){sim, DRIVERS "/vfio-pci/unbind", LAB_GPU, -1, NULL, 0};
  thread = g_thread_new("unbind", sys_job_thread, &job);
  /* vfio-pci's remove waits for the group's user ("Relaying device request to user") */
  g_assert_true(vxm_simhost_wait_hung(sim, 1, 10000));
  g_usleep(100 * G_TIME_SPAN_MILLISECOND);
  g_assert_false(g_atomic_int_get(&job.done));
  log = vxm_simhost_read_log(sim);
  g_assert_cmpstr(log, ==, "1 write /sys/bus/pci/drivers/vfio-pci/unbind 0000:01:00.0 -> hang\n");
  /* the group's other device is not waited for until it is unbound itself */
  g_assert_true(sys_exists(sim, LAB_GROUP));
  /* the holder closes: the unbind finishes */
  close(fd);
  g_thread_join(thread);
  g_assert_cmpint(job.result, ==, 0);
  driver = driver_of(sim, LAB_GPU);
  g_assert_cmpstr(driver, ==, "none");
  {
    g_autofree char *dir = g_strdup_printf("/proc/%d", (int)getpid());
    g_assert_false(sys_exists(sim, dir));
  }
  /* nothing holds it now: the audio function unbinds at once and the node goes */
  g_assert_cmpint(sys_write(sim, DRIVERS "/vfio-pci/unbind", LAB_AUDIO), ==, 0);
  g_assert_false(sys_exists(sim, LAB_GROUP));
}

static void
test_pending_unbind_blocks_reads(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(LAB);
  g_autofree char *vendor = NULL;
  g_autofree char *other = NULL;
  SysJob unbind = {0};
  SysJob read = {0};
  SysJob probe = {0};
  GThread *unbind_thread, *read_thread, *probe_thread;
  int fd;

  if (sim == NULL)
    return;
  fd = lab_group_held(sim);
  unbind = (SysJob){sim, DRIVERS "/vfio-pci/unbind", LAB_GPU, -1, NULL, 0};
  unbind_thread = g_thread_new("unbind", sys_job_thread, &unbind);
  g_assert_true(vxm_simhost_wait_hung(sim, 1, 10000));
  /* driver_override's show takes the device lock the waiting unbind holds: D state */
  read = (SysJob){sim, DEV(LAB_GPU, "driver_override"), NULL, -1, NULL, 0};
  read_thread = g_thread_new("read", sys_job_thread, &read);
  /* and so does a probe of the device */
  probe = (SysJob){sim, PROBE, LAB_GPU, -1, NULL, 0};
  probe_thread = g_thread_new("probe", sys_job_thread, &probe);
  g_assert_true(vxm_simhost_wait_hung(sim, 3, 10000));
  g_usleep(100 * G_TIME_SPAN_MILLISECOND);
  g_assert_false(g_atomic_int_get(&read.done));
  g_assert_false(g_atomic_int_get(&probe.done));
  /* attributes that take no lock answer, and so does the other function */
  vendor = sys_read(sim, DEV(LAB_GPU, "vendor"));
  g_assert_cmpstr(vendor, ==, "0x1234\n");
  other = sys_read(sim, DEV(LAB_AUDIO, "driver_override"));
  g_assert_cmpstr(other, ==, "vfio-pci\n");
  /* the holder lets go: the unbind, then the read and the probe go on */
  close(fd);
  g_thread_join(unbind_thread);
  g_thread_join(read_thread);
  g_thread_join(probe_thread);
  g_assert_cmpint(unbind.result, ==, 0);
  g_assert_cmpstr(read.text, ==, "vfio-pci\n");
  g_assert_cmpint(probe.result, ==, 0);
  g_free(read.text);
  g_assert_cmpuint(vxm_simhost_hung_count(sim), ==, 0);
}

static void
test_vfio_pci_absent_until_loaded(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(LAB);
  g_autofree char *driver = NULL;
  g_autofree char *state = NULL;
  g_autofree char *modules = NULL;
  g_autofree char *log = NULL;

  if (sim == NULL)
    return;
  /* the lab's fresh boot: no vfio-pci, and nothing loads it on demand */
  g_assert_false(sys_exists(sim, DRIVERS "/vfio-pci"));
  g_assert_false(sys_exists(sim, "/sys/module/vfio_pci"));
  state = vxm_simhost_state(sim);
  g_assert_nonnull(strstr(state, "driver vfio-pci new_id=none unloaded\n"));
  detach_to_vfio(sim, LAB_GPU);
  driver = driver_of(sim, LAB_GPU);
  g_assert_cmpstr(driver, ==, "none");
  g_assert_false(sys_exists(sim, LAB_GROUP));
  modules = sys_read(sim, "/.simhost/modules");
  g_assert_nonnull(strstr(modules, "vfio_pci absent\n"));
  /* modprobe vfio-pci: the driver registers and takes the device its override names */
  vxm_simhost_clear_log(sim);
  g_assert_true(control(sim, "modules", "load vfio-pci"));
  g_assert_false(control(sim, "modules", "load vfio_pci")); /* EEXIST */
  g_assert_true(sys_exists(sim, "/sys/module/vfio_pci"));
  g_assert_true(sys_exists(sim, DRIVERS "/vfio-pci/bind"));
  g_clear_pointer(&driver, g_free);
  driver = driver_of(sim, LAB_GPU);
  g_assert_cmpstr(driver, ==, "vfio-pci");
  g_assert_true(sys_exists(sim, LAB_GROUP));
  log = vxm_simhost_read_log(sim);
  g_assert_true(g_str_has_prefix(log, "1 modprobe /sys/module/vfio_pci -> ok\n"
                                      "2 modprobe /sys/module/vfio_pci -> EEXIST\n"));
  /* modprobe -r: refused while the group is open, else the devices are unbound first */
  {
    g_autofree char *node = vxm_simhost_path(sim, LAB_GROUP);
    vxm_autofd int fd = open(node, O_RDWR | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    g_assert_false(control(sim, "modules", "unload vfio-pci"));
  }
  g_assert_true(control(sim, "modules", "unload vfio-pci"));
  g_clear_pointer(&driver, g_free);
  driver = driver_of(sim, LAB_GPU);
  g_assert_cmpstr(driver, ==, "none");
  g_assert_false(sys_exists(sim, DRIVERS "/vfio-pci"));
  g_assert_false(sys_exists(sim, "/sys/module/vfio_pci"));
  g_assert_false(sys_exists(sim, LAB_GROUP));
  g_assert_false(control(sim, "modules", "unload vfio-pci")); /* ENOENT */
  g_assert_false(control(sim, "modules", "load no-such-module"));
}

static void
test_reset_method_at_discovery(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(LAB);
  g_autoptr(GError) error = NULL;
  g_autofree char *gpu = NULL;
  g_autofree char *audio = NULL;
  g_autofree char *again = NULL;

  if (sim == NULL)
    return;
  /* found first and alone on bus 01: a bus reset; found beside it: nothing */
  gpu = sys_read(sim, DEV(LAB_GPU, "reset_method"));
  g_assert_cmpstr(gpu, ==, "bus\n");
  g_assert_true(sys_exists(sim, DEV(LAB_GPU, "reset")));
  audio = sys_read(sim, DEV(LAB_AUDIO, "reset_method"));
  g_assert_cmpstr(audio, ==, "\n");
  g_assert_false(sys_exists(sim, DEV(LAB_AUDIO, "reset")));
  /* found again (hotplug) beside the audio function, the GPU gets no bus reset either */
  g_assert_true(vxm_simhost_unplug(sim, LAB_GPU, &error));
  g_assert_true(vxm_simhost_replug(sim, LAB_GPU, &error));
  g_assert_no_error(error);
  again = sys_read(sim, DEV(LAB_GPU, "reset_method"));
  g_assert_cmpstr(again, ==, "\n");
}

static void
test_fault_vanish_and_replug(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(TURING);
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *state = NULL;
  g_autofree char *after = NULL;
  g_autofree char *driver = NULL;
  g_autofree char *log = NULL;

  if (sim == NULL)
    return;
  before = vxm_simhost_state(sim);
  g_assert_true(vxm_simhost_add_fault(
      sim, "write /sys/bus/pci/devices/0000:01:00.1/driver_override vanish count=1", &error));
  g_assert_no_error(error);
  vxm_simhost_clear_log(sim);
  g_assert_cmpint(sys_write(sim, DEV("0000:01:00.1", "driver_override"), "vfio-pci"), ==, ENODEV);
  /* the device is gone from everywhere */
  g_assert_false(sys_exists(sim, "/sys/bus/pci/devices/0000:01:00.1"));
  g_assert_false(sys_exists(sim, "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.1"));
  g_assert_false(sys_exists(sim, "/sys/kernel/iommu_groups/1/devices/0000:01:00.1"));
  g_assert_false(sys_exists(sim, DRIVERS "/snd_hda_intel/0000:01:00.1"));
  g_assert_true(sys_exists(sim, "/sys/kernel/iommu_groups/1/devices/" GPU));
  g_assert_cmpint(sys_write(sim, PROBE, "0000:01:00.1"), ==, ENODEV);
  state = vxm_simhost_state(sim);
  g_assert_nonnull(strstr(state, "pci 0000:01:00.1 absent\n"));
  log = vxm_simhost_read_log(sim);
  g_assert_cmpstr(log, ==,
                  "1 vanish /sys/bus/pci/devices/0000:01:00.1 -> ok\n"
                  "2 write /sys/bus/pci/devices/0000:01:00.1/driver_override vfio-pci -> ENODEV\n"
                  "3 write /sys/bus/pci/drivers_probe 0000:01:00.1 -> ENODEV\n");

  /* vanish on a driver write takes the device named by the value */
  g_assert_true(
      vxm_simhost_add_fault(sim, "write /sys/bus/pci/drivers/*/unbind vanish count=1", &error));
  g_assert_cmpint(sys_write(sim, DRIVERS "/nvidia/unbind", GPU), ==, ENODEV);
  g_assert_false(sys_exists(sim, "/sys/bus/pci/devices/" GPU));
  g_assert_false(sys_exists(sim, "/dev/dri/card1"));

  /* replug: back as a hotplugged device, probed to its driver */
  g_assert_true(vxm_simhost_replug(sim, "0000:01:00.1", &error));
  g_assert_true(vxm_simhost_replug(sim, GPU, &error));
  g_assert_no_error(error);
  driver = driver_of(sim, GPU);
  g_assert_cmpstr(driver, ==, "nvidia");
  g_assert_false(vxm_simhost_replug(sim, GPU, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_clear_error(&error);
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);

  /* unplugging a bridge takes what is below it; a rescan brings all back */
  g_assert_true(vxm_simhost_unplug(sim, "0000:00:01.0", &error));
  g_assert_false(sys_exists(sim, "/sys/bus/pci/devices/0000:01:00.3"));
  g_assert_false(sys_exists(sim, "/sys/kernel/iommu_groups/1"));
  g_assert_cmpint(sys_write(sim, "/sys/bus/pci/rescan", "1"), ==, 0);
  g_clear_pointer(&after, g_free);
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
  /* the kernel's own remove attribute */
  g_assert_cmpint(sys_write(sim, DEV("0000:01:00.2", "remove"), "1"), ==, 0);
  g_assert_false(sys_exists(sim, "/sys/bus/pci/devices/0000:01:00.2"));
}

/* ---- the log ---- */

static void
test_log_clear(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(TURING);
  g_autofree char *log = NULL;

  if (sim == NULL)
    return;
  g_assert_cmpint(sys_write(sim, DEV(GPU, "driver_override"), "a\tb\n"), ==, 0);
  g_assert_cmpint(sys_write(sim, DEV(GPU, "driver_override"), "\n"), ==, 0);
  log = vxm_simhost_read_log(sim);
  g_assert_cmpstr(log, ==,
                  "1 write /sys/bus/pci/devices/0000:01:00.0/driver_override a\\tb -> ok\n"
                  "2 write /sys/bus/pci/devices/0000:01:00.0/driver_override \"\" -> ok\n");
  vxm_simhost_clear_log(sim);
  g_clear_pointer(&log, g_free);
  log = vxm_simhost_read_log(sim);
  g_assert_cmpstr(log, ==, "");
  g_assert_cmpint(sys_write(sim, PROBE, GPU), ==, 0);
  g_clear_pointer(&log, g_free);
  log = vxm_simhost_read_log(sim);
  g_assert_cmpstr(log, ==, "1 write /sys/bus/pci/drivers_probe 0000:01:00.0 -> ok\n");
}

/* ---- writable trees and /usr/share ---- */

static void
test_run_etc_usr_share(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test(TURING);
  g_autoptr(GError) error = NULL;
  g_autofree char *journal = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *text = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *modprobe = NULL;
  g_autofree char *share = NULL;
  g_autofree char *log = NULL;
  struct stat st;

  if (sim == NULL)
    return;
  vxm_simhost_clear_log(sim);
  dir = vxm_simhost_path(sim, "/run/vxm");
  g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
  journal = vxm_simhost_path(sim, "/run/vxm/default.journal");
  /* vxm's atomic replace: temp file, fsync, rename, fsync of the folder */
  g_assert_true(vxm_file_replace_atomic(journal, "step 1\n", -1, 0600, &error));
  g_assert_no_error(error);
  g_assert_true(vxm_file_replace_atomic(journal, "step 2\n", -1, 0600, &error));
  g_assert_true(g_file_get_contents(journal, &text, NULL, NULL));
  g_assert_cmpstr(text, ==, "step 2\n");
  g_assert_cmpint(stat(journal, &st), ==, 0);
  g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
  {
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_assert_cmpstr(g_dir_read_name(d), ==, "default.journal");
    g_assert_null(g_dir_read_name(d));
  }
  /* a plain rename over an existing file, unlink, rmdir */
  tmp = vxm_simhost_path(sim, "/run/vxm/x.tmp");
  g_assert_true(g_file_set_contents(tmp, "other", -1, NULL));
  g_assert_cmpint(rename(tmp, journal), ==, 0);
  g_clear_pointer(&text, g_free);
  g_assert_true(g_file_get_contents(journal, &text, NULL, NULL));
  g_assert_cmpstr(text, ==, "other");
  g_assert_cmpint(rmdir(dir), ==, -1);
  g_assert_cmpint(errno, ==, ENOTEMPTY);
  g_assert_cmpint(chown(journal, 1000, 1000), ==, 0);
  g_assert_cmpint(stat(journal, &st), ==, 0);
  g_assert_cmpuint(st.st_uid, ==, 1000);
  g_assert_cmpint(unlink(journal), ==, 0);
  g_assert_cmpint(rmdir(dir), ==, 0);
  /* /etc takes new folders and files */
  modprobe = vxm_simhost_path(sim, "/etc/modprobe.d/vxm-vfio.conf");
  g_clear_pointer(&dir, g_free);
  dir = vxm_simhost_path(sim, "/etc/modprobe.d");
  g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
  g_assert_true(
      vxm_file_replace_atomic(modprobe, "options vfio-pci ids=10de:1f07\n", -1, 0644, &error));
  g_assert_no_error(error);
  /* files the machine seeds */
  g_clear_pointer(&text, g_free);
  text = sys_read(sim, "/etc/modprobe.d/nvidia-blacklists-nouveau.conf");
  g_assert_true(g_str_has_suffix(text, "\nblacklist nouveau\n"));
  g_clear_pointer(&dir, g_free);
  dir = vxm_simhost_path(sim, "/etc/modprobe.d/nvidia-blacklists-nouveau.conf");
  g_assert_cmpint(stat(dir, &st), ==, 0);
  g_assert_cmpuint(st.st_mode & 07777, ==, 0644);
  /* outside the writable trees nothing can be made */
  g_clear_pointer(&dir, g_free);
  dir = vxm_simhost_path(sim, "/sys/bus/pci/drivers/evil");
  g_assert_cmpint(mkdir(dir, 0755), ==, -1);
  g_assert_cmpint(errno, ==, EACCES);
  /* /usr/share is the real one, read-only */
  share = vxm_simhost_path(sim, "/usr/share/misc/pci.ids");
  if (g_file_test("/usr/share/misc/pci.ids", G_FILE_TEST_EXISTS)) {
    g_autofree char *ids = NULL;
    g_assert_true(g_file_get_contents(share, &ids, NULL, NULL));
    g_assert_nonnull(strstr(ids, "10de  NVIDIA Corporation"));
  }
  g_assert_cmpint(open(share, O_WRONLY | O_CLOEXEC), ==, -1);
  g_assert_cmpint(errno, ==, EROFS);
  /* none of that is in the state dump, and writes there are not logged */
  g_clear_pointer(&text, g_free);
  text = vxm_simhost_state(sim);
  g_assert_null(strstr(text, "journal"));
  log = vxm_simhost_read_log(sim);
  g_assert_cmpstr(log, ==, "");
}

static void
test_stop_unmounts(void)
{
  VxmSimhost *sim = vxm_simhost_start_for_test(TURING);
  g_autofree char *root = NULL;
  g_autoptr(GError) error = NULL;
  HangJob job = {NULL, -1};
  GThread *thread;

  if (sim == NULL)
    return;
  root = g_strdup(vxm_simhost_root(sim));
  /* even with an operation hanging */
  job.sim = sim;
  g_assert_true(
      vxm_simhost_add_fault(sim, "write /sys/bus/pci/drivers/nvidia/unbind hang", &error));
  thread = g_thread_new("unbind", hang_thread, &job);
  g_assert_true(vxm_simhost_wait_hung(sim, 1, 10000));
  vxm_simhost_stop(sim);
  g_thread_join(thread);
  g_assert_false(g_file_test(root, G_FILE_TEST_EXISTS));
}

/* ---- hugepages ---- */

#define HP2M         "/sys/kernel/mm/hugepages/hugepages-2048kB"
#define NODE_HP2M(n) "/sys/devices/system/node/node" n "/hugepages/hugepages-2048kB/nr_hugepages"
#define NODE_HP1G(n) "/sys/devices/system/node/node" n "/hugepages/hugepages-1048576kB/nr_hugepages"

static void
assert_attr(VxmSimhost *sim, const char *path, const char *expected)
{
  g_autofree char *value = sys_read(sim, path);
  g_assert_cmpstr(value, ==, expected);
}

static void
test_hugepages_fragmentation(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("amd-apu-radeon");
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *meminfo = NULL;
  g_autofree char *log = NULL;

  if (sim == NULL)
    return;
  before = vxm_simhost_state(sim);
  vxm_simhost_clear_log(sim);
  /* 8 GiB asked, 4 GiB obtainable: the write succeeds, readback tells the truth */
  g_assert_cmpint(sys_write(sim, NODE_HP2M("0"), "4096"), ==, 0);
  assert_attr(sim, NODE_HP2M("0"), "2048\n");
  assert_attr(sim, HP2M "/nr_hugepages", "2048\n");
  assert_attr(sim, HP2M "/free_hugepages", "2048\n");
  assert_attr(sim, "/proc/sys/vm/nr_hugepages", "2048\n");
  meminfo = sys_read(sim, "/proc/meminfo");
  g_assert_nonnull(strstr(meminfo, "HugePages_Total:    2048\n"));
  g_assert_nonnull(strstr(meminfo, "Hugetlb:         4194304 kB\n"));
  /* the usual cure: drop caches, compact, retry */
  g_assert_cmpint(sys_write(sim, "/proc/sys/vm/drop_caches", "3"), ==, 0);
  g_assert_cmpint(sys_write(sim, "/proc/sys/vm/drop_caches", "4"), ==, EINVAL);
  g_assert_cmpint(sys_write(sim, "/proc/sys/vm/compact_memory", "1"), ==, 0);
  g_assert_cmpint(sys_write(sim, NODE_HP2M("0"), "4096"), ==, 0);
  assert_attr(sim, NODE_HP2M("0"), "4096\n");
  /* even compacted memory has an end */
  g_assert_cmpint(sys_write(sim, "/proc/sys/vm/nr_hugepages", "20000"), ==, 0);
  assert_attr(sim, "/proc/sys/vm/nr_hugepages", "12288\n");
  g_assert_cmpint(sys_write(sim, HP2M "/nr_hugepages", "lots"), ==, EINVAL);
  /* 1 GiB pages cannot be had at run time here */
  g_assert_cmpint(sys_write(sim, NODE_HP1G("0"), "8"), ==, 0);
  assert_attr(sim, NODE_HP1G("0"), "0\n");
  /* giving back restores the count exactly */
  g_assert_cmpint(sys_write(sim, HP2M "/nr_hugepages", "0"), ==, 0);
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
  log = vxm_simhost_read_log(sim);
  g_assert_true(g_str_has_prefix(
      log, "1 write /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages 4096 "
           "-> ok\n"));
  g_assert_nonnull(strstr(log, " write /proc/sys/vm/compact_memory 1 -> ok\n"));
}

static void
test_hugepages_numa(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("xeon-two-node");
  g_autofree char *numa = NULL;

  if (sim == NULL)
    return;
  numa = sys_read(sim, DEV("0000:af:00.0", "numa_node"));
  g_assert_cmpstr(numa, ==, "1\n");
  assert_attr(sim, "/sys/devices/system/node/online", "0-1\n");
  assert_attr(sim, "/sys/devices/system/node/node1/cpulist", "20-39\n");
  /* reserved at boot on node 1 */
  assert_attr(sim, NODE_HP1G("1"), "8\n");
  assert_attr(sim, NODE_HP1G("0"), "0\n");
  assert_attr(sim, "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", "8\n");
  /* a pool-wide count is spread over the nodes in turn */
  g_assert_cmpint(sys_write(sim, HP2M "/nr_hugepages", "10"), ==, 0);
  assert_attr(sim, NODE_HP2M("0"), "5\n");
  assert_attr(sim, NODE_HP2M("1"), "5\n");
  /* until a node runs out: node 1 gives 4096 now, node 0 the rest */
  g_assert_cmpint(sys_write(sim, HP2M "/nr_hugepages", "10000"), ==, 0);
  assert_attr(sim, NODE_HP2M("1"), "4096\n");
  assert_attr(sim, NODE_HP2M("0"), "5904\n");
  /* per node: only that node's pool moves */
  g_assert_cmpint(sys_write(sim, NODE_HP2M("0"), "0"), ==, 0);
  assert_attr(sim, NODE_HP2M("1"), "4096\n");
  assert_attr(sim, HP2M "/nr_hugepages", "4096\n");
  g_assert_cmpint(sys_write(sim, NODE_HP2M("1"), "8192"), ==, 0);
  assert_attr(sim, NODE_HP2M("1"), "4096\n");
  g_assert_cmpint(sys_write(sim, "/proc/sys/vm/compact_memory", "1"), ==, 0);
  g_assert_cmpint(sys_write(sim, NODE_HP2M("1"), "8192"), ==, 0);
  assert_attr(sim, NODE_HP2M("1"), "8192\n");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/simhost/machine/every-file-loads", test_machines_load);
  g_test_add_func("/vxm/simhost/machine/errors-name-file-group-key", test_machine_errors);
  g_test_add_func("/vxm/simhost/sysfs/attributes-and-links", test_attributes);
  g_test_add_func("/vxm/simhost/block/devices-and-mounts", test_block_devices);
  g_test_add_func("/vxm/simhost/bind/detach-reattach-restores", test_detach_reattach);
  g_test_add_func("/vxm/simhost/bind/round-trip-every-machine", test_round_trip_every_machine);
  g_test_add_func("/vxm/simhost/bind/kernel-errors", test_bind_errors);
  g_test_add_func("/vxm/simhost/bind/override-and-probe", test_override_and_probe);
  g_test_add_func("/vxm/simhost/bind/new-id-remove-id", test_new_id_remove_id);
  g_test_add_func("/vxm/simhost/dev/vfio-group-node", test_vfio_group_node);
  g_test_add_func("/vxm/simhost/iommu/off", test_iommu_off);
  g_test_add_func("/vxm/simhost/proc/holders-and-system-files", test_proc);
  g_test_add_func("/vxm/simhost/faults/errno-count-and-globs", test_fault_errno_count);
  g_test_add_func("/vxm/simhost/faults/delay", test_fault_delay);
  g_test_add_func("/vxm/simhost/faults/hang-release", test_fault_hang_release);
  g_test_add_func("/vxm/simhost/faults/vanish-and-replug", test_fault_vanish_and_replug);
  g_test_add_func("/vxm/simhost/proc/holders-block-unbind", test_holders_block_unbind);
  g_test_add_func("/vxm/simhost/proc/fd-links-need-ptrace", test_proc_fd_links_need_ptrace);
  g_test_add_func("/vxm/simhost/log/clear", test_log_clear);
  g_test_add_func("/vxm/simhost/unbind-waits-for-vfio-holder", test_unbind_waits_for_vfio_holder);
  g_test_add_func("/vxm/simhost/pending-unbind-blocks-device-reads",
                  test_pending_unbind_blocks_reads);
  g_test_add_func("/vxm/simhost/modules/vfio-pci-absent-until-loaded",
                  test_vfio_pci_absent_until_loaded);
  g_test_add_func("/vxm/simhost/pci/reset-method-at-discovery", test_reset_method_at_discovery);
  g_test_add_func("/vxm/simhost/fs/run-etc-usr-share", test_run_etc_usr_share);
  g_test_add_func("/vxm/simhost/hugepages/fragmentation-and-compaction",
                  test_hugepages_fragmentation);
  g_test_add_func("/vxm/simhost/hugepages/numa-nodes", test_hugepages_numa);
  g_test_add_func("/vxm/simhost/fixture/stop-unmounts", test_stop_unmounts);
  return g_test_run();
}
