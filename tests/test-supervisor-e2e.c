/* The whole cycle, for real: vxm-simhost as the host (--root on its mount), the real vxm
 * binary, the real QEMU under TCG through tests/vxm-qemu-sim (this machine has no KVM and no
 * VFIO), the real swtpm and OVMF secure boot from the real firmware descriptors.
 *
 *   vxm init -> vxm start -> QMP running, query-tpm shows tpm-crb on the emulator, the firmware
 *   reaches its boot manager (serial log), vxm status --json reports it all -> vxm stop ->
 *   the simulated host is exactly as before.
 *   vxm start -> SIGKILL of the supervisor -> vxm recover -> the host is exactly as before.
 */
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "supervisor/vxm-control-client.h"
#include "vm/vxm-vm-lock.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-simhost-fixture.h"
#include "vxm-test-util.h"

#define VM "win11"

typedef struct {
  char *tmp;
  VxmSimhost *sim;
  char *vxm;
  char *argv_log;
  GStrv envp;
} E2e;

static void
strv_take(GStrvBuilder *b, char *s)
{
  g_strv_builder_add(b, s);
  g_free(s);
}

static void
e2e_setup(E2e *e)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GStrvBuilder) env = g_strv_builder_new();
  static const char *const xdg[] = {"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
                                    "XDG_RUNTIME_DIR"};

  e->tmp = vxm_test_mkdtemp();
  e->sim = vxm_simhost_start("intel-nvidia-turing", &error);
  g_assert_no_error(error);
  e->vxm = vxm_test_build_path("src/cli/vxm");
  e->argv_log = g_build_filename(e->tmp, "qemu-argv.txt", NULL);
  /* this process reads the same folders as the vxm it runs */
  for (guint i = 0; i < G_N_ELEMENTS(xdg); i++) {
    g_autofree char *dir = g_build_filename(e->tmp, xdg[i], NULL);

    g_mkdir_with_parents(dir, 0700);
    g_setenv(xdg[i], dir, TRUE);
    strv_take(env, g_strdup_printf("%s=%s", xdg[i], dir));
  }
  strv_take(env, g_strdup_printf("HOME=%s", e->tmp));
  strv_take(env, g_strdup_printf("PATH=%s", g_getenv("PATH")));
  strv_take(env, g_strdup_printf("VXM_TEST_ARGV_LOG=%s", e->argv_log));
  g_strv_builder_add(env, "NO_COLOR=1");
  g_strv_builder_add(env, "LC_ALL=C.UTF-8");
  e->envp = g_strv_builder_end(env);
}

static void
e2e_teardown(E2e *e)
{
  g_clear_pointer(&e->sim, vxm_simhost_stop);
  vxm_test_rm_rf(e->tmp);
  g_free(e->tmp);
  g_free(e->vxm);
  g_free(e->argv_log);
  g_strfreev(e->envp);
}

/* Runs `vxm ARGS... --root MOUNT`; returns the exit status. */
static int
run_vxm(E2e *e, char **out, const char *first, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_autofree char *err = NULL;
  g_autofree char *stdout_text = NULL;
  va_list ap;
  int status;

  g_ptr_array_add(argv, e->vxm);
  va_start(ap, first);
  for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
    g_ptr_array_add(argv, (char *)a);
  va_end(ap);
  g_ptr_array_add(argv, "--root");
  g_ptr_array_add(argv, (char *)vxm_simhost_root(e->sim));
  g_ptr_array_add(argv, NULL);
  status = vxm_test_run((const char *const *)argv->pdata, (const char *const *)e->envp,
                        &stdout_text, &err);
  g_test_message("$ vxm %s ... -> %d\n%s%s", first, status, stdout_text, err);
  if (out != NULL)
    *out = g_strconcat(stdout_text, err, NULL);
  return status;
}

static void
init_vm(E2e *e)
{
  g_autofree char *sim = vxm_test_build_path("tests/vxm-qemu-sim");
  g_autofree char *qemu_set = g_strdup_printf("qemu_binary=%s", sim);

  g_assert_cmpint(run_vxm(e, NULL, "init", VM, "--disk-size", "64M", "--set", qemu_set, "--set",
                          "shutdown_timeout=2", "--set", "vcpus=1", NULL),
                  ==, 0);
}

