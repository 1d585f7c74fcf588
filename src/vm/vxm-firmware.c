#include "vxm-firmware.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/vxm-error.h"
#include "vxm-firmware-descriptor.h"

void
vxm_firmware_free(VxmFirmware *self)
{
  if (self == NULL)
    return;
  g_free(self->descriptor_name);
  g_free(self->descriptor_path);
  g_free(self->description);
  g_free(self->code_host_path);
  g_free(self->code_path);
  g_free(self->code_format);
  g_free(self->vars_template_host_path);
  g_free(self->vars_template_path);
  g_free(self->vars_format);
  g_free(self->message);
  if (self->notes != NULL)
    g_ptr_array_unref(self->notes);
  if (self->warnings != NULL)
    g_ptr_array_unref(self->warnings);
  g_free(self);
}

static GPtrArray *
copy_strings(GPtrArray *from)
{
  GPtrArray *to = g_ptr_array_new_with_free_func(g_free);

  for (guint i = 0; from != NULL && i < from->len; i++)
    g_ptr_array_add(to, g_strdup(g_ptr_array_index(from, i)));
  return to;
}

VxmFirmware *
vxm_firmware_copy(const VxmFirmware *self)
{
  VxmFirmware *copy = g_new0(VxmFirmware, 1);

  *copy = *self;
  copy->descriptor_name = g_strdup(self->descriptor_name);
  copy->descriptor_path = g_strdup(self->descriptor_path);
  copy->description = g_strdup(self->description);
  copy->code_host_path = g_strdup(self->code_host_path);
  copy->code_path = g_strdup(self->code_path);
  copy->code_format = g_strdup(self->code_format);
  copy->vars_template_host_path = g_strdup(self->vars_template_host_path);
  copy->vars_template_path = g_strdup(self->vars_template_path);
  copy->vars_format = g_strdup(self->vars_format);
  copy->message = g_strdup(self->message);
  copy->notes = copy_strings(self->notes);
  copy->warnings = copy_strings(self->warnings);
  return copy;
}

/* One surviving descriptor file after the override rules. */
typedef struct {
  char *name;
  char *path;      /* as shown in messages: a host path or a user path */
  gboolean user;   /* from the user's folder: its paths are not under the host root */
  gboolean hidden; /* an empty file */
} DescriptorFile;

static void
descriptor_file_free(DescriptorFile *file)
{
  g_free(file->name);
  g_free(file->path);
  g_free(file);
}

static void
scan_dir(GHashTable *files, GPtrArray *names, const char *dir_path, gboolean user,
         VxmHostfs *hostfs)
{
  g_autoptr(GPtrArray) entries = NULL;

  if (user) {
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
    const char *name;

    if (dir == NULL)
      return;
    entries = g_ptr_array_new_with_free_func(g_free);
    while ((name = g_dir_read_name(dir)) != NULL)
      g_ptr_array_add(entries, g_strdup(name));
  } else {
    entries = vxm_hostfs_list_dir(hostfs, dir_path, NULL);
    if (entries == NULL)
      return; /* a missing folder is normal (/etc/qemu/firmware usually is) */
  }
  for (guint i = 0; i < entries->len; i++) {
    const char *name = g_ptr_array_index(entries, i);
    g_autofree char *path = g_build_filename(dir_path, name, NULL);
    g_autofree char *local = user ? g_strdup(path) : vxm_hostfs_path(hostfs, path);
    DescriptorFile *file;
    struct stat st;

    if (!g_str_has_suffix(name, ".json") || stat(local, &st) != 0 || !S_ISREG(st.st_mode))
      continue;
    file = g_new0(DescriptorFile, 1);
    file->name = g_strdup(name);
    file->path = g_steal_pointer(&path);
    file->user = user;
    file->hidden = st.st_size == 0;
    if (!g_hash_table_contains(files, name))
      g_ptr_array_add(names, g_strdup(name));
    g_hash_table_replace(files, file->name, file);
  }
}

static int
compare_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static gboolean
file_exists(VxmHostfs *hostfs, gboolean user, const char *path)
{
  g_autofree char *local = user ? g_strdup(path) : vxm_hostfs_path(hostfs, path);

  /* stat follows links, as QEMU will (Debian's .ms.fd CODE is a link to .secboot.fd) */
  return g_file_test(local, G_FILE_TEST_IS_REGULAR);
}

