// Parser for one modprobe.d configuration file (also used for depmod's modules.softdep,
// which kmod reads as configuration).
//
// Format, as kmod 30 reads it: lines; a '\' before a newline joins the next line (a '\'
// before any other character is dropped, the character kept); a line whose first character
// is '#' is a comment. Words are separated by spaces and tabs. Directives:
//   alias NAME MODULE            NAME may be a glob; more words are ignored
//   blacklist MODULE             ignore MODULE's own aliases (alias lookups only)
//   options MODULE OPTIONS...    rest of the line, tabs turned into spaces
//   install MODULE COMMAND...    run COMMAND instead of loading MODULE (rest of the line)
//   remove MODULE COMMAND...     run COMMAND instead of unloading MODULE
//   softdep MODULE [pre: M...] [post: M...]   words before the first pre:/post: are ignored
// NAME and MODULE have '-' turned into '_' (outside [...]). "include" and "config" are
// obsolete and skipped with a warning. A bad line is skipped with a warning naming the file
// and line (the last physical line of a joined line), never an error.
import { underscores } from '../core/names.js'

export interface ConfigAlias {
  name: string
  module: string
}
export interface ConfigOptions {
  module: string
  options: string
}
export interface ConfigCommand {
  module: string
  command: string
}
export interface ConfigSoftdep {
  module: string
  pre: string[]
  post: string[]
}

export interface ModprobeConfig {
  aliases: ConfigAlias[]
  blacklist: string[]
  options: ConfigOptions[]
  install: ConfigCommand[]
  remove: ConfigCommand[]
  softdeps: ConfigSoftdep[]
}

export interface ConfigWarning {
  file: string
  line: number
  message: string
}

export function emptyConfig(): ModprobeConfig {
  return { aliases: [], blacklist: [], options: [], install: [], remove: [], softdeps: [] }
}

/** Concatenate configurations in order (later files' entries after earlier ones'). */
export function concatConfigs(parts: readonly ModprobeConfig[]): ModprobeConfig {
  const out = emptyConfig()
  for (const p of parts) {
    out.aliases.push(...p.aliases)
    out.blacklist.push(...p.blacklist)
    out.options.push(...p.options)
    out.install.push(...p.install)
    out.remove.push(...p.remove)
    out.softdeps.push(...p.softdeps)
  }
  return out
}


/** kmod's getline_wrapped: logical lines with the number of their last physical line. */
function logicalLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = []
  let buf = ''
  let line = 0
  let i = 0
  const n = text.length
  while (i < n) {
    const c = text[i++]
    if (c === '\n') {
      line++
      out.push({ text: buf, line })
      buf = ''
    } else if (c === '\\') {
      if (i >= n) break
      const d = text[i++]
      if (d === '\n') line++
      else buf += d
    } else buf += c
  }
  if (buf.length > 0) out.push({ text: buf, line: line + 1 })
  return out
}

/** strtok_r over " \t": the next word and where the rest begins (after one delimiter). */
function nextWord(s: string, from: number): { word: string; rest: number } | null {
  let i = from
  while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++
  if (i >= s.length) return null
  let j = i
  while (j < s.length && s[j] !== ' ' && s[j] !== '\t') j++
  return { word: s.slice(i, j), rest: j < s.length ? j + 1 : j }
}

const SPACE = /[ \t\n\v\f\r]+/

/** kmod_config_add_softdep: pre:/post: switch the list; words before either are dropped. */
export function parseSoftdepWords(text: string): { pre: string[]; post: string[] } {
  const pre: string[] = []
  const post: string[] = []
  let mode: 'none' | 'pre' | 'post' = 'none'
  for (const w of text.split(SPACE)) {
    if (w === '') continue
    if (w === 'pre:') mode = 'pre'
    else if (w === 'post:') mode = 'post'
    else if (mode === 'pre') pre.push(w)
    else if (mode === 'post') post.push(w)
  }
  return { pre, post }
}

export function parseModprobeConf(text: string, file: string): { config: ModprobeConfig; warnings: ConfigWarning[] } {
  const config = emptyConfig()
  const warnings: ConfigWarning[] = []
  for (const { text: line, line: lineNo } of logicalLines(text)) {
    if (line.length === 0 || line[0] === '#') continue
    const cmd = nextWord(line, 0)
    if (cmd === null) continue
    const w1 = nextWord(line, cmd.rest)
    const restOf = (w: { rest: number } | null): string | null => (w === null || w.rest >= line.length ? null : line.slice(w.rest))
    let ok = true
    switch (cmd.word) {
      case 'alias': {
        const w2 = w1 && nextWord(line, w1.rest)
        if (!w1 || !w2) ok = false
        else config.aliases.push({ name: underscores(w1.word), module: underscores(w2.word) })
        break
      }
      case 'blacklist':
        if (!w1) ok = false
        else config.blacklist.push(underscores(w1.word))
        break
      case 'options': {
        const rest = restOf(w1)
        if (!w1 || rest === null) ok = false
        else config.options.push({ module: underscores(w1.word), options: rest.replaceAll('\t', ' ') })
        break
      }
      case 'install':
      case 'remove': {
        const rest = restOf(w1)
        if (!w1 || rest === null) ok = false
        else (cmd.word === 'install' ? config.install : config.remove).push({ module: underscores(w1.word), command: rest })
        break
      }
      case 'softdep': {
        const rest = restOf(w1)
        if (!w1 || rest === null) ok = false
        else config.softdeps.push({ module: underscores(w1.word), ...parseSoftdepWords(rest) })
        break
      }
      case 'include':
      case 'config':
        warnings.push({ file, line: lineNo, message: `command ${cmd.word} is deprecated and not parsed anymore` })
        break
      default:
        ok = false
    }
    if (!ok) warnings.push({ file, line: lineNo, message: `ignoring bad line starting with '${cmd.word}'` })
  }
  return { config, warnings }
}
