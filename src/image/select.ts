// Which modules go into an image, and why: the pure core of `modload mkinitramfs`.
//
// The selection is an ordered list of selectors (command line, else the config file, else
// DEFAULT_SELECTORS):
//   host       what the machine needs: every device's modalias resolved against the TARGET
//              kernel's indexes (with modprobe.d, blacklist applied as coldplug applies it),
//              every module loaded there, built-in drivers of the running kernel that are
//              modules in the target, the root device's drivers and filesystem; except the
//              processor-feature modules (below), unless another device or a dependency needs them,
//              or unless one is the CPU's implementation of the hash the modules are signed with
//              (SelectInput.signatureAccelerators): the boot loads that one first
//   host-all   host without leaving anything to the root: every module the machine's devices
//              match, loaded modules included (for a root that loads nothing itself)
//   cpu        the processor-feature modules: what the CPUs' `cpu:` modaliases match (crypto
//              and checksum accelerators, kvm, frequency scaling, EDAC). No device of the boot
//              needs them and the root's own loader loads them, while their inits (crypto
//              self-tests, kvm) are among the slowest of a coldplug: left out of `host`, they
//              come in through a dependency or softdep (ext4 -> crc32c) or by this selector.
//              `host` leaves the LATE_CLASSES of classes.ts to the root as well (sound, Wi-Fi,
//              cameras, watchdogs, sensors): --list names all it left
//   all        every module of the tree
//   CLASS      a driver class of classes.ts (storage, usb-host, input, net, fs, ...)
//   NAME       a module name or alias (an error when the tree has neither)
//   PATTERN    a path pattern (contains '/' or a glob character), as in classes.ts
//   ?X         X is optional: absent from the tree is not an error
//   -X         removes whatever X names, whichever selector added it (applied last)
// Then the closure: modules.dep dependencies (always, a module cannot load without them) and
// softdeps from modprobe.d and modules.softdep (unless removed), recursively. Every module keeps
// the list of reasons it is in, for `--list`. Nothing here reads a file: the caller passes the
// database, the configuration and the host facts.
import { fnmatch, isGlob } from '../core/fnmatch.js'
import { lookup, type ModRef } from '../core/lookup.js'
import { loadOrder, type ModuleDb } from '../core/moddb.js'
import { normalizeName } from '../core/names.js'
import type { ModprobeConfig } from '../config/modprobe-conf.js'
import { DRIVER_CLASSES, LATE_CLASSES, type DriverClass } from './classes.js'

export type Selector =
  | { kind: 'host' }
  | { kind: 'host-all' }
  | { kind: 'cpu' }
  | { kind: 'all' }
  | { kind: 'class'; name: string }
  | { kind: 'name'; name: string; optional: boolean }
  | { kind: 'pattern'; pattern: string; optional: boolean }
  | { kind: 'remove'; what: Exclude<Selector, { kind: 'remove' } | { kind: 'host' } | { kind: 'host-all' } | { kind: 'cpu' } | { kind: 'all' }> }

export class SelectorError extends Error {
  constructor(what: string) {
    super(what)
    this.name = 'SelectorError'
  }
}

/** What the host selector needs to know about a machine (src/image/host.ts reads it). */
export interface HostNeeds {
  devices: readonly { path: string; modalias: string }[]
  /** live loadable modules (/sys/module/NAME/initstate) */
  loaded: readonly string[]
  /** built-in drivers of the running kernel that drive a device */
  builtinBound: readonly string[]
  /** `modules`: the root device's drivers' modules; `modaliases`: its devices whose driver
   * names no module (their module is a loaded one the modalias resolves to) */
  root?: { source?: string; fstype?: string; modules: readonly string[]; modaliases?: readonly string[] }
}

export type Reason =
  | { kind: 'device'; device: string; modalias: string }
  | { kind: 'loaded' }
  | { kind: 'builtin-host' }
  | { kind: 'root'; what: string }
  | { kind: 'class'; name: string }
  | { kind: 'all' }
  | { kind: 'named'; as: string }
  | { kind: 'pattern'; pattern: string }
  | { kind: 'dependency'; of: string }
  | { kind: 'softdep'; of: string; as: string }
  /** the CPU's implementation of the hash the modules are signed with (src/core/signature-hash.ts) */
  | { kind: 'signature-hash'; hash: string }

