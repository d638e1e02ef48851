// The module database: what depmod wrote for one kernel, joined into the questions a loader
// asks. Pure: it is built from file texts, so tests feed it strings; reading the files from
// disk happens in moddb-fs.ts. The parts only a few lookups need (modules.symbols) are
// parsed on first use.
import { lazyModulesDep, type DepEntry } from '../format/modules-dep.js'
import { parseModulesAlias } from '../format/modules-alias.js'
import { parseModuleList } from '../format/modules-builtin.js'
import { builtinAliases, parseBuiltinModinfo } from '../format/modules-builtin-modinfo.js'
import { aliasIndexFromText, buildAliasIndex, type AliasIndex } from './alias-index.js'
import { modNameFromPath, normalizeName } from './names.js'

export interface IndexTexts {
  dep: string
  alias?: string
  /** modules.symbols, or a function reading it (called on the first "symbol:" lookup) */
  symbols?: string | (() => string | undefined)
  builtin?: string
  /** modules.builtin.modinfo: the source of the built-in aliases, as for depmod */
  builtinModinfo?: string
  /** a text modules.builtin.alias, used only when there is no modules.builtin.modinfo */
  builtinAlias?: string
}

export interface ModuleDb {
  /** directory the relative paths in modules.dep are relative to */
  dir: string
  modules: ReadonlyMap<string, DepEntry>
  builtin: ReadonlySet<string>
  aliases: AliasIndex
  builtinAliases: AliasIndex
  /** modules.symbols ("symbol:NAME" patterns), parsed on first use */
  readonly symbols: AliasIndex
}

export function buildModuleDb(dir: string, texts: IndexTexts): ModuleDb {
  let symbols: AliasIndex | undefined
  const builtinAliasEntries =
    texts.builtinModinfo !== undefined
      ? builtinAliases(parseBuiltinModinfo(texts.builtinModinfo, `${dir}/modules.builtin.modinfo`))
      : texts.builtinAlias
        ? parseModulesAlias(texts.builtinAlias, `${dir}/modules.builtin.alias`)
        : []
  return {
    dir,
    modules: lazyModulesDep(texts.dep, `${dir}/modules.dep`),
    builtin: new Set(texts.builtin ? parseModuleList(texts.builtin) : []),
    aliases: texts.alias ? aliasIndexFromText(texts.alias, `${dir}/modules.alias`) : buildAliasIndex([]),
    builtinAliases: buildAliasIndex(builtinAliasEntries, { priority: 'none' }),
    get symbols(): AliasIndex {
      if (symbols === undefined) {
        const text = typeof texts.symbols === 'function' ? texts.symbols() : texts.symbols
        symbols = text ? aliasIndexFromText(text, `${dir}/modules.symbols`) : buildAliasIndex([])
      }
      return symbols
    },
  }
}

export type Resolution =
  | { kind: 'module'; names: string[] }
  | { kind: 'builtin'; names: string[] }
  | { kind: 'none' }

/**
 * Resolve a module name or alias from the indexes alone (no modprobe.d), in kmod's order:
 * a module name (modules.dep), "symbol:NAME" (modules.symbols), modules.alias, a built-in
 * module's name, a built-in alias. The first strategy with a hit wins; names are
 * deduplicated. For configuration-aware lookups see lookup.ts.
 */
export function resolve(db: ModuleDb, nameOrAlias: string): Resolution {
  const name = normalizeName(nameOrAlias)
  if (!name.includes(':') && db.modules.has(name)) return { kind: 'module', names: [name] }
  if (nameOrAlias.startsWith('symbol:')) {
    const s = db.symbols.lookup(nameOrAlias)
    if (s.length > 0) return { kind: 'module', names: s }
  }
  const hits = db.aliases.lookup(nameOrAlias)
  if (hits.length > 0) return { kind: 'module', names: hits }
  if (db.builtin.has(name)) return { kind: 'builtin', names: [name] }
  const bhits = db.builtinAliases.lookup(nameOrAlias)
  if (bhits.length > 0) return { kind: 'builtin', names: bhits }
  return { kind: 'none' }
}

/** Absolute path of a module file (or of a dependency path from modules.dep). */
export function modulePath(db: ModuleDb, entry: DepEntry | string): string {
  const p = typeof entry === 'string' ? entry : entry.path
  return p.startsWith('/') ? p : `${db.dir}/${p}`
}

/**
 * The dependency closure of a module in kmod's load order: modules.dep's list from its end
 * (depmod writes a module's own dependencies after it), then the module itself. Dependencies
 * without their own modules.dep entry are reported in `missing`, not skipped silently.
 */
export function loadOrder(db: ModuleDb, name: string): { order: DepEntry[]; missing: string[] } {
  const order: DepEntry[] = []
  const missing: string[] = []
  const entry = db.modules.get(normalizeName(name))
  if (!entry) return { order, missing: [normalizeName(name)] }
  const seen = new Set<string>()
  for (let i = entry.deps.length - 1; i >= 0; i--) {
    const dep = db.modules.get(modNameFromPath(entry.deps[i]))
    if (!dep) missing.push(modNameFromPath(entry.deps[i]))
    else if (!seen.has(dep.name)) {
      seen.add(dep.name)
      order.push(dep)
    }
  }
  order.push(entry)
  return { order, missing }
}
