/* vxm-supervisor-plan: the plain data a supervisor runs. */
#include "supervisor/vxm-supervisor-plan.h"

#include <string.h>

VxmSupervisorPlan *
vxm_supervisor_plan_new(const char *vm_name, GError **error)
{
  g_autoptr(VxmSupervisorPlan) plan = g_new0(VxmSupervisorPlan, 1);

  plan->paths = vxm_vm_paths_new(vm_name, error);
  if (plan->paths == NULL)
    return NULL;
  plan->shutdown_timeout_s = 60;
  return g_steal_pointer(&plan);
}

void
vxm_supervisor_plan_free(VxmSupervisorPlan *plan)
{
  if (plan == NULL)
    return;
  g_clear_pointer(&plan->paths, vxm_vm_paths_free);
  g_free(plan->gpu_address);
  g_free(plan->monitor);
  g_strfreev(plan->qemu_argv);
  g_strfreev(plan->qemu_envp);
  g_strfreev(plan->swtpm_argv);
  g_strfreev(plan->swtpm_envp);
  g_free(plan);
}

GStrv
vxm_supervisor_plan_child_environ(void)
{
  static const char *const keep[] = {
      "HOME", "USER", "LANG", "LC_ALL", "XDG_RUNTIME_DIR", "TMPDIR", "VXM_TEST_ARGV_LOG"};
  g_auto(GStrv) env = g_get_environ();
  g_autoptr(GStrvBuilder) out = g_strv_builder_new();

  for (guint i = 0; env[i] != NULL; i++) {
    gboolean pass = g_str_has_prefix(env[i], "VXM_QEMU_SIM_");

    for (guint k = 0; !pass && k < G_N_ELEMENTS(keep); k++) {
      gsize n = strlen(keep[k]);

      pass = strncmp(env[i], keep[k], n) == 0 && env[i][n] == '=';
    }
    if (pass)
      g_strv_builder_add(out, env[i]);
  }
  return g_strv_builder_end(out);
}
