#include "vxm-vfio.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "pci/vxm-pci-holders.h"
#include "pci/vxm-sysfs-writer.h"
#include "platform/vxm-kernel-module.h"

#define NVIDIA_VENDOR_ID 0x10de

/* ---- reading the binding state (always fresh from sysfs, never a snapshot) ---- */

/* The bound driver's name, or NULL when unbound. */
static char *
read_driver(VxmHostfs *hostfs, const char *bdf)
{
  g_autofree char *link = g_strdup_printf(VXM_HOST_SYS_PCI_DEVICES "/%s/driver", bdf);
  return vxm_hostfs_read_link_basename(hostfs, link, NULL);
}

/* driver_override into *out, NULL when unset ("(null)") or missing. Its show takes the
 * device lock, which an unbind waiting in the kernel holds: the read has a time limit, and
 * when it runs out the error (BUSY) says who the unbind waits for (IOMMU group @group). */
static gboolean
read_override_checked(VxmHostfs *hostfs, const char *bdf, gint group, char **out, GError **error)
{
  g_autofree char *path = g_strdup_printf(VXM_HOST_SYS_PCI_DEVICES "/%s/driver_override", bdf);
  g_autoptr(GError) local = NULL;
  g_autofree char *value = vxm_sysfs_read_timeout(hostfs, path, 0, &local);

  *out = NULL;
  if (value == NULL && g_error_matches(local, VXM_ERROR, VXM_ERROR_TIMEOUT)) {
    g_autofree char *busy = vxm_pci_holders_describe_busy(hostfs, bdf, group);

    g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY, "%s", busy);
    return FALSE;
  }
  if (value != NULL)
    g_strchomp(value);
  if (value == NULL || *value == '\0' || strcmp(value, "(null)") == 0)
    return TRUE;
  *out = g_steal_pointer(&value);
  return TRUE;
}

/* The group of @bdf from its iommu_group link, -1 when none. */
static gint
device_group(VxmHostfs *hostfs, const char *bdf)
{
  g_autofree char *link = g_strdup_printf(VXM_HOST_SYS_PCI_DEVICES "/%s/iommu_group", bdf);
  g_autofree char *name = vxm_hostfs_read_link_basename(hostfs, link, NULL);
  gint64 n;

  if (name == NULL || !vxm_parse_int64(name, 10, &n) || n < 0 || n > G_MAXINT)
    return -1;
  return (gint)n;
}

/* Refuses (BUSY) while a process holds group @group's /dev/vfio/N: unbinding a device of the
 * group from vfio-pci would wait in the kernel for it ("Relaying device request to user"),
 * holding the device lock, and every read of the device's driver_override with it. */
static gboolean
check_group_not_held(VxmHostfs *hostfs, const char *bdf, gint group, const char *doing,
                     GError **error)
{
  g_autoptr(GPtrArray) holders = NULL;
  g_autofree char *who = NULL;
  g_autofree char *node = g_strdup_printf(VXM_HOST_DEV_VFIO "/%d", group);
  gboolean detaching = strcmp(doing, "detach") == 0;
  guint unreadable = 0;

  /* no node, no holder: the usual case costs one stat, not a scan of /proc */
  if (group < 0 || !vxm_hostfs_exists(hostfs, node))
    return TRUE;
  holders = vxm_pci_holders_scan_vfio_group(hostfs, group, &unreadable, error);
  if (holders == NULL)
    return FALSE;
  if (holders->len == 0 && unreadable > 0) {
    /* not knowing is not "nobody": an unseen holder would leave the unbind waiting */
    g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                "refusing to %s %s: cannot tell whether a process holds IOMMU group %d: the open "
                "files of %u process%s could not be read (that takes CAP_SYS_PTRACE: run vxm as "
                "root, or check vxmd's capabilities)",
                doing, bdf, group, unreadable, unreadable == 1 ? "" : "es");
    return FALSE;
  }
  if (holders->len == 0)
    return TRUE;
  who = vxm_pci_holders_describe(holders);
  g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
              "refusing to %s %s: %u process%s hold%s IOMMU group %d (%s), %s: stop the VM using "
              "it first (or kill %" G_GINT64_FORMAT ")",
              doing, bdf, holders->len, holders->len == 1 ? "" : "es", holders->len == 1 ? "s" : "",
              group, who,
              detaching ? "so another VM has the card"
                        : "and the kernel would make the unbind wait for it, blocking every read "
                          "of the device meanwhile",
              ((VxmPciHolder *)g_ptr_array_index(holders, 0))->pid);
  return FALSE;
}

static gboolean
device_exists(VxmHostfs *hostfs, const char *bdf)
{
  g_autofree char *path = g_strdup_printf(VXM_HOST_SYS_PCI_DEVICES "/%s", bdf);
  return vxm_hostfs_exists(hostfs, path);
}

static gboolean
driver_loaded(VxmHostfs *hostfs, const char *driver)
{
  g_autofree char *path = g_strdup_printf(VXM_HOST_SYS_PCI_DRIVERS "/%s", driver);
  return vxm_hostfs_is_dir(hostfs, path);
}

static const char *
or_none(const char *driver)
{
  return driver != NULL ? driver : "no driver";
}

/* ---- the writes (each with its shell equivalent) ---- */

