/* The shell completions (data/completions): bash, zsh (on a pty, through its completion
 * system) and fish are run for real for VM names and GPU addresses; every shell's file is
 * checked against the binary's commands and options. A new command or option fails here until
 * every shell knows it. */
#include <stdlib.h>
#include <string.h>

#include "vm/vxm-vm-config.h"
#include "vxm-test-cli-help.h"
#include "vxm-test-sysfs.h"
#include "vxm-test-util.h"

static char *
completion_path(const char *name)
{
  g_autofree char *rel = g_build_filename("data/completions", name, NULL);
  return vxm_test_source_path(rel);
}

static char *
read_completion(const char *name)
{
  g_autofree char *path = completion_path(name);
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_file_get_contents(path, &text, NULL, &error);
  g_assert_no_error(error);
  return text;
}

/* "PATH=" with the built vxm first: the completions ask `vxm config --keys` for the keys. */
static char *
env_path_with_vxm(void)
{
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  g_autofree char *dir = g_path_get_dirname(vxm);

  return g_strdup_printf("PATH=%s:%s", dir, g_getenv("PATH"));
}

static int
compare_words(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What bash offers for @line (cursor at its end), sorted, one per line joined by ' '. */
static char *
bash_complete(const char *line, const char *const *env)
{
  g_autofree char *driver = vxm_test_source_path("tests/data/completion/drive.bash");
  g_autofree char *script = completion_path("vxm.bash");
  g_autofree char *bash = g_find_program_in_path("bash");
  const char *argv[] = {bash, "--norc", "--noprofile", driver, script, line, NULL};
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) words = NULL;
  int status = vxm_test_run(argv, env, &out, &err);

  if (status != 0 || err[0] != '\0')
    g_error("bash completion of '%s': status %d: %s", line, status, err);
  words = g_strsplit(g_strstrip(out), "\n", -1);
  qsort(words, g_strv_length(words), sizeof(char *), compare_words);
  if (words[0] != NULL && words[0][0] == '\0')
    return g_strdup("");
  return g_strjoinv(" ", words);
}

static gboolean
has_word(const char *list, const char *word)
{
  g_auto(GStrv) words = g_strsplit(list, " ", -1);
  return g_strv_contains((const char *const *)words, word);
}

static void
test_bash_li(void)
{
  g_autofree char *li = bash_complete("vxm li", NULL);
  g_autofree char *check = bash_complete("vxm check --j", NULL);

  g_assert_cmpstr(li, ==, "list list-devices list-gpus");
  g_assert_cmpstr(check, ==, "--json");
}

static void
test_bash_every_command_and_option(void)
{
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  g_autoptr(GPtrArray) commands = vxm_test_cli_commands();
  g_autofree char *all = bash_complete("vxm ", NULL);

  for (guint i = 0; i < commands->len; i++) {
    const char *command = g_ptr_array_index(commands, i);
    g_autofree char *line = g_strdup_printf("vxm %s -", command);
    g_autofree char *offered = NULL;
    g_autoptr(GPtrArray) options = NULL;

    if (!has_word(all, command))
      g_error("bash: 'vxm <TAB>' does not offer %s: %s", command, all);
    if (g_str_equal(command, "version"))
      continue;
    offered = bash_complete(line, NULL);
    options = vxm_test_cli_options(vxm, command);
    for (guint o = 0; o < options->len; o++) {
      const char *option = g_ptr_array_index(options, o);
      if (g_str_has_prefix(option, "--") && !has_word(offered, option))
        g_error("bash: 'vxm %s -<TAB>' does not offer %s: %s", command, option, offered);
    }
  }
}

/* VM names come from the NAME.conf files in $XDG_CONFIG_HOME/vxm/vms. */
static void
test_bash_vm_names(void)
{
  g_autofree char *home = vxm_test_mkdtemp();
  g_autofree char *env_config = g_strdup_printf("XDG_CONFIG_HOME=%s", home);
  const char *env[] = {env_config, NULL};
  g_autofree char *names = NULL;
  g_autofree char *w = NULL;

  vxm_test_write_file(home, "vxm/vms/win11.conf", "");
  vxm_test_write_file(home, "vxm/vms/gaming.conf", "");
  vxm_test_write_file(home, "vxm/vms/notes.txt", "");
  names = bash_complete("vxm start ", env);
  w = bash_complete("vxm config w", env);
  g_assert_cmpstr(names, ==, "gaming win11");
  g_assert_cmpstr(w, ==, "win11");
  vxm_test_rm_rf(home);
}

