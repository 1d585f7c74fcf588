/* Input devices without a host: the kernel's bitmap format, classification by capability
 * bits, the input-linux objects the argv and QMP get. */
#include <linux/input.h>
#include <string.h>

#include "common/vxm-error.h"
#include "input/vxm-input-bitmap.h"
#include "input/vxm-input-device.h"
#include "input/vxm-input-object.h"

static void
test_bitmap_parse(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmInputBitmap) ev = vxm_input_bitmap_parse("120013\n", 64, &error);
  g_autoptr(VxmInputBitmap) key = NULL;
  g_autoptr(VxmInputBitmap) empty = NULL;
  g_autoptr(VxmInputBitmap) zero = NULL;
  g_autofree char *text = NULL;
  guint8 bytes[12];

  g_assert_no_error(error);
  /* EV_SYN, EV_KEY, EV_MSC, EV_LED, EV_REP */
  for (guint bit = 0; bit < 64; bit++)
    g_assert_cmpint(vxm_input_bitmap_test(ev, bit), ==,
                    bit == EV_SYN || bit == EV_KEY || bit == EV_MSC || bit == EV_LED ||
                        bit == EV_REP);

  /* a real keyboard's keys: most significant word first, word 0 last */
  key = vxm_input_bitmap_parse("1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe",
                               64, &error);
  g_assert_no_error(error);
  g_assert_false(vxm_input_bitmap_test(key, KEY_RESERVED));
  g_assert_true(vxm_input_bitmap_test(key, KEY_ESC));
  g_assert_true(vxm_input_bitmap_test(key, KEY_A));
  g_assert_true(vxm_input_bitmap_test(key, KEY_Z));
  g_assert_true(vxm_input_bitmap_test(key, 192)); /* word 3 bit 0 */
  g_assert_true(vxm_input_bitmap_test(key, 192 + 48));
  g_assert_false(vxm_input_bitmap_test(key, 192 + 47));
  g_assert_false(vxm_input_bitmap_test(key, BTN_LEFT));
  g_assert_cmpuint(vxm_input_bitmap_count_range(key, KEY_Q, KEY_P), ==, 10);
  text = vxm_input_bitmap_to_string(key, 64);
  g_assert_cmpstr(text, ==, "1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe");
  g_free(g_steal_pointer(&text));
  /* the same keys as a 32-bit kernel prints them */
  text = vxm_input_bitmap_to_string(key, 32);
  g_assert_cmpstr(text, ==, "10000 7 ff9f207a c14057ff febeffdf ffefffff ffffffff fffffffe");
  {
    g_autoptr(VxmInputBitmap) k32 = vxm_input_bitmap_parse(text, 32, &error);
    g_autofree char *back = NULL;

    g_assert_no_error(error);
    back = vxm_input_bitmap_to_string(k32, 64);
    g_assert_cmpstr(back, ==, "1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe");
  }

  /* EVIOCGBIT's bytes: little-endian bits */
  vxm_input_bitmap_to_bytes(ev, bytes, 4);
  g_assert_cmphex(bytes[0], ==, 0x13);
  g_assert_cmphex(bytes[1], ==, 0x00);
  g_assert_cmphex(bytes[2], ==, 0x12);
  g_assert_cmphex(bytes[3], ==, 0x00);

  /* empty and zero are the same empty bitmap; white space anywhere is fine */
  empty = vxm_input_bitmap_parse("", 64, &error);
  g_assert_no_error(error);
  zero = vxm_input_bitmap_parse("  0 \n", 64, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(vxm_input_bitmap_count_range(empty, 0, 1000), ==, 0);
  g_assert_cmpuint(vxm_input_bitmap_count_range(zero, 0, 1000), ==, 0);
  g_free(text);
  text = vxm_input_bitmap_to_string(empty, 64);
  g_assert_cmpstr(text, ==, "0");
  {
    g_autoptr(VxmInputBitmap) spaced = vxm_input_bitmap_parse("3\t 0  1\n", 64, &error);
    g_assert_no_error(error);
    g_assert_true(vxm_input_bitmap_test(spaced, 0));
    g_assert_true(vxm_input_bitmap_test(spaced, 128));
    g_assert_true(vxm_input_bitmap_test(spaced, 129));
    g_assert_false(vxm_input_bitmap_test(spaced, 64));
  }
}

