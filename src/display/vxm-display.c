/* vxm-display: monitor resolution and input switching (see the header). */
#include "vxm-display.h"

#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "display/vxm-ddc-cache.h"
#include "display/vxm-ddc.h"
#include "display/vxm-drm-connector.h"
#include "platform/vxm-kernel-module.h"
#include "vm/vxm-vm-config.h"

void
vxm_display_result_clear(VxmDisplayResult *result)
{
  g_clear_pointer(&result->identity, g_free);
  g_clear_pointer(&result->description, g_free);
  g_clear_pointer(&result->connector, g_free);
}

char *
vxm_display_monitor_spec(const VxmVmConfig *config)
{
  switch (config->monitor) {
  case VXM_VM_MONITOR_OFF: return NULL;
  case VXM_VM_MONITOR_AUTO: return g_strdup("auto");
  case VXM_VM_MONITOR_CONNECTOR: return g_strdup(config->monitor_connector);
  case VXM_VM_MONITOR_EDID:
    return g_strdup_printf("%s:%u:%u", config->monitor_edid_manufacturer,
                           config->monitor_edid_product, config->monitor_edid_serial);
  }
  return NULL;
}

/* "DEL:41234:12345" -> parts; FALSE when @spec is not an identity. */
static gboolean
parse_identity(const char *spec, char mfg[4], guint *product, guint32 *serial)
{
  g_auto(GStrv) parts = g_strsplit(spec, ":", -1);
  guint64 p, s;

  if (g_strv_length(parts) != 3 || strlen(parts[0]) != 3 || !vxm_parse_uint64(parts[1], 0, &p) ||
      p > 0xffff || !vxm_parse_uint64(parts[2], 0, &s) || s > 0xffffffff)
    return FALSE;
  for (guint i = 0; i < 3; i++) {
    if (!g_ascii_isalpha(parts[0][i]))
      return FALSE;
    mfg[i] = g_ascii_toupper(parts[0][i]);
  }
  mfg[3] = '\0';
  *product = (guint)p;
  *serial = (guint32)s;
  return TRUE;
}

/* The host's GPUs among the connectors' cards: every one but @guest_gpu when it is known, else
 * the boot VGA device. Read from each GPU's boot_vga attribute, not a full PCI scan: this runs
 * on every switch. Empty when nothing tells (then every connector counts). */
static GHashTable *
host_gpus(VxmHostfs *hostfs, GPtrArray *connectors, const char *guest_gpu)
{
  GHashTable *out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < connectors->len; i++) {
    VxmDrmConnector *c = connectors->pdata[i];
    g_autofree char *boot_vga = NULL;
    gint64 value = 0;

    if (c->gpu == NULL || g_hash_table_contains(out, c->gpu))
      continue;
    if (guest_gpu != NULL) {
      if (g_strcmp0(c->gpu, guest_gpu) != 0)
        g_hash_table_add(out, g_strdup(c->gpu));
      continue;
    }
    boot_vga = g_strdup_printf(VXM_HOST_SYS_PCI_DEVICES "/%s/boot_vga", c->gpu);
    if (vxm_hostfs_read_attr_int64(hostfs, boot_vga, 10, &value, NULL) && value == 1)
      g_hash_table_add(out, g_strdup(c->gpu));
  }
  return out;
}

/* The connected connectors that show the monitor named by @spec, host GPUs first, and its
 * identity. */
