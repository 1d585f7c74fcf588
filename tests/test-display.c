/* Monitors against the simulated workstation: vxm monitors, vxm display, what the monitor
 * received byte for byte, the bus cache, faults, and the journal's way back after a crash. */
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "display/vxm-display.h"
#include "journal/vxm-journal.h"
#include "vm/vxm-vm-config.h"
#include "vxm-simhost-fixture.h"
#include "vxm-test-util.h"

typedef struct {
  VxmSimhost *sim;
  char *home;
  char *vxm;
  char *env_cache;
  char *env_config;
  char *env_home;
} Fixture;

static const char *const config_text = "[display]\n"
                                       "monitor = DEL:41234:12345\n"
                                       "host_input = hdmi1\n"
                                       "guest_input = dp1\n";

static void
setup(Fixture *f, const char *machine, const char *config)
{
  g_autoptr(GError) error = NULL;

  f->home = vxm_test_mkdtemp();
  f->vxm = vxm_test_build_path("src/cli/vxm");
  f->env_cache = g_strdup_printf("XDG_CACHE_HOME=%s/cache", f->home);
  f->env_config = g_strdup_printf("XDG_CONFIG_HOME=%s/config", f->home);
  f->env_home = g_strdup_printf("HOME=%s", f->home);
  vxm_test_write_file(f->home, "config/vxm/vms/win11.conf", config);
  f->sim = vxm_simhost_start(machine, &error);
  g_assert_no_error(error);
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
  if (!vxm_test_require_root())
    return;
  setup(f, data != NULL ? data : "intel-nvidia-turing",
        data != NULL ? "[display]\nmonitor = auto\nhost_input = hdmi1\nguest_input = dp1\n"
                     : config_text);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
  g_clear_pointer(&f->sim, vxm_simhost_stop);
  if (f->home != NULL)
    vxm_test_rm_rf(f->home);
  g_free(f->home);
  g_free(f->vxm);
  g_free(f->env_cache);
  g_free(f->env_config);
  g_free(f->env_home);
}

/* vxm ARGS... --root SIM; returns the exit status. */
static int
run_vxm(Fixture *f, char **out, char **err, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  const char *envp[] = {f->env_cache, f->env_config, f->env_home, NULL};
  va_list ap;
  const char *arg;
  int status;

  g_ptr_array_add(argv, f->vxm);
  va_start(ap, err);
  while ((arg = va_arg(ap, const char *)) != NULL)
    g_ptr_array_add(argv, (char *)arg);
  va_end(ap);
  g_ptr_array_add(argv, "--root");
  g_ptr_array_add(argv, (char *)vxm_simhost_root(f->sim));
  g_ptr_array_add(argv, NULL);
  status = vxm_test_run((const char *const *)argv->pdata, envp, out, err);
  g_test_message("vxm %s: %d\n%s%s", (char *)argv->pdata[1], status, *out, *err);
  return status;
}

static void
ddc_control(Fixture *f, const char *line)
{
  g_autofree char *path = vxm_simhost_path(f->sim, "/.simhost/ddc");
  int fd = open(path, O_WRONLY);

  g_assert_cmpint(fd, >=, 0);
  /* one write: the simulator takes a control write as a whole */
  g_assert_cmpint(write(fd, line, strlen(line)), ==, (gssize)strlen(line));
  close(fd);
}

/* The log without its sequence numbers. */
static char *
log_lines(Fixture *f)
{
  g_autofree char *log = vxm_simhost_read_log(f->sim);
  g_auto(GStrv) lines = g_strsplit(log, "\n", -1);
  GString *out = g_string_new(NULL);

  for (guint i = 0; lines[i] != NULL; i++) {
    const char *space = strchr(lines[i], ' ');
    if (space != NULL)
      g_string_append_printf(out, "%s\n", space + 1);
  }
  return g_string_free(out, FALSE);
}

static void
assert_input(Fixture *f, const char *monitor, const char *input)
{
  g_autofree char *state = vxm_simhost_state(f->sim);
  g_autofree char *line = g_strdup_printf("monitor %s input=%s\n", monitor, input);

  if (strstr(state, line) == NULL)
    g_error("state has no '%s':\n%s", line, state);
}

static JsonArray *
monitors_json(Fixture *f, JsonParser *parser)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint(run_vxm(f, &out, &err, "monitors", "--json", NULL), ==, 0);
  json_parser_load_from_data(parser, out, -1, &error);
  g_assert_no_error(error);
  return json_node_get_array(json_parser_get_root(parser));
}