static void
test_bitmap_errors(void)
{
  const char *const bad[] = {"12345678901234567", "zz", "0x10", "-1", "1,2"};

  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmInputBitmap) b = vxm_input_bitmap_parse(bad[i], 64, &error);

    g_assert_null(b);
    g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
    g_assert_nonnull(strstr(error->message, "capability bitmap"));
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmInputBitmap) b = vxm_input_bitmap_parse("123456789", 32, &error);
    g_assert_null(b);
    g_assert_nonnull(strstr(error->message, "wider than 32 bits"));
  }
}

static VxmInputDevice *
device(const char *ev, const char *key, const char *rel, const char *abs, const char *props,
       guint16 bus, const char *phys)
{
  VxmInputDevice *d = vxm_input_device_new();

  d->ev = vxm_input_bitmap_parse(ev, 64, NULL);
  d->key = vxm_input_bitmap_parse(key, 64, NULL);
  d->rel = vxm_input_bitmap_parse(rel, 64, NULL);
  d->abs = vxm_input_bitmap_parse(abs, 64, NULL);
  d->sw = vxm_input_bitmap_new();
  d->props = vxm_input_bitmap_parse(props, 64, NULL);
  d->bustype = bus;
  d->phys = g_strdup(phys);
  vxm_input_device_classify(d);
  return d;
}

#define FULL_KEYS "1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe"

static void
test_classify(void)
{
  struct {
    const char *what, *ev, *key, *rel, *abs, *props;
    guint16 bus;
    const char *phys;
    VxmInputKind kind;
    const char *detail;
    gboolean is_virtual;
  } cases[] = {
      {"usb keyboard", "120013", FULL_KEYS, "0", "0", "0", 3, "usb-0000:00:14.0-3/input0",
       VXM_INPUT_KIND_KEYBOARD, NULL, FALSE},
      {"usb mouse", "17", "ff0000 0 0 0 0", "1943", "0", "0", 3, "usb-0000:00:14.0-4/input0",
       VXM_INPUT_KIND_MOUSE, NULL, FALSE},
      /* a keyboard with a pointing stick on the same node is a keyboard */
      {"keyboard with pointer", "17", "70000 0 0 0 0 0 0 0 0 " FULL_KEYS, "3", "0", "0", 3,
       "usb-x/input0", VXM_INPUT_KIND_KEYBOARD, NULL, FALSE},
      {"clickpad", "1b", "e420 10000 0 0 0 0", "0", "260800000000003", "5", 0x18, "i2c-ELAN0676:00",
       VXM_INPUT_KIND_TOUCHPAD, NULL, FALSE},
      /* a touchscreen has the same axes but INPUT_PROP_DIRECT */
      {"touchscreen", "b", "400 0 0 0 0 0", "0", "3", "2", 0x18, "i2c-x", VXM_INPUT_KIND_OTHER,
       "touchscreen or tablet", FALSE},
      {"lid switch", "21", "0", "0", "0", "0", 0x19, "PNP0C0D/button/input0", VXM_INPUT_KIND_OTHER,
       "lid or video switch", FALSE},
      {"pc speaker", "40001", "0", "0", "0", "0", 0x10, "isa0061/input0", VXM_INPUT_KIND_OTHER,
       "PC speaker", FALSE},
      {"power button", "3", "10000000000000 0", "0", "0", "0", 0x19, "LNXPWRBN/button/input0",
       VXM_INPUT_KIND_OTHER, "power or sleep button", FALSE},
      {"consumer control", "1f", "1078c8401000 e000000000000 0", "1040", "100000000", "0", 3,
       "usb-x/input1", VXM_INPUT_KIND_OTHER,
       "keys without letters (media, consumer or system control)", FALSE},
      /* 25 letters are not a keyboard */
      {"almost a keyboard", "3", "1fffffffffffffe", "0", "0", "0", 3, "usb-y/input0",
       VXM_INPUT_KIND_OTHER, "keys without letters (media, consumer or system control)", FALSE},
      {"uinput keyboard", "3", FULL_KEYS, "0", "0", "0", 6, NULL, VXM_INPUT_KIND_KEYBOARD, NULL,
       TRUE},
      {"no phys", "3", FULL_KEYS, "0", "0", "0", 3, NULL, VXM_INPUT_KIND_KEYBOARD, NULL, TRUE},
      /* a mouse without a left button (a rotary knob) is not a mouse */
      {"knob", "7", "0", "3", "0", "0", 3, "usb-z/input0", VXM_INPUT_KIND_OTHER,
       "neither keyboard nor pointer", FALSE},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(VxmInputDevice) d = device(cases[i].ev, cases[i].key, cases[i].rel, cases[i].abs,
                                         cases[i].props, cases[i].bus, cases[i].phys);

    g_test_message("%s", cases[i].what);
    if (g_str_equal(cases[i].what, "almost a keyboard")) {
      /* KEY_Z (44) missing from an otherwise full first word */
      g_array_index(d->key->words, guint64, 0) &= ~(G_GUINT64_CONSTANT(1) << KEY_Z);
      vxm_input_device_classify(d);
    }
    g_assert_cmpstr(vxm_input_kind_to_string(d->kind), ==, vxm_input_kind_to_string(cases[i].kind));
    g_assert_cmpstr(d->detail, ==, cases[i].detail);
    g_assert_cmpint(d->is_virtual, ==, cases[i].is_virtual);
  }

  /* BlueZ's keyboards and mice come through uhid, under /sys/devices/virtual, with bus
   * Bluetooth: real devices; another uhid device (a userspace HID emulator on bus USB) is not */
  {
    g_autoptr(VxmInputDevice) bt =
        device("120013", FULL_KEYS, "0", "0", "0", 0x05, "a0:b1:c2:d3:e4:f5");
    g_autoptr(VxmInputDevice) emulated =
        device("120013", FULL_KEYS, "0", "0", "0", 0x03, "usb-emulated/input0");

    bt->syspath = g_strdup("/sys/devices/virtual/misc/uhid/0005:046D:B35B.0003/input/input27");
    vxm_input_device_classify(bt);
    g_assert_cmpint(bt->kind, ==, VXM_INPUT_KIND_KEYBOARD);
    g_assert_false(bt->is_virtual);
    emulated->syspath =
        g_strdup("/sys/devices/virtual/misc/uhid/0003:1234:5678.0004/input/input28");
    vxm_input_device_classify(emulated);
    g_assert_true(emulated->is_virtual);
  }
}

