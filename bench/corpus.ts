// The alias corpus for the differential tests and the benchmark: strings a loader is asked
// to resolve, derived from a kernel's own indexes, deterministic for a given tree and seed.
//   - every modules.alias pattern filled in: '*' empty, '?' and [sets] their first choice
//   - every other pattern filled at random ('*' 1-8 hex digits, random set members)
//   - near misses: one filled string with one character changed, cut short or extended
//   - '-'/'_' swapped in strings and module names (kmod treats them alike outside [...])
//   - strings carrying bracket expressions, balanced and not (kmod rejects unbalanced ones)
//   - every module name, built-in name and built-in alias; symbol:NAME strings and misses
//   - modalias strings of the QEMU machines the tests boot (typical q35/i440fx/virtio IDs)
import { parseModulesAlias } from '../src/format/modules-alias.js'
import { parseModulesDep } from '../src/format/modules-dep.js'
import { parseModuleList } from '../src/format/modules-builtin.js'
import { builtinAliases, parseBuiltinModinfo } from '../src/format/modules-builtin-modinfo.js'

/** Modalias strings of devices QEMU presents (PCI, virtio, ACPI, USB, input, CPU features). */
export const QEMU_MODALIASES: readonly string[] = [
  'pci:v00008086d000029C0sv00001AF4sd00001100bc06sc00i00',
  'pci:v00008086d00002918sv00001AF4sd00001100bc06sc01i00',
  'pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01',
  'pci:v00008086d00002930sv00001AF4sd00001100bc0Csc05i00',
  'pci:v00008086d00001237sv00001AF4sd00001100bc06sc00i00',
  'pci:v00008086d00007000sv00001AF4sd00001100bc06sc01i00',
  'pci:v00008086d00007010sv00001AF4sd00001100bc01sc01i80',
  'pci:v00008086d00007113sv00001AF4sd00001100bc06sc80i00',
  'pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00',
  'pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00',
  'pci:v00008086d00002934sv00001AF4sd00001100bc0Csc03i00',
  'pci:v00008086d0000293Asv00001AF4sd00001100bc0Csc03i20',
  'pci:v00001234d00001111sv00001AF4sd00001100bc03sc00i00',
  'pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30',
  'pci:v00001B36d00000008sv00001AF4sd00001100bc06sc00i00',
  'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00',
  'pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00',
  'pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00',
  'pci:v00001AF4d00001042sv00001AF4sd00001100bc01sc00i00',
  'pci:v00001AF4d00001043sv00001AF4sd00001100bc07sc80i00',
  'pci:v00001AF4d00001044sv00001AF4sd00001100bc00scFFi00',
  'pci:v00001AF4d00001045sv00001AF4sd00001100bc00scFFi00',
  'pci:v00001AF4d00001048sv00001AF4sd00001100bc01sc00i00',
  'pci:v00001AF4d00001050sv00001AF4sd00001100bc03sc80i00',
  'virtio:d00000001v00001AF4',
  'virtio:d00000002v00001AF4',
  'virtio:d00000003v00001AF4',
  'virtio:d00000004v00001AF4',
  'virtio:d00000005v00001AF4',
  'virtio:d00000008v00001AF4',
  'virtio:d00000010v00001AF4',
  'virtio:d00000012v00001AF4',
  'virtio:d0000001Av00001AF4',
  'acpi:PNP0A08:PNP0A03:',
  'acpi:PNP0A03:',
  'acpi:PNP0B00:',
  'acpi:PNP0303:',
  'acpi:PNP0F13:',
  'acpi:PNP0501:',
  'acpi:PNP0700:',
  'acpi:PNP0400:',
  'acpi:PNP0103:',
  'acpi:QEMU0002:',
  'acpi:ACPI0006:',
  'acpi:ACPI0007:',
  'acpi:ACPI0010:',
  'acpi:LNXCPU:',
  'acpi:LNXPWRBN:',
  'acpi:LNXSYSTM:',
  'acpi:LNXSYBUS:',
  'acpi:PNP0C0F:',
  'acpi:PNP0C09:',
  'acpi:QEMUVGID:',
  'platform:serial8250',
  'platform:i8042',
  'platform:pcspkr',
  'platform:rtc_cmos',
  'platform:efi-framebuffer',
  'platform:intel_rapl_msr',
  'platform:Fixed MDIO bus',
  'serio:ty01pr00id00ex00',
  'serio:ty01pr00id00ex00',
  'input:b0011v0001p0001eAB41-e0,1,4,11,14,k71,72,73,74,75,76,77,79,7A,7B,7C,7D,7E,7F,80,8C,8E,8F,9B,9C,9D,9E,9F,A3,A4,A5,A6,AC,AD,B7,B8,B9,D9,E2,ram4,l0,1,2,sfw',
  'input:b0011v0002p0006e0000-e0,1,2,k110,111,112,r0,1,amlsfw',
  'input:b0019v0000p0001e0000-e0,1,k74,ramlsfw',
  'input:b0003v0627p0001e0001-e0,1,2,3,4,k110,111,112,r8,B,am0,1,28,lsfw',
  'usb:v1D6Bp0002d0606dc09dsc00dp01ic09isc00ip00in00',
  'usb:v1D6Bp0003d0606dc09dsc00dp03ic09isc00ip00in00',
  'usb:v0627p0001d0000dc00dsc00dp00ic03isc00ip00in00',
  'usb:v0627p0001d0000dc00dsc00dp00ic03isc01ip02in00',
  'usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00',
  'hid:b0003g0001v00000627p00000001',
  'scsi:t-0x00',
  'scsi:t-0x05',
  'cpu:type:x86,ven0000fam0006mod003F:feature:,0000,0001,0002,0003,0004,0005,0006,0007,0008,0009,000B,000C,000D,000E,000F,0010,0011,0013,0017,0018,0019,001A,001B,001C,002B,0034,003A,003B,003D,0068,006F,0070,0072,0074,0075,0076,0079,0080,0081,0083,0089,008C,008D,0091,0093,0094,0095,0096,0097,0099,009A,00C0,00C8,00E1,00E7,00EB,00F3,0100,0103,0120,0123,0125,0127,0128,0129,012A,0140,0160,0161,0162,0163,0164,0165,01C0,01C1,01C2,01C4,01C5,01C6,024A,025A',
  'cpu:type:x86,ven0002fam0017mod0031:feature:,0000,0001,0002,0003,0004,0005,0006,0007,0008,0009,000B,000C,000D,000E,000F,0010,0011,0013,0017,0018,0019,001A,001B,001C,0020,0023,0024,0025,0034,003A,003D,0068,006F,0070,0072,0074,0075,0076,0079,0080,0081,0083,0089,008C,008D,0091,0093,0094,0095,0096,0097,0099,009A,00C0,00C1,00C2,00C6,00C8,00E1,00E7,00EB,00F3',
  'dmi:bvnSeaBIOS:bvr1.16.2-debian-1.16.2-1:bd04/01/2014:br0.0:svnQEMU:pnStandardPC(Q35+ICH9,2009):pvrpc-q35-7.2:cvnQEMU:ct1:cvrpc-q35-7.2:sku:',
  'dmi:bvnSeaBIOS:bvr1.16.2-debian-1.16.2-1:bd04/01/2014:br0.0:svnQEMU:pnStandardPC(i440FX+PIIX,1996):pvrpc-i440fx-7.2:cvnQEMU:ct1:cvrpc-i440fx-7.2:sku:',
  'fs-ext4',
  'fs-vfat',
  'fs-iso9660',
  'crypto-crc32c',
  'crypto-sha256',
  'char-major-10-237',
  'block-major-8-0',
  'net-pf-10',
  'nls_cp437',
]

