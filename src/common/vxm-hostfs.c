#include "vxm-hostfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vxm-error.h"
#include "vxm-util.h"

struct _VxmHostfs {
  GObject parent_instance;
  char *root; /* without a trailing slash; "" for the real root */
};

G_DEFINE_FINAL_TYPE(VxmHostfs, vxm_hostfs, G_TYPE_OBJECT)

static void
vxm_hostfs_finalize(GObject *object)
{
  VxmHostfs *self = VXM_HOSTFS(object);

  g_free(self->root);
  G_OBJECT_CLASS(vxm_hostfs_parent_class)->finalize(object);
}

static void
vxm_hostfs_class_init(VxmHostfsClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = vxm_hostfs_finalize;
}

static void
vxm_hostfs_init(VxmHostfs *self)
{
}

VxmHostfs *
vxm_hostfs_new(const char *root)
{
  VxmHostfs *self = g_object_new(VXM_TYPE_HOSTFS, NULL);
  g_autofree char *canon = NULL;
  gsize len;

  if (root == NULL || *root == '\0')
    root = "/";
  canon = g_canonicalize_filename(root, NULL);
  len = strlen(canon);
  while (len > 0 && canon[len - 1] == '/')
    canon[--len] = '\0';
  self->root = g_steal_pointer(&canon);
  return self;
}

VxmHostfs *
vxm_hostfs_new_for_cli(const char *root_option, GError **error)
{
  const char *root = root_option;

  if (root == NULL || *root == '\0')
    root = g_getenv("VXM_ROOT");
  if (root == NULL || *root == '\0')
    root = "/";
  if (!g_file_test(root, G_FILE_TEST_IS_DIR)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                "host root %s is not a folder: give --root (or VXM_ROOT) the folder that "
                "stands for the host's /",
                root);
    return NULL;
  }
  return vxm_hostfs_new(root);
}

const char *
vxm_hostfs_get_root(VxmHostfs *self)
{
  return self->root[0] == '\0' ? "/" : self->root;
}

gboolean
vxm_hostfs_is_real(VxmHostfs *self)
{
  return self->root[0] == '\0';
}

char *
vxm_hostfs_path(VxmHostfs *self, const char *host_path)
{
  g_return_val_if_fail(host_path != NULL && host_path[0] == '/', NULL);
  return g_strconcat(self->root, host_path, NULL);
}

char *
vxm_hostfs_pathf(VxmHostfs *self, const char *format, ...)
{
  g_autofree char *host_path = NULL;
  va_list ap;

  va_start(ap, format);
  host_path = g_strdup_vprintf(format, ap);
  va_end(ap);
  return vxm_hostfs_path(self, host_path);
}

char *
vxm_hostfs_host_path(VxmHostfs *self, const char *local_path)
{
  gsize len = strlen(self->root);

  if (len == 0)
    return g_strdup(local_path);
  if (strncmp(local_path, self->root, len) != 0)
    return NULL;
  if (local_path[len] == '\0')
    return g_strdup("/");
  if (local_path[len] != '/')
    return NULL;
  return g_strdup(local_path + len);
}

gboolean
vxm_hostfs_exists(VxmHostfs *self, const char *host_path)
{
  g_autofree char *path = vxm_hostfs_path(self, host_path);
  struct stat st;

  return lstat(path, &st) == 0;
}

gboolean
vxm_hostfs_is_dir(VxmHostfs *self, const char *host_path)
{
  g_autofree char *path = vxm_hostfs_path(self, host_path);
  struct stat st;

  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

gboolean
vxm_hostfs_read_file(VxmHostfs *self, const char *host_path, char **contents, gsize *length,
                     GError **error)
{
  g_autofree char *path = vxm_hostfs_path(self, host_path);
  g_autoptr(GString) buf = g_string_new(NULL);
  vxm_autofd int fd = -1;

  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return vxm_error_set_from_errno(error, errno, "cannot open %s", host_path);
  for (;;) {
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof chunk);

    if (n < 0) {
      if (errno == EINTR)
        continue;
      return vxm_error_set_from_errno(error, errno, "cannot read %s", host_path);
    }
    if (n == 0)
      break;
    g_string_append_len(buf, chunk, n);
  }
  if (length != NULL)
    *length = buf->len;
  *contents = g_string_free(g_steal_pointer(&buf), FALSE);
  return TRUE;
}

