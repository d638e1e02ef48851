// The fuzz corpus: valid inputs for each target, which the generators (mutate.ts) then damage.
// Two sources: small real samples checked in under test/fuzz/corpus/TARGET/ (slices of a
// Debian kernel's indexes, a few real modules; make-corpus.ts writes them), and inputs built
// here with the project's own writers and the test fixtures' builders, which cover shapes no
// small sample has: the .bin indexes (depmod's writer over the text samples), cpio archives
// (the image writer), superblocks and partition tables, synthetic modules of every ELF layout
// (32/64-bit, either byte order, signed three ways).
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { binIndexesFromTexts } from '../../src/depmod/bin-from-text.js'
import { writeCpio, type CpioEntry } from '../../src/initramfs/cpio.js'
import { appendSignature, buildElf, modinfoSection, versionsSection, type ElfSpec } from '../fixtures/tools/elf-builder.js'
import { buildGpt } from '../fixtures/root/gpt.js'

/** test/fuzz: beside this file, or under the working directory when this file was bundled
 * elsewhere (build/run.mjs runs the long runner from .cache/run/). */
const FUZZ_DIR = ((): string => {
  const here = dirname(fileURLToPath(import.meta.url))
  return existsSync(join(here, 'corpus')) ? here : join(process.cwd(), 'test', 'fuzz')
})()
export const CORPUS_DIR = join(FUZZ_DIR, 'corpus')
export const REGRESSIONS_DIR = join(FUZZ_DIR, 'regressions')

/** The files of one directory, sorted by name (an absent directory has none). */
export function filesIn(dir: string): { name: string; data: Uint8Array }[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => d.name)
    .sort()
    .map((name) => ({ name, data: Uint8Array.from(readFileSync(join(dir, name))) }))
}

const stored = (target: string): Uint8Array[] => filesIn(join(CORPUS_DIR, target)).map((f) => f.data)
const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1')

function binIndexes(): Uint8Array[] {
  const out: Uint8Array[] = []
  const deps = stored('modules-dep').map(latin1)
  const aliases = stored('modules-alias').map(latin1)
  const symbols = stored('modules-symbols').map(latin1)
  const builtins = stored('modules-builtin').map(latin1)
  const modinfos = stored('builtin-modinfo').map(latin1)
  for (let i = 0; i < deps.length; i++) {
    const files = binIndexesFromTexts(
      {
        dep: deps[i],
        alias: aliases[i % aliases.length],
        symbols: symbols[i % symbols.length],
        builtin: builtins[i % builtins.length],
        builtinModinfo: modinfos[i % modinfos.length],
      },
      '/fuzz',
    )
    for (const f of files) out.push(f.data)
  }
  return out
}

function cpioArchives(): Uint8Array[] {
  const entries: CpioEntry[] = [
    { type: 'dir', path: '/lib' },
    { type: 'dir', path: '/lib/modules' },
    { type: 'file', path: '/lib/modules/6.1.0/modules.dep', data: () => Buffer.from('kernel/a.ko:\nkernel/b.ko: kernel/a.ko\n') },
    { type: 'file', path: '/init', mode: 0o755, data: () => Buffer.from('#!/bin/sh\nexec /sbin/init\n') },
    { type: 'symlink', path: '/sbin', target: 'bin' },
    { type: 'chardev', path: '/dev/console', major: 5, minor: 1 },
    { type: 'file', path: '/empty', data: () => new Uint8Array(0) },
  ]
  const one = (es: CpioEntry[]): Uint8Array => Uint8Array.from(Buffer.concat([...writeCpio(es, 1700000000)]))
  return [one(entries), one(entries.slice(0, 3)), one([])]
}

