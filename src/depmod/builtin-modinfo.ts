// Parser for modules.builtin.modinfo: the .modinfo of every module built into the kernel,
// written by the kernel build as NUL-terminated "MODNAME.KEY=VALUE" strings, each module's
// strings together. Two readers, each as kmod reads it:
//  - builtinModinfo(): the entries of one module, as modinfo shows a built-in module
//    (libkmod-builtin.c: the first run of strings whose prefix before '.' is the name);
//  - builtinAliases(): every "alias" entry, as depmod indexes them into modules.builtin.alias
//    (depmod.c output_builtin_alias_bin, including its way of skipping malformed strings).
// Input is latin1 text (one char per byte). Pure.
import { splitInfo, type InfoEntry } from '../elf/modinfo.js'

/**
 * The entries of built-in module `name`, or undefined when the file has none for it.
 * Throws when a string lacks its "MODNAME." prefix, as kmod stops there.
 */
export function builtinModinfo(text: string, name: string): InfoEntry[] | undefined {
  const strings = text.split('\0')
  // the last piece is '' or a string without its NUL, which kmod drops too
  strings.pop()
  let i = 0
  while (i < strings.length) {
    const dot = strings[i].indexOf('.')
    if (dot < 0) return undefined
    const mod = strings[i].slice(0, dot)
    let j = i
    while (j < strings.length && strings[j].indexOf('.') === dot && strings[j].startsWith(mod)) j++
    if (mod === name) return strings.slice(i, j).map((s) => splitInfo(s.slice(dot + 1)))
    if (j === i) return undefined
    i = j
  }
  return undefined
}

export interface BuiltinAlias {
  alias: string
  module: string
}

/** Every "MODNAME.alias=VALUE" in file order, read with depmod's stream logic. */
export function builtinAliases(text: string): BuiltinAlias[] {
  const out: BuiltinAlias[] = []
  let p = 0
  const n = text.length
  // kmod's flush_stream_to: read up to `end`, a NUL or EOF; the text only counts if `end` ended it
  const readTo = (end: string): string | null => {
    const start = p
    while (p < n && text[p] !== end && text[p] !== '\0') p++
    const stop = p < n ? text[p] : ''
    const s = text.slice(start, p)
    if (p < n) p++
    return stop === end ? s : null
  }
  const skipTo = (end: string): void => {
    while (p < n && text[p] !== end && text[p] !== '\0') p++
    if (p < n) p++
  }
  while (p < n) {
    const module = readTo('.')
    if (!module) continue
    const key = readTo('=') ?? ''
    if (key !== 'alias') {
      skipTo('\0')
      continue
    }
    const alias = readTo('\0')
    if (!alias) continue
    out.push({ alias, module })
  }
  return out
}
