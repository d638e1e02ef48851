#!/bin/bash
# modload's dracut module: driver loading by modload in dracut's initramfs, with systemd
# (dracut-pre-trigger.service) or without (dracut's own init.sh). Installed as
# /usr/lib/dracut/modules.d/90modload/ by `modload integrate dracut` (`--remove` deletes it),
# with /etc/dracut.conf.d/90-modload.conf, which adds this module to every image; @MODLOAD@
# is the executable it was installed for.
#
# The image gets the executable as /usr/sbin/modload, the modules and firmware modload's
# selection picks (`modload mkinitramfs`'s selectors, /etc/modload/mkinitramfs.conf; default
# host usb-host input) beside dracut's own, a pre-trigger hook that starts `modload coldplug`
# in the background before udev's trigger, and modload-stop.sh, which
# ends the rest of that coldplug before the switch to the root (modload-stop.service with
# systemd, a cleanup hook without). dracut's devices, its root and its initqueue still go
# through udev (systemd's device units and dracut's root wait are made by udev rules), so udev
# stays; what modload replaces is udev's coldplug loading: 80-drivers.rules, the rule that
# loads a module for each device's modalias as the trigger replays every device, is masked by
# an empty file of that name in /etc/udev/rules.d. When modload's coldplug ends without the
# root's device the hook's watcher removes the mask, reloads udev's rules and replays every
# device's "add": the stock path.
#
# Settings (dracut.conf, e.g. /etc/dracut.conf.d/90-modload.conf):
#   modload_udev=replace|beside   beside: the rule is not masked; modload loads first, udev's
#                                 trigger then loads whatever is left, as without modload
#   modload_args="..."            more `modload mkinitramfs` selection arguments
#   modload_runtime=main|early    early: the executable alone in dracut's uncompressed early
#                                 archive (the one CPU microcode goes in), in front of the
#                                 compressed image: the kernel copies it instead of
#                                 decompressing it (see 90-modload.conf); needs dracut's early
#                                 archive (early_microcode=yes, dracut's default), else main
#   modload_handover=early|settled  what modload-stop.sh does with a
#                                 coldplug still running in the background: stop it (early)
#                                 or wait for it to settle

MODLOAD=${MODLOAD:-@MODLOAD@}

# called by dracut
check() {
    [[ -x $MODLOAD ]] || {
        dwarn "modload: $MODLOAD is missing: no modload in this image (remove the module: modload integrate dracut --remove)"
        return 1
    }
    return 0
}

# called by dracut
depends() {
    echo udev-rules
    return 0
}

# called by dracut: modload's selection for this kernel ("module NAME", "firmware PATH",
# "rootdev NAME")
installkernel() {
    local selection kroot fw dir
    # dracut's module directory is ROOT/lib/modules/KVER (--kmoddir)
    kroot=${srcmods%%/lib/modules/*}
    # shellcheck disable=SC2086
    if ! selection=$("$MODLOAD" integrate dracut --selection -k "$kernel" --kernel-root "${kroot:-/}" -- $modload_args); then
        dwarn "modload: no selection from $MODLOAD (see above): only the modules dracut picked are in the image"
        return 0
    fi
    # shellcheck disable=SC2046
    hostonly='' instmods $(sed -n 's/^module //p' <<< "$selection")
    while read -r fw; do
        [[ $fw ]] || continue
        for dir in ${fw_dir//:/ }; do
            if [[ -e $dir/$fw ]]; then
                inst_simple "$dir/$fw" "/lib/firmware/$fw"
                break
            fi
        done
    done < <(sed -n 's/^firmware //p' <<< "$selection")
    # The drivers that make the root's disk appear ("rootdev NAME": the root's chain without
    # its file system) load first and alone, as initramfs-tools' hook has them: on a machine
    # with several SCSI/RAID adapters the root's own adapter then scans its bus first instead
    # of beside the others (steady clock, /init to the root's init: hba-mix with the root on its
    # LSI 7.27 -> 6.77 s, virtio 3.23 -> 3.13 s). Not the file system ("root NAME" lines): dracut's own units mount
    # the root and the kernel asks for its module then; loading ext4 first, at the usual
    # priority past "ready", made a steady-clock boot 0.2 s slower (virtio, 8.24 -> 8.45 s).
    local rootdev
    rootdev=$(sed -n 's/^rootdev //p' <<< "$selection")
    if [[ $rootdev ]]; then
        mkdir -p "$initdir/etc/modload" && echo "$rootdev" > "$initdir/etc/modload/root-modules"
    fi
    # the CPU's implementation of the module signature hash ("sighash HASH NAME"): modload
    # loads it before anything else without looking it up
    local sighash
    sighash=$(awk '$1 == "sighash" { h = $2; n = n " " $3 } END { if (h != "") print h n }' <<< "$selection")
    if [[ $sighash ]]; then
        mkdir -p "$initdir/etc/modload" && echo "$sighash" > "$initdir/etc/modload/signature-hash"
    fi
    return 0
}

# called by dracut
install() {
    local runtime=${modload_runtime:-main}
    case $runtime in
        main | early) ;;
        *)
            dwarn "modload: modload_runtime=$runtime: expected main or early; using main"
            runtime=main
            ;;
    esac
    # dracut's early archive (early_cpio_dir: dracut.sh's, made when early_microcode=yes or
    # acpi_override=yes) goes uncompressed in front of the image
    if [[ $runtime == early ]] && ! [[ ${early_cpio_dir-} && -d $early_cpio_dir ]]; then
        dwarn "modload: modload_runtime=early: dracut makes no early archive here (early_microcode=no?); the executable stays in the compressed image"
        runtime=main
    fi
    if [[ $runtime == main ]]; then
        inst_binary "$MODLOAD" /usr/sbin/modload
    else
        # the libraries now (dracut otherwise finds them at the end, from the binaries left in
        # the main archive), then the executable moves to the early one
        DRACUT_RESOLVE_DEPS=1 inst_binary "$MODLOAD" /usr/sbin/modload || return 1
        mkdir -p "$early_cpio_dir/d/usr/sbin" || return 1
        mv "$initdir/usr/sbin/modload" "$early_cpio_dir/d/usr/sbin/modload" || return 1
        create_early_cpio=yes
    fi
    inst_multiple blkid
    inst_hook pre-trigger 01 "$moddir/modload-coldplug.sh"
    # the end of the background coldplug: a unit of its own with systemd (a cleanup hook would
    # make dracut-pre-pivot.service run, which the image without modload skips), else the hook
    if dracut_module_included "systemd"; then
        inst_simple "$moddir/modload-stop.sh" /usr/lib/modload/modload-stop.sh
        inst_simple "$moddir/modload-stop.service" "$systemdsystemunitdir/modload-stop.service"
        $SYSTEMCTL -q --root "$initdir" add-wants initrd.target modload-stop.service
    else
        inst_hook cleanup 99 "$moddir/modload-stop.sh"
    fi
    if [[ ${modload_udev:-replace} != beside ]]; then
        mkdir -p "$initdir/etc/udev/rules.d"
        : > "$initdir/etc/udev/rules.d/80-drivers.rules"
    fi
    case ${modload_handover:-early} in
        early | settled) ;;
        *)
            dwarn "modload: modload_handover=$modload_handover: expected early or settled; using early"
            modload_handover=early
            ;;
    esac
    printf 'modload_udev=%s\nmodload_handover=%s\n' "${modload_udev:-replace}" "${modload_handover:-early}" > "$initdir/etc/modload-integration.conf"
}
