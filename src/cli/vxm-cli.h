/* vxm-cli: what every subcommand shares: common options, the host root, output. */
#pragma once

#include <json-glib/json-glib.h>

#include "common/vxm-error.h"
#include "common/vxm-hostfs.h"
#include "ops/vxm-host-ops.h"
#include "pci/vxm-gpu.h"
#include "vm/vxm-vm-paths.h"

G_BEGIN_DECLS

/* Exit statuses, documented in vxm(1). */
enum {
  VXM_EXIT_OK = 0,
  VXM_EXIT_FAILURE = 1, /* the operation failed, or a check did */
  VXM_EXIT_USAGE = 2,   /* bad command line */
};

typedef struct {
  const char *command; /* the subcommand's name, for messages */
  char *root_option;
  gboolean quiet;
  gboolean color; /* stdout is a terminal and NO_COLOR is unset */
  VxmHostfs *hostfs;
} VxmCli;

typedef int (*VxmCliRunFunc)(VxmCli *cli, int argc, char **argv);

typedef struct {
  const char *name;
  const char *summary;
  VxmCliRunFunc run;
} VxmCliCommand;

/* Parses the subcommand's @entries plus the common options (--root, --quiet).
 * On a usage error prints it with a hint and returns FALSE (exit with VXM_EXIT_USAGE). */
gboolean vxm_cli_parse(VxmCli *cli, int *argc, char ***argv, const GOptionEntry *entries,
                       const char *parameter_string, const char *description);

/* The host root from --root / VXM_ROOT; NULL with @error when it is unusable. */
VxmHostfs *vxm_cli_get_hostfs(VxmCli *cli, GError **error);

/* How this command changes the host: euid 0 -> in this process, without vxmd (and says so on
 * the real host); anyone else -> through vxmd on VXM_HOST_RUN_VXM/vxmd.sock under @hostfs,
 * after a hello: NULL with the fix when vxmd is not running or does not serve this user. */
VxmHostOps *vxm_cli_get_host_ops(VxmCli *cli, VxmHostfs *hostfs,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The paths of VM @name; without a name, 'default' or the only VM there is
 * (vxm_vm_default_name()). */
VxmVmPaths *vxm_cli_vm_paths(VxmCli *cli, const char *name, GError **error);

/* Prints "vxm COMMAND: MESSAGE" on stderr and returns VXM_EXIT_FAILURE. */
int vxm_cli_fail(VxmCli *cli, const GError *error);
/* For errors in what the command line gave (a name, an address, a value): a malformed one
 * (VXM_ERROR_INVALID_ARGUMENT) is a usage error (exit 2), anything else vxm_cli_fail(). */
int vxm_cli_fail_arg(VxmCli *cli, const GError *error);
int vxm_cli_usage_error(VxmCli *cli, const char *format, ...) G_GNUC_PRINTF(2, 3);

/* Pretty JSON on stdout, newline-terminated. */
void vxm_cli_print_json(JsonNode *node);
/* {KEY: VALUE, "state": STATE, "done": [what was done, in order]}: the --json of commands that
 * act (detach, reattach, init). */
void vxm_cli_print_outcome_json(const char *key, const char *value, const char *state,
                                GPtrArray *done);

/* Colour when allowed: returns @text wrapped in the SGR code, or a plain copy. */
char *vxm_cli_colored(VxmCli *cli, const char *sgr, const char *text);

/* The GPU a binding command acts on: a PCI address, or a VM name (its guest GPU). */
typedef struct {
  VxmGpu *gpu;
  char *vm_name;       /* NULL when given by address */
  gboolean keep_bound; /* the VM's keep_bound (FALSE by address) */
  guint timeout_ms;    /* the VM's unbind_timeout in ms, 0 by address (the default) */
} VxmCliTarget;

gboolean vxm_cli_resolve_target(VxmCli *cli, VxmHostfs *hostfs, const char *text,
                                VxmCliTarget *target, GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_cli_target_clear(VxmCliTarget *target);
/* "10", "2.5s", "300ms" to milliseconds. */
gboolean vxm_cli_parse_timeout(const char *text, guint *out_ms,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* What vxm status says of VM @paths without asking its supervisor: "running" (its lock is
 * held), "failed" (the last run failed, or its supervisor died), "stopped". */
const char *vxm_cli_vm_state_name(const VxmVmPaths *paths);

/* The subcommands. */
int vxm_cli_cmd_list_gpus(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_list_devices(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_monitors(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_display(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_check(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_detach(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_reattach(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_recover(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_static_binding(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_status(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_config(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_init(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_inputs(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_list(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_reset(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_start(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_stop(VxmCli *cli, int argc, char **argv);
int vxm_cli_cmd_fingerprint(VxmCli *cli, int argc, char **argv);

G_END_DECLS
