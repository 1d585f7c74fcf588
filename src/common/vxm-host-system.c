/* vxm-host-system: the host's init and whether its root outlives a reboot. */
#include <string.h>

#include "common/vxm-host-system.h"

VxmHostInit
vxm_host_system_get_init(VxmHostfs *hostfs)
{
  gboolean openrc_installed, systemd_installed;

  /* running: each init leaves its mark in /run (systemd's is what sd_booted() tests) */
  if (vxm_hostfs_is_dir(hostfs, VXM_HOST_RUN_SYSTEMD_SYSTEM))
    return VXM_HOST_INIT_SYSTEMD;
  if (vxm_hostfs_exists(hostfs, VXM_HOST_RUN_OPENRC_SOFTLVL) ||
      vxm_hostfs_is_dir(hostfs, VXM_HOST_RUN_OPENRC))
    return VXM_HOST_INIT_OPENRC;
  /* not running (a chroot, an image): the one installed */
  openrc_installed = vxm_hostfs_exists(hostfs, VXM_HOST_SBIN_OPENRC_RUN) ||
                     vxm_hostfs_exists(hostfs, VXM_HOST_SBIN_OPENRC);
  systemd_installed = vxm_hostfs_exists(hostfs, VXM_HOST_LIB_SYSTEMD) ||
                      vxm_hostfs_exists(hostfs, VXM_HOST_USR_LIB_SYSTEMD);
  if (openrc_installed && !systemd_installed)
    return VXM_HOST_INIT_OPENRC;
  if (systemd_installed && !openrc_installed)
    return VXM_HOST_INIT_SYSTEMD;
  return VXM_HOST_INIT_UNKNOWN;
}

const char *
vxm_host_init_to_string(VxmHostInit init)
{
  switch (init) {
  case VXM_HOST_INIT_SYSTEMD: return "systemd";
  case VXM_HOST_INIT_OPENRC: return "openrc";
  case VXM_HOST_INIT_UNKNOWN:
  default: return "unknown";
  }
}

#define SYSTEMD_ENABLE "sudo systemctl enable --now vxmd.socket"
#define OPENRC_ENABLE  "sudo rc-update add vxmd default && sudo rc-service vxmd start"

char *
vxm_host_system_vxmd_enable_command(VxmHostfs *hostfs)
{
  switch (vxm_host_system_get_init(hostfs)) {
  case VXM_HOST_INIT_SYSTEMD: return g_strdup(SYSTEMD_ENABLE);
  case VXM_HOST_INIT_OPENRC: return g_strdup(OPENRC_ENABLE);
  case VXM_HOST_INIT_UNKNOWN:
  default: return g_strdup(SYSTEMD_ENABLE " (systemd) or " OPENRC_ENABLE " (OpenRC)");
  }
}

char *
vxm_host_system_vxmd_log_hint(VxmHostfs *hostfs)
{
  switch (vxm_host_system_get_init(hostfs)) {
  case VXM_HOST_INIT_SYSTEMD: return g_strdup("journalctl -u vxmd");
  case VXM_HOST_INIT_OPENRC: return g_strdup(VXM_HOST_VXMD_LOG);
  case VXM_HOST_INIT_UNKNOWN:
  default: return g_strdup("journalctl -u vxmd (systemd) or " VXM_HOST_VXMD_LOG " (OpenRC)");
  }
}

char *
vxm_host_system_vxmd_restart_command(VxmHostfs *hostfs)
{
  switch (vxm_host_system_get_init(hostfs)) {
  case VXM_HOST_INIT_SYSTEMD: return g_strdup("sudo systemctl restart vxmd.service");
  case VXM_HOST_INIT_OPENRC: return g_strdup("sudo rc-service vxmd restart");
  case VXM_HOST_INIT_UNKNOWN:
  default:
    return g_strdup("sudo systemctl restart vxmd.service (systemd) or sudo rc-service vxmd "
                    "restart (OpenRC)");
  }
}

char *
vxm_host_system_service_command(VxmHostfs *hostfs, const char *service, const char *action)
{
  switch (vxm_host_system_get_init(hostfs)) {
  case VXM_HOST_INIT_SYSTEMD: return g_strdup_printf("sudo systemctl %s %s", action, service);
  case VXM_HOST_INIT_OPENRC: return g_strdup_printf("sudo rc-service %s %s", service, action);
  case VXM_HOST_INIT_UNKNOWN:
  default:
    return g_strdup_printf("sudo systemctl %s %s (systemd) or sudo rc-service %s %s (OpenRC)",
                           action, service, service, action);
  }
}

