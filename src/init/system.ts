// Coldplug on the running system: what init and `modload coldplug` share. Wires the engine
// (coldplug.ts) to the real kernel: the uevent socket (opened before /sys is read), depmod's
// indexes for the running kernel, modprobe.d and the kernel command line, modules-load.d,
// /proc/modules, /sys/module/compression; then prints the report.
import type { ModuleDb } from '../core/moddb.js'
import type { ModprobeConfig } from '../config/modprobe-conf.js'
import { closeSync, existsSync, readFileSync } from 'node:fs'
import { kernelRelease } from '../sys/release.js'
import { msSinceStart } from '../sys/lazy.js'
import { flag, type Cmdline } from '../format/cmdline.js'
import { parseProcModules } from '../format/proc-modules.js'
import { openBootIndex } from './index-open.js'
import { modulesDir } from '../paths.js'
import { loadModprobeConfig } from '../config/config-fs.js'
import type { Sys } from '../sys/syscalls.js'
import { coldplug, parseDelayUse, timerSleep, usbHubHold, usbStorageHold, type ColdplugReport } from './coldplug.js'
import { openKernelLog } from './kmsg.js'
import { scanDevices } from './sysfs.js'
import { openUeventSource, type UeventSource } from './uevent.js'
import { parseLoadParam, parseModulesLoad, readModulesLoad } from './modules-load.js'
import { describe, levelOf, oopsDuring, parseTainted, printReport } from './report.js'
import type { Log } from './log.js'
import { IMAGE_ROOT_MODULES, IMAGE_SIGNATURE_HASH, PROC_MODULES, PROC_STAT, PROC_TAINTED, SYS, SYS_MODULE } from '../paths.js'
import { describeSpec, parseRootOptions, rootRequested, type RootSpec } from './root/options.js'
import { blockIo, rootPresent } from './root/devices.js'
import { parseProcStat } from './adapt.js'
import { DEFAULT_INTERVAL_US, profileInterval } from './cpu-profile.js'
import { initState, readKernelCompression } from '../load/insert.js'
import { findSignatureAccelerators, loadFirst, readCpuModalias } from '../load/signature-first.js'
import { loadableFirst, parseSignatureFirst } from '../core/signature-hash.js'

export interface ColdplugSettings {
  /** give up waiting after this long (modload.timeout=, seconds) */
  timeoutMs: number
  /** settled after this long without a uevent or a load (modload.quiet_ms=) */
  quietMs: number
  /** loads in flight at once to begin with (modload.jobs=) */
  concurrency: number
  /** at most this many while the CPU idles (modload.maxjobs=; = jobs: fixed) */
  maxConcurrency: number
  debug: boolean
  /** modload.load=a,b */
  force: string[]
  /** modload.handover=early: hand over once the root device is there, not when settled */
  early: boolean
  /** load the CPU's implementation of the module signature hash first (signatureHashFirst);
   * modload.sighash=off leaves it to the CPU's feature modules' turn */
  signatureHashFirst: boolean
}

// 60 s: a hung module init costs that much boot time before we give up on it (udev's settle
// waits 120 s). 250 ms quiet: on the virtio, legacy-pc and q35 machines under TCG (Debian 6.1,
// a loaded 2-core host) no uevent came more than 155 ms after the last load or uevent, except
// where the kernel adds devices from its own delayed work, which has its own holds: the ports
// of a new USB hub (usbHubHold), a USB device the hub driver says it enumerates (kmsg.ts: a
// stick two hubs deep on a full-speed bus came 0.5 s after each hub's hold ended) and the USB
// disk's SCSI device, which usb-storage adds `delay_use` (1 s) after its host
// (usbStorageHold). Udev's settle waits for no quiet at all.
// modload.debug prints every gap over 100 ms, to tune this by.
// 16: the thread pool main.ts asks for (UV_THREADPOOL_SIZE); each load in flight holds a thread.
export const DEFAULTS: Omit<ColdplugSettings, 'force' | 'debug' | 'early' | 'signatureHashFirst'> = { timeoutMs: 60_000, quietMs: 250, concurrency: 4, maxConcurrency: 16 }

function num(c: Cmdline, key: string): number | undefined {
  const v = c.params.get(key)
  if (typeof v !== 'string') return undefined
  const n = Number(v)
  return Number.isFinite(n) && n >= 0 ? n : undefined
}

