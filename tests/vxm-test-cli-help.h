/* What the built binaries say about themselves, for tests that keep the man pages and shell
 * completions in step with the code: the commands of `vxm --help` and the options of each
 * `COMMAND --help`. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The command names `vxm --help` lists, in its order. */
GPtrArray *vxm_test_cli_commands(void);

/* The options `PROGRAM [COMMAND] --help` lists under "Application Options", as written
 * ("--json", "-n", "--dry-run"), without --help. @command may be NULL (a program without
 * subcommands, such as vxm-simhost). */
GPtrArray *vxm_test_cli_options(const char *program, const char *command);

/* TRUE when @option ("--root", "-q") is one vxm_cli_parse() adds to every command. */
gboolean vxm_test_cli_option_is_common(const char *option);

G_END_DECLS
