#include "vxm-vm-lock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "vm/vxm-vm-config.h"

gboolean
vxm_vm_is_running(const VxmVmPaths *paths)
{
  vxm_autofd int fd = open(paths->lock_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);

  if (fd < 0)
    return FALSE;
  if (flock(fd, LOCK_SH | LOCK_NB) != 0)
    return errno == EWOULDBLOCK;
  flock(fd, LOCK_UN);
  return FALSE;
}

int
vxm_vm_lock_acquire(const VxmVmPaths *paths, GError **error)
{
  vxm_autofd int fd = -1;

  if (!vxm_vm_paths_ensure_runtime_dir(paths, error))
    return -1;
  fd = open(paths->lock_file, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    vxm_error_set_from_errno(error, errno, "cannot open the lock of VM %s (%s)", paths->name,
                             paths->lock_file);
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                  "VM %s is running (its supervisor holds %s): stop it first with vxm stop %s",
                  paths->name, paths->lock_file, paths->name);
      return -1;
    }
    vxm_error_set_from_errno(error, errno, "cannot lock %s", paths->lock_file);
    return -1;
  }
  return g_steal_fd(&fd);
}

int
vxm_gpu_lock_acquire(const VxmVmPaths *paths, const char *gpu_address, GError **error)
{
  g_autofree char *base = g_strdup_printf(".gpu-%s.lock", gpu_address);
  g_autofree char *path = g_build_filename(paths->runtime_base, base, NULL);
  vxm_autofd int fd = -1;

  if (strchr(gpu_address, '/') != NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT, "'%s' is not a PCI address",
                gpu_address);
    return -1;
  }
  if (!vxm_vm_paths_ensure_runtime_dir(paths, error))
    return -1;
  fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    vxm_error_set_from_errno(error, errno, "cannot open the lock of GPU %s (%s)", gpu_address,
                             path);
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char holder[256] = "";
    ssize_t n;

    if (errno != EWOULDBLOCK) {
      vxm_error_set_from_errno(error, errno, "cannot lock %s", path);
      return -1;
    }
    n = pread(fd, holder, sizeof holder - 1, 0);
    holder[n > 0 ? n : 0] = '\0';
    g_strchomp(holder);
    if (holder[0] == '\0')
      g_strlcpy(holder, "NAME", sizeof holder);
    g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                "GPU %s is taken by VM %s, which is starting or running (it holds %s): stop it "
                "first (vxm stop %s), or give VM %s another GPU",
                gpu_address, holder, path, holder, paths->name);
    return -1;
  }
  /* who holds it, for the refusal above; the lock itself is what counts */
  if (ftruncate(fd, 0) == 0) {
    g_autofree char *line = g_strdup_printf("%s\n", paths->name);

    if (pwrite(fd, line, strlen(line), 0) < 0) {
      /* the name is only for messages */
    }
  }
  return g_steal_fd(&fd);
}

char *
vxm_vm_running_with_gpu(const char *self, const char *gpu_address)
{
  g_autofree char *dir_path = vxm_vm_paths_config_dir();
  g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
  const char *entry;

  while (dir != NULL && (entry = g_dir_read_name(dir)) != NULL) {
    g_autofree char *name = NULL;
    g_autofree char *path = NULL;
    g_autoptr(VxmVmConfig) other = NULL;
    g_autoptr(VxmVmPaths) other_paths = NULL;

    if (!g_str_has_suffix(entry, ".conf"))
      continue;
    name = g_strndup(entry, strlen(entry) - strlen(".conf"));
    if (g_strcmp0(name, self) == 0 || !vxm_vm_name_validate(name, -1, NULL))
      continue;
    path = g_build_filename(dir_path, entry, NULL);
    other = vxm_vm_config_load_file(name, path, NULL);
    if (other == NULL || g_strcmp0(other->gpu, gpu_address) != 0)
      continue;
    other_paths = vxm_vm_paths_new(name, NULL);
    if (other_paths != NULL && vxm_vm_is_running(other_paths))
      return g_steal_pointer(&name);
  }
  return NULL;
}
