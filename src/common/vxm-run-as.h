/* vxm-run-as: the unprivileged user QEMU and swtpm run as when vxm itself runs as root.
 *
 * Design invariant 4: QEMU and swtpm never run as root. vxm run by a user starts them as that
 * user and needs nothing from here. vxm run as root (`sudo vxm start`) starts them as the user
 * who invoked sudo: SUDO_UID and SUDO_GID, checked against the passwd database (a uid without
 * an account, uid 0, or a group the account is not in are refused). A root without a sudo
 * user (a root login, su -) is refused: vxm has no user to give QEMU the VM's files and
 * devices to; the fix is to run vxm as your user (vxmd does the privileged part) or to sudo
 * from your user.
 *
 * The child drops to the user between fork and exec (setgroups, setgid, setuid), so every file
 * QEMU and swtpm open is opened with the user's rights, on any QEMU version.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct {
  uid_t uid;
  gid_t gid;
  char *name;
  char *home;
  gid_t *groups; /* the account's supplementary groups, gid included */
  guint n_groups;
} VxmRunAs;

/* The account of @uid with primary group @gid, which must be its passwd group or one of its
 * groups; refuses uid 0 and a uid without an account. */
VxmRunAs *vxm_run_as_lookup(uid_t uid, gid_t gid, GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* The sudo user from the values of SUDO_UID and SUDO_GID (either may be NULL): refused with
 * the reason and the fix when missing or not a valid account. */
VxmRunAs *vxm_run_as_from_sudo(const char *sudo_uid, const char *sudo_gid,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* For this process: TRUE with *@out NULL when vxm is not root (its children run as it); as
 * root, the sudo user of the environment, or FALSE with the refusal. */
gboolean vxm_run_as_for_children(VxmRunAs **out, GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Who owns the VM's files and runtime folders: this process's uid and gid, or as root the sudo
 * user's (SUDO_UID, SUDO_GID as numbers, not 0); TRUE when that is a sudo user. */
gboolean vxm_run_as_owner(uid_t *uid, gid_t *gid);
/* As root with a valid sudo user: HOME becomes that user's home (sudo sets root's), and an
 * unset XDG_RUNTIME_DIR the user's /run/user/UID when it is theirs, so the VM's folders are
 * the invoking user's. Call first in main, before anything reads HOME. Else does nothing. */
void vxm_run_as_adopt_sudo_environment(void);
void vxm_run_as_free(VxmRunAs *user);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmRunAs, vxm_run_as_free)

G_END_DECLS
