/* Input devices on a simulated workstation (vxm-simhost): discovery of realistic device sets,
 * the objects QEMU gets, node grants and their undo, the hotplug watcher against the fake QMP
 * server, and the real QEMU (TCG) grabbing a simulated keyboard and toggling with Ctrl+Ctrl. */
#include <json-glib/json-glib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checks/vxm-check.h"
#include "common/vxm-error.h"
#include "input/vxm-input-access.h"
#include "input/vxm-input-object.h"
#include "input/vxm-input-set.h"
#include "input/vxm-input-watch.h"
#include "journal/vxm-journal.h"
#include "plan/vxm-start-facts.h"
#include "qemu/vxm-process.h"
#include "qemu/vxm-qmp-client.h"
#include "qemu/vxm-socket-wait.h"
#include "vm/vxm-vm-config.h"
#include "vxm-fake-qmp.h"
#include "vxm-simhost-fixture.h"
#include "vxm-test-util.h"

#define G915_KBD "usb-Logitech_G915_WIRELESS_RGB_MECHANICAL_GAMING_KEYBOARD_1C7A3B92-event-kbd"
#define G915_MOUSE \
  "usb-Logitech_G915_WIRELESS_RGB_MECHANICAL_GAMING_KEYBOARD_1C7A3B92-if02-event-mouse"
#define G915_CONSUMER \
  "usb-Logitech_G915_WIRELESS_RGB_MECHANICAL_GAMING_KEYBOARD_1C7A3B92-if01-event-kbd"
#define G502_MOUSE    "usb-Logitech_G502_HERO_Gaming_Mouse_5F8A3E21-event-mouse"
#define G502_KBD      "usb-Logitech_G502_HERO_Gaming_Mouse_5F8A3E21-if01-event-kbd"
#define G502_KBD_PATH "pci-0000:00:14.0-usb-0:4:1.1-event-kbd"

static VxmInputSet *
discover(VxmSimhost *sim, const char *const *names)
{
  g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  g_autoptr(GError) error = NULL;
  VxmInputSet *set = vxm_input_set_discover(hostfs, &error);

  g_assert_no_error(error);
  vxm_input_set_select(set, names);
  return set;
}

static void
assert_device(VxmInputSet *set, const char *event, const char *kind, gboolean taken,
              gboolean primary, const char *path)
{
  VxmInputDevice *d = vxm_input_set_find(set, event);

  g_assert_nonnull(d);
  g_test_message("%s %s taken=%d primary=%d %s: %s", event, kind, d->taken, d->primary, d->path,
                 d->reason);
  g_assert_cmpstr(vxm_input_kind_to_string(d->kind), ==, kind);
  g_assert_cmpint(d->taken, ==, taken);
  g_assert_cmpint(d->primary, ==, primary);
  g_assert_cmpstr(d->path, ==, path);
}

/* A gaming keyboard with three interfaces, a gaming mouse with a keyboard interface, the
 * power button, the PC speaker and a uinput keyboard: auto takes the keyboards and mice, the
 * keyboard's own interface is primary, the mouse's keyboard interface secondary. */
static void
test_discover_gaming(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autoptr(VxmInputSet) set = NULL;

  if (sim == NULL)
    return;
  set = discover(sim, NULL);
  g_assert_cmpuint(set->devices->len, ==, 9);
  assert_device(set, "event0", "other", FALSE, FALSE, "/dev/input/event0");
  assert_device(set, "event2", "other", FALSE, FALSE,
                "/dev/input/by-path/platform-pcspkr-event-spkr");
  assert_device(set, "event3", "keyboard", TRUE, TRUE, "/dev/input/by-id/" G915_KBD);
  assert_device(set, "event4", "other", FALSE, FALSE, "/dev/input/by-id/" G915_CONSUMER);
  assert_device(set, "event5", "other", FALSE, FALSE, "/dev/input/event5");
  assert_device(set, "event6", "mouse", TRUE, FALSE, "/dev/input/by-id/" G915_MOUSE);
  assert_device(set, "event7", "mouse", TRUE, FALSE, "/dev/input/by-id/" G502_MOUSE);
  assert_device(set, "event8", "keyboard", TRUE, FALSE, "/dev/input/by-id/" G502_KBD);
  assert_device(set, "event9", "keyboard", FALSE, FALSE, "/dev/input/event9");
  g_assert_true(vxm_input_set_find(set, "event9")->is_virtual);
  g_assert_nonnull(strstr(vxm_input_set_find(set, "event8")->reason, "mouse's keyboard"));
  g_assert_nonnull(strstr(vxm_input_set_find(set, "event2")->reason, "PC speaker"));
  g_assert_cmpstr(vxm_input_set_find(set, "event3")->name, ==,
                  "Logitech G915 WIRELESS RGB MECHANICAL GAMING KEYBOARD");
  g_assert_cmphex(vxm_input_set_find(set, "event7")->product, ==, 0xc08b);

  /* the mouse's keyboard interface alone is still a fine primary keyboard */
  {
    const char *const names[] = {G502_KBD, G502_MOUSE, NULL};
    g_autoptr(VxmInputSet) only = discover(sim, names);
    assert_device(only, "event8", "keyboard", TRUE, TRUE, "/dev/input/by-id/" G502_KBD);
    assert_device(only, "event3", "keyboard", FALSE, FALSE, "/dev/input/by-id/" G915_KBD);
  }
}

/* A laptop: the i8042 keyboard has only a by-path link, the touchpad is listed but not taken
 * by auto, the lid switch, buttons, video bus and speaker are left out. */
