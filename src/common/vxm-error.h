/* vxm-error: the project's error domain and the single errno mapping. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VXM_ERROR (vxm_error_quark())

typedef enum {
  VXM_ERROR_FAILED,           /* anything without a better code */
  VXM_ERROR_INVALID_ARGUMENT, /* the user gave something malformed */
  VXM_ERROR_NOT_FOUND,        /* a device, file or VM that does not exist */
  VXM_ERROR_EXISTS,           /* would overwrite something */
  VXM_ERROR_BUSY,             /* held by someone else (EBUSY, a holder process, a lock) */
  VXM_ERROR_PERMISSION,       /* EACCES, EPERM, or policy said no */
  VXM_ERROR_REFUSED,          /* vxm's own safety rules said no */
  VXM_ERROR_TIMEOUT,          /* a step did not finish within its time limit */
  VXM_ERROR_UNSUPPORTED,      /* the host or QEMU cannot do it */
  VXM_ERROR_IO,               /* read/write failed */
  VXM_ERROR_NO_SPACE,         /* ENOSPC, EDQUOT */
  VXM_ERROR_CONFIG,           /* a config file is wrong */
  VXM_ERROR_PROTOCOL,         /* a peer (QMP, vxmd, a monitor) said something malformed */
  VXM_ERROR_STUCK,            /* a device is left in an unknown state; recovery needed */
} VxmError;

GQuark vxm_error_quark(void);

/* The one place errno becomes a VxmError code. */
VxmError vxm_error_code_for_errno(int errsv);

/* Sets @error from @errsv with a message "PREFIX: strerror". Always returns FALSE. */
gboolean vxm_error_set_from_errno(GError **error, int errsv, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

G_END_DECLS
