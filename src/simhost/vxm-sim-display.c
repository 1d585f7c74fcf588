/* vxm-sim-display: connectors, monitors and DDC/CI on /dev/i2c-N (see the header). */
#include "vxm-sim-display.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/vxm-hostfs.h"
#include "common/vxm-util.h"

#define I2C_SLAVE       0x0703
#define I2C_SLAVE_FORCE 0x0706
#define DDC_ADDRESS     0x37
#define EDID_ADDRESS    0x50
#define I2C_DEV_MAJOR   89

enum { ATTR_STATUS, ATTR_ENABLED, ATTR_EDID, ATTR_DPMS, ATTR_CONTROL };

typedef struct {
  char *name;
  GBytes *edid;
  guint input;     /* VCP 0x60 value now showing */
  GArray *inputs;  /* guint values it has */
  guint high_byte; /* some monitors answer 0x60 with a high byte set */
  gboolean ddc;    /* DDC/CI on in its menu */
  guint reply_delay_ms;
  guint busy_ms;
  /* the protocol */
  guint8 reply[11];
  gsize reply_len; /* 0: nothing pending */
  gint64 reply_ready_us;
  gint64 busy_until_us;
  /* faults from .simhost/ddc */
  guint nak, bad_checksum, null_replies;
  gboolean silent;
} Monitor;

typedef struct {
  char *name;        /* card1-DP-1 */
  char *card;        /* card1 */
  char *gpu;         /* BDF */
  gboolean dp;       /* DisplayPort: the bus is an i2c-N folder in the connector */
  gboolean ddc_link; /* FALSE: the driver does not tie the bus to the connector (nvidia) */
  guint bus;         /* i2c bus number */
  char *i2c_name;    /* the adapter's name */
  char *held_by;     /* a driver bound at 0x37 (ddcci), or NULL */
  Monitor *monitor;  /* plugged in, or NULL */
  char *card_dir;    /* while the card exists */
  GPtrArray *made;   /* paths this module put outside the card's folder */
} Connector;

typedef struct {
  guint address;
  guint edid_offset;
} OpenBus;

struct _VxmSimDisplay {
  VxmSimHost *host;
  GHashTable *monitors;  /* name -> Monitor */
  GPtrArray *connectors; /* Connector, machine order */
};

static VxmSimNode *
root_of(VxmSimDisplay *d)
{
  return d->host->root;
}

static void
monitor_free(Monitor *m)
{
  g_free(m->name);
  g_clear_pointer(&m->edid, g_bytes_unref);
  g_array_unref(m->inputs);
  g_free(m);
}

static void
connector_free(Connector *c)
{
  g_free(c->name);
  g_free(c->card);
  g_free(c->gpu);
  g_free(c->i2c_name);
  g_free(c->held_by);
  g_free(c->card_dir);
  g_ptr_array_unref(c->made);
  g_free(c);
}

static Connector *
find_connector(VxmSimDisplay *d, const char *name)
{
  for (guint i = 0; i < d->connectors->len; i++) {
    Connector *c = d->connectors->pdata[i];
    if (strcmp(c->name, name) == 0)
      return c;
  }
  return NULL;
}

/* ---- sysfs ---- */

static char *
connector_show(VxmSimNode *node, gssize *len)
{
  Connector *c = node->item;

  switch (node->attr) {
  case ATTR_STATUS: return g_strdup(c->monitor ? "connected\n" : "disconnected\n");
  case ATTR_ENABLED: return g_strdup(c->monitor ? "enabled\n" : "disabled\n");
  case ATTR_DPMS: return g_strdup("On\n");
  case ATTR_EDID:
    if (c->monitor == NULL) {
      *len = 0;
      return g_strdup("");
    }
    *len = (gssize)g_bytes_get_size(c->monitor->edid);
    return g_memdup2(g_bytes_get_data(c->monitor->edid, NULL), (gsize)*len);
  default: return g_strdup("");
  }
}

static void
put_attr(VxmSimDisplay *d, const char *path, const char *text)
{
  VxmSimNode *node = vxm_sim_node_put(root_of(d), path, vxm_sim_node_new_file(0444, text));
  node->flags |= VXM_SIM_NODE_FLAG_ATTRIBUTE;
}

