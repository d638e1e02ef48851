// Where a module file found through the indexes may be: inside the module directory. Every
// path modload opens because an index said so (a modules.dep entry, reached through a name,
// an alias, a modprobe.d line, a uevent's MODALIAS or a kernel request) is relative to that
// directory, or absolute as older depmods wrote it; neither may lead out of it, by `..`, by
// an absolute path elsewhere, or by a symbolic link whose target is elsewhere (a link may
// lead into another kernel's directory beside it, under the same .../modules: that is how
// RHEL's weak-updates share a module between kernels). kmod does not
// check this; an initramfs's /init runs as root before anything else, so modload does, in
// one place: load/insert.ts calls checkModulePath for every file it loads for the indexes.
// (A file a person names, `insmod FILE`, is not checked.)
import { realpathSync } from 'node:fs'
import { posix } from 'node:path'

/** A module path that leads out of the module directory: refused, never opened. Shaped like
 * Node's system errors (EPERM: the file is not read). */
export class ModulePathError extends Error {
  readonly errno = 1
  readonly code = 'EPERM'
  readonly syscall = 'open'
  constructor(
    /** the path as modules.dep has it (relative to `dir`, or absolute) */
    readonly entry: string,
    /** where it leads */
    readonly path: string,
    readonly dir: string,
    how: string,
  ) {
    super(`${dir}/modules.dep: the entry "${entry}" ${how}, outside the module directory ${dir}: refused (regenerate the index with depmod)`)
    this.name = 'ModulePathError'
  }
}

const inside = (dir: string, p: string): boolean => p.startsWith(dir.endsWith('/') ? dir : `${dir}/`)

/** The entry as written in modules.dep, from the path modulePath() made of it. */
function entryOf(dir: string, path: string): string {
  return inside(dir, path) ? path.slice(dir.replace(/\/+$/, '').length + 1) : path
}

/**
 * Throws ModulePathError unless `path` lies inside `dir`: first as written (`..` and absolute
 * paths), then with symbolic links followed (`realpath`, injectable for tests; a file that
 * does not exist is left to the open that follows, which fails).
 */
export function checkModulePath(dir: string, path: string, realpath: (p: string) => string = realpathSync.native): void {
  const base = posix.normalize(dir).replace(/\/+$/, '') || '/'
  const entry = entryOf(base, path)
  const lexical = posix.normalize(path.startsWith('/') ? path : `${base}/${path}`)
  if (!inside(base, lexical)) throw new ModulePathError(entry, lexical, base, `leads to ${lexical}`)
  let real: string
  let realBase: string
  try {
    real = realpath(lexical)
    realBase = realpath(base)
  } catch {
    return
  }
  // the links' own root: the modules directory of every kernel when dir is one of them
  const linkRoot = posix.basename(posix.dirname(realBase)) === 'modules' ? posix.dirname(realBase) : realBase
  if (!inside(linkRoot, real)) throw new ModulePathError(entry, real, base, `resolves, through a symbolic link, to ${real}`)
}
