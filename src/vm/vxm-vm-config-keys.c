/* vxm-vm-config-keys: every key described once (group, key, default, allowed values, parser):
 * the table that drives parsing, validation, "did you mean", `vxm config --set` and the
 * documentation; the names of values; key lookups. */
#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "vxm-vm-config-private.h"

#define INPUT_NAMES "dp1, dp2, hdmi1, hdmi2, dvi1, dvi2, vga1, vga2 or a number 0x01-0xff"

/* clang-format off */
static const KeyDef key_defs[] = {
  {{"gpu", "address", "auto", "auto, or a PCI address like 0000:01:00.0",
    "The guest GPU. auto: the single candidate `vxm list-gpus` shows.", "auto"}, vxm_vm_config_parse_gpu},
  {{"gpu", "rom_file", "", "an absolute path, or nothing",
    "A ROM image for the GPU instead of its own (some cards need a patched one).", NULL}, vxm_vm_config_parse_rom_file},
  {{"gpu", "keep_bound", "false", "true or false",
    "Leave the GPU on vfio-pci after the guest stops (the AMD reset-bug workaround).", "true false"}, vxm_vm_config_parse_keep_bound},
  {{"gpu", "unbind_timeout", "10", "a number of seconds from 1 to 600",
    "How long a driver's unbind may take before the device is reported stuck.", NULL}, vxm_vm_config_parse_unbind_timeout},

  {{"pci", "extra", "", "PCI addresses like 0000:04:00.0 separated by commas, or nothing",
    "Whole PCI devices given to the guest beside its GPU (a USB controller, an NVMe, a capture card), "
    "each with its IOMMU group; vxm list-devices shows which can go and why not.", NULL}, vxm_vm_config_parse_pci_extra},

  {{"memory", "size", "auto", "a size like 16G (at least 4G), or auto",
    "Guest RAM. auto: half the host's RAM, at most 16 GiB, at least 4 GiB.", NULL}, vxm_vm_config_parse_memory},
  {{"memory", "hugepages", "auto", "auto, 2M, 1G or off",
    "Back guest RAM with hugepages. auto: 1G pages when they can be had, else 2M.", "auto 2M 1G off"}, vxm_vm_config_parse_hugepages},
  {{"memory", "hugepages_fallback", "false", "true or false",
    "Start with normal memory (and a warning) when not enough hugepages can be reserved.", "true false"}, vxm_vm_config_parse_hugepages_fallback},
  {{"memory", "hugepages_compact", "true", "true or false",
    "Drop the page cache and compact memory before reserving hugepages (false: reserve as memory is).", "true false"}, vxm_vm_config_parse_hugepages_compact},
  {{"memory", "looking_glass", "off", "off, auto, or a power-of-two size from 16M to 1G like 32M, 64M, 128M",
    "Shared memory for Looking Glass. auto: sized for the monitor's preferred mode (its EDID), for 4K (128M) when unknown.", "off auto 16M 32M 64M 128M 256M 512M 1G"}, vxm_vm_config_parse_looking_glass},

  {{"cpu", "vcpus", "auto", "auto, or a number from 1 to 255",
    "Guest CPUs. auto: the host's CPUs minus host_cores cores (or the pinning list's size).", "auto"}, vxm_vm_config_parse_vcpus},
  {{"cpu", "threads_per_core", "auto", "auto, 1 or 2",
    "SMT threads per guest core. auto: as the host has.", "auto 1 2"}, vxm_vm_config_parse_threads_per_core},
  {{"cpu", "cpu_pinning", "auto", "auto, off, or host CPUs like 2-7,10-15",
    "Pin vCPUs to host CPUs. auto: whole cores, keeping host_cores for the host.", "auto off"}, vxm_vm_config_parse_cpu_pinning},
  {{"cpu", "host_cores", "1", "a number from 1 to 256",
    "Cores (with their SMT siblings) left to the host by the auto settings.", NULL}, vxm_vm_config_parse_host_cores},
  {{"cpu", "hide_kvm", "false", "true or false",
    "Hide the KVM signature from the guest (QEMU's kvm=off): NVIDIA drivers before 465 stop with Code 43 without it.", "true false"}, vxm_vm_config_parse_hide_kvm},
  {{"cpu", "hv_vendor_id", "", "1 to 12 printable ASCII characters without a comma, or nothing",
    "The Hyper-V vendor id the guest sees (QEMU's hv-vendor-id); nothing: QEMU's own.", NULL}, vxm_vm_config_parse_hv_vendor_id},

  {{"disk", "path", "", "an absolute path, or nothing",
    "The guest disk. Empty: disk.qcow2 (or disk.img) in the VM's data folder.", NULL}, vxm_vm_config_parse_disk_path},
  {{"disk", "format", "qcow2", "qcow2 or raw",
    "The disk image format.", "qcow2 raw"}, vxm_vm_config_parse_disk_format},
  {{"disk", "size", "128G", "a size like 128G (at least 1M)",
    "The size vxm init gives a new disk.", NULL}, vxm_vm_config_parse_disk_size},

  {{"media", "installer_iso", "", "an absolute path, or nothing",
    "The Windows installer ISO, attached as a CD-ROM when set.", NULL}, vxm_vm_config_parse_installer_iso},
  {{"media", "virtio_iso", "", "an absolute path, or nothing",
    "The virtio-win drivers ISO, attached as a second CD-ROM when set.", NULL}, vxm_vm_config_parse_virtio_iso},

  {{"network", "mode", "user", "user, bridge:NAME or none",
    "user: QEMU's own NAT; bridge:NAME: a tap on host bridge NAME; none: no network.", "user none"}, vxm_vm_config_parse_network},
  {{"network", "mac", "", "a unicast MAC like 02:12:34:56:78:9a, or nothing",
    "The guest NIC's address; vxm init writes a random locally administered one.", NULL}, vxm_vm_config_parse_mac},

  {{"audio", "backend", "auto", "auto, none, pipewire, pa or alsa",
    "Guest sound through this QEMU audiodev. auto: the best one QEMU offers (pipewire, then pa, then alsa).", "auto none pipewire pa alsa"}, vxm_vm_config_parse_audio},
  {{"audio", "latency_ms", "auto", "auto, or a number of milliseconds from 5 to 500",
    "The sound server's latency for the guest's sound (pipewire and pa: out.latency and in.latency). auto: the backend's default.", "auto"}, vxm_vm_config_parse_audio_latency},

  {{"security", "tpm", "on", "on or off",
    "A TPM 2.0 (swtpm); Windows 11 requires one.", "on off"}, vxm_vm_config_parse_tpm},
  {{"security", "secure_boot", "on", "on or off",
    "UEFI secure boot with Microsoft's keys enrolled; Windows 11 requires it.", "on off"}, vxm_vm_config_parse_secure_boot},
  {{"security", "smbios", "off", "off or host",
    "host: show the guest this machine's DMI identity as SMBIOS types 0, 1 and 2 "
    "(what vxm fingerprint shows; without root, vxmd reads the serials and the UUID).", "off host"}, vxm_vm_config_parse_smbios},

  {{"firmware", "code", "", "an absolute path, or nothing",
    "UEFI CODE image, chosen by vxm init from QEMU's firmware descriptors.", NULL}, vxm_vm_config_parse_firmware_code},
  {{"firmware", "vars_template", "", "an absolute path, or nothing",
    "The VARS template paired with code; the VM runs on its own copy.", NULL}, vxm_vm_config_parse_firmware_vars},
  {{"firmware", "descriptor", "", "a descriptor file name, or nothing",
    "The QEMU firmware descriptor the pair came from (empty: a known fallback pair).", NULL}, vxm_vm_config_parse_firmware_descriptor},

  {{"input", "inputs", "auto", "auto, none, or device names separated by commas: /dev/input/by-id names, "
    "else by-path names or eventN",
    "Keyboards and mice given to the guest. auto: every keyboard and mouse.", "auto none"}, vxm_vm_config_parse_inputs},
  {{"input", "grab_toggle", "ctrl-ctrl",
    "ctrl-ctrl, alt-alt, shift-shift, meta-meta, scrolllock or ctrl-scrolllock",
    "The keys that switch keyboard and mouse between host and guest.", "ctrl-ctrl alt-alt shift-shift meta-meta scrolllock ctrl-scrolllock"}, vxm_vm_config_parse_grab_toggle},

  {{"usb", "devices", "", "nothing, or USB ids VID:PID separated by commas, 4 hex digits each, like 046d:c52b,054c:0ce6 (lsusb shows them)",
    "USB devices given to the guest (on its xHCI controller); one plugged in later joins when it is.", NULL}, vxm_vm_config_parse_usb_devices},

  {{"display", "monitor", "auto",
    "auto, off, an EDID identity MFG:PRODUCT:SERIAL like DEL:41234:12345, or a connector like card1-DP-1",
    "The monitor to switch. auto: the only one connected to the host GPU.", "auto off"}, vxm_vm_config_parse_monitor},
  {{"display", "host_input", "", INPUT_NAMES ", or nothing",
    "The monitor input showing the host GPU.", "dp1 dp2 hdmi1 hdmi2 dvi1 dvi2 vga1 vga2"}, vxm_vm_config_parse_host_input},
  {{"display", "guest_input", "", INPUT_NAMES ", or nothing",
    "The monitor input showing the guest GPU.", "dp1 dp2 hdmi1 hdmi2 dvi1 dvi2 vga1 vga2"}, vxm_vm_config_parse_guest_input},
  {{"display", "monitors", "",
    "entries separated by ';', each MONITOR HOST_INPUT GUEST_INPUT (MONITOR an EDID identity like "
    "DEL:41234:12345 or a connector like card1-DP-2), or nothing",
    "Several monitors to switch, each with its host and guest input, instead of monitor, "
    "host_input and guest_input.", NULL}, vxm_vm_config_parse_monitors},

  {{"host", "shutdown_timeout", "60", "a number of seconds from 1 to 3600",
    "How long vxm stop waits for the guest to power down before it quits QEMU.", NULL}, vxm_vm_config_parse_shutdown_timeout},
  {{"host", "start_timeout", "30", "a number of seconds from 5 to 3600",
    "How long vxm start waits for QEMU to answer on its monitor (QMP) once started: QEMU maps "
    "and pins all of the guest's RAM for VFIO first, which takes longer for a large guest on a "
    "slow or busy machine.", NULL}, vxm_vm_config_parse_start_timeout},
  {{"host", "qemu_binary", "qemu-system-x86_64", "a program name found in PATH, or an absolute path",
    "The QEMU to run.", NULL}, vxm_vm_config_parse_qemu_binary},
  {{"host", "inhibit", "sleep", "sleep, sleep,idle or none",
    "What the host may not do while the VM runs (a logind inhibitor lock): sleep (suspend and "
    "hibernate, which a passed-through GPU does not survive), sleep,idle (the idle action too), "
    "or none.", "sleep sleep,idle none"}, vxm_vm_config_parse_inhibit},
};
/* clang-format on */

