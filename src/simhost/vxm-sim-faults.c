/* vxm-sim-faults: fault injection rules (see the header for the grammar). */
#include "vxm-sim-faults.h"

#include <fnmatch.h>
#include <string.h>

#include "common/vxm-error.h"
#include "vxm-sim-log.h"

typedef struct {
  char *op;
  char *glob;
  char *value_glob;
  VxmSimFaultAction action;
  gint64 count; /* -1: unlimited */
} Rule;

struct _VxmSimFaults {
  GMutex lock;
  GCond released;
  GPtrArray *rules;
  guint64 releases;   /* bumped by each release */
  guint64 generation; /* bumped by each release and each wake */
  guint hung;
};

static const char *const known_ops[] = {"write",  "open",  "chown",  "chmod", "create", "mkdir",
                                        "unlink", "rmdir", "rename", "ioctl", "any"};

static void
rule_free(Rule *rule)
{
  g_free(rule->op);
  g_free(rule->glob);
  g_free(rule->value_glob);
  g_free(rule);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Rule, rule_free)

VxmSimFaults *
vxm_sim_faults_new(void)
{
  VxmSimFaults *faults = g_new0(VxmSimFaults, 1);

  g_mutex_init(&faults->lock);
  g_cond_init(&faults->released);
  faults->rules = g_ptr_array_new_with_free_func((GDestroyNotify)rule_free);
  return faults;
}

void
vxm_sim_faults_free(VxmSimFaults *faults)
{
  if (faults == NULL)
    return;
  g_ptr_array_unref(faults->rules);
  g_cond_clear(&faults->released);
  g_mutex_clear(&faults->lock);
  g_free(faults);
}

static gboolean
parse_rule(const char *text, Rule **out, GError **error)
{
  g_autoptr(Rule) rule = g_new0(Rule, 1);
  g_auto(GStrv) tokens = g_strsplit_set(text, " \t\n", -1);
  g_autoptr(GPtrArray) words = g_ptr_array_new();
  guint exclusive = 0;

  for (guint i = 0; tokens[i] != NULL; i++)
    if (tokens[i][0] != '\0')
      g_ptr_array_add(words, tokens[i]);
  if (words->len < 3) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "fault rule '%s' is incomplete: expected OP PATH-GLOB ACTION [count=N]", text);
    return FALSE;
  }
  rule->op = g_strdup(words->pdata[0]);
  if (!g_strv_contains(known_ops, rule->op)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "fault rule: unknown operation '%s' (write, open, chown, chmod, create, mkdir, "
                "unlink, rmdir, rename, ioctl or any)",
                rule->op);
    return FALSE;
  }
  rule->glob = g_strdup(words->pdata[1]);
  rule->count = -1;
  for (guint i = 2; i < words->len; i++) {
    const char *word = words->pdata[i];
    guint64 num;

    if (g_str_has_prefix(word, "errno=")) {
      rule->action.error = vxm_sim_errno_from_name(word + 6);
      if (rule->action.error == 0) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                    "fault rule: unknown errno '%s' (use a name like EBUSY or a number)", word + 6);
        return FALSE;
      }
      exclusive++;
    } else if (g_str_has_prefix(word, "delay=")) {
      if (!g_ascii_string_to_unsigned(word + 6, 10, 0, 600000, &num, NULL)) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                    "fault rule: delay '%s' is not a number of milliseconds (0-600000)", word + 6);
        return FALSE;
      }
      rule->action.delay_ms = num;
    } else if (g_str_has_prefix(word, "count=")) {
      if (!g_ascii_string_to_unsigned(word + 6, 10, 1, G_MAXINT32, &num, NULL)) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                    "fault rule: count '%s' is not a positive number", word + 6);
        return FALSE;
      }
      rule->count = num;
    } else if (g_str_has_prefix(word, "value=")) {
      g_free(rule->value_glob);
      rule->value_glob = g_strdup(word + 6);
    } else if (g_strcmp0(word, "hang") == 0) {
      rule->action.hang = TRUE;
      exclusive++;
    } else if (g_strcmp0(word, "vanish") == 0) {
      rule->action.vanish = TRUE;
      exclusive++;
    } else {
      g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                  "fault rule: unknown word '%s' (errno=NAME, delay=MS, hang, vanish, "
                  "value=GLOB, count=N)",
                  word);
      return FALSE;
    }
  }
  if (exclusive > 1) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "fault rule: errno=, hang and vanish exclude each other");
    return FALSE;
  }
  if (exclusive == 0 && rule->action.delay_ms == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "fault rule '%s' has no action (errno=NAME, delay=MS, hang or vanish)", text);
    return FALSE;
  }
  rule->action.fired = TRUE;
  *out = g_steal_pointer(&rule);
  return TRUE;
}

gboolean
vxm_sim_faults_add(VxmSimFaults *faults, const char *text, GError **error)
{
  g_autofree char *trimmed = g_strstrip(g_strdup(text));
  Rule *rule = NULL;

  if (g_strcmp0(trimmed, "clear") == 0) {
    vxm_sim_faults_clear(faults);
    return TRUE;
  }
  if (!parse_rule(trimmed, &rule, error))
    return FALSE;
  g_mutex_lock(&faults->lock);
  g_ptr_array_add(faults->rules, rule);
  g_mutex_unlock(&faults->lock);
  return TRUE;
}

