/* vxm status: a VM's state (from its running supervisor, else its last state file), its pids,
 * QEMU's run state, where each device of its GPU is bound, what the host holds for it (its
 * journal) and its logs; without a name, every VM and every journal. Given a PCI address, the
 * binding view alone. JSON keys: docs/status-json.md. */
#include <string.h>

#include "common/vxm-util.h"
#include "journal/vxm-journal.h"
#include "memory/vxm-hugepage-pools.h"
#include "pci/vxm-pci-address.h"
#include "pci/vxm-vfio.h"
#include "supervisor/vxm-control-client.h"
#include "supervisor/vxm-supervisor.h"
#include "vm/vxm-vm-config.h"
#include "vm/vxm-vm-lock.h"
#include "vm/vxm-vm-paths.h"
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

static const char *
member_or(JsonObject *obj, const char *member, const char *fallback)
{
  JsonNode *node = json_object_get_member(obj, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL(node) || json_node_get_value_type(node) != G_TYPE_STRING)
    return fallback;
  return json_node_get_string(node);
}

static void
print_pid(GString *line, JsonObject *obj, const char *member, const char *label)
{
  JsonNode *node = json_object_get_member(obj, member);

  if (node != NULL && JSON_NODE_HOLDS_VALUE(node))
    g_string_append_printf(line, "%s%s %" G_GINT64_FORMAT, line->len > 0 ? ", " : "", label,
                           json_node_get_int(node));
}

/* One monitor's input as vxm switched it, and since when (local time), or why it failed. */
static void
print_one_monitor(JsonObject *m)
{
  const char *input = member_or(m, "input", NULL);
  const char *since = member_or(m, "since", NULL);
  const char *error = member_or(m, "error", NULL);
  gboolean switching = json_object_get_boolean_member_with_default(m, "switching", FALSE);
  g_autoptr(GDateTime) when = NULL;
  g_autoptr(GDateTime) local = NULL;
  g_autofree char *when_text = NULL;

  if (since != NULL && (when = g_date_time_new_from_iso8601(since, NULL)) != NULL) {
    local = g_date_time_to_local(when);
    when_text = g_date_time_format(local, "%Y-%m-%d %H:%M:%S");
  }
  if (input == NULL)
    g_print("  monitor: %s, not switched%s%s\n", member_or(m, "spec", "?"),
            error != NULL ? ": "
            : switching   ? " yet (switching to the guest's input)"
                          : " yet",
            error != NULL ? error : "");
  else
    g_print("  monitor: %s, on the %s's input (%s) since %s%s%s%s\n", member_or(m, "spec", "?"),
            input, member_or(m, "input_name", "?"), when_text != NULL ? when_text : since,
            switching ? " (switching)" : "", error != NULL ? "; the last switch failed: " : "",
            error != NULL ? error : "");
}

/* Whether logind keeps the host from sleeping for this VM (issue 17). */
static void
print_inhibitor(JsonObject *vm)
{
  JsonNode *node = json_object_get_member(vm, "inhibitor");
  JsonObject *in;
  const char *since;
  g_autoptr(GDateTime) when = NULL;
  g_autoptr(GDateTime) local = NULL;
  g_autofree char *when_text = NULL;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
    return;
  in = json_node_get_object(node);
  since = member_or(in, "since", NULL);
  if (since != NULL && (when = g_date_time_new_from_iso8601(since, NULL)) != NULL) {
    local = g_date_time_to_local(when);
    when_text = g_date_time_format(local, "%Y-%m-%d %H:%M:%S");
  }
  if (json_object_get_boolean_member_with_default(in, "held", FALSE))
    g_print("  host sleep: blocked (logind inhibitor lock: %s) since %s\n",
            member_or(in, "what", "?"), when_text != NULL ? when_text : since);
  else if (member_or(in, "error", NULL) != NULL)
    g_print("  host sleep: NOT blocked: %s\n", member_or(in, "error", "?"));
  else if (json_object_get_boolean_member_with_default(in, "asking", FALSE))
    g_print("  host sleep: asking logind to block %s\n", member_or(in, "what", "?"));
  else
    g_print("  host sleep: not blocked (the VM's run is over)\n");
}

