#include "vxm-journal-owner.h"

#include <string.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"

/* The processes vxm runs are real even when the host root is simulated (--root points at a
 * vxm-simhost mount or a test tree whose /proc lists made-up holder processes): a journal's
 * owner is always checked against this machine's real /proc, never the one under the root. */
static VxmHostfs *
real_proc_fs(void)
{
  static gsize once = 0;
  static VxmHostfs *fs = NULL;

  if (g_once_init_enter(&once)) {
    fs = vxm_hostfs_new(NULL);
    g_once_init_leave(&once, 1);
  }
  return fs;
}

gboolean
vxm_process_get_start_time(VxmHostfs *proc_fs, gint64 pid, guint64 *out, GError **error)
{
  g_autofree char *path = g_strdup_printf(VXM_HOST_PROC "/%" G_GINT64_FORMAT "/stat", pid);
  g_autofree char *stat = vxm_hostfs_read_attr(proc_fs, path, error);
  g_auto(GStrv) fields = NULL;
  const char *rest;

  if (stat == NULL)
    return FALSE;
  /* "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the
   * last ')'; what follows starts at field 3. */
  rest = strrchr(stat, ')');
  if (rest == NULL)
    goto bad;
  fields = g_strsplit(g_strchug((char *)rest + 1), " ", -1);
  if (g_strv_length(fields) < 20 || !vxm_parse_uint64(fields[22 - 3], 10, out))
    goto bad;
  return TRUE;
bad:
  g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "%s is not in the kernel's format", path);
  return FALSE;
}

gboolean
vxm_journal_owner_init_self(VxmJournalOwner *owner, GError **error)
{
  owner->pid = getpid();
  owner->uid = getuid();
  if (!vxm_process_get_start_time(real_proc_fs(), owner->pid, &owner->start_time, error)) {
    g_prefix_error(error, "cannot identify this process: ");
    return FALSE;
  }
  return TRUE;
}

gboolean
vxm_journal_owner_is_alive(const VxmJournalOwner *owner)
{
  guint64 start = 0;

  if (owner->pid <= 0)
    return FALSE;
  if (!vxm_process_get_start_time(real_proc_fs(), owner->pid, &start, NULL))
    return FALSE;
  if (start != owner->start_time)
    return FALSE;
  /* a zombie has exited: its journal is orphaned even before its parent (often PID 1, which
   * reaps late here) collects it */
  {
    g_autofree char *path = g_strdup_printf(VXM_HOST_PROC "/%" G_GINT64_FORMAT "/stat", owner->pid);
    g_autofree char *stat = vxm_hostfs_read_attr(real_proc_fs(), path, NULL);
    const char *rest = stat != NULL ? strrchr(stat, ')') : NULL;

    if (rest != NULL && (rest[1] == ' ') && (rest[2] == 'Z' || rest[2] == 'X'))
      return FALSE;
  }
  return TRUE;
}

JsonNode *
vxm_journal_owner_to_json(const VxmJournalOwner *owner)
{
  JsonObject *obj = json_object_new();
  JsonNode *node = json_node_new(JSON_NODE_OBJECT);

  json_object_set_int_member(obj, "pid", owner->pid);
  json_object_set_int_member(obj, "start_time", (gint64)owner->start_time);
  json_object_set_int_member(obj, "uid", owner->uid);
  json_node_take_object(node, obj);
  return node;
}

static gboolean
get_int(JsonObject *obj, const char *member, gint64 *out)
{
  JsonNode *node = json_object_get_member(obj, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_value_type(node) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int(node);
  return TRUE;
}

gboolean
vxm_journal_owner_from_json(JsonNode *node, VxmJournalOwner *owner, GError **error)
{
  JsonObject *obj;
  gint64 start = 0;

  if (!JSON_NODE_HOLDS_OBJECT(node))
    goto bad;
  obj = json_node_get_object(node);
  if (!get_int(obj, "pid", &owner->pid) || !get_int(obj, "start_time", &start) ||
      !get_int(obj, "uid", &owner->uid) || start < 0)
    goto bad;
  owner->start_time = (guint64)start;
  return TRUE;
bad:
  g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
              "the owner is not {\"pid\", \"start_time\", \"uid\"}");
  return FALSE;
}
