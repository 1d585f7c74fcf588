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

/* Field 22 (start time) and field 3 (state) of /proc/PID/stat. */
static gboolean
read_stat(VxmHostfs *proc_fs, gint64 pid, guint64 *start_time, char *state, GError **error)
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
  if (g_strv_length(fields) < 20 || !vxm_parse_uint64(fields[22 - 3], 10, start_time))
    goto bad;
  if (state != NULL)
    *state = fields[0][0];
  return TRUE;
bad:
  g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "%s is not in the kernel's format", path);
  return FALSE;
}

gboolean
vxm_process_get_start_time(VxmHostfs *proc_fs, gint64 pid, guint64 *out, GError **error)
{
  return read_stat(proc_fs, pid, out, NULL, error);
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
vxm_journal_owner_init_pid(VxmJournalOwner *owner, gint64 pid, GError **error)
{
  owner->pid = pid;
  owner->uid = getuid();
  return vxm_process_get_start_time(real_proc_fs(), pid, &owner->start_time, error);
}

gboolean
vxm_journal_owner_is_alive(const VxmJournalOwner *owner)
{
  guint64 start = 0;
  char state = '?';

  if (owner->pid <= 0)
    return FALSE;
  if (!read_stat(real_proc_fs(), owner->pid, &start, &state, NULL))
    return FALSE;
  /* a zombie has finished: only its parent has not collected it yet */
  return start == owner->start_time && state != 'Z' && state != 'X';
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
