/* vxm-host-ops-local: host steps through the core library, in this process. */
#include "ops/vxm-host-ops-local.h"

#include <pwd.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-run-as.h"
#include "common/vxm-util.h"
#include "display/vxm-display.h"
#include "input/vxm-input-access.h"
#include "journal/vxm-journal.h"
#include "memory/vxm-hugepages.h"
#include "memory/vxm-looking-glass.h"
#include "memory/vxm-memlock.h"
#include "ops/vxm-journal-kinds.h"
#include "pci/vxm-gpu.h"
#include "pci/vxm-pci-address.h"
#include "pci/vxm-vfio.h"
#include "platform/vxm-dmi-identity.h"
#include "platform/vxm-kernel-module.h"
#include "vm/vxm-pci-extra.h"
#include "vm/vxm-vm-config.h"

struct _VxmHostOpsLocal {
  GObject parent_instance;
  VxmHostfs *hostfs;
  VxmJournalStore *store; /* the journals of the VMs this process runs (or vxmd serves) */
};

static void vxm_host_ops_local_iface_init(VxmHostOpsInterface *iface);

G_DEFINE_TYPE_WITH_CODE(VxmHostOpsLocal, vxm_host_ops_local, G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(VXM_TYPE_HOST_OPS, vxm_host_ops_local_iface_init))

/* The VM's journal, opened once: a new one, or one this VM left held (keep_bound), claimed.
 * A journal left by a dead supervisor is refused: its changes must be undone first. */
static VxmJournal *
get_journal(VxmHostOpsLocal *self, const char *vm, gboolean create, GError **error)
{
  return vxm_journal_store_take(self->store, vm, create, error);
}

static const char *
local_describe(VxmHostOps *ops)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);

  return vxm_hostfs_is_real(self->hostfs) ? "running without vxmd, as root"
                                          : "running without vxmd, on a host root (--root)";
}

/* The VM's journal if this process or a held run has one; *out NULL (and TRUE) when none. */
static gboolean
find_journal(VxmHostOpsLocal *self, const char *vm, VxmJournal **out, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  *out = get_journal(self, vm, FALSE, &local_error);
  if (*out == NULL && local_error != NULL) {
    g_propagate_error(error, g_steal_pointer(&local_error));
    return FALSE;
  }
  return TRUE;
}

static gboolean
local_detach_gpu(VxmHostOps *ops, const char *vm, const VxmHostOpsGpu *gpu, GPtrArray *report,
                 GError **error)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  VxmVfioOptions options = {.timeout_ms = gpu->timeout_ms};
  g_autoptr(VxmGpu) card = NULL;
  g_autoptr(GPtrArray) extra = NULL;
  VxmJournal *journal;

  card = vxm_gpu_find(self->hostfs, gpu->gpu_address, error);
  if (card == NULL)
    return FALSE;
  /* the host's needs (root disk, only keyboard, groups) are judged here, so vxmd judges too */
  extra = vxm_pci_extra_resolve(self->hostfs, card, gpu->extra, error);
  if (extra == NULL)
    return FALSE;
  journal = get_journal(self, vm, TRUE, error);
  if (journal == NULL)
    return FALSE;
  return vxm_vfio_detach_group_with(self->hostfs, card, extra, journal, &options, report, error);
}

static gboolean
local_restore_all(VxmHostOps *ops, const char *vm, const char *const *skip_kinds, GPtrArray *report,
                  GError **error)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  VxmJournalUndoContext ctx = {.hostfs = self->hostfs, .skip_kinds = skip_kinds};
  VxmJournal *journal;

  /* only what this process changed: a journal left by a dead supervisor is `vxm recover`'s */
  journal = vxm_journal_store_lookup(self->store, vm);
  if (journal == NULL)
    return TRUE;
  vxm_journal_register_all_kinds();
  if (!vxm_journal_undo(journal, &ctx, report, error))
    return FALSE;
  if (skip_kinds != NULL && !vxm_journal_is_clear(journal)) {
    g_autofree char *reason = g_strdup_printf("keep_bound of VM %s", vm);

    if (!vxm_journal_hold(journal, reason, error))
      return FALSE;
  }
  vxm_journal_store_forget(self->store, vm);
  return TRUE;
}

