/* vxm-test-evdev-shim: an LD_PRELOAD for the real QEMU in input tests (never installed).
 *
 * evdev's EVIOCGRAB takes its argument by value (ioctl(fd, EVIOCGRAB, 1)) although its number
 * says _IOW(int). A FUSE regular file gets an _IOW ioctl's argument only by copying
 * _IOC_SIZE bytes from the address given, so on the simulated /dev/input/eventN the kernel
 * fails QEMU's grab with EFAULT before vxm-simhost sees it (tried on this machine; no CUSE or
 * uinput here to serve a real character device). This shim passes EVIOCGRAB's value by
 * reference for files on a FUSE mount, and nothing else: every other ioctl, and EVIOCGRAB on
 * real evdev nodes, goes through untouched.
 */

#include <dlfcn.h>
#include <linux/input.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>

#define VXM_FUSE_SUPER_MAGIC 0x65735546

int ioctl(int fd, unsigned long request, ...);

int
ioctl(int fd, unsigned long request, ...)
{
  static int (*real_ioctl)(int, unsigned long, ...);
  va_list ap;
  void *arg;

  va_start(ap, request);
  arg = va_arg(ap, void *);
  va_end(ap);
  if (real_ioctl == NULL)
    real_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
  if (request == EVIOCGRAB) {
    struct statfs st;

    if (fstatfs(fd, &st) == 0 && st.f_type == VXM_FUSE_SUPER_MAGIC) {
      int value = (int)(intptr_t)arg;
      return real_ioctl(fd, request, &value);
    }
  }
  return real_ioctl(fd, request, arg);
}
