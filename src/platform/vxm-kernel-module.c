#include "vxm-kernel-module.h"

#include <errno.h>
#include <fcntl.h>
#include <libkmod.h>
#include <string.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "vxm-kernel-module-private.h"

typedef struct kmod_ctx KmodCtx;
typedef struct kmod_module KmodModule;
typedef struct kmod_list KmodList;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KmodCtx, kmod_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KmodModule, kmod_module_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KmodList, kmod_module_unref_list)

/* "vfio-pci" -> "vfio_pci", the name /sys/module and the kernel use */
static char *
module_name(const char *name)
{
  return g_strdelimit(g_strdup(name), "-", '_');
}

static struct kmod_ctx *
kmod_context(GError **error)
{
  struct kmod_ctx *ctx = kmod_new(NULL, NULL);

  if (ctx == NULL)
    g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
                "cannot read the kernel's module index (libkmod): is /lib/modules/$(uname -r) "
                "there?");
  return ctx;
}

static gboolean
state_is_in_kernel(int state)
{
  return state == KMOD_MODULE_LIVE || state == KMOD_MODULE_BUILTIN || state == KMOD_MODULE_COMING;
}

gboolean
vxm_kernel_module_is_loaded(VxmHostfs *hostfs, const char *name)
{
  g_autofree char *mod_name = module_name(name);
  g_autofree char *dir = g_strdup_printf(VXM_HOST_SYS_MODULES "/%s", mod_name);

  if (vxm_hostfs_is_dir(hostfs, dir))
    return TRUE;
  if (vxm_hostfs_is_real(hostfs)) {
    /* a built-in module without parameters has no /sys/module folder */
    g_autoptr(KmodCtx) ctx = kmod_new(NULL, NULL);
    g_autoptr(KmodModule) mod = NULL;

    if (ctx != NULL && kmod_module_new_from_name(ctx, mod_name, &mod) == 0)
      return state_is_in_kernel(kmod_module_get_initstate(mod));
  }
  return FALSE;
}

/* ---- the simulated kernel's module interface ---- */

static int
sim_request(VxmHostfs *hostfs, const char *verb, const char *mod_name)
{
  g_autofree char *path = vxm_hostfs_path(hostfs, VXM_KERNEL_MODULE_SIM_INTERFACE);
  g_autofree char *text = g_strdup_printf("%s %s\n", verb, mod_name);
  vxm_autofd int fd = open(path, O_WRONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return -errno;
  n = write(fd, text, strlen(text));
  return n < 0 ? -errno : 0;
}

/* ---- what keeps a module in use ---- */

/* The devices the module's drivers drive ("0000:01:00.0"), ", " separated, or NULL: unloading
 * it would unbind them. */
static char *
bound_devices(VxmHostfs *hostfs, const char *mod_name)
{
  g_autofree char *drivers = g_strdup_printf(VXM_HOST_SYS_MODULES "/%s/drivers", mod_name);
  g_autoptr(GPtrArray) names = vxm_hostfs_list_dir(hostfs, drivers, NULL);
  g_autoptr(GString) found = g_string_new(NULL);

  for (guint i = 0; names != NULL && i < names->len; i++) {
    g_autofree char *dir = g_build_filename(drivers, g_ptr_array_index(names, i), NULL);
    g_autoptr(GPtrArray) entries = vxm_hostfs_list_dir(hostfs, dir, NULL);

    for (guint k = 0; entries != NULL && k < entries->len; k++) {
      const char *entry = g_ptr_array_index(entries, k);

      /* bus addresses ("0000:01:00.0", "3-0037") among bind, unbind, module, new_id... */
      if (g_ascii_isdigit(entry[0]) && (strchr(entry, ':') != NULL || strchr(entry, '-') != NULL))
        g_string_append_printf(found, "%s%s", found->len > 0 ? ", " : "", entry);
    }
  }
  return found->len > 0 ? g_string_free(g_steal_pointer(&found), FALSE) : NULL;
}

/* A device of @devices (", " separated) that @journal has yet to give back, or NULL. */
static const char *
still_journaled(VxmJournal *journal, const char *devices)
{
  g_auto(GStrv) list = g_strsplit(devices, ", ", -1);

  for (guint i = 0; journal != NULL && i < vxm_journal_get_n_entries(journal); i++) {
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, i);
    const char *device = vxm_journal_entry_get_string(entry, "device");

    if (entry->state != VXM_JOURNAL_STATE_UNDONE && device != NULL &&
        g_strv_contains((const char *const *)list, device))
      return device;
  }
  return NULL;
}

