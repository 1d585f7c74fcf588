/* vxm-vm-config-devices: the parsers of the keys of inputs, USB devices, monitors and their
 * inputs, inhibit, timeouts and QEMU. */
#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "vxm-vm-config-private.h"

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

gboolean
vxm_vm_config_parse_inputs(VxmVmConfig *cfg, const char *value, GError **error)
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

gboolean
vxm_vm_config_parse_usb_devices(VxmVmConfig *cfg, const char *value, GError **error)
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

gboolean
vxm_vm_config_parse_grab_toggle(VxmVmConfig *cfg, const char *value, GError **error)
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

gboolean
vxm_vm_config_parse_monitor(VxmVmConfig *cfg, const char *value, GError **error)
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

  if (!vxm_vm_config_parse_monitor(&one, value, NULL))
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
gboolean
vxm_vm_config_parse_monitors(VxmVmConfig *cfg, const char *value, GError **error)
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

gboolean
vxm_vm_config_parse_host_input(VxmVmConfig *cfg, const char *value, GError **error)
{
  cfg->host_input = 0;
  return *value == '\0' || vxm_vm_monitor_input_parse(value, &cfg->host_input);
}

gboolean
vxm_vm_config_parse_guest_input(VxmVmConfig *cfg, const char *value, GError **error)
{
  cfg->guest_input = 0;
  return *value == '\0' || vxm_vm_monitor_input_parse(value, &cfg->guest_input);
}

/* inhibit = sleep | sleep,idle | none: what logind is asked to block while the VM runs */
gboolean
vxm_vm_config_parse_inhibit(VxmVmConfig *cfg, const char *value, GError **error)
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

gboolean
vxm_vm_config_parse_shutdown_timeout(VxmVmConfig *cfg, const char *value, GError **error)
{
  return vxm_vm_config_parse_uint_range(value, 1, 3600, &cfg->shutdown_timeout);
}

gboolean
vxm_vm_config_parse_start_timeout(VxmVmConfig *cfg, const char *value, GError **error)
{
  return vxm_vm_config_parse_uint_range(value, 5, 3600, &cfg->start_timeout);
}

gboolean
vxm_vm_config_parse_qemu_binary(VxmVmConfig *cfg, const char *value, GError **error)
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