static void
test_discover_laptop(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("laptop-input");
  g_autoptr(VxmInputSet) set = NULL;

  if (sim == NULL)
    return;
  set = discover(sim, NULL);
  g_assert_cmpuint(set->devices->len, ==, 8);
  assert_device(set, "event0", "other", FALSE, FALSE, "/dev/input/event0");
  g_assert_cmpstr(vxm_input_set_find(set, "event0")->detail, ==, "lid or video switch");
  assert_device(set, "event1", "other", FALSE, FALSE, "/dev/input/event1");
  assert_device(set, "event2", "other", FALSE, FALSE, "/dev/input/event2");
  assert_device(set, "event3", "keyboard", TRUE, TRUE,
                "/dev/input/by-path/platform-i8042-serio-0-event-kbd");
  assert_device(set, "event4", "other", FALSE, FALSE, "/dev/input/event4");
  assert_device(set, "event5", "other", FALSE, FALSE,
                "/dev/input/by-path/platform-pcspkr-event-spkr");
  assert_device(set, "event6", "touchpad", FALSE, FALSE,
                "/dev/input/by-path/pci-0000:00:15.1-platform-i2c_designware.1-event-mouse");
  assert_device(set, "event7", "mouse", TRUE, FALSE,
                "/dev/input/by-id/usb-Logitech_USB_Optical_Mouse-event-mouse");

  /* a list takes exactly what it names (by-id or by-path), and says what is missing */
  {
    const char *const names[] = {"pci-0000:00:15.1-platform-i2c_designware.1-event-mouse",
                                 "usb-Nope_Keyboard-event-kbd", NULL};
    g_autoptr(VxmInputSet) listed = discover(sim, names);

    assert_device(listed, "event6", "touchpad", TRUE, FALSE,
                  "/dev/input/by-path/pci-0000:00:15.1-platform-i2c_designware.1-event-mouse");
    assert_device(listed, "event3", "keyboard", FALSE, FALSE,
                  "/dev/input/by-path/platform-i8042-serio-0-event-kbd");
    assert_device(listed, "event7", "mouse", FALSE, FALSE,
                  "/dev/input/by-id/usb-Logitech_USB_Optical_Mouse-event-mouse");
    g_assert_cmpuint(listed->missing->len, ==, 1);
    g_assert_cmpstr(listed->missing->pdata[0], ==, "usb-Nope_Keyboard-event-kbd");
  }
  /* an empty list takes nothing */
  {
    const char *const none[] = {NULL};
    g_autoptr(VxmInputSet) empty = discover(sim, none);
    for (guint i = 0; i < empty->devices->len; i++)
      g_assert_false(((VxmInputDevice *)empty->devices->pdata[i])->taken);
  }
}

/* `vxm inputs --json` on the simulated workstation. */
static void
test_cli_json(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  JsonArray *array;
  int status;

  if (sim == NULL)
    return;
  {
    const char *const argv[] = {vxm, "inputs", "--json", "--root", vxm_simhost_root(sim), NULL};
    status = vxm_test_run(argv, NULL, &out, &err);
  }
  g_assert_cmpint(status, ==, 0);
  g_assert_true(json_parser_load_from_data(parser, out, -1, &error));
  g_assert_no_error(error);
  array = json_node_get_array(json_parser_get_root(parser));
  g_assert_cmpuint(json_array_get_length(array), ==, 9);
  for (guint i = 0; i < json_array_get_length(array); i++) {
    JsonObject *o = json_array_get_object_element(array, i);
    const char *event = json_object_get_string_member(o, "event");

    if (g_str_equal(event, "event3")) {
      g_assert_cmpstr(json_object_get_string_member(o, "kind"), ==, "keyboard");
      g_assert_true(json_object_get_boolean_member(o, "taken"));
      g_assert_true(json_object_get_boolean_member(o, "primary"));
      g_assert_cmpstr(json_object_get_string_member(o, "vendor"), ==, "046d");
      g_assert_cmpstr(json_object_get_string_member(o, "product"), ==, "c33e");
      g_assert_cmpstr(json_array_get_string_element(json_object_get_array_member(o, "by_id"), 0),
                      ==, G915_KBD);
    } else if (g_str_equal(event, "event9")) {
      g_assert_true(json_object_get_boolean_member(o, "virtual"));
      g_assert_false(json_object_get_boolean_member(o, "taken"));
      g_assert_null(json_object_get_string_member(o, "phys"));
    }
  }
  /* and the table */
  g_free(g_steal_pointer(&out));
  g_free(g_steal_pointer(&err));
  {
    const char *const argv[] = {vxm, "inputs", "--root", vxm_simhost_root(sim), NULL};
    status = vxm_test_run(argv, NULL, &out, &err);
  }
  g_assert_cmpint(status, ==, 0);
  g_assert_nonnull(strstr(out, "event3  keyboard  yes*"));
  g_assert_nonnull(strstr(out, "ydotoold virtual device (virtual)"));
}

/* `vxm inputs NAME`: the devices VM NAME's inputs name are taken (by-id, by-path or eventN),
 * the others not, and each named device that is not plugged in is listed with whether it
 * would join a running guest; an unknown VM is an error naming the file and the fix. */
static void
test_cli_vm(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  g_autofree char *tmp = NULL;
  g_autofree char *env_config = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  if (sim == NULL)
    return;
  tmp = vxm_test_mkdtemp();
  vxm_test_write_file(tmp, "vxm/vms/win11.conf",
                      "[input]\ninputs = " G915_KBD ", " G502_KBD_PATH
                      ", event7, usb-Nope_Keyboard-event-kbd, event30\n");
  env_config = g_strdup_printf("XDG_CONFIG_HOME=%s", tmp);
  {
    const char *const envp[] = {env_config, "NO_COLOR=1", NULL};
    const char *const argv[] = {vxm, "inputs", "win11", "--root", vxm_simhost_root(sim), NULL};
    status = vxm_test_run(argv, envp, &out, &err);
  }
  g_test_message("%s%s", out, err);
  g_assert_cmpint(status, ==, 0);
  /* named by by-id: the primary keyboard; by by-path: a secondary one; eventN: the mouse */
  g_assert_nonnull(strstr(out, "event3  keyboard  yes*"));
  g_assert_nonnull(strstr(out, "keyboard, named in inputs; primary keyboard"));
  g_assert_nonnull(strstr(out, "event8  keyboard  yes "));
  g_assert_nonnull(strstr(out, "keyboard, named in inputs; secondary keyboard"));
  g_assert_nonnull(strstr(out, "event7  mouse     yes "));
  /* auto would take the G915's mouse interface: the list does not */
  g_assert_nonnull(strstr(out, "event6  mouse     no "));
  g_assert_nonnull(strstr(out, "not named in inputs"));
  g_assert_nonnull(strstr(out, "missing: usb-Nope_Keyboard-event-kbd is named in VM win11's "
                               "inputs but not plugged in: it joins the guest when plugged in\n"));
  g_assert_nonnull(strstr(out, "missing: event30 is named in VM win11's inputs but not plugged "
                               "in, and would stay out of a running guest: event30 is a kernel "
                               "number"));

  g_free(g_steal_pointer(&out));
  g_free(g_steal_pointer(&err));
  {
    const char *const envp[] = {env_config, "NO_COLOR=1", NULL};
    const char *const argv[] = {vxm, "inputs", "nope", "--root", vxm_simhost_root(sim), NULL};
    status = vxm_test_run(argv, envp, &out, &err);
  }
  g_assert_cmpint(status, ==, 1);
  g_assert_cmpstr(out, ==, "");
  g_assert_nonnull(strstr(err, "nope.conf does not exist; create it with vxm init nope"));
  vxm_test_rm_rf(tmp);
}

