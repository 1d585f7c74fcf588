/* vxm-host-ops: the interface's dispatch, and "not available" for what is not implemented. */
#include "ops/vxm-host-ops.h"

#include "common/vxm-error.h"

G_DEFINE_INTERFACE(VxmHostOps, vxm_host_ops, G_TYPE_OBJECT)

static void
vxm_host_ops_default_init(VxmHostOpsInterface *iface)
{
  (void)iface;
}

static gboolean
unavailable(VxmHostOps *self, const char *what, GError **error)
{
  g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED, "%s is not available with %s", what,
              vxm_host_ops_describe(self));
  return FALSE;
}

gboolean
vxm_host_ops_error_is_unavailable(const GError *error)
{
  return error != NULL && g_error_matches(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED);
}

const char *
vxm_host_ops_describe(VxmHostOps *self)
{
  VxmHostOpsInterface *iface;

  g_return_val_if_fail(VXM_IS_HOST_OPS(self), NULL);
  iface = VXM_HOST_OPS_GET_IFACE(self);
  return iface->describe != NULL ? iface->describe(self) : G_OBJECT_TYPE_NAME(self);
}

void
vxm_host_ops_hello_clear(VxmHostOpsHello *hello)
{
  g_clear_pointer(&hello->user, g_free);
  g_clear_pointer(&hello->via, g_free);
  g_clear_pointer(&hello->refusal, g_free);
}

/* Each wrapper: call the implementation, or report the operation as not available. */
#define DISPATCH(op, what, ...)                       \
  VxmHostOpsInterface *iface;                         \
  g_return_val_if_fail(VXM_IS_HOST_OPS(self), FALSE); \
  iface = VXM_HOST_OPS_GET_IFACE(self);               \
  if (iface->op == NULL)                              \
    return unavailable(self, what, error);            \
  return iface->op(self, __VA_ARGS__)

gboolean
vxm_host_ops_hello(VxmHostOps *self, VxmHostOpsHello *out, GError **error)
{
  DISPATCH(hello, "asking who we are", out, error);
}

gboolean
vxm_host_ops_hold_gpu(VxmHostOps *self, const VxmHostOpsGpu *gpu, char **out_held_by,
                      GPtrArray *report, GError **error)
{
  DISPATCH(hold_gpu, "detaching a GPU by hand", gpu, out_held_by, report, error);
}

gboolean
vxm_host_ops_release_held_gpu(VxmHostOps *self, const VxmHostOpsGpu *gpu, gboolean *out_found,
                              GPtrArray *problems, GPtrArray *report, GError **error)
{
  DISPATCH(release_held_gpu, "reattaching a GPU by hand", gpu, out_found, problems, report, error);
}

gboolean
vxm_host_ops_recover(VxmHostOps *self, const char *name, GPtrArray *report, GError **error)
{
  DISPATCH(recover, "recovering a journal", name, report, error);
}

JsonNode *
vxm_host_ops_list_journals(VxmHostOps *self, GError **error)
{
  VxmHostOpsInterface *iface;

  g_return_val_if_fail(VXM_IS_HOST_OPS(self), NULL);
  iface = VXM_HOST_OPS_GET_IFACE(self);
  if (iface->list_journals == NULL) {
    unavailable(self, "listing the journals", error);
    return NULL;
  }
  return iface->list_journals(self, error);
}

gboolean
vxm_host_ops_detach_gpu(VxmHostOps *self, const char *vm, const VxmHostOpsGpu *gpu,
                        GPtrArray *report, GError **error)
{
  DISPATCH(detach_gpu, "detaching the GPU", vm, gpu, report, error);
}

gboolean
vxm_host_ops_reattach_gpu(VxmHostOps *self, const char *vm, const VxmHostOpsGpu *gpu,
                          GPtrArray *report, GError **error)
{
  DISPATCH(reattach_gpu, "reattaching the GPU", vm, gpu, report, error);
}

gboolean
vxm_host_ops_reserve_hugepages(VxmHostOps *self, const char *vm,
                               const VxmHostOpsHugepages *hugepages, guint64 *out_page_size,
                               GPtrArray *report, GError **error)
{
  DISPATCH(reserve_hugepages, "reserving hugepages", vm, hugepages, out_page_size, report, error);
}

