/* vxm status: a VM's state (from its running supervisor, else its last state file), its pids,
 * QEMU's run state, where each device of its GPU is bound, what the host holds for it (its
 * journal) and its logs; without a name, every VM and every journal. Given a PCI address, the
 * binding view alone. JSON keys: docs/status-json.md. */
#include <string.h>

#include "common/vxm-util.h"
#include "journal/vxm-journal.h"
#include "pci/vxm-pci-address.h"
#include "pci/vxm-vfio.h"
#include "supervisor/vxm-control-client.h"
#include "supervisor/vxm-supervisor.h"
#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-lock.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-cli-status-print.h"
#include "vxm-cli.h"

/* The binding view: where every device of the GPU(s) is bound and why, and the journals.
 * With @out_root, the JSON is handed back instead of printed. */
static int
binding_status(VxmCli *cli, VxmHostfs *hostfs, VxmHostOps *ops, int argc, char **argv,
               gboolean json, JsonNode **out_root)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) gpus = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonNode) journals = NULL;

  if (argc == 2) {
    VxmCliTarget target = {0};

    if (!vxm_cli_resolve_target(cli, hostfs, argv[1], &target, &error))
      return vxm_cli_fail_arg(cli, error);
    gpus = g_ptr_array_new_with_free_func(g_object_unref);
    g_ptr_array_add(gpus, g_object_ref(target.gpu));
    vxm_cli_target_clear(&target);
  } else {
    g_autoptr(GPtrArray) all = vxm_gpu_list(hostfs, &error);

    if (all == NULL)
      return vxm_cli_fail(cli, error);
    gpus = g_ptr_array_new_with_free_func(g_object_unref);
    for (guint i = 0; i < all->len; i++) {
      VxmGpu *gpu = g_ptr_array_index(all, i);

      /* the host's own GPU is not vxm's business; a GPU without IOMMU group has no binding */
      if (vxm_gpu_get_role(gpu) != VXM_GPU_ROLE_HOST && vxm_gpu_get_iommu_groups(gpu)->len > 0)
        g_ptr_array_add(gpus, g_object_ref(gpu));
    }
  }

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "gpus");
  json_builder_begin_array(b);
  for (guint i = 0; i < gpus->len; i++) {
    VxmGpu *gpu = g_ptr_array_index(gpus, i);
    JsonNode *devices = vxm_host_ops_binding_status(ops, vxm_gpu_get_address(gpu), &error);

    if (devices == NULL)
      return vxm_cli_fail(cli, error);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "address");
    json_builder_add_string_value(b, vxm_gpu_get_address(gpu));
    json_builder_set_member_name(b, "devices");
    json_builder_add_value(b, devices);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  journals = vxm_host_ops_list_journals(ops, &error);
  if (journals == NULL)
    return vxm_cli_fail(cli, error);
  json_builder_set_member_name(b, "journals");
  json_builder_add_value(b, json_node_copy(journals));
  json_builder_end_object(b);
  root = json_builder_get_root(b);

  if (out_root != NULL) {
    *out_root = g_steal_pointer(&root);
    return VXM_EXIT_OK;
  }
  if (json) {
    vxm_cli_print_json(root);
    return VXM_EXIT_OK;
  }
  {
    JsonArray *list = json_object_get_array_member(json_node_get_object(root), "gpus");
    JsonArray *js = json_node_get_array(journals);

    if (json_array_get_length(list) == 0)
      g_print("no GPU that could go to a guest\n");
    for (guint i = 0; i < json_array_get_length(list); i++) {
      JsonObject *gpu = json_array_get_object_element(list, i);
      JsonArray *devs = json_object_get_array_member(gpu, "devices");

      g_print("GPU %s\n", json_object_get_string_member(gpu, "address"));
      for (guint k = 0; k < json_array_get_length(devs); k++) {
        JsonObject *d = json_array_get_object_element(devs, k);
        const char *driver = json_object_get_string_member_with_default(d, "driver", NULL);

        g_print("  %s  %-14s %s\n", json_object_get_string_member(d, "address"),
                driver != NULL ? driver : "-", json_object_get_string_member(d, "reason"));
      }
    }
    for (guint i = 0; i < json_array_get_length(js); i++) {
      JsonObject *j = json_array_get_object_element(js, i);

      g_print("journal %s: %s\n", json_object_get_string_member(j, "name"),
              json_object_get_string_member(j, "status"));
    }
  }
  return VXM_EXIT_OK;
}

