// Filesystem superblocks: which filesystem a block device holds, with its UUID and LABEL, as
// blkid reports them (what root=UUID= and root=LABEL= name). Pure: bytes from the start of the
// device in, a description out; the caller reads SUPERBLOCK_BYTES from the device.
//
// Layouts (offsets from the start of the device, little-endian):
//   ext2/3/4  superblock at 1024: magic 0xEF53 (u16 @ +56), feature_compat (u32 @ +92),
//             feature_incompat (@ +96), feature_ro_compat (@ +100), uuid (16 bytes @ +104),
//             volume name (16 bytes @ +120, NUL-padded). ext2/ext3/ext4 are told apart by the
//             features, as libblkid does: a journal device is "jbd"; features ext3 lacks make
//             "ext4"; a journal makes "ext3"; else "ext2".
//   xfs       "XFSB" @ 0 (big-endian fs), uuid @ 32, label (12 bytes) @ 108.
//   btrfs     superblock at 65536: fsid @ +32, magic "_BHRfS_M" @ +64, label (256) @ +299.
//   vfat      boot sector: 0x55 0xAA @ 510; FAT32: "FAT32   " @ 82, serial (u32) @ 67, label
//             (11) @ 71; FAT12/16: "FAT1" @ 54, serial @ 39, label @ 43. UUID is the serial as
//             XXXX-XXXX (upper case); label "NO NAME" means none.
//   squashfs  "hsqs" @ 0 (no UUID or label).
//   swap      "SWAPSPACE2" or "SWAP-SPACE" in the last 10 bytes of the first 4 KiB page;
//             uuid @ 1036, label (16) @ 1052. Recognised so it is never mounted as root.

/** How many bytes from the start of a device probe() needs (btrfs's superblock ends here). */
export const SUPERBLOCK_BYTES = 65536 + 4096

export interface FsProbe {
  /** the filesystem type as mount(2) and /proc/filesystems name it */
  type: string
  /** blkid's UUID text (lower-case 8-4-4-4-12 for ext/xfs/btrfs, XXXX-XXXX for vfat) */
  uuid?: string
  label?: string
}

const EXT_MAGIC = 0xef53
// feature bits (fs/ext4/ext4.h)
const COMPAT_HAS_JOURNAL = 0x4
const INCOMPAT_JOURNAL_DEV = 0x8
/** what ext3 understands; anything else needs ext4 */
const EXT3_INCOMPAT_SUPP = 0x2 | 0x4 | 0x10 // FILETYPE | RECOVER | META_BG
const EXT3_RO_COMPAT_SUPP = 0x1 | 0x2 | 0x4 // SPARSE_SUPER | LARGE_FILE | BTREE_DIR

function ascii(b: Uint8Array, off: number, len: number): string {
  return String.fromCharCode(...b.subarray(off, off + len))
}

/** A NUL- (or space-) padded label; undefined when empty. */
function label(b: Uint8Array, off: number, len: number, trimSpaces = false): string | undefined {
  let end = b.subarray(off, off + len).indexOf(0)
  if (end < 0) end = Math.min(len, b.length - off)
  let s = Buffer.from(b.subarray(off, off + end)).toString('utf8')
  if (trimSpaces) s = s.trimEnd()
  return s.length > 0 ? s : undefined
}

/** 16 bytes as 8-4-4-4-12 lower-case hex, in byte order (how ext4, xfs and btrfs store it). */
export function formatUuid(b: Uint8Array, off = 0): string {
  const h = Buffer.from(b.subarray(off, off + 16)).toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

function isZero(b: Uint8Array, off: number, len: number): boolean {
  for (let i = off; i < off + len; i++) if (b[i] !== 0) return false
  return true
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength)
}

function probeExt(b: Uint8Array): FsProbe | null {
  const sb = 1024
  if (b.length < sb + 136) return null
  const v = view(b)
  if (v.getUint16(sb + 56, true) !== EXT_MAGIC) return null
  const compat = v.getUint32(sb + 92, true)
  const incompat = v.getUint32(sb + 96, true)
  const roCompat = v.getUint32(sb + 100, true)
  let type: string
  if (incompat & INCOMPAT_JOURNAL_DEV) type = 'jbd'
  else if (incompat & ~EXT3_INCOMPAT_SUPP || roCompat & ~EXT3_RO_COMPAT_SUPP) type = 'ext4'
  else if (compat & COMPAT_HAS_JOURNAL) type = 'ext3'
  else type = 'ext2'
  return withIds(type, isZero(b, sb + 104, 16) ? undefined : formatUuid(b, sb + 104), label(b, sb + 120, 16))
}

function probeXfs(b: Uint8Array): FsProbe | null {
  if (b.length < 120 || ascii(b, 0, 4) !== 'XFSB') return null
  return withIds('xfs', formatUuid(b, 32), label(b, 108, 12))
}

function probeBtrfs(b: Uint8Array): FsProbe | null {
  const sb = 65536
  if (b.length < sb + 299 + 256 || ascii(b, sb + 64, 8) !== '_BHRfS_M') return null
  return withIds('btrfs', formatUuid(b, sb + 32), label(b, sb + 299, 256))
}

function probeVfat(b: Uint8Array): FsProbe | null {
  if (b.length < 512 || b[510] !== 0x55 || b[511] !== 0xaa) return null
  const v = view(b)
  let serialAt: number
  let labelAt: number
  if (ascii(b, 82, 8) === 'FAT32   ') [serialAt, labelAt] = [67, 71]
  else if (ascii(b, 54, 4) === 'FAT1') [serialAt, labelAt] = [39, 43]
  else return null
  const serial = v.getUint32(serialAt, true)
  const hex = serial.toString(16).toUpperCase().padStart(8, '0')
  const l = label(b, labelAt, 11, true)
  return withIds('vfat', `${hex.slice(0, 4)}-${hex.slice(4)}`, l === 'NO NAME' ? undefined : l)
}

function probeSquashfs(b: Uint8Array): FsProbe | null {
  return b.length >= 4 && ascii(b, 0, 4) === 'hsqs' ? { type: 'squashfs' } : null
}

function probeSwap(b: Uint8Array): FsProbe | null {
  if (b.length < 4096) return null
  const sig = ascii(b, 4096 - 10, 10)
  if (sig !== 'SWAPSPACE2' && sig !== 'SWAP-SPACE') return null
  return withIds('swap', isZero(b, 1036, 16) ? undefined : formatUuid(b, 1036), label(b, 1052, 16))
}

function withIds(type: string, uuid: string | undefined, lbl: string | undefined): FsProbe {
  const out: FsProbe = { type }
  if (uuid !== undefined) out.uuid = uuid
  if (lbl !== undefined) out.label = lbl
  return out
}

// Most specific first: a vfat boot sector can sit in front of nothing else, but an ext
// superblock at 1024 says more than a stray 0x55AA at 510 left by an old partition table.
const PROBES = [probeExt, probeXfs, probeBtrfs, probeSquashfs, probeSwap, probeVfat]

/** The filesystem at the start of `bytes` (SUPERBLOCK_BYTES from the device), or null. */
export function probeFilesystem(bytes: Uint8Array): FsProbe | null {
  for (const p of PROBES) {
    const r = p(bytes)
    if (r) return r
  }
  return null
}
