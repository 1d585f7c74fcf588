#include "vxm-vm-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "pci/vxm-pci-address.h"

#define MIB     (G_GUINT64_CONSTANT(1) << 20)
#define GIB     (G_GUINT64_CONSTANT(1) << 30)
#define CPU_MAX 4096 /* the highest host CPU number a pinning list may name, exclusive */

typedef gboolean (*ParseFunc)(VxmVmConfig *cfg, const char *value, GError **error);

typedef struct {
  VxmVmConfigKey info;
  ParseFunc parse;
} KeyDef;

/* ---- small parsers ---------------------------------------------------------------------- */

/* Every parser sets a message that completes "[group] key = 'value': ". A bare FALSE without
 * an error means "not one of the allowed values" and the key's allowed text is used. */

static gboolean
parse_bool(const char *value, gboolean *out)
{
  static const char *const yes[] = {"on", "true", "yes", "1"};
  static const char *const no[] = {"off", "false", "no", "0"};

  for (gsize i = 0; i < G_N_ELEMENTS(yes); i++) {
    if (g_ascii_strcasecmp(value, yes[i]) == 0) {
      *out = TRUE;
      return TRUE;
    }
    if (g_ascii_strcasecmp(value, no[i]) == 0) {
      *out = FALSE;
      return TRUE;
    }
  }
  return FALSE;
}

static gboolean
parse_uint_range(const char *value, guint min, guint max, guint *out)
{
  guint64 v;

  if (!vxm_parse_uint64(value, 10, &v) || v < min || v > max)
    return FALSE;
  *out = (guint)v;
  return TRUE;
}

/* An absolute path, or "~/..." under the home folder; "" clears it. */
static gboolean
parse_path(const char *value, char **out, GError **error)
{
  g_clear_pointer(out, g_free);
  if (*value == '\0')
    return TRUE;
  if (value[0] == '~' && value[1] == '/') {
    const char *home = g_getenv("HOME");
    *out = g_build_filename(home && g_path_is_absolute(home) ? home : g_get_home_dir(), value + 2,
                            NULL);
    return TRUE;
  }
  if (!g_path_is_absolute(value)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "expected an absolute path (starting with / or ~/), or nothing");
    return FALSE;
  }
  *out = g_strdup(value);
  return TRUE;
}

static gboolean
is_ifname(const char *s)
{
  gsize len = strlen(s);

  if (len == 0 || len > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
    return FALSE;
  for (const char *p = s; *p; p++) {
    if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  }
  return TRUE;
}

/* ---- the keys ------------------------------------------------------------------------------ */

static gboolean
parse_gpu(VxmVmConfig *cfg, const char *value, GError **error)
{
  g_autoptr(GError) local = NULL;
  char *addr;

  g_clear_pointer(&cfg->gpu, g_free);
  if (g_ascii_strcasecmp(value, "auto") == 0)
    return TRUE;
  addr = vxm_pci_address_normalize(value, &local);
  if (addr == NULL)
    return FALSE;
  cfg->gpu = addr;
  return TRUE;
}

/* [pci] extra: "0000:04:00.0, 0000:05:00.0" (any form vxm_pci_address_parse() takes). */
static gboolean
parse_pci_extra(VxmVmConfig *cfg, const char *value, GError **error)
{
  g_auto(GStrv) words = g_strsplit_set(value, ", \t", -1);
  g_autoptr(GPtrArray) addrs = g_ptr_array_new_with_free_func(g_free);

  g_clear_pointer(&cfg->pci_extra, g_strfreev);
  for (guint i = 0; words[i] != NULL; i++) {
    g_autoptr(GError) local = NULL;
    g_autofree char *addr = NULL;

    if (words[i][0] == '\0')
      continue;
    addr = vxm_pci_address_normalize(words[i], &local);
    if (addr == NULL) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                  "'%s' is not a PCI address: expected addresses like 0000:04:00.0 separated by "
                  "commas (vxm list-devices shows them), or nothing",
                  words[i]);
      return FALSE;
    }
    if (g_ptr_array_find_with_equal_func(addrs, addr, g_str_equal, NULL)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "%s is listed twice: list each device once",
                  addr);
      return FALSE;
    }
    g_ptr_array_add(addrs, g_steal_pointer(&addr));
  }
  if (addrs->len == 0)
    return TRUE;
  g_ptr_array_add(addrs, NULL);
  cfg->pci_extra = (char **)g_ptr_array_free(g_steal_pointer(&addrs), FALSE);
  return TRUE;
}

static gboolean
parse_rom_file(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_path(value, &cfg->rom_file, error);
}

static gboolean
parse_keep_bound(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_bool(value, &cfg->keep_bound);
}

static gboolean
parse_unbind_timeout(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_uint_range(value, 1, 600, &cfg->unbind_timeout);
}

static gboolean
parse_memory(VxmVmConfig *cfg, const char *value, GError **error)
{
  guint64 bytes;

  if (g_ascii_strcasecmp(value, "auto") == 0) {
    cfg->memory_bytes = 0;
    return TRUE;
  }
  if (!vxm_parse_size(value, &bytes))
    return FALSE;
  if (bytes < VXM_VM_MEMORY_MIN) {
    g_autofree char *shown = vxm_format_bytes(bytes);
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "%s is below the 4 GiB Windows 11 needs: give at least 4G, or auto", shown);
    return FALSE;
  }
  if (bytes % MIB != 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "expected a whole number of MiB, like 8192M or 16G, or auto");
    return FALSE;
  }
  if (bytes > (G_GUINT64_CONSTANT(16) << 40)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "expected at most 16T, or auto");
    return FALSE;
  }
  cfg->memory_bytes = bytes;
  return TRUE;
}

static gboolean
parse_hugepages(VxmVmConfig *cfg, const char *value, GError **error)
{
  static const struct {
    const char *name;
    VxmVmHugepages value;
  } names[] = {{"auto", VXM_VM_HUGEPAGES_AUTO},
               {"2M", VXM_VM_HUGEPAGES_2M},
               {"1G", VXM_VM_HUGEPAGES_1G},
               {"off", VXM_VM_HUGEPAGES_OFF}};

  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    if (g_ascii_strcasecmp(value, names[i].name) == 0) {
      cfg->hugepages = names[i].value;
      return TRUE;
    }
  }
  return FALSE;
}

static gboolean
parse_hugepages_fallback(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_bool(value, &cfg->hugepages_fallback);
}

static gboolean
parse_hugepages_compact(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_bool(value, &cfg->hugepages_compact);
}

static gboolean
parse_looking_glass(VxmVmConfig *cfg, const char *value, GError **error)
{
  guint64 bytes;

  cfg->looking_glass_auto = FALSE;
  cfg->looking_glass_bytes = 0;
  if (g_ascii_strcasecmp(value, "off") == 0)
    return TRUE;
  if (g_ascii_strcasecmp(value, "auto") == 0) {
    cfg->looking_glass_auto = TRUE;
    return TRUE;
  }
  /* Looking Glass wants a power of two; 32M is 1080p SDR, 128M is 4K */
  if (!vxm_parse_size(value, &bytes) || bytes < 16 * MIB || bytes > GIB ||
      (bytes & (bytes - 1)) != 0)
    return FALSE;
  cfg->looking_glass_bytes = bytes;
  return TRUE;
}

static gboolean
parse_vcpus(VxmVmConfig *cfg, const char *value, GError **error)
{
  if (g_ascii_strcasecmp(value, "auto") == 0) {
    cfg->vcpus = 0;
    return TRUE;
  }
  return parse_uint_range(value, 1, 255, &cfg->vcpus);
}

static gboolean
parse_threads_per_core(VxmVmConfig *cfg, const char *value, GError **error)
{
  if (g_ascii_strcasecmp(value, "auto") == 0) {
    cfg->threads_per_core = 0;
    return TRUE;
  }
  return parse_uint_range(value, 1, 2, &cfg->threads_per_core);
}

static gint
compare_uint(gconstpointer a, gconstpointer b)
{
  guint x = *(const guint *)a, y = *(const guint *)b;
  return x < y ? -1 : x > y;
}

