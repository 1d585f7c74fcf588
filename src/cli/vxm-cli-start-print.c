/* vxm start: what it prints of a start plan (--dry-run), and how to get the input back. */
#include <string.h>

#include "common/vxm-util.h"
#include "cpu/vxm-cpu-pinning-plan.h"
#include "input/vxm-input-object.h"
#include "memory/vxm-hugepage-pools.h"
#include "memory/vxm-hugepages.h"
#include "plan/vxm-start-step.h"
#include "plan/vxm-qemu-argv.h"
#include "vxm-cli-start-print.h"

/* For reading only: one argument a line, quoted when the shell would need it. */
static void
print_argv(const char *title, GStrv argv)
{
  g_print("%s:\n", title);
  for (gsize i = 0; argv[i] != NULL; i++) {
    g_autofree char *quoted = g_shell_quote(argv[i]);
    gboolean plain = strpbrk(argv[i], " \t\n'\"\\$`*?[]{}()<>|&;#~") == NULL && argv[i][0] != '\0';
    gboolean option = argv[i][0] == '-' && argv[i + 1] != NULL && argv[i + 1][0] != '-';

    if (option) {
      g_autofree char *value = g_shell_quote(argv[i + 1]);
      gboolean value_plain = strpbrk(argv[i + 1], " \t\n'\"\\$`*?[]{}()<>|&;#~") == NULL;

      g_print("  %s %s%s\n", argv[i], value_plain ? argv[i + 1] : value,
              argv[i + 2] != NULL ? " \\" : "");
      i++;
      continue;
    }
    g_print("  %s%s\n", plain ? argv[i] : quoted, argv[i + 1] != NULL ? " \\" : "");
  }
}

static void
print_resources(const VxmStartPlan *in)
{
  g_autofree char *memlock = vxm_format_bytes(in->memlock_bytes);

  g_print("Hugepages:\n");
  if (in->hugepage_size == 0) {
    g_print("  none: normal memory\n");
  } else {
    g_autofree char *size = vxm_hugepage_size_to_string(in->hugepage_size);
    g_autofree char *pool = vxm_hugepage_pool_describe(in->hugepage_size, in->hugepage_node);

    g_print("  %" G_GUINT64_FORMAT " x %s pages from %s%s\n", in->hugepage_count, size, pool,
            in->config->hugepages_fallback ? " (normal memory if short: hugepages_fallback)" : "");
    if (in->hugepage_alt_size > 0) {
      g_autofree char *alt_size = vxm_hugepage_size_to_string(in->hugepage_alt_size);
      g_autofree char *alt_pool =
          vxm_hugepage_pool_describe(in->hugepage_alt_size, in->hugepage_alt_node);

      g_print("  or %" G_GUINT64_FORMAT " x %s pages from %s\n",
              in->facts->memory_bytes / in->hugepage_alt_size, alt_size, alt_pool);
    }
    if (!in->config->hugepages_compact)
      g_print("  caches are not dropped nor memory compacted first (hugepages_compact = false)\n");
  }
  if (in->hugepages_why != NULL) {
    const char *why = in->hugepages_why;

    if (g_str_has_prefix(why, "hugepages = auto: "))
      why += strlen("hugepages = auto: ");
    g_print("  why: %s\n", why);
  }
  g_print("  RLIMIT_MEMLOCK: %s (guest RAM + 1 GiB%s)\n\n", memlock,
          in->facts->looking_glass_path != NULL ? " + Looking Glass" : "");
  if (in->config->inhibit != NULL)
    g_print("Host sleep: blocked while the VM runs (logind inhibitor lock: %s)\n\n",
            in->config->inhibit);
  else
    g_print("Host sleep: not blocked (inhibit = none)\n\n");
  g_print("CPU pinning:\n");
  if (in->pinning == NULL) {
    g_print("  none: %s\n", in->pinning_why);
  } else {
    g_autofree char *text = vxm_cpu_pinning_plan_to_string(in->pinning);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (guint i = 0; lines[i] != NULL; i++)
      if (lines[i][0] != '\0')
        g_print("  %s\n", lines[i]);
  }
  g_print("\nInputs:\n");
  if (in->input_objects->len == 0 && in->input_pending->len == 0)
    g_print("  none\n");
  for (guint i = 0; i < in->input_objects->len; i++) {
    const VxmInputObject *o = g_ptr_array_index(in->input_objects, i);

    g_print("  %-7s %s%s\n", o->id, in->input_nodes[i], o->grab_all ? " (primary: grab_all)" : "");
  }
  for (guint i = 0; i < in->input_pending->len; i++) {
    const VxmInputObject *o = g_ptr_array_index(in->input_pending, i);

    g_print("  %-7s %s (not plugged in: added when it is)\n", o->id, o->evdev);
  }
  g_print("\nGuest:\n");
  g_print("  KVM signature: %s\n", in->config->hide_kvm ? "hidden (hide_kvm)" : "shown");
  g_print("  Hyper-V vendor id: %s\n",
          in->config->hv_vendor_id != NULL ? in->config->hv_vendor_id : "QEMU's");
  {
    guint64 mmio64 = vxm_qemu_argv_mmio64_mb(in->facts->gpu_bar64_bytes);
    g_autofree char *bars = vxm_format_bytes(in->facts->gpu_bar64_bytes);

    if (mmio64 > 0)
      g_print("  64-bit PCI window: %" G_GUINT64_FORMAT " MiB for the GPU's %s of 64-bit BARs "
              "(OVMF's default is %d MiB)\n",
              mmio64, bars, VXM_QEMU_OVMF_MMIO64_DEFAULT_MB);
    else
      g_print("  64-bit PCI window: the firmware's default (the GPU's 64-bit BARs: %s)\n", bars);
  }
  {
    const char *backend = vxm_qemu_argv_audio_backend(in->config, in->caps, NULL);
    guint latency = vxm_qemu_argv_audio_latency_us(in->config, backend);

    if (backend == NULL)
      g_print("  sound: none\n");
    else if (latency > 0)
      g_print("  sound: %s, latency %u ms\n", backend, latency / 1000);
    else
      g_print("  sound: %s, the backend's default latency\n", backend);
  }
  if (in->facts->usb_devices->len > 0) {
    g_print("\nUSB devices:\n");
    for (guint i = 0; i < in->facts->usb_devices->len; i++) {
      const VxmUsbPassthrough *d = g_ptr_array_index(in->facts->usb_devices, i);

      if (d->node != NULL)
        g_print("  %04x:%04x %s %s\n", d->vendor, d->product, d->node, d->description);
      else
        g_print("  %04x:%04x not plugged in: added when it is\n", d->vendor, d->product);
    }
  }
  g_print("\n");
}

