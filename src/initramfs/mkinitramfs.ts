// Builds an initramfs in two steps. plan() decides what goes in and why: the modload executable
// as /init with the libraries and dynamic loader it needs, the modules the selectors pick
// (src/image/select.ts) with their dependency and softdep closure (each compressed on its own
// outside the root's chain, or as the tree has them: ModuleFiles), the firmware those modules
// declare, depmod's indexes trimmed to what is inside (every alias of every module kept, so a
// device plugged in later finds its driver), the modprobe.d and modules-load.d files that apply,
// trimmed likewise, and a default kernel command line. write() turns a plan into bytes:
// reproducible (entries sorted by path, one fixed mtime, uid/gid 0), written to a temporary file
// and renamed, so a failure never leaves a half-written image.
import { checkModulePath } from '../core/module-path.js'
import { readFileSync, statSync } from 'node:fs'
import { posix } from 'node:path'
import { parentDirs, type CpioEntry } from './cpio.js'
import { MkInitramfsError } from './errors.js'
import { DEFAULT_LEVEL, writeImage, zstdBytes, type Compression, type ModuleFiles, type Segment } from './output.js'
import { compressionOfName, decompress } from '../compress/compress.js'
import { neededLibraries } from './libs.js'
import { binIndexesFromTexts } from '../depmod/bin-from-text.js'
import { renamePaths, trimByPath, trimByLastWord, trimBySecondWord, trimByFirstWord, trimModprobeConf, trimModulesLoad } from './trim.js'
import { openModuleDb } from '../core/moddb-fs.js'
import { IMAGE_CMDLINE, IMAGE_ROOT_MODULES, IMAGE_SIGNATURE_HASH, modulesDir } from '../paths.js'
import { formatSignatureFirst } from '../core/signature-hash.js'
import { formatImageCmdline } from '../init/cmdline-file.js'
import { loadModprobeConfig } from '../config/config-fs.js'
import type { ConfigFile } from '../config/config.js'
import { classMatches, isCpuModalias, selectModules, SelectorError, type HostNeeds, type Selection, type Selector } from '../image/select.js'
import { readModulesLoad } from '../init/modules-load.js'
import { DRIVER_CLASSES } from '../image/classes.js'
import { builtinModuleFirmware, findFirmware, moduleFirmware, type FirmwareFile } from '../image/firmware-fs.js'
import { describeMissing, type MissingFirmware, type ModuleFirmware } from '../image/firmware.js'
import { findSignatureAccelerators } from '../load/signature-first.js'

export { COMPRESSIONS, type Compression } from './output.js'
export { MkInitramfsError }

/**
 * kmod's tool names, each a symlink to /init inside the image. Not in /sbin: the kernel runs
 * /sbin/modprobe for request_module() from the moment the initramfs is unpacked, before all its
 * initcalls ran, and a Node program started that early oopses the 6.1 kernel (io_uring_setup
 * before io_uring's slab cache exists; seen in QEMU). Init may point
 * /proc/sys/kernel/modprobe here once the kernel is up.
 */
export const TOOL_DIR = '/usr/lib/modload'
export const TOOL_LINKS = ['modprobe', 'insmod', 'rmmod', 'lsmod', 'modinfo', 'depmod'].map((n) => `${TOOL_DIR}/${n}`)


export { MODULE_FILES, type ModuleFiles } from './output.js'

/** A module file made when the image is written (decompressed, recompressed): prepare()
 * (write() awaits it) makes the bytes that data() gives. */
export interface Packed {
  prepare(): Promise<void>
  data(): Uint8Array
}

/** The parts an image's size is reported by. */
export const PARTS = ['runtime', 'modules', 'firmware', 'indexes', 'config'] as const
export type Part = (typeof PARTS)[number]