static gboolean
parse_cpu_pinning(VxmVmConfig *cfg, const char *value, GError **error)
{
  g_auto(GStrv) items = NULL;
  g_autoptr(GArray) cpus = NULL;

  g_clear_pointer(&cfg->cpu_pinning_list, g_array_unref);
  if (g_ascii_strcasecmp(value, "auto") == 0) {
    cfg->cpu_pinning = VXM_VM_CPU_PINNING_AUTO;
    return TRUE;
  }
  if (g_ascii_strcasecmp(value, "off") == 0) {
    cfg->cpu_pinning = VXM_VM_CPU_PINNING_OFF;
    return TRUE;
  }
  if (!g_ascii_isdigit(*value))
    return FALSE;
  cpus = g_array_new(FALSE, FALSE, sizeof(guint));
  items = g_strsplit(value, ",", -1);
  for (gsize i = 0; items[i] != NULL; i++) {
    char *item = g_strstrip(items[i]);
    char *dash = strchr(item, '-');
    guint64 lo, hi;

    if (dash != NULL)
      *dash = '\0';
    if (!vxm_parse_uint64(item, 10, &lo) ||
        (dash != NULL ? !vxm_parse_uint64(dash + 1, 10, &hi) : (hi = lo, FALSE)))
      return FALSE;
    if (lo > hi) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                  "range %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
                  " goes backwards: write the lower CPU first",
                  lo, hi);
      return FALSE;
    }
    if (hi >= CPU_MAX) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                  "CPU %" G_GUINT64_FORMAT " is out of range (at most %d)", hi, CPU_MAX - 1);
      return FALSE;
    }
    for (guint64 c = lo; c <= hi; c++) {
      guint cpu = (guint)c;
      g_array_append_val(cpus, cpu);
    }
  }
  g_array_sort(cpus, compare_uint);
  for (guint i = 1; i < cpus->len; i++) {
    if (g_array_index(cpus, guint, i) == g_array_index(cpus, guint, i - 1)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "CPU %u is listed twice",
                  g_array_index(cpus, guint, i));
      return FALSE;
    }
  }
  if (cpus->len > 255) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "%u CPUs listed: a guest has at most 255",
                cpus->len);
    return FALSE;
  }
  cfg->cpu_pinning = VXM_VM_CPU_PINNING_LIST;
  cfg->cpu_pinning_list = g_steal_pointer(&cpus);
  return TRUE;
}

static gboolean
parse_host_cores(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_uint_range(value, 1, 256, &cfg->host_cores);
}

static gboolean
parse_hide_kvm(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_bool(value, &cfg->hide_kvm);
}

/* QEMU's hv-vendor-id: the Hyper-V vendor signature, 12 bytes in CPUID 0x40000000. */
static gboolean
parse_hv_vendor_id(VxmVmConfig *cfg, const char *value, GError **error)
{
  g_clear_pointer(&cfg->hv_vendor_id, g_free);
  if (*value == '\0')
    return TRUE;
  if (strlen(value) > VXM_VM_HV_VENDOR_ID_MAX) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "%zu characters: the Hyper-V vendor id holds at most %d (e.g. 'vxmvendorid')",
                strlen(value), VXM_VM_HV_VENDOR_ID_MAX);
    return FALSE;
  }
  for (const char *p = value; *p; p++) {
    if (*p == ',' || *p < 0x20 || *p > 0x7e) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                  "only printable ASCII characters other than a comma may be used "
                  "(e.g. 'vxmvendorid')");
      return FALSE;
    }
  }
  cfg->hv_vendor_id = g_strdup(value);
  return TRUE;
}

static gboolean
parse_disk_path(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_path(value, &cfg->disk_path, error);
}

static gboolean
parse_disk_format(VxmVmConfig *cfg, const char *value, GError **error)
{
  if (g_ascii_strcasecmp(value, "qcow2") == 0)
    cfg->disk_format = VXM_VM_DISK_FORMAT_QCOW2;
  else if (g_ascii_strcasecmp(value, "raw") == 0)
    cfg->disk_format = VXM_VM_DISK_FORMAT_RAW;
  else
    return FALSE;
  return TRUE;
}

static gboolean
parse_disk_size(VxmVmConfig *cfg, const char *value, GError **error)
{
  guint64 bytes;

  if (!vxm_parse_size(value, &bytes) || bytes < MIB || bytes % 512 != 0 ||
      bytes > (G_GUINT64_CONSTANT(64) << 40))
    return FALSE;
  cfg->disk_size = bytes;
  return TRUE;
}

static gboolean
parse_installer_iso(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_path(value, &cfg->installer_iso, error);
}

static gboolean
parse_virtio_iso(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_path(value, &cfg->virtio_iso, error);
}

static gboolean
parse_network(VxmVmConfig *cfg, const char *value, GError **error)
{
  g_clear_pointer(&cfg->network_bridge, g_free);
  if (g_ascii_strcasecmp(value, "user") == 0) {
    cfg->network = VXM_VM_NETWORK_USER;
  } else if (g_ascii_strcasecmp(value, "none") == 0) {
    cfg->network = VXM_VM_NETWORK_NONE;
  } else if (g_ascii_strncasecmp(value, "bridge:", 7) == 0) {
    if (!is_ifname(value + 7)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                  "'%s' is not an interface name (1-15 letters, digits, '-', '_', '.'): "
                  "expected user, bridge:NAME or none",
                  value + 7);
      return FALSE;
    }
    cfg->network = VXM_VM_NETWORK_BRIDGE;
    cfg->network_bridge = g_strdup(value + 7);
  } else {
    return FALSE;
  }
  return TRUE;
}

static gboolean
parse_mac(VxmVmConfig *cfg, const char *value, GError **error)
{
  guint octets[6];
  gboolean all_zero = TRUE;

  g_clear_pointer(&cfg->mac, g_free);
  if (*value == '\0')
    return TRUE;
  if (strlen(value) != 17)
    return FALSE;
  for (guint i = 0; i < 6; i++) {
    const char *p = value + i * 3;
    if (!g_ascii_isxdigit(p[0]) || !g_ascii_isxdigit(p[1]) || (i < 5 && p[2] != ':'))
      return FALSE;
    octets[i] = (guint)(g_ascii_xdigit_value(p[0]) * 16 + g_ascii_xdigit_value(p[1]));
    all_zero = all_zero && octets[i] == 0;
  }
  if (octets[0] & 1) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "a multicast address cannot be a NIC's: the first octet must be even "
                "(leave it empty and vxm init generates one)");
    return FALSE;
  }
  if (all_zero)
    return FALSE;
  cfg->mac = g_ascii_strdown(value, -1);
  return TRUE;
}

static gboolean
parse_audio(VxmVmConfig *cfg, const char *value, GError **error)
{
  for (VxmVmAudio a = VXM_VM_AUDIO_AUTO; a <= VXM_VM_AUDIO_ALSA; a++) {
    if (g_ascii_strcasecmp(value, vxm_vm_audio_to_string(a)) == 0) {
      cfg->audio = a;
      return TRUE;
    }
  }
  return FALSE;
}

static gboolean
parse_audio_latency(VxmVmConfig *cfg, const char *value, GError **error)
{
  if (g_ascii_strcasecmp(value, "auto") == 0) {
    cfg->audio_latency_ms = 0;
    return TRUE;
  }
  return parse_uint_range(value, VXM_VM_AUDIO_LATENCY_MIN_MS, VXM_VM_AUDIO_LATENCY_MAX_MS,
                          &cfg->audio_latency_ms);
}

static gboolean
parse_tpm(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_bool(value, &cfg->tpm);
}

static gboolean
parse_secure_boot(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_bool(value, &cfg->secure_boot);
}

static gboolean
parse_smbios(VxmVmConfig *cfg, const char *value, GError **error)
{
  if (g_ascii_strcasecmp(value, "off") == 0)
    cfg->smbios = VXM_VM_SMBIOS_OFF;
  else if (g_ascii_strcasecmp(value, "host") == 0)
    cfg->smbios = VXM_VM_SMBIOS_HOST;
  else
    return FALSE;
  return TRUE;
}

static gboolean
parse_firmware_code(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_path(value, &cfg->firmware_code, error);
}

