/* USB devices for [usb] devices: the simulated workstation's model of them (sysfs, nodes,
 * plug and unplug with the kernel's device numbers), what vxm reads of it, and the watcher
 * that adds and removes QEMU's usb-host devices (against the fake QMP server).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "common/vxm-hostfs.h"
#include "qemu/vxm-qmp-client.h"
#include "usb/vxm-usb-device.h"
#include "usb/vxm-usb-watch.h"
#include "vxm-fake-qmp.h"
#include "vxm-simhost-fixture.h"
#include "vxm-test-util.h"

#define XBOX_NODE "/dev/bus/usb/001/006"

static gboolean
node_exists(VxmSimhost *sim, const char *host_path)
{
  g_autofree char *path = vxm_simhost_path(sim, host_path);

  return g_file_test(path, G_FILE_TEST_EXISTS);
}

static char *
state_line(VxmSimhost *sim, const char *name)
{
  g_autofree char *text = vxm_simhost_read(sim, "/.simhost/usb");
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  g_autofree char *prefix = g_strdup_printf("usb %s ", name);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix(lines[i], prefix))
      return g_strdup(lines[i]);
  return NULL;
}

/* The kernel's view: sysfs attributes, the root hub, the node udev leaves root:root 0664, and
 * a replug's new device number; bad control lines are refused and change nothing. */
static void
test_model(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autofree char *vendor = NULL, *product = NULL, *busnum = NULL, *devnum = NULL;
  g_autofree char *name = NULL, *hub = NULL, *line = NULL, *state = NULL, *after = NULL;
  g_autofree char *local = NULL;
  struct stat st;

  if (sim == NULL)
    return;
  vendor = vxm_simhost_read(sim, "/sys/bus/usb/devices/1-5/idVendor");
  product = vxm_simhost_read(sim, "/sys/bus/usb/devices/1-5/idProduct");
  busnum = vxm_simhost_read(sim, "/sys/bus/usb/devices/1-5/busnum");
  devnum = vxm_simhost_read(sim, "/sys/bus/usb/devices/1-5/devnum");
  name = vxm_simhost_read(sim, "/sys/bus/usb/devices/1-5/product");
  hub = vxm_simhost_read(sim, "/sys/bus/usb/devices/usb1/idVendor");
  g_assert_cmpstr(vendor, ==, "045e");
  g_assert_cmpstr(product, ==, "0b12");
  g_assert_cmpstr(busnum, ==, "1");
  g_assert_cmpstr(devnum, ==, "6");
  g_assert_cmpstr(name, ==, "Xbox Wireless Controller");
  g_assert_cmpstr(hub, ==, "1d6b");
  local = vxm_simhost_path(sim, XBOX_NODE);
  g_assert_cmpint(stat(local, &st), ==, 0);
  g_assert_cmpuint(st.st_uid, ==, 0);
  g_assert_cmpuint(st.st_gid, ==, 0);
  g_assert_cmpuint(st.st_mode & 07777, ==, 0664);
  g_assert_true(node_exists(sim, "/dev/bus/usb/001/001"));
  /* the tablet is not plugged in: no sysfs, no node */
  g_assert_false(node_exists(sim, "/sys/bus/usb/devices/1-6"));
  g_assert_false(node_exists(sim, "/dev/bus/usb/001/007"));
  line = state_line(sim, "wacom");
  g_assert_cmpstr(line, ==, "usb wacom 1-6 056a:0374 unplugged");

  /* refused: nothing changes */
  state = vxm_simhost_state(sim);
  g_assert_cmpint(vxm_simhost_control(sim, "usb", "replug xbox-pad\n"), ==, EALREADY);
  g_assert_cmpint(vxm_simhost_control(sim, "usb", "unplug nosuch\n"), ==, ENOENT);
  g_assert_cmpint(vxm_simhost_control(sim, "usb", "replug wacom 6\n"), ==, EBUSY);
  g_assert_cmpint(vxm_simhost_control(sim, "usb", "plug wacom\n"), ==, EINVAL);
  g_assert_cmpint(vxm_simhost_control(sim, "usb", "replug wacom 1\n"), ==, EINVAL);
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, state);

  /* plugged in: the bus's next number after the highest the machine gave (7) */
  g_assert_cmpint(vxm_simhost_control(sim, "usb", "replug wacom\n"), ==, 0);
  g_clear_pointer(&line, g_free);
  line = state_line(sim, "wacom");
  g_assert_cmpstr(line, ==, "usb wacom 1-6 056a:0374 plugged /dev/bus/usb/001/008");
  g_assert_true(node_exists(sim, "/dev/bus/usb/001/008"));
  g_clear_pointer(&devnum, g_free);
  devnum = vxm_simhost_read(sim, "/sys/bus/usb/devices/1-6/devnum");
  g_assert_cmpstr(devnum, ==, "8");

  /* unplugged and back: a new node, root's again */
  g_assert_cmpint(vxm_simhost_control(sim, "usb", "unplug xbox-pad\n"), ==, 0);
  g_assert_false(node_exists(sim, XBOX_NODE));
  g_assert_false(node_exists(sim, "/sys/bus/usb/devices/1-5"));
  g_assert_cmpint(vxm_simhost_control(sim, "usb", "replug xbox-pad\n"), ==, 0);
  g_assert_true(node_exists(sim, "/dev/bus/usb/001/009"));
  g_clear_pointer(&devnum, g_free);
  devnum = vxm_simhost_read(sim, "/sys/bus/usb/devices/1-5/devnum");
  g_assert_cmpstr(devnum, ==, "9");
  {
    g_autofree char *log = vxm_simhost_read_log(sim);

    g_assert_nonnull(strstr(log, "unplug " XBOX_NODE " xbox-pad -> ok"));
    g_assert_nonnull(strstr(log, "replug /dev/bus/usb/001/009 xbox-pad -> ok"));
  }
}

