/* vxm-qemu-argv: the QEMU command line of a VM, built in one place.
 *
 * A pure function of (config, host facts, QEMU capabilities, firmware, paths): it reads no
 * file and runs nothing, so `vxm start --dry-run` and the golden tests see exactly what
 * `vxm start` will run. QEMU-version differences are decided from VxmQemuCaps, never from a
 * version number. Option values go through vxm_qemu_escape_opt() (QEMU doubles commas).
 */
#pragma once

#include "plan/vxm-start-facts.h"
#include "qemu/vxm-qemu-opt.h"
#include "vm/vxm-firmware.h"
#include "vm/vxm-qemu-caps.h"
#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-paths.h"

G_BEGIN_DECLS

typedef struct {
  const VxmVmConfig *config; /* loaded; resolved.disk_path names the disk */
  const VxmVmPaths *paths;
  const VxmStartFacts *facts;
  const VxmQemuCaps *caps;
  const VxmFirmware *firmware;
  const char *qemu_binary; /* argv[0]; NULL: caps->binary */
  GPtrArray *notes;        /* nullable: the builder appends (char*) remarks for the user */
} VxmQemuArgvInput;

/* The argv (argv[0] the binary), or an error naming what QEMU or the host lacks. */
GStrv vxm_qemu_argv_build(const VxmQemuArgvInput *input, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Where the firmware's serial console is written: the VM's state folder, serial.log. */
char *vxm_qemu_argv_serial_log(const VxmVmPaths *paths);

/* The audiodev backend the VM gets: the configured one, or for auto the best QEMU has
 * (pipewire, pa, alsa); NULL for none. UNSUPPORTED when the configured one is missing. */
const char *vxm_qemu_argv_audio_backend(const VxmVmConfig *config, const VxmQemuCaps *caps,
                                        GError **error);

/* OVMF's 64-bit PCI window when it is 32 GiB by default. */
#define VXM_QEMU_OVMF_MMIO64_DEFAULT_MB 32768

/* The 64-bit MMIO window (MiB) OVMF needs for @bar64_bytes of the guest GPU's 64-bit BARs
 * (and 1 GiB for every other device's), as a power of two; 0 when OVMF's default holds them.
 * vxm start passes it as -fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=N. */
guint64 vxm_qemu_argv_mmio64_mb(guint64 bar64_bytes);

/* The audiodev's latency in microseconds for @backend ("pipewire", "pa"), 0 when the
 * backend's default applies (latency_ms = auto, or a backend without the option). */
guint vxm_qemu_argv_audio_latency_us(const VxmVmConfig *config, const char *backend);

G_END_DECLS
