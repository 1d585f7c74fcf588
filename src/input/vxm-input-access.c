/* vxm-input-access: device nodes to the VM's user and back (see the header). */
#include "vxm-input-access.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"

static gboolean
undo_device_node(const VxmJournalUndoContext *ctx, const VxmJournalEntry *entry, char **out_message,
                 GError **error)
{
  const char *path = vxm_journal_entry_get_string(entry, "path");
  g_autofree char *local = NULL;
  gint64 uid, gid, mode;
  struct stat st;

  if (path == NULL || !json_object_has_member(entry->data, "uid") ||
      !json_object_has_member(entry->data, "gid") || !json_object_has_member(entry->data, "mode")) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "journal entry device-node-owner lacks path, uid, gid or mode");
    return FALSE;
  }
  uid = json_object_get_int_member(entry->data, "uid");
  gid = json_object_get_int_member(entry->data, "gid");
  mode = json_object_get_int_member(entry->data, "mode");
  local = vxm_hostfs_path(ctx->hostfs, path);
  if (lstat(local, &st) != 0) {
    if (errno == ENOENT) {
      *out_message = g_strdup_printf("%s is gone (unplugged): nothing to give back", path);
      return TRUE;
    }
    vxm_error_set_from_errno(error, errno, "cannot read the owner of %s", path);
    return FALSE;
  }
  if (st.st_uid == (uid_t)uid && st.st_gid == (gid_t)gid && (st.st_mode & 07777) == mode)
    return TRUE; /* never changed, or already back */
  /* chown $UID:$GID /dev/input/eventN; chmod $MODE /dev/input/eventN */
  if (lchown(local, (uid_t)uid, (gid_t)gid) != 0) {
    vxm_error_set_from_errno(error, errno,
                             "cannot give %s back to %" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, path,
                             uid, gid);
    return FALSE;
  }
  if (chmod(local, (mode_t)mode) != 0) {
    vxm_error_set_from_errno(error, errno, "cannot set %s back to mode %04" G_GINT64_MODIFIER "o",
                             path, mode);
    return FALSE;
  }
  *out_message = g_strdup_printf("%s back to %" G_GINT64_FORMAT ":%" G_GINT64_FORMAT
                                 " mode %04" G_GINT64_MODIFIER "o",
                                 path, uid, gid, mode);
  return TRUE;
}

void
vxm_device_node_register_journal_kind(void)
{
  vxm_journal_register_kind(VXM_DEVICE_NODE_JOURNAL_KIND, undo_device_node);
}

gboolean
vxm_device_node_grant(VxmHostfs *hostfs, VxmJournal *journal, const char *host_path, uid_t uid,
                      gid_t gid, GPtrArray *report, GError **error)
{
  g_autofree char *node = NULL;
  g_autofree char *local = NULL;
  g_autoptr(JsonObject) data = json_object_new();
  struct stat st;
  guint index = 0;
  mode_t mode;
  gid_t new_gid;

  vxm_device_node_register_journal_kind();
  node = vxm_hostfs_resolve(hostfs, host_path, error);
  if (node == NULL) {
    g_prefix_error(error, "cannot give %s to uid %u: ", host_path, (guint)uid);
    return FALSE;
  }
  local = vxm_hostfs_path(hostfs, node);
  if (lstat(local, &st) != 0) {
    vxm_error_set_from_errno(error, errno, "cannot give %s to uid %u: %s", host_path, (guint)uid,
                             node);
    return FALSE;
  }
  if (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "cannot give %s to uid %u: %s is not a device node", host_path, (guint)uid, node);
    return FALSE;
  }
  mode = (st.st_mode & 07777) | S_IRUSR | S_IWUSR;
  new_gid = gid == (gid_t)-1 ? st.st_gid : gid;

  json_object_set_string_member(data, "path", node);
  if (g_strcmp0(node, host_path) != 0)
    json_object_set_string_member(data, "link", host_path);
  json_object_set_int_member(data, "uid", st.st_uid);
  json_object_set_int_member(data, "gid", st.st_gid);
  json_object_set_int_member(data, "mode", st.st_mode & 07777);
  json_object_set_int_member(data, "granted_uid", uid);
  json_object_set_int_member(data, "granted_gid", new_gid);
  if (!vxm_journal_begin(journal, VXM_DEVICE_NODE_JOURNAL_KIND, data, &index, error))
    return FALSE;

  /* chmod u+rw /dev/input/eventN; chown $UID /dev/input/eventN: in this order, so the mode is
   * set while the node is still root's (a chmod of the user's node would take CAP_FOWNER) */
  if (chmod(local, mode) != 0 || lchown(local, uid, new_gid) != 0) {
    VxmJournalUndoContext ctx = {.hostfs = hostfs};
    g_autoptr(GError) grant_error = NULL;
    g_autofree char *message = NULL;

    vxm_error_set_from_errno(&grant_error, errno, "cannot give %s (%s) to uid %u", host_path, node,
                             (guint)uid);
    /* a chown that worked before a failed chmod is put back at once; if even that fails the
     * entry stays for recover */
    if (undo_device_node(&ctx, vxm_journal_get_entry(journal, index), &message, NULL) &&
        !vxm_journal_finish(journal, index, VXM_JOURNAL_STATE_UNDONE, grant_error->message, NULL))
      g_debug("journal %s not saved after a failed grant", vxm_journal_get_name(journal));
    g_propagate_error(error, g_steal_pointer(&grant_error));
    return FALSE;
  }
  if (!vxm_journal_finish(journal, index, VXM_JOURNAL_STATE_DONE, NULL, error))
    return FALSE;
  if (report != NULL)
    g_ptr_array_add(report,
                    g_strdup_printf("%s (%s) to %u:%u mode %04o (was %u:%u %04o)", host_path, node,
                                    (guint)uid, (guint)new_gid, (guint)mode, (guint)st.st_uid,
                                    (guint)st.st_gid, (guint)(st.st_mode & 07777)));
  return TRUE;
}

gboolean
vxm_device_node_revoke_all(VxmHostfs *hostfs, VxmJournal *journal, GPtrArray *report,
                           GError **error)
{
  VxmJournalUndoContext ctx = {.hostfs = hostfs};
  g_autoptr(GString) failures = g_string_new(NULL);

  for (guint i = vxm_journal_get_n_entries(journal); i > 0; i--) {
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, i - 1);
    g_autofree char *message = NULL;
    g_autoptr(GError) local_error = NULL;

    if (g_strcmp0(entry->kind, VXM_DEVICE_NODE_JOURNAL_KIND) != 0 ||
        entry->state == VXM_JOURNAL_STATE_UNDONE)
      continue;
    if (!undo_device_node(&ctx, entry, &message, &local_error)) {
      g_string_append_printf(failures, "%s%s", failures->len ? "; " : "", local_error->message);
      continue;
    }
    if (message != NULL && report != NULL)
      g_ptr_array_add(report, g_strdup(message));
    if (!vxm_journal_finish(journal, i - 1, VXM_JOURNAL_STATE_UNDONE, message, error))
      return FALSE;
  }
  if (failures->len > 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_IO,
                "device nodes not given back: %s; `vxm recover` tries again", failures->str);
    return FALSE;
  }
  return TRUE;
}
