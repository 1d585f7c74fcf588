/* vxm-supervisor-private.h: what the supervisor's own files share, and nothing else includes.
 *
 * The supervisor is one object split by responsibility:
 *   vxm-supervisor.c            the state machine: start, stop, teardown, the GObject
 *   vxm-supervisor-resources.c  the host resources as a table (prepare, restore, held)
 *   vxm-supervisor-qemu.c       the QEMU session: spawn paused, QMP handshake, pin, cont,
 *                               powerdown, quit
 *   vxm-supervisor-swtpm.c      swtpm: spawn, its socket, its exit, its stop
 *   vxm-supervisor-guest.c      while the guest runs: input and USB watchers, the monitor
 *   vxm-supervisor-status.c     the status JSON
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "common/vxm-hostfs.h"
#include "common/vxm-run-as.h"
#include "input/vxm-input-watch.h"
#include "qemu/vxm-process.h"
#include "supervisor/vxm-supervisor.h"
#include "usb/vxm-usb-watch.h"

G_BEGIN_DECLS

/* The host resources, in the order of their table (vxm-supervisor-resources.c). */
typedef enum {
  VXM_SV_RESOURCE_GPU,       /* on vfio-pci, its group's node given to QEMU's user */
  VXM_SV_RESOURCE_HUGEPAGES, /* reserved */
  VXM_SV_RESOURCE_DEVICES,   /* input, USB and VFIO nodes given to QEMU's user */
  VXM_SV_RESOURCE_JOURNAL,   /* the rest the engines journaled: the Looking Glass file, a monitor */
  VXM_SV_N_RESOURCES,
} VxmSvResource;

struct _VxmSupervisor {
  GObject parent_instance;

  VxmHostOps *ops;
  VxmSupervisorPlan *plan;
  VxmVmState state;
  char *failure;
  char *started; /* ISO 8601 */

  int lock_fd;
  int gpu_lock_fd; /* the guest GPU's lock: held from before the detach until it is back */
  int log_fd;
  VxmProcess *qemu;
  VxmProcess *swtpm;
  VxmQmpClient *qmp;
  GCancellable *cancellable; /* the start's waits */

  guint pending;           /* parallel steps still running */
  gboolean tearing_down;   /* teardown began (once) */
  guint teardown_pending;  /* teardown branches still running */
  gboolean stop_requested; /* by the user or a signal: the end is "stopped", not "failed" */
  gboolean quit_sent;
  gboolean monitor_switched; /* a monitor went to its guest input: switch it back */
  GPtrArray *monitor_states; /* MonitorState, one per plan->monitors */
  gboolean monitor_busy;     /* a switch runs in a worker thread */
  gboolean restore_waiting;  /* QEMU is gone, the host is restored once the switch ends */
  guint powerdown_source;
  guint quit_source;

  guint signal_sources[3];
  guint signals_received;

  char *monitor_failure;  /* the socket or greeting failed: used unless QEMU's exit explains */
  gboolean shutdown_step; /* "shutdown-guest" is running: QEMU's exit ends it */
  gboolean powerdown_timed_out;

  VxmHostfs *hostfs;            /* the planned host root: input links are watched under it */
  gboolean hugepages_held;      /* reserve-hugepages succeeded: teardown releases them */
  gboolean hugepages_fell_back; /* short, with hugepages_fallback: QEMU runs on normal RAM */
  guint64 hugepages_reserved;   /* the page size reserved (auto: plan's size or its alternative) */
  VxmRunAs *run_as;             /* QEMU's and swtpm's user when vxm is root (sudo), else NULL */
  GPtrArray *granted_nodes;     /* char*: nodes given to QEMU's user now */
  gboolean memlock_raised;
  char *memlock_warning;
  gboolean pinned;      /* the pinning plan was applied to QEMU's threads */
  GArray *vcpu_threads; /* gint thread ids from query-cpus-fast */
  VxmInputWatch *input_watch;
  VxmUsbWatch *usb_watch;
  GString *restore_failures;
  /* the host resources (vxm-supervisor-resources.c): which ones teardown gives back (a detach
   * was attempted, a reservation ran: a partial one is journaled, a grant ran: even a failed
   * one may have given some), and the next one to give back */
  gboolean held[VXM_SV_N_RESOURCES];
  guint restore_stage;

