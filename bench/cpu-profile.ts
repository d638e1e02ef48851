// `node build/run.mjs bench/cpu-profile.ts` (npm run bench:cpu-profile): where modload's own
// JavaScript spends its CPU during coldplug, on the guest, under TCG. Builds a readable
// variant of the executable (build.mjs --readable: names and lines kept), boots each machine
// with `modload.cpuprofile` (src/init/cpu-profile.ts: V8's sampling profiler from before the
// index is opened until coldplug ends) and prints self time per function and per source file,
// most first. The profile is kept as .cache/cpu-profile/MACHINE-DATE.cpuprofile for Chrome's
// DevTools (Performance, load profile); `--from FILE` sums up a kept one again.
//
// Read it with care: the profiler samples wall time, so a function that blocks in a system
// call (a synchronous read, a load) is charged for the kernel's time too, and "(idle)" is the
// event loop waiting (for loads, uevents, timers); with one vCPU a load's kernel work, in a
// thread-pool thread, preempts the main thread inside the native call that queued it. The
// shim's native functions all show as `exitNow` (V8 names N-API callbacks after the last one
// made): read them by their caller. Sampling itself costs guest CPU: the coldplug runs slower
// than in the boot benchmark. What it found: docs/cpu-profile.md.
//
// Environment: BENCH_PROFILE_MACHINES (default virtio), BENCH_PROFILE_KERNEL (6.1),
// BENCH_PROFILE_TOP (rows per table, default 25), BENCH_PROFILE_INTERVAL_US (default 1000).
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { run } from '../qemu/exec.js'
import { ensureImage } from '../qemu/artefacts.js'
import { allKernelFlavors, ensureKernel, type KernelFlavor } from '../qemu/kernels.js'
import { machineNames } from '../qemu/machines.js'
import { cacheDir, projectRoot } from '../qemu/paths.js'
import { bootColdplug, coldplugSeconds } from '../initramfs/coldplug-run.js'
import { DEFAULT_INTERVAL_US, profileFromLines } from '../src/init/cpu-profile.js'

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children?: number[] }[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

export interface ProfileRow {
  name: string
  ms: number
  share: number
}

/** Source files of a readable esbuild bundle by line: esbuild heads each module with a
 * `// src/x.ts` comment. Returns the file of a 0-based line. Pure. */
export function bundleFiles(bundle: string): (line: number) => string {
  const starts: [number, string][] = []
  bundle.split('\n').forEach((l, i) => {
    const m = /^\/\/ ((?:src|node_modules)\/\S+\.[cm]?[jt]s)$/.exec(l)
    if (m) starts.push([i, m[1]])
  })
  return (line) => {
    let lo = 0
    let hi = starts.length - 1
    let found = '(bundle)'
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (starts[mid][0] <= line) {
        found = starts[mid][1]
        lo = mid + 1
      } else hi = mid - 1
    }
    return found
  }
}

/** Self time per function and per source file, most first. A sample's time is the gap to the
 * next sample (as Chrome's DevTools counts it). Pure. */
export function summarise(profile: CpuProfile, fileOf: (line: number) => string): { functions: ProfileRow[]; files: ProfileRow[]; totalMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = i + 1 < profile.timeDeltas.length ? profile.timeDeltas[i + 1] : 0
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + Math.max(0, dt))
  }
  const fns = new Map<string, number>()
  const files = new Map<string, number>()
  let total = 0
  for (const [id, us] of selfUs) {
    const f = byId.get(id)?.callFrame
    if (!f) continue
    total += us
    const inBundle = f.url !== '' && !f.url.startsWith('node:')
    const file = inBundle ? fileOf(f.lineNumber) : f.url || f.functionName
    const name = `${f.functionName || '(anonymous)'} ${inBundle ? `${file}` : f.url ? `${f.url}:${f.lineNumber + 1}` : ''}`.trim()
    fns.set(name, (fns.get(name) ?? 0) + us)
    files.set(file, (files.get(file) ?? 0) + us)
  }
  const rows = (m: Map<string, number>): ProfileRow[] =>
    [...m].map(([name, us]) => ({ name, ms: us / 1000, share: total ? us / total : 0 })).sort((a, b) => b.ms - a.ms)
  return { functions: rows(fns), files: rows(files), totalMs: total / 1000 }
}

