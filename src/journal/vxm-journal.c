#include "vxm-journal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"

struct _VxmJournal {
  VxmHostfs *hostfs;
  char *name;
  char *host_path; /* /run/vxm/journal/NAME.json */
  char *created;
  gboolean has_owner;
  VxmJournalOwner owner;
  char *held;         /* NULL unless held */
  GPtrArray *entries; /* of VxmJournalEntry */
  GRecMutex lock;     /* parallel host steps journal into one file */
};

/* ---- kind registry ---- */

static GMutex registry_lock;
static GHashTable *registry; /* kind -> VxmJournalUndoFunc */

void
vxm_journal_register_kind(const char *kind, VxmJournalUndoFunc undo)
{
  g_mutex_lock(&registry_lock);
  if (registry == NULL)
    registry = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_replace(registry, g_strdup(kind), (gpointer)undo);
  g_mutex_unlock(&registry_lock);
}

static VxmJournalUndoFunc
lookup_kind(const char *kind)
{
  VxmJournalUndoFunc undo = NULL;

  g_mutex_lock(&registry_lock);
  if (registry != NULL)
    undo = (VxmJournalUndoFunc)g_hash_table_lookup(registry, kind);
  g_mutex_unlock(&registry_lock);
  return undo;
}

/* ---- names and paths ---- */

gboolean
vxm_journal_check_name(const char *name, GError **error)
{
  gsize len = name != NULL ? strlen(name) : 0;

  if (len == 0 || len > 96 || name[0] == '.')
    goto bad;
  for (gsize i = 0; i < len; i++) {
    if (!g_ascii_isalnum(name[i]) && strchr("_.:-", name[i]) == NULL)
      goto bad;
  }
  return TRUE;
bad:
  g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
              "'%s' is not a journal name: use letters, digits and _ . : - (at most 96, not "
              "starting with a dot)",
              name != NULL ? name : "");
  return FALSE;
}

static char *
journal_host_path(const char *name)
{
  return g_strdup_printf(VXM_HOST_RUN_VXM_JOURNAL "/%s.json", name);
}

gboolean
vxm_journal_exists(VxmHostfs *hostfs, const char *name)
{
  g_autofree char *host_path = journal_host_path(name);
  return vxm_hostfs_exists(hostfs, host_path);
}

GPtrArray *
vxm_journal_list(VxmHostfs *hostfs, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GError) local = NULL;

  files = vxm_hostfs_list_dir(hostfs, VXM_HOST_RUN_VXM_JOURNAL, &local);
  if (files == NULL) {
    if (g_error_matches(local, VXM_ERROR, VXM_ERROR_NOT_FOUND))
      return g_steal_pointer(&names);
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  for (guint i = 0; i < files->len; i++) {
    const char *file = g_ptr_array_index(files, i);

    if (g_str_has_suffix(file, ".json") && file[0] != '.')
      g_ptr_array_add(names, g_strndup(file, strlen(file) - strlen(".json")));
  }
  return g_steal_pointer(&names);
}

/* ---- life cycle ---- */

static VxmJournal *
journal_alloc(VxmHostfs *hostfs, const char *name)
{
  VxmJournal *journal = g_new0(VxmJournal, 1);

  journal->hostfs = g_object_ref(hostfs);
  journal->name = g_strdup(name);
  journal->host_path = journal_host_path(name);
  journal->entries = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_journal_entry_free);
  g_rec_mutex_init(&journal->lock);
  return journal;
}

void
vxm_journal_free(VxmJournal *journal)
{
  if (journal == NULL)
    return;
  g_object_unref(journal->hostfs);
  g_free(journal->name);
  g_free(journal->host_path);
  g_free(journal->created);
  g_free(journal->held);
  g_ptr_array_unref(journal->entries);
  g_rec_mutex_clear(&journal->lock);
  g_free(journal);
}

VxmJournal *
vxm_journal_new(VxmHostfs *hostfs, const char *name, GError **error)
{
  g_autoptr(VxmJournal) journal = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc();

  if (!vxm_journal_check_name(name, error))
    return NULL;
  journal = journal_alloc(hostfs, name);
  if (vxm_hostfs_exists(hostfs, journal->host_path)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_EXISTS,
                "journal %s already exists: finish or undo it first (vxm recover %s, or vxm "
                "reattach)",
                journal->host_path, name);
    return NULL;
  }
  if (!vxm_journal_owner_init_self(&journal->owner, error))
    return NULL;
  journal->has_owner = TRUE;
  journal->created = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
  return g_steal_pointer(&journal);
}

