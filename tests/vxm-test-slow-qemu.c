/* vxm-test-slow-qemu: qemu-system-x86_64 read by a slow reader.
 *
 * It runs qemu-system-x86_64 (from PATH, or /bin:/usr/bin when PATH is unset) with its own
 * arguments and stdin, and relays QEMU's stdout through a pipe it reads 4 KiB at a time, 50 ms
 * apart: what vxm sees when it reads QEMU's answers on a loaded machine. QEMU's output fills the
 * pipe and waits in QEMU's own buffer, so a QEMU told to quit too early loses its last answers.
 * It exits with QEMU's status. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
  int fds[2];
  pid_t pid;
  int status;
  char buf[4096];
  const struct timespec pause = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};

  (void)argc;
  if (pipe(fds) < 0) {
    perror("vxm-test-slow-qemu: pipe");
    return 125;
  }
  pid = fork();
  if (pid < 0) {
    perror("vxm-test-slow-qemu: fork");
    return 125;
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    argv[0] = (char *)"qemu-system-x86_64";
    execvp(argv[0], argv);
    perror("vxm-test-slow-qemu: qemu-system-x86_64");
    _exit(127);
  }
  close(fds[1]);
  signal(SIGPIPE, SIG_IGN);
  for (;;) {
    ssize_t n;

    nanosleep(&pause, NULL);
    n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if (write(STDOUT_FILENO, buf, (size_t)n) != n)
      break;
  }
  close(fds[0]);
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return 125;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
