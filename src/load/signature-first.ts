// The CPU's implementation of the module signature hash, found in the tree and loaded before
// anything else (src/core/signature-hash.ts says why). Used by the image builder, which puts it
// in the image, and by init and `modload coldplug`, which load it first.
import { readFileSync } from 'node:fs'
import { cpuMatchedModules, hashAccelerators } from '../core/signature-hash.js'
import { loadOrder, type ModuleDb } from '../core/moddb.js'
import type { ModprobeConfig } from '../config/modprobe-conf.js'
import { readSignature } from '../elf/signature.js'
import { readModuleImage } from '../elf/read.js'
import { insertModuleFile, type InsertSys } from './insert.js'
import { SysError } from '../sys/syscalls.js'

/** Where the kernel shows the CPU's modalias (its feature list). */
export const CPU_MODALIAS = '/sys/devices/system/cpu/modalias'

export interface SignatureAccelerators {
  /** the hash the tree's modules are signed with */
  hash: string
  /** the modules that implement it for this CPU, in lookup order */
  modules: string[]
}

/**
 * The CPU's accelerated implementations of the hash the tree's modules are signed with, or null
 * when there is none (the CPU matches none, the modules are unsigned, or no candidate can be
 * read). Reads one module file: a candidate's own signature names the hash, as every module of
 * a tree is signed the same way.
 */
export async function findSignatureAccelerators(db: ModuleDb, config: ModprobeConfig | null, cpuModaliases: readonly string[]): Promise<SignatureAccelerators | null> {
  const byHash = hashAccelerators(db, config, cpuMatchedModules(db, config, cpuModaliases))
  if (byHash.size === 0) return null
  const first = [...byHash.values()][0][0]
  const entry = db.modules.get(first)
  if (!entry) return null
  let hash: string | undefined
  try {
    hash = readSignature(await readModuleImage(`${db.dir}/${entry.path}`))?.hashAlgo
  } catch {
    return null
  }
  const modules = hash === undefined ? undefined : byHash.get(hash)
  return hash !== undefined && modules ? { hash, modules } : null
}

/** The CPU's modalias, or [] when the kernel shows none. */
export function readCpuModalias(path = CPU_MODALIAS): string[] {
  try {
    const text = readFileSync(path, 'latin1').trim()
    return text ? [text] : []
  } catch {
    return []
  }
}

export interface FirstResult {
  name: string
  ok: boolean
  /** why it did not load (the CPU lacks the feature after all, a broken file) */
  error?: string
  /** the errno's name, when the kernel refused it (ENODEV: the CPU lacks the feature) */
  code?: string
  ms: number
}

/**
 * Load `modules` with their dependencies, one at a time, skipping what is live. A failure is
 * returned, never thrown: this only speeds up what follows, which loads the same without it.
 */
export async function loadFirst(sys: InsertSys, db: ModuleDb, modules: readonly string[], isLive: (name: string) => boolean, now: () => number, kernelCompression: string | null): Promise<FirstResult[]> {
  const out: FirstResult[] = []
  for (const name of modules) {
    for (const dep of loadOrder(db, name).order) {
      if (isLive(dep.name) || out.some((r) => r.name === dep.name)) continue
      const t = now()
      try {
        await insertModuleFile(sys, `${db.dir}/${dep.path}`, '', false, { kernelCompression: () => kernelCompression }, { within: db.dir })
        out.push({ name: dep.name, ok: true, ms: now() - t })
      } catch (err) {
        const exists = err instanceof SysError && err.code === 'EEXIST'
        out.push({ name: dep.name, ok: exists, error: exists ? undefined : (err as Error).message, code: err instanceof SysError ? err.code : undefined, ms: now() - t })
      }
    }
  }
  return out
}
