// Root hand-over: the end of /init. Wait for the device root= names, load its filesystem's
// module, mount it, check that an init can run there, switch root and exec it with the
// console kept. Any failure is reported with what is missing (the device, the filesystem
// module, the init) and then handled as modload.onfail= says: power off, reboot, halt, or
// (default) wait, repeating the reason. Nothing here ends the process: for PID 1 that would
// be a kernel panic. All I/O comes through HandOverEnv, so tests run it with fakes.
import { MS_RDONLY, MS_SILENT, REBOOT, type Sys } from '../../sys/syscalls.js'
import { CONSOLE_DRAIN_MS, type Log } from '../log.js'
import { Identifier, describeDevice, devPath, matches, type BlockDevice, type BlockIo, type Identity } from './devices.js'
import { findInit, type InitFs } from './find-init.js'
import { DEFAULT_INITS, describeSpec, type OnFail, type RootOptions } from './options.js'
import { switchRoot, type SwitchEnv, type SwitchOptions } from './switch-root.js'

/** Where the root filesystem is mounted before it becomes "/" (initramfs-tools' choice). */
export const NEW_ROOT = '/root'
export const POLL_MS = 100
/** How often a wait (for the device, or after a failure) says again what it waits for. */
export const REMIND_MS = 30_000

export type RootStage = 'device' | 'filesystem' | 'mount' | 'init' | 'switch' | 'exec'

/** A failed hand-over step; `code` is the errno-style name of what went wrong. */
export class RootError extends Error {
  readonly code: string
  readonly stage: RootStage
  constructor(stage: RootStage, code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'RootError'
    this.stage = stage
    this.code = code
  }
}

export interface HandOverEnv {
  sys: Pick<Sys, 'mount' | 'umount2' | 'reboot' | 'sync'>
  log: Log
  now(): number
  sleep(ms: number): Promise<void>
  /** calls fn every ms forever (keeps PID 1 alive while waiting) */
  repeat(ms: number, fn: () => void): void
  blocks: BlockIo
  /** between polls: let the coldplug load drivers for devices that appeared meanwhile */
  poke?(): Promise<void>
  /** filesystem types the kernel knows now (/proc/filesystems), and whether each needs a device */
  filesystems(): { type: string; nodev: boolean }[]
  /** load the module(s) for filesystem `type`; throws RootError('filesystem') naming what is missing */
  loadFilesystem(type: string): Promise<string[]>
  mkdir(path: string): void
  initFs: InitFs
  /** process.execve when the runtime has it */
  execve: ((file: string, args: string[], env: NodeJS.ProcessEnv) => never) | undefined
  environ: NodeJS.ProcessEnv
  switchEnv: SwitchEnv
  freeInitramfs: boolean
}

/** What a hand-over did, for tests: exec never returns in real life. */
export type Outcome = { kind: 'exec'; init: string; args: string[] } | { kind: 'failed'; error: RootError; action: OnFail }

