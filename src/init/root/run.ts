// The hand-over wired to the real machine: sysfs and /dev for the block devices, depmod's
// indexes and modprobe.d for the filesystem module (its softdeps included: ext4 wants
// crypto-crc32c first), /proc/filesystems, node:fs for the new root, process.execve.
// init.ts calls runHandOver() once coldplug has settled, when root= is on the command line.
import { openSystemModules, type OpenedModules } from '../system.js'
import { kernelRelease } from '../../sys/release.js'
import { KERNEL_DEFAULT_MODPROBE, registerModprobeHelper } from '../../load/helper.js'
import { removeForwardFiles } from '../../load/forward.js'
import { mkdirSync, readFileSync } from 'node:fs'
import { msSinceStart, sleep } from '../../sys/lazy.js'
import { resolve, type ModuleDb } from '../../core/moddb.js'
import { probe } from '../../core/probe.js'
import type { ModprobeConfig } from '../../config/modprobe-conf.js'
import { parseProcModules } from '../../format/proc-modules.js'
import { loadWithDeps, type LoaderContext, type LoadResult } from '../../load/loader.js'
import { SysError, type Sys } from '../../sys/syscalls.js'
import { PROC_MODULES, SYS } from '../../paths.js'
import { readKernelCompression } from '../../load/insert.js'
import { scanDevices } from '../sysfs.js'
import type { Log } from '../log.js'
import { blockIo } from './devices.js'
import { realInitFs } from './find-init.js'
import { handOver, RootError, type HandOverEnv, type Outcome } from './handover.js'
import { parseRootOptions } from './options.js'
import { realSwitchEnv } from './switch-root.js'

export const PROC_FILESYSTEMS = '/proc/filesystems'
/** Rescan /sys for new devices at most this often while waiting for the root device. */
const RESCAN_MS = 1000

function readOr(path: string): string {
  try {
    return readFileSync(path, 'latin1')
  } catch {
    return ''
  }
}

/** /proc/filesystems: "nodev\tsysfs" or "\text4", one type a line. */
export function parseFilesystems(text: string): { type: string; nodev: boolean }[] {
  const out: { type: string; nodev: boolean }[] = []
  for (const line of text.split('\n')) {
    const [flag, type] = line.split('\t')
    if (type) out.push({ type: type.trim(), nodev: flag === 'nodev' })
  }
  return out
}

function describeResult(r: LoadResult): string {
  if (r.status !== 'failed' && r.status !== 'skipped') return `${r.status} ${r.name}`
  const e = r.error
  return `${r.name} ${r.status}: ${e instanceof SysError ? `${e.code} (${e.message})` : (e?.message ?? 'unknown error')}`
}

interface Modules {
  db: ModuleDb
  config: ModprobeConfig
  ctx: LoaderContext
}

function openModules(sys: Sys, log: Log, cmdlineText: string, opened?: OpenedModules): Modules | null {
  try {
    // coldplug has read the database already; read it again only when it could not
    const { db, config } = opened ?? openSystemModules(log, cmdlineText)
    const options = new Map<string, string>()
    const ctx: LoaderContext = {
      db,
      sys,
      live: new Set(parseProcModules(readOr(PROC_MODULES)).map((m) => m.name)),
      failed: new Map(),
      kernelCompression: readKernelCompression(),
      now: () => msSinceStart(),
      params: (name) => options.get(name) ?? '',
    }
    return { db, config, ctx }
  } catch (err) {
    log(`root: warning: no module database (${(err as Error).message}); only built-in filesystems and drivers can be used`, 'warn')
    return null
  }
}

/** Load what filesystem `type` needs, through kmod's plan for fs-TYPE (else TYPE). */
async function loadFilesystem(mods: Modules | null, type: string, known: () => { type: string }[]): Promise<string[]> {
  if (known().some((f) => f.type === type)) return []
  const where = mods ? mods.db.dir : `/lib/modules/${kernelRelease()}`
  const plan = mods && (probe(mods.db, mods.config, `fs-${type}`) ?? probe(mods.db, mods.config, type))
  if (!mods || !plan) {
    throw new RootError(
      'filesystem',
      'ENOENT',
      `the kernel has no ${type} filesystem and no module provides it (neither fs-${type} nor ${type} in ${where}); ` +
        `add the module to the initramfs (mkinitramfs --modules ...,${type}) or pass rootfstype=`,
    )
  }
  const loaded: string[] = []
  const failures: string[] = []
  for (const { actions } of plan.plans) {
    for (const a of actions) {
      if (a.kind !== 'insmod') continue
      for (const r of await loadWithDeps({ ...mods.ctx, params: () => a.options }, a.name)) {
        if (r.status === 'loaded') loaded.push(r.name)
        else if (r.status === 'failed' || r.status === 'skipped') failures.push(describeResult(r))
      }
    }
  }
  if (!known().some((f) => f.type === type)) {
    const why = failures.length ? failures.join('; ') : `loaded ${loaded.join(' ') || 'nothing'}`
    throw new RootError('filesystem', 'ENODEV', `cannot get filesystem ${type} into the kernel: ${why}`)
  }
  return loaded
}

