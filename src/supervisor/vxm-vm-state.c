/* vxm-vm-state: state names and the atomic state file. */
#include "supervisor/vxm-vm-state.h"

#include <errno.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"

static const char *const names[] = {
    [VXM_VM_STATE_PREPARING] = "preparing", [VXM_VM_STATE_STARTING] = "starting",
    [VXM_VM_STATE_RUNNING] = "running",     [VXM_VM_STATE_STOPPING] = "stopping",
    [VXM_VM_STATE_RESTORING] = "restoring", [VXM_VM_STATE_STOPPED] = "stopped",
    [VXM_VM_STATE_FAILED] = "failed",
};

const char *
vxm_vm_state_to_string(VxmVmState state)
{
  if ((guint)state >= G_N_ELEMENTS(names))
    return "unknown";
  return names[state];
}

gboolean
vxm_vm_state_from_string(const char *text, VxmVmState *out)
{
  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    if (g_strcmp0(text, names[i]) == 0) {
      *out = (VxmVmState)i;
      return TRUE;
    }
  }
  return FALSE;
}

gboolean
vxm_vm_state_is_final(VxmVmState state)
{
  return state == VXM_VM_STATE_STOPPED || state == VXM_VM_STATE_FAILED;
}

gboolean
vxm_vm_state_file_write(const char *path, JsonNode *status, GError **error)
{
  g_autoptr(JsonGenerator) gen = json_generator_new();
  g_autofree char *text = NULL;
  gsize length = 0;

  json_generator_set_root(gen, status);
  json_generator_set_pretty(gen, TRUE);
  text = json_generator_to_data(gen, &length);
  return vxm_file_replace_atomic_nosync(path, text, (gssize)length, 0600, error);
}

JsonNode *
vxm_vm_state_file_read(const char *path, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *text = NULL;
  gsize length = 0;

  if (!g_file_get_contents(path, &text, &length, &local_error)) {
    if (g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND, "%s does not exist", path);
    else
      g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "cannot read %s: %s", path, local_error->message);
    return NULL;
  }
  if (!json_parser_load_from_data(parser, text, (gssize)length, &local_error) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "%s is not a vxm state file: %s", path,
                local_error != NULL ? local_error->message : "not a JSON object");
    return NULL;
  }
  return json_node_copy(json_parser_get_root(parser));
}
