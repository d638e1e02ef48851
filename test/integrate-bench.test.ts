// The integration benchmark's pure parts (bench/integrate.ts): the console parsers, medians and
// ratios against the same builder's stock image, the table and the chart. No QEMU here.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { contenders, docBase, imageLines, optionsFromEnv, parseColdplugNotice, parseInitStamp, stampScript, summarise, svgChart, table, type Sample } from '../bench/integrate.js'

t.test('parseInitStamp and parseColdplugNotice', async (t) => {
  t.equal(parseInitStamp(['[ 1.0] x', 'integrate: init uptime=9.87 idle=0.01']), 9.87)
  t.equal(parseInitStamp(['peers: root uptime=3']), undefined)
  t.same(parseColdplugNotice(['[   22.44] modload: initramfs-tools: coldplug 12.76-22.15 s (exit 0); udev not started']), { start: 12.76, settled: 22.15, exit: 0 })
  t.same(parseColdplugNotice(["[ 24.0] modload: dracut: coldplug 16.25-23.90 s (exit 1); udev's driver loading off"]), { start: 16.25, settled: 23.9, exit: 1 })
  t.equal(parseColdplugNotice(['modload: coldplug done events=90']), undefined)
  t.same(
    parseColdplugNotice([
      '[    5.1] modload: initramfs-tools: coldplug 4.02-5.10 s (root device there; the rest goes on until init-bottom); udev not started',
      '[    6.3] modload: initramfs-tools: coldplug asked to stop at 6.02 s',
    ]),
    { start: 4.02, settled: 5.1, asked: 6.02 },
  )
  t.same(
    parseColdplugNotice([
      "[    5.1] modload: dracut: coldplug 4.02-5.10 s (root device there; the rest goes on until cleanup); udev's driver loading off",
      '[    6.3] modload: dracut: coldplug waited for from 6.02 s, ended by 6.31 s',
    ]),
    { start: 4.02, settled: 5.1, asked: 6.02, ended: 6.31 },
  )
})

t.test('the stamp script parses and execs /init', async (t) => {
  t.equal(spawnSync('sh', ['-n'], { input: stampScript }).status, 0)
  t.match(stampScript, /exec \/init "\$@"\n$/)
})

t.test('summarise: medians, /init to root, ratios to the same builder\'s stock image', async (t) => {
  const s = (contender: Sample['contender'], round: number, uptime: number, init: number): Sample => ({ machine: 'virtio', contender, round, reached: true, uptime, init })
  const samples: Sample[] = [
    s('initramfs-tools', 1, 20, 10), s('initramfs-tools', 2, 22, 10), s('initramfs-tools', 3, 21, 11),
    s('initramfs-tools+modload', 1, 18, 12), s('initramfs-tools+modload', 2, 19, 12), s('initramfs-tools+modload', 3, 17, 11),
    s('initramfs-tools+modload-settled', 1, 19, 12),
    s('initramfs-tools+modload-early', 1, 16, 9),
    s('dracut', 1, 30, 10), { machine: 'virtio', contender: 'dracut+modload', round: 1, reached: false, failure: 'timed out' },
    s('dracut+modload-early', 1, 27, 9),
  ]
  const rows = summarise(samples, ['virtio'])
  t.same(rows.map((r) => r.contender), contenders)
  const it = rows.find((r) => r.contender === 'initramfs-tools+modload')!
  t.equal(it.total, 18)
  t.equal(it.afterInit, 6)
  t.equal(it.vsStock?.total?.toFixed(3), (18 / 21).toFixed(3))
  t.equal(it.vsStock?.afterInit?.toFixed(3), (6 / 10).toFixed(3))
  t.equal(rows.find((r) => r.contender === 'initramfs-tools+modload-early')?.vsStock?.total?.toFixed(3), (16 / 21).toFixed(3), 'the early-runtime row against the same stock image')
  t.equal(rows.find((r) => r.contender === 'dracut+modload-early')?.vsStock?.afterInit?.toFixed(3), (18 / 20).toFixed(3), "dracut's early-runtime row against dracut's stock image")
  const failed = rows.find((r) => r.contender === 'dracut+modload')!
  t.equal(failed.failed, 1)
  t.equal(failed.total, undefined)
  const md = table(rows)
  t.match(md, '| virtio | initramfs-tools + modload | 12.00 | 6.00 | **18.00** | 18.00, 19.00, 17.00 | - | **0.60x** | **0.86x** |')
  t.match(md, '(+1 failed)')
  const svg = svgChart(rows, 'title <x>')
  t.match(svg, /^<svg /)
  t.match(svg, 'title &lt;x&gt;')
  t.match(svg, 'did not reach the root')
})

