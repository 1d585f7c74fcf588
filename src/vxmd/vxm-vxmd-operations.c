/* vxm-vxmd-operations: what vxmd does for each request, as one table.
 *
 * Each operation is a row: the request (its name and fields are the protocol's, shared with the
 * client in ops/vxm-vxmd-protocol.c), the access it needs (vxm-vxmd-auth), whether it gives
 * back (the VM's own user may ask without a fresh polkit grant), how the caller's ownership of
 * the VM is checked, and its handler. Authorisation, the owner check and dispatch all come
 * from the row, so adding an operation is a row here and a name in the protocol.
 */
#include <stdio.h>
#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "platform/vxm-dmi-identity.h"
#include "vxmd/vxm-vxmd-private.h"

typedef enum {
  VXM_VXMD_OWNER_NONE,      /* names no VM, or only reads */
  VXM_VXMD_OWNER_MUST_OWN,  /* checked before the handler: the caller's VM (call->exists) */
  VXM_VXMD_OWNER_CLAIMS,    /* the handler claims the VM for the caller after its checks */
  VXM_VXMD_OWNER_OWN_RULES, /* the handler checks: its order or held journals matter */
} VxmVxmdOwner;

typedef enum {
  VXM_VXMD_TAKES,              /* takes from the host: needs the access now */
  VXM_VXMD_GIVES_BACK,         /* gives back or reads: the VM's user may always ask */
  VXM_VXMD_GIVES_BACK_TO_HOST, /* gives back only when not to_guest (the monitor) */
} VxmVxmdDirection;

typedef struct {
  VxmVxmd *daemon;
  VxmVxmdPeer *peer;
  const VxmVxmdRequest *req;
  gboolean exists; /* VXM_VXMD_OWNER_MUST_OWN: the VM has a journal this vxmd holds */
  GPtrArray *report;
  JsonNode **out_result;
} VxmVxmdCall;

typedef struct {
  VxmVxmdAccess access;
  VxmVxmdDirection direction;
  VxmVxmdOwner owner;
  gboolean alone; /* may undo and let go of the VM's journal: holds the VM's lock alone */
  gboolean (*handle)(VxmVxmdCall *call, GError **error);
} VxmVxmdOperation;

static pid_t
pidfd_get_pid(int pidfd)
{
  g_autofree char *path = g_strdup_printf("/proc/self/fdinfo/%d", pidfd);
  g_autofree char *text = NULL;
  const char *line;
  gint64 pid = 0;

  if (!g_file_get_contents(path, &text, NULL, NULL))
    return 0;
  line = strstr(text, "\nPid:");
  if (line == NULL)
    return 0;
  line += 5;
  while (*line == ' ' || *line == '\t')
    line++;
  pid = g_ascii_strtoll(line, NULL, 10);
  return (pid_t)pid;
}

/* The limit before the owner: a size no guest can pin is refused whoever asks. */
static gboolean
handle_raise_memlock(VxmVxmdCall *call, GError **error)
{
  VxmVxmd *self = call->daemon;
  VxmVxmdPeer *peer = call->peer;
  const VxmVxmdRequest *req = call->req;
  g_autofree char *status_path = NULL;
  g_autofree char *status = NULL;
  const char *uid_line;
  gboolean exists = FALSE;
  pid_t pid;
  int pidfd;

  if (!vxm_vxmd_check_memlock_bytes(self, req->bytes, error))
    return FALSE;
  if (!vxm_vxmd_check_vm_owner(self, peer, req->vm, &exists, error))
    return FALSE;
  if (peer->n_fds != 1) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "raise-memlock needs exactly one pidfd of the process (SCM_RIGHTS), got %u",
                peer->n_fds);
    return FALSE;
  }
  pidfd = peer->fds[0];
  pid = pidfd_get_pid(pidfd);
  if (pid == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "raise-memlock: the fd passed is not a pidfd (pidfd_open(2) the process)");
    return FALSE;
  }
  if (pid < 0 || !vxm_pidfd_is_alive(pidfd)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                "raise-memlock: the process of that pidfd has exited: nothing raised");
    return FALSE;
  }
  status_path = g_strdup_printf(VXM_HOST_PROC "/%d/status", (int)pid);
  if (!vxm_hostfs_read_file(self->proc_fs, status_path, &status, NULL, error))
    return FALSE;
  uid_line = strstr(status, "\nUid:");
  if (peer->uid != 0) {
    guint ruid = G_MAXUINT, euid = G_MAXUINT, suid = G_MAXUINT;

    if (uid_line == NULL || sscanf(uid_line + 5, "%u %u %u", &ruid, &euid, &suid) != 3 ||
        ruid != peer->uid || euid != peer->uid || suid != peer->uid) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                  "raise-memlock: process %d is not yours (uid %u): vxmd raises the limit only "
                  "of the caller's own processes",
                  (int)pid, (guint)peer->uid);
      return FALSE;
    }
  }
  /* the pidfd pins the process we checked: the prlimit cannot hit a recycled pid */
  return vxm_host_ops_raise_memlock(self->ops, req->vm, pidfd, req->bytes, call->report, error);
}