export interface Selected {
  name: string
  /** path as modules.dep has it (relative to the modules directory) */
  path: string
  reasons: Reason[]
}

export interface Selection {
  modules: Selected[]
  /** names a selector or softdep resolved to that the target kernel has built in */
  builtin: { name: string; reasons: Reason[] }[]
  /** things a user should hear about that do not stop the build */
  warnings: string[]
  /** what the host selector matched and left to the root's loader (processor features and the
   * LATE_CLASSES), sorted; empty with host-all */
  leftToRoot: string[]
}

export interface SelectInput {
  db: ModuleDb
  config: ModprobeConfig
  selectors: readonly Selector[]
  /** required when a selector is `host`, `host-all` or `cpu` */
  host?: HostNeeds
  /** the root's filesystem types when the host cannot say (a capture made without a mounted
   * root, an image for another machine): mkinitramfs --rootfs */
  rootFs?: readonly string[]
  classes?: Readonly<Record<string, DriverClass>>
  /** the CPU's implementations of the hash the tree's modules are signed with
   * (src/load/signature-first.ts finds them): the host selectors take them, the boot loads
   * them first */
  signatureAccelerators?: { hash: string; modules: readonly string[] }
}

/** One selector word, as on the command line or in the config file. */
export function parseSelector(word: string, classes: Readonly<Record<string, DriverClass>> = DRIVER_CLASSES): Selector {
  const w = word.trim()
  if (w.length === 0) throw new SelectorError('empty selector')
  if (w[0] === '-') {
    const what = parseSelector(w.slice(1), classes)
    if (what.kind === 'remove' || what.kind === 'host' || what.kind === 'host-all' || what.kind === 'cpu' || what.kind === 'all') throw new SelectorError(`"${w}": only a module, alias, class or path pattern can be removed`)
    return { kind: 'remove', what }
  }
  const optional = w[0] === '?'
  const rest = optional ? w.slice(1) : w
  if (rest.length === 0) throw new SelectorError(`"${w}": nothing after '?'`)
  if (!optional && rest === 'host') return { kind: 'host' }
  if (!optional && rest === 'cpu') return { kind: 'cpu' }
  if (!optional && rest === 'host-all') return { kind: 'host-all' }
  if (!optional && rest === 'all') return { kind: 'all' }
  if (Object.hasOwn(classes, rest)) return { kind: 'class', name: rest }
  if (rest.includes('/') || isGlob(rest)) return { kind: 'pattern', pattern: rest, optional }
  return { kind: 'name', name: rest, optional }
}

export function parseSelectors(words: readonly string[], classes: Readonly<Record<string, DriverClass>> = DRIVER_CLASSES): Selector[] {
  return words.flatMap((w) => w.split(/[\s,]+/)).filter((w) => w.length > 0).map((w) => parseSelector(w, classes))
}

/** The path a class or path pattern is matched against: `kernel/` and the .ko suffix off. */
export function patternSubject(path: string): string {
  const rel = path.startsWith('kernel/') ? path.slice('kernel/'.length) : path
  const ko = rel.lastIndexOf('.ko')
  return ko >= 0 ? rel.slice(0, ko) : rel
}

/** A class or path pattern: fnmatch, and 'dir/' for everything under dir. */
export function pathMatches(pattern: string, path: string): boolean {
  const subject = patternSubject(path)
  const p = pattern.startsWith('kernel/') ? pattern.slice('kernel/'.length) : pattern
  if (p.endsWith('/')) return subject.startsWith(p) || fnmatch(`${p}*`, subject)
  const stripped = p.replace(/\.ko(\.(xz|zst|gz))?$/, '')
  return fnmatch(stripped, subject)
}

export function classMatches(c: DriverClass, path: string): boolean {
  return c.include.some((p) => pathMatches(p, path)) && !(c.exclude ?? []).some((p) => pathMatches(p, path))
}

