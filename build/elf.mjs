// elf.mjs: the two cuts build.mjs makes in the Node executable, and its new entry point, on its
// bytes (pure functions, tested in test/build.test.ts). They work from the program headers and
// the dynamic section, which is all the kernel, ld.so and Node's SEA lookup (PT_NOTE through
// dl_iterate_phdr) read; the section headers, which would describe the old layout, are
// dropped. Each refuses a layout it was not written for rather than guess.
//
// - cutPages: whole pages of a read-only object (ICU's data) out of the file; the segment that
//   held them is split in two, the first part keeping the hole as zero-filled memory.
// - trimDynamicSymbols: the dynamic symbol table without the symbols nothing outside Node
//   looks up (V8's and Node's own C++ namespaces); the tables are rewritten smaller in place
//   and the freed pages cut from the end of their segment.
// - dropNodeEnvironment: an entry point that takes Node's own NODE_* variables out of the
//   environment before Node reads them, then jumps to Node's.

export const PT_LOAD = 1
const PT_DYNAMIC = 2
const PT_PHDR = 6
const PAGE = 0x1000

export function readPhdrs(b) {
  const phoff = Number(b.readBigUInt64LE(0x20))
  const entsize = b.readUInt16LE(0x36)
  const out = []
  for (let i = 0; i < b.readUInt16LE(0x38); i++) {
    const p = phoff + i * entsize
    const u64 = (o) => Number(b.readBigUInt64LE(p + o))
    out.push({ type: b.readUInt32LE(p), flags: b.readUInt32LE(p + 4), off: u64(8), vaddr: u64(16), paddr: u64(24), filesz: u64(32), memsz: u64(40), align: u64(48) })
  }
  return { phoff, entsize, phdrs: out }
}

function writePhdr(b, at, p) {
  b.writeUInt32LE(p.type, at)
  b.writeUInt32LE(p.flags, at + 4)
  for (const [o, v] of [[8, p.off], [16, p.vaddr], [24, p.paddr], [32, p.filesz], [40, p.memsz], [48, p.align]]) b.writeBigUInt64LE(BigInt(v), at + o)
}

function checkElf(b) {
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error('not a 64-bit little-endian ELF file')
}

/** `b` without the file bytes [fs, fe) (whole pages), with `next` as its program headers
 * (offsets already moved) and no section headers. */
function withoutFileRange(b, fs, fe, next) {
  const { phoff, entsize } = readPhdrs(b)
  const cut = fe - fs
  const shoff = Number(b.readBigUInt64LE(0x28))
  const shEnd = shoff + b.readUInt16LE(0x3c) * b.readUInt16LE(0x3a)
  // the section header table, when last in the file, goes with the section headers
  const out = Buffer.concat([b.subarray(0, fs), b.subarray(fe, shoff >= fe && shEnd === b.length ? shoff : b.length)])
  const at = phoff >= fe ? phoff - cut : phoff
  out.writeBigUInt64LE(BigInt(at), 0x20) // e_phoff
  next.forEach((p, i) => writePhdr(out, at + i * entsize, p))
  out.writeUInt16LE(next.length, 0x38)
  out.writeBigUInt64LE(0n, 0x28) // e_shoff
  out.writeUInt16LE(0, 0x3c) // e_shnum
  out.writeUInt16LE(0, 0x3e) // e_shstrndx
  return out
}

/** The executable without the whole pages of [start, end) (see above). Pure; throws when the
 * layout is not the one this was written for, rather than guess. */