static JsonNode *
journal_list_json(VxmVxmd *self, GError **error)
{
  g_autoptr(GPtrArray) names = vxm_journal_list(self->hostfs, error);
  g_autoptr(JsonBuilder) b = json_builder_new();

  if (names == NULL)
    return NULL;
  json_builder_begin_array(b);
  for (guint i = 0; i < names->len; i++) {
    g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, names->pdata[i], NULL);

    if (journal == NULL)
      continue;
    json_builder_begin_object(b);
    g_autofree char *shown = vxm_vxmd_vm_display_name(names->pdata[i]);

    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, shown);
    json_builder_set_member_name(b, "journal");
    json_builder_add_string_value(b, names->pdata[i]);
    json_builder_set_member_name(b, "uid");
    json_builder_add_int_value(b, vxm_vxmd_journal_uid(journal));
    json_builder_set_member_name(b, "entries");
    json_builder_add_int_value(b, vxm_journal_get_n_entries(journal));
    json_builder_set_member_name(b, "clear");
    json_builder_add_boolean_value(b, vxm_journal_is_clear(journal));
    vxm_journal_add_owner_members(journal, b);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  return json_builder_get_root(b);
}

/* A journal whose vxm and vxmd are gone (or any but live ones, for root). */
static gboolean
recover_one(VxmVxmd *self, const VxmVxmdPeer *peer, const char *vm, GPtrArray *report,
            GError **error)
{
  g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, vm, NULL);
  gboolean exists = FALSE;

  /* a dead vxmd's (or vxm's) journal: not this vxmd's to look up, only to undo */
  if (journal != NULL && vxm_journal_get_owner_status(journal) == VXM_JOURNAL_OWNER_GONE) {
    if (!vxm_vxmd_refuse_other_owner(journal, peer, vm, error))
      return FALSE;
  } else if (!vxm_vxmd_check_vm_owner(self, peer, vm, &exists, error)) {
    return FALSE;
  }
  /* a VM's vxm that still runs gives the host back in its own teardown (pulling the GPU from
   * under QEMU would hang the unbind); recover is for what a vxm that is gone left behind */
  if (journal == NULL)
    journal = vxm_journal_load(self->hostfs, vm, NULL);
  if (journal != NULL && vxm_vxmd_journal_client_alive(journal)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                "VM %s's vxm (pid %" G_GINT64_FORMAT ") still runs: stop it (vxm stop %s); "
                "recover is for what a vxm that is gone left behind",
                vm, vxm_vxmd_journal_pid(journal), vm);
    return FALSE;
  }
  return vxm_host_ops_recover(self->ops, vm, report, error);
}

static gboolean
handle_hello(VxmVxmdCall *call, GError **error)
{
  VxmVxmdPeer *peer = call->peer;
  g_autoptr(JsonBuilder) b = json_builder_new();
  /* whether this caller may run VMs (and why not), for `vxm check` */
  g_autoptr(GError) refusal = NULL;
  gboolean may = vxm_vxmd_auth_check(call->daemon->auth, call->daemon->proc_fs, peer->caller,
                                     VXM_VXMD_ACCESS_RUN_VM, &refusal);

  (void)error;
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "version");
  json_builder_add_int_value(b, VXM_VXMD_PROTOCOL_VERSION);
  json_builder_set_member_name(b, "uid");
  json_builder_add_int_value(b, peer->uid);
  json_builder_set_member_name(b, "user");
  json_builder_add_string_value(b, peer->user);
  json_builder_set_member_name(b, "run_vm");
  json_builder_add_boolean_value(b, may);
  json_builder_set_member_name(b, "via");
  json_builder_add_string_value(b, !may                   ? "none"
                                   : peer->uid == 0       ? "root"
                                   : peer->caller->member ? "group"
                                                          : "polkit");
  if (refusal != NULL) {
    json_builder_set_member_name(b, "refusal");
    json_builder_add_string_value(b, refusal->message);
  }
  json_builder_end_object(b);
  *call->out_result = json_builder_get_root(b);
  return TRUE;
}

