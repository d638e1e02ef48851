// Firmware for an initramfs: which files the kernel would load for the `firmware=` names of the
// modules going into an image, and where they go in it. Pure: the file system comes in through
// FirmwareFs (src/image/firmware-fs.ts has the real one, and the async edge that reads module
// files, modules.builtin.modinfo and the kernel config).
//
// API
//   planFirmware(wants, opts) -> { files, missing }
//     wants: [{ module, firmware: [names] }] (the modules' modinfo `firmware=` fields);
//     files: what to put in the image ({ dest, src | decompress | symlink, modules });
//     missing: names found nowhere, grouped by module, for the caller to print once (a warning,
//     or an error with --strict-firmware). opts.exclude(module) leaves a module's firmware out.
//   firmwareSearchDirs(kver, extraPath?)      the search order below, as data
//   parseFirmwareDecompression(configText)    which compressed kinds the kernel reads
//   builtinFirmware(modinfo, modules?)        the firmware= of built-in modules
//   resolveInRoot(fs, root, path)             realpath inside a root (absolute links stay in it)
// and in firmware-fs.ts: findFirmware(wants, { root, kver, extraPath?, exclude?, decompression? })
// (plans with the real file system, reads the kernel config under root, decompresses; its files
// carry src, data or symlink), moduleFirmware(files), builtinModuleFirmware(root, kver, modules?),
// kernelFirmwareDecompression(root, kver).
//
// Search order: the kernel's own (drivers/base/firmware_loader/main.c, fw_path[] and
// _request_firmware), so the image holds the file the kernel would load on the installed
// system and nothing it would shadow:
//   1. every directory for NAME itself: firmware_class.path (the optional extra directory),
//      /lib/firmware/updates/KVER, /lib/firmware/updates, /lib/firmware/KVER, /lib/firmware;
//   2. then every directory again for NAME.zst (CONFIG_FW_LOADER_COMPRESS_ZSTD; the kernel tries
//      .zst before .xz since zstd support came in 5.19),
//   3. then for NAME.xz (CONFIG_FW_LOADER_COMPRESS_XZ).
// A kind the target kernel cannot decompress is tried after the kinds it can, and a file of that
// kind is decompressed at build time and stored as plain NAME (so it still loads). All paths are
// under opts.root (mkinitramfs --kernel-root). Only a regular file counts (as for the kernel,
// a directory, a dangling link or a loop means "not here, try the next").
//
// In the image a file keeps its path relative to the directory it was found in, under
// /lib/firmware (updates/ stays updates/, the extra directory maps to /lib/firmware itself, where
// the kernel looks without firmware_class.path). Symbolic links on the way (linux-firmware has
// many, file and directory links) stay links, with relative targets, and their targets come
// too; a link that leads out of the firmware directories is replaced by a copy of what it
// points to. Names with glob characters (MODULE_FIRMWARE("brcm/brcmfmac*-pcie.*.bin")) are
// expanded per path component against every directory, as dracut does: the driver picks one
// at run time, so every match comes.
import { fnmatch, isGlob } from '../core/fnmatch.js'
import type { BuiltinModinfo } from '../format/modules-builtin-modinfo.js'

/** Where firmware lives in the image (and, without firmware_class.path, where the kernel looks). */
export const FIRMWARE_DIR = '/lib/firmware'

export interface ModuleFirmware {
  module: string
  /** the module's `firmware=` values, as declared (may hold glob characters) */
  firmware: string[]
}

export type Decompressor = 'xz' | 'zstd'

/** One entry for the image. Exactly one of src (copy), decompress (src decompressed), symlink. */
export interface FirmwarePlanFile {
  /** absolute path in the image, under /lib/firmware */
  dest: string
  /** the host file to copy (absolute) */
  src?: string
  /** src is compressed with this, which the kernel cannot read: store it decompressed */
  decompress?: Decompressor
  /** a symbolic link with this (relative) target */
  symlink?: string
  /** the modules this entry serves, sorted */
  modules: string[]
}

