#include "vxm-start-step.h"

#include <string.h>

#include "common/vxm-hostfs.h"
#include "common/vxm-util.h"
#include "vm/vxm-vm-config.h"

void
vxm_start_step_free(VxmStartStep *self)
{
  if (self == NULL)
    return;
  g_free(self->description);
  g_strfreev(self->subjects);
  g_free(self);
}

const char *
vxm_start_step_kind_to_string(VxmStartStepKind kind)
{
  switch (kind) {
  case VXM_START_STEP_DETACH_GPU: return "detach-gpu";
  case VXM_START_STEP_RESERVE_HUGEPAGES: return "reserve-hugepages";
  case VXM_START_STEP_PREPARE_LOOKING_GLASS: return "prepare-looking-glass";
  case VXM_START_STEP_GRANT_VFIO: return "grant-vfio";
  case VXM_START_STEP_GRANT_INPUT: return "grant-input";
  case VXM_START_STEP_GRANT_USB: return "grant-usb";
  case VXM_START_STEP_RAISE_MEMLOCK: return "raise-memlock";
  case VXM_START_STEP_START_SWTPM: return "start-swtpm";
  case VXM_START_STEP_START_QEMU: return "start-qemu";
  case VXM_START_STEP_SWITCH_MONITOR: return "switch-monitor";
  case VXM_START_STEP_NOTE: return "note";
  }
  return "unknown";
}

static VxmStartStep *add_step(GPtrArray *steps, VxmStartStepKind kind, GStrvBuilder *subjects,
                              guint64 amount, const char *format, ...) G_GNUC_PRINTF(5, 6);

static VxmStartStep *
add_step(GPtrArray *steps, VxmStartStepKind kind, GStrvBuilder *subjects, guint64 amount,
         const char *format, ...)
{
  VxmStartStep *step = g_new0(VxmStartStep, 1);
  va_list ap;

  step->kind = kind;
  step->amount = amount;
  va_start(ap, format);
  step->description = g_strdup_vprintf(format, ap);
  va_end(ap);
  step->subjects = subjects != NULL ? g_strv_builder_end(subjects) : g_new0(char *, 1);
  g_ptr_array_add(steps, step);
  return step;
}