static void
test_monitors_json(Fixture *f, gconstpointer data)
{
  static const char *const names[] = {"card0-DP-1", "card0-HDMI-A-1", "card1-DP-1",
                                      "card1-HDMI-A-1"};
  static const char *const keys[] = {"connector", "gpu", "status", "i2c_bus", "edid"};
  static const char *const edid_keys[] = {"manufacturer", "product_code", "serial_number",
                                          "name",         "serial",       "week",
                                          "year",         "checksum_ok"};
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autofree char *log = NULL;
  JsonArray *array;
  JsonObject *hdmi, *nv, *edid;

  if (f->sim == NULL)
    return;
  array = monitors_json(f, parser);
  g_assert_cmpuint(json_array_get_length(array), ==, G_N_ELEMENTS(names));
  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    JsonObject *o = json_array_get_object_element(array, i);

    g_assert_cmpstr(json_object_get_string_member(o, "connector"), ==, names[i]);
    g_assert_cmpuint(json_object_get_size(o), ==, G_N_ELEMENTS(keys));
    for (guint k = 0; k < G_N_ELEMENTS(keys); k++)
      g_assert_true(json_object_has_member(o, keys[k]));
  }
  hdmi = json_array_get_object_element(array, 1);
  g_assert_cmpstr(json_object_get_string_member(hdmi, "gpu"), ==, "0000:00:02.0");
  g_assert_cmpstr(json_object_get_string_member(hdmi, "status"), ==, "connected");
  /* the connector's ddc link */
  g_assert_cmpint(json_object_get_int_member(hdmi, "i2c_bus"), ==, 3);
  edid = json_object_get_object_member(hdmi, "edid");
  g_assert_cmpuint(json_object_get_size(edid), ==, G_N_ELEMENTS(edid_keys));
  for (guint k = 0; k < G_N_ELEMENTS(edid_keys); k++)
    g_assert_true(json_object_has_member(edid, edid_keys[k]));
  g_assert_cmpstr(json_object_get_string_member(edid, "manufacturer"), ==, "DEL");
  g_assert_cmpint(json_object_get_int_member(edid, "product_code"), ==, 41234);
  g_assert_cmpint(json_object_get_int_member(edid, "serial_number"), ==, 12345);
  g_assert_cmpstr(json_object_get_string_member(edid, "name"), ==, "DELL U2720Q");
  g_assert_cmpstr(json_object_get_string_member(edid, "serial"), ==, "ABC123");
  g_assert_cmpint(json_object_get_int_member(edid, "week"), ==, 12);
  g_assert_cmpint(json_object_get_int_member(edid, "year"), ==, 2021);
  g_assert_true(json_object_get_boolean_member(edid, "checksum_ok"));

  /* NVIDIA links no bus to its connector: found by the EDID at 0x50, read on its own GPU's
   * buses only (the same monitor's EDID is on the iGPU's bus too) */
  nv = json_array_get_object_element(array, 2);
  g_assert_cmpstr(json_object_get_string_member(nv, "gpu"), ==, "0000:01:00.0");
  g_assert_cmpint(json_object_get_int_member(nv, "i2c_bus"), ==, 7);
  g_assert_true(json_object_get_null_member(json_array_get_object_element(array, 0), "edid"));
  g_assert_true(json_node_is_null(
      json_object_get_member(json_array_get_object_element(array, 3), "i2c_bus")));
  log = log_lines(f);
  g_assert_cmpstr(log, ==,
                  "open /dev/i2c-7 rw -> ok\n"
                  "ioctl /dev/i2c-7 I2C_SLAVE 0x50 -> ok\n"
                  "write /dev/i2c-7 00 -> ok\n"
                  "read /dev/i2c-7 00 ff ff ff ff ff ff 00 10 ac 12 a1 39 30 00 00 0c 1f 01 04 b5 "
                  "3c 22 78 3a ee 95 a3 54 4c 99 26 0f 50 54 a5 4b 00 d1 c0 81 80 81 c0 a9 c0 b3 "
                  "00 01 01 01 01 01 01 4d d0 00 a0 f0 70 3e 80 30 20 35 00 54 4f 21 00 00 1a 00 "
                  "00 00 ff 00 41 42 43 31 32 33 0a 20 20 20 20 20 20 00 00 00 fc 00 44 45 4c 4c "
                  "20 55 32 37 32 30 51 0a 20 00 00 00 fd 00 18 4b 1e 8c 3c 00 0a 20 20 20 20 20 "
                  "20 00 d1 -> ok\n");
}

