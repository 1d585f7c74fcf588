/* Unix accounts made for a test (useradd, groupadd) and removed when the test program ends,
 * even when an assertion aborts it: the users' processes are killed first, then the users and
 * the groups this program made are deleted. */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Makes @group unless it exists (--system when @system); TRUE when this program made it. A
 * group a test made is shared with the test programs running at the same time and deleted by
 * the last of them to end; one that existed before is left alone. */
gboolean vxm_test_group_add(const char *group, gboolean system);
/* Makes @user (no home, no own group), a member of @group when not NULL; its uid. */
uid_t vxm_test_user_add(const char *user, const char *group);
/* Called first at clean-up (a daemon the test started, say); one function at the most. */
void vxm_test_users_on_cleanup(void (*func)(void));

/* The build's @relative binary ("src/cli/vxm") at a path the test users can run: the build
 * folder's own when every folder above it lets others through, else a copy in a folder of this
 * program's, 0755, removed at exit (a checkout under /root, mode 0700, is out of their reach). */
char *vxm_test_user_binary(const char *relative);

/* A GSpawnChildSetupFunc: become the user named @data, with its groups, as a login would
 * (exits 120 when it cannot). */
void vxm_test_become_user(gpointer data);

G_END_DECLS
