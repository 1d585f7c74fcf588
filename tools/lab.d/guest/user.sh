#!/bin/bash
# tools/lab, in the guest, as the unprivileged user "lab" in the local elogind session that
# the autologin on tty1 opened (seat0): runs the selected scenarios, each asserting what a
# user would notice, and writes one line per scenario to /lab/out/results.tsv:
#   NAME <tab> PASS|FAIL <tab> SECONDS <tab> what was seen
# Root's part (killing vxmd, holding /dev/vfio/N, reading root's state) goes through sudo;
# vxm itself always runs as this user, except the commands that are root's by design
# (vxm detach/reattach by hand).
set -u
in=/lab/in out=/lab/out bin=/lab/in/bin
. $in/config
. /run/vxm-lab/env
export PATH=/usr/sbin:/usr/bin:/sbin:/bin NO_COLOR=1
S=$out/scenarios
mkdir -p $S
log() { echo "lab: [$VARIANT boot $BOOT] $*" >>$out/progress.log; }
now_ms() { date +%s%3N; }
j() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# --- the scenario frame: every check appends to the scenario's log; the first failure fails it
cur= fails=0 note=
check() { # description, command...: the command must succeed
  local what=$1; shift
  if "$@" >>"$S/$cur.log" 2>&1; then echo "ok: $what" >>"$S/$cur.log"
  else echo "FAILED: $what" >>"$S/$cur.log"; fails=$((fails + 1)); [ -n "$note" ] || note=$what; fi
}
fail() { echo "FAILED: $*" >>"$S/$cur.log"; fails=$((fails + 1)); [ -n "$note" ] || note=$*; }
say() { echo "$*" >>"$S/$cur.log"; }
run() { # runs a command into the log and returns its status
  echo "\$ $*" >>"$S/$cur.log"; "$@" >>"$S/$cur.log" 2>&1
}
scenario() { # name, function
  cur=$1 fails=0 note=
  : >"$S/$cur.log"
  log "scenario $cur: running"
  local t0; t0=$(now_ms)
  "$2"
  local secs; secs=$(python3 -c "print(f'{($(now_ms) - $t0) / 1000:.1f}')")
  local res=PASS
  [ $fails -eq 0 ] || res=FAIL
  printf '%s\t%s\t%s\t%s\n' "$cur" "$res" "$secs" "${note:-ok}" >>$out/results.tsv
  log "scenario $cur: $res in $secs s${note:+ ($note)}"
}
wanted() { case " $SCENARIOS " in *" $1 "* | *" all "*) return 0 ;; esac; return 1; }

