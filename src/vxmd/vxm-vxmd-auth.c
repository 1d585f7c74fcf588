/* vxm-vxmd-auth: root, group vxm, or polkit for the calling process. */
#include "vxmd/vxm-vxmd-auth.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <polkit/polkit.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "journal/vxm-journal-owner.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif

struct _VxmVxmdAuth {
  char *group;
  gid_t group_gid;
  char **allowed_users; /* NULL: everyone the rules below let in */
  GMutex lock;          /* guards the two below */
  GDBusConnection *bus; /* the system bus, kept so vxmd notices when it closes */
  PolkitAuthority *authority;
};

gboolean
vxm_vxmd_caller_init(VxmVxmdCaller *caller, VxmHostfs *proc_fs, int fd, GError **error)
{
  struct ucred cred;
  socklen_t len = sizeof cred;
  int pidfd = -1;
  socklen_t pidfd_len = sizeof pidfd;

  memset(caller, 0, sizeof *caller);
  caller->pidfd = -1;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot tell who is connected (SO_PEERCRED)");
  caller->uid = cred.uid;
  caller->gid = cred.gid;
  caller->pid = cred.pid;
  /* the very process that connected, where the kernel can say so: its pid cannot be taken by
   * another process while this fd shows it alive */
  if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &pidfd_len) == 0 && pidfd >= 0) {
    fcntl(pidfd, F_SETFD, FD_CLOEXEC);
    caller->pidfd = pidfd;
  }
  if (!vxm_process_get_start_time(proc_fs, caller->pid, &caller->start_time, error)) {
    g_prefix_error(error, "process %d that connected is gone: ", (int)caller->pid);
    return FALSE;
  }
  /* poll, not signal 0: that needs CAP_KILL for another uid's process, which vxmd lacks */
  if (caller->pidfd >= 0 && !vxm_pidfd_is_alive(caller->pidfd)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                "process %d that connected exited before vxmd could look at it", (int)caller->pid);
    return FALSE;
  }
  return TRUE;
}

void
vxm_vxmd_caller_clear(VxmVxmdCaller *caller)
{
  if (caller->pidfd >= 0)
    close(caller->pidfd);
  caller->pidfd = -1;
  g_clear_pointer(&caller->user, g_free);
}

VxmVxmdAuth *
vxm_vxmd_auth_new(const char *group, gid_t group_gid, const char *const *allowed_users)
{
  VxmVxmdAuth *auth = g_new0(VxmVxmdAuth, 1);

  auth->group = g_strdup(group);
  auth->group_gid = group_gid;
  auth->allowed_users = g_strdupv((char **)allowed_users);
  g_mutex_init(&auth->lock);
  return auth;
}

void
vxm_vxmd_auth_free(VxmVxmdAuth *auth)
{
  if (auth == NULL)
    return;
  g_clear_object(&auth->authority);
  g_clear_object(&auth->bus);
  g_mutex_clear(&auth->lock);
  g_strfreev(auth->allowed_users);
  g_free(auth->group);
  g_free(auth);
}

gboolean
vxm_vxmd_auth_identify(VxmVxmdAuth *auth, VxmVxmdCaller *caller, GError **error)
{
  struct passwd pw, *res = NULL;
  char buf[4096];
  gid_t groups[256];
  int n = G_N_ELEMENTS(groups);

  if (caller->uid == 0) {
    caller->user = g_strdup("root");
    caller->member = TRUE;
    return TRUE;
  }
  if (getpwuid_r(caller->uid, &pw, buf, sizeof buf, &res) != 0 || res == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                "uid %u has no user account on this host: vxmd serves users of this host only",
                (guint)caller->uid);
    return FALSE;
  }
  caller->user = g_strdup(pw.pw_name);
  if (auth->allowed_users != NULL &&
      !g_strv_contains((const char *const *)auth->allowed_users, pw.pw_name)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                "user %s is not in allowed_users of %s: ask the administrator to add them",
                pw.pw_name, VXM_HOST_ETC_VXM "/vxmd.conf");
    return FALSE;
  }
  if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) >= 0) {
    for (int i = 0; i < n; i++)
      if (groups[i] == auth->group_gid)
        caller->member = TRUE;
  }
  return TRUE;
}

