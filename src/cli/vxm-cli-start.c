/* vxm start: for now only --dry-run, which shows the QEMU and swtpm command lines and the host
 * steps a start would take, and changes nothing (the QEMU capability cache aside). The
 * supervisor itself comes with issue 4. */
#include <string.h>

#include "pci/vxm-gpu.h"
#include "vm/vxm-firmware.h"
#include "vm/vxm-host-facts.h"
#include "vm/vxm-host-step.h"
#include "vm/vxm-qemu-argv.h"
#include "vm/vxm-qemu-caps.h"
#include "vm/vxm-swtpm-argv.h"
#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-cli.h"

/* The configured guest GPU, or the single candidate. */
static VxmGpu *
find_guest_gpu(VxmHostfs *hostfs, const VxmVmConfig *config, GPtrArray *notes, GError **error)
{
  g_autoptr(GPtrArray) gpus = vxm_gpu_list(hostfs, error);
  g_autoptr(GPtrArray) candidates = g_ptr_array_new();
  g_autoptr(GPtrArray) reasons = NULL;
  VxmGpu *gpu = NULL;

  if (gpus == NULL)
    return NULL;
  if (config->gpu != NULL) {
    gpu = vxm_gpu_find_in_list(gpus, config->gpu, error);
    if (gpu == NULL) {
      g_prefix_error(error, "the guest GPU of VM %s ([gpu] address = %s): ", config->name,
                     config->gpu);
      return NULL;
    }
  } else {
    for (guint i = 0; i < gpus->len; i++)
      if (vxm_gpu_get_role(g_ptr_array_index(gpus, i)) == VXM_GPU_ROLE_CANDIDATE)
        g_ptr_array_add(candidates, g_ptr_array_index(gpus, i));
    if (candidates->len != 1) {
      g_autoptr(GString) list = g_string_new(NULL);

      for (guint i = 0; i < candidates->len; i++)
        g_string_append_printf(list, " %s", vxm_gpu_get_address(g_ptr_array_index(candidates, i)));
      g_set_error(error, VXM_ERROR, candidates->len == 0 ? VXM_ERROR_NOT_FOUND : VXM_ERROR_CONFIG,
                  candidates->len == 0
                      ? "no GPU can be given to the guest (see vxm list-gpus and vxm check)"
                      : "several GPUs could be the guest's (%s): choose one with vxm config %s "
                        "--set-gpu ADDRESS",
                  list->str, config->name);
      return NULL;
    }
    gpu = g_ptr_array_index(candidates, 0);
  }
  if (!vxm_gpu_check_passthrough_safe(gpu, &reasons)) {
    for (guint i = 0; i < reasons->len; i++)
      g_ptr_array_add(notes,
                      g_strdup_printf("vxm start would refuse %s: %s", vxm_gpu_get_address(gpu),
                                      (char *)g_ptr_array_index(reasons, i)));
  }
  return g_object_ref(gpu);
}

static JsonNode *
strv_json(const char *const *strv)
{
  g_autoptr(JsonBuilder) b = json_builder_new();

  json_builder_begin_array(b);
  for (gsize i = 0; strv != NULL && strv[i] != NULL; i++)
    json_builder_add_string_value(b, strv[i]);
  json_builder_end_array(b);
  return json_builder_get_root(b);
}

static JsonNode *
firmware_json(const VxmFirmware *fw)
{
  g_autoptr(JsonBuilder) b = json_builder_new();

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "descriptor");
  if (fw->descriptor_name != NULL)
    json_builder_add_string_value(b, fw->descriptor_name);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "code");
  json_builder_add_string_value(b, fw->code_host_path);
  json_builder_set_member_name(b, "vars_template");
  json_builder_add_string_value(b, fw->vars_template_host_path);
  json_builder_set_member_name(b, "secure_boot");
  json_builder_add_boolean_value(b, fw->secure_boot);
  json_builder_set_member_name(b, "enrolled_keys");
  json_builder_add_boolean_value(b, fw->enrolled_keys);
  json_builder_set_member_name(b, "requires_smm");
  json_builder_add_boolean_value(b, fw->requires_smm);
  json_builder_set_member_name(b, "fallback");
  json_builder_add_boolean_value(b, fw->fallback);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static void
print_json(GStrv qemu, GStrv swtpm, GPtrArray *steps, const VxmFirmware *fw,
           const VxmQemuCaps *caps)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "qemu");
  json_builder_add_value(b, strv_json((const char *const *)qemu));
  json_builder_set_member_name(b, "swtpm");
  json_builder_add_value(b, strv_json((const char *const *)swtpm));
  json_builder_set_member_name(b, "steps");
  json_builder_begin_array(b);
  for (guint i = 0; i < steps->len; i++)
    json_builder_add_value(b, vxm_host_step_to_json(g_ptr_array_index(steps, i)));
  json_builder_end_array(b);
  json_builder_set_member_name(b, "firmware");
  json_builder_add_value(b, firmware_json(fw));
  json_builder_set_member_name(b, "qemu_version");
  json_builder_add_string_value(b, caps->version);
  json_builder_end_object(b);
  root = json_builder_get_root(b);
  vxm_cli_print_json(root);
}