static gboolean
parse_firmware_vars(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_path(value, &cfg->firmware_vars_template, error);
}

static gboolean
parse_firmware_descriptor(VxmVmConfig *cfg, const char *value, GError **error)
{
  g_clear_pointer(&cfg->firmware_descriptor, g_free);
  if (*value != '\0')
    cfg->firmware_descriptor = g_strdup(value);
  return TRUE;
}

static gboolean
is_input_name(const char *s)
{
  if (*s == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strlen(s) > 255)
    return FALSE;
  for (const char *p = s; *p; p++) {
    if (*p == '/' || !g_ascii_isgraph(*p))
      return FALSE;
  }
  return TRUE;
}

static gboolean
parse_inputs(VxmVmConfig *cfg, const char *value, GError **error)
{
  g_auto(GStrv) items = NULL;
  g_autoptr(GPtrArray) names = NULL;

  g_clear_pointer(&cfg->inputs, g_strfreev);
  if (g_ascii_strcasecmp(value, "auto") == 0)
    return TRUE;
  names = g_ptr_array_new_with_free_func(g_free);
  if (g_ascii_strcasecmp(value, "none") != 0) {
    items = g_strsplit_set(value, ",;", -1);
    for (gsize i = 0; items[i] != NULL; i++) {
      const char *item = g_strstrip(items[i]);

      if (*item == '\0' && items[i + 1] == NULL && i > 0)
        break; /* a trailing separator, as GKeyFile lists have */
      if (g_str_has_prefix(item, "/dev/input/by-id/"))
        item += strlen("/dev/input/by-id/");
      if (!is_input_name(item)) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                    "'%s' is not a name from /dev/input/by-id (see vxm inputs): expected auto, "
                    "none, or names separated by commas",
                    item);
        return FALSE;
      }
      for (guint j = 0; j < names->len; j++) {
        if (strcmp(g_ptr_array_index(names, j), item) == 0) {
          g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "'%s' is listed twice", item);
          return FALSE;
        }
      }
      g_ptr_array_add(names, g_strdup(item));
    }
  }
  g_ptr_array_add(names, NULL);
  cfg->inputs = (char **)g_ptr_array_free(g_steal_pointer(&names), FALSE);
  return TRUE;
}

gboolean
vxm_vm_usb_id_parse(const char *text, guint32 *out)
{
  guint32 value = 0;

  if (strlen(text) != 9 || text[4] != ':')
    return FALSE;
  for (gsize i = 0; i < 9; i++) {
    if (i == 4)
      continue;
    if (!g_ascii_isxdigit(text[i]))
      return FALSE;
    value = value << 4 | (guint32)g_ascii_xdigit_value(text[i]);
  }
  *out = value;
  return TRUE;
}

static gboolean
parse_usb_devices(VxmVmConfig *cfg, const char *value, GError **error)
{
  g_auto(GStrv) items = g_strsplit(value, ",", -1);

  g_array_set_size(cfg->usb_devices, 0);
  for (gsize i = 0; items[i] != NULL; i++) {
    const char *item = g_strstrip(items[i]);
    guint32 id;

    if (*item == '\0' && items[i + 1] == NULL && (i > 0 || *value == '\0'))
      continue; /* nothing at all, or a trailing comma */
    if (!vxm_vm_usb_id_parse(item, &id)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                  "'%s' is not a USB id VID:PID with 4 hex digits each, like 046d:c52b (lsusb "
                  "shows them as ID VID:PID); separate several with commas",
                  item);
      return FALSE;
    }
    if (id >> 16 == 0 || (id & 0xffff) == 0) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                  "'%s': vendor and product id 0000 match any device in QEMU's usb-host, not one "
                  "device: give the ids lsusb shows",
                  item);
      return FALSE;
    }
    for (guint j = 0; j < cfg->usb_devices->len; j++) {
      if (g_array_index(cfg->usb_devices, guint32, j) == id) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "%04x:%04x is listed twice; keep one",
                    id >> 16, id & 0xffff);
        return FALSE;
      }
    }
    g_array_append_val(cfg->usb_devices, id);
  }
  return TRUE;
}

static const char *const grab_toggles[] = {"ctrl-ctrl", "alt-alt",    "shift-shift",
                                           "meta-meta", "scrolllock", "ctrl-scrolllock"};

static gboolean
parse_grab_toggle(VxmVmConfig *cfg, const char *value, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS(grab_toggles); i++) {
    if (g_ascii_strcasecmp(value, grab_toggles[i]) == 0) {
      cfg->grab_toggle = grab_toggles[i];
      return TRUE;
    }
  }
  return FALSE;
}

static gboolean
is_connector(const char *s)
{
  const char *p;

  if (!g_str_has_prefix(s, "card") || !g_ascii_isdigit(s[4]))
    return FALSE;
  for (p = s + 4; g_ascii_isdigit(*p); p++)
    ;
  if (*p != '-' || p[1] == '\0')
    return FALSE;
  for (p++; *p; p++) {
    if (!g_ascii_isalnum(*p) && *p != '-')
      return FALSE;
  }
  return TRUE;
}

static gboolean
parse_monitor(VxmVmConfig *cfg, const char *value, GError **error)
{
  g_auto(GStrv) parts = NULL;
  guint64 product, serial;

  g_clear_pointer(&cfg->monitor_connector, g_free);
  g_clear_pointer(&cfg->monitor_edid_manufacturer, g_free);
  cfg->monitor_edid_product = 0;
  cfg->monitor_edid_serial = 0;
  if (g_ascii_strcasecmp(value, "auto") == 0) {
    cfg->monitor = VXM_VM_MONITOR_AUTO;
    return TRUE;
  }
  if (g_ascii_strcasecmp(value, "off") == 0) {
    cfg->monitor = VXM_VM_MONITOR_OFF;
    return TRUE;
  }
  if (is_connector(value)) {
    cfg->monitor = VXM_VM_MONITOR_CONNECTOR;
    cfg->monitor_connector = g_strdup(value);
    return TRUE;
  }
  parts = g_strsplit(value, ":", -1);
  if (g_strv_length(parts) != 3 || strlen(parts[0]) != 3 || !g_ascii_isalpha(parts[0][0]) ||
      !g_ascii_isalpha(parts[0][1]) || !g_ascii_isalpha(parts[0][2]) ||
      !vxm_parse_uint64(parts[1], 0, &product) || product > 0xffff ||
      !vxm_parse_uint64(parts[2], 0, &serial) || serial > 0xffffffff)
    return FALSE;
  cfg->monitor = VXM_VM_MONITOR_EDID;
  cfg->monitor_edid_manufacturer = g_ascii_strup(parts[0], -1);
  cfg->monitor_edid_product = (guint)product;
  cfg->monitor_edid_serial = (guint32)serial;
  return TRUE;
}

static const struct {
  const char *name;
  guint value;
} monitor_inputs[] = {
    {"vga1", 0x01}, {"vga2", 0x02}, {"dvi1", 0x03},  {"dvi2", 0x04},
    {"dp1", 0x0f},  {"dp2", 0x10},  {"hdmi1", 0x11}, {"hdmi2", 0x12},
};

gboolean
vxm_vm_monitor_input_parse(const char *text, guint *out)
{
  guint64 v;

  for (gsize i = 0; i < G_N_ELEMENTS(monitor_inputs); i++) {
    if (g_ascii_strcasecmp(text, monitor_inputs[i].name) == 0) {
      *out = monitor_inputs[i].value;
      return TRUE;
    }
  }
  if (!vxm_parse_uint64(text, 0, &v) || v < 1 || v > 0xff)
    return FALSE;
  *out = (guint)v;
  return TRUE;
}

char *
vxm_vm_monitor_input_to_string(guint value)
{
  if (value == 0)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS(monitor_inputs); i++) {
    if (monitor_inputs[i].value == value)
      return g_strdup(monitor_inputs[i].name);
  }
  return g_strdup_printf("0x%02x", value);
}

void
vxm_vm_monitor_switch_free(VxmVmMonitorSwitch *sw)
{
  if (sw == NULL)
    return;
  g_free(sw->spec);
  g_free(sw);
}

