// `modinfo`: kmod's modinfo. Shows a module's .modinfo fields and signature, by file path
// (.ko, .ko.gz, .ko.xz, .ko.zst), module name or alias, with kmod's exact output format
// (tools/modinfo.c, kmod 30): "key:" padded to 16 columns, parameters gathered at the end,
// -F FIELD for one field's values, -0 for NUL separators.
import { readFileSync, statSync } from 'node:fs'
import { kernelRelease } from '../sys/release.js'
import { moduleInfo } from '../elf/module.js'
import { readModuleImage } from '../elf/read.js'
import type { InfoEntry } from '../elf/modinfo.js'
import { builtinAliases, builtinModinfo } from '../depmod/builtin-modinfo.js'
import { buildIndexes, lookupAlias, lookupName, type Hit, type Indexes } from '../depmod/lookup.js'
import { isModuleFileName, pathToModname } from '../depmod/select.js'
import { errnoOf } from '../depmod/run.js'
import { strerror } from '../sys/syscalls.js'
import { getoptOrReport, type OptSpec } from './kmod-getopt.js'
import { absoluteFromCwd, kmodDirname, latin1ToText } from './kmod-paths.js'
import type { Tool, ToolIo } from './io.js'
import { VERSION } from '../version.js'

const SPECS: OptSpec[] = [
  { short: 'a', long: 'author' },
  { short: 'd', long: 'description' },
  { short: 'l', long: 'license' },
  { short: 'p', long: 'parameters' },
  { short: 'n', long: 'filename' },
  { short: '0', long: 'null' },
  { short: 'm', long: 'modname' },
  { short: 'F', long: 'field', arg: true },
  { short: 'k', long: 'set-version', arg: true },
  { short: 'b', long: 'basedir', arg: true },
  { short: 'V', long: 'version' },
  { short: 'h', long: 'help' },
]

const FIELD_OF: Readonly<Record<string, string>> = {
  author: 'author',
  description: 'description',
  license: 'license',
  parameters: 'parm',
  filename: 'filename',
}

const HELP = (prog: string): string => `Usage:
\t${prog} [options] <modulename|filename> [args]
Options:
\t-a, --author                Print only 'author'
\t-d, --description           Print only 'description'
\t-l, --license               Print only 'license'
\t-p, --parameters            Print only 'parm'
\t-n, --filename              Print only 'filename'
\t-0, --null                  Use \\0 instead of \\n
\t-m, --modname               Handle argument as module name instead of alias or filename
\t-F, --field=FIELD           Print only provided FIELD
\t-k, --set-version=VERSION   Use VERSION instead of \`uname -r\`
\t-b, --basedir=DIR           Use DIR as filesystem root for /lib/modules
\t-V, --version               Show version
\t-h, --help                  Show this help
`

interface Param {
  name: string
  desc: string | null
  type: string | null
}

/** parm/parmtype entries merged per parameter, newest first, as kmod's linked list has them. */
function collectParams(entries: readonly InfoEntry[], errors: string[]): Param[] {
  const list: Param[] = []
  for (const e of entries) {
    if (e.key !== 'parm' && e.key !== 'parmtype') continue
    const colon = e.value.indexOf(':')
    if (colon < 0) {
      errors.push(`Found invalid "${e.key}=${e.value}": missing ':'`)
      continue
    }
    const name = e.value.slice(0, colon)
    let p = list.find((x) => x.name === name)
    if (!p) {
      p = { name, desc: null, type: null }
      list.unshift(p)
    }
    if (e.key === 'parm') p.desc = e.value.slice(colon + 1)
    else p.type = e.value.slice(colon + 1)
  }
  return list
}

export interface ModinfoEnv {
  release: () => string
  cwd: () => string
}

const DEFAULT_ENV: ModinfoEnv = { release: kernelRelease, cwd: () => process.cwd() }

interface Ctx {
  io: ToolIo
  field: string | null
  sep: string
  dir: string
  indexes: () => Indexes
  builtinModinfoText: () => string | undefined
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1')
  } catch {
    return undefined
  }
}

