// Taking modules out of the kernel: what /sys/module says about a module (initstate, refcnt,
// holders; the root is injectable so tests use a fake tree), kmod's pre-removal check (rmmod),
// and modprobe -r as kmod 30 does it (tools/modprobe.c rmmod_do_module):
//   1. the module's post: softdeps, in reverse order (errors ignored)
//   2. with --remove-holders, the modules holding it (an error stops)
//   3. the module itself, refused while its refcnt is above 0 ("is in use"), or its remove command
//   4. its modules.dep dependencies whose refcnt dropped to 0 (errors ignored)
//   5. its pre: softdeps, in reverse order (errors ignored)
// kmod's LOG() messages stop the tool unless -a or -q; that policy belongs to the tool, which
// passes `log` (it may throw to stop). Results are kmod's: 0 or -errno.
import { opendirSync, readFileSync, statSync } from 'node:fs'
import { fnmatch } from '../core/fnmatch.js'
import { lookup } from '../core/lookup.js'
import { modNameFromPath } from '../core/names.js'
import type { ModuleDb } from '../core/moddb.js'
import type { ModprobeConfig } from '../config/modprobe-conf.js'
import { errnoOf } from '../depmod/run.js'
import { O_NONBLOCK, O_TRUNC, strerror, type Sys } from '../sys/syscalls.js'
import { runCommand, type CommandRunner, type Reporter } from './insert.js'
import { sleep as realSleep } from '../sys/lazy.js'

const ENOENT = 2
const EAGAIN = 11
const EBUSY = 16
const EEXIST = 17

export type InitState = 'live' | 'coming' | 'going'

/** /sys/module/NAME/initstate as kmod reads it: null when not loaded, 'coming' for a directory without the file. */
export function readInitstate(sysModule: string, name: string): { state: InitState | null; unknown?: string } {
  const dir = `${sysModule}/${name}`
  let text: string
  try {
    text = readFileSync(`${dir}/initstate`, 'latin1')
  } catch {
    return { state: statSync(dir, { throwIfNoEntry: false })?.isDirectory() ? 'coming' : null }
  }
  if (text === 'live\n' || text === 'coming\n' || text === 'going\n') return { state: text.slice(0, -1) as InitState }
  return { state: null, unknown: text }
}

/** /sys/module/NAME/refcnt, or null when unreadable (not loaded, or no module unloading). */
export function readRefcnt(sysModule: string, name: string): number | null {
  try {
    const n = Number.parseInt(readFileSync(`${sysModule}/${name}/refcnt`, 'latin1'), 10)
    return Number.isNaN(n) ? null : n
  } catch {
    return null
  }
}

/** The names in /sys/module/NAME/holders, or undefined when the directory cannot be opened. */
export function readHolders(sysModule: string, name: string): string[] | undefined {
  let d
  try {
    d = opendirSync(`${sysModule}/${name}/holders`)
  } catch {
    return undefined
  }
  const out: string[] = []
  try {
    for (let e = d.readSync(); e !== null; e = d.readSync()) out.push(e.name)
  } finally {
    d.closeSync()
  }
  return out
}

/**
 * kmod's rmmod check_module_inuse: the error lines to print (libkmod's own included, as rmmod
 * shows them) and whether removal may proceed.
 */
export function checkInUse(sysModule: string, builtin: boolean, name: string): { messages: string[]; ok: boolean } {
  if (builtin) return { messages: [`Module ${name} is builtin.`], ok: false }
  const messages: string[] = []
  const dir = `${sysModule}/${name}`
  const { state, unknown } = readInitstate(sysModule, name)
  if (unknown !== undefined) return { messages: [`unknown ${dir}/initstate: '${unknown}'`, `Module ${name} is not currently loaded`], ok: false }
  if (state === null) return { messages: [`Module ${name} is not currently loaded`], ok: false }
  const holders = readHolders(sysModule, name)
  if (holders === undefined) messages.push(`could not open '${dir}/holders': No such file or directory`)
  else if (holders.length > 0) return { messages: [`Module ${name} is in use by: ${holders.join(' ')}`], ok: false }
  const refcnt = readRefcnt(sysModule, name)
  if (refcnt === null) return { messages: [...messages, 'Module unloading is not supported'], ok: false }
  if (refcnt > 0) return { messages: [...messages, `Module ${name} is in use`], ok: false }
  return { messages, ok: true }
}

/** delete_module(2) as kmod calls it: never blocking; O_TRUNC forces (CONFIG_MODULE_FORCE_UNLOAD). */
export function deleteModule(sys: Pick<Sys, 'deleteModule'>, name: string, force: boolean): void {
  sys.deleteModule(name, O_NONBLOCK | (force ? O_TRUNC : 0))
}

export interface RemoveOptions {
  dryRun?: boolean
  force?: boolean
  /** -i: no remove commands, no softdeps */
  ignoreCommands?: boolean
  /** --first-time: a module that is not loaded is an error */
  firstTime?: boolean
  /** --remove-holders */
  removeHolders?: boolean
  /** -w MSEC: retry while the kernel says the module is busy */
  waitMs?: number
}

export interface RemoveContext {
  db: ModuleDb
  config: ModprobeConfig
  sys: Pick<Sys, 'deleteModule'>
  /** /sys/module, or a fake tree */
  sysModule: string
  report: Reporter
  run?: CommandRunner
  /** environment for remove commands */
  commandEnv?: Record<string, string | undefined>
  sleep?: (ms: number) => Promise<void>
  now?: () => number
}

interface Mod {
  name: string
}

const FLAG_REMOVE_HOLDERS = 1
const FLAG_IGNORE_BUILTIN = 2

/** modprobe -r's engine over one kmod context. */
export class Remover {
  constructor(
    readonly ctx: RemoveContext,
    readonly opts: RemoveOptions,
  ) {}

