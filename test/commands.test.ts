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

t.test('the boot roles that get the boot V8 flags are the ones dispatch runs as init or coldplug', async (t) => {
  const { isBootRole } = await import('../src/boot-flags.js')
  const cases: [string, string[], number][] = [['/init', [], 1], ['/usr/bin/modload', ['coldplug'], 400], ['/usr/bin/modload', ['modprobe', 'x'], 400], ['/usr/bin/modload', [], 1]]
  for (const c of COMMANDS) cases.push([`/usr/lib/modload/${c.name}`, [], 400], [`/usr/lib/modload/${c.name}`, [], 1], ['/usr/bin/modload', [c.name], 400])
  for (const [argv0, args, pid] of cases) {
    const d = dispatch(argv0, args, pid)
    const boot = d.kind === 'tool' && (d.tool.name === 'init' || d.tool.name === 'coldplug')
    t.equal(isBootRole(pid, argv0, args), boot, `${argv0} ${args.join(' ')} as pid ${pid}`)
  }
})
