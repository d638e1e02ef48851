// The hand-over's decisions (src/init/root/handover.ts, find-init.ts, switch-root.ts,
// devices.ts) against fakes: block devices that appear late, a fake clock, a fake shim that
// records mounts and reboots, an in-memory new root, a recording execve.
import t from 'tap'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, lstatSync, readdirSync, rmdirSync, unlinkSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CONSOLE_DRAIN_MS } from '../src/init/log.js'
import { handOver, NEW_ROOT, REMIND_MS, RootError, type HandOverEnv } from '../src/init/root/handover.js'
import { parseRootOptions } from '../src/init/root/options.js'
import type { BlockDevice } from '../src/init/root/devices.js'
import { elfInterpreter, findInit, resolveIn, shebang, type InitFs } from '../src/init/root/find-init.js'
import { deleteTree, switchRoot, type SwitchEnv } from '../src/init/root/switch-root.js'
import { initEnviron, parseFilesystems } from '../src/init/root/run.js'
import { MNT_DETACH, MS_MOVE, MS_RDONLY, MS_SILENT, REBOOT, SysError } from '../src/sys/syscalls.js'

const UUID = '6d0c9a51-7e0b-4f6e-9a3c-5b1f00c0ffee'

/** The first 68 KiB of a device holding ext4 with UUID and label. */
function ext4(uuid = UUID, label = 'rootfs'): Uint8Array {
  const b = new Uint8Array(2048)
  const v = new DataView(b.buffer)
  v.setUint16(1024 + 56, 0xef53, true)
  v.setUint32(1024 + 92, 0x4, true) // has_journal
  v.setUint32(1024 + 96, 0x40, true) // extents
  b.set(Buffer.from(uuid.replaceAll('-', ''), 'hex'), 1024 + 104)
  b.set(Buffer.from(label), 1024 + 120)
  return b
}

function mbr(signature: number): Uint8Array {
  const b = new Uint8Array(512)
  b[510] = 0x55
  b[511] = 0xaa
  new DataView(b.buffer).setUint32(440, signature, true)
  b[446 + 4] = 0x83
  return b
}

interface FakeDisk {
  dev: BlockDevice
  bytes: Uint8Array
  /** poll number from which the device is listed */
  from?: number
}

type Call = [string, ...unknown[]]

interface FileNode {
  kind: 'file' | 'dir' | 'link'
  mode?: number
  data?: string | Uint8Array
  target?: string
}

function memFs(files: Record<string, FileNode>): InitFs {
  return {
    lstat: (p) => {
      const n = files[p] ?? (Object.keys(files).some((k) => k.startsWith(`${p}/`)) ? { kind: 'dir' as const } : undefined)
      return n ? { kind: n.kind, mode: n.mode ?? 0o755 } : null
    },
    readlink: (p) => files[p]?.target ?? '',
    head: (p, n) => {
      const d = files[p]?.data ?? ''
      return (typeof d === 'string' ? Buffer.from(d) : d).subarray(0, n)
    },
  }
}

const STATIC_ELF = readFileSync('/bin/busybox').subarray(0, 4096) // busybox-static: an ELF without PT_INTERP