static gboolean
local_reattach_gpu(VxmHostOps *ops, const char *vm, const VxmHostOpsGpu *gpu, GPtrArray *report,
                   GError **error)
{
  /* the card stays on vfio-pci, and so does the module that drives it */
  static const char *const keep[] = {VXM_VFIO_JOURNAL_KIND, VXM_KERNEL_MODULE_JOURNAL_KIND, NULL};
  /* every kind but the binding: those are the later teardown steps' */
  static const char *const not_binding[] = {
      VXM_HUGEPAGES_JOURNAL_KIND, VXM_DEVICE_NODE_JOURNAL_KIND, VXM_LOOKING_GLASS_JOURNAL_KIND,
      VXM_DISPLAY_JOURNAL_KIND, NULL};
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  VxmJournalUndoContext ctx = {.hostfs = self->hostfs, .skip_kinds = not_binding};
  VxmJournal *journal;

  if (gpu->keep_bound)
    return local_restore_all(ops, vm, keep, report, error);
  journal = vxm_journal_store_lookup(self->store, vm);
  if (journal == NULL)
    return TRUE;
  vxm_journal_register_all_kinds();
  if (!vxm_journal_undo(journal, &ctx, report, error))
    return FALSE;
  if (vxm_journal_get_n_entries(journal) == 0 || vxm_journal_is_clear(journal)) {
    /* nothing else was journaled: the file is gone */
    vxm_journal_store_forget(self->store, vm);
  }
  return TRUE;
}

/* The monitor's input over DDC/CI from this process. To the guest, @host_input is journaled
 * before the switch (so stop and recover can switch back); the guest's GPU's connectors are
 * tried last. */
static gboolean
local_switch_monitor(VxmHostOps *ops, const char *vm, const char *monitor, const char *gpu_address,
                     guint input, guint host_input, gboolean to_guest, GPtrArray *report,
                     GError **error)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  g_auto(VxmDisplayResult) result = {0};
  g_autofree char *input_name = vxm_vm_monitor_input_to_string(input);
  VxmJournal *journal;

  if (to_guest && host_input == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "VM %s has no host_input: without it the monitor could not be switched back", vm);
    return FALSE;
  }
  journal = get_journal(self, vm, to_guest, error);
  if (journal == NULL && to_guest)
    return FALSE;
  g_clear_error(error);
  if (!vxm_display_switch(self->hostfs, monitor, gpu_address, input, to_guest, host_input, journal,
                          &result, error))
    return FALSE;
  if (report != NULL)
    g_ptr_array_add(report,
                    g_strdup_printf("%s (%s) %s %s on %s over /dev/i2c-%u%s",
                                    result.description ? result.description : result.identity,
                                    result.identity, result.written ? "switched to" : "already on",
                                    input_name, result.connector, result.bus,
                                    result.cache_hit ? ", cached bus" : ""));
  return TRUE;
}

/* Reads the journals only (no sysfs scan): a pci-bind entry not undone, on a function of the
 * GPU's slot, in a journal that is not @vm's. */
static char *
local_gpu_holder(VxmHostOps *ops, const char *vm, const char *gpu_address, GError **error)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  g_autoptr(GPtrArray) names = NULL;
  VxmPciAddress gpu;

  if (!vxm_pci_address_parse(gpu_address, &gpu, error))
    return NULL;
  names = vxm_journal_list(self->hostfs, error);
  if (names == NULL)
    return NULL;
  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    g_autoptr(VxmJournal) journal = NULL;

    journal = vxm_journal_load(self->hostfs, name, NULL);
    if (journal == NULL)
      continue;
    if (g_strcmp0(name, vm) == 0) {
      /* our own last run, if its supervisor died: nothing may change before recover */
      if (vxm_journal_get_owner_status(journal) == VXM_JOURNAL_OWNER_GONE &&
          !vxm_journal_is_clear(journal))
        return g_strdup_printf("VM %s's last run did not restore the host (its supervisor is "
                               "gone; journal %s): run `vxm recover` first",
                               vm, vxm_journal_get_path(journal));
      continue;
    }
    for (guint k = 0; k < vxm_journal_get_n_entries(journal); k++) {
      VxmJournalEntry *entry = vxm_journal_get_entry(journal, k);
      VxmPciAddress dev;

      if (g_strcmp0(entry->kind, VXM_VFIO_JOURNAL_KIND) != 0 ||
          entry->state == VXM_JOURNAL_STATE_UNDONE ||
          !vxm_pci_address_parse(vxm_journal_entry_get_string(entry, "device"), &dev, NULL) ||
          !vxm_pci_address_same_slot(&gpu, &dev))
        continue;
      {
        g_autoptr(GError) in_use = NULL;

        if (!vxm_journal_store_check_use(journal, VXM_JOURNAL_USE_GPU, gpu_address, &in_use))
          return g_strdup(in_use->message);
      }
    }
  }
  return NULL;
}