static gboolean
write_override(VxmHostfs *hostfs, const char *bdf, const char *value, guint timeout_ms,
               GError **error)
{
  /* echo vfio-pci > /sys/bus/pci/devices/$BDF/driver_override  (or "\n" to clear it) */
  g_autofree char *path = g_strdup_printf(VXM_HOST_SYS_PCI_DEVICES "/%s/driver_override", bdf);
  g_autofree char *now = NULL;
  const char *want = strcmp(value, "\n") == 0 ? NULL : value;

  if (!vxm_sysfs_write_timeout(hostfs, path, value, timeout_ms, error))
    return FALSE;
  if (!read_override_checked(hostfs, bdf, device_group(hostfs, bdf), &now, error))
    return FALSE;
  if (g_strcmp0(now, want) != 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "%s reads '%s' after writing '%s'", path,
                now != NULL ? now : "(null)", want != NULL ? want : "(null)");
    return FALSE;
  }
  return TRUE;
}

static gboolean
write_unbind(VxmHostfs *hostfs, const char *bdf, const char *driver, guint timeout_ms,
             GError **error)
{
  /* echo $BDF > /sys/bus/pci/drivers/$DRIVER/unbind */
  g_autofree char *path = g_strdup_printf(VXM_HOST_SYS_PCI_DRIVERS "/%s/unbind", driver);
  g_autofree char *now = NULL;

  if (!vxm_sysfs_write_timeout(hostfs, path, bdf, timeout_ms, error)) {
    if (g_error_matches(*error, VXM_ERROR, VXM_ERROR_TIMEOUT)) {
      g_autofree char *limit =
          vxm_sysfs_format_timeout(timeout_ms ? timeout_ms : VXM_SYSFS_WRITE_TIMEOUT_DEFAULT_MS);
      g_clear_error(error);
      g_set_error(error, VXM_ERROR, VXM_ERROR_STUCK,
                  "unbinding %s from %s did not finish in %s: the driver is stuck (something may "
                  "still use the card); vxm leaves this device alone: run vxm recover once the "
                  "write finishes, or reboot",
                  bdf, driver, limit);
    }
    return FALSE;
  }
  now = read_driver(hostfs, bdf);
  if (now != NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "%s is still on %s after unbinding it", bdf, now);
    return FALSE;
  }
  return TRUE;
}

static gboolean
write_probe(VxmHostfs *hostfs, const char *bdf, guint timeout_ms, GError **error)
{
  /* echo $BDF > /sys/bus/pci/drivers_probe */
  if (vxm_sysfs_write_timeout(hostfs, VXM_HOST_SYS_PCI_DRIVERS_PROBE, bdf, timeout_ms, error))
    return TRUE;
  if (g_error_matches(*error, VXM_ERROR, VXM_ERROR_TIMEOUT))
    (*error)->code = VXM_ERROR_STUCK;
  return FALSE;
}

static gboolean
write_bind(VxmHostfs *hostfs, const char *bdf, const char *driver, guint timeout_ms, GError **error)
{
  /* echo $BDF > /sys/bus/pci/drivers/$DRIVER/bind */
  g_autofree char *path = g_strdup_printf(VXM_HOST_SYS_PCI_DRIVERS "/%s/bind", driver);

  if (vxm_sysfs_write_timeout(hostfs, path, bdf, timeout_ms, error))
    return TRUE;
  if (g_error_matches(*error, VXM_ERROR, VXM_ERROR_TIMEOUT))
    (*error)->code = VXM_ERROR_STUCK;
  return FALSE;
}

/* ---- writes left hanging ---- */

/* Records the child left in the write that just timed out, so that a later undo (perhaps by
 * another vxm) does not race a write still in the kernel. */
static void
record_stuck_writer(JsonObject *data)
{
  gint64 pid = vxm_sysfs_writer_last_stuck_pid();
  VxmJournalOwner writer;

  if (pid > 0 && vxm_journal_owner_init_pid(&writer, pid, NULL))
    json_object_set_member(data, "stuck_writer", vxm_journal_owner_to_json(&writer));
}

static gboolean
check_stuck_writer(const VxmJournalEntry *entry, const char *bdf, GError **error)
{
  JsonNode *node = json_object_get_member(entry->data, "stuck_writer");
  VxmJournalOwner writer;

  if (node == NULL || !vxm_journal_owner_from_json(node, &writer, NULL) ||
      !vxm_journal_owner_is_alive(&writer))
    return TRUE;
  g_set_error(error, VXM_ERROR, VXM_ERROR_STUCK,
              "a write to %s is still blocked in the kernel (process %" G_GINT64_FORMAT
              "): %s can be given back once it finishes (run vxm recover again then); reboot "
              "if it never does",
              bdf, writer.pid, bdf);
  return FALSE;
}

/* ---- undo of one "pci-bind" entry: give the device back ---- */

static gboolean undo_pci_bind_steps(const VxmJournalUndoContext *ctx, const VxmJournalEntry *entry,
                                    char **out_message, GError **error);

static gboolean
undo_pci_bind(const VxmJournalUndoContext *ctx, const VxmJournalEntry *entry, char **out_message,
              GError **error)
{
  const char *bdf = vxm_journal_entry_get_string(entry, "device");

  if (bdf != NULL && !check_stuck_writer(entry, bdf, error))
    return FALSE;
  if (undo_pci_bind_steps(ctx, entry, out_message, error))
    return TRUE;
  if (g_error_matches(*error, VXM_ERROR, VXM_ERROR_STUCK) ||
      g_error_matches(*error, VXM_ERROR, VXM_ERROR_TIMEOUT))
    record_stuck_writer(entry->data);
  return FALSE;
}

