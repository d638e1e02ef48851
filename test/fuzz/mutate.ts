// Input generators for the fuzz targets, as fast-check arbitraries: mostly real, valid inputs
// (the corpus) with a few mutations applied, sometimes plain random bytes. A mutation is data
// (which kind, where, what), so fast-check can print, replay and shrink it; positions are
// taken modulo the input's length when applied, so any mutation fits any input.
//
// Byte mutations: flip a bit, set a byte to an "interesting" value (NUL, newline, 0xff, the
// format's separators), overwrite 4 bytes with an interesting u32 (either byte order: lengths,
// offsets, counts) or with an offset into the input itself (with the .bin index's flag bits),
// truncate, insert random bytes, delete a range, duplicate a range elsewhere,
// splice in part of another corpus input. Line mutations (text formats): delete, duplicate,
// swap or insert a line, and insert a format token.
import fc from 'fast-check'

export type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'u32'; at: number; value: number; big: boolean }
  | { op: 'ptr'; at: number; to: number; flags: number; big: boolean }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; len: number }
  | { op: 'dup'; from: number; len: number; to: number }
  | { op: 'splice'; other: number; from: number; len: number; to: number }
  | { op: 'line-delete'; line: number }
  | { op: 'line-dup'; line: number; to: number }
  | { op: 'line-swap'; a: number; b: number }
  | { op: 'token'; at: number; token: string }

/** Bytes the formats treat specially: separators, quotes, escapes, glob characters, ends. */
const INTERESTING_BYTES = [0, 0x0a, 0x0d, 0x09, 0x20, 0x22, 0x23, 0x2a, 0x2d, 0x2e, 0x2f, 0x3a, 0x3d, 0x3f, 0x40, 0x5b, 0x5c, 0x5d, 0x7f, 0x80, 0xff]
const INTERESTING_U32 = [0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]
/** High bits of an offset word: the .bin index's node flags (prefix, values, children). */
const POINTER_FLAGS = [0, 0x20000000, 0x40000000, 0x60000000, 0x80000000, 0xa0000000, 0xc0000000, 0xe0000000]
/** Words of the text formats, to build lines a parser has a branch for. */
const TOKENS = [
  '\n', '\0', ':', ' ', '\t', '\\\n', '\\', '"', '#', '=', '--', '-', '.', '*', '?', '[', ']', '[!a-z]', '[[:digit:]]', '@',
  'alias ', 'options ', 'install ', 'remove ', 'softdep ', 'blacklist ', 'include ', 'pre:', 'post:',
  'symbol:', 'kernel/a/b.ko', '.ko.xz', 'c10:229 ', 'modprobe.blacklist=', 'module_blacklist=', 'x.y=', '"a b"',
  'ACTION=', 'DEVPATH=', 'MODALIAS=', 'libudev', 'modules ', 'compress ', 'cmdline ', 'output %', '= ', '%k', '070701', 'TRAILER!!!',
]

// fast-check biases numbers towards small ones: that is the header, hit often enough by a
// fifth of the positions; the rest fall anywhere
const pos = fc.oneof({ weight: 4, arbitrary: fc.noBias(fc.nat({ max: 1 << 20 })) }, { weight: 1, arbitrary: fc.nat({ max: 1 << 20 }) })

/** Byte mutations; `shifts` weighs those that move bytes (insert, delete, dup, splice): in a
 * format of offsets (the .bin indexes, ELF) most shifted inputs fail at the first offset, so
 * those formats mostly damage bytes in place. */
function byteMutation(shifts: number): fc.Arbitrary<Mutation> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at: pos, bit: fc.integer({ min: 0, max: 7 }) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), at: pos, value: fc.oneof(fc.constantFrom(...INTERESTING_BYTES), fc.integer({ min: 0, max: 255 })) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('u32' as const), at: pos, value: fc.oneof(fc.constantFrom(...INTERESTING_U32), fc.nat({ max: 0xffff })), big: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('ptr' as const), at: pos, to: pos, flags: fc.constantFrom(...POINTER_FLAGS), big: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: pos }) },
    { weight: 2 * shifts, arbitrary: fc.record({ op: fc.constant('insert' as const), at: pos, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
    { weight: 2 * shifts, arbitrary: fc.record({ op: fc.constant('delete' as const), at: pos, len: fc.integer({ min: 1, max: 64 }) }) },
    { weight: shifts, arbitrary: fc.record({ op: fc.constant('dup' as const), from: pos, len: fc.integer({ min: 1, max: 256 }), to: pos }) },
    { weight: shifts, arbitrary: fc.record({ op: fc.constant('splice' as const), other: fc.nat(), from: pos, len: fc.integer({ min: 1, max: 256 }), to: pos }) },
  )
}

const lineMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('line-delete' as const), line: pos }),
  fc.record({ op: fc.constant('line-dup' as const), line: pos, to: pos }),
  fc.record({ op: fc.constant('line-swap' as const), a: pos, b: pos }),
  fc.record({ op: fc.constant('token' as const), at: pos, token: fc.constantFrom(...TOKENS) }),
)

/** A copy (Buffer#slice would share the bytes, and corpus inputs must stay as they are). */
function copy(b: Uint8Array): Uint8Array {
  return new Uint8Array(b)
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts))
}

