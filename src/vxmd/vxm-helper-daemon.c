/* vxm-helper-daemon: vxmd's sockets, authorisation, policy and requests. */
#include "vxmd/vxm-helper-daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "common/vxm-error.h"
#include "common/vxm-hostfs.h"
#include "common/vxm-util.h"
#include "display/vxm-display.h"
#include "input/vxm-input-access.h"
#include "journal/vxm-journal.h"
#include "memory/vxm-hugepage-pools.h"
#include "memory/vxm-hugepages.h"
#include "ops/vxm-helper-protocol.h"
#include "ops/vxm-host-ops-local.h"
#include "ops/vxm-journal-store.h"
#include "ops/vxm-journal-kinds.h"
#include "pci/vxm-gpu.h"
#include "pci/vxm-pci-address.h"
#include "pci/vxm-vfio.h"
#include "memory/vxm-hugepage-pools.h"
#include "memory/vxm-hugepages.h"
#include "platform/vxm-dmi-identity.h"
#include "platform/vxm-meminfo.h"
#include "usb/vxm-usb-device.h"
#include "vm/vxm-vm-config.h"
#include "vxmd/vxm-helper-auth.h"

#define CLIENT_KIND              "vxmd-client"
#define VXM_HELPER_MEMLOCK_SLACK (G_GUINT64_CONSTANT(2) << 30)
#define MAX_FDS                  4
/* Connections one user (not root) may have open at once: a member of the group who opens many
 * and sends nothing must not take every worker from the other users. vxm itself uses one or
 * two at a time, a starting VM one per parallel step; the tests use eight threads at once. */
#define MAX_CONNECTIONS_PER_USER 16
/* VMs one user (not root) may hold host resources for at once: each is a journal that every
 * grant and status reads. vxm runs a handful of VMs at most; a GPU is one VM's at a time. */
#define MAX_JOURNALS_PER_USER 8

struct _VxmHelperDaemon {
  VxmHostfs *hostfs;
  VxmHostfs *proc_fs;     /* the real /proc: peers and pidfds are processes of this machine */
  VxmJournalStore *store; /* the journals of the VMs this vxmd serves, shared with ops */
  VxmHostOps *ops;        /* every host change, local to this root process */
  char *group;
  gid_t group_gid;
  guint idle_timeout_ms;
  GSocketService *service;
  char *socket_path;     /* created by us: removed at the end */
  GMutex lock;           /* guards busy_gpus and the first record of a VM's client */
  GMutex grant_lock;     /* one grant-nodes at a time: its checks hold until it has granted */
  GHashTable *busy_gpus; /* slot "0000:01:00" -> VM, while a prepare/release runs */
  GHashTable *claims;    /* VM -> requests in flight that claimed it (GUINT_TO_POINTER) */
  GHashTable *user_connections; /* uid -> connections open (GUINT_TO_POINTER), under lock */
  char **allowed_gpus;          /* vxmd.conf [policy] allowed_gpus (NULL: any the policy allows) */
  char **allowed_users;         /* vxmd.conf [policy] allowed_users (NULL: the whole group) */
  VxmHelperAuth *auth;          /* root, group, polkit */
};

typedef struct {
  uid_t uid;
  gid_t gid;
  pid_t pid;
  char *user;
  VxmHelperCaller *caller; /* the same process, for vxm_helper_auth_check() */
  char *claimed_vm;        /* the VM the current request claimed (claim_vm), if any */
  int fds[MAX_FDS];
  guint n_fds;
} Peer;

/* ---------------------------------------------------------------- config and journal kind */

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

static gboolean
load_config(VxmHelperDaemon *self, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autofree char *path = vxm_hostfs_path(self->hostfs, VXM_HOST_ETC_VXM "/vxmd.conf");
  g_autoptr(GError) local_error = NULL;

  if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local_error)) {
    if (g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return TRUE;
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "%s: %s", VXM_HOST_ETC_VXM "/vxmd.conf",
                local_error->message);
    return FALSE;
  }
  self->allowed_gpus = g_key_file_get_string_list(kf, "policy", "allowed_gpus", NULL, NULL);
  self->allowed_users = g_key_file_get_string_list(kf, "policy", "allowed_users", NULL, NULL);
  for (gsize i = 0; self->allowed_gpus != NULL && self->allowed_gpus[i] != NULL; i++) {
    VxmPciAddress addr;

    g_strstrip(self->allowed_gpus[i]);
    if (!vxm_pci_address_parse(self->allowed_gpus[i], &addr, error)) {
      g_prefix_error(error, "%s [policy] allowed_gpus: ", VXM_HOST_ETC_VXM "/vxmd.conf");
      return FALSE;
    }
    g_free(self->allowed_gpus[i]);
    self->allowed_gpus[i] = vxm_pci_address_to_string(&addr);
  }
  for (gsize i = 0; self->allowed_users != NULL && self->allowed_users[i] != NULL; i++)
    g_strstrip(self->allowed_users[i]);
  return TRUE;
}

VxmHelperDaemon *
vxm_helper_daemon_new(const VxmHelperDaemonOptions *options, GError **error)
{
  g_autoptr(VxmHelperDaemon) self = g_new0(VxmHelperDaemon, 1);
  struct group grp, *res = NULL;
  char buf[4096];

  g_mutex_init(&self->lock);
  g_mutex_init(&self->grant_lock);
  self->busy_gpus = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  self->user_connections = g_hash_table_new(g_direct_hash, g_direct_equal);
  self->claims = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  self->hostfs = vxm_hostfs_new(options->root);
  self->proc_fs = vxm_hostfs_new(NULL);
  self->store = vxm_journal_store_new(self->hostfs);
  self->ops = vxm_host_ops_local_new_with_store(self->hostfs, self->store);
  self->group = g_strdup(options->group != NULL ? options->group : "vxm");
  self->idle_timeout_ms = options->idle_timeout_ms > 0 ? options->idle_timeout_ms : 10000;
  if (getgrnam_r(self->group, &grp, buf, sizeof buf, &res) != 0 || res == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "group %s does not exist: create it (systemd-sysusers, or groupadd --system %s)",
                self->group, self->group);
    return NULL;
  }
  self->group_gid = grp.gr_gid;
  if (!load_config(self, error))
    return NULL;
  self->auth =
      vxm_helper_auth_new(self->group, self->group_gid, (const char *const *)self->allowed_users);
  vxm_journal_register_all_kinds();
  vxm_journal_register_kind(CLIENT_KIND, client_undo);
  self->service = g_threaded_socket_service_new(
      (int)(options->max_connections > 0 ? options->max_connections : 64));
  return g_steal_pointer(&self);
}

void
vxm_helper_daemon_free(VxmHelperDaemon *self)
{
  if (self == NULL)
    return;
  if (self->service != NULL) {
    g_socket_service_stop(self->service);
    g_socket_listener_close(G_SOCKET_LISTENER(self->service));
    g_object_unref(self->service);
  }
  if (self->socket_path != NULL)
    unlink(self->socket_path);
  g_free(self->socket_path);
  g_clear_object(&self->ops);
  g_clear_object(&self->store);
  g_clear_object(&self->hostfs);
  g_clear_object(&self->proc_fs);
  g_hash_table_unref(self->busy_gpus);
  g_hash_table_unref(self->user_connections);
  g_hash_table_unref(self->claims);
  g_strfreev(self->allowed_gpus);
  g_strfreev(self->allowed_users);
  vxm_helper_auth_free(self->auth);
  g_free(self->group);
  g_mutex_clear(&self->lock);
  g_mutex_clear(&self->grant_lock);
  g_free(self);
}

