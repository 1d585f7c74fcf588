/* A scripted QMP server for tests (the idea of libvirt's qemuMonitorTestAddItem).
 *
 * It listens on a unix socket in a fresh temporary folder and, in its own thread, plays a
 * script in order: greet, expect a command and answer it (the reply gets the command's id),
 * send events, raw bytes (garbage, truncated messages), delay, or close the connection. The
 * test queues the script, drives its client on its own main context, then checks with
 * vxm_fake_qmp_assert_done() that every step ran and every command was the expected one.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "qemu/vxm-qmp-client.h"

G_BEGIN_DECLS

/* The greeting QEMU 7.2 sent on this machine (captured, with its "\r\n"). */
#define VXM_FAKE_QMP_GREETING                                                                     \
  "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": " \
  "\"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n"

typedef struct _VxmFakeQmp VxmFakeQmp;

VxmFakeQmp *vxm_fake_qmp_new(void);
/* Stops the thread (unblocking it if needed), removes the socket and its folder. */
void vxm_fake_qmp_free(VxmFakeQmp *fake);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmFakeQmp, vxm_fake_qmp_free)

const char *vxm_fake_qmp_get_path(VxmFakeQmp *fake);

/* Script steps, played in the order queued. */
void vxm_fake_qmp_greet(VxmFakeQmp *fake);
/* Greeting, then qmp_capabilities answered with {"return": {}}. */
void vxm_fake_qmp_expect_handshake(VxmFakeQmp *fake);
/* Reads the next command; it must be @command. Answers @reply (a JSON object such as
 * {"return": {...}} or {"error": {...}}) with the command's id added, after @delay_ms. */
void vxm_fake_qmp_expect(VxmFakeQmp *fake, const char *command, const char *reply);
void vxm_fake_qmp_expect_delayed(VxmFakeQmp *fake, const char *command, const char *reply,
                                 guint delay_ms);
/* Reads the next command (must be @command) and leaves it unanswered; returns a handle for
 * vxm_fake_qmp_reply_deferred(), which queues the answer as a later step. */
guint vxm_fake_qmp_expect_deferred(VxmFakeQmp *fake, const char *command);
void vxm_fake_qmp_reply_deferred(VxmFakeQmp *fake, guint handle, const char *reply);
/* An event with a timestamp; @data_json NULL for none. */
void vxm_fake_qmp_send_event(VxmFakeQmp *fake, const char *name, const char *data_json);
/* Bytes as given: garbage, half a message, several messages at once. */
void vxm_fake_qmp_send_raw(VxmFakeQmp *fake, const char *bytes);
/* Reads until the client closes its end (or the fake is freed). */
void vxm_fake_qmp_wait_client_close(VxmFakeQmp *fake);
/* Closes the connection at this point of the script. */
void vxm_fake_qmp_close(VxmFakeQmp *fake);

/* Blocks until every queued step has run, then asserts that each command matched. */
void vxm_fake_qmp_assert_done(VxmFakeQmp *fake);
/* Lines received so far (the raw JSON commands). */
GPtrArray *vxm_fake_qmp_get_received(VxmFakeQmp *fake);
/* The arguments of received command @index, asserting it is @command (an empty object when it
 * has none). */
JsonObject *vxm_fake_qmp_received_args(VxmFakeQmp *fake, guint index, const char *command);
/* A vxm QMP client connected to @fake, its handshake done (the fake must expect it). */
VxmQmpClient *vxm_fake_qmp_connect(VxmFakeQmp *fake);

G_END_DECLS
