// Partition tables: the PARTUUID of each partition of a disk, as the kernel matches
// root=PARTUUID= and blkid prints it. Pure: the first PARTITION_TABLE_BYTES of the disk in.
//
// GPT (UEFI spec 5.3): header in LBA 1 (the logical sector size matters: 512 or 4096),
//   "EFI PART" @ 0, header size (u32) @ 12, header CRC32 @ 16 (computed with the field zeroed),
//   partition entry LBA (u64) @ 72, entry count (u32) @ 80, entry size (u32) @ 84, entries
//   CRC32 @ 88. Each entry: type GUID @ 0 (all zero: unused), unique GUID @ 16, name
//   (UTF-16LE, 72 bytes) @ 56. Partition N is entry N-1, as the kernel numbers them. GUIDs are
//   stored mixed-endian: the first three fields little-endian.
// MBR (DOS): 0x55 0xAA @ 510, disk signature (u32) @ 440, four entries of 16 bytes @ 446 with
//   the type byte @ +4 (0: unused; 0xEE: protective, the disk is GPT). PARTUUID is
//   SSSSSSSS-NN: the signature and the partition number, lower-case hex. Logical partitions
//   (5 and up, in the extended partition's chain) are not read here.
import { zlib } from '../sys/lazy.js'

/** Bytes from the start of the disk parsePartitionTable needs for a GPT on 4 KiB sectors. */
export const PARTITION_TABLE_BYTES = 256 * 1024

export interface Partition {
  /** the kernel's partition number: sda1 is 1 */
  number: number
  partuuid: string
  /** GPT partition name (PARTLABEL), when set */
  name?: string
}

export interface PartitionTable {
  scheme: 'gpt' | 'dos'
  partitions: Partition[]
}

/** A GPT GUID (mixed-endian bytes) as lower-case 8-4-4-4-12 text. */
export function formatGuid(b: Uint8Array, off: number): string {
  const hex = (from: number, to: number, reverse: boolean): string => {
    const bytes = [...b.subarray(off + from, off + to)]
    if (reverse) bytes.reverse()
    return bytes.map((x) => x.toString(16).padStart(2, '0')).join('')
  }
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`
}

function isZero(b: Uint8Array, off: number, len: number): boolean {
  for (let i = off; i < off + len; i++) if (b[i] !== 0) return false
  return true
}

function parseGpt(b: Uint8Array, sectorSize: number): PartitionTable | null {
  const h = sectorSize
  if (b.length < h + 92 || Buffer.from(b.subarray(h, h + 8)).toString('latin1') !== 'EFI PART') return null
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const headerSize = v.getUint32(h + 12, true)
  if (headerSize < 92 || headerSize > sectorSize) return null
  const header = Buffer.from(b.subarray(h, h + headerSize))
  header.writeUInt32LE(0, 16)
  const { crc32 } = zlib()
  if (crc32(header) !== v.getUint32(h + 16, true)) return null
  const entriesAt = Number(v.getBigUint64(h + 72, true)) * sectorSize
  const count = v.getUint32(h + 80, true)
  const size = v.getUint32(h + 84, true)
  if (size < 128 || count > 1024 || entriesAt + count * size > b.length) return null
  if (crc32(b.subarray(entriesAt, entriesAt + count * size)) !== v.getUint32(h + 88, true)) return null
  const partitions: Partition[] = []
  for (let i = 0; i < count; i++) {
    const e = entriesAt + i * size
    if (isZero(b, e, 16)) continue
    const p: Partition = { number: i + 1, partuuid: formatGuid(b, e + 16) }
    const raw = Buffer.from(b.subarray(e + 56, e + 128)).toString('utf16le')
    const nul = raw.indexOf('\0')
    const name = nul >= 0 ? raw.slice(0, nul) : raw
    if (name.length > 0) p.name = name
    partitions.push(p)
  }
  return { scheme: 'gpt', partitions }
}

function parseDos(b: Uint8Array): PartitionTable | null {
  if (b.length < 512 || b[510] !== 0x55 || b[511] !== 0xaa) return null
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const sig = v.getUint32(440, true).toString(16).padStart(8, '0')
  const partitions: Partition[] = []
  for (let i = 0; i < 4; i++) {
    const e = 446 + i * 16
    const type = b[e + 4]
    if (type === 0) continue
    if (type === 0xee) return null // protective MBR: the GPT was unreadable
    // the boot flag is 0x00 or 0x80; anything else is a FAT boot sector, not a table
    if (b[e] !== 0 && b[e] !== 0x80) return null
    partitions.push({ number: i + 1, partuuid: `${sig}-${(i + 1).toString(16).padStart(2, '0')}` })
  }
  return { scheme: 'dos', partitions }
}

/** The disk's partition table (GPT first, then MBR), or null when it has none we read. */
export function parsePartitionTable(bytes: Uint8Array, sectorSize = 512): PartitionTable | null {
  return parseGpt(bytes, sectorSize) ?? parseDos(bytes)
}