static gboolean
keep_aside(VxmJournal *journal, const char *why, GError **error)
{
  g_autofree char *path = vxm_hostfs_path(journal->hostfs, journal->host_path);
  g_autofree char *aside = g_strconcat(path, ".corrupt", NULL);
  g_autofree char *aside_host = g_strconcat(journal->host_path, ".corrupt", NULL);

  /* an older corrupt copy is replaced: the newest is the one that tells what happened last */
  if (rename(path, aside) != 0)
    return vxm_error_set_from_errno(error, errno,
                                    "journal %s is corrupt (%s) and cannot be "
                                    "kept aside",
                                    journal->host_path, why);
  g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
              "journal %s is corrupt (%s): kept aside as %s; the changes it recorded cannot be "
              "undone automatically: check the devices with vxm status and give them back with "
              "vxm reattach ADDR",
              journal->host_path, why, aside_host);
  return FALSE;
}

static const char *
get_string(JsonObject *obj, const char *member)
{
  JsonNode *node = json_object_get_member(obj, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_value_type(node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string(node);
}

static gboolean
parse_journal(VxmJournal *journal, const char *text, gsize len, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject *obj;
  JsonNode *node;
  JsonArray *entries;

  if (!json_parser_load_from_data(parser, text, (gssize)len, error))
    return FALSE;
  node = json_parser_get_root(parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "not a JSON object");
    return FALSE;
  }
  obj = json_node_get_object(node);
  node = json_object_get_member(obj, "version");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_int(node) != VXM_JOURNAL_FORMAT_VERSION) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "not format version %d",
                VXM_JOURNAL_FORMAT_VERSION);
    return FALSE;
  }
  if (g_strcmp0(get_string(obj, "name"), journal->name) != 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "its name is not '%s'", journal->name);
    return FALSE;
  }
  journal->created = g_strdup(get_string(obj, "created"));
  journal->held = g_strdup(get_string(obj, "held"));
  node = json_object_get_member(obj, "owner");
  if (node != NULL && !JSON_NODE_HOLDS_NULL(node)) {
    if (!vxm_journal_owner_from_json(node, &journal->owner, error))
      return FALSE;
    journal->has_owner = TRUE;
  }
  node = json_object_get_member(obj, "entries");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY(node)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "no entries array");
    return FALSE;
  }
  entries = json_node_get_array(node);
  for (guint i = 0; i < json_array_get_length(entries); i++) {
    VxmJournalEntry *entry = vxm_journal_entry_from_json(json_array_get_element(entries, i), error);

    if (entry == NULL) {
      g_prefix_error(error, "entry %u: ", i + 1);
      return FALSE;
    }
    g_ptr_array_add(journal->entries, entry);
  }
  return TRUE;
}

VxmJournal *
vxm_journal_load(VxmHostfs *hostfs, const char *name, GError **error)
{
  g_autoptr(VxmJournal) journal = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;

  if (!vxm_journal_check_name(name, error))
    return NULL;
  journal = journal_alloc(hostfs, name);
  if (!vxm_hostfs_read_file(hostfs, journal->host_path, &text, &len, &local)) {
    if (g_error_matches(local, VXM_ERROR, VXM_ERROR_NOT_FOUND))
      g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND, "no journal named '%s' (%s)", name,
                  journal->host_path);
    else
      g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  if (!parse_journal(journal, text, len, &local)) {
    (void)keep_aside(journal, local->message, error);
    return NULL;
  }
  return g_steal_pointer(&journal);
}

/* ---- accessors ---- */

const char *
vxm_journal_get_name(VxmJournal *journal)
{
  return journal->name;
}

const char *
vxm_journal_get_path(VxmJournal *journal)
{
  return journal->host_path;
}

const char *
vxm_journal_get_created(VxmJournal *journal)
{
  return journal->created;
}

guint
vxm_journal_get_n_entries(VxmJournal *journal)
{
  return journal->entries->len;
}

VxmJournalEntry *
vxm_journal_get_entry(VxmJournal *journal, guint index)
{
  g_return_val_if_fail(index < journal->entries->len, NULL);
  return g_ptr_array_index(journal->entries, index);
}

const VxmJournalOwner *
vxm_journal_get_owner(VxmJournal *journal)
{
  return journal->has_owner ? &journal->owner : NULL;
}

const char *
vxm_journal_get_held(VxmJournal *journal)
{
  return journal->held;
}

VxmJournalOwnerStatus
vxm_journal_get_owner_status(VxmJournal *journal)
{
  if (journal->held != NULL)
    return VXM_JOURNAL_OWNER_HELD;
  if (journal->has_owner && vxm_journal_owner_is_alive(&journal->owner))
    return VXM_JOURNAL_OWNER_ALIVE;
  return VXM_JOURNAL_OWNER_GONE;
}

