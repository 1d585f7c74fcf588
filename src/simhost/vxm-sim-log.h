/* vxm-sim-log: the simulator's operation log, read by tests from .simhost/log.
 *
 * One line per operation: "<seq> <op> <host-path> [<value>] -> <result>", where value is the
 * written text with one trailing newline removed and other control bytes escaped (\n, \t,
 * \xHH; an empty value is ""), and result is "ok", an errno name ("EBUSY") or "hang" (an
 * operation blocked by a hang fault; its final line follows when released). Thread safe.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VxmSimLog VxmSimLog;

VxmSimLog *vxm_sim_log_new(gboolean echo_to_stderr);
void vxm_sim_log_free(VxmSimLog *log);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmSimLog, vxm_sim_log_free)

/* @value NULL: the line has no value. @value_len -1: NUL terminated. @result: 0 or -errno. */
void vxm_sim_log_add(VxmSimLog *log, const char *op, const char *path, const char *value,
                     gssize value_len, int result);
/* Same with a literal result word ("hang"). */
void vxm_sim_log_add_word(VxmSimLog *log, const char *op, const char *path, const char *value,
                          gssize value_len, const char *result);

char *vxm_sim_log_text(VxmSimLog *log);
/* Empties the log; numbering starts again at 1. */
void vxm_sim_log_clear(VxmSimLog *log);

/* "EBUSY" for EBUSY, "ok" for 0, or the number when unnamed. */
const char *vxm_sim_errno_name(int errnum);
/* Parses "EBUSY" or "16"; 0 when unknown. */
int vxm_sim_errno_from_name(const char *name);

/* A written value as the log shows it. */
char *vxm_sim_log_escape(const char *value, gssize len);

G_END_DECLS
