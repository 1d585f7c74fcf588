#include "vxm-start-facts.h"

#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "display/vxm-display.h"
#include "input/vxm-input-object.h"
#include "input/vxm-input-set.h"
#include "memory/vxm-looking-glass.h"
#include "pci/vxm-pci-address.h"
#include "pci/vxm-pci-bars.h"
#include "platform/vxm-dmi-identity.h"
#include "vm/vxm-vm-config.h"

static void
gpu_function_free(VxmHostGpuFunction *fn)
{
  g_free(fn->address);
  g_free(fn->driver);
  g_free(fn);
}

VxmStartFacts *
vxm_start_facts_new(void)
{
  VxmStartFacts *self = g_new0(VxmStartFacts, 1);

  self->gpu_functions = g_ptr_array_new_with_free_func((GDestroyNotify)gpu_function_free);
  self->extra_devices = g_ptr_array_new_with_free_func((GDestroyNotify)gpu_function_free);
  self->inputs = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_host_input_free);
  self->inputs_missing = g_ptr_array_new_with_free_func(g_free);
  self->monitors = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_vm_monitor_switch_free);
  self->usb_devices = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_usb_passthrough_free);
  self->gpu_numa_node = -1;
  self->hugepage_node = -1;
  self->sockets = 1;
  self->cores = 1;
  self->threads = 1;
  return self;
}

void
vxm_start_facts_free(VxmStartFacts *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref(self->gpu_functions);
  g_ptr_array_unref(self->extra_devices);
  g_ptr_array_unref(self->inputs);
  g_ptr_array_unref(self->inputs_missing);
  g_ptr_array_unref(self->usb_devices);
  g_free(self->looking_glass_path);
  vxm_host_smbios_free(self->smbios);
  g_ptr_array_unref(self->monitors);
  g_free(self);
}

VxmHostGpuFunction *
vxm_start_facts_add_gpu_function(VxmStartFacts *self, const char *address, guint16 class_code,
                                 const char *driver, gint iommu_group)
{
  VxmHostGpuFunction *fn = g_new0(VxmHostGpuFunction, 1);
  VxmPciAddress parsed;

  fn->address = g_strdup(address);
  fn->class_code = class_code;
  fn->driver = g_strdup(driver);
  fn->iommu_group = iommu_group;
  /* the function number is the address's last digit; an unparsable address keeps 0 and is
   * refused later by the builder, which checks the layout */
  if (vxm_pci_address_parse(address, &parsed, NULL))
    fn->function = parsed.function;
  g_ptr_array_add(self->gpu_functions, fn);
  return fn;
}

VxmUsbPassthrough *
vxm_start_facts_add_usb(VxmStartFacts *self, guint16 vendor, guint16 product, const char *node,
                        const char *description)
{
  VxmUsbPassthrough *usb = vxm_usb_passthrough_new(vendor, product);

  usb->node = g_strdup(node);
  g_free(usb->description);
  usb->description = g_strdup(description != NULL ? description : "");
  g_ptr_array_add(self->usb_devices, usb);
  return usb;
}

static void add_note(GPtrArray *notes, const char *format, ...) G_GNUC_PRINTF(2, 3);

/* [usb] devices: each found by its ids in sysfs now, or noted as joining when plugged in. */
static void
collect_usb(VxmStartFacts *self, VxmHostfs *hostfs, const VxmVmConfig *config, GPtrArray *notes)
{
  g_autoptr(GPtrArray) devices = NULL;

  if (config->usb_devices->len == 0)
    return;
  devices = vxm_usb_devices_list(hostfs);
  for (guint i = 0; i < config->usb_devices->len; i++) {
    guint32 id = g_array_index(config->usb_devices, guint32, i);
    VxmUsbDevice *d = vxm_usb_devices_find(devices, id >> 16, id & 0xffff);
    g_autofree char *node = d != NULL ? vxm_usb_device_node(d) : NULL;
    g_autofree char *description = d != NULL ? vxm_usb_device_describe(d) : NULL;

    vxm_start_facts_add_usb(self, id >> 16, id & 0xffff, node, description);
    if (d == NULL)
      add_note(notes, "USB device %04x:%04x is not plugged in: it joins the guest when it is",
               id >> 16, id & 0xffff);
  }
}

