// What kmod takes from the kernel command line (/proc/cmdline) as configuration.
//
// Format: words separated by white space; a word MODULE.PARAM or MODULE.PARAM=VALUE becomes
// "options MODULE PARAM[=VALUE]" (MODULE with '-' as '_'), except modprobe.blacklist=A,B,...
// which blacklists each name as written. Double quotes let a VALUE hold spaces and stay part
// of it (x.y="a b" gives options x y="a b"); a word quoted as a whole ("x.y=a b") is re-quoted
// around its value, as the kernel itself does. Words with a second '.' before '=' or an '='
// before any '.', or quotes elsewhere, are not module parameters. This is kmod 30's state
// machine (kmod_config_parse_kcmdline), including its reading of words after "--".
import { underscores } from '../core/names.js'
import type { ConfigOptions } from './modprobe-conf.js'

export interface KcmdlineConfig {
  options: ConfigOptions[]
  blacklist: string[]
}

const enum S {
  Ignore,
  Modname,
  Param,
  Value,
  Complete,
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\n' || c === '\t' || c === '\v' || c === '\f' || c === '\r'
}

export function parseKcmdline(text: string): KcmdlineConfig {
  const options: ConfigOptions[] = []
  const blacklist: string[] = []
  const result = (modname: string, param: string, value: string | null): void => {
    if (modname === 'modprobe' && param.startsWith('blacklist=')) {
      if (value !== null) blacklist.push(...value.split(','))
    } else options.push({ module: underscores(modname), options: param })
  }
  let state = S.Modname
  let quoted = false
  let modStart = 0
  let quoteStart = -1
  let dot = -1 // index of the '.' ending the module name
  let eq = -1 // index of the '=' starting the value
  for (let p = 0; p <= text.length; p++) {
    const c = p < text.length ? text[p] : '\0'
    if (c === '"') {
      quoted = !quoted
      if (quoted && state === S.Modname && p === modStart) {
        quoteStart = p
        modStart = p + 1
      } else if (state !== S.Value) state = S.Ignore
    } else if (c === '\0' || isSpace(c)) {
      if (quoted && state === S.Value) {
        // a quoted value keeps its spaces
      } else if (quoted) state = S.Ignore
      else if (state === S.Value || state === S.Param) state = S.Complete
      else {
        modStart = p + 1
        state = S.Modname
        quoteStart = -1
        eq = -1
      }
    } else if (c === '.') {
      if (state === S.Modname) {
        dot = p
        state = S.Param
      } else if (state === S.Param) state = S.Ignore
    } else if (c === '=') {
      if (state === S.Param) {
        eq = p
        state = S.Value
      } else if (state === S.Modname) state = S.Ignore
    }
    if (state === S.Complete) {
      const modname = text.slice(modStart, dot)
      let param = text.slice(dot + 1, p)
      let value = eq > dot ? text.slice(eq + 1, p) : null
      if (quoteStart >= 0 && quoteStart < modStart && value !== null) {
        // "mod.param=a b" -> param="a b" (the closing quote is already part of the value)
        const name = text.slice(dot + 1, eq + 1)
        value = `"${value}`
        param = name + value
      }
      result(modname, param, value)
      modStart = p + 1
      state = S.Modname
      quoteStart = -1
      eq = -1
    }
  }
  return { options, blacklist }
}