static gboolean
handle_prepare_gpu(VxmVxmdCall *call, GError **error)
{
  VxmVxmd *self = call->daemon;
  const VxmVxmdRequest *req = call->req;
  VxmHostOpsGpu gpu = {.gpu_address = req->gpu,
                       .timeout_ms = req->timeout_ms,
                       .keep_bound = req->keep_bound,
                       .extra = (const char *const *)req->extra};
  g_autofree char *holder = NULL;
  gboolean ok;

  if (!vxm_vxmd_check_gpu_policy(self, req->gpu, error))
    return FALSE;
  if (!vxm_vxmd_claim_gpu_slot(self, req->gpu, req->vm, error))
    return FALSE;
  holder = vxm_host_ops_gpu_holder(self->ops, req->vm, req->gpu, error);
  if (holder != NULL)
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_BUSY, holder);
  ok = holder == NULL && (error == NULL || *error == NULL) &&
       vxm_vxmd_claim_vm(self, call->peer, req->vm, error) != NULL &&
       vxm_host_ops_detach_gpu(self->ops, req->vm, &gpu, call->report, error);
  vxm_vxmd_release_gpu_slot(self, req->gpu);
  return ok;
}

static gboolean
handle_release_gpu(VxmVxmdCall *call, GError **error)
{
  VxmVxmd *self = call->daemon;
  const VxmVxmdRequest *req = call->req;
  VxmHostOpsGpu gpu = {
      .gpu_address = req->gpu, .timeout_ms = req->timeout_ms, .keep_bound = req->keep_bound};
  gboolean ok;

  if (!call->exists) {
    g_ptr_array_add(call->report, g_strdup_printf("VM %s holds nothing on this host", req->vm));
    return TRUE;
  }
  if (!vxm_vxmd_claim_gpu_slot(self, req->gpu, req->vm, error))
    return FALSE;
  ok = vxm_host_ops_reattach_gpu(self->ops, req->vm, &gpu, call->report, error);
  vxm_vxmd_release_gpu_slot(self, req->gpu);
  return ok;
}

/* Every node is checked before the VM is claimed: a refusal leaves no journal behind; two VMs
 * asking for one keyboard at once cannot both pass the check. */
static gboolean
handle_grant_nodes(VxmVxmdCall *call, GError **error)
{
  VxmVxmd *self = call->daemon;
  const VxmVxmdRequest *req = call->req;
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GMutexLocker) grant_locker = g_mutex_locker_new(&self->grant_lock);
  VxmJournal *journal = NULL;
  gboolean exists = FALSE;

  if (!vxm_vxmd_check_vm_owner(self, call->peer, req->vm, &exists, error))
    return FALSE;
  if (exists)
    journal = vxm_journal_store_take(self->store, req->vm, FALSE, NULL);
  for (gsize i = 0; req->nodes[i] != NULL; i++) {
    char *path = vxm_vxmd_node_host_path(req->nodes[i]);

    g_ptr_array_add(paths, path);
    if (g_str_has_prefix(req->nodes[i], "vfio:")) {
      gint64 group = g_ascii_strtoll(req->nodes[i] + 5, NULL, 10);

      if (!vxm_vxmd_check_vfio_group(self, journal, req->vm, group, error))
        return FALSE;
    } else if (!vxm_vxmd_check_input_node(self, req->vm, path, error)) {
      return FALSE;
    }
  }
  if (vxm_vxmd_claim_vm(self, call->peer, req->vm, error) == NULL)
    return FALSE;
  g_ptr_array_add(paths, NULL);
  return vxm_host_ops_grant_devices_to(self->ops, req->vm, (const char *const *)paths->pdata,
                                       call->peer->uid, call->report, error);
}

static gboolean
handle_revoke_nodes(VxmVxmdCall *call, GError **error)
{
  return !call->exists ||
         vxm_host_ops_revoke_devices(call->daemon->ops, call->req->vm, call->report, error);
}

