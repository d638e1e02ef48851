// `rmmod [-f] [-v] NAME...`: kmod's rmmod (tools/rmmod.c). Before asking the kernel, checks what
// kmod checks, in /sys/module/NAME: built in (modules.builtin), not loaded (no directory), used
// by other modules (holders/), or by something else (refcnt); -f skips the checks and forces
// (delete_module with O_TRUNC, needs CONFIG_MODULE_FORCE_UNLOAD). Messages and exit code as kmod's.
import { readFileSync, statSync } from 'node:fs'
import { kernelRelease } from '../sys/release.js'
import { SYS_MODULE } from '../paths.js'
import { strerror } from '../sys/syscalls.js'
import { checkInUse as checkInUseIn, deleteModule } from '../load/remove.js'
import { errnoOf } from '../depmod/run.js'
import { modnameNormalize, pathToModname } from '../depmod/select.js'
import { getoptOrReport, type OptSpec } from './kmod-getopt.js'
import { kmodDirname } from './kmod-paths.js'
import type { Tool, ToolIo } from './io.js'
import { VERSION } from '../version.js'

const SPECS: OptSpec[] = [
  { short: 'f', long: 'force' },
  { short: 's', long: 'syslog' },
  { short: 'v', long: 'verbose' },
  { short: 'V', long: 'version' },
  { short: 'w' },
  { short: 'h', long: 'help' },
]

const HELP = (prog: string): string => `Usage:
\t${prog} [options] modulename ...
Options:
\t-f, --force       forces a module unload and may crash your
\t                  machine. This requires Forced Module Removal
\t                  option in your kernel. DANGEROUS
\t-s, --syslog      print to syslog, not stderr
\t-v, --verbose     enables more messages
\t-V, --version     show version
\t-h, --help        show this help
`

export interface RmmodEnv {
  sysModule: string
  /** modules.builtin of the running kernel (kmod asks its index), or undefined */
  builtinList: () => string | undefined
}

function defaultBuiltinList(): string | undefined {
  try {
    return readFileSync(`${kmodDirname(undefined, kernelRelease())}/modules.builtin`, 'latin1')
  } catch {
    return undefined
  }
}

/** kmod's check_module_inuse for rmmod (src/load/remove.ts), with this tool's builtin list. */
export function checkInUse(env: RmmodEnv, name: string): { messages: string[]; ok: boolean } {
  const builtin = (env.builtinList() ?? '').split('\n').some((l) => l.length > 0 && pathToModname(l) === name)
  return checkInUseIn(env.sysModule, builtin, name)
}

async function run(argv: string[], io: ToolIo, env: RmmodEnv): Promise<number> {
  const parsed = getoptOrReport(argv, SPECS, io)
  if (parsed === null) return 1
  let force = false
  for (const { key } of parsed.opts) {
    if (key === 'force') force = true
    else if (key === 'w') {
      io.err(`${io.prog}: ERROR: unexpected getopt_long() value 'w'.\n`)
      return 1
    } else if (key === 'help') {
      io.out(HELP(io.prog))
      return 0
    } else if (key === 'version') {
      io.out(`modload version ${VERSION} (kmod-compatible rmmod)\n`)
      return 0
    }
  }
  if (parsed.operands.length === 0) {
    io.err(`${io.prog}: ERROR: missing module name.\n`)
    return 1
  }
  let failures = 0
  for (const arg of parsed.operands) {
    // an existing file names its module by its basename, anything else is a module name
    const name = statSync(arg, { throwIfNoEntry: false }) ? pathToModname(arg) : modnameNormalize(arg)
    if (!force) {
      const check = checkInUse(env, name)
      for (const m of check.messages) io.err(`${io.prog}: ERROR: ${m}\n`)
      if (!check.ok) {
        failures++
        continue
      }
    }
    try {
      deleteModule(io.sys(), name, force)
    } catch (err) {
      const why = strerror(errnoOf(err))
      io.err(`${io.prog}: ERROR: could not remove '${name}': ${why}\n`)
      io.err(`${io.prog}: ERROR: could not remove module ${arg}: ${why}\n`)
      failures++
    }
  }
  return failures === 0 ? 0 : 1
}

export function makeRmmodTool(env: RmmodEnv = { sysModule: SYS_MODULE, builtinList: defaultBuiltinList }): Tool {
  return {
    name: 'rmmod',
    summary: 'unload kernel modules (kmod-compatible)',
    run: (argv, io) => run(argv, io, env),
  }
}

export const rmmodTool: Tool = makeRmmodTool()
