/* [pci] extra and vxm list-devices: what the host needs (its mounted disks through
 * mountinfo, /sys/dev/block and the slaves of mapped devices; its keyboards) and the policy,
 * on the simulated workstation intel-nvidia-turing-disks and on small host trees for the
 * layouts the simulator does not describe (btrfs, md across two controllers); the vxmd
 * protocol carries the list. */
#include <string.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "common/vxm-error.h"
#include "ops/vxm-vxmd-protocol.h"
#include "pci/vxm-gpu.h"
#include "vm/vxm-pci-extra.h"
#include "vxm-simhost-fixture.h"
#include "vxm-test-sysfs.h"
#include "vxm-test-util.h"

#define ROOT_NVME    "0000:02:00.0"
#define SATA         "0000:00:17.0"
#define CHIPSET_XHCI "0000:00:14.0"
#define SPARE_USB    "0000:04:00.0"
#define SPARE_NVME   "0000:05:00.0"

/* The root file system on LUKS on the NVMe is found through dm-0's slaves; /boot/efi (the same
 * NVMe) does not replace it; /home is on the SATA controller; the spare NVMe holds nothing
 * mounted. Both keyboards are below the chipset's USB controller. */
static void
test_host_needs(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing-disks");
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(VxmHostNeeds) needs = NULL;
  g_autoptr(GPtrArray) keyboards = NULL;

  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  needs = vxm_host_needs_read(hostfs);
  g_assert_cmpstr(vxm_host_needs_mounts(needs, ROOT_NVME), ==,
                  "the root file system (/ from /dev/mapper/cryptroot)");
  g_assert_cmpstr(vxm_host_needs_mounts(needs, SATA), ==, "/home (from /dev/sda1)");
  g_assert_null(vxm_host_needs_mounts(needs, SPARE_NVME));
  g_assert_null(vxm_host_needs_mounts(needs, SPARE_USB));
  keyboards = vxm_host_needs_keyboards(needs, CHIPSET_XHCI);
  g_assert_nonnull(keyboards);
  g_assert_cmpuint(keyboards->len, ==, 2);
  g_assert_null(vxm_host_needs_keyboards(needs, SPARE_USB));
}

/* Every refusal with its reason, and nothing refused that may go. */
static void
test_refusals(void)
{
  static const struct {
    const char *address;
    const char *needle; /* NULL: it may go */
  } cases[] = {
      {SPARE_USB, NULL},
      {SPARE_NVME, NULL},
      {ROOT_NVME, "it holds the host's root disk: the root file system (/ from "
                  "/dev/mapper/cryptroot) is on it"},
      {SATA, "it holds a disk the host has mounted: /home (from /dev/sda1) is on it"},
      {CHIPSET_XHCI, "it is the controller of the host's only keyboard"},
      {"0000:00:02.0", "it is the host GPU (the boot VGA device)"},
      {"0000:01:00.0", "it is a function of the guest GPU 0000:01:00.0"},
      {"0000:01:00.2", "it is a function of the guest GPU 0000:01:00.0"},
      {"0000:00:01.0", "it is a bridge"},
      {"0000:00:14.2", "its IOMMU group 3 also holds 0000:00:14.0"},
      {"0000:00:1f.6", "its IOMMU group 7 also holds 0000:00:1f.0"},
      {"0000:0a:00.0", "there is no such PCI device"},
  };
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing-disks");
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(VxmPciBus) bus = NULL;
  g_autoptr(VxmHostNeeds) needs = NULL;
  g_autoptr(VxmGpu) gpu = NULL;
  g_autoptr(GError) error = NULL;

  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  bus = vxm_pci_bus_new(hostfs, &error);
  g_assert_no_error(error);
  needs = vxm_host_needs_read(hostfs);
  gpu = vxm_gpu_find(hostfs, "0000:01:00.0", &error);
  g_assert_no_error(error);
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *why = vxm_pci_extra_refusal(bus, needs, gpu, cases[i].address, NULL);

    if (cases[i].needle == NULL) {
      if (why != NULL)
        g_error("%s refused: %s", cases[i].address, why);
      continue;
    }
    if (why == NULL || strstr(why, cases[i].needle) == NULL)
      g_error("%s: '%s' lacks '%s'", cases[i].address, why, cases[i].needle);
  }
}

