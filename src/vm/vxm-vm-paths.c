#include "vxm-vm-paths.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-run-as.h"
#include "common/vxm-util.h"

gboolean
vxm_vm_name_validate(const char *name, gssize name_len, GError **error)
{
  gsize len;

  if (name == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT, "a VM name is needed");
    return FALSE;
  }
  len = name_len < 0 ? strlen(name) : (gsize)name_len;
  if (len == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "a VM name cannot be empty: use letters, digits, '-' and '_'");
    return FALSE;
  }
  for (gsize i = 0; i < len; i++) {
    char c = name[i];

    if (g_ascii_isalnum(c) || c == '-' || c == '_')
      continue;
    if (c == '\0') {
      g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                  "VM name contains a NUL byte: use letters, digits, '-' and '_'");
    } else if (c == '/' || c == '.') {
      g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                  "VM name '%.*s' contains '%c': a name is not a path; use letters, digits, "
                  "'-' and '_'",
                  (int)MIN(len, 80), name, c);
    } else {
      g_autofree char *shown = g_strescape(name, NULL);
      g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                  "VM name '%.80s' contains a character other than letters, digits, '-' and "
                  "'_'",
                  shown);
    }
    return FALSE;
  }
  if (len > VXM_VM_NAME_MAX) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "VM name '%.*s...' is %zu characters long: at most %d are allowed", 20, name, len,
                VXM_VM_NAME_MAX);
    return FALSE;
  }
  return TRUE;
}

/* An XDG base folder: the variable when it is an absolute path (the spec says to ignore
 * relative ones), else $HOME/@fallback. Read at each call: GLib's getters cache the first. */
static char *
xdg_dir(const char *variable, const char *fallback)
{
  const char *value = g_getenv(variable);
  const char *home = g_getenv("HOME");

  if (value != NULL && g_path_is_absolute(value))
    return g_strdup(value);
  if (home == NULL || !g_path_is_absolute(home))
    home = g_get_home_dir();
  return g_build_filename(home, fallback, NULL);
}

char *
vxm_vm_paths_config_dir(void)
{
  g_autofree char *config_home = xdg_dir("XDG_CONFIG_HOME", ".config");
  return g_build_filename(config_home, "vxm", "vms", NULL);
}

VxmVmPaths *
vxm_vm_paths_new(const char *name, GError **error)
{
  g_autoptr(VxmVmPaths) p = g_new0(VxmVmPaths, 1);
  g_autofree char *data_home = xdg_dir("XDG_DATA_HOME", ".local/share");
  g_autofree char *state_home = xdg_dir("XDG_STATE_HOME", ".local/state");
  g_autofree char *conf_name = NULL;
  const char *runtime = g_getenv("XDG_RUNTIME_DIR");

  if (name == NULL)
    name = VXM_VM_DEFAULT_NAME;
  if (!vxm_vm_name_validate(name, -1, error))
    return NULL;
  p->name = g_strdup(name);
  conf_name = g_strconcat(name, ".conf", NULL);
  p->config_dir = vxm_vm_paths_config_dir();
  p->config_file = g_build_filename(p->config_dir, conf_name, NULL);

  p->data_dir = g_build_filename(data_home, "vxm", name, NULL);
  p->disk_qcow2 = g_build_filename(p->data_dir, "disk.qcow2", NULL);
  p->disk_raw = g_build_filename(p->data_dir, "disk.img", NULL);
  p->efi_vars = g_build_filename(p->data_dir, "efivars.fd", NULL);
  p->tpm_dir = g_build_filename(p->data_dir, "tpm", NULL);
  p->downloads_dir = g_strdup(p->data_dir);

  if (runtime != NULL && g_path_is_absolute(runtime)) {
    p->runtime_base = g_build_filename(runtime, "vxm", NULL);
  } else {
    uid_t uid;
    gid_t gid;

    vxm_run_as_owner(&uid, &gid);
    p->runtime_base = g_strdup_printf("%s/vxm-%u", g_get_tmp_dir(), (guint)uid);
    p->runtime_is_fallback = TRUE;
  }
  p->runtime_dir = g_build_filename(p->runtime_base, name, NULL);
  p->lock_file = g_build_filename(p->runtime_dir, "lock", NULL);
  p->qmp_socket = g_build_filename(p->runtime_dir, "qmp.sock", NULL);
  p->swtpm_socket = g_build_filename(p->runtime_dir, "swtpm.sock", NULL);
  p->qemu_pidfile = g_build_filename(p->runtime_dir, "qemu.pid", NULL);

  p->state_dir = g_build_filename(state_home, "vxm", name, NULL);
  p->qemu_log = g_build_filename(p->state_dir, "qemu.log", NULL);
  p->swtpm_log = g_build_filename(p->state_dir, "swtpm.log", NULL);
  p->vxm_log = g_build_filename(p->state_dir, "vxm.log", NULL);
  return g_steal_pointer(&p);
}

void
vxm_vm_paths_free(VxmVmPaths *p)
{
  if (p == NULL)
    return;
  g_free(p->name);
  g_free(p->config_dir);
  g_free(p->config_file);
  g_free(p->data_dir);
  g_free(p->disk_qcow2);
  g_free(p->disk_raw);
  g_free(p->efi_vars);
  g_free(p->tpm_dir);
  g_free(p->downloads_dir);
  g_free(p->runtime_base);
  g_free(p->runtime_dir);
  g_free(p->lock_file);
  g_free(p->qmp_socket);
  g_free(p->swtpm_socket);
  g_free(p->qemu_pidfile);
  g_free(p->state_dir);
  g_free(p->qemu_log);
  g_free(p->swtpm_log);
  g_free(p->vxm_log);
  g_free(p);
}

