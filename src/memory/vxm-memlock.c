/* vxm-memlock: raises RLIMIT_MEMLOCK of the QEMU process. */
#include "vxm-memlock.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"

guint64
vxm_memlock_required(guint64 memory_bytes, guint64 looking_glass_bytes)
{
  return memory_bytes + VXM_MEMLOCK_HEADROOM + looking_glass_bytes;
}

static rlim_t
to_rlim(guint64 bytes)
{
  return bytes == G_MAXUINT64 ? RLIM_INFINITY : (rlim_t)bytes;
}

static guint64
from_rlim(rlim_t value)
{
  return value == RLIM_INFINITY ? G_MAXUINT64 : (guint64)value;
}

gboolean
vxm_memlock_get_pid(pid_t pid, guint64 *soft, guint64 *hard, GError **error)
{
  struct rlimit old;

  if (prlimit(pid, RLIMIT_MEMLOCK, NULL, &old) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot read RLIMIT_MEMLOCK of process %d",
                                    (int)pid);
  *soft = from_rlim(old.rlim_cur);
  *hard = from_rlim(old.rlim_max);
  return TRUE;
}

gboolean
vxm_memlock_raise_pid(pid_t pid, guint64 bytes, GError **error)
{
  vxm_autofd int pidfd = -1;
  struct rlimit old, want;
  g_autofree char *size = vxm_format_bytes(bytes);

  pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0)
    return vxm_error_set_from_errno(error, errno,
                                    "cannot raise RLIMIT_MEMLOCK of process %d to %s: no such "
                                    "process to hold",
                                    (int)pid, size);
  if (prlimit(pid, RLIMIT_MEMLOCK, NULL, &old) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot read RLIMIT_MEMLOCK of process %d",
                                    (int)pid);
  want.rlim_cur = old.rlim_cur == RLIM_INFINITY ? RLIM_INFINITY : MAX(old.rlim_cur, to_rlim(bytes));
  want.rlim_max = old.rlim_max == RLIM_INFINITY ? RLIM_INFINITY : MAX(old.rlim_max, to_rlim(bytes));
  if (want.rlim_cur != old.rlim_cur || want.rlim_max != old.rlim_max) {
    if (prlimit(pid, RLIMIT_MEMLOCK, &want, NULL) != 0) {
      int errsv = errno;
      if (errsv == EPERM)
        g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                    "cannot raise RLIMIT_MEMLOCK of process %d to %s: that needs "
                    "CAP_SYS_RESOURCE (run vxm as root, or through vxmd)",
                    (int)pid, size);
      else
        vxm_error_set_from_errno(error, errsv, "cannot raise RLIMIT_MEMLOCK of process %d to %s",
                                 (int)pid, size);
      return FALSE;
    }
  }
  /* Still alive: the pid was its own when prlimit ran (see the header). */
  if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) != 0) {
    int errsv = errno;
    if (errsv == ESRCH) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                  "process %d exited while its RLIMIT_MEMLOCK was raised: the limit may have "
                  "reached a process that reused its pid; nothing else was changed",
                  (int)pid);
      return FALSE;
    }
    return vxm_error_set_from_errno(error, errsv, "cannot check that process %d is still there",
                                    (int)pid);
  }
  return TRUE;
}

void
vxm_memlock_child_setup(gpointer user_data)
{
  guint64 bytes = *(const guint64 *)user_data;
  struct rlimit old, want;

  if (getrlimit(RLIMIT_MEMLOCK, &old) != 0)
    return;
  want.rlim_cur = old.rlim_cur == RLIM_INFINITY ? RLIM_INFINITY : MAX(old.rlim_cur, to_rlim(bytes));
  want.rlim_max = old.rlim_max == RLIM_INFINITY ? RLIM_INFINITY : MAX(old.rlim_max, to_rlim(bytes));
  (void)setrlimit(RLIMIT_MEMLOCK, &want);
}
