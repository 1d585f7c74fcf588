#include <string.h>

#include "common/vxm-error.h"
#include "pci/vxm-gpu.h"
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

static GPtrArray *
list(Fixture *f)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *gpus = vxm_gpu_list(f->fs, &error);

  g_assert_no_error(error);
  return gpus;
}

static VxmGpu *
gpu_at(GPtrArray *gpus, const char *address)
{
  for (guint i = 0; i < gpus->len; i++) {
    VxmGpu *gpu = g_ptr_array_index(gpus, i);
    if (strcmp(vxm_gpu_get_address(gpu), address) == 0)
      return gpu;
  }
  g_error("no GPU %s", address);
}

static const char *
reason(VxmGpu *gpu, guint i)
{
  GPtrArray *reasons = vxm_gpu_get_reasons(gpu);

  g_assert_cmpuint(reasons->len, >, i);
  return g_ptr_array_index(reasons, i);
}

static gboolean
has_reason(VxmGpu *gpu, const char *needle)
{
  GPtrArray *reasons = vxm_gpu_get_reasons(gpu);

  for (guint i = 0; i < reasons->len; i++) {
    if (strstr(g_ptr_array_index(reasons, i), needle) != NULL)
      return TRUE;
  }
  return FALSE;
}

static void
test_igpu_and_turing(Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) gpus = list(f);
  VxmGpu *igpu, *nv;
  GPtrArray *functions, *members;
  GArray *groups;
  g_autoptr(GPtrArray) reasons = NULL;

  g_assert_cmpuint(gpus->len, ==, 2);
  igpu = g_ptr_array_index(gpus, 0);
  nv = g_ptr_array_index(gpus, 1);
  g_assert_cmpstr(vxm_gpu_get_address(igpu), ==, "0000:00:02.0");
  g_assert_cmpint(vxm_gpu_get_role(igpu), ==, VXM_GPU_ROLE_HOST);
  g_assert_true(has_reason(igpu, "boot VGA"));
  g_assert_false(vxm_gpu_check_passthrough_safe(igpu, NULL));
  /* the iGPU shares its slot with nothing */
  g_assert_cmpuint(vxm_gpu_get_functions(igpu)->len, ==, 0);

  g_assert_cmpstr(vxm_gpu_get_address(nv), ==, "0000:01:00.0");
  g_assert_cmpint(vxm_gpu_get_role(nv), ==, VXM_GPU_ROLE_CANDIDATE);
  g_assert_cmpuint(vxm_gpu_get_reasons(nv)->len, ==, 0);
  g_assert_true(vxm_gpu_check_passthrough_safe(nv, &reasons));
  g_assert_cmpuint(reasons->len, ==, 0);
  /* Turing: VGA, audio, USB, UCSI */
  functions = vxm_gpu_get_functions(nv);
  g_assert_cmpuint(functions->len, ==, 3);
  g_assert_cmpstr(vxm_pci_device_get_address(g_ptr_array_index(functions, 0)), ==, "0000:01:00.1");
  g_assert_cmpstr(vxm_pci_device_get_address(g_ptr_array_index(functions, 2)), ==, "0000:01:00.3");
  g_assert_cmpuint(vxm_gpu_get_all_functions(nv)->len, ==, 4);
  groups = vxm_gpu_get_iommu_groups(nv);
  g_assert_cmpuint(groups->len, ==, 1);
  g_assert_cmpint(g_array_index(groups, gint, 0), ==, 1);
  /* the CPU's bridge shares the group; it is allowed */
  members = vxm_gpu_get_iommu_group_members(nv);
  g_assert_cmpuint(members->len, ==, 5);
  g_assert_cmpstr(vxm_pci_device_get_address(g_ptr_array_index(members, 0)), ==, "0000:00:01.0");
  g_assert_false(vxm_gpu_owns(nv, g_ptr_array_index(members, 0)));
  g_assert_true(vxm_gpu_owns(nv, g_ptr_array_index(members, 1)));
}

