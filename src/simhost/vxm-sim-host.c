/* vxm-sim-host: the whole simulated workstation (see the header). */
#include "vxm-sim-host.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vxm-sim-block.h"
#include "vxm-sim-display.h"
#include "vxm-sim-hugepages.h"
#include "vxm-sim-input.h"
#include "vxm-sim-pci.h"
#include "vxm-sim-usb.h"
#include "vxm-sim-proc.h"
#include "vxm-sim-system.h"

enum {
  CONTROL_LOG,
  CONTROL_FAULTS,
  CONTROL_RELEASE,
  CONTROL_STATE,
  CONTROL_UNPLUG,
  CONTROL_REPLUG,
  CONTROL_KILL,
  CONTROL_MACHINE,
  CONTROL_HUNG,
  CONTROL_MODULES,
};

void
vxm_sim_host_lock(VxmSimHost *host)
{
  g_rec_mutex_lock(&host->lock);
}

void
vxm_sim_host_unlock(VxmSimHost *host)
{
  g_rec_mutex_unlock(&host->lock);
}

gid_t
vxm_sim_host_group_id(const char *name)
{
  struct group grp, *result = NULL;
  char buf[4096];

  if (getgrnam_r(name, &grp, buf, sizeof buf, &result) != 0 || result == NULL)
    return 0;
  return result->gr_gid;
}

VxmSimNode *
vxm_sim_host_add_device_node(VxmSimHost *host, const char *path, guint mode, uid_t uid, gid_t gid)
{
  VxmSimNode *node = vxm_sim_node_put(host->root, path, vxm_sim_node_new_file(mode, NULL));

  node->flags |= VXM_SIM_NODE_FLAG_DEVICE;
  node->uid = uid;
  node->gid = gid;
  return node;
}

void
vxm_sim_host_log(VxmSimHost *host, const char *op, const char *path, const char *value,
                 gssize value_len, int result)
{
  vxm_sim_log_add(host->log, op, path, value, value_len, result);
}

int
vxm_sim_host_fault_begin(VxmSimHost *host, const char *op, const char *path, const char *alias,
                         const char *value, gssize value_len, gboolean *fired_out)
{
  const char *paths[] = {alias ? alias : path, alias ? path : NULL, NULL};
  VxmSimFaultAction action = vxm_sim_faults_match(host->faults, op, paths, value, value_len);

  *fired_out = action.fired;
  if (!action.fired)
    return 0;
  if (action.delay_ms > 0)
    g_usleep(action.delay_ms * G_TIME_SPAN_MILLISECOND);
  if (action.hang) {
    vxm_sim_log_add_word(host->log, op, paths[0], value, value_len, "hang");
    vxm_sim_faults_wait_release(host->faults, host->should_abort);
    return host->should_abort != NULL && host->should_abort() ? -EINTR : 0;
  }
  if (action.vanish) {
    g_autofree char *bdf = NULL;

    vxm_sim_host_lock(host);
    bdf = vxm_sim_pci_device_for_operation(host->pci, paths[0], value, value_len);
    if (bdf == NULL && alias != NULL)
      bdf = vxm_sim_pci_device_for_operation(host->pci, path, value, value_len);
    if (bdf != NULL) {
      g_autofree char *dev_path = g_strdup_printf("/sys/bus/pci/devices/%s", bdf);
      int res = vxm_sim_pci_unplug(host->pci, bdf);
      vxm_sim_log_add(host->log, "vanish", dev_path, NULL, -1, res);
    }
    vxm_sim_host_unlock(host);
    return -ENODEV;
  }
  return action.error != 0 ? -action.error : 0;
}

