/* vxm-host-ops: every change the supervisor makes to the host, behind one interface.
 *
 * The supervisor never touches sysfs, /dev or /proc itself: it asks a VxmHostOps. The local
 * implementation (VxmHostOpsLocal) calls the core library in this process (root needed for
 * real binding); VxmHostOpsVxmd sends the same requests to vxmd. Each engine
 * journals its change before making it, so `vxm recover` can undo from any point.
 *
 * Every operation is synchronous and may block (a driver's unbind takes a while): the
 * supervisor calls them from worker threads, several at once, so implementations must be
 * thread-safe. An operation an implementation does not provide fails with
 * VXM_ERROR_UNSUPPORTED ("not available"): the supervisor skips such a step only when the VM's
 * config does not ask for it.
 *
 * Operations are named by VM (the journal's name) and by what they touch, never by paths, so
 * the same requests can cross a privilege boundary.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define VXM_TYPE_HOST_OPS (vxm_host_ops_get_type())
G_DECLARE_INTERFACE(VxmHostOps, vxm_host_ops, VXM, HOST_OPS, GObject)

typedef struct {
  const char *gpu_address; /* "0000:01:00.0" */
  guint timeout_ms;        /* for a write that may hang (unbind); 0: the engine's default */
  gboolean keep_bound;     /* leave the group on vfio-pci when the VM stops */
  /* [pci] extra: whole devices detached with the card, normalised addresses (nullable);
   * each is checked (vxm_pci_extra_resolve()) before anything changes */
  const char *const *extra;
  gboolean force; /* hold_gpu: go ahead although an AMD or Intel card is in use */
} VxmHostOpsGpu;

/* Who the host's changes are made for (hello): the uid device nodes and files are given to,
 * and whether that user may run VMs. */
typedef struct {
  guint uid;
  char *user;
  gboolean run_vm;
  char *via;     /* "root", "group", "polkit", "none" */
  char *refusal; /* why not, when !run_vm (NULL otherwise) */
} VxmHostOpsHello;

void vxm_host_ops_hello_clear(VxmHostOpsHello *hello);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VxmHostOpsHello, vxm_host_ops_hello_clear)

/* grant_devices' uid for "the user who runs QEMU" (this process's, or the sudo user's). */
#define VXM_HOST_OPS_QEMU_USER G_GINT64_CONSTANT(-1)

/* Issue 5: hugepages for the guest's RAM (vxm_hugepages_reserve()). */
typedef struct {
  guint64 page_size;    /* the size planned: 2 MiB or 1 GiB */
  guint64 count;        /* pages of @page_size: the guest's RAM */
  gint node;            /* the guest GPU's NUMA node: its pools when it has them; -1: global */
  gboolean auto_size;   /* hugepages = auto: 1 GiB pages when they can be had, else 2 MiB */
  gboolean drop_caches; /* echo 3 > /proc/sys/vm/drop_caches first */
  gboolean compact;     /* echo 1 > /proc/sys/vm/compact_memory before each try */
} VxmHostOpsHugepages;

struct _VxmHostOpsInterface {
  GTypeInterface parent_iface;

  /* A line for the user on how host changes are made ("running without vxmd, as root"). */
  const char *(*describe)(VxmHostOps *self);
  /* Who asks, and whether they may: a missing vxmd or a closed door is an error with its fix,
   * so a command can ask before anything starts. */
  gboolean (*hello)(VxmHostOps *self, VxmHostOpsHello *out, GError **error);

  /* The GPU's IOMMU group to vfio-pci (refusals first, journaled, unwound on failure). */
  gboolean (*detach_gpu)(VxmHostOps *self, const char *vm, const VxmHostOpsGpu *gpu,
                         GPtrArray *report, GError **error);
  /* The group back to its original drivers (after QEMU has exited); only the binding: the
   * VM's other host changes stay for release_hugepages, revoke_devices and restore_all. With
   * keep_bound the group stays and everything else is given back. */
  gboolean (*reattach_gpu)(VxmHostOps *self, const char *vm, const VxmHostOpsGpu *gpu,
                           GPtrArray *report, GError **error);

