// Parser for depmod's modules.symbols: the symbols each module exports, for symbol_request().
//
// Format: the modules.alias format with patterns of the form "symbol:NAME":
//   alias symbol:drm_need_swiotlb drm
// kmod looks a "symbol:NAME" string up here (and only strings with that prefix). A line
// that is not "alias symbol:NAME MODULE" is corrupt and throws with file and line.
import { parseModulesAlias, type AliasEntry } from './modules-alias.js'
import { IndexError } from './errors.js'

export function parseModulesSymbols(text: string, file = 'modules.symbols'): AliasEntry[] {
  const entries = parseModulesAlias(text, file)
  for (let i = 0; i < entries.length; i++) {
    if (!entries[i].pattern.startsWith('symbol:')) {
      // find the line for the message: count non-comment lines up to entry i
      let seen = -1
      let lineNo = 0
      for (const line of text.split('\n')) {
        lineNo++
        const t = line.trim()
        if (t === '' || t[0] === '#') continue
        if (++seen === i) break
      }
      throw new IndexError(file, lineNo, `expected "alias symbol:NAME MODULE", got pattern ${JSON.stringify(entries[i].pattern)}`)
    }
  }
  return entries
}
