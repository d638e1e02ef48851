// depmod's computation, from what the modules contain to the index files, reproducing kmod's
// depmod (tools/depmod.c, kmod 30) byte for byte:
//
//  1. Module order: kmod walks its module-name hash table (512 buckets, see hash.ts), then
//     stable-sorts by position in modules.order; modules not listed there come last.
//  2. Symbols: every export of every module, in that order, into a table where a later
//     exporter replaces an earlier one; -E/-F kernel symbols go in first, owned by no module.
//  3. Dependencies: for each needed symbol (symbol-table order, then unmatched __versions
//     entries), its owner becomes a direct dependency, once. Topological sort with kmod's stack
//     discipline gives each module a rank; a cycle fails the run as kmod's does.
//  4. Outputs: modules.dep lists each module's whole dependency closure sorted by rank;
//     modules.alias/.softdep/.devname follow module order and .modinfo order; modules.symbols
//     follows the symbol table's hash order (2048 buckets). Binary indexes via index-bin.ts.
// Pure: module data and index texts in, file contents and diagnostics out.
import type { InfoEntry } from '../elf/modinfo.js'
import type { ExportedSymbol, NeededSymbol } from '../elf/symbols.js'
import { builtinAliases } from './builtin-modinfo.js'
import { kmodHashOrder } from './hash.js'
import { createBinIndex } from './index-bin.js'
import { pathToModname } from './select.js'

export interface ModuleData {
  /** absolute path, as kmod holds it */
  path: string
  /** .modinfo entries, or null when unreadable */
  info: InfoEntry[] | null
  /** exported symbols, or an error message (kmod: "failed to load symbols"), or null: none */
  exports: ExportedSymbol[] | { error: string } | null
  /** needed symbols, or null when the module has no symbol table */
  needs: NeededSymbol[] | null
}

export interface DepmodOptions {
  /** ROOT/lib/modules/KVER, as kmod builds it */
  dirname: string
  /** -P: a symbol prefix character to ignore, or '' */
  symPrefix: string
  /** -E: compare CRCs with the kernel's */
  checkSymvers: boolean
  /** -e: report unknown symbols */
  printUnknown: boolean
  /** -w: report duplicate index entries */
  warnDups: boolean
  /** -v: list each dependency found (kmod prints them on stdout) */
  verbose?: boolean
  /** -n: kmod then skips the binary indexes, and their inputs' warnings */
  dryRun?: boolean
}

export interface DepmodInput {
  modules: readonly ModuleData[]
  /** modules.order text, if the file exists */
  order?: string
  /** modules.builtin text, if the file exists */
  builtin?: string
  /** modules.builtin.modinfo as latin1, if the file exists */
  builtinModinfo?: string
  /** kernel symbols from -E (Module.symvers) or -F (System.map), fake ones included */
  kernelSymbols?: readonly { name: string; crc: number }[]
  /** why an input file above could not be read (file name -> strerror text), for kmod's warning */
  unreadable?: Readonly<Record<string, string>>
}

export interface Diagnostic {
  level: 'ERROR' | 'WARNING'
  message: string
}

export interface OutputFile {
  name: string
  /** latin1 text or bytes */
  data: string | Uint8Array
  /** shown by -n on stdout (the text files kmod prints there) */
  shown: boolean
}

export interface DepmodResult {
  files: OutputFile[]
  diagnostics: Diagnostic[]
  /** true when kmod would exit 1 without writing (a dependency cycle) */
  failed: boolean
  /** with -v: 'PATH needs "SYMBOL": OWNER-PATH' lines */
  shown: string[]
}

interface Mod {
  data: ModuleData
  name: string
  /** path as written in the indexes: relative to dirname when under it */
  shownPath: string
  /** relative path with the extension replaced by .ko (kmod's uncrelpath), or null */
  uncrelpath: string | null
  idx: number
  deps: Mod[]
  users: number
  rank: number
}

interface Sym {
  owner: Mod | null
  crc: number
}

/**
 * kmod's alias_normalize: '-' becomes '_' except inside [...]; an unbalanced bracket is an
 * error (null). Unlike core/names.ts's normalizeAlias, a pattern without '-' is checked too.
 */
export function kmodAliasNormalize(alias: string): string | null {
  let out = ''
  for (let i = 0; i < alias.length; i++) {
    const c = alias[i]
    if (c === '-') out += '_'
    else if (c === ']') return null
    else if (c === '[') {
      const close = alias.indexOf(']', i)
      if (close < 0) return null
      out += alias.slice(i, close + 1)
      i = close
    } else out += c
  }
  return out
}

