#include "vxm-host-facts.h"

#include "pci/vxm-pci-address.h"

static void
gpu_function_free(VxmHostGpuFunction *fn)
{
  g_free(fn->address);
  g_free(fn->driver);
  g_free(fn);
}

static void
input_free(VxmHostInput *input)
{
  g_free(input->path);
  g_free(input);
}

VxmHostFacts *
vxm_host_facts_new(void)
{
  VxmHostFacts *self = g_new0(VxmHostFacts, 1);

  self->gpu_functions = g_ptr_array_new_with_free_func((GDestroyNotify)gpu_function_free);
  self->inputs = g_ptr_array_new_with_free_func((GDestroyNotify)input_free);
  self->gpu_numa_node = -1;
  self->sockets = 1;
  self->cores = 1;
  self->threads = 1;
  return self;
}

void
vxm_host_facts_free(VxmHostFacts *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref(self->gpu_functions);
  g_ptr_array_unref(self->inputs);
  g_free(self->gpu_name);
  g_free(self->looking_glass_path);
  vxm_host_smbios_free(self->smbios);
  g_free(self->monitor_name);
  g_free(self->monitor_guest_input);
  g_free(self->monitor_host_input);
  g_free(self);
}

VxmHostGpuFunction *
vxm_host_facts_add_gpu_function(VxmHostFacts *self, const char *address, guint16 class_code,
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

VxmHostInput *
vxm_host_facts_add_input(VxmHostFacts *self, const char *path, VxmHostInputKind kind,
                         gboolean primary)
{
  VxmHostInput *input = g_new0(VxmHostInput, 1);

  input->path = g_strdup(path);
  input->kind = kind;
  input->primary = primary;
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
vxm_host_facts_gpu_iommu_groups(const VxmHostFacts *self)
{
  GArray *groups = g_array_new(FALSE, FALSE, sizeof(gint));

  for (guint i = 0; i < self->gpu_functions->len; i++) {
    VxmHostGpuFunction *fn = g_ptr_array_index(self->gpu_functions, i);
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
