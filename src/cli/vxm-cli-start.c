/* vxm start: builds the VM's QEMU and swtpm command lines and host steps (shown by --dry-run,
 * which changes nothing but the QEMU capability cache), then becomes the VM's supervisor:
 * attached with --foreground, else in the background (a re-executed `vxm start --foreground
 * --progress-fd=3` in its own session, logging to vxm.log) while this process shows the
 * progress it reports through a pipe, until the guest runs or the start failed. Every
 * decision is the start planner's (plan/vxm-start-planner.h); this file parses, asks and
 * prints. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>

#include "common/vxm-run-as.h"
#include "common/vxm-util.h"
#include "ops/vxm-host-ops-vxmd.h"
#include "plan/vxm-start-planner.h"
#include "supervisor/vxm-control-server.h"
#include "supervisor/vxm-supervisor.h"
#include "vm/vxm-vm-lock.h"
#include "vxm-cli-progress.h"
#include "vxm-cli-start-print.h"
#include "vxm-cli.h"

/* smbios = host as a user: the serials and the UUID are root's, vxmd reads them. NULL (with a
 * note) when vxmd cannot: the facts then read what this user may (and say what is missing);
 * a real start is refused anyway when vxmd cannot serve it. */
static VxmHostSmbios *
smbios_from_vxmd(gpointer user_data, GPtrArray *notes)
{
  g_autoptr(VxmHostOps) ops = vxm_host_ops_vxmd_new(user_data);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) identity = vxm_host_ops_dmi_identity(ops, &error);

  if (identity == NULL) {
    g_ptr_array_add(notes, g_strdup_printf("smbios = host: %s", error->message));
    return NULL;
  }
  return vxm_host_smbios_new_from_identity(json_node_get_object(identity));
}

static void
print_warning(const char *message, gpointer user_data)
{
  VxmCli *cli = user_data;

  (void)cli;
  g_printerr("vxm start: warning: %s\n", message);
}

/* The start plan for VM @name: its paths and config as the CLI finds them, the rest the
 * planner's. */
static VxmStartPlan *
build_plan(VxmCli *cli, VxmHostfs *hostfs, const char *name, GError **error)
{
  g_autoptr(VxmVmPaths) paths = vxm_cli_vm_paths(cli, name, error);
  g_autoptr(VxmVmConfig) config = NULL;
  VxmStartContext ctx = {.hostfs = hostfs};

  if (paths == NULL)
    return NULL;
  config = vxm_vm_config_load(paths, error);
  if (config == NULL)
    return NULL;
  if (config->smbios == VXM_VM_SMBIOS_HOST && geteuid() != 0)
    ctx.dmi = smbios_from_vxmd;
  if (!cli->quiet)
    ctx.warn = print_warning;
  ctx.user_data = hostfs;
  return vxm_start_plan_build(&ctx, g_steal_pointer(&paths), g_steal_pointer(&config), error);
}

typedef struct {
  VxmCliProgress *printer; /* --foreground: the terminal */
  int progress_fd;         /* background: the pipe to the waiting `vxm start`, -1 when closed */
  GMainLoop *loop;
  gboolean ran;      /* the guest reached running */
  char *toggle_line; /* --foreground: how to get the input back, printed once it runs */
  gboolean quiet;
} SuperviseContext;

static void
on_progress(VxmSupervisor *sv, JsonObject *event, gpointer user_data)
{
  SuperviseContext *ctx = user_data;

  if (ctx->printer != NULL)
    vxm_cli_progress_event(ctx->printer, event);
  if (!ctx->ran && vxm_supervisor_get_state(sv) == VXM_VM_STATE_RUNNING) {
    ctx->ran = TRUE;
    if (ctx->printer != NULL && ctx->toggle_line != NULL && !ctx->quiet) {
      vxm_cli_progress_clear(ctx->printer);
      g_print("%s\n", ctx->toggle_line);
    }
  }
  if (ctx->progress_fd >= 0) {
    g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), event);
    g_autofree char *text = json_to_string(node, FALSE);
    g_autofree char *line = g_strconcat(text, "\n", NULL);
    VxmVmState state = vxm_supervisor_get_state(sv);

    if (write(ctx->progress_fd, line, strlen(line)) < 0) {
      close(ctx->progress_fd); /* the waiting vxm start went away: go on alone */
      ctx->progress_fd = -1;
      return;
    }
    /* the waiting `vxm start` is done once the guest runs or the start has ended */
    if (g_strcmp0(json_object_get_string_member_with_default(event, "event", ""), "state") == 0 &&
        (state == VXM_VM_STATE_RUNNING || vxm_vm_state_is_final(state))) {
      close(ctx->progress_fd);
      ctx->progress_fd = -1;
    }
  }
}