/* The objects the argv builder and the watcher use for the discovered set. */
static void
test_objects_for_set(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(VxmInputSet) set = NULL;
  g_autoptr(VxmStartFacts) facts = vxm_start_facts_new();
  g_autoptr(GPtrArray) objects = NULL;
  const char *root;

  if (sim == NULL)
    return;
  root = vxm_simhost_root(sim);
  hostfs = vxm_hostfs_new(root);
  set = discover(sim, NULL);
  vxm_input_set_add_inputs(set, hostfs, facts->inputs);
  objects = vxm_input_objects_new(facts->inputs, "ctrl-ctrl");
  g_assert_cmpuint(objects->len, ==, 4);
  {
    const struct {
      const char *head, *name, *tail;
    } expected[] = {
        {"input-linux,id=kbd0,evdev=", G915_KBD, ",grab_all=on,repeat=on,grab-toggle=ctrl-ctrl"},
        {"input-linux,id=kbd1,evdev=", G502_KBD, ",repeat=on,grab-toggle=ctrl-ctrl"},
        {"input-linux,id=mouse0,evdev=", G915_MOUSE, ",grab-toggle=ctrl-ctrl"},
        {"input-linux,id=mouse1,evdev=", G502_MOUSE, ",grab-toggle=ctrl-ctrl"},
    };
    for (guint i = 0; i < objects->len; i++) {
      g_autofree char *want = g_strconcat(expected[i].head, root, "/dev/input/by-id/",
                                          expected[i].name, expected[i].tail, NULL);
      g_autofree char *got = vxm_input_object_to_option(objects->pdata[i]);
      g_assert_cmpstr(got, ==, want);
    }
  }
}

/* The gid the simulated host's state gives @node. */
static guint
input_group_of(const char *state, const char *node)
{
  g_autofree char *key = g_strdup_printf("dev %s owner=", node);
  const char *line = strstr(state, key);
  guint uid = 0, gid = 0;

  g_assert_nonnull(line);
  g_assert_cmpint(sscanf(line + strlen(key), "%u:%u", &uid, &gid), ==, 2);
  return gid;
}

/* A grant gives the node to the user with the owner, group and mode journaled first; revoke
 * puts back exactly what was there; an unplugged node has nothing to give back. */
static void
test_grant_revoke(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(VxmJournal) journal = NULL;
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *granted = NULL;
  g_autofree char *after = NULL;
  g_autofree char *log = NULL;
  g_autofree char *event7 = NULL;

  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  /* a node somebody set up by hand: 0640 and another group */
  event7 = vxm_simhost_path(sim, "/dev/input/event7");
  g_assert_cmpint(chown(event7, 0, 5), ==, 0);
  g_assert_cmpint(chmod(event7, 0640), ==, 0);
  before = vxm_simhost_state(sim);
  g_assert_nonnull(strstr(before, "dev /dev/input/event7 owner=0:5 mode=0640\n"));
  vxm_simhost_clear_log(sim);

  journal = vxm_journal_new(hostfs, "input-test", &error);
  g_assert_no_error(error);
  g_assert_true(vxm_device_node_grant(hostfs, journal, "/dev/input/by-id/" G915_KBD, 4242,
                                      (gid_t)-1, report, &error));
  g_assert_no_error(error);
  g_assert_true(vxm_device_node_grant(hostfs, journal, "/dev/input/by-id/" G502_MOUSE, 4242,
                                      (gid_t)-1, report, &error));
  g_assert_no_error(error);
  granted = vxm_simhost_state(sim);
  /* the group stays the node's own (the simulated host names it "input", which has this
   * machine's gid for it, or 0 where this machine has no such group) */
  {
    g_autofree char *want = g_strdup_printf("dev /dev/input/event3 owner=4242:%u mode=0660\n",
                                            input_group_of(before, "/dev/input/event3"));
    g_assert_nonnull(strstr(granted, want));
  }
  g_assert_nonnull(strstr(granted, "dev /dev/input/event7 owner=4242:5 mode=0640\n"));
  /* u+rw was there already: only the owner changed; the journal knows the old owner */
  g_assert_cmpuint(vxm_journal_get_n_entries(journal), ==, 2);
  {
    VxmJournalEntry *e = vxm_journal_get_entry(journal, 1);
    g_assert_cmpstr(e->kind, ==, VXM_DEVICE_NODE_JOURNAL_KIND);
    g_assert_cmpstr(vxm_journal_entry_get_string(e, "path"), ==, "/dev/input/event7");
    g_assert_cmpint(json_object_get_int_member(e->data, "gid"), ==, 5);
    g_assert_cmpint(json_object_get_int_member(e->data, "mode"), ==, 0640);
  }
  log = vxm_simhost_read_log(sim);
  {
    g_autofree char *want = g_strdup_printf("chown /dev/input/event3 4242:%u -> ok",
                                            input_group_of(before, "/dev/input/event3"));
    g_assert_nonnull(strstr(log, want));
  }

  g_assert_true(vxm_device_node_revoke_all(hostfs, journal, report, &error));
  g_assert_no_error(error);
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);

  /* granted, then unplugged: nothing to give back, and the replugged node is root's */
  g_assert_true(vxm_device_node_grant(hostfs, journal, "/dev/input/by-id/" G915_KBD, 4242,
                                      (gid_t)-1, report, &error));
  g_assert_no_error(error);
  g_assert_cmpint(vxm_simhost_control(sim, "input", "unplug g915-kbd\n"), ==, 0);
  g_ptr_array_set_size(report, 0);
  g_assert_true(vxm_device_node_revoke_all(hostfs, journal, report, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(report->len, ==, 1);
  g_assert_nonnull(strstr(report->pdata[0], "gone (unplugged)"));
  g_assert_cmpint(vxm_simhost_control(sim, "input", "replug g915-kbd\n"), ==, 0);
  g_free(g_steal_pointer(&after));
  after = vxm_simhost_state(sim);
  g_assert_cmpstr(after, ==, before);
  g_assert_true(vxm_journal_remove(journal, &error));
}

/* ---- the hotplug watcher ---- */

typedef struct {
  GPtrArray *changes; /* "kbd0 gone" */
  GPtrArray *granted; /* host paths */
} Watching;

static void
on_changed(VxmInputWatch *watch, const char *id, const char *what, const char *message,
           gpointer user_data)
{
  Watching *w = user_data;

  g_test_message("watch: %s %s: %s", id, what, message);
  g_ptr_array_add(w->changes, g_strdup_printf("%s %s", id, what));
}

static gboolean
grant_recorder(const char *host_path, gpointer user_data, GError **error)
{
  Watching *w = user_data;

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

static GPtrArray *
objects_for(VxmSimhost *sim)
{
  g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  g_autoptr(VxmInputSet) set = discover(sim, NULL);
  g_autoptr(VxmStartFacts) facts = vxm_start_facts_new();

  vxm_input_set_add_inputs(set, hostfs, facts->inputs);
  return vxm_input_objects_new(facts->inputs, "ctrl-ctrl");
}

/* Unplug and replug of the primary keyboard: its dead object is deleted when it goes, the
 * node is granted again and the same object added when it is back. */
static void
test_watch_replug(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autoptr(VxmFakeQmp) fake = NULL;
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(VxmInputWatch) watch = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GPtrArray) objects = NULL;
  g_autoptr(GError) error = NULL;
  Watching w = {g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free)};

  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  fake = vxm_fake_qmp_new();
  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect(fake, "object-del", "{\"return\": {}}");
  vxm_fake_qmp_expect(fake, "object-add", "{\"return\": {}}");
  client = vxm_fake_qmp_connect(fake);
  objects = objects_for(sim);
  watch = vxm_input_watch_new(hostfs, client, objects, NULL, &error);
  g_assert_no_error(error);
  g_signal_connect(watch, "changed", G_CALLBACK(on_changed), &w);
  vxm_input_watch_set_grant_func(watch, grant_recorder, &w, NULL);

  g_assert_cmpint(vxm_simhost_control(sim, "input", "unplug g915-kbd\n"), ==, 0);
  wait_change(&w, "kbd0 gone");
  g_assert_cmpint(vxm_simhost_control(sim, "input", "replug g915-kbd\n"), ==, 0);
  wait_change(&w, "kbd0 readded");
  vxm_fake_qmp_assert_done(fake);

  g_assert_cmpuint(w.granted->len, ==, 1);
  g_assert_cmpstr(w.granted->pdata[0], ==, "/dev/input/by-id/" G915_KBD);
  {
    g_autoptr(JsonObject) del = vxm_fake_qmp_received_args(fake, 1, "object-del");
    g_autoptr(JsonObject) add = vxm_fake_qmp_received_args(fake, 2, "object-add");
    g_autofree char *evdev = g_strdup_printf("%s/dev/input/by-id/" G915_KBD, vxm_simhost_root(sim));

    g_assert_cmpstr(json_object_get_string_member(del, "id"), ==, "kbd0");
    g_assert_cmpstr(json_object_get_string_member(add, "qom-type"), ==, "input-linux");
    g_assert_cmpstr(json_object_get_string_member(add, "id"), ==, "kbd0");
    g_assert_cmpstr(json_object_get_string_member(add, "evdev"), ==, evdev);
    g_assert_true(json_object_get_boolean_member(add, "grab_all"));
    g_assert_true(json_object_get_boolean_member(add, "repeat"));
    g_assert_cmpstr(json_object_get_string_member(add, "grab-toggle"), ==, "ctrl-ctrl");
    g_assert_cmpuint(json_object_get_size(add), ==, 6);
  }
  g_ptr_array_unref(w.changes);
  g_ptr_array_unref(w.granted);
}

