/* vxm-hostfs: the host-root layer.
 *
 * Every file vxm reads or writes on the host (/sys, /dev, /proc, /run, /etc and data under
 * /usr/share) is named here by its host path and reached through a VxmHostfs, whose root is
 * "/" on a real machine and a simulated workstation's mount (or a static tree) in tests and
 * demos (--root, VXM_ROOT). Logic never builds a host path by hand: it uses the names below.
 * The user's own files (XDG folders) are not under the root.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Host paths: the only literal host locations in the tree. */
#define VXM_HOST_SYS_PCI_DEVICES       "/sys/bus/pci/devices"
#define VXM_HOST_SYS_PCI_DRIVERS       "/sys/bus/pci/drivers"
#define VXM_HOST_SYS_PCI_DRIVERS_PROBE "/sys/bus/pci/drivers_probe"
#define VXM_HOST_SYS_IOMMU_GROUPS      "/sys/kernel/iommu_groups"
#define VXM_HOST_SYS_CLASS_DRM         "/sys/class/drm"
#define VXM_HOST_SYS_CLASS_INPUT       "/sys/class/input"
#define VXM_HOST_SYS_CLASS_BLOCK       "/sys/class/block"
#define VXM_HOST_SYS_DEV_BLOCK         "/sys/dev/block" /* MAJ:MIN -> the device */
#define VXM_HOST_SYS_CLASS_I2C_DEV     "/sys/class/i2c-dev"
#define VXM_HOST_SYS_BUS_I2C_DEVICES   "/sys/bus/i2c/devices"
#define VXM_HOST_SYS_CLASS_DMI_ID      "/sys/class/dmi/id"
#define VXM_HOST_SYS_NODES             "/sys/devices/system/node"
#define VXM_HOST_SYS_CPUS              "/sys/devices/system/cpu"
#define VXM_HOST_SYS_HUGEPAGES         "/sys/kernel/mm/hugepages"
#define VXM_HOST_SYS_CPU_CORE_PMU      "/sys/devices/cpu_core" /* hybrid Intel: P cores */
#define VXM_HOST_SYS_CPU_ATOM_PMU      "/sys/devices/cpu_atom" /* hybrid Intel: E cores */
#define VXM_HOST_SYS_MODULES           "/sys/module"
#define VXM_HOST_SYS_DEVICES_VIRTUAL   "/sys/devices/virtual"
#define VXM_HOST_SYS_DEVICES_UHID      "/sys/devices/virtual/misc/uhid" /* BlueZ devices */
#define VXM_HOST_SYS_FIRMWARE_EFI      "/sys/firmware/efi"
#define VXM_HOST_DEV                   "/dev"
#define VXM_HOST_DEV_VFIO              "/dev/vfio"
#define VXM_HOST_DEV_KVM               "/dev/kvm"
#define VXM_HOST_DEV_DRI               "/dev/dri"
#define VXM_HOST_DEV_INPUT             "/dev/input"
#define VXM_HOST_DEV_BUS_USB           "/dev/bus/usb"
#define VXM_HOST_SYS_BUS_USB_DEVICES   "/sys/bus/usb/devices"
#define VXM_HOST_DEV_I2C_PREFIX        "/dev/i2c-" /* + the bus number */
#define VXM_HOST_DEV_KVMFR0            "/dev/kvmfr0"
#define VXM_HOST_DEV_SHM               "/dev/shm"
#define VXM_HOST_PROC                  "/proc"
#define VXM_HOST_PROC_CMDLINE          "/proc/cmdline"
#define VXM_HOST_PROC_MEMINFO          "/proc/meminfo"
#define VXM_HOST_PROC_CPUINFO          "/proc/cpuinfo"
#define VXM_HOST_PROC_IOMEM            "/proc/iomem"
#define VXM_HOST_PROC_SWAPS            "/proc/swaps"
#define VXM_HOST_PROC_OSRELEASE        "/proc/sys/kernel/osrelease"
#define VXM_HOST_PROC_DROP_CACHES      "/proc/sys/vm/drop_caches"
#define VXM_HOST_PROC_COMPACT_MEMORY   "/proc/sys/vm/compact_memory"
#define VXM_HOST_PROC_NR_HUGEPAGES     "/proc/sys/vm/nr_hugepages"
#define VXM_HOST_RUN_VXM               "/run/vxm"
#define VXM_HOST_RUN_VXM_JOURNAL       "/run/vxm/journal"
#define VXM_HOST_ETC_VXM               "/etc/vxm"
#define VXM_HOST_ETC_MODPROBE_D        "/etc/modprobe.d"
#define VXM_HOST_ETC_DEFAULT_GRUB      "/etc/default/grub"
#define VXM_HOST_ETC_KERNEL_CMDLINE    "/etc/kernel/cmdline"
#define VXM_HOST_PCI_IDS               "/usr/share/misc/pci.ids"
#define VXM_HOST_PCI_IDS_HWDATA        "/usr/share/hwdata/pci.ids"
#define VXM_HOST_QEMU_FIRMWARE_SHARE   "/usr/share/qemu/firmware"
#define VXM_HOST_QEMU_FIRMWARE_ETC     "/etc/qemu/firmware"
#define VXM_HOST_OVMF                  "/usr/share/OVMF"