static void
on_finished(VxmSupervisor *sv, gpointer user_data)
{
  SuperviseContext *ctx = user_data;

  (void)sv;
  g_main_loop_quit(ctx->loop);
}

static int
supervise(VxmCli *cli, VxmHostfs *hostfs, VxmSupervisorPlan *plan_in, int progress_fd)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmSupervisorPlan) plan = plan_in;
  g_autoptr(VxmHostOps) ops = vxm_cli_get_host_ops(cli, hostfs, &error);
  g_autoptr(VxmSupervisor) sv = NULL;
  g_autoptr(VxmControlServer) server = NULL;
  g_autoptr(VxmCliProgress) printer = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  SuperviseContext ctx = {.progress_fd = progress_fd, .loop = loop, .quiet = cli->quiet};
  g_autofree char *toggle_line =
      vxm_cli_start_toggle_line(plan->input_objects, plan->input_pending);
  g_autofree char *name = g_strdup(plan->paths->name);
  g_autofree char *vxm_log = vxm_vm_paths_display(plan->paths->vxm_log);
  guint shutdown_timeout = plan->shutdown_timeout_s;
  VxmVmState state;

  if (ops == NULL)
    return vxm_cli_fail(cli, error);
  /* a closed progress pipe must not kill the supervisor */
  signal(SIGPIPE, SIG_IGN);
  if (progress_fd < 0) {
    printer = vxm_cli_progress_new(cli);
    ctx.printer = printer;
    if (!cli->quiet)
      g_print("Starting VM %s (%s)\n", name, vxm_host_ops_describe(ops));
  }
  ctx.toggle_line = toggle_line;
  sv = vxm_supervisor_new(ops, g_steal_pointer(&plan));
  g_signal_connect(sv, "progress", G_CALLBACK(on_progress), &ctx);
  g_signal_connect(sv, "finished", G_CALLBACK(on_finished), &ctx);
  vxm_supervisor_handle_signals(sv);
  vxm_supervisor_start(sv);
  /* the control socket exists once the lock is ours (a refused start must not replace the
   * running supervisor's socket) */
  if (!vxm_vm_state_is_final(vxm_supervisor_get_state(sv))) {
    server = vxm_control_server_new(sv, &error);
    if (server == NULL) {
      g_printerr("vxm start: %s: `vxm stop` and `vxm status` cannot reach this VM\n",
                 error->message);
      g_clear_error(&error);
    }
    if (printer != NULL && !cli->quiet)
      g_print("  (Ctrl+C stops the guest: ACPI power-down, then quit after %u s)\n",
              shutdown_timeout);
    g_main_loop_run(loop);
  }
  state = vxm_supervisor_get_state(sv);
  if (printer != NULL) {
    GPtrArray *restored = vxm_supervisor_get_restored(sv);

    vxm_cli_progress_clear(printer);
    /* what a step's line already said is not said again */
    for (guint i = 0; i < restored->len && !cli->quiet; i++) {
      const char *line = g_ptr_array_index(restored, i);

      if (!vxm_cli_progress_was_shown(printer, line))
        g_print("  restored: %s\n", line);
    }
  }
  if (state == VXM_VM_STATE_FAILED) {
    g_printerr("vxm start: VM %s failed: %s\n  (supervisor log: %s)\n", name,
               vxm_supervisor_get_failure(sv), vxm_log);
    return VXM_EXIT_FAILURE;
  }
  if (printer != NULL && !cli->quiet && ctx.ran)
    g_print("VM %s stopped; the host is restored\n", name);
  else if (printer != NULL && !cli->quiet)
    g_print("The start of VM %s was cancelled before the guest ran; the host is restored\n", name);
  return VXM_EXIT_OK;
}

