/* vxm-sim-pci: the simulated PCI bus, its drivers and the IOMMU (see the header). */
#include "vxm-sim-pci.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vxm-sim-display.h"
#include "vxm-sim-proc.h"
#include "vxm-sim-system.h"

#define SYS_DEVICES       "/sys/devices"
#define SYS_BUS_PCI       "/sys/bus/pci"
#define SYS_PCI_DEVICES   "/sys/bus/pci/devices"
#define SYS_PCI_DRIVERS   "/sys/bus/pci/drivers"
#define SYS_IOMMU_GROUPS  "/sys/kernel/iommu_groups"
#define SYS_CLASS_DRM     "/sys/class/drm"
#define SYS_MODULE        "/sys/module"
#define DEV_VFIO          "/dev/vfio"
#define DEV_DRI           "/dev/dri"
#define PCI_ANY_ID        0xffffffffu
#define DRM_MAJOR         226
#define VFIO_DRIVER       "vfio-pci"
#define CLASS_BRIDGE_PCI  0x0604
#define CLASS_BRIDGE_CARD 0x0607
#define CLASS_VGA         0x0300

typedef struct {
  guint32 vendor, device, subvendor, subdevice, class, class_mask;
} PciId;

/* A bool parameter of a driver's module (/sys/module/MODULE/parameters/NAME). */
typedef struct {
  char *name;
  gboolean initial; /* the machine file's value: what the module starts with at each load */
  gboolean value;
} ModuleParam;

typedef struct {
  char *name;
  char *module;           /* NULL: built in */
  GArray *ids;            /* PciId, from the machine file */
  GArray *dynamic_ids;    /* PciId, from new_id */
  gboolean drm;           /* makes the DRM nodes of the devices it drives */
  GStrv unbind_waits_for; /* node globs whose holders block an unbind (NVIDIA), or NULL */
  char *dir_path;
  gboolean loaded;   /* its module is in the kernel: the driver is registered */
  GPtrArray *params; /* ModuleParam */
} Driver;

#define BAR_COUNT 6

typedef struct {
  char *bdf;
  char *parent;
  guint32 vendor, device, subvendor, subdevice, class, revision;
  gint64 iommu_group; /* -1: none */
  gint64 boot_vga;    /* -1: no attribute (not VGA) */
  gint64 numa_node;
  char *reset_methods;      /* what the device supports; NULL: cannot be reset */
  GStrv reset_capabilities; /* or what the hardware can do, reset_methods found at discovery */
  GStrv drm_nodes;
  Driver *initial_driver;
  char *sys_path;
  guint64 bar_size[BAR_COUNT]; /* 0: no memory BAR there */
  guint64 bar_start[BAR_COUNT];
  gboolean bar_64[BAR_COUNT];    /* a 64-bit prefetchable memory BAR (else 32-bit) */
  guint64 bar_resize[BAR_COUNT]; /* the Resizable BAR sizes bitmap, 0: not resizable */
  gboolean d3cold_capable;       /* the platform can cut its power (ACPI _PR3) */
  gboolean d3cold_allowed;
  /* mutable */
  gboolean present;
  Driver *driver;
  char *driver_override;
  char *reset_method;
  guint lock_held; /* an unbind blocked in the kernel holds the device lock */
} Device;

struct _VxmSimPci {
  VxmSimHost *host;
  gboolean iommu;
  gboolean autoprobe;
  GPtrArray *devices; /* machine-file order */
  GHashTable *device_by_bdf;
  GPtrArray *drivers; /* machine-file order: the probe order */
  GHashTable *driver_by_name;
  gid_t video_gid;
  gid_t render_gid;
  guint64 next_bar32; /* where the next BAR goes, as a firmware assigns them */
  guint64 next_bar64;
};

enum {
  ATTR_VENDOR,
  ATTR_DEVICE,
  ATTR_SUBSYSTEM_VENDOR,
  ATTR_SUBSYSTEM_DEVICE,
  ATTR_CLASS,
  ATTR_REVISION,
  ATTR_DRIVER_OVERRIDE,
  ATTR_BOOT_VGA,
  ATTR_NUMA_NODE,
  ATTR_RESET_METHOD,
  ATTR_RESET,
  ATTR_REMOVE,
  ATTR_UEVENT,
  ATTR_DRV_BIND,
  ATTR_DRV_UNBIND,
  ATTR_DRV_NEW_ID,
  ATTR_DRV_REMOVE_ID,
  ATTR_BUS_DRIVERS_PROBE,
  ATTR_BUS_DRIVERS_AUTOPROBE,
  ATTR_BUS_RESCAN,
  ATTR_RESOURCE,
  ATTR_RESOURCE_RESIZE, /* + the BAR number */
  ATTR_D3COLD_ALLOWED = ATTR_RESOURCE_RESIZE + BAR_COUNT,
  ATTR_POWER_STATE,
};

static void
module_param_free(ModuleParam *p)
{
  g_free(p->name);
  g_free(p);
}

static void
driver_free(Driver *drv)
{
  g_free(drv->name);
  g_free(drv->module);
  g_array_unref(drv->ids);
  g_array_unref(drv->dynamic_ids);
  g_strfreev(drv->unbind_waits_for);
  g_free(drv->dir_path);
  g_ptr_array_unref(drv->params);
  g_free(drv);
}

static void
device_free(Device *dev)
{
  g_free(dev->bdf);
  g_free(dev->parent);
  g_free(dev->reset_methods);
  g_strfreev(dev->reset_capabilities);
  g_strfreev(dev->drm_nodes);
  g_free(dev->sys_path);
  g_free(dev->driver_override);
  g_free(dev->reset_method);
  g_free(dev);
}

void
vxm_sim_pci_free(VxmSimPci *pci)
{
  if (pci == NULL)
    return;
  g_hash_table_unref(pci->device_by_bdf);
  g_ptr_array_unref(pci->devices);
  g_hash_table_unref(pci->driver_by_name);
  g_ptr_array_unref(pci->drivers);
  g_free(pci);
}

/* ---- helpers ---- */

static VxmSimNode *
root_of(VxmSimPci *pci)
{
  return pci->host->root;
}

/* The kernel compares names with sysfs_streq(): a trailing newline is ignored. */
static char *
value_text(const char *buf, gsize len)
{
  if (len > 0 && buf[len - 1] == '\n')
    len--;
  return g_strndup(buf, len);
}

static Device *
find_present_device(VxmSimPci *pci, const char *name)
{
  Device *dev = g_hash_table_lookup(pci->device_by_bdf, name);

  return dev != NULL && dev->present ? dev : NULL;
}

static gboolean
id_matches(const PciId *id, const Device *dev)
{
  return (id->vendor == PCI_ANY_ID || id->vendor == dev->vendor) &&
         (id->device == PCI_ANY_ID || id->device == dev->device) &&
         (id->subvendor == PCI_ANY_ID || id->subvendor == dev->subvendor) &&
         (id->subdevice == PCI_ANY_ID || id->subdevice == dev->subdevice) &&
         !((id->class ^ dev->class) & id->class_mask);
}

static gboolean
ids_match(GArray *ids, const Device *dev)
{
  for (guint i = 0; i < ids->len; i++)
    if (id_matches(&g_array_index(ids, PciId, i), dev))
      return TRUE;
  return FALSE;
}

/* pci_match_device(): driver_override first, then dynamic ids, then the static table; an
 * override naming the driver always matches. */
static gboolean
driver_matches(const Driver *drv, const Device *dev)
{
  if (!drv->loaded)
    return FALSE;
  if (dev->driver_override != NULL && g_strcmp0(dev->driver_override, drv->name) != 0)
    return FALSE;
  if (ids_match(drv->dynamic_ids, dev) || ids_match(drv->ids, dev))
    return TRUE;
  return dev->driver_override != NULL;
}

static gboolean
is_bridge(const Device *dev)
{
  guint32 cls = dev->class >> 8;
  return cls == CLASS_BRIDGE_PCI || cls == CLASS_BRIDGE_CARD;
}

/* The driver's probe(): 0 when it takes the device. vfio-pci refuses bridges and devices
 * without an IOMMU group, like vfio_pci_probe(). */
static int
driver_probe(VxmSimPci *pci, const Driver *drv, const Device *dev)
{
  if (g_strcmp0(drv->name, VFIO_DRIVER) == 0) {
    if (is_bridge(dev))
      return -EINVAL;
    if (!pci->iommu || dev->iommu_group < 0)
      return -EINVAL;
  }
  return 0;
}

static char *
group_path(gint64 group)
{
  return g_strdup_printf(SYS_IOMMU_GROUPS "/%" G_GINT64_FORMAT, group);
}

static void
put_attr(VxmSimPci *pci, const char *dir, const char *name, guint mode, VxmSimShowFunc show,
         VxmSimStoreFunc store, gpointer item, guint attr, const char *log_path)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  VxmSimNode *node = vxm_sim_node_new_generated(mode, show, store, pci, item, attr);

  node->flags |= VXM_SIM_NODE_FLAG_ATTRIBUTE;
  node->log_path = g_strdup(log_path);
  vxm_sim_node_put(root_of(pci), path, node);
}

