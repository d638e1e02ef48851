// `lsmod`: kmod's lsmod. Lists /proc/modules with kmod's columns:
//   "%-19s %8ld  %d" (name, size, use count), then " holder,holder,..." when there are any.
// Like kmod, the size, use count and holders come from /sys/module/NAME (coresize, refcnt,
// holders/ in directory order) when it is there; unlike kmod, a module without that directory
// (a fixture, a /proc without /sys) shows /proc/modules' own columns instead of -2 and errors.
import { opendirSync, readFileSync } from 'node:fs'
import { PROC_MODULES, SYS_MODULE } from '../paths.js'
import { strerror } from '../sys/syscalls.js'
import { errnoOf } from '../depmod/run.js'
import { modnameNormalize } from '../depmod/select.js'
import type { Tool, ToolIo } from './io.js'

export interface LsmodEnv {
  procModules: string
  sysModule: string
}

export interface LoadedModule {
  name: string
  size: number
  refcnt: number
  holders: string[]
}

/**
 * Parser for /proc/modules: "NAME SIZE REFCOUNT USERS STATE ADDRESS [TAINTS]", USERS being "-"
 * or "a,b," (the modules using this one). A line with fewer fields keeps what it has.
 */
export function parseProcModules(text: string): LoadedModule[] {
  const out: LoadedModule[] = []
  for (const line of text.split('\n')) {
    const f = line.split(/[ \t]+/).filter((x) => x.length > 0)
    if (f.length === 0) continue
    const holders = f[3] === undefined || f[3] === '-' ? [] : f[3].split(',').filter((u) => u.length > 0)
    out.push({ name: modnameNormalize(f[0]), size: Number(f[1]) || 0, refcnt: Number(f[2]) || 0, holders })
  }
  return out
}

/** kmod's lsmod lines for these modules (header included). */
export function formatLsmod(mods: readonly LoadedModule[]): string {
  let out = 'Module                  Size  Used by\n'
  for (const m of mods) {
    out += `${m.name.padEnd(19)} ${String(m.size).padStart(8)}  ${m.refcnt}`
    if (m.holders.length > 0) out += ` ${m.holders.join(',')}`
    out += '\n'
  }
  return out
}

function readNumber(path: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(path, 'latin1').trim(), 10)
    return Number.isNaN(n) ? undefined : n
  } catch {
    return undefined
  }
}

/** Entries of a directory in the order the kernel returns them (kmod's readdir order). */
function rawDirEntries(path: string): string[] | undefined {
  let dir
  try {
    dir = opendirSync(path)
  } catch {
    return undefined
  }
  const out: string[] = []
  try {
    for (let e = dir.readSync(); e !== null; e = dir.readSync()) out.push(e.name)
  } finally {
    dir.closeSync()
  }
  return out
}

/** /proc/modules overlaid with /sys/module/NAME's coresize, refcnt and holders where present. */
export function loadedModules(env: LsmodEnv): LoadedModule[] {
  return parseProcModules(readFileSync(env.procModules, 'latin1')).map((m) => {
    const dir = `${env.sysModule}/${m.name}`
    return {
      name: m.name,
      size: readNumber(`${dir}/coresize`) ?? m.size,
      refcnt: readNumber(`${dir}/refcnt`) ?? m.refcnt,
      holders: rawDirEntries(`${dir}/holders`) ?? m.holders,
    }
  })
}

async function run(argv: string[], io: ToolIo, env: LsmodEnv): Promise<number> {
  if (argv.length !== 0) {
    io.err(`Usage: ${io.prog}\n`)
    return 1
  }
  let mods: LoadedModule[]
  try {
    mods = loadedModules(env)
  } catch (err) {
    io.err(`Error: could not get list of modules: ${strerror(errnoOf(err))} (is /proc mounted? is ${env.procModules} readable?)\n`)
    return 1
  }
  io.out(formatLsmod(mods))
  return 0
}

export function makeLsmodTool(env: LsmodEnv = { procModules: PROC_MODULES, sysModule: SYS_MODULE }): Tool {
  return {
    name: 'lsmod',
    summary: 'list loaded kernel modules (kmod-compatible)',
    run: (argv, io) => run(argv, io, env),
  }
}

export const lsmodTool: Tool = makeLsmodTool()
