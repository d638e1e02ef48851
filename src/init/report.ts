// What coldplug says: one line per load outcome as it happens ("loaded NAME ms=T" in the
// kernel log, "failed NAME: ..." on the console too, which the boot tests read), and the report at the
// end: load times, failures with their errno and what they mean, hung loads, devices that no
// driver matched, total time; and whether the kernel oopsed in a module's init meanwhile
// (oopsDuring). Pure formatting over a Log.
import { explain } from '../load/explain.js'
import { InsertError } from '../load/insert.js'
import type { LoadResult } from '../load/loader.js'
import { SysError } from '../sys/syscalls.js'
import { HandedOverError, type ColdplugReport } from './coldplug.js'
import type { Log } from './log.js'

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
      if (e instanceof HandedOverError) return `left to the root ${r.name}: ${e.message}`
      if (e instanceof SysError) {
        const x = explain(e.code, r.path ?? e.path, e.errno, e.syscall)
        // insert.ts knows more about the file than the errno says (it is not an ELF object)
        const hint = e instanceof InsertError ? `${e.hint}; ${x.hint}` : x.hint
        return `failed ${r.name}: ${e.code} (${x.text}): ${hint} [${r.path ?? e.path ?? ''}]`
      }
      return `failed ${r.name}: ${e?.message ?? 'unknown error'}`
    }
  }
}

/** The level a load outcome is logged at. A load that worked, or that found no hardware to
 * drive (ENODEV/ENXIO: the normal end of a speculative load), is detail: /dev/kmsg always
 * (dmesg), the console only with modload.debug, where a serial console would spend a line's
 * worth of time per module and the summary line says the same. */
export function levelOf(r: LoadResult): 'detail' | 'warn' | 'error' {
  if (r.status === 'failed') return harmless(r) || leftToRoot(r) ? 'detail' : 'error'
  return r.status === 'skipped' ? 'warn' : 'detail'
}

export function count(report: ColdplugReport, status: LoadResult['status']): number {
  return report.results.filter((r) => r.status === status).length
}

/** ENODEV/ENXIO from a module's init: the driver found nothing to drive. Pure. */
export function nothingToDrive(code: string): boolean {
  return code === 'ENODEV' || code === 'ENXIO'
}

/** A load that ended in nothingToDrive, the normal end of a speculative load (cpufreq and EDAC
 * drivers matched through the CPU's modalias on most virtual machines). */
export function harmless(r: LoadResult): boolean {
  return r.status === 'failed' && r.error instanceof SysError && nothingToDrive(r.error.code)
}

/** A load that did not start because the image had been handed over to the root (its file was
 * gone): the root's loader's to do, not a failure. */
export function leftToRoot(r: LoadResult): boolean {
  return r.status === 'failed' && r.error instanceof HandedOverError
}

/** Loads that failed for real: not harmless, nor left to the root, nor skipped only because of
 * one of those. */
export function realFailures(report: ColdplugReport): LoadResult[] {
  const benign = new Set<string>()
  const out: LoadResult[] = []
  // a skip is recorded after the failure it follows from, so one pass settles chains
  for (const r of report.results) {
    if (harmless(r) || leftToRoot(r) || (r.status === 'skipped' && r.because !== undefined && benign.has(r.because))) benign.add(r.name)
    else if (r.status === 'failed' || r.status === 'skipped') out.push(r)
  }
  return out
}

/** Nothing failed for real, nothing hung, nothing left waiting: the hook's exit code 0. */
export function succeeded(report: ColdplugReport): boolean {
  // stopped early on purpose: what was still queued is the real root's to load
  return realFailures(report).length === 0 && report.hung.length === 0 && (report.stoppedEarly || report.blocked.length === 0)
}

/** TAINT_DIE, 'D': the kernel sets it on every oops (die()) and never clears it. */
export const TAINT_DIE = 1 << 7

/** What the kernel says around coldplug, read by the caller (system.ts). */
export interface OopsEvidence {
  /** /proc/sys/kernel/tainted before and after coldplug; null when it could not be read */
  taintedBefore: number | null
  taintedAfter: number | null
  /** modules /proc/modules shows in state Loading after coldplug: their init never returned */
  loading: readonly string[]
}

/** An oops during coldplug; `module` when it can be pinned on one load. */
export interface Oops {
  module?: string
  /** the loads still in the kernel when coldplug stopped */
  inFlight: string[]
}

/** /proc/sys/kernel/tainted's number, or null. */
export function parseTainted(text: string | null): number | null {
  const m = /^\s*(\d+)\s*$/.exec(text ?? '')
  return m ? Number(m[1]) : null
}

