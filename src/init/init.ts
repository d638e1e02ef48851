// modload as PID 1: mount the kernel filesystems, coldplug the drivers for the hardware that
// is present, report, and then halt (modload.halt) or wait. PID 1 must never exit, since that
// panics the kernel: every failure is logged and the program stays up.
import { readFileSync, readdirSync } from 'node:fs'
import { release } from 'node:os'
import { performance } from 'node:perf_hooks'
import { parseCmdline, flag, type Cmdline } from '../format/cmdline.js'
import { parseProcModules } from '../format/proc-modules.js'
import { openModuleDb } from '../core/moddb-fs.js'
import { coldplug } from './coldplug.js'
import { scanModaliases } from './sysfs.js'
import { explain } from '../load/explain.js'
import type { LoadResult } from '../load/loader.js'
import type { Log } from './log.js'
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, REBOOT, SysError, type Sys } from '../sys/syscalls.js'
import { PROC_CMDLINE, PROC_MODULES, PROC_UPTIME, SYS_CLASS_BLOCK, SYS_CLASS_NET, SYS_DEVICES, SYS_MODULE_COMPRESSION } from '../paths.js'

const MOUNTS: [string, string, string, number, string | null][] = [
  ['proc', '/proc', 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC, null],
  ['sysfs', '/sys', 'sysfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, null],
  ['devtmpfs', '/dev', 'devtmpfs', MS_NOSUID, 'mode=0755'],
  ['tmpfs', '/run', 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=0755'],
]

export function uptime(): string {
  try {
    return readFileSync(PROC_UPTIME, 'latin1').split(' ')[0]
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

export function liveModules(): string[] {
  return parseProcModules(readOr(PROC_MODULES, '')).map((m) => m.name)
}

function mountAll(sys: Sys, log: Log, mounts: typeof MOUNTS): void {
  for (const [src, target, type, flags, data] of mounts) {
    try {
      sys.mount(src, target, type, flags, data)
    } catch (err) {
      // EBUSY: already mounted (we run as a hook, or the kernel mounted devtmpfs itself)
      if (!(err instanceof SysError && err.code === 'EBUSY')) log(`warning: mount ${type} on ${target}: ${(err as Error).message}`)
    }
  }
}

export function describe(r: LoadResult): string {
  const ms = r.ms === undefined ? '' : ` ms=${r.ms.toFixed(1)}`
  switch (r.status) {
    case 'loaded':
      return `loaded ${r.name}${ms}`
    case 'live':
      return `live-already ${r.name}${ms}`
    case 'skipped':
      return `skipped ${r.name}: dependency ${r.because} failed`
    case 'failed': {
      const e = r.error
      if (e instanceof SysError) {
        const x = explain(e.code, r.path ?? e.path)
        return `failed ${r.name}: ${e.code} (${x.text}): ${x.hint} [${r.path ?? e.path ?? ''}]`
      }
      return `failed ${r.name}: ${e?.message ?? 'unknown error'}`
    }
  }
}

async function coldplugOnce(sys: Sys, log: Log, cmdline: Cmdline): Promise<void> {
  const kver = release()
  const t0 = performance.now()
  const db = openModuleDb('/', kver)
  log(`index kver=${kver} modules=${db.modules.size} aliases=${db.aliases.size} ms=${(performance.now() - t0).toFixed(1)}`)
  const compression = readOr(SYS_MODULE_COMPRESSION, '').trim() || null
  const report = await coldplug({
    db,
    sys,
    live: new Set(liveModules()),
    failed: new Map(),
    kernelCompression: compression,
    now: () => performance.now(),
    scan: () => scanModaliases(SYS_DEVICES).map((d) => d.modalias),
    onResult: (r) => log(describe(r)),
    params: (name) => (cmdline.moduleParams.get(name) ?? []).join(' '),
  })
  const count = (s: string): number => report.results.filter((r) => r.status === s).length
  if (flag(cmdline, 'modload.debug')) for (const a of report.unmatched) log(`no driver for ${a}`)
  log(
    `coldplug done passes=${report.passes} loaded=${count('loaded')} failed=${count('failed') + count('skipped')} ` +
      `unmatched=${report.unmatched.length} ms=${(performance.now() - t0).toFixed(1)}`,
  )
}

/** Keep PID 1 alive forever, repeating why every minute. */
function idle(log: Log, why: string): void {
  log(why)
  setInterval(() => log(why), 60_000)
}

export async function runInit(sys: Sys, log: Log): Promise<void> {
  // /proc first and quietly: the start line needs /proc/uptime and must be the first line
  const warnings: string[] = []
  mountAll(sys, (l) => warnings.push(l), MOUNTS.slice(0, 1))
  log(`start uptime=${uptime()}`)
  for (const w of warnings) log(w)
  mountAll(sys, log, MOUNTS.slice(1))
  const cmdline = parseCmdline(readOr(PROC_CMDLINE, ''))
  try {
    await coldplugOnce(sys, log, cmdline)
  } catch (err) {
    log(`error: coldplug stopped: ${(err as Error).message}`)
  }
  if (flag(cmdline, 'modload.halt')) {
    // what the drivers made of the hardware: network interfaces and block devices
    for (const n of list(SYS_CLASS_NET)) log(`net ${n}`)
    for (const b of list(SYS_CLASS_BLOCK)) log(`block ${b}`)
    for (const name of liveModules()) log(`live ${name}`)
    log(`halt uptime=${uptime()}`)
    try {
      sys.sync()
      sys.reboot(REBOOT.POWER_OFF)
    } catch (err) {
      log(`error: power off failed: ${(err as Error).message}`)
    }
    idle(log, 'halted: power off failed, waiting')
    return
  }
  idle(log, 'coldplug finished; no root hand-over is configured in this build (boot with modload.halt to power off)')
}