/* The node comes through the mount: inotify on the bus folder sees it come and go, as it sees
 * devtmpfs. */
static void
test_inotify(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autofree char *bus = NULL;
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  gboolean created = FALSE, deleted = FALSE;
  int fd;

  if (sim == NULL)
    return;
  bus = vxm_simhost_path(sim, "/dev/bus/usb/001");
  fd = inotify_init1(IN_CLOEXEC);
  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(inotify_add_watch(fd, bus, IN_CREATE | IN_DELETE), >=, 0);
  g_assert_cmpint(vxm_simhost_control(sim, "usb", "replug wacom\n"), ==, 0);
  g_assert_cmpint(vxm_simhost_control(sim, "usb", "unplug wacom\n"), ==, 0);
  while (!created || !deleted) {
    ssize_t len = read(fd, buf, sizeof buf);

    g_assert_cmpint(len, >, 0);
    for (char *p = buf; p < buf + len;) {
      const struct inotify_event *ev = (const struct inotify_event *)p;

      p += sizeof *ev + ev->len;
      if (ev->len > 0 && g_str_equal(ev->name, "008")) {
        created |= (ev->mask & IN_CREATE) != 0;
        deleted |= (ev->mask & IN_DELETE) != 0;
      }
    }
  }
  close(fd);
}

/* What vxm reads: the devices (interfaces skipped), found by ids and by node. */
static void
test_list(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GPtrArray) devices = NULL;
  g_autofree char *node = NULL, *description = NULL;
  VxmUsbDevice *d;
  guint bus = 0, dev = 0;

  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  devices = vxm_usb_devices_list(hostfs);
  g_assert_cmpuint(devices->len, ==, 2); /* the root hub and the controller */
  d = vxm_usb_devices_find(devices, 0x045e, 0x0b12);
  g_assert_nonnull(d);
  g_assert_cmpstr(d->sysname, ==, "1-5");
  node = vxm_usb_device_node(d);
  g_assert_cmpstr(node, ==, XBOX_NODE);
  description = vxm_usb_device_describe(d);
  g_assert_cmpstr(description, ==, "Microsoft Xbox Wireless Controller");
  g_assert_true(vxm_usb_devices_find_node(devices, 1, 6) == d);
  g_assert_null(vxm_usb_devices_find(devices, 0x056a, 0x0374));
  g_assert_true(vxm_usb_node_parse(XBOX_NODE, &bus, &dev));
  g_assert_cmpuint(bus, ==, 1);
  g_assert_cmpuint(dev, ==, 6);
}

static void
test_node_parse(void)
{
  static const char *const bad[] = {
      "/dev/bus/usb/001/000", "/dev/bus/usb/000/002",        "/dev/bus/usb/1/2",
      "/dev/bus/usb/001/128", "/dev/bus/usb/001/02x",        "/dev/bus/usb/001/002/x",
      "/dev/input/event3",    "/dev/bus/usb/../usb/001/002", NULL};
  guint bus, dev;

  for (guint i = 0; bad[i] != NULL; i++)
    g_assert_false(vxm_usb_node_parse(bad[i], &bus, &dev));
  g_assert_true(vxm_usb_node_parse("/dev/bus/usb/255/127", &bus, &dev));
  g_assert_cmpuint(bus, ==, 255);
  g_assert_cmpuint(dev, ==, 127);
}

/* ---- the watcher ---- */

typedef struct {
  GPtrArray *changes; /* "ID WHAT" */
  GPtrArray *granted; /* host paths */
  gboolean refuse;
} Watching;

