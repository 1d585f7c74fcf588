/* vxm-sim-input: evdev input devices of the simulated host (see the header). */
#include "vxm-sim-input.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/vxm-hostfs.h"

#include "common/vxm-util.h"

enum { CAP_EV, CAP_KEY, CAP_REL, CAP_ABS, CAP_MSC, CAP_LED, CAP_SND, CAP_FF, CAP_SW, N_CAPS };

static const struct {
  const char *name; /* capabilities/NAME and the machine key */
  guint type;       /* EV_* for EVIOCGBIT */
  guint bytes;      /* what the kernel copies at most: BITS_TO_LONGS(CNT) * sizeof(long) */
} caps[N_CAPS] = {
    [CAP_EV] = {"ev", 0, 8},        [CAP_KEY] = {"key", EV_KEY, 96}, [CAP_REL] = {"rel", EV_REL, 8},
    [CAP_ABS] = {"abs", EV_ABS, 8}, [CAP_MSC] = {"msc", EV_MSC, 8},  [CAP_LED] = {"led", EV_LED, 8},
    [CAP_SND] = {"snd", EV_SND, 8}, [CAP_FF] = {"ff", EV_FF, 16},    [CAP_SW] = {"sw", EV_SW, 8},
};

typedef struct _Device Device;

typedef struct {
  Device *device;
  guint generation; /* the device's generation at open: older ones get ENODEV */
  char *opener;     /* comm of the task that opened it */
  GQueue events;    /* struct input_event * */
  gpointer waker;   /* a poll waiting on this client, or NULL */
} Client;

/* A capability bitmap as the kernel keeps one: bit N is bit N%8 of byte N/8, the layout the
 * EVIOCG* ioctls copy out. The simulator's own, not vxm's parser, so a bug in vxm's reading
 * of the kernel's text is not repeated here. KEY_CNT bits hold every kind of capability. */
typedef struct {
  guint8 bytes[KEY_CNT / 8];
} Bits;

static gboolean
bits_test(const Bits *b, guint bit)
{
  return bit < KEY_CNT && (b->bytes[bit / 8] >> (bit % 8)) & 1;
}

static void
bits_put(Bits *b, guint bit, gboolean on)
{
  if (bit >= KEY_CNT)
    return;
  if (on)
    b->bytes[bit / 8] |= (guint8)(1u << (bit % 8));
  else
    b->bytes[bit / 8] &= (guint8) ~(1u << (bit % 8));
}

/* The text of a sysfs capabilities file: hexadecimal words of 64 bits (a 64-bit kernel's
 * unsigned long), the most significant first, separated by spaces. FALSE for anything else:
 * a word that is not hexadecimal, wider than 64 bits, or bits beyond KEY_CNT. */
static gboolean
bits_from_text(Bits *b, const char *text, char **why)
{
  g_auto(GStrv) words = g_strsplit_set(text, " \t\n", -1);
  guint n = 0;

  memset(b, 0, sizeof *b);
  for (gsize i = 0; words[i] != NULL; i++)
    n += words[i][0] != '\0';
  for (guint i = 0, k = n; words[i] != NULL; i++) {
    const char *w = words[i];
    guint64 value = 0;
    gsize len = strlen(w);

    if (len == 0)
      continue;
    k--; /* this word holds bits 64k .. 64k+63 */
    if (len > 16) {
      *why = g_strdup_printf("word \"%s\" is wider than 64 bits", w);
      return FALSE;
    }
    for (gsize j = 0; j < len; j++) {
      if (!g_ascii_isxdigit(w[j])) {
        *why = g_strdup_printf("word \"%s\" is not hexadecimal", w);
        return FALSE;
      }
      value = value << 4 | (guint64)g_ascii_xdigit_value(w[j]);
    }
    for (guint bit = 0; bit < 64; bit++) {
      if (!((value >> bit) & 1))
        continue;
      if (k * 64 + bit >= KEY_CNT) {
        *why = g_strdup_printf("bit %u is beyond the kernel's largest bitmap (%u bits)",
                               k * 64 + bit, (guint)KEY_CNT);
        return FALSE;
      }
      bits_put(b, k * 64 + bit, TRUE);
    }
  }
  return TRUE;
}

struct _Device {
  VxmSimInput *input;
  char *name; /* the machine file's NAME */
  guint event;
  guint number; /* inputN */
  char *dev_name, *phys, *uniq;
  guint32 bustype, vendor, product, version;
  char *cap_text[N_CAPS];
  Bits bits[N_CAPS];
  char *props_text;
  Bits props;
  Bits key_state; /* keys held now */
  gint32 abs_min, abs_max;
  GStrv by_id;
  char *by_path;
  char *sysfs_dir; /* the folder holding inputN */

  gboolean plugged;
  guint generation;
  GList *clients; /* Client */
  Client *grab;
};

struct _VxmSimInput {
  VxmSimHost *host;
  GPtrArray *devices; /* Device */
  GMutex lock;        /* guards every Device's plugged, generation, clients, grab, queues */
  GCond cond;         /* a blocking read waits here */
};

/* ---- names of event codes (control file and log) ---- */