static GPtrArray *
find_monitor(VxmHostfs *hostfs, const char *spec, const char *guest_gpu, char **identity_out,
             GError **error)
{
  g_autoptr(GPtrArray) all = vxm_drm_connector_list(hostfs, error);
  g_autoptr(GPtrArray) out = NULL;
  g_autoptr(GHashTable) hosts = NULL;
  g_autofree char *identity = NULL;
  char mfg[4];
  guint product;
  guint32 serial;

  if (all == NULL)
    return NULL;
  hosts = host_gpus(hostfs, all, guest_gpu);
  if (g_strcmp0(spec, "auto") == 0) {
    g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < all->len; i++) {
      VxmDrmConnector *c = all->pdata[i];
      g_autofree char *id = NULL;

      if (!vxm_drm_connector_has_monitor(c) ||
          (g_hash_table_size(hosts) > 0 &&
           (c->gpu == NULL || !g_hash_table_contains(hosts, c->gpu))))
        continue;
      id = vxm_edid_identity(c->edid);
      if (!g_ptr_array_find_with_equal_func(ids, id, g_str_equal, NULL))
        g_ptr_array_add(ids, g_steal_pointer(&id));
    }
    if (ids->len != 1) {
      g_autofree char *list = NULL;

      g_ptr_array_add(ids, NULL);
      list = g_strjoinv(", ", (char **)ids->pdata);
      if (ids->len == 1)
        g_set_error_literal(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                            "no monitor is connected to the host GPU (monitor = auto): connect "
                            "one, or name it with vxm config --set monitor=MFG:PRODUCT:SERIAL");
      else
        g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                    "%u monitors are connected to the host GPU (%s): choose one with vxm config "
                    "--set monitor=MFG:PRODUCT:SERIAL",
                    ids->len - 1, list);
      return NULL;
    }
    identity = g_strdup(ids->pdata[0]);
  } else if (parse_identity(spec, mfg, &product, &serial)) {
    identity = g_strdup_printf("%s:%u:%u", mfg, product, serial);
  } else {
    g_autoptr(VxmDrmConnector) c = vxm_drm_connector_load(hostfs, spec, error);

    if (c == NULL)
      return NULL;
    if (!vxm_drm_connector_has_monitor(c)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                  "no monitor is connected to %s (status %s)", spec, c->status);
      return NULL;
    }
    identity = vxm_edid_identity(c->edid);
  }
  if (!parse_identity(identity, mfg, &product, &serial)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT, "'%s' is not a monitor", spec);
    return NULL;
  }

  out = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_drm_connector_free);
  for (gint pass = 0; pass < 2; pass++) {
    for (guint i = 0; i < all->len; i++) {
      VxmDrmConnector *c = all->pdata[i];
      gboolean on_host;

      if (c == NULL)
        continue; /* taken in the first pass */
      on_host = c->gpu != NULL && g_hash_table_contains(hosts, c->gpu);
      if (!vxm_drm_connector_has_monitor(c) || !vxm_edid_matches(c->edid, mfg, product, serial) ||
          on_host != (pass == 0))
        continue;
      g_ptr_array_add(out, g_steal_pointer(&all->pdata[i]));
    }
  }
  if (out->len == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                "monitor %s is not connected to this host (vxm monitors lists what is)", identity);
    return NULL;
  }
  *identity_out = g_steal_pointer(&identity);
  return g_steal_pointer(&out);
}

char *
vxm_display_resolve_identity(VxmHostfs *hostfs, const char *spec, const char *guest_gpu,
                             GError **error)
{
  char *identity = NULL;
  g_autoptr(GPtrArray) found = find_monitor(hostfs, spec, guest_gpu, &identity, error);

  return found != NULL ? identity : NULL;
}

VxmEdid *
vxm_display_monitor_edid(VxmHostfs *hostfs, const char *spec, const char *guest_gpu, GError **error)
{
  g_autofree char *identity = NULL;
  g_autoptr(GPtrArray) found = find_monitor(hostfs, spec, guest_gpu, &identity, error);
  const VxmDrmConnector *c;

  if (found == NULL)
    return NULL;
  c = g_ptr_array_index(found, 0);
  return vxm_edid_parse(c->edid->raw, VXM_EDID_BLOCK_SIZE, error);
}

/* The cached bus for @identity, if it still reaches that monitor: its connector's sysfs EDID
 * is still that monitor and the connector still names that bus (its `ddc` link or `i2c-N`
 * folder), or, for a bus found by EDID, the EDID at 0x50 on it is still the connector's. Two
 * or three sysfs reads: this runs before every warm switch. */