static void
test_aux_folder(Fixture *f, gconstpointer data)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autofree char *log = NULL;
  JsonArray *array;
  JsonObject *dp;

  if (f->sim == NULL)
    return;
  array = monitors_json(f, parser);
  dp = json_array_get_object_element(array, 2);
  g_assert_cmpstr(json_object_get_string_member(dp, "connector"), ==, "card1-DP-1");
  g_assert_cmpint(json_object_get_int_member(dp, "i2c_bus"), ==, 9);
  /* the serial is only a string in this EDID */
  g_assert_cmpint(
      json_object_get_int_member(json_object_get_object_member(dp, "edid"), "serial_number"), ==,
      0);
  /* every bus came from sysfs: no device was opened */
  log = log_lines(f);
  g_assert_cmpstr(log, ==, "");
}

static void
test_switch_bytes(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *log = NULL;

  if (f->sim == NULL)
    return;
  assert_input(f, "dell", "hdmi1");
  /* cold: the host GPU's bus first, asked for its input (DDC/CI answers), then the switch */
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "guest", "win11", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "DELL U2720Q (DEL:41234:12345) switched to dp1"));
  g_assert_nonnull(strstr(out, "/dev/i2c-3"));
  log = log_lines(f);
  g_assert_cmpstr(log, ==,
                  "open /dev/i2c-3 rw -> ok\n"
                  "ioctl /dev/i2c-3 I2C_SLAVE 0x37 -> ok\n"
                  "write /dev/i2c-3 51 82 01 60 dc -> ok\n"
                  "read /dev/i2c-3 6e 88 02 00 60 00 00 12 00 11 d7 -> ok\n"
                  "write /dev/i2c-3 51 84 03 60 00 0f d7 -> ok\n");
  assert_input(f, "dell", "dp1");

  /* warm: one write, no scan, no probe. A person switches back after more than the monitor's
   * settling time (the simulated one NAKs for 40 ms after a Set VCP, and vxm retries). */
  g_usleep(100 * 1000);
  vxm_simhost_clear_log(f->sim);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_clear_pointer(&log, g_free);
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "host", "win11", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "switched to hdmi1 (host input)"));
  g_assert_nonnull(strstr(out, "cached bus"));
  log = log_lines(f);
  g_assert_cmpstr(log, ==,
                  "open /dev/i2c-3 rw -> ok\n"
                  "ioctl /dev/i2c-3 I2C_SLAVE 0x37 -> ok\n"
                  "write /dev/i2c-3 51 84 03 60 00 11 c9 -> ok\n");
  assert_input(f, "dell", "hdmi1");
}

static void
test_probe(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (f->sim == NULL)
    return;
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "--probe", "win11", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "DELL U2720Q (DEL:41234:12345) shows hdmi1 (0x0011, the host's "
                               "input)"));
  assert_input(f, "dell", "hdmi1");
}

static void
test_probe_json(Fixture *f, gconstpointer data)
{
  g_autofree char *text = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *read_on = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  JsonObject *o;

  if (f->sim == NULL)
    return;
  g_assert_cmpint(run_vxm(f, &text, &err, "display", "--probe", "win11", NULL), ==, 0);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "--probe", "--json", "win11", NULL), ==, 0);
  json_parser_load_from_data(parser, out, -1, &error);
  g_assert_no_error(error);
  o = json_node_get_object(json_parser_get_root(parser));
  g_assert_cmpstr(json_object_get_string_member(o, "monitor"), ==, "DEL:41234:12345");
  g_assert_cmpstr(json_object_get_string_member(o, "description"), ==, "DELL U2720Q");
  g_assert_cmpint(json_object_get_int_member(o, "input"), ==, 0x11);
  g_assert_cmpstr(json_object_get_string_member(o, "input_name"), ==, "hdmi1");
  g_assert_cmpstr(json_object_get_string_member(o, "role"), ==, "host");
  /* the same connector and bus as the line says */
  read_on = g_strdup_printf("read on %s over /dev/i2c-%" G_GINT64_FORMAT "\n",
                            json_object_get_string_member(o, "connector"),
                            json_object_get_int_member(o, "bus"));
  g_assert_true(g_str_has_suffix(text, read_on));

  /* a switch has no JSON to print: a usage error, and the monitor stays where it was */
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "guest", "--json", "win11", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "--json goes with --probe"));
  assert_input(f, "dell", "hdmi1");
}

