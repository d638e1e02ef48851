// sys.test.ts: makeSys over a fake RawShim: errno mapping, error fields,
// arguments passed through. No root, no kernel, no native addon.
import t from 'tap'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import {
  type FileOpener,
  makeSys,
  MODULE_INIT_COMPRESSED_FILE,
  MODULE_INIT_IGNORE_MODVERSIONS,
  MODULE_INIT_IGNORE_VERMAGIC,
  MS_BIND,
  MS_MOVE,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_RDONLY,
  MS_REC,
  O_NONBLOCK,
  O_TRUNC,
  type RawShim,
  REBOOT,
  SysError,
  errnoCode,
  strerror,
} from '../src/sys/syscalls.js'

type Call = [name: string, ...args: unknown[]]

/** A RawShim that records each call and returns rc[name] (default 0). */
function fakeShim(rc: Partial<Record<keyof RawShim, number>> = {}) {
  const calls: Call[] = []
  const shim = new Proxy({} as RawShim, {
    get: (_, name: string) => (...args: unknown[]) => {
      calls.push([name, ...args])
      return rc[name as keyof RawShim] ?? 0
    },
  })
  return { shim, calls }
}

/** A FileOpener that hands out fd 42 and records opens and closes. */
function fakeFs() {
  const log: string[] = []
  const fs: FileOpener = {
    openSync: (path, flags) => (log.push(`open ${path} ${flags}`), 42),
    closeSync: (fd) => void log.push(`close ${fd}`),
  }
  return { fs, log }
}

const KO = '/lib/modules/6.1.0-30-amd64/kernel/fs/ext4/ext4.ko'

t.test('finitModule opens the file read-only and passes fd, params and flags', async (t) => {
  const { shim, calls } = fakeShim()
  const { fs, log } = fakeFs()
  const flags = MODULE_INIT_COMPRESSED_FILE | MODULE_INIT_IGNORE_VERMAGIC
  makeSys(shim, fs).finitModule(KO, 'debug=1', flags)
  t.same(calls, [['finitModule', 42, 'debug=1', 6]])
  t.same(log, [`open ${KO} r`, 'close 42'])
})

t.test('finitModule defaults to no params and no flags', async (t) => {
  const { shim, calls } = fakeShim()
  makeSys(shim, fakeFs().fs).finitModule(KO)
  t.same(calls, [['finitModule', 42, '', 0]])
})

t.test('finitModule failure carries errno, code, syscall and path, and closes the fd', async (t) => {
  const { shim } = fakeShim({ finitModule: -17 })
  const { fs, log } = fakeFs()
  const err = t.throws(() => makeSys(shim, fs).finitModule(KO)) as SysError
  t.ok(err instanceof SysError)
  t.ok(err instanceof Error)
  t.equal(err.name, 'SysError')
  t.equal(err.errno, 17)
  t.equal(err.code, 'EEXIST')
  t.equal(err.syscall, 'finit_module')
  t.equal(err.path, KO)
  t.equal(err.message, `finit_module ${KO}: EEXIST (File exists)`)
  t.same(log, [`open ${KO} r`, 'close 42'])
})

t.test('finitModule on a real file uses a real fd; a missing file is an open error', async (t) => {
  const dir = t.testdir({ 'x.ko': 'not really ELF' })
  const { shim, calls } = fakeShim({ finitModule: -8 })
  const sys = makeSys(shim)
  const err = t.throws(() => sys.finitModule(join(dir, 'x.ko'))) as SysError
  t.equal(err.code, 'ENOEXEC')
  t.equal(err.message, `finit_module ${join(dir, 'x.ko')}: ENOEXEC (Exec format error)`)
  t.type(calls[0]?.[1], 'number')

  const missing = join(dir, 'missing.ko')
  const open = t.throws(() => sys.finitModule(missing)) as SysError
  t.ok(open instanceof SysError)
  t.match(open, { errno: 2, code: 'ENOENT', syscall: 'open', path: missing })
  t.equal(calls.length, 1, 'the shim is not called when open fails')
})