/* "DEL:41234:12345" (upper-cased) or "card1-DP-2" as a spec; NULL for anything else. */
static char *
monitor_name_spec(const char *value)
{
  VxmVmConfig one = {0};
  char *spec = NULL;

  if (!parse_monitor(&one, value, NULL))
    return NULL;
  if (one.monitor == VXM_VM_MONITOR_CONNECTOR)
    spec = g_strdup(one.monitor_connector);
  else if (one.monitor == VXM_VM_MONITOR_EDID)
    spec = g_strdup_printf("%s:%u:%u", one.monitor_edid_manufacturer, one.monitor_edid_product,
                           one.monitor_edid_serial);
  g_free(one.monitor_connector);
  g_free(one.monitor_edid_manufacturer);
  return spec;
}

/* monitors = DEL:41234:12345 hdmi1 dp1; card1-DP-2 dp1 hdmi2 */
static gboolean
parse_monitors(VxmVmConfig *cfg, const char *value, GError **error)
{
  g_auto(GStrv) entries = g_strsplit(value, ";", -1);
  g_autoptr(GPtrArray) list =
      g_ptr_array_new_with_free_func((GDestroyNotify)vxm_vm_monitor_switch_free);

  g_clear_pointer(&cfg->monitors, g_ptr_array_unref);
  if (*value == '\0')
    return TRUE;
  for (guint i = 0; entries[i] != NULL; i++) {
    g_autofree char *entry = g_strstrip(g_strdup(entries[i]));
    g_auto(GStrv) words = NULL;
    g_autoptr(VxmVmMonitorSwitch) sw = g_new0(VxmVmMonitorSwitch, 1);
    g_autoptr(GPtrArray) parts = g_ptr_array_new();

    if (*entry == '\0') {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                  "entry %u is empty: separate the entries with one ';' each", i + 1);
      return FALSE;
    }
    words = g_strsplit_set(entry, " \t", -1);
    for (guint w = 0; words[w] != NULL; w++)
      if (words[w][0] != '\0')
        g_ptr_array_add(parts, words[w]);
    if (parts->len != 3) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                  "entry %u '%s' has %u word%s: each entry is MONITOR HOST_INPUT GUEST_INPUT, "
                  "like 'DEL:41234:12345 hdmi1 dp1', and entries are separated by ';'",
                  i + 1, entry, parts->len, parts->len == 1 ? "" : "s");
      return FALSE;
    }
    sw->spec = monitor_name_spec(parts->pdata[0]);
    if (sw->spec == NULL) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                  "entry %u: '%s' is not a monitor: name it by its EDID identity "
                  "MFG:PRODUCT:SERIAL like DEL:41234:12345 or its connector like card1-DP-1 "
                  "(vxm monitors lists them; auto and off are for the one-monitor form)",
                  i + 1, (char *)parts->pdata[0]);
      return FALSE;
    }
    for (guint k = 1; k <= 2; k++) {
      if (!vxm_vm_monitor_input_parse(parts->pdata[k],
                                      k == 1 ? &sw->host_input : &sw->guest_input)) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                    "entry %u: %s input '%s' of %s is not an input: expected dp1, dp2, hdmi1, "
                    "hdmi2, dvi1, dvi2, vga1, vga2 or a number 0x01-0xff",
                    i + 1, k == 1 ? "host" : "guest", (char *)parts->pdata[k], sw->spec);
        return FALSE;
      }
    }
    if (sw->host_input == sw->guest_input) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                  "entry %u: %s has the same host and guest input: the guest GPU is plugged "
                  "into another one",
                  i + 1, sw->spec);
      return FALSE;
    }
    for (guint j = 0; j < list->len; j++) {
      const VxmVmMonitorSwitch *other = g_ptr_array_index(list, j);

      if (g_ascii_strcasecmp(other->spec, sw->spec) == 0) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                    "entry %u: monitor %s is listed twice (entries %u and %u): keep one", i + 1,
                    sw->spec, j + 1, i + 1);
        return FALSE;
      }
    }
    g_ptr_array_add(list, g_steal_pointer(&sw));
  }
  cfg->monitors = g_steal_pointer(&list);
  return TRUE;
}

GPtrArray *
vxm_vm_config_monitor_switches(const VxmVmConfig *config)
{
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_vm_monitor_switch_free);
  VxmVmMonitorSwitch *sw;

  if (config->monitors != NULL) {
    for (guint i = 0; i < config->monitors->len; i++) {
      const VxmVmMonitorSwitch *from = g_ptr_array_index(config->monitors, i);

      sw = g_new0(VxmVmMonitorSwitch, 1);
      sw->spec = g_strdup(from->spec);
      sw->host_input = from->host_input;
      sw->guest_input = from->guest_input;
      g_ptr_array_add(out, sw);
    }
    return out;
  }
  if (config->host_input == 0 || config->guest_input == 0)
    return out;
  sw = g_new0(VxmVmMonitorSwitch, 1);
  switch (config->monitor) {
  case VXM_VM_MONITOR_OFF: g_free(sw); return out;
  case VXM_VM_MONITOR_AUTO: sw->spec = g_strdup("auto"); break;
  case VXM_VM_MONITOR_CONNECTOR: sw->spec = g_strdup(config->monitor_connector); break;
  case VXM_VM_MONITOR_EDID:
    sw->spec = g_strdup_printf("%s:%u:%u", config->monitor_edid_manufacturer,
                               config->monitor_edid_product, config->monitor_edid_serial);
    break;
  }
  sw->host_input = config->host_input;
  sw->guest_input = config->guest_input;
  g_ptr_array_add(out, sw);
  return out;
}

static gboolean
parse_host_input(VxmVmConfig *cfg, const char *value, GError **error)
{
  cfg->host_input = 0;
  return *value == '\0' || vxm_vm_monitor_input_parse(value, &cfg->host_input);
}

static gboolean
parse_guest_input(VxmVmConfig *cfg, const char *value, GError **error)
{
  cfg->guest_input = 0;
  return *value == '\0' || vxm_vm_monitor_input_parse(value, &cfg->guest_input);
}

/* inhibit = sleep | sleep,idle | none: what logind is asked to block while the VM runs */
static gboolean
parse_inhibit(VxmVmConfig *cfg, const char *value, GError **error)
{
  g_auto(GStrv) words = g_strsplit(value, ",", -1);
  gboolean sleep_ = FALSE, idle = FALSE;

  g_clear_pointer(&cfg->inhibit, g_free);
  if (g_ascii_strcasecmp(g_strstrip(words[0] != NULL ? words[0] : (char *)""), "none") == 0 &&
      g_strv_length(words) == 1)
    return TRUE;
  for (guint i = 0; words[i] != NULL; i++) {
    const char *w = g_strstrip(words[i]);

    if (g_ascii_strcasecmp(w, "sleep") == 0 && !sleep_)
      sleep_ = TRUE;
    else if (g_ascii_strcasecmp(w, "idle") == 0 && !idle)
      idle = TRUE;
    else
      return FALSE;
  }
  if (!sleep_)
    return FALSE; /* idle alone would still let the host suspend under the guest */
  cfg->inhibit = g_strdup(idle ? "sleep:idle" : "sleep");
  return TRUE;
}

static gboolean
parse_shutdown_timeout(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_uint_range(value, 1, 3600, &cfg->shutdown_timeout);
}

static gboolean
parse_start_timeout(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_uint_range(value, 5, 3600, &cfg->start_timeout);
}

static gboolean
parse_qemu_binary(VxmVmConfig *cfg, const char *value, GError **error)
{
  g_clear_pointer(&cfg->qemu_binary, g_free);
  if (*value == '\0')
    return FALSE;
  if (strchr(value, '/') != NULL && !g_path_is_absolute(value)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "expected a program name found in PATH or an absolute path");
    return FALSE;
  }
  cfg->qemu_binary = g_strdup(value);
  return TRUE;
}

#define INPUT_NAMES "dp1, dp2, hdmi1, hdmi2, dvi1, dvi2, vga1, vga2 or a number 0x01-0xff"