/** ext2/3/4 (by features), xfs, btrfs, vfat (FAT32 and FAT16), squashfs, swap; then GPT and MBR disks. */
function superblocks(): Uint8Array[] {
  const out: Uint8Array[] = []
  const uuid = Buffer.from('0a1b2c3d4e5f60718293a4b5c6d7e8f9', 'hex')
  const ext = (compat: number, incompat: number, ro: number): void => {
    const b = Buffer.alloc(2048)
    b.writeUInt16LE(0xef53, 1024 + 56)
    b.writeUInt32LE(compat, 1024 + 92)
    b.writeUInt32LE(incompat, 1024 + 96)
    b.writeUInt32LE(ro, 1024 + 100)
    uuid.copy(b, 1024 + 104)
    b.write('rootfs', 1024 + 120, 'latin1')
    out.push(b)
  }
  ext(0, 0x2, 0x1) // ext2
  ext(0x4, 0x2, 0x1) // ext3
  ext(0x4, 0x2c2, 0x7b) // ext4
  ext(0, 0x8, 0) // journal device
  const xfs = Buffer.alloc(512)
  xfs.write('XFSB', 0, 'latin1')
  uuid.copy(xfs, 32)
  xfs.write('data', 108, 'latin1')
  out.push(xfs)
  const btrfs = Buffer.alloc(65536 + 4096)
  uuid.copy(btrfs, 65536 + 32)
  btrfs.write('_BHRfS_M', 65536 + 64, 'latin1')
  btrfs.write('pool', 65536 + 299, 'latin1')
  out.push(btrfs)
  const fat = (fat32: boolean): void => {
    const b = Buffer.alloc(512)
    b[510] = 0x55
    b[511] = 0xaa
    if (fat32) {
      b.write('FAT32   ', 82, 'latin1')
      b.writeUInt32LE(0x1234abcd, 67)
      b.write('EFI        ', 71, 'latin1')
    } else {
      b.write('FAT16   ', 54, 'latin1')
      b.writeUInt32LE(0xdeadbeef, 39)
      b.write('NO NAME    ', 43, 'latin1')
    }
    out.push(b)
  }
  fat(true)
  fat(false)
  out.push(Buffer.from('hsqs\0\0\0\0', 'latin1'))
  const swap = Buffer.alloc(4096)
  swap.write('SWAPSPACE2', 4096 - 10, 'latin1')
  uuid.copy(swap, 1036)
  swap.write('swap0', 1052, 'latin1')
  out.push(swap)
  const parts = [
    { index: 0, guid: '11111111-2222-3333-4444-555555555555', first: 2048, last: 4095, name: 'EFI' },
    { index: 1, guid: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', first: 4096, last: 8191, name: 'root' },
  ]
  out.push(buildGpt({ sectorSize: 512, totalSectors: 16384, partitions: parts }).head)
  out.push(buildGpt({ sectorSize: 4096, totalSectors: 4096, partitions: parts }).head)
  const mbr = Buffer.alloc(512)
  mbr.writeUInt32LE(0xcafe0001, 440)
  mbr[446] = 0x80
  mbr[446 + 4] = 0x83
  mbr[462 + 4] = 0x82
  mbr[510] = 0x55
  mbr[511] = 0xaa
  out.push(mbr)
  return out
}

const VERMAGIC = 'vermagic=6.1.0-fuzz SMP preempt mod_unload modversions '

/** Modules of every layout the reader handles: exports by CRC symbol and by __ksymtab_strings,
 * __versions, weak and undefined symbols, 32-bit big endian, no symbol table, signed as
 * PKCS#7 (the checked-in DER samples) and the legacy way. */
function elfModules(): Uint8Array[] {
  const crcs = Buffer.alloc(8)
  crcs.writeUInt32LE(0xdeadbeef, 0)
  crcs.writeUInt32LE(0x12345678, 4)
  const specs: ElfSpec[] = [
    {
      sections: [
        { name: '.modinfo', data: modinfoSection(['alias=pci:v00001234d*sv*sd*bc*sc*i*', 'softdep=pre: beta', 'parm=debug:x', 'parmtype=debug:int', 'flagonly', 'depends=', VERMAGIC], 3) },
        { name: '__kcrctab', data: crcs },
        { name: '.text', data: Buffer.alloc(16) },
      ],
      symbols: [
        { name: 'alpha_fn', section: '.text', value: 0 },
        { name: '__crc_alpha_fn', section: '__kcrctab', value: 0 },
        { name: '__crc_alpha_data', section: '__kcrctab', value: 4, bind: 'local' },
        { name: 'printk', section: 'undef' },
      ],
    },
    {
      sections: [
        { name: '.modinfo', data: modinfoSection(['alias=beta-alias', 'license=GPL', 'depends=alpha', VERMAGIC]) },
        { name: '__ksymtab_strings', data: '\0beta_fn\0\0beta_other\0' },
        { name: '__versions', data: versionsSection([{ name: 'module_layout', crc: 0xabcdef01 }, { name: 'alpha_fn', crc: 0xdeadbeef }]) },
      ],
      symbols: [
        { name: 'alpha_fn', section: 'undef' },
        { name: 'missing_weak', section: 'undef', bind: 'weak' },
      ],
    },
    {
      bits: 32,
      bigEndian: true,
      sections: [
        { name: '.modinfo', data: modinfoSection(['alias=of:N*T*Cbig,thirtytwo', 'license=Dual MIT/GPL', VERMAGIC]) },
        { name: '__versions', data: versionsSection([{ name: 'alpha_data', crc: 7 }], 32, true) },
      ],
      symbols: [
        { name: '__crc_big32_fn', section: 'abs', value: 0x5eed },
        { name: 'alpha_data', section: 'undef' },
      ],
    },
    { sections: [{ name: '.modinfo', data: modinfoSection(['license=GPL', VERMAGIC]) }], noSymtab: true },
    { sections: [{ name: '.text', data: Buffer.alloc(4) }], symbols: [{ name: 'printk', section: 'undef' }] },
  ]
  const plain = specs.map((s) => buildElf(s))
  const signed = stored('pkcs7').map((der, i) => appendSignature(plain[i % plain.length], { algo: 1, hash: 4 + (i % 3), idType: 2, signature: der }))
  const legacy = appendSignature(plain[3], {
    algo: 1,
    hash: 2,
    idType: 1,
    signer: Buffer.from('Legacy Signer', 'latin1'),
    keyId: Buffer.from([0x00, 0x01, 0xab, 0xcd]),
    signature: Buffer.from(Array.from({ length: 45 }, (_, i) => (i * 37) & 0xff)),
  })
  return [...plain, ...signed, legacy].map((b) => Uint8Array.from(b))
}

const BUILT: Record<string, () => Uint8Array[]> = {
  'index-bin': binIndexes,
  cpio: cpioArchives,
  blkid: superblocks,
  elf: elfModules,
}

const cache = new Map<string, Uint8Array[]>()

/** Every corpus input of a target: the stored samples, then the built ones. */
export function corpusFor(target: string): Uint8Array[] {
  let c = cache.get(target)
  if (c === undefined) {
    c = [...stored(target), ...(BUILT[target]?.() ?? [])].map((b) => new Uint8Array(b))
    if (c.length === 0) throw new Error(`fuzz target ${target} has no corpus (test/fuzz/corpus/${target}/ or a builder in corpus.ts)`)
    cache.set(target, c)
  }
  return c
}
