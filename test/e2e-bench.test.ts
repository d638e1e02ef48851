// The end-to-end boot benchmark's pure parts (bench/e2e.ts): the console parsers, the failure
// reason, the round order, medians and "cannot", ratios, the table and the chart. No QEMU here:
// the benchmark itself boots (npm run bench:e2e).
import t from 'tap'
import {
  docBase,
  contenders,
  countListing,
  extraCmdline,
  failureReason,
  giveUp,
  labels,
  median,
  modloadImageKey,
  moduleListFor,
  optionsFromEnv,
  parseStartLine,
  rootDiskModules,
  rotate,
  summarise,
  summaryLines,
  svgChart,
  table,
  verdicts,
  type Sample,
} from '../bench/e2e.js'

const log = () => undefined

t.test('parseStartLine: modload\'s first line, also mid-line after kernel text', async (t) => {
  t.same(parseStartLine(['[    1.2] something', 'modload: start uptime=4.52 idle=0.31', 'modload: start uptime=9.99']), { uptime: 4.52, idle: 0.31 })
  t.same(parseStartLine(['[    3.1] random: crng init donemodload: start uptime=5.10']), { uptime: 5.1, idle: undefined })
  t.equal(parseStartLine(['peers: root uptime=3.1 idle=1.0 pid=1']), undefined)
})

t.test("giveUp: tiny-initramfs's boot stops at a module it could not load, not at its other lines", async (t) => {
  t.ok(giveUp['tiny-initramfs']?.test("Couldn't load /virtio_blk.ko.xz: Exec format error"))
  t.notOk(giveUp['tiny-initramfs']?.test('virtio_blk virtio1: [vda] 65536 512-byte logical blocks'))
})

t.test('failureReason: each tool\'s words, most specific first, and how the boot ended', async (t) => {
  t.equal(
    failureReason(['modload: root: error: no device UUID=x appeared in 30 s (disks seen: none)', 'Kernel panic - not syncing: Attempted to kill init!'], false, true),
    'kernel panic: root: error: no device UUID=x appeared in 30 s (disks seen: none)',
  )
  t.equal(
    failureReason(['Gave up waiting for root file system device.  Common problems:', ' - Boot args', 'ALERT!  UUID=x does not exist.  Dropping to a shell!'], false, false),
    'powered off without reaching the root: Gave up waiting for root file system device.',
  )
  t.equal(
    failureReason(['\x1b[0;1;31m TIME \x1b[0m] Timed out waiting for device \x1b[0;1;39mdev-disk-by\x2duuid-7e57.device\x1b[0m.'], false, false),
    'powered off without reaching the root: Timed out waiting for device dev-disk-by\x2duuid-7e57.device.',
    'systemd\'s colours removed',
  )
  t.equal(
    failureReason(['\x1b[0;1;31m TIME \x1b[0m] Timed out waiting for device \x1b[0;1;…7b007-0000-4000-8000-00000000beef.'], false, false),
    'powered off without reaching the root: Timed out waiting for device …7b007-0000-4000-8000-00000000beef.',
    'also an escape cut short by systemd\'s ellipsis',
  )
  t.equal(failureReason(['[  80.1] dracut-initqueue[200]: Warning: Could not boot.'], false, false), 'powered off without reaching the root: Could not boot.')
  t.equal(failureReason(['nothing useful'], true, false), 'timed out')
  t.equal(failureReason(["Couldn't load /virtio_blk.ko.xz: Exec format error"], false, false, true), "stopped at a line that rules the root out: Couldn't load /virtio_blk.ko.xz: Exec format error")
  t.ok(failureReason([`root: error: ${'x'.repeat(400)}`], false, false).length < 200, 'cut to a line')
})

t.test('rotate: round r starts with the r-th contender', async (t) => {
  t.same(rotate(['a', 'b', 'c'], 0), ['a', 'b', 'c'])
  t.same(rotate(['a', 'b', 'c'], 1), ['b', 'c', 'a'])
  t.same(rotate(['a', 'b', 'c'], 5), ['c', 'a', 'b'])
  t.same(rotate([], 3), [])
  const firsts = [0, 1, 2, 3, 4, 5, 6].map((r) => rotate(contenders, r)[0])
  t.same(new Set(firsts).size, contenders.length, 'every contender leads one round of seven')
})