/* A mouse that stays gone: its dead object is deleted and nothing else is ever sent, even
 * while other (unwatched) devices come and go. */
static void
test_watch_stays_gone(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autoptr(VxmFakeQmp) fake = NULL;
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(VxmInputWatch) watch = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GPtrArray) objects = NULL;
  g_autoptr(GError) error = NULL;
  Watching w = {g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free)};
  g_autoptr(GPtrArray) received = NULL;

  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  fake = vxm_fake_qmp_new();
  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect(fake, "object-del", "{\"return\": {}}");
  /* QEMU's answer for an object it does not have is fine too */
  vxm_fake_qmp_expect(fake, "object-del",
                      "{\"error\": {\"class\": \"GenericError\", \"desc\": \"object 'mouse0' not "
                      "found\"}}");
  client = vxm_fake_qmp_connect(fake);
  objects = objects_for(sim);
  watch = vxm_input_watch_new(hostfs, client, objects, NULL, &error);
  g_assert_no_error(error);
  g_signal_connect(watch, "changed", G_CALLBACK(on_changed), &w);
  vxm_input_watch_set_grant_func(watch, grant_recorder, &w, NULL);

  g_assert_cmpint(vxm_simhost_control(sim, "input", "unplug g502-mouse\n"), ==, 0);
  wait_change(&w, "mouse1 gone");
  /* an unwatched device comes and goes; then a watched one goes: the watcher has seen the
   * unwatched device's events by the time it reports that */
  g_assert_cmpint(vxm_simhost_control(sim, "input", "unplug g915-consumer\n"), ==, 0);
  g_assert_cmpint(vxm_simhost_control(sim, "input", "replug g915-consumer\n"), ==, 0);
  g_assert_cmpint(vxm_simhost_control(sim, "input", "unplug g915-mouse\n"), ==, 0);
  wait_change(&w, "mouse0 gone");
  while (vxm_input_watch_get_busy(watch) > 0)
    g_main_context_iteration(NULL, TRUE);
  vxm_fake_qmp_assert_done(fake);
  received = vxm_fake_qmp_get_received(fake);
  g_assert_cmpuint(received->len, ==, 3); /* qmp_capabilities, two object-del */
  for (guint i = 0; i < received->len; i++)
    g_assert_null(strstr(received->pdata[i], "object-add"));
  g_assert_cmpuint(w.granted->len, ==, 0);
  g_assert_false(has_change(&w, "mouse0 failed"));
  g_ptr_array_unref(w.changes);
  g_ptr_array_unref(w.granted);
}

/* A device named in the config but absent at start joins when plugged in: object-add only. */
static void
test_watch_pending(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autoptr(VxmFakeQmp) fake = NULL;
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(VxmInputWatch) watch = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GPtrArray) objects = NULL;
  g_autoptr(GPtrArray) pending =
      g_ptr_array_new_with_free_func((GDestroyNotify)vxm_input_object_free);
  g_autoptr(GError) error = NULL;
  Watching w = {g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free)};

  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  g_assert_cmpint(vxm_simhost_control(sim, "input", "unplug g502-kbd\n"), ==, 0);
  objects = objects_for(sim); /* kbd0 g915, mouse0 g915, mouse1 g502: no kbd1 */
  g_assert_cmpuint(objects->len, ==, 3);
  {
    VxmInputObject o = {
        .id = "kbd1", .kind = VXM_HOST_INPUT_KEYBOARD, .repeat = TRUE, .grab_toggle = "ctrl-ctrl"};
    o.evdev = g_strdup_printf("%s/dev/input/by-id/" G502_KBD, vxm_simhost_root(sim));
    g_ptr_array_add(pending, vxm_input_object_copy(&o));
    g_free(o.evdev);
  }
  fake = vxm_fake_qmp_new();
  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect(fake, "object-add", "{\"return\": {}}");
  client = vxm_fake_qmp_connect(fake);
  watch = vxm_input_watch_new(hostfs, client, objects, pending, &error);
  g_assert_no_error(error);
  g_signal_connect(watch, "changed", G_CALLBACK(on_changed), &w);
  vxm_input_watch_set_grant_func(watch, grant_recorder, &w, NULL);
  g_assert_cmpint(vxm_simhost_control(sim, "input", "replug g502-kbd\n"), ==, 0);
  wait_change(&w, "kbd1 readded");
  vxm_fake_qmp_assert_done(fake);
  {
    g_autoptr(JsonObject) add = vxm_fake_qmp_received_args(fake, 1, "object-add");
    g_assert_cmpstr(json_object_get_string_member(add, "id"), ==, "kbd1");
    g_assert_false(json_object_get_boolean_member(add, "grab_all"));
  }
  g_ptr_array_unref(w.changes);
  g_ptr_array_unref(w.granted);
}

