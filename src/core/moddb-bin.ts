// The module database over depmod's binary indexes, the way libkmod reads them: nothing is
// parsed when it opens, every question is a walk of one trie (format/index-bin.ts). The boot
// path uses it (init, `modload coldplug`): it asks about a few dozen modules and aliases, and
// under QEMU's TCG the text database's load and first lookups took 2-3 s of a boot. The tools
// keep the text database (moddb.ts), whose answers are tested against kmod's; this one is
// tested to give the same answers as that one (test/moddb-bin.test.ts). Pure: bytes in.
import { BinIndex } from '../format/index-bin.js'
import type { DepEntry } from '../format/modules-dep.js'
import { IndexError } from '../format/errors.js'
import { lazyMap } from '../format/lazy-map.js'
import { buildAliasIndex, type AliasIndex } from './alias-index.js'
import type { ModuleDb } from './moddb.js'
import { normalizeAlias } from './names.js'

export interface IndexBytes {
  depBin: Uint8Array
  aliasBin?: Uint8Array
  /** modules.symbols.bin, or a function reading it (called on the first "symbol:" lookup) */
  symbolsBin?: Uint8Array | (() => Uint8Array | undefined)
  builtinBin?: Uint8Array
  builtinAliasBin?: Uint8Array
}

function dedupe(names: string[]): string[] {
  if (names.length < 2) return names
  const out: string[] = []
  for (const n of names) if (!out.includes(n)) out.push(n)
  return out
}

/** An AliasIndex answering from a binary index; every value counts as one alias. */
export function binAliasIndex(index: BinIndex | null): AliasIndex {
  let size = -1
  const match = (key: string): string[] => (index === null ? [] : index.searchWild(key).map((v) => v.value))
  return {
    lookup: (raw) => {
      const key = normalizeAlias(raw)
      return key === null ? [] : dedupe(match(key))
    },
    matchNormalized: match,
    dump: () => {
      if (index === null) return []
      const all: [string, string, number][] = []
      for (const [k, v] of index.entries()) all.push([k, v.value, v.priority])
      all.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[2] - b[2]))
      return all.map(([k, v]) => [k, v])
    },
    get size(): number {
      if (size < 0) {
        size = 0
        if (index !== null) for (const _ of index.entries()) size++
      }
      return size
    },
  }
}

/** A modules.dep.bin value, "PATH: DEP DEP ...", as a DepEntry of module `name`. */
export function depEntryOf(name: string, value: string, file: string): DepEntry {
  const colon = value.indexOf(':')
  if (colon <= 0) throw new IndexError(file, 1, `the entry of ${name} is ${JSON.stringify(value.slice(0, 80))}, not "PATH: DEPENDENCIES"`)
  const rest = value.slice(colon + 1).trim()
  return { name, path: value.slice(0, colon), deps: rest.length === 0 ? [] : rest.split(' ') }
}

/** modules.dep.bin as a map from module name to entry: get/has search the trie; iterating
 * walks it once, in depmod's order (the priority of each entry). */
function depMap(index: BinIndex): ReadonlyMap<string, DepEntry> {
  const cache = new Map<string, DepEntry | null>()
  let full: Map<string, DepEntry> | null = null
  const get = (name: string): DepEntry | undefined => {
    if (full) return full.get(name)
    let e = cache.get(name)
    if (e === undefined) {
      const v = index.search(name)
      e = v === null ? null : depEntryOf(name, v, index.file)
      cache.set(name, e)
    }
    return e ?? undefined
  }
  const all = (): Map<string, DepEntry> => {
    if (full === null) {
      const rows: [string, string, number][] = []
      for (const [k, v] of index.entries()) rows.push([k, v.value, v.priority])
      rows.sort((a, b) => a[2] - b[2])
      full = new Map()
      for (const [k, v] of rows) if (!full.has(k)) full.set(k, depEntryOf(k, v, index.file))
    }
    return full
  }
  return lazyMap(get, all)
}

/** modules.builtin.bin as a set of module names. */
function builtinSet(index: BinIndex | null): ReadonlySet<string> {
  let full: Set<string> | null = null
  const all = (): Set<string> => (full ??= new Set(index === null ? [] : [...index.entries()].map(([k]) => k)))
  // coldplug's scheduler asks for the same few names at every start (is this dependency built
  // in?): one search of the index per name, not per question
  const seen = new Map<string, boolean>()
  const search = (name: string): boolean => {
    let found = seen.get(name)
    if (found === undefined) seen.set(name, (found = index !== null && index.search(name) !== null))
    return found
  }
  return {
    has: (name: string): boolean => (full ? full.has(name) : search(name)),
    get size() {
      return all().size
    },
    forEach: (cb, thisArg) => all().forEach(cb, thisArg),
    keys: () => all().keys(),
    values: () => all().values(),
    entries: () => all().entries(),
    [Symbol.iterator]: () => all()[Symbol.iterator](),
  }
}

export function buildModuleDbFromBin(dir: string, bytes: IndexBytes, builtinAliasesFallback?: AliasIndex): ModuleDb {
  const at = (name: string, b: Uint8Array | undefined): BinIndex | null => (b === undefined || b.length === 0 ? null : new BinIndex(b, `${dir}/${name}`))
  let symbols: AliasIndex | undefined
  return {
    dir,
    modules: depMap(new BinIndex(bytes.depBin, `${dir}/modules.dep.bin`)),
    builtin: builtinSet(at('modules.builtin.bin', bytes.builtinBin)),
    aliases: binAliasIndex(at('modules.alias.bin', bytes.aliasBin)),
    builtinAliases: bytes.builtinAliasBin !== undefined ? binAliasIndex(at('modules.builtin.alias.bin', bytes.builtinAliasBin)) : (builtinAliasesFallback ?? buildAliasIndex([])),
    get symbols(): AliasIndex {
      if (symbols === undefined) {
        const b = typeof bytes.symbolsBin === 'function' ? bytes.symbolsBin() : bytes.symbolsBin
        symbols = binAliasIndex(at('modules.symbols.bin', b))
      }
      return symbols
    },
  }
}