/* GPU addresses come from the sysfs of the host root given with --root (or VXM_ROOT): only
 * display controllers, with the ':' bash splits words at handled. */
static void
test_bash_gpu_addresses(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autofree char *line = NULL;
  g_autofree char *gpus = NULL;
  g_autofree char *env_root = g_strdup_printf("VXM_ROOT=%s", root);
  const char *env[] = {env_root, NULL};
  g_autofree char *split = NULL;
  g_autofree char *equals = NULL;

  vxm_test_machine_build(root, VXM_TEST_MACHINE_INTEL_NVIDIA);
  line = g_strdup_printf("vxm check --root %s --gpu ", root);
  gpus = bash_complete(line, NULL);
  g_assert_cmpstr(gpus, ==, "0000:00:02.0 0000:01:00.0");
  /* bash has split "0000:01:" at the colons: the reply is what follows the last one */
  split = bash_complete("vxm config --set-gpu 0000:01:", env);
  g_assert_cmpstr(split, ==, "00.0");
  equals = bash_complete("vxm check --gpu=0000:00", env);
  g_assert_cmpstr(equals, ==, "00:02.0");
  vxm_test_rm_rf(root);
}

/* pci.extra= offers the PCI devices that are neither bridges nor GPUs nor a GPU's functions,
 * and completes the last address of a list, keeping the ones before it. */
static void
test_bash_pci_extra(void)
{
  g_autofree char *root = vxm_test_mkdtemp();
  g_autofree char *env_root = g_strdup_printf("VXM_ROOT=%s", root);
  g_autofree char *env_path = env_path_with_vxm();
  const char *env[] = {env_root, env_path, NULL};
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  vxm_test_machine_build(root, VXM_TEST_MACHINE_INTEL_NVIDIA);
  first = bash_complete("vxm config --set pci.extra=", env);
  g_assert_cmpstr(first, ==, "0000:00:14.0 0000:03:00.0");
  /* bash split the word at its last ':': the replies are what follows it */
  second = bash_complete("vxm config --set pci.extra=0000:00:14.0,0000:0", env);
  g_assert_cmpstr(second, ==, "00:14.0 03:00.0");
  vxm_test_rm_rf(root);
}

/* --set offers every key of the config table as group.key=, and after KEY= the key's values. */
static void
test_bash_config_keys(void)
{
  g_autofree char *env_path = env_path_with_vxm();
  const char *env[] = {env_path, NULL};
  g_autofree char *all = bash_complete("vxm config --set ", env);
  g_autofree char *memory = bash_complete("vxm config --set memory.s", env);
  g_autofree char *unset = bash_complete("vxm config --unset cpu.v", env);
  const VxmVmConfigKey *keys = vxm_vm_config_keys();
  guint n = 0;

  for (gsize k = 0; keys[k].group != NULL; k++, n++) {
    g_autofree char *want = g_strdup_printf("%s.%s=", keys[k].group, keys[k].key);
    if (!has_word(all, want))
      g_error("bash: vxm config --set does not offer %s", want);
  }
  {
    g_auto(GStrv) offered = g_strsplit(all, " ", -1);
    g_assert_cmpuint(n, ==, g_strv_length(offered));
  }
  g_assert_cmpstr(memory, ==, "memory.size=");
  g_assert_cmpstr(unset, ==, "cpu.vcpus");
}

/* After --set KEY= the key's allowed values, for a group.key, a key only one group has, the
 * --set=KEY= spelling and vxm init; bash has split the word at '=', so the replies are the
 * values alone. */
