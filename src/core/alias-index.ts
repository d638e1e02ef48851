// An index over modules.alias patterns that answers "which modules match this modalias".
//
// Patterns without metacharacters go into a Map (exact hits). Glob patterns are bucketed by
// their literal prefix cut to KEY characters (most modalias patterns start with a long literal
// such as "pci:v00001AF4d"), so a lookup only runs fnmatch on the patterns that share the
// string's first KEY characters, plus the few whose literal prefix is shorter than KEY, which
// are kept in per-length buckets and probed by the string's own prefix.
// Results come back in modules.alias order, duplicates removed, as kmod reports them.
import { fnmatch, isGlob, literalPrefixLength } from './fnmatch.js'
import { normalizeAlias } from './names.js'
import type { AliasEntry } from '../format/modules-alias.js'

const KEY = 8

interface Slot {
  order: number
  pattern: string
  module: string
}

export interface AliasIndex {
  lookup(alias: string): string[]
  readonly size: number
}

export function buildAliasIndex(entries: readonly AliasEntry[]): AliasIndex {
  const exact = new Map<string, Slot[]>()
  const byKey = new Map<string, Slot[]>()
  // short[n]: globs whose literal prefix has n < KEY characters, keyed by that prefix
  const short: Map<string, Slot[]>[] = Array.from({ length: KEY }, () => new Map())
  const push = (m: Map<string, Slot[]>, k: string, slot: Slot): void => {
    const list = m.get(k)
    if (list) list.push(slot)
    else m.set(k, [slot])
  }
  entries.forEach((e, order) => {
    const pattern = normalizeAlias(e.pattern) ?? e.pattern
    const slot = { order, pattern, module: e.module }
    if (!isGlob(pattern)) push(exact, pattern, slot)
    else {
      const n = literalPrefixLength(pattern)
      if (n >= KEY) push(byKey, pattern.slice(0, KEY), slot)
      else push(short[n], pattern.slice(0, n), slot)
    }
  })
  return {
    size: entries.length,
    lookup(raw: string): string[] {
      const alias = normalizeAlias(raw)
      if (alias === null) return []
      const hits: Slot[] = []
      const ex = exact.get(alias)
      if (ex) hits.push(...ex)
      const keyed = alias.length >= KEY ? byKey.get(alias.slice(0, KEY)) : undefined
      if (keyed) for (const s of keyed) if (fnmatch(s.pattern, alias)) hits.push(s)
      for (let n = 0; n < KEY && n <= alias.length; n++) {
        const list = short[n].get(alias.slice(0, n))
        if (list) for (const s of list) if (fnmatch(s.pattern, alias)) hits.push(s)
      }
      if (hits.length > 1) hits.sort((a, b) => a.order - b.order)
      const seen = new Set<string>()
      const out: string[] = []
      for (const h of hits) {
        if (!seen.has(h.module)) {
          seen.add(h.module)
          out.push(h.module)
        }
      }
      return out
    },
  }
}
