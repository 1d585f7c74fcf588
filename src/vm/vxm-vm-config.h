/* vxm-vm-config: one VM's configuration file (GKeyFile INI), parsed and validated.
 *
 * Every key is described once in a table (group, key, default, allowed values) that drives
 * parsing, validation, "did you mean", `vxm config --set` and the documentation. Loading
 * keeps what the user wrote ("auto" stays VXM_VM_AUTO / 0 / NULL as documented per field);
 * vxm_vm_config_resolve() (plan/vxm-vm-resolve.h: a decision, the start planner's) is the
 * separate step that turns every "auto" into a value from
 * host facts and stores it in @resolved, so the config can be shown and saved unchanged.
 * The GKeyFile is kept so edits preserve the user's comments and order.
 */
#pragma once

#include <glib.h>

#include "common/vxm-hostfs.h"
#include "vm/vxm-vm-paths.h"

G_BEGIN_DECLS

#define VXM_VM_MEMORY_MIN        (G_GUINT64_CONSTANT(4) << 30) /* Windows 11's floor */
#define VXM_VM_MEMORY_AUTO_MAX   (G_GUINT64_CONSTANT(16) << 30)
#define VXM_VM_DISK_SIZE_DEFAULT (G_GUINT64_CONSTANT(128) << 30)
#define VXM_VM_HV_VENDOR_ID_MAX  12 /* QEMU's hv-vendor-id: CPUID 0x40000000's 12 bytes */
/* [audio] latency_ms: below 5 ms the guest's sound crackles, above 500 ms it lags the picture */
#define VXM_VM_AUDIO_LATENCY_MIN_MS 5
#define VXM_VM_AUDIO_LATENCY_MAX_MS 500

typedef enum {
  VXM_VM_HUGEPAGES_AUTO,
  VXM_VM_HUGEPAGES_2M,
  VXM_VM_HUGEPAGES_1G,
  VXM_VM_HUGEPAGES_OFF,
} VxmVmHugepages;

typedef enum {
  VXM_VM_CPU_PINNING_AUTO,
  VXM_VM_CPU_PINNING_OFF,
  VXM_VM_CPU_PINNING_LIST, /* cpu_pinning_list holds the host CPUs */
} VxmVmCpuPinning;

typedef enum {
  VXM_VM_DISK_FORMAT_QCOW2,
  VXM_VM_DISK_FORMAT_RAW,
} VxmVmDiskFormat;

typedef enum {
  VXM_VM_NETWORK_USER,
  VXM_VM_NETWORK_BRIDGE, /* network_bridge names the bridge */
  VXM_VM_NETWORK_NONE,
} VxmVmNetwork;

typedef enum {
  VXM_VM_AUDIO_AUTO, /* chosen from QEMU's audiodev backends by the argv builder */
  VXM_VM_AUDIO_NONE,
  VXM_VM_AUDIO_PIPEWIRE,
  VXM_VM_AUDIO_PA,
  VXM_VM_AUDIO_ALSA,
} VxmVmAudio;

typedef enum {
  VXM_VM_SMBIOS_OFF,
  VXM_VM_SMBIOS_HOST,
} VxmVmSmbios;

typedef enum {
  VXM_VM_MONITOR_AUTO,      /* the one monitor on the host GPU, if exactly one */
  VXM_VM_MONITOR_OFF,       /* never switch inputs */
  VXM_VM_MONITOR_EDID,      /* monitor_edid_* identify it */
  VXM_VM_MONITOR_CONNECTOR, /* monitor_connector, e.g. "card1-DP-1" */
} VxmVmMonitor;

/* One monitor a VM switches: to @guest_input while the guest runs, back to @host_input. */
typedef struct {
  char *spec; /* an EDID identity "DEL:41234:12345" (upper case) or a connector "card1-DP-2" */
  guint host_input; /* VCP 0x60 values, both set */
  guint guest_input;
} VxmVmMonitorSwitch;

void vxm_vm_monitor_switch_free(VxmVmMonitorSwitch *sw);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmVmMonitorSwitch, vxm_vm_monitor_switch_free)

/* Values every "auto" resolved to; filled by vxm_vm_config_resolve(). */
typedef struct {
  gboolean done;
  guint64 memory_bytes;
  guint vcpus;
  guint threads_per_core;
  guint host_cpus;     /* logical CPUs the host has (for messages and pinning) */
  guint64 host_memory; /* MemTotal in bytes */
  char *disk_path;     /* disk_path, or the default for the format */
  char *qemu_binary;   /* absolute path, NULL when not found in PATH */
} VxmVmResolved;

