// Parser for depmod's modules.devname: device nodes to create before their module is loaded,
// so that opening the node loads it (kmod's static-nodes, udev).
//
// Format: "MODULE DEVNAME TYPEMAJOR:MINOR" per line, e.g. "fuse fuse c10:229", TYPE 'c' (char)
// or 'b' (block); '#' starts a comment line. Any other line is corrupt and throws with file
// and line.
import { IndexError } from './errors.js'
import { normalizeName } from '../core/names.js'

export interface DevnameEntry {
  module: string
  devname: string
  type: 'c' | 'b'
  major: number
  minor: number
}

export function parseModulesDevname(text: string, file = 'modules.devname'): DevnameEntry[] {
  const out: DevnameEntry[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim()
    if (line.length === 0 || line[0] === '#') continue
    const f = line.split(/\s+/)
    const m = f.length === 3 ? /^([cb])(\d+):(\d+)$/.exec(f[2]) : null
    if (!m) throw new IndexError(file, i + 1, `expected "MODULE DEVNAME {c|b}MAJOR:MINOR", got ${JSON.stringify(line.slice(0, 80))}`)
    out.push({ module: normalizeName(f[0]), devname: f[1], type: m[1] as 'c' | 'b', major: Number(m[2]), minor: Number(m[3]) })
  }
  return out
}
