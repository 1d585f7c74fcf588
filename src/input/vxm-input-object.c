/* vxm-input-object: QEMU's input-linux objects (see the header). */
#include "vxm-input-object.h"

#include <string.h>

#include "qemu/vxm-qemu-opt.h"

VxmHostInput *
vxm_host_input_new(const char *path, VxmHostInputKind kind, gboolean primary)
{
  VxmHostInput *input = g_new0(VxmHostInput, 1);

  input->path = g_strdup(path);
  input->kind = kind;
  input->primary = primary;
  return input;
}

void
vxm_host_input_free(VxmHostInput *input)
{
  if (input == NULL)
    return;
  g_free(input->path);
  g_free(input);
}

VxmInputObject *
vxm_input_object_copy(const VxmInputObject *object)
{
  VxmInputObject *copy = g_new0(VxmInputObject, 1);

  *copy = *object;
  copy->id = g_strdup(object->id);
  copy->evdev = g_strdup(object->evdev);
  copy->grab_toggle = g_strdup(object->grab_toggle);
  return copy;
}

void
vxm_input_object_free(VxmInputObject *object)
{
  if (object == NULL)
    return;
  g_free(object->id);
  g_free(object->evdev);
  g_free(object->grab_toggle);
  g_free(object);
}

gboolean
vxm_input_pending_kind(const char *name, VxmHostInputKind *kind, char **why)
{
  if (g_str_has_prefix(name, "event") && name[5] != '\0' &&
      strspn(name + 5, "0123456789") == strlen(name + 5)) {
    *why = g_strdup_printf(
        "%s is a kernel number, which a device gets anew each time it is plugged in: name it "
        "by its /dev/input/by-id or by-path link instead (vxm inputs lists them)",
        name);
    return FALSE;
  }
  if (g_str_has_suffix(name, "-event-kbd")) {
    *kind = VXM_HOST_INPUT_KEYBOARD;
    return TRUE;
  }
  if (g_str_has_suffix(name, "-event-mouse")) {
    *kind = VXM_HOST_INPUT_MOUSE;
    return TRUE;
  }
  *why = g_strdup_printf("vxm cannot tell whether %s is a keyboard or a mouse until it is "
                         "plugged in (udev's names end in -event-kbd or -event-mouse): plug it "
                         "in and start the VM again, or check the name with vxm inputs",
                         name);
  return FALSE;
}

const char *
vxm_input_link_folder(const char *name)
{
  /* udev's ID_PATH starts with the bus the device hangs off; ID_BUS-ID_SERIAL (by-id) with
   * usb-, bluetooth-, ... */
  static const char *const path_prefixes[] = {"pci-",    "platform-", "acpi-", "serio-",
                                              "virtio-", "xen-",      "ip-"};

  for (gsize i = 0; i < G_N_ELEMENTS(path_prefixes); i++)
    if (g_str_has_prefix(name, path_prefixes[i]))
      return "by-path";
  return "by-id";
}

GPtrArray *
vxm_input_objects_new(GPtrArray *inputs, const char *grab_toggle)
{
  GPtrArray *objects = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_input_object_free);
  guint kbd = 0, mouse = 0;

  for (guint i = 0; i < inputs->len; i++) {
    const VxmHostInput *input = g_ptr_array_index(inputs, i);
    VxmInputObject *o = g_new0(VxmInputObject, 1);

    o->kind = input->kind;
    o->evdev = g_strdup(input->path);
    o->grab_toggle = grab_toggle != NULL && *grab_toggle != '\0' ? g_strdup(grab_toggle) : NULL;
    if (input->kind == VXM_HOST_INPUT_KEYBOARD) {
      o->id = g_strdup_printf("kbd%u", kbd++);
      o->grab_all = input->primary;
      o->repeat = TRUE;
    } else {
      o->id = g_strdup_printf("mouse%u", mouse++);
    }
    g_ptr_array_add(objects, o);
  }
  return objects;
}

char *
vxm_input_object_to_option(const VxmInputObject *o)
{
  g_autofree char *evdev = vxm_qemu_escape_opt(o->evdev);
  GString *s = g_string_new(NULL);

  g_string_append_printf(s, "input-linux,id=%s,evdev=%s", o->id, evdev);
  if (o->grab_all)
    g_string_append(s, ",grab_all=on");
  if (o->repeat)
    g_string_append(s, ",repeat=on");
  if (o->grab_toggle != NULL) {
    g_autofree char *toggle = vxm_qemu_escape_opt(o->grab_toggle);
    g_string_append_printf(s, ",grab-toggle=%s", toggle);
  }
  return g_string_free(s, FALSE);
}

JsonObject *
vxm_input_object_to_qmp(const VxmInputObject *o)
{
  JsonObject *args = json_object_new();

  json_object_set_string_member(args, "qom-type", "input-linux");
  json_object_set_string_member(args, "id", o->id);
  json_object_set_string_member(args, "evdev", o->evdev);
  json_object_set_boolean_member(args, "grab_all", o->grab_all);
  json_object_set_boolean_member(args, "repeat", o->repeat);
  if (o->grab_toggle != NULL)
    json_object_set_string_member(args, "grab-toggle", o->grab_toggle);
  return args;
}

JsonObject *
vxm_input_object_to_json(const VxmInputObject *o)
{
  JsonObject *obj = json_object_new();

  json_object_set_string_member(obj, "id", o->id);
  json_object_set_string_member(obj, "evdev", o->evdev);
  json_object_set_string_member(obj, "kind",
                                o->kind == VXM_HOST_INPUT_KEYBOARD ? "keyboard" : "mouse");
  json_object_set_boolean_member(obj, "grab_all", o->grab_all);
  json_object_set_boolean_member(obj, "repeat", o->repeat);
  if (o->grab_toggle != NULL)
    json_object_set_string_member(obj, "grab_toggle", o->grab_toggle);
  else
    json_object_set_null_member(obj, "grab_toggle");
  return obj;
}

VxmInputObject *
vxm_input_object_from_json(JsonObject *obj)
{
  const char *id = json_object_get_string_member_with_default(obj, "id", NULL);
  const char *evdev = json_object_get_string_member_with_default(obj, "evdev", NULL);
  VxmInputObject *o;

  if (id == NULL || evdev == NULL || *id == '\0' || *evdev == '\0')
    return NULL;
  o = g_new0(VxmInputObject, 1);
  o->id = g_strdup(id);
  o->evdev = g_strdup(evdev);
  o->kind = g_strcmp0(json_object_get_string_member_with_default(obj, "kind", ""), "keyboard") == 0
                ? VXM_HOST_INPUT_KEYBOARD
                : VXM_HOST_INPUT_MOUSE;
  o->grab_all = json_object_get_boolean_member_with_default(obj, "grab_all", FALSE);
  o->repeat = json_object_get_boolean_member_with_default(obj, "repeat", FALSE);
  o->grab_toggle = g_strdup(json_object_get_string_member_with_default(obj, "grab_toggle", NULL));
  return o;
}