static void
assert_state(VxmInputWatch *watch, const char *id, const char *want, const char *want_evdev)
{
  const char *state = NULL, *evdev = NULL, *message = NULL;

  g_assert_true(vxm_input_watch_get_state(watch, id, &state, &evdev, &message));
  g_assert_cmpstr(state, ==, want);
  if (want_evdev != NULL)
    g_assert_cmpstr(evdev, ==, want_evdev);
}

/* A device named by its by-path link (no by-id: a PS/2 or built-in keyboard) and absent at
 * start joins through that link; the watcher's state follows it: waiting, attached,
 * unplugged, attached. */
static void
test_watch_pending_by_path(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autoptr(VxmFakeQmp) fake = NULL;
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(VxmInputWatch) watch = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GPtrArray) pending =
      g_ptr_array_new_with_free_func((GDestroyNotify)vxm_input_object_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *evdev = NULL;
  Watching w = {g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free)};

  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  g_assert_cmpint(vxm_simhost_control(sim, "input", "unplug g502-kbd\n"), ==, 0);
  evdev = g_strdup_printf("%s/dev/input/by-path/" G502_KBD_PATH, vxm_simhost_root(sim));
  {
    VxmInputObject o = {.id = "kbd0",
                        .kind = VXM_HOST_INPUT_KEYBOARD,
                        .grab_all = TRUE,
                        .repeat = TRUE,
                        .grab_toggle = "ctrl-ctrl",
                        .evdev = evdev};
    g_ptr_array_add(pending, vxm_input_object_copy(&o));
  }
  fake = vxm_fake_qmp_new();
  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect(fake, "object-add", "{\"return\": {}}");
  vxm_fake_qmp_expect(fake, "object-del", "{\"return\": {}}");
  vxm_fake_qmp_expect(fake, "object-add", "{\"return\": {}}");
  client = vxm_fake_qmp_connect(fake);
  watch = vxm_input_watch_new(hostfs, client, NULL, pending, &error);
  g_assert_no_error(error);
  g_signal_connect(watch, "changed", G_CALLBACK(on_changed), &w);
  vxm_input_watch_set_grant_func(watch, grant_recorder, &w, NULL);
  assert_state(watch, "kbd0", "waiting", NULL);

  g_assert_cmpint(vxm_simhost_control(sim, "input", "replug g502-kbd\n"), ==, 0);
  wait_change(&w, "kbd0 readded");
  assert_state(watch, "kbd0", "attached", evdev);
  g_assert_cmpstr(w.granted->pdata[0], ==, "/dev/input/by-path/" G502_KBD_PATH);
  {
    g_autoptr(JsonObject) add = vxm_fake_qmp_received_args(fake, 1, "object-add");
    g_assert_cmpstr(json_object_get_string_member(add, "evdev"), ==, evdev);
  }
  /* and it is watched for replug through the same link */
  g_ptr_array_set_size(w.changes, 0);
  g_assert_cmpint(vxm_simhost_control(sim, "input", "unplug g502-kbd\n"), ==, 0);
  wait_change(&w, "kbd0 gone");
  while (vxm_input_watch_get_busy(watch) > 0)
    g_main_context_iteration(NULL, TRUE);
  assert_state(watch, "kbd0", "unplugged", NULL);
  g_assert_cmpint(vxm_simhost_control(sim, "input", "replug g502-kbd event21\n"), ==, 0);
  wait_change(&w, "kbd0 readded");
  assert_state(watch, "kbd0", "attached", evdev);
  vxm_fake_qmp_assert_done(fake);
  g_assert_cmpuint(w.granted->len, ==, 2);
  g_ptr_array_unref(w.changes);
  g_ptr_array_unref(w.granted);
}

/* Grants for real, journaled: what the supervisor's grant function does. */
typedef struct {
  Watching w;
  VxmHostfs *hostfs;
  VxmJournal *journal;
} Granting;

static gboolean
grant_journaled(const char *host_path, gpointer user_data, GError **error)
{
  Granting *g = user_data;

  g_ptr_array_add(g->w.granted, g_strdup(host_path));
  return vxm_device_node_grant(g->hostfs, g->journal, host_path, 4242, (gid_t)-1, NULL, error);
}

/* The keyboard comes back as a new node (event20, as real kernels often give): the watcher
 * grants the node its by-id link now leads to, re-adds the object with the same stable path,
 * and the undo gives the new node back while the old one has nothing to give back. */