# --- the host as a user would check it (root reads /run/vxm)
GPU= BOOTVGA= FUNCS=
find_gpus() {
  vxm list-gpus --json >$S/list-gpus.json 2>>$S/list-gpus.err || return 1
  GPU=$(j '[g["address"] for g in d if g.get("role")=="candidate"][0]' <$S/list-gpus.json) || return 1
  BOOTVGA=$(j '[g["address"] for g in d if g["boot_vga"]][0]' <$S/list-gpus.json)
  FUNCS=$(ls -d /sys/bus/pci/devices/${GPU%.*}.* | xargs -n1 basename | tr '\n' ' ')
}
host_state() { # everything a stop or recover must give back, one fact a line
  local f n
  for f in $FUNCS; do
    echo "$f driver=$(basename "$(readlink /sys/bus/pci/devices/$f/driver 2>/dev/null)" 2>/dev/null)"
    echo "$f driver_override=$(cat /sys/bus/pci/devices/$f/driver_override)"
  done
  for n in /sys/kernel/mm/hugepages/hugepages-*/nr_hugepages \
    /sys/devices/system/node/node*/hugepages/hugepages-*/nr_hugepages; do
    echo "$n=$(cat $n)"
  done
  stat -c '%n %U:%G %a' /dev/vfio/* /dev/input/event* /dev/dri/* 2>/dev/null | grep -v '^/dev/vfio/vfio '
  echo "journals: $(sudo find /run/vxm/journal -type f 2>/dev/null | sort | tr '\n' ' ')"
}
modules() { lsmod | awk '$1 ~ /^vfio/ {print $1}' | sort | tr '\n' ' '; }
same_state() { # label, before-file
  host_state >"$S/$cur.state-after" 2>&1
  if diff -u "$2" "$S/$cur.state-after" >>"$S/$cur.log"; then echo "ok: $1: host as before" >>"$S/$cur.log"
  else fail "$1: the host is not as before (diff above)"; fi
}

# --- the devices a person has: a uinput keyboard and mouse (root makes them, as udev would)
KBD= MOUSE= UINPUT_PID=
uinput_up() {
  [ -n "$UINPUT_PID" ] && return 0
  sudo modprobe uinput
  rm -f /tmp/lab-uinput.out
  sudo sh -c "$bin/lab-uinput >/tmp/lab-uinput.out 2>&1 & echo \$! >/tmp/lab-uinput.pid"
  for i in $(seq 50); do grep -q '^mouse' /tmp/lab-uinput.out 2>/dev/null && break; sleep 0.1; done
  UINPUT_PID=$(cat /tmp/lab-uinput.pid)
  KBD=/dev/input/$(awk '$1=="keyboard"{print $2}' /tmp/lab-uinput.out)
  MOUSE=/dev/input/$(awk '$1=="mouse"{print $2}' /tmp/lab-uinput.out)
  udevadm settle -t 5 2>/dev/null || true
}
ctrl_ctrl() { sudo kill -USR1 "$UINPUT_PID"; sleep 1; }
grab() { sudo $bin/lab-grab "$1" 2>&1; }

# the QEMU vxm runs, with one more QMP socket for the lab to ask query-pci on (vxm's own
# is its supervisor's); everything else is vxm's argv unchanged
QMP=/tmp/lab-qmp.sock
cat >/tmp/lab-qemu <<WRAP
#!/bin/sh
case " \$* " in *" -name "*) exec /usr/bin/qemu-system-x86_64 "\$@" -qmp unix:$QMP,server=on,wait=off ;; esac
exec /usr/bin/qemu-system-x86_64 "\$@"
WRAP
chmod +x /tmp/lab-qemu
qmp() { # command: prints the return value as JSON
  python3 - "$QMP" "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(sys.argv[1])
f = s.makefile("rw")
def rd():
    while True:
        m = json.loads(f.readline())
        if "event" not in m: return m
rd(); f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n"); f.flush(); rd()
f.write(json.dumps({"execute": sys.argv[2]}) + "\n"); f.flush()
print(json.dumps(rd().get("return")))
PY
}

VM=lab
# the VM takes the uinput keyboard and mouse by their by-id names, as vxm asks for a virtual
# device (inputs = auto leaves virtual devices out)
vm_init() {
  [ -f ~/.config/vxm/vms/$VM.conf ] && return 0
  run vxm init $VM --disk-size 1G --set memory.size=4G --set host.qemu_binary=/tmp/lab-qemu \
    --set gpu.address=$GPU --set network.mode=none --set host.shutdown_timeout=5 \
    --set host.start_timeout=300 \
    --set input.inputs=usb-vxm-lab_keyboard-event-kbd,usb-vxm-lab_mouse-event-mouse
}
T_START= T_STOP=
vm_start() {
  local t0; t0=$(now_ms)
  if ! run timeout -k 5 300 vxm start $VM; then
    local l
    for l in ~/.local/state/vxm/$VM/qemu.log ~/.local/state/vxm/$VM/vxm.log; do
      say "--- the last lines of $l"; tail -n 25 "$l" >>"$S/$cur.log" 2>&1
    done
    return 1
  fi
  T_START=$(( $(now_ms) - t0 ))
  say "vxm start: ${T_START} ms"
}
vm_stop() {
  local t0; t0=$(now_ms)
  run timeout -k 5 180 vxm stop $VM --force || return 1
  T_STOP=$(( $(now_ms) - t0 ))
  say "vxm stop --force: ${T_STOP} ms"
}
qemu_pid() { vxm status $VM --json 2>/dev/null | j 'd["qemu_pid"] or ""'; }

# ---------------------------------------------------------------------------------------
s1_check() {
  say "access: $AUTH; vxmd: $VXMD_HOW"
  check "this login is a local, active session on seat0 (elogind)" \
    sh -c 'loginctl show-session "$XDG_SESSION_ID" -p Active -p Remote -p Seat -p Type >/tmp/lab-session; cat /tmp/lab-session; grep -qx Active=yes /tmp/lab-session && grep -qx Remote=no /tmp/lab-session && grep -qx Seat=seat0 /tmp/lab-session'
  check "vxm list-gpus --json" find_gpus
  say "guest GPU $GPU ($FUNCS), boot VGA $BOOTVGA"
  check "the boot VGA is the host's" \
    test "$(j '[g["role"] for g in d if g["boot_vga"]][0]' <$S/list-gpus.json)" = host
  check "the second GPU is a candidate" test -n "$GPU"
  check "the candidate lists its audio function" \
    test "$(j '[f["class"] for g in d if g.get("role")=="candidate" for f in g["functions"]]' <$S/list-gpus.json | grep -c 0403)" -ge 1
  check "vxm check --gpu $GPU passes" run vxm check --gpu "$GPU"
  host_state >$S/state-before 2>&1
  modules >$S/modules-before
  say "vfio modules at boot: '$(cat $S/modules-before)'"
}

s2_start() {
  [ -n "$GPU" ] || find_gpus
  uinput_up
  check "uinput keyboard and mouse exist" test -c "$KBD" -a -c "$MOUSE"
  host_state >$S/state-before 2>&1
  modules >$S/modules-before
  check "vxm init" vm_init
  check "vxm start (as the user, through vxmd)" vm_start
  local f grp
  for f in $FUNCS; do
    check "$f is on vfio-pci" test "$(basename "$(readlink /sys/bus/pci/devices/$f/driver)")" = vfio-pci
  done
  check "vfio-pci is loaded (it was '$(cat $S/modules-before)' before)" sh -c 'lsmod | grep -q "^vfio_pci "'
  grp=$(basename "$(readlink /sys/bus/pci/devices/$GPU/iommu_group)")
  check "/dev/vfio/$grp is the user's" test "$(stat -c %U /dev/vfio/$grp)" = lab
  local q; q=$(qemu_pid)
  [ -n "$q" ] && say "qemu pid $q: $(tr '\0' ' ' </proc/$q/cmdline 2>/dev/null | cut -c1-3000)"
  [ -n "$q" ] || q=none
  check "QEMU runs as the user" test "$(stat -c %U /proc/$q 2>/dev/null)" = lab
  check "QEMU runs with accel=kvm" sh -c "tr '\0' ' ' </proc/$q/cmdline | grep -q 'accel=kvm'"
  check "QEMU has OVMF" sh -c "tr '\0' ' ' </proc/$q/cmdline | grep -qi 'ovmf'"
  check "swtpm runs as the user" sh -c 'pgrep -u lab -x swtpm'
  # the firmware numbers the buses behind the root port only once it runs: until then
  # query-pci shows the port with no devices behind it; ask again for up to 3 minutes
  local tries=0
  while [ -n "$q" ] && [ $tries -lt 90 ] && qmp query-pci >$S/query-pci.json 2>>"$S/$cur.log" &&
    ! grep -q '"gpu-fn0"' $S/query-pci.json; do
    tries=$((tries + 1)); sleep 2
  done
  say "query-pci asked $((tries + 1)) times"
  if [ -n "$q" ] && qmp query-pci >$S/query-pci.json 2>>"$S/$cur.log"; then
    for f in $FUNCS; do
      # the vfio-pci device QEMU was given for this function (its id), found in query-pci
      check "query-pci over QMP shows $f as a vfio-pci device of the guest" python3 -c "
import json, re
argv = open('/proc/$q/cmdline').read().split(chr(0))
ids = [re.search(r'(?:^|,)id=([^,]+)', a).group(1) for a in argv
       if a.startswith('vfio-pci,') and re.search(r'host=(0000:)?${f#0000:}(,|$)', a)]
d = json.load(open('$S/query-pci.json'))
def walk(devs):
    for x in devs:
        yield x
        yield from walk((x.get('pci_bridge') or {}).get('devices', []))
seen = {x.get('qdev_id'): (hex(x['id']['vendor']), hex(x['id']['device']), hex(x['class_info']['class'])) for b in d for x in walk(b['devices'])}
print('vfio-pci ids for $f:', ids, 'query-pci:', seen)
assert ids and all(i in seen for i in ids), 'not in query-pci'"
    done
  else
    fail "query-pci over QMP (lab's extra QMP socket $QMP)"
  fi
  vxm status $VM --json >$S/status-running.json 2>>$S/$cur.log
  say "hugepages: $(j 'd["hugepages"]' <$S/status-running.json)"
  check "hugepages are held" test "$(j '(d["hugepages"] or {}).get("held")' <$S/status-running.json)" = True
  if [ "$VARIANT" = numa ]; then
    local node; node=$(cat /sys/bus/pci/devices/$GPU/numa_node)
    check "the GPU is on NUMA node 1" test "$node" = 1
    check "hugepages are on the GPU's node ($node)" \
      test "$(j '(d["hugepages"] or {}).get("node")' <$S/status-running.json)" = "$node"
    check "node $node holds them in sysfs" sh -c "cat /sys/devices/system/node/node$node/hugepages/*/nr_hugepages | awk '{s+=\$1} END {exit !(s>0)}'"
  fi
  check "input-linux holds the keyboard (EVIOCGRAB: EBUSY)" sh -c "test \"\$(sudo $bin/lab-grab $KBD)\" = EBUSY"
  check "input-linux holds the mouse (EVIOCGRAB: EBUSY)" sh -c "test \"\$(sudo $bin/lab-grab $MOUSE)\" = EBUSY"
}

