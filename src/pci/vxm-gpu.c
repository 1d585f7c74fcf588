#include "vxm-gpu.h"

#include <string.h>

#include "common/vxm-error.h"

struct _VxmGpu {
  GObject parent_instance;
  VxmPciBus *bus;
  VxmPciDevice *device;
  GPtrArray *functions;     /* VxmPciDevice, sorted */
  GPtrArray *all_functions; /* the device and its functions, sorted */
  GArray *groups;           /* gint, sorted, unique */
  GPtrArray *members;       /* VxmPciDevice, sorted, unique */
  VxmGpuRole role;
  GPtrArray *reasons; /* char* */
};

G_DEFINE_FINAL_TYPE(VxmGpu, vxm_gpu, G_TYPE_OBJECT)

const char *
vxm_gpu_role_to_string(VxmGpuRole role)
{
  switch (role) {
  case VXM_GPU_ROLE_HOST: return "host";
  case VXM_GPU_ROLE_CANDIDATE: return "candidate";
  case VXM_GPU_ROLE_GUEST: return "guest";
  case VXM_GPU_ROLE_UNUSABLE: return "unusable";
  }
  return "unusable";
}

static void
vxm_gpu_finalize(GObject *object)
{
  VxmGpu *self = VXM_GPU(object);

  g_clear_object(&self->bus);
  g_clear_object(&self->device);
  g_clear_pointer(&self->functions, g_ptr_array_unref);
  g_clear_pointer(&self->all_functions, g_ptr_array_unref);
  g_clear_pointer(&self->groups, g_array_unref);
  g_clear_pointer(&self->members, g_ptr_array_unref);
  g_clear_pointer(&self->reasons, g_ptr_array_unref);
  G_OBJECT_CLASS(vxm_gpu_parent_class)->finalize(object);
}

static void
vxm_gpu_class_init(VxmGpuClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = vxm_gpu_finalize;
}

static void
vxm_gpu_init(VxmGpu *self)
{
  self->functions = g_ptr_array_new_with_free_func(g_object_unref);
  self->all_functions = g_ptr_array_new_with_free_func(g_object_unref);
  self->groups = g_array_new(FALSE, FALSE, sizeof(gint));
  self->members = g_ptr_array_new_with_free_func(g_object_unref);
  self->reasons = g_ptr_array_new_with_free_func(g_free);
}

static gboolean
same_slot(VxmPciDevice *a, VxmPciDevice *b)
{
  return vxm_pci_address_same_slot(vxm_pci_device_get_pci_address(a),
                                   vxm_pci_device_get_pci_address(b));
}

/* The display device of each slot with one (the lowest-numbered display function), sorted. */
static GPtrArray *
primary_display_devices(VxmPciBus *bus)
{
  GPtrArray *devices = vxm_pci_bus_get_devices(bus);
  GPtrArray *out = g_ptr_array_new();

  for (guint i = 0; i < devices->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(devices, i);

    if (!vxm_pci_device_is_display(dev))
      continue;
    /* devices are sorted, so a slot's first display function comes first */
    if (out->len > 0 && same_slot(g_ptr_array_index(out, out->len - 1), dev))
      continue;
    g_ptr_array_add(out, dev);
  }
  return out;
}

static int
compare_ints(gconstpointer a, gconstpointer b)
{
  gint x = *(const gint *)a, y = *(const gint *)b;
  return x < y ? -1 : x > y;
}

