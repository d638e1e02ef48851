// The integration benchmark (issue 12): Debian's own initramfs builders with and without
// modload's integration (`modload integrate initramfs-tools|dracut`), kernel start to the real
// root's init, on the same QEMU machines in the same run.
//
// What it does, in order:
//   1. builds (or finds cached) the images for the 6.1 kernel with the builders' own tools
//      (initramfs/integrate/images.ts over initramfs/peers.ts): initramfs-tools MODULES=most and
//      dracut --no-hostonly, each stock and with modload's hook or module installed; modload's
//      part of an image is selected as on the machine it boots (its capture, `--sysfs`), so
//      those images are built per machine (initramfs-tools' with that machine's root chain);
//   2. appends to each a small uncompressed archive holding /init-stamp, a shell script that
//      prints `integrate: init uptime=U` (the guest clock as the image's /init starts: neither
//      builder prints anything under `quiet`) and execs /init; every boot gets `rdinit=/init-stamp`,
//      so all four pay the same few milliseconds for it;
//   3. boots each image on each machine with the ext4 root disk of initramfs/peers.ts and
//      `root=UUID=... rootfstype=ext4 loglevel=6` (dracut also gets the words that end a boot
//      whose root never comes, bench/e2e.ts), in interleaved rounds whose order rotates, as the
//      end-to-end benchmark does (bootToRoot of initramfs/peers.ts, median of boot-bench.ts; not
//      imported from bench/e2e.ts, which runs itself when bundled into another entry);
//   4. prints a table of medians per machine: kernel start -> /init, /init -> the root's init,
//      kernel start -> the root's init, with modload's image against the same builder's stock
//      image; with --write also docs/integration.md and docs/integration.svg.
//
// Environment: BENCH_INTEGRATE_RUNS (default 3), BENCH_INTEGRATE_MACHINES (default virtio,q35),
// BENCH_INTEGRATE_IMAGES (a comma list of the contenders below, default all; each builder's stock
// image boots too; not with --write), BENCH_INTEGRATE_QEMU_ARGS (more QEMU arguments for every
// boot: with `-icount shift=0` the page is docs/integration-icount-shift-0.md).
// Samples are saved as .cache/integrate/bench-<date>.json; `--from FILE [--write]` reports one
// again without booting. The pure parts are exported for test/integrate.test.ts.
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { ensureExecutable, treeDigest } from '../qemu/artefacts.js'
import { captureMachine } from '../qemu/capture.js'
import { ensureDebianPackages, ensureHostTools } from '../qemu/deps.js'
import { run } from '../qemu/exec.js'
import { ensureKernel } from '../qemu/kernels.js'
import { machineNames } from '../qemu/machines.js'
import { cacheDir, projectRoot } from '../qemu/paths.js'
import { bootToRoot, ensurePeerImage, type PeerImage } from '../initramfs/peers.js'
import { bootWords, ensureIntegrationForMachine, stockKind } from '../initramfs/integrate/images.js'
import type { Builder } from '../src/integrate/integrate.js'
import { appendPadding } from '../src/initramfs/output.js'
import { median, qemuArgsSlug } from './boot-bench.js'

export const contenders = ['initramfs-tools', 'initramfs-tools+modload', 'initramfs-tools+modload-settled', 'initramfs-tools+modload-early', 'dracut', 'dracut+modload', 'dracut+modload-early'] as const
export type Contender = (typeof contenders)[number]

export const labels: Readonly<Record<Contender, string>> = {
  'initramfs-tools': 'initramfs-tools (stock)',
  'initramfs-tools+modload': 'initramfs-tools + modload',
  'initramfs-tools+modload-settled': 'initramfs-tools + modload, modload.handover=settled',
  'initramfs-tools+modload-early': 'initramfs-tools + modload, MODLOAD_RUNTIME=early',
  dracut: 'dracut (stock)',
  'dracut+modload': 'dracut + modload',
  'dracut+modload-early': 'dracut + modload, modload_runtime=early',
}

/** Kernel command-line words a contender adds to its builder's. */
const extraWords: Partial<Record<Contender, string>> = { 'initramfs-tools+modload-settled': ' modload.handover=settled' }

const builderOf = (c: Contender): Builder => (c.startsWith('dracut') ? 'dracut' : 'initramfs-tools')
const withModload = (c: Contender): boolean => c.includes('+modload')

const work = path.join(cacheDir, 'integrate')
/** Bumped when the way stamped images are made changes. */
const stampLayout = 2

// ---------------------------------------------------------------------------------------------
// Pure parts

/** `list` rotated left by `by` places: round r starts with contender r. Pure. */
export function rotate<T>(list: readonly T[], by: number): T[] {
  const k = list.length ? ((by % list.length) + list.length) % list.length : 0
  return [...list.slice(k), ...list.slice(0, k)]
}

/** Why a boot did not reach the root, in a line: how it ended and the last console line. Pure. */
export function failureReason(lines: readonly string[], timedOut: boolean, panicked: boolean): string {
  const how = timedOut ? 'timed out' : panicked ? 'kernel panic' : 'powered off without reaching the root'
  const last = [...lines].reverse().find((l) => l.trim() !== '')
  return last ? `${how}: ${last.replace(/\x1b\[[0-9;]*m?/g, '').trim().slice(0, 140)}` : how
}

/** /init-stamp: the guest clock as the image's /init starts, then that /init. The kernel gives
 * init no PATH and no /proc; the script mounts /proc for the one read and leaves it as found. */
export const stampScript = `#!/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin
[ -d /proc ] || mkdir /proc
mount -t proc proc /proc 2>/dev/null && mounted=1
read -r up idle </proc/uptime
[ -n "$mounted" ] && umount /proc
echo "integrate: init uptime=$up idle=$idle" >/dev/console
exec /init "$@"
`

