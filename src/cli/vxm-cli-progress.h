/* vxm-cli-progress: shows the supervisor's progress events to a person.
 *
 * On a terminal the steps that are running share one live line, rewritten as they change;
 * each finished step gets its own line with its outcome and duration. Otherwise (a pipe, a
 * log) only plain finished-step and state lines are printed.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "vxm-cli.h"

G_BEGIN_DECLS

typedef struct _VxmCliProgress VxmCliProgress;

VxmCliProgress *vxm_cli_progress_new(VxmCli *cli);
void vxm_cli_progress_free(VxmCliProgress *progress);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmCliProgress, vxm_cli_progress_free)

/* One event from the supervisor ({"event": "step"|"state", ...}). */
void vxm_cli_progress_event(VxmCliProgress *progress, JsonObject *event);
/* Clears the live line (before printing anything else). */
void vxm_cli_progress_clear(VxmCliProgress *progress);
/* The last state announced ("running", "failed", ...), NULL before any. */
const char *vxm_cli_progress_get_state(VxmCliProgress *progress);
const char *vxm_cli_progress_get_reason(VxmCliProgress *progress);

/* TRUE when a finished step's line already said @line: the summary after the steps (the
 * restorations) prints each fact once. */
gboolean vxm_cli_progress_was_shown(VxmCliProgress *progress, const char *line);

/* "give the GPU to vfio-pci" for "detach-gpu": a step's name for people. */
const char *vxm_cli_progress_step_label(const char *step);

G_END_DECLS
