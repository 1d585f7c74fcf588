/* The QEMU and swtpm argv builders: golden files for six workstations, and each golden argv
 * run by the real QEMU (through the test wrapper's transformation) to prove QEMU accepts it.
 *
 * Inputs: tests/data/argv/NAME.conf (the VM config) + the host facts below + the checked-in
 * caps tests/data/qemu-caps-7.2.json. Outputs: NAME.args (QEMU, one argument a line),
 * NAME.swtpm.args, NAME.steps. VXM_TEST_REGENERATE_OUTPUT=1 rewrites them.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "plan/vxm-start-step.h"
#include "plan/vxm-qemu-argv.h"
#include "plan/vxm-swtpm-argv.h"
#include "vxm-qemu-wrapper.h"
#include "vxm-test-util.h"

#define GIB (G_GUINT64_CONSTANT(1) << 30)
#define MIB (G_GUINT64_CONSTANT(1) << 20)

typedef struct {
  const char *name;
  void (*facts)(VxmStartFacts *facts);
} ArgvCase;

static void
add_keyboard_and_mouse(VxmStartFacts *f)
{
  vxm_start_facts_add_input(f, "/dev/input/by-id/usb-Logitech_G915_Keyboard-event-kbd",
                            VXM_HOST_INPUT_KEYBOARD, TRUE);
  vxm_start_facts_add_input(f, "/dev/input/by-id/usb-Logitech_G502_HERO-event-mouse",
                            VXM_HOST_INPUT_MOUSE, FALSE);
}

static void
facts_nvidia_4fn(VxmStartFacts *f)
{
  vxm_start_facts_add_gpu_function(f, "0000:01:00.0", 0x0300, "nvidia", 14);
  vxm_start_facts_add_gpu_function(f, "0000:01:00.1", 0x0403, "snd_hda_intel", 14);
  vxm_start_facts_add_gpu_function(f, "0000:01:00.2", 0x0c03, "xhci_hcd", 14);
  vxm_start_facts_add_gpu_function(f, "0000:01:00.3", 0x0c80, "nvidia-gpu", 14);
  f->memory_bytes = 16 * GIB;
  f->cores = 4;
  f->threads = 2;
  add_keyboard_and_mouse(f);
  {
    VxmVmMonitorSwitch *sw = g_new0(VxmVmMonitorSwitch, 1);

    sw->spec = g_strdup("DEL:41234:12345");
    sw->guest_input = 0x11;
    sw->host_input = 0x0f;
    g_ptr_array_add(f->monitors, sw);
  }
}

/* [pci] extra: a USB controller and an NVMe beside the card, each on a root port of its own. */
static void
facts_pci_extra(VxmStartFacts *f)
{
  facts_nvidia_4fn(f);
  vxm_start_facts_add_extra_device(f, "0000:04:00.0", 0x0c03, "xhci_hcd", 10);
  vxm_start_facts_add_extra_device(f, "0000:05:00.0", 0x0108, "nvme", 12);
}

static void
facts_amd_audio(VxmStartFacts *f)
{
  vxm_start_facts_add_gpu_function(f, "0000:0c:00.0", 0x0300, "amdgpu", 22);
  vxm_start_facts_add_gpu_function(f, "0000:0c:00.1", 0x0403, "snd_hda_intel", 23);
  f->gpu_numa_node = 0;
  f->memory_bytes = 12 * GIB;
  f->cores = 6;
  f->threads = 1;
  add_keyboard_and_mouse(f);
}

static void
facts_hugepages(VxmStartFacts *f)
{
  vxm_start_facts_add_gpu_function(f, "0000:01:00.0", 0x0300, "nouveau", 1);
  vxm_start_facts_add_gpu_function(f, "0000:01:00.1", 0x0403, "snd_hda_intel", 1);
  f->memory_bytes = 16 * GIB;
  f->hugepage_bytes = GIB;
  f->gpu_numa_node = 1;
  f->hugepage_node = 1; /* a two-node host: the pages are on the GPU's node */
  f->cores = 6;
  f->threads = 2;
}

static void
facts_looking_glass(VxmStartFacts *f)
{
  vxm_start_facts_add_gpu_function(f, "0000:2d:00.0", 0x0300, "amdgpu", 31);
  vxm_start_facts_add_gpu_function(f, "0000:2d:00.1", 0x0403, "snd_hda_intel", 31);
  f->memory_bytes = 8 * GIB;
  f->hugepage_bytes = 2 * MIB;
  f->cores = 2;
  f->threads = 2;
  f->looking_glass_path = g_strdup("/dev/shm/looking-glass");
  f->looking_glass_bytes = 64 * MIB;
}

static void
facts_no_tpm(VxmStartFacts *f)
{
  vxm_start_facts_add_gpu_function(f, "0000:01:00.0", 0x0300, "nvidia", 2);
  vxm_start_facts_add_gpu_function(f, "0000:01:00.1", 0x0403, "snd_hda_intel", 2);
  f->memory_bytes = 8 * GIB;
  f->cores = 4;
  f->threads = 1;
}

static void
facts_comma_path(VxmStartFacts *f)
{
  VxmHostSmbios *s = vxm_host_smbios_new();

  vxm_start_facts_add_gpu_function(f, "0000:01:00.0", 0x0300, "nvidia", 16);
  vxm_start_facts_add_gpu_function(f, "0000:01:00.1", 0x0403, "snd_hda_intel", 16);
  f->memory_bytes = 8 * GIB;
  f->cores = 2;
  f->threads = 2;
  vxm_start_facts_add_input(f, "/dev/input/by-id/usb-Keychron_K8-event-kbd",
                            VXM_HOST_INPUT_KEYBOARD, TRUE);
  vxm_start_facts_add_input(f, "/dev/input/by-id/usb-Logitech_G502_HERO-if01-event-kbd",
                            VXM_HOST_INPUT_KEYBOARD, FALSE);
  vxm_start_facts_add_input(f, "/dev/input/by-id/usb-Logitech_G502_HERO-event-mouse",
                            VXM_HOST_INPUT_MOUSE, FALSE);
  s->bios_vendor = g_strdup("American Megatrends Inc.");
  s->bios_version = g_strdup("4021");
  s->bios_date = g_strdup("08/09/2021");
  s->sys_vendor = g_strdup("ASUSTeK COMPUTER INC.");
  s->product_name = g_strdup("System Product Name");
  s->product_version = g_strdup("Rev 1.xx, 2021");
  s->product_serial = g_strdup("System Serial Number");
  s->product_uuid = g_strdup("5a1f0c3e-8e2b-4c1d-9f3a-0b1c2d3e4f50");
  s->product_sku = g_strdup("SKU");
  s->product_family = g_strdup("To be filled by O.E.M.");
  s->board_vendor = g_strdup("ASUSTeK COMPUTER INC.");
  s->board_name = g_strdup("ROG STRIX X570-E GAMING");
  s->board_version = g_strdup("Rev X.0x");
  s->board_serial = g_strdup("210485786002345");
  f->smbios = s;
}