VxmHostGpuFunction *
vxm_start_facts_add_extra_device(VxmStartFacts *self, const char *address, guint16 class_code,
                                 const char *driver, gint iommu_group)
{
  VxmHostGpuFunction *fn =
      vxm_start_facts_add_gpu_function(self, address, class_code, driver, iommu_group);

  /* made as a GPU function, then moved */
  g_ptr_array_steal_index(self->gpu_functions, self->gpu_functions->len - 1);
  g_ptr_array_add(self->extra_devices, fn);
  return fn;
}

VxmHostInput *
vxm_start_facts_add_input(VxmStartFacts *self, const char *path, VxmHostInputKind kind,
                          gboolean primary)
{
  VxmHostInput *input = vxm_host_input_new(path, kind, primary);

  g_ptr_array_add(self->inputs, input);
  return input;
}

VxmHostSmbios *
vxm_host_smbios_new(void)
{
  return g_new0(VxmHostSmbios, 1);
}

void
vxm_host_smbios_free(VxmHostSmbios *self)
{
  if (self == NULL)
    return;
  g_free(self->bios_vendor);
  g_free(self->bios_version);
  g_free(self->bios_date);
  g_free(self->sys_vendor);
  g_free(self->product_name);
  g_free(self->product_version);
  g_free(self->product_serial);
  g_free(self->product_uuid);
  g_free(self->product_sku);
  g_free(self->product_family);
  g_free(self->board_vendor);
  g_free(self->board_name);
  g_free(self->board_version);
  g_free(self->board_serial);
  g_free(self->board_asset_tag);
  g_free(self);
}

static gint
compare_ints(gconstpointer a, gconstpointer b)
{
  return *(const gint *)a - *(const gint *)b;
}

GArray *
vxm_start_facts_gpu_iommu_groups(const VxmStartFacts *self)
{
  GArray *groups = g_array_new(FALSE, FALSE, sizeof(gint));

  for (guint i = 0; i < self->gpu_functions->len + self->extra_devices->len; i++) {
    VxmHostGpuFunction *fn =
        i < self->gpu_functions->len
            ? g_ptr_array_index(self->gpu_functions, i)
            : g_ptr_array_index(self->extra_devices, i - self->gpu_functions->len);
    gboolean seen = FALSE;

    if (fn->iommu_group < 0)
      continue;
    for (guint j = 0; j < groups->len; j++)
      seen = seen || g_array_index(groups, gint, j) == fn->iommu_group;
    if (!seen)
      g_array_append_val(groups, fn->iommu_group);
  }
  g_array_sort(groups, compare_ints);
  return groups;
}

static void add_note(GPtrArray *notes, const char *format, ...) G_GNUC_PRINTF(2, 3);

static void
add_note(GPtrArray *notes, const char *format, ...)
{
  va_list ap;

  if (notes == NULL)
    return;
  va_start(ap, format);
  g_ptr_array_add(notes, g_strdup_vprintf(format, ap));
  va_end(ap);
}

/* The devices [input] inputs names (or auto picks) that are plugged in now; one that is not
 * is left out with a note (QEMU would refuse to start), and the hotplug watcher adds it when
 * it is plugged in (vxm-input-watch). */
static void
collect_inputs(VxmStartFacts *self, VxmHostfs *hostfs, const VxmVmConfig *config, GPtrArray *notes)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmInputSet) set = vxm_input_set_discover(hostfs, &error);

  if (set == NULL) {
    add_note(notes, "no keyboard or mouse is passed to the guest: %s", error->message);
    return;
  }
  vxm_input_set_select(set, (const char *const *)config->inputs);
  for (guint i = 0; i < set->missing->len; i++) {
    const char *name = set->missing->pdata[i];
    g_autofree char *why = NULL;
    VxmHostInputKind kind;

    if (vxm_input_pending_kind(name, &kind, &why))
      add_note(notes,
               "input %s is not plugged in (no " VXM_HOST_DEV_INPUT "/%s/%s): it joins the "
               "guest when plugged in",
               name, vxm_input_link_folder(name), name);
    else
      add_note(notes,
               "input %s is not plugged in, and stays out of the guest if it is plugged in "
               "while the VM runs: %s",
               name, why);
    g_ptr_array_add(self->inputs_missing, g_strdup(name));
  }
  vxm_input_set_add_inputs(set, hostfs, self->inputs);
  if (self->inputs->len == 0 && config->inputs == NULL)
    add_note(notes, "inputs = auto: no physical keyboard or mouse found (vxm inputs lists them)");
}