/* ---------------------------------------------------------------- authorisation */

/* The uid recorded by the VM's first request, or -1 when none was. */
static gint64
journal_client_uid(VxmJournal *journal)
{
  for (guint i = 0; i < vxm_journal_get_n_entries(journal); i++) {
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, i);

    if (g_strcmp0(entry->kind, CLIENT_KIND) == 0)
      return json_object_get_int_member_with_default(entry->data, "uid", -1);
  }
  return -1;
}

static gint64
journal_client_pid(VxmJournal *journal)
{
  for (guint i = 0; i < vxm_journal_get_n_entries(journal); i++) {
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, i);

    if (g_strcmp0(entry->kind, CLIENT_KIND) == 0)
      return json_object_get_int_member_with_default(entry->data, "pid", -1);
  }
  return -1;
}

static gboolean
journal_client_alive(VxmJournal *journal)
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

static gboolean
refuse_other_owner(VxmJournal *journal, const Peer *peer, const char *vm, GError **error)
{
  gint64 owner = journal_client_uid(journal);

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
adopt_live_journal(VxmJournal *on_disk, const Peer *peer, const char *vm, GError **error)
{
  if (on_disk == NULL || vxm_journal_get_owner_status(on_disk) != VXM_JOURNAL_OWNER_GONE ||
      journal_client_uid(on_disk) < 0 ||
      (journal_client_uid(on_disk) != (gint64)peer->uid && peer->uid != 0) ||
      !journal_client_alive(on_disk))
    return TRUE;
  if (!vxm_journal_claim(on_disk, error)) {
    g_prefix_error(error, "cannot take over VM %s's journal from the vxmd that is gone: ", vm);
    return FALSE;
  }
  g_message("  took over VM %s's journal: its vxm (pid %" G_GINT64_FORMAT ") still runs", vm,
            journal_client_pid(on_disk));
  return TRUE;
}

/* ---------------------------------------------------------------- per-user VM names
 *
 * VM names are each user's own: a user's VM "win11" is the journal "win11.u1001", so another
 * member asking for "win11" never reaches it. Root's are plain, as root's vxm without vxmd
 * names them; root naming a VM it has none of reaches the one user's VM of that name. VM names
 * hold no '.', so a journal name says whose it is. */

/* "win11.u1001" -> "win11"; any other name as it is. */
static char *
vm_display_name(const char *journal_name)
{
  const char *dot = strrchr(journal_name, '.');

  if (dot != NULL && dot[1] == 'u' && dot[2] != '\0' &&
      strspn(dot + 2, "0123456789") == strlen(dot + 2))
    return g_strndup(journal_name, (gsize)(dot - journal_name));
  return g_strdup(journal_name);
}

static char *
vm_journal_name(VxmHelperDaemon *self, uid_t uid, const char *vm)
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
    g_autofree char *shown = vm_display_name(names->pdata[i]);

    if (g_str_has_prefix(names->pdata[i], prefix) && g_strcmp0(shown, vm) == 0) {
      found = names->pdata[i];
      n++;
    }
  }
  return g_strdup(n == 1 ? found : vm);
}

/* Called with self->lock held. */
static void
note_claim(VxmHelperDaemon *self, Peer *peer, const char *vm)
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
count_user_journals(VxmHelperDaemon *self, uid_t uid, const char *except)
{
  g_autoptr(GPtrArray) names = vxm_journal_list(self->hostfs, NULL);
  guint n = 0;

  for (guint i = 0; names != NULL && i < names->len; i++) {
    g_autoptr(VxmJournal) journal = NULL;

    if (g_strcmp0(names->pdata[i], except) == 0)
      continue;
    journal = vxm_journal_load(self->hostfs, names->pdata[i], NULL);
    if (journal != NULL && journal_client_uid(journal) == (gint64)uid)
      n++;
  }
  return n;
}

/* The VM's journal for a request that changes the host: created and stamped with the peer on
 * first use, refused when another uid owns it. */
static VxmJournal *
claim_vm(VxmHelperDaemon *self, Peer *peer, const char *vm, GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
  g_autoptr(VxmJournal) on_disk = vxm_journal_load(self->hostfs, vm, NULL);
  VxmJournal *journal = NULL;
  g_autoptr(JsonObject) data = NULL;
  g_autofree char *uid_text = NULL;
  guint64 start = 0;
  guint index;

  /* the owner from the file before the lookup, which would claim a held journal */
  if (on_disk != NULL && (!refuse_other_owner(on_disk, peer, vm, error) ||
                          !adopt_live_journal(on_disk, peer, vm, error)))
    return NULL;
  journal = vxm_journal_store_take(self->store, vm, TRUE, error);
  if (journal == NULL)
    return NULL;
  if (journal_client_uid(journal) >= 0) {
    if (!refuse_other_owner(journal, peer, vm, error))
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
release_claim(VxmHelperDaemon *self, Peer *peer)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
  g_autofree char *vm = g_steal_pointer(&peer->claimed_vm);
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *local_dir = NULL;
  VxmJournal *journal;
  guint n;

  if (vm == NULL)
    return;
  n = GPOINTER_TO_UINT(g_hash_table_lookup(self->claims, vm));
  if (n > 1) {
    g_hash_table_insert(self->claims, g_strdup(vm), GUINT_TO_POINTER(n - 1));
    return;
  }
  g_hash_table_remove(self->claims, vm);
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

/* For a request that gives back: whether the VM has a journal this vxmd holds (*out_exists),
 * refused when another uid owns it. The owner is read from the file first: looking a journal
 * up claims a held one (its owner becomes vxmd, "held" is cleared), which a refused request
 * must never do to another user's VM. */
static gboolean
check_vm_owner(VxmHelperDaemon *self, const Peer *peer, const char *vm, gboolean *out_exists,
               GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(VxmJournal) on_disk = vxm_journal_load(self->hostfs, vm, NULL);
  VxmJournal *journal;

  *out_exists = FALSE;
  if (on_disk != NULL && (!refuse_other_owner(on_disk, peer, vm, error) ||
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
  return refuse_other_owner(journal, peer, vm, error);
}

/* ---------------------------------------------------------------- the device policy */

static gboolean
check_gpu_policy(VxmHelperDaemon *self, const char *gpu_address, GError **error)
{
  g_autoptr(VxmGpu) gpu = vxm_gpu_find(self->hostfs, gpu_address, error);
  g_autoptr(GPtrArray) reasons = NULL;

  if (gpu == NULL)
    return FALSE;
  if (self->allowed_gpus != NULL &&
      !g_strv_contains((const char *const *)self->allowed_gpus, gpu_address)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "GPU %s is not in allowed_gpus of %s: the administrator allows only %s",
                gpu_address, VXM_HOST_ETC_VXM "/vxmd.conf",
                self->allowed_gpus[0] != NULL ? self->allowed_gpus[0] : "none");
    return FALSE;
  }
  if (!vxm_gpu_check_passthrough_safe(gpu, &reasons)) {
    g_autofree char *why = NULL;

    g_ptr_array_add(reasons, NULL);
    why = g_strjoinv("; ", (char **)reasons->pdata);
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED, "vxmd will not give GPU %s to a guest: %s",
                gpu_address, why);
    return FALSE;
  }
  return TRUE;
}

static gboolean
claim_gpu_slot(VxmHelperDaemon *self, const char *gpu_address, const char *vm, GError **error)
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

static void
release_gpu_slot(VxmHelperDaemon *self, const char *gpu_address)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
  g_autofree char *slot = g_strndup(gpu_address, strlen(gpu_address) - 2);

  g_hash_table_remove(self->busy_gpus, slot);
}

/* A vfio group node may go only to the VM whose GPU's group it is. */
static gboolean
check_vfio_group(VxmHelperDaemon *self, VxmJournal *journal, const char *vm, gint64 group,
                 GError **error)
{
  for (guint i = 0; journal != NULL && i < vxm_journal_get_n_entries(journal); i++) {
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, i);
    const char *device = vxm_journal_entry_get_string(entry, "device");
    g_autofree char *link = NULL;
    g_autofree char *name = NULL;
    gint64 n = -1;

    if (g_strcmp0(entry->kind, "pci-bind") != 0 || entry->state == VXM_JOURNAL_STATE_UNDONE ||
        device == NULL)
      continue;
    link = g_strdup_printf(VXM_HOST_SYS_PCI_DEVICES "/%s/iommu_group", device);
    name = vxm_hostfs_read_link_basename(self->hostfs, link, NULL);
    if (name != NULL && vxm_parse_int64(name, 10, &n) && n == group)
      return TRUE;
  }
  g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
              "IOMMU group %" G_GINT64_FORMAT " is not the group of a GPU prepared for VM %s: "
              "vxmd hands over only the VM's own /dev/vfio node (prepare-gpu first)",
              group, vm);
  return FALSE;
}