static void
test_objects(void)
{
  g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) objects = NULL;
  VxmHostInput in[] = {
      {"/r/dev/input/by-id/usb-Keychron_K8-event-kbd", VXM_HOST_INPUT_KEYBOARD, TRUE},
      {"/r/dev/input/by-id/usb-G502-if01-event-kbd", VXM_HOST_INPUT_KEYBOARD, FALSE},
      {"/r/dev/input/by-id/usb-G502-event-mouse", VXM_HOST_INPUT_MOUSE, FALSE},
      {"/r/a,b/event9", VXM_HOST_INPUT_MOUSE, FALSE},
  };
  const char *const expected[] = {
      "input-linux,id=kbd0,evdev=/r/dev/input/by-id/usb-Keychron_K8-event-kbd,grab_all=on,"
      "repeat=on,grab-toggle=alt-alt",
      "input-linux,id=kbd1,evdev=/r/dev/input/by-id/usb-G502-if01-event-kbd,repeat=on,"
      "grab-toggle=alt-alt",
      "input-linux,id=mouse0,evdev=/r/dev/input/by-id/usb-G502-event-mouse,grab-toggle=alt-alt",
      "input-linux,id=mouse1,evdev=/r/a,,b/event9,grab-toggle=alt-alt",
  };

  for (gsize i = 0; i < G_N_ELEMENTS(in); i++)
    g_ptr_array_add(inputs, g_memdup2(&in[i], sizeof in[i]));
  objects = vxm_input_objects_new(inputs, "alt-alt");
  g_assert_cmpuint(objects->len, ==, 4);
  for (guint i = 0; i < objects->len; i++) {
    g_autofree char *option = vxm_input_object_to_option(objects->pdata[i]);
    g_assert_cmpstr(option, ==, expected[i]);
  }
  {
    g_autoptr(JsonObject) qmp = vxm_input_object_to_qmp(objects->pdata[0]);
    g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), qmp);
    g_autofree char *text = json_to_string(node, FALSE);

    g_assert_cmpstr(text, ==,
                    "{\"qom-type\":\"input-linux\",\"id\":\"kbd0\",\"evdev\":\"/r/dev/input/"
                    "by-id/usb-Keychron_K8-event-kbd\",\"grab_all\":true,\"repeat\":true,"
                    "\"grab-toggle\":\"alt-alt\"}");
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/input/bitmap/parse", test_bitmap_parse);
  g_test_add_func("/vxm/input/bitmap/errors", test_bitmap_errors);
  g_test_add_func("/vxm/input/device/classify", test_classify);
  g_test_add_func("/vxm/input/object/options-and-qmp", test_objects);
  return g_test_run();
}
