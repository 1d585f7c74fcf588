/* vxm-swtpm-argv: the swtpm command line of a VM (TPM 2.0 emulator for QEMU's tpm-crb).
 *
 * Pure, like the QEMU builder. swtpm's option parser has no escape for commas, so a state
 * folder, socket or log path with a comma is refused with the fix rather than misparsed.
 */
#pragma once

#include "vm/vxm-vm-paths.h"

G_BEGIN_DECLS

/* `swtpm socket --tpm2 --tpmstate dir=DIR,mode=0600 --ctrl type=unixio,path=SOCK,mode=0600
 *  --terminate --log file=LOG`; @swtpm_binary NULL means "swtpm" (looked up in PATH). */
GStrv vxm_swtpm_argv_build(const VxmVmPaths *paths, const char *swtpm_binary,
                           GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
