import t from 'tap'
import { buildModuleDb, loadOrder, resolve, modulePath } from '../src/core/moddb.js'
import { parseModulesDep } from '../src/format/modules-dep.js'

const dep = `kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/block/virtio_blk.ko.xz:
kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko kernel/fs/mbcache.ko kernel/lib/crc16.ko
kernel/fs/jbd2/jbd2.ko:
kernel/fs/mbcache.ko:
kernel/lib/crc16.ko:
kernel/drivers/x/snd-dummy.ko:
`
const db = buildModuleDb('/lib/modules/6.1.0-1-amd64', {
  dep,
  alias: 'alias virtio:d00000001v* virtio_net\nalias fs-ext4 ext4\n',
  builtin: 'kernel/drivers/virtio/virtio_pci.ko\n',
  builtinModinfo: 'virtio_pci.license=GPL\0virtio_pci.alias=pci:v00001AF4d*sv*sd*bc*sc*i*\0',
})

t.test('parse', async (t) => {
  const m = parseModulesDep(dep)
  t.equal(m.size, 9)
  const vb = m.get('virtio_blk')!
  t.same({ name: vb.name, path: vb.path, deps: vb.deps }, { name: 'virtio_blk', path: 'kernel/drivers/block/virtio_blk.ko.xz', deps: [] })
  t.same(m.get('virtio_net')!.deps, ['kernel/drivers/net/net_failover.ko', 'kernel/net/core/failover.ko'])
  t.ok(m.has('snd_dummy'), 'names are normalised')
  t.throws(() => parseModulesDep('ok.ko:\nbroken line\n', 'modules.dep'), /modules\.dep:2/)
})

t.test('resolve order: name, alias, builtin, builtin alias', async (t) => {
  t.same(resolve(db, 'virtio_net'), { kind: 'module', names: ['virtio_net'] })
  t.same(resolve(db, 'snd-dummy'), { kind: 'module', names: ['snd_dummy'] })
  t.same(resolve(db, 'virtio:d00000001v00001AF4'), { kind: 'module', names: ['virtio_net'] })
  t.same(resolve(db, 'virtio_pci'), { kind: 'builtin', names: ['virtio_pci'] })
  t.same(resolve(db, 'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00'), { kind: 'builtin', names: ['virtio_pci'] })
  t.same(resolve(db, 'nope'), { kind: 'none' })
})

t.test('load order puts dependencies first', async (t) => {
  const { order, missing } = loadOrder(db, 'virtio_net')
  t.same(order.map((e) => e.name), ['failover', 'net_failover', 'virtio_net'])
  t.same(missing, [])
  const ext4 = loadOrder(db, 'ext4').order.map((e) => e.name)
  t.equal(ext4.at(-1), 'ext4')
  t.same(ext4.slice().sort(), ['crc16', 'ext4', 'jbd2', 'mbcache'])
  t.equal(modulePath(db, db.modules.get('ext4')!), '/lib/modules/6.1.0-1-amd64/kernel/fs/ext4/ext4.ko')
})

t.test('a dependency without its own entry is reported', async (t) => {
  const broken = buildModuleDb('/m', { dep: 'a.ko: b.ko\n' })
  t.same(loadOrder(broken, 'a').missing, ['b'])
})

t.test('lazy modules.dep finds entries in the text, as the eager parse does', async (t) => {
  const { lazyModulesDep } = await import('../src/format/modules-dep.js')
  const text = 'kernel/a/snd-hda-intel.ko: kernel/b/snd-hda-codec.ko\nkernel/b/snd-hda-codec.ko:\nkernel/c/virtio_net.ko.xz: kernel/d/failover.ko\nkernel/d/failover.ko:\nroot.ko:\n'
  const lazy = lazyModulesDep(text)
  const eager = parseModulesDep(text)
  for (const n of ['snd_hda_intel', 'snd_hda_codec', 'virtio_net', 'failover', 'root', 'missing']) {
    t.equal(lazy.get(n)?.path, eager.get(n)?.path, n)
    t.same(lazy.get(n)?.deps, eager.get(n)?.deps, `${n} deps`)
  }
  t.equal(lazy.size, 5)
  t.same([...lazy.keys()].sort(), [...eager.keys()].sort())
  t.throws(() => lazyModulesDep('a.ko:\nbroken\n', '/m/modules.dep'), /\/m\/modules\.dep:2/)
})
