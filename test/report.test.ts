import t from 'tap'
import { describe, levelOf, oopsDuring, parseTainted, printReport, succeeded, TAINT_DIE } from '../src/init/report.js'
import type { ColdplugReport } from '../src/init/coldplug.js'
import { SysError } from '../src/sys/syscalls.js'

function report(extra: Partial<ColdplugReport> = {}): ColdplugReport {
  return {
    results: [
      { name: 'virtio_net', status: 'loaded', ms: 12.34 },
      { name: 'e1000e', status: 'loaded', ms: 120 },
      { name: 'acpi_cpufreq', status: 'failed', ms: 3, path: '/m/acpi-cpufreq.ko', error: new SysError('finit_module', 19, '/m/acpi-cpufreq.ko') },
    ],
    hung: [],
    blocked: [],
    unmatched: ['acpi:PNP0A06:'],
    blacklisted: [],
    commands: [],
    matched: new Map(),
    events: 9,
    scans: 1,
    timedOut: false,
    stoppedEarly: false,
    ms: 1234.56,
    ...extra,
  }
}

function lines(r: ColdplugReport): [string, string][] {
  const out: [string, string][] = []
  printReport((l, level = 'info') => out.push([level, l]), r)
  return out
}

t.test('the report: load times slowest first, failures explained, devices without a driver, totals', async (t) => {
  const out = lines(report())
  t.same(out, [
    ['detail', 'report loaded: e1000e 120.0 ms, virtio_net 12.3 ms'],
    ['detail', 'report failed acpi_cpufreq: ENODEV (No such device): the driver found no hardware it supports (harmless for probing loads) [/m/acpi-cpufreq.ko]'],
    ['detail', 'no driver for acpi:PNP0A06:'],
    ['info', 'coldplug done events=9 scans=1 loaded=2 failed=1 hung=0 unmatched=1 ms=1234.6'],
  ])
})

t.test('hung and blocked loads, the timeout, install commands, blacklisted modules', async (t) => {
  const r = report({
    results: [],
    hung: [{ name: 'slow', ms: 60_000 }],
    blocked: [
      { name: 'needs_slow', on: ['slow'] },
      { name: 'queued', on: [] },
    ],
    timedOut: true,
    commands: [{ module: 'x', command: '/bin/true' }],
    blacklisted: [{ alias: 'pci:v1', module: 'nouveau' }],
  })
  const text = lines(r).map(([lv, l]) => `${lv} ${l}`).join('\n')
  t.match(text, 'error report hung slow: init still running after 60.0 s')
  t.match(text, 'error report not started needs_slow: waiting for slow')
  t.match(text, 'error report not started queued: ready to start when modload.timeout came', 'no empty "waiting for" list')
  t.match(text, 'warn report not run: install command for x (/bin/true)')
  t.match(text, 'detail report blacklisted nouveau (wanted by pci:v1)')
  t.match(text, 'warn report: stopped waiting after 1.2 s (modload.timeout)')
  t.match(text, /hung=1 /)
  t.notOk(succeeded(r))
})

t.test('levels and success', async (t) => {
  t.equal(levelOf({ name: 'a', status: 'failed', error: new SysError('finit_module', 8) }), 'error')
  t.equal(levelOf({ name: 'a', status: 'failed', error: new SysError('finit_module', 19) }), 'detail')
  t.equal(levelOf({ name: 'a', status: 'skipped', because: 'b' }), 'warn')
  t.equal(levelOf({ name: 'a', status: 'loaded' }), 'detail')
  t.equal(describe({ name: 'a', status: 'live', ms: 1 }), 'live-already a ms=1.0')
  t.ok(succeeded(report()), 'ENODEV: the driver found no device, not a failure of the boot')
  const enodev = { name: 'edac_mce_amd', status: 'failed' as const, error: new SysError('finit_module', 19) }
  t.ok(succeeded(report({ results: [enodev, { name: 'amd64_edac', status: 'skipped', because: 'edac_mce_amd' }] })), 'nor what it skips')
  t.notOk(succeeded(report({ results: [{ name: 'a', status: 'failed', error: new SysError('finit_module', 8) }, { name: 'b', status: 'skipped', because: 'a' }] })))
  t.notOk(succeeded(report({ results: [{ name: 'a', status: 'skipped', because: 'x' }] })))
})

t.test('stopped early on purpose: what was queued is left to the root, not a failure', async (t) => {
  const r = report({ results: [{ name: 'virtio_net', status: 'loaded', ms: 1 }], stoppedEarly: true, blocked: [{ name: 'snd_hda_intel', on: [] }, { name: 'e1000', on: [] }] })
  t.ok(succeeded(r))
  t.same(lines(r).filter(([, l]) => l.includes('left to the root')), [['info', 'report left to the root (modload.handover=early): snd_hda_intel, e1000']])
  t.notOk(succeeded(report({ blocked: [{ name: 'x', on: ['y'] }] })), 'not started without an early stop is a failure')
})

