/* vxm-supervisor-plan: everything the supervisor needs to run one VM, decided beforehand.
 *
 * The plan is plain data: the argvs are built by the pure builders (vxm-qemu-argv,
 * vxm-swtpm-argv) from the config, so the supervisor's logic can be tested with any program
 * standing in for QEMU, and `--dry-run` shows exactly what would run.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "cpu/vxm-cpu-pinning-plan.h"
#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-paths.h"

G_BEGIN_DECLS

#define VXM_SUPERVISOR_QMP_TIMEOUT_MS_DEFAULT  30000
#define VXM_SUPERVISOR_QUIT_TIMEOUT_MS_DEFAULT 5000

typedef struct {
  VxmVmPaths *paths;

  /* The guest GPU ("0000:01:00.0"), NULL to run without one (tests). */
  char *gpu_address;
  guint unbind_timeout_ms; /* 0: the binding engine's default */
  gboolean keep_bound;
  /* [pci] extra: whole devices detached with the GPU ("0000:04:00.0"), NULL or empty: none */
  GStrv extra_devices;

  /* QEMU: its argv (with -S, or the supervisor adds it) and whole environment. The QMP
   * monitor must be a unix socket at paths->qmp_socket. */
  GStrv qemu_argv;
  GStrv qemu_envp;
  /* swtpm: NULL argv for a VM without a TPM; its control socket is paths->swtpm_socket. */
  GStrv swtpm_argv;
  GStrv swtpm_envp;

  guint shutdown_timeout_s; /* ACPI power-down, then quit after this long */
  guint qmp_timeout_ms;     /* QEMU's socket and greeting must come within this; 0: default */
  guint quit_timeout_ms;    /* after quit, SIGTERM then SIGKILL; 0: default */

  /* The monitors switched to their guest inputs once the guest runs, and back at stop
   * (VxmVmMonitorSwitch: a spec as vxm-display.h takes it, auto included, and both inputs);
   * empty: none is switched. */
  GPtrArray *monitors;

  /* Issue 17: what a logind inhibitor lock blocks while the VM runs ("sleep", "sleep:idle"),
   * NULL: none is asked for. */
  char *inhibit;

  /* The host root the CLI planned against (--root), NULL for the real "/": the supervisor
   * watches input links under it, and a simulated host makes a refused memlock a warning. */
  char *host_root;

  /* Issue 5: hugepages for the guest's RAM, reserved in parallel with the binding.
   * hugepage_size 0: normal memory (off, or none fit), and the rest is unused. */
  guint64 hugepage_size;          /* bytes: 2 MiB or 1 GiB */
  guint64 hugepage_count;         /* pages */
  gint hugepage_node;             /* NUMA node of the pool (the GPU's), -1: the global pool */
  gboolean hugepages_fallback;    /* short: start with qemu_argv_fallback and a warning */
  gboolean hugepages_drop_caches; /* the engine's defaults, shown by the dry run */
  gboolean hugepages_compact;
  /* The same QEMU argv without the hugepage backend, for a short reservation with
   * hugepages_fallback; NULL otherwise. */
  GStrv qemu_argv_fallback;
  /* hugepages = auto: the host ops take 1 GiB pages when they can be had, else 2 MiB, and the
   * supervisor starts QEMU with the argv for the size they reserved: qemu_argv for
   * hugepage_size, qemu_argv_alt (the same builder) for hugepage_alt_size on its node.
   * hugepage_alt_size 0: one size only. */
  gboolean hugepages_auto;
  guint64 hugepage_alt_size;
  gint hugepage_alt_node;
  GStrv qemu_argv_alt;

  /* RLIMIT_MEMLOCK the supervisor raises on itself before it spawns QEMU, which inherits it
   * (VFIO pins guest RAM during machine init, before QMP exists); 0: left alone. */
  guint64 memlock_bytes;

  /* Issue 5: where the vCPU threads and QEMU's other threads run; NULL: not pinned. Applied
   * between the QMP handshake and cont. */
  VxmCpuPinningPlan *pinning;

  /* Device nodes for the user's QEMU, taken back at stop: the GPU's /dev/vfio/N (granted
   * once its group is on vfio-pci) and the input nodes (host paths, by-id links). */
  GStrv vfio_nodes;
  GStrv input_nodes;
  /* Issue 7: QEMU's input-linux objects (VxmInputObject), for the hotplug watcher. */
  GPtrArray *input_objects;
  /* Objects for listed devices absent at start (evdev a by-id link): added when plugged. */
  GPtrArray *input_pending;

  /* [usb] devices (VxmUsbPassthrough): those with a node are on QEMU's command line and their
   * node is granted with the others at start; the rest are added when plugged in. */
  GPtrArray *usb_devices;
  /* Issue 5: Looking Glass shared memory of this size (0: off), made before QEMU starts. */
  guint64 looking_glass_bytes;
} VxmSupervisorPlan;

VxmSupervisorPlan *vxm_supervisor_plan_new(const char *vm_name,
                                           GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_supervisor_plan_free(VxmSupervisorPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmSupervisorPlan, vxm_supervisor_plan_free)

/* The plan as JSON and back: `vxm start` builds it once and hands it to the background
 * supervisor it starts, which then runs exactly what was shown. */
JsonNode *vxm_supervisor_plan_to_json(const VxmSupervisorPlan *plan);
VxmSupervisorPlan *vxm_supervisor_plan_from_json(JsonNode *node,
                                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Monitors (VxmVmMonitorSwitch, as plan->monitors) as JSON: [{"monitor", "host_input",
 * "guest_input" (VCP 0x60 values), "host_input_name", "guest_input_name"}] (also shown by vxm start
 * --dry-run --json). */
JsonArray *vxm_supervisor_plan_monitors_to_json(const GPtrArray *monitors);

/* The environment QEMU and swtpm get: the few variables they use from vxm's own (HOME, USER,
 * LANG, LC_ALL, XDG_RUNTIME_DIR, TMPDIR) plus the test seams of vxm-supervisor-plan-private.h
 * (what the test doubles for QEMU read). */
GStrv vxm_supervisor_plan_child_environ(void);

G_END_DECLS
