/* vxm-usb-watch: device_add and device_del of usb-host as devices come and go (see the
 * header). */
#include "vxm-usb-watch.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "usb/vxm-usb-device.h"

#define QMP_TIMEOUT_MS 5000

typedef struct {
  VxmUsbPassthrough *device; /* node: the one it has now, NULL while unplugged */
  gboolean in_qemu;          /* QEMU has a usb-host of this id */
  gboolean busy;             /* a QMP request is in flight */
  gboolean failed;           /* the last add failed: not retried until the next plug */
  const char *state;
  char *message;
} Watched;

struct _VxmUsbWatch {
  GObject parent_instance;
  VxmHostfs *hostfs;
  VxmQmpClient *qmp;
  GPtrArray *watched; /* Watched */
  int fd;
  int wd_root;
  GHashTable *bus_watches; /* wd -> bus number */
  GSource *source;
  VxmUsbWatchGrantFunc grant;
  gpointer grant_data;
  GDestroyNotify grant_destroy;
  guint busy;
};

G_DEFINE_TYPE(VxmUsbWatch, vxm_usb_watch, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
watched_free(Watched *w)
{
  vxm_usb_passthrough_free(w->device);
  g_free(w->message);
  g_free(w);
}

static void report(VxmUsbWatch *self, Watched *w, const char *what, const char *format, ...)
    G_GNUC_PRINTF(4, 5);

static void
report(VxmUsbWatch *self, Watched *w, const char *what, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start(args, format);
  message = g_strdup_vprintf(format, args);
  va_end(args);
  g_debug("usb %s: %s: %s", w->device->id, what, message);
  if (g_str_equal(what, "gone") || g_str_equal(what, "removed"))
    w->state = "unplugged";
  else if (g_str_equal(what, "added"))
    w->state = "attached";
  else if (g_str_equal(what, "failed"))
    w->state = "failed";
  g_free(w->message);
  w->message = g_strdup(message);
  g_signal_emit(self, signals[SIGNAL_CHANGED], 0, w->device->id, what, message);
}

/* ---- QMP: one request per device at a time, then what the host has now ---- */

typedef struct {
  VxmUsbWatch *self; /* a reference */
  Watched *w;
  gboolean add;
} OpData;

static void reconcile(VxmUsbWatch *self, Watched *w);

static void
on_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
  OpData *data = user_data;
  VxmUsbWatch *self = data->self;
  Watched *w = data->w;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = vxm_qmp_client_execute_finish(VXM_QMP_CLIENT(source), result, &error);
  const char *desc = error != NULL ? vxm_qmp_error_get_desc(error) : NULL;

  w->busy = FALSE;
  self->busy--;
  if (data->add) {
    if (reply != NULL) {
      w->in_qemu = TRUE;
      report(self, w, "added", "%04x:%04x %s is the guest's (%s)", w->device->vendor,
             w->device->product, w->device->description,
             w->device->node != NULL ? w->device->node : "unplugged meanwhile");
    } else {
      w->failed = TRUE;
      report(self, w, "failed", "QEMU did not take %04x:%04x (device_add): %s", w->device->vendor,
             w->device->product, error->message);
    }
  } else if (reply != NULL ||
             g_error_matches(error, VXM_QMP_ERROR, VXM_QMP_ERROR_DEVICE_NOT_FOUND) ||
             (desc != NULL && strstr(desc, "not found") != NULL)) {
    w->in_qemu = FALSE;
    report(self, w, "removed", "%04x:%04x left the guest (device_del)", w->device->vendor,
           w->device->product);
  } else {
    w->failed = TRUE; /* not asked again until the next plug */
    report(self, w, "failed", "QEMU kept %s (device_del): %s", w->device->id, error->message);
  }
  if (!w->failed)
    reconcile(self, w);
  g_object_unref(self);
  g_free(data);
}

static void
send(VxmUsbWatch *self, Watched *w, gboolean add)
{
  OpData *data = g_new0(OpData, 1);
  g_autoptr(JsonObject) args = NULL;

  data->self = g_object_ref(self);
  data->w = w;
  data->add = add;
  w->busy = TRUE;
  self->busy++;
  if (add) {
    args = vxm_usb_passthrough_to_qmp(w->device);
  } else {
    args = json_object_new();
    json_object_set_string_member(args, "id", w->device->id);
  }
  vxm_qmp_client_execute_async(self->qmp, add ? "device_add" : "device_del", args, QMP_TIMEOUT_MS,
                               NULL, on_reply, data);
}

