// The one place that puts a module file into the kernel: coldplug's scheduler, the root
// hand-over's loader (loader.ts), insmod and modprobe all come here, so every fault of a
// module file is handled once. kmod 30's kmod_module_insert_module, plus in-kernel
// decompression:
//  - uncompressed: finit_module(fd) (with the IGNORE_* flags when forcing);
//  - compressed, and /sys/module/compression names the same kind: finit_module with
//    MODULE_INIT_COMPRESSED_FILE, the kernel decompresses;
//  - otherwise: decompressed here and given to init_module (when forcing, after stripping
//    __versions and/or vermagic from the image, as kmod does).
// finit_module answering ENOSYS (a kernel without it) falls back to init_module, as kmod does.
// The kind of file is told by its first bytes, as kmod does, not by its name (by its name
// only when the first bytes cannot be read: finit_module's own open then says why).
// A file the index found is first checked to lie inside the module directory
// (core/module-path.ts); a file that is not a module is said to be one in the error.
import { constants as osConstants } from 'node:os'
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs'
import { childProcess } from '../sys/lazy.js'
import { compressionOfName, detectCompression, decompress } from '../compress/compress.js'
import { stripForForce } from '../elf/strip.js'
import { errnoOf } from '../depmod/run.js'
import type { ModuleDb } from '../core/moddb.js'
import type { ModRef } from '../core/lookup.js'
import { modNameFromPath } from '../core/names.js'
import { checkModulePath, ModulePathError } from '../core/module-path.js'
import { formatAction, type ProbeAction, type Prober } from '../core/probe.js'
import { SYS_MODULE_COMPRESSION } from '../paths.js'
import {
  MODULE_INIT_COMPRESSED_FILE,
  MODULE_INIT_IGNORE_MODVERSIONS,
  MODULE_INIT_IGNORE_VERMAGIC,
  SysError,
  strerror,
  type Sys,
} from '../sys/syscalls.js'

export interface InsertEnv {
  /** what /sys/module/compression says, or null (read at the time of the call) */
  kernelCompression: () => string | null
}

/** The syscalls an insertion needs: finitModuleAsync is used when present, so a slow module
 * init blocks a thread-pool thread, not the program. */
export type InsertSys = Pick<Sys, 'finitModule' | 'initModule'> & Partial<Pick<Sys, 'finitModuleAsync' | 'initModuleAsync'>>

/** What to make the kernel ignore: true means both (insmod -f, modprobe -f). */
export type Force = boolean | { modversions: boolean; vermagic: boolean }

export interface InsertOptions {
  force?: Force
  /** the module directory the file was found through (an index, an alias, a uevent): the file
   * must lie inside it; unset for a file a person named (insmod FILE) */
  within?: string
}

/** /sys/module/compression of the running kernel, or null when it has none. */
export function readKernelCompression(path = SYS_MODULE_COMPRESSION): string | null {
  try {
    return readFileSync(path, 'latin1').trim() || null
  } catch {
    return null
  }
}

export const defaultInsertEnv: InsertEnv = { kernelCompression: () => readKernelCompression() }

/** The first bytes of a file: enough to tell a compressed module from an ELF one; null when
 * the file cannot be read (finit_module's open then reports it, as a SysError of 'open'). */
function readMagic(path: string): Uint8Array | null {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return null
  }
  try {
    const b = Buffer.alloc(8)
    const n = readSync(fd, b, 0, b.length, 0)
    return b.subarray(0, n)
  } catch {
    return null
  } finally {
    closeSync(fd)
  }
}

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46]

/** A failed insertion: the kernel's (or open's) error, with what we know about the file. */
export class InsertError extends SysError {
  /** says more than the errno's usual meaning (the file is not an ELF object, ...) */
  readonly hint: string
  constructor(cause: SysError, hint: string) {
    super(cause.syscall, cause.errno, cause.path)
    this.name = 'InsertError'
    this.hint = hint
  }
}

/** What the first bytes of a module file say when they are neither ELF nor a compressed stream. */
function notAModule(magic: Uint8Array): string {
  const shown = Buffer.from(magic.subarray(0, 4)).toString('latin1').replace(/[^\x20-\x7e]/g, '.')
  return magic.length === 0 ? 'the file is empty' : `the file is not an ELF object nor a compressed one (it starts with "${shown}")`
}

