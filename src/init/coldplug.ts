// The coldplug engine: find the driver of every device, present or appearing while we work,
// and load it, until the machine is settled.
//
// The caller opens the kernel's uevent socket first and only then lets us read the modalias of
// the devices already in /sys, so no device falls between the two. Every modalias (from /sys,
// or from the MODALIAS= of a later uevent: virtio devices behind virtio_pci, USB devices behind
// xhci, SCSI disks behind usb-storage) goes through kmod's lookup and load plan (modprobe.d
// aliases, options, softdeps, blacklist); the modules of the plan go to the scheduler, which
// loads them in parallel as their dependencies become live. Settled means: no load in flight
// or waiting, no uevent for `quietMs`, and no known delayed scan pending (holdFor). The total
// time is bounded by `timeoutMs`: no load starts after it, the loads in flight get until they
// have been in the kernel for `slowMs` to end (a caller that ends the process kills the threads
// they run in, and a fatal signal ends the killable waits of a module's init: request_module,
// request_firmware; a load started just before the timeout is not hung, and cut short it could
// leave its device without a driver for good), and those still in flight then are reported as
// hung.
//
// No uevent socket (a container, a kernel without CONFIG_NET): /sys is rescanned whenever the
// loads run dry and something new was loaded, as the first /init did.
//
// All I/O comes in through the options, so tests drive it with a fake /sys, fake events, a
// fake clock and a fake shim.
import { lookup } from '../core/lookup.js'
import { Prober } from '../core/probe.js'
import { fnmatch } from '../core/fnmatch.js'
import { modNameFromPath } from '../core/names.js'
import type { ModuleDb } from '../core/moddb.js'
import type { ModprobeConfig } from '../config/modprobe-conf.js'
import type { LoaderSys, LoadResult } from '../load/loader.js'
import { insertModuleFile } from '../load/insert.js'
import { SysError } from '../sys/syscalls.js'
import { Scheduler, type Job } from './scheduler.js'
import { idleShare, nextConcurrency, RAISE_IDLE, slotsBesideBoot, type CpuSample } from './adapt.js'
import type { Uevent, UeventSource } from './uevent.js'
import { usbEnumeration } from './kmsg.js'

/** A sleep that can be called off (ColdplugOptions.sleep). */
export interface Sleep {
  done: Promise<void>
  cancel: () => void
}

/** ColdplugOptions.sleep on the real clock. */
export function timerSleep(ms: number): Sleep {
  let timer: ReturnType<typeof setTimeout> | undefined
  const done = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms)
  })
  return { done, cancel: () => clearTimeout(timer) }
}

export interface ColdplugOptions {
  db: ModuleDb
  config: ModprobeConfig
  sys: LoaderSys
  /** what /sys/module/compression says the kernel decompresses, or null */
  kernelCompression: string | null
  /** modules in /proc/modules when we start; built-in ones are known from the db */
  live: ReadonlySet<string>
  /** modalias strings of the devices present now */
  scan: () => string[]
  /** the uevent socket, opened before the first scan; null: rescan /sys instead */
  events: UeventSource | null
  /** modules to load whatever the hardware (modload.load=, modules-load.d) */
  force?: readonly string[]
  /** modules that go before everything else when something wants them: the root's chain */
  urgent?: ReadonlySet<string>
  /**
   * The caller has what it needs (the root device is there: modload.handover=early). Asked
   * after the first scan and after each uevent batch that adds a block device; once it says
   * yes, no new load starts, the loads in flight are waited for, and coldplug returns with
   * `stoppedEarly` (what was still queued is left to the real root's udev).
   */
  enough?: () => boolean
  /** When given, a yes from `enough` calls this (once) instead of stopping: coldplug goes on
   * to settle while the caller uses the root device (a hook's boot script mounts it); the
   * caller ends it early through `stop`. */
  onEnough?: () => void
  /** Run once when `enough` first says yes; onEnough waits until it settles (a hook's
   * modules file: the boot script would load it right after, so it goes on once both are
   * done; what is held while the root is awaited stays held meanwhile) */
  beforeEnough?: () => Promise<unknown>
  /** After `onEnough`, called once none of the root's chain (`urgent`) waits or loads any
   * more (at once when there is none), just before the held loads go: a hook lowers the
   * rest's CPU priority here, so that the mount does not wait for a file system module
   * loading at the lowest priority. */
  onChainLoaded?: () => void
  /** Resolves when the caller wants coldplug to end (SIGTERM to `modload coldplug`): no new
   * load starts, the loads in flight are waited for, and coldplug returns with
   * `stoppedEarly`, as when `enough` stops it. */
  stop?: Promise<void>
  /** True once the image's files are gone: the boot script handed over to the root, whose
   * switch deletes the initramfs, while this process still ran (a stop arrives late at the
   * lowest CPU priority). A load whose file is missing then is left to the root's loader and
   * coldplug stops, instead of reporting a broken image. */
  handedOver?: () => boolean
  /** the CPU's cumulative busy and idle time (/proc/stat): with it, the number of loads in
   * flight follows how idle the CPU is (adapt.ts), from `concurrency` up to `maxConcurrency` */
  cpu?: () => CpuSample | null
  /** CPU time this process has used, in ms (every thread: its loads' time in the kernel is
   * system time). With `cpu`, after onChainLoaded (the caller's boot goes on beside us),
   * loads start only on the CPUs the rest of the system leaves idle (adapt.ts's
   * slotsBesideBoot). */
  ownCpuMs?: () => number
  /** The kernel's state of a module (/sys/module/NAME/initstate: live, coming, going), null
   * when it has none: a load in flight whose module is live already lets its dependents go
   * (Scheduler.markLive). */
  moduleState?: (name: string) => string | null
  /** default 4 x concurrency */
  maxConcurrency?: number
  quietMs: number
  timeoutMs: number
  concurrency: number
  /** a load in flight this long frees its slot for others (it may be hung); default 5000 */
  slowMs?: number
  now: () => number
  /** `done` resolves after `ms`; `cancel` drops the timer (done then never resolves). A plain
   * clearTimeout, not an AbortSignal: aborting builds a DOMException with its stack, and under
   * emulation the engine's hundred-odd races cost ~0.1 s of the one CPU that way. */
  sleep: (ms: number) => Sleep
  /** how long after this event the kernel will still add devices by itself (usbStorageHold) */
  holdFor?: (ev: Uevent) => number
  /** The kernel's log (/dev/kmsg), read once USB is seen: a device the hub driver announces
   * (usbEnumeration) holds the settle until its add uevent, the driver gives up on it, or
   * `enumerationMs` passes. */
  kernelLog?: { drain(): string[] }
  /** whether a USB device (its name under /sys/bus/usb/devices, `1-1.2`) is there already: an
   * announcement read late from the log's buffer, whose add came before our socket, holds
   * nothing */
  usbDeviceThere?: (name: string) => boolean
  /** default 3000: a device takes ~0.25 s under emulation (QEMU's full-speed ones) and far
   * less on hardware; one that does not answer costs the kernel its 5 s control-transfer
   * timeout per try before the retry or the give-up line, and is not waited for that long */
  enumerationMs?: number
  /** polling period for the uevent socket; default 10 ms */
  tickMs?: number
  onResult?: (r: LoadResult) => void
  /** detail for modload.debug */
  debug?: (line: string) => void
}

