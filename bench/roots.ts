// Roots on other controllers: kernel start to the real root's init with the root disk on each
// storage controller of the varied machines (qemu/machines.ts hba-mix and odd-mix: SCSI HBAs that
// scan buses, a USB stick behind EHCI, an SD card, virtio-scsi), for modload's default image and
// for Debian's initramfs-tools MODULES=most (udev + kmod) on the same disk. The end-to-end
// benchmark (bench/e2e.ts) puts the root on the three benchmark machines' first disks; this one
// shows that the image builder and the loader carry over to controllers they were not tuned on.
//
// For each target MACHINE:DISK:
//   1. the machine's /sys is captured with the root on DISK (qemu/capture.ts, rootDisk), as an
//      image built on such an installed machine would see it, and modload's default image is
//      built from it (`mkinitramfs --sysfs CAPTURE --rootfs ext4 --compress zstd --no-config`);
//      the root's chain it recorded is read back with `mkinitramfs --json` (bench/e2e.ts's
//      ensureModloadImage, which builds the e2e benchmark's images the same way);
//   2. the image boots with the root disk of initramfs/peers.ts in place of DISK, settled (the
//      default) and with modload.handover=early, and initramfs-tools' generic image boots the same
//      way; rounds interleaved, medians. A contender that does not reach the root in its first
//      run "cannot" (the first failure line of its console), as in bench/e2e.ts.
//
// Environment: BENCH_ROOTS_RUNS (default 2), BENCH_ROOTS_TARGETS (default below: MACHINE:DISK,
// comma-separated), BENCH_ROOTS_QEMU_ARGS (default `-icount shift=0`: the guest's clock counts
// instructions, so runs repeat to ~10 ms; '' boots plain TCG). `--write` writes docs/roots.md.
// The pure parts (targets, table) are exported for test/roots-bench.test.ts.
import fs from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { ensureExecutable } from '../qemu/artefacts.js'
import { ensureHostTools } from '../qemu/deps.js'
import { ensureKernel } from '../qemu/kernels.js'
import { getMachine, rootTarget } from '../qemu/machines.js'
import { cacheDir, projectRoot } from '../qemu/paths.js'
import { bootToRoot, ensurePeerImage } from '../initramfs/peers.js'
import { ensureModloadImage, extraCmdline, failureReason, giveUp, labels, loadAverage, median, parseStartLine, rotate } from './e2e.js'

export const DEFAULT_TARGETS = ['hba-mix:lsi0d', 'hba-mix:mega0d', 'hba-mix:pv0d', 'hba-mix:usb0', 'hba-mix:sd0', 'odd-mix:vs0d', 'odd-mix:esp0d'] as const

export const rootContenders = ['modload', 'modload-early', 'initramfs-tools-most'] as const
export type RootContender = (typeof rootContenders)[number]

export interface Target {
  machine: string
  disk: string
  /** the disk's -device value, e.g. 'scsi-hd,bus=mega0.0' */
  device: string
}

/** MACHINE:DISK words, checked against qemu/machines.ts. */
export function parseTargets(text: string): Target[] {
  const out: Target[] = []
  for (const word of text.split(',').map((w) => w.trim()).filter(Boolean)) {
    const [machine, disk, extra] = word.split(':')
    if (!machine || !disk || extra !== undefined) throw new Error(`BENCH_ROOTS_TARGETS: "${word}": write MACHINE:DISK, e.g. hba-mix:sd0`)
    const def = getMachine(machine)
    const d = rootTarget(def, disk)
    if (!d) throw new Error(`BENCH_ROOTS_TARGETS: machine ${machine} has no disks`)
    out.push({ machine, disk, device: d.device })
  }
  return out
}

export interface RootSample {
  target: string
  contender: RootContender
  reached: boolean
  uptime?: number
  start?: number
  failure?: string
}

export interface RootRow {
  target: string
  device: string
  chain: string
  contender: RootContender
  median?: number
  runs: number[]
  start?: number
  cannot?: string
  /** median over initramfs-tools' median on the same target */
  ratio?: number
}

