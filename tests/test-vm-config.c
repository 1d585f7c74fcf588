/* Tests of the VM config file: every key, good and bad values, the messages users see,
 * did-you-mean, auto resolution from host facts, comment-preserving edits, paths. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "vm/vxm-vm-config.h"
#include "plan/vxm-vm-resolve.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-test-util.h"

#define GIB (G_GUINT64_CONSTANT(1) << 30)
#define MIB (G_GUINT64_CONSTANT(1) << 20)

static VxmVmConfig *
load(const char *text, GError **error)
{
  return vxm_vm_config_load_data("win11", "/home/u/.config/vxm/vms/win11.conf", text, strlen(text),
                                 error);
}

static VxmVmConfig *
load_ok(const char *text)
{
  g_autoptr(GError) error = NULL;
  VxmVmConfig *c = load(text, &error);

  g_assert_no_error(error);
  g_assert_nonnull(c);
  return c;
}

static void
assert_load_fails(const char *text, const char *const *needles)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmVmConfig) c = load(text, &error);

  g_assert_null(c);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_CONFIG);
  for (gsize i = 0; needles[i] != NULL; i++) {
    if (strstr(error->message, needles[i]) == NULL)
      g_error("message '%s' lacks '%s' (config: %s)", error->message, needles[i], text);
  }
}

static void
test_defaults(void)
{
  g_autoptr(VxmVmConfig) c = load_ok("");

  g_assert_cmpstr(c->name, ==, "win11");
  g_assert_null(c->gpu);
  g_assert_null(c->rom_file);
  g_assert_false(c->keep_bound);
  g_assert_cmpuint(c->unbind_timeout, ==, 10);
  g_assert_cmpuint(c->memory_bytes, ==, 0);
  g_assert_cmpint(c->hugepages, ==, VXM_VM_HUGEPAGES_AUTO);
  g_assert_false(c->hugepages_fallback);
  g_assert_false(c->looking_glass_auto);
  g_assert_cmpuint(c->looking_glass_bytes, ==, 0);
  g_assert_cmpuint(c->vcpus, ==, 0);
  g_assert_cmpuint(c->threads_per_core, ==, 0);
  g_assert_cmpint(c->cpu_pinning, ==, VXM_VM_CPU_PINNING_AUTO);
  g_assert_null(c->cpu_pinning_list);
  g_assert_cmpuint(c->host_cores, ==, 1);
  g_assert_false(c->hide_kvm);
  g_assert_null(c->hv_vendor_id);
  g_assert_cmpuint(c->audio_latency_ms, ==, 0);
  g_assert_null(c->disk_path);
  g_assert_cmpint(c->disk_format, ==, VXM_VM_DISK_FORMAT_QCOW2);
  g_assert_cmpuint(c->disk_size, ==, 128 * GIB);
  g_assert_null(c->installer_iso);
  g_assert_null(c->virtio_iso);
  g_assert_cmpint(c->network, ==, VXM_VM_NETWORK_USER);
  g_assert_null(c->mac);
  g_assert_cmpint(c->audio, ==, VXM_VM_AUDIO_AUTO);
  g_assert_true(c->tpm);
  g_assert_true(c->secure_boot);
  g_assert_cmpint(c->smbios, ==, VXM_VM_SMBIOS_OFF);
  g_assert_null(c->firmware_code);
  g_assert_null(c->inputs);
  g_assert_cmpstr(c->grab_toggle, ==, "ctrl-ctrl");
  g_assert_cmpint(c->monitor, ==, VXM_VM_MONITOR_AUTO);
  g_assert_cmpuint(c->host_input, ==, 0);
  g_assert_cmpuint(c->guest_input, ==, 0);
  g_assert_cmpuint(c->shutdown_timeout, ==, 60);
  g_assert_cmpstr(c->qemu_binary, ==, "qemu-system-x86_64");

  /* a config made in memory has the same defaults */
  {
    g_autoptr(VxmVmConfig) n = vxm_vm_config_new(NULL);
    g_assert_cmpstr(n->name, ==, "default");
    g_assert_cmpuint(n->disk_size, ==, 128 * GIB);
    g_assert_true(n->tpm);
  }
}

