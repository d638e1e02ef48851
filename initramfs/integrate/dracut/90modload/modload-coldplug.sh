#!/bin/sh
# modload's coldplug in dracut's pre-trigger hook (90modload, `modload integrate dracut`).
# Sourced by dracut (init.sh without systemd, dracut-pre-trigger with it) after udevd started
# and before `udevadm control --reload` and `udevadm trigger`. Started earlier, with systemd's
# first units, modload shared the one CPU with systemd's own chain (dracut-cmdline, udevd,
# the trigger) that dracut's root wait goes through: on a steady clock the root's init came
# 0.06 s sooner on the virtio machine and 0.15 s later on q35. With the udev rule that loads
# drivers masked (module-setup.sh), `modload coldplug` loads the drivers of the present and
# appearing devices; the trigger then only makes udev's links and systemd's device units.
#
# modload_udev=replace (default): the hook starts `modload coldplug` in the background and
# returns at once, so udev's trigger and the rest of the boot go on while modload starts and
# loads; the root device's uevents then reach udev as in the image without modload, and
# dracut's own root wait ends as there. A watcher waits for modload's answer (`--ready-fd`):
# "ready" once root='s device is there (coldplug goes on at the lowest CPU priority, and with
# handover early only on the CPUs the boot leaves idle, until
# modload-stop.sh ends it before the switch to the root: modload_handover=early, default, what
# it has not started is left to the root's udev; or waits for it to settle:
# modload_handover=settled, or modload.handover=settled on the kernel command line). When
# coldplug ends without the root device (modload missing or failing, a root that needs more
# than drivers: LVM, /dev/disk/by-* names), the reason goes to the kernel log, the mask goes
# and udev replays every device's "add" with its rules reloaded: the stock path, later.
# modload_udev=beside: `modload coldplug` runs to the end here, then udev's trigger loads
# whatever is left. Failed loads are logged by modload.
# Sourced: no exit, variables and functions prefixed.
command -v getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh

modload_udev=replace
modload_handover=early
# shellcheck disable=SC1091
[ -r /etc/modload-integration.conf ] && . /etc/modload-integration.conf
# what modload-stop.sh will do with a coldplug still running (the same rule as there): early
# stops it, so its loads yield the CPU to the boot; settled waits for it, so they share the CPU
case " $(cat /proc/cmdline 2> /dev/null) " in
    *" modload.handover=settled "*) modload_handover=settled ;;
    *" modload.handover=early "*) modload_handover=early ;;
esac
[ "$modload_handover" = settled ] || modload_handover=early

modload_kmsg() {
    echo "<$1>modload: dracut: $2" > /dev/kmsg 2> /dev/null || echo "modload: $2" >&2
}

# 0: the root device is there; 1: it is not; 2: nothing to check
modload_root_there() {
    modload_root=$(getarg root=)
    case "$modload_root" in
        UUID=* | LABEL=* | PARTUUID=* | PARTLABEL=*)
            [ -n "$(blkid -l -t "$modload_root" -o device 2> /dev/null)" ]
            ;;
        /dev/*) [ -e "$modload_root" ] ;;
        *) return 2 ;;
    esac
}

# after coldplug ended (exit code $1) without saying ready: keep udev's driver loading off if
# the root device is there, else give it back to udev
modload_after() {
    modload_root_there
    modload_there=$?
    if [ "$modload_there" -eq 0 ] || { [ "$modload_there" -eq 2 ] && [ "$1" -eq 0 ]; }; then
        [ "$1" -eq 0 ] || modload_kmsg 4 "modload coldplug: some loads failed (exit $1); the root device is there: udev's driver loading stays off"
        modload_kmsg 5 "coldplug $modload_started-$modload_settled s (exit $1); udev's driver loading off"
        return 0
    fi
    if [ "$modload_there" -eq 1 ]; then
        modload_kmsg 3 "root device $modload_root not found after modload coldplug (exit $1): udev loads drivers, as without modload"
    else
        modload_kmsg 3 "modload coldplug failed (exit $1): udev loads drivers, as without modload"
    fi
    rm -f /etc/udev/rules.d/80-drivers.rules
    udevadm control --reload > /dev/null 2>&1 || :
    return 1
}

# the background side of modload_udev=replace: start coldplug, leave its process id in
# /run/modload-coldplug.pid for modload-stop.sh at once (the root may be mounted before the
# answer is read), then wait for the answer on descriptor 3: "ready", or "exit CODE" when it
# ended first; nothing when it could not start
modload_watch() {
    modload_reply=$(/usr/sbin/modload coldplug --quiet --ready-fd 3 --handover "$modload_handover" 3>&1 > /dev/null 2>&1 < /dev/null &
        echo "$!" > /run/modload-coldplug.pid
        echo "pid $!")
    read -r modload_settled _ < /proc/uptime
    case "$modload_reply" in
        *ready*)
            modload_kmsg 5 "coldplug $modload_started-$modload_settled s (root device there; the rest goes on until cleanup); udev's driver loading off"
            return 0
            ;;
        *"exit "*)
            modload_rc=${modload_reply##*exit }
            modload_rc=${modload_rc%%[!0-9]*}
            ;;
        *) modload_rc=127 ;;
    esac
    rm -f /run/modload-coldplug.pid
    # the trigger has run by now: replay every device with udev's loading rule back
    modload_after "$modload_rc" || udevadm trigger --type=devices --action=add > /dev/null 2>&1 || :
}

read -r modload_started _ < /proc/uptime
if [ ! -x /usr/sbin/modload ]; then
    modload_settled=$modload_started
    modload_after 127
elif [ "$modload_udev" = beside ]; then
    /usr/sbin/modload coldplug --quiet > /dev/null 2>&1
    modload_rc=$?
    read -r modload_settled _ < /proc/uptime
    modload_kmsg 5 "coldplug $modload_started-$modload_settled s (exit $modload_rc); udev's trigger loads the rest"
else
    modload_watch < /dev/null > /dev/null 2>&1 &
fi
unset modload_rc
