// An index over alias patterns (modules.alias, the built-in aliases, modules.symbols) that
// answers "which modules match this string", with kmod's results: the same matches, the same
// duplicates, in the same order.
//
// How it is organised:
// - Patterns are grouped by HEAD, their first 4 characters. A key can only match patterns of
//   its own HEAD group, plus the few whose first '*', '?' or '[' (or end) comes sooner (the
//   "short" group) or whose first 4 characters hold a '-' (normalised to '_', the "dash"
//   group). Built from depmod's text, only those two small groups are built at load; a HEAD
//   group is cut out of the text (native indexOf on "\nalias HEAD") the first time a key
//   needs it. Loading the index is reading the file plus two regex passes.
// - Inside a group, literal patterns live in a Map (one probe); a glob is split, as kmod's
//   trie splits it, at its first '*', '?' or '[' into a literal PREFIX and the REST, and
//   bucketed by PREFIX. A lookup probes key.slice(0, L) for the few prefix lengths L of the
//   group (at most ~8 in real trees) and runs fnmatch on REST against the key's tail.
// - A bucket with many globs (1,756 "of:N*T*C...", 700 "acpi*:...") gets, on first use, a
//   q-gram filter: every glob contains literal runs any match must contain, so each is filed
//   under its rarest 4-character window; a lookup hashes the 4-grams of its tail and runs
//   fnmatch only on the globs filed under them (plus those with no such run).
// Order: kmod's index returns matches sorted by priority (the module's place in depmod's
// order, which is the order of modules.alias; 0 for every built-in alias) and within one
// priority in the reverse of its trie walk. Both are reproduced (priority as the line's
// position), so a list compares equal to kmod's, duplicates included.
import { fnmatchAt } from './fnmatch.js'
import { normalizeAlias } from './names.js'
import { IndexError } from '../format/errors.js'

const HEAD = 4
const Q = 4
const HEAVY = 24

export interface AliasEntry {
  pattern: string
  module: string
}

/** Parallel columns of an alias file. */
export interface AliasColumns {
  patterns: string[]
  modules: string[]
}

export interface AliasIndex {
  /** module names matching `alias`, kmod's order, duplicates removed */
  lookup(alias: string): string[]
  /** every match as kmod lists it (duplicates kept); `alias` must already be normalised */
  matchNormalized(alias: string): string[]
  /** "PATTERN MODULE" pairs in the order kmod's index dump prints them */
  dump(): [string, string][]
  readonly size: number
}

export interface AliasIndexOptions {
  /** 'order': priority is the entry's position (modules.alias, modules.symbols); 'none': all 0 */
  priority?: 'order' | 'none'
}

interface Hit {
  pattern: string
  module: string
  prio: number
  wild: number
  /** the longest literal run of the REST, which any match contains (computed on first use) */
  need?: string
}

/** fnmatch on the REST, after a native indexOf for the pattern's longest literal run. */
function matches(h: Hit, key: string, len: number): boolean {
  let need = h.need
  if (need === undefined) {
    need = ''
    for (const [a, b] of literalRuns(h.pattern, h.wild)) if (b - a > need.length) need = h.pattern.slice(a, b)
    h.need = need
  }
  if (need.length > 1 && key.indexOf(need, len) < 0) return false
  return fnmatchAt(h.pattern, len, key, len)
}

const WILD_RANK: Record<string, number> = { '*': 0, '?': 1, '[': 2 }

/**
 * Order of two matches in kmod's trie walk for one key: shallower wildcards first, exact
 * matches after the wildcards at their depth, '*' then '?' then '[' subtrees, and inside a
 * subtree children before the node itself (longer strings first), children by byte value.
 */
