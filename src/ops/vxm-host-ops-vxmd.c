/* vxm-host-ops-vxmd: host steps as requests to vxmd. */
#include "ops/vxm-host-ops-vxmd.h"

#include <unistd.h>

#include "common/vxm-error.h"
#include "ops/vxm-vxmd-client.h"
#include "ops/vxm-vxmd-protocol.h"

struct _VxmHostOpsVxmd {
  GObject parent_instance;
  VxmHostfs *hostfs; /* only read after construction: safe from any thread */
  char *description;
};

static void vxm_host_ops_vxmd_iface_init(VxmHostOpsInterface *iface);

G_DEFINE_TYPE_WITH_CODE(VxmHostOpsVxmd, vxm_host_ops_vxmd, G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(VXM_TYPE_HOST_OPS, vxm_host_ops_vxmd_iface_init))

/* One request on a fresh connection; @req's strings are borrowed. */
static gboolean
call(VxmHostOpsVxmd *self, const VxmVxmdRequest *req, int pass_fd, GPtrArray *report,
     JsonNode **out_result, GError **error)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
  gboolean ok = vxm_vxmd_client_call(self->hostfs, req, pass_fd, lines, out_result, error);

  for (guint i = 0; report != NULL && i < lines->len; i++)
    g_ptr_array_add(report, g_strdup(g_ptr_array_index(lines, i)));
  return ok;
}

static const char *
vxmd_describe(VxmHostOps *ops)
{
  return VXM_HOST_OPS_VXMD(ops)->description;
}

/* prepare-gpu. The group's /dev/vfio/N goes to the user in the supervisor's grant-vfio step,
 * as with the local ops (vxmd hands out only the group of a GPU it prepared for this VM). */
static gboolean
vxmd_detach_gpu(VxmHostOps *ops, const char *vm, const VxmHostOpsGpu *gpu, GPtrArray *report,
                GError **error)
{
  VxmVxmdRequest req = {.op = VXM_VXMD_OP_PREPARE_GPU,
                        .vm = (char *)vm,
                        .gpu = (char *)gpu->gpu_address,
                        .extra = (char **)gpu->extra,
                        .keep_bound = gpu->keep_bound,
                        .timeout_ms = gpu->timeout_ms,
                        .numa_node = -1};

  return call(VXM_HOST_OPS_VXMD(ops), &req, -1, report, NULL, error);
}

/* release-gpu gives back everything vxmd holds for the VM, the vfio nodes included (a
 * keep_bound VM keeps only its binding). */
static gboolean
vxmd_reattach_gpu(VxmHostOps *ops, const char *vm, const VxmHostOpsGpu *gpu, GPtrArray *report,
                  GError **error)
{
  VxmVxmdRequest req = {.op = VXM_VXMD_OP_RELEASE_GPU,
                        .vm = (char *)vm,
                        .gpu = (char *)gpu->gpu_address,
                        .keep_bound = gpu->keep_bound,
                        .timeout_ms = gpu->timeout_ms,
                        .numa_node = -1};

  return call(VXM_HOST_OPS_VXMD(ops), &req, -1, report, NULL, error);
}

static gboolean
vxmd_reserve_hugepages(VxmHostOps *ops, const char *vm, const VxmHostOpsHugepages *hugepages,
                       guint64 *out_page_size, GPtrArray *report, GError **error)
{
  VxmVxmdRequest req = {.op = VXM_VXMD_OP_RESERVE_HUGEPAGES,
                        .vm = (char *)vm,
                        .page_size = hugepages->page_size,
                        .count = hugepages->count,
                        .numa_node = hugepages->node,
                        .auto_size = hugepages->auto_size,
                        .drop_caches = hugepages->drop_caches,
                        .compact = hugepages->compact};
  g_autoptr(JsonNode) result = NULL;
  gint64 page_size;

  if (!call(VXM_HOST_OPS_VXMD(ops), &req, -1, report, &result, error))
    return FALSE;
  /* a vxmd without the result reserved what was asked */
  page_size =
      result != NULL && JSON_NODE_HOLDS_OBJECT(result)
          ? json_object_get_int_member_with_default(json_node_get_object(result), "page_size", 0)
          : 0;
  if (out_page_size != NULL)
    *out_page_size = page_size > 0 ? (guint64)page_size : hugepages->page_size;
  return TRUE;
}

