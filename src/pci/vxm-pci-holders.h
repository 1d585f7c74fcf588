/* vxm-pci-holders: which processes hold a GPU open.
 *
 * Unbinding a GPU that a process holds either fails or (NVIDIA) hangs in the kernel for good,
 * so before touching anything vxm looks through /proc/PID/fd/ for the card's DRM nodes (found
 * from the device's drm/ folder: cardN and renderDN under /dev/dri) and, for NVIDIA cards,
 * /dev/nvidia* (nvidiactl, nvidia0, nvidia-modeset, nvidia-uvm: the driver keeps the card in
 * use while any is open). /proc is read under the host root, so a simulated workstation
 * serves its own holder processes. The same scan finds who holds an IOMMU group's
 * /dev/vfio/N, which vfio-pci's unbind would wait for.
 */
#pragma once

#include "common/vxm-hostfs.h"

G_BEGIN_DECLS

typedef struct {
  gint64 pid;
  char *comm;  /* /proc/PID/comm */
  char *nodes; /* "/dev/dri/card1, /dev/dri/renderD128" */
} VxmPciHolder;

void vxm_pci_holder_free(VxmPciHolder *holder);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmPciHolder, vxm_pci_holder_free)

/* The processes holding GPU @bdf's nodes, sorted by pid, without this process. Processes
 * that vanish during the scan are skipped; those whose fds cannot be read (another user's,
 * when not root) are counted in @out_unreadable (may be NULL). */
GPtrArray *vxm_pci_holders_scan(VxmHostfs *hostfs, const char *bdf, guint *out_unreadable,
                                GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The processes holding IOMMU group @group's /dev/vfio/N (a VM's QEMU): vfio-pci's unbind of a
 * device of the group waits in the kernel until they let go, holding the device lock. */
GPtrArray *vxm_pci_holders_scan_vfio_group(VxmHostfs *hostfs, gint group, guint *out_unreadable,
                                           GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Why reading @bdf's driver_override did not finish: "0000:01:00.0 is busy in the kernel: an
 * unbind is waiting for process 4321 (qemu-system-x86, holding /dev/vfio/5) ...", or, with no
 * holder of group @group (-1: none), a driver's unbind or probe that has not finished. */
char *vxm_pci_holders_describe_busy(VxmHostfs *hostfs, const char *bdf, gint group);

/* "1234 (Xorg), 2345 (nvidia-persistenced)" */
char *vxm_pci_holders_describe(GPtrArray *holders);

/* What to do about them, naming the host's init and the host's other cards (for GPU @bdf):
 * "stop nvidia-persistenced: sudo rc-service nvidia-persistenced stop; Hyprland uses this
 * card: add `env = AQ_DRM_DEVICES,/dev/dri/card0` to ~/.config/hypr/hyprland.conf ...". */
char *vxm_pci_holders_advice(VxmHostfs *hostfs, const char *bdf, GPtrArray *holders);

G_END_DECLS