s3_ctrlctrl() {
  if [ -z "$(qemu_pid)" ]; then
    # scenario 2's start failed (its own failure): start one here so Ctrl+Ctrl is still tried
    say "no running VM from scenario 2: starting one"
    uinput_up
    vm_init
    vm_start || { fail "no running VM (vxm start failed here too)"; return; }
  fi
  check "before Ctrl+Ctrl the guest holds the keyboard: EBUSY" sh -c "test \"\$(sudo $bin/lab-grab $KBD)\" = EBUSY"
  ctrl_ctrl
  check "after Ctrl+Ctrl another process can grab it" sh -c "test \"\$(sudo $bin/lab-grab $KBD)\" = grabbed"
  ctrl_ctrl
  check "after Ctrl+Ctrl again the guest holds it: EBUSY" sh -c "test \"\$(sudo $bin/lab-grab $KBD)\" = EBUSY"
}

s4_stop() {
  [ -n "$(qemu_pid)" ] || { fail "no running VM (scenario 2 did not start one)"; return; }
  check "vxm stop --force" vm_stop
  same_state "after vxm stop" $S/state-before
  if [ "$(modules)" != "$(cat $S/modules-before)" ]; then
    say "vfio modules: '$(cat $S/modules-before)' before, '$(modules)' after"
    check "vxm said why the vfio modules stay loaded" \
      sh -c "grep -rqi 'vfio.*loaded\|left loaded\|stays loaded' ~/.local/state/vxm/$VM/ $S/$cur.log"
  fi
  check "vxm status shows no journal" sh -c "vxm status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert not d[\"journals\"], d[\"journals\"]'"
}