/* Brings QEMU in line with the host: a plugged device in, an unplugged one out. */
static void
reconcile(VxmUsbWatch *self, Watched *w)
{
  g_autoptr(GError) error = NULL;
  gboolean present = w->device->node != NULL && vxm_hostfs_exists(self->hostfs, w->device->node);

  if (w->busy)
    return; /* on_reply comes back here */
  if (present == w->in_qemu)
    return;
  if (self->qmp == NULL || !vxm_qmp_client_is_ready(self->qmp)) {
    report(self, w, "failed", "QEMU's monitor is not connected: %04x:%04x is not %s",
           w->device->vendor, w->device->product, present ? "added" : "removed");
    return;
  }
  if (present && self->grant != NULL && !self->grant(w->device->node, self->grant_data, &error)) {
    w->failed = TRUE;
    report(self, w, "failed", "%04x:%04x stays out of the guest: %s", w->device->vendor,
           w->device->product, error->message);
    return;
  }
  send(self, w, present);
}

/* ---- inotify ---- */

static Watched *
find_by_node(VxmUsbWatch *self, const char *node)
{
  for (guint i = 0; i < self->watched->len; i++) {
    Watched *w = g_ptr_array_index(self->watched, i);

    if (g_strcmp0(w->device->node, node) == 0)
      return w;
  }
  return NULL;
}

static void
node_gone(VxmUsbWatch *self, const char *node)
{
  Watched *w = find_by_node(self, node);

  if (w == NULL)
    return;
  g_clear_pointer(&w->device->node, g_free);
  w->failed = FALSE;
  report(self, w, "gone", "%s (%04x:%04x) was unplugged", node, w->device->vendor,
         w->device->product);
  reconcile(self, w);
}

/* A node appeared: one of ours when sysfs says so (the first unplugged one of those ids). */
static void
node_new(VxmUsbWatch *self, guint busnum, guint devnum)
{
  g_autoptr(GPtrArray) devices = vxm_usb_devices_list(self->hostfs);
  VxmUsbDevice *d = vxm_usb_devices_find_node(devices, busnum, devnum);

  if (d == NULL)
    return;
  for (guint i = 0; i < self->watched->len; i++) {
    Watched *w = g_ptr_array_index(self->watched, i);

    if (w->device->node != NULL || w->device->vendor != d->vendor ||
        w->device->product != d->product)
      continue;
    w->device->node = vxm_usb_device_node(d);
    g_free(w->device->description);
    w->device->description = vxm_usb_device_describe(d);
    w->failed = FALSE;
    report(self, w, "back", "%s (%04x:%04x %s) is plugged in", w->device->node, d->vendor,
           d->product, w->device->description);
    reconcile(self, w);
    return;
  }
}

static void
watch_bus(VxmUsbWatch *self, const char *name)
{
  g_autofree char *host_dir = g_strdup_printf(VXM_HOST_DEV_BUS_USB "/%s", name);
  g_autofree char *local = vxm_hostfs_path(self->hostfs, host_dir);
  guint64 bus = 0;
  int wd;

  if (strlen(name) != 3 || !vxm_parse_uint64(name, 10, &bus) || bus == 0 || bus > 255)
    return;
  wd = inotify_add_watch(self->fd, local,
                         IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR);
  if (wd >= 0)
    g_hash_table_insert(self->bus_watches, GINT_TO_POINTER(wd), GUINT_TO_POINTER((guint)bus));
}

static gboolean
on_inotify(gint fd, GIOCondition condition, gpointer user_data)
{
  VxmUsbWatch *self = user_data;
  char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));

  (void)condition;
  for (;;) {
    ssize_t len = read(fd, buf, sizeof buf);

    if (len <= 0)
      break;
    for (char *p = buf; p < buf + len;) {
      const struct inotify_event *ev = (const struct inotify_event *)p;
      const char *name = ev->len > 0 ? ev->name : "";
      gpointer bus_p = NULL;
      g_autofree char *node = NULL;
      guint busnum = 0, devnum = 0;

      p += sizeof(struct inotify_event) + ev->len;
      if (ev->wd == self->wd_root) {
        if (ev->mask & (IN_CREATE | IN_MOVED_TO))
          watch_bus(self, name);
        continue;
      }
      if (!g_hash_table_lookup_extended(self->bus_watches, GINT_TO_POINTER(ev->wd), NULL, &bus_p))
        continue;
      if (ev->mask & IN_IGNORED) {
        g_hash_table_remove(self->bus_watches, GINT_TO_POINTER(ev->wd));
        continue;
      }
      node = g_strdup_printf(VXM_HOST_DEV_BUS_USB "/%03u/%s", GPOINTER_TO_UINT(bus_p), name);
      if (!vxm_usb_node_parse(node, &busnum, &devnum))
        continue;
      if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
        node_gone(self, node);
      else if (ev->mask & (IN_CREATE | IN_MOVED_TO))
        node_new(self, busnum, devnum);
    }
  }
  return G_SOURCE_CONTINUE;
}