export interface MissingFirmware {
  module: string
  names: string[]
}

export interface FirmwarePlan {
  /** sorted by dest */
  files: FirmwarePlanFile[]
  /** sorted by module; names in declaration order */
  missing: MissingFirmware[]
}

/** What the kernel's firmware loader can decompress. */
export interface FirmwareDecompression {
  xz: boolean
  zstd: boolean
}

/** The kind of a directory entry, not following a final symlink; null when nothing is there. */
export type NodeKind = 'file' | 'dir' | 'symlink' | 'other'

/** The file-system calls the planner needs, on absolute host paths. */
export interface FirmwareFs {
  lkind(path: string): NodeKind | null
  readlink(path: string): string
  /** entry names; [] when the directory cannot be read */
  readdir(path: string): string[]
}

export interface FirmwareOptions {
  fs: FirmwareFs
  /** directory holding lib/firmware (and lib/modules, boot); '/' for the running system */
  root: string
  kver: string
  /** firmware_class.path of the target system (an absolute path as seen from root) */
  extraPath?: string
  /** what the target kernel decompresses; unknown (undefined) means both */
  decompression?: FirmwareDecompression
  /** modules whose firmware stays out of the image (neither copied nor reported missing) */
  exclude?: (module: string) => boolean
}

export interface SearchDir {
  /** the directory on the target system, absolute */
  path: string
  /** where its files go in the image */
  image: string
}

/** The kernel's firmware search path, in its order (fw_path[] in firmware_loader/main.c). */
export function firmwareSearchDirs(kver: string, extraPath?: string): SearchDir[] {
  const dirs: SearchDir[] = []
  const extra = extraPath?.replace(/\/+$/, '')
  if (extra) dirs.push({ path: extra, image: FIRMWARE_DIR })
  for (const sub of [`updates/${kver}`, 'updates', kver, '']) {
    const d = sub ? `${FIRMWARE_DIR}/${sub}` : FIRMWARE_DIR
    dirs.push({ path: d, image: d })
  }
  return dirs
}

/** Suffixes in the kernel's order: plain, then .zst, then .xz (_request_firmware). */
const SUFFIXES: ReadonlyArray<{ suffix: string; kind: Decompressor | null }> = [
  { suffix: '', kind: null },
  { suffix: '.zst', kind: 'zstd' },
  { suffix: '.xz', kind: 'xz' },
]

/**
 * What a kernel config says its firmware loader decompresses. Before 5.19 there was only
 * CONFIG_FW_LOADER_COMPRESS, meaning xz; since then it gates _XZ and _ZSTD.
 */
export function parseFirmwareDecompression(config: string): FirmwareDecompression {
  const set = new Map<string, string>()
  let xzKnown = false
  for (const line of config.split('\n')) {
    const m = /^(CONFIG_FW_LOADER_COMPRESS\w*)=(\S*)/.exec(line)
    if (m) set.set(m[1], m[2])
    if (/\bCONFIG_FW_LOADER_COMPRESS_XZ\b/.test(line)) xzKnown = true
  }
  if (set.get('CONFIG_FW_LOADER_COMPRESS') !== 'y') return { xz: false, zstd: false }
  return {
    xz: xzKnown ? set.get('CONFIG_FW_LOADER_COMPRESS_XZ') === 'y' : true,
    zstd: set.get('CONFIG_FW_LOADER_COMPRESS_ZSTD') === 'y',
  }
}

/** The firmware= values of built-in modules (all of them, or those named), in file order. */
export function builtinFirmware(info: BuiltinModinfo, modules?: Iterable<string>): ModuleFirmware[] {
  const names = modules ? new Set(modules) : null
  const out: ModuleFirmware[] = []
  for (const [module, pairs] of info.first) {
    if (names && !names.has(module)) continue
    const firmware = pairs.filter(([k, v]) => k === 'firmware' && v !== '').map(([, v]) => v)
    if (firmware.length) out.push({ module, firmware })
  }
  return out
}