static gboolean
handle_reserve_hugepages(VxmVxmdCall *call, GError **error)
{
  VxmVxmd *self = call->daemon;
  const VxmVxmdRequest *req = call->req;
  VxmHostOpsHugepages hugepages = {.page_size = req->page_size,
                                   .count = req->count,
                                   .node = req->numa_node,
                                   .auto_size = req->auto_size,
                                   .drop_caches = req->drop_caches,
                                   .compact = req->compact};
  guint64 page_size = 0;
  JsonObject *result;

  if (!vxm_vxmd_check_hugepages_request(self, call->peer, req, error) ||
      vxm_vxmd_claim_vm(self, call->peer, req->vm, error) == NULL)
    return FALSE;
  if (!vxm_host_ops_reserve_hugepages(self->ops, req->vm, &hugepages, &page_size, call->report,
                                      error))
    return FALSE;
  result = json_object_new();
  json_object_set_int_member(result, "page_size", (gint64)page_size);
  *call->out_result = json_node_init_object(json_node_alloc(), result);
  json_object_unref(result);
  return TRUE;
}

static gboolean
handle_release_hugepages(VxmVxmdCall *call, GError **error)
{
  return !call->exists ||
         vxm_host_ops_release_hugepages(call->daemon->ops, call->req->vm, call->report, error);
}

/* To the guest claims the VM; back to the host only for its owner. */
static gboolean
handle_ddc_switch(VxmVxmdCall *call, GError **error)
{
  VxmVxmd *self = call->daemon;
  const VxmVxmdRequest *req = call->req;
  gboolean exists = FALSE;

  if (!vxm_vxmd_check_monitor_switch(self, call->peer, req, error))
    return FALSE;
  if (req->to_guest ? vxm_vxmd_claim_vm(self, call->peer, req->vm, error) == NULL
                    : !vxm_vxmd_check_vm_owner(self, call->peer, req->vm, &exists, error))
    return FALSE;
  return vxm_host_ops_switch_monitor(self->ops, req->vm, req->monitor, req->gpu, req->input,
                                     req->host_input, req->to_guest, call->report, error);
}

static gboolean
handle_dmi_identity(VxmVxmdCall *call, GError **error)
{
  (void)error;
  *call->out_result = vxm_dmi_identity_read(call->daemon->hostfs);
  return TRUE;
}

static gboolean
handle_journal_status(VxmVxmdCall *call, GError **error)
{
  if (call->req->vm == NULL)
    *call->out_result = journal_list_json(call->daemon, error);
  else
    *call->out_result = vxm_host_ops_journal_status(call->daemon->ops, call->req->vm, error);
  return *call->out_result != NULL;
}

/* One VM, or everyone's for root; for a user, their own VMs whose vxm is gone. */
static gboolean
handle_recover(VxmVxmdCall *call, GError **error)
{
  VxmVxmd *self = call->daemon;
  VxmVxmdPeer *peer = call->peer;
  g_autoptr(GPtrArray) names = NULL;
  gboolean ok;

  /* one VM: its lock is held already; every VM: each one's in turn */
  if (call->req->vm != NULL)
    return recover_one(self, peer, call->req->vm, call->report, error);
  names = vxm_journal_list(self->hostfs, error);
  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len; i++) {
    g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, names->pdata[i], NULL);
    g_autoptr(GError) local_error = NULL;

    if (journal == NULL || (peer->uid != 0 && (vxm_vxmd_journal_uid(journal) != (gint64)peer->uid ||
                                               vxm_vxmd_journal_client_alive(journal))))
      continue;
    vxm_journal_store_lock_vm(self->store, names->pdata[i], TRUE);
    ok = recover_one(self, peer, names->pdata[i], call->report, &local_error);
    vxm_journal_store_unlock_vm(self->store, names->pdata[i], TRUE);
    if (!ok)
      g_ptr_array_add(call->report, g_strdup_printf("%s: %s", (const char *)names->pdata[i],
                                                    local_error->message));
  }
  return TRUE;
}

/* A journal release-gpu held for keep_bound stays held: the GPU waits on vfio-pci for the VM's
 * next start (looking it up would claim it). */