/** kmod's "MODNAME_STEM.ko": the relative path cut after the name's length, plus ".ko". */
function uncrelpath(rel: string, modname: string): string {
  const slash = rel.lastIndexOf('/')
  return rel.slice(0, slash + 1 + modname.length) + '.ko'
}

/** sscanf(value, "PREFIX%u-%u"): both numbers, or null; %u takes spaces, a sign, digits. */
function majorMinor(value: string, prefix: string): [number, number] | null {
  if (!value.startsWith(prefix)) return null
  const m = /^\s*([+-]?\d+)-\s*([+-]?\d+)/.exec(value.slice(prefix.length))
  if (!m) return null
  const u = (s: string): number => Number(BigInt.asUintN(32, BigInt(s)))
  return [u(m[1]), u(m[2])]
}

/** Module order: hash order of names, stable-sorted by modules.order position. */
function sortModules(mods: Mod[], order: string | undefined, diags: Diagnostic[], dirname: string): Mod[] {
  const byName = new Map(mods.map((m) => [m.name, m]))
  const list = kmodHashOrder(byName.keys(), 512).map((n) => byName.get(n) as Mod)
  if (order === undefined) return list
  const lines = order.split('\n')
  const complete = lines.pop() === ''
  if (!complete) {
    diags.push({ level: 'ERROR', message: `${dirname}/modules.order:${lines.length + 1} corrupted line misses '\\n'` })
    return list
  }
  const byUncrel = new Map<string, Mod>()
  for (const m of mods) if (m.uncrelpath !== null) byUncrel.set(m.uncrelpath, m)
  const total = lines.length + 1
  const sortIdx = new Map<Mod, number>()
  lines.forEach((line, i) => {
    const m = byUncrel.get(line)
    if (m) sortIdx.set(m, i + 1 - total)
  })
  return list
    .map((m, i) => ({ m, i, k: sortIdx.get(m) ?? 1 }))
    .sort((a, b) => a.k - b.k || a.i - b.i)
    .map((x) => x.m)
}

/**
 * kmod's cycle report: walking from each module still having users, a path back to the start
 * is a cycle. kmod re-walks modules it has seen, which never ends when a cycle hangs below
 * another one (kmod 30 itself then runs out of memory); here a module seen before is walked once.
 */
function reportCycles(mods: Mod[], users: number[], diags: Diagnostic[]): void {
  let roots: Mod[] = mods.filter((_, i) => users[i] > 0)
  const inLoops = new Set<string>()
  const visited = new Set<Mod>()
  interface Vertex {
    mod: Mod
    parent: Vertex | null
  }
  const remove = (m: Mod): void => {
    const i = roots.indexOf(m)
    if (i >= 0) roots = roots.slice(0, i).concat(roots.slice(i + 1))
  }
  while (roots.length > 0) {
    const rootMod = roots[0]
    roots = roots.slice(1)
    const stack: Vertex[] = [{ mod: rootMod, parent: null }]
    while (stack.length > 0) {
      const v = stack.pop() as Vertex
      const m = v.mod
      if (visited.has(m) && m === rootMod) {
        const chain: Mod[] = []
        for (let p = v.parent; p; p = p.parent) {
          chain.push(p.mod)
          inLoops.add(p.mod.name)
        }
        chain.reverse()
        for (const c of chain) remove(c)
        diags.push({ level: 'ERROR', message: `Cycle detected: ${[...chain.map((c) => c.name), m.name].join(' -> ')}` })
        continue
      }
      if (visited.has(m)) continue
      visited.add(m)
      if (m.deps.length === 0) {
        remove(m)
        continue
      }
      for (const d of m.deps) stack.push({ mod: d, parent: v })
    }
  }
  diags.push({ level: 'ERROR', message: `Found ${inLoops.size} modules in dependency cycles!` })
}

/** Every module the given one needs, directly or not, once each, sorted by rank. */
function closure(m: Mod): Mod[] {
  const seen = new Set<Mod>()
  const walk = (x: Mod): void => {
    for (const d of x.deps) {
      if (seen.has(d)) continue
      seen.add(d)
      walk(d)
    }
  }
  walk(m)
  return [...seen].sort((a, b) => a.rank - b.rank)
}

