/* vxm-dmi-identity: reading the DMI identity fields. */
#include "platform/vxm-dmi-identity.h"

static const char *const fields[] = {"sys_vendor",     "product_name",   "product_version",
                                     "product_serial", "product_uuid",   "product_sku",
                                     "product_family", "board_vendor",   "board_name",
                                     "board_version",  "board_serial",   "board_asset_tag",
                                     "chassis_vendor", "chassis_serial", "bios_vendor",
                                     "bios_version",   "bios_date",      NULL};

const char *const *
vxm_dmi_identity_fields(void)
{
  return fields;
}

JsonNode *
vxm_dmi_identity_read(VxmHostfs *hostfs)
{
  g_autoptr(JsonBuilder) b = json_builder_new();

  json_builder_begin_object(b);
  for (gsize i = 0; fields[i] != NULL; i++) {
    g_autofree char *path = g_strdup_printf(VXM_HOST_SYS_CLASS_DMI_ID "/%s", fields[i]);
    g_autofree char *value = vxm_hostfs_read_attr(hostfs, path, NULL);

    json_builder_set_member_name(b, fields[i]);
    if (value != NULL && g_utf8_validate(value, -1, NULL))
      json_builder_add_string_value(b, g_strstrip(value));
    else
      json_builder_add_null_value(b);
  }
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
