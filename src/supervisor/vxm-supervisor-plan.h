/* vxm-supervisor-plan: everything the supervisor needs to run one VM, decided beforehand.
 *
 * The plan is plain data: the argvs are built by the pure builders (vxm-qemu-argv,
 * vxm-swtpm-argv) from the config, so the supervisor's logic can be tested with any program
 * standing in for QEMU, and `--dry-run` shows exactly what would run.
 */
#pragma once

#include <json-glib/json-glib.h>

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

/* The environment QEMU and swtpm get: the few variables they use from vxm's own (HOME, USER,
 * LANG, LC_ALL, XDG_RUNTIME_DIR, TMPDIR) plus VXM_TEST_ARGV_LOG and every VXM_QEMU_SIM_* one
 * (tests/vxm-qemu-sim, for machines without KVM and VFIO). */
GStrv vxm_supervisor_plan_child_environ(void);

G_END_DECLS
