/* vxm-cpu-list: the kernel's CPU list text ("0-3,8-11") as a sorted array of CPU numbers.
 *
 * sysfs writes CPU sets this way (online, thread_siblings_list, shared_cpu_list, a node's
 * cpulist, the PMU's cpus); vxm prints its own sets the same way. A list is a GArray of guint,
 * sorted, without duplicates.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The highest CPU number accepted, exclusive (the kernel's NR_CPUS ceiling). */
#define VXM_CPU_LIST_MAX 8192

/* Parses "0-3,8,10-11" (an empty text is an empty list). NULL with an error naming @text and
 * @what (the file it came from) when malformed. */
GArray *vxm_cpu_list_parse(const char *text, const char *what,
                           GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* "0-3,8,10-11"; "" for an empty list. */
char *vxm_cpu_list_format(const GArray *cpus);

/* Membership in a sorted list. */
gboolean vxm_cpu_list_contains(const GArray *cpus, guint cpu);

/* A new empty list. */
GArray *vxm_cpu_list_new(void);

/* Inserts @cpu keeping the list sorted and unique. */
void vxm_cpu_list_add(GArray *cpus, guint cpu);

G_END_DECLS