static void
test_watch_replug_new_node(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autoptr(VxmFakeQmp) fake = NULL;
  g_autoptr(VxmQmpClient) client = NULL;
  g_autoptr(VxmInputWatch) watch = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(VxmJournal) journal = NULL;
  g_autoptr(GPtrArray) objects = NULL;
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *state = NULL;
  g_autofree char *link = NULL;
  g_autofree char *event3 = NULL;
  g_autofree char *target = NULL;
  Granting g = {{g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free)}};
  struct stat st;

  if (sim == NULL)
    return;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  before = vxm_simhost_state(sim);
  g_assert_nonnull(strstr(before, "dev /dev/input/event3 owner=0:"));
  g_assert_null(strstr(before, "/dev/input/event20 "));
  journal = vxm_journal_new(hostfs, "input-new-node", &error);
  g_assert_no_error(error);
  g.hostfs = hostfs;
  g.journal = journal;
  /* what grant-inputs did at start */
  g_assert_true(vxm_device_node_grant(hostfs, journal, "/dev/input/by-id/" G915_KBD, 4242,
                                      (gid_t)-1, NULL, &error));
  g_assert_no_error(error);

  fake = vxm_fake_qmp_new();
  vxm_fake_qmp_expect_handshake(fake);
  vxm_fake_qmp_expect(fake, "object-del", "{\"return\": {}}");
  vxm_fake_qmp_expect(fake, "object-add", "{\"return\": {}}");
  client = vxm_fake_qmp_connect(fake);
  objects = objects_for(sim);
  watch = vxm_input_watch_new(hostfs, client, objects, NULL, &error);
  g_assert_no_error(error);
  g_signal_connect(watch, "changed", G_CALLBACK(on_changed), &g.w);
  vxm_input_watch_set_grant_func(watch, grant_journaled, &g, NULL);

  g_assert_cmpint(vxm_simhost_control(sim, "input", "unplug g915-kbd\n"), ==, 0);
  wait_change(&g.w, "kbd0 gone");
  g_assert_cmpint(vxm_simhost_control(sim, "input", "replug g915-kbd event20\n"), ==, 0);
  wait_change(&g.w, "kbd0 readded");
  vxm_fake_qmp_assert_done(fake);

  link = vxm_simhost_path(sim, "/dev/input/by-id/" G915_KBD);
  event3 = vxm_simhost_path(sim, "/dev/input/event3");
  target = g_file_read_link(link, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(target, ==, "../event20");
  g_assert_cmpint(stat(link, &st), ==, 0);
  g_assert_cmpuint(st.st_uid, ==, 4242);
  g_assert_cmpint(access(event3, F_OK), !=, 0);
  g_assert_cmpuint(g.w.granted->len, ==, 1);
  g_assert_cmpstr(g.w.granted->pdata[0], ==, "/dev/input/by-id/" G915_KBD);
  {
    g_autoptr(JsonObject) add = vxm_fake_qmp_received_args(fake, 2, "object-add");
    g_autofree char *evdev = g_strdup_printf("%s/dev/input/by-id/" G915_KBD, vxm_simhost_root(sim));

    g_assert_cmpstr(json_object_get_string_member(add, "id"), ==, "kbd0");
    g_assert_cmpstr(json_object_get_string_member(add, "evdev"), ==, evdev);
  }
  state = vxm_simhost_state(sim);
  g_assert_nonnull(strstr(state, "dev /dev/input/event20 owner=4242:"));

  /* the stop's revoke: event3 is gone, event20 is the kernel's again */
  g_assert_true(vxm_device_node_revoke_all(hostfs, journal, report, &error));
  g_assert_no_error(error);
  for (guint i = 0; i < report->len; i++)
    g_test_message("revoke: %s", (char *)report->pdata[i]);
  g_assert_cmpuint(report->len, ==, 2);
  g_assert_nonnull(strstr(report->pdata[0], "/dev/input/event20 back to 0:"));
  g_assert_nonnull(strstr(report->pdata[1], "/dev/input/event3 is gone"));
  g_free(g_steal_pointer(&state));
  state = vxm_simhost_state(sim);
  {
    /* the new node has what the old one had before the VM: the kernel's owner and mode */
    const char *line = strstr(before, "dev /dev/input/event3 ");
    g_autofree char *old_line = g_strndup(line, strcspn(line, "\n"));
    g_autofree char *new_line =
        g_strdup_printf("dev /dev/input/event20 %s\n", old_line + strlen("dev /dev/input/event3 "));

    g_assert_nonnull(strstr(state, new_line));
    g_assert_null(strstr(state, "owner=4242"));
  }
  g_assert_true(vxm_journal_remove(journal, &error));
  g_ptr_array_unref(g.w.changes);
  g_ptr_array_unref(g.w.granted);
}

/* ---- the real QEMU ---- */

typedef struct {
  VxmSimhost *sim;
  char *dir;
  VxmProcess *qemu;
  VxmQmpClient *client;
} Qemu;

static void
on_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **)user_data = g_object_ref(result);
}

static gboolean
start_qemu(Qemu *q, GPtrArray *objects)
{
  g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
  g_autofree char *wrapper = vxm_test_build_path("tests/vxm-test-qemu-wrapper");
  g_autofree char *sock = NULL;
  g_autofree char *log = NULL;
  g_autofree char *qmp = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GAsyncResult) waited = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) envp = NULL;
  int fd;

  if (qemu == NULL) {
    if (g_strcmp0(g_getenv("CI"), "true") == 0)
      g_test_fail_printf("qemu-system-x86_64 is missing and CI must run this test");
    else
      g_test_skip("qemu-system-x86_64 is not installed");
    return FALSE;
  }
  q->dir = vxm_test_mkdtemp();
  sock = g_build_filename(q->dir, "qmp.sock", NULL);
  log = g_build_filename(q->dir, "qemu.log", NULL);
  qmp = g_strdup_printf("unix:%s,server=on,wait=off", sock);
  /* what vxm's argv has for input, through the test wrapper (KVM -> TCG; input-linux kept) */
  for (const char *const *a = (const char *const[]){"-machine", "q35,accel=kvm", "-nodefaults",
                                                    "-display", "none", "-S", NULL};
       *a != NULL; a++)
    g_ptr_array_add(argv, g_strdup(*a));
  g_ptr_array_insert(argv, 0, g_strdup(wrapper));
  for (guint i = 0; i < objects->len; i++) {
    g_ptr_array_add(argv, g_strdup("-object"));
    g_ptr_array_add(argv, vxm_input_object_to_option(objects->pdata[i]));
  }
  g_ptr_array_add(argv, g_strdup("-qmp"));
  g_ptr_array_add(argv, g_strdup(qmp));
  g_ptr_array_add(argv, NULL);
  envp = g_get_environ();
  envp = g_environ_setenv(envp, "VXM_TEST_QEMU_KEEP_INPUT", "1", TRUE);
  envp = g_environ_setenv(envp, "VXM_TEST_QEMU", qemu, TRUE);
  if (g_environ_getenv(envp, "VXM_TEST_EVDEV_SHIM") == NULL) {
    g_autofree char *shim = vxm_test_build_path("tests/libvxm-test-evdev-shim.so");
    envp = g_environ_setenv(envp, "VXM_TEST_EVDEV_SHIM", shim, TRUE);
  }
  q->qemu =
      vxm_process_spawn((const char *const *)argv->pdata, (const char *const *)envp, NULL, 0, log,
                        VXM_PROCESS_NEW_PROCESS_GROUP | VXM_PROCESS_KILL_WITH_PARENT, &error);
  g_assert_no_error(error);
  vxm_wait_for_socket_async(sock, 30000, NULL, on_done, &waited);
  while (waited == NULL)
    g_main_context_iteration(NULL, TRUE);
  fd = vxm_wait_for_socket_finish(waited, &error);
  g_assert_no_error(error);
  q->client = vxm_qmp_client_new_for_fd(fd, &error);
  g_assert_no_error(error);
  g_assert_true(vxm_qmp_client_handshake_sync(q->client, 30000, &error));
  g_assert_no_error(error);
  return TRUE;
}

static void
stop_qemu(Qemu *q)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *log_path = NULL;
  g_autofree char *log = NULL;

  if (q->client != NULL) {
    g_autoptr(JsonNode) ret = vxm_qmp_client_execute_sync(q->client, "quit", NULL, 0, NULL);
    g_clear_object(&q->client);
  }
  if (q->qemu != NULL) {
    vxm_process_wait_async(q->qemu, NULL, on_done, &result);
    while (result == NULL)
      g_main_context_iteration(NULL, TRUE);
    g_assert_true(vxm_process_wait_finish(q->qemu, result, NULL));
    g_clear_object(&q->qemu);
  }
  if (q->dir != NULL) {
    log_path = g_build_filename(q->dir, "qemu.log", NULL);
    if (g_file_get_contents(log_path, &log, NULL, NULL))
      g_test_message("qemu.log:\n%s", log);
    vxm_test_rm_rf(q->dir);
    g_free(q->dir);
  }
}

