// `modload scan` (src/image/scan.ts, src/tools/scan.ts): devices resolved against a target
// kernel's indexes, each module's state, the table, the JSON; then the tool over the fake
// sysfs of test/fixtures/sysfs/pc and the small module tree of test/fixtures/tree.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { buildModuleDb } from '../src/core/moddb.js'
import { buildConfig } from '../src/config/config.js'
import { formatJson, formatTable, scanRows, summarize, summaryLine, type ScanRow } from '../src/image/scan.js'
import type { HostFacts } from '../src/image/host.js'
import { scanTool } from '../src/tools/scan.js'
import { runTool } from './fixtures/tools/io.js'

const PC = fileURLToPath(new URL('./fixtures/sysfs/pc', import.meta.url))
const TREE = fileURLToPath(new URL('./fixtures/tree', import.meta.url))

const db = buildModuleDb('/lib/modules/6.1.0-scan', {
  dep: [
    'kernel/drivers/ata/ahci.ko: kernel/drivers/ata/libahci.ko',
    'kernel/drivers/ata/libahci.ko:',
    'kernel/drivers/scsi/sd_mod.ko:',
    'kernel/drivers/net/virtio_net.ko:',
    'kernel/drivers/net/ethernet/intel/e1000/e1000.ko:',
    'kernel/drivers/usb/host/xhci-pci.ko:',
    'kernel/drivers/hid/usbhid/usbhid.ko:',
    'kernel/drivers/hid/hid-generic.ko:',
    'kernel/arch/x86/crypto/aesni-intel.ko:',
    'kernel/arch/x86/crypto/crc32c-intel.ko:',
    '',
  ].join('\n'),
  alias: [
    'alias pci:v00008086d00002922sv*sd*bc*sc*i* ahci',
    'alias pci:v*d*sv*sd*bc01sc06i01* ahci',
    'alias scsi:t-0x00* sd_mod',
    'alias virtio:d00000001v* virtio_net',
    'alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000',
    'alias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci',
    'alias usb:v*p*d*dc*dsc*dp*ic03isc*ip*in* usbhid',
    'alias hid:b*g0001v*p* hid_generic',
    'alias cpu:type:x86,ven*fam*mod*:feature:*0001* aesni_intel',
    'alias cpu:type:x86,ven*fam*mod*:feature:*0002* crc32c_intel',
    '',
  ].join('\n'),
  builtin: 'kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/usb/core/usbcore.ko\n',
  builtinModinfo: 'virtio_pci.alias=pci:v00001AF4d*sv*sd*bc*sc*i*\0usbcore.alias=usb:v*p*d*dc*dsc*dp*ic09isc*ip*in*\0usbcore.license=GPL\0',
})

const facts: Pick<HostFacts, 'devices' | 'loaded'> = {
  devices: [
    { path: 'devices/pci0000:00/0000:00:01.1', modalias: 'pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01', driver: 'ahci', module: 'ahci' },
    { path: 'devices/pci0000:00/0000:00:01.1/ata1/host0/target0:0:0/0:0:0:0', modalias: 'scsi:t-0x00', driver: 'sd', module: 'sd_mod' },
    { path: 'devices/pci0000:00/0000:00:02.0', modalias: 'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00', driver: 'virtio-pci', module: 'virtio_pci' },
    { path: 'devices/pci0000:00/0000:00:02.0/virtio0', modalias: 'virtio:d00000001v00001AF4', driver: 'virtio_net', module: 'virtio_net' },
    { path: 'devices/pci0000:00/0000:00:03.0', modalias: 'pci:v00008086d0000100Esv00008086sd0000001Ebc02sc00i00' },
    { path: 'devices/pci0000:00/0000:00:04.0', modalias: 'pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30', driver: 'xhci_hcd', module: 'xhci_pci' },
    { path: 'devices/pci0000:00/0000:00:04.0/usb1/1-0:1.0', modalias: 'usb:v1D6Bp0003d0601dc09dsc00dp03ic09isc00ip00in00', driver: 'hub', module: 'usbcore' },
    { path: 'devices/pci0000:00/0000:00:04.0/usb1/1-1/1-1:1.0', modalias: 'usb:v0627p0001d0000dc00dsc00dp00ic03isc00ip00in00', driver: 'usbhid', module: 'usbhid' },
    { path: 'devices/platform/serial8250', modalias: 'platform:serial8250', driver: 'serial8250' },
    { path: 'devices/system/cpu/cpu0', modalias: 'cpu:type:x86,ven0000fam0006mod003A:feature:,0000,0001,0002' },
  ],
  loaded: ['ahci', 'crc32c_intel', 'dm_crypt', 'ext4', 'oldmod', 'sd_mod', 'usbhid', 'virtio_net', 'xhci_pci'],
}

