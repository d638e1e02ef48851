// Finding modules by name or alias in depmod's text indexes, in the order of strategies kmod's
// modinfo uses (kmod_module_new_from_lookup, without modprobe.d, which modinfo never reads):
//   1. modules.dep: a module of that name (skipped when the string has a ':')
//   2. modules.symbols: "symbol:NAME" patterns
//   3. modules.alias patterns (fnmatch)
//   4. modules.builtin: a built-in module of that name
//   5. aliases of built-in modules (modules.builtin.modinfo)
// The first strategy with a hit wins. Hits come in depmod's module order (kmod's index
// priorities), one per matching pattern, as kmod lists them. Pure: texts in.
import { fnmatch } from '../core/fnmatch.js'
import { parseModulesAlias, type AliasEntry } from '../format/modules-alias.js'
import { kmodAliasNormalize } from './depmod.js'
import type { BuiltinAlias } from './builtin-modinfo.js'
import { modnameNormalize, pathToModname } from './select.js'

export interface IndexTexts {
  dir: string
  dep?: string
  symbols?: string
  alias?: string
  builtin?: string
  builtinAliases?: readonly BuiltinAlias[]
}

export interface Hit {
  name: string
  /** absolute path from modules.dep, or null (built in, or not in modules.dep) */
  path: string | null
  builtin: boolean
}

export interface Indexes {
  /** module name -> path as written in modules.dep, and its position there */
  dep: Map<string, { path: string; order: number }>
  symbols: AliasEntry[]
  alias: AliasEntry[]
  builtin: Set<string>
  builtinAliases: readonly BuiltinAlias[]
  dir: string
}

export function buildIndexes(t: IndexTexts): Indexes {
  const dep = new Map<string, { path: string; order: number }>()
  let order = 0
  for (const line of (t.dep ?? '').split('\n')) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const path = line.slice(0, colon)
    const name = pathToModname(path)
    if (!dep.has(name)) dep.set(name, { path, order })
    order++
  }
  const builtin = new Set<string>()
  for (const line of (t.builtin ?? '').split('\n')) if (line.length > 0) builtin.add(pathToModname(line))
  return {
    dir: t.dir,
    dep,
    symbols: t.symbols ? parseModulesAlias(t.symbols, `${t.dir}/modules.symbols`) : [],
    alias: t.alias ? parseModulesAlias(t.alias, `${t.dir}/modules.alias`) : [],
    builtin,
    builtinAliases: t.builtinAliases ?? [],
  }
}

/** Absolute path of a module from modules.dep, or null. */
export function depPath(ix: Indexes, name: string): string | null {
  const e = ix.dep.get(name)
  if (!e) return null
  return e.path.startsWith('/') ? e.path : `${ix.dir}/${e.path}`
}

function matches(entries: readonly AliasEntry[], alias: string): string[] {
  const out: string[] = []
  for (const e of entries) {
    const pattern = kmodAliasNormalize(e.pattern)
    if (pattern !== null && fnmatch(pattern, alias)) out.push(e.module)
  }
  return out
}

function inDepOrder(ix: Indexes, names: string[]): string[] {
  const pos = (n: string): number => ix.dep.get(n)?.order ?? Number.MAX_SAFE_INTEGER
  return names.map((n, i) => ({ n, i })).sort((a, b) => pos(a.n) - pos(b.n) || a.i - b.i).map((x) => x.n)
}

function hit(ix: Indexes, name: string, builtin = false): Hit {
  return { name, path: builtin ? null : depPath(ix, name), builtin: builtin || ix.builtin.has(name) }
}

/** kmod_module_new_from_lookup: null when the alias is malformed (unbalanced bracket). */
export function lookupAlias(ix: Indexes, given: string): Hit[] | null {
  const alias = kmodAliasNormalize(given)
  if (alias === null) return null
  if (!alias.includes(':') && ix.dep.has(alias)) return [hit(ix, alias)]
  if (alias.startsWith('symbol:')) {
    const s = matches(ix.symbols, alias)
    if (s.length > 0) return inDepOrder(ix, s).map((n) => hit(ix, n))
  }
  const a = matches(ix.alias, alias)
  if (a.length > 0) return inDepOrder(ix, a).map((n) => hit(ix, n))
  if (ix.builtin.has(alias)) return [hit(ix, alias, true)]
  return builtinAliasHits(ix, alias)
}

function builtinAliasHits(ix: Indexes, alias: string): Hit[] {
  const out: Hit[] = []
  for (const b of ix.builtinAliases) {
    const pattern = kmodAliasNormalize(b.alias)
    if (pattern !== null && fnmatch(pattern, alias)) out.push(hit(ix, b.module, true))
  }
  return out
}

/** kmod_module_new_from_name_lookup (modinfo -m): modules.dep, then built-in names and aliases. */
export function lookupName(ix: Indexes, given: string): Hit | undefined {
  const name = modnameNormalize(given)
  if (!name.includes(':') && ix.dep.has(name)) return hit(ix, name)
  if (ix.builtin.has(name)) return hit(ix, name, true)
  return builtinAliasHits(ix, name)[0]
}
