/* vxm-sim-system: the [machine] group and the host's plain parts (see the header). */
#include "vxm-sim-system.h"

#include <errno.h>
#include <string.h>

#include "vxm-sim-hugepages.h"

#define MACHINE "machine"

struct _VxmSimSystem {
  VxmSimHost *host;
  char *description;
  gboolean iommu;
  char *cpu_vendor;
  char *cpu_model;
  gint64 cpus;
  char *cmdline;
  gboolean kvm;
  gint64 mem_total_kib;
  gboolean nvidia_nodes;
  gboolean kvm_ignore_msrs;         /* kvm.ignore_msrs */
  gboolean kvm_report_ignored_msrs; /* kvm.report_ignored_msrs */
  gint64 phys_bits;                 /* the CPU's physical address bits (cpuinfo) */
};

enum { ATTR_CMDLINE, ATTR_MEMINFO, ATTR_CPUINFO };

void
vxm_sim_system_free(VxmSimSystem *system)
{
  if (system == NULL)
    return;
  g_free(system->description);
  g_free(system->cpu_vendor);
  g_free(system->cpu_model);
  g_free(system->cmdline);
  g_free(system);
}

gboolean
vxm_sim_system_iommu(VxmSimSystem *system)
{
  return system->iommu;
}

const char *
vxm_sim_system_description(VxmSimSystem *system)
{
  return system->description;
}

guint64
vxm_sim_system_mem_total_kib(VxmSimSystem *system)
{
  return system->mem_total_kib;
}

guint
vxm_sim_system_cpus(VxmSimSystem *system)
{
  return system->cpus;
}

static void
meminfo_line(GString *out, const char *name, guint64 kib)
{
  g_autofree char *label = g_strdup_printf("%s:", name);
  g_string_append_printf(out, "%-16s%8" G_GUINT64_FORMAT " kB\n", label, kib);
}

static char *
system_show(VxmSimNode *node, gssize *len)
{
  VxmSimSystem *sys = node->owner;
  GString *out = g_string_new(NULL);

  switch (node->attr) {
  case ATTR_CMDLINE: g_string_append_printf(out, "%s\n", sys->cmdline); break;
  case ATTR_MEMINFO: {
    guint64 total = sys->mem_total_kib;
    meminfo_line(out, "MemTotal", total);
    meminfo_line(out, "MemFree", total / 2);
    meminfo_line(out, "MemAvailable", total * 3 / 4);
    meminfo_line(out, "Buffers", total / 64);
    meminfo_line(out, "Cached", total / 8);
    meminfo_line(out, "SwapTotal", 0);
    meminfo_line(out, "SwapFree", 0);
    if (sys->host->hugepages != NULL)
      vxm_sim_hugepages_meminfo(sys->host->hugepages, out);
    break;
  }
  case ATTR_CPUINFO: {
    gboolean amd = g_strcmp0(sys->cpu_vendor, "amd") == 0;
    for (gint64 i = 0; i < sys->cpus; i++) {
      g_string_append_printf(out, "processor\t: %" G_GINT64_FORMAT "\n", i);
      g_string_append_printf(out, "vendor_id\t: %s\n", amd ? "AuthenticAMD" : "GenuineIntel");
      g_string_append_printf(out, "cpu family\t: %d\n", amd ? 25 : 6);
      g_string_append_printf(out, "model name\t: %s\n", sys->cpu_model);
      g_string_append_printf(out, "physical id\t: 0\n");
      g_string_append_printf(out, "core id\t\t: %" G_GINT64_FORMAT "\n", i);
      g_string_append_printf(out, "cpu cores\t: %" G_GINT64_FORMAT "\n", sys->cpus);
      g_string_append_printf(out,
                             "address sizes\t: %" G_GINT64_FORMAT " bits physical, 48 bits "
                             "virtual\n",
                             sys->phys_bits);
      g_string_append_printf(out,
                             "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep "
                             "mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht "
                             "syscall nx lm constant_tsc %s\n\n",
                             amd ? "svm" : "vmx");
    }
    break;
  }
  default: break;
  }
  return g_string_free(out, FALSE);
}

