// Shared artefacts for boot tests, the demo and the benchmark: the executable (built once per
// run through build/build.mjs, which skips unchanged steps) and initramfs images made by that
// executable's own mkinitramfs, cached under .cache/images by a hash of their inputs.
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { run } from './exec.js'
import { ensureHostTools } from './deps.js'
import type { Kernel } from './kernels.js'
import { cacheDir, projectRoot } from './paths.js'

export const executable = path.join(projectRoot, 'dist', 'modload')
const imagesDir = path.join(cacheDir, 'images')

/**
 * Build dist/modload (a no-op when nothing changed). tap re-adds its NODE_OPTIONS loader to
 * every child it sees spawned, and zx breaks under it, so `env -u` drops it last.
 */
export async function ensureExecutable(): Promise<string> {
  await run('env', ['-u', 'NODE_OPTIONS', process.execPath, path.join(projectRoot, 'build', 'build.mjs')], { passthrough: true })
  return executable
}

export interface ImageOptions {
  kernel: Kernel
  /** module names or aliases, or 'all' */
  modules: readonly string[] | 'all'
  compress?: string
  /** extra files: [host file, path in the image] */
  add?: readonly [string, string][]
  /** a label for the file name */
  name: string
}

/** An initramfs for `kernel` with modload as /init; rebuilt only when an input changed. */
export async function ensureImage(opts: ImageOptions): Promise<string> {
  const exe = await fs.stat(executable)
  const h = createHash('sha256')
  h.update(JSON.stringify([exe.size, exe.mtimeMs, opts.kernel.version, opts.modules, opts.compress ?? 'lz4', opts.add ?? []]))
  for (const [src] of opts.add ?? []) h.update(await fs.readFile(src))
  const key = h.digest('hex').slice(0, 16)
  const out = path.join(imagesDir, `${opts.name}-${opts.kernel.version}-${key}.img`)
  try {
    await fs.access(out)
    return out
  } catch {
    // not built yet
  }
  await ensureHostTools() // the lz4 program, for the default compression
  await fs.mkdir(imagesDir, { recursive: true })
  const args = ['mkinitramfs', '-o', out, '--kernel-root', opts.kernel.root, '-k', opts.kernel.version]
  args.push('--modules', opts.modules === 'all' ? 'all' : opts.modules.join(','), '--compress', opts.compress ?? 'lz4')
  for (const [src, dest] of opts.add ?? []) args.push('--add', `${src}:${dest}`)
  await run(executable, args, { env: { ...process.env, SOURCE_DATE_EPOCH: '0' }, passthrough: true })
  return out
}
