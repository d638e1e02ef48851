// depmod's indexes as init opens them: tolerant where the tools are strict. The tools stop at
// a corrupt index (kmod's rule: an index is strict, the error names file and line); as PID 1
// that would leave the machine with no driver at all, so init keeps what can be read:
//  - the binary indexes (core/moddb-bin.ts) are searched in place, so corruption shows only
//    when a lookup walks into it: every question goes through a guard, and the first
//    IndexError switches the whole database to the text indexes for good (said once);
//  - a text modules.dep or modules.alias line that is not an entry is dropped and named
//    (file:line), and the rest is read as usual.
// A missing modules.dep is still an error (MissingIndexError): there is nothing to fall back to.
import { buildModuleDb, type ModuleDb } from '../core/moddb.js'
import { openModuleDirFast, readOptional } from '../core/moddb-fs.js'
import type { AliasIndex } from '../core/alias-index.js'
import { IndexError } from '../format/errors.js'
import { MissingIndexError } from '../core/moddb-fs.js'

export type IndexFormat = 'bin' | 'text'

/** A line of a text index turned into a comment, so numbering stays the same. */
function dropLine(text: string, line: number): string {
  const lines = text.split('\n')
  if (line < 1 || line > lines.length || lines[line - 1].startsWith('#')) return text
  lines[line - 1] = `#${lines[line - 1]}`
  return lines.join('\n')
}

/** At most this many bad lines are dropped; an index worse than that is not an index. */
const MAX_BAD_LINES = 100

/** The text indexes of `dir`, a corrupt modules.dep or modules.alias line dropped with a warning. */
export function openTextTolerant(dir: string, warn: (msg: string) => void): ModuleDb {
  const texts = {
    dep: readOptional(`${dir}/modules.dep`),
    alias: readOptional(`${dir}/modules.alias`),
  }
  if (texts.dep === undefined) throw new MissingIndexError(`${dir}/modules.dep`)
  const builtinModinfo = readOptional(`${dir}/modules.builtin.modinfo`)
  const rest = {
    symbols: () => readOptional(`${dir}/modules.symbols`),
    builtin: readOptional(`${dir}/modules.builtin`),
    builtinModinfo,
    builtinAlias: builtinModinfo === undefined ? readOptional(`${dir}/modules.builtin.alias`) : undefined,
  }
  for (let bad = 0; ; bad++) {
    try {
      return buildModuleDb(dir, { dep: texts.dep, alias: texts.alias, ...rest })
    } catch (err) {
      const which = err instanceof IndexError ? (err.file === `${dir}/modules.dep` ? 'dep' : err.file === `${dir}/modules.alias` ? 'alias' : null) : null
      if (which === null || bad >= MAX_BAD_LINES || !(err instanceof IndexError)) throw err
      const before = texts[which] as string
      texts[which] = dropLine(before, err.line)
      if (texts[which] === before) throw err
      warn(`${err.message.replace(/ \(the index is corrupt.*\)$/, '')}: line ignored`)
    }
  }
}

/** `primary`, until one of its questions throws an IndexError: from then on `fallback()`. */
export function guardedDb(primary: ModuleDb, fallback: () => ModuleDb, onSwitch: (err: IndexError) => void): ModuleDb & { readonly format: IndexFormat } {
  let cur = primary
  const use = <T>(f: (db: ModuleDb) => T): T => {
    try {
      return f(cur)
    } catch (err) {
      if (cur !== primary || !(err instanceof IndexError)) throw err
      onSwitch(err)
      cur = fallback()
      return f(cur)
    }
  }
  function map<K, V>(pick: (db: ModuleDb) => ReadonlyMap<K, V>): ReadonlyMap<K, V> {
    const all = (): [K, V][] => use((db) => [...pick(db).entries()])
    const m: ReadonlyMap<K, V> = {
      get: (k) => use((db) => pick(db).get(k)),
      has: (k) => use((db) => pick(db).has(k)),
      get size() {
        return use((db) => pick(db).size)
      },
      forEach: (cb, thisArg) => all().forEach(([k, v]) => cb.call(thisArg, v, k, m)),
      keys: () => all().map(([k]) => k)[Symbol.iterator](),
      values: () => all().map(([, v]) => v)[Symbol.iterator](),
      entries: () => all()[Symbol.iterator](),
      [Symbol.iterator]: () => all()[Symbol.iterator](),
    }
    return m
  }
  function set<T>(pick: (db: ModuleDb) => ReadonlySet<T>): ReadonlySet<T> {
    const all = (): T[] => use((db) => [...pick(db)])
    const s: ReadonlySet<T> = {
      has: (v) => use((db) => pick(db).has(v)),
      get size() {
        return use((db) => pick(db).size)
      },
      forEach: (cb, thisArg) => all().forEach((v) => cb.call(thisArg, v, v, s)),
      keys: () => all()[Symbol.iterator](),
      values: () => all()[Symbol.iterator](),
      entries: () => all().map((v): [T, T] => [v, v])[Symbol.iterator](),
      [Symbol.iterator]: () => all()[Symbol.iterator](),
    }
    return s
  }
  const aliases = (pick: (db: ModuleDb) => AliasIndex): AliasIndex => ({
    lookup: (a) => use((db) => pick(db).lookup(a)),
    matchNormalized: (a) => use((db) => pick(db).matchNormalized(a)),
    dump: () => use((db) => pick(db).dump()),
    get size() {
      return use((db) => pick(db).size)
    },
  })
  return {
    get dir() {
      return cur.dir
    },
    modules: map((db) => db.modules),
    builtin: set((db) => db.builtin),
    aliases: aliases((db) => db.aliases),
    builtinAliases: aliases((db) => db.builtinAliases),
    symbols: aliases((db) => db.symbols),
    get format(): IndexFormat {
      return cur === primary ? 'bin' : 'text'
    },
  }
}

/**
 * The module database of `dir` for init: the binary indexes when they are all there and
 * answer (a first question is asked at once, so a file cut short is found now), else, or as
 * soon as one turns out corrupt, the text indexes, read tolerantly. `warn` gets every switch
 * and every line dropped.
 */
export function openBootIndex(dir: string, warn: (msg: string) => void): ModuleDb & { readonly format: IndexFormat } {
  const text = (): ModuleDb => openTextTolerant(dir, warn)
  let fast: ModuleDb & { format: IndexFormat }
  try {
    fast = openModuleDirFast(dir)
  } catch (err) {
    if (!(err instanceof IndexError)) throw err
    warn(`${err.message.replace(/ \(the index is corrupt.*\)$/, '')}: using the text indexes instead`)
    return Object.assign(text(), { format: 'text' as const })
  }
  if (fast.format === 'text') return Object.assign(text(), { format: 'text' as const })
  const db = guardedDb(fast, text, (err) => warn(`${err.message.replace(/ \(the index is corrupt.*\)$/, '')}: using the text indexes instead`))
  // the root node of each index, now: a truncated file fails here rather than mid-coldplug
  db.modules.has('modload-probe')
  db.aliases.lookup('modload-probe')
  return db
}
