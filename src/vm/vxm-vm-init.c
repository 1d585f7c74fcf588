#include "vxm-vm-init.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "vm/vxm-firmware.h"
#include "vm/vxm-vm-lock.h"
#include "vm/vxm-vm-reset.h"

typedef struct {
  VxmVmInitStepFunc step;
  gpointer user_data;
  gint64 started;
} Steps;

static void
step_begin(Steps *s)
{
  s->started = g_get_monotonic_time();
}

static void step_done(Steps *s, const char *name, const char *format, ...) G_GNUC_PRINTF(3, 4);

static void
step_done(Steps *s, const char *name, const char *format, ...)
{
  g_autofree char *detail = NULL;
  va_list ap;

  if (s->step == NULL)
    return;
  va_start(ap, format);
  detail = g_strdup_vprintf(format, ap);
  va_end(ap);
  s->step(name, detail, (double)(g_get_monotonic_time() - s->started) / G_USEC_PER_SEC,
          s->user_data);
}

static gboolean
lexists(const char *path)
{
  struct stat st;
  return lstat(path, &st) == 0;
}

static char *
xdg_dir(const char *variable, const char *fallback)
{
  const char *value = g_getenv(variable);
  const char *home = g_getenv("HOME");

  if (value != NULL && g_path_is_absolute(value))
    return g_strdup(value);
  return g_build_filename(home && g_path_is_absolute(home) ? home : g_get_home_dir(), fallback,
                          NULL);
}

static gboolean
mkdir_private(const char *path, GError **error)
{
  if (g_mkdir_with_parents(path, 0700) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot create %s", path);
  return TRUE;
}

/* Runs @argv (no shell) and fails with its stderr when it fails. */
static gboolean
run_tool(const char *const *argv, const char *what, GError **error)
{
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  proc = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                           &local);
  if (proc == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_FAILED, "cannot run %s: %s", argv[0], local->message);
    return FALSE;
  }
  if (!g_subprocess_communicate_utf8(proc, NULL, NULL, &out, &err, &local)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_FAILED, "%s: %s", argv[0], local->message);
    return FALSE;
  }
  if (!g_subprocess_get_if_exited(proc) || g_subprocess_get_exit_status(proc) != 0) {
    g_autofree char *joined = g_strjoinv(" ", (char **)argv);
    const char *text = err && *g_strstrip(err) ? err : (out ? g_strstrip(out) : "");
    gboolean full = strstr(text, "No space left") != NULL;

    g_set_error(error, VXM_ERROR, full ? VXM_ERROR_NO_SPACE : VXM_ERROR_FAILED,
                "%s failed (exit status %d): %s%s(ran: %s)", what,
                g_subprocess_get_if_exited(proc) ? g_subprocess_get_exit_status(proc) : -1, text,
                *text ? " " : "", joined);
    return FALSE;
  }
  return TRUE;
}

static char *
find_tool(const char *given, const char *name, const char *package, GError **error)
{
  char *path;

  if (given != NULL)
    return g_strdup(given);
  path = g_find_program_in_path(name);
  if (path == NULL)
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND, "%s not found in PATH: install %s", name,
                package);
  return path;
}

/* cp @from @to, mode 0600, fsynced */
static gboolean
copy_file(const char *from, const char *shown_from, const char *to, GError **error)
{
  g_autofree char *data = NULL;
  g_autoptr(GError) local = NULL;
  gsize len = 0;

  if (!g_file_get_contents(from, &data, &len, &local)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND, "cannot read %s: %s", shown_from,
                local->message);
    return FALSE;
  }
  return vxm_file_replace_atomic(to, data, (gssize)len, 0600, error);
}

