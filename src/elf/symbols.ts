// The symbols a module exports and the ones it needs, read as libkmod reads them for depmod
// (kmod_elf_get_symbols, kmod_elf_get_dependency_symbols).
//
// Exports: every .symtab symbol named "__crc_NAME" gives NAME, its CRC being the u32 the symbol
// points at (st_value is an offset into section st_shndx; SHN_ABS/SHN_UNDEF: st_value itself).
// A module without such symbols (built without MODVERSIONS, or without .symtab) falls back to
// the names in __ksymtab_strings, CRC 0.
// Needs: every .symtab symbol with st_shndx == SHN_UNDEF and a name, in table order, CRC from
// __versions (entries of 64 bytes: u32/u64 CRC, then the NUL-padded name); then the __versions
// entries that no undefined symbol named (module_layout), in their order.
// Elf32_Sym: name u32 @0, value u32 @4, size u32 @8, info u8 @12, other @13, shndx u16 @14 (16 B).
// Elf64_Sym: name u32 @0, info u8 @4, other @5, shndx u16 @6, value u64 @8, size u64 @16 (24 B).
import { EM_SPARC, EM_SPARCV9, cString, findSection, readUint, sectionStrings, type Elf, type ElfSection } from './elf.js'
import { ModuleFormatError } from './errors.js'

export interface ExportedSymbol {
  name: string
  crc: number
}

export interface NeededSymbol {
  name: string
  crc: number
  weak: boolean
}

const SHN_UNDEF = 0
const SHN_ABS = 0xfff1
const STB_WEAK = 2
const STT_REGISTER = 13
const CRC_PREFIX = '__crc_'
const MODVERSION_SIZE = 64

interface Sym {
  name: number
  info: number
  shndx: number
  value: number
}

function symbolTable(elf: Elf): { symtab: ElfSection; strtab: ElfSection; entsize: number } | undefined {
  const strtab = findSection(elf, '.strtab')
  const symtab = findSection(elf, '.symtab')
  if (!strtab || !symtab) return undefined
  const entsize = elf.is64 ? 24 : 16
  if (symtab.size % entsize !== 0) return undefined
  return { symtab, strtab, entsize }
}

function readSym(elf: Elf, off: number): Sym {
  return elf.is64
    ? { name: readUint(elf, off, 4), info: readUint(elf, off + 4, 1), shndx: readUint(elf, off + 6, 2), value: readUint(elf, off + 8, 8) }
    : { name: readUint(elf, off, 4), value: readUint(elf, off + 4, 4), info: readUint(elf, off + 12, 1), shndx: readUint(elf, off + 14, 2) }
}

function resolveCrc(elf: Elf, crc: number, shndx: number): number {
  if (shndx === SHN_ABS || shndx === SHN_UNDEF) return crc
  const sec = shndx < elf.sections.length ? elf.sections[shndx] : null
  // kmod answers (uint64_t)-1 for a CRC it cannot find; only equality with other CRCs matters
  if (!sec || crc > sec.size - 4) return -1
  return readUint(elf, sec.offset + crc, 4)
}

/** Symbols the module exports. */
export function exportedSymbols(elf: Elf): ExportedSymbol[] {
  const t = symbolTable(elf)
  if (t) {
    const out: ExportedSymbol[] = []
    let bad = false
    for (let off = t.symtab.offset + t.entsize; off < t.symtab.offset + t.symtab.size; off += t.entsize) {
      const s = readSym(elf, off)
      if (s.name >= t.strtab.size) {
        bad = true
        break
      }
      const name = cString(elf.bytes, t.strtab.offset + s.name)
      if (!name.startsWith(CRC_PREFIX)) continue
      out.push({ name: name.slice(CRC_PREFIX.length), crc: resolveCrc(elf, s.value, s.shndx) })
    }
    if (!bad && out.length > 0) return out
  }
  const ks = findSection(elf, '__ksymtab_strings')
  if (!ks) throw new ModuleFormatError(elf.file, 'ENOENT', 'no exported symbols')
  return sectionStrings(elf, ks).map((name) => ({ name, crc: 0 }))
}

/** The __versions table: symbol name -> [entry index, CRC]. */
function versions(elf: Elf): { names: string[]; crcs: number[] } {
  const sec = findSection(elf, '__versions')
  if (!sec || sec.size % MODVERSION_SIZE !== 0) return { names: [], crcs: [] }
  const crcSize = elf.is64 ? 8 : 4
  const names: string[] = []
  const crcs: number[] = []
  for (let off = sec.offset; off < sec.offset + sec.size; off += MODVERSION_SIZE) {
    crcs.push(readUint(elf, off, crcSize))
    names.push(cString(elf.bytes, off + crcSize))
  }
  return { names, crcs }
}

/** Symbols the module needs from the kernel or other modules. Throws EINVAL without .symtab. */
export function neededSymbols(elf: Elf): NeededSymbol[] {
  const t = symbolTable(elf)
  if (!t) throw new ModuleFormatError(elf.file, 'EINVAL', 'no usable .symtab/.strtab')
  const ver = versions(elf)
  const firstIndex = new Map<string, number>()
  ver.names.forEach((n, i) => {
    if (!firstIndex.has(n)) firstIndex.set(n, i)
  })
  const visited = new Uint8Array(ver.names.length)
  const sparc = elf.machine === EM_SPARC || elf.machine === EM_SPARCV9
  const out: NeededSymbol[] = []
  for (let off = t.symtab.offset + t.entsize; off < t.symtab.offset + t.symtab.size; off += t.entsize) {
    const s = readSym(elf, off)
    if (s.shndx !== SHN_UNDEF) continue
    if (sparc && (s.info & 0xf) === STT_REGISTER) continue
    if (s.name >= t.strtab.size) throw new ModuleFormatError(elf.file, 'EINVAL', `symbol name offset ${s.name} outside .strtab`)
    const name = cString(elf.bytes, t.strtab.offset + s.name)
    if (name === '') continue
    const idx = firstIndex.get(name)
    if (idx !== undefined) visited[idx] = 1
    out.push({ name, crc: idx === undefined ? 0 : ver.crcs[idx], weak: s.info >> 4 === STB_WEAK })
  }
  for (let i = 0; i < ver.names.length; i++) {
    if (!visited[i]) out.push({ name: ver.names[i], crc: ver.crcs[i], weak: false })
  }
  return out
}