function fakeEnv(opts: { disks?: FakeDisk[]; files?: Record<string, FileNode>; fail?: Partial<Record<string, Error>>; noExecve?: boolean } = {}) {
  const calls: Call[] = []
  const logs: string[] = []
  const repeats: { ms: number; fn: () => void }[] = []
  let clock = 0
  let polls = 0
  const disks = opts.disks ?? [{ dev: { name: 'vda', devnum: '254:0', sectors: 32768, sectorSize: 512 }, bytes: ext4() }]
  const fail = opts.fail ?? {}
  const maybeFail = (what: string): void => {
    const e = fail[what]
    if (e) throw e
  }
  const switchEnv: SwitchEnv = {
    sys: {
      mount: (...a) => {
        calls.push(['switch-mount', ...a])
        maybeFail(`mount ${a[0]}`)
      },
      umount2: (...a) => void calls.push(['switch-umount2', ...a]),
      chroot: (p) => void calls.push(['chroot', p]),
    },
    log: (l) => void logs.push(l),
    chdir: (p) => void calls.push(['chdir', p]),
    isDir: (p) => p !== `${NEW_ROOT}/run`,
    fsType: () => 0x01021994,
    dev: () => 1,
    deleteTree: (d, dev) => {
      calls.push(['deleteTree', d, dev])
      return { removed: 42, failed: 0 }
    },
  }
  const env: HandOverEnv = {
    sys: {
      mount: (...a) => {
        calls.push(['mount', ...a])
        maybeFail(`mount ${a[2]}`)
      },
      umount2: (...a) => void calls.push(['umount2', ...a]),
      reboot: (cmd) => {
        calls.push(['reboot', cmd])
        maybeFail('reboot')
      },
      sync: () => void calls.push(['sync']),
    },
    log: (l) => void logs.push(l),
    now: () => clock,
    sleep: async (ms) => {
      clock += ms
    },
    repeat: (ms, fn) => void repeats.push({ ms, fn }),
    blocks: {
      list: () => {
        polls++
        return disks.filter((d) => (d.from ?? 0) < polls).map((d) => d.dev)
      },
      read: (name, n) => {
        const d = disks.find((x) => x.dev.name === name)
        if (!d) throw new SysError('open', 2, `/dev/${name}`)
        return d.bytes.subarray(0, n)
      },
    },
    filesystems: () => [
      { type: 'sysfs', nodev: true },
      { type: 'ext4', nodev: false },
      { type: 'vfat', nodev: false },
    ],
    loadFilesystem: async (type) => {
      calls.push(['load', type])
      maybeFail(`load ${type}`)
      return type === 'ext4' ? ['crc32c_generic', 'jbd2', 'mbcache', 'crc16', 'ext4'] : []
    },
    mkdir: (p) => void calls.push(['mkdir', p]),
    initFs: memFs(opts.files ?? { [`${NEW_ROOT}/sbin/init`]: { kind: 'file', mode: 0o755, data: '#!/bin/sh\n' }, [`${NEW_ROOT}/bin/sh`]: { kind: 'file', data: STATIC_ELF } }),
    execve: opts.noExecve
      ? undefined
      : (((file: string, args: string[]) => {
          calls.push(['execve', file, args])
        }) as unknown as HandOverEnv['execve']),
    environ: { HOME: '/', TERM: 'linux' },
    switchEnv,
    freeInitramfs: true,
  }
  return { env, calls, logs, repeats, polls: () => polls, clock: () => clock }
}

t.test('success: a late disk by UUID, ext4 detected and loaded, mounted ro, switched, exec', async (t) => {
  const f = fakeEnv({ disks: [{ dev: { name: 'vda', devnum: '254:0', sectors: 32768, sectorSize: 512 }, bytes: ext4(), from: 3 }] })
  const out = await handOver(f.env, parseRootOptions(`root=UUID=${UUID.toUpperCase()} -- single`))
  t.same(out, { kind: 'exec', init: '/sbin/init', args: ['/sbin/init', 'single'] })
  t.same(f.calls, [
    ['mkdir', NEW_ROOT],
    ['load', 'ext4'],
    ['mount', '/dev/vda', NEW_ROOT, 'ext4', MS_RDONLY | MS_SILENT, null],
    ['switch-mount', '/dev', `${NEW_ROOT}/dev`, null, MS_MOVE, null],
    ['switch-mount', '/proc', `${NEW_ROOT}/proc`, null, MS_MOVE, null],
    ['switch-mount', '/sys', `${NEW_ROOT}/sys`, null, MS_MOVE, null],
    ['switch-umount2', '/run', MNT_DETACH],
    ['chdir', NEW_ROOT],
    ['deleteTree', '/', 1],
    ['switch-mount', '.', '/', null, MS_MOVE, null],
    ['chroot', '.'],
    ['chdir', '/'],
    ['execve', '/sbin/init', ['/sbin/init', 'single']],
  ])
  t.equal(f.polls(), 4, 'polled until the device was listed')
  t.same(f.logs, [
    `root: waiting for UUID=${UUID.toUpperCase()} (up to 30.0 s)`,
    `root: found UUID=${UUID.toUpperCase()}: vda (ext4 UUID=${UUID} LABEL=rootfs) after 0.3 s`,
    'root: filesystem ext4: loaded crc32c_generic jbd2 mbcache crc16 ext4',
    `root: mounted /dev/vda on ${NEW_ROOT} type ext4 (ro)`,
    'root: switching root to /dev/vda, exec /sbin/init',
    'root: warning: /run does not exist in the root filesystem; detaching it',
    'root: freed the initramfs: 42 entries removed',
  ])
})

