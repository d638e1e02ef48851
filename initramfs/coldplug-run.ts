// One coldplug boot of any loader, modload or a reference (reference.ts), reduced to what the
// comparison test and the boot benchmark look at: the guest-clock times of the markers and the
// set of live modules. Both callers boot the same way (same kernel, machine, memory, command
// line), so a difference between loaders is a difference between loaders.
import path from 'node:path'
import { markers, type BootResult } from '../qemu/boot.js'
import { bootPastKernelBugs } from '../qemu/kernel-bugs.js'
import { ensureExecutable, ensureImage } from '../qemu/artefacts.js'
import type { Kernel } from '../qemu/kernels.js'
import { ensureReferenceImage, referenceDescriptions, referenceKinds, type ReferenceKind } from './reference.js'

export const loaders = ['modload', ...referenceKinds] as const
export type Loader = (typeof loaders)[number]

export const loaderDescriptions: Readonly<Record<Loader, string>> = {
  modload: 'modload (dist/modload as /init)',
  ...referenceDescriptions,
}

/** Guest RAM for every coldplug boot: the whole module tree is unpacked into it. */
export const coldplugMemMiB = 2048

export interface ColdplugMarkers {
  /** `start uptime=` */
  start?: number
  /** `settled uptime=` (references); modload has none, its `halt` follows coldplug directly */
  settled?: number
  halt?: number
  /** the guest's idle CPU time (`idle=`) at each of those three markers */
  idle: { start?: number; settled?: number; halt?: number }
  /** `coldplug done ... ms=` (modload only) */
  coldplugMs?: number
  live: Set<string>
}

/** The markers of a coldplug boot's console lines. Pure. */
export function parseColdplugMarkers(lines: readonly string[]): ColdplugMarkers {
  const out: ColdplugMarkers = { idle: {}, live: new Set() }
  for (const l of markers(lines)) {
    const body = l.slice('modload: '.length)
    let m: RegExpExecArray | null
    if ((m = /^(start|settled|halt) uptime=(\d+(?:\.\d+)?)(?: idle=(\d+(?:\.\d+)?))?$/.exec(body))) {
      const which = m[1] as 'start' | 'settled' | 'halt'
      if (out[which] !== undefined) continue
      out[which] = Number(m[2])
      if (m[3] !== undefined) out.idle[which] = Number(m[3])
    }
    else if ((m = /^live (\S+)$/.exec(body))) out.live.add(m[1])
    else if ((m = /^coldplug done .*\bms=(\d+(?:\.\d+)?)/.exec(body))) out.coldplugMs = Number(m[1])
  }
  return out
}

/** Seconds from the loader's first line to the end of its coldplug, on the guest clock. */
export function coldplugSeconds(m: ColdplugMarkers): number | undefined {
  const end = m.settled ?? m.halt
  return m.start === undefined || end === undefined ? undefined : end - m.start
}

/** Of those seconds, how many the (single) guest CPU was busy rather than idle; undefined
 * when a marker lacks `idle=`. A loader that waits on devices shows idle time; one that is
 * CPU-bound shows busy ≈ elapsed. */
export function coldplugBusySeconds(m: ColdplugMarkers): number | undefined {
  const secs = coldplugSeconds(m)
  const endIdle = m.settled !== undefined ? m.idle.settled : m.idle.halt
  if (secs === undefined || m.idle.start === undefined || endIdle === undefined) return undefined
  return Math.max(0, secs - (endIdle - m.idle.start))
}

/** The image of `loader` for `kernel`: modload's with the whole module tree (lz4), or a
 * reference built from Debian's packages. Builds dist/modload first when needed. */
export async function ensureLoaderImage(loader: Loader, kernel: Kernel): Promise<string> {
  if (loader === 'modload') {
    await ensureExecutable()
    // the whole tree as the reference images hold it (plain modules in one lz4 archive), so
    // the coldplug phase compares loaders, not where the modules are decompressed
    return ensureImage({ kernel, name: 'all', modules: 'all', compress: 'lz4', moduleFiles: 'archive' })
  }
  return ensureReferenceImage({ kernel, kind: loader as ReferenceKind })
}

export interface ColdplugBoot extends ColdplugMarkers {
  result: BootResult
  /** halt seen, no timeout, no panic */
  ok: boolean
}

/** Boot `image` on `machine` with `modload.halt` and read its markers; booted again when the
 * kernel panics with one of its known bugs (qemu/kernel-bugs.ts). */
export async function bootColdplug(opts: { kernel: Kernel; image: string; machine: string; timeoutMs?: number; append?: string }): Promise<ColdplugBoot> {
  const result = await bootPastKernelBugs({
    kernel: opts.kernel,
    initrd: opts.image,
    machine: opts.machine,
    append: `modload.halt${opts.append ? ` ${opts.append}` : ''}`,
    memMiB: coldplugMemMiB,
    timeoutMs: opts.timeoutMs ?? 240_000,
  }, `booting ${path.basename(opts.image)} on ${opts.machine}`)
  const m = parseColdplugMarkers(result.lines)
  return { ...m, result, ok: !result.timedOut && !result.panicked && m.halt !== undefined && m.start !== undefined }
}