char *
vxm_hostfs_read_attr(VxmHostfs *self, const char *host_path, GError **error)
{
  char *contents = NULL;
  gsize len = 0;

  if (!vxm_hostfs_read_file(self, host_path, &contents, &len, error))
    return NULL;
  while (len > 0 && (contents[len - 1] == '\n' || contents[len - 1] == '\r'))
    contents[--len] = '\0';
  return contents;
}

gboolean
vxm_hostfs_read_attr_int64(VxmHostfs *self, const char *host_path, guint base, gint64 *out,
                           GError **error)
{
  g_autofree char *text = vxm_hostfs_read_attr(self, host_path, error);

  if (text == NULL)
    return FALSE;
  if (!vxm_parse_int64(g_strstrip(text), base, out)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "%s holds '%s', not a number", host_path,
                text);
    return FALSE;
  }
  return TRUE;
}

gboolean
vxm_hostfs_read_attr_uint64(VxmHostfs *self, const char *host_path, guint base, guint64 *out,
                            GError **error)
{
  g_autofree char *text = vxm_hostfs_read_attr(self, host_path, error);

  if (text == NULL)
    return FALSE;
  if (!vxm_parse_uint64(g_strstrip(text), base, out)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "%s holds '%s', not a number", host_path,
                text);
    return FALSE;
  }
  return TRUE;
}

gboolean
vxm_hostfs_write_attr(VxmHostfs *self, const char *host_path, const char *value, GError **error)
{
  g_autofree char *path = vxm_hostfs_path(self, host_path);
  vxm_autofd int fd = -1;
  size_t len = strlen(value);
  ssize_t n;

  fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return vxm_error_set_from_errno(error, errno, "cannot open %s for writing", host_path);
  do
    n = write(fd, value, len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return vxm_error_set_from_errno(error, errno, "writing '%s' to %s failed",
                                    g_strchomp(g_strdup(value)), host_path);
  if ((size_t)n != len) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "short write to %s (%zd of %zu bytes)", host_path,
                n, len);
    return FALSE;
  }
  if (close(fd) < 0) {
    fd = -1;
    return vxm_error_set_from_errno(error, errno, "writing to %s failed", host_path);
  }
  fd = -1;
  return TRUE;
}

char *
vxm_hostfs_read_link(VxmHostfs *self, const char *host_path, GError **error)
{
  g_autofree char *path = vxm_hostfs_path(self, host_path);
  char buf[PATH_MAX];
  ssize_t n = readlink(path, buf, sizeof buf - 1);

  if (n < 0) {
    vxm_error_set_from_errno(error, errno, "cannot read link %s", host_path);
    return NULL;
  }
  buf[n] = '\0';
  return g_strdup(buf);
}

char *
vxm_hostfs_read_link_basename(VxmHostfs *self, const char *host_path, GError **error)
{
  g_autofree char *target = vxm_hostfs_read_link(self, host_path, error);

  if (target == NULL)
    return NULL;
  return g_path_get_basename(target);
}

char *
vxm_hostfs_resolve(VxmHostfs *self, const char *host_path, GError **error)
{
  g_autofree char *path = vxm_hostfs_path(self, host_path);
  g_autofree char *real = realpath(path, NULL);
  char *result;

  if (real == NULL) {
    vxm_error_set_from_errno(error, errno, "cannot resolve %s", host_path);
    return NULL;
  }
  result = vxm_hostfs_host_path(self, real);
  if (result == NULL)
    g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION, "%s leads outside the host root %s",
                host_path, vxm_hostfs_get_root(self));
  return result;
}

static int
compare_strings(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *
vxm_hostfs_list_dir(VxmHostfs *self, const char *host_path, GError **error)
{
  g_autofree char *path = vxm_hostfs_path(self, host_path);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  DIR *dir = opendir(path);
  struct dirent *entry;

  /* errors name the host path, never the local one under the root */
  if (dir == NULL) {
    vxm_error_set_from_errno(error, errno, "cannot list %s", host_path);
    return NULL;
  }
  while ((entry = readdir(dir)) != NULL) {
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
      continue;
    g_ptr_array_add(names, g_strdup(entry->d_name));
  }
  closedir(dir);
  g_ptr_array_sort(names, compare_strings);
  return g_steal_pointer(&names);
}
