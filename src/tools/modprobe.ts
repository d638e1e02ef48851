// `modload modprobe`: kmod's modprobe over our module database and modprobe.d parser. This
// issue covers the questions (-R resolve, -D show dependencies, -n dry run, -c show config);
// loading and removal come later, but the common flags are all parsed so they can follow.
// Output and exit codes follow kmod 30: `-D` prints "insmod PATH OPTIONS" (the space before
// the options is always there), "install COMMAND OPTIONS" and "builtin NAME".
import { release } from 'node:os'
import { readFileSync } from 'node:fs'
import { openModuleDir, MissingIndexError } from '../core/moddb-fs.js'
import type { ModuleDb } from '../core/moddb.js'
import { lookup } from '../core/lookup.js'
import { Prober, formatAction } from '../core/probe.js'
import { loadModprobeConfig } from '../config/config-fs.js'
import { END_OF_CONFIG, formatConfig, formatIndexDump } from '../config/show.js'
import { VERSION } from '../version.js'
import { UsageError, type Tool, type ToolIo } from './io.js'
import { getoptOrReport, type OptSpec } from './kmod-getopt.js'

const USAGE = `Usage:
	modprobe [options] [-i] [-b] modulename [module parameters...]
	modprobe [options] -a [-i] [-b] modulename [modulename...]
	modprobe [options] -r [-i] modulename
	modprobe [options] -c
Management Options:
	-a, --all                   Consider every non-argument to be a module name
	-r, --remove                Remove modules instead of inserting (not yet supported)
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

/** The modules directory as kmod computes it: ROOT/lib/modules/KVER, made absolute. */
export function kmodDirname(root: string | undefined, kver: string | undefined, cwd: string): string {
  const dir = root !== undefined || kver !== undefined ? `${root ?? ''}/lib/modules/${kver ?? release()}` : `/lib/modules/${release()}`
  return dir.startsWith('/') ? dir : `${cwd}/${dir}`
}

function readCmdline(): string {
  try {
    return readFileSync('/proc/cmdline', 'latin1')
  } catch {
    return ''
  }
}

export const modprobeTool: Tool = {
  name: 'modprobe',
  summary: 'kmod-compatible modprobe: resolve (-R), show dependencies (-D), show config (-c)',
  async run(argv, io: ToolIo) {
    const env = process.env.MODPROBE_OPTIONS
    const args = env ? [...splitEnvOptions(env), ...argv] : argv
    const parsed = getoptOrReport(args, OPTIONS, io)
    if (parsed === null) return 1
    const f = flags(parsed.opts)
    const positionals = parsed.operands
    if (f.has('help')) {
      io.out(USAGE)
      return 0
    }
    if (f.has('version')) {
      io.out(`modload ${VERSION} (kmod 30 compatible modprobe)\n`)
      return 0
    }
    const quiet = f.has('quiet')
    const verbose = f.has('verbose')
    const showConfig = f.has('showconfig')
    const showDepends = f.has('show-depends')
    const dryRun = showDepends || f.has('dry-run')
    if (f.has('show-modversions') || f.has('show-exports')) {
      throw new UsageError('--show-modversions and --show-exports are not supported yet (see modinfo)')
    }
    if (!showConfig && positionals.length === 0) throw new UsageError('missing parameters. See -h.')
    const dir = kmodDirname(f.last('dirname'), f.last('set-version'), process.cwd())
    const { config, warnings } = loadModprobeConfig({ paths: f.has('config') ? f.all('config') : undefined, modulesDir: dir, cmdline: readCmdline() })
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
    if (f.has('remove')) throw new UsageError('-r (removal) is not supported yet')
    if (!dryRun && !f.has('resolve-alias')) {
      io.err(`${io.prog}: loading modules is not supported yet; use -n, -D, -R or -c\n`)
      return 1
    }
    if (!db) {
      if (!quiet) io.err(`${io.prog}: FATAL: ${dbError!.message}\n`)
      return 1
    }
    const all = f.has('all')
    const names = all ? positionals : positionals.slice(0, 1)
    const extra = all ? null : optionsFromArgs(positionals.slice(1))
    const show = showDepends || verbose
    let failed = false
    let out = ''
    for (const name of names) {
      const refs = lookup(db, config, name)
      if (refs === null || refs.length === 0) {
        if (!quiet) {
          io.out(out)
          out = ''
          io.err(`${io.prog}: FATAL: Module ${name} not found in directory ${dir}\n`)
        }
        failed = true
        continue
      }
      if (f.has('resolve-alias')) {
        for (const r of refs) out += `${r.name}\n`
        continue
      }
      const prober = new Prober(db, config)
      for (const ref of refs) {
        const plan = prober.plan(ref, { ignoreCommands: f.has('ignore-install'), useBlacklist: f.has('use-blacklist'), extraOptions: extra })
        if (show) for (const a of plan.actions) out += formatAction(a)
      }
    }
    io.out(out)
    return failed ? 1 : 0
  },
}