/** kmod's modinfo_do for one module. Returns false on error (already reported). */
async function show(ctx: Ctx, name: string, path: string | null, isBuiltin: boolean): Promise<boolean> {
  const { io, field, sep } = ctx
  const errors: string[] = []
  let out = ''
  const flush = (): void => {
    if (out) io.out(latin1ToText(out))
    for (const e of errors) io.err(`${io.prog}: ERROR: ${latin1ToText(e)}\n`)
  }
  const builtin = path === null
  if (builtin) {
    if (field === null) out += `${'name:'.padEnd(16)}${name}${sep}`
    else if (field === 'name') out += `${name}${sep}`
  }
  const filename = path ?? '(builtin)'
  if (field === 'filename') {
    out += `${filename}${sep}`
    flush()
    return true
  }
  if (field === null) out += `${'filename:'.padEnd(16)}${filename}${sep}`

  let entries: InfoEntry[]
  try {
    if (builtin) {
      if (!isBuiltin) throw Object.assign(new Error('no file'), { code: 'ENOENT' })
      const text = ctx.builtinModinfoText()
      if (text === undefined) throw Object.assign(new Error('no modules.builtin.modinfo'), { code: 'ENOENT' })
      const found = builtinModinfo(text, name)
      if (!found) throw Object.assign(new Error('not in modules.builtin.modinfo'), { code: 'ENOSYS' })
      entries = found
    } else {
      entries = moduleInfo(await readModuleImage(path), path)
    }
  } catch (err) {
    const errno = errnoOf(err)
    // an old kernel without modules.builtin.modinfo: nothing more to say about a built-in
    if (builtin && errno === 2) {
      flush()
      return true
    }
    errors.push(`could not get modinfo from '${name}': ${strerror(errno)}`)
    flush()
    return false
  }

  if (field === 'parm') {
    for (const p of collectParams(entries, errors)) {
      if (p.desc === null) out += `${p.name}: (${p.type})${sep}`
      else if (p.type !== null) out += `${p.name}:${p.desc} (${p.type})${sep}`
      else out += `${p.name}:${p.desc}${sep}`
    }
    flush()
    return true
  }
  if (field !== null) {
    for (const e of entries) if (e.key === field) out += `${e.value}${sep}`
    flush()
    return true
  }
  const rest: InfoEntry[] = []
  for (const e of entries) {
    if (e.key === 'parm' || e.key === 'parmtype') {
      rest.push(e)
      continue
    }
    if (sep === '\0') out += `${e.key}=${e.value}${sep}`
    // printf("%s:%-*s", key, 15 - keylen, ""): a negative width pads too, C takes its magnitude
    else out += `${e.key}:${' '.repeat(Math.abs(15 - e.key.length))}${e.value}${sep}`
  }
  for (const p of collectParams(rest, errors)) {
    const head = 'parm:'.padEnd(16)
    if (p.desc === null) out += `${head}${p.name}:${p.type}${sep}`
    else if (p.type !== null) out += `${head}${p.name}:${p.desc} (${p.type})${sep}`
    else out += `${head}${p.name}:${p.desc}${sep}`
  }
  flush()
  return true
}

function isModuleFile(path: string, cwd: string): boolean {
  const st = statSync(absoluteFromCwd(path, cwd), { throwIfNoEntry: false })
  return st !== undefined && st.isFile() && isModuleFileName(path)
}

async function run(argv: string[], io: ToolIo, env: ModinfoEnv): Promise<number> {
  const parsed = getoptOrReport(argv, SPECS, io)
  if (parsed === null) return 1
  let field: string | null = null
  let sep = '\n'
  let byName = false
  let kver: string | undefined
  let root: string | undefined
  for (const { key, value } of parsed.opts) {
    if (FIELD_OF[key]) field = FIELD_OF[key]
    else if (key === 'field') field = value
    else if (key === 'null') sep = '\0'
    else if (key === 'modname') byName = true
    else if (key === 'set-version') kver = value
    else if (key === 'basedir') root = value
    else if (key === 'help') {
      io.out(HELP(io.prog))
      return 0
    } else if (key === 'version') {
      io.out(`modload version ${VERSION} (kmod-compatible modinfo)\n`)
      return 0
    }
  }
  if (parsed.operands.length === 0) {
    io.err(`${io.prog}: ERROR: missing module or filename.\n`)
    return 1
  }
  const dir = absoluteFromCwd(kmodDirname(root, kver ?? env.release()), env.cwd())
  let indexes: Indexes | undefined
  let builtinText: string | undefined | null = null
  const ctx: Ctx = {
    io,
    field,
    sep,
    dir,
    builtinModinfoText: () => (builtinText === null ? (builtinText = readOptional(`${dir}/modules.builtin.modinfo`)) : builtinText),
    indexes: () =>
      (indexes ??= buildIndexes({
        dir,
        dep: readOptional(`${dir}/modules.dep`),
        symbols: readOptional(`${dir}/modules.symbols`),
        alias: readOptional(`${dir}/modules.alias`),
        builtin: readOptional(`${dir}/modules.builtin`),
        builtinAliases: builtinAliases(ctx.builtinModinfoText() ?? ''),
      })),
  }
  const showHit = (h: Hit): Promise<boolean> => show(ctx, h.name, h.path, h.builtin)
  let ok = true
  for (const arg of parsed.operands) {
    if (byName) {
      const h = lookupName(ctx.indexes(), arg)
      if (!h) {
        io.err(`${io.prog}: ERROR: Module name ${arg} not found.\n`)
        ok = false
        continue
      }
      if (!(await showHit(h))) ok = false
    } else if (isModuleFile(arg, env.cwd())) {
      if (!(await show(ctx, pathToModname(arg), absoluteFromCwd(arg, env.cwd()), false))) ok = false
    } else {
      const hits = lookupAlias(ctx.indexes(), arg)
      if (hits === null) {
        io.err(`${io.prog}: ERROR: Module alias ${arg} not found.\n`)
        ok = false
        continue
      }
      if (hits.length === 0) {
        io.err(`${io.prog}: ERROR: Module ${arg} not found.\n`)
        ok = false
        continue
      }
      for (const h of hits) if (!(await showHit(h))) ok = false
    }
  }
  return ok ? 0 : 1
}

export function makeModinfoTool(env: ModinfoEnv = DEFAULT_ENV): Tool {
  return {
    name: 'modinfo',
    summary: 'show information about a kernel module (kmod-compatible)',
    run: (argv, io) => run(argv, io, env),
  }
}

export const modinfoTool: Tool = makeModinfoTool()
