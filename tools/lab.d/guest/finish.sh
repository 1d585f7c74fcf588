#!/bin/sh
# tools/lab, in the guest, as root, after the user's scenarios: a reboot when scenario 8 asked
# for its second boot, else power off (the outer QEMU then exits).
sync
if [ "$(cat /run/vxm-lab/next 2>/dev/null)" = reboot ]; then reboot; else poweroff; fi
