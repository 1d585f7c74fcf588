#!/usr/bin/env bash
# mmdebstrap customize hook for tools/lab's image ($1: the root folder): the test user, an
# autologin on tty1 (a local elogind session on seat0), OpenRC runlevels, and the boot hook
# that runs the lab from the 9p share.
set -euo pipefail
root=$1
here=$(cd "$(dirname "$0")" && pwd)
inroot() { chroot "$root" "$@"; }

echo vxm-lab >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 vxm-lab\n' >"$root/etc/hosts"
: >"$root/etc/fstab"

# the user a person would be: no password, a login shell, sudo only for the lab's own probes
# (reading root-owned state, killing vxmd); vxm itself always runs as this user
inroot useradd -m -s /bin/bash -U lab
inroot passwd -qd lab
echo 'lab ALL=(ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/lab"
chmod 440 "$root/etc/sudoers.d/lab"
cat >>"$root/home/lab/.profile" <<'PROFILE'
# tools/lab: the autologin on tty1 runs the user's part of the scenarios in this session
if [ "$(tty)" = /dev/tty1 ] && [ -x /lab/in/user.sh ] && [ -e /run/vxm-lab/ready ]; then
  /lab/in/user.sh >/dev/null 2>&1
  sudo /lab/in/finish.sh
fi
PROFILE

# sysvinit: autologin on tty1 only (agetty + login + pam_elogind give seat0 an active
# session), no other gettys; power off through init
sed -i -e '/^[1-6]:[0-9]*:respawn:/d' "$root/etc/inittab"
echo '1:2345:respawn:/sbin/agetty --autologin lab --noclear tty1 linux' >>"$root/etc/inittab"

# OpenRC: the services a Nitrux desktop has (udev, D-Bus, elogind), and rc.local (last in the
# default runlevel; Debian's openrc runs it) for the lab
for s in udev:sysinit dbus:default elogind:default rc.local:default; do
  [ -e "$root/etc/init.d/${s%%:*}" ] || { echo "lab image: no /etc/init.d/${s%%:*}" >&2; continue; }
  inroot rc-update add "${s%%:*}" "${s#*:}" >/dev/null 2>&1 || true
done
mkdir -p "$root/lab"
install -m 755 "$here/rc.lab" "$root/etc/rc.local"
sed -i 's/^#*rc_parallel=.*/rc_parallel="NO"/' "$root/etc/rc.conf"

rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