static gboolean
cache_valid(VxmHostfs *hostfs, const VxmDdcCacheEntry *entry, const char *identity,
            VxmDisplayResult *result)
{
  g_autofree char *edid_path = g_strdup_printf(VXM_HOST_SYS_CLASS_DRM "/%s/edid", entry->connector);
  g_autofree char *data = NULL;
  g_autofree char *id = NULL;
  g_autoptr(VxmEdid) edid = NULL;
  gsize len = 0;

  if (!vxm_hostfs_read_file(hostfs, edid_path, &data, &len, NULL) ||
      (edid = vxm_edid_parse((const guint8 *)data, len, NULL)) == NULL)
    return FALSE;
  id = vxm_edid_identity(edid);
  if (strcmp(id, identity) != 0)
    return FALSE;
  if (g_strcmp0(entry->source, "link") == 0) {
    g_autofree char *link = g_strdup_printf(VXM_HOST_SYS_CLASS_DRM "/%s/ddc", entry->connector);
    g_autofree char *target = vxm_hostfs_read_link_basename(hostfs, link, NULL);
    g_autofree char *expected = g_strdup_printf("i2c-%u", entry->bus);

    if (g_strcmp0(target, expected) != 0)
      return FALSE;
  } else if (g_strcmp0(entry->source, "aux") == 0) {
    g_autofree char *folder =
        g_strdup_printf(VXM_HOST_SYS_CLASS_DRM "/%s/i2c-%u", entry->connector, entry->bus);

    if (!vxm_hostfs_is_dir(hostfs, folder))
      return FALSE;
  } else {
    g_autoptr(GBytes) bus_edid = vxm_ddc_read_edid(hostfs, entry->bus, 1, NULL);

    if (bus_edid == NULL || g_bytes_get_size(bus_edid) < VXM_EDID_BLOCK_SIZE ||
        memcmp(g_bytes_get_data(bus_edid, NULL), edid->raw, VXM_EDID_BLOCK_SIZE) != 0)
      return FALSE;
  }
  result->description = vxm_edid_describe(edid);
  return TRUE;
}

typedef enum { OP_SET, OP_GET } Op;

static gboolean
run_on_bus(VxmDdcBus *bus, Op op, guint input, gboolean know_current, VxmDisplayResult *result,
           GError **error)
{
  if (op == OP_GET || know_current) {
    VxmDdcVcpValue value;

    if (!vxm_ddc_bus_get_vcp(bus, VXM_DDC_VCP_INPUT_SOURCE, &value, error))
      return FALSE;
    result->previous_input = value.current;
    if (op == OP_GET)
      return TRUE;
    if (vxm_ddc_input_equal(value.current, input)) {
      result->written = FALSE;
      return TRUE;
    }
  }
  if (!vxm_ddc_bus_set_vcp(bus, VXM_DDC_VCP_INPUT_SOURCE, (guint16)input, error))
    return FALSE;
  result->written = TRUE;
  return TRUE;
}

