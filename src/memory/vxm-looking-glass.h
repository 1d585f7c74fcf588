/* vxm-looking-glass: the shared memory Looking Glass copies guest frames through.
 *
 * looking_glass = off | 32M | 64M | 128M | ... | auto. auto sizes it for the guest's resolution
 * the way Looking Glass documents it: two frames of width x height x 4 bytes, plus 10 MiB,
 * rounded up to a power of two in MiB (1080p: 32 MiB, 1440p: 64 MiB, 4K: 128 MiB).
 *
 * The KVMFR module's /dev/kvmfr0 is used when present (its size is the module's
 * static_size_mb). Otherwise vxm creates /dev/shm/looking-glass itself, safely, because
 * /dev/shm is writable by everyone: the file is opened relative to the /dev/shm folder with
 * O_CREAT|O_EXCL|O_NOFOLLOW, so a planted symbolic link is never followed; an existing file is
 * reused only when it is a plain file with one link owned by the VM's user, never when someone
 * else owns it; it is given to the user, mode 0660, and sized. It is removed at stop (only if
 * it is still the file vxm made: same device and inode). QEMU gets it as memory-backend-file +
 * ivshmem-plain (the argv builder).
 */
#pragma once

#include <sys/types.h>

#include "common/vxm-hostfs.h"
#include "journal/vxm-journal.h"

G_BEGIN_DECLS

typedef struct _VxmVmConfig VxmVmConfig; /* vm/vxm-vm-config.h */

#define VXM_LOOKING_GLASS_SHM_NAME     "looking-glass"
#define VXM_LOOKING_GLASS_JOURNAL_KIND "looking-glass"
/* auto without a known resolution (no monitor configured, or not connected when the VM is
 * planned): sized for 4K, so it is never too small: 128 MiB. */
#define VXM_LOOKING_GLASS_DEFAULT_WIDTH  3840
#define VXM_LOOKING_GLASS_DEFAULT_HEIGHT 2160

typedef enum {
  VXM_LOOKING_GLASS_KVMFR, /* /dev/kvmfr0 from the KVMFR module */
  VXM_LOOKING_GLASS_SHM,   /* /dev/shm/looking-glass made by vxm */
} VxmLookingGlassKind;

typedef struct {
  VxmLookingGlassKind kind;
  char *host_path;  /* "/dev/kvmfr0" or "/dev/shm/looking-glass" */
  char *local_path; /* the same under the host root: what QEMU opens */
  guint64 size;     /* bytes QEMU maps */
  gboolean owned;   /* vxm made (or took over) the file: removed at stop */
  dev_t dev;        /* identity of the owned file */
  ino_t ino;
  gint journal_index;
} VxmLookingGlass;

/* Looking Glass's formula (SDR, 4 bytes a pixel): bytes, a power of two. */
guint64 vxm_looking_glass_size_for_resolution(guint width, guint height);

/* The size a VM asks for: 0 when off; auto from @width x @height (0 x 0: the 4K default). */
guint64 vxm_looking_glass_size_from_config(const VxmVmConfig *config, guint width, guint height);

/* /dev/kvmfr0's size (the kvmfr module's static_size_mb, the first device's) against @size:
 * REFUSED when the device is smaller (QEMU would fail to map it), with both sizes and the
 * module option that fixes it. TRUE without /dev/kvmfr0 or when its size cannot be read. */
gboolean vxm_looking_glass_check_kvmfr(VxmHostfs *hostfs, guint64 size,
                                       GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Makes the shared memory ready for a guest: /dev/kvmfr0 if present (REFUSED when smaller than
 * @size, vxm_looking_glass_check_kvmfr()), else creates
 * /dev/shm/looking-glass for @uid:@gid (mode 0660, @size bytes). REFUSED for a planted
 * symbolic link, a file of another owner, a non-regular file or one with several links.
 * @journal (may be NULL) gets a "looking-glass" entry before the file is made. */
VxmLookingGlass *vxm_looking_glass_prepare(VxmHostfs *hostfs, guint64 size, uid_t uid, gid_t gid,
                                           VxmJournal *journal,
                                           GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Removes the file vxm made (nothing for kvmfr, or a file that was replaced since) and marks
 * the journal entry undone. Idempotent. */
gboolean vxm_looking_glass_remove(VxmLookingGlass *self, VxmHostfs *hostfs, VxmJournal *journal,
                                  GError **error) G_GNUC_WARN_UNUSED_RESULT;

void vxm_looking_glass_free(VxmLookingGlass *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmLookingGlass, vxm_looking_glass_free)

/* Registers the undo of "looking-glass" journal entries (idempotent). */
void vxm_looking_glass_register_journal_kind(void);

G_END_DECLS
