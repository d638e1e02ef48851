// Loads modules with their dependencies, in dependency order, one at a time (the root
// hand-over's filesystem and late drivers); coldplug's scheduler (src/init/scheduler.ts) runs
// loads in parallel instead. A failure is recorded and the modules that need it are skipped
// with that reason; everything else still loads. Each file goes into the kernel through
// insert.ts's insertModuleFile, the one insertion path.
import { loadOrder, modulePath, type ModuleDb } from '../core/moddb.js'
import { modNameFromPath } from '../core/names.js'
import { SysError } from '../sys/syscalls.js'
import { insertModuleFile, type InsertSys } from './insert.js'

export type LoaderSys = InsertSys

export type LoadStatus = 'loaded' | 'live' | 'failed' | 'skipped'

export interface LoadResult {
  name: string
  status: LoadStatus
  path?: string
  ms?: number
  /** for 'failed': the error; for 'skipped': why */
  error?: SysError | Error
  /** for 'skipped': the dependency that failed */
  because?: string
}

export interface LoaderContext {
  db: ModuleDb
  /** finitModuleAsync is used when present, so a slow module init does not block the event loop */
  sys: LoaderSys
  /** names of modules live in the kernel; the loader adds what it loads */
  live: Set<string>
  /** names that failed earlier in this run: not retried */
  failed: Map<string, Error>
  /** what /sys/module/compression says the kernel decompresses ('xz', 'zstd', 'gzip'), or null */
  kernelCompression: string | null
  now: () => number
  onResult?: (r: LoadResult) => void
  params?: (name: string) => string
}

async function loadOne(ctx: LoaderContext, name: string, path: string): Promise<void> {
  await insertModuleFile(ctx.sys, path, ctx.params?.(name) ?? '', false, { kernelCompression: () => ctx.kernelCompression }, { within: ctx.db.dir })
}

/** Load `name` and whatever it depends on. Returns one result per module that was not already live. */
export async function loadWithDeps(ctx: LoaderContext, name: string): Promise<LoadResult[]> {
  const results: LoadResult[] = []
  const report = (r: LoadResult): void => {
    results.push(r)
    ctx.onResult?.(r)
  }
  const { order, missing } = loadOrder(ctx.db, name)
  if (missing.length) {
    const err = new Error(`${ctx.db.dir}/modules.dep: ${name} needs ${missing.join(', ')}, which has no entry (run depmod)`)
    ctx.failed.set(name, err)
    report({ name, status: 'failed', error: err })
    return results
  }
  const brokenDep = (deps: string[]): string | undefined => deps.map(modNameFromPath).find((d) => ctx.failed.has(d))
  for (const entry of order) {
    if (ctx.live.has(entry.name)) continue
    const path = modulePath(ctx.db, entry)
    const prior = ctx.failed.get(entry.name)
    if (prior) {
      if (entry.name === name) report({ name, status: 'failed', path, error: prior })
      continue
    }
    const dep = brokenDep(entry.deps)
    if (dep !== undefined) {
      const err = new Error(`not loaded: its dependency ${dep} failed`)
      ctx.failed.set(entry.name, err)
      report({ name: entry.name, status: 'skipped', path, error: err, because: dep })
      continue
    }
    const t0 = ctx.now()
    try {
      await loadOne(ctx, entry.name, path)
      ctx.live.add(entry.name)
      report({ name: entry.name, status: 'loaded', path, ms: ctx.now() - t0 })
    } catch (err) {
      if (err instanceof SysError && err.code === 'EEXIST') {
        // loaded meanwhile (by the kernel's own request_module, or another loader)
        ctx.live.add(entry.name)
        report({ name: entry.name, status: 'live', path, ms: ctx.now() - t0 })
        continue
      }
      const e = err instanceof Error ? err : new Error(String(err))
      ctx.failed.set(entry.name, e)
      report({ name: entry.name, status: 'failed', path, ms: ctx.now() - t0, error: e })
    }
  }
  return results
}
