// The /sys of a QEMU test machine, captured once and kept, so host-only images for that machine
// can be built (and scanned: `modload scan --sysfs DIR`) on the host. The machine boots with the
// kernel's whole module tree in its image, so every device gets its driver as on an installed
// system, and `modload.capture modload.halt`: init prints the capture on the console after
// coldplug (src/image/capture.ts) and powers off; the capture directory is rebuilt from those
// lines (format: src/image/host.ts).
//
// Cached as .cache/captures/<machine>-<kver>/ plus <machine>-<kver>.json beside it, written
// last: the machine's definition the capture was made from (a changed machine is captured
// again) and the boot's modload console lines (the `live` list, for checks).
//
// The machine's first disk is the benchmarks' ext4 root disk (initramfs/peers.ts) and the
// command line names it (root=UUID=): the capture's mount table is the one the machine has once
// that root is mounted, as on an installed machine, so an image built from the capture knows
// the root's chain (/etc/modload/root-modules) as a build on that machine would.
import fs from 'node:fs/promises'
import path from 'node:path'
import { ensureExecutable, ensureImage } from './artefacts.js'
import { boot, markers } from './boot.js'
import { againPastKernelBugs } from './kernel-bugs.js'
import { ensureHostTools } from './deps.js'
import type { Kernel } from './kernels.js'
import { withLock } from './lock.js'
import { getMachine, rootTarget } from './machines.js'
import { cacheDir } from './paths.js'
import { parseCaptureLines } from '../src/image/capture.js'
import { ensureRootDisk, withRootDiskCopy } from '../initramfs/peers.js'
import { writeCapture } from '../src/image/host.js'

export const capturesDir = path.join(cacheDir, 'captures')

/** Bumped when the capture format or what the boot does changes: older captures are redone. */
const FORMAT = 3

export interface Capture {
  /** the capture directory: a mini sysfs for readHostFacts / `modload scan --sysfs` */
  dir: string
  machine: string
  kver: string
  /** the boot's console lines from "modload:" on, prefix removed, capture lines left out */
  markers: string[]
}

interface Stamp {
  format: number
  machine: unknown
  markers: string[]
}

export interface CaptureOptions {
  /** default 600 s: a whole-tree image unpacks and coldplugs slowly under TCG */
  timeoutMs?: number
  /** capture again even when a capture is cached */
  refresh?: boolean
  /** the id of the machine's disk that holds the root (default its first disk); a capture
   * with another root disk is cached under its own name */
  rootDisk?: string
}

async function readStamp(file: string): Promise<Stamp | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as Stamp
  } catch {
    return undefined
  }
}

/** Boot `machine` on `kernel` and capture its /sys, or return the cached capture. */
export async function captureMachine(kernel: Kernel, machine: string, opts: CaptureOptions = {}): Promise<Capture> {
  const def = getMachine(machine)
  const target = rootTarget(def, opts.rootDisk)
  const name = `${machine}${opts.rootDisk && target !== def.disks[0] ? `-root-${opts.rootDisk}` : ''}-${kernel.version}`
  const dir = path.join(capturesDir, name)
  const stampFile = `${dir}.json`
  const fresh = (s: Stamp | undefined): s is Stamp => s !== undefined && s.format === FORMAT && JSON.stringify(s.machine) === JSON.stringify(def)
  const result = (s: Stamp): Capture => ({ dir, machine, kver: kernel.version, markers: s.markers })
  await fs.mkdir(capturesDir, { recursive: true })
  return withLock(path.join(capturesDir, `${name}.lock`), async () => {
    const cached = await readStamp(stampFile)
    if (!opts.refresh && fresh(cached)) return result(cached)
    await ensureHostTools()
    await ensureExecutable()
    // the whole tree as the coldplug bench and the tests hold it: one cached image
    const initrd = await ensureImage({ kernel, modules: 'all', name: 'all', compress: 'lz4', moduleFiles: 'archive' })
    const settings = { kernel, initrd, machine, memMiB: Math.max(def.memMiB ?? 1024, 2048), timeoutMs: opts.timeoutMs ?? 600_000 }
    const disk = target ? await ensureRootDisk(kernel) : undefined
    const once = () =>
      target && disk
        ? withRootDiskCopy(disk, (copy) => boot({ ...settings, append: `modload.halt modload.capture root=UUID=${disk.uuid} rootfstype=ext4`, disks: [{ id: target.id, file: copy }] }))
        : boot({ ...settings, append: 'modload.halt modload.capture' })
    // with every module of the tree loading, a driver's own race can panic the kernel now and
    // then (kernel-bugs.ts): booted again then; any other panic fails below
    const r = await againPastKernelBugs(`capturing ${name}`, once)
    const m = markers(r.lines).map((l) => l.slice('modload: '.length))
    if (r.timedOut || r.panicked || !m.some((l) => l.startsWith('halt '))) {
      throw new Error(
        `capturing ${name}: the boot did not finish (timed out: ${r.timedOut}, panic: ${r.panicked}); console tail:\n${r.lines.slice(-30).join('\n')}`,
      )
    }
    const entries = parseCaptureLines(r.lines)
    const tmp = `${dir}.tmp-${process.pid}`
    await fs.rm(tmp, { recursive: true, force: true })
    writeCapture(tmp, entries)
    await fs.rm(stampFile, { force: true })
    await fs.rm(dir, { recursive: true, force: true })
    await fs.rename(tmp, dir)
    const stamp: Stamp = { format: FORMAT, machine: def, markers: m.filter((l) => !l.startsWith('capture ')) }
    await fs.writeFile(stampFile, JSON.stringify(stamp, null, 1) + '\n')
    return result(stamp)
  })
}

/** The capture directory of `machine` booted on `kernel` (see captureMachine). */
export async function captureSysfs(kernel: Kernel, machine: string, opts: CaptureOptions = {}): Promise<string> {
  return (await captureMachine(kernel, machine, opts)).dir
}
