/* vxm check: the `inputs` check. The guest should get a keyboard and a mouse. A mouse without a
 * keyboard is a failure: QEMU grabs the mouse at start, and only a keyboard's Ctrl+Ctrl gives
 * it back. No devices at all, or named devices not plugged in, only warn: the guest runs, and
 * devices join it when they are plugged in. */
#include <string.h>

#include "checks/vxm-check.h"
#include "input/vxm-input-set.h"
#include "vm/vxm-vm-config.h"

static const char *
device_label(const VxmInputDevice *d)
{
  return d->name != NULL ? d->name : d->event;
}

void
vxm_check_inputs(VxmCheckContext *ctx, VxmCheckResult *result)
{
  VxmHostfs *hostfs = vxm_check_context_get_hostfs(ctx);
  const VxmVmConfig *config = vxm_check_context_get_vm_config(ctx);
  const char *const *names = config != NULL ? (const char *const *)config->inputs : NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmInputSet) set = vxm_input_set_discover(hostfs, &error);
  g_autoptr(GString) found = g_string_new(NULL);
  const VxmInputDevice *primary = NULL;
  guint keyboards = 0, pointers = 0;

  if (set == NULL) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL,
                         "check that the kernel's input devices are visible (is /sys mounted?)",
                         "cannot list the input devices: %s", error->message);
    return;
  }
  vxm_input_set_select(set, names);
  for (guint i = 0; i < set->devices->len; i++) {
    const VxmInputDevice *d = g_ptr_array_index(set->devices, i);

    if (!d->taken)
      continue;
    if (d->kind == VXM_INPUT_KIND_KEYBOARD)
      keyboards++;
    else if (d->kind == VXM_INPUT_KIND_MOUSE || d->kind == VXM_INPUT_KIND_TOUCHPAD)
      pointers++;
    if (d->primary)
      primary = d;
  }
  if (names != NULL && names[0] == NULL) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL,
                         "the VM takes no input devices (inputs is empty): use a USB controller "
                         "or a remote desktop for the guest");
    return;
  }
  if (primary == NULL && pointers == 0) {
    /* the guest still runs (a USB controller passed through can bring its own keyboard) */
    vxm_check_result_set(
        result, VXM_CHECK_STATUS_WARN,
        names == NULL
            ? "plug in a USB or PS/2 keyboard and mouse (vxm inputs lists what the host "
              "has)"
            : "plug them in, or correct the names: vxm config --set inputs=BY-ID-NAME,... "
              "(vxm inputs lists the names)",
        "no keyboard or mouse for the guest%s: it starts without input devices",
        names == NULL ? " was found" : " among the VM's inputs");
    return;
  }
  if (primary == NULL) {
    /* QEMU grabs a mouse at open: with no keyboard holding grab_all there is no way back */
    vxm_check_result_set(result, VXM_CHECK_STATUS_FAIL,
                         "add a keyboard to the VM's inputs: vxm config --set "
                         "inputs=KEYBOARD,MOUSE (vxm inputs lists the names)",
                         "the guest would take the mouse but no keyboard: without a keyboard "
                         "there is no Ctrl+Ctrl to give the mouse back to the host");
    return;
  }
  g_string_append_printf(found, "keyboard %s (Ctrl+Ctrl switches)", device_label(primary));
  if (keyboards > 1)
    g_string_append_printf(found, ", %u more keyboard interface%s", keyboards - 1,
                           keyboards > 2 ? "s" : "");
  for (guint i = 0; i < set->devices->len; i++) {
    const VxmInputDevice *d = g_ptr_array_index(set->devices, i);

    if (d->taken && (d->kind == VXM_INPUT_KIND_MOUSE || d->kind == VXM_INPUT_KIND_TOUCHPAD))
      g_string_append_printf(found, ", %s %s", vxm_input_kind_to_string(d->kind), device_label(d));
  }
  if (set->missing->len > 0) {
    g_autofree char *missing = NULL;

    g_ptr_array_add(set->missing, NULL);
    missing = g_strjoinv(", ", (char **)set->missing->pdata);
    g_ptr_array_remove_index(set->missing, set->missing->len - 1);
    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN,
                         "plug them in, or correct the names: vxm inputs lists the devices by "
                         "name (a by-id or by-path name ending in -event-kbd or -event-mouse "
                         "also joins the running guest when plugged in; an eventN does not)",
                         "%s; not plugged in: %s", found->str, missing);
    return;
  }
  if (pointers == 0) {
    vxm_check_result_set(result, VXM_CHECK_STATUS_WARN,
                         names == NULL
                             ? "plug in a mouse, or name a touchpad: vxm config --set inputs=..."
                             : "add a mouse to the VM's inputs (vxm inputs lists the names)",
                         "%s; no mouse for the guest", found->str);
    return;
  }
  vxm_check_result_set(result, VXM_CHECK_STATUS_OK, NULL, "%s", found->str);
}