static gboolean
vxmd_release_hugepages(VxmHostOps *ops, const char *vm, GPtrArray *report, GError **error)
{
  VxmVxmdRequest req = {.op = VXM_VXMD_OP_RELEASE_HUGEPAGES, .vm = (char *)vm, .numa_node = -1};

  return call(VXM_HOST_OPS_VXMD(ops), &req, -1, report, NULL, error);
}

static gboolean
vxmd_grant_devices(VxmHostOps *ops, const char *vm, const char *const *nodes, gint64 uid,
                   GPtrArray *report, GError **error)
{
  VxmVxmdRequest req = {.op = VXM_VXMD_OP_GRANT_NODES, .vm = (char *)vm, .numa_node = -1};
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

  if (nodes == NULL || nodes[0] == NULL)
    return TRUE;
  if (uid != VXM_HOST_OPS_QEMU_USER && uid != (gint64)getuid()) {
    g_set_error(
        error, VXM_ERROR, VXM_ERROR_PERMISSION,
        "vxmd gives device nodes only to the user who asks (uid %u), not to uid %" G_GINT64_FORMAT,
        (guint)getuid(), uid);
    return FALSE;
  }
  for (gsize i = 0; nodes[i] != NULL; i++) {
    char *name = vxm_vxmd_node_name_for_path(nodes[i], error);

    if (name == NULL)
      return FALSE;
    g_ptr_array_add(names, name);
  }
  if (names->len > VXM_VXMD_MAX_NODES) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "%u device nodes for VM %s: vxmd hands over at most %d at once", names->len, vm,
                VXM_VXMD_MAX_NODES);
    return FALSE;
  }
  g_ptr_array_add(names, NULL);
  req.nodes = (char **)names->pdata;
  return call(VXM_HOST_OPS_VXMD(ops), &req, -1, report, NULL, error);
}

static gboolean
vxmd_revoke_devices(VxmHostOps *ops, const char *vm, GPtrArray *report, GError **error)
{
  VxmVxmdRequest req = {.op = VXM_VXMD_OP_REVOKE_NODES, .vm = (char *)vm, .numa_node = -1};

  return call(VXM_HOST_OPS_VXMD(ops), &req, -1, report, NULL, error);
}

/* @pidfd goes as SCM_RIGHTS; vxmd raises the limit only of a process of the caller's uid (the
 * supervisor passes its own, before it spawns QEMU, which inherits the limit). */
static gboolean
vxmd_raise_memlock(VxmHostOps *ops, const char *vm, int pidfd, guint64 bytes, GPtrArray *report,
                   GError **error)
{
  VxmVxmdRequest req = {
      .op = VXM_VXMD_OP_RAISE_MEMLOCK, .vm = (char *)vm, .bytes = bytes, .numa_node = -1};

  if (pidfd < 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "raising the memlock limit of VM %s needs a pidfd of the process", vm);
    return FALSE;
  }
  return call(VXM_HOST_OPS_VXMD(ops), &req, pidfd, report, NULL, error);
}

static gboolean
vxmd_switch_monitor(VxmHostOps *ops, const char *vm, const char *monitor, const char *gpu_address,
                    guint input, guint host_input, gboolean to_guest, GPtrArray *report,
                    GError **error)
{
  VxmVxmdRequest req = {.op = VXM_VXMD_OP_DDC_SWITCH,
                        .vm = (char *)vm,
                        .gpu = (char *)gpu_address,
                        .monitor = (char *)monitor,
                        .input = input,
                        .host_input = host_input,
                        .to_guest = to_guest,
                        .numa_node = -1};

  if (to_guest && host_input == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "VM %s has no host_input: without it the monitor could not be switched back", vm);
    return FALSE;
  }
  if (gpu_address == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "switching VM %s's monitor through vxmd needs the guest's GPU", vm);
    return FALSE;
  }
  return call(VXM_HOST_OPS_VXMD(ops), &req, -1, report, NULL, error);
}

