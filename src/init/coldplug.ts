// The coldplug loop: resolve the modalias of every present device, load what matches, and
// rescan, because a loaded bus driver (virtio_pci, xhci, ahci) makes new devices appear.
// Stops when a pass loads nothing new. I/O comes in through the context, so tests drive it
// with a fake /sys and a fake shim.
import { resolve, type ModuleDb } from '../core/moddb.js'
import { loadWithDeps, type LoadResult, type LoaderContext } from '../load/loader.js'

export interface ColdplugContext extends LoaderContext {
  db: ModuleDb
  /** current modalias strings of the present devices */
  scan: () => string[]
  maxPasses?: number
}

export interface ColdplugReport {
  passes: number
  results: LoadResult[]
  /** modalias strings that matched no module and nothing built in */
  unmatched: string[]
  /** modalias -> modules it resolved to */
  matched: Map<string, string[]>
}

export async function coldplug(ctx: ColdplugContext): Promise<ColdplugReport> {
  const matched = new Map<string, string[]>()
  const unmatched = new Set<string>()
  const results: LoadResult[] = []
  const attempted = new Set<string>()
  const maxPasses = ctx.maxPasses ?? 50
  let passes = 0
  while (passes < maxPasses) {
    passes++
    const wanted: string[] = []
    for (const alias of ctx.scan()) {
      if (matched.has(alias) || unmatched.has(alias)) continue
      const r = resolve(ctx.db, alias)
      if (r.kind === 'none') unmatched.add(alias)
      else {
        matched.set(alias, r.names)
        if (r.kind === 'module') wanted.push(...r.names)
      }
    }
    let loaded = 0
    for (const name of wanted) {
      if (attempted.has(name) || ctx.live.has(name)) continue
      attempted.add(name)
      for (const r of await loadWithDeps(ctx, name)) {
        results.push(r)
        if (r.status === 'loaded') loaded++
      }
    }
    if (loaded === 0) break
  }
  return { passes, results, unmatched: [...unmatched].sort(), matched }
}
