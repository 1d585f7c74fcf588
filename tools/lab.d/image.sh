#!/usr/bin/env bash
# tools/lab's image: a bootable Debian 13 (trixie) root with OpenRC as init, made once with
# mmdebstrap and cached under $VXM_LAB_CACHE by the hash of its inputs (this script, the
# package list, the suite and the mirror). vxm is NOT in the image: its .deb changes with every
# commit, so the guest installs it at boot from the 9p share (dpkg -i takes seconds; a new
# image takes minutes). Prints the image folder on standard output, progress on standard error.
#
# The folder holds: root.ext4 (the read-only lower layer), persist.ext4 (/var/lib and /home,
# persistent as on Nitrux), vmlinuz, initrd (busybox + the modules to mount an overlay root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${VXM_LAB_CACHE:-/var/cache/vxm-lab}
suite=trixie
mirror=${VXM_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# init: sysvinit-core + openrc (no systemd); sessions: elogind; the rest: what vxm and the
# scenarios use (vxm's runtime libraries are listed so the .deb installs offline at boot).
pkgs=(
  sysvinit-core openrc orphan-sysvinit-scripts elogind libpam-elogind dbus polkitd udev kmod
  login passwd sudo procps psmisc pciutils python3 busybox-static
  linux-image-amd64
  qemu-system-x86 qemu-utils ovmf swtpm swtpm-tools pci.ids
  libglib2.0-0t64 libjson-glib-1.0-0 libfuse3-4 fuse3 libkmod2 libpolkit-gobject-1-0 libcurl4t64
)
key=$( { echo "$suite $mirror"; printf '%s\n' "${pkgs[@]}"; cat "$0" "$here/customize.sh" "$here/initramfs-init" "$here/rc.lab"; } |
  sha256sum | cut -c1-16)
dir=$cache/image-$key
if [ -f "$dir/.done" ]; then echo "$dir"; exit 0; fi
mkdir -p "$cache"
exec 9>"$cache/.lock-image-$key"
flock 9
if [ -f "$dir/.done" ]; then echo "$dir"; exit 0; fi
rm -rf "$dir" "$dir.tmp"
mkdir -p "$dir.tmp"
log=$dir.tmp/build.log
start=$(date +%s)
echo "lab: building the Debian $suite image in $dir (once; about 5-20 minutes; log $dir.log)" >&2
root=$dir.tmp/root
# progress: one line per 30 s with the number of packages unpacked so far
( while sleep 30; do
    echo "lab: image build: $(($(date +%s) - start)) s: $(grep '^I:' "$log" 2>/dev/null | tail -n1)" >&2
  done ) &
ticker=$!
trap 'kill $ticker 2>/dev/null || true' EXIT
include=$(IFS=,; echo "${pkgs[*]}")
# the Debian root alone is cached by its packages, so a change to the customization or the
# initramfs does not download and install everything again
rkey=$( { echo "$suite $mirror"; printf '%s\n' "${pkgs[@]}"; } | sha256sum | cut -c1-16)
rootdir=$cache/image-root-$rkey
if [ ! -f "$rootdir.tar.done" ]; then
  rm -rf "$rootdir.tmp"
  if ! mmdebstrap --variant=apt --mode=root --include="$include" \
    --aptopt='Acquire::Retries "3"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$suite" "$rootdir.tar" "$mirror" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    cp "$log" "$dir.log"
    echo "lab: mmdebstrap failed; the whole log: $dir.log" >&2
    exit 1
  fi
  touch "$rootdir.tar.done"
fi
mkdir -p "$root"
tar -C "$root" -xf "$rootdir.tar"
"$here/customize.sh" "$root" >>"$log" 2>&1 || { tail -n 20 "$log" >&2; exit 1; }
echo "lab: root made in $(($(date +%s) - start)) s; making the initramfs and disk images" >&2

# the kernel and a small initramfs: busybox, the modules for virtio disks, ext4, 9p, overlay
kver=$(basename "$(ls -d "$root"/lib/modules/* | sort -V | tail -n1)")
cp "$root/boot/vmlinuz-$kver" "$dir.tmp/vmlinuz"
ird=$dir.tmp/initrd.d
mkdir -p "$ird"/{bin,dev,proc,sys,lower,rw,newroot,lib/modules}
cp "$root/usr/bin/busybox" "$ird/bin/busybox"
for m in virtio_pci virtio_blk ext4 overlay 9p 9pnet_virtio; do
  modprobe -d "$root" -S "$kver" --show-depends "$m"
done | awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++' >"$ird/modules.order.full"
: >"$ird/modules.order"
while read -r ko; do
  base=$(basename "$ko"); base=${base%.xz}; base=${base%.zst}
  case $ko in "$root"/*) ;; *) ko=$root$ko ;; esac
  case $ko in
    *.xz) xz -dc "$ko" >"$ird/lib/modules/$base" ;;
    *.zst) zstd -qdc "$ko" >"$ird/lib/modules/$base" ;;
    *) cp "$ko" "$ird/lib/modules/$base" ;;
  esac
  echo "$base" >>"$ird/modules.order"
done <"$ird/modules.order.full"
rm "$ird/modules.order.full"
install -m 755 "$here/initramfs-init" "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$dir.tmp/initrd"
rm -rf "$ird"

# /var/lib and /home go to their own disk (persistent across a reboot, as on Nitrux); the root
# disk keeps its copies as the lower layer underneath
mkdir -p "$dir.tmp/persist"
cp -a "$root/var/lib" "$dir.tmp/persist/var-lib"
cp -a "$root/home" "$dir.tmp/persist/home"
mkfs.ext4 -q -L vxm-persist -d "$dir.tmp/persist" "$dir.tmp/persist.ext4" 1G
rm -rf "$dir.tmp/persist"
size=$(( $(du -sm "$root" | cut -f1) * 13 / 10 + 256 ))
mkfs.ext4 -q -L vxm-root -d "$root" "$dir.tmp/root.ext4" "${size}M"
echo "$kver" >"$dir.tmp/kernel-version"
rm -rf "$root"
kill $ticker 2>/dev/null || true
echo "$(($(date +%s) - start))" >"$dir.tmp/build-seconds"
touch "$dir.tmp/.done"
mv "$dir.tmp" "$dir"
echo "lab: image built in $(($(date +%s) - start)) s" >&2
echo "$dir"
