#include "vxm-test-users.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vxm-test-util.h"

static GPtrArray *users;  /* names this program made */
static GPtrArray *groups; /* test-made groups this program uses (see shared_group_use) */
static void (*cleanup_first)(void);

/* SIGKILL every process of @uid (a test user's supervisor, QEMU, swtpm), each by its pid.
 * Only processes under this program's root folder: /proc shows the whole machine, and a
 * test run in another root (tools/in-root: its own /etc/passwd) may have given the same uid
 * to its own test user, whose processes are not ours to end. */
static void
kill_processes_of(uid_t uid)
{
  g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
  const char *name;
  struct stat own_root;

  if (stat("/proc/self/root", &own_root) != 0)
    return;
  while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
    g_autofree char *path = g_build_filename("/proc", name, "status", NULL);
    g_autofree char *root = g_build_filename("/proc", name, "root", NULL);
    g_autofree char *text = NULL;
    const char *line;
    guint ruid = G_MAXUINT;
    struct stat st;

    if (!g_ascii_isdigit(name[0]) || stat(root, &st) != 0 || st.st_dev != own_root.st_dev ||
        st.st_ino != own_root.st_ino || !g_file_get_contents(path, &text, NULL, NULL))
      continue;
    line = strstr(text, "\nUid:");
    if (line != NULL && sscanf(line + 5, "%u", &ruid) == 1 && ruid == uid)
      kill((pid_t)g_ascii_strtoll(name, NULL, 10), SIGKILL);
  }
}

/* A group the tests make ("vxm") may be used by several test programs at once (meson runs two
 * in parallel, and helpers run suites side by side): the first makes it, the last deletes it.
 * The count of programs using it is a file in /run/vxm-test-groups (per root: tools/in-root
 * gives each root its own /run, as it gives it its own /etc/group), changed under an flock of
 * that folder. A group that existed before any test made it is never counted or deleted. */
#define SHARED_GROUPS "/run/vxm-test-groups"

static int
shared_groups_lock(void)
{
  int fd;

  if (mkdir(SHARED_GROUPS, 0700) != 0 && errno != EEXIST)
    g_error("cannot make %s: %s", SHARED_GROUPS, g_strerror(errno));
  fd = open(SHARED_GROUPS, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || flock(fd, LOCK_EX) != 0)
    g_error("cannot lock %s: %s", SHARED_GROUPS, g_strerror(errno));
  return fd; /* closing it unlocks */
}

static char *
shared_group_count_path(const char *group)
{
  return g_strdup_printf(SHARED_GROUPS "/%s", group);
}

static guint
shared_group_read(const char *group)
{
  g_autofree char *path = shared_group_count_path(group);
  g_autofree char *text = NULL;

  return g_file_get_contents(path, &text, NULL, NULL) ? (guint)g_ascii_strtoull(text, NULL, 10) : 0;
}

static void
shared_group_write(const char *group, guint count)
{
  g_autofree char *path = shared_group_count_path(group);
  g_autofree char *text = g_strdup_printf("%u\n", count);

  if (count == 0)
    unlink(path);
  else if (!g_file_set_contents(path, text, -1, NULL))
    g_error("cannot write %s", path);
}

/* This program stops using the test-made @group; the last one deletes it. */
static void
shared_group_release(const char *group)
{
  int lock = shared_groups_lock();
  guint count = shared_group_read(group);

  if (count <= 1 && getgrnam(group) != NULL)
    vxm_test_run_account_tool((const char *const[]){"/usr/sbin/groupdel", group, NULL});
  shared_group_write(group, count > 0 ? count - 1 : 0);
  close(lock);
}

static void
remove_all(void)
{
  if (cleanup_first != NULL)
    cleanup_first();
  cleanup_first = NULL;
  for (guint i = 0; users != NULL && i < users->len; i++) {
    const char *user = g_ptr_array_index(users, i);
    struct passwd *pw = getpwnam(user);

    if (pw != NULL)
      kill_processes_of(pw->pw_uid);
    vxm_test_run_account_tool((const char *const[]){"/usr/sbin/userdel", user, NULL});
  }
  for (guint i = 0; groups != NULL && i < groups->len; i++)
    shared_group_release(g_ptr_array_index(groups, i));
  g_clear_pointer(&users, g_ptr_array_unref);
  g_clear_pointer(&groups, g_ptr_array_unref);
}