static char *
journal_client_text(VxmJournal *journal)
{
  for (guint i = 0; i < vxm_journal_get_n_entries(journal); i++) {
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, i);

    if (g_strcmp0(entry->kind, CLIENT_KIND) == 0)
      return g_strdup_printf("uid %s", vxm_journal_entry_get_string(entry, "uid_text"));
  }
  return g_strdup("root (vxm without vxmd)");
}

/* The VM whose journal holds @node (a resolved host path) given away and not given back yet,
 * or NULL; @out_who says whose VM it is. Journals are read from their files, so VMs of this
 * vxmd, of a vxmd that is gone and of root's vxm without vxmd are all seen. */
static char *
node_holder(VxmHelperDaemon *self, const char *node, char **out_who)
{
  g_autoptr(GPtrArray) names = vxm_journal_list(self->hostfs, NULL);

  for (guint i = 0; names != NULL && i < names->len; i++) {
    g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, names->pdata[i], NULL);

    for (guint j = 0; journal != NULL && j < vxm_journal_get_n_entries(journal); j++) {
      VxmJournalEntry *entry = vxm_journal_get_entry(journal, j);

      if (g_strcmp0(entry->kind, VXM_DEVICE_NODE_JOURNAL_KIND) == 0 &&
          entry->state != VXM_JOURNAL_STATE_UNDONE &&
          g_strcmp0(vxm_journal_entry_get_string(entry, "path"), node) == 0) {
        *out_who = journal_client_text(journal);
        return g_strdup(names->pdata[i]);
      }
    }
  }
  return NULL;
}

/* An input or USB node may go to @vm only if it is an evdev node or a /dev/bus/usb node (a
 * [usb] device's), nobody else's VM holds it, and root owns it (a node some other user or
 * program was given is not vxmd's to hand on). */
static gboolean
check_input_node(VxmHelperDaemon *self, const char *vm, const char *host_path, GError **error)
{
  g_autofree char *resolved = vxm_hostfs_resolve(self->hostfs, host_path, error);
  g_autofree char *base = NULL;
  g_autofree char *local = NULL;
  g_autofree char *holder = NULL;
  g_autofree char *who = NULL;
  g_autofree char *what = NULL;
  struct stat st;
  gint64 n;

  if (resolved == NULL) {
    g_prefix_error(error, "cannot hand over %s: ", host_path);
    return FALSE;
  }
  base = g_path_get_basename(resolved);
  if (g_str_has_prefix(host_path, VXM_HOST_DEV_BUS_USB "/")) {
    guint bus, dev;

    g_autoptr(GPtrArray) devices = NULL;
    VxmUsbDevice *usb;

    if (!vxm_usb_node_parse(resolved, &bus, &dev)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                  "%s leads to %s, not to a /dev/bus/usb/BBB/DDD node: refused", host_path,
                  resolved);
      return FALSE;
    }
    /* a hub's node would let its holder switch off the ports of the host's other devices */
    devices = vxm_usb_devices_list(self->hostfs);
    usb = vxm_usb_devices_find_node(devices, bus, dev);
    if (usb == NULL || usb->device_class == VXM_USB_CLASS_HUB) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                  usb == NULL
                      ? "%s is no USB device the kernel lists (" VXM_HOST_SYS_BUS_USB_DEVICES
                        "): refused; unplugged meanwhile?"
                      : "%s is a USB hub: vxmd hands over USB devices, never a hub "
                        "(its holder could switch off the host's other devices)",
                  host_path);
      return FALSE;
    }
  } else if (!g_str_has_prefix(resolved, VXM_HOST_DEV_INPUT "/event") ||
             strchr(resolved + 11, '/') || !vxm_parse_int64(base + 5, 10, &n)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "%s leads to %s, not to a /dev/input/eventN node: refused", host_path, resolved);
    return FALSE;
  }
  what = g_strcmp0(host_path, resolved) == 0 ? g_strdup(host_path)
                                             : g_strdup_printf("%s (%s)", host_path, resolved);
  holder = node_holder(self, resolved, &who);
  if (holder != NULL && g_strcmp0(holder, vm) != 0) {
    g_autofree char *shown = vm_display_name(holder);

    g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                "%s is given to VM %s of %s: that user must stop that VM first (or root runs "
                "`vxm recover %s` if its vxm is gone), or choose another device",
                what, shown, who, holder);
    return FALSE;
  }
  local = vxm_hostfs_path(self->hostfs, resolved);
  if (stat(local, &st) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot hand over %s", what);
  if (st.st_uid != 0 && holder == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "%s is owned by uid %u, not root: another user or program was given it, and "
                "vxmd hands on only nodes root owns; find out who (ls -l %s), or unplug and "
                "plug the device back so udev gives it to root again",
                what, (guint)st.st_uid, resolved);
    return FALSE;
  }
  return TRUE;
}

/* ---------------------------------------------------------------- the shared monitor */

/* @journal has a function of @gpu's slot on vfio-pci, not given back yet. */
static gboolean
journal_holds_gpu(VxmJournal *journal, const char *gpu_address)
{
  VxmPciAddress gpu;

  if (!vxm_pci_address_parse(gpu_address, &gpu, NULL))
    return FALSE;
  for (guint i = 0; i < vxm_journal_get_n_entries(journal); i++) {
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, i);
    VxmPciAddress dev;

    if (g_strcmp0(entry->kind, VXM_VFIO_JOURNAL_KIND) == 0 &&
        entry->state != VXM_JOURNAL_STATE_UNDONE &&
        vxm_pci_address_parse(vxm_journal_entry_get_string(entry, "device"), &dev, NULL) &&
        vxm_pci_address_same_slot(&gpu, &dev))
      return TRUE;
  }
  return FALSE;
}

