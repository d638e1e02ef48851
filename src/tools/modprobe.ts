// `modload modprobe`: kmod's modprobe over our module database and modprobe.d parser: loading
// with dependencies, softdeps and install commands (src/load/insert.ts), removal with -r
// (src/load/remove.ts), and the questions (-R resolve, -D show dependencies, -n dry run, -c show
// config). Output, messages and exit codes follow kmod 30's tools/modprobe.c: `-D`/`-v` print
// "insmod PATH OPTIONS" (the space before the options is always there), "install COMMAND
// OPTIONS", "builtin NAME", "rmmod NAME"; a FATAL message ends the run (exit 1) unless -a
// makes it a WARNING or -q silences it. Also the kernel's module helper: `modprobe -q -- NAME`
// with no PATH, HOME or /etc.
import { kernelRelease } from '../sys/release.js'
import { readFileSync } from 'node:fs'
import { PROC_CMDLINE, SYS_MODULE } from '../paths.js'
import { errnoCode, strerror } from '../sys/syscalls.js'
import {
  defaultInsertEnv,
  probeInsert,
  type CommandRunner,
  type InsertEnv,
  type ProbeInsertContext,
  type ProbeInsertOptions,
  type Reporter,
} from '../load/insert.js'
import { Remover } from '../load/remove.js'
import { readModuleImage } from '../elf/read.js'
import { cString, findSection, parseElf, readUint, type Elf } from '../elf/elf.js'
import { exportedSymbols } from '../elf/symbols.js'
import { errnoOf } from '../depmod/run.js'
import { insmodHint } from './insmod.js'
import { openModuleDir, MissingIndexError } from '../core/moddb-fs.js'
import type { ModuleDb } from '../core/moddb.js'
import { lookup } from '../core/lookup.js'
import { Prober } from '../core/probe.js'
import { loadModprobeConfig } from '../config/config-fs.js'
import { END_OF_CONFIG, formatConfig, formatIndexDump } from '../config/show.js'
import { VERSION } from '../version.js'
import { UsageError, type Tool, type ToolIo } from './io.js'
import { getopt, getoptOrReport, type OptSpec } from './kmod-getopt.js'

const USAGE = `Usage:
	modprobe [options] [-i] [-b] modulename [module parameters...]
	modprobe [options] -a [-i] [-b] modulename [modulename...]
	modprobe [options] -r [-i] modulename
	modprobe [options] -c
Management Options:
	-a, --all                   Consider every non-argument to be a module name
	-r, --remove                Remove modules instead of inserting
	    --remove-holders        Also remove module holders (use together with -r)
	-w, --wait <MSEC>           When removing, wait up to MSEC for the refcount to drop
	    --first-time            Fail if module already inserted or removed
	-i, --ignore-install        Ignore install commands
	-i, --ignore-remove         Ignore remove commands
	-b, --use-blacklist         Apply blacklist to resolved alias.
	-f, --force                 Force module insertion or removal.
	    --force-modversion      Ignore module's version
	    --force-vermagic        Ignore module's version magic
Query Options:
	-R, --resolve-alias         Only lookup and print alias and exit
	-D, --show-depends          Only print module dependencies and exit
	-c, --showconfig            Print out known configuration and exit
	-c, --show-config           Same as --showconfig
General Options:
	-n, --dry-run               Do not execute operations, just print out
	-n, --show                  Same as --dry-run
	-C, --config=FILE           Use FILE instead of default search paths
	-d, --dirname=DIR           Use DIR as filesystem root for /lib/modules
	-S, --set-version=VERSION   Use VERSION instead of \`uname -r\`
	-s, --syslog                print to syslog, not stderr (ignored)
	-q, --quiet                 disable messages
	-v, --verbose               enables more messages
	-V, --version               show version
	-h, --help                  show this help
`

// kmod's cmdopts: short letters and long names; aliases share a key
const OPTIONS: OptSpec[] = [
  { short: 'a', long: 'all' },
  { short: 'r', long: 'remove' },
  { long: 'remove-dependencies', key: 'remove-holders' },
  { long: 'remove-holders' },
  { short: 'w', long: 'wait', arg: true },
  { short: 'R', long: 'resolve-alias' },
  { long: 'first-time' },
  { short: 'i', long: 'ignore-install' },
  { long: 'ignore-remove', key: 'ignore-install' },
  { short: 'b', long: 'use-blacklist' },
  { short: 'f', long: 'force' },
  { long: 'force-modversion' },
  { long: 'force-vermagic' },
  { short: 'D', long: 'show-depends' },
  { short: 'c', long: 'showconfig' },
  { long: 'show-config', key: 'showconfig' },
  { long: 'show-modversions' },
  { long: 'dump-modversions', key: 'show-modversions' },
  { long: 'show-exports' },
  { short: 'n', long: 'dry-run' },
  { long: 'show', key: 'dry-run' },
  { short: 'C', long: 'config', arg: true },
  { short: 'd', long: 'dirname', arg: true },
  { short: 'S', long: 'set-version', arg: true },
  { short: 's', long: 'syslog' },
  { short: 'q', long: 'quiet' },
  { short: 'v', long: 'verbose' },
  { short: 'V', long: 'version' },
  { short: 'h', long: 'help' },
]

