/* vxm-vfio: the binding engine. Gives a GPU's IOMMU group to vfio-pci and back.
 *
 * Detach: refuse before touching anything (IOMMU off, the passthrough policy of vxm-gpu:
 * boot VGA, last GPU, unsafe group; vfio-pci not loaded; processes holding the card), then
 * for every endpoint of the group (bridges skipped) the kernel's sequence, each step verified
 * and journaled first: driver_override = vfio-pci, unbind from the original driver (in a child
 * with a time limit), drivers_probe, driver is now vfio-pci. A multi-device transaction with
 * unwind in reverse (libvirt's virhostdev): when device k fails, devices k-1..1 go back and
 * the journal says exactly what is left. A hung unbind leaves that device "stuck": reported,
 * journaled, and not touched again.
 *
 * Reattach is the undo of the "pci-bind" journal kind (registered here), so the supervisor's
 * teardown, `vxm reattach` and `vxm recover` run the same code: clear driver_override (or put
 * back the one the user had), unbind from vfio-pci, drivers_probe, verify the recorded driver
 * came back, else bind it explicitly and say so. A device that has vanished is reported, not
 * an error for the rest.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "common/vxm-hostfs.h"
#include "journal/vxm-journal.h"
#include "pci/vxm-gpu.h"

G_BEGIN_DECLS

#define VXM_VFIO_DRIVER       "vfio-pci"
#define VXM_VFIO_JOURNAL_KIND "pci-bind"

#define VXM_VFIO_NODE_TIMEOUT_DEFAULT_MS 5000

typedef struct {
  /* Time limit for each write that may hang (unbind, bind, drivers_probe); 0: 10 s. The VM
   * config's unbind_timeout. */
  guint timeout_ms;
  /* How long to wait for /dev/vfio/N after binding; 0: 5 s. */
  guint node_timeout_ms;
  /* --force overrides only what cannot hurt the host kernel: holders of an AMD or Intel card
   * (their drivers support hot-unbind with open files, the holders get errors) and processes
   * whose files could not be checked. Never: the group rule, the boot VGA, the last GPU, the
   * IOMMU, or holders of an NVIDIA card (its unbind would hang in the kernel for good). */
  gboolean force;
} VxmVfioOptions;

/* Registers the "pci-bind" undo with the journal (idempotent). Every program that may undo a
 * journal (vxm, vxmd) calls it before vxm_journal_undo(). */
void vxm_vfio_register_journal_kinds(void);

/* The endpoints of @gpu's IOMMU groups (the card's functions; bridges skipped), sorted. */
GPtrArray *vxm_vfio_get_endpoints(VxmGpu *gpu);

/* Moves every endpoint of @gpu's IOMMU group(s) to vfio-pci, journaling in @journal, and
 * waits for /dev/vfio/N. @report (nullable) gets one line per device. On failure everything
 * done is put back unless a device is stuck (then the error says which, code STUCK). The
 * caller owns the journal: it removes it when clear, or holds it (vxm detach). */
gboolean vxm_vfio_detach_group(VxmHostfs *hostfs, VxmGpu *gpu, VxmJournal *journal,
                               const VxmVfioOptions *options, GPtrArray *report,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The same with whole extra PCI devices ([pci] extra): @extra (nullable) holds the endpoints
 * (VxmPciDevice) that vxm_pci_extra_resolve() allowed, moved after the card's in the same
 * transaction (each journaled as "pci-bind" with "extra": true, unwound with the rest), and
 * their groups' /dev/vfio nodes awaited too. */
gboolean vxm_vfio_detach_group_with(VxmHostfs *hostfs, VxmGpu *gpu, GPtrArray *extra,
                                    VxmJournal *journal, const VxmVfioOptions *options,
                                    GPtrArray *report, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Gives every device of @journal back (its whole undo, last first) after the guest has
 * exited; the journal is claimed first, and removed when everything is back. */
gboolean vxm_vfio_reattach_group(VxmHostfs *hostfs, VxmJournal *journal,
                                 const VxmVfioOptions *options, GPtrArray *report,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Where each endpoint of @gpu is bound and why, for `vxm status`: an array of
 * {"address", "driver" (or null), "driver_override" (or null), "bound_by": "host" | "vm" |
 *  "manual" | "orphan" | "static" | "other", "journal" (or null), "since" (or null),
 *  "state" (the journal entry's, or null), "reason"}. */
JsonNode *vxm_vfio_binding_status(VxmHostfs *hostfs, VxmGpu *gpu,
                                  GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* With static binding: TRUE when every endpoint is already on vfio-pci (nothing to bind),
 * else an error naming each device not on it and the fix. */
gboolean vxm_vfio_check_bound(VxmHostfs *hostfs, VxmGpu *gpu,
                              GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The journals (loaded) with entries not yet undone for any endpoint of @gpu. Journals that
 * cannot be read are skipped and their errors appended to @problems (nullable). */
GPtrArray *vxm_vfio_find_journals(VxmHostfs *hostfs, VxmGpu *gpu, GPtrArray *problems,
                                  GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The journal name for a card detached by hand: "manual-0000:01:00.0". */
char *vxm_vfio_manual_journal_name(VxmGpu *gpu);

G_END_DECLS
