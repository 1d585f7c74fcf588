/* vxm-sim-block: block devices and mounts (see the header). */
#include "vxm-sim-block.h"

#include <string.h>

#include "vxm-sim-pci.h"

#define SYS_DEVICES_VIRTUAL_BLOCK "/sys/devices/virtual/block"
#define SYS_BLOCK                 "/sys/block"
#define SYS_CLASS_BLOCK           "/sys/class/block"
#define SYS_DEV_BLOCK             "/sys/dev/block"
#define PROC_SELF_MOUNTINFO       "/proc/self/mountinfo"

typedef struct {
  char *name;   /* "nvme0n1p2" */
  char *devnum; /* "259:2" */
  char *pci;    /* a disk: its controller */
  char *path;   /* a disk: the folders between the controller and the disk */
  char *disk;   /* a partition: its disk */
  GStrv slaves; /* device mapper, md: the devices below */
  char *dm_name;
  GStrv by_id;
  char *uuid;
  char *folder; /* the sysfs folder, once resolved */
} Block;

struct _VxmSimBlock {
  VxmSimHost *host;
  GPtrArray *blocks; /* Block, machine-file order */
  GHashTable *by_name;
};

static void
block_item_free(Block *b)
{
  g_free(b->name);
  g_free(b->devnum);
  g_free(b->pci);
  g_free(b->path);
  g_free(b->disk);
  g_strfreev(b->slaves);
  g_free(b->dm_name);
  g_strfreev(b->by_id);
  g_free(b->uuid);
  g_free(b->folder);
  g_free(b);
}

void
vxm_sim_block_free(VxmSimBlock *block)
{
  if (block == NULL)
    return;
  g_hash_table_unref(block->by_name);
  g_ptr_array_unref(block->blocks);
  g_free(block);
}

/* "259:2": two decimal numbers, the major below 4096 as the kernel's dev_t allows. */
static gboolean
valid_devnum(const char *text)
{
  g_auto(GStrv) parts = g_strsplit(text, ":", -1);
  guint64 major, minor;

  return g_strv_length(parts) == 2 &&
         g_ascii_string_to_unsigned(parts[0], 10, 0, 4095, &major, NULL) &&
         g_ascii_string_to_unsigned(parts[1], 10, 0, (1 << 20) - 1, &minor, NULL);
}

