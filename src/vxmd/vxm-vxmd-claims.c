/* vxm-vxmd-claims: whose VM a journal is, and who holds it while a request runs.
 *
 * vxmd stamps each VM's journal with the user of its first request (journal kind
 * "vxmd-client"): only that user, or root, can change or give back what it holds. VM names are
 * each user's own (the journal "win11.u1001"). A request that changes the host claims its VM
 * for the time it runs; one that changed nothing leaves no journal behind.
 */
#include <string.h>

#include <glib/gstdio.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "vxmd/vxm-vxmd-private.h"

#define CLIENT_KIND "vxmd-client"
/* VMs one user (not root) may hold host resources for at once: each is a journal that every
 * grant and status reads. vxm runs a handful of VMs at most; a GPU is one VM's at a time. */
#define MAX_JOURNALS_PER_USER 8

static gboolean
client_undo(const VxmJournalUndoContext *ctx, const VxmJournalEntry *entry, char **out_message,
            GError **error)
{
  (void)ctx;
  (void)error;
  *out_message = g_strdup_printf("the VM was prepared for uid %s",
                                 vxm_journal_entry_get_string(entry, "uid_text"));
  return TRUE;
}

void
vxm_vxmd_claims_register_kind(void)
{
  vxm_journal_register_kind(CLIENT_KIND, client_undo);
}

/* The uid recorded by the VM's first request, or -1 when none was. */
gint64
vxm_vxmd_journal_uid(VxmJournal *journal)
{
  for (guint i = 0; i < vxm_journal_get_n_entries(journal); i++) {
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, i);

    if (g_strcmp0(entry->kind, CLIENT_KIND) == 0)
      return json_object_get_int_member_with_default(entry->data, "uid", -1);
  }
  return -1;
}

gint64
vxm_vxmd_journal_pid(VxmJournal *journal)
{
  for (guint i = 0; i < vxm_journal_get_n_entries(journal); i++) {
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, i);

    if (g_strcmp0(entry->kind, CLIENT_KIND) == 0)
      return json_object_get_int_member_with_default(entry->data, "pid", -1);
  }
  return -1;
}

gboolean
vxm_vxmd_journal_client_alive(VxmJournal *journal)
{
  for (guint i = 0; i < vxm_journal_get_n_entries(journal); i++) {
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, i);

    if (g_strcmp0(entry->kind, CLIENT_KIND) == 0) {
      VxmJournalOwner owner = {
          .pid = json_object_get_int_member_with_default(entry->data, "pid", -1),
          .start_time =
              (guint64)json_object_get_int_member_with_default(entry->data, "start_time", 0),
      };
      return vxm_journal_owner_is_alive(&owner);
    }
  }
  return FALSE;
}

char *
vxm_vxmd_journal_user_text(VxmJournal *journal)
{
  for (guint i = 0; i < vxm_journal_get_n_entries(journal); i++) {
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, i);

    if (g_strcmp0(entry->kind, CLIENT_KIND) == 0)
      return g_strdup_printf("uid %s", vxm_journal_entry_get_string(entry, "uid_text"));
  }
  return g_strdup("root (vxm without vxmd)");
}

gboolean
vxm_vxmd_refuse_other_owner(VxmJournal *journal, const VxmVxmdPeer *peer, const char *vm,
                            GError **error)
{
  gint64 owner = vxm_vxmd_journal_uid(journal);

  if (owner < 0 || owner == (gint64)peer->uid || peer->uid == 0)
    return TRUE;
  g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
              "VM %s's host resources belong to uid %" G_GINT64_FORMAT
              ", not to you (%s, uid %u): only that user or root can change or release them",
              vm, owner, peer->user, (guint)peer->uid);
  return FALSE;
}

/* A journal a vxmd that is gone left behind while its VM's vxm still runs (vxmd restarted
 * under a running guest): this vxmd takes it over for that vxm's user, so the teardown it asks
 * for is served. Anyone else's requests leave it as it is (the owner was checked before). */
static gboolean
adopt_live_journal(VxmJournal *on_disk, const VxmVxmdPeer *peer, const char *vm, GError **error)
{
  if (on_disk == NULL || vxm_journal_get_owner_status(on_disk) != VXM_JOURNAL_OWNER_GONE ||
      vxm_vxmd_journal_uid(on_disk) < 0 ||
      (vxm_vxmd_journal_uid(on_disk) != (gint64)peer->uid && peer->uid != 0) ||
      !vxm_vxmd_journal_client_alive(on_disk))
    return TRUE;
  if (!vxm_journal_claim(on_disk, error)) {
    g_prefix_error(error, "cannot take over VM %s's journal from the vxmd that is gone: ", vm);
    return FALSE;
  }
  g_message("  took over VM %s's journal: its vxm (pid %" G_GINT64_FORMAT ") still runs", vm,
            vxm_vxmd_journal_pid(on_disk));
  return TRUE;
}

/* VM names are each user's own: a user's VM "win11" is the journal "win11.u1001", so another
 * member asking for "win11" never reaches it. Root's are plain, as root's vxm without vxmd
 * names them; root naming a VM it has none of reaches the one user's VM of that name. VM names
 * hold no '.', so a journal name says whose it is. */

