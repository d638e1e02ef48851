// What insmod -f / modprobe --force do to a module image before init_module(2) when the kernel
// cannot be told through finit_module's flags (kmod's kmod_elf_strip_section and
// kmod_elf_strip_vermagic): __versions loses SHF_ALLOC, so the kernel ignores the symbol
// CRCs, and the "vermagic=..." string in .modinfo is overwritten with NULs. Works on a copy.
import { findSection, parseElf, readUint } from './elf.js'

const SHF_ALLOC = 2

export interface Stripped {
  image: Uint8Array
  /** what could not be stripped (the module has no such thing), for an informational note */
  missing: string[]
}

export function stripForForce(image: Uint8Array, file: string, what: { modversions: boolean; vermagic: boolean }): Stripped {
  const out = new Uint8Array(image) // a copy (Buffer#slice would share the bytes)
  const elf = parseElf(out, file)
  const missing: string[] = []
  if (what.modversions) {
    const sec = findSection(elf, '__versions')
    if (!sec) missing.push('__versions')
    else {
      const shoff = readUint(elf, elf.is64 ? 40 : 32, elf.is64 ? 8 : 4)
      const shentsize = readUint(elf, elf.is64 ? 58 : 46, 2)
      const flagsOff = shoff + sec.index * shentsize + 8
      if (elf.is64) elf.view.setBigUint64(flagsOff, elf.view.getBigUint64(flagsOff, elf.little) & ~BigInt(SHF_ALLOC), elf.little)
      else elf.view.setUint32(flagsOff, elf.view.getUint32(flagsOff, elf.little) & ~SHF_ALLOC, elf.little)
    }
  }
  if (what.vermagic) {
    const sec = findSection(elf, '.modinfo')
    let done = false
    if (sec) {
      let start = sec.offset
      const end = sec.offset + sec.size
      while (start < end - 1 && out[start] === 0) start++
      const key = Buffer.from('vermagic=', 'latin1')
      for (let i = start; i < end && !done; i++) {
        if (out[i] === 0 || i + 1 >= end || i + key.length >= end) continue
        if (key.every((b, k) => out[i + k] === b)) {
          let j = i
          while (j < end && out[j] !== 0) out[j++] = 0
          done = true
        } else {
          while (i < end && out[i] !== 0) i++
        }
      }
    }
    if (!done) missing.push('vermagic')
  }
  return { image: out, missing }
}