/**
 * Load a module file into the kernel. Throws SysError (the kernel's answer; an InsertError when
 * there is more to say), a ModulePathError (outside `within`), or a decompression error.
 * `env.kernelCompression` is read only when the file is compressed.
 */
export async function insertModuleFile(sys: InsertSys, path: string, params: string, force: Force = false, env: InsertEnv = defaultInsertEnv, opts: InsertOptions = {}): Promise<void> {
  if (opts.within !== undefined) checkModulePath(opts.within, path)
  const what = typeof force === 'boolean' ? { modversions: force, vermagic: force } : force
  const magic = readMagic(path)
  const kind = magic === null ? compressionOfName(path) : detectCompression(magic)
  const foreign = magic !== null && kind === null && !ELF_MAGIC.every((b, i) => magic[i] === b)
  const ignore = (what.modversions ? MODULE_INIT_IGNORE_MODVERSIONS : 0) | (what.vermagic ? MODULE_INIT_IGNORE_VERMAGIC : 0)
  const explainFailure = (err: unknown): unknown => (foreign && err instanceof SysError && err.code === 'ENOEXEC' ? new InsertError(err, notAModule(magic)) : err)
  if (kind === null || kind === env.kernelCompression()) {
    const flags = ignore | (kind === null ? 0 : MODULE_INIT_COMPRESSED_FILE)
    try {
      // off the main thread: when init serves the kernel's module requests (forward.ts), a
      // module's init may wait for a request that this very process has to answer
      if (sys.finitModuleAsync) await sys.finitModuleAsync(path, params, flags)
      else sys.finitModule(path, params, flags)
      return
    } catch (err) {
      if (!(err instanceof SysError && err.code === 'ENOSYS')) throw explainFailure(err)
    }
  }
  const bytes = readFileSync(path)
  let image: Uint8Array = kind === null ? bytes : await decompress(bytes, kind, path)
  if (what.modversions || what.vermagic) image = stripForForce(image, path, what).image
  try {
    // off the main thread when finit_module would have been (see above)
    if (sys.finitModuleAsync && sys.initModuleAsync) await sys.initModuleAsync(image, params, path)
    else sys.initModule(image, params, path)
  } catch (err) {
    throw explainFailure(err)
  }
}

// ---------------------------------------------------------------------------------------------
// modprobe's loading: kmod 30's kmod_module_probe_insert_module over the plan core/probe.ts
// builds. Modules already in the kernel (live or built in) are skipped; an error stops the
// run only for the requested module and its modules.dep dependencies ("required"), not for
// softdeps; "already loaded" is never an error except for the requested module with
// --first-time. Install commands run through /bin/sh, as system(3) would.

/** Where a tool's messages go, kmod's way (the tool decides prefixes, -q and what stops it). */
export interface Reporter {
  /** kmod's LOG(): FATAL, which stops the tool, unless -a (WARNING) or -q (silent); may throw */
  log(msg: string): void
  /** kmod's ERR() and libkmod's error lines */
  error(msg: string): void
  /** libkmod's INFO lines (-vv) */
  info(msg: string): void
  /** the -v / -n / -D action lines, on stdout */
  show(text: string): void
}

export interface CommandResult {
  status: number
  /** set when the shell itself is missing: its path */
  missingShell?: string
}

/** Runs a shell command line; the seam tests replace. */
export type CommandRunner = (cmd: string, env: Record<string, string | undefined>) => CommandResult

export const SHELL = '/bin/sh'

/** system(3) without the shell's silent 127: /bin/sh -c CMD, its exit status, or missingShell. */
export function runCommand(cmd: string, env: Record<string, string | undefined>, shell = SHELL): CommandResult {
  if (!statSync(shell, { throwIfNoEntry: false })) return { status: 127, missingShell: shell }
  const clean: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v
  const r = childProcess().spawnSync(shell, ['-c', cmd], { stdio: 'inherit', env: clean })
  if (r.error) return { status: 127, missingShell: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? shell : undefined }
  // killed by a signal: a failure, numbered as shells number it (system(3) would report 0)
  return { status: r.status ?? 128 + (r.signal ? (osConstants.signals[r.signal] ?? 0) : 0) }
}

export interface ProbeInsertOptions {
  /** -n: show, do not load */
  dryRun?: boolean
  /** -D: also modules already loaded (kmod's IGNORE_LOADED) */
  ignoreLoaded?: boolean
  /** print the actions (-v, -D) */
  show?: boolean
  ignoreCommands?: boolean
  useBlacklist?: boolean
  firstTime?: boolean
  force?: Force
  extraOptions?: string | null
}

