/* vxm-hugepages: hugepages for one guest's RAM, reserved at start and given back at stop.
 *
 * Decides the page size (hugepages = auto | 2M | 1G | off; auto takes 1 GiB pages when the
 * pool already holds enough or they can be reserved now, else 2 MiB), picks the pool (the
 * guest GPU's NUMA node on a NUMA host, else the global one), and grows it by what is missing:
 * drop caches and compact memory first (each can be turned off), write the new count, read it
 * back, compact and retry a bounded number of times. Short: the pool goes back to its previous
 * count, and the result is an error saying how many pages were obtained and what to do, or,
 * when the config allows, normal memory with a warning. Release takes off the pool exactly the
 * pages this reservation added (never the pool's previous count: other VMs may have grown or
 * shrunk it since, and pages reserved at boot stay).
 *
 * Journaled: a "hugepages" entry with the pool, the pages added and the pages taken (also when
 * they came from free pages) is written before the pool is touched; pages other VMs' journals
 * took are not counted as free. vxm_hugepages_register_journal_kind() installs its undo for
 * teardown and `vxm recover`. Every read-then-write of a pool in the process holds one lock.
 */
#pragma once

#include "common/vxm-hostfs.h"
#include "journal/vxm-journal.h"
#include "memory/vxm-hugepage-pools.h"
#include "vm/vxm-vm-config.h"

G_BEGIN_DECLS

#define VXM_HUGEPAGES_JOURNAL_KIND "hugepages"
#define VXM_HUGEPAGES_MAX_TRIES    3

/* Progress of the slow part: @obtained of @target pages in the pool after try @attempt. */
typedef void (*VxmHugepagesProgressFunc)(const char *message, guint attempt, guint64 obtained,
                                         guint64 target, gpointer user_data);

typedef struct {
  VxmVmHugepages setting; /* auto, 2M, 1G, off */
  gboolean fallback;      /* short of pages: normal memory with a warning instead of failing */
  gint node;              /* the guest GPU's NUMA node, -1 when unknown */
  gboolean drop_caches;   /* echo 3 > /proc/sys/vm/drop_caches before reserving */
  gboolean compact;       /* echo 1 > /proc/sys/vm/compact_memory before and between tries */
  guint max_tries;        /* writes of the target before giving up */
  VxmJournal *journal;    /* NULL: not journaled (tests, dry runs) */
  VxmHugepagesProgressFunc progress;
  gpointer progress_data;
} VxmHugepagesRequest;

/* Defaults: auto, no fallback, no node, drop caches and compact on, VXM_HUGEPAGES_MAX_TRIES. */
void vxm_hugepages_request_init(VxmHugepagesRequest *request);
/* The same, from a VM's [memory] hugepages, hugepages_fallback and hugepages_compact. */
void vxm_hugepages_request_from_config(VxmHugepagesRequest *request, const VxmVmConfig *config,
                                       gint gpu_node);

/* One pool vxm_hugepages_reserve() would try, as it is now. */
typedef struct {
  guint64 page_size; /* 2 MiB or 1 GiB */
  gint node;         /* the pool: the GPU's node when it has its own pools, else -1 (global) */
  guint64 pages;     /* pages of this size the guest's RAM takes */
  guint64 available; /* free and not promised to anyone now */
} VxmHugepagesCandidate;

/* The guest's RAM must be whole pages of an explicit size: else a config error with the fix. */
gboolean vxm_hugepages_check_divides(guint64 memory_bytes, guint64 page_size,
                                     GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The pools vxm_hugepages_reserve() tries for @memory_bytes per @request, in its order (auto:
 * 1 GiB pages before 2 MiB ones), each with what it holds free now: the start plans its argv
 * and the dry run says what it will get from the same answer. Returns how many (0 to 2); 0
 * with @out_note set when the guest gets normal memory (off, or auto on a host without a
 * fitting size); -1 with @error for a size the host lacks or a RAM size it does not divide. */
gint vxm_hugepages_candidates(VxmHugepagePools *pools, guint64 memory_bytes,
                              const VxmHugepagesRequest *request, VxmHugepagesCandidate out[2],
                              char **out_note, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Which of the @n (1 or 2) candidates the start plans the guest's memory on: auto's 1 GiB
 * pages when their pool already has enough free, else the 2 MiB ones (the start still tries
 * the 1 GiB pages first). vxm start's plan and vxm check's prediction both ask this. */
guint vxm_hugepages_planned(const VxmHugepagesCandidate *candidates, gint n);

typedef struct {
  guint64 page_size;  /* 0: normal memory (off, or fell back) */
  gint node;          /* the pool used: -1 global */
  guint64 pages;      /* pages the guest's RAM takes */
  guint64 previous;   /* the pool's nr_hugepages before */
  guint64 target;     /* what was written (== previous when the pool already had enough) */
  guint64 obtained;   /* nr_hugepages read back after the last try */
  guint attempts;     /* writes of the target */
  gboolean changed;   /* the pool was grown: release takes @target - @previous back off it */
  char *warning;      /* fell back to normal memory: why (NULL otherwise) */
  gint journal_index; /* the "hugepages" entry, -1 when not journaled */
} VxmHugepages;

/* Reserves hugepages for @memory_bytes of guest RAM per @request. Returns a reservation
 * (page_size 0 for normal memory), or NULL: short of pages without fallback (NO_SPACE, the
 * message has the counts and the fixes), a page size the host lacks (UNSUPPORTED), a memory
 * size that is not a multiple of the page size (CONFIG), a write that failed. */
VxmHugepages *vxm_hugepages_reserve(VxmHostfs *hostfs, guint64 memory_bytes,
                                    const VxmHugepagesRequest *request,
                                    GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Takes the pages this reservation added off the pool and marks the journal entry undone
 * (@journal may be NULL). Idempotent. */
gboolean vxm_hugepages_release(VxmHugepages *self, VxmHostfs *hostfs, VxmJournal *journal,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;

void vxm_hugepages_free(VxmHugepages *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmHugepages, vxm_hugepages_free)

/* "4096 x 2 MiB pages (8 GiB) on NUMA node 1, pool 0 -> 4096", or "normal memory". */
char *vxm_hugepages_describe(const VxmHugepages *self);

/* Gives back every pool @journal grew (its "hugepages" entries not yet undone, last first),
 * each entry marked undone; other kinds are left alone. For the host ops, which name a VM,
 * not a reservation. Appends a line per pool to @report (may be NULL). */
gboolean vxm_hugepages_release_journaled(VxmHostfs *hostfs, VxmJournal *journal, GPtrArray *report,
                                         GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Registers the undo of "hugepages" journal entries (idempotent). */
void vxm_hugepages_register_journal_kind(void);

G_END_DECLS