/* Other headers name it without this one: typedef struct _VxmVmConfig VxmVmConfig; */
typedef struct _VxmVmConfig {
  char *name;
  char *path;        /* the file loaded (NULL for a config made in memory) */
  char *text;        /* the file's text: --set and --unset edit it line by line, so the
                      * user's comments, order and spacing survive */
  GKeyFile *keyfile; /* @text parsed */

  /* [gpu] */
  char *gpu;            /* normalised "0000:01:00.0", NULL = auto */
  char *rom_file;       /* absolute path, NULL = none */
  gboolean keep_bound;  /* leave the group on vfio-pci between runs */
  guint unbind_timeout; /* seconds */

  /* [pci] */
  char **pci_extra; /* extra whole devices for the guest, normalised; NULL = none */

  /* [memory] */
  guint64 memory_bytes; /* 0 = auto */
  VxmVmHugepages hugepages;
  gboolean hugepages_fallback; /* fall back to normal memory when short of hugepages */
  gboolean hugepages_compact;  /* drop caches and compact memory before reserving */
  gboolean looking_glass_auto; /* auto: size from the guest resolution (issue 5) */
  guint64 looking_glass_bytes; /* 0 = off (and not auto) */

  /* [cpu] */
  guint vcpus;            /* 0 = auto */
  guint threads_per_core; /* 0 = auto, else 1 or 2 */
  VxmVmCpuPinning cpu_pinning;
  GArray *cpu_pinning_list; /* guint host CPU numbers, sorted, unique; LIST only, else NULL */
  guint host_cores;         /* cores kept for the host by auto pinning and auto vcpus */
  gboolean hide_kvm;        /* -cpu ...,kvm=off: the KVM signature hidden */
  char *hv_vendor_id;       /* -cpu ...,hv-vendor-id=: NULL = QEMU's */

  /* [disk] */
  char *disk_path; /* absolute, NULL = default in the data folder */
  VxmVmDiskFormat disk_format;
  guint64 disk_size; /* bytes, used by init */

  /* [media] */
  char *installer_iso; /* absolute path, NULL = none */
  char *virtio_iso;    /* absolute path, NULL = none */

  /* [network] */
  VxmVmNetwork network;
  char *network_bridge; /* BRIDGE only */
  char *mac;            /* "02:xx:..", lower case; NULL until init generates it */

  /* [audio] */
  VxmVmAudio audio;
  guint audio_latency_ms; /* 0 = auto: the backend's default */

  /* [security] */
  gboolean tpm;
  gboolean secure_boot;
  VxmVmSmbios smbios;

  /* [firmware]: written by init so CODE and VARS stay a pair; all NULL or code+vars set */
  char *firmware_code;          /* host path of the CODE image */
  char *firmware_vars_template; /* host path of the VARS template it was paired with */
  char *firmware_descriptor;    /* descriptor file name, NULL when chosen by fallback */

  /* [input] */
  char **inputs;           /* by-id, by-path or eventN names; NULL = auto, empty = none */
  const char *grab_toggle; /* static: one of QEMU's grab-toggle values */

  /* [usb] */
  GArray *usb_devices; /* guint32 VID << 16 | PID, in the file's order, unique; empty = none */

  /* [display] */
  VxmVmMonitor monitor;
  char *monitor_edid_manufacturer; /* EDID: 3-letter PNP id */
  guint monitor_edid_product;
  guint32 monitor_edid_serial;
  char *monitor_connector; /* CONNECTOR */
  guint host_input;        /* VCP 0x60 value, 0 = not set */
  guint guest_input;       /* VCP 0x60 value, 0 = not set */
  /* `monitors`: every monitor to switch (VxmVmMonitorSwitch), NULL when unset. The one-monitor
   * form above and this list never go together (the load refuses it). */
  GPtrArray *monitors;

  /* [host] */
  guint shutdown_timeout; /* seconds between ACPI power-down and quit */
  guint start_timeout;    /* seconds QEMU has to answer on its monitor after exec */
  char *qemu_binary;      /* a name looked up in PATH, or an absolute path */
  /* what the logind inhibitor lock held while the VM runs blocks, in logind's form: "sleep" or
   * "sleep:idle"; NULL for inhibit = none */
  char *inhibit;

  VxmVmResolved resolved;
} VxmVmConfig;

