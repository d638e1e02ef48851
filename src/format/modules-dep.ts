// Parser for depmod's modules.dep.
//
// Format: one line per module, "PATH: DEP DEP ...", PATH relative to /lib/modules/KVER (or
// absolute), DEPs likewise; the DEP list is the module's whole dependency closure as depmod
// ordered it. Blank lines and lines starting with '#' are ignored. Any other line without
// the ':' separator is corrupt: an index is strict, so this throws with file and line.
import { IndexError } from './errors.js'
import { modNameFromPath } from '../core/names.js'

export interface DepEntry {
  /** normalised module name (dashes turned into underscores) */
  name: string
  /** path as written in modules.dep (usually relative to the modules directory) */
  path: string
  /** dependency paths, in modules.dep order */
  deps: string[]
}

export function parseModulesDep(text: string, file = 'modules.dep'): Map<string, DepEntry> {
  const out = new Map<string, DepEntry>()
  let lineNo = 0
  let start = 0
  while (start < text.length) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = text.length
    lineNo++
    const line = text.slice(start, end)
    start = end + 1
    if (line.length === 0 || line[0] === '#') continue
    const colon = line.indexOf(':')
    if (colon <= 0) {
      throw new IndexError(file, lineNo, `expected "MODULE-PATH: DEPENDENCIES", got ${JSON.stringify(line.slice(0, 80))}`)
    }
    const path = line.slice(0, colon).trim()
    const rest = line.slice(colon + 1).trim()
    const deps = rest.length === 0 ? [] : rest.split(/\s+/)
    const name = modNameFromPath(path)
    if (!out.has(name)) out.set(name, { name, path, deps })
  }
  return out
}