/* ---- the VM view ---- */

static void
set_null_member(JsonObject *obj, const char *member)
{
  if (!json_object_has_member(obj, member))
    json_object_set_null_member(obj, member);
}

const char *
vxm_cli_vm_state_name(const VxmVmPaths *paths)
{
  g_autofree char *state_file = NULL;
  g_autoptr(JsonNode) saved = NULL;
  const char *state;
  VxmVmState parsed;

  if (vxm_vm_is_running(paths))
    return "running";
  state_file = vxm_supervisor_state_file(paths);
  saved = vxm_vm_state_file_read(state_file, NULL);
  if (saved == NULL || !JSON_NODE_HOLDS_OBJECT(saved))
    return "stopped";
  state =
      json_object_get_string_member_with_default(json_node_get_object(saved), "state", "stopped");
  /* as vm_state() below: a state file that says it ran with nobody holding the lock is a
   * supervisor that died */
  if (!vxm_vm_state_from_string(state, &parsed) || !vxm_vm_state_is_final(parsed) ||
      parsed == VXM_VM_STATE_FAILED)
    return "failed";
  return "stopped";
}

/* The state the VM's supervisor reports, or its last state file when none runs. */
static JsonObject *
vm_state(const VxmVmPaths *paths)
{
  g_autofree char *state_file = vxm_supervisor_state_file(paths);
  g_autoptr(JsonNode) saved = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *status;

  if (vxm_vm_is_running(paths)) {
    g_autoptr(JsonObject) request = json_object_new();
    g_autoptr(JsonObject) reply = NULL;

    json_object_set_string_member(request, "command", "status");
    reply = vxm_control_request(paths, request, 5000, &error);
    if (reply != NULL && json_object_has_member(reply, "status") &&
        JSON_NODE_HOLDS_OBJECT(json_object_get_member(reply, "status"))) {
      status = json_object_ref(json_object_get_object_member(reply, "status"));
      json_object_set_boolean_member(status, "running", TRUE);
      return status;
    }
  }
  saved = vxm_vm_state_file_read(state_file, NULL);
  if (saved != NULL) {
    status = json_object_ref(json_node_get_object(saved));
  } else {
    status = json_object_new();
    json_object_set_string_member(status, "name", paths->name);
    json_object_set_string_member(status, "state", "stopped");
  }
  json_object_set_boolean_member(status, "running", vxm_vm_is_running(paths));
  if (error != NULL) {
    json_object_set_string_member(status, "supervisor_error", error->message);
  } else if (!vxm_vm_is_running(paths)) {
    const char *state = json_object_get_string_member_with_default(status, "state", "stopped");
    VxmVmState parsed;

    /* the state file says it ran, but nobody holds the lock: the supervisor died */
    if (vxm_vm_state_from_string(state, &parsed) && !vxm_vm_state_is_final(parsed)) {
      g_autofree char *reason = g_strdup_printf(
          "its supervisor died while the VM was %s: `vxm recover` gives back what it held", state);

      json_object_set_string_member(status, "state", "failed");
      json_object_set_string_member(status, "reason", reason);
    }
    json_object_set_null_member(status, "supervisor_pid");
    json_object_set_null_member(status, "qemu_pid");
    json_object_set_null_member(status, "swtpm_pid");
    /* logind's lock lives in the supervisor's fd: it went with the supervisor */
    json_object_set_null_member(status, "inhibitor");
  }
  return status;
}

