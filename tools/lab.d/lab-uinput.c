/* tools/lab: a keyboard and a mouse made with uinput, as a person's would be. Prints
 * "keyboard eventN" and "mouse eventM" once both exist, then types Ctrl+Ctrl at each SIGUSR1
 * (both Ctrl keys held together, then let go: what QEMU's input-linux grab-toggle=ctrl-ctrl
 * waits for, and what vxm tells the user; one Ctrl pressed twice does nothing), and removes
 * both devices at SIGTERM. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/uinput.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t typed, quit;

static void
on_usr1(int sig)
{
  (void)sig;
  typed++;
}

static void
on_term(int sig)
{
  (void)sig;
  quit = 1;
}

static void
die(const char *what)
{
  fprintf(stderr, "lab-uinput: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void
emit(int fd, int type, int code, int value)
{
  struct input_event ev = {.type = type, .code = code, .value = value};
  if (write(fd, &ev, sizeof ev) != (ssize_t)sizeof ev)
    die("write to /dev/uinput");
}

static void
pause_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* /sys/devices/virtual/input/inputN/eventM of a uinput device */
static void
event_name(int fd, char *out, size_t len)
{
  char sys[64], path[160];
  if (ioctl(fd, UI_GET_SYSNAME(sizeof sys), sys) < 0)
    die("UI_GET_SYSNAME");
  snprintf(path, sizeof path, "/sys/devices/virtual/input/%s", sys);
  for (int i = 0; i < 100; i++) {
    DIR *d = opendir(path);
    if (d) {
      struct dirent *e;
      while ((e = readdir(d)))
        if (strncmp(e->d_name, "event", 5) == 0) {
          snprintf(out, len, "%s", e->d_name);
          closedir(d);
          return;
        }
      closedir(d);
    }
    pause_ms(50);
  }
  errno = ENOENT;
  die(path);
}

static int
make(const char *name, int mouse)
{
  int fd = open("/dev/uinput", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    die("open /dev/uinput");
  if (mouse) {
    ioctl(fd, UI_SET_EVBIT, EV_KEY);
    ioctl(fd, UI_SET_KEYBIT, BTN_LEFT);
    ioctl(fd, UI_SET_KEYBIT, BTN_RIGHT);
    ioctl(fd, UI_SET_KEYBIT, BTN_MIDDLE);
    ioctl(fd, UI_SET_EVBIT, EV_REL);
    ioctl(fd, UI_SET_RELBIT, REL_X);
    ioctl(fd, UI_SET_RELBIT, REL_Y);
    ioctl(fd, UI_SET_RELBIT, REL_WHEEL);
  } else {
    ioctl(fd, UI_SET_EVBIT, EV_KEY);
    ioctl(fd, UI_SET_EVBIT, EV_REP);
    for (int k = KEY_ESC; k <= KEY_KPDOT; k++)
      ioctl(fd, UI_SET_KEYBIT, k);
    ioctl(fd, UI_SET_KEYBIT, KEY_RIGHTCTRL);
  }
  struct uinput_setup us = {.id = {.bustype = BUS_USB, .vendor = 0x1234, .product = mouse ? 2 : 1}};
  snprintf(us.name, sizeof us.name, "%s", name);
  if (ioctl(fd, UI_DEV_SETUP, &us) < 0)
    die("UI_DEV_SETUP");
  if (ioctl(fd, UI_DEV_CREATE) < 0)
    die("UI_DEV_CREATE");
  return fd;
}

int
main(void)
{
  signal(SIGUSR1, on_usr1);
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  int kbd = make("vxm-lab keyboard", 0), mouse = make("vxm-lab mouse", 1);
  char kname[300], mname[300];
  event_name(kbd, kname, sizeof kname);
  event_name(mouse, mname, sizeof mname);
  printf("keyboard %s\nmouse %s\n", kname, mname);
  fflush(stdout);
  int done = 0;
  while (!quit) {
    pause(); /* a signal wakes it */
    while (done < typed) {
      static const int keys[] = {KEY_LEFTCTRL, KEY_RIGHTCTRL};
      for (int down = 1; down >= 0; down--) {
        for (int i = 0; i < 2; i++) {
          emit(kbd, EV_KEY, keys[i], down);
          emit(kbd, EV_SYN, SYN_REPORT, 0);
          pause_ms(60);
        }
      }
      done++;
      printf("typed %d\n", done);
      fflush(stdout);
    }
  }
  ioctl(kbd, UI_DEV_DESTROY);
  ioctl(mouse, UI_DEV_DESTROY);
  return 0;
}