t.test('median', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 2, 3]), 2.5)
  t.equal(median([]), undefined)
})

t.test('moduleListFor: built-in modules dropped, unknown ones refused, names normalised', async (t) => {
  const dep = 'kernel/drivers/nvme/host/nvme.ko: kernel/drivers/nvme/host/nvme-core.ko\nkernel/fs/ext4/ext4.ko.xz: kernel/fs/jbd2/jbd2.ko.xz\nkernel/crypto/crc32c_generic.ko:\n'
  const builtin = 'kernel/drivers/virtio/virtio_pci.ko\n'
  t.same(moduleListFor(['virtio_pci', 'nvme', 'ext4', 'crc32c-generic'], dep, builtin), ['nvme', 'ext4', 'crc32c-generic'])
  t.throws(() => moduleListFor(['ahci'], dep, builtin), /ahci is neither in modules.dep nor in modules.builtin/)
  t.same(rootDiskModules.virtio, ['virtio_pci', 'virtio_blk', 'ext4', 'crc32c_generic'])
})

t.test('extraCmdline: the two modload rows differ only by the hand-over word', async (t) => {
  t.equal(extraCmdline['modload-early'].replace('modload.handover=early ', ''), extraCmdline.modload)
})

t.test('countListing: regular files and .ko files of lsinitramfs -l', async (t) => {
  const text = [
    'drwxr-xr-x   2 root     root            0 Jan  1  1970 usr/lib/modules',
    '-rw-r--r--   1 root     root        58257 Jan  1  1970 usr/lib/modules/6.1.0-56-amd64/kernel/fs/ext4/ext4.ko',
    '-rw-r--r--   1 root     root         1000 Nov 29 06:42 usr/lib/modules/6.12/kernel/a.ko.xz',
    '-rwxr-xr-x   1 root     root      7000000 Jan  1  1970 init',
    'lrwxrwxrwx   1 root     root            7 Jan  1  1970 bin -> usr/bin',
  ].join('\n')
  t.same(countListing(text), { files: 3, modules: 2 })
})

t.test('modloadImageKey: changes with every input', async (t) => {
  const base = { exeSize: 1, exeMtimeMs: 2, kver: '6.1.0-56-amd64', kernelRoot: '/k', captureDigest: 'abc', args: ['--rootfs', 'ext4'] }
  const k = modloadImageKey(base)
  t.match(k, /^[0-9a-f]{16}$/)
  t.equal(modloadImageKey({ ...base }), k)
  for (const change of [{ exeSize: 9 }, { exeMtimeMs: 9 }, { kver: 'x' }, { captureDigest: 'abd' }, { args: ['--rootfs', 'xfs'] }]) t.not(modloadImageKey({ ...base, ...change }), k, JSON.stringify(change))
})

t.test('optionsFromEnv: defaults and checks', async (t) => {
  const o = optionsFromEnv({}, [], log)
  t.same([o.runs, o.machines, o.flavor, o.write], [3, ['virtio', 'q35', 'legacy-pc'], '6.1', false])
  const p = optionsFromEnv({ BENCH_E2E_RUNS: '5', BENCH_E2E_MACHINES: 'q35, virtio', BENCH_E2E_KERNEL: '6.12' }, ['--write'], log)
  t.same([p.runs, p.machines, p.flavor, p.write], [5, ['q35', 'virtio'], '6.12', true])
  t.same(o.qemuArgs, [])
  t.same(optionsFromEnv({ BENCH_E2E_QEMU_ARGS: ' -icount  shift=0 ' }, [], log).qemuArgs, ['-icount', 'shift=0'])
  t.throws(() => optionsFromEnv({ BENCH_E2E_RUNS: '0' }, [], log), /BENCH_E2E_RUNS/)
  t.throws(() => optionsFromEnv({ BENCH_E2E_MACHINES: 'nope' }, [], log), /unknown machine "nope"/)
  t.throws(() => optionsFromEnv({ BENCH_E2E_MACHINES: 'hba-mix' }, [], log), /no root disk module list/)
  t.throws(() => optionsFromEnv({ BENCH_E2E_KERNEL: '5.10' }, [], log), /choose one of/)
})

