// modprobe -r over a fake /sys/module that a fake kernel keeps up to date (delete_module drops
// the module's directory and the references it held): unused dependencies go, used ones stay,
// kmod's refusals and messages, remove commands, -n, -w, --first-time.
import t from 'tap'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeModprobeTool } from '../src/tools/modprobe.js'
import { readHolders, readInitstate, readRefcnt } from '../src/load/remove.js'
import { SysError, type Sys } from '../src/sys/syscalls.js'
import type { CommandRunner } from '../src/load/insert.js'
import { runTool } from './fixtures/tools/io.js'

const tree = join(import.meta.dirname, 'fixtures', 'tree')
const conf = join(import.meta.dirname, 'fixtures', 'tools', 'modprobe.d')
const base = ['-d', tree, '-S', '6.1.0-test', '-C', conf]
const tmp = mkdtempSync(join(tmpdir(), 'modload-modprobe-r-'))
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))

let n = 0
/** modules: name -> the modules it uses (they get it as a holder and a reference). */
function fakeKernel(modules: Record<string, string[]>, extraRefs: Record<string, number> = {}, answers: number[] = []) {
  const root = join(tmp, `sys${n++}`)
  for (const name of Object.keys(modules)) {
    mkdirSync(join(root, name, 'holders'), { recursive: true })
    writeFileSync(join(root, name, 'initstate'), 'live\n')
  }
  const refs = (name: string): number => readdirSync(join(root, name, 'holders')).length + (extraRefs[name] ?? 0)
  const sync = (): void => {
    for (const name of readdirSync(root)) writeFileSync(join(root, name, 'refcnt'), `${refs(name)}\n`)
  }
  for (const [name, uses] of Object.entries(modules)) for (const u of uses) mkdirSync(join(root, u, 'holders', name))
  sync()
  const removed: string[] = []
  const sys = {
    deleteModule(name: string) {
      const errno = answers.shift() ?? 0
      if (errno) throw new SysError('delete_module', errno, name)
      if (!existsSync(join(root, name))) throw new SysError('delete_module', 2, name)
      removed.push(name)
      rmSync(join(root, name), { recursive: true })
      for (const other of readdirSync(root)) rmSync(join(root, other, 'holders', name), { recursive: true, force: true })
      sync()
    },
  } as unknown as Sys
  return { root, sys, removed }
}

const tool = (root: string, run?: CommandRunner) =>
  makeModprobeTool({ sysModule: root, procCmdline: '/nonexistent', insert: { kernelCompression: () => null }, run, sleep: async () => {} })

t.test('the fake /sys readers', async (t) => {
  const k = fakeKernel({ ext4: ['jbd2'], jbd2: [] })
  t.same(readInitstate(k.root, 'ext4'), { state: 'live' })
  t.same(readInitstate(k.root, 'nothere'), { state: null })
  t.equal(readRefcnt(k.root, 'jbd2'), 1)
  t.same(readHolders(k.root, 'jbd2'), ['ext4'])
  t.equal(readHolders(k.root, 'nothere'), undefined)
})

t.test('-r removes the module, then its dependencies left unused, then its pre softdeps', async (t) => {
  const k = fakeKernel({ ext4: ['jbd2'], jbd2: [], failover: [] })
  t.same(await runTool(tool(k.root), [...base, '-r', '-v', '-i', 'ext4'], k.sys), { code: 0, out: 'rmmod ext4\nrmmod jbd2\n', err: '' }, '-i: no softdeps')
  t.same(k.removed, ['ext4', 'jbd2'])
  const k2 = fakeKernel({ ext4: ['jbd2'], jbd2: [], failover: [] })
  t.same(await runTool(tool(k2.root), [...base, '-r', 'ext4'], k2.sys), { code: 0, out: '', err: '' })
  t.same(k2.removed, ['ext4', 'jbd2', 'failover'], 'pre: failover goes last')
})

t.test('a dependency still used by another module stays', async (t) => {
  const k = fakeKernel({ ext4: ['jbd2'], other: ['jbd2'], jbd2: [] })
  t.same(await runTool(tool(k.root), [...base, '-r', '-v', '-i', 'ext4'], k.sys), { code: 0, out: 'rmmod ext4\n', err: '' })
  t.same(k.removed, ['ext4'])
  t.ok(existsSync(join(k.root, 'jbd2')))
})