static int bus_open(VxmSimNode *node, int flags, int pid, gpointer *client);
static void bus_release(VxmSimNode *node, gpointer client);
static int bus_read(VxmSimNode *node, gpointer client, char *buf, gsize size, int flags);
static int bus_write(VxmSimNode *node, gpointer client, const char *buf, gsize size);
static int bus_ioctl(VxmSimNode *node, gpointer client, unsigned int cmd, void *data, gsize size);
static char *bus_ioctl_name(unsigned int cmd, const void *data, gsize size);

static const VxmSimDeviceOps bus_ops = {
    .open = bus_open,
    .release = bus_release,
    .read = bus_read,
    .write = bus_write,
    .ioctl = bus_ioctl,
    .ioctl_name = bus_ioctl_name,
    .log_bytes = TRUE,
};

static void
connector_add(VxmSimDisplay *d, Connector *c, const char *card_dir)
{
  g_autofree char *dir = g_strdup_printf("%s/%s", card_dir, c->name);
  g_autofree char *pci_dir = NULL;
  g_autofree char *adapter = NULL;
  g_autofree char *tmp = g_path_get_dirname(card_dir); /* .../BDF/drm */
  static const struct {
    const char *name;
    guint attr;
  } attrs[] = {
      {"status", ATTR_STATUS}, {"enabled", ATTR_ENABLED}, {"edid", ATTR_EDID}, {"dpms", ATTR_DPMS}};
  g_autofree char *class_link = g_strdup_printf(VXM_HOST_SYS_CLASS_DRM "/%s", c->name);
  g_autofree char *i2c_dev_dir = NULL;
  g_autofree char *dev_text = g_strdup_printf("%d:%u\n", I2C_DEV_MAJOR, c->bus);
  g_autofree char *dev_node = g_strdup_printf("/dev/i2c-%u", c->bus);
  g_autofree char *path = NULL;
  VxmSimNode *node;

  pci_dir = g_path_get_dirname(tmp);
  g_free(c->card_dir);
  c->card_dir = g_strdup(card_dir);
  vxm_sim_node_mkdir_p(root_of(d), dir);
  for (gsize i = 0; i < G_N_ELEMENTS(attrs); i++) {
    g_autofree char *p = g_strdup_printf("%s/%s", dir, attrs[i].name);
    node = vxm_sim_node_new_generated(0444, connector_show, NULL, d, c, attrs[i].attr);
    node->flags |= VXM_SIM_NODE_FLAG_ATTRIBUTE;
    vxm_sim_node_put(root_of(d), p, node);
  }
  vxm_sim_node_put_link(root_of(d), class_link, dir);
  g_ptr_array_add(c->made, g_strdup(class_link));

  /* the adapter: DisplayPort's AUX bus lives in the connector, the others under the GPU, as do
   * those of a driver that does not link buses to connectors (NVIDIA's) */
  adapter = c->dp && c->ddc_link ? g_strdup_printf("%s/i2c-%u", dir, c->bus)
                                 : g_strdup_printf("%s/i2c-%u", pci_dir, c->bus);
  if (!(c->dp && c->ddc_link))
    g_ptr_array_add(c->made, g_strdup(adapter));
  if (!c->dp && c->ddc_link) {
    g_autofree char *ddc = g_strdup_printf("%s/ddc", dir);
    vxm_sim_node_put_link(root_of(d), ddc, adapter);
  }
  path = g_strdup_printf("%s/name", adapter);
  put_attr(d, path, c->i2c_name);
  g_free(path);
  i2c_dev_dir = g_strdup_printf("%s/i2c-dev/i2c-%u", adapter, c->bus);
  path = g_strdup_printf("%s/name", i2c_dev_dir);
  put_attr(d, path, c->i2c_name);
  g_free(path);
  path = g_strdup_printf("%s/dev", i2c_dev_dir);
  put_attr(d, path, dev_text);
  g_free(path);
  path = g_strdup_printf("%s/device", i2c_dev_dir);
  vxm_sim_node_put_link(root_of(d), path, adapter);
  g_free(path);
  path = g_strdup_printf(VXM_HOST_SYS_CLASS_I2C_DEV "/i2c-%u", c->bus);
  vxm_sim_node_put_link(root_of(d), path, i2c_dev_dir);
  g_ptr_array_add(c->made, g_steal_pointer(&path));
  path = g_strdup_printf(VXM_HOST_SYS_BUS_I2C_DEVICES "/i2c-%u", c->bus);
  vxm_sim_node_put_link(root_of(d), path, adapter);
  g_ptr_array_add(c->made, g_steal_pointer(&path));
  if (c->held_by != NULL) {
    g_autofree char *client = g_strdup_printf("%s/%u-%04x", adapter, c->bus, DDC_ADDRESS);
    g_autofree char *client_name = g_strdup_printf("%s/name", client);
    g_autofree char *driver_dir = g_strdup_printf("/sys/bus/i2c/drivers/%s", c->held_by);
    g_autofree char *driver_link = g_strdup_printf("%s/driver", client);
    g_autofree char *bus_link =
        g_strdup_printf("/sys/bus/i2c/devices/%u-%04x", c->bus, DDC_ADDRESS);

    put_attr(d, client_name, "ddcci\n");
    vxm_sim_node_mkdir_p(root_of(d), driver_dir);
    vxm_sim_node_put_link(root_of(d), driver_link, driver_dir);
    vxm_sim_node_put_link(root_of(d), bus_link, client);
    g_ptr_array_add(c->made, g_steal_pointer(&bus_link));
  }
  node = vxm_sim_host_add_device_node(d->host, dev_node, 0600, 0, vxm_sim_host_group_id("i2c"));
  node->device_ops = &bus_ops;
  node->owner = d;
  node->item = c;
  g_ptr_array_add(c->made, g_steal_pointer(&dev_node));
}