static gboolean
handle_restore_all(VxmVxmdCall *call, GError **error)
{
  VxmVxmd *self = call->daemon;
  const VxmVxmdRequest *req = call->req;
  g_autoptr(VxmJournal) held = vxm_journal_load(self->hostfs, req->vm, NULL);
  gboolean exists = FALSE;

  if (held != NULL && vxm_journal_get_owner_status(held) == VXM_JOURNAL_OWNER_HELD) {
    if (!vxm_vxmd_refuse_other_owner(held, call->peer, req->vm, error))
      return FALSE;
    g_ptr_array_add(call->report, g_strdup_printf("VM %s's GPU stays on vfio-pci (%s)", req->vm,
                                                  vxm_journal_get_held(held)));
    return TRUE;
  }
  if (!vxm_vxmd_check_vm_owner(self, call->peer, req->vm, &exists, error))
    return FALSE;
  return !exists || vxm_host_ops_restore_all(self->ops, req->vm, NULL, call->report, error);
}

/* Read-only, for any member (like journal-status): the journals are root's 0600 files. */
static gboolean
handle_gpu_status(VxmVxmdCall *call, GError **error)
{
  VxmVxmd *self = call->daemon;
  const VxmVxmdRequest *req = call->req;
  g_autoptr(GError) holder_error = NULL;
  g_autofree char *holder = NULL;
  g_autoptr(JsonNode) devices = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new();

  devices = vxm_host_ops_binding_status(self->ops, req->gpu, error);
  if (devices == NULL)
    return FALSE;
  holder = vxm_host_ops_gpu_holder(self->ops, req->vm, req->gpu, &holder_error);
  if (holder_error != NULL) {
    g_propagate_error(error, g_steal_pointer(&holder_error));
    return FALSE;
  }
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "holder");
  if (holder != NULL)
    json_builder_add_string_value(b, holder);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "devices");
  json_builder_add_value(b, g_steal_pointer(&devices));
  json_builder_end_object(b);
  *call->out_result = json_builder_get_root(b);
  return TRUE;
}

/* Hello is for anyone (vxm asks it first, and a stranger learns only their own uid); a monitor
 * switch is its own polkit action; everything else (a GPU, nodes, hugepages, memlock, DMI
 * identity, status, recovery) is running VMs. What gives back (or only reads) the VM's own user
 * may ask without a fresh grant, so that a VM started in the active session is still torn down
 * (and its status read) after that session went inactive or its user switched away. */
#define RUN_VM VXM_VXMD_ACCESS_RUN_VM
static const VxmVxmdOperation operations[VXM_VXMD_N_OPS] = {
    [VXM_VXMD_OP_HELLO] = {VXM_VXMD_ACCESS_ANYONE, VXM_VXMD_TAKES, VXM_VXMD_OWNER_NONE, FALSE,
                           handle_hello},
    [VXM_VXMD_OP_PREPARE_GPU] = {RUN_VM, VXM_VXMD_TAKES, VXM_VXMD_OWNER_CLAIMS, FALSE,
                                 handle_prepare_gpu},
    [VXM_VXMD_OP_RELEASE_GPU] = {RUN_VM, VXM_VXMD_GIVES_BACK, VXM_VXMD_OWNER_MUST_OWN, TRUE,
                                 handle_release_gpu},
    [VXM_VXMD_OP_GRANT_NODES] = {RUN_VM, VXM_VXMD_TAKES, VXM_VXMD_OWNER_OWN_RULES, FALSE,
                                 handle_grant_nodes},
    [VXM_VXMD_OP_REVOKE_NODES] = {RUN_VM, VXM_VXMD_GIVES_BACK, VXM_VXMD_OWNER_MUST_OWN, FALSE,
                                  handle_revoke_nodes},
    [VXM_VXMD_OP_RESERVE_HUGEPAGES] = {RUN_VM, VXM_VXMD_TAKES, VXM_VXMD_OWNER_CLAIMS, FALSE,
                                       handle_reserve_hugepages},
    [VXM_VXMD_OP_RELEASE_HUGEPAGES] = {RUN_VM, VXM_VXMD_GIVES_BACK, VXM_VXMD_OWNER_MUST_OWN, FALSE,
                                       handle_release_hugepages},
    [VXM_VXMD_OP_RAISE_MEMLOCK] = {RUN_VM, VXM_VXMD_TAKES, VXM_VXMD_OWNER_OWN_RULES, FALSE,
                                   handle_raise_memlock},
    [VXM_VXMD_OP_DDC_SWITCH] = {VXM_VXMD_ACCESS_SWITCH_MONITOR, VXM_VXMD_GIVES_BACK_TO_HOST,
                                VXM_VXMD_OWNER_OWN_RULES, FALSE, handle_ddc_switch},
    [VXM_VXMD_OP_DMI_IDENTITY] = {RUN_VM, VXM_VXMD_TAKES, VXM_VXMD_OWNER_NONE, FALSE,
                                  handle_dmi_identity},
    [VXM_VXMD_OP_JOURNAL_STATUS] = {RUN_VM, VXM_VXMD_GIVES_BACK, VXM_VXMD_OWNER_NONE, FALSE,
                                    handle_journal_status},
    [VXM_VXMD_OP_RECOVER] = {RUN_VM, VXM_VXMD_GIVES_BACK, VXM_VXMD_OWNER_OWN_RULES, TRUE,
                             handle_recover},
    [VXM_VXMD_OP_RESTORE_ALL] = {RUN_VM, VXM_VXMD_GIVES_BACK, VXM_VXMD_OWNER_OWN_RULES, TRUE,
                                 handle_restore_all},
    [VXM_VXMD_OP_GPU_STATUS] = {RUN_VM, VXM_VXMD_GIVES_BACK, VXM_VXMD_OWNER_NONE, FALSE,
                                handle_gpu_status},
};
#undef RUN_VM