  /* issue 17: the logind inhibitor lock (plan->inhibit), held while the VM's run lasts */
  int inhibit_fd;          /* -1: not held */
  char *inhibit_since;     /* ISO 8601, when it was granted */
  char *inhibit_error;     /* why it is not held (no logind, refused) */
  gboolean inhibit_asking; /* the request is under way */

  char *run_state;
  JsonArray *steps;
  GHashTable *step_started; /* name -> gint64 monotonic start */
  GPtrArray *restored;
};

/* Where vxm last put one monitor, for `vxm status`. */
typedef struct {
  gboolean on_guest;
  char *since; /* ISO 8601, NULL before any switch */
  char *error; /* its last switch failed: why (the others went on) */
} MonitorState;

/* ---- vxm-supervisor.c: log, progress, state ---- */
void vxm_sv_log(VxmSupervisor *self, const char *format, ...) G_GNUC_PRINTF(2, 3);
void vxm_sv_emit_progress(VxmSupervisor *self, JsonObject *event);
char *vxm_sv_now_iso(void);
void vxm_sv_write_state_file(VxmSupervisor *self);
void vxm_sv_set_state(VxmSupervisor *self, VxmVmState state);
/* The first failure is the reason; later ones are only logged. */
void vxm_sv_set_failure(VxmSupervisor *self, const char *message);
void vxm_sv_step_begin(VxmSupervisor *self, const char *step);
/* @status: "ok", "failed", "skipped". */
void vxm_sv_step_end(VxmSupervisor *self, const char *step, const char *status,
                     const char *message);
/* "QEMU exited with status 1 at start: read ~/.local/state/vxm/win11/qemu.log (last line: ...)" */
char *vxm_sv_describe_exit(VxmProcess *process, const char *who, const char *when);
/* One parallel preparation branch ended: the last one goes on (memlock, QEMU) or tears down. */
void vxm_sv_prepared_one(VxmSupervisor *self);
/* One teardown branch ended: the last one finishes the run. */
void vxm_sv_teardown_one_done(VxmSupervisor *self);
void vxm_sv_restore_host(VxmSupervisor *self);
void vxm_sv_teardown(VxmSupervisor *self);

/* ---- vxm-supervisor-resources.c ---- */
gboolean vxm_sv_check_gpu_conflict(VxmSupervisor *self, GError **error);
gboolean vxm_sv_prepare_dirs(VxmSupervisor *self, GError **error);
void vxm_sv_prepare_resources(VxmSupervisor *self);
void vxm_sv_restore_resources(VxmSupervisor *self);
void vxm_sv_raise_memlock(VxmSupervisor *self);

/* ---- vxm-supervisor-qemu.c ---- */
void vxm_sv_start_qemu(VxmSupervisor *self);
/* Ends QEMU: QMP quit when the monitor is up, else SIGTERM; SIGKILL when it lingers. */
void vxm_sv_send_quit(VxmSupervisor *self);
/* ACPI power-down, quit after @limit_s seconds. */
void vxm_sv_powerdown(VxmSupervisor *self, guint limit_s);
gboolean vxm_sv_took_alternative_hugepages(VxmSupervisor *self);

/* ---- vxm-supervisor-swtpm.c ---- */
void vxm_sv_start_swtpm(VxmSupervisor *self);
/* A teardown branch: ends with vxm_sv_teardown_one_done(). */
void vxm_sv_stop_swtpm(VxmSupervisor *self);

/* ---- vxm-supervisor-guest.c ---- */
void vxm_sv_start_input_watch(VxmSupervisor *self);
void vxm_sv_stop_input_watch(VxmSupervisor *self);
void vxm_sv_start_usb_watch(VxmSupervisor *self);
void vxm_sv_stop_usb_watch(VxmSupervisor *self);
gboolean vxm_sv_wants_monitor(VxmSupervisor *self);
MonitorState *vxm_sv_monitor_state(VxmSupervisor *self, guint i);
void vxm_sv_monitor_state_free(MonitorState *state);
void vxm_sv_switch_monitor(VxmSupervisor *self, gboolean to_guest);

G_END_DECLS