function walkOrder(a: Hit, b: Hit): number {
  const ax = a.wild === a.pattern.length
  const bx = b.wild === b.pattern.length
  if (a.wild !== b.wild) return a.wild - b.wild
  if (ax !== bx) return ax ? 1 : -1
  if (ax) return 0
  const ra = WILD_RANK[a.pattern[a.wild]]
  const rb = WILD_RANK[b.pattern[b.wild]]
  if (ra !== rb) return ra - rb
  const n = Math.min(a.pattern.length, b.pattern.length)
  for (let i = a.wild + 1; i < n; i++) {
    const d = a.pattern.charCodeAt(i) - b.pattern.charCodeAt(i)
    if (d !== 0) return d
  }
  return b.pattern.length - a.pattern.length
}

function kmodOrder(a: Hit, b: Hit): number {
  return a.prio - b.prio || -walkOrder(a, b)
}

/** Index of the first '*', '?' or '[' (the pattern's length when it has none). */
function wildIndex(p: string): number {
  let w = p.indexOf('*')
  const q = w < 0 ? p.indexOf('?') : p.lastIndexOf('?', w)
  if (q >= 0 && (w < 0 || q < w)) w = q
  const b = w < 0 ? p.indexOf('[') : p.lastIndexOf('[', w)
  if (b >= 0 && (w < 0 || b < w)) w = b
  return w < 0 ? p.length : w
}

function gramAt(s: string, i: number): number {
  return ((s.charCodeAt(i) * 31 + s.charCodeAt(i + 1)) * 31 + s.charCodeAt(i + 2)) * 31 + s.charCodeAt(i + 3)
}

/** Literal runs of a glob's REST that every match must contain ([] sets and '\' end a run). */
function literalRuns(p: string, from: number): [number, number][] {
  const runs: [number, number][] = []
  let start = -1
  for (let i = from; i <= p.length; i++) {
    const c = i < p.length ? p.charCodeAt(i) : -1
    if (c !== -1 && c !== 42 && c !== 63 && c !== 91 && c !== 92) {
      if (start < 0) start = i
      continue
    }
    if (start >= 0) runs.push([start, i])
    start = -1
    if (c === 92) return runs // an escape: stop here, the runs so far still hold
    if (c === 91) {
      const close = p.indexOf(']', i + 2)
      if (close < 0) return runs
      i = close
    }
  }
  return runs
}

interface Bucket {
  entries: Hit[]
  grams?: Map<number, Hit[]>
  scan?: Hit[]
}

function buildGrams(bucket: Bucket): void {
  const runsOf = bucket.entries.map((e) => literalRuns(e.pattern, e.wild))
  const count = new Map<number, number>()
  bucket.entries.forEach((e, k) => {
    for (const [a, b] of runsOf[k]) for (let i = a; i + Q <= b; i++) {
      const g = gramAt(e.pattern, i)
      count.set(g, (count.get(g) ?? 0) + 1)
    }
  })
  const grams = new Map<number, Hit[]>()
  const scan: Hit[] = []
  bucket.entries.forEach((e, k) => {
    let best = -1
    let bestCount = Infinity
    for (const [a, b] of runsOf[k]) for (let i = a; i + Q <= b; i++) {
      const g = gramAt(e.pattern, i)
      const n = count.get(g) ?? 0
      if (n < bestCount) {
        bestCount = n
        best = g
      }
    }
    if (best < 0) scan.push(e)
    else {
      const list = grams.get(best)
      if (list) list.push(e)
      else grams.set(best, [e])
    }
  })
  bucket.grams = grams
  bucket.scan = scan
}

/** A set of normalised patterns, bucketed by literal prefix. */
class Group {
  private readonly exact = new Map<string, Hit[]>()
  private readonly buckets = new Map<string, Bucket>()
  private readonly lengths: number[] = []

  add(h: Hit): void {
    if (h.wild === h.pattern.length) {
      const list = this.exact.get(h.pattern)
      if (list === undefined) this.exact.set(h.pattern, [h])
      else list.push(h)
      return
    }
    const prefix = h.pattern.slice(0, h.wild)
    const bucket = this.buckets.get(prefix)
    if (bucket !== undefined) bucket.entries.push(h)
    else {
      this.buckets.set(prefix, { entries: [h] })
      if (!this.lengths.includes(h.wild)) this.lengths.push(h.wild)
    }
  }

