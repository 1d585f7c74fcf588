/* vxm-supervisor-steps: the supervisor's step ids and their labels (see the header). */
#include "vxm-supervisor-steps.h"

static const struct {
  const char *step;
  const char *label;
} labels[] = {
    {"lock", "lock the VM"},
    {"inhibit-sleep", "keep the host from sleeping (logind)"},
    {"detach-gpu", "give the GPU to vfio-pci"},
    {"grant-vfio", "give /dev/vfio to QEMU's user"},
    {"reserve-hugepages", "reserve hugepages"},
    {"grant-inputs", "give the keyboards and mice to QEMU's user"},
    {"grant-usb", "give the USB devices to QEMU's user"},
    {"prepare-looking-glass", "make the Looking Glass memory"},
    {"start-swtpm", "start swtpm (the TPM)"},
    {"raise-memlock", "raise RLIMIT_MEMLOCK"},
    {"start-qemu", "start QEMU, paused"},
    {"qmp", "QMP handshake"},
    {"pin-vcpus", "pin the vCPU threads"},
    {"cont", "run the guest"},
    {"shutdown-guest", "shut the guest down"},
    {"reattach-gpu", "give the GPU back to its drivers"},
    {"release-hugepages", "give the hugepages back"},
    {"revoke-devices", "take the device nodes back"},
    {"restore-host", "give the host back"},
    {"switch-monitor", "switch the monitor to the guest's input"},
    {"switch-monitor-back", "switch the monitor back to the host's input"},
    {"stop-swtpm", "stop swtpm"},
};

static const char *const *ids;

const char *
vxm_supervisor_step_label(const char *step)
{
  for (guint i = 0; i < G_N_ELEMENTS(labels); i++)
    if (g_strcmp0(labels[i].step, step) == 0)
      return labels[i].label;
  return NULL;
}

const char *const *
vxm_supervisor_steps(void)
{
  static gsize done;

  if (g_once_init_enter(&done)) {
    const char **list = g_new0(const char *, G_N_ELEMENTS(labels) + 1);

    for (guint i = 0; i < G_N_ELEMENTS(labels); i++)
      list[i] = labels[i].step;
    ids = list;
    g_once_init_leave(&done, 1);
  }
  return ids;
}
