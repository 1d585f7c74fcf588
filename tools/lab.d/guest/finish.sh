#!/bin/sh
# tools/lab, in the guest, as root, after the user's scenarios: a reboot when scenario 8 asked
# for its second boot, else power off (the outer QEMU then exits). Forced, after a sync: the
# init scripts' shutdown takes minutes under TCG, and nothing on the disks is kept after the
# outer QEMU exits (snapshot=on); the persistent disk is synced for the second boot.
sync
if [ "$(cat /run/vxm-lab/next 2>/dev/null)" = reboot ]; then reboot -f; else poweroff -f; fi
