/* Tests of the Looking Glass shared memory: the size formula, /dev/kvmfr0 preferred, and the
 * safe creation of /dev/shm/looking-glass under a --root tree: size, mode, owner, a planted
 * symbolic link refused (its target untouched), a file of another owner refused, removal,
 * and the journal's undo. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "memory/vxm-looking-glass.h"
#include "vm/vxm-vm-config.h"
#include "vxm-test-util.h"

#define MIB       (G_GUINT64_CONSTANT(1) << 20)
#define OTHER_UID 4243

typedef struct {
  char *root;
  VxmHostfs *hostfs;
  char *shm_file; /* the local path of /dev/shm/looking-glass */
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
  f->root = vxm_test_mkdtemp();
  f->hostfs = vxm_hostfs_new(f->root);
  vxm_test_write_file(f->root, "dev/shm", NULL);
  g_assert_cmpint(chmod(vxm_hostfs_get_root(f->hostfs), 0755), ==, 0);
  {
    g_autofree char *shm = vxm_hostfs_path(f->hostfs, "/dev/shm");
    g_assert_cmpint(chmod(shm, 01777), ==, 0); /* like the real one: sticky, world-writable */
  }
  f->shm_file = vxm_hostfs_path(f->hostfs, "/dev/shm/looking-glass");
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
  vxm_test_rm_rf(f->root);
  g_free(f->root);
  g_free(f->shm_file);
  g_object_unref(f->hostfs);
}

static void
test_size_formula(void)
{
  g_autoptr(VxmVmConfig) config = vxm_vm_config_new("win11");

  /* Looking Glass's own examples */
  g_assert_cmpuint(vxm_looking_glass_size_for_resolution(1920, 1080), ==, 32 * MIB);
  g_assert_cmpuint(vxm_looking_glass_size_for_resolution(2560, 1440), ==, 64 * MIB);
  g_assert_cmpuint(vxm_looking_glass_size_for_resolution(3840, 2160), ==, 128 * MIB);
  /* 1920x1200: 17.6 MiB + 10 = 27.6 -> 32; 3440x1440 ultrawide: 37.8 + 10 -> 64 */
  g_assert_cmpuint(vxm_looking_glass_size_for_resolution(1920, 1200), ==, 32 * MIB);
  g_assert_cmpuint(vxm_looking_glass_size_for_resolution(3440, 1440), ==, 64 * MIB);
  /* 5120x2160: 84.4 + 10 -> 128; 7680x4320: 253.1 + 10 -> 512 */
  g_assert_cmpuint(vxm_looking_glass_size_for_resolution(5120, 2160), ==, 128 * MIB);
  g_assert_cmpuint(vxm_looking_glass_size_for_resolution(7680, 4320), ==, 512 * MIB);

  g_assert_cmpuint(vxm_looking_glass_size_from_config(config, 1920, 1080), ==, 0); /* off */
  config->looking_glass_auto = TRUE;
  g_assert_cmpuint(vxm_looking_glass_size_from_config(config, 2560, 1440), ==, 64 * MIB);
  g_assert_cmpuint(vxm_looking_glass_size_from_config(config, 0, 0), ==, 128 * MIB);
  config->looking_glass_auto = FALSE;
  config->looking_glass_bytes = 32 * MIB;
  g_assert_cmpuint(vxm_looking_glass_size_from_config(config, 3840, 2160), ==, 32 * MIB);
}