static void
on_signal(int sig)
{
  remove_all();
  signal(sig, SIG_DFL);
  raise(sig);
}

static void
ensure_cleanup(void)
{
  if (users != NULL)
    return;
  users = g_ptr_array_new_with_free_func(g_free);
  groups = g_ptr_array_new_with_free_func(g_free);
  atexit(remove_all);
  signal(SIGABRT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGTRAP, on_signal); /* g_error() */
}

gboolean
vxm_test_group_add(const char *group, gboolean system)
{
  int lock;
  guint count;
  gboolean made = FALSE;

  ensure_cleanup();
  for (guint i = 0; i < groups->len; i++)
    if (g_str_equal(g_ptr_array_index(groups, i), group))
      return FALSE; /* this program counts already */
  lock = shared_groups_lock();
  count = shared_group_read(group);
  if (getgrnam(group) == NULL) {
    g_assert_cmpint(vxm_test_run_account_tool((const char *const[]){"/usr/sbin/groupadd",
                                                                    system ? "--system" : group,
                                                                    system ? group : NULL, NULL}),
                    ==, 0);
    count = 0; /* a count left by a program that was killed counts no one now */
    made = TRUE;
  } else if (count == 0) {
    close(lock);
    return FALSE; /* the machine's own group: not ours to count or delete */
  }
  shared_group_write(group, count + 1);
  g_ptr_array_add(groups, g_strdup(group));
  close(lock);
  return made;
}

uid_t
vxm_test_user_add(const char *user, const char *group)
{
  struct passwd *pw;

  ensure_cleanup();
  g_ptr_array_add(users, g_strdup(user));
  if (group != NULL)
    g_assert_cmpint(vxm_test_run_account_tool((const char *const[]){"/usr/sbin/useradd", "-M", "-N",
                                                                    "-G", group, user, NULL}),
                    ==, 0);
  else
    g_assert_cmpint(vxm_test_run_account_tool(
                        (const char *const[]){"/usr/sbin/useradd", "-M", "-N", user, NULL}),
                    ==, 0);
  pw = getpwnam(user);
  g_assert_nonnull(pw);
  return pw->pw_uid;
}

static char *binary_dir; /* copies of build binaries the test users can reach */

static void
remove_binary_dir(void)
{
  if (binary_dir != NULL)
    vxm_test_rm_rf(binary_dir);
  g_clear_pointer(&binary_dir, g_free);
}

/* TRUE when every folder above @path lets others through (x for "other"). */
static gboolean
reachable_by_others(const char *path)
{
  g_autofree char *dir = g_path_get_dirname(path);

  for (;;) {
    struct stat st;
    g_autofree char *parent = NULL;

    if (stat(dir, &st) != 0 || (st.st_mode & S_IXOTH) == 0)
      return FALSE;
    if (strcmp(dir, "/") == 0 || strcmp(dir, ".") == 0)
      return TRUE;
    parent = g_path_get_dirname(dir);
    g_free(dir);
    dir = g_steal_pointer(&parent);
  }
}

char *
vxm_test_user_binary(const char *relative)
{
  g_autofree char *built = vxm_test_build_path(relative);
  g_autofree char *base = g_path_get_basename(relative);
  g_autofree char *copy = NULL;
  g_autofree char *data = NULL;
  g_autoptr(GError) error = NULL;
  gsize length = 0;

  if (reachable_by_others(built))
    return g_steal_pointer(&built);
  if (binary_dir == NULL) {
    binary_dir = vxm_test_mkdtemp();
    g_assert_cmpint(chmod(binary_dir, 0755), ==, 0);
    atexit(remove_binary_dir);
  }
  copy = g_build_filename(binary_dir, base, NULL);
  if (g_file_test(copy, G_FILE_TEST_EXISTS))
    return g_steal_pointer(&copy);
  if (!g_file_get_contents(built, &data, &length, &error) ||
      !g_file_set_contents_full(copy, data, (gssize)length, G_FILE_SET_CONTENTS_NONE, 0755, &error))
    g_error("cannot copy %s where the test users can run it (%s): %s", built, binary_dir,
            error->message);
  return g_steal_pointer(&copy);
}

void
vxm_test_users_on_cleanup(void (*func)(void))
{
  cleanup_first = func;
}

void
vxm_test_become_user(gpointer data)
{
  struct passwd *pw = getpwnam(data);

  if (pw == NULL || initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
      setuid(pw->pw_uid) != 0)
    _exit(120);
}
