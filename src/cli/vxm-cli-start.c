/* vxm start: builds the VM's QEMU and swtpm command lines and host steps (shown by --dry-run,
 * which changes nothing but the QEMU capability cache), then becomes the VM's supervisor:
 * attached with --foreground, else in the background (a re-executed `vxm start --foreground
 * --progress-fd=3` in its own session, logging to vxm.log) while this process shows the
 * progress it reports through a pipe, until the guest runs or the start failed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>

#include "common/vxm-run-as.h"
#include "common/vxm-util.h"

#include "ops/vxm-host-ops-vxmd.h"
#include "supervisor/vxm-control-server.h"
#include "supervisor/vxm-supervisor.h"
#include "vm/vxm-vm-lock.h"
#include "vxm-cli-progress.h"

#include "common/vxm-run-as.h"
#include "common/vxm-util.h"
#include "cpu/vxm-cpu-pinning-plan.h"
#include "cpu/vxm-cpu-topology.h"
#include "display/vxm-display.h"
#include "input/vxm-input-object.h"
#include "memory/vxm-hugepage-pools.h"
#include "memory/vxm-hugepages.h"
#include "memory/vxm-memlock.h"
#include "pci/vxm-gpu.h"
#include "pci/vxm-pci-holders.h"
#include "plan/vxm-host-facts.h"
#include "plan/vxm-host-step.h"
#include "plan/vxm-qemu-argv.h"
#include "plan/vxm-swtpm-argv.h"
#include "vm/vxm-firmware.h"
#include "vm/vxm-pci-extra.h"
#include "vm/vxm-qemu-caps.h"
#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-cli.h"

/* The configured guest GPU, or the single candidate. */
static VxmGpu *
find_guest_gpu(VxmHostfs *hostfs, const VxmVmConfig *config, GError **error)
{
  g_autoptr(GPtrArray) gpus = NULL;
  g_autoptr(GPtrArray) candidates = g_ptr_array_new();
  g_autoptr(GPtrArray) reasons = NULL;
  g_autoptr(VxmGpu) found = NULL;
  VxmGpu *gpu = NULL;

  if (config->gpu != NULL) {
    /* only the GPUs' slots and groups are read, not every PCI device */
    gpu = found = vxm_gpu_find(hostfs, config->gpu, error);
    if (gpu == NULL) {
      g_prefix_error(error, "the guest GPU of VM %s ([gpu] address = %s): ", config->name,
                     config->gpu);
      return NULL;
    }
  } else {
    gpus = vxm_gpu_list_only(hostfs, error);
    if (gpus == NULL)
      return NULL;
    for (guint i = 0; i < gpus->len; i++)
      if (vxm_gpu_get_role(g_ptr_array_index(gpus, i)) == VXM_GPU_ROLE_CANDIDATE)
        g_ptr_array_add(candidates, g_ptr_array_index(gpus, i));
    if (candidates->len != 1) {
      g_autoptr(GString) list = g_string_new(NULL);

      for (guint i = 0; i < candidates->len; i++)
        g_string_append_printf(list, " %s", vxm_gpu_get_address(g_ptr_array_index(candidates, i)));
      g_set_error(error, VXM_ERROR, candidates->len == 0 ? VXM_ERROR_NOT_FOUND : VXM_ERROR_CONFIG,
                  candidates->len == 0
                      ? "no GPU can be given to the guest (see vxm list-gpus and vxm check)"
                      : "several GPUs could be the guest's (%s): choose one with vxm config %s "
                        "--set-gpu ADDRESS",
                  list->str, config->name);
      return NULL;
    }
    gpu = g_ptr_array_index(candidates, 0);
  }
  /* refused here, before the first host change, not after the lock, swtpm, the input devices
   * and the hugepages were taken */
  if (!vxm_gpu_check_passthrough_safe(gpu, &reasons)) {
    g_autoptr(GString) text = g_string_new(NULL);

    for (guint i = 0; reasons != NULL && i < reasons->len; i++)
      g_string_append_printf(text, "%s%s", i > 0 ? "; " : "",
                             (char *)g_ptr_array_index(reasons, i));
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "refusing to start VM %s: its guest GPU %s cannot be given to a guest: %s",
                config->name, vxm_gpu_get_address(gpu), text->str);
    return NULL;
  }
  return g_object_ref(gpu);
}

/* What vxm start would otherwise find out only after changing the host: processes holding
 * the card (its unbind would fail, or hang with NVIDIA), and installer or driver ISOs that are
 * not there. Processes of other users that cannot be looked at are left to the detach step. */
static gboolean
refuse_known(VxmHostfs *hostfs, const VxmVmConfig *config, VxmGpu *gpu, GError **error)
{
  const struct {
    const char *key;
    const char *path;
  } media[] = {{"media.installer_iso", config->installer_iso},
               {"media.virtio_iso", config->virtio_iso}};
  GPtrArray *functions = vxm_gpu_get_all_functions(gpu);

  for (gsize i = 0; i < G_N_ELEMENTS(media); i++) {
    if (media[i].path != NULL && !g_file_test(media[i].path, G_FILE_TEST_IS_REGULAR)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                  "refusing to start VM %s: %s = %s: no such file: put the ISO there, or "
                  "vxm config %s --unset %s",
                  config->name, media[i].key, media[i].path, config->name, media[i].key);
      return FALSE;
    }
  }
  for (guint i = 0; functions != NULL && i < functions->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(functions, i);
    g_autoptr(GPtrArray) holders = NULL;

    if (!vxm_pci_device_is_display(dev) ||
        g_strcmp0(vxm_pci_device_get_driver(dev), "vfio-pci") == 0)
      continue;
    holders = vxm_pci_holders_scan(hostfs, vxm_pci_device_get_address(dev), NULL, error);
    if (holders == NULL)
      return FALSE;
    if (holders->len > 0) {
      g_autofree char *who = vxm_pci_holders_describe(holders);
      g_autofree char *advice =
          vxm_pci_holders_advice(hostfs, vxm_pci_device_get_address(dev), holders);

      g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                  "refusing to start VM %s: %u process%s hold%s its guest GPU %s: %s; %s",
                  config->name, holders->len, holders->len == 1 ? "" : "es",
                  holders->len == 1 ? "s" : "", vxm_pci_device_get_address(dev), who, advice);
      return FALSE;
    }
  }
  return TRUE;
}

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

/* For reading only: one argument a line, quoted when the shell would need it. */
static void
print_argv(const char *title, GStrv argv)
{
  g_print("%s:\n", title);
  for (gsize i = 0; argv[i] != NULL; i++) {
    g_autofree char *quoted = g_shell_quote(argv[i]);
    gboolean plain = strpbrk(argv[i], " \t\n'\"\\$`*?[]{}()<>|&;#~") == NULL && argv[i][0] != '\0';
    gboolean option = argv[i][0] == '-' && argv[i + 1] != NULL && argv[i + 1][0] != '-';

    if (option) {
      g_autofree char *value = g_shell_quote(argv[i + 1]);
      gboolean value_plain = strpbrk(argv[i + 1], " \t\n'\"\\$`*?[]{}()<>|&;#~") == NULL;

      g_print("  %s %s%s\n", argv[i], value_plain ? argv[i + 1] : value,
              argv[i + 2] != NULL ? " \\" : "");
      i++;
      continue;
    }
    g_print("  %s%s\n", plain ? argv[i] : quoted, argv[i + 1] != NULL ? " \\" : "");
  }
}