/* clang-format off */
static const KeyDef key_defs[] = {
  {{"gpu", "address", "auto", "auto, or a PCI address like 0000:01:00.0",
    "The guest GPU. auto: the single candidate `vxm list-gpus` shows.", "auto"}, parse_gpu},
  {{"gpu", "rom_file", "", "an absolute path, or nothing",
    "A ROM image for the GPU instead of its own (some cards need a patched one).", NULL}, parse_rom_file},
  {{"gpu", "keep_bound", "false", "true or false",
    "Leave the GPU on vfio-pci after the guest stops (the AMD reset-bug workaround).", "true false"}, parse_keep_bound},
  {{"gpu", "unbind_timeout", "10", "a number of seconds from 1 to 600",
    "How long a driver's unbind may take before the device is reported stuck.", NULL}, parse_unbind_timeout},

  {{"pci", "extra", "", "PCI addresses like 0000:04:00.0 separated by commas, or nothing",
    "Whole PCI devices given to the guest beside its GPU (a USB controller, an NVMe, a capture card), "
    "each with its IOMMU group; vxm list-devices shows which can go and why not.", NULL}, parse_pci_extra},

  {{"memory", "size", "auto", "a size like 16G (at least 4G), or auto",
    "Guest RAM. auto: half the host's RAM, at most 16 GiB, at least 4 GiB.", NULL}, parse_memory},
  {{"memory", "hugepages", "auto", "auto, 2M, 1G or off",
    "Back guest RAM with hugepages. auto: 1G pages when they can be had, else 2M.", "auto 2M 1G off"}, parse_hugepages},
  {{"memory", "hugepages_fallback", "false", "true or false",
    "Start with normal memory (and a warning) when not enough hugepages can be reserved.", "true false"}, parse_hugepages_fallback},
  {{"memory", "hugepages_compact", "true", "true or false",
    "Drop the page cache and compact memory before reserving hugepages (false: reserve as memory is).", "true false"}, parse_hugepages_compact},
  {{"memory", "looking_glass", "off", "off, auto, or a power-of-two size from 16M to 1G like 32M, 64M, 128M",
    "Shared memory for Looking Glass. auto: sized for the monitor's preferred mode (its EDID), for 4K (128M) when unknown.", "off auto 16M 32M 64M 128M 256M 512M 1G"}, parse_looking_glass},

  {{"cpu", "vcpus", "auto", "auto, or a number from 1 to 255",
    "Guest CPUs. auto: the host's CPUs minus host_cores cores (or the pinning list's size).", "auto"}, parse_vcpus},
  {{"cpu", "threads_per_core", "auto", "auto, 1 or 2",
    "SMT threads per guest core. auto: as the host has.", "auto 1 2"}, parse_threads_per_core},
  {{"cpu", "cpu_pinning", "auto", "auto, off, or host CPUs like 2-7,10-15",
    "Pin vCPUs to host CPUs. auto: whole cores, keeping host_cores for the host.", "auto off"}, parse_cpu_pinning},
  {{"cpu", "host_cores", "1", "a number from 1 to 256",
    "Cores (with their SMT siblings) left to the host by the auto settings.", NULL}, parse_host_cores},
  {{"cpu", "hide_kvm", "false", "true or false",
    "Hide the KVM signature from the guest (QEMU's kvm=off): NVIDIA drivers before 465 stop with Code 43 without it.", "true false"}, parse_hide_kvm},
  {{"cpu", "hv_vendor_id", "", "1 to 12 printable ASCII characters without a comma, or nothing",
    "The Hyper-V vendor id the guest sees (QEMU's hv-vendor-id); nothing: QEMU's own.", NULL}, parse_hv_vendor_id},

  {{"disk", "path", "", "an absolute path, or nothing",
    "The guest disk. Empty: disk.qcow2 (or disk.img) in the VM's data folder.", NULL}, parse_disk_path},
  {{"disk", "format", "qcow2", "qcow2 or raw",
    "The disk image format.", "qcow2 raw"}, parse_disk_format},
  {{"disk", "size", "128G", "a size like 128G (at least 1M)",
    "The size vxm init gives a new disk.", NULL}, parse_disk_size},

  {{"media", "installer_iso", "", "an absolute path, or nothing",
    "The Windows installer ISO, attached as a CD-ROM when set.", NULL}, parse_installer_iso},
  {{"media", "virtio_iso", "", "an absolute path, or nothing",
    "The virtio-win drivers ISO, attached as a second CD-ROM when set.", NULL}, parse_virtio_iso},

  {{"network", "mode", "user", "user, bridge:NAME or none",
    "user: QEMU's own NAT; bridge:NAME: a tap on host bridge NAME; none: no network.", "user none"}, parse_network},
  {{"network", "mac", "", "a unicast MAC like 02:12:34:56:78:9a, or nothing",
    "The guest NIC's address; vxm init writes a random locally administered one.", NULL}, parse_mac},

  {{"audio", "backend", "auto", "auto, none, pipewire, pa or alsa",
    "Guest sound through this QEMU audiodev. auto: the best one QEMU offers (pipewire, then pa, then alsa).", "auto none pipewire pa alsa"}, parse_audio},
  {{"audio", "latency_ms", "auto", "auto, or a number of milliseconds from 5 to 500",
    "The sound server's latency for the guest's sound (pipewire and pa: out.latency and in.latency). auto: the backend's default.", "auto"}, parse_audio_latency},

  {{"security", "tpm", "on", "on or off",
    "A TPM 2.0 (swtpm); Windows 11 requires one.", "on off"}, parse_tpm},
  {{"security", "secure_boot", "on", "on or off",
    "UEFI secure boot with Microsoft's keys enrolled; Windows 11 requires it.", "on off"}, parse_secure_boot},
  {{"security", "smbios", "off", "off or host",
    "host: show the guest this machine's DMI identity as SMBIOS types 0, 1 and 2 "
    "(what vxm fingerprint shows; without root, vxmd reads the serials and the UUID).", "off host"}, parse_smbios},

  {{"firmware", "code", "", "an absolute path, or nothing",
    "UEFI CODE image, chosen by vxm init from QEMU's firmware descriptors.", NULL}, parse_firmware_code},
  {{"firmware", "vars_template", "", "an absolute path, or nothing",
    "The VARS template paired with code; the VM runs on its own copy.", NULL}, parse_firmware_vars},
  {{"firmware", "descriptor", "", "a descriptor file name, or nothing",
    "The QEMU firmware descriptor the pair came from (empty: a known fallback pair).", NULL}, parse_firmware_descriptor},

  {{"input", "inputs", "auto", "auto, none, or device names separated by commas: /dev/input/by-id names, "
    "else by-path names or eventN",
    "Keyboards and mice given to the guest. auto: every keyboard and mouse.", "auto none"}, parse_inputs},
  {{"input", "grab_toggle", "ctrl-ctrl",
    "ctrl-ctrl, alt-alt, shift-shift, meta-meta, scrolllock or ctrl-scrolllock",
    "The keys that switch keyboard and mouse between host and guest.", "ctrl-ctrl alt-alt shift-shift meta-meta scrolllock ctrl-scrolllock"}, parse_grab_toggle},

  {{"usb", "devices", "", "nothing, or USB ids VID:PID separated by commas, 4 hex digits each, like 046d:c52b,054c:0ce6 (lsusb shows them)",
    "USB devices given to the guest (on its xHCI controller); one plugged in later joins when it is.", NULL}, parse_usb_devices},

  {{"display", "monitor", "auto",
    "auto, off, an EDID identity MFG:PRODUCT:SERIAL like DEL:41234:12345, or a connector like card1-DP-1",
    "The monitor to switch. auto: the only one connected to the host GPU.", "auto off"}, parse_monitor},
  {{"display", "host_input", "", INPUT_NAMES ", or nothing",
    "The monitor input showing the host GPU.", "dp1 dp2 hdmi1 hdmi2 dvi1 dvi2 vga1 vga2"}, parse_host_input},
  {{"display", "guest_input", "", INPUT_NAMES ", or nothing",
    "The monitor input showing the guest GPU.", "dp1 dp2 hdmi1 hdmi2 dvi1 dvi2 vga1 vga2"}, parse_guest_input},
  {{"display", "monitors", "",
    "entries separated by ';', each MONITOR HOST_INPUT GUEST_INPUT (MONITOR an EDID identity like "
    "DEL:41234:12345 or a connector like card1-DP-2), or nothing",
    "Several monitors to switch, each with its host and guest input, instead of monitor, "
    "host_input and guest_input.", NULL}, parse_monitors},

  {{"host", "shutdown_timeout", "60", "a number of seconds from 1 to 3600",
    "How long vxm stop waits for the guest to power down before it quits QEMU.", NULL}, parse_shutdown_timeout},
  {{"host", "start_timeout", "30", "a number of seconds from 5 to 3600",
    "How long vxm start waits for QEMU to answer on its monitor (QMP) once started: QEMU maps "
    "and pins all of the guest's RAM for VFIO first, which takes longer for a large guest on a "
    "slow or busy machine.", NULL}, parse_start_timeout},
  {{"host", "qemu_binary", "qemu-system-x86_64", "a program name found in PATH, or an absolute path",
    "The QEMU to run.", NULL}, parse_qemu_binary},
  {{"host", "inhibit", "sleep", "sleep, sleep,idle or none",
    "What the host may not do while the VM runs (a logind inhibitor lock): sleep (suspend and "
    "hibernate, which a passed-through GPU does not survive), sleep,idle (the idle action too), "
    "or none.", "sleep sleep,idle none"}, parse_inhibit},
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

static const KeyDef *
find_def(const char *group, const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS(key_defs); i++) {
    if (strcmp(key_defs[i].info.group, group) == 0 && strcmp(key_defs[i].info.key, key) == 0)
      return &key_defs[i];
  }
  return NULL;
}

