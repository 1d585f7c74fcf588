/* vxm-drm-connector: DRM connectors from sysfs (see the header). */
#include "vxm-drm-connector.h"

#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "display/vxm-ddc.h"
#include "pci/vxm-pci-address.h"

void
vxm_drm_connector_free(VxmDrmConnector *self)
{
  if (self == NULL)
    return;
  g_free(self->name);
  g_free(self->card);
  g_free(self->connector);
  g_free(self->gpu);
  g_free(self->status);
  g_clear_pointer(&self->edid_bytes, g_bytes_unref);
  vxm_edid_free(self->edid);
  g_free(self);
}

/* "card1-DP-1" -> "card1", "DP-1"; FALSE for cardN, renderDN, version and the like. */
static gboolean
split_name(const char *name, char **card, char **connector)
{
  const char *p;

  if (!g_str_has_prefix(name, "card"))
    return FALSE;
  p = name + 4;
  if (!g_ascii_isdigit(*p))
    return FALSE;
  while (g_ascii_isdigit(*p))
    p++;
  if (*p != '-' || p[1] == '\0')
    return FALSE;
  *card = g_strndup(name, p - name);
  *connector = g_strdup(p + 1);
  return TRUE;
}

/* "i2c-5" -> 5 */
static gint
parse_i2c_name(const char *name)
{
  guint64 n;

  if (name == NULL || !g_str_has_prefix(name, "i2c-") || !vxm_parse_uint64(name + 4, 10, &n) ||
      n > G_MAXINT)
    return -1;
  return (gint)n;
}

/* The PCI device a resolved sysfs path lies under: its last component that is a PCI address. */
static char *
pci_address_in_path(const char *path)
{
  g_auto(GStrv) parts = g_strsplit(path, "/", -1);
  char *found = NULL;

  for (guint i = 0; parts[i] != NULL; i++) {
    VxmPciAddress address;

    if (strchr(parts[i], ':') != NULL && vxm_pci_address_parse(parts[i], &address, NULL)) {
      g_free(found);
      found = g_strdup(parts[i]);
    }
  }
  return found;
}

static char *
card_gpu(VxmHostfs *hostfs, const char *card)
{
  g_autofree char *card_path = g_strdup_printf(VXM_HOST_SYS_CLASS_DRM "/%s", card);
  g_autofree char *device = g_strdup_printf("%s/device", card_path);
  g_autofree char *resolved = vxm_hostfs_resolve(hostfs, card_path, NULL);
  char *gpu;

  /* /sys/class/drm/card1 -> /sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/drm/card1 */
  if (resolved != NULL && (gpu = pci_address_in_path(resolved)) != NULL)
    return gpu;
  return vxm_hostfs_read_link_basename(hostfs, device, NULL);
}

char *
vxm_drm_i2c_bus_gpu(VxmHostfs *hostfs, guint bus)
{
  g_autofree char *path = g_strdup_printf(VXM_HOST_SYS_CLASS_I2C_DEV "/i2c-%u/device", bus);
  g_autofree char *resolved = vxm_hostfs_resolve(hostfs, path, NULL);

  return resolved != NULL ? pci_address_in_path(resolved) : NULL;
}

static void
find_bus(VxmHostfs *hostfs, VxmDrmConnector *self)
{
  g_autofree char *dir = g_strdup_printf(VXM_HOST_SYS_CLASS_DRM "/%s", self->name);
  g_autofree char *ddc = g_strdup_printf("%s/ddc", dir);
  g_autofree char *target = vxm_hostfs_read_link_basename(hostfs, ddc, NULL);
  g_autoptr(GPtrArray) entries = NULL;

  self->i2c_bus = parse_i2c_name(target);
  if (self->i2c_bus >= 0) {
    self->ddc_source = VXM_DRM_DDC_LINK;
    return;
  }
  entries = vxm_hostfs_list_dir(hostfs, dir, NULL);
  for (guint i = 0; entries != NULL && i < entries->len; i++) {
    gint bus = parse_i2c_name(entries->pdata[i]);

    if (bus >= 0) {
      self->i2c_bus = bus;
      self->ddc_source = VXM_DRM_DDC_AUX;
      return;
    }
  }
}

