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
const BACKSLASH = 92

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

export class BinIndex {
  private readonly root: number

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
          this.walkMatching(n, n.prefix.slice(j), key.slice(i + j), out)
          return out
        }
        if (ch !== key.charCodeAt(i + j)) return out
      }
      i += p.length
      const rest = key.slice(i)
      for (const w of [STAR, QUESTION, BRACKET]) {
        const c = this.child(n, w)
        if (c !== null) this.walkMatching(c, String.fromCharCode(w) + c.prefix, rest, out)
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

  /**
   * index_mm_searchwild_all: the subtree under `root`, whose patterns all begin with `here`,
   * walked in its order (children by byte, then the node) for the patterns that match
   * `subkey`. A subtree none of whose patterns can match is not walked: the literal run at the
   * end of a pattern so far (after its last '*' or '?') is in every pattern below it, and any
   * match holds it as it is, so a key without it matches nothing there. Under "acpi*" lie 700
   * patterns ("acpi*:PNP0A03:*", ...): a key walks the few that begin like its own tail.
   * (Patterns with '[' or '\\' are walked whole: a run there is not plain text.)
   * Without recursion: a corrupt index can chain nodes deeper than the stack.
   */
  private walkMatching(root: Node, here: string, subkey: string, out: BinValue[]): void {
    const runFrom = (s: string, from: number): number => {
      let run = from
      for (let k = from; k < s.length; k++) {
        const c = s.charCodeAt(k)
        if (c === STAR || c === QUESTION) run = k + 1
        else if (c === BRACKET || c === BACKSLASH) return -1
      }
      return run
    }
    const hopeless = (s: string, run: number): boolean => run >= 0 && run < s.length && subkey.indexOf(s.slice(run)) < 0
    const rootRun = runFrom(here, 0)
    if (hopeless(here, rootRun)) return
    const seen = new Set<number>([root.pos])
    const stack: { n: Node; here: string; run: number; ch: number }[] = [{ n: root, here, run: rootRun, ch: root.first }]
    while (stack.length > 0) {
      const f = stack[stack.length - 1]
      if (f.ch <= f.n.last) {
        const ch = f.ch++
        const c = this.childOnce(f.n, ch, seen)
        if (c === null) continue
        const here = f.here + String.fromCharCode(ch) + c.prefix
        const run = f.run < 0 ? -1 : runFrom(here, f.run)
        if (!hopeless(here, run)) stack.push({ n: c, here, run, ch: c.first })
      } else {
        stack.pop()
        if (f.n.valuesAt >= 0 && fnmatch(f.here, subkey)) addValues(out, this.values(f.n))
      }
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