VxmUsbWatch *
vxm_usb_watch_new(VxmHostfs *hostfs, VxmQmpClient *qmp, GPtrArray *devices, GError **error)
{
  g_autoptr(VxmUsbWatch) self = g_object_new(VXM_TYPE_USB_WATCH, NULL);
  g_autofree char *root = vxm_hostfs_path(hostfs, VXM_HOST_DEV_BUS_USB);
  g_autoptr(GPtrArray) buses = NULL;
  g_autoptr(GPtrArray) now = NULL;

  self->hostfs = g_object_ref(hostfs);
  self->qmp = qmp != NULL ? g_object_ref(qmp) : NULL;
  for (guint i = 0; devices != NULL && i < devices->len; i++) {
    Watched *w = g_new0(Watched, 1);

    w->device = vxm_usb_passthrough_copy(g_ptr_array_index(devices, i));
    w->in_qemu = w->device->node != NULL;
    w->state = w->in_qemu ? "attached" : "waiting";
    g_ptr_array_add(self->watched, w);
  }
  self->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (self->fd < 0) {
    vxm_error_set_from_errno(error, errno,
                             "cannot watch " VXM_HOST_DEV_BUS_USB " for USB devices (inotify)");
    return NULL;
  }
  self->wd_root = inotify_add_watch(self->fd, root, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
  if (self->wd_root < 0) {
    vxm_error_set_from_errno(error, errno, "cannot watch %s for USB devices", VXM_HOST_DEV_BUS_USB);
    return NULL;
  }
  buses = vxm_hostfs_list_dir(hostfs, VXM_HOST_DEV_BUS_USB, NULL);
  for (guint i = 0; buses != NULL && i < buses->len; i++)
    watch_bus(self, g_ptr_array_index(buses, i));
  self->source = g_unix_fd_source_new(self->fd, G_IO_IN);
  g_source_set_callback(self->source, (GSourceFunc)(void (*)(void))on_inotify, self, NULL);
  g_source_attach(self->source, g_main_context_get_thread_default());

  /* what changed between the plan and now: a device plugged in or out meanwhile */
  now = vxm_usb_devices_list(hostfs);
  for (guint i = 0; i < self->watched->len; i++) {
    Watched *w = g_ptr_array_index(self->watched, i);
    VxmUsbDevice *d = vxm_usb_devices_find(now, w->device->vendor, w->device->product);

    if (w->device->node != NULL && !vxm_hostfs_exists(hostfs, w->device->node)) {
      g_autofree char *node = g_strdup(w->device->node);
      node_gone(self, node);
    } else if (w->device->node == NULL && d != NULL) {
      node_new(self, d->busnum, d->devnum);
    }
  }
  return g_steal_pointer(&self);
}

void
vxm_usb_watch_set_grant_func(VxmUsbWatch *self, VxmUsbWatchGrantFunc func, gpointer user_data,
                             GDestroyNotify destroy)
{
  if (self->grant_destroy != NULL)
    self->grant_destroy(self->grant_data);
  self->grant = func;
  self->grant_data = user_data;
  self->grant_destroy = destroy;
}

guint
vxm_usb_watch_get_busy(VxmUsbWatch *self)
{
  return self->busy;
}

gboolean
vxm_usb_watch_get_state(VxmUsbWatch *self, const char *id, const char **state, const char **node,
                        const char **message)
{
  for (guint i = 0; i < self->watched->len; i++) {
    Watched *w = g_ptr_array_index(self->watched, i);

    if (g_strcmp0(w->device->id, id) != 0)
      continue;
    *state = w->state;
    *node = w->device->node;
    *message = w->message;
    return TRUE;
  }
  return FALSE;
}

static void
vxm_usb_watch_finalize(GObject *object)
{
  VxmUsbWatch *self = VXM_USB_WATCH(object);

  if (self->source != NULL) {
    g_source_destroy(self->source);
    g_source_unref(self->source);
  }
  vxm_close_in_background(self->fd);
  if (self->grant_destroy != NULL)
    self->grant_destroy(self->grant_data);
  g_ptr_array_unref(self->watched);
  g_hash_table_unref(self->bus_watches);
  g_clear_object(&self->qmp);
  g_clear_object(&self->hostfs);
  G_OBJECT_CLASS(vxm_usb_watch_parent_class)->finalize(object);
}

static void
vxm_usb_watch_class_init(VxmUsbWatchClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = vxm_usb_watch_finalize;
  signals[SIGNAL_CHANGED] =
      g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                   G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

static void
vxm_usb_watch_init(VxmUsbWatch *self)
{
  self->watched = g_ptr_array_new_with_free_func((GDestroyNotify)watched_free);
  self->bus_watches = g_hash_table_new(NULL, NULL);
  self->fd = -1;
  self->wd_root = -1;
}
