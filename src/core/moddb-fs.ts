// Reads a kernel's depmod output from disk into a ModuleDb. The only I/O of the database.
import { readFileSync } from 'node:fs'
import { buildModuleDb, type ModuleDb } from './moddb.js'
import { modulesDir } from '../paths.js'

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

export class MissingIndexError extends Error {
  readonly code = 'ENOENT'
  readonly errno = -2
  readonly syscall = 'open'
  constructor(readonly path: string) {
    super(`${path}: not found (run "depmod -b ROOT KVER" for this kernel, or pass the right -d/-S)`)
    this.name = 'MissingIndexError'
  }
}

/** Open the database of /lib/modules/KVER under root. */
export function openModuleDb(root: string, kver: string): ModuleDb {
  return openModuleDir(modulesDir(root, kver))
}

/** Open the database of a modules directory given as is (kmod's dirname). */
export function openModuleDir(dir: string): ModuleDb {
  const dep = readOptional(`${dir}/modules.dep`)
  if (dep === undefined) throw new MissingIndexError(`${dir}/modules.dep`)
  const builtinModinfo = readOptional(`${dir}/modules.builtin.modinfo`)
  return buildModuleDb(dir, {
    dep,
    alias: readOptional(`${dir}/modules.alias`),
    symbols: () => readOptional(`${dir}/modules.symbols`),
    builtin: readOptional(`${dir}/modules.builtin`),
    builtinModinfo,
    builtinAlias: builtinModinfo === undefined ? readOptional(`${dir}/modules.builtin.alias`) : undefined,
  })
}
