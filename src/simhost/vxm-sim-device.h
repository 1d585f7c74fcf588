/* vxm-sim-device: device nodes that answer like a driver (read, write and ioctl with state
 * per open file), for /dev/i2c-N (vxm-sim-display) and, in the same way, evdev nodes.
 *
 * A /dev node whose VxmSimNode has device_ops set gets every open, read, write, ioctl and
 * release routed here by the FUSE layer, with the host lock held. Reads, writes and ioctls of
 * such nodes are logged with their bytes in hex ("write /dev/i2c-5 51 84 03 60 00 11 c9").
 */
#pragma once

#include "vxm-sim-node.h"

G_BEGIN_DECLS

typedef struct _VxmSimDeviceOps {
  /* Per-open state (may be NULL). */
  gpointer (*open)(VxmSimNode *node);
  void (*release)(VxmSimNode *node, gpointer state);
  /* Bytes read, or a negative errno. */
  int (*read)(VxmSimNode *node, gpointer state, guint8 *buf, gsize size);
  /* 0 (all @size bytes taken) or a negative errno. */
  int (*write)(VxmSimNode *node, gpointer state, const guint8 *buf, gsize size);
  /* @arg: the argument by value for _IO ioctls (I2C_SLAVE), else the FUSE data buffer. */
  int (*ioctl)(VxmSimNode *node, gpointer state, unsigned int cmd, void *arg, void *data);
} VxmSimDeviceOps;

G_END_DECLS
