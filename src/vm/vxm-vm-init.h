/* vxm-vm-init: creating a VM: folders, disk (qemu-img), the VM's own copy of the UEFI
 * variable store, TPM state (swtpm_setup), optionally the virtio-win ISO, and the config.
 *
 * All-or-nothing: everything is built in a temporary folder beside the VM's data folder
 * ($XDG_DATA_HOME/vxm/.NAME.init-XXXXXX), renamed into place, and only then is the config
 * written; any failure removes what was made. A partial download is the one thing kept, in
 * $XDG_CACHE_HOME/vxm/downloads, so the next try resumes it (it is not part of any VM).
 * swtpm_setup runs with vxm's own config ($XDG_CONFIG_HOME/vxm/swtpm/) whose local CA lives
 * in $XDG_DATA_HOME/vxm/swtpm-localca, so it works without root.
 */
#pragma once

#include "common/vxm-hostfs.h"
#include "vm/vxm-download.h"
#include "vm/vxm-vm-config.h"

G_BEGIN_DECLS

typedef struct {
  const char *name;            /* NULL: "default" */
  gboolean force;              /* replace an existing VM (never a running one) */
  const char *const *settings; /* "key=value" as for vxm config --set, applied first */
  const char *virtio_iso;      /* an http(s) URL to download, or a path to record */
  const char *virtio_sha256;   /* verify the download (or the file) against this */
  const char *qemu_img;        /* NULL: qemu-img from PATH */
  const char *swtpm_setup;     /* NULL: swtpm_setup from PATH */
} VxmVmInitOptions;

/* Called after each step: @step ("firmware", "disk", ...), what was done, how long it took. */
typedef void (*VxmVmInitStepFunc)(const char *step, const char *detail, double seconds,
                                  gpointer user_data);

/* Creates the VM. Its config is returned (NULL with @error on failure, nothing left behind). */
VxmVmConfig *vxm_vm_init(VxmHostfs *hostfs, const VxmVmInitOptions *options, VxmVmInitStepFunc step,
                         VxmDownloadProgressFunc download_progress, gpointer user_data,
                         GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
