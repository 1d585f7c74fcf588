/* vxm-sim-proc: simulated processes (see the header). */
#include "vxm-sim-proc.h"

#include <errno.h>
#include <fnmatch.h>
#include <string.h>

#define PROC          "/proc"
#define TASK_COMM_LEN 16 /* the kernel keeps 15 characters of a command name */

typedef struct {
  guint pid;
  char *comm;
  char *cmdline;
  gint64 uid;
  GStrv fds;
  gboolean alive;
  gboolean real; /* a process of the machine running vxm-simhost, holding a modelled node */
} Process;

struct _VxmSimProc {
  VxmSimHost *host;
  GPtrArray *processes;
};

enum { ATTR_COMM, ATTR_CMDLINE, ATTR_STATUS };

static void
process_free(Process *p)
{
  g_free(p->comm);
  g_free(p->cmdline);
  g_strfreev(p->fds);
  g_free(p);
}

void
vxm_sim_proc_free(VxmSimProc *proc)
{
  if (proc == NULL)
    return;
  g_ptr_array_unref(proc->processes);
  g_free(proc);
}

static char *
proc_show(VxmSimNode *node, gssize *len)
{
  Process *p = node->item;

  switch (node->attr) {
  case ATTR_COMM: return g_strdup_printf("%s\n", p->comm);
  case ATTR_CMDLINE: {
    /* Arguments each ended by a NUL. */
    char *text = g_strdup_printf("%s ", p->cmdline);
    *len = strlen(text);
    return g_strdelimit(text, " ", '\0');
  }
  case ATTR_STATUS:
    return g_strdup_printf("Name:\t%s\nState:\tS (sleeping)\nTgid:\t%u\nPid:\t%u\nPPid:\t1\n"
                           "Uid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\n",
                           p->comm, p->pid, p->pid, (int)p->uid, (int)p->uid, (int)p->uid,
                           (int)p->uid, (int)p->uid, (int)p->uid, (int)p->uid, (int)p->uid);
  default: return g_strdup("");
  }
}

/* One /proc/PID/fd/N: only its owner, or a process with CAP_SYS_PTRACE, reads where it points */
static void
put_fd_link(VxmSimNode *root, const char *path, const char *target, gint64 uid)
{
  VxmSimNode *node = vxm_sim_node_put(root, path, vxm_sim_node_new_link(target));

  node->uid = node->gid = uid;
  node->flags |= VXM_SIM_NODE_FLAG_PTRACE;
}

static void
add_process_tree(VxmSimProc *proc, Process *p)
{
  VxmSimNode *root = proc->host->root;
  g_autofree char *dir = g_strdup_printf(PROC "/%u", p->pid);
  static const struct {
    const char *name;
    guint attr;
  } attrs[] = {{"comm", ATTR_COMM}, {"cmdline", ATTR_CMDLINE}, {"status", ATTR_STATUS}};
  VxmSimNode *node;
  guint fd = 3;

  node = vxm_sim_node_mkdir_p(root, dir);
  node->mode = 0555;
  node->uid = node->gid = p->uid;
  for (gsize i = 0; i < G_N_ELEMENTS(attrs); i++) {
    g_autofree char *path = g_strdup_printf("%s/%s", dir, attrs[i].name);
    node = vxm_sim_node_put(
        root, path, vxm_sim_node_new_generated(0444, proc_show, NULL, proc, p, attrs[i].attr));
    node->uid = node->gid = p->uid;
  }
  for (guint i = 0; i < 3; i++) {
    g_autofree char *path = g_strdup_printf("%s/fd/%u", dir, i);
    put_fd_link(root, path, "/dev/null", p->uid);
  }
  for (guint i = 0; p->fds[i] != NULL; i++) {
    g_autofree char *path = g_strdup_printf("%s/fd/%u", dir, fd++);
    put_fd_link(root, path, p->fds[i], p->uid);
  }
  node = vxm_sim_node_lookup(root, dir, NULL);
  node = vxm_sim_node_child(node, "fd");
  node->mode = 0500;
  node->uid = node->gid = p->uid;
}

static Process *
find_alive(VxmSimProc *proc, guint pid)
{
  for (guint i = 0; i < proc->processes->len; i++) {
    Process *p = proc->processes->pdata[i];
    if (p->pid == pid && p->alive)
      return p;
  }
  return NULL;
}

static void
replace_process_tree(VxmSimProc *proc, Process *p)
{
  g_autofree char *dir = g_strdup_printf(PROC "/%u", p->pid);

  vxm_sim_node_remove_path(proc->host->root, dir);
  add_process_tree(proc, p);
}

void
vxm_sim_proc_open_node(VxmSimProc *proc, guint pid, uid_t uid, const char *node)
{
  Process *p = find_alive(proc, pid);
  g_autoptr(GStrvBuilder) fds = g_strv_builder_new();

  if (p == NULL) {
    g_autofree char *comm_path = g_strdup_printf("/proc/%u/comm", pid);
    g_autofree char *comm = NULL;

    /* the real task's name, as the kernel would show it in the simulated /proc */
    if (!g_file_get_contents(comm_path, &comm, NULL, NULL))
      comm = g_strdup("?");
    g_strchomp(comm);
    p = g_new0(Process, 1);
    p->pid = pid;
    p->comm = g_steal_pointer(&comm);
    p->cmdline = g_strdup(p->comm);
    p->uid = uid;
    p->fds = g_new0(char *, 1);
    p->alive = TRUE;
    p->real = TRUE;
    g_ptr_array_add(proc->processes, p);
  }
  g_strv_builder_addv(fds, (const char **)p->fds);
  g_strv_builder_add(fds, node);
  g_strfreev(p->fds);
  p->fds = g_strv_builder_end(fds);
  replace_process_tree(proc, p);
}

