/* A child for the vxm-process tests: reports what it inherited, or exits as told.
 *   env               print the environment, one variable a line
 *   fds               print the open fd numbers, one a line
 *   write FD TEXT     write TEXT to fd FD
 *   pgid              print "leader" when it leads its own process group
 *   exit N            exit with status N
 *   raise SIG         kill itself with signal SIG
 *   hang              write "r" to fd 3 when open, wait forever (for terminate)
 *   hang-ignore-term  ignore SIGTERM, wait forever (for the SIGKILL escalation)
 *   out-err           write "to-stdout" to stdout and "to-stderr" to stderr
 *   open-hold PATH    open PATH read-write, print "held", wait forever (a QEMU holding a
 *                     device node); exit 1 silently when it cannot open it
 * Every mode ends with exit 0 unless it says otherwise. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int
main(int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "";

  if (strcmp(mode, "env") == 0) {
    for (char **e = environ; *e != NULL; e++)
      printf("%s\n", *e);
  } else if (strcmp(mode, "fds") == 0) {
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *ent;
    if (dir == NULL)
      return 3;
    while ((ent = readdir(dir)) != NULL) {
      if (ent->d_name[0] != '.' && atoi(ent->d_name) != dirfd(dir))
        printf("%s\n", ent->d_name);
    }
    closedir(dir);
  } else if (strcmp(mode, "open-hold") == 0 && argc == 3) {
    if (open(argv[2], O_RDWR | O_NOCTTY) < 0)
      return 1;
    printf("held\n");
    fflush(stdout);
    for (;;)
      pause();
  } else if (strcmp(mode, "write") == 0 && argc == 4) {
    if (write(atoi(argv[2]), argv[3], strlen(argv[3])) < 0)
      return 4;
  } else if (strcmp(mode, "pgid") == 0) {
    printf("%s\n", getpgid(0) == getpid() ? "leader" : "member");
  } else if (strcmp(mode, "exit") == 0 && argc == 3) {
    return atoi(argv[2]);
  } else if (strcmp(mode, "raise") == 0 && argc == 3) {
    raise(atoi(argv[2]));
    return 5;
  } else if (strcmp(mode, "hang") == 0 || strcmp(mode, "hang-ignore-term") == 0) {
    if (strcmp(mode, "hang-ignore-term") == 0)
      signal(SIGTERM, SIG_IGN);
    /* Tell a waiting test (fd 3, when given) that the disposition is in place. */
    (void)!write(3, "r", 1);
    for (;;)
      pause();
  } else if (strcmp(mode, "out-err") == 0) {
    printf("to-stdout\n");
    fflush(stdout);
    fprintf(stderr, "to-stderr\n");
  } else {
    fprintf(stderr, "vxm-test-child: unknown mode %s\n", mode);
    return 2;
  }
  return 0;
}
