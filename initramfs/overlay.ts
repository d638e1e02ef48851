// An image with files replaced: a small uncompressed newc archive appended to it. The kernel
// unpacks the archives of an initramfs in order, and a later file replaces an earlier one, so
// a test can break one file of a good image (or swap a program for a stand-in) without building
// the image again with its own tool.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { writeCpio, type CpioEntry } from '../src/initramfs/cpio.js'
import { appendPadding } from '../src/initramfs/output.js'

/** Write `base` with an archive of `files` (path in the image -> contents; `mode` per path,
 * default 0644) appended to `out`. */
export function writeOverlay(base: string, out: string, files: Record<string, Uint8Array | string>, mode: Record<string, number> = {}): void {
  const dirs = new Set<string>()
  for (const p of Object.keys(files)) for (let d = path.dirname(p); d !== '.' && d !== '/'; d = path.dirname(d)) dirs.add(d)
  const entries: CpioEntry[] = [
    ...[...dirs].sort().map((d): CpioEntry => ({ type: 'dir', path: d })),
    ...Object.entries(files).map(([p, data]): CpioEntry => ({ type: 'file', path: p, mode: mode[p] ?? 0o644, data: () => (typeof data === 'string' ? Buffer.from(data, 'latin1') : data) })),
  ]
  const image = readFileSync(base)
  // the kernel reads an uncompressed archive only at a 4-byte boundary, and an lz4 archive
  // before it ends only at 4 zeros; zeros between archives are skipped
  const pad = Buffer.alloc(appendPadding(image.length))
  writeFileSync(out, Buffer.concat([image, pad, ...writeCpio(entries, 0)]))
}
