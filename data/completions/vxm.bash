# bash completion for vxm(1)                                       -*- shell-script -*-
#
# The tables below are the whole knowledge of vxm's command line: to teach the completion a
# new command, add its options to _vxm_options and, when it takes arguments, say what they are
# in _vxm_arguments. tests/test-completion.c checks these against `vxm --help` and each
# `vxm COMMAND --help`, so they cannot drift. Self-contained: needs no bash-completion helper.

# Options of each command, besides the common --root, --quiet and --help.
declare -gA _vxm_options=(
  [check]="--gpu --json"
  [config]="--show --json --set --unset --set-gpu --static-binding --keys"
  [detach]="--force --timeout --json"
  [display]="--probe --json --monitor --input"
  [fingerprint]="--json"
  [init]="--force --set --disk-size --virtio-iso --sha256 --json"
  [inputs]="--json"
  [list]="--json"
  [list-devices]="--json"
  [list-gpus]="--json"
  [monitors]="--json"
  [reattach]="--timeout --json"
  [recover]="--json"
  [reset]="--yes"
  [start]="--foreground --dry-run --json"
  [static-binding]="--json"
  [status]="--json"
  [stop]="--force --timeout --json"
  [version]=""
)

# What each command's arguments are, one kind per position: vm (a VM name), gpu (a GPU
# address), vm-or-gpu, or words:A|B|C for fixed words. Commands not listed take no argument
# (or a new name).
declare -gA _vxm_arguments=(
  [check]=vm
  [config]=vm
  [detach]=vm-or-gpu
  [display]="words:host|guest vm"
  [inputs]=vm
  [reattach]=vm-or-gpu
  [recover]=vm
  [reset]=vm
  [start]=vm
  [static-binding]="words:on|off|status vm-or-gpu"
  [status]=vm-or-gpu
  [stop]=vm
)

# What an option's value is: dir, file, gpu, key (a config key), words:A|B, or none (free
# text).
declare -gA _vxm_option_values=(
  [--root]=dir
  [--gpu]=gpu
  [--set-gpu]=gpu
  [--static-binding]="words:on|off"
  [--set]=key
  [--unset]=key
  [--disk-size]=none
  [--virtio-iso]=file
  [--sha256]=none
  [--timeout]=none
  [-t]=none
  [--monitor]=none
  [--input]="words:dp1|dp2|hdmi1|hdmi2|dvi1|dvi2|vga1"
)

# The config keys and their fixed values, as vxm itself lists them (`vxm config --keys`: a key,
# a tab, the values), so the completion follows the binary's key table.
_vxm_keys() {
  command vxm config --keys 2>/dev/null
}

# The VMs: every NAME.conf in $XDG_CONFIG_HOME/vxm/vms.
_vxm_vms() {
  local f dir=${XDG_CONFIG_HOME:-$HOME/.config}/vxm/vms
  for f in "$dir"/*.conf; do
    [[ -f $f ]] || continue
    f=${f##*/}
    printf '%s\n' "${f%.conf}"
  done
}

# The host root given with --root, or $VXM_ROOT, or /.
_vxm_root() {
  local root=${VXM_ROOT:-} i
  for ((i = 1; i < ${#_vxm_words[@]}; i++)); do
    case ${_vxm_words[i]} in
    --root) root=${_vxm_words[i + 1]:-} ;;
    --root=*) root=${_vxm_words[i]#--root=} ;;
    esac
  done
  printf '%s\n' "${root%/}"
}

# The GPUs (PCI class 0x03) of the host root; read straight from sysfs with builtins.
_vxm_gpus() {
  local root d class
  root=$(_vxm_root)
  for d in "$root"/sys/bus/pci/devices/*; do
    [[ -r $d/class ]] || continue
    read -r class <"$d/class" || continue
    [[ $class == 0x03* ]] && printf '%s\n' "${d##*/}"
  done
}

# The PCI devices that may go to a guest whole ([pci] extra): not a bridge, not a GPU or a
# function of a GPU's slot (vxm list-devices says which really can, and why not).
_vxm_pci_devices() {
  local root d class
  root=$(_vxm_root)
  for d in "$root"/sys/bus/pci/devices/*; do
    [[ -r $d/class ]] || continue
    read -r class <"$d/class" || continue
    [[ $class == 0x03* || $class == 0x0600* || $class == 0x0604* ]] && continue
    if [[ -r ${d%.*}.0/class ]]; then
      read -r class <"${d%.*}.0/class" || continue
      [[ $class == 0x03* ]] && continue
    fi
    printf '%s\n' "${d##*/}"
  done
}

