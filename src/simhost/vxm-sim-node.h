/* vxm-sim-node: the simulated host's file tree.
 *
 * Every file the simulator serves is a node: folders, symbolic links, plain files with
 * stored bytes (the writable /run, /etc and /dev/shm trees, static attributes), generated
 * files whose content comes from a show function and whose writes go to a store function
 * (sysfs attributes, /proc files, the control files), and passthrough folders that map a
 * real folder read-only (/usr/share). Areas of the simulated host (PCI, processes, later
 * hugepages, DRM connectors, input) add and remove nodes as the kernel would; the FUSE layer
 * only walks the tree. Nodes are reference counted so an open file outlives its removal.
 * The tree is guarded by the host's lock (VxmSimHost); nothing here locks.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef enum {
  VXM_SIM_NODE_DIR,
  VXM_SIM_NODE_FILE,
  VXM_SIM_NODE_LINK,
  VXM_SIM_NODE_PASSTHROUGH, /* a real folder served read-only below this name */
  VXM_SIM_NODE_SPECIAL,     /* a socket or fifo made with mknod (a daemon's socket in /run) */
} VxmSimNodeKind;

typedef enum {
  VXM_SIM_NODE_FLAG_NONE = 0,
  /* A folder where files and folders can be made and removed, or a file in one. */
  VXM_SIM_NODE_FLAG_WRITABLE = 1 << 0,
  /* A /dev node: opens are logged, owner and mode are part of the state dump. */
  VXM_SIM_NODE_FLAG_DEVICE = 1 << 1,
  /* A sysfs attribute: reported as 4096 bytes, each write(2) is one store. */
  VXM_SIM_NODE_FLAG_ATTRIBUTE = 1 << 2,
  /* A file of the simulator's own control folder: never logged or faulted. */
  VXM_SIM_NODE_FLAG_CONTROL = 1 << 3,
  /* Hidden from its folder's listing (the control folder). */
  VXM_SIM_NODE_FLAG_HIDDEN = 1 << 4,
  /* A /proc/PID/fd link: reading where it points takes ptrace access to the process (its uid,
   * or CAP_SYS_PTRACE), as the kernel's proc_fd_link checks; else EACCES. */
  VXM_SIM_NODE_FLAG_PTRACE = 1 << 5,
} VxmSimNodeFlags;

typedef struct _VxmSimNode VxmSimNode;

/* A character device the simulation models per open file (evdev; later i2c-dev): each open
 * gets a client of its own. Called by the FUSE layer WITHOUT the host lock; the device keeps
 * its own. Absent members: the plain device-node behaviour. */
typedef struct {
  /* 0 with *client set, or a negative errno. @pid: the opening task. */
  int (*open)(VxmSimNode *node, int flags, int pid, gpointer *client);
  void (*release)(VxmSimNode *node, gpointer client);
  /* Bytes read or a negative errno; @flags are the file's (O_NONBLOCK). */
  int (*read)(VxmSimNode *node, gpointer client, char *buf, gsize size, int flags);
  /* The ioctl's result or a negative errno; @data holds _IOC_SIZE(cmd) bytes in and out. An
   * _IO ioctl that takes its argument by value (I2C_SLAVE 0x37) gets @data pointing at that
   * value as an unsigned long, with @size 0. */
  int (*ioctl)(VxmSimNode *node, gpointer client, unsigned int cmd, void *data, gsize size);
  /* The ioctl as the log shows it ("EVIOCGRAB 1"), or NULL for "0xCMD". */
  char *(*ioctl_name)(unsigned int cmd, const void *data, gsize size);
  /* poll(2) revents; a non-NULL @waker is the device's to wake (VxmSimHost.poll_wake) or drop
   * (poll_drop) once. */
  unsigned int (*poll)(VxmSimNode *node, gpointer client, gpointer waker);
  /* 0 when all @size bytes were taken, or a negative errno (i2c-dev: one I2C transaction). */
  int (*write)(VxmSimNode *node, gpointer client, const char *buf, gsize size);
  /* TRUE: reads and writes are logged with their bytes in hex ("write /dev/i2c-3 51 84 03 60
   * 00 11 c9 -> ok"), so tests can assert what a device received byte for byte. */
  gboolean log_bytes;
} VxmSimDeviceOps;

/* Content of a generated file, newly allocated; *len is -1 on entry and may be set for
 * content with NUL bytes, else the content's strlen counts. */