static void
connector_remove(VxmSimDisplay *d, Connector *c)
{
  g_autofree char *dir = NULL;

  if (c->card_dir == NULL)
    return;
  dir = g_strdup_printf("%s/%s", c->card_dir, c->name);
  for (guint i = 0; i < c->made->len; i++)
    vxm_sim_node_remove_path(root_of(d), c->made->pdata[i]);
  g_ptr_array_set_size(c->made, 0);
  vxm_sim_node_remove_path(root_of(d), dir);
  g_clear_pointer(&c->card_dir, g_free);
}

void
vxm_sim_display_card_added(VxmSimDisplay *d, const char *card, const char *card_dir)
{
  if (d == NULL)
    return;
  for (guint i = 0; i < d->connectors->len; i++) {
    Connector *c = d->connectors->pdata[i];
    if (strcmp(c->card, card) == 0)
      connector_add(d, c, card_dir);
  }
}

void
vxm_sim_display_card_removed(VxmSimDisplay *d, const char *card)
{
  if (d == NULL)
    return;
  for (guint i = 0; i < d->connectors->len; i++) {
    Connector *c = d->connectors->pdata[i];
    if (strcmp(c->card, card) == 0)
      connector_remove(d, c);
  }
}

/* ---- the monitor on the bus ---- */

/* The FUSE layer calls these without the host lock: each takes it. */

static int
bus_open(VxmSimNode *node, int flags, int pid, gpointer *client)
{
  *client = g_new0(OpenBus, 1);
  return 0;
}

static void
bus_release(VxmSimNode *node, gpointer client)
{
  g_free(client);
}

static char *
bus_ioctl_name(unsigned int cmd, const void *data, gsize size)
{
  unsigned long arg = data != NULL && size == 0 ? *(const unsigned long *)data : 0;

  if (cmd == I2C_SLAVE)
    return g_strdup_printf("I2C_SLAVE 0x%02lx", arg);
  if (cmd == I2C_SLAVE_FORCE)
    return g_strdup_printf("I2C_SLAVE_FORCE 0x%02lx", arg);
  return NULL;
}

