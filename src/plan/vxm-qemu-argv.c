#include "vxm-qemu-argv.h"

#include <string.h>

#include "common/vxm-error.h"
#include "input/vxm-input-object.h"

/* The Hyper-V enlightenments Windows guests benefit from (facts.md). */
static const char *const hyperv_flags[] = {
    "hv-relaxed", "hv-vapic", "hv-spinlocks=0x1fff", "hv-vpindex",  "hv-runtime", "hv-synic",
    "hv-stimer",  "hv-reset", "hv-frequencies",      "hv-tlbflush", "hv-ipi",     "hv-time",
};

#define GPU_PORT "gpu-port"

char *
vxm_qemu_argv_serial_log(const VxmVmPaths *paths)
{
  return g_build_filename(paths->state_dir, "serial.log", NULL);
}

/* "16G", "512M", or bytes: exact, and readable in a dry-run. */
static char *
size_arg(guint64 bytes)
{
  if (bytes != 0 && bytes % (G_GUINT64_CONSTANT(1) << 30) == 0)
    return g_strdup_printf("%" G_GUINT64_FORMAT "G", bytes >> 30);
  if (bytes != 0 && bytes % (G_GUINT64_CONSTANT(1) << 20) == 0)
    return g_strdup_printf("%" G_GUINT64_FORMAT "M", bytes >> 20);
  return g_strdup_printf("%" G_GUINT64_FORMAT, bytes);
}

typedef struct {
  GPtrArray *argv;
} Args;

static void
add(Args *a, const char *arg)
{
  g_ptr_array_add(a->argv, g_strdup(arg));
}

static void G_GNUC_PRINTF(3, 4) addf(Args *a, const char *option, const char *format, ...)
{
  va_list ap;

  g_ptr_array_add(a->argv, g_strdup(option));
  va_start(ap, format);
  g_ptr_array_add(a->argv, g_strdup_vprintf(format, ap));
  va_end(ap);
}

/* ",key=VALUE" with the value escaped, appended to @s; nothing for NULL or "". */
static void
append_kv(GString *s, const char *key, const char *value)
{
  g_autofree char *escaped = NULL;

  if (value == NULL || *value == '\0')
    return;
  escaped = vxm_qemu_escape_opt(value);
  g_string_append_printf(s, ",%s=%s", key, escaped);
}

static gboolean
require_type(const VxmQemuCaps *caps, const char *type, const char *why, GError **error)
{
  if (vxm_qemu_caps_has_type(caps, type))
    return TRUE;
  g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
              "QEMU %s (%s) has no %s, needed for %s: install a full qemu-system-x86 build",
              caps->version, caps->binary, type, why);
  return FALSE;
}

const char *
vxm_qemu_argv_audio_backend(const VxmVmConfig *config, const VxmQemuCaps *caps, GError **error)
{
  static const char *const preferred[] = {"pipewire", "pa", "alsa"};
  const char *wanted = NULL;

  switch (config->audio) {
  case VXM_VM_AUDIO_NONE: return NULL;
  case VXM_VM_AUDIO_AUTO:
    for (gsize i = 0; i < G_N_ELEMENTS(preferred); i++)
      if (vxm_qemu_caps_has_audiodev(caps, preferred[i]))
        return preferred[i];
    return NULL;
  case VXM_VM_AUDIO_PIPEWIRE: wanted = "pipewire"; break;
  case VXM_VM_AUDIO_PA: wanted = "pa"; break;
  case VXM_VM_AUDIO_ALSA: wanted = "alsa"; break;
  }
  if (wanted != NULL && vxm_qemu_caps_has_audiodev(caps, wanted))
    return wanted;
  g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
              "QEMU %s (%s) has no %s audio backend: set [audio] audio = auto or none, or "
              "install the QEMU audio module package",
              caps->version, caps->binary, wanted);
  return NULL;
}