void
vxm_host_root_kind_clear(VxmHostRootKind *kind)
{
  g_clear_pointer(&kind->upper_fs, g_free);
  g_clear_pointer(&kind->lowerdir, g_free);
  kind->overlay = kind->volatile_ = FALSE;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static char *
unescape_octal(const char *s)
{
  GString *out = g_string_new(NULL);

  for (const char *p = s; *p != '\0'; p++) {
    if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
        p[3] <= '7') {
      g_string_append_c(out, (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0')));
      p += 3;
    } else {
      g_string_append_c(out, *p);
    }
  }
  return g_string_free(out, FALSE);
}

typedef VxmHostMount Mount;

static void
mount_free(Mount *m)
{
  g_free(m->mountpoint);
  g_free(m->fstype);
  g_free(m->superopts);
  g_free(m->devnum);
  g_free(m->source);
  g_free(m);
}

/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue" */
static GPtrArray *
read_mounts(VxmHostfs *hostfs)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  GPtrArray *mounts = g_ptr_array_new_with_free_func((GDestroyNotify)mount_free);

  if (!vxm_hostfs_read_file(hostfs, VXM_HOST_PROC_SELF_MOUNTINFO, &text, NULL, NULL))
    return mounts;
  lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    g_auto(GStrv) fields = g_strsplit(lines[i], " ", -1);
    guint n = g_strv_length(fields), sep;
    Mount *m;

    if (n < 7)
      continue;
    for (sep = 6; sep < n && strcmp(fields[sep], "-") != 0; sep++)
      ;
    if (sep + 3 > n)
      continue;
    m = g_new0(Mount, 1);
    m->mountpoint = unescape_octal(fields[4]);
    m->devnum = g_strdup(fields[2]);
    m->source = unescape_octal(fields[sep + 2]);
    m->fstype = g_strdup(fields[sep + 1]);
    m->superopts = sep + 3 < n ? g_strdup(fields[sep + 3]) : g_strdup("");
    g_ptr_array_add(mounts, m);
  }
  return mounts;
}

GPtrArray *
vxm_host_system_list_mounts(VxmHostfs *hostfs)
{
  return read_mounts(hostfs);
}

static gboolean
path_under(const char *path, const char *mountpoint)
{
  gsize len = strlen(mountpoint);

  if (strcmp(mountpoint, "/") == 0)
    return path[0] == '/';
  return strncmp(path, mountpoint, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

/* The mount that holds @path: the last one listed (mounted over the others) whose mount point
 * is the longest prefix of it. */
static Mount *
mount_for(GPtrArray *mounts, const char *path)
{
  Mount *best = NULL;

  for (guint i = 0; i < mounts->len; i++) {
    Mount *m = g_ptr_array_index(mounts, i);

    if (path_under(path, m->mountpoint) &&
        (best == NULL || strlen(m->mountpoint) >= strlen(best->mountpoint)))
      best = m;
  }
  return best;
}

static char *
superopt(const char *superopts, const char *key)
{
  g_auto(GStrv) opts = g_strsplit(superopts, ",", -1);
  gsize len = strlen(key);

  for (guint i = 0; opts[i] != NULL; i++)
    if (strncmp(opts[i], key, len) == 0 && opts[i][len] == '=')
      return unescape_octal(opts[i] + len + 1);
  return NULL;
}

static void
root_kind_from_mounts(GPtrArray *mounts, VxmHostRootKind *out)
{
  Mount *root = mount_for(mounts, "/");
  g_autofree char *upper = NULL;
  Mount *upper_mount;

  memset(out, 0, sizeof *out);
  if (root == NULL || strcmp(root->mountpoint, "/") != 0 || strcmp(root->fstype, "overlay") != 0)
    return;
  out->overlay = TRUE;
  out->lowerdir = superopt(root->superopts, "lowerdir");
  upper = superopt(root->superopts, "upperdir");
  /* the upper layer's mount as this namespace sees it; overlayroot's initramfs mounts the
   * tmpfs at /media/root-rw and moves it under the new root, so it is usually listed */
  upper_mount = upper != NULL ? mount_for(mounts, upper) : NULL;
  if (upper_mount != NULL && upper_mount != root)
    out->upper_fs = g_strdup(upper_mount->fstype);
  /* not found, or itself on the overlay: nothing shows that it lasts */
  out->volatile_ = out->upper_fs == NULL || strcmp(out->upper_fs, "tmpfs") == 0 ||
                   strcmp(out->upper_fs, "ramfs") == 0;
}

void
vxm_host_system_get_root_kind(VxmHostfs *hostfs, VxmHostRootKind *out)
{
  g_autoptr(GPtrArray) mounts = read_mounts(hostfs);

  root_kind_from_mounts(mounts, out);
}

gboolean
vxm_host_system_change_is_volatile(VxmHostfs *hostfs, const char *host_path)
{
  g_autoptr(GPtrArray) mounts = read_mounts(hostfs);
  g_auto(VxmHostRootKind) kind = {0};
  Mount *m;

  root_kind_from_mounts(mounts, &kind);
  if (!kind.volatile_)
    return FALSE;
  m = mount_for(mounts, host_path);
  /* a path on its own mount (a persistent /var/lib, /home) is not the overlay's */
  return m != NULL && strcmp(m->mountpoint, "/") == 0;
}

const char *
vxm_host_system_change_kind(VxmHostfs *hostfs, const char *host_path)
{
  return vxm_host_system_change_is_volatile(hostfs, host_path) ? "until reboot" : "lasting";
}

char *
vxm_host_system_lasting_steps(VxmHostfs *hostfs, const char *inside)
{
  g_auto(VxmHostRootKind) kind = {0};

  vxm_host_system_get_root_kind(hostfs, &kind);
  if (!kind.volatile_)
    return NULL;
  return g_strdup_printf(
      "sudo overlayroot-chroot (this root is an overlay on %s that the next boot discards; it "
      "opens the lasting layer, %s, read-write and logs to %s), %s there, then exit (read-only "
      "again)",
      kind.upper_fs != NULL ? kind.upper_fs : "a layer that does not outlive a reboot",
      kind.lowerdir != NULL ? kind.lowerdir : "the lower layer", VXM_HOST_OVERLAYROOT_AUDIT,
      inside);
}