t.test("busy, builtin, not loaded, not found: kmod's messages and exit codes", async (t) => {
  const k = fakeKernel({ ext4: ['jbd2'], jbd2: [] })
  t.same(await runTool(tool(k.root), [...base, '-r', '-i', 'jbd2'], k.sys), { code: 1, out: '', err: 'modprobe: FATAL: Module jbd2 is in use.\n' }, '-i: jbd2 has a remove command in the fixture')
  t.same(await runTool(tool(k.root), [...base, '-r', 'virtio_pci'], k.sys), { code: 1, out: '', err: 'modprobe: FATAL: Module virtio_pci is builtin.\n' })
  t.same(await runTool(tool(k.root), [...base, '-r', 'virtio_net'], k.sys), { code: 0, out: '', err: '' }, 'not loaded: nothing to do')
  t.same(await runTool(tool(k.root), [...base, '-r', '--first-time', 'virtio_net'], k.sys), { code: 1, out: '', err: 'modprobe: FATAL: Module virtio_net is not in kernel.\n' })
  t.same(await runTool(tool(k.root), [...base, '-r', 'nope'], k.sys), { code: 1, out: '', err: 'modprobe: FATAL: Module nope not found.\n' })
  t.same(await runTool(tool(k.root), [...base, '-r', '-q', '-i', 'jbd2'], k.sys), { code: 1, out: '', err: '' })
  const a = await runTool(tool(k.root), [...base, '-r', '-a', '-i', 'jbd2', 'ext4'], k.sys)
  t.same(a, { code: 1, out: '', err: 'modprobe: WARNING: Module jbd2 is in use.\n' }, '-a: a warning, and the next name is still removed')
  t.same(k.removed, ['ext4', 'jbd2'])
})

t.test('the kernel refusing, and -w retrying while it says EAGAIN', async (t) => {
  const k = fakeKernel({ ext4: [] }, {}, [16])
  t.same(await runTool(tool(k.root), [...base, '-r', '-i', 'ext4'], k.sys), { code: 1, out: '', err: "modprobe: ERROR: could not remove 'ext4': Device or resource busy\n" })
  const w = fakeKernel({ ext4: [] }, {}, [11, 11])
  t.same(await runTool(tool(w.root), [...base, '-r', '-i', '-w', '1000', 'ext4'], w.sys), { code: 0, out: '', err: '' })
  t.same(w.removed, ['ext4'])
})

t.test('-n -v shows without removing', async (t) => {
  const k = fakeKernel({ ext4: ['jbd2'], jbd2: [] })
  t.same(await runTool(tool(k.root), [...base, '-r', '-n', '-v', '-i', 'ext4'], k.sys), { code: 0, out: 'rmmod ext4\n', err: '' })
  t.same(k.removed, [])
})

t.test('remove commands run instead of delete_module; -i ignores them', async (t) => {
  const seen: string[] = []
  const run: CommandRunner = (cmd, env) => (seen.push(`${cmd}|${env.MODPROBE_MODULE}`), { status: 0 })
  const k = fakeKernel({ jbd2: [] })
  t.same(await runTool(tool(k.root, run), [...base, '-r', '-v', 'jbd2'], k.sys), { code: 0, out: 'remove echo bye \n', err: '' })
  t.same(seen, ['echo bye |jbd2'])
  t.same(k.removed, [])
  t.same(await runTool(tool(k.root, run), [...base, '-r', '-i', 'jbd2'], k.sys), { code: 0, out: '', err: '' })
  t.same(k.removed, ['jbd2'])
  const f = fakeKernel({ jbd2: [] })
  t.same(await runTool(tool(f.root, () => ({ status: 2 })), [...base, '-r', 'jbd2'], f.sys), { code: 1, out: '', err: 'modprobe: FATAL: Error running remove command for jbd2\n' })
})

t.test('a module with no refcnt file (no module unloading) is handed to the kernel', async (t) => {
  const k = fakeKernel({ ext4: [] })
  rmSync(join(k.root, 'ext4', 'refcnt'))
  t.equal((await runTool(tool(k.root), [...base, '-r', '-i', 'ext4'], k.sys)).code, 0)
})

t.test('--remove-holders removes the modules holding it first', async (t) => {
  const k = fakeKernel({ other: ['jbd2'], jbd2: [] })
  t.same(await runTool(tool(k.root), [...base, '-r', '-v', '-i', 'jbd2'], k.sys), { code: 1, out: '', err: 'modprobe: FATAL: Module jbd2 is in use.\n' })
  t.same(await runTool(tool(k.root), [...base, '-r', '-v', '-i', '--remove-holders', 'jbd2'], k.sys), { code: 0, out: 'rmmod other\nrmmod jbd2\n', err: '' })
  t.same(k.removed, ['other', 'jbd2'])
})