/* Issue 5: the VM's hugepages, journaled in its journal. With auto_size the engine decides
 * (1 GiB pages when they can be had on the GPU's node, else 2 MiB); the caller handles a
 * NO_SPACE error per hugepages_fallback. */
static gboolean
local_reserve_hugepages(VxmHostOps *ops, const char *vm, const VxmHostOpsHugepages *hugepages,
                        guint64 *out_page_size, GPtrArray *report, GError **error)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  g_autoptr(VxmHugepages) hp = NULL;
  g_autofree char *text = NULL;
  VxmHugepagesRequest req;
  VxmJournal *journal;
  guint64 page_size = hugepages->page_size;

  if (page_size != VXM_HUGEPAGE_SIZE_2M && page_size != VXM_HUGEPAGE_SIZE_1G) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
                "hugepages of %" G_GUINT64_FORMAT " bytes: only 2 MiB and 1 GiB pages are used",
                page_size);
    return FALSE;
  }
  journal = get_journal(self, vm, TRUE, error);
  if (journal == NULL)
    return FALSE;
  vxm_hugepages_register_journal_kind();
  vxm_hugepages_request_init(&req);
  if (hugepages->auto_size)
    req.setting = VXM_VM_HUGEPAGES_AUTO;
  else
    req.setting = page_size == VXM_HUGEPAGE_SIZE_1G ? VXM_VM_HUGEPAGES_1G : VXM_VM_HUGEPAGES_2M;
  req.node = hugepages->node;
  req.drop_caches = hugepages->drop_caches;
  req.compact = hugepages->compact;
  req.journal = journal;
  hp = vxm_hugepages_reserve(self->hostfs, page_size * hugepages->count, &req, error);
  if (hp == NULL)
    return FALSE;
  if (hp->page_size == 0) {
    /* auto on a host without a fitting size: the caller planned pages, so this is a refusal */
    g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED, "%s",
                hp->warning != NULL ? hp->warning : "no hugepages were reserved");
    return FALSE;
  }
  if (out_page_size != NULL)
    *out_page_size = hp->page_size;
  text = vxm_hugepages_describe(hp);
  if (report != NULL)
    g_ptr_array_add(report, g_strdup_printf("hugepages: %s", text));
  return TRUE;
}

static gboolean
local_release_hugepages(VxmHostOps *ops, const char *vm, GPtrArray *report, GError **error)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  VxmJournal *journal;

  if (!find_journal(self, vm, &journal, error))
    return FALSE;
  if (journal == NULL)
    return TRUE; /* nothing was reserved */
  return vxm_hugepages_release_journaled(self->hostfs, journal, report, error);
}

/* Issue 5: the shared memory for the VM's user (this process's, who runs QEMU), journaled;
 * restore_all and recover remove what vxm made. */
static gboolean
local_prepare_looking_glass(VxmHostOps *ops, const char *vm, guint64 bytes, GPtrArray *report,
                            GError **error)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  g_autoptr(VxmLookingGlass) lg = NULL;
  g_autofree char *size = NULL;
  VxmJournal *journal;
  uid_t uid;
  gid_t gid;

  journal = get_journal(self, vm, TRUE, error);
  if (journal == NULL)
    return FALSE;
  vxm_looking_glass_register_journal_kind();
  /* QEMU's user: this process's, or as root the sudo user's (vxm-run-as.h) */
  vxm_run_as_owner(&uid, &gid);
  lg = vxm_looking_glass_prepare(self->hostfs, bytes, uid, gid, journal, error);
  if (lg == NULL)
    return FALSE;
  size = vxm_format_bytes(lg->size);
  if (report != NULL)
    g_ptr_array_add(report, g_strdup_printf("Looking Glass: %s, %s", lg->host_path, size));
  return TRUE;
}