/** `integrate: init uptime=U` from the console lines. Pure. */
export function parseInitStamp(lines: readonly string[]): number | undefined {
  for (const l of lines) {
    const m = /integrate: init uptime=(\d+(?:\.\d+)?)/.exec(l)
    if (m) return Number(m[1])
  }
  return undefined
}

/** modload's coldplug in a boot, on the guest clock: from `start` until the boot script went
 * on (`settled`: coldplug ended with `exit`, or the root device was there and the rest went on
 * in the background until init-bottom asked it to stop, or waited for it, at `asked`). */
export interface ColdplugNotice {
  start: number
  settled: number
  exit?: number
  /** init-bottom (dracut: cleanup): when it asked the background coldplug to stop (not waited
   * for), or began to wait for it to settle (modload.handover=settled) */
  asked?: number
  /** when that wait ended */
  ended?: number
}

/** The integration's notices (init-top's, and init-bottom's for a background coldplug). Pure. */
export function parseColdplugNotice(lines: readonly string[]): ColdplugNotice | undefined {
  let found: ColdplugNotice | undefined
  for (const l of lines) {
    const m = /modload: (?:initramfs-tools|dracut): coldplug (\d+(?:\.\d+)?)-(\d+(?:\.\d+)?) s \((?:exit (\d+)|root device there)/.exec(l)
    if (m) found = { start: Number(m[1]), settled: Number(m[2]), ...(m[3] === undefined ? {} : { exit: Number(m[3]) }) }
    // the background part's end (init-bottom)
    const e = /modload: (?:initramfs-tools|dracut): coldplug (?:asked to stop at (\d+(?:\.\d+)?) s|waited for from (\d+(?:\.\d+)?) s, ended by (\d+(?:\.\d+)?) s)/.exec(l)
    if (e && found) {
      found.asked = Number(e[1] ?? e[2])
      if (e[3] !== undefined) found.ended = Number(e[3])
    }
  }
  return found
}

export interface Sample {
  machine: string
  contender: Contender
  round: number
  reached: boolean
  /** kernel start -> the root's init */
  uptime?: number
  /** kernel start -> the image's /init */
  init?: number
  /** modload's coldplug (modload images) */
  coldplug?: ColdplugNotice
  failure?: string
}

export interface Row {
  machine: string
  contender: Contender
  runs: number[]
  failed: number
  init?: number
  afterInit?: number
  total?: number
  coldplug?: number
  /** modload rows: against the same builder's stock row on the machine */
  vsStock?: { total?: number; afterInit?: number }
}

/** Medians per machine and contender, and modload's ratios to the same builder's stock. Pure. */
export function summarise(samples: readonly Sample[], machines: readonly string[]): Row[] {
  const rows: Row[] = []
  for (const machine of machines) {
    const mine: Row[] = []
    for (const contender of contenders) {
      const these = samples.filter((s) => s.machine === machine && s.contender === contender)
      if (!these.length) continue
      const ok = these.filter((s) => s.reached && s.uptime !== undefined)
      const nums = (f: (s: Sample) => number | undefined) => ok.flatMap((s) => { const v = f(s); return v === undefined ? [] : [v] })
      mine.push({
        machine,
        contender,
        runs: nums((s) => s.uptime),
        failed: these.length - ok.length,
        init: median(nums((s) => s.init)),
        afterInit: median(nums((s) => (s.init === undefined ? undefined : s.uptime! - s.init))),
        total: median(nums((s) => s.uptime)),
        coldplug: median(nums((s) => (s.coldplug ? s.coldplug.settled - s.coldplug.start : undefined))),
      })
    }
    for (const r of mine) {
      if (!withModload(r.contender)) continue
      const stock = mine.find((x) => x.contender === builderOf(r.contender))
      const ratio = (a?: number, b?: number) => (a === undefined || !b ? undefined : a / b)
      if (stock) r.vsStock = { total: ratio(r.total, stock.total), afterInit: ratio(r.afterInit, stock.afterInit) }
    }
    rows.push(...mine)
  }
  return rows
}

const f2 = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(2))
const ratio = (x: number | undefined): string => (x === undefined ? '-' : `${x.toFixed(2)}x`)

/** The markdown table. Pure. */
export function table(rows: readonly Row[]): string {
  const out = [
    "| machine | image | kernel start → /init (s) | /init → root's init (s) | kernel start → root's init, median (s) | runs (s) | modload coldplug (s) | vs stock: /init → root | vs stock: total |",
    '|---|---|---|---|---|---|---|---|---|',
  ]
  for (const r of rows) {
    const b = (s: string) => (withModload(r.contender) ? `**${s}**` : s)
    const runs = r.runs.map((x) => x.toFixed(2)).join(', ') + (r.failed ? ` (+${r.failed} failed)` : '')
    out.push(`| ${r.machine} | ${labels[r.contender]} | ${f2(r.init)} | ${f2(r.afterInit)} | ${b(f2(r.total))} | ${runs} | ${f2(r.coldplug)} | ${withModload(r.contender) ? b(ratio(r.vsStock?.afterInit)) : '1.00x'} | ${withModload(r.contender) ? b(ratio(r.vsStock?.total)) : '1.00x'} |`)
  }
  return out.join('\n')
}

