// modload as PID 1, in steps: mount the kernel filesystems; coldplug the drivers for the
// hardware, present and appearing (system.ts, coldplug.ts); hand over to the real root; or,
// with modload.halt, list what was found and power off. PID 1 must never exit, since that
// panics the kernel: every failure is logged and the program stays up.
import { msSinceStart } from '../sys/lazy.js'
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { parseCmdline, flag, type Cmdline } from '../format/cmdline.js'
import { cmdlineWarnings, coldplugSystem, liveModules, openSystemModules, settingsFromCmdline, type OpenedModules } from './system.js'
import { modaliasesSeen, type ColdplugReport } from './coldplug.js'
import { CONSOLE_DRAIN_MS, consoleLoglevel, makeLog, openKmsg, type Log } from './log.js'
import { MODLOAD_MODPROBE, registerModprobeHelper } from '../load/helper.js'
import { FORWARD_DIR, parseRequest, serveRequest, startForwarding, type Forwarding } from '../load/forward.js'
import type { ProbeInsertContext } from '../load/insert.js'
import { rootRequested, runHandOver } from './root/run.js'
import { readImageCmdline } from './cmdline-file.js'
import { profileInterval, startCpuProfile } from './cpu-profile.js'
import { emitCapture } from '../image/capture.js'
import { rootMountinfo } from './root/devices.js'
import { parseRootOptions } from './root/options.js'
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, REBOOT, SysError, type Sys } from '../sys/syscalls.js'
import { PROC_CMDLINE, PROC_UPTIME, SYS_CLASS_BLOCK, SYS_CLASS_NET, SYS_MODULE } from '../paths.js'

export { describe } from './report.js'
export { liveModules }

const MOUNTS: [string, string, string, number, string | null][] = [
  ['proc', '/proc', 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC, null],
  ['sysfs', '/sys', 'sysfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, null],
  ['devtmpfs', '/dev', 'devtmpfs', MS_NOSUID, 'mode=0755'],
  ['tmpfs', '/run', 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=0755'],
]

/** `U idle=I` from /proc/uptime: the guest clock and the CPUs' idle time, so a marker says
 * both how long a step took and how much of it the CPU was busy. */
export function uptime(): string {
  try {
    const [up, idle] = readFileSync(PROC_UPTIME, 'latin1').trim().split(' ')
    return idle === undefined ? up : `${up} idle=${idle}`
  } catch {
    return '?'
  }
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'latin1')
  } catch {
    return fallback
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort()
  } catch {
    return []
  }
}

/** Something is mounted on `dir` already: it lies on another device than its parent. */
function isMountPoint(dir: string): boolean {
  try {
    return statSync(dir).dev !== statSync(dirname(dir)).dev
  } catch {
    return false
  }
}

function mountAll(sys: Sys, log: Log, mounts: typeof MOUNTS): void {
  for (const [src, target, type, flags, data] of mounts) {
    // a filesystem put there before us (an rdinit= wrapper, a hook's caller) is kept: a second
    // tmpfs on /run would hide what is in the first, not add to it
    if (isMountPoint(target)) {
      log(`${target}: already mounted, kept`)
      continue
    }
    try {
      sys.mount(src, target, type, flags, data)
    } catch (err) {
      // EBUSY: already mounted (we run as a hook, or the kernel mounted devtmpfs itself)
      if (!(err instanceof SysError && err.code === 'EBUSY')) log(`warning: mount ${type} on ${target}: ${(err as Error).message}`, 'warn')
    }
  }
}

/** Keep PID 1 alive forever, repeating why every minute. */
function idle(log: Log, why: string): void {
  log(why)
  setInterval(() => log(why), 60_000)
}

/** The kernel rate-limits /dev/kmsg writers to 10 lines per 5 s unless told otherwise; systemd
 * as PID 1 turns that off too, and our report is longer than 10 lines. */
function unlimitKmsg(): void {
  try {
    writeFileSync('/proc/sys/kernel/printk_devkmsg', 'on\n')
  } catch {
    // a kernel without the knob does not limit
  }
}

/** Coldplug; its report, or undefined when it stopped on an error. */
async function coldplugStep(sys: Sys, log: Log, cmdline: Cmdline, cmdlineText: string, opened?: OpenedModules): Promise<ColdplugReport | undefined> {
  let report: ColdplugReport | undefined
  try {
    report = await coldplugSystem(sys, log, settingsFromCmdline(cmdline), cmdlineText, opened)
  } catch (err) {
    log(`error: coldplug stopped: ${(err as Error).message}`, 'error')
  }
  log(`settled uptime=${uptime()}`)
  return report
}

/** Power off after coldplug (modload.halt), listing what the drivers made of the hardware. */
async function halt(sys: Sys, log: Log): Promise<void> {
  for (const n of list(SYS_CLASS_NET)) log(`net ${n}`)
  for (const b of list(SYS_CLASS_BLOCK)) log(`block ${b}`)
  for (const name of liveModules()) log(`live ${name}`)
  log(`halt uptime=${uptime()}`)
  // our lines are still in the console's tty buffer; the kernel's "reboot: Power down" goes
  // to the UART directly and would land in the middle of them (seen under TCG)
  await new Promise((r) => setTimeout(r, CONSOLE_DRAIN_MS))
  try {
    sys.sync()
    sys.reboot(REBOOT.POWER_OFF)
  } catch (err) {
    log(`error: power off failed: ${(err as Error).message}`, 'error')
  }
  idle(log, 'halted: power off failed, waiting')
}

