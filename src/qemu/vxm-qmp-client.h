/* vxm-qmp-client: an asynchronous QMP client on the GLib main loop.
 *
 * Owns one monitor connection: the greeting, capability negotiation, commands with
 * auto-incremented integer ids and per-command time limits, replies matched by id (in any
 * order), and events, delivered as the detailed signal "event::NAME".
 *
 * Transport: a raw non-blocking socket fd watched by a GSource, not GSocketConnection's
 * streams. Reasons: (1) the supervisor hands us fds it already holds (a socketpair end or a
 * pre-bound socket passed to QEMU), (2) writes are queued and never collide the way
 * GOutputStream's one-pending-operation rule makes them, so many commands can be pipelined
 * with no extra state machine, (3) QMP's getfd/add-fd need SCM_RIGHTS with sendmsg(), which a
 * raw fd makes a small later addition. Reading is split out into VxmQmpReader (pure, fuzzed).
 *
 * All sources attach to the thread-default GMainContext current when the client is created;
 * use the client from that context's thread only.
 *
 * Errors: transport problems are VXM_ERROR (TIMEOUT, IO, PROTOCOL); an {"error": ...} reply
 * from QEMU is VXM_QMP_ERROR, an extended GError carrying QMP's class and desc.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* QMP's error classes (qapi/error.json). */
typedef enum {
  VXM_QMP_ERROR_GENERIC,           /* GenericError, and any class this list does not know */
  VXM_QMP_ERROR_COMMAND_NOT_FOUND, /* CommandNotFound */
  VXM_QMP_ERROR_DEVICE_NOT_ACTIVE, /* DeviceNotActive */
  VXM_QMP_ERROR_DEVICE_NOT_FOUND,  /* DeviceNotFound */
  VXM_QMP_ERROR_KVM_MISSING_CAP,   /* KVMMissingCap */
} VxmQmpErrorCode;

#define VXM_QMP_ERROR (vxm_qmp_error_quark())
GQuark vxm_qmp_error_quark(void);

/* The class and desc QEMU sent, for an error in VXM_QMP_ERROR (NULL for any other error). */
const char *vxm_qmp_error_get_class(const GError *error);
const char *vxm_qmp_error_get_desc(const GError *error);

/* Time limit for a command when the caller passes 0. */
#define VXM_QMP_DEFAULT_TIMEOUT_MS 10000

#define VXM_TYPE_QMP_CLIENT (vxm_qmp_client_get_type())
G_DECLARE_FINAL_TYPE(VxmQmpClient, vxm_qmp_client, VXM, QMP_CLIENT, GObject)

/* Takes ownership of @fd, a connected stream socket (made non-blocking and close-on-exec).
 * Nothing is read until the main context runs. */
VxmQmpClient *vxm_qmp_client_new_for_fd(int fd, GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Uses a duplicate of @socket's fd; @socket stays the caller's. */
VxmQmpClient *vxm_qmp_client_new_for_socket(GSocket *socket,
                                            GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Connects to the unix socket at @path (a unix connect does not block). */
VxmQmpClient *vxm_qmp_client_new_for_path(const char *path,
                                          GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Waits for the greeting (within @timeout_ms, 0 for the default), then negotiates
 * capabilities (qmp_capabilities, no optional capability enabled). */
void vxm_qmp_client_handshake_async(VxmQmpClient *self, guint timeout_ms, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
gboolean vxm_qmp_client_handshake_finish(VxmQmpClient *self, GAsyncResult *result,
                                         GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Sends {"execute": @command, "arguments": @arguments, "id": N}. @arguments may be NULL.
 * The reply must come within @timeout_ms (0 for the default); a late reply is dropped.
 * Commands may be issued before the handshake finished: they are queued behind it. */
void vxm_qmp_client_execute_async(VxmQmpClient *self, const char *command, JsonObject *arguments,
                                  guint timeout_ms, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
/* The "return" member of the reply (often an empty object). */
JsonNode *vxm_qmp_client_execute_finish(VxmQmpClient *self, GAsyncResult *result,
                                        GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Blocking wrappers for the CLI and tests: they iterate the client's main context. */
gboolean vxm_qmp_client_handshake_sync(VxmQmpClient *self, guint timeout_ms,
                                       GError **error) G_GNUC_WARN_UNUSED_RESULT;
JsonNode *vxm_qmp_client_execute_sync(VxmQmpClient *self, const char *command,
                                      JsonObject *arguments, guint timeout_ms,
                                      GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Closes the connection: pending commands fail with G_IO_ERROR_CANCELLED, "disconnected" is
 * emitted (with NULL) if it was not already. Idempotent. */
void vxm_qmp_client_close(VxmQmpClient *self);

gboolean vxm_qmp_client_is_connected(VxmQmpClient *self);
/* TRUE once the greeting was read and qmp_capabilities succeeded. */
gboolean vxm_qmp_client_is_ready(VxmQmpClient *self);
/* From the greeting; FALSE before it arrived. */
gboolean vxm_qmp_client_get_version(VxmQmpClient *self, int *major, int *minor, int *micro);
const char *vxm_qmp_client_get_package(VxmQmpClient *self);
/* The capabilities QEMU offered (e.g. "oob"); NULL before the greeting. */
const char *const *vxm_qmp_client_get_capabilities(VxmQmpClient *self);

/* Signals:
 *   "event" (detailed by the event name, e.g. "event::SHUTDOWN"):
 *       void (*)(VxmQmpClient *, const char *name, JsonObject *data, gint64 timestamp_us,
 *                gpointer user_data)
 *     @data is never NULL (an empty object when QEMU sent none); @timestamp_us is QEMU's
 *     wall-clock time of the event in microseconds since the epoch, -1 if it sent none.
 *   "disconnected":
 *       void (*)(VxmQmpClient *, const GError *error, gpointer user_data)
 *     Emitted once when the connection ends: @error NULL on a clean end of stream (QEMU
 *     quit) or vxm_qmp_client_close(), else what went wrong (reset, protocol error,
 *     truncated message). Commands still waiting fail before it is emitted.
 */

G_END_DECLS
