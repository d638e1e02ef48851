// What the kernel command line says about the root filesystem, read the way the kernel
// itself reads it (init/do_mounts.c, init/main.c), plus modload's own modload.onfail= and
// modload.timeout=. Pure: the command line text in, options and warnings out.
//
//   root=/dev/NAME | MAJ:MIN | UUID=u | LABEL=l | PARTUUID=p | /dev/disk/by-{uuid,label,partuuid}/x
//   rootfstype=a,b    types to try in order (default: what the superblock says)
//   rootflags=...     mount data, passed as is
//   ro | rw           read-only (the kernel's default) or read-write; the last one wins
//   init=PATH         the program to run; default the kernel's list (DEFAULT_INITS)
//   rootwait[=S]      wait for the device forever (or S seconds)
//   rootdelay=S       sleep S seconds before looking for the device
//   modload.timeout=S how long to wait for the device without rootwait (default 30)
//   modload.onfail=poweroff|reboot|halt   what to do when the hand-over fails (default: wait)
//   -- ARGS           arguments for init
import { parseCmdline, splitCmdline } from '../../format/cmdline.js'

export type RootSpec =
  | { kind: 'name'; name: string }
  | { kind: 'devnum'; major: number; minor: number }
  | { kind: 'uuid'; value: string }
  | { kind: 'label'; value: string }
  | { kind: 'partuuid'; value: string }

export type OnFail = 'poweroff' | 'reboot' | 'halt' | 'wait'
export const ONFAIL_ACTIONS: readonly OnFail[] = ['poweroff', 'reboot', 'halt', 'wait']

/** The kernel's own fallbacks when init= is not given, in its order (init/main.c). */
export const DEFAULT_INITS = ['/sbin/init', '/etc/init', '/bin/init', '/bin/sh'] as const

export const DEFAULT_WAIT_MS = 30_000

export interface RootOptions {
  /** root= as written, for messages */
  rootText: string
  root: RootSpec | null
  fstypes: string[]
  flags: string | null
  readOnly: boolean
  /** init= when given (then only that one is tried, as the kernel does) */
  init: string | null
  initArgs: string[]
  /** how long to wait for the device; null: forever (rootwait) */
  waitMs: number | null
  delayMs: number
  onFail: OnFail
  /** problems with the options themselves, for the log */
  warnings: string[]
}

/** Whether the command line asks for a root hand-over at all. */
export function rootRequested(cmdlineText: string): boolean {
  const v = parseCmdline(cmdlineText).params.get('root')
  return typeof v === 'string' && v.length > 0
}

const BY = [
  ['/dev/disk/by-uuid/', 'uuid'],
  ['/dev/disk/by-label/', 'label'],
  ['/dev/disk/by-partuuid/', 'partuuid'],
] as const

/** root=... as a device spec; null when it is unusable. */
export function parseRootSpec(text: string): RootSpec | null {
  const eq = text.indexOf('=')
  if (eq > 0) {
    const key = text.slice(0, eq).toUpperCase()
    const value = text.slice(eq + 1)
    if (value.length === 0) return null
    if (key === 'UUID') return { kind: 'uuid', value }
    if (key === 'LABEL') return { kind: 'label', value }
    if (key === 'PARTUUID') return { kind: 'partuuid', value }
    return null
  }
  for (const [prefix, kind] of BY) if (text.startsWith(prefix) && text.length > prefix.length) return { kind, value: text.slice(prefix.length) }
  if (text.startsWith('/dev/') && text.length > 5) return { kind: 'name', name: text.slice(5).replaceAll('/', '!') }
  const m = /^(\d+):(\d+)$/.exec(text)
  if (m) return { kind: 'devnum', major: Number(m[1]), minor: Number(m[2]) }
  return null
}

export function describeSpec(s: RootSpec): string {
  switch (s.kind) {
    case 'name':
      return `/dev/${s.name.replaceAll('!', '/')}`
    case 'devnum':
      return `${s.major}:${s.minor}`
    case 'uuid':
      return `UUID=${s.value}`
    case 'label':
      return `LABEL=${s.value}`
    case 'partuuid':
      return `PARTUUID=${s.value}`
  }
}

function seconds(v: string | true | undefined, key: string, warnings: string[]): number | undefined {
  if (typeof v !== 'string') return undefined
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) {
    warnings.push(`${key}=${v} is not a number of seconds; ignored`)
    return undefined
  }
  return n * 1000
}

export function parseRootOptions(text: string): RootOptions {
  const c = parseCmdline(text)
  const warnings: string[] = []
  const get = (k: string): string | undefined => {
    const v = c.params.get(k)
    return typeof v === 'string' ? v : undefined
  }
  const rootText = get('root') ?? ''
  const root = rootText ? parseRootSpec(rootText) : null
  if (rootText && !root) warnings.push(`root=${rootText} is not a device path, MAJ:MIN, UUID=, LABEL= or PARTUUID=`)

  // ro and rw: the last word wins, as in the kernel (parseCmdline's map keeps no order)
  const words = splitCmdline(text)
  const dashes = words.indexOf('--')
  let readOnly = true
  for (const w of dashes >= 0 ? words.slice(0, dashes) : words) {
    if (w === 'ro') readOnly = true
    else if (w === 'rw') readOnly = false
  }

  let init = get('init') ?? null
  if (init !== null && !init.startsWith('/')) {
    warnings.push(`init=${init} is not an absolute path; using the default list`)
    init = null
  }

  let onFail: OnFail = 'wait'
  const of = get('modload.onfail')
  if (of !== undefined) {
    if ((ONFAIL_ACTIONS as readonly string[]).includes(of)) onFail = of as OnFail
    else warnings.push(`modload.onfail=${of} is not one of ${ONFAIL_ACTIONS.join(', ')}; waiting instead`)
  }

  // rootwait: forever; rootwait=S (newer kernels): S seconds; else modload.timeout= or 30 s
  let waitMs: number | null = seconds(get('modload.timeout'), 'modload.timeout', warnings) ?? DEFAULT_WAIT_MS
  const rw = c.params.get('rootwait')
  if (rw === true) waitMs = null
  else if (rw !== undefined) waitMs = seconds(rw, 'rootwait', warnings) ?? null
  const delayMs = seconds(get('rootdelay'), 'rootdelay', warnings) ?? 0

  const fstypes = (get('rootfstype') ?? '').split(',').filter((t) => t.length > 0)
  return {
    rootText,
    root,
    fstypes,
    flags: get('rootflags') ?? null,
    readOnly,
    init,
    initArgs: c.initArgs,
    waitMs,
    delayMs,
    onFail,
    warnings,
  }
}