void
vxm_journal_add_owner_members(VxmJournal *journal, JsonBuilder *b)
{
  static const char *const statuses[] = {
      [VXM_JOURNAL_OWNER_ALIVE] = "running",
      [VXM_JOURNAL_OWNER_GONE] = "orphaned",
      [VXM_JOURNAL_OWNER_HELD] = "held",
  };
  const VxmJournalOwner *owner = vxm_journal_get_owner(journal);

  json_builder_set_member_name(b, "status");
  json_builder_add_string_value(b, statuses[vxm_journal_get_owner_status(journal)]);
  json_builder_set_member_name(b, "pid");
  if (owner != NULL)
    json_builder_add_int_value(b, owner->pid);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "held");
  if (journal->held != NULL)
    json_builder_add_string_value(b, journal->held);
  else
    json_builder_add_null_value(b);
}

gboolean
vxm_journal_is_clear(VxmJournal *journal)
{
  for (guint i = 0; i < journal->entries->len; i++) {
    VxmJournalEntry *entry = g_ptr_array_index(journal->entries, i);

    if (entry->state != VXM_JOURNAL_STATE_UNDONE)
      return FALSE;
  }
  return TRUE;
}

/* ---- writing ---- */

JsonNode *
vxm_journal_to_json(VxmJournal *journal)
{
  JsonObject *obj = json_object_new();
  JsonNode *node = json_node_new(JSON_NODE_OBJECT);
  JsonArray *entries = json_array_new();

  json_object_set_int_member(obj, "version", VXM_JOURNAL_FORMAT_VERSION);
  json_object_set_string_member(obj, "name", journal->name);
  json_object_set_string_member(obj, "created", journal->created);
  if (journal->has_owner)
    json_object_set_member(obj, "owner", vxm_journal_owner_to_json(&journal->owner));
  else
    json_object_set_null_member(obj, "owner");
  if (journal->held != NULL)
    json_object_set_string_member(obj, "held", journal->held);
  else
    json_object_set_null_member(obj, "held");
  for (guint i = 0; i < journal->entries->len; i++)
    json_array_add_element(entries,
                           vxm_journal_entry_to_json(g_ptr_array_index(journal->entries, i)));
  json_object_set_array_member(obj, "entries", entries);
  json_node_take_object(node, obj);
  return node;
}

static gboolean
save_locked(VxmJournal *journal, GError **error)
{
  g_autoptr(JsonNode) node = vxm_journal_to_json(journal);
  g_autoptr(JsonGenerator) gen = json_generator_new();
  g_autofree char *dir = vxm_hostfs_path(journal->hostfs, VXM_HOST_RUN_VXM_JOURNAL);
  g_autofree char *path = vxm_hostfs_path(journal->hostfs, journal->host_path);
  g_autofree char *text = NULL;
  gsize len = 0;

  json_generator_set_pretty(gen, TRUE);
  json_generator_set_root(gen, node);
  text = json_generator_to_data(gen, &len);
  /* The folder goes when its last journal is removed (vxm_journal_remove), so another VM's
   * removal may take it between the mkdir and the write: then make it again. */
  for (guint attempt = 0;; attempt++) {
    g_autoptr(GError) local = NULL;

    if (g_mkdir_with_parents(dir, 0700) != 0)
      return vxm_error_set_from_errno(error, errno, "cannot create the journal folder %s",
                                      VXM_HOST_RUN_VXM_JOURNAL);
    if (vxm_file_replace_atomic(path, text, (gssize)len, 0600, &local))
      return TRUE;
    if (attempt < 3 && !g_file_test(dir, G_FILE_TEST_IS_DIR))
      continue;
    g_propagate_prefixed_error(error, g_steal_pointer(&local),
                               "cannot write the journal %s: ", journal->host_path);
    return FALSE;
  }
}

gboolean
vxm_journal_save(VxmJournal *journal, GError **error)
{
  g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new(&journal->lock);
  return save_locked(journal, error);
}

gboolean
vxm_journal_remove(VxmJournal *journal, GError **error)
{
  g_autofree char *path = vxm_hostfs_path(journal->hostfs, journal->host_path);

  g_autofree char *dir = vxm_hostfs_path(journal->hostfs, VXM_HOST_RUN_VXM_JOURNAL);
  g_autofree char *parent = vxm_hostfs_path(journal->hostfs, VXM_HOST_RUN_VXM);

  if (unlink(path) != 0 && errno != ENOENT)
    return vxm_error_set_from_errno(error, errno, "cannot remove the journal %s",
                                    journal->host_path);
  /* rmdir $RUN/vxm/journal $RUN/vxm: nothing of vxm's stays behind once the host is restored;
   * each fails (ENOTEMPTY) while another VM's journal or vxmd's socket is in it */
  if (rmdir(dir) == 0)
    (void)rmdir(parent);
  return TRUE;
}