/* The monitor is shared by everyone at the desk. Root and the user of the active local session
 * (polkit granted org.vxm.vxmd.switch-monitor, not the group) may switch it at any time; anyone
 * else not while another user's VM holds the GPU named or shows on that monitor (its journal
 * switched it and has not switched it back): that would take the screen from their guest. */
static gboolean
check_monitor_switch(VxmHelperDaemon *self, const Peer *peer, const VxmHelperRequest *req,
                     GError **error)
{
  g_autoptr(GPtrArray) names = NULL;
  g_autofree char *identity = NULL;

  if (peer->uid == 0 || (!peer->caller->member &&
                         (peer->caller->granted & (1u << VXM_HELPER_ACCESS_SWITCH_MONITOR)) != 0))
    return TRUE;
  names = vxm_journal_list(self->hostfs, NULL);
  for (guint i = 0; names != NULL && i < names->len; i++) {
    g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, names->pdata[i], NULL);
    g_autofree char *vm = vm_display_name(names->pdata[i]);
    g_autofree char *who = NULL;

    if (journal == NULL || journal_client_uid(journal) == (gint64)peer->uid)
      continue;
    who = journal_client_text(journal);
    if (journal_holds_gpu(journal, req->gpu)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                  "ddc-switch: GPU %s is held by VM %s of %s, not by a VM of yours: vxmd "
                  "switches the shared monitor for the user whose VM holds the GPU (or the user "
                  "of the active local session)",
                  req->gpu, vm, who);
      return FALSE;
    }
    for (guint j = 0; j < vxm_journal_get_n_entries(journal); j++) {
      VxmJournalEntry *entry = vxm_journal_get_entry(journal, j);
      const char *shown = vxm_journal_entry_get_string(entry, "monitor");

      if (g_strcmp0(entry->kind, VXM_DISPLAY_JOURNAL_KIND) != 0 ||
          entry->state == VXM_JOURNAL_STATE_UNDONE || shown == NULL)
        continue;
      if (g_strcmp0(shown, req->monitor) != 0) {
        if (identity == NULL)
          identity = vxm_display_resolve_identity(self->hostfs, req->monitor, req->gpu, NULL);
        if (g_strcmp0(shown, identity) != 0)
          continue;
      }
      g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                  "ddc-switch: monitor %s shows VM %s of %s: only that user (or root, or the user "
                  "of the active local session) may switch it until that VM stops",
                  shown, vm, who);
      return FALSE;
    }
  }
  return TRUE;
}

/* ---------------------------------------------------------------- memlock through a pidfd */

static pid_t
pidfd_get_pid(int pidfd)
{
  g_autofree char *path = g_strdup_printf("/proc/self/fdinfo/%d", pidfd);
  g_autofree char *text = NULL;
  const char *line;
  gint64 pid = 0;

  if (!g_file_get_contents(path, &text, NULL, NULL))
    return 0;
  line = strstr(text, "\nPid:");
  if (line == NULL)
    return 0;
  line += 5;
  while (*line == ' ' || *line == '\t')
    line++;
  pid = g_ascii_strtoll(line, NULL, 10);
  return (pid_t)pid;
}

/* A guest pins at most all of its RAM, which is at most the host's, plus VFIO's and QEMU's own
 * mappings (about 1 GiB): a larger limit would only let the caller pin the host to death. */
static gboolean
check_memlock_bytes(VxmHelperDaemon *self, guint64 bytes, GError **error)
{
  g_autofree char *total_text = NULL;
  g_autofree char *max_text = NULL;
  g_autofree char *asked_text = NULL;
  guint64 total = 0;

  if (!vxm_meminfo_read(self->hostfs, "MemTotal", &total, error)) {
    g_prefix_error(error, "raise-memlock: cannot tell how much memory the host has: ");
    return FALSE;
  }
  if (bytes <= total + VXM_HELPER_MEMLOCK_SLACK)
    return TRUE;
  total_text = vxm_format_bytes(total);
  max_text = vxm_format_bytes(total + VXM_HELPER_MEMLOCK_SLACK);
  asked_text = vxm_format_bytes(bytes);
  g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
              "raise-memlock: %s is more than this host's memory (%s) + 2 GiB, the most a guest "
              "can pin (its RAM plus about 1 GiB for VFIO): ask for at most %s (the guest's "
              "memory + 1 GiB is enough)",
              asked_text, total_text, max_text);
  return FALSE;
}

/* Bytes of hugepages the VMs of @uid took and have not given back (any page size). */
static guint64
hugepages_held_by(VxmHelperDaemon *self, uid_t uid)
{
  g_autoptr(GPtrArray) names = vxm_journal_list(self->hostfs, NULL);
  guint64 total = 0;

  for (guint i = 0; names != NULL && i < names->len; i++) {
    g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, names->pdata[i], NULL);

    if (journal == NULL || journal_client_uid(journal) != (gint64)uid)
      continue;
    for (guint j = 0; j < vxm_journal_get_n_entries(journal); j++) {
      VxmJournalEntry *entry = vxm_journal_get_entry(journal, j);
      gint64 kb = json_object_get_int_member_with_default(entry->data, "page_size_kb", 0);
      gint64 took = json_object_get_int_member_with_default(entry->data, "took", 0);

      if (g_strcmp0(entry->kind, VXM_HUGEPAGES_JOURNAL_KIND) == 0 &&
          entry->state != VXM_JOURNAL_STATE_UNDONE && kb > 0 && took > 0)
        total += ((guint64)kb << 10) * (guint64)took;
    }
  }
  return total;
}

/* Before anything is dropped, compacted or written: a page size the host's pools have, at
 * least one page, and no more than the host's memory, for this request and for all the
 * hugepages the caller's VMs hold with it (root: this request alone). A larger pool could never
 * be filled; asking only makes the host drop its caches and compact for nothing. */
static gboolean
check_hugepages_request(VxmHelperDaemon *self, const Peer *peer, const VxmHelperRequest *req,
                        GError **error)
{
  g_autofree char *asked_text = NULL;
  g_autofree char *total_text = NULL;
  g_autofree char *held_text = NULL;
  guint64 total = 0, asked, held;

  if (req->page_size != VXM_HUGEPAGE_SIZE_2M && req->page_size != VXM_HUGEPAGE_SIZE_1G) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
                "reserve-hugepages: pages of %" G_GUINT64_FORMAT " bytes: only 2 MiB (2097152) "
                "and 1 GiB (1073741824) pages are used",
                req->page_size);
    return FALSE;
  }
  if (req->count == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "reserve-hugepages: a count of 0 pages reserves nothing: ask for the pages the "
                "guest's RAM takes");
    return FALSE;
  }
  if (!vxm_meminfo_read(self->hostfs, "MemTotal", &total, error)) {
    g_prefix_error(error, "reserve-hugepages: cannot tell how much memory the host has: ");
    return FALSE;
  }
  asked = req->page_size * req->count; /* at most 2^30 * 2^24: no overflow */
  held = peer->uid != 0 ? hugepages_held_by(self, peer->uid) : 0;
  if (asked <= total && held <= total - asked)
    return TRUE;
  asked_text = vxm_format_bytes(asked);
  total_text = vxm_format_bytes(total);
  held_text = vxm_format_bytes(held);
  g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
              "reserve-hugepages: %" G_GUINT64_FORMAT " pages (%s)%s%s%s are more than this "
              "host's memory (%s): no pool that large can be filled; ask for the guest's RAM "
              "only%s",
              req->count, asked_text, held > 0 ? " with the " : "", held > 0 ? held_text : "",
              held > 0 ? " your VMs hold already" : "", total_text,
              held > 0 ? ", and stop VMs you do not need" : "");
  return FALSE;
}

