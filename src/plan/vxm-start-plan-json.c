/* vxm-start-plan-json: the start plan as `vxm start --dry-run --json` prints it, and as the
 * golden plan files (tests/data/start-plan) hold it. */
#include "plan/vxm-qemu-argv.h"
#include "plan/vxm-start-step.h"
#include "vxm-start-planner.h"

static JsonNode *
strv_json(const char *const *strv)
{
  g_autoptr(JsonBuilder) b = json_builder_new();

  json_builder_begin_array(b);
  for (gsize i = 0; strv != NULL && strv[i] != NULL; i++)
    json_builder_add_string_value(b, strv[i]);
  json_builder_end_array(b);
  return json_builder_get_root(b);
}

static JsonNode *
firmware_json(const VxmFirmware *fw)
{
  g_autoptr(JsonBuilder) b = json_builder_new();

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "descriptor");
  if (fw->descriptor_name != NULL)
    json_builder_add_string_value(b, fw->descriptor_name);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "code");
  json_builder_add_string_value(b, fw->code_host_path);
  json_builder_set_member_name(b, "vars_template");
  json_builder_add_string_value(b, fw->vars_template_host_path);
  json_builder_set_member_name(b, "secure_boot");
  json_builder_add_boolean_value(b, fw->secure_boot);
  json_builder_set_member_name(b, "enrolled_keys");
  json_builder_add_boolean_value(b, fw->enrolled_keys);
  json_builder_set_member_name(b, "requires_smm");
  json_builder_add_boolean_value(b, fw->requires_smm);
  json_builder_set_member_name(b, "fallback");
  json_builder_add_boolean_value(b, fw->fallback);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static JsonNode *