function sec(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

/** Wait for the device root= names; throws RootError('device') when the wait runs out. */
export async function waitForRoot(env: HandOverEnv, opts: RootOptions): Promise<{ dev: BlockDevice; id: Identity }> {
  const spec = opts.root
  if (!spec) throw new RootError('device', 'EINVAL', `root=${opts.rootText} names no device: use /dev/NAME, UUID=, LABEL= or PARTUUID=`)
  const what = describeSpec(spec)
  const ider = new Identifier(env.blocks)
  const t0 = env.now()
  const deadline = opts.waitMs === null ? Infinity : t0 + opts.waitMs
  let remind = t0 + REMIND_MS
  let announced = false
  let last: { dev: BlockDevice; id: Identity | Error | undefined }[] = []
  for (;;) {
    const all = env.blocks.list()
    last = []
    for (const dev of all) {
      let id: Identity | Error | undefined
      const get = (): Identity => {
        if (id instanceof Error) throw id
        if (id === undefined) {
          try {
            id = ider.identify(dev, all)
          } catch (err) {
            id = err instanceof Error ? err : new Error(String(err))
            throw id
          }
        }
        return id
      }
      let hit = false
      try {
        hit = matches(spec, dev, get)
      } catch {
        // unreadable for now (no medium, still probing): try again next round
      }
      if (hit) {
        let found: Identity
        try {
          found = get()
        } catch (err) {
          throw new RootError('device', 'EIO', `root device ${what} is ${devPath(dev.name)}, but reading it failed: ${(err as Error).message}`)
        }
        env.log(`root: found ${what}: ${describeDevice(dev, found)} after ${sec(env.now() - t0)}`)
        return { dev, id: found }
      }
      last.push({ dev, id })
    }
    const now = env.now()
    if (now >= deadline) {
      // say what each device holds, even where root= needed no superblock to rule it out
      const ident = (l: (typeof last)[number]): Identity | Error => {
        if (l.id !== undefined) return l.id
        try {
          return ider.identify(l.dev, all)
        } catch (err) {
          return err instanceof Error ? err : new Error(String(err))
        }
      }
      const seen = last.length ? last.map((l) => describeDevice(l.dev, ident(l))).join(', ') : 'none'
      throw new RootError(
        'device',
        'ENODEV',
        `root device ${what} did not appear within ${sec(opts.waitMs ?? 0)}; block devices: ${seen}. ` +
          `Check root= and that the initramfs has the disk's driver (rootwait waits forever, modload.timeout=S sets the wait)`,
      )
    }
    if (!announced) {
      env.log(`root: waiting for ${what} (${opts.waitMs === null ? 'rootwait: no limit' : `up to ${sec(opts.waitMs)}`})`)
      announced = true
    } else if (now >= remind) {
      env.log(`root: still waiting for ${what} after ${sec(now - t0)}`)
      remind = now + REMIND_MS
    }
    await env.poke?.()
    await env.sleep(POLL_MS)
  }
}

/** The filesystem types to try, in order: rootfstype=, else the superblock's, else every
 * block filesystem the kernel has (as the kernel does). */
export function fsCandidates(env: HandOverEnv, opts: RootOptions, id: Identity): string[] {
  if (opts.fstypes.length > 0) return opts.fstypes
  if (id.fs) return [id.fs.type]
  return env.filesystems().filter((f) => !f.nodev).map((f) => f.type)
}

/** Load the filesystem module and mount; returns the type that mounted. */
export async function mountRoot(env: HandOverEnv, opts: RootOptions, dev: BlockDevice, id: Identity): Promise<string> {
  const source = devPath(dev.name)
  const types = fsCandidates(env, opts, id)
  if (id.fs && ['swap', 'jbd'].includes(id.fs.type) && opts.fstypes.length === 0) {
    throw new RootError('mount', 'EINVAL', `root device ${source} holds ${id.fs.type}, not a filesystem to mount`)
  }
  if (types.length === 0) {
    throw new RootError('filesystem', 'ENODEV', `no filesystem found on ${source} and none given: pass rootfstype=TYPE`)
  }
  env.mkdir(NEW_ROOT)
  const flags = (opts.readOnly ? MS_RDONLY : 0) | MS_SILENT
  const errors: string[] = []
  for (const type of types) {
    try {
      const loaded = await env.loadFilesystem(type)
      if (loaded.length) env.log(`root: filesystem ${type}: loaded ${loaded.join(' ')}`)
    } catch (err) {
      if (types.length === 1) throw err
      errors.push(`${type}: ${(err as Error).message}`)
      continue
    }
    try {
      env.sys.mount(source, NEW_ROOT, type, flags, opts.flags)
      env.log(`root: mounted ${source} on ${NEW_ROOT} type ${type} (${opts.readOnly ? 'ro' : 'rw'}${opts.flags ? `,${opts.flags}` : ''})`)
      return type
    } catch (err) {
      errors.push(`${type}: ${(err as Error).message}`)
    }
  }
  throw new RootError('mount', 'EINVAL', `cannot mount root device ${source}: ${errors.join('; ')}`)
}

/** The whole hand-over; returns only on failure (after acting on it) or, with a fake execve, after "exec". */
export async function handOver(env: HandOverEnv, opts: RootOptions): Promise<Outcome> {
  for (const w of opts.warnings) env.log(`root: warning: ${w}`)
  let mounted = false
  try {
    if (typeof env.execve !== 'function') {
      throw new RootError('exec', 'ENOSYS', `this runtime (Node ${process.versions.node}) has no process.execve, needed to start init; modload must be built on Node 22.15 or later`)
    }
    if (opts.delayMs > 0) {
      env.log(`root: rootdelay: waiting ${sec(opts.delayMs)}`)
      await env.sleep(opts.delayMs)
    }
    const { dev, id } = await waitForRoot(env, opts)
    await mountRoot(env, opts, dev, id)
    mounted = true
    const candidates = opts.init !== null ? [opts.init] : DEFAULT_INITS
    const choice = findInit(env.initFs, NEW_ROOT, candidates)
    if (choice.path === null) {
      const hint = opts.init !== null ? 'fix init= or the root filesystem' : 'pass init=PATH or install an init in the root filesystem'
      throw new RootError('init', 'ENOENT', `no init to run on ${devPath(dev.name)}: tried ${choice.tried.join('; ')}; ${hint}`)
    }
    for (const t of choice.tried) env.log(`root: skipped ${t}`)
    const switchOpts: SwitchOptions = { newRoot: NEW_ROOT, freeInitramfs: env.freeInitramfs }
    env.log(`root: switching root to ${devPath(dev.name)}, exec ${choice.path}`)
    try {
      switchRoot(env.switchEnv, switchOpts)
    } catch (err) {
      throw new RootError('switch', (err as { code?: string }).code ?? 'EIO', `switching root failed: ${(err as Error).message}`, { cause: err })
    }
    mounted = false
    const args = [choice.path, ...opts.initArgs]
    env.execve(choice.path, args, env.environ)
    return { kind: 'exec', init: choice.path, args }
  } catch (err) {
    const error = err instanceof RootError ? err : new RootError('exec', 'EIO', `root hand-over failed: ${(err as Error).message}`, { cause: err })
    if (mounted) {
      try {
        env.sys.umount2(NEW_ROOT)
      } catch {
        // leave it mounted; read-only by default, so no harm done
      }
    }
    return { kind: 'failed', error, action: await fail(env, opts.onFail, error) }
  }
}

const REBOOT_CMD = { poweroff: REBOOT.POWER_OFF, reboot: REBOOT.RESTART, halt: REBOOT.HALT } as const

/** Report the failure and do what modload.onfail says; 'wait' repeats the reason forever. */
async function fail(env: HandOverEnv, action: OnFail, error: RootError): Promise<OnFail> {
  env.log(`root: error: ${error.message}`)
  if (action !== 'wait') {
    env.log(`root: modload.onfail=${action}: ${action === 'poweroff' ? 'powering off' : action === 'reboot' ? 'rebooting' : 'halting'}`)
    await env.sleep(CONSOLE_DRAIN_MS)
    try {
      env.sys.sync()
      env.sys.reboot(REBOOT_CMD[action])
      return action
    } catch (err) {
      env.log(`root: error: ${action} failed: ${(err as Error).message}; waiting instead`)
    }
  }
  const why = `root: waiting: the root hand-over failed (${error.stage}: ${error.code}); boot with modload.onfail=poweroff|reboot|halt to act instead`
  env.log(why)
  env.repeat(REMIND_MS, () => {
    env.log(`root: error: ${error.message}`)
    env.log(why)
  })
  return 'wait'
}