/* The identity as vxmd's dmi-identity answers it (an empty asset tag and a null chassis serial
 * are left out of the argv). */
static void
facts_smbios_host(VxmStartFacts *f)
{
  g_autofree char *path = vxm_test_source_path("tests/data/argv/smbios-host.identity.json");
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;

  vxm_start_facts_add_gpu_function(f, "0000:01:00.0", 0x0300, "nvidia", 1);
  vxm_start_facts_add_gpu_function(f, "0000:01:00.1", 0x0403, "snd_hda_intel", 1);
  f->memory_bytes = 8 * GIB;
  f->cores = 4;
  f->threads = 1;
  json_parser_load_from_file(parser, path, &error);
  g_assert_no_error(error);
  f->smbios = vxm_host_smbios_new_from_identity(json_node_get_object(json_parser_get_root(parser)));
}

/* An RTX 4090 with Resizable BAR on: BAR 1 is 32 GiB, more than OVMF's default 64-bit window
 * holds, so the firmware is given a larger one. */
static void
facts_rebar_compat(VxmStartFacts *f)
{
  vxm_start_facts_add_gpu_function(f, "0000:01:00.0", 0x0300, "nvidia", 12);
  vxm_start_facts_add_gpu_function(f, "0000:01:00.1", 0x0403, "snd_hda_intel", 12);
  f->gpu_bar64_bytes = 32 * GIB + 32 * MIB; /* BAR 1 and BAR 3 */
  f->memory_bytes = 16 * GIB;
  f->cores = 8;
  f->threads = 2;
  add_keyboard_and_mouse(f);
}

static void
facts_usb(VxmStartFacts *f)
{
  vxm_start_facts_add_gpu_function(f, "0000:01:00.0", 0x0300, "nvidia", 1);
  vxm_start_facts_add_gpu_function(f, "0000:01:00.1", 0x0403, "snd_hda_intel", 1);
  f->memory_bytes = 8 * GIB;
  f->cores = 4;
  f->threads = 1;
  add_keyboard_and_mouse(f);
  vxm_start_facts_add_usb(f, 0x045e, 0x0b12, "/dev/bus/usb/001/006",
                          "Microsoft Xbox Wireless Controller");
  vxm_start_facts_add_usb(f, 0x056a, 0x0374, NULL, NULL);
}

static const ArgvCase cases[] = {
    {"nvidia-4fn", facts_nvidia_4fn},
    {"amd-audio", facts_amd_audio},
    {"hugepages", facts_hugepages},
    {"looking-glass", facts_looking_glass},
    {"no-tpm", facts_no_tpm},
    {"comma-path", facts_comma_path},
    {"smbios-host", facts_smbios_host},
    {"rebar-compat", facts_rebar_compat},
    {"usb", facts_usb},
    {"pci-extra", facts_pci_extra},
};

/* Everything a case builds, kept for the QEMU run. */
typedef struct {
  VxmVmConfig *config;
  VxmVmPaths *paths;
  GStrv qemu;
  GStrv swtpm;
  GPtrArray *steps;
} Built;

static void
built_free(Built *b)
{
  vxm_vm_config_free(b->config);
  vxm_vm_paths_free(b->paths);
  g_strfreev(b->qemu);
  g_strfreev(b->swtpm);
  if (b->steps != NULL)
    g_ptr_array_unref(b->steps);
  g_free(b);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Built, built_free)

static VxmQemuCaps *
fixed_caps(void)
{
  g_autofree char *path = vxm_test_source_path("tests/data/qemu-caps-7.2.json");
  g_autoptr(GError) error = NULL;
  VxmQemuCaps *caps = vxm_qemu_caps_load(path, &error);

  g_assert_no_error(error);
  return caps;
}

/* What Debian's descriptors give (see test-firmware): with and without secure boot. */
static VxmFirmware *
fixed_firmware(gboolean secure_boot)
{
  VxmFirmware *fw = g_new0(VxmFirmware, 1);
  const char *code =
      secure_boot ? "/usr/share/OVMF/OVMF_CODE_4M.ms.fd" : "/usr/share/OVMF/OVMF_CODE_4M.fd";
  const char *vars =
      secure_boot ? "/usr/share/OVMF/OVMF_VARS_4M.ms.fd" : "/usr/share/OVMF/OVMF_VARS_4M.fd";

  fw->descriptor_name =
      g_strdup(secure_boot ? "40-edk2-x86_64-secure-enrolled.json" : "60-edk2-x86_64.json");
  fw->code_host_path = g_strdup(code);
  fw->code_path = g_strdup(code);
  fw->code_format = g_strdup("raw");
  fw->vars_template_host_path = g_strdup(vars);
  fw->vars_template_path = g_strdup(vars);
  fw->vars_format = g_strdup("raw");
  fw->requires_smm = secure_boot;
  fw->secure_boot = secure_boot;
  fw->enrolled_keys = secure_boot;
  return fw;
}

