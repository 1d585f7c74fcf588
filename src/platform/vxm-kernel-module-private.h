/* vxm-kernel-module's seam for the simulated workstation (tests and the demo only).
 *
 * When the host root is not "/", loading and unloading go to the simulated kernel's module
 * interface, a file under the root (vxm-simhost serves it as .simhost/modules): writing
 * "load NAME" or "unload NAME" does what init_module() and delete_module() would, and the
 * write fails with their errno (ENOENT: no such module; EEXIST: loaded; EBUSY: in use).
 * Real hosts never use it: there, libkmod. */
#pragma once

#define VXM_KERNEL_MODULE_SIM_INTERFACE "/.simhost/modules"