static void
test_shared_group_names_offenders(Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) gpus = list(f);
  VxmGpu *nv = gpu_at(gpus, "0000:01:00.0");
  g_autoptr(GPtrArray) reasons = NULL;

  g_assert_cmpint(vxm_gpu_get_role(nv), ==, VXM_GPU_ROLE_UNUSABLE);
  g_assert_cmpuint(vxm_gpu_get_reasons(nv)->len, ==, 1);
  /* both bridges in the group are fine; the USB controller and the NIC are not */
  g_assert_cmpstr(reason(nv, 0), ==,
                  "IOMMU group 14 also holds 0000:00:14.0 (USB controller, 0c03) and "
                  "0000:03:00.0 (Ethernet controller, 0200), which are not this card's: the "
                  "group cannot be passed through. Try another PCIe slot or check your BIOS "
                  "for ACS settings");
  g_assert_false(vxm_gpu_check_passthrough_safe(nv, &reasons));
  g_assert_cmpuint(reasons->len, ==, 1);
  g_assert_cmpint(vxm_gpu_get_role(gpu_at(gpus, "0000:00:02.0")), ==, VXM_GPU_ROLE_HOST);
}

static void
test_host_bridge_driver(Fixture *f, gconstpointer data)
{
  /* move the host bridge (bound to skl_uncore) into the GPU's group */
  vxm_test_sysfs_set_iommu_group(f->root, "0000:00:00.0", 1);
  {
    g_autoptr(GPtrArray) gpus = list(f);
    VxmGpu *nv = gpu_at(gpus, "0000:01:00.0");

    g_assert_cmpint(vxm_gpu_get_role(nv), ==, VXM_GPU_ROLE_UNUSABLE);
    g_assert_cmpstr(reason(nv, 0), ==,
                    "IOMMU group 1 also holds 0000:00:00.0 (Host bridge, 0600, bound to "
                    "skl_uncore), which is not this card's: the group cannot be passed through. "
                    "Try another PCIe slot or check your BIOS for ACS settings");
  }
  /* with no driver bound, a host bridge is fine */
  vxm_test_sysfs_set_driver(f->root, "0000:00:00.0", NULL);
  {
    g_autoptr(GPtrArray) gpus = list(f);
    VxmGpu *nv = gpu_at(gpus, "0000:01:00.0");

    g_assert_cmpint(vxm_gpu_get_role(nv), ==, VXM_GPU_ROLE_CANDIDATE);
    g_assert_cmpuint(vxm_gpu_get_iommu_group_members(nv)->len, ==, 6);
  }
}

static void
test_single_gpu(Fixture *f, gconstpointer data)
{
  {
    g_autoptr(GPtrArray) gpus = list(f);
    VxmGpu *gpu;

    g_assert_cmpuint(gpus->len, ==, 1);
    gpu = g_ptr_array_index(gpus, 0);
    g_assert_cmpint(vxm_gpu_get_role(gpu), ==, VXM_GPU_ROLE_HOST);
    g_assert_true(has_reason(gpu, "boot VGA"));
    g_assert_true(has_reason(gpu, "this machine's only GPU: vxm is for two-GPU machines"));
  }
  /* even when it is not the boot VGA (a headless boot), the only GPU stays with the host */
  vxm_test_sysfs_set_boot_vga(f->root, "0000:01:00.0", FALSE);
  {
    g_autoptr(GPtrArray) gpus = list(f);
    VxmGpu *gpu = g_ptr_array_index(gpus, 0);

    g_assert_cmpint(vxm_gpu_get_role(gpu), ==, VXM_GPU_ROLE_UNUSABLE);
    g_assert_cmpuint(vxm_gpu_get_reasons(gpu)->len, ==, 1);
    g_assert_true(has_reason(gpu, "only GPU"));
  }
}

static void
test_iommu_off(Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) gpus = list(f);
  VxmGpu *nv = gpu_at(gpus, "0000:01:00.0");

  g_assert_cmpint(vxm_gpu_get_role(nv), ==, VXM_GPU_ROLE_UNUSABLE);
  g_assert_cmpuint(vxm_gpu_get_reasons(nv)->len, ==, 1);
  g_assert_cmpstr(reason(nv, 0), ==,
                  "the IOMMU is off, so no device can be passed through: turn it on (see vxm "
                  "check)");
  g_assert_cmpuint(vxm_gpu_get_iommu_groups(nv)->len, ==, 0);
}

