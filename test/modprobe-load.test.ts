// modprobe loading through a fake syscall shim and a fake /sys/module: the order and parameters
// of the loads, modules already live, softdep errors ignored, required ones fatal, install
// commands (through a fake runner and through the real /bin/sh), kmod's messages and exit codes.
import t from 'tap'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeModprobeTool, type ModprobeEnv } from '../src/tools/modprobe.js'
import { runCommand, type CommandRunner } from '../src/load/insert.js'
import { MODULE_INIT_IGNORE_MODVERSIONS, MODULE_INIT_IGNORE_VERMAGIC } from '../src/sys/syscalls.js'
import { fakeSys } from './fixtures/tools/fake-shim.js'
import { runTool } from './fixtures/tools/io.js'

const tree = join(import.meta.dirname, 'fixtures', 'tree')
const conf = join(import.meta.dirname, 'fixtures', 'tools', 'modprobe.d')
const dir = `${tree}/lib/modules/6.1.0-test`
const base = ['-d', tree, '-S', '6.1.0-test', '-C', conf]
const tmp = mkdtempSync(join(tmpdir(), 'modload-modprobe-'))
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))

let n = 0
/** A fresh fake /sys/module with these modules live. */
function sysModule(live: string[] = []): string {
  const d = join(tmp, `sys${n++}`)
  mkdirSync(d)
  for (const m of live) {
    mkdirSync(join(d, m))
    writeFileSync(join(d, m, 'initstate'), 'live\n')
  }
  return d
}

function tool(o: { live?: string[]; run?: CommandRunner } = {}) {
  const env: ModprobeEnv = { sysModule: sysModule(o.live), procCmdline: '/nonexistent', insert: { kernelCompression: () => null }, run: o.run }
  return makeModprobeTool(env)
}

const F = `${dir}/kernel/net/core/failover.ko`
const J = `${dir}/kernel/fs/jbd2/jbd2.ko`
const E = `${dir}/kernel/fs/ext4/ext4.ko`

t.test('loads dependencies and softdeps first, options on the right module; -v shows kmod\'s lines', async (t) => {
  const { sys, calls } = fakeSys()
  const r = await runTool(tool(), [...base, '-v', 'ext4', 'x=1', 'y=a b'], sys)
  t.same(r, { code: 0, out: `insmod ${J} \ninsmod ${F} \ninsmod ${E} journal=1 x=1 y="a b"\n`, err: '' })
  t.same(calls.map((c) => c.args[1]), ['', '', 'journal=1 x=1 y="a b"'])
  const d = await runTool(tool(), [...base, '-D', 'ext4', 'x=1', 'y=a b'])
  t.equal(d.out, r.out, '-v prints what -D plans when nothing is loaded')
})

t.test('without -v nothing is printed; -n loads nothing', async (t) => {
  const { sys, calls } = fakeSys()
  t.same(await runTool(tool(), [...base, 'ext4'], sys), { code: 0, out: '', err: '' })
  t.equal(calls.length, 3)
  const dry = fakeSys()
  const r = await runTool(tool({ live: ['jbd2'] }), [...base, '-n', '-v', 'fs-ext4'], dry.sys)
  t.same(r, { code: 0, out: `insmod ${F} \ninsmod ${E} journal=1 \n`, err: '' }, 'live modules are skipped, as kmod does')
  t.equal(dry.calls.length, 0)
})

t.test('a module already live: nothing to do; --first-time makes it an error', async (t) => {
  const { sys, calls } = fakeSys()
  t.same(await runTool(tool({ live: ['ext4'] }), [...base, '-v', 'ext4'], sys), { code: 0, out: '', err: '' })
  t.equal(calls.length, 0)
  t.same(await runTool(tool({ live: ['ext4'] }), [...base, '--first-time', 'ext4'], sys), {
    code: 1,
    out: '',
    err: "modprobe: ERROR: could not insert 'ext4': Module already in kernel\n",
  })
  t.same(await runTool(tool(), [...base, 'virtio_pci'], sys), { code: 0, out: '', err: '' }, 'built in counts as loaded')
  t.equal(calls.length, 0)
})

