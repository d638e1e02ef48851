// Decompression of kernel modules in user space (.ko.gz, .ko.xz, .ko.zst).
//
// The kind is told by the file's first bytes, as kmod does (libkmod-file.c), not by its name:
//   zstd  28 B5 2F FD
//   xz    FD 37 7A 58 5A 00   ("\xFD7zXZ\0")
//   gzip  1F 8B
// gzip and zstd come from Node's zlib (zstd needs Node >= 22.15); xz from the xz-decompress
// package (xz-embedded compiled to WebAssembly, embedded in its JavaScript, so it bundles into
// the one executable). Pure: bytes in, bytes out, no file access.
import { zlib } from '../sys/lazy.js'

export type Compression = 'zstd' | 'xz' | 'gzip'

/** The kernel's /sys/module/compression names the same three kinds this way. */
export const COMPRESSIONS: readonly Compression[] = ['zstd', 'xz', 'gzip']

const MAGIC: ReadonlyArray<{ kind: Compression; bytes: readonly number[] }> = [
  { kind: 'zstd', bytes: [0x28, 0xb5, 0x2f, 0xfd] },
  { kind: 'xz', bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { kind: 'gzip', bytes: [0x1f, 0x8b] },
]

/** The compression of `bytes` by magic number, or null for anything else (an ELF file, say). */
export function detectCompression(bytes: Uint8Array): Compression | null {
  for (const m of MAGIC) {
    if (bytes.length >= m.bytes.length && m.bytes.every((b, i) => bytes[i] === b)) return m.kind
  }
  return null
}

/** The compression a module's file name promises ("foo.ko.xz" -> 'xz'), or null for ".ko". */
export function compressionOfName(name: string): Compression | null {
  if (name.endsWith('.ko.xz')) return 'xz'
  if (name.endsWith('.ko.zst')) return 'zstd'
  if (name.endsWith('.ko.gz')) return 'gzip'
  return null
}

/** A module file whose compressed bytes could not be unpacked. */
export class DecompressError extends Error {
  readonly code = 'EDECOMPRESS'
  readonly errno: number
  constructor(
    readonly path: string,
    readonly kind: Compression,
    what: string,
  ) {
    super(`${path}: cannot decompress ${kind}: ${what} (the file is truncated or corrupt: reinstall the module)`)
    this.name = 'DecompressError'
    // kmod reports a broken compressed module as EINVAL; callers print strerror of this errno
    this.errno = 22
  }
}

type ZstdZlib = { zstdDecompressSync?: (b: Uint8Array) => Buffer }

async function unxz(bytes: Uint8Array): Promise<Uint8Array> {
  const input = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes)
      controller.close()
    },
  })
  const chunks: Uint8Array[] = []
  let total = 0
  // loaded here, not at start-up: its WHATWG streams would weigh on every start (sys/lazy.ts)
  const { default: xz } = await import('xz-decompress')
  for await (const chunk of new xz.XzReadableStream(input) as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(chunk)
    total += chunk.length
  }
  const out = new Uint8Array(total)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

/** Decompress `bytes` of the given kind; `path` only names the file in errors. */
export async function decompress(bytes: Uint8Array, kind: Compression, path: string): Promise<Uint8Array> {
  try {
    switch (kind) {
      case 'gzip':
        return zlib().gunzipSync(bytes)
      case 'zstd': {
        const z = zlib() as unknown as ZstdZlib
        if (!z.zstdDecompressSync) {
          throw new DecompressError(path, kind, `this Node.js (${process.version}) has no zstd; Node 22.15 or later has it`)
        }
        return z.zstdDecompressSync(bytes)
      }
      case 'xz':
        return await unxz(bytes)
    }
  } catch (err) {
    if (err instanceof DecompressError) throw err
    throw new DecompressError(path, kind, (err as Error).message)
  }
}

/** The bytes of a module file's ELF image: decompressed when its magic says it is compressed. */
export async function moduleImage(bytes: Uint8Array, path: string): Promise<Uint8Array> {
  const kind = detectCompression(bytes)
  return kind === null ? bytes : decompress(bytes, kind, path)
}
