/* vxm-firmware-descriptor: one QEMU firmware descriptor file (QEMU's docs/interop/firmware.json),
 * parsed into what vxm needs to choose a firmware: interface types, the flash mapping, the
 * targets (architecture + machine globs) and the features. Device "memory" and "kernel"
 * mappings are kept as their device name only: vxm never uses them.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *architecture; /* "x86_64" */
  GStrv machines;     /* globs: "pc-q35-*" */
} VxmFirmwareTarget;

typedef struct {
  char *name;        /* file name: "40-edk2-x86_64-secure-enrolled.json" */
  char *path;        /* where it was read, as a host path (or a user path) */
  char *description; /* may be NULL */
  GStrv interface_types;
  char *device;    /* "flash", "memory", "kernel" */
  char *mode;      /* flash only: "split" (the default), "combined", "stateless" */
  char *code_path; /* flash: executable.filename (a host path) */
  char *code_format;
  char *vars_template_path; /* flash: nvram-template.filename, may be NULL */
  char *vars_template_format;
  GPtrArray *targets; /* of VxmFirmwareTarget */
  GStrv features;
} VxmFirmwareDescriptor;

void vxm_firmware_descriptor_free(VxmFirmwareDescriptor *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmFirmwareDescriptor, vxm_firmware_descriptor_free)

/* Parses a descriptor's JSON text. @name and @path are for messages and are kept.
 * Missing or mistyped members required by the schema are errors naming the member. */
VxmFirmwareDescriptor *vxm_firmware_descriptor_parse(const char *name, const char *path,
                                                     const char *data, gsize length,
                                                     GError **error) G_GNUC_WARN_UNUSED_RESULT;

gboolean vxm_firmware_descriptor_has_feature(const VxmFirmwareDescriptor *self,
                                             const char *feature);
gboolean vxm_firmware_descriptor_has_interface(const VxmFirmwareDescriptor *self,
                                               const char *interface_type);

/* TRUE when a target names @architecture with a machine glob matching @machine. @machine
 * NULL stands for "any q35 machine": a glob matching "q35" or "pc-q35-<version>". */
gboolean vxm_firmware_descriptor_supports(const VxmFirmwareDescriptor *self,
                                          const char *architecture, const char *machine);

G_END_DECLS
