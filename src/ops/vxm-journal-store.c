/* vxm-journal-store: the journals this process holds, and who may take one. */
#include "ops/vxm-journal-store.h"

#include <unistd.h>

#include "common/vxm-error.h"

struct _VxmJournalStore {
  GObject parent_instance;
  VxmHostfs *hostfs;
  GMutex lock;          /* guards journals and vm_locks (never held while waiting for a VM) */
  GHashTable *journals; /* VM name -> VxmJournal, claimed by this process */
  GHashTable *vm_locks; /* VM name -> VmLock, while anyone holds or waits for it */
};

typedef struct {
  GRWLock lock;
  guint users; /* holding or waiting: the entry goes with the last */
} VmLock;

static void
vm_lock_free(VmLock *vm_lock)
{
  g_rw_lock_clear(&vm_lock->lock);
  g_free(vm_lock);
}

G_DEFINE_TYPE(VxmJournalStore, vxm_journal_store, G_TYPE_OBJECT)

/* A journal on disk this process may not take: refused with the fix. */
static gboolean
check_owner(VxmJournal *journal, const char *vm, GError **error)
{
  switch (vxm_journal_get_owner_status(journal)) {
  case VXM_JOURNAL_OWNER_ALIVE:
    if (vxm_journal_get_owner(journal)->pid == (gint64)getpid())
      return TRUE;
    g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                "the host journal of VM %s (%s) is owned by process %" G_GINT64_FORMAT
                ", which still runs: stop it first (vxm stop %s)",
                vm, vxm_journal_get_path(journal), vxm_journal_get_owner(journal)->pid, vm);
    return FALSE;
  case VXM_JOURNAL_OWNER_GONE:
    g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                "VM %s's last run did not restore the host (journal %s, its supervisor is "
                "gone): run `vxm recover` first",
                vm, vxm_journal_get_path(journal));
    return FALSE;
  case VXM_JOURNAL_OWNER_HELD: break;
  }
  return TRUE;
}

VxmJournal *
vxm_journal_store_take(VxmJournalStore *self, const char *vm, gboolean create, GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
  VxmJournal *journal = g_hash_table_lookup(self->journals, vm);
  g_autoptr(VxmJournal) loaded = NULL;
  g_autoptr(GError) local_error = NULL;

  if (journal != NULL)
    return journal;
  loaded = vxm_journal_load(self->hostfs, vm, &local_error);
  if (loaded == NULL && !g_error_matches(local_error, VXM_ERROR, VXM_ERROR_NOT_FOUND)) {
    g_propagate_error(error, g_steal_pointer(&local_error));
    return NULL;
  }
  if (loaded != NULL) {
    if (!check_owner(loaded, vm, error) || !vxm_journal_claim(loaded, error))
      return NULL;
    journal = g_steal_pointer(&loaded);
  } else {
    if (!create)
      return NULL;
    journal = vxm_journal_new(self->hostfs, vm, error);
    if (journal == NULL)
      return NULL;
  }
  g_hash_table_insert(self->journals, g_strdup(vm), journal);
  return journal;
}

VxmJournal *
vxm_journal_store_lookup(VxmJournalStore *self, const char *vm)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);

  return g_hash_table_lookup(self->journals, vm);
}

void
vxm_journal_store_forget(VxmJournalStore *self, const char *vm)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);

  g_hash_table_remove(self->journals, vm);
}

void
vxm_journal_store_lock_vm(VxmJournalStore *self, const char *vm, gboolean exclusive)
{
  VmLock *vm_lock;

  g_mutex_lock(&self->lock);
  vm_lock = g_hash_table_lookup(self->vm_locks, vm);
  if (vm_lock == NULL) {
    vm_lock = g_new0(VmLock, 1);
    g_rw_lock_init(&vm_lock->lock);
    g_hash_table_insert(self->vm_locks, g_strdup(vm), vm_lock);
  }
  vm_lock->users++;
  g_mutex_unlock(&self->lock);
  if (exclusive)
    g_rw_lock_writer_lock(&vm_lock->lock);
  else
    g_rw_lock_reader_lock(&vm_lock->lock);
}

void
vxm_journal_store_unlock_vm(VxmJournalStore *self, const char *vm, gboolean exclusive)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
  VmLock *vm_lock = g_hash_table_lookup(self->vm_locks, vm);

  g_return_if_fail(vm_lock != NULL);
  if (exclusive)
    g_rw_lock_writer_unlock(&vm_lock->lock);
  else
    g_rw_lock_reader_unlock(&vm_lock->lock);
  if (--vm_lock->users == 0)
    g_hash_table_remove(self->vm_locks, vm);
}

static void
vxm_journal_store_finalize(GObject *object)
{
  VxmJournalStore *self = VXM_JOURNAL_STORE(object);

  g_hash_table_unref(self->journals);
  g_hash_table_unref(self->vm_locks);
  g_mutex_clear(&self->lock);
  g_clear_object(&self->hostfs);
  G_OBJECT_CLASS(vxm_journal_store_parent_class)->finalize(object);
}

static void
vxm_journal_store_class_init(VxmJournalStoreClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = vxm_journal_store_finalize;
}

static void
vxm_journal_store_init(VxmJournalStore *self)
{
  g_mutex_init(&self->lock);
  self->journals =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)vxm_journal_free);
  self->vm_locks =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)vm_lock_free);
}

VxmJournalStore *
vxm_journal_store_new(VxmHostfs *hostfs)
{
  VxmJournalStore *self = g_object_new(VXM_TYPE_JOURNAL_STORE, NULL);

  self->hostfs = g_object_ref(hostfs);
  return self;
}
