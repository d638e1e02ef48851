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

/** modules.alias / modules.symbols: "alias PATTERN MODULE" lines keyed by their last word. */
export const trimByLastWord = (text: string, keep: Keep): string =>
  filterLines(text, (l) => (l[0] === '#' ? null : normalizeName(l.trim().split(/\s+/).at(-1) ?? '')), keep)

/** modules.softdep: "softdep MODULE pre: ... post: ..." keyed by the second word. */
export const trimBySecondWord = (text: string, keep: Keep): string =>
  filterLines(text, (l) => (l[0] === '#' ? null : normalizeName(l.trim().split(/\s+/)[1] ?? '')), keep)

/** modules.devname: "MODULE DEVNAME TYPE MAJOR:MINOR" keyed by the first word. */
export const trimByFirstWord = (text: string, keep: Keep): string =>
  filterLines(text, (l) => (l[0] === '#' ? null : normalizeName(l.trim().split(/\s+/)[0] ?? '')), keep)
