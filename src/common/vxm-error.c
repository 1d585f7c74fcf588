#include "vxm-error.h"

#include <errno.h>
#include <string.h>

G_DEFINE_QUARK(vxm - error - quark, vxm_error)

VxmError
vxm_error_code_for_errno(int errsv)
{
  switch (errsv) {
  case EINVAL:
  case ERANGE:
  case ENAMETOOLONG: return VXM_ERROR_INVALID_ARGUMENT;
  case ENOENT:
  case ENODEV:
  case ENXIO:
  case ESRCH: return VXM_ERROR_NOT_FOUND;
  case EEXIST:
  case ENOTEMPTY: return VXM_ERROR_EXISTS;
  case EBUSY:
  case EAGAIN: return VXM_ERROR_BUSY;
  case EACCES:
  case EPERM:
  case EROFS: return VXM_ERROR_PERMISSION;
  case ETIMEDOUT: return VXM_ERROR_TIMEOUT;
  case ENOSYS:
  case EOPNOTSUPP: return VXM_ERROR_UNSUPPORTED;
  case ENOSPC:
  case EDQUOT: return VXM_ERROR_NO_SPACE;
  case EIO: return VXM_ERROR_IO;
  default: return VXM_ERROR_FAILED;
  }
}

gboolean
vxm_error_set_from_errno(GError **error, int errsv, const char *format, ...)
{
  g_autofree char *prefix = NULL;
  va_list ap;

  va_start(ap, format);
  prefix = g_strdup_vprintf(format, ap);
  va_end(ap);
  g_set_error(error, VXM_ERROR, vxm_error_code_for_errno(errsv), "%s: %s", prefix,
              g_strerror(errsv));
  return FALSE;
}
