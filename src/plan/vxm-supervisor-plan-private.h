/* Test seams of the supervisor plan (tests only: not an API, no user sets them).
 *
 * QEMU and swtpm get a trimmed environment (vxm_supervisor_plan_child_environ()); these
 * variables pass through it too, so the test doubles that stand in for QEMU see what the test
 * set for them:
 *   VXM_TEST_SEAM_ARGV_LOG      the file tests/vxm-test-qemu-wrapper appends its argv to
 *   VXM_TEST_SEAM_QEMU_SIM_     every variable with this prefix: the settings of
 *                               tests/vxm-qemu-sim (QEMU's QMP side, for machines without KVM
 *                               and VFIO)
 * Included by vxm-supervisor-plan.c and by tests only. */
#pragma once

#define VXM_TEST_SEAM_ARGV_LOG  "VXM_TEST_ARGV_LOG"
#define VXM_TEST_SEAM_QEMU_SIM_ "VXM_QEMU_SIM_"