static void
test_create_and_remove(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmLookingGlass) lg = NULL;
  uid_t uid = geteuid();
  gid_t gid = getegid();
  struct stat st;

  if (uid == 0) {
    uid = 4242; /* root prepares it for the VM's user */
    gid = 4242;
  }
  lg = vxm_looking_glass_prepare(f->hostfs, 32 * MIB, uid, gid, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpint(lg->kind, ==, VXM_LOOKING_GLASS_SHM);
  g_assert_cmpstr(lg->host_path, ==, "/dev/shm/looking-glass");
  g_assert_cmpstr(lg->local_path, ==, f->shm_file);
  g_assert_cmpuint(lg->size, ==, 32 * MIB);
  g_assert_cmpint(lstat(f->shm_file, &st), ==, 0);
  g_assert_true(S_ISREG(st.st_mode));
  g_assert_cmpint(st.st_size, ==, 32 * MIB);
  g_assert_cmpint(st.st_mode & 07777, ==, 0660);
  g_assert_cmpint(st.st_uid, ==, uid);
  g_assert_cmpint(st.st_gid, ==, gid);

  /* a stale file of the same user (left by a crash) is taken over and resized */
  {
    g_autoptr(VxmLookingGlass) again =
        vxm_looking_glass_prepare(f->hostfs, 64 * MIB, uid, gid, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpint(lstat(f->shm_file, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 64 * MIB);
    g_assert_true(again->owned);
  }

  g_assert_true(vxm_looking_glass_remove(lg, f->hostfs, NULL, &error));
  g_assert_no_error(error);
  g_assert_cmpint(lstat(f->shm_file, &st), ==, -1);
  g_assert_cmpint(errno, ==, ENOENT);
  /* idempotent */
  g_assert_true(vxm_looking_glass_remove(lg, f->hostfs, NULL, &error));
}

/* Someone planted /dev/shm/looking-glass -> a file vxm must never write: refused, the target
 * keeps its content, size and mode, the link stays for the admin to see. */
static void
test_planted_symlink(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmLookingGlass) lg = NULL;
  g_autofree char *victim = g_build_filename(f->root, "etc-shadow", NULL);
  g_autofree char *content = NULL;
  struct stat st;

  g_assert_true(g_file_set_contents(victim, "precious\n", -1, NULL));
  g_assert_cmpint(chmod(victim, 0600), ==, 0);
  g_assert_cmpint(symlink(victim, f->shm_file), ==, 0);

  lg = vxm_looking_glass_prepare(f->hostfs, 32 * MIB, geteuid(), getegid(), NULL, &error);
  g_assert_null(lg);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_REFUSED);
  if (strstr(error->message, "/dev/shm/looking-glass") == NULL ||
      strstr(error->message, "symbolic link") == NULL || strstr(error->message, victim) == NULL)
    g_error("unexpected message: %s", error->message);
  g_assert_true(g_file_get_contents(victim, &content, NULL, NULL));
  g_assert_cmpstr(content, ==, "precious\n");
  g_assert_cmpint(stat(victim, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 07777, ==, 0600);
  g_assert_cmpint(lstat(f->shm_file, &st), ==, 0);
  g_assert_true(S_ISLNK(st.st_mode));

  /* a dangling link is no better */
  g_assert_cmpint(unlink(victim), ==, 0);
  g_clear_error(&error);
  lg = vxm_looking_glass_prepare(f->hostfs, 32 * MIB, geteuid(), getegid(), NULL, &error);
  g_assert_null(lg);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_REFUSED);
  g_assert_false(g_file_test(victim, G_FILE_TEST_EXISTS));
}

/* A file someone else made (owned by another uid) is never reused, resized or removed. */
static void
test_foreign_owner(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmLookingGlass) lg = NULL;
  struct stat st;

  if (!vxm_test_require_root())
    return;
  g_assert_true(g_file_set_contents(f->shm_file, "theirs", -1, NULL));
  g_assert_cmpint(chown(f->shm_file, OTHER_UID, OTHER_UID), ==, 0);
  g_assert_cmpint(chmod(f->shm_file, 0666), ==, 0);

  lg = vxm_looking_glass_prepare(f->hostfs, 32 * MIB, 4242, 4242, NULL, &error);
  g_assert_null(lg);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_REFUSED);
  if (strstr(error->message, "uid 4243") == NULL || strstr(error->message, "uid 4242") == NULL)
    g_error("unexpected message: %s", error->message);
  g_assert_cmpint(stat(f->shm_file, &st), ==, 0);
  g_assert_cmpint(st.st_uid, ==, OTHER_UID);
  g_assert_cmpint(st.st_size, ==, 6);
  g_assert_cmpint(st.st_mode & 07777, ==, 0666);
}

