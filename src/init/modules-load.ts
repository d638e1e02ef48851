// Modules to load whatever the hardware: modules-load.d lists (systemd-modules-load's format)
// and modload.load= on the kernel command line.
//
// Format of a modules-load.d file: one module name per line; blank lines and lines starting
// with '#' or ';' are comments. Files named *.conf from the directories below are read in
// file-name order; a name in an earlier directory hides the same name in a later one.
import { readdirSync, readFileSync } from 'node:fs'
import { normalizeName } from '../core/names.js'

export const MODULES_LOAD_DIRS = ['/etc/modules-load.d', '/run/modules-load.d', '/usr/local/lib/modules-load.d', '/usr/lib/modules-load.d', '/lib/modules-load.d']

export function parseModulesLoad(text: string): string[] {
  const out: string[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line[0] === '#' || line[0] === ';') continue
    out.push(normalizeName(line))
  }
  return out
}

/** modload.load=a,b (and repeated words) from the command line's value. */
export function parseLoadParam(value: string | true | undefined): string[] {
  if (typeof value !== 'string') return []
  return value.split(',').filter((n) => n.length > 0).map(normalizeName)
}

/** The modules-load.d lists under `root`, in systemd's order. Unreadable entries are skipped. */
export function readModulesLoad(root = '/', dirs = MODULES_LOAD_DIRS): { names: string[]; files: string[] } {
  const prefix = root === '/' ? '' : root.replace(/\/+$/, '')
  const byName = new Map<string, string>()
  for (const d of dirs) {
    let entries: string[]
    try {
      entries = readdirSync(prefix + d)
    } catch {
      continue
    }
    for (const n of entries) if (n.endsWith('.conf') && !byName.has(n)) byName.set(n, `${prefix}${d}/${n}`)
  }
  const files = [...byName.keys()].sort().map((n) => byName.get(n) as string)
  const names: string[] = []
  const read: string[] = []
  for (const f of files) {
    try {
      names.push(...parseModulesLoad(readFileSync(f, 'latin1')))
      read.push(f)
    } catch {
      // a dangling symlink (systemd's way to mask a file) or a directory: nothing to load
    }
  }
  return { names: [...new Set(names)], files: read }
}
