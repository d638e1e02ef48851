// native.ts: loads the syscall addon embedded in the executable. Only the
// executable's entry imports this file; tests use makeSys with a fake.
//
// dlopen needs a file, so the bytes go to a temp file that is unlinked at
// once. In an initramfs /tmp may be missing and some mounts are noexec, hence
// the list of places to try.
import { unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import shimBytes from './shim.node'
import forwardBytes from './modprobe-forward.bin'
import { makeSys, type RawShim, type Sys } from './syscalls.js'

function candidateDirs(): string[] {
  return [...new Set([tmpdir(), '/run', '/dev/shm', '/'])]
}

function tryLoad(dir: string): RawShim {
  // the name need not be secret: 'wx' (O_EXCL) refuses a file or link already there, and the
  // next place is tried; so no OpenSSL random bytes (crypto would weigh on every start, lazy.ts)
  const file = join(dir, `.modload-shim-${process.pid}-${Math.random().toString(36).slice(2, 10)}.node`)
  writeFileSync(file, shimBytes, { mode: 0o700, flag: 'wx' })
  try {
    const module = { exports: {} as RawShim }
    process.dlopen(module, file)
    return module.exports
  } finally {
    // A leftover file is harmless; losing a loaded addon over it is not.
    try {
      unlinkSync(file)
    } catch {}
  }
}

/** The real syscalls. Call once at start-up and pass the result down. */
export function loadSys(): Sys {
  const failures: string[] = []
  for (const dir of candidateDirs()) {
    try {
      return Object.assign(makeSys(tryLoad(dir)), { modprobeForward: forwardBytes })
    } catch (err) {
      failures.push(`${dir}: ${(err as Error).message}`)
    }
  }
  throw new Error(`cannot load the syscall shim; tried ${failures.join('; ')}`)
}
