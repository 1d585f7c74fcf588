/* The binding engine and its commands against vxm-simhost: detach and reattach on every
 * machine, refusals that change nothing, a fault at every sysfs write, and SIGKILL of vxm
 * between every pair of steps followed by vxm recover. The host is compared through the
 * simulator's state dump. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "journal/vxm-journal.h"
#include "ops/vxm-host-ops-local.h"
#include "pci/vxm-gpu.h"
#include "pci/vxm-vfio.h"
#include "vxm-simhost-fixture.h"
#include "vxm-test-util.h"

/* short, yet long enough for an unfaulted write on a loaded 2-core CI machine */
#define SHORT_LIMIT "1s"

typedef struct {
  char *path;
  char *value; /* as the log shows it: one trailing newline removed, "" for "\n" */
} Write;

static void
write_free(Write *w)
{
  g_free(w->path);
  g_free(w->value);
  g_free(w);
}

/* "<seq> write <path> <value> -> <result>" lines of the log, in order. */
static GPtrArray *
log_writes(const char *log)
{
  g_auto(GStrv) lines = g_strsplit(log, "\n", -1);
  GPtrArray *writes = g_ptr_array_new_with_free_func((GDestroyNotify)write_free);

  for (guint i = 0; lines[i] != NULL; i++) {
    g_auto(GStrv) f = g_strsplit(lines[i], " ", -1);
    Write *w;

    if (g_strv_length(f) != 6 || strcmp(f[1], "write") != 0 || strcmp(f[4], "->") != 0)
      continue;
    if (strcmp(f[5], "hang") == 0)
      continue; /* the final line of a hung write follows */
    w = g_new0(Write, 1);
    w->path = g_strdup(f[2]);
    w->value = strcmp(f[3], "\"\"") == 0 ? g_strdup("") : g_strdup(f[3]);
    g_ptr_array_add(writes, w);
  }
  return writes;
}

static guint
count_writes(VxmSimhost *sim)
{
  g_autofree char *log = vxm_simhost_read_log(sim);
  g_autoptr(GPtrArray) writes = log_writes(log);
  return writes->len;
}

/* Runs the real vxm with --root on the simulator. */
static int
run_vxm(VxmSimhost *sim, char **out, char **err, ...)
{
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_autofree char *ignored_out = NULL;
  g_autofree char *ignored_err = NULL;
  const char *arg;
  va_list ap;
  int status;

  g_ptr_array_add(argv, vxm);
  va_start(ap, err);
  arg = va_arg(ap, const char *);
  g_ptr_array_add(argv, (char *)arg);
  g_ptr_array_add(argv, "--root");
  g_ptr_array_add(argv, (char *)vxm_simhost_root(sim));
  while ((arg = va_arg(ap, const char *)) != NULL)
    g_ptr_array_add(argv, (char *)arg);
  va_end(ap);
  g_ptr_array_add(argv, NULL);
  /* always captured: vxm's output must not mix with the TAP stream */
  status = vxm_test_run((const char *const *)argv->pdata, NULL, out != NULL ? out : &ignored_out,
                        err != NULL ? err : &ignored_err);
  return status;
}

static void
assert_contains(const char *haystack, const char *needle)
{
  if (haystack == NULL || strstr(haystack, needle) == NULL)
    g_error("expected '%s' in:\n%s", needle, haystack != NULL ? haystack : "(null)");
}

/* The device a write acts on: the BDF in the path, else the value. */
static char *
write_device(const Write *w)
{
  const char *p = strstr(w->path, "/devices/");

  if (p != NULL)
    return g_strndup(p + strlen("/devices/"), strlen("0000:00:00.0"));
  return g_strdup(w->value);
}

static char *
fault_rule(const Write *w, const char *action)
{
  if (w->value[0] == '\0')
    return g_strdup_printf("write %s %s count=1", w->path, action);
  return g_strdup_printf("write %s value=%s %s count=1", w->path, w->value, action);
}

/* ---- machines ---- */

/* Names of every shipped machine (tests/simhost/NAME.machine). */
static GPtrArray *
machine_names(void)
{
  g_autofree char *dir = vxm_test_source_path("tests/simhost");
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  const char *name;

  g_assert_nonnull(d);
  while ((name = g_dir_read_name(d)) != NULL) {
    if (g_str_has_suffix(name, ".machine"))
      g_ptr_array_add(names, g_strndup(name, strlen(name) - strlen(".machine")));
  }
  g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
  return names;
}

/* The candidate GPUs' addresses on a mounted machine. */
static GPtrArray *
candidates(VxmSimhost *sim)
{
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(vxm_simhost_root(sim));
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) gpus = vxm_gpu_list(fs, &error);
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

  g_assert_no_error(error);
  for (guint i = 0; i < gpus->len; i++) {
    VxmGpu *gpu = g_ptr_array_index(gpus, i);

    if (vxm_gpu_get_role(gpu) == VXM_GPU_ROLE_CANDIDATE)
      g_ptr_array_add(out, g_strdup(vxm_gpu_get_address(gpu)));
  }
  return out;
}

