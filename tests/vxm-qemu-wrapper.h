/* vxm-qemu-wrapper: turns the argv vxm builds for a VFIO + KVM workstation into one the real
 * QEMU can run on a test machine without /dev/kvm, /dev/vfio or input devices (tests only).
 *
 * Every change is reported in @notes, so a test (or the lead's end-to-end run through
 * vxm-test-qemu-wrapper) can say exactly what was not exercised:
 *   -device vfio-pci,...            dropped (no VFIO here); the pcie-root-port stays
 *   -object input-linux,...         dropped (no evdev nodes) unless @keep_input: then QEMU
 *                                   opens the simulated ones (vxm-simhost) as it would real ones
 *   -machine ...,accel=kvm          accel=tcg
 *   -cpu host,hv-...                -cpu max with the other flags: TCG refuses hv-* (VP_INDEX)
 *   -overcommit mem-lock=on         dropped (it would lock all guest RAM of a test run)
 *   -audiodev pa|pipewire|alsa,...  none (no sound server in a test)
 *   -netdev bridge,...              user (no bridge or setuid helper in a test)
 *   -m, memfd size                  @memory when set (a test has little RAM)
 *   hugetlb=on,hugetlbsize=...      kept with @hugepage_size, else dropped (with prealloc)
 *   host-nodes=N,policy=bind        dropped (the simulated host's NUMA node is not this one's)
 *   path prefixes                   @path_map (pairs) replaced in every argument
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *qemu;            /* argv[0] of the result; NULL: "qemu-system-x86_64" */
  const char *memory;          /* "256M": replaces -m and the memfd backend's size; NULL keeps */
  const char *hugepage_size;   /* "2M": keep hugetlb with this page size; NULL drops hugetlb */
  const char *const *path_map; /* {"from", "to", ..., NULL}: NULL for none */
  gboolean keep_input;         /* keep -object input-linux (simulated evdev nodes) */
} VxmQemuWrapperOptions;

/* @argv as vxm built it (argv[0] is ignored) -> the argv to run here. */
GStrv vxm_qemu_wrapper_transform(const char *const *argv, const VxmQemuWrapperOptions *options,
                                 GPtrArray *notes);

/* Replaces each "from" prefix of @map in @arg (anywhere in it: option strings embed paths). */
char *vxm_qemu_wrapper_map_paths(const char *arg, const char *const *map);

G_END_DECLS