/* NULL when @desc fits, else why not. */
static char *
rejection(VxmHostfs *hostfs, const VxmFirmwareRequest *req, const DescriptorFile *file,
          const VxmFirmwareDescriptor *desc)
{
  const char *arch = req->architecture != NULL ? req->architecture : "x86_64";

  if (!vxm_firmware_descriptor_has_interface(desc, "uefi"))
    return g_strdup("not UEFI firmware");
  if (g_strcmp0(desc->device, "flash") != 0)
    return g_strdup_printf("maps to %s, not flash", desc->device);
  if (!vxm_firmware_descriptor_supports(desc, arch, req->machine))
    return g_strdup_printf("no %s target for the machine %s", arch,
                           req->machine != NULL ? req->machine : "q35");
  if (g_strcmp0(desc->mode, "split") != 0)
    return g_strdup_printf("flash mode %s, not split (vxm needs CODE and a VARS template)",
                           desc->mode);
  if (desc->vars_template_path == NULL)
    return g_strdup("no nvram-template (VARS) file");
  if (req->secure_boot && !vxm_firmware_descriptor_has_feature(desc, "secure-boot"))
    return g_strdup("no secure-boot feature, and secure boot is on for this VM");
  if (req->secure_boot && !vxm_firmware_descriptor_has_feature(desc, "enrolled-keys"))
    return g_strdup("secure boot without enrolled keys (Windows would boot, but without secure "
                    "boot: no Microsoft keys are enrolled to enforce it)");
  if (!req->secure_boot && vxm_firmware_descriptor_has_feature(desc, "secure-boot"))
    return g_strdup("has secure boot, which is off for this VM");
  if (req->code != NULL && g_strcmp0(desc->code_path, req->code) != 0)
    return g_strdup_printf("not the CODE image this VM was created with (%s)", req->code);
  if (req->vars_template != NULL && g_strcmp0(desc->vars_template_path, req->vars_template) != 0)
    return g_strdup_printf("not the VARS template this VM was created with (%s)",
                           req->vars_template);
  if (!file_exists(hostfs, file->user, desc->code_path))
    return g_strdup_printf("its CODE file %s is missing", desc->code_path);
  if (!file_exists(hostfs, file->user, desc->vars_template_path))
    return g_strdup_printf("its VARS template %s is missing", desc->vars_template_path);
  return NULL;
}

static char *
local_path(VxmHostfs *hostfs, gboolean user, const char *path)
{
  return user ? g_strdup(path) : vxm_hostfs_path(hostfs, path);
}

static VxmFirmware *
firmware_from_descriptor(VxmHostfs *hostfs, const DescriptorFile *file,
                         const VxmFirmwareDescriptor *desc)
{
  VxmFirmware *fw = g_new0(VxmFirmware, 1);

  fw->descriptor_name = g_strdup(file->name);
  fw->descriptor_path = g_strdup(file->path);
  fw->description = g_strdup(desc->description);
  fw->code_host_path = g_strdup(desc->code_path);
  fw->code_path = local_path(hostfs, file->user, desc->code_path);
  fw->code_format = g_strdup(desc->code_format);
  fw->vars_template_host_path = g_strdup(desc->vars_template_path);
  fw->vars_template_path = local_path(hostfs, file->user, desc->vars_template_path);
  fw->vars_format = g_strdup(desc->vars_template_format);
  fw->requires_smm = vxm_firmware_descriptor_has_feature(desc, "requires-smm");
  fw->secure_boot = vxm_firmware_descriptor_has_feature(desc, "secure-boot");
  fw->enrolled_keys = vxm_firmware_descriptor_has_feature(desc, "enrolled-keys");
  return fw;
}

/* Debian's OVMF file pairs, best first: tried only when no descriptor fits. */
typedef struct {
  const char *code;
  const char *vars;
  gboolean secure; /* secure boot + enrolled Microsoft keys + requires SMM */
} FallbackPair;

