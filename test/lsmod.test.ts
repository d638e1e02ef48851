// lsmod over /proc/modules fixtures, with and without a /sys/module beside it.
import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeLsmodTool, parseProcModules, formatLsmod } from '../src/tools/lsmod.js'
import { runTool } from './fixtures/tools/io.js'

const procModules = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tools', 'proc', 'modules')

t.test('parse /proc/modules', async (t) => {
  const mods = parseProcModules('a 100 2 b,c, Live 0x0\nd 5 0 - Live 0x0 (OE)\n\n')
  t.same(mods, [
    { name: 'a', size: 100, refcnt: 2, holders: ['b', 'c'] },
    { name: 'd', size: 5, refcnt: 0, holders: [] },
  ])
})

t.test("kmod's columns from /proc/modules alone", async (t) => {
  const r = await runTool(makeLsmodTool({ procModules, sysModule: '/nonexistent' }), [])
  t.equal(r.code, 0)
  t.equal(
    r.out,
    `Module                  Size  Used by
snd_hda_intel          57344  3
snd_hda_codec         184320  2 snd_hda_intel,snd_hda_codec_generic
snd_hda_codec_generic    98304  1
a_module_with_a_long_name     4096  0
virtio_net             61440  0
net_failover           24576  1 virtio_net
failover               16384  1 net_failover
`,
  )
})

t.test('/sys/module values win where present, as in kmod', async (t) => {
  const sys = mkdtempSync(join(tmpdir(), 'modload-lsmod-'))
  t.teardown(() => rmSync(sys, { recursive: true, force: true }))
  mkdirSync(join(sys, 'virtio_net', 'holders'), { recursive: true })
  writeFileSync(join(sys, 'virtio_net', 'refcnt'), '5\n')
  writeFileSync(join(sys, 'virtio_net', 'coresize'), '61441\n')
  mkdirSync(join(sys, 'failover', 'holders', 'someone'), { recursive: true })
  const r = await runTool(makeLsmodTool({ procModules, sysModule: sys }), [])
  t.match(r.out, '\nvirtio_net             61441  5\n')
  t.match(r.out, '\nfailover               16384  1 someone\n')
})

t.test('errors', async (t) => {
  t.same(await runTool(makeLsmodTool({ procModules, sysModule: '/x' }), ['extra']), { code: 1, out: '', err: 'Usage: lsmod\n' })
  const r = await runTool(makeLsmodTool({ procModules: '/nonexistent/modules', sysModule: '/x' }), [])
  t.equal(r.code, 1)
  t.match(r.err, /^Error: could not get list of modules: No such file or directory/)
  t.equal(formatLsmod([]), 'Module                  Size  Used by\n')
})