#define VXM_TYPE_HOSTFS (vxm_hostfs_get_type())
G_DECLARE_FINAL_TYPE(VxmHostfs, vxm_hostfs, VXM, HOSTFS, GObject)

/* @root: the host's "/" (NULL means the real one). */
VxmHostfs *vxm_hostfs_new(const char *root);

/* The root from --root when given, else $VXM_ROOT, else "/". Fails when it is not a folder. */
VxmHostfs *vxm_hostfs_new_for_cli(const char *root_option,
                                  GError **error) G_GNUC_WARN_UNUSED_RESULT;

const char *vxm_hostfs_get_root(VxmHostfs *self);

/* TRUE when the root is the real "/": vxm is acting on this machine's hardware. */
gboolean vxm_hostfs_is_real(VxmHostfs *self);

/* Maps a host path ("/sys/...") to the path to open on this machine. */
char *vxm_hostfs_path(VxmHostfs *self, const char *host_path);
char *vxm_hostfs_pathf(VxmHostfs *self, const char *format, ...) G_GNUC_PRINTF(2, 3);

/* The opposite: a local path under the root back to its host path, or NULL if outside. */
char *vxm_hostfs_host_path(VxmHostfs *self, const char *local_path);

gboolean vxm_hostfs_exists(VxmHostfs *self, const char *host_path);
gboolean vxm_hostfs_is_dir(VxmHostfs *self, const char *host_path);

/* A sysfs-style attribute: the whole file with trailing newlines removed. */
char *vxm_hostfs_read_attr(VxmHostfs *self, const char *host_path,
                           GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Parses an attribute as an integer; base 0 accepts 0x prefixes. */
gboolean vxm_hostfs_read_attr_int64(VxmHostfs *self, const char *host_path, guint base, gint64 *out,
                                    GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_hostfs_read_attr_uint64(VxmHostfs *self, const char *host_path, guint base,
                                     guint64 *out, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The whole file, binary-safe. */
gboolean vxm_hostfs_read_file(VxmHostfs *self, const char *host_path, char **contents,
                              gsize *length, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Writes @value with a single write(2), as the kernel expects of sysfs attributes. */
gboolean vxm_hostfs_write_attr(VxmHostfs *self, const char *host_path, const char *value,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The target of a symbolic link, as stored. */
char *vxm_hostfs_read_link(VxmHostfs *self, const char *host_path,
                           GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* The last component of a link's target (a driver's name, an IOMMU group number). */
char *vxm_hostfs_read_link_basename(VxmHostfs *self, const char *host_path,
                                    GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The canonical host path of @host_path with every link resolved inside the root. */
char *vxm_hostfs_resolve(VxmHostfs *self, const char *host_path,
                         GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Entry names of a folder, sorted, without "." and "..". */
GPtrArray *vxm_hostfs_list_dir(VxmHostfs *self, const char *host_path,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