static JsonObject *
status_json(E2e *e)
{
  g_autofree char *out = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;

  g_assert_cmpint(run_vxm(e, &out, "status", VM, "--json", NULL), ==, 0);
  /* stdout is the JSON; stderr (empty here) follows it */
  json_parser_load_from_data(parser, out, -1, &error);
  g_assert_no_error(error);
  return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

static JsonNode *
qmp_query(const char *execute)
{
  g_autoptr(VxmVmPaths) paths = vxm_vm_paths_new(VM, NULL);
  g_autoptr(JsonObject) request = json_object_new();
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(GError) error = NULL;

  json_object_set_string_member(request, "command", "qmp-query");
  json_object_set_string_member(request, "execute", execute);
  reply = vxm_control_request(paths, request, 10000, &error);
  g_assert_no_error(error);
  return json_node_copy(json_object_get_member(reply, "return"));
}

/* Waits (inotify on the file) until @path contains @needle; a guard, not a timed assertion. */
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

static gboolean
wait_file_contains(const char *path, const char *needle, guint guard_s)
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

static void
assert_devices_on(JsonObject *status, const char *driver)
{
  JsonArray *devices = json_object_get_array_member(status, "devices");

  g_assert_nonnull(devices);
  g_assert_cmpuint(json_array_get_length(devices), ==, 4);
  for (guint i = 0; i < json_array_get_length(devices); i++) {
    JsonObject *d = json_array_get_object_element(devices, i);

    g_assert_cmpstr(json_object_get_string_member(d, "driver"), ==, driver);
  }
}

static void
test_start_stop(void)
{
  E2e e = {0};
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *out = NULL;
  g_autofree char *argv_text = NULL;
  g_autofree char *serial = NULL;
  g_autoptr(JsonObject) status = NULL;
  g_autoptr(JsonNode) tpm = NULL;
  g_autoptr(JsonNode) run = NULL;
  JsonObject *tpm0;
  JsonArray *entries;

  if (!vxm_test_require_root())
    return;
  e2e_setup(&e);
  init_vm(&e);
  before = vxm_simhost_state(e.sim);

  g_assert_cmpint(run_vxm(&e, &out, "start", VM, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "is running"));
  g_assert_nonnull(strstr(out, "give the GPU to vfio-pci"));

  /* QEMU got vxm's real argv: the GPU's functions as vfio-pci, paused, sandboxed */
  g_assert_true(g_file_get_contents(e.argv_log, &argv_text, NULL, NULL));
  g_assert_nonnull(strstr(argv_text, "vfio-pci,host=0000:01:00.0"));
  g_assert_nonnull(strstr(argv_text, "vfio-pci,host=0000:01:00.3"));
  g_assert_nonnull(strstr(argv_text, "\n-S\n"));
  g_assert_nonnull(strstr(argv_text, "\n-sandbox\non,"));

  /* QEMU itself says the guest runs, with its TPM on the emulator */
  run = qmp_query("query-status");
  g_assert_cmpstr(json_object_get_string_member(json_node_get_object(run), "status"), ==,
                  "running");
  tpm = qmp_query("query-tpm");
  g_assert_cmpuint(json_array_get_length(json_node_get_array(tpm)), ==, 1);
  tpm0 = json_array_get_object_element(json_node_get_array(tpm), 0);
  g_assert_cmpstr(json_object_get_string_member(tpm0, "model"), ==, "tpm-crb");
  g_assert_cmpstr(
      json_object_get_string_member(json_object_get_object_member(tpm0, "options"), "type"), ==,
      "emulator");

  /* vxm status --json: running, pids, QEMU's run state, the GPU on vfio-pci, the journal */
  status = status_json(&e);
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "running");
  g_assert_cmpstr(json_object_get_string_member(status, "run_state"), ==, "running");
  g_assert_cmpint(json_object_get_int_member(status, "qemu_pid"), >, 0);
  g_assert_cmpint(json_object_get_int_member(status, "swtpm_pid"), >, 0);
  g_assert_cmpint(json_object_get_int_member(status, "supervisor_pid"), >, 0);
  g_assert_cmpstr(json_object_get_string_member(status, "gpu"), ==, "0000:01:00.0");
  assert_devices_on(status, "vfio-pci");
  entries = json_object_get_array_member(json_object_get_object_member(status, "host"), "entries");
  g_assert_cmpuint(json_array_get_length(entries), ==, 4);

  /* the firmware (secure boot OVMF) reached its boot manager */
  serial = g_strdup(
      json_object_get_string_member(json_object_get_object_member(status, "logs"), "serial"));
  g_assert_true(wait_file_contains(serial, "BdsDxe", 180));

  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(&e, &out, "stop", VM, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "restored: 0000:01:00.0 back on nvidia"));
  g_assert_nonnull(strstr(out, "the host is restored"));
  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);

  g_clear_pointer(&status, json_object_unref);
  status = status_json(&e);
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "stopped");
  g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(status, "host")));
  g_assert_cmpstr(
      json_object_get_string_member(
          json_array_get_object_element(json_object_get_array_member(status, "devices"), 0),
          "driver"),
      ==, "nvidia");
  e2e_teardown(&e);
}

static void
test_kill_recover(void)
{
  E2e e = {0};
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *out = NULL;
  g_autoptr(JsonObject) status = NULL;
  g_autoptr(VxmVmPaths) paths = NULL;
  struct pollfd pfd = {.events = POLLIN};
  gint64 pid;

  if (!vxm_test_require_root())
    return;
  e2e_setup(&e);
  init_vm(&e);
  paths = vxm_vm_paths_new(VM, NULL);
  before = vxm_simhost_state(e.sim);
  g_assert_cmpint(run_vxm(&e, NULL, "start", VM, NULL), ==, 0);
  status = status_json(&e);
  pid = json_object_get_int_member(status, "supervisor_pid");
  g_assert_cmpint(pid, >, 0);

  /* SIGKILL: no teardown runs; the journal is all that is left */
  pfd.fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  g_assert_cmpint(pfd.fd, >=, 0);
  g_assert_cmpint(kill((pid_t)pid, SIGKILL), ==, 0);
  g_assert_cmpint(poll(&pfd, 1, 30000), ==, 1);
  close(pfd.fd);
  g_assert_false(vxm_vm_is_running(paths));
  g_clear_pointer(&status, json_object_unref);
  status = status_json(&e);
  g_assert_cmpstr(json_object_get_string_member(status, "state"), ==, "failed");
  g_assert_nonnull(strstr(json_object_get_string_member(status, "reason"), "vxm recover"));
  assert_devices_on(status, "vfio-pci");

  /* a new start is refused until the host is recovered */
  g_assert_cmpint(run_vxm(&e, &out, "start", VM, NULL), ==, 1);
  g_assert_nonnull(strstr(out, "vxm recover"));

  g_assert_cmpint(run_vxm(&e, NULL, "recover", NULL), ==, 0);
  after = vxm_simhost_state(e.sim);
  g_assert_cmpstr(after, ==, before);
  e2e_teardown(&e);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/e2e/start-status-stop/simhost", test_start_stop);
  g_test_add_func("/vxm/e2e/kill-supervisor/recover", test_kill_recover);
  return g_test_run();
}
