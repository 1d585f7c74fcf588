/* vxm-vxmd-policy: what vxmd hands out, to whom, and how much.
 *
 * The administrator's vxmd.conf (allowed_gpus, allowed_users), the GPU rules a guest must pass
 * (vxm_gpu_check_passthrough_safe()), which device nodes may go to a VM (its own vfio group;
 * evdev and USB devices root owns that no other VM holds), the shared monitor, and the caps on
 * memlock and hugepages. Every check comes before anything changes, and names what to do.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "display/vxm-display.h"
#include "input/vxm-input-access.h"
#include "memory/vxm-hugepages.h"
#include "ops/vxm-journal-kinds.h"
#include "pci/vxm-gpu.h"
#include "pci/vxm-pci-address.h"
#include "pci/vxm-vfio.h"
#include "platform/vxm-meminfo.h"
#include "usb/vxm-usb-device.h"
#include "vxmd/vxm-vxmd-private.h"

#define VXM_VXMD_MEMLOCK_SLACK (G_GUINT64_CONSTANT(2) << 30)

gboolean
vxm_vxmd_policy_load(VxmVxmd *self, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autofree char *path = vxm_hostfs_path(self->hostfs, VXM_HOST_ETC_VXM "/vxmd.conf");
  g_autoptr(GError) local_error = NULL;

  if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local_error)) {
    if (g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return TRUE;
    g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG, "%s: %s", VXM_HOST_ETC_VXM "/vxmd.conf",
                local_error->message);
    return FALSE;
  }
  self->allowed_gpus = g_key_file_get_string_list(kf, "policy", "allowed_gpus", NULL, NULL);
  self->allowed_users = g_key_file_get_string_list(kf, "policy", "allowed_users", NULL, NULL);
  for (gsize i = 0; self->allowed_gpus != NULL && self->allowed_gpus[i] != NULL; i++) {
    VxmPciAddress addr;

    g_strstrip(self->allowed_gpus[i]);
    if (!vxm_pci_address_parse(self->allowed_gpus[i], &addr, error)) {
      g_prefix_error(error, "%s [policy] allowed_gpus: ", VXM_HOST_ETC_VXM "/vxmd.conf");
      return FALSE;
    }
    g_free(self->allowed_gpus[i]);
    self->allowed_gpus[i] = vxm_pci_address_to_string(&addr);
  }
  for (gsize i = 0; self->allowed_users != NULL && self->allowed_users[i] != NULL; i++)
    g_strstrip(self->allowed_users[i]);
  return TRUE;
}

gboolean
vxm_vxmd_check_gpu_policy(VxmVxmd *self, const char *gpu_address, GError **error)
{
  g_autoptr(VxmGpu) gpu = vxm_gpu_find(self->hostfs, gpu_address, error);
  g_autoptr(GPtrArray) reasons = NULL;

  if (gpu == NULL)
    return FALSE;
  if (self->allowed_gpus != NULL &&
      !g_strv_contains((const char *const *)self->allowed_gpus, gpu_address)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "GPU %s is not in allowed_gpus of %s: the administrator allows only %s",
                gpu_address, VXM_HOST_ETC_VXM "/vxmd.conf",
                self->allowed_gpus[0] != NULL ? self->allowed_gpus[0] : "none");
    return FALSE;
  }
  if (!vxm_gpu_check_passthrough_safe(gpu, &reasons)) {
    g_autofree char *why = NULL;

    g_ptr_array_add(reasons, NULL);
    why = g_strjoinv("; ", (char **)reasons->pdata);
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED, "vxmd will not give GPU %s to a guest: %s",
                gpu_address, why);
    return FALSE;
  }
  return TRUE;
}

/* A vfio group node may go only to the VM whose GPU's group it is. */
gboolean
vxm_vxmd_check_vfio_group(VxmVxmd *self, VxmJournal *journal, const char *vm, gint64 group,
                          GError **error)
{
  for (guint i = 0; journal != NULL && i < vxm_journal_get_n_entries(journal); i++) {
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, i);
    const char *device = vxm_journal_entry_get_string(entry, "device");
    g_autofree char *link = NULL;
    g_autofree char *name = NULL;
    gint64 n = -1;

    if (g_strcmp0(entry->kind, "pci-bind") != 0 || entry->state == VXM_JOURNAL_STATE_UNDONE ||
        device == NULL)
      continue;
    link = g_strdup_printf(VXM_HOST_SYS_PCI_DEVICES "/%s/iommu_group", device);
    name = vxm_hostfs_read_link_basename(self->hostfs, link, NULL);
    if (name != NULL && vxm_parse_int64(name, 10, &n) && n == group)
      return TRUE;
  }
  g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
              "IOMMU group %" G_GINT64_FORMAT " is not the group of a GPU prepared for VM %s: "
              "vxmd hands over only the VM's own /dev/vfio node (prepare-gpu first)",
              group, vm);
  return FALSE;
}

