// The boot benchmark (issue 5, "Speed"): on each QEMU machine, modload's image and the three
// reference images of initramfs/reference.ts (udev + kmod, kmod rescan loop, busybox rescan
// loop), same kernel, same module tree, same device set, booted several times each. The time
// is the guest's own clock: `settled` (or `halt`) uptime minus `start` uptime, i.e. from the
// loader's first line to the end of its coldplug. Runs are interleaved (run 1 of every loader,
// then run 2, ...) so a burst of load on the host hits all loaders alike. Prints a table of
// medians with the ratio to udev + kmod (issue 10's goal: faster than udev + kmod on every
// machine, at most 0.6x summed over the machines); with `write` it also records the table and
// an SVG bar chart (plus a PNG through rsvg-convert when Debian's librsvg2-bin can be
// installed) in docs/boot-benchmark.md. Every run's samples are kept in
// .cache/boot-bench/bench-<time>.json; `--from FILE` renders a kept run again without booting.
// Environment: BENCH_BOOT_RUNS (default 3), BENCH_BOOT_MACHINES (default every machine),
// BENCH_BOOT_KERNEL (6.1 or 6.12, default 6.1).
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { ensureDebianPackages, ensureHostTools, findCommand } from '../qemu/deps.js'
import { run } from '../qemu/exec.js'
import { ensureKernel, allKernelFlavors, type KernelFlavor } from '../qemu/kernels.js'
import { machineNames } from '../qemu/machines.js'
import { projectRoot } from '../qemu/paths.js'
import { bootColdplug, coldplugBusySeconds, coldplugMemMiB, coldplugSeconds, ensureLoaderImage, loaderDescriptions, loaders, type Loader } from '../initramfs/coldplug-run.js'
import { referenceToolVersions } from '../initramfs/reference.js'

export interface BootBenchOptions {
  runs: number
  machines: readonly string[]
  flavor: KernelFlavor
  /** write docs/boot-benchmark.md and its plot */
  write: boolean
  /** render this kept record (.cache/boot-bench/bench-*.json) instead of booting */
  from?: string
  log: (line: string) => void
}

export interface Sample {
  machine: string
  loader: Loader
  /** start -> settled, guest seconds; undefined when the boot did not finish */
  seconds?: number
  /** kernel start -> settled (guest uptime at the end of coldplug) */
  uptime?: number
  /** of `seconds`, the time the guest's CPU was busy (the rest it idled, waiting on devices) */
  busy?: number
  live: number
}

export interface Row {
  machine: string
  loader: Loader
  median?: number
  samples: number[]
  failed: number
  medianUptime?: number
  medianBusy?: number
  live: number
  /** median / udev's median on the same machine */
  ratio?: number
}

/** QEMU arguments as a file-name part ('-icount shift=0' -> 'icount-shift-0'), so that a
 * page measured with them does not replace the plain one. Pure. */
export function qemuArgsSlug(qemuArgs: readonly string[]): string {
  return qemuArgs.join(' ').replace(/[^A-Za-z0-9.]+/g, '-').replace(/^-+|-+$/g, '')
}

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/** Medians and ratios from the samples. Pure. */
export function summarise(samples: readonly Sample[], machines: readonly string[]): Row[] {
  const rows: Row[] = []
  for (const machine of machines) {
    const mine = samples.filter((s) => s.machine === machine)
    const byLoader = (l: Loader) => mine.filter((s) => s.loader === l)
    const med = (l: Loader) => median(byLoader(l).flatMap((s) => (s.seconds === undefined ? [] : [s.seconds])))
    const udev = med('udev')
    for (const loader of loaders) {
      const these = byLoader(loader)
      if (these.length === 0) continue
      const ok = these.flatMap((s) => (s.seconds === undefined ? [] : [s.seconds]))
      const m = median(ok)
      rows.push({
        machine,
        loader,
        median: m,
        samples: ok,
        failed: these.length - ok.length,
        medianUptime: median(these.flatMap((s) => (s.uptime === undefined ? [] : [s.uptime]))),
        medianBusy: median(these.flatMap((s) => (s.busy === undefined ? [] : [s.busy]))),
        live: median(these.map((s) => s.live)) ?? 0,
        ratio: m !== undefined && udev ? m / udev : undefined,
      })
    }
  }
  return rows
}

