// Parser for depmod's modules.alias (and modules.builtin.alias, same format).
//
// Format: "alias PATTERN MODULE" per line; PATTERN is an fnmatch(3) glob matched against
// modalias strings and names, MODULE a module name. '#' starts a comment line. Any other
// line is corrupt and throws with file and line.
import { IndexError } from './errors.js'
import { normalizeName } from '../core/names.js'

export interface AliasEntry {
  pattern: string
  module: string
}

export function parseModulesAlias(text: string, file = 'modules.alias'): AliasEntry[] {
  const out: AliasEntry[] = []
  let lineNo = 0
  let start = 0
  while (start < text.length) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = text.length
    lineNo++
    const line = text.slice(start, end)
    start = end + 1
    if (line.length === 0 || line[0] === '#') continue
    const parts = line.trim().split(/\s+/)
    if (parts.length === 0 || (parts.length === 1 && parts[0] === '')) continue
    if (parts.length !== 3 || parts[0] !== 'alias') {
      throw new IndexError(file, lineNo, `expected "alias PATTERN MODULE", got ${JSON.stringify(line.slice(0, 80))}`)
    }
    out.push({ pattern: parts[1], module: normalizeName(parts[2]) })
  }
  return out
}