/* Everything a start needs, built the same way for --dry-run and for the real start. */
typedef struct {
  VxmVmPaths *paths;
  VxmVmConfig *config;
  VxmGpu *gpu;
  VxmHostFacts *facts;
  VxmQemuCaps *caps;
  VxmFirmware *fw;
  GPtrArray *notes;
  GPtrArray *steps;
  GStrv qemu;
  GStrv qemu_fallback; /* without the hugepage backend: hugepages_fallback */
  GStrv swtpm;
  /* issue 5: what the start will reserve, pin and raise */
  guint64 hugepage_size; /* 0: normal memory */
  guint64 hugepage_count;
  gint hugepage_node;
  guint64 hugepage_alt_size; /* auto: the other size the start may get (qemu_alt), 0: none */
  gint hugepage_alt_node;
  char *hugepages_why; /* auto: why this size */
  GStrv qemu_alt;      /* the argv for hugepage_alt_size */
  guint64 memlock_bytes;
  VxmCpuPinningPlan *pinning; /* NULL: the topology could not be read (auto) */
  char *pinning_why;          /* why there is no plan */
  /* issue 7: the input nodes (host paths) and QEMU's objects for them */
  GStrv input_nodes;
  GStrv vfio_nodes;
  GPtrArray *input_objects;
  GPtrArray *input_pending; /* named in the config, not plugged in: added when they are */
} StartInputs;