static VxmGpu *
vxm_gpu_new(VxmPciBus *bus, VxmPciDevice *device)
{
  VxmGpu *self = g_object_new(VXM_TYPE_GPU, NULL);
  GPtrArray *devices = vxm_pci_bus_get_devices(bus);
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

  self->bus = g_object_ref(bus);
  self->device = g_object_ref(device);
  for (guint i = 0; i < devices->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(devices, i);

    if (!same_slot(dev, device))
      continue;
    g_ptr_array_add(self->all_functions, g_object_ref(dev));
    if (dev != device)
      g_ptr_array_add(self->functions, g_object_ref(dev));
  }
  for (guint i = 0; i < self->all_functions->len; i++) {
    gint group = vxm_pci_device_get_iommu_group(g_ptr_array_index(self->all_functions, i));
    gboolean dup = FALSE;

    for (guint j = 0; j < self->groups->len; j++)
      dup |= g_array_index(self->groups, gint, j) == group;
    if (group >= 0 && !dup)
      g_array_append_val(self->groups, group);
  }
  g_array_sort(self->groups, compare_ints);
  for (guint i = 0; i < self->groups->len; i++) {
    g_autoptr(GPtrArray) members =
        vxm_pci_bus_get_iommu_group_members(bus, g_array_index(self->groups, gint, i));

    for (guint j = 0; j < members->len; j++) {
      VxmPciDevice *m = g_ptr_array_index(members, j);

      if (g_hash_table_add(seen, (gpointer)vxm_pci_device_get_address(m)))
        g_ptr_array_add(self->members, g_object_ref(m));
    }
  }
  g_ptr_array_sort(self->members, vxm_pci_device_compare_ptr);
  return self;
}

static gboolean
is_held_by_vfio(VxmPciDevice *dev)
{
  const char *driver = vxm_pci_device_get_driver(dev);
  return g_strcmp0(driver, "vfio-pci") == 0 || g_strcmp0(driver, "pci-stub") == 0;
}

/* "A", "A and B", "A, B and C" */
static void
append_list(GString *out, GPtrArray *items)
{
  for (guint i = 0; i < items->len; i++) {
    if (i > 0)
      g_string_append(out, i + 1 == items->len ? " and " : ", ");
    g_string_append(out, g_ptr_array_index(items, i));
  }
}

/* The group rule: the card's own functions, PCI bridges, and host bridges without a driver. */
static gboolean
member_is_allowed(VxmGpu *self, VxmPciDevice *member)
{
  guint16 code = vxm_pci_device_get_class_code(member);

  if (same_slot(member, self->device))
    return TRUE;
  if (code == VXM_PCI_CLASS_PCI_BRIDGE)
    return TRUE;
  if (code == VXM_PCI_CLASS_HOST_BRIDGE && vxm_pci_device_get_driver(member) == NULL)
    return TRUE;
  return FALSE;
}

static char *
describe_offender(VxmPciDevice *dev)
{
  const char *class_name = vxm_pci_device_get_class_name(dev);
  const char *driver = vxm_pci_device_get_driver(dev);
  guint16 code = vxm_pci_device_get_class_code(dev);
  g_autoptr(GString) s = g_string_new(vxm_pci_device_get_address(dev));

  g_string_append(s, " (");
  if (class_name != NULL)
    g_string_append_printf(s, "%s, %04x", class_name, code);
  else
    g_string_append_printf(s, "class %04x", code);
  /* a host bridge is only an offender because a driver holds it: say which */
  if (code == VXM_PCI_CLASS_HOST_BRIDGE && driver != NULL)
    g_string_append_printf(s, ", bound to %s", driver);
  g_string_append_c(s, ')');
  return g_string_free(g_steal_pointer(&s), FALSE);
}