static char *
bool_param_show(VxmSimNode *node, gssize *len)
{
  return g_strdup(*(gboolean *)node->item ? "Y\n" : "N\n");
}

static int
bool_param_store(VxmSimNode *node, const char *buf, gsize len)
{
  g_autofree char *text = g_strstrip(g_strndup(buf, len));
  gboolean *value = node->item;

  /* kstrtobool(): the first character decides, "on" and "off" by the second */
  switch (text[0]) {
  case 'y':
  case 'Y':
  case 't':
  case 'T':
  case '1': *value = TRUE; return 0;
  case 'n':
  case 'N':
  case 'f':
  case 'F':
  case '0': *value = FALSE; return 0;
  case 'o':
  case 'O':
    if (text[1] == 'n' || text[1] == 'N') {
      *value = TRUE;
      return 0;
    }
    if (text[1] == 'f' || text[1] == 'F') {
      *value = FALSE;
      return 0;
    }
    return -EINVAL;
  default: return -EINVAL;
  }
}

VxmSimNode *
vxm_sim_bool_param_new(VxmSimHost *host, gboolean *value)
{
  VxmSimNode *node =
      vxm_sim_node_new_generated(0644, bool_param_show, bool_param_store, host, value, 0);

  node->flags |= VXM_SIM_NODE_FLAG_ATTRIBUTE;
  return node;
}

static void
put_generated(VxmSimSystem *sys, const char *path, guint attr)
{
  vxm_sim_node_put(sys->host->root, path,
                   vxm_sim_node_new_generated(0444, system_show, NULL, sys, NULL, attr));
}

static VxmSimNode *
writable_dir(VxmSimSystem *sys, const char *path, guint mode)
{
  VxmSimNode *dir = vxm_sim_node_mkdir_p(sys->host->root, path);

  dir->flags |= VXM_SIM_NODE_FLAG_WRITABLE;
  dir->mode = mode;
  return dir;
}

static gboolean
in_writable_tree(const char *path)
{
  static const char *const trees[] = {"/run/", "/etc/", "/dev/shm/"};

  for (gsize i = 0; i < G_N_ELEMENTS(trees); i++)
    if (g_str_has_prefix(path, trees[i]) && strstr(path, "/../") == NULL &&
        !g_str_has_suffix(path, "/.."))
      return TRUE;
  return FALSE;
}

static gboolean
load_seed_files(VxmSimSystem *sys, VxmSimMachine *machine, GError **error)
{
  g_autoptr(GPtrArray) paths = vxm_sim_machine_groups(machine, "file");

  for (guint i = 0; i < paths->len; i++) {
    const char *path = paths->pdata[i];
    g_autofree char *group = g_strdup_printf("file %s", path);
    g_autofree char *content = NULL;
    g_autofree char *dirname = NULL;
    g_autofree char *mode_text = NULL;
    guint64 mode;
    gint64 uid, gid;
    VxmSimNode *parent;
    VxmSimNode *node;

    if (!in_writable_tree(path))
      return vxm_sim_machine_error(machine, error, group, NULL,
                                   "seeded files go under /run, /etc or /dev/shm");
    if (!vxm_sim_machine_get_string(machine, group, "content", "", &content, error) ||
        !vxm_sim_machine_get_string(machine, group, "mode", "0644", &mode_text, error) ||
        !vxm_sim_machine_get_int(machine, group, "uid", 0, G_MAXINT32, 0, &uid, error) ||
        !vxm_sim_machine_get_int(machine, group, "gid", 0, G_MAXINT32, 0, &gid, error))
      return FALSE;
    if (!g_ascii_string_to_unsigned(mode_text, 8, 0, 07777, &mode, NULL))
      return vxm_sim_machine_error(machine, error, group, "mode",
                                   "'%s' is not an octal file mode (0644)", mode_text);
    dirname = g_path_get_dirname(path);
    parent = vxm_sim_node_mkdir_p(sys->host->root, dirname);
    for (VxmSimNode *d = parent; d != NULL && !(d->flags & VXM_SIM_NODE_FLAG_WRITABLE);
         d = d->parent)
      d->flags |= VXM_SIM_NODE_FLAG_WRITABLE;
    node = vxm_sim_node_put(sys->host->root, path, vxm_sim_node_new_file(mode, content));
    node->flags |= VXM_SIM_NODE_FLAG_WRITABLE;
    node->uid = uid;
    node->gid = gid;
  }
  return TRUE;
}