# Adds the candidates starting with $cur to COMPREPLY. bash splits the word being completed at
# COMP_WORDBREAKS (the ':' of a PCI address, the '=' of --opt=value), so each reply is what
# follows the last such character.
_vxm_reply() {
  local cur=$1 prefix= c i
  shift
  for ((i = ${#cur} - 1; i >= 0; i--)); do
    if [[ $COMP_WORDBREAKS == *"${cur:i:1}"* ]]; then
      prefix=${cur:0:i+1}
      break
    fi
  done
  for c in "$@"; do
    [[ $c == "$cur"* ]] && COMPREPLY+=("${c#"$prefix"}")
  done
}

# Completes the value of option $1, typed so far as $2, after $3 ("--opt=" in the same word,
# else empty).
_vxm_complete_value() {
  local opt=$1 val=$2 lead=$3 cur=$3$2
  case ${_vxm_option_values[$opt]:-none} in
  dir)
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -d -- "$val")
    ;;
  file)
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$val")
    ;;
  gpu)
    mapfile -t _vxm_list < <(_vxm_gpus)
    _vxm_reply "$cur" "${_vxm_list[@]/#/$lead}"
    ;;
  key)
    local k v vals line keys=()
    if [[ $opt == --set && $val == *=* ]]; then
      # the value after KEY=: the key's fixed values (GPU addresses for gpu.address, PCI
      # devices for pci.extra); KEY may be a key only one group has
      k=${val%%=*}
      while IFS=$'\t' read -r line vals; do
        [[ $line == "$k" || $line == *".$k" ]] || continue
        for v in $vals; do keys+=("$lead$k=$v"); done
        if [[ $line == gpu.address ]]; then
          while read -r v; do keys+=("$lead$k=$v"); done < <(_vxm_gpus)
        fi
        if [[ $line == pci.extra ]]; then
          # a list: the addresses typed so far stay, the last one is completed
          local head=${val#*=}
          [[ $head == *,* ]] && head=${head%,*}, || head=
          while read -r v; do keys+=("$lead$k=$head$v"); done < <(_vxm_pci_devices)
        fi
        break
      done < <(_vxm_keys)
      _vxm_reply "$cur" "${keys[@]}"
      return
    fi
    while IFS=$'\t' read -r k vals; do
      [[ $opt == --set ]] && keys+=("$lead$k=") || keys+=("$lead$k")
    done < <(_vxm_keys)
    [[ $opt == --set ]] && compopt -o nospace 2>/dev/null
    _vxm_reply "$cur" "${keys[@]}"
    ;;
  words:*)
    local IFS='|' w words
    # shellcheck disable=SC2206
    words=(${_vxm_option_values[$opt]#words:})
    _vxm_reply "$cur" "${words[@]/#/$lead}"
    ;;
  esac
}

_vxm() {
  COMPREPLY=()
  # The words as typed, split at blanks only (COMP_WORDS is also split at ':' and '=').
  local line=${COMP_LINE:0:COMP_POINT} cur prev cmd
  read -r -a _vxm_words <<<"$line"
  if [[ $line == *[[:blank:]] || ${#_vxm_words[@]} -eq 0 ]]; then
    _vxm_words+=("")
  fi
  cur=${_vxm_words[-1]}
  prev=
  ((${#_vxm_words[@]} > 1)) && prev=${_vxm_words[-2]}

  if ((${#_vxm_words[@]} == 2)); then
    _vxm_reply "$cur" "${!_vxm_options[@]}" --help --version
    return 0
  fi
  cmd=${_vxm_words[1]}
  [[ -v "_vxm_options[$cmd]" ]] || return 0

  if [[ $cur == --*=* ]]; then
    _vxm_complete_value "${cur%%=*}" "${cur#*=}" "${cur%%=*}="
    return 0
  fi
  if [[ -n ${_vxm_option_values[$prev]:-} && $prev == --* ]]; then
    _vxm_complete_value "$prev" "$cur" ""
    return 0
  fi
  if [[ $cur == -* ]]; then
    # shellcheck disable=SC2086 # the option lists are space separated on purpose
    _vxm_reply "$cur" ${_vxm_options[$cmd]} --root --quiet --help
    return 0
  fi
  # which argument this is: the words after the command that are neither options nor their
  # values
  local kinds pos=0 i w
  read -r -a kinds <<<"${_vxm_arguments[$cmd]:-}"
  for ((i = 2; i < ${#_vxm_words[@]} - 1; i++)); do
    w=${_vxm_words[i]}
    if [[ $w == -* ]]; then
      [[ $w != *=* && -n ${_vxm_option_values[$w]:-} ]] && ((i++))
      continue
    fi
    ((pos++))
  done
  ((pos < ${#kinds[@]})) || return 0
  case ${kinds[pos]} in
  vm)
    mapfile -t _vxm_list < <(_vxm_vms)
    _vxm_reply "$cur" "${_vxm_list[@]}"
    ;;
  gpu)
    mapfile -t _vxm_list < <(_vxm_gpus)
    _vxm_reply "$cur" "${_vxm_list[@]}"
    ;;
  vm-or-gpu)
    mapfile -t _vxm_list < <(_vxm_vms; _vxm_gpus)
    _vxm_reply "$cur" "${_vxm_list[@]}"
    ;;
  words:*)
    local IFS='|'
    # shellcheck disable=SC2206
    local words=(${kinds[pos]#words:})
    _vxm_reply "$cur" "${words[@]}"
    ;;
  esac
  return 0
}

complete -F _vxm vxm
