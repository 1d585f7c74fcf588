/* vxm-sim-node: the simulated host's file tree (see the header). */
#include "vxm-sim-node.h"

#include <stdarg.h>
#include <string.h>

static VxmSimNode *
node_new(VxmSimNodeKind kind, guint mode)
{
  VxmSimNode *node = g_new0(VxmSimNode, 1);

  node->ref_count = 1;
  node->kind = kind;
  node->mode = mode & 07777;
  node->mtime_us = node->ctime_us = g_get_real_time();
  return node;
}

VxmSimNode *
vxm_sim_node_new_dir(guint mode)
{
  VxmSimNode *node = node_new(VXM_SIM_NODE_DIR, mode);

  node->children = g_hash_table_new(g_str_hash, g_str_equal);
  return node;
}

VxmSimNode *
vxm_sim_node_new_file(guint mode, const char *contents)
{
  VxmSimNode *node = node_new(VXM_SIM_NODE_FILE, mode);

  node->data = g_byte_array_new();
  if (contents != NULL)
    g_byte_array_append(node->data, (const guint8 *)contents, strlen(contents));
  return node;
}

VxmSimNode *
vxm_sim_node_new_generated(guint mode, VxmSimShowFunc show, VxmSimStoreFunc store, gpointer owner,
                           gpointer item, guint attr)
{
  VxmSimNode *node = node_new(VXM_SIM_NODE_FILE, mode);

  node->show = show;
  node->store = store;
  node->owner = owner;
  node->item = item;
  node->attr = attr;
  return node;
}

VxmSimNode *
vxm_sim_node_new_link(const char *target)
{
  VxmSimNode *node = node_new(VXM_SIM_NODE_LINK, 0777);

  node->target = g_strdup(target);
  return node;
}

VxmSimNode *
vxm_sim_node_new_passthrough(const char *real_dir)
{
  VxmSimNode *node = node_new(VXM_SIM_NODE_PASSTHROUGH, 0755);

  node->target = g_strdup(real_dir);
  return node;
}

VxmSimNode *
vxm_sim_node_new_special(guint type, guint mode)
{
  VxmSimNode *node = node_new(VXM_SIM_NODE_SPECIAL, mode);

  node->special_type = type;
  return node;
}

VxmSimNode *
vxm_sim_node_ref(VxmSimNode *node)
{
  g_atomic_int_inc(&node->ref_count);
  return node;
}

void
vxm_sim_node_unref(VxmSimNode *node)
{
  if (node == NULL || !g_atomic_int_dec_and_test(&node->ref_count))
    return;
  if (node->children != NULL) {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, node->children);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
      VxmSimNode *child = value;
      child->parent = NULL;
      vxm_sim_node_unref(child);
    }
    g_hash_table_unref(node->children);
  }
  if (node->data != NULL)
    g_byte_array_unref(node->data);
  g_free(node->name);
  g_free(node->target);
  g_free(node->log_path);
  g_free(node);
}

gboolean
vxm_sim_node_is_attached(VxmSimNode *node)
{
  while (node->parent != NULL)
    node = node->parent;
  return node->name == NULL;
}

VxmSimNode *
vxm_sim_node_child(VxmSimNode *dir, const char *name)
{
  if (dir == NULL || dir->kind != VXM_SIM_NODE_DIR)
    return NULL;
  return g_hash_table_lookup(dir->children, name);
}

VxmSimNode *
vxm_sim_node_add(VxmSimNode *dir, const char *name, VxmSimNode *child)
{
  VxmSimNode *old = vxm_sim_node_child(dir, name);

  g_return_val_if_fail(dir->kind == VXM_SIM_NODE_DIR, child);
  if (old != NULL)
    vxm_sim_node_remove(old);
  g_free(child->name);
  child->name = g_strdup(name);
  child->parent = dir;
  g_hash_table_insert(dir->children, child->name, child);
  vxm_sim_node_touch(dir);
  return child;
}

void
vxm_sim_node_remove(VxmSimNode *node)
{
  VxmSimNode *dir = node->parent;

  if (dir == NULL)
    return;
  g_hash_table_remove(dir->children, node->name);
  node->parent = NULL;
  vxm_sim_node_touch(dir);
  vxm_sim_node_unref(node);
}

VxmSimNode *
vxm_sim_node_lookup(VxmSimNode *root, const char *path, const char **rest)
{
  VxmSimNode *node = root;
  const char *p = path;

  if (rest != NULL)
    *rest = NULL;
  while (*p == '/')
    p++;
  while (*p != '\0') {
    const char *end = strchrnul(p, '/');
    g_autofree char *name = g_strndup(p, end - p);

    if (node->kind == VXM_SIM_NODE_PASSTHROUGH) {
      if (rest != NULL)
        *rest = p;
      return node;
    }
    node = vxm_sim_node_child(node, name);
    if (node == NULL)
      return NULL;
    p = end;
    while (*p == '/')
      p++;
  }
  return node;
}

