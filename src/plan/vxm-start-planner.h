/* vxm-start-planner: every decision `vxm start` makes, in one place.
 *
 *   (context: the host root, where QEMU's capabilities and the DMI identity come from;
 *    the VM's paths and config) -> VxmStartPlan
 *
 * The plan keeps what was observed (the guest GPU, the host facts as collected, QEMU's
 * capabilities, the firmware) apart from what was decided from it (hugepages, pinning and the
 * -smp topology, the device nodes, the pending inputs, the argvs and the host steps). The
 * facts are never changed after they were collected: each argv is built from a view of them
 * with the decisions applied. `vxm start --dry-run` prints the plan, the real start hands
 * vxm_start_plan_to_supervisor_plan() to the supervisor, and the golden plan tests
 * (tests/data/start-plan) call the planner directly.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "common/vxm-hostfs.h"
#include "cpu/vxm-cpu-pinning-plan.h"
#include "pci/vxm-gpu.h"
#include "plan/vxm-start-facts.h"
#include "plan/vxm-supervisor-plan.h"
#include "vm/vxm-firmware.h"
#include "vm/vxm-qemu-caps.h"
#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-paths.h"

G_BEGIN_DECLS

/* QEMU's capabilities for @binary (NULL: vxm_qemu_caps_get(), which probes and caches). */
typedef VxmQemuCaps *(*VxmStartQemuCapsFunc)(const char *binary, gpointer user_data,
                                             GError **error);
/* The host's DMI identity for smbios = host, when this process cannot read all of it (an
 * unprivileged vxm asks vxmd). NULL with a remark added to @notes when it cannot be had: the
 * facts then read what this user may. Not set: the facts read it themselves. */
typedef VxmHostSmbios *(*VxmStartDmiFunc)(gpointer user_data, GPtrArray *notes);
/* A warning the start shows at once (the firmware's), not a note of the plan. */
typedef void (*VxmStartWarnFunc)(const char *message, gpointer user_data);

typedef struct {
  VxmHostfs *hostfs; /* the host root the start plans against */
  VxmStartQemuCapsFunc qemu_caps;
  VxmStartDmiFunc dmi;
  VxmStartWarnFunc warn;
  gpointer user_data; /* for the three functions */
} VxmStartContext;

typedef struct {
  /* what the start was asked for */
  VxmVmPaths *paths;
  VxmVmConfig *config; /* resolved by the planner */
  char *host_root;     /* NULL: the real "/" */

  /* what was observed */
  VxmGpu *gpu;
  VxmStartFacts *facts; /* as collected; the decisions below are never written into it */
  VxmQemuCaps *caps;
  VxmFirmware *fw;

  /* what was decided */
  GPtrArray *notes;      /* char*: remarks for the user */
  guint64 hugepage_size; /* 0: normal memory */
  guint64 hugepage_count;
  gint hugepage_node;
  guint64 hugepage_alt_size; /* auto: the other size the start may get (qemu_alt), 0: none */
  gint hugepage_alt_node;
  char *hugepages_why; /* auto: why this size */
  guint64 memlock_bytes;
  VxmCpuPinningPlan *pinning; /* NULL: the topology could not be read (auto) */
  char *pinning_why;          /* why there is no plan */
  guint sockets;              /* -smp: the pinning plan's, else the facts' */
  guint cores;
  guint threads;
  GStrv input_nodes; /* host paths QEMU opens, one per input object */
  GStrv vfio_nodes;
  GPtrArray *input_objects; /* VxmInputObject */
  GPtrArray *input_pending; /* named in the config, not plugged in: added when they are */
  GStrv qemu;
  GStrv qemu_fallback; /* without the hugepage backend: hugepages_fallback */
  GStrv qemu_alt;      /* for hugepage_alt_size */
  GStrv swtpm;         /* NULL: no TPM */
  GPtrArray *steps;    /* VxmStartStep */
} VxmStartPlan;

/* Plans the start of the VM of @paths and @config (both taken): resolves the config, finds
 * the guest GPU, refuses what is known to fail before the host changes (a GPU not safe to
 * pass through, held by processes, a missing ISO), collects the host facts and decides. */
VxmStartPlan *vxm_start_plan_build(const VxmStartContext *context, VxmVmPaths *paths,
                                   VxmVmConfig *config, GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_start_plan_free(VxmStartPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmStartPlan, vxm_start_plan_free)

/* The plan as `vxm start --dry-run --json` prints it. */
JsonNode *vxm_start_plan_to_json(const VxmStartPlan *plan);

/* What the supervisor runs (a copy: @plan stays whole). */
VxmSupervisorPlan *vxm_start_plan_to_supervisor_plan(const VxmStartPlan *plan,
                                                     GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