  /* Issue 5: the pages @hugepages asks for; @out_page_size gets the size reserved (with
   * auto_size it may differ from the one planned). */
  gboolean (*reserve_hugepages)(VxmHostOps *self, const char *vm,
                                const VxmHostOpsHugepages *hugepages, guint64 *out_page_size,
                                GPtrArray *report, GError **error);
  gboolean (*release_hugepages)(VxmHostOps *self, const char *vm, GPtrArray *report,
                                GError **error);
  /* Issue 7/8: device nodes (/dev/vfio/N, /dev/input/event*) to the VM's user and back. */
  /* @uid: whom to give them (VXM_HOST_OPS_QEMU_USER: QEMU's user). */
  gboolean (*grant_devices)(VxmHostOps *self, const char *vm, const char *const *nodes, gint64 uid,
                            GPtrArray *report, GError **error);
  gboolean (*revoke_devices)(VxmHostOps *self, const char *vm, GPtrArray *report, GError **error);
  /* Issue 5/8: RLIMIT_MEMLOCK of the process behind @pidfd. */
  gboolean (*raise_memlock)(VxmHostOps *self, const char *vm, int pidfd, guint64 bytes,
                            GPtrArray *report, GError **error);
  /* Issue 5: Looking Glass shared memory of @bytes for the VM's user (/dev/kvmfr0, else a
   * safe /dev/shm/looking-glass), journaled: restore_all removes the file vxm made. */
  gboolean (*prepare_looking_glass)(VxmHostOps *self, const char *vm, guint64 bytes,
                                    GPtrArray *report, GError **error);
  /* Issue 6: the monitor's input to @input (a VCP 0x60 value); @to_guest says which way.
   * @host_input (the host's input, journaled before a switch to the guest so stop and recover
   * can switch back) and @gpu_address (the guest's GPU, whose connectors are tried last) come
   * from the caller: an implementation across a privilege boundary cannot read the user's
   * config. */
  gboolean (*switch_monitor)(VxmHostOps *self, const char *vm, const char *monitor,
                             const char *gpu_address, guint input, guint host_input,
                             gboolean to_guest, GPtrArray *report, GError **error);

  /* Undoes whatever the VM's journal still holds (any kind, last first) and clears it; keeps
   * kinds in @skip_kinds (keep_bound) with the journal held. TRUE when nothing is left. */
  gboolean (*restore_all)(VxmHostOps *self, const char *vm, const char *const *skip_kinds,
                          GPtrArray *report, GError **error);

  /* `vxm detach`: the GPU's group to vfio-pci by hand (gpu->force, gpu->timeout_ms), its
   * journal held until release_held_gpu. When the group was held already nothing changes and
   * *out_held_by gets why it is held ("detached by hand ..."); else it is NULL. */
  gboolean (*hold_gpu)(VxmHostOps *self, const VxmHostOpsGpu *gpu, char **out_held_by,
                       GPtrArray *report, GError **error);
  /* `vxm reattach`: every journal that keeps the GPU's group on vfio-pci (held by hand or for
   * keep_bound, or left by a vxm that is gone) given back. *out_found is FALSE when vxm holds
   * nothing of it; journals that could not be read, and every failure but the last (which is
   * @error), go to @problems. */
  gboolean (*release_held_gpu)(VxmHostOps *self, const VxmHostOpsGpu *gpu, gboolean *out_found,
                               GPtrArray *problems, GPtrArray *report, GError **error);
  /* `vxm recover` of one journal (@name as list_journals gives it): undone and removed when no
   * live process owns it; a journal with nothing left to undo is removed whoever held it. Left
   * with VXM_ERROR_BUSY (the reason and fix as its message) while its process runs, or while
   * it is held with changes in it (vxm reattach gives those back). */
  gboolean (*recover)(VxmHostOps *self, const char *name, GPtrArray *report, GError **error);
  /* The host's journals: [{"name", "status": running|orphaned|held|corrupt, "pid", "held",
   * "entries", ...}]; through vxmd also "journal" (its file's name), "uid" and "clear". */
  JsonNode *(*list_journals)(VxmHostOps *self, GError **error);

