// Reads a kernel's depmod output from disk into a ModuleDb. The only I/O of the database.
import { existsSync, readFileSync } from 'node:fs'
import { buildModuleDb, type ModuleDb } from './moddb.js'
import { buildModuleDbFromBin } from './moddb-bin.js'
import { modulesDir } from '../paths.js'

/** A file's text, or undefined when it does not exist (any other error is thrown). */
export function readOptional(path: string): string | undefined {
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

function readBinary(path: string): Buffer | undefined {
  try {
    return readFileSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/**
 * Open a modules directory through depmod's binary indexes, as libkmod does (moddb-bin.ts):
 * nothing is parsed up front. Used when each text index that exists has its .bin beside it
 * (depmod writes both; so does `modload mkinitramfs`); otherwise the text database.
 */
export function openModuleDirFast(dir: string): ModuleDb & { format: 'bin' | 'text' } {
  const pairs = ['modules.dep', 'modules.alias', 'modules.builtin', 'modules.symbols']
  const complete = pairs.every((f) => !existsSync(`${dir}/${f}`) || existsSync(`${dir}/${f}.bin`))
  const builtinAliasOk = !existsSync(`${dir}/modules.builtin.modinfo`) || existsSync(`${dir}/modules.builtin.alias.bin`)
  if (!complete || !builtinAliasOk || !existsSync(`${dir}/modules.dep.bin`)) return Object.assign(openModuleDir(dir), { format: 'text' as const })
  const db = buildModuleDbFromBin(dir, {
    depBin: readFileSync(`${dir}/modules.dep.bin`),
    aliasBin: readBinary(`${dir}/modules.alias.bin`),
    symbolsBin: () => readBinary(`${dir}/modules.symbols.bin`),
    builtinBin: readBinary(`${dir}/modules.builtin.bin`),
    builtinAliasBin: readBinary(`${dir}/modules.builtin.alias.bin`),
  })
  return Object.assign(db, { format: 'bin' as const })
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
