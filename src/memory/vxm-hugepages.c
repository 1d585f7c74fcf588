/* vxm-hugepages: reserves and releases a guest's hugepages, journaled. */
#include "vxm-hugepages.h"

#include <string.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"

/* Every read-then-write of a pool in this process (a reservation, a release, an undo) holds
 * this lock: vxmd serves several VMs at once, and two of them computing a pool's new count from
 * the same old one would lose one's pages or strip the other's. */
static GMutex pool_lock;

void
vxm_hugepages_request_init(VxmHugepagesRequest *request)
{
  memset(request, 0, sizeof(*request));
  request->setting = VXM_VM_HUGEPAGES_AUTO;
  request->node = -1;
  request->drop_caches = TRUE;
  request->compact = TRUE;
  request->max_tries = VXM_HUGEPAGES_MAX_TRIES;
}

void
vxm_hugepages_request_from_config(VxmHugepagesRequest *request, const VxmVmConfig *config,
                                  gint gpu_node)
{
  vxm_hugepages_request_init(request);
  request->setting = config->hugepages;
  request->fallback = config->hugepages_fallback;
  request->node = gpu_node;
  request->drop_caches = config->hugepages_compact;
  request->compact = config->hugepages_compact;
}

void
vxm_hugepages_free(VxmHugepages *self)
{
  if (self == NULL)
    return;
  g_free(self->warning);
  g_free(self);
}

static VxmHugepages *
hugepages_new(void)
{
  VxmHugepages *self = g_new0(VxmHugepages, 1);
  self->node = -1;
  self->journal_index = -1;
  return self;
}

/* echo $count > /sys/kernel/mm/hugepages/hugepages-$SIZE/nr_hugepages
 * (or /sys/devices/system/node/node$N/hugepages/hugepages-$SIZE/nr_hugepages), then read back */
static gboolean
write_pool(VxmHostfs *hostfs, guint64 page_size, gint node, guint64 count, guint64 *out_nr,
           GError **error)
{
  g_autofree char *path = vxm_hugepage_pool_attr_path(page_size, node, "nr_hugepages");
  g_autofree char *value = g_strdup_printf("%" G_GUINT64_FORMAT, count);

  if (!vxm_hostfs_write_attr(hostfs, path, value, error))
    return FALSE;
  return vxm_hostfs_read_attr_uint64(hostfs, path, 10, out_nr, error);
}

/* echo 3 > /proc/sys/vm/drop_caches */
static gboolean
drop_caches(VxmHostfs *hostfs, GError **error)
{
  return vxm_hostfs_write_attr(hostfs, VXM_HOST_PROC_DROP_CACHES, "3", error);
}

/* echo 1 > /proc/sys/vm/compact_memory */
static gboolean
compact_memory(VxmHostfs *hostfs, GError **error)
{
  return vxm_hostfs_write_attr(hostfs, VXM_HOST_PROC_COMPACT_MEMORY, "1", error);
}

static void report(const VxmHugepagesRequest *req, guint attempt, guint64 obtained, guint64 target,
                   const char *format, ...) G_GNUC_PRINTF(5, 6);

static void
report(const VxmHugepagesRequest *req, guint attempt, guint64 obtained, guint64 target,
       const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  if (req->progress == NULL)
    return;
  va_start(args, format);
  message = g_strdup_vprintf(format, args);
  va_end(args);
  req->progress(message, attempt, obtained, target, req->progress_data);
}

/* What this VM did to the pool: "added" pages it grew the pool by (its release takes exactly
 * those off the pool as it is then, whatever other VMs did meanwhile) and "took" pages it uses
 * (promised to it: another VM's reservation does not count them as free). "previous" and
 * "target" are for the reader. */
static JsonObject *
journal_data(guint64 page_size, gint node, guint64 previous, guint64 target, guint64 took)
{
  JsonObject *data = json_object_new();

  json_object_set_int_member(data, "page_size_kb", (gint64)(page_size >> 10));
  json_object_set_int_member(data, "node", node);
  json_object_set_int_member(data, "previous", (gint64)previous);
  json_object_set_int_member(data, "target", (gint64)target);
  json_object_set_int_member(data, "added", (gint64)(target - previous));
  json_object_set_int_member(data, "took", (gint64)took);
  return data;
}