void
vxm_sim_faults_clear(VxmSimFaults *faults)
{
  g_mutex_lock(&faults->lock);
  g_ptr_array_set_size(faults->rules, 0);
  g_mutex_unlock(&faults->lock);
}

char *
vxm_sim_faults_list(VxmSimFaults *faults)
{
  GString *out = g_string_new(NULL);

  g_mutex_lock(&faults->lock);
  for (guint i = 0; i < faults->rules->len; i++) {
    Rule *rule = faults->rules->pdata[i];

    g_string_append_printf(out, "%s %s", rule->op, rule->glob);
    if (rule->value_glob != NULL)
      g_string_append_printf(out, " value=%s", rule->value_glob);
    if (rule->action.error != 0)
      g_string_append_printf(out, " errno=%s", vxm_sim_errno_name(rule->action.error));
    if (rule->action.delay_ms != 0)
      g_string_append_printf(out, " delay=%u", rule->action.delay_ms);
    if (rule->action.hang)
      g_string_append(out, " hang");
    if (rule->action.vanish)
      g_string_append(out, " vanish");
    if (rule->count >= 0)
      g_string_append_printf(out, " count=%" G_GINT64_FORMAT, rule->count);
    g_string_append_c(out, '\n');
  }
  g_mutex_unlock(&faults->lock);
  return g_string_free(out, FALSE);
}

VxmSimFaultAction
vxm_sim_faults_match(VxmSimFaults *faults, const char *op, const char *const *paths,
                     const char *value, gssize value_len)
{
  VxmSimFaultAction action = {0};
  g_autofree char *val = NULL;

  if (value != NULL) {
    gsize len = value_len < 0 ? strlen(value) : (gsize)value_len;
    if (len > 0 && value[len - 1] == '\n')
      len--;
    val = g_strndup(value, len);
  }
  g_mutex_lock(&faults->lock);
  for (guint i = 0; i < faults->rules->len; i++) {
    Rule *rule = faults->rules->pdata[i];
    gboolean path_ok = FALSE;

    if (g_strcmp0(rule->op, "any") != 0 && g_strcmp0(rule->op, op) != 0)
      continue;
    for (guint p = 0; paths[p] != NULL && !path_ok; p++)
      path_ok = fnmatch(rule->glob, paths[p], 0) == 0;
    if (!path_ok)
      continue;
    if (rule->value_glob != NULL && (val == NULL || fnmatch(rule->value_glob, val, 0) != 0))
      continue;
    action = rule->action;
    if (rule->count > 0 && --rule->count == 0)
      g_ptr_array_remove_index(faults->rules, i);
    break;
  }
  g_mutex_unlock(&faults->lock);
  return action;
}

static void
wait_on(VxmSimFaults *faults, guint64 *counter, const guint64 *from, gboolean (*should_abort)(void))
{
  guint64 start;

  g_mutex_lock(&faults->lock);
  start = from != NULL ? *from : *counter;
  faults->hung++;
  while (*counter == start) {
    if (should_abort != NULL && should_abort())
      break;
    g_cond_wait_until(&faults->released, &faults->lock,
                      g_get_monotonic_time() + 250 * G_TIME_SPAN_MILLISECOND);
  }
  faults->hung--;
  g_mutex_unlock(&faults->lock);
}

void
vxm_sim_faults_wait_release(VxmSimFaults *faults, gboolean (*should_abort)(void))
{
  wait_on(faults, &faults->releases, NULL, should_abort);
}

void
vxm_sim_faults_wait_change(VxmSimFaults *faults, gboolean (*should_abort)(void))
{
  wait_on(faults, &faults->generation, NULL, should_abort);
}

guint64
vxm_sim_faults_generation(VxmSimFaults *faults)
{
  guint64 generation;

  g_mutex_lock(&faults->lock);
  generation = faults->generation;
  g_mutex_unlock(&faults->lock);
  return generation;
}

void
vxm_sim_faults_wait_change_since(VxmSimFaults *faults, guint64 generation,
                                 gboolean (*should_abort)(void))
{
  wait_on(faults, &faults->generation, &generation, should_abort);
}

void
vxm_sim_faults_release(VxmSimFaults *faults)
{
  g_mutex_lock(&faults->lock);
  faults->releases++;
  faults->generation++;
  g_cond_broadcast(&faults->released);
  g_mutex_unlock(&faults->lock);
}

void
vxm_sim_faults_wake(VxmSimFaults *faults)
{
  g_mutex_lock(&faults->lock);
  faults->generation++;
  g_cond_broadcast(&faults->released);
  g_mutex_unlock(&faults->lock);
}

guint64
vxm_sim_faults_release_count(VxmSimFaults *faults)
{
  guint64 count;

  g_mutex_lock(&faults->lock);
  count = faults->releases;
  g_mutex_unlock(&faults->lock);
  return count;
}

guint
vxm_sim_faults_hung_count(VxmSimFaults *faults)
{
  guint hung;

  g_mutex_lock(&faults->lock);
  hung = faults->hung;
  g_mutex_unlock(&faults->lock);
  return hung;
}