/* @card_gpus (may be NULL): card -> GPU already found, so a listing resolves each card once. */
static VxmDrmConnector *
connector_load(VxmHostfs *hostfs, const char *name, GHashTable *card_gpus, GError **error)
{
  g_autoptr(VxmDrmConnector) self = g_new0(VxmDrmConnector, 1);
  g_autofree char *dir = g_strdup_printf(VXM_HOST_SYS_CLASS_DRM "/%s", name);
  g_autofree char *status_path = g_strdup_printf("%s/status", dir);
  g_autofree char *edid_path = g_strdup_printf("%s/edid", dir);
  g_autofree char *edid = NULL;
  gsize edid_len = 0;

  self->i2c_bus = -1;
  self->name = g_strdup(name);
  if (!split_name(name, &self->card, &self->connector)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "'%s' is not a connector name (cardN-TYPE-N, as in vxm monitors)", name);
    return NULL;
  }
  if (!vxm_hostfs_is_dir(hostfs, dir)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                "no connector %s (%s): see vxm monitors for the connectors this host has", name,
                dir);
    return NULL;
  }
  self->status = vxm_hostfs_read_attr(hostfs, status_path, NULL);
  if (self->status == NULL)
    self->status = g_strdup("unknown");
  if (card_gpus != NULL && g_hash_table_contains(card_gpus, self->card)) {
    self->gpu = g_strdup(g_hash_table_lookup(card_gpus, self->card));
  } else {
    self->gpu = card_gpu(hostfs, self->card);
    if (card_gpus != NULL)
      g_hash_table_insert(card_gpus, g_strdup(self->card), g_strdup(self->gpu));
  }
  /* the sysfs edid is empty when nothing is plugged in */
  if (vxm_hostfs_read_file(hostfs, edid_path, &edid, &edid_len, NULL) && edid_len > 0) {
    self->edid_bytes = g_bytes_new(edid, edid_len);
    self->edid = vxm_edid_parse((const guint8 *)edid, edid_len, NULL);
  }
  find_bus(hostfs, self);
  return g_steal_pointer(&self);
}

VxmDrmConnector *
vxm_drm_connector_load(VxmHostfs *hostfs, const char *name, GError **error)
{
  return connector_load(hostfs, name, NULL, error);
}

static gint
compare_connectors(gconstpointer a, gconstpointer b)
{
  const VxmDrmConnector *ca = *(VxmDrmConnector *const *)a;
  const VxmDrmConnector *cb = *(VxmDrmConnector *const *)b;

  return strcmp(ca->name, cb->name);
}

GPtrArray *
vxm_drm_connector_list(VxmHostfs *hostfs, GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_drm_connector_free);
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GHashTable) card_gpus = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

  names = vxm_hostfs_list_dir(hostfs, VXM_HOST_SYS_CLASS_DRM, &local_error);
  if (names == NULL) {
    if (g_error_matches(local_error, VXM_ERROR, VXM_ERROR_NOT_FOUND))
      return g_steal_pointer(&out);
    g_propagate_error(error, g_steal_pointer(&local_error));
    return NULL;
  }
  for (guint i = 0; i < names->len; i++) {
    g_autofree char *card = NULL;
    g_autofree char *connector = NULL;
    VxmDrmConnector *c;

    if (!split_name(names->pdata[i], &card, &connector))
      continue;
    c = connector_load(hostfs, names->pdata[i], card_gpus, &local_error);
    if (c == NULL) {
      /* a connector that went away while listing (its GPU was just unbound) */
      g_clear_error(&local_error);
      continue;
    }
    g_ptr_array_add(out, c);
  }
  g_ptr_array_sort(out, compare_connectors);
  return g_steal_pointer(&out);
}

gboolean
vxm_drm_connector_has_monitor(const VxmDrmConnector *self)
{
  return g_strcmp0(self->status, "connected") == 0 && self->edid != NULL;
}

