// `npm run bench:images [-- --write]` (node build/run.mjs bench/image-size.ts): the image-size
// benchmark of issue 9. For the 6.1 test kernel (BENCH_IMAGES_KERNEL=6.12 for the other), every
// contender builds its initramfs in this run, one after the other, timed on the wall clock:
//   modload-all      dist/modload mkinitramfs --modules all --compress zstd
//   modload-default  dist/modload mkinitramfs --sysfs DIR --compress zstd, DIR the captured /sys
//                    of the QEMU virtio machine (qemu/capture.ts): modload's host-only default
//   the peers of initramfs/peers.ts: initramfs-tools MODULES=most and dep, dracut --hostonly
//                    and --no-hostonly, tiny-initramfs with virtio_blk + ext4
// and lsinitramfs (initramfs-tools-core) lists what each image holds: kernel modules and the
// unpacked size. Prints a table with ratios against initramfs-tools MODULES=dep (Debian's own
// host-only image); with --boot it then boots each image once on the QEMU virtio machine to the
// ext4 root of initramfs/peers.ts (root=UUID=...) and reports whether, and when, the root's init
// ran; with --write also docs/image-size.md, docs/image-size.svg and, when librsvg2-bin can be
// installed, docs/image-size.png.
import { mkdir, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { ensureExecutable, executable } from '../qemu/artefacts.js'
import { ensureDebianPackages, ensureHostTools, findCommand } from '../qemu/deps.js'
import { run } from '../qemu/exec.js'
import { ensureKernel, allKernelFlavors, type Kernel, type KernelFlavor } from '../qemu/kernels.js'
import { projectRoot } from '../qemu/paths.js'
import { bootToRoot, ensurePeerImage, peerKinds, peersDir, peerSpecs, virtioExt4Modules } from '../initramfs/peers.js'

const contenders = ['modload-all', 'modload-default', ...peerKinds] as const
type Contender = (typeof contenders)[number]

/** The baseline of the ratios. */
const baseline: Contender = 'initramfs-tools-dep'

const labels: Readonly<Record<Contender, string>> = {
  'modload-all': 'modload, all modules',
  'modload-default': 'modload, default (host-only)',
  'initramfs-tools-most': 'initramfs-tools MODULES=most',
  'initramfs-tools-dep': 'initramfs-tools MODULES=dep',
  'dracut-hostonly': 'dracut --hostonly',
  'dracut-generic': 'dracut --no-hostonly',
  'tiny-initramfs': 'tiny-initramfs',
}

const modloadNotes: Readonly<Record<'modload-all' | 'modload-default', { compression: string; description: string }>> = {
  'modload-all': { compression: 'zstd -9, runtime lz4', description: "modload mkinitramfs --modules all: the executable as /init with its libraries, every module of the kernel and depmod's indexes" },
  'modload-default': { compression: 'zstd -9, runtime lz4', description: "modload mkinitramfs --sysfs DIR: the modules the captured /sys of the QEMU virtio machine needs, with the executable and trimmed indexes" },
}

export interface Measurement {
  id: Contender
  /** the tool and its version */
  tool: string
  bytes?: number
  buildSeconds?: number
  /** .ko files in the image (lsinitramfs) */
  modules?: number
  /** sum of the regular files' sizes in the image */
  unpackedBytes?: number
  /** why there is no number */
  unavailable?: string
  /** the image file (for --boot) */
  path?: string
  /** --boot: guest seconds from kernel start to the root's init, or why it was not reached */
  root?: { uptime?: number; failure?: string }
  notes: string[]
  warnings: string[]
}

export interface Row extends Measurement {
  sizeRatio?: number
  buildRatio?: number
}

/** Ratios against the baseline. Pure. */
export function withRatios(ms: readonly Measurement[]): Row[] {
  const base = ms.find((m) => m.id === baseline)
  return ms.map((m) => ({
    ...m,
    sizeRatio: m.bytes !== undefined && base?.bytes ? m.bytes / base.bytes : undefined,
    buildRatio: m.buildSeconds !== undefined && base?.buildSeconds ? m.buildSeconds / base.buildSeconds : undefined,
  }))
}

const mib = (b: number | undefined): string => (b === undefined ? 'n/a' : (b / 2 ** 20).toFixed(2))
const ratio = (r: number | undefined): string => (r === undefined ? 'n/a' : `${r.toFixed(2)}x`)

function compressionOf(id: Contender): string {
  return id === 'modload-all' || id === 'modload-default' ? modloadNotes[id].compression : peerSpecs[id].compression
}

/** The markdown table. Pure. */
export function table(rows: readonly Row[]): string {
  const out = [
    `| image | tool | compression | size (MiB) | size vs ${labels[baseline]} | unpacked (MiB) | .ko files | build (s) | build vs ${labels[baseline]} |`,
    '|---|---|---|---|---|---|---|---|---|',
  ]
  const booted = rows.some((r) => r.root !== undefined)
  if (booted) {
    out[0] += ' root reached on virtio (s) |'
    out[1] += '---|'
  }
  for (const r of rows) {
    if (r.unavailable !== undefined) {
      out.push(`| ${labels[r.id]} | ${r.tool} | ${compressionOf(r.id)} | ${r.unavailable} | | | | | |${booted ? ' |' : ''}`)
      continue
    }
    const bold = (s: string) => (r.id.startsWith('modload') ? `**${s}**` : s)
    const root = r.root === undefined ? 'not booted' : r.root.uptime !== undefined ? r.root.uptime.toFixed(1) : 'no (see below)'
    out.push(`| ${labels[r.id]} | ${r.tool} | ${compressionOf(r.id)} | ${bold(mib(r.bytes))} | ${bold(ratio(r.sizeRatio))} | ${mib(r.unpackedBytes)} | ${r.modules ?? 'n/a'} | ${r.buildSeconds?.toFixed(1) ?? 'n/a'} | ${ratio(r.buildRatio)} |${booted ? ` ${root} |` : ''}`)
  }
  return out.join('\n')
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Two horizontal bar charts side by side, one bar per image: compressed size and build time,
 * each with its value written at the bar's end (a 0.7 MiB bar beside a 100 MiB one is a line).
 * An image without a number gets the reason instead. Pure. */
export function svgChart(rows: readonly Row[], title: string): string {
  const W = 980
  const rowH = 30
  const top = 70
  const labelW = 230
  const panelW = (W - labelW - 60) / 2
  const H = top + rows.length * rowH + 40
  const panels = [
    { name: 'compressed size (MiB)', x0: labelW, value: (r: Row) => (r.bytes === undefined ? undefined : r.bytes / 2 ** 20), fmt: (v: number) => v.toFixed(1), colour: '#1f77b4' },
    { name: 'build time (s, wall clock)', x0: labelW + panelW + 40, value: (r: Row) => r.buildSeconds, fmt: (v: number) => v.toFixed(1), colour: '#ff7f0e' },
  ]
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ]
  for (const p of panels) {
    const max = Math.max(1e-9, ...rows.map((r) => p.value(r) ?? 0))
    const scale = (panelW - 60) / max
    parts.push(`<text x="${p.x0}" y="${top - 14}" font-size="13">${esc(p.name)}</text>`)
    parts.push(`<line x1="${p.x0}" x2="${p.x0}" y1="${top - 6}" y2="${top + rows.length * rowH}" stroke="black"/>`)
    rows.forEach((r, i) => {
      const y = top + i * rowH
      const v = p.value(r)
      if (v === undefined) {
        parts.push(`<text x="${p.x0 + 6}" y="${y + rowH / 2 + 4}" fill="#777">${esc(r.unavailable ? 'not available' : 'n/a')}</text>`)
        return
      }
      const w = Math.max(1, v * scale)
      const fill = r.id.startsWith('modload') ? '#2ca02c' : p.colour
      parts.push(`<rect x="${p.x0}" y="${y + 5}" width="${w.toFixed(1)}" height="${rowH - 10}" fill="${fill}"/>`)
      parts.push(`<text x="${(p.x0 + w + 4).toFixed(1)}" y="${y + rowH / 2 + 4}">${p.fmt(v)}</text>`)
    })
  }
  rows.forEach((r, i) => {
    parts.push(`<text x="${labelW - 8}" y="${top + i * rowH + rowH / 2 + 4}" text-anchor="end">${esc(labels[r.id])}</text>`)
  })
  parts.push(`<text x="${labelW}" y="${H - 14}" fill="#555">green: modload; ratios in docs/image-size.md are against ${esc(labels[baseline])}</text>`)
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

/** Regular files' sizes and the .ko count from `lsinitramfs -l` (cpio -tv lines). Pure. */
export function parseListing(text: string): { files: number; unpackedBytes: number; modules: number } {
  let files = 0
  let unpackedBytes = 0
  let modules = 0
  for (const line of text.split('\n')) {
    // -rw-r--r--   1 root     root        58257 Nov 29 06:42 usr/lib/modules/.../x.ko
    const m = /^-\S+\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\d+\s+\S+\s+(.+)$/.exec(line)
    if (!m) continue
    files++
    unpackedBytes += Number(m[1])
    if (/\.ko(\.(xz|zst|gz))?$/.test(m[2])) modules++
  }
  return { files, unpackedBytes, modules }
}

async function inspect(image: string): Promise<{ modules: number; unpackedBytes: number }> {
  const r = await run('lsinitramfs', ['-l', image], { nothrow: true })
  if (r.exitCode !== 0) return { modules: Number.NaN, unpackedBytes: Number.NaN }
  return parseListing(r.stdout.toString())
}

/** Whether the executable's mkinitramfs has --sysfs, and the capture module is there; the
 * reason when not. */
async function modloadDefaultAvailable(): Promise<{ captureSysfs?: (k: Kernel, machine: string) => Promise<string>; reason?: string }> {
  const help = (await run(executable, ['mkinitramfs', '--help'], { nothrow: true })).stdout.toString()
  if (!help.includes('--sysfs')) return { reason: 'not yet available (`modload mkinitramfs --help` has no --sysfs)' }
  try {
    const mod = (await import('../qemu/capture.js')) as { captureSysfs?: (k: Kernel, machine: string) => Promise<string> }
    if (typeof mod.captureSysfs !== 'function') return { reason: 'not yet available (qemu/capture.ts has no captureSysfs)' }
    return { captureSysfs: mod.captureSysfs }
  } catch (err) {
    return { reason: `not yet available (qemu/capture.ts: ${(err as Error).message.split('\n')[0]})` }
  }
}

async function modloadVersion(): Promise<string> {
  const v = (await run(executable, ['--version'], { nothrow: true })).stdout.toString().trim()
  return v || 'modload'
}

/** Build modload's image with `args` into the benchmark's directory, timed. */
async function buildModload(id: Contender, kernel: Kernel, args: string[]): Promise<Measurement> {
  const out = path.join(peersDir, 'bench', `${id}-${kernel.version}.img`)
  await mkdir(path.dirname(out), { recursive: true })
  await rm(out, { force: true })
  const started = process.hrtime.bigint()
  const r = await run(executable, ['mkinitramfs', '-o', out, '--kernel-root', kernel.root, '-k', kernel.version, ...args, '--compress', 'zstd'], {
    env: { ...process.env, SOURCE_DATE_EPOCH: '0' },
    nothrow: true,
  })
  const buildSeconds = Number(process.hrtime.bigint() - started) / 1e9
  const tool = await modloadVersion()
  if (r.exitCode !== 0) return { id, tool, unavailable: `failed: ${r.stderr.trim().split('\n').at(-1)}`, notes: [], warnings: [] }
  const bytes = (await stat(out)).size
  // lsinitramfs reads one compressed archive, and modload's runtime comes in one of its own:
  // the same build's plan says what is inside
  const plan = await run(executable, ['mkinitramfs', '--json', '--kernel-root', kernel.root, '-k', kernel.version, ...args], { nothrow: true })
  let contents = { modules: Number.NaN, unpackedBytes: Number.NaN }
  if (plan.exitCode === 0) {
    const j = JSON.parse(plan.stdout.toString()) as { modules: unknown[]; sizes: Record<string, number> }
    contents = { modules: j.modules.length, unpackedBytes: Object.values(j.sizes).reduce((a, b) => a + b, 0) }
  }
  return { id, tool, bytes, buildSeconds, path: out, ...contents, notes: [], warnings: [] }
}

async function measure(id: Contender, kernel: Kernel, log: (l: string) => void): Promise<Measurement> {
  if (id === 'modload-all') return buildModload(id, kernel, ['--modules', 'all'])
  if (id === 'modload-default') {
    const avail = await modloadDefaultAvailable()
    if (!avail.captureSysfs) return { id, tool: await modloadVersion(), unavailable: avail.reason, notes: [], warnings: [] }
    const dir = await avail.captureSysfs(kernel, 'virtio') // not timed: it boots the machine once
    // the capture comes from a boot without a mounted root: --rootfs says what / will be, as the
    // host selector reads it from /proc/self/mountinfo on an installed machine
    const m = await buildModload(id, kernel, ['--sysfs', dir, '--rootfs', 'ext4'])
    return { ...m, notes: [`--sysfs ${path.relative(projectRoot, dir)} (the QEMU virtio machine's /sys, captured by qemu/capture.ts) --rootfs ext4 (the root disk's filesystem)`] }
  }
  try {
    const img = await ensurePeerImage(id, kernel, { force: true, log, modules: virtioExt4Modules })
    return { id, tool: img.tool, bytes: img.bytes, buildSeconds: img.buildSeconds, path: img.path, ...(await inspect(img.path)), notes: img.notes, warnings: img.warnings }
  } catch (err) {
    const first = (err as Error).message.split('\n')[0]
    return { id, tool: peerSpecs[id].package, unavailable: `failed: ${first}`, notes: [], warnings: [] }
  }
}

/** Why a boot did not reach the root: the initramfs's own error line when it printed one
 * (modload's `root: error:`, initramfs-tools' `Gave up waiting`, dracut's `Could not boot`),
 * else how the boot ended. Pure. */
export function rootFailure(lines: readonly string[], timedOut: boolean, panicked: boolean): string {
  const said = lines.map((l) => /(root: error: .*|Gave up waiting for root .*|Could not boot.*)$/.exec(l)?.[1]).find((x) => x !== undefined)
  const how = timedOut ? 'timed out' : panicked ? 'kernel panic' : 'powered off without the marker'
  return said ? `${how}; the console said \`${said.replaceAll('`', "'")}\`` : how
}

export interface ImageBenchOptions {
  flavor: KernelFlavor
  write: boolean
  /** boot each image once to the root disk on the virtio machine */
  boot: boolean
  log: (line: string) => void
}

async function writeDocs(rows: readonly Row[], opts: ImageBenchOptions, info: { kernel: string; wallSeconds: number; load: string }): Promise<void> {
  const docs = path.join(projectRoot, 'docs')
  await mkdir(docs, { recursive: true })
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ')
  await writeFile(path.join(docs, 'image-size.svg'), svgChart(rows, `initramfs images for ${info.kernel}: size and build time`))
  let png = false
  try {
    await ensureDebianPackages(['librsvg2-bin'])
    const rsvg = await findCommand('rsvg-convert')
    if (rsvg) {
      await run(rsvg, ['-o', path.join(docs, 'image-size.png'), path.join(docs, 'image-size.svg')])
      png = true
    }
  } catch (err) {
    opts.log(`image bench: no PNG (${(err as Error).message.split('\n')[0]}); the SVG is written`)
  }
  const describe = (r: Row): string => {
    const d = r.id === 'modload-all' || r.id === 'modload-default' ? modloadNotes[r.id].description : peerSpecs[r.id].description
    const extra = [
      ...(r.root?.failure ? [`did not reach the root on virtio: ${r.root.failure}`] : []),
      ...r.notes,
      ...r.warnings.map((w) => `the tool said: \`${w.replaceAll('`', "'")}\``),
    ]
    return `- **${labels[r.id]}** (${r.tool}): ${d}.${extra.length ? `\n${extra.map((e) => `  - ${e}`).join('\n')}` : ''}`
  }
  const doc = `# Image size: modload's initramfs against Debian's initramfs builders

Generated by \`bench/image-size.ts\`; do not edit by hand (re-run the command below).

Command: \`BENCH_IMAGES_KERNEL=${opts.flavor} npm run bench:images -- ${opts.boot ? '--boot ' : ''}--write\`.
Measured ${date} UTC for ${info.kernel}, host load average at the start ${info.load}, ${info.wallSeconds.toFixed(0)} s of wall time.

Every image is built in the same run, one after the other, by its own tool, for the same Debian
kernel (the cached, depmod'ed tree of \`qemu/kernels.ts\`); the build time is the tool's wall-clock
time on the project's machine (2 cores, shared: compare within one run only). Sizes are of the
file the boot loader loads; "unpacked" adds up the regular files in it and ".ko files" counts its
kernel modules, both as \`lsinitramfs -l\` lists them (for modload's images, whose runtime is an archive of its
own that lsinitramfs does not read, as \`mkinitramfs --json\` plans them). Ratios are against ${labels[baseline]},
the image Debian's own tool makes for the machine it runs on.${opts.boot ? `
"Root reached" is one boot of each image on the QEMU \`virtio\` machine (TCG, 1 CPU, 2048 MiB)
with the ext4 root disk of \`initramfs/peers.ts\` (\`root=UUID=...\`): the guest's uptime when the
root's own /sbin/init ran, i.e. kernel start, unpacking, the initramfs's work and the switch to
the root. One run on a shared machine: it shows that each image boots, not a timing to compare
(that is the boot benchmark's job).` : ''}

![image size and build time per builder](image-size.${png ? 'png' : 'svg'})

${table(rows)}

## What each image holds

${rows.map(describe).join('\n')}

## Reading the numbers

- The compressors differ, as each tool's default does (the column says which): initramfs-tools
  and modload use zstd at level 9, dracut zstd at level 15, tiny-initramfs gzip -9 (fixed). The
  unpacked column is free of that.
- Host-only images describe the machine the tool runs on. Here that is the project's build
  machine, a Firecracker VM whose root is an ext4 file system on a virtio-pci block device
  (\`/dev/vda\`), i.e. the same kind of disk as the QEMU \`virtio\` machine, so these images boot
  there${opts.boot ? ' (the last column)' : ''}. Its kernel has every driver
  built in and no loadable modules (no /proc/modules): dracut's host-only filter, which keeps only
  loaded modules, therefore switches itself off for kernel drivers ("Switching to non-hostonly
  mode"), and MODULES=dep walks /sys for the root disk's drivers by name. modload's default image
  is made from the captured /sys of the QEMU virtio machine itself (\`qemu/capture.ts\`).
- The peers run with private configurations (initramfs-tools' defaults with MODULES set; an
  empty dracut.conf), never /etc's, and read the kernel's modules from the cache: dracut through
  \`--kmoddir\`, mkinitramfs and mktirfs from /lib/modules/KVER, which they see in a private mount
  namespace (\`initramfs/peers.ts\`); the host is not changed.
- dracut includes systemd (installed on the build machine) and udev; initramfs-tools includes
  udev, busybox and klibc; tiny-initramfs has a static C init and only the modules it is given
  (${virtioExt4Modules.join(', ')} and their dependencies) and no udev: it boots this one disk.
`
  await writeFile(path.join(docs, 'image-size.md'), doc)
  opts.log(`image bench: wrote docs/image-size.md, docs/image-size.svg${png ? ', docs/image-size.png' : ''}`)
}

/** Run the benchmark; returns the rows. */
export async function runImageBench(opts: ImageBenchOptions): Promise<Row[]> {
  const started = Date.now()
  const load = os.loadavg().map((x) => x.toFixed(1)).join(' ')
  await ensureHostTools()
  await ensureDebianPackages(['initramfs-tools-core']) // lsinitramfs
  const kernel = await ensureKernel(opts.flavor)
  await ensureExecutable()
  const ms: Measurement[] = []
  for (const id of contenders) {
    opts.log(`image bench: ${labels[id]}`)
    const m = await measure(id, kernel, opts.log)
    opts.log(`image bench: ${labels[id]}: ${m.unavailable ?? `${mib(m.bytes)} MiB, ${m.buildSeconds?.toFixed(1)} s, ${m.modules} modules`}`)
    ms.push(m)
  }
  if (opts.boot) {
    for (const m of ms) {
      if (!m.path) continue
      // the same RAM for all: modload's all-modules image unpacks to ~460 MiB
      // modload's init would otherwise wait (and say why every 30 s) when the root fails
      const append = m.id.startsWith('modload') ? 'modload.onfail=poweroff' : undefined
      const b = await bootToRoot({ kernel, image: m.path, machine: 'virtio', memMiB: 2048, append })
      m.root = b.reached ? { uptime: b.uptime } : { failure: rootFailure(b.result.lines, b.result.timedOut, b.result.panicked) }
      opts.log(`image bench: ${labels[m.id]} boots to the root: ${b.reached ? `yes, root init at ${b.uptime?.toFixed(1)} s` : `no (${m.root.failure})`}`)
    }
  }
  const rows = withRatios(ms)
  const wallSeconds = (Date.now() - started) / 1000
  opts.log(`\n${table(rows)}\n`)
  opts.log(`image bench: ${wallSeconds.toFixed(0)} s wall, load average at start ${load}`)
  if (opts.write) await writeDocs(rows, opts, { kernel: kernel.version, wallSeconds, load })
  return rows
}

const flavor = (process.env.BENCH_IMAGES_KERNEL ?? '6.1') as KernelFlavor
if (!allKernelFlavors.includes(flavor)) {
  process.stderr.write(`BENCH_IMAGES_KERNEL=${flavor}: choose one of ${allKernelFlavors.join(', ')}\n`)
  process.exitCode = 2
} else {
  const argv = process.argv.slice(2)
  await runImageBench({ flavor, write: argv.includes('--write'), boot: argv.includes('--boot'), log: (l) => process.stdout.write(`${l}\n`) }).catch((err) => {
    process.stderr.write(`bench images: ${(err as Error).stack ?? err}\n`)
    process.exitCode = 1
  })
}