/* Issue 5/8: as root, prlimit(2) on QEMU through its pidfd (vxm-memlock.h). Nothing to journal:
 * the limit ends with the process. */
static gboolean
local_raise_memlock(VxmHostOps *ops, const char *vm, int pidfd, guint64 bytes, GPtrArray *report,
                    GError **error)
{
  g_autofree char *size = NULL;

  if (!vxm_memlock_raise_pidfd(pidfd, bytes, error))
    return FALSE;
  size = vxm_format_bytes(bytes);
  if (report != NULL)
    g_ptr_array_add(report, g_strdup_printf("RLIMIT_MEMLOCK raised to %s", size));
  return TRUE;
}

static JsonNode *
local_journal_status(VxmHostOps *ops, const char *vm, GError **error)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  g_autoptr(VxmJournal) journal = NULL;
  g_autoptr(GError) local_error = NULL;

  journal = vxm_journal_load(self->hostfs, vm, &local_error);
  if (journal == NULL) {
    if (g_error_matches(local_error, VXM_ERROR, VXM_ERROR_NOT_FOUND))
      return json_node_new(JSON_NODE_NULL);
    g_propagate_error(error, g_steal_pointer(&local_error));
    return NULL;
  }
  return vxm_journal_to_json(journal);
}

static JsonNode *
local_binding_status(VxmHostOps *ops, const char *gpu_address, GError **error)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  g_autoptr(VxmGpu) card = vxm_gpu_find(self->hostfs, gpu_address, error);

  if (card == NULL)
    return NULL;
  return vxm_vfio_binding_status(self->hostfs, card, error);
}

/* Input nodes (and any device node) to this process's user, who runs QEMU: journaled
 * "device-node-owner" entries, undone by revoke_devices, restore_all and recover. */
static gboolean
local_grant_devices(VxmHostOps *ops, const char *vm, const char *const *nodes, gint64 to_uid,
                    GPtrArray *report, GError **error)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  VxmJournal *journal;
  uid_t uid;
  gid_t gid;

  if (nodes == NULL || nodes[0] == NULL)
    return TRUE;
  journal = get_journal(self, vm, TRUE, error);
  if (journal == NULL)
    return FALSE;
  /* to QEMU's user: this process's, or as root the sudo user's (vxm-run-as.h); vxmd names its
   * caller */
  vxm_run_as_owner(&uid, &gid);
  if (to_uid != VXM_HOST_OPS_QEMU_USER)
    uid = (uid_t)to_uid;
  for (gsize i = 0; nodes[i] != NULL; i++)
    if (!vxm_device_node_grant(self->hostfs, journal, nodes[i], uid, (gid_t)-1, report, error))
      return FALSE;
  return TRUE;
}

static gboolean
local_revoke_devices(VxmHostOps *ops, const char *vm, GPtrArray *report, GError **error)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  VxmJournal *journal;

  if (!find_journal(self, vm, &journal, error))
    return FALSE;
  if (journal == NULL)
    return TRUE; /* nothing was granted */
  return vxm_device_node_revoke_all(self->hostfs, journal, report, error);
}

static JsonNode *
local_dmi_identity(VxmHostOps *ops, GError **error)
{
  (void)error;
  return vxm_dmi_identity_read(VXM_HOST_OPS_LOCAL(ops)->hostfs);
}

/* Root asks: the grants go to QEMU's user (this process's, or the sudo user's). */
static gboolean
local_hello(VxmHostOps *ops, VxmHostOpsHello *out, GError **error)
{
  struct passwd pw, *res = NULL;
  char buf[4096];
  uid_t uid;
  gid_t gid;

  (void)ops;
  (void)error;
  vxm_run_as_owner(&uid, &gid);
  out->uid = (guint)uid;
  out->user = getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res != NULL
                  ? g_strdup(pw.pw_name)
                  : g_strdup_printf("%u", (guint)uid);
  out->run_vm = TRUE;
  out->via = g_strdup("root");
  out->refusal = NULL;
  return TRUE;
}