static char *
identity_field(JsonObject *identity, const char *name)
{
  JsonNode *node = json_object_get_member(identity, name);
  g_autofree char *value = NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_value_type(node) != G_TYPE_STRING)
    return NULL;
  value = g_strstrip(g_strdup(json_node_get_string(node)));
  return *value != '\0' ? g_steal_pointer(&value) : NULL;
}

VxmHostSmbios *
vxm_host_smbios_new_from_identity(JsonObject *identity)
{
  VxmHostSmbios *s = vxm_host_smbios_new();

  s->bios_vendor = identity_field(identity, "bios_vendor");
  s->bios_version = identity_field(identity, "bios_version");
  s->bios_date = identity_field(identity, "bios_date");
  s->sys_vendor = identity_field(identity, "sys_vendor");
  s->product_name = identity_field(identity, "product_name");
  s->product_version = identity_field(identity, "product_version");
  s->product_serial = identity_field(identity, "product_serial");
  s->product_uuid = identity_field(identity, "product_uuid");
  s->product_sku = identity_field(identity, "product_sku");
  s->product_family = identity_field(identity, "product_family");
  s->board_vendor = identity_field(identity, "board_vendor");
  s->board_name = identity_field(identity, "board_name");
  s->board_version = identity_field(identity, "board_version");
  s->board_serial = identity_field(identity, "board_serial");
  s->board_asset_tag = identity_field(identity, "board_asset_tag");
  return s;
}

/* The same reader vxmd uses, in this process: as a user, the serials and UUID are missing. */
static void
collect_smbios(VxmStartFacts *self, VxmHostfs *hostfs, GPtrArray *notes)
{
  g_autoptr(JsonNode) identity = NULL;
  VxmHostSmbios *s;

  if (self->smbios != NULL)
    return;
  identity = vxm_dmi_identity_read(hostfs);
  s = vxm_host_smbios_new_from_identity(json_node_get_object(identity));
  if (s->product_serial == NULL || s->product_uuid == NULL)
    add_note(notes,
             "smbios = host: the serial number and UUID in %s are readable by root "
             "only; the guest gets them when vxmd reads them at start",
             VXM_HOST_SYS_CLASS_DMI_ID);
  self->smbios = s;
}

static void
collect_monitor(VxmStartFacts *self, const VxmVmConfig *config, GPtrArray *notes)
{
  g_autoptr(GPtrArray) switches = vxm_vm_config_monitor_switches(config);

  if (config->monitors == NULL && config->monitor != VXM_VM_MONITOR_OFF &&
      config->monitor != VXM_VM_MONITOR_AUTO && config->guest_input == 0) {
    g_autofree char *name =
        config->monitor == VXM_VM_MONITOR_CONNECTOR
            ? g_strdup(config->monitor_connector)
            : g_strdup_printf("%s:%u:%u", config->monitor_edid_manufacturer,
                              config->monitor_edid_product, config->monitor_edid_serial);

    add_note(notes, "monitor %s has no guest_input: its input is not switched", name);
    return;
  }
  /* monitor = auto, the usual case, is found when the VM starts: nothing to note at every start */
  for (guint i = 0; i < switches->len; i++) {
    VxmVmMonitorSwitch *sw = g_ptr_array_index(switches, i);

    if (g_strcmp0(sw->spec, "auto") != 0)
      g_ptr_array_add(self->monitors, g_steal_pointer(&switches->pdata[i]));
  }
}

/* looking_glass = auto: sized for the preferred mode of the monitor the VM switches (its
 * EDID), else for 4K (vxm_looking_glass_size_from_config()'s default). */