/* Pages of @page_size on @node that other VMs' journals (not @journal) took and have not given
 * back: free in the pool until their QEMU maps them, yet theirs. Counted even once mapped (then
 * no longer free), so a reservation may grow the pool by more than it strictly must, never
 * by less. */
static guint64
promised_elsewhere(VxmHostfs *hostfs, VxmJournal *journal, guint64 page_size, gint node)
{
  g_autoptr(GPtrArray) names = journal != NULL ? vxm_journal_list(hostfs, NULL) : NULL;
  guint64 total = 0;

  for (guint i = 0; names != NULL && i < names->len; i++) {
    g_autoptr(VxmJournal) other = NULL;

    if (g_strcmp0(names->pdata[i], vxm_journal_get_name(journal)) == 0)
      continue;
    other = vxm_journal_load(hostfs, names->pdata[i], NULL);
    for (guint j = 0; other != NULL && j < vxm_journal_get_n_entries(other); j++) {
      VxmJournalEntry *entry = vxm_journal_get_entry(other, j);

      if (g_strcmp0(entry->kind, VXM_HUGEPAGES_JOURNAL_KIND) != 0 ||
          entry->state == VXM_JOURNAL_STATE_UNDONE ||
          json_object_get_int_member_with_default(entry->data, "page_size_kb", -1) !=
              (gint64)(page_size >> 10) ||
          json_object_get_int_member_with_default(entry->data, "node", -2) != node)
        continue;
      total += (guint64)MAX(0, json_object_get_int_member_with_default(entry->data, "took", 0));
    }
  }
  return total;
}

typedef enum {
  TRY_OK,    /* the pool holds what the guest needs */
  TRY_SHORT, /* the kernel gave fewer pages; the pool is back at its previous count */
  TRY_ERROR, /* a write failed */
} TryResult;

static void
journal_finish(const VxmHugepagesRequest *req, VxmHugepages *self, VxmJournalState state,
               const char *message)
{
  g_autoptr(GError) local_error = NULL;

  if (req->journal == NULL || self->journal_index < 0)
    return;
  /* The entry stays an intent on failure; undo checks the host, so nothing is lost. */
  if (!vxm_journal_finish(req->journal, (guint)self->journal_index, state, message, &local_error))
    g_warning("cannot update the journal: %s", local_error->message);
}

