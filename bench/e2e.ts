// The end-to-end boot benchmark (issue 10, "Boot to the real root sooner than Debian's initramfs
// systems"): from kernel start to the real root's own /sbin/init, for modload's image and for the
// images Debian's initramfs builders make for the same kernel, on each QEMU machine.
//
// What it does, in order:
//   1. builds (or finds cached) every contender's image for the kernel: modload's default image
//      for each machine (`modload mkinitramfs --sysfs CAPTURE --rootfs ext4`, the capture being
//      that machine's /sys from qemu/capture.ts), and the peers of initramfs/peers.ts, each made
//      by its own tool: initramfs-tools MODULES=most and MODULES=dep, dracut --no-hostonly and
//      --hostonly, tiny-initramfs with the modules that machine's root disk needs;
//   2. boots each image on each machine with the ext4 root disk of initramfs/peers.ts in place of
//      the machine's first disk (virtio: vd0, q35: nvme0, legacy-pc: sda) and
//      `root=UUID=<uuid> rootfstype=ext4`; the root's init prints `peers: root uptime=U idle=I
//      pid=N` and powers off. Rounds are interleaved (round 1 of every contender on every
//      machine, then round 2, ...), the contenders' order rotating by one each round, so a
//      burst of host load or a warm page cache favours nobody;
//   3. a contender that does not reach the root in its first run on a machine "cannot" boot it
//      (a host-only image describes the build host, a virtio machine): the reason is the first
//      failure line of its console, and its other runs there are skipped;
//   4. prints a table of medians (guest clock, /proc/uptime) with ratios against initramfs-tools
//      MODULES=most, dracut --no-hostonly and tiny-initramfs on the same machine, and a line per
//      machine: modload against the best peer; with --write also docs/e2e-boot.md (docs/e2e-boot-6.12.md for BENCH_E2E_KERNEL=6.12), an SVG chart
//      drawn here and a PNG of it (rsvg-convert, Debian's librsvg2-bin).
//
// Command-line words that only act when the root never comes (so a contender that cannot boot
// a machine says so in seconds, not at the harness's 300 s deadline) are added per contender:
// modload `modload.onfail=poweroff`; dracut `rd.timeout=60 rd.retry=60 rd.shell=0
// rd.emergency=poweroff` (without rd.timeout its systemd waits for the root device forever, and
// with `quiet` says nothing). initramfs-tools gives up after 30 s by itself and reboots
// (panic=-1); tiny-initramfs after 180 s.
//
// Environment: BENCH_E2E_RUNS (default 3), BENCH_E2E_MACHINES (default virtio,q35,legacy-pc),
// BENCH_E2E_KERNEL (6.1, default, or 6.12), BENCH_E2E_QEMU_ARGS (more QEMU arguments for every
// boot, space-separated: `-icount shift=0` makes the guest's clock count instructions, 1 ns
// each, a steady machine in place of the emulator's uneven speed; such a run writes its own
// page, docs/e2e-boot[-KERNEL]-icount-shift-0.md). Each run saves its samples as
// .cache/e2e/run-<date>.json; `--from FILE [--write]` reports such a file again without booting.
// The pure parts (parsers, medians, table, chart)
// are exported for test/e2e-bench.test.ts; the benchmark runs only when this file is the entry.
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { ensureExecutable, executable, treeDigest } from '../qemu/artefacts.js'
import { markers } from '../qemu/boot.js'
import { captureSysfs } from '../qemu/capture.js'
import { ensureDebianPackages, ensureHostTools, findCommand } from '../qemu/deps.js'
import { run } from '../qemu/exec.js'
import { ensureKernel, allKernelFlavors, type Kernel, type KernelFlavor } from '../qemu/kernels.js'
import { getMachine, machineNames } from '../qemu/machines.js'
import { cacheDir, projectRoot } from '../qemu/paths.js'
import { bootToRoot, ensurePeerImage, peerSpecs, virtioExt4Modules, type PeerKind } from '../initramfs/peers.js'
import { median, qemuArgsSlug } from './boot-bench.js'

export { median }

export const contenders = ['modload', 'modload-early', 'initramfs-tools-most', 'initramfs-tools-dep', 'dracut-generic', 'dracut-hostonly', 'tiny-initramfs'] as const
export type Contender = (typeof contenders)[number]

export const labels: Readonly<Record<Contender, string>> = {
  modload: 'modload',
  'modload-early': 'modload (handover=early)',
  'initramfs-tools-most': 'initramfs-tools MODULES=most',
  'initramfs-tools-dep': 'initramfs-tools MODULES=dep',
  'dracut-generic': 'dracut --no-hostonly',
  'dracut-hostonly': 'dracut --hostonly',
  'tiny-initramfs': 'tiny-initramfs',
}

/** The peers the ratios are taken against, in column order. */
export const baselines = ['initramfs-tools-most', 'dracut-generic', 'tiny-initramfs'] as const satisfies readonly Contender[]

const isModload = (c: Contender): boolean => c === 'modload' || c === 'modload-early'

/** Words added to `root=UUID=... rootfstype=ext4` for a contender: modload's hand-over mode,
 * and what makes a failure end the boot (see the header). */
export const extraCmdline: Readonly<Record<Contender, string>> = {
  modload: 'modload.onfail=poweroff',
  'modload-early': 'modload.handover=early modload.onfail=poweroff',
  'initramfs-tools-most': '',
  'initramfs-tools-dep': '',
  'dracut-generic': 'rd.timeout=60 rd.retry=60 rd.shell=0 rd.emergency=poweroff',
  'dracut-hostonly': 'rd.timeout=60 rd.retry=60 rd.shell=0 rd.emergency=poweroff',
  'tiny-initramfs': '',
}