interface Flags {
  has: (key: string) => boolean
  last: (key: string) => string | undefined
  all: (key: string) => string[]
}

function flags(opts: { key: string; value: string }[]): Flags {
  return {
    has: (k) => opts.some((o) => o.key === k),
    last: (k) => opts.filter((o) => o.key === k).at(-1)?.value,
    all: (k) => opts.filter((o) => o.key === k).map((o) => o.value),
  }
}

/** MODPROBE_OPTIONS is split like kmod does: spaces separate, quotes group and are removed. */
export function splitEnvOptions(env: string): string[] {
  const out: string[] = []
  let cur = ''
  let quote: string | null = null
  let any = false
  for (const c of env) {
    if (quote) {
      if (c === quote) quote = null
      else cur += c
    } else if (c === ' ') {
      if (any) out.push(cur)
      cur = ''
      any = false
    } else if (c === '"' || c === "'") {
      quote = c
      any = true
    } else {
      cur += c
      any = true
    }
  }
  if (any) out.push(cur)
  return out
}

/** kmod's options_from_array: "key=value with spaces" is quoted as key="value with spaces". */
export function optionsFromArgs(args: readonly string[]): string | null {
  if (args.length === 0) return null
  return args
    .map((a) => {
      const eq = a.indexOf('=')
      if (eq < 0) return a
      const v = a.slice(eq + 1)
      return v[0] !== '"' && v[0] !== "'" && v.includes(' ') ? `${a.slice(0, eq + 1)}"${v}"` : a
    })
    .join(' ')
}

/** Whether MODPROBE_OPTIONS asks for the blacklist (-b, --use-blacklist: initramfs-tools'
 * init exports -qb), as kmod reads it; false when it does not parse. */
export function envUsesBlacklist(env: string | undefined): boolean {
  if (!env) return false
  try {
    return getopt(splitEnvOptions(env), OPTIONS, 'modprobe').opts.some((o) => o.key === 'use-blacklist')
  } catch {
    return false
  }
}

/** The modules directory as kmod computes it: ROOT/lib/modules/KVER, made absolute. */
export function kmodDirname(root: string | undefined, kver: string | undefined, cwd: string): string {
  const dir = root !== undefined || kver !== undefined ? `${root ?? ''}/lib/modules/${kver ?? kernelRelease()}` : `/lib/modules/${kernelRelease()}`
  return dir.startsWith('/') ? dir : `${cwd}/${dir}`
}

/** What modprobe needs from the machine besides syscalls; injectable for tests. */
export interface ModprobeEnv {
  /** /sys/module (initstate, refcnt, holders) */
  sysModule: string
  /** /proc/cmdline (modprobe.blacklist=, MOD.PARAM=) */
  procCmdline: string
  insert: InsertEnv
  /** runs install/remove commands (default: /bin/sh -c) */
  run?: CommandRunner
  sleep?: (ms: number) => Promise<void>
  now?: () => number
}

export const defaultModprobeEnv: ModprobeEnv = { sysModule: SYS_MODULE, procCmdline: PROC_CMDLINE, insert: defaultInsertEnv }

function readCmdline(path: string): string {
  try {
    return readFileSync(path, 'latin1')
  } catch {
    return ''
  }
}

// syslog levels, as kmod filters its messages: one is shown when its level <= the verbosity
const LOG_CRIT = 2
const LOG_ERR = 3
const LOG_WARNING = 4
const LOG_INFO = 6

/** kmod's LOG() at FATAL level ends the program; thrown to unwind to run(). */
class Fatal extends Error {
  constructor() {
    super('modprobe stopped after a fatal message')
  }
}

/** kmod's wording for a failed modprobe of NAME (tools/modprobe.c insmod()). */
export function insertFailure(name: string, errno: number): string {
  const code = errnoCode(errno)
  if (code === 'EEXIST') return `could not insert '${name}': Module already in kernel`
  if (code === 'ENOENT') return `could not insert '${name}': Unknown symbol in module, or unknown parameter (see dmesg)`
  return `could not insert '${name}': ${strerror(errno)}`
}