export function settingsFromCmdline(c: Cmdline): ColdplugSettings {
  const timeout = num(c, 'modload.timeout')
  return {
    timeoutMs: timeout === undefined ? DEFAULTS.timeoutMs : timeout * 1000,
    quietMs: num(c, 'modload.quiet_ms') ?? DEFAULTS.quietMs,
    concurrency: Math.max(1, Math.floor(num(c, 'modload.jobs') ?? DEFAULTS.concurrency)),
    maxConcurrency: Math.max(1, Math.floor(num(c, 'modload.maxjobs') ?? Math.max(DEFAULTS.maxConcurrency, num(c, 'modload.jobs') ?? 0))),
    debug: flag(c, 'modload.debug'),
    force: parseLoadParam(c.params.get('modload.load')),
    early: c.params.get('modload.handover') === 'early',
    signatureHashFirst: c.params.get('modload.sighash') !== 'off',
  }
}

/** modload's own kernel command-line options, and what each takes. */
const OPTIONS: Record<string, 'flag' | 'number' | 'list' | 'flag-or-interval' | readonly string[]> = {
  'modload.halt': 'flag',
  'modload.capture': 'flag',
  'modload.debug': 'flag',
  'modload.cpuprofile': 'flag-or-interval',
  'modload.timeout': 'number',
  'modload.quiet_ms': 'number',
  'modload.jobs': 'number',
  'modload.maxjobs': 'number',
  'modload.load': 'list',
  'modload.handover': ['early', 'settled'],
  'modload.onfail': ['poweroff', 'reboot', 'halt', 'wait'],
  'modload.sighash': ['first', 'off'],
}

const MODULE_NAME = /^[A-Za-z0-9_-]+$/

/**
 * What is wrong with modload's options on the command line, one line each: an unknown
 * modload.* key, a value that is not a number, not one of the choices, or a module name that
 * cannot be one. settingsFromCmdline uses the default for each of those; the words are for
 * the log, so that a typo does not go unnoticed. Pure.
 */
export function cmdlineWarnings(c: Cmdline): string[] {
  const out: string[] = []
  for (const [key, v] of c.params) {
    if (!key.startsWith('modload.')) continue
    const kind = OPTIONS[key]
    const shown = v === true ? key : `${key}=${v}`
    if (kind === undefined) out.push(`${shown}: unknown option (modload knows ${Object.keys(OPTIONS).join(', ')}); ignored`)
    else if (kind === 'number' && num(c, key) === undefined) out.push(`${shown}: not a number >= 0; the default is used`)
    else if (kind === 'flag-or-interval' && typeof v === 'string' && flag(c, key) && profileInterval(v) !== Number(v)) {
      out.push(`${shown}: not a whole number of microseconds >= 50; ${DEFAULT_INTERVAL_US} is used`)
    }
    else if (kind === 'list') {
      const bad = (typeof v === 'string' ? v.split(',') : []).filter((n) => n.length > 0 && !MODULE_NAME.test(n))
      if (bad.length) out.push(`${shown}: ${bad.map((n) => JSON.stringify(n)).join(', ')} cannot be module names; looked up all the same (nothing matches them)`)
    } else if (Array.isArray(kind) && (v === true || !kind.includes(v))) out.push(`${shown}: not one of ${kind.join(', ')}; ignored`)
  }
  return out
}

function readOr(path: string, fallback: string | null): string | null {
  try {
    return readFileSync(path, 'latin1')
  } catch {
    return fallback
  }
}

/** Modules in the kernel and done loading: a module whose init oopsed stays 'Loading'. */
export function liveModules(): string[] {
  return parseProcModules(readOr(PROC_MODULES, '') ?? '')
    .filter((m) => m.state === 'Live')
    .map((m) => m.name)
}

/** The running kernel's module database and modprobe.d config: read once per boot (the index
 * read costs about a second under TCG) and shared by coldplug and the root hand-over. */
export interface OpenedModules {
  db: ModuleDb
  config: ModprobeConfig
}

export function openSystemModules(log: Log, cmdlineText: string): OpenedModules {
  const t0 = msSinceStart()
  const kver = kernelRelease()
  const db = openBootIndex(modulesDir('/', kver), (w) => log(`warning: ${w}`, 'warn'))
  const { config, warnings } = loadModprobeConfig({ modulesDir: db.dir, cmdline: cmdlineText })
  for (const w of warnings) log(`${w.file}:${w.line}: ${w.message}`, 'warn')
  // counting the entries would read the whole index: the binary one is searched in place
  const sizes = db.format === 'text' ? ` modules=${db.modules.size} aliases=${db.aliases.size}` : ''
  log(`index kver=${kver} format=${db.format}${sizes} ms=${(msSinceStart() - t0).toFixed(1)}`)
  return { db, config }
}

