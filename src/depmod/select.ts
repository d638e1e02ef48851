// Which file depmod takes when several files carry the same module name (one in updates/, one
// in kernel/, say): kmod's depmod_module_is_higher_priority, given the candidate paths in the
// order the directory walk found them. Overrides first; then the "search" list (see config.ts
// for its order), "built-in" standing for whatever no other entry matched; on a tie the file
// found first stays. Pure.
import type { DepmodConfig } from './config.js'

/** kmod's modname_normalize: up to the first '.', '-' as '_'. */
export function modnameNormalize(s: string): string {
  const dot = s.indexOf('.')
  return (dot < 0 ? s : s.slice(0, dot)).replaceAll('-', '_')
}

/** The module name kmod derives from a path (path_to_modname): of the basename. */
export function pathToModname(path: string): string {
  return modnameNormalize(path.slice(path.lastIndexOf('/') + 1))
}

export const MODULE_EXTENSIONS = ['.ko', '.ko.gz', '.ko.xz', '.ko.zst'] as const

/** Whether a file name is a module's (kmod's path_ends_with_kmod_ext; a bare ".ko" is not). */
export function isModuleFileName(name: string): boolean {
  return MODULE_EXTENSIONS.some((e) => name.length > e.length && name.endsWith(e))
}

/** "DIR/BASENAME-PREFIX": the path cut after as many basename characters as the module name has. */
function stem(path: string, modname: string): string {
  return path.slice(0, path.lastIndexOf('/') + 1 + modname.length)
}

function startsWithDir(path: string, dir: string): boolean {
  return path.length > dir.length && path[dir.length] === '/' && path.startsWith(dir)
}

/** True when the module already kept (`oldPath`) wins over `newPath`. */
export function keepsPriority(cfg: DepmodConfig, dirname: string, oldPath: string, newPath: string, modname: string): boolean {
  const newStem = stem(newPath, modname)
  const oldStem = stem(oldPath, modname)
  const rel = (s: string): string | null => (s.startsWith(dirname) ? s.slice(dirname.length + 1) : null)
  const relNew = rel(newStem)
  const relOld = rel(oldStem)
  for (const ov of cfg.overrides) {
    if (relNew === ov) return false
    if (relOld === ov) return true
  }
  let bprio = -1
  let newprio = -1
  let oldprio = -1
  let i = 0
  for (const se of cfg.searches) {
    if (se.kind === 'builtin') bprio = i
    else if (se.kind === 'external') {
      for (const ext of cfg.externals) {
        if (startsWithDir(newStem, ext)) newprio = i
        if (startsWithDir(oldStem, ext)) oldprio = i
        i++
      }
    } else if (relNew !== null && startsWithDir(relNew, se.path)) newprio = i
    else if (relOld !== null && startsWithDir(relOld, se.path)) oldprio = i
    i++
  }
  if (newprio < 0) newprio = bprio
  if (oldprio < 0) oldprio = bprio
  return newprio <= oldprio
}

/**
 * The module files depmod keeps, from candidate paths in walk order: one per module name.
 * Returns name -> path.
 */
export function selectModules(paths: readonly string[], cfg: DepmodConfig, dirname: string): Map<string, string> {
  const byName = new Map<string, string>()
  for (const p of paths) {
    const base = p.slice(p.lastIndexOf('/') + 1)
    if (!isModuleFileName(base)) continue
    const name = pathToModname(p)
    if (name === '') continue
    const old = byName.get(name)
    if (old !== undefined && keepsPriority(cfg, dirname, old, p, name)) continue
    // Map keeps the first insertion position; order does not matter here (kmod re-sorts)
    byName.set(name, p)
  }
  return byName
}