t.test('rw, rootflags, LABEL, and a device path needing no superblock match', async (t) => {
  const f = fakeEnv()
  await handOver(f.env, parseRootOptions('root=LABEL=rootfs rw rootflags=noatime'))
  t.same(f.calls.find((c) => c[0] === 'mount'), ['mount', '/dev/vda', NEW_ROOT, 'ext4', MS_SILENT, 'noatime'])
  t.ok(f.logs.includes(`root: mounted /dev/vda on ${NEW_ROOT} type ext4 (rw,noatime)`))
  const g = fakeEnv()
  const out = await handOver(g.env, parseRootOptions('root=/dev/vda'))
  t.equal(out.kind, 'exec')
  t.notOk(g.logs.some((l) => l.startsWith('root: waiting')), 'present at once: no waiting line')
})

t.test('PARTUUID from an MBR disk, and 8:1', async (t) => {
  const disk = new Uint8Array(4096)
  disk.set(mbr(0x0a1b2c3d))
  const disks: FakeDisk[] = [
    { dev: { name: 'sda', devnum: '8:0', sectors: 65536, sectorSize: 512 }, bytes: disk },
    { dev: { name: 'sda1', devnum: '8:1', sectors: 32768, sectorSize: 512, partition: { number: 1, disk: 'sda' } }, bytes: ext4() },
  ]
  const f = fakeEnv({ disks })
  t.equal((await handOver(f.env, parseRootOptions('root=PARTUUID=0A1B2C3D-01'))).kind, 'exec')
  t.ok(f.logs.includes(`root: found PARTUUID=0A1B2C3D-01: sda1 (ext4 UUID=${UUID} LABEL=rootfs PARTUUID=0a1b2c3d-01) after 0.0 s`))
  const g = fakeEnv({ disks })
  await handOver(g.env, parseRootOptions('root=8:1'))
  t.same(g.calls.find((c) => c[0] === 'mount')?.[1], '/dev/sda1')
})

t.test('missing device: the message lists what exists; onfail=poweroff powers off', async (t) => {
  const disks: FakeDisk[] = [
    { dev: { name: 'sr0', devnum: '11:0', sectors: 0, sectorSize: 2048 }, bytes: new Uint8Array(0) },
    { dev: { name: 'vda', devnum: '254:0', sectors: 32768, sectorSize: 512 }, bytes: ext4() },
  ]
  const f = fakeEnv({ disks })
  const out = await handOver(f.env, parseRootOptions('root=UUID=00000000-1111-2222-3333-444444444444 modload.timeout=5 modload.onfail=poweroff'))
  t.equal(out.kind, 'failed')
  if (out.kind !== 'failed') return
  t.equal(out.action, 'poweroff')
  t.equal(out.error.stage, 'device')
  t.equal(out.error.code, 'ENODEV')
  t.equal(
    out.error.message,
    `root device UUID=00000000-1111-2222-3333-444444444444 did not appear within 5.0 s; block devices: sr0 (no filesystem), vda (ext4 UUID=${UUID} LABEL=rootfs). ` +
      `Check root= and that the initramfs has the disk's driver (rootwait waits forever, modload.timeout=S sets the wait)`,
  )
  t.same(f.calls.slice(-2), [['sync'], ['reboot', REBOOT.POWER_OFF]])
  t.ok(f.logs.includes('root: modload.onfail=poweroff: powering off'))
  t.equal(f.clock(), 5000 + CONSOLE_DRAIN_MS, 'gave up at the timeout, then gave the console time to write the reason out, by the fake clock')
  t.notOk(f.calls.some((c) => c[0] === 'mount'), 'nothing mounted')
})

