#include "vxm-pci-ids.h"

#include <string.h>

#include "common/vxm-error.h"

/* A top-level line of pci.ids (a vendor, or a "C xx" class) and the lines below it. */
typedef struct {
  guint16 id;
  guint order;     /* position in the file: the first of duplicate ids wins */
  gsize name;      /* offset of the NUL-terminated name */
  gsize body;      /* offset of the first line below it */
  gsize body_end;  /* offset just past its last line */
  GArray *devices; /* a vendor's device lines (Entry, sorted), indexed on first lookup */
} Entry;

struct _VxmPciIds {
  GObject parent_instance;
  char *buf; /* the file with every line NUL-terminated and trailing blanks cut */
  gsize len;
  GArray *vendors; /* Entry, sorted by id, unique */
  GArray *classes; /* Entry, sorted by id, unique */
  char *source;
  VxmHostfs *lazy_hostfs; /* vxm_pci_ids_new_lazy(): the file is read on the first lookup */
};

G_DEFINE_FINAL_TYPE(VxmPciIds, vxm_pci_ids, G_TYPE_OBJECT)

static void
vxm_pci_ids_finalize(GObject *object)
{
  VxmPciIds *self = VXM_PCI_IDS(object);

  for (guint i = 0; i < self->vendors->len; i++)
    g_clear_pointer(&g_array_index(self->vendors, Entry, i).devices, g_array_unref);
  g_free(self->buf);
  g_array_unref(self->vendors);
  g_array_unref(self->classes);
  g_free(self->source);
  g_clear_object(&self->lazy_hostfs);
  G_OBJECT_CLASS(vxm_pci_ids_parent_class)->finalize(object);
}

static void
vxm_pci_ids_class_init(VxmPciIdsClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = vxm_pci_ids_finalize;
}

static void
vxm_pci_ids_init(VxmPciIds *self)
{
  self->vendors = g_array_new(FALSE, FALSE, sizeof(Entry));
  self->classes = g_array_new(FALSE, FALSE, sizeof(Entry));
}

static gboolean
is_blank(char c)
{
  return c == ' ' || c == '\t';
}

/* Exactly @digits hex digits at @p followed by a blank; returns the text after the blanks
 * (the name, or the next field), or NULL when the line does not have that shape. */
static const char *
parse_id(const char *p, guint digits, guint16 *out)
{
  guint value = 0;

  for (guint i = 0; i < digits; i++) {
    if (!g_ascii_isxdigit(p[i]))
      return NULL;
    value = value * 16 + (guint)g_ascii_xdigit_value(p[i]);
  }
  if (!is_blank(p[digits]))
    return NULL;
  p += digits;
  while (is_blank(*p))
    p++;
  *out = (guint16)value;
  return p;
}

static int
compare_entries(gconstpointer a, gconstpointer b)
{
  const Entry *x = a, *y = b;

  if (x->id != y->id)
    return x->id < y->id ? -1 : 1;
  return x->order < y->order ? -1 : (x->order > y->order);
}

/* Sorts by id and keeps the first of each id. */
static void
sort_unique(GArray *entries)
{
  guint out = 0;

  g_array_sort(entries, compare_entries);
  for (guint i = 0; i < entries->len; i++) {
    Entry *e = &g_array_index(entries, Entry, i);

    if (out > 0 && g_array_index(entries, Entry, out - 1).id == e->id)
      continue;
    g_array_index(entries, Entry, out++) = *e;
  }
  g_array_set_size(entries, out);
}

static void
index_lines(VxmPciIds *self)
{
  char *p = self->buf;
  char *end = self->buf + self->len;
  GArray *open_block = NULL; /* the array holding the entry whose body we are in */
  guint order = 0;

  while (p < end) {
    char *line = p;
    char *nl = memchr(p, '\n', (gsize)(end - p));
    char *line_end = nl != NULL ? nl : end;
    const char *name;
    guint16 id;
    Entry e = {0};

    *line_end = '\0';
    p = line_end + 1;
    while (line_end > line && (is_blank(line_end[-1]) || line_end[-1] == '\r'))
      *--line_end = '\0';
    /* indented lines belong to the open block; comments and blank lines to nobody */
    if (line[0] == '\t' || line[0] == '\0' || line[0] == '#')
      continue;
    /* any other top-level line ends the open block */
    if (open_block != NULL) {
      g_array_index(open_block, Entry, open_block->len - 1).body_end = (gsize)(line - self->buf);
      open_block = NULL;
    }
    if (line[0] == 'C' && line[1] == ' ') {
      name = parse_id(line + 2, 2, &id);
      open_block = self->classes;
    } else {
      name = parse_id(line, 4, &id);
      open_block = self->vendors;
    }
    if (name == NULL || *name == '\0') {
      open_block = NULL;
      continue;
    }
    e.id = id;
    e.order = order++;
    e.name = (gsize)(name - self->buf);
    e.body = (gsize)(p - self->buf);
    e.body_end = e.body;
    g_array_append_val(open_block, e);
  }
  if (open_block != NULL)
    g_array_index(open_block, Entry, open_block->len - 1).body_end = self->len;
  sort_unique(self->vendors);
  sort_unique(self->classes);
}