/* ---- detach and reattach on every machine ---- */

static void
test_cycle_every_machine(void)
{
  g_autoptr(GPtrArray) names = NULL;
  guint cycles = 0;

  if (!vxm_test_require_root())
    return;
  names = machine_names();
  for (guint m = 0; m < names->len; m++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmSimhost) sim = vxm_simhost_start(g_ptr_array_index(names, m), &error);
    g_autoptr(GPtrArray) gpus = NULL;

    g_assert_no_error(error);
    /* its card is held by processes: the refusal tests cover it */
    if (g_str_has_suffix(g_ptr_array_index(names, m), "-held"))
      continue;
    gpus = candidates(sim);
    for (guint i = 0; i < gpus->len; i++) {
      const char *addr = g_ptr_array_index(gpus, i);
      g_autoptr(VxmHostfs) fs = vxm_hostfs_new(vxm_simhost_root(sim));
      g_autoptr(VxmGpu) gpu = vxm_gpu_find(fs, addr, &error);
      g_autoptr(GPtrArray) endpoints = NULL;
      g_autofree char *before = vxm_simhost_state(sim);
      g_autofree char *detached = NULL;
      g_autofree char *after = NULL;
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      g_assert_no_error(error);
      endpoints = vxm_vfio_get_endpoints(gpu);
      if (run_vxm(sim, &out, &err, "detach", addr, NULL) != 0)
        g_error("%s: vxm detach %s failed: %s", (char *)g_ptr_array_index(names, m), addr, err);
      detached = vxm_simhost_state(sim);
      /* every endpoint on vfio-pci, and the group's /dev/vfio node is there for QEMU */
      for (guint k = 0; k < endpoints->len; k++) {
        VxmPciDevice *dev = g_ptr_array_index(endpoints, k);
        g_autofree char *line = g_strdup_printf("pci %s driver=vfio-pci override=vfio-pci",
                                                vxm_pci_device_get_address(dev));
        g_autofree char *node =
            g_strdup_printf("dev /dev/vfio/%d ", vxm_pci_device_get_iommu_group(dev));

        assert_contains(detached, line);
        assert_contains(detached, node);
      }
      g_clear_pointer(&out, g_free);
      g_clear_pointer(&err, g_free);
      if (run_vxm(sim, &out, &err, "reattach", addr, NULL) != 0)
        g_error("%s: vxm reattach %s failed: %s", (char *)g_ptr_array_index(names, m), addr, err);
      after = vxm_simhost_state(sim);
      g_assert_cmpstr(after, ==, before);
      cycles++;
    }
  }
  g_test_message("%u detach/reattach cycles on %u machines", cycles, names->len);
  g_assert_cmpuint(cycles, >, 0);
}

/* The original drivers are named in the reattach report and restored exactly. */
static void
test_original_drivers(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmSimhost) sim = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *status = NULL;
  g_autofree char *state = NULL;

  sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  if (sim == NULL)
    return;
  g_assert_cmpint(run_vxm(sim, &out, &err, "detach", "01:00.0", "--json", NULL), ==, 0);
  assert_contains(out, "\"gpu\" : \"0000:01:00.0\"");
  assert_contains(out, "\"state\" : \"detached\"");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(sim, &out, &err, "detach", "01:00.0", "--json", NULL), ==, 0);
  assert_contains(out, "\"state\" : \"already\"");
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(sim, &status, NULL, "status", "01:00.0", "--json", NULL), ==, 0);
  assert_contains(status, "\"bound_by\" : \"manual\"");
  assert_contains(status, "\"journal\" : \"manual-0000:01:00.0\"");
  /* recover leaves a card detached by hand alone */
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run_vxm(sim, &out, NULL, "recover", NULL), ==, 0);
  assert_contains(out, "left alone (detached by hand with vxm detach");
  assert_contains(out, "nothing to recover");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(sim, &out, &err, "reattach", "0000:01:00.0", NULL), ==, 0);
  assert_contains(out, "0000:01:00.1 back on snd_hda_intel");
  assert_contains(out, "0000:01:00.2 back on xhci_hcd");
  assert_contains(out, "0000:01:00.3 back on nvidia-gpu");
  assert_contains(out, "0000:01:00.0 back on nvidia");
  state = vxm_simhost_state(sim);
  assert_contains(state, "pci 0000:01:00.1 driver=snd_hda_intel override=(null)");
  assert_contains(state, "pci 0000:01:00.2 driver=xhci_hcd override=(null)");
  /* a second reattach has nothing to do */
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(sim, &out, &err, "reattach", "0000:01:00.0", NULL), ==, 0);
  assert_contains(out, "nothing to give back");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(sim, &out, &err, "reattach", "0000:01:00.0", "--json", NULL), ==, 0);
  assert_contains(out, "\"state\" : \"nothing\"");
}

