// The fault matrix, first slice (issue 11): misbehaving test modules (test/modules/*, built
// against the 6.1 kernel's headers) loaded by modload as /init through `modload.load=` on the
// virtio machine, next to the real virtio drivers. Three boots:
//   A. init fails (EIO), sleeps 2 s, never returns, gets a malformed parameter, needs a symbol
//      nobody exports: each is reported with its errno and what it means, the hang at
//      modload.timeout, and the machine still halts with every virtio driver live;
//   B. init oopses (NULL dereference in the thread that called finit_module): reported as an
//      oops, not as a hang, and the machine still halts with every virtio driver live;
//   C. module.sig_enforce=1 and an unsigned module: EKEYREJECTED, explained; Debian's own
//      (signed) virtio drivers still load.
// `loglevel=7` puts the kernel's own messages (the module's pr_info, "Unknown symbol", the
// Oops) and modload's per-module lines (kmsg level 6) on the console.
import t, { type Test } from 'tap'
import path from 'node:path'
import { ensureExecutable, ensureImage } from '../qemu/artefacts.js'
import { boot, markers, type BootResult } from '../qemu/boot.js'
import { ensureHostTools } from '../qemu/deps.js'
import { ensureKernel, type Kernel } from '../qemu/kernels.js'
import { ensureTestRoot, type TestRoot } from '../qemu/test-modules.js'

const VIRTIO = ['virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_rng']
const FAULTS = ['modload_fail', 'modload_sleep', 'modload_hang', 'modload_badparam', 'modload_unknown_symbol', 'modload_oops']
const TIMEOUT_S = 8

let kernel: Kernel
let root: TestRoot
let initrd: string
t.before(async () => {
  await ensureHostTools()
  await ensureExecutable()
  kernel = await ensureKernel('6.1')
  root = await ensureTestRoot(kernel, { name: 'faults' })
  initrd = await ensureImage({ kernel: { ...kernel, root: root.root }, name: `faults-${path.basename(root.root)}`, modules: [...VIRTIO, ...FAULTS] })
})

interface Seen {
  /** modload's lines, once each (a line can come both from us and from the kernel's echo of kmsg) */
  modload: string[]
  live: Set<string>
  /** the whole console, printk timestamps cut off */
  console: string[]
}

function show(t: Test, r: BootResult): Seen {
  const strip = (l: string): string => l.replace(/^\[\s*\d+\.\d+\] /, '')
  const modload = [...new Set(markers(r.lines).map((l) => strip(l.slice('modload: '.length))))]
  const live = new Set(modload.filter((l) => l.startsWith('live ')).map((l) => l.slice(5)))
  t.comment(modload.filter((l) => !l.startsWith('live ') && !l.startsWith('no driver for ')).join('\n'))
  // what the kernel itself said about the test modules
  t.comment(r.lines.filter((l) => !l.includes('modload:') && /modload_|BUG:|Oops|RIP:|Tainted|module is rejected/.test(l)).join('\n'))
  if (r.timedOut || r.panicked) t.comment(r.lines.slice(-60).join('\n'))
  return { modload, live, console: r.lines.map(strip) }
}

/** Every virtio driver live, and the machine powered off by PID 1 itself. */
function healthy(t: Test, r: BootResult, s: Seen): void {
  t.notOk(r.timedOut, 'powered off by itself')
  t.notOk(r.panicked, 'no kernel panic (PID 1 never exited)')
  t.ok(s.modload.some((l) => /^halt uptime=/.test(l)), 'the halt marker: init got past coldplug')
  for (const m of VIRTIO) t.ok(s.live.has(m), `${m} live, as without the fault`)
  t.ok(s.modload.includes('block vda'), '/dev/vda exists')
}

const line = (s: Seen, prefix: string): string => s.modload.find((l) => l.startsWith(prefix)) ?? ''