/* Other things that are not a plain file of the user's: a folder, a hard-linked file. */
static void
test_not_plain(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmLookingGlass) lg = NULL;
  g_autofree char *other = g_build_filename(f->root, "dev/shm/other", NULL);

  g_assert_cmpint(mkdir(f->shm_file, 0700), ==, 0);
  lg = vxm_looking_glass_prepare(f->hostfs, 32 * MIB, geteuid(), getegid(), NULL, &error);
  g_assert_null(lg);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_REFUSED);
  g_clear_error(&error);
  g_assert_cmpint(rmdir(f->shm_file), ==, 0);

  g_assert_true(g_file_set_contents(other, "x", -1, NULL));
  g_assert_cmpint(link(other, f->shm_file), ==, 0);
  lg = vxm_looking_glass_prepare(f->hostfs, 32 * MIB, geteuid(), getegid(), NULL, &error);
  g_assert_null(lg);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_REFUSED);
  g_assert_nonnull(strstr(error->message, "hard links"));
}

/* The file was replaced after vxm made it: remove leaves the new one alone. */
static void
test_remove_replaced(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmLookingGlass) lg = NULL;

  lg = vxm_looking_glass_prepare(f->hostfs, 32 * MIB, geteuid(), getegid(), NULL, &error);
  g_assert_no_error(error);
  {
    /* moved aside (still there, so the new file cannot reuse its inode number) */
    g_autofree char *aside = g_strconcat(f->shm_file, ".old", NULL);
    g_assert_cmpint(rename(f->shm_file, aside), ==, 0);
  }
  g_assert_true(g_file_set_contents(f->shm_file, "new", -1, NULL));
  g_assert_true(vxm_looking_glass_remove(lg, f->hostfs, NULL, &error));
  g_assert_true(g_file_test(f->shm_file, G_FILE_TEST_EXISTS));
}

static void
test_kvmfr(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmLookingGlass) lg = NULL;

  vxm_test_write_file(f->root, "dev/kvmfr0", "");
  vxm_test_write_file(f->root, "sys/module/kvmfr/parameters/static_size_mb", "64\n");
  lg = vxm_looking_glass_prepare(f->hostfs, 32 * MIB, geteuid(), getegid(), NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpint(lg->kind, ==, VXM_LOOKING_GLASS_KVMFR);
  g_assert_cmpstr(lg->host_path, ==, "/dev/kvmfr0");
  g_assert_cmpuint(lg->size, ==, 32 * MIB); /* what QEMU maps of the larger device */
  g_assert_false(lg->owned);
  g_assert_false(g_file_test(f->shm_file, G_FILE_TEST_EXISTS));
  g_assert_true(vxm_looking_glass_remove(lg, f->hostfs, NULL, &error));
  g_assert_true(vxm_hostfs_exists(f->hostfs, "/dev/kvmfr0"));
}

/* The refusal's message for a /dev/kvmfr0 smaller than @size (valid until the next call). */
static const char *
error_message_for(Fixture *f, guint64 size)
{
  static char *message;
  g_autoptr(GError) error = NULL;

  g_assert_false(vxm_looking_glass_check_kvmfr(f->hostfs, size, &error));
  g_free(message);
  message = g_strdup(error->message);
  return message;
}

/* /dev/kvmfr0 smaller than asked: refused with both sizes and the module option, and no
 * /dev/shm file is made instead. */