gboolean
vxm_sim_host_kernel_wait(VxmSimHost *host, VxmSimNode *node, const char *log_path,
                         const char *value, gsize value_len)
{
  guint64 releases = vxm_sim_faults_release_count(host->faults);
  gboolean logged = FALSE;
  gboolean held = FALSE;

  for (;;) {
    guint64 generation = vxm_sim_faults_generation(host->faults);
    gboolean wait;

    vxm_sim_host_lock(host);
    if (!held && vxm_sim_pci_device_lock_busy(host->pci, node, value, value_len)) {
      wait = TRUE; /* another operation holds the device lock */
    } else {
      wait = vxm_sim_pci_unbind_would_wait(host->pci, node, value, value_len);
      if (wait && !held) {
        /* the driver's remove() runs with the device lock held while it waits */
        vxm_sim_pci_device_lock_hold(host->pci, node, value, value_len, TRUE);
        held = TRUE;
      }
    }
    vxm_sim_host_unlock(host);
    if (!wait || vxm_sim_faults_release_count(host->faults) != releases ||
        (host->should_abort != NULL && host->should_abort()))
      return held;
    if (!logged)
      vxm_sim_log_add_word(host->log, "write", log_path, value, value_len, "hang");
    logged = TRUE;
    vxm_sim_faults_wait_change_since(host->faults, generation, host->should_abort);
  }
}

void
vxm_sim_host_kernel_done(VxmSimHost *host, VxmSimNode *node, const char *value, gsize value_len)
{
  vxm_sim_host_lock(host);
  vxm_sim_pci_device_lock_hold(host->pci, node, value, value_len, FALSE);
  vxm_sim_host_unlock(host);
  vxm_sim_faults_wake(host->faults);
}

void
vxm_sim_host_device_lock_wait(VxmSimHost *host, VxmSimNode *node)
{
  guint64 releases = vxm_sim_faults_release_count(host->faults);

  for (;;) {
    guint64 generation = vxm_sim_faults_generation(host->faults);
    gboolean busy;

    vxm_sim_host_lock(host);
    busy = vxm_sim_pci_device_lock_busy(host->pci, node, NULL, 0);
    vxm_sim_host_unlock(host);
    if (!busy || vxm_sim_faults_release_count(host->faults) != releases ||
        (host->should_abort != NULL && host->should_abort()))
      return;
    vxm_sim_faults_wait_change_since(host->faults, generation, host->should_abort);
  }
}

static void
collect_device_nodes(VxmSimNode *node, GPtrArray *lines)
{
  if (node->kind == VXM_SIM_NODE_DIR) {
    g_autoptr(GPtrArray) names = vxm_sim_node_list(node);
    for (guint i = 0; i < names->len; i++)
      collect_device_nodes(vxm_sim_node_child(node, names->pdata[i]), lines);
  } else if (node->flags & VXM_SIM_NODE_FLAG_DEVICE) {
    g_autofree char *path = vxm_sim_node_path(node);
    g_ptr_array_add(lines, g_strdup_printf("dev %s owner=%u:%u mode=%04o", path, (guint)node->uid,
                                           (guint)node->gid, node->mode));
  }
}

char *
vxm_sim_host_dump_state(VxmSimHost *host)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
  GString *out = g_string_new(NULL);
  VxmSimNode *dev;

  vxm_sim_host_lock(host);
  vxm_sim_pci_dump_state(host->pci, lines);
  vxm_sim_proc_dump_state(host->proc, lines);
  vxm_sim_hugepages_dump_state(host->hugepages, lines);
  vxm_sim_display_dump_state(host->display, lines);
  vxm_sim_input_dump_state(host->input, lines);
  vxm_sim_usb_dump_state(host->usb, lines);
  dev = vxm_sim_node_lookup(host->root, "/dev", NULL);
  if (dev != NULL)
    collect_device_nodes(dev, lines);
  vxm_sim_host_unlock(host);
  g_ptr_array_sort(lines, vxm_sim_compare_strings);
  for (guint i = 0; i < lines->len; i++)
    g_string_append_printf(out, "%s\n", (const char *)lines->pdata[i]);
  return g_string_free(out, FALSE);
}

/* ---- deferred work and announced links ---- */

typedef struct {
  GFunc func;
  gpointer data;
  GDestroyNotify destroy;
} Deferred;

void
vxm_sim_host_defer(VxmSimHost *host, GFunc func, gpointer data, GDestroyNotify destroy)
{
  Deferred *d = g_new0(Deferred, 1);

  d->func = func;
  d->data = data;
  d->destroy = destroy;
  g_ptr_array_add(host->deferred, d);
}