/**
 * While the root device is missing, load drivers for devices that appeared since coldplug
 * settled (a disk behind a late USB or SCSI host): modaliases that were not there when the
 * wait began, resolved and loaded with their dependencies.
 */
function lateDrivers(mods: Modules | null, log: Log, coldplugSeen?: ReadonlySet<string>): (() => Promise<void>) | undefined {
  if (!mods) return undefined
  // what coldplug looked up was coldplug's to load (or to report as failed): not retried here.
  // Without its list, what is present now. (Its list spares a walk of /sys before every
  // hand-over: 37 ms of one emulated CPU on q35, steady clock, for a root that is there.)
  const seen = new Set(coldplugSeen ?? scanDevices(SYS).map((d) => d.modalias))
  let next = 0
  return async () => {
    const now = msSinceStart()
    if (now < next) return
    next = now + RESCAN_MS
    for (const { modalias } of scanDevices(SYS)) {
      if (seen.has(modalias)) continue
      seen.add(modalias)
      const r = resolve(mods.db, modalias)
      if (r.kind !== 'module') continue
      for (const name of r.names) {
        if (mods.ctx.live.has(name) || mods.ctx.failed.has(name)) continue
        for (const res of await loadWithDeps(mods.ctx, name)) log(`root: late device ${modalias}: ${describeResult(res)}`)
      }
    }
  }
}

/**
 * Node ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across execve: init
 * and every process it starts would inherit that (systemd resets it, sysvinit and busybox do
 * not). libuv puts a signal back to SIG_DFL when its last watcher goes, so a watcher added
 * and removed just before exec restores the default (measured with Node 22.22).
 */
function defaultSignals(): void {
  const noop = (): void => {}
  for (const s of ['SIGPIPE', 'SIGXFSZ'] as const) {
    process.on(s, noop)
    process.off(s, noop)
  }
}

/** The environment for init: ours minus what the runtime added (UV_THREADPOOL_SIZE...). */
export function initEnviron(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(env)) if (!/^(NODE_|UV_|PKG_)/.test(k)) out[k] = v
  return out
}

/** `coldplugSeen`: the modaliases coldplug looked up (coldplug.ts modaliasesSeen); what the
 * wait for the root finds beyond them gets its drivers loaded. */
export function realEnv(sys: Sys, log: Log, cmdlineText: string, opened?: OpenedModules, coldplugSeen?: ReadonlySet<string>): HandOverEnv {
  const mods = openModules(sys, log, cmdlineText, opened)
  const filesystems = () => parseFilesystems(readOr(PROC_FILESYSTEMS))
  const execve = (process as { execve?: HandOverEnv['execve'] }).execve
  return {
    sys,
    log,
    now: () => msSinceStart(),
    sleep: (ms) => sleep(ms),
    repeat: (ms, fn) => void setInterval(fn, ms),
    blocks: blockIo(),
    poke: lateDrivers(mods, log, coldplugSeen),
    filesystems,
    loadFilesystem: (type) => loadFilesystem(mods, type, filesystems),
    mkdir: (p) => mkdirSync(p, { recursive: true }),
    initFs: realInitFs,
    execve:
      typeof execve === 'function'
        ? (file, args, env) => {
            defaultSignals()
            // the kernel-wide helper setting outlives the initramfs, whose tools are gone now
            try {
              registerModprobeHelper(KERNEL_DEFAULT_MODPROBE)
            } catch (err) {
              log(`root: warning: cannot reset the kernel's module helper: ${(err as Error).message}`, 'warn')
            }
            // the forwarding helper and its socket, moved along with /run: nobody answers there now
            removeForwardFiles()
            return execve.call(process, file, args, env)
          }
        : undefined,
    environ: initEnviron(process.env),
    switchEnv: realSwitchEnv(sys, log),
    // only as PID 1: freeing "/" from a shell would delete the host's files
    freeInitramfs: process.pid === 1,
  }
}

/** Hand over to root= (init.ts's last step). Returns only when it failed and chose to wait
 * (a timer keeps PID 1 alive) or the power-off/reboot call came back. */
export async function runHandOver(sys: Sys, log: Log, cmdlineText: string, opened?: OpenedModules, coldplugSeen?: ReadonlySet<string>): Promise<Outcome> {
  return handOver(realEnv(sys, log, cmdlineText, opened, coldplugSeen), parseRootOptions(cmdlineText))
}

export { rootRequested } from './options.js'