/* ---- the waiting side of a background start ---- */

static void
child_setup_session(gpointer data)
{
  (void)data;
  setsid(); /* no terminal: Ctrl+C in this shell does not reach the supervisor */
}

/* The plan in a sealed-off memory file the child reads as fd 4. */
static int
plan_memfd(const VxmSupervisorPlan *plan, GError **error)
{
  g_autoptr(JsonNode) node = vxm_supervisor_plan_to_json(plan);
  g_autofree char *text = json_to_string(node, FALSE);
  gsize length = strlen(text);
  int fd = memfd_create("vxm-plan", MFD_CLOEXEC);

  if (fd < 0) {
    vxm_error_set_from_errno(error, errno, "cannot hand the plan to the supervisor (memfd)");
    return -1;
  }
  if (write(fd, text, length) != (gssize)length || lseek(fd, 0, SEEK_SET) != 0) {
    vxm_error_set_from_errno(error, errno, "cannot hand the plan to the supervisor");
    close(fd);
    return -1;
  }
  return fd;
}

static VxmSupervisorPlan *
read_plan(int fd, GError **error)
{
  g_autoptr(GInputStream) in = g_unix_input_stream_new(fd, TRUE);
  g_autoptr(JsonParser) parser = json_parser_new();

  if (!json_parser_load_from_stream(parser, in, NULL, error)) {
    g_prefix_error(error, "cannot read the plan from vxm start: ");
    return NULL;
  }
  return vxm_supervisor_plan_from_json(json_parser_get_root(parser), error);
}

/* Ctrl+C while `vxm start` waits for a background start: the start is cancelled as with
 * --foreground (the supervisor stops what it began and restores the host), not left running
 * unseen. */
static volatile sig_atomic_t waiting_for_pid;
static volatile sig_atomic_t start_cancelled;

static void
on_wait_signal(int signum)
{
  static const char msg[] = "\nvxm start: cancelling: the supervisor undoes what it began and "
                            "restores the host\n";

  (void)signum;
  if (waiting_for_pid > 0 && !start_cancelled) {
    start_cancelled = 1;
    kill((pid_t)waiting_for_pid, SIGINT);
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
      /* nothing to do about it in a signal handler */
    }
  }
}

/* The supervisor reports "failed" after its teardown but before it releases the VM's lock and
 * exits: wait for that (GSubprocess reaps it on GLib's worker thread), so that after a failed
 * `vxm start` the VM is not still "running". Bounded: a supervisor that hangs there is left
 * to `vxm status`. */
static void
wait_supervisor_gone(GSubprocess *child)
{
  gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

  while (g_subprocess_get_identifier(child) != NULL && g_get_monotonic_time() < deadline)
    g_usleep(2000);
}