static gboolean
gives_back(const VxmVxmdOperation *operation, const VxmVxmdRequest *req)
{
  switch (operation->direction) {
  case VXM_VXMD_GIVES_BACK: return TRUE;
  case VXM_VXMD_GIVES_BACK_TO_HOST: return !req->to_guest;
  case VXM_VXMD_TAKES:
  default: return FALSE;
  }
}

gboolean
vxm_vxmd_operation_run(VxmVxmd *self, VxmVxmdPeer *peer, const VxmVxmdRequest *req,
                       GPtrArray *report, JsonNode **out_result, GError **error)
{
  const VxmVxmdOperation *operation =
      (guint)req->op < G_N_ELEMENTS(operations) ? &operations[req->op] : NULL;
  VxmVxmdCall call = {
      .daemon = self, .peer = peer, .req = req, .report = report, .out_result = out_result};
  g_autoptr(GError) refusal = NULL;
  gboolean ok;

  if (operation == NULL || operation->handle == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "unknown request");
    return FALSE;
  }
  if (!vxm_vxmd_auth_check(self->auth, self->proc_fs, peer->caller, operation->access, &refusal) &&
      !(gives_back(operation, req) && vxm_vxmd_uid_has_journal(self, peer->uid, req->vm))) {
    g_propagate_error(error, g_steal_pointer(&refusal));
    g_prefix_error(error, "vxmd refused %s: ", vxm_vxmd_op_to_string(req->op));
    return FALSE;
  }
  if (req->vm == NULL)
    return operation->handle(&call, error);
  vxm_journal_store_lock_vm(self->store, req->vm, operation->alone);
  ok = (operation->owner != VXM_VXMD_OWNER_MUST_OWN ||
        vxm_vxmd_check_vm_owner(self, peer, req->vm, &call.exists, error)) &&
       operation->handle(&call, error);
  vxm_journal_store_unlock_vm(self->store, req->vm, operation->alone);
  return ok;
}

void
vxm_vxmd_recover_orphans(VxmVxmd *self, GPtrArray *report)
{
  g_autoptr(GPtrArray) names = vxm_journal_list(self->hostfs, NULL);
  VxmVxmdPeer root = {.uid = 0, .user = (char *)"root"};

  for (guint i = 0; names != NULL && i < names->len; i++) {
    g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, names->pdata[i], NULL);
    g_autoptr(GError) error = NULL;

    if (journal == NULL || vxm_journal_get_owner_status(journal) != VXM_JOURNAL_OWNER_GONE ||
        vxm_vxmd_journal_uid(journal) < 0 || vxm_vxmd_journal_client_alive(journal))
      continue;
    if (recover_one(self, &root, names->pdata[i], report, &error))
      g_ptr_array_add(report, g_strdup_printf("recovered VM %s, whose vxm is gone",
                                              (const char *)names->pdata[i]));
    else
      g_ptr_array_add(report, g_strdup_printf("VM %s could not be recovered: %s",
                                              (const char *)names->pdata[i], error->message));
  }
}
