// A minimal DER reader: enough of ASN.1's encoding to walk a PKCS#7 SignedData (module
// signatures). TLV = tag byte, length (short form < 0x80, or 0x8N followed by N big-endian
// bytes, or BER's indefinite 0x80 closed by 00 00, which OpenSSL also accepts), contents.
// Only single-byte tags are supported (all PKCS#7 uses).
// Pure; throws DerError on anything malformed, and callers treat that as "no signature info".

export class DerError extends Error {
  constructor(what: string) {
    super(`malformed DER: ${what}`)
    this.name = 'DerError'
  }
}

export interface Tlv {
  tag: number
  /** contents: [start, end) in the buffer */
  start: number
  end: number
  /** offset just after the whole TLV (after 00 00 for an indefinite length) */
  next: number
}

export const TAG = {
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
  CONTEXT_0: 0xa0,
  CONTEXT_1: 0xa1,
} as const

/** Nesting of indefinite lengths readTlv follows: PKCS#7 needs a handful; past this the input
 * is hostile, and recursion would overflow the stack. */
const MAX_DEPTH = 64

/** The TLV starting at `off`, which must end at or before `limit`. */
export function readTlv(b: Uint8Array, off: number, limit: number, depth = 0): Tlv {
  if (off + 2 > limit) throw new DerError('truncated header')
  if (depth > MAX_DEPTH) throw new DerError(`indefinite lengths nested more than ${MAX_DEPTH} deep`)
  const tag = b[off]
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tag')
  let len = b[off + 1]
  let start = off + 2
  if (len === 0x80) {
    if (!(tag & 0x20)) throw new DerError('indefinite length on a primitive')
    let p = start
    for (;;) {
      if (p + 2 > limit) throw new DerError('indefinite length without end-of-contents')
      if (b[p] === 0 && b[p + 1] === 0) return { tag, start, end: p, next: p + 2 }
      p = readTlv(b, p, limit, depth + 1).next
    }
  }
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 4 || start + n > limit) throw new DerError('bad length')
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]
    start += n
  }
  const end = start + len
  if (end > limit) throw new DerError('contents run past their container')
  return { tag, start, end, next: end }
}

/** The children of a constructed TLV, in order. */
export function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = []
  let off = parent.start
  while (off < parent.end) {
    const t = readTlv(b, off, parent.end)
    out.push(t)
    off = t.next
  }
  return out
}

export function expect(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new DerError(`expected ${what}`)
  return t
}

/** Dotted-decimal text of an OBJECT IDENTIFIER's contents. */
export function oid(b: Uint8Array, t: Tlv): string {
  const parts: number[] = []
  let v = 0
  for (let i = t.start; i < t.end; i++) {
    v = v * 128 + (b[i] & 0x7f)
    if (!(b[i] & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80)
      else parts.push(v)
      v = 0
    }
  }
  return parts.join('.')
}

/**
 * The magnitude of an INTEGER, big-endian and without leading zero bytes, as OpenSSL's
 * BN_bn2bin(ASN1_INTEGER_to_BN(x)) gives it (a negative number yields its absolute value).
 */
export function integerMagnitude(b: Uint8Array, t: Tlv): Uint8Array {
  let bytes = b.slice(t.start, t.end)
  if (bytes.length > 0 && bytes[0] & 0x80) {
    // two's complement negative: magnitude = ~x + 1
    const neg = bytes.map((x) => ~x & 0xff)
    for (let i = neg.length - 1; i >= 0; i--) {
      neg[i] = (neg[i] + 1) & 0xff
      if (neg[i] !== 0) break
    }
    bytes = neg
  }
  let i = 0
  while (i < bytes.length && bytes[i] === 0) i++
  return bytes.slice(i)
}
