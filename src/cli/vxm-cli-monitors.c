/* vxm monitors: every display connector, what is plugged in (EDID identity) and its DDC bus. */
#include <string.h>

#include "display/vxm-drm-connector.h"
#include "vxm-cli.h"

static const char *
or_dash(const char *s)
{
  return s != NULL ? s : "-";
}

static void
print_table(GPtrArray *connectors)
{
  int w_name = (int)strlen("CONNECTOR"), w_status = (int)strlen("disconnected");

  for (guint i = 0; i < connectors->len; i++) {
    VxmDrmConnector *c = connectors->pdata[i];
    w_name = MAX(w_name, (int)strlen(c->name));
  }
  g_print("%-*s  %-12s  %-*s  %-8s  %s\n", w_name, "CONNECTOR", "GPU", w_status, "STATUS", "DDC",
          "MONITOR");
  for (guint i = 0; i < connectors->len; i++) {
    VxmDrmConnector *c = connectors->pdata[i];
    g_autofree char *bus = c->i2c_bus >= 0 ? g_strdup_printf("i2c-%d", c->i2c_bus) : g_strdup("-");
    g_autofree char *monitor = NULL;

    if (c->edid != NULL) {
      g_autofree char *desc = vxm_edid_describe(c->edid);
      g_autofree char *id = vxm_edid_identity(c->edid);

      monitor =
          g_strdup_printf("%s (%s)%s", desc, id, c->edid->checksum_ok ? "" : " bad EDID checksum");
    }
    g_print("%-*s  %-12s  %-*s  %-8s  %s\n", w_name, c->name, or_dash(c->gpu), w_status, c->status,
            bus, or_dash(monitor));
  }
}

int
vxm_cli_cmd_monitors(VxmCli *cli, int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON array, one object per connector",
       NULL},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) connectors = NULL;
  VxmHostfs *hostfs;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, NULL,
                     "Lists every display connector of the host's GPUs: its status, the monitor "
                     "plugged in (by EDID: manufacturer, product, serial) and the I2C bus that "
                     "reaches it over DDC/CI. Works without privileges; finding a bus by EDID "
                     "(when the driver names none) reads /dev/i2c-N, which needs root."))
    return VXM_EXIT_USAGE;
  if (argc > 1)
    return vxm_cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL)
    return vxm_cli_fail(cli, error);
  connectors = vxm_drm_connector_list(hostfs, &error);
  if (connectors == NULL)
    return vxm_cli_fail(cli, error);
  vxm_drm_connector_match_buses(hostfs, connectors);

  if (json) {
    g_autoptr(JsonArray) array = json_array_new();
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_ARRAY);

    for (guint i = 0; i < connectors->len; i++)
      json_array_add_element(array, vxm_drm_connector_to_json(connectors->pdata[i]));
    json_node_set_array(node, array);
    vxm_cli_print_json(node);
    return VXM_EXIT_OK;
  }
  if (connectors->len == 0) {
    g_print("No display connector under %s%s.\n", vxm_hostfs_get_root(hostfs),
            VXM_HOST_SYS_CLASS_DRM);
    return VXM_EXIT_OK;
  }
  print_table(connectors);
  return VXM_EXIT_OK;
}