/* ---- a VM's QEMU still holding /dev/vfio/N (lab scenario 6) ---- */

#define LAB_GPU   "0000:01:00.0"
#define LAB_GROUP "/dev/vfio/5"

typedef struct {
  pid_t pid;
  int release_fd; /* closing it lets the holder go */
} Holder;

/* A process (a stand-in for another VM's QEMU) holding @node open until released. */
static Holder
hold_node(VxmSimhost *sim, const char *node)
{
  g_autofree char *path = vxm_simhost_path(sim, node);
  int ready[2], release[2];
  Holder holder;
  char byte = 0;

  g_assert_cmpint(pipe2(ready, O_CLOEXEC), ==, 0);
  g_assert_cmpint(pipe2(release, O_CLOEXEC), ==, 0);
  holder.pid = fork();
  g_assert_cmpint(holder.pid, >=, 0);
  if (holder.pid == 0) {
    int fd;
    char c;

    close(release[1]);
    close(ready[0]);
    fd = open(path, O_RDWR | O_CLOEXEC);
    c = fd >= 0 ? 'y' : 'n';

    if (write(ready[1], &c, 1) != 1)
      _exit(1);
    while (read(release[0], &c, 1) < 0 && errno == EINTR)
      ;
    _exit(0);
  }
  close(ready[1]);
  close(release[0]);
  g_assert_cmpint(read(ready[0], &byte, 1), ==, 1);
  close(ready[0]);
  g_assert_cmpint(byte, ==, 'y');
  holder.release_fd = release[1];
  return holder;
}

static void
release_holder(Holder *holder)
{
  int status;

  if (holder->pid <= 0)
    return;
  close(holder->release_fd);
  g_assert_cmpint(waitpid(holder->pid, &status, 0), ==, holder->pid);
  holder->pid = 0;
}

typedef struct {
  VxmSimhost *sim;
  int result;
} UnbindJob;

/* echo 0000:01:00.0 > /sys/bus/pci/drivers/vfio-pci/unbind by someone else: it waits in the
 * kernel for the holder */
static gpointer
unbind_thread(gpointer data)
{
  UnbindJob *job = data;
  g_autofree char *path = vxm_simhost_path(job->sim, "/sys/bus/pci/drivers/vfio-pci/unbind");
  int fd = open(path, O_WRONLY | O_CLOEXEC);

  job->result = fd < 0 || write(fd, LAB_GPU, strlen(LAB_GPU)) < 0 ? errno : 0;
  if (fd >= 0)
    close(fd);
  return NULL;
}

static void
test_vfio_node_held_refused(void)
{
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *expected = NULL;
  Holder holder;

  sim = vxm_simhost_start_for_test("lab-q35");
  if (sim == NULL)
    return;
  g_assert_cmpint(run_vxm(sim, &out, &err, "detach", "01:00.0", NULL), ==, 0);
  assert_contains(out, "loaded the vfio-pci module");
  holder = hold_node(sim, LAB_GROUP);
  expected = g_strdup_printf("%d (test-vfio: " LAB_GROUP ")", (int)holder.pid);

  /* giving it back would wait in the kernel for the holder: refused first, nothing changed */
  before = vxm_simhost_state(sim);
  vxm_simhost_clear_log(sim);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(sim, &out, &err, "reattach", "01:00.0", NULL), !=, 0);
  assert_contains(err, "refusing to give back 0000:01:00.");
  assert_contains(err, expected);
  assert_contains(err, "stop the VM using it first");
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
  g_assert_cmpuint(count_writes(sim), ==, 0);

  /* another VM asking for the card while that one has it */
  {
    g_autoptr(VxmHostfs) fs = vxm_hostfs_new(vxm_simhost_root(sim));
    g_autoptr(VxmGpu) gpu = vxm_gpu_find(fs, LAB_GPU, &error);
    g_autoptr(VxmJournal) journal = vxm_journal_new(fs, "other-vm", &error);

    g_assert_no_error(error);
    g_assert_false(vxm_vfio_detach_group(fs, gpu, journal, NULL, NULL, &error));
    g_assert_error(error, VXM_ERROR, VXM_ERROR_BUSY);
    assert_contains(error->message, "refusing to detach 0000:01:00.0");
    assert_contains(error->message, expected);
    g_assert_false(vxm_journal_exists(fs, "other-vm"));
  }

  /* the VM is gone: the card comes back, and the module vxm loaded goes */
  release_holder(&holder);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(sim, &out, &err, "reattach", "01:00.0", NULL), ==, 0);
  assert_contains(out, "0000:01:00.0 back on bochs-drm");
  assert_contains(out, "unloaded vfio_pci");
  g_clear_pointer(&after, g_free);
  after = vxm_simhost_state(sim);
  assert_contains(after, "driver vfio-pci new_id=none unloaded\n");
}