const VxmVmConfigKey *
vxm_vm_config_keys(void)
{
  static gsize once = 0;
  static VxmVmConfigKey keys[G_N_ELEMENTS(key_defs) + 1];

  if (g_once_init_enter(&once)) {
    for (gsize i = 0; i < G_N_ELEMENTS(key_defs); i++)
      keys[i] = key_defs[i].info;
    g_once_init_leave(&once, 1);
  }
  return keys;
}

guint64
vxm_vm_config_auto_memory(guint64 host_memory)
{
  guint64 half = host_memory / 2 / GIB * GIB;

  return CLAMP(half, VXM_VM_MEMORY_MIN, VXM_VM_MEMORY_AUTO_MAX);
}

const KeyDef *
vxm_vm_config_find_def(const char *group, const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS(key_defs); i++) {
    if (strcmp(key_defs[i].info.group, group) == 0 && strcmp(key_defs[i].info.key, key) == 0)
      return &key_defs[i];
  }
  return NULL;
}

gboolean
vxm_vm_config_is_group(const char *group)
{
  for (gsize i = 0; i < G_N_ELEMENTS(key_defs); i++) {
    if (strcmp(key_defs[i].info.group, group) == 0)
      return TRUE;
  }
  return FALSE;
}

/* ---- names --------------------------------------------------------------------------------- */