/* The VM whose journal holds @node (a resolved host path) given away and not given back yet,
 * or NULL; @out_who says whose VM it is. Journals are read from their files, so VMs of this
 * vxmd, of a vxmd that is gone and of root's vxm without vxmd are all seen. */
static char *
node_holder(VxmVxmd *self, const char *node, char **out_who)
{
  g_autoptr(GPtrArray) names = vxm_journal_list(self->hostfs, NULL);

  for (guint i = 0; names != NULL && i < names->len; i++) {
    g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, names->pdata[i], NULL);

    for (guint j = 0; journal != NULL && j < vxm_journal_get_n_entries(journal); j++) {
      VxmJournalEntry *entry = vxm_journal_get_entry(journal, j);

      if (g_strcmp0(entry->kind, VXM_DEVICE_NODE_JOURNAL_KIND) == 0 &&
          entry->state != VXM_JOURNAL_STATE_UNDONE &&
          g_strcmp0(vxm_journal_entry_get_string(entry, "path"), node) == 0) {
        *out_who = vxm_vxmd_journal_user_text(journal);
        return g_strdup(names->pdata[i]);
      }
    }
  }
  return NULL;
}

/* An input or USB node may go to @vm only if it is an evdev node or a /dev/bus/usb node (a
 * [usb] device's), nobody else's VM holds it, and root owns it (a node some other user or
 * program was given is not vxmd's to hand on). */
gboolean
vxm_vxmd_check_input_node(VxmVxmd *self, const char *vm, const char *host_path, GError **error)
{
  g_autofree char *resolved = vxm_hostfs_resolve(self->hostfs, host_path, error);
  g_autofree char *base = NULL;
  g_autofree char *local = NULL;
  g_autofree char *holder = NULL;
  g_autofree char *who = NULL;
  g_autofree char *what = NULL;
  struct stat st;
  gint64 n;

  if (resolved == NULL) {
    g_prefix_error(error, "cannot hand over %s: ", host_path);
    return FALSE;
  }
  base = g_path_get_basename(resolved);
  if (g_str_has_prefix(host_path, VXM_HOST_DEV_BUS_USB "/")) {
    guint bus, dev;

    g_autoptr(GPtrArray) devices = NULL;
    VxmUsbDevice *usb;

    if (!vxm_usb_node_parse(resolved, &bus, &dev)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                  "%s leads to %s, not to a /dev/bus/usb/BBB/DDD node: refused", host_path,
                  resolved);
      return FALSE;
    }
    /* a hub's node would let its holder switch off the ports of the host's other devices */
    devices = vxm_usb_devices_list(self->hostfs);
    usb = vxm_usb_devices_find_node(devices, bus, dev);
    if (usb == NULL || usb->device_class == VXM_USB_CLASS_HUB) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                  usb == NULL
                      ? "%s is no USB device the kernel lists (" VXM_HOST_SYS_BUS_USB_DEVICES
                        "): refused; unplugged meanwhile?"
                      : "%s is a USB hub: vxmd hands over USB devices, never a hub "
                        "(its holder could switch off the host's other devices)",
                  host_path);
      return FALSE;
    }
  } else if (!g_str_has_prefix(resolved, VXM_HOST_DEV_INPUT "/event") ||
             strchr(resolved + 11, '/') || !vxm_parse_int64(base + 5, 10, &n)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "%s leads to %s, not to a /dev/input/eventN node: refused", host_path, resolved);
    return FALSE;
  }
  what = g_strcmp0(host_path, resolved) == 0 ? g_strdup(host_path)
                                             : g_strdup_printf("%s (%s)", host_path, resolved);
  holder = node_holder(self, resolved, &who);
  if (holder != NULL && g_strcmp0(holder, vm) != 0) {
    g_autofree char *shown = vxm_vxmd_vm_display_name(holder);

    g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                "%s is given to VM %s of %s: that user must stop that VM first (or root runs "
                "`vxm recover %s` if its vxm is gone), or choose another device",
                what, shown, who, holder);
    return FALSE;
  }
  local = vxm_hostfs_path(self->hostfs, resolved);
  if (stat(local, &st) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot hand over %s", what);
  if (st.st_uid != 0 && holder == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "%s is owned by uid %u, not root: another user or program was given it, and "
                "vxmd hands on only nodes root owns; find out who (ls -l %s), or unplug and "
                "plug the device back so udev gives it to root again",
                what, (guint)st.st_uid, resolved);
    return FALSE;
  }
  return TRUE;
}

