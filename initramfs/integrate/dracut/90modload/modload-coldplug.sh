#!/bin/sh
# modload's coldplug in dracut's pre-trigger hook (90modload, `modload integrate dracut`).
# Sourced by dracut (init.sh without systemd, dracut-pre-trigger with it) after udevd started
# and before `udevadm control --reload` and `udevadm trigger`. With the udev rule that loads
# drivers masked (module-setup.sh), `modload coldplug` loads the drivers of the present and
# appearing devices and returns once settled; the trigger then only makes udev's links and
# systemd's device units. When the root device is not there afterwards (modload missing or
# failing, a root that needs more than drivers: LVM, /dev/disk/by-* names), the reason goes to
# the kernel log and the mask goes, so the trigger loads drivers as without modload. Loads that
# failed while the root device is there are logged by modload and the boot goes on.
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
if [ -x /usr/sbin/modload ]; then
    /usr/sbin/modload coldplug --quiet > /dev/null 2>&1
    modload_rc=$?
else
    modload_rc=127
fi
read -r modload_settled _ < /proc/uptime

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
unset modload_started modload_settled modload_rc modload_there modload_root