static void
test_bash_config_values(void)
{
  g_autofree char *env_path = env_path_with_vxm();
  const char *env[] = {env_path, NULL};
  g_autofree char *hugepages = bash_complete("vxm config --set memory.hugepages=", env);
  g_autofree char *bare = bash_complete("vxm config --set hugepages=", env);
  g_autofree char *joined = bash_complete("vxm config --set=audio.backend=p", env);
  g_autofree char *init = bash_complete("vxm init w --set security.tpm=", env);
  g_autofree char *input = bash_complete("vxm config --set display.guest_input=h", env);
  g_autofree char *free_text = bash_complete("vxm config --set disk.path=", env);

  g_assert_cmpstr(hugepages, ==, "1G 2M auto off");
  g_assert_cmpstr(bare, ==, "1G 2M auto off");
  g_assert_cmpstr(joined, ==, "pa pipewire");
  g_assert_cmpstr(init, ==, "off on");
  g_assert_cmpstr(input, ==, "hdmi1 hdmi2");
  g_assert_cmpstr(free_text, ==, "");
}

/* `vxm config --keys` is the key table: every key, in order, with its values; alone only. */
static void
test_config_keys_command(void)
{
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  const char *argv[] = {vxm, "config", "--keys", NULL};
  const char *with_name[] = {vxm, "config", "--keys", "win11", NULL};
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GString) want = g_string_new(NULL);
  const VxmVmConfigKey *keys = vxm_vm_config_keys();

  for (gsize k = 0; keys[k].group != NULL; k++)
    g_string_append_printf(want, "%s.%s\t%s\n", keys[k].group, keys[k].key,
                           keys[k].values != NULL ? keys[k].values : "");
  g_assert_cmpint(vxm_test_run(argv, NULL, &out, &err), ==, 0);
  g_assert_cmpstr(out, ==, want->str);
  g_assert_cmpstr(err, ==, "");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vxm_test_run(with_name, NULL, &out, &err), ==, 2);
  g_assert_nonnull(strstr(err, "--keys goes alone"));
}

/* Every value `vxm config --keys` offers is one the config accepts (the completions offer
 * what the key table says, so a value it does not take would be a trap). */
static void
test_offered_values_are_accepted(void)
{
  const VxmVmConfigKey *keys = vxm_vm_config_keys();
  guint checked = 0;

  for (gsize k = 0; keys[k].group != NULL; k++) {
    g_autofree char *key = g_strdup_printf("%s.%s", keys[k].group, keys[k].key);
    g_auto(GStrv) values = NULL;

    if (keys[k].values == NULL)
      continue;
    values = g_strsplit(keys[k].values, " ", -1);
    for (guint v = 0; values[v] != NULL; v++) {
      g_autoptr(VxmVmConfig) config = vxm_vm_config_new("t");
      g_autoptr(GError) error = NULL;
      /* the monitor's inputs go in pairs, and differ */
      gboolean host = g_str_equal(key, "display.host_input");
      const char *pair[] = {"display.host_input", "display.guest_input", NULL};
      const char *pair_values[] = {host ? values[v] : "0xff", host ? "0xff" : values[v], NULL};
      gboolean ok = g_str_has_prefix(key, "display.") && g_str_has_suffix(key, "_input")
                        ? vxm_vm_config_set_many(config, pair, pair_values, &error)
                        : vxm_vm_config_set(config, key, values[v], &error);

      if (!ok)
        g_error("%s=%s is offered but refused: %s", key, values[v], error->message);
      checked++;
    }
  }
  g_assert_cmpuint(checked, >, 40);
}

/* The path of @shell, or NULL after skipping (failing in CI: tools/packages.txt has it). */
static char *
need_shell(const char *shell)
{
  char *path = g_find_program_in_path(shell);

  if (path != NULL)
    return path;
  if (g_strcmp0(g_getenv("CI"), "true") == 0)
    g_test_fail_printf("%s is not installed (tools/packages.txt lists it)", shell);
  else
    g_test_skip_printf("%s is not installed", shell);
  return NULL;
}

/* What the shell's completion offers for @line (cursor at its end), sorted and joined by ' ',
 * through @argv (the shell running the completion); empty lines are dropped. */