// ---- path resolution inside a root ---------------------------------------------------------

/** A symbolic link met while resolving: where it is and the entry it names (root-relative
 * paths, no leading '/', real up to their last component: `to` may be the next link). */
export interface LinkHop {
  at: string
  to: string
}

export interface Resolved {
  /** root-relative real path ('' is the root itself) */
  real: string
  /** what is there; null: nothing (missing, dangling, a file used as a directory, a loop) */
  kind: Exclude<NodeKind, 'symlink'> | null
  /** links crossed, in the order met */
  links: LinkHop[]
}

/** Up to this many links per lookup, as the kernel's path walk (MAXSYMLINKS). */
const MAX_LINKS = 40

const hostPath = (root: string, rel: string): string => {
  const r = root === '/' ? '' : root.replace(/\/+$/, '')
  return rel ? `${r}/${rel}` : r || '/'
}

function walk(fs: FirmwareFs, root: string, base: readonly string[], comps: readonly string[], budget: { links: number }, links: LinkHop[]): { parts: string[]; kind: Resolved['kind'] } {
  let done = [...base]
  let kind: Resolved['kind'] = 'dir'
  for (const comp of comps) {
    if (comp === '' || comp === '.') continue
    if (kind !== 'dir') return { parts: done, kind: null }
    if (comp === '..') {
      done.pop() // physical parent; the root's parent is the root
      continue
    }
    const here = [...done, comp]
    const k = fs.lkind(hostPath(root, here.join('/')))
    if (k === null) return { parts: here, kind: null }
    if (k === 'symlink') {
      if (--budget.links < 0) return { parts: here, kind: null }
      const target = fs.readlink(hostPath(root, here.join('/')))
      const from = target.startsWith('/') ? [] : done
      const tcomps = target.split('/').filter((c) => c !== '')
      const last = tcomps.at(-1)
      let r: { parts: string[]; kind: Resolved['kind'] }
      if (last === undefined || last === '.' || last === '..') {
        r = walk(fs, root, from, tcomps, budget, links)
        links.push({ at: here.join('/'), to: r.parts.join('/') })
      } else {
        // the link names an entry in a directory: that entry (a file, or the next link of a
        // chain) is its target, so chains stay chains
        const dir = walk(fs, root, from, tcomps.slice(0, -1), budget, links)
        links.push({ at: here.join('/'), to: [...dir.parts, last].join('/') })
        r = dir.kind === 'dir' ? walk(fs, root, dir.parts, [last], budget, links) : { parts: dir.parts, kind: null }
      }
      if (r.kind === null) return r
      done = r.parts
      kind = r.kind
      continue
    }
    done = here
    kind = k
  }
  return { parts: done, kind }
}

/** `path` (absolute as seen from root, or relative to `from`) resolved the way the kernel
 * would with root as '/': absolute link targets start again at root, '..' stops there. */
export function resolveInRoot(fs: FirmwareFs, root: string, path: string, from: readonly string[] = []): Resolved {
  const links: LinkHop[] = []
  const r = walk(fs, root, path.startsWith('/') ? [] : from, path.split('/'), { links: MAX_LINKS }, links)
  return { real: r.parts.join('/'), kind: r.kind, links }
}

// ---- the planner ---------------------------------------------------------------------------

interface Dir {
  /** root-relative real path of the directory */
  real: string
  image: string
}

/** A firmware name as a clean relative path ('a//./b' -> 'a/b'), or null for one that is not a
 * file below the search directories (absolute, '..', a trailing '/'). */
function cleanName(name: string): string | null {
  if (name.startsWith('/') || name.endsWith('/') || name.split('/').includes('..')) return null
  return name.split('/').filter((c) => c !== '' && c !== '.').join('/') || null
}

function relativeLink(fromDir: string, to: string): string {
  const a = fromDir.split('/').filter(Boolean)
  const b = to.split('/').filter(Boolean)
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/') || '.'
}

