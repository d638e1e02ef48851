import t from 'tap'
import { parseLoadParam, parseModulesLoad, readModulesLoad } from '../src/init/modules-load.js'

t.test('one module a line; # and ; comments; names normalised', async (t) => {
  t.same(parseModulesLoad('# comment\n; also\n\nvirtio-net\n  loop  \n'), ['virtio_net', 'loop'])
})

t.test('modload.load=a,b', async (t) => {
  t.same(parseLoadParam('a,b-c,,d'), ['a', 'b_c', 'd'])
  t.same(parseLoadParam(true), [])
  t.same(parseLoadParam(undefined), [])
})

t.test('directories in order, sorted by file name, earlier directories hide later names', async (t) => {
  const root = t.testdir({
    etc: { 'modules-load.d': { 'b.conf': 'from_etc_b\n', 'README': 'not a list\n' } },
    usr: { lib: { 'modules-load.d': { 'a.conf': 'from_usr_a\n', 'b.conf': 'hidden\n', 'c.conf': 'from_usr_c\nfrom_etc_b\n' } } },
  })
  const r = readModulesLoad(root)
  t.same(r.names, ['from_usr_a', 'from_etc_b', 'from_usr_c'])
  t.same(r.files.map((f) => f.slice(root.length)), ['/usr/lib/modules-load.d/a.conf', '/etc/modules-load.d/b.conf', '/usr/lib/modules-load.d/c.conf'])
  t.same(readModulesLoad(`${root}/nowhere`).names, [])
})
