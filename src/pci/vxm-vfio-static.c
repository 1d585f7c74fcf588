#include "vxm-vfio-static.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-host-system.h"
#include "common/vxm-util.h"
#include "pci/vxm-vfio.h"

static const char next_on[] =
    "next: run update-initramfs -u (Debian, Nitrux) so the initramfs loads vfio-pci first, then "
    "reboot; vxm then checks the binding instead of doing it";
static const char next_off[] =
    "next: run update-initramfs -u (Debian, Nitrux), then reboot: the card's own drivers take it "
    "again and vxm binds it at run time";

static char *
device_ids(VxmPciDevice *dev)
{
  return g_strdup_printf("%04x:%04x", vxm_pci_device_get_vendor_id(dev),
                         vxm_pci_device_get_device_id(dev));
}

/* The kernel module behind a PCI driver ("xhci_hcd" is in module xhci_pci). */
static char *
driver_module(VxmHostfs *hostfs, const char *driver)
{
  g_autofree char *link = g_strdup_printf(VXM_HOST_SYS_PCI_DRIVERS "/%s/module", driver);
  char *module = vxm_hostfs_read_link_basename(hostfs, link, NULL);

  if (module != NULL)
    return module;
  return g_strdelimit(g_strdup(driver), "-", '_');
}

static void
add_unique(GPtrArray *list, char *item)
{
  if (g_ptr_array_find_with_equal_func(list, item, g_str_equal, NULL))
    g_free(item);
  else
    g_ptr_array_add(list, item);
}

static int
compare_strings(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *
vxm_vfio_static_binding_render(VxmHostfs *hostfs, VxmGpu *gpu, GError **error)
{
  g_autoptr(GPtrArray) endpoints = vxm_vfio_get_endpoints(gpu);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) modules = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) reasons = NULL;
  GPtrArray *all = vxm_pci_bus_get_devices(vxm_gpu_get_bus(gpu));
  guint16 vendor = vxm_pci_device_get_vendor_id(vxm_gpu_get_device(gpu));
  g_autoptr(GString) text = g_string_new(NULL);
  g_autofree char *name = vxm_pci_device_dup_display_name(vxm_gpu_get_device(gpu));

  if (!vxm_gpu_check_passthrough_safe(gpu, &reasons)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED, "refusing static binding of %s: %s",
                vxm_gpu_get_address(gpu),
                reasons != NULL && reasons->len > 0 ? (char *)g_ptr_array_index(reasons, 0) : "");
    return NULL;
  }
  for (guint i = 0; i < endpoints->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(endpoints, i);
    const char *driver = vxm_pci_device_get_driver(dev);

    add_unique(ids, device_ids(dev));
    if (driver != NULL && strcmp(driver, VXM_VFIO_DRIVER) != 0 && strcmp(driver, "pci-stub") != 0)
      add_unique(modules, driver_module(hostfs, driver));
  }
  /* the drivers that claim such cards even when another one is bound now */
  if (vendor == 0x10de) {
    add_unique(modules, g_strdup("nvidia"));
    add_unique(modules, g_strdup("nouveau"));
  } else if (vendor == 0x1002) {
    add_unique(modules, g_strdup("amdgpu"));
    add_unique(modules, g_strdup("radeon"));
  } else if (vendor == 0x8086) {
    add_unique(modules, g_strdup("i915"));
  }
  /* ids= takes every device with those ids: an identical device the host keeps would go too */
  for (guint i = 0; i < all->len; i++) {
    VxmPciDevice *dev = g_ptr_array_index(all, i);
    g_autofree char *dev_ids = device_ids(dev);

    if (vxm_gpu_owns(gpu, dev) ||
        !g_ptr_array_find_with_equal_func(ids, dev_ids, g_str_equal, NULL))
      continue;
    if (g_ptr_array_find(endpoints, dev, NULL))
      continue;
    g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                "refusing static binding of %s: %s has the same ids (%s), and vfio-pci would take "
                "it at boot too; bind at run time instead (vxm detach)",
                vxm_gpu_get_address(gpu), vxm_pci_device_get_address(dev), dev_ids);
    return NULL;
  }
  g_ptr_array_sort(modules, compare_strings);
  g_string_append_printf(text,
                         "# Written by vxm for %s (%s): vfio-pci takes these devices at boot,\n"
                         "# before their own drivers. Undo with: vxm static-binding off\n",
                         vxm_gpu_get_address(gpu), name);
  g_string_append(text, "options vfio-pci ids=");
  for (guint i = 0; i < ids->len; i++)
    g_string_append_printf(text, "%s%s", i > 0 ? "," : "", (char *)g_ptr_array_index(ids, i));
  g_string_append_c(text, '\n');
  for (guint i = 0; i < modules->len; i++)
    g_string_append_printf(text, "softdep %s pre: vfio-pci\n",
                           (char *)g_ptr_array_index(modules, i));
  return g_string_free(g_steal_pointer(&text), FALSE);
}

