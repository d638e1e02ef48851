// The module database: what depmod wrote for one kernel, joined into the questions a loader
// asks. Pure: it is built from file texts, so tests feed it strings; reading the files from
// disk happens in moddb-fs.ts.
import { parseModulesDep, type DepEntry } from '../format/modules-dep.js'
import { parseModulesAlias } from '../format/modules-alias.js'
import { parseModuleList } from '../format/modules-builtin.js'
import { buildAliasIndex, type AliasIndex } from './alias-index.js'
import { modNameFromPath, normalizeName } from './names.js'

export interface IndexTexts {
  dep: string
  alias?: string
  builtin?: string
  builtinAlias?: string
}

export interface ModuleDb {
  /** directory the relative paths in modules.dep are relative to */
  dir: string
  modules: ReadonlyMap<string, DepEntry>
  builtin: ReadonlySet<string>
  aliases: AliasIndex
  builtinAliases: AliasIndex
}

export function buildModuleDb(dir: string, texts: IndexTexts): ModuleDb {
  return {
    dir,
    modules: parseModulesDep(texts.dep, `${dir}/modules.dep`),
    builtin: new Set(texts.builtin ? parseModuleList(texts.builtin) : []),
    aliases: buildAliasIndex(texts.alias ? parseModulesAlias(texts.alias, `${dir}/modules.alias`) : []),
    builtinAliases: buildAliasIndex(
      texts.builtinAlias ? parseModulesAlias(texts.builtinAlias, `${dir}/modules.builtin.alias`) : [],
    ),
  }
}

export type Resolution =
  | { kind: 'module'; names: string[] }
  | { kind: 'builtin'; names: string[] }
  | { kind: 'none' }

/**
 * Resolve a module name or alias, kmod's order for the index files: a module name first, then
 * modules.alias, then modules.builtin, then modules.builtin.alias. First strategy with a hit wins.
 */
export function resolve(db: ModuleDb, nameOrAlias: string): Resolution {
  const name = normalizeName(nameOrAlias)
  if (db.modules.has(name)) return { kind: 'module', names: [name] }
  const hits = db.aliases.lookup(nameOrAlias)
  if (hits.length > 0) return { kind: 'module', names: hits }
  if (db.builtin.has(name)) return { kind: 'builtin', names: [name] }
  const bhits = db.builtinAliases.lookup(nameOrAlias)
  if (bhits.length > 0) return { kind: 'builtin', names: bhits }
  return { kind: 'none' }
}

/** Absolute path of a module file. */
export function modulePath(db: ModuleDb, entry: DepEntry): string {
  return entry.path.startsWith('/') ? entry.path : `${db.dir}/${entry.path}`
}

/**
 * The dependency closure of a module, in load order (dependencies first, the module last).
 * modules.dep already lists the whole closure; walking it depth-first makes the order valid
 * even when depmod's own order is not topological. Unknown dependencies are reported, not
 * skipped silently.
 */
export function loadOrder(db: ModuleDb, name: string): { order: DepEntry[]; missing: string[] } {
  const order: DepEntry[] = []
  const missing: string[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (n: string): void => {
    if (state.has(n)) return
    const entry = db.modules.get(n)
    if (!entry) {
      missing.push(n)
      state.set(n, 'done')
      return
    }
    state.set(n, 'visiting')
    // depmod writes the deepest dependency last; visiting from the end keeps its order
    for (let i = entry.deps.length - 1; i >= 0; i--) visit(modNameFromPath(entry.deps[i]))
    state.set(n, 'done')
    order.push(entry)
  }
  visit(normalizeName(name))
  return { order, missing }
}