export function cutPages(b, start, end) {
  checkElf(b)
  const { phoff, entsize, phdrs } = readPhdrs(b)
  const seg = phdrs.find((p) => p.type === PT_LOAD && start >= p.vaddr && end <= p.vaddr + p.filesz)
  if (!seg || seg.filesz !== seg.memsz || seg.flags & 2) throw new Error('the range is not in a read-only, file-backed segment')
  const hs = Math.ceil(start / PAGE) * PAGE
  const he = Math.floor(end / PAGE) * PAGE
  const fs = seg.off + (hs - seg.vaddr)
  const fe = seg.off + (he - seg.vaddr)
  const cut = fe - fs
  if (cut <= 0) throw new Error('the range holds no whole page')
  for (const p of phdrs) {
    if (p === seg) continue
    if ((p.filesz && p.off < fe && p.off + p.filesz > fs) || (p.memsz && p.vaddr < he && p.vaddr + p.memsz > hs)) {
      throw new Error(`a segment (type ${p.type}, offset 0x${p.off.toString(16)}) overlaps the range`)
    }
  }
  // one more program header: it must fit in the table's segment, in bytes nothing else uses
  const n = phdrs.length
  const phdrSeg = phdrs.find((p) => p.type === PT_PHDR)
  const spare = b.subarray(phoff + n * entsize, phoff + (n + 1) * entsize)
  if (!phdrSeg || phdrSeg.filesz < (n + 1) * entsize || !spare.every((x) => x === 0)) throw new Error('no room for one more program header')
  if (phoff + (n + 1) * entsize > fs && phoff < fe) throw new Error('the program headers are in the range')
  const next = []
  for (const p of phdrs) {
    if (p === seg) {
      next.push({ ...seg, filesz: hs - seg.vaddr, memsz: he - seg.vaddr })
      const tail = seg.filesz - (he - seg.vaddr)
      next.push({ ...seg, off: fs, vaddr: he, paddr: seg.paddr + (he - seg.vaddr), filesz: tail, memsz: tail })
    } else next.push(p.off >= fe ? { ...p, off: p.off - cut } : p)
  }
  return withoutFileRange(b, fs, fe, next)
}


// ---- The dynamic symbol table ---------------------------------------------------------------
//
// The official Node binary exports every symbol it has (linked with -rdynamic), 90,000 of them,
// so that native addons can link against V8 and Node: .dynsym, .dynstr and .gnu.hash take 10 MB
// of the executable, unpacked at every boot. modload's one addon (src/sys/shim.c) uses N-API
// only, and the shared libraries Node needs (libc, libstdc++, ...) cannot refer to V8's or
// Node's C++ namespaces. So those symbols go: a defined symbol whose mangled name's outermost
// scope is one of NODE_NAMESPACES, unless a relocation refers to it. Every undefined symbol,
// every C name (N-API, libuv, OpenSSL, zlib, ...) and every std:: or global C++ name stays,
// so what an addon or a library can look up still resolves, to the same address.
//
// The tables are rewritten in place, smaller, in their order (.gnu.hash, .dynsym, .dynstr,
// .gnu.version, .gnu.version_r, .rela.dyn, .rela.plt: the last bytes of the first, read-only
// segment), with the relocations' symbol indexes, the version table and every string offset
// (DT_NEEDED, version names) following; the dynamic section's pointers are patched in place.
// The pages freed at the segment's end leave the file, later offsets move down.

const DT = {
  NULL: 0, NEEDED: 1, PLTRELSZ: 2, HASH: 4, STRTAB: 5, SYMTAB: 6, RELA: 7, RELASZ: 8, RELAENT: 9, STRSZ: 10, SYMENT: 11,
  SONAME: 14, RPATH: 15, REL: 17, PLTREL: 20, JMPREL: 23, RUNPATH: 29, RELR: 36,
  GNU_HASH: 0x6ffffef5, VERSYM: 0x6ffffff0, VERDEF: 0x6ffffffc, VERNEED: 0x6ffffffe, VERNEEDNUM: 0x6fffffff,
}
/** dynamic entries whose value is an offset in the string table */
const STRING_TAGS = new Set([DT.NEEDED, DT.SONAME, DT.RPATH, DT.RUNPATH])
/** what this rewrite does not know how to keep consistent */
const UNSUPPORTED_TAGS = new Map([[DT.HASH, 'DT_HASH'], [DT.REL, 'DT_REL'], [DT.RELR, 'DT_RELR'], [DT.VERDEF, 'DT_VERDEF'], [0x7ffffffd, 'DT_AUXILIARY'], [0x7fffffff, 'DT_FILTER']])