gboolean
vxm_gpu_check_passthrough_safe(VxmGpu *self, GPtrArray **reasons)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) gpus = primary_display_devices(self->bus);
  g_autoptr(GPtrArray) others_held = g_ptr_array_new_with_free_func(g_free);
  guint others = 0;

  g_return_val_if_fail(VXM_IS_GPU(self), FALSE);

  if (vxm_pci_device_is_boot_vga(self->device))
    g_ptr_array_add(out, g_strdup("it is the boot VGA device: the host's console and desktop "
                                  "start on it, so the host keeps it"));

  if (!vxm_pci_bus_get_iommu_enabled(self->bus))
    g_ptr_array_add(out, g_strdup("the IOMMU is off, so no device can be passed through: "
                                  "turn it on (see vxm check)"));

  for (guint i = 0; i < gpus->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(gpus, i);

    if (same_slot(dev, self->device))
      continue;
    others++;
    if (is_held_by_vfio(dev))
      g_ptr_array_add(others_held, g_strdup_printf("%s on %s", vxm_pci_device_get_address(dev),
                                                   vxm_pci_device_get_driver(dev)));
  }
  if (others == 0) {
    g_ptr_array_add(out, g_strdup("it is this machine's only GPU: vxm is for two-GPU machines, "
                                  "where the host keeps one GPU and the guest gets the other"));
  } else if (others_held->len == others) {
    g_autoptr(GString) s = g_string_new("it is the last GPU the host has: every other GPU (");

    append_list(s, others_held);
    g_string_append(s, ") is held for a guest, and giving this one away too would leave the "
                       "host without a display");
    g_ptr_array_add(out, g_string_free(g_steal_pointer(&s), FALSE));
  }

  if (vxm_pci_bus_get_iommu_enabled(self->bus)) {
    g_autoptr(GPtrArray) ungrouped = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < self->all_functions->len; i++) {
      VxmPciDevice *dev = g_ptr_array_index(self->all_functions, i);

      if (vxm_pci_device_get_iommu_group(dev) < 0)
        g_ptr_array_add(ungrouped, vxm_pci_device_dup_description(dev));
    }
    if (ungrouped->len > 0) {
      g_autoptr(GString) s = g_string_new(NULL);

      append_list(s, ungrouped);
      g_string_append(s, ungrouped->len == 1 ? " has" : " have");
      g_string_append(s, " no IOMMU group although the IOMMU is on: the kernel cannot isolate "
                         "it, so it cannot be passed through");
      g_ptr_array_add(out, g_string_free(g_steal_pointer(&s), FALSE));
    }
  }

  for (guint g = 0; g < self->groups->len; g++) {
    gint group = g_array_index(self->groups, gint, g);
    g_autoptr(GPtrArray) members = vxm_pci_bus_get_iommu_group_members(self->bus, group);
    g_autoptr(GPtrArray) offenders = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GString) s = NULL;

    for (guint i = 0; i < members->len; i++) {
      VxmPciDevice *m = g_ptr_array_index(members, i);

      if (!member_is_allowed(self, m))
        g_ptr_array_add(offenders, describe_offender(m));
    }
    if (offenders->len == 0)
      continue;
    s = g_string_new(NULL);
    g_string_append_printf(s, "IOMMU group %d also holds ", group);
    append_list(s, offenders);
    g_string_append_printf(s,
                           ", which %s not this card's: the group cannot be passed through. "
                           "Try another PCIe slot or check your BIOS for ACS settings",
                           offenders->len == 1 ? "is" : "are");
    g_ptr_array_add(out, g_string_free(g_steal_pointer(&s), FALSE));
  }

  if (reasons != NULL)
    *reasons = g_ptr_array_ref(out);
  return out->len == 0;
}

static void
assign_role(VxmGpu *self, gboolean is_guest)
{
  g_autoptr(GPtrArray) reasons = NULL;
  gboolean safe = vxm_gpu_check_passthrough_safe(self, &reasons);

  g_ptr_array_unref(self->reasons);
  self->reasons = g_steal_pointer(&reasons);
  if (vxm_pci_device_is_boot_vga(self->device))
    self->role = VXM_GPU_ROLE_HOST;
  else if (!safe)
    self->role = VXM_GPU_ROLE_UNUSABLE;
  else
    self->role = is_guest ? VXM_GPU_ROLE_GUEST : VXM_GPU_ROLE_CANDIDATE;
}

GPtrArray *
vxm_gpu_list_for_bus(VxmPciBus *bus, const char *guest_address)
{
  g_autoptr(GPtrArray) displays = primary_display_devices(bus);
  GPtrArray *gpus = g_ptr_array_new_with_free_func(g_object_unref);
  VxmPciAddress guest_addr;
  gboolean have_guest = FALSE;

  if (guest_address != NULL)
    have_guest = vxm_pci_address_parse(guest_address, &guest_addr, NULL);
  for (guint i = 0; i < displays->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(displays, i);
    VxmGpu *gpu = vxm_gpu_new(bus, dev);
    gboolean is_guest =
        have_guest && vxm_pci_address_same_slot(&guest_addr, vxm_pci_device_get_pci_address(dev));

    assign_role(gpu, is_guest);
    g_ptr_array_add(gpus, gpu);
  }
  return gpus;
}

GPtrArray *
vxm_gpu_list(VxmHostfs *hostfs, GError **error)
{
  g_autoptr(VxmPciBus) bus = vxm_pci_bus_new(hostfs, error);

  if (bus == NULL)
    return NULL;
  return vxm_gpu_list_for_bus(bus, NULL);
}