const dirname = (p: string): string => p.slice(0, Math.max(0, p.lastIndexOf('/')))
const parts = (real: string): string[] => real.split('/').filter(Boolean)

class Planner {
  private readonly dirs: Dir[]
  private readonly byDest = new Map<string, FirmwarePlanFile & { mods: Set<string> }>()
  private readonly lookups = new Map<string, string[] | null>()
  private readonly order: ReadonlyArray<{ suffix: string; kind: Decompressor | null; decompress: boolean }>

  constructor(private readonly opts: FirmwareOptions) {
    this.dirs = []
    for (const d of firmwareSearchDirs(opts.kver, opts.extraPath)) {
      const r = resolveInRoot(opts.fs, opts.root, d.path)
      if (r.kind === 'dir') this.dirs.push({ real: r.real, image: d.image })
    }
    const can = (k: Decompressor | null): boolean => k === null || (opts.decompression?.[k] ?? true)
    // kinds the kernel reads first, in its order; the others after, decompressed here
    this.order = [...SUFFIXES.filter((s) => can(s.kind)), ...SUFFIXES.filter((s) => !can(s.kind))].map((s) => ({ ...s, decompress: !can(s.kind) }))
  }

  /** The search directory holding a real path (the innermost), or undefined. */
  private dirOf(real: string): Dir | undefined {
    let best: Dir | undefined
    for (const d of this.dirs) {
      const inside = d.real === '' || real === d.real || real.startsWith(`${d.real}/`)
      if (inside && (!best || d.real.length > best.real.length)) best = d
    }
    return best
  }

  private image(real: string): string | undefined {
    const d = this.dirOf(real)
    return d && d.image + real.slice(d.real.length)
  }

  /** Add an entry unless its path is taken: names are looked up in the kernel's order of
   * precedence, so the first entry for a path is the one the kernel would read. */
  private put(e: Omit<FirmwarePlanFile, 'modules'>): string {
    if (!this.byDest.has(e.dest)) this.byDest.set(e.dest, { ...e, modules: [], mods: new Set() })
    return e.dest
  }

  private keepable(l: LinkHop): boolean {
    return this.image(l.at) !== undefined && this.image(l.to) !== undefined
  }

  private link(l: LinkHop): string {
    const at = this.image(l.at)!
    return this.put({ dest: at, symlink: relativeLink(dirname(at), this.image(l.to)!) })
  }

  /** Attribute a concrete name to a module; false when it is found nowhere. */
  private lookup(name: string, module: string): boolean {
    let dests = this.lookups.get(name)
    if (dests === undefined) {
      dests = this.find(name)
      this.lookups.set(name, dests)
    }
    if (dests === null) return false
    for (const d of dests) this.byDest.get(d)!.mods.add(module)
    return true
  }

  /** The image entries a concrete name needs (added when new), or null when it is nowhere. */
  private find(wanted: string): string[] | null {
    const name = cleanName(wanted)
    if (name === null) return null
    const comps = name.split('/')
    const base = comps[comps.length - 1]
    const { fs, root } = this.opts
    for (const { suffix, kind, decompress } of this.order) {
      for (const dir of this.dirs) {
        const parent = resolveInRoot(fs, root, comps.slice(0, -1).join('/'), parts(dir.real))
        if (parent.kind !== 'dir') continue
        const leaf = resolveInRoot(fs, root, base + suffix, parts(parent.real))
        if (leaf.kind !== 'file') continue

        // Directory links on the way stay links when they stay inside the firmware dirs;
        // otherwise the name's own directories become real ones in the image.
        const parentKeep = this.image(parent.real) !== undefined && parent.links.every((l) => this.keepable(l))
        const parentImage = parentKeep ? this.image(parent.real)! : `${dir.image}/${dirname(name)}`.replace(/\/$/, '')
        const src = hostPath(root, leaf.real)
        const dests = parentKeep ? parent.links.map((l) => this.link(l)) : []
        if (decompress) {
          dests.push(this.put({ dest: `${parentImage}/${base}`, src, decompress: kind! }))
        } else if (parentKeep && this.image(leaf.real) !== undefined && leaf.links.every((l) => this.keepable(l))) {
          dests.push(...leaf.links.map((l) => this.link(l)), this.put({ dest: this.image(leaf.real)!, src }))
        } else {
          dests.push(this.put({ dest: `${parentImage}/${base}${suffix}`, src }))
        }
        return dests
      }
    }
    return null
  }