export interface ProbeInsertContext {
  db: ModuleDb
  sys: () => Sys
  /** /sys/module, or a fake tree */
  sysModule: string
  report: Reporter
  insertEnv?: InsertEnv
  run?: CommandRunner
  /** environment for install commands */
  commandEnv?: Record<string, string | undefined>
  /** never run install commands (init serving the kernel's requests, as its coldplug does
   * not run them either): such a module fails, its command named */
  noCommands?: boolean
}

const EPERM = 1
const ENOENT = 2
const EEXIST = 17
const EINVAL = 22

/** /sys/module/NAME/initstate: 'live', 'coming', 'going', or null (not loaded, or built in). */
export function initState(sysModule: string, name: string): string | null {
  try {
    return readFileSync(`${sysModule}/${name}/initstate`, 'latin1').trim()
  } catch {
    return null
  }
}

/** kmod's module_is_inkernel: live, or built in. */
export function isInKernel(db: ModuleDb, sysModule: string, name: string): boolean {
  return db.builtin.has(name) || initState(sysModule, name) === 'live'
}

async function installCommand(ctx: ProbeInsertContext, name: string, command: string, options: string): Promise<number> {
  const cmd = command.split('$CMDLINE_OPTS').join(options)
  if (ctx.noCommands) {
    ctx.report.error(`install command '${cmd}' for module ${name} not run: modload's init runs no modprobe.d commands\n`)
    return -EPERM
  }
  const r = (ctx.run ?? runCommand)(cmd, { ...(ctx.commandEnv ?? process.env), MODPROBE_MODULE: name })
  if (r.missingShell) {
    ctx.report.error(`cannot run install command '${cmd}' for module ${name}: ${r.missingShell} is missing (install commands run through it; add a shell or use -i)\n`)
    return -EINVAL
  }
  if (r.status !== 0) {
    ctx.report.error(`Error running install command '${cmd}' for module ${name}: retcode ${r.status}\n`)
    return -EINVAL
  }
  return 0
}

/**
 * Load one module of a lookup with what it needs. Returns 0, a positive number when the
 * blacklist stopped it, or -errno (kmod's convention, which the tool turns into words).
 */
export async function probeInsert(ctx: ProbeInsertContext, prober: Prober, ref: ModRef, opts: ProbeInsertOptions): Promise<number> {
  const { db, sysModule, report } = ctx
  const loaded = (n: string): boolean => !opts.ignoreLoaded && isInKernel(db, sysModule, n)
  if (loaded(ref.name)) return opts.firstTime ? -EEXIST : 0
  const plan = prober.plan(ref, { ignoreCommands: opts.ignoreCommands, useBlacklist: opts.useBlacklist, extraOptions: opts.extraOptions })
  if (plan.blacklisted) return 1
  const required = new Set([ref.name, ...(db.modules.get(ref.name)?.deps ?? []).map(modNameFromPath)])
  let err = 0
  for (const a of plan.actions) {
    if (loaded(a.name)) err = -EEXIST
    else {
      if (opts.show && a.kind !== 'missing') report.show(formatAction(a))
      if (!opts.dryRun) err = await act(ctx, a, opts)
    }
    if (err === -EEXIST && a.name === ref.name && opts.firstTime) break
    if (err === -EEXIST || !required.has(a.name)) err = 0
    else if (err < 0) break
  }
  return err
}

async function act(ctx: ProbeInsertContext, a: ProbeAction, opts: ProbeInsertOptions): Promise<number> {
  switch (a.kind) {
    case 'install':
      return installCommand(ctx, a.name, a.command, a.options)
    case 'builtin':
    case 'missing':
      ctx.report.error(`could not find module by name='${a.name}'\n`)
      return -ENOENT
    case 'insmod':
      try {
        await insertModuleFile(ctx.sys(), a.path, a.options, opts.force ?? false, ctx.insertEnv ?? defaultInsertEnv, { within: ctx.db.dir })
        return 0
      } catch (e) {
        const errno = errnoOf(e)
        // kmod has no such refusal: its words alone ("Operation not permitted") would hide why
        if (e instanceof ModulePathError) ctx.report.error(`${e.message}\n`)
        ctx.report.info(`Failed to insert module '${a.path}': ${strerror(errno)}\n`)
        return -errno
      }
  }
}
