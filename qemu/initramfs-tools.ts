// Test-only initramfs building with the host's GNU cpio, for harness tests that need a tiny
// bootable image (busybox + a shell /init). The product writes its own cpio elsewhere; this is
// deliberately the independent, boring implementation.
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { run } from './exec.js';

export interface CpioOptions {
  /** gzip the archive (the kernel unpacks both); default false. */
  gzip?: boolean;
}

/**
 * Pack directory `dir` into a newc cpio archive at `out` (absolute path). Entries are sorted,
 * owned by root, with inode and device numbers normalised (--reproducible); mtimes are kept.
 */
export async function buildCpio(dir: string, out: string, opts: CpioOptions = {}): Promise<string> {
  const raw = opts.gzip ? `${out}.cpio-tmp` : out;
  await fs.mkdir(path.dirname(out), { recursive: true });
  await run('bash', ['-c', 'set -o pipefail; find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0 --quiet > "$1"', 'bash', raw], { cwd: dir });
  if (opts.gzip) {
    await pipeline(createReadStream(raw), createGzip({ level: 6 }), createWriteStream(out));
    await fs.rm(raw, { force: true });
  }
  return out;
}

/** A file to place in a test initramfs tree: text/bytes, a copy of a host file, or a symlink. */
export type TreeEntry =
  | { path: string; content: string | Uint8Array; mode?: number }
  | { path: string; copyFrom: string; mode?: number }
  | { path: string; symlink: string };

/** Create `entries` under `dir` (which is created), making parent directories as needed. */
export async function writeTree(dir: string, entries: readonly TreeEntry[]): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  for (const e of entries) {
    const p = path.join(dir, e.path);
    await fs.mkdir(path.dirname(p), { recursive: true });
    if ('symlink' in e) {
      await fs.symlink(e.symlink, p);
    } else {
      if ('copyFrom' in e) await fs.copyFile(e.copyFrom, p);
      else await fs.writeFile(p, e.content);
      await fs.chmod(p, e.mode ?? 0o644);
    }
  }
}