/* mkdir -m 0700 PATH, then checks it is our own private folder, not a planted link. As root
 * for a sudo user, the folder is that user's (QEMU and swtpm run as them): given when made. */
static gboolean
ensure_private_dir(const char *path, gboolean strict, GError **error)
{
  struct stat st;
  uid_t owner;
  gid_t group;
  gboolean for_user = vxm_run_as_owner(&owner, &group);

  if (mkdir(path, 0700) != 0 && errno != EEXIST)
    return vxm_error_set_from_errno(error, errno, "cannot create %s", path);
  if (for_user && lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 &&
      lchown(path, owner, group) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot give %s to uid %u", path, (guint)owner);
  if (lstat(path, &st) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot inspect %s", path);
  if (!S_ISDIR(st.st_mode)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "%s is not a folder (a symlink or file someone put there?): remove it, or set "
                "XDG_RUNTIME_DIR",
                path);
    return FALSE;
  }
  if (st.st_uid != owner) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "%s belongs to uid %u, not to you: remove it, or set XDG_RUNTIME_DIR", path,
                (guint)st.st_uid);
    return FALSE;
  }
  if (strict && (st.st_mode & 0077) != 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "%s is open to other users (mode %04o): run chmod 700 %s", path,
                (guint)(st.st_mode & 07777), path);
    return FALSE;
  }
  return TRUE;
}

gboolean
vxm_vm_paths_ensure_runtime_dir(const VxmVmPaths *paths, GError **error)
{
  if (paths->runtime_is_fallback) {
    if (!ensure_private_dir(paths->runtime_base, TRUE, error))
      return FALSE;
  } else if (g_mkdir_with_parents(paths->runtime_base, 0700) != 0) {
    return vxm_error_set_from_errno(error, errno, "cannot create %s", paths->runtime_base);
  } else if (!ensure_private_dir(paths->runtime_base, FALSE, error)) {
    return FALSE;
  }
  return ensure_private_dir(paths->runtime_dir, TRUE, error);
}

char *
vxm_vm_paths_display(const char *path)
{
  const char *home = g_getenv("HOME");
  gsize len;

  if (path == NULL)
    return NULL;
  if (home == NULL || !g_path_is_absolute(home))
    home = g_get_home_dir();
  len = strlen(home);
  while (len > 1 && home[len - 1] == '/')
    len--;
  if (len > 1 && strncmp(path, home, len) == 0 && path[len] == '/')
    return g_strconcat("~", path + len, NULL);
  return g_strdup(path);
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *
vxm_vm_paths_list_names(GError **error)
{
  g_autofree char *dir_path = vxm_vm_paths_config_dir();
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) local = NULL;
  const char *entry;

  dir = g_dir_open(dir_path, 0, &local);
  if (dir == NULL) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return g_steal_pointer(&names);
    g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "cannot list %s: %s", dir_path, local->message);
    return NULL;
  }
  while ((entry = g_dir_read_name(dir)) != NULL) {
    gsize len = strlen(entry);

    if (len <= 5 || !g_str_has_suffix(entry, ".conf"))
      continue;
    if (!vxm_vm_name_validate(entry, (gssize)(len - 5), NULL))
      continue;
    g_ptr_array_add(names, g_strndup(entry, len - 5));
  }
  g_ptr_array_sort(names, compare_names);
  return g_steal_pointer(&names);
}

char *
vxm_vm_name_suggestion(const char *name)
{
  g_autoptr(GPtrArray) names = vxm_vm_paths_list_names(NULL);
  const char *best;

  if (names == NULL || name == NULL)
    return g_strdup("");
  best = vxm_closest_word(name, (const char *const *)names->pdata, names->len);
  if (best == NULL)
    return g_strdup("");
  return g_strdup_printf(" (did you mean '%s'?)", best);
}

gboolean
vxm_vm_paths_check_exists(const VxmVmPaths *paths, GError **error)
{
  g_autofree char *hint = NULL;

  if (g_file_test(paths->config_file, G_FILE_TEST_EXISTS))
    return TRUE;
  hint = vxm_vm_name_suggestion(paths->name);
  g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
              "no VM %s%s: vxm list shows the VMs, vxm init %s creates it", paths->name, hint,
              paths->name);
  return FALSE;
}

char *
vxm_vm_default_name(GError **error)
{
  g_autoptr(GPtrArray) names = vxm_vm_paths_list_names(error);
  g_autofree char *list = NULL;

  if (names == NULL)
    return NULL;
  if (names->len == 1)
    return g_strdup(g_ptr_array_index(names, 0));
  for (guint i = 0; i < names->len; i++)
    if (g_str_equal(g_ptr_array_index(names, i), "default"))
      return g_strdup("default");
  if (names->len == 0)
    return g_strdup("default");
  g_ptr_array_add(names, NULL);
  list = g_strjoinv(", ", (char **)names->pdata);
  g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
              "there are several VMs (%s) and none is called default: name one", list);
  return NULL;
}
