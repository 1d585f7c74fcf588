/* vxm-input-watch: re-adds input-linux objects after unplug and replug (see the header). */
#include "vxm-input-watch.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "input/vxm-input-object.h"

#define QMP_TIMEOUT_MS 5000

/* the link folders udev makes under /dev/input */
enum { LINKS_BY_ID, LINKS_BY_PATH, N_LINKS };
static const char *const link_folders[N_LINKS] = {"by-id", "by-path"};

typedef struct {
  VxmInputObject *object;
  char *name;        /* the link's name */
  int folder;        /* LINKS_*, or -1: not plugged in since start, either folder will do */
  char *host_path;   /* /dev/input/FOLDER/NAME */
  gboolean present;  /* its link exists and QEMU has it open, as far as we know */
  gboolean in_qemu;  /* an object of this id exists in QEMU */
  gboolean busy;     /* a re-add is in flight */
  gboolean again;    /* the link came back again meanwhile */
  const char *state; /* for status: attached, unplugged, waiting, failed */
  char *message;     /* the last report */
} Watched;

struct _VxmInputWatch {
  GObject parent_instance;
  VxmHostfs *hostfs;
  VxmQmpClient *qmp;
  GPtrArray *watched; /* Watched */
  int fd;
  int wd_input;
  int wd_links[N_LINKS];
  char *local_input;
  char *local_links[N_LINKS];
  GSource *source;
  VxmInputWatchGrantFunc grant;
  gpointer grant_data;
  GDestroyNotify grant_destroy;
  guint busy;
};