/* The guest GPU's functions on one root port, with the host's function layout. */
static gboolean
add_gpu(Args *a, const VxmQemuArgvInput *in, GError **error)
{
  const VxmStartFacts *facts = in->facts;
  GPtrArray *fns = facts->gpu_functions;
  gboolean seen[8] = {FALSE};

  if (fns->len == 0)
    return TRUE;
  if (!require_type(in->caps, "vfio-pci", "GPU passthrough", error) ||
      !require_type(in->caps, "pcie-root-port", "GPU passthrough", error))
    return FALSE;
  for (guint i = 0; i < fns->len; i++) {
    VxmHostGpuFunction *fn = g_ptr_array_index(fns, i);

    if (fn->function > 7 || seen[fn->function]) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                  "the guest GPU's functions do not form one slot: %s repeats function %u",
                  fn->address, fn->function);
      return FALSE;
    }
    seen[fn->function] = TRUE;
  }
  if (!seen[0]) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "the guest GPU has no function 0 among %u functions", fns->len);
    return FALSE;
  }
  addf(a, "-device", "pcie-root-port,id=" GPU_PORT ",chassis=1,port=0x10,bus=pcie.0");
  for (guint f = 0; f < 8; f++) {
    g_autoptr(GString) dev = g_string_new("vfio-pci");
    VxmHostGpuFunction *fn = NULL;

    for (guint i = 0; i < fns->len && fn == NULL; i++)
      if (((VxmHostGpuFunction *)g_ptr_array_index(fns, i))->function == f)
        fn = g_ptr_array_index(fns, i);
    if (fn == NULL)
      continue;
    g_string_append_printf(dev, ",host=%s,id=gpu-fn%u,bus=" GPU_PORT ",addr=00.%u", fn->address, f,
                           f);
    if (f == 0 && fns->len > 1)
      g_string_append(dev, ",multifunction=on");
    if (f == 0)
      append_kv(dev, "romfile", in->config->rom_file);
    add(a, "-device");
    add(a, dev->str);
  }
  return TRUE;
}

/* [pci] extra: each device on a root port of its own, after the GPU's (chassis 1). */
static gboolean
add_extra(Args *a, const VxmQemuArgvInput *in, GError **error)
{
  GPtrArray *extra = in->facts->extra_devices;

  if (extra->len == 0)
    return TRUE;
  if (!require_type(in->caps, "vfio-pci", "[pci] extra", error) ||
      !require_type(in->caps, "pcie-root-port", "[pci] extra", error))
    return FALSE;
  for (guint i = 0; i < extra->len; i++) {
    VxmHostGpuFunction *dev = g_ptr_array_index(extra, i);

    addf(a, "-device", "pcie-root-port,id=extra-port%u,chassis=%u,port=0x%x,bus=pcie.0", i, i + 2,
         0x11 + i);
    addf(a, "-device", "vfio-pci,host=%s,id=extra%u,bus=extra-port%u", dev->address, i, i);
  }
  return TRUE;
}

/* CODE read-only as pflash unit 0, the VM's own VARS copy as unit 1 (-drive if=pflash works
 * on every QEMU; the pflash0/1 machine properties are per-instance and invisible to the probe) */
static void
add_firmware(Args *a, const VxmQemuArgvInput *in)
{
  const VxmFirmware *fw = in->firmware;
  g_autofree char *code = vxm_qemu_escape_opt(fw->code_path);
  g_autofree char *vars = vxm_qemu_escape_opt(in->paths->efi_vars);

  if (fw->requires_smm)
    addf(a, "-global", "driver=cfi.pflash01,property=secure,value=on");
  addf(a, "-drive", "if=pflash,unit=0,format=%s,readonly=on,file=%s", fw->code_format, code);
  addf(a, "-drive", "if=pflash,unit=1,format=%s,file=%s", fw->vars_format, vars);
}

static void
add_disk(Args *a, const VxmQemuArgvInput *in)
{
  const VxmVmConfig *config = in->config;
  const char *path = config->resolved.disk_path;
  g_autofree char *escaped = NULL;
  /* io_uring when this QEMU and kernel have it (probed), else the thread pool, which works
   * on every filesystem; cache=none (O_DIRECT) either way */
  const char *aio = in->caps->io_uring ? "io_uring" : "threads";

  if (path == NULL)
    path = config->disk_path;
  if (path == NULL)
    path =
        config->disk_format == VXM_VM_DISK_FORMAT_RAW ? in->paths->disk_raw : in->paths->disk_qcow2;
  escaped = vxm_qemu_escape_opt(path);
  addf(a, "-blockdev",
       "driver=file,node-name=disk0-file,filename=%s,aio=%s,cache.direct=on,discard=unmap", escaped,
       aio);
  addf(a, "-blockdev", "driver=%s,node-name=disk0,file=disk0-file,cache.direct=on,discard=unmap",
       vxm_vm_disk_format_to_string(config->disk_format));
  addf(a, "-device", "virtio-blk-pci,drive=disk0,id=disk0-dev,bootindex=1");
}

