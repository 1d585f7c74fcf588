/* vxm-start-step: one change `vxm start` makes to the host, as a typed plan entry.
 *
 * vxm_start_step_plan() lists them in the order start performs them, so `vxm start --dry-run`
 * can show what would happen; the areas that carry each step out (binding, memory, input,
 * display, the supervisor) keep the kinds as their interface.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "plan/vxm-start-facts.h"
#include "vm/vxm-vm-paths.h"

G_BEGIN_DECLS

typedef struct _VxmVmConfig VxmVmConfig; /* vm/vxm-vm-config.h */

typedef enum {
  VXM_START_STEP_DETACH_GPU,            /* the GPU's functions to vfio-pci */
  VXM_START_STEP_RESERVE_HUGEPAGES,     /* on the GPU's NUMA node */
  VXM_START_STEP_PREPARE_LOOKING_GLASS, /* /dev/kvmfr0 or a shared memory file */
  VXM_START_STEP_GRANT_VFIO,            /* /dev/vfio/N to the user for the VM's life */
  VXM_START_STEP_GRANT_INPUT,           /* /dev/input/event* to the user */
  VXM_START_STEP_GRANT_USB,             /* /dev/bus/usb/BBB/DDD of [usb] devices to the user */
  VXM_START_STEP_RAISE_MEMLOCK,         /* RLIMIT_MEMLOCK for the pinned guest RAM */
  VXM_START_STEP_START_SWTPM,
  VXM_START_STEP_START_QEMU,
  VXM_START_STEP_SWITCH_MONITOR, /* DDC/CI input to the guest GPU */
  VXM_START_STEP_NOTE,           /* nothing changes: a remark for the user */
} VxmStartStepKind;

typedef struct {
  VxmStartStepKind kind;
  char *description; /* one line for people */
  GStrv subjects;    /* what it touches: BDFs, device nodes, a node number; never NULL */
  guint64 amount;    /* pages or bytes where it has one, else 0 */
} VxmStartStep;

void vxm_start_step_free(VxmStartStep *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmStartStep, vxm_start_step_free)

/* "detach-gpu", "reserve-hugepages", ... (the JSON values). */
const char *vxm_start_step_kind_to_string(VxmStartStepKind kind);

/* The steps of starting @config on a host described by @facts, in order. @notes (nullable)
 * are appended as NOTE steps (the argv builder's remarks, a firmware fallback). */
GPtrArray *vxm_start_step_plan(const VxmVmConfig *config, const VxmStartFacts *facts,
                               const VxmVmPaths *paths, GPtrArray *notes);

/* {"kind": "...", "description": "...", "subjects": [...], "amount": N} */
JsonNode *vxm_start_step_to_json(const VxmStartStep *self);

G_END_DECLS