static gboolean
undo_pci_bind_steps(const VxmJournalUndoContext *ctx, const VxmJournalEntry *entry,
                    char **out_message, GError **error)
{
  VxmHostfs *hostfs = ctx->hostfs;
  const char *bdf = vxm_journal_entry_get_string(entry, "device");
  const char *original = vxm_journal_entry_get_string(entry, "original_driver");
  const char *original_override = vxm_journal_entry_get_string(entry, "original_override");
  JsonNode *already = json_object_get_member(entry->data, "already_vfio");
  gint group = json_object_has_member(entry->data, "iommu_group")
                   ? (gint)json_object_get_int_member(entry->data, "iommu_group")
                   : -1;
  g_autofree char *driver = NULL;
  g_autofree char *override = NULL;
  g_autoptr(GString) said = g_string_new(NULL);

  if (bdf == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "a pci-bind entry names no device");
    return FALSE;
  }
  if (already != NULL && json_node_get_boolean(already))
    return TRUE; /* it was on vfio-pci before vxm came: it stays there */
  if (!device_exists(hostfs, bdf)) {
    *out_message = g_strdup_printf("%s has disappeared (unplugged?): nothing to give back", bdf);
    return TRUE;
  }
  driver = read_driver(hostfs, bdf);
  if (!read_override_checked(hostfs, bdf, group, &override, error))
    return FALSE;
  /* before anything changes: a VM still holding the group would make the unbind wait */
  if (g_strcmp0(driver, VXM_VFIO_DRIVER) == 0 &&
      !check_group_not_held(hostfs, bdf, group, "give back", error))
    return FALSE;

  /* 1. the override the user had (usually none), so the probe below can choose the driver */
  if (g_strcmp0(override, original_override) != 0) {
    if (!write_override(hostfs, bdf, original_override != NULL ? original_override : "\n",
                        ctx->timeout_ms, error)) {
      g_prefix_error(error, "cannot give %s back: ", bdf);
      return FALSE;
    }
  }
  if (g_strcmp0(driver, original) == 0) {
    if (override != NULL && g_strcmp0(override, original_override) != 0)
      *out_message = g_strdup_printf("%s is on %s (its override cleared)", bdf, or_none(original));
    return TRUE; /* the change never happened, or was undone already */
  }
  if (driver != NULL && strcmp(driver, VXM_VFIO_DRIVER) != 0) {
    /* someone else rebound it since: not ours to undo */
    *out_message = g_strdup_printf("%s is on %s, not vfio-pci: left as it is (it was on %s)", bdf,
                                   driver, or_none(original));
    return TRUE;
  }

  /* 2. off vfio-pci (QEMU must be gone by now, or this blocks: hence the time limit) */
  if (driver != NULL && !write_unbind(hostfs, bdf, driver, ctx->timeout_ms, error)) {
    g_prefix_error(error, "cannot give %s back to %s: ", bdf, or_none(original));
    return FALSE;
  }
  if (original == NULL) {
    *out_message = g_strdup_printf("%s released from vfio-pci (it had no driver before)", bdf);
    return TRUE;
  }

  /* 3. let the kernel probe, as at boot; 4. verify the recorded driver came back */
  if (!write_probe(hostfs, bdf, ctx->timeout_ms, error)) {
    g_prefix_error(error, "cannot give %s back to %s: ", bdf, original);
    return FALSE;
  }
  g_clear_pointer(&driver, g_free);
  driver = read_driver(hostfs, bdf);
  if (g_strcmp0(driver, original) == 0) {
    *out_message = g_strdup_printf("%s back on %s", bdf, original);
    return TRUE;
  }
  if (driver != NULL) {
    g_string_append_printf(said, "the probe gave it to %s, ", driver);
    if (!write_unbind(hostfs, bdf, driver, ctx->timeout_ms, error)) {
      g_prefix_error(error, "%s went to %s instead of %s and cannot be taken off it: ", bdf, driver,
                     original);
      return FALSE;
    }
  } else {
    g_string_append(said, "no driver took it on probe, ");
  }
  if (!driver_loaded(hostfs, original)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                "%s cannot go back to %s: %sand the %s driver is not loaded: run modprobe %s, "
                "then vxm recover",
                bdf, original, said->str, original, original);
    return FALSE;
  }
  if (!write_bind(hostfs, bdf, original, ctx->timeout_ms, error)) {
    g_prefix_error(error, "%s: %sand binding it to %s failed: ", bdf, said->str, original);
    return FALSE;
  }
  g_clear_pointer(&driver, g_free);
  driver = read_driver(hostfs, bdf);
  if (g_strcmp0(driver, original) != 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "%s: %sand after binding it to %s it is on %s", bdf,
                said->str, original, or_none(driver));
    return FALSE;
  }
  *out_message = g_strdup_printf("%s back on %s (%sso vxm bound %s explicitly)", bdf, original,
                                 said->str, original);
  return TRUE;
}

void
vxm_vfio_register_journal_kinds(void)
{
  vxm_journal_register_kind(VXM_VFIO_JOURNAL_KIND, undo_pci_bind);
}

/* ---- detach ---- */

static gboolean
is_bridge(VxmPciDevice *dev)
{
  guint16 cls = vxm_pci_device_get_class_code(dev);
  return cls == VXM_PCI_CLASS_PCI_BRIDGE || cls == VXM_PCI_CLASS_HOST_BRIDGE;
}

