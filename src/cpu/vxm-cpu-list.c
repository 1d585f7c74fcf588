/* vxm-cpu-list: CPU list text <-> sorted arrays of CPU numbers. */
#include "vxm-cpu-list.h"

#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"

GArray *
vxm_cpu_list_new(void)
{
  return g_array_new(FALSE, FALSE, sizeof(guint));
}

gboolean
vxm_cpu_list_contains(const GArray *cpus, guint cpu)
{
  guint lo = 0, hi = cpus->len;

  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;
    guint v = g_array_index(cpus, guint, mid);
    if (v == cpu)
      return TRUE;
    if (v < cpu)
      lo = mid + 1;
    else
      hi = mid;
  }
  return FALSE;
}

void
vxm_cpu_list_add(GArray *cpus, guint cpu)
{
  guint i = 0;

  while (i < cpus->len && g_array_index(cpus, guint, i) < cpu)
    i++;
  if (i < cpus->len && g_array_index(cpus, guint, i) == cpu)
    return;
  g_array_insert_val(cpus, i, cpu);
}

static gboolean
parse_cpu(const char *text, guint *out)
{
  guint64 v;

  if (!vxm_parse_uint64(text, 10, &v) || v >= VXM_CPU_LIST_MAX)
    return FALSE;
  *out = (guint)v;
  return TRUE;
}

/* One "N" or "N-M" item of a list. */
static gboolean
parse_range(const char *item, GArray *cpus)
{
  const char *dash = strchr(item, '-');
  guint first, last;

  if (dash != NULL) {
    g_autofree char *a = g_strndup(item, dash - item);
    if (!parse_cpu(a, &first) || !parse_cpu(dash + 1, &last) || last < first)
      return FALSE;
  } else {
    if (!parse_cpu(item, &first))
      return FALSE;
    last = first;
  }
  for (guint c = first; c <= last; c++)
    vxm_cpu_list_add(cpus, c);
  return TRUE;
}

GArray *
vxm_cpu_list_parse(const char *text, const char *what, GError **error)
{
  g_autoptr(GArray) cpus = vxm_cpu_list_new();
  g_autofree char *stripped = g_strstrip(g_strdup(text));
  g_auto(GStrv) parts = NULL;

  if (*stripped == '\0')
    return g_steal_pointer(&cpus);
  parts = g_strsplit(stripped, ",", -1);
  for (gsize i = 0; parts[i] != NULL; i++) {
    if (!parse_range(parts[i], cpus)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                  "%s holds '%s', not a CPU list like 0-3,8-11", what, stripped);
      return NULL;
    }
  }
  return g_steal_pointer(&cpus);
}

char *
vxm_cpu_list_format(const GArray *cpus)
{
  GString *out = g_string_new(NULL);

  for (guint i = 0; i < cpus->len;) {
    guint first = g_array_index(cpus, guint, i);
    guint j = i;

    while (j + 1 < cpus->len &&
           g_array_index(cpus, guint, j + 1) == g_array_index(cpus, guint, j) + 1)
      j++;
    if (out->len > 0)
      g_string_append_c(out, ',');
    if (j == i)
      g_string_append_printf(out, "%u", first);
    else
      g_string_append_printf(out, "%u-%u", first, g_array_index(cpus, guint, j));
    i = j + 1;
  }
  return g_string_free(out, FALSE);
}
