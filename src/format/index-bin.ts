// Reader of kmod's binary indexes (modules.dep.bin, modules.alias.bin, modules.symbols.bin,
// modules.builtin.bin, modules.builtin.alias.bin), searched in place the way libkmod searches
// its mmap: nothing is parsed up front, a lookup walks the few trie nodes it needs. This is
// the boot path's database (see core/moddb-bin.ts): under QEMU's TCG, parsing the text
// indexes and grouping their 26,000 patterns cost more than a second per boot, the walk a
// few milliseconds per lookup.
//
// Format (all integers u32 big endian; src/depmod/index-bin.ts writes it):
//   header: magic 0xB007F457, version 0x00020001, offset of the root node
//   node:   [prefix bytes, NUL]                                   if offset flag 0x80000000
//           [first u8, last u8, (last-first+1) child offsets]     if offset flag 0x20000000
//           [value count, then per value: priority, value bytes, NUL]   if flag 0x40000000
//   A node offset is its file position OR'ed with those flags; a missing child is 0.
// Search semantics are libkmod's (libkmod-index.c): an exact search returns the first value
// of the key's node; a wildcard search treats the stored keys as fnmatch patterns and
// returns every match sorted by priority, an equal priority going before the values already
// collected (add_value), which is the order kmod's tools print.
import { fnmatch } from '../core/fnmatch.js'
import { IndexError } from './errors.js'

/** The format's numbers, shared with the writer (depmod/index-bin.ts). */
export const BIN_INDEX = { MAGIC: 0xb007f457, VERSION: 0x00020001, F_PREFIX: 0x80000000, F_VALUES: 0x40000000, F_CHILDS: 0x20000000 } as const
const { MAGIC, VERSION, F_PREFIX, F_VALUES, F_CHILDS } = BIN_INDEX
const F_MASK = 0x0fffffff
const STAR = 42
const QUESTION = 63
const BRACKET = 91

export interface BinValue {
  value: string
  priority: number
}

/** One node, decoded from its offset word. */
interface Node {
  /** file position */
  pos: number
  prefix: string
  first: number
  last: number
  /** file position of the first child offset */
  childAt: number
  /** file position of the value count, or -1 */
  valuesAt: number
}

/** A pattern of a wildcard subtree, flattened: see BinIndex.flat. */
interface Flat {
  pattern: string
  /** its longest literal run: a key without it cannot match (a native indexOf, no fnmatch);
   * found on first use */
  need?: string
  /** the node, whose values are decoded when the pattern first matches */
  node: Node
  values?: BinValue[]
}

export class BinIndex {
  private readonly root: number
  /** wildcard subtrees already walked, by node offset and start (see flat) */
  private readonly flats = new Map<string, Flat[]>()

  /** `bytes` is the whole file; `file` names it in errors. Throws IndexError when the header
   * is not kmod's (wrong magic or version: another format, or a truncated file). */
  constructor(
    private readonly bytes: Uint8Array,
    readonly file: string,
  ) {
    if (bytes.length < 12 || this.u32(0) !== MAGIC) throw new IndexError(file, 1, 'not a kmod binary index (bad magic)')
    const version = this.u32(4)
    if (version >>> 16 !== VERSION >>> 16) {
      throw new IndexError(file, 1, `binary index version 0x${version.toString(16)}, this reader knows 0x${VERSION.toString(16)}`)
    }
    this.root = this.u32(8)
  }

  private u32(at: number): number {
    const b = this.bytes
    if (at + 4 > b.length) throw new IndexError(this.file, 1, `offset ${at} is past the end (${b.length} bytes)`)
    return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0
  }

  private cstring(at: number): [string, number] {
    const end = this.bytes.indexOf(0, at)
    if (end < 0) throw new IndexError(this.file, 1, `string at ${at} has no end`)
    return [latin1(this.bytes, at, end), end + 1]
  }

  private node(offset: number): Node | null {
    if (offset === 0) return null
    const pos = offset & F_MASK
    // a node without prefix, children or values occupies no bytes (depmod writes an empty
    // index's root that way, at the end of the file)
    if (pos > this.bytes.length) throw new IndexError(this.file, 1, `node offset ${pos} is past the end (${this.bytes.length} bytes)`)
    let at = pos
    let prefix = ''
    if (offset & F_PREFIX) [prefix, at] = this.cstring(at)
    let first = 128
    let last = 0
    let childAt = 0
    if (offset & F_CHILDS) {
      if (at + 2 > this.bytes.length) throw new IndexError(this.file, 1, `children of the node at ${pos} are past the end (${this.bytes.length} bytes)`)
      first = this.bytes[at]
      last = this.bytes[at + 1]
      childAt = at + 2
      at = childAt + 4 * Math.max(0, last - first + 1)
    }
    return { pos, prefix, first, last, childAt, valuesAt: offset & F_VALUES ? at : -1 }
  }

  /** A child met while walking a subtree: in a tree every node has one parent, so a node met
   * twice is a loop (or a shared subtree) that would walk forever or exponentially. */
  private childOnce(n: Node, ch: number, seen: Set<number>): Node | null {
    const c = this.child(n, ch)
    if (c === null) return null
    if (seen.has(c.pos)) throw new IndexError(this.file, 1, `node at ${c.pos} is reached twice (a loop in the trie)`)
    seen.add(c.pos)
    return c
  }

  private child(n: Node, ch: number): Node | null {
    if (ch < n.first || ch > n.last) return null
    return this.node(this.u32(n.childAt + 4 * (ch - n.first)))
  }