/* Every monitor the VM switches ("monitors"; a supervisor from before it: "monitor"). */
static void
print_monitor(JsonObject *vm)
{
  JsonNode *list = json_object_get_member(vm, "monitors");
  JsonNode *node = json_object_get_member(vm, "monitor");

  if (list != NULL && JSON_NODE_HOLDS_ARRAY(list) &&
      json_array_get_length(json_node_get_array(list)) > 0) {
    JsonArray *array = json_node_get_array(list);

    for (guint i = 0; i < json_array_get_length(array); i++) {
      JsonNode *m = json_array_get_element(array, i);

      if (JSON_NODE_HOLDS_OBJECT(m))
        print_one_monitor(json_node_get_object(m));
    }
    return;
  }
  if (node != NULL && JSON_NODE_HOLDS_OBJECT(node))
    print_one_monitor(json_node_get_object(node));
}

/* Issue 5/7: what the running VM holds, from the supervisor's status. */
static void
print_resources(JsonObject *vm)
{
  JsonNode *hp = json_object_get_member(vm, "hugepages");
  JsonNode *memlock = json_object_get_member(vm, "memlock");
  JsonNode *pinning = json_object_get_member(vm, "pinning");
  JsonNode *granted = json_object_get_member(vm, "granted_nodes");
  JsonNode *inputs = json_object_get_member(vm, "inputs");
  JsonNode *usb = json_object_get_member(vm, "usb");

  if (hp != NULL && JSON_NODE_HOLDS_OBJECT(hp)) {
    JsonObject *h = json_node_get_object(hp);
    g_autofree char *size =
        vxm_hugepage_size_to_string((guint64)json_object_get_int_member(h, "page_size"));
    JsonNode *node = json_object_get_member(h, "node");
    g_autofree char *where =
        node != NULL && JSON_NODE_HOLDS_VALUE(node)
            ? g_strdup_printf(" on NUMA node %" G_GINT64_FORMAT, json_node_get_int(node))
            : g_strdup("");

    if (json_object_get_boolean_member_with_default(h, "fell_back", FALSE))
      g_print("  hugepages: none held: too few could be had, normal memory (hugepages_fallback)\n");
    else
      g_print("  hugepages: %" G_GINT64_FORMAT " x %s%s%s\n",
              json_object_get_int_member(h, "count"), size, where,
              json_object_get_boolean_member_with_default(h, "held", FALSE) ? ", held"
                                                                            : ", not held");
  }
  if (memlock != NULL && JSON_NODE_HOLDS_OBJECT(memlock)) {
    JsonObject *m = json_node_get_object(memlock);
    g_autofree char *bytes = vxm_format_bytes((guint64)json_object_get_int_member(m, "bytes"));

    if (json_object_get_boolean_member_with_default(m, "raised", FALSE))
      g_print("  memlock: %s\n", bytes);
    else
      g_print("  memlock: %s wanted, not raised%s%s\n", bytes,
              member_or(m, "warning", NULL) ? ": " : "", member_or(m, "warning", ""));
  }
  if (pinning != NULL && JSON_NODE_HOLDS_OBJECT(pinning)) {
    JsonObject *p = json_node_get_object(pinning);
    JsonArray *cpus = json_object_get_array_member(p, "vcpu_cpus");
    JsonArray *threads = json_object_has_member(p, "vcpu_threads")
                             ? json_object_get_array_member(p, "vcpu_threads")
                             : NULL;
    g_autoptr(GString) line = g_string_new(NULL);

    if (!json_object_get_boolean_member_with_default(p, "pinned", FALSE)) {
      g_print("  pinning: off (%" G_GINT64_FORMAT " vCPUs, the host's scheduler places them)\n",
              json_object_get_int_member(p, "vcpus"));
    } else {
      for (guint i = 0; cpus != NULL && i < json_array_get_length(cpus); i++) {
        g_string_append_printf(line, "%svCPU %u -> CPU %" G_GINT64_FORMAT, i ? ", " : "", i,
                               json_array_get_int_element(cpus, i));
        if (threads != NULL && i < json_array_get_length(threads))
          g_string_append_printf(line, " (thread %" G_GINT64_FORMAT ")",
                                 json_array_get_int_element(threads, i));
      }
      g_print("  pinning%s: %s; QEMU's other threads on CPUs %s\n",
              json_object_get_boolean_member_with_default(p, "applied", FALSE) ? "" : " (planned)",
              line->str, member_or(p, "emulator_cpus", "?"));
    }
  }
  if (inputs != NULL && JSON_NODE_HOLDS_ARRAY(inputs)) {
    JsonArray *list = json_node_get_array(inputs);

    for (guint i = 0; i < json_array_get_length(list); i++) {
      JsonObject *o = json_array_get_object_element(list, i);

      const char *state = member_or(o, "state", NULL);
      g_autofree char *what = NULL;

      if (g_strcmp0(state, "attached") == 0)
        what = g_strdup(json_object_get_boolean_member_with_default(o, "watched", FALSE)
                            ? " (attached)"
                            : " (attached; not watched: if unplugged, it stays out)");
      else if (g_strcmp0(state, "unplugged") == 0)
        what = g_strdup(" (unplugged: it rejoins the guest when plugged back in)");
      else if (g_strcmp0(state, "waiting") == 0)
        what = g_strdup(" (not plugged in yet: it joins the guest when it is)");
      else if (state != NULL)
        what = g_strdup_printf(" (%s: %s)", state, member_or(o, "message", "see the VM's log"));
      g_print("  input %s: %s%s\n", member_or(o, "id", "?"), member_or(o, "evdev", "?"),
              what != NULL ? what : "");
    }
  }
  if (usb != NULL && JSON_NODE_HOLDS_ARRAY(usb)) {
    JsonArray *list = json_node_get_array(usb);

    for (guint i = 0; i < json_array_get_length(list); i++) {
      JsonObject *o = json_array_get_object_element(list, i);
      const char *state = member_or(o, "state", "?");
      const char *description = member_or(o, "description", "");
      g_autofree char *what = NULL;

      if (g_strcmp0(state, "attached") == 0)
        what = g_strdup_printf("%s (attached)", member_or(o, "node", "?"));
      else if (g_strcmp0(state, "unplugged") == 0)
        what = g_strdup("unplugged: it rejoins the guest when plugged back in");
      else if (g_strcmp0(state, "waiting") == 0)
        what = g_strdup("not plugged in yet: it joins the guest when it is");
      else
        what = g_strdup_printf("%s: %s", state, member_or(o, "message", "see the VM's log"));
      g_print("  usb %s%s%s: %s\n", member_or(o, "usb_id", "?"), *description ? " " : "",
              description, what);
    }
  }
  if (granted != NULL && JSON_NODE_HOLDS_ARRAY(granted) &&
      json_array_get_length(json_node_get_array(granted)) > 0) {
    JsonArray *list = json_node_get_array(granted);

    g_print("  given to QEMU's user:");
    for (guint i = 0; i < json_array_get_length(list); i++)
      g_print(" %s", json_array_get_string_element(list, i));
    g_print("\n");
  }
}