static gboolean
need_root(VxmHostfs *hostfs, GError **error)
{
  if (vxm_hostfs_is_real(hostfs) && geteuid() != 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PERMISSION,
                "writing %s needs root: run it as root (sudo vxm static-binding ...)",
                VXM_VFIO_STATIC_CONF);
    return FALSE;
  }
  return TRUE;
}

/* On a root that the next boot discards, a boot-time setting written to it would never act:
 * nothing is written, and the error gives the steps in the lasting layer. @text: the file's
 * text for "on", NULL for "off". */
static gboolean
refuse_volatile(VxmHostfs *hostfs, const char *text, GError **error)
{
  g_auto(VxmHostRootKind) kind = {0};
  g_autoptr(GString) steps = g_string_new(NULL);

  if (!vxm_host_system_change_is_volatile(hostfs, VXM_VFIO_STATIC_CONF))
    return TRUE;
  vxm_host_system_get_root_kind(hostfs, &kind);
  if (text != NULL) {
    g_autofree char *indented = g_strstrip(g_strdup(text));
    g_auto(GStrv) lines = g_strsplit(indented, "\n", -1);

    g_string_append_printf(steps, "  2. write %s there with these lines:\n", VXM_VFIO_STATIC_CONF);
    for (guint i = 0; lines[i] != NULL; i++)
      g_string_append_printf(steps, "       %s\n", lines[i]);
  } else {
    g_string_append_printf(steps, "  2. rm %s\n", VXM_VFIO_STATIC_CONF);
  }
  g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
              "nothing written: / is an overlay on %s that the next boot discards, and static "
              "binding acts only at boot, so it must go into the lasting layer (%s):\n"
              "  1. sudo overlayroot-chroot  (mounts it read-write; logs to %s)\n"
              "%s"
              "  3. update-initramfs -u, then exit (read-only again) and reboot",
              kind.upper_fs != NULL ? kind.upper_fs : "a layer that does not outlive a reboot",
              kind.lowerdir != NULL ? kind.lowerdir : "the lower layer", VXM_HOST_OVERLAYROOT_AUDIT,
              steps->str);
  return FALSE;
}

/* The file as the next boot will see it, where that differs from the running root: the
 * lower layer's copy (host path), or NULL. */
static char *
lasting_copy(VxmHostfs *hostfs, char **out_lowerdir)
{
  g_auto(VxmHostRootKind) kind = {0};

  if (!vxm_host_system_change_is_volatile(hostfs, VXM_VFIO_STATIC_CONF))
    return NULL;
  vxm_host_system_get_root_kind(hostfs, &kind);
  if (kind.lowerdir == NULL || strchr(kind.lowerdir, ':') != NULL)
    return NULL; /* stacked lower layers: not one file to read */
  *out_lowerdir = g_strdup(kind.lowerdir);
  return g_build_filename(kind.lowerdir, VXM_VFIO_STATIC_CONF, NULL);
}