/** A boot that reached the root. */
const ok = (machine: string, contender: Sample['contender'], round: number, uptime: number, idle: number, start?: number): Sample => ({ machine, contender, round, reached: true, uptime, idle, pid: 1, start })

const samples: Sample[] = [
  ok('virtio', 'modload', 1, 10, 2, 4),
  ok('virtio', 'modload', 2, 12, 3, 4.4),
  ok('virtio', 'modload', 3, 11, 2, 4.2),
  ok('virtio', 'modload-early', 1, 8, 2, 4),
  ok('virtio', 'initramfs-tools-most', 1, 12, 1),
  ok('virtio', 'initramfs-tools-most', 2, 14, 1),
  ok('virtio', 'initramfs-tools-most', 3, 13, 1),
  ok('virtio', 'dracut-generic', 1, 22, 4),
  { machine: 'virtio', contender: 'dracut-generic', round: 2, reached: false, failure: 'timed out' },
  ok('virtio', 'tiny-initramfs', 1, 3, 0.5),
  ok('virtio', 'tiny-initramfs', 2, 4, 0.5),
  ok('q35', 'modload', 1, 20, 2),
  { machine: 'q35', contender: 'initramfs-tools-dep', round: 1, reached: false, failure: 'powered off without reaching the root: Gave up waiting for root file system device.' },
  ok('q35', 'initramfs-tools-most', 1, 16, 1),
]

t.test('summarise: medians, CPU busy, first line, cannot, failed runs, ratios', async (t) => {
  const rows = summarise(samples, ['virtio', 'q35'], (m, c) => (c === 'tiny-initramfs' ? 700_000 : 30 * 2 ** 20))
  t.same(rows.map((r) => `${r.machine}/${r.contender}`), [
    'virtio/modload', 'virtio/modload-early', 'virtio/initramfs-tools-most', 'virtio/dracut-generic', 'virtio/tiny-initramfs',
    'q35/modload', 'q35/initramfs-tools-most', 'q35/initramfs-tools-dep',
  ].sort((a, b) => {
    const order = (s: string) => ['virtio', 'q35'].indexOf(s.split('/')[0]) * 100 + contenders.indexOf(s.split('/')[1] as never)
    return order(a) - order(b)
  }))
  const m = rows.find((r) => r.machine === 'virtio' && r.contender === 'modload')!
  t.equal(m.median, 11)
  t.same(m.runs, [10, 12, 11])
  t.equal(m.busy, 9, 'median of 8, 9, 9')
  t.equal(m.first, 4.2)
  t.equal(m.afterFirst?.toFixed(2), '6.80', 'median of 6, 7.6, 6.8')
  t.equal(rows.find((r) => r.contender === 'tiny-initramfs')!.afterFirst, undefined, 'no first line, no split')
  t.equal(m.vs['initramfs-tools-most'], 11 / 13)
  t.equal(m.vs['dracut-generic'], 0.5)
  t.equal(m.vs['tiny-initramfs'], 11 / 3.5)
  const d = rows.find((r) => r.machine === 'virtio' && r.contender === 'dracut-generic')!
  t.same([d.median, d.failed, d.cannot], [22, 1, undefined], 'a later failure counts as failed, not cannot')
  const dep = rows.find((r) => r.machine === 'q35' && r.contender === 'initramfs-tools-dep')!
  t.match(dep.cannot, /Gave up waiting/)
  t.equal(dep.median, undefined)
  t.equal(dep.bytes, 30 * 2 ** 20, 'the size is known even when it cannot boot')
  t.equal(rows.find((r) => r.machine === 'q35' && r.contender === 'modload')!.vs['tiny-initramfs'], undefined, 'no tiny-initramfs run on q35: no ratio')
})

