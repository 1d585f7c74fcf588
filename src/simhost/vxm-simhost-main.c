/* vxm-simhost: the simulated workstation. Parses the command line, loads the machine file and
 * hands the host to the FUSE layer. */
#include <locale.h>
#include <stdio.h>
#include <sys/stat.h>

#include "vxm-config.h"
#include "vxm-sim-fuse.h"
#include "vxm-sim-host.h"

static const char description[] =
    "Presents a simulated Linux workstation as a whole host root: /sys (PCI devices under\n"
    "their bridges, drivers, IOMMU groups, DRM nodes), /dev (vfio, dri, nvidia, kvm), /proc\n"
    "(cmdline, meminfo, cpuinfo, processes holding GPU nodes, sys/vm), hugepage pools per\n"
    "NUMA node, writable in-memory /run, /etc and /dev/shm, and /usr/share passed through\n"
    "read-only. Writes get the kernel's reactions: bind, unbind, driver_override,\n"
    "drivers_probe, new_id and remove_id; /dev/vfio/N appears when a group's first device\n"
    "binds to vfio-pci and goes with the last; NVIDIA's unbind waits for the card's holders;\n"
    "hugepage reservations get what fragmented memory can give until compact_memory.\n"
    "Point vxm at it with --root MOUNTPOINT.\n"
    "\n"
    "The machine file (GKeyFile; see tests/simhost/README.md) describes [machine] facts,\n"
    "[driver NAME] id tables, [pci BDF] devices, [process PID] holders, [hugepages] pools and\n"
    "[file PATH] seeds.\n"
    "\n"
    "Control folder MOUNTPOINT/.simhost (not part of the host):\n"
    "  log      every operation since mount: '<seq> <op> <path> [<value>] -> <result>';\n"
    "           writing anything clears it\n"
    "  faults   write one rule per line: 'OP PATH-GLOB [value=GLOB] ACTION [count=N]' with\n"
    "           OP write|open|chown|chmod|create|mkdir|unlink|rmdir|rename|ioctl|any and\n"
    "           ACTION errno=NAME | delay=MS | hang | vanish; 'clear' removes all; read lists\n"
    "  release  writing anything lets every hung operation go on\n"
    "  state    canonical dump of the mutable host state (drivers, overrides, dynamic ids,\n"
    "           /dev nodes with owner and mode, processes)\n"
    "  unplug   write a BDF: hot-unplug that device; replug: write a BDF to bring it back\n"
    "  input    the evdev devices ([input NAME]); read: one line each, 'input NAME eventN\n"
    "           plugged|unplugged grab=COMM|none clients=N'; write one command a line:\n"
    "           'NAME CODE VALUE[, CODE VALUE...]' queues events then SYN_REPORT (codes by\n"
    "           name like KEY_LEFTCTRL, BTN_LEFT, REL_X, or TYPE:CODE numbers);\n"
    "           'unplug NAME' takes the node, sysfs folder and by-id/by-path links away;\n"
    "           'replug NAME' brings the device back as the same eventN, 'replug NAME\n"
    "           eventM' as a new node eventM (the links then lead to it), as real kernels\n"
    "           often do\n"
    "  kill     write a PID: that simulated process exits\n"
    "  hung     number of operations blocked in a hang\n"
    "  ready    exists once the mount is serving\n"
    "\n"
    "Exit status: 0 after a clean unmount, 1 on a bad machine file or mount failure, 2 on\n"
    "a usage error. Stop it with fusermount3 -u MOUNTPOINT or SIGTERM.";

int
main(int argc, char **argv)
{
  g_autofree char *machine = NULL;
  g_autofree char *options = NULL;
  gboolean foreground = FALSE;
  gboolean verbose = FALSE;
  gboolean debug = FALSE;
  gboolean check = FALSE;
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
      {"machine", 'm', 0, G_OPTION_ARG_FILENAME, &machine, "Machine file to simulate", "FILE"},
      {"foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground, "Stay in the foreground", NULL},
      {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print the operation log on stderr", NULL},
      {"check", 0, 0, G_OPTION_ARG_NONE, &check,
       "Load the machine file, print its state dump and exit without mounting", NULL},
      {"debug", 'd', 0, G_OPTION_ARG_NONE, &debug, "libfuse debug output (implies -f)", NULL},
      {"options", 'o', 0, G_OPTION_ARG_STRING, &options, "Extra FUSE mount options", "OPTS"},
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
      {NULL}};
  g_autoptr(GOptionContext) context = g_option_context_new("MOUNTPOINT - simulated workstation");
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmSimHost) host = NULL;
  struct stat st;

  setlocale(LC_ALL, "");
  g_option_context_add_main_entries(context, entries, NULL);
  g_option_context_set_description(context, description);
  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    g_printerr("vxm-simhost: %s (see --help)\n", error->message);
    return 2;
  }
  if (version) {
    g_print("vxm-simhost %s\n", VXM_VERSION);
    return 0;
  }
  if (machine == NULL) {
    g_printerr("vxm-simhost: --machine FILE is required (see --help)\n");
    return 2;
  }
  if (!check && argc != 2) {
    g_printerr("vxm-simhost: give exactly one MOUNTPOINT (see --help)\n");
    return 2;
  }
  host = vxm_sim_host_new(machine, verbose, &error);
  if (host == NULL) {
    g_printerr("vxm-simhost: %s\n", error->message);
    return 1;
  }
  if (check) {
    g_autofree char *state = vxm_sim_host_dump_state(host);
    g_print("%s", state);
    return 0;
  }
  if (stat(argv[1], &st) != 0 || !S_ISDIR(st.st_mode)) {
    g_printerr("vxm-simhost: mount point %s is not a folder; create it first\n", argv[1]);
    return 1;
  }
  return vxm_sim_fuse_run(host, argv[1], foreground || debug, debug, options);
}