static Built *
build_case(const ArgvCase *c)
{
  g_autofree char *rel = g_strdup_printf("tests/data/argv/%s.conf", c->name);
  g_autofree char *conf_path = vxm_test_source_path(rel);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmStartFacts) facts = vxm_start_facts_new();
  g_autoptr(VxmQemuCaps) caps = fixed_caps();
  g_autoptr(VxmFirmware) fw = NULL;
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(Built) b = g_new0(Built, 1);
  gsize len = 0;
  VxmQemuArgvInput in = {0};

  g_assert_true(g_file_get_contents(conf_path, &text, &len, NULL));
  b->config = vxm_vm_config_load_data(c->name, conf_path, text, len, &error);
  g_assert_no_error(error);
  b->paths = vxm_vm_paths_new(c->name, &error);
  g_assert_no_error(error);
  c->facts(facts);
  fw = fixed_firmware(b->config->secure_boot);

  in.config = b->config;
  in.paths = b->paths;
  in.facts = facts;
  in.caps = caps;
  in.firmware = fw;
  in.qemu_binary = "qemu-system-x86_64";
  in.notes = notes;
  b->qemu = vxm_qemu_argv_build(&in, &error);
  g_assert_no_error(error);
  if (b->config->tpm) {
    b->swtpm = vxm_swtpm_argv_build(b->paths, NULL, &error);
    g_assert_no_error(error);
  }
  b->steps = vxm_start_step_plan(b->config, facts, b->paths, notes);
  return g_steal_pointer(&b);
}

static void
check_golden(const char *name, const char *suffix, const char *actual)
{
  g_autofree char *rel = g_strdup_printf("tests/data/argv/%s%s", name, suffix);

  vxm_test_check_golden(rel, actual, "VXM_TEST_REGENERATE_OUTPUT");
}

static char *
lines(const char *const *argv)
{
  g_autoptr(GString) s = g_string_new(NULL);

  for (gsize i = 0; argv[i] != NULL; i++)
    g_string_append_printf(s, "%s\n", argv[i]);
  return g_string_free(g_steal_pointer(&s), FALSE);
}

static void
test_golden(gconstpointer data)
{
  const ArgvCase *c = data;
  g_autoptr(Built) b = build_case(c);
  g_autofree char *qemu = lines((const char *const *)b->qemu);
  g_autoptr(GString) steps = g_string_new(NULL);

  check_golden(c->name, ".args", qemu);
  if (b->swtpm != NULL) {
    g_autofree char *swtpm = lines((const char *const *)b->swtpm);
    check_golden(c->name, ".swtpm.args", swtpm);
  }
  for (guint i = 0; i < b->steps->len; i++) {
    VxmStartStep *step = g_ptr_array_index(b->steps, i);
    g_string_append_printf(steps, "%s: %s\n", vxm_start_step_kind_to_string(step->kind),
                           step->description);
  }
  check_golden(c->name, ".steps", steps->str);
}

/* ---- the real QEMU ---- */

#define HOME "/home/ada"
#define RUN  "/run/user/1000"

static gboolean
write_proc(const char *path, guint64 value)
{
  g_autofree char *text = g_strdup_printf("%" G_GUINT64_FORMAT "\n", value);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  close(fd);
  return ok;
}

static guint64
read_proc(const char *path)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents(path, &text, NULL, NULL))
    return 0;
  return g_ascii_strtoull(text, NULL, 10);
}

static gboolean
wait_for_path(const char *path, GSubprocess *proc, guint timeout_ms)
{
  for (guint waited = 0; waited < timeout_ms; waited += 10) {
    if (g_file_test(path, G_FILE_TEST_EXISTS))
      return TRUE;
    if (proc != NULL && g_subprocess_get_identifier(proc) == NULL)
      return FALSE; /* exited (and reaped) */
    g_main_context_iteration(NULL, FALSE);
    g_usleep(10 * 1000);
  }
  return FALSE;
}

/* One QMP command over @conn; returns the reply line. */
static char *
qmp(GDataInputStream *in, GOutputStream *out, const char *command, GError **error)
{
  if (!g_output_stream_write_all(out, command, strlen(command), NULL, NULL, error))
    return NULL;
  for (;;) {
    g_autofree char *line = g_data_input_stream_read_line(in, NULL, NULL, error);

    if (line == NULL)
      return NULL;
    if (strstr(line, "\"event\"") == NULL)
      return g_steal_pointer(&line);
  }
}

/* Starts QEMU (and swtpm) from the golden argv, waits for QMP, checks the VM is there,
 * quits. Returns NULL on success, else what went wrong (no assertions inside: hugepages are
 * released by the caller whatever happens). */