static const FallbackPair fallback_pairs[] = {
    {"OVMF_CODE_4M.ms.fd", "OVMF_VARS_4M.ms.fd", TRUE},
    {"OVMF_CODE_4M.secboot.fd", "OVMF_VARS_4M.ms.fd", TRUE},
    {"OVMF_CODE.secboot.fd", "OVMF_VARS.ms.fd", TRUE},
    {"OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd", FALSE},
    {"OVMF_CODE.fd", "OVMF_VARS.fd", FALSE},
};

/* "qcow2" when @host_path starts with qcow2's magic, else "raw": a fallback without a
 * descriptor must not map a qcow2 container as raw flash (QEMU would write into the
 * container's metadata). */
static char *
image_format(VxmHostfs *hostfs, const char *host_path)
{
  g_autofree char *local = vxm_hostfs_path(hostfs, host_path);
  char magic[4] = {0};
  FILE *f = fopen(local, "rbe");
  gboolean qcow2 = FALSE;

  if (f != NULL) {
    qcow2 = fread(magic, 1, sizeof magic, f) == sizeof magic && memcmp(magic, "QFI\xfb", 4) == 0;
    fclose(f);
  }
  return g_strdup(qcow2 ? "qcow2" : "raw");
}

/* The recorded pair of a VM whose descriptor is gone (or never was: a fallback at init). */
static VxmFirmware *
recorded_pair(VxmHostfs *hostfs, const VxmFirmwareRequest *req)
{
  VxmFirmware *fw;

  if (!file_exists(hostfs, FALSE, req->code) || !file_exists(hostfs, FALSE, req->vars_template))
    return NULL;
  fw = g_new0(VxmFirmware, 1);
  fw->description =
      g_strdup_printf("the pair this VM was created with, %s + %s", req->code, req->vars_template);
  fw->code_host_path = g_strdup(req->code);
  fw->code_path = vxm_hostfs_path(hostfs, req->code);
  fw->code_format = image_format(hostfs, req->code);
  fw->vars_template_host_path = g_strdup(req->vars_template);
  fw->vars_template_path = vxm_hostfs_path(hostfs, req->vars_template);
  fw->vars_format = image_format(hostfs, req->vars_template);
  /* OVMF builds with secure boot need SMM; without a descriptor that is the safe guess */
  fw->requires_smm = req->secure_boot;
  fw->secure_boot = req->secure_boot;
  fw->enrolled_keys = req->secure_boot;
  fw->fallback = TRUE;
  return fw;
}

static VxmFirmware *
select_fallback(VxmHostfs *hostfs, const VxmFirmwareRequest *req)
{
  if (req->code != NULL && req->vars_template != NULL)
    return recorded_pair(hostfs, req);
  for (gsize i = 0; i < G_N_ELEMENTS(fallback_pairs); i++) {
    const FallbackPair *pair = &fallback_pairs[i];
    g_autofree char *code = g_build_filename(VXM_HOST_OVMF, pair->code, NULL);
    g_autofree char *vars = g_build_filename(VXM_HOST_OVMF, pair->vars, NULL);
    VxmFirmware *fw;

    if (pair->secure != req->secure_boot || !file_exists(hostfs, FALSE, code) ||
        !file_exists(hostfs, FALSE, vars))
      continue;
    fw = g_new0(VxmFirmware, 1);
    fw->description = g_strdup_printf("known OVMF file pair %s + %s", pair->code, pair->vars);
    fw->code_host_path = g_steal_pointer(&code);
    fw->code_path = vxm_hostfs_path(hostfs, fw->code_host_path);
    fw->code_format = image_format(hostfs, fw->code_host_path);
    fw->vars_template_host_path = g_steal_pointer(&vars);
    fw->vars_template_path = vxm_hostfs_path(hostfs, fw->vars_template_host_path);
    fw->vars_format = image_format(hostfs, fw->vars_template_host_path);
    fw->requires_smm = pair->secure;
    fw->secure_boot = pair->secure;
    fw->enrolled_keys = pair->secure;
    fw->fallback = TRUE;
    return fw;
  }
  return NULL;
}