kill_supervisor() {
  local sp; sp=$(vxm status $VM --json | j 'd["supervisor_pid"] or ""')
  [ -n "$sp" ] || { fail "no supervisor pid in vxm status"; return 1; }
  say "kill -9 supervisor $sp"
  kill -9 "$sp"
}
s5_recover() {
  [ -n "$GPU" ] || find_gpus
  uinput_up
  [ -f $S/state-before ] || host_state >$S/state-before 2>&1
  vm_init
  check "vxm start" vm_start
  check "SIGKILL the supervisor" kill_supervisor
  sleep 2
  check "vxm recover (as the user)" run timeout 120 vxm recover
  same_state "after SIGKILL + recover" $S/state-before
  check "vxm start again" vm_start
  check "SIGKILL the supervisor again" kill_supervisor
  if [ -x /etc/init.d/vxmd ]; then
    say "vxmd: kill -9, OpenRC restarts it"
    run sudo sh -c 'kill -9 $(pidof vxmd); sleep 1; rc-service vxmd status || rc-service vxmd restart'
  else
    say "vxmd: kill -9, started again by hand (no /etc/init.d/vxmd in the package yet)"
    run sudo sh -c 'kill -9 $(pidof vxmd); sleep 1; start-stop-daemon --start --background --make-pidfile --pidfile /run/vxm-lab/vxmd.pid --exec /usr/sbin/vxmd'
  fi
  for i in $(seq 100); do [ -S /run/vxm/vxmd.sock ] && pidof vxmd >/dev/null && break; sleep 0.1; done
  sleep 1
  check "vxm recover after vxmd's restart" run timeout 120 vxm recover
  same_state "after SIGKILL + vxmd restart + recover" $S/state-before
}