static void
on_changed(VxmUsbWatch *watch, const char *id, const char *what, const char *message,
           gpointer user_data)
{
  Watching *w = user_data;

  g_test_message("usb watch: %s %s: %s", id, what, message);
  g_ptr_array_add(w->changes, g_strdup_printf("%s %s", id, what));
}

static gboolean
grant_recorder(const char *host_path, gpointer user_data, GError **error)
{
  Watching *w = user_data;

  if (w->refuse) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "refused by the test");
    return FALSE;
  }
  g_ptr_array_add(w->granted, g_strdup(host_path));
  return TRUE;
}

static gboolean
has_change(Watching *w, const char *change)
{
  for (guint i = 0; i < w->changes->len; i++)
    if (g_str_equal(w->changes->pdata[i], change))
      return TRUE;
  return FALSE;
}

static void
wait_change(Watching *w, const char *change)
{
  while (!has_change(w, change))
    g_main_context_iteration(NULL, TRUE);
}

static void
assert_state(VxmUsbWatch *watch, const char *id, const char *want, const char *want_node)
{
  const char *state = NULL, *node = NULL, *message = NULL;

  g_assert_true(vxm_usb_watch_get_state(watch, id, &state, &node, &message));
  g_assert_cmpstr(state, ==, want);
  g_assert_cmpstr(node, ==, want_node);
}

static GPtrArray *
xbox_and_wacom(void)
{
  GPtrArray *devices = g_ptr_array_new_with_free_func((GDestroyNotify)vxm_usb_passthrough_free);
  VxmUsbPassthrough *xbox = vxm_usb_passthrough_new(0x045e, 0x0b12);

  xbox->node = g_strdup(XBOX_NODE); /* on QEMU's command line */
  g_ptr_array_add(devices, xbox);
  g_ptr_array_add(devices, vxm_usb_passthrough_new(0x056a, 0x0374));
  return devices;
}

/* The tablet plugged in after the start: its node granted, then device_add with the id and
 * the ids it would have had at start; the controller unplugged: device_del; back with a new
 * node: granted and added again. */
static void
test_watch(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autoptr(VxmFakeQmp) fake = NULL;
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(VxmUsbWatch) watch = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GPtrArray) devices = xbox_and_wacom();
  g_autoptr(GError) error = NULL;
  Watching w = {g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free)};

  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  fake = vxm_fake_qmp_new();
  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect(fake, "device_add", "{\"return\": {}}");
  vxm_fake_qmp_expect(fake, "device_del", "{\"return\": {}}");
  vxm_fake_qmp_expect(fake, "device_add", "{\"return\": {}}");
  client = vxm_fake_qmp_connect(fake);
  watch = vxm_usb_watch_new(hostfs, client, devices, &error);
  g_assert_no_error(error);
  g_signal_connect(watch, "changed", G_CALLBACK(on_changed), &w);
  vxm_usb_watch_set_grant_func(watch, grant_recorder, &w, NULL);
  assert_state(watch, "usb-045e-0b12", "attached", XBOX_NODE);
  assert_state(watch, "usb-056a-0374", "waiting", NULL);

  g_assert_cmpint(vxm_simhost_control(sim, "usb", "replug wacom\n"), ==, 0);
  wait_change(&w, "usb-056a-0374 added");
  assert_state(watch, "usb-056a-0374", "attached", "/dev/bus/usb/001/008");
  g_assert_cmpuint(w.granted->len, ==, 1);
  g_assert_cmpstr(w.granted->pdata[0], ==, "/dev/bus/usb/001/008");
  {
    g_autoptr(JsonObject) add = vxm_fake_qmp_received_args(fake, 1, "device_add");

    g_assert_cmpstr(json_object_get_string_member(add, "driver"), ==, "usb-host");
    g_assert_cmpstr(json_object_get_string_member(add, "id"), ==, "usb-056a-0374");
    g_assert_cmpstr(json_object_get_string_member(add, "bus"), ==, "xhci.0");
    g_assert_cmpint(json_object_get_int_member(add, "vendorid"), ==, 0x056a);
    g_assert_cmpint(json_object_get_int_member(add, "productid"), ==, 0x0374);
  }

  g_assert_cmpint(vxm_simhost_control(sim, "usb", "unplug xbox-pad\n"), ==, 0);
  wait_change(&w, "usb-045e-0b12 removed");
  assert_state(watch, "usb-045e-0b12", "unplugged", NULL);
  {
    g_autoptr(JsonObject) del = vxm_fake_qmp_received_args(fake, 2, "device_del");

    g_assert_cmpstr(json_object_get_string_member(del, "id"), ==, "usb-045e-0b12");
  }
  g_assert_cmpint(vxm_simhost_control(sim, "usb", "replug xbox-pad\n"), ==, 0);
  g_ptr_array_set_size(w.changes, 0);
  wait_change(&w, "usb-045e-0b12 added");
  assert_state(watch, "usb-045e-0b12", "attached", "/dev/bus/usb/001/009");
  g_assert_cmpstr(w.granted->pdata[1], ==, "/dev/bus/usb/001/009");
  vxm_fake_qmp_assert_done(fake);
  g_ptr_array_unref(w.changes);
  g_ptr_array_unref(w.granted);
}