  /* Who else holds the GPU's slot on the host: a sentence naming the journal and what to do,
   * or NULL when nobody but @vm does (a journal of another VM, a `vxm detach`, a crash). */
  char *(*gpu_holder)(VxmHostOps *self, const char *vm, const char *gpu_address, GError **error);

  /* For `vxm status`: the VM's journal ({"name", "entries": [...]...}), or a JSON null when
   * the host holds nothing for it. */
  JsonNode *(*journal_status)(VxmHostOps *self, const char *vm, GError **error);
  /* Where each function of the GPU is bound and by whom (vxm_vfio_binding_status). */
  JsonNode *(*binding_status)(VxmHostOps *self, const char *gpu_address, GError **error);
  /* The host's DMI identity (vxm_dmi_identity_read): its serials and UUID are root's. */
  JsonNode *(*dmi_identity)(VxmHostOps *self, GError **error);
};

const char *vxm_host_ops_describe(VxmHostOps *self);
gboolean vxm_host_ops_hello(VxmHostOps *self, VxmHostOpsHello *out,
                            GError **error) G_GNUC_WARN_UNUSED_RESULT;

gboolean vxm_host_ops_detach_gpu(VxmHostOps *self, const char *vm, const VxmHostOpsGpu *gpu,
                                 GPtrArray *report, GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_host_ops_reattach_gpu(VxmHostOps *self, const char *vm, const VxmHostOpsGpu *gpu,
                                   GPtrArray *report, GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_host_ops_reserve_hugepages(VxmHostOps *self, const char *vm,
                                        const VxmHostOpsHugepages *hugepages,
                                        guint64 *out_page_size, GPtrArray *report,
                                        GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_host_ops_release_hugepages(VxmHostOps *self, const char *vm, GPtrArray *report,
                                        GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_host_ops_grant_devices(VxmHostOps *self, const char *vm, const char *const *nodes,
                                    GPtrArray *report, GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_host_ops_grant_devices_to(VxmHostOps *self, const char *vm, const char *const *nodes,
                                       gint64 uid, GPtrArray *report,
                                       GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_host_ops_revoke_devices(VxmHostOps *self, const char *vm, GPtrArray *report,
                                     GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_host_ops_raise_memlock(VxmHostOps *self, const char *vm, int pidfd, guint64 bytes,
                                    GPtrArray *report, GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_host_ops_prepare_looking_glass(VxmHostOps *self, const char *vm, guint64 bytes,
                                            GPtrArray *report,
                                            GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_host_ops_switch_monitor(VxmHostOps *self, const char *vm, const char *monitor,
                                     const char *gpu_address, guint input, guint host_input,
                                     gboolean to_guest, GPtrArray *report,
                                     GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_host_ops_restore_all(VxmHostOps *self, const char *vm, const char *const *skip_kinds,
                                  GPtrArray *report, GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_host_ops_hold_gpu(VxmHostOps *self, const VxmHostOpsGpu *gpu, char **out_held_by,
                               GPtrArray *report, GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_host_ops_release_held_gpu(VxmHostOps *self, const VxmHostOpsGpu *gpu,
                                       gboolean *out_found, GPtrArray *problems, GPtrArray *report,
                                       GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_host_ops_recover(VxmHostOps *self, const char *name, GPtrArray *report,
                              GError **error) G_GNUC_WARN_UNUSED_RESULT;
JsonNode *vxm_host_ops_list_journals(VxmHostOps *self, GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* NULL with @error unset when the GPU is free for @vm. */
char *vxm_host_ops_gpu_holder(VxmHostOps *self, const char *vm, const char *gpu_address,
                              GError **error) G_GNUC_WARN_UNUSED_RESULT;
JsonNode *vxm_host_ops_journal_status(VxmHostOps *self, const char *vm,
                                      GError **error) G_GNUC_WARN_UNUSED_RESULT;
JsonNode *vxm_host_ops_binding_status(VxmHostOps *self, const char *gpu_address,
                                      GError **error) G_GNUC_WARN_UNUSED_RESULT;

JsonNode *vxm_host_ops_dmi_identity(VxmHostOps *self, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* TRUE when @error is the "not available" of an operation an implementation lacks. */
gboolean vxm_host_ops_error_is_unavailable(const GError *error);

G_END_DECLS
