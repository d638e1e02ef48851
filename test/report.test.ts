import t from 'tap'
import { describe, levelOf, printReport, succeeded } from '../src/init/report.js'
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
    blocked: [{ name: 'needs_slow', on: ['slow'] }],
    timedOut: true,
    commands: [{ module: 'x', command: '/bin/true' }],
    blacklisted: [{ alias: 'pci:v1', module: 'nouveau' }],
  })
  const text = lines(r).map(([lv, l]) => `${lv} ${l}`).join('\n')
  t.match(text, 'error report hung slow: init still running after 60.0 s')
  t.match(text, 'error report not started needs_slow: waiting for slow')
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
