/* vxm-vm-config-private: what the files of the VM config share (vxm-vm-config.h is the API):
 * the table of keys and its parsers, the line scanner, the loader the edits check with. */
#pragma once

#include "vxm-vm-config.h"

G_BEGIN_DECLS

#define MIB     (G_GUINT64_CONSTANT(1) << 20)
#define GIB     (G_GUINT64_CONSTANT(1) << 30)
#define CPU_MAX 4096 /* the highest host CPU number a pinning list may name, exclusive */

typedef gboolean (*ParseFunc)(VxmVmConfig *cfg, const char *value, GError **error);

typedef struct {
  VxmVmConfigKey info;
  ParseFunc parse;
} KeyDef;

typedef struct {
  char *group; /* NULL before the first group */
  char *key;
  gsize line;  /* 1-based */
  gsize start; /* byte offset of the line */
  gsize end;   /* byte offset after the line's newline (or end of text) */
} Line;

/* the small parsers and the keys of the machine, memory, CPU, disk, network, audio, TPM and
 * firmware (vxm-vm-config-parse.c) */
gboolean vxm_vm_config_parse_gpu(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_pci_extra(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_rom_file(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_keep_bound(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_unbind_timeout(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_memory(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_hugepages(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_hugepages_fallback(VxmVmConfig *cfg, const char *value,
                                                GError **error);
gboolean vxm_vm_config_parse_hugepages_compact(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_looking_glass(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_vcpus(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_threads_per_core(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_cpu_pinning(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_host_cores(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_hide_kvm(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_hv_vendor_id(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_disk_path(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_disk_format(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_disk_size(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_installer_iso(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_virtio_iso(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_network(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_mac(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_audio(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_audio_latency(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_tpm(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_secure_boot(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_smbios(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_firmware_code(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_firmware_vars(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_firmware_descriptor(VxmVmConfig *cfg, const char *value,
                                                 GError **error);
gboolean vxm_vm_config_parse_uint_range(const char *value, guint min, guint max, guint *out);

/* the keys of inputs, USB, monitors, inhibit and QEMU (vxm-vm-config-devices.c) */
gboolean vxm_vm_config_parse_inputs(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_usb_devices(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_grab_toggle(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_monitor(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_monitors(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_host_input(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_guest_input(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_inhibit(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_shutdown_timeout(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_start_timeout(VxmVmConfig *cfg, const char *value, GError **error);
gboolean vxm_vm_config_parse_qemu_binary(VxmVmConfig *cfg, const char *value, GError **error);

/* the table of keys, lookups and "did you mean" (vxm-vm-config-keys.c) */
const KeyDef *vxm_vm_config_find_def(const char *group, const char *key);
gboolean vxm_vm_config_is_group(const char *group);
char *vxm_vm_config_suggest_group(const char *group);
char *vxm_vm_config_suggest_key(const char *group, const char *key);
gboolean vxm_vm_config_find_key(const char *spec, const KeyDef **out, GError **error);
const KeyDef *vxm_vm_config_key_defs(gsize *n);

/* loading (vxm-vm-config.c), for the edits */
GArray *vxm_vm_config_scan_lines(const char *text, gsize length);
void vxm_vm_config_strip_inline_comment(char *value);
char *vxm_vm_config_key_line(const char *text, const char *group, const char *key);
VxmVmConfig *vxm_vm_config_load_text(const char *name, const char *path, const char *display,
                                     const char *data, gsize length, GError **error);

G_END_DECLS