static char *
run_real_qemu(const Built *b, const char *tmp, const char *hugepage_size, GPtrArray *notes)
{
  g_autofree char *home = g_build_filename(tmp, "home", NULL);
  g_autofree char *run = g_build_filename(tmp, "run", NULL);
  g_autofree char *srv = g_build_filename(tmp, "srv", NULL);
  g_autofree char *shm = g_build_filename(tmp, "shm-looking-glass", NULL);
  const char *map[] = {HOME, home, RUN, run, "/srv", srv, "/dev/shm/looking-glass", shm, NULL};
  const char *const clean_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", NULL};
  VxmQemuWrapperOptions opts = {.path_map = map,
                                .hugepage_size = hugepage_size,
                                .memory = hugepage_size != NULL ? "256M" : NULL};
  g_auto(GStrv) qemu_argv = vxm_qemu_wrapper_transform((const char *const *)b->qemu, &opts, notes);
  g_autofree char *qmp_path = vxm_qemu_wrapper_map_paths(b->paths->qmp_socket, map);
  g_autofree char *qemu_err = g_build_filename(tmp, "qemu.stderr", NULL);
  g_autoptr(GSubprocess) swtpm = NULL;
  g_autoptr(GSubprocess) qemu = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new();
  g_autoptr(GSocketAddress) addr = NULL;
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *greeting = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *status = NULL;
  g_autofree char *tpm = NULL;
  g_autofree char *peripherals = NULL;
  char *result = NULL;

  /* the files the VM opens: disk, its VARS copy, ISOs, Looking Glass memory, folders */
  {
    const char *dirs[] = {b->paths->runtime_dir, b->paths->state_dir, b->paths->data_dir,
                          b->paths->tpm_dir, NULL};
    const char *disk = b->config->disk_path != NULL                       ? b->config->disk_path
                       : b->config->disk_format == VXM_VM_DISK_FORMAT_RAW ? b->paths->disk_raw
                                                                          : b->paths->disk_qcow2;
    g_autofree char *mdisk = vxm_qemu_wrapper_map_paths(disk, map);
    g_autofree char *mdisk_dir = g_path_get_dirname(mdisk);
    g_autofree char *mvars = vxm_qemu_wrapper_map_paths(b->paths->efi_vars, map);
    g_autofree char *vars = NULL;
    gsize vars_len = 0;
    const char *vars_template = b->config->secure_boot ? "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
                                                       : "/usr/share/OVMF/OVMF_VARS_4M.fd";
    g_autofree char *qemu_img = g_find_program_in_path("qemu-img");
    const char *img_argv[] = {qemu_img,
                              "create",
                              "-q",
                              "-f",
                              b->config->disk_format == VXM_VM_DISK_FORMAT_RAW ? "raw" : "qcow2",
                              mdisk,
                              "64M",
                              NULL};

    for (gsize i = 0; dirs[i] != NULL; i++) {
      g_autofree char *d = vxm_qemu_wrapper_map_paths(dirs[i], map);
      g_mkdir_with_parents(d, 0700);
    }
    g_mkdir_with_parents(mdisk_dir, 0700);
    if (qemu_img == NULL || vxm_test_run(img_argv, NULL, NULL, NULL) != 0)
      return g_strdup_printf("qemu-img create %s failed", mdisk);
    if (!g_file_get_contents(vars_template, &vars, &vars_len, NULL) ||
        !g_file_set_contents(mvars, vars, vars_len, NULL))
      return g_strdup_printf("cannot copy %s to %s", vars_template, mvars);
    for (const char *iso = b->config->installer_iso; iso != NULL;
         iso = iso == b->config->installer_iso ? b->config->virtio_iso : NULL) {
      g_autofree char *miso = vxm_qemu_wrapper_map_paths(iso, map);
      g_autofree char *miso_dir = g_path_get_dirname(miso);
      g_mkdir_with_parents(miso_dir, 0700);
      g_file_set_contents(miso, "", 0, NULL);
    }
    if (g_strv_contains((const char *const *)b->qemu, "ivshmem-plain,id=lg,memdev=lgmem")) {
      int fd = open(shm, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
      if (fd < 0 || ftruncate(fd, 64 * MIB) != 0)
        return g_strdup_printf("cannot make %s", shm);
      close(fd);
    }
  }

  if (b->swtpm != NULL) {
    g_autoptr(GStrvBuilder) sb = g_strv_builder_new();
    g_auto(GStrv) swtpm_argv = NULL;
    g_autofree char *sock = vxm_qemu_wrapper_map_paths(b->paths->swtpm_socket, map);

    for (gsize i = 0; b->swtpm[i] != NULL; i++) {
      g_autofree char *m = vxm_qemu_wrapper_map_paths(b->swtpm[i], map);
      g_strv_builder_add(sb, m);
    }
    swtpm_argv = g_strv_builder_end(sb);
    {
      g_autoptr(GSubprocessLauncher) sl = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);

      g_subprocess_launcher_set_environ(sl, (char **)clean_env);
      swtpm = g_subprocess_launcher_spawnv(sl, (const char *const *)swtpm_argv, &error);
    }
    if (swtpm == NULL)
      return g_strdup_printf("cannot start swtpm: %s", error->message);
    if (!wait_for_path(sock, swtpm, 10000)) {
      g_subprocess_force_exit(swtpm);
      return g_strdup_printf("swtpm did not create %s", sock);
    }
  }

  launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  /* as vxm will: QEMU gets no environment it was not meant to (meson's MALLOC_PERTURB_
   * makes this QEMU hang before its QMP greeting) */
  g_subprocess_launcher_set_environ(launcher, (char **)clean_env);
  g_subprocess_launcher_set_stderr_file_path(launcher, qemu_err);
  g_subprocess_launcher_set_stdout_file_path(launcher, qemu_err);
  qemu = g_subprocess_launcher_spawnv(launcher, (const char *const *)qemu_argv, &error);
  if (qemu == NULL) {
    result = g_strdup_printf("cannot start QEMU: %s", error->message);
    goto out;
  }
  /* the socket file appears at bind(), before listen(): connect until it answers, or QEMU
   * exits (an argv it refuses), within 20 s */
  addr = g_unix_socket_address_new(qmp_path);
  g_socket_client_set_timeout(client, 20);
  for (guint waited = 0; conn == NULL && waited < 20000; waited += 10) {
    g_clear_error(&error);
    conn = g_socket_client_connect(client, G_SOCKET_CONNECTABLE(addr), NULL, &error);
    if (conn != NULL)
      break;
    if (g_subprocess_get_identifier(qemu) == NULL) {
      g_autofree char *err = NULL;

      g_subprocess_wait(qemu, NULL, NULL);
      g_file_get_contents(qemu_err, &err, NULL, NULL);
      result = g_strdup_printf("QEMU exited before its QMP socket answered: %s", err);
      goto out;
    }
    g_main_context_iteration(NULL, FALSE);
    g_usleep(10 * 1000);
  }
  if (conn == NULL) {
    result = g_strdup_printf("cannot connect to QMP %s: %s", qmp_path, error->message);
    goto out;
  }
  in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
  greeting = g_data_input_stream_read_line(in, NULL, NULL, &error);
  reply = greeting != NULL ? qmp(in, g_io_stream_get_output_stream(G_IO_STREAM(conn)),
                                 "{\"execute\": \"qmp_capabilities\"}\n", &error)
                           : NULL;
  status = reply != NULL ? qmp(in, g_io_stream_get_output_stream(G_IO_STREAM(conn)),
                               "{\"execute\": \"query-status\"}\n", &error)
                         : NULL;
  tpm = status != NULL ? qmp(in, g_io_stream_get_output_stream(G_IO_STREAM(conn)),
                             "{\"execute\": \"query-tpm\"}\n", &error)
                       : NULL;
  if (tpm == NULL) {
    result = g_strdup_printf("QMP conversation failed: %s", error->message);
    goto out;
  }
  for (gsize i = 0; b->qemu[i] != NULL && result == NULL; i++) {
    g_autofree char *want = NULL;
    const char *id = strstr(b->qemu[i], ",id=");

    /* each USB device and its controller are QEMU's devices (qom-list of the peripherals) */
    if (!g_str_has_prefix(b->qemu[i], "usb-host,") && !g_str_has_prefix(b->qemu[i], "qemu-xhci,"))
      continue;
    if (id == NULL)
      id = strstr(b->qemu[i], "id=") - 1;
    want = g_strndup(id + 4, strcspn(id + 4, ","));
    if (peripherals == NULL)
      peripherals = qmp(in, g_io_stream_get_output_stream(G_IO_STREAM(conn)),
                        "{\"execute\": \"qom-list\", \"arguments\": {\"path\": "
                        "\"/machine/peripheral\"}}\n",
                        &error);
    if (peripherals == NULL) {
      result = g_strdup_printf("qom-list failed: %s", error->message);
    } else {
      g_autofree char *entry = g_strdup_printf("\"name\": \"%s\"", want);

      if (strstr(peripherals, entry) == NULL)
        result = g_strdup_printf("QEMU has no device %s: %s", want, peripherals);
    }
  }
  if (result != NULL)
    ;
  else if (strstr(status, "\"prelaunch\"") == NULL)
    result = g_strdup_printf("QEMU is not paused before launch (-S): %s", status);
  else if (b->config->tpm && strstr(tpm, "tpm-crb") == NULL)
    result = g_strdup_printf("QEMU has no tpm-crb: %s", tpm);
  else if (!b->config->tpm && strstr(tpm, "tpm-crb") != NULL)
    result = g_strdup_printf("QEMU has a TPM it should not have: %s", tpm);
  g_free(
      qmp(in, g_io_stream_get_output_stream(G_IO_STREAM(conn)), "{\"execute\": \"quit\"}\n", NULL));

out:
  if (qemu != NULL) {
    g_subprocess_force_exit(qemu);
    g_subprocess_wait(qemu, NULL, NULL);
  }
  if (swtpm != NULL) {
    g_subprocess_force_exit(swtpm);
    g_subprocess_wait(swtpm, NULL, NULL);
  }
  return result;
}

