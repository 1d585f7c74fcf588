/* vxm-ddc-cache: the monitor -> bus cache file (see the header). */
#include "vxm-ddc-cache.h"

#include <json-glib/json-glib.h>

#include <errno.h>

#include "common/vxm-util.h"

struct _VxmDdcCache {
  char *path;
  char *root;
  JsonObject *roots;   /* root -> {identity -> {bus, connector, source}} */
  GHashTable *entries; /* identity -> VxmDdcCacheEntry, this root's */
  gboolean dirty;
};

static void
entry_free(VxmDdcCacheEntry *e)
{
  g_free(e->connector);
  g_free(e->source);
  g_free(e);
}

char *
vxm_ddc_cache_path(void)
{
  const char *base = g_getenv("XDG_CACHE_HOME");

  if (base == NULL || base[0] != '/')
    return g_build_filename(g_get_home_dir(), ".cache", "vxm", "ddc-cache.json", NULL);
  return g_build_filename(base, "vxm", "ddc-cache.json", NULL);
}

VxmDdcCache *
vxm_ddc_cache_load(const char *root)
{
  VxmDdcCache *self = g_new0(VxmDdcCache, 1);
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonNode *top;
  JsonObject *mine;

  self->path = vxm_ddc_cache_path();
  self->root = g_strdup(root != NULL ? root : "/");
  self->entries =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)entry_free);
  if (json_parser_load_from_file(parser, self->path, NULL) &&
      (top = json_parser_get_root(parser)) != NULL && JSON_NODE_HOLDS_OBJECT(top) &&
      json_object_has_member(json_node_get_object(top), "roots") &&
      JSON_NODE_HOLDS_OBJECT(json_object_get_member(json_node_get_object(top), "roots")))
    self->roots =
        json_object_ref(json_object_get_object_member(json_node_get_object(top), "roots"));
  else
    self->roots = json_object_new();
  if (json_object_has_member(self->roots, self->root) &&
      JSON_NODE_HOLDS_OBJECT(json_object_get_member(self->roots, self->root))) {
    g_autoptr(GList) members = NULL;

    mine = json_object_get_object_member(self->roots, self->root);
    members = json_object_get_members(mine);
    for (GList *l = members; l != NULL; l = l->next) {
      JsonNode *node = json_object_get_member(mine, l->data);
      JsonObject *o;
      JsonNode *bus, *conn, *src;
      VxmDdcCacheEntry *e;

      if (!JSON_NODE_HOLDS_OBJECT(node))
        continue;
      o = json_node_get_object(node);
      bus = json_object_get_member(o, "bus");
      conn = json_object_get_member(o, "connector");
      src = json_object_get_member(o, "source");
      if (bus == NULL || json_node_get_value_type(bus) != G_TYPE_INT64 ||
          json_node_get_int(bus) < 0 || json_node_get_int(bus) > 0xffff || conn == NULL ||
          json_node_get_value_type(conn) != G_TYPE_STRING || src == NULL ||
          json_node_get_value_type(src) != G_TYPE_STRING)
        continue;
      e = g_new0(VxmDdcCacheEntry, 1);
      e->bus = (guint)json_node_get_int(bus);
      e->connector = g_strdup(json_node_get_string(conn));
      e->source = g_strdup(json_node_get_string(src));
      g_hash_table_replace(self->entries, g_strdup(l->data), e);
    }
  }
  return self;
}

void
vxm_ddc_cache_free(VxmDdcCache *self)
{
  if (self == NULL)
    return;
  g_free(self->path);
  g_free(self->root);
  json_object_unref(self->roots);
  g_hash_table_unref(self->entries);
  g_free(self);
}

const VxmDdcCacheEntry *
vxm_ddc_cache_lookup(VxmDdcCache *self, const char *identity)
{
  return g_hash_table_lookup(self->entries, identity);
}

void
vxm_ddc_cache_store(VxmDdcCache *self, const char *identity, guint bus, const char *connector,
                    const char *source)
{
  const VxmDdcCacheEntry *old = vxm_ddc_cache_lookup(self, identity);
  VxmDdcCacheEntry *e;

  if (old != NULL && old->bus == bus && g_strcmp0(old->connector, connector) == 0 &&
      g_strcmp0(old->source, source) == 0)
    return;
  e = g_new0(VxmDdcCacheEntry, 1);
  e->bus = bus;
  e->connector = g_strdup(connector);
  e->source = g_strdup(source);
  g_hash_table_replace(self->entries, g_strdup(identity), e);
  self->dirty = TRUE;
}

void
vxm_ddc_cache_forget(VxmDdcCache *self, const char *identity)
{
  if (g_hash_table_remove(self->entries, identity))
    self->dirty = TRUE;
}

gboolean
vxm_ddc_cache_save(VxmDdcCache *self, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autoptr(JsonGenerator) gen = json_generator_new();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GList) roots = NULL;
  g_autoptr(GList) ids = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *text = NULL;

  if (!self->dirty)
    return TRUE;
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "version");
  json_builder_add_int_value(b, 1);
  json_builder_set_member_name(b, "roots");
  json_builder_begin_object(b);
  roots = json_object_get_members(self->roots);
  for (GList *l = roots; l != NULL; l = l->next) {
    if (g_strcmp0(l->data, self->root) == 0)
      continue;
    json_builder_set_member_name(b, l->data);
    json_builder_add_value(b, json_node_copy(json_object_get_member(self->roots, l->data)));
  }
  json_builder_set_member_name(b, self->root);
  json_builder_begin_object(b);
  ids = g_list_sort(g_hash_table_get_keys(self->entries), (GCompareFunc)g_strcmp0);
  for (GList *l = ids; l != NULL; l = l->next) {
    const VxmDdcCacheEntry *e = g_hash_table_lookup(self->entries, l->data);

    json_builder_set_member_name(b, l->data);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "bus");
    json_builder_add_int_value(b, e->bus);
    json_builder_set_member_name(b, "connector");
    json_builder_add_string_value(b, e->connector);
    json_builder_set_member_name(b, "source");
    json_builder_add_string_value(b, e->source);
    json_builder_end_object(b);
  }
  json_builder_end_object(b);
  json_builder_end_object(b);
  json_builder_end_object(b);
  root = json_builder_get_root(b);
  json_generator_set_root(gen, root);
  json_generator_set_pretty(gen, TRUE);
  text = json_generator_to_data(gen, NULL);
  dir = g_path_get_dirname(self->path);
  if (g_mkdir_with_parents(dir, 0700) != 0) {
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "cannot create %s: %s", dir,
                g_strerror(errno));
    return FALSE;
  }
  if (!vxm_file_replace_atomic(self->path, text, -1, 0600, error))
    return FALSE;
  self->dirty = FALSE;
  return TRUE;
}