/* Grows the pool of @page_size on @node until it has @pages free pages for the guest. */
static TryResult
try_reserve(VxmHostfs *hostfs, VxmHugepages *self, guint64 pages, guint64 page_size, gint node,
            const VxmHugepagesRequest *req, GError **error)
{
  VxmHugepagePool pool;
  guint64 available, promised, nr = 0;
  g_autofree char *what = vxm_hugepage_pool_describe(page_size, node);
  guint max_tries = MAX(1u, req->max_tries);

  self->page_size = page_size;
  self->node = node;
  self->pages = pages;
  self->changed = FALSE;
  self->journal_index = -1;
  self->attempts = 0;
  if (!vxm_hugepage_pool_read(hostfs, page_size, node, &pool, error))
    return TRY_ERROR;
  self->previous = self->target = self->obtained = pool.nr;
  available = pool.free > pool.resv ? pool.free - pool.resv : 0;
  promised = promised_elsewhere(hostfs, req->journal, page_size, node);
  available = available > promised ? available - promised : 0;
  if (available >= pages) {
    report(req, 0, pool.nr, pool.nr, "%s already has %" G_GUINT64_FORMAT " free pages", what,
           available);
    if (req->journal != NULL) {
      g_autoptr(JsonObject) data = journal_data(page_size, node, pool.nr, pool.nr, pages);
      guint index;

      /* nothing to give back, but the pages are this VM's now */
      if (!vxm_journal_begin(req->journal, VXM_HUGEPAGES_JOURNAL_KIND, data, &index, error) ||
          !vxm_journal_finish(req->journal, index, VXM_JOURNAL_STATE_DONE, NULL, error)) {
        g_prefix_error(error, "cannot journal the reservation in %s: ", what);
        return TRY_ERROR;
      }
      self->journal_index = (gint)index;
    }
    return TRY_OK;
  }
  self->target = pool.nr + (pages - available);

  if (req->journal != NULL) {
    g_autoptr(JsonObject) data = journal_data(page_size, node, self->previous, self->target, pages);
    guint index;

    if (!vxm_journal_begin(req->journal, VXM_HUGEPAGES_JOURNAL_KIND, data, &index, error)) {
      g_prefix_error(error, "cannot journal the reservation in %s: ", what);
      return TRY_ERROR;
    }
    self->journal_index = (gint)index;
  }

  /* Freeing the page cache and compacting gives the kernel contiguous memory to build pages
   * from; neither is essential, so a failure is reported and the reservation goes on. */
  if (req->drop_caches) {
    g_autoptr(GError) local_error = NULL;
    report(req, 0, pool.nr, self->target, "dropping caches");
    if (!drop_caches(hostfs, &local_error))
      report(req, 0, pool.nr, self->target, "%s", local_error->message);
  }
  for (guint attempt = 1; attempt <= max_tries; attempt++) {
    if (req->compact) {
      g_autoptr(GError) local_error = NULL;
      report(req, attempt, nr, self->target, "compacting memory");
      if (!compact_memory(hostfs, &local_error))
        report(req, attempt, nr, self->target, "%s", local_error->message);
    }
    self->changed = TRUE;
    if (!write_pool(hostfs, page_size, node, self->target, &nr, error)) {
      g_autoptr(GError) restore_error = NULL;
      guint64 back;
      g_prefix_error(error, "cannot grow %s to %" G_GUINT64_FORMAT " pages: ", what, self->target);
      if (write_pool(hostfs, page_size, node, self->previous, &back, &restore_error) &&
          back == self->previous) {
        self->changed = FALSE;
        journal_finish(req, self, VXM_JOURNAL_STATE_UNDONE, "the write failed; pool restored");
      }
      return TRY_ERROR;
    }
    self->attempts = attempt;
    self->obtained = nr;
    report(req, attempt, nr, self->target,
           "%s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " pages after try %u of %u", what, nr,
           self->target, attempt, max_tries);
    if (nr >= self->target) {
      journal_finish(req, self, VXM_JOURNAL_STATE_DONE, NULL);
      return TRY_OK;
    }
  }

  /* Short: give back what was obtained, so the host is as it was. */
  {
    g_autofree char *message = NULL;
    guint64 back = 0;
    if (!write_pool(hostfs, page_size, node, self->previous, &back, error)) {
      g_prefix_error(error, "cannot give %s back its previous %" G_GUINT64_FORMAT " pages: ", what,
                     self->previous);
      return TRY_ERROR;
    }
    self->changed = back != self->previous;
    message = g_strdup_printf("short: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                              " pages; pool back at %" G_GUINT64_FORMAT,
                              self->obtained, self->target, back);
    if (!self->changed)
      journal_finish(req, self, VXM_JOURNAL_STATE_UNDONE, message);
  }
  return TRY_SHORT;
}

static char *
short_message(const VxmHugepages *self, guint64 memory_bytes)
{
  g_autofree char *size = vxm_hugepage_size_to_string(self->page_size);
  g_autofree char *memory = vxm_format_bytes(memory_bytes);
  g_autofree char *what = vxm_hugepage_pool_describe(self->page_size, self->node);
  guint64 got = self->pages - (self->target - MIN(self->obtained, self->target));
  const char *size_opt = self->page_size == VXM_HUGEPAGE_SIZE_1G ? "1G" : "2M";

  return g_strdup_printf(
      "only %" G_GUINT64_FORMAT " of the %" G_GUINT64_FORMAT " %s pages the guest's %s of RAM "
      "needs could be had from %s after %u tr%s (the pool is back at %" G_GUINT64_FORMAT
      " pages): close memory-hungry programs and start again, or reserve them at boot with "
      "the kernel command line option 'hugepagesz=%s hugepages=%" G_GUINT64_FORMAT "', or set "
      "[memory] hugepages_fallback = true to start with normal memory",
      got, self->pages, size, memory, what, self->attempts, self->attempts == 1 ? "y" : "ies",
      self->previous, size_opt, self->target);
}

/* The pool to use: the GPU's node when the host has several with pools of their own. */
static gint
choose_node(VxmHugepagePools *pools, gint node, guint64 page_size)
{
  const GArray *nodes = vxm_hugepage_pools_get_nodes(pools);

  if (node < 0 || nodes->len < 2)
    return -1;
  return vxm_hugepage_pools_get(pools, page_size, node) != NULL ? node : -1;
}

