// `depmod`: kmod's depmod. Reads the modules of one kernel and writes modules.dep, .alias,
// .softdep, .symbols, .devname and the binary indexes kmod's tools read, byte for byte as
// kmod 30 writes them (plus modules.builtin.alias as text, for modload's own database).
import { kernelRelease } from '../sys/release.js'
import { isAbsolute } from 'node:path'
import { computeDepmod, DepmodError, DEFAULT_CONFIG_PATHS, upToDate, writeOutputs } from '../depmod/run.js'
import type { Diagnostic } from '../depmod/depmod.js'
import { getoptOrReport, type OptSpec } from './kmod-getopt.js'
import { kmodDirname, latin1ToText, absoluteFromCwd } from './kmod-paths.js'
import type { Tool, ToolIo } from './io.js'
import { VERSION } from '../version.js'

const SPECS: OptSpec[] = [
  { short: 'a', long: 'all' },
  { short: 'A', long: 'quick' },
  { short: 'b', long: 'basedir', arg: true },
  { short: 'C', long: 'config', arg: true },
  { short: 'E', long: 'symvers', arg: true },
  { short: 'F', long: 'filesyms', arg: true },
  { short: 'e', long: 'errsyms' },
  { short: 'u', long: 'unresolved-error' },
  { short: 'q', long: 'quiet' },
  { short: 'r', long: 'root' },
  { short: 'v', long: 'verbose' },
  { short: 'n', long: 'show' },
  { long: 'dry-run', key: 'show' },
  { short: 'P', long: 'symbol-prefix', arg: true },
  { short: 'w', long: 'warn' },
  { short: 'm', long: 'map' },
  { short: 'V', long: 'version' },
  { short: 'h', long: 'help' },
]

const HELP = (prog: string): string => `Usage:
\t${prog} -[aA] [options] [forced_version]

If no arguments (except options) are given, "depmod -a" is assumed

depmod will output a dependency list suitable for the modprobe utility.

Options:
\t-a, --all            Probe all modules
\t-A, --quick          Only does the work if there's a new module
\t-e, --errsyms        Report not supplied symbols
\t-n, --show           Write the dependency file on stdout only
\t-P, --symbol-prefix  Architecture symbol prefix
\t-C, --config=PATH    Read configuration from PATH
\t-v, --verbose        Enable verbose mode
\t-w, --warn           Warn on duplicates
\t-V, --version        show version
\t-h, --help           show this help

The following options are useful for people managing distributions:
\t-b, --basedir=DIR    Use an image of a module tree.
\t-F, --filesyms=FILE  Use the file instead of the
\t                     current kernel symbols.
\t-E, --symvers=FILE   Use Module.symvers file to check
\t                     symbol versions.
`

export interface DepmodEnv {
  /** `uname -r` */
  release: () => string
  /** depmod.d locations used when no -C is given */
  configPaths: readonly string[]
  cwd: () => string
}

const DEFAULT_ENV: DepmodEnv = { release: kernelRelease, configPaths: DEFAULT_CONFIG_PATHS, cwd: () => process.cwd() }

function printDiags(io: ToolIo, diags: readonly Diagnostic[]): void {
  for (const d of diags) io.err(`${io.prog}: ${d.level}: ${latin1ToText(d.message)}\n`)
}

async function run(argv: string[], io: ToolIo, env: DepmodEnv): Promise<number> {
  const parsed = getoptOrReport(argv, SPECS, io)
  if (parsed === null) return 1
  let root: string | undefined
  const configPaths: string[] = []
  let symvers: string | undefined
  let systemMap: string | undefined
  let printUnknown = false
  let verbose = false
  let show = false
  let symPrefix = ''
  let warnDups = false
  let quick = false
  for (const { key, value } of parsed.opts) {
    switch (key) {
      case 'basedir':
        root = absoluteFromCwd(value, env.cwd())
        break
      case 'config':
        configPaths.push(value)
        break
      case 'symvers':
        symvers = value
        break
      case 'filesyms':
        systemMap = value
        break
      case 'errsyms':
        printUnknown = true
        break
      case 'verbose':
        verbose = true
        break
      case 'show':
        show = true
        break
      case 'symbol-prefix':
        if (value.length !== 1) {
          io.err(`${io.prog}: FATAL: -P only takes a single char\n`)
          return 1
        }
        symPrefix = value
        break
      case 'warn':
        warnDups = true
        break
      case 'quick':
        quick = true
        break
      case 'unresolved-error':
      case 'quiet':
      case 'root':
      case 'map':
        io.err(`${io.prog}: WARNING: Ignored deprecated option --${key}\n`)
        break
      case 'help':
        io.out(HELP(io.prog))
        return 0
      case 'version':
        io.out(`modload version ${VERSION} (kmod-compatible depmod)\n`)
        return 0
    }
  }
  const operands = [...parsed.operands]
  let kver = env.release()
  if (operands.length > 0) {
    const v = operands.shift() as string
    if (!/^\s*[+-]?\d+\.\s*[+-]?\d+/.test(v)) {
      io.err(`${io.prog}: ERROR: Bad version passed ${v}\n`)
      return 1
    }
    kver = v
  }
  const dirname = kmodDirname(root, kver)
  if (quick) {
    if (show) return 0
    if (upToDate(dirname)) return 0
  }
  if (printUnknown && symvers === undefined && systemMap === undefined) {
    io.err(`${io.prog}: WARNING: -e needs -E or -F\n`)
    printUnknown = false
  }
  let modules: string[] | undefined
  if (operands.length > 0) {
    for (const p of operands) {
      if (!isAbsolute(p)) {
        io.err(`${io.prog}: FATAL: ${p}: not absolute path.\n`)
        return 1
      }
    }
    modules = operands
  }
  try {
    const result = await computeDepmod({
      dirname,
      kver,
      modules,
      configPaths: configPaths.length > 0 ? configPaths : env.configPaths,
      symvers,
      systemMap,
      symPrefix,
      printUnknown,
      warnDups,
      verbose,
      dryRun: show,
    })
    if (result.shown.length > 0) io.out(result.shown.map((l) => latin1ToText(l) + '\n').join(''))
    printDiags(io, result.diagnostics)
    if (result.failed) return 1
    if (show) {
      for (const f of result.files) if (f.shown && typeof f.data === 'string') io.out(latin1ToText(f.data))
      return 0
    }
    writeOutputs(dirname, result)
    return 0
  } catch (err) {
    if (err instanceof DepmodError) {
      printDiags(io, err.diagnostics)
      io.err(`${io.prog}: FATAL: ${err.message}\n`)
      return 1
    }
    throw err
  }
}

export function makeDepmodTool(env: DepmodEnv = DEFAULT_ENV): Tool {
  return {
    name: 'depmod',
    summary: 'generate modules.dep and the other module indexes (kmod-compatible)',
    run: (argv, io) => run(argv, io, env),
  }
}

export const depmodTool: Tool = makeDepmodTool()