bounded() { # seconds, command...: runs it in the background and waits at most that long;
  # 124 when it is still running then (left behind: a process in uninterruptible sleep cannot
  # be killed, and timeout(1) would wait for it), else its exit status
  local secs=$1 p i; shift
  echo "\$ $* (at most $secs s)" >>"$S/$cur.log"
  "$@" >>"$S/$cur.log" 2>&1 &
  p=$!
  for i in $(seq $((secs * 10))); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
  if kill -0 $p 2>/dev/null; then
    echo "still running after $secs s (pid $p, state $(awk '{print $3}' /proc/$p/stat 2>/dev/null); children: $(pgrep -P $p | xargs -r -I{} awk '{print $1 "=" $3}' /proc/{}/stat | tr '\n' ' '))" >>"$S/$cur.log"
    STUCK+=($p)
    return 124
  fi
  wait $p
}
STUCK=()
s6_held() {
  [ -n "$GPU" ] || find_gpus
  [ -f $S/state-before ] || host_state >$S/state-before 2>&1
  local f hold=() dev pid t0 rc
  check "sudo vxm detach $GPU (root's command)" run sudo timeout 60 vxm detach "$GPU"
  # x-req=off: this QEMU ignores the kernel's request to let go (as one whose guest does not
  # release the device does), so an unbind waits for it for good
  for f in $FUNCS; do hold+=(-device "vfio-pci,host=$f,x-req=off"); done
  sudo sh -c "qemu-system-x86_64 -machine q35,accel=kvm -m 256 -nodefaults -display none -S ${hold[*]} >/tmp/lab-holder.log 2>&1 & echo \$! >/tmp/lab-holder.pid"
  pid=$(cat /tmp/lab-holder.pid)
  for i in $(seq 60); do sudo ls -l /proc/$pid/fd 2>/dev/null | grep -q /dev/vfio/[0-9] && break; sleep 0.5; done
  check "another QEMU (pid $pid) holds /dev/vfio/N" sh -c "sudo ls -l /proc/$pid/fd | grep /dev/vfio/[0-9]"
  t0=$(now_ms)
  local mark; mark=$(wc -l <"$S/$cur.log")
  bounded 20 sudo vxm reattach "$GPU"; rc=$?
  say "vxm reattach: exit $rc after $(( $(now_ms) - t0 )) ms"
  tail -n +$((mark + 1)) "$S/$cur.log" >$S/6-reattach.out
  check "vxm reattach ends within 20 s (no hang)" test $rc -ne 124
  check "vxm reattach refuses (non-zero exit)" test $rc -ne 0 -a $rc -ne 124
  check "its refusal names the holder (pid $pid, qemu)" grep -q "$pid" $S/6-reattach.out
  for f in $FUNCS; do
    check "$f is still on vfio-pci after the refusal" \
      test "$(basename "$(readlink /sys/bus/pci/devices/$f/driver)" 2>/dev/null)" = vfio-pci
  done
  for c in "status" "list-gpus" "check --gpu $GPU"; do
    t0=$(now_ms)
    bounded 15 vxm $c; rc=$?
    check "vxm $c answers within 15 s (exit $rc, $(( $(now_ms) - t0 )) ms)" test $rc -ne 124
  done
  bounded 20 sudo vxm reattach "$GPU"; rc=$?
  check "a second vxm reattach ends within 20 s" test $rc -ne 124
  sudo kill "$pid"
  for i in $(seq 60); do sudo kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  # whatever hung is released now: wait for it, then give the card back for what follows
  for p in "${STUCK[@]}"; do
    for i in $(seq 600); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  STUCK=()
  sleep 1
  check "vxm reattach after the holder quit" run sudo timeout 120 vxm reattach "$GPU"
  same_state "after the holder quit and reattach" $S/state-before
}