static JsonNode *
vm_status_json(VxmHostfs *hostfs, VxmHostOps *ops, const char *name, GError **error)
{
  g_autoptr(VxmVmPaths) paths = vxm_vm_paths_new(name, error);
  g_autoptr(VxmVmConfig) config = NULL;
  g_autoptr(JsonObject) status = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *gpu = NULL;
  JsonNode *node;

  if (paths == NULL)
    return NULL;
  config = vxm_vm_config_load(paths, &local_error);
  if (config == NULL && g_error_matches(local_error, VXM_ERROR, VXM_ERROR_NOT_FOUND) &&
      !vxm_vm_is_running(paths)) {
    g_propagate_error(error, g_steal_pointer(&local_error));
    return NULL;
  }
  status = vm_state(paths);
  /* a mistake made in the file while the VM runs does not hide the VM's state */
  if (config == NULL) {
    json_object_set_string_member(status, "config_error", local_error->message);
    g_clear_error(&local_error);
  } else {
    json_object_set_null_member(status, "config_error");
  }
  json_object_set_string_member(status, "name", paths->name);
  json_object_set_string_member(status, "config", paths->config_file);
  for (guint i = 0; i < 8; i++) {
    static const char *const members[] = {"reason",    "supervisor_pid", "qemu_pid", "swtpm_pid",
                                          "run_state", "started",        "gpu",      "updated"};
    set_null_member(status, members[i]);
  }
  /* issue 5/7: what the run holds (null or empty without a run) */
  set_null_member(status, "hugepages");
  set_null_member(status, "memlock");
  set_null_member(status, "pinning");
  set_null_member(status, "monitor");
  set_null_member(status, "inhibitor");
  if (!json_object_has_member(status, "monitors"))
    json_object_set_array_member(status, "monitors", json_array_new());
  if (!json_object_has_member(status, "granted_nodes"))
    json_object_set_array_member(status, "granted_nodes", json_array_new());
  if (!json_object_has_member(status, "inputs"))
    json_object_set_array_member(status, "inputs", json_array_new());
  if (!json_object_has_member(status, "usb"))
    json_object_set_array_member(status, "usb", json_array_new());
  if (!json_object_has_member(status, "logs")) {
    JsonObject *logs = json_object_new();
    g_autofree char *serial = g_build_filename(paths->state_dir, "serial.log", NULL);

    json_object_set_string_member(logs, "vxm", paths->vxm_log);
    json_object_set_string_member(logs, "qemu", paths->qemu_log);
    json_object_set_string_member(logs, "swtpm", paths->swtpm_log);
    json_object_set_string_member(logs, "serial", serial);
    json_object_set_object_member(status, "logs", logs);
  }

  /* the GPU: the one the supervisor used, else the configured one */
  gpu = g_strdup(json_object_get_string_member_with_default(status, "gpu", NULL));
  if (gpu == NULL && config != NULL && config->gpu != NULL)
    gpu = g_strdup(config->gpu);
  if (gpu == NULL && config != NULL) {
    /* auto: the single candidate, as vxm start chooses */
    g_autoptr(GPtrArray) gpus = vxm_gpu_list(hostfs, NULL);
    guint candidates = 0;

    for (guint i = 0; gpus != NULL && i < gpus->len; i++) {
      if (vxm_gpu_get_role(g_ptr_array_index(gpus, i)) == VXM_GPU_ROLE_CANDIDATE) {
        candidates++;
        g_free(gpu);
        gpu = g_strdup(vxm_gpu_get_address(g_ptr_array_index(gpus, i)));
      }
    }
    if (candidates != 1)
      g_clear_pointer(&gpu, g_free);
  }
  if (gpu != NULL) {
    JsonNode *devices = vxm_host_ops_binding_status(ops, gpu, &local_error);

    json_object_set_string_member(status, "gpu", gpu);
    if (devices != NULL) {
      json_object_set_member(status, "devices", devices);
    } else {
      json_object_set_null_member(status, "devices");
      json_object_set_string_member(status, "devices_error", local_error->message);
      g_clear_error(&local_error);
    }
  } else {
    json_object_set_null_member(status, "devices");
  }
  /* [pci] extra: where each device is bound now (the journal says by whom); driver_override
   * is not read: an unbind waiting in the kernel would block the read */
  if (config != NULL) {
    JsonArray *extra = json_array_new();

    for (guint i = 0; config->pci_extra != NULL && config->pci_extra[i] != NULL; i++) {
      const char *bdf = config->pci_extra[i];
      g_autofree char *link = g_strdup_printf(VXM_HOST_SYS_PCI_DEVICES "/%s/driver", bdf);
      g_autofree char *driver = vxm_hostfs_read_link_basename(hostfs, link, NULL);
      JsonObject *d = json_object_new();

      json_object_set_string_member(d, "address", bdf);
      if (driver != NULL)
        json_object_set_string_member(d, "driver", driver);
      else
        json_object_set_null_member(d, "driver");
      json_array_add_object_element(extra, d);
    }
    json_object_set_array_member(status, "extra_devices", extra);
  } else {
    json_object_set_null_member(status, "extra_devices");
  }
  node = vxm_host_ops_journal_status(ops, paths->name, &local_error);
  if (node != NULL) {
    json_object_set_member(status, "host", node);
  } else {
    json_object_set_null_member(status, "host");
    json_object_set_string_member(status, "host_error", local_error->message);
  }
  return json_node_init_object(json_node_alloc(), status);
}