gboolean
vxm_hugepages_check_divides(guint64 memory_bytes, guint64 page_size, GError **error)
{
  g_autofree char *memory = NULL;
  g_autofree char *size_text = NULL;

  if (page_size != 0 && memory_bytes % page_size == 0)
    return TRUE;
  memory = vxm_format_bytes(memory_bytes);
  size_text = vxm_hugepage_size_to_string(page_size);
  g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
              "[memory] size = %s is not a whole number of %s pages: use a multiple of %s, "
              "or hugepages = 2M",
              memory, size_text, size_text);
  return FALSE;
}

gint
vxm_hugepages_candidates(VxmHugepagePools *pools, guint64 memory_bytes,
                         const VxmHugepagesRequest *req, VxmHugepagesCandidate out[2],
                         char **out_note, GError **error)
{
  guint64 sizes[2];
  guint n_sizes = 0;
  gboolean has_2m = vxm_hugepage_pools_has_size(pools, VXM_HUGEPAGE_SIZE_2M);
  gboolean has_1g = vxm_hugepage_pools_has_size(pools, VXM_HUGEPAGE_SIZE_1G);

  switch (req->setting) {
  case VXM_VM_HUGEPAGES_OFF:
    *out_note = g_strdup("[memory] hugepages = off: normal memory");
    return 0;
  case VXM_VM_HUGEPAGES_2M:
  case VXM_VM_HUGEPAGES_1G: {
    guint64 size =
        req->setting == VXM_VM_HUGEPAGES_1G ? VXM_HUGEPAGE_SIZE_1G : VXM_HUGEPAGE_SIZE_2M;
    g_autofree char *size_text = vxm_hugepage_size_to_string(size);
    if (!(req->setting == VXM_VM_HUGEPAGES_1G ? has_1g : has_2m)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
                  "[memory] hugepages = %s, but this host offers no %s pages (%s has no "
                  "hugepages-%" G_GUINT64_FORMAT "kB): use hugepages = auto or off",
                  vxm_vm_hugepages_to_string(req->setting), size_text, VXM_HOST_SYS_HUGEPAGES,
                  size >> 10);
      return -1;
    }
    if (!vxm_hugepages_check_divides(memory_bytes, size, error))
      return -1;
    sizes[n_sizes++] = size;
    break;
  }
  case VXM_VM_HUGEPAGES_AUTO:
    if (has_1g && memory_bytes % VXM_HUGEPAGE_SIZE_1G == 0)
      sizes[n_sizes++] = VXM_HUGEPAGE_SIZE_1G;
    if (has_2m && memory_bytes % VXM_HUGEPAGE_SIZE_2M == 0)
      sizes[n_sizes++] = VXM_HUGEPAGE_SIZE_2M;
    if (n_sizes == 0) {
      *out_note = g_strdup_printf("this host offers no hugepages that fit the guest's RAM "
                                  "(%s): starting with normal memory",
                                  VXM_HOST_SYS_HUGEPAGES);
      return 0;
    }
    break;
  }
  for (guint i = 0; i < n_sizes; i++) {
    const VxmHugepagePool *pool;

    out[i].page_size = sizes[i];
    out[i].node = choose_node(pools, req->node, sizes[i]);
    out[i].pages = memory_bytes / sizes[i];
    pool = vxm_hugepage_pools_get(pools, sizes[i], out[i].node);
    out[i].available = pool != NULL && pool->free > pool->resv ? pool->free - pool->resv : 0;
  }
  return (gint)n_sizes;
}

guint
vxm_hugepages_planned(const VxmHugepagesCandidate *candidates, gint n)
{
  return n == 2 && candidates[0].available < candidates[0].pages ? 1 : 0;
}