function table(title: string, rows: ProfileRow[], top: number): string {
  const lines = [`${title}`, ...rows.slice(0, top).map((r) => `${r.ms.toFixed(0).padStart(7)} ms ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.name}`)]
  return lines.join('\n')
}

async function main(): Promise<void> {
  const env = process.env
  const machines = (env.BENCH_PROFILE_MACHINES ?? 'virtio').split(',').filter(Boolean)
  for (const m of machines) if (!machineNames.includes(m)) throw new Error(`BENCH_PROFILE_MACHINES: unknown machine "${m}"; known: ${machineNames.join(', ')}`)
  const flavor = (env.BENCH_PROFILE_KERNEL ?? '6.1') as KernelFlavor
  if (!allKernelFlavors.includes(flavor)) throw new Error(`BENCH_PROFILE_KERNEL=${flavor}: choose one of ${allKernelFlavors.join(', ')}`)
  const top = Number(env.BENCH_PROFILE_TOP ?? 25)
  if (!Number.isInteger(top) || top < 1) throw new Error(`BENCH_PROFILE_TOP=${env.BENCH_PROFILE_TOP}: give a whole number >= 1`)
  const interval = Number(env.BENCH_PROFILE_INTERVAL_US ?? DEFAULT_INTERVAL_US)
  if (!Number.isInteger(interval) || interval < 50) throw new Error(`BENCH_PROFILE_INTERVAL_US=${env.BENCH_PROFILE_INTERVAL_US}: give a whole number of microseconds >= 50`)
  // build.mjs --readable writes its bundle here; a kept profile's lines are read against it
  const readableBundle = (): Promise<string> => readFile(path.join(cacheDir, 'build', 'modload-readable.cjs'), 'utf8')
  const from = process.argv.indexOf('--from')
  if (from >= 0) {
    if (!process.argv[from + 1]) throw new Error('--from needs a profile a run kept (.cache/cpu-profile/*.cpuprofile)')
    const fileOf = bundleFiles(await readableBundle())
    const s = summarise(JSON.parse(await readFile(process.argv[from + 1], 'utf8')) as CpuProfile, fileOf)
    process.stdout.write(`${s.totalMs.toFixed(0)} ms sampled\n${table('self time by source file:', s.files, top)}\n\n${table('self time by function:', s.functions, top)}\n`)
    return
  }
  const dir = path.join(cacheDir, 'cpu-profile')
  await mkdir(dir, { recursive: true })
  const exe = path.join(dir, 'modload-readable')
  await run('env', ['-u', 'NODE_OPTIONS', process.execPath, path.join(projectRoot, 'build', 'build.mjs'), '--readable', '--out', exe], { passthrough: true })
  const fileOf = bundleFiles(await readableBundle())
  const kernel = await ensureKernel(flavor)
  const image = await ensureImage({ kernel, name: 'cpu-profile', modules: 'all', compress: 'lz4', moduleFiles: 'archive', executable: exe })
  for (const machine of machines) {
    const b = await bootColdplug({ kernel, image, machine, append: `modload.cpuprofile=${interval}` })
    const profile = profileFromLines(b.result.lines) as CpuProfile | undefined
    if (!b.ok || !profile) {
      process.stdout.write(`${machine}: no profile (boot ok: ${b.ok}; timed out: ${b.result.timedOut}, panic: ${b.result.panicked})\n`)
      process.exitCode = 1
      continue
    }
    const file = path.join(dir, `${machine}-${new Date().toISOString().slice(0, 16).replace(/[T:]/g, '-')}.cpuprofile`)
    await writeFile(file, JSON.stringify(profile))
    const s = summarise(profile, fileOf)
    process.stdout.write(`\n== ${machine} (${flavor}): coldplug ${coldplugSeconds(b)?.toFixed(2)} s (profiled: slower than unprofiled), ${s.totalMs.toFixed(0)} ms sampled; profile ${path.relative(projectRoot, file)}\n`)
    process.stdout.write(`${table('self time by source file:', s.files, top)}\n\n${table('self time by function:', s.functions, top)}\n`)
  }
}

// run.mjs bundles the entry with what it imports into one file, where import.meta.url is the
// bundle's for every module: the file's own name tells this script from one that imports it
const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href && /^cpu-profile\.(ts|mjs)$/.test(path.basename(process.argv[1]))
if (isEntry) {
  await main().catch((err) => {
    process.stderr.write(`bench cpu-profile: ${(err as Error).stack ?? err}\n`)
    process.exitCode = 1
  })
}
