// Logging for init and the coldplug hook. Every console line starts with "modload:" so tests,
// benchmarks and people can pick our lines out of the kernel's; the same lines go to the
// kernel's log through /dev/kmsg with a syslog level ("<6>modload: ..."), so dmesg and the
// journal of the booted system show them. Writes are synchronous (the console is where PID 1
// says why it is stuck) and their errors dropped: a missing console must not kill init.
//
// Levels: error (kmsg 3), warn (4), info (6), detail (6: kmsg always, console only with
// modload.debug: long lists such as devices without a driver), debug (7: only with
// modload.debug, on both).
import { fstatSync, openSync, readFileSync, statSync, writeSync } from 'node:fs'

/** How long the console gets to write out init's last lines before a power off, reboot or
 * halt: they sit in the tty's buffer while the kernel's own message goes to the UART directly,
 * and the machine can stop first (seen under TCG: the tail of a line lost). */
export const CONSOLE_DRAIN_MS = 300

export type Level = 'error' | 'warn' | 'info' | 'detail' | 'debug'

/** A log line; without a level it is info (the form every older caller uses). */
export type Log = (line: string, level?: Level) => void

const PRIORITY: Record<Level, number> = { error: 3, warn: 4, info: 6, detail: 6, debug: 7 }

export interface LogOptions {
  /** console file descriptor; null for none */
  console?: number | null
  /** /dev/kmsg opened for writing, or null */
  kmsg?: number | null
  debug?: boolean
  /** only lines of this syslog priority or more urgent go to kmsg (default 7: all) */
  kmsgMaxPriority?: number
  /** the kernel's console_loglevel when our console IS the kernel's console (PID 1): lines
   * it will print from kmsg itself are not written twice */
  kernelConsoleLevel?: number
}

function put(fd: number, text: string): void {
  try {
    writeSync(fd, text)
  } catch {
    // nowhere to say it
  }
}

export function makeLog(opts: LogOptions): Log {
  const consoleFd = opts.console === undefined ? 1 : opts.console
  const debug = !!opts.debug
  const kmsgMax = opts.kmsgMaxPriority ?? 7
  return (line, level = 'info') => {
    if (level === 'debug' && !debug) return
    const toKmsg = opts.kmsg != null && PRIORITY[level] <= kmsgMax
    const echoed = toKmsg && opts.kernelConsoleLevel !== undefined && PRIORITY[level] < opts.kernelConsoleLevel
    if (consoleFd !== null && (debug || level !== 'detail') && !echoed) put(consoleFd, `modload: ${line}\n`)
    // kmsg takes one record per write; a newline inside would end the record early
    if (toKmsg) put(opts.kmsg as number, `<${PRIORITY[level]}>modload: ${line.replaceAll('\n', ' ')}\n`)
  }
}

/** Console only (fd 1), as before /dev is mounted. */
export function consoleLog(fd = 1): Log {
  return makeLog({ console: fd })
}

/** console_loglevel from /proc/sys/kernel/printk's first field, or undefined. */
export function consoleLoglevel(path = '/proc/sys/kernel/printk'): number | undefined {
  try {
    const n = Number(readFileSync(path, 'latin1').trim().split(/\s+/)[0])
    return Number.isInteger(n) ? n : undefined
  } catch {
    return undefined
  }
}

/** Whether `fd` writes to the kernel's console (/dev/console), where the kernel itself prints
 * kmsg lines above console_loglevel. */
export function isKernelConsole(fd: number, consolePath = '/dev/console'): boolean {
  try {
    const a = fstatSync(fd)
    return a.isCharacterDevice() && a.rdev === statSync(consolePath).rdev
  } catch {
    return false
  }
}

/** /dev/kmsg for writing, or null when there is none (no devtmpfs, no permission). */
export function openKmsg(path = '/dev/kmsg'): number | null {
  try {
    return openSync(path, 'w')
  } catch {
    return null
  }
}
