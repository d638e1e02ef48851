// syscalls.ts: the typed face of the syscall shim (shim.c). The addon returns
// -errno; makeSys turns that into SysError, shaped like Node's own errors
// (errno, code, syscall, path). Everything above this file takes a Sys, so it
// is testable with a fake RawShim and never needs root or a real kernel.
import * as nodeFs from 'node:fs'
import { constants } from 'node:os'

/** finit_module(2) flags. */
export const MODULE_INIT_IGNORE_MODVERSIONS = 1
export const MODULE_INIT_IGNORE_VERMAGIC = 2
/** Kernel decompresses the file itself (6.2+ with CONFIG_MODULE_DECOMPRESS); EOPNOTSUPP elsewhere. */
export const MODULE_INIT_COMPRESSED_FILE = 4

/** delete_module(2) flags (the kernel reuses open(2)'s bits). */
export const O_NONBLOCK = 0o4000
/** Forced unload (only with CONFIG_MODULE_FORCE_UNLOAD). */
export const O_TRUNC = 0o1000

/** mount(2) flags, x86-64 values from <linux/mount.h>. */
export const MS_RDONLY = 1
export const MS_NOSUID = 2
export const MS_NODEV = 4
export const MS_NOEXEC = 8
export const MS_SYNCHRONOUS = 16
export const MS_REMOUNT = 32
export const MS_MANDLOCK = 64
export const MS_DIRSYNC = 128
export const MS_NOSYMFOLLOW = 256
export const MS_NOATIME = 1024
export const MS_NODIRATIME = 2048
export const MS_BIND = 4096
export const MS_MOVE = 8192
export const MS_REC = 16384
export const MS_SILENT = 32768
export const MS_PRIVATE = 1 << 18
export const MS_SLAVE = 1 << 19
export const MS_SHARED = 1 << 20
export const MS_RELATIME = 1 << 21
export const MS_STRICTATIME = 1 << 24
export const MS_LAZYTIME = 1 << 25

/** umount2(2) flags. */
export const MNT_FORCE = 1
export const MNT_DETACH = 2
export const MNT_EXPIRE = 4
export const UMOUNT_NOFOLLOW = 8

/** reboot(2) commands; the shim adds the two magic numbers. */
export const REBOOT = {
  POWER_OFF: 0x4321fedc,
  RESTART: 0x01234567,
  HALT: 0xcdef0123,
} as const
export type RebootCmd = (typeof REBOOT)[keyof typeof REBOOT]

/** What the native addon exports: every call returns >= 0 or -errno. */
export interface RawShim {
  finitModule(fd: number, params: string, flags: number): number
  /** finit_module on libuv's thread pool; resolves to >= 0 or -errno, never rejects */
  finitModuleAsync(fd: number, params: string, flags: number): Promise<number>
  initModule(image: Uint8Array, params: string): number
  /** init_module on libuv's thread pool, on a copy of the bytes; resolves to >= 0 or -errno
   * (optional: fakes written before it) */
  initModuleAsync?(image: Uint8Array, params: string): Promise<number>
  deleteModule(name: string, flags: number): number
  mount(
    source: string | null,
    target: string,
    fstype: string | null,
    flags: number,
    data: string | null,
  ): number
  umount2(target: string, flags: number): number
  reboot(cmd: number): number
  sync(): number
  pivotRoot(newRoot: string, putOld: string): number
  chroot(path: string): number
  ueventSocket(): number
  recv(fd: number, buffer: Uint8Array): number
  poll(fd: number, timeoutMs: number): number
  /** poll on libuv's thread pool; resolves to 1, 0 or -errno, never rejects (optional: fakes) */
  pollAsync?(fd: number, timeoutMs: number): Promise<number>
  /** optional so fakes written before it still type-check */
  exitNow?(code: number): never
}