/** A modalias cut for a one-line listing (cpu: aliases run to a thousand characters). */
function shortAlias(a: string, max = 64): string {
  return a.length <= max ? a : `${a.slice(0, max - 3)}...`
}

/**
 * All the reasons a module is in, on one line: the selectors' own reasons first, then
 * "needed by a, b, c (+N more)" and "softdep of ..." grouped, devices counted.
 */
export function describeReasons(reasons: readonly Reason[], max = 3): string {
  const out: string[] = []
  const devices = reasons.filter((r): r is Extract<Reason, { kind: 'device' }> => r.kind === 'device')
  if (devices.length) out.push(`host: device ${devices[0].device} (${shortAlias(devices[0].modalias)})${devices.length > 1 ? ` (+${devices.length - 1} more devices)` : ''}`)
  for (const r of reasons) if (r.kind !== 'device' && r.kind !== 'dependency' && r.kind !== 'softdep') out.push(describeReason(r))
  const group = (label: string, names: string[]): void => {
    if (names.length) out.push(`${label} ${names.slice(0, max).join(', ')}${names.length > max ? ` (+${names.length - max} more)` : ''}`)
  }
  group('needed by', reasons.flatMap((r) => (r.kind === 'dependency' ? [r.of] : [])))
  group('softdep of', reasons.flatMap((r) => (r.kind === 'softdep' ? [r.of] : [])))
  return out.join('; ')
}

export function describeReason(r: Reason): string {
  switch (r.kind) {
    case 'device':
      return `host: device ${r.device} (${r.modalias})`
    case 'loaded':
      return 'host: loaded'
    case 'builtin-host':
      return 'host: built into the running kernel'
    case 'root':
      return `host: root ${r.what}`
    case 'class':
      return `class ${r.name}`
    case 'all':
      return 'all'
    case 'named':
      return `named: ${r.as}`
    case 'pattern':
      return `pattern ${r.pattern}`
    case 'dependency':
      return `needed by ${r.of}`
    case 'softdep':
      return `softdep of ${r.of} (${r.as})`
    case 'signature-hash':
      return `host: the CPU's ${r.hash}, loaded first for the modules' signature checks`
  }
}

class Collector {
  readonly modules = new Map<string, Reason[]>()
  readonly builtin = new Map<string, Reason[]>()
  readonly warnings: string[] = []
  constructor(readonly db: ModuleDb) {}

  add(name: string, reason: Reason): void {
    const n = normalizeName(name)
    const into = this.db.modules.has(n) ? this.modules : this.db.builtin.has(n) ? this.builtin : null
    if (into === null) {
      this.warnings.push(`${n} (${describeReason(reason)}): neither a module file nor built in; modprobe.d names a module ${this.db.dir} lacks`)
      return
    }
    const list = into.get(n)
    if (!list) into.set(n, [reason])
    else if (!list.some((r) => sameReason(r, reason))) list.push(reason)
  }
}

function sameReason(a: Reason, b: Reason): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/** Modules a lookup found, without those the blacklist keeps coldplug from loading. */
function coldplugRefs(db: ModuleDb, config: ModprobeConfig, alias: string): { refs: ModRef[]; blacklisted: string[] } {
  const refs = lookup(db, config, alias) ?? []
  const black = new Set(config.blacklist)
  const kept = refs.filter((r) => !(r.alias !== null && black.has(r.name)))
  return { refs: kept, blacklisted: refs.filter((r) => !kept.includes(r)).map((r) => r.name) }
}

/** A processor's modalias: its features (`cpu:type:x86,ven...:feature:,...`,
 * `cpu:type:aarch64:feature:...`, older kernels' `x86cpu:`) or its ACPI processor object (the
 * spec's LNXCPU and ACPI0007 ids, which cpufreq drivers such as acpi-cpufreq match). What they
 * match are processor-feature modules, not drivers of a device. */
export function isCpuModalias(modalias: string): boolean {
  return modalias.startsWith('cpu:') || modalias.startsWith('x86cpu:') || /^acpi:(?:[^:]*:)*(?:LNXCPU|ACPI0007):/.test(modalias)
}