static gboolean
group_has_vfio_device(VxmSimPci *pci, gint64 group, const Device *except)
{
  for (guint i = 0; i < pci->devices->len; i++) {
    Device *dev = pci->devices->pdata[i];
    if (dev != except && dev->present && dev->iommu_group == group && dev->driver != NULL &&
        g_strcmp0(dev->driver->name, VFIO_DRIVER) == 0)
      return TRUE;
  }
  return FALSE;
}

static gboolean
group_has_device(VxmSimPci *pci, gint64 group, const Device *except)
{
  for (guint i = 0; i < pci->devices->len; i++) {
    Device *dev = pci->devices->pdata[i];
    if (dev != except && dev->present && dev->iommu_group == group)
      return TRUE;
  }
  return FALSE;
}

/* ---- DRM nodes ---- */

static guint
drm_minor(const char *name)
{
  guint64 minor = 0;

  if (g_str_has_prefix(name, "renderD"))
    g_ascii_string_to_unsigned(name + 7, 10, 0, 1023, &minor, NULL);
  else if (g_str_has_prefix(name, "card"))
    g_ascii_string_to_unsigned(name + 4, 10, 0, 1023, &minor, NULL);
  return (guint)minor;
}

static void
drm_add(VxmSimPci *pci, Device *dev)
{
  for (guint i = 0; dev->drm_nodes != NULL && dev->drm_nodes[i] != NULL; i++) {
    const char *name = dev->drm_nodes[i];
    gboolean render = g_str_has_prefix(name, "renderD");
    guint minor = drm_minor(name);
    g_autofree char *dir = g_strdup_printf("%s/drm/%s", dev->sys_path, name);
    g_autofree char *dev_attr = g_strdup_printf("%s/dev", dir);
    g_autofree char *uevent = g_strdup_printf("%s/uevent", dir);
    g_autofree char *class_link = g_strdup_printf(SYS_CLASS_DRM "/%s", name);
    g_autofree char *dev_node = g_strdup_printf(DEV_DRI "/%s", name);
    g_autofree char *by_path =
        g_strdup_printf(DEV_DRI "/by-path/pci-%s-%s", dev->bdf, render ? "render" : "card");
    g_autofree char *dev_text = g_strdup_printf("%d:%u\n", DRM_MAJOR, minor);
    g_autofree char *uevent_text = g_strdup_printf(
        "MAJOR=%d\nMINOR=%u\nDEVNAME=dri/%s\nDEVTYPE=drm_minor\n", DRM_MAJOR, minor, name);
    VxmSimNode *node;

    node = vxm_sim_node_put(root_of(pci), dev_attr, vxm_sim_node_new_file(0444, dev_text));
    node->flags |= VXM_SIM_NODE_FLAG_ATTRIBUTE;
    node = vxm_sim_node_put(root_of(pci), uevent, vxm_sim_node_new_file(0644, uevent_text));
    node->flags |= VXM_SIM_NODE_FLAG_ATTRIBUTE;
    vxm_sim_node_put_link(root_of(pci), class_link, dir);
    vxm_sim_host_add_device_node(pci->host, dev_node, render ? 0666 : 0660, 0,
                                 render ? pci->render_gid : pci->video_gid);
    vxm_sim_node_put_link(root_of(pci), by_path, dev_node);
    if (!render)
      vxm_sim_display_card_added(pci->host->display, name, dir);
  }
}

static void
drm_remove(VxmSimPci *pci, Device *dev)
{
  g_autofree char *drm_dir = g_strdup_printf("%s/drm", dev->sys_path);

  for (guint i = 0; dev->drm_nodes != NULL && dev->drm_nodes[i] != NULL; i++) {
    const char *name = dev->drm_nodes[i];
    gboolean render = g_str_has_prefix(name, "renderD");
    g_autofree char *class_link = g_strdup_printf(SYS_CLASS_DRM "/%s", name);
    g_autofree char *dev_node = g_strdup_printf(DEV_DRI "/%s", name);
    g_autofree char *by_path =
        g_strdup_printf(DEV_DRI "/by-path/pci-%s-%s", dev->bdf, render ? "render" : "card");

    if (!render)
      vxm_sim_display_card_removed(pci->host->display, name);
    vxm_sim_node_remove_path(root_of(pci), class_link);
    vxm_sim_node_remove_path(root_of(pci), dev_node);
    vxm_sim_node_remove_path(root_of(pci), by_path);
  }
  vxm_sim_node_remove_path(root_of(pci), drm_dir);
}

/* ---- /dev/vfio/N: the group file ---- */

typedef struct {
  VxmSimPci *pci;
  guint pid;
  char *path;
} VfioGroupClient;

static gboolean
vfio_group_held(VxmSimPci *pci, const char *path)
{
  const char *const globs[] = {path, NULL};
  return vxm_sim_proc_holds(pci->host->proc, globs);
}

/* vfio_group_fops_open(): one open file per group at a time (EBUSY for the next); the opener
 * shows in /proc/PID/fd like any holder of a file. */
static int
vfio_group_open(VxmSimNode *node, int flags, int pid, gpointer *client)
{
  VxmSimPci *pci = node->owner;
  g_autofree char *path = NULL;
  VfioGroupClient *c;

  vxm_sim_host_lock(pci->host);
  path = vxm_sim_node_path(node);
  if (vfio_group_held(pci, path)) {
    vxm_sim_host_unlock(pci->host);
    return -EBUSY;
  }
  vxm_sim_proc_open_node(pci->host->proc, (guint)pid, node->uid, path);
  vxm_sim_host_unlock(pci->host);
  c = g_new0(VfioGroupClient, 1);
  c->pci = pci;
  c->pid = (guint)pid;
  c->path = g_steal_pointer(&path);
  *client = c;
  return 0;
}

static void
vfio_group_release(VxmSimNode *node, gpointer client)
{
  VfioGroupClient *c = client;

  vxm_sim_host_lock(c->pci->host);
  vxm_sim_proc_close_node(c->pci->host->proc, c->pid, c->path);
  vxm_sim_host_unlock(c->pci->host);
  /* an unbind waiting for the group's users may go on now */
  vxm_sim_faults_wake(c->pci->host->faults);
  g_free(c->path);
  g_free(c);
}

static const VxmSimDeviceOps vfio_group_ops = {
    .open = vfio_group_open,
    .release = vfio_group_release,
};

/* ---- binding ---- */

static void
attach(VxmSimPci *pci, Device *dev, Driver *drv)
{
  g_autofree char *driver_link = g_strdup_printf("%s/driver", dev->sys_path);
  g_autofree char *back_link = g_strdup_printf("%s/%s", drv->dir_path, dev->bdf);

  dev->driver = drv;
  vxm_sim_node_put_link(root_of(pci), driver_link, drv->dir_path);
  vxm_sim_node_put_link(root_of(pci), back_link, dev->sys_path);
  if (drv->drm)
    drm_add(pci, dev);
  if (g_strcmp0(drv->name, VFIO_DRIVER) == 0 && pci->iommu && dev->iommu_group >= 0 &&
      !group_has_vfio_device(pci, dev->iommu_group, dev)) {
    g_autofree char *path = g_strdup_printf(DEV_VFIO "/%" G_GINT64_FORMAT, dev->iommu_group);
    VxmSimNode *node = vxm_sim_host_add_device_node(pci->host, path, 0600, 0, 0);

    node->owner = pci;
    node->device_ops = &vfio_group_ops;
  }
}

static void
detach(VxmSimPci *pci, Device *dev)
{
  Driver *drv = dev->driver;
  g_autofree char *driver_link = NULL;
  g_autofree char *back_link = NULL;

  if (drv == NULL)
    return;
  driver_link = g_strdup_printf("%s/driver", dev->sys_path);
  back_link = g_strdup_printf("%s/%s", drv->dir_path, dev->bdf);
  if (drv->drm)
    drm_remove(pci, dev);
  vxm_sim_node_remove_path(root_of(pci), driver_link);
  vxm_sim_node_remove_path(root_of(pci), back_link);
  dev->driver = NULL;
  if (g_strcmp0(drv->name, VFIO_DRIVER) == 0 && dev->iommu_group >= 0 &&
      !group_has_vfio_device(pci, dev->iommu_group, dev)) {
    g_autofree char *node = g_strdup_printf(DEV_VFIO "/%" G_GINT64_FORMAT, dev->iommu_group);
    vxm_sim_node_remove_path(root_of(pci), node);
  }
}

/* device_attach(): the first driver, in registration order, that matches and whose probe
 * takes the device. Returns TRUE when one did. */
static gboolean
probe_device(VxmSimPci *pci, Device *dev)
{
  if (dev->driver != NULL || !dev->present)
    return dev->driver != NULL;
  for (guint i = 0; i < pci->drivers->len; i++) {
    Driver *drv = pci->drivers->pdata[i];
    if (driver_matches(drv, dev) && driver_probe(pci, drv, dev) == 0) {
      attach(pci, dev, drv);
      return TRUE;
    }
  }
  return FALSE;
}

/* driver_attach(): offers every unbound device to @drv. */
static void
driver_attach(VxmSimPci *pci, Driver *drv)
{
  for (guint i = 0; i < pci->devices->len; i++) {
    Device *dev = pci->devices->pdata[i];
    if (dev->present && dev->driver == NULL && driver_matches(drv, dev) &&
        driver_probe(pci, drv, dev) == 0)
      attach(pci, dev, drv);
  }
}