static void
test_separate_groups(Fixture *f, gconstpointer data)
{
  {
    g_autoptr(GPtrArray) gpus = list(f);
    VxmGpu *amd = gpu_at(gpus, "0000:02:00.0");
    GArray *groups = vxm_gpu_get_iommu_groups(amd);

    /* VGA in 17, audio in 18: both groups clean */
    g_assert_cmpint(vxm_gpu_get_role(amd), ==, VXM_GPU_ROLE_CANDIDATE);
    g_assert_cmpuint(groups->len, ==, 2);
    g_assert_cmpint(g_array_index(groups, gint, 0), ==, 17);
    g_assert_cmpint(g_array_index(groups, gint, 1), ==, 18);
    g_assert_cmpint(vxm_gpu_get_role(gpu_at(gpus, "0000:01:00.0")), ==, VXM_GPU_ROLE_HOST);
  }
  /* a SATA controller joins the audio function's group: that group alone is named */
  vxm_test_sysfs_add_pci(f->root, "0000:05:00.0", "0000:00:03.1", 0x1022, 0x7901, 0x010601, "ahci",
                         18);
  {
    g_autoptr(GPtrArray) gpus = list(f);
    VxmGpu *amd = gpu_at(gpus, "0000:02:00.0");

    g_assert_cmpint(vxm_gpu_get_role(amd), ==, VXM_GPU_ROLE_UNUSABLE);
    g_assert_cmpuint(vxm_gpu_get_reasons(amd)->len, ==, 1);
    g_assert_true(g_str_has_prefix(reason(amd, 0), "IOMMU group 18 also holds 0000:05:00.0 "
                                                   "(SATA controller, 0106), which is not "
                                                   "this card's"));
  }
}

static void
test_function_without_group(Fixture *f, gconstpointer data)
{
  vxm_test_sysfs_set_iommu_group(f->root, "0000:01:00.3", -1);
  {
    g_autoptr(GPtrArray) gpus = list(f);
    VxmGpu *nv = gpu_at(gpus, "0000:01:00.0");

    g_assert_cmpint(vxm_gpu_get_role(nv), ==, VXM_GPU_ROLE_UNUSABLE);
    g_assert_true(g_str_has_prefix(reason(nv, 0), "0000:01:00.3 (Serial bus controller, 0c80) "
                                                  "has no IOMMU group"));
  }
}

static void
test_last_host_gpu(Fixture *f, gconstpointer data)
{
  /* the other GPU already went to vfio-pci: giving this one too leaves the host blind */
  vxm_test_sysfs_set_boot_vga(f->root, "0000:00:02.0", FALSE);
  vxm_test_sysfs_set_driver(f->root, "0000:00:02.0", "vfio-pci");
  {
    g_autoptr(GPtrArray) gpus = list(f);
    VxmGpu *nv = gpu_at(gpus, "0000:01:00.0");
    VxmGpu *igpu = gpu_at(gpus, "0000:00:02.0");

    g_assert_cmpint(vxm_gpu_get_role(nv), ==, VXM_GPU_ROLE_UNUSABLE);
    g_assert_cmpuint(vxm_gpu_get_reasons(nv)->len, ==, 1);
    g_assert_cmpstr(reason(nv, 0), ==,
                    "it is the last GPU the host has: every other GPU (0000:00:02.0 on "
                    "vfio-pci) is held for a guest, and giving this one away too would leave "
                    "the host without a display");
    /* the one on vfio-pci is still a candidate: the host keeps the NVIDIA card */
    g_assert_cmpint(vxm_gpu_get_role(igpu), ==, VXM_GPU_ROLE_CANDIDATE);
  }
}

static void
test_guest_role(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmPciBus) bus = vxm_pci_bus_new(f->fs, &error);
  g_autoptr(GPtrArray) gpus = NULL;
  g_autoptr(GPtrArray) with_host = NULL;

  g_assert_no_error(error);
  gpus = vxm_gpu_list_for_bus(bus, "1:00.0");
  g_assert_cmpint(vxm_gpu_get_role(gpu_at(gpus, "0000:01:00.0")), ==, VXM_GPU_ROLE_GUEST);
  g_assert_cmpint(vxm_gpu_get_role(gpu_at(gpus, "0000:00:02.0")), ==, VXM_GPU_ROLE_HOST);
  /* configuring the boot VGA as the guest does not make it one */
  with_host = vxm_gpu_list_for_bus(bus, "0000:00:02.0");
  g_assert_cmpint(vxm_gpu_get_role(gpu_at(with_host, "0000:00:02.0")), ==, VXM_GPU_ROLE_HOST);
  g_assert_cmpint(vxm_gpu_get_role(gpu_at(with_host, "0000:01:00.0")), ==, VXM_GPU_ROLE_CANDIDATE);
}

