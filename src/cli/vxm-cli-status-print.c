/* vxm status: the text it prints of a VM's status object (vxm-cli-status.c assembles it;
 * JSON keys: docs/status-json.md). */
#include <string.h>

#include "common/vxm-util.h"
#include "memory/vxm-hugepage-pools.h"
#include "vm/vxm-vm-paths.h"
#include "vxm-cli-status-print.h"

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

void
vxm_cli_status_print_vm(VxmCli *cli, JsonObject *vm)
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
