// The kernel checks a signed module's signature as it loads it: it hashes the whole module
// with the algorithm the signature names (CONFIG_MODULE_SIG_HASH, the same for every module of
// a tree), through the crypto API, which picks the fastest implementation registered then.
// Debian's kernels have the generic C SHA-256 built in and the CPU's own (sha256_ssse3: SSSE3,
// AVX, AVX2 or SHA-NI code) as a module, which a coldplug loads through the CPU's modalias, with
// the CPU's other feature modules: last here, in any order with udev. Loaded first, it makes
// every later signature check faster: on one emulated CPU (q35, steady clock) a tiny-initramfs
// image that loads it ahead of its 15 modules (3.1 MB, ext4's 2 MB the most) reached the root
// 0.13 s sooner (2.34 -> 2.21 s).
//
// Which modules those are is read from the tree, not known by name: the modules that provide
// the hash (alias crypto-HASH) and that the CPU's modalias matches. Pure.
import { lookupNames } from './lookup.js'
import type { ModuleDb } from './moddb.js'
import { normalizeName } from './names.js'
import type { ModprobeConfig } from '../config/modprobe-conf.js'
import { HASH_ALGO } from '../elf/signature.js'

/**
 * Of `names`, the ones a boot loads first: module files of the tree, not built in, and not
 * blacklisted (they are found through aliases, and the blacklist applies to what coldplug finds
 * through aliases).
 */
export function loadableFirst(db: ModuleDb, config: ModprobeConfig | null, names: readonly string[]): string[] {
  return [...new Set(names.map(normalizeName))].filter((n) => db.modules.has(n) && !db.builtin.has(n) && !config?.blacklist.includes(n))
}

/** The names the CPU's modaliases (`cpu:type:...` and the like) resolve to. */
export function cpuMatchedModules(db: ModuleDb, config: ModprobeConfig | null, cpuModaliases: readonly string[]): Set<string> {
  const out = new Set<string>()
  for (const m of cpuModaliases) for (const n of lookupNames(db, config, m)) out.add(normalizeName(n))
  return out
}

/**
 * For each hash a signature can name, the loadable modules that implement it (alias
 * crypto-HASH) and that the CPU matches (`cpuMatched`, from cpuMatchedModules): the CPU's
 * accelerated implementations; generic, built-in and blacklisted ones left out. Hashes without
 * one are absent.
 */
export function hashAccelerators(db: ModuleDb, config: ModprobeConfig | null, cpuMatched: ReadonlySet<string>): Map<string, string[]> {
  const out = new Map<string, string[]>()
  if (cpuMatched.size === 0) return out
  for (const hash of HASH_ALGO) {
    const names = loadableFirst(db, config, lookupNames(db, config, `crypto-${hash}`)).filter((n) => cpuMatched.has(n))
    if (names.length) out.set(hash, names)
  }
  return out
}

/** The image's record of them (paths.ts IMAGE_SIGNATURE_HASH): `HASH NAME...`. Pure. */
export function formatSignatureFirst(hash: string, modules: readonly string[]): string {
  return `${[hash, ...modules].join(' ')}\n`
}

/** formatSignatureFirst's line back, or null when it names no hash or no module. Pure. */
export function parseSignatureFirst(text: string): { hash: string; modules: string[] } | null {
  const [hash, ...modules] = text.split('\n')[0].trim().split(/\s+/).filter(Boolean)
  if (!hash || !(HASH_ALGO as readonly string[]).includes(hash) || modules.length === 0) return null
  return { hash, modules: modules.map(normalizeName) }
}