t.test('onfail: reboot and halt; default wait repeats the reason; a refused reboot waits', async (t) => {
  for (const [action, cmd] of [['reboot', REBOOT.RESTART], ['halt', REBOOT.HALT]] as const) {
    const f = fakeEnv()
    const out = await handOver(f.env, parseRootOptions(`root=/dev/nope modload.timeout=1 modload.onfail=${action}`))
    t.equal(out.kind === 'failed' && out.action, action)
    t.same(f.calls.at(-1), ['reboot', cmd])
  }
  const w = fakeEnv()
  const out = await handOver(w.env, parseRootOptions('root=/dev/nope modload.timeout=1'))
  t.equal(out.kind === 'failed' && out.action, 'wait')
  t.notOk(w.calls.some((c) => c[0] === 'reboot'), 'no reboot')
  t.equal(w.repeats.length, 1)
  t.equal(w.repeats[0].ms, REMIND_MS)
  const before = w.logs.length
  w.repeats[0].fn()
  t.same(w.logs.slice(before), [
    'root: error: root device /dev/nope did not appear within 1.0 s; block devices: vda (ext4 UUID=6d0c9a51-7e0b-4f6e-9a3c-5b1f00c0ffee LABEL=rootfs). Check root= and that the initramfs has the disk\'s driver (rootwait waits forever, modload.timeout=S sets the wait)',
    'root: waiting: the root hand-over failed (device: ENODEV); boot with modload.onfail=poweroff|reboot|halt to act instead',
  ])
  const r = fakeEnv({ fail: { reboot: new SysError('reboot', 1) } })
  const o2 = await handOver(r.env, parseRootOptions('root=/dev/nope modload.timeout=0 modload.onfail=poweroff'))
  t.equal(o2.kind === 'failed' && o2.action, 'wait')
  t.ok(r.logs.includes('root: error: poweroff failed: reboot: EPERM (Operation not permitted); waiting instead'))
  t.equal(r.repeats.length, 1)
})

t.test('rootwait: no limit, a reminder every REMIND_MS; rootdelay sleeps first', async (t) => {
  const f = fakeEnv({ disks: [{ dev: { name: 'vda', devnum: '254:0', sectors: 32768, sectorSize: 512 }, bytes: ext4(), from: 700 }] })
  const out = await handOver(f.env, parseRootOptions('root=/dev/vda rootwait rootdelay=1'))
  t.equal(out.kind, 'exec')
  t.same(
    f.logs.filter((l) => l.includes('wait')),
    ['root: rootdelay: waiting 1.0 s', 'root: waiting for /dev/vda (rootwait: no limit)', 'root: still waiting for /dev/vda after 30.0 s', 'root: still waiting for /dev/vda after 60.0 s'],
  )
})

t.test('no init: every path tried is named; the root is unmounted again', async (t) => {
  const f = fakeEnv({
    files: {
      [`${NEW_ROOT}/sbin/init`]: { kind: 'link', target: '/lib/systemd/systemd' },
      [`${NEW_ROOT}/etc/init`]: { kind: 'file', mode: 0o644, data: '#!/bin/sh\n' },
      [`${NEW_ROOT}/bin/init`]: { kind: 'file', mode: 0o755, data: '#!/usr/bin/python3\n' },
      [`${NEW_ROOT}/bin/sh`]: { kind: 'file', mode: 0o755, data: 'echo hi\n' },
    },
  })
  const out = await handOver(f.env, parseRootOptions('root=/dev/vda modload.onfail=poweroff'))
  t.equal(out.kind === 'failed' && out.error.stage, 'init')
  t.ok(
    f.logs.includes(
      'root: error: no init to run on /dev/vda: tried /sbin/init: missing; /etc/init: not executable (mode 0644); ' +
        '/bin/init: its interpreter /usr/bin/python3 is missing; /bin/sh: neither an ELF executable nor a #! script; ' +
        'pass init=PATH or install an init in the root filesystem',
    ),
  )
  t.ok(f.calls.some((c) => c[0] === 'umount2' && c[1] === NEW_ROOT), 'the root is unmounted')
  t.notOk(f.calls.some((c) => c[0] === 'execve' || c[0] === 'chroot'), 'no switch, no exec')

  const g = fakeEnv()
  const o2 = await handOver(g.env, parseRootOptions('root=/dev/vda init=/sbin/custom'))
  t.ok(g.logs.includes('root: error: no init to run on /dev/vda: tried /sbin/custom: missing; fix init= or the root filesystem'), 'init= is the only one tried')
  t.equal(o2.kind === 'failed' && o2.action, 'wait')
})

t.test('init through an absolute symbolic link inside the new root; skipped ones are logged', async (t) => {
  const f = fakeEnv({
    files: {
      [`${NEW_ROOT}/sbin/init`]: { kind: 'link', target: '../lib/systemd/systemd' },
      [`${NEW_ROOT}/lib`]: { kind: 'link', target: '/usr/lib' },
      [`${NEW_ROOT}/usr/lib/systemd/systemd`]: { kind: 'file', mode: 0o755, data: STATIC_ELF },
    },
  })
  t.same(await handOver(f.env, parseRootOptions('root=/dev/vda')), { kind: 'exec', init: '/sbin/init', args: ['/sbin/init'] })
})

