#include "vxm-qemu-wrapper.h"

#include <string.h>

char *
vxm_qemu_wrapper_map_paths(const char *arg, const char *const *map)
{
  g_autoptr(GString) s = g_string_new(arg);

  for (gsize i = 0; map != NULL && map[i] != NULL && map[i + 1] != NULL; i += 2)
    g_string_replace(s, map[i], map[i + 1], 0);
  return g_string_free(g_steal_pointer(&s), FALSE);
}

/* Splits a QEMU option string at unescaped commas (",," stays inside a piece, as ",,"). */
static GPtrArray *
split_opts(const char *value)
{
  GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
  GString *cur = g_string_new(NULL);

  for (const char *p = value; *p != '\0'; p++) {
    if (*p == ',' && p[1] == ',') {
      g_string_append(cur, ",,");
      p++;
    } else if (*p == ',') {
      g_ptr_array_add(parts, g_string_free(cur, FALSE));
      cur = g_string_new(NULL);
    } else {
      g_string_append_c(cur, *p);
    }
  }
  g_ptr_array_add(parts, g_string_free(cur, FALSE));
  return parts;
}

static char *
join_opts(GPtrArray *parts)
{
  GString *s = g_string_new(NULL);

  for (guint i = 0; i < parts->len; i++) {
    if (i > 0)
      g_string_append_c(s, ',');
    g_string_append(s, g_ptr_array_index(parts, i));
  }
  return g_string_free(s, FALSE);
}

static void note(GPtrArray *notes, const char *format, ...) G_GNUC_PRINTF(2, 3);

static void
note(GPtrArray *notes, const char *format, ...)
{
  va_list ap;

  if (notes == NULL)
    return;
  va_start(ap, format);
  g_ptr_array_add(notes, g_strdup_vprintf(format, ap));
  va_end(ap);
}

