#include "vxm-journal-entry.h"

#include "common/vxm-error.h"

static const char *const state_names[] = {"intent", "done", "stuck", "undone"};

const char *
vxm_journal_state_to_string(VxmJournalState state)
{
  g_return_val_if_fail((guint)state < G_N_ELEMENTS(state_names), "unknown");
  return state_names[state];
}

gboolean
vxm_journal_state_from_string(const char *text, VxmJournalState *out)
{
  for (guint i = 0; i < G_N_ELEMENTS(state_names); i++) {
    if (g_strcmp0(text, state_names[i]) == 0) {
      *out = (VxmJournalState)i;
      return TRUE;
    }
  }
  return FALSE;
}

static char *
now_iso8601(void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc();
  return g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
}

VxmJournalEntry *
vxm_journal_entry_new(const char *kind, JsonObject *data)
{
  VxmJournalEntry *entry = g_new0(VxmJournalEntry, 1);

  entry->kind = g_strdup(kind);
  entry->state = VXM_JOURNAL_STATE_INTENT;
  entry->data = data != NULL ? json_object_ref(data) : json_object_new();
  entry->time = now_iso8601();
  return entry;
}

void
vxm_journal_entry_free(VxmJournalEntry *entry)
{
  if (entry == NULL)
    return;
  g_free(entry->kind);
  if (entry->data != NULL)
    json_object_unref(entry->data);
  g_free(entry->time);
  g_free(entry->message);
  g_free(entry);
}

void
vxm_journal_entry_set_state(VxmJournalEntry *entry, VxmJournalState state, const char *message)
{
  entry->state = state;
  g_free(entry->time);
  entry->time = now_iso8601();
  g_free(entry->message);
  entry->message = g_strdup(message);
}

JsonNode *
vxm_journal_entry_to_json(const VxmJournalEntry *entry)
{
  JsonObject *obj = json_object_new();
  JsonNode *node = json_node_new(JSON_NODE_OBJECT);

  json_object_set_string_member(obj, "kind", entry->kind);
  json_object_set_string_member(obj, "state", vxm_journal_state_to_string(entry->state));
  json_object_set_string_member(obj, "time", entry->time);
  json_object_set_object_member(obj, "data", json_object_ref(entry->data));
  if (entry->message != NULL)
    json_object_set_string_member(obj, "message", entry->message);
  json_node_take_object(node, obj);
  return node;
}

static const char *
get_string_member(JsonObject *obj, const char *member)
{
  JsonNode *node = json_object_get_member(obj, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_value_type(node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string(node);
}

VxmJournalEntry *
vxm_journal_entry_from_json(JsonNode *node, GError **error)
{
  g_autoptr(VxmJournalEntry) entry = g_new0(VxmJournalEntry, 1);
  JsonObject *obj;
  JsonNode *data;
  const char *kind, *state, *time, *message;

  if (!JSON_NODE_HOLDS_OBJECT(node)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "an entry is not an object");
    return NULL;
  }
  obj = json_node_get_object(node);
  kind = get_string_member(obj, "kind");
  state = get_string_member(obj, "state");
  time = get_string_member(obj, "time");
  message = get_string_member(obj, "message");
  data = json_object_get_member(obj, "data");
  if (kind == NULL || *kind == '\0') {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "an entry has no kind");
    return NULL;
  }
  if (!vxm_journal_state_from_string(state, &entry->state)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "entry '%s' has a bad state '%s'", kind,
                state != NULL ? state : "(none)");
    return NULL;
  }
  if (data == NULL || !JSON_NODE_HOLDS_OBJECT(data)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "entry '%s' has no data object", kind);
    return NULL;
  }
  entry->kind = g_strdup(kind);
  entry->time = g_strdup(time != NULL ? time : "");
  entry->message = g_strdup(message);
  entry->data = json_object_ref(json_node_get_object(data));
  return g_steal_pointer(&entry);
}

const char *
vxm_journal_entry_get_string(const VxmJournalEntry *entry, const char *member)
{
  return get_string_member(entry->data, member);
}