function lines(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  let start = 0
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x0a) {
      out.push(b.subarray(start, i + 1))
      start = i + 1
    }
  }
  if (start < b.length) out.push(b.subarray(start))
  return out
}

/** One mutation applied to a copy of `b`; `corpus` is what 'splice' takes from. */
export function applyMutation(b: Uint8Array, m: Mutation, corpus: readonly Uint8Array[]): Uint8Array {
  const n = b.length
  const at = (x: number, extra = 0): number => (n + extra === 0 ? 0 : x % (n + extra))
  switch (m.op) {
    case 'flip': {
      if (n === 0) return b
      const out = copy(b)
      out[at(m.at)] ^= 1 << m.bit
      return out
    }
    case 'set': {
      if (n === 0) return Uint8Array.of(m.value)
      const out = copy(b)
      out[at(m.at)] = m.value
      return out
    }
    case 'u32': {
      if (n < 4) return b
      const out = copy(b)
      const v = new DataView(out.buffer)
      v.setUint32(m.at % (n - 3), m.value >>> 0, !m.big)
      return out
    }
    case 'ptr': {
      // an offset that points back into the input: loops, overlaps, shared subtrees
      if (n < 4) return b
      const out = copy(b)
      new DataView(out.buffer).setUint32(m.at % (n - 3), (m.flags | at(m.to)) >>> 0, !m.big)
      return out
    }
    case 'truncate':
      return copy(b.subarray(0, at(m.at)))
    case 'insert': {
      const i = at(m.at, 1)
      return concat(b.subarray(0, i), m.bytes, b.subarray(i))
    }
    case 'delete': {
      const i = at(m.at)
      return concat(b.subarray(0, i), b.subarray(i + m.len))
    }
    case 'dup': {
      const from = at(m.from)
      const to = at(m.to, 1)
      return concat(b.subarray(0, to), b.subarray(from, from + m.len), b.subarray(to))
    }
    case 'splice': {
      const o = corpus.length === 0 ? b : corpus[m.other % corpus.length]
      const from = o.length === 0 ? 0 : m.from % o.length
      const to = at(m.to, 1)
      return concat(b.subarray(0, to), o.subarray(from, from + m.len), b.subarray(to))
    }
    case 'line-delete': {
      const ls = lines(b)
      if (ls.length === 0) return b
      ls.splice(m.line % ls.length, 1)
      return concat(...ls)
    }
    case 'line-dup': {
      const ls = lines(b)
      if (ls.length === 0) return b
      const l = ls[m.line % ls.length]
      ls.splice(m.to % (ls.length + 1), 0, l)
      return concat(...ls)
    }
    case 'line-swap': {
      const ls = lines(b)
      if (ls.length < 2) return b
      const a = m.a % ls.length
      const c = m.b % ls.length
      ;[ls[a], ls[c]] = [ls[c], ls[a]]
      return concat(...ls)
    }
    case 'token': {
      const i = at(m.at, 1)
      return concat(b.subarray(0, i), Buffer.from(m.token, 'latin1'), b.subarray(i))
    }
  }
}

export interface InputOptions {
  /** text format: line mutations and tokens too */
  text?: boolean
  /** a format of offsets: damage bytes in place more than move them */
  offsets?: boolean
  /** longest random input */
  maxRandom?: number
}

/** A corpus input with 1 to 8 mutations (mostly 1 or 2) (most runs), or random bytes (some), or the input as it is (few). */
export function inputArbitrary(corpus: readonly Uint8Array[], opts: InputOptions = {}): fc.Arbitrary<Uint8Array> {
  const bytes = byteMutation(opts.offsets ? 0 : 1)
  const moving = byteMutation(1)
  const muts = opts.text
    ? fc.oneof({ weight: 3, arbitrary: bytes }, { weight: 2, arbitrary: lineMutation })
    : opts.offsets
      ? fc.oneof({ weight: 5, arbitrary: bytes }, { weight: 1, arbitrary: moving })
      : bytes
  const mutated = fc
    .record({
      pick: fc.nat(),
      // mostly one or two mutations: a valid input damaged a little goes deepest
      muts: fc.oneof({ weight: 5, arbitrary: fc.array(muts, { minLength: 1, maxLength: 2 }) }, { weight: 2, arbitrary: fc.array(muts, { minLength: 3, maxLength: 8 }) }),
    })
    .map(({ pick, muts }) => muts.reduce((b, m) => applyMutation(b, m, corpus), corpus[pick % corpus.length]))
  const random = opts.text
    ? fc.string({ unit: fc.constantFrom(...TOKENS, 'a', 'b', '0', '1', 'x_y', '/', ','), maxLength: 64 }).map((s) => Uint8Array.from(Buffer.from(s, 'latin1')))
    : fc.uint8Array({ maxLength: opts.maxRandom ?? 512 })
  if (corpus.length === 0) return random
  return fc.oneof(
    { weight: 16, arbitrary: mutated },
    { weight: 3, arbitrary: random },
    { weight: 1, arbitrary: fc.nat().map((i) => corpus[i % corpus.length]) },
  )
}
