// Host facts: what a machine's /sys says it needs from an initramfs. The devices with a
// modalias and the driver bound to each, the modules loaded, the built-in drivers bound to
// something, and what lies under / (the block devices behind it, through dm and md, and the
// drivers of the disks' controllers). The I/O edge of host-only images: everything above it
// (scan.ts, image selection) takes HostFacts and is pure.
//
// The sysfs root is injectable, and the same reader takes a live /sys, a copy of one, or a
// capture: the mini-tree below, written by captureEntries + writeCapture (`modload scan
// --save DIR`, or, inside a QEMU guest, printed on the console by capture.ts). A capture holds
// only what readHostFacts reads, laid out as sysfs lays it out, so the reader has one code path:
//
//   devices/<path>/modalias                 the device's modalias (a file, newline-terminated)
//   devices/<path>/driver                   symlink -> ../<...>/bus/<bus>/drivers/<driver>
//   bus/<bus>/drivers/<driver>/module       symlink whose basename is the module
//                                           (-> ../../../../module/<name>; may dangle)
//   module/<name>/initstate                 a loadable module's state ("live"): loaded
//   module/<name>/drivers/                  a directory: a built-in module with drivers
//   mountinfo                               a copy of /proc/self/mountinfo (not in real sysfs)
//   class/block/<dev>                       symlink -> ../../devices/<path of the block dev>
//   devices/<block dev path>/dev            "MAJ:MIN"
//   devices/<block dev path>/slaves/<dev>   symlinks (only the names are read)
//   devices/<block dev path>/dm/name        a device-mapper device's name
//   devices/<parent>/driver                 as above, for the parents of the root's disks
//
// Only block devices behind / are captured, and driver links only for devices with a
// modalias and for the root disks' parents. Devices come and go while we walk (a driver that
// just loaded adds children): a vanished entry is skipped, never an error.
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, posix } from 'node:path'
import { scanDevices, tolerate, ueventModalias } from '../init/sysfs.js'
import { normalizeName } from '../core/names.js'

export interface HostDevice {
  /** relative to the sysfs root, e.g. devices/pci0000:00/0000:00:03.0 */
  path: string
  modalias: string
  /** the bound driver's name (basename of the driver link), e.g. "virtio-pci" */
  driver?: string
  /** the bound driver's module (basename of driver/module), normalised, e.g. "virtio_pci" */
  module?: string
}

export interface RootFacts {
  /** mount source and type of / (from mountinfo) */
  source: string
  fstype: string
  /** the block devices behind /, the mounted one first, then through slaves/ (dm, md) */
  blockDevices: string[]
  /** devices/... paths of the bottom disks' parents that have a driver, controller first */
  devicePaths: string[]
  /** the modules of those drivers (driver/module links up the parent chain) */
  modules: string[]
  /** the modaliases of those devices whose driver names no module: a driver registered
   * without an owner has no driver/module link (mmc_block's "mmcblk" is one), so its module is
   * the loaded one that the device's modalias resolves to */
  modaliases?: string[]
}

export interface HostFacts {
  sysfs: string
  /** every device with a modalias, sorted by path */
  devices: HostDevice[]
  /** /sys/module/* with an initstate file: loadable modules that are loaded */
  loaded: string[]
  /** /sys/module/* without initstate but with drivers/: built-in modules with drivers */
  builtinBound: string[]
  root?: RootFacts
}

export interface ReadHostOptions {
  /** default /sys */
  sysfs?: string
  /** /proc/self/mountinfo's text, or a path to read it from; default: /proc/self/mountinfo
   * for the live /sys, else the capture's own mountinfo when it has one */
  procSelfMountinfo?: string
  /** false: no root facts */
  root?: boolean
}

const LIVE_SYSFS = '/sys'
const LIVE_MOUNTINFO = '/proc/self/mountinfo'

// --- mountinfo ------------------------------------------------------------------------------

/** One line of /proc/self/mountinfo (proc(5)): "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS
 * [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS", with space, tab, newline and backslash in
 * paths written as octal escapes (\040). */