const f2 = (x: number | undefined): string => (x === undefined ? 'n/a' : x.toFixed(2))

/** The markdown table. Pure. */
export function table(rows: readonly Row[]): string {
  const out = [
    '| machine | loader | start → settled, median (s) | runs (s) | ratio to udev + kmod | CPU busy, median (s) | kernel start → settled, median (s) | live modules |',
    '|---|---|---|---|---|---|---|---|',
  ]
  for (const r of rows) {
    const ratio = r.ratio === undefined ? 'n/a' : `${r.ratio.toFixed(2)}x`
    const runs = r.samples.map((s) => s.toFixed(2)).join(', ') + (r.failed ? ` (+${r.failed} failed)` : '')
    out.push(`| ${r.machine} | ${r.loader} | ${f2(r.median)} | ${runs} | ${r.loader === 'modload' ? `**${ratio}**` : ratio} | ${f2(r.medianBusy)} | ${f2(r.medianUptime)} | ${r.live} |`)
  }
  return out.join('\n')
}

/** The summed goal: modload's medians added over the machines, against udev + kmod's. */
export const SUMMED_GOAL = 0.6

export interface Goal {
  /** per machine: faster than udev + kmod (ratio below 1) */
  machines: Array<{ machine: string; ratio?: number; met: boolean }>
  /** the medians summed over the machines where both finished, modload / udev + kmod */
  summed?: number
  met: boolean
}

/** Issue 10's coldplug goal: modload faster than udev + kmod on every machine and at most
 * SUMMED_GOAL of its time summed over them. Pure. */
export function goal(rows: readonly Row[]): Goal {
  const machines = rows.filter((r) => r.loader === 'modload').map((r) => ({ machine: r.machine, ratio: r.ratio, met: r.ratio !== undefined && r.ratio < 1 }))
  let ours = 0
  let theirs = 0
  for (const m of machines) {
    const mine = rows.find((r) => r.machine === m.machine && r.loader === 'modload')?.median
    const udev = rows.find((r) => r.machine === m.machine && r.loader === 'udev')?.median
    if (mine === undefined || udev === undefined) continue
    ours += mine
    theirs += udev
  }
  const summed = theirs > 0 ? ours / theirs : undefined
  const met = machines.length > 0 && machines.every((m) => m.met) && summed !== undefined && summed <= SUMMED_GOAL
  return { machines, summed, met }
}

/** One line saying where the goal stands. Pure. */
export function goalLine(g: Goal): string {
  const each = g.machines.map((x) => `${x.machine} ${x.ratio === undefined ? 'n/a' : `${x.ratio.toFixed(2)}x`}${x.met ? '' : ' (NOT faster)'}`).join(', ')
  const summed = g.summed === undefined ? 'n/a' : `${g.summed.toFixed(2)}x`
  return `${each}; summed ${summed} (goal <= ${SUMMED_GOAL}x): ${g.met ? 'met' : 'NOT met'}`
}

const colours: Readonly<Record<Loader, string>> = { modload: '#1f77b4', udev: '#d62728', 'kmod-loop': '#ff7f0e', 'busybox-loop': '#7f7f7f' }

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** A grouped bar chart of the medians (one group per machine), with a dashed mark at
 * SUMMED_GOAL of udev + kmod's time. Pure. */