GPtrArray *
vxm_gpu_list_only(VxmHostfs *hostfs, GError **error)
{
  g_autoptr(VxmPciBus) bus = vxm_pci_bus_new_for_gpus(hostfs, NULL, error);

  if (bus == NULL)
    return NULL;
  return vxm_gpu_list_for_bus(bus, NULL);
}

static char *
gpu_summary(VxmGpu *gpu)
{
  g_autofree char *name = vxm_pci_device_dup_display_name(gpu->device);
  return g_strdup_printf("%s (%s)", vxm_gpu_get_address(gpu), name);
}

static char *
list_summaries(GPtrArray *gpus)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GString) s = g_string_new(NULL);

  for (guint i = 0; i < gpus->len; i++)
    g_ptr_array_add(items, gpu_summary(g_ptr_array_index(gpus, i)));
  for (guint i = 0; i < items->len; i++)
    g_string_append_printf(s, "%s%s", i > 0 ? ", " : "", (char *)g_ptr_array_index(items, i));
  return g_string_free(g_steal_pointer(&s), FALSE);
}

static gboolean
text_matches(VxmGpu *gpu, const char *folded)
{
  VxmPciDevice *dev = gpu->device;
  g_autofree char *name = vxm_pci_device_dup_display_name(dev);
  g_autofree char *ids = g_strdup_printf("%04x:%04x", vxm_pci_device_get_vendor_id(dev),
                                         vxm_pci_device_get_device_id(dev));
  const char *candidates[] = {name, vxm_pci_device_get_subsystem_name(dev), ids};

  for (gsize i = 0; i < G_N_ELEMENTS(candidates); i++) {
    g_autofree char *hay = NULL;

    if (candidates[i] == NULL)
      continue;
    hay = g_utf8_casefold(candidates[i], -1);
    if (strstr(hay, folded) != NULL)
      return TRUE;
  }
  return FALSE;
}

VxmGpu *
vxm_gpu_find_in_list(GPtrArray *gpus, const char *text, GError **error)
{
  g_autofree char *stripped = g_strstrip(g_strdup(text != NULL ? text : ""));
  g_autofree char *folded = NULL;
  g_autoptr(GPtrArray) matches = g_ptr_array_new();
  g_autofree char *all = list_summaries(gpus);
  VxmPciAddress addr;

  if (stripped[0] == '\0') {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "no GPU given: give its PCI address or part of its name (see vxm list-gpus)");
    return NULL;
  }
  if (vxm_pci_address_parse(stripped, &addr, NULL)) {
    g_autofree char *normal = vxm_pci_address_to_string(&addr);

    for (guint i = 0; i < gpus->len; i++) {
      VxmGpu *gpu = g_ptr_array_index(gpus, i);

      for (guint j = 0; j < gpu->all_functions->len; j++) {
        VxmPciDevice *dev = g_ptr_array_index(gpu->all_functions, j);

        if (vxm_pci_address_compare(&addr, vxm_pci_device_get_pci_address(dev)) == 0)
          return g_object_ref(gpu);
      }
    }
    if (gpus->len > 0) {
      VxmGpu *first = g_ptr_array_index(gpus, 0);
      VxmPciDevice *dev = vxm_pci_bus_lookup(first->bus, normal);

      if (dev != NULL) {
        g_autofree char *desc = vxm_pci_device_dup_description(dev);
        g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                    "%s is not a GPU; this machine's GPUs: %s", desc, all);
        return NULL;
      }
    }
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND, "no PCI device %s (see vxm list-gpus)%s%s",
                normal, gpus->len > 0 ? "; this machine's GPUs: " : "", all);
    return NULL;
  }

  folded = g_utf8_casefold(stripped, -1);
  for (guint i = 0; i < gpus->len; i++) {
    VxmGpu *gpu = g_ptr_array_index(gpus, i);

    if (text_matches(gpu, folded))
      g_ptr_array_add(matches, gpu);
  }
  if (matches->len == 1)
    return g_object_ref(g_ptr_array_index(matches, 0));
  if (matches->len == 0) {
    if (gpus->len == 0)
      g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                  "no GPU matches '%s': this machine has no GPU", stripped);
    else
      g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                  "no GPU matches '%s'; this machine's GPUs: %s", stripped, all);
    return NULL;
  }
  {
    g_autofree char *which = list_summaries(matches);
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "'%s' matches %u GPUs: %s; give the PCI address of the one you mean", stripped,
                matches->len, which);
  }
  return NULL;
}

