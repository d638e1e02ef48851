// depmod's file side: reads depmod.d, walks the module tree, reads every module file
// (decompressing as needed), hands the data to depmod.ts and writes the index files the way
// kmod does (each to a temporary name in the directory, then renamed over the old one).
import { readFileSync, readdirSync, renameSync, statSync, writeFileSync, unlinkSync, type Dirent } from 'node:fs'
import { fsPromises } from '../sys/lazy.js'
import { constants } from 'node:os'
import { basename } from 'node:path'
import { moduleImage } from '../compress/compress.js'
import { parseElf, type Elf } from '../elf/elf.js'
import { readModinfo } from '../elf/modinfo.js'
import { exportedSymbols, neededSymbols } from '../elf/symbols.js'
import { strerror } from '../sys/syscalls.js'
import { emptyConfig, finishConfig, parseDepmodConf, type DepmodConfig } from './config.js'
import { depmod, type DepmodOptions, type DepmodResult, type Diagnostic, type ModuleData } from './depmod.js'
import { isModuleFileName, pathToModname, selectModules } from './select.js'

/** Where kmod looks for depmod.d files (not below -b: kmod reads the running system's). */
export const DEFAULT_CONFIG_PATHS = ['/etc/depmod.d', '/run/depmod.d', '/usr/local/lib/depmod.d', '/lib/depmod.d']

const ERRNO = constants.errno as Readonly<Record<string, number>>

/** errno of any error we may meet reading a module (Node's fs errors, ours), default EINVAL. */
export function errnoOf(err: unknown): number {
  const e = err as { errno?: number; code?: string }
  if (typeof e?.code === 'string' && ERRNO[e.code] !== undefined) return ERRNO[e.code]
  if (typeof e?.errno === 'number') return Math.abs(e.errno)
  return ERRNO.EINVAL
}

/** The file's text, or undefined with the reason recorded under its name. */
function readOptional(dir: string, name: string, unreadable: Record<string, string>): string | undefined {
  try {
    return readFileSync(`${dir}/${name}`, 'latin1')
  } catch (err) {
    unreadable[name] = strerror(errnoOf(err))
    return undefined
  }
}

/** Load the depmod.d files of `paths` as kmod does; diagnostics kmod-worded. */
export function loadConfig(paths: readonly string[], kver: string, diags: Diagnostic[]): DepmodConfig {
  const files: { name: string; path: string }[] = []
  const add = (name: string, path: string): void => {
    if (files.some((f) => f.name === name)) return
    files.push({ name, path })
  }
  for (const p of paths) {
    let st
    try {
      st = statSync(p)
    } catch {
      continue
    }
    if (!st.isDirectory()) {
      add(basename(p), p)
      continue
    }
    let entries: Dirent[]
    try {
      entries = readdirSync(p, { withFileTypes: true })
    } catch (err) {
      diags.push({ level: 'ERROR', message: `files list ${p}: ${strerror(errnoOf(err))}` })
      continue
    }
    for (const e of entries) {
      if (e.name.startsWith('.') || e.name.length < 6 || !e.name.endsWith('.conf')) continue
      if (statSync(`${p}/${e.name}`, { throwIfNoEntry: false })?.isDirectory()) {
        diags.push({ level: 'ERROR', message: `Directories inside directories are not supported: ${p}/${e.name}` })
        continue
      }
      add(e.name, `${p}/${e.name}`)
    }
  }
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const cfg = emptyConfig()
  for (const f of files) {
    let text: string
    try {
      text = readFileSync(f.path, 'latin1')
    } catch (err) {
      diags.push({ level: 'ERROR', message: `file parse ${f.path}: ${strerror(errnoOf(err))}` })
      continue
    }
    for (const d of parseDepmodConf(cfg, text, f.path, kver)) diags.push({ level: 'ERROR', message: d })
  }
  return finishConfig(cfg)
}

const ALWAYS_SKIPPED = new Set(['.', '..', 'build', 'source'])

/**
 * Every file under `dir` (depth first, entries in name order), skipping "build", "source" and
 * the excluded names. Errors on subdirectories are reported and skipped, as kmod does.
 */
