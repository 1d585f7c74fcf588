/* vxm-simhost-fixture: mounts a simulated workstation for a test (see the header). */
#include "vxm-simhost-fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "vxm-test-util.h"

#define READY_LIMIT_MS 10000
#define EXIT_LIMIT_MS  5000

struct _VxmSimhost {
  char *root;
  char *machine;
  char *log_path; /* the simulator's own stdout and stderr */
  GPid pid;
  gboolean reaped;
};

static GMutex live_lock;
static GPtrArray *live; /* VxmSimhost* still mounted, for the atexit handler */

static void
stop_all_at_exit(void)
{
  while (live != NULL && live->len > 0)
    vxm_simhost_stop(live->pdata[live->len - 1]);
}

static void
child_setup(gpointer data)
{
  /* The simulator goes (and unmounts) when the test dies, however it dies. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
}

char *
vxm_simhost_binary(void)
{
  const char *env = g_getenv("VXM_SIMHOST");

  if (env != NULL && env[0] != '\0')
    return g_strdup(env);
  return vxm_test_build_path("src/simhost/vxm-simhost");
}

static gboolean
reap(VxmSimhost *sim, guint limit_ms, int *status)
{
  for (guint waited = 0;; waited += 5) {
    pid_t r = waitpid(sim->pid, status, WNOHANG);

    if (r == sim->pid || (r < 0 && errno == ECHILD)) {
      sim->reaped = TRUE;
      return TRUE;
    }
    if (waited >= limit_ms)
      return FALSE;
    g_usleep(5 * G_TIME_SPAN_MILLISECOND);
  }
}

static char *
read_simulator_output(VxmSimhost *sim)
{
  char *text = NULL;

  if (!g_file_get_contents(sim->log_path, &text, NULL, NULL))
    return g_strdup("");
  return g_strstrip(text);
}

static void
sim_free(VxmSimhost *sim)
{
  g_free(sim->root);
  g_free(sim->machine);
  g_free(sim->log_path);
  g_free(sim);
}

VxmSimhost *
vxm_simhost_start(const char *machine_name, GError **error)
{
  g_autofree char *binary = vxm_simhost_binary();
  g_autofree char *relative = NULL;
  g_autofree char *ready = NULL;
  VxmSimhost *sim;
  int log_fd;
  int status = 0;

  sim = g_new0(VxmSimhost, 1);
  if (strchr(machine_name, '/') != NULL) {
    sim->machine = g_strdup(machine_name);
  } else {
    relative = g_strdup_printf("tests/simhost/%s.machine", machine_name);
    sim->machine = vxm_test_source_path(relative);
  }
  if (!g_file_test(binary, G_FILE_TEST_IS_EXECUTABLE)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                "vxm-simhost is not built at %s (needs libfuse3; set VXM_SIMHOST)", binary);
    sim_free(sim);
    return NULL;
  }
  sim->root = g_dir_make_tmp("vxm-simhost-XXXXXX", error);
  if (sim->root == NULL) {
    sim_free(sim);
    return NULL;
  }
  log_fd = g_file_open_tmp("vxm-simhost-XXXXXX.log", &sim->log_path, error);
  if (log_fd < 0) {
    rmdir(sim->root);
    sim_free(sim);
    return NULL;
  }
  {
    const char *argv[] = {binary, "--foreground", "--machine", sim->machine, sim->root, NULL};
    gboolean ok = g_spawn_async_with_pipes_and_fds(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                                   child_setup, NULL, -1, log_fd, log_fd, NULL,
                                                   NULL, 0, &sim->pid, NULL, NULL, NULL, error);
    close(log_fd);
    if (!ok) {
      g_prefix_error(error, "cannot start %s: ", binary);
      rmdir(sim->root);
      unlink(sim->log_path);
      sim_free(sim);
      return NULL;
    }
  }

  /* Wait for the mount to serve its control folder (or for the simulator to give up). */
  ready = g_build_filename(sim->root, ".simhost", "ready", NULL);
  for (guint waited = 0;; waited += 5) {
    if (g_file_test(ready, G_FILE_TEST_EXISTS))
      break;
    if (reap(sim, 0, &status) || waited >= READY_LIMIT_MS) {
      g_autofree char *output = read_simulator_output(sim);
      g_set_error(error, VXM_ERROR, VXM_ERROR_FAILED, "vxm-simhost did not mount %s on %s (%s): %s",
                  sim->machine, sim->root, sim->reaped ? "it exited" : "timed out", output);
      vxm_simhost_stop(sim);
      return NULL;
    }
    g_usleep(5 * G_TIME_SPAN_MILLISECOND);
  }

  g_mutex_lock(&live_lock);
  if (live == NULL) {
    live = g_ptr_array_new();
    atexit(stop_all_at_exit);
  }
  g_ptr_array_add(live, sim);
  g_mutex_unlock(&live_lock);
  return sim;
}