/* Why @mod_name cannot go now, or NULL. */
static char *
in_use(VxmHostfs *hostfs, struct kmod_ctx *ctx, const char *mod_name)
{
  g_autofree char *devices = bound_devices(hostfs, mod_name);

  if (devices != NULL)
    return g_strdup_printf("it drives %s", devices);
  if (ctx != NULL) {
    g_autoptr(KmodModule) mod = NULL;
    g_autoptr(KmodList) holders = NULL;
    int refcnt;

    if (kmod_module_new_from_name(ctx, mod_name, &mod) != 0)
      return NULL;
    holders = kmod_module_get_holders(mod);
    if (holders != NULL) {
      g_autoptr(KmodModule) holder = kmod_module_get_module(holders);
      return g_strdup_printf("%s needs it", kmod_module_get_name(holder));
    }
    refcnt = kmod_module_get_refcnt(mod);
    if (refcnt > 0)
      return g_strdup_printf("in use, %d reference%s", refcnt, refcnt == 1 ? "" : "s");
  }
  return NULL;
}

/* ---- loading ---- */

static gboolean
load_real(const char *name, GPtrArray *absent, struct kmod_module **out_mod, GError **error)
{
  g_autoptr(KmodCtx) ctx = kmod_context(error);
  g_autoptr(KmodList) list = NULL;
  g_autoptr(KmodList) deps = NULL;
  struct kmod_list *l;
  struct kmod_module *mod;

  if (ctx == NULL)
    return FALSE;
  if (kmod_module_new_from_lookup(ctx, name, &list) < 0 || list == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                "no module %s for this kernel (is the package with the running kernel's modules "
                "installed?)",
                name);
    return FALSE;
  }
  mod = kmod_module_get_module(list);
  g_ptr_array_add(absent, g_strdup(kmod_module_get_name(mod)));
  deps = kmod_module_get_dependencies(mod);
  kmod_list_foreach(l, deps)
  {
    g_autoptr(KmodModule) dep = kmod_module_get_module(l);

    if (!state_is_in_kernel(kmod_module_get_initstate(dep)))
      g_ptr_array_add(absent, g_strdup(kmod_module_get_name(dep)));
  }
  *out_mod = mod; /* it holds a reference on its context */
  return TRUE;
}

gboolean
vxm_kernel_module_ensure(VxmHostfs *hostfs, const char *name, const char *why, VxmJournal *journal,
                         GPtrArray *report, GError **error)
{
  g_autofree char *mod_name = module_name(name);
  g_autoptr(GPtrArray) absent = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(KmodModule) mod = NULL;
  g_autoptr(JsonObject) data = NULL;
  JsonArray *list;
  guint index = G_MAXUINT;
  int res;

  if (vxm_kernel_module_is_loaded(hostfs, name))
    return TRUE;
  vxm_kernel_module_register_journal_kind();
  if (vxm_hostfs_is_real(hostfs)) {
    if (geteuid() != 0) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                  "the %s module is not loaded (needed %s), and loading it needs root: sudo "
                  "modprobe %s (vxmd loads it when it does the work)",
                  name, why, name);
      return FALSE;
    }
    if (!load_real(name, absent, &mod, error)) {
      g_prefix_error(error, "cannot load %s (needed %s): ", name, why);
      return FALSE;
    }
  } else {
    if (!vxm_hostfs_exists(hostfs, VXM_KERNEL_MODULE_SIM_INTERFACE)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
                  "the %s module is not loaded (needed %s) and the host root %s has no module "
                  "interface: run modprobe %s as root",
                  name, why, vxm_hostfs_get_root(hostfs), name);
      return FALSE;
    }
    g_ptr_array_add(absent, g_strdup(mod_name));
  }

  /* journaled before the load: an intent whose modules are there afterwards was done */
  data = json_object_new();
  json_object_set_string_member(data, "module", name);
  list = json_array_new();
  for (guint i = 0; i < absent->len; i++)
    json_array_add_string_element(list, g_ptr_array_index(absent, i));
  json_object_set_array_member(data, "absent", list);
  if (journal != NULL &&
      !vxm_journal_begin(journal, VXM_KERNEL_MODULE_JOURNAL_KIND, data, &index, error))
    return FALSE;

  /* modprobe NAME, with the module's options and soft dependencies but never an install
   * command (those run a shell) */
  if (mod != NULL)
    res = kmod_module_probe_insert_module(mod, KMOD_PROBE_IGNORE_COMMAND, NULL, NULL, NULL, NULL);
  else
    res = sim_request(hostfs, "load", mod_name);
  if (res < 0 && res != -EEXIST) {
    vxm_error_set_from_errno(error, -res, "cannot load %s (needed %s)%s", name, why,
                             res == -ENOENT ? ": no such module for this kernel" : "");
    if (journal != NULL) {
      g_autoptr(GError) local = NULL;
      if (!vxm_journal_finish(journal, index, VXM_JOURNAL_STATE_UNDONE, (*error)->message, &local))
        g_debug("cannot mark the failed load in the journal: %s", local->message);
    }
    return FALSE;
  }
  if (report != NULL) {
    if (absent->len > 1) {
      g_autoptr(GString) with = g_string_new(NULL);
      for (guint i = 1; i < absent->len; i++)
        g_string_append_printf(with, "%s%s", i > 1 ? ", " : "",
                               (char *)g_ptr_array_index(absent, i));
      g_ptr_array_add(report, g_strdup_printf("loaded the %s module (with %s)", name, with->str));
    } else {
      g_ptr_array_add(report, g_strdup_printf("loaded the %s module", name));
    }
  }
  if (journal != NULL && !vxm_journal_finish(journal, index, VXM_JOURNAL_STATE_DONE, NULL, error))
    return FALSE;
  return TRUE;
}

