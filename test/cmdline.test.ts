import t from 'tap'
import { parseCmdline, splitCmdline, flag } from '../src/format/cmdline.js'

t.test('words, quotes, module params', async (t) => {
  t.same(splitCmdline('a b="c d" e\n'), ['a', 'b=c d', 'e'])
  const c = parseCmdline('console=ttyS0 quiet modload.halt virtio-net.napi_tx=1 foo.bar="x y" -- single')
  t.equal(c.params.get('console'), 'ttyS0')
  t.equal(c.params.get('quiet'), true)
  t.ok(flag(c, 'modload.halt'))
  t.notOk(flag(c, 'modload.debug'))
  t.same(c.moduleParams.get('virtio_net'), ['napi_tx=1'])
  t.same(c.moduleParams.get('foo'), ['bar="x y"'])
  t.same(c.initArgs, ['single'])
  t.notOk(flag(parseCmdline('modload.halt=0'), 'modload.halt'))
})

t.test('blacklists from the command line', async (t) => {
  t.same(parseCmdline('modprobe.blacklist=a-b,c module_blacklist=d,,e').blacklist, ['a_b', 'c', 'd', 'e'])
})