/** A console line after which a contender cannot reach the root, so its boot stops there:
 * tiny-initramfs warns when a module of its list does not load (6.12's are .ko.xz, which it
 * cannot load), then waits 180 s for the root device, a limit the command line cannot set. */
export const giveUp: Readonly<Partial<Record<Contender, RegExp>>> = {
  'tiny-initramfs': /Couldn't load \S+: /,
}

/** What each machine's root (ext4 on its first disk) needs, for tiny-initramfs, which loads
 * exactly its list (with modules.dep's dependencies) and nothing else. ext4's metadata
 * checksums need a crc32c provider (its softdep, which mktirfs does not follow). */
export const rootDiskModules: Readonly<Record<string, readonly string[]>> = {
  virtio: virtioExt4Modules,
  q35: ['nvme', 'ext4', 'crc32c_generic'],
  'legacy-pc': ['ahci', 'sd_mod', 'ext4', 'crc32c_generic'],
}

// ---------------------------------------------------------------------------------------------
// Pure parts

const norm = (name: string): string => name.replace(/-/g, '_')

/** `names` checked against the kernel's modules.dep and modules.builtin texts: built-in ones
 * dropped (6.12 builds virtio_pci in), an unknown one an error. Pure. */
export function moduleListFor(names: readonly string[], modulesDep: string, modulesBuiltin: string): string[] {
  const base = (p: string) => norm(path.basename(p).replace(/\.ko(\.(xz|zst|gz))?$/, ''))
  const loadable = new Set(modulesDep.split('\n').filter((l) => l.includes(':')).map((l) => base(l.slice(0, l.indexOf(':')))))
  const builtin = new Set(modulesBuiltin.split('\n').filter(Boolean).map(base))
  const out: string[] = []
  for (const n of names) {
    if (loadable.has(norm(n))) out.push(n)
    else if (!builtin.has(norm(n))) throw new Error(`module ${n} is neither in modules.dep nor in modules.builtin of this kernel`)
  }
  return out
}

/** modload's `start uptime=U idle=I` line (the first line of its /init), or undefined. Pure. */
export function parseStartLine(lines: readonly string[]): { uptime: number; idle?: number } | undefined {
  for (const l of markers(lines)) {
    const m = /^modload: start uptime=(\d+(?:\.\d+)?)(?: idle=(\d+(?:\.\d+)?))?/.exec(l)
    if (m) return { uptime: Number(m[1]), idle: m[2] === undefined ? undefined : Number(m[2]) }
  }
  return undefined
}

/** Each initramfs's own words for "the root did not come", most specific first. */
const failurePatterns: readonly RegExp[] = [
  /root: error: .*/, // modload
  /Gave up waiting for root.*?(?=\s*Common problems|$)/, // initramfs-tools
  /ALERT! .*/, // initramfs-tools
  /Could not boot.*/, // dracut
  /Timed out waiting for device.*/, // dracut's systemd (rd.timeout)
  /Warning: \/dev\/\S+ does not exist.*/, // dracut's emergency hook
  /Failed to mount root.*/, // tiny-initramfs
  /Couldn't .*/, // tiny-initramfs
  /Kernel panic - not syncing: .*/,
]

/** Why a boot did not reach the root, in a line: how it ended, and the first failure line its
 * console shows (the kernel's timestamp cut off). Pure. */