/** V8's and Node's own C++ namespaces (and the libraries built into Node that no system
 * library links against), by their mangled source names. */
export const NODE_NAMESPACES = ['v8', 'node', 'cppgc', 'v8_inspector', 'v8_crdtp', 'crdtp', 'heap', 'unibrow', 'disasm', 'v8impl', 'simdutf', 'simdjson', 'absl', 'ncrypto', 'nbytes', 'ada', 'inspector', 'builtins']
const ICU_NAMESPACE = /^icu_\d+$/

/** The outermost scope of a mangled C++ name (`_ZN2v88internal...` -> "v8"; special names
 * such as vtables, typeinfo, thunks, guard variables and function-local statics look through
 * to what they belong to); undefined for C names and std:: or unscoped names. Pure. */
export function outerScope(name) {
  const m = /^_Z(?:T[VITS]|TT|GV|GR|Thn?\d+_|Tvn?\d+_n?\d+_|Z)?(?:N[rVK]*)?(\d+)/.exec(name)
  if (!m) return undefined
  return name.slice(m[0].length, m[0].length + Number(m[1]))
}

/** Whether a defined symbol named `name` is one of Node's own (see NODE_NAMESPACES). Pure. */
export function nodeInternal(name) {
  const scope = outerScope(name)
  return scope !== undefined && (NODE_NAMESPACES.includes(scope) || ICU_NAMESPACE.test(scope))
}

/** The GNU hash of a symbol name (the dynamic linker's dl_new_hash). */
export function gnuHash(name) {
  let h = 5381
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 33) + name.charCodeAt(i)) >>> 0
  return h
}

const SYM = 24
const RELA = 24

function cString(b, at) {
  const end = b.indexOf(0, at)
  if (end < 0) throw new Error(`no string end after offset 0x${at.toString(16)}`)
  return b.toString('latin1', at, end)
}

/** The dynamic section's entries, with where each one is in the file. */
function readDynamic(b, phdrs) {
  const dyn = phdrs.find((p) => p.type === PT_DYNAMIC)
  if (!dyn) throw new Error('no dynamic section')
  const entries = []
  for (let at = dyn.off; at + 16 <= dyn.off + dyn.filesz; at += 16) {
    const tag = Number(b.readBigInt64LE(at))
    entries.push({ tag, val: Number(b.readBigUInt64LE(at + 8)), at })
    if (tag === DT.NULL) break
  }
  return entries
}

/** A GNU hash table for `hashes` (symbol index symoffset + i has hashes[i], already ordered by
 * bucket), sized as GNU ld sizes it. */
function gnuHashTable(hashes, symoffset) {
  const n = hashes.length
  const nbuckets = Math.max(1, n >> 2) | 1
  let log2 = n ? Math.floor(Math.log2(n)) + 1 : 0
  if (log2 < 3) log2 = 5
  else log2 += (1 << (log2 - 2)) & n ? 3 : 2
  const maskwords = Math.max(1, (1 << log2) >> 6)
  const shift = log2
  const out = Buffer.alloc(16 + maskwords * 8 + nbuckets * 4 + n * 4)
  out.writeUInt32LE(nbuckets, 0)
  out.writeUInt32LE(symoffset, 4)
  out.writeUInt32LE(maskwords, 8)
  out.writeUInt32LE(shift, 12)
  const bloom = new BigUint64Array(maskwords)
  const buckets = 16 + maskwords * 8
  const chain = buckets + nbuckets * 4
  for (let i = 0; i < n; i++) {
    const h = hashes[i]
    const w = Math.floor(h / 64) % maskwords
    bloom[w] |= (1n << BigInt(h % 64)) | (1n << BigInt((h >>> shift) % 64))
    const bucket = h % nbuckets
    if (out.readUInt32LE(buckets + bucket * 4) === 0) out.writeUInt32LE(symoffset + i, buckets + bucket * 4)
    const last = i === n - 1 || hashes[i + 1] % nbuckets !== bucket
    out.writeUInt32LE(last ? (h | 1) >>> 0 : (h & ~1) >>> 0, chain + i * 4)
  }
  bloom.forEach((v, i) => out.writeBigUInt64LE(v, 16 + i * 8))
  return out
}

