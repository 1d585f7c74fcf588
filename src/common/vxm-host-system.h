/* vxm-host-system: what kind of system the host root is, where it changes how a user is told
 * to fix something.
 *
 * - Its init: systemd (Debian) or OpenRC (Nitrux). Every message that tells the user to start
 *   vxmd, restart a service or read a log names that init's commands.
 * - Whether its root is volatile: an overlay whose upper layer is a tmpfs (Nitrux's immutable
 *   root) loses every write under /etc, /usr and /boot at the next boot, so such a change is
 *   never reported as lasting there; the lasting route goes through the lower layer
 *   (overlayroot-chroot).
 *
 * Both are read under the host root (/run, /sbin, /proc/self/mountinfo), so tests describe a
 * system with a plain tree or the simulator.
 */
#pragma once

#include "common/vxm-hostfs.h"

G_BEGIN_DECLS

#define VXM_HOST_RUN_SYSTEMD_SYSTEM  "/run/systemd/system" /* sd_booted(3) */
#define VXM_HOST_RUN_OPENRC_SOFTLVL  "/run/openrc/softlevel"
#define VXM_HOST_RUN_OPENRC          "/run/openrc"
#define VXM_HOST_SBIN_OPENRC_RUN     "/sbin/openrc-run"
#define VXM_HOST_SBIN_OPENRC         "/sbin/openrc"
#define VXM_HOST_LIB_SYSTEMD         "/lib/systemd/systemd"
#define VXM_HOST_USR_LIB_SYSTEMD     "/usr/lib/systemd/systemd"
#define VXM_HOST_PROC_SELF_MOUNTINFO "/proc/self/mountinfo"
#define VXM_HOST_VAR_LIB_VXM         "/var/lib/vxm"
#define VXM_HOST_VXMD_LOG            "/var/log/vxmd.log" /* OpenRC: the service's output_log */
#define VXM_HOST_OVERLAYROOT_AUDIT   "/var/log/overlayroot-audit.log"

typedef enum {
  VXM_HOST_INIT_UNKNOWN,
  VXM_HOST_INIT_SYSTEMD,
  VXM_HOST_INIT_OPENRC,
} VxmHostInit;

/* The running init (/run/systemd/system, /run/openrc), else the installed one (an image or a
 * chroot: /sbin/openrc-run without systemd's binary), else UNKNOWN. */
VxmHostInit vxm_host_system_get_init(VxmHostfs *hostfs);
const char *vxm_host_init_to_string(VxmHostInit init); /* "systemd", "openrc", "unknown" */

/* The command that makes vxmd run now and at every boot:
 * "sudo systemctl enable --now vxmd.socket" or
 * "sudo rc-update add vxmd default && sudo rc-service vxmd start" (both for UNKNOWN). */
char *vxm_host_system_vxmd_enable_command(VxmHostfs *hostfs);
/* Where vxmd's messages are: "journalctl -u vxmd" or "/var/log/vxmd.log". */
char *vxm_host_system_vxmd_log_hint(VxmHostfs *hostfs);
/* "sudo systemctl restart vxmd.service" or "sudo rc-service vxmd restart". */
char *vxm_host_system_vxmd_restart_command(VxmHostfs *hostfs);
/* A service's command: "sudo systemctl stop NAME" or "sudo rc-service NAME stop"
 * (@action: start, stop, restart). */
char *vxm_host_system_service_command(VxmHostfs *hostfs, const char *service, const char *action);

typedef struct {
  gboolean overlay;   /* "/" is an overlay */
  gboolean volatile_; /* ... whose upper layer does not outlive a reboot (tmpfs, or unknown) */
  char *upper_fs;     /* the upper layer's file system type ("tmpfs"), NULL when not found */
  char *lowerdir;     /* the lower layer as mounted ("/media/root-ro"), NULL when not given */
} VxmHostRootKind;

void vxm_host_root_kind_clear(VxmHostRootKind *kind);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VxmHostRootKind, vxm_host_root_kind_clear)

/* One line of /proc/self/mountinfo. */
typedef struct {
  char *mountpoint; /* "/", "/home" (unescaped) */
  char *devnum;     /* "259:2": the st_dev of its files (0:N for btrfs, overlay, tmpfs) */
  char *source;     /* "/dev/nvme0n1p2", "overlayroot", "tmpfs" */
  char *fstype;     /* "ext4" */
  char *superopts;  /* "rw,lowerdir=..." */
} VxmHostMount;

/* Every mount of the host root's /proc/self/mountinfo (VxmHostMount), in its order; empty
 * when the file is missing. */
GPtrArray *vxm_host_system_list_mounts(VxmHostfs *hostfs);

/* Reads /proc/self/mountinfo under the host root. A missing or unreadable file is a normal
 * (lasting) root: vxm says nothing it cannot show. */
void vxm_host_system_get_root_kind(VxmHostfs *hostfs, VxmHostRootKind *out);

/* TRUE when a write to @host_path (under /etc, /usr, /boot or any other part of the root
 * file system that the overlay covers) is lost at the next boot. /run and /proc are not asked
 * about; /var/lib and /home are on the overlay too unless they are their own mounts, and this
 * answers for the root file system only. */
gboolean vxm_host_system_change_is_volatile(VxmHostfs *hostfs, const char *host_path);

/* "until reboot" or "lasting", for status lines. */
const char *vxm_host_system_change_kind(VxmHostfs *hostfs, const char *host_path);

/* The steps that make a change under /etc or /boot last on a volatile root, for a fix:
 * "sudo overlayroot-chroot (this root is an overlay on tmpfs ...), INSIDE there, then exit
 * (read-only again)". NULL on a lasting root.
 * @inside: what to do inside the lower layer ("edit /etc/default/grub ..."). */
char *vxm_host_system_lasting_steps(VxmHostfs *hostfs, const char *inside);

G_END_DECLS
