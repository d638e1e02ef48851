// The section table of a kernel module's ELF image (relocatable object, 32 or 64 bit, either
// byte order), read with the same checks and tolerances as libkmod's libkmod-elf.c, so that a
// module kmod rejects is rejected here with the same errno and one kmod reads is read the same.
//
// Layout used (ELF gABI):
//   e_ident[0..3] = 7F 'E' 'L' 'F', e_ident[4] class (1 = 32, 2 = 64), e_ident[5] data
//   (1 = little, 2 = big endian). Header fields (32/64-bit offsets):
//     e_machine 18/18 (u16), e_shoff 32/40 (u32/u64), e_shentsize 46/58, e_shnum 48/60,
//     e_shstrndx 50/62 (all u16).
//   Section header (40/64 bytes): sh_name 0 (u32), sh_offset 16/24, sh_size 20/32 (u32/u64).
// A section whose [offset, offset+size) runs past the file is skipped, as kmod skips it (SHT_NOBITS
// sections such as .bss can be like that); the section-name table must exist and end with NUL.
// Strings are decoded as latin1 so every byte survives; printing turns them into UTF-8.
import { ModuleFormatError } from './errors.js'

export interface ElfSection {
  index: number
  /** null when sh_name points outside the section-name table */
  name: string | null
  offset: number
  size: number
}

export interface Elf {
  file: string
  bytes: Uint8Array
  view: DataView
  is64: boolean
  little: boolean
  machine: number
  /** indexed by section number; null for index 0 and for headers pointing outside the file */
  sections: (ElfSection | null)[]
}

export const EM_SPARC = 2
export const EM_SPARCV9 = 43

const EI_NIDENT = 16
const EHDR_SIZE = { 32: 52, 64: 64 } as const
const SHDR_SIZE = { 32: 40, 64: 64 } as const

/** Read an unsigned integer of `size` bytes (1, 2, 4 or 8) at `off`. */
export function readUint(elf: Pick<Elf, 'view' | 'little'>, off: number, size: number): number {
  const v = elf.view
  switch (size) {
    case 1:
      return v.getUint8(off)
    case 2:
      return v.getUint16(off, elf.little)
    case 4:
      return v.getUint32(off, elf.little)
    default:
      return Number(v.getBigUint64(off, elf.little))
  }
}

/** The NUL-terminated string at `off` (to the end of the buffer if there is no NUL), as latin1. */
export function cString(bytes: Uint8Array, off: number, end = bytes.length): string {
  let i = off
  while (i < end && bytes[i] !== 0) i++
  return latin1(bytes, off, i)
}

export function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', start, end)
}

/** Parse the ELF header and section table. Throws ModuleFormatError (ENOEXEC, EINVAL) as kmod fails. */
export function parseElf(bytes: Uint8Array, file: string): Elf {
  const size = bytes.length
  if (size <= EI_NIDENT || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ModuleFormatError(file, 'ENOEXEC', 'not an ELF file')
  }
  const cls = bytes[4] === 1 ? 32 : bytes[4] === 2 ? 64 : 0
  if (cls === 0) throw new ModuleFormatError(file, 'EINVAL', `unknown ELF class ${bytes[4]}`)
  if (size <= EHDR_SIZE[cls]) throw new ModuleFormatError(file, 'EINVAL', 'file too short for an ELF header')
  if (bytes[5] !== 1 && bytes[5] !== 2) throw new ModuleFormatError(file, 'EINVAL', `unknown ELF byte order ${bytes[5]}`)
  const is64 = cls === 64
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const elf = { view, little: bytes[5] === 1 }
  const shoff = readUint(elf, is64 ? 40 : 32, is64 ? 8 : 4)
  const shentsize = readUint(elf, is64 ? 58 : 46, 2)
  const shnum = readUint(elf, is64 ? 60 : 48, 2)
  const shstrndx = readUint(elf, is64 ? 62 : 50, 2)
  const machine = readUint(elf, 18, 2)
  if (shentsize !== SHDR_SIZE[cls]) throw new ModuleFormatError(file, 'EINVAL', `unexpected section header size ${shentsize}`)
  if (shoff + shentsize * shnum > size) throw new ModuleFormatError(file, 'EINVAL', 'file too short for its section headers')

  const raw: { offset: number; size: number; nameoff: number }[] = []
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize
    raw.push({
      nameoff: readUint(elf, h, 4),
      offset: readUint(elf, h + (is64 ? 24 : 16), is64 ? 8 : 4),
      size: readUint(elf, h + (is64 ? 32 : 20), is64 ? 8 : 4),
    })
  }
  const names = shstrndx > 0 && shstrndx < shnum ? raw[shstrndx] : undefined
  if (!names || names.offset + names.size > size || names.size === 0 || bytes[names.offset + names.size - 1] !== 0) {
    throw new ModuleFormatError(file, 'EINVAL', 'section-name table missing or not NUL-terminated')
  }
  const sections: (ElfSection | null)[] = [null]
  for (let i = 1; i < shnum; i++) {
    const r = raw[i]
    if (r.offset + r.size > size) {
      sections.push(null)
      continue
    }
    const name = r.nameoff < names.size ? cString(bytes, names.offset + r.nameoff) : null
    sections.push({ index: i, name, offset: r.offset, size: r.size })
  }
  return { file, bytes, view, is64, little: elf.little, machine, sections }
}

/** The first section of that name, as kmod_elf_get_section finds it. */
export function findSection(elf: Elf, name: string): ElfSection | undefined {
  for (const s of elf.sections) if (s && s.name === name) return s
  return undefined
}

/**
 * The strings of a section of NUL-separated strings (.modinfo, __ksymtab_strings) as kmod
 * splits them: leading NULs skipped, runs of NULs separate, a last string without NUL kept.
 */
export function sectionStrings(elf: Elf, sec: ElfSection): string[] {
  let start = sec.offset
  const end = sec.offset + sec.size
  while (start < end - 1 && elf.bytes[start] === 0) start++
  if (end - start <= 1) return []
  const out: string[] = []
  let i = start
  while (i < end) {
    let j = i
    while (j < end && elf.bytes[j] !== 0) j++
    if (j > i) out.push(latin1(elf.bytes, i, j))
    i = j + 1
  }
  return out
}