export function depmod(input: DepmodInput, opts: DepmodOptions): DepmodResult {
  const diags: Diagnostic[] = []
  const shown: string[] = []
  const warn = (message: string): void => void diags.push({ level: 'WARNING', message })
  const { dirname } = opts

  const unsorted: Mod[] = input.modules.map((data) => {
    const name = pathToModname(data.path)
    const under = data.path.startsWith(dirname) && data.path[dirname.length] === '/'
    const rel = under ? data.path.slice(dirname.length + 1) : null
    return {
      data,
      name,
      shownPath: rel ?? data.path,
      uncrelpath: rel === null ? null : uncrelpath(rel, name),
      idx: 0,
      deps: [],
      users: 0,
      rank: Number.MAX_SAFE_INTEGER,
    }
  })
  const cannotOpen = (file: string): void => {
    const why = input.unreadable?.[file]
    if (why !== undefined) warn(`could not open ${file} at ${dirname}: ${why}`)
  }
  if (input.order === undefined) cannotOpen('modules.order')
  const mods = sortModules(unsorted, input.order, diags, dirname)
  mods.forEach((m, i) => (m.idx = i))

  // 2. the symbol table
  const prefix = opts.symPrefix
  const symbols = new Map<string, Sym>()
  for (const s of input.kernelSymbols ?? []) symbols.set(s.name, { owner: null, crc: s.crc })
  for (const m of mods) {
    const ex = m.data.exports
    if (ex === null) continue
    if (!Array.isArray(ex)) {
      diags.push({ level: 'ERROR', message: `failed to load symbols from ${m.data.path}: ${ex.error}` })
      continue
    }
    for (const s of ex) {
      const name = prefix !== '' && s.name[0] === prefix ? s.name.slice(1) : s.name
      symbols.set(name, { owner: m, crc: s.crc })
    }
  }
  const findSymbol = (raw: string): Sym | undefined => {
    let n = raw
    if (n[0] === '.') n = n.slice(1)
    if (prefix !== '' && n[0] === prefix) n = n.slice(1)
    return symbols.get(n)
  }

  // 3. dependencies
  for (const m of mods) {
    for (const need of m.data.needs ?? []) {
      const sym = findSymbol(need.name)
      if (!sym) {
        if (opts.printUnknown && !need.weak) warn(`${m.data.path} needs unknown symbol ${need.name}`)
        continue
      }
      if (opts.checkSymvers && sym.crc !== need.crc && !need.weak && opts.printUnknown) {
        warn(`${m.data.path} disagrees about version of symbol ${need.name}`)
      }
      if (sym.owner === null || m.deps.includes(sym.owner)) continue
      m.deps.push(sym.owner)
      sym.owner.users++
      if (opts.verbose) shown.push(`${m.data.path} needs "${need.name}": ${sym.owner.data.path}`)
    }
  }
  const users = mods.map((m) => m.users)
  const roots: number[] = []
  users.forEach((u, i) => {
    if (u === 0) roots.push(i)
  })
  let sorted = 0
  while (roots.length > 0) {
    const src = mods[roots.pop() as number]
    src.rank = sorted++
    for (const dst of src.deps) {
      if (--users[dst.idx] === 0) roots.push(dst.idx)
    }
  }
  if (sorted < mods.length) {
    reportCycles(mods, users, diags)
    return { files: [], diagnostics: diags, failed: true, shown }
  }
  for (const m of mods) m.deps.sort((a, b) => a.rank - b.rank)

  // 4. outputs
  const files: OutputFile[] = []
  const closures = mods.map((m) => (m.deps.length === 0 ? [] : closure(m)))

  let dep = ''
  mods.forEach((m, i) => {
    dep += `${m.shownPath}:`
    for (const d of closures[i]) dep += ` ${d.shownPath}`
    dep += '\n'
  })
  files.push({ name: 'modules.dep', data: dep, shown: true })

  const depBin = createBinIndex()
  mods.forEach((m, i) => {
    const line = `${m.shownPath}:${closures[i].map((d) => ` ${d.shownPath}`).join('')}`
    if (depBin.insert(m.name, line, m.idx) && opts.warnDups) warn(`duplicate module deps:\n${line}`)
  })
  files.push({ name: 'modules.dep.bin', data: depBin.write(), shown: false })

  const infoOf = (m: Mod, key: string): string[] => (m.data.info ?? []).filter((e) => e.key === key).map((e) => e.value)

  let alias = '# Aliases extracted from modules themselves.\n'
  const aliasBin = createBinIndex()
  for (const m of mods) {
    for (const a of infoOf(m, 'alias')) {
      alias += `alias ${a} ${m.name}\n`
      const norm = kmodAliasNormalize(a)
      if (norm === null) {
        warn(`Unmatched bracket in ${a}`)
        continue
      }
      if (aliasBin.insert(norm, m.name, m.idx) && opts.warnDups) warn(`duplicate module alias:\n${norm} ${m.name}`)
    }
  }
  files.push({ name: 'modules.alias', data: alias, shown: true })
  files.push({ name: 'modules.alias.bin', data: aliasBin.write(), shown: false })

  let softdep = '# Soft dependencies extracted from modules themselves.\n'
  for (const m of mods) for (const s of infoOf(m, 'softdep')) softdep += `softdep ${m.name} ${s}\n`
  files.push({ name: 'modules.softdep', data: softdep, shown: true })

  let symText = '# Aliases for symbols, used by symbol_request().\n'
  const symBin = createBinIndex()
  for (const name of kmodHashOrder(symbols.keys(), 2048)) {
    const s = symbols.get(name) as Sym
    if (s.owner === null) continue
    symText += `alias symbol:${name} ${s.owner.name}\n`
    if (symBin.insert(`symbol:${name}`, s.owner.name, s.owner.idx) && opts.warnDups) {
      warn(`duplicate module syms:\nsymbol:${name} ${s.owner.name}`)
    }
  }
  files.push({ name: 'modules.symbols', data: symText, shown: true })
  files.push({ name: 'modules.symbols.bin', data: symBin.write(), shown: false })

  // kmod writes an empty file (not an empty index) when the kernel's list is missing
  if (input.builtin === undefined && !opts.dryRun) cannotOpen('modules.builtin')
  const builtinBin = createBinIndex()
  if (input.builtin !== undefined) {
    const lines = input.builtin.split('\n')
    if (lines[lines.length - 1] === '') lines.pop()
    for (const line of lines) {
      if (!/^[A-Za-z]/.test(line)) {
        diags.push({ level: 'ERROR', message: `Invalid modules.builtin line: ${line}\n` })
        continue
      }
      builtinBin.insert(pathToModname(line), '', 0)
    }
  }
  files.push({ name: 'modules.builtin.bin', data: input.builtin === undefined ? '' : builtinBin.write(), shown: false })

  if (input.builtinModinfo === undefined && !opts.dryRun) cannotOpen('modules.builtin.modinfo')
  const builtinAliasBin = createBinIndex()
  let builtinAliasText = '# Aliases of built-in modules, from modules.builtin.modinfo.\n'
  for (const b of builtinAliases(input.builtinModinfo ?? '')) {
    const norm = kmodAliasNormalize(b.alias)
    if (norm === null) {
      warn(`Unmatched bracket in ${b.alias}`)
      continue
    }
    builtinAliasBin.insert(norm, b.module, 0)
    builtinAliasText += `alias ${b.alias} ${b.module}\n`
  }
  const haveModinfo = input.builtinModinfo !== undefined
  files.push({ name: 'modules.builtin.alias.bin', data: haveModinfo ? builtinAliasBin.write() : '', shown: false })
  // not a kmod file: the same index as text, which modload's own module database reads
  files.push({ name: 'modules.builtin.alias', data: haveModinfo ? builtinAliasText : '', shown: false })

  let devname = ''
  for (const m of mods) {
    let name: string | null = null
    let type = ''
    let major = 0
    let minor = 0
    for (const a of infoOf(m, 'alias')) {
      if (a.startsWith('devname:')) name = a.slice('devname:'.length)
      else {
        const c = majorMinor(a, 'char-major-')
        const b = c ? null : majorMinor(a, 'block-major-')
        if (c) [type, major, minor] = ['c', ...c]
        else if (b) [type, major, minor] = ['b', ...b]
      }
      if (type !== '' && name !== null) break
    }
    if (name === null) continue
    if (type === '') {
      diags.push({ level: 'ERROR', message: `Module '${m.name}' has devname (${name}) but lacks major and minor information. Ignoring.` })
      continue
    }
    if (devname === '') devname = '# Device nodes to trigger on-demand module loading.\n'
    devname += `${m.name} ${name} ${type}${major}:${minor}\n`
  }
  files.push({ name: 'modules.devname', data: devname, shown: true })

  return { files, diagnostics: diags, failed: false, shown }
}
