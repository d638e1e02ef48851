// What coldplug says: one line per load outcome as it happens ("loaded NAME ms=T" in the
// kernel log, "failed NAME: ..." on the console too, which the boot tests read), and the report at the
// end: load times, failures with their errno and what they mean, hung loads, devices that no
// driver matched, total time. Pure formatting over a Log.
import { explain } from '../load/explain.js'
import type { LoadResult } from '../load/loader.js'
import { SysError } from '../sys/syscalls.js'
import type { ColdplugReport } from './coldplug.js'
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
      if (e instanceof SysError) {
        const x = explain(e.code, r.path ?? e.path)
        return `failed ${r.name}: ${e.code} (${x.text}): ${x.hint} [${r.path ?? e.path ?? ''}]`
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
  if (r.status === 'failed') return harmless(r) ? 'detail' : 'error'
  return r.status === 'skipped' ? 'warn' : 'detail'
}

export function count(report: ColdplugReport, status: LoadResult['status']): number {
  return report.results.filter((r) => r.status === status).length
}

/** ENODEV/ENXIO: the driver found nothing to drive, the normal end of a speculative load
 * (cpufreq and EDAC drivers matched through the CPU's modalias on most virtual machines). */
export function harmless(r: LoadResult): boolean {
  return r.status === 'failed' && r.error instanceof SysError && (r.error.code === 'ENODEV' || r.error.code === 'ENXIO')
}

/** Loads that failed for real: not harmless, nor skipped only because of a harmless one. */
export function realFailures(report: ColdplugReport): LoadResult[] {
  const benign = new Set<string>()
  const out: LoadResult[] = []
  // a skip is recorded after the failure it follows from, so one pass settles chains
  for (const r of report.results) {
    if (harmless(r) || (r.status === 'skipped' && r.because !== undefined && benign.has(r.because))) benign.add(r.name)
    else if (r.status === 'failed' || r.status === 'skipped') out.push(r)
  }
  return out
}

/** Nothing failed for real, nothing hung, nothing left waiting: the hook's exit code 0. */
export function succeeded(report: ColdplugReport): boolean {
  // stopped early on purpose: what was still queued is the real root's to load
  return realFailures(report).length === 0 && report.hung.length === 0 && (report.stoppedEarly || report.blocked.length === 0)
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

export function printReport(log: Log, report: ColdplugReport): void {
  const loaded = report.results.filter((r) => r.status === 'loaded').sort((a, b) => (b.ms ?? 0) - (a.ms ?? 0))
  for (const l of wrap('report loaded: ', loaded.map((r) => `${r.name} ${(r.ms ?? 0).toFixed(1)} ms`))) log(l, 'detail')
  for (const r of report.results) if (r.status === 'failed' || r.status === 'skipped') log(`report ${describe(r)}`, levelOf(r))
  for (const h of report.hung) log(`report hung ${h.name}: init still running after ${(h.ms / 1000).toFixed(1)} s (stays in the kernel's hands; see dmesg)`, 'error')
  if (report.stoppedEarly) {
    for (const l of wrap('report left to the root (modload.handover=early): ', report.blocked.map((b) => b.name))) log(l, 'info')
  } else for (const b of report.blocked) log(`report not started ${b.name}: waiting for ${b.on.join(', ')}`, 'error')
  for (const c of report.commands) log(`report not run: install command for ${c.module} (${c.command})`, 'warn')
  for (const b of report.blacklisted) log(`report blacklisted ${b.module} (wanted by ${b.alias})`, 'detail')
  for (const a of report.unmatched) log(`no driver for ${a}`, 'detail')
  if (report.timedOut) log(`report: stopped waiting after ${(report.ms / 1000).toFixed(1)} s (modload.timeout)`, 'warn')
  log(
    `coldplug done events=${report.events} scans=${report.scans} loaded=${loaded.length} ` +
      `failed=${count(report, 'failed') + count(report, 'skipped')} hung=${report.hung.length} ` +
      `unmatched=${report.unmatched.length} ms=${report.ms.toFixed(1)}`,
  )
}
