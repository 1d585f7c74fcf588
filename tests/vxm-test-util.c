#include "vxm-test-util.h"

#include <errno.h>
#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vxm-config.h"

gboolean
vxm_test_require_root(void)
{
  if (geteuid() == 0)
    return TRUE;
  if (g_strcmp0(g_getenv("CI"), "true") == 0) {
    g_test_fail_printf("this test needs root and CI must run it");
    return FALSE;
  }
  g_test_skip("needs root");
  return FALSE;
}

char *
vxm_test_source_path(const char *relative)
{
  const char *src = g_getenv("VXM_SOURCE_DIR");
  return g_build_filename(src ? src : VXM_SOURCE_DIR, relative, NULL);
}

char *
vxm_test_build_path(const char *relative)
{
  const char *build = g_getenv("VXM_BUILD_DIR");
  return g_build_filename(build ? build : VXM_BUILD_DIR, relative, NULL);
}

char *
vxm_test_mkdtemp(void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp("vxm-test-XXXXXX", &error);

  g_assert_no_error(error);
  return dir;
}

static void
rm_rf_at(const char *path)
{
  struct stat st;

  if (lstat(path, &st) != 0)
    return;
  if (S_ISDIR(st.st_mode)) {
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *name;

    while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
      g_autofree char *child = g_build_filename(path, name, NULL);
      rm_rf_at(child);
    }
    rmdir(path);
  } else {
    unlink(path);
  }
}

void
vxm_test_rm_rf(const char *path)
{
  if (path != NULL && g_str_has_prefix(path, g_get_tmp_dir()))
    rm_rf_at(path);
}

void
vxm_test_write_file(const char *root, const char *relative, const char *contents)
{
  g_autofree char *path = g_build_filename(root, relative, NULL);
  g_autofree char *parent = g_path_get_dirname(path);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint(g_mkdir_with_parents(contents ? parent : path, 0755), ==, 0);
  if (contents != NULL) {
    g_file_set_contents(path, contents, -1, &error);
    g_assert_no_error(error);
  }
}

void
vxm_test_symlink(const char *root, const char *relative, const char *target)
{
  g_autofree char *path = g_build_filename(root, relative, NULL);
  g_autofree char *parent = g_path_get_dirname(path);

  g_assert_cmpint(g_mkdir_with_parents(parent, 0755), ==, 0);
  unlink(path);
  if (symlink(target, path) != 0)
    g_error("symlink %s -> %s: %s", path, target, g_strerror(errno));
}

int
vxm_test_run(const char *const *argv, const char *const *envp, char **out_stdout, char **out_stderr)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) env = g_get_environ();
  int wait_status = 0;

  env = g_environ_unsetenv(env, "VXM_ROOT");
  env = g_environ_setenv(env, "NO_COLOR", "1", TRUE);
  env = g_environ_setenv(env, "LC_ALL", "C.UTF-8", TRUE);
  for (gsize i = 0; envp != NULL && envp[i] != NULL; i++) {
    g_auto(GStrv) kv = g_strsplit(envp[i], "=", 2);
    env = g_environ_setenv(env, kv[0], kv[1] ? kv[1] : "", TRUE);
  }
  g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_DEFAULT, NULL, NULL, out_stdout, out_stderr,
               &wait_status, &error);
  g_assert_no_error(error);
  if (WIFEXITED(wait_status))
    return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status))
    return 128 + WTERMSIG(wait_status);
  return -1;
}

int
vxm_test_run_account_tool(const char *const *argv)
{
  for (guint attempt = 0;; attempt++) {
    g_autofree char *err = NULL;
    int rc = vxm_test_run(argv, NULL, NULL, &err);

    if (rc == 0 || attempt >= 200 || err == NULL || strstr(err, "lock") == NULL) {
      if (rc != 0)
        g_test_message("%s: exit %d: %s", argv[0], rc, err ? err : "");
      return rc;
    }
    g_usleep(100 * 1000);
  }
}

typedef struct {
  const char *path;
  const char *needle;
  gboolean found;
} FileWait;

static gboolean
file_has(FileWait *w)
{
  g_autofree char *text = NULL;
  gsize length = 0;

  if (!g_file_get_contents(w->path, &text, &length, NULL))
    return FALSE;
  /* the serial log has terminal escapes and NULs: search the raw bytes */
  return g_strstr_len(text, (gssize)length, w->needle) != NULL ||
         memmem(text, length, w->needle, strlen(w->needle)) != NULL;
}

static void
on_file_changed(GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                gpointer user_data)
{
  FileWait *w = user_data;

  (void)monitor;
  (void)file;
  (void)other;
  (void)event;
  if (!w->found)
    w->found = file_has(w);
}

static gboolean
on_guard(gpointer user_data)
{
  *(gboolean *)user_data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
vxm_test_wait_file_contains(const char *path, const char *needle, guint guard_s)
{
  g_autoptr(GFile) file = g_file_new_for_path(path);
  g_autoptr(GFileMonitor) monitor = g_file_monitor_file(file, G_FILE_MONITOR_NONE, NULL, NULL);
  FileWait w = {.path = path, .needle = needle};
  gboolean expired = FALSE;
  guint guard = g_timeout_add_seconds(guard_s, on_guard, &expired);

  g_signal_connect(monitor, "changed", G_CALLBACK(on_file_changed), &w);
  w.found = file_has(&w);
  while (!w.found && !expired)
    g_main_context_iteration(NULL, TRUE);
  if (!expired)
    g_source_remove(guard);
  return w.found;
}
