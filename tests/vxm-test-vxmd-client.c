/* vxm-test-vxmd-client: a raw vxmd client for the hostile tests, run as the test's user.
 *
 *   vxm-test-vxmd-client SOCKET MODE [ARG]
 *     line TEXT      send TEXT + "\n"
 *     raw-hex HEX    send these bytes as they are, then shut the write side
 *     big N          send N bytes of 'x' and no newline
 *     hold           connect, send nothing, wait for vxmd to hang up (prints "dropped"; a
 *                    refusal vxmd sends first is printed instead)
 *     memlock-pid PID BYTES   raise-memlock for VM "alpha" with a pidfd of PID
 *     memlock-self BYTES      ... with a pidfd of this process
 *     memlock-dead BYTES      ... with a pidfd of a child that has exited and been reaped
 *     memlock-nofd BYTES      ... with /dev/null's fd instead of a pidfd
 *     two-lines FIRST SECOND  send FIRST, print its reply, wait for a line on stdin, then send
 *                    SECOND on a new connection (the same process: a supervisor that lives
 *                    through a vxmd restart); exits as for SECOND's reply
 * Prints vxmd's reply line; exits 0 for an ok reply, 1 for a refusal, 3 when it cannot connect.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int
send_with_fd(int s, const char *data, size_t len, int fd)
{
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

  if (fd >= 0) {
    struct cmsghdr *c;
    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  return sendmsg(s, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

int
main(int argc, char **argv)
{
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  char reply[70000];
  size_t got = 0;
  int s, fd = -1;
  char *data = NULL;
  size_t len = 0;
  int shut = 0;

  if (argc < 3)
    return 2;
  if (strcmp(argv[2], "two-lines") == 0 && argc > 4) {
    char *first_argv[] = {argv[0], argv[1], (char *)"line", argv[3], NULL};
    char *second_argv[] = {argv[0], argv[1], (char *)"line", argv[4], NULL};
    char wait_line[16];

    main(4, first_argv);
    if (fgets(wait_line, sizeof wait_line, stdin) == NULL)
      return 2;
    return main(4, second_argv);
  }
  s = socket(AF_UNIX, SOCK_STREAM, 0);
  strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
  if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
    perror("connect");
    return 3;
  }
  if (strcmp(argv[2], "line") == 0 && argc > 3) {
    len = strlen(argv[3]) + 1;
    data = malloc(len + 1);
    snprintf(data, len + 1, "%s\n", argv[3]);
  } else if (strcmp(argv[2], "raw-hex") == 0 && argc > 3) {
    len = strlen(argv[3]) / 2;
    data = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
      sscanf(argv[3] + 2 * i, "%2hhx", (unsigned char *)&data[i]);
    shut = 1;
  } else if (strcmp(argv[2], "big") == 0 && argc > 3) {
    len = (size_t)atol(argv[3]);
    data = malloc(len);
    memset(data, 'x', len);
  } else if (strcmp(argv[2], "hold") == 0) {
    char answer[4096];
    ssize_t n = read(s, answer, sizeof answer - 1);

    if (n <= 0) {
      printf("dropped\n");
      return 0;
    }
    answer[n] = '\0';
    printf("%s", answer);
    return 1;
  } else if (strncmp(argv[2], "memlock-", 8) == 0) {
    const char *bytes = argv[argc - 1];
    pid_t pid = 0;

    if (strcmp(argv[2], "memlock-pid") == 0 && argc > 4)
      pid = atoi(argv[3]);
    else if (strcmp(argv[2], "memlock-self") == 0)
      pid = getpid();
    if (pid > 0) {
      fd = (int)syscall(SYS_pidfd_open, pid, 0);
    } else if (strcmp(argv[2], "memlock-dead") == 0) {
      pid_t child = fork();
      if (child == 0)
        _exit(0);
      fd = (int)syscall(SYS_pidfd_open, child, 0);
      waitpid(child, NULL, 0);
    } else if (strcmp(argv[2], "memlock-nofd") == 0) {
      fd = open("/dev/null", O_RDONLY);
    }
    if (fd < 0 && strcmp(argv[2], "memlock-none") != 0) {
      perror("pidfd_open");
      return 2;
    }
    len = (size_t)asprintf(
        &data, "{\"vxmd\":1,\"request\":\"raise-memlock\",\"vm\":\"alpha\",\"bytes\":%s}\n", bytes);
  } else {
    return 2;
  }
  for (size_t off = 0; off < len;) {
    size_t chunk = len - off > 65536 ? 65536 : len - off;
    if (off == 0 ? send_with_fd(s, data, chunk, fd) != 0
                 : send(s, data + off, chunk, MSG_NOSIGNAL) != (ssize_t)chunk)
      break;
    off += chunk;
  }
  if (shut)
    shutdown(s, SHUT_WR);
  for (;;) {
    ssize_t n = read(s, reply + got, sizeof reply - 1 - got);
    if (n <= 0)
      break;
    got += (size_t)n;
    if (memchr(reply, '\n', got) != NULL)
      break;
  }
  reply[got] = '\0';
  close(s);
  free(data);
  fputs(reply, stdout);
  fflush(stdout);
  return strstr(reply, "\"ok\":true") != NULL ? 0 : 1;
}