void
vxm_sim_host_run_deferred(VxmSimHost *host)
{
  for (;;) {
    Deferred *d = NULL;

    vxm_sim_host_lock(host);
    if (host->deferred->len > 0)
      d = g_ptr_array_steal_index(host->deferred, 0);
    vxm_sim_host_unlock(host);
    if (d == NULL)
      return;
    d->func(d->data, host);
    if (d->destroy != NULL)
      d->destroy(d->data);
    g_free(d);
  }
}

/* Applies an announced change to the tree. Lock held. */
static void
apply_announced(VxmSimHost *host, const char *path, gpointer what)
{
  if (what == (gpointer)host)
    vxm_sim_node_remove_path(host->root, path);
  else
    vxm_sim_node_put(host->root, path, vxm_sim_node_ref(what));
}

static void
announce(VxmSimHost *host, const char *path, gpointer what)
{
  g_autofree char *local = NULL;
  int res = -1;

  vxm_sim_host_lock(host);
  if (host->mountpoint != NULL) {
    local = g_strconcat(host->mountpoint, path, NULL);
    g_hash_table_replace(host->announced, g_strdup(path),
                         what == (gpointer)host ? what : vxm_sim_node_ref(what));
  }
  vxm_sim_host_unlock(host);
  if (local != NULL) {
    if (what == (gpointer)host)
      res = unlink(local);
    else if (((VxmSimNode *)what)->kind == VXM_SIM_NODE_LINK)
      res = symlink(((VxmSimNode *)what)->target, local);
    else
      res = mknod(local, S_IFREG | 0600, 0); /* a device node the kernel makes (devtmpfs) */
  }
  vxm_sim_host_lock(host);
  if (res != 0) {
    /* no mount, or the VFS refused (a stale entry): change the tree directly */
    if (host->mountpoint != NULL)
      g_hash_table_remove(host->announced, path);
    apply_announced(host, path, what);
  }
  vxm_sim_host_unlock(host);
}

void
vxm_sim_host_announce_link(VxmSimHost *host, const char *path, VxmSimNode *link)
{
  announce(host, path, link);
  vxm_sim_host_lock(host);
  vxm_sim_node_unref(link);
  vxm_sim_host_unlock(host);
}

void
vxm_sim_host_announce_node(VxmSimHost *host, const char *path, VxmSimNode *node)
{
  announce(host, path, node);
  vxm_sim_host_lock(host);
  vxm_sim_node_unref(node);
  vxm_sim_host_unlock(host);
}

void
vxm_sim_host_announce_unlink(VxmSimHost *host, const char *path)
{
  announce(host, path, host);
}

gboolean
vxm_sim_host_take_announced(VxmSimHost *host, const char *path)
{
  gpointer key = NULL, what = NULL;
  gboolean found;

  vxm_sim_host_lock(host);
  found = g_hash_table_steal_extended(host->announced, path, &key, &what);
  if (found) {
    apply_announced(host, path, what);
    if (what != (gpointer)host)
      vxm_sim_node_unref(what);
    g_free(key);
  }
  vxm_sim_host_unlock(host);
  return found;
}

/* ---- the control folder ---- */

static char *
control_show(VxmSimNode *node, gssize *len)
{
  VxmSimHost *host = node->owner;

  switch (node->attr) {
  case CONTROL_LOG: return vxm_sim_log_text(host->log);
  case CONTROL_FAULTS: return vxm_sim_faults_list(host->faults);
  case CONTROL_STATE: return vxm_sim_host_dump_state(host);
  case CONTROL_MACHINE:
    return g_strdup_printf("%s\n%s\n", host->machine_path,
                           vxm_sim_system_description(host->system));
  case CONTROL_HUNG: return g_strdup_printf("%u\n", vxm_sim_faults_hung_count(host->faults));
  case CONTROL_MODULES: return vxm_sim_pci_modules_text(host->pci);
  default: return g_strdup("");
  }
}

