/* vxm-display: which monitor a VM switches, and switching its input, by hand or at start/stop.
 *
 * A monitor is named by a spec: "auto" (the one monitor connected to the host's GPUs), an EDID
 * identity "DEL:41234:12345", or a connector "card0-HDMI-A-1" (the VM config's `monitor`).
 * Switching finds a bus that reaches it: with a cached bus still valid (vxm-ddc-cache), the
 * switch is one Set VCP write; otherwise the connectors are scanned, each candidate bus (the
 * host GPU's first, since they stay with the host) is asked for its current input (Get VCP,
 * which proves DDC/CI answers there), and the one that answers is used and cached.
 *
 * At start the supervisor switches to the guest input after QEMU runs, journaling a
 * "monitor-input" entry (the monitor's identity and the host input) first, so a stop, a crash
 * or `vxm recover` switches it back through this kind's undo handler.
 */
#pragma once

#include "common/vxm-hostfs.h"
#include "display/vxm-edid.h"
#include "journal/vxm-journal.h"

G_BEGIN_DECLS

typedef struct _VxmVmConfig VxmVmConfig; /* vm/vxm-vm-config.h */

#define VXM_DISPLAY_JOURNAL_KIND "monitor-input"

/* The VM's monitor as a spec, or NULL when monitor = off. */
char *vxm_display_monitor_spec(const VxmVmConfig *config);

/* Resolves @spec to the EDID identity of a connected monitor. @guest_gpu (may be NULL) is left
 * out when "auto" looks for the host's monitor. NOT_FOUND when it is not connected. */
char *vxm_display_resolve_identity(VxmHostfs *hostfs, const char *spec, const char *guest_gpu,
                                   GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The EDID of the monitor @spec names (for its preferred mode): the first connector that has
 * it, the host GPU's first. NOT_FOUND when it is not connected; CONFIG when auto is ambiguous. */
VxmEdid *vxm_display_monitor_edid(VxmHostfs *hostfs, const char *spec, const char *guest_gpu,
                                  GError **error) G_GNUC_WARN_UNUSED_RESULT;

typedef struct {
  char *identity;    /* "DEL:41234:12345" */
  char *description; /* "DELL U2720Q" */
  char *connector;   /* the connector whose bus was used */
  guint bus;
  gboolean cache_hit;  /* the cached bus was valid: no scan, no probe */
  gint previous_input; /* what it showed before (cold path only), -1 unknown */
  gboolean written;    /* FALSE when it already showed the input */
  gint64 waited_us;    /* time in the protocol's mandated waits */
} VxmDisplayResult;

void vxm_display_result_clear(VxmDisplayResult *result);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VxmDisplayResult, vxm_display_result_clear)

/* Switches the monitor named by @spec to @input (a VCP 0x60 value). Not read back. */
gboolean vxm_display_set_input(VxmHostfs *hostfs, const char *spec, const char *guest_gpu,
                               guint input, VxmDisplayResult *result,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Reads the input the monitor shows now (Get VCP 0x60) into result->previous_input. */
gboolean vxm_display_get_input(VxmHostfs *hostfs, const char *spec, const char *guest_gpu,
                               VxmDisplayResult *result, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The start/stop hook: @which "guest" or "host", every monitor of @config
 * (vxm_vm_config_monitor_switches) in turn, each with its inputs: one that fails does not stop
 * the others, and the error says each failure. Nothing to do (TRUE) when the config switches
 * nothing (monitor off, inputs unset). With a @journal, "guest" journals a monitor-input entry
 * per monitor before switching it, and "host" marks that monitor's entry undone after
 * switching back. @result (may be NULL) is the first monitor's. */
gboolean vxm_display_switch_to(VxmHostfs *hostfs, const VxmVmConfig *config, const char *which,
                               VxmJournal *journal, VxmDisplayResult *result,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The same with the parts given one by one (what VxmHostOps and vxmd receive). */
gboolean vxm_display_switch(VxmHostfs *hostfs, const char *spec, const char *guest_gpu, guint input,
                            gboolean to_guest, guint host_input, VxmJournal *journal,
                            VxmDisplayResult *result, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Registers the "monitor-input" undo handler (switch back to the journaled host input). */
void vxm_display_register_journal_kinds(void);

G_END_DECLS