void
vxm_cli_start_print_plan(VxmCli *cli, const VxmStartPlan *in)
{
  g_autofree char *title = vxm_cli_colored(cli, "1", "vxm start --dry-run");
  const VxmFirmware *fw = in->fw;

  g_print("%s: VM %s, QEMU %s, firmware %s%s\n\n", title, in->config->name, in->caps->version,
          fw->descriptor_name != NULL ? fw->descriptor_name : fw->description,
          fw->fallback ? " (fallback)" : "");
  g_print("Host steps:\n");
  for (guint i = 0; i < in->steps->len; i++) {
    VxmStartStep *step = g_ptr_array_index(in->steps, i);
    g_print("  %2u. %-22s %s\n", i + 1, vxm_start_step_kind_to_string(step->kind),
            step->description);
  }
  g_print("\n");
  print_resources(in);
  if (in->notes->len > 0) {
    g_print("Notes:\n");
    for (guint i = 0; i < in->notes->len; i++)
      g_print("  %s\n", (char *)g_ptr_array_index(in->notes, i));
    g_print("\n");
  }
  if (in->swtpm != NULL) {
    print_argv("swtpm", in->swtpm);
    g_print("\n");
  }
  print_argv("QEMU", in->qemu);
}

char *
vxm_cli_start_toggle_line(GPtrArray *objects, GPtrArray *pending)
{
  static const struct {
    const char *value, *keys;
  } toggles[] = {
      {"ctrl-ctrl", "both Ctrl keys"},    {"alt-alt", "both Alt keys"},
      {"shift-shift", "both Shift keys"}, {"meta-meta", "both Super (Windows) keys"},
      {"scrolllock", "Scroll Lock"},      {"ctrl-scrolllock", "Ctrl and Scroll Lock"},
  };
  const VxmInputObject *first = NULL;
  const char *toggle;

  if (objects != NULL && objects->len > 0)
    first = g_ptr_array_index(objects, 0);
  else if (pending != NULL && pending->len > 0)
    first = g_ptr_array_index(pending, 0);
  if (first == NULL)
    return NULL;
  toggle = first->grab_toggle != NULL ? first->grab_toggle : "ctrl-ctrl"; /* QEMU's default */
  for (gsize i = 0; i < G_N_ELEMENTS(toggles); i++)
    if (g_str_equal(toggles[i].value, toggle))
      return g_strdup_printf("The guest has the keyboard and mouse: press %s together to take "
                             "them back (and again to give them to the guest; grab_toggle = %s)",
                             toggles[i].keys, toggle);
  return g_strdup_printf("The guest has the keyboard and mouse: grab_toggle = %s switches them "
                         "between host and guest",
                         toggle);
}