static void
start_inputs_clear(StartInputs *in)
{
  g_clear_pointer(&in->paths, vxm_vm_paths_free);
  g_clear_pointer(&in->config, vxm_vm_config_free);
  g_clear_object(&in->gpu);
  g_clear_pointer(&in->facts, vxm_host_facts_free);
  g_clear_pointer(&in->caps, vxm_qemu_caps_free);
  g_clear_pointer(&in->fw, vxm_firmware_free);
  g_clear_pointer(&in->notes, g_ptr_array_unref);
  g_clear_pointer(&in->steps, g_ptr_array_unref);
  g_clear_pointer(&in->qemu, g_strfreev);
  g_clear_pointer(&in->qemu_fallback, g_strfreev);
  g_clear_pointer(&in->qemu_alt, g_strfreev);
  g_clear_pointer(&in->hugepages_why, g_free);
  g_clear_pointer(&in->swtpm, g_strfreev);
  g_clear_pointer(&in->pinning, vxm_cpu_pinning_plan_free);
  g_clear_pointer(&in->pinning_why, g_free);
  g_clear_pointer(&in->input_nodes, g_strfreev);
  g_clear_pointer(&in->vfio_nodes, g_strfreev);
  g_clear_pointer(&in->input_objects, g_ptr_array_unref);
  g_clear_pointer(&in->input_pending, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(StartInputs, start_inputs_clear)

static JsonNode *
resources_json(const StartInputs *in)
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
guest_json(const StartInputs *in)
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
audio_json(const StartInputs *in)
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

static void
print_json(const StartInputs *in)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autoptr(JsonNode) root = NULL;
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
    json_builder_add_value(b, vxm_host_step_to_json(g_ptr_array_index(in->steps, i)));
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
  root = json_builder_get_root(b);
  vxm_cli_print_json(root);
}

static void
print_resources(const StartInputs *in)
{
  g_autofree char *memlock = vxm_format_bytes(in->memlock_bytes);

  g_print("Hugepages:\n");
  if (in->hugepage_size == 0) {
    g_print("  none: normal memory\n");
  } else {
    g_autofree char *size = vxm_hugepage_size_to_string(in->hugepage_size);
    g_autofree char *pool = vxm_hugepage_pool_describe(in->hugepage_size, in->hugepage_node);

    g_print("  %" G_GUINT64_FORMAT " x %s pages from %s%s\n", in->hugepage_count, size, pool,
            in->config->hugepages_fallback ? " (normal memory if short: hugepages_fallback)" : "");
    if (in->hugepage_alt_size > 0) {
      g_autofree char *alt_size = vxm_hugepage_size_to_string(in->hugepage_alt_size);
      g_autofree char *alt_pool =
          vxm_hugepage_pool_describe(in->hugepage_alt_size, in->hugepage_alt_node);

      g_print("  or %" G_GUINT64_FORMAT " x %s pages from %s\n",
              in->facts->memory_bytes / in->hugepage_alt_size, alt_size, alt_pool);
    }
    if (!in->config->hugepages_compact)
      g_print("  caches are not dropped nor memory compacted first (hugepages_compact = false)\n");
  }
  if (in->hugepages_why != NULL) {
    const char *why = in->hugepages_why;

    if (g_str_has_prefix(why, "hugepages = auto: "))
      why += strlen("hugepages = auto: ");
    g_print("  why: %s\n", why);
  }
  g_print("  RLIMIT_MEMLOCK: %s (guest RAM + 1 GiB%s)\n\n", memlock,
          in->facts->looking_glass_path != NULL ? " + Looking Glass" : "");
  if (in->config->inhibit != NULL)
    g_print("Host sleep: blocked while the VM runs (logind inhibitor lock: %s)\n\n",
            in->config->inhibit);
  else
    g_print("Host sleep: not blocked (inhibit = none)\n\n");
  g_print("CPU pinning:\n");
  if (in->pinning == NULL) {
    g_print("  none: %s\n", in->pinning_why);
  } else {
    g_autofree char *text = vxm_cpu_pinning_plan_to_string(in->pinning);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (guint i = 0; lines[i] != NULL; i++)
      if (lines[i][0] != '\0')
        g_print("  %s\n", lines[i]);
  }
  g_print("\nInputs:\n");
  if (in->input_objects->len == 0 && in->input_pending->len == 0)
    g_print("  none\n");
  for (guint i = 0; i < in->input_objects->len; i++) {
    const VxmInputObject *o = g_ptr_array_index(in->input_objects, i);

    g_print("  %-7s %s%s\n", o->id, in->input_nodes[i], o->grab_all ? " (primary: grab_all)" : "");
  }
  for (guint i = 0; i < in->input_pending->len; i++) {
    const VxmInputObject *o = g_ptr_array_index(in->input_pending, i);

    g_print("  %-7s %s (not plugged in: added when it is)\n", o->id, o->evdev);
  }
  g_print("\nGuest:\n");
  g_print("  KVM signature: %s\n", in->config->hide_kvm ? "hidden (hide_kvm)" : "shown");
  g_print("  Hyper-V vendor id: %s\n",
          in->config->hv_vendor_id != NULL ? in->config->hv_vendor_id : "QEMU's");
  {
    guint64 mmio64 = vxm_qemu_argv_mmio64_mb(in->facts->gpu_bar64_bytes);
    g_autofree char *bars = vxm_format_bytes(in->facts->gpu_bar64_bytes);

    if (mmio64 > 0)
      g_print("  64-bit PCI window: %" G_GUINT64_FORMAT " MiB for the GPU's %s of 64-bit BARs "
              "(OVMF's default is %d MiB)\n",
              mmio64, bars, VXM_QEMU_OVMF_MMIO64_DEFAULT_MB);
    else
      g_print("  64-bit PCI window: the firmware's default (the GPU's 64-bit BARs: %s)\n", bars);
  }
  {
    const char *backend = vxm_qemu_argv_audio_backend(in->config, in->caps, NULL);
    guint latency = vxm_qemu_argv_audio_latency_us(in->config, backend);

    if (backend == NULL)
      g_print("  sound: none\n");
    else if (latency > 0)
      g_print("  sound: %s, latency %u ms\n", backend, latency / 1000);
    else
      g_print("  sound: %s, the backend's default latency\n", backend);
  }
  if (in->facts->usb_devices->len > 0) {
    g_print("\nUSB devices:\n");
    for (guint i = 0; i < in->facts->usb_devices->len; i++) {
      const VxmUsbPassthrough *d = g_ptr_array_index(in->facts->usb_devices, i);

      if (d->node != NULL)
        g_print("  %04x:%04x %s %s\n", d->vendor, d->product, d->node, d->description);
      else
        g_print("  %04x:%04x not plugged in: added when it is\n", d->vendor, d->product);
    }
  }
  g_print("\n");
}

static void
print_human(VxmCli *cli, const StartInputs *in)
{
  g_autofree char *title = vxm_cli_colored(cli, "1", "vxm start --dry-run");
  const VxmFirmware *fw = in->fw;

  g_print("%s: VM %s, QEMU %s, firmware %s%s\n\n", title, in->config->name, in->caps->version,
          fw->descriptor_name != NULL ? fw->descriptor_name : fw->description,
          fw->fallback ? " (fallback)" : "");
  g_print("Host steps:\n");
  for (guint i = 0; i < in->steps->len; i++) {
    VxmHostStep *step = g_ptr_array_index(in->steps, i);
    g_print("  %2u. %-22s %s\n", i + 1, vxm_host_step_kind_to_string(step->kind),
            step->description);
  }
  g_print("\n");
  print_resources(in);
  if (in->notes->len > 0) {
    g_print("Notes:\n");
    for (guint i = 0; i < in->notes->len; i++)
      g_print("  %s\n", (char *)g_ptr_array_index(in->notes, i));
    g_print("\n");
  }
  if (in->swtpm != NULL) {
    print_argv("swtpm", in->swtpm);
    g_print("\n");
  }
  print_argv("QEMU", in->qemu);
}

/* "node 1's 1 GiB pool" or "the 1 GiB pool" */
static char *
pool_name(guint64 page_size, gint node)
{
  g_autofree char *size = vxm_hugepage_size_to_string(page_size);

  if (node >= 0)
    return g_strdup_printf("node %d's %s pool", node, size);
  return g_strdup_printf("the %s pool", size);
}

/* Other nodes whose pool of @c's size has enough free: ", node 0 has 8 free but the GPU is on
 * node 1", or "". */
static char *
elsewhere(VxmHugepagePools *pools, const VxmHugepagesCandidate *c, gint gpu_node)
{
  const GArray *nodes = vxm_hugepage_pools_get_nodes(pools);

  for (guint i = 0; c->node >= 0 && i < nodes->len; i++) {
    gint node = g_array_index(nodes, gint, i);
    const VxmHugepagePool *pool = vxm_hugepage_pools_get(pools, c->page_size, node);

    if (node != gpu_node && pool != NULL && pool->free >= c->pages + pool->resv)
      return g_strdup_printf(", node %d has %" G_GUINT64_FORMAT
                             " free but the guest GPU is on node %d",
                             node, pool->free - pool->resv, gpu_node);
  }
  return g_strdup("");
}

/* Hugepages from vxm_hugepages_candidates(), the answer the reservation itself follows. An
 * explicit size is planned as configured. auto plans 1 GiB pages when the pool they come from
 * already has enough free, else 2 MiB pages; the start still tries 1 GiB pages first (the
 * kernel may be able to make them then), so the other size's argv is planned too. */
static gboolean
decide_hugepages(VxmHostfs *hostfs, const VxmVmConfig *config, StartInputs *in, GError **error)
{
  VxmHostFacts *facts = in->facts;
  g_autoptr(VxmHugepagePools) pools = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *note = NULL;
  VxmHugepagesRequest req;
  VxmHugepagesCandidate c[2];
  const VxmHugepagesCandidate *plan, *alt = NULL;
  gint n;

  in->hugepage_node = in->hugepage_alt_node = -1;
  facts->hugepage_bytes = 0;
  facts->hugepage_node = -1;
  vxm_hugepages_request_from_config(&req, config, facts->gpu_numa_node);
  if (config->hugepages == VXM_VM_HUGEPAGES_OFF)
    return TRUE;
  pools = vxm_hugepage_pools_read(hostfs, &local_error);
  if (pools == NULL) {
    if (config->hugepages == VXM_VM_HUGEPAGES_AUTO) {
      in->hugepages_why = g_strdup_printf("hugepages = auto: the host's hugepage pools cannot be "
                                          "read (%s): the guest gets normal memory",
                                          local_error->message);
      g_ptr_array_add(in->notes, g_strdup(in->hugepages_why));
      return TRUE;
    }
    /* an explicit size is planned as configured; the reservation says what is wrong */
    in->hugepage_size =
        config->hugepages == VXM_VM_HUGEPAGES_1G ? VXM_HUGEPAGE_SIZE_1G : VXM_HUGEPAGE_SIZE_2M;
    if (!vxm_hugepages_check_divides(facts->memory_bytes, in->hugepage_size, error))
      return FALSE;
    in->hugepage_count = facts->memory_bytes / in->hugepage_size;
    facts->hugepage_bytes = in->hugepage_size;
    return TRUE;
  }
  n = vxm_hugepages_candidates(pools, facts->memory_bytes, &req, c, &note, error);
  if (n < 0)
    return FALSE;
  if (n == 0) {
    in->hugepages_why = g_strdup_printf("hugepages = auto: %s", note);
    g_ptr_array_add(in->notes, g_strdup(in->hugepages_why));
    return TRUE;
  }
  plan = &c[0];
  if (n == 2) {
    g_autofree char *first = pool_name(c[0].page_size, c[0].node);
    g_autofree char *other = elsewhere(pools, &c[0], facts->gpu_numa_node);
    g_autofree char *size = vxm_hugepage_size_to_string(c[0].page_size);

    if (vxm_hugepages_planned(c, n) == 0) {
      alt = &c[1];
      in->hugepages_why = g_strdup_printf("hugepages = auto: %s pages, %s has %" G_GUINT64_FORMAT
                                          " free (the guest needs %" G_GUINT64_FORMAT ")",
                                          size, first, c[0].available, c[0].pages);
    } else {
      g_autofree char *second = vxm_hugepage_size_to_string(c[1].page_size);
      /* the kernel's per-node form: hugepages=NODE:COUNT */
      g_autofree char *boot_node =
          c[0].node >= 0 ? g_strdup_printf("%d:", c[0].node) : g_strdup("");

      plan = &c[1];
      alt = &c[0];
      in->hugepages_why = g_strdup_printf(
          "hugepages = auto: %s pages, %s has %" G_GUINT64_FORMAT " of the %" G_GUINT64_FORMAT
          " free the guest needs%s; the start tries to reserve the rest of the %s pages "
          "first and takes them if the kernel can make them then (reserving them at boot "
          "makes sure: hugepagesz=%s hugepages=%s%" G_GUINT64_FORMAT ")",
          second, first, c[0].available, c[0].pages, other, size,
          c[0].page_size == VXM_HUGEPAGE_SIZE_1G ? "1G" : "2M", boot_node, c[0].pages);
    }
  }
  in->hugepage_size = plan->page_size;
  in->hugepage_count = plan->pages;
  in->hugepage_node = plan->node;
  if (alt != NULL) {
    in->hugepage_alt_size = alt->page_size;
    in->hugepage_alt_node = alt->node;
  }
  facts->hugepage_bytes = in->hugepage_size;
  facts->hugepage_node = in->hugepage_node;
  return TRUE;
}

/* The pinning plan from the host topology; -smp follows it (with vcpus = auto the plan
 * chooses the count). auto on a host whose topology cannot be read runs unpinned with a
 * note; an explicit list there is an error. */
static gboolean
decide_pinning(VxmHostfs *hostfs, const VxmVmConfig *config, StartInputs *in, GError **error)
{
  g_autoptr(VxmCpuTopology) topology = NULL;
  g_autoptr(GError) local_error = NULL;
  VxmCpuPinningRequest req;

  topology = vxm_cpu_topology_read(hostfs, &local_error);
  if (topology == NULL) {
    if (config->cpu_pinning == VXM_VM_CPU_PINNING_LIST) {
      g_propagate_prefixed_error(error, g_steal_pointer(&local_error),
                                 "cpu_pinning lists CPUs, but the host's topology is unknown: ");
      return FALSE;
    }
    in->pinning_why = g_strdup_printf(
        "cpu_pinning = %s: the vCPUs are not pinned (%s)",
        config->cpu_pinning == VXM_VM_CPU_PINNING_AUTO ? "auto" : "off", local_error->message);
    g_ptr_array_add(in->notes, g_strdup(in->pinning_why));
    return TRUE;
  }
  vxm_cpu_pinning_request_from_config(&req, config, in->facts->gpu_numa_node);
  in->pinning = vxm_cpu_pinning_plan_new(topology, &req, error);
  if (in->pinning == NULL)
    return FALSE;
  in->facts->sockets = in->pinning->sockets;
  in->facts->cores = in->pinning->cores;
  in->facts->threads = in->pinning->threads;
  return TRUE;
}

/* A listed device that is absent at start (the facts' inputs_missing): the watcher adds it
 * when its link appears (by-id or by-path). Its kind comes from udev's suffix, the only thing
 * known of it now; a name without one, or an eventN, is left out (the facts' note says why). */
static void
add_pending_inputs(VxmHostfs *hostfs, const VxmVmConfig *config, StartInputs *in)
{
  GPtrArray *missing = in->facts->inputs_missing;
  guint kbd = 0, mouse = 0;

  for (guint i = 0; i < in->input_objects->len; i++) {
    const VxmInputObject *o = g_ptr_array_index(in->input_objects, i);

    if (o->kind == VXM_HOST_INPUT_KEYBOARD)
      kbd++;
    else
      mouse++;
  }
  for (guint i = 0; i < missing->len; i++) {
    const char *name = g_ptr_array_index(missing, i);
    g_autofree char *host_path = NULL;
    g_autofree char *why = NULL;
    VxmHostInputKind kind;
    VxmInputObject *o;

    if (strchr(name, '/') != NULL || !vxm_input_pending_kind(name, &kind, &why))
      continue;
    host_path = g_strdup_printf(VXM_HOST_DEV_INPUT "/%s/%s", vxm_input_link_folder(name), name);
    o = g_new0(VxmInputObject, 1);
    o->evdev = vxm_hostfs_path(hostfs, host_path);
    o->kind = kind;
    if (config->grab_toggle != NULL && *config->grab_toggle != '\0')
      o->grab_toggle = g_strdup(config->grab_toggle);
    if (kind == VXM_HOST_INPUT_KEYBOARD) {
      /* primary only when no keyboard is there at start */
      o->grab_all = kbd == 0;
      o->id = g_strdup_printf("kbd%u", kbd++);
      o->repeat = TRUE;
    } else {
      o->id = g_strdup_printf("mouse%u", mouse++);
    }
    g_ptr_array_add(in->input_pending, o);
  }
}

/* The nodes QEMU's user is given: the input devices QEMU opens (host paths), and the GPU's
 * /dev/vfio/N, once the group is on vfio-pci. */
static void
decide_nodes(VxmHostfs *hostfs, const VxmVmConfig *config, StartInputs *in)
{
  g_autoptr(GStrvBuilder) inputs = g_strv_builder_new();
  g_autoptr(GStrvBuilder) vfio = g_strv_builder_new();
  g_autoptr(GArray) groups = vxm_host_facts_gpu_iommu_groups(in->facts);

  for (guint i = 0; i < in->facts->inputs->len; i++) {
    const VxmHostInput *input = g_ptr_array_index(in->facts->inputs, i);
    g_autofree char *host_path = vxm_hostfs_host_path(hostfs, input->path);

    g_strv_builder_add(inputs, host_path != NULL ? host_path : input->path);
  }
  for (guint i = 0; i < groups->len; i++) {
    g_autofree char *node =
        g_strdup_printf(VXM_HOST_DEV_VFIO "/%d", g_array_index(groups, gint, i));

    g_strv_builder_add(vfio, node);
  }
  in->input_nodes = g_strv_builder_end(inputs);
  in->vfio_nodes = g_strv_builder_end(vfio);
  in->input_objects = vxm_input_objects_new(in->facts->inputs, config->grab_toggle);
  in->input_pending = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_input_object_free);
  if (config->inputs != NULL)
    add_pending_inputs(hostfs, config, in);
}