/* `vxm detach`: one record per card, refused while another vxm (or a VM) has it. */
static gboolean
local_hold_gpu(VxmHostOps *ops, const VxmHostOpsGpu *gpu, char **out_held_by, GPtrArray *report,
               GError **error)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  VxmVfioOptions options = {.timeout_ms = gpu->timeout_ms, .force = gpu->force};
  g_autoptr(VxmGpu) card = NULL;
  g_autoptr(GPtrArray) existing = NULL;
  g_autoptr(VxmJournal) journal = NULL;
  g_autofree char *name = NULL;

  *out_held_by = NULL;
  card = vxm_gpu_find(self->hostfs, gpu->gpu_address, error);
  if (card == NULL)
    return FALSE;
  existing = vxm_vfio_find_journals(self->hostfs, card, NULL, error);
  if (existing == NULL)
    return FALSE;
  for (guint i = 0; i < existing->len; i++) {
    VxmJournal *other = g_ptr_array_index(existing, i);

    if (vxm_journal_get_held(other) != NULL) {
      *out_held_by = g_strdup(vxm_journal_get_held(other));
      return TRUE;
    }
    if (!vxm_journal_store_check_use(other, VXM_JOURNAL_USE_DETACH, vxm_gpu_get_address(card),
                                     error))
      return FALSE;
  }
  name = vxm_vfio_manual_journal_name(card);
  journal = vxm_journal_new(self->hostfs, name, error);
  if (journal == NULL)
    return FALSE;
  if (!vxm_vfio_detach_group(self->hostfs, card, journal, &options, report, error)) {
    g_autoptr(GError) local = NULL;

    /* put back completely: no record needed; anything left stays for vxm recover */
    if (vxm_journal_is_clear(journal) && !vxm_journal_remove(journal, &local))
      g_prefix_error(error, "%s; and ", local->message);
    return FALSE;
  }
  return vxm_journal_hold(journal, "detached by hand with vxm detach", error);
}

/* `vxm reattach`: every journal of the card but a live VM's; each failure is said, the last as
 * @error. */
static gboolean
local_release_held_gpu(VxmHostOps *ops, const VxmHostOpsGpu *gpu, gboolean *out_found,
                       GPtrArray *problems, GPtrArray *report, GError **error)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  VxmVfioOptions options = {.timeout_ms = gpu->timeout_ms};
  g_autoptr(VxmGpu) card = NULL;
  g_autoptr(GPtrArray) journals = NULL;
  g_autoptr(GError) last = NULL;

  *out_found = FALSE;
  card = vxm_gpu_find(self->hostfs, gpu->gpu_address, error);
  if (card == NULL)
    return FALSE;
  vxm_journal_register_all_kinds();
  journals = vxm_vfio_find_journals(self->hostfs, card, problems, error);
  if (journals == NULL)
    return FALSE;
  if (journals->len == 0) {
    g_autoptr(GError) bound = NULL;

    if (!vxm_vfio_check_bound(self->hostfs, card, &bound))
      return TRUE;
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                "%s is on vfio-pci but vxm has no record of its original drivers (static "
                "binding, or bound by another tool): vxm status shows how it is bound",
                vxm_gpu_get_address(card));
    return FALSE;
  }
  *out_found = TRUE;
  for (guint i = 0; i < journals->len; i++) {
    VxmJournal *journal = g_ptr_array_index(journals, i);
    g_autoptr(GError) local = NULL;

    if (vxm_journal_store_check_use(journal, VXM_JOURNAL_USE_REATTACH, vxm_gpu_get_address(card),
                                    &local) &&
        vxm_vfio_reattach_group(self->hostfs, journal, &options, report, &local))
      continue;
    if (last != NULL && problems != NULL)
      g_ptr_array_add(problems, g_strdup(last->message));
    g_clear_error(&last);
    last = g_steal_pointer(&local);
  }
  if (last != NULL) {
    g_propagate_error(error, g_steal_pointer(&last));
    return FALSE;
  }
  return TRUE;
}

/* The one recover: what this process holds is given back; a journal on disk is undone when its
 * process is gone, and removed when nothing is left in it (a held one too: it holds nothing). */
