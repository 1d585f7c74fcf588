/* DDC/CI packets, the bus cache file, and DRM connectors on static sysfs trees. */
#include <json-glib/json-glib.h>
#include <string.h>

#include "common/vxm-error.h"
#include "display/vxm-ddc-cache.h"
#include "display/vxm-ddc.h"
#include "display/vxm-drm-connector.h"
#include "vxm-test-util.h"

static void
test_set_vcp_packet(void)
{
  /* facts.md: input to HDMI-1 */
  static const guint8 expected[] = {0x51, 0x84, 0x03, 0x60, 0x00, 0x11, 0xc9};
  guint8 packet[VXM_DDC_SET_VCP_LEN];

  vxm_ddc_encode_set_vcp(0x60, 0x11, packet);
  g_assert_cmpmem(packet, sizeof packet, expected, sizeof expected);
  /* the checksum is the XOR of 0x6e and every byte before it */
  g_assert_cmpuint(vxm_ddc_checksum(0x6e, packet, 6), ==, 0xc9);
  vxm_ddc_encode_set_vcp(0x60, 0x0f, packet);
  g_assert_cmpuint(packet[6], ==, 0xd7);
}

static void
test_get_vcp_packet(void)
{
  static const guint8 expected[] = {0x51, 0x82, 0x01, 0x60, 0xdc};
  guint8 packet[VXM_DDC_GET_VCP_LEN];

  vxm_ddc_encode_get_vcp(0x60, packet);
  g_assert_cmpmem(packet, sizeof packet, expected, sizeof expected);
}

static void
make_reply(guint8 reply[11], guint8 rc, guint8 code, guint16 max, guint16 cur)
{
  reply[0] = 0x6e;
  reply[1] = 0x88;
  reply[2] = 0x02;
  reply[3] = rc;
  reply[4] = code;
  reply[5] = 0x00;
  reply[6] = max >> 8;
  reply[7] = max & 0xff;
  reply[8] = cur >> 8;
  reply[9] = cur & 0xff;
  reply[10] = vxm_ddc_checksum(0x50, reply, 10);
}