static void
test_pending_unbind_commands_return(void)
{
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *busy = NULL;
  UnbindJob job = {NULL, -1};
  GThread *thread;
  Holder holder;
  gint64 start;

  sim = vxm_simhost_start_for_test("lab-q35");
  if (sim == NULL)
    return;
  g_assert_cmpint(run_vxm(sim, &out, &err, "detach", "01:00.0", NULL), ==, 0);
  holder = hold_node(sim, LAB_GROUP);
  busy = g_strdup_printf("0000:01:00.0 is busy in the kernel: an unbind is waiting for process %d "
                         "(test-vfio",
                         (int)holder.pid);
  job.sim = sim;
  thread = g_thread_new("unbind", unbind_thread, &job);
  g_assert_true(vxm_simhost_wait_hung(sim, 1, 10000));

  /* every command returns, and says why the device cannot be read */
  start = g_get_monotonic_time();
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(sim, &out, &err, "status", "01:00.0", NULL), ==, 0);
  assert_contains(out, busy);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(sim, &out, &err, "status", "01:00.0", "--json", NULL), ==, 0);
  assert_contains(out, "\"busy\" : \"0000:01:00.0 is busy in the kernel");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(sim, &out, &err, "list-gpus", NULL), ==, 0);
  assert_contains(out, busy);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(sim, &out, &err, "list-gpus", "--json", NULL), ==, 0);
  assert_contains(out, "\"busy\" : \"0000:01:00.0 is busy in the kernel");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(sim, &out, &err, "check", "--gpu", "01:00.0", NULL), ==, 1);
  assert_contains(out, busy);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(sim, &out, &err, "reattach", "01:00.0", NULL), !=, 0);
  assert_contains(err, busy);
  /* each blocked read waits its time limit once per command, never for the unbind */
  g_test_message("status x2, list-gpus x2, check, reattach during a pending unbind: %.1f s",
                 (g_get_monotonic_time() - start) / 1e6);
  g_assert_cmpint(g_get_monotonic_time() - start, <, 40 * G_TIME_SPAN_SECOND);
  g_assert_cmpint(job.result, ==, -1); /* still waiting */

  /* the holder lets go: the unbind finishes, and the card can be given back */
  release_holder(&holder);
  g_thread_join(thread);
  g_assert_cmpint(job.result, ==, 0);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(sim, &out, &err, "reattach", "01:00.0", NULL), ==, 0);
  assert_contains(out, "0000:01:00.0 back on bochs-drm");
}

/* echo VALUE > PATH on the simulated host, with one write(2) */
static void
echo_to(VxmSimhost *sim, const char *host_path, const char *value)
{
  g_autofree char *path = vxm_simhost_path(sim, host_path);
  int fd = open(path, O_WRONLY | O_CLOEXEC);

  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(write(fd, value, strlen(value)), ==, (gssize)strlen(value));
  close(fd);
}

/* vxm unloads the vfio-pci it loaded, but not while the module drives a device vxm did not
 * give it: the report says why, and the journal is cleared all the same. */
static void
test_module_in_use_left_loaded(void)
{
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *state = NULL;

  sim = vxm_simhost_start_for_test("lab-q35");
  if (sim == NULL)
    return;
  g_assert_cmpint(run_vxm(sim, &out, &err, "detach", "01:00.0", NULL), ==, 0);
  /* someone binds the virtio disk controller to vfio-pci by hand meanwhile */
  echo_to(sim, "/sys/bus/pci/devices/0000:00:03.0/driver_override", "vfio-pci");
  echo_to(sim, "/sys/bus/pci/drivers/virtio-pci/unbind", "0000:00:03.0");
  echo_to(sim, "/sys/bus/pci/drivers_probe", "0000:00:03.0");
  state = vxm_simhost_state(sim);
  assert_contains(state, "pci 0000:00:03.0 driver=vfio-pci");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(sim, &out, &err, "reattach", "01:00.0", NULL), ==, 0);
  assert_contains(out, "0000:01:00.0 back on bochs-drm");
  assert_contains(out, "left loaded: vfio_pci (it drives 0000:00:03.0)");
  g_clear_pointer(&state, g_free);
  state = vxm_simhost_state(sim);
  assert_contains(state, "pci 0000:00:03.0 driver=vfio-pci");
  assert_contains(state, "driver vfio-pci new_id=none\n");
  {
    g_autofree char *journal = vxm_simhost_path(sim, "/run/vxm/journal/manual-0000:01:00.0.json");
    g_assert_false(g_file_test(journal, G_FILE_TEST_EXISTS));
  }
}