/** A device of the host with what coldplug would load for it. */
interface DeviceMatch {
  path: string
  modalias: string
  /** a processor's modalias (isCpuModalias) */
  cpu: boolean
  refs: ModRef[]
  blacklisted: string[]
}

/** Every device's lookup, once for all the host selectors of a selection. */
function matchDevices(db: ModuleDb, config: ModprobeConfig, host: HostNeeds): DeviceMatch[] {
  return host.devices.map((d) => {
    const { refs, blacklisted } = coldplugRefs(db, config, d.modalias)
    return { path: d.path, modalias: d.modalias, cpu: isCpuModalias(d.modalias), refs: refs.filter((r) => r.source !== 'command'), blacklisted }
  })
}

/** The modules the processors' modaliases match and no other device's does, with their
 * dependencies (kvm is loaded for kvm_amd): the `cpu` selector's modules, which `host` leaves to
 * the root. A dependency another selected module needs comes back through the closure. */
function cpuFeatureModules(db: ModuleDb, matches: readonly DeviceMatch[]): Set<string> {
  const cpu = new Set<string>()
  const device = new Set<string>()
  for (const m of matches) for (const r of m.refs) (m.cpu ? cpu : device).add(normalizeName(r.name))
  for (const n of [...cpu]) for (const dep of loadOrder(db, n).order) cpu.add(dep.name)
  for (const n of device) cpu.delete(n)
  return cpu
}

/** What `host` leaves to the root's loader: the processor-feature modules and the LATE_CLASSES. */
function leftByHost(db: ModuleDb, cpuOnly: ReadonlySet<string>): (name: string) => boolean {
  return (n) => {
    const path = db.modules.get(n)?.path
    return cpuOnly.has(n) || (path !== undefined && Object.values(LATE_CLASSES).some((cls) => classMatches(cls, path)))
  }
}

/** The host facts the host selectors need, and every device's lookup. */
interface HostInput {
  host: HostNeeds
  matches: readonly DeviceMatch[]
}

/** `host` (with `leave`: what it leaves goes into `left`) or `host-all` (leave null). */
function addHost(c: Collector, input: SelectInput, classes: Readonly<Record<string, DriverClass>>, { host, matches }: HostInput, leave: ((name: string) => boolean) | null, left: Set<string>): void {
  const { db, config } = input
  const take = (name: string, reason: Reason): void => {
    const n = normalizeName(name)
    if (leave?.(n)) left.add(n)
    else c.add(n, reason)
  }
  for (const m of matches) {
    if (leave && m.cpu) continue
    for (const r of m.refs) take(r.name, { kind: 'device', device: m.path, modalias: m.modalias })
    for (const b of m.blacklisted) c.warnings.push(`${b}: blacklisted in modprobe.d, left out although device ${m.path} matches it`)
  }
  for (const name of host.loaded) {
    const n = normalizeName(name)
    if (db.modules.has(n) || db.builtin.has(n)) take(n, { kind: 'loaded' })
    else c.warnings.push(`${n}: loaded on this machine, but ${db.dir} has no such module`)
  }
  for (const name of host.builtinBound) {
    const n = normalizeName(name)
    if (db.modules.has(n)) c.add(n, { kind: 'builtin-host' })
  }
  if (host.root) {
    for (const name of host.root.modules) {
      const n = normalizeName(name)
      if (db.modules.has(n) || db.builtin.has(n)) c.add(n, { kind: 'root', what: `device ${host.root.source ?? ''}`.trim() })
    }
    // drivers without a module link: the loaded modules the device's modalias resolves to
    const loaded = new Set(host.loaded.map(normalizeName))
    for (const alias of host.root.modaliases ?? []) {
      for (const r of lookup(db, config, alias) ?? []) {
        if (loaded.has(r.name)) c.add(r.name, { kind: 'root', what: `device ${host.root.source ?? ''} (${alias})`.trim() })
      }
    }
  }
  if (input.signatureAccelerators) {
    const { hash, modules } = input.signatureAccelerators
    for (const name of modules) c.add(name, { kind: 'signature-hash', hash })
  }
  const known = host.root?.fstype && !MEMORY_FILESYSTEMS.has(host.root.fstype) ? [host.root.fstype] : []
  const types = input.rootFs?.length ? input.rootFs : known
  for (const fs of types) {
    const hits = [...(lookup(db, config, fs) ?? []), ...(lookup(db, config, `fs-${fs}`) ?? [])]
    for (const r of hits) c.add(r.name, { kind: 'root', what: `filesystem ${fs}` })
    if (hits.length === 0) c.warnings.push(`root filesystem ${fs}: no module or alias in ${db.dir} (built in, or not supported by this kernel)`)
  }
  if (types.length === 0) {
    // a machine running from its initramfs, or a capture of one: the root could be anything
    const fs = classes.fs
    for (const e of allModules(db)) if (fs && classMatches(fs, e.path)) c.add(e.name, { kind: 'root', what: 'filesystem unknown: the fs class' })
    c.warnings.push(`the root filesystem is unknown (${host.root ? `/ is ${host.root.fstype}` : 'no mounted root'}): every filesystem of the fs class is added; name it with --rootfs TYPE for a smaller image`)
  }
}