t.test('a required module failing stops the run; a softdep failing does not', async (t) => {
  const dep = fakeSys({ finitModule: [-2] })
  t.same(await runTool(tool(), [...base, 'ext4'], dep.sys), {
    code: 1,
    out: '',
    err: "modprobe: ERROR: could not insert 'ext4': Unknown symbol in module, or unknown parameter (see dmesg)\n",
  })
  t.equal(dep.calls.length, 1, 'ext4 not tried after jbd2 failed')
  const soft = fakeSys({ finitModule: [0, -22] })
  t.same(await runTool(tool(), [...base, 'ext4'], soft.sys), { code: 0, out: '', err: '' }, 'failover (softdep) failing is ignored')
  t.equal(soft.calls.length, 3)
  const soft2 = fakeSys({ finitModule: [0, -17, 0] })
  t.equal((await runTool(tool(), [...base, 'ext4'], soft2.sys)).code, 0, 'EEXIST for a dependency (loaded meanwhile) is fine')
})

t.test('a bad signature: kmod\'s line and a hint', async (t) => {
  const { sys } = fakeSys({ finitModule: [0, 0, -129] })
  const r = await runTool(tool(), [...base, 'ext4'], sys)
  t.equal(r.code, 1)
  t.match(r.err, /^modprobe: ERROR: could not insert 'ext4': Key was rejected by service\nmodprobe: hint: .*sign/)
  const q = await runTool(tool(), [...base, '-q', 'ext4'], fakeSys({ finitModule: [0, 0, -129] }).sys)
  t.same(q, { code: 1, out: '', err: '' }, '-q silences, the exit code stays')
  const vv = await runTool(tool(), [...base, '-vv', 'ext4'], fakeSys({ finitModule: [0, 0, -129] }).sys)
  t.match(vv.err, `modprobe: INFO: Failed to insert module '${E}': Key was rejected by service\n`)
})

t.test('-f and --force-vermagic reach the kernel as finit_module flags', async (t) => {
  const { sys, calls } = fakeSys()
  await runTool(tool({ live: ['jbd2', 'failover'] }), [...base, '-f', 'ext4'], sys)
  t.same(calls[0].args[2], MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC)
  const v = fakeSys()
  await runTool(tool({ live: ['jbd2', 'failover'] }), [...base, '--force-vermagic', 'ext4'], v.sys)
  t.same(v.calls[0].args[2], MODULE_INIT_IGNORE_VERMAGIC)
})

t.test('not found: FATAL, or a WARNING with -a that goes on; -q keeps quiet', async (t) => {
  const { sys, calls } = fakeSys()
  t.same(await runTool(tool(), [...base, 'nope'], sys), { code: 1, out: '', err: `modprobe: FATAL: Module nope not found in directory ${dir}\n` })
  t.same(await runTool(tool(), [...base, '-q', 'nope'], sys), { code: 1, out: '', err: '' })
  const a = await runTool(tool({ live: ['jbd2', 'failover'] }), [...base, '-a', 'nope', 'ext4'], sys)
  t.same(a, { code: 1, out: '', err: `modprobe: WARNING: Module nope not found in directory ${dir}\n` })
  t.equal(calls.length, 1, '-a went on to load ext4')
})

t.test('the blacklist: an alias of a blacklisted module loads nothing; -b for names too', async (t) => {
  const { sys, calls } = fakeSys()
  t.same(await runTool(tool(), [...base, 'virtio:d00000001v1'], sys), { code: 0, out: '', err: '' })
  t.same(await runTool(tool(), [...base, '-b', 'virtio_net'], sys), { code: 0, out: '', err: '' })
  t.equal(calls.length, 0)
  await runTool(tool(), [...base, 'virtio_net'], sys)
  t.equal(calls.length, 3, 'by name, without -b, it loads (its two dependencies first)')
})

