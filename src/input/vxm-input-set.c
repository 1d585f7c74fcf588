/* vxm-input-set: discovery and selection of input devices (see the header). */
#include "vxm-input-set.h"

#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"

void
vxm_input_set_free(VxmInputSet *set)
{
  if (set == NULL)
    return;
  g_ptr_array_unref(set->devices);
  g_ptr_array_unref(set->missing);
  g_free(set);
}

static guint64
node_number(const char *name, const char *prefix)
{
  guint64 n;

  if (!g_str_has_prefix(name, prefix) || !vxm_parse_uint64(name + strlen(prefix), 10, &n))
    return G_MAXUINT64;
  return n;
}

static gint
compare_by_event(gconstpointer a, gconstpointer b)
{
  const VxmInputDevice *da = *(VxmInputDevice *const *)a;
  const VxmInputDevice *db = *(VxmInputDevice *const *)b;
  guint64 na = node_number(da->event, "event"), nb = node_number(db->event, "event");

  return na < nb ? -1 : na > nb ? 1 : g_strcmp0(da->event, db->event);
}

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static VxmInputDevice *
find_event(GPtrArray *devices, const char *event)
{
  for (guint i = 0; i < devices->len; i++) {
    VxmInputDevice *d = g_ptr_array_index(devices, i);
    if (g_strcmp0(d->event, event) == 0)
      return d;
  }
  return NULL;
}

/* Adds the names of /dev/input/@folder linking to event nodes to the devices. */
static void
add_links(VxmHostfs *hostfs, GPtrArray *devices, const char *folder, gboolean by_id)
{
  g_autofree char *dir = g_strdup_printf(VXM_HOST_DEV_INPUT "/%s", folder);
  g_autoptr(GPtrArray) names = vxm_hostfs_list_dir(hostfs, dir, NULL);

  for (guint i = 0; names != NULL && i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    g_autofree char *link = g_strdup_printf("%s/%s", dir, name);
    g_autofree char *target = vxm_hostfs_read_link_basename(hostfs, link, NULL);
    VxmInputDevice *d = target != NULL ? find_event(devices, target) : NULL;

    if (d == NULL)
      continue; /* a mouseN or jsN link, or a dangling one */
    if (by_id)
      g_ptr_array_add(d->by_id, g_strdup(name));
    else if (d->by_path == NULL)
      d->by_path = g_strdup(name);
  }
}

VxmInputSet *
vxm_input_set_discover(VxmHostfs *hostfs, GError **error)
{
  g_autoptr(VxmInputSet) set = g_new0(VxmInputSet, 1);
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GError) local_error = NULL;

  set->devices = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_input_device_free);
  set->missing = g_ptr_array_new_with_free_func(g_free);
  entries = vxm_hostfs_list_dir(hostfs, VXM_HOST_SYS_CLASS_INPUT, &local_error);
  if (entries == NULL) {
    if (g_error_matches(local_error, VXM_ERROR, VXM_ERROR_NOT_FOUND))
      return g_steal_pointer(&set); /* no input subsystem: no devices */
    g_propagate_prefixed_error(error, g_steal_pointer(&local_error),
                               "cannot list the input devices: ");
    return NULL;
  }
  for (guint i = 0; i < entries->len; i++) {
    const char *entry = g_ptr_array_index(entries, i);
    g_autoptr(GError) dev_error = NULL;
    VxmInputDevice *d;

    if (node_number(entry, "input") == G_MAXUINT64)
      continue;
    d = vxm_input_device_load(hostfs, entry, &dev_error);
    if (d == NULL) {
      if (g_error_matches(dev_error, VXM_ERROR, VXM_ERROR_NOT_FOUND))
        continue; /* no event handler bound */
      g_propagate_prefixed_error(error, g_steal_pointer(&dev_error),
                                 "cannot read input device %s: ", entry);
      return NULL;
    }
    g_ptr_array_add(set->devices, d);
  }
  g_ptr_array_sort(set->devices, compare_by_event);
  add_links(hostfs, set->devices, "by-id", TRUE);
  add_links(hostfs, set->devices, "by-path", FALSE);
  for (guint i = 0; i < set->devices->len; i++) {
    VxmInputDevice *d = g_ptr_array_index(set->devices, i);

    g_ptr_array_sort(d->by_id, compare_strings);
    if (d->by_id->len > 0)
      d->path = g_strdup_printf(VXM_HOST_DEV_INPUT "/by-id/%s", (char *)d->by_id->pdata[0]);
    else if (d->by_path != NULL)
      d->path = g_strdup_printf(VXM_HOST_DEV_INPUT "/by-path/%s", d->by_path);
    else
      d->path = g_strdup_printf(VXM_HOST_DEV_INPUT "/%s", d->event);
  }
  return g_steal_pointer(&set);
}

VxmInputDevice *
vxm_input_set_find(VxmInputSet *set, const char *name)
{
  for (guint i = 0; i < set->devices->len; i++) {
    VxmInputDevice *d = g_ptr_array_index(set->devices, i);
    if (vxm_input_device_has_name(d, name))
      return d;
  }
  return NULL;
}

