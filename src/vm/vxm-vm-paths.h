/* vxm-vm-paths: where a VM's files live, computed from its name and the XDG folders.
 *
 *   config   $XDG_CONFIG_HOME/vxm/vms/NAME.conf
 *   data     $XDG_DATA_HOME/vxm/NAME/      disk, UEFI variables, TPM state, downloads (0700)
 *   runtime  $XDG_RUNTIME_DIR/vxm/NAME/    lock, QMP and swtpm sockets, pid file (0700)
 *   state    $XDG_STATE_HOME/vxm/NAME/     logs
 *
 * Without XDG_RUNTIME_DIR (a su session, cron) the runtime base is /tmp/vxm-UID, a private
 * folder that vxm_vm_paths_ensure_runtime_dir() creates 0700 and refuses when it is a symlink,
 * owned by someone else or open to others (another user could otherwise plant it first).
 * The folders are read from the environment at each call, so tests can point them anywhere.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VXM_VM_DEFAULT_NAME "default"
#define VXM_VM_NAME_MAX     64

typedef struct {
  char *name;

  char *config_dir;  /* $XDG_CONFIG_HOME/vxm/vms */
  char *config_file; /* config_dir/NAME.conf */

  char *data_dir;      /* $XDG_DATA_HOME/vxm/NAME */
  char *disk_qcow2;    /* data_dir/disk.qcow2: the default disk for format qcow2 */
  char *disk_raw;      /* data_dir/disk.img: the default disk for format raw */
  char *efi_vars;      /* data_dir/efivars.fd: this VM's copy of the VARS template */
  char *tpm_dir;       /* data_dir/tpm: swtpm state */
  char *downloads_dir; /* data_dir (downloaded ISOs land here) */

  char *runtime_base;           /* $XDG_RUNTIME_DIR/vxm or /tmp/vxm-UID */
  gboolean runtime_is_fallback; /* TRUE when XDG_RUNTIME_DIR was unset */
  char *runtime_dir;            /* runtime_base/NAME */
  char *lock_file;              /* runtime_dir/lock: flock held by the supervisor */
  char *qmp_socket;             /* runtime_dir/qmp.sock */
  char *swtpm_socket;           /* runtime_dir/swtpm.sock */
  char *qemu_pidfile;           /* runtime_dir/qemu.pid */

  char *state_dir; /* $XDG_STATE_HOME/vxm/NAME */
  char *qemu_log;  /* state_dir/qemu.log */
  char *swtpm_log; /* state_dir/swtpm.log */
  char *vxm_log;   /* state_dir/vxm.log */
} VxmVmPaths;

/* TRUE when @name is [A-Za-z0-9_-]{1,64}; else VXM_ERROR_INVALID_ARGUMENT saying what is wrong
 * (slashes, dots, NULs, length). @name_len is the length of @name (-1: NUL-terminated), so a
 * name with an embedded NUL from a wire or argv can be refused rather than cut short. */
gboolean vxm_vm_name_validate(const char *name, gssize name_len,
                              GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* All paths of VM @name (NULL: "default"). Pure: creates nothing. */
VxmVmPaths *vxm_vm_paths_new(const char *name, GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_vm_paths_free(VxmVmPaths *paths);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmVmPaths, vxm_vm_paths_free)

/* $XDG_CONFIG_HOME/vxm/vms: where every VM's config lives (for listing). */
char *vxm_vm_paths_config_dir(void);

/* The names of every VM with a config file, sorted. Files whose name is not a valid VM name
 * are skipped. An absent folder is an empty list. */
GPtrArray *vxm_vm_paths_list_names(GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Creates runtime_base and runtime_dir with mode 0700, checking that an existing fallback base
 * is a real folder owned by this user and closed to others. */
gboolean vxm_vm_paths_ensure_runtime_dir(const VxmVmPaths *paths,
                                         GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* " (did you mean 'win11'?)" for a VM name that has no config but is close to one that has,
 * else "". */
char *vxm_vm_name_suggestion(const char *name);

/* NOT_FOUND "no VM NAME (did you mean ...?): ..." when VM @paths has no config file. */
gboolean vxm_vm_paths_check_exists(const VxmVmPaths *paths,
                                   GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The VM a command without a NAME acts on: 'default' when it exists or there is no VM, else
 * the only VM; with several and no 'default', an error listing them. */
char *vxm_vm_default_name(GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* @path with the home folder shown as "~" (for messages). */
char *vxm_vm_paths_display(const char *path);

G_END_DECLS
