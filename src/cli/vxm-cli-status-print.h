/* vxm-cli-status-print: the text `vxm status` prints of a VM. */
#pragma once

#include <json-glib/json-glib.h>

#include "vxm-cli.h"

G_BEGIN_DECLS

/* One VM's status object (as `vxm status --json` prints it), for reading. */
void vxm_cli_status_print_vm(VxmCli *cli, JsonObject *vm);

G_END_DECLS
