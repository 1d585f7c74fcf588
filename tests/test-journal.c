#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "journal/vxm-journal.h"
#include "vxm-test-util.h"

typedef struct {
  char *root;
  VxmHostfs *hostfs;
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
  f->root = vxm_test_mkdtemp();
  f->hostfs = vxm_hostfs_new(f->root);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
  vxm_test_rm_rf(f->root);
  g_free(f->root);
  g_object_unref(f->hostfs);
}

/* A test kind: undo appends the entry's "n" to undo_log; fails while fail_n matches. */
static GString *undo_log;
static int fail_n = -1;

static gboolean
test_undo(const VxmJournalUndoContext *ctx, const VxmJournalEntry *entry, char **out_message,
          GError **error)
{
  const char *n = vxm_journal_entry_get_string(entry, "n");

  if (fail_n >= 0 && n != NULL && atoi(n) == fail_n) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY, "test entry %s is busy", n);
    return FALSE;
  }
  g_string_append(undo_log, n);
  *out_message = g_strdup_printf("restored %s", n);
  return TRUE;
}

static JsonObject *
data_n(int n)
{
  JsonObject *obj = json_object_new();
  g_autofree char *text = g_strdup_printf("%d", n);

  json_object_set_string_member(obj, "n", text);
  return obj;
}

static void
add_entries(VxmJournal *journal, int count)
{
  for (int i = 1; i <= count; i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonObject) data = data_n(i);
    guint index = 0;

    g_assert_true(vxm_journal_begin(journal, "test", data, &index, &error));
    g_assert_no_error(error);
    g_assert_true(vxm_journal_finish(journal, index, VXM_JOURNAL_STATE_DONE, NULL, &error));
    g_assert_no_error(error);
  }
}