/* the fields of a key or button code in codes[]: its name, EV_KEY, the code (not a braced
 * initializer: clang-format 14 and 19 lay out one in a macro differently) */
#define KEY_CODE(x) #x, EV_KEY, x

static const struct {
  const char *name;
  guint type, code;
} codes[] = {
    {KEY_CODE(KEY_ESC)},         {KEY_CODE(KEY_ENTER)},
    {KEY_CODE(KEY_SPACE)},       {KEY_CODE(KEY_TAB)},
    {KEY_CODE(KEY_BACKSPACE)},   {KEY_CODE(KEY_LEFTCTRL)},
    {KEY_CODE(KEY_RIGHTCTRL)},   {KEY_CODE(KEY_LEFTALT)},
    {KEY_CODE(KEY_RIGHTALT)},    {KEY_CODE(KEY_LEFTSHIFT)},
    {KEY_CODE(KEY_RIGHTSHIFT)},  {KEY_CODE(KEY_LEFTMETA)},
    {KEY_CODE(KEY_RIGHTMETA)},   {KEY_CODE(KEY_SCROLLLOCK)},
    {KEY_CODE(KEY_CAPSLOCK)},    {KEY_CODE(KEY_A)},
    {KEY_CODE(KEY_B)},           {KEY_CODE(KEY_C)},
    {KEY_CODE(KEY_D)},           {KEY_CODE(KEY_E)},
    {KEY_CODE(KEY_F)},           {KEY_CODE(KEY_G)},
    {KEY_CODE(KEY_H)},           {KEY_CODE(KEY_I)},
    {KEY_CODE(KEY_J)},           {KEY_CODE(KEY_K)},
    {KEY_CODE(KEY_L)},           {KEY_CODE(KEY_M)},
    {KEY_CODE(KEY_N)},           {KEY_CODE(KEY_O)},
    {KEY_CODE(KEY_P)},           {KEY_CODE(KEY_Q)},
    {KEY_CODE(KEY_R)},           {KEY_CODE(KEY_S)},
    {KEY_CODE(KEY_T)},           {KEY_CODE(KEY_U)},
    {KEY_CODE(KEY_V)},           {KEY_CODE(KEY_W)},
    {KEY_CODE(KEY_X)},           {KEY_CODE(KEY_Y)},
    {KEY_CODE(KEY_Z)},           {KEY_CODE(KEY_POWER)},
    {KEY_CODE(KEY_SLEEP)},       {KEY_CODE(KEY_VOLUMEUP)},
    {KEY_CODE(KEY_VOLUMEDOWN)},  {KEY_CODE(KEY_MUTE)},
    {KEY_CODE(BTN_LEFT)},        {KEY_CODE(BTN_RIGHT)},
    {KEY_CODE(BTN_MIDDLE)},      {KEY_CODE(BTN_SIDE)},
    {KEY_CODE(BTN_EXTRA)},       {KEY_CODE(BTN_TOUCH)},
    {KEY_CODE(BTN_TOOL_FINGER)}, {"REL_X", EV_REL, REL_X},
    {"REL_Y", EV_REL, REL_Y},    {"REL_WHEEL", EV_REL, REL_WHEEL},
    {"ABS_X", EV_ABS, ABS_X},    {"ABS_Y", EV_ABS, ABS_Y},
    {"SW_LID", EV_SW, SW_LID},   {"SYN_REPORT", EV_SYN, SYN_REPORT},
};
#undef KEY_CODE

static gboolean
parse_code(const char *text, guint *type, guint *code)
{
  const char *colon = strchr(text, ':');
  guint64 t, c;

  for (gsize i = 0; i < G_N_ELEMENTS(codes); i++) {
    if (g_strcmp0(codes[i].name, text) == 0) {
      *type = codes[i].type;
      *code = codes[i].code;
      return TRUE;
    }
  }
  if (colon == NULL) {
    /* KEY_123 style: a key by number */
    if (g_str_has_prefix(text, "KEY_") && vxm_parse_uint64(text + 4, 0, &c) && c < KEY_CNT) {
      *type = EV_KEY;
      *code = (guint)c;
      return TRUE;
    }
    return FALSE;
  }
  {
    g_autofree char *ttext = g_strndup(text, colon - text);
    if (!vxm_parse_uint64(ttext, 0, &t) || !vxm_parse_uint64(colon + 1, 0, &c) || t > EV_MAX ||
        c > 0xffff)
      return FALSE;
  }
  *type = (guint)t;
  *code = (guint)c;
  return TRUE;
}

static char *
code_text(guint type, guint code)
{
  for (gsize i = 0; i < G_N_ELEMENTS(codes); i++)
    if (codes[i].type == type && codes[i].code == code)
      return g_strdup(codes[i].name);
  return g_strdup_printf("%u:%u", type, code);
}

/* ---- sysfs and /dev nodes ---- */

static char *
event_path(const Device *d)
{
  return g_strdup_printf("/dev/input/event%u", d->event);
}

static char *
input_dir(const Device *d)
{
  return g_strdup_printf("%s/input%u", d->sysfs_dir, d->number);
}

static const VxmSimDeviceOps evdev_ops;

