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
  constructor(readonly path: string) {
    super(`${path}: not found (run "depmod -b ROOT KVER" for this kernel, or pass the right -d/-S)`)
    this.name = 'MissingIndexError'
  }
}

export function openModuleDb(root: string, kver: string): ModuleDb {
  const dir = modulesDir(root, kver)
  const dep = readOptional(`${dir}/modules.dep`)
  if (dep === undefined) throw new MissingIndexError(`${dir}/modules.dep`)
  return buildModuleDb(dir, {
    dep,
    alias: readOptional(`${dir}/modules.alias`),
    builtin: readOptional(`${dir}/modules.builtin`),
    builtinAlias: readOptional(`${dir}/modules.builtin.alias`),
  })
}
