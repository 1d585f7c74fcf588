/* vxm-sim-fuse: serves a VxmSimHost through FUSE (see the header). */
#define FUSE_USE_VERSION 314
#include "vxm-sim-fuse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/vxm-util.h"

typedef struct {
  VxmSimNode *node; /* NULL for a passthrough file */
  int fd;           /* passthrough file */
  char *real;       /* passthrough folder */
  char *snapshot;   /* generated content, taken at open like sysfs does */
  gsize snapshot_len;
  gpointer client; /* a modelled device's per-open state (node->device_ops) */
} Handle;

static VxmSimHost *the_host;
static struct fuse *the_fuse;
static gint exiting;
/* Every handle not yet released: a client may still hold a file when the mount goes (the kernel
 * then sends no release), and those are freed when fuse_main returns. */
static GHashTable *open_handles;
static GMutex open_handles_lock;

static gpointer
handle_new(void)
{
  gpointer h = g_malloc0(sizeof(Handle));

  g_mutex_lock(&open_handles_lock);
  g_hash_table_add(open_handles, h);
  g_mutex_unlock(&open_handles_lock);
  return h;
}

static gboolean
should_abort(void)
{
  return g_atomic_int_get(&exiting) ||
         (the_fuse != NULL && fuse_session_exited(fuse_get_session(the_fuse)));
}

static void
handle_free(Handle *h)
{
  if (h == NULL)
    return;
  g_mutex_lock(&open_handles_lock);
  g_hash_table_remove(open_handles, h);
  g_mutex_unlock(&open_handles_lock);
  if (h->node != NULL) {
    if (h->client != NULL && h->node->device_ops != NULL && h->node->device_ops->release != NULL)
      h->node->device_ops->release(h->node, h->client);
    vxm_sim_host_lock(the_host);
    vxm_sim_node_unref(h->node);
    vxm_sim_host_unlock(the_host);
  }
  if (h->fd >= 0)
    close(h->fd);
  g_free(h->real);
  g_free(h->snapshot);
  g_free(h);
}

/* Looks @path up with the lock held by the caller. A passthrough location sets *real. */
static VxmSimNode *
lookup(const char *path, char **real)
{
  const char *rest = NULL;
  VxmSimNode *node = vxm_sim_node_lookup(the_host->root, path, &rest);

  *real = NULL;
  if (node != NULL && node->kind == VXM_SIM_NODE_PASSTHROUGH)
    *real = rest ? g_build_filename(node->target, rest, NULL) : g_strdup(node->target);
  return node;
}

/* The node an operation is about: the open handle's, else the path's. Lock held. */
static VxmSimNode *
node_for(const char *path, struct fuse_file_info *fi, char **real)
{
  *real = NULL;
  if (fi != NULL && fi->fh != 0) {
    Handle *h = (Handle *)(uintptr_t)fi->fh;
    if (h->node != NULL)
      return h->node;
    if (h->fd >= 0 || h->real != NULL) {
      /* an open passthrough file or folder: read-only, its path no longer matters */
      *real = g_strdup(h->real ? h->real : "");
      return the_host->root;
    }
  }
  if (path == NULL)
    return NULL;
  return lookup(path, real);
}

static char *
path_of(const char *path, VxmSimNode *node)
{
  if (path != NULL)
    return g_strdup(path);
  return node != NULL ? vxm_sim_node_path(node) : g_strdup("(deleted)");
}

static gboolean
is_generated(VxmSimNode *node)
{
  return node->kind == VXM_SIM_NODE_FILE && node->data == NULL;
}

static gboolean
in_writable_tree(VxmSimNode *node)
{
  return (node->flags & VXM_SIM_NODE_FLAG_WRITABLE) != 0;
}

static void
fill_stat(VxmSimNode *node, struct stat *st)
{
  memset(st, 0, sizeof *st);
  switch (node->kind) {
  case VXM_SIM_NODE_DIR:
  case VXM_SIM_NODE_PASSTHROUGH:
    st->st_mode = S_IFDIR | node->mode;
    st->st_nlink = 2;
    break;
  case VXM_SIM_NODE_LINK:
    st->st_mode = S_IFLNK | 0777;
    st->st_nlink = 1;
    st->st_size = strlen(node->target);
    break;
  case VXM_SIM_NODE_SPECIAL:
    st->st_mode = node->special_type | node->mode;
    st->st_nlink = 1;
    break;
  case VXM_SIM_NODE_FILE:
    st->st_mode = S_IFREG | node->mode;
    st->st_nlink = 1;
    if (node->data != NULL && !(node->flags & VXM_SIM_NODE_FLAG_DEVICE))
      st->st_size = node->data->len;
    else if (node->flags & VXM_SIM_NODE_FLAG_ATTRIBUTE)
      st->st_size = 4096;
    break;
  }
  st->st_uid = node->uid;
  st->st_gid = node->gid;
  st->st_blksize = 4096;
  st->st_blocks = (st->st_size + 511) / 512;
  st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = node->mtime_us / G_USEC_PER_SEC;
  st->st_mtim.tv_nsec = st->st_atim.tv_nsec = (node->mtime_us % G_USEC_PER_SEC) * 1000;
  st->st_ctim.tv_sec = node->ctime_us / G_USEC_PER_SEC;
  st->st_ctim.tv_nsec = (node->ctime_us % G_USEC_PER_SEC) * 1000;
}