static gboolean
run(VxmHostfs *hostfs, const char *spec, const char *guest_gpu, Op op, guint input,
    VxmDisplayResult *result, GError **error)
{
  g_autoptr(VxmDdcCache) cache = vxm_ddc_cache_load(vxm_hostfs_get_root(hostfs));
  g_autoptr(GPtrArray) connectors = NULL;
  g_autoptr(GError) last = NULL;
  g_autofree char *identity = NULL;
  char mfg[4];
  guint product;
  guint32 serial;

  result->previous_input = -1;
  /* the cache first: a spec that is an identity needs no scan at all */
  if (parse_identity(spec, mfg, &product, &serial))
    identity = g_strdup_printf("%s:%u:%u", mfg, product, serial);
  else if ((identity = vxm_display_resolve_identity(hostfs, spec, guest_gpu, error)) == NULL)
    return FALSE;
  result->identity = g_strdup(identity);
  {
    const VxmDdcCacheEntry *entry = vxm_ddc_cache_lookup(cache, identity);

    if (entry != NULL && cache_valid(hostfs, entry, identity, result)) {
      g_autoptr(VxmDdcBus) bus = vxm_ddc_bus_open(hostfs, entry->bus, &last);

      if (bus != NULL && run_on_bus(bus, op, input, FALSE, result, &last)) {
        result->cache_hit = TRUE;
        result->bus = entry->bus;
        result->connector = g_strdup(entry->connector);
        result->waited_us += vxm_ddc_bus_get_waited_us(bus);
        return TRUE;
      }
      if (bus != NULL)
        result->waited_us += vxm_ddc_bus_get_waited_us(bus);
      g_debug("cached bus %u of %s failed (%s): scanning", entry->bus, identity, last->message);
      g_clear_error(&last);
    }
    if (entry != NULL)
      vxm_ddc_cache_forget(cache, identity);
  }

  /* cold: scan the connectors, then ask each candidate bus until one answers */
  g_clear_pointer(&result->description, g_free);
  g_free(identity);
  identity = NULL;
  connectors = find_monitor(hostfs, spec, guest_gpu, &identity, error);
  if (connectors == NULL)
    return FALSE;
  /* the buses sysfs names first; reading EDIDs on the other buses only when those fail */
  for (gint pass = 0; pass < 2; pass++) {
    if (pass == 1)
      vxm_drm_connector_match_buses(hostfs, connectors);
    for (guint i = 0; i < connectors->len; i++) {
      VxmDrmConnector *c = connectors->pdata[i];
      g_autoptr(VxmDdcBus) bus = NULL;
      g_autoptr(GError) local_error = NULL;

      if (c->i2c_bus < 0 || (pass == 1) != (c->ddc_source == VXM_DRM_DDC_EDID_MATCH))
        continue;
      bus = vxm_ddc_bus_open(hostfs, (guint)c->i2c_bus, &local_error);
      if (bus != NULL && run_on_bus(bus, op, input, TRUE, result, &local_error)) {
        g_autoptr(GError) save_error = NULL;

        result->bus = (guint)c->i2c_bus;
        result->connector = g_strdup(c->name);
        result->description = vxm_edid_describe(c->edid);
        result->waited_us += vxm_ddc_bus_get_waited_us(bus);
        vxm_ddc_cache_store(cache, identity, (guint)c->i2c_bus, c->name,
                            vxm_drm_ddc_source_to_string(c->ddc_source));
        if (!vxm_ddc_cache_save(cache, &save_error))
          g_debug("cannot save the DDC bus cache: %s", save_error->message);
        return TRUE;
      }
      if (bus != NULL)
        result->waited_us += vxm_ddc_bus_get_waited_us(bus);
      g_prefix_error(&local_error, "%s: ", c->name);
      if (last == NULL) {
        last = g_steal_pointer(&local_error);
      } else {
        /* every connector's failure is said; the code is the first that is not a plain I/O
         * error */
        GError *both = g_error_new(
            g_error_matches(last, VXM_ERROR, VXM_ERROR_IO) ? local_error->domain : last->domain,
            g_error_matches(last, VXM_ERROR, VXM_ERROR_IO) ? local_error->code : last->code,
            "%s; %s", last->message, local_error->message);

        g_clear_error(&last);
        last = both;
      }
    }
  }
  if (!vxm_ddc_cache_save(cache, NULL))
    g_debug("cannot save the DDC bus cache");
  if (last != NULL) {
    g_propagate_prefixed_error(error, g_steal_pointer(&last),
                               "cannot reach monitor %s over DDC/CI: ", identity);
    return FALSE;
  }
  g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
              "monitor %s has no known DDC bus on %s: finding it by EDID reads /dev/i2c-N, which "
              "needs root (and the i2c-dev module)",
              identity, ((VxmDrmConnector *)connectors->pdata[0])->name);
  return FALSE;
}