/* [dmi]: /sys/class/dmi/id/FIELD. The kernel makes the serials and the UUID root's (0400), the
 * rest 0444, all read-only; a field the group leaves out does not exist. */
static gboolean
load_dmi(VxmSimSystem *sys, VxmSimMachine *machine, GError **error)
{
  static const struct {
    const char *name;
    guint mode;
  } fields[] = {
      {"sys_vendor", 0444},     {"product_name", 0444},   {"product_version", 0444},
      {"product_serial", 0400}, {"product_uuid", 0400},   {"product_sku", 0444},
      {"product_family", 0444}, {"board_vendor", 0444},   {"board_name", 0444},
      {"board_version", 0444},  {"board_serial", 0400},   {"board_asset_tag", 0444},
      {"chassis_vendor", 0444}, {"chassis_serial", 0400}, {"chassis_type", 0444},
      {"bios_vendor", 0444},    {"bios_version", 0444},   {"bios_date", 0444},
  };

  if (!vxm_sim_machine_has_group(machine, "dmi"))
    return TRUE;
  vxm_sim_node_mkdir_p(sys->host->root, "/sys/class/dmi/id");
  for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
    g_autofree char *value = NULL;
    g_autofree char *path = NULL;
    g_autofree char *content = NULL;

    if (!vxm_sim_machine_has_key(machine, "dmi", fields[i].name))
      continue;
    if (!vxm_sim_machine_get_string(machine, "dmi", fields[i].name, "", &value, error))
      return FALSE;
    path = g_strdup_printf("/sys/class/dmi/id/%s", fields[i].name);
    content = g_strdup_printf("%s\n", value);
    vxm_sim_node_put(sys->host->root, path, vxm_sim_node_new_file(fields[i].mode, content));
  }
  return TRUE;
}