t.test('install commands: $CMDLINE_OPTS, MODPROBE_MODULE, failures, -i', async (t) => {
  const seen: { cmd: string; env: Record<string, string | undefined> }[] = []
  const ok: CommandRunner = (cmd, env) => (seen.push({ cmd, env }), { status: 0 })
  const r = await runTool(tool({ run: ok }), [...base, '-v', 'cmd-alias', 'p=1'], fakeSys().sys)
  t.same(r, { code: 0, out: 'install echo hi $CMDLINE_OPTS p=1\n', err: '' })
  t.equal(seen[0].cmd, 'echo hi p=1')
  t.equal(seen[0].env.MODPROBE_MODULE, 'cmdmod')
  t.match(seen[0].env.MODPROBE_OPTIONS, /^-C \S+ -v$/, 'options passed on to nested modprobe calls, as kmod does')
  const bad = await runTool(tool({ run: () => ({ status: 3 }) }), [...base, 'cmdmod'], fakeSys().sys)
  t.same(bad, {
    code: 1,
    out: '',
    err: "modprobe: ERROR: Error running install command 'echo hi ' for module cmdmod: retcode 3\nmodprobe: ERROR: could not insert 'cmdmod': Invalid argument\n",
  })
  const noShell = await runTool(tool({ run: (c, e) => runCommand(c, e, join(tmp, 'no', 'sh')) }), [...base, 'cmdmod'], fakeSys().sys)
  t.equal(noShell.code, 1)
  t.match(noShell.err, /cannot run install command 'echo hi ' for module cmdmod: \S+\/no\/sh is missing/)
})

t.test('a name that resolves to no file: kmod\'s error when it comes to load it', async (t) => {
  const r = await runTool(tool(), [...base, '-i', '-v', 'cmdmod'], fakeSys().sys)
  t.same(r, {
    code: 1,
    out: '',
    err: "modprobe: ERROR: could not find module by name='cmdmod'\nmodprobe: ERROR: could not insert 'cmdmod': Unknown symbol in module, or unknown parameter (see dmesg)\n",
  })
  t.same(await runTool(tool(), [...base, '-i', '-n', '-v', 'cmdmod']), { code: 0, out: '', err: '' }, 'a dry run shows nothing for it')
})

t.test('install commands run through the real /bin/sh', async (t) => {
  const out = join(tmp, 'ran')
  const r = runCommand(`echo "$MODPROBE_MODULE" > ${out}; exit 4`, { MODPROBE_MODULE: 'xyz' })
  t.same(r, { status: 4 })
  t.equal(readFileSync(out, 'latin1'), 'xyz\n')
  t.same(runCommand('kill -9 $$', {}), { status: 137 }, 'killed by a signal is a failure')
  t.same(runCommand('test -z "$GONE"', { GONE: undefined }), { status: 0 }, 'unset variables stay unset')
})

t.test('as the kernel\'s helper: modprobe -q -- ALIAS, no PATH or HOME needed', async (t) => {
  const { sys, calls } = fakeSys()
  const saved = { PATH: process.env.PATH, HOME: process.env.HOME }
  delete process.env.PATH
  delete process.env.HOME
  t.teardown(() => Object.assign(process.env, saved))
  t.same(await runTool(tool(), [...base, '-q', '--', 'fs-ext4'], sys), { code: 0, out: '', err: '' })
  t.equal(calls.length, 3)
  t.same(await runTool(tool(), [...base, '-q', '--', 'fs-nothing'], sys), { code: 1, out: '', err: '' })
})

t.test('argument errors', async (t) => {
  t.same(await runTool(tool(), [...base, '-w', 'x', '-r', 'a']), { code: 1, out: '', err: "modprobe: ERROR: unexpected wait value 'x'.\n" })
  await t.rejects(runTool(tool(), [...base]), /missing parameters/)
})