export function failureReason(lines: readonly string[], timedOut: boolean, panicked: boolean, gaveUp = false): string {
  const how = timedOut ? 'timed out' : panicked ? 'kernel panic' : gaveUp ? 'stopped at a line that rules the root out' : 'powered off without reaching the root'
  // systemd colours its status lines
  // (an escape cut short by systemd's ellipsis has no final `m`)
  const plain = lines.map((l) => l.replace(/\x1b\[[0-9;]*m?/g, ''))
  for (const re of failurePatterns) {
    for (const l of plain) {
      const m = re.exec(l)
      if (m) return `${how}: ${m[0].replace(/\s+/g, ' ').trim().slice(0, 140)}`
    }
  }
  return how
}

/** `list` rotated left by `by` places: round r of the benchmark starts with contender r. Pure. */
export function rotate<T>(list: readonly T[], by: number): T[] {
  const n = list.length
  if (n === 0) return []
  const k = ((by % n) + n) % n
  return [...list.slice(k), ...list.slice(0, k)]
}

/** One boot. */
export interface Sample {
  machine: string
  contender: Contender
  /** 1-based round */
  round: number
  reached: boolean
  /** guest seconds from kernel start to the root's init */
  uptime?: number
  /** of those, seconds the guest CPU was idle */
  idle?: number
  /** the root init's pid (1 when the initramfs handed over as it should) */
  pid?: number
  /** kernel start to /init's first line (modload's `start` line) */
  start?: number
  failure?: string
}

export interface Row {
  machine: string
  contender: Contender
  /** the image file's size */
  bytes?: number
  /** median kernel start -> /init's first line; undefined where the contender prints none */
  first?: number
  /** median of each run's root init minus its first line: the initramfs's own work */
  afterFirst?: number
  /** median kernel start -> root's init */
  median?: number
  /** the runs that reached the root, in order */
  runs: number[]
  /** runs after the first that did not reach the root */
  failed: number
  /** median of uptime - idle at the root's init */
  busy?: number
  /** the first run did not reach the root: why (the other runs were skipped) */
  cannot?: string
  /** the root's init ran with another pid than 1 in some run */
  pids: number[]
  /** median / that baseline's median on the same machine */
  vs: Partial<Record<(typeof baselines)[number], number>>
}

/** Medians, "cannot" and ratios from the samples, one row per machine and contender that has
 * samples, in the order of `machines` and `contenders`. Pure. */
export function summarise(samples: readonly Sample[], machines: readonly string[], sizes: (machine: string, c: Contender) => number | undefined = () => undefined): Row[] {
  const rows: Row[] = []
  for (const machine of machines) {
    const mine: Row[] = []
    for (const contender of contenders) {
      const these = samples.filter((s) => s.machine === machine && s.contender === contender).sort((a, b) => a.round - b.round)
      if (these.length === 0) continue
      const ok = these.filter((s) => s.reached && s.uptime !== undefined)
      const cannot = these[0].reached ? undefined : (these[0].failure ?? 'did not reach the root')
      const nums = (f: (s: Sample) => number | undefined) => ok.flatMap((s) => { const v = f(s); return v === undefined ? [] : [v] })
      mine.push({
        machine,
        contender,
        bytes: sizes(machine, contender),
        first: median(nums((s) => s.start)),
        afterFirst: median(nums((s) => (s.start === undefined || s.uptime === undefined ? undefined : s.uptime - s.start))),
        median: cannot ? undefined : median(nums((s) => s.uptime)),
        runs: cannot ? [] : nums((s) => s.uptime),
        failed: cannot ? 0 : these.length - ok.length,
        busy: cannot ? undefined : median(nums((s) => (s.idle === undefined || s.uptime === undefined ? undefined : s.uptime - s.idle))),
        cannot,
        pids: [...new Set(nums((s) => s.pid))].filter((p) => p !== 1),
        vs: {},
      })
    }
    for (const r of mine) {
      for (const b of baselines) {
        const base = mine.find((x) => x.contender === b)?.median
        if (r.median !== undefined && base) r.vs[b] = r.median / base
      }
    }
    rows.push(...mine)
  }
  return rows
}

/** Per machine: modload's median (default and handover=early) against the fastest peer, and
 * against the fastest udev-based peer (initramfs-tools, dracut). Pure. */
export function verdicts(rows: readonly Row[]): Array<{ machine: string; modload?: number; early?: number; best?: Row; bestUdev?: Row }> {
  const machines = [...new Set(rows.map((r) => r.machine))]
  return machines.map((machine) => {
    const mine = rows.filter((r) => r.machine === machine)
    const fastest = (rs: Row[]) => rs.filter((r) => r.median !== undefined).sort((a, b) => a.median! - b.median!)[0]
    const peers = mine.filter((r) => !isModload(r.contender))
    return {
      machine,
      modload: mine.find((r) => r.contender === 'modload')?.median,
      early: mine.find((r) => r.contender === 'modload-early')?.median,
      best: fastest(peers),
      bestUdev: fastest(peers.filter((r) => r.contender !== 'tiny-initramfs')),
    }
  })
}

const f2 = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(2))
const ratio = (x: number | undefined): string => (x === undefined ? '-' : `${x.toFixed(2)}x`)
const mib = (b: number | undefined): string => (b === undefined ? '-' : (b / 2 ** 20).toFixed(1))

/** The summary lines, one per machine. Pure. */
export function summaryLines(rows: readonly Row[]): string[] {
  return verdicts(rows).map((v) => {
    const vs = (mine: number | undefined, peer: Row | undefined) =>
      mine === undefined || peer?.median === undefined ? 'n/a' : `${(mine / peer.median).toFixed(2)}x (${labels[peer.contender]} ${peer.median.toFixed(2)} s)`
    return `${v.machine}: modload / best peer ${vs(v.modload, v.best)}; with handover=early ${vs(v.early, v.best)}; modload / best udev-based peer ${vs(v.modload, v.bestUdev)}, handover=early ${vs(v.early, v.bestUdev)}`
  })
}

/** The markdown table. Pure. */
export function table(rows: readonly Row[]): string {
  const out = [
    `| machine | image | size (MiB) | kernel start → /init's first line (s) | first line → root's init (s) | kernel start → root's init, median (s) | runs (s) | CPU busy, median (s) | ${baselines.map((b) => `vs ${labels[b]}`).join(' | ')} |`,
    `|---|---|---|---|---|---|---|---|${baselines.map(() => '---').join('|')}|`,
  ]
  for (const r of rows) {
    const b = (s: string) => (isModload(r.contender) ? `**${s}**` : s)
    if (r.cannot !== undefined) {
      out.push(`| ${r.machine} | ${labels[r.contender]} | ${mib(r.bytes)} | - | - | cannot: ${r.cannot.replaceAll('|', '\\|')} | | | ${baselines.map(() => '').join(' | ')} |`)
      continue
    }
    const runs = r.runs.map((x) => x.toFixed(2)).join(', ') + (r.failed ? ` (+${r.failed} failed)` : '') + (r.pids.length ? ` (root init pid ${r.pids.join(', ')})` : '')
    out.push(`| ${r.machine} | ${labels[r.contender]} | ${mib(r.bytes)} | ${f2(r.first)} | ${f2(r.afterFirst)} | ${b(f2(r.median))} | ${runs} | ${f2(r.busy)} | ${baselines.map((x) => (x === r.contender ? '1.00x' : b(ratio(r.vs[x])))).join(' | ')} |`)
  }
  return out.join('\n')
}