static gboolean
raise_memlock(VxmHelperDaemon *self, Peer *peer, const VxmHelperRequest *req, GPtrArray *report,
              GError **error)
{
  g_autofree char *status_path = NULL;
  g_autofree char *status = NULL;
  const char *uid_line;
  gboolean exists = FALSE;
  pid_t pid;
  int pidfd;

  if (!check_memlock_bytes(self, req->bytes, error))
    return FALSE;
  if (!check_vm_owner(self, peer, req->vm, &exists, error))
    return FALSE;
  if (peer->n_fds != 1) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "raise-memlock needs exactly one pidfd of the process (SCM_RIGHTS), got %u",
                peer->n_fds);
    return FALSE;
  }
  pidfd = peer->fds[0];
  pid = pidfd_get_pid(pidfd);
  if (pid == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "raise-memlock: the fd passed is not a pidfd (pidfd_open(2) the process)");
    return FALSE;
  }
  if (pid < 0 || !vxm_pidfd_is_alive(pidfd)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                "raise-memlock: the process of that pidfd has exited: nothing raised");
    return FALSE;
  }
  status_path = g_strdup_printf(VXM_HOST_PROC "/%d/status", (int)pid);
  if (!vxm_hostfs_read_file(self->proc_fs, status_path, &status, NULL, error))
    return FALSE;
  uid_line = strstr(status, "\nUid:");
  if (peer->uid != 0) {
    guint ruid = G_MAXUINT, euid = G_MAXUINT, suid = G_MAXUINT;

    if (uid_line == NULL || sscanf(uid_line + 5, "%u %u %u", &ruid, &euid, &suid) != 3 ||
        ruid != peer->uid || euid != peer->uid || suid != peer->uid) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                  "raise-memlock: process %d is not yours (uid %u): vxmd raises the limit only "
                  "of the caller's own processes",
                  (int)pid, (guint)peer->uid);
      return FALSE;
    }
  }
  /* the pidfd pins the process we checked: the prlimit cannot hit a recycled pid */
  return vxm_host_ops_raise_memlock(self->ops, req->vm, pidfd, req->bytes, report, error);
}

/* ---------------------------------------------------------------- requests */

static JsonNode *
journal_list_json(VxmHelperDaemon *self, GError **error)
{
  static const char *const statuses[] = {"running", "orphaned", "held"};
  g_autoptr(GPtrArray) names = vxm_journal_list(self->hostfs, error);
  g_autoptr(JsonBuilder) b = json_builder_new();

  if (names == NULL)
    return NULL;
  json_builder_begin_array(b);
  for (guint i = 0; i < names->len; i++) {
    g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, names->pdata[i], NULL);

    if (journal == NULL)
      continue;
    json_builder_begin_object(b);
    g_autofree char *shown = vm_display_name(names->pdata[i]);

    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, shown);
    json_builder_set_member_name(b, "journal");
    json_builder_add_string_value(b, names->pdata[i]);
    json_builder_set_member_name(b, "uid");
    json_builder_add_int_value(b, journal_client_uid(journal));
    json_builder_set_member_name(b, "entries");
    json_builder_add_int_value(b, vxm_journal_get_n_entries(journal));
    json_builder_set_member_name(b, "clear");
    json_builder_add_boolean_value(b, vxm_journal_is_clear(journal));
    json_builder_set_member_name(b, "status");
    json_builder_add_string_value(b, statuses[vxm_journal_get_owner_status(journal)]);
    json_builder_set_member_name(b, "pid");
    if (vxm_journal_get_owner(journal) != NULL)
      json_builder_add_int_value(b, vxm_journal_get_owner(journal)->pid);
    else
      json_builder_add_null_value(b);
    json_builder_set_member_name(b, "held");
    if (vxm_journal_get_held(journal) != NULL)
      json_builder_add_string_value(b, vxm_journal_get_held(journal));
    else
      json_builder_add_null_value(b);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  return json_builder_get_root(b);
}

/* A journal whose vxm and vxmd are gone (or any but live ones, for root). */
static gboolean
recover_one(VxmHelperDaemon *self, const Peer *peer, const char *vm, GPtrArray *report,
            GError **error)
{
  g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, vm, NULL);
  gboolean exists = FALSE;

  /* a dead vxmd's (or vxm's) journal: not this vxmd's to look up, only to undo */
  if (journal != NULL && vxm_journal_get_owner_status(journal) == VXM_JOURNAL_OWNER_GONE) {
    if (!refuse_other_owner(journal, peer, vm, error))
      return FALSE;
  } else if (!check_vm_owner(self, peer, vm, &exists, error)) {
    return FALSE;
  }
  /* a VM's vxm that still runs gives the host back in its own teardown (pulling the GPU from
   * under QEMU would hang the unbind); recover is for what a vxm that is gone left behind */
  if (journal == NULL)
    journal = vxm_journal_load(self->hostfs, vm, NULL);
  if (journal != NULL && journal_client_alive(journal)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                "VM %s's vxm (pid %" G_GINT64_FORMAT ") still runs: stop it (vxm stop %s); "
                "recover is for what a vxm that is gone left behind",
                vm, journal_client_pid(journal), vm);
    return FALSE;
  }
  return vxm_host_ops_recover(self->ops, vm, report, error);
}