static int
bus_ioctl(VxmSimNode *node, gpointer client, unsigned int cmd, void *data, gsize size)
{
  VxmSimDisplay *d = node->owner;
  Connector *c = node->item;
  OpenBus *open_bus = client;
  guint address;
  int res = 0;

  if (cmd != I2C_SLAVE && cmd != I2C_SLAVE_FORCE)
    return -ENOTTY;
  if (data == NULL || size != 0)
    return -EINVAL;
  address = (guint) * (unsigned long *)data;
  if (address > 0x7f)
    return -EINVAL;
  vxm_sim_host_lock(d->host);
  /* i2c-dev refuses an address a kernel driver has claimed, unless forced */
  if (cmd == I2C_SLAVE && address == DDC_ADDRESS && c->held_by != NULL)
    res = -EBUSY;
  else
    open_bus->address = address;
  vxm_sim_host_unlock(d->host);
  return res;
}

static void
ddc_reply(Monitor *m, const guint8 *payload, gsize len)
{
  guint8 chk = 0x50;

  m->reply[0] = 0x6e;
  m->reply[1] = 0x80 | (guint8)len;
  memcpy(m->reply + 2, payload, len);
  for (gsize i = 0; i < 2 + len; i++)
    chk ^= m->reply[i];
  m->reply[2 + len] = chk;
  m->reply_len = 3 + len;
  m->reply_ready_us = g_get_monotonic_time() + (gint64)m->reply_delay_ms * 1000;
}

static gboolean
monitor_has_input(Monitor *m, guint value)
{
  for (guint i = 0; i < m->inputs->len; i++)
    if (g_array_index(m->inputs, guint, i) == value)
      return TRUE;
  return FALSE;
}

static int
ddc_write(Monitor *m, const guint8 *buf, gsize size)
{
  guint8 chk = 0x6e;
  gint64 now = g_get_monotonic_time();

  if (now < m->busy_until_us)
    return -EIO; /* still switching: NAK */
  if (m->nak > 0) {
    m->nak--;
    return -EIO;
  }
  for (gsize i = 0; i + 1 < size; i++)
    chk ^= buf[i];
  /* a malformed packet or a bad checksum: the monitor NAKs it */
  if (size < 4 || buf[0] != 0x51 || (buf[1] & 0x80) == 0 || (gsize)(buf[1] & 0x7f) + 3 != size ||
      chk != buf[size - 1])
    return -EIO;
  switch (buf[2]) {
  case 0x03: /* Set VCP */
    if (size != 7)
      return -EIO;
    if (buf[3] == 0x60 && monitor_has_input(m, buf[5]))
      m->input = buf[5];
    m->reply_len = 0;
    m->busy_until_us = now + (gint64)m->busy_ms * 1000;
    return 0;
  case 0x01: { /* Get VCP */
    guint8 payload[8] = {0x02, 0x00, buf[3], 0x00, 0, 0, 0, 0};
    guint max = 0;

    if (size != 5)
      return -EIO;
    if (buf[3] == 0x60) {
      for (guint i = 0; i < m->inputs->len; i++)
        max = MAX(max, g_array_index(m->inputs, guint, i));
      payload[4] = (guint8)(max >> 8);
      payload[5] = (guint8)max;
      payload[6] = (guint8)m->high_byte;
      payload[7] = (guint8)m->input;
    } else {
      payload[1] = 0x01; /* unsupported VCP code */
    }
    ddc_reply(m, payload, sizeof payload);
    return 0;
  }
  default: return 0; /* other requests are taken and ignored */
  }
}

static int
ddc_read(Monitor *m, guint8 *buf, gsize size)
{
  static const guint8 null_message[3] = {0x6e, 0x80, 0xbe};
  const guint8 *src = m->reply;
  gsize len = m->reply_len;
  guint8 copy[11];

  if (len > 0 && g_get_monotonic_time() < m->reply_ready_us)
    return -EIO; /* asked too soon: the monitor does not answer its address yet */
  if (len == 0 || m->null_replies > 0) {
    if (len > 0)
      m->null_replies--;
    src = null_message;
    len = sizeof null_message;
  } else if (m->bad_checksum > 0) {
    m->bad_checksum--;
    memcpy(copy, m->reply, len);
    copy[len - 1] ^= 0xff;
    src = copy;
  }
  memset(buf, 0, size);
  memcpy(buf, src, MIN(size, len));
  if (src != null_message)
    m->reply_len = 0;
  return (int)size;
}