export function walkTree(dir: string, excludes: readonly string[], diags: Diagnostic[]): string[] {
  const out: string[] = []
  const visit = (d: string): void => {
    let entries: Dirent[]
    try {
      entries = readdirSync(d, { withFileTypes: true })
    } catch (err) {
      diags.push({ level: 'ERROR', message: `openat(${d}): ${strerror(errnoOf(err))}` })
      return
    }
    for (const e of entries) {
      if (ALWAYS_SKIPPED.has(e.name) || excludes.includes(e.name)) continue
      const path = `${d}/${e.name}`
      let isDir = e.isDirectory()
      let isFile = e.isFile()
      if (!isDir && !isFile) {
        const st = statSync(path, { throwIfNoEntry: false })
        if (!st) {
          diags.push({ level: 'ERROR', message: `fstatat(${e.name}): No such file or directory` })
          continue
        }
        isDir = st.isDirectory()
        isFile = st.isFile()
      }
      if (isDir) visit(path)
      else if (isFile) out.push(path)
    }
  }
  visit(dir)
  return out
}

/** What depmod needs from one module file. Never throws: failures become kmod's messages. */
export async function readModuleData(path: string): Promise<ModuleData> {
  let elf: Elf
  try {
    elf = parseElf(await moduleImage(await fsPromises().readFile(path), path), path)
  } catch (err) {
    return { path, info: null, exports: { error: strerror(errnoOf(err)) }, needs: null }
  }
  const attempt = <T>(f: () => T): T | null => {
    try {
      return f()
    } catch {
      return null
    }
  }
  let exports: ModuleData['exports']
  try {
    exports = exportedSymbols(elf)
  } catch (err) {
    const errno = errnoOf(err)
    exports = errno === ERRNO.ENOENT ? null : { error: strerror(errno) }
  }
  return { path, info: attempt(() => readModinfo(elf)), exports, needs: attempt(() => neededSymbols(elf)) }
}

/** Read many modules, a few at a time (I/O overlaps; decompression is CPU-bound anyway). */
export async function readModules(paths: readonly string[], parallel = 8): Promise<ModuleData[]> {
  const out: ModuleData[] = new Array(paths.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const i = next++
      out[i] = await readModuleData(paths[i])
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, paths.length) }, worker))
  return out
}

/** Kernel symbols from Module.symvers ("0xCRC<TAB>NAME<TAB>vmlinux<TAB>EXPORT_..."), -E. */
export function parseSymvers(text: string, file: string, symPrefix: string, diags: Diagnostic[]): { name: string; crc: number }[] {
  const out: { name: string; crc: number }[] = []
  text.split(/(?<=\n)/).forEach((line, i) => {
    const [ver, sym, where] = line.split(/[ \t]+/).filter((w) => w.length > 0)
    if (!ver || !sym || !where || where !== 'vmlinux') return
    const m = /^\s*(?:0[xX])?([0-9a-fA-F]+)$/.exec(ver)
    if (!m) {
      diags.push({ level: 'ERROR', message: `${file}:${i + 1} Invalid symbol version ${ver}: Success` })
      return
    }
    out.push({ name: symPrefix !== '' && sym[0] === symPrefix ? sym.slice(1) : sym, crc: Number.parseInt(m[1], 16) })
  })
  return withFakeSymbols(out)
}

/** Kernel symbols from System.map ("ADDR TYPE __ksymtab_NAME"), -F. */
export function parseSystemMap(text: string, file: string, symPrefix: string, diags: Diagnostic[]): { name: string; crc: number }[] {
  const out: { name: string; crc: number }[] = []
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  lines.forEach((line, i) => {
    const a = line.indexOf(' ')
    const b = a < 0 ? -1 : line.indexOf(' ', a + 1)
    if (b < 0) {
      diags.push({ level: 'ERROR', message: `${file}:${i + 1}: invalid line: ${line}\n` })
      return
    }
    let p = line.slice(b + 1)
    if (symPrefix !== '' && p[0] === symPrefix) p = p.slice(1)
    if (p.startsWith('__ksymtab_')) out.push({ name: p.slice('__ksymtab_'.length), crc: 0 })
  })
  return withFakeSymbols(out)
}

/** Symbols the kernel's module loader provides itself (depmod_add_fake_syms). */
function withFakeSymbols(syms: { name: string; crc: number }[]): { name: string; crc: number }[] {
  const out = [...syms, { name: '__this_module', crc: 0 }, { name: '_GLOBAL_OFFSET_TABLE_', crc: 0 }]
  if (!out.some((s) => s.name === 'TOC.')) out.push({ name: 'TOC.', crc: 0 })
  return out
}

export interface RunDepmodOptions extends Omit<DepmodOptions, 'checkSymvers'> {
  kver: string
  /** -a (or no module operands): search the whole tree; else just these absolute paths */
  modules?: readonly string[]
  configPaths: readonly string[]
  /** -E FILE */
  symvers?: string
  /** -F FILE */
  systemMap?: string
}