/* The value of an option after the wrapper's changes; NULL drops the option. */
static char *
transform_value(const char *option, const char *value, const VxmQemuWrapperOptions *o,
                GPtrArray *notes)
{
  g_autoptr(GPtrArray) parts = split_opts(value);
  const char *first = g_ptr_array_index(parts, 0);

  if (strcmp(option, "-device") == 0 && strcmp(first, "vfio-pci") == 0) {
    note(notes, "dropped -device %s (no VFIO here)", value);
    return NULL;
  }
  if (strcmp(option, "-object") == 0 && strcmp(first, "input-linux") == 0 && !o->keep_input) {
    note(notes, "dropped -object %s (no evdev device here)", value);
    return NULL;
  }
  if (strcmp(option, "-overcommit") == 0) {
    note(notes, "dropped -overcommit %s", value);
    return NULL;
  }
  if (strcmp(option, "-machine") == 0) {
    for (guint i = 0; i < parts->len; i++) {
      if (strcmp(g_ptr_array_index(parts, i), "accel=kvm") == 0) {
        g_free(parts->pdata[i]);
        parts->pdata[i] = g_strdup("accel=tcg");
        note(notes, "accel=kvm -> accel=tcg");
      }
    }
    return join_opts(parts);
  }
  if (strcmp(option, "-cpu") == 0 && strcmp(first, "host") == 0) {
    g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func(g_free);
    guint dropped = 0;

    g_ptr_array_add(kept, g_strdup("max"));
    for (guint i = 1; i < parts->len; i++) {
      const char *flag = g_ptr_array_index(parts, i);

      /* hv-vendor-id is a plain property TCG takes: kept, so QEMU checks its name */
      if (g_str_has_prefix(flag, "hv-") && !g_str_has_prefix(flag, "hv-vendor-id="))
        dropped++;
      else
        g_ptr_array_add(kept, g_strdup(flag));
    }
    note(notes, "-cpu host -> max, %u hv-* flags dropped (TCG refuses them)", dropped);
    return join_opts(kept);
  }
  if (strcmp(option, "-audiodev") == 0 && strcmp(first, "none") != 0) {
    g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func(g_free);

    note(notes, "-audiodev %s -> none (no sound server here; its latency options dropped)", first);
    g_ptr_array_add(kept, g_strdup("none"));
    for (guint i = 1; i < parts->len; i++)
      if (!g_str_has_prefix(g_ptr_array_index(parts, i), "in.latency=") &&
          !g_str_has_prefix(g_ptr_array_index(parts, i), "out.latency="))
        g_ptr_array_add(kept, g_strdup(g_ptr_array_index(parts, i)));
    return join_opts(kept);
  }
  if (strcmp(option, "-netdev") == 0 && strcmp(first, "bridge") == 0) {
    g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func(g_free);

    g_ptr_array_add(kept, g_strdup("user"));
    for (guint i = 1; i < parts->len; i++)
      if (g_str_has_prefix(g_ptr_array_index(parts, i), "id="))
        g_ptr_array_add(kept, g_strdup(g_ptr_array_index(parts, i)));
    note(notes, "-netdev bridge -> user (no bridge here)");
    return join_opts(kept);
  }
  if (strcmp(option, "-m") == 0 && o->memory != NULL) {
    note(notes, "-m %s -> %s", value, o->memory);
    return g_strdup(o->memory);
  }
  if (strcmp(option, "-object") == 0 && strcmp(first, "memory-backend-memfd") == 0) {
    g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < parts->len; i++) {
      const char *p = g_ptr_array_index(parts, i);

      /* the simulated host's NUMA node is not this machine's */
      if (g_str_has_prefix(p, "host-nodes=") || g_str_has_prefix(p, "policy="))
        continue;
      if (o->memory != NULL && g_str_has_prefix(p, "size="))
        g_ptr_array_add(kept, g_strdup_printf("size=%s", o->memory));
      else if (o->hugepage_size == NULL &&
               (strcmp(p, "hugetlb=on") == 0 || g_str_has_prefix(p, "hugetlbsize=") ||
                strcmp(p, "prealloc=on") == 0))
        continue;
      else if (o->hugepage_size != NULL && g_str_has_prefix(p, "hugetlbsize="))
        g_ptr_array_add(kept, g_strdup_printf("hugetlbsize=%s", o->hugepage_size));
      else
        g_ptr_array_add(kept, g_strdup(p));
    }
    note(notes, "memfd backend: %s",
         o->hugepage_size != NULL ? "hugetlb kept" : "hugetlb and prealloc dropped");
    return join_opts(kept);
  }
  return g_strdup(value);
}

/* Options that take no value (everything else QEMU takes as "-opt value"). */
static gboolean
is_flag(const char *arg)
{
  static const char *const flags[] = {"-nodefaults", "-no-user-config", "-no-hpet",
                                      "-S",          "-daemonize",      "-snapshot",
                                      "-no-reboot",  "-no-shutdown"};

  for (gsize i = 0; i < G_N_ELEMENTS(flags); i++)
    if (strcmp(arg, flags[i]) == 0)
      return TRUE;
  return FALSE;
}

GStrv
vxm_qemu_wrapper_transform(const char *const *argv, const VxmQemuWrapperOptions *options,
                           GPtrArray *notes)
{
  g_autoptr(GStrvBuilder) out = g_strv_builder_new();
  VxmQemuWrapperOptions none = {0};
  const VxmQemuWrapperOptions *o = options != NULL ? options : &none;

  g_strv_builder_add(out, o->qemu != NULL ? o->qemu : "qemu-system-x86_64");
  if (argv[0] == NULL)
    return g_strv_builder_end(out);
  for (gsize i = 1; argv[i] != NULL; i++) {
    g_autofree char *mapped = vxm_qemu_wrapper_map_paths(argv[i], o->path_map);
    g_autofree char *value = NULL;
    g_autofree char *result = NULL;

    if (mapped[0] != '-' || is_flag(mapped) || argv[i + 1] == NULL) {
      g_strv_builder_add(out, mapped);
      continue;
    }
    value = vxm_qemu_wrapper_map_paths(argv[++i], o->path_map);
    result = transform_value(mapped, value, o, notes);
    if (result == NULL)
      continue;
    g_strv_builder_add(out, mapped);
    g_strv_builder_add(out, result);
  }
  return g_strv_builder_end(out);
}