VxmPciIds *
vxm_pci_ids_new_from_data(const char *data, gsize length)
{
  VxmPciIds *self = g_object_new(VXM_TYPE_PCI_IDS, NULL);

  self->buf = g_malloc(length + 1);
  if (length > 0)
    memcpy(self->buf, data, length);
  self->buf[length] = '\0';
  self->len = length;
  index_lines(self);
  return self;
}

static gboolean
read_database(VxmPciIds *self, VxmHostfs *hostfs, GError **error)
{
  static const char *const paths[] = {VXM_HOST_PCI_IDS, VXM_HOST_PCI_IDS_HWDATA};

  for (gsize i = 0; i < G_N_ELEMENTS(paths); i++) {
    g_autoptr(GError) local = NULL;
    g_autofree char *contents = NULL;
    gsize len = 0;

    if (!vxm_hostfs_read_file(hostfs, paths[i], &contents, &len, &local)) {
      if (g_error_matches(local, VXM_ERROR, VXM_ERROR_NOT_FOUND))
        continue;
      g_propagate_error(error, g_steal_pointer(&local));
      return FALSE;
    }
    /* read_file NUL-terminates: parse in place instead of copying 1.3 MB */
    self->buf = g_steal_pointer(&contents);
    self->len = len;
    self->source = g_strdup(paths[i]);
    index_lines(self);
    return TRUE;
  }
  g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
              "no PCI id database at %s or %s: install the pciutils or hwdata package to see "
              "device names",
              VXM_HOST_PCI_IDS, VXM_HOST_PCI_IDS_HWDATA);
  return FALSE;
}

VxmPciIds *
vxm_pci_ids_load(VxmHostfs *hostfs, GError **error)
{
  g_autoptr(VxmPciIds) self = g_object_new(VXM_TYPE_PCI_IDS, NULL);

  if (!read_database(self, hostfs, error))
    return NULL;
  return g_steal_pointer(&self);
}

VxmPciIds *
vxm_pci_ids_new_lazy(VxmHostfs *hostfs)
{
  VxmPciIds *self = g_object_new(VXM_TYPE_PCI_IDS, NULL);

  self->lazy_hostfs = g_object_ref(hostfs);
  return self;
}

/* The first lookup of a lazy database reads it; without a file it stays empty (no names). */
static void
ensure_loaded(VxmPciIds *self)
{
  g_autoptr(VxmHostfs) hostfs = g_steal_pointer(&self->lazy_hostfs);
  g_autoptr(GError) error = NULL;

  if (hostfs != NULL && !read_database(self, hostfs, &error))
    g_debug("%s", error->message);
}

const char *
vxm_pci_ids_get_source(VxmPciIds *self)
{
  ensure_loaded(self);
  return self->source;
}

guint
vxm_pci_ids_get_vendor_count(VxmPciIds *self)
{
  ensure_loaded(self);
  return self->vendors->len;
}