/* [pci] extra: every device checked (vxm-pci-extra: absent, the host's disk or only keyboard,
 * a GPU, the GPU's group, a shared group) before anything changes. */
static gboolean
add_extra_devices(VxmHostfs *hostfs, StartInputs *in, GError **error)
{
  g_autoptr(GPtrArray) extra = NULL;

  if (in->config->pci_extra == NULL)
    return TRUE;
  extra = vxm_pci_extra_resolve(hostfs, in->gpu, (const char *const *)in->config->pci_extra, error);
  if (extra == NULL) {
    g_prefix_error(error, "VM %s: ", in->config->name);
    return FALSE;
  }
  for (guint i = 0; i < extra->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(extra, i);

    vxm_host_facts_add_extra_device(
        in->facts, vxm_pci_device_get_address(dev), vxm_pci_device_get_class_code(dev),
        vxm_pci_device_get_driver(dev), vxm_pci_device_get_iommu_group(dev));
  }
  return TRUE;
}

/* smbios = host as a user: the serials and the UUID are root's, vxmd reads them. NULL (with a
 * note) when vxmd cannot: the facts then read what this user may (and say what is missing);
 * a real start is refused anyway when vxmd cannot serve it. */
static VxmHostSmbios *
smbios_from_vxmd(VxmHostfs *hostfs, GPtrArray *notes)
{
  g_autoptr(VxmHostOps) ops = vxm_host_ops_vxmd_new(hostfs);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) identity = vxm_host_ops_dmi_identity(ops, &error);

  if (identity == NULL) {
    g_ptr_array_add(notes, g_strdup_printf("smbios = host: %s", error->message));
    return NULL;
  }
  return vxm_host_smbios_new_from_identity(json_node_get_object(identity));
}

