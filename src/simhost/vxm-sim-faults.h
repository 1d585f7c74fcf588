/* vxm-sim-faults: fault injection rules, written by tests to .simhost/faults.
 *
 * A rule is one line: OP PATH-GLOB [value=GLOB] ACTION... [count=N]
 *   OP      write | open | chown | chmod | create | mkdir | unlink | rmdir | rename | ioctl | any
 *   GLOB    fnmatch(3) pattern on the host path ('*' also matches '/'); a PCI device's
 *           attribute matches as /sys/bus/pci/devices/BDF/ATTR and as its real path
 *   value=  fnmatch pattern on the written value (one trailing newline removed)
 *   ACTION  errno=NAME (EBUSY, ENODEV, ... or a number): the operation fails, nothing changes
 *           delay=MS: wait, then go on (combines with the others)
 *           hang: block until something is written to .simhost/release, then go on
 *           vanish: the PCI device the operation names is hot-unplugged at that moment; the
 *           operation then fails with ENODEV
 *   count=N the rule fires N times, then is dropped (default: every time)
 * The first matching rule fires. Thread safe; hangs wait on their own lock, never the host's.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VxmSimFaults VxmSimFaults;

typedef struct {
  gboolean fired;
  int error;      /* positive errno, or 0 */
  guint delay_ms; /* 0: none */
  gboolean hang;
  gboolean vanish;
} VxmSimFaultAction;

VxmSimFaults *vxm_sim_faults_new(void);
void vxm_sim_faults_free(VxmSimFaults *faults);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmSimFaults, vxm_sim_faults_free)

/* Parses and appends a rule; "clear" removes every rule. */
gboolean vxm_sim_faults_add(VxmSimFaults *faults, const char *text,
                            GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_sim_faults_clear(VxmSimFaults *faults);
/* The active rules, one per line, with their remaining counts. */
char *vxm_sim_faults_list(VxmSimFaults *faults);

/* Finds the first rule for @op matching any of @paths (NULL-terminated) and @value, uses up
 * one of its count, and returns what to do. */
VxmSimFaultAction vxm_sim_faults_match(VxmSimFaults *faults, const char *op,
                                       const char *const *paths, const char *value,
                                       gssize value_len);

/* Blocks until vxm_sim_faults_release() (or @should_abort returns TRUE, checked a few times
 * a second so a hung operation cannot keep the simulator from unmounting). */
void vxm_sim_faults_wait_release(VxmSimFaults *faults, gboolean (*should_abort)(void));
void vxm_sim_faults_release(VxmSimFaults *faults);
/* Wakes waiters of vxm_sim_faults_wait_change() (the simulated host changed: a holder
 * exited) without releasing hangs; release wakes them too. */
void vxm_sim_faults_wait_change(VxmSimFaults *faults, gboolean (*should_abort)(void));
void vxm_sim_faults_wake(VxmSimFaults *faults);
/* The change count, taken before looking at the host, and a wait for a change since then:
 * no wake between the look and the wait is lost. */
guint64 vxm_sim_faults_generation(VxmSimFaults *faults);
void vxm_sim_faults_wait_change_since(VxmSimFaults *faults, guint64 generation,
                                      gboolean (*should_abort)(void));
guint64 vxm_sim_faults_release_count(VxmSimFaults *faults);
/* How many operations are blocked in a hang right now. */
guint vxm_sim_faults_hung_count(VxmSimFaults *faults);

G_END_DECLS