static void set_reason(VxmInputDevice *d, gboolean taken, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

static void
set_reason(VxmInputDevice *d, gboolean taken, const char *format, ...)
{
  va_list args;
  char *reason;

  va_start(args, format);
  reason = g_strdup_vprintf(format, args); /* may quote the old reason */
  va_end(args);
  d->taken = taken;
  g_free(d->reason);
  d->reason = reason;
}

/* TRUE for a keyboard on a later interface (phys ".../input1" and up) of a physical device
 * that also has a mouse: a gaming mouse's keyboard interface. A gaming keyboard's own
 * keyboard is on interface 0, whatever other interfaces it has. */
static gboolean
is_secondary_interface(VxmInputSet *set, const VxmInputDevice *d)
{
  const char *slash = d->phys != NULL ? strrchr(d->phys, '/') : NULL;
  gboolean has_mouse = FALSE;

  if (d->device_key == NULL || slash == NULL || g_strcmp0(slash, "/input0") == 0)
    return FALSE;
  for (guint i = 0; i < set->devices->len; i++) {
    const VxmInputDevice *o = g_ptr_array_index(set->devices, i);
    if (o != d && o->kind == VXM_INPUT_KIND_MOUSE && g_strcmp0(o->device_key, d->device_key) == 0)
      has_mouse = TRUE;
  }
  return has_mouse;
}

/* Negative when @a makes the better primary keyboard. */
static gint
primary_rank(VxmInputSet *set, const VxmInputDevice *a, const VxmInputDevice *b)
{
  gboolean ma = is_secondary_interface(set, a), mb = is_secondary_interface(set, b);

  if (a->letter_keys != b->letter_keys)
    return a->letter_keys > b->letter_keys ? -1 : 1;
  if (ma != mb)
    return ma ? 1 : -1;
  if (a->keys != b->keys)
    return a->keys > b->keys ? -1 : 1;
  return g_strcmp0(a->path, b->path);
}

void
vxm_input_set_select(VxmInputSet *set, const char *const *names)
{
  VxmInputDevice *primary = NULL;

  g_ptr_array_set_size(set->missing, 0);
  for (guint i = 0; i < set->devices->len; i++) {
    VxmInputDevice *d = g_ptr_array_index(set->devices, i);
    const char *kind = vxm_input_kind_to_string(d->kind);

    d->primary = FALSE;
    if (names != NULL) {
      gboolean named = FALSE;
      for (gsize n = 0; names[n] != NULL && !named; n++)
        named = vxm_input_device_has_name(d, names[n]);
      if (named)
        set_reason(d, TRUE, "%s, named in inputs", kind);
      else
        set_reason(d, FALSE, "not named in inputs");
    } else if (d->kind == VXM_INPUT_KIND_OTHER) {
      set_reason(d, FALSE, "not a keyboard or mouse: %s", d->detail);
    } else if (d->is_virtual) {
      set_reason(d, FALSE, "virtual %s (%s): name it in inputs to take it", kind,
                 d->bustype == 0x06 ? "bus virtual"
                 : d->phys == NULL  ? "no phys"
                                    : "not physical");
    } else if (d->kind == VXM_INPUT_KIND_TOUCHPAD) {
      set_reason(d, FALSE,
                 "touchpad: QEMU makes it an absolute pointer; name it in inputs to "
                 "take it");
    } else {
      set_reason(d, TRUE, "%s", kind);
    }
  }
  for (gsize n = 0; names != NULL && names[n] != NULL; n++)
    if (vxm_input_set_find(set, names[n]) == NULL)
      g_ptr_array_add(set->missing, g_strdup(names[n]));

  for (guint i = 0; i < set->devices->len; i++) {
    VxmInputDevice *d = g_ptr_array_index(set->devices, i);
    if (d->taken && d->kind == VXM_INPUT_KIND_KEYBOARD &&
        (primary == NULL || primary_rank(set, d, primary) < 0))
      primary = d;
  }
  if (primary != NULL) {
    primary->primary = TRUE;
    set_reason(primary, TRUE, "%s; primary keyboard (grab_all, the grab toggle)", primary->reason);
  }
  for (guint i = 0; i < set->devices->len; i++) {
    VxmInputDevice *d = g_ptr_array_index(set->devices, i);
    if (d->taken && d->kind == VXM_INPUT_KIND_KEYBOARD && !d->primary)
      set_reason(d, TRUE, "%s; secondary keyboard%s", d->reason,
                 is_secondary_interface(set, d) ? " (a mouse's keyboard interface)" : "");
  }
}

static gboolean
is_keyboard_object(const VxmInputDevice *d)
{
  /* a named "other" device with keys is passed like a keyboard (key repeat) */
  return d->kind == VXM_INPUT_KIND_KEYBOARD || (d->kind == VXM_INPUT_KIND_OTHER && d->keys > 0);
}

void
vxm_input_set_add_inputs(VxmInputSet *set, VxmHostfs *hostfs, GPtrArray *inputs)
{
  for (int pass = 0; pass < 3; pass++) {
    for (guint i = 0; i < set->devices->len; i++) {
      VxmInputDevice *d = g_ptr_array_index(set->devices, i);
      gboolean kbd = is_keyboard_object(d);
      g_autofree char *local = NULL;

      if (!d->taken || (pass == 0 && !d->primary) || (pass == 1 && (d->primary || !kbd)) ||
          (pass == 2 && kbd))
        continue;
      local = vxm_hostfs_path(hostfs, d->path);
      g_ptr_array_add(
          inputs, vxm_host_input_new(local, kbd ? VXM_HOST_INPUT_KEYBOARD : VXM_HOST_INPUT_MOUSE,
                                     d->primary));
    }
  }
}

JsonNode *
vxm_input_set_to_json(VxmInputSet *set)
{
  JsonArray *array = json_array_new();
  JsonNode *node = json_node_new(JSON_NODE_ARRAY);

  for (guint i = 0; i < set->devices->len; i++)
    json_array_add_element(array, vxm_input_device_to_json(g_ptr_array_index(set->devices, i)));
  json_node_take_array(node, array);
  return node;
}