static char *
shell_offers(const char *const *argv, const char *const *env, const char *line)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GPtrArray) words = g_ptr_array_new();
  int status = vxm_test_run(argv, env, &out, &err);

  if (status != 0)
    g_error("%s completion of '%s': status %d: %s", argv[0], line, status, err);
  lines = g_strsplit(out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    /* fish prints "WORD\tDESCRIPTION" */
    char *tab = strchr(lines[i], '\t');
    if (tab != NULL)
      *tab = '\0';
    g_strstrip(lines[i]);
    if (*lines[i] != '\0' && !g_ptr_array_find_with_equal_func(words, lines[i], g_str_equal, NULL))
      g_ptr_array_add(words, lines[i]);
  }
  g_ptr_array_sort(words, compare_words);
  g_ptr_array_add(words, NULL);
  return g_strjoinv(" ", (char **)words->pdata);
}

static char *
zsh_complete(const char *zsh, const char *line, const char *const *env)
{
  g_autofree char *driver = vxm_test_source_path("tests/data/completion/drive.zsh");
  g_autofree char *dir = vxm_test_source_path("data/completions");
  g_autofree char *timeout = g_find_program_in_path("timeout");
  /* a completion that never comes back must not hang the suite */
  const char *argv[] = {timeout, "60", zsh, "-f", driver, dir, line, NULL};

  return shell_offers(argv, env, line);
}

static char *
fish_complete(const char *fish, const char *line, const char *const *env)
{
  g_autofree char *script = completion_path("vxm.fish");
  g_autofree char *command = NULL;

  /* the line as one single-quoted fish argument */
  g_assert_null(strchr(line, '\''));
  command = g_strdup_printf("source '%s'; complete -C '%s'", script, line);
  {
    const char *argv[] = {fish, "--no-config", "-c", command, NULL};
    return shell_offers(argv, env, line);
  }
}

/* VM names from the user's config folder and GPU addresses (display controllers only) from
 * --root or VXM_ROOT, whole, colons and all: in zsh and in fish, as a user gets them on TAB. */