static void
test_every_key_good(void)
{
  g_autoptr(VxmVmConfig) c = load_ok("# my windows VM\n"
                                     "[gpu]\n"
                                     "address = 1:0.0\n"
                                     "rom_file = /srv/roms/tu104.rom\n"
                                     "keep_bound = true\n"
                                     "unbind_timeout = 30\n"
                                     "[memory]\n"
                                     "size = 12G\n"
                                     "hugepages = 1G\n"
                                     "hugepages_fallback = yes\n"
                                     "looking_glass = 64M\n"
                                     "[cpu]\n"
                                     "vcpus = 8\n"
                                     "threads_per_core = 2\n"
                                     "cpu_pinning = 10-15, 2-3\n"
                                     "host_cores = 2\n"
                                     "hide_kvm = yes\n"
                                     "hv_vendor_id = vxmvendorid\n"
                                     "[disk]\n"
                                     "path = /vm/win, 11.img\n"
                                     "format = raw\n"
                                     "size = 256G\n"
                                     "[media]\n"
                                     "installer_iso = /iso/Win11.iso\n"
                                     "virtio_iso = ~/iso/virtio-win.iso\n"
                                     "[network]\n"
                                     "mode = bridge:br0\n"
                                     "mac = 02:AB:cd:00:11:22\n"
                                     "[audio]\n"
                                     "backend = pa\n"
                                     "latency_ms = 40\n"
                                     "[security]\n"
                                     "tpm = off\n"
                                     "secure_boot = off\n"
                                     "smbios = host\n"
                                     "[firmware]\n"
                                     "code = /usr/share/OVMF/OVMF_CODE_4M.ms.fd\n"
                                     "vars_template = /usr/share/OVMF/OVMF_VARS_4M.ms.fd\n"
                                     "descriptor = 50-edk2-x86_64-securecsm.json\n"
                                     "[input]\n"
                                     "inputs = usb-Logitech_K120-event-kbd, "
                                     "/dev/input/by-id/usb-Razer-event-mouse;\n"
                                     "grab_toggle = scrolllock\n"
                                     "[display]\n"
                                     "monitor = DEL:0xa0e1:12345\n"
                                     "host_input = dp1\n"
                                     "guest_input = 0x11\n"
                                     "[host]\n"
                                     "shutdown_timeout = 120\n"
                                     "qemu_binary = /opt/qemu/bin/qemu-system-x86_64\n");
  const char *home = g_getenv("HOME");
  g_autofree char *virtio =
      g_build_filename(home ? home : g_get_home_dir(), "iso/virtio-win.iso", NULL);

  g_assert_cmpstr(c->gpu, ==, "0000:01:00.0");
  g_assert_cmpstr(c->rom_file, ==, "/srv/roms/tu104.rom");
  g_assert_true(c->keep_bound);
  g_assert_cmpuint(c->unbind_timeout, ==, 30);
  g_assert_cmpuint(c->memory_bytes, ==, 12 * GIB);
  g_assert_cmpint(c->hugepages, ==, VXM_VM_HUGEPAGES_1G);
  g_assert_true(c->hugepages_fallback);
  g_assert_cmpuint(c->looking_glass_bytes, ==, 64 * MIB);
  g_assert_cmpuint(c->vcpus, ==, 8);
  g_assert_cmpuint(c->threads_per_core, ==, 2);
  g_assert_cmpint(c->cpu_pinning, ==, VXM_VM_CPU_PINNING_LIST);
  g_assert_cmpuint(c->cpu_pinning_list->len, ==, 8);
  g_assert_cmpuint(g_array_index(c->cpu_pinning_list, guint, 0), ==, 2);
  g_assert_cmpuint(g_array_index(c->cpu_pinning_list, guint, 1), ==, 3);
  g_assert_cmpuint(g_array_index(c->cpu_pinning_list, guint, 2), ==, 10);
  g_assert_cmpuint(g_array_index(c->cpu_pinning_list, guint, 7), ==, 15);
  g_assert_cmpuint(c->host_cores, ==, 2);
  g_assert_cmpstr(c->disk_path, ==, "/vm/win, 11.img");
  g_assert_cmpint(c->disk_format, ==, VXM_VM_DISK_FORMAT_RAW);
  g_assert_cmpuint(c->disk_size, ==, 256 * GIB);
  g_assert_cmpstr(c->installer_iso, ==, "/iso/Win11.iso");
  g_assert_cmpstr(c->virtio_iso, ==, virtio);
  g_assert_cmpint(c->network, ==, VXM_VM_NETWORK_BRIDGE);
  g_assert_cmpstr(c->network_bridge, ==, "br0");
  g_assert_cmpstr(c->mac, ==, "02:ab:cd:00:11:22");
  g_assert_cmpint(c->audio, ==, VXM_VM_AUDIO_PA);
  g_assert_cmpuint(c->audio_latency_ms, ==, 40);
  g_assert_true(c->hide_kvm);
  g_assert_cmpstr(c->hv_vendor_id, ==, "vxmvendorid");
  g_assert_false(c->tpm);
  g_assert_false(c->secure_boot);
  g_assert_cmpint(c->smbios, ==, VXM_VM_SMBIOS_HOST);
  g_assert_cmpstr(c->firmware_code, ==, "/usr/share/OVMF/OVMF_CODE_4M.ms.fd");
  g_assert_cmpstr(c->firmware_vars_template, ==, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
  g_assert_cmpstr(c->firmware_descriptor, ==, "50-edk2-x86_64-securecsm.json");
  g_assert_cmpuint(g_strv_length(c->inputs), ==, 2);
  g_assert_cmpstr(c->inputs[0], ==, "usb-Logitech_K120-event-kbd");
  g_assert_cmpstr(c->inputs[1], ==, "usb-Razer-event-mouse");
  g_assert_cmpstr(c->grab_toggle, ==, "scrolllock");
  g_assert_cmpint(c->monitor, ==, VXM_VM_MONITOR_EDID);
  g_assert_cmpstr(c->monitor_edid_manufacturer, ==, "DEL");
  g_assert_cmpuint(c->monitor_edid_product, ==, 0xa0e1);
  g_assert_cmpuint(c->monitor_edid_serial, ==, 12345);
  g_assert_cmpuint(c->host_input, ==, 0x0f);
  g_assert_cmpuint(c->guest_input, ==, 0x11);
  g_assert_cmpuint(c->shutdown_timeout, ==, 120);
  g_assert_cmpstr(c->qemu_binary, ==, "/opt/qemu/bin/qemu-system-x86_64");
}

typedef struct {
  const char *group, *key, *value;
} GoodValue;

/* Values each key accepts beyond the big config above. */
static void
test_more_good_values(void)
{
  static const GoodValue good[] = {
      {"gpu", "address", "AUTO"},
      {"gpu", "address", "0000:0a:00.0"},
      {"gpu", "rom_file", ""},
      {"memory", "size", "4G"},
      {"memory", "size", "16GiB"},
      {"memory", "size", "8192M"},
      {"memory", "hugepages", "2M"},
      {"memory", "hugepages", "off"},
      {"memory", "looking_glass", "auto"},
      {"memory", "looking_glass", "32M"},
      {"memory", "looking_glass", "128M"},
      {"cpu", "vcpus", "1"},
      {"cpu", "vcpus", "255"},
      {"cpu", "threads_per_core", "1"},
      {"cpu", "cpu_pinning", "off"},
      {"cpu", "cpu_pinning", "0"},
      {"cpu", "cpu_pinning", "2-7,10-15"},
      {"cpu", "hide_kvm", "true"},
      {"cpu", "hv_vendor_id", "vxmvendorid"},
      {"cpu", "hv_vendor_id", "123456789012"},
      {"cpu", "hv_vendor_id", "Ab c=1;~"},
      {"audio", "latency_ms", "5"},
      {"audio", "latency_ms", "500"},
      {"disk", "format", "qcow2"},
      {"disk", "size", "1M"},
      {"network", "mode", "none"},
      {"network", "mode", "user"},
      {"network", "mac", ""},
      {"audio", "backend", "none"},
      {"audio", "backend", "pipewire"},
      {"audio", "backend", "alsa"},
      {"security", "tpm", "true"},
      {"security", "secure_boot", "0"},
      {"pci", "extra", "0000:04:00.0, 5:0.0"},
      {"pci", "extra", ""},
      {"input", "inputs", "none"},
      {"input", "inputs", "auto"},
      {"input", "grab_toggle", "alt-alt"},
      {"input", "grab_toggle", "shift-shift"},
      {"input", "grab_toggle", "meta-meta"},
      {"input", "grab_toggle", "ctrl-scrolllock"},
      {"usb", "devices", ""},
      {"usb", "devices", "046d:c52b"},
      {"usb", "devices", "046D:C52B, 054c:0ce6,"},
      {"display", "monitor", "off"},
      {"display", "monitor", "card1-DP-1"},
      {"display", "monitor", "card0-HDMI-A-2"},
      {"host", "qemu_binary", "qemu-kvm"},
      {"host", "shutdown_timeout", "1"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
    g_autofree char *text =
        g_strdup_printf("[%s]\n%s = %s\n", good[i].group, good[i].key, good[i].value);
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmVmConfig) c = load(text, &error);

    if (c == NULL)
      g_error("%s.%s = %s refused: %s", good[i].group, good[i].key, good[i].value, error->message);
  }
}

typedef struct {
  const char *group, *key, *value, *needle;
} BadValue;

static void
test_every_key_bad(void)
{
  static const BadValue bad[] = {
      {"gpu", "address", "01:00", "expected auto, or a PCI address like 0000:01:00.0"},
      {"gpu", "address", "GeForce", "PCI address"},
      {"gpu", "rom_file", "roms/x.rom", "absolute path"},
      {"gpu", "keep_bound", "maybe", "expected true or false"},
      {"gpu", "unbind_timeout", "0", "from 1 to 600"},
      {"gpu", "unbind_timeout", "10s", "from 1 to 600"},
      {"memory", "size", "lots", "expected a size like 16G (at least 4G), or auto"},
      {"memory", "size", "2G", "below the 4 GiB Windows 11 needs"},
      {"memory", "size", "-8G", "expected a size"},
      {"memory", "size", "4294967297", "whole number of MiB"},
      {"memory", "size", "99999999T", "expected a size"},
      {"memory", "hugepages", "4K", "expected auto, 2M, 1G or off"},
      {"memory", "hugepages_fallback", "2", "true or false"},
      {"memory", "looking_glass", "48M", "power-of-two"},
      {"memory", "looking_glass", "8M", "power-of-two"},
      {"memory", "looking_glass", "on", "off, auto"},
      {"cpu", "vcpus", "0", "from 1 to 255"},
      {"cpu", "vcpus", "256", "from 1 to 255"},
      {"cpu", "vcpus", "four", "from 1 to 255"},
      {"cpu", "threads_per_core", "4", "auto, 1 or 2"},
      {"cpu", "cpu_pinning", "7-2", "goes backwards"},
      {"cpu", "cpu_pinning", "1,1", "listed twice"},
      {"cpu", "cpu_pinning", "2-5,4", "listed twice"},
      {"cpu", "cpu_pinning", "99999", "out of range"},
      {"cpu", "cpu_pinning", "all", "auto, off, or host CPUs like 2-7,10-15"},
      {"cpu", "cpu_pinning", "1,,2", "host CPUs like"},
      {"cpu", "host_cores", "0", "from 1 to 256"},
      {"cpu", "hide_kvm", "hidden", "expected true or false"},
      {"cpu", "hv_vendor_id", "1234567890123",
       "13 characters: the Hyper-V vendor id holds at most 12"},
      {"cpu", "hv_vendor_id", "a,b", "other than a comma"},
      {"cpu", "hv_vendor_id", "caf\xc3\xa9", "only printable ASCII"},
      {"audio", "latency_ms", "4", "from 5 to 500"},
      {"audio", "latency_ms", "501", "from 5 to 500"},
      {"audio", "latency_ms", "20ms", "auto, or a number of milliseconds"},
      {"disk", "path", "disk.qcow2", "absolute path"},
      {"disk", "format", "vmdk", "expected qcow2 or raw"},
      {"disk", "size", "0", "at least 1M"},
      {"disk", "size", "1000", "at least 1M"},
      {"media", "installer_iso", "Win11.iso", "absolute path"},
      {"media", "virtio_iso", "./v.iso", "absolute path"},
      {"network", "mode", "nat", "expected user, bridge:NAME or none"},
      {"network", "mode", "bridge:", "not an interface name"},
      {"network", "mode", "bridge:br0/../x", "not an interface name"},
      {"network", "mode", "bridge:averyveryverylongname", "not an interface name"},
      {"network", "mac", "01:00:5e:00:00:01", "multicast"},
      {"network", "mac", "02:00:00:00:00", "unicast MAC"},
      {"network", "mac", "00:00:00:00:00:00", "unicast MAC"},
      {"network", "mac", "02-00-00-00-00-01", "unicast MAC"},
      {"audio", "backend", "oss", "auto, none, pipewire, pa or alsa"},
      {"security", "tpm", "1.2", "on or off"},
      {"security", "secure_boot", "maybe", "on or off"},
      {"security", "smbios", "on", "off or host"},
      {"firmware", "code", "OVMF_CODE.fd", "absolute path"},
      {"input", "inputs", "../../etc/passwd", "not a name from /dev/input/by-id"},
      {"pci", "extra", "zz", "'zz' is not a PCI address"},
      {"pci", "extra", "0000:04:00.0; 0000:05:00.0", "is not a PCI address"},
      {"pci", "extra", "04:00.0, 0000:04:00.0", "0000:04:00.0 is listed twice"},
      {"input", "inputs", "a,a", "listed twice"},
      {"input", "grab_toggle", "ctrl-alt", "ctrl-ctrl, alt-alt, shift-shift, meta-meta"},
      {"usb", "devices", "046d", "not a USB id VID:PID with 4 hex digits each"},
      {"usb", "devices", "46d:c52b", "4 hex digits each, like 046d:c52b"},
      {"usb", "devices", "046d:c52g", "not a USB id VID:PID"},
      {"usb", "devices", "046d:c52b;054c:0ce6", "separate several with commas"},
      {"usb", "devices", "046d:c52b,,054c:0ce6", "'' is not a USB id"},
      {"usb", "devices", "046d:c52b, 046D:C52B", "046d:c52b is listed twice; keep one"},
      {"usb", "devices", "0000:c52b", "match any device"},
      {"usb", "devices", "/dev/bus/usb/001/002", "not a USB id"},
      {"display", "monitor", "DELL", "an EDID identity MFG:PRODUCT:SERIAL"},
      {"display", "monitor", "DE1:1:2", "MFG:PRODUCT:SERIAL"},
      {"display", "monitor", "DEL:70000:1", "MFG:PRODUCT:SERIAL"},
      {"display", "monitor", "card1-", "card1-DP-1"},
      {"display", "host_input", "hdmi9", "dp1, dp2, hdmi1"},
      {"display", "guest_input", "0x100", "0x01-0xff"},
      {"display", "guest_input", "0", "0x01-0xff"},
      {"display", "monitors", "DEL:41234:12345 hdmi1",
       "entry 1 'DEL:41234:12345 hdmi1' has 2 words"},
      {"display", "monitors", "DEL:41234:12345 hdmi1 dp1;", "entry 2 is empty"},
      {"display", "monitors", "auto hdmi1 dp1", "entry 1: 'auto' is not a monitor"},
      {"display", "monitors", "DELL hdmi1 dp1", "MFG:PRODUCT:SERIAL"},
      {"display", "monitors", "card1-DP-2 hdmi1 hdmi9", "guest input 'hdmi9' of card1-DP-2"},
      {"display", "monitors", "card1-DP-2 hdmi1 dp1; card0-HDMI-A-1 dp1 dp1",
       "entry 2: card0-HDMI-A-1 has the same host and guest input"},
      {"display", "monitors", "del:41234:12345 hdmi1 dp1; DEL:41234:12345 dp2 hdmi2",
       "monitor DEL:41234:12345 is listed twice (entries 1 and 2)"},
      {"host", "shutdown_timeout", "3601", "from 1 to 3600"},
      {"host", "qemu_binary", "", "program name"},
      {"host", "qemu_binary", "bin/qemu", "program name"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree char *text =
        g_strdup_printf("[%s]\n%s = %s\n", bad[i].group, bad[i].key, bad[i].value);
    g_autofree char *where =
        g_strdup_printf("[%s] %s = '%s': ", bad[i].group, bad[i].key, bad[i].value);
    /* the file and the line in it */
    const char *needles[] = {"~/.config/vxm/vms/win11.conf: line 2: ", where, bad[i].needle, NULL};
    g_autofree char *home_before = g_strdup(g_getenv("HOME"));

    g_setenv("HOME", "/home/u", TRUE);
    assert_load_fails(text, needles);
    g_setenv("HOME", home_before, TRUE);
  }
}

static void
test_message_format(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmVmConfig) c = NULL;
  g_autofree char *home_before = g_strdup(g_getenv("HOME"));

  /* the exact form users see */
  g_setenv("HOME", "/home/u", TRUE);
  c = load("[memory]\nsize = lots\n", &error);
  g_setenv("HOME", home_before, TRUE);
  g_assert_null(c);
  g_assert_cmpstr(error->message, ==,
                  "~/.config/vxm/vms/win11.conf: line 2: [memory] size = 'lots': expected a size "
                  "like 16G (at least 4G), or auto");
}

/* [usb] devices: the ids in order; a bad one names the file's line; --set checks the same and
 * writes what round-trips; a refused --set changes nothing. */
static void
test_usb_devices(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmVmConfig) c =
      load("[cpu]\nvcpus = 2\n\n[usb]\ndevices = 054c:0CE6, 046d:c52b\n", &error);
  g_autoptr(VxmVmConfig) back = NULL;
  g_autoptr(VxmVmConfig) bad = NULL;
  g_autofree char *text = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *shown = NULL;

  g_assert_no_error(error);
  g_assert_cmpuint(c->usb_devices->len, ==, 2);
  g_assert_cmphex(g_array_index(c->usb_devices, guint32, 0), ==, 0x054c0ce6);
  g_assert_cmphex(g_array_index(c->usb_devices, guint32, 1), ==, 0x046dc52b);

  bad = load("[cpu]\nvcpus = 2\n\n[usb]\n# the pad\ndevices = 054c:0ce6, 054c:0ce6\n", &error);
  g_assert_null(bad);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_CONFIG);
  g_assert_nonnull(strstr(error->message, "win11.conf: line 6: [usb] devices = '054c:0ce6, "
                                          "054c:0ce6': 054c:0ce6 is listed twice; keep one"));
  g_clear_error(&error);

  before = vxm_vm_config_to_data(c, NULL);
  g_assert_false(vxm_vm_config_set(c, "usb.devices", "054c:0ce6,xbox", &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull(strstr(error->message, "'xbox' is not a USB id VID:PID"));
  g_clear_error(&error);
  after = vxm_vm_config_to_data(c, NULL);
  g_assert_cmpstr(after, ==, before);
  g_assert_cmpuint(c->usb_devices->len, ==, 2);

  g_assert_true(vxm_vm_config_set(c, "devices", "045e:0b12", &error));
  g_assert_no_error(error);
  shown = vxm_vm_config_get_text(c, "usb", "devices");
  g_assert_cmpstr(shown, ==, "045e:0b12");
  text = vxm_vm_config_to_data(c, NULL);
  back = load(text, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(back->usb_devices->len, ==, 1);
  g_assert_cmphex(g_array_index(back->usb_devices, guint32, 0), ==, 0x045e0b12);

  g_assert_true(vxm_vm_config_unset(c, "usb.devices", &error));
  g_assert_no_error(error);
  g_assert_cmpuint(c->usb_devices->len, ==, 0);
}

static void
test_did_you_mean(void)
{
  const char *typo[] = {"[cpu] unknown key 'vcpu'", "did you mean 'vcpus'?", NULL};
  const char *wrong_group[] = {"[memory] unknown key 'vcpus'", "it belongs in [cpu]", NULL};
  const char *group_typo[] = {"unknown group [memroy]", "did you mean [memory]?", NULL};
  const char *far[] = {"[cpu] unknown key 'frobnicate'", NULL};
  const char *other_group[] = {"[cpu] unknown key 'hugepage'",
                               "did you mean 'hugepages' in [memory]", NULL};
  const char *unknown_group[] = {"unknown group [qemu]", NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmVmConfig) c = load("[cpu]\nfrobnicate = 1\n", &error);

  assert_load_fails("[cpu]\nvcpu = 4\n", typo);
  assert_load_fails("[memory]\nvcpus = 4\n", wrong_group);
  assert_load_fails("[memroy]\nsize = 8G\n", group_typo);
  assert_load_fails("[cpu]\nfrobnicate = 1\n", far);
  assert_load_fails("[cpu]\nhugepage = 1G\n", other_group);
  assert_load_fails("[qemu]\nbinary = x\n", unknown_group);
  /* no suggestion when nothing is close */
  g_assert_null(strstr(error->message, "did you mean"));
}

static void
test_syntax_errors(void)
{
  const char *dup_key[] = {"line 3: [memory] size is set twice (first on line 2)", NULL};
  const char *dup_group[] = {"line 3: group [cpu] appears twice (first on line 1)", NULL};
  const char *utf8[] = {"line 2: not valid UTF-8", NULL};
  const char *before[] = {"line 1: key 'size' comes before any [group]", NULL};
  const char *no_eq[] = {"win11.conf: ", NULL};
  const char *locale[] = {"translated keys are not supported", NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmVmConfig) c = NULL;

  assert_load_fails("[memory]\nsize = 8G\nsize=16G\n", dup_key);
  assert_load_fails("[cpu]\nvcpus=2\n[cpu]\nhost_cores=1\n", dup_group);
  assert_load_fails("[memory]\n# caf\xc3\x28\nsize=8G\n", utf8);
  assert_load_fails("size = 8G\n[memory]\n", before);
  assert_load_fails("[memory]\njust words\n", no_eq);
  assert_load_fails("[memory]\nsize[de] = 8G\n", locale);

  /* a NUL inside the buffer */
  c = vxm_vm_config_load_data("x", "/x.conf", "[cpu]\n\0vcpus=1\n", 16, &error);
  g_assert_null(c);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_CONFIG);
  g_assert_nonnull(strstr(error->message, "line 2: contains a NUL byte"));
}

static void
test_consistency(void)
{
  const char *fw[] = {"[firmware] code and vars_template go together", NULL};
  const char *desc[] = {"[firmware] descriptor is set without code", NULL};
  const char *odd[] = {"[cpu] vcpus = 3 cannot be split", NULL};
  const char *pin[] = {"cpu_pinning lists 2 host CPUs but vcpus = 4", NULL};
  const char *half[] = {"host_input and guest_input go together", NULL};
  const char *same[] = {"are the same input", NULL};
  const char *gpu_fn[] = {"[pci] extra lists 0000:01:00.1, a function of the guest GPU",
                          "remove it from extra", NULL};

  assert_load_fails("[firmware]\ncode=/a\n", fw);
  assert_load_fails("[firmware]\ndescriptor=x.json\n", desc);
  assert_load_fails("[cpu]\nvcpus=3\nthreads_per_core=2\n", odd);
  assert_load_fails("[cpu]\nvcpus=4\ncpu_pinning=2-3\n", pin);
  assert_load_fails("[display]\nhost_input=dp1\n", half);
  assert_load_fails("[display]\nhost_input=hdmi1\nguest_input=0x11\n", same);
  assert_load_fails("[gpu]\naddress=01:00.0\n[pci]\nextra=0000:04:00.0,1:0.1\n", gpu_fn);
  {
    const char *both[] = {"[display] monitors lists every monitor to switch, and monitor, "
                          "host_input, guest_input are the one-monitor form",
                          "vxm config --unset display.monitor --unset display.host_input "
                          "--unset display.guest_input",
                          NULL};
    const char *one[] = {"and monitor is the one-monitor form", NULL};

    assert_load_fails("[display]\nmonitor=card1-DP-1\nhost_input=hdmi1\nguest_input=dp1\n"
                      "monitors=card1-DP-2 dp1 hdmi2\n",
                      both);
    assert_load_fails("[display]\nmonitor=off\nmonitors=card1-DP-2 dp1 hdmi2\n", one);
  }
}

/* [pci] extra: any address form, normalised, in order; empty is none. */
static void
test_pci_extra(void)
{
  g_autoptr(VxmVmConfig) c =
      load_ok("[gpu]\naddress=01:00.0\n[pci]\nextra = 4:0.0, 0000:05:00.0\n");
  g_autoptr(VxmVmConfig) empty = load_ok("[pci]\nextra =\n");
  g_autoptr(VxmVmConfig) none = load_ok("");

  g_assert_nonnull(c->pci_extra);
  g_assert_cmpuint(g_strv_length(c->pci_extra), ==, 2);
  g_assert_cmpstr(c->pci_extra[0], ==, "0000:04:00.0");
  g_assert_cmpstr(c->pci_extra[1], ==, "0000:05:00.0");
  g_assert_null(empty->pci_extra);
  g_assert_null(none->pci_extra);
}

/* [display] monitors: every monitor with its own inputs; the one-monitor form as a list of one */
static void
test_monitors(void)
{
  g_autoptr(VxmVmConfig) c =
      load_ok("[display]\nmonitor = auto\nhost_input =\n"
              "monitors = del:41234:12345 hdmi1 dp1;  card1-DP-2\tdp1 0x12 ; AOC:9232:4711 dp2 "
              "hdmi1\n");
  g_autoptr(VxmVmConfig) single =
      load_ok("[display]\nmonitor = card1-DP-1\nhost_input = hdmi2\nguest_input = dp1\n");
  g_autoptr(VxmVmConfig) none = load_ok("[display]\nmonitor = off\n");
  g_autoptr(GPtrArray) list = vxm_vm_config_monitor_switches(c);
  g_autoptr(GPtrArray) one = vxm_vm_config_monitor_switches(single);
  g_autoptr(GPtrArray) empty = vxm_vm_config_monitor_switches(none);
  const VxmVmMonitorSwitch *sw;

  g_assert_cmpuint(list->len, ==, 3);
  sw = g_ptr_array_index(list, 0);
  g_assert_cmpstr(sw->spec, ==, "DEL:41234:12345");
  g_assert_cmpuint(sw->host_input, ==, 0x11);
  g_assert_cmpuint(sw->guest_input, ==, 0x0f);
  sw = g_ptr_array_index(list, 1);
  g_assert_cmpstr(sw->spec, ==, "card1-DP-2");
  g_assert_cmpuint(sw->host_input, ==, 0x0f);
  g_assert_cmpuint(sw->guest_input, ==, 0x12);
  sw = g_ptr_array_index(list, 2);
  g_assert_cmpstr(sw->spec, ==, "AOC:9232:4711");
  g_assert_cmpuint(sw->host_input, ==, 0x10);
  g_assert_cmpuint(sw->guest_input, ==, 0x11);
  g_assert_cmpuint(one->len, ==, 1);
  sw = g_ptr_array_index(one, 0);
  g_assert_cmpstr(sw->spec, ==, "card1-DP-1");
  g_assert_cmpuint(sw->host_input, ==, 0x12);
  g_assert_cmpuint(empty->len, ==, 0);

  /* set and unset through the editor: the one-monitor form goes in the same edit */
  {
    const char *keys[] = {"display.monitors", "monitor", "host_input", "guest_input", NULL};
    const char *values[] = {"DEL:41234:12345 hdmi1 dp1; card1-DP-2 dp1 hdmi2", NULL, NULL, NULL,
                            NULL};
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    g_autofree char *shown = NULL;

    g_assert_false(vxm_vm_config_set(single, "monitors", "card1-DP-2 dp1 hdmi2", &error));
    g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(error->message, "keep one form"));
    g_assert_cmpuint(single->monitors == NULL ? 0 : single->monitors->len, ==, 0);
    g_clear_error(&error);
    g_assert_true(vxm_vm_config_set_many(single, keys, values, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(single->monitors->len, ==, 2);
    text = vxm_vm_config_to_data(single, NULL);
    g_assert_nonnull(strstr(text, "monitors = DEL:41234:12345 hdmi1 dp1; card1-DP-2 dp1 hdmi2\n"));
    g_assert_null(strstr(text, "host_input"));
    shown = vxm_vm_config_get_text(single, "display", "monitors");
    g_assert_cmpstr(shown, ==, "DEL:41234:12345 hdmi1 dp1; card1-DP-2 dp1 hdmi2");
  }
}

static void
test_files(void)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *missing = g_build_filename(dir, "nope.conf", NULL);
  g_autofree char *folder = g_build_filename(dir, "folder.conf", NULL);
  g_autofree char *fifo = g_build_filename(dir, "fifo.conf", NULL);
  g_autofree char *good = g_build_filename(dir, "good.conf", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmVmConfig) c = NULL;

  c = vxm_vm_config_load_file("nope", missing, &error);
  g_assert_null(c);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "no VM nope"));
  g_assert_nonnull(strstr(error->message, "vxm init nope"));
  g_clear_error(&error);

  g_assert_cmpint(mkdir(folder, 0755), ==, 0);
  c = vxm_vm_config_load_file("folder", folder, &error);
  g_assert_null(c);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_CONFIG);
  g_assert_nonnull(strstr(error->message, "is a folder"));
  g_assert_nonnull(strstr(error->message, folder));
  g_clear_error(&error);

  g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
  c = vxm_vm_config_load_file("fifo", fifo, &error);
  g_assert_null(c);
  g_assert_nonnull(strstr(error->message, "not a regular text file"));
  g_clear_error(&error);

  if (geteuid() != 0) {
    g_autofree char *locked = g_build_filename(dir, "locked.conf", NULL);
    vxm_test_write_file(dir, "locked.conf", "[cpu]\n");
    g_assert_cmpint(chmod(locked, 0), ==, 0);
    c = vxm_vm_config_load_file("locked", locked, &error);
    g_assert_null(c);
    g_assert_error(error, VXM_ERROR, VXM_ERROR_PERMISSION);
    g_assert_nonnull(strstr(error->message, "cannot open"));
    g_clear_error(&error);
  }

  vxm_test_write_file(dir, "good.conf", "[memory]\nsize = 8G\n");
  c = vxm_vm_config_load_file("good", good, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(c->memory_bytes, ==, 8 * GIB);
  g_assert_cmpstr(c->path, ==, good);
  vxm_test_rm_rf(dir);
}