t.test('filesystem module missing, mount failures, rootfstype lists', async (t) => {
  const f = fakeEnv({ fail: { 'load ext4': new RootError('filesystem', 'ENOENT', 'the kernel has no ext4 filesystem and no module provides it') } })
  const out = await handOver(f.env, parseRootOptions('root=/dev/vda modload.onfail=halt'))
  t.equal(out.kind === 'failed' && out.error.stage, 'filesystem')
  t.ok(f.logs.includes('root: error: the kernel has no ext4 filesystem and no module provides it'))

  const g = fakeEnv({ fail: { 'mount xfs': new SysError('mount', 22, NEW_ROOT, `/dev/vda on ${NEW_ROOT} type xfs`) } })
  t.equal((await handOver(g.env, parseRootOptions('root=/dev/vda rootfstype=xfs,ext4'))).kind, 'exec', 'the second type mounts')
  t.same(g.calls.filter((c) => c[0] === 'mount').map((c) => c[3]), ['xfs', 'ext4'])

  const h = fakeEnv({ fail: { 'mount ext4': new SysError('mount', 22, NEW_ROOT, `/dev/vda on ${NEW_ROOT} type ext4`) } })
  const o3 = await handOver(h.env, parseRootOptions('root=/dev/vda'))
  t.equal(o3.kind === 'failed' && o3.error.message, `cannot mount root device /dev/vda: ext4: mount /dev/vda on ${NEW_ROOT} type ext4: EINVAL (Invalid argument)`)

  // no superblock we know: every block filesystem of /proc/filesystems, in order
  const i = fakeEnv({ disks: [{ dev: { name: 'vda', devnum: '254:0', sectors: 8, sectorSize: 512 }, bytes: new Uint8Array(4096) }] })
  await handOver(i.env, parseRootOptions('root=/dev/vda'))
  t.same(i.calls.filter((c) => c[0] === 'mount').map((c) => c[3]), ['ext4'])
  t.same(i.calls.filter((c) => c[0] === 'load').map((c) => c[1]), ['ext4'])

  const s = fakeEnv({ disks: [{ dev: { name: 'vda', devnum: '254:0', sectors: 8, sectorSize: 512 }, bytes: (() => { const b = new Uint8Array(4096); b.set(Buffer.from('SWAPSPACE2'), 4086); return b })() }] })
  const o4 = await handOver(s.env, parseRootOptions('root=/dev/vda'))
  t.equal(o4.kind === 'failed' && o4.error.message, 'root device /dev/vda holds swap, not a filesystem to mount')
})

t.test('no process.execve: said before anything else is done', async (t) => {
  const f = fakeEnv({ noExecve: true })
  const out = await handOver(f.env, parseRootOptions('root=/dev/vda'))
  t.equal(out.kind === 'failed' && out.error.code, 'ENOSYS')
  t.match(f.logs[0], /^root: error: this runtime \(Node .+\) has no process.execve, needed to start init; modload must be built on Node 22.15 or later$/)
  t.same(f.calls, [], 'nothing mounted or moved')
})

t.test('switch: a failed move of the root is a switch error; warnings are logged', async (t) => {
  const f = fakeEnv({ fail: { 'mount .': new SysError('mount', 16, '/', '. on / type none') } })
  const out = await handOver(f.env, parseRootOptions('root=/dev/vda modload.onfail=poweroff'))
  t.equal(out.kind === 'failed' && out.error.stage, 'switch')
  t.equal(out.kind === 'failed' && out.error.code, 'EBUSY')
  t.notOk(f.calls.some((c) => c[0] === 'execve'))
  t.same(f.calls.at(-1), ['reboot', REBOOT.POWER_OFF])
})

t.test('switchRoot keeps the initramfs when / is not ramfs or tmpfs', async (t) => {
  const f = fakeEnv()
  const logs: string[] = []
  switchRoot({ ...f.env.switchEnv, log: (l) => void logs.push(l), fsType: () => 0xef53 }, { newRoot: NEW_ROOT, freeInitramfs: true })
  t.notOk(f.calls.some((c) => c[0] === 'deleteTree'))
  t.ok(logs.includes('root: / is not a ramfs or tmpfs (f_type 0xef53); the initramfs is left in place'))
})

