// Writes an initramfs archive to disk through the chosen compressor: the output edge of
// mkinitramfs. Each kind is one the kernel can unpack (CONFIG_RD_*); zstd comes from Node's zlib
// when it has it, the others from the usual programs.
import { createWriteStream, openSync, closeSync } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { spawn } from 'node:child_process'
import * as zlib from 'node:zlib'
import { MkInitramfsError } from './errors.js'

export const COMPRESSIONS = ['gzip', 'zstd', 'lz4', 'none'] as const
export type Compression = (typeof COMPRESSIONS)[number]

type ZstdZlib = { createZstdCompress?: (o?: object) => NodeJS.ReadWriteStream; constants: Record<string, number> }

/**
 * Default levels: the executable (about 100 MB of Node) dominates every image, and the top
 * levels cost a minute of build time for a few MB (measured: zstd -19 63 s vs 31 MB), while the
 * kernel's decompression speed barely depends on the level.
 */
export const DEFAULT_LEVEL: Record<Compression, number> = { none: 0, gzip: 6, zstd: 9, lz4: 1 }

/** Write the archive through the chosen compressor. zstd comes from Node's zlib when it has it. */
export async function writeCompressed(source: Readable, kind: Compression, level: number, out: string): Promise<void> {
  const z = zlib as unknown as ZstdZlib
  switch (kind) {
    case 'none':
      return pipeline(source, createWriteStream(out))
    case 'gzip':
      return pipeline(source, zlib.createGzip({ level }), createWriteStream(out))
    case 'zstd':
      if (z.createZstdCompress) {
        const param = z.constants.ZSTD_c_compressionLevel
        return pipeline(source, z.createZstdCompress({ params: { [param]: level } }), createWriteStream(out))
      }
      return external('zstd', ['-q', `-${level}`, '-T0', '-c'], source, out)
    case 'lz4':
      // the kernel reads only the legacy lz4 frame format, hence -l
      return external('lz4', ['-q', '-l', `-${level}`, '-c'], source, out)
  }
}

async function external(cmd: string, args: string[], source: Readable, out: string): Promise<void> {
  const fd = openSync(out, 'w')
  try {
    const child = spawn(cmd, args, { stdio: ['pipe', fd, 'inherit'] })
    const exited = new Promise<void>((ok, fail) => {
      child.on('error', (err) =>
        fail(new MkInitramfsError(`${cmd} compression needs the ${cmd} program (${err.message}): install it or choose --compress gzip`)),
      )
      child.on('close', (code) => (code === 0 ? ok() : fail(new MkInitramfsError(`${cmd} ${args.join(' ')} exited with ${code}`))))
    })
    await Promise.all([pipeline(source, child.stdin as NodeJS.WritableStream), exited])
  } finally {
    closeSync(fd)
  }
}

