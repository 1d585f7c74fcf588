/* vxm-vxmd-caps: the capabilities vxmd keeps, dropped by vxmd itself as it starts.
 *
 * systemd limits vxmd with the unit's CapabilityBoundingSet; OpenRC's supervise-daemon can do
 * so only where it was built with libcap (Debian's is not), so vxmd narrows its own bounding,
 * permitted and effective sets to the same list (tests/test-pci-holders.c compares the two)
 * and sets no_new_privs, whatever started it.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The set, as a bit mask of CAP_* numbers. */
guint64 vxm_vxmd_capabilities(void);

/* Drops every other capability from the bounding set, clears the ambient and inheritable
 * sets, narrows permitted and effective to those kept that the process had, and sets
 * no_new_privs. Fails (with what could not be dropped) only when the bounding set still holds
 * a capability outside the list and CAP_SETPCAP is missing. */
gboolean vxm_vxmd_limit_capabilities(GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