export function svgChart(rows: readonly Row[], title: string): string {
  const machines = [...new Set(rows.map((r) => r.machine))]
  const max = Math.max(1, ...rows.map((r) => r.median ?? 0))
  const top = Math.ceil(max / 5) * 5
  const W = 860
  const H = 420
  const left = 60
  const right = 20
  const plotTop = 50
  const plotBottom = H - 90
  const groupW = (W - left - right) / Math.max(1, machines.length)
  const barW = Math.min(40, (groupW - 30) / loaders.length)
  const y = (v: number) => plotBottom - (v / top) * (plotBottom - plotTop)
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ]
  for (let v = 0; v <= top; v += top <= 10 ? 1 : 5) {
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`)
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`)
  }
  parts.push(`<text transform="translate(16 ${(plotTop + plotBottom) / 2}) rotate(-90)" text-anchor="middle">seconds, /init start → settled (median, guest clock)</text>`)
  machines.forEach((machine, i) => {
    const x0 = left + i * groupW + (groupW - barW * loaders.length) / 2
    loaders.forEach((loader, j) => {
      const r = rows.find((r) => r.machine === machine && r.loader === loader)
      if (r?.median === undefined) return
      const x = x0 + j * barW
      parts.push(`<rect x="${x + 2}" y="${y(r.median)}" width="${barW - 4}" height="${plotBottom - y(r.median)}" fill="${colours[loader]}"/>`)
      parts.push(`<text x="${x + barW / 2}" y="${y(r.median) - 4}" text-anchor="middle" font-size="10">${r.median.toFixed(1)}</text>`)
    })
    const udev = rows.find((r) => r.machine === machine && r.loader === 'udev')?.median
    if (udev !== undefined) {
      parts.push(`<line x1="${x0}" x2="${x0 + barW * loaders.length}" y1="${y(udev * SUMMED_GOAL)}" y2="${y(udev * SUMMED_GOAL)}" stroke="black" stroke-dasharray="5 3"/>`)
    }
    parts.push(`<text x="${left + i * groupW + groupW / 2}" y="${plotBottom + 18}" text-anchor="middle" font-size="13">${esc(machine)}</text>`)
  })
  parts.push(`<line x1="${left}" x2="${W - right}" y1="${plotBottom}" y2="${plotBottom}" stroke="black"/>`)
  const legend = [...loaders.map((l) => [colours[l], loaderDescriptions[l]] as const)]
  legend.forEach(([c, text], k) => {
    const lx = left + (k % 2) * 390
    const ly = plotBottom + 40 + Math.floor(k / 2) * 18
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${c}"/>`, `<text x="${lx + 18}" y="${ly}">${esc(text)}</text>`)
  })
  parts.push(`<line x1="${W - 215}" x2="${W - 185}" y1="${plotTop - 12}" y2="${plotTop - 12}" stroke="black" stroke-dasharray="5 3"/>`)
  parts.push(`<text x="${W - 180}" y="${plotTop - 8}">${SUMMED_GOAL}x of udev + kmod</text>`)
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

/** What one run measured, kept so the docs can be rendered again (`--from`). */
export interface BootBenchRecord {
  /** UTC, "YYYY-MM-DD HH:MM" */
  date: string
  kernel: string
  flavor: KernelFlavor
  runs: number
  machines: string[]
  load: string
  wallSeconds: number
  versions: Record<string, string>
  samples: Sample[]
}