/* resolve: the allowed devices' endpoints, sorted; one refused device refuses the whole list,
 * naming only it, with REFUSED (NOT_FOUND when every device is absent). */
static void
test_resolve(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing-disks");
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(VxmGpu) gpu = NULL;
  g_autoptr(GPtrArray) ok = NULL;
  g_autoptr(GPtrArray) none = NULL;
  g_autoptr(GError) error = NULL;
  const char *const both[] = {SPARE_NVME, SPARE_USB, NULL};
  const char *const with_root[] = {SPARE_USB, ROOT_NVME, NULL};
  const char *const absent[] = {"0000:0a:00.0", NULL};

  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  gpu = vxm_gpu_find(hostfs, "0000:01:00.0", &error);
  g_assert_no_error(error);
  ok = vxm_pci_extra_resolve(hostfs, gpu, both, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(ok->len, ==, 2);
  g_assert_cmpstr(vxm_pci_device_get_address(g_ptr_array_index(ok, 0)), ==, SPARE_USB);
  g_assert_cmpstr(vxm_pci_device_get_address(g_ptr_array_index(ok, 1)), ==, SPARE_NVME);
  none = vxm_pci_extra_resolve(hostfs, gpu, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(none->len, ==, 0);

  g_assert_null(vxm_pci_extra_resolve(hostfs, gpu, with_root, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_REFUSED);
  g_assert_nonnull(strstr(error->message, ROOT_NVME ": it holds the host's root disk"));
  g_assert_null(strstr(error->message, SPARE_USB ":"));
  g_clear_error(&error);
  g_assert_null(vxm_pci_extra_resolve(hostfs, gpu, absent, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
}

/* A keyboard on another controller frees the chipset's; with that controller given too, the
 * keyboards would all leave, and each controller is refused. */
static void
test_only_keyboard_counts_what_leaves(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(root);
  g_autoptr(VxmHostNeeds) needs = NULL;
  static const char key_bits[] =
      "1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe\n";
  const struct {
    const char *input;
    const char *folder;
  } kbds[] = {
      {"input3", "sys/devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/0003:046D:C33E.0001/input"},
      {"input4", "sys/devices/pci0000:00/0000:00:1c.0/0000:04:00.0/usb3/3-1/3-1:1.0/"
                 "0003:04D9:A0F8.0002/input"},
  };

  vxm_test_machine_build(root, VXM_TEST_MACHINE_INTEL_NVIDIA);
  vxm_test_sysfs_add_pci(root, "0000:04:00.0", NULL, 0x1b21, 0x2142, 0x0c0330, "xhci_hcd", 9);
  for (gsize i = 0; i < G_N_ELEMENTS(kbds); i++) {
    g_autofree char *dir = g_strdup_printf("%s/%s", kbds[i].folder, kbds[i].input);
    g_autofree char *f = NULL;
    g_autofree char *ev = g_strdup_printf("%s/event%zu", dir, i + 3);
    g_autofree char *link = NULL;
    g_autofree char *target = NULL;

    f = g_strdup_printf("%s/name", dir);
    vxm_test_write_file(root, f, i == 0 ? "Logitech G915\n" : "Holtek keyboard\n");
    g_clear_pointer(&f, g_free);
    f = g_strdup_printf("%s/phys", dir);
    vxm_test_write_file(root, f, "usb-0000:00:14.0-3/input0\n");
    g_clear_pointer(&f, g_free);
    f = g_strdup_printf("%s/id/bustype", dir);
    vxm_test_write_file(root, f, "0003\n");
    for (const char *const *cap = (const char *const[]){"ev", "key", NULL}; *cap != NULL; cap++) {
      g_clear_pointer(&f, g_free);
      f = g_strdup_printf("%s/capabilities/%s", dir, *cap);
      vxm_test_write_file(root, f, g_str_equal(*cap, "ev") ? "120013\n" : key_bits);
    }
    g_clear_pointer(&f, g_free);
    f = g_strdup_printf("%s/dev", ev);
    vxm_test_write_file(root, f, "13:67\n");
    link = g_strdup_printf("%s/sys/class/input/%s", root, kbds[i].input);
    target = g_strdup_printf("%s/%s", root, dir);
    g_autofree char *link_dir = g_path_get_dirname(link);

    g_mkdir_with_parents(link_dir, 0755);
    g_assert_cmpint(symlink(target, link), ==, 0);
  }
  needs = vxm_host_needs_read(hostfs);
  {
    g_autoptr(GPtrArray) on_chipset = vxm_host_needs_keyboards(needs, "0000:00:14.0");
    g_autoptr(GPtrArray) on_card = vxm_host_needs_keyboards(needs, "0000:04:00.0");

    g_assert_nonnull(on_chipset);
    g_assert_cmpstr(g_ptr_array_index(on_chipset, 0), ==, "Logitech G915");
    g_assert_nonnull(on_card);
    g_assert_cmpstr(g_ptr_array_index(on_card, 0), ==, "Holtek keyboard");
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmPciBus) bus = vxm_pci_bus_new(hostfs, &error);
    const char *const chipset[] = {"0000:00:14.0", NULL};
    const char *const both[] = {"0000:00:14.0", "0000:04:00.0", NULL};
    g_autofree char *alone = NULL;
    g_autofree char *with_card = NULL;
    g_autofree char *card = NULL;

    g_assert_no_error(error);
    /* the Holtek keyboard on the card stays with the host */
    alone = vxm_pci_extra_refusal(bus, needs, NULL, "0000:00:14.0", chipset);
    g_assert_null(alone);
    /* both controllers would take every keyboard */
    with_card = vxm_pci_extra_refusal(bus, needs, NULL, "0000:00:14.0", both);
    g_assert_nonnull(with_card);
    g_assert_nonnull(strstr(with_card, "the host's only keyboard (Logitech G915)"));
    card = vxm_pci_extra_refusal(bus, needs, NULL, "0000:04:00.0", both);
    g_assert_nonnull(card);
    g_assert_nonnull(strstr(card, "the host's only keyboard (Holtek keyboard)"));
  }
  vxm_test_rm_rf(root);
}

/* btrfs shows 0:N in mountinfo: the source names the device; md across two SATA controllers
 * holds both; a partition of a multipath NVMe namespace leads through its disk's multipath
 * folder to the controller. */
static void
test_btrfs_and_md(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(root);
  g_autoptr(VxmHostNeeds) needs = NULL;
  const struct {
    const char *link, *target;
  } links[] = {
      {"sys/class/block/nvme0n1p2",
       "../../devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1/nvme0n1p2"},
      {"sys/dev/block/9:0", "../../devices/virtual/block/md0"},
      {"sys/devices/virtual/block/md0/slaves/sda1", "../../../../pci0000:00/0000:00:17.0/"
                                                    "ata1/host0/target0:0:0/0:0:0:0/block/sda/"
                                                    "sda1"},
      {"sys/devices/virtual/block/md0/slaves/sdb1", "../../../../pci0000:00/0000:00:1c.4/"
                                                    "0000:06:00.0/ata5/host4/target4:0:0/"
                                                    "4:0:0:0/block/sdb/sdb1"},
      {"sys/class/block/sda1",
       "../../devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1"},
      {"sys/class/block/sdb1", "../../devices/pci0000:00/0000:00:1c.4/0000:06:00.0/ata5/host4/"
                               "target4:0:0/4:0:0:0/block/sdb/sdb1"},
      {"sys/class/block/sdc2", "../../devices/pci0000:00/0000:00:1c.6/0000:09:00.0/ata9/host8/"
                               "target8:0:0/8:0:0:0/block/sdc/sdc2"},
      {"sys/dev/block/259:1",
       "../../devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1/nvme0n1p1"},
      {"sys/dev/block/259:9",
       "../../devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1/nvme1n1p1"},
      {"sys/devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1/multipath/nvme1c1n1",
       "../../../../../pci0000:00/0000:00:1c.0/0000:08:00.0/nvme/nvme1/nvme1c1n1"},
  };

  vxm_test_write_file(root, "proc/self/mountinfo",
                      "26 22 259:1 / /boot rw - vfat /dev/nvme0n1p1 rw\n"
                      "22 1 0:27 /@ / rw,relatime shared:1 - btrfs /dev/nvme0n1p2 rw,ssd\n"
                      "23 22 0:21 / /tmp rw - tmpfs tmpfs rw\n"
                      "24 22 9:0 / /srv/raid rw - ext4 /dev/md0 rw\n"
                      "25 22 259:9 / /data rw - xfs /dev/nvme1n1p1 rw\n");
  /* the root is named for its device though /boot (the same NVMe) comes first here */
  vxm_test_write_file(root, "proc/swaps",
                      "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                      "/dev/sdc2                               partition\t8388604\t\t0\t\t-2\n"
                      "/swapfile                               file\t\t2097148\t\t0\t\t-3\n");
  vxm_test_write_file(root, "dev/sdc2", "");
  /* an NVMe namespace with native multipath: the block device is virtual, its partition
   * inside it, the path through the controller in its multipath folder */
  vxm_test_write_file(
      root, "sys/devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1/nvme1n1p1/partition", "1\n");
  vxm_test_write_file(root,
                      "sys/devices/pci0000:00/0000:00:1c.0/0000:08:00.0/nvme/nvme1/"
                      "nvme1c1n1/dev",
                      "259:8\n");
  vxm_test_write_file(root, "dev/nvme0n1p2", "");
  vxm_test_write_file(root, "sys/devices/virtual/block/md0/dev", "9:0\n");
  for (gsize i = 0; i < G_N_ELEMENTS(links); i++) {
    g_autofree char *path = g_build_filename(root, links[i].link, NULL);
    g_autofree char *dir = g_path_get_dirname(path);

    g_mkdir_with_parents(dir, 0755);
    g_assert_cmpint(symlink(links[i].target, path), ==, 0);
  }
  needs = vxm_host_needs_read(hostfs);
  g_assert_cmpstr(vxm_host_needs_mounts(needs, "0000:3d:00.0"), ==,
                  "the root file system (/ from /dev/nvme0n1p2)");
  g_assert_cmpstr(vxm_host_needs_mounts(needs, "0000:00:17.0"), ==, "/srv/raid (from /dev/md0)");
  g_assert_cmpstr(vxm_host_needs_mounts(needs, "0000:06:00.0"), ==, "/srv/raid (from /dev/md0)");
  g_assert_null(vxm_host_needs_mounts(needs, "0000:00:1d.0"));
  g_assert_cmpstr(vxm_host_needs_mounts(needs, "0000:08:00.0"), ==, "/data (from /dev/nvme1n1p1)");
  g_assert_cmpstr(vxm_host_needs_mounts(needs, "0000:09:00.0"), ==, "the swap partition /dev/sdc2");
  vxm_test_rm_rf(root);
}

static char *
run_vxm(VxmSimhost *sim, const char *const *args, int *status)
{
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_ptr_array_add(argv, vxm);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add(argv, (char *)args[i]);
  g_ptr_array_add(argv, "--root");
  g_ptr_array_add(argv, (char *)vxm_simhost_root(sim));
  g_ptr_array_add(argv, NULL);
  *status = vxm_test_run((const char *const *)argv->pdata, NULL, &out, &err);
  g_assert_cmpstr(err, ==, "");
  return g_steal_pointer(&out);
}

/* vxm list-devices: a line per device with yes or no, the reason under a no; --json the same
 * as objects. */
static void
test_list_devices_cli(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing-disks");
  g_autofree char *text = NULL;
  g_autofree char *json = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  JsonArray *array;
  int status;

  if (sim == NULL)
    return;
  text = run_vxm(sim, (const char *const[]){"list-devices", NULL}, &status);
  g_assert_cmpint(status, ==, 0);
  g_assert_true(g_str_has_prefix(text, "ADDRESS"));
  g_assert_nonnull(
      strstr(text, "\n" SPARE_USB "  10     xhci_hcd       yes   USB controller (0c03)"));
  g_assert_nonnull(strstr(text, "\n" ROOT_NVME "  8      nvme           no    "));
  g_assert_nonnull(strstr(text, "\n              it holds the host's root disk: the root file "
                                "system (/ from /dev/mapper/cryptroot) is on it\n"));
  g_assert_nonnull(strstr(text, "\n              it is the controller of the host's only "
                                "keyboard (Logitech G915"));
  g_assert_nonnull(strstr(text, "\n              it is a function of the GPU 0000:01:00.0"));

  json = run_vxm(sim, (const char *const[]){"list-devices", "--json", NULL}, &status);
  g_assert_cmpint(status, ==, 0);
  json_parser_load_from_data(parser, json, -1, &error);
  g_assert_no_error(error);
  array = json_node_get_array(json_parser_get_root(parser));
  for (guint i = 0; i < json_array_get_length(array); i++) {
    JsonObject *o = json_array_get_object_element(array, i);
    const char *address = json_object_get_string_member(o, "address");
    gboolean passable = json_object_get_boolean_member(o, "passable");

    g_hash_table_add(seen, (gpointer)address);
    /* a reason exactly when not passable */
    g_assert_cmpint(passable, ==, json_object_get_null_member(o, "reason"));
    if (g_str_equal(address, SPARE_NVME)) {
      g_assert_true(passable);
      g_assert_cmpstr(json_object_get_string_member(o, "vendor"), ==, "15b7");
      g_assert_cmpstr(json_object_get_string_member(o, "device"), ==, "5011");
      g_assert_cmpstr(json_object_get_string_member(o, "class"), ==, "0108");
      g_assert_cmpstr(json_object_get_string_member(o, "driver"), ==, "nvme");
      g_assert_cmpint(json_object_get_int_member(o, "iommu_group"), ==, 12);
    }
    if (g_str_equal(address, SATA)) {
      g_assert_false(passable);
      g_assert_nonnull(strstr(json_object_get_string_member(o, "reason"), "/home (from"));
    }
    if (g_str_equal(address, "0000:00:14.2"))
      g_assert_true(json_object_get_null_member(o, "driver"));
  }
  /* every device of the machine, the bridges too */
  g_assert_cmpuint(g_hash_table_size(seen), ==, 22);
  g_assert_true(g_hash_table_contains(seen, "0000:00:00.0"));
}

static VxmVxmdRequest *
parse_line(const char *text, GError **error)
{
  return vxm_vxmd_request_parse(text, strlen(text), error);
}

/* The vxmd request carries the list, normalised; a bad address is a protocol error. */
static void
test_protocol_extra(void)
{
  VxmVxmdRequest req = {.op = VXM_VXMD_OP_PREPARE_GPU,
                        .vm = "win11",
                        .gpu = "0000:01:00.0",
                        .timeout_ms = 10000,
                        .extra = (char *[]){"0000:04:00.0", "0000:05:00.0", NULL},
                        .numa_node = -1};
  g_autofree char *text = vxm_vxmd_request_to_line(&req);
  g_autoptr(GError) error = NULL;
  VxmVxmdRequest *back = vxm_vxmd_request_parse(text, strlen(text), &error);

  g_assert_no_error(error);
  g_assert_nonnull(back->extra);
  g_assert_cmpuint(g_strv_length(back->extra), ==, 2);
  g_assert_cmpstr(back->extra[1], ==, "0000:05:00.0");
  vxm_vxmd_request_free(back);

  back = parse_line("{\"vxmd\": 1, \"request\": \"prepare-gpu\", \"vm\": \"w\", "
                    "\"gpu\": \"01:00.0\", \"extra\": [\"4:0.0\"]}",
                    &error);
  g_assert_no_error(error);
  g_assert_cmpstr(back->extra[0], ==, "0000:04:00.0");
  vxm_vxmd_request_free(back);
  back = parse_line("{\"vxmd\": 1, \"request\": \"prepare-gpu\", \"vm\": \"w\", "
                    "\"gpu\": \"01:00.0\", \"extra\": [\"../../x\"]}",
                    &error);
  g_assert_null(back);
  g_assert_nonnull(error);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/pci-extra/host-needs/simhost", test_host_needs);
  g_test_add_func("/vxm/pci-extra/refusals/simhost", test_refusals);
  g_test_add_func("/vxm/pci-extra/resolve/simhost", test_resolve);
  g_test_add_func("/vxm/pci-extra/host-needs/keyboards-by-controller",
                  test_only_keyboard_counts_what_leaves);
  g_test_add_func("/vxm/pci-extra/host-needs/btrfs-and-md", test_btrfs_and_md);
  g_test_add_func("/vxm/pci-extra/list-devices/cli", test_list_devices_cli);
  g_test_add_func("/vxm/pci-extra/vxmd-protocol", test_protocol_extra);
  return g_test_run();
}