export interface ColdplugReport {
  /** every load outcome, in the order they finished */
  results: LoadResult[]
  /** loads still in the kernel when we stopped waiting */
  hung: { name: string; ms: number }[]
  /** modules never started: still waiting for a hung dependency */
  blocked: { name: string; on: string[] }[]
  /** modalias strings that matched no module and nothing built in */
  unmatched: string[]
  /** modules a device wanted that the blacklist kept out */
  blacklisted: { alias: string; module: string }[]
  /** modules with an install command in modprobe.d: not run by this loader */
  commands: { module: string; command: string }[]
  /** alias -> modules it resolved to */
  matched: Map<string, string[]>
  /** uevents received */
  events: number
  /** scans of /sys (1 with a uevent socket, unless the kernel dropped events) */
  scans: number
  timedOut: boolean
  /** stopped because `enough` said so or `stop` asked, before the machine settled */
  stoppedEarly: boolean
  /** why it stopped early: the root device was there, the caller asked, or the image's files
   * were gone (handedOver) */
  stoppedBy?: 'enough' | 'stop' | 'handed-over'
  ms: number
}

/** Every modalias (and forced name) coldplug looked up: matched, unmatched or blacklisted.
 * What a later rescan finds beyond these appeared after it. Pure. */
export function modaliasesSeen(r: ColdplugReport): Set<string> {
  return new Set([...r.matched.keys(), ...r.unmatched, ...r.blacklisted.map((b) => b.alias)])
}

/** A load that found its module file gone because the image was handed over to the root
 * (ColdplugOptions.handedOver): not a failure, the root's loader's to do. */
export class HandedOverError extends Error {
  constructor() {
    super('its file went with the image (handed over to the root before the load started)')
  }
}

/**
 * usb-storage scans a new host's LUNs `delay_use` after the host appears (1 s by default;
 * module parameter), so a USB disk's SCSI device arrives after a silence longer than any sane
 * quiet period. Returns the hold for a uevent: that delay plus a margin for an scsi_host added
 * under a USB device, else 0.
 */
export function usbStorageHold(ev: Uevent, delayUseMs: () => number, marginMs = 500): number {
  if (ev.action !== 'add' || ev.env.get('SUBSYSTEM') !== 'scsi_host' || !ev.devpath.includes('/usb')) return 0
  return delayUseMs() + marginMs
}

/**
 * Whether `ev` ends the hold `held` asked for before its time: usb-storage's (usbStorageHold)
 * once the host's scan has added a SCSI device (a LUN) under it. The disk is found; what
 * follows (its driver's load, the block devices, further LUNs of the same scan) is loads and
 * uevents, which the quiet period covers. A host whose scan finds nothing keeps the whole hold.
 * A hub's (usbHubHold) runs to its end: its ports enumerate one after the other.
 */
export function holdEndedBy(held: Uevent, ev: Uevent): boolean {
  if (held.env.get('SUBSYSTEM') !== 'scsi_host' || ev.action !== 'add') return false
  if (ev.env.get('SUBSYSTEM') !== 'scsi' || ev.env.get('DEVTYPE') !== 'scsi_device') return false
  const host = held.devpath.replace(/\/scsi_host\/[^/]+$/, '')
  return host !== held.devpath && ev.devpath.startsWith(`${host}/`)
}

/**
 * A new USB hub (a root hub behind a host controller driver that just loaded, or a hub behind
 * it) enumerates its ports from a work queue: debounce (100 ms or more), reset, descriptors,
 * and only then the devices' uevents, a silence that can outlast the quiet period on a slow
 * machine. Returns the hold for a uevent: `ms` for an added hub (USB class 9), else 0.
 */
export function usbHubHold(ev: Uevent, ms = 500): number {
  if (ev.action !== 'add' || ev.env.get('SUBSYSTEM') !== 'usb' || ev.env.get('DEVTYPE') !== 'usb_device') return 0
  return ev.env.get('TYPE')?.startsWith('9/') ? ms : 0
}