const colours: Readonly<Record<Contender, string>> = {
  'initramfs-tools': '#1f77b4',
  'initramfs-tools+modload': '#2ca02c',
  'initramfs-tools+modload-settled': '#8c564b',
  'initramfs-tools+modload-early': '#17becf',
  dracut: '#ff7f0e',
  'dracut+modload': '#98df8a',
  'dracut+modload-early': '#d62728',
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Stacked horizontal bars per machine: kernel start -> /init (grey), /init -> root's init (the
 * contender's colour), single runs as dots. Pure. */
export function svgChart(rows: readonly Row[], title: string): string {
  const machines = [...new Set(rows.map((r) => r.machine))]
  const W = 900
  const rowH = 22
  const headH = 26
  const labelW = 210
  const top = 64
  const plotW = W - labelW - 60
  const max = Math.max(1, ...rows.flatMap((r) => [r.total ?? 0, ...r.runs]))
  const step = max <= 20 ? 2 : max <= 60 ? 5 : 10
  const axisMax = Math.ceil(max / step) * step
  const x = (v: number) => labelW + (v / axisMax) * plotW
  const height = top + machines.length * headH + rows.length * rowH + 50
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${height}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    `<text x="${labelW + plotW / 2}" y="${top - 28}" text-anchor="middle" font-size="11">seconds from kernel start (guest clock); grey: to /init, colour: /init to the root's init (medians); dots: runs</text>`,
  ]
  const bottom = height - 40
  for (let v = 0; v <= axisMax; v += step) {
    parts.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${top - 8}" y2="${bottom}" stroke="#e3e3e3"/>`)
    parts.push(`<text x="${x(v).toFixed(1)}" y="${top - 12}" text-anchor="middle" font-size="10">${v}</text>`)
  }
  let y = top
  for (const machine of machines) {
    parts.push(`<text x="8" y="${y + 17}" font-size="13" font-weight="bold">${esc(machine)}</text>`)
    y += headH
    for (const r of rows.filter((r) => r.machine === machine)) {
      parts.push(`<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${esc(labels[r.contender])}</text>`)
      if (r.total !== undefined) {
        const init = Math.min(r.init ?? 0, r.total)
        parts.push(`<rect x="${labelW}" y="${y + 4}" width="${(x(init) - labelW).toFixed(1)}" height="${rowH - 8}" fill="#c7c7c7"/>`)
        parts.push(`<rect x="${x(init).toFixed(1)}" y="${y + 4}" width="${Math.max(1, x(r.total) - x(init)).toFixed(1)}" height="${rowH - 8}" fill="${colours[r.contender]}"/>`)
        for (const v of r.runs) parts.push(`<circle cx="${x(v).toFixed(1)}" cy="${y + rowH / 2}" r="2.5" fill="black" fill-opacity="0.6"/>`)
        parts.push(`<text x="${(Math.max(x(r.total), ...r.runs.map(x)) + 6).toFixed(1)}" y="${y + 15}">${r.total.toFixed(1)}</text>`)
      } else {
        parts.push(`<text x="${labelW + 6}" y="${y + 15}" fill="#888">did not reach the root</text>`)
      }
      y += rowH
    }
  }
  parts.push(`<line x1="${labelW}" x2="${labelW}" y1="${top - 8}" y2="${bottom}" stroke="black"/>`)
  parts.push(`<text x="${W - 10}" y="${bottom + 24}" text-anchor="end" fill="#555">QEMU TCG, 1 vCPU, Debian 6.1 kernel</text>`)
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

export interface Options {
  runs: number
  machines: readonly string[]
  /** the images to boot (BENCH_INTEGRATE_IMAGES; default every one) */
  contenders: readonly Contender[]
  /** more QEMU arguments for every boot (BENCH_INTEGRATE_QEMU_ARGS, e.g. -icount shift=0) */
  qemuArgs: readonly string[]
  write: boolean
  log: (line: string) => void
}

export function optionsFromEnv(env: NodeJS.ProcessEnv, argv: readonly string[], log: (line: string) => void): Options {
  const runs = Number(env.BENCH_INTEGRATE_RUNS ?? 3)
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`BENCH_INTEGRATE_RUNS=${env.BENCH_INTEGRATE_RUNS}: give a whole number >= 1`)
  const machines = (env.BENCH_INTEGRATE_MACHINES ?? 'virtio,q35').split(',').map((m) => m.trim()).filter(Boolean)
  for (const m of machines) if (!machineNames.includes(m)) throw new Error(`BENCH_INTEGRATE_MACHINES: unknown machine "${m}"; known: ${machineNames.join(', ')}`)
  const chosen = (env.BENCH_INTEGRATE_IMAGES ?? contenders.join(',')).split(',').map((c) => c.trim()).filter(Boolean)
  for (const c of chosen) if (!(contenders as readonly string[]).includes(c)) throw new Error(`BENCH_INTEGRATE_IMAGES: unknown image "${c}"; known: ${contenders.join(', ')}`)
  const write = argv.includes('--write')
  if (write && chosen.length < contenders.length) throw new Error('BENCH_INTEGRATE_IMAGES with --write: the page lists every image; leave BENCH_INTEGRATE_IMAGES unset to write it')
  // each modload image is compared with its builder's stock image: that one boots too
  const wanted = new Set(chosen.flatMap((c) => [c, builderOf(c as Contender)]))
  const qemuArgs = (env.BENCH_INTEGRATE_QEMU_ARGS ?? '').split(' ').filter(Boolean)
  return { runs, machines, contenders: contenders.filter((c) => wanted.has(c)), qemuArgs, write, log }
}

// ---------------------------------------------------------------------------------------------
// Images and boots

/** `image` with /init-stamp appended as an uncompressed archive (the kernel unpacks one archive
 * after the other), cached under .cache/integrate by the image's name (which holds its digest). */