static void *
sim_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->hard_remove = 1;
  cfg->nullpath_ok = 1;
  cfg->kernel_cache = 0;
  the_fuse = fuse_get_context()->fuse;
  return the_host;
}

static void
sim_destroy(void *private_data)
{
  g_atomic_int_set(&exiting, 1);
  vxm_sim_faults_release(the_host->faults);
}

static int
sim_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
  g_autofree char *real = NULL;
  VxmSimNode *node;

  if (fi != NULL && fi->fh != 0 && ((Handle *)(uintptr_t)fi->fh)->fd >= 0) {
    if (fstat(((Handle *)(uintptr_t)fi->fh)->fd, st) != 0)
      return -errno;
    st->st_mode &= ~0222;
    return 0;
  }
  vxm_sim_host_lock(the_host);
  node = node_for(path, fi, &real);
  if (node != NULL && real == NULL)
    fill_stat(node, st);
  vxm_sim_host_unlock(the_host);
  if (node == NULL)
    return -ENOENT;
  if (real != NULL) {
    if (lstat(real, st) != 0)
      return -errno;
    st->st_mode &= ~0222;
  }
  return 0;
}

/* Whether the caller may read another process's fd links: its own uid's process, or the caller
 * has CAP_SYS_PTRACE in its effective set (read from its /proc status, as the kernel checks its
 * credentials). */
static gboolean
may_ptrace(const struct fuse_context *ctx, uid_t owner)
{
  g_autofree char *status_path = g_strdup_printf("/proc/%d/status", (int)ctx->pid);
  g_autofree char *status = NULL;
  const char *line;

  if (ctx->uid == owner)
    return TRUE;
  if (!g_file_get_contents(status_path, &status, NULL, NULL))
    return FALSE;
  line = strstr(status, "\nCapEff:");
  if (line == NULL)
    return FALSE;
  return (g_ascii_strtoull(line + strlen("\nCapEff:"), NULL, 16) &
          (G_GUINT64_CONSTANT(1) << CAP_SYS_PTRACE)) != 0;
}

static int
sim_readlink(const char *path, char *buf, size_t size)
{
  g_autofree char *real = NULL;
  g_autofree char *target = NULL;
  VxmSimNode *node;

  uid_t owner = 0;
  gboolean ptrace_checked = FALSE;

  vxm_sim_host_lock(the_host);
  node = lookup(path, &real);
  if (node != NULL && real == NULL && node->kind == VXM_SIM_NODE_LINK) {
    target = g_strdup(node->target);
    ptrace_checked = (node->flags & VXM_SIM_NODE_FLAG_PTRACE) != 0;
    owner = node->uid;
  }
  vxm_sim_host_unlock(the_host);
  if (node == NULL)
    return -ENOENT;
  if (ptrace_checked && !may_ptrace(fuse_get_context(), owner))
    return -EACCES;
  if (real != NULL) {
    ssize_t n = readlink(real, buf, size - 1);
    if (n < 0)
      return -errno;
    buf[n] = '\0';
    return 0;
  }
  if (target == NULL)
    return -EINVAL;
  g_strlcpy(buf, target, size);
  return 0;
}

static int
sim_opendir(const char *path, struct fuse_file_info *fi)
{
  g_autofree char *real = NULL;
  VxmSimNode *node;
  Handle *h;

  vxm_sim_host_lock(the_host);
  node = lookup(path, &real);
  if (node != NULL && real == NULL)
    vxm_sim_node_ref(node);
  vxm_sim_host_unlock(the_host);
  if (node == NULL)
    return -ENOENT;
  if (real == NULL && node->kind != VXM_SIM_NODE_DIR) {
    vxm_sim_host_lock(the_host);
    vxm_sim_node_unref(node);
    vxm_sim_host_unlock(the_host);
    return -ENOTDIR;
  }
  h = handle_new();
  h->fd = -1;
  h->node = real == NULL ? node : NULL;
  h->real = g_steal_pointer(&real);
  fi->fh = (uintptr_t)h;
  return 0;
}