/** A GNU hash table's layout at file offset `h`, and how many symbols the table covers (the
 * highest bucket's chain, followed to its end mark): the dynamic linker's own count. */
function readGnuHash(b, h) {
  const [nbuckets, symoffset, maskwords, shift] = [0, 4, 8, 12].map((o) => b.readUInt32LE(h + o))
  const buckets = h + 16 + maskwords * 8
  const chain = buckets + nbuckets * 4
  let nsyms = symoffset
  for (let i = 0; i < nbuckets; i++) nsyms = Math.max(nsyms, b.readUInt32LE(buckets + i * 4) + 1)
  if (nsyms > symoffset) while (!(b.readUInt32LE(chain + (nsyms - 1 - symoffset) * 4) & 1)) nsyms++
  return { nbuckets, symoffset, maskwords, shift, buckets, chain, nsyms }
}

/** The executable with a smaller dynamic symbol table (see above): `drop(name)` says which
 * defined symbols may go. Pure; returns the new bytes and what was kept and dropped. */
export function trimDynamicSymbols(b, drop = nodeInternal) {
  checkElf(b)
  const { phoff, entsize, phdrs } = readPhdrs(b)
  const dynamic = readDynamic(b, phdrs)
  for (const e of dynamic) if (UNSUPPORTED_TAGS.has(e.tag)) throw new Error(`the executable has ${UNSUPPORTED_TAGS.get(e.tag)}, which this rewrite does not handle`)
  const one = (tag) => dynamic.find((e) => e.tag === tag)?.val
  const need = (tag, name) => {
    const v = one(tag)
    if (v === undefined) throw new Error(`the executable has no ${name}`)
    return v
  }
  if (need(DT.SYMENT, 'DT_SYMENT') !== SYM || need(DT.RELAENT, 'DT_RELAENT') !== RELA || need(DT.PLTREL, 'DT_PLTREL') !== DT.RELA) {
    throw new Error('unexpected symbol or relocation entry sizes')
  }
  const addr = {
    hash: need(DT.GNU_HASH, 'DT_GNU_HASH'), sym: need(DT.SYMTAB, 'DT_SYMTAB'), str: need(DT.STRTAB, 'DT_STRTAB'),
    versym: need(DT.VERSYM, 'DT_VERSYM'), verneed: need(DT.VERNEED, 'DT_VERNEED'), rela: need(DT.RELA, 'DT_RELA'), jmprel: need(DT.JMPREL, 'DT_JMPREL'),
  }
  const seg = phdrs.find((p) => p.type === PT_LOAD && addr.hash >= p.vaddr && addr.hash < p.vaddr + p.filesz)
  if (!seg || seg.flags & 2 || seg.filesz !== seg.memsz) throw new Error('the dynamic tables are not in a read-only, file-backed segment')
  const segEnd = seg.vaddr + seg.filesz
  const off = (a) => seg.off + (a - seg.vaddr)

  // the old tables
  const h = off(addr.hash)
  const { symoffset, chain: oldChain, nsyms } = readGnuHash(b, h)
  const strsz = need(DT.STRSZ, 'DT_STRSZ')
  const relasz = need(DT.RELASZ, 'DT_RELASZ')
  const pltrelsz = need(DT.PLTRELSZ, 'DT_PLTRELSZ')
  const verneedNum = need(DT.VERNEEDNUM, 'DT_VERNEEDNUM')
  let verneedSize = 0
  for (let at = off(addr.verneed), k = 0; k < verneedNum; k++) {
    const cnt = b.readUInt16LE(at + 2)
    const aux = b.readUInt32LE(at + 8)
    let a = at + aux
    for (let j = 0; j < cnt; j++) {
      verneedSize = Math.max(verneedSize, a + 16 - off(addr.verneed))
      a += b.readUInt32LE(a + 12)
    }
    verneedSize = Math.max(verneedSize, at + 16 - off(addr.verneed))
    at += b.readUInt32LE(at + 12)
  }
  // the tables in address order must fill the segment from the hash table on, without
  // overlapping; the bytes between them are free (a hash table rewritten smaller in place, as
  // postject's LIEF does, leaves some behind)
  const tables = [
    ['hash', addr.hash, oldChain - h + (nsyms - symoffset) * 4], ['sym', addr.sym, nsyms * SYM], ['str', addr.str, strsz],
    ['versym', addr.versym, nsyms * 2], ['verneed', addr.verneed, verneedSize], ['rela', addr.rela, relasz], ['jmprel', addr.jmprel, pltrelsz],
  ].sort((x, y) => x[1] - y[1])
  for (let i = 0; i < tables.length; i++) {
    const [name, at, size] = tables[i]
    const next = i + 1 < tables.length ? tables[i + 1][1] : segEnd
    if (at + size > next) throw new Error(`unexpected layout of the dynamic tables at ${name} (0x${at.toString(16)}, ${size} bytes, next at 0x${next.toString(16)})`)
  }
  for (const p of phdrs) {
    if (p === seg || p.type === PT_PHDR || !p.memsz) continue
    if (p.vaddr < segEnd && p.vaddr + p.memsz > addr.hash && p.vaddr >= seg.vaddr) throw new Error(`a segment (type ${p.type}) lies among the dynamic tables`)
  }
  if (phoff < off(segEnd) && phoff + phdrs.length * entsize > off(addr.hash)) throw new Error('the program headers lie among the dynamic tables')

  const str = (o) => cString(b, off(addr.str) + o)
  const symAt = (i) => off(addr.sym) + i * SYM
  const referenced = new Set()
  const relocs = (start, size) => {
    const out = []
    for (let at = off(start); at < off(start) + size; at += RELA) out.push(at)
    return out
  }
  const relas = [...relocs(addr.rela, relasz), ...relocs(addr.jmprel, pltrelsz)]
  for (const at of relas) referenced.add(Number(b.readBigUInt64LE(at + 8) >> 32n))

  const keep = [0]
  let dropped = 0
  for (let i = 1; i < nsyms; i++) {
    const undefinedSym = b.readUInt16LE(symAt(i) + 6) === 0
    if (i < symoffset || undefinedSym || referenced.has(i) || !drop(str(b.readUInt32LE(symAt(i))))) keep.push(i)
    else dropped++
  }
  // the new order: the unhashed ones first, as they were, then the hashed ones by bucket
  const unhashed = keep.filter((i) => i < symoffset)
  const hashed = keep.filter((i) => i >= symoffset).map((i) => ({ i, hash: gnuHash(str(b.readUInt32LE(symAt(i)))) }))
  const newBuckets = Math.max(1, hashed.length >> 2) | 1
  hashed.sort((x, y) => x.hash % newBuckets - y.hash % newBuckets || x.i - y.i)
  const order = [...unhashed, ...hashed.map((x) => x.i)]
  const index = new Map(order.map((old, n) => [old, n]))

  // the new string table: the kept names, then what the dynamic section and versions name
  const strings = [Buffer.from([0])]
  let strLen = 1
  const stringIndex = new Map([['', 0]])
  const intern = (s) => {
    let at = stringIndex.get(s)
    if (at === undefined) {
      at = strLen
      stringIndex.set(s, at)
      const bytes = Buffer.from(`${s}\0`, 'latin1')
      strings.push(bytes)
      strLen += bytes.length
    }
    return at
  }
  const syms = Buffer.alloc(order.length * SYM)
  const versym = Buffer.alloc(order.length * 2)
  order.forEach((old, n) => {
    b.copy(syms, n * SYM, symAt(old), symAt(old) + SYM)
    const name = b.readUInt32LE(symAt(old))
    syms.writeUInt32LE(name === 0 ? 0 : intern(str(name)), n * SYM)
    versym.writeUInt16LE(b.readUInt16LE(off(addr.versym) + old * 2), n * 2)
  })
  const verneed = Buffer.from(b.subarray(off(addr.verneed), off(addr.verneed) + verneedSize))
  for (let at = 0, k = 0; k < verneedNum; k++) {
    verneed.writeUInt32LE(intern(str(verneed.readUInt32LE(at + 4))), at + 4)
    let a = at + verneed.readUInt32LE(at + 8)
    for (let j = 0; j < verneed.readUInt16LE(at + 2); j++) {
      verneed.writeUInt32LE(intern(str(verneed.readUInt32LE(a + 8))), a + 8)
      a += verneed.readUInt32LE(a + 12)
    }
    at += verneed.readUInt32LE(at + 12)
  }
  const stringValues = dynamic.filter((e) => STRING_TAGS.has(e.tag)).map((e) => ({ e, at: intern(str(e.val)) }))
  const strtab = Buffer.concat(strings)
  const remap = (start, size) => {
    const out = Buffer.from(b.subarray(off(start), off(start) + size))
    for (let at = 0; at < size; at += RELA) {
      const info = out.readBigUInt64LE(at + 8)
      const sym = Number(info >> 32n)
      if (sym === 0) continue
      out.writeBigUInt64LE((BigInt(index.get(sym)) << 32n) | (info & 0xffffffffn), at + 8)
    }
    return out
  }
  const hashTable = gnuHashTable(hashed.map((x) => x.hash), unhashed.length)
  if (hashTable.readUInt32LE(0) !== newBuckets) throw new Error('hash table size disagrees with the symbol order')

  // lay them out from the hash table's address on, each aligned as before
  const parts = [['hash', hashTable, 8], ['sym', syms, 8], ['str', strtab, 1], ['versym', versym, 2], ['verneed', verneed, 8], ['rela', remap(addr.rela, relasz), 8], ['jmprel', remap(addr.jmprel, pltrelsz), 8]]
  const placed = new Map()
  let cursor = addr.hash
  const region = Buffer.alloc(segEnd - addr.hash)
  for (const [name, bytes, align] of parts) {
    cursor = Math.ceil(cursor / align) * align
    bytes.copy(region, cursor - addr.hash)
    placed.set(name, cursor)
    cursor += bytes.length
  }
  const newEnd = cursor
  if (newEnd > segEnd) throw new Error('the rewritten tables would not fit where the old ones were')
  const out = Buffer.from(b)
  region.copy(out, off(addr.hash))
  const tagOf = { hash: DT.GNU_HASH, sym: DT.SYMTAB, str: DT.STRTAB, versym: DT.VERSYM, verneed: DT.VERNEED, rela: DT.RELA, jmprel: DT.JMPREL }
  for (const e of dynamic) {
    const name = Object.keys(tagOf).find((k) => tagOf[k] === e.tag)
    if (name) out.writeBigUInt64LE(BigInt(placed.get(name)), e.at + 8)
    if (e.tag === DT.STRSZ) out.writeBigUInt64LE(BigInt(strtab.length), e.at + 8)
  }
  for (const { e, at } of stringValues) out.writeBigUInt64LE(BigInt(at), e.at + 8)

  // the freed pages at the segment's end leave the file
  const fs = off(Math.ceil(newEnd / PAGE) * PAGE)
  const fe = off(Math.ceil(segEnd / PAGE) * PAGE)
  const next = phdrs.map((p) => {
    if (p === seg) return { ...p, filesz: newEnd - seg.vaddr, memsz: newEnd - seg.vaddr }
    return p.off >= fe ? { ...p, off: p.off - (fe - fs) } : p
  })
  for (const p of phdrs) if (p !== seg && p.filesz && p.off < fe && p.off + p.filesz > fs) throw new Error(`a segment (type ${p.type}) overlaps the freed pages`)
  const bytes = withoutFileRange(out, fs, Math.max(fs, fe), next)
  return { bytes, kept: order.length, dropped, saved: b.length - bytes.length }
}