/* Everything but the by-id and by-path links. Host lock held. */
static void
build_nodes(Device *d)
{
  VxmSimHost *host = d->input->host;
  g_autofree char *dir = input_dir(d);
  g_autofree char *caps_dir = g_strdup_printf("%s/capabilities", dir);
  g_autofree char *id_dir = g_strdup_printf("%s/id", dir);
  g_autofree char *ev_dir = g_strdup_printf("%s/event%u", dir, d->event);
  g_autofree char *class_input = g_strdup_printf(VXM_HOST_SYS_CLASS_INPUT "/input%u", d->number);
  g_autofree char *class_event = g_strdup_printf(VXM_HOST_SYS_CLASS_INPUT "/event%u", d->event);
  g_autofree char *node_path = event_path(d);
  VxmSimNode *node;

  vxm_sim_node_mkdir_p(host->root, dir);
  vxm_sim_node_put_text(host->root, dir, "name", "%s\n", d->dev_name);
  vxm_sim_node_put_text(host->root, dir, "phys", "%s\n", d->phys ? d->phys : "");
  vxm_sim_node_put_text(host->root, dir, "uniq", "%s\n", d->uniq ? d->uniq : "");
  vxm_sim_node_put_text(host->root, dir, "properties", "%s\n", d->props_text);
  vxm_sim_node_put_text(
      host->root, dir, "uevent",
      "PRODUCT=%x/%x/%x/%x\nNAME=\"%s\"\nPHYS=\"%s\"\nUNIQ=\"%s\"\nPROP=%s\nEV=%s\n", d->bustype,
      d->vendor, d->product, d->version, d->dev_name, d->phys ? d->phys : "",
      d->uniq ? d->uniq : "", d->props_text, d->cap_text[CAP_EV]);
  vxm_sim_node_put_text(host->root, id_dir, "bustype", "%04x\n", d->bustype);
  vxm_sim_node_put_text(host->root, id_dir, "vendor", "%04x\n", d->vendor);
  vxm_sim_node_put_text(host->root, id_dir, "product", "%04x\n", d->product);
  vxm_sim_node_put_text(host->root, id_dir, "version", "%04x\n", d->version);
  for (guint i = 0; i < N_CAPS; i++)
    vxm_sim_node_put_text(host->root, caps_dir, caps[i].name, "%s\n", d->cap_text[i]);
  vxm_sim_node_put_text(host->root, ev_dir, "dev", "13:%u\n", 64 + d->event);
  vxm_sim_node_put_text(host->root, ev_dir, "uevent", "MAJOR=13\nMINOR=%u\nDEVNAME=input/event%u\n",
                        64 + d->event, d->event);
  vxm_sim_node_put_link(host->root, class_input, dir);
  vxm_sim_node_put_link(host->root, class_event, ev_dir);

  node = vxm_sim_host_add_device_node(host, node_path, 0660, 0, vxm_sim_host_group_id("input"));
  node->device_ops = &evdev_ops;
  node->owner = d->input;
  node->item = d;
}

static void
remove_nodes(Device *d)
{
  VxmSimHost *host = d->input->host;
  g_autofree char *dir = input_dir(d);
  g_autofree char *class_input = g_strdup_printf(VXM_HOST_SYS_CLASS_INPUT "/input%u", d->number);
  g_autofree char *class_event = g_strdup_printf(VXM_HOST_SYS_CLASS_INPUT "/event%u", d->event);
  g_autofree char *node_path = event_path(d);

  vxm_sim_node_remove_path(host->root, dir);
  vxm_sim_node_remove_path(host->root, class_input);
  vxm_sim_node_remove_path(host->root, class_event);
  vxm_sim_node_remove_path(host->root, node_path);
}

/* Deferred: the by-id and by-path links through the mount, after the lock is let go. */
typedef struct {
  Device *device;
  gboolean add;
} LinkWork;

static void
announce_link(VxmSimHost *host, Device *d, const char *folder, const char *name, gboolean add)
{
  g_autofree char *dir = g_strdup_printf("/dev/input/%s", folder);
  g_autofree char *path = g_strdup_printf("%s/%s", dir, name);

  if (add) {
    g_autofree char *target = g_strdup_printf("../event%u", d->event);
    vxm_sim_host_lock(host);
    vxm_sim_node_mkdir_p(host->root, dir);
    vxm_sim_host_unlock(host);
    vxm_sim_host_announce_link(host, path, vxm_sim_node_new_link(target));
  } else {
    vxm_sim_host_announce_unlink(host, path);
  }
}

static void
announce_links(gpointer data, gpointer user_data)
{
  LinkWork *work = data;
  Device *d = work->device;
  VxmSimHost *host = user_data;

  for (gsize i = 0; d->by_id != NULL && d->by_id[i] != NULL; i++)
    announce_link(host, d, "by-id", d->by_id[i], work->add);
  if (d->by_path != NULL)
    announce_link(host, d, "by-path", d->by_path, work->add);
}

/* ---- clients: open files of /dev/input/eventN ---- */

