/* vxm-vxmd-private: what vxmd's parts share, not for anyone else.
 *
 * vxmd is split by responsibility: the server (vxm-vxmd.c: sockets, framing,
 * SCM_RIGHTS, per-user limits, socket activation), who may ask (vxm-vxmd-auth.c), the device
 * and resource policy (vxm-vxmd-policy.c), whose VM a journal is and who holds it
 * (vxm-vxmd-claims.c), and the operations, one table of them (vxm-vxmd-operations.c).
 */
#pragma once

#include "common/vxm-hostfs.h"
#include "journal/vxm-journal.h"
#include "ops/vxm-vxmd-protocol.h"
#include "ops/vxm-host-ops.h"
#include "ops/vxm-journal-store.h"
#include "vxmd/vxm-vxmd-auth.h"
#include "vxmd/vxm-vxmd.h"

G_BEGIN_DECLS

#define VXM_VXMD_MAX_FDS 4

struct _VxmVxmd {
  VxmHostfs *hostfs;
  VxmHostfs *proc_fs;     /* the real /proc: peers and pidfds are processes of this machine */
  VxmJournalStore *store; /* the journals of the VMs this vxmd serves, shared with ops */
  VxmHostOps *ops;        /* every host change, local to this root process */
  char *group;
  gid_t group_gid;
  guint idle_timeout_ms;
  GSocketService *service;
  char *socket_path;     /* created by us: removed at the end */
  GMutex lock;           /* guards busy_gpus and the first record of a VM's client */
  GMutex grant_lock;     /* one grant-nodes at a time: its checks hold until it has granted */
  GHashTable *busy_gpus; /* slot "0000:01:00" -> VM, while a prepare/release runs */
  GHashTable *claims;    /* VM -> requests in flight that claimed it (GUINT_TO_POINTER) */
  GHashTable *user_connections; /* uid -> connections open (GUINT_TO_POINTER), under lock */
  char **allowed_gpus;          /* vxmd.conf [policy] allowed_gpus (NULL: any the policy allows) */
  char **allowed_users;         /* vxmd.conf [policy] allowed_users (NULL: the whole group) */
  VxmVxmdAuth *auth;            /* root, group, polkit */
};

/* One connection's caller, and what its current request brought and claimed. */
typedef struct {
  uid_t uid;
  gid_t gid;
  pid_t pid;
  char *user;
  VxmVxmdCaller *caller; /* the same process, for vxm_vxmd_auth_check() */
  char *claimed_vm;      /* the VM the current request claimed (vxm_vxmd_claim_vm), if any */
  int fds[VXM_VXMD_MAX_FDS];
  guint n_fds;
} VxmVxmdPeer;

/* ---- operations (vxm-vxmd-operations.c) */

/* Authorises @req for @peer, checks whose VM it is as the operation's table entry says, and
 * runs it: report lines to @report, a result to @out_result. */
gboolean vxm_vxmd_operation_run(VxmVxmd *self, VxmVxmdPeer *peer, const VxmVxmdRequest *req,
                                GPtrArray *report, JsonNode **out_result,
                                GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* ---- claims: whose VM a journal is (vxm-vxmd-claims.c) */

/* The journal kind that records the requesting user ("vxmd-client"), registered once. */
void vxm_vxmd_claims_register_kind(void);
/* The uid (pid) recorded by the VM's first request, or -1 when none was. */
gint64 vxm_vxmd_journal_uid(VxmJournal *journal);
gint64 vxm_vxmd_journal_pid(VxmJournal *journal);
/* Whether the vxm that made the VM's first request still runs. */
gboolean vxm_vxmd_journal_client_alive(VxmJournal *journal);
/* "uid 1001 (alice)", or root's vxm without vxmd. */
char *vxm_vxmd_journal_user_text(VxmJournal *journal);
gboolean vxm_vxmd_refuse_other_owner(VxmJournal *journal, const VxmVxmdPeer *peer, const char *vm,
                                     GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Per-user VM names: "win11" of uid 1001 is the journal "win11.u1001" (root's are plain). */
char *vxm_vxmd_vm_display_name(const char *journal_name);
char *vxm_vxmd_vm_journal_name(VxmVxmd *self, uid_t uid, const char *vm);
/* The VM's journal for a request that changes the host: created and stamped with the peer on
 * first use, refused when another uid owns it (or the caller holds too many). */
VxmJournal *vxm_vxmd_claim_vm(VxmVxmd *self, VxmVxmdPeer *peer, const char *vm, GError **error);
/* After each request: a journal it claimed that holds nothing but its stamp is dropped. */
void vxm_vxmd_release_claim(VxmVxmd *self, VxmVxmdPeer *peer);
/* For a request that gives back: whether the VM has a journal this vxmd holds (*out_exists),
 * refused when another uid owns it; never claims another user's held journal. */
gboolean vxm_vxmd_check_vm_owner(VxmVxmd *self, const VxmVxmdPeer *peer, const char *vm,
                                 gboolean *out_exists, GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* One prepare or release per GPU slot at a time. */
gboolean vxm_vxmd_claim_gpu_slot(VxmVxmd *self, const char *gpu_address, const char *vm,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_vxmd_release_gpu_slot(VxmVxmd *self, const char *gpu_address);
/* @vm's journal (any VM's, when NULL) records @uid as the user who asked for it. */
gboolean vxm_vxmd_uid_has_journal(VxmVxmd *self, uid_t uid, const char *vm);

/* ---- policy: what may be handed out, and how much (vxm-vxmd-policy.c) */

/* vxmd.conf [policy]: allowed_gpus, allowed_users (a missing file allows what the rules do). */
gboolean vxm_vxmd_policy_load(VxmVxmd *self, GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_vxmd_check_gpu_policy(VxmVxmd *self, const char *gpu_address,
                                   GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_vxmd_check_vfio_group(VxmVxmd *self, VxmJournal *journal, const char *vm, gint64 group,
                                   GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_vxmd_check_input_node(VxmVxmd *self, const char *vm, const char *host_path,
                                   GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_vxmd_check_monitor_switch(VxmVxmd *self, const VxmVxmdPeer *peer,
                                       const VxmVxmdRequest *req,
                                       GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_vxmd_check_memlock_bytes(VxmVxmd *self, guint64 bytes,
                                      GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean vxm_vxmd_check_hugepages_request(VxmVxmd *self, const VxmVxmdPeer *peer,
                                          const VxmVxmdRequest *req,
                                          GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
