// Parser for depmod's modules.alias (and modules.symbols, same format).
//
// Format: "alias PATTERN MODULE" per line, fields separated by blanks (depmod writes single
// spaces); PATTERN is an fnmatch(3) glob matched against modalias strings and names (in
// modules.symbols it is "symbol:NAME"), MODULE a module name ('-' read as '_'). Lines
// starting with '#' and blank lines are ignored. Any other line is corrupt and throws with
// file and line. Entries come back in file order, which is depmod's module order (kmod's
// match priority). The index (core/alias-index.ts) reads depmod's canonical form straight
// from the text; this parser is the general, entry-by-entry reading.
import { parseAliasText, type AliasEntry } from '../core/alias-index.js'

export type { AliasEntry }

export function parseModulesAlias(text: string, file = 'modules.alias'): AliasEntry[] {
  const { patterns, modules } = parseAliasText(text, file)
  return patterns.map((pattern, i) => ({ pattern, module: modules[i] }))
}
