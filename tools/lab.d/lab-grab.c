/* tools/lab: tries EVIOCGRAB on an evdev node as another process would, and lets go at once.
 * Prints "grabbed" (exit 0), "EBUSY" (exit 2: someone else holds the grab) or the error
 * (exit 1). */
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: lab-grab /dev/input/eventN\n");
    return 1;
  }
  int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "lab-grab: open %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  if (ioctl(fd, EVIOCGRAB, 1) == 0) {
    ioctl(fd, EVIOCGRAB, 0);
    puts("grabbed");
    return 0;
  }
  if (errno == EBUSY) {
    puts("EBUSY");
    return 2;
  }
  fprintf(stderr, "lab-grab: EVIOCGRAB %s: %s\n", argv[1], strerror(errno));
  return 1;
}
