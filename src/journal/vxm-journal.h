/* vxm-journal: the crash-safe record of every change vxm makes to the host.
 *
 * One journal per VM (or per device detached by hand: "manual-0000:01:00.0"), a JSON file
 * under /run/vxm/journal (through the host root), root-owned, mode 0600. Each change is
 * appended as an "intent" entry BEFORE it is made and marked "done" (or "stuck") after; every
 * update replaces the file atomically (temp, fsync, rename), so after SIGKILL at any point the
 * file tells what may have changed. Undo runs in reverse order through handlers registered per
 * entry kind, so other areas (hugepages, device permissions, monitor input, memlock) add
 * kinds without touching this file.
 *
 * Ownership: a journal is owned by a live process (pid + start time + uid), or "held" (a
 * deliberate state that outlives its process: a card left on vfio-pci by `vxm detach` or by
 * keep_bound), or orphaned (owner gone: `vxm recover` undoes it).
 */
#pragma once

#include "common/vxm-hostfs.h"
#include "journal/vxm-journal-entry.h"
#include "journal/vxm-journal-owner.h"

G_BEGIN_DECLS

#define VXM_JOURNAL_FORMAT_VERSION 1

typedef struct _VxmJournal VxmJournal;

typedef struct {
  VxmHostfs *hostfs;
  guint timeout_ms; /* time limit for a host write that may hang; 0 means the kind's default */
  const char *const *skip_kinds; /* NULL-terminated kinds to leave as they are (keep_bound) */
  gpointer user_data;
  /* set by vxm_journal_undo(): the journal being undone (its lock held), for a handler whose
   * undo waits on entries of the same journal that could not be undone */
  struct _VxmJournal *journal;
} VxmJournalUndoContext;

/* Undoes one entry whatever its state: an "intent" may or may not have happened, so a
 * handler checks the host rather than trusting the state, and must be idempotent. Returns
 * TRUE when the host is as it was before the entry (restored now, or nothing was needed), with
 * a line for the user in @out_message (NULL when nothing was done). FALSE with @error keeps the
 * entry for a later recover. */
typedef gboolean (*VxmJournalUndoFunc)(const VxmJournalUndoContext *ctx,
                                       const VxmJournalEntry *entry, char **out_message,
                                       GError **error);

/* Registers (or replaces) the undo handler of entry kind @kind. Thread-safe. */
void vxm_journal_register_kind(const char *kind, VxmJournalUndoFunc undo);

typedef enum {
  VXM_JOURNAL_OWNER_ALIVE, /* its process runs: leave it alone */
  VXM_JOURNAL_OWNER_GONE,  /* crashed or killed: recover undoes it */
  VXM_JOURNAL_OWNER_HELD,  /* a deliberate state (vxm detach, keep_bound): vxm reattach ends it */
} VxmJournalOwnerStatus;

/* Names: [A-Za-z0-9_.:-], 1 to 96 characters, not starting with '.'. */
gboolean vxm_journal_check_name(const char *name, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* A new, empty journal owned by the calling process; nothing is written until the first
 * entry. Fails (EXISTS) when a journal of that name is on disk. */
VxmJournal *vxm_journal_new(VxmHostfs *hostfs, const char *name,
                            GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Reads a journal. NOT_FOUND when absent; a corrupt file is renamed NAME.json.corrupt and
 * reported (PROTOCOL) with both names, never dropped silently. */
VxmJournal *vxm_journal_load(VxmHostfs *hostfs, const char *name,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_journal_free(VxmJournal *journal);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmJournal, vxm_journal_free)

gboolean vxm_journal_exists(VxmHostfs *hostfs, const char *name);
/* Names of every journal on disk, sorted (corrupt ones set aside are not listed). */
GPtrArray *vxm_journal_list(VxmHostfs *hostfs, GError **error) G_GNUC_WARN_UNUSED_RESULT;

const char *vxm_journal_get_name(VxmJournal *journal);
/* The host path of the file ("/run/vxm/journal/NAME.json"). */
const char *vxm_journal_get_path(VxmJournal *journal);
const char *vxm_journal_get_created(VxmJournal *journal);
guint vxm_journal_get_n_entries(VxmJournal *journal);
VxmJournalEntry *vxm_journal_get_entry(VxmJournal *journal, guint index);
/* The owning process, or NULL when held. */
const VxmJournalOwner *vxm_journal_get_owner(VxmJournal *journal);
/* Why the journal is held ("detached by hand", "keep_bound of VM win11"), or NULL. */
const char *vxm_journal_get_held(VxmJournal *journal);
VxmJournalOwnerStatus vxm_journal_get_owner_status(VxmJournal *journal);
/* TRUE when no entry is left to undo. */
gboolean vxm_journal_is_clear(VxmJournal *journal);
/* Adds the members every journal listing has to the object @b is building: "status"
 * ("running", "orphaned" or "held"), "pid" (the owner's, or null) and "held" (why, or null). */
void vxm_journal_add_owner_members(VxmJournal *journal, JsonBuilder *b);

/* Takes ownership for the calling process (to continue or undo it): refused (BUSY) while
 * another live process owns it. Saves. */
gboolean vxm_journal_claim(VxmJournal *journal, GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Marks the journal held with @reason (no owner; recover leaves it). Saves. */
gboolean vxm_journal_hold(VxmJournal *journal, const char *reason,
                          GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Appends an "intent" entry of @kind with @data (a reference is taken) and saves BEFORE the
 * caller changes the host. */
gboolean vxm_journal_begin(VxmJournal *journal, const char *kind, JsonObject *data,
                           guint *out_index, GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Sets entry @index to @state (done, stuck, undone) with an optional @message and saves. */
gboolean vxm_journal_finish(VxmJournal *journal, guint index, VxmJournalState state,
                            const char *message, GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Writes the journal atomically (temp, fsync, rename). */
gboolean vxm_journal_save(VxmJournal *journal, GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Deletes the file (the host is restored, or the changes are handed elsewhere). */
gboolean vxm_journal_remove(VxmJournal *journal, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Undoes every entry not yet undone (and not of a kind in ctx->skip_kinds), last first, each
 * one marked and saved as it goes; an entry that fails (or whose kind has no handler) is kept
 * and the rest still undone; a hung write marks its entry stuck. Appends one line per action
 * to @report (may be NULL). Returns TRUE when nothing but skipped entries is left, and removes
 * the file when nothing at all is; otherwise FALSE with an error listing what is left.
 * A journal may be used from several threads (the supervisor's parallel steps): every
 * function that changes it takes its lock. */
gboolean vxm_journal_undo(VxmJournal *journal, const VxmJournalUndoContext *ctx, GPtrArray *report,
                          GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The whole journal as JSON (what is saved; also for `vxm status --json`). */
JsonNode *vxm_journal_to_json(VxmJournal *journal);

G_END_DECLS