const brief = (rows: ScanRow[]): [string, string | null, string][] =>
  rows.map((r) => [r.path.slice(r.path.lastIndexOf('/') + 1), r.bound, r.modules.map((m) => `${m.name}:${m.state}`).join(',')])

t.test('rows: kmod lookup against the target, and each module state', async (t) => {
  const rows = scanRows(facts, db, null)
  t.same(brief(rows), [
    ['0000:00:01.1', 'ahci', 'ahci:loaded'], // two aliases, one module
    ['0:0:0:0', 'sd_mod', 'sd_mod:loaded'],
    ['0000:00:02.0', 'virtio_pci', 'virtio_pci:builtin'], // a built-in alias
    ['virtio0', 'virtio_net', 'virtio_net:loaded'],
    ['0000:00:03.0', null, 'e1000:available'],
    ['0000:00:04.0', 'xhci_pci', 'xhci_pci:loaded'],
    ['1-0:1.0', 'usbcore', 'usbcore:builtin'],
    ['1-1:1.0', 'usbhid', 'usbhid:loaded'],
    ['serial8250', 'serial8250', ''], // bound to a built-in driver with no module link
    ['cpu0', null, 'aesni_intel:available,crc32c_intel:loaded'],
  ])
  const s = summarize(rows, facts)
  t.same(s, { devices: 10, unmatched: 1, modules: 10, loaded: 6, builtin: 2, available: 2, missing: 0, otherLoaded: ['dm_crypt', 'ext4', 'oldmod'] })
  t.equal(summaryLine(s), '10 devices (1 without a driver), 10 modules needed: 6 loaded, 2 built in, 2 available, 0 not in the target kernel; 3 more loaded modules match no device')
})

t.test('modprobe.d aliases come first; a module the target lacks is "none"', async (t) => {
  const { config } = buildConfig([{ path: '/etc/modprobe.d/e1000e.conf', text: 'alias pci:v00008086d0000100E* e1000e\n' }], '')
  const rows = scanRows(facts, db, config)
  t.same(rows[4].modules, [{ name: 'e1000e', state: 'none' }])
  t.equal(summarize(rows, facts).missing, 1)
  // the host has a module loaded that the target kernel does not have
  const other = scanRows({ devices: [{ path: 'devices/x', modalias: 'virtio:d00000001v00001AF4' }], loaded: ['virtio_net'] }, buildModuleDb('/m', { dep: '' , alias: 'alias virtio:d00000001v* virtio_net\n' }), null)
  t.same(other[0].modules, [{ name: 'virtio_net', state: 'none' }], 'loaded on the host, missing in the target')
})

t.test('table: one device a line, columns aligned, modalias last', async (t) => {
  const rows = scanRows(facts, db, null)
  const lines = formatTable(rows).split('\n')
  t.equal(lines.pop(), '', 'ends with a newline')
  t.equal(lines.length, rows.length + 1, 'a header and one line per device')
  const starts = (l: string): number[] => ['BOUND', 'MODULES', 'MODALIAS'].map((h) => lines[0].indexOf(h)).map((i) => (l.slice(i - 2, i) === '  ' ? i : -1))
  for (const l of lines) t.notOk(starts(l).includes(-1), `columns aligned: ${l.slice(0, 60)}`)
  t.ok(lines.every((l, i) => i === 0 || l.endsWith(rows[i - 1].modalias)), 'the modalias ends each line')
  t.match(lines[10], /^devices\/system\/cpu\/cpu0 +- +aesni_intel \(available\), crc32c_intel \(loaded\) +cpu:type:x86/)
  t.match(lines[9], /^devices\/platform\/serial8250 +serial8250 +\(none\) +platform:serial8250$/)
  t.equal(
    formatTable(rows.slice(3, 5)),
    [
      'DEVICE                                   BOUND       MODULES              MODALIAS',
      'devices/pci0000:00/0000:00:02.0/virtio0  virtio_net  virtio_net (loaded)  virtio:d00000001v00001AF4',
      'devices/pci0000:00/0000:00:03.0          -           e1000 (available)    pci:v00008086d0000100Esv00008086sd0000001Ebc02sc00i00',
      '',
    ].join('\n'),
  )
})

