/* vxm-input-device: one evdev node and its classification (see the header). */
#include "vxm-input-device.h"

#include <linux/input.h>
#include <string.h>

#include "common/vxm-error.h"

VxmInputDevice *
vxm_input_device_new(void)
{
  VxmInputDevice *device = g_new0(VxmInputDevice, 1);

  device->by_id = g_ptr_array_new_with_free_func(g_free);
  device->kind = VXM_INPUT_KIND_OTHER;
  return device;
}

void
vxm_input_device_free(VxmInputDevice *device)
{
  if (device == NULL)
    return;
  g_free(device->input);
  g_free(device->event);
  g_free(device->name);
  g_free(device->phys);
  g_free(device->uniq);
  g_free(device->syspath);
  vxm_input_bitmap_free(device->ev);
  vxm_input_bitmap_free(device->key);
  vxm_input_bitmap_free(device->rel);
  vxm_input_bitmap_free(device->abs);
  vxm_input_bitmap_free(device->sw);
  vxm_input_bitmap_free(device->props);
  g_ptr_array_unref(device->by_id);
  g_free(device->by_path);
  g_free(device->path);
  g_free(device->device_key);
  g_free(device->reason);
  g_free(device);
}

static char *
read_optional(VxmHostfs *hostfs, const char *dir, const char *attr)
{
  g_autofree char *path = g_strdup_printf("%s/%s", dir, attr);
  g_autofree char *value = vxm_hostfs_read_attr(hostfs, path, NULL);

  if (value == NULL || *value == '\0')
    return NULL;
  return g_steal_pointer(&value);
}

static gboolean
read_bitmap(VxmHostfs *hostfs, const char *dir, const char *which, gboolean required,
            VxmInputBitmap **out, GError **error)
{
  g_autofree char *path = g_strdup_printf("%s/%s", dir, which);
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;

  text = vxm_hostfs_read_attr(hostfs, path, &local_error);
  if (text == NULL) {
    if (required) {
      g_propagate_error(error, g_steal_pointer(&local_error));
      return FALSE;
    }
    *out = vxm_input_bitmap_new();
    return TRUE;
  }
  *out = vxm_input_bitmap_parse(text, VXM_INPUT_BITMAP_WORD_BITS, error);
  if (*out == NULL) {
    g_prefix_error(error, "%s: ", path);
    return FALSE;
  }
  return TRUE;
}

static guint16
read_id(VxmHostfs *hostfs, const char *dir, const char *attr)
{
  g_autofree char *path = g_strdup_printf("%s/id/%s", dir, attr);
  guint64 value = 0;

  if (!vxm_hostfs_read_attr_uint64(hostfs, path, 16, &value, NULL) || value > G_MAXUINT16)
    return 0;
  return (guint16)value;
}

VxmInputDevice *
vxm_input_device_load(VxmHostfs *hostfs, const char *input, GError **error)
{
  g_autoptr(VxmInputDevice) device = vxm_input_device_new();
  g_autofree char *dir = g_strdup_printf(VXM_HOST_SYS_CLASS_INPUT "/%s", input);
  g_autofree char *caps = g_strdup_printf("%s/capabilities", dir);
  g_autoptr(GPtrArray) entries = NULL;

  entries = vxm_hostfs_list_dir(hostfs, dir, error);
  if (entries == NULL)
    return NULL;
  for (guint i = 0; i < entries->len; i++) {
    const char *entry = g_ptr_array_index(entries, i);
    if (g_str_has_prefix(entry, "event") && g_ascii_isdigit(entry[5]))
      device->event = g_strdup(entry);
  }
  if (device->event == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND, "%s has no event node", dir);
    return NULL;
  }
  device->input = g_strdup(input);
  device->syspath = vxm_hostfs_resolve(hostfs, dir, NULL);
  device->name = read_optional(hostfs, dir, "name");
  device->phys = read_optional(hostfs, dir, "phys");
  device->uniq = read_optional(hostfs, dir, "uniq");
  device->bustype = read_id(hostfs, dir, "bustype");
  device->vendor = read_id(hostfs, dir, "vendor");
  device->product = read_id(hostfs, dir, "product");
  device->version = read_id(hostfs, dir, "version");
  if (!read_bitmap(hostfs, caps, "ev", TRUE, &device->ev, error) ||
      !read_bitmap(hostfs, caps, "key", FALSE, &device->key, error) ||
      !read_bitmap(hostfs, caps, "rel", FALSE, &device->rel, error) ||
      !read_bitmap(hostfs, caps, "abs", FALSE, &device->abs, error) ||
      !read_bitmap(hostfs, caps, "sw", FALSE, &device->sw, error) ||
      !read_bitmap(hostfs, dir, "properties", FALSE, &device->props, error))
    return NULL;
  if (device->phys != NULL) {
    const char *slash = strrchr(device->phys, '/');
    device->device_key =
        slash != NULL ? g_strndup(device->phys, slash - device->phys) : g_strdup(device->phys);
  }
  vxm_input_device_classify(device);
  return g_steal_pointer(&device);
}

static const guint letters[] = {KEY_A, KEY_B, KEY_C, KEY_D, KEY_E, KEY_F, KEY_G, KEY_H, KEY_I,
                                KEY_J, KEY_K, KEY_L, KEY_M, KEY_N, KEY_O, KEY_P, KEY_Q, KEY_R,
                                KEY_S, KEY_T, KEY_U, KEY_V, KEY_W, KEY_X, KEY_Y, KEY_Z};