typedef char *(*VxmSimShowFunc)(VxmSimNode *node, gssize *len);
/* A write to a generated file: 0 or a negative errno. */
typedef int (*VxmSimStoreFunc)(VxmSimNode *node, const char *buf, gsize len);

struct _VxmSimNode {
  gint ref_count;
  VxmSimNodeKind kind;
  VxmSimNodeFlags flags;
  char *name;
  VxmSimNode *parent;   /* not a reference; NULL once removed from the tree */
  GHashTable *children; /* name -> VxmSimNode*, folders only */
  guint mode;           /* permission bits */
  uid_t uid;
  gid_t gid;
  gint64 mtime_us;
  gint64 ctime_us;

  GByteArray *data;      /* stored content of a plain file */
  VxmSimShowFunc show;   /* generated content, or NULL */
  VxmSimStoreFunc store; /* writes, or NULL (read-only) */
  gpointer owner;        /* the area that made the node (VxmSimPci, VxmSimHost, ...) */
  gpointer item;         /* what it describes (a device, a driver) */
  guint attr;            /* which attribute of @item */

  guint special_type; /* S_IFSOCK or S_IFIFO of a special node */
  char *target;       /* link target, or the real folder of a passthrough node */
  char *log_path;     /* the host path used in the log and fault rules, when not its own */
  const VxmSimDeviceOps *device_ops; /* a modelled character device, or NULL */
};

VxmSimNode *vxm_sim_node_new_dir(guint mode);
VxmSimNode *vxm_sim_node_new_file(guint mode, const char *contents);
VxmSimNode *vxm_sim_node_new_generated(guint mode, VxmSimShowFunc show, VxmSimStoreFunc store,
                                       gpointer owner, gpointer item, guint attr);
VxmSimNode *vxm_sim_node_new_link(const char *target);
VxmSimNode *vxm_sim_node_new_passthrough(const char *real_dir);
VxmSimNode *vxm_sim_node_new_special(guint type, guint mode);

VxmSimNode *vxm_sim_node_ref(VxmSimNode *node);
void vxm_sim_node_unref(VxmSimNode *node);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmSimNode, vxm_sim_node_unref)

/* TRUE while the node is reachable from a root (its parents chain ends at a nameless root). */
gboolean vxm_sim_node_is_attached(VxmSimNode *node);

VxmSimNode *vxm_sim_node_child(VxmSimNode *dir, const char *name);

/* Adds @child (taking the reference) as @name, replacing any node of that name. */
VxmSimNode *vxm_sim_node_add(VxmSimNode *dir, const char *name, VxmSimNode *child);

/* Takes @node out of its folder and drops the folder's reference. */
void vxm_sim_node_remove(VxmSimNode *node);

/* Walks an absolute path from @root without following links. When the walk meets a
 * passthrough node, it stops there and *rest gets the remaining relative path (else NULL). */
VxmSimNode *vxm_sim_node_lookup(VxmSimNode *root, const char *path, const char **rest);

/* Creates the missing folders of @path (mode 0755) and returns the last one. */
VxmSimNode *vxm_sim_node_mkdir_p(VxmSimNode *root, const char *path);

/* Adds @node (taking the reference) at absolute @path, creating parent folders. */
VxmSimNode *vxm_sim_node_put(VxmSimNode *root, const char *path, VxmSimNode *node);

/* Removes the node at @path if there is one. */
void vxm_sim_node_remove_path(VxmSimNode *root, const char *path);

/* The node's absolute path in the tree. */
char *vxm_sim_node_path(VxmSimNode *node);

/* Sorted child names. */
GPtrArray *vxm_sim_node_list(VxmSimNode *dir);

/* A relative link target from folder @from_dir to @to, both absolute: what the kernel puts
 * in sysfs links ("../../../bus/pci/drivers/nvidia"). */
char *vxm_sim_relative_target(const char *from_dir, const char *to);

/* A link at @path to the absolute @to, stored relative as sysfs links are; returns the link. */
VxmSimNode *vxm_sim_node_put_link(VxmSimNode *root, const char *path, const char *to);

/* A read-only (0444) file @name in folder @dir (or at path @name when @dir is NULL) holding
 * the formatted text; returns the file. */
VxmSimNode *vxm_sim_node_put_text(VxmSimNode *root, const char *dir, const char *name,
                                  const char *format, ...) G_GNUC_PRINTF(4, 5);

void vxm_sim_node_touch(VxmSimNode *node);

/* For g_ptr_array_sort() of strings. */
gint vxm_sim_compare_strings(gconstpointer a, gconstpointer b);

G_END_DECLS
