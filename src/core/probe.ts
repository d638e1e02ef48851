// What loading a module involves, as kmod plans it (kmod_module_probe_insert_module with
// its probe list): for each module a lookup found, its dependencies from modules.dep in load
// order, each preceded by its softdep "pre:" modules and followed by its "post:" modules
// (those with their own dependencies and softdeps), then the module itself; options from
// modprobe.d and the kernel command line; an install command instead of loading where one
// matches and the module has no softdeps. Blacklisted modules found through an alias are
// skipped (with useBlacklist, any blacklisted module). kmod's quirks are kept on purpose:
// a dependency shared by several softdeps appears once per appearance, since only modules
// reached as softdeps (and the requested one) are marked visited; visited marks belong to
// kmod's module objects, whose identity is (name, alias).
import { fnmatch } from './fnmatch.js'
import { lookup, type ModRef } from './lookup.js'
import { modNameFromPath } from './names.js'
import { modulePath, type ModuleDb } from './moddb.js'
import type { ModprobeConfig } from '../config/modprobe-conf.js'

export type ProbeAction =
  | { kind: 'insmod'; name: string; path: string; options: string }
  | { kind: 'install'; name: string; command: string; options: string }
  | { kind: 'builtin'; name: string }
  /** neither a file nor built in (an alias or command naming a module the tree lacks): kmod
   * prints nothing for it and fails when it comes to load it */
  | { kind: 'missing'; name: string }

export interface ProbeOptions {
  /** -i: ignore install commands (and the requested module's softdeps) */
  ignoreCommands?: boolean
  /** -b: apply the blacklist to every module, not only those found through an alias */
  useBlacklist?: boolean
  /** options given after the module name on the command line, for the requested module */
  extraOptions?: string | null
}

export interface ProbeResult {
  /** what was found and planned for, one entry per module of the lookup */
  plans: { ref: ModRef; blacklisted: boolean; actions: ProbeAction[] }[]
}

interface Obj {
  name: string
  alias: string | null
  builtin: boolean | null
  install: string | null | undefined
  visited: boolean
  ignorecmd: boolean
  deps?: Obj[]
  path?: string | null
}

/** A planning context: kmod's module pool for one modprobe run. */
export class Prober {
  private readonly pool = new Map<string, Obj>()
  constructor(
    readonly db: ModuleDb,
    readonly config: ModprobeConfig,
  ) {}

  private obj(name: string, alias: string | null): Obj {
    const key = alias === null ? name : `${name}\\${alias}`
    let o = this.pool.get(key)
    if (!o) {
      o = { name, alias, builtin: null, install: undefined, visited: false, ignorecmd: false }
      this.pool.set(key, o)
    }
    return o
  }

  /** The kmod module object for a lookup result. */
  private fromRef(r: ModRef): Obj {
    const o = this.obj(r.name, r.alias)
    if (r.source === 'builtin' || r.source === 'builtin-alias') o.builtin = true
    if (r.install !== undefined) o.install = r.install
    return o
  }

  private lookupObjs(name: string): Obj[] {
    const refs = lookup(this.db, this.config, name)
    return refs === null ? [] : refs.map((r) => this.fromRef(r))
  }

  private loadDeps(o: Obj): void {
    if (o.deps !== undefined) return
    const entry = this.db.modules.get(o.name)
    if (!entry) {
      o.deps = []
      o.path ??= null
      return
    }
    o.path ??= modulePath(this.db, entry)
    const deps: Obj[] = []
    for (let i = entry.deps.length - 1; i >= 0; i--) {
      const d = this.obj(modNameFromPath(entry.deps[i]), null)
      d.builtin = false
      if (d.path === undefined) d.path = modulePath(this.db, entry.deps[i])
      deps.push(d)
    }
    o.deps = deps
  }

  private isBuiltin(o: Obj): boolean {
    if (o.builtin === null) o.builtin = this.db.builtin.has(o.name)
    return o.builtin
  }

