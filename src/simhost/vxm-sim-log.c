/* vxm-sim-log: the simulator's operation log (see the header). */
#include "vxm-sim-log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct _VxmSimLog {
  GMutex lock;
  GString *text;
  guint64 seq;
  gboolean echo;
};

static const struct {
  int num;
  const char *name;
} errno_names[] = {
    {EPERM, "EPERM"},
    {ENOENT, "ENOENT"},
    {ESRCH, "ESRCH"},
    {EINTR, "EINTR"},
    {EIO, "EIO"},
    {ENXIO, "ENXIO"},
    {E2BIG, "E2BIG"},
    {EBADF, "EBADF"},
    {EAGAIN, "EAGAIN"},
    {ENOMEM, "ENOMEM"},
    {EACCES, "EACCES"},
    {EFAULT, "EFAULT"},
    {EBUSY, "EBUSY"},
    {EEXIST, "EEXIST"},
    {ENODEV, "ENODEV"},
    {ENOTDIR, "ENOTDIR"},
    {EISDIR, "EISDIR"},
    {EINVAL, "EINVAL"},
    {ENFILE, "ENFILE"},
    {EMFILE, "EMFILE"},
    {ENOTTY, "ENOTTY"},
    {EFBIG, "EFBIG"},
    {ENOSPC, "ENOSPC"},
    {EROFS, "EROFS"},
    {ERANGE, "ERANGE"},
    {EDEADLK, "EDEADLK"},
    {ENOSYS, "ENOSYS"},
    {ENOTEMPTY, "ENOTEMPTY"},
    {ENODATA, "ENODATA"},
    {ETIME, "ETIME"},
    {EPROTO, "EPROTO"},
    {EBADMSG, "EBADMSG"},
    {EOVERFLOW, "EOVERFLOW"},
    {EOPNOTSUPP, "EOPNOTSUPP"},
    {ETIMEDOUT, "ETIMEDOUT"},
    {EALREADY, "EALREADY"},
    {EINPROGRESS, "EINPROGRESS"},
    {EDQUOT, "EDQUOT"},
    {ECANCELED, "ECANCELED"},
    {EREMOTEIO, "EREMOTEIO"},
    {ENOMEDIUM, "ENOMEDIUM"},
    {EHWPOISON, "EHWPOISON"},
    {ENOLCK, "ENOLCK"},
    {ENOEXEC, "ENOEXEC"},
    {ECHILD, "ECHILD"},
};

const char *
vxm_sim_errno_name(int errnum)
{
  static _Thread_local char unnamed[16];

  if (errnum < 0)
    errnum = -errnum;
  if (errnum == 0)
    return "ok";
  for (gsize i = 0; i < G_N_ELEMENTS(errno_names); i++)
    if (errno_names[i].num == errnum)
      return errno_names[i].name;
  g_snprintf(unnamed, sizeof unnamed, "E%d", errnum);
  return unnamed;
}

int
vxm_sim_errno_from_name(const char *name)
{
  guint64 num;

  for (gsize i = 0; i < G_N_ELEMENTS(errno_names); i++)
    if (g_ascii_strcasecmp(errno_names[i].name, name) == 0)
      return errno_names[i].num;
  if (g_strcmp0(name, "ENOTSUP") == 0)
    return ENOTSUP;
  if (g_strcmp0(name, "EWOULDBLOCK") == 0)
    return EWOULDBLOCK;
  if (g_ascii_string_to_unsigned(name, 10, 1, 4095, &num, NULL))
    return (int)num;
  return 0;
}

VxmSimLog *
vxm_sim_log_new(gboolean echo_to_stderr)
{
  VxmSimLog *log = g_new0(VxmSimLog, 1);

  g_mutex_init(&log->lock);
  log->text = g_string_new(NULL);
  log->echo = echo_to_stderr;
  return log;
}

void
vxm_sim_log_free(VxmSimLog *log)
{
  if (log == NULL)
    return;
  g_mutex_clear(&log->lock);
  g_string_free(log->text, TRUE);
  g_free(log);
}

char *
vxm_sim_log_escape(const char *value, gssize len)
{
  GString *out = g_string_new(NULL);

  if (len < 0)
    len = strlen(value);
  if (len > 0 && value[len - 1] == '\n')
    len--;
  if (len == 0)
    return g_string_free(g_string_assign(out, "\"\""), FALSE);
  for (gssize i = 0; i < len; i++) {
    guchar c = value[i];

    if (c == '\n')
      g_string_append(out, "\\n");
    else if (c == '\t')
      g_string_append(out, "\\t");
    else if (c == '\\')
      g_string_append(out, "\\\\");
    else if (c < 0x20 || c >= 0x7f)
      g_string_append_printf(out, "\\x%02x", c);
    else
      g_string_append_c(out, c);
  }
  return g_string_free(out, FALSE);
}

void
vxm_sim_log_add_word(VxmSimLog *log, const char *op, const char *path, const char *value,
                     gssize value_len, const char *result)
{
  g_autofree char *escaped = value ? vxm_sim_log_escape(value, value_len) : NULL;
  g_autofree char *line = NULL;

  g_mutex_lock(&log->lock);
  line = g_strdup_printf("%" G_GUINT64_FORMAT " %s %s%s%s -> %s\n", ++log->seq, op, path,
                         escaped ? " " : "", escaped ? escaped : "", result);
  g_string_append(log->text, line);
  g_mutex_unlock(&log->lock);
  if (log->echo)
    fputs(line, stderr);
}

void
vxm_sim_log_add(VxmSimLog *log, const char *op, const char *path, const char *value,
                gssize value_len, int result)
{
  vxm_sim_log_add_word(log, op, path, value, value_len, vxm_sim_errno_name(result));
}

char *
vxm_sim_log_text(VxmSimLog *log)
{
  char *text;

  g_mutex_lock(&log->lock);
  text = g_strdup(log->text->str);
  g_mutex_unlock(&log->lock);
  return text;
}

void
vxm_sim_log_clear(VxmSimLog *log)
{
  g_mutex_lock(&log->lock);
  g_string_truncate(log->text, 0);
  log->seq = 0;
  g_mutex_unlock(&log->lock);
}
