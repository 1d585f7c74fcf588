/* vxm-sim-machine: reading a machine file (tests/simhost/NAME.machine, a GKeyFile).
 *
 * Typed getters whose errors name the file, the group and the key, and a final check that
 * every group and key was understood, so a typo is an error rather than a silently different
 * machine. The areas of the simulated host (system, PCI, processes, ...) each read their own
 * groups through this. The format is documented in tests/simhost/README.md.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VxmSimMachine VxmSimMachine;

VxmSimMachine *vxm_sim_machine_load(const char *path, GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_sim_machine_free(VxmSimMachine *machine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmSimMachine, vxm_sim_machine_free)

const char *vxm_sim_machine_get_path(VxmSimMachine *machine);

/* A path from the machine file: absolute as is, relative to the machine file's folder. */
char *vxm_sim_machine_resolve_path(VxmSimMachine *machine, const char *path);

/* Names of the groups "PREFIX NAME" in file order (the NAME parts), marked as understood. */
GPtrArray *vxm_sim_machine_groups(VxmSimMachine *machine, const char *prefix);
/* TRUE when [group] exists; marks it understood. */
gboolean vxm_sim_machine_has_group(VxmSimMachine *machine, const char *group);
gboolean vxm_sim_machine_has_key(VxmSimMachine *machine, const char *group, const char *key);

/* Each getter marks the key understood and returns @def when it is absent. */
gboolean vxm_sim_machine_get_string(VxmSimMachine *machine, const char *group, const char *key,
                                    const char *def, char **out,
                                    GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_sim_machine_get_bool(VxmSimMachine *machine, const char *group, const char *key,
                                  gboolean def, gboolean *out,
                                  GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_sim_machine_get_int(VxmSimMachine *machine, const char *group, const char *key,
                                 gint64 min, gint64 max, gint64 def, gint64 *out,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Hex without 0x, at most @digits digits; @required: absent is an error. */
gboolean vxm_sim_machine_get_hex(VxmSimMachine *machine, const char *group, const char *key,
                                 guint digits, gboolean required, guint32 def, guint32 *out,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* A list separated by commas or spaces; absent or empty gives an empty list. */
gboolean vxm_sim_machine_get_list(VxmSimMachine *machine, const char *group, const char *key,
                                  GStrv *out, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Sets a CONFIG error "FILE: [group] key: message". Always returns FALSE. */
gboolean vxm_sim_machine_error(VxmSimMachine *machine, GError **error, const char *group,
                               const char *key, const char *format, ...) G_GNUC_PRINTF(5, 6);

/* Fails on the first group or key nothing understood. */
gboolean vxm_sim_machine_check_understood(VxmSimMachine *machine,
                                          GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