/** The `cpu` selector: the processor-feature modules, matched or loaded. */
function addCpu(c: Collector, db: ModuleDb, { host, matches }: HostInput, cpuOnly: ReadonlySet<string>): void {
  for (const m of matches) if (m.cpu) for (const r of m.refs) c.add(r.name, { kind: 'device', device: m.path, modalias: m.modalias })
  for (const name of host.loaded) {
    const n = normalizeName(name)
    if (cpuOnly.has(n) && (db.modules.has(n) || db.builtin.has(n))) c.add(n, { kind: 'loaded' })
  }
}

/** What / is on a machine that runs from its initramfs: no block device, no filesystem module. */
const MEMORY_FILESYSTEMS = new Set(['rootfs', 'tmpfs', 'ramfs'])

function allModules(db: ModuleDb): Iterable<{ name: string; path: string }> {
  return db.modules.values()
}

function matchSelector(db: ModuleDb, config: ModprobeConfig, s: Exclude<Selector, { kind: 'host' } | { kind: 'host-all' } | { kind: 'cpu' } | { kind: 'all' } | { kind: 'remove' }>, classes: Readonly<Record<string, DriverClass>>): { names: string[]; reason: Reason } {
  switch (s.kind) {
    case 'class': {
      const cls = classes[s.name]
      return { names: [...allModules(db)].filter((e) => classMatches(cls, e.path)).map((e) => e.name), reason: { kind: 'class', name: s.name } }
    }
    case 'pattern':
      return { names: [...allModules(db)].filter((e) => pathMatches(s.pattern, e.path)).map((e) => e.name), reason: { kind: 'pattern', pattern: s.pattern } }
    case 'name': {
      const refs = lookup(db, config, s.name) ?? []
      return { names: refs.filter((r) => r.source !== 'command').map((r) => r.name), reason: { kind: 'named', as: s.name } }
    }
  }
}