GPtrArray *
vxm_start_step_plan(const VxmVmConfig *config, const VxmStartFacts *facts, const VxmVmPaths *paths,
                    GPtrArray *notes)
{
  GPtrArray *steps = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_start_step_free);
  GPtrArray *fns = facts->gpu_functions;
  g_autoptr(GArray) groups = vxm_start_facts_gpu_iommu_groups(facts);
  gint node = facts->gpu_numa_node < 0 ? 0 : facts->gpu_numa_node;

  if (fns->len > 0) {
    g_autoptr(GStrvBuilder) subjects = g_strv_builder_new();
    g_autoptr(GString) addrs = g_string_new(NULL);
    g_autoptr(GString) drivers = g_string_new(NULL);
    g_autoptr(GString) extra = g_string_new(NULL);

    for (guint i = 0; i < fns->len; i++) {
      VxmHostGpuFunction *fn = g_ptr_array_index(fns, i);
      const char *driver = fn->driver != NULL ? fn->driver : "no driver";

      g_strv_builder_add(subjects, fn->address);
      g_string_append_printf(addrs, "%s%s", i > 0 ? " " : "", fn->address);
      if (strstr(drivers->str, driver) == NULL)
        g_string_append_printf(drivers, "%s%s", drivers->len > 0 ? "/" : "", driver);
    }
    for (guint i = 0; i < facts->extra_devices->len; i++) {
      VxmHostGpuFunction *dev = g_ptr_array_index(facts->extra_devices, i);

      g_strv_builder_add(subjects, dev->address);
      g_string_append_printf(extra, "%s%s (%s)", extra->len > 0 ? ", " : "", dev->address,
                             dev->driver != NULL ? dev->driver : "no driver");
    }
    if (extra->len > 0)
      add_step(steps, VXM_START_STEP_DETACH_GPU, subjects, 0,
               "detach %s from %s and the extra devices %s to vfio-pci", addrs->str, drivers->str,
               extra->str);
    else
      add_step(steps, VXM_START_STEP_DETACH_GPU, subjects, 0, "detach %s from %s to vfio-pci",
               addrs->str, drivers->str);
  }
  if (facts->hugepage_bytes != 0) {
    g_autoptr(GStrvBuilder) subjects = g_strv_builder_new();
    g_autofree char *page = vxm_format_bytes(facts->hugepage_bytes);
    guint64 count = facts->memory_bytes / facts->hugepage_bytes;

    g_autofree char *node_name = g_strdup_printf("node%d", node);

    g_strv_builder_add(subjects, node_name);
    add_step(steps, VXM_START_STEP_RESERVE_HUGEPAGES, subjects, count,
             "reserve %" G_GUINT64_FORMAT " %s hugepages on node %d", count, page, node);
  }
  if (facts->looking_glass_path != NULL && facts->looking_glass_bytes > 0) {
    g_autoptr(GStrvBuilder) subjects = g_strv_builder_new();
    g_autofree char *size = vxm_format_bytes(facts->looking_glass_bytes);

    g_strv_builder_add(subjects, facts->looking_glass_path);
    add_step(steps, VXM_START_STEP_PREPARE_LOOKING_GLASS, subjects, facts->looking_glass_bytes,
             "prepare %s (%s) for Looking Glass", facts->looking_glass_path, size);
  }
  for (guint i = 0; i < groups->len; i++) {
    g_autoptr(GStrvBuilder) subjects = g_strv_builder_new();
    g_autofree char *node_path =
        g_strdup_printf(VXM_HOST_DEV_VFIO "/%d", g_array_index(groups, gint, i));

    g_strv_builder_add(subjects, node_path);
    add_step(steps, VXM_START_STEP_GRANT_VFIO, subjects, 0, "grant %s", node_path);
  }
  if (facts->inputs->len > 0) {
    g_autoptr(GStrvBuilder) subjects = g_strv_builder_new();
    g_autoptr(GString) list = g_string_new(NULL);

    for (guint i = 0; i < facts->inputs->len; i++) {
      VxmHostInput *input = g_ptr_array_index(facts->inputs, i);

      g_strv_builder_add(subjects, input->path);
      g_string_append_printf(list, "%s%s", i > 0 ? " " : "", input->path);
    }
    add_step(steps, VXM_START_STEP_GRANT_INPUT, subjects, 0, "grant %s", list->str);
  }
  for (guint i = 0; i < facts->usb_devices->len; i++) {
    const VxmUsbPassthrough *usb = g_ptr_array_index(facts->usb_devices, i);
    g_autoptr(GStrvBuilder) subjects = NULL;

    if (usb->node == NULL)
      continue; /* granted when plugged in (a note says so) */
    subjects = g_strv_builder_new();
    g_strv_builder_add(subjects, usb->node);
    add_step(steps, VXM_START_STEP_GRANT_USB, subjects, 0, "grant %s (USB %04x:%04x%s%s)",
             usb->node, usb->vendor, usb->product, *usb->description != '\0' ? " " : "",
             usb->description);
  }
  if (fns->len > 0) {
    /* VFIO pins all guest RAM (and the Looking Glass buffer): RAM + 1 GiB of slack */
    guint64 bytes = facts->memory_bytes + (G_GUINT64_CONSTANT(1) << 30) +
                    (facts->looking_glass_path != NULL ? facts->looking_glass_bytes : 0);
    g_autofree char *size = vxm_format_bytes(bytes);

    add_step(steps, VXM_START_STEP_RAISE_MEMLOCK, NULL, bytes, "raise memlock to %s", size);
  }
  if (config->tpm) {
    g_autoptr(GStrvBuilder) subjects = g_strv_builder_new();

    g_strv_builder_add(subjects, paths->swtpm_socket);
    add_step(steps, VXM_START_STEP_START_SWTPM, subjects, 0, "start swtpm on %s",
             paths->swtpm_socket);
  }
  {
    g_autoptr(GStrvBuilder) subjects = g_strv_builder_new();

    g_strv_builder_add(subjects, paths->qmp_socket);
    add_step(steps, VXM_START_STEP_START_QEMU, subjects, 0,
             "start QEMU paused, connect to %s, then continue", paths->qmp_socket);
  }
  for (guint i = 0; i < facts->monitors->len; i++) {
    const VxmVmMonitorSwitch *sw = g_ptr_array_index(facts->monitors, i);
    g_autoptr(GStrvBuilder) subjects = g_strv_builder_new();
    g_autofree char *input = vxm_vm_monitor_input_to_string(sw->guest_input);

    g_strv_builder_add(subjects, sw->spec);
    add_step(steps, VXM_START_STEP_SWITCH_MONITOR, subjects, 0, "switch monitor %s to %s", sw->spec,
             input);
  }
  for (guint i = 0; notes != NULL && i < notes->len; i++)
    add_step(steps, VXM_START_STEP_NOTE, NULL, 0, "%s", (char *)g_ptr_array_index(notes, i));
  return steps;
}

JsonNode *
vxm_start_step_to_json(const VxmStartStep *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new();

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "kind");
  json_builder_add_string_value(b, vxm_start_step_kind_to_string(self->kind));
  json_builder_set_member_name(b, "description");
  json_builder_add_string_value(b, self->description);
  json_builder_set_member_name(b, "subjects");
  json_builder_begin_array(b);
  for (gsize i = 0; self->subjects[i] != NULL; i++)
    json_builder_add_string_value(b, self->subjects[i]);
  json_builder_end_array(b);
  json_builder_set_member_name(b, "amount");
  json_builder_add_int_value(b, (gint64)self->amount);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