t.test('an errno the table has no hint for gets its text, not its code twice', async (t) => {
  const eio = describe({ name: 'modload_fail', status: 'failed', path: '/m/modload_fail.ko', error: new SysError('finit_module', 5, '/m/modload_fail.ko') })
  t.equal(eio, "failed modload_fail: EIO (Input/output error): the module's init failed talking to its hardware (it returned -EIO); see dmesg for the driver's reason [/m/modload_fail.ko]")
  const erange = describe({ name: 'x', status: 'failed', error: new SysError('finit_module', 34, '/m/x.ko') })
  t.equal(erange, "failed x: ERANGE (Numerical result out of range): probably what the module's own init returned; see dmesg for the driver's reason [/m/x.ko]")
})

t.test('oopsDuring: TAINT_DIE newly set, pinned on the one load in flight or the one stuck in Loading', async (t) => {
  const hung = (...names: string[]): { hung: { name: string; ms: number }[] } => ({ hung: names.map((name) => ({ name, ms: 8000 })) })
  // 4096|8192: out-of-tree and unsigned modules, as the test modules taint; no oops
  t.equal(oopsDuring(hung('modload_hang'), { taintedBefore: 0, taintedAfter: 4096 | 8192, loading: ['modload_hang'] }), null, 'a hang is not an oops')
  t.same(oopsDuring(hung('modload_oops'), { taintedBefore: 0, taintedAfter: TAINT_DIE | 4096, loading: [] }), { module: 'modload_oops', inFlight: ['modload_oops'] }, 'the only load in flight')
  t.same(
    oopsDuring(hung('modload_hang', 'modload_oops', 'slow'), { taintedBefore: 4096, taintedAfter: TAINT_DIE | 4096, loading: ['modload_oops', 'virtio_net'] }),
    { module: 'modload_oops', inFlight: ['modload_hang', 'modload_oops', 'slow'] },
    'the one in flight that /proc/modules shows as Loading',
  )
  t.same(oopsDuring(hung('a', 'b'), { taintedBefore: 0, taintedAfter: TAINT_DIE, loading: ['a', 'b'] }), { inFlight: ['a', 'b'] }, 'two stuck: not named')
  t.same(oopsDuring(hung(), { taintedBefore: null, taintedAfter: TAINT_DIE, loading: [] }), { inFlight: [] }, 'an oops outside any load')
  t.equal(oopsDuring(hung('a'), { taintedBefore: TAINT_DIE, taintedAfter: TAINT_DIE, loading: ['a'] }), null, 'oopsed before coldplug: not this one')
  t.equal(oopsDuring(hung('a'), { taintedBefore: 0, taintedAfter: null, loading: ['a'] }), null, 'no /proc/sys/kernel/tainted')
})

t.test('parseTainted', async (t) => {
  t.equal(parseTainted('12416\n'), 12416)
  t.equal(parseTainted(' 0 '), 0)
  t.equal(parseTainted(null), null)
  t.equal(parseTainted('x'), null)
})

t.test('the report names the oopsed module instead of calling it hung, and counts it as failed', async (t) => {
  const r = report({ results: [], hung: [{ name: 'modload_oops', ms: 7900 }, { name: 'modload_hang', ms: 7950 }], timedOut: true })
  // without the oops argument, both are hung (the old report)
  t.match(lines(r).map(([, l]) => l).join('\n'), /hung=2 /)
  const done = (o: [string, string][]): string => o.map(([, l]) => l).find((l) => l.startsWith('coldplug done')) ?? ''
  const withOops: [string, string][] = []
  printReport((l, level = 'info') => withOops.push([level, l]), r, { module: 'modload_oops', inFlight: ['modload_oops', 'modload_hang'] })
  const text = withOops.map(([lv, l]) => `${lv} ${l}`)
  t.ok(text.includes('error report oops modload_oops: the kernel oopsed in its init (see dmesg); the load never returns and the module stays half-loaded (Loading) until reboot'))
  t.notOk(text.some((l) => l.includes('report hung modload_oops')), 'not hung')
  t.ok(text.some((l) => l.startsWith('error report hung modload_hang: init still running after 8.0 s')), 'the real hang still is')
  t.match(done(withOops), / failed=1 hung=1 /)
  const unnamed: [string, string][] = []
  printReport((l, level = 'info') => unnamed.push([level, l]), r, { inFlight: ['modload_oops', 'modload_hang'] })
  t.ok(unnamed.some(([lv, l]) => lv === 'error' && l === 'report oops: the kernel oopsed during coldplug while modload_oops, modload_hang were loading (see dmesg)'))
  t.match(done(unnamed), / failed=0 hung=2 /, 'unnamed: the loads stay hung')
  t.notOk(succeeded(r))
})