/* "win11.u1001" -> "win11"; any other name as it is. */
char *
vxm_vxmd_vm_display_name(const char *journal_name)
{
  const char *dot = strrchr(journal_name, '.');

  if (dot != NULL && dot[1] == 'u' && dot[2] != '\0' &&
      strspn(dot + 2, "0123456789") == strlen(dot + 2))
    return g_strndup(journal_name, (gsize)(dot - journal_name));
  return g_strdup(journal_name);
}

char *
vxm_vxmd_vm_journal_name(VxmVxmd *self, uid_t uid, const char *vm)
{
  g_autoptr(GPtrArray) names = NULL;
  g_autofree char *prefix = NULL;
  const char *found = NULL;
  guint n = 0;

  if (uid != 0)
    return g_strdup_printf("%s.u%u", vm, (guint)uid);
  if (vxm_journal_exists(self->hostfs, vm))
    return g_strdup(vm);
  names = vxm_journal_list(self->hostfs, NULL);
  prefix = g_strconcat(vm, ".u", NULL);
  for (guint i = 0; names != NULL && i < names->len; i++) {
    g_autofree char *shown = vxm_vxmd_vm_display_name(names->pdata[i]);

    if (g_str_has_prefix(names->pdata[i], prefix) && g_strcmp0(shown, vm) == 0) {
      found = names->pdata[i];
      n++;
    }
  }
  return g_strdup(n == 1 ? found : vm);
}

/* Called with self->lock held. */
static void
note_claim(VxmVxmd *self, VxmVxmdPeer *peer, const char *vm)
{
  if (peer->claimed_vm != NULL)
    return; /* a request claims one VM; a second claim of it counts once */
  peer->claimed_vm = g_strdup(vm);
  g_hash_table_insert(
      self->claims, g_strdup(vm),
      GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(self->claims, vm)) + 1));
}

/* Journals on disk that record @uid as their user, other than @except's. */
static guint
count_user_journals(VxmVxmd *self, uid_t uid, const char *except)
{
  g_autoptr(GPtrArray) names = vxm_journal_list(self->hostfs, NULL);
  guint n = 0;

  for (guint i = 0; names != NULL && i < names->len; i++) {
    g_autoptr(VxmJournal) journal = NULL;

    if (g_strcmp0(names->pdata[i], except) == 0)
      continue;
    journal = vxm_journal_load(self->hostfs, names->pdata[i], NULL);
    if (journal != NULL && vxm_vxmd_journal_uid(journal) == (gint64)uid)
      n++;
  }
  return n;
}

/* The VM's journal for a request that changes the host: created and stamped with the peer on
 * first use, refused when another uid owns it. */
VxmJournal *
vxm_vxmd_claim_vm(VxmVxmd *self, VxmVxmdPeer *peer, const char *vm, GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
  g_autoptr(VxmJournal) on_disk = vxm_journal_load(self->hostfs, vm, NULL);
  VxmJournal *journal = NULL;
  g_autoptr(JsonObject) data = NULL;
  g_autofree char *uid_text = NULL;
  guint64 start = 0;
  guint index;

  /* the owner from the file before the lookup, which would claim a held journal */
  if (on_disk != NULL && (!vxm_vxmd_refuse_other_owner(on_disk, peer, vm, error) ||
                          !adopt_live_journal(on_disk, peer, vm, error)))
    return NULL;
  journal = vxm_journal_store_take(self->store, vm, TRUE, error);
  if (journal == NULL)
    return NULL;
  if (vxm_vxmd_journal_uid(journal) >= 0) {
    if (!vxm_vxmd_refuse_other_owner(journal, peer, vm, error))
      return NULL;
    note_claim(self, peer, vm);
    return journal;
  }
  note_claim(self, peer, vm);
  if (peer->uid != 0) {
    guint held = count_user_journals(self, peer->uid, vm);

    if (held >= MAX_JOURNALS_PER_USER) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                  "vxmd refused VM %s: uid %u already holds host resources for %u VMs (at most "
                  "%d at once); stop one (vxm stop NAME), or recover those whose vxm is gone "
                  "(vxm recover)",
                  vm, (guint)peer->uid, held, MAX_JOURNALS_PER_USER);
      return NULL;
    }
  }
  if (!vxm_process_get_start_time(self->proc_fs, peer->pid, &start, error))
    return NULL;
  uid_text = g_strdup_printf("%u (%s)", (guint)peer->uid, peer->user);
  data = json_object_new();
  json_object_set_int_member(data, "uid", peer->uid);
  json_object_set_string_member(data, "uid_text", uid_text);
  json_object_set_int_member(data, "pid", peer->pid);
  json_object_set_int_member(data, "start_time", (gint64)start);
  if (!vxm_journal_begin(journal, CLIENT_KIND, data, &index, error) ||
      !vxm_journal_finish(journal, index, VXM_JOURNAL_STATE_DONE, NULL, error))
    return NULL;
  return journal;
}