static int
bus_transfer(VxmSimNode *node, OpenBus *open_bus, guint8 *rbuf, const guint8 *wbuf, gsize size)
{
  Connector *c = node->item;
  Monitor *m = c->monitor;

  if (!vxm_sim_node_is_attached(node))
    return -ENODEV;
  if (m == NULL || open_bus->address == 0)
    return -ENXIO;
  if (open_bus->address == EDID_ADDRESS) {
    gsize len;
    const guint8 *edid = g_bytes_get_data(m->edid, &len);

    if (wbuf != NULL) {
      open_bus->edid_offset = wbuf[0];
      return 0;
    }
    memset(rbuf, 0xff, size);
    if (open_bus->edid_offset < len)
      memcpy(rbuf, edid + open_bus->edid_offset, MIN(size, len - open_bus->edid_offset));
    open_bus->edid_offset = (open_bus->edid_offset + size) & 0xff;
    return (int)size;
  }
  if (open_bus->address != DDC_ADDRESS || !m->ddc || m->silent)
    return -ENXIO;
  return wbuf != NULL ? ddc_write(m, wbuf, size) : ddc_read(m, rbuf, size);
}

static int
bus_write(VxmSimNode *node, gpointer client, const char *buf, gsize size)
{
  VxmSimDisplay *d = node->owner;
  int res;

  if (size == 0)
    return 0;
  vxm_sim_host_lock(d->host);
  res = bus_transfer(node, client, NULL, (const guint8 *)buf, size);
  vxm_sim_host_unlock(d->host);
  return res;
}

static int
bus_read(VxmSimNode *node, gpointer client, char *buf, gsize size, int flags)
{
  VxmSimDisplay *d = node->owner;
  int res;

  vxm_sim_host_lock(d->host);
  res = bus_transfer(node, client, (guint8 *)buf, NULL, size);
  vxm_sim_host_unlock(d->host);
  return res;
}

/* ---- .simhost/ddc ---- */

static char *
control_show(VxmSimNode *node, gssize *len)
{
  VxmSimDisplay *d = node->owner;
  GString *out = g_string_new(NULL);
  g_autoptr(GList) names = g_list_sort(g_hash_table_get_keys(d->monitors), (GCompareFunc)strcmp);

  for (GList *l = names; l != NULL; l = l->next) {
    Monitor *m = g_hash_table_lookup(d->monitors, l->data);
    g_string_append_printf(out, "%s nak=%u bad-checksum=%u null=%u silent=%s\n", m->name, m->nak,
                           m->bad_checksum, m->null_replies, m->silent ? "on" : "off");
  }
  return g_string_free(out, FALSE);
}

static int
control_line(VxmSimDisplay *d, char **w)
{
  guint n = g_strv_length(w);
  Monitor *m;
  Connector *c;
  guint64 count = 0;

  if (n == 1 && strcmp(w[0], "clear") == 0) {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, d->monitors);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
      m = value;
      m->nak = m->bad_checksum = m->null_replies = 0;
      m->silent = FALSE;
    }
    return 0;
  }
  if (n == 2 && strcmp(w[0], "unplug") == 0) {
    if ((c = find_connector(d, w[1])) == NULL)
      return -ENODEV;
    c->monitor = NULL;
    return 0;
  }
  if (n == 3 && strcmp(w[0], "plug") == 0) {
    if ((c = find_connector(d, w[1])) == NULL ||
        (m = g_hash_table_lookup(d->monitors, w[2])) == NULL)
      return -ENODEV;
    c->monitor = m;
    return 0;
  }
  if (n != 3 || (m = g_hash_table_lookup(d->monitors, w[0])) == NULL)
    return -EINVAL;
  if (strcmp(w[1], "silent") == 0) {
    m->silent = strcmp(w[2], "on") == 0;
    return 0;
  }
  if (!vxm_parse_uint64(w[2], 10, &count) || count > 1000)
    return -EINVAL;
  if (strcmp(w[1], "nak") == 0)
    m->nak = (guint)count;
  else if (strcmp(w[1], "bad-checksum") == 0)
    m->bad_checksum = (guint)count;
  else if (strcmp(w[1], "null") == 0)
    m->null_replies = (guint)count;
  else
    return -EINVAL;
  return 0;
}

