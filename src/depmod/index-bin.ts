// Writer of kmod's binary indexes (modules.dep.bin, modules.alias.bin, modules.symbols.bin,
// modules.builtin.bin, modules.builtin.alias.bin), byte for byte as kmod's depmod writes them,
// so that kmod's own tools read our output.
//
// Format (all integers u32 big endian):
//   header: magic 0xB007F457, version 0x00020001, offset of the root node
//   node:   [prefix bytes, NUL]            if offset flag 0x80000000
//           [first u8, last u8, (last-first+1) child offsets]   if flag 0x20000000
//           [value count, then per value: priority, value bytes, NUL]   if flag 0x40000000
//   A node offset is the node's file position OR'ed with those flags; a missing child is 0.
// The trie is a radix tree over 7-bit ASCII keys; nodes are written children first (post-order),
// children in character order; values of a key are sorted by priority, a value inserted later
// going before equal priorities (kmod's insertion rule).

import { BIN_INDEX } from '../format/index-bin.js'

const { MAGIC, VERSION, F_PREFIX, F_VALUES, F_CHILDS } = BIN_INDEX
const CHILDMAX = 128

interface Value {
  value: string
  priority: number
}

interface Node {
  prefix: string
  values: Value[]
  first: number
  last: number
  children: (Node | undefined)[]
}

function newNode(prefix: string): Node {
  return { prefix, values: [], first: CHILDMAX, last: 0, children: [] }
}

export class IndexCharError extends Error {
  constructor(what: string) {
    super(`module index: ${JSON.stringify(what)} has a character outside 7-bit ASCII, which kmod's index format cannot hold`)
    this.name = 'IndexCharError'
  }
}

function check(s: string): void {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= CHILDMAX) throw new IndexCharError(s)
}

/** Returns true when `value` was already there for `key` (kmod's duplicate warning). */
function addValue(node: Node, value: string, priority: number): boolean {
  const duplicate = node.values.some((v) => v.value === value)
  let i = 0
  while (i < node.values.length && node.values[i].priority < priority) i++
  node.values.splice(i, 0, { value, priority })
  return duplicate
}

export interface BinIndex {
  /** add value under key; true when the same value was already there */
  insert(key: string, value: string, priority: number): boolean
  /** the file's bytes */
  write(): Uint8Array
}

export function createBinIndex(): BinIndex {
  const root = newNode('')
  return {
    insert(key, value, priority) {
      check(key)
      check(value)
      let node = root
      let i = 0
      for (;;) {
        let j = 0
        for (; j < node.prefix.length; j++) {
          const ch = node.prefix.charCodeAt(j)
          if (ch !== key.charCodeAt(i + j)) {
            // split: the node keeps prefix[0..j), a new child at prefix[j] takes the rest
            const child: Node = { ...node, prefix: node.prefix.slice(j + 1) }
            node.prefix = node.prefix.slice(0, j)
            node.values = []
            node.children = []
            node.children[ch] = child
            node.first = ch
            node.last = ch
            break
          }
        }
        i += j
        if (i >= key.length) return addValue(node, value, priority)
        const ch = key.charCodeAt(i)
        const next = node.children[ch]
        if (!next) {
          if (ch < node.first) node.first = ch
          if (ch > node.last) node.last = ch
          const child = newNode(key.slice(i + 1))
          node.children[ch] = child
          addValue(child, value, priority)
          return false
        }
        node = next
        i++
      }
    },
    write() {
      const chunks: Buffer[] = []
      let pos = 12
      const emit = (b: Buffer): void => {
        chunks.push(b)
        pos += b.length
      }
      const writeNode = (node: Node | undefined): number => {
        if (!node) return 0
        const childOffs: number[] = []
        if (node.first < CHILDMAX) {
          for (let c = node.first; c <= node.last; c++) childOffs.push(writeNode(node.children[c]))
        }
        let offset = pos
        if (node.prefix.length > 0) {
          emit(Buffer.from(node.prefix + '\0', 'latin1'))
          offset |= F_PREFIX
        }
        if (childOffs.length > 0) {
          const b = Buffer.alloc(2 + 4 * childOffs.length)
          b[0] = node.first
          b[1] = node.last
          childOffs.forEach((o, k) => b.writeUInt32BE(o >>> 0, 2 + 4 * k))
          emit(b)
          offset |= F_CHILDS
        }
        if (node.values.length > 0) {
          const count = Buffer.alloc(4)
          count.writeUInt32BE(node.values.length)
          emit(count)
          for (const v of node.values) {
            const b = Buffer.alloc(4 + v.value.length + 1)
            b.writeUInt32BE(v.priority >>> 0)
            b.write(v.value, 4, 'latin1')
            emit(b)
          }
          offset |= F_VALUES
        }
        return offset >>> 0
      }
      const rootOff = writeNode(root)
      const header = Buffer.alloc(12)
      header.writeUInt32BE(MAGIC, 0)
      header.writeUInt32BE(VERSION, 4)
      header.writeUInt32BE(rootOff, 8)
      return Buffer.concat([header, ...chunks])
    },
  }
}