async function stamped(image: string): Promise<string> {
  const key = createHash('sha256').update(`${stampLayout}\0${stampScript}`).digest('hex').slice(0, 8)
  const out = path.join(work, `stamped-${path.basename(image, '.img')}-${key}.img`)
  if (await fs.stat(out).catch(() => undefined)) return out
  const stage = await fs.mkdtemp(path.join(work, 'stamp-'))
  try {
    await fs.writeFile(path.join(stage, 'init-stamp'), stampScript, { mode: 0o755 })
    const archive = path.join(stage, 'stamp.cpio')
    await run('sh', ['-c', `cd "$1" && echo init-stamp | cpio --quiet -o -H newc --owner 0:0 > "$2"`, 'sh', stage, archive])
    const tmp = `${out}.${process.pid}.tmp`
    await fs.copyFile(image, tmp)
    // the kernel takes an uncompressed archive only at a 4-byte boundary, after an lz4 one
    // only past 4 zeros (zeros before it are skipped)
    const pad = appendPadding((await fs.stat(tmp)).size)
    await fs.appendFile(tmp, Buffer.concat([Buffer.alloc(pad), await fs.readFile(archive)]))
    await fs.rename(tmp, out)
    return out
  } finally {
    await fs.rm(stage, { recursive: true, force: true })
  }
}

export interface RunRecord {
  date: string
  runs: number
  machines: string[]
  kernel: string
  load: string
  wallSeconds: number
  images: Record<string, { path: string; bytes: number; tool: string; notes?: string[] }>
  samples: Sample[]
  /** QEMU arguments added to every boot (older records: none) */
  qemuArgs?: string[]
  /** what a later look found about this run (added to the saved record by hand; the page
   * shows them under the table) */
  remarks?: string[]
}

/** The page's base name: integration, or integration-<the QEMU arguments> (e.g.
 * integration-icount-shift-0), so a steady-clock run does not replace the plain one. Pure. */