static void
test_kvmfr_too_small(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmLookingGlass) lg = NULL;

  vxm_test_write_file(f->root, "dev/kvmfr0", "");
  vxm_test_write_file(f->root, "sys/module/kvmfr/parameters/static_size_mb", "32,128\n");
  lg = vxm_looking_glass_prepare(f->hostfs, 64 * MIB, geteuid(), getegid(), NULL, &error);
  g_assert_null(lg);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_REFUSED);
  if (strstr(error->message, "/dev/kvmfr0 is 32 MiB but Looking Glass needs 64 MiB") == NULL ||
      strstr(error->message, "static_size_mb=64") == NULL)
    g_error("unexpected message: %s", error->message);
  g_assert_false(g_file_test(f->shm_file, G_FILE_TEST_EXISTS));
  g_clear_error(&error);
  g_assert_false(vxm_looking_glass_check_kvmfr(f->hostfs, 64 * MIB, &error));
  g_clear_error(&error);
  g_assert_true(vxm_looking_glass_check_kvmfr(f->hostfs, 32 * MIB, &error));
  g_assert_no_error(error);
  /* on an immutable root the options file goes into the lasting layer */
  g_assert_null(strstr(error_message_for(f, 64 * MIB), "overlayroot-chroot"));
  vxm_test_write_file(f->root, "proc/self/mountinfo",
                      "23 1 0:22 / /media/root-rw rw - tmpfs tmpfs-root rw\n"
                      "24 1 0:23 / / rw - overlay overlayroot rw,lowerdir=/media/root-ro,"
                      "upperdir=/media/root-rw/overlay,workdir=/media/root-rw/w\n");
  if (strstr(error_message_for(f, 64 * MIB),
             "then reload it; sudo overlayroot-chroot (this root is an overlay on tmpfs") == NULL ||
      strstr(error_message_for(f, 64 * MIB),
             "put 'options kvmfr static_size_mb=64' in /etc/modprobe.d/kvmfr.conf there") == NULL)
    g_error("no lasting steps: %s", error_message_for(f, 64 * MIB));
}

/* After a crash, the journal's undo removes the file vxm made, and only that file. */
static void
test_journal_undo(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmLookingGlass) lg = NULL;
  g_autoptr(VxmJournal) journal = NULL;
  g_autoptr(VxmJournal) loaded = NULL;
  VxmJournalUndoContext ctx = {0};
  VxmJournalEntry *entry;

  vxm_looking_glass_register_journal_kind();
  journal = vxm_journal_new(f->hostfs, "win11", &error);
  g_assert_no_error(error);
  lg = vxm_looking_glass_prepare(f->hostfs, 32 * MIB, geteuid(), getegid(), journal, &error);
  g_assert_no_error(error);
  loaded = vxm_journal_load(f->hostfs, "win11", &error);
  g_assert_no_error(error);
  entry = vxm_journal_get_entry(loaded, 0);
  g_assert_cmpstr(entry->kind, ==, "looking-glass");
  g_assert_cmpint(entry->state, ==, VXM_JOURNAL_STATE_DONE);
  ctx.hostfs = f->hostfs;
  g_assert_true(vxm_journal_undo(loaded, &ctx, NULL, &error));
  g_assert_no_error(error);
  g_assert_false(g_file_test(f->shm_file, G_FILE_TEST_EXISTS));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/memory/looking-glass/size", test_size_formula);
#define ADD(name, func) g_test_add(name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD("/vxm/memory/looking-glass/create-and-remove", test_create_and_remove);
  ADD("/vxm/memory/looking-glass/planted-symlink-refused", test_planted_symlink);
  ADD("/vxm/memory/looking-glass/foreign-owner-refused", test_foreign_owner);
  ADD("/vxm/memory/looking-glass/not-a-plain-file-refused", test_not_plain);
  ADD("/vxm/memory/looking-glass/remove-leaves-a-replacement", test_remove_replaced);
  ADD("/vxm/memory/looking-glass/kvmfr-preferred", test_kvmfr);
  ADD("/vxm/memory/looking-glass/kvmfr-too-small", test_kvmfr_too_small);
  ADD("/vxm/memory/looking-glass/journal-undo", test_journal_undo);
  return g_test_run();
}