/* A QMP round trip: QEMU has handled what its fds had for it before (the test's events were
 * queued, and the poll woken, before the control write returned). */
static void
qmp_barrier(Qemu *q)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = vxm_qmp_client_execute_sync(q->client, "query-status", NULL, 0, &error);

  g_assert_no_error(error);
}

static char *
input_line(VxmSimhost *sim, const char *name)
{
  g_autofree char *path = vxm_simhost_path(sim, "/.simhost/input");
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *prefix = g_strdup_printf("input %s ", name);

  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix(lines[i], prefix))
      return g_strdup(lines[i]);
  return g_strdup("");
}

/* Waits (QMP round trips, at most 200) until device @name's state line is @want. */
static void
wait_input_state(Qemu *q, const char *name, const char *want)
{
  g_autofree char *line = NULL;

  for (guint i = 0; i < 200; i++) {
    g_free(line);
    line = input_line(q->sim, name);
    if (g_str_equal(line, want))
      return;
    qmp_barrier(q);
  }
  g_assert_cmpstr(line, ==, want);
}

static void
assert_input_line(VxmSimhost *sim, const char *name, const char *want)
{
  g_autofree char *line = input_line(sim, name);

  g_assert_cmpstr(line, ==, want);
}

static void
ctrl_ctrl(VxmSimhost *sim)
{
  /* both held together, the switch happens when all keys are up */
  g_assert_cmpint(vxm_simhost_control(sim, "input", "g915-kbd KEY_LEFTCTRL 1\n"), ==, 0);
  g_assert_cmpint(vxm_simhost_control(sim, "input", "g915-kbd KEY_RIGHTCTRL 1\n"), ==, 0);
  g_assert_cmpint(vxm_simhost_control(sim, "input", "g915-kbd KEY_LEFTCTRL 0\n"), ==, 0);
  g_assert_cmpint(vxm_simhost_control(sim, "input", "g915-kbd KEY_RIGHTCTRL 0\n"), ==, 0);
}

static guint
count_in(const char *text, const char *needle)
{
  guint n = 0;

  for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
    n++;
  return n;
}

#define GRABBED(name, ev) "input " name " " ev " plugged grab=qemu-system-x86 clients=1"
#define FREE(name, ev)    "input " name " " ev " plugged grab=none clients=1"

/* QEMU opens the simulated keyboard and mouse and grabs both at start; left+right Ctrl gives
 * the grab back (to the host) on both (grab_all on the keyboard), the next Ctrl+Ctrl takes it
 * again. Then the keyboard is unplugged and plugged back with the watcher running: QEMU gets
 * the same object again, grabs the new node, and the toggle still works. */
static void
test_qemu_grab_toggle(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) objects = g_ptr_array_new();
  g_autoptr(VxmInputWatch) watch = NULL;
  g_autoptr(VxmHostfs) hostfs = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;
  Watching w = {g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free)};
  Qemu q = {0};

  if (sim == NULL)
    return;
  q.sim = sim;
  hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  all = objects_for(sim);
  /* the G915's keyboard (kbd0, grab_all) and the G502 (mouse1) */
  g_ptr_array_add(objects, all->pdata[0]);
  g_ptr_array_add(objects, all->pdata[3]);
  vxm_simhost_clear_log(sim);
  if (!start_qemu(&q, objects))
    return;

  /* QEMU grabs at open (no key held): the grab is there once QMP answers */
  wait_input_state(&q, "g915-kbd", GRABBED("g915-kbd", "event3"));
  wait_input_state(&q, "g502-mouse", GRABBED("g502-mouse", "event7"));
  log = vxm_simhost_read_log(sim);
  g_test_message("simulator log at start:\n%s", log);
  g_assert_nonnull(strstr(log, "open /dev/input/event3 rw -> ok"));
  g_assert_nonnull(strstr(log, "ioctl /dev/input/event3 EVIOCGVERSION -> ok"));
  g_assert_nonnull(strstr(log, "ioctl /dev/input/event3 EVIOCGKEY(96) -> ok"));
  g_assert_nonnull(strstr(log, "ioctl /dev/input/event3 EVIOCGRAB 1 -> ok"));
  g_assert_nonnull(strstr(log, "ioctl /dev/input/event7 EVIOCGRAB 1 -> ok"));

  /* Ctrl+Ctrl: released, on the mouse too */
  vxm_simhost_clear_log(sim);
  g_assert_cmpint(vxm_simhost_control(sim, "input", "g915-kbd KEY_LEFTCTRL 1\n"), ==, 0);
  g_assert_cmpint(vxm_simhost_control(sim, "input", "g915-kbd KEY_RIGHTCTRL 1\n"), ==, 0);
  qmp_barrier(&q);
  /* not while the keys are held */
  assert_input_line(sim, "g915-kbd", GRABBED("g915-kbd", "event3"));
  g_assert_cmpint(vxm_simhost_control(sim, "input", "g915-kbd KEY_LEFTCTRL 0\n"), ==, 0);
  g_assert_cmpint(vxm_simhost_control(sim, "input", "g915-kbd KEY_RIGHTCTRL 0\n"), ==, 0);
  wait_input_state(&q, "g915-kbd", FREE("g915-kbd", "event3"));
  wait_input_state(&q, "g502-mouse", FREE("g502-mouse", "event7"));
  g_free(log);
  log = vxm_simhost_read_log(sim);
  g_test_message("simulator log, first Ctrl+Ctrl:\n%s", log);
  g_assert_nonnull(strstr(log, "ioctl /dev/input/event3 EVIOCGRAB 0 -> ok"));
  g_assert_nonnull(strstr(log, "ioctl /dev/input/event7 EVIOCGRAB 0 -> ok"));
  g_assert_true(strstr(log, "event /dev/input/event3 KEY_RIGHTCTRL 0") <
                strstr(log, "EVIOCGRAB 0"));

  /* and again: taken back */
  vxm_simhost_clear_log(sim);
  ctrl_ctrl(sim);
  wait_input_state(&q, "g915-kbd", GRABBED("g915-kbd", "event3"));
  wait_input_state(&q, "g502-mouse", GRABBED("g502-mouse", "event7"));
  g_free(log);
  log = vxm_simhost_read_log(sim);
  g_assert_cmpuint(count_in(log, "EVIOCGRAB 1 -> ok"), ==, 2);

  /* unplug and replug with the watcher: the object comes back and grabs the new node */
  watch = vxm_input_watch_new(hostfs, q.client, objects, NULL, &error);
  g_assert_no_error(error);
  g_signal_connect(watch, "changed", G_CALLBACK(on_changed), &w);
  vxm_input_watch_set_grant_func(watch, grant_recorder, &w, NULL);
  vxm_simhost_clear_log(sim);
  g_assert_cmpint(vxm_simhost_control(sim, "input", "unplug g915-kbd\n"), ==, 0);
  wait_change(&w, "kbd0 gone");
  while (vxm_input_watch_get_busy(watch) > 0)
    g_main_context_iteration(NULL, TRUE);
  assert_input_line(sim, "g915-kbd", "input g915-kbd event3 unplugged grab=none clients=0");
  /* the mouse is still the guest's */
  assert_input_line(sim, "g502-mouse", GRABBED("g502-mouse", "event7"));
  g_assert_cmpint(vxm_simhost_control(sim, "input", "replug g915-kbd\n"), ==, 0);
  wait_change(&w, "kbd0 readded");
  wait_input_state(&q, "g915-kbd", GRABBED("g915-kbd", "event3"));
  g_free(log);
  log = vxm_simhost_read_log(sim);
  g_test_message("simulator log, unplug and replug:\n%s", log);
  g_assert_nonnull(strstr(log, "replug /dev/input/event3 g915-kbd -> ok"));
  g_assert_true(strstr(log, "replug /dev/input/event3") <
                strstr(log, "open /dev/input/event3 rw -> ok"));
  g_assert_nonnull(strstr(log, "ioctl /dev/input/event3 EVIOCGRAB 1 -> ok"));
  g_assert_cmpuint(w.granted->len, ==, 1);

  /* the re-added keyboard toggles everything again */
  ctrl_ctrl(sim);
  wait_input_state(&q, "g915-kbd", FREE("g915-kbd", "event3"));
  wait_input_state(&q, "g502-mouse", FREE("g502-mouse", "event7"));

  g_clear_object(&watch);
  stop_qemu(&q);
  /* QEMU gone: its grabs went with it */
  assert_input_line(sim, "g915-kbd", "input g915-kbd event3 plugged grab=none clients=0");
  g_ptr_array_unref(w.changes);
  g_ptr_array_unref(w.granted);
}

