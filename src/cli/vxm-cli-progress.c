/* vxm-cli-progress: the supervisor's steps, live on a terminal, plain lines otherwise. */
#include "vxm-cli-progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/vxm-supervisor-steps.h"

struct _VxmCliProgress {
  VxmCli *cli;
  gboolean live;     /* stdout is a terminal */
  gboolean drawn;    /* the live line is on screen */
  GPtrArray *active; /* steps started and not finished, in order */
  char *state;
  char *reason;
  GHashTable *shown; /* the finished steps' messages printed */
};

gboolean
vxm_cli_progress_was_shown(VxmCliProgress *progress, const char *line)
{
  return progress != NULL && g_hash_table_contains(progress->shown, line);
}

const char *
vxm_cli_progress_step_label(const char *step)
{
  const char *label = vxm_supervisor_step_label(step);

  return label != NULL ? label : step;
}

/* The widest step label: every step's duration in one column. */
static int
label_width(void)
{
  int width = 0;

  for (const char *const *step = vxm_supervisor_steps(); *step != NULL; step++)
    width = MAX(width, (int)strlen(vxm_supervisor_step_label(*step)));
  return width;
}

VxmCliProgress *
vxm_cli_progress_new(VxmCli *cli)
{
  VxmCliProgress *progress = g_new0(VxmCliProgress, 1);

  progress->cli = cli;
  progress->live =
      isatty(STDOUT_FILENO) && g_getenv("TERM") != NULL && g_strcmp0(g_getenv("TERM"), "dumb") != 0;
  progress->active = g_ptr_array_new_with_free_func(g_free);
  progress->shown = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  return progress;
}

void
vxm_cli_progress_free(VxmCliProgress *progress)
{
  if (progress == NULL)
    return;
  vxm_cli_progress_clear(progress);
  g_ptr_array_unref(progress->active);
  g_free(progress->state);
  g_free(progress->reason);
  g_hash_table_unref(progress->shown);
  g_free(progress);
}

void
vxm_cli_progress_clear(VxmCliProgress *progress)
{
  if (progress->drawn) {
    g_print("\r\033[K");
    progress->drawn = FALSE;
  }
}

static void
draw_live(VxmCliProgress *progress)
{
  g_autoptr(GString) line = g_string_new("  … ");

  vxm_cli_progress_clear(progress);
  if (!progress->live || progress->active->len == 0)
    return;
  for (guint i = 0; i < progress->active->len; i++)
    g_string_append_printf(line, "%s%s", i ? ", " : "",
                           vxm_cli_progress_step_label(g_ptr_array_index(progress->active, i)));
  g_print("%s", line->str);
  fflush(stdout);
  progress->drawn = TRUE;
}

static void
remove_active(VxmCliProgress *progress, const char *step)
{
  for (guint i = 0; i < progress->active->len; i++) {
    if (g_strcmp0(g_ptr_array_index(progress->active, i), step) == 0) {
      g_ptr_array_remove_index(progress->active, i);
      return;
    }
  }
}

static void
step_event(VxmCliProgress *progress, JsonObject *event)
{
  const char *step = json_object_get_string_member_with_default(event, "step", "?");
  const char *status = json_object_get_string_member_with_default(event, "status", "?");
  const char *message = json_object_get_string_member_with_default(event, "message", NULL);
  gint64 ms = json_object_get_int_member_with_default(event, "ms", 0);
  g_autofree char *mark = NULL;
  g_autofree char *duration = NULL;

  if (progress->cli->quiet)
    return;
  if (g_strcmp0(status, "started") == 0) {
    g_ptr_array_add(progress->active, g_strdup(step));
    draw_live(progress);
    return;
  }
  remove_active(progress, step);
  vxm_cli_progress_clear(progress);
  if (message != NULL)
    g_hash_table_add(progress->shown, g_strdup(message));
  /* off a terminal the words differ in length: padded, so the columns still line up */
  if (g_strcmp0(status, "ok") == 0)
    mark = vxm_cli_colored(progress->cli, "1;32", progress->live ? "✔" : "ok     ");
  else if (g_strcmp0(status, "skipped") == 0)
    mark = vxm_cli_colored(progress->cli, "1;33", progress->live ? "-" : "skipped");
  else
    mark = vxm_cli_colored(progress->cli, "1;31", progress->live ? "✘" : "FAILED ");
  duration = ms >= 1000 ? g_strdup_printf("%.1f s", ms / 1000.0)
                        : g_strdup_printf("%" G_GINT64_FORMAT " ms", ms);
  if (message != NULL && strlen(message) > 60 && strstr(message, ", /") != NULL) {
    /* a list of long paths (the input devices' by-id links): one per line */
    g_auto(GStrv) items = g_strsplit(message, ", ", -1);

    g_print("  %s %-*s %8s\n", mark, label_width(), vxm_cli_progress_step_label(step), duration);
    for (guint i = 0; items[i] != NULL; i++)
      g_print("      %s\n", items[i]);
  } else {
    g_print("  %s %-*s %8s%s%s\n", mark, label_width(), vxm_cli_progress_step_label(step), duration,
            message != NULL ? "  " : "", message != NULL ? message : "");
  }
  draw_live(progress);
}

void
vxm_cli_progress_event(VxmCliProgress *progress, JsonObject *event)
{
  const char *kind = json_object_get_string_member_with_default(event, "event", "");

  if (g_strcmp0(kind, "step") == 0) {
    step_event(progress, event);
  } else if (g_strcmp0(kind, "state") == 0) {
    g_free(progress->state);
    progress->state = g_strdup(json_object_get_string_member_with_default(event, "state", "?"));
    g_free(progress->reason);
    progress->reason = g_strdup(json_object_get_string_member_with_default(event, "reason", NULL));
  }
  fflush(stdout);
}

const char *
vxm_cli_progress_get_state(VxmCliProgress *progress)
{
  return progress->state;
}

const char *
vxm_cli_progress_get_reason(VxmCliProgress *progress)
{
  return progress->reason;
}