static void
client_wake(VxmSimInput *input, Client *c)
{
  if (c->waker != NULL) {
    gpointer waker = c->waker;
    c->waker = NULL;
    if (input->host->poll_wake != NULL)
      input->host->poll_wake(waker);
  }
}

static gboolean
client_alive(Client *c)
{
  return c->device->plugged && c->generation == c->device->generation;
}

static char *
opener_comm(int pid)
{
  /* the real task that opened the node (QEMU, vxm, a test): reading the real /proc is fine */
  g_autofree char *path = g_strdup_printf("/proc/%d/comm", pid);
  g_autofree char *comm = NULL;

  if (pid <= 0 || !g_file_get_contents(path, &comm, NULL, NULL))
    return g_strdup("unknown");
  return g_strdup(g_strstrip(comm));
}

static int
evdev_open(VxmSimNode *node, int flags, int pid, gpointer *client)
{
  Device *d = node->item;
  VxmSimInput *input = d->input;
  Client *c;

  g_mutex_lock(&input->lock);
  if (!d->plugged) {
    g_mutex_unlock(&input->lock);
    return -ENODEV;
  }
  c = g_new0(Client, 1);
  c->device = d;
  c->generation = d->generation;
  c->opener = opener_comm(pid);
  g_queue_init(&c->events);
  d->clients = g_list_append(d->clients, c);
  g_mutex_unlock(&input->lock);
  *client = c;
  return 0;
}

static void
evdev_release(VxmSimNode *node, gpointer client)
{
  Client *c = client;
  Device *d = c->device;
  VxmSimInput *input = d->input;

  g_mutex_lock(&input->lock);
  if (d->grab == c)
    d->grab = NULL; /* closing the grabbing file ungrabs, as the kernel does */
  d->clients = g_list_remove(d->clients, c);
  g_mutex_unlock(&input->lock);
  if (c->waker != NULL && input->host->poll_drop != NULL)
    input->host->poll_drop(c->waker);
  g_queue_clear_full(&c->events, g_free);
  g_free(c->opener);
  g_free(c);
}

static int
evdev_read(VxmSimNode *node, gpointer client, char *buf, gsize size, int flags)
{
  Client *c = client;
  VxmSimInput *input = c->device->input;
  gsize n = 0;

  if (size < sizeof(struct input_event))
    return -EINVAL;
  g_mutex_lock(&input->lock);
  while (client_alive(c) && g_queue_is_empty(&c->events)) {
    gint64 until = g_get_monotonic_time() + G_TIME_SPAN_SECOND / 4;

    if (flags & O_NONBLOCK) {
      g_mutex_unlock(&input->lock);
      return -EAGAIN;
    }
    /* wake now and then so an unmount is not held up by a reader */
    g_cond_wait_until(&input->cond, &input->lock, until);
    if (input->host->should_abort != NULL && input->host->should_abort()) {
      g_mutex_unlock(&input->lock);
      return -EINTR;
    }
  }
  if (!client_alive(c)) {
    g_mutex_unlock(&input->lock);
    return -ENODEV;
  }
  while (n + sizeof(struct input_event) <= size && !g_queue_is_empty(&c->events)) {
    struct input_event *ev = g_queue_pop_head(&c->events);
    memcpy(buf + n, ev, sizeof *ev);
    g_free(ev);
    n += sizeof(struct input_event);
  }
  g_mutex_unlock(&input->lock);
  return (int)n;
}

static unsigned int
evdev_poll(VxmSimNode *node, gpointer client, gpointer waker)
{
  Client *c = client;
  VxmSimInput *input = c->device->input;
  gpointer old = NULL;
  unsigned int mask;

  g_mutex_lock(&input->lock);
  mask = client_alive(c) ? POLLOUT | POLLWRNORM : POLLHUP | POLLERR;
  if (!g_queue_is_empty(&c->events))
    mask |= POLLIN | POLLRDNORM;
  if (waker != NULL) {
    old = c->waker;
    c->waker = waker;
  }
  g_mutex_unlock(&input->lock);
  if (old != NULL && input->host->poll_drop != NULL)
    input->host->poll_drop(old);
  return mask;
}

/* Bytes of a string for EVIOCGNAME and friends: the kernel copies strlen + 1, at most @size. */
static int
copy_string(void *data, gsize size, const char *text)
{
  gsize len;

  if (text == NULL)
    return -ENOENT;
  len = MIN(strlen(text) + 1, size);
  memcpy(data, text, len);
  return (int)len;
}

static int
copy_bits(void *data, gsize size, const Bits *bits, guint max_bytes)
{
  gsize len = MIN(size, MIN(max_bytes, sizeof bits->bytes));

  memcpy(data, bits->bytes, len);
  return (int)len;
}

