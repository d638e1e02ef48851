import t from 'tap'
import { parseModprobeConf, parseSoftdepWords, concatConfigs } from '../src/config/modprobe-conf.js'

t.test('every directive, kmod 30 rules', async (t) => {
  const text = [
    'alias my-net virtio-net extra',
    'alias pci:v0000[1-2]* foo-bar',
    'blacklist snd-pcsp',
    'options virtio-net  a=1\tb=2 ',
    'install dummy /bin/true $CMDLINE_OPTS',
    'remove dummy /bin/false',
    'softdep ext4 junk pre: crc16 crc32c post: fscrypto',
    'install long echo a \\',
    '  b',
    'echo x\\y',
    '# comment',
    '',
  ].join('\n')
  const { config, warnings } = parseModprobeConf(text, 'f.conf')
  t.same(config.aliases, [
    { name: 'my_net', module: 'virtio_net' },
    { name: 'pci:v0000[1-2]*', module: 'foo_bar' },
  ])
  t.same(config.blacklist, ['snd_pcsp'])
  t.same(config.options, [{ module: 'virtio_net', options: ' a=1 b=2 ' }], 'rest of line kept, tabs as spaces')
  t.same(config.install, [
    { module: 'dummy', command: '/bin/true $CMDLINE_OPTS' },
    { module: 'long', command: 'echo a   b' },
  ])
  t.same(config.remove, [{ module: 'dummy', command: '/bin/false' }])
  t.same(config.softdeps, [{ module: 'ext4', pre: ['crc16', 'crc32c'], post: ['fscrypto'] }])
  t.same(warnings, [{ file: 'f.conf', line: 10, message: "ignoring bad line starting with 'echo'" }], 'line number of the joined line')
})

t.test('bad lines are warnings naming file and line', async (t) => {
  const { config, warnings } = parseModprobeConf('bogus x\noptions onlyname\nalias one\ninclude /x\n  # indented\nblacklist\nblacklist ok\n', 'b.conf')
  t.same(config.blacklist, ['ok'])
  t.same(
    warnings.map((w) => `${w.file}:${w.line}: ${w.message}`),
    [
      "b.conf:1: ignoring bad line starting with 'bogus'",
      "b.conf:2: ignoring bad line starting with 'options'",
      "b.conf:3: ignoring bad line starting with 'alias'",
      'b.conf:4: command include is deprecated and not parsed anymore',
      "b.conf:5: ignoring bad line starting with '#'",
      "b.conf:6: ignoring bad line starting with 'blacklist'",
    ],
  )
})

t.test('softdep words and concatenation', async (t) => {
  t.same(parseSoftdepWords('a pre: b post: c pre: d'), { pre: ['b', 'd'], post: ['c'] })
  t.same(parseSoftdepWords('gcm'), { pre: [], post: [] })
  const a = parseModprobeConf('blacklist a\n', 'a').config
  const b = parseModprobeConf('blacklist b\n', 'b').config
  t.same(concatConfigs([a, b]).blacklist, ['a', 'b'])
})