/** Serve the kernel's module requests from this process (load/forward.ts); undefined when the
 * executable has no forwarding helper or it cannot be installed. */
async function forwardKernelRequests(sys: Sys, log: Log, opened: OpenedModules): Promise<Forwarding | undefined> {
  if (sys.modprobeForward === undefined) return undefined
  // like coldplug, init runs no modprobe.d install command, whoever asks
  const ctx: ProbeInsertContext = { db: opened.db, sys: () => sys, sysModule: SYS_MODULE, report: { log() {}, error() {}, info() {}, show() {} }, noCommands: true }
  const answer = async (args: string[]): Promise<number> => {
    const req = parseRequest(args)
    if ('error' in req) {
      log(`kernel module request "${args.join(' ')}": ${req.error}`, 'warn')
      return 1
    }
    const r = await serveRequest(ctx, opened.config, req.names[0])
    log(`kernel request ${req.names[0]}: ${r.status === 0 ? 'ok' : 'failed'}${r.messages.length ? ` (${r.messages.join('; ')})` : ''}`, 'detail')
    return r.status
  }
  try {
    return await startForwarding(sys.modprobeForward, answer, (path) => registerModprobeHelper(path))
  } catch (err) {
    // the kernel's helper stays its default, which an image does not have: its requests fail
    // (request_module returns -ENOENT) until the Node helper is registered after coldplug
    log(`warning: cannot install the forwarding helper in ${FORWARD_DIR} (${(err as Error).message}): the kernel's module requests fail until coldplug is done, then go to ${MODLOAD_MODPROBE}`, 'warn')
    return undefined
  }
}

/** The capture's mount table with root=: the root device's line (undefined: the live one). */
function captureMountinfo(cmdlineText: string): string | undefined {
  const opts = parseRootOptions(cmdlineText)
  return opts.root ? rootMountinfo(opts.root, opts.fstypes) : undefined
}

export async function runInit(sys: Sys, consoleOnly: Log): Promise<void> {
  // /proc first and quietly: the start line needs /proc/uptime and must be the first line
  const warnings: string[] = []
  mountAll(sys, (l) => warnings.push(l), MOUNTS.slice(0, 1))
  // how long the runtime took to reach our first line (Node's start-up: not in the uptimes)
  const startupMs = msSinceStart()
  consoleOnly(`start uptime=${uptime()}`)
  for (const w of warnings) consoleOnly(w)
  mountAll(sys, consoleOnly, MOUNTS.slice(1))
  // the image's default words (mkinitramfs.conf "cmdline") first: the boot loader's win
  const cmdlineText = readImageCmdline(readOr(PROC_CMDLINE, ''))
  const cmdline = parseCmdline(cmdlineText)
  unlimitKmsg()
  // our console is the kernel's: what it prints from kmsg (errors, with "quiet") we do not repeat
  const log = makeLog({ console: 1, kmsg: openKmsg(), debug: flag(cmdline, 'modload.debug'), kernelConsoleLevel: consoleLoglevel() })
  for (const w of cmdlineWarnings(cmdline)) log(`warning: kernel command line: ${w}`, 'warn')
  const cpu = process.cpuUsage()
  log(`runtime start-up ms=${startupMs.toFixed(0)} cpu user_ms=${(cpu.user / 1000).toFixed(0)} system_ms=${(cpu.system / 1000).toFixed(0)}`, 'detail')

  const profiler = flag(cmdline, 'modload.cpuprofile') ? await startCpuProfile(profileInterval(cmdline.params.get('modload.cpuprofile'))).catch((err: Error) => void log(`warning: modload.cpuprofile: ${err.message}`, 'warn')) : undefined

  // read once, for coldplug and the hand-over; a failure is reported by coldplug's own attempt
  let opened: OpenedModules | undefined
  try {
    opened = openSystemModules(log, cmdlineText)
  } catch {
    opened = undefined
  }
  // the kernel's own module requests (crypto algorithms, HDA's generic codec, ...) go to this
  // process from now on, through the tiny forwarding helper; without it, the Node modprobe
  // serves them, registered only after coldplug (a start-up per request made settle 4-5x
  // slower under TCG)
  const forwarding = opened ? await forwardKernelRequests(sys, log, opened) : undefined
  const report = await coldplugStep(sys, log, cmdline, cmdlineText, opened)
  await profiler?.stop(consoleOnly).catch((err: Error) => log(`warning: modload.cpuprofile: ${err.message}`, 'warn'))
  if (forwarding === undefined) {
    try {
      registerModprobeHelper()
    } catch (err) {
      log(`warning: cannot register the kernel's module helper: ${(err as Error).message}`, 'warn')
    }
  }

  // the machine's /sys, as console lines, for host-only images built elsewhere (qemu/capture.ts)
  // with root=: as the root will be mounted, so images built from it know the root's chain
  if (flag(cmdline, 'modload.capture')) emitCapture(consoleOnly, { procSelfMountinfo: captureMountinfo(cmdlineText) })
  if (flag(cmdline, 'modload.halt')) return halt(sys, log)

  // Root hand-over (src/init/root/) goes here: mount root= and exec its init, or say what is
  // missing and act on modload.onfail.
  if (rootRequested(cmdlineText)) return void (await runHandOver(sys, log, cmdlineText, opened, report && modaliasesSeen(report)))
  idle(log, 'coldplug finished; no root= on the kernel command line, nothing to hand over to (boot with modload.halt to power off)')
}