static int
sim_releasedir(const char *path, struct fuse_file_info *fi)
{
  handle_free((Handle *)(uintptr_t)fi->fh);
  fi->fh = 0;
  return 0;
}

static int
sim_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t offset,
            struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
  Handle *h = (Handle *)(uintptr_t)fi->fh;
  g_autoptr(GPtrArray) names = NULL;

  if (h->real != NULL) {
    DIR *dir = opendir(h->real);
    struct dirent *entry;

    if (dir == NULL)
      return -errno;
    while ((entry = readdir(dir)) != NULL)
      if (filler(buf, entry->d_name, NULL, 0, 0) != 0)
        break;
    closedir(dir);
    return 0;
  }
  vxm_sim_host_lock(the_host);
  names = vxm_sim_node_list(h->node);
  for (guint i = names->len; i > 0; i--) {
    VxmSimNode *child = vxm_sim_node_child(h->node, names->pdata[i - 1]);
    if (child->flags & VXM_SIM_NODE_FLAG_HIDDEN)
      g_ptr_array_remove_index(names, i - 1);
  }
  vxm_sim_host_unlock(the_host);
  filler(buf, ".", NULL, 0, 0);
  filler(buf, "..", NULL, 0, 0);
  for (guint i = 0; i < names->len; i++)
    if (filler(buf, names->pdata[i], NULL, 0, 0) != 0)
      break;
  return 0;
}

static const char *
access_word(int flags)
{
  switch (flags & O_ACCMODE) {
  case O_RDONLY: return "r";
  case O_WRONLY: return "w";
  default: return "rw";
  }
}

static int
sim_open(const char *path, struct fuse_file_info *fi)
{
  int acc = fi->flags & O_ACCMODE;
  gboolean want_read = acc != O_WRONLY;
  gboolean want_write = acc != O_RDONLY;
  g_autofree char *real = NULL;
  g_autofree char *alias = NULL;
  VxmSimNode *node;
  VxmSimNodeFlags flags;
  Handle *h;
  gboolean fired = FALSE;
  int res = 0;

  vxm_sim_host_lock(the_host);
  node = lookup(path, &real);
  if (node != NULL && real == NULL)
    vxm_sim_node_ref(node);
  vxm_sim_host_unlock(the_host);
  if (node == NULL)
    return -ENOENT;
  if (real != NULL) {
    int fd;
    if (want_write || (fi->flags & (O_TRUNC | O_CREAT)))
      return -EROFS;
    fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
      return -errno;
    h = handle_new();
    h->fd = fd;
    fi->fh = (uintptr_t)h;
    return 0;
  }

  h = handle_new();
  h->fd = -1;
  h->node = node;
  flags = node->flags;
  alias = g_strdup(node->log_path);
  if (node->kind == VXM_SIM_NODE_DIR)
    res = -EISDIR;
  else if (node->kind != VXM_SIM_NODE_FILE)
    res = -ENXIO;
  else if (is_generated(node) &&
           ((want_write && node->store == NULL) || (want_read && node->show == NULL)))
    res = -EACCES;
  else if (node->data != NULL && want_write &&
           !(flags & (VXM_SIM_NODE_FLAG_WRITABLE | VXM_SIM_NODE_FLAG_DEVICE)))
    res = -EACCES;
  if (res == 0 && !(flags & VXM_SIM_NODE_FLAG_CONTROL))
    res = vxm_sim_host_fault_begin(the_host, "open", path, alias, NULL, -1, &fired);
  if ((flags & VXM_SIM_NODE_FLAG_DEVICE) || fired)
    vxm_sim_host_log(the_host, "open", alias ? alias : path, access_word(fi->flags), -1, res);
  if (res == 0 && node->device_ops != NULL && node->device_ops->open != NULL)
    res = node->device_ops->open(node, fi->flags, fuse_get_context()->pid, &h->client);
  if (res != 0) {
    handle_free(h);
    return res;
  }

  /* sysfs takes its snapshot at open: a show that takes the device lock blocks here */
  if (want_read && is_generated(node))
    vxm_sim_host_device_lock_wait(the_host, node);
  vxm_sim_host_lock(the_host);
  if ((fi->flags & O_TRUNC) && node->data != NULL && in_writable_tree(node)) {
    g_byte_array_set_size(node->data, 0);
    vxm_sim_node_touch(node);
  }
  if (want_read && node->show != NULL) {
    gssize len = -1;
    h->snapshot = node->show(node, &len);
    h->snapshot_len = len < 0 ? strlen(h->snapshot) : (gsize)len;
  }
  vxm_sim_host_unlock(the_host);
  fi->direct_io = is_generated(node) || (flags & VXM_SIM_NODE_FLAG_DEVICE) ? 1 : 0;
  fi->nonseekable = node->device_ops != NULL ? 1 : 0;
  fi->keep_cache = 0;
  fi->fh = (uintptr_t)h;
  return 0;
}