/* ---- refusals: nothing changes, no write at all ---- */

static void
expect_refused(const char *machine, const char *addr, const char *const *needles)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmSimhost) sim = vxm_simhost_start(machine, &error);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_no_error(error);
  before = vxm_simhost_state(sim);
  vxm_simhost_clear_log(sim);
  g_assert_cmpint(run_vxm(sim, &out, &err, "detach", "--force", addr, NULL), ==, 1);
  for (guint i = 0; needles[i] != NULL; i++)
    assert_contains(err, needles[i]);
  g_assert_cmpuint(count_writes(sim), ==, 0);
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
}

static void
test_refusals(void)
{
  if (!vxm_test_require_root())
    return;
  /* holders of the card: the pids and commands, and how to stop the usual one; --force does
   * not override it for NVIDIA (its unbind would hang) */
  expect_refused("intel-nvidia-turing-held", "01:00.0",
                 (const char *[]){"refusing to detach 0000:01:00.0", "1187 (nvidia-persiste",
                                  "4120 (obs: /dev/dri/renderD129)",
                                  "systemctl stop nvidia-persistenced", "--force cannot", NULL});
  expect_refused("intel-nvidia-turing", "00:02.0",
                 (const char *[]){"refusing to detach 0000:00:02.0", "boot VGA", NULL});
  expect_refused("iommu-off", "01:00.0",
                 (const char *[]){"0000:01:00.0", "IOMMU is off", "intel_iommu=on", NULL});
  expect_refused("dgpu-shared-group", "21:00.0",
                 (const char *[]){"refusing to detach 0000:21:00.0", "Ethernet", NULL});
  expect_refused("single-gpu", "01:00.0",
                 (const char *[]){"refusing to detach 0000:01:00.0", "only GPU", NULL});
}

/* The fix the refusal names works: once the holders are gone, the detach goes through. */
static void
test_holders_gone(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmSimhost) sim = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  sim = vxm_simhost_start_for_test("intel-nvidia-turing-held");
  if (sim == NULL)
    return;
  g_assert_cmpint(run_vxm(sim, NULL, NULL, "detach", "01:00.0", NULL), ==, 1);
  g_assert_true(vxm_simhost_kill(sim, 1187, &error));
  g_assert_true(vxm_simhost_kill(sim, 4120, &error));
  before = vxm_simhost_state(sim);
  g_assert_cmpint(run_vxm(sim, NULL, NULL, "detach", "01:00.0", NULL), ==, 0);
  g_assert_cmpint(run_vxm(sim, NULL, NULL, "reattach", "01:00.0", NULL), ==, 0);
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
}

/* ---- a fault at every sysfs write ---- */

static const char *const fault_actions[] = {"errno=EBUSY", "errno=ENODEV", "errno=EINVAL", "hang",
                                            "vanish"};

/* After a failed command: let hung writes finish, bring vanished devices back, recover, and
 * check the host is as it was. */
static void
settle_and_recover(VxmSimhost *sim, const Write *w, const char *action, gboolean stuck_recorded,
                   const char *before, const char *context)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *after = NULL;
  g_autoptr(GError) error = NULL;

  vxm_simhost_clear_faults(sim);
  if (strcmp(action, "hang") == 0 && stuck_recorded) {
    /* the write is still in the "kernel": recover must not race it */
    if (run_vxm(sim, &out, &err, "recover", NULL) != 1 ||
        strstr(err, "is still blocked in the kernel") == NULL)
      g_error("%s: recover during the hung write did not wait for it: %s%s", context, out, err);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
  }
  if (strcmp(action, "hang") == 0) {
    g_autofree char *final =
        g_strdup_printf(" write %s %s -> ", w->path, w->value[0] != '\0' ? w->value : "\"\"");
    vxm_simhost_release(sim);
    /* the released write finishes in the simulator: wait for its final log line */
    for (int i = 0; i < 2000; i++) {
      g_autofree char *log = vxm_simhost_read_log(sim);
      const char *p = strstr(log, final);

      if (p != NULL && (p = strstr(p + 1, final)) != NULL)
        break;
      g_usleep(1000);
    }
  }
  if (strcmp(action, "vanish") == 0) {
    g_autofree char *bdf = write_device(w);
    if (!vxm_simhost_replug(sim, bdf, &error))
      g_error("%s: replug %s: %s", context, bdf, error->message);
  }
  /* The released writer still has to return from write() and exit: until then recover says
   * the write is still blocked and to run it again, as a user would (bounded: 10 s). */
  for (int i = 0;; i++) {
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
    if (run_vxm(sim, &out, &err, "recover", NULL) == 0)
      break;
    if (strcmp(action, "hang") != 0 || strstr(err, "is still blocked in the kernel") == NULL ||
        i >= 500)
      g_error("%s: recover failed: %s%s", context, out, err);
    g_usleep(20 * 1000);
  }
  after = vxm_simhost_state(sim);
  if (g_strcmp0(after, before) != 0)
    g_error("%s: host not restored after recover:\n%s\nrecover said: %s", context, after, out);
  /* and nothing is left for a second recover: no journal on the host */
  {
    g_autofree char *dir = vxm_simhost_path(sim, VXM_HOST_RUN_VXM_JOURNAL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);

    if (d != NULL && g_dir_read_name(d) != NULL)
      g_error("%s: a journal is left after recover (recover said: %s)", context, out);
  }
}

