/* vxm-looking-glass: sizes, creates and removes the Looking Glass shared memory. */
#include "vxm-looking-glass.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-host-system.h"
#include "common/vxm-util.h"
#include "platform/vxm-kernel-module.h"
#include "vm/vxm-vm-config.h"

#define KVMFR_CONF VXM_HOST_ETC_MODPROBE_D "/kvmfr.conf"

#define MIB (G_GUINT64_CONSTANT(1) << 20)

guint64
vxm_looking_glass_size_for_resolution(guint width, guint height)
{
  /* two frames of 4 bytes a pixel, in MiB rounded up, plus 10 MiB, to a power of two */
  guint64 frames = (guint64)width * height * 4 * 2;
  guint64 mib = (frames + MIB - 1) / MIB + 10;
  guint64 size = 1;

  while (size < mib)
    size <<= 1;
  return size * MIB;
}

guint64
vxm_looking_glass_size_from_config(const VxmVmConfig *config, guint width, guint height)
{
  if (config->looking_glass_auto) {
    if (width == 0 || height == 0) {
      width = VXM_LOOKING_GLASS_DEFAULT_WIDTH;
      height = VXM_LOOKING_GLASS_DEFAULT_HEIGHT;
    }
    return vxm_looking_glass_size_for_resolution(width, height);
  }
  return config->looking_glass_bytes;
}

void
vxm_looking_glass_free(VxmLookingGlass *self)
{
  if (self == NULL)
    return;
  g_free(self->host_path);
  g_free(self->local_path);
  g_free(self);
}

static char *
describe_uid(uid_t uid)
{
  struct passwd *pw = getpwuid(uid);
  if (pw != NULL)
    return g_strdup_printf("%s (uid %u)", pw->pw_name, (guint)uid);
  return g_strdup_printf("uid %u", (guint)uid);
}

/* The kvmfr module's static_size_mb for /dev/kvmfr0 (the first of its list), in bytes; 0 when
 * unknown. */
static guint64
kvmfr_size(VxmHostfs *hostfs)
{
  g_autofree char *param =
      vxm_hostfs_read_attr(hostfs, VXM_HOST_SYS_MODULES "/kvmfr/parameters/static_size_mb", NULL);
  g_auto(GStrv) sizes = NULL;
  guint64 mib;

  if (param == NULL)
    return 0;
  sizes = g_strsplit(param, ",", 2);
  if (sizes[0] == NULL || !vxm_parse_uint64(g_strstrip(sizes[0]), 10, &mib) || mib == 0 ||
      mib > G_MAXUINT64 / MIB)
    return 0;
  return mib * MIB;
}

gboolean
vxm_looking_glass_check_kvmfr(VxmHostfs *hostfs, guint64 size, GError **error)
{
  guint64 have;
  g_autofree char *want_text = NULL;
  g_autofree char *have_text = NULL;
  g_autofree char *options = NULL;
  g_autofree char *inside = NULL;
  g_autofree char *lasting = NULL;

  if (!vxm_hostfs_exists(hostfs, VXM_HOST_DEV_KVMFR0))
    return TRUE;
  have = kvmfr_size(hostfs);
  if (have == 0 || have >= size)
    return TRUE;
  want_text = vxm_format_bytes(size);
  have_text = vxm_format_bytes(have);
  options = g_strdup_printf("options kvmfr static_size_mb=%" G_GUINT64_FORMAT, size / MIB);
  /* on an immutable root the options file must go into the lasting layer, or the next boot
   * loads kvmfr with the old size again */
  inside = g_strdup_printf("put '%s' in " KVMFR_CONF, options);
  lasting = vxm_host_system_lasting_steps(hostfs, inside);
  g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
              "%s is %s but Looking Glass needs %s ([memory] looking_glass): QEMU cannot map "
              "it; load the kvmfr module with static_size_mb=%" G_GUINT64_FORMAT
              " (%s in " KVMFR_CONF ", then reload it%s%s), or set a smaller looking_glass",
              VXM_HOST_DEV_KVMFR0, have_text, want_text, size / MIB, options,
              lasting != NULL ? "; " : "", lasting != NULL ? lasting : "");
  return FALSE;
}