VxmSimSystem *
vxm_sim_system_new(VxmSimHost *host, VxmSimMachine *machine, GError **error)
{
  g_autoptr(VxmSimSystem) sys = g_new0(VxmSimSystem, 1);
  g_autofree char *iommu = NULL;
  g_autofree char *usr_share = NULL;
  VxmSimNode *root = host->root;

  sys->host = host;
  if (!vxm_sim_machine_has_group(machine, MACHINE)) {
    vxm_sim_machine_error(machine, error, MACHINE, NULL, "missing: every machine has one");
    return NULL;
  }
  if (!vxm_sim_machine_get_string(machine, MACHINE, "description", "", &sys->description, error) ||
      !vxm_sim_machine_get_string(machine, MACHINE, "iommu", "on", &iommu, error) ||
      !vxm_sim_machine_get_string(machine, MACHINE, "cpu_vendor", "intel", &sys->cpu_vendor,
                                  error) ||
      !vxm_sim_machine_get_string(machine, MACHINE, "cpu_model", NULL, &sys->cpu_model, error) ||
      !vxm_sim_machine_get_int(machine, MACHINE, "cpus", 1, 1024, 8, &sys->cpus, error) ||
      !vxm_sim_machine_get_string(machine, MACHINE, "cmdline", NULL, &sys->cmdline, error) ||
      !vxm_sim_machine_get_bool(machine, MACHINE, "kvm", TRUE, &sys->kvm, error) ||
      !vxm_sim_machine_get_int(machine, MACHINE, "mem_total_kib", 1024, G_MAXINT64 / 1024, 16777216,
                               &sys->mem_total_kib, error) ||
      !vxm_sim_machine_get_bool(machine, MACHINE, "nvidia_nodes", FALSE, &sys->nvidia_nodes,
                                error) ||
      !vxm_sim_machine_get_bool(machine, MACHINE, "kvm_ignore_msrs", FALSE, &sys->kvm_ignore_msrs,
                                error) ||
      !vxm_sim_machine_get_bool(machine, MACHINE, "kvm_report_ignored_msrs", TRUE,
                                &sys->kvm_report_ignored_msrs, error) ||
      !vxm_sim_machine_get_int(machine, MACHINE, "phys_bits", 36, 52, 39, &sys->phys_bits, error) ||
      !vxm_sim_machine_get_string(machine, MACHINE, "usr_share", "/usr/share", &usr_share, error))
    return NULL;
  if (g_strcmp0(iommu, "on") == 0) {
    sys->iommu = TRUE;
  } else if (g_strcmp0(iommu, "off") != 0) {
    vxm_sim_machine_error(machine, error, MACHINE, "iommu", "'%s' is not on or off", iommu);
    return NULL;
  }
  if (g_strcmp0(sys->cpu_vendor, "intel") != 0 && g_strcmp0(sys->cpu_vendor, "amd") != 0) {
    vxm_sim_machine_error(machine, error, MACHINE, "cpu_vendor", "'%s' is not intel or amd",
                          sys->cpu_vendor);
    return NULL;
  }
  if (sys->cpu_model == NULL)
    sys->cpu_model = g_strdup(g_strcmp0(sys->cpu_vendor, "amd") == 0
                                  ? "AMD Ryzen 7 5700G with Radeon Graphics"
                                  : "Intel(R) Core(TM) i7-9700K CPU @ 3.60GHz");
  if (sys->cmdline == NULL)
    sys->cmdline = g_strdup_printf("BOOT_IMAGE=/boot/vmlinuz root=/dev/sda2 ro quiet%s",
                                   !sys->iommu                              ? ""
                                   : g_strcmp0(sys->cpu_vendor, "amd") == 0 ? " amd_iommu=on"
                                                                            : " intel_iommu=on");

  put_generated(sys, "/proc/cmdline", ATTR_CMDLINE);
  put_generated(sys, "/proc/meminfo", ATTR_MEMINFO);
  put_generated(sys, "/proc/cpuinfo", ATTR_CPUINFO);
  vxm_sim_host_add_device_node(host, "/dev/null", 0666, 0, 0);
  if (sys->kvm) {
    vxm_sim_host_add_device_node(host, "/dev/kvm", 0660, 0, vxm_sim_host_group_id("kvm"));
    vxm_sim_node_mkdir_p(root, "/sys/module/kvm");
    vxm_sim_node_put(root, "/sys/module/kvm/parameters/ignore_msrs",
                     vxm_sim_bool_param_new(host, &sys->kvm_ignore_msrs));
    vxm_sim_node_put(root, "/sys/module/kvm/parameters/report_ignored_msrs",
                     vxm_sim_bool_param_new(host, &sys->kvm_report_ignored_msrs));
    vxm_sim_node_mkdir_p(root, g_strcmp0(sys->cpu_vendor, "amd") == 0 ? "/sys/module/kvm_amd"
                                                                      : "/sys/module/kvm_intel");
  }
  if (sys->nvidia_nodes) {
    vxm_sim_host_add_device_node(host, "/dev/nvidia0", 0666, 0, 0);
    vxm_sim_host_add_device_node(host, "/dev/nvidiactl", 0666, 0, 0);
  }
  writable_dir(sys, "/run", 0755);
  writable_dir(sys, "/etc", 0755);
  writable_dir(sys, "/dev/shm", 01777);
  if (g_strcmp0(usr_share, "none") != 0) {
    g_autofree char *real = vxm_sim_machine_resolve_path(machine, usr_share);
    if (!g_file_test(real, G_FILE_TEST_IS_DIR)) {
      vxm_sim_machine_error(machine, error, MACHINE, "usr_share",
                            "%s is not a folder (give a folder or 'none')", real);
      return NULL;
    }
    vxm_sim_node_put(root, "/usr/share", vxm_sim_node_new_passthrough(real));
  }
  if (!load_seed_files(sys, machine, error) || !load_dmi(sys, machine, error))
    return NULL;
  return g_steal_pointer(&sys);
}
