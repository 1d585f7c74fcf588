/* Static host trees for tests: PCI devices laid out as the kernel does (under their bridges,
 * with relative links of the kernel's depth), IOMMU groups, and the few other host files
 * vxm reads (/dev/kvm, /proc/cpuinfo, /proc/cmdline, pci.ids). Plus ready-made machines.
 * Everything is written inside @root (a vxm_test_mkdtemp() folder), never the real /sys. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Adds PCI function @bdf ("0000:01:00.0") below bridge @parent_bdf (NULL: on the root bus,
 * /sys/devices/pci0000:00). Writes vendor, device, class, subsystem ids (vendor and device
 * by default), revision, numa_node -1, driver_override "(null)", boot_vga 0 on VGA devices,
 * reset_method "flr bus" on non-bridges; links it from /sys/bus/pci/devices, to @driver
 * (NULL: unbound) and to IOMMU group @iommu_group (-1: none). The parent must exist. */
void vxm_test_sysfs_add_pci(const char *root, const char *bdf, const char *parent_bdf,
                            guint16 vendor, guint16 device, guint32 class_24, const char *driver,
                            gint iommu_group);

/* The device's folder relative to @root ("sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0"). */
char *vxm_test_sysfs_device_dir(const char *root, const char *bdf);

/* Writes "VALUE\n" to the device's attribute (NULL removes it). */
void vxm_test_sysfs_set_attr(const char *root, const char *bdf, const char *attr,
                             const char *value);
void vxm_test_sysfs_set_subsystem(const char *root, const char *bdf, guint16 subvendor,
                                  guint16 subdevice);
void vxm_test_sysfs_set_boot_vga(const char *root, const char *bdf, gboolean boot_vga);
/* Rebinds the links as the kernel would (NULL: unbound). */
void vxm_test_sysfs_set_driver(const char *root, const char *bdf, const char *driver);
/* Moves the device to IOMMU group @group (-1: none). */
void vxm_test_sysfs_set_iommu_group(const char *root, const char *bdf, gint group);
/* BAR @bar (0-5) of the device as the kernel shows it: its line of `resource` ("start end
 * flags", 0x-prefixed 16-digit hex; the other lines kept, zero when new), and with @resize !=
 * 0 `resourceN_resize` (the Resizable BAR sizes bitmap, "%016llx"). @flags: 0x0014220c is a
 * 64-bit prefetchable memory BAR (VXM_TEST_BAR_MEM64_PREFETCH, what a GPU's VRAM BAR has). */
#define VXM_TEST_BAR_MEM64_PREFETCH 0x0014220c
void vxm_test_sysfs_set_bar(const char *root, const char *bdf, guint bar, guint64 start,
                            guint64 size, guint64 flags, guint64 resize);
/* Adds a DRM node folder ("card1", "renderD128") under the device's drm/. */
void vxm_test_sysfs_add_drm(const char *root, const char *bdf, const char *node);
/* An IOMMU that is on but has no groups yet, or off with the folder present. */
void vxm_test_sysfs_make_iommu_groups_dir(const char *root);

/* Host files outside sysfs. @cpu_vendor: "GenuineIntel", "AuthenticAMD". */
void vxm_test_host_add_cpuinfo(const char *root, const char *cpu_vendor);
void vxm_test_host_add_cmdline(const char *root, const char *cmdline);
/* /dev/kvm as a regular file, which open(O_RDWR) accepts like the real node. */
void vxm_test_host_add_kvm(const char *root);
/* /usr/share/misc/pci.ids: a copy of tests/data/pci.ids. */
void vxm_test_host_add_pci_ids(const char *root);
/* /proc/meminfo with MemTotal @total_kib (and no hugepages). */
void vxm_test_host_add_meminfo(const char *root, guint64 total_kib);
/* Debian 12's QEMU firmware descriptors (tests/data/firmware/debian12) and stand-ins for the
 * OVMF files they name; files already there are kept. */
void vxm_test_host_add_firmware(const char *root);

/* Ready-made workstations, each with pci.ids, cpuinfo, cmdline, /dev/kvm, 32 GiB in
 * meminfo and Debian's OVMF firmware descriptors. */
typedef enum {
  /* Intel iGPU (boot VGA, 00:02.0) + NVIDIA Turing 01:00.0-3 alone in group 1 behind the
   * CPU's bridge 00:01.0: a candidate with four functions. */
  VXM_TEST_MACHINE_INTEL_NVIDIA,
  /* AMD APU's iGPU (boot VGA, 0e:00.0) + Radeon 03:00.0 with audio 03:00.1, behind two
   * bridges, group 12: a candidate. */
  VXM_TEST_MACHINE_AMD_RADEON,
  /* NVIDIA 01:00.0-1 in group 14 with the chipset's USB controller 00:14.0 and a NIC
   * 03:00.0: unusable. */
  VXM_TEST_MACHINE_SHARED_GROUP,
  /* Two discrete GPUs, no iGPU: 01:00.0 boot VGA (host), 02:00.0 candidate. */
  VXM_TEST_MACHINE_TWO_DGPU,
  /* One GPU only (01:00.0, boot VGA). */
  VXM_TEST_MACHINE_SINGLE_GPU,
  /* Intel + NVIDIA as the first, with the IOMMU off (no groups at all). */
  VXM_TEST_MACHINE_IOMMU_OFF,
} VxmTestMachine;

void vxm_test_machine_build(const char *root, VxmTestMachine machine);

G_END_DECLS
