/* vxmd: the privileged helper's main (the logic is vxm-vxmd in the core library).
 *
 *   vxmd [--root DIR] [--group NAME] [--idle-timeout-ms N] | vxmd --version
 *
 * The root comes only from this command line, never from the environment: whoever can set
 * vxmd's environment must not be able to point it at another tree. */
#include <glib-unix.h>
#include <locale.h>
#include <signal.h>

#include "common/vxm-host-system.h"
#include "vxmd/vxm-vxmd-caps.h"
#include "vxmd/vxm-vxmd.h"
#include "vxm-config.h"

static gboolean
on_signal(gpointer user_data)
{
  g_main_loop_quit(user_data);
  return G_SOURCE_REMOVE;
}

int
main(int argc, char **argv)
{
  g_autofree char *root = NULL;
  g_autofree char *group = NULL;
  gint idle_timeout_ms = 0;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
      {"root", 0, 0, G_OPTION_ARG_FILENAME, &root, "The host's / (tests and demos)", "DIR"},
      {"group", 0, 0, G_OPTION_ARG_STRING, &group, "The group allowed to ask (default vxm)",
       "NAME"},
      {"idle-timeout-ms", 0, 0, G_OPTION_ARG_INT, &idle_timeout_ms,
       "Drop a connection silent this long (default 10000)", "MS"},
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
      {NULL}};
  g_autoptr(GOptionContext) context = g_option_context_new("- the vxm privileged helper");
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmVxmd) daemon = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
  VxmVxmdOptions options = {0};
  int fd;

  setlocale(LC_ALL, "");
  signal(SIGPIPE, SIG_IGN);
  g_option_context_add_main_entries(context, entries, NULL);
  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    g_printerr("vxmd: %s\n", error->message);
    return 2;
  }
  /* before the root check: the package check and a user asking run it unprivileged */
  if (version) {
    g_print("vxmd %s\n", VXM_VERSION);
    return 0;
  }
  if (geteuid() != 0) {
    g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(root);
    g_autofree char *enable = vxm_host_system_vxmd_enable_command(hostfs);

    g_printerr("vxmd: must run as root (the init starts it: %s)\n", enable);
    return 1;
  }
  /* the same capabilities whether systemd (the unit's bounding set), OpenRC or a test
   * started it */
  if (!vxm_vxmd_limit_capabilities(&error)) {
    g_printerr("vxmd: %s\n", error->message);
    return 1;
  }
  options.root = root;
  options.group = group;
  options.idle_timeout_ms = idle_timeout_ms > 0 ? (guint)idle_timeout_ms : 0;
  daemon = vxm_vxmd_new(&options, &error);
  if (daemon == NULL) {
    g_printerr("vxmd: %s\n", error->message);
    return 1;
  }
  fd = vxm_vxmd_socket_from_systemd(&error);
  if (fd == -2) {
    g_printerr("vxmd: %s\n", error->message);
    return 1;
  }
  vxm_vxmd_recover_orphans(daemon, report);
  for (guint i = 0; i < report->len; i++)
    g_message("%s", (const char *)g_ptr_array_index(report, i));
  if (!vxm_vxmd_listen(daemon, fd, &error)) {
    g_printerr("vxmd: %s\n", error->message);
    return 1;
  }
  g_message("vxmd ready (%s)", fd >= 0 ? "socket from systemd" : "own socket");
  g_unix_signal_add(SIGTERM, on_signal, loop);
  g_unix_signal_add(SIGINT, on_signal, loop);
  g_main_loop_run(loop);
  return 0;
}