/* ---- attribute show/store ---- */

static const ModuleParam *
driver_param(const Driver *drv, const char *name)
{
  for (guint i = 0; drv->params != NULL && i < drv->params->len; i++) {
    const ModuleParam *p = drv->params->pdata[i];
    if (g_str_equal(p->name, name))
      return p;
  }
  return NULL;
}

static gboolean vfio_group_held(VxmSimPci *pci, const char *path);

/* The device's PCI power state as power_state shows it. vfio-pci puts a device no user has
 * open into D3hot (runtime PM) unless its disable_idle_d3 is set; where the platform can cut
 * the slot's power and d3cold_allowed is 1, that becomes D3cold. Everything else runs in D0. */
static const char *
power_state(VxmSimPci *pci, Device *dev)
{
  const ModuleParam *no_idle_d3;
  g_autofree char *group = NULL;

  if (dev->driver == NULL || g_strcmp0(dev->driver->name, VFIO_DRIVER) != 0)
    return "D0";
  no_idle_d3 = driver_param(dev->driver, "disable_idle_d3");
  if (no_idle_d3 != NULL && no_idle_d3->value)
    return "D0";
  group = g_strdup_printf(DEV_VFIO "/%" G_GINT64_FORMAT, dev->iommu_group);
  if (dev->iommu_group >= 0 && vfio_group_held(pci, group))
    return "D0";
  return dev->d3cold_capable && dev->d3cold_allowed ? "D3cold" : "D3hot";
}

static char *
device_show(VxmSimNode *node, gssize *len)
{
  Device *dev = node->item;

  switch (node->attr) {
  case ATTR_VENDOR: return g_strdup_printf("0x%04x\n", dev->vendor);
  case ATTR_DEVICE: return g_strdup_printf("0x%04x\n", dev->device);
  case ATTR_SUBSYSTEM_VENDOR: return g_strdup_printf("0x%04x\n", dev->subvendor);
  case ATTR_SUBSYSTEM_DEVICE: return g_strdup_printf("0x%04x\n", dev->subdevice);
  case ATTR_CLASS: return g_strdup_printf("0x%06x\n", dev->class);
  case ATTR_REVISION: return g_strdup_printf("0x%02x\n", dev->revision);
  case ATTR_DRIVER_OVERRIDE:
    return g_strdup_printf("%s\n", dev->driver_override ? dev->driver_override : "(null)");
  case ATTR_BOOT_VGA: return g_strdup_printf("%d\n", (int)dev->boot_vga);
  case ATTR_NUMA_NODE: return g_strdup_printf("%d\n", (int)dev->numa_node);
  case ATTR_RESET_METHOD: return g_strdup_printf("%s\n", dev->reset_method);
  case ATTR_RESOURCE: {
    /* resource_show(): 6 BARs, the ROM, the bridge windows; "start end flags" */
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < 13; i++) {
      guint64 start = 0, end = 0, flags = 0;

      if (i < BAR_COUNT && dev->bar_size[i] > 0) {
        start = dev->bar_start[i];
        end = start + dev->bar_size[i] - 1;
        /* IORESOURCE_MEM | SIZEALIGN, + PREFETCH | MEM_64 (what a GPU's VRAM BAR has) */
        flags = dev->bar_64[i] ? 0x0014220c : 0x00040200;
      }
      g_string_append_printf(out,
                             "0x%016" G_GINT64_MODIFIER "x 0x%016" G_GINT64_MODIFIER
                             "x 0x%016" G_GINT64_MODIFIER "x\n",
                             start, end, flags);
    }
    return g_string_free(out, FALSE);
  }
  case ATTR_D3COLD_ALLOWED: return g_strdup_printf("%d\n", dev->d3cold_allowed ? 1 : 0);
  case ATTR_POWER_STATE: return g_strdup_printf("%s\n", power_state(node->owner, dev));
  case ATTR_UEVENT: {
    GString *out = g_string_new(NULL);
    if (dev->driver != NULL)
      g_string_append_printf(out, "DRIVER=%s\n", dev->driver->name);
    g_string_append_printf(out, "PCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:%04X\n",
                           dev->class, dev->vendor, dev->device, dev->subvendor, dev->subdevice);
    g_string_append_printf(out, "PCI_SLOT_NAME=%s\n", dev->bdf);
    g_string_append_printf(out, "MODALIAS=pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n",
                           dev->vendor, dev->device, dev->subvendor, dev->subdevice,
                           dev->class >> 16, (dev->class >> 8) & 0xff, dev->class & 0xff);
    return g_string_free(out, FALSE);
  }
  default:
    if (node->attr >= ATTR_RESOURCE_RESIZE && node->attr < ATTR_RESOURCE_RESIZE + BAR_COUNT)
      return g_strdup_printf("%016" G_GINT64_MODIFIER "x\n",
                             dev->bar_resize[node->attr - ATTR_RESOURCE_RESIZE]);
    return g_strdup("");
  }
}

/* kstrtoul(text, 0, ...): decimal, 0x hex or 0 octal, nothing after. */
static gboolean
parse_ulong(const char *text, guint64 *out)
{
  char *end = NULL;

  if (text == NULL || !g_ascii_isdigit(text[0]))
    return FALSE;
  errno = 0;
  *out = g_ascii_strtoull(text, &end, 0);
  return errno == 0 && end != text && *end == '\0';
}

/* echo BIT > resourceN_resize (pci-sysfs.c): every driver of the device and of the functions
 * beside it must be unbound; the size must be one the capability offers. */
static int
resize_bar(VxmSimPci *pci, Device *dev, guint bar, const char *text)
{
  guint64 bit;

  if (!parse_ulong(text, &bit) || bit > 43)
    return -EINVAL;
  if ((dev->bar_resize[bar] & (G_GUINT64_CONSTANT(1) << bit)) == 0)
    return -EINVAL;
  for (guint i = 0; i < pci->devices->len; i++) {
    Device *d = pci->devices->pdata[i];

    if (d->present && d->driver != NULL && g_strcmp0(d->parent, dev->parent) == 0 &&
        strncmp(d->bdf, dev->bdf, 10) == 0)
      return -EBUSY;
  }
  dev->bar_size[bar] = G_GUINT64_CONSTANT(1) << (bit + 20);
  return 0;
}

static int
set_reset_method(Device *dev, const char *text)
{
  g_auto(GStrv) wanted = NULL;
  g_auto(GStrv) supported = NULL;
  g_autoptr(GString) out = g_string_new(NULL);

  if (g_strcmp0(text, "default") == 0) {
    g_free(dev->reset_method);
    dev->reset_method = g_strdup(dev->reset_methods);
    return 0;
  }
  wanted = g_strsplit_set(text, " ", -1);
  supported = g_strsplit_set(dev->reset_methods, " ", -1);
  for (guint i = 0; wanted[i] != NULL; i++) {
    if (wanted[i][0] == '\0')
      continue;
    if (!g_strv_contains((const char *const *)supported, wanted[i]))
      return -EINVAL;
    if (out->len)
      g_string_append_c(out, ' ');
    g_string_append(out, wanted[i]);
  }
  g_free(dev->reset_method);
  dev->reset_method = g_strdup(out->str);
  return 0;
}

static int
device_store(VxmSimNode *node, const char *buf, gsize len)
{
  VxmSimPci *pci = node->owner;
  Device *dev = node->item;
  g_autofree char *text = NULL;

  if (!dev->present)
    return -ENODEV;
  switch (node->attr) {
  case ATTR_DRIVER_OVERRIDE:
    /* echo vfio-pci > driver_override; echo > driver_override clears it. driver_set_override()
     * keeps the text up to the first newline; an empty result clears. */
    if (len >= 4095)
      return -EINVAL;
    text = g_strndup(buf, len);
    text[strcspn(text, "\n")] = '\0';
    g_free(dev->driver_override);
    dev->driver_override = text[0] != '\0' ? g_steal_pointer(&text) : NULL;
    return 0;
  case ATTR_RESET_METHOD: text = value_text(buf, len); return set_reset_method(dev, text);
  case ATTR_D3COLD_ALLOWED: {
    /* d3cold_allowed_store(): kstrtoul, any non-zero allows */
    guint64 v;

    text = value_text(buf, len);
    if (!parse_ulong(text, &v))
      return -EINVAL;
    dev->d3cold_allowed = v != 0;
    return 0;
  }
  case ATTR_RESET:
    text = value_text(buf, len);
    if (g_strcmp0(text, "1") != 0)
      return -EINVAL;
    return dev->reset_method != NULL && dev->reset_method[0] != '\0' ? 0 : -ENOTTY;
  case ATTR_REMOVE:
    text = value_text(buf, len);
    if (g_strcmp0(text, "1") != 0)
      return -EINVAL;
    return vxm_sim_pci_unplug(pci, dev->bdf);
  default:
    if (node->attr >= ATTR_RESOURCE_RESIZE && node->attr < ATTR_RESOURCE_RESIZE + BAR_COUNT) {
      text = value_text(buf, len);
      return resize_bar(pci, dev, node->attr - ATTR_RESOURCE_RESIZE, text);
    }
    return -EACCES;
  }
}