/* Every VM's name, sorted (the same list as `vxm list`); an unreadable folder lists none. */
static GPtrArray *
vm_names(void)
{
  GPtrArray *names = vxm_vm_paths_list_names(NULL);

  return names != NULL ? names : g_ptr_array_new_with_free_func(g_free);
}

int
vxm_cli_cmd_status(VxmCli *cli, int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON (keys: docs/status-json.md)", NULL},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmHostOps) ops = NULL;
  g_autoptr(GPtrArray) names = NULL;
  VxmHostfs *hostfs;
  VxmPciAddress address;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, "[NAME|ADDR]",
                     "Show a VM: its state, pids, QEMU's run state, where each device of its GPU\n"
                     "is bound, what the host holds for it and its logs. Without NAME: every VM.\n"
                     "With a PCI address: where that GPU's devices are bound, and why."))
    return VXM_EXIT_USAGE;
  if (argc > 2)
    return vxm_cli_usage_error(cli, "give at most one VM name or PCI address");
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL)
    return vxm_cli_fail(cli, error);
  ops = vxm_cli_get_host_ops(cli, hostfs, &error);
  if (ops == NULL)
    return vxm_cli_fail(cli, error);
  if (argc == 2 && vxm_pci_address_parse(argv[1], &address, NULL))
    return binding_status(cli, hostfs, ops, argc, argv, json, NULL);
  if (argc == 2) {
    g_autoptr(VxmVmPaths) named = vxm_vm_paths_new(argv[1], &error);
    g_autoptr(JsonNode) vm = NULL;

    if (named == NULL)
      return vxm_cli_fail_arg(cli, error);
    vm = vm_status_json(hostfs, ops, argv[1], &error);
    if (vm == NULL)
      return vxm_cli_fail(cli, error);
    if (json)
      vxm_cli_print_json(vm);
    else
      vxm_cli_status_print_vm(cli, json_node_get_object(vm));
    return VXM_EXIT_OK;
  }
  names = vm_names();
  if (json) {
    g_autoptr(JsonNode) root = NULL;
    JsonArray *vms = json_array_new();
    int status = binding_status(cli, hostfs, ops, 1, argv, TRUE, &root);

    if (status != VXM_EXIT_OK) {
      json_array_unref(vms);
      return status;
    }
    for (guint i = 0; i < names->len; i++) {
      g_autoptr(GError) local = NULL;
      JsonNode *vm = vm_status_json(hostfs, ops, g_ptr_array_index(names, i), &local);

      if (vm == NULL) {
        json_array_unref(vms);
        return vxm_cli_fail(cli, local);
      }
      json_array_add_element(vms, vm);
    }
    json_object_set_array_member(json_node_get_object(root), "vms", vms);
    vxm_cli_print_json(root);
    return VXM_EXIT_OK;
  }
  if (names->len == 0) {
    g_print("no VM yet (vxm init NAME creates one)\n");
    return binding_status(cli, hostfs, ops, 1, argv, FALSE, NULL);
  }
  for (guint i = 0; i < names->len; i++) {
    g_autoptr(GError) local = NULL;
    g_autoptr(JsonNode) vm = vm_status_json(hostfs, ops, g_ptr_array_index(names, i), &local);

    if (vm == NULL) {
      g_print("VM %s: %s\n", (char *)g_ptr_array_index(names, i), local->message);
      continue;
    }
    vxm_cli_status_print_vm(cli, json_node_get_object(vm));
  }
  g_print("\n");
  return binding_status(cli, hostfs, ops, 1, argv, FALSE, NULL);
}