/* Bytes as the log shows a device's traffic: "51 84 03 60 00 11 c9". */
static char *
hex_value(const void *buf, gsize len)
{
  GString *s = g_string_new(NULL);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf(s, i == 0 ? "%02x" : " %02x", ((const guint8 *)buf)[i]);
  return g_string_free(s, FALSE);
}

static int
device_read(const char *path, Handle *h, char *buf, size_t size, int flags)
{
  g_autofree char *op_path = NULL;
  g_autofree char *value = NULL;
  int res = h->node->device_ops->read(h->node, h->client, buf, size, flags);

  vxm_sim_host_lock(the_host);
  op_path = path_of(path, h->node);
  vxm_sim_host_unlock(the_host);
  value = hex_value(buf, res > 0 ? (gsize)res : 0);
  vxm_sim_host_log(the_host, "read", op_path, res > 0 ? value : NULL, -1, res > 0 ? 0 : res);
  return res;
}

/* A write to a modelled device: fault rules match its bytes as hex, the log shows them. */
static int
device_write(const char *path, Handle *h, const char *buf, size_t size)
{
  const VxmSimDeviceOps *ops = h->node->device_ops;
  g_autofree char *op_path = NULL;
  g_autofree char *value = hex_value(buf, size);
  gboolean fired = FALSE;
  int res;

  vxm_sim_host_lock(the_host);
  op_path = path_of(path, h->node);
  vxm_sim_host_unlock(the_host);
  res = vxm_sim_host_fault_begin(the_host, "write", op_path, NULL, value, -1, &fired);
  if (res == 0)
    res = ops->write(h->node, h->client, buf, size);
  if (fired || ops->log_bytes)
    vxm_sim_host_log(the_host, "write", op_path, value, -1, res);
  return res < 0 ? res : (int)size;
}

static int
sim_read(const char *path, char *buf, size_t size, off_t offset, struct fuse_file_info *fi)
{
  Handle *h = (Handle *)(uintptr_t)fi->fh;
  gsize n = 0;

  if (h->fd >= 0) {
    ssize_t r = pread(h->fd, buf, size, offset);
    return r < 0 ? -errno : (int)r;
  }
  if (h->node != NULL && h->node->device_ops != NULL && h->node->device_ops->read != NULL)
    return h->node->device_ops->log_bytes
               ? device_read(path, h, buf, size, fi->flags)
               : h->node->device_ops->read(h->node, h->client, buf, size, fi->flags);
  if (h->snapshot != NULL) {
    if ((gsize)offset < h->snapshot_len) {
      n = MIN(size, h->snapshot_len - (gsize)offset);
      memcpy(buf, h->snapshot + offset, n);
    }
    return n;
  }
  vxm_sim_host_lock(the_host);
  if (h->node->data != NULL && (gsize)offset < h->node->data->len) {
    n = MIN(size, h->node->data->len - (gsize)offset);
    memcpy(buf, h->node->data->data + offset, n);
  }
  vxm_sim_host_unlock(the_host);
  return n;
}

static int
sim_write(const char *path, const char *buf, size_t size, off_t offset, struct fuse_file_info *fi)
{
  Handle *h = (Handle *)(uintptr_t)fi->fh;
  VxmSimNode *node = h->node;
  g_autofree char *op_path = NULL;
  g_autofree char *alias = NULL;
  gboolean fired = FALSE;
  gboolean lock_held = FALSE;
  int res;

  if (node == NULL)
    return -EBADF;
  if (node->device_ops != NULL && node->device_ops->write != NULL)
    return device_write(path, h, buf, size);
  if (node->flags & VXM_SIM_NODE_FLAG_CONTROL) {
    vxm_sim_host_lock(the_host);
    res = node->store != NULL ? node->store(node, buf, size) : -EACCES;
    vxm_sim_host_unlock(the_host);
    vxm_sim_host_run_deferred(the_host);
    return res < 0 ? res : (int)size;
  }
  vxm_sim_host_lock(the_host);
  op_path = path_of(path, node);
  alias = g_strdup(node->log_path);
  vxm_sim_host_unlock(the_host);

  res = vxm_sim_host_fault_begin(the_host, "write", op_path, alias, buf, size, &fired);
  if (res == 0 && is_generated(node))
    lock_held = vxm_sim_host_kernel_wait(the_host, node, alias ? alias : op_path, buf, size);
  if (res == 0) {
    vxm_sim_host_lock(the_host);
    if (is_generated(node)) {
      if (!vxm_sim_node_is_attached(node))
        res = -ENODEV;
      else
        res = node->store != NULL ? node->store(node, buf, size) : -EACCES;
    } else if (node->flags & VXM_SIM_NODE_FLAG_DEVICE) {
      res = -EINVAL;
    } else if (node->data != NULL && in_writable_tree(node)) {
      gsize end = offset + size;
      if (fi->flags & O_APPEND)
        offset = node->data->len, end = offset + size;
      if (end > node->data->len)
        g_byte_array_set_size(node->data, end);
      memcpy(node->data->data + offset, buf, size);
      vxm_sim_node_touch(node);
    } else {
      res = -EACCES;
    }
    vxm_sim_host_unlock(the_host);
  }
  if (lock_held)
    vxm_sim_host_kernel_done(the_host, node, buf, size);
  if (fired || is_generated(node) || (node->flags & VXM_SIM_NODE_FLAG_DEVICE))
    vxm_sim_host_log(the_host, "write", alias ? alias : op_path, buf, size, res);
  return res < 0 ? res : (int)size;
}

