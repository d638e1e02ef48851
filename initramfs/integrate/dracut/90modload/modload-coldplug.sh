#!/bin/sh
# modload's coldplug in dracut's pre-trigger hook (90modload, `modload integrate dracut`).
# Sourced by dracut (init.sh without systemd, dracut-pre-trigger with it) after udevd started
# and before `udevadm control --reload` and `udevadm trigger`. With the udev rule that loads
# drivers masked (module-setup.sh), `modload coldplug` loads the drivers of the present and
# appearing devices; the trigger then only makes udev's links and systemd's device units.
# The hook goes on as soon as root='s device is there (`--ready-fd`): coldplug goes on in the
# background, at the lowest CPU priority, and modload-stop.sh ends it before
# the switch to the root (modload_handover=early, default: what it has not started is left to
# the root's udev) or waits for it to settle (modload_handover=settled, or
# modload.handover=settled on the kernel command line). When coldplug ends without the root
# device (modload missing or failing, a root that needs more than drivers: LVM,
# /dev/disk/by-* names), the reason goes to the kernel log and the mask goes, so the trigger
# loads drivers as without modload. Failed loads are logged by modload.
# Sourced: no exit, variables prefixed.
command -v getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh

modload_udev=replace
# shellcheck disable=SC1091
[ -r /etc/modload-integration.conf ] && . /etc/modload-integration.conf

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

read -r modload_started _ < /proc/uptime
modload_ready=
if [ ! -x /usr/sbin/modload ]; then
    modload_rc=127
elif [ "$modload_udev" = beside ]; then
    /usr/sbin/modload coldplug --quiet > /dev/null 2>&1
    modload_rc=$?
else
    # modload's answer on descriptor 3: "ready" once the root device is there (coldplug goes
    # on in the background), or "exit CODE" when it ended first; the echo tells the process id
    modload_reply=$(/usr/sbin/modload coldplug --quiet --ready-fd 3 3>&1 > /dev/null 2>&1 < /dev/null & echo "pid $!")
    modload_pid=${modload_reply#pid }
    modload_pid=${modload_pid%%[!0-9]*}
    case "$modload_reply" in
        *ready*) modload_ready=y ;;
        *"exit "*)
            modload_rc=${modload_reply##*exit }
            modload_rc=${modload_rc%%[!0-9]*}
            ;;
        *) modload_rc=127 ;;
    esac
fi
read -r modload_settled _ < /proc/uptime

if [ -n "$modload_ready" ]; then
    echo "$modload_pid" > /run/modload-coldplug.pid
    modload_kmsg 5 "coldplug $modload_started-$modload_settled s (root device there; the rest goes on until cleanup); udev's driver loading off"
else
    modload_root_there
    modload_there=$?
    if [ "$modload_udev" = beside ]; then
        modload_kmsg 5 "coldplug $modload_started-$modload_settled s (exit $modload_rc); udev's trigger loads the rest"
    elif [ "$modload_there" -eq 0 ] || { [ "$modload_there" -eq 2 ] && [ "$modload_rc" -eq 0 ]; }; then
        [ "$modload_rc" -eq 0 ] || modload_kmsg 4 "modload coldplug: some loads failed (exit $modload_rc); the root device is there: udev's driver loading stays off"
        modload_kmsg 5 "coldplug $modload_started-$modload_settled s (exit $modload_rc); udev's driver loading off"
    else
        if [ "$modload_there" -eq 1 ]; then
            modload_kmsg 3 "root device $modload_root not found after modload coldplug (exit $modload_rc): udev loads drivers, as without modload"
        else
            modload_kmsg 3 "modload coldplug failed (exit $modload_rc): udev loads drivers, as without modload"
        fi
        rm -f /etc/udev/rules.d/80-drivers.rules
        # dracut reloads the rules after this hook; say it for any other caller too
        udevadm control --reload > /dev/null 2>&1 || :
    fi
fi
unset modload_started modload_settled modload_rc modload_there modload_root modload_ready modload_reply modload_pid
