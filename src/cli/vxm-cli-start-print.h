/* vxm-cli-start-print: what `vxm start` prints of the start plan (vxm-start-planner.h). */
#pragma once

#include "plan/vxm-start-planner.h"
#include "vxm-cli.h"

G_BEGIN_DECLS

/* `vxm start --dry-run`: the host steps, resources, notes and the command lines. */
void vxm_cli_start_print_plan(VxmCli *cli, const VxmStartPlan *plan);

/* How to get the keyboard and mouse back, for a start that hands them to the guest: printed
 * before anything the user would have to type while the guest holds the keyboard. NULL when
 * the guest takes no input device (@objects and @pending: VxmInputObject). */
char *vxm_cli_start_toggle_line(GPtrArray *objects, GPtrArray *pending);

G_END_DECLS
