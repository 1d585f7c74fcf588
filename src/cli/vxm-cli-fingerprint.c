/* vxm fingerprint [--json]: the host's DMI identity, which a VM with smbios = host shows its
 * guest. The serials and the UUID are root's: an unprivileged vxm asks vxmd for them. JSON:
 * the fields by their /sys/class/dmi/id names, null when unknown. */
#include "ops/vxm-host-ops.h"
#include "vxm-cli.h"

typedef struct {
  const char *heading; /* starts a block when set */
  const char *label;
  const char *field;
} Row;

static const Row rows[] = {
    {"System (SMBIOS type 1)", "manufacturer", "sys_vendor"},
    {NULL, "product", "product_name"},
    {NULL, "version", "product_version"},
    {NULL, "serial", "product_serial"},
    {NULL, "uuid", "product_uuid"},
    {NULL, "sku", "product_sku"},
    {NULL, "family", "product_family"},
    {"Board (type 2)", "manufacturer", "board_vendor"},
    {NULL, "product", "board_name"},
    {NULL, "version", "board_version"},
    {NULL, "serial", "board_serial"},
    {NULL, "asset tag", "board_asset_tag"},
    {"BIOS (type 0)", "vendor", "bios_vendor"},
    {NULL, "version", "bios_version"},
    {NULL, "date", "bios_date"},
    {"Chassis", "manufacturer", "chassis_vendor"},
    {NULL, "serial", "chassis_serial"},
};

static void
print_human(JsonObject *identity)
{
  for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
    const char *value = json_object_get_string_member_with_default(identity, rows[i].field, NULL);

    if (rows[i].heading != NULL)
      g_print("%s%s\n", i > 0 ? "\n" : "", rows[i].heading);
    g_print("  %-13s %s\n", rows[i].label, value != NULL && *value != '\0' ? value : "(unknown)");
  }
  g_print("\nThe serials and the UUID identify this machine. A VM with smbios = host shows its "
          "guest\nthese values (vxm config NAME --set smbios=host).\n");
}

int
vxm_cli_cmd_fingerprint(VxmCli *cli, int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON (the /sys/class/dmi/id field names)",
       NULL},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmHostOps) ops = NULL;
  g_autoptr(JsonNode) identity = NULL;
  VxmHostfs *hostfs;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, NULL,
                     "Show this machine's DMI identity (system, board, BIOS: manufacturer, "
                     "product, serial, UUID, ...),\nwhich a VM with smbios = host passes to its "
                     "guest. The serials and the UUID are root's:\nwithout root, vxmd reads "
                     "them."))
    return VXM_EXIT_USAGE;
  if (argc > 1)
    return vxm_cli_usage_error(cli, "no arguments expected");
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL)
    return vxm_cli_fail(cli, error);
  ops = vxm_cli_get_host_ops(cli, hostfs, &error);
  if (ops == NULL)
    return vxm_cli_fail(cli, error);
  identity = vxm_host_ops_dmi_identity(ops, &error);
  if (identity == NULL)
    return vxm_cli_fail(cli, error);
  if (json)
    vxm_cli_print_json(identity);
  else
    print_human(json_node_get_object(identity));
  return VXM_EXIT_OK;
}
