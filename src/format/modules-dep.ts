// Parser for depmod's modules.dep.
//
// Format: one line per module, "PATH: DEP DEP ...", PATH relative to /lib/modules/KVER (or
// absolute), DEPs likewise, separated by spaces or tabs; the DEP list is the module's whole
// dependency closure as depmod ordered it (a module's own dependencies after it, so loading
// the list from the end is a valid order). Blank lines and lines starting with '#' are
// ignored. Any other line without the ':' separator is corrupt: an index is strict, so this
// throws with file and line. The first line for a module name wins, as in depmod's index.
import { IndexError } from './errors.js'
import { lazyMap } from './lazy-map.js'
import { modNameFromPath } from '../core/names.js'

export interface DepEntry {
  /** normalised module name (dashes turned into underscores) */
  readonly name: string
  /** path as written in modules.dep (usually relative to the modules directory) */
  readonly path: string
  /** dependency paths, in modules.dep order */
  readonly deps: string[]
}

/** An entry whose dependency list is split on first use: most are never asked for. */
class LazyDepEntry implements DepEntry {
  private list: string[] | undefined
  constructor(
    readonly name: string,
    readonly path: string,
    private readonly text: string,
  ) {}
  get deps(): string[] {
    return (this.list ??= this.text.length === 0 ? [] : this.text.split(' '))
  }
  toJSON(): { name: string; path: string; deps: string[] } {
    return { name: this.name, path: this.path, deps: this.deps }
  }
}

export function parseModulesDep(text: string, file = 'modules.dep'): Map<string, DepEntry> {
  const out = new Map<string, DepEntry>()
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line.length === 0 || line[0] === '#') continue
    const colon = line.indexOf(':')
    let entry: DepEntry
    if (colon > 0 && line.indexOf('\t') < 0 && line.indexOf('  ') < 0 && line[0] !== ' ' && line[line.length - 1] !== ' ') {
      // depmod's own form: "PATH:" or "PATH: DEP DEP"
      const path = line.slice(0, colon)
      entry = new LazyDepEntry(modNameFromPath(path), path, colon + 1 === line.length ? '' : line.slice(colon + 2))
    } else {
      if (line.trim().length === 0) continue
      if (colon <= 0) {
        throw new IndexError(file, i + 1, `expected "MODULE-PATH: DEPENDENCIES", got ${JSON.stringify(line.slice(0, 80))}`)
      }
      const path = line.slice(0, colon).trim()
      const rest = line.slice(colon + 1).trim()
      entry = { name: modNameFromPath(path), path, deps: rest.length === 0 ? [] : rest.split(/[ \t]+/) }
    }
    if (!out.has(entry.name)) out.set(entry.name, entry)
  }
  return out
}

// A line that is not depmod's own form ("PATH:" or "PATH: DEP DEP", single spaces).
const ODD_LINE = /\n(?![^ \t\r\n:]+:(?: [^ \t\r\n]+)*\n|#|\n|$)/
// Lines whose module path has a '-' in its base name (module names use '_'); not comments.
const DASHED = /\n(?!#)([^\n: ]*-[^\n:/ ]*):/g
// After this many single lookups, parse everything: searching the text is for the first few.
const LAZY_LIMIT = 64

/**
 * modules.dep as a map that finds entries in the text on demand: loading is a check of the
 * whole text (one regex; a text that is not depmod's canonical form is parsed at once, so a
 * corrupt line is an IndexError here) and an index of the few dashed file names. get() and
 * has() search the text for "/NAME." until LAZY_LIMIT lookups; iterating parses everything.
 */
export function lazyModulesDep(text: string, file = 'modules.dep'): ReadonlyMap<string, DepEntry> {
  const src = `\n${text}${text.endsWith('\n') ? '' : '\n'}`
  if (ODD_LINE.test(src)) return parseModulesDep(text, file)
  let full: Map<string, DepEntry> | null = null
  const cache = new Map<string, DepEntry | null>()
  const entryAt = (lineStart: number): DepEntry => {
    const end = src.indexOf('\n', lineStart)
    const colon = src.indexOf(':', lineStart)
    const path = src.slice(lineStart, colon)
    return new LazyDepEntry(modNameFromPath(path), path, colon + 1 === end ? '' : src.slice(colon + 2, end))
  }
  const dashed = new Map<string, number>()
  const re = new RegExp(DASHED)
  for (let m = re.exec(src); m !== null; m = re.exec(src)) {
    const name = modNameFromPath(m[1])
    if (!dashed.has(name)) dashed.set(name, m.index + 1)
  }
  const all = (): Map<string, DepEntry> => (full ??= parseModulesDep(text, file))
  const search = (name: string): DepEntry | null => {
    // the path's base name is NAME up to its first '.', or all of it before ':'
    let best = -1
    for (const needle of [`/${name}.`, `/${name}:`, `\n${name}.`, `\n${name}:`]) {
      for (let at = src.indexOf(needle); at >= 0; at = src.indexOf(needle, at + 1)) {
        const colon = src.indexOf(':', at + 1)
        const space = src.indexOf(' ', at + 1)
        const nl = src.indexOf('\n', at + 1)
        if (colon < 0 || (space >= 0 && space < colon) || nl < colon) continue // a dependency, not a line's path
        const lineStart = src.lastIndexOf('\n', at) + (needle[0] === '\n' ? 0 : 1)
        const start = needle[0] === '\n' ? at + 1 : lineStart
        // in a dependency after the line's path (a dependency with a ':' in it, which depmod
        // never writes), not in the path: parseModulesDep reads the path up to the first ':'
        if (src.indexOf(':', start) !== colon) continue
        if (src[start] === '#') continue // a comment line, which parseModulesDep skips
        if (src.slice(start, colon).indexOf('/', at + 1 - start) >= 0) continue
        if (best < 0 || start < best) best = start
        break
      }
    }
    return best < 0 ? null : entryAt(best)
  }
  const get = (name: string): DepEntry | undefined => {
    if (full) return full.get(name)
    const known = cache.get(name)
    if (known !== undefined) return known ?? undefined
    if (cache.size >= LAZY_LIMIT) return all().get(name)
    const d = dashed.get(name)
    // a dashed file name wins only if it comes first; compare with the plain spelling's line
    const plain = name.includes('-') ? null : search(name)
    let e: DepEntry | null = plain
    if (d !== undefined) {
      const de = entryAt(d)
      if (plain === null || d < src.indexOf(plain.path)) e = de
    }
    cache.set(name, e)
    return e ?? undefined
  }
  return lazyMap(get, all)
}