const char *
vxm_vm_hugepages_to_string(VxmVmHugepages value)
{
  switch (value) {
  case VXM_VM_HUGEPAGES_AUTO: return "auto";
  case VXM_VM_HUGEPAGES_2M: return "2M";
  case VXM_VM_HUGEPAGES_1G: return "1G";
  case VXM_VM_HUGEPAGES_OFF: return "off";
  default: return "?";
  }
}

const char *
vxm_vm_audio_to_string(VxmVmAudio value)
{
  switch (value) {
  case VXM_VM_AUDIO_AUTO: return "auto";
  case VXM_VM_AUDIO_NONE: return "none";
  case VXM_VM_AUDIO_PIPEWIRE: return "pipewire";
  case VXM_VM_AUDIO_PA: return "pa";
  case VXM_VM_AUDIO_ALSA: return "alsa";
  default: return "?";
  }
}

const char *
vxm_vm_disk_format_to_string(VxmVmDiskFormat value)
{
  return value == VXM_VM_DISK_FORMAT_RAW ? "raw" : "qcow2";
}

char *
vxm_vm_config_generate_mac(void)
{
  guint8 b[6];

  for (guint i = 0; i < 6; i++)
    b[i] = (guint8)g_random_int_range(0, 256);
  /* locally administered (bit 1 set), unicast (bit 0 clear) */
  b[0] = (guint8)((b[0] & 0xfc) | 0x02);
  return g_strdup_printf("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

/* ---- did you mean -------------------------------------------------------------------------- */

char *
vxm_vm_config_suggest_group(const char *group)
{
  const char *groups[G_N_ELEMENTS(key_defs)];
  const char *best;
  gsize n = 0;

  for (gsize i = 0; i < G_N_ELEMENTS(key_defs); i++) {
    if (n == 0 || strcmp(groups[n - 1], key_defs[i].info.group) != 0)
      groups[n++] = key_defs[i].info.group;
  }
  best = vxm_closest_word(group, groups, n);
  return best ? g_strdup_printf(": did you mean [%s]?", best) : g_strdup("");
}

char *
vxm_vm_config_suggest_key(const char *group, const char *key)
{
  const char *keys[G_N_ELEMENTS(key_defs)];
  const char *best;
  gsize n = 0;

  /* the right key in the wrong group first */
  for (gsize i = 0; i < G_N_ELEMENTS(key_defs); i++) {
    if (strcmp(key_defs[i].info.key, key) == 0)
      return g_strdup_printf(": it belongs in [%s]", key_defs[i].info.group);
  }
  for (gsize i = 0; i < G_N_ELEMENTS(key_defs); i++) {
    if (strcmp(key_defs[i].info.group, group) == 0)
      keys[n++] = key_defs[i].info.key;
  }
  best = vxm_closest_word(key, keys, n);
  if (best != NULL)
    return g_strdup_printf(": did you mean '%s'?", best);
  n = 0;
  for (gsize i = 0; i < G_N_ELEMENTS(key_defs); i++)
    keys[n++] = key_defs[i].info.key;
  best = vxm_closest_word(key, keys, n);
  if (best != NULL) {
    for (gsize i = 0; i < G_N_ELEMENTS(key_defs); i++) {
      if (key_defs[i].info.key == best)
        return g_strdup_printf(": did you mean '%s' in [%s]?", best, key_defs[i].info.group);
    }
  }
  return g_strdup("");
}

gboolean
vxm_vm_config_find_key(const char *spec, const KeyDef **out, GError **error)
{
  const char *dot = strchr(spec, '.');
  const KeyDef *found = NULL;
  g_autoptr(GString) groups = NULL;

  if (dot != NULL) {
    g_autofree char *group = g_strndup(spec, (gsize)(dot - spec));
    if (!vxm_vm_config_is_group(group)) {
      g_autofree char *hint = vxm_vm_config_suggest_group(group);
      g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT, "unknown group [%s]%s", group,
                  hint);
      return FALSE;
    }
    found = vxm_vm_config_find_def(group, dot + 1);
    if (found == NULL) {
      g_autofree char *hint = vxm_vm_config_suggest_key(group, dot + 1);
      g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT, "[%s] unknown key '%s'%s", group,
                  dot + 1, hint);
      return FALSE;
    }
    *out = found;
    return TRUE;
  }
  groups = g_string_new(NULL);
  for (gsize i = 0; i < G_N_ELEMENTS(key_defs); i++) {
    if (strcmp(key_defs[i].info.key, spec) != 0)
      continue;
    g_string_append_printf(groups, "%s%s.%s", groups->len ? " or " : "", key_defs[i].info.group,
                           spec);
    if (found != NULL) {
      for (gsize j = i + 1; j < G_N_ELEMENTS(key_defs); j++) {
        if (strcmp(key_defs[j].info.key, spec) == 0)
          g_string_append_printf(groups, " or %s.%s", key_defs[j].info.group, spec);
      }
      g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                  "key '%s' is in more than one group: write %s", spec, groups->str);
      return FALSE;
    }
    found = &key_defs[i];
  }
  if (found == NULL) {
    const char *keys[G_N_ELEMENTS(key_defs)];
    const char *best;

    for (gsize i = 0; i < G_N_ELEMENTS(key_defs); i++)
      keys[i] = key_defs[i].info.key;
    best = vxm_closest_word(spec, keys, G_N_ELEMENTS(key_defs));
    if (best != NULL) {
      for (gsize i = 0; i < G_N_ELEMENTS(key_defs); i++) {
        if (key_defs[i].info.key == best) {
          g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                      "unknown key '%s': did you mean '%s.%s'?", spec, key_defs[i].info.group,
                      best);
          return FALSE;
        }
      }
    }
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "unknown key '%s': see vxm config --show for the keys", spec);
    return FALSE;
  }
  *out = found;
  return TRUE;
}

const KeyDef *
vxm_vm_config_key_defs(gsize *n)
{
  *n = G_N_ELEMENTS(key_defs);
  return key_defs;
}