static gboolean
journal_holds_only_client(VxmJournal *journal)
{
  for (guint i = 0; i < vxm_journal_get_n_entries(journal); i++)
    if (g_strcmp0(vxm_journal_get_entry(journal, i)->kind, CLIENT_KIND) != 0)
      return FALSE;
  return TRUE;
}

/* After each request. One that claimed a VM and changed nothing (failed, or found the host as
 * asked: a monitor already on the input) must not leave a journal that holds nothing but its
 * stamp: that would reserve the VM's name for its user, and every journal is read on each
 * grant and status. Dropped only when no other request of the VM is in flight, as those hold
 * the journal. */
static void
drop_claim(VxmVxmd *self, const char *vm)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *local_dir = NULL;
  VxmJournal *journal;

  if (g_hash_table_contains(self->claims, vm))
    return; /* claimed again meanwhile: that request drops it if it stays empty */
  journal = vxm_journal_store_take(self->store, vm, FALSE, NULL);
  if (journal == NULL || !journal_holds_only_client(journal))
    return;
  dir = g_path_get_dirname(vxm_journal_get_path(journal));
  if (!vxm_host_ops_restore_all(self->ops, vm, NULL, report, &error)) {
    g_message("  VM %s's empty journal could not be dropped: %s", vm, error->message);
    return;
  }
  /* and the folder, when this made it: fails (ENOTEMPTY) while any journal is in it, and new
   * journals are stamped under self->lock */
  local_dir = vxm_hostfs_path(self->hostfs, dir);
  g_rmdir(local_dir);
}

/* The last request that claimed the VM drops its journal if it stays empty, with the VM's lock
 * alone (vxm_journal_store_lock_vm): no request of the VM runs while its journal may go. */
void
vxm_vxmd_release_claim(VxmVxmd *self, VxmVxmdPeer *peer)
{
  g_autofree char *vm = g_steal_pointer(&peer->claimed_vm);

  if (vm == NULL)
    return;
  {
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(self->claims, vm));

    if (n > 1) {
      g_hash_table_insert(self->claims, g_strdup(vm), GUINT_TO_POINTER(n - 1));
      return;
    }
    g_hash_table_remove(self->claims, vm);
  }
  vxm_journal_store_lock_vm(self->store, vm, TRUE);
  drop_claim(self, vm);
  vxm_journal_store_unlock_vm(self->store, vm, TRUE);
}

/* For a request that gives back: whether the VM has a journal this vxmd holds (*out_exists),
 * refused when another uid owns it. The owner is read from the file first: looking a journal
 * up claims a held one (its owner becomes vxmd, "held" is cleared), which a refused request
 * must never do to another user's VM. */
gboolean
vxm_vxmd_check_vm_owner(VxmVxmd *self, const VxmVxmdPeer *peer, const char *vm,
                        gboolean *out_exists, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(VxmJournal) on_disk = vxm_journal_load(self->hostfs, vm, NULL);
  VxmJournal *journal;

  *out_exists = FALSE;
  if (on_disk != NULL && (!vxm_vxmd_refuse_other_owner(on_disk, peer, vm, error) ||
                          !adopt_live_journal(on_disk, peer, vm, error)))
    return FALSE;
  journal = vxm_journal_store_take(self->store, vm, FALSE, &local_error);
  *out_exists = journal != NULL;
  if (journal == NULL) {
    if (local_error != NULL) {
      g_propagate_error(error, g_steal_pointer(&local_error));
      return FALSE;
    }
    return TRUE;
  }
  return vxm_vxmd_refuse_other_owner(journal, peer, vm, error);
}

gboolean
vxm_vxmd_claim_gpu_slot(VxmVxmd *self, const char *gpu_address, const char *vm, GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
  g_autofree char *slot = g_strndup(gpu_address, strlen(gpu_address) - 2);
  const char *other = g_hash_table_lookup(self->busy_gpus, slot);

  if (other != NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                "GPU %s is being prepared or released for VM %s right now: try again when "
                "that has finished",
                gpu_address, other);
    return FALSE;
  }
  g_hash_table_insert(self->busy_gpus, g_steal_pointer(&slot), g_strdup(vm));
  return TRUE;
}

void
vxm_vxmd_release_gpu_slot(VxmVxmd *self, const char *gpu_address)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
  g_autofree char *slot = g_strndup(gpu_address, strlen(gpu_address) - 2);

  g_hash_table_remove(self->busy_gpus, slot);
}

/* @vm's journal (any VM's, when NULL) records @uid as the user who asked for it. */
gboolean
vxm_vxmd_uid_has_journal(VxmVxmd *self, uid_t uid, const char *vm)
{
  g_autoptr(GPtrArray) names = NULL;

  if (vm != NULL) {
    g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, vm, NULL);

    return journal != NULL && vxm_vxmd_journal_uid(journal) == (gint64)uid;
  }
  names = vxm_journal_list(self->hostfs, NULL);
  for (guint i = 0; names != NULL && i < names->len; i++)
    if (vxm_vxmd_uid_has_journal(self, uid, names->pdata[i]))
      return TRUE;
  return FALSE;
}