static int
parse_ids(const char *buf, gsize len, PciId *id, int *fields_out)
{
  g_autofree char *text = g_strndup(buf, len);
  unsigned int vendor = 0, device = 0, subvendor = PCI_ANY_ID, subdevice = PCI_ANY_ID;
  unsigned int class = 0, class_mask = 0;
  unsigned long driver_data = 0;
  int fields = sscanf(text, "%x %x %x %x %x %x %lx", &vendor, &device, &subvendor, &subdevice,
                      &class, &class_mask, &driver_data);

  if (fields < 2)
    return -EINVAL;
  *id = (PciId){vendor, device, subvendor, subdevice, class, class_mask};
  *fields_out = fields;
  return 0;
}

static int
driver_store(VxmSimNode *node, const char *buf, gsize len)
{
  VxmSimPci *pci = node->owner;
  Driver *drv = node->item;
  g_autofree char *name = value_text(buf, len);
  Device *dev;
  PciId id;
  int fields = 0;
  int res;

  switch (node->attr) {
  case ATTR_DRV_BIND:
    /* echo $BDF > /sys/bus/pci/drivers/$DRIVER/bind (bind_store, device_driver_attach) */
    dev = find_present_device(pci, name);
    if (dev == NULL || !driver_matches(drv, dev))
      return -ENODEV;
    if (dev->driver != NULL)
      return -EBUSY;
    res = driver_probe(pci, drv, dev);
    if (res != 0)
      return res;
    attach(pci, dev, drv);
    return 0;
  case ATTR_DRV_UNBIND:
    /* echo $BDF > /sys/bus/pci/drivers/$DRIVER/unbind (unbind_store) */
    dev = find_present_device(pci, name);
    if (dev == NULL || dev->driver != drv)
      return -ENODEV;
    detach(pci, dev);
    return 0;
  case ATTR_DRV_NEW_ID: {
    /* echo "$VENDOR $DEVICE" > /sys/bus/pci/drivers/$DRIVER/new_id (new_id_store) */
    res = parse_ids(buf, len, &id, &fields);
    if (res != 0)
      return res;
    if (fields != 7) {
      Device probe = {.vendor = id.vendor,
                      .device = id.device,
                      .subvendor = id.subvendor,
                      .subdevice = id.subdevice,
                      .class = id.class};
      if (driver_matches(drv, &probe))
        return -EEXIST;
    }
    g_array_append_val(drv->dynamic_ids, id);
    if (pci->autoprobe)
      driver_attach(pci, drv);
    return 0;
  }
  case ATTR_DRV_REMOVE_ID:
    /* echo "$VENDOR $DEVICE" > /sys/bus/pci/drivers/$DRIVER/remove_id (remove_id_store) */
    res = parse_ids(buf, len, &id, &fields);
    if (res != 0)
      return res;
    if (fields < 6)
      id.class_mask = 0;
    for (guint i = 0; i < drv->dynamic_ids->len; i++) {
      PciId *have = &g_array_index(drv->dynamic_ids, PciId, i);
      if (have->vendor == id.vendor && have->device == id.device &&
          (id.subdevice == PCI_ANY_ID || have->subdevice == id.subdevice) &&
          (id.subvendor == PCI_ANY_ID || have->subvendor == id.subvendor) &&
          !((have->class ^ id.class) & id.class_mask)) {
        g_array_remove_index(drv->dynamic_ids, i);
        return 0;
      }
    }
    return -ENODEV;
  default: return -EACCES;
  }
}

static char *
bus_show(VxmSimNode *node, gssize *len)
{
  VxmSimPci *pci = node->owner;

  if (node->attr == ATTR_BUS_DRIVERS_AUTOPROBE)
    return g_strdup_printf("%d\n", pci->autoprobe ? 1 : 0);
  return g_strdup("");
}

static int
bus_store(VxmSimNode *node, const char *buf, gsize len)
{
  VxmSimPci *pci = node->owner;
  g_autofree char *text = value_text(buf, len);
  Device *dev;

  switch (node->attr) {
  case ATTR_BUS_DRIVERS_PROBE:
    /* echo $BDF > /sys/bus/pci/drivers_probe (drivers_probe_store) */
    dev = find_present_device(pci, text);
    if (dev == NULL)
      return -ENODEV;
    probe_device(pci, dev);
    return 0;
  case ATTR_BUS_DRIVERS_AUTOPROBE:
    if (g_strcmp0(text, "0") != 0 && g_strcmp0(text, "1") != 0)
      return -EINVAL;
    pci->autoprobe = text[0] == '1';
    return 0;
  case ATTR_BUS_RESCAN:
    /* echo 1 > /sys/bus/pci/rescan: removed devices come back */
    for (guint i = 0; i < pci->devices->len; i++) {
      Device *d = pci->devices->pdata[i];
      if (!d->present)
        vxm_sim_pci_replug(pci, d->bdf);
    }
    return 0;
  default: return -EACCES;
  }
}

const char *
vxm_sim_pci_get_sys_path(VxmSimPci *pci, const char *bdf)
{
  Device *dev = g_hash_table_lookup(pci->device_by_bdf, bdf);

  return dev != NULL ? dev->sys_path : NULL;
}

/* ---- device presence ---- */

static void
device_add_tree(VxmSimPci *pci, Device *dev)
{
  g_autofree char *alias = g_strdup_printf(SYS_PCI_DEVICES "/%s", dev->bdf);
  const char *d = dev->sys_path;
  static const struct {
    const char *name;
    guint attr;
    guint mode;
  } attrs[] = {
      {"vendor", ATTR_VENDOR, 0444},
      {"device", ATTR_DEVICE, 0444},
      {"subsystem_vendor", ATTR_SUBSYSTEM_VENDOR, 0444},
      {"subsystem_device", ATTR_SUBSYSTEM_DEVICE, 0444},
      {"class", ATTR_CLASS, 0444},
      {"revision", ATTR_REVISION, 0444},
      {"driver_override", ATTR_DRIVER_OVERRIDE, 0644},
      {"numa_node", ATTR_NUMA_NODE, 0444},
      {"remove", ATTR_REMOVE, 0200},
      {"uevent", ATTR_UEVENT, 0444},
  };

  vxm_sim_node_mkdir_p(root_of(pci), d);
  for (gsize i = 0; i < G_N_ELEMENTS(attrs); i++) {
    g_autofree char *log_path = g_strdup_printf("%s/%s", alias, attrs[i].name);
    gboolean writable = (attrs[i].mode & 0200) != 0;
    put_attr(pci, d, attrs[i].name, attrs[i].mode, attrs[i].mode & 0444 ? device_show : NULL,
             writable ? device_store : NULL, dev, attrs[i].attr, log_path);
  }
  {
    g_autofree char *log_resource = g_strdup_printf("%s/resource", alias);
    g_autofree char *log_d3cold = g_strdup_printf("%s/d3cold_allowed", alias);
    g_autofree char *log_power = g_strdup_printf("%s/power_state", alias);

    put_attr(pci, d, "resource", 0444, device_show, NULL, dev, ATTR_RESOURCE, log_resource);
    put_attr(pci, d, "d3cold_allowed", 0644, device_show, device_store, dev, ATTR_D3COLD_ALLOWED,
             log_d3cold);
    put_attr(pci, d, "power_state", 0444, device_show, NULL, dev, ATTR_POWER_STATE, log_power);
    for (guint b = 0; b < BAR_COUNT; b++) {
      g_autofree char *name = g_strdup_printf("resource%u_resize", b);
      g_autofree char *log_path = g_strdup_printf("%s/%s", alias, name);

      if (dev->bar_resize[b] != 0)
        put_attr(pci, d, name, 0644, device_show, device_store, dev, ATTR_RESOURCE_RESIZE + b,
                 log_path);
    }
  }
  if (dev->boot_vga >= 0) {
    g_autofree char *log_path = g_strdup_printf("%s/boot_vga", alias);
    put_attr(pci, d, "boot_vga", 0444, device_show, NULL, dev, ATTR_BOOT_VGA, log_path);
  }
  if (dev->reset_methods != NULL) {
    g_autofree char *log_method = g_strdup_printf("%s/reset_method", alias);
    g_autofree char *log_reset = g_strdup_printf("%s/reset", alias);
    put_attr(pci, d, "reset_method", 0644, device_show, device_store, dev, ATTR_RESET_METHOD,
             log_method);
    if (dev->reset_methods[0] != '\0')
      put_attr(pci, d, "reset", 0200, NULL, device_store, dev, ATTR_RESET, log_reset);
  }
  {
    g_autofree char *subsystem = g_strdup_printf("%s/subsystem", d);
    vxm_sim_node_put_link(root_of(pci), subsystem, SYS_BUS_PCI);
    vxm_sim_node_put_link(root_of(pci), alias, d);
  }
  if (pci->iommu && dev->iommu_group >= 0) {
    g_autofree char *group = group_path(dev->iommu_group);
    g_autofree char *group_link = g_strdup_printf("%s/iommu_group", d);
    g_autofree char *member = g_strdup_printf("%s/devices/%s", group, dev->bdf);
    g_autofree char *type = g_strdup_printf("%s/type", group);
    g_autofree char *regions = g_strdup_printf("%s/reserved_regions", group);

    if (vxm_sim_node_lookup(root_of(pci), type, NULL) == NULL) {
      VxmSimNode *node = vxm_sim_node_put(root_of(pci), type, vxm_sim_node_new_file(0444, "DMA\n"));
      node->flags |= VXM_SIM_NODE_FLAG_ATTRIBUTE;
      node = vxm_sim_node_put(root_of(pci), regions, vxm_sim_node_new_file(0444, ""));
      node->flags |= VXM_SIM_NODE_FLAG_ATTRIBUTE;
    }
    vxm_sim_node_put_link(root_of(pci), group_link, group);
    vxm_sim_node_put_link(root_of(pci), member, d);
  }
}