static void
test_high_byte_probe(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (f->sim == NULL)
    return;
  /* this monitor answers 0x0111 for hdmi1: the low byte decides */
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "--probe", "win11", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "LG ULTRAGEAR (GSM:23423:0) shows hdmi1 (0x0111, the host's"));
}

static void
test_cache_invalidated(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *log = NULL;
  g_autofree char *cache = NULL;
  g_autofree char *cache_path = g_strdup_printf("%s/cache/vxm/ddc-cache.json", f->home);

  if (f->sim == NULL)
    return;
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "guest", "win11", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "/dev/i2c-5"));
  assert_input(f, "lg", "dp1");
  /* the cable moves from the APU's HDMI to its DisplayPort: another bus */
  ddc_control(f, "unplug card0-HDMI-A-1\nplug card0-DP-1 lg\n");
  vxm_simhost_clear_log(f->sim);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "host", "win11", NULL), ==, 0);
  g_assert_null(strstr(out, "cached bus"));
  g_assert_nonnull(strstr(out, "card0-DP-1 over /dev/i2c-6"));
  assert_input(f, "lg", "hdmi1");
  log = log_lines(f);
  g_assert_null(strstr(log, "/dev/i2c-5"));
  g_assert_nonnull(strstr(log, "write /dev/i2c-6 51 84 03 60 00 11 c9 -> ok\n"));
  g_assert_true(g_file_get_contents(cache_path, &cache, NULL, NULL));
  g_assert_nonnull(strstr(cache, "\"bus\" : 6"));
  g_assert_nonnull(strstr(cache, "\"connector\" : \"card0-DP-1\""));
}

static void
test_ebusy(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (f->sim == NULL)
    return;
  /* the only cable left is on the iGPU's DP-1, whose 0x37 the ddcci driver holds */
  ddc_control(f, "unplug card0-HDMI-A-1\nunplug card1-DP-1\nplug card0-DP-1 dell\n");
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "guest", "win11", NULL), ==, 1);
  g_assert_nonnull(strstr(err, "/dev/i2c-4"));
  g_assert_nonnull(strstr(err, "held by the ddcci driver"));
  g_assert_nonnull(strstr(err, "modprobe -r ddcci"));
  assert_input(f, "dell", "hdmi1");
}

/* Two cables to the monitor, both failing in different ways: both are said (not one GError set
 * over the other). */
static void
test_two_failing_connectors(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (f->sim == NULL)
    return;
  ddc_control(f, "unplug card0-HDMI-A-1\nplug card0-DP-1 dell\n");
  ddc_control(f, "dell silent on");
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "guest", "win11", NULL), ==, 1);
  g_test_message("%s", err);
  g_assert_null(strstr(err, "over the top"));
  g_assert_nonnull(strstr(err, "card0-DP-1: "));
  g_assert_nonnull(strstr(err, "held by the ddcci driver"));
  g_assert_nonnull(strstr(err, "card1-DP-1: "));
  assert_input(f, "dell", "hdmi1");
}

/* With the host GPU's bus held, the other GPU's cable still reaches the same monitor. */
static void
test_other_gpu_bus(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (f->sim == NULL)
    return;
  ddc_control(f, "unplug card0-HDMI-A-1\nplug card0-DP-1 dell\n");
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "guest", "win11", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "card1-DP-1 over /dev/i2c-7"));
  assert_input(f, "dell", "dp1");
}

/* Warms the cache, then clears the log. */
static void
warm(Fixture *f)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint(run_vxm(f, &out, &err, "display", "host", "win11", NULL), ==, 0);
  vxm_simhost_clear_log(f->sim);
}

static void
test_nak_retried(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *log = NULL;

  if (f->sim == NULL)
    return;
  warm(f);
  ddc_control(f, "dell nak 2");
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "guest", "win11", NULL), ==, 0);
  log = log_lines(f);
  g_assert_cmpstr(log, ==,
                  "open /dev/i2c-3 rw -> ok\n"
                  "ioctl /dev/i2c-3 I2C_SLAVE 0x37 -> ok\n"
                  "write /dev/i2c-3 51 84 03 60 00 0f d7 -> EIO\n"
                  "write /dev/i2c-3 51 84 03 60 00 0f d7 -> EIO\n"
                  "write /dev/i2c-3 51 84 03 60 00 0f d7 -> ok\n");
  assert_input(f, "dell", "dp1");
}

