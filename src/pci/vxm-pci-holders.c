#include "vxm-pci-holders.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-host-system.h"
#include "common/vxm-util.h"

#define NVIDIA_VENDOR_ID 0x10de

void
vxm_pci_holder_free(VxmPciHolder *holder)
{
  if (holder == NULL)
    return;
  g_free(holder->comm);
  g_free(holder->nodes);
  g_free(holder);
}

static gboolean
is_pid_name(const char *name)
{
  if (*name == '\0')
    return FALSE;
  for (; *name != '\0'; name++) {
    if (!g_ascii_isdigit(*name))
      return FALSE;
  }
  return TRUE;
}

/* The /dev/dri nodes of the card, from its drm/ folder. */
static GPtrArray *
drm_nodes(VxmHostfs *hostfs, const char *bdf)
{
  g_autofree char *drm = g_strdup_printf(VXM_HOST_SYS_PCI_DEVICES "/%s/drm", bdf);
  g_autoptr(GPtrArray) names = vxm_hostfs_list_dir(hostfs, drm, NULL);
  GPtrArray *nodes = g_ptr_array_new_with_free_func(g_free);

  for (guint i = 0; names != NULL && i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);

    if (g_str_has_prefix(name, "card") || g_str_has_prefix(name, "renderD"))
      g_ptr_array_add(nodes, g_strdup_printf(VXM_HOST_DEV_DRI "/%s", name));
  }
  return nodes;
}

static gboolean
is_held_node(const char *target, GPtrArray *nodes, gboolean nvidia)
{
  if (nvidia && g_str_has_prefix(target, VXM_HOST_DEV "/nvidia"))
    return TRUE;
  for (guint i = 0; i < nodes->len; i++) {
    if (strcmp(target, g_ptr_array_index(nodes, i)) == 0)
      return TRUE;
  }
  return FALSE;
}