static int
sim_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
  g_autofree char *real = NULL;
  VxmSimNode *node;
  int res = 0;

  vxm_sim_host_lock(the_host);
  node = node_for(path, fi, &real);
  if (node == NULL)
    res = -ENOENT;
  else if (real != NULL)
    res = -EROFS;
  else if (node->kind == VXM_SIM_NODE_DIR)
    res = -EISDIR;
  else if (node->data != NULL && in_writable_tree(node)) {
    g_byte_array_set_size(node->data, size);
    vxm_sim_node_touch(node);
  } else if (!(is_generated(node) || (node->flags & VXM_SIM_NODE_FLAG_DEVICE)))
    res = -EACCES; /* sysfs attributes and device nodes ignore truncation, like O_TRUNC */
  vxm_sim_host_unlock(the_host);
  return res;
}

/* The writable folder @path would be made in, and its last component. Lock held. */
static int
writable_parent(const char *path, VxmSimNode **parent_out, char **name_out)
{
  g_autofree char *dirname = g_path_get_dirname(path);
  g_autofree char *real = NULL;
  VxmSimNode *parent = lookup(dirname, &real);

  if (parent == NULL)
    return -ENOENT;
  if (real != NULL)
    return -EROFS;
  if (parent->kind != VXM_SIM_NODE_DIR)
    return -ENOTDIR;
  if (!in_writable_tree(parent))
    return -EACCES;
  *parent_out = parent;
  *name_out = g_path_get_basename(path);
  return 0;
}

static int
make_node(const char *path, const char *op, VxmSimNode *node, VxmSimNode **made)
{
  struct fuse_context *ctx = fuse_get_context();
  g_autofree char *name = NULL;
  VxmSimNode *parent = NULL;
  gboolean fired = FALSE;
  int res = vxm_sim_host_fault_begin(the_host, op, path, NULL, NULL, -1, &fired);

  if (fired)
    vxm_sim_host_log(the_host, op, path, NULL, -1, res);
  if (res != 0) {
    vxm_sim_node_unref(node);
    return res;
  }
  vxm_sim_host_lock(the_host);
  res = writable_parent(path, &parent, &name);
  if (res == 0 && vxm_sim_node_child(parent, name) != NULL)
    res = -EEXIST;
  if (res == 0) {
    node->flags |= VXM_SIM_NODE_FLAG_WRITABLE;
    node->mode &= ~ctx->umask;
    node->uid = ctx->uid;
    node->gid = ctx->gid;
    if (parent->mode & S_ISGID) {
      node->gid = parent->gid;
      if (node->kind == VXM_SIM_NODE_DIR)
        node->mode |= S_ISGID;
    }
    vxm_sim_node_add(parent, name, node);
    if (made != NULL)
      *made = vxm_sim_node_ref(node);
  } else {
    vxm_sim_node_unref(node);
  }
  vxm_sim_host_unlock(the_host);
  return res;
}

static int
sim_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
  VxmSimNode *node = NULL;
  Handle *h;
  int res;

  if (vxm_sim_host_take_announced(the_host, path)) {
    /* the simulated kernel's own node (vxm_sim_host_announce_node): libfuse turns the
     * mknod(2) of a regular file into create */
    g_autofree char *real = NULL;

    vxm_sim_host_lock(the_host);
    node = lookup(path, &real);
    if (node != NULL)
      vxm_sim_node_ref(node);
    vxm_sim_host_unlock(the_host);
    res = node != NULL ? 0 : -ENOENT;
  } else {
    res = make_node(path, "create", vxm_sim_node_new_file(mode, NULL), &node);
  }
  if (res != 0)
    return res;
  h = handle_new();
  h->fd = -1;
  h->node = node;
  fi->fh = (uintptr_t)h;
  return 0;
}

