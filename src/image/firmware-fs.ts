// The disk side of firmware selection (the planner is src/image/firmware.ts): the real
// FirmwareFs, the firmware= fields of module files and of modules.builtin.modinfo, what the
// target kernel's config says it decompresses, and findFirmware(), which plans and reads what
// must be decompressed at build time, giving entries ready for the image.
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { decompress } from '../compress/compress.js'
import { moduleInfo } from '../elf/module.js'
import { infoValues } from '../elf/modinfo.js'
import { readModuleImage } from '../elf/read.js'
import { parseBuiltinModinfo } from '../format/modules-builtin-modinfo.js'
import { modulesDir } from '../paths.js'
import {
  builtinFirmware,
  parseFirmwareDecompression,
  planFirmware,
  resolveInRoot,
  type FirmwareDecompression,
  type FirmwareFs,
  type FirmwareOptions,
  type MissingFirmware,
  type ModuleFirmware,
  type NodeKind,
} from './firmware.js'

export const nodeFirmwareFs: FirmwareFs = {
  lkind(path: string): NodeKind | null {
    let st
    try {
      st = lstatSync(path)
    } catch (err) {
      // ENOENT, and ENOTDIR when a file stands where a directory was expected: both "not here"
      if (['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return null
      throw err
    }
    return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other'
  },
  readlink: (path) => readlinkSync(path),
  readdir(path) {
    try {
      return readdirSync(path)
    } catch {
      return []
    }
  },
}

/** "kernel/drivers/net/foo-bar.ko.xz" -> "foo_bar" */
function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1)
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replaceAll('-', '_')
}

/**
 * The firmware= fields of module files (.ko, .ko.xz, .ko.zst, .ko.gz), read a few at a time.
 * `module` defaults to the name of the file. Modules without firmware are left out.
 */
export async function moduleFirmware(files: ReadonlyArray<string | { module: string; path: string }>, parallel = 8): Promise<ModuleFirmware[]> {
  const items = files.map((f) => (typeof f === 'string' ? { module: moduleName(f), path: f } : f))
  const out: (ModuleFirmware | null)[] = new Array(items.length).fill(null)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      const { module, path } = items[i]
      const firmware = infoValues(moduleInfo(await readModuleImage(path), path), 'firmware').filter((v) => v !== '')
      if (firmware.length) out[i] = { module, firmware }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, items.length)) }, worker))
  return out.filter((x): x is ModuleFirmware => x !== null)
}

/** The firmware= of built-in modules (all, or those named) from ROOT/lib/modules/KVER/modules.builtin.modinfo; [] without that file. */
export function builtinModuleFirmware(root: string, kver: string, modules?: Iterable<string>): ModuleFirmware[] {
  const file = `${modulesDir(root, kver)}/modules.builtin.modinfo`
  let text: string
  try {
    text = readFileSync(file, 'latin1')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  return builtinFirmware(parseBuiltinModinfo(text, file), modules)
}

/**
 * What the target kernel decompresses, from its config: ROOT/boot/config-KVER, else
 * ROOT/lib/modules/KVER/build/.config (build is usually an absolute link to
 * /usr/src/linux-headers-KVER, read inside ROOT). undefined when neither exists.
 */
export function kernelFirmwareDecompression(root: string, kver: string, fs: FirmwareFs = nodeFirmwareFs): FirmwareDecompression | undefined {
  for (const p of [`/boot/config-${kver}`, `/lib/modules/${kver}/build/.config`]) {
    const r = resolveInRoot(fs, root, p)
    if (r.kind !== 'file') continue
    const host = `${root === '/' ? '' : root.replace(/\/+$/, '')}/${r.real}`
    return parseFirmwareDecompression(readFileSync(host, 'latin1'))
  }
  return undefined
}

/** An entry for the image: copy src, write data, or make a symlink. */
export interface FirmwareFile {
  /** absolute path in the image, under /lib/firmware */
  dest: string
  src?: string
  data?: () => Buffer
  symlink?: string
  modules: string[]
}

export interface FindFirmwareOptions extends Omit<FirmwareOptions, 'fs' | 'decompression'> {
  /** what the kernel decompresses; 'auto' (default) reads the kernel config under root */
  decompression?: FirmwareDecompression | 'auto'
  fs?: FirmwareFs
}

/**
 * The firmware files for an image (see firmware.ts for the order and rules) and the names found
 * nowhere, grouped by module. Files the kernel could not decompress are decompressed here.
 */
export async function findFirmware(wants: readonly ModuleFirmware[], opts: FindFirmwareOptions): Promise<{ files: FirmwareFile[]; missing: MissingFirmware[] }> {
  const fs = opts.fs ?? nodeFirmwareFs
  const decompression = opts.decompression === undefined || opts.decompression === 'auto' ? kernelFirmwareDecompression(opts.root, opts.kver, fs) : opts.decompression
  const plan = planFirmware(wants, { ...opts, fs, decompression })
  const files: FirmwareFile[] = []
  for (const f of plan.files) {
    if (f.decompress && f.src) {
      const bytes = Buffer.from(await decompress(readFileSync(f.src), f.decompress, f.src))
      files.push({ dest: f.dest, data: () => bytes, modules: f.modules })
    } else if (f.symlink !== undefined) {
      files.push({ dest: f.dest, symlink: f.symlink, modules: f.modules })
    } else {
      files.push({ dest: f.dest, src: f.src, modules: f.modules })
    }
  }
  return { files, missing: plan.missing }
}
