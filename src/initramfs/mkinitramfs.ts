// Builds an initramfs: the modload executable as /init, the libraries and dynamic loader it
// needs, the chosen modules with their dependency closure, and depmod's indexes trimmed to
// what is inside. Reproducible: entries sorted by path, one fixed mtime, uid/gid 0.
import { readFileSync, statSync, renameSync, rmSync } from 'node:fs'
import { Readable } from 'node:stream'
import { writeCpio, type CpioEntry } from './cpio.js'
import { MkInitramfsError } from './errors.js'
import { DEFAULT_LEVEL, writeCompressed, type Compression } from './output.js'
import { neededLibraries } from './libs.js'
import { binIndexesFromTexts } from '../depmod/bin-from-text.js'
import { trimByPath, trimByLastWord, trimBySecondWord, trimByFirstWord } from './trim.js'
import { openModuleDb } from '../core/moddb-fs.js'
import { loadOrder, modulePath, resolve } from '../core/moddb.js'
import { modulesDir } from '../paths.js'


/**
 * kmod's tool names, each a symlink to /init inside the image. Not in /sbin: the kernel runs
 * /sbin/modprobe for request_module() from the moment the initramfs is unpacked, before all its
 * initcalls ran, and a Node program started that early oopses the 6.1 kernel (io_uring_setup
 * before io_uring's slab cache exists; seen in QEMU). Init may point
 * /proc/sys/kernel/modprobe here once the kernel is up.
 */
export const TOOL_DIR = '/usr/lib/modload'
export const TOOL_LINKS = ['modprobe', 'insmod', 'rmmod', 'lsmod', 'modinfo', 'depmod'].map((n) => `${TOOL_DIR}/${n}`)

export interface MkInitramfsOptions {
  output: string
  /** the program to install as /init (the running executable by default) */
  init: string
  kernelRoot: string
  kver: string
  modules: 'all' | string[]
  compress: Compression
  /** compression level; each kind has a default that favours build speed over a few MB */
  level?: number
  /** extra files, later entries replace earlier ones at the same path */
  add?: { src: string; dest: string }[]
  /** seconds since the epoch for every entry (SOURCE_DATE_EPOCH, else 0) */
  mtime: number
}

export interface MkInitramfsResult {
  modules: string[]
  builtin: string[]
  entries: number
  bytes: number
}

export { COMPRESSIONS, type Compression } from './output.js'

export { MkInitramfsError }

/** Pick the modules for the image: every module, or the closure of the named ones. */
function chooseModules(opts: MkInitramfsOptions): { paths: Map<string, string>; builtin: string[] } {
  const db = openModuleDb(opts.kernelRoot, opts.kver)
  const paths = new Map<string, string>() // module name -> path relative to the modules dir
  const builtin: string[] = []
  const wanted = opts.modules === 'all' ? [...db.modules.keys()] : opts.modules
  for (const want of wanted) {
    const r = resolve(db, want)
    if (r.kind === 'none') {
      throw new MkInitramfsError(
        `module ${want} not found in ${db.dir} (neither a module name nor an alias in modules.dep/modules.alias/modules.builtin)`,
      )
    }
    if (r.kind === 'builtin') {
      builtin.push(...r.names)
      continue
    }
    for (const name of r.names) {
      const { order, missing } = loadOrder(db, name)
      if (missing.length) throw new MkInitramfsError(`${db.dir}/modules.dep: ${name} depends on ${missing.join(', ')}, which has no entry`)
      for (const e of order) paths.set(e.name, modulePath(db, e).slice(db.dir.length + 1))
    }
  }
  return { paths, builtin }
}