static gboolean
build_inputs(VxmCli *cli, VxmHostfs *hostfs, const char *name, StartInputs *in, GError **error)
{
  VxmFirmwareRequest req = {0};
  VxmQemuArgvInput argv_in = {0};

  in->notes = g_ptr_array_new_with_free_func(g_free);
  in->facts = vxm_host_facts_new();
  in->paths = vxm_cli_vm_paths(cli, name, error);
  if (in->paths == NULL)
    return FALSE;
  in->config = vxm_vm_config_load(in->paths, error);
  if (in->config == NULL || !vxm_vm_config_resolve(in->config, hostfs, in->paths, error))
    return FALSE;
  vxm_debug_timing("start: config loaded");
  in->gpu = find_guest_gpu(hostfs, in->config, error);
  vxm_debug_timing("start: guest GPU found");
  if (in->gpu == NULL || !refuse_known(hostfs, in->config, in->gpu, error))
    return FALSE;
  if (in->config->smbios == VXM_VM_SMBIOS_HOST && geteuid() != 0)
    in->facts->smbios = smbios_from_vxmd(hostfs, in->notes);
  if (!vxm_host_facts_collect(in->facts, hostfs, in->config, in->gpu, in->notes, error))
    return FALSE;
  if (!add_extra_devices(hostfs, in, error))
    return FALSE;
  if (!decide_hugepages(hostfs, in->config, in, error))
    return FALSE;
  if (!decide_pinning(hostfs, in->config, in, error))
    return FALSE;
  decide_nodes(hostfs, in->config, in);
  /* VFIO pins all guest RAM and the Looking Glass buffer */
  in->memlock_bytes = vxm_memlock_required(
      in->facts->memory_bytes,
      in->facts->looking_glass_path != NULL ? in->facts->looking_glass_bytes : 0);
  vxm_debug_timing("start: host facts");
  in->caps =
      vxm_qemu_caps_get(in->config->resolved.qemu_binary != NULL ? in->config->resolved.qemu_binary
                                                                 : in->config->qemu_binary,
                        NULL, error);
  if (in->caps == NULL)
    return FALSE;
  vxm_debug_timing("start: host facts and QEMU capabilities");
  req.secure_boot = in->config->secure_boot;
  req.machine = vxm_qemu_caps_resolve_machine(in->caps, "q35");
  req.code = in->config->firmware_code;
  req.vars_template = in->config->firmware_vars_template;
  in->fw = vxm_firmware_select_full(hostfs, &req, error);
  if (in->fw == NULL)
    return FALSE;
  for (guint i = 0; i < in->fw->warnings->len; i++)
    if (!cli->quiet)
      g_printerr("vxm start: warning: %s\n", (char *)g_ptr_array_index(in->fw->warnings, i));
  if (in->fw->message != NULL)
    g_ptr_array_add(in->notes, g_strdup(in->fw->message));
  argv_in.config = in->config;
  argv_in.paths = in->paths;
  argv_in.facts = in->facts;
  argv_in.caps = in->caps;
  argv_in.firmware = in->fw;
  argv_in.notes = in->notes;
  in->qemu = vxm_qemu_argv_build(&argv_in, error);
  if (in->qemu == NULL)
    return FALSE;
  if (in->hugepage_size > 0 && in->config->hugepages_fallback) {
    /* the same pure builder without the hugepage backend: the supervisor picks */
    guint64 page = in->facts->hugepage_bytes;
    gint node = in->facts->hugepage_node;

    in->facts->hugepage_bytes = 0;
    in->facts->hugepage_node = -1;
    argv_in.notes = NULL;
    in->qemu_fallback = vxm_qemu_argv_build(&argv_in, error);
    in->facts->hugepage_bytes = page;
    in->facts->hugepage_node = node;
    if (in->qemu_fallback == NULL)
      return FALSE;
  }
  if (in->hugepage_alt_size > 0) {
    /* the same pure builder with the other page size, for what auto may get at start */
    in->facts->hugepage_bytes = in->hugepage_alt_size;
    in->facts->hugepage_node = in->hugepage_alt_node;
    argv_in.notes = NULL;
    in->qemu_alt = vxm_qemu_argv_build(&argv_in, error);
    in->facts->hugepage_bytes = in->hugepage_size;
    in->facts->hugepage_node = in->hugepage_node;
    if (in->qemu_alt == NULL)
      return FALSE;
  }
  if (in->config->tpm) {
    in->swtpm = vxm_swtpm_argv_build(in->paths, NULL, error);
    if (in->swtpm == NULL)
      return FALSE;
  }
  in->steps = vxm_host_step_plan(in->config, in->facts, in->paths, in->notes);
  vxm_debug_timing("start: argv and plan built");
  return TRUE;
}