static int
sim_mknod(const char *path, mode_t mode, dev_t rdev)
{
  if (vxm_sim_host_take_announced(the_host, path))
    return 0; /* the simulated kernel's own node (vxm_sim_host_announce_node) */
  if (S_ISREG(mode))
    return make_node(path, "create", vxm_sim_node_new_file(mode, NULL), NULL);
  if (S_ISSOCK(mode) || S_ISFIFO(mode))
    return make_node(path, "create", vxm_sim_node_new_special(mode & S_IFMT, mode), NULL);
  return -EPERM;
}

static int
sim_mkdir(const char *path, mode_t mode)
{
  return make_node(path, "mkdir", vxm_sim_node_new_dir(mode), NULL);
}

static int
sim_symlink(const char *target, const char *path)
{
  if (vxm_sim_host_take_announced(the_host, path))
    return 0; /* the simulated udev's own link (vxm_sim_host_announce_link) */
  return make_node(path, "create", vxm_sim_node_new_link(target), NULL);
}

static int
remove_node(const char *path, const char *op, gboolean dir)
{
  g_autofree char *real = NULL;
  gboolean fired = FALSE;
  VxmSimNode *node;
  int res = vxm_sim_host_fault_begin(the_host, op, path, NULL, NULL, -1, &fired);

  if (res == 0) {
    vxm_sim_host_lock(the_host);
    node = lookup(path, &real);
    if (node == NULL)
      res = -ENOENT;
    else if (real != NULL)
      res = -EROFS;
    else if (node->parent == NULL || !in_writable_tree(node->parent) || !in_writable_tree(node))
      res = -EACCES;
    else if (dir && node->kind != VXM_SIM_NODE_DIR)
      res = -ENOTDIR;
    else if (!dir && node->kind == VXM_SIM_NODE_DIR)
      res = -EISDIR;
    else if (dir && g_hash_table_size(node->children) > 0)
      res = -ENOTEMPTY;
    else
      vxm_sim_node_remove(node);
    vxm_sim_host_unlock(the_host);
  }
  if (fired)
    vxm_sim_host_log(the_host, op, path, NULL, -1, res);
  return res;
}

static int
sim_unlink(const char *path)
{
  if (vxm_sim_host_take_announced(the_host, path))
    return 0;
  return remove_node(path, "unlink", FALSE);
}

static int
sim_rmdir(const char *path)
{
  return remove_node(path, "rmdir", TRUE);
}

static int
sim_rename(const char *from, const char *to, unsigned int flags)
{
  g_autofree char *real = NULL;
  g_autofree char *name = NULL;
  VxmSimNode *node;
  VxmSimNode *parent = NULL;
  VxmSimNode *existing;
  gboolean fired = FALSE;
  int res;

  if (flags & ~RENAME_NOREPLACE)
    return -EINVAL;
  res = vxm_sim_host_fault_begin(the_host, "rename", from, NULL, to, -1, &fired);
  if (res == 0) {
    vxm_sim_host_lock(the_host);
    node = lookup(from, &real);
    if (node == NULL)
      res = -ENOENT;
    else if (real != NULL)
      res = -EROFS;
    else if (node->parent == NULL || !in_writable_tree(node->parent) || !in_writable_tree(node))
      res = -EACCES;
    else
      res = writable_parent(to, &parent, &name);
    if (res == 0) {
      existing = vxm_sim_node_child(parent, name);
      for (VxmSimNode *p = parent; p != NULL; p = p->parent)
        if (p == node)
          res = -EINVAL;
      if (res == 0 && existing == node) {
        /* renaming onto itself does nothing */
      } else if (res == 0 && existing != NULL) {
        if (flags & RENAME_NOREPLACE)
          res = -EEXIST;
        else if (existing->kind == VXM_SIM_NODE_DIR && node->kind != VXM_SIM_NODE_DIR)
          res = -EISDIR;
        else if (existing->kind != VXM_SIM_NODE_DIR && node->kind == VXM_SIM_NODE_DIR)
          res = -ENOTDIR;
        else if (existing->kind == VXM_SIM_NODE_DIR && g_hash_table_size(existing->children))
          res = -ENOTEMPTY;
      }
      if (res == 0 && existing != node) {
        vxm_sim_node_ref(node);
        vxm_sim_node_remove(node);
        vxm_sim_node_add(parent, name, node);
        node->ctime_us = g_get_real_time();
      }
    }
    vxm_sim_host_unlock(the_host);
  }
  if (fired)
    vxm_sim_host_log(the_host, "rename", from, to, -1, res);
  return res;
}

static int
sim_link(const char *from, const char *to)
{
  return -EPERM;
}