static void
test_nak_gives_up(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *log = NULL;

  if (f->sim == NULL)
    return;
  warm(f);
  ddc_control(f, "dell nak 100");
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "guest", "win11", NULL), ==, 1);
  g_assert_nonnull(strstr(err, "cannot switch the monitor to dp1"));
  g_assert_nonnull(strstr(err, "DEL:41234:12345"));
  assert_input(f, "dell", "hdmi1");
  /* bounded: three tries on the cached bus, three Get VCP tries on each candidate */
  log = log_lines(f);
  {
    g_auto(GStrv) naks = g_strsplit(log, "-> EIO", -1);
    g_assert_cmpuint(g_strv_length(naks) - 1, <=, 9);
  }
}

static void
test_bad_checksum_retried(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *log = NULL;

  if (f->sim == NULL)
    return;
  warm(f);
  ddc_control(f, "dell bad-checksum 1");
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "--probe", "win11", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "shows hdmi1"));
  log = log_lines(f);
  g_assert_cmpstr(log, ==,
                  "open /dev/i2c-3 rw -> ok\n"
                  "ioctl /dev/i2c-3 I2C_SLAVE 0x37 -> ok\n"
                  "write /dev/i2c-3 51 82 01 60 dc -> ok\n"
                  "read /dev/i2c-3 6e 88 02 00 60 00 00 12 00 11 28 -> ok\n"
                  "write /dev/i2c-3 51 82 01 60 dc -> ok\n"
                  "read /dev/i2c-3 6e 88 02 00 60 00 00 12 00 11 d7 -> ok\n");
}

static void
test_null_replies(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (f->sim == NULL)
    return;
  warm(f);
  /* the cached bus keeps answering null: then every other candidate does too */
  ddc_control(f, "dell null 100");
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "--probe", "win11", NULL), ==, 1);
  g_assert_nonnull(strstr(err, "null reply"));
  g_assert_nonnull(strstr(err, "failed 3 times"));
}

static void
test_silent(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (f->sim == NULL)
    return;
  ddc_control(f, "dell silent on");
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "guest", "win11", NULL), ==, 1);
  g_assert_nonnull(strstr(err, "is DDC/CI on in the monitor's menu?"));
  assert_input(f, "dell", "hdmi1");
}

static void
test_check(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *default_conf = g_strdup_printf("%s/config/vxm/vms/default.conf", f->home);

  if (f->sim == NULL)
    return;
  g_assert_true(g_file_set_contents(default_conf, config_text, -1, NULL));
  run_vxm(f, &out, &err, "check", "--json", NULL);
  g_assert_nonnull(strstr(out, "\"id\" : \"monitor\",\n    \"status\" : \"ok\""));
  g_assert_nonnull(strstr(out, "DELL U2720Q (DEL:41234:12345) on card0-HDMI-A-1, DDC bus i2c-3"));
}

/* The monitor reachable only through the guest GPU's cable: the check warns, and its fix asks
 * for root only from someone who is not root already. */
static void
check_no_host_bus(Fixture *f, const char *gpu_section)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *default_conf = g_strdup_printf("%s/config/vxm/vms/default.conf", f->home);
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonArray *checks;
  JsonObject *monitor = NULL;
  const char *fix;
  /* the guest GPU named or found (auto): its own cable does not count */
  g_autofree char *conf = g_strconcat(gpu_section, config_text, NULL);

  if (f->sim == NULL)
    return;
  g_assert_true(g_file_set_contents(default_conf, conf, -1, NULL));
  ddc_control(f, "unplug card0-HDMI-A-1");
  run_vxm(f, &out, &err, "check", "--json", NULL);
  g_assert_true(json_parser_load_from_data(parser, out, -1, NULL));
  checks = json_node_get_array(json_parser_get_root(parser));
  for (guint i = 0; i < json_array_get_length(checks); i++) {
    JsonObject *check = json_array_get_object_element(checks, i);

    if (g_strcmp0(json_object_get_string_member(check, "id"), "monitor") == 0)
      monitor = check;
  }
  g_assert_nonnull(monitor);
  g_assert_cmpstr(json_object_get_string_member(monitor, "status"), ==, "warn");
  g_assert_nonnull(strstr(json_object_get_string_member(monitor, "message"), "has no DDC bus"));
  fix = json_object_get_string_member(monitor, "fix");
  g_assert_nonnull(strstr(fix, "modprobe i2c-dev"));
  if (geteuid() == 0)
    g_assert_null(strstr(fix, "as root"));
  else
    g_assert_nonnull(strstr(fix, "run vxm check as root"));
}

