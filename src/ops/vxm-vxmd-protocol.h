/* vxm-vxmd-protocol: the messages between vxm (unprivileged) and vxmd (root).
 *
 * Framing: one JSON object per line, at most VXM_VXMD_MAX_MESSAGE bytes including the '\n'.
 * JSON escapes every control character inside strings, so a newline can only end a message:
 * the reader needs no length field, a truncated message is simply one without its newline,
 * and an operator can read the traffic (or replay a line) by eye. The one fd a request may
 * carry (raise-memlock's pidfd) travels as SCM_RIGHTS with the request's bytes.
 *
 * Requests name things, never paths: VM names ([A-Za-z0-9_-]{1,64}), PCI addresses, device
 * node names (vfio:N, eventN, a /dev/input/by-id name, by-path:NAME for a /dev/input/by-path
 * name; udev's characters, never '/', "." or ".."), monitor identities. The parser is a
 * pure function of the bytes (fuzz/fuzz-vxmd-request.c).
 *
 *   {"vxmd": 1, "request": "prepare-gpu", "vm": "win11", "gpu": "0000:01:00.0"}
 *   {"vxmd": 1, "ok": true, "report": ["..."], "result": {...}}
 *   {"vxmd": 1, "ok": false, "error": {"code": "refused", "message": "..."}}
 *
 * reserve-hugepages answers with the page size it reserved ({"page_size": N} as its result):
 * with "auto" it may be 2 MiB where 1 GiB was planned.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define VXM_VXMD_PROTOCOL_VERSION 1
#define VXM_VXMD_MAX_MESSAGE      (64 * 1024)
#define VXM_VXMD_MAX_NODES        32
#define VXM_VXMD_SOCKET_NAME      "vxmd.sock" /* under VXM_HOST_RUN_VXM */
#define VXM_VXMD_BY_PATH_PREFIX   "by-path:"  /* + a /dev/input/by-path link name */

typedef enum {
  VXM_VXMD_OP_HELLO,
  VXM_VXMD_OP_PREPARE_GPU,
  VXM_VXMD_OP_RELEASE_GPU,
  VXM_VXMD_OP_GRANT_NODES,
  VXM_VXMD_OP_REVOKE_NODES,
  VXM_VXMD_OP_RESERVE_HUGEPAGES,
  VXM_VXMD_OP_RELEASE_HUGEPAGES,
  VXM_VXMD_OP_RAISE_MEMLOCK,
  VXM_VXMD_OP_DDC_SWITCH,
  VXM_VXMD_OP_DMI_IDENTITY,
  VXM_VXMD_OP_JOURNAL_STATUS,
  VXM_VXMD_OP_RECOVER,
  VXM_VXMD_OP_RESTORE_ALL,
  VXM_VXMD_OP_GPU_STATUS, /* read-only: who holds the GPU's slot, where its functions are */
  VXM_VXMD_N_OPS
} VxmVxmdOp;

typedef struct {
  VxmVxmdOp op;
  char *vm;  /* every op but hello, dmi-identity; optional for journal-status/recover/gpu-status */
  char *gpu; /* prepare/release-gpu, ddc-switch, gpu-status: normalised "0000:01:00.0" */
  gboolean keep_bound;
  guint timeout_ms;
  char **extra;      /* prepare-gpu: [pci] extra, normalised addresses (NULL: none) */
  char **nodes;      /* grant-nodes: "vfio:12", "event5", by-id names, "by-path:NAME" */
  guint64 page_size; /* reserve-hugepages: the size planned and its count */
  guint64 count;
  gboolean auto_size;   /* "auto": 1 GiB pages when they can be had, else 2 MiB (default false) */
  gboolean drop_caches; /* "drop_caches", "compact": before reserving (default true) */
  gboolean compact;
  gint numa_node; /* -1: any */
  guint64 bytes;  /* raise-memlock */
  char *monitor;  /* ddc-switch: the monitor's identity (as vxm monitors shows it) */
  guint input;    /* ddc-switch: VCP 0x60 value */
  guint host_input;
  gboolean to_guest;
} VxmVxmdRequest;

void vxm_vxmd_request_free(VxmVxmdRequest *req);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmVxmdRequest, vxm_vxmd_request_free)

const char *vxm_vxmd_op_to_string(VxmVxmdOp op);

/* Parses one message (with or without its final newline). Pure: never touches the host.
 * VXM_ERROR_PROTOCOL for anything malformed, oversized, of another version or unknown. */
VxmVxmdRequest *vxm_vxmd_request_parse(const char *data, gsize len,
                                       GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* The line for @req (ends in '\n'). */
char *vxm_vxmd_request_to_line(const VxmVxmdRequest *req);

/* Checks that can stand alone, shared with the client so it fails early with the same words. */
gboolean vxm_vxmd_check_vm_name(const char *name, GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_vxmd_check_node_name(const char *name, GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* "vfio:12" -> /dev/vfio/12, "event5" -> /dev/input/event5, by-id -> /dev/input/by-id/NAME,
 * "by-path:NAME" -> /dev/input/by-path/NAME (host paths, for the hostfs); NULL for an invalid
 * name. */
char *vxm_vxmd_node_host_path(const char *name);
/* The reverse, for the client: a host path under /dev/vfio or /dev/input -> its name. */
char *vxm_vxmd_node_name_for_path(const char *host_path, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Replies. @report and @result may be NULL. */
char *vxm_vxmd_reply_ok(GPtrArray *report, JsonNode *result);
char *vxm_vxmd_reply_error(const GError *error);
/* Parses a reply: TRUE for ok (its report lines appended to @report, result to @out_result),
 * FALSE with vxmd's error (its code and message) otherwise. */
gboolean vxm_vxmd_reply_parse(const char *data, gsize len, GPtrArray *report, JsonNode **out_result,
                              GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