static void
test_accepted_by_qemu(gconstpointer data)
{
  const ArgvCase *c = data;
  g_autoptr(Built) b = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *failure = NULL;
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
  gboolean hugepages = FALSE;
  const char *hugetlb = NULL;
  guint64 before = 0;
  guint64 reserved = 0;

  if (qemu == NULL || !g_file_test("/usr/share/OVMF/OVMF_CODE_4M.ms.fd", G_FILE_TEST_EXISTS)) {
    if (g_strcmp0(g_getenv("CI"), "true") == 0)
      g_error("qemu-system-x86 and ovmf must be installed");
    g_test_skip("qemu-system-x86_64 or OVMF is not installed");
    return;
  }
  b = build_case(c);
  tmp = vxm_test_mkdtemp();
  for (gsize i = 0; b->qemu[i] != NULL; i++)
    hugepages = hugepages || strstr(b->qemu[i], "hugetlb=on") != NULL;
  /* As root, reserve real 2 MiB pages so QEMU runs the hugetlb backend as written (1 GiB
   * pages cannot be had at run time here: the page size becomes 2M). The count is restored
   * before any assertion. */
  if (hugepages && geteuid() == 0) {
    before = read_proc("/proc/sys/vm/nr_hugepages");
    if (write_proc("/proc/sys/vm/nr_hugepages", before + 128))
      reserved = read_proc("/proc/sys/vm/nr_hugepages") - before;
    if (reserved >= 128)
      hugetlb = "2M";
    else
      g_test_message("only %" G_GUINT64_FORMAT " hugepages could be reserved", reserved);
  }
  failure = run_real_qemu(b, tmp, hugetlb, notes);
  if (hugepages && geteuid() == 0) {
    g_assert_true(write_proc("/proc/sys/vm/nr_hugepages", before));
    g_assert_cmpuint(read_proc("/proc/sys/vm/nr_hugepages"), ==, before);
  }
  for (guint i = 0; i < notes->len; i++)
    g_test_message("wrapper: %s", (char *)g_ptr_array_index(notes, i));
  vxm_test_rm_rf(tmp);
  if (failure != NULL)
    g_error("%s: QEMU refused the argv: %s", c->name, failure);
  if (hugepages && geteuid() == 0)
    g_assert_nonnull(hugetlb);
}

/* ---- unit cases ---- */

static void
test_escape_opt(void)
{
  g_autofree char *plain = vxm_qemu_escape_opt("/home/ada/disk.qcow2");
  g_autofree char *comma = vxm_qemu_escape_opt("/srv/vms/win,11/disk.qcow2");
  g_autofree char *two = vxm_qemu_escape_opt(",,");
  g_autofree char *empty = vxm_qemu_escape_opt("");

  g_assert_cmpstr(plain, ==, "/home/ada/disk.qcow2");
  g_assert_cmpstr(comma, ==, "/srv/vms/win,,11/disk.qcow2");
  g_assert_cmpstr(two, ==, ",,,,");
  g_assert_cmpstr(empty, ==, "");
}

typedef struct {
  VxmVmConfig *config;
  VxmVmPaths *paths;
  VxmStartFacts *facts;
  VxmQemuCaps *caps;
  VxmFirmware *fw;
  GPtrArray *notes;
  VxmQemuArgvInput in;
} Minimal;

static void
minimal_setup(Minimal *m, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  m->config = vxm_vm_config_new("unit");
  m->paths = vxm_vm_paths_new("unit", &error);
  g_assert_no_error(error);
  m->facts = vxm_start_facts_new();
  m->facts->memory_bytes = 4 * GIB;
  m->caps = fixed_caps();
  m->fw = fixed_firmware(TRUE);
  m->notes = g_ptr_array_new_with_free_func(g_free);
  m->in = (VxmQemuArgvInput){m->config, m->paths, m->facts, m->caps, m->fw, NULL, m->notes};
}

static void
minimal_teardown(Minimal *m, gconstpointer data)
{
  vxm_vm_config_free(m->config);
  vxm_vm_paths_free(m->paths);
  vxm_start_facts_free(m->facts);
  vxm_qemu_caps_free(m->caps);
  vxm_firmware_free(m->fw);
  g_ptr_array_unref(m->notes);
}