static const char *const commented = "# Windows 11 for games\n"
                                     "\n"
                                     "[memory]\n"
                                     "# leave room for the browser\n"
                                     "size   =   12G\n"
                                     "hugepages=2M\n"
                                     "\n"
                                     "[cpu]\n"
                                     "vcpus = 4  \n"
                                     "# end of cpu\n"
                                     "\n"
                                     "# trailing remark\n";

static void
test_set_keeps_comments(void)
{
  g_autoptr(VxmVmConfig) c = load_ok(commented);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  /* replace a value: only that value changes, spacing kept */
  g_assert_true(vxm_vm_config_set(c, "memory.size", "16G", &error));
  g_assert_no_error(error);
  g_assert_cmpuint(c->memory_bytes, ==, 16 * GIB);
  text = vxm_vm_config_to_data(c, NULL);
  g_assert_cmpstr(text, ==,
                  "# Windows 11 for games\n\n[memory]\n# leave room for the browser\n"
                  "size   =   16G\nhugepages=2M\n\n[cpu]\nvcpus = 4  \n# end of cpu\n\n"
                  "# trailing remark\n");
  g_clear_pointer(&text, g_free);

  /* a bare key that only one group has; a new key goes after its group's last key */
  g_assert_true(vxm_vm_config_set(c, "host_cores", "2", &error));
  g_assert_no_error(error);
  g_assert_cmpuint(c->host_cores, ==, 2);
  text = vxm_vm_config_to_data(c, NULL);
  g_assert_nonnull(strstr(text, "[cpu]\nvcpus = 4  \nhost_cores = 2\n# end of cpu\n"));
  g_clear_pointer(&text, g_free);

  /* a group the file does not have yet is appended */
  g_assert_true(vxm_vm_config_set(c, "gpu.address", "01:00.0", &error));
  g_assert_no_error(error);
  g_assert_cmpstr(c->gpu, ==, "0000:01:00.0");
  text = vxm_vm_config_to_data(c, NULL);
  g_assert_true(g_str_has_prefix(text, "# Windows 11 for games\n"));
  g_assert_true(g_str_has_suffix(text, "# trailing remark\n\n[gpu]\naddress = 01:00.0\n"));
  g_clear_pointer(&text, g_free);

  /* unset: the line goes, the default returns, comments stay */
  g_assert_true(vxm_vm_config_unset(c, "memory.hugepages", &error));
  g_assert_no_error(error);
  g_assert_cmpint(c->hugepages, ==, VXM_VM_HUGEPAGES_AUTO);
  text = vxm_vm_config_to_data(c, NULL);
  g_assert_nonnull(strstr(text, "# leave room for the browser\nsize   =   16G\n\n[cpu]"));
  g_clear_pointer(&text, g_free);

  /* a value with a leading space or a backslash reads back the same */
  g_assert_true(vxm_vm_config_set(c, "disk.path", "/srv/a\\b", &error));
  g_assert_no_error(error);
  g_assert_cmpstr(c->disk_path, ==, "/srv/a\\b");
}