/* vxmd's restore-all has no kinds to keep: keep_bound travels with release-gpu. */
static gboolean
vxmd_restore_all(VxmHostOps *ops, const char *vm, const char *const *skip_kinds, GPtrArray *report,
                 GError **error)
{
  VxmVxmdRequest req = {.op = VXM_VXMD_OP_RESTORE_ALL, .vm = (char *)vm, .numa_node = -1};

  if (skip_kinds != NULL && skip_kinds[0] != NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
                "keeping part of VM %s's host changes is not available through vxmd's "
                "restore-all (release-gpu with keep_bound does it)",
                vm);
    return FALSE;
  }
  return call(VXM_HOST_OPS_VXMD(ops), &req, -1, report, NULL, error);
}

/* gpu-status: vxmd reads the journals (root's 0600 files) for us. */
static JsonObject *
gpu_status(VxmHostOpsVxmd *self, const char *vm, const char *gpu_address, GError **error)
{
  VxmVxmdRequest req = {
      .op = VXM_VXMD_OP_GPU_STATUS, .vm = (char *)vm, .gpu = (char *)gpu_address, .numa_node = -1};
  g_autoptr(JsonNode) result = NULL;

  if (!call(self, &req, -1, NULL, &result, error))
    return NULL;
  if (result == NULL || !JSON_NODE_HOLDS_OBJECT(result)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "vxmd answered gpu-status for %s without a status", gpu_address);
    return NULL;
  }
  return json_object_ref(json_node_get_object(result));
}

static char *
vxmd_gpu_holder(VxmHostOps *ops, const char *vm, const char *gpu_address, GError **error)
{
  g_autoptr(JsonObject) status = gpu_status(VXM_HOST_OPS_VXMD(ops), vm, gpu_address, error);

  if (status == NULL)
    return NULL;
  return g_strdup(json_object_get_string_member_with_default(status, "holder", NULL));
}

static JsonNode *
vxmd_binding_status(VxmHostOps *ops, const char *gpu_address, GError **error)
{
  g_autoptr(JsonObject) status = gpu_status(VXM_HOST_OPS_VXMD(ops), NULL, gpu_address, error);
  JsonNode *devices;

  if (status == NULL)
    return NULL;
  devices = json_object_get_member(status, "devices");
  if (devices == NULL || !JSON_NODE_HOLDS_ARRAY(devices)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "vxmd answered gpu-status for %s without its devices", gpu_address);
    return NULL;
  }
  return json_node_copy(devices);
}

static JsonNode *
vxmd_journal_status(VxmHostOps *ops, const char *vm, GError **error)
{
  VxmVxmdRequest req = {.op = VXM_VXMD_OP_JOURNAL_STATUS, .vm = (char *)vm, .numa_node = -1};
  JsonNode *result = NULL;

  if (!call(VXM_HOST_OPS_VXMD(ops), &req, -1, NULL, &result, error))
    return NULL;
  return result != NULL ? result : json_node_new(JSON_NODE_NULL);
}

static gboolean
vxmd_hello(VxmHostOps *ops, VxmHostOpsHello *out, GError **error)
{
  VxmVxmdRequest req = {.op = VXM_VXMD_OP_HELLO, .numa_node = -1};
  g_autoptr(JsonNode) result = NULL;
  JsonObject *o;

  if (!call(VXM_HOST_OPS_VXMD(ops), &req, -1, NULL, &result, error))
    return FALSE;
  if (result == NULL || !JSON_NODE_HOLDS_OBJECT(result)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "vxmd answered hello without who we are");
    return FALSE;
  }
  o = json_node_get_object(result);
  out->uid = (guint)json_object_get_int_member_with_default(o, "uid", getuid());
  out->user = g_strdup(json_object_get_string_member_with_default(o, "user", ""));
  out->run_vm = json_object_get_boolean_member_with_default(o, "run_vm", FALSE);
  out->via = g_strdup(json_object_get_string_member_with_default(o, "via", "none"));
  out->refusal = g_strdup(json_object_get_string_member_with_default(o, "refusal", NULL));
  return TRUE;
}