/* A config with every default, for VM @name (not validated: call vxm_vm_name_validate). */
VxmVmConfig *vxm_vm_config_new(const char *name);
void vxm_vm_config_free(VxmVmConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmVmConfig, vxm_vm_config_free)

/* Loads and validates @path. Errors (VXM_ERROR_CONFIG, or NOT_FOUND when missing) name the
 * file, the group, the key and the allowed values. */
VxmVmConfig *vxm_vm_config_load_file(const char *name, const char *path,
                                     GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* The same for a buffer; @path is only used in messages. */
VxmVmConfig *vxm_vm_config_load_data(const char *name, const char *path, const char *data,
                                     gsize length, GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Loads VM @name from its config file ("no VM NAME: create it with vxm init NAME" if absent). */
VxmVmConfig *vxm_vm_config_load(const VxmVmPaths *paths, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Sets KEY ("group.key", or a bare key when only one group has it) to @value after validating
 * it; the struct is updated, comments and order are kept. */
gboolean vxm_vm_config_set(VxmVmConfig *config, const char *key, const char *value,
                           GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Several changes applied together, then the result checked once (keys that go in pairs, like
 * firmware code and vars_template, or host_input and guest_input): @values[i] NULL unsets
 * @keys[i]. All or nothing. Errors are the edits' (VXM_ERROR_INVALID_ARGUMENT, a bad command
 * line), and do not name the file. */
gboolean vxm_vm_config_set_many(VxmVmConfig *config, const char *const *keys,
                                const char *const *values,
                                GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Removes KEY so its default applies again. */
gboolean vxm_vm_config_unset(VxmVmConfig *config, const char *key,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The file's text as it would be saved. */
char *vxm_vm_config_to_data(VxmVmConfig *config, gsize *length);
/* Writes config->path (or @path when not NULL) atomically, mode 0600. */
gboolean vxm_vm_config_save(VxmVmConfig *config, const char *path,
                            GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The value of KEY as the user wrote it, or the default ("auto", "128G", ...). */
char *vxm_vm_config_get_text(VxmVmConfig *config, const char *group, const char *key);

/* The key table, for --show, --json, docs and tests. NULL-terminated by group == NULL. */
typedef struct {
  const char *group;
  const char *key;
  const char *default_value; /* as written in a file; "" = empty */
  const char *allowed;       /* human text for errors and docs */
  const char *summary;       /* one line for docs */
  const char *values;        /* the fixed values it takes, space separated, for shell completion
                              * (`vxm config --keys`); NULL when free text (a path, a number) */
} VxmVmConfigKey;
const VxmVmConfigKey *vxm_vm_config_keys(void);

/* memory.size = auto on a host with @host_memory bytes: half of it in whole GiB, at most 16 GiB,
 * at least 4 GiB (vxm start's figure; vxm check predicts from the same). */
guint64 vxm_vm_config_auto_memory(guint64 host_memory);

/* The monitors a start switches, in order (VxmVmMonitorSwitch, a new array): the `monitors`
 * list, or the one-monitor form (monitor with host_input and guest_input; its spec "auto" for
 * monitor = auto); empty when nothing is switched (monitor = off, or no inputs set). */
GPtrArray *vxm_vm_config_monitor_switches(const VxmVmConfig *config);

/* Names for enums and inputs, as written in the file. */
const char *vxm_vm_hugepages_to_string(VxmVmHugepages value);
const char *vxm_vm_audio_to_string(VxmVmAudio value);
const char *vxm_vm_disk_format_to_string(VxmVmDiskFormat value);
/* "hdmi1" for 0x11, else "0x1b"; NULL for 0. */
char *vxm_vm_monitor_input_to_string(guint value);
/* Parses "dp1" or "0x0f"; FALSE for anything else. */
gboolean vxm_vm_monitor_input_parse(const char *text, guint *out);

/* "046d:c52b" (4 hex digits each, either case) -> 0x046dc52b; FALSE for anything else. */
gboolean vxm_vm_usb_id_parse(const char *text, guint32 *out);

/* A fresh random locally administered unicast MAC, "x2:xx:xx:xx:xx:xx" style. */
char *vxm_vm_config_generate_mac(void);

G_END_DECLS
