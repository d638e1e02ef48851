// The iteration order of kmod's hash table (shared/hash.c), which decides the line order of
// depmod's modules.symbols and the order of modules absent from modules.order. Keys go to
// bucket superfast(key) & (nBuckets - 1) (Paul Hsieh's SuperFastHash over the key's bytes,
// 16-bit reads little endian, `char` signed as on x86) and are kept sorted by strcmp inside a
// bucket; iteration walks buckets in order. Replacing a key keeps its place.

/** SuperFastHash as kmod computes it (hash_superfast), over latin1 `key`'s bytes. */
export function superfast(key: string): number {
  let len = key.length
  let hash = len >>> 0
  const rem = len & 3
  len >>>= 2
  let p = 0
  const u16 = (i: number): number => key.charCodeAt(i) | (key.charCodeAt(i + 1) << 8)
  const sch = (i: number): number => ((key.charCodeAt(i) << 24) >> 24) // signed char
  for (; len > 0; len--) {
    hash = (hash + u16(p)) >>> 0
    const tmp = ((u16(p + 2) << 11) ^ hash) >>> 0
    hash = ((hash << 16) ^ tmp) >>> 0
    p += 4
    hash = (hash + (hash >>> 11)) >>> 0
  }
  switch (rem) {
    case 3:
      hash = (hash + u16(p)) >>> 0
      hash = (hash ^ (hash << 16)) >>> 0
      hash = (hash ^ (sch(p + 2) << 18)) >>> 0
      hash = (hash + (hash >>> 11)) >>> 0
      break
    case 2:
      hash = (hash + u16(p)) >>> 0
      hash = (hash ^ (hash << 11)) >>> 0
      hash = (hash + (hash >>> 17)) >>> 0
      break
    case 1:
      hash = (hash + sch(p)) >>> 0
      hash = (hash ^ (hash << 10)) >>> 0
      hash = (hash + (hash >>> 1)) >>> 0
      break
  }
  hash = (hash ^ (hash << 3)) >>> 0
  hash = (hash + (hash >>> 5)) >>> 0
  hash = (hash ^ (hash << 4)) >>> 0
  hash = (hash + (hash >>> 17)) >>> 0
  hash = (hash ^ (hash << 25)) >>> 0
  hash = (hash + (hash >>> 6)) >>> 0
  return hash
}

/** strcmp on latin1 strings (byte order; JS '<' on such strings is the same order). */
export function strcmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Keys in the order kmod's hash_iter visits them for a table of `nBuckets` (a power of two). */
export function kmodHashOrder(keys: Iterable<string>, nBuckets: number): string[] {
  const buckets = new Map<number, string[]>()
  for (const k of keys) {
    const b = superfast(k) & (nBuckets - 1)
    const list = buckets.get(b)
    if (list) list.push(k)
    else buckets.set(b, [k])
  }
  const out: string[] = []
  for (const b of [...buckets.keys()].sort((x, y) => x - y)) {
    out.push(...(buckets.get(b) as string[]).sort(strcmp))
  }
  return out
}
