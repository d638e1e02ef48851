// A V8 CPU profile of modload's own JavaScript during coldplug, for finding where its CPU time
// goes on the machine that matters (an emulated guest, where every instruction costs 10-50x).
// `modload.cpuprofile` on the kernel command line starts V8's sampling profiler before
// coldplug and, after it, prints the profile (Chrome's .cpuprofile JSON) to the console as
// base64 lines `modload-cpuprofile: CHUNK`, ended by `modload-cpuprofile: end BYTES`.
// bench/cpu-profile.ts boots a machine with it, puts the chunks together and sums self time
// per function. Off by default: the inspector is loaded only when asked for.
import type { Session } from 'node:inspector'

export const PROFILE_PREFIX = 'modload-cpuprofile: '
/** V8's sampling interval when the option gives none (µs) */
export const DEFAULT_INTERVAL_US = 1000
const CHUNK = 3000

export interface CpuProfiler {
  /** stops sampling and writes the profile with `write` (one console line per call) */
  stop(write: (line: string) => void): Promise<void>
}

function post(session: Session, method: string, params?: object): Promise<any> {
  return new Promise((done, fail) => session.post(method, params ?? {}, (err, res) => (err ? fail(err) : done(res))))
}

/** The sampling interval from `modload.cpuprofile[=MICROSECONDS]` (at least 50; else the
 * default). Pure. */
export function profileInterval(value: string | true | undefined): number {
  const n = typeof value === 'string' ? Number(value) : NaN
  return Number.isInteger(n) && n >= 50 ? n : DEFAULT_INTERVAL_US
}

/** Starts V8's profiler sampling every `intervalUs` µs of wall time. */
export async function startCpuProfile(intervalUs = DEFAULT_INTERVAL_US): Promise<CpuProfiler> {
  const inspector = process.getBuiltinModule('node:inspector')
  const session = new inspector.Session()
  session.connect()
  await post(session, 'Profiler.enable')
  await post(session, 'Profiler.setSamplingInterval', { interval: intervalUs })
  await post(session, 'Profiler.start')
  return {
    async stop(write) {
      const { profile } = await post(session, 'Profiler.stop')
      session.disconnect()
      const b64 = Buffer.from(JSON.stringify(profile)).toString('base64')
      for (let i = 0; i < b64.length; i += CHUNK) write(PROFILE_PREFIX + b64.slice(i, i + CHUNK))
      write(`${PROFILE_PREFIX}end ${b64.length}`)
    },
  }
}

/** The profile from a boot's console lines, or undefined when it is missing or cut short. Pure. */
export function profileFromLines(lines: readonly string[]): unknown {
  let b64 = ''
  for (const raw of lines) {
    const at = raw.indexOf(PROFILE_PREFIX)
    if (at < 0) continue
    const body = raw.slice(at + PROFILE_PREFIX.length).trim()
    const end = /^end (\d+)$/.exec(body)
    if (end) return b64.length === Number(end[1]) ? JSON.parse(Buffer.from(b64, 'base64').toString()) : undefined
    b64 += body
  }
  return undefined
}