t.test('deleteTree removes one device and stops at mount points', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'modload-tree-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const d of ['lib/modules/x', 'root/sbin', 'usr/bin']) mkdirSync(path.join(dir, d), { recursive: true })
  writeFileSync(path.join(dir, 'init'), 'x')
  writeFileSync(path.join(dir, 'lib/modules/x/a.ko'), 'x')
  writeFileSync(path.join(dir, 'root/sbin/init'), 'keep')
  const mounted = path.join(dir, 'root')
  const dev = lstatSync(dir).dev
  const fs = {
    readdirSync: (p: string) => readdirSync(p),
    lstatSync: (p: string) => {
      const st = lstatSync(p)
      return { dev: p === mounted ? dev + 1 : st.dev, isDirectory: () => st.isDirectory() }
    },
    rmdirSync: (p: string) => rmdirSync(p),
    unlinkSync: (p: string) => unlinkSync(p),
  }
  const tally = deleteTree(dir, dev, fs)
  t.same(readdirSync(dir), ['root'])
  t.ok(existsSync(path.join(dir, 'root/sbin/init')), 'the other mount is untouched')
  t.same(tally, { removed: 7, failed: 0 }, 'init, lib, lib/modules, lib/modules/x, a.ko, usr, usr/bin')
})

t.test('find-init helpers: ELF interpreter, #!, confined symbolic links', async (t) => {
  const ls = readFileSync('/bin/ls')
  t.match(elfInterpreter(ls) ?? '', /^\/lib64\/ld-linux-x86-64\.so\.2$|ld-linux/, 'a dynamic executable names its loader')
  t.equal(elfInterpreter(Buffer.from('#!/bin/sh\n'.padEnd(80))), undefined)
  t.equal(shebang(Buffer.from('#! /bin/busybox sh\n')), '/bin/busybox')
  t.equal(shebang(Buffer.from('\x7fELF')), undefined)
  const fs = memFs({
    '/r/bin': { kind: 'link', target: 'usr/bin' },
    '/r/usr/bin/sh': { kind: 'link', target: '/../../../usr/bin/dash' },
    '/r/usr/bin/dash': { kind: 'file', data: STATIC_ELF },
    '/r/loop': { kind: 'link', target: '/loop' },
  })
  t.equal(resolveIn(fs, '/r', '/bin/sh'), '/r/usr/bin/dash', "'..' cannot climb out of the root")
  t.equal(resolveIn(fs, '/r', '/loop'), null, 'a loop ends')
  t.equal(resolveIn(fs, '/r', '/nope/sh'), null)
  t.same(findInit(fs, '/r', ['/sbin/init', '/bin/sh']), { path: '/bin/sh', tried: ['/sbin/init: missing'] })
})

t.test('/proc/filesystems', async (t) => {
  t.same(parseFilesystems('nodev\tsysfs\nnodev\ttmpfs\n\text4\n\tvfat\n'), [
    { type: 'sysfs', nodev: true },
    { type: 'tmpfs', nodev: true },
    { type: 'ext4', nodev: false },
    { type: 'vfat', nodev: false },
  ])
})

t.test('a device that cannot be read yet is probed again; one that grows from 0 sectors too', async (t) => {
  const f = fakeEnv()
  let reads = 0
  const dev: BlockDevice = { name: 'sr0', devnum: '11:0', sectors: 0, sectorSize: 2048 }
  f.env.blocks = {
    list: () => {
      reads++
      if (reads >= 3) dev.sectors = 8192
      return [{ ...dev }]
    },
    read: (_name, n) => {
      if (reads < 5) throw new SysError('open', 123, '/dev/sr0')
      return ext4().subarray(0, n)
    },
  }
  const out = await handOver(f.env, parseRootOptions(`root=UUID=${UUID}`))
  t.equal(out.kind, 'exec')
  t.equal(reads, 5, 'found on the first poll where the medium could be read')
  t.same(f.calls.find((c) => c[0] === 'mount')?.[1], '/dev/sr0')
  const g = fakeEnv()
  g.env.blocks = { list: () => [{ ...dev, sectors: 8 }], read: () => { throw new SysError('open', 5, '/dev/sr0') } }
  const o2 = await handOver(g.env, parseRootOptions(`root=UUID=${UUID} rootwait=1`))
  t.match(o2.kind === 'failed' && o2.error.message, /block devices: sr0 \(unreadable: open \/dev\/sr0: EIO \(Input\/output error\)\)/)
})

t.test("init's environment: the kernel's, without the runtime's additions", async (t) => {
  t.same(initEnviron({ HOME: '/', TERM: 'linux', UV_THREADPOOL_SIZE: '16', NODE_OPTIONS: '--x', PKG_EXECPATH: 'y', LANG: 'C' }), { HOME: '/', TERM: 'linux', LANG: 'C' })
})