/* ---- undo: unload what vxm loaded, unless something uses it now ---- */

static int
unload(VxmHostfs *hostfs, struct kmod_ctx *ctx, const char *mod_name)
{
  g_autoptr(KmodModule) mod = NULL;
  int res;

  if (ctx == NULL)
    return sim_request(hostfs, "unload", mod_name);
  res = kmod_module_new_from_name(ctx, mod_name, &mod);
  if (res < 0)
    return res;
  /* rmmod: never waits, never forced */
  return kmod_module_remove_module(mod, KMOD_REMOVE_NOWAIT);
}

static gboolean
undo_kernel_module(const VxmJournalUndoContext *ctx, const VxmJournalEntry *entry,
                   char **out_message, GError **error)
{
  JsonNode *node = json_object_get_member(entry->data, "absent");
  g_autoptr(KmodCtx) kctx = NULL;
  g_autoptr(GPtrArray) left = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GString) unloaded = g_string_new(NULL);
  g_autoptr(GString) kept = g_string_new(NULL);
  JsonArray *absent;
  gboolean progress = TRUE;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY(node)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "a kernel-module entry lists no modules");
    return FALSE;
  }
  absent = json_node_get_array(node);
  /* a device of this journal still on the module's driver (its give-back failed just now):
   * the module stays, and so does the entry, for the recover that gives the device back */
  for (guint i = 0; i < json_array_get_length(absent); i++) {
    const char *name = json_array_get_string_element(absent, i);
    g_autofree char *mod_name = name != NULL ? module_name(name) : NULL;
    g_autofree char *devices = mod_name != NULL ? bound_devices(ctx->hostfs, mod_name) : NULL;
    const char *device = devices != NULL ? still_journaled(ctx->journal, devices) : NULL;

    if (device != NULL) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                  "%s stays loaded while it drives %s, which is not given back yet", mod_name,
                  device);
      return FALSE;
    }
  }
  for (guint i = 0; i < json_array_get_length(absent); i++) {
    const char *name = json_array_get_string_element(absent, i);

    if (name != NULL && vxm_kernel_module_is_loaded(ctx->hostfs, name))
      g_ptr_array_add(left, module_name(name));
  }
  if (left->len == 0)
    return TRUE; /* never loaded, or unloaded since */
  if (vxm_hostfs_is_real(ctx->hostfs)) {
    kctx = kmod_context(error);
    if (kctx == NULL)
      return FALSE;
  }
  /* the module first, then what it needed; a dependency goes once its users have */
  while (progress && left->len > 0) {
    progress = FALSE;
    for (guint i = 0; i < left->len;) {
      const char *name = g_ptr_array_index(left, i);
      g_autofree char *busy = in_use(ctx->hostfs, kctx, name);

      if (busy == NULL && unload(ctx->hostfs, kctx, name) == 0) {
        g_string_append_printf(unloaded, "%s%s", unloaded->len > 0 ? ", " : "", name);
        g_ptr_array_remove_index(left, i);
        progress = TRUE;
        continue;
      }
      i++;
    }
  }
  for (guint i = 0; i < left->len; i++) {
    const char *name = g_ptr_array_index(left, i);
    g_autofree char *busy = in_use(ctx->hostfs, kctx, name);
    int res = busy == NULL ? unload(ctx->hostfs, kctx, name) : -EBUSY;

    if (res == 0) {
      g_string_append_printf(unloaded, "%s%s", unloaded->len > 0 ? ", " : "", name);
      continue;
    }
    if (busy == NULL && res != -EBUSY) {
      /* not "in use": something is wrong (no root?): keep the entry for a later recover */
      vxm_error_set_from_errno(error, -res, "cannot unload %s, which vxm loaded", name);
      return FALSE;
    }
    g_string_append_printf(kept, "%s%s (%s)", kept->len > 0 ? ", " : "", name,
                           busy != NULL ? busy : "in use");
  }
  if (kept->len > 0)
    *out_message = g_strdup_printf("%s%s%sleft loaded: %s", unloaded->len > 0 ? "unloaded " : "",
                                   unloaded->str, unloaded->len > 0 ? "; " : "", kept->str);
  else
    *out_message = g_strdup_printf("unloaded %s (vxm had loaded %s)", unloaded->str,
                                   unloaded->len > 0 && strchr(unloaded->str, ',') ? "them" : "it");
  return TRUE;
}

void
vxm_kernel_module_register_journal_kind(void)
{
  vxm_journal_register_kind(VXM_KERNEL_MODULE_JOURNAL_KIND, undo_kernel_module);
}