export interface MountEntry {
  devnum: string
  mountPoint: string
  fstype: string
  source: string
}

function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)))
}

/** Pure parser of mountinfo; lines it cannot read are skipped. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = []
  for (const line of text.split('\n')) {
    const f = line.split(' ')
    const sep = f.indexOf('-', 6)
    if (f.length < 7 || sep < 0 || sep + 2 >= f.length) continue
    out.push({ devnum: f[2], mountPoint: unescapeOctal(f[4]), fstype: f[sep + 1], source: unescapeOctal(f[sep + 2]) })
  }
  return out
}

/** The mount that is / now: the last one on "/" (later mounts stack on earlier ones). */
export function rootMount(entries: readonly MountEntry[]): MountEntry | undefined {
  for (let i = entries.length - 1; i >= 0; i--) if (entries[i].mountPoint === '/') return entries[i]
  return undefined
}


const readText = (p: string): string | undefined => tolerate<string | undefined>(() => readFileSync(p, 'latin1'), undefined)
const readLink = (p: string): string | undefined => tolerate<string | undefined>(() => readlinkSync(p), undefined)
const listDir = (p: string): string[] => tolerate(() => readdirSync(p).sort(), [] as string[])
const isDir = (p: string): boolean => tolerate(() => lstatSync(p).isDirectory(), false)
const realPath = (p: string): string | undefined => tolerate<string | undefined>(() => realpathSync(p), undefined)
const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1)

// --- what is read, with the detail a capture needs ------------------------------------------

interface DriverLinks {
  /** readlink of <dev>/driver */
  driver: string
  /** readlink of <dev>/driver/module */
  module?: string
}

interface BlockNode {
  name: string
  /** devices/... of the block device */
  path: string
  dev: string
  slaves: string[]
  dmName?: string
}

interface Gathered {
  facts: HostFacts
  drivers: Map<string, DriverLinks>
  initstate: Map<string, string>
  mountinfo?: string
  chain: BlockNode[]
}

function driverLinks(dir: string): DriverLinks | undefined {
  const driver = readLink(`${dir}/driver`)
  if (driver === undefined) return undefined
  const module = readLink(`${dir}/driver/module`)
  return module === undefined ? { driver } : { driver, module }
}

function mountinfoText(sysfs: string, opts: ReadHostOptions): string | undefined {
  const given = opts.procSelfMountinfo
  if (given !== undefined) return given === '' || given.includes('\n') ? given : readText(given)
  return readText(sysfs === LIVE_SYSFS ? LIVE_MOUNTINFO : `${sysfs}/mountinfo`)
}

/** The block device / is on: by device number, else by the mount source (btrfs and others
 * show an anonymous 0:N in mountinfo). */
function findRootBlock(sysfs: string, m: MountEntry, names: readonly string[]): string | undefined {
  const byNum = names.find((n) => readText(`${sysfs}/class/block/${n}/dev`)?.trim() === m.devnum)
  if (byNum !== undefined) return byNum
  if (!m.source.startsWith('/dev/')) return undefined
  if (m.source.startsWith('/dev/mapper/')) {
    const dm = m.source.slice('/dev/mapper/'.length)
    return names.find((n) => readText(`${sysfs}/class/block/${n}/dm/name`)?.trim() === dm)
  }
  const name = m.source.slice('/dev/'.length).replaceAll('/', '!')
  return names.includes(name) ? name : undefined
}

