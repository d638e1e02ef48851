// Writes an initramfs image to disk: the output edge of mkinitramfs. An image is one or more
// segments, each a complete newc archive (ending with its TRAILER!!!) passed through its own
// compressor, or none, and concatenated: the kernel unpacks them one after the other into the
// same rootfs (init/initramfs.c, unpack_to_rootfs). So the runtime, unpacked at every boot and
// slow to decompress under emulation, can be stored one way and the modules another.
//
// The kernel's rules for a concatenation, and how this file keeps them:
// - Zero bytes between segments are skipped; an uncompressed archive must start at an offset
//   that is a multiple of 4 (else "broken padding" once the previous archive's trailer is read),
//   so every segment after the first starts at a multiple of 4, the gap filled with zeros.
// - A compressed segment is told by its magic and must decompress to whole archives (else
//   "junk in compressed archive"); gzip, zstd and xz streams end by themselves and the kernel
//   resumes right after them.
// - The legacy lz4 format (the only one the kernel reads) has no end mark: the kernel's
//   decoder stops at the end of the buffer or at a chunk size of 0 (lib/decompress_unlz4.c,
//   since 5.12 and the stable kernels of 2021), so an lz4 segment followed by another one is
//   followed by at least 4 zero bytes.
// - xz: the kernel's decoder (XZ Embedded) checks only CRC32 or nothing, and its memory grows
//   with the LZMA2 dictionary: the kernel's own usr/Makefile uses `--check=crc32
//   --lzma2=dict=1MiB` (Documentation/staging/xz.rst), and so does this file.
// A single segment gives the same bytes as writeCompressed: no padding after the last one; who
// appends an archive to an image puts appendPadding() zeros first. An image whose last segment
// is lz4 so ends as Debian's and dracut's lz4 images do, without the zeros that would let a boot
// loader append another initrd straight after it: with them, `lz4 -dc` fails (exit 54) and
// Debian's lsinitramfs lists nothing (exit 2), checked 2026-11-30.
// Each kind is one the kernel can unpack (CONFIG_RD_*); zstd comes from Node's zlib when it has
// it, gzip from zlib, the others from the usual programs.
import { closeSync, fstatSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import type { Readable } from 'node:stream'
import { childProcess, stream, streamPromises, zlib } from '../sys/lazy.js'
import { writeCpio, type CpioEntry } from './cpio.js'
import { MkInitramfsError } from './errors.js'

export const COMPRESSIONS = ['gzip', 'zstd', 'lz4', 'xz', 'none'] as const
export type Compression = (typeof COMPRESSIONS)[number]

/**
 * How the image stores module files:
 * - each: every module outside the root's chain compressed on its own (zstd, a tree's .ko.xz
 *   and .ko.gz too) in an uncompressed archive of its own, so unpacking the image only copies
 *   those bytes and the loader decompresses only the modules it loads (most of an image's
 *   modules are for devices a boot may never see); the root chain's modules, which every boot
 *   loads first, uncompressed in the compressed archive with the indexes.
 * - archive: every module as the tree has it, in the compressed archive.
 */
export const MODULE_FILES = ['each', 'archive'] as const
export type ModuleFiles = (typeof MODULE_FILES)[number]

type ZstdZlib = { createZstdCompress?: (o?: object) => NodeJS.ReadWriteStream; constants: Record<string, number> }

/**
 * Default levels: the executable (about 100 MB of Node) dominates every image, and the top
 * levels cost a minute of build time for a few MB (measured: zstd -19 63 s vs 31 MB), while the
 * kernel's decompression speed barely depends on the level. xz 6 is xz's own default.
 */
export const DEFAULT_LEVEL: Record<Compression, number> = { none: 0, gzip: 6, zstd: 9, lz4: 1, xz: 6 }

/** The arguments of the external compressors (the kernel's constraints are in the header). */
export function compressorArgs(kind: 'lz4' | 'xz' | 'zstd', level: number): { cmd: string; args: string[] } {
  switch (kind) {
    case 'lz4':
      // the kernel reads only the legacy lz4 frame format, hence -l
      return { cmd: 'lz4', args: ['-q', '-l', `-${level}`, '-c'] }
    case 'xz':
      // -T1: one block, the same bytes on every machine (-T0's block layout depends on the CPUs)
      return { cmd: 'xz', args: ['-q', '-T1', '--check=crc32', `--lzma2=preset=${level},dict=1MiB`, '-c'] }
    case 'zstd':
      return { cmd: 'zstd', args: ['-q', `-${level}`, '-T0', '-c'] }
  }
}

type ZstdSync = { zstdCompressSync?: (b: Uint8Array, o?: object) => Buffer }

/**
 * One file's bytes compressed with zstd (a module stored compressed in the image, read back
 * by the loader: src/compress/compress.ts): Node's zlib when it has zstd (Node >= 22.15, the
 * executable's), else the zstd program. Sync: a module is at most a few MB.
 */
export function zstdBytes(bytes: Uint8Array, level: number, what: string): Uint8Array {
  const z = zlib() as unknown as ZstdSync & ZstdZlib
  if (z.zstdCompressSync) return z.zstdCompressSync(bytes, { params: { [z.constants.ZSTD_c_compressionLevel]: level } })
  const { cmd, args } = compressorArgs('zstd', level)
  const r = childProcess().spawnSync(cmd, args.filter((a) => a !== '-T0'), { input: bytes, maxBuffer: Math.max(bytes.length * 2, 1 << 20) })
  if (r.error) throw new MkInitramfsError(`${what}: compressing it needs zstd (${r.error.message}): install the zstd program or use --compress-modules archive`)
  if (r.status !== 0) throw new MkInitramfsError(`${what}: ${cmd} ${args.join(' ')} exited with ${r.status}: ${r.stderr.toString().trim()}`)
  return r.stdout
}

/** Write the archive through the chosen compressor into a new file `out`. */
export async function writeCompressed(source: Readable, kind: Compression, level: number, out: string): Promise<void> {
  const fd = openSync(out, 'w')
  try {
    await compressInto(source, kind, level, fd)
  } finally {
    closeSync(fd)
  }
}

export interface Segment {
  entries: Iterable<CpioEntry>
  compress: Compression
  /** compression level; DEFAULT_LEVEL[compress] when absent */
  level?: number
}

/** Where a segment landed in the image. */
export interface SegmentPlacement {
  compress: Compression
  /** byte offset of the segment's first byte (its magic, or the cpio header) */
  offset: number
  /** length of the segment's own bytes, padding excluded */
  bytes: number
}

/**
 * Write each segment as its own newc archive through its own compressor, concatenated into a
 * new file `out` with the padding the kernel needs between them (see the header). Returns where
 * each segment landed, which is what a reader needs to take the image apart again.
 */
export async function writeSegments(segments: readonly Segment[], mtime: number, out: string): Promise<SegmentPlacement[]> {
  if (segments.length === 0) throw new MkInitramfsError(`${out}: an image needs at least one segment`)
  const placed: SegmentPlacement[] = []
  const fd = openSync(out, 'w')
  try {
    let end = 0
    for (const [i, seg] of segments.entries()) {
      if (i > 0) end += pad(fd, end, segments[i - 1].compress === 'lz4' ? 4 : 0)
      const source = stream().Readable.from(writeCpio(seg.entries, mtime))
      await compressInto(source, seg.compress, seg.level ?? DEFAULT_LEVEL[seg.compress], fd)
      const size = fstatSync(fd).size
      placed.push({ compress: seg.compress, offset: end, bytes: size - end })
      end = size
    }
  } finally {
    closeSync(fd)
  }
  return placed
}

/** writeSegments into `out` through a temporary file renamed when complete (no half image
 * under the name); returns the image's size. */
export async function writeImage(segments: readonly Segment[], mtime: number, out: string): Promise<number> {
  const tmp = `${out}.tmp-${process.pid}`
  try {
    await writeSegments(segments, mtime, tmp)
    renameSync(tmp, out)
  } catch (err) {
    rmSync(tmp, { force: true })
    throw err
  }
  return statSync(out).size
}

/** The entries' mtime: SOURCE_DATE_EPOCH when it is a whole number of seconds, else 0. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv): number {
  const epoch = env.SOURCE_DATE_EPOCH
  return epoch && /^\d+$/.test(epoch) ? Number(epoch) : 0
}

/** How many zeros go after `length` bytes so that what follows starts at a multiple of 4 with
 * at least `min` zeros before it. Pure. */
export function padLength(length: number, min = 0): number {
  let n = (4 - (length % 4)) % 4
  while (n < min) n += 4
  return n
}

/** The zeros to put after an image of `length` bytes before appending another archive to it
 * (an overlay, a second initrd): a multiple of 4, and at least 4 in case its last archive is
 * lz4, which has no end mark of its own (see the header). Pure. */
export function appendPadding(length: number): number {
  return padLength(length, 4)
}

/** Zeros up to the next multiple of 4, at least `min` of them; returns how many. */
function pad(fd: number, end: number, min: number): number {
  const n = padLength(end, min)
  if (n) writeAll(fd, new Uint8Array(n))
  return n
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off)
}