void
vxm_drm_connector_match_buses(VxmHostfs *hostfs, GPtrArray *connectors)
{
  g_autoptr(GPtrArray) names = vxm_hostfs_list_dir(hostfs, VXM_HOST_SYS_CLASS_I2C_DEV, NULL);
  g_autoptr(GHashTable) taken = g_hash_table_new(g_direct_hash, g_direct_equal);

  if (names == NULL)
    return;
  for (guint i = 0; i < connectors->len; i++) {
    VxmDrmConnector *c = connectors->pdata[i];

    if (c->i2c_bus >= 0)
      g_hash_table_add(taken, GINT_TO_POINTER(c->i2c_bus));
  }
  for (guint i = 0; i < connectors->len; i++) {
    VxmDrmConnector *c = connectors->pdata[i];

    if (c->i2c_bus >= 0 || !vxm_drm_connector_has_monitor(c))
      continue;
    for (guint j = 0; j < names->len; j++) {
      gint bus = parse_i2c_name(names->pdata[j]);
      g_autofree char *bus_gpu = NULL;
      g_autoptr(GBytes) edid = NULL;

      if (bus < 0 || g_hash_table_contains(taken, GINT_TO_POINTER(bus)))
        continue;
      /* the same monitor may hang on two GPUs with the same EDID: stay on this one's */
      bus_gpu = vxm_drm_i2c_bus_gpu(hostfs, (guint)bus);
      if (c->gpu != NULL && bus_gpu != NULL && strcmp(c->gpu, bus_gpu) != 0)
        continue;
      edid = vxm_ddc_read_edid(hostfs, (guint)bus, 1, NULL);
      if (edid == NULL || g_bytes_get_size(edid) < VXM_EDID_BLOCK_SIZE ||
          memcmp(g_bytes_get_data(edid, NULL), c->edid->raw, VXM_EDID_BLOCK_SIZE) != 0)
        continue;
      c->i2c_bus = bus;
      c->ddc_source = VXM_DRM_DDC_EDID_MATCH;
      g_hash_table_add(taken, GINT_TO_POINTER(bus));
      break;
    }
  }
}

const char *
vxm_drm_ddc_source_to_string(VxmDrmDdcSource source)
{
  switch (source) {
  case VXM_DRM_DDC_LINK: return "link";
  case VXM_DRM_DDC_AUX: return "aux";
  case VXM_DRM_DDC_EDID_MATCH: return "edid-match";
  case VXM_DRM_DDC_NONE: break;
  }
  return NULL;
}

JsonNode *
vxm_drm_connector_to_json(const VxmDrmConnector *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new();

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "connector");
  json_builder_add_string_value(b, self->name);
  json_builder_set_member_name(b, "gpu");
  if (self->gpu != NULL)
    json_builder_add_string_value(b, self->gpu);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "status");
  json_builder_add_string_value(b, self->status);
  json_builder_set_member_name(b, "i2c_bus");
  if (self->i2c_bus >= 0)
    json_builder_add_int_value(b, self->i2c_bus);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "edid");
  if (self->edid == NULL) {
    json_builder_add_null_value(b);
  } else {
    const VxmEdid *e = self->edid;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "manufacturer");
    json_builder_add_string_value(b, e->manufacturer);
    json_builder_set_member_name(b, "product_code");
    json_builder_add_int_value(b, e->product_code);
    json_builder_set_member_name(b, "serial_number");
    json_builder_add_int_value(b, e->serial_number);
    json_builder_set_member_name(b, "name");
    if (e->name != NULL)
      json_builder_add_string_value(b, e->name);
    else
      json_builder_add_null_value(b);
    json_builder_set_member_name(b, "serial");
    if (e->serial != NULL)
      json_builder_add_string_value(b, e->serial);
    else
      json_builder_add_null_value(b);
    json_builder_set_member_name(b, "week");
    if (e->week != 0)
      json_builder_add_int_value(b, e->week);
    else
      json_builder_add_null_value(b);
    json_builder_set_member_name(b, "year");
    if (e->year != 0)
      json_builder_add_int_value(b, e->year);
    else
      json_builder_add_null_value(b);
    json_builder_set_member_name(b, "checksum_ok");
    json_builder_add_boolean_value(b, e->checksum_ok);
    json_builder_end_object(b);
  }
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
