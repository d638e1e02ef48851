// End-to-end capture (qemu/capture.ts): the virtio machine on Debian 6.1, booted with the whole
// module tree and `modload.capture`, gives a capture directory that reads back as that
// machine's /sys: its virtio devices with their drivers, and the same loaded modules as the
// console's `live` lines (/proc/modules at halt). Scanned against the same kernel, every virtio
// device resolves to a module that is loaded or built in.
import t from 'tap'
import { ensureKernel } from '../qemu/kernels.js'
import { captureMachine } from '../qemu/capture.js'
import { readHostFacts } from '../src/image/host.js'
import { scanRows } from '../src/image/scan.js'
import { openModuleDb } from '../src/core/moddb-fs.js'

t.test('virtio machine on 6.1', async (t) => {
  const kernel = await ensureKernel('6.1')
  const cap = await captureMachine(kernel, 'virtio', { timeoutMs: 900_000 })
  t.comment(`capture: ${cap.dir}`)
  const facts = readHostFacts({ sysfs: cap.dir })
  const aliases = facts.devices.map((d) => d.modalias)
  // virtio-net, virtio-blk, virtio-rng: the transport devices on PCI and the virtio devices on them
  for (const id of ['00000001', '00000002', '00000004']) {
    const dev = facts.devices.find((d) => d.modalias === `virtio:d${id}v00001AF4`)
    t.ok(dev, `virtio device ${id} captured`)
    t.match(dev?.path ?? '', /^devices\/pci0000:00\/0000:00:[0-9a-f]{2}\.0\/virtio\d+$/, 'under its PCI device')
    const parent = facts.devices.find((d) => dev && d.path === dev.path.slice(0, dev.path.lastIndexOf('/')))
    t.match(parent?.modalias ?? '', /^pci:v00001AF4d0000/, 'the PCI transport device is there too')
    t.equal(parent?.module, 'virtio_pci', 'bound to virtio_pci')
  }
  const byId = (id: string): string | undefined => facts.devices.find((d) => d.modalias === `virtio:d${id}v00001AF4`)?.module
  t.same([byId('00000001'), byId('00000002'), byId('00000004')], ['virtio_net', 'virtio_blk', 'virtio_rng'], 'each bound to its driver module')
  t.ok(aliases.some((a) => a.startsWith('cpu:type:x86')), 'the CPU')
  t.ok(aliases.some((a) => a.startsWith('acpi:')), 'ACPI devices')

  const live = cap.markers.filter((l) => l.startsWith('live ')).map((l) => l.slice(5)).sort()
  t.ok(live.length > 5, `modules were live at halt (${live.length})`)
  t.same(facts.loaded, live, 'the loaded modules are the console\'s live list')
  t.ok(facts.builtinBound.length > 0, `built-in drivers bound: ${facts.builtinBound.join(' ')}`)
  // the capture boots with the ext4 root disk as root= and records the mount table it will have
  t.equal(facts.root?.fstype, 'ext4', "the root's file system, from root='s superblock")
  t.same(facts.root?.blockDevices, ['vda'], 'the virtio disk behind /')
  t.same(facts.root?.modules, ['virtio_pci', 'virtio_blk'], "the root's chain: the disk's controller first")

  const db = openModuleDb(kernel.root, kernel.version)
  const rows = scanRows(facts, db, null)
  for (const r of rows.filter((r) => r.modalias.startsWith('virtio:') || r.modalias.startsWith('pci:v00001AF4'))) {
    t.ok(r.modules.length > 0 && r.modules.every((m) => m.state === 'loaded' || m.state === 'builtin'), `${r.path}: ${r.modules.map((m) => `${m.name} ${m.state}`).join(', ')}`)
  }

  // cached: a second call returns the same capture without booting
  const again = await captureMachine(kernel, 'virtio')
  t.equal(again.dir, cap.dir)
  t.same(again.markers, cap.markers)
})