const colours: Readonly<Record<Contender, string>> = {
  modload: '#2ca02c',
  'modload-early': '#98df8a',
  'initramfs-tools-most': '#1f77b4',
  'initramfs-tools-dep': '#aec7e8',
  'dracut-generic': '#ff7f0e',
  'dracut-hostonly': '#ffbb78',
  'tiny-initramfs': '#7f7f7f',
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Horizontal bars, grouped by machine: each contender's median time from kernel start to the
 * root's init, its single runs as dots, modload's /init first line as a tick inside its bar;
 * a contender that cannot boot the machine gets the words instead of a bar. Pure. */
export function svgChart(rows: readonly Row[], title: string): string {
  const machines = [...new Set(rows.map((r) => r.machine))]
  const W = 980
  const rowH = 22
  const headH = 26
  const labelW = 230
  const top = 64
  const plotW = W - labelW - 70
  const max = Math.max(1, ...rows.flatMap((r) => [r.median ?? 0, ...r.runs]))
  const step = max <= 12 ? 1 : max <= 40 ? 5 : 10
  const axisMax = Math.ceil(max / step) * step
  const x = (v: number) => labelW + (v / axisMax) * plotW
  const height = top + machines.length * headH + rows.length * rowH + 50
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${height}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ]
  const bottom = height - 40
  for (let v = 0; v <= axisMax; v += step) {
    parts.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${top - 8}" y2="${bottom}" stroke="#e3e3e3"/>`)
    parts.push(`<text x="${x(v).toFixed(1)}" y="${top - 12}" text-anchor="middle" font-size="10">${v}</text>`)
  }
  parts.push(`<text x="${labelW + plotW / 2}" y="${top - 28}" text-anchor="middle" font-size="11">seconds from kernel start to the root's init (guest clock); bar: median, dots: runs</text>`)
  let y = top
  for (const machine of machines) {
    parts.push(`<text x="8" y="${y + 17}" font-size="13" font-weight="bold">${esc(machine)}</text>`)
    y += headH
    for (const r of rows.filter((r) => r.machine === machine)) {
      parts.push(`<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${esc(labels[r.contender])}</text>`)
      if (r.cannot !== undefined) {
        const why = r.cannot.replace(/^powered off without reaching the root: /, '')
        parts.push(`<text x="${labelW + 6}" y="${y + 15}" fill="#888">cannot boot this machine: ${esc(why.length > 80 ? `${why.slice(0, 79)}…` : why)}</text>`)
      } else if (r.median !== undefined) {
        const w = Math.max(1, x(r.median) - labelW)
        parts.push(`<rect x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${colours[r.contender]}"/>`)
        for (const v of r.runs) parts.push(`<circle cx="${x(v).toFixed(1)}" cy="${y + rowH / 2}" r="2.5" fill="black" fill-opacity="0.6"/>`)
        if (r.first !== undefined) parts.push(`<line x1="${x(r.first).toFixed(1)}" x2="${x(r.first).toFixed(1)}" y1="${y + 2}" y2="${y + rowH - 2}" stroke="black" stroke-width="2"/>`)
        parts.push(`<text x="${(Math.max(x(r.median), ...r.runs.map(x)) + 6).toFixed(1)}" y="${y + 15}">${r.median.toFixed(1)}</text>`)
      }
      y += rowH
    }
  }
  parts.push(`<line x1="${labelW}" x2="${labelW}" y1="${top - 8}" y2="${bottom}" stroke="black"/>`)
  parts.push(`<line x1="${labelW + 7}" x2="${labelW + 7}" y1="${bottom + 13}" y2="${bottom + 27}" stroke="black" stroke-width="2"/>`)
  parts.push(`<text x="${labelW + 20}" y="${bottom + 24}">modload's /init first line (start uptime)</text>`)
  parts.push(`<text x="${W - 10}" y="${bottom + 24}" text-anchor="end" fill="#555">green: modload; QEMU TCG, 1 vCPU</text>`)
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

/** Regular files and .ko files in an `lsinitramfs -l` listing. Pure. */
export function countListing(text: string): { files: number; modules: number } {
  let files = 0
  let modules = 0
  for (const line of text.split('\n')) {
    const m = /^-\S+\s+\d+\s+\S+\s+\S+\s+\d+\s+\S+\s+\d+\s+\S+\s+(.+)$/.exec(line)
    if (!m) continue
    files++
    if (/\.ko(\.(xz|zst|gz))?$/.test(m[1])) modules++
  }
  return { files, modules }
}

/** The cache key of modload's image: everything that shapes it. Pure. */
export function modloadImageKey(p: { exeSize: number; exeMtimeMs: number; kver: string; kernelRoot: string; captureDigest: string; args: readonly string[] }): string {
  return createHash('sha256').update(JSON.stringify([p.exeSize, p.exeMtimeMs, p.kver, p.kernelRoot, p.captureDigest, p.args])).digest('hex').slice(0, 16)
}

export interface E2eOptions {
  runs: number
  machines: readonly string[]
  flavor: KernelFlavor
  /** write docs/e2e-boot.md (or the kernel's own page: docBase) and its chart */
  write: boolean
  /** more QEMU arguments for every boot (BENCH_E2E_QEMU_ARGS) */
  qemuArgs: string[]
  log: (line: string) => void
}

/** Options from the environment (see the header) and argv (`--write`). */
export function optionsFromEnv(env: NodeJS.ProcessEnv, argv: readonly string[], log: (line: string) => void): E2eOptions {
  const runs = Number(env.BENCH_E2E_RUNS ?? 3)
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`BENCH_E2E_RUNS=${env.BENCH_E2E_RUNS}: give a whole number >= 1`)
  const machines = (env.BENCH_E2E_MACHINES ?? 'virtio,q35,legacy-pc').split(',').map((m) => m.trim()).filter(Boolean)
  for (const m of machines) {
    if (!machineNames.includes(m)) throw new Error(`BENCH_E2E_MACHINES: unknown machine "${m}"; known: ${machineNames.join(', ')}`)
    if (!rootDiskModules[m]) throw new Error(`BENCH_E2E_MACHINES: no root disk module list for "${m}" (bench/e2e.ts rootDiskModules); known: ${Object.keys(rootDiskModules).join(', ')}`)
  }
  const flavor = (env.BENCH_E2E_KERNEL ?? '6.1') as KernelFlavor
  if (!allKernelFlavors.includes(flavor)) throw new Error(`BENCH_E2E_KERNEL=${flavor}: choose one of ${allKernelFlavors.join(', ')}`)
  const qemuArgs = (env.BENCH_E2E_QEMU_ARGS ?? '').split(' ').filter(Boolean)
  return { runs, machines, flavor, write: argv.includes('--write'), qemuArgs, log }
}