/** Select the modules for an image; throws SelectorError for a required name the tree lacks. */
export function selectModules(input: SelectInput): Selection {
  const { db, config } = input
  const classes = input.classes ?? DRIVER_CLASSES
  const c = new Collector(db)
  const removals: Extract<Selector, { kind: 'remove' }>['what'][] = []
  // the host facts and every device's lookup, once for all host selectors
  let hostInput: HostInput | undefined
  const hostFacts = (kind: string): HostInput => {
    if (!input.host) throw new SelectorError(`the ${kind} selector needs the machine's /sys (none was read)`)
    return (hostInput ??= { host: input.host, matches: matchDevices(db, config, input.host) })
  }
  let cpuOnly: Set<string> | undefined
  const cpuModules = (h: HostInput): Set<string> => (cpuOnly ??= cpuFeatureModules(db, h.matches))
  const left = new Set<string>()
  for (const s of input.selectors) {
    if (s.kind === 'remove') {
      removals.push(s.what)
      continue
    }
    if (s.kind === 'host') {
      const h = hostFacts('host')
      addHost(c, input, classes, h, leftByHost(db, cpuModules(h)), left)
    } else if (s.kind === 'host-all') addHost(c, input, classes, hostFacts('host-all'), null, left)
    else if (s.kind === 'cpu') {
      const h = hostFacts('cpu')
      addCpu(c, db, h, cpuModules(h))
    }
    else if (s.kind === 'all') for (const e of allModules(db)) c.add(e.name, { kind: 'all' })
    else {
      const { names, reason } = matchSelector(db, config, s, classes)
      if (names.length === 0) {
        const optional = s.kind === 'class' || s.optional
        const word = s.kind === 'pattern' ? s.pattern : s.name
        const msg =
          s.kind === 'pattern'
            ? `pattern ${word}: matches no module path in ${db.dir}`
            : s.kind === 'class'
              ? `class ${word}: no module of ${db.dir} is in it`
              : `module ${word}: not found in ${db.dir} (neither a module name nor an alias in modules.dep/modules.alias/modules.builtin)`
        if (!optional) throw new SelectorError(`${msg}; check the name, or write ?${word} to make it optional`)
        c.warnings.push(msg)
      }
      for (const n of names) c.add(n, reason)
    }
  }

  // removals: whatever they name leaves the roots and will not come back as a softdep
  const removed = new Set<string>()
  for (const r of removals) for (const n of matchSelector(db, config, r, classes).names) removed.add(normalizeName(n))
  for (const n of removed) {
    c.modules.delete(n)
    c.builtin.delete(n)
  }

  // closure: hard dependencies always, softdeps unless removed
  const queue = [...c.modules.keys()]
  const softdepsOf = new Map<string, string[]>()
  for (const sd of config.softdeps) {
    const list = softdepsOf.get(sd.module) ?? []
    list.push(...sd.pre, ...sd.post)
    softdepsOf.set(sd.module, list)
  }
  const keptDespiteRemoval = new Map<string, string>()
  while (queue.length) {
    const name = queue.pop() as string
    const { order, missing } = loadOrder(db, name)
    if (missing.length && !(missing.length === 1 && missing[0] === name)) {
      throw new SelectorError(`${db.dir}/modules.dep: ${name} depends on ${missing.join(', ')}, which has no entry (run depmod for this kernel)`)
    }
    for (const dep of order) {
      if (dep.name === name) continue
      if (removed.has(dep.name) && !keptDespiteRemoval.has(dep.name)) keptDespiteRemoval.set(dep.name, name)
      const isNew = !c.modules.has(dep.name)
      c.add(dep.name, { kind: 'dependency', of: name })
      if (isNew) queue.push(dep.name)
    }
    for (const soft of softdepsOf.get(name) ?? []) {
      const refs = (lookup(db, config, soft) ?? []).filter((r) => r.source !== 'command')
      if (refs.length === 0) {
        c.warnings.push(`${name}: softdep ${soft} is neither a module nor an alias in ${db.dir}; left out`)
        continue
      }
      for (const r of refs) {
        const n = normalizeName(r.name)
        if (removed.has(n)) continue
        const isNew = db.modules.has(n) && !c.modules.has(n)
        c.add(n, { kind: 'softdep', of: name, as: soft })
        if (isNew) queue.push(n)
      }
    }
  }
  for (const [dep, of] of keptDespiteRemoval) c.warnings.push(`${dep}: kept although removed, because ${of} cannot load without it (remove ${of} too)`)

  const modules = [...c.modules]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, reasons]) => ({ name, path: (db.modules.get(name) as { path: string }).path, reasons }))
  const builtin = [...c.builtin].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, reasons]) => ({ name, reasons }))
  // with cpu or host-all in the selection what host left is in after all, and drops out here
  const leftToRoot = [...new Set([...(cpuOnly ?? []), ...left])].filter((n) => db.modules.has(n) && !c.modules.has(n)).sort()
  return { modules, builtin, warnings: c.warnings, leftToRoot }
}