t.test('finitModuleAsync: same arguments, the fd stays open until the kernel answers', async (t) => {
  const { fs, log } = fakeFs()
  let answer: (rc: number) => void = () => undefined
  const calls: unknown[][] = []
  const shim = new Proxy({} as RawShim, {
    get: (_, name: string) => (...args: unknown[]) => {
      calls.push([name, ...args])
      return name === 'finitModuleAsync' ? new Promise<number>((r) => (answer = r)) : 0
    },
  })
  const p = makeSys(shim, fs).finitModuleAsync(KO, 'x=1', MODULE_INIT_COMPRESSED_FILE)
  t.same(calls, [['finitModuleAsync', 42, 'x=1', MODULE_INIT_COMPRESSED_FILE]])
  await new Promise((r) => setImmediate(r))
  t.same(log, [`open ${KO} r`], 'not closed while the load runs')
  answer(-17)
  const err = (await p.then(() => null, (e: unknown) => e)) as SysError
  t.match(err, { code: 'EEXIST', syscall: 'finit_module', path: KO })
  t.same(log, [`open ${KO} r`, 'close 42'])
})

t.test('finitModuleAsync: a missing file is an open error, without a syscall', async (t) => {
  const { shim, calls } = fakeShim()
  const missing = join(t.testdir(), 'missing.ko')
  await t.rejects(makeSys(shim).finitModuleAsync(missing), { code: 'ENOENT', syscall: 'open', path: missing })
  t.equal(calls.length, 0)
})

t.test('a rejected signature reads as EKEYREJECTED', async (t) => {
  const dir = t.testdir()
  writeFileSync(join(dir, 'a.ko'), '')
  const { shim } = fakeShim({ finitModule: -129 })
  const err = t.throws(() => makeSys(shim).finitModule(join(dir, 'a.ko'))) as SysError
  t.match(err, { errno: 129, code: 'EKEYREJECTED', message: /Key was rejected by service/ })
})

t.test('initModule passes the bytes and names the path when given', async (t) => {
  const { shim, calls } = fakeShim({ initModule: -8 })
  const image = new Uint8Array([0x7f, 0x45, 0x4c, 0x46])
  const err = t.throws(() => makeSys(shim).initModule(image, 'a=1', 'x.ko.xz')) as SysError
  t.same(calls, [['initModule', image, 'a=1']])
  t.match(err, { code: 'ENOEXEC', syscall: 'init_module', path: 'x.ko.xz' })
  const bare = t.throws(() => makeSys(shim).initModule(image)) as SysError
  t.equal(bare.path, undefined)
  t.equal(bare.message, 'init_module: ENOEXEC (Exec format error)')
})

t.test('deleteModule defaults to O_NONBLOCK and names the module', async (t) => {
  const { shim, calls } = fakeShim({ deleteModule: -16 })
  const sys = makeSys(shim)
  t.throws(() => sys.deleteModule('ext4'), { code: 'EBUSY', syscall: 'delete_module', path: 'ext4' })
  t.throws(() => sys.deleteModule('ext4', O_NONBLOCK | O_TRUNC))
  t.same(calls, [
    ['deleteModule', 'ext4', 0o4000],
    ['deleteModule', 'ext4', 0o5000],
  ])
})

t.test('mount passes nulls through and describes the mount in the message', async (t) => {
  const { shim, calls } = fakeShim({ mount: -19 })
  const sys = makeSys(shim)
  const err = t.throws(() => sys.mount('/dev/vda1', '/sysroot', 'ext4', MS_RDONLY, 'errors=remount-ro')) as SysError
  t.match(err, { errno: 19, code: 'ENODEV', syscall: 'mount', path: '/sysroot' })
  t.equal(err.message, 'mount /dev/vda1 on /sysroot type ext4: ENODEV (No such device)')
  t.throws(() => sys.mount(null, '/sysroot', null, MS_MOVE))
  t.same(calls, [
    ['mount', '/dev/vda1', '/sysroot', 'ext4', 1, 'errors=remount-ro'],
    ['mount', null, '/sysroot', null, 8192, null],
  ])
  t.doesNotThrow(() => makeSys(fakeShim().shim).mount('proc', '/proc', 'proc'))
})

t.test('umount2, chroot and pivotRoot carry their paths', async (t) => {
  const { shim, calls } = fakeShim({ umount2: -16, chroot: -2, pivotRoot: -22 })
  const sys = makeSys(shim)
  t.throws(() => sys.umount2('/proc', 2), { code: 'EBUSY', syscall: 'umount2', path: '/proc' })
  t.throws(() => sys.chroot('/new'), { code: 'ENOENT', syscall: 'chroot', path: '/new' })
  const pr = t.throws(() => sys.pivotRoot('/new', '/new/old')) as SysError
  t.match(pr, { code: 'EINVAL', syscall: 'pivot_root', path: '/new' })
  t.equal(pr.message, 'pivot_root /new /new/old: EINVAL (Invalid argument)')
  t.same(calls, [
    ['umount2', '/proc', 2],
    ['chroot', '/new'],
    ['pivotRoot', '/new', '/new/old'],
  ])
})