static void
device_remove_tree(VxmSimPci *pci, Device *dev)
{
  g_autofree char *alias = g_strdup_printf(SYS_PCI_DEVICES "/%s", dev->bdf);

  vxm_sim_node_remove_path(root_of(pci), alias);
  vxm_sim_node_remove_path(root_of(pci), dev->sys_path);
  if (pci->iommu && dev->iommu_group >= 0) {
    g_autofree char *group = group_path(dev->iommu_group);
    g_autofree char *member = g_strdup_printf("%s/devices/%s", group, dev->bdf);

    vxm_sim_node_remove_path(root_of(pci), member);
    if (!group_has_device(pci, dev->iommu_group, dev))
      vxm_sim_node_remove_path(root_of(pci), group);
  }
}

static gboolean
is_below(VxmSimPci *pci, Device *dev, Device *ancestor)
{
  while (dev->parent != NULL) {
    dev = g_hash_table_lookup(pci->device_by_bdf, dev->parent);
    if (dev == ancestor)
      return TRUE;
  }
  return FALSE;
}

int
vxm_sim_pci_unplug(VxmSimPci *pci, const char *bdf)
{
  Device *dev = g_hash_table_lookup(pci->device_by_bdf, bdf);

  if (dev == NULL || !dev->present)
    return -ENODEV;
  /* Children first, as pci_stop_and_remove_bus_device() does. */
  for (guint i = pci->devices->len; i > 0; i--) {
    Device *child = pci->devices->pdata[i - 1];
    if (child->present && is_below(pci, child, dev))
      vxm_sim_pci_unplug(pci, child->bdf);
  }
  detach(pci, dev);
  device_remove_tree(pci, dev);
  dev->present = FALSE;
  g_clear_pointer(&dev->driver_override, g_free);
  return 0;
}

/* pci_init_reset_methods() when the device is found: each method the hardware has, in the
 * kernel's order; a secondary bus reset only for a device alone on a bus below a bridge when
 * it is found (pci_parent_bus_reset()), so in a multi-function slot the function found first
 * gets `bus` and the others do not, and keep what they got. */
static void
discover_reset_methods(VxmSimPci *pci, Device *dev)
{
  static const char *const order[] = {"device_specific", "acpi", "flr", "af_flr", "pm", "bus",
                                      "cxl_bus"};
  g_autoptr(GString) methods = g_string_new(NULL);
  gboolean alone = dev->parent != NULL && !is_bridge(dev);

  for (guint i = 0; alone && i < pci->devices->len; i++) {
    Device *other = pci->devices->pdata[i];
    /* "DDDD:BB:" names the bus */
    if (other != dev && other->present && strncmp(other->bdf, dev->bdf, 8) == 0)
      alone = FALSE;
  }
  for (gsize i = 0; i < G_N_ELEMENTS(order); i++) {
    if (!g_strv_contains((const char *const *)dev->reset_capabilities, order[i]))
      continue;
    if (strcmp(order[i], "bus") == 0 && !alone)
      continue;
    g_string_append_printf(methods, "%s%s", methods->len ? " " : "", order[i]);
  }
  g_free(dev->reset_methods);
  dev->reset_methods = g_string_free(g_steal_pointer(&methods), FALSE);
}

static void
plug(VxmSimPci *pci, Device *dev, gboolean probe)
{
  if (dev->reset_capabilities != NULL)
    discover_reset_methods(pci, dev);
  dev->present = TRUE;
  g_free(dev->reset_method);
  dev->reset_method = g_strdup(dev->reset_methods);
  device_add_tree(pci, dev);
  if (probe && pci->autoprobe)
    probe_device(pci, dev);
}

int
vxm_sim_pci_replug(VxmSimPci *pci, const char *bdf)
{
  Device *dev = g_hash_table_lookup(pci->device_by_bdf, bdf);

  if (dev == NULL || dev->present)
    return -ENODEV;
  if (dev->parent != NULL && find_present_device(pci, dev->parent) == NULL)
    return -ENODEV;
  plug(pci, dev, TRUE);
  /* What sat below a bridge comes back with it, parents before children. */
  for (guint i = 0; i < pci->devices->len; i++) {
    Device *child = pci->devices->pdata[i];
    if (!child->present && is_below(pci, child, dev) && child->parent != NULL &&
        find_present_device(pci, child->parent) != NULL)
      plug(pci, child, TRUE);
  }
  return 0;
}

char *
vxm_sim_pci_device_for_operation(VxmSimPci *pci, const char *path, const char *value,
                                 gssize value_len)
{
  g_autofree char *text = NULL;
  Device *dev = NULL;

  if (value != NULL)
    text = value_text(value, value_len < 0 ? strlen(value) : (gsize)value_len);
  if (g_str_has_prefix(path, SYS_PCI_DEVICES "/")) {
    const char *bdf = path + strlen(SYS_PCI_DEVICES "/");
    g_autofree char *name = g_strndup(bdf, strcspn(bdf, "/"));
    dev = find_present_device(pci, name);
  } else if (text != NULL && (g_str_has_prefix(path, SYS_PCI_DRIVERS "/") ||
                              g_strcmp0(path, SYS_BUS_PCI "/drivers_probe") == 0)) {
    dev = find_present_device(pci, text);
  } else {
    for (guint i = 0; i < pci->devices->len && dev == NULL; i++) {
      Device *d = pci->devices->pdata[i];
      if (d->present && g_str_has_prefix(path, d->sys_path) && path[strlen(d->sys_path)] == '/')
        dev = d;
    }
  }
  return dev != NULL ? g_strdup(dev->bdf) : NULL;
}

gboolean
vxm_sim_pci_unbind_would_wait(VxmSimPci *pci, VxmSimNode *node, const char *buf, gsize len)
{
  g_autofree char *name = NULL;
  g_autoptr(GPtrArray) paths = NULL;
  Driver *drv;
  Device *dev;

  if (node->owner != pci || node->attr != ATTR_DRV_UNBIND || node->store != driver_store)
    return FALSE;
  drv = node->item;
  name = value_text(buf, len);
  dev = find_present_device(pci, name);
  if (dev == NULL || dev->driver != drv)
    return FALSE;
  if (g_strcmp0(drv->name, VFIO_DRIVER) == 0 && dev->iommu_group >= 0) {
    /* vfio-pci's remove waits for the users of the device ("Relaying device request to
     * user"): whoever holds the group's /dev/vfio/N */
    g_autofree char *group_node = g_strdup_printf(DEV_VFIO "/%" G_GINT64_FORMAT, dev->iommu_group);
    if (vfio_group_held(pci, group_node))
      return TRUE;
  }
  if (drv->unbind_waits_for == NULL)
    return FALSE;
  paths = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; drv->unbind_waits_for[i] != NULL; i++)
    g_ptr_array_add(paths, g_strdup(drv->unbind_waits_for[i]));
  for (guint i = 0; drv->drm && dev->drm_nodes != NULL && dev->drm_nodes[i] != NULL; i++)
    g_ptr_array_add(paths, g_strdup_printf(DEV_DRI "/%s", dev->drm_nodes[i]));
  g_ptr_array_add(paths, NULL);
  return vxm_sim_proc_holds(pci->host->proc, (const char *const *)paths->pdata);
}

/* The device an operation on @node (with @buf written, or NULL for a read) must take the
 * device lock of, as the driver core and pci-sysfs do: driver_override (show and store), reset,
 * and bind, unbind and drivers_probe of a device. NULL when it takes none. */
static Device *
device_locked_by(VxmSimPci *pci, VxmSimNode *node, const char *buf, gsize len)
{
  g_autofree char *name = NULL;

  if (node->owner != pci)
    return NULL;
  if (node->show == device_show || node->store == device_store) {
    Device *dev = node->item;
    if (node->attr == ATTR_DRIVER_OVERRIDE || (buf != NULL && node->attr == ATTR_RESET))
      return dev;
    return NULL;
  }
  if (buf == NULL)
    return NULL;
  if ((node->store == driver_store &&
       (node->attr == ATTR_DRV_BIND || node->attr == ATTR_DRV_UNBIND)) ||
      (node->store == bus_store && node->attr == ATTR_BUS_DRIVERS_PROBE)) {
    name = value_text(buf, len);
    return find_present_device(pci, name);
  }
  return NULL;
}

gboolean
vxm_sim_pci_device_lock_busy(VxmSimPci *pci, VxmSimNode *node, const char *buf, gsize len)
{
  Device *dev = device_locked_by(pci, node, buf, len);
  return dev != NULL && dev->lock_held > 0;
}