static void
test_amd_behind_switch(Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) gpus = list(f);
  VxmGpu *radeon = gpu_at(gpus, "0000:03:00.0");
  VxmGpu *apu = gpu_at(gpus, "0000:0e:00.0");
  VxmPciDevice *dev = vxm_gpu_get_device(radeon);

  g_assert_cmpuint(gpus->len, ==, 2);
  /* the card's own PCIe switch ports share its group: bridges, allowed */
  g_assert_cmpint(vxm_gpu_get_role(radeon), ==, VXM_GPU_ROLE_CANDIDATE);
  g_assert_cmpuint(vxm_gpu_get_iommu_group_members(radeon)->len, ==, 4);
  g_assert_cmpstr(vxm_pci_device_get_sysfs_path(dev), ==,
                  "/sys/devices/pci0000:00/0000:00:01.1/0000:01:00.0/0000:02:00.0/0000:03:00.0");
  g_assert_cmpstr(vxm_pci_device_get_subsystem_name(dev), ==, "NITRO+ Radeon RX 6800 XT");
  g_assert_cmpint(vxm_gpu_get_role(apu), ==, VXM_GPU_ROLE_HOST);
  g_assert_cmpuint(vxm_gpu_get_iommu_groups(apu)->len, ==, 2);
}

static void
test_find(Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) gpus = list(f);
  static const struct {
    const char *text;
    const char *address;
  } found[] = {
      {"01:00.0", "0000:01:00.0"},   {"1:0.1", "0000:01:00.0"},   {"0000:00:02.0", "0000:00:02.0"},
      {"rtx", "0000:01:00.0"},       {"GeForce", "0000:01:00.0"}, {"uhd graphics", "0000:00:02.0"},
      {"10de:1e81", "0000:01:00.0"}, {" intel ", "0000:00:02.0"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(found); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmGpu) gpu = vxm_gpu_find_in_list(gpus, found[i].text, &error);

    g_assert_no_error(error);
    g_assert_cmpstr(vxm_gpu_get_address(gpu), ==, found[i].address);
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmGpu) gpu = vxm_gpu_find_in_list(gpus, "corporation", &error);

    g_assert_null(gpu);
    g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
    g_assert_cmpstr(error->message, ==,
                    "'corporation' matches 2 GPUs: 0000:00:02.0 (Intel Corporation CoffeeLake-S "
                    "GT2 [UHD Graphics 630]), 0000:01:00.0 (NVIDIA Corporation TU104 [GeForce "
                    "RTX 2080 SUPER]); give the PCI address of the one you mean");
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmGpu) gpu = vxm_gpu_find_in_list(gpus, "radeon", &error);

    g_assert_null(gpu);
    g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
    g_assert_true(g_str_has_prefix(error->message, "no GPU matches 'radeon'; this machine's "
                                                   "GPUs: 0000:00:02.0"));
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmGpu) gpu = vxm_gpu_find_in_list(gpus, "00:14.0", &error);

    g_assert_null(gpu);
    g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
    g_assert_true(
        g_str_has_prefix(error->message, "0000:00:14.0 (USB controller, 0c03) is not a GPU"));
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmGpu) gpu = vxm_gpu_find(f->fs, "05:00.0", &error);

    g_assert_null(gpu);
    g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
    g_assert_true(g_str_has_prefix(error->message, "no PCI device 0000:05:00.0"));
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmGpu) gpu = vxm_gpu_find(f->fs, "  ", &error);

    g_assert_null(gpu);
    g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
  }
}

static char *
addresses(GPtrArray *devices)
{
  g_autoptr(GString) s = g_string_new(NULL);

  for (guint i = 0; i < devices->len; i++)
    g_string_append_printf(s, "%s ", vxm_pci_device_get_address(g_ptr_array_index(devices, i)));
  return g_string_free(g_steal_pointer(&s), FALSE);
}

static char *
joined(GPtrArray *strings)
{
  g_autoptr(GString) s = g_string_new(NULL);

  for (guint i = 0; i < strings->len; i++)
    g_string_append_printf(s, "%s\n", (char *)g_ptr_array_index(strings, i));
  return g_string_free(g_steal_pointer(&s), FALSE);
}

/* vxm_gpu_find() by address and vxm_gpu_list_only() read only the GPUs' slots and groups: on
 * every test machine they give the same answers as the whole bus, without unrelated devices. */