// ---------------------------------------------------------------------------------------------
// Images

const e2eDir = path.join(cacheDir, 'e2e')

export interface Image {
  path: string
  bytes: number
  /** the tool and its version */
  tool: string
  modules?: number
  notes: string[]
}

async function countModules(image: string): Promise<number | undefined> {
  const r = await run('lsinitramfs', ['-l', image], { nothrow: true })
  return r.exitCode === 0 ? countListing(r.stdout.toString()).modules : undefined
}

/** modload's default image for `machine`: host-only from the machine's captured /sys (made
 * with the root disk as root=, on `rootDisk` or the machine's first disk, so the image knows
 * the root's chain; --rootfs ext4 only says again what the capture says). Cached under
 * .cache/e2e. `chain`: the modules the image records as the root's chain (bench/roots.ts). */
export async function ensureModloadImage(kernel: Kernel, machine: string, log: (l: string) => void, rootDisk?: string): Promise<Image & { chain: string[] }> {
  const sysfs = await captureSysfs(kernel, machine, { rootDisk })
  // what goes in (also for --json below), then how it is packed
  const selection = ['--kernel-root', kernel.root, '-k', kernel.version, '--sysfs', sysfs, '--rootfs', 'ext4', '--no-config']
  const args = [...selection, '--compress', 'zstd']
  const exe = await fs.stat(executable)
  const key = modloadImageKey({ exeSize: exe.size, exeMtimeMs: exe.mtimeMs, kver: kernel.version, kernelRoot: kernel.root, captureDigest: await treeDigest(sysfs), args })
  const out = path.join(e2eDir, `modload-${machine}${rootDisk ? `-${rootDisk}` : ''}-${kernel.version}-${key}.img`)
  const version = (await run(executable, ['--version'], { nothrow: true })).stdout.toString().trim() || 'modload'
  if (!(await fs.stat(out).catch(() => undefined))) {
    await fs.mkdir(e2eDir, { recursive: true })
    log(`e2e: building modload's image for ${machine}${rootDisk ? ` (root on ${rootDisk})` : ''}`)
    // mkinitramfs writes through a temporary file and renames it: no half image under `out`
    await run(executable, ['mkinitramfs', '-o', out, ...args], { env: { ...process.env, SOURCE_DATE_EPOCH: '0' }, passthrough: true })
  }
  // lsinitramfs cannot read past the image's lz4 runtime archive: ask mkinitramfs what it put in
  const listed = await run(executable, ['mkinitramfs', '--json', ...selection], { nothrow: true })
  let modules: number | undefined
  let chain: string[] = []
  try {
    const mods = (JSON.parse(listed.stdout.toString()) as { modules: { name: string; reasons: { kind: string }[] }[] }).modules
    modules = mods.length
    chain = mods.filter((m) => m.reasons.some((r) => r.kind === 'root')).map((m) => m.name).sort()
  } catch {
    modules = undefined
  }
  return {
    path: out,
    bytes: (await fs.stat(out)).size,
    tool: version,
    modules,
    chain,
    notes: [`modload mkinitramfs --sysfs ${path.relative(projectRoot, sysfs)} --rootfs ext4 --compress zstd --no-config (default selectors host,usb-host,input)`],
  }
}

async function ensurePeer(kind: PeerKind, kernel: Kernel, machine: string, log: (l: string) => void): Promise<Image> {
  let modules: string[] | undefined
  if (kind === 'tiny-initramfs') {
    const dir = kernel.modulesDir
    modules = moduleListFor(rootDiskModules[machine], await fs.readFile(path.join(dir, 'modules.dep'), 'utf8'), await fs.readFile(path.join(dir, 'modules.builtin'), 'utf8').catch(() => ''))
  }
  const img = await ensurePeerImage(kind, kernel, { log, modules })
  return {
    path: img.path,
    bytes: img.bytes,
    tool: img.tool,
    modules: await countModules(img.path),
    notes: [...(modules ? [`modules: ${modules.join(', ')} (with their dependencies)`] : []), ...img.notes],
  }
}

/** Each contender's image for each machine (the same file where the image does not depend on
 * the machine); a contender whose image cannot be built has the reason instead. */