G_DEFINE_TYPE(VxmInputWatch, vxm_input_watch, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
watched_free(Watched *w)
{
  vxm_input_object_free(w->object);
  g_free(w->name);
  g_free(w->host_path);
  g_free(w->message);
  g_free(w);
}

static void report(VxmInputWatch *self, Watched *w, const char *what, const char *format, ...)
    G_GNUC_PRINTF(4, 5);

static void
report(VxmInputWatch *self, Watched *w, const char *what, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start(args, format);
  message = g_strdup_vprintf(format, args);
  va_end(args);
  g_debug("input %s (%s): %s: %s", w->object->id, w->name, what, message);
  if (g_str_equal(what, "gone"))
    w->state = "unplugged";
  else if (g_str_equal(what, "readded"))
    w->state = "attached";
  else if (g_str_equal(what, "failed"))
    w->state = "failed";
  g_free(w->message);
  w->message = g_strdup(message);
  g_signal_emit(self, signals[SIGNAL_CHANGED], 0, w->object->id, what, message);
}

/* ---- QMP: object-del when a device goes, object-add when it is back ---- */

typedef struct {
  VxmInputWatch *self; /* a reference */
  Watched *w;
  gboolean then_add; /* an object-del followed by object-add (the re-add) */
} OpData;

static void readd(VxmInputWatch *self, Watched *w);

static gboolean
link_in(VxmInputWatch *self, int folder, const char *name)
{
  g_autofree char *local = g_build_filename(self->local_links[folder], name, NULL);

  return g_file_test(local, G_FILE_TEST_EXISTS);
}

static gboolean
link_exists(VxmInputWatch *self, Watched *w)
{
  if (w->folder >= 0)
    return link_in(self, w->folder, w->name);
  return link_in(self, LINKS_BY_ID, w->name) || link_in(self, LINKS_BY_PATH, w->name);
}

static void
op_done(OpData *data)
{
  VxmInputWatch *self = data->self;
  Watched *w = data->w;

  w->busy = FALSE;
  self->busy--;
  if (w->again) {
    w->again = FALSE;
    if (link_exists(self, w) && !w->present)
      readd(self, w);
  }
  g_object_unref(data->self);
  g_free(data);
}

static void
on_object_add(GObject *source, GAsyncResult *result, gpointer user_data)
{
  OpData *data = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = vxm_qmp_client_execute_finish(VXM_QMP_CLIENT(source), result, &error);

  if (reply == NULL) {
    report(data->self, data->w, "failed", "QEMU did not take %s back (object-add): %s",
           data->w->object->evdev, error->message);
  } else {
    data->w->in_qemu = TRUE;
    data->w->present = TRUE;
    report(data->self, data->w, "readded", "%s is the guest's again", data->w->object->evdev);
  }
  op_done(data);
}

static void
send_object_add(OpData *data)
{
  g_autoptr(JsonObject) args = vxm_input_object_to_qmp(data->w->object);

  vxm_qmp_client_execute_async(data->self->qmp, "object-add", args, QMP_TIMEOUT_MS, NULL,
                               on_object_add, data);
}

static gboolean
is_not_found(const GError *error)
{
  const char *desc = vxm_qmp_error_get_desc(error);

  /* QEMU 7.2: GenericError "object 'kbd0' not found" */
  return g_error_matches(error, VXM_QMP_ERROR, VXM_QMP_ERROR_DEVICE_NOT_FOUND) ||
         (desc != NULL && strstr(desc, "not found") != NULL);
}

static void
on_object_del(GObject *source, GAsyncResult *result, gpointer user_data)
{
  OpData *data = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = vxm_qmp_client_execute_finish(VXM_QMP_CLIENT(source), result, &error);

  if (reply != NULL || is_not_found(error)) {
    data->w->in_qemu = FALSE;
  } else {
    /* still there: the re-add would fail with a duplicate id */
    report(data->self, data->w, "failed", "QEMU kept the dead input object %s (object-del): %s",
           data->w->object->id, error->message);
    op_done(data);
    return;
  }
  if (data->then_add) {
    send_object_add(data);
    return;
  }
  op_done(data);
}

static OpData *
op_begin(VxmInputWatch *self, Watched *w)
{
  OpData *data = g_new0(OpData, 1);

  w->busy = TRUE;
  self->busy++;
  data->self = g_object_ref(self);
  data->w = w;
  return data;
}

static void
send_object_del(OpData *data)
{
  g_autoptr(JsonObject) args = json_object_new();

  json_object_set_string_member(args, "id", data->w->object->id);
  vxm_qmp_client_execute_async(data->self->qmp, "object-del", args, QMP_TIMEOUT_MS, NULL,
                               on_object_del, data);
}

static gboolean
qmp_ready(VxmInputWatch *self)
{
  return self->qmp != NULL && vxm_qmp_client_is_ready(self->qmp);
}

/* The device went: QEMU's object is dead (it closes its fd on the read error and never opens
 * it again), so it goes now. Deleting it at once matters: QEMU 7.2 closes the fd on the read
 * error but keeps the number in the object and closes it again when the object is deleted;
 * by the time the device is back that number may belong to another object's new fd. */
static void
remove_dead(VxmInputWatch *self, Watched *w)
{
  OpData *data;

  if (!w->in_qemu || !qmp_ready(self))
    return;
  if (w->busy) {
    w->again = TRUE; /* op_done re-adds if the link is back by then */
    return;
  }
  data = op_begin(self, w);
  send_object_del(data);
}

static void
readd(VxmInputWatch *self, Watched *w)
{
  g_autoptr(GError) error = NULL;
  OpData *data;

  if (w->busy) {
    w->again = TRUE;
    return;
  }
  if (!qmp_ready(self)) {
    report(self, w, "failed", "QEMU's monitor is not connected: %s stays out", w->object->evdev);
    return;
  }
  if (self->grant != NULL && !self->grant(w->host_path, self->grant_data, &error)) {
    report(self, w, "failed", "%s stays out of the guest: %s", w->host_path, error->message);
    return;
  }
  data = op_begin(self, w);
  if (w->in_qemu) {
    data->then_add = TRUE; /* the dead object was not deleted when the device went */
    send_object_del(data);
  } else {
    send_object_add(data);
  }
}

/* ---- inotify ---- */

static Watched *
find_watched(VxmInputWatch *self, int folder, const char *name)
{
  for (guint i = 0; i < self->watched->len; i++) {
    Watched *w = g_ptr_array_index(self->watched, i);
    if ((w->folder < 0 || w->folder == folder) && g_strcmp0(w->name, name) == 0)
      return w;
  }
  return NULL;
}

static void
link_gone(VxmInputWatch *self, Watched *w)
{
  if (!w->present && !w->in_qemu)
    return;
  w->present = FALSE;
  report(self, w, "gone", "%s was unplugged: the guest goes on without it", w->host_path);
  remove_dead(self, w);
}

static void
link_back(VxmInputWatch *self, Watched *w, int folder)
{
  if (w->folder < 0) {
    /* first plugged in: QEMU opens the link it came with */
    w->folder = folder;
    g_free(w->host_path);
    w->host_path = g_strdup_printf(VXM_HOST_DEV_INPUT "/%s/%s", link_folders[folder], w->name);
    g_free(w->object->evdev);
    w->object->evdev = vxm_hostfs_path(self->hostfs, w->host_path);
    report(self, w, "back", "%s is plugged in", w->host_path);
  } else {
    report(self, w, "back", "%s is plugged in again", w->host_path);
  }
  readd(self, w);
}

static void
watch_links(VxmInputWatch *self, int folder)
{
  if (self->wd_links[folder] >= 0)
    return;
  self->wd_links[folder] = inotify_add_watch(self->fd, self->local_links[folder],
                                             IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                                 IN_DELETE_SELF | IN_ONLYDIR);
  if (self->wd_links[folder] < 0)
    return; /* not there (no device has such a link): /dev/input's watch brings it */
  /* links made before the watch was set */
  for (guint i = 0; i < self->watched->len; i++) {
    Watched *w = g_ptr_array_index(self->watched, i);

    if (!w->present && (w->folder < 0 || w->folder == folder) && link_in(self, folder, w->name))
      link_back(self, w, folder);
  }
}

static gboolean
on_inotify(gint fd, GIOCondition condition, gpointer user_data)
{
  VxmInputWatch *self = user_data;
  char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));

  for (;;) {
    ssize_t len = read(fd, buf, sizeof buf);

    if (len <= 0)
      break;
    for (char *p = buf; p < buf + len;) {
      const struct inotify_event *ev = (const struct inotify_event *)p;
      const char *name = ev->len > 0 ? ev->name : "";

      p += sizeof(struct inotify_event) + ev->len;
      if (ev->wd == self->wd_input) {
        for (int f = 0; f < N_LINKS; f++)
          if (g_strcmp0(name, link_folders[f]) == 0 && (ev->mask & (IN_CREATE | IN_MOVED_TO)))
            watch_links(self, f);
        continue;
      }
      for (int f = 0; f < N_LINKS; f++) {
        Watched *w;

        if (ev->wd != self->wd_links[f])
          continue;
        if (ev->mask & (IN_DELETE_SELF | IN_IGNORED)) {
          self->wd_links[f] = -1;
          for (guint i = 0; i < self->watched->len; i++) {
            Watched *gone = g_ptr_array_index(self->watched, i);
            if (gone->folder == f)
              link_gone(self, gone);
          }
          break;
        }
        w = find_watched(self, f, name);
        if (w == NULL)
          break;
        if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
          link_gone(self, w);
        else if (ev->mask & (IN_CREATE | IN_MOVED_TO))
          link_back(self, w, f);
        break;
      }
    }
  }
  return G_SOURCE_CONTINUE;
}