/** A reader of the executable's dynamic symbols, as the dynamic linker finds them: `names` in
 * table order, `lookup(name)` through the GNU hash table (bloom filter, bucket, chain), the
 * symbol's index or -1. For tests and checks. */
export function dynamicSymbols(b) {
  checkElf(b)
  const { phdrs } = readPhdrs(b)
  const dynamic = readDynamic(b, phdrs)
  const val = (tag) => dynamic.find((e) => e.tag === tag)?.val
  const off = (a) => {
    const p = phdrs.find((p) => p.type === PT_LOAD && a >= p.vaddr && a < p.vaddr + p.filesz)
    if (!p) throw new Error(`address 0x${a.toString(16)} is not in the file`)
    return p.off + (a - p.vaddr)
  }
  const h = off(val(DT.GNU_HASH))
  const { nbuckets, symoffset, maskwords, shift, buckets, chain, nsyms } = readGnuHash(b, h)
  const sym = off(val(DT.SYMTAB))
  const str = off(val(DT.STRTAB))
  const names = []
  for (let i = 0; i < nsyms; i++) names.push(cString(b, str + b.readUInt32LE(sym + i * SYM)))
  const lookup = (name) => {
    const hash = gnuHash(name)
    const word = b.readBigUInt64LE(h + 16 + (Math.floor(hash / 64) % maskwords) * 8)
    if (!((word >> BigInt(hash % 64)) & (word >> BigInt((hash >>> shift) % 64)) & 1n)) return -1
    let i = b.readUInt32LE(buckets + (hash % nbuckets) * 4)
    if (i === 0) return -1
    for (;; i++) {
      const c = b.readUInt32LE(chain + (i - symoffset) * 4)
      if ((c | 1) >>> 0 === (hash | 1) >>> 0 && names[i] === name) return i
      if (c & 1) return -1
    }
  }
  return { names, symoffset, lookup }
}

