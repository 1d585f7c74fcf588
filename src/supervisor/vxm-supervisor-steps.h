/* vxm-supervisor-steps: the steps a supervisor announces (the "step" events and the status's
 * steps), each with the label a person reads. One table: a step the supervisor runs without a
 * label here is a bug, and test-supervisor fails on it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The label of @step ("detach-gpu": "give the GPU to vfio-pci"), or NULL for an unknown id. */
const char *vxm_supervisor_step_label(const char *step);

/* Every step id, in the order a start and a stop run them, NULL-terminated. */
const char *const *vxm_supervisor_steps(void);

G_END_DECLS