/* @journal has a function of @gpu's slot on vfio-pci, not given back yet. */
static gboolean
journal_holds_gpu(VxmJournal *journal, const char *gpu_address)
{
  VxmPciAddress gpu;

  if (!vxm_pci_address_parse(gpu_address, &gpu, NULL))
    return FALSE;
  for (guint i = 0; i < vxm_journal_get_n_entries(journal); i++) {
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, i);
    VxmPciAddress dev;

    if (g_strcmp0(entry->kind, VXM_VFIO_JOURNAL_KIND) == 0 &&
        entry->state != VXM_JOURNAL_STATE_UNDONE &&
        vxm_pci_address_parse(vxm_journal_entry_get_string(entry, "device"), &dev, NULL) &&
        vxm_pci_address_same_slot(&gpu, &dev))
      return TRUE;
  }
  return FALSE;
}

/* The monitor is shared by everyone at the desk. Root and the user of the active local session
 * (polkit granted org.vxm.vxmd.switch-monitor, not the group) may switch it at any time; anyone
 * else not while another user's VM holds the GPU named or shows on that monitor (its journal
 * switched it and has not switched it back): that would take the screen from their guest. */
gboolean
vxm_vxmd_check_monitor_switch(VxmVxmd *self, const VxmVxmdPeer *peer, const VxmVxmdRequest *req,
                              GError **error)
{
  g_autoptr(GPtrArray) names = NULL;
  g_autofree char *identity = NULL;

  if (peer->uid == 0 || (!peer->caller->member &&
                         (peer->caller->granted & (1u << VXM_VXMD_ACCESS_SWITCH_MONITOR)) != 0))
    return TRUE;
  names = vxm_journal_list(self->hostfs, NULL);
  for (guint i = 0; names != NULL && i < names->len; i++) {
    g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, names->pdata[i], NULL);
    g_autofree char *vm = vxm_vxmd_vm_display_name(names->pdata[i]);
    g_autofree char *who = NULL;

    if (journal == NULL || vxm_vxmd_journal_uid(journal) == (gint64)peer->uid)
      continue;
    who = vxm_vxmd_journal_user_text(journal);
    if (journal_holds_gpu(journal, req->gpu)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                  "ddc-switch: GPU %s is held by VM %s of %s, not by a VM of yours: vxmd "
                  "switches the shared monitor for the user whose VM holds the GPU (or the user "
                  "of the active local session)",
                  req->gpu, vm, who);
      return FALSE;
    }
    for (guint j = 0; j < vxm_journal_get_n_entries(journal); j++) {
      VxmJournalEntry *entry = vxm_journal_get_entry(journal, j);
      const char *shown = vxm_journal_entry_get_string(entry, "monitor");

      if (g_strcmp0(entry->kind, VXM_DISPLAY_JOURNAL_KIND) != 0 ||
          entry->state == VXM_JOURNAL_STATE_UNDONE || shown == NULL)
        continue;
      if (g_strcmp0(shown, req->monitor) != 0) {
        if (identity == NULL)
          identity = vxm_display_resolve_identity(self->hostfs, req->monitor, req->gpu, NULL);
        if (g_strcmp0(shown, identity) != 0)
          continue;
      }
      g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                  "ddc-switch: monitor %s shows VM %s of %s: only that user (or root, or the user "
                  "of the active local session) may switch it until that VM stops",
                  shown, vm, who);
      return FALSE;
    }
  }
  return TRUE;
}

/* A guest pins at most all of its RAM, which is at most the host's, plus VFIO's and QEMU's own
 * mappings (about 1 GiB): a larger limit would only let the caller pin the host to death. */
