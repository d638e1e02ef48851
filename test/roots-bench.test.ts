// The pure parts of bench/roots.ts: targets, rows and the table.
import t from 'tap'
import { DEFAULT_TARGETS, parseTargets, rootsTable, summariseRoots, type RootSample } from '../bench/roots.js'

t.test('targets: MACHINE:DISK against qemu/machines.ts', async (t) => {
  t.same(parseTargets('hba-mix:sd0, odd-mix:esp0d'), [
    { machine: 'hba-mix', disk: 'sd0', device: 'sd-card' },
    { machine: 'odd-mix', disk: 'esp0d', device: 'scsi-hd,bus=esp0.0' },
  ])
  t.equal(parseTargets(DEFAULT_TARGETS.join(',')).length, DEFAULT_TARGETS.length, 'the defaults exist')
  t.throws(() => parseTargets('hba-mix'), /write MACHINE:DISK/)
  t.throws(() => parseTargets('hba-mix:nope'), /machine hba-mix has no disk nope \(its disks: lsi0d, mega0d, pv0d, usb0, sd0\)/)
  t.throws(() => parseTargets('mainframe:sd0'), /unknown QEMU machine "mainframe"/)
})

t.test('rows: medians, ratios to initramfs-tools on the same target, what cannot boot', async (t) => {
  const targets = parseTargets('hba-mix:sd0,odd-mix:esp0d')
  const s = (target: string, contender: RootSample['contender'], uptime?: number, start?: number): RootSample =>
    uptime === undefined ? { target, contender, reached: false, failure: 'Gave up waiting for root file system device.' } : { target, contender, reached: true, uptime, start }
  const samples = [
    s('hba-mix:sd0', 'modload', 4.0, 2.5),
    s('hba-mix:sd0', 'modload', 4.2, 2.6),
    s('hba-mix:sd0', 'modload-early', 3.4, 2.5),
    s('hba-mix:sd0', 'initramfs-tools-most', 8.0),
    s('odd-mix:esp0d', 'modload', 7.5),
    s('odd-mix:esp0d', 'modload-early', 7.4),
    s('odd-mix:esp0d', 'initramfs-tools-most'),
  ]
  const rows = summariseRoots(targets, new Map([['hba-mix:sd0', 'ext4 mmc_block sdhci_pci']]), samples)
  t.equal(rows.length, 6)
  t.same(rows.map((r) => [r.target, r.contender, r.median, r.ratio]), [
    ['hba-mix:sd0', 'modload', 4.1, 4.1 / 8],
    ['hba-mix:sd0', 'modload-early', 3.4, 3.4 / 8],
    ['hba-mix:sd0', 'initramfs-tools-most', 8, 1],
    ['odd-mix:esp0d', 'modload', 7.5, undefined],
    ['odd-mix:esp0d', 'modload-early', 7.4, undefined],
    ['odd-mix:esp0d', 'initramfs-tools-most', undefined, undefined],
  ])
  t.equal(rows[0].start, 2.55)
  t.equal(rows[5].cannot, 'Gave up waiting for root file system device.')
  const table = rootsTable(rows).split('\n')
  t.equal(table.length, 8)
  t.equal(table[2], '| hba-mix:sd0 | `sd-card` | ext4 mmc_block sdhci_pci | modload | 2.55 | **4.10** | 4.00, 4.20 | 0.51x |')
  t.equal(table[7], '| odd-mix:esp0d | `scsi-hd,bus=esp0.0` | - | initramfs-tools MODULES=most | - | cannot: Gave up waiting for root file system device. | | |')
})
