// Trims depmod's text indexes to the modules an initramfs holds, so that the loader inside
// never resolves an alias to a module that is not there. Pure: texts in, texts out.
import { modNameFromPath, normalizeName } from '../core/names.js'

type Keep = (moduleName: string) => boolean

function filterLines(text: string, pick: (line: string) => string | null, keep: Keep): string {
  const out: string[] = []
  for (const line of text.split('\n')) {
    if (line.length === 0) continue
    const mod = pick(line)
    if (mod === null || keep(mod)) out.push(line)
  }
  return out.length ? out.join('\n') + '\n' : ''
}

/** modules.dep / modules.order: lines keyed by the module path before ':' (or the whole line). */
export const trimByPath = (text: string, keep: Keep): string =>
  filterLines(text, (l) => (l[0] === '#' ? null : modNameFromPath(l.split(':', 1)[0].trim())), keep)

/**
 * modules.dep / modules.order with module paths renamed (a module stored under another name in
 * the image, e.g. compressed there: "kernel/a.ko" -> "kernel/a.ko.zst"): every path of a line,
 * the key before ':' and each dependency after it. Comments and unknown paths stay as they are.
 */
export function renamePaths(text: string, rename: ReadonlyMap<string, string>): string {
  if (rename.size === 0) return text
  const one = (p: string): string => rename.get(p) ?? p
  return text
    .split('\n')
    .map((line) => {
      if (line.length === 0 || line[0] === '#') return line
      const colon = line.indexOf(':')
      if (colon < 0) return one(line.trim())
      const deps = line.slice(colon + 1).trim()
      const renamed = deps.length ? deps.split(/\s+/).map(one).join(' ') : ''
      return `${one(line.slice(0, colon).trim())}:${renamed.length ? ' ' + renamed : ''}`
    })
    .join('\n')
}

/** modules.alias / modules.symbols: "alias PATTERN MODULE" lines keyed by their last word. */
export const trimByLastWord = (text: string, keep: Keep): string =>
  filterLines(text, (l) => (l[0] === '#' ? null : normalizeName(l.trim().split(/\s+/).at(-1) ?? '')), keep)

/** modules.softdep: "softdep MODULE pre: ... post: ..." keyed by the second word. */
export const trimBySecondWord = (text: string, keep: Keep): string =>
  filterLines(text, (l) => (l[0] === '#' ? null : normalizeName(l.trim().split(/\s+/)[1] ?? '')), keep)

/** modules.devname: "MODULE DEVNAME TYPE MAJOR:MINOR" keyed by the first word. */
export const trimByFirstWord = (text: string, keep: Keep): string =>
  filterLines(text, (l) => (l[0] === '#' ? null : normalizeName(l.trim().split(/\s+/)[0] ?? '')), keep)

/**
 * A modprobe.d file, kept to the lines about modules inside the image: `alias` by its module
 * (third word), `options`, `install`, `remove`, `blacklist` and `softdep` by the second word.
 * Backslash continuations are joined first; comments go; a line of any other kind stays (the
 * loader's tolerant parser reports it as kmod would).
 */
export function trimModprobeConf(text: string, keep: Keep): string {
  const joined = text.replace(/\\\n/g, ' ')
  const out: string[] = []
  for (const raw of joined.split('\n')) {
    const line = raw.trim()
    if (line.length === 0 || line[0] === '#') continue
    const words = line.split(/\s+/)
    const which = words[0] === 'alias' ? words[2] : ['options', 'install', 'remove', 'blacklist', 'softdep'].includes(words[0]) ? words[1] : null
    if (which === null || (which !== undefined && keep(normalizeName(which)))) out.push(line)
  }
  return out.length ? out.join('\n') + '\n' : ''
}

/** A modules-load.d list, kept to the modules inside the image. */
export function trimModulesLoad(text: string, keep: Keep): string {
  const out: string[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line[0] === '#' || line[0] === ';') continue
    if (keep(normalizeName(line))) out.push(line)
  }
  return out.length ? out.join('\n') + '\n' : ''
}