static gboolean
run_fusermount(const char *flag, const char *mountpoint)
{
  const char *argv[] = {"fusermount3", flag, mountpoint, NULL};
  int wait_status = 0;

  if (!g_spawn_sync(NULL, (char **)argv, NULL,
                    G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                    NULL, NULL, NULL, NULL, &wait_status, NULL))
    return FALSE;
  return g_spawn_check_wait_status(wait_status, NULL);
}

void
vxm_simhost_stop(VxmSimhost *sim)
{
  int status = 0;

  if (sim == NULL)
    return;
  g_mutex_lock(&live_lock);
  if (live != NULL)
    g_ptr_array_remove(live, sim);
  g_mutex_unlock(&live_lock);

  if (!sim->reaped) {
    /* Nothing may stay blocked in a hang, or the unmount would wait for it. */
    vxm_simhost_release(sim);
    if (!run_fusermount("-u", sim->root) && !run_fusermount("-uz", sim->root))
      umount2(sim->root, MNT_DETACH);
    if (reap(sim, EXIT_LIMIT_MS, &status)) {
      /* Unmounted, the simulator ends by itself: anything but a clean exit (a crash, a
       * sanitizer's report) fails the test that used it. */
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_autofree char *output = read_simulator_output(sim);
        if (g_test_initialized())
          g_test_fail_printf("vxm-simhost (%s) ended badly (wait status 0x%x): %s", sim->machine,
                             status, output);
      }
    } else {
      kill(sim->pid, SIGTERM);
      if (!reap(sim, EXIT_LIMIT_MS, &status)) {
        kill(sim->pid, SIGKILL);
        reap(sim, EXIT_LIMIT_MS, &status);
      }
    }
  }
  g_spawn_close_pid(sim->pid);
  if (rmdir(sim->root) != 0 && errno == EBUSY) {
    umount2(sim->root, MNT_DETACH);
    rmdir(sim->root);
  }
  unlink(sim->log_path);
  sim_free(sim);
}

const char *
vxm_simhost_root(VxmSimhost *sim)
{
  return sim->root;
}

const char *
vxm_simhost_machine_path(VxmSimhost *sim)
{
  return sim->machine;
}

char *
vxm_simhost_path(VxmSimhost *sim, const char *host_path)
{
  return g_build_filename(sim->root, host_path, NULL);
}

static char *
control_read(VxmSimhost *sim, const char *name)
{
  g_autofree char *path = g_build_filename(sim->root, ".simhost", name, NULL);
  char *text = NULL;

  if (!g_file_get_contents(path, &text, NULL, NULL))
    return g_strdup("");
  return text;
}

static gboolean
control_write(VxmSimhost *sim, const char *name, const char *value, GError **error)
{
  g_autofree char *path = g_build_filename(sim->root, ".simhost", name, NULL);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return vxm_error_set_from_errno(error, errno, "cannot open %s", path);
  n = write(fd, value, strlen(value));
  if (n < 0) {
    int errsv = errno;
    close(fd);
    return vxm_error_set_from_errno(error, errsv, "writing '%s' to %s failed", value, path);
  }
  close(fd);
  return TRUE;
}

char *
vxm_simhost_read_log(VxmSimhost *sim)
{
  return control_read(sim, "log");
}

void
vxm_simhost_clear_log(VxmSimhost *sim)
{
  g_autoptr(GError) error = NULL;

  if (!control_write(sim, "log", "clear\n", &error))
    g_warning("%s", error->message);
}

char *
vxm_simhost_state(VxmSimhost *sim)
{
  return control_read(sim, "state");
}

gboolean
vxm_simhost_add_fault(VxmSimhost *sim, const char *rule, GError **error)
{
  if (!control_write(sim, "faults", rule, error)) {
    g_prefix_error(error, "fault rule '%s' refused: ", rule);
    return FALSE;
  }
  return TRUE;
}

void
vxm_simhost_clear_faults(VxmSimhost *sim)
{
  g_autoptr(GError) error = NULL;

  if (!control_write(sim, "faults", "clear\n", &error))
    g_warning("%s", error->message);
}

void
vxm_simhost_release(VxmSimhost *sim)
{
  g_autoptr(GError) error = NULL;

  if (!control_write(sim, "release", "1\n", &error))
    g_debug("%s", error->message);
}

guint
vxm_simhost_hung_count(VxmSimhost *sim)
{
  g_autofree char *text = control_read(sim, "hung");

  return (guint)g_ascii_strtoull(text, NULL, 10);
}

