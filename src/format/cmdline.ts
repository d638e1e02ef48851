// Parser for the kernel command line (/proc/cmdline).
//
// Words are separated by spaces; double quotes group a value with spaces ("a=\"b c\"" is one
// word, quotes removed), as the kernel's own next_arg() does. A word is a flag ("quiet"),
// KEY=VALUE, or a module parameter MODULE.PARAM=VALUE (the module name normalised, '-' as '_').
// Everything after a lone "--" belongs to init and is kept apart. modprobe.blacklist= and
// module_blacklist= (comma-separated) name modules not to load. (What kmod itself takes from
// the command line, with its own quirks, is src/config/kcmdline.ts.)
import { normalizeName } from '../core/names.js'

export interface Cmdline {
  /** every KEY=VALUE or flag (value true) before "--", later words win */
  params: Map<string, string | true>
  /** MODULE.PARAM=VALUE words: module -> "PARAM=VALUE ..." in command-line order */
  moduleParams: Map<string, string[]>
  /** words after "--", for init */
  initArgs: string[]
  /** modules not to load: modprobe.blacklist= (what kmod honours) and module_blacklist= (what
   * the kernel itself refuses to load), comma-separated, names normalised */
  blacklist: string[]
}

export function splitCmdline(text: string): string[] {
  const words: string[] = []
  let cur = ''
  let inWord = false
  let quoted = false
  for (const c of text) {
    if (c === '"') {
      quoted = !quoted
      inWord = true
    } else if (!quoted && (c === ' ' || c === '\n' || c === '\t')) {
      if (inWord) words.push(cur)
      cur = ''
      inWord = false
    } else {
      cur += c
      inWord = true
    }
  }
  if (inWord) words.push(cur)
  return words
}

export function parseCmdline(text: string): Cmdline {
  const params = new Map<string, string | true>()
  const moduleParams = new Map<string, string[]>()
  const words = splitCmdline(text)
  const dashes = words.indexOf('--')
  const initArgs = dashes >= 0 ? words.slice(dashes + 1) : []
  for (const w of dashes >= 0 ? words.slice(0, dashes) : words) {
    const eq = w.indexOf('=')
    const key = eq >= 0 ? w.slice(0, eq) : w
    const value = eq >= 0 ? w.slice(eq + 1) : true
    params.set(key, value)
    const dot = key.indexOf('.')
    if (dot > 0 && dot < key.length - 1) {
      const mod = normalizeName(key.slice(0, dot))
      const param = key.slice(dot + 1)
      const text = value === true ? param : /\s/.test(value) ? `${param}="${value}"` : `${param}=${value}`
      const list = moduleParams.get(mod)
      if (list) list.push(text)
      else moduleParams.set(mod, [text])
    }
  }
  const blacklist: string[] = []
  for (const key of ['modprobe.blacklist', 'module_blacklist']) {
    const v = params.get(key)
    if (typeof v === 'string') for (const n of v.split(',')) if (n.length > 0) blacklist.push(normalizeName(n))
  }
  return { params, moduleParams, initArgs, blacklist }
}

/** A flag is on when present without a value, or with a value other than 0/no/off/false. */
export function flag(c: Cmdline, key: string): boolean {
  const v = c.params.get(key)
  if (v === undefined) return false
  return v === true || !['0', 'no', 'off', 'false', 'n'].includes(v.toLowerCase())
}