/** usb-storage's delay_use parameter text ("1" seconds, or "500ms" on newer kernels) in ms. */
export function parseDelayUse(text: string | null): number {
  const m = /^\s*(\d+)\s*(ms)?\s*$/.exec(text ?? '')
  if (!m) return 1000
  return m[2] ? Number(m[1]) : Number(m[1]) * 1000
}

/**
 * How soon the module for a device should load (lower first). Controllers that reveal more
 * devices first: USB, storage and SD host controllers on PCI, virtio, USB and SCSI devices (virtio
 * devices behind virtio_pci, USB devices behind xHCI, disks behind AHCI and usb-storage),
 * whose own waits (USB enumeration, usb-storage's delay_use, SCSI scans) then overlap with
 * the remaining loads, and the root disk is there sooner. Then the other bus devices
 * (network, display, sound, input; on PCI by class, on virtio by device type, on USB by
 * interface class), then firmware-described platform devices. The CPU's features last: crypto
 * accelerators, kvm, cpufreq and EDAC reveal no devices. Pure: the alias alone decides.
 */
export function aliasPriority(alias: string): number {
  const colon = alias.indexOf(':')
  const bus = colon < 0 ? '' : alias.slice(0, colon)
  if (bus === 'cpu') return CPU_FEATURES
  if (bus === 'pci') {
    const m = /bc([0-9A-F]{2})sc([0-9A-F]{2})/.exec(alias)
    // mass storage, USB hosts, SD host controllers (class 08, subclass 05)
    return m !== null && (m[1] === '01' || (m[1] === '0C' && m[2] === '03') || (m[1] === '08' && m[2] === '05')) ? 0 : 1
  }
  if (bus === 'virtio') return NOT_STORAGE_VIRTIO.has(virtioDevice(alias)) ? 1 : 0
  // a USB interface's class: HID, audio, video, communications (network), wireless
  if (bus === 'usb') return /ic(03|01|0E|02|0A|E0)/.test(alias) ? 1 : 0
  // SCSI processors and enclosures (ses) hold no disk
  if (bus === 'scsi') return /^scsi:t-0x0[3dD]$/.test(alias) ? 1 : 0
  if (REVEALING_BUSES.has(bus)) return 0
  if (OTHER_BUSES.has(bus)) return 1
  return 2
}

/** The device type of a virtio alias (`virtio:d00000002v00001AF4`: 2), NaN if none. */
function virtioDevice(alias: string): number {
  const m = /^virtio:d([0-9A-Fa-f]{8})/.exec(alias)
  return m ? parseInt(m[1], 16) : NaN
}

/** virtio device types (the virtio spec's device IDs) that cannot hold a root file system:
 * network (a root on NFS waits for the quiet, as a NIC on PCI does), console, entropy,
 * balloons, rpmsg, wlan, remoteproc serial, CAIF, GPU, clock, input, vsock, crypto, signal
 * distribution, pstore, sound, hwsim, video, SCMI, NSM, watchdog, CAN, parameter server, audio
 * policy, Bluetooth, GPIO, RDMA. Block (2), SCSI (8), 9P (9), IOMMU (23, the devices behind it
 * wait for it), memory (24), virtiofs (26), pmem (27) and any type not listed keep the
 * storage priority. */
const NOT_STORAGE_VIRTIO = new Set([1, 3, 4, 5, 7, 10, 11, 12, 13, 16, 17, 18, 19, 20, 21, 22, 25, 29, 30, 31, 32, 33, 35, 36, 38, 39, 40, 41, 42])

/**
 * Whether a device's driver is the first step of a chain that then waits on hardware: an xHCI
 * host controller (on PCI: class 0C, subclass 03, interface 30), whose root hubs enumerate
 * their ports after a debounce (usbHubHold), and a USB mass-storage interface (class 08),
 * whose disk usb-storage scans only after its delay_use (usbStorageHold). When the hand-over
 * waits for everything to settle, these go first and alone (WAITS_FIRST), so that the waits
 * overlap with the other loads instead of coming after them. Not the older USB hosts (UHCI,
 * OHCI, EHCI: interfaces 00, 10, 20): on a machine with UHCI and OHCI beside an Am53c974 SCSI
 * adapter (odd-mix, 6.1), those two first made esp_scsi's interrupt handler dereference NULL
 * while am53c974 probed, a kernel panic in 2 of 3 boots, never seen in the usual order. They
 * raise legacy interrupt lines that other PCI devices share (the likely path: a handler
 * called before its probe set it up); xhci-pci asks for MSI-X, then MSI. Pure: the alias
 * alone decides.
 */
export function leadsToWait(alias: string): boolean {
  if (alias.startsWith('pci:')) return /bc0Csc03i30/.test(alias)
  return alias.startsWith('usb:') && /ic08/.test(alias)
}

/** The priority of the CPU's feature modules (crypto, kvm, cpufreq, EDAC): they reveal no device. */
export const CPU_FEATURES = 3

/** While the root device is awaited (`enough`), what cannot lead to a disk waits: the
 * priorities from here (other PCI devices, platform devices, the CPU's features). They go
 * once the root is there (onEnough), or when all else is quiet and the root still is not
 * (a root on the network, on a platform device, behind LVM or a passphrase). */
export const HELD_WHILE_ROOT_AWAITED = 1

/** How often the CPU is looked at while loads wait for a slot (adapt.ts). */
export const ADAPT_MS = 100

/** The priority of the root's own chain (ColdplugOptions.urgent): ahead of every bus. */
export const URGENT = -1