static Entry *
find_entry(GArray *entries, guint16 id)
{
  guint lo = 0, hi = entries->len;

  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;
    Entry *e = &g_array_index(entries, Entry, mid);

    if (e->id == id)
      return e;
    if (e->id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/* Walks the NUL-separated lines of a block. */
typedef struct {
  const char *p;
  const char *end;
} LineIter;

static const char *
line_iter_next(LineIter *it)
{
  const char *line;

  if (it->p >= it->end)
    return NULL;
  line = it->p;
  it->p += strlen(line) + 1;
  return line;
}

const char *
vxm_pci_ids_get_vendor_name(VxmPciIds *self, guint16 vendor_id)
{
  const Entry *v;

  ensure_loaded(self);
  v = find_entry(self->vendors, vendor_id);

  return v != NULL ? self->buf + v->name : NULL;
}

/* Indexes a vendor's device lines: one walk over its block, then binary searches. */
static GArray *
vendor_devices(VxmPciIds *self, Entry *v)
{
  LineIter it = {self->buf + v->body, self->buf + v->body_end};
  const char *line;
  guint order = 0;

  if (v->devices != NULL)
    return v->devices;
  v->devices = g_array_new(FALSE, FALSE, sizeof(Entry));
  while ((line = line_iter_next(&it)) != NULL) {
    const char *name;
    guint16 id;
    Entry e = {0};

    if (line[0] != '\t' || line[1] == '\t')
      continue;
    name = parse_id(line + 1, 4, &id);
    if (name == NULL || *name == '\0')
      continue;
    e.id = id;
    e.order = order++;
    e.name = (gsize)(name - self->buf);
    e.body = (gsize)(it.p - self->buf);
    e.body_end = v->body_end;
    g_array_append_val(v->devices, e);
  }
  sort_unique(v->devices);
  return v->devices;
}

/* The device's entry (its name, and where its subsystem lines start), or NULL. */
static const Entry *
find_device(VxmPciIds *self, guint16 vendor_id, guint16 device_id)
{
  Entry *v;

  ensure_loaded(self);
  v = find_entry(self->vendors, vendor_id);

  if (v == NULL)
    return NULL;
  return find_entry(vendor_devices(self, v), device_id);
}

const char *
vxm_pci_ids_get_device_name(VxmPciIds *self, guint16 vendor_id, guint16 device_id)
{
  const Entry *d = find_device(self, vendor_id, device_id);

  return d != NULL ? self->buf + d->name : NULL;
}

const char *
vxm_pci_ids_get_subsystem_name(VxmPciIds *self, guint16 vendor_id, guint16 device_id,
                               guint16 subvendor_id, guint16 subdevice_id)
{
  const Entry *d = find_device(self, vendor_id, device_id);
  LineIter it;
  const char *line;

  if (d == NULL)
    return NULL;
  it.p = self->buf + d->body;
  it.end = self->buf + d->body_end;
  while ((line = line_iter_next(&it)) != NULL) {
    const char *rest, *name;
    guint16 sv, sd;

    if (line[0] == '#')
      continue;
    if (line[0] != '\t' || line[1] != '\t')
      break; /* the next device */
    rest = parse_id(line + 2, 4, &sv);
    if (rest == NULL || sv != subvendor_id)
      continue;
    name = parse_id(rest, 4, &sd);
    if (name != NULL && sd == subdevice_id && *name != '\0')
      return name;
  }
  return NULL;
}

/* The names lspci uses for the classes a workstation's IOMMU groups hold, for when there is
 * no pci.ids (a minimal install, a test tree). */
static const struct {
  guint16 code;
  const char *name;
} builtin_classes[] = {
    {0x0100, "SCSI storage controller"},
    {0x0101, "IDE interface"},
    {0x0104, "RAID bus controller"},
    {0x0106, "SATA controller"},
    {0x0107, "Serial Attached SCSI controller"},
    {0x0108, "Non-Volatile memory controller"},
    {0x0200, "Ethernet controller"},
    {0x0280, "Network controller"},
    {0x0300, "VGA compatible controller"},
    {0x0302, "3D controller"},
    {0x0380, "Display controller"},
    {0x0401, "Multimedia audio controller"},
    {0x0403, "Audio device"},
    {0x0480, "Multimedia controller"},
    {0x0500, "RAM memory"},
    {0x0580, "Memory controller"},
    {0x0600, "Host bridge"},
    {0x0601, "ISA bridge"},
    {0x0604, "PCI bridge"},
    {0x0680, "Bridge"},
    {0x0700, "Serial controller"},
    {0x0780, "Communication controller"},
    {0x0805, "SD Host controller"},
    {0x0806, "IOMMU"},
    {0x0880, "System peripheral"},
    {0x0c03, "USB controller"},
    {0x0c05, "SMBus"},
    {0x0c80, "Serial bus controller"},
    {0x0d11, "Bluetooth"},
    {0x1080, "Encryption controller"},
    {0x1101, "Performance counters"},
    {0x1180, "Signal processing controller"},
    {0x1300, "Non-Essential Instrumentation"},
};

const char *
vxm_pci_ids_get_class_name(VxmPciIds *self, guint16 class_code)
{
  if (self != NULL)
    ensure_loaded(self);
  if (self != NULL) {
    const Entry *c = find_entry(self->classes, class_code >> 8);

    if (c != NULL) {
      LineIter it = {self->buf + c->body, self->buf + c->body_end};
      const char *line;

      while ((line = line_iter_next(&it)) != NULL) {
        const char *name;
        guint16 id;

        if (line[0] != '\t' || line[1] == '\t')
          continue;
        name = parse_id(line + 1, 2, &id);
        if (name != NULL && id == (class_code & 0xff) && *name != '\0')
          return name;
      }
    }
  }
  for (gsize i = 0; i < G_N_ELEMENTS(builtin_classes); i++) {
    if (builtin_classes[i].code == class_code)
      return builtin_classes[i].name;
  }
  if (self != NULL) {
    const Entry *c = find_entry(self->classes, class_code >> 8);

    if (c != NULL)
      return self->buf + c->name;
  }
  return NULL;
}