gboolean
vxm_host_ops_release_hugepages(VxmHostOps *self, const char *vm, GPtrArray *report, GError **error)
{
  DISPATCH(release_hugepages, "releasing hugepages", vm, report, error);
}

gboolean
vxm_host_ops_grant_devices(VxmHostOps *self, const char *vm, const char *const *nodes,
                           GPtrArray *report, GError **error)
{
  DISPATCH(grant_devices, "granting device nodes", vm, nodes, VXM_HOST_OPS_QEMU_USER, report,
           error);
}

gboolean
vxm_host_ops_grant_devices_to(VxmHostOps *self, const char *vm, const char *const *nodes,
                              gint64 uid, GPtrArray *report, GError **error)
{
  DISPATCH(grant_devices, "granting device nodes", vm, nodes, uid, report, error);
}

gboolean
vxm_host_ops_revoke_devices(VxmHostOps *self, const char *vm, GPtrArray *report, GError **error)
{
  DISPATCH(revoke_devices, "revoking device nodes", vm, report, error);
}

gboolean
vxm_host_ops_raise_memlock(VxmHostOps *self, const char *vm, int pidfd, guint64 bytes,
                           GPtrArray *report, GError **error)
{
  DISPATCH(raise_memlock, "raising the memlock limit", vm, pidfd, bytes, report, error);
}

gboolean
vxm_host_ops_prepare_looking_glass(VxmHostOps *self, const char *vm, guint64 bytes,
                                   GPtrArray *report, GError **error)
{
  DISPATCH(prepare_looking_glass, "making the Looking Glass memory", vm, bytes, report, error);
}

gboolean
vxm_host_ops_switch_monitor(VxmHostOps *self, const char *vm, const char *monitor,
                            const char *gpu_address, guint input, guint host_input,
                            gboolean to_guest, GPtrArray *report, GError **error)
{
  DISPATCH(switch_monitor, "switching the monitor input", vm, monitor, gpu_address, input,
           host_input, to_guest, report, error);
}

gboolean
vxm_host_ops_restore_all(VxmHostOps *self, const char *vm, const char *const *skip_kinds,
                         GPtrArray *report, GError **error)
{
  DISPATCH(restore_all, "restoring the host", vm, skip_kinds, report, error);
}

char *
vxm_host_ops_gpu_holder(VxmHostOps *self, const char *vm, const char *gpu_address, GError **error)
{
  VxmHostOpsInterface *iface;

  g_return_val_if_fail(VXM_IS_HOST_OPS(self), NULL);
  iface = VXM_HOST_OPS_GET_IFACE(self);
  if (iface->gpu_holder == NULL) {
    unavailable(self, "finding who holds the GPU", error);
    return NULL;
  }
  return iface->gpu_holder(self, vm, gpu_address, error);
}

JsonNode *
vxm_host_ops_dmi_identity(VxmHostOps *self, GError **error)
{
  VxmHostOpsInterface *iface;

  g_return_val_if_fail(VXM_IS_HOST_OPS(self), NULL);
  iface = VXM_HOST_OPS_GET_IFACE(self);
  if (iface->dmi_identity == NULL) {
    unavailable(self, "reading the DMI identity", error);
    return NULL;
  }
  return iface->dmi_identity(self, error);
}

JsonNode *
vxm_host_ops_journal_status(VxmHostOps *self, const char *vm, GError **error)
{
  VxmHostOpsInterface *iface;

  g_return_val_if_fail(VXM_IS_HOST_OPS(self), NULL);
  iface = VXM_HOST_OPS_GET_IFACE(self);
  if (iface->journal_status == NULL) {
    unavailable(self, "reading the journal", error);
    return NULL;
  }
  return iface->journal_status(self, vm, error);
}

JsonNode *
vxm_host_ops_binding_status(VxmHostOps *self, const char *gpu_address, GError **error)
{
  VxmHostOpsInterface *iface;

  g_return_val_if_fail(VXM_IS_HOST_OPS(self), NULL);
  iface = VXM_HOST_OPS_GET_IFACE(self);
  if (iface->binding_status == NULL) {
    unavailable(self, "reading the GPU's binding", error);
    return NULL;
  }
  return iface->binding_status(self, gpu_address, error);
}
