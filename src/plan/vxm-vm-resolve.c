/* vxm-vm-resolve: every "auto" of a VM config turned into a value from the host (see the
 * header). */
#include "vxm-vm-resolve.h"

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "cpu/vxm-cpu-list.h"
#include "platform/vxm-meminfo.h"

#define GIB (G_GUINT64_CONSTANT(1) << 30)

/* The number of CPUs in a kernel list like "0-3,8-11" (vxm_cpu_list_parse(), the one parser
 * of such lists); 0 when malformed. */
static guint
count_cpu_list(const char *text)
{
  g_autoptr(GArray) cpus = vxm_cpu_list_parse(text, "the host's CPU list", NULL);

  return cpus != NULL ? cpus->len : 0;
}

static gboolean
read_host_cpus(VxmHostfs *hostfs, guint *cpus, guint *threads, GError **error)
{
  g_autofree char *online = NULL;
  g_autofree char *siblings = NULL;
  g_autofree char *cpuinfo = NULL;
  gsize len;

  *threads = 1;
  online = vxm_hostfs_read_attr(hostfs, VXM_HOST_SYS_CPUS "/online", NULL);
  if (online != NULL && (*cpus = count_cpu_list(online)) > 0) {
    siblings =
        vxm_hostfs_read_attr(hostfs, VXM_HOST_SYS_CPUS "/cpu0/topology/thread_siblings_list", NULL);
    if (siblings != NULL)
      *threads = MAX(1u, MIN(2u, count_cpu_list(siblings)));
    return TRUE;
  }
  if (vxm_hostfs_read_file(hostfs, VXM_HOST_PROC_CPUINFO, &cpuinfo, &len, NULL)) {
    g_auto(GStrv) lines = g_strsplit(cpuinfo, "\n", -1);
    *cpus = 0;
    for (gsize i = 0; lines[i] != NULL; i++)
      *cpus += g_str_has_prefix(lines[i], "processor") ? 1 : 0;
    if (*cpus > 0)
      return TRUE;
  }
  g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
              "cannot tell how many CPUs the host has (%s/online and %s unreadable): set [cpu] "
              "vcpus",
              VXM_HOST_SYS_CPUS, VXM_HOST_PROC_CPUINFO);
  return FALSE;
}

gboolean
vxm_vm_config_resolve(VxmVmConfig *c, VxmHostfs *hostfs, const VxmVmPaths *paths, GError **error)
{
  VxmVmResolved *r = &c->resolved;
  guint host_threads = 1;

  g_clear_pointer(&r->disk_path, g_free);
  g_clear_pointer(&r->qemu_binary, g_free);
  r->done = FALSE;

  if (c->disk_path != NULL)
    r->disk_path = g_strdup(c->disk_path);
  else if (paths != NULL)
    r->disk_path =
        g_strdup(c->disk_format == VXM_VM_DISK_FORMAT_RAW ? paths->disk_raw : paths->disk_qcow2);
  if (g_path_is_absolute(c->qemu_binary))
    r->qemu_binary = g_strdup(c->qemu_binary);
  else
    r->qemu_binary = g_find_program_in_path(c->qemu_binary);

  if (!vxm_meminfo_read(hostfs, "MemTotal", &r->host_memory, error)) {
    g_prefix_error(error, "cannot size the guest's memory: ");
    return FALSE;
  }
  if (c->memory_bytes != 0) {
    if (c->memory_bytes > r->host_memory) {
      g_autofree char *want = vxm_format_bytes(c->memory_bytes);
      g_autofree char *have = vxm_format_bytes(r->host_memory);
      g_set_error(error, VXM_ERROR, VXM_ERROR_CONFIG,
                  "[memory] size = %s is more than the host's %s: lower it, or use auto", want,
                  have);
      return FALSE;
    }
    r->memory_bytes = c->memory_bytes;
  } else {
    r->memory_bytes = vxm_vm_config_auto_memory(r->host_memory);
    /* the host keeps at least 2 GiB */
    if (r->memory_bytes + 2 * GIB > r->host_memory) {
      g_autofree char *have = vxm_format_bytes(r->host_memory);
      g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                  "the host has %s: a Windows 11 guest needs 4 GiB and the host at least 2 GiB "
                  "more",
                  have);
      return FALSE;
    }
  }

  if (!read_host_cpus(hostfs, &r->host_cpus, &host_threads, NULL)) {
    if (c->vcpus == 0 && c->cpu_pinning != VXM_VM_CPU_PINNING_LIST)
      return read_host_cpus(hostfs, &r->host_cpus, &host_threads, error);
    r->host_cpus = 0;
  }
  if (c->vcpus != 0) {
    r->vcpus = c->vcpus;
  } else if (c->cpu_pinning == VXM_VM_CPU_PINNING_LIST) {
    r->vcpus = c->cpu_pinning_list->len;
  } else {
    guint keep = c->host_cores * host_threads;
    r->vcpus = r->host_cpus > keep ? r->host_cpus - keep : 1;
  }
  if (c->threads_per_core != 0)
    r->threads_per_core = c->threads_per_core;
  else
    r->threads_per_core = r->vcpus % host_threads == 0 ? host_threads : 1;
  if (r->vcpus % r->threads_per_core != 0) {
    /* threads_per_core = 2 set by hand with an odd auto count: round down to whole cores */
    r->vcpus = MAX(r->threads_per_core, r->vcpus - r->vcpus % r->threads_per_core);
  }
  r->done = TRUE;
  return TRUE;
}