static gboolean
handle(VxmHelperDaemon *self, Peer *peer, const VxmHelperRequest *req, GPtrArray *report,
       JsonNode **out_result, GError **error)
{
  gboolean exists = FALSE;

  switch (req->op) {
  case VXM_HELPER_OP_HELLO: {
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "version");
    json_builder_add_int_value(b, VXM_HELPER_PROTOCOL_VERSION);
    json_builder_set_member_name(b, "uid");
    json_builder_add_int_value(b, peer->uid);
    json_builder_set_member_name(b, "user");
    json_builder_add_string_value(b, peer->user);
    {
      /* whether this caller may run VMs (and why not), for `vxm check` */
      g_autoptr(GError) refusal = NULL;
      gboolean may = vxm_helper_auth_check(self->auth, self->proc_fs, peer->caller,
                                           VXM_HELPER_ACCESS_RUN_VM, &refusal);

      json_builder_set_member_name(b, "run_vm");
      json_builder_add_boolean_value(b, may);
      json_builder_set_member_name(b, "via");
      json_builder_add_string_value(b, !may                   ? "none"
                                       : peer->uid == 0       ? "root"
                                       : peer->caller->member ? "group"
                                                              : "polkit");
      if (refusal != NULL) {
        json_builder_set_member_name(b, "refusal");
        json_builder_add_string_value(b, refusal->message);
      }
    }
    json_builder_end_object(b);
    *out_result = json_builder_get_root(b);
    return TRUE;
  }
  case VXM_HELPER_OP_PREPARE_GPU: {
    VxmHostOpsGpu gpu = {.gpu_address = req->gpu,
                         .timeout_ms = req->timeout_ms,
                         .keep_bound = req->keep_bound,
                         .extra = (const char *const *)req->extra};
    g_autofree char *holder = NULL;
    gboolean ok;

    if (!check_gpu_policy(self, req->gpu, error))
      return FALSE;
    if (!claim_gpu_slot(self, req->gpu, req->vm, error))
      return FALSE;
    holder = vxm_host_ops_gpu_holder(self->ops, req->vm, req->gpu, error);
    if (holder != NULL)
      g_set_error_literal(error, VXM_ERROR, VXM_ERROR_BUSY, holder);
    ok = holder == NULL && (error == NULL || *error == NULL) &&
         claim_vm(self, peer, req->vm, error) != NULL &&
         vxm_host_ops_detach_gpu(self->ops, req->vm, &gpu, report, error);
    release_gpu_slot(self, req->gpu);
    return ok;
  }
  case VXM_HELPER_OP_RELEASE_GPU: {
    VxmHostOpsGpu gpu = {
        .gpu_address = req->gpu, .timeout_ms = req->timeout_ms, .keep_bound = req->keep_bound};
    gboolean ok;

    if (!check_vm_owner(self, peer, req->vm, &exists, error))
      return FALSE;
    if (!exists) {
      g_ptr_array_add(report, g_strdup_printf("VM %s holds nothing on this host", req->vm));
      return TRUE;
    }
    if (!claim_gpu_slot(self, req->gpu, req->vm, error))
      return FALSE;
    ok = vxm_host_ops_reattach_gpu(self->ops, req->vm, &gpu, report, error);
    release_gpu_slot(self, req->gpu);
    return ok;
  }
  case VXM_HELPER_OP_GRANT_NODES: {
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GMutexLocker) grant_locker = g_mutex_locker_new(&self->grant_lock);
    VxmJournal *journal = NULL;

    /* every node is checked before the VM is claimed: a refusal leaves no journal behind; two
     * VMs asking for one keyboard at once cannot both pass the check */
    if (!check_vm_owner(self, peer, req->vm, &exists, error))
      return FALSE;
    if (exists)
      journal = vxm_journal_store_take(self->store, req->vm, FALSE, NULL);
    for (gsize i = 0; req->nodes[i] != NULL; i++) {
      char *path = vxm_helper_node_host_path(req->nodes[i]);

      g_ptr_array_add(paths, path);
      if (g_str_has_prefix(req->nodes[i], "vfio:")) {
        gint64 group = g_ascii_strtoll(req->nodes[i] + 5, NULL, 10);

        if (!check_vfio_group(self, journal, req->vm, group, error))
          return FALSE;
      } else if (!check_input_node(self, req->vm, path, error)) {
        return FALSE;
      }
    }
    if (claim_vm(self, peer, req->vm, error) == NULL)
      return FALSE;
    g_ptr_array_add(paths, NULL);
    return vxm_host_ops_grant_devices_to(self->ops, req->vm, (const char *const *)paths->pdata,
                                         peer->uid, report, error);
  }
  case VXM_HELPER_OP_REVOKE_NODES:
    if (!check_vm_owner(self, peer, req->vm, &exists, error))
      return FALSE;
    return !exists || vxm_host_ops_revoke_devices(self->ops, req->vm, report, error);
  case VXM_HELPER_OP_RESERVE_HUGEPAGES: {
    VxmHostOpsHugepages hugepages = {.page_size = req->page_size,
                                     .count = req->count,
                                     .node = req->numa_node,
                                     .auto_size = req->auto_size,
                                     .drop_caches = req->drop_caches,
                                     .compact = req->compact};
    guint64 page_size = 0;
    JsonObject *result;

    if (!check_hugepages_request(self, peer, req, error) ||
        claim_vm(self, peer, req->vm, error) == NULL)
      return FALSE;
    if (!vxm_host_ops_reserve_hugepages(self->ops, req->vm, &hugepages, &page_size, report, error))
      return FALSE;
    result = json_object_new();
    json_object_set_int_member(result, "page_size", (gint64)page_size);
    *out_result = json_node_init_object(json_node_alloc(), result);
    json_object_unref(result);
    return TRUE;
  }
  case VXM_HELPER_OP_RELEASE_HUGEPAGES:
    if (!check_vm_owner(self, peer, req->vm, &exists, error))
      return FALSE;
    return !exists || vxm_host_ops_release_hugepages(self->ops, req->vm, report, error);
  case VXM_HELPER_OP_RAISE_MEMLOCK: return raise_memlock(self, peer, req, report, error);
  case VXM_HELPER_OP_DDC_SWITCH:
    if (!check_monitor_switch(self, peer, req, error))
      return FALSE;
    if (req->to_guest ? claim_vm(self, peer, req->vm, error) == NULL
                      : !check_vm_owner(self, peer, req->vm, &exists, error))
      return FALSE;
    return vxm_host_ops_switch_monitor(self->ops, req->vm, req->monitor, req->gpu, req->input,
                                       req->host_input, req->to_guest, report, error);
  case VXM_HELPER_OP_DMI_IDENTITY: *out_result = vxm_dmi_identity_read(self->hostfs); return TRUE;
  case VXM_HELPER_OP_JOURNAL_STATUS:
    if (req->vm == NULL) {
      *out_result = journal_list_json(self, error);
      return *out_result != NULL;
    }
    *out_result = vxm_host_ops_journal_status(self->ops, req->vm, error);
    return *out_result != NULL;
  case VXM_HELPER_OP_RECOVER:
    if (req->vm != NULL)
      return recover_one(self, peer, req->vm, report, error);
    {
      g_autoptr(GPtrArray) names = vxm_journal_list(self->hostfs, error);

      if (names == NULL)
        return FALSE;
      for (guint i = 0; i < names->len; i++) {
        g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, names->pdata[i], NULL);
        g_autoptr(GError) local_error = NULL;

        /* everyone's for root; for a user, their own VMs whose vxm is gone */
        if (journal == NULL ||
            (peer->uid != 0 &&
             (journal_client_uid(journal) != (gint64)peer->uid || journal_client_alive(journal))))
          continue;
        if (!recover_one(self, peer, names->pdata[i], report, &local_error))
          g_ptr_array_add(report, g_strdup_printf("%s: %s", (const char *)names->pdata[i],
                                                  local_error->message));
      }
      return TRUE;
    }
  case VXM_HELPER_OP_RESTORE_ALL: {
    /* a journal release-gpu held for keep_bound stays held: the GPU waits on vfio-pci for the
     * VM's next start (looking it up below would claim it) */
    g_autoptr(VxmJournal) held = vxm_journal_load(self->hostfs, req->vm, NULL);

    if (held != NULL && vxm_journal_get_owner_status(held) == VXM_JOURNAL_OWNER_HELD) {
      if (!refuse_other_owner(held, peer, req->vm, error))
        return FALSE;
      g_ptr_array_add(report, g_strdup_printf("VM %s's GPU stays on vfio-pci (%s)", req->vm,
                                              vxm_journal_get_held(held)));
      return TRUE;
    }
    if (!check_vm_owner(self, peer, req->vm, &exists, error))
      return FALSE;
    return !exists || vxm_host_ops_restore_all(self->ops, req->vm, NULL, report, error);
  }
  case VXM_HELPER_OP_GPU_STATUS: {
    /* read-only, for any member (like journal-status): the journals are root's 0600 files */
    g_autoptr(GError) holder_error = NULL;
    g_autofree char *holder = NULL;
    g_autoptr(JsonNode) devices = NULL;
    g_autoptr(JsonBuilder) b = json_builder_new();

    devices = vxm_host_ops_binding_status(self->ops, req->gpu, error);
    if (devices == NULL)
      return FALSE;
    holder = vxm_host_ops_gpu_holder(self->ops, req->vm, req->gpu, &holder_error);
    if (holder_error != NULL) {
      g_propagate_error(error, g_steal_pointer(&holder_error));
      return FALSE;
    }
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "holder");
    if (holder != NULL)
      json_builder_add_string_value(b, holder);
    else
      json_builder_add_null_value(b);
    json_builder_set_member_name(b, "devices");
    json_builder_add_value(b, g_steal_pointer(&devices));
    json_builder_end_object(b);
    *out_result = json_builder_get_root(b);
    return TRUE;
  }
  }
  g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "unknown request");
  return FALSE;
}