/* /dev/kvmfr0: QEMU maps @size bytes of it (a larger device is fine). */
static VxmLookingGlass *
prepare_kvmfr(VxmHostfs *hostfs, guint64 size, VxmJournal *journal, GError **error)
{
  VxmLookingGlass *self;

  /* configured but not loaded: load it (journaled, unloaded on teardown) with the options of
   * /etc/modprobe.d; the simulated host has no kvmfr to load */
  if (vxm_hostfs_is_real(hostfs) && !vxm_kernel_module_is_loaded(hostfs, "kvmfr") &&
      !vxm_kernel_module_ensure(hostfs, "kvmfr", "for Looking Glass (looking_glass=kvmfr)", journal,
                                NULL, error))
    return NULL;
  if (!vxm_looking_glass_check_kvmfr(hostfs, size, error))
    return NULL;
  self = g_new0(VxmLookingGlass, 1);
  self->kind = VXM_LOOKING_GLASS_KVMFR;
  self->host_path = g_strdup(VXM_HOST_DEV_KVMFR0);
  self->local_path = vxm_hostfs_path(hostfs, VXM_HOST_DEV_KVMFR0);
  self->size = size;
  self->journal_index = -1;
  return self;
}

static gboolean
refuse(GError **error, const char *host_path, const char *why, const char *fix)
{
  g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED, "refusing to use %s for Looking Glass: %s; %s",
              host_path, why, fix);
  return FALSE;
}

/* Refuses an existing entry that is not a plain file with one link owned by @uid. */
static gboolean
check_existing(const struct stat *st, int dirfd, const char *host_path, uid_t uid, GError **error)
{
  if (S_ISLNK(st->st_mode)) {
    char target[256] = "?";
    ssize_t n = readlinkat(dirfd, VXM_LOOKING_GLASS_SHM_NAME, target, sizeof(target) - 1);
    g_autofree char *why = NULL;
    if (n > 0)
      target[n] = '\0';
    why = g_strdup_printf("it is a symbolic link (to %s), which vxm never follows", target);
    return refuse(error, host_path, why,
                  "someone may be trying to make vxm write elsewhere: remove the link (as root) "
                  "and start again");
  }
  if (!S_ISREG(st->st_mode))
    return refuse(error, host_path, "it is not a plain file", "remove it and start again");
  if (st->st_uid != uid) {
    g_autofree char *owner = describe_uid(st->st_uid);
    g_autofree char *user = describe_uid(uid);
    g_autofree char *why = g_strdup_printf("it belongs to %s, not to %s", owner, user);
    return refuse(error, host_path, why,
                  "another program or user made it (a Looking Glass client, another VM?): stop "
                  "it, or remove the file if it is stale");
  }
  if (st->st_nlink != 1)
    return refuse(error, host_path, "it has several hard links", "remove it and start again");
  return TRUE;
}

/* Opens the existing file without following a link, and checks it can be ours: looked at
 * first (lstat-like), then opened with O_NOFOLLOW and checked to be the same inode, so a swap
 * between the two is caught. */
static int
open_existing(int dirfd, const char *host_path, uid_t uid, GError **error)
{
  vxm_autofd int fd = -1;
  struct stat st, st_open;

  if (fstatat(dirfd, VXM_LOOKING_GLASS_SHM_NAME, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    vxm_error_set_from_errno(error, errno, "cannot stat %s", host_path);
    return -1;
  }
  if (!check_existing(&st, dirfd, host_path, uid, error))
    return -1;
  fd = openat(dirfd, VXM_LOOKING_GLASS_SHM_NAME,
              O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ELOOP)
      refuse(error, host_path, "it became a symbolic link while vxm looked at it",
             "someone may be trying to make vxm write elsewhere: remove it and start again");
    else
      vxm_error_set_from_errno(error, errno, "cannot open %s", host_path);
    return -1;
  }
  if (fstat(fd, &st_open) != 0) {
    vxm_error_set_from_errno(error, errno, "cannot stat %s", host_path);
    return -1;
  }
  if (st_open.st_dev != st.st_dev || st_open.st_ino != st.st_ino) {
    refuse(error, host_path, "it was replaced while vxm looked at it", "start again");
    return -1;
  }
  if (!check_existing(&st_open, dirfd, host_path, uid, error))
    return -1;
  return g_steal_fd(&fd);
}

