// The /sys walk of the coldplug (src/init/sysfs.ts) over a fake tree.
import t from 'tap'
import { scanModaliases } from '../src/init/sysfs.js'

t.test('every modalias under the tree, through glue directories; PM groups skipped', async (t) => {
  const dir = t.testdir({
    'pci0000:00': {
      uevent: '',
      power: { control: 'auto' },
      '0000:00:02.0': {
        uevent: 'DRIVER=virtio-pci',
        modalias: 'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00\n',
        // a device's "power" is its PM attribute group: not walked
        power: { modalias: 'not a device' },
        virtio0: { uevent: '', modalias: 'virtio:d00000001v00001AF4\n', net: { eth0: { uevent: '' } } },
      },
    },
    // a glue directory (no uevent) holding devices; its "power" is walked
    virtual: { power: { dev0: { uevent: '', modalias: 'platform:dev0\n' } } },
    platform: { serial8250: { uevent: '', modalias: '' } },
  })
  const found = scanModaliases(dir).map((d) => [d.device.slice(dir.length), d.modalias]).sort()
  t.same(found, [
    ['/pci0000:00/0000:00:02.0', 'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00'],
    ['/pci0000:00/0000:00:02.0/virtio0', 'virtio:d00000001v00001AF4'],
    ['/virtual/power/dev0', 'platform:dev0'],
  ])
  t.same(scanModaliases(`${dir}/gone`), [], 'a vanished directory is no error')
})