VxmGpu *
vxm_gpu_find(VxmHostfs *hostfs, const char *text, GError **error)
{
  g_autoptr(GPtrArray) gpus = NULL;
  g_autofree char *stripped = g_strstrip(g_strdup(text != NULL ? text : ""));
  VxmPciAddress addr;

  /* an address: only its slot, its groups and the other GPUs are read; anything else (a
   * name, an address that is no GPU's) looks at every device, for the message */
  if (vxm_pci_address_parse(stripped, &addr, NULL)) {
    g_autofree char *normal = vxm_pci_address_to_string(&addr);
    g_autoptr(VxmPciBus) bus = vxm_pci_bus_new_for_gpus(hostfs, normal, NULL);

    if (bus != NULL) {
      g_autoptr(GPtrArray) scoped = vxm_gpu_list_for_bus(bus, NULL);
      VxmGpu *gpu = vxm_gpu_find_in_list(scoped, normal, NULL);

      if (gpu != NULL)
        return gpu;
    }
  }
  gpus = vxm_gpu_list(hostfs, error);

  if (gpus == NULL)
    return NULL;
  return vxm_gpu_find_in_list(gpus, text, error);
}

VxmPciBus *
vxm_gpu_get_bus(VxmGpu *self)
{
  return self->bus;
}

VxmPciDevice *
vxm_gpu_get_device(VxmGpu *self)
{
  return self->device;
}

const char *
vxm_gpu_get_address(VxmGpu *self)
{
  return vxm_pci_device_get_address(self->device);
}

GPtrArray *
vxm_gpu_get_functions(VxmGpu *self)
{
  return self->functions;
}

GPtrArray *
vxm_gpu_get_all_functions(VxmGpu *self)
{
  return self->all_functions;
}

GArray *
vxm_gpu_get_iommu_groups(VxmGpu *self)
{
  return self->groups;
}

GPtrArray *
vxm_gpu_get_iommu_group_members(VxmGpu *self)
{
  return self->members;
}

gboolean
vxm_gpu_owns(VxmGpu *self, VxmPciDevice *device)
{
  return same_slot(self->device, device);
}

VxmGpuRole
vxm_gpu_get_role(VxmGpu *self)
{
  return self->role;
}

GPtrArray *
vxm_gpu_get_reasons(VxmGpu *self)
{
  return self->reasons;
}

static void
add_hex(JsonBuilder *b, const char *key, guint value, gboolean known)
{
  json_builder_set_member_name(b, key);
  if (known) {
    g_autofree char *text = g_strdup_printf("%04x", value);
    json_builder_add_string_value(b, text);
  } else {
    json_builder_add_null_value(b);
  }
}

static void
add_string_or_null(JsonBuilder *b, const char *key, const char *value)
{
  json_builder_set_member_name(b, key);
  if (value != NULL)
    json_builder_add_string_value(b, value);
  else
    json_builder_add_null_value(b);
}

static void
add_group(JsonBuilder *b, VxmPciDevice *dev)
{
  gint group = vxm_pci_device_get_iommu_group(dev);

  json_builder_set_member_name(b, "iommu_group");
  if (group >= 0)
    json_builder_add_int_value(b, group);
  else
    json_builder_add_null_value(b);
}

static void
add_strv(JsonBuilder *b, const char *key, const char *const *values)
{
  json_builder_set_member_name(b, key);
  if (values == NULL) {
    json_builder_add_null_value(b);
    return;
  }
  json_builder_begin_array(b);
  for (gsize i = 0; values[i] != NULL; i++)
    json_builder_add_string_value(b, values[i]);
  json_builder_end_array(b);
}

