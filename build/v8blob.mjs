// v8blob.mjs: finding V8's serialized data in an executable (build.mjs cuts Node's own start-up
// snapshot with it). Plain JavaScript as the rest of the build; types in v8blob.d.mts. Pure.
//
// Layouts (V8 12.4, src/snapshot/snapshot.cc and code-serializer.h): a start-up snapshot blob is
// 4 words (contexts, rehashability, checksum, read-only checksum), the version string in 64
// bytes, the offsets of the read-only and shared heaps and of each context, then those parts,
// each a SerializedData: a magic word (0xc0de0000 ^ the external reference table's size), its
// payload's length, the payload. A code cache (SerializedCodeData) is a 32-byte header (magic,
// version hash, source hash, flag hash, read-only checksum, payload length, checksum, padding)
// and its payload.

/** The start-up snapshot blobs of V8 `version` in `bytes`: [at, end) file offsets, the number of
 * contexts, and the magic word of their parts. */
export function v8SnapshotBlobs(bytes, version) {
  const tag = Buffer.alloc(64)
  tag.write(version, 'latin1')
  const blobs = []
  for (let v = bytes.indexOf(tag); v >= 0; v = bytes.indexOf(tag, v + 1)) {
    const at = v - 16
    if (at < 0 || at + 88 > bytes.length) continue
    const contexts = bytes.readUInt32LE(at)
    if (contexts < 1 || contexts > 64 || at + 88 + 4 * contexts > bytes.length) continue
    const offsets = [bytes.readUInt32LE(at + 80), bytes.readUInt32LE(at + 84)]
    for (let i = 0; i < contexts; i++) offsets.push(bytes.readUInt32LE(at + 88 + 4 * i))
    if (offsets[0] < 88 + 4 * contexts || offsets.some((o, i) => (i && o <= offsets[i - 1]) || at + o + 8 > bytes.length)) continue
    const last = at + offsets[offsets.length - 1]
    if (bytes.readUInt32LE(last) >>> 16 !== 0xc0de) continue
    const end = last + 8 + bytes.readUInt32LE(last + 4)
    if (end <= bytes.length) blobs.push({ at, end, contexts, magic: bytes.readUInt32LE(last) })
  }
  return blobs
}

/** The run of code caches that starts within 32 bytes of `from` (a snapshot blob's end), each
 * with the blob's `magic` and the first one's version hash, and the next within 32 bytes of the
 * last one's end: where the last ends, and how many there are. */
export function codeCacheRun(bytes, from, magic) {
  let end = from
  let count = 0
  let versionHash
  for (;;) {
    let next = -1
    for (let q = end; q < end + 32 && q + 32 <= bytes.length; q++) {
      if (bytes.readUInt32LE(q) === magic && (versionHash === undefined || bytes.readUInt32LE(q + 4) === versionHash)) {
        next = q
        break
      }
    }
    if (next < 0) return { end, count }
    const length = bytes.readUInt32LE(next + 20)
    if (next + 32 + length > bytes.length) return { end, count }
    versionHash = bytes.readUInt32LE(next + 4)
    end = next + 32 + length
    count++
  }
}