static void
test_find_scoped(void)
{
  static const VxmTestMachine machines[] = {
      VXM_TEST_MACHINE_INTEL_NVIDIA, VXM_TEST_MACHINE_AMD_RADEON, VXM_TEST_MACHINE_SHARED_GROUP,
      VXM_TEST_MACHINE_TWO_DGPU,     VXM_TEST_MACHINE_SINGLE_GPU, VXM_TEST_MACHINE_IOMMU_OFF,
  };

  for (gsize m = 0; m < G_N_ELEMENTS(machines); m++) {
    Fixture f = {0};
    g_autoptr(GPtrArray) gpus = NULL;
    g_autoptr(GPtrArray) only = NULL;

    fixture_setup(&f, GINT_TO_POINTER(machines[m]));
    gpus = list(&f);
    only = vxm_gpu_list_only(f.fs, NULL);
    g_assert_cmpuint(gpus->len, >, 0);
    g_assert_cmpuint(only->len, ==, gpus->len);
    for (guint i = 0; i < gpus->len * 2; i++) {
      VxmGpu *whole = g_ptr_array_index(gpus, i % gpus->len);
      g_autoptr(GError) error = NULL;
      g_autoptr(VxmGpu) scoped = i < gpus->len
                                     ? vxm_gpu_find(f.fs, vxm_gpu_get_address(whole), &error)
                                     : g_object_ref(g_ptr_array_index(only, i - gpus->len));
      g_autofree char *fw = NULL, *fs = NULL, *mw = NULL, *ms = NULL, *rw = NULL, *rs = NULL;

      g_assert_no_error(error);
      g_assert_cmpstr(vxm_gpu_get_address(scoped), ==, vxm_gpu_get_address(whole));
      g_assert_cmpint(vxm_gpu_get_role(scoped), ==, vxm_gpu_get_role(whole));
      fw = addresses(vxm_gpu_get_all_functions(whole));
      fs = addresses(vxm_gpu_get_all_functions(scoped));
      g_assert_cmpstr(fs, ==, fw);
      mw = addresses(vxm_gpu_get_iommu_group_members(whole));
      ms = addresses(vxm_gpu_get_iommu_group_members(scoped));
      g_assert_cmpstr(ms, ==, mw);
      rw = joined(vxm_gpu_get_reasons(whole));
      rs = joined(vxm_gpu_get_reasons(scoped));
      g_assert_cmpstr(rs, ==, rw);
      g_assert_cmpuint(vxm_pci_bus_get_devices(vxm_gpu_get_bus(scoped))->len, <=,
                       vxm_pci_bus_get_devices(vxm_gpu_get_bus(whole))->len);
    }
    if (machines[m] == VXM_TEST_MACHINE_INTEL_NVIDIA) {
      g_autoptr(GError) error = NULL;
      g_autoptr(VxmGpu) card = vxm_gpu_find(f.fs, "0000:01:00.1", &error);

      /* the USB controller of the chipset is in no group of a GPU: not read */
      g_assert_no_error(error);
      g_assert_cmpstr(vxm_gpu_get_address(card), ==, "0000:01:00.0");
      g_assert_null(vxm_pci_bus_lookup(vxm_gpu_get_bus(card), "0000:00:14.0"));
      g_assert_nonnull(vxm_pci_bus_lookup(vxm_gpu_get_bus(card), "0000:00:02.0"));
    }
    fixture_teardown(&f, NULL);
  }
}

#define ADD(path, func, machine) \
  g_test_add(path, Fixture, GINT_TO_POINTER(machine), fixture_setup, func, fixture_teardown)

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/pci/gpu/find-scoped", test_find_scoped);
  ADD("/vxm/pci/gpu/igpu-and-turing", test_igpu_and_turing, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/pci/gpu/shared-group-names-offenders", test_shared_group_names_offenders,
      VXM_TEST_MACHINE_SHARED_GROUP);
  ADD("/vxm/pci/gpu/host-bridge-driver", test_host_bridge_driver, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/pci/gpu/single-gpu", test_single_gpu, VXM_TEST_MACHINE_SINGLE_GPU);
  ADD("/vxm/pci/gpu/iommu-off", test_iommu_off, VXM_TEST_MACHINE_IOMMU_OFF);
  ADD("/vxm/pci/gpu/separate-groups", test_separate_groups, VXM_TEST_MACHINE_TWO_DGPU);
  ADD("/vxm/pci/gpu/function-without-group", test_function_without_group,
      VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/pci/gpu/last-host-gpu", test_last_host_gpu, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/pci/gpu/guest-role", test_guest_role, VXM_TEST_MACHINE_INTEL_NVIDIA);
  ADD("/vxm/pci/gpu/amd-behind-switch", test_amd_behind_switch, VXM_TEST_MACHINE_AMD_RADEON);
  ADD("/vxm/pci/gpu/find", test_find, VXM_TEST_MACHINE_INTEL_NVIDIA);
  return g_test_run();
}
