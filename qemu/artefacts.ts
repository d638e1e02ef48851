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
  /** selectors (module names, aliases, classes, host, ...: mkinitramfs --modules), or 'all' */
  modules: readonly string[] | 'all'
  /** a captured /sys (qemu/capture.ts) for the host selector */
  sysfs?: string
  compress?: string
  /** mkinitramfs --compress-modules (default: mkinitramfs's, each) */
  moduleFiles?: 'each' | 'archive'
  /** extra files: [host file, path in the image] */
  add?: readonly [string, string][]
  /** a label for the file name */
  name: string
  /** the modload that makes the image and is its /init (default dist/modload) */
  executable?: string
}

/** A digest of a small directory tree: names, link targets and file contents. */
export async function treeDigest(dir: string): Promise<string> {
  const h = createHash('sha256')
  const walk = async (d: string): Promise<void> => {
    for (const e of (await fs.readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name)
      h.update(path.relative(dir, p) + '\0')
      if (e.isSymbolicLink()) h.update('l' + (await fs.readlink(p)))
      else if (e.isDirectory()) await walk(p)
      else if (e.isFile()) h.update(await fs.readFile(p))
    }
  }
  await walk(dir)
  return h.digest('hex')
}

/** An initramfs for `kernel` with modload as /init; rebuilt only when an input changed. */
export async function ensureImage(opts: ImageOptions): Promise<string> {
  const exePath = opts.executable ?? executable
  const exe = await fs.stat(exePath)
  const h = createHash('sha256')
  h.update(JSON.stringify([exe.size, exe.mtimeMs, opts.kernel.version, opts.kernel.root, opts.modules, opts.compress ?? 'lz4', opts.add ?? [], opts.moduleFiles ?? 'each', ...(opts.executable ? [opts.executable] : [])]))
  for (const [src] of opts.add ?? []) h.update(await fs.readFile(src))
  if (opts.sysfs) h.update(await treeDigest(opts.sysfs))
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
  // the build host's modprobe.d stays out: test images depend only on their inputs
  args.push('--modules', opts.modules === 'all' ? 'all' : opts.modules.join(','), '--compress', opts.compress ?? 'lz4', '--no-modprobe-d')
  if (opts.moduleFiles) args.push('--compress-modules', opts.moduleFiles)
  for (const [src, dest] of opts.add ?? []) args.push('--add', `${src}:${dest}`)
  if (opts.sysfs) args.push('--sysfs', opts.sysfs)
  await run(exePath, args, { env: { ...process.env, SOURCE_DATE_EPOCH: '0' }, passthrough: true })
  return out
}