/** The priority of the devices that lead to hardware waits (leadsToWait) when nothing is
 * awaited before settling (no `enough`: the root is mounted once all is settled, so its own
 * chain gains nothing by going first). Until the jobs of this priority are loaded, the others
 * wait (or until the CPU idles beside them: then they wait on hardware themselves). On one
 * emulated CPU (q35, steady clock) xHCI's chain took 0.6 s beside the root's and the others
 * instead of 0.33 s alone, usb-storage's disk came 1 s after that, and the settle waited 0.76 s
 * on it with the CPU idle; first and alone, coldplug took 2.50 s instead of 3.23 s. Priority
 * alone did nothing: four loads in flight share one CPU whatever their order. */
export const WAITS_FIRST = URGENT - 1

/** The priority of the root's file system when it is in the root's chain (a module under
 * kernel/fs/: ext4, xfs, nfs): after the drivers that reveal devices, ahead of the rest. It is
 * needed only once the disk is there, and loading it first delayed the disk: on one emulated
 * CPU ext4 took 0.85 s ahead of virtio_pci, whose probe makes the disk. */
export const ROOT_FILESYSTEM = 0.5

/** While the root's disk drivers, known from the image's builder (ColdplugOptions.urgent), load
 * and the root is awaited, the jobs from this priority on wait: the other storage drivers too.
 * On one emulated CPU an ATA chain (scsi_mod, libata, ata_piix: ~1 s) loaded beside virtio's
 * and the root came 0.27 s later. The wait ends when the chain's loads are done (the disk may
 * have moved: then the rest goes as without a chain), or as soon as the CPU idles beside them. */
export const CHAIN_FIRST = 0

/** The root's file system in a chain that names the disk's drivers: after them, inside the
 * chain's head start. */
export const ROOT_FILESYSTEM_IN_CHAIN = -0.5

/** A module of the kernel's file systems, by its path in the module tree. Pure. */
export function isFilesystemModule(path: string): boolean {
  return /(^|\/)kernel\/fs\//.test(path)
}

const REVEALING_BUSES = new Set(['virtio', 'usb', 'scsi', 'xen', 'vmbus', 'sdio', 'mmc', 'ccw'])
const OTHER_BUSES = new Set(['hid', 'ap', 'mhi', 'pcmcia', 'ssb', 'bcma', 'ishtp', 'hdaudio', 'snd_hda'])