static void
test_set_refusals(void)
{
  g_autoptr(VxmVmConfig) c = load_ok(commented);
  g_autoptr(GError) error = NULL;
  g_autofree char *before = vxm_vm_config_to_data(c, NULL);
  g_autofree char *after = NULL;

  /* a bad value is the command line's fault, not the file's: no file name in the message */
  g_assert_false(vxm_vm_config_set(c, "memory.size", "lots", &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
  g_assert_true(g_str_has_prefix(error->message, "[memory] size = 'lots': expected a size"));
  g_clear_error(&error);
  g_assert_cmpuint(c->memory_bytes, ==, 12 * GIB);

  g_assert_false(vxm_vm_config_set(c, "size", "16G", &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull(strstr(error->message, "memory.size or disk.size"));
  g_clear_error(&error);

  g_assert_false(vxm_vm_config_set(c, "vcpu", "2", &error));
  g_assert_nonnull(strstr(error->message, "did you mean 'cpu.vcpus'?"));
  g_clear_error(&error);

  g_assert_false(vxm_vm_config_set(c, "cpu.vcpu", "2", &error));
  g_assert_nonnull(strstr(error->message, "did you mean 'vcpus'?"));
  g_clear_error(&error);

  g_assert_false(vxm_vm_config_set(c, "memroy.size", "8G", &error));
  g_assert_nonnull(strstr(error->message, "did you mean [memory]?"));
  g_clear_error(&error);

  g_assert_false(vxm_vm_config_set(c, "disk.path", "/a\nb", &error));
  g_assert_nonnull(strstr(error->message, "control character"));
  g_clear_error(&error);

  /* a value that breaks a cross-key rule is refused too */
  g_assert_false(vxm_vm_config_set(c, "cpu.threads_per_core", "2", &error) &&
                 vxm_vm_config_set(c, "cpu.vcpus", "3", &error));
  g_clear_error(&error);

  after = vxm_vm_config_to_data(c, NULL);
  g_assert_true(g_str_has_prefix(after, "# Windows 11 for games\n"));
  g_assert_nonnull(strstr(after, "size   =   12G\n"));
  g_assert_null(strstr(after, "vcpus = 3"));
}

/* What vxm config --show prints loads back: a '#' after a space is a comment; a line GKeyFile
 * would refuse without saying where is named by its number. */
static void
test_inline_comments(void)
{
  g_autoptr(VxmVmConfig) c =
      load_ok("[memory]\nsize = 16G  # default\n[cpu]\nvcpus = auto  # 8 of the host's 12\n"
              "[disk]\npath = /srv/vm#1.qcow2\n");
  g_autoptr(GError) error = NULL;
  static const char *const no_pair[] = {"line 3: 'vcpus 4' is neither KEY = VALUE", NULL};
  static const char *const open_group[] = {"line 1: '[memory' is neither", NULL};

  g_assert_cmpuint(c->memory_bytes, ==, 16 * GIB);
  g_assert_cmpuint(c->vcpus, ==, 0);
  g_assert_cmpstr(c->disk_path, ==, "/srv/vm#1.qcow2"); /* no space before it: not a comment */
  assert_load_fails("[memory]\nsize = 8G\nvcpus 4\n", no_pair);
  assert_load_fails("[memory\nsize = 8G\n", open_group);
  /* and a value that would read back cut is refused when set */
  g_assert_false(vxm_vm_config_set(c, "disk.path", "/srv/a #1", &error));
  g_assert_nonnull(strstr(error->message, "starts a comment"));
}

/* Keys that go in pairs are set by one call and checked once, as virsh edit checks the
 * whole document: each alone would break the pair rule. */
static void
test_set_many_pairs(void)
{
  g_autoptr(VxmVmConfig) c = load_ok(commented);
  g_autoptr(GError) error = NULL;
  const char *keys[] = {"host_input", "display.guest_input", NULL};
  const char *values[] = {"hdmi1", "dp1", NULL};
  const char *same[] = {"hdmi1", "hdmi1", NULL};

  g_assert_true(vxm_vm_config_set_many(c, keys, values, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(c->host_input, ==, 0x11);
  g_assert_cmpuint(c->guest_input, ==, 0x0f);

  /* the result is still checked: both the same input is refused and nothing changes */
  g_assert_false(vxm_vm_config_set_many(c, keys, same, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull(strstr(error->message, "are the same input"));
  g_assert_cmpuint(c->guest_input, ==, 0x0f);
}

static void
test_save_atomic(void)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *path = g_build_filename(dir, "win11.conf", NULL);
  g_autoptr(VxmVmConfig) c = NULL;
  g_autoptr(VxmVmConfig) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *on_disk = NULL;
  g_autoptr(GDir) d = NULL;
  struct stat st;
  guint entries = 0;

  vxm_test_write_file(dir, "win11.conf", commented);
  c = vxm_vm_config_load_file("win11", path, &error);
  g_assert_no_error(error);
  g_assert_true(vxm_vm_config_set(c, "cpu.vcpus", "6", &error));
  g_assert_true(vxm_vm_config_save(c, NULL, &error));
  g_assert_no_error(error);

  g_assert_true(g_file_get_contents(path, &on_disk, NULL, NULL));
  g_assert_nonnull(strstr(on_disk, "# leave room for the browser\n"));
  g_assert_nonnull(strstr(on_disk, "vcpus = 6\n"));
  g_assert_cmpint(stat(path, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);
  /* no temporary file is left beside it */
  d = g_dir_open(dir, 0, NULL);
  while (g_dir_read_name(d) != NULL)
    entries++;
  g_assert_cmpuint(entries, ==, 1);

  again = vxm_vm_config_load_file("win11", path, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(again->vcpus, ==, 6);
  g_assert_cmpuint(again->memory_bytes, ==, 12 * GIB);

  /* a folder in the way: the error names the file and nothing is half-written */
  {
    g_autofree char *blocked = g_build_filename(dir, "sub", "x.conf", NULL);
    g_assert_false(vxm_vm_config_save(c, blocked, &error));
    g_assert_nonnull(strstr(error->message, "cannot write"));
    g_assert_nonnull(strstr(error->message, "x.conf"));
  }
  vxm_test_rm_rf(dir);
}

/* ---- resolution ---------------------------------------------------------------------------- */

static char *
host_tree(guint64 mem_kib, const char *online, const char *siblings)
{
  char *root = vxm_test_mkdtemp();
  g_autofree char *meminfo = g_strdup_printf("MemTotal:       %" G_GUINT64_FORMAT " kB\n"
                                             "MemFree:         1000 kB\n",
                                             mem_kib);

  vxm_test_write_file(root, "proc/meminfo", meminfo);
  if (online != NULL)
    vxm_test_write_file(root, "sys/devices/system/cpu/online", online);
  if (siblings != NULL)
    vxm_test_write_file(root, "sys/devices/system/cpu/cpu0/topology/thread_siblings_list",
                        siblings);
  return root;
}

static void
resolve_on(const char *config_text, guint64 mem_gib, const char *online, const char *siblings,
           VxmVmConfig **out, GError **error)
{
  g_autofree char *root = host_tree(mem_gib * 1024 * 1024, online, siblings);
  g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
  g_autoptr(VxmVmPaths) paths = vxm_vm_paths_new("win11", NULL);
  g_autoptr(VxmVmConfig) c = load_ok(config_text);

  if (vxm_vm_config_resolve(c, fs, paths, error))
    *out = g_steal_pointer(&c);
  vxm_test_rm_rf(root);
}

static void
test_resolve_memory(void)
{
  static const struct {
    guint64 host_gib, expect_gib;
  } cases[] = {{64, 16}, {32, 16}, {23, 11}, {12, 6}, {8, 4}, {6, 4}};
  g_autoptr(GError) error = NULL;
  VxmVmConfig *c = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    resolve_on("", cases[i].host_gib, "0-3", NULL, &c, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(c->resolved.memory_bytes, ==, cases[i].expect_gib * GIB);
    g_assert_cmpuint(c->resolved.host_memory, ==, cases[i].host_gib * GIB);
    /* the configured value stays auto */
    g_assert_cmpuint(c->memory_bytes, ==, 0);
    g_clear_pointer(&c, vxm_vm_config_free);
  }

  /* a host too small for 4 GiB plus its own 2 GiB */
  resolve_on("", 5, "0-3", NULL, &c, &error);
  g_assert_null(c);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_REFUSED);
  g_assert_nonnull(strstr(error->message, "needs 4 GiB"));
  g_clear_error(&error);

  /* an explicit size above the host's RAM */
  resolve_on("[memory]\nsize=64G\n", 32, "0-3", NULL, &c, &error);
  g_assert_null(c);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_CONFIG);
  g_assert_nonnull(strstr(error->message, "more than the host's 32 GiB"));
  g_clear_error(&error);

  resolve_on("[memory]\nsize=20G\n", 32, "0-3", NULL, &c, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(c->resolved.memory_bytes, ==, 20 * GIB);
  g_clear_pointer(&c, vxm_vm_config_free);

  /* meminfo without MemTotal names the host file */
  {
    g_autofree char *root = vxm_test_mkdtemp();
    g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
    g_autoptr(VxmVmConfig) cfg = load_ok("");

    vxm_test_write_file(root, "proc/meminfo", "MemFree: 3 kB\n");
    g_assert_false(vxm_vm_config_resolve(cfg, fs, NULL, &error));
    g_assert_nonnull(strstr(error->message, "/proc/meminfo has no MemTotal"));
    vxm_test_rm_rf(root);
  }
}

static void
test_resolve_cpus(void)
{
  g_autoptr(GError) error = NULL;
  VxmVmConfig *c = NULL;

  /* 6 cores with SMT: one core for the host, 10 vCPUs in 5 cores of 2 threads */
  resolve_on("", 32, "0-11", "0,6", &c, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(c->resolved.host_cpus, ==, 12);
  g_assert_cmpuint(c->resolved.vcpus, ==, 10);
  g_assert_cmpuint(c->resolved.threads_per_core, ==, 2);
  g_assert_cmpuint(c->vcpus, ==, 0);
  g_clear_pointer(&c, vxm_vm_config_free);

  /* no SMT, two cores for the host */
  resolve_on("[cpu]\nhost_cores=2\n", 32, "0-7", "0", &c, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(c->resolved.vcpus, ==, 6);
  g_assert_cmpuint(c->resolved.threads_per_core, ==, 1);
  g_clear_pointer(&c, vxm_vm_config_free);

  /* a 2-CPU machine like this one still gets one vCPU */
  resolve_on("", 32, "0-1", "0", &c, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(c->resolved.vcpus, ==, 1);
  g_clear_pointer(&c, vxm_vm_config_free);

  /* explicit vcpus odd on an SMT host: threads fall back to 1 */
  resolve_on("[cpu]\nvcpus=5\n", 32, "0-11", "0,6", &c, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(c->resolved.vcpus, ==, 5);
  g_assert_cmpuint(c->resolved.threads_per_core, ==, 1);
  g_clear_pointer(&c, vxm_vm_config_free);

  /* a pinning list sizes the guest */
  resolve_on("[cpu]\ncpu_pinning=2-5,8-11\n", 32, "0-11", "0,6", &c, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(c->resolved.vcpus, ==, 8);
  g_clear_pointer(&c, vxm_vm_config_free);

  /* sysfs missing: /proc/cpuinfo counts */
  {
    g_autofree char *root = host_tree(32 * 1024 * 1024, NULL, NULL);
    g_autoptr(VxmHostfs) fs = vxm_hostfs_new(root);
    g_autoptr(VxmVmConfig) cfg = load_ok("");

    vxm_test_write_file(root, "proc/cpuinfo",
                        "processor\t: 0\n\nprocessor\t: 1\n\n"
                        "processor\t: 2\n\nprocessor\t: 3\n");
    g_assert_true(vxm_vm_config_resolve(cfg, fs, NULL, &error));
    g_assert_cmpuint(cfg->resolved.host_cpus, ==, 4);
    g_assert_cmpuint(cfg->resolved.vcpus, ==, 3);
    vxm_test_rm_rf(root);
  }

  /* nothing to count from: the error says what to set */
  resolve_on("", 32, NULL, NULL, &c, &error);
  g_assert_null(c);
  g_assert_nonnull(strstr(error->message, "set [cpu] vcpus"));
  g_clear_error(&error);
  resolve_on("[cpu]\nvcpus=2\n", 32, NULL, NULL, &c, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(c->resolved.vcpus, ==, 2);
  g_clear_pointer(&c, vxm_vm_config_free);
}

static void
test_resolve_paths(void)
{
  g_autoptr(GError) error = NULL;
  VxmVmConfig *c = NULL;

  resolve_on("", 32, "0-3", NULL, &c, &error);
  g_assert_no_error(error);
  g_assert_true(g_str_has_suffix(c->resolved.disk_path, "/vxm/win11/disk.qcow2"));
  g_assert_null(c->disk_path);
  g_assert_nonnull(c->resolved.qemu_binary);
  g_assert_true(g_path_is_absolute(c->resolved.qemu_binary));
  g_clear_pointer(&c, vxm_vm_config_free);

  resolve_on("[disk]\nformat=raw\n[host]\nqemu_binary=no-such-qemu\n", 32, "0-3", NULL, &c, &error);
  g_assert_no_error(error);
  g_assert_true(g_str_has_suffix(c->resolved.disk_path, "/vxm/win11/disk.img"));
  g_assert_null(c->resolved.qemu_binary);
  g_clear_pointer(&c, vxm_vm_config_free);
}

/* ---- names, paths, MACs -------------------------------------------------------------------- */

static void
test_names(void)
{
  static const char *const good[] = {
      "default", "win11", "a", "Gaming_VM-2",
      "0123456789012345678901234567890123456789012345678901234567890123"};
  static const struct {
    const char *name, *needle;
  } bad[] = {
      {"", "cannot be empty"},
      {"../etc", "contains '.'"},
      {"a/b", "contains '/'"},
      {"win.11", "contains '.'"},
      {"my vm", "other than letters"},
      {"wïn", "other than letters"},
      {"01234567890123456789012345678901234567890123456789012345678901234", "at most 64"},
  };
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
    g_assert_true(vxm_vm_name_validate(good[i], -1, &error));
    g_assert_no_error(error);
  }
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_assert_false(vxm_vm_name_validate(bad[i].name, -1, &error));
    g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
    if (strstr(error->message, bad[i].needle) == NULL)
      g_error("'%s': message '%s' lacks '%s'", bad[i].name, error->message, bad[i].needle);
    g_clear_error(&error);
  }
  g_assert_false(vxm_vm_name_validate("win\0evil", 8, &error));
  g_assert_nonnull(strstr(error->message, "NUL"));
  g_clear_error(&error);

  /* paths refuse a bad name too */
  g_assert_null(vxm_vm_paths_new("../../x", &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
}

static void
test_paths(void)
{
  g_autoptr(VxmVmPaths) p = NULL;
  g_autoptr(VxmVmPaths) fb = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = vxm_test_mkdtemp();
  g_autofree char *fallback = NULL;
  struct stat st;

  g_setenv("XDG_CONFIG_HOME", "/c", TRUE);
  g_setenv("XDG_DATA_HOME", "/d", TRUE);
  g_setenv("XDG_STATE_HOME", "/s", TRUE);
  g_setenv("XDG_RUNTIME_DIR", tmp, TRUE);
  p = vxm_vm_paths_new(NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(p->name, ==, "default");
  g_assert_cmpstr(p->config_file, ==, "/c/vxm/vms/default.conf");
  g_assert_cmpstr(p->data_dir, ==, "/d/vxm/default");
  g_assert_cmpstr(p->efi_vars, ==, "/d/vxm/default/efivars.fd");
  g_assert_cmpstr(p->tpm_dir, ==, "/d/vxm/default/tpm");
  g_assert_cmpstr(p->disk_qcow2, ==, "/d/vxm/default/disk.qcow2");
  g_assert_cmpstr(p->state_dir, ==, "/s/vxm/default");
  g_assert_cmpstr(p->qemu_log, ==, "/s/vxm/default/qemu.log");
  g_assert_false(p->runtime_is_fallback);
  g_assert_true(g_str_has_prefix(p->qmp_socket, tmp));
  g_assert_true(g_str_has_suffix(p->lock_file, "/vxm/default/lock"));

  g_assert_true(vxm_vm_paths_ensure_runtime_dir(p, &error));
  g_assert_no_error(error);
  g_assert_cmpint(stat(p->runtime_dir, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0700);

  /* relative XDG values are ignored, as the spec says */
  g_setenv("XDG_CONFIG_HOME", "relative", TRUE);
  g_setenv("HOME", "/home/u", TRUE);
  g_unsetenv("XDG_RUNTIME_DIR");
  fb = vxm_vm_paths_new("win11", &error);
  g_assert_cmpstr(fb->config_file, ==, "/home/u/.config/vxm/vms/win11.conf");
  g_assert_true(fb->runtime_is_fallback);
  fallback = g_strdup_printf("%s/vxm-%u/win11", g_get_tmp_dir(), (guint)getuid());
  g_assert_cmpstr(fb->runtime_dir, ==, fallback);
  g_setenv("HOME", g_get_home_dir(), TRUE);
  vxm_test_rm_rf(tmp);
}

static void
test_runtime_fallback_refuses_planted(void)
{
  g_autofree char *tmp = vxm_test_mkdtemp();
  g_autofree char *victim = g_build_filename(tmp, "victim", NULL);
  g_autoptr(GError) error = NULL;
  VxmVmPaths p = {0};

  /* someone planted the fallback folder as a symlink to theirs */
  p.runtime_is_fallback = TRUE;
  p.runtime_base = g_build_filename(tmp, "vxm-1000", NULL);
  p.runtime_dir = g_build_filename(p.runtime_base, "win11", NULL);
  g_assert_cmpint(mkdir(victim, 0700), ==, 0);
  g_assert_cmpint(symlink(victim, p.runtime_base), ==, 0);
  g_assert_false(vxm_vm_paths_ensure_runtime_dir(&p, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_REFUSED);
  g_assert_nonnull(strstr(error->message, "not a folder"));
  g_clear_error(&error);
  g_assert_false(g_file_test(p.runtime_dir, G_FILE_TEST_EXISTS));

  /* a folder open to others is refused */
  g_assert_cmpint(unlink(p.runtime_base), ==, 0);
  g_assert_cmpint(mkdir(p.runtime_base, 0777), ==, 0);
  g_assert_cmpint(chmod(p.runtime_base, 0777), ==, 0);
  g_assert_false(vxm_vm_paths_ensure_runtime_dir(&p, &error));
  g_assert_nonnull(strstr(error->message, "open to other users"));
  g_clear_error(&error);

  /* a private one is used */
  g_assert_cmpint(chmod(p.runtime_base, 0700), ==, 0);
  g_assert_true(vxm_vm_paths_ensure_runtime_dir(&p, &error));
  g_assert_no_error(error);
  g_free(p.runtime_base);
  g_free(p.runtime_dir);
  vxm_test_rm_rf(tmp);
}

static void
test_mac(void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < 64; i++) {
    char *mac = vxm_vm_config_generate_mac();
    g_autofree char *text = g_strdup_printf("[network]\nmac=%s\n", mac);
    g_autoptr(VxmVmConfig) c = load_ok(text);
    guint first = (guint)g_ascii_strtoull(mac, NULL, 16);

    g_assert_cmpuint(strlen(mac), ==, 17);
    g_assert_cmpuint(first & 0x02, ==, 0x02); /* locally administered */
    g_assert_cmpuint(first & 0x01, ==, 0);    /* unicast */
    g_assert_cmpstr(c->mac, ==, mac);
    g_hash_table_add(seen, mac);
  }
  g_assert_cmpuint(g_hash_table_size(seen), >, 60);
}

static void
test_monitor_inputs(void)
{
  static const struct {
    const char *name;
    guint value;
  } known[] = {{"dp1", 0x0f},  {"dp2", 0x10},  {"hdmi1", 0x11}, {"hdmi2", 0x12},
               {"dvi1", 0x03}, {"dvi2", 0x04}, {"vga1", 0x01}};
  guint v = 0;

  for (gsize i = 0; i < G_N_ELEMENTS(known); i++) {
    g_autofree char *back = vxm_vm_monitor_input_to_string(known[i].value);
    g_assert_true(vxm_vm_monitor_input_parse(known[i].name, &v));
    g_assert_cmpuint(v, ==, known[i].value);
    g_assert_cmpstr(back, ==, known[i].name);
  }
  g_assert_true(vxm_vm_monitor_input_parse("0x1b", &v));
  g_assert_cmpuint(v, ==, 0x1b);
  {
    g_autofree char *s = vxm_vm_monitor_input_to_string(0x1b);
    g_assert_cmpstr(s, ==, "0x1b");
  }
  g_assert_false(vxm_vm_monitor_input_parse("hdmi", &v));
  g_assert_null(vxm_vm_monitor_input_to_string(0));
}

static void
test_key_table(void)
{
  const VxmVmConfigKey *keys = vxm_vm_config_keys();
  guint n = 0;

  /* every default in the table is accepted by its own key */
  for (; keys[n].group != NULL; n++) {
    g_autofree char *text =
        g_strdup_printf("[%s]\n%s = %s\n", keys[n].group, keys[n].key, keys[n].default_value);
    g_autoptr(VxmVmConfig) c = load_ok(text);
    g_autofree char *shown = vxm_vm_config_get_text(c, keys[n].group, keys[n].key);

    g_assert_cmpstr(shown, ==, keys[n].default_value);
    g_assert_nonnull(keys[n].allowed);
    g_assert_nonnull(keys[n].summary);
  }
  g_assert_cmpuint(n, >=, 30);
}

/* data/vm.conf.example loads, and documents every key at its default; the docs table too */
static void
test_example_and_docs(void)
{
  g_autofree char *example_path = vxm_test_source_path("data/vm.conf.example");
  g_autofree char *docs_path = vxm_test_source_path("docs/vm-config.md");
  g_autofree char *docs = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmVmConfig) c = vxm_vm_config_load_file("example", example_path, &error);
  const VxmVmConfigKey *keys = vxm_vm_config_keys();

  g_assert_no_error(error);
  g_assert_true(g_file_get_contents(docs_path, &docs, NULL, NULL));
  for (gsize i = 0; keys[i].group != NULL; i++) {
    g_autofree char *value = NULL;
    g_autofree char *row = g_strdup_printf("| `[%s] %s` |", keys[i].group, keys[i].key);

    if (!g_key_file_has_key(c->keyfile, keys[i].group, keys[i].key, NULL))
      g_error("vm.conf.example lacks [%s] %s", keys[i].group, keys[i].key);
    value = vxm_vm_config_get_text(c, keys[i].group, keys[i].key);
    g_assert_cmpstr(value, ==, keys[i].default_value);
    if (strstr(docs, row) == NULL)
      g_error("docs/vm-config.md lacks a row for [%s] %s", keys[i].group, keys[i].key);
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/vm/config/defaults", test_defaults);
  g_test_add_func("/vxm/vm/config/every-key-good", test_every_key_good);
  g_test_add_func("/vxm/vm/config/more-good-values", test_more_good_values);
  g_test_add_func("/vxm/vm/config/every-key-bad", test_every_key_bad);
  g_test_add_func("/vxm/vm/config/message-format", test_message_format);
  g_test_add_func("/vxm/vm/config/did-you-mean", test_did_you_mean);
  g_test_add_func("/vxm/vm/config/syntax-errors", test_syntax_errors);
  g_test_add_func("/vxm/vm/config/consistency", test_consistency);
  g_test_add_func("/vxm/vm/config/pci-extra", test_pci_extra);
  g_test_add_func("/vxm/vm/config/monitors", test_monitors);
  g_test_add_func("/vxm/vm/config/files", test_files);
  g_test_add_func("/vxm/vm/config/set-keeps-comments", test_set_keeps_comments);
  g_test_add_func("/vxm/vm/config/set-refusals", test_set_refusals);
  g_test_add_func("/vxm/vm/config/set-many-pairs", test_set_many_pairs);
  g_test_add_func("/vxm/vm/config/inline-comments", test_inline_comments);
  g_test_add_func("/vxm/vm/config/usb-devices", test_usb_devices);
  g_test_add_func("/vxm/vm/config/save-atomic", test_save_atomic);
  g_test_add_func("/vxm/vm/config/resolve-memory", test_resolve_memory);
  g_test_add_func("/vxm/vm/config/resolve-cpus", test_resolve_cpus);
  g_test_add_func("/vxm/vm/config/resolve-paths", test_resolve_paths);
  g_test_add_func("/vxm/vm/config/key-table", test_key_table);
  g_test_add_func("/vxm/vm/config/example-and-docs", test_example_and_docs);
  g_test_add_func("/vxm/vm/config/mac", test_mac);
  g_test_add_func("/vxm/vm/config/monitor-inputs", test_monitor_inputs);
  g_test_add_func("/vxm/vm/paths/names", test_names);
  g_test_add_func("/vxm/vm/paths/xdg", test_paths);
  g_test_add_func("/vxm/vm/paths/runtime-fallback-planted", test_runtime_fallback_refuses_planted);
  return g_test_run();
}
