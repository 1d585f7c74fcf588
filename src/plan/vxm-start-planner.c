/* vxm-start-planner: every decision `vxm start` makes (see the header). */
#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "cpu/vxm-cpu-topology.h"
#include "input/vxm-input-object.h"
#include "memory/vxm-hugepage-pools.h"
#include "memory/vxm-hugepages.h"
#include "memory/vxm-memlock.h"
#include "pci/vxm-pci-holders.h"
#include "plan/vxm-start-step.h"
#include "plan/vxm-qemu-argv.h"
#include "plan/vxm-swtpm-argv.h"
#include "plan/vxm-vm-resolve.h"
#include "vm/vxm-pci-extra.h"
#include "vxm-start-planner.h"

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
decide_hugepages(VxmHostfs *hostfs, const VxmVmConfig *config, VxmStartPlan *in, GError **error)
{
  const VxmStartFacts *facts = in->facts;
  g_autoptr(VxmHugepagePools) pools = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *note = NULL;
  VxmHugepagesRequest req;
  VxmHugepagesCandidate c[2];
  const VxmHugepagesCandidate *plan, *alt = NULL;
  gint n;

  in->hugepage_node = in->hugepage_alt_node = -1;
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
  return TRUE;
}

/* The pinning plan from the host topology; -smp follows it (with vcpus = auto the plan
 * chooses the count). auto on a host whose topology cannot be read runs unpinned with a
 * note; an explicit list there is an error. */
static gboolean
decide_pinning(VxmHostfs *hostfs, const VxmVmConfig *config, VxmStartPlan *in, GError **error)
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
  in->sockets = in->pinning->sockets;
  in->cores = in->pinning->cores;
  in->threads = in->pinning->threads;
  return TRUE;
}

/* A listed device that is absent at start (the facts' inputs_missing): the watcher adds it
 * when its link appears (by-id or by-path). Its kind comes from udev's suffix, the only thing
 * known of it now; a name without one, or an eventN, is left out (the facts' note says why). */
static void
add_pending_inputs(VxmHostfs *hostfs, const VxmVmConfig *config, VxmStartPlan *in)
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
decide_nodes(VxmHostfs *hostfs, const VxmVmConfig *config, VxmStartPlan *in)
{
  g_autoptr(GStrvBuilder) inputs = g_strv_builder_new();
  g_autoptr(GStrvBuilder) vfio = g_strv_builder_new();
  g_autoptr(GArray) groups = vxm_start_facts_gpu_iommu_groups(in->facts);

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
add_extra_devices(VxmHostfs *hostfs, VxmStartPlan *in, GError **error)
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

    vxm_start_facts_add_extra_device(
        in->facts, vxm_pci_device_get_address(dev), vxm_pci_device_get_class_code(dev),
        vxm_pci_device_get_driver(dev), vxm_pci_device_get_iommu_group(dev));
  }
  return TRUE;
}

/* smbios = host as a user: the serials and the UUID are root's, vxmd reads them. NULL (with a
 * note) when vxmd cannot: the facts then read what this user may (and say what is missing);
 * a real start is refused anyway when vxmd cannot serve it. */
/* The host facts as the argv builder and the host steps take them: what was observed, with
 * the page size and node and the -smp topology the start decided. A view: its arrays are
 * @in's facts', never freed through it. */
static VxmStartFacts
decided_facts(const VxmStartPlan *in, guint64 page_size, gint page_node)
{
  VxmStartFacts view = *in->facts;

  view.hugepage_bytes = page_size;
  view.hugepage_node = page_node;
  view.sockets = in->sockets;
  view.cores = in->cores;
  view.threads = in->threads;
  return view;
}

/* The QEMU argv for the VM with the hugepages of @page_size on @page_node (0: none); the
 * argv builder's notes go to the plan's for the main argv only. */
static GStrv
build_qemu(VxmStartPlan *in, guint64 page_size, gint page_node, gboolean notes, GError **error)
{
  VxmStartFacts view = decided_facts(in, page_size, page_node);
  VxmQemuArgvInput argv_in = {0};

  argv_in.config = in->config;
  argv_in.paths = in->paths;
  argv_in.facts = &view;
  argv_in.caps = in->caps;
  argv_in.firmware = in->fw;
  argv_in.notes = notes ? in->notes : NULL;
  return vxm_qemu_argv_build(&argv_in, error);
}

