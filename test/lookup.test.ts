import t from 'tap'
import { buildModuleDb } from '../src/core/moddb.js'
import { lookup, lookupNames } from '../src/core/lookup.js'
import { parseModprobeConf } from '../src/config/modprobe-conf.js'

const db = buildModuleDb('/m', {
  dep: 'kernel/a/virtio_net.ko: kernel/a/failover.ko\nkernel/a/failover.ko:\nkernel/b/snd-dummy.ko:\n',
  alias: 'alias virtio:d00000001v* virtio_net\nalias fs-ext4 ext4\nalias virtio:d0000000?v* failover\n',
  symbols: 'alias symbol:failover_register failover\n',
  builtin: 'kernel/drivers/virtio/virtio_pci.ko\n',
  builtinModinfo: 'virtio_pci.alias=pci:v00001AF4d*\0',
})
const { config } = parseModprobeConf('alias my-* snd-dummy\ninstall fake echo\nremove gone echo\nalias virtio_net failover\n', 'c.conf')

t.test("kmod's order: config, name, symbol, command, alias, builtin, builtin alias", async (t) => {
  t.same(lookup(db, config, 'my-card'), [{ name: 'snd_dummy', alias: 'my_*', source: 'config' }])
  t.same(lookup(db, config, 'virtio_net'), [{ name: 'failover', alias: 'virtio_net', source: 'config' }], 'a config alias beats a module name')
  t.same(lookup(db, null, 'virtio_net'), [{ name: 'virtio_net', alias: null, source: 'dep' }])
  t.same(lookup(db, null, 'symbol:failover_register'), [{ name: 'failover', alias: 'symbol:failover_register', source: 'symbol' }])
  t.same(lookup(db, config, 'fake'), [{ name: 'fake', alias: null, source: 'command', install: 'echo' }])
  t.same(lookup(db, config, 'gone'), [{ name: 'gone', alias: null, source: 'command', remove: 'echo' }])
  t.same(lookupNames(db, null, 'virtio:d00000001v00001AF4'), ['virtio_net', 'failover'], 'every match, module order')
  t.same(lookup(db, null, 'virtio_pci'), [{ name: 'virtio_pci', alias: null, source: 'builtin' }])
  t.same(lookupNames(db, null, 'pci:v00001AF4d00001000'), ['virtio_pci'])
  t.same(lookup(db, null, 'fs_ext4')?.map((r) => r.name), ['ext4'], "'-' and '_' alike")
  t.equal(lookup(db, null, 'bad[alias'), null, 'unbalanced bracket: invalid')
  t.same(lookup(db, null, 'nothing'), [])
})