static VxmSupervisorPlan *
make_plan(VxmHostfs *hostfs, StartInputs *in, GError **error)
{
  g_autoptr(VxmSupervisorPlan) plan = vxm_supervisor_plan_new(in->config->name, error);

  if (plan == NULL)
    return NULL;
  plan->gpu_address = g_strdup(vxm_gpu_get_address(in->gpu));
  plan->unbind_timeout_ms = in->config->unbind_timeout * 1000;
  plan->keep_bound = in->config->keep_bound;
  plan->extra_devices = g_strdupv(in->config->pci_extra);
  plan->qemu_argv = g_strdupv(in->qemu);
  plan->qemu_envp = vxm_supervisor_plan_child_environ();
  if (in->swtpm != NULL) {
    plan->swtpm_argv = g_strdupv(in->swtpm);
    plan->swtpm_envp = vxm_supervisor_plan_child_environ();
  }
  plan->shutdown_timeout_s = in->config->shutdown_timeout;
  plan->qmp_timeout_ms = in->config->start_timeout * 1000;
  g_ptr_array_unref(plan->monitors);
  plan->monitors = vxm_vm_config_monitor_switches(in->config);
  plan->inhibit = g_strdup(in->config->inhibit);
  plan->host_root = vxm_hostfs_is_real(hostfs) ? NULL : g_strdup(vxm_hostfs_get_root(hostfs));
  plan->hugepage_size = in->hugepage_size;
  plan->hugepage_count = in->hugepage_count;
  plan->hugepage_node = in->hugepage_node;
  plan->hugepages_fallback = in->config->hugepages_fallback;
  plan->hugepages_drop_caches = in->config->hugepages_compact;
  plan->hugepages_compact = in->config->hugepages_compact;
  plan->qemu_argv_fallback = g_strdupv(in->qemu_fallback);
  plan->hugepages_auto = in->config->hugepages == VXM_VM_HUGEPAGES_AUTO;
  plan->hugepage_alt_size = in->hugepage_alt_size;
  plan->hugepage_alt_node = in->hugepage_alt_node;
  plan->qemu_argv_alt = g_strdupv(in->qemu_alt);
  plan->memlock_bytes = in->memlock_bytes;
  if (in->pinning != NULL) {
    g_autoptr(JsonNode) node = vxm_cpu_pinning_plan_to_json(in->pinning);

    plan->pinning = vxm_cpu_pinning_plan_from_json(node, error);
    if (plan->pinning == NULL)
      return NULL;
  }
  plan->vfio_nodes = g_strdupv(in->vfio_nodes);
  plan->input_nodes = g_strdupv(in->input_nodes);
  for (guint i = 0; i < in->input_objects->len; i++)
    g_ptr_array_add(plan->input_objects,
                    vxm_input_object_copy(g_ptr_array_index(in->input_objects, i)));
  for (guint i = 0; i < in->input_pending->len; i++)
    g_ptr_array_add(plan->input_pending,
                    vxm_input_object_copy(g_ptr_array_index(in->input_pending, i)));
  for (guint i = 0; i < in->facts->usb_devices->len; i++)
    g_ptr_array_add(plan->usb_devices,
                    vxm_usb_passthrough_copy(g_ptr_array_index(in->facts->usb_devices, i)));
  plan->looking_glass_bytes =
      in->facts->looking_glass_path != NULL ? in->facts->looking_glass_bytes : 0;
  return g_steal_pointer(&plan);
}

/* How to get the keyboard and mouse back, for a start that hands them to the guest: printed
 * before anything the user would have to type while the guest holds the keyboard. NULL when
 * the guest takes no input device. */
static char *
input_toggle_line(GPtrArray *objects, GPtrArray *pending)
{
  static const struct {
    const char *value, *keys;
  } toggles[] = {
      {"ctrl-ctrl", "both Ctrl keys"},    {"alt-alt", "both Alt keys"},
      {"shift-shift", "both Shift keys"}, {"meta-meta", "both Super (Windows) keys"},
      {"scrolllock", "Scroll Lock"},      {"ctrl-scrolllock", "Ctrl and Scroll Lock"},
  };
  const VxmInputObject *first = NULL;
  const char *toggle;

  if (objects != NULL && objects->len > 0)
    first = g_ptr_array_index(objects, 0);
  else if (pending != NULL && pending->len > 0)
    first = g_ptr_array_index(pending, 0);
  if (first == NULL)
    return NULL;
  toggle = first->grab_toggle != NULL ? first->grab_toggle : "ctrl-ctrl"; /* QEMU's default */
  for (gsize i = 0; i < G_N_ELEMENTS(toggles); i++)
    if (g_str_equal(toggles[i].value, toggle))
      return g_strdup_printf("The guest has the keyboard and mouse: press %s together to take "
                             "them back (and again to give them to the guest; grab_toggle = %s)",
                             toggles[i].keys, toggle);
  return g_strdup_printf("The guest has the keyboard and mouse: grab_toggle = %s switches them "
                         "between host and guest",
                         toggle);
}

/* ---- the supervisor process (--foreground, or the background child) ---- */

typedef struct {
  VxmCliProgress *printer; /* --foreground: the terminal */
  int progress_fd;         /* background: the pipe to the waiting `vxm start`, -1 when closed */
  GMainLoop *loop;
  gboolean ran;      /* the guest reached running */
  char *toggle_line; /* --foreground: how to get the input back, printed once it runs */
  gboolean quiet;
} SuperviseContext;

static void
on_progress(VxmSupervisor *sv, JsonObject *event, gpointer user_data)
{
  SuperviseContext *ctx = user_data;

  if (ctx->printer != NULL)
    vxm_cli_progress_event(ctx->printer, event);
  if (!ctx->ran && vxm_supervisor_get_state(sv) == VXM_VM_STATE_RUNNING) {
    ctx->ran = TRUE;
    if (ctx->printer != NULL && ctx->toggle_line != NULL && !ctx->quiet) {
      vxm_cli_progress_clear(ctx->printer);
      g_print("%s\n", ctx->toggle_line);
    }
  }
  if (ctx->progress_fd >= 0) {
    g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), event);
    g_autofree char *text = json_to_string(node, FALSE);
    g_autofree char *line = g_strconcat(text, "\n", NULL);
    VxmVmState state = vxm_supervisor_get_state(sv);

    if (write(ctx->progress_fd, line, strlen(line)) < 0) {
      close(ctx->progress_fd); /* the waiting vxm start went away: go on alone */
      ctx->progress_fd = -1;
      return;
    }
    /* the waiting `vxm start` is done once the guest runs or the start has ended */
    if (g_strcmp0(json_object_get_string_member_with_default(event, "event", ""), "state") == 0 &&
        (state == VXM_VM_STATE_RUNNING || vxm_vm_state_is_final(state))) {
      close(ctx->progress_fd);
      ctx->progress_fd = -1;
    }
  }
}

static void
on_finished(VxmSupervisor *sv, gpointer user_data)
{
  SuperviseContext *ctx = user_data;

  (void)sv;
  g_main_loop_quit(ctx->loop);
}