static gboolean
local_recover(VxmHostOps *ops, const char *name, GPtrArray *report, GError **error)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  VxmJournalUndoContext ctx = {.hostfs = self->hostfs};
  g_autoptr(VxmJournal) journal = NULL;

  vxm_journal_register_all_kinds();
  if (vxm_journal_store_lookup(self->store, name) != NULL)
    return local_restore_all(ops, name, NULL, report, error);
  journal = vxm_journal_load(self->hostfs, name, error);
  if (journal == NULL)
    return FALSE;
  if (!vxm_journal_store_check_use(journal, VXM_JOURNAL_USE_RECOVER, name, error))
    return FALSE;
  /* undo removes the file once nothing is left in it */
  return vxm_journal_claim(journal, error) && vxm_journal_undo(journal, &ctx, report, error);
}

static JsonNode *
local_list_journals(VxmHostOps *ops, GError **error)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(ops);
  g_autoptr(GPtrArray) names = vxm_journal_list(self->hostfs, error);
  g_autoptr(JsonBuilder) b = json_builder_new();

  if (names == NULL)
    return NULL;
  json_builder_begin_array(b);
  for (guint i = 0; i < names->len; i++) {
    g_autoptr(GError) local = NULL;
    g_autoptr(VxmJournal) journal =
        vxm_journal_load(self->hostfs, g_ptr_array_index(names, i), &local);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, g_ptr_array_index(names, i));
    if (journal == NULL) {
      json_builder_set_member_name(b, "status");
      json_builder_add_string_value(b, "corrupt");
      json_builder_set_member_name(b, "error");
      json_builder_add_string_value(b, local->message);
      json_builder_end_object(b);
      continue;
    }
    vxm_journal_add_owner_members(journal, b);
    json_builder_set_member_name(b, "entries");
    json_builder_add_int_value(b, vxm_journal_get_n_entries(journal));
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  return json_builder_get_root(b);
}

static void
vxm_host_ops_local_iface_init(VxmHostOpsInterface *iface)
{
  iface->describe = local_describe;
  iface->hello = local_hello;
  iface->hold_gpu = local_hold_gpu;
  iface->release_held_gpu = local_release_held_gpu;
  iface->recover = local_recover;
  iface->list_journals = local_list_journals;
  iface->detach_gpu = local_detach_gpu;
  iface->reattach_gpu = local_reattach_gpu;
  iface->restore_all = local_restore_all;
  iface->switch_monitor = local_switch_monitor;
  iface->grant_devices = local_grant_devices;
  iface->revoke_devices = local_revoke_devices;
  iface->gpu_holder = local_gpu_holder;
  iface->reserve_hugepages = local_reserve_hugepages;
  iface->release_hugepages = local_release_hugepages;
  iface->raise_memlock = local_raise_memlock;
  iface->prepare_looking_glass = local_prepare_looking_glass;
  iface->journal_status = local_journal_status;
  iface->binding_status = local_binding_status;
  iface->dmi_identity = local_dmi_identity;
}

static void
vxm_host_ops_local_finalize(GObject *object)
{
  VxmHostOpsLocal *self = VXM_HOST_OPS_LOCAL(object);

  g_clear_object(&self->store);
  g_clear_object(&self->hostfs);
  G_OBJECT_CLASS(vxm_host_ops_local_parent_class)->finalize(object);
}

static void
vxm_host_ops_local_class_init(VxmHostOpsLocalClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = vxm_host_ops_local_finalize;
}

static void
vxm_host_ops_local_init(VxmHostOpsLocal *self)
{
  (void)self;
}

VxmHostOps *
vxm_host_ops_local_new_with_store(VxmHostfs *hostfs, VxmJournalStore *store)
{
  VxmHostOpsLocal *self = g_object_new(VXM_TYPE_HOST_OPS_LOCAL, NULL);

  self->hostfs = g_object_ref(hostfs);
  self->store = g_object_ref(store);
  return VXM_HOST_OPS(self);
}

VxmHostOps *
vxm_host_ops_local_new(VxmHostfs *hostfs)
{
  g_autoptr(VxmJournalStore) store = vxm_journal_store_new(hostfs);

  return vxm_host_ops_local_new_with_store(hostfs, store);
}