/* A grant refused: the device stays out of the guest (no device_add) and the state says why. */
static void
test_watch_grant_refused(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autoptr(VxmFakeQmp) fake = NULL;
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(VxmUsbWatch) watch = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GPtrArray) devices = xbox_and_wacom();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) received = NULL;
  Watching w = {g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free),
                TRUE};
  const char *state = NULL, *node = NULL, *message = NULL;

  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  fake = vxm_fake_qmp_new();
  vxm_fake_qmp_expect_handshake(fake);
  client = vxm_fake_qmp_connect(fake);
  watch = vxm_usb_watch_new(hostfs, client, devices, &error);
  g_assert_no_error(error);
  g_signal_connect(watch, "changed", G_CALLBACK(on_changed), &w);
  vxm_usb_watch_set_grant_func(watch, grant_recorder, &w, NULL);
  g_assert_cmpint(vxm_simhost_control(sim, "usb", "replug wacom\n"), ==, 0);
  wait_change(&w, "usb-056a-0374 failed");
  g_assert_true(vxm_usb_watch_get_state(watch, "usb-056a-0374", &state, &node, &message));
  g_assert_cmpstr(state, ==, "failed");
  g_assert_nonnull(strstr(message, "stays out of the guest: refused by the test"));
  vxm_fake_qmp_assert_done(fake);
  received = vxm_fake_qmp_get_received(fake);
  g_assert_cmpuint(received->len, ==, 1); /* qmp_capabilities only */
  g_ptr_array_unref(w.changes);
  g_ptr_array_unref(w.granted);
}

/* QEMU refuses device_add: the state says so with QEMU's words, and nothing is asked again
 * (no device_del of a device QEMU does not have when it is unplugged); plugged in again, it is
 * tried again. */
static void
test_watch_qemu_refuses(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autoptr(VxmFakeQmp) fake = NULL;
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(VxmUsbWatch) watch = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GPtrArray) devices = xbox_and_wacom();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) received = NULL;
  Watching w = {g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free)};
  const char *state = NULL, *node = NULL, *message = NULL;

  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  fake = vxm_fake_qmp_new();
  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect(fake, "device_add",
                      "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Bus 'xhci.0' not "
                      "found\"}}");
  vxm_fake_qmp_expect(fake, "device_add", "{\"return\": {}}");
  client = vxm_fake_qmp_connect(fake);
  watch = vxm_usb_watch_new(hostfs, client, devices, &error);
  g_assert_no_error(error);
  g_signal_connect(watch, "changed", G_CALLBACK(on_changed), &w);
  vxm_usb_watch_set_grant_func(watch, grant_recorder, &w, NULL);
  g_assert_cmpint(vxm_simhost_control(sim, "usb", "replug wacom\n"), ==, 0);
  wait_change(&w, "usb-056a-0374 failed");
  g_assert_true(vxm_usb_watch_get_state(watch, "usb-056a-0374", &state, &node, &message));
  g_assert_cmpstr(state, ==, "failed");
  g_assert_nonnull(strstr(message, "Bus 'xhci.0' not found"));
  g_assert_cmpint(vxm_simhost_control(sim, "usb", "unplug wacom\n"), ==, 0);
  wait_change(&w, "usb-056a-0374 gone");
  g_assert_cmpint(vxm_simhost_control(sim, "usb", "replug wacom\n"), ==, 0);
  wait_change(&w, "usb-056a-0374 added");
  vxm_fake_qmp_assert_done(fake);
  received = vxm_fake_qmp_get_received(fake);
  g_assert_cmpuint(received->len, ==, 3); /* qmp_capabilities, the refused add, the add */
  g_ptr_array_unref(w.changes);
  g_ptr_array_unref(w.granted);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/usb/parse/node", test_node_parse);
  g_test_add_func("/vxm/usb/simhost/model", test_model);
  g_test_add_func("/vxm/usb/simhost/inotify", test_inotify);
  g_test_add_func("/vxm/usb/devices/list", test_list);
  g_test_add_func("/vxm/usb/watch/plug-unplug", test_watch);
  g_test_add_func("/vxm/usb/watch/grant-refused", test_watch_grant_refused);
  g_test_add_func("/vxm/usb/watch/qemu-refuses", test_watch_qemu_refuses);
  return g_test_run();
}