GPtrArray *
vxm_vfio_get_endpoints(VxmGpu *gpu)
{
  GPtrArray *members = vxm_gpu_get_iommu_group_members(gpu);
  GPtrArray *endpoints = g_ptr_array_new_with_free_func(g_object_unref);

  for (guint i = 0; i < members->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(members, i);

    if (!is_bridge(dev))
      g_ptr_array_add(endpoints, g_object_ref(dev));
  }
  return endpoints;
}

char *
vxm_vfio_manual_journal_name(VxmGpu *gpu)
{
  return g_strdup_printf("manual-%s", vxm_gpu_get_address(gpu));
}

/* Every refusal comes before the first write. */
static gboolean
check_detach_allowed(VxmHostfs *hostfs, VxmGpu *gpu, const VxmVfioOptions *options, GError **error)
{
  VxmPciBus *bus = vxm_gpu_get_bus(gpu);
  const char *bdf = vxm_gpu_get_address(gpu);
  g_autoptr(GPtrArray) reasons = NULL;
  GPtrArray *functions = vxm_gpu_get_all_functions(gpu);
  g_autoptr(GPtrArray) holders =
      g_ptr_array_new_with_free_func((GDestroyNotify)vxm_pci_holder_free);
  gboolean nvidia = vxm_pci_device_get_vendor_id(vxm_gpu_get_device(gpu)) == NVIDIA_VENDOR_ID;
  guint unreadable = 0;

  if (vxm_hostfs_is_real(hostfs) && geteuid() != 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                "binding %s to vfio-pci by hand needs root (sudo vxm detach %s); vxm start gets "
                "a VM's GPU through vxmd",
                bdf, bdf);
    return FALSE;
  }
  if (!vxm_pci_bus_get_iommu_enabled(bus)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "cannot detach %s: the IOMMU is off (no %s): turn on VT-d/AMD-Vi in the firmware "
                "and add intel_iommu=on (Intel) or amd_iommu=on (AMD) to the kernel command line, "
                "then reboot",
                bdf, VXM_HOST_SYS_IOMMU_GROUPS);
    return FALSE;
  }
  /* the one policy (vxm-gpu): boot VGA, last GPU, group viability; --force never overrides */
  if (!vxm_gpu_check_passthrough_safe(gpu, &reasons)) {
    g_autoptr(GString) text = g_string_new(NULL);

    for (guint i = 0; reasons != NULL && i < reasons->len; i++)
      g_string_append_printf(text, "%s%s", i > 0 ? "; " : "",
                             (char *)g_ptr_array_index(reasons, i));
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED, "refusing to detach %s: %s", bdf, text->str);
    return FALSE;
  }
  /* a group already on vfio-pci that another VM's QEMU holds is that VM's */
  {
    GArray *groups = vxm_gpu_get_iommu_groups(gpu);

    for (guint i = 0; i < groups->len; i++)
      if (!check_group_not_held(hostfs, bdf, g_array_index(groups, gint, i), "detach", error))
        return FALSE;
  }
  /* holders of any display function of the card (a second display function has nodes too) */
  for (guint i = 0; i < functions->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(functions, i);
    g_autoptr(GPtrArray) found = NULL;
    guint n = 0;

    if (!vxm_pci_device_is_display(dev))
      continue;
    found = vxm_pci_holders_scan(hostfs, vxm_pci_device_get_address(dev), &n, error);
    if (found == NULL)
      return FALSE;
    unreadable += n;
    for (guint k = 0; k < found->len; k++)
      g_ptr_array_add(holders, g_steal_pointer(&g_ptr_array_index(found, k)));
  }
  if (holders->len > 0 && (nvidia || !options->force)) {
    g_autofree char *who = vxm_pci_holders_describe(holders);
    g_autofree char *advice = vxm_pci_holders_advice(hostfs, bdf, holders);

    g_set_error(
        error, VXM_ERROR, VXM_ERROR_BUSY,
        "refusing to detach %s: %u process%s hold%s the card: %s; %s%s", bdf, holders->len,
        holders->len == 1 ? "" : "es", holders->len == 1 ? "s" : "", who, advice,
        nvidia ? " (the NVIDIA driver would hang on unbind, so --force cannot override this)"
               : " (or --force: its driver survives the unbind, those programs lose the card)");
    return FALSE;
  }
  if (unreadable > 0 && !options->force) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                "cannot tell whether %s is in use: the open files of %u process%s could not be "
                "read: run as root (or with --force to go ahead without knowing)",
                bdf, unreadable, unreadable == 1 ? "" : "es");
    return FALSE;
  }
  return TRUE;
}

static JsonObject *
entry_data(const char *bdf, const char *gpu, const char *driver, const char *override, gint group,
           gboolean already)
{
  JsonObject *data = json_object_new();

  json_object_set_string_member(data, "device", bdf);
  json_object_set_string_member(data, "gpu", gpu);
  if (driver != NULL)
    json_object_set_string_member(data, "original_driver", driver);
  else
    json_object_set_null_member(data, "original_driver");
  if (override != NULL)
    json_object_set_string_member(data, "original_override", override);
  else
    json_object_set_null_member(data, "original_override");
  json_object_set_int_member(data, "iommu_group", group);
  json_object_set_boolean_member(data, "already_vfio", already);
  return data;
}