/* `vxm check`'s inputs check on the simulated devices: what the guest gets, by name. */
static VxmCheckResult *
check_inputs(VxmSimhost *sim, const char *inputs_line)
{
  g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(vxm_simhost_root(sim));
  g_autoptr(VxmCheckContext) ctx = vxm_check_context_new(hostfs, NULL);
  g_autoptr(VxmVmConfig) config = NULL;
  g_autoptr(GError) error = NULL;
  const char *only[] = {"inputs", NULL};
  g_autoptr(GPtrArray) results = NULL;

  if (inputs_line != NULL) {
    g_autofree char *data = g_strdup_printf("[input]\ninputs = %s\n", inputs_line);

    config = vxm_vm_config_load_data("win11", "win11.conf", data, strlen(data), &error);
    g_assert_no_error(error);
    vxm_check_context_set_vm_config(ctx, config);
  }
  results = vxm_check_run(ctx, only);
  g_assert_cmpuint(results->len, ==, 1);
  g_test_message("inputs check: %s / %s", ((VxmCheckResult *)results->pdata[0])->message,
                 ((VxmCheckResult *)results->pdata[0])->fix != NULL
                     ? ((VxmCheckResult *)results->pdata[0])->fix
                     : "-");
  return g_ptr_array_steal_index(results, 0);
}

static void
test_check_inputs(void)
{
  g_autoptr(VxmSimhost) sim = vxm_simhost_start_for_test("intel-nvidia-turing");
  g_autoptr(VxmCheckResult) automatic = NULL;
  g_autoptr(VxmCheckResult) missing = NULL;
  g_autoptr(VxmCheckResult) no_keyboard = NULL;
  g_autoptr(VxmCheckResult) none = NULL;

  if (sim == NULL)
    return;
  automatic = check_inputs(sim, NULL);
  g_assert_cmpint(automatic->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_true(g_str_has_prefix(automatic->message,
                                 "keyboard Logitech G915 WIRELESS RGB MECHANICAL GAMING KEYBOARD "
                                 "(Ctrl+Ctrl switches), 1 more keyboard interface"));
  g_assert_nonnull(strstr(automatic->message, "mouse Logitech G502 HERO Gaming Mouse"));
  g_assert_null(automatic->fix);

  missing = check_inputs(sim, G915_KBD ", " G502_MOUSE ", usb-Nope_Keyboard-event-kbd");
  g_assert_cmpint(missing->status, ==, VXM_CHECK_STATUS_WARN);
  g_assert_nonnull(strstr(missing->message, "not plugged in: usb-Nope_Keyboard-event-kbd"));
  g_assert_nonnull(strstr(missing->fix, "vxm inputs"));

  no_keyboard = check_inputs(sim, G502_MOUSE);
  g_assert_cmpint(no_keyboard->status, ==, VXM_CHECK_STATUS_FAIL);
  g_assert_nonnull(strstr(no_keyboard->message, "the mouse but no keyboard"));
  g_assert_nonnull(strstr(no_keyboard->message, "Ctrl+Ctrl"));
  g_assert_nonnull(strstr(no_keyboard->fix, "vxm config --set inputs="));

  /* named, none plugged in: the guest starts without them (they join when plugged in) */
  {
    g_autoptr(VxmCheckResult) absent = check_inputs(sim, "usb-Nope_Keyboard-event-kbd");

    g_assert_cmpint(absent->status, ==, VXM_CHECK_STATUS_WARN);
    g_assert_nonnull(strstr(absent->message, "no keyboard or mouse for the guest among"));
  }

  none = check_inputs(sim, "none");
  g_assert_cmpint(none->status, ==, VXM_CHECK_STATUS_OK);
  g_assert_nonnull(strstr(none->message, "takes no input devices"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/input/discover/gaming-set", test_discover_gaming);
  g_test_add_func("/vxm/input/discover/laptop", test_discover_laptop);
  g_test_add_func("/vxm/input/check/what-the-guest-gets", test_check_inputs);
  g_test_add_func("/vxm/input/cli/json-and-table", test_cli_json);
  g_test_add_func("/vxm/input/cli/vm-list", test_cli_vm);
  g_test_add_func("/vxm/input/objects/discovered-set", test_objects_for_set);
  g_test_add_func("/vxm/input/access/grant-revoke", test_grant_revoke);
  g_test_add_func("/vxm/input/watch/replug-readds", test_watch_replug);
  g_test_add_func("/vxm/input/watch/stays-gone", test_watch_stays_gone);
  g_test_add_func("/vxm/input/watch/replug-new-node", test_watch_replug_new_node);
  g_test_add_func("/vxm/input/watch/pending-joins", test_watch_pending);
  g_test_add_func("/vxm/input/watch/pending-by-path", test_watch_pending_by_path);
  g_test_add_func("/vxm/input/qemu/grab-toggle-replug", test_qemu_grab_toggle);
  return g_test_run();
}
