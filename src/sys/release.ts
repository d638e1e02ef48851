// The running kernel's release (`uname -r`), read when asked. Node's os.release() is read once,
// when Node's os module is evaluated: in the executable that happens while the start-up
// snapshot is built, so it names the build machine's kernel. /proc has the live answer.
import { readFileSync } from 'node:fs'
import { release } from 'node:os'
import { isSea } from 'node:sea'

export const PROC_OSRELEASE = '/proc/sys/kernel/osrelease'

/** `uname -r` of the kernel this process runs on. Throws when only a stale answer is left. */
export function kernelRelease(): string {
  try {
    const r = readFileSync(PROC_OSRELEASE, 'latin1').trim()
    if (r) return r
  } catch {
    // no /proc: below
  }
  // run from the sources, os.release() was read by this very process
  if (!isSea()) return release()
  throw new Error(`cannot tell the running kernel's release: ${PROC_OSRELEASE} is unreadable (mount /proc, or name the kernel version with -k/-S)`)
}