void
vxm_input_device_classify(VxmInputDevice *d)
{
  gboolean has_key = vxm_input_bitmap_test(d->ev, EV_KEY);
  gboolean has_rel = vxm_input_bitmap_test(d->ev, EV_REL);
  gboolean has_abs = vxm_input_bitmap_test(d->ev, EV_ABS);

  d->letter_keys = 0;
  for (gsize i = 0; has_key && i < G_N_ELEMENTS(letters); i++)
    d->letter_keys += vxm_input_bitmap_test(d->key, letters[i]);
  d->keys = has_key ? vxm_input_bitmap_count_range(d->key, 1, BTN_MISC - 1) : 0;
  d->detail = NULL;

  if (d->letter_keys == G_N_ELEMENTS(letters)) {
    d->kind = VXM_INPUT_KIND_KEYBOARD;
  } else if (has_rel && has_key && vxm_input_bitmap_test(d->rel, REL_X) &&
             vxm_input_bitmap_test(d->rel, REL_Y) && vxm_input_bitmap_test(d->key, BTN_LEFT)) {
    d->kind = VXM_INPUT_KIND_MOUSE;
  } else if (has_abs && has_key && vxm_input_bitmap_test(d->abs, ABS_X) &&
             vxm_input_bitmap_test(d->abs, ABS_Y) &&
             vxm_input_bitmap_test(d->key, BTN_TOOL_FINGER) &&
             !vxm_input_bitmap_test(d->props, INPUT_PROP_DIRECT)) {
    d->kind = VXM_INPUT_KIND_TOUCHPAD;
  } else {
    d->kind = VXM_INPUT_KIND_OTHER;
    if (vxm_input_bitmap_test(d->ev, EV_SW))
      d->detail = "lid or video switch";
    else if (vxm_input_bitmap_test(d->ev, EV_SND))
      d->detail = "PC speaker";
    else if (has_abs && vxm_input_bitmap_test(d->props, INPUT_PROP_DIRECT))
      d->detail = "touchscreen or tablet";
    else if (has_key &&
             (vxm_input_bitmap_test(d->key, KEY_POWER) ||
              vxm_input_bitmap_test(d->key, KEY_SLEEP)) &&
             d->keys <= 4)
      d->detail = "power or sleep button";
    else if (has_key && d->keys > 0)
      d->detail = "keys without letters (media, consumer or system control)";
    else
      d->detail = "neither keyboard nor pointer";
  }

  /* BlueZ makes Bluetooth (classic and LE) keyboards and mice through uhid, so they sit under
   * /sys/devices/virtual/misc/uhid/ with bus 0x0005: real devices all the same */
  d->is_virtual =
      d->bustype == BUS_VIRTUAL || d->phys == NULL ||
      (d->syspath != NULL && g_str_has_prefix(d->syspath, VXM_HOST_SYS_DEVICES_VIRTUAL "/") &&
       !(d->bustype == BUS_BLUETOOTH &&
         g_str_has_prefix(d->syspath, VXM_HOST_SYS_DEVICES_UHID "/")));
}

const char *
vxm_input_device_get_path(const VxmInputDevice *device)
{
  return device->path;
}

const char *
vxm_input_device_get_config_name(const VxmInputDevice *device)
{
  if (device->by_id->len > 0)
    return g_ptr_array_index(device->by_id, 0);
  if (device->by_path != NULL)
    return device->by_path;
  return device->event;
}

gboolean
vxm_input_device_has_name(const VxmInputDevice *device, const char *name)
{
  for (guint i = 0; i < device->by_id->len; i++)
    if (g_strcmp0(g_ptr_array_index(device->by_id, i), name) == 0)
      return TRUE;
  return g_strcmp0(device->by_path, name) == 0 || g_strcmp0(device->event, name) == 0;
}

const char *
vxm_input_kind_to_string(VxmInputKind kind)
{
  switch (kind) {
  case VXM_INPUT_KIND_KEYBOARD: return "keyboard";
  case VXM_INPUT_KIND_MOUSE: return "mouse";
  case VXM_INPUT_KIND_TOUCHPAD: return "touchpad";
  case VXM_INPUT_KIND_OTHER: return "other";
  }
  return "other";
}

static void
add_hex(JsonBuilder *b, const char *member, guint16 value)
{
  g_autofree char *text = g_strdup_printf("%04x", value);

  json_builder_set_member_name(b, member);
  json_builder_add_string_value(b, text);
}

static void
add_string(JsonBuilder *b, const char *member, const char *value)
{
  json_builder_set_member_name(b, member);
  if (value != NULL)
    json_builder_add_string_value(b, value);
  else
    json_builder_add_null_value(b);
}

JsonNode *
vxm_input_device_to_json(const VxmInputDevice *d)
{
  g_autoptr(JsonBuilder) b = json_builder_new();

  json_builder_begin_object(b);
  add_string(b, "event", d->event);
  add_string(b, "name", d->name);
  add_string(b, "kind", vxm_input_kind_to_string(d->kind));
  add_string(b, "detail", d->detail);
  add_string(b, "path", d->path);
  json_builder_set_member_name(b, "by_id");
  json_builder_begin_array(b);
  for (guint i = 0; i < d->by_id->len; i++)
    json_builder_add_string_value(b, g_ptr_array_index(d->by_id, i));
  json_builder_end_array(b);
  add_string(b, "by_path", d->by_path);
  add_string(b, "phys", d->phys);
  add_string(b, "uniq", d->uniq);
  add_hex(b, "bustype", d->bustype);
  add_hex(b, "vendor", d->vendor);
  add_hex(b, "product", d->product);
  add_hex(b, "version", d->version);
  json_builder_set_member_name(b, "virtual");
  json_builder_add_boolean_value(b, d->is_virtual);
  json_builder_set_member_name(b, "taken");
  json_builder_add_boolean_value(b, d->taken);
  json_builder_set_member_name(b, "primary");
  json_builder_add_boolean_value(b, d->primary);
  add_string(b, "reason", d->reason);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