async function writeDocs(rows: readonly Row[], rec: BootBenchRecord, log: (line: string) => void): Promise<void> {
  const docs = path.join(projectRoot, 'docs')
  await mkdir(docs, { recursive: true })
  const svg = svgChart(rows, `Coldplug time on ${rec.kernel}, QEMU TCG (median of ${rec.runs})`)
  await writeFile(path.join(docs, 'boot-benchmark.svg'), svg)
  let png = false
  try {
    await ensureDebianPackages(['librsvg2-bin'])
    const rsvg = await findCommand('rsvg-convert')
    if (rsvg) {
      await run(rsvg, ['-o', path.join(docs, 'boot-benchmark.png'), path.join(docs, 'boot-benchmark.svg')])
      png = true
    }
  } catch (err) {
    log(`boot bench: no PNG (${(err as Error).message.split('\n')[0]}); the SVG is written`)
  }
  const g = goal(rows)
  const machinesEnv = rec.machines.join(',') === machineNames.join(',') ? '' : `BENCH_BOOT_MACHINES=${rec.machines.join(',')} `
  const doc = `# Boot benchmark: modload's coldplug against Debian's udev + kmod

Generated by \`bench/boot-bench.ts\`; do not edit by hand (re-run the command below).

Command: \`BENCH_BOOT_RUNS=${rec.runs} ${machinesEnv}BENCH_BOOT_KERNEL=${rec.flavor} npm run bench:boot -- --write\`
(\`node build/setup.mjs && node build/run.mjs bench/boot.ts --write\`; the same measurement runs at
the end of \`npm run bench -- --write\` unless \`BENCH_BOOT=0\`).
Measured ${rec.date} UTC on ${rec.kernel}, host load average at the start ${rec.load}, ${rec.wallSeconds.toFixed(0)} s of wall time.

Each machine of \`qemu/machines.ts\` is booted ${rec.runs} times with each loader (interleaved),
QEMU under TCG (no KVM), 1 CPU, ${coldplugMemMiB} MiB, kernel command line
\`console=ttyS0 quiet panic=-1 modload.halt\`. Every image holds the kernel's whole module tree
with depmod's indexes, plain modules in one lz4 archive (modload's built with
\`--compress-modules archive\`, not its default, so that no loader decompresses modules):

${loaders.map((l) => `- **${l}**: ${loaderDescriptions[l]}`).join('\n')}

The reference images are built by \`initramfs/reference.ts\` from Debian 12's packages (udev
${rec.versions.udev}, kmod ${rec.versions.kmod}, busybox-static ${rec.versions['busybox-static']}).
The time is the guest's clock (\`/proc/uptime\`): from the loader's \`start\` line to its
\`settled\` line (modload: its \`settled\`, else \`halt\` line). "CPU busy" is the part of that
time the guest's one CPU was not idle (\`/proc/uptime\`'s idle field at both lines): every
loader here is mostly CPU-bound, the kernel's module loading (signature checks, relocation,
init) being most of it. Note what the start line leaves out: modload's comes after the
runtime's start-up inside the executable (Node from a V8 start-up snapshot: 0.6-0.8 s under
TCG, logged as \`runtime start-up\` in the kernel log), while the shell references print
\`start\` a few milliseconds after exec; the "kernel start → settled" column includes
everything (kernel boot, unpacking the image, Node's start-up) for comparison.

Goal (issue 10): modload's coldplug faster than udev + kmod's on every machine, and at most
${SUMMED_GOAL}x of its time summed over the machines (the dashed marks in the plot are ${SUMMED_GOAL}x of each
machine's udev + kmod median). This run: ${goalLine(g)}.

![coldplug time per machine and loader](boot-benchmark.${png ? 'png' : 'svg'})

${table(rows)}

"live modules" is the median count of /proc/modules at the end: a loader that loads less has
less to do. The busybox loop misses every module matched through the CPU's modalias (the
long \`cpu:type:x86,...:feature:,...\` alias; busybox 1.35's modprobe loads none of them) and can
finish before a late USB disk appears, so its times are not comparable. The kernel's own
module requests during coldplug (crypto algorithms, the HDA codec's generic driver) are served
as kmod serves them for udev: by modload's init, through a tiny forwarding helper
(src/load/forward.ts), so the live sets are the same (test/coldplug-compare.test.ts checks it
on every machine).

What makes modload's coldplug faster than udev + kmod's: no index parsing (depmod's binary
indexes searched in place), the storage and bus drivers first and the CPU-feature modules last
(so disk enumeration and usb-storage's delay overlap the other loads; an xHCI host's and a
USB disk's drivers first and alone, so that hub enumeration and usb-storage's delay_use start
sooner), the first /sys scan's storage drivers loading while the rest of it is resolved, loads
in parallel with the number in flight following the CPU (src/init/adapt.ts: one more while
loads wait and the CPU idles, as on hba-mix, whose SCSI and RAID drivers sleep while they scan
their buses), a load whose module the kernel shows live before the call returns letting what
needs it start (finit_module waits for every async probe in the system: on hba-mix nothing
returned for 3.6 s while sym53c8xx scanned its bus), V8 without its
optimizing tiers at boot, and an event loop that sleeps on the uevent socket instead of
polling it.

What bounds it: every loader here loads the same modules on the one vCPU, and most of that
CPU is the kernel's own work (signature checks, relocation, module init), the same for any
loader. modload's own user-space time during coldplug is logged as \`cpu user_ms= system_ms=\`
in the kernel log (detail level).

The project's machine has 2 cores and other work may run at the same time: single runs vary
by a second or more, so read the medians as rough and compare loaders within the same run
only. Under TCG, user-space work is 10-50x slower than on hardware (FINDINGS.md), and module
initialisation (kvm, crypto self-tests, libata, SCSI bus scans) dominates every loader's time.
`
  await writeFile(path.join(docs, 'boot-benchmark.md'), doc)
  log(`boot bench: wrote docs/boot-benchmark.md, docs/boot-benchmark.svg${png ? ', docs/boot-benchmark.png' : ''}`)
}