static int
evdev_ioctl(VxmSimNode *node, gpointer client, unsigned int cmd, void *data, gsize size)
{
  Client *c = client;
  Device *d = c->device;
  VxmSimInput *input = d->input;
  guint nr = _IOC_NR(cmd);
  int res = -EINVAL;

  if (_IOC_TYPE(cmd) != 'E')
    return -ENOTTY;
  g_mutex_lock(&input->lock);
  if (!client_alive(c)) {
    g_mutex_unlock(&input->lock);
    return -ENODEV;
  }
  if (cmd == EVIOCGVERSION) {
    int version = EV_VERSION;
    memcpy(data, &version, sizeof version);
    res = 0;
  } else if (cmd == EVIOCGID) {
    struct input_id id = {
        .bustype = d->bustype, .vendor = d->vendor, .product = d->product, .version = d->version};
    memcpy(data, &id, sizeof id);
    res = 0;
  } else if (cmd == EVIOCGRAB) {
    int want = 0;

    memcpy(&want, data, MIN(size, sizeof want));
    if (want) {
      res = d->grab != NULL ? -EBUSY : 0;
      if (res == 0)
        d->grab = c;
    } else {
      res = d->grab != c ? -EINVAL : 0;
      if (res == 0)
        d->grab = NULL;
    }
  } else if (cmd == EVIOCSCLOCKID) {
    res = 0;
  } else if (_IOC_DIR(cmd) == _IOC_READ) {
    if (nr == _IOC_NR(EVIOCGNAME(0)))
      res = copy_string(data, size, d->dev_name);
    else if (nr == _IOC_NR(EVIOCGPHYS(0)))
      res = copy_string(data, size, d->phys);
    else if (nr == _IOC_NR(EVIOCGUNIQ(0)))
      res = copy_string(data, size, d->uniq);
    else if (nr == _IOC_NR(EVIOCGPROP(0)))
      res = copy_bits(data, size, &d->props, 8);
    else if (nr == _IOC_NR(EVIOCGKEY(0)))
      res = copy_bits(data, size, &d->key_state, 96);
    else if (nr == _IOC_NR(EVIOCGLED(0)) || nr == _IOC_NR(EVIOCGSND(0)) ||
             nr == _IOC_NR(EVIOCGSW(0))) {
      memset(data, 0, size);
      res = (int)MIN(size, 8);
    } else if (nr >= _IOC_NR(EVIOCGBIT(0, 0)) && nr < _IOC_NR(EVIOCGBIT(0, 0)) + EV_MAX + 1) {
      guint type = nr - _IOC_NR(EVIOCGBIT(0, 0));
      res = -EINVAL;
      for (guint i = 0; i < N_CAPS; i++)
        if (caps[i].type == type)
          res = copy_bits(data, size, &d->bits[i], caps[i].bytes);
      if (res == -EINVAL) {
        memset(data, 0, size); /* a type the device does not have: no bits */
        res = (int)MIN(size, 8);
      }
    } else if (nr >= _IOC_NR(EVIOCGABS(0)) && nr < _IOC_NR(EVIOCGABS(0)) + ABS_CNT &&
               size >= sizeof(struct input_absinfo)) {
      struct input_absinfo info = {.minimum = d->abs_min, .maximum = d->abs_max};
      res = bits_test(&d->bits[CAP_ABS], nr - _IOC_NR(EVIOCGABS(0))) ? 0 : -EINVAL;
      if (res == 0)
        memcpy(data, &info, sizeof info);
    }
  }
  g_mutex_unlock(&input->lock);
  return res;
}

static char *
evdev_ioctl_name(unsigned int cmd, const void *data, gsize size)
{
  guint nr = _IOC_NR(cmd);

  if (_IOC_TYPE(cmd) != 'E')
    return NULL;
  if (cmd == EVIOCGRAB) {
    int want = 0;
    if (data != NULL)
      memcpy(&want, data, MIN(size, sizeof want));
    return g_strdup_printf("EVIOCGRAB %d", want);
  }
  if (cmd == EVIOCGVERSION)
    return g_strdup("EVIOCGVERSION");
  if (cmd == EVIOCGID)
    return g_strdup("EVIOCGID");
  if (cmd == EVIOCSCLOCKID)
    return g_strdup("EVIOCSCLOCKID");
  if (_IOC_DIR(cmd) == _IOC_READ) {
    if (nr == _IOC_NR(EVIOCGNAME(0)))
      return g_strdup_printf("EVIOCGNAME(%u)", _IOC_SIZE(cmd));
    if (nr == _IOC_NR(EVIOCGPHYS(0)))
      return g_strdup_printf("EVIOCGPHYS(%u)", _IOC_SIZE(cmd));
    if (nr == _IOC_NR(EVIOCGUNIQ(0)))
      return g_strdup_printf("EVIOCGUNIQ(%u)", _IOC_SIZE(cmd));
    if (nr == _IOC_NR(EVIOCGKEY(0)))
      return g_strdup_printf("EVIOCGKEY(%u)", _IOC_SIZE(cmd));
    if (nr >= 0x20 && nr <= 0x20 + EV_MAX)
      return g_strdup_printf("EVIOCGBIT(%u,%u)", nr - 0x20, _IOC_SIZE(cmd));
    if (nr >= 0x40 && nr < 0x40 + ABS_CNT)
      return g_strdup_printf("EVIOCGABS(%u)", nr - 0x40);
  }
  return NULL;
}

static const VxmSimDeviceOps evdev_ops = {
    .open = evdev_open,
    .release = evdev_release,
    .read = evdev_read,
    .ioctl = evdev_ioctl,
    .ioctl_name = evdev_ioctl_name,
    .poll = evdev_poll,
};