/* The polkit authority on the system bus, made again after the bus went away (a restarted
 * dbus-daemon); NULL with @error when there is no bus. Called with auth->lock held. */
static PolkitAuthority *
get_authority(VxmVxmdAuth *auth, GError **error)
{
  if (auth->bus != NULL && g_dbus_connection_is_closed(auth->bus)) {
    g_clear_object(&auth->authority);
    g_clear_object(&auth->bus);
  }
  if (auth->authority != NULL)
    return g_object_ref(auth->authority);
  /* the shared system bus connection polkit uses: a bus that goes away must not end vxmd
   * (GDBus exits the process then, by default) */
  auth->bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, error);
  if (auth->bus == NULL)
    return NULL;
  g_dbus_connection_set_exit_on_close(auth->bus, FALSE);
  auth->authority = polkit_authority_get_sync(NULL, error);
  if (auth->authority == NULL)
    return NULL;
  return g_object_ref(auth->authority);
}

static const char *
access_action(VxmVxmdAccess access)
{
  return access == VXM_VXMD_ACCESS_SWITCH_MONITOR ? VXM_VXMD_ACTION_SWITCH_MONITOR
                                                  : VXM_VXMD_ACTION_RUN_VM;
}

/* After polkit answered about (pid, start time): was that still the caller? */
static gboolean
caller_unchanged(VxmHostfs *proc_fs, const VxmVxmdCaller *caller)
{
  guint64 now = 0;

  if (caller->pidfd >= 0)
    return vxm_pidfd_is_alive(caller->pidfd);
  return vxm_process_get_start_time(proc_fs, caller->pid, &now, NULL) && now == caller->start_time;
}

gboolean
vxm_vxmd_auth_check(VxmVxmdAuth *auth, VxmHostfs *proc_fs, VxmVxmdCaller *caller,
                    VxmVxmdAccess access, GError **error)
{
  const char *action = access_action(access);
  g_autoptr(PolkitAuthority) authority = NULL;
  g_autoptr(PolkitSubject) subject = NULL;
  g_autoptr(PolkitAuthorizationResult) result = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *join = NULL;

  if (access == VXM_VXMD_ACCESS_ANYONE || caller->member || (caller->granted & (1u << access)))
    return TRUE;
  join = g_strdup_printf("join group %s (sudo usermod -aG %s %s, then log out and in again)",
                         auth->group, auth->group, caller->user);
  {
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&auth->lock);

    authority = get_authority(auth, &local_error);
  }
  if (authority != NULL) {
    subject = polkit_unix_process_new_for_owner(caller->pid, caller->start_time, caller->uid);
    /* no interaction: vxmd has nobody to show a password dialog to */
    result = polkit_authority_check_authorization_sync(authority, subject, action, NULL,
                                                       POLKIT_CHECK_AUTHORIZATION_FLAGS_NONE, NULL,
                                                       &local_error);
  }
  if (result == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                "%s is not in group %s, and polkit could not be asked (%s), so group %s alone "
                "decides: %s, or have the system bus and polkitd running (polkit lets the user of "
                "the active local session in)",
                caller->user, auth->group, local_error->message, auth->group, join);
    return FALSE;
  }
  if (!caller_unchanged(proc_fs, caller)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                "process %d, which asked, exited while polkit was asked about it: nothing was "
                "done; ask again from a process that waits for the answer",
                (int)caller->pid);
    return FALSE;
  }
  if (polkit_authorization_result_get_is_authorized(result)) {
    caller->granted |= 1u << access;
    return TRUE;
  }
  if (polkit_authorization_result_get_is_challenge(result)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                "polkit lets %s do %s only with an administrator's password, as %s is not the "
                "user of the active local session here (the session is inactive or remote, or "
                "there is none), and vxmd asks nobody for passwords: use vxm from the active "
                "local session, or %s, or have an administrator allow %s for %s with a rule in "
                "/etc/polkit-1/rules.d",
                caller->user, action, caller->user, join, action, caller->user);
    return FALSE;
  }
  g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
              "polkit does not allow %s for %s (a rule in /etc/polkit-1/rules.d or "
              "/usr/share/polkit-1/rules.d says no): %s, or ask the administrator to change that "
              "rule",
              action, caller->user, join);
  return FALSE;
}