refused() { # description, target GPU: as the user would try it, through config and start
  local rc1 rc2
  run vxm config refuse --set gpu.address="$2"; rc1=$?
  rc2=0
  [ $rc1 -eq 0 ] && { run timeout -k 5 300 vxm start refuse; rc2=$?; }
  [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && { say "it started: stopping it"; run vxm stop refuse --force; }
  [ $rc1 -ne 0 ] && return 0 # the config refused it
  [ $rc2 -ne 0 ] && [ $rc2 -ne 124 ] # the start refused it (124: it hung)
}
s7_refusals() {
  [ -n "$GPU" ] || find_gpus
  host_state >$S/state7 2>&1
  [ -f ~/.config/vxm/vms/refuse.conf ] ||
    run vxm init refuse --disk-size 1G --set memory.size=4G --set network.mode=none --set host.qemu_binary=/tmp/lab-qemu
  check "vxm check --gpu $BOOTVGA (the boot VGA) fails" sh -c "! vxm check --gpu $BOOTVGA"
  check "a VM on the boot VGA is refused (config or start)" refused "boot VGA" "$BOOTVGA"
  check "sudo vxm detach of the boot VGA is refused" sh -c "! sudo timeout 60 vxm detach $BOOTVGA"
  same_state "after the boot VGA refusals" $S/state7
  if [ "$VARIANT" = edge ]; then
    local shared
    shared=$(j '[g["address"] for g in d if g.get("role")=="unusable" and not g["boot_vga"]][0]' <$S/list-gpus.json)
    say "GPU in a shared group: $shared"
    check "list-gpus says why $shared is unusable" \
      sh -c "vxm list-gpus --json | python3 -c 'import json,sys; print([g.get(\"reasons\", g.get(\"why\")) for g in json.load(sys.stdin) if g[\"address\"]==\"$shared\"])'"
    check "a VM on the shared-group GPU is refused" refused "shared group" "$shared"
    check "sudo vxm detach of the shared-group GPU is refused" sh -c "! sudo timeout 60 vxm detach $shared"
    same_state "after the shared-group refusals" $S/state7
    local card hp rc
    card=$(ls /sys/bus/pci/devices/$GPU/drm | grep -m1 '^card')
    sudo sh -c "$bin/lab-hold /dev/dri/$card >/tmp/lab-hold.out 2>&1 & echo \$! >/tmp/lab-hold.pid"
    sleep 1
    hp=$(cat /tmp/lab-hold.pid)
    say "pid $hp (root, lab-hold) holds /dev/dri/$card, as a compositor would"
    vm_init
    run timeout -k 5 300 vxm start $VM; rc=$?
    check "vxm start while pid $hp holds /dev/dri/$card is refused" test $rc -ne 0 -a $rc -ne 124
    check "the refusal names the holder (pid $hp)" sh -c "sed -n '/vxm start $VM\$/,\$p' $S/$cur.log | grep -q '$hp'"
    sudo kill "$hp"
    same_state "after the held-card refusal" $S/state7
  fi
}

s8_reboot() {
  if [ "$BOOT" = 1 ]; then
    [ -n "$GPU" ] || find_gpus
    vm_init
    # what vxm keeps: the VM (config and data in /home) and nothing on the host
    ls -la ~/.config/vxm/vms/ ~/.local/share/vxm/$VM/ >$out/s8-kept 2>&1
    # the VM's last outcome as vxm list tells it ("failed" after scenario 5 killed its
    # supervisor, else "stopped"): it is kept in /home, so the reboot must not change it
    vxm list --json | python3 -c 'import json,sys; print([v["state"] for v in json.load(sys.stdin) if v["name"]==sys.argv[1]][0])' "$VM" >$out/s8-state 2>>"$S/$cur.log"
    say "vxm list before the reboot: $VM is $(cat $out/s8-state)"
    run sudo vxm static-binding on "$GPU"; echo $? >$out/s8-static-rc
    cp "$S/$cur.log" $out/s8-boot1.log
    echo reboot >/run/vxm-lab/next
    say "rebooting for the second half"
    return
  fi
  cat $out/s8-boot1.log >>"$S/$cur.log"
  say "--- second boot"
  check "the VM's config survived the reboot" test -f ~/.config/vxm/vms/$VM.conf
  check "the VM's disk, UEFI variables and TPM state survived" sh -c "ls ~/.local/share/vxm/$VM/ && test -n \"\$(ls ~/.local/share/vxm/$VM/)\""
  local before; before=$(cat $out/s8-state 2>/dev/null)
  check "vxm list shows it as before the reboot ('$before', not running)" sh -c "case '$before' in stopped | failed) ;; *) exit 1 ;; esac && vxm list --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert [v[\"state\"] for v in d if v[\"name\"]==\"$VM\"]==[\"$before\"], d'"
  check "no journal was kept (/run is new)" sh -c "vxm status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert not d[\"journals\"]'"
  check "no hugepages are reserved" sh -c "cat /sys/kernel/mm/hugepages/*/nr_hugepages | awk '{s+=\$1} END {exit s}'"
  if [ "$(cat $out/s8-static-rc)" = 0 ]; then
    if [ -e /etc/modprobe.d/vxm-vfio.conf ]; then
      say "static binding survived the reboot (/etc/modprobe.d/vxm-vfio.conf is there)"
    else
      check "static-binding on said its file would not survive the overlay root" \
        grep -qiE 'overlay|temporar|lost at|until (the next )?reboot|overlayroot' $out/s8-boot1.log
    fi
  fi
}

s9_numbers() {
  [ -n "$GPU" ] || find_gpus
  uinput_up
  vm_init
  local i t0 det=() rea=() st=() sp=() dst=() dq=()
  for i in 1 2 3; do
    t0=$(now_ms); check "sudo vxm detach $GPU" run sudo timeout 60 vxm detach "$GPU"; det+=($(( $(now_ms) - t0 )))
    t0=$(now_ms); check "sudo vxm reattach $GPU" run sudo timeout 60 vxm reattach "$GPU"; rea+=($(( $(now_ms) - t0 )))
  done
  for i in 1 2; do
    check "vxm start" vm_start && st+=($T_START)
    check "vxm stop --force" vm_stop && sp+=($T_STOP)
  done
  # the same swtpm and QEMU argv started directly, with the host prepared by hand as vxm
  # would (detach, node owners, hugepages), timed from exec to QMP answering 'cont'
  vxm start $VM --dry-run --json >$S/dry-run.json 2>>"$S/$cur.log" || { fail "vxm start --dry-run --json"; return; }
  python3 - $S/dry-run.json >$S/direct.env <<'PY'
import json, re, shlex, sys
d = json.load(open(sys.argv[1]))
q = ["qemu-system-x86_64"] + d["qemu"][1:]
qmp = next(m.group(1) for a in q for m in [re.search(r"path=([^,]*qmp[^,]*)", a)] if m)
nodes = sorted({m.group(1) for a in q for m in [re.search(r"evdev=(/dev/input/[^,]+)", a)] if m})
hp = d.get("hugepages") or {}
print("QARGV=(%s)" % " ".join(shlex.quote(a) for a in q))
print("TARGV=(%s)" % " ".join(shlex.quote(a) for a in d["swtpm"]))
print("QMPSOCK=%s" % shlex.quote(qmp))
print("EVNODES=(%s)" % " ".join(nodes))
print("HP_SIZE=%s HP_COUNT=%s HP_NODE=%s" % (hp.get("page_size") or 0, hp.get("count") or 0,
      "" if hp.get("node") in (None, -1) else hp.get("node")))
PY
  . $S/direct.env
  local grp kb hpfile hpold n qp tp
  grp=$(basename "$(readlink /sys/bus/pci/devices/$GPU/iommu_group)")
  kb=$(( HP_SIZE / 1024 ))
  if [ -n "$HP_NODE" ]; then hpfile=/sys/devices/system/node/node$HP_NODE/hugepages/hugepages-${kb}kB/nr_hugepages
  else hpfile=/sys/kernel/mm/hugepages/hugepages-${kb}kB/nr_hugepages; fi
  for i in 1 2; do
    check "detach by hand" run sudo timeout 60 vxm detach "$GPU"
    sudo chown lab "/dev/vfio/$grp" "${EVNODES[@]}"
    if [ "$HP_COUNT" -gt 0 ]; then hpold=$(cat $hpfile); sudo sh -c "echo $((hpold + HP_COUNT)) >$hpfile"; fi
    mkdir -p "$(dirname "$QMPSOCK")"; rm -f "$QMPSOCK"
    t0=$(now_ms)
    if [ ${#TARGV[@]} -gt 0 ]; then
      "${TARGV[@]}" >>$S/direct-swtpm.log 2>&1 &
      tp=$!
      for n in $(seq 200); do ls "$(dirname "$QMPSOCK")"/*swtpm* >/dev/null 2>&1 && break; sleep 0.05; done
    fi
    sudo prlimit --memlock=unlimited:unlimited setpriv --reuid=lab --regid=lab --init-groups -- \
      "${QARGV[@]}" >>$S/direct-qemu.log 2>&1 &
    for n in $(seq 600); do [ -S "$QMPSOCK" ] && break; sleep 0.05; done
    if QMP="$QMPSOCK" qmp cont >/dev/null 2>>"$S/$cur.log"; then
      dst+=($(( $(now_ms) - t0 )))
      t0=$(now_ms)
      QMP="$QMPSOCK" qmp quit >/dev/null 2>&1
      for n in $(seq 600); do pgrep -u lab -x qemu-system-x86_64 >/dev/null || break; sleep 0.05; done
      dq+=($(( $(now_ms) - t0 )))
    else
      fail "the direct QEMU did not answer QMP (see direct-qemu.log)"
      tail -n 5 $S/direct-qemu.log >>"$S/$cur.log"
      pkill -u lab -x qemu-system-x86_64
    fi
    [ -n "${tp:-}" ] && kill "$tp" 2>/dev/null
    sleep 1
    [ "$HP_COUNT" -gt 0 ] && sudo sh -c "echo $hpold >$hpfile"
    sudo chown root "/dev/vfio/$grp" "${EVNODES[@]}"
    check "reattach by hand" run sudo timeout 60 vxm reattach "$GPU"
  done
  {
    echo "Numbers from the lab's emulated workstation (QEMU TCG on this machine, nested KVM; variant $VARIANT), in ms:"
    echo "  vxm detach of the two-function card (sudo): ${det[*]}"
    echo "  vxm reattach of the two-function card (sudo): ${rea[*]}"
    echo "  vxm start to running (user, via vxmd): ${st[*]}"
    echo "  the same swtpm + QEMU argv started directly, to QMP cont answered: ${dst[*]}"
    echo "  vxm stop --force to the host restored: ${sp[*]}"
    echo "  QMP quit to QEMU gone (direct): ${dq[*]}"
  } | tee $out/numbers.txt >>"$S/$cur.log"
}

# ---------------------------------------------------------------------------------------
log "user $(id -un) ($(id -Gn)) in session ${XDG_SESSION_ID:-none}; scenarios: $SCENARIOS"
# The first QEMU with KVM after a boot took more than vxm's fixed 30 s to open its monitor
# socket on this emulated machine (its files and modules are read from a TCG-emulated disk
# the first time); later ones 2-4 s. One plain QEMU run first, outside any scenario, so the
# scenarios time vxm and not that first read.
warm_qemu() {
  local t0; t0=$(now_ms)
  timeout 120 qemu-system-x86_64 -machine q35,accel=kvm -m 64 -nodefaults -display none \
    -audiodev none,id=a -device ich9-intel-hda -S -qmp unix:/tmp/lab-warm.sock,server=on,wait=off \
    >/tmp/lab-warm.log 2>&1 &
  local p=$! i
  for i in $(seq 1200); do [ -S /tmp/lab-warm.sock ] && break; sleep 0.1; done
  QMP=/tmp/lab-warm.sock qmp quit >/dev/null 2>&1 || kill $p
  wait $p
  log "a first plain QEMU (KVM) ran in $(( $(now_ms) - t0 )) ms (warm-up, not a scenario)"
}
# 3 and 4 act on the VM that 2 starts
if ! wanted 2 && { wanted 3 || wanted 4; }; then SCENARIOS="$SCENARIOS 2"; fi
if [ "$BOOT" = 1 ]; then
  find_gpus
  if wanted 2 || wanted 5 || wanted numbers; then warm_qemu; fi
  wanted 1 && scenario "1-check-and-list" s1_check
  wanted 2 && scenario "2-start" s2_start
  wanted 3 && scenario "3-ctrl-ctrl" s3_ctrlctrl
  wanted 4 && scenario "4-stop" s4_stop
  [ -n "$(qemu_pid 2>/dev/null)" ] && vxm stop $VM --force >/dev/null 2>&1
  wanted 5 && scenario "5-kill-and-recover" s5_recover
  wanted 6 && scenario "6-held-vfio" s6_held
  wanted 7 && scenario "7-refusals" s7_refusals
  wanted numbers && scenario "numbers" s9_numbers
  wanted 8 && { cur=8-reboot; : >"$S/$cur.log"; s8_reboot; }
else
  wanted 8 && scenario "8-reboot" s8_reboot
fi
[ -n "$UINPUT_PID" ] && sudo kill "$UINPUT_PID"
log "done with boot $BOOT"