export function docBase(qemuArgs: readonly string[] = []): string {
  const more = qemuArgsSlug(qemuArgs)
  return more ? `integration-${more}` : 'integration'
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(1)

/** The page's list of images: `contender` or `contender@machine` keys (images built per
 * machine), one line per image file with its size, each note once. Pure. */
export function imageLines(images: RunRecord['images']): string[] {
  const out: string[] = []
  const seen = new Set<string>()
  /** a note said once (the build host's packages are the same for every image of a builder) */
  const notes = new Set<string>()
  for (const [key, i] of Object.entries(images)) {
    const [c, machine] = key.split('@') as [Contender, string | undefined]
    if (seen.has(i.path)) continue
    seen.add(i.path)
    const also = Object.entries(images).filter(([k, j]) => k !== key && j.path === i.path).map(([k]) => labels[k.split('@')[0] as Contender])
    out.push(`- ${labels[c] ?? c}${machine ? ` (${machine})` : ''}: ${mib(i.bytes)} MiB (${i.tool})${also.length ? `; also booted as ${also.join(', ')}` : ''}`)
    for (const n of i.notes ?? []) {
      if (notes.has(n)) continue
      notes.add(n)
      out.push(`  - ${n}`)
    }
  }
  return out
}

export async function runBench(opts: Options): Promise<Row[]> {
  const started = Date.now()
  const load = os.loadavg().map((x) => x.toFixed(1)).join(' ')
  await ensureHostTools()
  await ensureDebianPackages(['cpio'])
  const kernel = await ensureKernel('6.1')
  await ensureExecutable()
  await fs.mkdir(work, { recursive: true })
  const images: RunRecord['images'] = {}
  /** contender -> stamped image; `contender@machine` for the images built per machine */
  const files = new Map<string, string>()
  const add = async (key: string, img: PeerImage): Promise<void> => {
    images[key] = { path: path.relative(projectRoot, img.path), bytes: img.bytes, tool: img.tool, notes: img.notes }
    files.set(key, await stamped(img.path))
  }
  const builders = (['initramfs-tools', 'dracut'] as const).filter((b) => opts.contenders.some((c) => builderOf(c) === b))
  for (const builder of builders) await add(builder, await ensurePeerImage(stockKind[builder], kernel, { log: opts.log }))
  for (const machine of opts.machines) {
    // modload's selection as a build on that machine makes it: from its /sys, root mounted
    const capture = await captureMachine(kernel, machine)
    const m = { name: machine, captureDir: capture.dir, captureKey: await treeDigest(capture.dir) }
    for (const c of opts.contenders) {
      if (c === builderOf(c) || c === 'initramfs-tools+modload-settled') continue
      await add(`${c}@${machine}`, await ensureIntegrationForMachine(builderOf(c), kernel, m, { early: c.endsWith('-early'), log: opts.log }))
    }
    // the same image, booted with its background coldplug waited for (all drivers before the root)
    if (opts.contenders.includes('initramfs-tools+modload-settled')) {
      const it = `initramfs-tools+modload@${machine}`
      if (!files.has(it)) await add(it, await ensureIntegrationForMachine('initramfs-tools', kernel, m, { log: opts.log }))
      images[`initramfs-tools+modload-settled@${machine}`] = images[it]
      files.set(`initramfs-tools+modload-settled@${machine}`, files.get(it)!)
    }
  }
  // stamped copies of earlier images (another executable, another stamp) go
  const keep = new Set([...files.values()].map((f) => path.basename(f)))
  for (const f of await fs.readdir(work)) if (f.startsWith('stamped-') && !keep.has(f)) await fs.rm(path.join(work, f), { force: true })
  const samples: Sample[] = []
  for (let round = 1; round <= opts.runs; round++) {
    for (const machine of opts.machines) {
      for (const c of rotate(opts.contenders, round - 1)) {
        const b = await bootToRoot({ kernel, image: files.get(`${c}@${machine}`) ?? files.get(c)!, machine, append: `${bootWords[builderOf(c)]}${extraWords[c] ?? ''} rdinit=/init-stamp`, qemuArgs: opts.qemuArgs.length ? [...opts.qemuArgs] : undefined })
        const s: Sample = { machine, contender: c, round, reached: b.reached, uptime: b.uptime, init: parseInitStamp(b.result.lines), coldplug: parseColdplugNotice(b.result.lines) }
        if (!b.reached) s.failure = failureReason(b.result.lines, b.result.timedOut, b.result.panicked)
        samples.push(s)
        opts.log(`integrate: round ${round}/${opts.runs} ${machine} ${labels[c]}: ${b.reached ? `root init at ${f2(b.uptime)} s, /init at ${f2(s.init)} s${s.coldplug ? `, coldplug ${f2(s.coldplug.start)}-${f2(s.coldplug.settled)} s` : ''}` : `did not reach the root: ${s.failure}`}, wall ${(b.result.durationMs / 1000).toFixed(1)} s`)
      }
    }
  }
  const record: RunRecord = { date: new Date(started).toISOString(), runs: opts.runs, machines: [...opts.machines], kernel: kernel.version, load, wallSeconds: (Date.now() - started) / 1000, images, samples, qemuArgs: [...opts.qemuArgs] }
  const saved = path.join(work, `bench-${record.date.replace(/[:.]/g, '-')}.json`)
  await fs.writeFile(saved, JSON.stringify(record, null, 1) + '\n')
  opts.log(`integrate: samples saved in ${path.relative(projectRoot, saved)}`)
  return report(record, opts)
}

async function report(record: RunRecord, opts: Options): Promise<Row[]> {
  const rows = summarise(record.samples, record.machines)
  opts.log(`\n${table(rows)}\n`)
  opts.log(`integrate: ${record.samples.length} boots, ${record.wallSeconds.toFixed(0)} s wall, load average at start ${record.load}`)
  if (opts.write) await writeDocs(rows, record, opts.log)
  return rows
}

async function writeDocs(rows: readonly Row[], record: RunRecord, log: (line: string) => void): Promise<void> {
  const docs = path.join(projectRoot, 'docs')
  const date = record.date.slice(0, 16).replace('T', ' ')
  const qemuArgs = record.qemuArgs ?? []
  const base = docBase(qemuArgs)
  const icount = qemuArgs.includes('-icount')
  await fs.writeFile(path.join(docs, `${base}.svg`), svgChart(rows, `Debian's initramfs builders with and without modload, ${record.kernel}, QEMU TCG${qemuArgs.length ? ` ${qemuArgs.join(' ')}` : ''} (median of ${record.runs})`))
  const verdicts = [...new Set(rows.map((r) => r.machine))].flatMap((m) =>
    rows.filter((r) => r.machine === m && withModload(r.contender)).map((r) => `- ${m}, ${labels[r.contender]}: /init → root's init ${ratio(r.vsStock?.afterInit)} the stock image's (goal ≤ 0.70x), kernel start → root's init ${ratio(r.vsStock?.total)} (goal < 1.00x)`),
  )
  const doc = `# modload inside initramfs-tools and dracut${qemuArgs.length ? ` (QEMU ${qemuArgs.join(' ')})` : ''}

Generated by \`bench/integrate.ts\`; do not edit the measured part by hand (re-run the command).

## Switching it on and off

On a Debian machine with initramfs-tools (the default) or dracut, as root:

\`\`\`sh
modload integrate initramfs-tools   # or: modload integrate dracut
update-initramfs -u                 # or: dracut -f
\`\`\`

and to undo:

\`\`\`sh
modload integrate initramfs-tools --remove && update-initramfs -u
modload integrate dracut --remove && dracut -f
\`\`\`

\`modload integrate\` installs, for initramfs-tools, \`/etc/initramfs-tools/hooks/modload\` and
\`/etc/initramfs-tools/conf.d/modload\` (settings: \`MODLOAD_UDEV=replace|beside|off\`,
\`MODLOAD_ARGS\`, \`MODLOAD_RUNTIME=main|early\`, \`MODLOAD_HANDOVER=early|settled\`); for dracut,
\`/usr/lib/dracut/modules.d/90modload/\` and \`/etc/dracut.conf.d/90-modload.conf\`
(\`modload_udev=replace|beside\`, \`modload_args\`, \`modload_runtime=main|early\`, \`modload_handover=early|settled\`). The
image gets the executable, the modules and firmware that \`modload mkinitramfs\`'s selection picks
(\`/etc/modload/mkinitramfs.conf\`, default \`host usb-host input\`) beside the builder's own, and:

- **initramfs-tools**: modload's boot scripts stand in for udev's (\`scripts/init-top/udev\`,
  \`scripts/init-bottom/udev\`; udev's are kept in \`/usr/lib/modload/udev/\`); udev is not
  started. init-top starts \`modload coldplug\` and goes on as soon as the root device is there
  (\`--ready-fd\`): while the root is awaited, loads that cannot lead to a disk (network,
  entropy, input and sound devices on PCI, virtio and USB, platform and CPU-feature drivers)
  wait; once it is there, the rest of coldplug goes on
  in the background at the lowest CPU priority (with the default early handover, one load at
  most per CPU that the rest of the boot leaves idle: a load's kernel work holds its CPU
  whatever its priority; the scan of the other devices waits for such a CPU too; with
  \`settled\` the loads fill the boot's idle moments), while
  initramfs-tools finds the resume device,
  checks and mounts the root (and /usr), and init-bottom ends it: \`MODLOAD_HANDOVER=early\`
  (default) stops it (the loads in flight finish, what has not started is left to the root's
  own udev, which coldplugs again, as udev's own init-bottom stops udevd; at the lowest
  priority the stop can come after the switch to the root has emptied the image, and a load
  that starts then finds its file gone: logged as left to the root, not as a failure),
  \`settled\` waits
  for it to settle (every driver loaded before the root's init: for a root without udev);
  \`modload.handover=early|settled\` on the kernel command line overrides it for one boot.
  Once the root device is there, and before init-top returns, modload also loads
  \`/conf/modules\` (initramfs-tools' \`force_load\` list: dm-mod, the RAID personalities,
  efivarfs, and \`/etc/initramfs-tools/modules\`), in order, each line as \`modprobe\` would, which
  init would load next with one \`modprobe\` per line; the lines that did not load stay in the
  file for init's modprobe to try again and report. \`udevadm\` in the image is a stand-in
  that answers \`udevadm settle\` itself while no udevd runs (initramfs-tools settles before
  it mounts the root, dmraid's and mdadm's scripts too: udevadm would find no daemon and
  exit 0) and runs udevadm, kept as \`/usr/lib/modload/udev/udevadm\`, for everything else.
  If coldplug ends and the root device is not there (modload missing or failing, a root on LVM
  or named by \`/dev/disk/by-*\`), the reason goes to the kernel log and udev's own script runs:
  the stock path. \`root=UUID=\` and \`resume=UUID=\` resolve through util-linux's \`blkid\` as in
  the stock image; the root mount, fsck and resume are initramfs-tools' own.
  \`MODLOAD_UDEV=beside\` runs coldplug to the end, then udev.
  \`MODLOAD_RUNTIME=early\` moves the executable out of the compressed archive into an
  uncompressed one in front of it (as CPU microcode goes; \`lsinitramfs\` lists both): the kernel
  copies ~63 MB instead of decompressing them, which under emulation is the faster way and on
  hardware costs reading ~50 MB more from /boot; the default stays \`main\`. The table has a
  row for each, and one for the default image booted with \`modload.handover=settled\`.
- **dracut**: dracut's devices and root wait go through udev (systemd's device units), so udev
  stays; udev's driver-loading rule (\`80-drivers.rules\`) is masked in the image, so its trigger
  only makes links and device units, and a pre-trigger hook starts \`modload coldplug\` in the
  background and returns at once: udev's trigger and the rest of dracut's start go on while
  modload starts and loads (the root disk's drivers first and alone, as the module recorded
  them from the machine), and the root device's uevents reach udev as in the stock image.
  Once the root device is there modload's loads (and its scan of the other devices) go on at
  the lowest priority, on the CPUs the rest of the boot leaves idle, and just before
  the switch to the root (initrd-cleanup) a unit of modload's, modload-stop.service (without
  systemd: a cleanup hook), stops the rest or, with \`modload_handover=settled\`, waits for it.
  If coldplug ends and the root device is not there, the reason goes to the kernel log, the
  mask goes and udev replays every device's "add" with its rules reloaded (the stock path,
  later). \`modload_runtime=early\` puts the executable in dracut's own uncompressed early
  archive (the one CPU microcode goes in; \`lsinitrd\` lists it) as \`MODLOAD_RUNTIME=early\`
  does for initramfs-tools. Both ways dracut boots are tested (test/integrate-qemu.test.ts):
  with systemd (dracut-pre-trigger.service runs the hook) and without (\`--omit systemd\`:
  dracut's own init.sh runs it); this benchmark times the systemd image, dracut's default.

\`dmesg | grep modload\` shows what happened at boot.

## Measured

Command: \`BENCH_INTEGRATE_RUNS=${record.runs} BENCH_INTEGRATE_MACHINES=${record.machines.join(',')}${qemuArgs.length ? ` BENCH_INTEGRATE_QEMU_ARGS='${qemuArgs.join(' ')}'` : ''} node build/run.mjs bench/integrate.ts --write\`
(npm script \`bench:integrate\`). Measured ${date} UTC on ${record.kernel}, host load average at the
start ${record.load}, ${record.samples.length} boots in ${record.wallSeconds.toFixed(0)} s of wall time.

Each image boots the Debian 6.1 kernel in QEMU (TCG, 1 vCPU, 1024 MiB) with the 32 MiB ext4 root
disk of \`initramfs/peers.ts\` in place of the machine's first disk and \`root=UUID=<uuid>
rootfstype=ext4 loglevel=6 no_timer_check\` after \`console=ttyS0 quiet panic=-1\` (dracut also \`rd.timeout=60
rd.retry=60 rd.shell=0 rd.emergency=poweroff\`). The root's \`/sbin/init\` prints \`/proc/uptime\`
and powers off. "/init" is when the image's own /init starts: every image gets a tiny
uncompressed archive appended holding \`/init-stamp\` (prints the uptime, execs /init) and boots
with \`rdinit=/init-stamp\`. ${record.runs} runs per image and machine, interleaved, medians.
"modload coldplug" is the window modload's notice reports in the kernel log.

Images (the builders' own tools, private configuration, Debian 6.1.0 module tree). The stock
images are generic (MODULES=most, --no-hostonly): one for every machine. modload's part of an
image is selected as a build on the machine itself would select it, from the machine's /sys as
captured with its root mounted (qemu/capture.ts; \`MODLOAD_ARGS="--sysfs DIR"\`,
\`modload_args="--sysfs DIR"\`), so the modload images are one per machine, and
each records that machine's root chain (/etc/modload/root-modules, loaded first and alone:
initramfs-tools' the disk's drivers and the file system, dracut's the disk's drivers only, as
dracut mounts the root itself; see its module-setup.sh):
${imageLines(record.images).join('\n')}

${qemuArgs.length ? `**QEMU arguments added to every boot: \`${qemuArgs.join(' ')}\`.**${icount ? ` With \`-icount\` the guest's clock advances by a fixed time per guest instruction (1 ns with shift=0) and, while the guest idles, by the real time it waits: the times are what a steady machine executing one instruction per nanosecond would take, without the emulator's uneven speed, and runs repeat to about 10 ms whatever the host does. Read this page beside the plain TCG one (\`integration.md\`), which is how the tests boot: neither is a hardware measurement.` : ''}

` : ''}![kernel start to root init per machine and image](${base}.svg)

${table(rows)}

${verdicts.join('\n')}
${record.remarks?.length ? `\nRemarks on this run:\n${record.remarks.map((r) => `- ${r}`).join('\n')}\n` : ''}
## Reading the numbers

- Under TCG user-space work is 10-50x slower than on hardware; compare the images with each
  other within one run. The host has 2 cores shared with other work (the load average above).
- The modload images are larger than the stock ones: they carry the executable (a Node runtime,
  tens of MiB) which the kernel unpacks before /init runs, so "kernel start → /init" grows;
  what modload can win is in "/init → root's init".
- initramfs-tools with modload starts no udev: no udevd start, no trigger of every device, no
  settle. dracut with modload still starts udev and triggers (its systemd needs the device
  units), only without loading drivers in it; its gain is smaller by design. Its stop is a
  unit of its own: a cleanup hook made dracut run dracut-pre-pivot.service, which the stock
  image skips (0.55 s in a debug boot, against 0.22 s for modload-stop.service).
- "/init → root's init" is where the hook works. By default the boot goes on once the root
  device is there ("modload coldplug" is then the window from modload's start to that moment;
  for initramfs-tools it includes \`/conf/modules\`, which the stock image loads after udev's
  settle, outside any window)
  and init-bottom stops the rest: what it had not started is left to the root's udev, so these
  rows load fewer modules before the root than the stock image. The
  \`modload.handover=settled\` row is the same image waiting for every driver, as the stock
  image does.
- The modload images also carry what modload's selection adds (input modules and the CPU's
  crc modules the stock images do not hold).
- Where the rest of the time goes (initramfs-tools, virtio, \`modload.debug\` boots of
  2026-11-29 evening, 1 vCPU): initramfs-tools' own /init reaches init-top in ~0.15 s; the Node
  runtime is up 0.74-0.83 s after modload's process starts (its \`runtime start-up ms\`, by
  performance.now; docs/runtime-weight.md measures 0.6 s for modload's own /init the other way:
  first line minus a probe), depmod's indexes 0.08 s, the first /sys scan 0.12-0.14 s, the
  storage devices resolved and loading 0.06-0.09 s later (the rest resolves while they load),
  then the disk's chain ~1.0 s (virtio_pci alone 0.64-0.99 s beside the ATA chain: module
  signature checks and probes share the one CPU), and ~1 s from the disk to the root's init
  (initramfs-tools' mount, init-bottom, run-init). "kernel start → /init" is 1.4-2.8 s longer
  than stock with the executable in the builder's zstd archive and varies most from run to
  run; \`MODLOAD_RUNTIME=early\` takes most of that back under emulation.
- Runs drift with the host: the stock initramfs-tools image's /init → root's init was 4.21 s
  (virtio) and 5.38 s (q35) at 17:09 (5 runs), 3.78 s and 4.23 s at 19:49 (3 runs), 3.49 s and
  4.48 s at 20:44 (5 runs, the quietest host of the three), and the modload image's 3.80, 3.66
  and 3.27 s (virtio), 4.36, 4.08 and 3.90 s (q35). Compare rows within one run.
- 2026-12-03 (session 24), dracut's module records the root disk's drivers (the root's chain
  without its file system) as /etc/modload/root-modules, and the executable lost Node's own
  start-up snapshot and undici's source (68.2 → 62.6 MB). dracut + modload on the steady clock
  (\`BENCH_INTEGRATE_RUNS=2 BENCH_INTEGRATE_MACHINES=hba-mix,virtio
  BENCH_INTEGRATE_IMAGES=dracut+modload BENCH_INTEGRATE_QEMU_ARGS='-icount shift=0'\`, before
  and after, each beside the stock image of the same run, on a host without dracut-core's
  recommendations, so without the storage tools this page's images carry): hba-mix 12.11 → 11.54 s (stock 11.41
  and 11.39 s; /init → root's init 7.27 → 6.77 s, 0.95x → 0.89x; total 1.06x → 1.01x; modload's
  window to "root device there" 5.11 → 4.33 s), virtio 7.89 → 7.72 s (stock 6.96 and 7.04 s;
  /init → root's init 3.23 → 3.13 s, 0.97x → 0.92x; 0.92 → 0.67 s to "root device there");
  kernel start → /init 0.06 s sooner on both (the smaller executable). The chain with ext4
  in it had been 0.2 s slower on virtio (8.24 → 8.45 s, an earlier session): the file system
  module is what hurt.
- 2026-12-03 (session 23), two machines beyond this page's, one run each on the steady clock
  (\`BENCH_INTEGRATE_RUNS=1 BENCH_INTEGRATE_MACHINES=hba-mix,odd-mix
  BENCH_INTEGRATE_QEMU_ARGS='-icount shift=0'\`; kernel start → root's init, then /init → root's
  init against the same builder's stock image). hba-mix, the root on an LSI 53c895a
  (sym53c8xx, a driver that scans its bus) beside MegaRAID, PVSCSI, USB storage behind EHCI
  and SDHCI: initramfs-tools + modload 10.03 s against 11.20 s (0.69x / 0.90x), with
  \`MODLOAD_RUNTIME=early\` 9.20 s (0.69x / 0.82x), settled 13.26 s (1.14x / 1.18x); dracut +
  modload 12.47 s against 12.01 s (0.93x / 1.04x), early 12.25 s (1.00x / 1.02x): there the
  root's disk came 5.4 s after modload's start (4.7 s in initramfs-tools' image, whose hook
  records the root's chain and loads it first; dracut's module did not then, see the session 24
  note above). odd-mix, the root on
  virtio-scsi beside LSI SAS, Am53c974 and USB on UHCI/OHCI: initramfs-tools + modload 7.57 s
  against 11.52 s (0.31x / 0.66x; udev's settle there waits for every SCSI adapter's scan),
  early 6.74 s (0.31x / 0.59x); dracut + modload 11.04 s against 12.87 s (0.67x / 0.86x). Two
  things seen there and left: after the root's init printed, its \`poweroff -f\` hung in
  the dracut + modload boots until QEMU was stopped (6 of the 6 whose wall time was taken, both images): with the early
  hand-over the Am53c974's bus scan (slow, "scsi host3: Spurious irq") is still going on, and
  the kernel's shutdown waits for it (a root that goes on booting does not notice; udev's
  settle in the stock image waited for it before the root); and 2 boots of the early image
  in 7 died of the known am53c974 kernel bug (qemu/kernel-bugs.ts: esp_scsi's interrupt
  handler run by UHCI's interrupt on the shared line while am53c974 probes), which the tests
  boot past and this benchmark does not.
- 2026-12-03 (session 22), initramfs-tools + modload, on the steady clock, root's init median
  (runs of BENCH_INTEGRATE_IMAGES=initramfs-tools+modload, then this page's at 08:03): the
  udevadm stand-in (settle answered without starting udevadm: twice per boot here, before the
  root mount and in dmraid's local-top) 6.93 → 6.92 s virtio, 6.83 → 6.81 s q35; modload
  loading \`/conf/modules\` (11 lines here: dm-mod, dm-mirror, linear, multipath, raid0/1/456/5/6/10,
  efivarfs; the hooks of dmraid and mdadm on the build host put them there) in place of
  init's one kmod \`modprobe\` per line, 6.92 → 6.85 s virtio (/init → root's init 1.97 →
  1.91 s, 0.70x → 0.68x), 6.81 → 6.75 s q35 (0.56x → 0.54x). That list is 0.85 s of kernel
  work in every image on these machines (dm-mod 0.17 s; raid456's RAID6 benchmark 0.4 s),
  and a trace of init (\`debug=1\`) put what is left after the root device is there at
  ~0.25 s: 0.07 s of init's scripts, the rest run-init emptying the image and the root's init
  starting. Loading the list at coldplug's start instead of once the root is there measured
  equal on virtio and 0.1 s worse on q35 in one run of two (the root's chain waits on hardware
  there); loading it beside the scan's loads, 0.3-0.5 s worse.
- 2026-12-02 evening (session 21), on the steady clock, root's init median: the 14:17 run, then
  17:39 with the scan of the other devices waiting for an idle CPU beside the boot (on these
  1-vCPU machines the boot leaves none, so there is no scan before init-bottom), then 18:04 with
  amaro's 3.5 MB out of the executable too (0.05 s less to unpack from zstd):
  initramfs-tools + modload virtio 7.05 → 6.99 → 6.93 s (/init → root's init 0.73x → 0.71x →
  0.71x stock), q35 6.97 → 6.89 → 6.83 s (0.60x → 0.57x → 0.57x); dracut + modload virtio
  8.13 → 8.13 → 8.07 s, q35 8.42 → 8.42 → 8.36 s.
- 2026-11-30 (session 11): dracut's hook no longer waits for modload's start-up and the root's
  chain before udev's trigger (it starts coldplug in the background and returns), and dracut
  has \`modload_runtime=early\`. On one vCPU, where everything before the root is CPU work, the
  background start is neutral: by instruction count (\`-icount shift=0\`, 2 boots each, kernel
  start → root's init) the blocking hook took 8.20 s / 8.46 s (virtio / q35), the background
  one 8.19 s / 8.43 s, stock dracut 7.23 s / 7.81 s, and \`modload_runtime=early\` 7.40 s /
  7.65 s. What the background start buys is overlap where there is idle time or more CPUs
  (udev's trigger and systemd's units no longer wait for Node's start-up).
  The plain TCG run of 09:54 that day (5 runs) spread far wider than earlier ones (stock
  dracut 19.3-30.9 s on virtio, stock initramfs-tools 8.8-13.3 s): its ratios (dracut +
  modload 0.83x / 1.13x total, initramfs-tools + modload 1.12x / 1.11x) are within that
  noise; \`docs/integration-icount-shift-0.md\` has the same images on the steady clock.
- Between 17:09 and 20:44: coldplug's first scan starts loading the devices that may lead to
  the disk before it resolves the rest, virtio, USB and SCSI devices that hold no disk wait with
  the other non-storage devices while the root is awaited, and dracut's stop is a unit of its
  own instead of a cleanup hook (dracut-pre-pivot.service no longer runs: 0.55 s against 0.22 s
  in a debug boot). dracut + modload's /init → root's init went from 1.08x / 1.19x to 1.06x /
  1.06x stock.
- Before this way of handing over (same day, 14:12, the hook waited for coldplug to settle):
  /init → root's init was 1.15-1.16x stock on virtio and 0.92-1.07x on q35; dracut 1.16-1.21x.
`
  await fs.writeFile(path.join(docs, `${base}.md`), doc)
  log(`integrate: wrote docs/${base}.md, docs/${base}.svg`)
}

// run.mjs bundles the entry with what it imports into one file, where import.meta.url is the
// bundle's for every module: the file's own name tells this script from one that imports it
const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href && /^integrate\.(ts|mjs)$/.test(path.basename(process.argv[1]))
if (isEntry) {
  try {
    const argv = process.argv.slice(2)
    const opts = optionsFromEnv(process.env, argv, (l) => process.stdout.write(`${l}\n`))
    const from = argv.indexOf('--from')
    if (from >= 0) {
      if (argv[from + 1] === undefined) throw new Error('--from needs a samples file (.cache/integrate/bench-*.json)')
      await report(JSON.parse(await fs.readFile(argv[from + 1], 'utf8')) as RunRecord, opts)
    } else await runBench(opts)
  } catch (err) {
    process.stderr.write(`bench integrate: ${(err as Error).stack ?? err}\n`)
    process.exitCode = 1
  }
}