async function ensureImages(kernel: Kernel, machines: readonly string[], log: (l: string) => void): Promise<Map<string, Image | { error: string }>> {
  const images = new Map<string, Image | { error: string }>()
  for (const machine of machines) {
    for (const c of contenders) {
      if (c === 'modload-early') continue // the same image as modload
      try {
        images.set(`${machine}/${c}`, c === 'modload' ? await ensureModloadImage(kernel, machine, log) : await ensurePeer(c, kernel, machine, log))
      } catch (err) {
        const first = (err as Error).message.split('\n')[0]
        log(`e2e: no image for ${labels[c]} on ${machine}: ${first}`)
        images.set(`${machine}/${c}`, { error: `image not built: ${first}` })
      }
    }
    const m = images.get(`${machine}/modload`)
    if (m) images.set(`${machine}/modload-early`, m)
  }
  return images
}

// ---------------------------------------------------------------------------------------------
// The run

export function loadAverage(): string {
  return os.loadavg().map((x) => x.toFixed(1)).join(' ')
}

/** The docs' file name (without extension) for a kernel and the QEMU arguments added: each
 * keeps its own page. Pure. */
export function docBase(flavor: KernelFlavor, qemuArgs: readonly string[] = []): string {
  const kernel = flavor === '6.1' ? 'e2e-boot' : `e2e-boot-${flavor}`
  const more = qemuArgsSlug(qemuArgs)
  return more ? `${kernel}-${more}` : kernel
}

function commandLine(opts: E2eOptions): string {
  const qemu = opts.qemuArgs.length ? ` BENCH_E2E_QEMU_ARGS='${opts.qemuArgs.join(' ')}'` : ''
  return `BENCH_E2E_RUNS=${opts.runs} BENCH_E2E_MACHINES=${opts.machines.join(',')} BENCH_E2E_KERNEL=${opts.flavor}${qemu} npm run bench:e2e -- --write`
}

async function writeDocs(rows: readonly Row[], opts: E2eOptions, info: { date: string; kernel: string; wallSeconds: number; load: string; images: Map<string, Image | { error: string }>; boots: number }): Promise<void> {
  const docs = path.join(projectRoot, 'docs')
  await fs.mkdir(docs, { recursive: true })
  const date = info.date.slice(0, 16).replace('T', ' ')
  const base = docBase(opts.flavor, opts.qemuArgs)
  await fs.writeFile(path.join(docs, `${base}.svg`), svgChart(rows, `Kernel start to the real root's init on ${info.kernel}, QEMU TCG (median of ${opts.runs})`))
  let png = false
  try {
    await ensureDebianPackages(['librsvg2-bin'])
    const rsvg = await findCommand('rsvg-convert')
    if (rsvg) {
      await run(rsvg, ['-o', path.join(docs, `${base}.png`), path.join(docs, `${base}.svg`)])
      png = true
    }
  } catch (err) {
    opts.log(`e2e: no PNG (${(err as Error).message.split('\n')[0]}); the SVG is written`)
  }
  const holds: string[] = []
  for (const c of contenders) {
    if (c === 'modload-early') continue
    // one entry per distinct file: the machine-independent images are the same file everywhere
    const byFile = new Map<string, { machines: string[]; img: Image | { error: string } }>()
    for (const m of opts.machines) {
      const img = info.images.get(`${m}/${c}`)
      if (!img) continue
      const k = 'error' in img ? `error:${m}` : img.path
      const e = byFile.get(k) ?? { machines: [], img }
      e.machines.push(m)
      byFile.set(k, e)
    }
    const entries = [...byFile.values()]
    const named = (ms: string[]) => (entries.length > 1 ? `${ms.join(', ')}: ` : '')
    const per = entries.map(({ machines: ms, img }) => `${named(ms)}${'error' in img ? img.error : `${mib(img.bytes)} MiB, ${img.modules ?? '?'} .ko files`}`)
    const notes = entries.flatMap(({ machines: ms, img }) => ('error' in img ? [] : img.notes.map((n) => `${named(ms)}${n}`)))
    const tool = entries.map((e) => e.img).find((i): i is Image => !('error' in i))?.tool ?? 'n/a'
    const what = c === 'modload'
      ? "modload's default image for the machine (host-only, from its captured /sys, the capture made with the benchmark's root disk as root=, so the image records the root's chain as one built on the installed machine would): the executable as /init with its libraries (in an lz4 archive of their own), the modules the machine's devices need plus the usb-host and input classes (what no boot waits for left to the root's loader, as initramfs-tools and dracut leave it: processor-feature modules such as kvm and the crypto accelerators, sound, watchdogs, the PC speaker; but the CPU's SHA-256 module, which modload loads first so that the kernel checks every later module's signature with it), ext4, trimmed depmod indexes; no shell, no udev. The modules outside the root's chain are each compressed on their own (zstd) in an uncompressed archive, decompressed by modload when it loads them; the chain's are plain in the zstd archive. The same file boots both modload rows"
      : peerSpecs[c].description
    holds.push(`- **${labels[c]}** (${tool}, ${c === 'modload' ? 'zstd -9, runtime lz4, modules one by one' : peerSpecs[c].compression}): ${what}. ${per.join('; ')}.${notes.length ? `\n${notes.map((n) => `  - ${n}`).join('\n')}` : ''}`)
  }
  const icount = opts.qemuArgs.includes('-icount')
  const clockNote = opts.qemuArgs.length === 0
    ? ''
    : `\n**QEMU arguments added to every boot: \`${opts.qemuArgs.join(' ')}\`.**${icount ? ` With \`-icount\` QEMU's guest clock no longer follows the host's: it advances by a fixed time per guest instruction (1 ns with shift=0) and, while the guest idles, by the real time it waits. So the times below are what a steady in-order machine executing one instruction per nanosecond would take, without the emulator's uneven speed: translating code that runs for the first time (most of a Node or systemd start-up) costs nothing here, where it costs 10-50x under plain TCG. Runs barely vary. Read this page beside the plain TCG page (\`${docBase(opts.flavor)}.md\`), which is how the tests boot: neither is a hardware measurement.` : ''}\n`
  const doc = `# End to end: kernel start to the real root's init${opts.qemuArgs.length ? ` (QEMU ${opts.qemuArgs.join(' ')})` : ''}