// ---- Node's own environment variables, out before Node reads them ---------------------------
//
// Node reads some NODE_* variables in C++ as it starts, before any of modload's JavaScript
// runs, and a few of them end or hang it: NODE_ICU_DATA (exit 9: the ICU data it would load
// instead is cut out), NODE_REPL_EXTERNAL_MODULE (exit 9 in an executable that reads no
// NODE_OPTIONS), NODE_COMPILE_CACHE and NODE_V8_COVERAGE naming a directory it cannot use (a
// loop). As /init its environment is whatever words of the kernel command line look like
// NAME=VALUE, and PID 1 ending panics the kernel. None of them means anything to modload, so a
// few instructions at the executable's entry point drop every NODE_* entry from the process's
// environment (the pointer array above argv on the initial stack: later entries move down, the
// freed slots become NULL, so the array still ends where the auxiliary vector's reader expects)
// and jump to the entry point Node had. ld.so has run by then (it jumps here), and glibc's
// environ is that same array. They live in the spare tail of the segment that holds the program
// headers (postject's, readable and executable), which nothing else uses.

const STUB_PREFIX = 'NODE_'

/** The stub's code for a jump to `entry` from `at` (x86-64; hand-assembled, see the comments). */
export function entryStub(at, entry) {
  const code = []
  const labels = {}
  const fixups = []
  const emit = (...bytes) => code.push(...bytes)
  const jcc = (op, label) => {
    emit(op, 0)
    fixups.push({ at: code.length - 1, label })
  }
  const label = (name) => (labels[name] = code.length)
  const name = Buffer.from(STUB_PREFIX.slice(0, 4), 'latin1')
  emit(0x48, 0x8b, 0x0c, 0x24) //                mov  rcx, [rsp]              argc
  emit(0x48, 0x8d, 0x74, 0xcc, 0x10) //          lea  rsi, [rsp+rcx*8+16]     envp
  emit(0x48, 0x89, 0xf7) //                      mov  rdi, rsi                where kept entries go
  label('next')
  emit(0x48, 0x8b, 0x06) //                      mov  rax, [rsi]
  emit(0x48, 0x83, 0xc6, 0x08) //                add  rsi, 8
  emit(0x48, 0x85, 0xc0) //                      test rax, rax
  jcc(0x74, 'end') //                            jz   end                     the array's NULL
  emit(0x81, 0x38, ...name) //                   cmp  dword [rax], "NODE"     (a string, its NUL and
  jcc(0x75, 'keep') //                           jne  keep                     argv[0]'s follow it)
  emit(0x80, 0x78, 0x04, STUB_PREFIX.charCodeAt(4)) // cmp byte [rax+4], '_'
  jcc(0x74, 'next') //                           je   next                    dropped
  label('keep')
  emit(0x48, 0x89, 0x07) //                      mov  [rdi], rax
  emit(0x48, 0x83, 0xc7, 0x08) //                add  rdi, 8
  jcc(0xeb, 'next') //                           jmp  next
  label('end') //                                rax = 0
  emit(0x48, 0x39, 0xf7) //                      cmp  rdi, rsi
  jcc(0x73, 'done') //                           jae  done
  emit(0x48, 0x89, 0x07) //                      mov  [rdi], rax              NULL
  emit(0x48, 0x83, 0xc7, 0x08) //                add  rdi, 8
  jcc(0xeb, 'end') //                            jmp  end
  label('done')
  emit(0xe9, 0, 0, 0, 0) //                      jmp  entry
  for (const f of fixups) {
    const rel = labels[f.label] - (f.at + 1)
    if (rel < -128 || rel > 127) throw new Error(`entry stub: ${f.label} out of a short jump's reach`)
    code[f.at] = rel & 0xff
  }
  const out = Buffer.from(code)
  const rel = entry - (at + out.length)
  if (rel < -(2 ** 31) || rel >= 2 ** 31) throw new Error('entry stub: the entry point is out of a near jump\'s reach')
  out.writeInt32LE(rel, out.length - 4)
  return out
}