/* The keys every device object has (functions and group members too). */
static void
add_device_common(JsonBuilder *b, VxmPciDevice *dev)
{
  add_string_or_null(b, "address", vxm_pci_device_get_address(dev));
  add_hex(b, "vendor_id", vxm_pci_device_get_vendor_id(dev), TRUE);
  add_hex(b, "device_id", vxm_pci_device_get_device_id(dev), TRUE);
  add_hex(b, "class", vxm_pci_device_get_class_code(dev), TRUE);
  add_string_or_null(b, "class_name", vxm_pci_device_get_class_name(dev));
  add_string_or_null(b, "driver", vxm_pci_device_get_driver(dev));
  add_string_or_null(b, "driver_override", vxm_pci_device_get_driver_override(dev));
  add_group(b, dev);
  /* only when it is: busy in the kernel, its driver_override unknown */
  if (vxm_pci_device_get_busy(dev) != NULL)
    add_string_or_null(b, "busy", vxm_pci_device_get_busy(dev));
}

JsonNode *
vxm_gpu_to_json(VxmGpu *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  VxmPciDevice *dev = self->device;
  gint revision = vxm_pci_device_get_revision(dev);
  gboolean has_sub = vxm_pci_device_has_subsystem(dev);

  json_builder_begin_object(b);
  add_device_common(b, dev);
  add_hex(b, "subsystem_vendor_id", vxm_pci_device_get_subsystem_vendor_id(dev), has_sub);
  add_hex(b, "subsystem_device_id", vxm_pci_device_get_subsystem_device_id(dev), has_sub);
  json_builder_set_member_name(b, "revision");
  if (revision >= 0) {
    g_autofree char *text = g_strdup_printf("%02x", (guint)revision);
    json_builder_add_string_value(b, text);
  } else {
    json_builder_add_null_value(b);
  }
  add_string_or_null(b, "vendor_name", vxm_pci_device_get_vendor_name(dev));
  add_string_or_null(b, "device_name", vxm_pci_device_get_device_name(dev));
  add_string_or_null(b, "subsystem_name", vxm_pci_device_get_subsystem_name(dev));
  json_builder_set_member_name(b, "boot_vga");
  json_builder_add_boolean_value(b, vxm_pci_device_is_boot_vga(dev));
  json_builder_set_member_name(b, "numa_node");
  json_builder_add_int_value(b, vxm_pci_device_get_numa_node(dev));
  add_strv(b, "reset_method", vxm_pci_device_get_reset_methods(dev));
  add_strv(b, "drm_nodes", vxm_pci_device_get_drm_nodes(dev));
  add_string_or_null(b, "sysfs_path", vxm_pci_device_get_sysfs_path(dev));

  json_builder_set_member_name(b, "functions");
  json_builder_begin_array(b);
  for (guint i = 0; i < self->functions->len; i++) {
    VxmPciDevice *fn = g_ptr_array_index(self->functions, i);

    json_builder_begin_object(b);
    add_device_common(b, fn);
    add_strv(b, "reset_method", vxm_pci_device_get_reset_methods(fn));
    json_builder_end_object(b);
  }
  json_builder_end_array(b);

  json_builder_set_member_name(b, "iommu_groups");
  json_builder_begin_array(b);
  for (guint i = 0; i < self->groups->len; i++)
    json_builder_add_int_value(b, g_array_index(self->groups, gint, i));
  json_builder_end_array(b);

  json_builder_set_member_name(b, "iommu_group_members");
  json_builder_begin_array(b);
  for (guint i = 0; i < self->members->len; i++) {
    VxmPciDevice *m = g_ptr_array_index(self->members, i);

    json_builder_begin_object(b);
    add_device_common(b, m);
    json_builder_set_member_name(b, "own");
    json_builder_add_boolean_value(b, vxm_gpu_owns(self, m));
    json_builder_set_member_name(b, "allowed");
    json_builder_add_boolean_value(b, member_is_allowed(self, m));
    json_builder_end_object(b);
  }
  json_builder_end_array(b);

  add_string_or_null(b, "role", vxm_gpu_role_to_string(self->role));
  json_builder_set_member_name(b, "reasons");
  json_builder_begin_array(b);
  for (guint i = 0; i < self->reasons->len; i++)
    json_builder_add_string_value(b, g_ptr_array_index(self->reasons, i));
  json_builder_end_array(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
