/* vxm-vxmd-auth: who may ask vxmd for what.
 *
 * Root may ask anything. Members of vxmd's group (vxm) are served without asking anyone
 * (headless machines, ssh). Anyone else is served when polkit allows the request's action for
 * the calling process (data/polkit/org.vxm.vxmd.policy: the user of the active local session,
 * with no password). vxmd never starts an authentication: a polkit answer that wants one is a
 * refusal. When polkit cannot be asked (no system bus, no polkitd), the group alone decides.
 * allowed_users of vxmd.conf narrows all of it, for everyone but root. Every refusal names the
 * rule that refused and what to do.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "common/vxm-hostfs.h"

G_BEGIN_DECLS

#define VXM_VXMD_ACTION_RUN_VM         "org.vxm.vxmd.run-vm"
#define VXM_VXMD_ACTION_SWITCH_MONITOR "org.vxm.vxmd.switch-monitor"

typedef enum {
  VXM_VXMD_ACCESS_ANYONE,         /* hello */
  VXM_VXMD_ACCESS_RUN_VM,         /* VXM_VXMD_ACTION_RUN_VM */
  VXM_VXMD_ACCESS_SWITCH_MONITOR, /* VXM_VXMD_ACTION_SWITCH_MONITOR */
} VxmVxmdAccess;

/* The process at the other end of a connection, as the kernel tells it. */
typedef struct {
  uid_t uid;
  gid_t gid;
  pid_t pid;
  guint64 start_time; /* /proc/PID/stat, read when it connected */
  int pidfd;          /* SO_PEERPIDFD (Linux 6.5+), else -1 */
  char *user;         /* its account name, set by vxm_vxmd_auth_identify() */
  gboolean member;    /* root, or in the group; set by vxm_vxmd_auth_identify() */
  guint granted;      /* bit per VxmVxmdAccess polkit granted on this connection */
} VxmVxmdCaller;

/* Fills @caller from the connected socket @fd (SO_PEERCRED, SO_PEERPIDFD, start time from
 * @proc_fs, the real /proc). */
gboolean vxm_vxmd_caller_init(VxmVxmdCaller *caller, VxmHostfs *proc_fs, int fd,
                              GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_vxmd_caller_clear(VxmVxmdCaller *caller);

typedef struct _VxmVxmdAuth VxmVxmdAuth;

VxmVxmdAuth *vxm_vxmd_auth_new(const char *group, gid_t group_gid,
                               const char *const *allowed_users);
void vxm_vxmd_auth_free(VxmVxmdAuth *auth);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmVxmdAuth, vxm_vxmd_auth_free)

/* At connection: the caller's account (refused without one), allowed_users (refused outside
 * it), and whether it is root or in the group. */
gboolean vxm_vxmd_auth_identify(VxmVxmdAuth *auth, VxmVxmdCaller *caller,
                                GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Whether @caller may make a request that needs @access: root and members at once, anyone
 * else as polkit says for the calling process (pid + start time + uid, and the process checked
 * to be the same one after polkit answered). */
gboolean vxm_vxmd_auth_check(VxmVxmdAuth *auth, VxmHostfs *proc_fs, VxmVxmdCaller *caller,
                             VxmVxmdAccess access, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