  private softdeps(name: string): { pre: Mod[]; post: Mod[] } {
    const s = this.ctx.config.softdeps.find((d) => fnmatch(d.module, name))
    if (!s) return { pre: [], post: [] }
    const look = (n: string): Mod[] => (lookup(this.ctx.db, this.ctx.config, n) ?? []).map((r) => ({ name: r.name }))
    return { pre: s.pre.flatMap(look), post: s.post.flatMap(look) }
  }

  private removeCommand(name: string): string | null {
    return this.ctx.config.remove.find((c) => fnmatch(c.module, name))?.command ?? null
  }

  /** kmod's rmmod_do_remove_module: "rmmod NAME", then delete_module with -w's retries. */
  private async removeOne(name: string): Promise<number> {
    const { report } = this.ctx
    report.show(`rmmod ${name}\n`)
    if (this.opts.dryRun) return 0
    const wait = this.opts.waitMs ?? 0
    const now = this.ctx.now ?? Date.now
    const sleep = this.ctx.sleep ?? realSleep
    const end = now() + wait
    let interval = 1
    for (;;) {
      let err = 0
      try {
        deleteModule(this.ctx.sys, name, !!this.opts.force)
      } catch (e) {
        err = -errnoOf(e)
        if (!wait) report.error(`could not remove '${name}': ${strerror(-err)}\n`)
      }
      if (err === -EEXIST) {
        if (!this.opts.firstTime) return 0
        report.log(`Module ${name} is not in kernel.\n`)
        return err
      }
      if (err === -EAGAIN && wait && now() < end) {
        await sleep(Math.min(interval, end - now()))
        interval = Math.min(interval * 2, 1000)
        continue
      }
      if (err < 0 && wait) report.error(`could not remove '${name}': ${strerror(-err)}\n`)
      return err
    }
  }

  private async modlist(list: Mod[], stopOnErrors: boolean): Promise<number> {
    for (let i = list.length - 1; i >= 0; i--) {
      const r = await this.module(list[i].name, FLAG_IGNORE_BUILTIN)
      if (r < 0 && stopOnErrors) return r
    }
    return 0
  }

  private isBuiltin(name: string): boolean {
    return this.ctx.db.builtin.has(name)
  }

  /** kmod's rmmod_do_module. */
  async module(name: string, flags: number): Promise<number> {
    const { report, sysModule } = this.ctx
    let pre: Mod[] = []
    let post: Mod[] = []
    let cmd: string | null = null
    if (!this.opts.ignoreCommands) {
      ;({ pre, post } = this.softdeps(name))
      cmd = this.removeCommand(name)
    }
    if (!cmd) {
      if (this.isBuiltin(name)) {
        if (flags & FLAG_IGNORE_BUILTIN) return 0
        report.log(`Module ${name} is builtin.\n`)
        return -ENOENT
      }
      const { state, unknown } = readInitstate(sysModule, name)
      if (unknown !== undefined) report.error(`unknown ${sysModule}/${name}/initstate: '${unknown}'\n`)
      if (state === null) {
        if (!this.opts.firstTime) return 0
        report.log(`Module ${name} is not in kernel.\n`)
        return -ENOENT
      }
    }
    await this.modlist(post, false)
    if (flags & FLAG_REMOVE_HOLDERS) {
      const holders = readHolders(sysModule, name)
      if (holders === undefined) report.error(`could not open '${sysModule}/${name}/holders': No such file or directory\n`)
      const err = await this.modlist((holders ?? []).map((h) => ({ name: h })), true)
      if (err < 0) return err
    }
    if (!cmd && !this.opts.waitMs) {
      const usage = readRefcnt(sysModule, name)
      if (usage !== null && usage > 0) {
        report.log(`Module ${name} is in use.\n`)
        return -EBUSY
      }
    }
    const err = cmd ? await this.command(name, cmd) : await this.removeOne(name)
    if (err < 0) return err
    if (!cmd) {
      const entry = this.ctx.db.modules.get(name)
      for (const dep of entry?.deps ?? []) {
        const d = modNameFromPath(dep)
        if (readRefcnt(sysModule, d) === 0) await this.removeOne(d)
      }
    }
    await this.modlist(pre, false)
    return 0
  }

  /** modprobe's own command_do for remove commands: "remove CMD", $CMDLINE_OPTS emptied. */
  private async command(name: string, command: string): Promise<number> {
    const { report } = this.ctx
    const cmd = command.split('$CMDLINE_OPTS').join('')
    report.show(`remove ${cmd}\n`)
    if (this.opts.dryRun) return 0
    const r = (this.ctx.run ?? runCommand)(cmd, { ...(this.ctx.commandEnv ?? process.env), MODPROBE_MODULE: name })
    if (r.missingShell) {
      report.error(`cannot run remove command '${cmd}' for module ${name}: ${r.missingShell} is missing (remove commands run through it; add a shell or use -i)\n`)
      return -ENOENT
    }
    if (r.status !== 0) {
      report.log(`Error running remove command for ${name}\n`)
      return -r.status
    }
    return 0
  }

  /** kmod's rmmod(): look the name up, remove each module found; stops at the first error. */
  async remove(alias: string): Promise<number> {
    const refs = lookup(this.ctx.db, this.ctx.config, alias)
    if (refs === null) return -22
    if (refs.length === 0) {
      this.ctx.report.log(`Module ${alias} not found.\n`)
      return -ENOENT
    }
    let err = 0
    for (const r of refs) {
      // a remove command found by name stands for the module (kmod_module_set_remove_commands)
      err = await this.module(r.name, this.opts.removeHolders ? FLAG_REMOVE_HOLDERS : 0)
      if (err < 0) break
    }
    return err
  }
}