static void
add_watched(VxmInputWatch *self, const VxmInputObject *object, gboolean in_qemu)
{
  g_autofree char *host_path = vxm_hostfs_host_path(self->hostfs, object->evdev);
  g_autofree char *dir = host_path != NULL ? g_path_get_dirname(host_path) : NULL;
  int folder = -1;
  Watched *w;

  for (int f = 0; f < N_LINKS && dir != NULL; f++) {
    g_autofree char *want = g_strdup_printf(VXM_HOST_DEV_INPUT "/%s", link_folders[f]);
    if (g_str_equal(dir, want))
      folder = f;
  }
  if (folder < 0) {
    g_debug("input %s: %s is not a by-id or by-path link: not watched for replug", object->id,
            object->evdev);
    return;
  }
  w = g_new0(Watched, 1);
  w->object = vxm_input_object_copy(object);
  w->host_path = g_steal_pointer(&host_path);
  w->name = g_path_get_basename(w->host_path);
  /* a pending device may come with either link */
  w->folder = in_qemu ? folder : -1;
  w->in_qemu = in_qemu;
  w->state = in_qemu ? "attached" : "waiting";
  g_ptr_array_add(self->watched, w);
}

VxmInputWatch *
vxm_input_watch_new(VxmHostfs *hostfs, VxmQmpClient *qmp, GPtrArray *objects, GPtrArray *pending,
                    GError **error)
{
  g_autoptr(VxmInputWatch) self = g_object_new(VXM_TYPE_INPUT_WATCH, NULL);

  self->hostfs = g_object_ref(hostfs);
  self->qmp = qmp != NULL ? g_object_ref(qmp) : NULL;
  for (guint i = 0; objects != NULL && i < objects->len; i++)
    add_watched(self, g_ptr_array_index(objects, i), TRUE);
  for (guint i = 0; pending != NULL && i < pending->len; i++)
    add_watched(self, g_ptr_array_index(pending, i), FALSE);

  self->local_input = vxm_hostfs_path(hostfs, VXM_HOST_DEV_INPUT);
  for (int f = 0; f < N_LINKS; f++) {
    g_autofree char *host_dir = g_strdup_printf(VXM_HOST_DEV_INPUT "/%s", link_folders[f]);
    self->local_links[f] = vxm_hostfs_path(hostfs, host_dir);
  }
  for (guint i = 0; i < self->watched->len; i++) {
    Watched *w = g_ptr_array_index(self->watched, i);
    w->present = w->in_qemu && link_exists(self, w);
  }
  self->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (self->fd < 0) {
    vxm_error_set_from_errno(error, errno,
                             "cannot watch " VXM_HOST_DEV_INPUT " for replugged "
                             "keyboards and mice (inotify)");
    return NULL;
  }
  self->wd_input =
      inotify_add_watch(self->fd, self->local_input, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
  if (self->wd_input < 0) {
    vxm_error_set_from_errno(error, errno, "cannot watch %s for replugged keyboards and mice",
                             VXM_HOST_DEV_INPUT);
    return NULL;
  }
  self->source = g_unix_fd_source_new(self->fd, G_IO_IN);
  g_source_set_callback(self->source, (GSourceFunc)(void (*)(void))on_inotify, self, NULL);
  g_source_attach(self->source, g_main_context_get_thread_default());
  for (int f = 0; f < N_LINKS; f++)
    watch_links(self, f);
  return g_steal_pointer(&self);
}

void
vxm_input_watch_set_grant_func(VxmInputWatch *self, VxmInputWatchGrantFunc func, gpointer user_data,
                               GDestroyNotify destroy)
{
  if (self->grant_destroy != NULL)
    self->grant_destroy(self->grant_data);
  self->grant = func;
  self->grant_data = user_data;
  self->grant_destroy = destroy;
}

guint
vxm_input_watch_get_busy(VxmInputWatch *self)
{
  return self->busy;
}

gboolean
vxm_input_watch_get_state(VxmInputWatch *self, const char *id, const char **state,
                          const char **evdev, const char **message)
{
  for (guint i = 0; i < self->watched->len; i++) {
    Watched *w = g_ptr_array_index(self->watched, i);

    if (g_strcmp0(w->object->id, id) != 0)
      continue;
    *state = w->state;
    *evdev = w->object->evdev;
    *message = w->message;
    return TRUE;
  }
  return FALSE;
}

static void
vxm_input_watch_finalize(GObject *object)
{
  VxmInputWatch *self = VXM_INPUT_WATCH(object);

  if (self->source != NULL) {
    g_source_destroy(self->source);
    g_source_unref(self->source);
  }
  vxm_close_in_background(self->fd);
  if (self->grant_destroy != NULL)
    self->grant_destroy(self->grant_data);
  g_ptr_array_unref(self->watched);
  g_clear_object(&self->qmp);
  g_clear_object(&self->hostfs);
  g_free(self->local_input);
  for (int f = 0; f < N_LINKS; f++)
    g_free(self->local_links[f]);
  G_OBJECT_CLASS(vxm_input_watch_parent_class)->finalize(object);
}

static void
vxm_input_watch_class_init(VxmInputWatchClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = vxm_input_watch_finalize;
  signals[SIGNAL_CHANGED] =
      g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                   G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

static void
vxm_input_watch_init(VxmInputWatch *self)
{
  self->watched = g_ptr_array_new_with_free_func((GDestroyNotify)watched_free);
  self->fd = -1;
  self->wd_input = -1;
  for (int f = 0; f < N_LINKS; f++)
    self->wd_links[f] = -1;
}