  /** Concrete names matching a glob, over every search directory and suffix. */
  private expand(pattern: string): string[] {
    const out = new Set<string>()
    const comps = pattern.split('/').filter((c) => c !== '' && c !== '.')
    const fs = this.opts.fs
    const go = (dirParts: string[], prefix: string[], i: number): void => {
      const c = comps[i]
      const last = i === comps.length - 1
      if (!isGlob(c)) {
        if (last) out.add([...prefix, c].join('/'))
        else {
          const r = resolveInRoot(fs, this.opts.root, c, dirParts)
          if (r.kind === 'dir') go(parts(r.real), [...prefix, c], i + 1)
        }
        return
      }
      for (const e of fs.readdir(hostPath(this.opts.root, dirParts.join('/'))).sort()) {
        if (last) {
          const s = SUFFIXES.find((x) => x.suffix && e.endsWith(x.suffix) && fnmatch(c, e.slice(0, -x.suffix.length)))
          if (s) out.add([...prefix, e.slice(0, -s.suffix.length)].join('/'))
          else if (fnmatch(c, e)) out.add([...prefix, e].join('/'))
        } else if (fnmatch(c, e)) {
          const r = resolveInRoot(fs, this.opts.root, e, dirParts)
          if (r.kind === 'dir') go(parts(r.real), [...prefix, e], i + 1)
        }
      }
    }
    if (comps.length && !comps.includes('..')) for (const d of this.dirs) go(parts(d.real), [], 0)
    return [...out].sort()
  }

  plan(wants: readonly ModuleFirmware[]): FirmwarePlan {
    const missing = new Map<string, string[]>()
    const miss = (module: string, name: string): void => {
      const l = missing.get(module) ?? []
      if (!l.includes(name)) l.push(name)
      missing.set(module, l)
    }
    for (const { module, firmware } of wants) {
      if (this.opts.exclude?.(module)) continue
      for (const name of firmware) {
        if (name === '') continue
        if (isGlob(name)) {
          let any = false
          for (const n of this.expand(name)) any = this.lookup(n, module) || any
          if (!any) miss(module, name)
        } else if (!this.lookup(name, module)) miss(module, name)
      }
    }
    const files = [...this.byDest.values()]
      .map(({ mods, ...e }) => ({ ...e, modules: [...mods].sort() }))
      .sort((a, b) => (a.dest < b.dest ? -1 : a.dest > b.dest ? 1 : 0))
    const missingList = [...missing].map(([module, names]) => ({ module, names })).sort((a, b) => (a.module < b.module ? -1 : a.module > b.module ? 1 : 0))
    return { files, missing: missingList }
  }
}

/** The firmware files for an image, and what could not be found. See the top of this file. */
export function planFirmware(wants: readonly ModuleFirmware[], opts: FirmwareOptions): FirmwarePlan {
  return new Planner(opts).plan(wants)
}

/** One line for the caller's warning (or error): which modules miss what, and where we looked. */
export function describeMissing(missing: readonly MissingFirmware[], kver: string, extraPath?: string): string {
  const dirs = firmwareSearchDirs(kver, extraPath).map((d) => d.path)
  const what = missing.map((m) => `${m.module}: ${m.names.join(' ')}`).join('; ')
  return `firmware not found for ${missing.length} module${missing.length === 1 ? '' : 's'} (searched ${dirs.join(', ')}, also as .zst and .xz): ${what}`
}