/* vxm's own swtpm_setup config and local CA, so swtpm_setup never needs /var/lib. */
static char *
ensure_swtpm_config(GError **error)
{
  g_autofree char *config_home = xdg_dir("XDG_CONFIG_HOME", ".config");
  g_autofree char *data_home = xdg_dir("XDG_DATA_HOME", ".local/share");
  g_autofree char *dir = g_build_filename(config_home, "vxm", "swtpm", NULL);
  g_autofree char *ca_dir = g_build_filename(data_home, "vxm", "swtpm-localca", NULL);
  g_autofree char *setup_conf = g_build_filename(dir, "swtpm_setup.conf", NULL);
  g_autofree char *ca_conf = g_build_filename(dir, "swtpm-localca.conf", NULL);
  g_autofree char *ca_options = g_build_filename(dir, "swtpm-localca.options", NULL);
  g_autofree char *localca = NULL;
  g_autofree char *text = NULL;

  localca = find_tool(NULL, "swtpm_localca", "swtpm-tools", error);
  if (localca == NULL)
    return NULL;
  if (!mkdir_private(dir, error) || !mkdir_private(ca_dir, error))
    return NULL;
  text = g_strdup_printf("# written by vxm init: swtpm_setup's config for vxm's VMs\n"
                         "create_certs_tool = %s\n"
                         "create_certs_tool_config = %s\n"
                         "create_certs_tool_options = %s\n"
                         "active_pcr_banks = sha256\n",
                         localca, ca_conf, ca_options);
  if (!vxm_file_replace_atomic(setup_conf, text, -1, 0600, error))
    return NULL;
  g_free(text);
  text = g_strdup_printf("statedir = %s\n"
                         "signingkey = %s/signkey.pem\n"
                         "issuercert = %s/issuercert.pem\n"
                         "certserial = %s/certserial\n",
                         ca_dir, ca_dir, ca_dir, ca_dir);
  if (!vxm_file_replace_atomic(ca_conf, text, -1, 0600, error))
    return NULL;
  if (!vxm_file_replace_atomic(ca_options,
                               "--platform-manufacturer vxm\n"
                               "--platform-version 1\n"
                               "--platform-model vxm\n",
                               -1, 0600, error))
    return NULL;
  return g_steal_pointer(&setup_conf);
}

/* The file name a download is stored as: the URL's last part when it looks like an ISO. */
static char *
download_name(const char *url)
{
  g_autofree char *copy = g_strdup(url);
  char *cut = strpbrk(copy, "?#");
  const char *slash;

  if (cut != NULL)
    *cut = '\0';
  slash = strrchr(copy, '/');
  if (slash != NULL && g_str_has_suffix(slash + 1, ".iso") && strlen(slash + 1) < 128) {
    gboolean ok = TRUE;
    for (const char *p = slash + 1; *p; p++)
      ok = ok && (g_ascii_isalnum(*p) || strchr("-_.+", *p) != NULL);
    if (ok && slash[1] != '.')
      return g_strdup(slash + 1);
  }
  return g_strdup("virtio-win.iso");
}

/* best effort: used while backing out of an error that is already being reported */
static void
remove_quietly(const char *path)
{
  g_autoptr(GError) ignored = NULL;

  if (!vxm_vm_remove_tree(path, &ignored))
    g_debug("leaving %s: %s", path, ignored->message);
}

typedef struct {
  char *tmp_dir;      /* the new data folder being built */
  char *created_disk; /* a disk made outside the data folder */
  char *runtime_dir;  /* the runtime folder, when init made it (for the lock) */
} Undo;

static void
undo_run(Undo *u)
{
  if (u->tmp_dir != NULL)
    remove_quietly(u->tmp_dir);
  if (u->created_disk != NULL)
    unlink(u->created_disk);
  if (u->runtime_dir != NULL)
    remove_quietly(u->runtime_dir);
  g_free(u->tmp_dir);
  g_free(u->created_disk);
  g_free(u->runtime_dir);
}