VxmSimNode *
vxm_sim_node_mkdir_p(VxmSimNode *root, const char *path)
{
  g_auto(GStrv) parts = g_strsplit(path, "/", -1);
  VxmSimNode *node = root;

  for (guint i = 0; parts[i] != NULL; i++) {
    VxmSimNode *child;

    if (parts[i][0] == '\0')
      continue;
    child = vxm_sim_node_child(node, parts[i]);
    if (child == NULL || child->kind != VXM_SIM_NODE_DIR)
      child = vxm_sim_node_add(node, parts[i], vxm_sim_node_new_dir(0755));
    node = child;
  }
  return node;
}

VxmSimNode *
vxm_sim_node_put(VxmSimNode *root, const char *path, VxmSimNode *node)
{
  g_autofree char *dirname = g_path_get_dirname(path);
  g_autofree char *basename = g_path_get_basename(path);

  return vxm_sim_node_add(vxm_sim_node_mkdir_p(root, dirname), basename, node);
}

void
vxm_sim_node_remove_path(VxmSimNode *root, const char *path)
{
  VxmSimNode *node = vxm_sim_node_lookup(root, path, NULL);

  if (node != NULL && node != root)
    vxm_sim_node_remove(node);
}

char *
vxm_sim_node_path(VxmSimNode *node)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new();
  GString *path = g_string_new(NULL);

  for (; node != NULL && node->name != NULL; node = node->parent)
    g_ptr_array_add(names, node->name);
  for (guint i = names->len; i > 0; i--)
    g_string_append_printf(path, "/%s", (const char *)names->pdata[i - 1]);
  if (path->len == 0)
    g_string_append_c(path, '/');
  return g_string_free(path, FALSE);
}

GPtrArray *
vxm_sim_node_list(VxmSimNode *dir)
{
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  GHashTableIter iter;
  gpointer key;

  if (dir->kind != VXM_SIM_NODE_DIR)
    return names;
  g_hash_table_iter_init(&iter, dir->children);
  while (g_hash_table_iter_next(&iter, &key, NULL))
    g_ptr_array_add(names, g_strdup(key));
  g_ptr_array_sort(names, vxm_sim_compare_strings);
  return names;
}

VxmSimNode *
vxm_sim_node_put_link(VxmSimNode *root, const char *path, const char *to)
{
  g_autofree char *dir = g_path_get_dirname(path);
  g_autofree char *target = vxm_sim_relative_target(dir, to);

  return vxm_sim_node_put(root, path, vxm_sim_node_new_link(target));
}

VxmSimNode *
vxm_sim_node_put_text(VxmSimNode *root, const char *dir, const char *name, const char *format, ...)
{
  g_autofree char *path = dir != NULL ? g_strdup_printf("%s/%s", dir, name) : g_strdup(name);
  g_autofree char *content = NULL;
  va_list args;

  va_start(args, format);
  content = g_strdup_vprintf(format, args);
  va_end(args);
  return vxm_sim_node_put(root, path, vxm_sim_node_new_file(0444, content));
}

char *
vxm_sim_relative_target(const char *from_dir, const char *to)
{
  g_auto(GStrv) from = g_strsplit(from_dir, "/", -1);
  g_auto(GStrv) dest = g_strsplit(to, "/", -1);
  g_autoptr(GPtrArray) from_parts = g_ptr_array_new();
  g_autoptr(GPtrArray) dest_parts = g_ptr_array_new();
  GString *out = g_string_new(NULL);
  guint common = 0;

  for (guint i = 0; from[i] != NULL; i++)
    if (from[i][0] != '\0')
      g_ptr_array_add(from_parts, from[i]);
  for (guint i = 0; dest[i] != NULL; i++)
    if (dest[i][0] != '\0')
      g_ptr_array_add(dest_parts, dest[i]);
  while (common < from_parts->len && common < dest_parts->len &&
         g_strcmp0(from_parts->pdata[common], dest_parts->pdata[common]) == 0)
    common++;
  for (guint i = common; i < from_parts->len; i++)
    g_string_append(out, out->len ? "/.." : "..");
  for (guint i = common; i < dest_parts->len; i++) {
    if (out->len)
      g_string_append_c(out, '/');
    g_string_append(out, dest_parts->pdata[i]);
  }
  if (out->len == 0)
    g_string_append_c(out, '.');
  return g_string_free(out, FALSE);
}

void
vxm_sim_node_touch(VxmSimNode *node)
{
  node->mtime_us = node->ctime_us = g_get_real_time();
}

gint
vxm_sim_compare_strings(gconstpointer a, gconstpointer b)
{
  return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}
