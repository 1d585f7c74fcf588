/* Test support shared by every test program. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Tests that need root (or FUSE) call this first. Outside CI they skip when not root; in CI
 * (CI=true) a missing privilege fails the test, so nothing is silently skipped there. */
gboolean vxm_test_require_root(void);

/* Path of a file in the source tree, e.g. vxm_test_source_path("tests/data/x"). */
char *vxm_test_source_path(const char *relative);
/* Path of a built file, e.g. vxm_test_build_path("src/cli/vxm"). */
char *vxm_test_build_path(const char *relative);
/* Compares @actual with the golden file @relative (e.g. "tests/data/argv/x.args"). With
 * @regenerate_var (VXM_TEST_REGENERATE_OUTPUT) set to 1 the file is rewritten when it differs,
 * and the test then fails, asking for the diff to be reviewed; in CI (CI=true) regeneration is
 * refused. */
void vxm_test_check_golden(const char *relative, const char *actual, const char *regenerate_var);
/* TRUE when @regenerate_var is 1 (outside CI; in CI the test fails at once, saying so). */
gboolean vxm_test_regenerating(const char *regenerate_var);

/* A fresh temporary folder, removed with vxm_test_rm_rf. */
char *vxm_test_mkdtemp(void);
void vxm_test_rm_rf(const char *path);

/* Writes a file creating its parents; @contents NULL makes a folder. */
void vxm_test_write_file(const char *root, const char *relative, const char *contents);
void vxm_test_symlink(const char *root, const char *relative, const char *target);

/* Runs argv to completion with a clean, predictable environment plus @envp additions;
 * captures stdout and stderr; returns the exit status (or 128+signal). */
/* A user's environment for running vxm: HOME=@home, the XDG folders in their default places
 * below it (.config, .local/share, .local/state, .cache), XDG_RUNTIME_DIR=@runtime_dir (or
 * @home/run when NULL), then @extra ("NAME=value" entries, may be NULL). */
GStrv vxm_test_user_env(const char *home, const char *runtime_dir, const char *const *extra);

int vxm_test_run(const char *const *argv, const char *const *envp, char **out_stdout,
                 char **out_stderr);

/* Runs a shadow tool (useradd, userdel, groupadd, groupdel) and returns its exit status. Test
 * programs run side by side and these tools refuse at once while another holds /etc/passwd's
 * or /etc/group's lock ("cannot lock /etc/passwd; try again later"), so that case is tried
 * again for up to 20 s. */
int vxm_test_run_account_tool(const char *const *argv);

/* Waits (on the thread-default main context, woken by a file monitor) until @path holds
 * @needle (raw bytes: logs may hold NULs and escapes), at most @guard_s seconds. */
gboolean vxm_test_wait_file_contains(const char *path, const char *needle, guint guard_s);

G_END_DECLS