static int
change_owner_or_mode(const char *path, struct fuse_file_info *fi, const char *op, const char *value,
                     gboolean is_chown, uid_t uid, gid_t gid, mode_t mode)
{
  g_autofree char *real = NULL;
  g_autofree char *op_path = NULL;
  g_autofree char *alias = NULL;
  gboolean fired = FALSE;
  gboolean quiet = FALSE;
  VxmSimNode *node;
  int res;

  vxm_sim_host_lock(the_host);
  node = node_for(path, fi, &real);
  if (node != NULL && real == NULL) {
    op_path = path_of(path, node);
    alias = g_strdup(node->log_path);
    quiet = in_writable_tree(node);
  }
  vxm_sim_host_unlock(the_host);
  if (node == NULL)
    return -ENOENT;
  if (real != NULL)
    return -EROFS;

  res = vxm_sim_host_fault_begin(the_host, op, op_path, alias, value, -1, &fired);
  if (res == 0) {
    vxm_sim_host_lock(the_host);
    if (is_chown) {
      if (uid != (uid_t)-1)
        node->uid = uid;
      if (gid != (gid_t)-1)
        node->gid = gid;
      /* chown clears set-id bits of files, as the kernel does */
      if (node->kind == VXM_SIM_NODE_FILE)
        node->mode &= ~(S_ISUID | S_ISGID);
    } else {
      node->mode = mode & 07777;
    }
    node->ctime_us = g_get_real_time();
    vxm_sim_host_unlock(the_host);
  }
  if (fired || !quiet)
    vxm_sim_host_log(the_host, op, alias ? alias : op_path, value, -1, res);
  return res;
}

static int
sim_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
  g_autofree char *value = g_strdup_printf("%04o", mode & 07777);

  return change_owner_or_mode(path, fi, "chmod", value, FALSE, 0, 0, mode);
}

static int
sim_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
  g_autofree char *value =
      g_strdup_printf("%d:%d", uid == (uid_t)-1 ? -1 : (int)uid, gid == (gid_t)-1 ? -1 : (int)gid);

  return change_owner_or_mode(path, fi, "chown", value, TRUE, uid, gid, 0);
}

static int
sim_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
  g_autofree char *real = NULL;
  VxmSimNode *node;
  int res = 0;

  vxm_sim_host_lock(the_host);
  node = node_for(path, fi, &real);
  if (node == NULL)
    res = -ENOENT;
  else if (real != NULL)
    res = -EROFS;
  else if (tv[1].tv_nsec == UTIME_NOW)
    node->mtime_us = g_get_real_time();
  else if (tv[1].tv_nsec != UTIME_OMIT)
    node->mtime_us = tv[1].tv_sec * G_USEC_PER_SEC + tv[1].tv_nsec / 1000;
  vxm_sim_host_unlock(the_host);
  return res;
}

static int
sim_statfs(const char *path, struct statvfs *st)
{
  memset(st, 0, sizeof *st);
  st->f_bsize = st->f_frsize = 4096;
  st->f_blocks = 1 << 20;
  st->f_bfree = st->f_bavail = 1 << 19;
  st->f_files = 1 << 20;
  st->f_ffree = st->f_favail = 1 << 19;
  st->f_namemax = 255;
  return 0;
}

static int
sim_release(const char *path, struct fuse_file_info *fi)
{
  handle_free((Handle *)(uintptr_t)fi->fh);
  fi->fh = 0;
  return 0;
}

static int
sim_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
  return 0;
}

static int
sim_flush(const char *path, struct fuse_file_info *fi)
{
  return 0;
}

/* A modelled device (node->device_ops) answers its ioctls; on any other node every ioctl is
 * logged and refused like on a plain file. A FUSE regular file only gets an ioctl's argument
 * through its size (_IOC_SIZE): an _IOW ioctl that passes a value instead of a pointer
 * (EVIOCGRAB 1) fails with EFAULT in the kernel before it reaches us. */
