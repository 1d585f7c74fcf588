#include "vxm-vm-lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"

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