/* vxmd's recover of one of this user's VMs (root: anyone's); vxmd checks whose it is. */
static gboolean
vxmd_recover(VxmHostOps *ops, const char *name, GPtrArray *report, GError **error)
{
  VxmVxmdRequest req = {.op = VXM_VXMD_OP_RECOVER, .vm = (char *)name, .numa_node = -1};

  return call(VXM_HOST_OPS_VXMD(ops), &req, -1, report, NULL, error);
}

static JsonNode *
vxmd_list_journals(VxmHostOps *ops, GError **error)
{
  VxmVxmdRequest req = {.op = VXM_VXMD_OP_JOURNAL_STATUS, .numa_node = -1};
  JsonNode *result = NULL;

  if (!call(VXM_HOST_OPS_VXMD(ops), &req, -1, NULL, &result, error))
    return NULL;
  if (result == NULL || !JSON_NODE_HOLDS_ARRAY(result)) {
    g_clear_pointer(&result, json_node_unref);
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "vxmd answered journal-status without its list");
  }
  return result;
}

static JsonNode *
vxmd_dmi_identity(VxmHostOps *ops, GError **error)
{
  VxmVxmdRequest req = {.op = VXM_VXMD_OP_DMI_IDENTITY, .numa_node = -1};
  JsonNode *result = NULL;

  if (!call(VXM_HOST_OPS_VXMD(ops), &req, -1, NULL, &result, error))
    return NULL;
  if (result == NULL || !JSON_NODE_HOLDS_OBJECT(result)) {
    g_clear_pointer(&result, json_node_unref);
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "vxmd answered dmi-identity without it");
  }
  return result;
}

static void
vxm_host_ops_vxmd_iface_init(VxmHostOpsInterface *iface)
{
  iface->describe = vxmd_describe;
  iface->hello = vxmd_hello;
  iface->recover = vxmd_recover;
  iface->list_journals = vxmd_list_journals;
  iface->dmi_identity = vxmd_dmi_identity;
  iface->detach_gpu = vxmd_detach_gpu;
  iface->reattach_gpu = vxmd_reattach_gpu;
  iface->reserve_hugepages = vxmd_reserve_hugepages;
  iface->release_hugepages = vxmd_release_hugepages;
  iface->grant_devices = vxmd_grant_devices;
  iface->revoke_devices = vxmd_revoke_devices;
  iface->raise_memlock = vxmd_raise_memlock;
  iface->switch_monitor = vxmd_switch_monitor;
  iface->restore_all = vxmd_restore_all;
  iface->gpu_holder = vxmd_gpu_holder;
  iface->journal_status = vxmd_journal_status;
  iface->binding_status = vxmd_binding_status;
}

static void
vxm_host_ops_vxmd_finalize(GObject *object)
{
  VxmHostOpsVxmd *self = VXM_HOST_OPS_VXMD(object);

  g_clear_object(&self->hostfs);
  g_free(self->description);
  G_OBJECT_CLASS(vxm_host_ops_vxmd_parent_class)->finalize(object);
}

static void
vxm_host_ops_vxmd_class_init(VxmHostOpsVxmdClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = vxm_host_ops_vxmd_finalize;
}

static void
vxm_host_ops_vxmd_init(VxmHostOpsVxmd *self)
{
  (void)self;
}

VxmHostOps *
vxm_host_ops_vxmd_new(VxmHostfs *hostfs)
{
  VxmHostOpsVxmd *self = g_object_new(VXM_TYPE_HOST_OPS_VXMD, NULL);
  g_autofree char *socket = vxm_hostfs_path(hostfs, VXM_HOST_RUN_VXM "/" VXM_VXMD_SOCKET_NAME);

  self->hostfs = g_object_ref(hostfs);
  self->description = g_strdup_printf("through vxmd (%s)", socket);
  return VXM_HOST_OPS(self);
}