  private values(n: Node): BinValue[] {
    if (n.valuesAt < 0) return []
    const count = this.u32(n.valuesAt)
    const out: BinValue[] = []
    let at = n.valuesAt + 4
    for (let k = 0; k < count; k++) {
      const priority = this.u32(at)
      const [value, next] = this.cstring(at + 4)
      out.push({ value, priority })
      at = next
    }
    return out
  }

  /** libkmod's index_mm_search: the first value stored under exactly `key`, or null. */
  search(key: string): string | null {
    let n = this.node(this.root)
    let i = 0
    while (n !== null) {
      const p = n.prefix
      for (let j = 0; j < p.length; j++) if (p.charCodeAt(j) !== key.charCodeAt(i + j)) return null
      i += p.length
      if (i === key.length) {
        if (n.valuesAt < 0 || this.u32(n.valuesAt) === 0) return null
        return this.cstring(n.valuesAt + 8)[0]
      }
      n = this.child(n, key.charCodeAt(i))
      i++
    }
    return null
  }

  /** libkmod's index_mm_searchwild: every value whose stored key, read as an fnmatch pattern,
   * matches `key`, in kmod's order (see the header). */
  searchWild(key: string): BinValue[] {
    const out: BinValue[] = []
    let n = this.node(this.root)
    let i = 0
    while (n !== null) {
      const p = n.prefix
      for (let j = 0; j < p.length; j++) {
        const ch = p.charCodeAt(j)
        if (ch === STAR || ch === QUESTION || ch === BRACKET) {
          this.matchFlat(this.flat(n, j, ''), key.slice(i + j), out)
          return out
        }
        if (ch !== key.charCodeAt(i + j)) return out
      }
      i += p.length
      const rest = key.slice(i)
      for (const w of [STAR, QUESTION, BRACKET]) {
        const c = this.child(n, w)
        if (c !== null) this.matchFlat(this.flat(c, 0, String.fromCharCode(w)), rest, out)
      }
      if (i === key.length) {
        addValues(out, this.values(n))
        return out
      }
      n = this.child(n, key.charCodeAt(i))
      i++
    }
    return out
  }

  /** index_mm_searchwild_all's walk of the subtree under `n` (the node's prefix from `from`
   * on, after `before`), as the list of its patterns in the walk's order (children first,
   * then the node), made once: many keys share a subtree (every acpi: key walks the 700
   * "acpi*:" patterns), and under emulation the walk cost more than the matching. */
  private flat(n: Node, from: number, before: string): Flat[] {
    const id = `${before}${from}@${n.childAt}/${n.valuesAt}/${n.prefix}`
    let list = this.flats.get(id)
    if (list === undefined) {
      list = []
      this.walk(n, before + n.prefix.slice(from), list)
      this.flats.set(id, list)
    }
    return list
  }

  /** Post-order (children by byte, then the node), without recursion: a corrupt index can
   * chain nodes deeper than the stack. */
  private walk(root: Node, here: string, list: Flat[]): void {
    const seen = new Set<number>([root.pos])
    const stack: { n: Node; here: string; ch: number }[] = [{ n: root, here, ch: root.first }]
    while (stack.length > 0) {
      const f = stack[stack.length - 1]
      if (f.ch <= f.n.last) {
        const ch = f.ch++
        const c = this.childOnce(f.n, ch, seen)
        if (c !== null) stack.push({ n: c, here: f.here + String.fromCharCode(ch) + c.prefix, ch: c.first })
      } else {
        stack.pop()
        if (f.n.valuesAt >= 0) list.push({ pattern: f.here, node: f.n })
      }
    }
  }

  private matchFlat(list: readonly Flat[], subkey: string, out: BinValue[]): void {
    for (const f of list) {
      const need = (f.need ??= longestLiteral(f.pattern))
      if (need.length > 1 && subkey.indexOf(need) < 0) continue
      if (fnmatch(f.pattern, subkey)) addValues(out, (f.values ??= this.values(f.node)))
    }
  }

  /** Every (key, value) pair, keys in byte order and a key's values in stored order. */
  *entries(): Generator<[string, BinValue]> {
    const stack: [Node, string][] = []
    const root = this.node(this.root)
    const seen = new Set<number>()
    if (root !== null) stack.push([root, ''])
    if (root !== null) seen.add(root.pos)
    while (stack.length > 0) {
      const [n, before] = stack.pop() as [Node, string]
      const key = before + n.prefix
      for (const v of this.values(n)) yield [key, v]
      for (let ch = n.last; ch >= n.first; ch--) {
        const c = this.childOnce(n, ch, seen)
        if (c !== null) stack.push([c, key + String.fromCharCode(ch)])
      }
    }
  }
}

/** The longest run of a pattern without '*', '?', '[...]' or '\\': every match contains it. */
function longestLiteral(p: string): string {
  let best = ''
  let start = 0
  for (let i = 0; i <= p.length; i++) {
    const c = i < p.length ? p.charCodeAt(i) : -1
    if (c !== -1 && c !== STAR && c !== QUESTION && c !== BRACKET && c !== 92) continue
    if (i - start > best.length) best = p.slice(start, i)
    if (c === 92) return best // an escape: what follows is not plain text to search for
    if (c === BRACKET) {
      const close = p.indexOf(']', i + 2)
      if (close < 0) return best
      i = close
    }
    start = i + 1
  }
  return best
}

/** kmod's add_value for each value of one node, in the node's order. */
function addValues(out: BinValue[], values: readonly BinValue[]): void {
  for (const v of values) {
    let k = 0
    while (k < out.length && out[k].priority < v.priority) k++
    out.splice(k, 0, v)
  }
}

function latin1(b: Uint8Array, start: number, end: number): string {
  if (end - start < 24) {
    let s = ''
    for (let k = start; k < end; k++) s += String.fromCharCode(b[k])
    return s
  }
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1')
}
