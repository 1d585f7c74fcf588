/* vxm-journal-store: the VM journals one process holds while their VMs run.
 *
 * One table, VM name -> VxmJournal, shared by everything in the process that changes the host
 * for a VM: VxmHostOpsLocal journals into it, and vxmd (which does its work through a
 * VxmHostOpsLocal) stamps and checks the same journals. Taking a journal decides in one place
 * whether this process may: a new one, one this process holds, or one left held (keep_bound,
 * claimed); a journal whose owner still runs, or whose supervisor is gone, is refused with
 * VXM_ERROR_BUSY and the command that fixes it.
 */
#pragma once

#include "common/vxm-hostfs.h"
#include "journal/vxm-journal.h"

G_BEGIN_DECLS

#define VXM_TYPE_JOURNAL_STORE (vxm_journal_store_get_type())
G_DECLARE_FINAL_TYPE(VxmJournalStore, vxm_journal_store, VXM, JOURNAL_STORE, GObject)

VxmJournalStore *vxm_journal_store_new(VxmHostfs *hostfs);

/* The VM's journal as this process holds it (opened, created when @create, or claimed if
 * held on disk); NULL with @error unset when there is none and !@create. Owned by @self. */
VxmJournal *vxm_journal_store_take(VxmJournalStore *self, const char *vm, gboolean create,
                                   GError **error);
/* The VM's journal only if this process holds it already (never reads the disk), or NULL. */
VxmJournal *vxm_journal_store_lookup(VxmJournalStore *self, const char *vm);
/* Lets go of the VM's journal (undone and removed, or held on disk for the next start). */
void vxm_journal_store_forget(VxmJournalStore *self, const char *vm);

/* What a caller means to do with a journal it found; vxm_journal_store_check_use() says whether
 * the journal's owner lets it. */
typedef enum {
  VXM_JOURNAL_USE_CONTINUE, /* take the VM's journal for its next step (@subject: the VM) */
  VXM_JOURNAL_USE_RECOVER,  /* undo it, `vxm recover` (held: only when nothing is left in it) */
  VXM_JOURNAL_USE_DETACH,   /* detach its GPU by hand (@subject: the GPU; held: already is) */
  VXM_JOURNAL_USE_REATTACH, /* give its GPU back by hand (@subject: the GPU) */
  VXM_JOURNAL_USE_GPU,      /* prepare @subject, a GPU whose slot this journal holds */
} VxmJournalUse;

/* The one place an owner status (running, orphaned, held) becomes a refusal: FALSE with
 * VXM_ERROR_BUSY and the command that fixes it when the journal's owner stands in the way of
 * @use. */
gboolean vxm_journal_store_check_use(VxmJournal *journal, VxmJournalUse use, const char *subject,
                                     GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* One lock per VM, for callers that serve several requests at once (vxmd): requests that only
 * add to or read a VM's journal share it; one that may undo and let go of the journal
 * (restore-all, recover, a release) holds it alone, so it never frees a journal another
 * request still uses. Never nest two VMs' locks. */
void vxm_journal_store_lock_vm(VxmJournalStore *self, const char *vm, gboolean exclusive);
void vxm_journal_store_unlock_vm(VxmJournalStore *self, const char *vm, gboolean exclusive);

G_END_DECLS