static int
control_store(VxmSimNode *node, const char *buf, gsize len)
{
  g_autofree char *text = g_strndup(buf, len);
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++) {
    g_auto(GStrv) words = g_strsplit_set(g_strstrip(lines[i]), " \t", -1);
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_auto(GStrv) w = NULL;
    int res;

    for (guint j = 0; words[j] != NULL; j++)
      if (words[j][0] != '\0')
        g_strv_builder_add(b, words[j]);
    w = g_strv_builder_end(b);
    if (w[0] == NULL)
      continue;
    res = control_line(node->owner, w);
    if (res != 0) {
      g_printerr("vxm-simhost: .simhost/ddc: cannot do '%s'\n", lines[i]);
      return res;
    }
  }
  return 0;
}

/* ---- the machine file ---- */

/* The values of VCP code 0x60 (input select) in MCCS 2.2, by the short names the machine
 * files use. The simulator's own table, not vxm's config parser: a wrong value on vxm's side
 * shows as a monitor on the wrong input. */
static const struct {
  const char *name;
  guint value;
} mccs_inputs[] = {
    {"vga1", 0x01}, {"vga2", 0x02}, {"dvi1", 0x03},  {"dvi2", 0x04},
    {"dp1", 0x0f},  {"dp2", 0x10},  {"hdmi1", 0x11}, {"hdmi2", 0x12},
};

static gboolean
parse_input(VxmSimMachine *machine, const char *group, const char *key, const char *text,
            guint *out, GError **error)
{
  char *end = NULL;
  guint64 v;

  for (gsize i = 0; i < G_N_ELEMENTS(mccs_inputs); i++) {
    if (g_ascii_strcasecmp(text, mccs_inputs[i].name) == 0) {
      *out = mccs_inputs[i].value;
      return TRUE;
    }
  }
  v = g_ascii_strtoull(text, &end, 0);
  if (*text == '\0' || *end != '\0' || v < 1 || v > 0xff)
    return vxm_sim_machine_error(machine, error, group, key,
                                 "'%s' is not an input (dp1, hdmi1, ... or 0x0f)", text);
  *out = (guint)v;
  return TRUE;
}

/* The short name of input @value, or 0xNN for one without. */
static char *
input_name(guint value)
{
  for (gsize i = 0; i < G_N_ELEMENTS(mccs_inputs); i++)
    if (mccs_inputs[i].value == value)
      return g_strdup(mccs_inputs[i].name);
  return g_strdup_printf("0x%02x", value);
}