static void
add_cdrom(Args *a, const char *id, const char *path, guint bus, guint bootindex)
{
  g_autofree char *escaped = vxm_qemu_escape_opt(path);
  g_autoptr(GString) dev = g_string_new(NULL);

  addf(a, "-blockdev", "driver=file,node-name=%s-file,filename=%s,read-only=on", id, escaped);
  addf(a, "-blockdev", "driver=raw,node-name=%s,file=%s-file,read-only=on", id, id);
  g_string_printf(dev, "ide-cd,drive=%s,id=%s-dev,bus=ide.%u", id, id, bus);
  if (bootindex > 0)
    g_string_append_printf(dev, ",bootindex=%u", bootindex);
  add(a, "-device");
  add(a, dev->str);
}

static gboolean
add_network(Args *a, const VxmQemuArgvInput *in, GError **error)
{
  const VxmVmConfig *config = in->config;
  g_autoptr(GString) nic = g_string_new("virtio-net-pci,netdev=net0,id=net0-dev");

  switch (config->network) {
  case VXM_VM_NETWORK_NONE: return TRUE;
  case VXM_VM_NETWORK_USER: addf(a, "-netdev", "user,id=net0"); break;
  case VXM_VM_NETWORK_BRIDGE: {
    g_autofree char *br = vxm_qemu_escape_opt(config->network_bridge);

    addf(a, "-netdev", "bridge,id=net0,br=%s", br);
    if (in->notes != NULL)
      g_ptr_array_add(in->notes,
                      g_strdup_printf("network bridge:%s runs qemu-bridge-helper (setuid; the "
                                      "bridge must be listed in /etc/qemu/bridge.conf), so the "
                                      "QEMU sandbox allows spawning it",
                                      config->network_bridge));
    break;
  }
  }
  if (!require_type(in->caps, "virtio-net-pci", "the network", error))
    return FALSE;
  if (config->mac != NULL)
    g_string_append_printf(nic, ",mac=%s", config->mac);
  else if (in->notes != NULL)
    g_ptr_array_add(in->notes, g_strdup("the VM has no MAC address yet (vxm init generates "
                                        "one): QEMU's default would be used"));
  add(a, "-device");
  add(a, nic->str);
  return TRUE;
}

static gboolean
add_audio(Args *a, const VxmQemuArgvInput *in, GError **error)
{
  g_autoptr(GError) local = NULL;
  const char *backend = vxm_qemu_argv_audio_backend(in->config, in->caps, &local);

  if (local != NULL) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  if (backend == NULL) {
    if (in->config->audio == VXM_VM_AUDIO_AUTO && in->notes != NULL)
      g_ptr_array_add(in->notes, g_strdup("QEMU has no pipewire, pa or alsa audio backend: "
                                          "the guest gets no sound card"));
    return TRUE;
  }
  if (!require_type(in->caps, "ich9-intel-hda", "audio", error) ||
      !require_type(in->caps, "hda-duplex", "audio", error))
    return FALSE;
  {
    guint latency = vxm_qemu_argv_audio_latency_us(in->config, backend);

    if (latency > 0)
      addf(a, "-audiodev", "%s,id=snd0,in.latency=%u,out.latency=%u", backend, latency, latency);
    else
      addf(a, "-audiodev", "%s,id=snd0", backend);
    if (in->config->audio_latency_ms > 0 && latency == 0 && in->notes != NULL)
      g_ptr_array_add(in->notes,
                      g_strdup_printf("[audio] latency_ms = %u is not applied: the %s audio "
                                      "backend has no latency option (pipewire and pa have)",
                                      in->config->audio_latency_ms, backend));
  }
  addf(a, "-device", "ich9-intel-hda,id=sound0");
  addf(a, "-device", "hda-duplex,id=sound0-codec0,bus=sound0.0,cad=0,audiodev=snd0");
  return TRUE;
}

guint
vxm_qemu_argv_audio_latency_us(const VxmVmConfig *config, const char *backend)
{
  /* QEMU's pa and pipewire audiodevs take in.latency and out.latency in microseconds; alsa
   * has no such option */
  if (config->audio_latency_ms == 0 || backend == NULL ||
      (strcmp(backend, "pipewire") != 0 && strcmp(backend, "pa") != 0))
    return 0;
  return config->audio_latency_ms * 1000;
}

