// `modload coldplug` (hook mode): options, exit codes. The coldplug itself is mocked (it would
// load modules into the host's kernel); the engine has its own tests.
import t, { type Test } from 'tap'
import type { ColdplugReport } from '../src/init/coldplug.js'
import type { ColdplugSettings } from '../src/init/system.js'
import type { ToolIo } from '../src/tools/io.js'
import { SysError } from '../src/sys/syscalls.js'
import * as system from '../src/init/system.js'
import * as log from '../src/init/log.js'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

function report(results: ColdplugReport['results'], extra: Partial<ColdplugReport> = {}): ColdplugReport {
  return { results, hung: [], blocked: [], unmatched: [], blacklisted: [], commands: [], matched: new Map(), events: 0, scans: 1, timedOut: false, stoppedEarly: false, ms: 1, ...extra }
}

async function tool(t: Test, r: ColdplugReport, during: (hook: system.HookControl) => Promise<void> = async () => undefined) {
  const seen: ColdplugSettings[] = []
  const hooks: system.HookControl[] = []
  const exits: number[] = []
  const { makeColdplugTool } = await t.mockImport<typeof import('../src/tools/coldplug.js')>('../src/tools/coldplug.js', {
    '../src/init/system.js': {
      ...system,
      coldplugSystem: async (_sys: unknown, _log: unknown, s: ColdplugSettings, _c: string, _o: unknown, hook: system.HookControl) => {
        seen.push(s)
        hooks.push(hook)
        await during(hook)
        return r
      },
    },
    // never the host's kernel log
    '../src/init/log.js': { ...log, openKmsg: () => null },
  })
  const coldplugTool = makeColdplugTool((c) => exits.push(c))
  const out: string[] = []
  const io: ToolIo = { prog: 'coldplug', out: (s) => out.push(s), err: (s) => out.push(s), sys: () => ({}) as never, stdin: async () => '' }
  return { run: (argv: string[]) => coldplugTool.run(argv, io), seen, hooks, out, exits }
}

t.test('exit 0 when everything loaded, with the options given', async (t) => {
  const h = await tool(t, report([{ name: 'a', status: 'loaded', ms: 1 }]))
  t.equal(await h.run(['--timeout', '5', '--quiet-ms', '250', '-j', '2', '--load', 'x,y', '--quiet']), 0)
  t.match(h.seen[0], { timeoutMs: 5000, quietMs: 250, concurrency: 2 })
  t.ok(h.seen[0].force.includes('x') && h.seen[0].force.includes('y'))
})

t.test('exit 1 when a load failed or hung; ENODEV alone is not a failure', async (t) => {
  const failed = await tool(t, report([{ name: 'a', status: 'failed', error: new SysError('finit_module', 8) }]))
  t.equal(await failed.run(['--quiet']), 1)
  const hung = await tool(t, report([], { hung: [{ name: 'h', ms: 1 }] }))
  t.equal(await hung.run(['--quiet']), 1)
  t.same(hung.exits, [1], 'a hung load keeps libuv busy: the tool asks for the exit itself')
  const enodev = await tool(t, report([{ name: 'a', status: 'failed', error: new SysError('finit_module', 19) }]))
  t.equal(await enodev.run(['--quiet']), 0)
})

t.test('--help documents the exit status; bad numbers are usage errors', async (t) => {
  const h = await tool(t, report([]))
  t.equal(await h.run(['--help']), 0)
  t.match(h.out.join(''), /Exit status: 0 .* 1 when a module/s)
  await t.rejects(h.run(['--timeout', 'soon']), { name: 'UsageError' })
})

t.test('--ready-fd: "ready" once the devices are there, else "exit CODE" at the end; SIGTERM asks the engine to stop', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'ready')
  const ready = await tool(t, report([]), async (hook) => {
    t.ok(hook.onReady, 'the engine is told whom to tell')
    t.same(hook.devices, [{ kind: 'uuid', value: 'abcd' }, { kind: 'name', name: 'vdb' }])
    hook.onReady?.()
    process.emit('SIGTERM')
    await hook.stop
  })
  const fd = openSync(file, 'w')
  const listeners = process.listenerCount('SIGTERM') // tap's own
  t.equal(await ready.run(['--quiet', '--ready-fd', String(fd), '--device', 'UUID=abcd', '--device', '/dev/vdb']), 0)
  t.equal(readFileSync(file, 'utf8'), 'ready\n', 'one line, and the descriptor closed by the tool')
  t.throws(() => closeSync(fd), { code: 'EBADF' })
  t.equal(process.listenerCount('SIGTERM'), listeners, 'its SIGTERM listener is gone after the run')

  const never = await tool(t, report([{ name: 'a', status: 'failed', error: new SysError('finit_module', 8) }]))
  const fd2 = openSync(file, 'w')
  t.equal(await never.run(['--quiet', '--ready-fd', String(fd2)]), 1)
  t.equal(readFileSync(file, 'utf8'), 'exit 1\n')

  const plain = await tool(t, report([]))
  await plain.run(['--quiet'])
  t.equal(plain.hooks[0].onReady, undefined, 'without --ready-fd the script waits for settle')
  await t.rejects(plain.run(['--ready-fd', '3', '--device', 'nonsense']), { name: 'UsageError', message: /--device nonsense: not a device/ })
  await t.rejects(plain.run(['--device', 'UUID=x']), { name: 'UsageError', message: /only with --ready-fd/ })
  await t.rejects(plain.run(['--ready-fd', '1.5']), { name: 'UsageError' })
})

t.test('--handover: early (default) yields the CPU to the boot, settled shares it; checked', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'ready')
  const early = await tool(t, report([]))
  t.equal(await early.run(['--quiet', '--ready-fd', String(openSync(file, 'w'))]), 0)
  t.equal(early.hooks[0].yieldCpu, true, 'the boot stops coldplug at its end: its own work comes first')
  const settled = await tool(t, report([]))
  t.equal(await settled.run(['--quiet', '--ready-fd', String(openSync(file, 'w')), '--handover', 'settled']), 0)
  t.equal(settled.hooks[0].yieldCpu, false, 'the boot waits for coldplug: the loads fill its idle moments')
  const alone = await tool(t, report([]))
  await alone.run(['--quiet'])
  t.equal(alone.hooks[0].yieldCpu, false, 'no boot script beside it (no --ready-fd): nothing to yield to')
  await t.rejects(settled.run(['--ready-fd', '3', '--handover', 'later']), { name: 'UsageError', message: /--handover later: expected early or settled/ })
  await t.rejects(settled.run(['--handover', 'settled']), { name: 'UsageError', message: /--handover: only with --ready-fd/ })
})