/* For reading only: one argument a line, quoted when the shell would need it. */
static void
print_argv(const char *title, GStrv argv)
{
  g_print("%s:\n", title);
  for (gsize i = 0; argv[i] != NULL; i++) {
    g_autofree char *quoted = g_shell_quote(argv[i]);
    gboolean plain = strpbrk(argv[i], " \t\n'\"\\$`*?[]{}()<>|&;#~") == NULL && argv[i][0] != '\0';
    gboolean option = argv[i][0] == '-' && argv[i + 1] != NULL && argv[i + 1][0] != '-';

    if (option) {
      g_autofree char *value = g_shell_quote(argv[i + 1]);
      gboolean value_plain = strpbrk(argv[i + 1], " \t\n'\"\\$`*?[]{}()<>|&;#~") == NULL;

      g_print("  %s %s%s\n", argv[i], value_plain ? argv[i + 1] : value,
              argv[i + 2] != NULL ? " \\" : "");
      i++;
      continue;
    }
    g_print("  %s%s\n", plain ? argv[i] : quoted, argv[i + 1] != NULL ? " \\" : "");
  }
}

static void
print_human(VxmCli *cli, const VxmVmConfig *config, GStrv qemu, GStrv swtpm, GPtrArray *steps,
            const VxmFirmware *fw, const VxmQemuCaps *caps)
{
  g_autofree char *title = vxm_cli_colored(cli, "1", "vxm start --dry-run");

  g_print("%s: VM %s, QEMU %s, firmware %s%s\n\n", title, config->name, caps->version,
          fw->descriptor_name != NULL ? fw->descriptor_name : fw->description,
          fw->fallback ? " (fallback)" : "");
  g_print("Host steps:\n");
  for (guint i = 0; i < steps->len; i++) {
    VxmHostStep *step = g_ptr_array_index(steps, i);
    g_print("  %2u. %-22s %s\n", i + 1, vxm_host_step_kind_to_string(step->kind),
            step->description);
  }
  g_print("\n");
  if (swtpm != NULL) {
    print_argv("swtpm", swtpm);
    g_print("\n");
  }
  print_argv("QEMU", qemu);
}

int
vxm_cli_cmd_start(VxmCli *cli, int argc, char **argv)
{
  gboolean dry_run = FALSE;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
      {"dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run,
       "Show the QEMU and swtpm command lines and the host steps; change nothing", NULL},
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "With --dry-run: print JSON", NULL},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmVmPaths) paths = NULL;
  g_autoptr(VxmVmConfig) config = NULL;
  g_autoptr(VxmGpu) gpu = NULL;
  g_autoptr(VxmHostFacts) facts = vxm_host_facts_new();
  g_autoptr(VxmQemuCaps) caps = NULL;
  g_autoptr(VxmFirmware) fw = NULL;
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) steps = NULL;
  g_auto(GStrv) qemu = NULL;
  g_auto(GStrv) swtpm = NULL;
  VxmFirmwareRequest req = {0};
  VxmQemuArgvInput in = {0};
  VxmHostfs *hostfs;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, "[NAME]",
                     "Start a VM on the guest GPU (for now: --dry-run only)."))
    return VXM_EXIT_USAGE;
  if (argc > 2)
    return vxm_cli_usage_error(cli, "too many arguments: give at most one VM name");
  if (json && !dry_run)
    return vxm_cli_usage_error(cli, "--json goes with --dry-run");
  if (!dry_run) {
    g_set_error_literal(&error, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
                        "vxm start is not implemented yet (the supervisor comes later); "
                        "vxm start --dry-run shows what it will run");
    return vxm_cli_fail(cli, error);
  }
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL)
    return vxm_cli_fail(cli, error);
  paths = vxm_vm_paths_new(argc > 1 ? argv[1] : NULL, &error);
  if (paths == NULL)
    return vxm_cli_fail(cli, error);
  config = vxm_vm_config_load(paths, &error);
  if (config == NULL || !vxm_vm_config_resolve(config, hostfs, paths, &error))
    return vxm_cli_fail(cli, error);

  gpu = find_guest_gpu(hostfs, config, notes, &error);
  if (gpu == NULL)
    return vxm_cli_fail(cli, error);
  if (!vxm_host_facts_collect(facts, hostfs, config, gpu, notes, &error))
    return vxm_cli_fail(cli, error);

  caps = vxm_qemu_caps_get(config->resolved.qemu_binary != NULL ? config->resolved.qemu_binary
                                                                : config->qemu_binary,
                           NULL, &error);
  if (caps == NULL)
    return vxm_cli_fail(cli, error);

  req.secure_boot = config->secure_boot;
  req.machine = vxm_qemu_caps_resolve_machine(caps, "q35");
  req.code = config->firmware_code;
  req.vars_template = config->firmware_vars_template;
  fw = vxm_firmware_select_full(hostfs, &req, &error);
  if (fw == NULL)
    return vxm_cli_fail(cli, error);
  for (guint i = 0; i < fw->warnings->len; i++)
    if (!cli->quiet)
      g_printerr("vxm start: warning: %s\n", (char *)g_ptr_array_index(fw->warnings, i));
  if (fw->message != NULL)
    g_ptr_array_add(notes, g_strdup(fw->message));

  in.config = config;
  in.paths = paths;
  in.facts = facts;
  in.caps = caps;
  in.firmware = fw;
  in.notes = notes;
  qemu = vxm_qemu_argv_build(&in, &error);
  if (qemu == NULL)
    return vxm_cli_fail(cli, error);
  if (config->tpm) {
    swtpm = vxm_swtpm_argv_build(paths, NULL, &error);
    if (swtpm == NULL)
      return vxm_cli_fail(cli, error);
  }
  steps = vxm_host_step_plan(config, facts, paths, notes);

  if (json)
    print_json(qemu, swtpm, steps, fw, caps);
  else
    print_human(cli, config, qemu, swtpm, steps, fw, caps);
  return VXM_EXIT_OK;
}
