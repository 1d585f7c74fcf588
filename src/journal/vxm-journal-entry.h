/* vxm-journal-entry: one change to the host, as the journal records it.
 *
 * An entry is written as an intent before the change is made and updated after it (done, or
 * stuck when the change did not finish and the device is left in an unknown state). Undo turns
 * it to undone. @data holds what the undo needs (device, original driver, original override...)
 * and is owned by the kind that wrote it.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  VXM_JOURNAL_STATE_INTENT, /* about to change: may or may not have happened */
  VXM_JOURNAL_STATE_DONE,   /* changed, and verified */
  VXM_JOURNAL_STATE_STUCK,  /* the change did not finish (a hung write): state unknown */
  VXM_JOURNAL_STATE_UNDONE, /* given back */
} VxmJournalState;

typedef struct {
  char *kind; /* "pci-bind", later "hugepages", "device-perm", ... */
  VxmJournalState state;
  JsonObject *data; /* what the undo needs */
  char *time;       /* ISO 8601 UTC of the last state change */
  char *message;    /* why it is stuck, or what the undo did; may be NULL */
} VxmJournalEntry;

VxmJournalEntry *vxm_journal_entry_new(const char *kind, JsonObject *data);
void vxm_journal_entry_free(VxmJournalEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmJournalEntry, vxm_journal_entry_free)

/* Sets the state, stamps the time and replaces the message (NULL clears it). */
void vxm_journal_entry_set_state(VxmJournalEntry *entry, VxmJournalState state,
                                 const char *message);

const char *vxm_journal_state_to_string(VxmJournalState state);
gboolean vxm_journal_state_from_string(const char *text, VxmJournalState *out);

/* JSON form: {"kind", "state", "time", "data", "message"?}. */
JsonNode *vxm_journal_entry_to_json(const VxmJournalEntry *entry);
VxmJournalEntry *vxm_journal_entry_from_json(JsonNode *node,
                                             GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Convenience accessors for @data: NULL (or -1) when missing or of another type. */
const char *vxm_journal_entry_get_string(const VxmJournalEntry *entry, const char *member);

G_END_DECLS
