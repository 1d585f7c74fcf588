#include "vxm-firmware-descriptor.h"

#include <fnmatch.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "common/vxm-error.h"

static void
vxm_firmware_target_free(VxmFirmwareTarget *target)
{
  g_free(target->architecture);
  g_strfreev(target->machines);
  g_free(target);
}

void
vxm_firmware_descriptor_free(VxmFirmwareDescriptor *self)
{
  if (self == NULL)
    return;
  g_free(self->name);
  g_free(self->path);
  g_free(self->description);
  g_strfreev(self->interface_types);
  g_free(self->device);
  g_free(self->mode);
  g_free(self->code_path);
  g_free(self->code_format);
  g_free(self->vars_template_path);
  g_free(self->vars_template_format);
  if (self->targets != NULL)
    g_ptr_array_unref(self->targets);
  g_strfreev(self->features);
  g_free(self);
}

static gboolean
read_string_array(JsonObject *obj, const char *member, gboolean required, GStrv *out,
                  GError **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
  JsonNode *node = json_object_get_member(obj, member);
  JsonArray *array;

  if (node == NULL && !required) {
    *out = g_strv_builder_end(builder);
    return TRUE;
  }
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY(node)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "\"%s\" must be an array of strings", member);
    return FALSE;
  }
  array = json_node_get_array(node);
  for (guint i = 0; i < json_array_get_length(array); i++) {
    JsonNode *item = json_array_get_element(array, i);

    if (!JSON_NODE_HOLDS_VALUE(item) || json_node_get_value_type(item) != G_TYPE_STRING) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "\"%s\"[%u] is not a string", member, i);
      return FALSE;
    }
    g_strv_builder_add(builder, json_node_get_string(item));
  }
  *out = g_strv_builder_end(builder);
  return TRUE;
}

static gboolean
read_string(JsonObject *obj, const char *context, const char *member, gboolean required, char **out,
            GError **error)
{
  JsonNode *node = json_object_get_member(obj, member);

  if (node == NULL && !required)
    return TRUE;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_value_type(node) != G_TYPE_STRING) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "\"%s%s\" must be a string", context, member);
    return FALSE;
  }
  *out = g_strdup(json_node_get_string(node));
  return TRUE;
}

/* {"filename": ..., "format": ...}; format defaults to raw as in the schema. */
static gboolean
read_flash_file(JsonObject *mapping, const char *member, gboolean required, char **path,
                char **format, GError **error)
{
  g_autofree char *context = g_strdup_printf("mapping.%s.", member);
  JsonNode *node = json_object_get_member(mapping, member);
  JsonObject *file;

  if (node == NULL && !required)
    return TRUE;
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "\"mapping.%s\" must be an object", member);
    return FALSE;
  }
  file = json_node_get_object(node);
  if (!read_string(file, context, "filename", TRUE, path, error))
    return FALSE;
  if (!read_string(file, context, "format", FALSE, format, error))
    return FALSE;
  if (*format == NULL)
    *format = g_strdup("raw");
  if (g_strcmp0(*format, "raw") != 0 && g_strcmp0(*format, "qcow2") != 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "\"mapping.%s.format\" is \"%s\"; expected \"raw\" or \"qcow2\"", member, *format);
    return FALSE;
  }
  if (!g_path_is_absolute(*path)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "\"mapping.%s.filename\" is \"%s\"; expected an absolute path", member, *path);
    return FALSE;
  }
  return TRUE;
}

static gboolean
parse_mapping(VxmFirmwareDescriptor *self, JsonObject *root, GError **error)
{
  JsonNode *node = json_object_get_member(root, "mapping");
  JsonObject *mapping;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_CONFIG, "\"mapping\" must be an object");
    return FALSE;
  }
  mapping = json_node_get_object(node);
  if (!read_string(mapping, "mapping.", "device", TRUE, &self->device, error))
    return FALSE;
  if (g_strcmp0(self->device, "flash") != 0)
    return TRUE; /* memory and kernel mappings: nothing vxm uses */
  if (!read_string(mapping, "mapping.", "mode", FALSE, &self->mode, error))
    return FALSE;
  if (self->mode == NULL)
    self->mode = g_strdup("split");
  if (!read_flash_file(mapping, "executable", TRUE, &self->code_path, &self->code_format, error))
    return FALSE;
  return read_flash_file(mapping, "nvram-template", FALSE, &self->vars_template_path,
                         &self->vars_template_format, error);
}

