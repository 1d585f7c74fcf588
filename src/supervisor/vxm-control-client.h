/* vxm-control-client: the CLI's side of the supervisor's control socket (blocking). */
#pragma once

#include <json-glib/json-glib.h>

#include "vm/vxm-vm-paths.h"

G_BEGIN_DECLS

/* Called for each event line; return FALSE to stop reading. */
typedef gboolean (*VxmControlEventFunc)(JsonObject *event, gpointer user_data);

/* Sends @request and returns the first reply line. NOT_FOUND when no supervisor listens.
 * @timeout_ms bounds each read (0: 10 s). */
JsonObject *vxm_control_request(const VxmVmPaths *paths, JsonObject *request, guint timeout_ms,
                                GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Sends @request (stop or watch) and hands each event to @func until the connection ends or
 * @func returns FALSE. Returns the "finished" status, or NULL with an error when the
 * connection ended without one (the supervisor died). @timeout_ms bounds each read (0: none). */
JsonObject *vxm_control_follow(const VxmVmPaths *paths, JsonObject *request, guint timeout_ms,
                               VxmControlEventFunc func, gpointer user_data,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