/**
 * Did the kernel oops during coldplug, and in whose init? A task that oopses is killed, so a
 * load whose thread oopsed never returns: coldplug sees it as hung, and the module stays in
 * /proc/modules as Loading. The oops is known from TAINT_DIE newly set; it is pinned on a module
 * when exactly one load was still in flight, or when exactly one of them is stuck in Loading (a
 * load whose init waits forever is Loading too, so with two such loads it stays unnamed).
 */
export function oopsDuring(report: Pick<ColdplugReport, 'hung'>, e: OopsEvidence): Oops | null {
  if (e.taintedAfter === null || (e.taintedAfter & TAINT_DIE) === 0) return null
  if (e.taintedBefore !== null && (e.taintedBefore & TAINT_DIE) !== 0) return null // oopsed before: cannot tell a new one
  const inFlight = report.hung.map((h) => h.name)
  const stuck = inFlight.filter((n) => e.loading.includes(n))
  const module = inFlight.length === 1 ? inFlight[0] : stuck.length === 1 ? stuck[0] : undefined
  return module === undefined ? { inFlight } : { module, inFlight }
}

/** Lines of at most `width` characters joining `items` with ", ". */
function wrap(prefix: string, items: string[], width = 200): string[] {
  const out: string[] = []
  let cur = ''
  for (const it of items) {
    if (cur && prefix.length + cur.length + 2 + it.length > width) {
      out.push(prefix + cur)
      cur = ''
    }
    cur = cur ? `${cur}, ${it}` : it
  }
  if (cur) out.push(prefix + cur)
  return out
}

/** `oops`: what oopsDuring found, if anything. */
export function printReport(log: Log, report: ColdplugReport, oops: Oops | null = null): void {
  const loaded = report.results.filter((r) => r.status === 'loaded').sort((a, b) => (b.ms ?? 0) - (a.ms ?? 0))
  const leftBehind = report.results.filter(leftToRoot)
  for (const l of wrap('report loaded: ', loaded.map((r) => `${r.name} ${(r.ms ?? 0).toFixed(1)} ms`))) log(l, 'detail')
  // (a load left to the root is named in the "left to the root" line below)
  for (const r of report.results) if ((r.status === 'failed' && !leftToRoot(r)) || r.status === 'skipped') log(`report ${describe(r)}`, levelOf(r))
  if (oops?.module !== undefined) {
    log(`report oops ${oops.module}: the kernel oopsed in its init (see dmesg); the load never returns and the module stays half-loaded (Loading) until reboot`, 'error')
  } else if (oops) {
    const during = oops.inFlight.length ? ` while ${oops.inFlight.join(', ')} ${oops.inFlight.length === 1 ? 'was' : 'were'} loading` : ''
    log(`report oops: the kernel oopsed during coldplug${during} (see dmesg)`, 'error')
  }
  const hung = report.hung.filter((h) => h.name !== oops?.module)
  for (const h of hung) log(`report hung ${h.name}: init still running after ${(h.ms / 1000).toFixed(1)} s (stays in the kernel's hands; see dmesg)`, 'error')
  if (report.stoppedEarly) {
    const why = report.stoppedBy === 'stop' ? 'asked to stop' : report.stoppedBy === 'handed-over' ? "the image's files were gone" : 'modload.handover=early'
    const left = [...leftBehind.map((r) => r.name), ...report.blocked.map((b) => b.name)]
    for (const l of wrap(`report left to the root (${why}): `, left)) log(l, 'info')
  } else {
    // a load that waited on nothing was ready, behind the loads in flight (the limit on them)
    const ready = report.timedOut ? 'ready to start when modload.timeout came' : 'queued behind the loads in flight'
    for (const b of report.blocked) log(`report not started ${b.name}: ${b.on.length ? `waiting for ${b.on.join(', ')}` : ready}`, 'error')
  }
  for (const c of report.commands) log(`report not run: install command for ${c.module} (${c.command})`, 'warn')
  for (const b of report.blacklisted) log(`report blacklisted ${b.module} (wanted by ${b.alias})`, 'detail')
  for (const a of report.unmatched) log(`no driver for ${a}`, 'detail')
  if (report.timedOut) log(`report: stopped waiting after ${(report.ms / 1000).toFixed(1)} s (modload.timeout)`, 'warn')
  log(
    `coldplug done events=${report.events} scans=${report.scans} loaded=${loaded.length} ` +
      `failed=${count(report, 'failed') - leftBehind.length + count(report, 'skipped') + (hung.length < report.hung.length ? 1 : 0)} hung=${hung.length} ` +
      `unmatched=${report.unmatched.length} ms=${report.ms.toFixed(1)}`,
  )
}