static gboolean
is_group(const char *group)
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

static char *
suggest_group(const char *group)
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

static char *
suggest_key(const char *group, const char *key)
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

/* ---- lifecycle ----------------------------------------------------------------------------- */

static void
config_clear(VxmVmConfig *c)
{
  g_free(c->name);
  g_free(c->path);
  g_free(c->text);
  g_clear_pointer(&c->keyfile, g_key_file_unref);
  g_free(c->gpu);
  g_free(c->rom_file);
  g_free(c->installer_iso);
  g_free(c->virtio_iso);
  g_free(c->disk_path);
  g_free(c->hv_vendor_id);
  g_free(c->network_bridge);
  g_free(c->mac);
  g_free(c->firmware_code);
  g_free(c->firmware_vars_template);
  g_free(c->firmware_descriptor);
  g_strfreev(c->inputs);
  g_clear_pointer(&c->usb_devices, g_array_unref);
  g_strfreev(c->pci_extra);
  g_clear_pointer(&c->cpu_pinning_list, g_array_unref);
  g_free(c->monitor_edid_manufacturer);
  g_free(c->monitor_connector);
  g_clear_pointer(&c->monitors, g_ptr_array_unref);
  g_free(c->qemu_binary);
  g_free(c->inhibit);
  g_free(c->resolved.disk_path);
  g_free(c->resolved.qemu_binary);
  memset(c, 0, sizeof *c);
}

void
vxm_vm_config_free(VxmVmConfig *config)
{
  if (config == NULL)
    return;
  config_clear(config);
  g_free(config);
}

/* Fills every field from its default: the table is the one source of defaults. */
static void
apply_defaults(VxmVmConfig *c)
{
  for (gsize i = 0; i < G_N_ELEMENTS(key_defs); i++) {
    gboolean ok = key_defs[i].parse(c, key_defs[i].info.default_value, NULL);
    g_assert(ok);
  }
}

VxmVmConfig *
vxm_vm_config_new(const char *name)
{
  VxmVmConfig *c = g_new0(VxmVmConfig, 1);

  c->name = g_strdup(name ? name : VXM_VM_DEFAULT_NAME);
  c->text = g_strdup("");
  c->keyfile = g_key_file_new();
  c->usb_devices = g_array_new(FALSE, FALSE, sizeof(guint32));
  apply_defaults(c);
  return c;
}

/* ---- loading ------------------------------------------------------------------------------- */

typedef struct {
  char *group; /* NULL before the first group */
  char *key;
  gsize line;  /* 1-based */
  gsize start; /* byte offset of the line */
  gsize end;   /* byte offset after the line's newline (or end of text) */
} Line;

static void
line_clear(gpointer p)
{
  Line *l = p;
  g_free(l->group);
  g_free(l->key);
}

/* Splits @text into lines and tells group headers ("[x]", key NULL, group set), key lines and
 * the rest (comments, blanks: group and key NULL). GKeyFile's own syntax rules. */
static GArray *
scan_lines(const char *text, gsize length)
{
  GArray *lines = g_array_new(FALSE, TRUE, sizeof(Line));
  g_autofree char *group = NULL;
  gsize pos = 0, n = 0;

  g_array_set_clear_func(lines, line_clear);
  while (pos < length) {
    const char *nl = memchr(text + pos, '\n', length - pos);
    gsize end = nl ? (gsize)(nl - text) + 1 : length;
    g_autofree char *raw = g_strndup(text + pos, end - pos);
    char *s = g_strstrip(raw);
    Line l = {NULL, NULL, ++n, pos, end};

    if (*s == '[') {
      char *close = strrchr(s, ']');
      if (close != NULL) {
        g_free(group);
        group = g_strndup(s + 1, (gsize)(close - s - 1));
        l.group = g_strdup(group);
      }
    } else if (*s != '#' && *s != '\0') {
      char *eq = strchr(s, '=');
      if (eq != NULL) {
        *eq = '\0';
        l.key = g_strdup(g_strchomp(s));
        l.group = g_strdup(group);
      }
    }
    g_array_append_val(lines, l);
    pos = end;
  }
  return lines;
}

static gboolean config_error(GError **error, const char *display, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

static gboolean
config_error(GError **error, const char *display, const char *format, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  if (display == NULL) /* an edit from the command line: the file is not where the fault is */
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT, msg);
  else
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "%s: %s", display, msg);
  return FALSE;
}

/* "16G  # default" -> "16G": a '#' after a space or tab (or first) starts a comment, as in what
 * vxm config --show prints (GKeyFile itself knows only whole-line comments). */
static void
strip_inline_comment(char *value)
{
  for (char *p = value; *p != '\0'; p++) {
    if (*p == '#' && (p == value || p[-1] == ' ' || p[-1] == '\t')) {
      *p = '\0';
      break;
    }
  }
  g_strstrip(value);
}

/* What GKeyFile does not check, or reports without a line number: encoding, NULs, duplicates,
 * keys outside a group, lines that are none of group, key or comment. */
static gboolean
check_syntax(const char *text, gsize length, const char *display, GError **error)
{
  g_autoptr(GArray) lines = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  const char *bad = NULL;

  if (memchr(text, '\0', length) != NULL) {
    gsize off = (gsize)((const char *)memchr(text, '\0', length) - text), line = 1;
    for (gsize i = 0; i < off; i++)
      line += text[i] == '\n';
    return config_error(error, display, "line %zu: contains a NUL byte; is this a text file?",
                        line);
  }
  if (!g_utf8_validate(text, (gssize)length, &bad)) {
    gsize line = 1;
    for (const char *p = text; p < bad; p++)
      line += *p == '\n';
    return config_error(error, display, "line %zu: not valid UTF-8; save the file as UTF-8", line);
  }
  lines = scan_lines(text, length);
  for (guint i = 0; i < lines->len; i++) {
    Line *l = &g_array_index(lines, Line, i);
    g_autofree char *id = NULL;
    gpointer prev;

    if (l->group == NULL && l->key == NULL) {
      g_autofree char *raw = g_strndup(text + l->start, l->end - l->start);
      char *s = g_strstrip(raw);

      if (*s != '\0' && *s != '#')
        return config_error(error, display,
                            "line %zu: '%s' is neither KEY = VALUE, a [group] nor a # comment",
                            l->line, s);
      continue;
    }
    if (l->group == NULL)
      return config_error(error, display,
                          "line %zu: key '%s' comes before any [group]; put it under one", l->line,
                          l->key);
    if (l->key != NULL && strchr(l->key, '[') != NULL)
      return config_error(error, display, "line %zu: [%s] %s: translated keys are not supported",
                          l->line, l->group, l->key);
    id = l->key ? g_strdup_printf("%s\n%s", l->group, l->key) : g_strdup_printf("[%s", l->group);
    if (g_hash_table_lookup_extended(seen, id, NULL, &prev)) {
      if (l->key != NULL)
        return config_error(error, display,
                            "line %zu: [%s] %s is set twice (first on line %u); keep one", l->line,
                            l->group, l->key, GPOINTER_TO_UINT(prev));
      return config_error(error, display,
                          "line %zu: group [%s] appears twice (first on line %u); merge them",
                          l->line, l->group, GPOINTER_TO_UINT(prev));
    }
    g_hash_table_insert(seen, g_steal_pointer(&id), GUINT_TO_POINTER((guint)l->line));
  }
  return TRUE;
}

