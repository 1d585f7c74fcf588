/* vxm-journal-store: the journals this process holds, and who may take one. */
#include "ops/vxm-journal-store.h"

#include <stdarg.h>
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

static gboolean busy(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);

static gboolean
busy(GError **error, const char *format, ...)
{
  va_list ap;

  va_start(ap, format);
  g_propagate_error(error, g_error_new_valist(VXM_ERROR, VXM_ERROR_BUSY, format, ap));
  va_end(ap);
  return FALSE;
}

gboolean
vxm_journal_store_check_use(VxmJournal *journal, VxmJournalUse use, const char *subject,
                            GError **error)
{
  const char *name = vxm_journal_get_name(journal);
  const char *path = vxm_journal_get_path(journal);
  const VxmJournalOwner *owner = vxm_journal_get_owner(journal);
  gint64 pid = owner != NULL ? owner->pid : -1;

  switch (vxm_journal_get_owner_status(journal)) {
  case VXM_JOURNAL_OWNER_ALIVE:
    switch (use) {
    case VXM_JOURNAL_USE_CONTINUE:
      if (pid == (gint64)getpid())
        return TRUE;
      return busy(error,
                  "the host journal of VM %s (%s) is owned by process %" G_GINT64_FORMAT
                  ", which still runs: stop it first (vxm stop %s)",
                  subject, path, pid, subject);
    case VXM_JOURNAL_USE_RECOVER:
      return busy(error, "its vxm (pid %" G_GINT64_FORMAT ") still runs", pid);
    case VXM_JOURNAL_USE_DETACH:
      return busy(error,
                  "%s is being handled by %s (pid %" G_GINT64_FORMAT "): wait for it, or stop it",
                  subject, name, pid);
    case VXM_JOURNAL_USE_REATTACH:
      return busy(error, "%s holds %s (pid %" G_GINT64_FORMAT "): stop it first (vxm stop %s)",
                  name, subject, pid, name);
    case VXM_JOURNAL_USE_GPU:
    default:
      return busy(error,
                  "GPU %s is in use by %s (journal %s, pid %" G_GINT64_FORMAT "): stop it first",
                  subject, name, path, pid);
    }
  case VXM_JOURNAL_OWNER_GONE:
    switch (use) {
    case VXM_JOURNAL_USE_CONTINUE:
      return busy(error,
                  "VM %s's last run did not restore the host (journal %s, its supervisor is "
                  "gone): run `vxm recover` first",
                  subject, path);
    case VXM_JOURNAL_USE_DETACH:
      return busy(error,
                  "%s was left half-done by a vxm that is gone (journal %s): run vxm recover "
                  "first",
                  subject, path);
    case VXM_JOURNAL_USE_GPU:
      return busy(error,
                  "GPU %s was left on vfio-pci by %s, whose process is gone (journal %s): run "
                  "`vxm recover` first",
                  subject, name, path);
    case VXM_JOURNAL_USE_RECOVER:
    case VXM_JOURNAL_USE_REATTACH:
    default: return TRUE;
    }
  case VXM_JOURNAL_OWNER_HELD:
  default:
    switch (use) {
    case VXM_JOURNAL_USE_RECOVER:
      if (vxm_journal_is_clear(journal))
        return TRUE;
      return busy(error, "%s: vxm reattach gives it back", vxm_journal_get_held(journal));
    case VXM_JOURNAL_USE_GPU:
      return busy(error,
                  "GPU %s is held on vfio-pci (%s, journal %s): give it back with `vxm "
                  "reattach %s` first",
                  subject, vxm_journal_get_held(journal), path, subject);
    case VXM_JOURNAL_USE_CONTINUE:
    case VXM_JOURNAL_USE_DETACH:
    case VXM_JOURNAL_USE_REATTACH:
    default: return TRUE;
    }
  }
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
    if (!vxm_journal_store_check_use(loaded, VXM_JOURNAL_USE_CONTINUE, vm, error) ||
        !vxm_journal_claim(loaded, error))
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