function report(rows: readonly Row[], log: (line: string) => void): void {
  log(`\n${table(rows)}\n`)
  log(`goal (faster than udev + kmod on every machine, <= ${SUMMED_GOAL}x summed): ${goalLine(goal(rows))}`)
}

/** Run the benchmark (or render a kept record, opts.from); returns the rows. */
export async function runBootBench(opts: BootBenchOptions): Promise<Row[]> {
  if (opts.from) {
    const rec = JSON.parse(await readFile(opts.from, 'utf8')) as BootBenchRecord
    const rows = summarise(rec.samples, rec.machines)
    report(rows, opts.log)
    if (opts.write) await writeDocs(rows, rec, opts.log)
    return rows
  }
  const started = Date.now()
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ')
  const load = os.loadavg().map((x) => x.toFixed(1)).join(' ')
  await ensureHostTools()
  const kernel = await ensureKernel(opts.flavor)
  const images = new Map<Loader, string>()
  // built once per run: the executable may change under us while the benchmark boots
  for (const l of loaders) images.set(l, await ensureLoaderImage(l, kernel))
  const samples: Sample[] = []
  for (let i = 1; i <= opts.runs; i++) {
    for (const machine of opts.machines) {
      for (const loader of loaders) {
        const b = await bootColdplug({ kernel, image: images.get(loader)!, machine })
        const seconds = b.ok ? coldplugSeconds(b) : undefined
        samples.push({ machine, loader, seconds, uptime: b.ok ? (b.settled ?? b.halt) : undefined, busy: b.ok ? coldplugBusySeconds(b) : undefined, live: b.live.size })
        opts.log(`boot bench: run ${i}/${opts.runs} ${machine} ${loader}: ${seconds === undefined ? `did not finish (timed out: ${b.result.timedOut}, panic: ${b.result.panicked})` : `${seconds.toFixed(2)} s`}, ${b.live.size} live, wall ${(b.result.durationMs / 1000).toFixed(1)} s`)
      }
    }
  }
  const rows = summarise(samples, opts.machines)
  const wallSeconds = (Date.now() - started) / 1000
  const rec: BootBenchRecord = { date, kernel: kernel.version, flavor: opts.flavor, runs: opts.runs, machines: [...opts.machines], load, wallSeconds, versions: await referenceToolVersions(), samples }
  const keep = path.join(projectRoot, '.cache', 'boot-bench', `bench-${date.replace(/[ :]/g, '-')}.json`)
  await mkdir(path.dirname(keep), { recursive: true })
  await writeFile(keep, JSON.stringify(rec, null, 1))
  report(rows, opts.log)
  opts.log(`boot bench: ${wallSeconds.toFixed(0)} s wall, load average at start ${load}; samples kept in ${path.relative(projectRoot, keep)} (render again with --from)`)
  if (opts.write) await writeDocs(rows, rec, opts.log)
  return rows
}

/** Options from the environment (see the header) and argv (`--write`). */
export function optionsFromEnv(env: NodeJS.ProcessEnv, argv: readonly string[], log: (line: string) => void): BootBenchOptions {
  const runs = Number(env.BENCH_BOOT_RUNS ?? 3)
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`BENCH_BOOT_RUNS=${env.BENCH_BOOT_RUNS}: give a whole number >= 1`)
  const machines = (env.BENCH_BOOT_MACHINES ?? machineNames.join(',')).split(',').filter(Boolean)
  for (const m of machines) if (!machineNames.includes(m)) throw new Error(`BENCH_BOOT_MACHINES: unknown machine "${m}"; known: ${machineNames.join(', ')}`)
  const flavor = (env.BENCH_BOOT_KERNEL ?? '6.1') as KernelFlavor
  if (!allKernelFlavors.includes(flavor)) throw new Error(`BENCH_BOOT_KERNEL=${flavor}: choose one of ${allKernelFlavors.join(', ')}`)
  const at = argv.indexOf('--from')
  const from = at >= 0 ? argv[at + 1] : undefined
  if (at >= 0 && !from) throw new Error('--from needs a file: a record kept in .cache/boot-bench/')
  return { runs, machines, flavor, write: argv.includes('--write'), from, log }
}
