// Hook mode end to end: a busybox script as the initramfs's init (rdinit=) runs
// `modload coldplug` through a symlink, as an initramfs-tools or dracut hook would, on the
// virtio machine with Debian 6.1. It must load the virtio drivers, return once settled, and
// exit 1 because one module (virtio_rng, replaced by junk) fails.
// And on hba-mix, an SD card enumerated before coldplug starts must still get its driver.
import t from 'tap'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { ensureKernel } from '../qemu/kernels.js'
import { ensureHostTools, findCommand } from '../qemu/deps.js'
import { boot, markers } from '../qemu/boot.js'
import { ensureExecutable, ensureImage } from '../qemu/artefacts.js'
import { cacheDir, projectRoot } from '../qemu/paths.js'
import { openModuleDb } from '../src/core/moddb-fs.js'

const junk = path.join(cacheDir, 'tmp', 'junk-module.ko')
const script = path.join(projectRoot, 'test', 'fixtures', 'hook', 'hook-init.sh')

const busybox = (await findCommand('busybox')) ?? ''
const skip = busybox ? false : 'no busybox on this host (apt-get install busybox-static)'

t.test('modload coldplug from a busybox init: loads, settles, exits 1 for the broken module', { skip }, async (t) => {
  await ensureHostTools()
  await ensureExecutable()
  await mkdir(path.dirname(junk), { recursive: true })
  await writeFile(junk, 'this is not an ELF module\n')
  const kernel = await ensureKernel('6.1')
  const rng = openModuleDb(kernel.root, kernel.version).modules.get('virtio_rng')!
  const image = await ensureImage({
    kernel,
    name: 'hook',
    modules: ['virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_rng'],
    add: [
      [busybox, '/bin/busybox'],
      [script, '/hook-init'],
      [junk, `/lib/modules/${kernel.version}/${rng.path}`],
    ],
  })
  const r = await boot({ kernel, initrd: image, machine: 'virtio', append: 'rdinit=/hook-init', timeoutMs: 300_000 })
  const m = markers(r.lines).map((l) => l.slice('modload: '.length))
  t.comment(m.join('\n'))
  t.notOk(r.timedOut, 'powered off by itself')
  t.notOk(r.panicked, 'no kernel panic')
  t.ok(m.includes('hook exit=1'), 'exit status 1: a module failed')
  t.ok(m.some((l) => l.startsWith('failed virtio_rng: ')), 'the failure is printed with --quiet')
  t.equal(r.lines.filter((l) => l.includes('modload: failed virtio_rng')).length, 1, 'once: the kernel echoes it from kmsg, we do not repeat it')
  t.notOk(m.some((l) => l.startsWith('loaded ')), '--quiet: no per-module lines')
  t.match(m.find((l) => l.startsWith('coldplug done')) ?? '', /loaded=\d+ failed=1 hung=0/)
  const live = new Set(m.filter((l) => l.startsWith('live ')).map((l) => l.slice(5)))
  for (const mod of ['virtio_pci', 'virtio_net', 'virtio_blk']) t.ok(live.has(mod), `${mod} live`)
})

t.test('modload coldplug finds an SD card that was there before it started (modalias in uevent only)', { skip }, async (t) => {
  await ensureHostTools()
  await ensureExecutable()
  const kernel = await ensureKernel('6.1')
  const image = await ensureImage({
    kernel,
    name: 'hook-card-first',
    modules: ['sdhci_pci', 'mmc_block'],
    add: [
      [busybox, '/bin/busybox'],
      [script, '/hook-init'],
      [path.join(projectRoot, 'test', 'fixtures', 'hook', 'card-first.sh'), '/hook-before'],
    ],
  })
  const r = await boot({ kernel, initrd: image, machine: 'hba-mix', append: 'rdinit=/hook-init', timeoutMs: 300_000 })
  const m = markers(r.lines).map((l) => l.slice('modload: '.length))
  t.comment(m.join('\n'))
  t.notOk(r.timedOut, 'powered off by itself')
  t.notOk(r.panicked, 'no kernel panic')
  t.match(m.find((l) => l.startsWith('card before coldplug:')) ?? '', /^card before coldplug: mmc\d+:\w+$/, 'the card was enumerated before coldplug')
  t.notOk(m.includes('mmc_block already live'), "nothing loaded the card's driver before coldplug")
  const live = new Set(m.filter((l) => l.startsWith('live ')).map((l) => l.slice(5)))
  t.ok(live.has('mmc_block'), "coldplug loaded the card's driver")
})
