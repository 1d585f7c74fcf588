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

/* A temporary file beside @path with @contents and exactly @mode, then rename over @path; with
 * @durable, the file is on disk before the rename and the rename before the return. Not
 * g_file_set_contents_full(): since GLib 2.84 it keeps the mode of the file it replaces and
 * ignores the mode asked for, so a config written 0644 by hand would stay 0644. */
static gboolean
replace_atomic(const char *path, const char *contents, gssize length, int mode, gboolean durable,
               GError **error)
{
  g_autofree char *tmp = g_strdup_printf("%s.XXXXXX", path);
  gsize left = length < 0 ? strlen(contents) : (gsize)length;
  vxm_autofd int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, mode);
  int errsv;

  if (fd < 0)
    return vxm_error_set_from_errno(error, errno, "cannot create %s", tmp);
  while (left > 0) {
    ssize_t n = write(fd, contents, left);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      errsv = errno;
      unlink(tmp);
      return vxm_error_set_from_errno(error, errsv, "cannot write %s", tmp);
    }
    contents += n;
    left -= (gsize)n;
  }
  /* the umask narrowed the mode mkstemp was given: set it as asked */
  if (fchmod(fd, (mode_t)mode) < 0) {
    errsv = errno;
    unlink(tmp);
    return vxm_error_set_from_errno(error, errsv, "cannot set the mode of %s to %04o", tmp, mode);
  }
  if (durable && fsync(fd) < 0) {
    errsv = errno;
    unlink(tmp);
    return vxm_error_set_from_errno(error, errsv, "cannot write %s to the disk", tmp);
  }
  if (close(g_steal_fd(&fd)) < 0 || rename(tmp, path) < 0) {
    errsv = errno;
    unlink(tmp);
    return vxm_error_set_from_errno(error, errsv, "cannot replace %s", path);
  }
  if (durable) {
    /* the rename itself lasts once the folder is on disk */
    g_autofree char *dir = g_path_get_dirname(path);
    vxm_autofd int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (dirfd < 0 || (fsync(dirfd) < 0 && errno != EINVAL))
      return vxm_error_set_from_errno(error, errno, "cannot write the folder of %s to the disk",
                                      path);
  }
  return TRUE;
}

gboolean
vxm_file_replace_atomic(const char *path, const char *contents, gssize length, int mode,
                        GError **error)
{
  return replace_atomic(path, contents, length, mode, TRUE, error);
}

gboolean
vxm_file_replace_atomic_nosync(const char *path, const char *contents, gssize length, int mode,
                               GError **error)
{
  return replace_atomic(path, contents, length, mode, FALSE, error);
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

static guint
levenshtein(const char *a, const char *b)
{
  gsize la = strlen(a), lb = strlen(b);
  g_autofree guint *row = NULL;

  if (la > 64 || lb > 64)
    return G_MAXUINT;
  row = g_new(guint, lb + 1);
  for (gsize j = 0; j <= lb; j++)
    row[j] = (guint)j;
  for (gsize i = 1; i <= la; i++) {
    guint diag = row[0];
    row[0] = (guint)i;
    for (gsize j = 1; j <= lb; j++) {
      guint up = row[j];
      guint cost = g_ascii_tolower(a[i - 1]) == g_ascii_tolower(b[j - 1]) ? 0 : 1;
      row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + cost);
      diag = up;
    }
  }
  return row[lb];
}

const char *
vxm_closest_word(const char *word, const char *const *candidates, gsize n)
{
  const char *best = NULL;
  guint best_d = G_MAXUINT;

  for (gsize i = 0; i < n; i++) {
    guint d = levenshtein(word, candidates[i]);
    if (d < best_d) {
      best_d = d;
      best = candidates[i];
    }
  }
  if (best == NULL || best_d > MAX(2u, (guint)strlen(word) / 3))
    return NULL;
  return best;
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

static gpointer
close_in_thread(gpointer data)
{
  close(GPOINTER_TO_INT(data));
  return NULL;
}

void
vxm_close_in_background(int fd)
{
  if (fd >= 0)
    g_thread_unref(g_thread_new("vxm-close", close_in_thread, GINT_TO_POINTER(fd)));
}
