/* vxm-memlock: raises RLIMIT_MEMLOCK of the QEMU process. */
#include "vxm-memlock.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-hostfs.h"
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

  if (prlimit(pid, RLIMIT_MEMLOCK, NULL, &old) != 0) {
    if (errno == EPERM) {
      /* even reading another uid's limit takes the capability */
      g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                  "cannot read RLIMIT_MEMLOCK of process %d: that needs CAP_SYS_RESOURCE, which "
                  "this process lacks (vxmd.service grants it to vxmd)",
                  (int)pid);
      return FALSE;
    }
    return vxm_error_set_from_errno(error, errno, "cannot read RLIMIT_MEMLOCK of process %d",
                                    (int)pid);
  }
  *soft = from_rlim(old.rlim_cur);
  *hard = from_rlim(old.rlim_max);
  return TRUE;
}

/* prlimit on @pid, then the pidfd says whether the process was still the pid's owner. */
static gboolean
raise_checked(pid_t pid, int pidfd, guint64 bytes, GError **error)
{
  struct rlimit old, want;
  g_autofree char *size = vxm_format_bytes(bytes);
  guint64 soft, hard;

  if (!vxm_memlock_get_pid(pid, &soft, &hard, error))
    return FALSE;
  old.rlim_cur = to_rlim(soft);
  old.rlim_max = to_rlim(hard);
  want.rlim_cur = old.rlim_cur == RLIM_INFINITY ? RLIM_INFINITY : MAX(old.rlim_cur, to_rlim(bytes));
  want.rlim_max = old.rlim_max == RLIM_INFINITY ? RLIM_INFINITY : MAX(old.rlim_max, to_rlim(bytes));
  if ((want.rlim_cur != old.rlim_cur || want.rlim_max != old.rlim_max) &&
      prlimit(pid, RLIMIT_MEMLOCK, &want, NULL) != 0) {
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
  /* Still alive: the pid was its own when prlimit ran (see the header). */
  if (!vxm_pidfd_is_alive(pidfd)) {
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

gboolean
vxm_memlock_raise_pid(pid_t pid, guint64 bytes, GError **error)
{
  vxm_autofd int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

  if (pidfd < 0) {
    g_autofree char *size = vxm_format_bytes(bytes);
    return vxm_error_set_from_errno(error, errno,
                                    "cannot raise RLIMIT_MEMLOCK of process %d to %s: no such "
                                    "process to hold",
                                    (int)pid, size);
  }
  return raise_checked(pid, pidfd, bytes, error);
}

gboolean
vxm_memlock_raise_pidfd(int pidfd, guint64 bytes, GError **error)
{
  /* this process's own fd table: the real /proc even under a simulated host root */
  g_autofree char *path = g_strdup_printf(VXM_HOST_PROC "/self/fdinfo/%d", pidfd);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  gint64 pid = 0;

  if (!g_file_get_contents(path, &text, NULL, error)) {
    g_prefix_error(error, "cannot tell which process pidfd %d holds: ", pidfd);
    return FALSE;
  }
  lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix(lines[i], "Pid:") && !vxm_parse_int64(g_strstrip(lines[i] + 4), 10, &pid))
      pid = 0;
  if (pid <= 0 || pid > G_MAXINT) {
    g_set_error(error, VXM_ERROR, pid == -1 ? VXM_ERROR_NOT_FOUND : VXM_ERROR_INVALID_ARGUMENT,
                pid == -1 ? "the process behind pidfd %d has exited: no RLIMIT_MEMLOCK to raise"
                          : "fd %d is not a pidfd",
                pidfd);
    return FALSE;
  }
  return raise_checked((pid_t)pid, pidfd, bytes, error);
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