static int
compare_strings(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The nodes one process holds, or NULL; *unreadable set when its fds cannot be listed. */
static char *
scan_process(VxmHostfs *hostfs, const char *pid, GPtrArray *nodes, gboolean nvidia,
             gboolean *unreadable)
{
  g_autofree char *fd_dir = vxm_hostfs_pathf(hostfs, VXM_HOST_PROC "/%s/fd", pid);
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
  DIR *dir = opendir(fd_dir);
  struct dirent *de;

  *unreadable = FALSE;
  if (dir == NULL) {
    /* ENOENT: it exited meanwhile; EACCES: another user's process */
    *unreadable = errno == EACCES || errno == EPERM;
    return NULL;
  }
  while ((de = readdir(dir)) != NULL) {
    g_autofree char *link = NULL;
    char target[4096];
    ssize_t n;

    if (!is_pid_name(de->d_name))
      continue;
    link = g_build_filename(fd_dir, de->d_name, NULL);
    n = readlink(link, target, sizeof target - 1);
    if (n < 0 && (errno == EACCES || errno == EPERM)) {
      /* the folder could be listed (CAP_DAC_OVERRIDE) but not where its fds point (that
       * takes CAP_SYS_PTRACE): not knowing is not "holds nothing" */
      *unreadable = TRUE;
      break;
    }
    if (n < 0)
      continue; /* the fd was closed meanwhile */
    target[n] = '\0';
    if (is_held_node(target, nodes, nvidia) &&
        !g_ptr_array_find_with_equal_func(found, target, g_str_equal, NULL))
      g_ptr_array_add(found, g_strdup(target));
  }
  closedir(dir);
  if (found->len == 0 || *unreadable)
    return NULL;
  g_ptr_array_sort(found, compare_strings);
  g_ptr_array_add(found, NULL);
  return g_strjoinv(", ", (char **)found->pdata);
}

static int
compare_holders(gconstpointer a, gconstpointer b)
{
  const VxmPciHolder *ha = *(VxmPciHolder *const *)a, *hb = *(VxmPciHolder *const *)b;
  return ha->pid < hb->pid ? -1 : ha->pid > hb->pid;
}

/* Every process (but this one) holding one of @nodes, or /dev/nvidia* when @nvidia. */
static GPtrArray *
scan_all(VxmHostfs *hostfs, GPtrArray *nodes, gboolean nvidia, guint *out_unreadable,
         GError **error)
{
  g_autoptr(GPtrArray) holders =
      g_ptr_array_new_with_free_func((GDestroyNotify)vxm_pci_holder_free);
  g_autoptr(GPtrArray) pids = NULL;
  g_autofree char *self = g_strdup_printf("%d", (int)getpid());
  guint unreadable = 0;

  if (nodes->len == 0 && !nvidia)
    goto done;
  pids = vxm_hostfs_list_dir(hostfs, VXM_HOST_PROC, error);
  if (pids == NULL)
    return NULL;
  for (guint i = 0; i < pids->len; i++) {
    const char *pid = g_ptr_array_index(pids, i);
    g_autofree char *held = NULL;
    g_autofree char *comm_path = NULL;
    g_autofree char *comm = NULL;
    gboolean cannot_read = FALSE;
    VxmPciHolder *holder;

    if (!is_pid_name(pid) || strcmp(pid, self) == 0)
      continue;
    held = scan_process(hostfs, pid, nodes, nvidia, &cannot_read);
    if (cannot_read)
      unreadable++;
    if (held == NULL)
      continue;
    comm_path = g_strdup_printf(VXM_HOST_PROC "/%s/comm", pid);
    comm = vxm_hostfs_read_attr(hostfs, comm_path, NULL);
    if (comm == NULL && !vxm_hostfs_exists(hostfs, comm_path))
      continue; /* exited since */
    holder = g_new0(VxmPciHolder, 1);
    (void)vxm_parse_int64(pid, 10, &holder->pid);
    holder->comm = comm != NULL ? g_steal_pointer(&comm) : g_strdup("?");
    holder->nodes = g_steal_pointer(&held);
    g_ptr_array_add(holders, holder);
  }
  g_ptr_array_sort(holders, compare_holders);
done:
  if (out_unreadable != NULL)
    *out_unreadable = unreadable;
  return g_steal_pointer(&holders);
}

GPtrArray *
vxm_pci_holders_scan(VxmHostfs *hostfs, const char *bdf, guint *out_unreadable, GError **error)
{
  g_autoptr(GPtrArray) nodes = drm_nodes(hostfs, bdf);
  g_autofree char *vendor_path = g_strdup_printf(VXM_HOST_SYS_PCI_DEVICES "/%s/vendor", bdf);
  GPtrArray *holders;
  guint64 vendor = 0;

  if (!vxm_hostfs_read_attr_uint64(hostfs, vendor_path, 16, &vendor, error)) {
    g_prefix_error(error, "cannot look for processes holding %s: ", bdf);
    return NULL;
  }
  holders = scan_all(hostfs, nodes, vendor == NVIDIA_VENDOR_ID, out_unreadable, error);
  if (holders == NULL)
    g_prefix_error(error, "cannot look for processes holding %s: ", bdf);
  return holders;
}

GPtrArray *
vxm_pci_holders_scan_vfio_group(VxmHostfs *hostfs, gint group, guint *out_unreadable,
                                GError **error)
{
  g_autoptr(GPtrArray) nodes = g_ptr_array_new_with_free_func(g_free);
  GPtrArray *holders;

  g_ptr_array_add(nodes, g_strdup_printf(VXM_HOST_DEV_VFIO "/%d", group));
  holders = scan_all(hostfs, nodes, FALSE, out_unreadable, error);
  if (holders == NULL)
    g_prefix_error(error, "cannot look for processes holding %s/%d: ", VXM_HOST_DEV_VFIO, group);
  return holders;
}

char *
vxm_pci_holders_describe_busy(VxmHostfs *hostfs, const char *bdf, gint group)
{
  g_autoptr(GPtrArray) holders = NULL;

  if (group >= 0)
    holders = vxm_pci_holders_scan_vfio_group(hostfs, group, NULL, NULL);
  if (holders != NULL && holders->len > 0) {
    VxmPciHolder *first = g_ptr_array_index(holders, 0);

    return g_strdup_printf("%s is busy in the kernel: an unbind is waiting for process "
                           "%" G_GINT64_FORMAT " (%s, holding %s/%d): it goes on once that "
                           "process closes it (stop that VM)",
                           bdf, first->pid, first->comm, VXM_HOST_DEV_VFIO, group);
  }
  return g_strdup_printf("%s is busy in the kernel: a driver's unbind or probe of it has not "
                         "finished (something may still use the device); vxm leaves it alone "
                         "until it does",
                         bdf);
}

char *
vxm_pci_holders_describe(GPtrArray *holders)
{
  GString *text = g_string_new(NULL);

  for (guint i = 0; i < holders->len; i++) {
    VxmPciHolder *holder = g_ptr_array_index(holders, i);

    g_string_append_printf(text, "%s%" G_GINT64_FORMAT " (%s: %s)", i > 0 ? ", " : "", holder->pid,
                           holder->comm, holder->nodes);
  }
  return g_string_free(text, FALSE);
}

/* The host's other cards (/dev/dri/cardN of every PCI device outside @bdf's slot), the boot
 * VGA first, joined by @separator: what a compositor should be limited to. NULL when none. */
static char *
host_cards(VxmHostfs *hostfs, const char *bdf, const char *separator)
{
  g_autoptr(GPtrArray) devices = vxm_hostfs_list_dir(hostfs, VXM_HOST_SYS_PCI_DEVICES, NULL);
  g_autoptr(GPtrArray) cards = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *slot = g_strndup(bdf, 10); /* DDDD:BB:SS, the GPU's functions share it */

  for (guint i = 0; devices != NULL && i < devices->len; i++) {
    const char *other = g_ptr_array_index(devices, i);
    g_autofree char *boot_vga_path = NULL;
    g_autofree char *boot_vga = NULL;
    g_autoptr(GPtrArray) nodes = NULL;

    if (g_str_has_prefix(other, slot))
      continue;
    nodes = drm_nodes(hostfs, other);
    boot_vga_path = g_strdup_printf(VXM_HOST_SYS_PCI_DEVICES "/%s/boot_vga", other);
    boot_vga = vxm_hostfs_read_attr(hostfs, boot_vga_path, NULL);
    for (guint k = 0; k < nodes->len; k++) {
      const char *node = g_ptr_array_index(nodes, k);

      if (!g_str_has_prefix(node, VXM_HOST_DEV_DRI "/card"))
        continue;
      if (g_strcmp0(boot_vga, "1") == 0)
        g_ptr_array_insert(cards, 0, g_strdup(node));
      else
        g_ptr_array_add(cards, g_strdup(node));
    }
  }
  if (cards->len == 0)
    return NULL;
  g_ptr_array_add(cards, NULL);
  return g_strjoinv(separator, (char **)cards->pdata);
}

/* The real uid of process @pid, -1 when unknown. */
static gint64
process_uid(VxmHostfs *hostfs, gint64 pid)
{
  g_autofree char *path = g_strdup_printf(VXM_HOST_PROC "/%" G_GINT64_FORMAT "/status", pid);
  g_autofree char *status = NULL;
  const char *uid;

  if (!vxm_hostfs_read_file(hostfs, path, &status, NULL, NULL))
    return -1;
  uid = strstr(status, "\nUid:");
  return uid != NULL ? g_ascii_strtoll(uid + 5, NULL, 10) : -1;
}

/* The display manager a process runs under (greetd, sddm), from its PPid chain; NULL if none.
 * A user's own session runs under it too: the greeter is the one with a system uid. */
static char *
display_manager_of(VxmHostfs *hostfs, gint64 pid)
{
  for (int depth = 0; depth < 8 && pid > 1; depth++) {
    g_autofree char *status_path =
        g_strdup_printf(VXM_HOST_PROC "/%" G_GINT64_FORMAT "/status", pid);
    g_autofree char *status = NULL;
    g_autofree char *comm_path = NULL;
    g_autofree char *comm = NULL;
    const char *ppid;

    if (!vxm_hostfs_read_file(hostfs, status_path, &status, NULL, NULL))
      return NULL;
    ppid = strstr(status, "\nPPid:");
    pid = ppid != NULL ? g_ascii_strtoll(ppid + 6, NULL, 10) : 0;
    if (pid <= 1)
      return NULL;
    comm_path = g_strdup_printf(VXM_HOST_PROC "/%" G_GINT64_FORMAT "/comm", pid);
    comm = vxm_hostfs_read_attr(hostfs, comm_path, NULL);
    if (g_strcmp0(comm, "greetd") == 0 || g_strcmp0(comm, "sddm") == 0)
      return g_steal_pointer(&comm);
  }
  return NULL;
}

/* Services that hold a card: stopped with the host's init (comm is cut at 15 characters by the
 * kernel: the table holds the cut names). */
static const struct {
  const char *comm;
  const char *service;
} known_services[] = {
    {"nvidia-persiste", "nvidia-persistenced"},
    {"nvidia-powerd", "nvidia-powerd"},
};

/* Compositors that pick their cards from an environment variable. */
static const struct {
  const char *comm;
  const char *what;
  const char *variable;
  const char *how; /* CARDS: the variable's value */
} known_compositors[] = {
    /* aquamarine (Hyprland's backend) takes a colon-separated list of card paths */
    {"Hyprland", "Hyprland", "AQ_DRM_DEVICES",
     "add `env = AQ_DRM_DEVICES,CARDS` to ~/.config/hypr/hyprland.conf and log in again"},
    {"kwin_wayland", "KWin", "KWIN_DRM_DEVICES",
     "set KWIN_DRM_DEVICES=CARDS in the session's environment and log in again"},
    {"sway", "sway", "WLR_DRM_DEVICES",
     "set WLR_DRM_DEVICES=CARDS in the session's environment and log in again"},
    {"cage", "cage", "WLR_DRM_DEVICES", "start it with WLR_DRM_DEVICES=CARDS"},
};

static char *
advice_for(VxmHostfs *hostfs, const char *bdf, VxmPciHolder *holder)
{
  g_autofree char *manager = display_manager_of(hostfs, holder->pid);
  gint64 uid = process_uid(hostfs, holder->pid);
  /* greetd's greeter runs as _greetd or greeter, SDDM's as sddm: system users */
  gboolean greeter = manager != NULL && uid >= 0 && uid < 1000;
  g_autofree char *cards = NULL;
  g_autofree char *how = NULL;
  g_autoptr(GString) how_text = NULL;

  for (guint k = 0; k < G_N_ELEMENTS(known_services); k++) {
    if (strcmp(holder->comm, known_services[k].comm) == 0) {
      g_autofree char *stop =
          vxm_host_system_service_command(hostfs, known_services[k].service, "stop");

      return g_strdup_printf("stop %s: %s", known_services[k].service, stop);
    }
  }
  if (strcmp(holder->comm, "sddm") == 0 || g_str_has_prefix(holder->comm, "sddm-greeter") ||
      (greeter && strcmp(manager, "sddm") == 0)) {
    g_autofree char *restart = vxm_host_system_service_command(hostfs, "sddm", "restart");

    cards = host_cards(hostfs, bdf, ":");
    return g_strdup_printf(
        "SDDM's greeter uses this card (%s): limit it to the host GPU (Wayland greeter: "
        "KWIN_DRM_DEVICES=%s in the CompositorCommand of [Wayland] in /etc/sddm.conf.d/; X11: "
        "the Xorg config's BusID), then %s",
        holder->comm, cards != NULL ? cards : "the host GPU's /dev/dri/cardN", restart);
  }
  for (guint k = 0; k < G_N_ELEMENTS(known_compositors); k++) {
    if (strcmp(holder->comm, known_compositors[k].comm) != 0)
      continue;
    /* aquamarine and wlroots take ':' between cards, KWin ':' too */
    cards = host_cards(hostfs, bdf, ":");
    if (greeter && strcmp(manager, "greetd") == 0) {
      g_autofree char *restart = vxm_host_system_service_command(hostfs, "greetd", "restart");

      return g_strdup_printf("greetd's greeter runs %s on this card: put %s=%s before the "
                             "greeter's command in /etc/greetd/config.toml "
                             "(command = \"env %s=%s ...\"), then %s",
                             known_compositors[k].what, known_compositors[k].variable,
                             cards != NULL ? cards : "/dev/dri/cardN",
                             known_compositors[k].variable,
                             cards != NULL ? cards : "/dev/dri/cardN", restart);
    }
    how_text = g_string_new(known_compositors[k].how);
    g_string_replace(how_text, "CARDS", cards != NULL ? cards : "the host GPU's /dev/dri/cardN", 0);
    how = g_string_free(g_steal_pointer(&how_text), FALSE);
    return g_strdup_printf("%s uses this card: %s (%s keeps it on the host GPU)",
                           known_compositors[k].what, how, known_compositors[k].variable);
  }
  if (strcmp(holder->comm, "Xorg") == 0)
    return g_strdup("the X server uses this card: configure it to use the host GPU only and "
                    "restart the display manager");
  if (strcmp(holder->comm, "Xwayland") == 0)
    return g_strdup("the desktop session uses this card: log out, or restart it so it uses the "
                    "host GPU only");
  if (strcmp(holder->comm, "gnome-shell") == 0)
    return g_strdup("GNOME Shell uses this card: log out, or restart the session");
  if (strcmp(holder->comm, "greetd") == 0) {
    g_autofree char *restart = vxm_host_system_service_command(hostfs, "greetd", "restart");

    return g_strdup_printf("greetd's greeter uses this card: limit its compositor to the host "
                           "GPU in /etc/greetd/config.toml, then %s",
                           restart);
  }
  return NULL;
}

char *
vxm_pci_holders_advice(VxmHostfs *hostfs, const char *bdf, GPtrArray *holders)
{
  GString *text = g_string_new(NULL);
  gboolean generic = FALSE;

  for (guint i = 0; i < holders->len; i++) {
    g_autofree char *advice = advice_for(hostfs, bdf, g_ptr_array_index(holders, i));

    if (advice == NULL) {
      generic = TRUE;
      continue;
    }
    if (strstr(text->str, advice) == NULL)
      g_string_append_printf(text, "%s%s", text->len > 0 ? "; " : "", advice);
  }
  if (generic)
    g_string_append_printf(text, "%sclose the programs above (or kill PID) and try again",
                           text->len > 0 ? "; " : "");
  return g_string_free(text, FALSE);
}
