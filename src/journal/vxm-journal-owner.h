/* vxm-journal-owner: which process owns a journal, and whether it still lives.
 *
 * A pid alone is not an identity: pids are reused. The owner is (pid, start time, uid), the
 * start time being field 22 of /proc/PID/stat (clock ticks since boot), which a reused pid
 * cannot repeat.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "common/vxm-hostfs.h"

G_BEGIN_DECLS

typedef struct {
  gint64 pid;
  guint64 start_time; /* /proc/PID/stat field 22 */
  gint64 uid;
} VxmJournalOwner;

/* The calling process. */
gboolean vxm_journal_owner_init_self(VxmJournalOwner *owner,
                                     GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Another process of ours (a child left in a hung write): its pid, start time and our uid. */
gboolean vxm_journal_owner_init_pid(VxmJournalOwner *owner, gint64 pid,
                                    GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* TRUE when a process with the same pid AND start time runs now (a zombie does not). */
gboolean vxm_journal_owner_is_alive(const VxmJournalOwner *owner);

/* Field 22 of /proc/PID/stat under @proc_fs. */
gboolean vxm_process_get_start_time(VxmHostfs *proc_fs, gint64 pid, guint64 *out,
                                    GError **error) G_GNUC_WARN_UNUSED_RESULT;

JsonNode *vxm_journal_owner_to_json(const VxmJournalOwner *owner);
gboolean vxm_journal_owner_from_json(JsonNode *node, VxmJournalOwner *owner,
                                     GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