guint64
vxm_qemu_argv_mmio64_mb(guint64 bar64_bytes)
{
  /* room for the other devices' BARs and the root ports' hotplug reserves */
  guint64 needed = bar64_bytes + (G_GUINT64_CONSTANT(1) << 30);
  guint64 window = G_GUINT64_CONSTANT(1) << 20;

  if (bar64_bytes == 0)
    return 0;
  /* a power of two: OVMF aligns the window to it, and each BAR to its own size within */
  while (window < needed)
    window <<= 1;
  window >>= 20;
  return window > VXM_QEMU_OVMF_MMIO64_DEFAULT_MB ? window : 0;
}

static gboolean
add_inputs(Args *a, const VxmQemuArgvInput *in, GError **error)
{
  GPtrArray *inputs = in->facts->inputs;
  g_autoptr(GPtrArray) objects = NULL;
  guint kbd = 0;
  guint mouse = 0;

  if (inputs->len == 0)
    return TRUE;
  if (!require_type(in->caps, "input-linux", "keyboard and mouse passthrough", error))
    return FALSE;
  /* the same objects the hotplug watcher re-adds over QMP (vxm-input-object) */
  objects = vxm_input_objects_new(inputs, in->config->grab_toggle);
  for (guint i = 0; i < objects->len; i++) {
    VxmInputObject *object = g_ptr_array_index(objects, i);

    if (object->kind == VXM_HOST_INPUT_KEYBOARD)
      kbd++;
    else
      mouse++;
    add(a, "-object");
    g_ptr_array_add(a->argv, vxm_input_object_to_option(object));
  }
  /* virtio input once the guest has its driver (QEMU routes to PS/2 until then) */
  if (kbd > 0 && vxm_qemu_caps_has_type(in->caps, "virtio-keyboard-pci"))
    addf(a, "-device", "virtio-keyboard-pci,id=input-kbd");
  if (mouse > 0 && vxm_qemu_caps_has_type(in->caps, "virtio-mouse-pci"))
    addf(a, "-device", "virtio-mouse-pci,id=input-mouse");
  return TRUE;
}

/* [usb] devices on an xHCI controller, there whenever devices are listed: one plugged in later
 * is device_added onto it (vxm-usb-watch). */
static gboolean
add_usb(Args *a, const VxmQemuArgvInput *in, GError **error)
{
  GPtrArray *devices = in->facts->usb_devices;

  if (devices->len == 0)
    return TRUE;
  if (!require_type(in->caps, "qemu-xhci", "USB devices ([usb] devices)", error) ||
      !require_type(in->caps, "usb-host", "USB devices ([usb] devices)", error))
    return FALSE;
  addf(a, "-device", "qemu-xhci,id=" VXM_USB_XHCI_ID);
  for (guint i = 0; i < devices->len; i++) {
    const VxmUsbPassthrough *usb = g_ptr_array_index(devices, i);

    if (usb->node == NULL)
      continue;
    add(a, "-device");
    g_ptr_array_add(a->argv, vxm_usb_passthrough_to_option(usb));
  }
  return TRUE;
}

static void
add_smbios(Args *a, const VxmHostSmbios *s)
{
  g_autoptr(GString) t0 = g_string_new("type=0");
  g_autoptr(GString) t1 = g_string_new("type=1");
  g_autoptr(GString) t2 = g_string_new("type=2");

  append_kv(t0, "vendor", s->bios_vendor);
  append_kv(t0, "version", s->bios_version);
  append_kv(t0, "date", s->bios_date);
  append_kv(t1, "manufacturer", s->sys_vendor);
  append_kv(t1, "product", s->product_name);
  append_kv(t1, "version", s->product_version);
  append_kv(t1, "serial", s->product_serial);
  append_kv(t1, "uuid", s->product_uuid);
  append_kv(t1, "sku", s->product_sku);
  append_kv(t1, "family", s->product_family);
  append_kv(t2, "manufacturer", s->board_vendor);
  append_kv(t2, "product", s->board_name);
  append_kv(t2, "version", s->board_version);
  append_kv(t2, "serial", s->board_serial);
  append_kv(t2, "asset", s->board_asset_tag);
  if (t0->len > strlen("type=0"))
    addf(a, "-smbios", "%s", t0->str);
  if (t1->len > strlen("type=1"))
    addf(a, "-smbios", "%s", t1->str);
  if (t2->len > strlen("type=2"))
    addf(a, "-smbios", "%s", t2->str);
}

