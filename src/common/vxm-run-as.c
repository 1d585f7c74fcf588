#include "common/vxm-run-as.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"

#define VXM_RUN_AS_FIX \
  "run vxm as your user (vxmd does the privileged part), or sudo from your user"

void
vxm_run_as_free(VxmRunAs *user)
{
  if (user == NULL)
    return;
  g_free(user->name);
  g_free(user->home);
  g_free(user->groups);
  g_free(user);
}

VxmRunAs *
vxm_run_as_lookup(uid_t uid, gid_t gid, GError **error)
{
  g_autoptr(VxmRunAs) user = g_new0(VxmRunAs, 1);
  g_autofree char *buf = NULL;
  struct passwd pw;
  struct passwd *found = NULL;
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  int n = 64;
  int rc;
  gboolean member = FALSE;

  if (uid == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "QEMU and swtpm never run as root, and the sudo user is root: " VXM_RUN_AS_FIX);
    return NULL;
  }
  buf = g_malloc(size > 0 ? (gsize)size : 16384);
  rc = getpwuid_r(uid, &pw, buf, size > 0 ? (gsize)size : 16384, &found);
  if (found == NULL) {
    if (rc != 0)
      return vxm_error_set_from_errno(error, rc, "cannot look up uid %u", (guint)uid), NULL;
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "uid %u (SUDO_UID) has no account in the passwd database, so QEMU and swtpm "
                "cannot run as it: " VXM_RUN_AS_FIX,
                (guint)uid);
    return NULL;
  }
  user->uid = uid;
  user->gid = gid;
  user->name = g_strdup(pw.pw_name);
  user->home = g_strdup(pw.pw_dir);
  for (;;) {
    int want = n;

    user->groups = g_renew(gid_t, user->groups, (gsize)n);
    if (getgrouplist(pw.pw_name, pw.pw_gid, user->groups, &want) >= 0) {
      n = want;
      break;
    }
    n = want > n ? want : n * 2;
  }
  user->n_groups = (guint)n;
  member = gid == pw.pw_gid;
  for (guint i = 0; i < user->n_groups && !member; i++)
    member = user->groups[i] == gid;
  if (!member) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "gid %u (SUDO_GID) is not a group of user %s (uid %u), so QEMU and swtpm "
                "cannot run with it: " VXM_RUN_AS_FIX,
                (guint)gid, user->name, (guint)uid);
    return NULL;
  }
  if (gid == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "QEMU and swtpm never run with group root (SUDO_GID 0): " VXM_RUN_AS_FIX);
    return NULL;
  }
  return g_steal_pointer(&user);
}

static gboolean
parse_id(const char *name, const char *text, guint32 *out, GError **error)
{
  guint64 v = 0;

  if (text == NULL || *text == '\0') {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "vxm runs as root without a sudo user (%s is not set), and QEMU and swtpm never "
                "run as root: " VXM_RUN_AS_FIX,
                name);
    return FALSE;
  }
  if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT32 - 1, &v, NULL)) {
    g_set_error(
        error, VXM_ERROR, VXM_ERROR_REFUSED,
        "%s=%s is not a number, so vxm cannot tell which user invoked sudo: " VXM_RUN_AS_FIX, name,
        text);
    return FALSE;
  }
  *out = (guint32)v;
  return TRUE;
}

VxmRunAs *
vxm_run_as_from_sudo(const char *sudo_uid, const char *sudo_gid, GError **error)
{
  guint32 uid;
  guint32 gid;

  if (!parse_id("SUDO_UID", sudo_uid, &uid, error) || !parse_id("SUDO_GID", sudo_gid, &gid, error))
    return NULL;
  return vxm_run_as_lookup((uid_t)uid, (gid_t)gid, error);
}

gboolean
vxm_run_as_for_children(VxmRunAs **out, GError **error)
{
  *out = NULL;
  if (geteuid() != 0)
    return TRUE;
  *out = vxm_run_as_from_sudo(g_getenv("SUDO_UID"), g_getenv("SUDO_GID"), error);
  return *out != NULL;
}

static gboolean
sudo_id(const char *name, guint32 *out)
{
  const char *text = g_getenv(name);
  guint64 v = 0;

  if (text == NULL || !g_ascii_string_to_unsigned(text, 10, 1, G_MAXUINT32 - 1, &v, NULL))
    return FALSE;
  *out = (guint32)v;
  return TRUE;
}

gboolean
vxm_run_as_owner(uid_t *uid, gid_t *gid)
{
  guint32 u;
  guint32 g;

  if (geteuid() == 0 && sudo_id("SUDO_UID", &u) && sudo_id("SUDO_GID", &g)) {
    *uid = (uid_t)u;
    *gid = (gid_t)g;
    return TRUE;
  }
  *uid = geteuid();
  *gid = getegid();
  return FALSE;
}

void
vxm_run_as_adopt_sudo_environment(void)
{
  g_autoptr(VxmRunAs) user = NULL;
  g_autofree char *runtime = NULL;
  struct stat st;

  if (!vxm_run_as_for_children(&user, NULL) || user == NULL)
    return;
  g_setenv("HOME", user->home, TRUE);
  if (g_getenv("XDG_RUNTIME_DIR") != NULL)
    return;
  runtime = g_strdup_printf("/run/user/%u", (guint)user->uid);
  if (lstat(runtime, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == user->uid)
    g_setenv("XDG_RUNTIME_DIR", runtime, TRUE);
}