VxmFirmware *
vxm_firmware_select_full(VxmHostfs *hostfs, const VxmFirmwareRequest *req, GError **error)
{
  g_autoptr(GHashTable) files =
      g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)descriptor_file_free);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *user_dir = NULL;
  g_autoptr(GString) summary = NULL;
  VxmFirmware *fw = NULL;

  if (req->user_dir != NULL)
    user_dir = g_strdup(req->user_dir);
  else
    user_dir = g_build_filename(g_get_user_config_dir(), "qemu", "firmware", NULL);

  scan_dir(files, names, VXM_HOST_QEMU_FIRMWARE_SHARE, FALSE, hostfs);
  scan_dir(files, names, VXM_HOST_QEMU_FIRMWARE_ETC, FALSE, hostfs);
  if (*user_dir != '\0')
    scan_dir(files, names, user_dir, TRUE, hostfs);
  g_ptr_array_sort(names, compare_names);

  for (guint i = 0; i < names->len; i++) {
    DescriptorFile *file = g_hash_table_lookup(files, g_ptr_array_index(names, i));
    g_autoptr(VxmFirmwareDescriptor) desc = NULL;
    g_autoptr(GError) local = NULL;
    g_autofree char *contents = NULL;
    g_autofree char *why = NULL;
    gsize length = 0;

    if (file->hidden) {
      g_ptr_array_add(notes,
                      g_strdup_printf("%s: hidden by the empty file %s", file->name, file->path));
      continue;
    }
    if (file->user ? !g_file_get_contents(file->path, &contents, &length, &local)
                   : !vxm_hostfs_read_file(hostfs, file->path, &contents, &length, &local)) {
      g_ptr_array_add(warnings, g_strdup_printf("cannot read firmware descriptor %s: %s",
                                                file->path, local->message));
      continue;
    }
    desc = vxm_firmware_descriptor_parse(file->name, file->path, contents, length, &local);
    if (desc == NULL) {
      g_ptr_array_add(warnings,
                      g_strdup_printf("skipped broken firmware descriptor %s", local->message));
      continue;
    }
    why = rejection(hostfs, req, file, desc);
    if (why != NULL) {
      g_ptr_array_add(notes, g_strdup_printf("%s (%s): %s", file->name, file->path, why));
      continue;
    }
    fw = firmware_from_descriptor(hostfs, file, desc);
    break;
  }

  summary = g_string_new(NULL);
  for (guint i = 0; i < warnings->len; i++)
    g_string_append_printf(summary, "\n  %s", (char *)g_ptr_array_index(warnings, i));
  for (guint i = 0; i < notes->len; i++)
    g_string_append_printf(summary, "\n  %s", (char *)g_ptr_array_index(notes, i));
  if (names->len == 0)
    g_string_append_printf(summary, "\n  no descriptor files in %s, %s or %s",
                           VXM_HOST_QEMU_FIRMWARE_SHARE, VXM_HOST_QEMU_FIRMWARE_ETC,
                           *user_dir != '\0' ? user_dir : "(no user folder)");

  if (fw == NULL && !req->no_fallback) {
    fw = select_fallback(hostfs, req);
    if (fw != NULL)
      fw->message = g_strdup_printf("no firmware descriptor fits (UEFI, x86_64 q35, split "
                                    "flash%s), so vxm uses the %s:%s",
                                    req->secure_boot ? ", secure boot with enrolled keys" : "",
                                    fw->description, summary->str);
  }
  if (fw == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                "no UEFI firmware for x86_64 q35%s:%s\n"
                "Install Debian's ovmf package, or add a descriptor in %s%s",
                req->secure_boot ? " with secure boot and enrolled keys" : "", summary->str,
                *user_dir != '\0' ? user_dir : VXM_HOST_QEMU_FIRMWARE_ETC,
                req->secure_boot ? " (or set secure boot off for this VM)" : "");
    return NULL;
  }
  fw->notes = g_steal_pointer(&notes);
  fw->warnings = g_steal_pointer(&warnings);
  return fw;
}

VxmFirmware *
vxm_firmware_select(VxmHostfs *hostfs, gboolean secure_boot, GError **error)
{
  VxmFirmwareRequest req = {.secure_boot = secure_boot};

  return vxm_firmware_select_full(hostfs, &req, error);
}