gboolean
vxm_simhost_wait_hung(VxmSimhost *sim, guint count, guint timeout_ms)
{
  for (guint waited = 0;; waited += 5) {
    if (vxm_simhost_hung_count(sim) >= count)
      return TRUE;
    if (waited >= timeout_ms)
      return FALSE;
    g_usleep(5 * G_TIME_SPAN_MILLISECOND);
  }
}

gboolean
vxm_simhost_unplug(VxmSimhost *sim, const char *bdf, GError **error)
{
  return control_write(sim, "unplug", bdf, error);
}

gboolean
vxm_simhost_replug(VxmSimhost *sim, const char *bdf, GError **error)
{
  return control_write(sim, "replug", bdf, error);
}

gboolean
vxm_simhost_kill(VxmSimhost *sim, guint pid, GError **error)
{
  g_autofree char *text = g_strdup_printf("%u", pid);

  return control_write(sim, "kill", text, error);
}

/* Every file vxm may write on the simulated host, outside the kernel's /sys and /proc (which
 * vxm_simhost_state() describes as the kernel would): /run (the journal folder, vxmd's
 * socket), /dev (device nodes, /dev/shm), /etc, /var. One line a file: type, mode, owner and,
 * for a regular file, its contents' checksum. A folder vxm makes and leaves empty shows. */
static void
tree_lines(const char *root, const char *rel, GPtrArray *lines)
{
  g_autofree char *path = g_build_filename(root, rel, NULL);
  g_autoptr(GDir) dir = NULL;
  struct stat st;
  const char *name;

  if (lstat(path, &st) != 0)
    return;
  if (S_ISREG(st.st_mode)) {
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autofree char *sum = NULL;

    /* device nodes are regular files on the simulated host: their contents are not data */
    if (g_str_has_prefix(rel, "/dev/") && !g_str_has_prefix(rel, "/dev/shm/"))
      sum = g_strdup("-");
    else if (g_file_get_contents(path, &text, &len, NULL))
      sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)text, len);
    else
      sum = g_strdup("unreadable");
    g_ptr_array_add(lines, g_strdup_printf("file %s %04o %u:%u %s", rel, st.st_mode & 07777,
                                           st.st_uid, st.st_gid, sum));
    return;
  }
  if (S_ISLNK(st.st_mode)) {
    g_autofree char *target = g_file_read_link(path, NULL);

    g_ptr_array_add(lines, g_strdup_printf("link %s -> %s", rel, target));
    return;
  }
  g_ptr_array_add(lines, g_strdup_printf("%s %s %04o %u:%u", S_ISDIR(st.st_mode) ? "dir" : "other",
                                         rel, st.st_mode & 07777, st.st_uid, st.st_gid));
  if (!S_ISDIR(st.st_mode) || (dir = g_dir_open(path, 0, NULL)) == NULL)
    return;
  while ((name = g_dir_read_name(dir)) != NULL) {
    g_autofree char *child = g_build_filename(rel, name, NULL);

    tree_lines(root, child, lines);
  }
}

static int
compare_lines(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

char *
vxm_simhost_writable_tree(VxmSimhost *sim)
{
  static const char *const tops[] = {"/run", "/dev", "/etc", "/var", "/tmp"};
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
  GString *out = g_string_new(NULL);

  for (guint i = 0; i < G_N_ELEMENTS(tops); i++)
    tree_lines(vxm_simhost_root(sim), tops[i], lines);
  g_ptr_array_sort(lines, compare_lines);
  for (guint i = 0; i < lines->len; i++)
    g_string_append_printf(out, "%s\n", (char *)lines->pdata[i]);
  return g_string_free(out, FALSE);
}

VxmSimhost *
vxm_simhost_start_for_test(const char *machine_name)
{
  g_autoptr(GError) error = NULL;
  VxmSimhost *sim;

  if (!vxm_test_require_root())
    return NULL;
  sim = vxm_simhost_start(machine_name, &error);
  g_assert_no_error(error);
  g_assert_nonnull(sim);
  return sim;
}

int
vxm_simhost_control(VxmSimhost *sim, const char *file, const char *line)
{
  g_autofree char *host_path = g_strdup_printf("/.simhost/%s", file);
  g_autofree char *path = vxm_simhost_path(sim, host_path);
  int fd = open(path, O_WRONLY);
  int res = 0;

  g_assert_cmpint(fd, >=, 0);
  if (write(fd, line, strlen(line)) < 0)
    res = errno;
  close(fd);
  return res;
}

char *
vxm_simhost_read(VxmSimhost *sim, const char *host_path)
{
  g_autofree char *path = vxm_simhost_path(sim, host_path);
  char *text = NULL;

  if (!g_file_get_contents(path, &text, NULL, NULL))
    return NULL;
  return g_strchomp(text);
}