gboolean
vxm_vfio_static_binding_write(VxmHostfs *hostfs, VxmGpu *gpu, char **out_next, GError **error)
{
  g_autofree char *text = NULL;
  g_autofree char *dir = vxm_hostfs_path(hostfs, VXM_HOST_ETC_MODPROBE_D);
  g_autofree char *path = vxm_hostfs_path(hostfs, VXM_VFIO_STATIC_CONF);

  if (!need_root(hostfs, error))
    return FALSE;
  text = vxm_vfio_static_binding_render(hostfs, gpu, error);
  if (text == NULL)
    return FALSE;
  if (!refuse_volatile(hostfs, text, error))
    return FALSE;
  if (g_mkdir_with_parents(dir, 0755) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot create %s", VXM_HOST_ETC_MODPROBE_D);
  if (!vxm_file_replace_atomic(path, text, -1, 0644, error)) {
    g_prefix_error(error, "cannot write %s: ", VXM_VFIO_STATIC_CONF);
    return FALSE;
  }
  if (out_next != NULL)
    *out_next = g_strdup(next_on);
  return TRUE;
}

gboolean
vxm_vfio_static_binding_remove(VxmHostfs *hostfs, char **out_next, GError **error)
{
  g_autofree char *path = vxm_hostfs_path(hostfs, VXM_VFIO_STATIC_CONF);

  if (!need_root(hostfs, error))
    return FALSE;
  if (!refuse_volatile(hostfs, NULL, error))
    return FALSE;
  if (unlink(path) != 0) {
    if (errno != ENOENT)
      return vxm_error_set_from_errno(error, errno, "cannot remove %s", VXM_VFIO_STATIC_CONF);
    if (out_next != NULL)
      *out_next = NULL; /* it was off: nothing to run */
    return TRUE;
  }
  if (out_next != NULL)
    *out_next = g_strdup(next_off);
  return TRUE;
}

JsonNode *
vxm_vfio_static_binding_status(VxmHostfs *hostfs, VxmGpu *gpu, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autofree char *text = NULL;
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) local = NULL;
  g_auto(GStrv) lines = NULL;
  gboolean in_effect = TRUE;
  g_autofree char *kind_lower = NULL;
  g_autofree char *lasting = lasting_copy(hostfs, &kind_lower);

  if (!vxm_hostfs_read_file(hostfs, VXM_VFIO_STATIC_CONF, &text, NULL, &local)) {
    if (!g_error_matches(local, VXM_ERROR, VXM_ERROR_NOT_FOUND)) {
      g_propagate_error(error, g_steal_pointer(&local));
      return NULL;
    }
  }
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "file");
  json_builder_add_string_value(b, VXM_VFIO_STATIC_CONF);
  json_builder_set_member_name(b, "enabled");
  json_builder_add_boolean_value(b, text != NULL);
  lines = g_strsplit(text != NULL ? text : "", "\n", -1);
  json_builder_set_member_name(b, "ids");
  json_builder_begin_array(b);
  for (guint i = 0; lines[i] != NULL; i++) {
    const char *p = strstr(lines[i], "ids=");
    g_auto(GStrv) list = NULL;

    if (!g_str_has_prefix(lines[i], "options vfio-pci") || p == NULL)
      continue;
    list = g_strsplit(g_strstrip(lines[i] + (p - lines[i]) + 4), ",", -1);
    for (guint k = 0; list[k] != NULL; k++) {
      if (*list[k] != '\0') {
        json_builder_add_string_value(b, list[k]);
        g_ptr_array_add(ids, g_strdup(list[k]));
      }
    }
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "softdeps");
  json_builder_begin_array(b);
  for (guint i = 0; lines[i] != NULL; i++) {
    g_auto(GStrv) words = g_strsplit(lines[i], " ", -1);

    if (g_strv_length(words) >= 2 && strcmp(words[0], "softdep") == 0)
      json_builder_add_string_value(b, words[1]);
  }
  json_builder_end_array(b);
  if (gpu != NULL) {
    g_autoptr(GPtrArray) endpoints = vxm_vfio_get_endpoints(gpu);

    json_builder_set_member_name(b, "devices");
    json_builder_begin_array(b);
    for (guint i = 0; i < endpoints->len; i++) {
      VxmPciDevice *dev = g_ptr_array_index(endpoints, i);
      const char *bdf = vxm_pci_device_get_address(dev);
      g_autofree char *dev_ids = device_ids(dev);
      g_autofree char *link = g_strdup_printf(VXM_HOST_SYS_PCI_DEVICES "/%s/driver", bdf);
      g_autofree char *driver = vxm_hostfs_read_link_basename(hostfs, link, NULL);
      gboolean listed = g_ptr_array_find_with_equal_func(ids, dev_ids, g_str_equal, NULL);

      in_effect = in_effect && listed && g_strcmp0(driver, VXM_VFIO_DRIVER) == 0;
      json_builder_begin_object(b);
      json_builder_set_member_name(b, "address");
      json_builder_add_string_value(b, bdf);
      json_builder_set_member_name(b, "ids");
      json_builder_add_string_value(b, dev_ids);
      json_builder_set_member_name(b, "listed");
      json_builder_add_boolean_value(b, listed);
      json_builder_set_member_name(b, "driver");
      if (driver != NULL)
        json_builder_add_string_value(b, driver);
      else
        json_builder_add_null_value(b);
      json_builder_end_object(b);
    }
    json_builder_end_array(b);
  }
  json_builder_set_member_name(b, "in_effect");
  json_builder_add_boolean_value(b, text != NULL && gpu != NULL && in_effect);
  /* what the next boot uses: this file (lasting), or the lower layer's copy (until reboot) */
  json_builder_set_member_name(b, "kind");
  json_builder_add_string_value(b, vxm_host_system_change_kind(hostfs, VXM_VFIO_STATIC_CONF));
  if (lasting != NULL) {
    json_builder_set_member_name(b, "lasting_file");
    json_builder_add_string_value(b, lasting);
    json_builder_set_member_name(b, "lasting_enabled");
    if (vxm_hostfs_exists(hostfs, lasting))
      json_builder_add_boolean_value(b, TRUE);
    else if (vxm_hostfs_is_dir(hostfs, kind_lower))
      json_builder_add_boolean_value(b, FALSE);
    else
      json_builder_add_null_value(b); /* the lower layer is not visible here */
  }
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
