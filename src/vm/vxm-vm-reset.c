#include "vxm-vm-reset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-lock.h"

#define MAX_DEPTH 64

/* rm -r: @name in @parent_fd; never opens a symlink, only unlinks it */
static gboolean
remove_at(int parent_fd, const char *name, const char *shown, guint depth, GError **error)
{
  struct stat st;

  if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT)
      return TRUE;
    return vxm_error_set_from_errno(error, errno, "cannot inspect %s", shown);
  }
  if (S_ISDIR(st.st_mode)) {
    vxm_autofd int fd = -1;
    DIR *dir;
    struct dirent *entry;

    if (depth >= MAX_DEPTH) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED, "%s is nested too deep to remove", shown);
      return FALSE;
    }
    fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
      return vxm_error_set_from_errno(error, errno, "cannot open %s", shown);
    dir = fdopendir(dup(fd));
    if (dir == NULL)
      return vxm_error_set_from_errno(error, errno, "cannot list %s", shown);
    while ((entry = readdir(dir)) != NULL) {
      g_autofree char *child = NULL;

      if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
        continue;
      child = g_build_filename(shown, entry->d_name, NULL);
      if (!remove_at(fd, entry->d_name, child, depth + 1, error)) {
        closedir(dir);
        return FALSE;
      }
    }
    closedir(dir);
    if (unlinkat(parent_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
      return vxm_error_set_from_errno(error, errno, "cannot remove %s", shown);
    return TRUE;
  }
  if (unlinkat(parent_fd, name, 0) != 0 && errno != ENOENT)
    return vxm_error_set_from_errno(error, errno, "cannot remove %s", shown);
  return TRUE;
}

gboolean
vxm_vm_remove_tree(const char *path, GError **error)
{
  g_autofree char *parent = g_path_get_dirname(path);
  g_autofree char *base = g_path_get_basename(path);
  vxm_autofd int parent_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (parent_fd < 0) {
    if (errno == ENOENT)
      return TRUE;
    return vxm_error_set_from_errno(error, errno, "cannot open %s", parent);
  }
  return remove_at(parent_fd, base, path, 0, error);
}

static gboolean
lexists(const char *path)
{
  struct stat st;
  return lstat(path, &st) == 0;
}

static void report_add(GPtrArray *report, const char *format, ...) G_GNUC_PRINTF(2, 3);

static void
report_add(GPtrArray *report, const char *format, ...)
{
  va_list ap;

  if (report == NULL)
    return;
  va_start(ap, format);
  g_ptr_array_add(report, g_strdup_vprintf(format, ap));
  va_end(ap);
}

static gboolean
is_inside(const char *path, const char *dir)
{
  gsize len = strlen(dir);
  return strncmp(path, dir, len) == 0 && path[len] == '/';
}

gboolean
vxm_vm_reset(const VxmVmPaths *paths, GPtrArray *report, GError **error)
{
  g_autoptr(VxmVmConfig) config = NULL;
  g_autoptr(GError) config_error = NULL;
  vxm_autofd int lock = -1;
  const char *const dirs[] = {paths->data_dir, paths->state_dir};

  if (!lexists(paths->config_file) && !lexists(paths->data_dir)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND, "no VM %s: nothing to remove", paths->name);
    return FALSE;
  }
  lock = vxm_vm_lock_acquire(paths, error);
  if (lock < 0) {
    g_prefix_error(error, "not removing VM %s: ", paths->name);
    return FALSE;
  }

  /* a broken config must not block its own removal: only the custom disk needs it */
  config = vxm_vm_config_load(paths, &config_error);
  if (config != NULL && config->disk_path != NULL && !is_inside(config->disk_path, paths->data_dir))
    report_add(report,
               "kept %s: the disk is outside vxm's folders; remove it yourself if you "
               "no longer need it",
               config->disk_path);

  for (gsize i = 0; i < G_N_ELEMENTS(dirs); i++) {
    if (!lexists(dirs[i]))
      continue;
    if (!vxm_vm_remove_tree(dirs[i], error)) {
      g_prefix_error(error, "removing VM %s stopped halfway: ", paths->name);
      return FALSE;
    }
    report_add(report, "removed %s", dirs[i]);
  }
  if (lexists(paths->config_file)) {
    if (unlink(paths->config_file) != 0)
      return vxm_error_set_from_errno(error, errno, "cannot remove %s", paths->config_file);
    report_add(report, "removed %s", paths->config_file);
  }
  /* last, the runtime folder with the lock we hold */
  if (!vxm_vm_remove_tree(paths->runtime_dir, error))
    return FALSE;
  return TRUE;
}
