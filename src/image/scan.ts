// "Which drivers does this machine need?": each device of the host facts (host.ts), its
// modalias resolved against the TARGET kernel's indexes with kmod's lookup (lookup.ts: modprobe.d
// aliases first, then modules.alias, then the built-ins), and each module found given a state:
//
//   builtin     in the target's modules.builtin (nothing to load or copy)
//   loaded      a module file of the target (modules.dep) that the host has loaded
//   available   a module file of the target that the host has not loaded
//   none        not in the target kernel at all (a modprobe.d alias to a missing module, or a
//               module the host has that the target lacks)
//
// A device whose modalias resolves to nothing has no module and state none. Pure: facts, the
// module database and the configuration in, rows out; `modload scan` (tools/scan.ts) prints
// them, tests feed fake facts.
import { lookupNames } from '../core/lookup.js'
import type { ModuleDb } from '../core/moddb.js'
import type { ModprobeConfig } from '../config/modprobe-conf.js'
import type { HostFacts } from './host.js'

export type ModuleState = 'loaded' | 'builtin' | 'available' | 'none'

export interface ScanModule {
  name: string
  state: ModuleState
}

export interface ScanRow {
  path: string
  modalias: string
  /** the module of the driver bound now (else the driver's name), null when unbound */
  bound: string | null
  /** what the modalias resolves to, kmod's order; empty when nothing matches */
  modules: ScanModule[]
}

export interface ScanSummary {
  devices: number
  /** devices whose modalias matched no module */
  unmatched: number
  /** distinct modules the devices resolve to */
  modules: number
  loaded: number
  builtin: number
  available: number
  /** modules named by a lookup that the target kernel lacks */
  missing: number
  /** loaded modules no device resolves to (filesystems, dm, crypto, ...), sorted */
  otherLoaded: string[]
}

export function moduleState(db: ModuleDb, loaded: ReadonlySet<string>, name: string): ModuleState {
  if (db.builtin.has(name)) return 'builtin'
  if (db.modules.has(name)) return loaded.has(name) ? 'loaded' : 'available'
  return 'none'
}

export function scanRows(facts: Pick<HostFacts, 'devices' | 'loaded'>, db: ModuleDb, config: ModprobeConfig | null): ScanRow[] {
  const loaded = new Set(facts.loaded)
  return facts.devices.map((d) => ({
    path: d.path,
    modalias: d.modalias,
    bound: d.module ?? d.driver ?? null,
    modules: lookupNames(db, config, d.modalias).map((name) => ({ name, state: moduleState(db, loaded, name) })),
  }))
}

export function summarize(rows: readonly ScanRow[], facts: Pick<HostFacts, 'loaded'>): ScanSummary {
  const states = new Map<string, ModuleState>()
  for (const r of rows) for (const m of r.modules) states.set(m.name, m.state)
  const count = (s: ModuleState): number => [...states.values()].filter((x) => x === s).length
  return {
    devices: rows.length,
    unmatched: rows.filter((r) => r.modules.length === 0).length,
    modules: states.size,
    loaded: count('loaded'),
    builtin: count('builtin'),
    available: count('available'),
    missing: count('none'),
    otherLoaded: facts.loaded.filter((m) => !states.has(m)).sort(),
  }
}

export function summaryLine(s: ScanSummary): string {
  return (
    `${s.devices} devices (${s.unmatched} without a driver), ${s.modules} modules needed: ` +
    `${s.loaded} loaded, ${s.builtin} built in, ${s.available} available, ${s.missing} not in the target kernel; ` +
    `${s.otherLoaded.length} more loaded modules match no device`
  )
}

const cell = (r: ScanRow): string => (r.modules.length ? r.modules.map((m) => `${m.name} (${m.state})`).join(', ') : '(none)')

/** Cells longer than this overflow their column instead of widening it for every row: a CPU's
 * modalias resolves to a dozen modules, a 300-character cell. */
const MAX_ALIGNED = 48

/** One device a line, columns aligned; the modalias last, since a CPU's runs to a kilobyte. */
export function formatTable(rows: readonly ScanRow[]): string {
  const table = [['DEVICE', 'BOUND', 'MODULES', 'MODALIAS'], ...rows.map((r) => [r.path, r.bound ?? '-', cell(r), r.modalias])]
  const widths = [0, 1, 2].map((i) => Math.max(...table.map((row) => (row[i].length <= MAX_ALIGNED || i === 0 ? row[i].length : 0))))
  return table.map((row) => row.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c)).join('  ')).join('\n') + '\n'
}

/** The rows as JSON, keys in a fixed order: path, modalias, bound, modules [{ name, state }]. */
export function formatJson(rows: readonly ScanRow[]): string {
  const plain = rows.map((r) => ({ path: r.path, modalias: r.modalias, bound: r.bound, modules: r.modules.map((m) => ({ name: m.name, state: m.state })) }))
  return JSON.stringify(plain, null, 2) + '\n'
}