/** The syscalls modload uses; each throws SysError on failure. */
export interface Sys {
  /** Opens `path` read-only and loads it with finit_module(2). */
  finitModule(path: string, params?: string, flags?: number): void
  /** finitModule off the main thread (the tools keep the synchronous one): a module whose
   * init blocks holds one thread-pool thread, not the program. The fd stays open until the
   * kernel answers. */
  finitModuleAsync(path: string, params?: string, flags?: number): Promise<void>
  /** init_module(2) on bytes already in memory; `path` only names them in errors. */
  initModule(image: Uint8Array, params?: string, path?: string): void
  /** initModule off the main thread, as finitModuleAsync (a module decompressed here) */
  initModuleAsync(image: Uint8Array, params?: string, path?: string): Promise<void>
  deleteModule(name: string, flags?: number): void
  mount(
    source: string | null,
    target: string,
    fstype: string | null,
    flags?: number,
    data?: string | null,
  ): void
  umount2(target: string, flags?: number): void
  /** Returns only if the kernel refused; call sync() first. */
  reboot(cmd: RebootCmd): void
  sync(): void
  pivotRoot(newRoot: string, putOld: string): void
  chroot(path: string): void
  /** A non-blocking, close-on-exec NETLINK_KOBJECT_UEVENT socket bound to the kernel group. */
  ueventSocket(): number
  /** One datagram into `buffer`: its length, or null when none is queued. */
  recv(fd: number, buffer: Uint8Array): number | null
  /** Waits up to timeoutMs (-1: forever) for fd to be readable; false on timeout or signal. */
  poll(fd: number, timeoutMs: number): boolean
  /** poll off the main thread: resolves true when fd is readable, false on timeout or signal. */
  pollAsync(fd: number, timeoutMs: number): Promise<boolean>
  /** _exit(2): ends the process even with a finit_module hung in a thread-pool thread, where
   * process.exit() would wait for that thread forever. */
  exitNow(code: number): never
  /** The kernel-helper program embedded beside the shim (modprobe-forward.c), for init to
   * install; absent in fakes and when the executable was built without it. */
  modprobeForward?: Uint8Array
}

/** The two fs calls finitModule needs; injectable so tests need no real file. */
export interface FileOpener {
  openSync(path: string, flags: string): number
  closeSync(fd: number): void
}

// Linux errnos that Node's table lacks; module signing reports through them.
const LINUX_EXTRA_ERRNO: Readonly<Record<string, number>> = {
  ENOPKG: 65,
  ENOMEDIUM: 123,
  EMEDIUMTYPE: 124,
  ENOKEY: 126,
  EKEYEXPIRED: 127,
  EKEYREVOKED: 128,
  EKEYREJECTED: 129,
}

// Where two names share a number, the name the kernel sources use.
const PREFERRED = new Set(['EAGAIN', 'EOPNOTSUPP', 'EDEADLK'])

const CODES: ReadonlyMap<number, string> = (() => {
  const map = new Map<number, string>()
  const all = { ...(constants.errno as Record<string, number>), ...LINUX_EXTRA_ERRNO }
  for (const [name, n] of Object.entries(all)) {
    if (!map.has(n) || PREFERRED.has(name)) map.set(n, name)
  }
  return map
})()

// glibc's strerror() text for the errnos a loader or an init meets.
const TEXT: Readonly<Record<string, string>> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EINTR: 'Interrupted system call',
  EIO: 'Input/output error',
  ENXIO: 'No such device or address',
  E2BIG: 'Argument list too long',
  ENOEXEC: 'Exec format error',
  EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EFAULT: 'Bad address',
  ENOTBLK: 'Block device required',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  EXDEV: 'Invalid cross-device link',
  ENODEV: 'No such device',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EINVAL: 'Invalid argument',
  ENFILE: 'Too many open files in system',
  EMFILE: 'Too many open files',
  ETXTBSY: 'Text file busy',
  EFBIG: 'File too large',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  ERANGE: 'Numerical result out of range',
  ENAMETOOLONG: 'File name too long',
  ENOSYS: 'Function not implemented',
  ENOTEMPTY: 'Directory not empty',
  ELOOP: 'Too many levels of symbolic links',
  ENOPKG: 'Package not installed',
  EBADMSG: 'Bad message',
  EOVERFLOW: 'Value too large for defined data type',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  EPROTONOSUPPORT: 'Protocol not supported',
  ENOBUFS: 'No buffer space available',
  EOPNOTSUPP: 'Operation not supported',
  ETIMEDOUT: 'Connection timed out',
  ENOMEDIUM: 'No medium found',
  EMEDIUMTYPE: 'Wrong medium type',
  ENOKEY: 'Required key not available',
  EKEYEXPIRED: 'Key has expired',
  EKEYREVOKED: 'Key has been revoked',
  EKEYREJECTED: 'Key was rejected by service',
}

/** The errno's name ('EEXIST'), or 'UNKNOWN' for a number Linux x86-64 does not define. */
export function errnoCode(errno: number): string {
  return CODES.get(errno) ?? 'UNKNOWN'
}