/** mulberry32: a small seeded PRNG, so a corpus is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const HEX = '0123456789ABCDEF'

/** Members of a bracket expression body (no classes needed for real alias patterns). */
function setMembers(body: string): string[] {
  const negate = body[0] === '!' || body[0] === '^'
  const b = negate ? body.slice(1) : body
  const members: string[] = []
  for (let i = 0; i < b.length; i++) {
    if (b[i + 1] === '-' && i + 2 < b.length) {
      for (let c = b.charCodeAt(i); c <= b.charCodeAt(i + 2); c++) members.push(String.fromCharCode(c))
      i += 2
    } else members.push(b[i])
  }
  if (!negate) return members
  const out: string[] = []
  for (const c of 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ') if (!members.includes(c)) out.push(c)
  return out
}

/** A string the pattern matches: random fills when rand is given, else the minimal one. */
export function fill(pattern: string, rand?: () => number): string {
  let out = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '*') {
      if (rand) {
        const n = Math.floor(rand() * 9)
        for (let k = 0; k < n; k++) out += HEX[Math.floor(rand() * 16)]
      }
    } else if (c === '?') out += rand ? HEX[Math.floor(rand() * 16)] : '0'
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2)
      if (close < 0) {
        out += c
        continue
      }
      const m = setMembers(pattern.slice(i + 1, close))
      out += m.length === 0 ? 'x' : rand ? m[Math.floor(rand() * m.length)] : m[0]
      i = close
    } else if (c === '\\' && i + 1 < pattern.length) out += pattern[++i]
    else out += c
  }
  return out
}