static void
fault_matrix(const char *machine, const char *addr, guint *n_cases, guint *n_restored_at_once)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmSimhost) sim = vxm_simhost_start(machine, &error);
  g_autofree char *before = NULL;
  g_autofree char *log = NULL;
  g_autoptr(GPtrArray) detach_writes = NULL;
  g_autoptr(GPtrArray) reattach_writes = NULL;

  g_assert_no_error(error);
  before = vxm_simhost_state(sim);
  /* a clean run enumerates the writes */
  vxm_simhost_clear_log(sim);
  g_assert_cmpint(run_vxm(sim, NULL, NULL, "detach", addr, NULL), ==, 0);
  log = vxm_simhost_read_log(sim);
  detach_writes = log_writes(log);
  vxm_simhost_clear_log(sim);
  g_assert_cmpint(run_vxm(sim, NULL, NULL, "reattach", addr, NULL), ==, 0);
  g_free(log);
  log = vxm_simhost_read_log(sim);
  reattach_writes = log_writes(log);
  g_assert_cmpuint(detach_writes->len, >=, 3);
  g_assert_cmpuint(reattach_writes->len, >=, 3);

  for (guint phase = 0; phase < 2; phase++) {
    GPtrArray *writes = phase == 0 ? detach_writes : reattach_writes;

    for (guint i = 0; i < writes->len; i++) {
      for (guint f = 0; f < G_N_ELEMENTS(fault_actions); f++) {
        const Write *w = g_ptr_array_index(writes, i);
        g_autofree char *rule = fault_rule(w, fault_actions[f]);
        g_autofree char *context = g_strdup_printf("%s %s, write %u (%s)", machine,
                                                   phase == 0 ? "detach" : "reattach", i + 1, rule);
        g_autofree char *out = NULL;
        g_autofree char *err = NULL;
        g_autofree char *now = NULL;
        int status;

        if (phase == 1)
          g_assert_cmpint(run_vxm(sim, NULL, NULL, "detach", addr, NULL), ==, 0);
        if (!vxm_simhost_add_fault(sim, rule, &error))
          g_error("%s: %s", context, error->message);
        status = run_vxm(sim, &out, &err, phase == 0 ? "detach" : "reattach", "--timeout",
                         SHORT_LIMIT, addr, NULL);
        (*n_cases)++;
        if (status != 1)
          g_error("%s: expected a failure, got %d: %s%s", context, status, out, err);
        /* the error names the device the write was for */
        {
          g_autofree char *bdf = write_device(w);
          if (strstr(err, bdf) == NULL)
            g_error("%s: the error does not name %s: %s", context, bdf, err);
        }
        now = vxm_simhost_state(sim);
        if (phase == 0 && strstr(err, "everything was put back") != NULL &&
            strcmp(fault_actions[f], "vanish") != 0) {
          /* fully restored at once: nothing for recover */
          g_assert_cmpstr(now, ==, before);
          (*n_restored_at_once)++;
        }
        if (strcmp(fault_actions[f], "hang") == 0)
          assert_contains(err, "did not finish in 1 s");
        settle_and_recover(sim, w, fault_actions[f], TRUE, before, context);
      }
    }
  }
}

static void
test_fault_every_write(void)
{
  guint cases = 0, at_once = 0;
  gint64 start;

  if (!vxm_test_require_root())
    return;
  start = g_get_monotonic_time();
  fault_matrix("intel-nvidia-turing", "01:00.0", &cases, &at_once);
  g_test_message("%u fault cases (%u restored by the failing command itself, the rest by vxm "
                 "recover) in %.1f s",
                 cases, at_once, (g_get_monotonic_time() - start) / 1e6);
  g_assert_cmpuint(cases, ==, 2 * 12 * G_N_ELEMENTS(fault_actions));
}

/* ---- SIGKILL of vxm between every pair of steps ---- */