t.test('table: a long module list overflows its column instead of widening it', async (t) => {
  const many = Array.from({ length: 8 }, (_, i) => ({ name: `cpu_feature_${i}`, state: 'available' as const }))
  const rows: ScanRow[] = [
    { path: 'devices/system/cpu', modalias: 'cpu:type:x86', bound: null, modules: many },
    { path: 'devices/platform/pcspkr', modalias: 'platform:pcspkr', bound: null, modules: [{ name: 'pcspkr', state: 'available' }] },
  ]
  const lines = formatTable(rows).split('\n')
  t.equal(lines[2], 'devices/platform/pcspkr  -      pcspkr (available)  platform:pcspkr')
  t.ok(lines[1].startsWith(`devices/system/cpu       -      ${many.map((m) => `${m.name} (available)`).join(', ')}  cpu:type:x86`))
})

t.test('JSON: an array of objects with a fixed key order', async (t) => {
  const rows = scanRows(facts, db, null)
  const parsed = JSON.parse(formatJson(rows)) as Record<string, unknown>[]
  t.equal(parsed.length, rows.length)
  for (const o of parsed) t.same(Object.keys(o), ['path', 'modalias', 'bound', 'modules'])
  t.same(parsed[4], { path: 'devices/pci0000:00/0000:00:03.0', modalias: 'pci:v00008086d0000100Esv00008086sd0000001Ebc02sc00i00', bound: null, modules: [{ name: 'e1000', state: 'available' }] })
  t.same(Object.keys((parsed[9].modules as object[])[1]), ['name', 'state'])
  t.same(parsed[8].modules, [])
})

t.test('modload scan over the fake PC and the fixture tree', async (t) => {
  const args = ['--sysfs', PC, '--kernel-root', TREE, '-k', '6.1.0-test']
  const r = await runTool(scanTool, args)
  t.equal(r.code, 0, r.err)
  const lines = r.out.trimEnd().split('\n')
  t.equal(lines.length, 1 + 11 + 1, 'header, 11 devices, summary')
  t.match(lines.find((l) => l.startsWith('devices/pci0000:00/0000:00:02.0/virtio0 ')) ?? '', /virtio_net +virtio_net \(loaded\) +virtio:d00000001v00001AF4$/)
  t.equal(lines.at(-1), '11 devices (10 without a driver), 1 modules needed: 1 loaded, 0 built in, 0 available, 0 not in the target kernel; 10 more loaded modules match no device')

  const j = await runTool(scanTool, [...args, '--json'])
  t.equal(j.code, 0)
  const parsed = JSON.parse(j.out) as { path: string; modules: unknown[] }[]
  t.equal(parsed.length, 11)
  t.same(parsed.find((o) => o.path.endsWith('/virtio0'))?.modules, [{ name: 'virtio_net', state: 'loaded' }])
  t.match(j.err, /^11 devices /, 'with --json the summary goes to stderr')

  // --save, then scanning the capture gives the same answer
  const dir = t.testdir()
  const s = await runTool(scanTool, ['--sysfs', PC, '--save', `${dir}/cap`])
  t.equal(s.code, 0)
  t.match(s.err, /entries captured/)
  t.equal(s.out, '')
  const again = await runTool(scanTool, ['--sysfs', `${dir}/cap`, '--kernel-root', TREE, '-k', '6.1.0-test'])
  t.equal(again.out, r.out)

  const noIndex = await runTool(scanTool, ['--sysfs', PC, '--kernel-root', TREE, '-k', '9.9.9-none'])
  t.equal(noIndex.code, 1)
  t.match(noIndex.err, /9\.9\.9-none\/modules\.dep: not found \(run "depmod/)
  const noSysfs = await runTool(scanTool, ['--sysfs', `${dir}/nothing`, '--kernel-root', TREE, '-k', '6.1.0-test'])
  t.equal(noSysfs.code, 1)
  t.match(noSysfs.err, /nothing\/devices: not found/)
})