/** strerror()-like text for an errno. */
export function strerror(errno: number): string {
  return TEXT[errnoCode(errno)] ?? `errno ${errno}`
}

/** A failed syscall, shaped like Node's system errors but with a positive errno. */
export class SysError extends Error {
  readonly errno: number
  readonly code: string
  readonly syscall: string
  /** The file, mount target or module name the call acted on, when known. */
  declare readonly path?: string

  /** `detail` replaces `path` in the message when the call has more to say (mount). */
  constructor(syscall: string, errno: number, path?: string, detail?: string) {
    const code = errnoCode(errno)
    const what = detail ?? path
    super(`${syscall}${what === undefined ? '' : ` ${what}`}: ${code} (${strerror(errno)})`)
    this.name = 'SysError'
    this.errno = errno
    this.code = code
    this.syscall = syscall
    if (path !== undefined) this.path = path
  }
}

const EAGAIN = 11
const EINTR = 4

function check(rc: number, syscall: string, path?: string, detail?: string): number {
  if (rc < 0) throw new SysError(syscall, -rc, path, detail)
  return rc
}

// Node's fs errors carry a negative errno; keep one error type for callers.
function fromNodeError(err: unknown, syscall: string, path: string): unknown {
  const e = err as NodeJS.ErrnoException
  if (typeof e?.errno === 'number' && typeof e.code === 'string') {
    return new SysError(syscall, Math.abs(e.errno), path)
  }
  return err
}

/** Wraps the raw addon (or a fake of it) into the typed, throwing Sys. */
export function makeSys(addon: RawShim, fs: FileOpener = nodeFs): Sys {
  const openModule = (path: string): number => {
    try {
      return fs.openSync(path, 'r')
    } catch (err) {
      throw fromNodeError(err, 'open', path)
    }
  }
  return {
    finitModule(path, params = '', flags = 0) {
      const fd = openModule(path)
      try {
        check(addon.finitModule(fd, params, flags), 'finit_module', path)
      } finally {
        fs.closeSync(fd)
      }
    },
    async finitModuleAsync(path, params = '', flags = 0) {
      const fd = openModule(path)
      try {
        check(await addon.finitModuleAsync(fd, params, flags), 'finit_module', path)
      } finally {
        fs.closeSync(fd)
      }
    },
    initModule(image, params = '', path) {
      check(addon.initModule(image, params), 'init_module', path)
    },
    async initModuleAsync(image, params = '', path) {
      check(addon.initModuleAsync ? await addon.initModuleAsync(image, params) : addon.initModule(image, params), 'init_module', path)
    },
    deleteModule(name, flags = O_NONBLOCK) {
      check(addon.deleteModule(name, flags), 'delete_module', name)
    },
    mount(source, target, fstype, flags = 0, data = null) {
      const detail = `${source ?? 'none'} on ${target} type ${fstype ?? 'none'}`
      check(addon.mount(source, target, fstype, flags, data), 'mount', target, detail)
    },
    umount2(target, flags = 0) {
      check(addon.umount2(target, flags), 'umount2', target)
    },
    reboot(cmd) {
      check(addon.reboot(cmd), 'reboot')
    },
    sync() {
      addon.sync()
    },
    pivotRoot(newRoot, putOld) {
      check(addon.pivotRoot(newRoot, putOld), 'pivot_root', newRoot, `${newRoot} ${putOld}`)
    },
    chroot(path) {
      check(addon.chroot(path), 'chroot', path)
    },
    ueventSocket() {
      return check(addon.ueventSocket(), 'socket', undefined, 'NETLINK_KOBJECT_UEVENT')
    },
    recv(fd, buffer) {
      const rc = addon.recv(fd, buffer)
      return rc === -EAGAIN ? null : check(rc, 'recv')
    },
    exitNow(code) {
      if (addon.exitNow) addon.exitNow(code)
      process.exit(code)
    },
    poll(fd, timeoutMs) {
      const rc = addon.poll(fd, timeoutMs)
      return rc === -EINTR ? false : check(rc, 'poll') > 0
    },
    async pollAsync(fd, timeoutMs) {
      if (!addon.pollAsync) return this.poll(fd, 0) // an older shim: a look, no wait
      const rc = await addon.pollAsync(fd, timeoutMs)
      return rc === -EINTR ? false : check(rc, 'poll') > 0
    },
  }
}