void
vxm_sim_pci_device_lock_hold(VxmSimPci *pci, VxmSimNode *node, const char *buf, gsize len,
                             gboolean hold)
{
  Device *dev = device_locked_by(pci, node, buf, len);

  if (dev == NULL)
    return;
  if (hold && node->store == driver_store && node->attr == ATTR_DRV_UNBIND && dev->driver != NULL) {
    /* __device_release_driver(): driver_sysfs_remove() comes before the driver's remove(),
     * so while remove() waits the device shows no driver link */
    g_autofree char *driver_link = g_strdup_printf("%s/driver", dev->sys_path);
    g_autofree char *back_link = g_strdup_printf("%s/%s", dev->driver->dir_path, dev->bdf);

    vxm_sim_node_remove_path(root_of(pci), driver_link);
    vxm_sim_node_remove_path(root_of(pci), back_link);
  }
  if (hold)
    dev->lock_held++;
  else if (dev->lock_held > 0)
    dev->lock_held--;
}

/* ---- state ---- */

static char *
format_id(const PciId *id)
{
  GString *out = g_string_new(NULL);

  g_string_append_printf(out, "%04x:%04x", id->vendor, id->device);
  if (id->subvendor != PCI_ANY_ID || id->subdevice != PCI_ANY_ID || id->class_mask != 0)
    g_string_append_printf(out, ":%04x:%04x:%06x/%06x", id->subvendor & 0xffff,
                           id->subdevice & 0xffff, id->class, id->class_mask);
  return g_string_free(out, FALSE);
}

void
vxm_sim_pci_dump_state(VxmSimPci *pci, GPtrArray *lines)
{
  for (guint i = 0; i < pci->devices->len; i++) {
    Device *dev = pci->devices->pdata[i];

    if (!dev->present) {
      g_ptr_array_add(lines, g_strdup_printf("pci %s absent", dev->bdf));
      continue;
    }
    g_ptr_array_add(lines, g_strdup_printf("pci %s driver=%s override=%s%s%s", dev->bdf,
                                           dev->driver ? dev->driver->name : "none",
                                           dev->driver_override ? dev->driver_override : "(null)",
                                           dev->reset_methods ? " reset_method=" : "",
                                           dev->reset_methods ? dev->reset_method : ""));
  }
  for (guint i = 0; i < pci->drivers->len; i++) {
    Driver *drv = pci->drivers->pdata[i];
    g_autoptr(GString) line = g_string_new(NULL);

    g_string_append_printf(line, "driver %s new_id=", drv->name);
    for (guint k = 0; k < drv->dynamic_ids->len; k++) {
      g_autofree char *id = format_id(&g_array_index(drv->dynamic_ids, PciId, k));
      g_string_append_printf(line, "%s%s", k ? "," : "", id);
    }
    if (drv->dynamic_ids->len == 0)
      g_string_append(line, "none");
    if (!drv->loaded)
      g_string_append(line, " unloaded");
    g_ptr_array_add(lines, g_strdup(line->str));
  }
  g_ptr_array_add(lines, g_strdup_printf("bus drivers_autoprobe=%d", pci->autoprobe ? 1 : 0));
}

/* ---- loading ---- */

static gboolean
parse_id_part(const char *text, guint32 *out)
{
  guint64 value;

  if (g_strcmp0(text, "*") == 0) {
    *out = PCI_ANY_ID;
    return TRUE;
  }
  if (strlen(text) != 4 || !g_ascii_string_to_unsigned(text, 16, 0, 0xffff, &value, NULL))
    return FALSE;
  *out = (guint32)value;
  return TRUE;
}

static gboolean
load_driver(VxmSimPci *pci, VxmSimMachine *machine, const char *name, GError **error)
{
  g_autofree char *group = g_strdup_printf("driver %s", name);
  g_auto(GStrv) ids = NULL;
  g_auto(GStrv) classes = NULL;
  g_autofree char *default_module = g_strdelimit(g_strdup(name), "-", '_');
  g_autofree char *module = NULL;
  g_auto(GStrv) params = NULL;
  Driver *drv;

  if (name[0] == '\0' || strchr(name, '/') != NULL)
    return vxm_sim_machine_error(machine, error, group, NULL, "a driver needs a name without '/'");
  if (g_hash_table_contains(pci->driver_by_name, name))
    return vxm_sim_machine_error(machine, error, group, NULL, "driver defined twice");
  drv = g_new0(Driver, 1);
  drv->name = g_strdup(name);
  drv->ids = g_array_new(FALSE, FALSE, sizeof(PciId));
  drv->dynamic_ids = g_array_new(FALSE, FALSE, sizeof(PciId));
  drv->dir_path = g_strdup_printf(SYS_PCI_DRIVERS "/%s", name);
  drv->params = g_ptr_array_new_with_free_func((GDestroyNotify)module_param_free);
  g_ptr_array_add(pci->drivers, drv);
  g_hash_table_insert(pci->driver_by_name, drv->name, drv);

  if (!vxm_sim_machine_get_list(machine, group, "ids", &ids, error) ||
      !vxm_sim_machine_get_list(machine, group, "classes", &classes, error) ||
      !vxm_sim_machine_get_bool(machine, group, "drm", FALSE, &drv->drm, error) ||
      !vxm_sim_machine_get_list(machine, group, "unbind_waits_for", &drv->unbind_waits_for,
                                error) ||
      !vxm_sim_machine_get_string(machine, group, "module", default_module, &module, error) ||
      !vxm_sim_machine_get_bool(machine, group, "loaded", TRUE, &drv->loaded, error) ||
      !vxm_sim_machine_get_list(machine, group, "parameters", &params, error))
    return FALSE;
  for (guint i = 0; params[i] != NULL; i++) {
    g_auto(GStrv) kv = g_strsplit(params[i], "=", 2);
    ModuleParam *p;

    if (g_strv_length(kv) != 2 || kv[0][0] == '\0' || strchr(kv[0], '/') != NULL ||
        (g_strcmp0(kv[1], "Y") != 0 && g_strcmp0(kv[1], "N") != 0))
      return vxm_sim_machine_error(machine, error, group, "parameters",
                                   "'%s' is not NAME=Y or NAME=N (a bool parameter)", params[i]);
    p = g_new0(ModuleParam, 1);
    p->name = g_strdup(kv[0]);
    p->initial = p->value = kv[1][0] == 'Y';
    g_ptr_array_add(drv->params, p);
  }
  if (drv->params->len > 0 && (module == NULL || module[0] == '\0'))
    return vxm_sim_machine_error(machine, error, group, "parameters",
                                 "a built-in driver (empty module) has no module parameters here");
  if (!drv->loaded && (module == NULL || module[0] == '\0'))
    return vxm_sim_machine_error(machine, error, group, "loaded",
                                 "a built-in driver (empty module) is always loaded");
  if (module != NULL && module[0] != '\0')
    drv->module = g_steal_pointer(&module);
  if (drv->unbind_waits_for[0] == NULL)
    g_clear_pointer(&drv->unbind_waits_for, g_strfreev);
  for (guint i = 0; ids[i] != NULL; i++) {
    g_auto(GStrv) parts = g_strsplit(ids[i], ":", -1);
    PciId id = {PCI_ANY_ID, PCI_ANY_ID, PCI_ANY_ID, PCI_ANY_ID, 0, 0};

    if (g_strv_length(parts) != 2 || !parse_id_part(parts[0], &id.vendor) ||
        !parse_id_part(parts[1], &id.device))
      return vxm_sim_machine_error(machine, error, group, "ids",
                                   "'%s' is not VVVV:DDDD (4 hex digits each, or *)", ids[i]);
    if (classes[0] == NULL) {
      g_array_append_val(drv->ids, id);
      continue;
    }
    for (guint c = 0; classes[c] != NULL; c++) {
      guint64 cls;
      gsize digits = strlen(classes[c]);

      if ((digits != 4 && digits != 6) ||
          !g_ascii_string_to_unsigned(classes[c], 16, 0, 0xffffff, &cls, NULL))
        return vxm_sim_machine_error(machine, error, group, "classes",
                                     "'%s' is not a class of 4 (0300) or 6 (0c0330) hex digits",
                                     classes[c]);
      id.class = digits == 4 ? (guint32)cls << 8 : (guint32)cls;
      id.class_mask = digits == 4 ? 0xffff00 : 0xffffff;
      g_array_append_val(drv->ids, id);
    }
  }
  return TRUE;
}

/* "16M", "32G": a power of two from 1M. */
static gboolean
parse_bar_size(const char *text, guint64 *out)
{
  guint64 n;
  char *end = NULL;
  guint shift;

  n = g_ascii_strtoull(text, &end, 10);
  if (end == text || n == 0)
    return FALSE;
  if (g_str_equal(end, "M"))
    shift = 20;
  else if (g_str_equal(end, "G"))
    shift = 30;
  else
    return FALSE;
  if ((n & (n - 1)) != 0 || n > (G_GUINT64_CONSTANT(1) << 20))
    return FALSE;
  *out = n << shift;
  return TRUE;
}

/* bars = N:SIZE[:64] ...; resizable_bars = N:BITMAP ... (hex, bit 0 = 1 MiB). Addresses as a
 * firmware assigns them: 32-bit BARs below 4 GiB, 64-bit ones from 64 GiB up, each aligned to
 * its size. */