/* ---- events, unplug, replug ---- */

/* Queues one event for the device's readers (only the grabbing one while grabbed). Input
 * lock held. */
static void
push_event(Device *d, guint type, guint code, gint32 value)
{
  gint64 now = g_get_real_time();

  if (type == EV_KEY && code < KEY_CNT)
    bits_put(&d->key_state, code, value != 0);
  for (GList *l = d->clients; l != NULL; l = l->next) {
    Client *c = l->data;
    struct input_event *ev;

    if (!client_alive(c) || (d->grab != NULL && d->grab != c))
      continue;
    ev = g_new0(struct input_event, 1);
    ev->input_event_sec = now / G_USEC_PER_SEC;
    ev->input_event_usec = now % G_USEC_PER_SEC;
    ev->type = type;
    ev->code = code;
    ev->value = value;
    g_queue_push_tail(&c->events, ev);
  }
}

static void
wake_all(Device *d)
{
  for (GList *l = d->clients; l != NULL; l = l->next)
    client_wake(d->input, l->data);
  g_cond_broadcast(&d->input->cond);
}

static Device *
find_device(VxmSimInput *input, const char *name)
{
  for (guint i = 0; i < input->devices->len; i++) {
    Device *d = g_ptr_array_index(input->devices, i);
    if (g_strcmp0(d->name, name) == 0)
      return d;
  }
  return NULL;
}

int
vxm_sim_input_unplug(VxmSimInput *input, const char *name)
{
  Device *d = find_device(input, name);
  LinkWork *work;

  if (d == NULL)
    return -ENOENT;
  if (!d->plugged)
    return -EALREADY;
  g_mutex_lock(&input->lock);
  d->plugged = FALSE;
  d->generation++;
  d->grab = NULL;
  wake_all(d);
  g_mutex_unlock(&input->lock);
  remove_nodes(d);
  work = g_new0(LinkWork, 1);
  work->device = d;
  vxm_sim_host_defer(input->host, announce_links, work, g_free);
  return 0;
}

int
vxm_sim_input_replug(VxmSimInput *input, const char *name, gint event)
{
  Device *d = find_device(input, name);
  LinkWork *work;

  if (d == NULL)
    return -ENOENT;
  if (d->plugged)
    return -EALREADY;
  for (guint i = 0; event >= 0 && i < input->devices->len; i++) {
    Device *o = g_ptr_array_index(input->devices, i);
    if (o != d && o->plugged && o->event == (guint)event)
      return -EBUSY;
  }
  g_mutex_lock(&input->lock);
  d->plugged = TRUE;
  if (event >= 0)
    d->event = (guint)event; /* the kernel's next free number, as a real replug often gets */
  memset(&d->key_state, 0, sizeof d->key_state);
  g_mutex_unlock(&input->lock);
  build_nodes(d);
  work = g_new0(LinkWork, 1);
  work->device = d;
  work->add = TRUE;
  vxm_sim_host_defer(input->host, announce_links, work, g_free);
  return 0;
}

/* "NAME CODE VALUE[, CODE VALUE...]". Host lock held. */
static int
inject(VxmSimInput *input, const char *line)
{
  g_auto(GStrv) head = g_strsplit_set(line, " 	", 2);
  g_auto(GStrv) items = NULL;
  g_autofree char *path = NULL;
  Device *d;

  if (head[0] == NULL || head[1] == NULL)
    return -EINVAL;
  d = find_device(input, head[0]);
  if (d == NULL)
    return -ENOENT;
  path = event_path(d);
  items = g_strsplit(head[1], ",", -1);
  g_mutex_lock(&input->lock);
  if (!d->plugged) {
    g_mutex_unlock(&input->lock);
    return -ENODEV;
  }
  for (gsize i = 0; items[i] != NULL; i++) {
    g_auto(GStrv) parts = g_strsplit_set(g_strstrip(items[i]), " 	", -1);
    guint type, code;
    gint64 value;

    if (g_strv_length(parts) != 2 || !parse_code(parts[0], &type, &code) ||
        !vxm_parse_int64(parts[1], 10, &value) || value < G_MININT32 || value > G_MAXINT32) {
      g_mutex_unlock(&input->lock);
      g_printerr("vxm-simhost: input: bad event '%s' (CODE VALUE, e.g. KEY_LEFTCTRL 1)\n",
                 items[i]);
      return -EINVAL;
    }
    push_event(d, type, code, (gint32)value);
    {
      g_autofree char *text = code_text(type, code);
      g_autofree char *logged = g_strdup_printf("%s %d", text, (int)value);
      vxm_sim_host_log(input->host, "event", path, logged, -1, 0);
    }
  }
  push_event(d, EV_SYN, SYN_REPORT, 0);
  wake_all(d);
  g_mutex_unlock(&input->lock);
  return 0;
}

