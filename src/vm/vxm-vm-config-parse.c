/* vxm-vm-config-parse: the small parsers, and the parsers of the keys of the GPU, memory, CPU,
 * guest, disk, network, audio, TPM and firmware. */
#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "pci/vxm-pci-address.h"
#include "vxm-vm-config-private.h"

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

gboolean
vxm_vm_config_parse_uint_range(const char *value, guint min, guint max, guint *out)
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

gboolean
vxm_vm_config_parse_gpu(VxmVmConfig *cfg, const char *value, GError **error)
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
gboolean
vxm_vm_config_parse_pci_extra(VxmVmConfig *cfg, const char *value, GError **error)
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

gboolean
vxm_vm_config_parse_rom_file(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_path(value, &cfg->rom_file, error);
}

gboolean
vxm_vm_config_parse_keep_bound(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_bool(value, &cfg->keep_bound);
}

gboolean
vxm_vm_config_parse_unbind_timeout(VxmVmConfig *cfg, const char *value, GError **error)
{
  return vxm_vm_config_parse_uint_range(value, 1, 600, &cfg->unbind_timeout);
}

gboolean
vxm_vm_config_parse_memory(VxmVmConfig *cfg, const char *value, GError **error)
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

gboolean
vxm_vm_config_parse_hugepages(VxmVmConfig *cfg, const char *value, GError **error)
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

gboolean
vxm_vm_config_parse_hugepages_fallback(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_bool(value, &cfg->hugepages_fallback);
}

gboolean
vxm_vm_config_parse_hugepages_compact(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_bool(value, &cfg->hugepages_compact);
}

gboolean
vxm_vm_config_parse_looking_glass(VxmVmConfig *cfg, const char *value, GError **error)
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

gboolean
vxm_vm_config_parse_vcpus(VxmVmConfig *cfg, const char *value, GError **error)
{
  if (g_ascii_strcasecmp(value, "auto") == 0) {
    cfg->vcpus = 0;
    return TRUE;
  }
  return vxm_vm_config_parse_uint_range(value, 1, 255, &cfg->vcpus);
}

gboolean
vxm_vm_config_parse_threads_per_core(VxmVmConfig *cfg, const char *value, GError **error)
{
  if (g_ascii_strcasecmp(value, "auto") == 0) {
    cfg->threads_per_core = 0;
    return TRUE;
  }
  return vxm_vm_config_parse_uint_range(value, 1, 2, &cfg->threads_per_core);
}

static gint
compare_uint(gconstpointer a, gconstpointer b)
{
  guint x = *(const guint *)a, y = *(const guint *)b;
  return x < y ? -1 : x > y;
}

gboolean
vxm_vm_config_parse_cpu_pinning(VxmVmConfig *cfg, const char *value, GError **error)
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

gboolean
vxm_vm_config_parse_host_cores(VxmVmConfig *cfg, const char *value, GError **error)
{
  return vxm_vm_config_parse_uint_range(value, 1, 256, &cfg->host_cores);
}

gboolean
vxm_vm_config_parse_hide_kvm(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_bool(value, &cfg->hide_kvm);
}

/* QEMU's hv-vendor-id: the Hyper-V vendor signature, 12 bytes in CPUID 0x40000000. */
gboolean
vxm_vm_config_parse_hv_vendor_id(VxmVmConfig *cfg, const char *value, GError **error)
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

gboolean
vxm_vm_config_parse_disk_path(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_path(value, &cfg->disk_path, error);
}

gboolean
vxm_vm_config_parse_disk_format(VxmVmConfig *cfg, const char *value, GError **error)
{
  if (g_ascii_strcasecmp(value, "qcow2") == 0)
    cfg->disk_format = VXM_VM_DISK_FORMAT_QCOW2;
  else if (g_ascii_strcasecmp(value, "raw") == 0)
    cfg->disk_format = VXM_VM_DISK_FORMAT_RAW;
  else
    return FALSE;
  return TRUE;
}

gboolean
vxm_vm_config_parse_disk_size(VxmVmConfig *cfg, const char *value, GError **error)
{
  guint64 bytes;

  if (!vxm_parse_size(value, &bytes) || bytes < MIB || bytes % 512 != 0 ||
      bytes > (G_GUINT64_CONSTANT(64) << 40))
    return FALSE;
  cfg->disk_size = bytes;
  return TRUE;
}

gboolean
vxm_vm_config_parse_installer_iso(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_path(value, &cfg->installer_iso, error);
}

gboolean
vxm_vm_config_parse_virtio_iso(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_path(value, &cfg->virtio_iso, error);
}

gboolean
vxm_vm_config_parse_network(VxmVmConfig *cfg, const char *value, GError **error)
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

gboolean
vxm_vm_config_parse_mac(VxmVmConfig *cfg, const char *value, GError **error)
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

gboolean
vxm_vm_config_parse_audio(VxmVmConfig *cfg, const char *value, GError **error)
{
  for (VxmVmAudio a = VXM_VM_AUDIO_AUTO; a <= VXM_VM_AUDIO_ALSA; a++) {
    if (g_ascii_strcasecmp(value, vxm_vm_audio_to_string(a)) == 0) {
      cfg->audio = a;
      return TRUE;
    }
  }
  return FALSE;
}

gboolean
vxm_vm_config_parse_audio_latency(VxmVmConfig *cfg, const char *value, GError **error)
{
  if (g_ascii_strcasecmp(value, "auto") == 0) {
    cfg->audio_latency_ms = 0;
    return TRUE;
  }
  return vxm_vm_config_parse_uint_range(value, VXM_VM_AUDIO_LATENCY_MIN_MS,
                                        VXM_VM_AUDIO_LATENCY_MAX_MS, &cfg->audio_latency_ms);
}

gboolean
vxm_vm_config_parse_tpm(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_bool(value, &cfg->tpm);
}

gboolean
vxm_vm_config_parse_secure_boot(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_bool(value, &cfg->secure_boot);
}

gboolean
vxm_vm_config_parse_smbios(VxmVmConfig *cfg, const char *value, GError **error)
{
  if (g_ascii_strcasecmp(value, "off") == 0)
    cfg->smbios = VXM_VM_SMBIOS_OFF;
  else if (g_ascii_strcasecmp(value, "host") == 0)
    cfg->smbios = VXM_VM_SMBIOS_HOST;
  else
    return FALSE;
  return TRUE;
}

gboolean
vxm_vm_config_parse_firmware_code(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_path(value, &cfg->firmware_code, error);
}

gboolean
vxm_vm_config_parse_firmware_vars(VxmVmConfig *cfg, const char *value, GError **error)
{
  return parse_path(value, &cfg->firmware_vars_template, error);
}

gboolean
vxm_vm_config_parse_firmware_descriptor(VxmVmConfig *cfg, const char *value, GError **error)
{
  g_clear_pointer(&cfg->firmware_descriptor, g_free);
  if (*value != '\0')
    cfg->firmware_descriptor = g_strdup(value);
  return TRUE;
}