gboolean
vxm_display_set_input(VxmHostfs *hostfs, const char *spec, const char *guest_gpu, guint input,
                      VxmDisplayResult *result, GError **error)
{
  return run(hostfs, spec, guest_gpu, OP_SET, input, result, error);
}

gboolean
vxm_display_get_input(VxmHostfs *hostfs, const char *spec, const char *guest_gpu,
                      VxmDisplayResult *result, GError **error)
{
  return run(hostfs, spec, guest_gpu, OP_GET, 0, result, error);
}

/* ---- start, stop and the journal ---- */

/* The last monitor-input entry not undone for the monitor @identity (several monitors each have
 * their own entry). */
static gint
last_open_entry(VxmJournal *journal, const char *identity)
{
  for (guint i = vxm_journal_get_n_entries(journal); i > 0; i--) {
    VxmJournalEntry *e = vxm_journal_get_entry(journal, i - 1);

    if (g_strcmp0(e->kind, VXM_DISPLAY_JOURNAL_KIND) == 0 && e->state != VXM_JOURNAL_STATE_UNDONE &&
        g_strcmp0(vxm_journal_entry_get_string(e, "monitor"), identity) == 0)
      return (gint)(i - 1);
  }
  return -1;
}

gboolean
vxm_display_switch(VxmHostfs *hostfs, const char *spec, const char *guest_gpu, guint input,
                   gboolean to_guest, guint host_input, VxmJournal *journal,
                   VxmDisplayResult *result, GError **error)
{
  g_auto(VxmDisplayResult) local_result = {0};
  g_autofree char *identity = NULL;
  g_autoptr(JsonObject) data = NULL;
  g_autoptr(GError) switch_error = NULL;
  g_autofree char *input_name = vxm_vm_monitor_input_to_string(input);
  guint index = 0;
  gint open_entry;

  if (result == NULL)
    result = &local_result;
  if (!to_guest || journal == NULL) {
    if (!vxm_display_set_input(hostfs, spec, guest_gpu, input, result, error)) {
      g_prefix_error(error, "cannot switch the monitor to %s: ", input_name);
      return FALSE;
    }
    if (journal != NULL && (open_entry = last_open_entry(journal, result->identity)) >= 0 &&
        !vxm_journal_finish(journal, (guint)open_entry, VXM_JOURNAL_STATE_UNDONE,
                            "switched back to the host input", error))
      return FALSE;
    return TRUE;
  }

  /* DDC/CI needs /dev/i2c-N: without i2c-dev (no /sys/class/i2c-dev) load it, journaled so the
   * teardown unloads it after switching back (the simulated host has it built in) */
  if (vxm_hostfs_is_real(hostfs) && !vxm_hostfs_is_dir(hostfs, VXM_HOST_SYS_CLASS_I2C_DEV) &&
      !vxm_kernel_module_ensure(hostfs, "i2c-dev", "for DDC/CI (monitor input switching)", journal,
                                NULL, error))
    return FALSE;

  /* the way back is journaled before the monitor changes */
  identity = vxm_display_resolve_identity(hostfs, spec, guest_gpu, error);
  if (identity == NULL) {
    g_prefix_error(error, "cannot switch the monitor to %s: ", input_name);
    return FALSE;
  }
  data = json_object_new();
  json_object_set_string_member(data, "monitor", identity);
  json_object_set_int_member(data, "host_input", host_input);
  json_object_set_int_member(data, "guest_input", input);
  if (guest_gpu != NULL)
    json_object_set_string_member(data, "guest_gpu", guest_gpu);
  if (!vxm_journal_begin(journal, VXM_DISPLAY_JOURNAL_KIND, data, &index, error))
    return FALSE;
  if (!vxm_display_set_input(hostfs, identity, guest_gpu, input, result, &switch_error)) {
    /* every write was refused (NAK) or never sent: the monitor still shows the host */
    if (!vxm_journal_finish(journal, index, VXM_JOURNAL_STATE_UNDONE, switch_error->message, error))
      return FALSE;
    g_propagate_prefixed_error(error, g_steal_pointer(&switch_error),
                               "cannot switch the monitor to %s: ", input_name);
    return FALSE;
  }
  json_object_set_int_member(data, "bus", result->bus);
  if (result->previous_input >= 0)
    json_object_set_int_member(data, "previous_input", result->previous_input);
  return vxm_journal_finish(journal, index, VXM_JOURNAL_STATE_DONE, NULL, error);
}

