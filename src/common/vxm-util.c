#include "vxm-util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "vxm-error.h"

gboolean
vxm_parse_int64(const char *text, guint base, gint64 *out)
{
  gint64 value;
  char *end = NULL;

  if (text == NULL || *text == '\0' || g_ascii_isspace(*text))
    return FALSE;
  errno = 0;
  value = g_ascii_strtoll(text, &end, base);
  if (errno != 0 || end == text || *end != '\0')
    return FALSE;
  *out = value;
  return TRUE;
}

gboolean
vxm_parse_uint64(const char *text, guint base, guint64 *out)
{
  guint64 value;
  char *end = NULL;

  if (text == NULL || *text == '\0' || !g_ascii_isalnum(*text))
    return FALSE;
  errno = 0;
  value = g_ascii_strtoull(text, &end, base);
  if (errno != 0 || end == text || *end != '\0')
    return FALSE;
  *out = value;
  return TRUE;
}

gboolean
vxm_file_replace_atomic(const char *path, const char *contents, gssize length, int mode,
                        GError **error)
{
  g_autoptr(GError) local = NULL;

  if (!g_file_set_contents_full(path, contents, length,
                                G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, mode,
                                &local)) {
    int errsv = EIO;

    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOSPC))
      errsv = ENOSPC;
    else if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_ACCES) ||
             g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_PERM))
      errsv = EACCES;
    else if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      errsv = ENOENT;
    else if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_ROFS))
      errsv = EROFS;
    g_set_error(error, VXM_ERROR, vxm_error_code_for_errno(errsv), "%s", local->message);
    return FALSE;
  }
  return TRUE;
}

gboolean
vxm_file_replace_atomic_nosync(const char *path, const char *contents, gssize length, int mode,
                               GError **error)
{
  g_autofree char *tmp = g_strdup_printf("%s.XXXXXX", path);
  gsize left = length < 0 ? strlen(contents) : (gsize)length;
  vxm_autofd int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, mode);

  if (fd < 0)
    return vxm_error_set_from_errno(error, errno, "cannot create %s", tmp);
  while (left > 0) {
    ssize_t n = write(fd, contents, left);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int errsv = errno;

      unlink(tmp);
      return vxm_error_set_from_errno(error, errsv, "cannot write %s", tmp);
    }
    contents += n;
    left -= (gsize)n;
  }
  if (close(g_steal_fd(&fd)) < 0 || rename(tmp, path) < 0) {
    int errsv = errno;

    unlink(tmp);
    return vxm_error_set_from_errno(error, errsv, "cannot replace %s", path);
  }
  return TRUE;
}

void
vxm_debug_timing(const char *format, ...)
{
  static int enabled = -1;
  g_autofree char *what = NULL;
  struct timespec ts;
  va_list ap;

  if (enabled < 0)
    enabled = g_getenv("VXM_DEBUG_TIMING") != NULL;
  if (!enabled)
    return;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  va_start(ap, format);
  what = g_strdup_vprintf(format, ap);
  va_end(ap);
  fprintf(stderr, "vxm-timing: %d %.3f %s\n", (int)getpid(),
          (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6, what);
}

char *
vxm_format_bytes(guint64 bytes)
{
  static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double value = (double)bytes;
  guint unit = 0;

  while (value >= 1024.0 && unit + 1 < G_N_ELEMENTS(units)) {
    value /= 1024.0;
    unit++;
  }
  if (unit == 0)
    return g_strdup_printf("%" G_GUINT64_FORMAT " bytes", bytes);
  if (value == (double)(guint64)value)
    return g_strdup_printf("%" G_GUINT64_FORMAT " %s", (guint64)value, units[unit]);
  return g_strdup_printf("%.1f %s", value, units[unit]);
}

gboolean
vxm_parse_size(const char *text, guint64 *out_bytes)
{
  g_autofree char *copy = NULL;
  guint64 value, mult = 1;
  char *end = NULL;
  gsize len;

  if (text == NULL || !g_ascii_isdigit(*text))
    return FALSE;
  copy = g_strstrip(g_strdup(text));
  len = strlen(copy);
  /* accept "GiB", "GB", "G" as binary units: memory sizes are always binary here */
  if (len >= 3 && g_ascii_strcasecmp(copy + len - 2, "iB") == 0)
    copy[len -= 2] = '\0';
  else if (len >= 2 && g_ascii_toupper(copy[len - 1]) == 'B' && g_ascii_isalpha(copy[len - 2]))
    copy[--len] = '\0';
  if (len > 0 && g_ascii_isalpha(copy[len - 1])) {
    switch (g_ascii_toupper(copy[len - 1])) {
    case 'K': mult = G_GUINT64_CONSTANT(1) << 10; break;
    case 'M': mult = G_GUINT64_CONSTANT(1) << 20; break;
    case 'G': mult = G_GUINT64_CONSTANT(1) << 30; break;
    case 'T': mult = G_GUINT64_CONSTANT(1) << 40; break;
    default: return FALSE;
    }
    copy[--len] = '\0';
  }
  errno = 0;
  value = g_ascii_strtoull(copy, &end, 10);
  if (errno != 0 || end == copy || *end != '\0')
    return FALSE;
  if (value > G_MAXUINT64 / mult)
    return FALSE;
  *out_bytes = value * mult;
  return TRUE;
}

gboolean
vxm_pidfd_is_alive(int pidfd)
{
  struct pollfd p = {.fd = pidfd, .events = POLLIN};
  int ready;

  do
    ready = poll(&p, 1, 0);
  while (ready < 0 && errno == EINTR);
  if (ready < 0)
    return FALSE;
  if (ready > 0) {
    errno = (p.revents & POLLNVAL) != 0 ? EBADF : ESRCH;
    return FALSE;
  }
  return TRUE;
}