static void
test_atomic_write(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmJournal) journal = vxm_journal_new(f->hostfs, "win11", &error);
  g_autoptr(VxmJournal) again = NULL;
  g_autoptr(VxmJournal) loaded = NULL;
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(JsonObject) obj = data_n(1);
  g_autofree char *path = NULL;
  struct stat st;
  guint index = 99;

  g_assert_no_error(error);
  /* nothing on disk before the first change */
  g_assert_false(vxm_journal_exists(f->hostfs, "win11"));
  g_assert_true(vxm_journal_begin(journal, "test", obj, &index, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(index, ==, 0);

  /* the intent is on disk before the caller changes anything */
  loaded = vxm_journal_load(f->hostfs, "win11", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(vxm_journal_get_n_entries(loaded), ==, 1);
  g_assert_cmpint(vxm_journal_get_entry(loaded, 0)->state, ==, VXM_JOURNAL_STATE_INTENT);
  g_assert_cmpstr(vxm_journal_entry_get_string(vxm_journal_get_entry(loaded, 0), "n"), ==, "1");
  g_assert_cmpint(vxm_journal_get_owner_status(loaded), ==, VXM_JOURNAL_OWNER_ALIVE);
  g_assert_cmpint(vxm_journal_get_owner(loaded)->pid, ==, getpid());

  /* root-only file, no temporary left beside it */
  path = g_build_filename(f->root, "run/vxm/journal/win11.json", NULL);
  g_assert_cmpint(stat(path, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);
  files = vxm_hostfs_list_dir(f->hostfs, VXM_HOST_RUN_VXM_JOURNAL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(files->len, ==, 1);

  /* a second journal of the same name is refused */
  again = vxm_journal_new(f->hostfs, "win11", &error);
  g_assert_error(error, VXM_ERROR, VXM_ERROR_EXISTS);
  g_assert_null(again);
}

static void
test_corrupt_kept_aside(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmJournal) journal = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autofree char *aside = g_build_filename(f->root, "run/vxm/journal/win11.json.corrupt", NULL);
  const char *cases[] = {"{\"version\": 1, \"name\": \"win11\", \"entr", "",
                         "{\"version\": 1, \"name\": \"win11\", \"entries\": [{\"kind\": 3}]}",
                         "[1, 2]"};

  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_clear_error(&error);
    vxm_test_write_file(f->root, "run/vxm/journal/win11.json", cases[i]);
    journal = vxm_journal_load(f->hostfs, "win11", &error);
    g_assert_null(journal);
    g_assert_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL);
    g_assert_nonnull(strstr(error->message, "/run/vxm/journal/win11.json is corrupt"));
    g_assert_nonnull(strstr(error->message, "kept aside as /run/vxm/journal/win11.json.corrupt"));
    g_assert_true(g_file_test(aside, G_FILE_TEST_EXISTS));
    g_assert_false(vxm_journal_exists(f->hostfs, "win11"));
  }
  g_clear_error(&error);
  names = vxm_journal_list(f->hostfs, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(names->len, ==, 0);
}

static void
write_owned_journal(Fixture *f, const char *name, gint64 pid, guint64 start_time)
{
  g_autofree char *text = g_strdup_printf(
      "{\"version\": 1, \"name\": \"%s\", \"created\": \"2026-01-01T00:00:00Z\", \"owner\": "
      "{\"pid\": %" G_GINT64_FORMAT ", \"start_time\": %" G_GUINT64_FORMAT ", \"uid\": 0}, "
      "\"held\": null, \"entries\": [{\"kind\": \"test\", \"state\": \"done\", \"time\": "
      "\"2026-01-01T00:00:00Z\", \"data\": {\"n\": \"1\"}}]}",
      name, pid, start_time);
  g_autofree char *rel = g_strdup_printf("run/vxm/journal/%s.json", name);

  vxm_test_write_file(f->root, rel, text);
}

static void
test_owner_liveness(Fixture *f, gconstpointer data)
{
  g_autoptr(VxmHostfs) real = vxm_hostfs_new(NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmJournal) same = NULL;
  g_autoptr(VxmJournal) reused = NULL;
  g_autoptr(VxmJournal) dead = NULL;
  g_autoptr(VxmJournal) other = NULL;
  guint64 self_start = 0, init_start = 0;

  g_assert_true(vxm_process_get_start_time(real, getpid(), &self_start, &error));
  g_assert_true(vxm_process_get_start_time(real, 1, &init_start, &error));
  g_assert_no_error(error);

  write_owned_journal(f, "same", getpid(), self_start);
  /* our pid, but another start time: the pid was reused, the owner is gone */
  write_owned_journal(f, "reused", getpid(), self_start + 1);
  write_owned_journal(f, "dead", G_MAXINT32 - 1, 12345);
  write_owned_journal(f, "other", 1, init_start);

  same = vxm_journal_load(f->hostfs, "same", &error);
  reused = vxm_journal_load(f->hostfs, "reused", &error);
  dead = vxm_journal_load(f->hostfs, "dead", &error);
  other = vxm_journal_load(f->hostfs, "other", &error);
  g_assert_no_error(error);
  g_assert_cmpint(vxm_journal_get_owner_status(same), ==, VXM_JOURNAL_OWNER_ALIVE);
  g_assert_cmpint(vxm_journal_get_owner_status(reused), ==, VXM_JOURNAL_OWNER_GONE);
  g_assert_cmpint(vxm_journal_get_owner_status(dead), ==, VXM_JOURNAL_OWNER_GONE);
  g_assert_cmpint(vxm_journal_get_owner_status(other), ==, VXM_JOURNAL_OWNER_ALIVE);

  /* a live owner's journal cannot be taken over; a gone one's can */
  g_assert_false(vxm_journal_claim(other, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_BUSY);
  g_clear_error(&error);
  g_assert_true(vxm_journal_claim(reused, &error));
  g_assert_no_error(error);
  g_assert_cmpint(vxm_journal_get_owner_status(reused), ==, VXM_JOURNAL_OWNER_ALIVE);

  /* held: no owner, recover leaves it */
  g_assert_true(vxm_journal_hold(dead, "detached by hand", &error));
  g_assert_no_error(error);
  g_clear_pointer(&dead, vxm_journal_free);
  dead = vxm_journal_load(f->hostfs, "dead", &error);
  g_assert_no_error(error);
  g_assert_cmpint(vxm_journal_get_owner_status(dead), ==, VXM_JOURNAL_OWNER_HELD);
  g_assert_cmpstr(vxm_journal_get_held(dead), ==, "detached by hand");
  g_assert_null(vxm_journal_get_owner(dead));
}

static void
test_undo_reverse_idempotent(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmJournal) journal = vxm_journal_new(f->hostfs, "vm", &error);
  g_autoptr(VxmJournal) loaded = NULL;
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func(g_free);
  VxmJournalUndoContext ctx = {.hostfs = f->hostfs};

  vxm_journal_register_kind("test", test_undo);
  undo_log = g_string_new(NULL);
  add_entries(journal, 4);

  /* entry 2 fails: the others are still undone, last first, and 2 is kept */
  fail_n = 2;
  g_assert_false(vxm_journal_undo(journal, &ctx, report, &error));
  g_assert_error(error, VXM_ERROR, VXM_ERROR_STUCK);
  g_assert_nonnull(strstr(error->message, "test entry 2 is busy"));
  g_clear_error(&error);
  g_assert_cmpstr(undo_log->str, ==, "431");
  g_assert_cmpuint(report->len, ==, 4);
  g_assert_cmpstr(g_ptr_array_index(report, 0), ==, "restored 4");
  g_assert_cmpstr(g_ptr_array_index(report, 2), ==, "not restored: test entry 2 is busy");

  /* what is on disk says exactly what is left */
  loaded = vxm_journal_load(f->hostfs, "vm", &error);
  g_assert_no_error(error);
  g_assert_cmpint(vxm_journal_get_entry(loaded, 0)->state, ==, VXM_JOURNAL_STATE_UNDONE);
  g_assert_cmpint(vxm_journal_get_entry(loaded, 1)->state, ==, VXM_JOURNAL_STATE_DONE);
  g_assert_false(vxm_journal_is_clear(loaded));

  /* a second run undoes only what is left, then removes the journal */
  fail_n = -1;
  g_string_truncate(undo_log, 0);
  g_assert_true(vxm_journal_undo(loaded, &ctx, NULL, &error));
  g_assert_no_error(error);
  g_assert_cmpstr(undo_log->str, ==, "2");
  g_assert_false(vxm_journal_exists(f->hostfs, "vm"));
  g_string_free(undo_log, TRUE);
}

/* keep_bound: the supervisor undoes everything but the binding, then holds the journal */
static void
test_undo_skip_kinds(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmJournal) journal = vxm_journal_new(f->hostfs, "vm", &error);
  g_autoptr(VxmJournal) loaded = NULL;
  g_autoptr(JsonObject) bind = data_n(1);
  const char *const skip[] = {"kept", NULL};
  VxmJournalUndoContext ctx = {.hostfs = f->hostfs, .skip_kinds = skip};
  guint index;

  vxm_journal_register_kind("test", test_undo);
  vxm_journal_register_kind("kept", test_undo);
  undo_log = g_string_new(NULL);
  g_assert_true(vxm_journal_begin(journal, "kept", bind, &index, &error));
  add_entries(journal, 2);
  g_assert_true(vxm_journal_undo(journal, &ctx, NULL, &error));
  g_assert_no_error(error);
  g_assert_cmpstr(undo_log->str, ==, "21");
  g_assert_true(vxm_journal_hold(journal, "keep_bound of VM vm", &error));
  loaded = vxm_journal_load(f->hostfs, "vm", &error);
  g_assert_no_error(error);
  g_assert_cmpint(vxm_journal_get_owner_status(loaded), ==, VXM_JOURNAL_OWNER_HELD);
  g_assert_cmpint(vxm_journal_get_entry(loaded, 0)->state, ==, VXM_JOURNAL_STATE_INTENT);
  g_assert_false(vxm_journal_is_clear(loaded));
  g_string_free(undo_log, TRUE);
}

static void
test_unknown_kind(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VxmJournal) journal = vxm_journal_new(f->hostfs, "vm", &error);
  g_autoptr(JsonObject) obj = json_object_new();
  VxmJournalUndoContext ctx = {.hostfs = f->hostfs};
  guint index;

  g_assert_true(vxm_journal_begin(journal, "from-the-future", obj, &index, &error));
  g_assert_false(vxm_journal_undo(journal, &ctx, NULL, &error));
  g_assert_nonnull(strstr(error->message, "kind 'from-the-future'"));
  g_assert_true(vxm_journal_exists(f->hostfs, "vm"));
}

static void
test_bad_names(Fixture *f, gconstpointer data)
{
  const char *bad[] = {"", ".hidden", "a/b", "..", "x y", "a\nb"};

  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(VxmJournal) journal = vxm_journal_new(f->hostfs, bad[i], &error);

    g_assert_null(journal);
    g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
  }
  g_assert_true(vxm_journal_check_name("manual-0000:01:00.0", NULL));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD("/vxm/journal/write/atomic-intent-first", test_atomic_write);
  ADD("/vxm/journal/load/corrupt-kept-aside", test_corrupt_kept_aside);
  ADD("/vxm/journal/owner/pid-reuse", test_owner_liveness);
  ADD("/vxm/journal/undo/reverse-idempotent", test_undo_reverse_idempotent);
  ADD("/vxm/journal/undo/unknown-kind", test_unknown_kind);
  ADD("/vxm/journal/undo/skip-kinds-then-hold", test_undo_skip_kinds);
  ADD("/vxm/journal/name/refused", test_bad_names);
  return g_test_run();
}
