/* vxm-check: the preflight behind `vxm check`.
 *
 * A check is one function that looks at the host (through the context, which shares one PCI
 * snapshot and GPU list among all checks) and fills in its result: a status, a message saying
 * what it found, and a fix when something is wrong. The registry is the table in vxm-check.c;
 * a later area adds a check by writing one VxmCheckFunc (in its own folder), declaring it
 * below, and adding one line to that table.
 */
#pragma once

#include <gio/gio.h>

#include "common/vxm-hostfs.h"
#include "pci/vxm-gpu.h"
#include "pci/vxm-pci-bus.h"

G_BEGIN_DECLS

typedef struct _VxmVmConfig VxmVmConfig; /* vm/vxm-vm-config.h */

typedef enum {
  VXM_CHECK_STATUS_OK,
  VXM_CHECK_STATUS_WARN,
  VXM_CHECK_STATUS_FAIL,
  /* the check could not run (a file it needs cannot be read, a view only root has): neither a
   * pass nor a problem found; it does not fail vxm check */
  VXM_CHECK_STATUS_UNKNOWN,
} VxmCheckStatus;

/* "ok", "warn", "fail", "unknown" (the JSON values). */
const char *vxm_check_status_to_string(VxmCheckStatus status);

typedef struct {
  char *id; /* "iommu" */
  VxmCheckStatus status;
  char *message; /* what was found */
  char *fix;     /* what to do, or NULL */
} VxmCheckResult;

void vxm_check_result_free(VxmCheckResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmCheckResult, vxm_check_result_free)

/* Sets a result's outcome; @fix may be NULL. */
void vxm_check_result_set(VxmCheckResult *result, VxmCheckStatus status, const char *fix,
                          const char *format, ...) G_GNUC_PRINTF(4, 5);

/* What checks share: the host root, and the PCI snapshot and GPU list made on first use. */
typedef struct _VxmCheckContext VxmCheckContext;

/* @guest_gpu: the configured guest GPU (address or name), or NULL for none configured. */
VxmCheckContext *vxm_check_context_new(VxmHostfs *hostfs, const char *guest_gpu);
void vxm_check_context_free(VxmCheckContext *ctx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmCheckContext, vxm_check_context_free)

VxmHostfs *vxm_check_context_get_hostfs(VxmCheckContext *ctx);
const char *vxm_check_context_get_guest_gpu(VxmCheckContext *ctx);
/* The PCI snapshot; the same error every time when the host's PCI devices cannot be read. */
VxmPciBus *vxm_check_context_get_bus(VxmCheckContext *ctx, GError **error);
/* The GPUs (VxmGpu) with roles, the configured guest GPU marked guest. */
GPtrArray *vxm_check_context_get_gpus(VxmCheckContext *ctx, GError **error);
/* "GenuineIntel", "AuthenticAMD", or NULL, from VXM_HOST_PROC_CPUINFO. */
const char *vxm_check_context_get_cpu_vendor(VxmCheckContext *ctx);

/* The VM being checked (its memory, firmware, TPM, QEMU binary, keep_bound), or NULL: the
 * checks then assume the defaults. Set before the first check runs; not owned. */
void vxm_check_context_set_vm_config(VxmCheckContext *ctx, const VxmVmConfig *config);
const VxmVmConfig *vxm_check_context_get_vm_config(VxmCheckContext *ctx);
/* The guest GPU: the configured one when it is found, else the only candidate; NULL when
 * there is none or several (the guest-gpu check says which). */
VxmGpu *vxm_check_context_get_guest(VxmCheckContext *ctx);
/* How to add @params to the kernel command line on this host (GRUB or /etc/kernel/cmdline). */
char *vxm_check_how_to_add_kernel_params(VxmHostfs *hostfs, const char *params);

typedef void (*VxmCheckFunc)(VxmCheckContext *ctx, VxmCheckResult *result);

typedef struct {
  const char *id;
  const char *summary;
  VxmCheckFunc func;
} VxmCheckDef;

/* The registry, in the order checks run and print. */
const VxmCheckDef *vxm_check_get_registry(gsize *n_checks);

/* Runs every check (or only those whose id is in @only, when not NULL); results in
 * registry order. */
GPtrArray *vxm_check_run(VxmCheckContext *ctx, const char *const *only);

/* TRUE when no result failed. */
gboolean vxm_check_results_passed(GPtrArray *results);

/* The checks (src/checks/vxm-check-pci.c). */
void vxm_check_iommu(VxmCheckContext *ctx, VxmCheckResult *result);
void vxm_check_kvm(VxmCheckContext *ctx, VxmCheckResult *result);
void vxm_check_gpus(VxmCheckContext *ctx, VxmCheckResult *result);
void vxm_check_guest_gpu(VxmCheckContext *ctx, VxmCheckResult *result);
/* src/checks/vxm-check-monitor.c */
void vxm_check_monitor(VxmCheckContext *ctx, VxmCheckResult *result);
/* src/checks/vxm-check-gpu.c: the guest GPU beyond its IOMMU group. */
void vxm_check_reset(VxmCheckContext *ctx, VxmCheckResult *result);
void vxm_check_framebuffer(VxmCheckContext *ctx, VxmCheckResult *result);
void vxm_check_holders(VxmCheckContext *ctx, VxmCheckResult *result);
/* src/checks/vxm-check-guest.c: what a Windows guest with the GPU needs from the kernel. */
void vxm_check_ignore_msrs(VxmCheckContext *ctx, VxmCheckResult *result);
void vxm_check_bars(VxmCheckContext *ctx, VxmCheckResult *result);
void vxm_check_d3cold(VxmCheckContext *ctx, VxmCheckResult *result);
/* src/checks/vxm-check-vm.c: what the VM needs from the host's software and memory. */
void vxm_check_firmware(VxmCheckContext *ctx, VxmCheckResult *result);
void vxm_check_qemu(VxmCheckContext *ctx, VxmCheckResult *result);
void vxm_check_swtpm(VxmCheckContext *ctx, VxmCheckResult *result);
void vxm_check_memory(VxmCheckContext *ctx, VxmCheckResult *result);
/* src/checks/vxm-check-vxmd.c */
void vxm_check_vxmd(VxmCheckContext *ctx, VxmCheckResult *result);
/* src/checks/vxm-check-inputs.c */
void vxm_check_inputs(VxmCheckContext *ctx, VxmCheckResult *result);

G_END_DECLS
