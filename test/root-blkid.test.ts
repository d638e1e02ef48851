// Superblock and partition-table parsers (src/format/blkid.ts, blkid-parts.ts): ext2/3/4
// images made here with mke2fs and checked against util-linux's blkid when it is installed;
// xfs, btrfs, vfat, swap and the partition tables as hand-built bytes.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, openSync, readSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { probeFilesystem, formatUuid, SUPERBLOCK_BYTES } from '../src/format/blkid.js'
import { parsePartitionTable, formatGuid } from '../src/format/blkid-parts.js'

function which(cmd: string): string | null {
  for (const d of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    try {
      execFileSync('test', ['-x', `${d}/${cmd}`])
      return `${d}/${cmd}`
    } catch {}
  }
  return null
}

function head(file: string, n: number): Uint8Array {
  const fd = openSync(file, 'r')
  try {
    const b = new Uint8Array(n)
    return b.subarray(0, readSync(fd, b, 0, n, 0))
  } finally {
    closeSync(fd)
  }
}

const mke2fs = which('mke2fs')
const blkid = which('blkid')

t.test('ext2, ext3 and ext4 made by mke2fs', { skip: mke2fs ? false : 'mke2fs (e2fsprogs) is not installed' }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'modload-blkid-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const uuid = '3f1c2a4e-9b7d-4c2e-8f00-112233445566'
  for (const type of ['ext2', 'ext3', 'ext4']) {
    const img = path.join(dir, `${type}.raw`)
    execFileSync(mke2fs as string, ['-q', '-F', '-t', type, '-L', `root-${type}`, '-U', uuid, img, '4M'], { env: { ...process.env, E2FSPROGS_FAKE_TIME: '1' } })
    const p = probeFilesystem(head(img, SUPERBLOCK_BYTES))
    t.same(p, { type, uuid, label: `root-${type}` }, type)
    if (blkid) {
      const out = execFileSync(blkid, ['-p', '-o', 'export', img], { encoding: 'utf8' })
      const kv = Object.fromEntries(out.trim().split('\n').map((l) => l.split('=') as [string, string]))
      t.same({ type: kv.TYPE, uuid: kv.UUID, label: kv.LABEL }, p, `${type}: same as util-linux blkid`)
    }
  }
  // no label, and a superblock on its own (what a short read of a small device gives)
  const img = path.join(dir, 'nolabel.raw')
  execFileSync(mke2fs as string, ['-q', '-F', '-t', 'ext4', '-U', uuid, img, '4M'])
  t.same(probeFilesystem(head(img, 2048)), { type: 'ext4', uuid })
  t.equal(probeFilesystem(head(img, 1024)), null, 'too short for the superblock')
  // metadata_csum on by default in e2fsprogs 1.47: still ext4
  t.equal(probeFilesystem(readFileSync(img).subarray(0, SUPERBLOCK_BYTES))?.type, 'ext4')
})

t.test('journal-less ext4 features still make ext4; a journal device is jbd', async (t) => {
  const b = new Uint8Array(4096)
  const v = new DataView(b.buffer)
  v.setUint16(1024 + 56, 0xef53, true)
  v.setUint32(1024 + 96, 0x40, true) // INCOMPAT_EXTENTS
  t.equal(probeFilesystem(b)?.type, 'ext4')
  v.setUint32(1024 + 96, 0x8, true) // INCOMPAT_JOURNAL_DEV
  t.equal(probeFilesystem(b)?.type, 'jbd')
  v.setUint32(1024 + 96, 0, true)
  v.setUint32(1024 + 100, 0x8, true) // RO_COMPAT_HUGE_FILE
  t.equal(probeFilesystem(b)?.type, 'ext4')
  t.equal(probeFilesystem(b)?.uuid, undefined, 'an all-zero UUID is no UUID')
})

const UUID_BYTES = Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])

t.test('xfs, btrfs, squashfs, swap', async (t) => {
  t.equal(formatUuid(UUID_BYTES), 'deadbeef-0001-0203-0405-060708090a0b')
  const xfs = new Uint8Array(SUPERBLOCK_BYTES)
  xfs.set(Buffer.from('XFSB'), 0)
  xfs.set(UUID_BYTES, 32)
  xfs.set(Buffer.from('data'), 108)
  t.same(probeFilesystem(xfs), { type: 'xfs', uuid: 'deadbeef-0001-0203-0405-060708090a0b', label: 'data' })

  const btrfs = new Uint8Array(SUPERBLOCK_BYTES)
  btrfs.set(UUID_BYTES, 65536 + 32)
  btrfs.set(Buffer.from('_BHRfS_M'), 65536 + 64)
  btrfs.set(Buffer.from('pool'), 65536 + 299)
  t.same(probeFilesystem(btrfs), { type: 'btrfs', uuid: 'deadbeef-0001-0203-0405-060708090a0b', label: 'pool' })
  t.equal(probeFilesystem(btrfs.subarray(0, 65536)), null, 'btrfs needs the bytes at 64 KiB')

  t.same(probeFilesystem(Buffer.from('hsqs\0\0\0\0')), { type: 'squashfs' })

  const swap = new Uint8Array(4096)
  swap.set(Buffer.from('SWAPSPACE2'), 4086)
  swap.set(UUID_BYTES, 1036)
  t.same(probeFilesystem(swap), { type: 'swap', uuid: 'deadbeef-0001-0203-0405-060708090a0b' })
  t.equal(probeFilesystem(new Uint8Array(SUPERBLOCK_BYTES)), null, 'zeros: nothing')
})