  match(key: string, hits: Hit[]): void {
    const ex = this.exact.get(key)
    if (ex !== undefined) for (const h of ex) hits.push(h)
    for (const len of this.lengths) {
      if (len > key.length) continue
      const bucket = this.buckets.get(len === key.length ? key : key.slice(0, len))
      if (bucket === undefined) continue
      if (bucket.entries.length < HEAVY) {
        for (const h of bucket.entries) if (matches(h, key, len)) hits.push(h)
        continue
      }
      if (bucket.grams === undefined) buildGrams(bucket)
      for (const h of bucket.scan!) if (matches(h, key, len)) hits.push(h)
      let tried: Set<Hit> | null = null
      for (let i = len; i + Q <= key.length; i++) {
        const cands = bucket.grams!.get(gramAt(key, i))
        if (cands === undefined) continue
        for (const h of cands) {
          if (tried === null) tried = new Set()
          else if (tried.has(h)) continue
          tried.add(h)
          if (matches(h, key, len)) hits.push(h)
        }
      }
    }
  }
}

function sortedNames(hits: Hit[]): string[] {
  if (hits.length > 1) hits.sort(kmodOrder)
  return hits.map((h) => h.module)
}

function dedupe(names: string[]): string[] {
  if (names.length < 2) return names
  const out: string[] = []
  for (const n of names) if (!out.includes(n)) out.push(n)
  return out
}

function dumpOf(all: Hit[]): [string, string][] {
  const sorted = all.slice().sort((a, b) => (a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : a.prio - b.prio))
  return sorted.map((h) => [h.pattern, h.module])
}

/** An index built at once from entries (small files, tests, non-canonical text). */
export function buildAliasIndex(input: readonly AliasEntry[] | AliasColumns, opts: AliasIndexOptions = {}): AliasIndex {
  const patterns = Array.isArray(input) ? input.map((e: AliasEntry) => e.pattern) : (input as AliasColumns).patterns
  const modules = Array.isArray(input) ? input.map((e: AliasEntry) => e.module) : (input as AliasColumns).modules
  const ordered = opts.priority !== 'none'
  const groups = new Map<string, Group>()
  const short = new Group()
  const all: Hit[] = []
  for (let i = 0; i < patterns.length; i++) {
    const pattern = normalizeAlias(patterns[i])
    if (pattern === null) continue // depmod skips these ("Unmatched bracket")
    const h: Hit = { pattern, module: modules[i], prio: ordered ? i : 0, wild: wildIndex(pattern) }
    all.push(h)
    if (h.wild < HEAD) short.add(h)
    else {
      const head = pattern.slice(0, HEAD)
      let g = groups.get(head)
      if (g === undefined) groups.set(head, (g = new Group()))
      g.add(h)
    }
  }
  const match = (key: string): string[] => {
    const hits: Hit[] = []
    short.match(key, hits)
    if (key.length >= HEAD) groups.get(key.slice(0, HEAD))?.match(key, hits)
    return sortedNames(hits)
  }
  return {
    size: all.length,
    lookup: (raw) => {
      const key = normalizeAlias(raw)
      return key === null ? [] : dedupe(match(key))
    },
    matchNormalized: match,
    dump: () => dumpOf(all),
  }
}