t.test('reboot passes the command; a refusal has no path', async (t) => {
  const { shim, calls } = fakeShim({ reboot: -1 })
  const sys = makeSys(shim)
  const err = t.throws(() => sys.reboot(REBOOT.POWER_OFF)) as SysError
  t.equal(err.message, 'reboot: EPERM (Operation not permitted)')
  t.equal(err.path, undefined)
  t.notOk('path' in err, 'no path property, as in Node errors')
  sys.sync()
  t.same(calls, [['reboot', 0x4321fedc], ['sync']])
})

t.test('uevent socket: fd, EAGAIN as null, other errors thrown', async (t) => {
  const ok = makeSys(fakeShim({ ueventSocket: 7, recv: 312, poll: 1 }).shim)
  t.equal(ok.ueventSocket(), 7)
  t.equal(ok.recv(7, new Uint8Array(4096)), 312)
  t.equal(ok.poll(7, 100), true)

  const idle = makeSys(fakeShim({ recv: -11, poll: 0 }).shim)
  t.equal(idle.recv(7, new Uint8Array(16)), null)
  t.equal(idle.poll(7, 100), false)
  t.equal(makeSys(fakeShim({ poll: -4 }).shim).poll(7, 100), false, 'EINTR is a wake-up')

  const bad = makeSys(fakeShim({ ueventSocket: -93, recv: -9, poll: -9 }).shim)
  t.throws(() => bad.ueventSocket(), {
    code: 'EPROTONOSUPPORT',
    syscall: 'socket',
    message: 'socket NETLINK_KOBJECT_UEVENT: EPROTONOSUPPORT (Protocol not supported)',
  })
  t.throws(() => bad.recv(7, new Uint8Array(16)), { code: 'EBADF', syscall: 'recv' })
  t.throws(() => bad.poll(7, 0), { code: 'EBADF', syscall: 'poll' })
})

t.test('errno names: canonical aliases, Linux-only key errors, unknown numbers', async (t) => {
  t.equal(errnoCode(11), 'EAGAIN')
  t.equal(errnoCode(95), 'EOPNOTSUPP')
  t.equal(errnoCode(126), 'ENOKEY')
  t.equal(errnoCode(129), 'EKEYREJECTED')
  t.equal(errnoCode(74), 'EBADMSG')
  t.equal(errnoCode(110), 'ETIMEDOUT')
  t.equal(errnoCode(9999), 'UNKNOWN')
  t.equal(strerror(95), 'Operation not supported')
  t.equal(strerror(12), 'Cannot allocate memory')
  t.equal(strerror(9999), 'errno 9999')
  const err = new SysError('finit_module', 9999, 'x.ko')
  t.equal(err.message, 'finit_module x.ko: UNKNOWN (errno 9999)')
  t.equal(err.errno, 9999)
  for (const n of [1, 2, 8, 12, 13, 14, 16, 17, 19, 22, 28, 65, 74, 95, 110, 126, 129]) {
    t.not(strerror(n), `errno ${n}`, `${errnoCode(n)} has a text`)
  }
})

t.test('constants have the kernel values', async (t) => {
  t.same(
    [MODULE_INIT_IGNORE_MODVERSIONS, MODULE_INIT_IGNORE_VERMAGIC, MODULE_INIT_COMPRESSED_FILE],
    [1, 2, 4],
  )
  t.same([O_NONBLOCK, O_TRUNC], [2048, 512])
  t.same([MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_MOVE, MS_REC], [1, 2, 4, 8, 4096, 8192, 16384])
  t.same(REBOOT, { POWER_OFF: 0x4321fedc, RESTART: 0x01234567, HALT: 0xcdef0123 })
})

t.test('exitNow goes to the shim', async (t) => {
  const calls: number[] = []
  const shim = { exitNow: (code: number) => calls.push(code) as never } as unknown as RawShim
  // the fake returns, as _exit never does; makeSys then falls back to process.exit, stubbed here
  const exit = process.exit
  t.teardown(() => void (process.exit = exit))
  process.exit = ((c: number) => calls.push(100 + c)) as never
  makeSys(shim).exitNow(3)
  t.same(calls, [3, 103])
})
