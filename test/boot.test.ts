// End-to-end: dist/modload as /init of a real Debian kernel in QEMU.
// virtio machine (6.1 and 6.12): it must load the virtio drivers from the default image (the
// modules one by one in zstd, decompressed by modload; 6.12's .ko.xz recompressed at build, and
// virtio_pci built in there; the kernel's own xz path is faults-qemu's I and J), so that a
// network interface and /dev/vda exist, and report a broken module clearly, through /dev/kmsg
// too, while the rest still load.
// q35 machine (6.1, the whole module tree in the image): the devices that appear only after
// their bus driver loaded must get drivers too, the late one above all: the USB disk, whose
// SCSI device shows up a second after usb-storage binds (the old rescan loop missed it).
import t from 'tap'
import { writeFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import { ensureKernel, kernelFlavors } from '../qemu/kernels.js'
import { ensureHostTools } from '../qemu/deps.js'
import { boot, markers } from '../qemu/boot.js'
import { ensureExecutable, ensureImage } from '../qemu/artefacts.js'
import { cacheDir } from '../qemu/paths.js'
import { openModuleDb } from '../src/core/moddb-fs.js'

const junk = path.join(cacheDir, 'tmp', 'junk-module.ko')

t.before(async () => {
  await ensureHostTools()
  await ensureExecutable()
  await mkdir(path.dirname(junk), { recursive: true })
  await writeFile(junk, 'this is not an ELF module\n')
})

for (const flavor of kernelFlavors) {
  t.test(`virtio machine on ${flavor}`, async (t) => {
    const kernel = await ensureKernel(flavor)
    const db = openModuleDb(kernel.root, kernel.version)
    const rng = db.modules.get('virtio_rng')
    if (!rng) throw new Error(`virtio_rng is not a module in ${kernel.version}`)
    const image = await ensureImage({
      kernel,
      name: 'virtio-broken-rng',
      modules: ['virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_rng'],
      // virtio_rng replaced by garbage: its load must fail on its own
      add: [[junk, `/lib/modules/${kernel.version}/${rng.path}`]],
    })
    // NAME=VALUE words reach init's environment: these two ended Node as it started (exit 9,
    // a panic as PID 1) before the executable dropped NODE_* variables (build/elf.mjs)
    const r = await boot({ kernel, initrd: image, machine: 'virtio', append: 'modload.halt NODE_ICU_DATA=/missing NODE_REPL_EXTERNAL_MODULE=x', timeoutMs: 300_000 })
    const m = markers(r.lines).map((l) => l.slice('modload: '.length))
    t.comment(m.join('\n'))
    t.notOk(r.timedOut, 'powered off by itself')
    t.notOk(r.panicked, 'no kernel panic')
    t.match(m[0] ?? '', /^start uptime=\d+\.\d+ idle=\d+\.\d+$/, 'first line is the start marker')
    t.ok(m.some((l) => /^halt uptime=\d+\.\d+ idle=\d+\.\d+$/.test(l)), 'halt marker')
    const live = new Set(m.filter((l) => l.startsWith('live ')).map((l) => l.slice(5)))
    for (const mod of ['virtio_net', 'virtio_blk']) t.ok(live.has(mod), `${mod} live`)
    if (db.builtin.has('virtio_pci')) t.notOk(live.has('virtio_pci'), 'virtio_pci is built in, not a module')
    else t.ok(live.has('virtio_pci'), 'virtio_pci live')
    t.notOk(live.has('virtio_rng'), 'the broken module is not live')
    t.notOk(m.some((l) => l.startsWith('loaded ')), 'per-module lines go to the kernel log only (without modload.debug)')
    const failed = m.find((l) => l.startsWith('failed virtio_rng: '))
    t.match(failed ?? '', /^failed virtio_rng: E[A-Z]+ \(.+\): .+ \[.*virtio.rng\.ko/, 'the failure names the module, the errno and what it means')
    t.ok(m.some((l) => /^net (?!lo$)\S+$/.test(l)), 'a network interface exists')
    t.ok(m.includes('block vda'), '/dev/vda exists')
    t.match(m.find((l) => l.startsWith('coldplug done')) ?? '', /failed=1 /)
    t.ok(m.some((l) => /^settled uptime=\d+\.\d+ idle=\d+\.\d+$/.test(l)), 'settled marker')
    // an error goes to /dev/kmsg at level 3, which the kernel prints on the console itself
    // (with "quiet" only levels below 4): a printk timestamp, and no second copy from us
    const raw = r.lines.filter((l) => l.includes('modload: failed virtio_rng'))
    t.equal(raw.length, 1, 'the failure is on the console once')
    t.match(raw[0] ?? '', /^\[\s*\d+\.\d+\] modload: failed virtio_rng/, 'through the kernel log')
  })
}

t.test('q35 machine on 6.1: late devices (USB disk behind xHCI and usb-storage) get drivers', async (t) => {
  const kernel = await ensureKernel('6.1')
  // the whole tree as the coldplug bench holds it (one cached image)
  const image = await ensureImage({ kernel, name: 'all', modules: 'all', compress: 'lz4', moduleFiles: 'archive' })
  const r = await boot({ kernel, initrd: image, machine: 'q35', append: 'modload.halt', memMiB: 2048, timeoutMs: 400_000 })
  const m = markers(r.lines).map((l) => l.slice('modload: '.length))
  t.comment(m.filter((l) => !l.startsWith('live ')).join('\n'))
  t.notOk(r.timedOut, 'powered off by itself')
  t.notOk(r.panicked, 'no kernel panic')
  const live = new Set(m.filter((l) => l.startsWith('live ')).map((l) => l.slice(5)))
  for (const mod of ['nvme', 'e1000e', 'xhci_pci', 'usb_storage', 'sd_mod', 'virtio_gpu', 'i6300esb']) t.ok(live.has(mod), `${mod} live`)
  t.ok(m.includes('block sda'), 'the USB disk is /dev/sda')
  t.ok(m.includes('block nvme0n1'), 'the NVMe disk')
  t.ok(m.some((l) => /^net (?!lo$)\S+$/.test(l)), 'a network interface exists')
  const done = m.find((l) => l.startsWith('coldplug done')) ?? ''
  t.match(done, /^coldplug done events=\d+ scans=1 loaded=\d+ failed=\d+ hung=0 unmatched=\d+ ms=\d+\.\d$/, 'settled through uevents, one scan of /sys')
  t.ok(m.some((l) => /^settled uptime=\d+\.\d+ idle=\d+\.\d+$/.test(l)), 'settled marker')
})