// A line that is not depmod's own form: not "alias PATTERN MODULE" with single spaces, not a
// comment, not blank (the text is searched with a '\n' before it and after it).
const ODD_LINE = /\n(?!alias [^ \t\r\n]+ [^ \t\r\n]+\n|#|\n|$)/
// Lines whose pattern has a '-', '*', '?' or '[' in its first HEAD characters, or ends sooner.
const SPECIAL_LINES = /\nalias ((?=[^ \n]{0,3}[-*?[ ])[^ \n]*) ([^ \n]+)/g

/**
 * The index of a depmod text file (modules.alias, modules.symbols), built lazily: at load
 * the file is checked (a line that is neither canonical nor a comment or blank is parsed
 * the slow way, and a corrupt one is an IndexError naming file and line) and its dash and
 * short groups are built; a HEAD group is built the first time a key needs it.
 */
export function aliasIndexFromText(text: string, file: string, opts: AliasIndexOptions = {}): AliasIndex {
  const src = `\n${text}${text.endsWith('\n') ? '' : '\n'}`
  if (ODD_LINE.test(src)) return buildAliasIndex(parseAliasText(text, file), opts)
  const ordered = opts.priority !== 'none'
  const special = new Group()
  const mk = (pattern: string, module: string, at: number): Hit | null => {
    const p = pattern.indexOf('-') < 0 && pattern.indexOf(']') < 0 ? pattern : normalizeAlias(pattern)
    if (p === null) return null
    return { pattern: p, module: module.indexOf('-') < 0 ? module : module.replaceAll('-', '_'), prio: ordered ? at : 0, wild: wildIndex(p) }
  }
  const re = new RegExp(SPECIAL_LINES)
  for (let m = re.exec(src); m !== null; m = re.exec(src)) {
    const h = mk(m[1], m[2], m.index)
    if (h) special.add(h)
  }
  const groups = new Map<string, Group>()
  const empty = new Group()
  let heads: Set<string> | null = null
  const group = (head: string): Group => {
    let g = groups.get(head)
    if (g !== undefined) return g
    if (heads === null) {
      // every HEAD present, in one native pass: a key with another HEAD costs one Set probe
      heads = new Set()
      const re = /\nalias ([^ \n]{4})/g
      for (let m = re.exec(src); m !== null; m = re.exec(src)) heads.add(m[1])
    }
    if (!heads.has(head)) return empty
    g = new Group()
    groups.set(head, g)
    const needle = `\nalias ${head}`
    for (let at = src.indexOf(needle); at >= 0; at = src.indexOf(needle, at + 1)) {
      const p0 = at + 7
      const sp = src.indexOf(' ', p0)
      let end = src.indexOf('\n', sp)
      if (end < 0) end = src.length
      const pattern = src.slice(p0, sp)
      const h = mk(pattern, src.slice(sp + 1, end), at)
      // those with a wildcard, an end or a '-' within HEAD are in the special group
      if (h === null || h.wild < HEAD || pattern.lastIndexOf('-', HEAD - 1) >= 0) continue
      g.add(h)
    }
    return g
  }
  const match = (key: string): string[] => {
    const hits: Hit[] = []
    special.match(key, hits)
    if (key.length >= HEAD) {
      const head = key.slice(0, HEAD)
      if (!head.includes('\n')) group(head).match(key, hits)
    }
    return sortedNames(hits)
  }
  let size = -1
  return {
    get size(): number {
      if (size < 0) {
        size = 0
        for (let at = src.indexOf('\nalias '); at >= 0; at = src.indexOf('\nalias ', at + 1)) size++
      }
      return size
    },
    lookup: (raw) => {
      const key = normalizeAlias(raw)
      return key === null ? [] : dedupe(match(key))
    },
    matchNormalized: match,
    dump: () => {
      const cols = parseAliasText(text, file)
      const all: Hit[] = []
      cols.patterns.forEach((p, i) => {
        const n = normalizeAlias(p)
        if (n !== null) all.push({ pattern: n, module: cols.modules[i], prio: ordered ? i : 0, wild: 0 })
      })
      return dumpOf(all)
    },
  }
}

/** General parser of the alias text format (any blanks between fields); strict. */
export function parseAliasText(text: string, file: string): AliasColumns {
  const patterns: string[] = []
  const modules: string[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i].trim()
    if (t.length === 0 || t[0] === '#') continue
    const f = t.split(/[ \t\r]+/)
    if (f.length !== 3 || f[0] !== 'alias') {
      throw new IndexError(file, i + 1, `expected "alias PATTERN MODULE", got ${JSON.stringify(lines[i].slice(0, 80))}`)
    }
    patterns.push(f[1])
    modules.push(f[2].replaceAll('-', '_'))
  }
  return { patterns, modules }
}