Generated by \`bench/e2e.ts\`; do not edit by hand (re-run the command below).
${clockNote}
Command: \`${commandLine(opts)}\`
(the script runs \`node build/setup.mjs && node build/run.mjs bench/e2e.ts --write\`).
Measured ${date} UTC on ${info.kernel}, host load average at the start ${info.load}, ${info.boots} boots in ${info.wallSeconds.toFixed(0)} s of wall time.

Each image boots a Debian kernel in QEMU (TCG, no KVM; 1 vCPU; 1024 MiB, the machines' default) with
a 32 MiB ext4 root disk in place of the machine's first disk (virtio: virtio-blk, q35: NVMe,
legacy-pc: AHCI) and \`root=UUID=<uuid> rootfstype=ext4\` on the kernel command line, after
\`console=ttyS0 quiet panic=-1\`. The root's \`/sbin/init\` (a busybox script,
\`initramfs/peers.ts\`) prints \`/proc/uptime\` and powers off: the time is the guest's clock from
kernel start to the real root's init, i.e. kernel boot, unpacking the image, the initramfs's
work (drivers, waiting for the disk, mounting) and the switch to the root. ${opts.runs} runs per
image and machine, interleaved (a round boots every image on every machine, each round in
another order); medians. An image that does not reach the root in its first run on a machine
"cannot" boot it (the reason is the first failure line on its console) and is not run there
again. Words added for the failure path only, so such a boot ends quickly: modload
\`${extraCmdline.modload}\`, dracut \`${extraCmdline['dracut-generic']}\`; \`modload (handover=early)\` adds
\`modload.handover=early\`. tiny-initramfs's boot is stopped at its \`Couldn't load MODULE:\` warning (it
would wait 180 s for the root).

"/init's first line" is modload's \`start uptime=\` line, printed once the executable's runtime
is up (the others print nothing with \`quiet\`: '-'); "first line → root's init" is the median
of each run's difference, i.e. modload's own work: coldplug, waiting for the disk, mounting and
switching to the root. "CPU busy" is uptime minus the idle field
of \`/proc/uptime\` at the root's init: how much of the time the one vCPU worked (the kernel's
own boot included). Ratios divide the row's median by the named image's median on the same
machine.

![kernel start to root init per machine and image](${base}.${png ? 'png' : 'svg'})

${table(rows)}

${summaryLines(rows).map((l) => `- ${l}`).join('\n')}

## What each image holds

${holds.join('\n')}

## Reading the numbers

- Under TCG every instruction is translated: user-space work is 10-50x slower than on hardware
  and the kernel's own work (unpacking, decompressing, module loading with signature checks)
  slower too. Compare the images with each other within one run, never with a native boot.
- The host has 2 cores shared with other work (the load average above); each guest has one
  vCPU. ${icount ? 'On this clock runs repeat to about 10 ms, whatever the host does (only idle waits follow real time).' : 'Single runs vary by a second or more: read the medians as rough, and the dots in the chart for the spread.'}
- Size counts twice: the kernel unpacks the whole image before /init runs (decompression
  included, on the one vCPU), so a larger image starts its /init later. modload's image
  carries the Node-based executable (tens of MiB, in an lz4 archive that is quick to unpack)
  and it starts its runtime before its first line (0.6-0.9 s under TCG); tiny-initramfs is a
  static C program with a handful of modules.
- The udev-based images start udev and trigger every device, so they load every driver they
  hold for the machine's devices on the way to the root: initramfs-tools waits for udev to
  settle (\`udevadm trigger\` then \`udevadm settle\` in init-top) before it looks for the root
  device; dracut's systemd triggers every device (systemd-udev-trigger) and mounts the root once
  its device unit is there, its initqueue looping over \`udevadm settle\` where it runs. modload by
  default does the same as initramfs-tools: it waits for its coldplug to settle
  (every device's driver loaded), as a root without udev needs. With \`modload.handover=early\`
  it mounts as soon as the root device is there (loads already started are waited for, nothing
  new starts), leaving the rest to the root's own udev: on this root, which has no udev, those
  drivers are simply never loaded, so the early number is what a full distribution sees until
  its own udev starts, not the cost of the same work.
- tiny-initramfs loads exactly the modules it was given for the machine's disk, in order, with
  no udev and no coldplug: the floor of what an initramfs can do, at the price of booting only
  that one disk. The host-only images (initramfs-tools MODULES=dep, dracut --hostonly) describe
  the build machine, whose root is on a virtio disk: where they lack the machine's disk driver
  they cannot boot it.
- dracut runs systemd as its init; its numbers include systemd's start-up under TCG.
`
  await fs.writeFile(path.join(docs, `${base}.md`), doc)
  opts.log(`e2e: wrote docs/${base}.md, docs/${base}.svg${png ? `, docs/${base}.png` : ''}`)
}

