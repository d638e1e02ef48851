// The switch_root dance (as busybox's switch_root and systemd do it): move the kernel
// filesystems into the new root, free the initramfs (it is RAM that nothing can reach once
// the root moves over it), make the new root "/" and chroot into it. After this the process
// runs inside the new root and only exec remains.
import { lstatSync, readdirSync, rmdirSync, statfsSync, statSync, unlinkSync } from 'node:fs'
import { MNT_DETACH, MS_MOVE, type Sys } from '../../sys/syscalls.js'
import type { Log } from '../log.js'

/** The kernel filesystems init mounted, moved into the new root in this order. */
export const MOVED_MOUNTS = ['/dev', '/proc', '/sys', '/run'] as const

const RAMFS_MAGIC = 0x858458f6
const TMPFS_MAGIC = 0x01021994

export interface TreeFs {
  readdirSync(path: string): string[]
  lstatSync(path: string): { dev: number; isDirectory(): boolean }
  rmdirSync(path: string): void
  unlinkSync(path: string): void
}

const realTreeFs: TreeFs = { readdirSync: (p) => readdirSync(p), lstatSync, rmdirSync, unlinkSync }

/**
 * Delete everything under `dir` that lives on device `dev`, not crossing into other mounts
 * (the new root is mounted below it). Errors are counted, not thrown: a file that will not
 * go only wastes its RAM.
 */
export function deleteTree(dir: string, dev: number, fs: TreeFs = realTreeFs): { removed: number; failed: number } {
  const tally = { removed: 0, failed: 0 }
  const walk = (d: string): void => {
    let names: string[]
    try {
      names = fs.readdirSync(d)
    } catch {
      tally.failed++
      return
    }
    for (const name of names) {
      const p = d === '/' ? `/${name}` : `${d}/${name}`
      try {
        const st = fs.lstatSync(p)
        if (st.dev !== dev) continue // a mount point: the new root, or something we did not mount
        if (st.isDirectory()) {
          walk(p)
          fs.rmdirSync(p)
        } else fs.unlinkSync(p)
        tally.removed++
      } catch {
        tally.failed++
      }
    }
  }
  walk(dir)
  return tally
}

export interface SwitchOptions {
  /** where the new root is mounted, e.g. /root */
  newRoot: string
  /** delete the initramfs's files first (only done when / is a ramfs or tmpfs) */
  freeInitramfs: boolean
}

export interface SwitchEnv {
  sys: Pick<Sys, 'mount' | 'umount2' | 'chroot'>
  log: Log
  chdir(path: string): void
  isDir(path: string): boolean
  /** statfs(2) f_type of a path */
  fsType(path: string): number
  /** the st_dev of a path */
  dev(path: string): number
  deleteTree(dir: string, dev: number): { removed: number; failed: number }
}

export const realSwitchEnv = (sys: SwitchEnv['sys'], log: Log): SwitchEnv => ({
  sys,
  log,
  chdir: (p) => process.chdir(p),
  isDir: (p) => {
    try {
      return statSync(p).isDirectory()
    } catch {
      return false
    }
  },
  fsType: (p) => Number(statfsSync(p).type),
  dev: (p) => statSync(p).dev,
  deleteTree: (d, dev) => deleteTree(d, dev),
})

/** Throws a SysError when a step the hand-over cannot do without fails (moving the root). */
export function switchRoot(env: SwitchEnv, opts: SwitchOptions): void {
  const { sys, log, newRoot } = { ...env, ...opts }
  for (const m of MOVED_MOUNTS) {
    const target = `${newRoot}${m}`
    if (env.isDir(target)) {
      try {
        sys.mount(m, target, null, MS_MOVE, null)
        continue
      } catch (err) {
        log(`root: warning: cannot move ${m} to ${target}: ${(err as Error).message}; detaching it`)
      }
    } else log(`root: warning: ${m} does not exist in the root filesystem; detaching it`)
    try {
      sys.umount2(m, MNT_DETACH)
    } catch {
      // not mounted: nothing to leave behind
    }
  }
  env.chdir(newRoot)
  if (opts.freeInitramfs) {
    const type = env.fsType('/')
    if (type === RAMFS_MAGIC || type === TMPFS_MAGIC) {
      const t = env.deleteTree('/', env.dev('/'))
      log(`root: freed the initramfs: ${t.removed} entries removed${t.failed ? `, ${t.failed} left` : ''}`)
    } else log(`root: / is not a ramfs or tmpfs (f_type 0x${type.toString(16)}); the initramfs is left in place`)
  }
  sys.mount('.', '/', null, MS_MOVE, null)
  sys.chroot('.')
  env.chdir('/')
}