/**
 * Whether root= (when the command line names one) and each of `devices` are there: for
 * modload.handover=early (init hands over then) and for a hook's --ready-fd (its boot script
 * goes on then). undefined when there is nothing to look for.
 */
function devicesThere(cmdlineText: string, devices: readonly RootSpec[], log: Log, what: string): (() => boolean) | undefined {
  const opts = parseRootOptions(cmdlineText)
  const specs = [...(opts.root ? [opts.root] : []), ...devices]
  if (specs.length === 0) return undefined
  const io = blockIo()
  const present = specs.map((s) => rootPresent(s, io))
  const names = [...(opts.root ? [`root=${opts.rootText}`] : []), ...devices.map(describeSpec)].join(', ')
  return () => {
    const yes = present.every((p) => p())
    if (yes) log(`${names} ${specs.length === 1 ? 'is' : 'are'} there: ${what}`, 'detail')
    return yes
  }
}

/** What `modload coldplug` adds for a boot script that goes on without waiting for settle. */
export interface HookControl {
  /** devices that must be there too before `onReady` (the resume device) */
  devices?: readonly RootSpec[]
  /** called once root= and `devices` are there; coldplug goes on to settle */
  onReady?: () => void
  /** after onReady, called once the root's chain (/etc/modload/root-modules) is loaded (ColdplugOptions.onChainLoaded) */
  onChainLoaded?: () => void
  /** run once the devices are there; onReady waits for it (ColdplugOptions.beforeEnough) */
  beforeReady?: () => Promise<unknown>
  /** resolves when coldplug should end early (SIGTERM) */
  stop?: Promise<void>
  /** after onChainLoaded, loads start only on the CPUs the boot leaves idle
   * (ColdplugOptions.ownCpuMs): for a boot that stops coldplug at its end (handover early),
   * where the boot's own progress is what counts; a boot that waits for coldplug to settle is
   * better off with the loads filling its idle moments at the lowest priority */
  yieldCpu?: boolean
}

/**
 * Load the CPU's implementation of the module signature hash before anything else, when the
 * tree has one (src/core/signature-hash.ts): the kernel hashes every module it loads after it
 * with that one. A failure is a warning: the loads go on with the kernel's own hash.
 */
async function signatureHashFirst(sys: Sys, db: ModuleDb, config: ModprobeConfig, log: Log, compression: string | null): Promise<void> {
  const t = msSinceStart()
  try {
    // the image's builder found them (on this machine, or the one it was built for: a CPU
    // without the feature refuses the module with ENODEV); else the tree and the CPU say.
    const recorded = parseSignatureFirst(readOr(IMAGE_SIGNATURE_HASH, null) ?? '')
    const found = recorded ?? (await findSignatureAccelerators(db, config, readCpuModalias()))
    if (found === null) return
    // (the discovery leaves out what the blacklist names; the record was made without the
    // boot's own modprobe.blacklist=)
    const wanted = recorded ? loadableFirst(db, config, recorded.modules) : found.modules
    const live = new Set(liveModules())
    const results = await loadFirst(sys, db, wanted, (n) => live.has(n) || db.builtin.has(n), msSinceStart, compression)
    for (const r of results) {
      if (r.ok) log(`signature hash ${found.hash}: ${r.name} loaded first, for every later module's signature check ms=${r.ms.toFixed(1)}`, 'detail')
      else if (r.code === 'ENODEV') log(`signature hash ${found.hash}: ${r.name} is not for this CPU (${r.error}); the modules' signatures are checked with the kernel's own ${found.hash}`, 'detail')
      else log(`warning: signature hash ${found.hash}: ${r.name} did not load (${r.error}); the modules load the same, their signatures checked with the kernel's own ${found.hash}`, 'warn')
    }
    if (results.length) log(`signature hash: ${(msSinceStart() - t).toFixed(1)} ms`, 'debug')
  } catch (err) {
    // only a speed-up: coldplug goes on without it
    log(`warning: signature hash: ${(err as Error).message}; the modules load the same, their signatures checked with the kernel's own hash`, 'warn')
  }
}