export class DepmodError extends Error {
  constructor(
    message: string,
    readonly diagnostics: Diagnostic[],
  ) {
    super(message)
    this.name = 'DepmodError'
  }
}

/** The whole run up to the outputs; throws DepmodError for kmod's fatal errors. */
export async function computeDepmod(o: RunDepmodOptions): Promise<DepmodResult> {
  const diags: Diagnostic[] = []
  let kernelSymbols: { name: string; crc: number }[] | undefined
  const readKernelFile = (file: string): string => {
    try {
      return readFileSync(file, 'latin1')
    } catch (err) {
      throw new DepmodError(`could not load ${file}: ${strerror(errnoOf(err))}`, diags)
    }
  }
  if (o.symvers !== undefined) kernelSymbols = parseSymvers(readKernelFile(o.symvers), o.symvers, o.symPrefix, diags)
  else if (o.systemMap !== undefined) kernelSymbols = parseSystemMap(readKernelFile(o.systemMap), o.systemMap, o.symPrefix, diags)

  let paths: string[]
  if (o.modules === undefined) {
    const cfg = loadConfig(o.configPaths, o.kver, diags)
    try {
      const st = statSync(o.dirname)
      if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' })
    } catch (err) {
      const why = strerror(errnoOf(err))
      diags.push({ level: 'ERROR', message: `could not open directory ${o.dirname}: ${why}` })
      throw new DepmodError(`could not search modules: ${why} (is ${o.dirname} the right tree? see -b and the version argument)`, diags)
    }
    const found = walkTree(o.dirname, cfg.excludes, diags)
    for (const ext of cfg.externals) {
      if (statSync(ext, { throwIfNoEntry: false })?.isDirectory()) found.push(...walkTree(ext, cfg.excludes, diags))
    }
    paths = [...selectModules(found, cfg, o.dirname).values()]
  } else {
    paths = []
    const names = new Set<string>()
    for (const p of o.modules) {
      if (!statSync(p, { throwIfNoEntry: false })) throw new DepmodError(`could not create module ${p}: No such file or directory`, diags)
      const name = pathToModname(p)
      if (names.has(name)) throw new DepmodError(`could not add module ${p}: File exists (another file of that module name is listed)`, diags)
      names.add(name)
      paths.push(p)
    }
  }
  const modules = await readModules(paths)
  const unreadable: Record<string, string> = {}
  const result = depmod(
    {
      modules,
      order: readOptional(o.dirname, 'modules.order', unreadable),
      builtin: readOptional(o.dirname, 'modules.builtin', unreadable),
      builtinModinfo: readOptional(o.dirname, 'modules.builtin.modinfo', unreadable),
      kernelSymbols,
      unreadable,
    },
    { ...o, checkSymvers: o.symvers !== undefined },
  )
  return { ...result, diagnostics: [...diags, ...result.diagnostics] }
}

/** Write the outputs into `dirname`: each to NAME.PID.USEC.SEC, then renamed over NAME. */
export function writeOutputs(dirname: string, result: DepmodResult, now = Date.now()): void {
  const sec = Math.floor(now / 1000)
  const usec = (now % 1000) * 1000
  for (const f of result.files) {
    const tmp = `${dirname}/${f.name}.${process.pid}.${usec}.${sec}`
    const data = typeof f.data === 'string' ? Buffer.from(f.data, 'latin1') : f.data
    try {
      writeFileSync(tmp, data, { flag: 'wx', mode: 0o644 })
      renameSync(tmp, `${dirname}/${f.name}`)
    } catch (err) {
      try {
        unlinkSync(tmp)
      } catch {
        // nothing was created
      }
      throw new DepmodError(`could not write ${dirname}/${f.name}: ${strerror(errnoOf(err))} (is the directory writable?)`, [])
    }
  }
}

/** -A: true when modules.dep is newer than every module file (kmod's depfile_up_to_date). */
export function upToDate(dirname: string): boolean {
  const dep = statSync(`${dirname}/modules.dep`, { throwIfNoEntry: false })
  if (!dep) return false
  const depSec = Math.floor(dep.mtimeMs / 1000)
  for (const p of walkTree(dirname, [], [])) {
    if (!isModuleFileName(basename(p))) continue
    const st = statSync(p, { throwIfNoEntry: false })
    if (st && Math.floor(st.mtimeMs / 1000) > depSec) return false
  }
  return true
}