static void
test_shell_names_and_addresses(gconstpointer data)
{
  const char *shell_name = data;
  g_autofree char *shell = need_shell(shell_name);
  g_autofree char *home = NULL;
  g_autofree char *root = NULL;
  g_autofree char *env_config = NULL;
  g_autofree char *env_root = NULL;
  g_autofree char *line = NULL;
  g_autofree char *names = NULL;
  g_autofree char *w = NULL;
  g_autofree char *gpus = NULL;
  g_autofree char *from_env = NULL;
  g_autofree char *prefix = NULL;
  g_autofree char *env_path = env_path_with_vxm();
  g_autofree char *keys = NULL;
  g_autofree char *values = NULL;
  g_autofree char *bare = NULL;
  g_autofree char *address = NULL;
  g_autofree char *extra = NULL;
  gboolean zsh = g_str_equal(shell_name, "zsh");

  if (shell == NULL)
    return;
  home = vxm_test_mkdtemp();
  root = vxm_test_mkdtemp();
  env_config = g_strdup_printf("XDG_CONFIG_HOME=%s", home);
  env_root = g_strdup_printf("VXM_ROOT=%s", root);
  vxm_test_write_file(home, "vxm/vms/win11.conf", "");
  vxm_test_write_file(home, "vxm/vms/gaming.conf", "");
  vxm_test_write_file(home, "vxm/vms/notes.txt", "");
  vxm_test_machine_build(root, VXM_TEST_MACHINE_INTEL_NVIDIA);
  {
    const char *env[] = {env_config, NULL};
    const char *env_with_root[] = {env_config, env_root, NULL};

    names = zsh ? zsh_complete(shell, "vxm start ", env) : fish_complete(shell, "vxm start ", env);
    w = zsh ? zsh_complete(shell, "vxm config w", env) : fish_complete(shell, "vxm config w", env);
    line = g_strdup_printf("vxm check --root %s --gpu ", root);
    gpus = zsh ? zsh_complete(shell, line, env) : fish_complete(shell, line, env);
    /* detach takes a VM or a GPU */
    from_env = zsh ? zsh_complete(shell, "vxm detach ", env_with_root)
                   : fish_complete(shell, "vxm detach ", env_with_root);
    prefix = zsh ? zsh_complete(shell, "vxm config --set-gpu 0000:01", env_with_root)
                 : fish_complete(shell, "vxm config --set-gpu 0000:01", env_with_root);
  }
  {
    /* the keys and their values come from the vxm in PATH (`vxm config --keys`) */
    const char *env[] = {env_config, env_path, NULL};
    const char *env_with_root[] = {env_config, env_root, env_path, NULL};

    keys = zsh ? zsh_complete(shell, "vxm config --set memory.hug", env)
               : fish_complete(shell, "vxm config --set memory.hug", env);
    values = zsh ? zsh_complete(shell, "vxm config --set memory.hugepages=", env)
                 : fish_complete(shell, "vxm config --set memory.hugepages=", env);
    bare = zsh ? zsh_complete(shell, "vxm init w --set grab_toggle=s", env)
               : fish_complete(shell, "vxm init w --set grab_toggle=s", env);
    address = zsh ? zsh_complete(shell, "vxm config --set gpu.address=", env_with_root)
                  : fish_complete(shell, "vxm config --set gpu.address=", env_with_root);
    extra = zsh ? zsh_complete(shell, "vxm config --set pci.extra=0000:00:14.0,", env_with_root)
                : fish_complete(shell, "vxm config --set pci.extra=0000:00:14.0,", env_with_root);
  }
  if (zsh) {
    /* zsh shows what follows the '=' */
    g_assert_cmpstr(keys, ==,
                    "memory.hugepages memory.hugepages_compact memory.hugepages_fallback");
    g_assert_cmpstr(values, ==, "1G 2M auto off");
    g_assert_cmpstr(bare, ==, "scrolllock shift-shift");
    g_assert_cmpstr(address, ==, "0000:00:02.0 0000:01:00.0 auto");
    /* what follows the last ',' */
    g_assert_cmpstr(extra, ==, "0000:00:14.0 0000:03:00.0");
  } else {
    g_assert_cmpstr(keys, ==,
                    "memory.hugepages= memory.hugepages_compact= memory.hugepages_fallback=");
    g_assert_cmpstr(values, ==,
                    "memory.hugepages=1G memory.hugepages=2M memory.hugepages=auto "
                    "memory.hugepages=off");
    g_assert_cmpstr(bare, ==, "grab_toggle=scrolllock grab_toggle=shift-shift");
    g_assert_cmpstr(address, ==,
                    "gpu.address=0000:00:02.0 gpu.address=0000:01:00.0 gpu.address=auto");
    g_assert_cmpstr(extra, ==,
                    "pci.extra=0000:00:14.0,0000:00:14.0 pci.extra=0000:00:14.0,0000:03:00.0");
  }
  g_assert_cmpstr(names, ==, "gaming win11");
  g_assert_cmpstr(w, ==, "win11");
  g_assert_cmpstr(gpus, ==, "0000:00:02.0 0000:01:00.0");
  g_assert_cmpstr(from_env, ==, "0000:00:02.0 0000:01:00.0 gaming win11");
  g_assert_cmpstr(prefix, ==, "0000:01:00.0");
  vxm_test_rm_rf(home);
  vxm_test_rm_rf(root);
}

/* The zsh case branch "(COMMAND)" up to ";;". */
static char *
zsh_branch(const char *text, const char *command)
{
  g_autofree char *needle = g_strdup_printf("\n    (%s)\n", command);
  const char *start = strstr(text, needle);
  const char *end;

  if (start == NULL)
    return NULL;
  end = strstr(start, ";;");
  return end != NULL ? g_strndup(start, end - start) : NULL;
}