export async function coldplug(o: ColdplugOptions): Promise<ColdplugReport> {
  const t0 = o.now()
  const tick = o.tickMs ?? 10
  const debug = o.debug ?? (() => undefined)
  const prober = new Prober(o.db, o.config)
  const seen = new Set<string>()
  const matched = new Map<string, string[]>()
  const unmatched = new Set<string>()
  const blacklisted: ColdplugReport['blacklisted'] = []
  const commands: ColdplugReport['commands'] = []
  const extra: LoadResult[] = []
  /** post-softdep module -> modules it must follow */
  const postOf = new Map<string, string[]>()
  let lastActivity = t0
  /** the holds in force (holdFor), by the devpath of the event that asked for them */
  const holds = new Map<string, { ev: Uevent; until: number }>()
  /** USB devices the kernel said it enumerates, until when we wait for their add */
  const enumerating = new Map<string, number>()
  /** the kernel's log is read only once USB is in play (its first read is the whole buffer) */
  let usbSeen = false
  let logRead = false
  const holdUntil = (): number => Math.max(t0, ...[...holds.values()].map((h) => h.until), ...enumerating.values())
  const readKernelLog = (now: number): void => {
    if (!usbSeen || o.kernelLog === undefined) return
    const first = !logRead
    logRead = true
    const t = o.now()
    const lines = o.kernelLog.drain()
    if (first) debug(`kernel log: ${lines.length} lines read in ${(o.now() - t).toFixed(1)} ms (USB is in play: the hub driver announces devices there)`)
    for (const text of lines) {
      const e = usbEnumeration(text)
      if (e?.kind === 'start' && !o.usbDeviceThere?.(e.device)) {
        enumerating.set(e.device, now + (o.enumerationMs ?? 3000))
        if (chainFirst) chainHeld = true
        debug(`hold for USB device ${e.device}: the kernel enumerates it (${text})`)
      } else if (e?.kind === 'end' && enumerating.delete(e.device)) debug(`hold for USB device ${e.device} ends: ${text}`)
    }
  }
  /** ends the current wait of the main loop (a load finished or started) */
  let wakeUp = (): void => undefined
  /** no new load starts (stopNow): the root device was there, the caller asked, or the image
   * was handed over */
  let stopping = false
  let stopBy: ColdplugReport['stoppedBy']

  const isLive = (name: string): boolean => o.live.has(name) || o.db.builtin.has(name)
  const forced = o.force ?? []
  /** the root's chain names its disk's drivers (not just its file system) and root= is
   * awaited: they go first and alone (CHAIN_FIRST) */
  let chainFirst = o.enough !== undefined && forced.some((name) => o.urgent?.has(name) && !isFilesystemModule(o.db.modules.get(name)?.path ?? ''))
  /** a load in flight this long frees its slot, and a stop or the timeout stops waiting for it */
  const slowMs = o.slowMs ?? 5000
  const scheduler = new Scheduler({
    concurrency: o.concurrency,
    now: o.now,
    isLive,
    load: async (job) => {
      try {
        await insertModuleFile(o.sys, job.path, job.options, false, { kernelCompression: () => o.kernelCompression }, { within: o.db.dir })
      } catch (err) {
        if (err instanceof SysError && err.code === 'ENOENT' && o.handedOver?.()) {
          // nothing else can load either: stop before this outcome skips its dependents
          if (!stopping) {
            stopNow('handed-over')
            wakeUp()
          }
          throw new HandedOverError()
        }
        throw err
      }
    },
    onResult: o.onResult,
    onChange: () => {
      lastActivity = o.now()
      wakeUp()
    },
    slowMs,
  })
  /** every load still in flight has been in the kernel for slowMs (none: true): it may be
   * hung, and a stop or the timeout does not wait for it */
  const onlySlowInFlight = (now: number): boolean => scheduler.inFlight().every((f) => now - f.since >= slowMs)

  const softdepNames = (list: readonly string[]): string[] =>
    list.flatMap((n) => (lookup(o.db, o.config, n) ?? []).map((r) => r.name))

  const addJob = (name: string, path: string, options: string, wanted: number): void => {
    const priority = !o.urgent?.has(name) ? wanted : isFilesystemModule(path) ? Math.min(wanted, chainFirst ? ROOT_FILESYSTEM_IN_CHAIN : ROOT_FILESYSTEM) : URGENT
    if (scheduler.has(name) || isLive(name)) {
      scheduler.add({ name, path, options, deps: [], after: [], priority }) // only raises its priority
      return
    }
    const entry = o.db.modules.get(name)
    const deps = entry ? entry.deps.map(modNameFromPath) : []
    const s = o.config.softdeps.find((d) => fnmatch(d.module, name))
    const after = [...(s ? softdepNames(s.pre) : []), ...(postOf.get(name) ?? [])]
    for (const p of s ? softdepNames(s.post) : []) postOf.set(p, [...(postOf.get(p) ?? []), name])
    const job: Job = { name, path, options: options.trim(), deps, after: after.filter((a) => a !== name), priority }
    if (scheduler.add(job)) debug(`queue ${name}${job.options ? ` options="${job.options}"` : ''}${deps.length ? ` deps=${deps.join(',')}` : ''}`)
  }

  const notFound = (name: string, message: string): void => {
    if (extra.some((r) => r.name === name)) return
    const r: LoadResult = { name, status: 'failed', error: new Error(message) }
    extra.push(r)
    o.onResult?.(r)
  }

  /** nothing is awaited before settling: what leads to hardware waits goes first (WAITS_FIRST) */
  const waitsMatter = o.enough === undefined
  const priorityOf = (alias: string): number => (waitsMatter && leadsToWait(alias) ? WAITS_FIRST : aliasPriority(alias))
  /** Resolve a modalias (or, forced, a module name) and queue what its plan loads. */
  const want = (key: string, forced: boolean, priority = forced ? 2 : priorityOf(key)): void => {
    if (seen.has(key)) return
    seen.add(key)
    if (key.startsWith('usb:')) usbSeen = true
    const t = o.now()
    const refs = lookup(o.db, o.config, key)
    const ms = o.now() - t
    if (ms >= 10) debug(`lookup ${key}: ${ms.toFixed(1)} ms`)
    if (refs === null || refs.length === 0) {
      if (!forced) unmatched.add(key)
      else notFound(key, `module ${key} not found in ${o.db.dir}`)
      return
    }
    matched.set(key, [...new Set(refs.map((r) => r.name))])
    // each plan is queued whole before any of it starts: a dependency comes after the module
    // that needs it when modules.dep is cyclic, and must be known when that one is looked at
    scheduler.pause()
    try {
      wantRefs(key, refs, forced, priority)
    } finally {
      scheduler.resume()
    }
  }

  const wantRefs = (key: string, refs: NonNullable<ReturnType<typeof lookup>>, forced: boolean, priority: number): void => {
    for (const ref of refs) {
      // systemd-modules-load applies the blacklist to named modules too; modalias lookups
      // always do (kmod: only modules found through an alias)
      const plan = prober.plan(ref, { useBlacklist: forced })
      if (plan.blacklisted) {
        blacklisted.push({ alias: key, module: ref.name })
        debug(`blacklisted ${ref.name} (for ${key})`)
        continue
      }
      for (const a of plan.actions) {
        if (a.kind === 'insmod') addJob(a.name, a.path, a.options, priority)
        else if (a.kind === 'missing') notFound(a.name, `module ${a.name} (for ${key}) not found in ${o.db.dir}`)
        else if (a.kind === 'install') {
          if (!commands.some((c) => c.module === a.name)) commands.push({ module: a.name, command: a.command })
          debug(`install command for ${a.name} not run: ${a.command}`)
        }
      }
    }
  }

  let scans = 0
  /** WAITS_FIRST jobs load alone (waitsAlone, ended by endWaitsFirst) */
  let waitsFirst = false
  const waitsAlone = (): void => {
    if (waitsFirst || stopping || scheduler.holdFrom !== undefined || !scheduler.pendingBelow(URGENT)) return
    waitsFirst = true
    scheduler.holdFrom = URGENT
    debug('first and alone: the drivers of devices that then wait on hardware (xHCI hosts, USB disks)')
  }
  /** Reads the present devices and queues their modules, in priority order; `revealed` runs
   * once the devices that reveal others (priority 0: storage, USB and SD hosts, virtio
   * disks) are queued, before the rest is resolved. */
  const rescan = (revealed?: () => void): void => {
    scans++
    const t = o.now()
    const aliases = o.scan()
    const t1 = o.now()
    const ranked = aliases.map((alias) => ({ alias, priority: priorityOf(alias) })).sort((a, b) => a.priority - b.priority)
    let early = ''
    ranked.forEach(({ alias, priority }, i) => {
      if (revealed && priority > URGENT) waitsAlone()
      if (revealed && priority > 0) {
        early = ` (loading since the first ${i}, at ${(o.now() - t1).toFixed(1)} ms)`
        revealed()
        revealed = undefined
      }
      want(alias, false, priority)
    })
    // a scan in one batch (a chain that only orders), or a later one (no uevent socket)
    waitsAlone()
    debug(`scan ${scans}: ${aliases.length} modaliases read in ${(t1 - t).toFixed(1)} ms, resolved in ${(o.now() - t1).toFixed(1)} ms${early}`)
  }

  // while the root is awaited (enough), what cannot lead to a disk waits: under emulation the
  // CPU's feature modules' self-tests took the one CPU from the disk's drivers (aesni 1.2 s,
  // kvm 0.8 s), and a hook's boot (initramfs-tools, virtio) found virtio_pci taking 1.3-1.5 s
  // beside floppy, psmouse, i2c_piix4, serio_raw and evdev against ~0.2 s alone. They go when
  // all else is quiet and the root is still not there, once a hook's root is there, or are
  // left to the root's own udev (modload.handover=early)
  if (o.enough !== undefined) scheduler.holdFrom = chainFirst ? CHAIN_FIRST : HELD_WHILE_ROOT_AWAITED

  // the first scan is queued in priority order: the root's own chain when it is loaded by
  // name, then what reveals devices (and may lead to the root disk), as one batch ordered by
  // priority, which starts loading while the rest is resolved (under emulation resolving ~40
  // aliases took ~0.1 s); what is resolved after it has a lower priority, so the order is the
  // one a whole batch would have had. A root chain that only orders (no root=: its modules
  // come through aliases of any priority) keeps the whole scan one batch, so that it leads.
  // With the chain first and alone, the scan waits for the chain too: everything it would
  // queue is held until then anyway, and on one CPU resolving the devices' aliases took ~0.1 s
  // from the chain's loads (virtio, steady clock). When the root is there before the chain ends
  // and nothing more is wanted (modload.handover=early), there is no scan at all: what the
  // devices need is the root's own udev's.
  let scanDeferred = chainFirst
  scheduler.pause()
  for (const name of forced) if (o.urgent?.has(name)) want(name, true)
  const orderOnly = [...(o.urgent ?? [])].some((name) => !forced.includes(name))
  if (scanDeferred) debug("scan: after the root's chain")
  else
    rescan(
      orderOnly
        ? undefined
        : () => {
            scheduler.resume()
            scheduler.pause()
          },
    )
  for (const name of forced) want(name, true)
  scheduler.resume()

  let events = 0
  let loadedAtScan = 0
  const loadedCount = (): number => scheduler.outcomes().filter((r) => r.status === 'loaded').length
  let timedOut = false
  // the CPU between two looks, for the number of loads in flight
  let sample = o.cpu?.() ?? null
  let sampledAt = t0
  // after onChainLoaded: the caller's boot goes on beside us (see slotsBesideBoot)
  let besideBoot = false
  /** the deferred scan waits: beside the boot, no CPU left idle at the last look */
  const scanWaitsForCpu = (): boolean => besideBoot && scheduler.cap === 0
  let ownMs = 0
  const adapt = (now: number): void => {
    if (sample === null || now - sampledAt < ADAPT_MS) return
    const next = o.cpu?.() ?? null
    if (next === null) {
      // unreadable (/proc moved into the root): the next look is still ADAPT_MS away, not a
      // deadline already past that would wake the loop every millisecond
      sampledAt = now
      return
    }
    const idle = idleShare(sample, next)
    const own = besideBoot ? o.ownCpuMs?.() : undefined
    if (own !== undefined) {
      const slots = slotsBesideBoot({ busy: next.busy - sample.busy, idle: next.idle - sample.idle, cpus: next.cpus ?? 1, ownMs: own - ownMs })
      ownMs = own
      if (slots !== null && slots !== scheduler.cap) {
        debug(`beside the boot: ${slots === 0 ? 'no load starts' : `at most ${slots} in flight`} (cpu ${(100 * (idle ?? 0)).toFixed(0)}% idle; ${scheduler.queued()} waiting)`)
        scheduler.cap = slots
      }
    }
    sample = next
    sampledAt = now
    if (idle === null) return
    // the chain's loads wait on hardware, not on the CPU: the others may use it (not while a
    // hold of the chain's devices runs: see chainWaits)
    if (chainFirst && idle >= RAISE_IDLE && scheduler.queued() > 0 && !chainWaits(now)) endChainFirst(`cpu ${(100 * idle).toFixed(0)}% idle beside the root's chain`)
    // those loads wait on hardware too (an init that sleeps in a probe): the others may use it
    if (waitsFirst && idle >= RAISE_IDLE && scheduler.queued() > 0) endWaitsFirst(`cpu ${(100 * idle).toFixed(0)}% idle beside them`)
    const waiting = scheduler.readyToStart()
    const limit = nextConcurrency({ current: scheduler.concurrency, base: o.concurrency, max: o.maxConcurrency ?? 4 * o.concurrency, idle, waiting, running: scheduler.slotsUsed() })
    if (limit !== scheduler.concurrency) {
      debug(`jobs ${scheduler.concurrency} -> ${limit}: cpu ${(100 * idle).toFixed(0)}% idle, ${waiting} ready to start`)
      scheduler.concurrency = limit
    }
  }
  // a load in flight past ADAPT_MS whose module is live already: its finit_module waits in the
  // kernel for the system's async work (do_init_module's async_synchronize_full: a SCSI host's
  // bus scan, a disk's async probe), not for its own init. On hba-mix (6.1) one bus scan kept
  // every load that ended in its 3.6 s waiting, and what needed them (ata_piix after libata)
  // only started after it.
  let liveCheckedAt = t0
  const checkLive = (now: number): void => {
    if (o.moduleState === undefined || now - liveCheckedAt < ADAPT_MS) return
    liveCheckedAt = now
    for (const f of scheduler.inFlight()) {
      if (f.live || now - f.since < ADAPT_MS || o.moduleState(f.name) !== 'live') continue
      if (scheduler.markLive(f.name)) debug(`${f.name}: live after ${(now - f.since).toFixed(0)} ms, its load still waits in the kernel (async probes): what needs it goes`)
    }
  }
  // While the chain goes first, the only holds are its own devices' (a USB root: the hub's
  // enumeration, usb-storage's delay_use), and the root is expected at their end, once the
  // disk's probe is through (quietMs without a uevent). The other storage drivers wait for
  // it: their loads would take the CPU from the disk's probe, and a SCSI host's bus scan keeps
  // every load in the kernel until it ends (async_synchronize_full), so an early hand-over
  // then waited for them (root on USB behind EHCI on hba-mix: 3.7 s of other hosts' scans).
  let chainHeld = false
  const chainWaits = (now: number): boolean => chainHeld && (now < holdUntil() || now - lastActivity < o.quietMs)
  const endChainFirst = (why: string): void => {
    chainFirst = false
    if (scheduler.holdFrom !== CHAIN_FIRST) return
    debug(`${why}: the other storage drivers go`)
    scheduler.holdOnlyFrom(HELD_WHILE_ROOT_AWAITED)
  }
  const endWaitsFirst = (why: string): void => {
    waitsFirst = false
    if (scheduler.holdFrom !== URGENT) return
    debug(`${why}: the rest goes`)
    scheduler.releaseHold()
  }
  /** the caller went on (onEnough): the rest goes once the root's chain is loaded */
  let restAfterChain = false
  let enough = o.enough
  let askEnough = enough !== undefined
  let beforeEnough = o.beforeEnough
  let gateOpen = true
  const openGate = (): void => {
    gateOpen = true
    scheduler.gate(undefined)
    askEnough = enough !== undefined
    wakeUp()
  }
  const stopNow = (by: NonNullable<ColdplugReport['stoppedBy']>): void => {
    stopping = true
    stopBy = by
    scheduler.pause()
    debug(`${by === 'stop' ? 'asked to stop' : by === 'handed-over' ? "the image's files are gone (handed over to the root): stopping" : 'enough: stopping early'}, ${scheduler.inFlight().length} loads in flight, ${scheduler.waiting().length} left`)
  }
  // at once, not at the main loop's next turn: a load that ends first would start another,
  // and by then a boot script that stopped us may have handed the image over to the root
  void o.stop?.then(() => {
    if (!stopping) stopNow('stop')
    wakeUp()
  })
  for (;;) {
    const now = o.now()
    if (!stopping) {
      adapt(now)
      checkLive(now)
    }
    for (const name of scheduler.release()) debug(`${name}: still loading after ${slowMs} ms; its slot goes to the next module`)
    const batch = o.events?.drain() ?? []
    if (batch.length > 1) scheduler.pause()
    for (const ev of batch) {
      events++
      // how close the quiet period came to cutting this off: the number to tune quietMs by
      if (scheduler.idle() && now - lastActivity >= 100) debug(`uevent after ${(now - lastActivity).toFixed(0)} ms of quiet: ${ev.action} ${ev.devpath}`)
      lastActivity = now
      if (ev.action === 'add' && ev.env.get('SUBSYSTEM') === 'block') askEnough = enough !== undefined
      if (ev.env.get('SUBSYSTEM') === 'usb' && ev.env.get('DEVTYPE') === 'usb_device') {
        usbSeen = true
        const name = ev.devpath.slice(ev.devpath.lastIndexOf('/') + 1)
        if (enumerating.delete(name)) debug(`hold for USB device ${name} ends: ${ev.action} ${ev.devpath}`)
      }
      const alias = ev.env.get('MODALIAS')
      if (alias && (ev.action === 'add' || ev.action === 'change' || ev.action === 'bind')) {
        want(alias, false)
        if (priorityOf(alias) === WAITS_FIRST) waitsAlone()
      }
      for (const [path, h] of holds) {
        if (h.until > now && holdEndedBy(h.ev, ev)) {
          holds.delete(path)
          debug(`hold for ${path} ends ${(h.until - now).toFixed(0)} ms early: ${ev.action} ${ev.devpath}`)
        }
      }
      const hold = o.holdFor?.(ev) ?? 0
      if (hold > 0) {
        holds.set(ev.devpath, { ev, until: Math.max(holds.get(ev.devpath)?.until ?? 0, now + hold) })
        if (chainFirst) chainHeld = true
        debug(`hold ${hold} ms for ${ev.action} ${ev.devpath}`)
      }
    }
    if (batch.length > 1) scheduler.resume()
    if (o.events?.overflowed()) {
      debug('uevent queue overflowed; rescanning /sys')
      rescan()
    }
    if (o.events === null && scheduler.idle() && loadedCount() > loadedAtScan) {
      loadedAtScan = loadedCount()
      rescan()
      lastActivity = o.now()
    }
    // what the kernel's log announces matters only where a quiet period would end a wait (the
    // settle, the chain's turn, the held loads' release): read it there, not at every turn (a
    // read that finds nothing is a thrown EAGAIN)
    if (now - lastActivity >= o.quietMs) readKernelLog(now)
    if (chainFirst && !scheduler.pendingBelow(CHAIN_FIRST) && !chainWaits(now)) endChainFirst("the root's chain is loaded")
    if (waitsFirst && !scheduler.pendingBelow(URGENT)) endWaitsFirst('they are loaded')
    if (askEnough && !stopping && gateOpen) {
      askEnough = false
      if (enough?.()) {
        if (beforeEnough !== undefined) {
          // asked again once it has run; meanwhile only the root's chain loads beside it (as
          // before the boot script went on to its own list), and the scan waits
          gateOpen = false
          scheduler.gate(CHAIN_FIRST)
          void beforeEnough().then(openGate, openGate)
          beforeEnough = undefined
        } else if (o.onEnough === undefined) stopNow('enough')
        else {
          // said once: the caller goes on, and so do the loads, the held ones too once the
          // root's chain is loaded (the mount needs its file system module; what was held
          // would take the CPU from it)
          enough = undefined
          restAfterChain = true
          o.onEnough()
        }
      }
    }
    if (restAfterChain && ![...(o.urgent ?? [])].some((name) => scheduler.pending(name))) {
      restAfterChain = false
      // a hook lowers the priority first, then the held loads start, on the CPUs its boot
      // leaves idle: none until the first look at the CPU says how many (four loads started
      // at once here took the one CPU for 0.5 s while the boot script mounted the root)
      o.onChainLoaded?.()
      if (o.onEnough !== undefined && o.ownCpuMs !== undefined && sample !== null) {
        besideBoot = true
        scheduler.cap = 0
        debug('beside the boot: loads start on the CPUs it leaves idle, from the next look at them')
        ownMs = o.ownCpuMs()
        sample = o.cpu?.() ?? sample
        sampledAt = o.now()
      }
      if (scheduler.holdFrom !== undefined) scheduler.releaseHold()
    }
    // beside the boot the scan is work like a load: it waits for a CPU the boot leaves idle (on
    // one emulated CPU reading and resolving the devices' ~45 aliases took ~0.1 s from the boot
    // script, for loads that then waited for the same idle CPU)
    if (scanDeferred && !chainFirst && gateOpen && !stopping && !scanWaitsForCpu()) {
      scanDeferred = false
      scheduler.pause()
      rescan()
      scheduler.resume()
      lastActivity = o.now()
    }
    // a load that has been in the kernel past slowMs may be hung: it does not hold up the root
    if (stopping && onlySlowInFlight(now)) break
    // (not while beforeEnough runs: the root is there, what is held waits for onEnough)
    if (!stopping && gateOpen && scheduler.holdFrom !== undefined && scheduler.idleBelowHold() && now - lastActivity >= o.quietMs && now >= holdUntil()) {
      debug('the root is not there yet and all else is quiet: the held loads go now')
      scheduler.releaseHold()
    }
    if (scheduler.idle() && !scanDeferred && gateOpen && now - lastActivity >= o.quietMs && now >= holdUntil()) {
      if (o.events !== null) break
      // no uevents: only a last look at /sys can tell whether devices came late
      rescan()
      if (scheduler.idle()) break
    }
    if (!timedOut && now - t0 >= o.timeoutMs) {
      timedOut = true
      scheduler.pause()
      debug(`modload.timeout: no load starts any more; ${scheduler.inFlight().length} in flight, ${scheduler.waiting().length} left`)
    }
    if (timedOut && onlySlowInFlight(now)) break
    const wait = o.events?.wait
    if (wait === undefined) {
      await o.sleep(tick).done
      continue
    }
    // sleep until something happens: a uevent, a load's end, or the next deadline (the end of
    // the quiet period or a hold, a slow load's release, the timeout)
    // (timed out: a load in flight is younger than slowMs, and its release bounds the wait)
    let until = timedOut ? now + slowMs : t0 + o.timeoutMs
    // (while beforeEnough runs the quiet period ends nothing: its end wakes us)
    if (gateOpen && (scheduler.idle() || (scheduler.holdFrom !== undefined && scheduler.idleBelowHold()))) until = Math.min(until, Math.max(lastActivity + o.quietMs, holdUntil()))
    const release = scheduler.nextReleaseAt()
    if (release !== undefined) until = Math.min(until, release)
    // every slot taken and loads ready, or the scan waiting for a CPU: look at the CPU again soon
    const waitsForCpu = (scanDeferred && scanWaitsForCpu()) || (scheduler.slotsUsed() >= scheduler.allowed() && scheduler.queued() > 0)
    if (sample !== null && !stopping && waitsForCpu) until = Math.min(until, sampledAt + ADAPT_MS)
    // loads in flight and jobs waiting (for them, or for a slot): look at the module states again
    if (o.moduleState !== undefined && !stopping && scheduler.queued() > 0 && scheduler.inFlight().length > 0) until = Math.min(until, liveCheckedAt + ADAPT_MS)
    const ms = Math.max(1, until - o.now())
    // the sleep that loses the race is cancelled: a timer left behind would keep the process
    // (`modload coldplug` in a boot script) alive for up to its whole length after settling
    const timer = o.sleep(ms)
    await new Promise<void>((resolve) => {
      wakeUp = resolve
      void wait.call(o.events, ms).then(resolve)
      void timer.done.then(resolve)
    })
    timer.cancel()
    wakeUp = () => undefined
  }
  const end = o.now()
  return {
    results: [...extra, ...scheduler.outcomes()],
    hung: scheduler.inFlight().map((f) => ({ name: f.name, ms: end - f.since })),
    blocked: scheduler.waiting(),
    unmatched: [...unmatched].sort(),
    blacklisted,
    commands,
    matched,
    events,
    scans,
    timedOut,
    stoppedEarly: stopping,
    stoppedBy: stopBy,
    ms: end - t0,
  }
}