/* "line N: " for KEY in [GROUP] of @text, "" when not found (the edits of a command line). */
static char *
key_line(const char *text, const char *group, const char *key)
{
  g_autoptr(GArray) lines = NULL;

  if (text == NULL)
    return g_strdup("");
  lines = scan_lines(text, strlen(text));
  for (guint i = 0; i < lines->len; i++) {
    const Line *l = &g_array_index(lines, Line, i);

    if (l->key != NULL && g_strcmp0(l->group, group) == 0 && strcmp(l->key, key) == 0)
      return g_strdup_printf("line %zu: ", l->line);
  }
  return g_strdup("");
}

/* Cross-key rules, after every key parsed. */
static gboolean
check_consistency(VxmVmConfig *c, const char *display, GError **error)
{
  if ((c->firmware_code == NULL) != (c->firmware_vars_template == NULL))
    return config_error(error, display,
                        "[firmware] code and vars_template go together: set both (vxm init "
                        "does) or neither");
  if (c->firmware_descriptor != NULL && c->firmware_code == NULL)
    return config_error(error, display,
                        "[firmware] descriptor is set without code and vars_template: set all "
                        "three, or remove descriptor");
  if (c->vcpus != 0 && c->threads_per_core != 0 && c->vcpus % c->threads_per_core != 0)
    return config_error(error, display,
                        "[cpu] vcpus = %u cannot be split into cores of threads_per_core = %u: "
                        "use an even number of vcpus or threads_per_core = 1",
                        c->vcpus, c->threads_per_core);
  if (c->cpu_pinning == VXM_VM_CPU_PINNING_LIST && c->vcpus != 0 &&
      c->cpu_pinning_list->len != c->vcpus)
    return config_error(error, display,
                        "[cpu] cpu_pinning lists %u host CPUs but vcpus = %u: list one host "
                        "CPU per vCPU, or set vcpus = auto",
                        c->cpu_pinning_list->len, c->vcpus);
  for (guint i = 0; c->gpu != NULL && c->pci_extra != NULL && c->pci_extra[i] != NULL; i++) {
    VxmPciAddress gpu, extra;

    if (vxm_pci_address_parse(c->gpu, &gpu, NULL) &&
        vxm_pci_address_parse(c->pci_extra[i], &extra, NULL) &&
        vxm_pci_address_same_slot(&gpu, &extra))
      return config_error(error, display,
                          "[pci] extra lists %s, a function of the guest GPU ([gpu] address = "
                          "%s): it goes to the guest with the GPU already: remove it from extra",
                          c->pci_extra[i], c->gpu);
  }
  if ((c->host_input == 0) != (c->guest_input == 0))
    return config_error(error, display,
                        "[display] host_input and guest_input go together: set both, or "
                        "neither to leave the monitor alone");
  if (c->host_input != 0 && c->host_input == c->guest_input)
    return config_error(error, display,
                        "[display] host_input and guest_input are the same input: the guest GPU "
                        "is plugged into another one");
  if (c->monitors != NULL) {
    /* monitor = auto and empty inputs (the example's defaults) are no second form */
    static const char *const single[] = {"monitor", "host_input", "guest_input"};
    const gboolean used[] = {c->monitor != VXM_VM_MONITOR_AUTO, c->host_input != 0,
                             c->guest_input != 0};
    g_autoptr(GString) set = g_string_new(NULL);
    g_autoptr(GString) fix = g_string_new(NULL);

    for (guint i = 0; i < G_N_ELEMENTS(single); i++) {
      if (!used[i])
        continue;
      g_string_append_printf(set, "%s%s", set->len > 0 ? ", " : "", single[i]);
      g_string_append_printf(fix, " --unset display.%s", single[i]);
    }
    if (set->len > 0)
      return config_error(error, display,
                          "[display] monitors lists every monitor to switch, and %s %s the "
                          "one-monitor form: keep one form (vxm config%s removes the other; "
                          "add that monitor to monitors if it should switch too)",
                          set->str, strchr(set->str, ',') != NULL ? "are" : "is", fix->str);
  }
  return TRUE;
}

/* @display NULL: the text is a file plus the command line's edits, and errors are the edits'
 * (VXM_ERROR_INVALID_ARGUMENT, no file name). */
static VxmVmConfig *
load_text(const char *name, const char *path, const char *display, const char *data, gsize length,
          GError **error)
{
  g_autoptr(VxmVmConfig) c = vxm_vm_config_new(name);
  g_autoptr(GError) local = NULL;
  g_auto(GStrv) groups = NULL;

  if (!check_syntax(data, length, display, error))
    return NULL;
  if (!g_key_file_load_from_data(c->keyfile, data, length, G_KEY_FILE_KEEP_COMMENTS, &local)) {
    config_error(error, display, "%s", local->message);
    return NULL;
  }
  g_free(c->text);
  c->text = g_strndup(data, length);
  c->path = g_strdup(path);

  groups = g_key_file_get_groups(c->keyfile, NULL);
  for (gsize g = 0; groups[g] != NULL; g++) {
    g_auto(GStrv) keys = NULL;

    if (!is_group(groups[g])) {
      g_autofree char *hint = suggest_group(groups[g]);
      config_error(error, display, "unknown group [%s]%s", groups[g], hint);
      return NULL;
    }
    keys = g_key_file_get_keys(c->keyfile, groups[g], NULL, NULL);
    for (gsize k = 0; keys[k] != NULL; k++) {
      const KeyDef *def = find_def(groups[g], keys[k]);
      g_autofree char *value = NULL;
      g_autoptr(GError) perr = NULL;

      if (def == NULL) {
        g_autofree char *hint = suggest_key(groups[g], keys[k]);
        config_error(error, display, "[%s] unknown key '%s'%s", groups[g], keys[k], hint);
        return NULL;
      }
      value = g_key_file_get_string(c->keyfile, groups[g], keys[k], &perr);
      if (value == NULL) {
        config_error(error, display, "[%s] %s: %s", groups[g], keys[k], perr->message);
        return NULL;
      }
      strip_inline_comment(value);
      if (!def->parse(c, value, &perr)) {
        g_autofree char *expected = g_strconcat("expected ", def->info.allowed, NULL);
        g_autofree char *where =
            display != NULL ? key_line(c->text, groups[g], keys[k]) : g_strdup("");
        config_error(error, display, "%s[%s] %s = '%s': %s", where, groups[g], keys[k], value,
                     perr ? perr->message : expected);
        return NULL;
      }
    }
  }
  if (!check_consistency(c, display, error))
    return NULL;
  return g_steal_pointer(&c);
}

VxmVmConfig *
vxm_vm_config_load_data(const char *name, const char *path, const char *data, gsize length,
                        GError **error)
{
  g_autofree char *display = vxm_vm_paths_display(path ? path : "(config)");

  return load_text(name, path, display, data, length, error);
}