static gboolean
parse_targets(VxmFirmwareDescriptor *self, JsonObject *root, GError **error)
{
  JsonNode *node = json_object_get_member(root, "targets");
  JsonArray *array;

  self->targets = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_firmware_target_free);
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY(node)) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_CONFIG, "\"targets\" must be an array");
    return FALSE;
  }
  array = json_node_get_array(node);
  for (guint i = 0; i < json_array_get_length(array); i++) {
    JsonNode *item = json_array_get_element(array, i);
    VxmFirmwareTarget *target;

    if (!JSON_NODE_HOLDS_OBJECT(item)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "\"targets\"[%u] must be an object", i);
      return FALSE;
    }
    target = g_new0(VxmFirmwareTarget, 1);
    g_ptr_array_add(self->targets, target);
    if (!read_string(json_node_get_object(item), "targets[].", "architecture", TRUE,
                     &target->architecture, error))
      return FALSE;
    if (!read_string_array(json_node_get_object(item), "machines", TRUE, &target->machines,
                           error)) {
      g_prefix_error(error, "targets[%u]: ", i);
      return FALSE;
    }
  }
  return TRUE;
}

VxmFirmwareDescriptor *
vxm_firmware_descriptor_parse(const char *name, const char *path, const char *data, gsize length,
                              GError **error)
{
  g_autoptr(VxmFirmwareDescriptor) self = g_new0(VxmFirmwareDescriptor, 1);
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) local = NULL;
  JsonNode *root_node;
  JsonObject *root;

  self->name = g_strdup(name);
  self->path = g_strdup(path);
  if (!json_parser_load_from_data(parser, data, length, &local)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "%s: invalid JSON: %s", path, local->message);
    return NULL;
  }
  root_node = json_parser_get_root(parser);
  if (root_node == NULL || !JSON_NODE_HOLDS_OBJECT(root_node)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "%s: not a JSON object", path);
    return NULL;
  }
  root = json_node_get_object(root_node);
  if (!read_string(root, "", "description", FALSE, &self->description, &local) ||
      !read_string_array(root, "interface-types", TRUE, &self->interface_types, &local) ||
      !parse_mapping(self, root, &local) || !parse_targets(self, root, &local) ||
      !read_string_array(root, "features", FALSE, &self->features, &local)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "%s: not a firmware descriptor: %s", path,
                local->message);
    return NULL;
  }
  return g_steal_pointer(&self);
}

gboolean
vxm_firmware_descriptor_has_feature(const VxmFirmwareDescriptor *self, const char *feature)
{
  return self->features != NULL && g_strv_contains((const char *const *)self->features, feature);
}

gboolean
vxm_firmware_descriptor_has_interface(const VxmFirmwareDescriptor *self, const char *interface_type)
{
  return self->interface_types != NULL &&
         g_strv_contains((const char *const *)self->interface_types, interface_type);
}

static gboolean
glob_matches_any_q35(const char *glob)
{
  /* Versions old and new, so that "pc-q35-*" and "pc-q35-[5-9].*" style globs both match. */
  static const char *const samples[] = {"q35",        "pc-q35-2.12", "pc-q35-5.2", "pc-q35-7.2",
                                        "pc-q35-8.2", "pc-q35-9.2",  "pc-q35-10.0"};

  for (gsize i = 0; i < G_N_ELEMENTS(samples); i++)
    if (fnmatch(glob, samples[i], 0) == 0)
      return TRUE;
  return FALSE;
}

gboolean
vxm_firmware_descriptor_supports(const VxmFirmwareDescriptor *self, const char *architecture,
                                 const char *machine)
{
  for (guint i = 0; i < self->targets->len; i++) {
    VxmFirmwareTarget *target = g_ptr_array_index(self->targets, i);

    if (g_strcmp0(target->architecture, architecture) != 0)
      continue;
    for (gsize m = 0; target->machines[m] != NULL; m++) {
      if (machine == NULL ? glob_matches_any_q35(target->machines[m])
                          : fnmatch(target->machines[m], machine, 0) == 0)
        return TRUE;
    }
  }
  return FALSE;
}