t.test('A: failing, slow, hung, badly parametrised and unresolvable inits', async (t) => {
  const load = ['modload_fail', 'modload_sleep', 'modload_hang', 'modload_badparam', 'modload_unknown_symbol']
  const append = `modload.halt modload.timeout=${TIMEOUT_S} modload.load=${load.join(',')} modload_badparam.count=notanumber modload_sleep.ms=2000 loglevel=7`
  const r = await boot({ kernel, initrd, machine: 'virtio', append, timeoutMs: 300_000 })
  const s = show(t, r)
  healthy(t, r, s)

  t.match(line(s, 'report failed modload_fail: '), /^report failed modload_fail: EIO \(Input\/output error\): .*init.* \[.*modload_fail\.ko\]$/, 'EIO, with its text and a hint')
  t.notOk(s.live.has('modload_fail'), 'modload_fail is not live')

  t.ok(s.console.some((l) => l.includes("modload_badparam: `notanumber' invalid for parameter `count'")), 'the kernel names the bad parameter')
  t.match(line(s, 'report failed modload_badparam: '), /^report failed modload_badparam: EINVAL \(Invalid parameters\): a parameter given to the module .* is unknown or malformed/, 'EINVAL, explained as a parameter problem')
  t.notOk(s.live.has('modload_badparam'), 'modload_badparam is not live')

  t.ok(s.console.some((l) => l.includes('modload_unknown_symbol: Unknown symbol modload_no_such_symbol')), 'the kernel names the missing symbol')
  t.match(line(s, 'report failed modload_unknown_symbol: '), /^report failed modload_unknown_symbol: ENOENT \(Unknown symbol in module\): /, 'ENOENT, in kmod\'s words')
  t.notOk(s.live.has('modload_unknown_symbol'), 'modload_unknown_symbol is not live')

  t.ok(s.live.has('modload_sleep'), 'modload_sleep is live')
  const slept = /^loaded modload_sleep ms=(\d+\.\d)$/.exec(line(s, 'loaded modload_sleep '))
  t.ok(slept, 'its load is logged')
  // msleep sleeps at least as long as asked: a lower bound, not a timing
  t.ok(Number(slept?.[1]) >= 2000, `the load took the 2 s its init sleeps (${slept?.[1]} ms)`)

  const hung = /^report hung modload_hang: init still running after (\d+\.\d) s/.exec(line(s, 'report hung modload_hang'))
  t.ok(hung, 'modload_hang is reported as hung')
  const stopped = /^report: stopped waiting after (\d+\.\d) s \(modload\.timeout\)$/.exec(line(s, 'report: stopped waiting after '))
  t.ok(stopped, 'coldplug stopped waiting at modload.timeout')
  t.ok(Number(stopped?.[1]) >= TIMEOUT_S, `after the ${TIMEOUT_S} s asked for (${stopped?.[1]} s)`)
  t.notOk(s.modload.some((l) => l.startsWith('report oops')), 'a hang is not an oops')
  t.match(line(s, 'coldplug done'), / failed=3 hung=1 /, 'three failures and one hang counted')
  t.ok(s.modload.indexOf(line(s, 'coldplug done')) < s.modload.findIndex((l) => l.startsWith('halt uptime=')), 'the halt comes after coldplug gave up on the hang')
})

t.test('B: an init that oopses', async (t) => {
  const append = `modload.halt modload.timeout=${TIMEOUT_S} modload.load=modload_oops loglevel=7`
  const r = await boot({ kernel, initrd, machine: 'virtio', append, timeoutMs: 300_000 })
  const s = show(t, r)
  healthy(t, r, s)
  t.ok(s.console.some((l) => /BUG: kernel NULL pointer dereference/.test(l)), 'the kernel oopsed')
  t.ok(s.console.some((l) => /RIP: \S+:modload_oops_init\b/.test(l)), 'in modload_oops_init')
  t.match(line(s, 'report oops modload_oops: '), /^report oops modload_oops: the kernel oopsed in its init \(see dmesg\)/, 'reported as an oops, naming the module')
  t.notOk(s.modload.some((l) => l.startsWith('report hung modload_oops')), 'not as a hung init')
  // it stays in /proc/modules in state Loading until reboot: not live
  t.notOk(s.live.has('modload_oops'), 'modload_oops is not live')
  t.match(line(s, 'coldplug done'), / failed=1 hung=0 /, 'counted as a failure, not a hang')
})

t.test('C: module.sig_enforce=1 and an unsigned module', async (t) => {
  const append = 'modload.halt module.sig_enforce=1 modload.load=modload_fail loglevel=7'
  const r = await boot({ kernel, initrd, machine: 'virtio', append, timeoutMs: 300_000 })
  const s = show(t, r)
  healthy(t, r, s)
  t.ok(s.console.some((l) => /Loading of unsigned module is rejected/.test(l)), 'the kernel rejects the unsigned module')
  t.notOk(s.console.some((l) => l.includes('modload_fail: failing with -EIO')), 'its init never ran')
  t.match(line(s, 'report failed modload_fail: '), /^report failed modload_fail: EKEYREJECTED \(Key was rejected by service\): .*unsigned/, 'EKEYREJECTED, explained')
  t.match(line(s, 'coldplug done'), / failed=1 hung=0 /, 'the one failure')
})