t.test('optionsFromEnv', async (t) => {
  const o = optionsFromEnv({}, ['--write'], () => undefined)
  t.same([o.runs, o.machines, o.write], [3, ['virtio', 'q35'], true])
  t.throws(() => optionsFromEnv({ BENCH_INTEGRATE_RUNS: '0' }, [], () => undefined), /whole number/)
  t.throws(() => optionsFromEnv({ BENCH_INTEGRATE_MACHINES: 'virtio,nope' }, [], () => undefined), /unknown machine "nope"/)
  t.same(o.contenders, contenders, 'every image by default')
  t.same(o.qemuArgs, [])
  t.same(optionsFromEnv({ BENCH_INTEGRATE_QEMU_ARGS: ' -icount  shift=0 ' }, [], () => undefined).qemuArgs, ['-icount', 'shift=0'])
  t.equal(docBase([]), 'integration')
  t.equal(docBase(['-icount', 'shift=0']), 'integration-icount-shift-0', 'a steady-clock run writes a page of its own')
  const some = optionsFromEnv({ BENCH_INTEGRATE_IMAGES: 'dracut+modload-early, initramfs-tools+modload' }, [], () => undefined)
  t.same(some.contenders, ['initramfs-tools', 'initramfs-tools+modload', 'dracut', 'dracut+modload-early'], "the chosen ones and their builders' stock images, in the table's order")
  t.throws(() => optionsFromEnv({ BENCH_INTEGRATE_IMAGES: 'dracut+nope' }, [], () => undefined), /unknown image "dracut\+nope"/)
  t.throws(() => optionsFromEnv({ BENCH_INTEGRATE_IMAGES: 'dracut' }, ['--write'], () => undefined), /leave BENCH_INTEGRATE_IMAGES unset/)
})

t.test('rotate and failureReason', async (t) => {
  const { rotate, failureReason } = await import('../bench/integrate.js')
  t.same(rotate(['a', 'b', 'c'], 4), ['b', 'c', 'a'])
  t.same(rotate([], 1), [])
  t.equal(failureReason(['x', 'ALERT!  UUID=1 does not exist.', ''], false, false), 'powered off without reaching the root: ALERT!  UUID=1 does not exist.')
  t.equal(failureReason([], true, false), 'timed out')
})

t.test('imageLines: one line per image file, the per-machine ones named with their machine', async (t) => {
  const img = (p: string, mib: number) => ({ path: p, bytes: mib * 2 ** 20, tool: 'tool 1' })
  t.same(
    imageLines({
      'initramfs-tools': { ...img('a.img', 30), notes: ['the build host has mdadm installed'] },
      'initramfs-tools+modload@virtio': img('b.img', 50),
      'initramfs-tools+modload-settled@virtio': img('b.img', 50),
      'initramfs-tools+modload@q35': img('c.img', 51),
    }),
    [
      '- initramfs-tools (stock): 30.0 MiB (tool 1)',
      '  - the build host has mdadm installed',
      '- initramfs-tools + modload (virtio): 50.0 MiB (tool 1); also booted as initramfs-tools + modload, modload.handover=settled',
      '- initramfs-tools + modload (q35): 51.0 MiB (tool 1)',
    ],
  )
  t.same(imageLines({ dracut: img('d.img', 34) }), ['- dracut (stock): 34.0 MiB (tool 1)'], 'a record of before the per-machine images')
})