export interface MkInitramfsOptions {
  output: string
  /** the program to install as /init (the running executable by default) */
  init: string
  kernelRoot: string
  kver: string
  selectors: readonly Selector[]
  /** what the `host` selector reads (src/image/host.ts) */
  host?: HostNeeds
  /** the root's filesystem types, when the host cannot say (--rootfs) */
  rootFs?: readonly string[]
  compress: Compression
  /** compression level; each kind has a default that favours build speed over a few MB */
  level?: number
  /** the runtime (/init and its libraries) in a segment of its own, compressed this way; the
   * rest follows compressed `compress` (the kernel unpacks one archive after the other) */
  compressRuntime?: Compression
  /** how module files are stored (ModuleFiles); default each, archive with compress none */
  moduleFiles?: ModuleFiles
  /** extra files, later entries replace earlier ones at the same path */
  add?: { src: string; dest: string }[]
  /** seconds since the epoch for every entry (SOURCE_DATE_EPOCH, else 0) */
  mtime: number
  /** the root whose /etc/modprobe.d and modules-load.d apply (and go into the image); null: none */
  configRoot?: string | null
  /** default kernel command line words for init (unquoted, as the config parser gives them) */
  cmdline?: readonly string[]
  /** firmware the modules declare (on by default) */
  firmware?: FirmwarePolicy
}

export interface FirmwarePolicy {
  /** false: no firmware at all */
  enabled: boolean
  /** missing firmware is an error, not a warning */
  strict?: boolean
  /** classes (classes.ts) whose modules' firmware stays out */
  excludeClasses?: readonly string[]
  /** the target's firmware_class.path */
  extraPath?: string
}

export interface PlannedFile {
  path: string
  part: Part
  bytes: number
}

export interface Plan {
  selection: Selection
  entries: CpioEntry[]
  files: PlannedFile[]
  /** uncompressed bytes by part */
  sizes: Record<Part, number>
  /** paths of the config files that went into the image */
  configFiles: string[]
  /** each selected module's file size */
  moduleBytes: Map<string, number>
  firmware: FirmwareFile[]
  missingFirmware: MissingFirmware[]
  /** paths stored as they are in an uncompressed archive of their own (moduleFiles each) */
  separate: ReadonlySet<string>
  /** files made when the image is written, by path (their size is the source's until then) */
  madeAtWrite: ReadonlyMap<string, Packed>
}

export interface MkInitramfsResult extends Plan {
  bytes: number
}

/** The kernel's build configuration, when the tree or /boot has it. */
export function readKernelConfig(kernelRoot: string, kver: string): { path: string; text: string } | null {
  const prefix = kernelRoot === '/' ? '' : kernelRoot.replace(/\/+$/, '')
  for (const path of [`${prefix}/boot/config-${kver}`, `${modulesDir(kernelRoot, kver)}/build/.config`, `${modulesDir(kernelRoot, kver)}/config`]) {
    try {
      return { path, text: readFileSync(path, 'latin1') }
    } catch {
      // next place
    }
  }
  return null
}

const RD_OPTION: Record<Compression, string | null> = { none: null, gzip: 'CONFIG_RD_GZIP', zstd: 'CONFIG_RD_ZSTD', lz4: 'CONFIG_RD_LZ4', xz: 'CONFIG_RD_XZ' }