/* One device to vfio-pci. @out_index is the journal entry (G_MAXUINT when none was made). */
static gboolean
detach_one(VxmHostfs *hostfs, VxmGpu *gpu, VxmPciDevice *dev, VxmJournal *journal,
           const VxmVfioOptions *options, guint *out_index, GPtrArray *report, GError **error)
{
  const char *bdf = vxm_pci_device_get_address(dev);
  g_autofree char *driver = read_driver(hostfs, bdf);
  g_autofree char *override = NULL;
  g_autofree char *now = NULL;
  g_autoptr(JsonObject) data = NULL;
  gboolean already = g_strcmp0(driver, VXM_VFIO_DRIVER) == 0;

  *out_index = G_MAXUINT;
  if (!device_exists(hostfs, bdf)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND, "%s has disappeared", bdf);
    return FALSE;
  }
  if (!read_override_checked(hostfs, bdf, vxm_pci_device_get_iommu_group(dev), &override, error))
    return FALSE;
  /* recorded even when there is nothing to do, so reattach leaves it on vfio-pci */
  data = entry_data(bdf, vxm_gpu_get_address(gpu), driver, override,
                    vxm_pci_device_get_iommu_group(dev), already);
  {
    /* a [pci] extra device: not of the card's groups */
    GArray *groups = vxm_gpu_get_iommu_groups(gpu);
    gboolean card = FALSE;

    for (guint i = 0; i < groups->len && !card; i++)
      card = g_array_index(groups, gint, i) == vxm_pci_device_get_iommu_group(dev);
    if (!card)
      json_object_set_boolean_member(data, "extra", TRUE);
  }
  if (!vxm_journal_begin(journal, VXM_VFIO_JOURNAL_KIND, data, out_index, error))
    return FALSE;
  if (already) {
    if (report != NULL)
      g_ptr_array_add(report, g_strdup_printf("%s was already on vfio-pci", bdf));
    return vxm_journal_finish(journal, *out_index, VXM_JOURNAL_STATE_DONE, "already on vfio-pci",
                              error);
  }

  /* 1. only vfio-pci may take it from now on */
  if (!write_override(hostfs, bdf, VXM_VFIO_DRIVER, options->timeout_ms, error))
    goto failed;
  /* 2. off its driver: the write that can hang */
  if (driver != NULL && !write_unbind(hostfs, bdf, driver, options->timeout_ms, error))
    goto failed;
  /* 3. probe: vfio-pci matches through the override; 4. verify */
  if (!write_probe(hostfs, bdf, options->timeout_ms, error))
    goto failed;
  now = read_driver(hostfs, bdf);
  if (g_strcmp0(now, VXM_VFIO_DRIVER) != 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "vfio-pci did not take %s on probe (it is on %s)",
                bdf, or_none(now));
    goto failed;
  }
  if (report != NULL)
    g_ptr_array_add(report, g_strdup_printf("%s: %s -> vfio-pci", bdf, or_none(driver)));
  return vxm_journal_finish(journal, *out_index, VXM_JOURNAL_STATE_DONE, NULL, error);

failed:
  if (g_error_matches(*error, VXM_ERROR, VXM_ERROR_TIMEOUT))
    (*error)->code = VXM_ERROR_STUCK; /* any hung write: the device's state is unknown */
  if (g_error_matches(*error, VXM_ERROR, VXM_ERROR_STUCK)) {
    /* a hung write: nothing further is done to this device, and the journal says so */
    g_autoptr(GError) local = NULL;

    record_stuck_writer(data);
    if (!vxm_journal_finish(journal, *out_index, VXM_JOURNAL_STATE_STUCK, (*error)->message,
                            &local))
      g_prefix_error(error, "(and the journal could not record it: %s) ", local->message);
  }
  return FALSE;
}

/* Waits for /dev/vfio/N: udev creates it after the bind; QEMU opens it. inotify on /dev/vfio
 * (or /dev until it exists); a FUSE root sends no events, so the last check decides. */
static gboolean
wait_for_group_node(VxmHostfs *hostfs, gint group, guint timeout_ms, GError **error)
{
  g_autofree char *node = g_strdup_printf(VXM_HOST_DEV_VFIO "/%d", group);
  g_autofree char *dir = vxm_hostfs_path(hostfs, VXM_HOST_DEV_VFIO);
  g_autofree char *dev = vxm_hostfs_path(hostfs, VXM_HOST_DEV);
  vxm_autofd int fd = -1;
  gint64 deadline;

  if (vxm_hostfs_exists(hostfs, node))
    return TRUE;
  if (timeout_ms == 0)
    timeout_ms = VXM_VFIO_NODE_TIMEOUT_DEFAULT_MS;
  fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd >= 0) {
    inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO | IN_ATTRIB);
    inotify_add_watch(fd, dev, IN_CREATE | IN_MOVED_TO);
  }
  deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  while (!vxm_hostfs_exists(hostfs, node)) {
    gint64 left = (deadline - g_get_monotonic_time()) / 1000;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    char buf[4096];

    if (left <= 0 || fd < 0) {
      g_autofree char *limit = vxm_sysfs_format_timeout(timeout_ms);

      g_set_error(error, VXM_ERROR, VXM_ERROR_TIMEOUT,
                  "%s did not appear within %s of binding group %d to vfio-pci: is udev running, "
                  "and is the vfio module loaded?",
                  node, limit, group);
      return FALSE;
    }
    if (poll(&pfd, 1, (int)MIN(left, 100)) > 0)
      while (read(fd, buf, sizeof buf) > 0)
        ;
    /* a new /dev/vfio needs its own watch */
    inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO | IN_ATTRIB);
  }
  return TRUE;
}