/** Run the benchmark; returns the rows. */
export async function runE2eBench(opts: E2eOptions): Promise<Row[]> {
  const started = Date.now()
  const load = loadAverage()
  await ensureHostTools()
  await ensureDebianPackages(['initramfs-tools-core']) // lsinitramfs
  const kernel = await ensureKernel(opts.flavor)
  await ensureExecutable()
  for (const m of opts.machines) getMachine(m) // unknown machines fail before the images
  // built once, before the boots: the executable may change under us while they run
  const images = await ensureImages(kernel, opts.machines, opts.log)
  const samples: Sample[] = []
  const cannot = new Set<string>()
  let boots = 0
  for (let round = 1; round <= opts.runs; round++) {
    for (const machine of opts.machines) {
      for (const c of rotate(contenders, round - 1)) {
        const key = `${machine}/${c}`
        const img = images.get(key)
        if (!img || cannot.has(key)) continue
        if ('error' in img) {
          if (round === 1) samples.push({ machine, contender: c, round, reached: false, failure: img.error })
          cannot.add(key)
          continue
        }
        const b = await bootToRoot({ kernel, image: img.path, machine, append: ['rootfstype=ext4', extraCmdline[c]].filter(Boolean).join(' '), qemuArgs: opts.qemuArgs, giveUp: giveUp[c] })
        boots++
        const start = isModload(c) ? parseStartLine(b.result.lines)?.uptime : undefined
        const s: Sample = { machine, contender: c, round, reached: b.reached, uptime: b.uptime, idle: b.idle, pid: b.pid, start }
        if (!b.reached) s.failure = failureReason(b.result.lines, b.result.timedOut, b.result.panicked, b.gaveUp)
        samples.push(s)
        if (!b.reached && round === 1) cannot.add(key)
        const what = b.reached ? `root init at ${b.uptime?.toFixed(2)} s (busy ${((b.uptime ?? 0) - (b.idle ?? 0)).toFixed(2)} s${start !== undefined ? `, /init first line ${start.toFixed(2)} s` : ''}${b.pid !== 1 ? `, pid ${b.pid}` : ''})` : `did not reach the root: ${s.failure}`
        opts.log(`e2e: round ${round}/${opts.runs} ${machine} ${labels[c]}: ${what}, wall ${(b.result.durationMs / 1000).toFixed(1)} s`)
      }
    }
  }
  const record: RunRecord = {
    date: new Date(started).toISOString(),
    runs: opts.runs,
    machines: [...opts.machines],
    flavor: opts.flavor,
    qemuArgs: opts.qemuArgs,
    kernel: kernel.version,
    load,
    wallSeconds: (Date.now() - started) / 1000,
    boots,
    images: [...images],
    samples,
  }
  // kept, so the report can be written again (--from) without booting
  const saved = path.join(e2eDir, `run-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  await fs.mkdir(e2eDir, { recursive: true })
  await fs.writeFile(saved, JSON.stringify(record, null, 1) + '\n')
  opts.log(`e2e: samples saved in ${path.relative(projectRoot, saved)}`)
  return report(record, opts)
}

/** Everything a report needs: what was run and what each boot gave. */
export interface RunRecord {
  /** when the run started (ISO 8601) */
  date: string
  runs: number
  machines: string[]
  flavor: KernelFlavor
  /** QEMU arguments added to every boot (absent in records made before they could be) */
  qemuArgs?: string[]
  kernel: string
  load: string
  wallSeconds: number
  boots: number
  images: Array<[string, Image | { error: string }]>
  samples: Sample[]
}

/** Print the table and the summary of a run; with opts.write, write the docs. */
async function report(record: RunRecord, opts: E2eOptions): Promise<Row[]> {
  const images = new Map(record.images)
  const size = (machine: string, c: Contender) => {
    const i = images.get(`${machine}/${c}`)
    return i && !('error' in i) ? i.bytes : undefined
  }
  const rows = summarise(record.samples, record.machines, size)
  opts.log(`\n${table(rows)}\n`)
  for (const l of summaryLines(rows)) opts.log(l)
  opts.log(`e2e: ${record.boots} boots, ${record.wallSeconds.toFixed(0)} s wall, load average at start ${record.load}`)
  const as = { ...opts, runs: record.runs, machines: record.machines, flavor: record.flavor, qemuArgs: record.qemuArgs ?? [] }
  if (opts.write) await writeDocs(rows, as, { date: record.date, kernel: record.kernel, wallSeconds: record.wallSeconds, load: record.load, images, boots: record.boots })
  return rows
}

/** `--from FILE`: the report of a saved run (its samples file), without booting. */
export async function reportSaved(file: string, opts: E2eOptions): Promise<Row[]> {
  const record = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<RunRecord> & Omit<RunRecord, 'date'>
  // a record saved before it had a date: it was written when the run ended
  const date = record.date ?? new Date((await fs.stat(file)).mtimeMs - record.wallSeconds * 1000).toISOString()
  return report({ ...record, date }, opts)
}

// run.mjs bundles the entry with what it imports into one file, where import.meta.url is the
// bundle's for every module: the file's own name tells this script from one that imports it
const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href && /^e2e\.(ts|mjs)$/.test(path.basename(process.argv[1]))
if (isEntry) {
  try {
    const argv = process.argv.slice(2)
    const opts = optionsFromEnv(process.env, argv, (l) => process.stdout.write(`${l}\n`))
    const from = argv.indexOf('--from')
    if (from >= 0 && argv[from + 1] === undefined) throw new Error('--from needs the samples file a run saved (.cache/e2e/run-*.json)')
    await (from >= 0 ? reportSaved(argv[from + 1], opts) : runE2eBench(opts))
  } catch (err) {
    process.stderr.write(`bench e2e: ${(err as Error).stack ?? err}\n`)
    process.exitCode = 1
  }
}