static gboolean
load_bars(VxmSimPci *pci, VxmSimMachine *machine, const char *group, Device *dev, GStrv bars,
          GStrv resizable, GError **error)
{
  for (guint i = 0; bars[i] != NULL; i++) {
    g_auto(GStrv) f = g_strsplit(bars[i], ":", -1);
    guint64 n, size;
    guint count = g_strv_length(f);
    guint64 *next;

    if (count < 2 || count > 3 ||
        !g_ascii_string_to_unsigned(f[0], 10, 0, BAR_COUNT - 1, &n, NULL) ||
        !parse_bar_size(f[1], &size) || (count == 3 && !g_str_equal(f[2], "64")))
      return vxm_sim_machine_error(machine, error, group, "bars",
                                   "'%s' is not N:SIZE or N:SIZE:64 (N 0-5, SIZE a power of two "
                                   "like 16M or 32G; 64: a 64-bit prefetchable BAR)",
                                   bars[i]);
    if (dev->bar_size[n] != 0)
      return vxm_sim_machine_error(machine, error, group, "bars",
                                   "BAR %" G_GUINT64_FORMAT " is given twice", n);
    dev->bar_64[n] = count == 3;
    if (!dev->bar_64[n] && size > (G_GUINT64_CONSTANT(1) << 30))
      return vxm_sim_machine_error(
          machine, error, group, "bars",
          "a 32-bit BAR of more than 1G does not fit below 4 GiB: add :64");
    next = dev->bar_64[n] ? &pci->next_bar64 : &pci->next_bar32;
    *next = (*next + size - 1) & ~(size - 1);
    dev->bar_start[n] = *next;
    dev->bar_size[n] = size;
    *next += size;
  }
  for (guint i = 0; resizable[i] != NULL; i++) {
    g_auto(GStrv) f = g_strsplit(resizable[i], ":", -1);
    guint64 n, mask;

    if (g_strv_length(f) != 2 ||
        !g_ascii_string_to_unsigned(f[0], 10, 0, BAR_COUNT - 1, &n, NULL) ||
        !g_ascii_string_to_unsigned(f[1], 16, 1, G_MAXUINT64, &mask, NULL))
      return vxm_sim_machine_error(machine, error, group, "resizable_bars",
                                   "'%s' is not N:BITMAP (hex, bit 0 = 1 MiB)", resizable[i]);
    if (dev->bar_size[n] == 0 || (mask & dev->bar_size[n] >> 20) == 0)
      return vxm_sim_machine_error(machine, error, group, "resizable_bars",
                                   "BAR %" G_GUINT64_FORMAT " must be in bars, with a size the "
                                   "bitmap offers",
                                   n);
    dev->bar_resize[n] = mask;
  }
  return TRUE;
}

/* TRUE when @text is a PCI address exactly as the kernel names devices in sysfs: "%04x:%02x:
 * %02x.%x", lower case, device 0-0x1f, function 0-7. The simulator's own check, not vxm's
 * lenient parser (which also takes "01:00.0"): the machine file says what the kernel shows. */
static gboolean
kernel_bdf(const char *text, guint *domain, guint *bus)
{
  guint d, b, dev, fn;
  int used = 0;
  char again[16];

  if (strlen(text) != 12 || sscanf(text, "%4x:%2x:%2x.%1x%n", &d, &b, &dev, &fn, &used) != 4 ||
      used != 12 || dev > 0x1f || fn > 7)
    return FALSE;
  g_snprintf(again, sizeof again, "%04x:%02x:%02x.%x", d, b, dev, fn);
  if (strcmp(again, text) != 0)
    return FALSE;
  *domain = d;
  *bus = b;
  return TRUE;
}

static gboolean
load_device(VxmSimPci *pci, VxmSimMachine *machine, const char *bdf, GError **error)
{
  g_autofree char *group = g_strdup_printf("pci %s", bdf);
  g_autofree char *parent = NULL;
  g_autofree char *driver = NULL;
  g_auto(GStrv) bars = NULL;
  g_auto(GStrv) resizable = NULL;
  guint domain, bus;
  Device *dev;

  if (!kernel_bdf(bdf, &domain, &bus))
    return vxm_sim_machine_error(machine, error, group, NULL,
                                 "'%s' is not a PCI address in the kernel's form (0000:01:00.0)",
                                 bdf);
  if (g_hash_table_contains(pci->device_by_bdf, bdf))
    return vxm_sim_machine_error(machine, error, group, NULL, "device defined twice");
  dev = g_new0(Device, 1);
  dev->bdf = g_strdup(bdf);
  g_ptr_array_add(pci->devices, dev);
  g_hash_table_insert(pci->device_by_bdf, dev->bdf, dev);

  if (!vxm_sim_machine_get_hex(machine, group, "vendor", 4, TRUE, 0, &dev->vendor, error) ||
      !vxm_sim_machine_get_hex(machine, group, "device", 4, TRUE, 0, &dev->device, error) ||
      !vxm_sim_machine_get_hex(machine, group, "subsystem_vendor", 4, FALSE, 0, &dev->subvendor,
                               error) ||
      !vxm_sim_machine_get_hex(machine, group, "subsystem_device", 4, FALSE, 0, &dev->subdevice,
                               error) ||
      !vxm_sim_machine_get_hex(machine, group, "class", 6, TRUE, 0, &dev->class, error) ||
      !vxm_sim_machine_get_hex(machine, group, "revision", 2, FALSE, 0, &dev->revision, error) ||
      !vxm_sim_machine_get_int(machine, group, "iommu_group", -1, 100000, -1, &dev->iommu_group,
                               error) ||
      !vxm_sim_machine_get_int(machine, group, "numa_node", -1, 63, -1, &dev->numa_node, error) ||
      !vxm_sim_machine_get_string(machine, group, "reset_method", NULL, &dev->reset_methods,
                                  error) ||
      !vxm_sim_machine_get_list(machine, group, "reset_capabilities", &dev->reset_capabilities,
                                error) ||
      !vxm_sim_machine_get_list(machine, group, "drm", &dev->drm_nodes, error) ||
      !vxm_sim_machine_get_string(machine, group, "parent", NULL, &parent, error) ||
      !vxm_sim_machine_get_string(machine, group, "driver", NULL, &driver, error) ||
      !vxm_sim_machine_get_list(machine, group, "bars", &bars, error) ||
      !vxm_sim_machine_get_list(machine, group, "resizable_bars", &resizable, error) ||
      !vxm_sim_machine_get_bool(machine, group, "d3cold", FALSE, &dev->d3cold_capable, error))
    return FALSE;
  dev->d3cold_allowed = TRUE; /* the kernel's default for every device */
  if (!load_bars(pci, machine, group, dev, bars, resizable, error))
    return FALSE;
  if ((dev->class >> 8) == CLASS_VGA) {
    gint64 boot_vga;
    if (!vxm_sim_machine_get_int(machine, group, "boot_vga", 0, 1, 0, &boot_vga, error))
      return FALSE;
    dev->boot_vga = boot_vga;
  } else {
    dev->boot_vga = -1;
    if (vxm_sim_machine_has_key(machine, group, "boot_vga"))
      return vxm_sim_machine_error(machine, error, group, "boot_vga",
                                   "only VGA devices (class 0300xx) have boot_vga");
  }
  if (!vxm_sim_machine_has_key(machine, group, "reset_capabilities")) {
    g_clear_pointer(&dev->reset_capabilities, g_strfreev);
  } else {
    static const char *const known[] = {"device_specific", "acpi", "flr", "af_flr", "pm", "bus",
                                        "cxl_bus",         NULL};
    if (dev->reset_methods != NULL)
      return vxm_sim_machine_error(machine, error, group, "reset_capabilities",
                                   "give reset_method (what sysfs shows) or reset_capabilities "
                                   "(what the kernel finds at discovery), not both");
    for (guint i = 0; dev->reset_capabilities[i] != NULL; i++)
      if (!g_strv_contains(known, dev->reset_capabilities[i]))
        return vxm_sim_machine_error(machine, error, group, "reset_capabilities",
                                     "'%s' is not a reset method of the kernel's",
                                     dev->reset_capabilities[i]);
  }
  if (pci->iommu && dev->iommu_group < 0)
    return vxm_sim_machine_error(machine, error, group, "iommu_group",
                                 "missing: with iommu=on every device is in a group");
  for (guint i = 0; dev->drm_nodes[i] != NULL; i++) {
    const char *n = dev->drm_nodes[i];
    guint64 num;
    const char *digits = g_str_has_prefix(n, "renderD") ? n + 7
                         : g_str_has_prefix(n, "card")  ? n + 4
                                                        : NULL;
    if (digits == NULL || !g_ascii_string_to_unsigned(digits, 10, 0, 1023, &num, NULL))
      return vxm_sim_machine_error(machine, error, group, "drm",
                                   "'%s' is not a DRM node name (cardN or renderDN)", n);
  }
  if (parent != NULL && parent[0] != '\0')
    dev->parent = g_steal_pointer(&parent);
  if (driver != NULL && driver[0] != '\0') {
    dev->initial_driver = g_hash_table_lookup(pci->driver_by_name, driver);
    if (dev->initial_driver == NULL)
      return vxm_sim_machine_error(machine, error, group, "driver",
                                   "no [driver %s] group defines driver '%s'", driver, driver);
    if (!dev->initial_driver->loaded)
      return vxm_sim_machine_error(machine, error, group, "driver",
                                   "driver '%s' is not loaded at boot (loaded=false)", driver);
  }
  return TRUE;
}