static int
control_store(VxmSimNode *node, const char *buf, gsize len)
{
  VxmSimInput *input = node->owner;
  g_autofree char *text = g_strndup(buf, len);
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

  for (gsize i = 0; lines[i] != NULL; i++) {
    char *line = g_strstrip(lines[i]);
    int res;

    if (*line == '\0')
      continue;
    if (g_str_has_prefix(line, "unplug ") || g_str_has_prefix(line, "replug ")) {
      gboolean unplug = line[0] == 'u';
      g_auto(GStrv) args = g_strsplit_set(g_strstrip(line + 7), " \t", -1);
      const char *name = args[0];
      gint event = -1;
      Device *d = NULL;
      g_autofree char *path = NULL;

      if (g_strv_length(args) == 2 && !unplug) {
        guint64 n;
        if (!g_str_has_prefix(args[1], "event") || !vxm_parse_uint64(args[1] + 5, 10, &n) ||
            n > 1023) {
          g_printerr("vxm-simhost: input: bad node '%s' (replug NAME [eventN])\n", args[1]);
          return -EINVAL;
        }
        event = (gint)n;
      } else if (g_strv_length(args) != 1) {
        g_printerr("vxm-simhost: input: expected unplug NAME or replug NAME [eventN]\n");
        return -EINVAL;
      }
      res = unplug ? vxm_sim_input_unplug(input, name) : vxm_sim_input_replug(input, name, event);
      d = find_device(input, name);
      path = d != NULL ? event_path(d) : g_strdup("/dev/input");
      vxm_sim_host_log(input->host, unplug ? "unplug" : "replug", path, name, -1, res);
    } else {
      res = inject(input, line);
    }
    if (res != 0)
      return res;
  }
  return 0;
}

static char *
device_state(Device *d)
{
  const char *grab = d->grab != NULL ? d->grab->opener : "none";
  guint clients = 0;

  for (GList *l = d->clients; l != NULL; l = l->next)
    clients += client_alive(l->data);
  return g_strdup_printf("input %s event%u %s grab=%s clients=%u", d->name, d->event,
                         d->plugged ? "plugged" : "unplugged", d->plugged ? grab : "none", clients);
}

static char *
control_show(VxmSimNode *node, gssize *len)
{
  VxmSimInput *input = node->owner;
  GString *out = g_string_new(NULL);

  g_mutex_lock(&input->lock);
  for (guint i = 0; i < input->devices->len; i++) {
    g_autofree char *line = device_state(g_ptr_array_index(input->devices, i));
    g_string_append_printf(out, "%s\n", line);
  }
  g_mutex_unlock(&input->lock);
  return g_string_free(out, FALSE);
}

void
vxm_sim_input_add_control(VxmSimInput *input)
{
  VxmSimNode *node = vxm_sim_node_new_generated(0644, control_show, control_store, input, NULL, 0);

  node->flags |= VXM_SIM_NODE_FLAG_CONTROL;
  vxm_sim_node_put(input->host->root, VXM_SIM_CONTROL_DIR "/input", node);
}

void
vxm_sim_input_dump_state(VxmSimInput *input, GPtrArray *lines)
{
  g_mutex_lock(&input->lock);
  for (guint i = 0; i < input->devices->len; i++)
    g_ptr_array_add(lines, device_state(g_ptr_array_index(input->devices, i)));
  g_mutex_unlock(&input->lock);
}

/* ---- the machine file ---- */

static void
device_free(Device *d)
{
  g_free(d->name);
  g_free(d->dev_name);
  g_free(d->phys);
  g_free(d->uniq);
  for (guint i = 0; i < N_CAPS; i++)
    g_free(d->cap_text[i]);
  g_free(d->props_text);
  g_strfreev(d->by_id);
  g_free(d->by_path);
  g_free(d->sysfs_dir);
  g_list_free(d->clients); /* open files are released by the FUSE layer first */
  g_free(d);
}

static gboolean
read_bitmap(VxmSimMachine *machine, const char *group, const char *key, char **text, Bits *bits,
            GError **error)
{
  g_autofree char *why = NULL;

  if (!vxm_sim_machine_get_string(machine, group, key, "0", text, error))
    return FALSE;
  if (!bits_from_text(bits, *text, &why))
    return vxm_sim_machine_error(machine, error, group, key, "capability bitmap \"%s\": %s", *text,
                                 why);
  return TRUE;
}