gboolean
vxm_vxmd_check_memlock_bytes(VxmVxmd *self, guint64 bytes, GError **error)
{
  g_autofree char *total_text = NULL;
  g_autofree char *max_text = NULL;
  g_autofree char *asked_text = NULL;
  guint64 total = 0;

  if (!vxm_meminfo_read(self->hostfs, "MemTotal", &total, error)) {
    g_prefix_error(error, "raise-memlock: cannot tell how much memory the host has: ");
    return FALSE;
  }
  if (bytes <= total + VXM_VXMD_MEMLOCK_SLACK)
    return TRUE;
  total_text = vxm_format_bytes(total);
  max_text = vxm_format_bytes(total + VXM_VXMD_MEMLOCK_SLACK);
  asked_text = vxm_format_bytes(bytes);
  g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
              "raise-memlock: %s is more than this host's memory (%s) + 2 GiB, the most a guest "
              "can pin (its RAM plus about 1 GiB for VFIO): ask for at most %s (the guest's "
              "memory + 1 GiB is enough)",
              asked_text, total_text, max_text);
  return FALSE;
}

/* Bytes of hugepages the VMs of @uid took and have not given back (any page size). */
static guint64
hugepages_held_by(VxmVxmd *self, uid_t uid)
{
  g_autoptr(GPtrArray) names = vxm_journal_list(self->hostfs, NULL);
  guint64 total = 0;

  for (guint i = 0; names != NULL && i < names->len; i++) {
    g_autoptr(VxmJournal) journal = vxm_journal_load(self->hostfs, names->pdata[i], NULL);

    if (journal == NULL || vxm_vxmd_journal_uid(journal) != (gint64)uid)
      continue;
    for (guint j = 0; j < vxm_journal_get_n_entries(journal); j++) {
      VxmJournalEntry *entry = vxm_journal_get_entry(journal, j);
      gint64 kb = json_object_get_int_member_with_default(entry->data, "page_size_kb", 0);
      gint64 took = json_object_get_int_member_with_default(entry->data, "took", 0);

      if (g_strcmp0(entry->kind, VXM_HUGEPAGES_JOURNAL_KIND) == 0 &&
          entry->state != VXM_JOURNAL_STATE_UNDONE && kb > 0 && took > 0)
        total += ((guint64)kb << 10) * (guint64)took;
    }
  }
  return total;
}

/* Before anything is dropped, compacted or written: a page size the host's pools have, at
 * least one page, and no more than the host's memory, for this request and for all the
 * hugepages the caller's VMs hold with it (root: this request alone). A larger pool could never
 * be filled; asking only makes the host drop its caches and compact for nothing. */
gboolean
vxm_vxmd_check_hugepages_request(VxmVxmd *self, const VxmVxmdPeer *peer, const VxmVxmdRequest *req,
                                 GError **error)
{
  g_autofree char *asked_text = NULL;
  g_autofree char *total_text = NULL;
  g_autofree char *held_text = NULL;
  guint64 total = 0, asked, held;

  if (req->page_size != VXM_HUGEPAGE_SIZE_2M && req->page_size != VXM_HUGEPAGE_SIZE_1G) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
                "reserve-hugepages: pages of %" G_GUINT64_FORMAT " bytes: only 2 MiB (2097152) "
                "and 1 GiB (1073741824) pages are used",
                req->page_size);
    return FALSE;
  }
  if (req->count == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "reserve-hugepages: a count of 0 pages reserves nothing: ask for the pages the "
                "guest's RAM takes");
    return FALSE;
  }
  if (!vxm_meminfo_read(self->hostfs, "MemTotal", &total, error)) {
    g_prefix_error(error, "reserve-hugepages: cannot tell how much memory the host has: ");
    return FALSE;
  }
  asked = req->page_size * req->count; /* at most 2^30 * 2^24: no overflow */
  held = peer->uid != 0 ? hugepages_held_by(self, peer->uid) : 0;
  if (asked <= total && held <= total - asked)
    return TRUE;
  asked_text = vxm_format_bytes(asked);
  total_text = vxm_format_bytes(total);
  held_text = vxm_format_bytes(held);
  g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
              "reserve-hugepages: %" G_GUINT64_FORMAT " pages (%s)%s%s%s are more than this "
              "host's memory (%s): no pool that large can be filled; ask for the guest's RAM "
              "only%s",
              req->count, asked_text, held > 0 ? " with the " : "", held > 0 ? held_text : "",
              held > 0 ? " your VMs hold already" : "", total_text,
              held > 0 ? ", and stop VMs you do not need" : "");
  return FALSE;
}