static VxmHugepages *
reserve_locked(VxmHostfs *hostfs, guint64 memory_bytes, const VxmHugepagesRequest *req,
               GError **error)
{
  g_autoptr(VxmHugepages) self = hugepages_new();
  g_autoptr(VxmHugepagePools) pools = NULL;
  g_autofree char *short_text = NULL;
  VxmHugepagesCandidate candidates[2];
  gint n;

  if (req->setting == VXM_VM_HUGEPAGES_OFF)
    return g_steal_pointer(&self);
  if (memory_bytes == 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT, "no guest memory size to reserve");
    return NULL;
  }
  pools = vxm_hugepage_pools_read(hostfs, error);
  if (pools == NULL) {
    g_prefix_error(error, "cannot read the host's hugepage pools: ");
    return NULL;
  }
  n = vxm_hugepages_candidates(pools, memory_bytes, req, candidates, &self->warning, error);
  if (n < 0)
    return NULL;
  if (n == 0)
    return g_steal_pointer(&self);

  for (gint i = 0; i < n; i++) {
    const VxmHugepagesCandidate *c = &candidates[i];
    VxmHugepagesRequest this_try = *req;

    /* auto's 1 GiB pages are worth one try, not the whole retry budget: when the kernel cannot
     * make them at run time, compacting again rarely helps and 2 MiB pages are the answer;
     * the caches need dropping only once */
    if (i + 1 < n)
      this_try.max_tries = 1;
    if (i > 0)
      this_try.drop_caches = FALSE;
    switch (try_reserve(hostfs, self, c->pages, c->page_size, c->node, &this_try, error)) {
    case TRY_OK: return g_steal_pointer(&self);
    case TRY_ERROR: return NULL;
    case TRY_SHORT:
      g_free(short_text);
      short_text = short_message(self, memory_bytes);
      if (i + 1 < n) {
        g_autofree char *size = vxm_hugepage_size_to_string(candidates[i + 1].page_size);
        report(req, 0, 0, 0, "not enough pages of this size; trying %s pages", size);
      }
      break;
    }
  }
  if (req->fallback) {
    self->warning =
        g_strdup_printf("%s; starting with normal memory (hugepages_fallback)", short_text);
    self->page_size = 0;
    self->changed = FALSE;
    return g_steal_pointer(&self);
  }
  g_set_error_literal(error, VXM_ERROR, VXM_ERROR_NO_SPACE, short_text);
  return NULL;
}

VxmHugepages *
vxm_hugepages_reserve(VxmHostfs *hostfs, guint64 memory_bytes, const VxmHugepagesRequest *req,
                      GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&pool_lock);

  return reserve_locked(hostfs, memory_bytes, req, error);
}

/* echo $((nr - added)) > .../hugepages-$SIZE/nr_hugepages: the pages one VM added taken off
 * the pool as it is now (others may have grown or shrunk it since). Pages still mapped become
 * surplus and go back to the kernel when their user frees them. With pool_lock held. */
static gboolean
give_back(VxmHostfs *hostfs, guint64 page_size, gint node, guint64 added, char **out_message,
          GError **error)
{
  g_autofree char *path = vxm_hugepage_pool_attr_path(page_size, node, "nr_hugepages");
  g_autofree char *what = vxm_hugepage_pool_describe(page_size, node);
  guint64 nr = 0, want, back = 0;

  if (added == 0)
    return TRUE;
  if (!vxm_hostfs_read_attr_uint64(hostfs, path, 10, &nr, error))
    return FALSE;
  want = nr > added ? nr - added : 0;
  if (!write_pool(hostfs, page_size, node, want, &back, error)) {
    g_prefix_error(error,
                   "cannot give the %" G_GUINT64_FORMAT " pages this VM added back to %s: ", added,
                   what);
    return FALSE;
  }
  if (out_message != NULL)
    *out_message = g_strdup_printf("%s: %" G_GUINT64_FORMAT " pages given back (%" G_GUINT64_FORMAT
                                   " -> %" G_GUINT64_FORMAT ")",
                                   what, added, nr, back);
  return TRUE;
}

gboolean
vxm_hugepages_release(VxmHugepages *self, VxmHostfs *hostfs, VxmJournal *journal, GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&pool_lock);
  g_autofree char *message = NULL;

  if (!self->changed)
    return TRUE;
  if (!give_back(hostfs, self->page_size, self->node, self->target - self->previous, &message,
                 error))
    return FALSE;
  self->changed = FALSE;
  if (journal != NULL && self->journal_index >= 0) {
    if (!vxm_journal_finish(journal, (guint)self->journal_index, VXM_JOURNAL_STATE_UNDONE, message,
                            error))
      return FALSE;
  }
  return TRUE;
}