static gboolean
valid_name(const char *name)
{
  if (name[0] == '\0' || strlen(name) > 32)
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean
load_block(VxmSimBlock *block, VxmSimMachine *machine, const char *name, GError **error)
{
  g_autofree char *group = g_strdup_printf("block %s", name);
  Block *b = g_new0(Block, 1);

  b->name = g_strdup(name);
  g_ptr_array_add(block->blocks, b);
  if (!valid_name(name))
    return vxm_sim_machine_error(machine, error, group, NULL,
                                 "a block device name is letters, digits, - and _ (nvme0n1p2)");
  if (!vxm_sim_machine_get_string(machine, group, "dev", NULL, &b->devnum, error) ||
      !vxm_sim_machine_get_string(machine, group, "pci", NULL, &b->pci, error) ||
      !vxm_sim_machine_get_string(machine, group, "path", "", &b->path, error) ||
      !vxm_sim_machine_get_string(machine, group, "disk", NULL, &b->disk, error) ||
      !vxm_sim_machine_get_list(machine, group, "slaves", &b->slaves, error) ||
      !vxm_sim_machine_get_string(machine, group, "dm_name", NULL, &b->dm_name, error) ||
      !vxm_sim_machine_get_list(machine, group, "by_id", &b->by_id, error) ||
      !vxm_sim_machine_get_string(machine, group, "uuid", NULL, &b->uuid, error))
    return FALSE;
  if (b->devnum == NULL || !valid_devnum(b->devnum))
    return vxm_sim_machine_error(machine, error, group, "dev",
                                 "required: MAJOR:MINOR in decimal (259:2)");
  if ((b->pci != NULL) + (b->disk != NULL) + (b->slaves[0] != NULL) > 1)
    return vxm_sim_machine_error(machine, error, group, NULL,
                                 "a disk has pci, a partition disk, a mapped device slaves: "
                                 "one of them");
  if (b->pci != NULL && vxm_sim_pci_get_sys_path(block->host->pci, b->pci) == NULL)
    return vxm_sim_machine_error(machine, error, group, "pci", "no [pci %s] in this machine",
                                 b->pci);
  if (g_hash_table_contains(block->by_name, name))
    return vxm_sim_machine_error(machine, error, group, NULL, "defined twice");
  g_hash_table_insert(block->by_name, b->name, b);
  return TRUE;
}

/* The sysfs folder of @b (its disk's first for a partition). */
static const char *
resolve_folder(VxmSimBlock *block, VxmSimMachine *machine, Block *b, guint depth, GError **error)
{
  g_autofree char *group = g_strdup_printf("block %s", b->name);

  if (b->folder != NULL)
    return b->folder;
  if (depth > 4) {
    vxm_sim_machine_error(machine, error, group, "disk", "partitions of partitions, in a loop");
    return NULL;
  }
  if (b->pci != NULL) {
    const char *pci = vxm_sim_pci_get_sys_path(block->host->pci, b->pci);

    b->folder = b->path[0] != '\0' ? g_strdup_printf("%s/%s/%s", pci, b->path, b->name)
                                   : g_strdup_printf("%s/%s", pci, b->name);
  } else if (b->disk != NULL) {
    Block *disk = g_hash_table_lookup(block->by_name, b->disk);
    const char *under;

    if (disk == NULL) {
      vxm_sim_machine_error(machine, error, group, "disk", "no [block %s] in this machine",
                            b->disk);
      return NULL;
    }
    under = resolve_folder(block, machine, disk, depth + 1, error);
    if (under == NULL)
      return NULL;
    b->folder = g_strdup_printf("%s/%s", under, b->name);
  } else {
    b->folder = g_strdup_printf(SYS_DEVICES_VIRTUAL_BLOCK "/%s", b->name);
  }
  return b->folder;
}

static void
put_file(VxmSimHost *host, const char *path, const char *content)
{
  VxmSimNode *node = vxm_sim_node_put_text(host->root, NULL, path, "%s", content);

  node->flags |= VXM_SIM_NODE_FLAG_ATTRIBUTE;
}

static void
build_block(VxmSimBlock *block, Block *b)
{
  VxmSimHost *host = block->host;
  g_autofree char *dev = g_strdup_printf("%s/dev", b->folder);
  g_autofree char *devtext = g_strdup_printf("%s\n", b->devnum);
  g_autofree char *subsystem = g_strdup_printf("%s/subsystem", b->folder);
  g_autofree char *class_link = g_strdup_printf(SYS_CLASS_BLOCK "/%s", b->name);
  g_autofree char *dev_link = g_strdup_printf(SYS_DEV_BLOCK "/%s", b->devnum);
  g_autofree char *node = g_strdup_printf("/dev/%s", b->name);
  VxmSimNode *devnode;

  vxm_sim_node_mkdir_p(host->root, b->folder);
  put_file(host, dev, devtext);
  vxm_sim_node_put_link(host->root, subsystem, SYS_CLASS_BLOCK);
  vxm_sim_node_put_link(host->root, class_link, b->folder);
  vxm_sim_node_put_link(host->root, dev_link, b->folder);
  {
    g_autofree char *holders = g_strdup_printf("%s/holders", b->folder);
    vxm_sim_node_mkdir_p(host->root, holders);
  }
  if (b->disk != NULL) {
    g_autofree char *partition = g_strdup_printf("%s/partition", b->folder);
    const char *digits = b->name + strlen(b->name);

    while (digits > b->name && g_ascii_isdigit(digits[-1]))
      digits--;
    {
      g_autofree char *text = g_strdup_printf("%s\n", digits[0] != '\0' ? digits : "1");
      put_file(host, partition, text);
    }
  } else {
    g_autofree char *sys_block = g_strdup_printf(SYS_BLOCK "/%s", b->name);
    g_autofree char *slaves = g_strdup_printf("%s/slaves", b->folder);

    vxm_sim_node_put_link(host->root, sys_block, b->folder);
    vxm_sim_node_mkdir_p(host->root, slaves);
  }
  for (guint i = 0; b->slaves[i] != NULL; i++) {
    Block *below = g_hash_table_lookup(block->by_name, b->slaves[i]);
    g_autofree char *slave = g_strdup_printf("%s/slaves/%s", b->folder, b->slaves[i]);
    g_autofree char *holder = NULL;

    if (below == NULL)
      continue; /* checked at load */
    holder = g_strdup_printf("%s/holders/%s", below->folder, b->name);
    vxm_sim_node_put_link(host->root, slave, below->folder);
    vxm_sim_node_put_link(host->root, holder, b->folder);
  }
  if (b->dm_name != NULL) {
    g_autofree char *dm = g_strdup_printf("%s/dm/name", b->folder);
    g_autofree char *text = g_strdup_printf("%s\n", b->dm_name);
    g_autofree char *mapper = g_strdup_printf("/dev/mapper/%s", b->dm_name);

    put_file(host, dm, text);
    vxm_sim_node_put_link(host->root, mapper, node);
  }
  devnode = vxm_sim_node_put(host->root, node, vxm_sim_node_new_file(0660, ""));
  devnode->gid = 6; /* disk */
  for (guint i = 0; b->by_id[i] != NULL; i++) {
    g_autofree char *link = g_strdup_printf("/dev/disk/by-id/%s", b->by_id[i]);
    vxm_sim_node_put_link(host->root, link, node);
  }
  if (b->uuid != NULL) {
    g_autofree char *link = g_strdup_printf("/dev/disk/by-uuid/%s", b->uuid);
    vxm_sim_node_put_link(host->root, link, node);
  }
}

/* mountinfo escapes space, tab, newline and backslash */
static void
append_escaped(GString *out, const char *text)
{
  for (const char *p = text; *p != '\0'; p++) {
    if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\\')
      g_string_append_printf(out, "\\%03o", (guint)(guchar)*p);
    else
      g_string_append_c(out, *p);
  }
}

static gboolean
build_mounts(VxmSimBlock *block, VxmSimMachine *machine, GError **error)
{
  g_autoptr(GPtrArray) paths = vxm_sim_machine_groups(machine, "mount");
  g_autoptr(GString) text = g_string_new(NULL);
  guint anon = 20;

  for (guint i = 0; i < paths->len; i++) {
    const char *path = g_ptr_array_index(paths, i);
    g_autofree char *group = g_strdup_printf("mount %s", path);
    g_autofree char *name = NULL;
    g_autofree char *source = NULL;
    g_autofree char *fstype = NULL;
    g_autofree char *options = NULL;
    g_autofree char *super = NULL;
    g_autofree char *devnum = NULL;

    if (path[0] != '/')
      return vxm_sim_machine_error(machine, error, group, NULL,
                                   "a mount point is an absolute path");
    if (!vxm_sim_machine_get_string(machine, group, "block", NULL, &name, error) ||
        !vxm_sim_machine_get_string(machine, group, "source", NULL, &source, error) ||
        !vxm_sim_machine_get_string(machine, group, "fstype", NULL, &fstype, error) ||
        !vxm_sim_machine_get_string(machine, group, "options", "rw,relatime", &options, error) ||
        !vxm_sim_machine_get_string(machine, group, "super_options", "rw", &super, error))
      return FALSE;
    if (fstype == NULL)
      return vxm_sim_machine_error(machine, error, group, "fstype", "required (ext4, btrfs)");
    if (name != NULL) {
      Block *b = g_hash_table_lookup(block->by_name, name);

      if (b == NULL)
        return vxm_sim_machine_error(machine, error, group, "block",
                                     "no [block %s] in this machine", name);
      devnum = g_strdup(b->devnum);
      if (source == NULL)
        source = b->dm_name != NULL ? g_strdup_printf("/dev/mapper/%s", b->dm_name)
                                    : g_strdup_printf("/dev/%s", name);
    } else {
      /* tmpfs, overlay, proc: an anonymous device */
      devnum = g_strdup_printf("0:%u", anon++);
      if (source == NULL)
        source = g_strdup(fstype);
    }
    /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS - FSTYPE SOURCE SUPEROPTS" */
    g_string_append_printf(text, "%u %u %s / ", 21 + i, i == 0 ? 1 : 21, devnum);
    append_escaped(text, path);
    g_string_append_printf(text, " %s shared:%u - %s ", options, i + 1, fstype);
    append_escaped(text, source);
    g_string_append_printf(text, " %s\n", super);
  }
  if (paths->len > 0)
    put_file(block->host, PROC_SELF_MOUNTINFO, text->str);
  return TRUE;
}

VxmSimBlock *
vxm_sim_block_new(VxmSimHost *host, VxmSimMachine *machine, GError **error)
{
  g_autoptr(VxmSimBlock) block = g_new0(VxmSimBlock, 1);
  g_autoptr(GPtrArray) names = vxm_sim_machine_groups(machine, "block");

  block->host = host;
  block->blocks = g_ptr_array_new_with_free_func((GDestroyNotify)block_item_free);
  block->by_name = g_hash_table_new(g_str_hash, g_str_equal);
  for (guint i = 0; i < names->len; i++)
    if (!load_block(block, machine, g_ptr_array_index(names, i), error))
      return NULL;
  for (guint i = 0; i < block->blocks->len; i++) {
    Block *b = g_ptr_array_index(block->blocks, i);

    if (resolve_folder(block, machine, b, 0, error) == NULL)
      return NULL;
    for (guint k = 0; b->slaves[k] != NULL; k++)
      if (!g_hash_table_contains(block->by_name, b->slaves[k])) {
        g_autofree char *group = g_strdup_printf("block %s", b->name);
        vxm_sim_machine_error(machine, error, group, "slaves", "no [block %s] in this machine",
                              b->slaves[k]);
        return NULL;
      }
  }
  for (guint i = 0; i < block->blocks->len; i++)
    build_block(block, g_ptr_array_index(block->blocks, i));
  if (!build_mounts(block, machine, error))
    return NULL;
  return g_steal_pointer(&block);
}