static int
start_background(VxmCli *cli, const VxmStartPlan *in)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GStrvBuilder) args = g_strv_builder_new();
  g_auto(GStrv) argv = NULL;
  g_autofree char *self_exe = g_file_read_link("/proc/self/exe", &error);
  g_autoptr(VxmCliProgress) printer = vxm_cli_progress_new(cli);
  g_autoptr(GInputStream) pipe_in = NULL;
  g_autoptr(GDataInputStream) lines = NULL;
  g_autofree char *vxm_log = vxm_vm_paths_display(in->paths->vxm_log);
  const char *name = in->config->name;
  const char *state;
  g_autoptr(VxmSupervisorPlan) plan = vxm_start_plan_to_supervisor_plan(in, &error);
  int fds[2];
  int log_fd;
  int plan_fd;

  if (self_exe == NULL || plan == NULL)
    return vxm_cli_fail(cli, error);
  plan_fd = plan_memfd(plan, &error);
  if (plan_fd < 0)
    return vxm_cli_fail(cli, error);
  if (g_mkdir_with_parents(in->paths->state_dir, 0700) < 0) {
    vxm_error_set_from_errno(&error, errno, "cannot create the log folder %s",
                             in->paths->state_dir);
    return vxm_cli_fail(cli, error);
  }
  log_fd = open(in->paths->vxm_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    close(plan_fd);
    vxm_error_set_from_errno(&error, errno, "cannot open %s", in->paths->vxm_log);
    return vxm_cli_fail(cli, error);
  }
  if (pipe2(fds, O_CLOEXEC) < 0) {
    close(log_fd);
    close(plan_fd);
    vxm_error_set_from_errno(&error, errno, "cannot make a pipe");
    return vxm_cli_fail(cli, error);
  }
  g_strv_builder_add_many(args, self_exe, "start", name, "--foreground", "--progress-fd=3",
                          "--plan-fd=4", NULL);
  if (cli->root_option != NULL)
    g_strv_builder_add_many(args, "--root", cli->root_option, NULL);
  argv = g_strv_builder_end(args);
  launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_take_stdout_fd(launcher, log_fd);
  g_subprocess_launcher_take_stderr_fd(launcher, dup(log_fd));
  g_subprocess_launcher_take_fd(launcher, fds[1], 3);
  g_subprocess_launcher_take_fd(launcher, plan_fd, 4);
  g_subprocess_launcher_set_child_setup(launcher, child_setup_session, NULL, NULL);
  vxm_debug_timing("start: spawning the supervisor");
  child = g_subprocess_launcher_spawnv(launcher, (const char *const *)argv, &error);
  g_clear_object(&launcher); /* closes our copy of the pipe's write end */
  if (child == NULL) {
    close(fds[0]);
    g_prefix_error(&error, "cannot start the supervisor: ");
    return vxm_cli_fail(cli, error);
  }
  if (!cli->quiet)
    g_print("Starting VM %s in the background (supervisor pid %s)\n", name,
            g_subprocess_get_identifier(child));
  {
    struct sigaction sa = {.sa_handler = on_wait_signal, .sa_flags = SA_RESTART};

    sigemptyset(&sa.sa_mask);
    waiting_for_pid = (sig_atomic_t)atoi(g_subprocess_get_identifier(child));
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
  }
  pipe_in = g_unix_input_stream_new(fds[0], TRUE);
  lines = g_data_input_stream_new(pipe_in);
  for (;;) {
    g_autofree char *line = g_data_input_stream_read_line_utf8(lines, NULL, NULL, NULL);
    g_autoptr(JsonParser) parser = json_parser_new();

    if (line == NULL)
      break;
    if (json_parser_load_from_data(parser, line, -1, NULL) &&
        JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
      vxm_cli_progress_event(printer, json_node_get_object(json_parser_get_root(parser)));
  }
  vxm_cli_progress_clear(printer);
  state = vxm_cli_progress_get_state(printer);
  if (start_cancelled && (state == NULL || g_strcmp0(state, "stopped") == 0)) {
    /* no state at all: the supervisor ended before it changed anything */
    g_printerr("vxm start: the start of VM %s was cancelled; the host is restored\n", name);
    return VXM_EXIT_FAILURE;
  }
  if (g_strcmp0(state, "running") == 0) {
    g_autofree char *toggle = vxm_cli_start_toggle_line(in->input_objects, in->input_pending);

    if (toggle != NULL && !cli->quiet)
      g_print("%s\n", toggle);
    if (!cli->quiet)
      g_print("VM %s is running. `vxm status %s` shows it, `vxm stop %s` stops it "
              "(log: %s)\n",
              name, name, name, vxm_log);
    return VXM_EXIT_OK;
  }
  wait_supervisor_gone(child);
  if (g_strcmp0(state, "failed") == 0) {
    g_printerr("vxm start: VM %s failed: %s\n  (supervisor log: %s)\n", name,
               vxm_cli_progress_get_reason(printer), vxm_log);
    return VXM_EXIT_FAILURE;
  }
  g_printerr("vxm start: the supervisor of VM %s ended before the guest ran%s%s: read %s\n", name,
             state ? " (last state: " : "", state ? state : "", vxm_log);
  return VXM_EXIT_FAILURE;
}

