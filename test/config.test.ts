import t from 'tap'
import { join } from 'node:path'
import { buildConfig, configFileOrder, isConfigFileName } from '../src/config/config.js'
import { loadModprobeConfig } from '../src/config/config-fs.js'
import { formatConfig, softdepValue } from '../src/config/show.js'

t.test('file order: one sorted list, earlier paths hide later names, modules.softdep among them', async (t) => {
  const files = configFileOrder(
    [
      { path: '/etc/modprobe.d', kind: 'dir', entries: [{ name: 'b.conf', isDir: false }, { name: 'z.conf', isDir: false }, { name: '.x.conf', isDir: false }, { name: 'd.conf', isDir: true }] },
      { path: '/run/modprobe.d', kind: 'missing' },
      { path: '/lib/modprobe.d', kind: 'dir', entries: [{ name: 'b.conf', isDir: false }, { name: 'a.alias', isDir: false }, { name: 'README', isDir: false }] },
      { path: '/opt/single.conf', kind: 'file' },
    ],
    '/lib/modules/6.1',
  )
  t.same(files.map((f) => f.path), ['/lib/modprobe.d/a.alias', '/etc/modprobe.d/b.conf', '/lib/modules/6.1/modules.softdep', '/opt/single.conf', '/etc/modprobe.d/z.conf'])
  t.ok(isConfigFileName('x.conf'))
  t.notOk(isConfigFileName('.conf'))
  t.notOk(isConfigFileName('x.conf.bak'))
})

t.test('files, then the command line', async (t) => {
  const { config, warnings } = buildConfig([{ path: 'a.conf', text: 'options m x=1\nbad\n' }, { path: 'gone.conf', text: undefined }], 'm.y=2 modprobe.blacklist=q')
  t.same(config.options, [{ module: 'm', options: 'x=1' }, { module: 'm', options: 'y=2' }])
  t.same(config.blacklist, ['q'])
  t.equal(warnings.length, 1)
})

t.test('the fixture directories, as modprobe -C reads them', async (t) => {
  const fx = join(import.meta.dirname, 'fixtures', 'config')
  const { config, files } = loadModprobeConfig({ paths: [join(fx, 'modprobe.d'), join(fx, 'override.d')], cmdline: '' })
  t.same(files.map((f) => f.path.slice(fx.length + 1)), [
    'modprobe.d/10-aliases.conf',
    'modprobe.d/20-options.conf',
    'modprobe.d/30-blacklist.conf',
    'modprobe.d/40-softdep.conf',
    'modprobe.d/50-install.conf',
    'modprobe.d/60-bad.conf',
    'modprobe.d/70-extra.alias',
    'override.d/80-late.conf',
  ])
  t.notOk(config.options.some((o) => o.options === 'hidden=1'), 'override.d/20-options.conf is hidden')
  t.match(formatConfig(config), /^blacklist e1000\n/)
  t.equal(softdepValue(['a', 'b'], ['c']), 'pre: a bpost: c', "kmod 30's -c spelling")
})
