import t from 'tap'
import { dispatch, helpText, COMMANDS } from '../src/commands.js'

t.test('dispatch by invoked name, first argument, PID 1', async (t) => {
  const byLink = dispatch('/sbin/resolve', ['-d', '/x'], 500)
  t.equal(byLink.kind === 'tool' && byLink.tool.name, 'resolve')
  t.same(byLink.kind === 'tool' && byLink.argv, ['-d', '/x'])
  const byArg = dispatch('/usr/bin/modload', ['mkinitramfs', '-o', 'x'], 500)
  t.equal(byArg.kind === 'tool' && byArg.tool.name, 'mkinitramfs')
  t.same(byArg.kind === 'tool' && byArg.argv, ['-o', 'x'])
  const asInit = dispatch('/init', [], 1)
  t.equal(asInit.kind === 'tool' && asInit.tool.name, 'init')
  const pid1 = dispatch('/something', [], 1)
  t.equal(pid1.kind === 'tool' && pid1.tool.name, 'init')
  t.same(dispatch('modload', ['--version'], 9), { kind: 'version' })
  t.same(dispatch('modload', [], 9), { kind: 'help' })
  t.same(dispatch('modload', ['frobnicate'], 9), { kind: 'unknown', name: 'frobnicate' })
})

t.test('help lists every command', async (t) => {
  const h = helpText('1.2.3')
  for (const c of COMMANDS) t.match(h, c.name)
  t.match(h, 'modload 1.2.3')
})

t.test('the boot V8 flags go to the commands dispatch runs at early boot', async (t) => {
  const { isBootCommand } = await import('../src/boot-flags.js')
  const boots = (argv0: string, args: string[], pid: number): boolean => {
    const d = dispatch(argv0, args, pid)
    return d.kind === 'tool' && isBootCommand(d.tool.name)
  }
  t.ok(boots('/init', [], 1), '/init as PID 1')
  t.ok(boots('/usr/bin/modload', ['coldplug'], 400), 'modload coldplug (hook mode)')
  t.notOk(boots('/usr/lib/modload/modprobe', [], 1), 'modprobe, even as PID 1')
  t.notOk(boots('/usr/bin/modload', ['depmod'], 400), 'depmod keeps the tiers')
  const boot = COMMANDS.filter((c) => isBootCommand(c.name)).map((c) => c.name)
  t.same(boot.sort(), ['coldplug', 'init'], 'init and coldplug, and no other command')
})