void
vxm_sim_proc_close_node(VxmSimProc *proc, guint pid, const char *node)
{
  Process *p = find_alive(proc, pid);
  g_autoptr(GStrvBuilder) fds = g_strv_builder_new();
  gboolean dropped = FALSE;

  if (p == NULL)
    return;
  for (guint i = 0; p->fds[i] != NULL; i++) {
    if (!dropped && strcmp(p->fds[i], node) == 0)
      dropped = TRUE;
    else
      g_strv_builder_add(fds, p->fds[i]);
  }
  g_strfreev(p->fds);
  p->fds = g_strv_builder_end(fds);
  if (p->real && p->fds[0] == NULL) {
    g_autofree char *dir = g_strdup_printf(PROC "/%u", p->pid);

    vxm_sim_node_remove_path(proc->host->root, dir);
    g_ptr_array_remove(proc->processes, p);
    return;
  }
  replace_process_tree(proc, p);
}

int
vxm_sim_proc_kill(VxmSimProc *proc, const char *pid_text)
{
  guint64 pid;

  if (!g_ascii_string_to_unsigned(pid_text, 10, 1, G_MAXINT32, &pid, NULL))
    return -EINVAL;
  for (guint i = 0; i < proc->processes->len; i++) {
    Process *p = proc->processes->pdata[i];
    if (p->pid == pid && p->alive) {
      g_autofree char *dir = g_strdup_printf(PROC "/%u", p->pid);
      vxm_sim_node_remove_path(proc->host->root, dir);
      p->alive = FALSE;
      return 0;
    }
  }
  return -ESRCH;
}

gboolean
vxm_sim_proc_holds(VxmSimProc *proc, const char *const *globs)
{
  for (guint i = 0; i < proc->processes->len; i++) {
    Process *p = proc->processes->pdata[i];
    for (guint f = 0; p->alive && p->fds[f] != NULL; f++)
      for (guint g = 0; globs[g] != NULL; g++)
        if (fnmatch(globs[g], p->fds[f], 0) == 0)
          return TRUE;
  }
  return FALSE;
}

void
vxm_sim_proc_dump_state(VxmSimProc *proc, GPtrArray *lines)
{
  for (guint i = 0; i < proc->processes->len; i++) {
    Process *p = proc->processes->pdata[i];
    if (p->real)
      continue; /* its pid is the test run's, not the machine's */
    g_ptr_array_add(lines, g_strdup_printf("process %u %s", p->pid, p->alive ? p->comm : "exited"));
  }
}

VxmSimProc *
vxm_sim_proc_new(VxmSimHost *host, VxmSimMachine *machine, GError **error)
{
  g_autoptr(VxmSimProc) proc = g_new0(VxmSimProc, 1);
  g_autoptr(GPtrArray) names = vxm_sim_machine_groups(machine, "process");

  proc->host = host;
  proc->processes = g_ptr_array_new_with_free_func((GDestroyNotify)process_free);
  for (guint i = 0; i < names->len; i++) {
    const char *name = names->pdata[i];
    g_autofree char *group = g_strdup_printf("process %s", name);
    Process *p = g_new0(Process, 1);
    guint64 pid;

    g_ptr_array_add(proc->processes, p);
    if (!g_ascii_string_to_unsigned(name, 10, 2, 4194304, &pid, NULL))
      return vxm_sim_machine_error(machine, error, group, NULL,
                                   "'%s' is not a process id (2-4194304)", name),
             NULL;
    p->pid = pid;
    p->alive = TRUE;
    if (!vxm_sim_machine_get_string(machine, group, "comm", NULL, &p->comm, error) ||
        !vxm_sim_machine_get_string(machine, group, "cmdline", NULL, &p->cmdline, error) ||
        !vxm_sim_machine_get_int(machine, group, "uid", 0, G_MAXINT32, 0, &p->uid, error) ||
        !vxm_sim_machine_get_list(machine, group, "fds", &p->fds, error))
      return NULL;
    if (p->comm == NULL || p->comm[0] == '\0')
      return vxm_sim_machine_error(machine, error, group, "comm", "missing (the command name)"),
             NULL;
    if (p->cmdline == NULL)
      p->cmdline = g_strdup(p->comm);
    if (strlen(p->comm) >= TASK_COMM_LEN)
      p->comm[TASK_COMM_LEN - 1] = '\0';
    for (guint f = 0; p->fds[f] != NULL; f++)
      if (!g_path_is_absolute(p->fds[f]))
        return vxm_sim_machine_error(machine, error, group, "fds", "'%s' is not an absolute path",
                                     p->fds[f]),
               NULL;
    add_process_tree(proc, p);
  }
  return g_steal_pointer(&proc);
}