static int
supervise(VxmCli *cli, VxmHostfs *hostfs, VxmSupervisorPlan *plan_in, int progress_fd)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmSupervisorPlan) plan = plan_in;
  g_autoptr(VxmHostOps) ops = vxm_cli_get_host_ops(cli, hostfs, &error);
  g_autoptr(VxmSupervisor) sv = NULL;
  g_autoptr(VxmControlServer) server = NULL;
  g_autoptr(VxmCliProgress) printer = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  SuperviseContext ctx = {.progress_fd = progress_fd, .loop = loop, .quiet = cli->quiet};
  g_autofree char *toggle_line = input_toggle_line(plan->input_objects, plan->input_pending);
  g_autofree char *name = g_strdup(plan->paths->name);
  g_autofree char *vxm_log = vxm_vm_paths_display(plan->paths->vxm_log);
  guint shutdown_timeout = plan->shutdown_timeout_s;
  VxmVmState state;

  if (ops == NULL)
    return vxm_cli_fail(cli, error);
  /* a closed progress pipe must not kill the supervisor */
  signal(SIGPIPE, SIG_IGN);
  if (progress_fd < 0) {
    printer = vxm_cli_progress_new(cli);
    ctx.printer = printer;
    if (!cli->quiet)
      g_print("Starting VM %s (%s)\n", name, vxm_host_ops_describe(ops));
  }
  ctx.toggle_line = toggle_line;
  sv = vxm_supervisor_new(ops, g_steal_pointer(&plan));
  g_signal_connect(sv, "progress", G_CALLBACK(on_progress), &ctx);
  g_signal_connect(sv, "finished", G_CALLBACK(on_finished), &ctx);
  vxm_supervisor_handle_signals(sv);
  vxm_supervisor_start(sv);
  /* the control socket exists once the lock is ours (a refused start must not replace the
   * running supervisor's socket) */
  if (!vxm_vm_state_is_final(vxm_supervisor_get_state(sv))) {
    server = vxm_control_server_new(sv, &error);
    if (server == NULL) {
      g_printerr("vxm start: %s: `vxm stop` and `vxm status` cannot reach this VM\n",
                 error->message);
      g_clear_error(&error);
    }
    if (printer != NULL && !cli->quiet)
      g_print("  (Ctrl+C stops the guest: ACPI power-down, then quit after %u s)\n",
              shutdown_timeout);
    g_main_loop_run(loop);
  }
  state = vxm_supervisor_get_state(sv);
  if (printer != NULL) {
    GPtrArray *restored = vxm_supervisor_get_restored(sv);

    vxm_cli_progress_clear(printer);
    /* what a step's line already said is not said again */
    for (guint i = 0; i < restored->len && !cli->quiet; i++) {
      const char *line = g_ptr_array_index(restored, i);

      if (!vxm_cli_progress_was_shown(printer, line))
        g_print("  restored: %s\n", line);
    }
  }
  if (state == VXM_VM_STATE_FAILED) {
    g_printerr("vxm start: VM %s failed: %s\n  (supervisor log: %s)\n", name,
               vxm_supervisor_get_failure(sv), vxm_log);
    return VXM_EXIT_FAILURE;
  }
  if (printer != NULL && !cli->quiet && ctx.ran)
    g_print("VM %s stopped; the host is restored\n", name);
  else if (printer != NULL && !cli->quiet)
    g_print("The start of VM %s was cancelled before the guest ran; the host is restored\n", name);
  return VXM_EXIT_OK;
}

/* ---- the waiting side of a background start ---- */

static void
child_setup_session(gpointer data)
{
  (void)data;
  setsid(); /* no terminal: Ctrl+C in this shell does not reach the supervisor */
}

/* The plan in a sealed-off memory file the child reads as fd 4. */
static int
plan_memfd(const VxmSupervisorPlan *plan, GError **error)
{
  g_autoptr(JsonNode) node = vxm_supervisor_plan_to_json(plan);
  g_autofree char *text = json_to_string(node, FALSE);
  gsize length = strlen(text);
  int fd = memfd_create("vxm-plan", MFD_CLOEXEC);

  if (fd < 0) {
    vxm_error_set_from_errno(error, errno, "cannot hand the plan to the supervisor (memfd)");
    return -1;
  }
  if (write(fd, text, length) != (gssize)length || lseek(fd, 0, SEEK_SET) != 0) {
    vxm_error_set_from_errno(error, errno, "cannot hand the plan to the supervisor");
    close(fd);
    return -1;
  }
  return fd;
}

static VxmSupervisorPlan *
read_plan(int fd, GError **error)
{
  g_autoptr(GInputStream) in = g_unix_input_stream_new(fd, TRUE);
  g_autoptr(JsonParser) parser = json_parser_new();

  if (!json_parser_load_from_stream(parser, in, NULL, error)) {
    g_prefix_error(error, "cannot read the plan from vxm start: ");
    return NULL;
  }
  return vxm_supervisor_plan_from_json(json_parser_get_root(parser), error);
}

/* Ctrl+C while `vxm start` waits for a background start: the start is cancelled as with
 * --foreground (the supervisor stops what it began and restores the host), not left running
 * unseen. */
static volatile sig_atomic_t waiting_for_pid;
static volatile sig_atomic_t start_cancelled;

static void
on_wait_signal(int signum)
{
  static const char msg[] = "\nvxm start: cancelling: the supervisor undoes what it began and "
                            "restores the host\n";

  (void)signum;
  if (waiting_for_pid > 0 && !start_cancelled) {
    start_cancelled = 1;
    kill((pid_t)waiting_for_pid, SIGINT);
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
      /* nothing to do about it in a signal handler */
    }
  }
}

/* The supervisor reports "failed" after its teardown but before it releases the VM's lock and
 * exits: wait for that (GSubprocess reaps it on GLib's worker thread), so that after a failed
 * `vxm start` the VM is not still "running". Bounded: a supervisor that hangs there is left
 * to `vxm status`. */
static void
wait_supervisor_gone(GSubprocess *child)
{
  gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

  while (g_subprocess_get_identifier(child) != NULL && g_get_monotonic_time() < deadline)
    g_usleep(2000);
}