gboolean
vxm_vfio_detach_group(VxmHostfs *hostfs, VxmGpu *gpu, VxmJournal *journal,
                      const VxmVfioOptions *options, GPtrArray *report, GError **error)
{
  return vxm_vfio_detach_group_with(hostfs, gpu, NULL, journal, options, report, error);
}

static void
add_group_once(GArray *groups, gint group)
{
  for (guint i = 0; i < groups->len; i++)
    if (g_array_index(groups, gint, i) == group)
      return;
  if (group >= 0)
    g_array_append_val(groups, group);
}

gboolean
vxm_vfio_detach_group_with(VxmHostfs *hostfs, VxmGpu *gpu, GPtrArray *extra, VxmJournal *journal,
                           const VxmVfioOptions *options, GPtrArray *report, GError **error)
{
  static const VxmVfioOptions defaults = {0};
  g_autoptr(GPtrArray) endpoints = vxm_vfio_get_endpoints(gpu);
  g_autoptr(GArray) indexes = g_array_new(FALSE, FALSE, sizeof(guint));
  g_autoptr(GError) failure = NULL;
  VxmJournalUndoContext ctx = {.hostfs = hostfs};
  g_autoptr(GString) put_back = g_string_new(NULL);
  g_autoptr(GString) left = g_string_new(NULL);
  g_autoptr(GArray) groups = g_array_new(FALSE, FALSE, sizeof(gint));
  const char *bdf = vxm_gpu_get_address(gpu);
  guint failed_at = G_MAXUINT;

  if (options == NULL)
    options = &defaults;
  ctx.timeout_ms = options->timeout_ms;
  vxm_vfio_register_journal_kinds();
  vxm_sysfs_writer_reap();
  if (!check_detach_allowed(hostfs, gpu, options, error))
    return FALSE;
  {
    GArray *gpu_groups = vxm_gpu_get_iommu_groups(gpu);

    for (guint i = 0; i < gpu_groups->len; i++)
      add_group_once(groups, g_array_index(gpu_groups, gint, i));
  }
  /* the extra devices (vxm-pci-extra allowed them): after the card, in the same transaction */
  for (guint i = 0; extra != NULL && i < extra->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(extra, i);
    gint group = vxm_pci_device_get_iommu_group(dev);

    if (!check_group_not_held(hostfs, vxm_pci_device_get_address(dev), group, "detach", error))
      return FALSE;
    add_group_once(groups, group);
    g_ptr_array_add(endpoints, g_object_ref(dev));
  }
  /* a fresh boot has no vfio-pci, and nothing loads it on demand: vxm does (journaled, so
   * the teardown unloads it again) */
  if (!driver_loaded(hostfs, VXM_VFIO_DRIVER)) {
    g_autofree char *why = g_strdup_printf("to detach %s", bdf);

    if (!vxm_kernel_module_ensure(hostfs, VXM_VFIO_DRIVER, why, journal, report, error))
      return FALSE;
    if (!driver_loaded(hostfs, VXM_VFIO_DRIVER)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
                  "cannot detach %s: the vfio-pci module is loaded but its driver is not "
                  "registered (no %s/vfio-pci)",
                  bdf, VXM_HOST_SYS_PCI_DRIVERS);
      return FALSE;
    }
  }

  /* step i moves endpoint i; on failure steps i..0 are unwound in reverse */
  for (guint i = 0; i < endpoints->len; i++) {
    guint index = G_MAXUINT;

    if (!detach_one(hostfs, gpu, g_ptr_array_index(endpoints, i), journal, options, &index, report,
                    &failure)) {
      if (index != G_MAXUINT)
        g_array_append_val(indexes, index);
      failed_at = i;
      break;
    }
    g_array_append_val(indexes, index);
  }
  if (failure == NULL) {
    for (guint i = 0; i < groups->len; i++) {
      if (!wait_for_group_node(hostfs, g_array_index(groups, gint, i), options->node_timeout_ms,
                               &failure))
        break;
    }
  }
  if (failure == NULL)
    return TRUE;

  /* unwind: every entry of this transaction, last first; a stuck device is left alone */
  for (guint k = indexes->len; k-- > 0;) {
    guint index = g_array_index(indexes, guint, k);
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, index);
    const char *dev = vxm_journal_entry_get_string(entry, "device");
    g_autoptr(GError) local = NULL;
    g_autofree char *message = NULL;

    if (entry->state == VXM_JOURNAL_STATE_STUCK) {
      g_string_append_printf(left, "%s%s is stuck", left->len > 0 ? ", " : "", dev);
      continue;
    }
    if (undo_pci_bind(&ctx, entry, &message, &local)) {
      if (!vxm_journal_finish(journal, index, VXM_JOURNAL_STATE_UNDONE, message, &local))
        g_string_append_printf(left, "%s%s (journal: %s)", left->len > 0 ? ", " : "", dev,
                               local->message);
      else if (message != NULL)
        g_string_append_printf(put_back, "%s%s", put_back->len > 0 ? ", " : "", message);
      continue;
    }
    if (g_error_matches(local, VXM_ERROR, VXM_ERROR_STUCK) ||
        g_error_matches(local, VXM_ERROR, VXM_ERROR_TIMEOUT))
      if (!vxm_journal_finish(journal, index, VXM_JOURNAL_STATE_STUCK, local->message, NULL))
        g_debug("cannot mark %s stuck in the journal", dev);
    g_string_append_printf(left, "%s%s (%s)", left->len > 0 ? ", " : "", dev, local->message);
  }
  if (failed_at != G_MAXUINT)
    g_prefix_error(&failure, "detaching %s failed at %s: ", bdf,
                   vxm_pci_device_get_address(g_ptr_array_index(endpoints, failed_at)));
  else
    g_prefix_error(&failure, "detaching %s failed: ", bdf);
  if (left->len > 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_STUCK, "%s; put back: %s; left: %s (journal %s)",
                failure->message, put_back->len > 0 ? put_back->str : "nothing", left->str,
                vxm_journal_get_path(journal));
    return FALSE;
  }
  g_set_error(error, failure->domain, failure->code, "%s; everything was put back%s%s",
              failure->message, put_back->len > 0 ? ": " : "", put_back->str);
  return FALSE;
}