static Device *
load_device(VxmSimInput *input, VxmSimMachine *machine, const char *name, GError **error)
{
  g_autofree char *group = g_strdup_printf("input %s", name);
  Device *d = g_new0(Device, 1);
  gint64 event, number, abs_min, abs_max;
  gboolean plugged;
  g_autofree char *kind = NULL;
  g_autofree char *sysfs = NULL;
  g_auto(GStrv) range = NULL;

  d->input = input;
  d->name = g_strdup(name);
  if (!vxm_sim_machine_get_int(machine, group, "event", 0, 1023, -1, &event, error) ||
      !vxm_sim_machine_get_int(machine, group, "input", 0, 100000, event, &number, error) ||
      !vxm_sim_machine_get_string(machine, group, "name", NULL, &d->dev_name, error) ||
      !vxm_sim_machine_get_string(machine, group, "phys", NULL, &d->phys, error) ||
      !vxm_sim_machine_get_string(machine, group, "uniq", NULL, &d->uniq, error) ||
      !vxm_sim_machine_get_string(machine, group, "kind", NULL, &kind, error) ||
      !vxm_sim_machine_get_hex(machine, group, "bustype", 4, FALSE, 0x0003, &d->bustype, error) ||
      !vxm_sim_machine_get_hex(machine, group, "vendor", 4, FALSE, 0, &d->vendor, error) ||
      !vxm_sim_machine_get_hex(machine, group, "product", 4, FALSE, 0, &d->product, error) ||
      !vxm_sim_machine_get_hex(machine, group, "version", 4, FALSE, 0, &d->version, error) ||
      !vxm_sim_machine_get_list(machine, group, "by_id", &d->by_id, error) ||
      !vxm_sim_machine_get_string(machine, group, "by_path", NULL, &d->by_path, error) ||
      !vxm_sim_machine_get_string(machine, group, "sysfs", NULL, &sysfs, error) ||
      !vxm_sim_machine_get_bool(machine, group, "plugged", TRUE, &plugged, error) ||
      !vxm_sim_machine_get_int(machine, group, "abs_min", G_MININT32, G_MAXINT32, 0, &abs_min,
                               error) ||
      !vxm_sim_machine_get_int(machine, group, "abs_max", G_MININT32, G_MAXINT32, 4095, &abs_max,
                               error) ||
      !read_bitmap(machine, group, "properties", &d->props_text, &d->props, error))
    goto fail;
  for (guint i = 0; i < N_CAPS; i++)
    if (!read_bitmap(machine, group, caps[i].name, &d->cap_text[i], &d->bits[i], error))
      goto fail;
  if (event < 0) {
    vxm_sim_machine_error(machine, error, group, "event", "required: the N of /dev/input/eventN");
    goto fail;
  }
  if (d->dev_name == NULL) {
    vxm_sim_machine_error(machine, error, group, "name", "required: the kernel's device name");
    goto fail;
  }
  if (d->phys != NULL && *d->phys == '\0')
    g_clear_pointer(&d->phys, g_free);
  if (d->uniq != NULL && *d->uniq == '\0')
    g_clear_pointer(&d->uniq, g_free);
  d->event = (guint)event;
  d->number = (guint)number;
  d->abs_min = (gint32)abs_min;
  d->abs_max = (gint32)abs_max;
  d->plugged = plugged;
  if (sysfs == NULL)
    sysfs = d->bustype == BUS_VIRTUAL
                ? g_strdup("/sys/devices/virtual/input")
                : g_strdup_printf("/sys/devices/platform/vxm-sim/%s/input", name);
  d->sysfs_dir = g_steal_pointer(&sysfs);
  (void)range;
  return d;

fail:
  device_free(d);
  return NULL;
}

VxmSimInput *
vxm_sim_input_new(VxmSimHost *host, VxmSimMachine *machine, GError **error)
{
  VxmSimInput *input = g_new0(VxmSimInput, 1);
  g_autoptr(GPtrArray) names = vxm_sim_machine_groups(machine, "input");

  input->host = host;
  input->devices = g_ptr_array_new_with_free_func((GDestroyNotify)device_free);
  g_mutex_init(&input->lock);
  g_cond_init(&input->cond);
  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    Device *d = load_device(input, machine, name, error);

    if (d == NULL) {
      vxm_sim_input_free(input);
      return NULL;
    }
    for (guint j = 0; j < input->devices->len; j++) {
      Device *o = g_ptr_array_index(input->devices, j);
      if (o->event == d->event || o->number == d->number) {
        g_autofree char *group = g_strdup_printf("input %s", name);
        vxm_sim_machine_error(machine, error, group, "event",
                              "event%u or input%u is also [input %s]'s", d->event, d->number,
                              o->name);
        device_free(d);
        vxm_sim_input_free(input);
        return NULL;
      }
    }
    g_ptr_array_add(input->devices, d);
  }
  vxm_sim_node_mkdir_p(host->root, VXM_HOST_SYS_CLASS_INPUT);
  vxm_sim_node_mkdir_p(host->root, "/dev/input");
  for (guint i = 0; i < input->devices->len; i++) {
    Device *d = g_ptr_array_index(input->devices, i);

    if (!d->plugged)
      continue;
    build_nodes(d);
    for (gsize j = 0; d->by_id != NULL && d->by_id[j] != NULL; j++) {
      g_autofree char *path = g_strdup_printf("/dev/input/by-id/%s", d->by_id[j]);
      g_autofree char *target = g_strdup_printf("../event%u", d->event);
      vxm_sim_node_put(host->root, path, vxm_sim_node_new_link(target));
    }
    if (d->by_path != NULL) {
      g_autofree char *path = g_strdup_printf("/dev/input/by-path/%s", d->by_path);
      g_autofree char *target = g_strdup_printf("../event%u", d->event);
      vxm_sim_node_put(host->root, path, vxm_sim_node_new_link(target));
    }
  }
  return input;
}

void
vxm_sim_input_free(VxmSimInput *input)
{
  if (input == NULL)
    return;
  g_ptr_array_unref(input->devices);
  g_mutex_clear(&input->lock);
  g_cond_clear(&input->cond);
  g_free(input);
}
