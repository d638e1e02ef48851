// Files modload installs into a system (kernel hooks, initramfs builder integrations) under a
// root directory, and removes again only when they are its own: the one place for the path
// arithmetic, the atomic write and the "is it ours?" test that `install-hooks` and `integrate`
// share.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

export type FileAction =
  | { kind: 'wrote'; path: string; replaced: boolean }
  | { kind: 'kept'; path: string }
  | { kind: 'deleted'; path: string }
  | { kind: 'absent'; path: string }
  | { kind: 'foreign'; path: string }

/** `path` (absolute) inside the system rooted at `root`. Pure. */
export function under(root: string, path: string): string {
  return root === '/' ? path : `${root.replace(/\/+$/, '')}${path}`
}

/** Writes `text` to `path` with exactly `mode` (the umask must not decide), atomically. */
export function writeWithMode(path: string, text: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, text, { mode })
  chmodSync(tmp, mode)
  renameSync(tmp, path)
}

/** Deletes the file at `at` when its text carries `mark`; `shown` is the path the action names. */
export function removeOwned(at: string, mark: string, shown = at): FileAction {
  let text: string
  try {
    text = readFileSync(at, 'utf8')
  } catch (err) {
    // a directory or an unreadable file in its place is not ours either
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? { kind: 'absent', path: shown } : { kind: 'foreign', path: shown }
  }
  if (!text.includes(mark)) return { kind: 'foreign', path: shown }
  rmSync(at, { force: true })
  return { kind: 'deleted', path: shown }
}

/** One line of a tool's report. `tool` names who writes such files, `keptWhy` why a file was kept. */
export function describeFileAction(a: FileAction, tool: string, keptWhy: string): string {
  switch (a.kind) {
    case 'wrote':
      return `${a.replaced ? 'replaced' : 'wrote'} ${a.path}`
    case 'kept':
      return `kept ${a.path} (${keptWhy})`
    case 'deleted':
      return `deleted ${a.path}`
    case 'absent':
      return `${a.path}: not installed`
    case 'foreign':
      return `left ${a.path}: not written by ${tool}`
  }
}