static gboolean
load_monitor(VxmSimDisplay *d, VxmSimMachine *machine, const char *name, GError **error)
{
  g_autofree char *group = g_strdup_printf("monitor %s", name);
  g_autofree char *edid_hex = NULL;
  g_autofree char *edid_file = NULL;
  g_autofree char *input = NULL;
  g_auto(GStrv) inputs = NULL;
  Monitor *m = g_new0(Monitor, 1);
  gint64 v;
  gboolean ok;

  m->name = g_strdup(name);
  m->inputs = g_array_new(FALSE, FALSE, sizeof(guint));
  g_hash_table_insert(d->monitors, m->name, m);
  ok = vxm_sim_machine_get_string(machine, group, "edid", NULL, &edid_hex, error) &&
       vxm_sim_machine_get_string(machine, group, "edid_file", NULL, &edid_file, error) &&
       vxm_sim_machine_get_string(machine, group, "input", "hdmi1", &input, error) &&
       vxm_sim_machine_get_list(machine, group, "inputs", &inputs, error) &&
       vxm_sim_machine_get_bool(machine, group, "ddc", TRUE, &m->ddc, error);
  if (!ok)
    return FALSE;
  if (!vxm_sim_machine_get_int(machine, group, "reply_delay_ms", 0, 10000, 30, &v, error))
    return FALSE;
  m->reply_delay_ms = (guint)v;
  if (!vxm_sim_machine_get_int(machine, group, "busy_ms", 0, 10000, 40, &v, error))
    return FALSE;
  m->busy_ms = (guint)v;
  if (!vxm_sim_machine_get_int(machine, group, "input_high_byte", 0, 255, 0, &v, error))
    return FALSE;
  m->high_byte = (guint)v;
  if (edid_file != NULL) {
    g_autofree char *path = vxm_sim_machine_resolve_path(machine, edid_file);
    char *data = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &data, &len, NULL))
      return vxm_sim_machine_error(machine, error, group, "edid_file", "cannot read %s", path);
    m->edid = g_bytes_new_take(data, len);
  } else if (edid_hex != NULL) {
    GByteArray *bytes = g_byte_array_new();
    g_autofree char *clean = g_strdelimit(g_strdup(edid_hex), " \t:", ' ');
    g_autofree char *packed = NULL;
    g_auto(GStrv) parts = g_strsplit(clean, " ", -1);

    packed = g_strjoinv("", parts);
    for (gsize i = 0; packed[i] != '\0'; i += 2) {
      if (!g_ascii_isxdigit(packed[i]) || !g_ascii_isxdigit(packed[i + 1])) {
        g_byte_array_unref(bytes);
        return vxm_sim_machine_error(machine, error, group, "edid", "not hex bytes");
      }
      guint8 b =
          (guint8)(g_ascii_xdigit_value(packed[i]) << 4 | g_ascii_xdigit_value(packed[i + 1]));
      g_byte_array_append(bytes, &b, 1);
    }
    m->edid = g_byte_array_free_to_bytes(bytes);
  } else {
    return vxm_sim_machine_error(machine, error, group, "edid",
                                 "a monitor needs edid or edid_file");
  }
  if (!parse_input(machine, group, "input", input, &m->input, error))
    return FALSE;
  for (guint i = 0; inputs[i] != NULL; i++) {
    guint value;
    if (!parse_input(machine, group, "inputs", inputs[i], &value, error))
      return FALSE;
    g_array_append_val(m->inputs, value);
  }
  if (!monitor_has_input(m, m->input))
    g_array_append_val(m->inputs, m->input);
  return TRUE;
}

static gboolean
load_connector(VxmSimDisplay *d, VxmSimMachine *machine, const char *name, GError **error)
{
  g_autofree char *group = g_strdup_printf("connector %s", name);
  g_autofree char *monitor = NULL;
  g_autofree char *kind = NULL;
  Connector *c = g_new0(Connector, 1);
  const char *dash = strchr(name, '-');
  gint64 bus;

  c->name = g_strdup(name);
  c->made = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(d->connectors, c);
  if (!g_str_has_prefix(name, "card") || dash == NULL || dash == name + 4)
    return vxm_sim_machine_error(machine, error, group, NULL,
                                 "'%s' is not a connector name (cardN-TYPE-N)", name);
  c->card = g_strndup(name, dash - name);
  if (!vxm_sim_machine_get_string(machine, group, "gpu", NULL, &c->gpu, error) ||
      !vxm_sim_machine_get_string(machine, group, "monitor", NULL, &monitor, error) ||
      !vxm_sim_machine_get_string(machine, group, "kind", NULL, &kind, error) ||
      !vxm_sim_machine_get_string(machine, group, "ddc_held_by", NULL, &c->held_by, error) ||
      !vxm_sim_machine_get_bool(machine, group, "ddc_link", TRUE, &c->ddc_link, error) ||
      !vxm_sim_machine_get_int(machine, group, "i2c_bus", 0, 255, -1, &bus, error))
    return FALSE;
  if (c->gpu == NULL)
    return vxm_sim_machine_error(machine, error, group, "gpu", "required: the PCI device of %s",
                                 c->card);
  if (bus < 0)
    return vxm_sim_machine_error(machine, error, group, "i2c_bus", "required: the DDC bus number");
  c->bus = (guint)bus;
  if (kind == NULL)
    c->dp = g_str_has_prefix(dash + 1, "DP") || g_str_has_prefix(dash + 1, "eDP");
  else if (strcmp(kind, "dp") == 0)
    c->dp = TRUE;
  else if (strcmp(kind, "hdmi") != 0 && strcmp(kind, "dvi") != 0)
    return vxm_sim_machine_error(machine, error, group, "kind", "'%s': dp, hdmi or dvi", kind);
  if (!vxm_sim_machine_get_string(machine, group, "i2c_name", NULL, &c->i2c_name, error))
    return FALSE;
  if (c->i2c_name == NULL)
    c->i2c_name = c->dp ? g_strdup_printf("AUX %s/%s\n", dash + 1, c->card)
                        : g_strdup_printf("%s ddc %s\n", c->card, dash + 1);
  else {
    char *t = g_strconcat(c->i2c_name, "\n", NULL);
    g_free(c->i2c_name);
    c->i2c_name = t;
  }
  if (monitor != NULL && (c->monitor = g_hash_table_lookup(d->monitors, monitor)) == NULL)
    return vxm_sim_machine_error(machine, error, group, "monitor", "no [monitor %s]", monitor);
  for (guint i = 0; i + 1 < d->connectors->len; i++) {
    Connector *other = d->connectors->pdata[i];
    if (other->bus == c->bus)
      return vxm_sim_machine_error(machine, error, group, "i2c_bus", "bus %u is also %s's", c->bus,
                                   other->name);
  }
  return TRUE;
}

