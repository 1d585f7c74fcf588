/* vxm-sim-pci: the simulated PCI bus, its drivers and the IOMMU.
 *
 * Reads [driver NAME] and [pci BDF] groups. Serves /sys/devices/pci*, /sys/bus/pci (devices,
 * drivers with bind, unbind, new_id, remove_id; drivers_probe, drivers_autoprobe, rescan),
 * /sys/kernel/iommu_groups, /sys/class/drm, /sys/module for the drivers' modules,
 * /dev/vfio and /dev/dri, and reacts to writes as the kernel's PCI core does
 * (drivers/pci/pci-driver.c, drivers/base/bus.c, vfio-pci's probe). All functions run with
 * the host lock held.
 */
#pragma once

#include "vxm-sim-host.h"

G_BEGIN_DECLS

VxmSimPci *vxm_sim_pci_new(VxmSimHost *host, VxmSimMachine *machine, gboolean iommu,
                           GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_sim_pci_free(VxmSimPci *pci);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmSimPci, vxm_sim_pci_free)

/* Lines of the state dump: "pci BDF driver=X override=Y ...", "driver NAME new_id ...",
 * "vfio-group N". */
/* The sysfs folder of device @bdf ("/sys/devices/pci0000:00/0000:00:1b.0/0000:02:00.0"), NULL
 * when the machine has no such device. */
const char *vxm_sim_pci_get_sys_path(VxmSimPci *pci, const char *bdf);

void vxm_sim_pci_dump_state(VxmSimPci *pci, GPtrArray *lines);

/* Hot-unplug of a device (and the devices below it when it is a bridge), as if removed;
 * replug brings it back (and what was removed with it) and probes drivers like a hotplug.
 * 0 or -ENODEV (unknown or already in that state), -EINVAL (bad text). */
int vxm_sim_pci_unplug(VxmSimPci *pci, const char *bdf);
int vxm_sim_pci_replug(VxmSimPci *pci, const char *bdf);

/* The present device an operation on @path with @value names (its attribute folder, or the
 * BDF written to bind/unbind/drivers_probe), for the vanish fault; NULL when none. */
char *vxm_sim_pci_device_for_operation(VxmSimPci *pci, const char *path, const char *value,
                                       gssize value_len);

/* TRUE when @node is a driver's unbind whose driver waits for its users (machine key
 * unbind_waits_for, like NVIDIA's "Attempting to remove device with non-zero usage count")
 * and a simulated process holds one of those nodes or the device's DRM nodes. */
gboolean vxm_sim_pci_unbind_would_wait(VxmSimPci *pci, VxmSimNode *node, const char *buf,
                                       gsize len);

/* The kernel's module interface as far as PCI drivers go (modprobe, modprobe -r): a driver
 * whose [driver] group says loaded=false has no /sys/bus/pci/drivers/NAME and no
 * /sys/module/MODULE until its module (@name, '-' or '_') is loaded; then it registers and
 * takes the unbound devices it matches. Unloading unbinds its devices first, as
 * pci_unregister_driver() does, and fails with EBUSY while a /dev/vfio/N of vfio-pci is held.
 * 0, -ENOENT (no such module, or not loaded), -EEXIST (already loaded), -EBUSY. */
int vxm_sim_pci_load_module(VxmSimPci *pci, const char *name);
int vxm_sim_pci_unload_module(VxmSimPci *pci, const char *name);
/* "MODULE loaded|absent" lines, one per driver module. */
char *vxm_sim_pci_modules_text(VxmSimPci *pci);

/* The device lock (device_lock()): an unbind blocked in a driver's remove holds it
 * (vxm_sim_host_kernel_wait), and every operation that takes it on that device blocks until
 * it is let go: reads and writes of driver_override, a write to reset, bind, unbind and
 * drivers_probe naming the device. @buf is the written value, NULL for a read (an open for
 * reading, when sysfs takes its snapshot). busy: TRUE when @node's operation would block now;
 * hold: takes (TRUE) or lets go of (FALSE) the lock of the device @node's operation names. */
gboolean vxm_sim_pci_device_lock_busy(VxmSimPci *pci, VxmSimNode *node, const char *buf, gsize len);
void vxm_sim_pci_device_lock_hold(VxmSimPci *pci, VxmSimNode *node, const char *buf, gsize len,
                                  gboolean hold);

G_END_DECLS