int
vxm_cli_cmd_start(VxmCli *cli, int argc, char **argv)
{
  gboolean dry_run = FALSE;
  gboolean json = FALSE;
  gboolean foreground = FALSE;
  gint progress_fd = -1;
  gint plan_fd = -1;
  const GOptionEntry entries[] = {
      /* no -f: that is --force in stop, detach and init */
      {"foreground", 0, 0, G_OPTION_ARG_NONE, &foreground,
       "Stay attached: show progress, and stop the guest on Ctrl+C", NULL},
      {"dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run,
       "Show the QEMU and swtpm command lines and the host steps; change nothing", NULL},
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "With --dry-run: print JSON", NULL},
      {"progress-fd", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &progress_fd,
       "(internal) report progress on this fd: the background supervisor", "FD"},
      {"plan-fd", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &plan_fd,
       "(internal) read the plan vxm start built from this fd", "FD"},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmStartPlan) in = NULL;
  VxmHostfs *hostfs;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, "[NAME]",
                     "Start a VM on the guest GPU: prepare the host, run swtpm and QEMU, and\n"
                     "supervise them; the host is restored when the guest stops.\n"
                     "In the background by default; the command returns once the guest runs\n"
                     "(exit 0) or the start failed (exit 1, with the reason and the log to read)."))
    return VXM_EXIT_USAGE;
  if (argc > 2)
    return vxm_cli_usage_error(cli, "too many arguments: give at most one VM name");
  if (json && !dry_run)
    return vxm_cli_usage_error(cli, "--json goes with --dry-run");
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL)
    return vxm_cli_fail(cli, error);
  if (plan_fd >= 0) {
    /* the background supervisor: run the plan the waiting vxm start built */
    VxmSupervisorPlan *plan = read_plan(plan_fd, &error);

    if (plan == NULL)
      return vxm_cli_fail(cli, error);
    return supervise(cli, hostfs, plan, progress_fd);
  }
  {
    /* a malformed name, or none among several VMs, is a bad command line */
    g_autoptr(VxmVmPaths) named = vxm_cli_vm_paths(cli, argc > 1 ? argv[1] : NULL, &error);

    if (named == NULL)
      return vxm_cli_fail_arg(cli, error);
    /* the cheapest known refusal first, before QEMU is probed and the host is read */
    if (!dry_run && vxm_vm_is_running(named)) {
      g_set_error(&error, VXM_ERROR, VXM_ERROR_BUSY,
                  "VM %s is already running: `vxm status %s` shows it, `vxm stop %s` stops it",
                  named->name, named->name, named->name);
      return vxm_cli_fail(cli, error);
    }
    in = build_plan(cli, hostfs, named->name, &error);
    if (in == NULL)
      return vxm_cli_fail(cli, error);
  }
  if (dry_run) {
    if (json) {
      g_autoptr(JsonNode) root = vxm_start_plan_to_json(in);

      vxm_cli_print_json(root);
    } else {
      vxm_cli_start_print_plan(cli, in);
    }
    return VXM_EXIT_OK;
  }
  if (geteuid() != 0) {
    /* refuse here, in the terminal, when vxmd cannot serve us (the supervisor asks again) */
    g_autoptr(VxmHostOps) ops = vxm_cli_get_host_ops(cli, hostfs, &error);

    if (ops == NULL)
      return vxm_cli_fail(cli, error);
  } else {
    /* root: QEMU and swtpm run as the sudo user, or not at all (the supervisor asks again) */
    g_autoptr(VxmRunAs) user = NULL;

    if (!vxm_run_as_for_children(&user, &error))
      return vxm_cli_fail(cli, error);
  }
  if (vxm_vm_is_running(in->paths)) {
    g_set_error(&error, VXM_ERROR, VXM_ERROR_BUSY,
                "VM %s is already running: `vxm status %s` shows it, `vxm stop %s` stops it",
                in->config->name, in->config->name, in->config->name);
    return vxm_cli_fail(cli, error);
  }
  for (guint i = 0; i < in->notes->len && !cli->quiet && progress_fd < 0; i++)
    g_printerr("vxm start: note: %s\n", (char *)g_ptr_array_index(in->notes, i));
  if (foreground || progress_fd >= 0) {
    VxmSupervisorPlan *plan = vxm_start_plan_to_supervisor_plan(in, &error);

    if (plan == NULL)
      return vxm_cli_fail(cli, error);
    return supervise(cli, hostfs, plan, progress_fd);
  }
  return start_background(cli, in);
}