static int
sim_ioctl(const char *path, unsigned int cmd, void *arg, struct fuse_file_info *fi,
          unsigned int flags, void *data)
{
  Handle *h = (Handle *)(uintptr_t)fi->fh;
  const VxmSimDeviceOps *ops;
  g_autofree char *value = NULL;
  g_autofree char *op_path = NULL;
  unsigned long by_value = (unsigned long)(uintptr_t)arg;
  gboolean fired = FALSE;
  int res;

  if (h == NULL || h->node == NULL)
    return -ENOTTY;
  ops = h->node->device_ops;
  /* an _IO ioctl carries its argument by value (I2C_SLAVE 0x37): hand the device that value */
  if (_IOC_DIR(cmd) == _IOC_NONE && data == NULL)
    data = &by_value;
  if (ops != NULL && ops->ioctl_name != NULL)
    value = ops->ioctl_name(cmd, data, _IOC_SIZE(cmd));
  if (value == NULL)
    value = g_strdup_printf("0x%x", cmd);
  vxm_sim_host_lock(the_host);
  op_path = path_of(path, h->node);
  vxm_sim_host_unlock(the_host);
  res = vxm_sim_host_fault_begin(the_host, "ioctl", op_path, NULL, value, -1, &fired);
  if (res == 0)
    res = ops != NULL && ops->ioctl != NULL
              ? ops->ioctl(h->node, h->client, cmd, data, _IOC_SIZE(cmd))
              : -ENOTTY;
  if (fired || (h->node->flags & VXM_SIM_NODE_FLAG_DEVICE))
    vxm_sim_host_log(the_host, "ioctl", op_path, value, -1, res < 0 ? res : 0);
  return res;
}

static int
sim_poll(const char *path, struct fuse_file_info *fi, struct fuse_pollhandle *ph,
         unsigned *reventsp)
{
  Handle *h = (Handle *)(uintptr_t)fi->fh;

  if (h != NULL && h->node != NULL && h->node->device_ops != NULL &&
      h->node->device_ops->poll != NULL) {
    *reventsp = h->node->device_ops->poll(h->node, h->client, ph);
    return 0;
  }
  if (ph != NULL)
    fuse_pollhandle_destroy(ph);
  *reventsp = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM; /* a plain file is always ready */
  return 0;
}

static void
poll_wake(gpointer waker)
{
  fuse_notify_poll(waker);
  fuse_pollhandle_destroy(waker);
}

static void
poll_drop(gpointer waker)
{
  fuse_pollhandle_destroy(waker);
}

static const struct fuse_operations sim_operations = {
    .init = sim_init,
    .destroy = sim_destroy,
    .getattr = sim_getattr,
    .readlink = sim_readlink,
    .opendir = sim_opendir,
    .readdir = sim_readdir,
    .releasedir = sim_releasedir,
    .open = sim_open,
    .read = sim_read,
    .write = sim_write,
    .truncate = sim_truncate,
    .create = sim_create,
    .mknod = sim_mknod,
    .mkdir = sim_mkdir,
    .symlink = sim_symlink,
    .unlink = sim_unlink,
    .rmdir = sim_rmdir,
    .rename = sim_rename,
    .link = sim_link,
    .chmod = sim_chmod,
    .chown = sim_chown,
    .utimens = sim_utimens,
    .statfs = sim_statfs,
    .release = sim_release,
    .fsync = sim_fsync,
    .flush = sim_flush,
    .ioctl = sim_ioctl,
    .poll = sim_poll,
};

int
vxm_sim_fuse_run(VxmSimHost *host, const char *mountpoint, gboolean foreground, gboolean debug,
                 const char *extra_options)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
  int status;
  /* the thread limits set: libfuse 3.14's fuse_main otherwise passes its unset (-1) idle-thread
   * limit on and prints "Ignoring invalid max threads value 4294967295" at every mount */
  g_autoptr(GString) options =
      g_string_new("default_permissions,fsname=vxm-simhost,"
                   "subtype=vxm-simhost,auto_unmount,max_threads=64,max_idle_threads=16");

  the_host = host;
  host->should_abort = should_abort;
  host->poll_wake = poll_wake;
  host->poll_drop = poll_drop;
  g_free(host->mountpoint);
  host->mountpoint = realpath(mountpoint, NULL);
  /* allow_other lets the unprivileged test user in; only root may set it without fuse.conf. */
  if (geteuid() == 0)
    g_string_append(options, ",allow_other");
  if (extra_options != NULL && extra_options[0] != '\0')
    g_string_append_printf(options, ",%s", extra_options);
  g_ptr_array_add(args, g_strdup("vxm-simhost"));
  if (foreground)
    g_ptr_array_add(args, g_strdup("-f"));
  if (debug)
    g_ptr_array_add(args, g_strdup("-d"));
  g_ptr_array_add(args, g_strdup("-o"));
  g_ptr_array_add(args, g_strdup(options->str));
  g_ptr_array_add(args, g_strdup(mountpoint));
  g_ptr_array_add(args, NULL);
  open_handles = g_hash_table_new(g_direct_hash, g_direct_equal);
  status = fuse_main(args->len - 1, (char **)args->pdata, &sim_operations, host) == 0 ? 0 : 1;
  {
    GList *left = g_hash_table_get_keys(open_handles);

    for (GList *l = left; l != NULL; l = l->next)
      handle_free(l->data);
    g_list_free(left);
  }
  g_clear_pointer(&open_handles, g_hash_table_unref);
  return status;
}
