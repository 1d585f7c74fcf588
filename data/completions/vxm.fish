# fish completion for vxm(1).
#
# One line per command option, each naming its command with __fish_seen_subcommand_from.
# tests/test-completion.c checks them against `vxm COMMAND --help`, so a new command or option
# fails the tests until it is added here.

function __vxm_vms
    set -l dir $HOME/.config
    set -q XDG_CONFIG_HOME; and set dir $XDG_CONFIG_HOME
    for f in $dir/vxm/vms/*.conf
        basename $f .conf
    end
end

# The GPUs (PCI class 0x03) under the host root (--root, $VXM_ROOT or /), read from sysfs.
function __vxm_gpus
    set -l root
    set -q VXM_ROOT; and set root $VXM_ROOT
    set -l words (commandline -opc)
    for i in (seq (count $words))
        switch $words[$i]
            case --root
                set root $words[(math $i + 1)]
            case '--root=*'
                set root (string replace -- --root= '' $words[$i])
        end
    end
    set root (string replace -r '/$' '' -- $root)
    for d in $root/sys/bus/pci/devices/*
        test -r $d/class; or continue
        read -l class <$d/class
        string match -q '0x03*' -- $class; and basename $d
    end
end

# The PCI devices that may go to a guest whole ([pci] extra): not a bridge, not a GPU or a
# function of a GPU's slot (vxm list-devices says which really can, and why not).
function __vxm_pci_devices
    set -l root
    set -q VXM_ROOT; and set root $VXM_ROOT
    set -l words (commandline -opc)
    for i in (seq (count $words))
        switch $words[$i]
            case --root
                set root $words[(math $i + 1)]
            case '--root=*'
                set root (string replace -- --root= '' $words[$i])
        end
    end
    set root (string replace -r '/$' '' -- $root)
    for d in $root/sys/bus/pci/devices/*
        test -r $d/class; or continue
        read -l class <$d/class
        string match -q -r '^0x(03|0600|0604)' -- $class; and continue
        set -l fn0 (string replace -r '\.[0-7]$' '.0' -- $d)
        if test -r $fn0/class
            read -l class0 <$fn0/class
            string match -q '0x03*' -- $class0; and continue
        end
        basename $d
    end
end

# The config keys and their fixed values as vxm itself lists them (`vxm config --keys`: a key,
# a tab, the values), so the completion follows the binary's key table.
function __vxm_config_keys
    command vxm config --keys 2>/dev/null | string replace -r '\t.*' ''
end

# After --set: KEY= for each key, and once the word has KEY=, KEY's values (GPU addresses for
# gpu.address); KEY may be a key only one group has.
function __vxm_config_set
    set -l word (commandline -ct | string replace -r '^--set=' '')
    if not string match -q -- '*=*' $word
        __vxm_config_keys | string replace -r '$' '='
        return
    end
    set -l key (string split -m 1 = -- $word)[1]
    command vxm config --keys 2>/dev/null | while read -l line
        set -l parts (string split -m 1 \t -- $line)
        if test "$parts[1]" = "$key"; or string match -q -- "*.$key" $parts[1]
            for v in (string split ' ' -- $parts[2])
                test -n "$v"; and echo $key=$v
            end
            if test "$parts[1]" = gpu.address
                for g in (__vxm_gpus)
                    echo $key=$g
                end
            end
            if test "$parts[1]" = pci.extra
                # a list: the addresses typed so far stay, the last one is completed
                set -l head (string match -r -- '^.*,' (string split -m 1 = -- $word)[2])
                for d in (__vxm_pci_devices)
                    echo $key=$head$d
                end
            end
            break
        end
    end
end

set -l vxm_commands check config detach display fingerprint init inputs list list-devices list-gpus monitors reattach recover reset start static-binding status stop version

complete -c vxm -f
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -l version -d 'Print the version'
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -l help -d 'Show help'
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a check -d 'Check that this machine can give its second GPU to a guest'
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a config -d "Show or change a VM's settings"
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a detach -d "Give a GPU's IOMMU group to vfio-pci by hand"
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a display -d "Switch the monitor to the host's or the guest's input"
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a fingerprint -d "Show this machine's DMI identity (what smbios = host gives a guest)"
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a init -d 'Create a VM: disk, UEFI variables, TPM state, config'
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a inputs -d 'List keyboards and mice, and whether a VM takes them'
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a list -d 'List the VMs with their state, guest GPU and disk'
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a list-devices -d "List the PCI devices and which can go to a guest whole"
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a list-gpus -d "List the GPUs and which can be the guest's"
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a monitors -d 'List connectors, their monitors (EDID) and DDC buses'
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a reattach -d "Give a GPU's devices back to their original drivers"
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a recover -d 'Undo what a crashed or killed vxm left changed on the host'
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a reset -d "Remove a VM's files after confirmation"
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a start -d 'Start a VM'
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a static-binding -d 'Bind the guest GPU to vfio-pci at boot'
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a status -d "Show where the guest GPU's devices are bound, and why"
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a stop -d 'Stop a VM and restore the host'
complete -c vxm -n "not __fish_seen_subcommand_from $vxm_commands" -a version -d "Print vxm's version"

# Options every command takes.
complete -c vxm -n "__fish_seen_subcommand_from $vxm_commands" -l root -r -a '(__fish_complete_directories)' -d "Folder that stands for the host's /"
complete -c vxm -n "__fish_seen_subcommand_from $vxm_commands" -s q -l quiet -d 'Print only errors'
complete -c vxm -n "__fish_seen_subcommand_from $vxm_commands" -s h -l help -d 'Show help'

complete -c vxm -n "__fish_seen_subcommand_from check" -l gpu -x -a '(__vxm_gpus)' -d 'Check this GPU as the guest GPU'
complete -c vxm -n "__fish_seen_subcommand_from check" -l json -d 'Print JSON'
complete -c vxm -n "__fish_seen_subcommand_from check" -a '(__vxm_vms)'

complete -c vxm -n "__fish_seen_subcommand_from detach" -a '(__vxm_vms; __vxm_gpus)'
complete -c vxm -n "__fish_seen_subcommand_from detach" -s f -l force -d 'Go ahead although an AMD or Intel card is in use'
complete -c vxm -n "__fish_seen_subcommand_from detach" -s t -l timeout -x -d 'Time limit for an unbind (seconds)'
complete -c vxm -n "__fish_seen_subcommand_from detach" -l json -d 'Print the outcome as JSON'

complete -c vxm -n "__fish_seen_subcommand_from config" -a '(__vxm_vms)'
complete -c vxm -n "__fish_seen_subcommand_from config" -l show -d 'Print every key with what auto becomes'
complete -c vxm -n "__fish_seen_subcommand_from config" -l json -d 'With --show: print JSON'
complete -c vxm -n "__fish_seen_subcommand_from config" -l set -x -a '(__vxm_config_set)' -d 'Set KEY=VALUE'
complete -c vxm -n "__fish_seen_subcommand_from config" -l unset -x -a '(__vxm_config_keys)' -d 'Remove KEY so its default applies'
complete -c vxm -n "__fish_seen_subcommand_from config" -l set-gpu -x -a '(__vxm_gpus)' -d 'Set the guest GPU'
complete -c vxm -n "__fish_seen_subcommand_from config" -l keys -d 'List every key and the fixed values it takes'
complete -c vxm -n "__fish_seen_subcommand_from config" -l static-binding -x -a 'on off' -d 'Bind the guest GPU to vfio-pci at boot'

complete -c vxm -n "__fish_seen_subcommand_from init" -l force -d 'Replace an existing VM'
complete -c vxm -n "__fish_seen_subcommand_from init" -l set -x -a '(__vxm_config_set)' -d 'Set a config key first'
complete -c vxm -n "__fish_seen_subcommand_from init" -l disk-size -x -d 'Size of the new disk'
complete -c vxm -n "__fish_seen_subcommand_from init" -l virtio-iso -r -F -d 'virtio-win ISO: URL or file'
complete -c vxm -n "__fish_seen_subcommand_from init" -l sha256 -x -d 'SHA-256 of the ISO'
complete -c vxm -n "__fish_seen_subcommand_from init" -l json -d 'Print the outcome as JSON'

complete -c vxm -n "__fish_seen_subcommand_from list" -l json -d 'Print JSON'

complete -c vxm -n "__fish_seen_subcommand_from list-devices" -l json -d 'Print JSON'
complete -c vxm -n "__fish_seen_subcommand_from list-gpus" -l json -d 'Print JSON'
complete -c vxm -n "__fish_seen_subcommand_from fingerprint" -l json -d 'Print JSON'

complete -c vxm -n "__fish_seen_subcommand_from reattach" -a '(__vxm_vms; __vxm_gpus)'
complete -c vxm -n "__fish_seen_subcommand_from reattach" -s t -l timeout -x -d 'Time limit for each unbind and probe (seconds)'
complete -c vxm -n "__fish_seen_subcommand_from reattach" -l json -d 'Print the outcome as JSON'

complete -c vxm -n "__fish_seen_subcommand_from recover" -a '(__vxm_vms)'
complete -c vxm -n "__fish_seen_subcommand_from recover" -l json -d 'Print JSON'

complete -c vxm -n "__fish_seen_subcommand_from reset" -a '(__vxm_vms)'
complete -c vxm -n "__fish_seen_subcommand_from reset" -s y -l yes -d 'Do not ask'

complete -c vxm -n "__fish_seen_subcommand_from start" -a '(__vxm_vms)'
complete -c vxm -n "__fish_seen_subcommand_from start" -l foreground -d 'Stay attached; stop the guest on Ctrl+C'
complete -c vxm -n "__fish_seen_subcommand_from start" -s n -l dry-run -d 'Show what would run; change nothing'
complete -c vxm -n "__fish_seen_subcommand_from start" -l json -d 'With --dry-run: print JSON'

complete -c vxm -n "__fish_seen_subcommand_from static-binding; and not __fish_seen_subcommand_from on off status" -a 'on off status'
complete -c vxm -n "__fish_seen_subcommand_from static-binding; and __fish_seen_subcommand_from on off status" -a '(__vxm_vms; __vxm_gpus)'
complete -c vxm -n "__fish_seen_subcommand_from static-binding" -l json -d 'status: print JSON'

complete -c vxm -n "__fish_seen_subcommand_from status" -a '(__vxm_vms; __vxm_gpus)'
complete -c vxm -n "__fish_seen_subcommand_from status" -l json -d 'Print JSON'

complete -c vxm -n "__fish_seen_subcommand_from stop" -a '(__vxm_vms)'
complete -c vxm -n "__fish_seen_subcommand_from stop" -s f -l force -d 'Quit QEMU at once'
complete -c vxm -n "__fish_seen_subcommand_from stop" -s t -l timeout -x -d 'Seconds the guest gets to shut down'
complete -c vxm -n "__fish_seen_subcommand_from stop" -l json -d 'Print the outcome as JSON'

complete -c vxm -n "__fish_seen_subcommand_from monitors" -l json -d 'Print JSON'

complete -c vxm -n "__fish_seen_subcommand_from display; and not __fish_seen_subcommand_from host guest" -a 'host guest'
complete -c vxm -n "__fish_seen_subcommand_from display; and __fish_seen_subcommand_from host guest" -a '(__vxm_vms)'
complete -c vxm -n "__fish_seen_subcommand_from display" -l probe -d 'Read the input the monitor shows now'
complete -c vxm -n "__fish_seen_subcommand_from display" -l json -d 'With --probe: print JSON'
complete -c vxm -n "__fish_seen_subcommand_from display" -l monitor -x -d "The monitor instead of the VM's"
complete -c vxm -n "__fish_seen_subcommand_from display" -l input -x -a 'dp1 dp2 hdmi1 hdmi2 dvi1 dvi2 vga1' -d 'The input to switch to'

complete -c vxm -n "__fish_seen_subcommand_from inputs" -a '(__vxm_vms)'
complete -c vxm -n "__fish_seen_subcommand_from inputs" -l json -d 'Print JSON'
