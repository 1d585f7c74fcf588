/* vxm check: the `vxmd` check. An unprivileged vxm makes every host change through vxmd, so
 * the daemon must answer and let the user in: as a member of its group (in this login, not
 * only in /etc/group), or through polkit (the user of the active local session), which only
 * vxmd can ask; as root vxm makes the changes itself and vxmd is not needed. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "checks/vxm-check-vxmd.h"
#include "checks/vxm-check.h"
#include "common/vxm-error.h"
#include "common/vxm-host-system.h"
#include "ops/vxm-vxmd-client.h"

static gboolean
in_login_groups(gid_t gid)
{
  int n = getgroups(0, NULL);
  g_autofree gid_t *groups = NULL;

  if (getegid() == gid)
    return TRUE;
  if (n <= 0)
    return FALSE;
  groups = g_new(gid_t, n);
  n = getgroups(n, groups);
  for (int i = 0; i < n; i++)
    if (groups[i] == gid)
      return TRUE;
  return FALSE;
}

/* In the group database (what the next login will have). */
static gboolean
in_group_database(const struct group *grp, const char *user, gid_t primary)
{
  if (primary == grp->gr_gid)
    return TRUE;
  for (char **m = grp->gr_mem; user != NULL && m != NULL && *m != NULL; m++)
    if (strcmp(*m, user) == 0)
      return TRUE;
  return FALSE;
}

void
vxm_check_vxmd_for_group(VxmCheckContext *ctx, VxmCheckResult *result, const char *group)
{
  VxmHostfs *hostfs = vxm_check_context_get_hostfs(ctx);
  g_autofree char *socket = vxm_hostfs_path(hostfs, VXM_HOST_RUN_VXM "/" VXM_VXMD_SOCKET_NAME);
  VxmVxmdRequest hello = {.op = VXM_VXMD_OP_HELLO};
  g_autoptr(JsonNode) answer = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *fix = NULL;
  g_autofree char *refusal = NULL;
  gboolean member;
  struct passwd *pw;
  struct group *grp;
  const char *user;

  if (geteuid() == 0) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "running as root: vxm makes the host changes itself (vxmd is for "
                         "running vxm as your own user)");
    return;
  }
  pw = getpwuid(getuid());
  user = pw != NULL ? pw->pw_name : NULL;
  grp = getgrnam(group);
  if (grp == NULL) {
    fix = g_strdup_printf("install the vxm package (it creates group %s and vxmd's socket), or "
                          "create the group: sudo groupadd --system %s",
                          group, group);
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix,
                         "group %s does not exist: without it nobody but root may ask vxmd for "
                         "the GPU",
                         group);
    return;
  }
  member = in_login_groups(grp->gr_gid);
  if (!member && vxm_vxmd_client_call(hostfs, &hello, -1, NULL, &answer, NULL) && answer != NULL &&
      JSON_NODE_HOLDS_OBJECT(answer)) {
    JsonObject *o = json_node_get_object(answer);

    if (json_object_get_boolean_member_with_default(o, "run_vm", FALSE) &&
        g_strcmp0(json_object_get_string_member_with_default(o, "via", NULL), "polkit") == 0) {
      vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                           "vxmd answers at %s and lets %s in through polkit (the user of the "
                           "active local session); group %s is needed only for ssh or headless "
                           "use",
                           socket, user != NULL ? user : "this user", group);
      return;
    }
    refusal = g_strdup(json_object_get_string_member_with_default(o, "refusal", NULL));
  }
  if (!member) {
    if (in_group_database(grp, user, pw != NULL ? pw->pw_gid : (gid_t)-1)) {
      fix = g_strdup_printf("log out and in again (or start a shell with: newgrp %s)", group);
      vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix,
                           "%s is in group %s, but this login started before that: its "
                           "processes do not have the group yet",
                           user != NULL ? user : "this user", group);
    } else {
      fix = g_strdup_printf("sudo usermod -aG %s %s, then log out and in again", group,
                            user != NULL ? user : "$USER");
      if (refusal != NULL)
        vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix, "%s", refusal);
      else
        vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix,
                             "%s is not in group %s, so vxmd will prepare the GPU for it only "
                             "through polkit, as the user of the active local session (and vxmd "
                             "did not answer to ask)",
                             user != NULL ? user : "this user", group);
    }
    return;
  }
  if (!vxm_vxmd_client_call(hostfs, &hello, -1, NULL, &answer, &error)) {
    g_autofree char *enable = vxm_host_system_vxmd_enable_command(hostfs);
    g_autofree char *logs = vxm_host_system_vxmd_log_hint(hostfs);
    g_autofree char *restart = vxm_host_system_vxmd_restart_command(hostfs);

    if (g_error_matches(error, VXM_ERROR, VXM_ERROR_NOT_FOUND)) {
      fix = g_strdup_printf("%s (%s)", enable,
                            vxm_host_system_get_init(hostfs) == VXM_HOST_INIT_SYSTEMD
                                ? "systemd starts vxmd when vxm first asks"
                                : "vxmd then runs from every boot");
      vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix,
                           "vxmd is not running: nothing answers at %s", socket);
    } else {
      fix = g_strdup_printf("see what vxmd says: %s; then %s", logs, restart);
      vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL, fix, "vxmd at %s did not answer: %s",
                           socket, error->message);
    }
    return;
  }
  vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                       "vxmd answers at %s (protocol %d) and lets %s in (group %s)", socket,
                       VXM_VXMD_PROTOCOL_VERSION, user != NULL ? user : "this user", group);
}

void
vxm_check_vxmd(VxmCheckContext *ctx, VxmCheckResult *result)
{
  vxm_check_vxmd_for_group(ctx, result, VXM_VXMD_GROUP);
}
