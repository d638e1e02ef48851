// The kernel's module helper: the program the kernel runs as `PATH -q -- NAME` when it wants a
// module it has none for (request_module: fs-*, crypto-*, net-pf-*, char-major-*, devname:...).
// Set through /proc/sys/kernel/modprobe. While init runs, the helper is the tiny forwarding
// program of load/forward.ts, which hands each request to init; this Node modprobe is the
// fallback, registered only once coldplug is done: a start-up per request made coldplug 4-5x
// slower under TCG, and starting the Node executable while initcalls were still running
// oopsed the 6.1 kernel, which is why images ship no /sbin/modprobe (the kernel's default)
// and keep the tool links in /usr/lib/modload/ (src/initramfs/mkinitramfs.ts TOOL_LINKS).
import { readFileSync, writeFileSync } from 'node:fs'

export const PROC_SYS_KERNEL_MODPROBE = '/proc/sys/kernel/modprobe'
export const MODLOAD_MODPROBE = '/usr/lib/modload/modprobe'
/** The kernel's default (CONFIG_MODPROBE_PATH). The setting outlives the initramfs: the root
 * hand-over must put this back before exec'ing the real init, whose root has no
 * /usr/lib/modload (else the kernel's module requests fail silently until something resets it). */
export const KERNEL_DEFAULT_MODPROBE = '/sbin/modprobe'

/**
 * Point the kernel's module helper at `path`. Throws Node's fs error (path, code) when
 * /proc is not mounted or the kernel has no CONFIG_MODULES; `file` is injectable for tests.
 */
export function registerModprobeHelper(path = MODLOAD_MODPROBE, file = PROC_SYS_KERNEL_MODPROBE): void {
  // the kernel takes the string up to the first newline; write exactly one line
  writeFileSync(file, `${path}\n`)
}

/** The helper the kernel runs now, or null when it cannot be read. */
export function currentModprobeHelper(file = PROC_SYS_KERNEL_MODPROBE): string | null {
  try {
    return readFileSync(file, 'latin1').trim()
  } catch {
    return null
  }
}