resources_json(const VxmStartPlan *in)
{
  g_autoptr(JsonBuilder) b = json_builder_new();

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "hugepages");
  if (in->hugepage_size == 0) {
    json_builder_add_null_value(b);
  } else {
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "page_size");
    json_builder_add_int_value(b, (gint64)in->hugepage_size);
    json_builder_set_member_name(b, "count");
    json_builder_add_int_value(b, (gint64)in->hugepage_count);
    json_builder_set_member_name(b, "node");
    if (in->hugepage_node >= 0)
      json_builder_add_int_value(b, in->hugepage_node);
    else
      json_builder_add_null_value(b);
    json_builder_set_member_name(b, "fallback");
    json_builder_add_boolean_value(b, in->config->hugepages_fallback);
    json_builder_set_member_name(b, "compact");
    json_builder_add_boolean_value(b, in->config->hugepages_compact);
    json_builder_set_member_name(b, "alternative");
    if (in->hugepage_alt_size > 0) {
      json_builder_begin_object(b);
      json_builder_set_member_name(b, "page_size");
      json_builder_add_int_value(b, (gint64)in->hugepage_alt_size);
      json_builder_set_member_name(b, "count");
      json_builder_add_int_value(b, (gint64)(in->facts->memory_bytes / in->hugepage_alt_size));
      json_builder_set_member_name(b, "node");
      if (in->hugepage_alt_node >= 0)
        json_builder_add_int_value(b, in->hugepage_alt_node);
      else
        json_builder_add_null_value(b);
      json_builder_end_object(b);
    } else {
      json_builder_add_null_value(b);
    }
    json_builder_end_object(b);
  }
  json_builder_set_member_name(b, "hugepages_why");
  if (in->hugepages_why != NULL)
    json_builder_add_string_value(b, in->hugepages_why);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "memlock_bytes");
  json_builder_add_int_value(b, (gint64)in->memlock_bytes);
  json_builder_set_member_name(b, "pinning");
  if (in->pinning != NULL)
    json_builder_add_value(b, vxm_cpu_pinning_plan_to_json(in->pinning));
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "inputs");
  json_builder_begin_array(b);
  for (guint i = 0; i < in->input_objects->len; i++) {
    const VxmInputObject *o = g_ptr_array_index(in->input_objects, i);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_add_string_value(b, o->id);
    json_builder_set_member_name(b, "node");
    json_builder_add_string_value(b, in->input_nodes[i]);
    json_builder_set_member_name(b, "kind");
    json_builder_add_string_value(b, o->kind == VXM_HOST_INPUT_KEYBOARD ? "keyboard" : "mouse");
    json_builder_set_member_name(b, "grab_all");
    json_builder_add_boolean_value(b, o->grab_all);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "pending_inputs");
  json_builder_begin_array(b);
  for (guint i = 0; i < in->input_pending->len; i++) {
    const VxmInputObject *o = g_ptr_array_index(in->input_pending, i);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_add_string_value(b, o->id);
    json_builder_set_member_name(b, "evdev");
    json_builder_add_string_value(b, o->evdev);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "vfio_nodes");
  json_builder_add_value(b, strv_json((const char *const *)in->vfio_nodes));
  json_builder_set_member_name(b, "usb_devices");
  json_builder_begin_array(b);
  for (guint i = 0; i < in->facts->usb_devices->len; i++) {
    const VxmUsbPassthrough *d = g_ptr_array_index(in->facts->usb_devices, i);
    g_autofree char *ids = g_strdup_printf("%04x:%04x", d->vendor, d->product);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_add_string_value(b, d->id);
    json_builder_set_member_name(b, "usb_id");
    json_builder_add_string_value(b, ids);
    json_builder_set_member_name(b, "present");
    json_builder_add_boolean_value(b, d->node != NULL);
    json_builder_set_member_name(b, "node");
    if (d->node != NULL)
      json_builder_add_string_value(b, d->node);
    else
      json_builder_add_null_value(b);
    json_builder_set_member_name(b, "description");
    json_builder_add_string_value(b, d->description);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

/* What the guest is shown of the machine ([cpu] hide_kvm, hv_vendor_id; vmport; the 64-bit PCI
 * window its firmware gets for the GPU's BARs): the same decisions the argv holds. */
static JsonNode *
guest_json(const VxmStartPlan *in)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  guint64 mmio64 = vxm_qemu_argv_mmio64_mb(in->facts->gpu_bar64_bytes);

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "hide_kvm");
  json_builder_add_boolean_value(b, in->config->hide_kvm);
  json_builder_set_member_name(b, "hv_vendor_id");
  if (in->config->hv_vendor_id != NULL)
    json_builder_add_string_value(b, in->config->hv_vendor_id);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "vmport");
  if (vxm_qemu_caps_has_machine_prop(in->caps, "vmport"))
    json_builder_add_string_value(b, "off");
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "gpu_bar64_bytes");
  json_builder_add_int_value(b, (gint64)in->facts->gpu_bar64_bytes);
  json_builder_set_member_name(b, "pci_mmio64_mb");
  if (mmio64 > 0)
    json_builder_add_int_value(b, (gint64)mmio64);
  else
    json_builder_add_null_value(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static JsonNode *
audio_json(const VxmStartPlan *in)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  const char *backend = vxm_qemu_argv_audio_backend(in->config, in->caps, NULL);
  guint latency = vxm_qemu_argv_audio_latency_us(in->config, backend);

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "backend");
  if (backend != NULL)
    json_builder_add_string_value(b, backend);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "latency_us");
  if (latency > 0)
    json_builder_add_int_value(b, latency);
  else
    json_builder_add_null_value(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

JsonNode *
vxm_start_plan_to_json(const VxmStartPlan *in)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autoptr(JsonNode) resources = resources_json(in);
  JsonObject *r = json_node_get_object(resources);

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "qemu");
  json_builder_add_value(b, strv_json((const char *const *)in->qemu));
  json_builder_set_member_name(b, "qemu_fallback");
  if (in->qemu_fallback != NULL)
    json_builder_add_value(b, strv_json((const char *const *)in->qemu_fallback));
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "swtpm");
  json_builder_add_value(b, strv_json((const char *const *)in->swtpm));
  json_builder_set_member_name(b, "steps");
  json_builder_begin_array(b);
  for (guint i = 0; i < in->steps->len; i++)
    json_builder_add_value(b, vxm_start_step_to_json(g_ptr_array_index(in->steps, i)));
  json_builder_end_array(b);
  json_builder_set_member_name(b, "firmware");
  json_builder_add_value(b, firmware_json(in->fw));
  json_builder_set_member_name(b, "qemu_version");
  json_builder_add_string_value(b, in->caps->version);
  json_builder_set_member_name(b, "qemu_alternative");
  if (in->qemu_alt != NULL)
    json_builder_add_value(b, strv_json((const char *const *)in->qemu_alt));
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "hugepages");
  json_builder_add_value(b, json_node_copy(json_object_get_member(r, "hugepages")));
  json_builder_set_member_name(b, "hugepages_why");
  json_builder_add_value(b, json_node_copy(json_object_get_member(r, "hugepages_why")));
  json_builder_set_member_name(b, "memlock_bytes");
  json_builder_add_value(b, json_node_copy(json_object_get_member(r, "memlock_bytes")));
  json_builder_set_member_name(b, "pinning");
  json_builder_add_value(b, json_node_copy(json_object_get_member(r, "pinning")));
  json_builder_set_member_name(b, "inputs");
  json_builder_add_value(b, json_node_copy(json_object_get_member(r, "inputs")));
  json_builder_set_member_name(b, "pending_inputs");
  json_builder_add_value(b, json_node_copy(json_object_get_member(r, "pending_inputs")));
  json_builder_set_member_name(b, "vfio_nodes");
  json_builder_add_value(b, json_node_copy(json_object_get_member(r, "vfio_nodes")));
  json_builder_set_member_name(b, "guest");
  json_builder_add_value(b, guest_json(in));
  json_builder_set_member_name(b, "audio");
  json_builder_add_value(b, audio_json(in));
  {
    g_autoptr(GPtrArray) monitors = vxm_vm_config_monitor_switches(in->config);
    JsonNode *node = json_node_new(JSON_NODE_ARRAY);

    json_node_take_array(node, vxm_supervisor_plan_monitors_to_json(monitors));
    json_builder_set_member_name(b, "monitors");
    json_builder_add_value(b, node);
  }
  json_builder_set_member_name(b, "inhibit");
  if (in->config->inhibit != NULL)
    json_builder_add_string_value(b, in->config->inhibit);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "usb_devices");
  json_builder_add_value(b, json_node_copy(json_object_get_member(r, "usb_devices")));
  json_builder_set_member_name(b, "extra_devices");
  json_builder_begin_array(b);
  for (guint i = 0; i < in->facts->extra_devices->len; i++) {
    const VxmHostGpuFunction *dev = g_ptr_array_index(in->facts->extra_devices, i);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "address");
    json_builder_add_string_value(b, dev->address);
    json_builder_set_member_name(b, "driver");
    if (dev->driver != NULL)
      json_builder_add_string_value(b, dev->driver);
    else
      json_builder_add_null_value(b);
    json_builder_set_member_name(b, "iommu_group");
    json_builder_add_int_value(b, dev->iommu_group);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "notes");
  json_builder_begin_array(b);
  for (guint i = 0; i < in->notes->len; i++)
    json_builder_add_string_value(b, g_ptr_array_index(in->notes, i));
  json_builder_end_array(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
