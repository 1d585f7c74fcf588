/* vxm-vxmd: vxmd, the privileged helper, as a library object.
 *
 * Listens on VXM_HOST_RUN_VXM/vxmd.sock under its root (or on a socket systemd passed), reads
 * one request line at a time per connection, each connection in its own worker thread (a
 * hanging unbind holds only its own caller), authorises each request (vxm-vxmd-auth: root, a
 * member of the vxm group, or whom polkit allows; allowed_users of vxmd.conf narrows it),
 * applies the device policy
 * (vxm_gpu_check_passthrough_safe() and allowed_gpus of vxmd.conf), and does the work through
 * a VxmHostOpsLocal whose journals record the requesting uid (journal kind "vxmd-client"):
 * only that uid, or root, can release, revoke or recover a VM's resources.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  const char *root;      /* the host's "/" (NULL: the real one) */
  const char *group;     /* who may ask (default "vxm") */
  guint idle_timeout_ms; /* a connection silent this long is dropped (default 10 s) */
  guint max_connections; /* served at once; more wait (default 64; 8 a user, root unlimited) */
} VxmVxmdOptions;

typedef struct _VxmVxmd VxmVxmd;

VxmVxmd *vxm_vxmd_new(const VxmVxmdOptions *options, GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_vxmd_free(VxmVxmd *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmVxmd, vxm_vxmd_free)

/* Serves @fd (a listening unix socket from systemd), or, with -1, creates the socket (mode
 * 0666: anyone may connect, and each request is authorised) under the root. */
gboolean vxm_vxmd_listen(VxmVxmd *self, int fd, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Undoes the journals of VMs whose requesting process is gone (called once at start). A line
 * per journal goes to @report. */
void vxm_vxmd_recover_orphans(VxmVxmd *self, GPtrArray *report);

/* The systemd socket-activation fd (LISTEN_PID/LISTEN_FDS, first fd 3), or -1. */
int vxm_vxmd_socket_from_systemd(GError **error);

G_END_DECLS
