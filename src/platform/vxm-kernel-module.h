/* vxm-kernel-module: the kernel modules vxm needs, loaded when they are missing.
 *
 * A fresh boot may lack vfio-pci (nothing loads it on demand: the lab saw it), i2c-dev (DDC/CI
 * needs /dev/i2c-N) and kvmfr (Looking Glass). vxmd loads them itself, with libkmod (never a
 * shell: modprobe.d `install` commands are ignored, its options and soft dependencies are
 * applied), and journals each load first ("kernel-module": the module and which of it and its
 * dependencies were not in the kernel), so teardown and `vxm recover` unload exactly what vxm
 * loaded, and leave a module that is in use loaded, saying why.
 *
 * On a host root that is not "/" (the simulated workstation) there is no module to load: the
 * loader asks the simulated kernel through its module interface instead (see
 * vxm-kernel-module-private.h); without one it refuses as before, naming the modprobe to run.
 */
#pragma once

#include "common/vxm-hostfs.h"
#include "journal/vxm-journal.h"

G_BEGIN_DECLS

#define VXM_KERNEL_MODULE_JOURNAL_KIND "kernel-module"

/* Registers the "kernel-module" undo with the journal (idempotent). */
void vxm_kernel_module_register_journal_kind(void);

/* TRUE when @name ("vfio-pci" or "vfio_pci") is in the kernel, loaded or built in. */
gboolean vxm_kernel_module_is_loaded(VxmHostfs *hostfs, const char *name);

/* Loads @name and what it depends on when it is not in the kernel, journaling in @journal
 * (nullable: a load nobody undoes) first; @why ("to detach 0000:01:00.0") goes into the
 * error. @report (nullable) gets "loaded vfio-pci (with vfio, vfio_iommu_type1, ...)". TRUE
 * with nothing done when it is there already. */
gboolean vxm_kernel_module_ensure(VxmHostfs *hostfs, const char *name, const char *why,
                                  VxmJournal *journal, GPtrArray *report,
                                  GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