/* ---- reattach ---- */

gboolean
vxm_vfio_reattach_group(VxmHostfs *hostfs, VxmJournal *journal, const VxmVfioOptions *options,
                        GPtrArray *report, GError **error)
{
  VxmJournalUndoContext ctx = {.hostfs = hostfs};

  if (vxm_hostfs_is_real(hostfs) && geteuid() != 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                "giving devices back by hand needs root (sudo vxm reattach); a VM's GPU comes "
                "back through vxmd when it stops");
    return FALSE;
  }
  if (options != NULL)
    ctx.timeout_ms = options->timeout_ms;
  vxm_vfio_register_journal_kinds();
  vxm_kernel_module_register_journal_kind();
  vxm_sysfs_writer_reap();
  if (!vxm_journal_claim(journal, error))
    return FALSE;
  return vxm_journal_undo(journal, &ctx, report, error);
}

/* ---- status ---- */

GPtrArray *
vxm_vfio_find_journals(VxmHostfs *hostfs, VxmGpu *gpu, GPtrArray *problems, GError **error)
{
  g_autoptr(GPtrArray) names = vxm_journal_list(hostfs, error);
  g_autoptr(GPtrArray) endpoints = vxm_vfio_get_endpoints(gpu);
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_journal_free);

  if (names == NULL)
    return NULL;
  for (guint i = 0; i < names->len; i++) {
    g_autoptr(GError) local = NULL;
    g_autoptr(VxmJournal) journal = vxm_journal_load(hostfs, g_ptr_array_index(names, i), &local);
    gboolean touches = FALSE;

    if (journal == NULL) {
      if (problems != NULL)
        g_ptr_array_add(problems, g_strdup(local->message));
      continue;
    }
    for (guint e = 0; e < vxm_journal_get_n_entries(journal) && !touches; e++) {
      VxmJournalEntry *entry = vxm_journal_get_entry(journal, e);
      const char *dev = vxm_journal_entry_get_string(entry, "device");

      if (g_strcmp0(entry->kind, VXM_VFIO_JOURNAL_KIND) != 0 ||
          entry->state == VXM_JOURNAL_STATE_UNDONE || dev == NULL)
        continue;
      for (guint k = 0; k < endpoints->len && !touches; k++)
        touches = g_strcmp0(dev, vxm_pci_device_get_address(g_ptr_array_index(endpoints, k))) == 0;
    }
    if (touches)
      g_ptr_array_add(found, g_steal_pointer(&journal));
  }
  return g_steal_pointer(&found);
}

/* The newest journal entry (not undone) about @bdf, across every journal. */
static gboolean
find_journal_entry(VxmHostfs *hostfs, GPtrArray *journals, const char *bdf,
                   VxmJournal **out_journal, VxmJournalEntry **out_entry)
{
  for (guint j = 0; j < journals->len; j++) {
    VxmJournal *journal = g_ptr_array_index(journals, j);

    for (guint i = vxm_journal_get_n_entries(journal); i-- > 0;) {
      VxmJournalEntry *entry = vxm_journal_get_entry(journal, i);

      if (g_strcmp0(entry->kind, VXM_VFIO_JOURNAL_KIND) == 0 &&
          entry->state != VXM_JOURNAL_STATE_UNDONE &&
          g_strcmp0(vxm_journal_entry_get_string(entry, "device"), bdf) == 0) {
        *out_journal = journal;
        *out_entry = entry;
        return TRUE;
      }
    }
  }
  return FALSE;
}

static void
set_nullable(JsonObject *obj, const char *member, const char *value)
{
  if (value != NULL)
    json_object_set_string_member(obj, member, value);
  else
    json_object_set_null_member(obj, member);
}