/* After a failed prepare: remove what was made (if anything) and close the journal entry. */
static void
undo_failed_prepare(VxmLookingGlass *self, VxmHostfs *hostfs, VxmJournal *journal)
{
  g_autoptr(GError) local_error = NULL;

  if (self->owned) {
    if (!vxm_looking_glass_remove(self, hostfs, journal, &local_error))
      g_warning("%s", local_error->message);
  } else if (journal != NULL && self->journal_index >= 0) {
    if (!vxm_journal_finish(journal, (guint)self->journal_index, VXM_JOURNAL_STATE_UNDONE,
                            "not created", &local_error))
      g_warning("%s", local_error->message);
  }
}

VxmLookingGlass *
vxm_looking_glass_prepare(VxmHostfs *hostfs, guint64 size, uid_t uid, gid_t gid,
                          VxmJournal *journal, GError **error)
{
  g_autoptr(VxmLookingGlass) self = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *host_path = g_strdup(VXM_HOST_DEV_SHM "/" VXM_LOOKING_GLASS_SHM_NAME);
  vxm_autofd int dirfd = -1;
  vxm_autofd int fd = -1;
  struct stat st;

  if (size == 0 || (size & (size - 1)) != 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "Looking Glass needs a power-of-two size, not %" G_GUINT64_FORMAT " bytes", size);
    return NULL;
  }
  if (vxm_hostfs_exists(hostfs, VXM_HOST_DEV_KVMFR0))
    return prepare_kvmfr(hostfs, size, journal, error);

  self = g_new0(VxmLookingGlass, 1);
  self->kind = VXM_LOOKING_GLASS_SHM;
  self->host_path = g_strdup(host_path);
  self->local_path = vxm_hostfs_path(hostfs, host_path);
  self->size = size;
  self->journal_index = -1;

  dir = vxm_hostfs_path(hostfs, VXM_HOST_DEV_SHM);
  dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) {
    vxm_error_set_from_errno(error, errno, "cannot open %s for Looking Glass", VXM_HOST_DEV_SHM);
    return NULL;
  }
  if (journal != NULL) {
    g_autoptr(JsonObject) data = json_object_new();
    guint index;
    json_object_set_string_member(data, "path", host_path);
    if (!vxm_journal_begin(journal, VXM_LOOKING_GLASS_JOURNAL_KIND, data, &index, error)) {
      g_prefix_error(error, "cannot journal %s: ", host_path);
      return NULL;
    }
    self->journal_index = (gint)index;
  }

  fd = openat(dirfd, VXM_LOOKING_GLASS_SHM_NAME,
              O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0 && errno == EEXIST)
    fd = open_existing(dirfd, host_path, uid, error);
  else if (fd < 0)
    vxm_error_set_from_errno(error, errno, "cannot create %s", host_path);
  if (fd < 0) {
    self->owned = FALSE;
    undo_failed_prepare(self, hostfs, journal);
    return NULL;
  }
  if (fstat(fd, &st) != 0) {
    vxm_error_set_from_errno(error, errno, "cannot stat %s", host_path);
    undo_failed_prepare(self, hostfs, journal);
    return NULL;
  }
  self->owned = TRUE;
  self->dev = st.st_dev;
  self->ino = st.st_ino;
  if (journal != NULL) {
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, (guint)self->journal_index);
    json_object_set_int_member(entry->data, "dev", (gint64)st.st_dev);
    json_object_set_int_member(entry->data, "ino", (gint64)st.st_ino);
  }
  if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) != 0) {
    g_autofree char *user = describe_uid(uid);
    vxm_error_set_from_errno(error, errno, "cannot give %s to %s", host_path, user);
    vxm_close_fdp(&fd);
    undo_failed_prepare(self, hostfs, journal);
    return NULL;
  }
  if (fchmod(fd, 0660) != 0 || ftruncate(fd, (off_t)size) != 0) {
    vxm_error_set_from_errno(
        error, errno, "cannot set up %s (mode 0660, %" G_GUINT64_FORMAT " bytes)", host_path, size);
    vxm_close_fdp(&fd);
    undo_failed_prepare(self, hostfs, journal);
    return NULL;
  }
  if (journal != NULL &&
      !vxm_journal_finish(journal, (guint)self->journal_index, VXM_JOURNAL_STATE_DONE, NULL, error))
    return NULL;
  return g_steal_pointer(&self);
}