static int
control_store(VxmSimNode *node, const char *buf, gsize len)
{
  VxmSimHost *host = node->owner;
  g_autofree char *text = g_strndup(buf, len);
  g_autofree char *path = NULL;
  g_auto(GStrv) lines = NULL;
  int res;

  g_strstrip(text);
  switch (node->attr) {
  case CONTROL_LOG: vxm_sim_log_clear(host->log); return 0;
  case CONTROL_FAULTS:
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i] != NULL; i++) {
      g_autoptr(GError) error = NULL;
      if (g_strstrip(lines[i])[0] == '\0')
        continue;
      if (!vxm_sim_faults_add(host->faults, lines[i], &error)) {
        g_printerr("vxm-simhost: %s\n", error->message);
        return -EINVAL;
      }
    }
    return 0;
  case CONTROL_RELEASE: vxm_sim_faults_release(host->faults); return 0;
  case CONTROL_UNPLUG:
  case CONTROL_REPLUG:
    path = g_strdup_printf("/sys/bus/pci/devices/%s", text);
    res = node->attr == CONTROL_UNPLUG ? vxm_sim_pci_unplug(host->pci, text)
                                       : vxm_sim_pci_replug(host->pci, text);
    vxm_sim_log_add(host->log, node->attr == CONTROL_UNPLUG ? "unplug" : "replug", path, NULL, -1,
                    res);
    return res;
  case CONTROL_KILL:
    path = g_strdup_printf("/proc/%s", text);
    res = vxm_sim_proc_kill(host->proc, text);
    vxm_sim_log_add(host->log, "kill", path, NULL, -1, res);
    /* an unbind waiting for its holders may go on now */
    if (res == 0)
      vxm_sim_faults_wake(host->faults);
    return res;
  case CONTROL_MODULES: {
    /* "load NAME" or "unload NAME": what init_module() and delete_module() do to the PCI
     * drivers (vxm's module loader talks to this when the host root is not "/") */
    g_auto(GStrv) words = g_strsplit(text, " ", 2);
    g_autofree char *module = NULL;
    gboolean load;

    if (g_strv_length(words) != 2 || words[1][0] == '\0' ||
        (strcmp(words[0], "load") != 0 && strcmp(words[0], "unload") != 0))
      return -EINVAL;
    load = strcmp(words[0], "load") == 0;
    module = g_strdelimit(g_strdup(words[1]), "-", '_');
    path = g_strdup_printf("/sys/module/%s", module);
    res = load ? vxm_sim_pci_load_module(host->pci, module)
               : vxm_sim_pci_unload_module(host->pci, module);
    vxm_sim_log_add(host->log, load ? "modprobe" : "rmmod", path, NULL, -1, res);
    if (res == 0)
      vxm_sim_faults_wake(host->faults);
    return res;
  }
  default: return -EACCES;
  }
}

static void
build_control_folder(VxmSimHost *host)
{
  static const struct {
    const char *name;
    guint attr;
    guint mode;
  } files[] = {
      {"log", CONTROL_LOG, 0644},         {"faults", CONTROL_FAULTS, 0644},
      {"release", CONTROL_RELEASE, 0200}, {"state", CONTROL_STATE, 0444},
      {"unplug", CONTROL_UNPLUG, 0200},   {"replug", CONTROL_REPLUG, 0200},
      {"kill", CONTROL_KILL, 0200},       {"machine", CONTROL_MACHINE, 0444},
      {"hung", CONTROL_HUNG, 0444},       {"modules", CONTROL_MODULES, 0644},
  };
  VxmSimNode *dir = vxm_sim_node_mkdir_p(host->root, VXM_SIM_CONTROL_DIR);
  VxmSimNode *ready;

  dir->flags |= VXM_SIM_NODE_FLAG_HIDDEN | VXM_SIM_NODE_FLAG_CONTROL;
  for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
    VxmSimNode *node = vxm_sim_node_new_generated(
        files[i].mode, files[i].mode & 0444 ? control_show : NULL,
        files[i].mode & 0200 ? control_store : NULL, host, NULL, files[i].attr);

    node->flags |= VXM_SIM_NODE_FLAG_CONTROL;
    vxm_sim_node_add(dir, files[i].name, node);
  }
  ready = vxm_sim_node_add(dir, "ready", vxm_sim_node_new_file(0444, "1\n"));
  ready->flags |= VXM_SIM_NODE_FLAG_CONTROL;
}

