/* vxm-vxmd-caps: vxmd's capability set (no libcap: prctl and two syscalls). */
#include "vxmd/vxm-vxmd-caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/vxm-error.h"

#define BIT(cap) (G_GUINT64_CONSTANT(1) << (cap))

guint64
vxm_vxmd_capabilities(void)
{
  /* why each is needed: data/systemd/vxmd.service, docs/vxmd.md */
  return BIT(CAP_DAC_READ_SEARCH) | BIT(CAP_CHOWN) | BIT(CAP_SYS_RESOURCE) | BIT(CAP_SYS_PTRACE) |
         BIT(CAP_SYS_MODULE);
}

gboolean
vxm_vxmd_limit_capabilities(GError **error)
{
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
  struct __user_cap_data_struct data[2];
  guint64 keep = vxm_vxmd_capabilities();

  /* the bounding set first: dropping from it takes CAP_SETPCAP, which the capset below drops */
  for (int cap = 0; cap < 64; cap++) {
    int in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

    if (in < 0)
      break; /* past the kernel's last capability */
    if (in == 0 || (keep & BIT(cap)) != 0)
      continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
      return vxm_error_set_from_errno(error, errno,
                                      "cannot drop capability %d from vxmd's bounding set (it "
                                      "needs CAP_SETPCAP, or a bounding set already limited)",
                                      cap);
  }
  /* absent on kernels before 4.3: nothing to clear there */
  (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (syscall(SYS_capget, &header, data) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot read vxmd's capabilities");
  data[0].permitted &= (guint32)keep;
  data[1].permitted &= (guint32)(keep >> 32);
  data[0].effective &= data[0].permitted;
  data[1].effective &= data[1].permitted;
  data[0].inheritable = data[1].inheritable = 0;
  if (syscall(SYS_capset, &header, data) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot narrow vxmd's capabilities");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot set no_new_privs");
  return TRUE;
}