static void
test_check_no_host_bus(Fixture *f, gconstpointer data)
{
  check_no_host_bus(f, "[gpu]\naddress = 0000:01:00.0\n");
}

static void
test_check_no_host_bus_auto(Fixture *f, gconstpointer data)
{
  check_no_host_bus(f, "");
}

/* A supervisor switches to the guest with the journal, then dies: recover switches back. */
static void
test_journal_recover(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;
  pid_t pid;

  if (f->sim == NULL)
    return;
  pid = fork();
  g_assert_cmpint(pid, >=, 0);
  if (pid == 0) {
    g_autoptr(VxmHostfs) hostfs = vxm_hostfs_new(vxm_simhost_root(f->sim));
    g_autoptr(VxmVmConfig) config = NULL;
    g_autoptr(VxmJournal) journal = NULL;
    g_autoptr(GError) error = NULL;

    g_setenv("XDG_CACHE_HOME", strchr(f->env_cache, '=') + 1, TRUE);
    config =
        vxm_vm_config_load_data("win11", "win11.conf", config_text, strlen(config_text), &error);
    journal = config != NULL ? vxm_journal_new(hostfs, "win11", &error) : NULL;
    if (journal == NULL || !vxm_display_switch_to(hostfs, config, "guest", journal, NULL, &error)) {
      g_printerr("child: %s\n", error->message);
      _exit(1);
    }
    _exit(0); /* killed before the stop: the journal stays */
  }
  g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
  g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_input(f, "dell", "dp1");

  g_assert_cmpint(run_vxm(f, &out, &err, "recover", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "DEL:41234:12345"));
  g_assert_nonnull(strstr(out, "back to hdmi1"));
  assert_input(f, "dell", "hdmi1");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  /* a second recover has nothing to do */
  g_assert_cmpint(run_vxm(f, &out, &err, "recover", NULL), ==, 0);
  g_assert_null(strstr(out, "hdmi1"));
}

/* The guest GPU taken by vfio-pci: its connectors go, the host GPU's bus still switches. */
static void
test_after_detach(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *unbind = NULL;

  if (f->sim == NULL)
    return;
  unbind = vxm_simhost_path(f->sim, "/sys/bus/pci/drivers/nvidia/unbind");
  {
    int fd = open(unbind, O_WRONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, "0000:01:00.0", 12), ==, 12);
    close(fd);
  }
  g_assert_cmpint(run_vxm(f, &out, &err, "monitors", NULL), ==, 0);
  g_assert_null(strstr(out, "card1-DP-1"));
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "guest", "win11", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "card0-HDMI-A-1 over /dev/i2c-3"));
  assert_input(f, "dell", "dp1");
}

/* ---- several monitors (issue 17) ---- */

static const char *const two_config =
    "[display]\n"
    "monitors = DEL:41234:12345 hdmi1 dp1; card0-DP-2 dp1 hdmi1\n";

static void
fixture_setup_two(Fixture *f, gconstpointer data)
{
  if (!vxm_test_require_root())
    return;
  setup(f, "intel-nvidia-two-monitors", two_config);
}

/* vxm check covers each monitor; vxm display switches each both ways; --probe --json is an
 * array, one object per monitor, with each one's role. */