/* What a journal entry changed, in a few words: the PCI device, the node (by its stable link),
 * the hugepage pool. */
static char *
entry_subject(JsonObject *data)
{
  if (data == NULL)
    return g_strdup("");
  if (json_object_has_member(data, "device"))
    return g_strdup(member_or(data, "device", ""));
  if (json_object_has_member(data, "link") || json_object_has_member(data, "path"))
    return g_strdup(member_or(data, "link", member_or(data, "path", "")));
  if (json_object_has_member(data, "page_size_kb")) {
    gint64 node = json_object_get_int_member_with_default(data, "node", -1);
    g_autofree char *where =
        node >= 0 ? g_strdup_printf(" on node %" G_GINT64_FORMAT, node) : g_strdup("");

    return g_strdup_printf("%" G_GINT64_FORMAT " kB pages%s: pool %" G_GINT64_FORMAT
                           " -> %" G_GINT64_FORMAT,
                           json_object_get_int_member_with_default(data, "page_size_kb", 0), where,
                           json_object_get_int_member_with_default(data, "previous", 0),
                           json_object_get_int_member_with_default(data, "target", 0));
  }
  return g_strdup("");
}

static void
print_vm(VxmCli *cli, JsonObject *vm)
{
  const char *state = member_or(vm, "state", "?");
  const char *run_state = member_or(vm, "run_state", NULL);
  const char *sgr = g_strcmp0(state, "running") == 0  ? "1;32"
                    : g_strcmp0(state, "failed") == 0 ? "1;31"
                                                      : "1";
  g_autofree char *shown = vxm_cli_colored(cli, sgr, state);
  g_autoptr(GString) pids = g_string_new(NULL);
  JsonNode *devices = json_object_get_member(vm, "devices");
  JsonNode *host = json_object_get_member(vm, "host");
  JsonObject *logs = json_object_get_object_member(vm, "logs");

  g_print("VM %s: %s", member_or(vm, "name", "?"), shown);
  if (run_state != NULL && g_strcmp0(state, "running") == 0)
    g_print(" (QEMU: %s)", run_state);
  g_print("\n");
  if (member_or(vm, "reason", NULL) != NULL)
    g_print("  why: %s\n", member_or(vm, "reason", NULL));
  if (member_or(vm, "config_error", NULL) != NULL)
    g_print("  config: broken: %s\n", member_or(vm, "config_error", NULL));
  print_pid(pids, vm, "supervisor_pid", "supervisor");
  print_pid(pids, vm, "qemu_pid", "QEMU");
  print_pid(pids, vm, "swtpm_pid", "swtpm");
  if (pids->len > 0)
    g_print("  pids: %s\n", pids->str);
  if (g_strcmp0(state, "running") == 0 || g_strcmp0(state, "starting") == 0 ||
      g_strcmp0(state, "stopping") == 0) {
    print_resources(vm);
    print_monitor(vm);
    print_inhibitor(vm);
  }
  if (member_or(vm, "gpu", NULL) != NULL)
    g_print("  GPU %s\n", member_or(vm, "gpu", NULL));
  if (devices != NULL && JSON_NODE_HOLDS_ARRAY(devices)) {
    JsonArray *devs = json_node_get_array(devices);

    for (guint k = 0; k < json_array_get_length(devs); k++) {
      JsonObject *d = json_array_get_object_element(devs, k);

      g_print("    %s  %-14s %s\n", member_or(d, "address", "?"), member_or(d, "driver", "-"),
              member_or(d, "reason", ""));
    }
  }
  if (json_object_has_member(vm, "extra_devices") &&
      JSON_NODE_HOLDS_ARRAY(json_object_get_member(vm, "extra_devices")) &&
      json_array_get_length(json_object_get_array_member(vm, "extra_devices")) > 0) {
    JsonArray *extra = json_object_get_array_member(vm, "extra_devices");

    g_print("  extra devices ([pci] extra)\n");
    for (guint k = 0; extra != NULL && k < json_array_get_length(extra); k++) {
      JsonObject *d = json_array_get_object_element(extra, k);

      g_print("    %s  %s\n", member_or(d, "address", "?"), member_or(d, "driver", "-"));
    }
  }
  if (host != NULL && JSON_NODE_HOLDS_OBJECT(host)) {
    JsonObject *j = json_node_get_object(host);
    JsonArray *entries = json_object_get_array_member(j, "entries");
    guint held = 0;

    for (guint i = 0; entries != NULL && i < json_array_get_length(entries); i++) {
      JsonObject *e = json_array_get_object_element(entries, i);

      if (g_strcmp0(member_or(e, "state", ""), "undone") != 0)
        held++;
    }
    g_print("  held on the host: %u change%s in the journal\n", held, held == 1 ? "" : "s");
    for (guint i = 0; entries != NULL && i < json_array_get_length(entries); i++) {
      JsonObject *e = json_array_get_object_element(entries, i);
      JsonObject *data = json_object_get_object_member(e, "data");

      if (g_strcmp0(member_or(e, "state", ""), "undone") == 0)
        continue;
      g_autofree char *subject = entry_subject(data);

      g_print("    %-17s %-7s %s\n", member_or(e, "kind", "?"), member_or(e, "state", "?"),
              subject);
    }
  } else {
    g_print("  held on the host: nothing\n");
  }
  if (logs != NULL) {
    g_autofree char *vxm_log = vxm_vm_paths_display(member_or(logs, "vxm", ""));
    g_autofree char *dir = g_path_get_dirname(vxm_log);

    g_print("  logs: %s/ (vxm.log, qemu.log, swtpm.log, serial.log)\n", dir);
  }
}

static GPtrArray *
vm_names(void)
{
  g_autofree char *dir_path = vxm_vm_paths_config_dir();
  g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  const char *entry;

  while (dir != NULL && (entry = g_dir_read_name(dir)) != NULL) {
    if (g_str_has_suffix(entry, ".conf")) {
      g_autofree char *name = g_strndup(entry, strlen(entry) - strlen(".conf"));

      if (vxm_vm_name_validate(name, -1, NULL))
        g_ptr_array_add(names, g_steal_pointer(&name));
    }
  }
  g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
  return names;
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
      print_vm(cli, json_node_get_object(vm));
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
    print_vm(cli, json_node_get_object(vm));
  }
  g_print("\n");
  return binding_status(cli, hostfs, ops, 1, argv, FALSE, NULL);
}