static gboolean
has_arg_pair(GStrv argv, const char *option, const char *value)
{
  for (gsize i = 0; argv[i] != NULL && argv[i + 1] != NULL; i++)
    if (strcmp(argv[i], option) == 0 && strcmp(argv[i + 1], value) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
has_arg_prefix(GStrv argv, const char *option, const char *prefix)
{
  for (gsize i = 0; argv[i] != NULL && argv[i + 1] != NULL; i++)
    if (strcmp(argv[i], option) == 0 && g_str_has_prefix(argv[i + 1], prefix))
      return TRUE;
  return FALSE;
}

/* No GPU: no vfio, no root port, no mem-lock; the argv still boots a VM. */
static void
test_without_gpu(Minimal *m, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = vxm_qemu_argv_build(&m->in, &error);

  g_assert_no_error(error);
  g_assert_cmpstr(argv[0], ==, m->caps->binary);
  g_assert_false(has_arg_prefix(argv, "-device", "vfio-pci"));
  g_assert_false(has_arg_prefix(argv, "-device", "pcie-root-port"));
  g_assert_false(has_arg_pair(argv, "-overcommit", "mem-lock=on"));
  g_assert_true(has_arg_pair(argv, "-machine", "q35,accel=kvm,smm=on,hpet=off,vmport=off"));
  g_assert_true(has_arg_pair(argv, "-m", "4G"));
  g_assert_true(has_arg_pair(argv, "-smp", "1,sockets=1,cores=1,threads=1"));
  g_assert_true(g_strv_contains((const char *const *)argv, "-S"));
  /* defaults: user network without a MAC yet, noted */
  g_assert_true(has_arg_pair(argv, "-netdev", "user,id=net0"));
  g_assert_cmpuint(m->notes->len, >=, 1);
}

/* The guest sees the host's function numbers: a 2-function card without .1 but with .2 keeps
 * .2; a card without function 0 or with a repeated function is refused. */
static void
test_gpu_layout(Minimal *m, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = NULL;
  g_auto(GStrv) refused = NULL;

  vxm_start_facts_add_gpu_function(m->facts, "0000:03:00.2", 0x0c03, "xhci_hcd", 5);
  vxm_start_facts_add_gpu_function(m->facts, "0000:03:00.0", 0x0300, "amdgpu", 5);
  argv = vxm_qemu_argv_build(&m->in, &error);
  g_assert_no_error(error);
  g_assert_true(has_arg_pair(argv, "-device",
                             "vfio-pci,host=0000:03:00.0,id=gpu-fn0,bus=gpu-port,addr=00.0,"
                             "multifunction=on"));
  g_assert_true(has_arg_pair(argv, "-device",
                             "vfio-pci,host=0000:03:00.2,id=gpu-fn2,bus=gpu-port,addr=00.2"));
  g_assert_true(has_arg_pair(argv, "-overcommit", "mem-lock=on"));

  vxm_start_facts_add_gpu_function(m->facts, "0000:03:00.2", 0x0c80, "ucsi_ccg", 5);
  refused = vxm_qemu_argv_build(&m->in, &error);
  g_assert_null(refused);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull(strstr(error->message, "0000:03:00.2"));
}

static void
test_gpu_without_function0(Minimal *m, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = NULL;

  vxm_start_facts_add_gpu_function(m->facts, "0000:03:00.1", 0x0403, "snd_hda_intel", 5);
  argv = vxm_qemu_argv_build(&m->in, &error);
  g_assert_null(argv);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull(strstr(error->message, "no function 0"));
}

/* Facts from another QEMU: no hpet machine property -> -no-hpet; no io_uring -> aio=threads;
 * no KVM -> a clear error. */
static void
test_caps_decide(Minimal *m, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = NULL;
  g_auto(GStrv) no_kvm = NULL;

  g_hash_table_remove(m->caps->machine_props, "hpet");
  m->caps->io_uring = FALSE;
  argv = vxm_qemu_argv_build(&m->in, &error);
  g_assert_no_error(error);
  g_assert_true(g_strv_contains((const char *const *)argv, "-no-hpet"));
  g_assert_true(has_arg_pair(argv, "-machine", "q35,accel=kvm,smm=on,vmport=off"));
  g_assert_true(has_arg_pair(argv, "-drive",
                             "if=pflash,unit=0,format=raw,readonly=on,"
                             "file=/usr/share/OVMF/OVMF_CODE_4M.ms.fd"));
  g_assert_true(has_arg_prefix(argv, "-drive", "if=pflash,unit=1,format=raw,file="));
  g_assert_true(has_arg_prefix(argv, "-blockdev", "driver=file,node-name=disk0-file,"));
  {
    gboolean threads = FALSE;
    for (gsize i = 0; argv[i] != NULL; i++)
      threads = threads || strstr(argv[i], "aio=threads") != NULL;
    g_assert_true(threads);
  }
  g_hash_table_remove(m->caps->accels, "kvm");
  no_kvm = vxm_qemu_argv_build(&m->in, &error);
  g_assert_null(no_kvm);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED);
  g_assert_nonnull(strstr(error->message, "KVM"));
}

static void
test_audio_backend(Minimal *m, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  m->config->audio = VXM_VM_AUDIO_AUTO;
  g_assert_cmpstr(vxm_qemu_argv_audio_backend(m->config, m->caps, &error), ==, "pa");
  g_hash_table_insert(m->caps->audiodevs, g_strdup("pipewire"), g_strdup(""));
  g_assert_cmpstr(vxm_qemu_argv_audio_backend(m->config, m->caps, &error), ==, "pipewire");
  g_hash_table_remove_all(m->caps->audiodevs);
  g_assert_null(vxm_qemu_argv_audio_backend(m->config, m->caps, &error));
  g_assert_no_error(error);
  m->config->audio = VXM_VM_AUDIO_PIPEWIRE;
  g_assert_null(vxm_qemu_argv_audio_backend(m->config, m->caps, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED);
  g_assert_nonnull(strstr(error->message, "pipewire"));
}

/* [cpu] hide_kvm and hv_vendor_id come from the config; vmport is off wherever QEMU has it. */
static void
test_guest_compat(Minimal *m, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) plain = vxm_qemu_argv_build(&m->in, &error);
  g_auto(GStrv) hidden = NULL;
  g_auto(GStrv) no_vmport = NULL;

  g_assert_no_error(error);
  g_assert_true(has_arg_pair(plain, "-machine", "q35,accel=kvm,smm=on,hpet=off,vmport=off"));
  g_assert_true(has_arg_prefix(plain, "-cpu", "host,hv-relaxed,"));
  g_assert_false(has_arg_prefix(plain, "-cpu", "host,kvm=off"));

  m->config->hide_kvm = TRUE;
  m->config->hv_vendor_id = g_strdup("vxmvendorid");
  hidden = vxm_qemu_argv_build(&m->in, &error);
  g_assert_no_error(error);
  g_assert_true(has_arg_pair(hidden, "-cpu",
                             "host,kvm=off,hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-vpindex,"
                             "hv-runtime,hv-synic,hv-stimer,hv-reset,hv-frequencies,hv-tlbflush,"
                             "hv-ipi,hv-time,hv-vendor-id=vxmvendorid"));

  /* a QEMU whose machine has no vmport property (not x86 pc/q35) gets none */
  g_hash_table_remove(m->caps->machine_props, "vmport");
  no_vmport = vxm_qemu_argv_build(&m->in, &error);
  g_assert_no_error(error);
  g_assert_true(has_arg_pair(no_vmport, "-machine", "q35,accel=kvm,smm=on,hpet=off"));
}

/* A BAR larger than OVMF's 32 GiB window: the firmware is told the size that holds it. */
static void
test_mmio64_window(Minimal *m, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) small = NULL;
  g_auto(GStrv) large = NULL;

  g_assert_cmpuint(vxm_qemu_argv_mmio64_mb(0), ==, 0);
  g_assert_cmpuint(vxm_qemu_argv_mmio64_mb(256 * MIB + 32 * MIB), ==, 0);
  g_assert_cmpuint(vxm_qemu_argv_mmio64_mb(16 * GIB + 32 * MIB), ==, 0);
  g_assert_cmpuint(vxm_qemu_argv_mmio64_mb(32 * GIB), ==, 65536);
  g_assert_cmpuint(vxm_qemu_argv_mmio64_mb(31 * GIB + 1), ==, 65536);
  g_assert_cmpuint(vxm_qemu_argv_mmio64_mb(64 * GIB + 64 * MIB), ==, 131072);

  vxm_start_facts_add_gpu_function(m->facts, "0000:01:00.0", 0x0300, "amdgpu", 5);
  m->facts->gpu_bar64_bytes = 16 * GIB + 2 * MIB;
  small = vxm_qemu_argv_build(&m->in, &error);
  g_assert_no_error(error);
  g_assert_false(has_arg_prefix(small, "-fw_cfg", ""));
  m->facts->gpu_bar64_bytes = 32 * GIB + 2 * MIB;
  large = vxm_qemu_argv_build(&m->in, &error);
  g_assert_no_error(error);
  g_assert_true(has_arg_pair(large, "-fw_cfg", "name=opt/ovmf/X-PciMmio64Mb,string=65536"));

  g_hash_table_remove(m->caps->options, "fw_cfg");
  g_strfreev(vxm_qemu_argv_build(&m->in, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED);
  g_assert_nonnull(strstr(error->message, "-fw_cfg"));
}

/* [audio] latency_ms becomes in/out.latency in microseconds for pipewire and pa; alsa has no
 * such option: a note says it is not applied. */
static void
test_audio_latency(Minimal *m, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) deflt = NULL;
  g_auto(GStrv) pa = NULL;
  g_auto(GStrv) pw = NULL;
  g_auto(GStrv) alsa = NULL;
  gboolean noted = FALSE;

  deflt = vxm_qemu_argv_build(&m->in, &error);
  g_assert_no_error(error);
  g_assert_true(has_arg_pair(deflt, "-audiodev", "pa,id=snd0"));
  m->config->audio_latency_ms = 40;
  pa = vxm_qemu_argv_build(&m->in, &error);
  g_assert_no_error(error);
  g_assert_true(has_arg_pair(pa, "-audiodev", "pa,id=snd0,in.latency=40000,out.latency=40000"));
  g_hash_table_insert(m->caps->audiodevs, g_strdup("pipewire"), g_strdup(""));
  pw = vxm_qemu_argv_build(&m->in, &error);
  g_assert_no_error(error);
  g_assert_true(
      has_arg_pair(pw, "-audiodev", "pipewire,id=snd0,in.latency=40000,out.latency=40000"));
  m->config->audio = VXM_VM_AUDIO_ALSA;
  alsa = vxm_qemu_argv_build(&m->in, &error);
  g_assert_no_error(error);
  g_assert_true(has_arg_pair(alsa, "-audiodev", "alsa,id=snd0"));
  for (guint i = 0; i < m->notes->len; i++)
    noted =
        noted || strstr(g_ptr_array_index(m->notes, i), "latency_ms = 40 is not applied") != NULL;
  g_assert_true(noted);
}

