#!/bin/sh
# modload's end in a dracut image (90modload, `modload integrate dracut`), just before the
# switch to the root: a coldplug that the pre-trigger hook left running in the background
# (the root device was there before it settled) is asked to end (SIGTERM: nothing new starts,
# the loads in flight finish in the kernel and the process ends after them; what had not
# started is the root's udev's to load, as after udevd's own stop) or, with
# modload_handover=settled (or modload.handover=settled on the kernel command line), waited for
# until it settles. With systemd modload-stop.service runs it (sh modload-stop.sh), without
# it dracut's cleanup hook sources it: no exit, variables prefixed, nothing of dracut-lib.

modload_handover=early
# shellcheck disable=SC1091
[ -r /etc/modload-integration.conf ] && . /etc/modload-integration.conf
case " $(cat /proc/cmdline 2>/dev/null) " in
    *" modload.handover=settled "*) modload_handover=settled ;;
    *" modload.handover=early "*) modload_handover=early ;;
esac

if [ -r /run/modload-coldplug.pid ]; then
    read -r modload_pid < /run/modload-coldplug.pid
    rm -f /run/modload-coldplug.pid
    read -r modload_asked _ </proc/uptime
    if [ "$modload_handover" = settled ]; then
        # modload gives a hung load up after 5 s, and its coldplug ends by modload.timeout (60 s)
        modload_n=0
        while [ -n "$modload_pid" ] && kill -0 "$modload_pid" 2>/dev/null; do
            modload_n=$((modload_n + 1))
            if [ "$modload_n" -gt 700 ]; then
                echo "<4>modload: dracut: coldplug (pid $modload_pid) still running after 70 s: going on" >/dev/kmsg 2>/dev/null
                break
            fi
            sleep 0.1
        done
        read -r modload_now _ </proc/uptime
        echo "<5>modload: dracut: coldplug waited for from $modload_asked s, ended by $modload_now s" >/dev/kmsg 2>/dev/null
    else
        # as udev's own stop: the loads in flight finish in the kernel (and the process ends
        # after them, at the lowest CPU priority), nothing new starts; not waited for
        kill -TERM "$modload_pid" 2>/dev/null
        echo "<5>modload: dracut: coldplug asked to stop at $modload_asked s" >/dev/kmsg 2>/dev/null
    fi
fi
unset modload_pid modload_asked modload_n modload_now
