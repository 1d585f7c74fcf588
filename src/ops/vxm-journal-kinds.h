/* vxm-journal-kinds: every kind of host change vxm journals, registered in one call.
 *
 * Whoever undoes journals (vxm recover, the supervisor's teardown, vxmd) calls
 * vxm_journal_register_all_kinds() first. An area adding a kind adds its registration call to
 * the list in vxm-journal-kinds.c (and nothing in the journal itself changes).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void vxm_journal_register_all_kinds(void);

G_END_DECLS