/** One row per target and contender, in target order. */
export function summariseRoots(targets: readonly Target[], chains: ReadonlyMap<string, string>, samples: readonly RootSample[]): RootRow[] {
  const rows: RootRow[] = []
  for (const t of targets) {
    const key = `${t.machine}:${t.disk}`
    const mine = rootContenders.map((c): RootRow => {
      const s = samples.filter((x) => x.target === key && x.contender === c)
      const ok = s.filter((x) => x.reached && x.uptime !== undefined)
      const failed = s.find((x) => !x.reached)
      const starts = ok.map((x) => x.start).filter((x): x is number => x !== undefined)
      return {
        target: key,
        device: t.device,
        chain: chains.get(key) ?? '',
        contender: c,
        median: ok.length ? median(ok.map((x) => x.uptime as number)) : undefined,
        runs: ok.map((x) => x.uptime as number),
        start: starts.length ? median(starts) : undefined,
        cannot: ok.length ? undefined : (failed?.failure ?? 'not booted'),
      }
    })
    const base = mine.find((r) => r.contender === 'initramfs-tools-most')?.median
    for (const r of mine) if (r.median !== undefined && base) r.ratio = r.median / base
    rows.push(...mine)
  }
  return rows
}

export function rootsTable(rows: readonly RootRow[]): string {
  const f = (n: number | undefined): string => (n === undefined ? '-' : n.toFixed(2))
  const out = [
    "| machine:disk | controller | root's chain in modload's image | image | /init's first line (s) | kernel start → root's init, median (s) | runs (s) | vs initramfs-tools |",
    '|---|---|---|---|---|---|---|---|',
  ]
  for (const r of rows) {
    const label = labels[r.contender]
    if (r.cannot) {
      out.push(`| ${r.target} | \`${r.device}\` | ${r.chain || '-'} | ${label} | - | cannot: ${r.cannot.replaceAll('|', '/')} | | |`)
      continue
    }
    const strong = r.contender === 'initramfs-tools-most' ? f(r.median) : `**${f(r.median)}**`
    out.push(`| ${r.target} | \`${r.device}\` | ${r.chain || '-'} | ${label} | ${f(r.start)} | ${strong} | ${r.runs.map(f).join(', ')} | ${r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`} |`)
  }
  return out.join('\n')
}

// ---------------------------------------------------------------------------------------------

const rootsDir = path.join(cacheDir, 'roots')

async function main(): Promise<void> {
  const write = process.argv.includes('--write')
  const runs = Number(process.env.BENCH_ROOTS_RUNS ?? 2)
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`BENCH_ROOTS_RUNS=${process.env.BENCH_ROOTS_RUNS}: give a whole number >= 1`)
  const targets = parseTargets(process.env.BENCH_ROOTS_TARGETS ?? DEFAULT_TARGETS.join(','))
  const qemuArgs = (process.env.BENCH_ROOTS_QEMU_ARGS ?? '-icount shift=0').split(' ').filter(Boolean)
  const log = (l: string): void => void process.stderr.write(`${l}\n`)
  const started = Date.now()
  const load = loadAverage()
  await ensureHostTools()
  const kernel = await ensureKernel('6.1')
  await ensureExecutable()
  const stock = await ensurePeerImage('initramfs-tools-most', kernel, { log })
  const images = new Map<string, { path: string; chain: string }>()
  for (const t of targets) {
    log(`roots: ${t.machine}:${t.disk}: capture and image`)
    const img = await ensureModloadImage(kernel, t.machine, log, t.disk)
    images.set(`${t.machine}:${t.disk}`, { path: img.path, chain: img.chain.join(' ') })
  }
  const samples: RootSample[] = []
  const cannot = new Set<string>()
  for (let round = 1; round <= runs; round++) {
    for (const t of targets) {
      const key = `${t.machine}:${t.disk}`
      for (const c of rotate(rootContenders, round - 1)) {
        if (cannot.has(`${key}/${c}`)) continue
        const image = c === 'initramfs-tools-most' ? stock.path : (images.get(key)?.path as string)
        const b = await bootToRoot({ kernel, image, machine: t.machine, rootDisk: t.disk, append: ['rootfstype=ext4', extraCmdline[c]].filter(Boolean).join(' '), qemuArgs, giveUp: giveUp[c] })
        const s: RootSample = { target: key, contender: c, reached: b.reached, uptime: b.uptime, start: c === 'initramfs-tools-most' ? undefined : parseStartLine(b.result.lines)?.uptime }
        if (!b.reached) {
          s.failure = failureReason(b.result.lines, b.result.timedOut, b.result.panicked, b.gaveUp)
          if (round === 1) cannot.add(`${key}/${c}`)
        }
        samples.push(s)
        log(`roots: round ${round}/${runs} ${key} ${labels[c]}: ${b.reached ? `root's init at ${b.uptime?.toFixed(2)} s` : `did not reach the root: ${s.failure}`}, wall ${(b.result.durationMs / 1000).toFixed(1)} s`)
      }
    }
  }
  const rows = summariseRoots(targets, new Map([...images].map(([k, v]) => [k, v.chain])), samples)
  const table = rootsTable(rows)
  console.log(table)
  await fs.mkdir(rootsDir, { recursive: true })
  await fs.writeFile(path.join(rootsDir, `run-${new Date(started).toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ targets, samples, rows }, null, 1) + '\n')
  if (!write) return
  const qemu = qemuArgs.join(' ')
  const command = `BENCH_ROOTS_RUNS=${runs} BENCH_ROOTS_TARGETS=${targets.map((t) => `${t.machine}:${t.disk}`).join(',')} BENCH_ROOTS_QEMU_ARGS='${qemu}' npm run bench:roots -- --write`
  const date = new Date(started).toISOString().slice(0, 16).replace('T', ' ')
  const page = `# Roots on other controllers: kernel start to the real root's init

Generated by \`bench/roots.ts\`; do not edit by hand (re-run the command below).

Command: \`${command}\`
Measured ${date} UTC on ${kernel.version}, host load average at the start ${load}, ${samples.length} boots in ${((Date.now() - started) / 1000).toFixed(0)} s of wall time.
QEMU arguments added to every boot: \`${qemu || '(none: plain TCG)'}\`${qemu.includes('icount') ? ' (the guest clock counts instructions, 1 ns each, and real time while the guest idles: see docs/e2e-boot-icount-shift-0.md)' : ''}.

The end-to-end benchmark (docs/e2e-boot*.md) puts the root on the first disk of the three
benchmark machines. Here the same 32 MiB ext4 root disk (\`initramfs/peers.ts\`, its
\`/sbin/init\` prints \`/proc/uptime\` and powers off) replaces one disk at a time of the varied
machines of \`qemu/machines.ts\` (hba-mix: LSI 53C895A, MegaRAID SAS, PVSCSI, a USB stick behind
EHCI, an SD card behind SDHCI-PCI; odd-mix: virtio-scsi, AMD Am53c974), with \`root=UUID=<uuid>
rootfstype=ext4\` after \`console=ttyS0 quiet panic=-1\`. modload's image is its default one for
the machine, built from the machine's /sys captured with the root on that disk (as \`modload
mkinitramfs\` on such an installed machine would build it); the chain column is the root's chain
it recorded. initramfs-tools is Debian's generic image (MODULES=most, udev + kmod), the same
file for every target. ${runs} runs each, interleaved; medians. Not here: odd-mix's LSI SAS 1068
disk, which no loader finds (mptsas attaches its host and reports no device, under udev too).
With \`-icount\` the guest's clock ignores the host's load except while the guest idles (it then
waits in real time), so a boot that idles on a bus scan or USB's delay_use can move by a few
tenths when the host is busy; the settled rows' runs show it when they differ.

${table}
`
  await fs.writeFile(path.join(projectRoot, 'docs', 'roots.md'), page)
  log('roots: wrote docs/roots.md')
}

const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href && /^roots\.(ts|mjs)$/.test(path.basename(process.argv[1]))
if (isEntry) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  })
}