static int
start_background(VxmCli *cli, VxmHostfs *hostfs, StartInputs *in)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GStrvBuilder) args = g_strv_builder_new();
  g_auto(GStrv) argv = NULL;
  g_autofree char *self_exe = g_file_read_link("/proc/self/exe", &error);
  g_autoptr(VxmCliProgress) printer = vxm_cli_progress_new(cli);
  g_autoptr(GInputStream) pipe_in = NULL;
  g_autoptr(GDataInputStream) lines = NULL;
  g_autofree char *vxm_log = vxm_vm_paths_display(in->paths->vxm_log);
  const char *name = in->config->name;
  const char *state;
  g_autoptr(VxmSupervisorPlan) plan = make_plan(hostfs, in, &error);
  int fds[2];
  int log_fd;
  int plan_fd;

  if (self_exe == NULL || plan == NULL)
    return vxm_cli_fail(cli, error);
  plan_fd = plan_memfd(plan, &error);
  if (plan_fd < 0)
    return vxm_cli_fail(cli, error);
  if (g_mkdir_with_parents(in->paths->state_dir, 0700) < 0) {
    vxm_error_set_from_errno(&error, errno, "cannot create the log folder %s",
                             in->paths->state_dir);
    return vxm_cli_fail(cli, error);
  }
  log_fd = open(in->paths->vxm_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    close(plan_fd);
    vxm_error_set_from_errno(&error, errno, "cannot open %s", in->paths->vxm_log);
    return vxm_cli_fail(cli, error);
  }
  if (pipe2(fds, O_CLOEXEC) < 0) {
    close(log_fd);
    close(plan_fd);
    vxm_error_set_from_errno(&error, errno, "cannot make a pipe");
    return vxm_cli_fail(cli, error);
  }
  g_strv_builder_add_many(args, self_exe, "start", name, "--foreground", "--progress-fd=3",
                          "--plan-fd=4", NULL);
  if (cli->root_option != NULL)
    g_strv_builder_add_many(args, "--root", cli->root_option, NULL);
  argv = g_strv_builder_end(args);
  launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_take_stdout_fd(launcher, log_fd);
  g_subprocess_launcher_take_stderr_fd(launcher, dup(log_fd));
  g_subprocess_launcher_take_fd(launcher, fds[1], 3);
  g_subprocess_launcher_take_fd(launcher, plan_fd, 4);
  g_subprocess_launcher_set_child_setup(launcher, child_setup_session, NULL, NULL);
  vxm_debug_timing("start: spawning the supervisor");
  child = g_subprocess_launcher_spawnv(launcher, (const char *const *)argv, &error);
  g_clear_object(&launcher); /* closes our copy of the pipe's write end */
  if (child == NULL) {
    close(fds[0]);
    g_prefix_error(&error, "cannot start the supervisor: ");
    return vxm_cli_fail(cli, error);
  }
  if (!cli->quiet)
    g_print("Starting VM %s in the background (supervisor pid %s)\n", name,
            g_subprocess_get_identifier(child));
  {
    struct sigaction sa = {.sa_handler = on_wait_signal, .sa_flags = SA_RESTART};

    sigemptyset(&sa.sa_mask);
    waiting_for_pid = (sig_atomic_t)atoi(g_subprocess_get_identifier(child));
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
  }
  pipe_in = g_unix_input_stream_new(fds[0], TRUE);
  lines = g_data_input_stream_new(pipe_in);
  for (;;) {
    g_autofree char *line = g_data_input_stream_read_line_utf8(lines, NULL, NULL, NULL);
    g_autoptr(JsonParser) parser = json_parser_new();

    if (line == NULL)
      break;
    if (json_parser_load_from_data(parser, line, -1, NULL) &&
        JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
      vxm_cli_progress_event(printer, json_node_get_object(json_parser_get_root(parser)));
  }
  vxm_cli_progress_clear(printer);
  state = vxm_cli_progress_get_state(printer);
  if (start_cancelled && (state == NULL || g_strcmp0(state, "stopped") == 0)) {
    /* no state at all: the supervisor ended before it changed anything */
    g_printerr("vxm start: the start of VM %s was cancelled; the host is restored\n", name);
    return VXM_EXIT_FAILURE;
  }
  if (g_strcmp0(state, "running") == 0) {
    g_autofree char *toggle = input_toggle_line(in->input_objects, in->input_pending);

    if (toggle != NULL && !cli->quiet)
      g_print("%s\n", toggle);
    if (!cli->quiet)
      g_print("VM %s is running. `vxm status %s` shows it, `vxm stop %s` stops it "
              "(log: %s)\n",
              name, name, name, vxm_log);
    return VXM_EXIT_OK;
  }
  wait_supervisor_gone(child);
  if (g_strcmp0(state, "failed") == 0) {
    g_printerr("vxm start: VM %s failed: %s\n  (supervisor log: %s)\n", name,
               vxm_cli_progress_get_reason(printer), vxm_log);
    return VXM_EXIT_FAILURE;
  }
  g_printerr("vxm start: the supervisor of VM %s ended before the guest ran%s%s: read %s\n", name,
             state ? " (last state: " : "", state ? state : "", vxm_log);
  return VXM_EXIT_FAILURE;
}

int
vxm_cli_cmd_start(VxmCli *cli, int argc, char **argv)
{
  gboolean dry_run = FALSE;
  gboolean json = FALSE;
  gboolean foreground = FALSE;
  gint progress_fd = -1;
  gint plan_fd = -1;
  const GOptionEntry entries[] = {
      /* no -f: that is --force in stop, detach and init */
      {"foreground", 0, 0, G_OPTION_ARG_NONE, &foreground,
       "Stay attached: show progress, and stop the guest on Ctrl+C", NULL},
      {"dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run,
       "Show the QEMU and swtpm command lines and the host steps; change nothing", NULL},
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "With --dry-run: print JSON", NULL},
      {"progress-fd", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &progress_fd,
       "(internal) report progress on this fd: the background supervisor", "FD"},
      {"plan-fd", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &plan_fd,
       "(internal) read the plan vxm start built from this fd", "FD"},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_auto(StartInputs) in = {0};
  VxmHostfs *hostfs;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, "[NAME]",
                     "Start a VM on the guest GPU: prepare the host, run swtpm and QEMU, and\n"
                     "supervise them; the host is restored when the guest stops.\n"
                     "In the background by default; the command returns once the guest runs\n"
                     "(exit 0) or the start failed (exit 1, with the reason and the log to read)."))
    return VXM_EXIT_USAGE;
  if (argc > 2)
    return vxm_cli_usage_error(cli, "too many arguments: give at most one VM name");
  if (json && !dry_run)
    return vxm_cli_usage_error(cli, "--json goes with --dry-run");
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL)
    return vxm_cli_fail(cli, error);
  if (plan_fd >= 0) {
    /* the background supervisor: run the plan the waiting vxm start built */
    VxmSupervisorPlan *plan = read_plan(plan_fd, &error);

    if (plan == NULL)
      return vxm_cli_fail(cli, error);
    return supervise(cli, hostfs, plan, progress_fd);
  }
  {
    /* a malformed name, or none among several VMs, is a bad command line */
    g_autoptr(VxmVmPaths) named = vxm_cli_vm_paths(cli, argc > 1 ? argv[1] : NULL, &error);

    if (named == NULL)
      return vxm_cli_fail_arg(cli, error);
    /* the cheapest known refusal first, before QEMU is probed and the host is read */
    if (!dry_run && vxm_vm_is_running(named)) {
      g_set_error(&error, VXM_ERROR, VXM_ERROR_BUSY,
                  "VM %s is already running: `vxm status %s` shows it, `vxm stop %s` stops it",
                  named->name, named->name, named->name);
      return vxm_cli_fail(cli, error);
    }
    if (!build_inputs(cli, hostfs, named->name, &in, &error))
      return vxm_cli_fail(cli, error);
  }
  if (dry_run) {
    if (json)
      print_json(&in);
    else
      print_human(cli, &in);
    return VXM_EXIT_OK;
  }
  if (geteuid() != 0) {
    /* refuse here, in the terminal, when vxmd cannot serve us (the supervisor asks again) */
    g_autoptr(VxmHostOps) ops = vxm_cli_get_host_ops(cli, hostfs, &error);

    if (ops == NULL)
      return vxm_cli_fail(cli, error);
  } else {
    /* root: QEMU and swtpm run as the sudo user, or not at all (the supervisor asks again) */
    g_autoptr(VxmRunAs) user = NULL;

    if (!vxm_run_as_for_children(&user, &error))
      return vxm_cli_fail(cli, error);
  }
  if (vxm_vm_is_running(in.paths)) {
    g_set_error(&error, VXM_ERROR, VXM_ERROR_BUSY,
                "VM %s is already running: `vxm status %s` shows it, `vxm stop %s` stops it",
                in.config->name, in.config->name, in.config->name);
    return vxm_cli_fail(cli, error);
  }
  for (guint i = 0; i < in.notes->len && !cli->quiet && progress_fd < 0; i++)
    g_printerr("vxm start: note: %s\n", (char *)g_ptr_array_index(in.notes, i));
  if (foreground || progress_fd >= 0) {
    VxmSupervisorPlan *plan = make_plan(hostfs, &in, &error);

    if (plan == NULL)
      return vxm_cli_fail(cli, error);
    return supervise(cli, hostfs, plan, progress_fd);
  }
  return start_background(cli, hostfs, &in);
}