VxmVmConfig *
vxm_vm_config_load_file(const char *name, const char *path, GError **error)
{
  g_autofree char *display = vxm_vm_paths_display(path);
  g_autofree char *data = NULL;
  vxm_autofd int fd = -1;
  struct stat st;
  gsize length = 0;

  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) {
      g_autofree char *hint = vxm_vm_name_suggestion(name);

      g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                  "no VM %s%s: %s does not exist; create "
                  "it with vxm init %s",
                  name, hint, display, name);
      return NULL;
    }
    vxm_error_set_from_errno(error, errno, "cannot open %s", display);
    return NULL;
  }
  if (fstat(fd, &st) != 0) {
    vxm_error_set_from_errno(error, errno, "cannot inspect %s", display);
    return NULL;
  }
  if (S_ISDIR(st.st_mode)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "%s is a folder, not a config file: move it away", display);
    return NULL;
  }
  if (!S_ISREG(st.st_mode) || st.st_size > 1024 * 1024) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "%s is not a regular text file of at most 1 MiB", display);
    return NULL;
  }
  data = g_malloc((gsize)st.st_size + 1);
  while (length < (gsize)st.st_size) {
    ssize_t n = read(fd, data + length, (gsize)st.st_size - length);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      vxm_error_set_from_errno(error, errno, "cannot read %s", display);
      return NULL;
    }
    if (n == 0)
      break;
    length += (gsize)n;
  }
  data[length] = '\0';
  return vxm_vm_config_load_data(name, path, data, length, error);
}

VxmVmConfig *
vxm_vm_config_load(const VxmVmPaths *paths, GError **error)
{
  return vxm_vm_config_load_file(paths->name, paths->config_file, error);
}

/* ---- editing ------------------------------------------------------------------------------- */

static gboolean
find_key(const char *spec, const KeyDef **out, GError **error)
{
  const char *dot = strchr(spec, '.');
  const KeyDef *found = NULL;
  g_autoptr(GString) groups = NULL;

  if (dot != NULL) {
    g_autofree char *group = g_strndup(spec, (gsize)(dot - spec));
    if (!is_group(group)) {
      g_autofree char *hint = suggest_group(group);
      g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT, "unknown group [%s]%s", group,
                  hint);
      return FALSE;
    }
    found = find_def(group, dot + 1);
    if (found == NULL) {
      g_autofree char *hint = suggest_key(group, dot + 1);
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

/* A value as GKeyFile reads it back: backslashes doubled, leading space kept with \s. */
static char *
escape_value(const char *value)
{
  GString *s = g_string_new(NULL);

  for (const char *p = value; *p; p++) {
    if (*p == '\\')
      g_string_append(s, "\\\\");
    else if (p == value && *p == ' ')
      g_string_append(s, "\\s");
    else
      g_string_append_c(s, *p);
  }
  return g_string_free(s, FALSE);
}

/* Replaces this config's content by @text's, validated as a whole (pairs of keys set by one
 * command are checked together). On error nothing changes. */
static gboolean
replace_text(VxmVmConfig *c, const char *text, GError **error)
{
  g_autoptr(VxmVmConfig) fresh = load_text(c->name, c->path, NULL, text, strlen(text), error);
  VxmVmConfig tmp;

  if (fresh == NULL)
    return FALSE;
  tmp = *c;
  *c = *fresh;
  *fresh = tmp;
  return TRUE;
}

/* Edits @text line by line: the key's line is replaced (or removed when @value is NULL), or
 * a line added after its group's last key, or the group appended. Returns the new text. */
static char *
edit_text(const char *text, const KeyDef *def, const char *value, GError **error)
{
  g_autoptr(GArray) lines = scan_lines(text, strlen(text));
  g_autoptr(GString) out = g_string_new(NULL);
  g_autofree char *escaped = value ? escape_value(value) : NULL;
  const char *group = def->info.group, *key = def->info.key;
  gssize key_line = -1, group_line = -1, insert_after = -1;

  if (value != NULL) {
    for (const char *p = value; *p; p++) {
      if ((guchar)*p < 0x20 || *p == 0x7f) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                    "[%s] %s: the value contains a control character", group, key);
        return NULL;
      }
      if (*p == '#' && (p == value || p[-1] == ' ' || p[-1] == '\t')) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                    "[%s] %s: a '#' after a space starts a comment in the file: the value "
                    "cannot hold one (rename the file)",
                    group, key);
        return NULL;
      }
    }
  }
  for (guint i = 0; i < lines->len; i++) {
    Line *l = &g_array_index(lines, Line, i);

    if (l->group == NULL || strcmp(l->group, group) != 0)
      continue;
    if (l->key == NULL) {
      group_line = i;
      insert_after = i;
    } else {
      insert_after = i;
      if (strcmp(l->key, key) == 0)
        key_line = i;
    }
  }
  if (key_line >= 0) {
    Line *l = &g_array_index(lines, Line, key_line);
    const char *eq = memchr(text + l->start, '=', l->end - l->start);
    gsize value_start = (gsize)(eq - text) + 1;
    gsize line_end = l->end;

    g_string_append_len(out, text, (gssize)l->start);
    if (value != NULL) {
      /* keep "key = " as the user spaced it */
      g_string_append_len(out, text + l->start, (gssize)(value_start - l->start));
      while (value_start < line_end && text[value_start] == ' ') {
        g_string_append_c(out, ' ');
        value_start++;
      }
      g_string_append_printf(out, "%s\n", escaped);
    }
    g_string_append(out, text + line_end);
  } else if (value == NULL) {
    g_string_append(out, text); /* nothing to unset */
  } else if (group_line >= 0) {
    Line *l = &g_array_index(lines, Line, insert_after);
    g_string_append_len(out, text, (gssize)l->end);
    if (out->len > 0 && out->str[out->len - 1] != '\n')
      g_string_append_c(out, '\n');
    g_string_append_printf(out, "%s = %s\n", key, escaped);
    g_string_append(out, text + l->end);
  } else {
    g_string_append(out, text);
    if (out->len > 0 && out->str[out->len - 1] != '\n')
      g_string_append_c(out, '\n');
    if (out->len > 0)
      g_string_append_c(out, '\n');
    g_string_append_printf(out, "[%s]\n%s = %s\n", group, key, escaped);
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

gboolean
vxm_vm_config_set_many(VxmVmConfig *c, const char *const *keys, const char *const *values,
                       GError **error)
{
  g_autofree char *text = g_strdup(c->text);

  for (gsize i = 0; keys[i] != NULL; i++) {
    const KeyDef *def;
    char *next;

    if (!find_key(keys[i], &def, error))
      return FALSE;
    next = edit_text(text, def, values[i], error);
    if (next == NULL)
      return FALSE;
    g_free(text);
    text = next;
  }
  return replace_text(c, text, error);
}

gboolean
vxm_vm_config_set(VxmVmConfig *c, const char *key, const char *value, GError **error)
{
  const char *keys[] = {key, NULL};
  const char *values[] = {value, NULL};

  g_return_val_if_fail(value != NULL, FALSE);
  return vxm_vm_config_set_many(c, keys, values, error);
}

gboolean
vxm_vm_config_unset(VxmVmConfig *c, const char *key, GError **error)
{
  const char *keys[] = {key, NULL};
  const char *values[] = {NULL, NULL};

  return vxm_vm_config_set_many(c, keys, values, error);
}

char *
vxm_vm_config_to_data(VxmVmConfig *c, gsize *length)
{
  if (length != NULL)
    *length = strlen(c->text);
  return g_strdup(c->text);
}

gboolean
vxm_vm_config_save(VxmVmConfig *c, const char *path, GError **error)
{
  const char *target = path ? path : c->path;
  g_autofree char *display = NULL;

  g_return_val_if_fail(target != NULL, FALSE);
  if (!vxm_file_replace_atomic(target, c->text, -1, 0600, error)) {
    display = vxm_vm_paths_display(target);
    g_prefix_error(error, "cannot write %s: ", display);
    return FALSE;
  }
  if (path != NULL && g_strcmp0(path, c->path) != 0) {
    g_free(c->path);
    c->path = g_strdup(path);
  }
  return TRUE;
}

char *
vxm_vm_config_get_text(VxmVmConfig *c, const char *group, const char *key)
{
  const KeyDef *def = find_def(group, key);
  char *value;

  g_return_val_if_fail(def != NULL, NULL);
  value = g_key_file_get_string(c->keyfile, group, key, NULL);
  if (value != NULL) {
    strip_inline_comment(value);
    return value;
  }
  return g_strdup(def->info.default_value);
}