static guint64
looking_glass_size(VxmHostfs *hostfs, const VxmVmConfig *config, VxmGpu *gpu, GPtrArray *notes)
{
  g_autofree char *spec = vxm_display_monitor_spec(config);
  g_autoptr(VxmEdid) edid = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *size = NULL;
  g_autofree char *monitor = NULL;
  guint64 bytes;

  if (!config->looking_glass_auto)
    return vxm_looking_glass_size_from_config(config, 0, 0);
  if (spec != NULL)
    edid = vxm_display_monitor_edid(hostfs, spec, gpu != NULL ? vxm_gpu_get_address(gpu) : NULL,
                                    &local_error);
  if (edid != NULL && edid->preferred_width > 0 && edid->preferred_height > 0) {
    bytes =
        vxm_looking_glass_size_from_config(config, edid->preferred_width, edid->preferred_height);
    size = vxm_format_bytes(bytes);
    monitor = vxm_edid_describe(edid);
    add_note(notes, "looking_glass = auto: %s for %s's preferred mode %ux%u", size, monitor,
             edid->preferred_width, edid->preferred_height);
    return bytes;
  }
  bytes = vxm_looking_glass_size_from_config(config, 0, 0);
  size = vxm_format_bytes(bytes);
  add_note(notes, "looking_glass = auto: %s, sized for %ux%u: %s", size,
           VXM_LOOKING_GLASS_DEFAULT_WIDTH, VXM_LOOKING_GLASS_DEFAULT_HEIGHT,
           spec == NULL          ? "no monitor is configured (monitor = off)"
           : local_error != NULL ? local_error->message
                                 : "the monitor's EDID has no preferred mode");
  return bytes;
}

gboolean
vxm_start_facts_collect(VxmStartFacts *self, VxmHostfs *hostfs, const VxmVmConfig *config,
                        VxmGpu *gpu, GPtrArray *notes, GError **error)
{
  const VxmVmResolved *r = &config->resolved;

  if (!r->done) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                        "the VM's config is not resolved against the host yet");
    return FALSE;
  }
  if (gpu != NULL) {
    GPtrArray *fns = vxm_gpu_get_all_functions(gpu);

    for (guint i = 0; i < fns->len; i++) {
      VxmPciDevice *dev = g_ptr_array_index(fns, i);

      g_autoptr(GArray) bars = NULL;

      vxm_start_facts_add_gpu_function(
          self, vxm_pci_device_get_address(dev), vxm_pci_device_get_class_code(dev),
          vxm_pci_device_get_driver(dev), vxm_pci_device_get_iommu_group(dev));
      /* what the guest's firmware must find room for above 4 GiB (a resizable BAR included) */
      bars = vxm_pci_bars_read(hostfs, vxm_pci_device_get_sysfs_path(dev), NULL);
      for (guint b = 0; bars != NULL && b < bars->len; b++)
        if (g_array_index(bars, VxmPciBar, b).is_64bit)
          self->gpu_bar64_bytes += g_array_index(bars, VxmPciBar, b).size;
    }
    self->gpu_numa_node = vxm_pci_device_get_numa_node(vxm_gpu_get_device(gpu));
  }
  self->memory_bytes = r->memory_bytes;
  self->threads = MAX(1u, r->threads_per_core);
  self->cores = MAX(1u, r->vcpus / self->threads);
  self->sockets = 1;
  collect_inputs(self, hostfs, config, notes);
  collect_usb(self, hostfs, config, notes);
  if (config->looking_glass_bytes > 0 || config->looking_glass_auto) {
    const char *host_path = vxm_hostfs_exists(hostfs, VXM_HOST_DEV_KVMFR0) ? VXM_HOST_DEV_KVMFR0
                                                                           : VXM_HOST_DEV_SHM
                                "/looking-glass";

    self->looking_glass_path = vxm_hostfs_path(hostfs, host_path);
    self->looking_glass_bytes = looking_glass_size(hostfs, config, gpu, notes);
    /* QEMU cannot map more than the device has: refused here, before any host change */
    if (!vxm_looking_glass_check_kvmfr(hostfs, self->looking_glass_bytes, error))
      return FALSE;
  }
  if (config->smbios == VXM_VM_SMBIOS_HOST)
    collect_smbios(self, hostfs, notes);
  collect_monitor(self, config, notes);
  return TRUE;
}
