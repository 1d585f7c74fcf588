/* vxm-sim-fuse: serves a VxmSimHost through FUSE (libfuse3 high-level API).
 *
 * Path based and multithreaded: a hung or delayed operation blocks only its own request.
 * Zero entry, attribute and negative cache timeouts so every change is seen at once;
 * generated files (sysfs attributes, /proc, /dev nodes, control files) are direct_io, so
 * each read and write reaches the simulation. Each operation takes the host lock only while
 * it touches the tree; fault delays and hangs wait outside it.
 */
#pragma once

#include "vxm-sim-host.h"

G_BEGIN_DECLS

/* Mounts @host on @mountpoint and serves until unmounted or signalled (SIGTERM, SIGINT,
 * SIGHUP). Returns the process exit status. */
int vxm_sim_fuse_run(VxmSimHost *host, const char *mountpoint, gboolean foreground, gboolean debug,
                     const char *extra_options);

G_END_DECLS