  private installCommand(o: Obj): string | null {
    if (o.install === undefined) o.install = this.config.install.find((c) => fnmatch(c.module, o.name))?.command ?? null
    return o.install
  }

  private options(o: Obj): string | null {
    let opts: string | null = null
    for (const c of this.config.options) {
      if (c.module !== o.name && (o.alias === null || c.module !== o.alias)) continue
      if (c.options.length === 0) continue
      opts = opts === null ? c.options : `${opts} ${c.options}`
    }
    return opts
  }

  private softdeps(o: Obj): { pre: Obj[]; post: Obj[] } {
    const s = this.config.softdeps.find((d) => fnmatch(d.module, o.name))
    if (!s) return { pre: [], post: [] }
    return { pre: s.pre.flatMap((n) => this.lookupObjs(n)), post: s.post.flatMap((n) => this.lookupObjs(n)) }
  }

  private fillSoftdep(o: Obj, list: Obj[]): void {
    const { pre, post } = this.softdeps(o)
    for (const m of pre) this.probeList(m, false, list)
    list.push(o)
    o.ignorecmd = pre.length > 0 || post.length > 0
    for (const m of post) this.probeList(m, false, list)
  }

  private probeList(o: Obj, ignorecmd: boolean, list: Obj[]): void {
    if (o.visited) return
    o.visited = true
    this.loadDeps(o)
    for (const d of o.deps!) this.fillSoftdep(d, list)
    if (ignorecmd) {
      list.push(o)
      o.ignorecmd = true
    } else this.fillSoftdep(o, list)
  }

  private blacklisted(o: Obj): boolean {
    return this.config.blacklist.includes(o.name)
  }

  /** Plan one module of a lookup's result (kmod_module_probe_insert_module, dry run). */
  plan(ref: ModRef, opts: ProbeOptions = {}): { blacklisted: boolean; actions: ProbeAction[] } {
    const top = this.fromRef(ref)
    if (this.blacklisted(top) && (top.alias !== null || opts.useBlacklist)) return { blacklisted: true, actions: [] }
    for (const o of this.pool.values()) o.visited = false
    const list: Obj[] = []
    this.probeList(top, !!opts.ignoreCommands, list)
    const actions: ProbeAction[] = []
    for (const m of list) {
      const mopts = this.options(m)
      const extra = m === top ? (opts.extraOptions ?? null) : null
      // kmod's module_options_concat, trailing space included
      const options = mopts === null && !extra ? '' : mopts === null ? (extra ?? '') : `${mopts} ${extra ?? ''}`
      const cmd = this.installCommand(m)
      if (cmd !== null && !m.ignorecmd) {
        actions.push({ kind: 'install', name: m.name, command: cmd, options })
        continue
      }
      if (m.path === undefined) this.loadDeps(m)
      if (m.path) actions.push({ kind: 'insmod', name: m.name, path: m.path, options })
      else if (this.isBuiltin(m)) actions.push({ kind: 'builtin', name: m.name })
      else actions.push({ kind: 'missing', name: m.name })
    }
    return { blacklisted: false, actions }
  }
}

/** Look `alias` up and plan every module found; null when nothing (or an invalid string) is found. */
export function probe(db: ModuleDb, config: ModprobeConfig, alias: string, opts: ProbeOptions = {}): ProbeResult | null {
  const refs = lookup(db, config, alias)
  if (refs === null || refs.length === 0) return null
  const p = new Prober(db, config)
  return { plans: refs.map((ref) => ({ ref, ...p.plan(ref, opts) })) }
}

/** --show-depends text for one action, exactly as kmod's modprobe prints it. */
export function formatAction(a: ProbeAction): string {
  switch (a.kind) {
    case 'insmod':
      return `insmod ${a.path} ${a.options}\n`
    case 'install':
      return `install ${a.command} ${a.options}\n`
    case 'builtin':
      return `builtin ${a.name}\n`
    case 'missing':
      return ''
  }
}