function gatherRoot(sysfs: string, realSysfs: string, text: string, g: Gathered): RootFacts | undefined {
  const m = rootMount(parseMountinfo(text))
  if (!m) return undefined
  const root: RootFacts = { source: m.source, fstype: m.fstype, blockDevices: [], devicePaths: [], modules: [] }
  const names = listDir(`${sysfs}/class/block`)
  const first = findRootBlock(sysfs, m, names)
  const queue = first === undefined ? [] : [first]
  const leaves: BlockNode[] = []
  for (let i = 0; i < queue.length; i++) {
    const name = queue[i]
    const real = realPath(`${sysfs}/class/block/${name}`)
    const dev = readText(`${sysfs}/class/block/${name}/dev`)?.trim()
    if (real === undefined || dev === undefined || !real.startsWith(`${realSysfs}/devices/`)) continue
    const node: BlockNode = { name, path: real.slice(realSysfs.length + 1), dev, slaves: listDir(`${real}/slaves`) }
    const dmName = readText(`${real}/dm/name`)?.trim()
    if (dmName !== undefined) node.dmName = dmName
    g.chain.push(node)
    root.blockDevices.push(name)
    if (node.slaves.length === 0) leaves.push(node)
    for (const s of node.slaves) if (!queue.includes(s)) queue.push(s)
  }
  // the drivers the bottom disks need: every parent with a driver, controller first
  for (const leaf of leaves) {
    const parts = leaf.path.split('/')
    for (let n = 2; n < parts.length; n++) {
      const path = parts.slice(0, n).join('/')
      if (root.devicePaths.includes(path)) continue
      const links = driverLinks(`${realSysfs}/${path}`)
      if (!links) continue
      g.drivers.set(path, links)
      root.devicePaths.push(path)
      if (links.module !== undefined) {
        const mod = normalizeName(base(links.module))
        if (!root.modules.includes(mod)) root.modules.push(mod)
        continue
      }
      const alias = deviceModalias(g, `${realSysfs}/${path}`, path, links)
      if (alias !== undefined && !(root.modaliases ??= []).includes(alias)) root.modaliases.push(alias)
    }
  }
  return root
}

/** The modalias of the device at `dir` (relative `path`): its modalias file, else the MODALIAS
 * of its uevent, which some buses only report there (mmc: "mmc:block"); a device found only
 * through its uevent joins the facts' devices, so a capture records it as a modalias file. */
function deviceModalias(g: Gathered, dir: string, path: string, links: DriverLinks): string | undefined {
  const known = g.facts.devices.find((d) => d.path === path)
  if (known) return known.modalias
  const alias = ueventModalias(dir)
  if (!alias) return undefined
  g.facts.devices.push({ path, modalias: alias, driver: base(links.driver) })
  g.facts.devices.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  return alias
}

function gather(opts: ReadHostOptions): Gathered {
  const sysfs = (opts.sysfs ?? LIVE_SYSFS).replace(/(.)\/+$/, '$1')
  const g: Gathered = {
    facts: { sysfs, devices: [], loaded: [], builtinBound: [] },
    drivers: new Map(),
    initstate: new Map(),
    chain: [],
  }
  for (const d of scanDevices(sysfs)) {
    const dev: HostDevice = { path: d.device.slice(sysfs.length + 1), modalias: d.modalias }
    const links = driverLinks(d.device)
    if (links) {
      g.drivers.set(dev.path, links)
      dev.driver = base(links.driver)
      if (links.module !== undefined) dev.module = normalizeName(base(links.module))
    }
    g.facts.devices.push(dev)
  }
  g.facts.devices.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  for (const name of listDir(`${sysfs}/module`)) {
    const state = readText(`${sysfs}/module/${name}/initstate`)
    if (state !== undefined) {
      g.initstate.set(name, state)
      g.facts.loaded.push(normalizeName(name))
    } else if (isDir(`${sysfs}/module/${name}/drivers`)) {
      g.facts.builtinBound.push(normalizeName(name))
    }
  }
  if (opts.root !== false) {
    const text = mountinfoText(sysfs, opts)
    const realSysfs = realPath(sysfs)
    if (text !== undefined && realSysfs !== undefined) {
      g.mountinfo = text
      const root = gatherRoot(sysfs, realSysfs, text, g)
      if (root) g.facts.root = root
    }
  }
  return g
}

/** What the machine at `sysfs` (default the live /sys) says it needs; see the file header. */
export function readHostFacts(opts: ReadHostOptions = {}): HostFacts {
  return gather(opts).facts
}