function nearMiss(s: string, rand: () => number): string {
  if (s.length === 0) return 'x'
  const i = Math.floor(rand() * s.length)
  switch (Math.floor(rand() * 3)) {
    case 0: {
      const c = s[i]
      const r = /[0-9A-F]/.test(c) ? HEX[(HEX.indexOf(c) + 1) % 16] : c === 'x' ? 'y' : 'x'
      return s.slice(0, i) + r + s.slice(i + 1)
    }
    case 1:
      return s.slice(0, Math.max(1, s.length - 1 - Math.floor(rand() * 3)))
    default:
      return s + HEX[Math.floor(rand() * 16)]
  }
}

function swapDashes(s: string): string {
  return s.includes('_') ? s.replaceAll('_', '-') : s.replaceAll('-', '_')
}

export interface CorpusTexts {
  alias?: string
  dep: string
  symbols?: string
  builtin?: string
  builtinModinfo?: string
}

export interface CorpusOptions {
  seed?: number
  /** keep only every Nth derived string of each kind (1: all) */
  every?: number
}

export function buildCorpus(texts: CorpusTexts, opts: CorpusOptions = {}): string[] {
  const rand = rng(opts.seed ?? 1)
  const every = opts.every ?? 1
  const out = new Set<string>()
  const add = (s: string): void => {
    if (s.length > 0 && !s.includes('\n') && !s.includes('\t')) out.add(s)
  }
  const aliases = texts.alias ? parseModulesAlias(texts.alias) : []
  aliases.forEach((e, i) => {
    if (i % every !== 0) return
    const minimal = fill(e.pattern)
    add(minimal)
    if (i % 2 === 0) add(fill(e.pattern, rand))
    if (i % 4 === 1) add(nearMiss(minimal, rand))
    if (i % 8 === 3 && /[-_]/.test(minimal)) add(swapDashes(minimal))
    if (i % 64 === 5) {
      // bracket expressions in the looked-up string: balanced (kept literally) and not
      add(minimal.slice(0, 6) + '[0-9]' + minimal.slice(6))
      add(minimal + '[')
      add(']' + minimal)
    }
  })
  const modules = [...parseModulesDep(texts.dep).keys()]
  modules.forEach((m, i) => {
    if (i % every !== 0) return
    add(m)
    if (i % 2 === 0) add(swapDashes(m))
  })
  for (const b of texts.builtin ? parseModuleList(texts.builtin) : []) {
    add(b)
    add(swapDashes(b))
  }
  if (texts.builtinModinfo) {
    for (const e of builtinAliases(parseBuiltinModinfo(texts.builtinModinfo))) {
      add(fill(e.pattern))
      add(fill(e.pattern, rand))
    }
  }
  const symbols = texts.symbols ? parseModulesAlias(texts.symbols, 'modules.symbols') : []
  symbols.forEach((e, i) => {
    if (i % (7 * every) !== 0) return
    add(e.pattern)
    add(nearMiss(e.pattern, rand))
  })
  for (const q of QEMU_MODALIASES) add(q)
  for (const junk of ['', 'x', ':', '*', '?', '[', ']', '[a-]', 'pci:*', 'usb:v*', 'symbol:', 'alias', 'a-b_c']) add(junk)
  return [...out]
}