static void
test_zsh(void)
{
  g_autofree char *text = read_completion("_vxm");
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  g_autoptr(GPtrArray) commands = vxm_test_cli_commands();
  g_autofree char *zsh = g_find_program_in_path("zsh");

  g_assert_true(g_str_has_prefix(text, "#compdef vxm\n"));
  for (guint i = 0; i < commands->len; i++) {
    const char *command = g_ptr_array_index(commands, i);
    g_autofree char *described = g_strdup_printf("'%s:", command);
    g_autofree char *branch = zsh_branch(text, command);
    g_autoptr(GPtrArray) options = NULL;

    if (strstr(text, described) == NULL)
      g_error("zsh: %s is not in the command list", command);
    if (branch == NULL)
      g_error("zsh: no case branch (%s)", command);
    if (g_str_equal(command, "version"))
      continue;
    options = vxm_test_cli_options(vxm, command);
    for (guint o = 0; o < options->len; o++) {
      const char *option = g_ptr_array_index(options, o);
      if (!vxm_test_cli_option_is_common(option) && strstr(branch, option) == NULL)
        g_error("zsh: (%s) lacks %s", command, option);
    }
  }
  if (zsh != NULL) {
    g_autofree char *path = completion_path("_vxm");
    const char *argv[] = {zsh, "-n", path, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    g_assert_cmpint(vxm_test_run(argv, NULL, &out, &err), ==, 0);
    g_assert_cmpstr(err, ==, "");
  }
}

static void
test_fish(void)
{
  g_autofree char *text = read_completion("vxm.fish");
  g_autofree char *vxm = vxm_test_build_path("src/cli/vxm");
  g_autoptr(GPtrArray) commands = vxm_test_cli_commands();
  g_autofree char *fish = g_find_program_in_path("fish");

  for (guint i = 0; i < commands->len; i++) {
    const char *command = g_ptr_array_index(commands, i);
    g_autofree char *offered = g_strdup_printf("\" -a %s -d ", command);
    g_autofree char *listed = g_strdup_printf(" %s ", command);
    g_autoptr(GPtrArray) options = NULL;

    if (strstr(text, offered) == NULL)
      g_error("fish: %s is not offered as a command", command);
    if (strstr(text, listed) == NULL)
      g_error("fish: %s is not in vxm_commands", command);
    if (g_str_equal(command, "version"))
      continue;
    options = vxm_test_cli_options(vxm, command);
    for (guint o = 0; o < options->len; o++) {
      const char *option = g_ptr_array_index(options, o);
      g_autofree char *line = g_strdup_printf("from %s\" -l %s ", command, option + 2);

      /* short options sit on their long option's line: "-s n -l dry-run" */
      if (vxm_test_cli_option_is_common(option) || !g_str_has_prefix(option, "--"))
        continue;
      if (strstr(text, line) == NULL) {
        g_autofree char *prefix = g_strdup_printf("from %s\" -s ", command);
        const char *p = strstr(text, prefix);
        gboolean found = FALSE;

        while (p != NULL && !found) {
          const char *eol = strchr(p, '\n');
          g_autofree char *one = g_strndup(p, eol != NULL ? (gsize)(eol - p) : strlen(p));
          g_autofree char *long_part = g_strdup_printf(" -l %s ", option + 2);

          found = strstr(one, long_part) != NULL;
          p = strstr(p + 1, prefix);
        }
        if (!found)
          g_error("fish: %s lacks %s", command, option);
      }
    }
  }
  if (fish != NULL) {
    g_autofree char *path = completion_path("vxm.fish");
    const char *argv[] = {fish, "--no-execute", path, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    g_assert_cmpint(vxm_test_run(argv, NULL, &out, &err), ==, 0);
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/completion/bash/li", test_bash_li);
  g_test_add_func("/vxm/completion/bash/every-command-and-option",
                  test_bash_every_command_and_option);
  g_test_add_func("/vxm/completion/bash/vm-names", test_bash_vm_names);
  g_test_add_func("/vxm/completion/bash/gpu-addresses", test_bash_gpu_addresses);
  g_test_add_func("/vxm/completion/bash/pci-extra", test_bash_pci_extra);
  g_test_add_func("/vxm/completion/bash/config-keys", test_bash_config_keys);
  g_test_add_func("/vxm/completion/bash/config-values", test_bash_config_values);
  g_test_add_func("/vxm/completion/offered-values-are-accepted", test_offered_values_are_accepted);
  g_test_add_func("/vxm/completion/config-keys-command", test_config_keys_command);
  g_test_add_func("/vxm/completion/zsh", test_zsh);
  g_test_add_func("/vxm/completion/fish", test_fish);
  g_test_add_data_func("/vxm/completion/zsh/vm-names-and-gpu-addresses", "zsh",
                       test_shell_names_and_addresses);
  g_test_add_data_func("/vxm/completion/fish/vm-names-and-gpu-addresses", "fish",
                       test_shell_names_and_addresses);
  return g_test_run();
}
