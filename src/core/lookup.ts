// Name and alias lookup with kmod's semantics (kmod_module_new_from_lookup): the string is
// normalised ('-' to '_' outside [...]; an unbalanced bracket makes it invalid), then these
// strategies are tried in order and the first that finds anything gives the whole answer:
//   1. modprobe.d aliases (every alias whose glob matches, in configuration order)
//   2. a module name in modules.dep (not for strings containing ':')
//   3. modules.symbols, for "symbol:NAME"
//   4. an install or remove command whose module is exactly the string
//   5. modules.alias (every matching pattern, kmod's order and duplicates)
//   6. modules.builtin (a built-in module's name)
//   7. the built-in aliases (modules.builtin.modinfo)
// Blacklists do not apply here: they filter what an alias lookup loads (probe.ts).
import { fnmatch } from './fnmatch.js'
import { normalizeAlias } from './names.js'
import type { ModuleDb } from './moddb.js'
import type { ModprobeConfig } from '../config/modprobe-conf.js'

export type LookupSource = 'config' | 'dep' | 'symbol' | 'command' | 'alias' | 'builtin' | 'builtin-alias'

/** One module a lookup found; kmod's identity for it is (name, alias). */
export interface ModRef {
  name: string
  /** the alias the module was found through (null for a module name), as kmod keeps it */
  alias: string | null
  source: LookupSource
  /** set for a command lookup: the install command that stands for the module */
  install?: string
  /** set for a command lookup that matched a remove command */
  remove?: string
}

/** Returns null for an invalid string (unbalanced bracket), kmod's -EINVAL. */
export function lookup(db: ModuleDb, config: ModprobeConfig | null, given: string): ModRef[] | null {
  const key = normalizeAlias(given)
  if (key === null) return null
  const out: ModRef[] = []
  if (config) {
    for (const a of config.aliases) if (fnmatch(a.name, key)) out.push({ name: a.module, alias: a.name, source: 'config' })
    if (out.length) return out
  }
  if (key.indexOf(':') < 0 && db.modules.has(key)) return [{ name: key, alias: null, source: 'dep' }]
  if (key.startsWith('symbol:')) {
    for (const m of db.symbols.matchNormalized(key)) out.push({ name: m, alias: key, source: 'symbol' })
    if (out.length) return out
  }
  if (config) {
    const inst = config.install.find((c) => c.module === key)
    if (inst) return [{ name: key, alias: null, source: 'command', install: inst.command }]
    const rem = config.remove.find((c) => c.module === key)
    if (rem) return [{ name: key, alias: null, source: 'command', remove: rem.command }]
  }
  for (const m of db.aliases.matchNormalized(key)) out.push({ name: m, alias: key, source: 'alias' })
  if (out.length) return out
  if (db.builtin.has(key)) return [{ name: key, alias: null, source: 'builtin' }]
  for (const m of db.builtinAliases.matchNormalized(key)) out.push({ name: m, alias: key, source: 'builtin-alias' })
  return out
}

/** Module names a lookup finds, duplicates removed (the `modload resolve` answer). */
export function lookupNames(db: ModuleDb, config: ModprobeConfig | null, given: string): string[] {
  const refs = lookup(db, config, given)
  if (refs === null || refs.length === 0) return []
  if (refs.length === 1) return [refs[0].name]
  const out: string[] = []
  for (const r of refs) if (!out.includes(r.name)) out.push(r.name)
  return out
}