/** The executable with the stub above as its entry point. Pure; refuses a layout it was not
 * written for (no program header segment, no zero tail, already done). */
export function dropNodeEnvironment(b) {
  checkElf(b)
  if (b.readUInt16LE(0x12) !== 62) throw new Error('not an x86-64 executable')
  const { phoff, entsize, phdrs } = readPhdrs(b)
  const entry = Number(b.readBigUInt64LE(0x18))
  const seg = phdrs.find((p) => p.type === PT_LOAD && phoff >= p.off && phoff + phdrs.length * entsize <= p.off + p.filesz)
  if (!seg) throw new Error('the program headers are not in a loaded segment')
  if (!(seg.flags & 1) || seg.flags & 2) throw new Error('the program headers\' segment is not read-only and executable')
  if (entry >= seg.vaddr && entry < seg.vaddr + seg.memsz) throw new Error('the entry point is already in the program headers\' segment')
  const size = entryStub(0, 0).length
  const end = seg.off + seg.filesz
  const off = (end - size) & ~15
  // room for two more program headers (cutPages adds one per cut) before the stub
  if (off < phoff + (phdrs.length + 2) * entsize || !b.subarray(off, end).every((x) => x === 0)) throw new Error('no zero tail for the entry stub in the program headers\' segment')
  const at = seg.vaddr + (off - seg.off)
  const out = Buffer.from(b)
  entryStub(at, entry).copy(out, off)
  out.writeBigUInt64LE(BigInt(at), 0x18)
  return out
}