static gboolean
decide(const VxmStartContext *ctx, VxmStartPlan *in, GError **error)
{
  VxmHostfs *hostfs = ctx->hostfs;
  VxmFirmwareRequest req = {0};
  const char *qemu_binary;

  if (!vxm_vm_config_resolve(in->config, hostfs, in->paths, error))
    return FALSE;
  vxm_debug_timing("start: config loaded");
  in->gpu = find_guest_gpu(hostfs, in->config, error);
  vxm_debug_timing("start: guest GPU found");
  if (in->gpu == NULL || !refuse_known(hostfs, in->config, in->gpu, error))
    return FALSE;
  if (in->config->smbios == VXM_VM_SMBIOS_HOST && ctx->dmi != NULL)
    in->facts->smbios = ctx->dmi(ctx->user_data, in->notes);
  if (!vxm_start_facts_collect(in->facts, hostfs, in->config, in->gpu, in->notes, error))
    return FALSE;
  if (!add_extra_devices(hostfs, in, error))
    return FALSE;
  in->sockets = in->facts->sockets;
  in->cores = in->facts->cores;
  in->threads = in->facts->threads;
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
  qemu_binary = in->config->resolved.qemu_binary != NULL ? in->config->resolved.qemu_binary
                                                         : in->config->qemu_binary;
  if (ctx->qemu_caps != NULL)
    in->caps = ctx->qemu_caps(qemu_binary, ctx->user_data, error);
  else
    in->caps = vxm_qemu_caps_get(qemu_binary, NULL, error);
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
    if (ctx->warn != NULL)
      ctx->warn(g_ptr_array_index(in->fw->warnings, i), ctx->user_data);
  if (in->fw->message != NULL)
    g_ptr_array_add(in->notes, g_strdup(in->fw->message));
  in->qemu = build_qemu(in, in->hugepage_size, in->hugepage_node, TRUE, error);
  if (in->qemu == NULL)
    return FALSE;
  if (in->hugepage_size > 0 && in->config->hugepages_fallback) {
    /* the same pure builder without the hugepage backend: the supervisor picks */
    in->qemu_fallback = build_qemu(in, 0, -1, FALSE, error);
    if (in->qemu_fallback == NULL)
      return FALSE;
  }
  if (in->hugepage_alt_size > 0) {
    /* the same pure builder with the other page size, for what auto may get at start */
    in->qemu_alt = build_qemu(in, in->hugepage_alt_size, in->hugepage_alt_node, FALSE, error);
    if (in->qemu_alt == NULL)
      return FALSE;
  }
  if (in->config->tpm) {
    in->swtpm = vxm_swtpm_argv_build(in->paths, NULL, error);
    if (in->swtpm == NULL)
      return FALSE;
  }
  {
    VxmStartFacts view = decided_facts(in, in->hugepage_size, in->hugepage_node);

    in->steps = vxm_start_step_plan(in->config, &view, in->paths, in->notes);
  }
  vxm_debug_timing("start: argv and plan built");
  return TRUE;
}

VxmStartPlan *
vxm_start_plan_build(const VxmStartContext *context, VxmVmPaths *paths, VxmVmConfig *config,
                     GError **error)
{
  g_autoptr(VxmStartPlan) in = g_new0(VxmStartPlan, 1);

  g_return_val_if_fail(context != NULL && context->hostfs != NULL, NULL);
  in->paths = paths;
  in->config = config;
  in->host_root =
      vxm_hostfs_is_real(context->hostfs) ? NULL : g_strdup(vxm_hostfs_get_root(context->hostfs));
  in->notes = g_ptr_array_new_with_free_func(g_free);
  in->facts = vxm_start_facts_new();
  in->hugepage_node = in->hugepage_alt_node = -1;
  if (!decide(context, in, error))
    return NULL;
  return g_steal_pointer(&in);
}

void
vxm_start_plan_free(VxmStartPlan *in)
{
  if (in == NULL)
    return;
  vxm_vm_paths_free(in->paths);
  vxm_vm_config_free(in->config);
  g_free(in->host_root);
  g_clear_object(&in->gpu);
  g_clear_pointer(&in->facts, vxm_start_facts_free);
  g_clear_pointer(&in->caps, vxm_qemu_caps_free);
  g_clear_pointer(&in->fw, vxm_firmware_free);
  g_clear_pointer(&in->notes, g_ptr_array_unref);
  g_clear_pointer(&in->steps, g_ptr_array_unref);
  g_strfreev(in->qemu);
  g_strfreev(in->qemu_fallback);
  g_strfreev(in->qemu_alt);
  g_free(in->hugepages_why);
  g_strfreev(in->swtpm);
  g_clear_pointer(&in->pinning, vxm_cpu_pinning_plan_free);
  g_free(in->pinning_why);
  g_strfreev(in->input_nodes);
  g_strfreev(in->vfio_nodes);
  g_clear_pointer(&in->input_objects, g_ptr_array_unref);
  g_clear_pointer(&in->input_pending, g_ptr_array_unref);
  g_free(in);
}

VxmSupervisorPlan *
vxm_start_plan_to_supervisor_plan(const VxmStartPlan *in, GError **error)
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
  plan->host_root = g_strdup(in->host_root);
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
  if (in->pinning != NULL)
    plan->pinning = vxm_cpu_pinning_plan_copy(in->pinning);
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
