/* vxm-pci-holders: which processes hold a GPU open.
 *
 * Unbinding a GPU that a process holds either fails or (NVIDIA) hangs in the kernel for good,
 * so before touching anything vxm looks through /proc/PID/fd/ for the card's DRM nodes (found
 * from the device's drm/ folder: cardN and renderDN under /dev/dri) and, for NVIDIA cards,
 * /dev/nvidia* (nvidiactl, nvidia0, nvidia-modeset, nvidia-uvm: the driver keeps the card in
 * use while any is open). /proc is read under the host root, so a simulated workstation
 * serves its own holder processes.
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

/* "1234 (Xorg), 2345 (nvidia-persistenced)" */
char *vxm_pci_holders_describe(GPtrArray *holders);

/* What to do about them, naming the host's init and the host's other cards (for GPU @bdf):
 * "stop nvidia-persistenced: sudo rc-service nvidia-persistenced stop; Hyprland uses this
 * card: add `env = AQ_DRM_DEVICES,/dev/dri/card0` to ~/.config/hypr/hyprland.conf ...". */
char *vxm_pci_holders_advice(VxmHostfs *hostfs, const char *bdf, GPtrArray *holders);

G_END_DECLS