static gboolean
resolve_paths(VxmSimPci *pci, VxmSimMachine *machine, Device *dev, guint depth, GError **error)
{
  g_autofree char *group = g_strdup_printf("pci %s", dev->bdf);
  Device *parent;

  if (dev->sys_path != NULL)
    return TRUE;
  if (depth > 64)
    return vxm_sim_machine_error(machine, error, group, "parent", "parents form a loop");
  if (dev->parent == NULL) {
    guint domain, bus;

    if (!kernel_bdf(dev->bdf, &domain, &bus))
      return vxm_sim_machine_error(machine, error, group, NULL, "not a PCI address");
    dev->sys_path = g_strdup_printf(SYS_DEVICES "/pci%04x:%02x/%s", domain, bus, dev->bdf);
    return TRUE;
  }
  parent = g_hash_table_lookup(pci->device_by_bdf, dev->parent);
  if (parent == NULL)
    return vxm_sim_machine_error(machine, error, group, "parent",
                                 "no [pci %s] group defines the parent", dev->parent);
  if (!is_bridge(parent))
    return vxm_sim_machine_error(machine, error, group, "parent",
                                 "%s is not a PCI bridge (class 0604xx)", dev->parent);
  if (!resolve_paths(pci, machine, parent, depth + 1, error))
    return FALSE;
  dev->sys_path = g_strdup_printf("%s/%s", parent->sys_path, dev->bdf);
  return TRUE;
}

static void
register_driver(VxmSimPci *pci, Driver *drv)
{
  static const struct {
    const char *name;
    guint attr;
  } attrs[] = {{"bind", ATTR_DRV_BIND},
               {"unbind", ATTR_DRV_UNBIND},
               {"new_id", ATTR_DRV_NEW_ID},
               {"remove_id", ATTR_DRV_REMOVE_ID}};

  vxm_sim_node_mkdir_p(root_of(pci), drv->dir_path);
  for (gsize a = 0; a < G_N_ELEMENTS(attrs); a++)
    put_attr(pci, drv->dir_path, attrs[a].name, 0200, NULL, driver_store, drv, attrs[a].attr, NULL);
  if (drv->module != NULL) {
    g_autofree char *module_dir = g_strdup_printf(SYS_MODULE "/%s", drv->module);
    g_autofree char *module_link = g_strdup_printf("%s/module", drv->dir_path);
    g_autofree char *back = g_strdup_printf("%s/drivers/pci:%s", module_dir, drv->name);

    vxm_sim_node_mkdir_p(root_of(pci), module_dir);
    vxm_sim_node_put_link(root_of(pci), module_link, module_dir);
    vxm_sim_node_put_link(root_of(pci), back, drv->dir_path);
    /* a loaded module starts from its defaults (the machine file's values) */
    for (guint i = 0; i < drv->params->len; i++) {
      ModuleParam *p = drv->params->pdata[i];
      g_autofree char *path = g_strdup_printf("%s/parameters/%s", module_dir, p->name);

      p->value = p->initial;
      vxm_sim_node_put(root_of(pci), path, vxm_sim_bool_param_new(pci->host, &p->value));
    }
  }
}

static void
build_static_tree(VxmSimPci *pci)
{
  vxm_sim_node_mkdir_p(root_of(pci), SYS_PCI_DEVICES);
  vxm_sim_node_mkdir_p(root_of(pci), SYS_PCI_DRIVERS);
  vxm_sim_node_mkdir_p(root_of(pci), SYS_CLASS_DRM);
  put_attr(pci, SYS_BUS_PCI, "drivers_probe", 0200, NULL, bus_store, NULL, ATTR_BUS_DRIVERS_PROBE,
           NULL);
  put_attr(pci, SYS_BUS_PCI, "drivers_autoprobe", 0644, bus_show, bus_store, NULL,
           ATTR_BUS_DRIVERS_AUTOPROBE, NULL);
  put_attr(pci, SYS_BUS_PCI, "rescan", 0200, NULL, bus_store, NULL, ATTR_BUS_RESCAN, NULL);
  if (pci->iommu) {
    vxm_sim_node_mkdir_p(root_of(pci), SYS_IOMMU_GROUPS);
    vxm_sim_host_add_device_node(pci->host, DEV_VFIO "/vfio", 0666, 0, 0);
  }
  for (guint i = 0; i < pci->drivers->len; i++) {
    Driver *drv = pci->drivers->pdata[i];
    if (drv->loaded)
      register_driver(pci, drv);
  }
}

/* ---- modules: a driver exists while its module is loaded ---- */

static Driver *
driver_of_module(VxmSimPci *pci, const char *name)
{
  g_autofree char *module = g_strdelimit(g_strdup(name), "-", '_');

  for (guint i = 0; i < pci->drivers->len; i++) {
    Driver *drv = pci->drivers->pdata[i];
    if (drv->module != NULL && strcmp(drv->module, module) == 0)
      return drv;
  }
  return NULL;
}

int
vxm_sim_pci_load_module(VxmSimPci *pci, const char *name)
{
  Driver *drv = driver_of_module(pci, name);

  if (drv == NULL)
    return -ENOENT; /* modprobe: "Module NAME not found" */
  if (drv->loaded)
    return -EEXIST; /* init_module(): already loaded */
  drv->loaded = TRUE;
  register_driver(pci, drv);
  /* pci_register_driver() offers it every unbound device (vfio-pci: those whose override
   * names it) */
  if (pci->autoprobe)
    driver_attach(pci, drv);
  return 0;
}

int
vxm_sim_pci_unload_module(VxmSimPci *pci, const char *name)
{
  Driver *drv = driver_of_module(pci, name);
  g_autofree char *module_dir = NULL;

  if (drv == NULL || !drv->loaded)
    return -ENOENT;
  /* a held /dev/vfio/N holds a reference on the module: delete_module() fails */
  for (guint i = 0; i < pci->devices->len; i++) {
    Device *dev = pci->devices->pdata[i];
    if (dev->present && dev->driver == drv && g_strcmp0(drv->name, VFIO_DRIVER) == 0 &&
        dev->iommu_group >= 0) {
      g_autofree char *group_node =
          g_strdup_printf(DEV_VFIO "/%" G_GINT64_FORMAT, dev->iommu_group);
      if (vfio_group_held(pci, group_node))
        return -EBUSY;
    }
  }
  /* pci_unregister_driver() unbinds every device the driver has */
  for (guint i = 0; i < pci->devices->len; i++) {
    Device *dev = pci->devices->pdata[i];
    if (dev->present && dev->driver == drv)
      detach(pci, dev);
  }
  drv->loaded = FALSE;
  vxm_sim_node_remove_path(root_of(pci), drv->dir_path);
  module_dir = g_strdup_printf(SYS_MODULE "/%s", drv->module);
  vxm_sim_node_remove_path(root_of(pci), module_dir);
  return 0;
}

char *
vxm_sim_pci_modules_text(VxmSimPci *pci)
{
  GString *out = g_string_new(NULL);

  for (guint i = 0; i < pci->drivers->len; i++) {
    Driver *drv = pci->drivers->pdata[i];
    if (drv->module != NULL)
      g_string_append_printf(out, "%s %s\n", drv->module, drv->loaded ? "loaded" : "absent");
  }
  return g_string_free(out, FALSE);
}

VxmSimPci *
vxm_sim_pci_new(VxmSimHost *host, VxmSimMachine *machine, gboolean iommu, GError **error)
{
  g_autoptr(GPtrArray) driver_names = vxm_sim_machine_groups(machine, "driver");
  g_autoptr(GPtrArray) device_names = vxm_sim_machine_groups(machine, "pci");
  g_autoptr(VxmSimPci) pci = g_new0(VxmSimPci, 1);

  pci->host = host;
  pci->iommu = iommu;
  pci->autoprobe = TRUE;
  pci->next_bar32 = 0xc0000000;
  pci->next_bar64 = G_GUINT64_CONSTANT(0x1000000000);
  pci->devices = g_ptr_array_new_with_free_func((GDestroyNotify)device_free);
  pci->device_by_bdf = g_hash_table_new(g_str_hash, g_str_equal);
  pci->drivers = g_ptr_array_new_with_free_func((GDestroyNotify)driver_free);
  pci->driver_by_name = g_hash_table_new(g_str_hash, g_str_equal);
  pci->video_gid = vxm_sim_host_group_id("video");
  pci->render_gid = vxm_sim_host_group_id("render");

  for (guint i = 0; i < driver_names->len; i++)
    if (!load_driver(pci, machine, driver_names->pdata[i], error))
      return NULL;
  for (guint i = 0; i < device_names->len; i++)
    if (!load_device(pci, machine, device_names->pdata[i], error))
      return NULL;
  for (guint i = 0; i < pci->devices->len; i++)
    if (!resolve_paths(pci, machine, pci->devices->pdata[i], 0, error))
      return NULL;

  build_static_tree(pci);
  /* Boot: every device appears, then gets the driver the machine file says it has. */
  for (guint i = 0; i < pci->devices->len; i++)
    plug(pci, pci->devices->pdata[i], FALSE);
  for (guint i = 0; i < pci->devices->len; i++) {
    Device *dev = pci->devices->pdata[i];
    if (dev->initial_driver != NULL)
      attach(pci, dev, dev->initial_driver);
  }
  return g_steal_pointer(&pci);
}