gboolean
vxm_journal_claim(VxmJournal *journal, GError **error)
{
  g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new(&journal->lock);
  VxmJournalOwner self;

  if (!vxm_journal_owner_init_self(&self, error))
    return FALSE;
  if (journal->has_owner && journal->held == NULL &&
      !(journal->owner.pid == self.pid && journal->owner.start_time == self.start_time) &&
      vxm_journal_owner_is_alive(&journal->owner)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                "journal %s belongs to the running process %" G_GINT64_FORMAT
                ": wait for it to finish, or stop it first",
                journal->host_path, journal->owner.pid);
    return FALSE;
  }
  journal->owner = self;
  journal->has_owner = TRUE;
  g_clear_pointer(&journal->held, g_free);
  return save_locked(journal, error);
}

gboolean
vxm_journal_hold(VxmJournal *journal, const char *reason, GError **error)
{
  g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new(&journal->lock);

  g_free(journal->held);
  journal->held = g_strdup(reason);
  journal->has_owner = FALSE;
  memset(&journal->owner, 0, sizeof journal->owner);
  return save_locked(journal, error);
}

gboolean
vxm_journal_begin(VxmJournal *journal, const char *kind, JsonObject *data, guint *out_index,
                  GError **error)
{
  g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new(&journal->lock);

  g_ptr_array_add(journal->entries, vxm_journal_entry_new(kind, data));
  if (!save_locked(journal, error)) {
    /* not on disk, so the caller must not make the change: forget it */
    g_ptr_array_remove_index(journal->entries, journal->entries->len - 1);
    return FALSE;
  }
  if (out_index != NULL)
    *out_index = journal->entries->len - 1;
  return TRUE;
}

gboolean
vxm_journal_finish(VxmJournal *journal, guint index, VxmJournalState state, const char *message,
                   GError **error)
{
  g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new(&journal->lock);

  g_return_val_if_fail(index < journal->entries->len, FALSE);
  vxm_journal_entry_set_state(g_ptr_array_index(journal->entries, index), state, message);
  return save_locked(journal, error);
}

/* ---- undo ---- */

gboolean
vxm_journal_undo(VxmJournal *journal, const VxmJournalUndoContext *ctx, GPtrArray *report,
                 GError **error)
{
  g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new(&journal->lock);
  g_autoptr(GString) left = g_string_new(NULL);
  VxmJournalUndoContext with_journal = *ctx;
  guint n_left = 0;

  with_journal.journal = journal;
  ctx = &with_journal;

  for (guint i = journal->entries->len; i-- > 0;) {
    VxmJournalEntry *entry = g_ptr_array_index(journal->entries, i);
    VxmJournalUndoFunc undo;
    g_autoptr(GError) local = NULL;
    g_autofree char *message = NULL;

    if (entry->state == VXM_JOURNAL_STATE_UNDONE ||
        (ctx->skip_kinds != NULL && g_strv_contains(ctx->skip_kinds, entry->kind)))
      continue;
    undo = lookup_kind(entry->kind);
    if (undo == NULL) {
      g_set_error(&local, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
                  "entry %u is of kind '%s', which this vxm does not know how to undo (written "
                  "by a newer vxm?)",
                  i + 1, entry->kind);
    } else if (undo(ctx, entry, &message, &local)) {
      if (message != NULL && report != NULL)
        g_ptr_array_add(report, g_strdup(message));
      if (!vxm_journal_finish(journal, i, VXM_JOURNAL_STATE_UNDONE, message, error))
        return FALSE;
      continue;
    }
    if (report != NULL)
      g_ptr_array_add(report, g_strdup_printf("not restored: %s", local->message));
    /* a hung write leaves the device in an unknown state: say so in the journal too */
    if ((g_error_matches(local, VXM_ERROR, VXM_ERROR_TIMEOUT) ||
         g_error_matches(local, VXM_ERROR, VXM_ERROR_STUCK)) &&
        !vxm_journal_finish(journal, i, VXM_JOURNAL_STATE_STUCK, local->message, error))
      return FALSE;
    g_string_append_printf(left, "%s%s", n_left > 0 ? "; " : "", local->message);
    n_left++;
  }
  if (n_left > 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_STUCK,
                "%u change%s in journal %s could not be undone (kept for a later vxm recover): "
                "%s",
                n_left, n_left == 1 ? "" : "s", journal->host_path, left->str);
    return FALSE;
  }
  if (!vxm_journal_is_clear(journal))
    return TRUE;
  return vxm_journal_remove(journal, error);
}
