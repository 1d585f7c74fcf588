/* vxm init [NAME] [--force] [--set KEY=VALUE]... [--disk-size SIZE] [--virtio-iso URL|PATH
 * [--sha256 HEX]] */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/vxm-util.h"
#include "vm/vxm-vm-init.h"
#include "vxm-cli.h"

typedef struct {
  VxmCli *cli;
  gboolean tty;
  guint last_decile; /* plain output: one line per 10% */
  gboolean bar_drawn;
  GPtrArray *done; /* --json: "step: detail (s)" lines, else NULL */
} Output;

static void
on_step(const char *step, const char *detail, double seconds, gpointer data)
{
  Output *o = data;

  if (o->done != NULL) {
    g_ptr_array_add(o->done, g_strdup_printf("%s: %s (%.2f s)", step, detail, seconds));
    return;
  }
  if (o->cli->quiet)
    return;
  if (o->bar_drawn) {
    g_print("\n");
    o->bar_drawn = FALSE;
  }
  g_print("  %-11s %s  (%.2f s)\n", step, detail, seconds);
}

static void
on_download(const VxmDownloadProgress *p, gpointer data)
{
  Output *o = data;
  g_autofree char *got = vxm_format_bytes(p->received);
  g_autofree char *total = p->total ? vxm_format_bytes(p->total) : g_strdup("?");
  double mibs = p->bytes_per_second / (1024.0 * 1024.0);
  guint percent = p->total ? (guint)(p->received * 100 / p->total) : 0;

  if (o->cli->quiet || o->done != NULL)
    return;
  if (o->tty) {
    char eta[32] = "--:--";
    const guint width = 30;
    guint filled = p->total ? (guint)(p->received * width / p->total) : 0;
    char bar[64];

    if (p->total && p->bytes_per_second > 0) {
      guint64 left =
          (guint64)((double)(p->total - MIN(p->received, p->total)) / p->bytes_per_second);
      g_snprintf(eta, sizeof eta, "%" G_GUINT64_FORMAT ":%02" G_GUINT64_FORMAT, left / 60,
                 left % 60);
    }
    for (guint i = 0; i < width; i++)
      bar[i] = i < filled ? '#' : '-';
    bar[width] = '\0';
    g_print("\r  download    [%s] %3u%%  %s of %s  %.1f MiB/s  ETA %s ", bar, percent, got, total,
            mibs, eta);
    o->bar_drawn = TRUE;
    fflush(stdout);
    return;
  }
  if (p->finished || (p->total && percent / 10 > o->last_decile)) {
    o->last_decile = percent / 10;
    g_print("  download    %u%%  %s of %s  %.1f MiB/s%s\n", percent, got, total, mibs,
            p->resumed_from ? "  (resumed)" : "");
  }
}

int
vxm_cli_cmd_init(VxmCli *cli, int argc, char **argv)
{
  gboolean opt_force = FALSE, opt_json = FALSE;
  g_autoptr(GPtrArray) done = g_ptr_array_new_with_free_func(g_free);
  g_auto(GStrv) opt_set = NULL;
  g_autofree char *opt_disk_size = NULL;
  g_autofree char *opt_virtio = NULL;
  g_autofree char *opt_sha256 = NULL;
  const GOptionEntry entries[] = {
      {"force", 0, 0, G_OPTION_ARG_NONE, &opt_force,
       "Replace an existing VM (its disk, UEFI variables and TPM state are lost)", NULL},
      {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_set,
       "Set a config key before creating anything (as vxm config --set); repeatable", "KEY=VALUE"},
      {"disk-size", 0, 0, G_OPTION_ARG_STRING, &opt_disk_size,
       "Size of the new disk (default 128G)", "SIZE"},
      {"virtio-iso", 0, 0, G_OPTION_ARG_STRING, &opt_virtio,
       "The virtio-win drivers ISO: an https:// URL to download, or a file to use", "URL|PATH"},
      {"sha256", 0, 0, G_OPTION_ARG_STRING, &opt_sha256,
       "Verify the virtio-win ISO against this SHA-256", "HEX"},
      {"json", 0, 0, G_OPTION_ARG_NONE, &opt_json,
       "Print the outcome as JSON ({name, state: created, done: the steps}) instead of the steps",
       NULL},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) settings = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(VxmVmConfig) config = NULL;
  VxmVmInitOptions opts = {0};
  Output out = {cli, isatty(STDOUT_FILENO), 0, FALSE, NULL};
  VxmHostfs *hostfs;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, "[NAME]",
                     "Create a VM: its disk (qemu-img), its own copy of the UEFI variables,\n"
                     "its TPM state (swtpm_setup) and its config file. Nothing is left behind\n"
                     "when a step fails."))
    return VXM_EXIT_USAGE;
  if (argc > 2)
    return vxm_cli_usage_error(cli, "expected at most one VM name, got '%s' and '%s'", argv[1],
                               argv[2]);
  if (opt_sha256 != NULL && opt_virtio == NULL)
    return vxm_cli_usage_error(cli, "--sha256 checks the --virtio-iso download: give both");
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL)
    return vxm_cli_fail(cli, error);

  if (opt_disk_size != NULL)
    g_ptr_array_add(settings, g_strdup_printf("disk.size=%s", opt_disk_size));
  for (gsize i = 0; opt_set != NULL && opt_set[i] != NULL; i++)
    g_ptr_array_add(settings, g_strdup(opt_set[i]));
  g_ptr_array_add(settings, NULL);

  if (opt_json)
    out.done = done;
  opts.name = argc > 1 ? argv[1] : NULL;
  opts.force = opt_force;
  opts.settings = (const char *const *)settings->pdata;
  opts.virtio_iso = opt_virtio;
  opts.virtio_sha256 = opt_sha256;

  if (!cli->quiet && !opt_json)
    g_print("Creating VM %s\n", opts.name ? opts.name : "default");
  config = vxm_vm_init(hostfs, &opts, on_step, on_download, &out, &error);
  if (out.bar_drawn)
    g_print("\n");
  if (config == NULL) {
    if (g_error_matches(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT))
      return vxm_cli_usage_error(cli, "%s", error->message);
    return vxm_cli_fail(cli, error);
  }
  if (opt_json)
    vxm_cli_print_outcome_json("name", config->name, "created", done);
  else if (!cli->quiet)
    g_print("VM %s is ready: vxm config %s --show, then vxm start %s\n", config->name, config->name,
            config->name);
  return VXM_EXIT_OK;
}