static void
test_two_check_and_switch(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *default_conf = g_strdup_printf("%s/config/vxm/vms/default.conf", f->home);
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  JsonArray *probes;

  if (f->sim == NULL)
    return;
  g_assert_true(g_file_set_contents(default_conf, two_config, -1, NULL));
  run_vxm(f, &out, &err, "check", "--json", NULL);
  g_assert_nonnull(strstr(out, "\"id\" : \"monitor\",\n    \"status\" : \"ok\""));
  g_assert_nonnull(strstr(out, "DELL U2720Q (DEL:41234:12345) on card0-HDMI-A-1, DDC bus i2c-3; "
                               "24G2W1G4 (AOC:9218:2587) on card0-DP-2, DDC bus i2c-5"));
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  g_assert_cmpint(run_vxm(f, &out, &err, "display", "guest", "win11", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "(DEL:41234:12345) switched to dp1 (guest input)"));
  g_assert_nonnull(strstr(out, "(AOC:9218:2587) switched to hdmi1 (guest input)"));
  assert_input(f, "dell", "dp1");
  assert_input(f, "aoc", "hdmi1");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  g_assert_cmpint(run_vxm(f, &out, &err, "display", "--probe", "--json", "win11", NULL), ==, 0);
  json_parser_load_from_data(parser, out, -1, &error);
  g_assert_no_error(error);
  probes = json_node_get_array(json_parser_get_root(parser));
  g_assert_cmpuint(json_array_get_length(probes), ==, 2);
  g_assert_cmpstr(
      json_object_get_string_member(json_array_get_object_element(probes, 1), "monitor"), ==,
      "AOC:9218:2587");
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(probes, 1), "role"),
                  ==, "guest");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  /* one monitor by hand: --monitor takes the inputs monitors gives it */
  g_assert_cmpint(
      run_vxm(f, &out, &err, "display", "host", "win11", "--monitor", "card0-DP-2", NULL), ==, 0);
  assert_input(f, "aoc", "dp1");
  assert_input(f, "dell", "dp1");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "host", "win11", NULL), ==, 0);
  assert_input(f, "dell", "hdmi1");
}

/* One monitor does not answer: the other still switches; the failure names the monitor and
 * the exit status says it; vxm check warns for that one only. */
static void
test_two_one_dead(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (f->sim == NULL)
    return;
  ddc_control(f, "dell silent on");
  g_assert_cmpint(run_vxm(f, &out, &err, "display", "guest", "win11", NULL), ==, 1);
  g_assert_nonnull(strstr(out, "(AOC:9218:2587) switched to hdmi1 (guest input)"));
  g_assert_nonnull(strstr(err, "vxm display: DEL:41234:12345: cannot switch the monitor to dp1"));
  g_assert_nonnull(strstr(err, "1 of the 2 monitors failed"));
  assert_input(f, "aoc", "hdmi1");
  assert_input(f, "dell", "hdmi1");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define T(path, fn, machine) g_test_add(path, Fixture, machine, fixture_setup, fn, fixture_teardown)
  T("/vxm/display/sim/monitors-json", test_monitors_json, NULL);
  T("/vxm/display/sim/aux-folder", test_aux_folder, "amd-apu-radeon");
  T("/vxm/display/sim/switch-bytes", test_switch_bytes, NULL);
  T("/vxm/display/sim/probe", test_probe, NULL);
  T("/vxm/display/sim/probe-json", test_probe_json, NULL);
  T("/vxm/display/sim/probe-high-byte", test_high_byte_probe, "amd-apu-radeon");
  T("/vxm/display/sim/cache-invalidated", test_cache_invalidated, "amd-apu-radeon");
  T("/vxm/display/sim/ebusy-names-driver", test_ebusy, NULL);
  T("/vxm/display/sim/other-gpu-bus", test_other_gpu_bus, NULL);
  T("/vxm/display/sim/two-failing-connectors", test_two_failing_connectors, NULL);
  T("/vxm/display/sim/nak-retried", test_nak_retried, NULL);
  T("/vxm/display/sim/nak-gives-up", test_nak_gives_up, NULL);
  T("/vxm/display/sim/bad-checksum-retried", test_bad_checksum_retried, NULL);
  T("/vxm/display/sim/null-replies", test_null_replies, NULL);
  T("/vxm/display/sim/silent", test_silent, NULL);
  T("/vxm/display/sim/check", test_check, NULL);
  T("/vxm/display/sim/check-no-host-bus", test_check_no_host_bus, NULL);
  T("/vxm/display/sim/check-no-host-bus-auto", test_check_no_host_bus_auto, NULL);
  T("/vxm/display/sim/journal-recover", test_journal_recover, NULL);
  T("/vxm/display/sim/after-detach", test_after_detach, NULL);
  g_test_add("/vxm/display/sim/two/check-and-switch", Fixture, NULL, fixture_setup_two,
             test_two_check_and_switch, fixture_teardown);
  g_test_add("/vxm/display/sim/two/one-dead", Fixture, NULL, fixture_setup_two, test_two_one_dead,
             fixture_teardown);
  return g_test_run();
}