gboolean
vxm_display_switch_to(VxmHostfs *hostfs, const VxmVmConfig *config, const char *which,
                      VxmJournal *journal, VxmDisplayResult *result, GError **error)
{
  g_autoptr(GPtrArray) switches = NULL;
  g_autoptr(GString) failures = g_string_new(NULL);
  gboolean to_guest = g_strcmp0(which, "guest") == 0;
  gint code = -1;

  if (!to_guest && g_strcmp0(which, "host") != 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT, "'%s': host or guest", which);
    return FALSE;
  }
  /* each monitor on its own: one that does not answer does not keep the others */
  switches = vxm_vm_config_monitor_switches(config);
  for (guint i = 0; i < switches->len; i++) {
    const VxmVmMonitorSwitch *sw = g_ptr_array_index(switches, i);
    g_auto(VxmDisplayResult) local_result = {0};
    g_autoptr(GError) local_error = NULL;

    if (!vxm_display_switch(hostfs, sw->spec, config->gpu,
                            to_guest ? sw->guest_input : sw->host_input, to_guest, sw->host_input,
                            journal, result != NULL && i == 0 ? result : &local_result,
                            &local_error)) {
      if (switches->len > 1)
        g_prefix_error(&local_error, "%s: ", sw->spec);
      g_string_append_printf(failures, "%s%s", failures->len > 0 ? "; " : "", local_error->message);
      if (code < 0)
        code = local_error->code;
    }
  }
  if (failures->len > 0) {
    g_set_error_literal(error, VXM_ERROR, code, failures->str);
    return FALSE;
  }
  return TRUE;
}

static gboolean
undo_monitor_input(const VxmJournalUndoContext *ctx, const VxmJournalEntry *entry,
                   char **out_message, GError **error)
{
  const char *monitor = vxm_journal_entry_get_string(entry, "monitor");
  const char *guest_gpu = vxm_journal_entry_get_string(entry, "guest_gpu");
  g_auto(VxmDisplayResult) result = {0};
  g_autoptr(GError) local_error = NULL;
  g_autofree char *input_name = NULL;
  gint64 host_input;

  if (monitor == NULL || !json_object_has_member(entry->data, "host_input") ||
      (host_input = json_object_get_int_member(entry->data, "host_input")) <= 0 ||
      host_input > 0xffff) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                        "a monitor-input entry without its monitor or host input");
    return FALSE;
  }
  input_name = vxm_vm_monitor_input_to_string((guint)host_input);
  if (!vxm_display_set_input(ctx->hostfs, monitor, guest_gpu, (guint)host_input, &result,
                             &local_error)) {
    if (g_error_matches(local_error, VXM_ERROR, VXM_ERROR_NOT_FOUND) &&
        strstr(local_error->message, "not connected") != NULL) {
      *out_message =
          g_strdup_printf("monitor %s is no longer connected: its input is left as is", monitor);
      return TRUE;
    }
    g_propagate_prefixed_error(error, g_steal_pointer(&local_error),
                               "cannot switch monitor %s back to %s: ", monitor, input_name);
    return FALSE;
  }
  *out_message =
      g_strdup_printf("monitor %s (%s) back to %s",
                      result.description ? result.description : monitor, monitor, input_name);
  return TRUE;
}

void
vxm_display_register_journal_kinds(void)
{
  vxm_journal_register_kind(VXM_DISPLAY_JOURNAL_KIND, undo_monitor_input);
}
