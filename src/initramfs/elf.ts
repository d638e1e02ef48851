// A minimal ELF64 little-endian reader: the program interpreter and the DT_NEEDED libraries
// of an executable or shared object, which is what the initramfs builder needs to copy a
// dynamically linked program with everything it loads. Pure: bytes in, data out.

export interface ElfDeps {
  interpreter: string | null
  needed: string[]
}

const PT_INTERP = 3
const PT_DYNAMIC = 2
const PT_LOAD = 1
const DT_NEEDED = 1
const DT_STRTAB = 5

export class ElfError extends Error {
  constructor(readonly file: string, what: string) {
    super(`${file}: ${what}`)
    this.name = 'ElfError'
  }
}

export function readElfDeps(bytes: Uint8Array, file = '<elf>'): ElfDeps {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) throw new ElfError(file, 'not an ELF file')
  if (b[4] !== 2 || b[5] !== 1) throw new ElfError(file, 'not a 64-bit little-endian ELF file')
  const phoff = Number(b.readBigUInt64LE(0x20))
  const phentsize = b.readUInt16LE(0x36)
  const phnum = b.readUInt16LE(0x38)
  let interpreter: string | null = null
  let dyn: { off: number; size: number } | null = null
  const loads: { vaddr: number; off: number; filesz: number }[] = []
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize
    const type = b.readUInt32LE(p)
    const off = Number(b.readBigUInt64LE(p + 8))
    const vaddr = Number(b.readBigUInt64LE(p + 16))
    const filesz = Number(b.readBigUInt64LE(p + 32))
    if (type === PT_INTERP) interpreter = b.toString('latin1', off, off + filesz).replace(/\0+$/, '')
    else if (type === PT_DYNAMIC) dyn = { off, size: filesz }
    else if (type === PT_LOAD) loads.push({ vaddr, off, filesz })
  }
  if (!dyn) return { interpreter, needed: [] }
  const vaddrToOff = (v: number): number => {
    for (const l of loads) if (v >= l.vaddr && v < l.vaddr + l.filesz) return v - l.vaddr + l.off
    throw new ElfError(file, `address 0x${v.toString(16)} is in no loadable segment`)
  }
  const neededOffs: number[] = []
  let strtab = -1
  for (let p = dyn.off; p + 16 <= dyn.off + dyn.size; p += 16) {
    const tag = Number(b.readBigInt64LE(p))
    const val = Number(b.readBigUInt64LE(p + 8))
    if (tag === 0) break
    if (tag === DT_NEEDED) neededOffs.push(val)
    else if (tag === DT_STRTAB) strtab = vaddrToOff(val)
  }
  if (neededOffs.length && strtab < 0) throw new ElfError(file, 'DT_NEEDED without DT_STRTAB')
  const needed = neededOffs.map((o) => {
    const start = strtab + o
    const end = b.indexOf(0, start)
    return b.toString('latin1', start, end)
  })
  return { interpreter, needed }
}