static void
kill_at(VxmSimhost *sim, const char *command, const char *addr, const Write *w, const char *before,
        const char *context)
{
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  g_autofree char *rule = fault_rule(w, "hang");
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  const char *argv[] = {vxm,         command, "--root", vxm_simhost_root(sim),
                        "--timeout", "60",    addr,     NULL};

  if (!vxm_simhost_add_fault(sim, rule, &error))
    g_error("%s: %s", context, error->message);
  proc = g_subprocess_newv(
      argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error(error);
  /* vxm is now between step k-1 (done) and step k (under way) */
  if (!vxm_simhost_wait_hung(sim, 1, 10000))
    g_error("%s: vxm never reached the write", context);
  g_subprocess_force_exit(proc);
  g_subprocess_wait(proc, NULL, &error);
  g_assert_no_error(error);
  g_assert_true(g_subprocess_get_if_signaled(proc));
  /* killed before it could journal the hung write: recover runs once the write is over */
  settle_and_recover(sim, w, "hang", FALSE, before, context);
}

static void
test_sigkill_every_step(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmSimhost) sim = NULL;
  g_autofree char *before = NULL;
  g_autofree char *log = NULL;
  g_autoptr(GPtrArray) detach_writes = NULL;
  g_autoptr(GPtrArray) reattach_writes = NULL;
  guint cases = 0;

  sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  if (sim == NULL)
    return;
  before = vxm_simhost_state(sim);
  vxm_simhost_clear_log(sim);
  g_assert_cmpint(run_vxm(sim, NULL, NULL, "detach", "01:00.0", NULL), ==, 0);
  log = vxm_simhost_read_log(sim);
  detach_writes = log_writes(log);
  vxm_simhost_clear_log(sim);
  g_assert_cmpint(run_vxm(sim, NULL, NULL, "reattach", "01:00.0", NULL), ==, 0);
  g_free(log);
  log = vxm_simhost_read_log(sim);
  reattach_writes = log_writes(log);

  for (guint i = 0; i < detach_writes->len; i++) {
    g_autofree char *context = g_strdup_printf("SIGKILL of vxm detach at write %u", i + 1);
    kill_at(sim, "detach", "01:00.0", g_ptr_array_index(detach_writes, i), before, context);
    cases++;
  }
  for (guint i = 0; i < reattach_writes->len; i++) {
    g_autofree char *context = g_strdup_printf("SIGKILL of vxm reattach at write %u", i + 1);
    g_assert_cmpint(run_vxm(sim, NULL, NULL, "detach", "01:00.0", NULL), ==, 0);
    kill_at(sim, "reattach", "01:00.0", g_ptr_array_index(reattach_writes, i), before, context);
    cases++;
  }
  /* a second recover has nothing to do, and says so */
  {
    g_autofree char *out = NULL;

    g_assert_cmpint(run_vxm(sim, &out, NULL, "recover", NULL), ==, 0);
    g_assert_cmpstr(out, ==, "nothing to recover\n");
  }
  g_test_message("%u SIGKILL cases, each restored by vxm recover", cases);
  g_assert_cmpuint(cases, ==, detach_writes->len + reattach_writes->len);
}

/* ---- a VM name stands for its guest GPU ---- */

static void
test_vm_name(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmSimhost) sim = NULL;
  g_autofree char *home = NULL;
  g_autofree char *env_config = NULL;
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  sim = vxm_simhost_start_for_test("amd-apu-radeon");
  if (sim == NULL)
    return;
  home = vxm_test_mkdtemp();
  vxm_test_write_file(home, "vxm/vms/win11.conf", "[gpu]\naddress=03:00.0\nunbind_timeout=3\n");
  env_config = g_strdup_printf("XDG_CONFIG_HOME=%s", home);
  before = vxm_simhost_state(sim);
  {
    const char *argv[] = {vxm, "detach", "--root", vxm_simhost_root(sim), "win11", NULL};
    const char *envp[] = {env_config, NULL};

    if (vxm_test_run(argv, envp, &out, &err) != 0)
      g_error("vxm detach win11: %s", err);
    assert_contains(out, "0000:03:00.1: snd_hda_intel -> vfio-pci");
  }
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  {
    const char *argv[] = {vxm, "reattach", "--root", vxm_simhost_root(sim), "win11", NULL};
    const char *envp[] = {env_config, NULL};

    if (vxm_test_run(argv, envp, &out, &err) != 0)
      g_error("vxm reattach win11: %s", err);
    assert_contains(out, "0000:03:00.1 back on snd_hda_intel");
    assert_contains(out, "0000:03:00.0 back on amdgpu");
  }
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
  vxm_test_rm_rf(home);
}

/* ---- a device unplugged while detached ---- */