/** Append the compressed stream to `fd` at its current offset (written sequentially, so the
 * offset is the file's end). */
async function compressInto(source: Readable, kind: Compression, level: number, fd: number): Promise<void> {
  const sink = async (chunks: AsyncIterable<Uint8Array | string>): Promise<void> => {
    for await (const chunk of chunks) writeAll(fd, typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  }
  const { pipeline } = streamPromises()
  const z = zlib() as unknown as ZstdZlib
  switch (kind) {
    case 'none':
      return pipeline(source, sink)
    case 'gzip':
      return pipeline(source, zlib().createGzip({ level }), sink)
    case 'zstd':
      if (z.createZstdCompress) {
        const param = z.constants.ZSTD_c_compressionLevel
        return pipeline(source, z.createZstdCompress({ params: { [param]: level } }), sink)
      }
      return external(compressorArgs('zstd', level), source, fd)
    case 'lz4':
    case 'xz':
      return external(compressorArgs(kind, level), source, fd)
  }
}

/** Run a compressor program with `fd` as its stdout: it writes at the file's shared offset. */
async function external({ cmd, args }: { cmd: string; args: string[] }, source: Readable, fd: number): Promise<void> {
  const child = childProcess().spawn(cmd, args, { stdio: ['pipe', fd, 'inherit'] })
  const exited = new Promise<void>((ok, fail) => {
    child.on('error', (err) =>
      fail(new MkInitramfsError(`${cmd} compression needs the ${cmd} program (${err.message}): install it or choose --compress gzip`)),
    )
    child.on('close', (code) => (code === 0 ? ok() : fail(new MkInitramfsError(`${cmd} ${args.join(' ')} exited with ${code}`))))
  })
  // the program's own failure explains a broken pipe better than the pipe does
  const [piped, done] = await Promise.allSettled([streamPromises().pipeline(source, child.stdin as NodeJS.WritableStream), exited])
  if (done.status === 'rejected') throw done.reason
  if (piped.status === 'rejected') throw piped.reason
}