VxmVmConfig *
vxm_vm_init(VxmHostfs *hostfs, const VxmVmInitOptions *opts, VxmVmInitStepFunc step,
            VxmDownloadProgressFunc download_progress, gpointer user_data, GError **error)
{
  g_autoptr(VxmVmPaths) paths = NULL;
  g_autoptr(VxmVmConfig) config = NULL;
  g_autoptr(VxmFirmware) fw = NULL;
  g_autofree char *vxm_data = NULL;
  g_autofree char *template = NULL;
  g_autofree char *old_dir = NULL;
  g_autofree char *iso_name = NULL;
  g_autofree char *qemu_img = NULL;
  g_autofree char *swtpm_setup = NULL;
  g_autofree char *disk = NULL;
  g_autofree char *size = NULL;
  __attribute__((cleanup(undo_run))) Undo undo = {NULL, NULL, NULL};
  vxm_autofd int lock = -1;
  Steps steps = {step, user_data, 0};
  gboolean exists;
  g_autoptr(GPtrArray) set_keys = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) set_values = g_ptr_array_new_with_free_func(g_free);

  paths = vxm_vm_paths_new(opts->name, error);
  if (paths == NULL)
    return NULL;
  config = vxm_vm_config_new(paths->name);
  config->path = g_strdup(paths->config_file);
  config->text = (g_free(config->text), g_strdup_printf("# vxm VM %s: every key is in "
                                                        "vxm-config(5) and "
                                                        "/usr/share/doc/vxm/examples/"
                                                        "vm.conf.example\n",
                                                        paths->name));
  /* all settings together, checked once: pairs like host_input and guest_input */
  for (gsize i = 0; opts->settings != NULL && opts->settings[i] != NULL; i++) {
    g_auto(GStrv) kv = g_strsplit(opts->settings[i], "=", 2);
    if (kv[1] == NULL) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT, "--set %s: expected KEY=VALUE",
                  opts->settings[i]);
      return NULL;
    }
    g_ptr_array_add(set_keys, g_strdup(g_strstrip(kv[0])));
    g_ptr_array_add(set_values, g_strdup(g_strstrip(kv[1])));
  }
  g_ptr_array_add(set_keys, NULL);
  g_ptr_array_add(set_values, NULL);
  if (!vxm_vm_config_set_many(config, (const char *const *)set_keys->pdata,
                              (const char *const *)set_values->pdata, error))
    return NULL;
  if (opts->virtio_iso != NULL && !vxm_download_is_url(opts->virtio_iso)) {
    g_autofree char *abs = g_canonicalize_filename(opts->virtio_iso, NULL);
    if (!g_file_test(abs, G_FILE_TEST_IS_REGULAR)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                  "--virtio-iso %s: no such file (give a path to the ISO, or an https:// URL)",
                  opts->virtio_iso);
      return NULL;
    }
    if (opts->virtio_sha256 != NULL) {
      g_autofree char *want = NULL;
      g_autofree char *got = NULL;
      if (!vxm_download_sha256_parse(opts->virtio_sha256, &want, error))
        return NULL;
      if ((got = vxm_download_sha256_file(abs, error)) == NULL)
        return NULL;
      if (strcmp(want, got) != 0) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                    "checksum mismatch for %s: expected SHA-256 %s, got %s", abs, want, got);
        return NULL;
      }
    }
    if (!vxm_vm_config_set(config, "media.virtio_iso", abs, error))
      return NULL;
  } else if (opts->virtio_sha256 != NULL &&
             !vxm_download_sha256_parse(opts->virtio_sha256, NULL, error)) {
    return NULL;
  }

  /* the tools first: a missing one fails before anything exists */
  qemu_img = find_tool(opts->qemu_img, "qemu-img", "qemu-utils", error);
  if (qemu_img == NULL)
    return NULL;
  if (config->tpm) {
    swtpm_setup = find_tool(opts->swtpm_setup, "swtpm_setup", "swtpm-tools", error);
    if (swtpm_setup == NULL)
      return NULL;
  }

  if (!lexists(paths->runtime_dir))
    undo.runtime_dir = g_strdup(paths->runtime_dir);
  lock = vxm_vm_lock_acquire(paths, error);
  if (lock < 0)
    return NULL;
  exists = lexists(paths->config_file) || lexists(paths->data_dir);
  if (exists && !opts->force) {
    g_autofree char *shown = vxm_vm_paths_display(paths->config_file);
    g_set_error(error, VXM_ERROR, VXM_ERROR_EXISTS,
                "VM %s already exists (%s): keep it, remove it with vxm reset %s, or replace it "
                "with vxm init --force %s",
                paths->name, shown, paths->name, paths->name);
    return NULL;
  }

  vxm_data = g_path_get_dirname(paths->data_dir);
  if (!mkdir_private(vxm_data, error) || !mkdir_private(paths->config_dir, error))
    return NULL;
  {
    g_autofree char *tmpl = g_strdup_printf("%s/.%s.init-XXXXXX", vxm_data, paths->name);
    if (g_mkdtemp_full(tmpl, 0700) == NULL)
      return (vxm_error_set_from_errno(error, errno, "cannot create a folder in %s", vxm_data),
              NULL);
    undo.tmp_dir = g_steal_pointer(&tmpl);
  }

  /* the download first: the slowest step, and the one most likely to fail */
  if (opts->virtio_iso != NULL && vxm_download_is_url(opts->virtio_iso)) {
    g_autofree char *cache_home = xdg_dir("XDG_CACHE_HOME", ".cache");
    g_autofree char *cache = g_build_filename(cache_home, "vxm", "downloads", NULL);
    g_autofree char *cached = NULL;
    g_autofree char *target = NULL;
    g_autofree char *final_path = NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(GFile) src = NULL;
    g_autoptr(GFile) dst = NULL;
    struct stat st;

    step_begin(&steps);
    iso_name = download_name(opts->virtio_iso);
    if (!mkdir_private(cache, error))
      return NULL;
    cached = g_build_filename(cache, iso_name, NULL);
    target = g_build_filename(undo.tmp_dir, iso_name, NULL);
    unlink(cached); /* a complete file from an earlier run is not trusted blindly */
    if (!vxm_download_file(opts->virtio_iso, cached, opts->virtio_sha256, download_progress,
                           user_data, error))
      return NULL;
    src = g_file_new_for_path(cached);
    dst = g_file_new_for_path(target);
    if (!g_file_move(src, dst, G_FILE_COPY_NOFOLLOW_SYMLINKS, NULL, NULL, NULL, &local)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "cannot move %s to %s: %s", cached, target,
                  local->message);
      return NULL;
    }
    final_path = g_build_filename(paths->data_dir, iso_name, NULL);
    if (!vxm_vm_config_set(config, "media.virtio_iso", final_path, error))
      return NULL;
    stat(target, &st);
    {
      g_autofree char *sz = vxm_format_bytes((guint64)st.st_size);
      step_done(&steps, "virtio-iso", "downloaded %s (%s)%s", iso_name, sz,
                opts->virtio_sha256 ? ", SHA-256 verified" : "");
    }
  }

  /* firmware: a CODE + VARS pair from QEMU's descriptors, recorded so they stay a pair */
  step_begin(&steps);
  fw = vxm_firmware_select(hostfs, config->secure_boot, error);
  if (fw == NULL)
    return NULL;
  template = g_build_filename(undo.tmp_dir, "efivars.fd", NULL);
  if (!copy_file(fw->vars_template_path, fw->vars_template_host_path, template, error)) {
    g_prefix_error(error, "cannot copy the UEFI variable template: ");
    return NULL;
  }
  {
    const char *keys[] = {"firmware.code", "firmware.vars_template", "firmware.descriptor", NULL};
    const char *values[] = {fw->code_host_path, fw->vars_template_host_path,
                            fw->descriptor_name ? fw->descriptor_name : "", NULL};
    if (!vxm_vm_config_set_many(config, keys, values, error))
      return NULL;
  }
  step_done(&steps, "firmware", "%s: %s, own copy of %s",
            fw->descriptor_name ? fw->descriptor_name : "fallback", fw->code_host_path,
            fw->vars_template_host_path);

  /* disk */
  step_begin(&steps);
  if (config->disk_path != NULL && lexists(config->disk_path)) {
    step_done(&steps, "disk", "using the existing %s", config->disk_path);
  } else {
    const char *format = vxm_vm_disk_format_to_string(config->disk_format);
    g_autofree char *shown_size = vxm_format_bytes(config->disk_size);
    const char *argv[] = {qemu_img, "create", "-q", "-f", format, NULL, NULL, NULL};

    if (config->disk_path != NULL) {
      g_autofree char *parent = g_path_get_dirname(config->disk_path);
      if (!g_file_test(parent, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                    "cannot create the disk %s: folder %s does not exist", config->disk_path,
                    parent);
        return NULL;
      }
      disk = g_strdup(config->disk_path);
    } else {
      disk = g_build_filename(
          undo.tmp_dir, config->disk_format == VXM_VM_DISK_FORMAT_RAW ? "disk.img" : "disk.qcow2",
          NULL);
    }
    size = g_strdup_printf("%" G_GUINT64_FORMAT, config->disk_size);
    argv[5] = disk;
    argv[6] = size;
    if (config->disk_path != NULL)
      undo.created_disk = g_strdup(disk);
    if (!run_tool(argv, "creating the disk", error))
      return NULL;
    step_done(&steps, "disk", "created %s %s (%s)", shown_size, format,
              config->disk_path                               ? config->disk_path
              : config->disk_format == VXM_VM_DISK_FORMAT_RAW ? paths->disk_raw
                                                              : paths->disk_qcow2);
  }

  /* TPM state */
  if (config->tpm) {
    g_autofree char *tpm_dir = g_build_filename(undo.tmp_dir, "tpm", NULL);
    g_autofree char *swtpm_conf = NULL;
    const char *argv[] = {swtpm_setup,
                          "--tpm2",
                          "--tpmstate",
                          tpm_dir,
                          "--createek",
                          "--decryption",
                          "--create-ek-cert",
                          "--create-platform-cert",
                          "--lock-nvram",
                          "--not-overwrite",
                          "--config",
                          NULL,
                          NULL};

    step_begin(&steps);
    swtpm_conf = ensure_swtpm_config(error);
    if (swtpm_conf == NULL)
      return NULL;
    argv[11] = swtpm_conf;
    if (!mkdir_private(tpm_dir, error))
      return NULL;
    if (!run_tool(argv, "creating the TPM state (swtpm_setup)", error))
      return NULL;
    step_done(&steps, "tpm", "TPM 2.0 state with EK and platform certificates (%s)",
              paths->tpm_dir);
  }

  /* the config, then everything into place */
  step_begin(&steps);
  if (config->mac == NULL) {
    g_autofree char *mac = vxm_vm_config_generate_mac();
    if (!vxm_vm_config_set(config, "network.mac", mac, error))
      return NULL;
  }
  if (exists) {
    g_autofree char *tmpl = g_strdup_printf("%s/.%s.old-XXXXXX", vxm_data, paths->name);
    if (g_mkdtemp_full(tmpl, 0700) == NULL || rmdir(tmpl) != 0)
      return (vxm_error_set_from_errno(error, errno, "cannot create a folder in %s", vxm_data),
              NULL);
    if (lexists(paths->data_dir) && rename(paths->data_dir, tmpl) != 0)
      return (
          vxm_error_set_from_errno(error, errno, "cannot move the old %s aside", paths->data_dir),
          NULL);
    old_dir = g_steal_pointer(&tmpl);
  }
  if (rename(undo.tmp_dir, paths->data_dir) != 0) {
    int errsv = errno;
    if (old_dir != NULL && lexists(old_dir))
      (void)rename(old_dir, paths->data_dir);
    return (
        vxm_error_set_from_errno(error, errsv, "cannot move the new VM into %s", paths->data_dir),
        NULL);
  }
  if (!vxm_vm_config_save(config, paths->config_file, error)) {
    /* back out: the new data folder goes, the old one (if any) returns */
    g_free(undo.tmp_dir);
    undo.tmp_dir = g_strdup(paths->data_dir);
    if (old_dir != NULL) {
      g_autofree char *swap = g_strconcat(old_dir, ".new", NULL);
      if (rename(paths->data_dir, swap) == 0) {
        g_free(undo.tmp_dir);
        undo.tmp_dir = g_steal_pointer(&swap);
        (void)rename(old_dir, paths->data_dir);
      }
    }
    return NULL;
  }
  g_clear_pointer(&undo.tmp_dir, g_free);
  g_clear_pointer(&undo.created_disk, g_free);
  g_clear_pointer(&undo.runtime_dir, g_free);
  if (old_dir != NULL) {
    g_autoptr(GError) local = NULL;
    if (!vxm_vm_remove_tree(old_dir, &local))
      g_warning("could not remove the replaced VM's files in %s: %s", old_dir, local->message);
    remove_quietly(paths->state_dir);
  }
  (void)mkdir_private(paths->state_dir, NULL);
  {
    g_autofree char *shown = vxm_vm_paths_display(paths->config_file);
    step_done(&steps, "config", "%s (MAC %s)", shown, config->mac);
  }
  return g_steal_pointer(&config);
}