// --- capture --------------------------------------------------------------------------------

/** One entry of a capture, relative to its directory. */
export type CaptureEntry =
  | { kind: 'file'; path: string; text: string }
  | { kind: 'link'; path: string; target: string }
  | { kind: 'dir'; path: string }

const DRIVER_LINK = /(?:^|\/)bus\/([^/]+)\/drivers\/([^/]+)$/

/** Where a captured device's driver link goes, from the real link's target. */
function driverDir(target: string): string {
  const m = DRIVER_LINK.exec(target)
  return m ? `bus/${m[1]}/drivers/${m[2]}` : `bus/unknown/drivers/${base(target)}`
}

const linkTo = (from: string, to: string): string => posix.relative(posix.dirname(from), to)

/**
 * The capture of the machine at opts.sysfs, as entries (see the file header): read back by
 * readHostFacts, it gives the same facts as the machine itself.
 */
export function captureEntries(opts: ReadHostOptions = {}): CaptureEntry[] {
  const g = gather(opts)
  const out: CaptureEntry[] = []
  const seen = new Set<string>()
  const add = (e: CaptureEntry): void => {
    if (seen.has(e.path)) return
    seen.add(e.path)
    out.push(e)
  }
  for (const d of g.facts.devices) add({ kind: 'file', path: `${d.path}/modalias`, text: `${d.modalias}\n` })
  for (const [path, links] of g.drivers) {
    const drv = driverDir(links.driver)
    add({ kind: 'link', path: `${path}/driver`, target: linkTo(`${path}/driver`, drv) })
    if (links.module !== undefined) add({ kind: 'link', path: `${drv}/module`, target: linkTo(`${drv}/module`, `module/${base(links.module)}`) })
    else add({ kind: 'dir', path: drv })
  }
  for (const [name, state] of g.initstate) add({ kind: 'file', path: `module/${name}/initstate`, text: state })
  for (const name of g.facts.builtinBound) add({ kind: 'dir', path: `module/${name}/drivers` })
  if (g.mountinfo !== undefined) add({ kind: 'file', path: 'mountinfo', text: g.mountinfo })
  const paths = new Map(g.chain.map((n) => [n.name, n.path]))
  for (const n of g.chain) {
    add({ kind: 'link', path: `class/block/${n.name}`, target: linkTo(`class/block/${n.name}`, n.path) })
    add({ kind: 'file', path: `${n.path}/dev`, text: `${n.dev}\n` })
    if (n.dmName !== undefined) add({ kind: 'file', path: `${n.path}/dm/name`, text: `${n.dmName}\n` })
    for (const s of n.slaves) {
      const to = paths.get(s) ?? `devices/virtual/block/${s}`
      add({ kind: 'link', path: `${n.path}/slaves/${s}`, target: linkTo(`${n.path}/slaves/${s}`, to) })
    }
  }
  return out
}

function isSafe(rel: string): boolean {
  return rel.length > 0 && !rel.startsWith('/') && !rel.split('/').some((p) => p === '..' || p === '.' || p === '')
}

/** Write capture entries under `dir` (created). An entry whose path leaves `dir` is an error. */
export function writeCapture(dir: string, entries: readonly CaptureEntry[]): void {
  mkdirSync(dir, { recursive: true })
  for (const e of entries) {
    if (!isSafe(e.path)) throw new Error(`capture entry "${e.path}": not a relative path inside the capture`)
    const full = `${dir}/${e.path}`
    if (e.kind === 'dir') {
      mkdirSync(full, { recursive: true })
      continue
    }
    mkdirSync(dirname(full), { recursive: true })
    if (e.kind === 'file') writeFileSync(full, e.text, 'latin1')
    else symlinkSync(e.target, full)
  }
}

/** `modload scan --save DIR`: capture the machine at opts.sysfs into `dir`. */
export function saveHostCapture(dir: string, opts: ReadHostOptions = {}): CaptureEntry[] {
  const entries = captureEntries(opts)
  writeCapture(dir, entries)
  return entries
}