static void
test_reply_decode(void)
{
  guint8 reply[11];
  VxmDdcVcpValue value;
  g_autoptr(GError) error = NULL;

  make_reply(reply, 0, 0x60, 0x12, 0x0111);
  g_assert_true(vxm_ddc_decode_vcp_reply(reply, sizeof reply, 0x60, &value, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(value.current, ==, 0x0111);
  g_assert_cmpuint(value.maximum, ==, 0x12);
  /* a high byte set: the same input as hdmi1 */
  g_assert_true(vxm_ddc_input_equal(value.current, 0x11));
  g_assert_false(vxm_ddc_input_equal(value.current, 0x0f));
}

static void
test_reply_refused(void)
{
  static const guint8 null_message[11] = {0x6e, 0x80, 0xbe};
  guint8 reply[11];
  VxmDdcVcpValue value;
  g_autoptr(GError) error = NULL;

  make_reply(reply, 0, 0x60, 0x12, 0x11);
  reply[10] ^= 0x01;
  g_assert_false(vxm_ddc_decode_vcp_reply(reply, sizeof reply, 0x60, &value, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
  g_assert_nonnull(strstr(error->message, "bad checksum"));
  g_clear_error(&error);

  g_assert_false(vxm_ddc_decode_vcp_reply(null_message, sizeof null_message, 0x60, &value, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
  g_assert_nonnull(strstr(error->message, "null reply"));
  g_clear_error(&error);

  make_reply(reply, 1, 0x60, 0, 0);
  g_assert_false(vxm_ddc_decode_vcp_reply(reply, sizeof reply, 0x60, &value, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED);
  g_clear_error(&error);

  make_reply(reply, 0, 0x10, 100, 50);
  g_assert_false(vxm_ddc_decode_vcp_reply(reply, sizeof reply, 0x60, &value, &error));
  g_assert_nonnull(strstr(error->message, "something else"));
  g_clear_error(&error);

  memset(reply, 0xff, sizeof reply);
  g_assert_false(vxm_ddc_decode_vcp_reply(reply, sizeof reply, 0x60, &value, &error));
  g_assert_nonnull(strstr(error->message, "not DDC/CI"));
}

static void
test_cache_round_trip(void)
{
  g_autofree char *dir = vxm_test_mkdtemp();
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  g_setenv("XDG_CACHE_HOME", dir, TRUE);
  path = vxm_ddc_cache_path();
  g_assert_true(g_str_has_prefix(path, dir));
  {
    g_autoptr(VxmDdcCache) cache = vxm_ddc_cache_load("/mnt/a");

    g_assert_null(vxm_ddc_cache_lookup(cache, "DEL:41234:12345"));
    vxm_ddc_cache_store(cache, "DEL:41234:12345", 3, "card0-HDMI-A-1", "link");
    g_assert_true(vxm_ddc_cache_save(cache, &error));
    g_assert_no_error(error);
  }
  {
    g_autoptr(VxmDdcCache) other = vxm_ddc_cache_load("/mnt/b");

    /* another host root does not see it, and keeps it when saving its own */
    g_assert_null(vxm_ddc_cache_lookup(other, "DEL:41234:12345"));
    vxm_ddc_cache_store(other, "GSM:23423:0", 9, "card1-DP-1", "aux");
    g_assert_true(vxm_ddc_cache_save(other, &error));
  }
  {
    g_autoptr(VxmDdcCache) cache = vxm_ddc_cache_load("/mnt/a");
    const VxmDdcCacheEntry *e = vxm_ddc_cache_lookup(cache, "DEL:41234:12345");

    g_assert_nonnull(e);
    g_assert_cmpuint(e->bus, ==, 3);
    g_assert_cmpstr(e->connector, ==, "card0-HDMI-A-1");
    g_assert_cmpstr(e->source, ==, "link");
  }
  /* a damaged file is an empty cache, not an error */
  g_file_set_contents(path, "{\"roots\": {\"/mnt/a\": {\"X\": {\"bus\": \"three\"}}", -1, NULL);
  {
    g_autoptr(VxmDdcCache) cache = vxm_ddc_cache_load("/mnt/a");
    g_assert_null(vxm_ddc_cache_lookup(cache, "DEL:41234:12345"));
    g_assert_null(vxm_ddc_cache_lookup(cache, "X"));
  }
  g_unsetenv("XDG_CACHE_HOME");
  vxm_test_rm_rf(dir);
}

static char *
edid_text(const char *name, gsize *len)
{
  g_autofree char *rel = g_strdup_printf("tests/data/edid/%s", name);
  g_autofree char *path = vxm_test_source_path(rel);
  char *data = NULL;

  g_assert_true(g_file_get_contents(path, &data, len, NULL));
  return data;
}

/* A host tree: card0 on 0000:00:02.0 with HDMI-A-1 (ddc link to i2c-3) and DP-1 (i2c-5
 * folder, an LG plugged in), card1 on 0000:01:00.0 with DP-2 (no bus link), and the version
 * file real /sys/class/drm has. */
static char *
make_tree(void)
{
  char *root = vxm_test_mkdtemp();
  const char *pci0 = "sys/devices/pci0000:00/0000:00:02.0";
  const char *pci1 = "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0";
  g_autofree char *dell = NULL;
  g_autofree char *lg = NULL;
  gsize dell_len, lg_len;
  g_autofree char *p = NULL;

  dell = edid_text("dell-u2720q.bin", &dell_len);
  lg = edid_text("lg-27gl850.bin", &lg_len);
#define W(fmt, ...)                        \
  do {                                     \
    g_free(p);                             \
    p = g_strdup_printf(fmt, __VA_ARGS__); \
  } while (0)
  W("%s/drm/card0/card0-HDMI-A-1/status", pci0);
  vxm_test_write_file(root, p, "connected\n");
  W("%s/drm/card0/card0-HDMI-A-1/edid", pci0);
  vxm_test_write_file(root, p, "");
  {
    g_autofree char *full = g_build_filename(root, p, NULL);
    g_assert_true(g_file_set_contents(full, dell, (gssize)dell_len, NULL));
  }
  W("%s/drm/card0/card0-HDMI-A-1/ddc", pci0);
  vxm_test_symlink(root, p, "../../../i2c-3");
  W("%s/i2c-3/name", pci0);
  vxm_test_write_file(root, p, "i915 gmbus dpb\n");
  W("%s/drm/card0/card0-DP-1/status", pci0);
  vxm_test_write_file(root, p, "connected\n");
  W("%s/drm/card0/card0-DP-1/edid", pci0);
  vxm_test_write_file(root, p, "");
  {
    g_autofree char *full = g_build_filename(root, p, NULL);
    g_assert_true(g_file_set_contents(full, lg, (gssize)lg_len, NULL));
  }
  W("%s/drm/card0/card0-DP-1/i2c-5/name", pci0);
  vxm_test_write_file(root, p, "AUX B/DDI B/PHY B\n");
  W("%s/drm/card1/card1-DP-2/status", pci1);
  vxm_test_write_file(root, p, "disconnected\n");
  W("%s/drm/card1/card1-DP-2/edid", pci1);
  vxm_test_write_file(root, p, "");
  vxm_test_symlink(root, "sys/class/drm/card0", "../../devices/pci0000:00/0000:00:02.0/drm/card0");
  vxm_test_symlink(root, "sys/class/drm/card0-HDMI-A-1",
                   "../../devices/pci0000:00/0000:00:02.0/drm/card0/card0-HDMI-A-1");
  vxm_test_symlink(root, "sys/class/drm/card0-DP-1",
                   "../../devices/pci0000:00/0000:00:02.0/drm/card0/card0-DP-1");
  vxm_test_symlink(root, "sys/class/drm/card1",
                   "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/drm/card1");
  vxm_test_symlink(root, "sys/class/drm/card1-DP-2",
                   "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/drm/card1/card1-DP-2");
  vxm_test_write_file(root, "sys/class/drm/version", "drm 1.1.0 20060810\n");
#undef W
  return root;
}

static void
test_connectors(void)
{
  g_autofree char *root = make_tree();
  g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(root);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = vxm_drm_connector_list(hostfs, &error);
  VxmDrmConnector *dp1, *hdmi, *dp2;

  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 3);
  dp1 = list->pdata[0];
  hdmi = list->pdata[1];
  dp2 = list->pdata[2];
  g_assert_cmpstr(dp1->name, ==, "card0-DP-1");
  g_assert_cmpstr(hdmi->name, ==, "card0-HDMI-A-1");
  g_assert_cmpstr(dp2->name, ==, "card1-DP-2");

  /* the ddc link (HDMI), the i2c-N folder (DisplayPort), nothing */
  g_assert_cmpint(hdmi->i2c_bus, ==, 3);
  g_assert_cmpint(hdmi->ddc_source, ==, VXM_DRM_DDC_LINK);
  g_assert_cmpint(dp1->i2c_bus, ==, 5);
  g_assert_cmpint(dp1->ddc_source, ==, VXM_DRM_DDC_AUX);
  g_assert_cmpint(dp2->i2c_bus, ==, -1);

  /* the GPU from the card's place under the PCI device */
  g_assert_cmpstr(hdmi->gpu, ==, "0000:00:02.0");
  g_assert_cmpstr(dp2->gpu, ==, "0000:01:00.0");

  g_assert_true(vxm_drm_connector_has_monitor(hdmi));
  g_assert_cmpstr(hdmi->edid->name, ==, "DELL U2720Q");
  g_assert_cmpstr(dp1->edid->manufacturer, ==, "GSM");
  g_assert_false(vxm_drm_connector_has_monitor(dp2));
  g_assert_null(dp2->edid);
  g_assert_cmpstr(dp2->status, ==, "disconnected");
  vxm_test_rm_rf(root);
}

static void
test_connector_json(void)
{
  g_autofree char *root = make_tree();
  g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(root);
  g_autoptr(VxmDrmConnector) c = vxm_drm_connector_load(hostfs, "card0-HDMI-A-1", NULL);
  g_autoptr(VxmDrmConnector) off = vxm_drm_connector_load(hostfs, "card1-DP-2", NULL);
  g_autoptr(JsonNode) node = vxm_drm_connector_to_json(c);
  g_autoptr(JsonNode) off_node = vxm_drm_connector_to_json(off);
  g_autofree char *text = json_to_string(node, FALSE);
  g_autofree char *off_text = json_to_string(off_node, FALSE);
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr(text, ==,
                  "{\"connector\":\"card0-HDMI-A-1\",\"gpu\":\"0000:00:02.0\",\"status\":"
                  "\"connected\",\"i2c_bus\":3,\"edid\":{\"manufacturer\":\"DEL\",\"product_"
                  "code\":41234,\"serial_number\":12345,\"name\":\"DELL U2720Q\",\"serial\":"
                  "\"ABC123\",\"week\":12,\"year\":2021,\"checksum_ok\":true}}");
  g_assert_cmpstr(off_text, ==,
                  "{\"connector\":\"card1-DP-2\",\"gpu\":\"0000:01:00.0\",\"status\":"
                  "\"disconnected\",\"i2c_bus\":null,\"edid\":null}");
  g_assert_null(vxm_drm_connector_load(hostfs, "card7-DP-9", &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "vxm monitors"));
  g_clear_error(&error);
  g_assert_null(vxm_drm_connector_load(hostfs, "renderD128", &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
  vxm_test_rm_rf(root);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/display/ddc/set-vcp-packet", test_set_vcp_packet);
  g_test_add_func("/vxm/display/ddc/get-vcp-packet", test_get_vcp_packet);
  g_test_add_func("/vxm/display/ddc/reply-decode", test_reply_decode);
  g_test_add_func("/vxm/display/ddc/reply-refused", test_reply_refused);
  g_test_add_func("/vxm/display/ddc/cache-round-trip", test_cache_round_trip);
  g_test_add_func("/vxm/display/connector/list", test_connectors);
  g_test_add_func("/vxm/display/connector/json", test_connector_json);
  return g_test_run();
}
