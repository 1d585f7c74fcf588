/* vxm-vm-lock: the per-VM lock (an flock on $XDG_RUNTIME_DIR/vxm/NAME/lock).
 *
 * The supervisor holds it exclusively for the VM's whole life, so "running" means "someone
 * holds the lock", which the kernel releases by itself when that process dies: no stale pid
 * files. init and reset take it too, so a VM cannot start while it is being made or removed.
 */
#pragma once

#include "vm/vxm-vm-paths.h"

G_BEGIN_DECLS

/* TRUE when another open file holds the VM's lock (a non-blocking test, changes nothing). */
gboolean vxm_vm_is_running(const VxmVmPaths *paths);
/* The name of a running VM other than @self whose config names @gpu_address, or NULL. */
char *vxm_vm_running_with_gpu(const char *self, const char *gpu_address);

/* Takes the VM's lock without waiting: an fd to keep open (close it to release), or -1 with
 * VXM_ERROR_BUSY "VM NAME is running ..." when someone holds it. Creates the runtime folder. */
int vxm_vm_lock_acquire(const VxmVmPaths *paths, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Takes the lock of a guest GPU for VM @paths without waiting, so two VMs that start at once
 * with the same card cannot both pass the "same GPU" check: an fd to keep open until the host
 * is restored, or -1 with VXM_ERROR_BUSY naming the VM that holds it. The lock is
 * runtime_base/.gpu-ADDR.lock; the holder writes its VM name into it. */
int vxm_gpu_lock_acquire(const VxmVmPaths *paths, const char *gpu_address,
                         GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