/** Run coldplug on this machine with `settings`; `cmdlineText` is /proc/cmdline; `opened` is
 * the database when the caller has read it already. */
export async function coldplugSystem(
  sys: Sys,
  log: Log,
  settings: ColdplugSettings,
  cmdlineText: string,
  opened?: OpenedModules,
  hook: HookControl = {},
): Promise<ColdplugReport> {
  // the socket first: a device added while we read /sys is then in one or the other
  let events: UeventSource | null = null
  const kernelLog = openKernelLog()
  try {
    events = openUeventSource(sys, closeSync)
  } catch (err) {
    log(`warning: no uevent socket (${(err as Error).message}); rescanning /sys instead`, 'warn')
  }
  try {
    const { db, config } = opened ?? openSystemModules(log, cmdlineText)
    const lists = readModulesLoad('/')
    if (lists.files.length) log(`modules-load.d: ${lists.files.join(' ')}: ${lists.names.join(' ') || '(empty)'}`, 'debug')
    const compression = readKernelCompression()
    // the root's chain as the image builder saw it: first in line, with root= loaded
    // whatever the hardware (the filesystem module has no device to be found through), and
    // alone while root= is awaited (coldplug.ts CHAIN_FIRST)
    const rootChain = parseModulesLoad(readOr(IMAGE_ROOT_MODULES, null) ?? '')
    const withRoot = rootRequested(cmdlineText)
    if (rootChain.length) log(`root chain${withRoot ? '' : ' (no root=: order only)'}: ${rootChain.join(' ')}`, 'debug')
    // an oops in a module's init shows as a hung load: the taint flag tells them apart
    const taintedBefore = parseTainted(readOr(PROC_TAINTED, null))
    if (settings.signatureHashFirst) await signatureHashFirst(sys, db, config, log, compression)
    const report = await coldplug({
      db,
      config,
      sys,
      kernelCompression: compression,
      live: new Set(liveModules()),
      scan: () => scanDevices(SYS).map((d) => d.modalias),
      events,
      force: [...new Set([...(withRoot ? rootChain : []), ...settings.force, ...lists.names])],
      urgent: new Set(rootChain),
      enough: hook.onReady
        ? devicesThere(cmdlineText, hook.devices ?? [], log, 'the boot script goes on, coldplug too')
        : settings.early && withRoot
          ? devicesThere(cmdlineText, hook.devices ?? [], log, 'handing over before coldplug settles (modload.handover=early)')
          : undefined,
      onEnough: hook.onReady,
      beforeEnough: hook.beforeReady,
      onChainLoaded: hook.onChainLoaded,
      stop: hook.stop,
      // the switch to the root empties the image: its module directory goes with it
      handedOver: () => !existsSync(db.dir),
      quietMs: settings.quietMs,
      timeoutMs: settings.timeoutMs,
      concurrency: settings.concurrency,
      maxConcurrency: Math.max(settings.concurrency, settings.maxConcurrency),
      cpu: () => parseProcStat(readOr(PROC_STAT, null) ?? ''),
      ownCpuMs: hook.yieldCpu
        ? () => {
            const u = process.cpuUsage()
            return (u.user + u.system) / 1000
          }
        : undefined,
      moduleState: (name) => initState(SYS_MODULE, name),
      now: () => msSinceStart(),
      sleep: timerSleep,
      holdFor: (ev) => Math.max(usbHubHold(ev), usbStorageHold(ev, () => parseDelayUse(readOr(`${SYS_MODULE}/usb_storage/parameters/delay_use`, null)))),
      kernelLog,
      usbDeviceThere: (name) => existsSync(`${SYS}/bus/usb/devices/${name}`),
      onResult: (r) => log(describe(r), levelOf(r)),
      debug: settings.debug ? (l) => log(l, 'debug') : undefined,
    })
    const oops = oopsDuring(report, {
      taintedBefore,
      taintedAfter: parseTainted(readOr(PROC_TAINTED, null)),
      loading: parseProcModules(readOr(PROC_MODULES, '') ?? '').filter((m) => m.state === 'Loading').map((m) => m.name),
    })
    printReport(log, report, oops)
    // CPU time of this process (every thread: the loads' time in the kernel is system time)
    const cpu = process.cpuUsage()
    log(`cpu user_ms=${(cpu.user / 1000).toFixed(0)} system_ms=${(cpu.system / 1000).toFixed(0)}`, 'detail')
    return report
  } finally {
    events?.close()
    kernelLog.close()
  }
}