static void
test_hugepages_not_whole(Minimal *m, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = NULL;

  m->facts->memory_bytes = 4 * GIB + 2 * MIB;
  m->facts->hugepage_bytes = GIB;
  argv = vxm_qemu_argv_build(&m->in, &error);
  g_assert_null(argv);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_CONFIG);
  g_assert_nonnull(strstr(error->message, "1G hugepages"));
}

static void
test_swtpm_comma_refused(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmVmPaths) paths = vxm_vm_paths_new("unit", &error);
  g_auto(GStrv) argv = NULL;

  g_assert_no_error(error);
  g_free(paths->tpm_dir);
  paths->tpm_dir = g_strdup("/home/ada/vm,s/tpm");
  argv = vxm_swtpm_argv_build(paths, NULL, &error);
  g_assert_null(argv);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED);
  g_assert_nonnull(strstr(error->message, "/home/ada/vm,s/tpm"));
}

static void
test_wrapper_transform(void)
{
  const char *argv[] = {"qemu-system-x86_64",
                        "-machine",
                        "q35,accel=kvm,smm=on",
                        "-cpu",
                        "host,kvm=off,hv-relaxed,hv-vapic",
                        "-nodefaults",
                        "-device",
                        "vfio-pci,host=0000:01:00.0,id=gpu-fn0",
                        "-object",
                        "input-linux,id=kbd0,evdev=/dev/input/x",
                        "-blockdev",
                        "driver=file,filename=/srv/a,,b/disk",
                        "-overcommit",
                        "mem-lock=on",
                        "-object",
                        "memory-backend-memfd,id=mem0,size=16G,hugetlb=on,"
                        "hugetlbsize=1G,share=on,prealloc=on",
                        "-audiodev",
                        "pa,id=snd0",
                        "-netdev",
                        "bridge,id=net0,br=br0",
                        "-S",
                        NULL};
  const char *map[] = {"/srv", "/tmp/t/srv", NULL};
  VxmQemuWrapperOptions opts = {.qemu = "/usr/bin/qemu-system-x86_64", .path_map = map};
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
  g_auto(GStrv) out = vxm_qemu_wrapper_transform(argv, &opts, notes);
  const char *expected[] = {"/usr/bin/qemu-system-x86_64",
                            "-machine",
                            "q35,accel=tcg,smm=on",
                            "-cpu",
                            "max,kvm=off",
                            "-nodefaults",
                            "-blockdev",
                            "driver=file,filename=/tmp/t/srv/a,,b/disk",
                            "-object",
                            "memory-backend-memfd,id=mem0,size=16G,share=on",
                            "-audiodev",
                            "none,id=snd0",
                            "-netdev",
                            "user,id=net0",
                            "-S",
                            NULL};

  g_assert_cmpstrv(out, expected);
  g_assert_cmpuint(notes->len, >=, 8);
}

