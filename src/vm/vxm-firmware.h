/* vxm-firmware: which UEFI firmware a VM boots, chosen from QEMU's firmware descriptors.
 *
 * Descriptors are read from VXM_HOST_QEMU_FIRMWARE_SHARE, then VXM_HOST_QEMU_FIRMWARE_ETC
 * (host paths, under the host root), then $XDG_CONFIG_HOME/qemu/firmware (the user's own).
 * A file name seen in a later folder replaces the earlier one, an empty file hides it; the
 * survivors are tried in file-name order and the first that fits wins: x86_64, a q35 machine,
 * UEFI, a split flash mapping (CODE + VARS template), and with secure boot wanted the
 * secure-boot and enrolled-keys features. Known Debian path pairs are tried only when no
 * descriptor fits, and the result says so.
 */
#pragma once

#include "common/vxm-hostfs.h"

G_BEGIN_DECLS

typedef struct {
  char *descriptor_name; /* "40-edk2-x86_64-secure-enrolled.json"; NULL for a fallback pair */
  char *descriptor_path; /* where it was read (host path, or the user's path) */
  char *description;
  char *code_host_path; /* as the descriptor names it: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd" */
  char *code_path;      /* the same file as QEMU on this machine opens it (under the root) */
  char *code_format;    /* "raw" | "qcow2" */
  char *vars_template_host_path;
  char *vars_template_path;
  char *vars_format;
  gboolean requires_smm; /* -machine smm=on and the secure pflash */
  gboolean secure_boot;
  gboolean enrolled_keys;
  gboolean fallback;   /* no descriptor fitted: a known path pair was used */
  char *message;       /* why the fallback was used (NULL otherwise) */
  GPtrArray *notes;    /* (char*) descriptors skipped and why, hidden files: for verbose output */
  GPtrArray *warnings; /* (char*) broken or unreadable descriptor files, each naming its file */
} VxmFirmware;

void vxm_firmware_free(VxmFirmware *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmFirmware, vxm_firmware_free)

VxmFirmware *vxm_firmware_copy(const VxmFirmware *self);

typedef struct {
  gboolean secure_boot;
  const char *architecture; /* NULL: "x86_64" */
  const char *machine;      /* a concrete machine type ("pc-q35-7.2"); NULL: any q35 */
  const char *user_dir;     /* NULL: $XDG_CONFIG_HOME/qemu/firmware; "" for none */
  gboolean no_fallback;     /* fail rather than use a known path pair */
  /* the pair a VM was created with (config [firmware]): only a descriptor naming exactly these
   * fits, and when none does the pair itself is used (flags guessed from secure_boot) */
  const char *code;          /* host path, NULL: any */
  const char *vars_template; /* host path, NULL: any */
} VxmFirmwareRequest;

/* The chosen firmware, or NOT_FOUND with every descriptor found and why each was rejected. */
VxmFirmware *vxm_firmware_select(VxmHostfs *hostfs, gboolean secure_boot,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;
VxmFirmware *vxm_firmware_select_full(VxmHostfs *hostfs, const VxmFirmwareRequest *request,
                                      GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
