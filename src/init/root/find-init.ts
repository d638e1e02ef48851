// Finding the real init inside the mounted root before switching to it. Node's
// process.execve() aborts the whole process when execve(2) fails (Node 22.22, measured), and
// for PID 1 that is a kernel panic, so everything execve would trip on is checked here first:
// the file, its execute bits, and the program that actually runs it (the ELF interpreter,
// or a script's #! interpreter). Paths are resolved inside the new root, symbolic links
// included (an absolute link /sbin/init -> /lib/systemd/systemd points into the new root,
// not into the initramfs).
import { closeSync, lstatSync, openSync, readSync, readlinkSync } from 'node:fs'

export interface InitFs {
  /** lstat without following; null when missing */
  lstat(path: string): { kind: 'file' | 'dir' | 'link' | 'other'; mode: number } | null
  readlink(path: string): string
  /** up to `length` bytes from offset 0 */
  head(path: string, length: number): Uint8Array
}

export const realInitFs: InitFs = {
  lstat(path) {
    try {
      const st = lstatSync(path)
      const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'other'
      return { kind, mode: st.mode & 0o7777 }
    } catch {
      return null
    }
  },
  readlink: (path) => readlinkSync(path),
  head(path, length) {
    const fd = openSync(path, 'r')
    try {
      const buf = new Uint8Array(length)
      return buf.subarray(0, readSync(fd, buf, 0, length, 0))
    } finally {
      closeSync(fd)
    }
  },
}

const MAX_LINKS = 40

/** `path` (absolute, inside `root`) with every symbolic link followed inside `root`; the
 * result is a host path under `root`, or null when a component is missing or links loop. */
export function resolveIn(fs: InitFs, root: string, path: string): string | null {
  const base = root.replace(/\/+$/, '')
  const todo = path.split('/').filter((p) => p.length > 0)
  const cur: string[] = []
  let links = 0
  while (todo.length > 0) {
    const p = todo.shift() as string
    if (p === '.') continue
    if (p === '..') {
      cur.pop()
      continue
    }
    const host = `${base}/${[...cur, p].join('/')}`
    const st = fs.lstat(host)
    if (!st) return null
    if (st.kind === 'link') {
      if (++links > MAX_LINKS) return null
      const target = fs.readlink(host)
      if (target.startsWith('/')) cur.length = 0
      todo.unshift(...target.split('/').filter((x) => x.length > 0))
      continue
    }
    if (todo.length > 0 && st.kind !== 'dir') return null
    cur.push(p)
  }
  return `${base}/${cur.join('/')}`
}

/** The PT_INTERP path of an ELF executable; null for a static one; undefined if not ELF. */
export function elfInterpreter(head: Uint8Array): string | null | undefined {
  if (head.length < 64 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) return undefined
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength)
  const is64 = head[4] === 2
  const le = head[5] === 1
  const phoff = is64 ? Number(v.getBigUint64(32, le)) : v.getUint32(28, le)
  const phentsize = v.getUint16(is64 ? 54 : 42, le)
  const phnum = v.getUint16(is64 ? 56 : 44, le)
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize
    if (ph + (is64 ? 56 : 32) > head.length) return null
    if (v.getUint32(ph, le) !== 3) continue // PT_INTERP
    const off = is64 ? Number(v.getBigUint64(ph + 8, le)) : v.getUint32(ph + 4, le)
    const size = is64 ? Number(v.getBigUint64(ph + 32, le)) : v.getUint32(ph + 16, le)
    if (off + size > head.length) return null
    let end = off + size
    while (end > off && head[end - 1] === 0) end--
    return Buffer.from(head.subarray(off, end)).toString('latin1')
  }
  return null
}

/** The interpreter of a #! script; undefined when `head` is not a script. */
export function shebang(head: Uint8Array): string | undefined {
  if (head[0] !== 0x23 || head[1] !== 0x21) return undefined
  const line = Buffer.from(head.subarray(2, 256)).toString('latin1').split('\n')[0]
  return line.trim().split(/[ \t]+/)[0] || undefined
}

/** Why `path` (inside `root`) cannot be exec'd, or null when it can. */
export function whyNotExecutable(fs: InitFs, root: string, path: string, depth = 0): string | null {
  const host = resolveIn(fs, root, path)
  const st = host === null ? null : fs.lstat(host)
  if (host === null || !st) return 'missing'
  if (st.kind !== 'file') return `not a regular file`
  if ((st.mode & 0o111) === 0) return `not executable (mode ${st.mode.toString(8).padStart(4, '0')})`
  let head: Uint8Array
  try {
    head = fs.head(host, 4096)
  } catch (err) {
    return `unreadable: ${(err as Error).message}`
  }
  const elf = elfInterpreter(head)
  const interp = elf === undefined ? shebang(head) : elf
  if (interp === undefined) return 'neither an ELF executable nor a #! script'
  if (interp === null) return null // a static executable
  if (depth > 2) return `interpreter chain too deep at ${interp}`
  const why = whyNotExecutable(fs, root, interp, depth + 1)
  return why === null ? null : `its interpreter ${interp} is ${why}`
}

export interface InitChoice {
  path: string | null
  /** for each path tried that failed: "PATH: why" */
  tried: string[]
}

/** The first of `candidates` that can run inside `root`. */
export function findInit(fs: InitFs, root: string, candidates: readonly string[]): InitChoice {
  const tried: string[] = []
  for (const c of candidates) {
    const why = whyNotExecutable(fs, root, c)
    if (why === null) return { path: c, tried }
    tried.push(`${c}: ${why}`)
  }
  return { path: null, tried }
}
