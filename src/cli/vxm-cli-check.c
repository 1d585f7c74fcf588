/* vxm check: the preflight, one line per check with the fix below a failure. */
#include <string.h>

#include "checks/vxm-check.h"
#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-cli.h"

static const char *
marker(VxmCheckStatus status, gboolean utf8)
{
  switch (status) {
  case VXM_CHECK_STATUS_OK: return utf8 ? "✔" : "ok";
  case VXM_CHECK_STATUS_WARN: return utf8 ? "!" : "!!";
  case VXM_CHECK_STATUS_FAIL: return utf8 ? "✘" : "XX";
  case VXM_CHECK_STATUS_UNKNOWN: return "??";
  }
  return "?";
}

static const char *
status_sgr(VxmCheckStatus status)
{
  switch (status) {
  case VXM_CHECK_STATUS_OK: return "1;32";
  case VXM_CHECK_STATUS_WARN: return "1;33";
  case VXM_CHECK_STATUS_FAIL: return "1;31";
  case VXM_CHECK_STATUS_UNKNOWN: return "1;34";
  }
  return "0";
}

static JsonNode *
results_to_json(GPtrArray *results)
{
  g_autoptr(JsonBuilder) b = json_builder_new();

  json_builder_begin_array(b);
  for (guint i = 0; i < results->len; i++) {
    VxmCheckResult *r = g_ptr_array_index(results, i);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_add_string_value(b, r->id);
    json_builder_set_member_name(b, "status");
    json_builder_add_string_value(b, vxm_check_status_to_string(r->status));
    json_builder_set_member_name(b, "message");
    json_builder_add_string_value(b, r->message);
    json_builder_set_member_name(b, "fix");
    if (r->fix != NULL)
      json_builder_add_string_value(b, r->fix);
    else
      json_builder_add_null_value(b);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  return json_builder_get_root(b);
}

int
vxm_cli_cmd_check(VxmCli *cli, int argc, char **argv)
{
  gboolean json = FALSE;
  g_autofree char *gpu = NULL;
  GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON array of {id, status, message, fix}",
       NULL},
      {"gpu", 0, 0, G_OPTION_ARG_STRING, &gpu,
       "Check this GPU as the guest GPU (PCI address or part of its name)", "ADDR|TEXT"},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmCheckContext) ctx = NULL;
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(VxmVmConfig) config = NULL;
  gboolean utf8 = g_get_charset(NULL);
  guint counts[VXM_CHECK_STATUS_UNKNOWN + 1] = {0};
  int width = 0;
  VxmHostfs *hostfs;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, "[NAME]",
                     "Checks that this machine can run VM NAME (default: 'default', when it "
                     "exists) on its second GPU: IOMMU, KVM and kvm.ignore_msrs, two GPUs, a guest "
                     "GPU whose IOMMU group can be passed through, its reset, boot framebuffer, "
                     "holders, BARs (against the guest's 64-bit PCI window) and D3cold, "
                     "UEFI firmware, QEMU, swtpm, memory, the monitor's DDC/CI, a keyboard and "
                     "mouse for the guest, and vxmd for this user. Each failure comes with its "
                     "fix; a check that could not run says so (??, \"unknown\" in --json) and "
                     "is neither a pass nor a problem. Exits 1 when a check fails."))
    return VXM_EXIT_USAGE;
  if (argc > 2)
    return vxm_cli_usage_error(cli, "unexpected argument '%s'", argv[2]);
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL)
    return vxm_cli_fail(cli, error);

  /* the VM's settings (memory, firmware, TPM, QEMU, guest GPU) when it has a config */
  {
    g_autoptr(VxmVmPaths) paths = vxm_vm_paths_new(argc > 1 ? argv[1] : NULL, &error);

    if (paths == NULL)
      return vxm_cli_fail_arg(cli, error);
    if (argc > 1 || g_file_test(paths->config_file, G_FILE_TEST_EXISTS)) {
      config = vxm_vm_config_load(paths, &error);
      if (config == NULL && argc > 1)
        return vxm_cli_fail(cli, error);
      if (config == NULL) {
        g_printerr("vxm check: %s; checking without it\n", error->message);
        g_clear_error(&error);
      }
    }
  }
  if (gpu == NULL && config != NULL && config->gpu != NULL)
    gpu = g_strdup(config->gpu);

  ctx = vxm_check_context_new(hostfs, gpu);
  vxm_check_context_set_vm_config(ctx, config);
  results = vxm_check_run(ctx, NULL);

  if (json) {
    g_autoptr(JsonNode) node = results_to_json(results);
    vxm_cli_print_json(node);
    return vxm_check_results_passed(results) ? VXM_EXIT_OK : VXM_EXIT_FAILURE;
  }

  for (guint i = 0; i < results->len; i++) {
    VxmCheckResult *r = g_ptr_array_index(results, i);
    width = MAX(width, (int)strlen(r->id));
  }
  for (guint i = 0; i < results->len; i++) {
    VxmCheckResult *r = g_ptr_array_index(results, i);
    g_autofree char *mark = vxm_cli_colored(cli, status_sgr(r->status), marker(r->status, utf8));

    counts[r->status]++;
    if (cli->quiet && r->status == VXM_CHECK_STATUS_OK)
      continue;
    g_print("%s %-*s  %s\n", mark, width, r->id, r->message);
    if (r->fix != NULL)
      g_print("  %*s  fix: %s\n", width, "", r->fix);
  }
  if (!cli->quiet) {
    g_autofree char *unknown =
        counts[VXM_CHECK_STATUS_UNKNOWN] > 0
            ? g_strdup_printf(", %u not checked", counts[VXM_CHECK_STATUS_UNKNOWN])
            : g_strdup("");

    g_print("\n%u ok, %u warning%s, %u failed%s\n", counts[VXM_CHECK_STATUS_OK],
            counts[VXM_CHECK_STATUS_WARN], counts[VXM_CHECK_STATUS_WARN] == 1 ? "" : "s",
            counts[VXM_CHECK_STATUS_FAIL], unknown);
  }
  return vxm_check_results_passed(results) ? VXM_EXIT_OK : VXM_EXIT_FAILURE;
}