/* ---------------------------------------------------------------- who may ask what */

/* What a request needs beyond a connection: hello is for anyone (vxm asks it first, and a
 * stranger learns only their own uid); a monitor switch is its own polkit action; everything
 * else (a GPU, nodes, hugepages, memlock, DMI identity, status, recovery) is running VMs. */
static VxmHelperAccess
request_access(const VxmHelperRequest *req)
{
  switch (req->op) {
  case VXM_HELPER_OP_HELLO: return VXM_HELPER_ACCESS_ANYONE;
  case VXM_HELPER_OP_DDC_SWITCH: return VXM_HELPER_ACCESS_SWITCH_MONITOR;
  default: return VXM_HELPER_ACCESS_RUN_VM;
  }
}

/* Requests that give back what a VM holds, or only read: the user whose VM it is may make them
 * without a fresh polkit grant, so that a VM started in the active session is still torn down
 * (and its status read) after that session went inactive or its user switched away. */
static gboolean
request_gives_back(const VxmHelperRequest *req)
{
  switch (req->op) {
  case VXM_HELPER_OP_RELEASE_GPU:
  case VXM_HELPER_OP_REVOKE_NODES:
  case VXM_HELPER_OP_RELEASE_HUGEPAGES:
  case VXM_HELPER_OP_RESTORE_ALL:
  case VXM_HELPER_OP_RECOVER:
  case VXM_HELPER_OP_JOURNAL_STATUS:
  case VXM_HELPER_OP_GPU_STATUS: return TRUE;
  case VXM_HELPER_OP_DDC_SWITCH: return !req->to_guest;
  default: return FALSE;
  }
}

/* @vm's journal (any VM's, when NULL) records @uid as the user who asked for it. */
static gboolean
uid_has_journal(VxmHelperDaemon *self, uid_t uid, const char *vm)
{
  g_autoptr(GPtrArray) names = NULL;

  if (vm != NULL) {
    g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, vm, NULL);

    return journal != NULL && journal_client_uid(journal) == (gint64)uid;
  }
  names = vxm_journal_list(self->hostfs, NULL);
  for (guint i = 0; names != NULL && i < names->len; i++)
    if (uid_has_journal(self, uid, names->pdata[i]))
      return TRUE;
  return FALSE;
}

static gboolean
authorize_request(VxmHelperDaemon *self, Peer *peer, const VxmHelperRequest *req, GError **error)
{
  g_autoptr(GError) refusal = NULL;

  if (vxm_helper_auth_check(self->auth, self->proc_fs, peer->caller, request_access(req), &refusal))
    return TRUE;
  if (request_gives_back(req) && uid_has_journal(self, peer->uid, req->vm))
    return TRUE;
  g_propagate_error(error, g_steal_pointer(&refusal));
  g_prefix_error(error, "vxmd refused %s: ", vxm_helper_op_to_string(req->op));
  return FALSE;
}

/* ---------------------------------------------------------------- connections */

static gboolean
send_all(int fd, const char *data, gsize len, guint timeout_ms)
{
  while (len > 0) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    ssize_t n;

    if (poll(&p, 1, (int)timeout_ms) <= 0)
      return FALSE;
    n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n <= 0)
      return FALSE;
    data += n;
    len -= (gsize)n;
  }
  return TRUE;
}

static void
peer_close_fds(Peer *peer)
{
  for (guint i = 0; i < peer->n_fds; i++)
    close(peer->fds[i]);
  peer->n_fds = 0;
}

static void
reply_error(int fd, guint timeout_ms, const GError *error)
{
  g_autofree char *line = vxm_helper_reply_error(error);

  send_all(fd, line, strlen(line), timeout_ms);
}

/* Reads what is there (with any fds) into @buf: >0 bytes read, 0 end of stream, -1 error or
 * time out. */
static gssize
receive(int fd, GByteArray *buf, Peer *peer, guint timeout_ms)
{
  char data[4096];
  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  struct pollfd p = {.fd = fd, .events = POLLIN};
  ssize_t n;

  for (;;) {
    int r = poll(&p, 1, (int)timeout_ms);

    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    break;
  }
  if (n < 0)
    return -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      gsize count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      int fds[MAX_FDS];

      memcpy(fds, CMSG_DATA(c), MIN(count, (gsize)MAX_FDS) * sizeof(int));
      for (gsize i = 0; i < count && i < MAX_FDS; i++) {
        if (peer->n_fds < MAX_FDS)
          peer->fds[peer->n_fds++] = fds[i];
        else
          close(fds[i]);
      }
    }
  }
  g_byte_array_append(buf, (const guint8 *)data, (guint)n);
  return n;
}

/* Counts a connection of @uid; refuses one past MAX_CONNECTIONS_PER_USER (root has no limit). */
static gboolean
take_connection(VxmHelperDaemon *self, uid_t uid, GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
  guint open = GPOINTER_TO_UINT(g_hash_table_lookup(self->user_connections, GUINT_TO_POINTER(uid)));

  if (uid != 0 && open >= MAX_CONNECTIONS_PER_USER) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                "vxmd refused: uid %u already has %u connections open to vxmd (at most %d at "
                "once); close the others (a vxm that hangs, or a script that connects and waits) "
                "and ask again",
                (guint)uid, open, MAX_CONNECTIONS_PER_USER);
    return FALSE;
  }
  g_hash_table_insert(self->user_connections, GUINT_TO_POINTER(uid), GUINT_TO_POINTER(open + 1));
  return TRUE;
}

static void
drop_connection(VxmHelperDaemon *self, uid_t uid)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
  guint open = GPOINTER_TO_UINT(g_hash_table_lookup(self->user_connections, GUINT_TO_POINTER(uid)));

  if (open <= 1)
    g_hash_table_remove(self->user_connections, GUINT_TO_POINTER(uid));
  else
    g_hash_table_insert(self->user_connections, GUINT_TO_POINTER(uid), GUINT_TO_POINTER(open - 1));
}

static void serve_requests(VxmHelperDaemon *self, int fd, Peer *peer);

static void
serve_connection(VxmHelperDaemon *self, int fd)
{
  VxmHelperCaller caller;
  Peer peer = {0};
  g_autoptr(GError) auth_error = NULL;

  if (!vxm_helper_caller_init(&caller, self->proc_fs, fd, &auth_error)) {
    g_message("connection refused: %s", auth_error->message);
    vxm_helper_caller_clear(&caller);
    return;
  }
  peer.uid = caller.uid;
  peer.gid = caller.gid;
  peer.pid = caller.pid;
  peer.caller = &caller;
  /* anyone may connect (the socket is 0666): an account, allowed_users and the per-user cap
   * here; what each request needs, as it comes */
  if (!vxm_helper_auth_identify(self->auth, &caller, &auth_error) ||
      !take_connection(self, peer.uid, &auth_error)) {
    g_message("refused uid %u (pid %d): %s", (guint)peer.uid, (int)peer.pid, auth_error->message);
    reply_error(fd, self->idle_timeout_ms, auth_error);
    vxm_helper_caller_clear(&caller);
    return;
  }
  peer.user = caller.user;
  serve_requests(self, fd, &peer);
  drop_connection(self, peer.uid);
  peer_close_fds(&peer);
  vxm_helper_caller_clear(&caller);
}

