// Finds the shared libraries a dynamically linked program needs, the way ld.so would on a
// Debian x86-64 system (the multiarch directories first), following DT_NEEDED recursively.
import { readFileSync, realpathSync, existsSync } from 'node:fs'
import { readElfDeps } from './elf.js'

export const LIBRARY_DIRS = [
  '/lib/x86_64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/lib64',
  '/usr/lib64',
  '/lib',
  '/usr/lib',
]

export interface NeededFile {
  /** path inside the image (the name the loader will look for) */
  dest: string
  /** file on the host to copy (symlinks resolved) */
  src: string
}

export function neededLibraries(program: string, dirs: readonly string[] = LIBRARY_DIRS): NeededFile[] {
  const out = new Map<string, NeededFile>()
  const queue: string[] = [program]
  const seen = new Set<string>()
  while (queue.length) {
    const file = queue.shift() as string
    const real = realpathSync(file)
    if (seen.has(real)) continue
    seen.add(real)
    const deps = readElfDeps(readFileSync(real), file)
    if (deps.interpreter && !out.has(deps.interpreter)) {
      if (!existsSync(deps.interpreter)) throw new Error(`${file}: its interpreter ${deps.interpreter} is not on this machine`)
      out.set(deps.interpreter, { dest: deps.interpreter, src: realpathSync(deps.interpreter) })
      queue.push(deps.interpreter)
    }
    for (const lib of deps.needed) {
      const found = lib.includes('/') ? lib : dirs.map((d) => `${d}/${lib}`).find((p) => existsSync(p))
      if (!found) throw new Error(`${file} needs ${lib}, which is in none of ${dirs.join(', ')}`)
      if (!out.has(found)) {
        out.set(found, { dest: found, src: realpathSync(found) })
        queue.push(found)
      }
    }
  }
  return [...out.values()]
}