t.test('verdicts and summary lines: modload against the fastest peer and the fastest udev-based one', async (t) => {
  const rows = summarise(samples, ['virtio', 'q35'])
  const v = verdicts(rows)
  t.equal(v[0].best?.contender, 'tiny-initramfs')
  t.equal(v[0].bestUdev?.contender, 'initramfs-tools-most')
  t.equal(v[1].best?.contender, 'initramfs-tools-most', 'a contender that cannot boot is no best peer')
  const lines = summaryLines(rows)
  t.match(lines[0], /^virtio: modload \/ best peer 3\.14x \(tiny-initramfs 3\.50 s\); with handover=early 2\.29x/)
  t.match(lines[0], /best udev-based peer 0\.85x \(initramfs-tools MODULES=most 13\.00 s\)/)
  t.match(lines[1], /^q35: modload \/ best peer 1\.25x .*handover=early n\/a/)
})

t.test('table: one row per image and machine, cannot with its reason, modload in bold', async (t) => {
  const text = table(summarise(samples, ['virtio', 'q35'], () => 2 ** 20))
  const lines = text.split('\n')
  t.equal(lines.length, 2 + 8)
  t.match(lines[0], /\| machine \| image \| size \(MiB\) \| kernel start → \/init's first line \(s\) \| first line → root's init \(s\) \| kernel start → root's init, median \(s\) \| runs \(s\) \| CPU busy, median \(s\) \| vs initramfs-tools MODULES=most \| vs dracut --no-hostonly \| vs tiny-initramfs \|/)
  t.equal(lines[2], '| virtio | modload | 1.0 | 4.20 | 6.80 | **11.00** | 10.00, 12.00, 11.00 | 9.00 | **0.85x** | **0.50x** | **3.14x** |')
  t.match(lines.find((l) => l.startsWith('| virtio | dracut --no-hostonly |'))!, /\| 22\.00 \| 22\.00 \(\+1 failed\) \| 18\.00 \| 1\.69x \| 1\.00x \| 6\.29x \|$/)
  t.match(lines.find((l) => l.includes('MODULES=dep'))!, /^\| q35 \| initramfs-tools MODULES=dep \| 1\.0 \| - \| - \| cannot: powered off without reaching the root: Gave up waiting/)
  const cells = (l: string) => l.split(/(?<!\\)\|/).length
  for (const l of lines) t.equal(cells(l), cells(lines[0]), `same column count: ${l.slice(0, 40)}`)
  t.ok(Object.values(labels).every((l) => !l.includes('|')))
})

t.test('svgChart: a bar per image that booted, the words where it cannot, valid markup', async (t) => {
  const rows = summarise(samples, ['virtio', 'q35'])
  const svg = svgChart(rows, 'Kernel start to root <test>')
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
  t.match(svg, /Kernel start to root &lt;test&gt;/)
  t.equal((svg.match(/<rect /g) ?? []).length, 1 + rows.filter((r) => r.median !== undefined).length, 'background and one bar per median')
  t.equal((svg.match(/<circle /g) ?? []).length, rows.reduce((n, r) => n + r.runs.length, 0), 'one dot per run')
  t.match(svg, /cannot boot this machine: Gave up waiting for root file system device\.</)
  t.equal((svg.match(/<svg/g) ?? []).length, (svg.match(/<\/svg>/g) ?? []).length)
  t.notMatch(svg, /NaN|undefined/)
})

t.test('each kernel keeps its own page: 6.1 the historic name, others a suffix', async (t) => {
  t.equal(docBase('6.1'), 'e2e-boot')
  t.equal(docBase('6.12'), 'e2e-boot-6.12')
  t.equal(docBase('6.1', ['-icount', 'shift=0']), 'e2e-boot-icount-shift-0', 'QEMU arguments get a page of their own')
  t.equal(docBase('6.12', ['-icount', 'shift=0']), 'e2e-boot-6.12-icount-shift-0')
  t.equal(docBase('6.1', []), 'e2e-boot')
})