/* rm /dev/shm/looking-glass, if it is still the file (@dev, @ino). *out_removed tells. */
static gboolean
remove_if_same(VxmHostfs *hostfs, dev_t dev, ino_t ino, gboolean *out_removed, GError **error)
{
  g_autofree char *dir = vxm_hostfs_path(hostfs, VXM_HOST_DEV_SHM);
  const char *host_path = VXM_HOST_DEV_SHM "/" VXM_LOOKING_GLASS_SHM_NAME;
  vxm_autofd int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct stat st;

  *out_removed = FALSE;
  if (dirfd < 0)
    return vxm_error_set_from_errno(error, errno, "cannot open %s", VXM_HOST_DEV_SHM);
  if (fstatat(dirfd, VXM_LOOKING_GLASS_SHM_NAME, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT)
      return TRUE;
    return vxm_error_set_from_errno(error, errno, "cannot stat %s", host_path);
  }
  /* In the sticky /dev/shm only its owner or root can replace the file between the check and
   * the unlink. */
  if (st.st_dev != dev || st.st_ino != ino)
    return TRUE;
  if (unlinkat(dirfd, VXM_LOOKING_GLASS_SHM_NAME, 0) != 0 && errno != ENOENT)
    return vxm_error_set_from_errno(error, errno, "cannot remove %s", host_path);
  *out_removed = TRUE;
  return TRUE;
}

gboolean
vxm_looking_glass_remove(VxmLookingGlass *self, VxmHostfs *hostfs, VxmJournal *journal,
                         GError **error)
{
  gboolean removed;

  if (!self->owned)
    return TRUE;
  if (!remove_if_same(hostfs, self->dev, self->ino, &removed, error))
    return FALSE;
  self->owned = FALSE;
  if (journal != NULL && self->journal_index >= 0)
    return vxm_journal_finish(journal, (guint)self->journal_index, VXM_JOURNAL_STATE_UNDONE,
                              removed ? "removed" : "already gone or replaced", error);
  return TRUE;
}

static gboolean
undo_looking_glass(const VxmJournalUndoContext *ctx, const VxmJournalEntry *entry,
                   char **out_message, GError **error)
{
  gint64 dev = json_object_get_int_member_with_default(entry->data, "dev", -1);
  gint64 ino = json_object_get_int_member_with_default(entry->data, "ino", -1);
  gboolean removed;

  /* An intent without dev and ino: the file may not exist, or be someone else's; leave it. */
  if (dev < 0 || ino < 0)
    return TRUE;
  if (!remove_if_same(ctx->hostfs, (dev_t)dev, (ino_t)ino, &removed, error))
    return FALSE;
  if (removed)
    *out_message = g_strdup_printf("removed %s", VXM_HOST_DEV_SHM "/" VXM_LOOKING_GLASS_SHM_NAME);
  return TRUE;
}

void
vxm_looking_glass_register_journal_kind(void)
{
  vxm_journal_register_kind(VXM_LOOKING_GLASS_JOURNAL_KIND, undo_looking_glass);
}