GStrv
vxm_qemu_argv_build(const VxmQemuArgvInput *in, GError **error)
{
  const VxmVmConfig *config = in->config;
  const VxmStartFacts *facts = in->facts;
  const VxmQemuCaps *caps = in->caps;
  const VxmFirmware *fw = in->firmware;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
  Args a = {argv};
  g_autoptr(GString) machine = g_string_new("q35,accel=kvm");
  g_autoptr(GString) cpu = g_string_new("host");
  g_autofree char *mem = size_arg(facts->memory_bytes);
  g_autofree char *serial_log = NULL;
  g_autofree char *qmp = NULL;
  gboolean vfio = facts->gpu_functions->len > 0 || facts->extra_devices->len > 0;
  gboolean hpet_prop = vxm_qemu_caps_has_machine_prop(caps, "hpet");
  gboolean hugepages = facts->hugepage_bytes != 0;
  gboolean spawn_allowed = config->network == VXM_VM_NETWORK_BRIDGE;

  g_return_val_if_fail(
      config != NULL && facts != NULL && caps != NULL && fw != NULL && in->paths != NULL, NULL);

  if (!vxm_qemu_caps_has_machine(caps, "q35")) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED, "QEMU %s (%s) has no q35 machine type",
                caps->version, caps->binary);
    return NULL;
  }
  if (!vxm_qemu_caps_has_accel(caps, "kvm")) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED, "QEMU %s (%s) was built without KVM",
                caps->version, caps->binary);
    return NULL;
  }
  if (!vxm_qemu_caps_has_option(caps, "sandbox")) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
                "QEMU %s (%s) was built without seccomp (-sandbox): vxm runs QEMU sandboxed "
                "only; install Debian's qemu-system-x86",
                caps->version, caps->binary);
    return NULL;
  }
  if (facts->memory_bytes == 0 || facts->sockets * facts->cores * facts->threads == 0) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                        "the VM's memory and vCPUs are not resolved yet");
    return NULL;
  }
  if (hugepages && facts->memory_bytes % facts->hugepage_bytes != 0) {
    g_autofree char *page = size_arg(facts->hugepage_bytes);
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                "[memory] memory = %s is not a whole number of %s hugepages: choose a multiple",
                mem, page);
    return NULL;
  }
  if (fw->code_path == NULL || in->paths->efi_vars == NULL) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                        "no firmware CODE image or VARS file for the VM");
    return NULL;
  }

  add(&a, in->qemu_binary != NULL ? in->qemu_binary : caps->binary);
  addf(&a, "-name", "%s,debug-threads=on", config->name);
  add(&a, "-nodefaults");
  add(&a, "-no-user-config");

  if (fw->requires_smm)
    g_string_append(machine, ",smm=on");
  if (hpet_prop)
    g_string_append(machine, ",hpet=off");
  /* VMware's backdoor I/O port: nothing a Windows guest with a passed-through GPU uses, and
   * one more emulated device for it to probe */
  if (vxm_qemu_caps_has_machine_prop(caps, "vmport"))
    g_string_append(machine, ",vmport=off");
  if (hugepages)
    g_string_append(machine, ",memory-backend=mem0");
  addf(&a, "-machine", "%s", machine->str);

  if (config->hide_kvm)
    g_string_append(cpu, ",kvm=off");
  for (gsize i = 0; i < G_N_ELEMENTS(hyperv_flags); i++)
    g_string_append_printf(cpu, ",%s", hyperv_flags[i]);
  /* the config refuses commas: nothing to escape */
  if (config->hv_vendor_id != NULL)
    g_string_append_printf(cpu, ",hv-vendor-id=%s", config->hv_vendor_id);
  addf(&a, "-cpu", "%s", cpu->str);
  addf(&a, "-smp", "%u,sockets=%u,cores=%u,threads=%u",
       facts->sockets * facts->cores * facts->threads, facts->sockets, facts->cores,
       facts->threads);

  addf(&a, "-m", "%s", mem);
  if (hugepages) {
    g_autofree char *page = size_arg(facts->hugepage_bytes);
    g_autofree char *bind =
        facts->hugepage_node >= 0
            ? g_strdup_printf(",host-nodes=%d,policy=bind", facts->hugepage_node)
            : g_strdup("");

    if (!require_type(caps, "memory-backend-memfd", "hugepage memory", error))
      return NULL;
    /* the pages were reserved on that node: RAM from anywhere else would not be hugepages */
    addf(&a, "-object",
         "memory-backend-memfd,id=mem0,size=%s,hugetlb=on,hugetlbsize=%s,share=on,prealloc=on%s",
         mem, page, bind);
  }
  if (vfio && vxm_qemu_caps_has_option(caps, "overcommit"))
    addf(&a, "-overcommit", "mem-lock=on");

  addf(&a, "-rtc", "base=localtime,driftfix=slew");
  addf(&a, "-global", "kvm-pit.lost_tick_policy=delay");
  if (!hpet_prop)
    add(&a, "-no-hpet");

  add_firmware(&a, in);
  {
    guint64 mmio64 = vxm_qemu_argv_mmio64_mb(facts->gpu_bar64_bytes);

    if (mmio64 > 0) {
      if (!vxm_qemu_caps_has_option(caps, "fw_cfg")) {
        g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
                    "QEMU %s (%s) has no -fw_cfg, needed to give the firmware a 64-bit PCI "
                    "window for the guest GPU's large BARs: install Debian's qemu-system-x86",
                    caps->version, caps->binary);
        return NULL;
      }
      addf(&a, "-fw_cfg", "name=opt/ovmf/X-PciMmio64Mb,string=%" G_GUINT64_FORMAT, mmio64);
    }
  }

  if (config->tpm) {
    g_autofree char *sock = vxm_qemu_escape_opt(in->paths->swtpm_socket);

    if (!require_type(caps, "tpm-crb", "the TPM", error))
      return NULL;
    addf(&a, "-chardev", "socket,id=chrtpm,path=%s", sock);
    addf(&a, "-tpmdev", "emulator,id=tpm0,chardev=chrtpm");
    addf(&a, "-device", "tpm-crb,tpmdev=tpm0");
  }

  if (!add_gpu(&a, in, error) || !add_extra(&a, in, error))
    return NULL;

  if (!require_type(caps, "virtio-blk-pci", "the disk", error))
    return NULL;
  add_disk(&a, in);
  if (config->installer_iso != NULL)
    add_cdrom(&a, "cd0", config->installer_iso, 0, 2);
  if (config->virtio_iso != NULL)
    add_cdrom(&a, "cd1", config->virtio_iso, 1, 0);

  if (!add_network(&a, in, error) || !add_audio(&a, in, error) || !add_inputs(&a, in, error) ||
      !add_usb(&a, in, error))
    return NULL;

  if (facts->looking_glass_path != NULL && facts->looking_glass_bytes > 0) {
    g_autofree char *path = vxm_qemu_escape_opt(facts->looking_glass_path);
    g_autofree char *size = size_arg(facts->looking_glass_bytes);

    if (!require_type(caps, "ivshmem-plain", "Looking Glass", error))
      return NULL;
    addf(&a, "-object", "memory-backend-file,id=lgmem,share=on,mem-path=%s,size=%s", path, size);
    addf(&a, "-device", "ivshmem-plain,id=lg,memdev=lgmem");
  }

  if (config->smbios == VXM_VM_SMBIOS_HOST && facts->smbios != NULL)
    add_smbios(&a, facts->smbios);

  qmp = vxm_qemu_escape_opt(in->paths->qmp_socket);
  addf(&a, "-chardev", "socket,id=qmp,path=%s,server=on,wait=off", qmp);
  addf(&a, "-mon", "chardev=qmp,mode=control");
  serial_log = vxm_qemu_argv_serial_log(in->paths);
  {
    g_autofree char *escaped = vxm_qemu_escape_opt(serial_log);
    addf(&a, "-chardev", "file,id=serial0,path=%s", escaped);
  }
  addf(&a, "-serial", "chardev:serial0");
  addf(&a, "-pidfile", "%s", in->paths->qemu_pidfile);
  addf(&a, "-display", "none");
  addf(&a, "-vga", "none");
  addf(&a, "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=%s,resourcecontrol=deny",
       spawn_allowed ? "allow" : "deny");
  addf(&a, "-msg", "timestamp=on");
  add(&a, "-S");

  g_ptr_array_add(argv, NULL);
  return (GStrv)g_ptr_array_steal(argv, NULL);
}