VxmSimDisplay *
vxm_sim_display_new(VxmSimHost *host, VxmSimMachine *machine, GError **error)
{
  g_autoptr(VxmSimDisplay) d = g_new0(VxmSimDisplay, 1);
  g_autoptr(GPtrArray) monitors = vxm_sim_machine_groups(machine, "monitor");
  g_autoptr(GPtrArray) connectors = vxm_sim_machine_groups(machine, "connector");
  VxmSimNode *control;

  d->host = host;
  d->monitors = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)monitor_free);
  d->connectors = g_ptr_array_new_with_free_func((GDestroyNotify)connector_free);
  for (guint i = 0; i < monitors->len; i++)
    if (!load_monitor(d, machine, monitors->pdata[i], error))
      return NULL;
  for (guint i = 0; i < connectors->len; i++)
    if (!load_connector(d, machine, connectors->pdata[i], error))
      return NULL;
  /* cards the PCI area made before this module existed */
  for (guint i = 0; i < d->connectors->len; i++) {
    Connector *c = d->connectors->pdata[i];
    g_autofree char *link = g_strdup_printf("/sys/class/drm/%s", c->card);
    VxmSimNode *node = vxm_sim_node_lookup(root_of(d), link, NULL);

    if (node != NULL && node->kind == VXM_SIM_NODE_LINK && c->card_dir == NULL) {
      g_autofree char *card_dir = g_canonicalize_filename(node->target, "/sys/class/drm");
      vxm_sim_display_card_added(d, c->card, card_dir);
    }
  }
  control = vxm_sim_node_new_generated(0644, control_show, control_store, d, NULL, ATTR_CONTROL);
  control->flags |= VXM_SIM_NODE_FLAG_CONTROL;
  vxm_sim_node_put(root_of(d), VXM_SIM_CONTROL_DIR "/ddc", control);
  return g_steal_pointer(&d);
}

void
vxm_sim_display_free(VxmSimDisplay *d)
{
  if (d == NULL)
    return;
  g_ptr_array_unref(d->connectors);
  g_hash_table_unref(d->monitors);
  g_free(d);
}

void
vxm_sim_display_dump_state(VxmSimDisplay *d, GPtrArray *lines)
{
  GHashTableIter iter;
  gpointer value;

  if (d == NULL)
    return;
  g_hash_table_iter_init(&iter, d->monitors);
  while (g_hash_table_iter_next(&iter, NULL, &value)) {
    Monitor *m = value;
    g_autofree char *input = input_name(m->input);
    g_ptr_array_add(lines, g_strdup_printf("monitor %s input=%s", m->name, input));
  }
}
