// The kernel command line's root options (src/init/root/options.ts).
import t from 'tap'
import { parseRootOptions, parseRootSpec, rootRequested, describeSpec, DEFAULT_WAIT_MS } from '../src/init/root/options.js'

t.test('root= forms', async (t) => {
  t.same(parseRootSpec('/dev/vda'), { kind: 'name', name: 'vda' })
  t.same(parseRootSpec('/dev/nvme0n1p2'), { kind: 'name', name: 'nvme0n1p2' })
  t.same(parseRootSpec('/dev/cciss/c0d0p1'), { kind: 'name', name: 'cciss!c0d0p1' }, "a '/' in a device name is '!' in sysfs")
  t.same(parseRootSpec('UUID=6D0C9A51-7E0B-4F6E-9A3C-5B1F00C0FFEE'), { kind: 'uuid', value: '6D0C9A51-7E0B-4F6E-9A3C-5B1F00C0FFEE' })
  t.same(parseRootSpec('uuid=abc'), { kind: 'uuid', value: 'abc' })
  t.same(parseRootSpec('LABEL=my root'), { kind: 'label', value: 'my root' })
  t.same(parseRootSpec('PARTUUID=0a1b2c3d-01'), { kind: 'partuuid', value: '0a1b2c3d-01' })
  t.same(parseRootSpec('/dev/disk/by-uuid/abc'), { kind: 'uuid', value: 'abc' })
  t.same(parseRootSpec('/dev/disk/by-label/r'), { kind: 'label', value: 'r' })
  t.same(parseRootSpec('/dev/disk/by-partuuid/p'), { kind: 'partuuid', value: 'p' })
  t.same(parseRootSpec('8:1'), { kind: 'devnum', major: 8, minor: 1 })
  t.equal(parseRootSpec('UUID='), null)
  t.equal(parseRootSpec('FOO=bar'), null)
  t.equal(parseRootSpec('vda'), null)
  t.equal(parseRootSpec('/dev/'), null)
  t.equal(describeSpec({ kind: 'name', name: 'cciss!c0d0p1' }), '/dev/cciss/c0d0p1')
  t.equal(describeSpec({ kind: 'devnum', major: 259, minor: 0 }), '259:0')
})

t.test('defaults: read-only, the kernel init list, 30 s wait, wait on failure', async (t) => {
  const o = parseRootOptions('console=ttyS0 root=/dev/vda quiet')
  t.same(o, {
    rootText: '/dev/vda',
    root: { kind: 'name', name: 'vda' },
    fstypes: [],
    flags: null,
    readOnly: true,
    init: null,
    initArgs: [],
    waitMs: DEFAULT_WAIT_MS,
    delayMs: 0,
    onFail: 'wait',
    warnings: [],
  })
  t.ok(rootRequested('root=/dev/vda'))
  t.notOk(rootRequested('console=ttyS0 modload.halt'))
  t.notOk(rootRequested('root='))
})

t.test('every option', async (t) => {
  const o = parseRootOptions(
    'root=LABEL=r rootfstype=xfs,ext4 rootflags=data=journal,noatime rw init=/lib/systemd/systemd rootdelay=2 modload.timeout=7 modload.onfail=reboot -- single ro',
  )
  t.same(o.root, { kind: 'label', value: 'r' })
  t.same(o.fstypes, ['xfs', 'ext4'])
  t.equal(o.flags, 'data=journal,noatime')
  t.equal(o.readOnly, false, 'rw; the ro after -- is for init')
  t.equal(o.init, '/lib/systemd/systemd')
  t.same(o.initArgs, ['single', 'ro'])
  t.equal(o.delayMs, 2000)
  t.equal(o.waitMs, 7000)
  t.equal(o.onFail, 'reboot')
  t.same(o.warnings, [])
})

t.test('ro and rw: the last one wins', async (t) => {
  t.equal(parseRootOptions('root=/dev/sda1 rw ro').readOnly, true)
  t.equal(parseRootOptions('root=/dev/sda1 ro rw').readOnly, false)
})

t.test('rootwait: forever, or rootwait=S seconds', async (t) => {
  t.equal(parseRootOptions('root=/dev/sda1 rootwait modload.timeout=3').waitMs, null)
  t.equal(parseRootOptions('root=/dev/sda1 rootwait=12').waitMs, 12000)
})

t.test('bad values are warnings, never fatal', async (t) => {
  const o = parseRootOptions('root=sda1 init=sbin/init modload.onfail=explode modload.timeout=soon rootdelay=-1')
  t.equal(o.root, null)
  t.equal(o.init, null)
  t.equal(o.onFail, 'wait')
  t.equal(o.waitMs, DEFAULT_WAIT_MS)
  t.equal(o.delayMs, 0)
  t.same(o.warnings, [
    'root=sda1 is not a device path, MAJ:MIN, UUID=, LABEL= or PARTUUID=',
    'init=sbin/init is not an absolute path; using the default list',
    'modload.onfail=explode is not one of poweroff, reboot, halt, wait; waiting instead',
    'modload.timeout=soon is not a number of seconds; ignored',
    'rootdelay=-1 is not a number of seconds; ignored',
  ])
})
