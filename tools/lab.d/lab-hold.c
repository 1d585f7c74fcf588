/* tools/lab: holds a device node open (read-write, else read-only) until killed, as a
 * compositor holds a GPU's /dev/dri/cardN. Prints "holding PATH" once it is open. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: lab-hold PATH\n");
    return 1;
  }
  int fd = open(argv[1], O_RDWR | O_CLOEXEC);
  if (fd < 0)
    fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "lab-hold: open %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  printf("holding %s\n", argv[1]);
  fflush(stdout);
  for (;;)
    pause();
}