export async function mkinitramfs(opts: MkInitramfsOptions): Promise<MkInitramfsResult> {
  const { paths, builtin } = chooseModules(opts)
  const dir = modulesDir(opts.kernelRoot, opts.kver)
  const inImage = `/lib/modules/${opts.kver}`
  const byPath = new Map<string, CpioEntry>()
  const put = (e: CpioEntry): void => {
    byPath.set(e.path, e)
  }
  const file = (dest: string, src: string, mode?: number): void =>
    put({ type: 'file', path: dest, mode: mode ?? (statSync(src).mode & 0o111 ? 0o755 : 0o644), data: () => readFileSync(src) })

  for (const d of ['/dev', '/proc', '/sys', '/run', '/tmp', '/root', '/sbin', '/bin', '/etc', '/lib', '/lib64', '/usr', '/mnt']) put({ type: 'dir', path: d })
  put({ type: 'dir', path: '/tmp', mode: 0o1777 })
  // the kernel opens /dev/console for init's stdio before anything can mount devtmpfs
  put({ type: 'chardev', path: '/dev/console', major: 5, minor: 1, mode: 0o600 })
  put({ type: 'chardev', path: '/dev/null', major: 1, minor: 3, mode: 0o666 })
  put({ type: 'chardev', path: '/dev/kmsg', major: 1, minor: 11, mode: 0o644 })
  file('/init', opts.init, 0o755)
  for (const link of TOOL_LINKS) put({ type: 'symlink', path: link, target: '/init' })
  for (const lib of neededLibraries(opts.init)) file(lib.dest, lib.src)

  const keep = (name: string): boolean => paths.has(name)
  for (const rel of paths.values()) file(`${inImage}/${rel}`, `${dir}/${rel}`, 0o644)
  const texts = new Map<string, string>()
  const index = (name: string, trim?: (text: string, keep: (n: string) => boolean) => string): void => {
    let text: string
    try {
      text = readFileSync(`${dir}/${name}`, 'latin1')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    const trimmed = trim ? trim(text, keep) : text
    texts.set(name, trimmed)
    const data = Buffer.from(trimmed, 'latin1')
    put({ type: 'file', path: `${inImage}/${name}`, mode: 0o644, data: () => data })
  }
  index('modules.dep', trimByPath)
  index('modules.order', trimByPath)
  index('modules.alias', trimByLastWord)
  index('modules.symbols', trimByLastWord)
  index('modules.softdep', trimBySecondWord)
  index('modules.devname', trimByFirstWord)
  index('modules.builtin')
  index('modules.builtin.alias')
  index('modules.builtin.modinfo')
  // the binary indexes of exactly those texts: the loader in the image reads these (as
  // libkmod does) instead of parsing the texts at every boot
  const bins = binIndexesFromTexts(
    {
      dep: texts.get('modules.dep') ?? '',
      alias: texts.get('modules.alias'),
      symbols: texts.get('modules.symbols'),
      builtin: texts.get('modules.builtin'),
      builtinModinfo: texts.get('modules.builtin.modinfo'),
      builtinAlias: texts.get('modules.builtin.alias'),
    },
    dir,
  )
  for (const b of bins) put({ type: 'file', path: `${inImage}/${b.name}`, mode: 0o644, data: () => b.data })

  for (const a of opts.add ?? []) file(a.dest, a.src)

  // every parent directory gets its own entry, so the kernel never has to invent one
  for (const p of [...byPath.keys()]) {
    for (let i = p.indexOf('/', 1); i > 0; i = p.indexOf('/', i + 1)) {
      const parent = p.slice(0, i)
      if (!byPath.has(parent)) put({ type: 'dir', path: parent })
    }
  }
  const entries = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))

  const tmp = `${opts.output}.tmp-${process.pid}`
  try {
    const source = Readable.from(writeCpio(entries, opts.mtime))
    await writeCompressed(source, opts.compress, opts.level ?? DEFAULT_LEVEL[opts.compress], tmp)
    renameSync(tmp, opts.output)
  } catch (err) {
    rmSync(tmp, { force: true })
    throw err
  }
  return { modules: [...paths.keys()].sort(), builtin, entries: entries.length, bytes: statSync(opts.output).size }
}
