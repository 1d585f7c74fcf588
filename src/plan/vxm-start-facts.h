/* vxm-start-facts: what the argv builder and the start plan need to know about the host, as
 * plain data. The caller fills it (from sysfs through VxmHostfs, from the PCI model, from the
 * input and memory areas); the builder never looks at the host itself, so golden tests can
 * describe any workstation in a few lines.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "common/vxm-hostfs.h"
#include "input/vxm-input-object.h"
#include "pci/vxm-gpu.h"
#include "usb/vxm-usb-device.h"

G_BEGIN_DECLS

typedef struct _VxmVmConfig VxmVmConfig; /* vm/vxm-vm-config.h */

/* One function of the guest GPU's slot, as the host has it. */
typedef struct {
  char *address;      /* "0000:01:00.1" */
  guint16 class_code; /* top 16 bits of the class: 0x0300, 0x0403, 0x0c03, 0x0c80 */
  guint function;     /* 0-7: the guest sees the same function number on its root port */
  char *driver;       /* bound now ("nvidia", "snd_hda_intel"), NULL when none */
  gint iommu_group;   /* -1 when none */
} VxmHostGpuFunction;

/* DMI/SMBIOS identity (each field NULL when unknown). Types 0, 1 and 2. */
typedef struct {
  char *bios_vendor; /* type 0 */
  char *bios_version;
  char *bios_date;
  char *sys_vendor; /* type 1 */
  char *product_name;
  char *product_version;
  char *product_serial;
  char *product_uuid;
  char *product_sku;
  char *product_family;
  char *board_vendor; /* type 2 */
  char *board_name;
  char *board_version;
  char *board_serial;
  char *board_asset_tag;
} VxmHostSmbios;

typedef struct {
  GPtrArray *gpu_functions; /* VxmHostGpuFunction, function 0 first; empty: no passthrough */
  /* [pci] extra: whole devices beside the GPU (VxmHostGpuFunction each: its own address,
   * class, driver and group), sorted; empty: none */
  GPtrArray *extra_devices;
  gint gpu_numa_node;      /* -1 without NUMA */
  guint64 gpu_bar64_bytes; /* the 64-bit memory BARs of those functions, summed, as now sized */

  guint64 memory_bytes;   /* guest RAM */
  guint64 hugepage_bytes; /* 0: normal memory; else 2 MiB or 1 GiB pages */
  gint hugepage_node;     /* the NUMA node the pages are reserved on (host-nodes), -1: any */

  guint sockets; /* vCPU topology */
  guint cores;
  guint threads;

  GPtrArray *inputs;         /* VxmHostInput (input/vxm-input-object.h) */
  GPtrArray *inputs_missing; /* names [input] inputs lists that are not plugged in (strings) */
  /* [usb] devices (VxmUsbPassthrough) in the config's order: node set when plugged in now */
  GPtrArray *usb_devices;

  char *looking_glass_path; /* NULL: off; "/dev/kvmfr0" or "/dev/shm/looking-glass" */
  guint64 looking_glass_bytes;

  VxmHostSmbios *smbios; /* NULL: no SMBIOS passthrough */

  /* monitor switching, for the plan only (VxmVmMonitorSwitch): the monitors named in the
   * config (monitor = auto is found when the VM starts, and not listed) */
  GPtrArray *monitors;
} VxmStartFacts;

VxmStartFacts *vxm_start_facts_new(void);
void vxm_start_facts_free(VxmStartFacts *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmStartFacts, vxm_start_facts_free)

VxmHostGpuFunction *vxm_start_facts_add_gpu_function(VxmStartFacts *self, const char *address,
                                                     guint16 class_code, const char *driver,
                                                     gint iommu_group);
VxmHostInput *vxm_start_facts_add_input(VxmStartFacts *self, const char *path,
                                        VxmHostInputKind kind, gboolean primary);

/* A [usb] device: @node the host node when plugged in, NULL when not. */
VxmUsbPassthrough *vxm_start_facts_add_usb(VxmStartFacts *self, guint16 vendor, guint16 product,
                                           const char *node, const char *description);

VxmHostSmbios *vxm_host_smbios_new(void);
/* From a DMI identity object (vxm_dmi_identity_read(), or vxmd's dmi-identity reply): its
 * non-empty string members by their sysfs names; NULL (or missing, empty) fields stay NULL. */
VxmHostSmbios *vxm_host_smbios_new_from_identity(JsonObject *identity);
void vxm_host_smbios_free(VxmHostSmbios *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmHostSmbios, vxm_host_smbios_free)

/* Fills @self for @config (resolved) from the host: @gpu's functions (nullable: none), memory,
 * topology, the configured inputs, Looking Glass, DMI identity (unless the
 * caller set @self->smbios already: an unprivileged vxm gets it from vxmd), monitor. The
 * hugepage size and node are the start's to decide (vxm_hugepages_candidates()).
 * What a later stage decides (auto inputs, auto monitor) is left out with a remark in
 * @notes. Paths QEMU opens (input nodes, Looking Glass memory) are local paths under the
 * host root, so a simulated host's nodes are what QEMU opens. */
gboolean vxm_start_facts_collect(VxmStartFacts *self, VxmHostfs *hostfs, const VxmVmConfig *config,
                                 VxmGpu *gpu, GPtrArray *notes,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Adds a [pci] extra device (vxm_pci_extra_resolve() allowed it) to @self->extra_devices. */
VxmHostGpuFunction *vxm_start_facts_add_extra_device(VxmStartFacts *self, const char *address,
                                                     guint16 class_code, const char *driver,
                                                     gint iommu_group);

/* The IOMMU groups of the GPU's functions and of the extra devices: every /dev/vfio/N the
 * guest needs, sorted and unique (gint). */
GArray *vxm_start_facts_gpu_iommu_groups(const VxmStartFacts *self);

G_END_DECLS
