#!/usr/bin/env bash
# Builds vxm's .deb from this tree in the cached trixie root (tools/debian-root), with the
# lab's small C test programs, and prints the folder holding them. Cached by the hash of the
# tree's files (tracked and untracked-but-not-ignored), so a second run of the same tree
# builds nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${VXM_LAB_CACHE:-/var/cache/vxm-lab}
cd "$top"
# the lab's own scripts are not in the .deb: editing them builds nothing
files() { git ls-files -z --cached --others --exclude-standard | sort -z |
  grep -zv -e '^tools/lab$' -e '^tools/lab\.d/.*\.sh$' -e '^tools/lab\.d/guest/' -e '^tools/lab\.d/initramfs-init$' -e '^tools/lab\.d/rc\.lab$' -e '^tools/lab\.d/outer/'; }
key=$(files | xargs -0 sha256sum 2>/dev/null | sha256sum | cut -c1-16)
out=$cache/deb-$key
if [ -f "$out/.done" ]; then echo "$out"; exit 0; fi
root=$(tools/debian-root trixie)
work=$root/tmp/vxm-lab-$key-$$
rm -rf "$work" "$out.tmp"
mkdir -p "$work/src" "$out.tmp/bin"
trap 'rm -rf "$work"' EXIT
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/src"
cp "$here"/*.c "$work/"
echo "lab: building vxm's .deb in the trixie root (log $out.tmp/build.log)" >&2
start=$(date +%s)
inner=/tmp/$(basename "$work")
if ! unshare -m -- sh -c '
  mount --rbind /proc "$1/proc" && mount --rbind /dev "$1/dev" &&
  chroot "$1" sh -c "cd $2/src && dpkg-buildpackage -b -us -uc -j2 &&
    for c in $2/*.c; do cc -std=gnu17 -O2 -Wall -Wextra -Werror -o \${c%.c} \$c || exit 1; done"
' sh "$root" "$inner" >"$out.tmp/build.log" 2>&1; then
  tail -n 30 "$out.tmp/build.log" >&2
  echo "lab: the .deb did not build; the whole log: $out.tmp/build.log" >&2
  exit 1
fi
cp "$work"/*.deb "$out.tmp/"
for c in "$work"/*.c; do cp "${c%.c}" "$out.tmp/bin/"; done
touch "$out.tmp/.done"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "lab: .deb built in $(($(date +%s) - start)) s" >&2
echo "$out"