/* The stand-in binary: records the argv it was given, execs the transformed one (here echo,
 * so the test sees it). */
static void
test_wrapper_program(void)
{
  g_autoptr(Built) b = build_case(&cases[0]);
  g_autofree char *wrapper = vxm_test_build_path("tests/vxm-test-qemu-wrapper");
  g_autofree char *echo = g_find_program_in_path("echo");
  g_autofree char *tmp = vxm_test_mkdtemp();
  g_autofree char *log = g_build_filename(tmp, "argv.log", NULL);
  g_autofree char *e_log = g_strdup_printf("VXM_TEST_ARGV_LOG=%s", log);
  g_autofree char *e_qemu = g_strdup_printf("VXM_TEST_QEMU=%s", echo);
  const char *env[] = {e_log, e_qemu, NULL};
  g_autoptr(GStrvBuilder) argv = g_strv_builder_new();
  g_auto(GStrv) run_argv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *recorded = NULL;
  g_autofree char *expected = NULL;

  g_assert_nonnull(echo);
  g_strv_builder_add(argv, wrapper);
  for (gsize i = 1; b->qemu[i] != NULL; i++)
    g_strv_builder_add(argv, b->qemu[i]);
  run_argv = g_strv_builder_end(argv);
  g_assert_cmpint(vxm_test_run((const char *const *)run_argv, env, &out, &err), ==, 0);
  g_assert_true(g_file_get_contents(log, &recorded, NULL, NULL));
  expected = lines((const char *const *)run_argv);
  g_assert_cmpstr(recorded, ==, expected);
  g_assert_nonnull(strstr(out, "-machine q35,accel=tcg,smm=on,hpet=off,vmport=off "));
  g_assert_null(strstr(out, "vfio-pci"));
  g_assert_null(strstr(out, "input-linux"));
  g_assert_nonnull(
      strstr(err, "vxm-test-qemu-wrapper: dropped -device vfio-pci,host=0000:01:00.0"));
  vxm_test_rm_rf(tmp);
}

int
main(int argc, char **argv)
{
  /* the goldens name the user's folders: fixed, whatever the machine */
  g_setenv("HOME", HOME, TRUE);
  g_setenv("XDG_CONFIG_HOME", HOME "/.config", TRUE);
  g_setenv("XDG_DATA_HOME", HOME "/.local/share", TRUE);
  g_setenv("XDG_STATE_HOME", HOME "/.local/state", TRUE);
  g_setenv("XDG_CACHE_HOME", HOME "/.cache", TRUE);
  g_setenv("XDG_RUNTIME_DIR", RUN, TRUE);
  g_test_init(&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *golden = g_strdup_printf("/vxm/qemu-argv/golden/%s", cases[i].name);
    g_autofree char *real = g_strdup_printf("/vxm/qemu-argv/accepted-by-qemu/%s", cases[i].name);

    g_test_add_data_func(golden, &cases[i], test_golden);
    g_test_add_data_func(real, &cases[i], test_accepted_by_qemu);
  }
  g_test_add_func("/vxm/qemu-argv/escape-opt", test_escape_opt);
#define MINIMAL(path, fn) g_test_add(path, Minimal, NULL, minimal_setup, fn, minimal_teardown)
  MINIMAL("/vxm/qemu-argv/build/without-gpu", test_without_gpu);
  MINIMAL("/vxm/qemu-argv/build/gpu-function-layout", test_gpu_layout);
  MINIMAL("/vxm/qemu-argv/build/gpu-without-function-0", test_gpu_without_function0);
  MINIMAL("/vxm/qemu-argv/build/caps-decide", test_caps_decide);
  MINIMAL("/vxm/qemu-argv/build/audio-backend", test_audio_backend);
  MINIMAL("/vxm/qemu-argv/build/hugepages-not-whole", test_hugepages_not_whole);
  MINIMAL("/vxm/qemu-argv/build/guest-compat", test_guest_compat);
  MINIMAL("/vxm/qemu-argv/build/mmio64-window", test_mmio64_window);
  MINIMAL("/vxm/qemu-argv/build/audio-latency", test_audio_latency);
  g_test_add_func("/vxm/swtpm-argv/comma-refused", test_swtpm_comma_refused);
  g_test_add_func("/vxm/qemu-wrapper/transform", test_wrapper_transform);
  g_test_add_func("/vxm/qemu-wrapper/program", test_wrapper_program);
  return g_test_run();
}
