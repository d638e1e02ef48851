// lazy.ts: Node's built-in modules that a boot does not need, loaded when first used.
//
// The executable starts from a V8 snapshot that holds every module the bundle loads at its top
// level, and V8 deserialises all of that heap at every start, used or not. zlib, crypto,
// child_process, the stream modules and fs/promises (with what they pull in: WHATWG streams,
// readline, ...) cost ~24 M instructions of a start's ~150 M (docs/runtime-weight.md, s. 8)
// and serve image builds, the tools and rare boot paths (compressed modules, install commands,
// GPT checksums). Their importers reach them through these functions instead of an import, so
// the snapshot leaves them out (test/build.test.ts checks the bundle's top level and a scan). Node caches
// a loaded built-in: calling again costs a lookup. Loading one at run time costs about what
// deserialising it does (net: 3.5 vs 4.2 M instructions), so what every boot uses (fs, path,
// os, net for the kernel's module requests) stays a plain import.
//
// Also: a time base without perf_hooks, whose `performance` pulls in 11 modules.

export const zlib = () => process.getBuiltinModule('node:zlib')
export const childProcess = () => process.getBuiltinModule('node:child_process')
export const stream = () => process.getBuiltinModule('node:stream')
export const streamPromises = () => process.getBuiltinModule('node:stream/promises')
export const fsPromises = () => process.getBuiltinModule('node:fs/promises')

/** Milliseconds since the process started (what `performance.now()` gives, without perf_hooks). */
export function msSinceStart(): number {
  return process.uptime() * 1000
}

/** Resolves after `ms` milliseconds (node:timers/promises' setTimeout, without loading it). */
export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms))
}
