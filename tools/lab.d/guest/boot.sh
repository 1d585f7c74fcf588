#!/bin/bash
# tools/lab, in the guest, as root, from /etc/rc.local at the end of the default runlevel
# (before the getty on tty1 logs the user in): installs vxm from the .deb on the 9p share,
# gives the test user access (polkit when the package ships its policy, else group vxm),
# starts vxmd (OpenRC when the package ships /etc/init.d/vxmd, else by hand), and lets the
# autologin run the scenarios (user.sh).
set -u
in=/lab/in out=/lab/out
. $in/config
mkdir -p /run/vxm-lab /var/lib/vxm-lab
touch $out/progress.log $out/results.tsv && chmod 666 $out/progress.log $out/results.tsv
boot=$(( $(cat /var/lib/vxm-lab/boots 2>/dev/null || echo 0) + 1 ))
echo $boot >/var/lib/vxm-lab/boots
log() { echo "lab: [$VARIANT boot $boot] $*" | tee -a $out/progress.log; }
fatal() {
  log "FATAL: $*"
  printf 'setup\tFAIL\t0\t%s\n' "$*" >>$out/results.tsv
  echo poweroff >/run/vxm-lab/next
  poweroff
  exit 1
}
# whatever stops this script early ends the boot with a failure, never a guest left waiting
trap '[ -e /run/vxm-lab/ready ] || fatal "boot.sh stopped before the scenarios could start"' EXIT
log "booted to OpenRC's default runlevel in $(cut -d' ' -f1 /proc/uptime) s"
# Under TCG the first touch of guest RAM is slow (the outer QEMU allocates it, the kernel
# clears it): a 4 GiB guest's first QEMU took more than vxm's 30 s QMP time limit. Touch the
# RAM the nested guest will use once now, beside the install, so the scenarios time vxm and
# not that: 4.6 GiB (base), on node 1 where the GPU and its hugepages are (numa), none
# where no guest runs (edge). Not again after scenario 8's reboot: the outer QEMU keeps it.
warm=
case $VARIANT in base) warm_opts=size=4600M ;; numa) warm_opts=size=4600M,mpol=bind:1 ;; *) warm_opts= ;; esac
# only for the scenarios that start a guest
case " $SCENARIOS " in *" 2 "* | *" 3 "* | *" 4 "* | *" 5 "* | *" numbers "*) ;; *) warm_opts= ;; esac
if [ "$boot" = 1 ] && [ -n "$warm_opts" ]; then
  mkdir -p /run/vxm-lab/warm
  mount -t tmpfs -o "$warm_opts" tmpfs /run/vxm-lab/warm
  warm_t=$(date +%s%3N)
  ( dd if=/dev/zero of=/run/vxm-lab/warm/touch bs=4M status=none 2>/dev/null  # until it is full
    rm -f /run/vxm-lab/warm/touch; umount /run/vxm-lab/warm ) &
  warm=$!
fi
t=$(date +%s%3N)
# the same .deb on every boot: / is an overlay on tmpfs, so the boot before's install is gone
# (its dpkg status survives in the persistent /var/lib, so this is a reinstall then)
dpkg -i $in/debs/vxm_*.deb >$out/dpkg-boot$boot.log 2>&1 ||
  fatal "dpkg -i vxm failed (see dpkg-boot$boot.log)"
log "vxm $(dpkg-query -W -f '${Version}' vxm) installed in $(( $(date +%s%3N) - t )) ms"
# /dev/kvm is root:kvm 0660 on Debian without systemd's uaccess: vxm check tells the user to
# join group kvm, as a user of this system would have done long before vxm
usermod -aG kvm lab || fatal "usermod -aG kvm lab failed"
if [ -n "${LAB_PRELOAD:-}" ]; then
  modprobe $LAB_PRELOAD
  log "NOTE: preloaded $LAB_PRELOAD by request (VXM_LAB_PRELOAD): a vxmd that loads it is not tested"
fi
# the lab's uinput keyboard and mouse (user.sh) get the by-id links udev gives a USB keyboard
# and mouse: vxm names input devices by their by-id or by-path links, and uinput devices have
# none of their own
cat >/etc/udev/rules.d/99-vxm-lab.rules <<'RULES'
SUBSYSTEM=="input", KERNEL=="event*", ATTRS{name}=="vxm-lab keyboard", SYMLINK+="input/by-id/usb-vxm-lab_keyboard-event-kbd"
SUBSYSTEM=="input", KERNEL=="event*", ATTRS{name}=="vxm-lab mouse", SYMLINK+="input/by-id/usb-vxm-lab_mouse-event-mouse"
RULES
udevadm control --reload
if ls /usr/share/polkit-1/actions/*vxm* >/dev/null 2>&1; then
  auth="polkit (the package ships $(ls /usr/share/polkit-1/actions/*vxm* | head -n1))"
else
  usermod -aG vxm lab || fatal "usermod -aG vxm lab failed"
  auth="group vxm (the package ships no polkit policy yet)"
fi
if [ -x /etc/init.d/vxmd ]; then
  rc-update add vxmd default >/dev/null 2>&1
  rc-service vxmd start >>$out/vxmd-boot$boot.log 2>&1 || fatal "rc-service vxmd start failed"
  vxmd_how="OpenRC (rc-service vxmd start, /etc/init.d/vxmd from the package)"
else
  start-stop-daemon --start --background --make-pidfile --pidfile /run/vxm-lab/vxmd.pid \
    --exec /usr/sbin/vxmd -- >>$out/vxmd-boot$boot.log 2>&1 || fatal "vxmd did not start by hand"
  vxmd_how="by hand (start-stop-daemon; the package ships no /etc/init.d/vxmd yet)"
fi
for i in $(seq 100); do [ -S /run/vxm/vxmd.sock ] && break; sleep 0.1; done
[ -S /run/vxm/vxmd.sock ] || fatal "vxmd made no socket /run/vxm/vxmd.sock (see vxmd-boot$boot.log)"
log "access: $auth, and group kvm for /dev/kvm; vxmd started $vxmd_how"
if [ -n "$warm" ]; then
  wait $warm
  log "RAM touched once ($warm_opts) in $(( $(date +%s%3N) - warm_t )) ms"
fi
printf 'BOOT=%s\nAUTH=%q\nVXMD_HOW=%q\n' "$boot" "$auth" "$vxmd_how" >/run/vxm-lab/env
# the user's scenarios say here whether scenario 8 wants its second boot (finish.sh reads it)
echo poweroff >/run/vxm-lab/next && chown lab /run/vxm-lab/next
touch /run/vxm-lab/ready
