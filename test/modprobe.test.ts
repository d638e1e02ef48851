import t from 'tap'
import { join } from 'node:path'
import { modprobeTool, optionsFromArgs, splitEnvOptions, kmodDirname } from '../src/tools/modprobe.js'
import { resolveTool } from '../src/tools/resolve.js'

const tree = join(import.meta.dirname, 'fixtures', 'tree')
const cfg = join(import.meta.dirname, 'fixtures', 'config')

async function run(tool: typeof modprobeTool, argv: string[], stdin = ''): Promise<{ out: string; err: string; code: number }> {
  let out = ''
  let err = ''
  const code = await tool.run(argv, {
    prog: tool.name,
    out: (s) => (out += s),
    err: (s) => (err += s),
    sys: () => {
      throw new Error('no syscalls')
    },
    stdin: async () => stdin,
  })
  return { out, err, code }
}

const base = ['-d', tree, '-S', '6.1.0-test', '-C', join(cfg, 'modprobe.d')]
const dir = `${tree}/lib/modules/6.1.0-test`

t.test('-D, -R, -c over the fixture tree', async (t) => {
  const d = await run(modprobeTool, [...base, '-D', 'my-net'])
  // softdep virtio_net pre: failover (fixture) repeats failover, as kmod does
  const f = `insmod ${dir}/kernel/net/core/failover.ko \n`
  t.equal(d.out, `${f}insmod ${dir}/kernel/drivers/net/net_failover.ko \n${f}insmod ${dir}/kernel/drivers/net/virtio_net.ko napi_tx=1 second=x via_alias=1 \n`)
  t.equal(d.code, 0)
  t.match(d.err, /60-bad\.conf:1: ignoring bad line starting with 'bogus'/)
  t.same(await run(modprobeTool, [...base, '-q', '-R', 'fs-ext4']), { out: 'ext4\n', err: '', code: 0 })
  const miss = await run(modprobeTool, [...base, '-R', 'nothing'])
  t.equal(miss.code, 1)
  t.match(miss.err, `Module nothing not found in directory ${dir}`)
  const c = await run(modprobeTool, [...base, '-c'])
  t.match(c.out, /\n# End of configuration files\. Dumping indexes now:\n\nalias ext3 ext4\nalias fs_ext4 ext4\n/)
  // loading and -r: test/modprobe-load.test.ts, test/modprobe-remove.test.ts
  t.equal((await run(modprobeTool, ['--bogus'])).code, 1)
  t.equal((await run(modprobeTool, ['-h'])).code, 0)
})

t.test('helpers', async (t) => {
  t.equal(optionsFromArgs(['a=1', 'b=x y', 'c="q r"', 'flag']), 'a=1 b="x y" c="q r" flag')
  t.equal(optionsFromArgs([]), null)
  t.same(splitEnvOptions('-q  -C "/a b" \'-v\''), ['-q', '-C', '/a b', '-v'])
  t.equal(kmodDirname('/r', 'k', '/cwd'), '/r/lib/modules/k')
  t.equal(kmodDirname('rel', 'k', '/cwd'), '/cwd/rel/lib/modules/k')
})

t.test('resolve: ALIAS<TAB>names, one line per input', async (t) => {
  const r = await run(resolveTool, ['-d', tree, '-S', '6.1.0-test', '--no-config'], 'fs-ext4\nvirtio:d00000001v1\nnothing\n\n')
  t.equal(r.out, 'fs-ext4\text4\nvirtio:d00000001v1\tvirtio_net\nnothing\t\n')
})
