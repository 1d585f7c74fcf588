#include "vxm-swtpm-argv.h"

#include <string.h>

#include "common/vxm-error.h"

static gboolean
check_no_comma(const char *what, const char *path, GError **error)
{
  if (strchr(path, ',') == NULL)
    return TRUE;
  g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
              "swtpm cannot take a %s path with a comma (%s): its options have no escape; "
              "move the VM's folders (XDG_DATA_HOME, XDG_RUNTIME_DIR, XDG_STATE_HOME) to a "
              "path without one, or set [security] tpm = off",
              what, path);
  return FALSE;
}

GStrv
vxm_swtpm_argv_build(const VxmVmPaths *paths, const char *swtpm_binary, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  g_autofree char *state = NULL;
  g_autofree char *ctrl = NULL;
  g_autofree char *log = NULL;

  if (!check_no_comma("TPM state", paths->tpm_dir, error) ||
      !check_no_comma("TPM socket", paths->swtpm_socket, error) ||
      !check_no_comma("TPM log", paths->swtpm_log, error))
    return NULL;
  state = g_strdup_printf("dir=%s,mode=0600", paths->tpm_dir);
  ctrl = g_strdup_printf("type=unixio,path=%s,mode=0600", paths->swtpm_socket);
  log = g_strdup_printf("file=%s", paths->swtpm_log);
  g_strv_builder_add_many(b, swtpm_binary != NULL ? swtpm_binary : "swtpm", "socket", "--tpm2",
                          "--tpmstate", state, "--ctrl", ctrl, "--terminate", "--log", log, NULL);
  return g_strv_builder_end(b);
}