/* ---- life cycle ---- */

VxmSimHost *
vxm_sim_host_new(const char *machine_path, gboolean echo_log, GError **error)
{
  g_autoptr(VxmSimMachine) machine = vxm_sim_machine_load(machine_path, error);
  g_autoptr(VxmSimHost) host = NULL;

  if (machine == NULL)
    return NULL;
  host = g_new0(VxmSimHost, 1);
  g_rec_mutex_init(&host->lock);
  host->root = vxm_sim_node_new_dir(0755);
  host->log = vxm_sim_log_new(echo_log);
  host->faults = vxm_sim_faults_new();
  host->machine_path = g_strdup(machine_path);
  host->announced = g_hash_table_new(g_str_hash, g_str_equal);
  host->deferred = g_ptr_array_new();

  /* The skeleton every Linux host has, even where no area adds anything. */
  for (const char *const *d =
           (const char *const[]){"/sys/devices", "/sys/bus", "/sys/class", "/sys/kernel",
                                 "/sys/module", "/dev", "/proc", NULL};
       *d != NULL; d++)
    vxm_sim_node_mkdir_p(host->root, *d);
  vxm_sim_node_lookup(host->root, "/proc", NULL)->mode = 0555;

  host->system = vxm_sim_system_new(host, machine, error);
  if (host->system == NULL)
    return NULL;
  host->pci = vxm_sim_pci_new(host, machine, vxm_sim_system_iommu(host->system), error);
  if (host->pci == NULL)
    return NULL;
  host->block = vxm_sim_block_new(host, machine, error);
  if (host->block == NULL)
    return NULL;
  host->proc = vxm_sim_proc_new(host, machine, error);
  if (host->proc == NULL)
    return NULL;
  host->hugepages = vxm_sim_hugepages_new(host, machine, vxm_sim_system_mem_total_kib(host->system),
                                          vxm_sim_system_cpus(host->system), error);
  if (host->hugepages == NULL)
    return NULL;
  host->display = vxm_sim_display_new(host, machine, error);
  if (host->display == NULL)
    return NULL;
  host->input = vxm_sim_input_new(host, machine, error);
  if (host->input == NULL)
    return NULL;
  host->usb = vxm_sim_usb_new(host, machine, error);
  if (host->usb == NULL)
    return NULL;
  if (!vxm_sim_machine_check_understood(machine, error))
    return NULL;
  build_control_folder(host);
  vxm_sim_input_add_control(host->input);
  vxm_sim_usb_add_control(host->usb);
  return g_steal_pointer(&host);
}

void
vxm_sim_host_free(VxmSimHost *host)
{
  if (host == NULL)
    return;
  vxm_sim_display_free(host->display);
  vxm_sim_input_free(host->input);
  vxm_sim_usb_free(host->usb);
  vxm_sim_block_free(host->block);
  vxm_sim_hugepages_free(host->hugepages);
  vxm_sim_proc_free(host->proc);
  vxm_sim_pci_free(host->pci);
  vxm_sim_system_free(host->system);
  vxm_sim_node_unref(host->root);
  vxm_sim_faults_free(host->faults);
  vxm_sim_log_free(host->log);
  g_free(host->machine_path);
  g_free(host->mountpoint);
  if (host->announced != NULL) {
    GHashTableIter iter;
    gpointer key, what;

    g_hash_table_iter_init(&iter, host->announced);
    while (g_hash_table_iter_next(&iter, &key, &what)) {
      g_free(key);
      if (what != (gpointer)host)
        vxm_sim_node_unref(what);
    }
    g_hash_table_unref(host->announced);
  }
  if (host->deferred != NULL)
    g_ptr_array_unref(host->deferred); /* run before every control write returns: empty */
  g_rec_mutex_clear(&host->lock);
  g_free(host);
}
