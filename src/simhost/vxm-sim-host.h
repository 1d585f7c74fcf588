/* vxm-sim-host: the whole simulated workstation.
 *
 * Owns the file tree, the lock that guards it, the operation log, the fault rules and the
 * areas of the host, each in its own module:
 *   vxm-sim-system: [machine] facts, /proc/cmdline, meminfo, cpuinfo, /dev/kvm,
 *          /dev/nvidia*, the writable /run, /etc and /dev/shm, /usr/share passthrough;
 *   pci    (vxm-sim-pci): PCI devices, drivers and their binding, IOMMU groups, /dev/vfio,
 *          DRM nodes;
 *   proc   (vxm-sim-proc): simulated processes and the device nodes they hold;
 *   hugepages (vxm-sim-hugepages): pools per size and NUMA node, fragmentation, compaction.
 * Later areas (DRM connectors and DDC, evdev input, DMI, CPU topology) get a
 * module each, read their own machine-file groups in vxm_sim_host_new() and add their lines
 * to the state dump, the same way.
 *
 * It also serves the control folder /.simhost (log, faults, release, state, unplug, replug,
 * kill, ready) and implements the fault actions. The FUSE layer calls
 * vxm_sim_host_fault_begin() before an operation and vxm_sim_host_log() after it.
 */
#pragma once

#include <glib.h>

#include "vxm-sim-faults.h"
#include "vxm-sim-log.h"
#include "vxm-sim-machine.h"
#include "vxm-sim-node.h"

G_BEGIN_DECLS

#define VXM_SIM_CONTROL_DIR "/.simhost"

typedef struct _VxmSimPci VxmSimPci;
typedef struct _VxmSimProc VxmSimProc;
typedef struct _VxmSimSystem VxmSimSystem;
typedef struct _VxmSimHugepages VxmSimHugepages;
typedef struct _VxmSimDisplay VxmSimDisplay;
typedef struct _VxmSimInput VxmSimInput;
typedef struct _VxmSimUsb VxmSimUsb;
typedef struct _VxmSimBlock VxmSimBlock;

typedef struct {
  GRecMutex lock; /* guards the tree and every area's state */
  VxmSimNode *root;
  VxmSimLog *log;
  VxmSimFaults *faults;
  char *machine_path;
  VxmSimSystem *system;
  VxmSimPci *pci;
  VxmSimProc *proc;
  VxmSimHugepages *hugepages;
  VxmSimDisplay *display;         /* connectors, monitors, /dev/i2c-N (vxm-sim-display) */
  gboolean (*should_abort)(void); /* set by the FUSE layer: TRUE once unmounting */
  VxmSimInput *input;
  VxmSimUsb *usb;     /* USB devices and /dev/bus/usb (vxm-sim-usb) */
  VxmSimBlock *block; /* block devices and mounts (vxm-sim-block) */
  /* Set by the FUSE layer: the mount, and how a device wakes a poll(2) waiting on it. */
  char *mountpoint;
  void (*poll_wake)(gpointer waker);
  void (*poll_drop)(gpointer waker);
  GHashTable *announced; /* host path -> VxmSimNode to add, or the host itself: remove */
  GPtrArray *deferred;   /* Deferred, run after a control write lets go of the lock */
} VxmSimHost;

VxmSimHost *vxm_sim_host_new(const char *machine_path, gboolean echo_log,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_sim_host_free(VxmSimHost *host);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmSimHost, vxm_sim_host_free)

void vxm_sim_host_lock(VxmSimHost *host);
void vxm_sim_host_unlock(VxmSimHost *host);

/* The canonical dump of the mutable host state (see tests/simhost/README.md). Locks. */
char *vxm_sim_host_dump_state(VxmSimHost *host);

/* Applies the fault rules for @op on @path (and @alias when not NULL) before the operation
 * runs: delays, hangs (logging a "hang" line), makes a device vanish. Returns 0 to go on or
 * a negative errno to fail the operation with. *logged_out is set when a rule fired, so the
 * caller logs the operation even when it would not otherwise. Call without the lock. */
int vxm_sim_host_fault_begin(VxmSimHost *host, const char *op, const char *path, const char *alias,
                             const char *value, gssize value_len, gboolean *fired_out);

/* Waits where the simulated kernel itself would block before @node's store runs: on the
 * device lock another blocked operation holds, and in a driver's unbind while processes hold
 * the device (see vxm-sim-pci: NVIDIA's nodes, vfio-pci's /dev/vfio/N), which takes the device
 * lock for as long as it waits. Logs a "hang" line and returns once the holders let go (kill,
 * close) or release is written. TRUE when it took the device lock: the caller lets go of it
 * with vxm_sim_host_kernel_done() once the store has run. Call without the lock. */
gboolean vxm_sim_host_kernel_wait(VxmSimHost *host, VxmSimNode *node, const char *log_path,
                                  const char *value, gsize value_len);
void vxm_sim_host_kernel_done(VxmSimHost *host, VxmSimNode *node, const char *value,
                              gsize value_len);
/* An open for reading of an attribute whose show takes the device lock (driver_override)
 * blocks while an unbind blocked in the kernel holds it, as on a real kernel (D state), until
 * it is let go or release is written. Call without the lock. */
void vxm_sim_host_device_lock_wait(VxmSimHost *host, VxmSimNode *node);

void vxm_sim_host_log(VxmSimHost *host, const char *op, const char *path, const char *value,
                      gssize value_len, int result);

/* A /dev node (a regular file in the simulation), owned by root unless said otherwise. */
VxmSimNode *vxm_sim_host_add_device_node(VxmSimHost *host, const char *path, guint mode, uid_t uid,
                                         gid_t gid);

/* Runs @func(@data) once the control write being handled has let go of the host lock (still
 * before the write returns): for work that goes through the mount itself. Lock held. */
void vxm_sim_host_defer(VxmSimHost *host, GFunc func, gpointer data, GDestroyNotify destroy);
/* The FUSE layer, without the lock, after a control write. */
void vxm_sim_host_run_deferred(VxmSimHost *host);

/* A link the simulated kernel (udev) adds or removes, made as a real symlink(2) or unlink(2) on
 * the mount so inotify watchers see it (a FUSE server's own changes make no inotify events).
 * Without a mount (tests of the model) the tree is changed directly. Call without the lock
 * (from a deferred function). Takes the reference to @link. */
void vxm_sim_host_announce_link(VxmSimHost *host, const char *path, VxmSimNode *link);
/* The same for a node the kernel makes (a device node: mknod(2) on the mount). Takes the
 * reference to @node. */
void vxm_sim_host_announce_node(VxmSimHost *host, const char *path, VxmSimNode *node);
void vxm_sim_host_announce_unlink(VxmSimHost *host, const char *path);
/* The FUSE layer's symlink and unlink: TRUE (and the change applied) when @path was
 * announced. Call without the lock. */
gboolean vxm_sim_host_take_announced(VxmSimHost *host, const char *path);

/* gid of a host group by name ("video", "render", "kvm"), or 0 when the host has none. */
gid_t vxm_sim_host_group_id(const char *name);

G_END_DECLS
