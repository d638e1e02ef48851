// Parser for modules.builtin.modinfo: the .modinfo strings of every module built into the
// kernel image, as the kernel build extracts them.
//
// Format: NUL-terminated strings "MODNAME.KEY=VALUE" (e.g. "virtio_pci.alias=pci:v00001AF4d*"),
// one after another; a module's strings normally come in one run. Empty strings are skipped;
// a string without the "MODNAME." prefix is corrupt and throws with file and string number.
// kmod (and depmod, which builds modules.builtin.alias.bin from this file) walks it in runs
// of one module name and answers a module's modinfo from that module's first run; runs keeps
// that walk, first maps each module to its first run's KEY=VALUE pairs.
import { IndexError } from './errors.js'

export interface BuiltinModinfo {
  /** module name of each run, in file order (a name repeats if its strings are split) */
  runs: string[]
  /** module name -> [key, value] pairs of its first run, in file order */
  first: Map<string, [string, string][]>
}

export function parseBuiltinModinfo(text: string, file = 'modules.builtin.modinfo'): BuiltinModinfo {
  const runs: string[] = []
  const first = new Map<string, [string, string][]>()
  let current: string | null = null
  let pairs: [string, string][] | null = null
  let index = 0
  let start = 0
  while (start < text.length) {
    let end = text.indexOf('\0', start)
    if (end < 0) end = text.length
    const s = text.slice(start, end)
    start = end + 1
    if (s.length === 0) continue
    index++
    const dot = s.indexOf('.')
    if (dot <= 0) throw new IndexError(file, index, `string ${JSON.stringify(s.slice(0, 80))} has no "MODULE." prefix`)
    const name = s.slice(0, dot)
    const eq = s.indexOf('=', dot + 1)
    const key = eq < 0 ? s.slice(dot + 1) : s.slice(dot + 1, eq)
    const value = eq < 0 ? '' : s.slice(eq + 1)
    if (name !== current) {
      current = name
      runs.push(name)
      pairs = first.has(name) ? null : []
      if (pairs) first.set(name, pairs)
    }
    if (pairs) pairs.push([key, value])
  }
  return { runs, first }
}

/**
 * The built-in aliases as depmod files them in modules.builtin.alias.bin: for every run, the
 * "alias" values of that module's first run (so a split module's aliases appear once per run).
 */
export function builtinAliases(info: BuiltinModinfo): { pattern: string; module: string }[] {
  const out: { pattern: string; module: string }[] = []
  for (const name of info.runs) {
    for (const [k, v] of info.first.get(name) ?? []) if (k === 'alias') out.push({ pattern: v, module: name })
  }
  return out
}