/* One connection's requests, one line each, until the client closes or stays silent too long. */
static void
serve_requests(VxmHelperDaemon *self, int fd, Peer *peer)
{
  g_autoptr(GByteArray) buf = g_byte_array_new();

  for (;;) {
    guint8 *nl = buf->len > 0 ? memchr(buf->data, '\n', buf->len) : NULL;
    gssize n;

    if (nl != NULL) {
      gsize line_len = (gsize)(nl - buf->data) + 1;
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
      g_autoptr(JsonNode) result = NULL;
      g_autoptr(VxmHelperRequest) req =
          vxm_helper_request_parse((const char *)buf->data, line_len, &error);
      g_autofree char *reply = NULL;

      g_byte_array_remove_range(buf, 0, (guint)line_len);
      if (req != NULL && req->vm != NULL) {
        char *journal_name = vm_journal_name(self, peer->uid, req->vm);

        g_free(req->vm);
        req->vm = journal_name;
      }
      if (req != NULL) {
        g_message("%s (uid %u, pid %d): %s%s%s", peer->user, (guint)peer->uid, (int)peer->pid,
                  vxm_helper_op_to_string(req->op), req->vm != NULL ? " " : "",
                  req->vm != NULL ? req->vm : "");
        gboolean ok = authorize_request(self, peer, req, &error) &&
                      handle(self, peer, req, report, &result, &error);

        if (!ok)
          g_message("  refused or failed: %s", error->message);
        release_claim(self, peer);
      }
      peer_close_fds(peer); /* fds belong to the request they came with */
      reply = error != NULL ? vxm_helper_reply_error(error) : vxm_helper_reply_ok(report, result);
      if (!send_all(fd, reply, strlen(reply), self->idle_timeout_ms))
        break;
      continue;
    }
    if (buf->len >= VXM_HELPER_MAX_MESSAGE) {
      g_autoptr(GError) error =
          g_error_new(VXM_ERROR, VXM_ERROR_PROTOCOL,
                      "bad request to vxmd: a message is at most %d bytes", VXM_HELPER_MAX_MESSAGE);
      reply_error(fd, self->idle_timeout_ms, error);
      break;
    }
    n = receive(fd, buf, peer, self->idle_timeout_ms);
    if (n == 0 && buf->len > 0) {
      g_autoptr(GError) error = g_error_new(
          VXM_ERROR, VXM_ERROR_PROTOCOL, "bad request to vxmd: truncated (no newline at the end)");
      reply_error(fd, self->idle_timeout_ms, error);
      break;
    }
    if (n <= 0)
      break; /* closed, failed, or silent for too long */
  }
}

static gboolean
on_run(GThreadedSocketService *service, GSocketConnection *connection, GObject *source,
       gpointer user_data)
{
  VxmHelperDaemon *self = user_data;
  GSocket *socket = g_socket_connection_get_socket(connection);

  (void)service;
  (void)source;
  serve_connection(self, g_socket_get_fd(socket));
  g_io_stream_close(G_IO_STREAM(connection), NULL, NULL);
  return TRUE;
}

gboolean
vxm_helper_daemon_listen(VxmHelperDaemon *self, int fd, GError **error)
{
  g_autoptr(GSocket) gsocket = NULL;

  if (fd < 0) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    g_autofree char *dir = vxm_hostfs_path(self->hostfs, VXM_HOST_RUN_VXM);
    g_autofree char *path = g_build_filename(dir, VXM_HELPER_SOCKET_NAME, NULL);
    vxm_autofd int s = -1;

    if (strlen(path) >= sizeof addr.sun_path) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT, "socket path %s is too long", path);
      return FALSE;
    }
    if (g_mkdir_with_parents(dir, 0755) != 0) {
      vxm_error_set_from_errno(error, errno, "cannot create %s", dir);
      return FALSE;
    }
    strcpy(addr.sun_path, path);
    /* a socket someone answers on is another vxmd's: taking its path would leave its clients
     * with a vxmd that does not hold their journals */
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0 && connect(s, (struct sockaddr *)&addr, sizeof addr) == 0) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                  "another vxmd listens on %s: stop it first (or let it serve)", path);
      return FALSE;
    }
    if (s >= 0)
      close(s);
    unlink(path);
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
      vxm_error_set_from_errno(error, errno, "cannot listen on %s", path);
      return FALSE;
    }
    /* ours from here: removed when vxmd ends (only then: never another vxmd's) */
    self->socket_path = g_steal_pointer(&path);
    /* anyone may connect (as with vxmd.socket): vxmd authorises each request itself */
    if (chmod(self->socket_path, 0666) != 0 || listen(s, 64) != 0) {
      vxm_error_set_from_errno(error, errno, "cannot listen on %s", self->socket_path);
      return FALSE;
    }
    fd = s;
    s = -1;
  }
  gsocket = g_socket_new_from_fd(fd, error);
  if (gsocket == NULL)
    return FALSE;
  if (!g_socket_listener_add_socket(G_SOCKET_LISTENER(self->service), gsocket, NULL, error))
    return FALSE;
  g_signal_connect(self->service, "run", G_CALLBACK(on_run), self);
  g_socket_service_start(self->service);
  return TRUE;
}

void
vxm_helper_daemon_recover_orphans(VxmHelperDaemon *self, GPtrArray *report)
{
  g_autoptr(GPtrArray) names = vxm_journal_list(self->hostfs, NULL);
  Peer root = {.uid = 0, .user = (char *)"root"};

  for (guint i = 0; names != NULL && i < names->len; i++) {
    g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, names->pdata[i], NULL);
    g_autoptr(GError) error = NULL;

    if (journal == NULL || vxm_journal_get_owner_status(journal) != VXM_JOURNAL_OWNER_GONE ||
        journal_client_uid(journal) < 0 || journal_client_alive(journal))
      continue;
    if (recover_one(self, &root, names->pdata[i], report, &error))
      g_ptr_array_add(report, g_strdup_printf("recovered VM %s, whose vxm is gone",
                                              (const char *)names->pdata[i]));
    else
      g_ptr_array_add(report, g_strdup_printf("VM %s could not be recovered: %s",
                                              (const char *)names->pdata[i], error->message));
  }
}

int
vxm_helper_daemon_socket_from_systemd(GError **error)
{
  const char *pid = g_getenv("LISTEN_PID");
  const char *fds = g_getenv("LISTEN_FDS");
  gint64 p = 0, n = 0;
  struct stat st;

  if (pid == NULL || fds == NULL)
    return -1;
  if (!vxm_parse_int64(pid, 10, &p) || p != getpid())
    return -1;
  if (!vxm_parse_int64(fds, 10, &n) || n != 1) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "systemd passed %s sockets: vxmd.socket must have exactly one", fds);
    return -2;
  }
  /* SD_LISTEN_FDS_START */
  if (fstat(3, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "fd 3 from systemd is not a socket");
    return -2;
  }
  fcntl(3, F_SETFD, FD_CLOEXEC);
  g_unsetenv("LISTEN_PID");
  g_unsetenv("LISTEN_FDS");
  g_unsetenv("LISTEN_FDNAMES");
  return 3;
}
