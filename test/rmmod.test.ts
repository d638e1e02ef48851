// rmmod through a fake syscall shim and a fake /sys/module: kmod's checks, messages, exit codes.
import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeRmmodTool } from '../src/tools/rmmod.js'
import { O_NONBLOCK, O_TRUNC } from '../src/sys/syscalls.js'
import { fakeSys } from './fixtures/tools/fake-shim.js'
import { runTool } from './fixtures/tools/io.js'

const sysModule = mkdtempSync(join(tmpdir(), 'modload-rmmod-'))
t.teardown(() => rmSync(sysModule, { recursive: true, force: true }))
const mod = (name: string, o: { state?: string; refcnt?: number; holders?: string[] }): void => {
  const d = join(sysModule, name)
  mkdirSync(d, { recursive: true })
  if (o.state !== undefined) writeFileSync(join(d, 'initstate'), `${o.state}\n`)
  if (o.refcnt !== undefined) writeFileSync(join(d, 'refcnt'), `${o.refcnt}\n`)
  if (o.holders !== undefined) {
    mkdirSync(join(d, 'holders'), { recursive: true })
    for (const h of o.holders) mkdirSync(join(d, 'holders', h))
  }
}
mod('virtio_net', { state: 'live', refcnt: 0, holders: [] })
mod('net_failover', { state: 'live', refcnt: 1, holders: ['virtio_net'] })
mod('busy', { state: 'live', refcnt: 2, holders: [] })
mod('nounload', { state: 'live', holders: [] })
mod('weird', { state: 'bogus' })
const rmmod = makeRmmodTool({ sysModule, builtinList: () => 'kernel/drivers/virtio/virtio_pci.ko\n' })

t.test('an unused module is removed with O_NONBLOCK', async (t) => {
  const { sys, calls } = fakeSys()
  t.same(await runTool(rmmod, ['virtio-net'], sys), { code: 0, out: '', err: '' })
  t.same(calls, [{ fn: 'deleteModule', args: ['virtio_net', O_NONBLOCK] }])
})

t.test("kmod's refusals before asking the kernel", async (t) => {
  const cases: [string, string][] = [
    ['net_failover', 'rmmod: ERROR: Module net_failover is in use by: virtio_net\n'],
    ['busy', 'rmmod: ERROR: Module busy is in use\n'],
    ['virtio_pci', 'rmmod: ERROR: Module virtio_pci is builtin.\n'],
    ['nothere', 'rmmod: ERROR: Module nothere is not currently loaded\n'],
    ['nounload', 'rmmod: ERROR: Module unloading is not supported\n'],
    ['weird', `rmmod: ERROR: unknown ${sysModule}/weird/initstate: 'bogus\n'\nrmmod: ERROR: Module weird is not currently loaded\n`],
  ]
  for (const [name, err] of cases) {
    const { sys, calls } = fakeSys()
    t.same(await runTool(rmmod, [name], sys), { code: 1, out: '', err }, name)
    t.equal(calls.length, 0)
  }
})

t.test('several names: each handled, exit 1 if any failed', async (t) => {
  const { sys, calls } = fakeSys()
  const r = await runTool(rmmod, ['busy', 'virtio_net'], sys)
  t.equal(r.code, 1)
  t.same(calls.map((c) => c.args[0]), ['virtio_net'])
})

t.test('-f skips the checks and forces', async (t) => {
  const { sys, calls } = fakeSys()
  t.equal((await runTool(rmmod, ['-f', 'net_failover'], sys)).code, 0)
  t.same(calls, [{ fn: 'deleteModule', args: ['net_failover', O_NONBLOCK | O_TRUNC] }])
})

t.test('the kernel refuses: both of kmod\'s lines', async (t) => {
  const { sys } = fakeSys({ deleteModule: [-16] })
  t.same(await runTool(rmmod, ['virtio_net'], sys), {
    code: 1,
    out: '',
    err: "rmmod: ERROR: could not remove 'virtio_net': Device or resource busy\nrmmod: ERROR: could not remove module virtio_net: Device or resource busy\n",
  })
})

t.test('argument errors', async (t) => {
  t.same(await runTool(rmmod, []), { code: 1, out: '', err: 'rmmod: ERROR: missing module name.\n' })
  t.same(await runTool(rmmod, ['--bogus']), { code: 1, out: '', err: "rmmod: unrecognized option '--bogus'\n" })
  t.match((await runTool(rmmod, ['-h'])).out, /--force/)
})