t.test('vfat: FAT32 and FAT16 serials and labels', async (t) => {
  const fat32 = new Uint8Array(512)
  fat32[510] = 0x55
  fat32[511] = 0xaa
  fat32.set(Buffer.from('FAT32   '), 82)
  new DataView(fat32.buffer).setUint32(67, 0x1234abcd, true)
  fat32.set(Buffer.from('EFI        '), 71)
  t.same(probeFilesystem(fat32), { type: 'vfat', uuid: '1234-ABCD', label: 'EFI' })
  const fat16 = new Uint8Array(512)
  fat16[510] = 0x55
  fat16[511] = 0xaa
  fat16.set(Buffer.from('FAT16   '), 54)
  new DataView(fat16.buffer).setUint32(39, 0xbeef, true)
  fat16.set(Buffer.from('NO NAME    '), 43)
  t.same(probeFilesystem(fat16), { type: 'vfat', uuid: '0000-BEEF' })
  const mbrOnly = new Uint8Array(512)
  mbrOnly[510] = 0x55
  mbrOnly[511] = 0xaa
  t.equal(probeFilesystem(mbrOnly), null, 'a partition table is not a filesystem')
})

/** A GPT disk image head: protective MBR, header at LBA 1, entries at LBA 2. */
function gpt(sector: number, entries: { index: number; guid: Uint8Array; name?: string }[]): Uint8Array {
  const count = 128
  const size = 128
  const b = new Uint8Array(sector * 2 + count * size + sector)
  b[510] = 0x55
  b[511] = 0xaa
  b[446 + 4] = 0xee
  const ents = b.subarray(sector * 2, sector * 2 + count * size)
  for (const e of entries) {
    const at = e.index * size
    ents.set(Uint8Array.from([0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4]), at) // Linux filesystem
    ents.set(e.guid, at + 16)
    if (e.name) ents.set(Buffer.from(e.name, 'utf16le'), at + 56)
  }
  const h = Buffer.from(b.buffer, b.byteOffset + sector, 92)
  h.write('EFI PART', 0, 'latin1')
  h.writeUInt32LE(0x10000, 8)
  h.writeUInt32LE(92, 12)
  h.writeBigUInt64LE(2n, 72)
  h.writeUInt32LE(count, 80)
  h.writeUInt32LE(size, 84)
  h.writeUInt32LE(crc32(ents), 88)
  h.writeUInt32LE(crc32(h), 16)
  return b
}

t.test('GPT partitions: PARTUUID and PARTLABEL, 512 and 4096-byte sectors', async (t) => {
  // blkid's text for these bytes: the first three fields are little-endian
  t.equal(formatGuid(UUID_BYTES, 0), 'efbeadde-0100-0302-0405-060708090a0b')
  for (const sector of [512, 4096]) {
    const img = gpt(sector, [
      { index: 0, guid: UUID_BYTES, name: 'root' },
      { index: 2, guid: Uint8Array.from({ length: 16 }, (_, i) => i + 1) },
    ])
    t.same(parsePartitionTable(img, sector), {
      scheme: 'gpt',
      partitions: [
        { number: 1, partuuid: 'efbeadde-0100-0302-0405-060708090a0b', name: 'root' },
        { number: 3, partuuid: '04030201-0605-0807-090a-0b0c0d0e0f10' },
      ],
    }, `sector ${sector}`)
  }
  const bad = gpt(512, [{ index: 0, guid: UUID_BYTES }])
  bad[512 * 2 + 20] ^= 1
  t.equal(parsePartitionTable(bad), null, 'a bad entries CRC: no table (the protective MBR does not count)')
  t.equal(parsePartitionTable(gpt(4096, []), 512), null, 'wrong sector size: no GPT found')
})

t.test('MBR partitions: PARTUUID is SIGNATURE-NN', async (t) => {
  const b = new Uint8Array(512)
  b[510] = 0x55
  b[511] = 0xaa
  new DataView(b.buffer).setUint32(440, 0x0a1b2c3d, true)
  b[446 + 4] = 0x83
  b[446 + 16 * 2] = 0x80
  b[446 + 16 * 2 + 4] = 0x83
  t.same(parsePartitionTable(b), {
    scheme: 'dos',
    partitions: [
      { number: 1, partuuid: '0a1b2c3d-01' },
      { number: 3, partuuid: '0a1b2c3d-03' },
    ],
  })
  b[446] = 0x12
  t.equal(parsePartitionTable(b), null, 'a boot flag other than 0 or 0x80: not a partition table')
  t.equal(parsePartitionTable(new Uint8Array(512)), null)
})

t.test('a whole GPT as test/fixtures/root/gpt.ts lays it out (used by the QEMU test)', async (t) => {
  const { buildGpt } = await import('./fixtures/root/gpt.js')
  for (const sectorSize of [512, 4096]) {
    const g = buildGpt({
      sectorSize,
      totalSectors: 9000,
      partitions: [
        { index: 0, guid: 'a1b2c3d4-0001-4e5f-8a9b-0123456789ab', first: 256, last: 4000, name: 'root' },
        { index: 1, guid: 'A1B2C3D4-0002-4E5F-8A9B-0123456789AB', first: 4001, last: 8000 },
      ],
    })
    t.same(parsePartitionTable(g.head, sectorSize)?.partitions, [
      { number: 1, partuuid: 'a1b2c3d4-0001-4e5f-8a9b-0123456789ab', name: 'root' },
      { number: 2, partuuid: 'a1b2c3d4-0002-4e5f-8a9b-0123456789ab' },
    ], `sector ${sectorSize}`)
  }
})