JsonNode *
vxm_vfio_binding_status(VxmHostfs *hostfs, VxmGpu *gpu, GError **error)
{
  g_autoptr(GPtrArray) endpoints = vxm_vfio_get_endpoints(gpu);
  g_autoptr(GPtrArray) names = vxm_journal_list(hostfs, error);
  g_autoptr(GPtrArray) journals = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_journal_free);
  g_autofree char *static_conf = NULL;
  JsonArray *array = json_array_new();
  JsonNode *node = json_node_new(JSON_NODE_ARRAY);

  json_node_take_array(node, array);
  if (names == NULL) {
    json_node_unref(node);
    return NULL;
  }
  for (guint i = 0; i < names->len; i++) {
    /* a corrupt journal is set aside and reported by recover, not by status */
    VxmJournal *journal = vxm_journal_load(hostfs, g_ptr_array_index(names, i), NULL);

    if (journal != NULL)
      g_ptr_array_add(journals, journal);
  }
  if (!vxm_hostfs_read_file(hostfs, VXM_HOST_ETC_MODPROBE_D "/vxm-vfio.conf", &static_conf, NULL,
                            NULL))
    static_conf = NULL; /* no static binding */

  for (guint i = 0; i < endpoints->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(endpoints, i);
    const char *bdf = vxm_pci_device_get_address(dev);
    g_autofree char *driver = read_driver(hostfs, bdf);
    g_autofree char *override = NULL;
    g_autoptr(GError) busy = NULL;
    g_autofree char *ids = g_strdup_printf("%04x:%04x", vxm_pci_device_get_vendor_id(dev),
                                           vxm_pci_device_get_device_id(dev));
    g_autofree char *reason = NULL;
    JsonObject *obj = json_object_new();
    VxmJournal *journal = NULL;
    VxmJournalEntry *entry = NULL;
    const char *bound_by;

    (void)read_override_checked(hostfs, bdf, vxm_pci_device_get_iommu_group(dev), &override, &busy);
    json_object_set_string_member(obj, "address", bdf);
    set_nullable(obj, "driver", driver);
    set_nullable(obj, "driver_override", override);
    if (busy != NULL)
      json_object_set_string_member(obj, "busy", busy->message);
    if (find_journal_entry(hostfs, journals, bdf, &journal, &entry)) {
      const char *original = vxm_journal_entry_get_string(entry, "original_driver");
      const VxmJournalOwner *owner = vxm_journal_get_owner(journal);

      switch (vxm_journal_get_owner_status(journal)) {
      case VXM_JOURNAL_OWNER_HELD:
        bound_by = g_str_has_prefix(vxm_journal_get_name(journal), "manual-") ? "manual" : "vm";
        reason = g_strdup_printf("%s (journal %s, since %s; was on %s): vxm reattach gives it "
                                 "back",
                                 vxm_journal_get_held(journal), vxm_journal_get_name(journal),
                                 entry->time, or_none(original));
        break;
      case VXM_JOURNAL_OWNER_ALIVE:
        bound_by = g_str_has_prefix(vxm_journal_get_name(journal), "manual-") ? "manual" : "vm";
        reason = g_strdup_printf("detached by %s (pid %" G_GINT64_FORMAT ") at %s; was on %s",
                                 vxm_journal_get_name(journal), owner->pid, entry->time,
                                 or_none(original));
        break;
      case VXM_JOURNAL_OWNER_GONE:
      default:
        bound_by = "orphan";
        reason = g_strdup_printf("left by %s, whose vxm process is gone (at %s; was on %s): run "
                                 "vxm recover",
                                 vxm_journal_get_name(journal), entry->time, or_none(original));
        break;
      }
      json_object_set_string_member(obj, "journal", vxm_journal_get_name(journal));
      json_object_set_string_member(obj, "since", entry->time);
      json_object_set_string_member(obj, "state", vxm_journal_state_to_string(entry->state));
    } else {
      if (g_strcmp0(driver, VXM_VFIO_DRIVER) != 0)
        bound_by = "host";
      else if (static_conf != NULL && strstr(static_conf, ids) != NULL)
        bound_by = "static";
      else
        bound_by = "other";
      if (g_strcmp0(bound_by, "host") == 0)
        reason = g_strdup_printf("on its host driver (%s)", or_none(driver));
      else if (g_strcmp0(bound_by, "static") == 0)
        reason = g_strdup_printf("static binding (%s/vxm-vfio.conf lists %s)",
                                 VXM_HOST_ETC_MODPROBE_D, ids);
      else
        reason = g_strdup("on vfio-pci without a vxm record (bound by hand or another tool)");
      json_object_set_null_member(obj, "journal");
      json_object_set_null_member(obj, "since");
      json_object_set_null_member(obj, "state");
    }
    json_object_set_string_member(obj, "bound_by", bound_by);
    if (busy != NULL) {
      g_autofree char *both = g_strdup_printf("%s; %s", busy->message, reason);
      json_object_set_string_member(obj, "reason", both);
    } else {
      json_object_set_string_member(obj, "reason", reason);
    }
    json_array_add_object_element(array, obj);
  }
  return node;
}

gboolean
vxm_vfio_check_bound(VxmHostfs *hostfs, VxmGpu *gpu, GError **error)
{
  g_autoptr(GPtrArray) endpoints = vxm_vfio_get_endpoints(gpu);
  g_autoptr(GString) off = g_string_new(NULL);

  for (guint i = 0; i < endpoints->len; i++) {
    const char *bdf = vxm_pci_device_get_address(g_ptr_array_index(endpoints, i));
    g_autofree char *driver = read_driver(hostfs, bdf);

    if (g_strcmp0(driver, VXM_VFIO_DRIVER) != 0)
      g_string_append_printf(off, "%s%s (on %s)", off->len > 0 ? ", " : "", bdf, or_none(driver));
  }
  if (off->len == 0)
    return TRUE;
  g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
              "static binding is on but not in effect: %s not on vfio-pci: run update-initramfs -u "
              "and reboot (or vxm static-binding off to bind at run time)",
              off->str);
  return FALSE;
}