static void
test_unplugged_while_detached(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmSimhost) sim = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *state = NULL;

  sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  if (sim == NULL)
    return;
  g_assert_cmpint(run_vxm(sim, NULL, NULL, "detach", "01:00.0", NULL), ==, 0);
  g_assert_true(vxm_simhost_unplug(sim, "0000:01:00.2", &error));
  g_assert_cmpint(run_vxm(sim, &out, &err, "reattach", "01:00.0", NULL), ==, 0);
  assert_contains(out, "0000:01:00.2 has disappeared");
  assert_contains(out, "0000:01:00.3 back on nvidia-gpu");
  assert_contains(out, "0000:01:00.0 back on nvidia");
  state = vxm_simhost_state(sim);
  assert_contains(state, "pci 0000:01:00.0 driver=nvidia override=(null)");
}

/* ---- the one recover (VxmHostOps) ---- */

/* A held journal @name whose one change was given back already (a crash between the last undo
 * and the file's removal). */
static void
write_cleared_held_journal(VxmHostfs *fs, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmJournal) journal = vxm_journal_new(fs, name, &error);
  JsonObject *data = json_object_new();
  guint index = 0;

  g_assert_no_error(error);
  json_object_set_string_member(data, "device", "0000:01:00.1");
  g_assert_true(vxm_journal_begin(journal, VXM_VFIO_JOURNAL_KIND, data, &index, &error));
  json_object_unref(data);
  g_assert_true(vxm_journal_finish(journal, index, VXM_JOURNAL_STATE_UNDONE, "back", &error));
  g_assert_true(vxm_journal_hold(journal, "detached by hand with vxm detach", &error));
  g_assert_no_error(error);
}

/* Recover removes a journal that holds nothing any more, held or not (vxmd's recover always
 * did; vxm's own used to leave a held one for ever, "left alone"), and still leaves one that
 * holds a card. */
static void
test_recover_removes_cleared(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmSimhost) sim = NULL;
  g_autoptr(VxmHostfs) fs = NULL;
  g_autoptr(VxmHostOps) ops = NULL;
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *out = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  if (!vxm_test_require_root())
    return;
  sim = vxm_simhost_start("intel-nvidia-turing", &error);
  g_assert_no_error(error);
  fs = vxm_hostfs_new(vxm_simhost_root(sim));
  before = vxm_simhost_state(sim);
  /* through the interface */
  write_cleared_held_journal(fs, "manual-0000:01:00.0");
  ops = vxm_host_ops_local_new(fs);
  g_assert_true(vxm_host_ops_recover(ops, "manual-0000:01:00.0", report, &error));
  g_assert_no_error(error);
  g_assert_false(vxm_journal_exists(fs, "manual-0000:01:00.0"));
  /* and as the user sees it */
  write_cleared_held_journal(fs, "manual-0000:01:00.0");
  g_assert_cmpint(run_vxm(sim, &out, NULL, "recover", NULL), ==, 0);
  assert_contains(out, "manual-0000:01:00.0: nothing had changed; journal cleared");
  g_assert_false(vxm_journal_exists(fs, "manual-0000:01:00.0"));
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
  /* a card still held by hand stays: BUSY, with the way to give it back */
  g_assert_cmpint(run_vxm(sim, NULL, NULL, "detach", "01:00.0", NULL), ==, 0);
  g_assert_false(vxm_host_ops_recover(ops, "manual-0000:01:00.0", report, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_BUSY);
  g_assert_nonnull(strstr(error->message, "vxm reattach gives it back"));
  g_assert_true(vxm_journal_exists(fs, "manual-0000:01:00.0"));
  g_assert_cmpint(run_vxm(sim, NULL, NULL, "reattach", "01:00.0", NULL), ==, 0);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/vfio/cycle/every-machine", test_cycle_every_machine);
  g_test_add_func("/vxm/vfio/reattach/original-drivers", test_original_drivers);
  g_test_add_func("/vxm/vfio/detach/vm-name", test_vm_name);
  g_test_add_func("/vxm/vfio/reattach/unplugged-while-detached", test_unplugged_while_detached);
  g_test_add_func("/vxm/vfio/detach/refusals-change-nothing", test_refusals);
  g_test_add_func("/vxm/vfio/detach/holders-gone", test_holders_gone);
  g_test_add_func("/vxm/vfio/detach/vfio-node-held-refused", test_vfio_node_held_refused);
  g_test_add_func("/vxm/vfio/pending-unbind/commands-return", test_pending_unbind_commands_return);
  g_test_add_func("/vxm/vfio/reattach/module-in-use-left-loaded", test_module_in_use_left_loaded);
  g_test_add_func("/vxm/vfio/faults/every-write", test_fault_every_write);
  g_test_add_func("/vxm/vfio/sigkill/every-step", test_sigkill_every_step);
  g_test_add_func("/vxm/vfio/recover/cleared-journal-removed", test_recover_removes_cleared);
  return g_test_run();
}