char *
vxm_hugepages_describe(const VxmHugepages *self)
{
  g_autofree char *size = NULL;
  g_autofree char *total = NULL;

  if (self->page_size == 0)
    return g_strdup("normal memory");
  size = vxm_hugepage_size_to_string(self->page_size);
  total = vxm_format_bytes(self->pages * self->page_size);
  if (self->node >= 0)
    return g_strdup_printf("%" G_GUINT64_FORMAT
                           " x %s pages (%s) on NUMA node %d, pool %" G_GUINT64_FORMAT
                           " -> %" G_GUINT64_FORMAT,
                           self->pages, size, total, self->node, self->previous, self->target);
  return g_strdup_printf("%" G_GUINT64_FORMAT " x %s pages (%s), pool %" G_GUINT64_FORMAT
                         " -> %" G_GUINT64_FORMAT,
                         self->pages, size, total, self->previous, self->target);
}

/* Undo of a "hugepages" entry: the pages the VM added taken off the pool ("added"; none when
 * it was served from free pages). An intent may or may not have reached the kernel: at most
 * what the pool holds above the count it had then is given back. An entry of an older vxm
 * (no "added") has the pool's previous count written back, as that vxm did. */
static gboolean
undo_hugepages(const VxmJournalUndoContext *ctx, const VxmJournalEntry *entry, char **out_message,
               GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&pool_lock);
  gint64 page_kb = json_object_get_int_member_with_default(entry->data, "page_size_kb", -1);
  gint64 node = json_object_get_int_member_with_default(entry->data, "node", -2);
  gint64 previous = json_object_get_int_member_with_default(entry->data, "previous", -1);
  gint64 added = json_object_get_int_member_with_default(entry->data, "added", -1);
  g_autofree char *path = NULL;
  g_autofree char *what = NULL;
  guint64 nr, page_size;

  if (page_kb <= 0 || node < -1 || node > G_MAXINT || previous < 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "hugepages journal entry lacks page_size_kb, node or previous");
    return FALSE;
  }
  page_size = (guint64)page_kb << 10;
  path = vxm_hugepage_pool_attr_path(page_size, (gint)node, "nr_hugepages");
  what = vxm_hugepage_pool_describe(page_size, (gint)node);
  if (!vxm_hostfs_read_attr_uint64(ctx->hostfs, path, 10, &nr, error))
    return FALSE;
  if (added >= 0) {
    guint64 give = (guint64)added;

    if (entry->state != VXM_JOURNAL_STATE_DONE)
      give = MIN(give, nr > (guint64)previous ? nr - (guint64)previous : 0);
    return give_back(ctx->hostfs, page_size, (gint)node, give, out_message, error);
  }
  if (nr == (guint64)previous)
    return TRUE;
  /* echo $previous > .../hugepages-$SIZE/nr_hugepages */
  if (!write_pool(ctx->hostfs, page_size, (gint)node, (guint64)previous, &nr, error)) {
    g_prefix_error(error, "cannot give %s back its previous %" G_GINT64_FORMAT " pages: ", what,
                   previous);
    return FALSE;
  }
  *out_message = g_strdup_printf("%s back to %" G_GINT64_FORMAT " pages", what, previous);
  return TRUE;
}

gboolean
vxm_hugepages_release_journaled(VxmHostfs *hostfs, VxmJournal *journal, GPtrArray *report,
                                GError **error)
{
  VxmJournalUndoContext ctx = {.hostfs = hostfs};

  for (guint i = vxm_journal_get_n_entries(journal); i > 0; i--) {
    VxmJournalEntry *entry = vxm_journal_get_entry(journal, i - 1);
    g_autofree char *message = NULL;

    if (g_strcmp0(entry->kind, VXM_HUGEPAGES_JOURNAL_KIND) != 0 ||
        entry->state == VXM_JOURNAL_STATE_UNDONE)
      continue;
    if (!undo_hugepages(&ctx, entry, &message, error))
      return FALSE;
    if (!vxm_journal_finish(journal, i - 1, VXM_JOURNAL_STATE_UNDONE, message, error))
      return FALSE;
    if (report != NULL && message != NULL)
      g_ptr_array_add(report, g_strdup(message));
  }
  return TRUE;
}

void
vxm_hugepages_register_journal_kind(void)
{
  vxm_journal_register_kind(VXM_HUGEPAGES_JOURNAL_KIND, undo_hugepages);
}
