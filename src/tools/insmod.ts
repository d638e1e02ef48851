// `insmod FILE [PARAMS...]`: kmod's insmod. Loads one module file, no dependencies, through the
// syscall shim, with kmod's messages and exit codes (tools/insmod.c), each failure followed by
// a line saying what usually fixes it.
//
// How the file reaches the kernel is src/load/insert.ts's business (shared with modprobe).
import { statSync } from 'node:fs'
import { errnoOf } from '../depmod/run.js'
import { defaultInsertEnv, insertModuleFile, type InsertEnv } from '../load/insert.js'
import { SysError, errnoCode, strerror } from '../sys/syscalls.js'
import { getoptOrReport, type OptSpec } from './kmod-getopt.js'
import type { Tool, ToolIo } from './io.js'
import { VERSION } from '../version.js'

const SPECS: OptSpec[] = [
  { short: 'p' },
  { short: 's' },
  { short: 'f' },
  { short: 'V', long: 'version' },
  { short: 'h', long: 'help' },
]

const HELP = (prog: string): string => `Usage:
\t${prog} [options] filename [args]
Options:
\t-V, --version     show version
\t-h, --help        show this help
`

/** kmod's insmod wording for the errnos a load returns. */
export function modStrerror(errno: number): string {
  switch (errnoCode(errno)) {
    case 'ENOEXEC':
      return 'Invalid module format'
    case 'ENOENT':
      return 'Unknown symbol in module'
    case 'ESRCH':
      return 'Module has wrong symbol version'
    case 'EINVAL':
      return 'Invalid parameters'
    default:
      return strerror(errno)
  }
}

/** What usually fixes a failed insmod, or undefined when there is nothing useful to add. */
export function insmodHint(errno: number): string | undefined {
  switch (errnoCode(errno)) {
    case 'ENOENT':
      return 'insmod loads no dependencies: load the modules it needs first (or use modprobe); dmesg names the symbol or parameter'
    case 'ENOEXEC':
      return 'the file is not a module for this kernel (compare "modinfo -F vermagic FILE" with uname -r)'
    case 'ESRCH':
      return 'the module was built against other symbol versions: use the modules of the running kernel'
    case 'EINVAL':
      return 'a parameter is unknown or malformed: "modinfo -p FILE" lists them; dmesg says which'
    case 'EEXIST':
      return 'the module is already loaded (lsmod shows it)'
    case 'EKEYREJECTED':
    case 'ENOKEY':
    case 'EBADMSG':
      return 'the kernel enforces module signatures and this one is unsigned or not trusted: use a module signed by the kernel build key'
    case 'EPERM':
      return 'loading modules needs root (CAP_SYS_MODULE) and may be disabled (kernel.modules_disabled, lockdown)'
    default:
      return undefined
  }
}

/** What insmod needs from the machine besides syscalls (kept under its old name). */
export type InsmodEnv = InsertEnv

async function run(argv: string[], io: ToolIo, env: InsmodEnv): Promise<number> {
  const parsed = getoptOrReport(argv, SPECS, io)
  if (parsed === null) return 1
  let force = false
  for (const { key } of parsed.opts) {
    if (key === 'f') force = true
    else if (key === 'help') {
      io.out(HELP(io.prog))
      return 0
    } else if (key === 'version') {
      io.out(`modload version ${VERSION} (kmod-compatible insmod)\n`)
      return 0
    }
  }
  const [filename, ...rest] = parsed.operands
  if (filename === undefined) {
    io.err(`${io.prog}: ERROR: missing filename.\n`)
    return 1
  }
  if (filename === '-') {
    io.err(`${io.prog}: ERROR: this tool does not support loading from stdin!\n`)
    return 1
  }
  try {
    statSync(filename)
  } catch (err) {
    io.err(`${io.prog}: ERROR: could not load module ${filename}: ${strerror(errnoOf(err))}\n`)
    return 1
  }
  try {
    await insertModuleFile(io.sys(), filename, rest.join(' '), force, env)
    return 0
  } catch (err) {
    const errno = errnoOf(err)
    io.err(`${io.prog}: ERROR: could not insert module ${filename}: ${modStrerror(errno)}\n`)
    const hint = err instanceof SysError ? insmodHint(errno) : (err as Error).message
    if (hint) io.err(`${io.prog}: hint: ${hint}\n`)
    return 1
  }
}

export function makeInsmodTool(env: InsmodEnv = defaultInsertEnv): Tool {
  return {
    name: 'insmod',
    summary: 'load one kernel module file, no dependencies (kmod-compatible)',
    run: (argv, io) => run(argv, io, env),
  }
}

export const insmodTool: Tool = makeInsmodTool()