/** A hint after kmod's line, only where the cause is not ambiguous. */
function insertHint(errno: number): string | undefined {
  // not ENOENT: for modprobe it rarely means a missing dependency, as insmod's hint says
  return ['ENOEXEC', 'EPERM', 'ENOKEY', 'EKEYREJECTED', 'EBADMSG', 'ESRCH'].includes(errnoCode(errno)) ? insmodHint(errno) : undefined
}

/** strtoul(s, &end, 0) accepting the whole string, or null. */
function parseWait(s: string): number | null {
  const m = /^\s*(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.exec(s)
  if (!m) return null
  const v = m[1]
  return v.toLowerCase().startsWith('0x') ? Number.parseInt(v.slice(2), 16) : v.length > 1 && v[0] === '0' ? Number.parseInt(v, 8) : Number.parseInt(v, 10)
}

/** The __versions table as kmod_elf_get_modversions reads it (a leading '.' dropped from names). */
export function modversions(elf: Elf): { name: string; crc: number }[] {
  const sec = findSection(elf, '__versions')
  if (!sec || sec.size === 0) return []
  if (sec.size % 64 !== 0) throw Object.assign(new Error(`${elf.file}: __versions is not a table of 64-byte entries`), { errno: 22 })
  const crcSize = elf.is64 ? 8 : 4
  const out: { name: string; crc: number }[] = []
  for (let off = sec.offset; off < sec.offset + sec.size; off += 64) {
    const name = cString(elf.bytes, off + crcSize)
    out.push({ name: name.startsWith('.') ? name.slice(1) : name, crc: readUint(elf, off, crcSize) })
  }
  return out
}

/** --show-modversions / --show-exports FILE: "0x%08x\tSYMBOL" lines, as kmod prints them. */
async function showSymbols(file: string, what: 'versions' | 'exports', io: ToolIo, report: Reporter): Promise<number> {
  let image: Uint8Array
  try {
    image = await readModuleImage(file)
  } catch {
    report.log(`Module ${file} not found.\n`)
    return 1
  }
  let list: { name: string; crc: number }[]
  try {
    const elf = parseElf(image, file)
    list = what === 'versions' ? modversions(elf) : exportedSymbols(elf)
  } catch (err) {
    report.log(`could not get ${what === 'versions' ? 'modversions' : 'symbols'} of ${file}: ${strerror(errnoOf(err))}\n`)
    return 1
  }
  io.out(list.map((v) => `0x${v.crc < 0 ? 'ffffffffffffffff' : v.crc.toString(16).padStart(8, '0')}\t${v.name}\n`).join(''))
  return 0
}

export function makeModprobeTool(env: ModprobeEnv = defaultModprobeEnv): Tool {
  return {
    name: 'modprobe',
    summary: 'kmod-compatible modprobe: load (with dependencies, softdeps, install commands), -r, -R, -D, -c',
    run: (argv, io) => runModprobe(argv, io, env),
  }
}

async function runModprobe(argv: string[], io: ToolIo, env: ModprobeEnv): Promise<number> {
  const envOptions = process.env.MODPROBE_OPTIONS
  const args = envOptions ? [...splitEnvOptions(envOptions), ...argv] : argv
  const parsed = getoptOrReport(args, OPTIONS, io)
  if (parsed === null) return 1
  const f = flags(parsed.opts)
  const positionals = parsed.operands
  // kmod's verbosity: -q silences, each -v adds one; MODPROBE_OPTIONS passes them (and -C, -s) on
  let level = LOG_WARNING
  const childOptions: string[] = envOptions ? [envOptions] : []
  for (const o of parsed.opts) {
    if (o.key === 'quiet') level = 0
    else if (o.key === 'verbose') level++
    if (o.key === 'quiet' || o.key === 'verbose' || o.key === 'syslog') childOptions.push(`-${o.key[0]}`)
    else if (o.key === 'config') childOptions.push('-C', o.value)
    else if (o.key === 'help') {
      io.out(USAGE)
      return 0
    } else if (o.key === 'version') {
      io.out(`modload ${VERSION} (kmod 30 compatible modprobe)\n`)
      return 0
    }
  }
  const all = f.has('all')
  const logLevel = all ? LOG_WARNING : LOG_CRIT
  const say = (prio: number, name: string, msg: string): void => {
    if (prio <= level) io.err(`${io.prog}: ${name}: ${msg}`)
  }
  const showDepends = f.has('show-depends')
  const report: Reporter = {
    log: (msg) => {
      if (logLevel > level) return
      say(logLevel, logLevel === LOG_CRIT ? 'FATAL' : 'WARNING', msg)
      if (logLevel === LOG_CRIT) throw new Fatal()
    },
    error: (msg) => say(LOG_ERR, 'ERROR', msg),
    info: (msg) => say(LOG_INFO, 'INFO', msg),
    show: (text) => {
      if (showDepends || level > LOG_WARNING) io.out(text)
    },
  }
  const quiet = level < LOG_ERR
  const showConfig = f.has('showconfig')
  const dryRun = showDepends || f.has('dry-run')
  let waitMs = 0
  const wait = f.last('wait')
  if (wait !== undefined) {
    const w = parseWait(wait)
    if (w === null) {
      say(LOG_ERR, 'ERROR', `unexpected wait value '${wait}'.\n`)
      return 1
    }
    waitMs = w
  }
  if (!showConfig && positionals.length === 0) throw new UsageError('missing parameters. See -h.')
  if (f.has('show-modversions') || f.has('show-exports')) {
    try {
      return await showSymbols(positionals[0], f.has('show-modversions') ? 'versions' : 'exports', io, report)
    } catch (err) {
      if (err instanceof Fatal) return 1
      throw err
    }
  }
  const dir = kmodDirname(f.last('dirname'), f.last('set-version'), process.cwd())
  const { config, warnings } = loadModprobeConfig({ paths: f.has('config') ? f.all('config') : undefined, modulesDir: dir, cmdline: readCmdline(env.procCmdline) })
  if (!quiet) for (const w of warnings) io.err(`${io.prog}: WARNING: ${w.file}:${w.line}: ${w.message}\n`)
  let db: ModuleDb | null = null
  let dbError: Error | null = null
  try {
    db = openModuleDir(dir)
  } catch (err) {
    if (!(err instanceof MissingIndexError)) throw err
    dbError = err
  }

  if (showConfig) {
    let text = formatConfig(config) + END_OF_CONFIG
    if (db) text += formatIndexDump(db.aliases.dump()) + formatIndexDump(db.symbols.dump())
    io.out(text)
    return 0
  }
  if (!db) {
    if (!quiet) io.err(`${io.prog}: FATAL: ${dbError!.message}\n`)
    return 1
  }
  const commandEnv = { ...process.env, MODPROBE_OPTIONS: childOptions.length ? childOptions.join(' ') : undefined }
  const force = f.has('force')
  try {
    if (f.has('remove')) {
      const remover = new Remover(
        {
          db,
          config,
          sys: { deleteModule: (n, fl) => io.sys().deleteModule(n, fl) },
          sysModule: env.sysModule,
          report,
          run: env.run,
          commandEnv,
          sleep: env.sleep,
          now: env.now,
        },
        { dryRun, force, ignoreCommands: f.has('ignore-install'), firstTime: f.has('first-time'), removeHolders: f.has('remove-holders'), waitMs },
      )
      let err = 0
      for (const name of positionals) {
        const r = await remover.remove(name)
        if (r < 0) err = r
      }
      return err < 0 ? 1 : 0
    }
    const names = all ? positionals : positionals.slice(0, 1)
    const extra = all ? null : optionsFromArgs(positionals.slice(1))
    const prober = new Prober(db, config)
    const ctx: ProbeInsertContext = { db, sys: io.sys, sysModule: env.sysModule, report, insertEnv: env.insert, run: env.run, commandEnv }
    const opts: ProbeInsertOptions = {
      dryRun,
      ignoreLoaded: showDepends,
      show: showDepends || level > LOG_WARNING,
      ignoreCommands: f.has('ignore-install'),
      useBlacklist: f.has('use-blacklist'),
      firstTime: f.has('first-time'),
      force: { modversions: force || f.has('force-modversion'), vermagic: force || f.has('force-vermagic') },
      extraOptions: extra,
    }
    let failed = 0
    for (const name of names) {
      const refs = lookup(db, config, name)
      if (refs === null || refs.length === 0) {
        report.log(`Module ${name} not found in directory ${dir}\n`)
        failed = -2
        continue
      }
      let err = 0
      for (const ref of refs) {
        if (f.has('resolve-alias')) {
          io.out(`${ref.name}\n`)
          continue
        }
        err = await probeInsert(ctx, prober, ref, opts)
        if (err >= 0) err = 0
        else {
          report.error(`${insertFailure(ref.name, -err)}\n`)
          const hint = insertHint(-err)
          if (hint && !quiet) io.err(`${io.prog}: hint: ${hint}\n`)
        }
      }
      if (err < 0) failed = err
    }
    return failed < 0 ? 1 : 0
  } catch (err) {
    if (err instanceof Fatal) return 1
    throw err
  }
}

export const modprobeTool: Tool = makeModprobeTool()