/** Throws when the kernel's config says it cannot unpack this kind of archive. */
export function checkCompression(kind: Compression, config: { path: string; text: string } | null): void {
  const option = RD_OPTION[kind]
  if (option === null || config === null) return
  if (new RegExp(`^${option}=y$`, 'm').test(config.text)) return
  const ok = Object.entries(RD_OPTION)
    .filter(([, o]) => o === null || new RegExp(`^${o}=y$`, 'm').test(config.text))
    .map(([k]) => k)
  throw new MkInitramfsError(`${config.path}: ${option} is not set, so this kernel cannot unpack a ${kind} image; choose --compress ${ok.join(', ')}`)
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/**
 * The root's chain (the modules the host selector picked for the root's disk and filesystem)
 * and the CPU's signature hash, with the dependencies and softdeps they pulled in: what a boot
 * with root= loads first.
 */
export function rootChainClosure(selection: Selection): Set<string> {
  const chain = new Set(selection.modules.filter((m) => m.reasons.some((r) => r.kind === 'root' || r.kind === 'signature-hash')).map((m) => m.name))
  for (let grew = chain.size > 0; grew; ) {
    grew = false
    for (const m of selection.modules) {
      if (chain.has(m.name)) continue
      if (m.reasons.some((r) => (r.kind === 'dependency' || r.kind === 'softdep') && chain.has(r.of))) {
        chain.add(m.name)
        grew = true
      }
    }
  }
  return chain
}

function sourceSize(src: string, dest: string): number {
  try {
    return statSync(src).size
  } catch {
    throw new MkInitramfsError(`${src}: cannot be read (it was to go into the image as ${dest})`)
  }
}

/** Decide what goes into the image. Reads files (indexes, config, sizes), writes nothing. */
export async function plan(opts: MkInitramfsOptions): Promise<Plan> {
  const db = openModuleDb(opts.kernelRoot, opts.kver)
  const dir = db.dir
  const configRoot = opts.configRoot === undefined ? '/' : opts.configRoot
  // without the host's configuration, modules.softdep still applies: it is the tree's own
  const modprobe = loadModprobeConfig({ root: configRoot ?? '/', paths: configRoot === null ? [] : undefined, modulesDir: dir, cmdline: '' })
  let selection: Selection
  try {
    // the CPU's own implementation of the signature hash, when a host selector reads the CPU
    const hostSelected = opts.host !== undefined && opts.selectors.some((s) => s.kind === 'host' || s.kind === 'host-all')
    const cpu = hostSelected ? (opts.host?.devices ?? []).map((d) => d.modalias).filter(isCpuModalias) : []
    const signatureAccelerators = cpu.length ? ((await findSignatureAccelerators(db, modprobe.config, cpu)) ?? undefined) : undefined
    selection = selectModules({ db, config: modprobe.config, selectors: opts.selectors, host: opts.host, rootFs: opts.rootFs, signatureAccelerators })
  } catch (err) {
    if (err instanceof SelectorError) throw new MkInitramfsError(err.message)
    throw err
  }

  const inImage = `/lib/modules/${opts.kver}`
  const byPath = new Map<string, CpioEntry>()
  /** each file's part and size (from stat: nothing is read before write()) */
  const fileInfo = new Map<string, { part: Part; bytes: number }>()
  const put = (e: CpioEntry, part: Part, bytes = e.type === 'file' ? e.data().length : 0): void => {
    byPath.set(e.path, e)
    if (e.type === 'file') fileInfo.set(e.path, { part, bytes })
    else fileInfo.delete(e.path)
  }
  const file = (dest: string, src: string, part: Part, mode?: number): void => {
    let st
    try {
      st = statSync(src)
    } catch {
      throw new MkInitramfsError(`${src}: cannot be read (it was to go into the image as ${dest})`)
    }
    put({ type: 'file', path: dest, mode: mode ?? (st.mode & 0o111 ? 0o755 : 0o644), data: () => readFileSync(src) }, part, st.size)
  }
  const text = (dest: string, content: string, part: Part): void => {
    const data = Buffer.from(content, 'latin1')
    put({ type: 'file', path: dest, mode: 0o644, data: () => data }, part, data.length)
  }

  for (const d of ['/dev', '/proc', '/sys', '/run', '/root', '/sbin', '/bin', '/etc', '/lib', '/lib64', '/usr', '/mnt']) put({ type: 'dir', path: d }, 'config')
  put({ type: 'dir', path: '/tmp', mode: 0o1777 }, 'config')
  // the kernel opens /dev/console for init's stdio before anything can mount devtmpfs
  put({ type: 'chardev', path: '/dev/console', major: 5, minor: 1, mode: 0o600 }, 'config')
  put({ type: 'chardev', path: '/dev/null', major: 1, minor: 3, mode: 0o666 }, 'config')
  put({ type: 'chardev', path: '/dev/kmsg', major: 1, minor: 11, mode: 0o644 }, 'config')
  file('/init', opts.init, 'runtime', 0o755)
  for (const link of TOOL_LINKS) put({ type: 'symlink', path: link, target: '/init' }, 'runtime')
  let libs
  try {
    libs = neededLibraries(opts.init)
  } catch (err) {
    throw new MkInitramfsError(`${opts.init}: ${(err as Error).message}`)
  }
  for (const lib of libs) file(lib.dest, lib.src, 'runtime')

  const inside = new Set(selection.modules.map((m) => m.name))
  const keep = (name: string): boolean => inside.has(name)
  const each = (opts.moduleFiles ?? (opts.compress === 'none' ? 'archive' : 'each')) === 'each'
  const chain = each ? rootChainClosure(selection) : new Set<string>()
  const level = opts.compress === 'zstd' && opts.level !== undefined ? opts.level : DEFAULT_LEVEL.zstd
  /** modules.dep's path -> the path in the image, where they differ */
  const rename = new Map<string, string>()
  const separate = new Set<string>()
  const madeAtWrite = new Map<string, Packed>()
  /** `dest` in the image, made from the module file `src` by `make` when the image is written
   * (xz through xz-decompress's WebAssembly, in this process: one program per file meant
   * forking this executable 200 times, 8 s) */
  const atWrite = (src: string, dest: string, make: (raw: Uint8Array) => Promise<Uint8Array>): void => {
    let bytes: Uint8Array | undefined
    const entry: Packed = {
      prepare: async () => {
        if (bytes !== undefined) return
        try {
          bytes = await make(readFileSync(src))
        } catch (err) {
          throw err instanceof MkInitramfsError ? err : new MkInitramfsError((err as Error).message)
        }
      },
      data: () => {
        if (bytes === undefined) throw new MkInitramfsError(`${src}: not made yet (write() prepares it)`)
        return bytes
      },
    }
    put({ type: 'file', path: dest, mode: 0o644, data: entry.data }, 'modules', sourceSize(src, dest))
    madeAtWrite.set(dest, entry)
  }
  // a module that --add replaces keeps its own path, where the added file lands
  const added = new Set((opts.add ?? []).map((a) => posix.normalize(a.dest)))
  for (const m of selection.modules) {
    const src = `${dir}/${m.path}`
    // an index entry out of the tree must not pull a host file into the image (nor a path
    // out of the image's own module directory)
    try {
      checkModulePath(dir, src)
    } catch (err) {
      throw new MkInitramfsError(`${(err as Error).message}`)
    }
    const kind = compressionOfName(m.path)
    if (!each || (chain.has(m.name) && kind === null) || added.has(`${inImage}/${m.path}`)) {
      file(`${inImage}/${m.path}`, src, 'modules', 0o644)
    } else if (chain.has(m.name)) {
      // the root's chain is loaded before anything else: no decompression on that path
      const plain = m.path.slice(0, m.path.lastIndexOf('.'))
      atWrite(src, `${inImage}/${plain}`, (raw) => decompress(raw, kind as NonNullable<typeof kind>, src))
      rename.set(m.path, plain)
    } else if (kind === 'zstd') {
      file(`${inImage}/${m.path}`, src, 'modules', 0o644)
      separate.add(`${inImage}/${m.path}`)
    } else {
      // zstd, also for a tree's .ko.xz and .ko.gz: decoding xz costs ~6 times what zstd does
      // per byte (the kernel's own decoder under emulation, docs/runtime-weight.md; xz 127 MB/s
      // against zstd 1.3 GB/s on hardware, lzbench), and a boot decodes every module it loads
      const stored = `${kind === null ? m.path : m.path.slice(0, m.path.lastIndexOf('.'))}.zst`
      const dest = `${inImage}/${stored}`
      atWrite(src, dest, async (raw) => zstdBytes(kind === null ? raw : await decompress(raw, kind, src), level, src))
      rename.set(m.path, stored)
      separate.add(dest)
    }
  }

  const fw = await chooseFirmware(opts, selection, dir)
  for (const f of fw.files) {
    if (f.symlink !== undefined) put({ type: 'symlink', path: f.dest, target: f.symlink }, 'firmware')
    else if (f.data) put({ type: 'file', path: f.dest, mode: 0o644, data: f.data }, 'firmware')
    else if (f.src) file(f.dest, f.src, 'firmware', 0o644)
  }
  if (fw.missing.length && opts.firmware?.strict) {
    const msg = describeMissing(fw.missing, opts.kver, opts.firmware?.extraPath)
    throw new MkInitramfsError(`${msg}; install the firmware (Debian: the firmware-* packages), or leave --strict-firmware off`)
  }

  const texts = new Map<string, string>()
  const index = (name: string, trim?: (text: string, keep: (n: string) => boolean) => string): void => {
    const t = readText(`${dir}/${name}`)
    if (t === undefined) return
    const trimmed = trim ? trim(t, keep) : t
    texts.set(name, trimmed)
    text(`${inImage}/${name}`, trimmed, 'indexes')
  }
  index('modules.dep', (t, k) => renamePaths(trimByPath(t, k), rename))
  index('modules.order', (t, k) => renamePaths(trimByPath(t, k), rename))
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
  for (const b of bins) put({ type: 'file', path: `${inImage}/${b.name}`, mode: 0o644, data: () => b.data }, 'indexes')

  // the host's modprobe.d and modules-load.d, trimmed to the modules inside
  const config = configRoot === null ? [] : hostConfigFiles(configRoot, modprobe.files, keep)
  for (const c of config) text(c.dest, c.content, 'config')
  if (opts.cmdline?.length) text(IMAGE_CMDLINE, formatImageCmdline(opts.cmdline), 'config')
  // the root's drivers and filesystem as the host selector found them: init loads them first
  const rootChain = selection.modules.filter((m) => m.reasons.some((r) => r.kind === 'root')).map((m) => m.name)
  if (rootChain.length) text(IMAGE_ROOT_MODULES, rootChain.join('\n') + '\n', 'config')
  // the CPU's signature hash, so that init loads it without looking it up
  const accel = selection.modules.filter((m) => m.reasons.some((r) => r.kind === 'signature-hash'))
  const hash = accel.flatMap((m) => m.reasons.flatMap((r) => (r.kind === 'signature-hash' ? [r.hash] : [])))[0]
  if (hash !== undefined) text(IMAGE_SIGNATURE_HASH, formatSignatureFirst(hash, accel.map((m) => m.name)), 'config')

  for (const a of opts.add ?? []) file(a.dest, a.src, 'config')

  // every parent directory gets its own entry, so the kernel never has to invent one
  for (const p of [...byPath.keys()]) for (const parent of parentDirs(p)) if (!byPath.has(parent)) put({ type: 'dir', path: parent }, 'config')
  const entries = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const sizes = Object.fromEntries(PARTS.map((p) => [p, 0])) as Record<Part, number>
  const files: PlannedFile[] = []
  for (const e of entries) {
    const info = fileInfo.get(e.path)
    if (info === undefined) continue
    sizes[info.part] += info.bytes
    files.push({ path: e.path, ...info })
  }
  const moduleBytes = new Map(selection.modules.map((m) => [m.name, fileInfo.get(`${inImage}/${rename.get(m.path) ?? m.path}`)?.bytes ?? 0]))
  const configFiles = config.map((c) => c.from)
  return { selection, entries, files, sizes, configFiles, moduleBytes, firmware: fw.files, missingFirmware: fw.missing, separate, madeAtWrite }
}

/**
 * The modprobe.d files that apply on the host (kmod's order and hiding) and its modules-load.d
 * lists (systemd's), each kept to the lines about modules inside the image; files left empty
 * stay out.
 */
function hostConfigFiles(root: string, modprobeFiles: readonly ConfigFile[], keep: (name: string) => boolean): { dest: string; content: string; from: string }[] {
  const out: { dest: string; content: string; from: string }[] = []
  const add = (dest: string, from: string, trim: (text: string, keep: (n: string) => boolean) => string): void => {
    const t = readText(from)
    const content = t === undefined ? '' : trim(t, keep)
    if (content.trim().length) out.push({ dest, content, from })
  }
  for (const f of modprobeFiles) if (f.name !== 'modules.softdep') add(`/etc/modprobe.d/${f.name}`, f.path, trimModprobeConf)
  for (const from of readModulesLoad(root).files) add(`/etc/modules-load.d/${from.slice(from.lastIndexOf('/') + 1)}`, from, trimModulesLoad)
  return out
}

/**
 * The firmware= fields of the selected modules, eight files at a time. A module whose modinfo
 * cannot be read still goes in (the kernel is the judge of a module); the user hears that its
 * firmware, if it has any, could not be looked for.
 */
async function declaredFirmware(selection: Selection, dir: string): Promise<ModuleFirmware[]> {
  const out: ModuleFirmware[] = []
  const items = selection.modules.map((m) => ({ module: m.name, path: `${dir}/${m.path}` }))
  for (let i = 0; i < items.length; i += 8) {
    const chunk = items.slice(i, i + 8)
    const got = await Promise.all(
      chunk.map((it) =>
        moduleFirmware([it]).catch((err: Error) => {
          selection.warnings.push(`${it.path}: cannot read its modinfo (${err.message}); firmware it may need is not added`)
          return []
        }),
      ),
    )
    out.push(...got.flat())
  }
  return out
}

/** The firmware the selected modules (and the kernel's built-in drivers) declare. */
async function chooseFirmware(opts: MkInitramfsOptions, selection: Selection, dir: string): Promise<{ files: FirmwareFile[]; missing: MissingFirmware[] }> {
  const policy = opts.firmware ?? { enabled: true }
  if (!policy.enabled) return { files: [], missing: [] }
  const wants = [...(await declaredFirmware(selection, dir)), ...builtinModuleFirmware(opts.kernelRoot, opts.kver)]
  const excluded = new Set<string>()
  for (const c of policy.excludeClasses ?? []) {
    const cls = DRIVER_CLASSES[c]
    if (!cls) throw new MkInitramfsError(`firmware exclusion: unknown class ${c} (known: ${Object.keys(DRIVER_CLASSES).join(', ')})`)
    for (const m of selection.modules) if (classMatches(cls, m.path)) excluded.add(m.name)
  }
  return findFirmware(wants, { root: opts.kernelRoot, kver: opts.kver, extraPath: policy.extraPath, exclude: (m) => excluded.has(m) })
}

/**
 * The image's archives: one, or with compressRuntime the runtime's files (and the directories
 * above them) first, compressed their own way, then the rest.
 */
export function segments(p: Pick<Plan, 'entries' | 'files'> & Partial<Pick<Plan, 'separate'>>, opts: Pick<MkInitramfsOptions, 'compress' | 'level' | 'compressRuntime'>): Segment[] {
  const separate = p.separate ?? new Set<string>()
  // last, after the archive that makes their directories
  const stored: Segment[] = separate.size ? [{ entries: p.entries.filter((e) => separate.has(e.path)), compress: 'none' }] : []
  const rest = p.entries.filter((e) => !separate.has(e.path))
  if (opts.compressRuntime === undefined) return [{ entries: rest, compress: opts.compress, level: opts.level }, ...stored]
  const runtime = new Set(p.files.filter((f) => f.part === 'runtime').map((f) => f.path))
  for (const e of p.entries) if (e.type === 'symlink' && e.target === '/init') runtime.add(e.path)
  for (const path of [...runtime]) for (const dir of parentDirs(path)) runtime.add(dir)
  return [
    { entries: rest.filter((e) => runtime.has(e.path)), compress: opts.compressRuntime },
    { entries: rest.filter((e) => !runtime.has(e.path)), compress: opts.compress, level: opts.level },
    ...stored,
  ]
}

/** Write a planned image (the files it compresses first). */
export async function write(p: Plan, opts: Pick<MkInitramfsOptions, 'output' | 'compress' | 'level' | 'mtime' | 'compressRuntime'>): Promise<number> {
  for (const f of p.madeAtWrite.values()) await f.prepare()
  return writeImage(segments(p, opts), opts.mtime, opts.output)
}

/**
 * The runtime's own compression when the user did not choose: lz4 when the target kernel's
 * config says it unpacks lz4 and the rest is compressed more tightly. Under emulation lz4 cost
 * the kernel 0.75 s for the 80 MB runtime against 2.1 s for zstd (docs/runtime-weight.md); on
 * hardware lz4 decodes at several GB/s, and the 15 MB more it stores cost a disk tens of ms.
 * Without the kernel's config, one archive: nothing is assumed about what the kernel reads.
 */
export function defaultRuntimeCompression(compress: Compression, config: { text: string } | null): Compression | undefined {
  if (config === null || compress === 'lz4' || compress === 'none') return undefined
  return /^CONFIG_RD_LZ4=y$/m.test(config.text) ? 'lz4' : undefined
}

export async function mkinitramfs(opts: MkInitramfsOptions): Promise<MkInitramfsResult> {
  const config = readKernelConfig(opts.kernelRoot, opts.kver)
  checkCompression(opts.compress, config)
  if (opts.compressRuntime !== undefined) checkCompression(opts.compressRuntime, config)
  const p = await plan(opts)
  const bytes = await write(p, opts)
  // the sizes of the files made while writing, as stored
  for (const f of p.files) {
    const packed = p.madeAtWrite.get(f.path)
    if (packed === undefined) continue
    const stored = packed.data().length
    p.sizes[f.part] += stored - f.bytes
    f.bytes = stored
  }
  return { ...p, bytes }
}
