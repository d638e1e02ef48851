// The /sys walk of the coldplug (src/init/sysfs.ts) over a fake tree.
import t from 'tap'
import { relative } from 'node:path'
import { scanBusModaliases, scanDevices, scanModaliases, ueventModalias } from '../src/init/sysfs.js'

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

t.test('modaliases a bus reports only in uevents: the mmc bus, not usb devices, memory blocks or CPUs again', async (t) => {
  const card = 'pci0000:00/0000:00:07.0/mmc_host/mmc0/mmc0:0001'
  const dir = t.testdir({
    devices: {
      'pci0000:00': {
        uevent: '',
        '0000:00:07.0': {
          uevent: 'DRIVER=sdhci-pci\nPCI_CLASS=80501\n',
          modalias: 'pci:v00001B36d00000007sv00001AF4sd00001100bc08sc05i01\n',
          mmc_host: { mmc0: { uevent: '', 'mmc0:0001': { uevent: 'MMC_TYPE=SD\nMMC_NAME=QEMU!\nMODALIAS=mmc:block\n', type: 'SD\n' } } },
        },
        '0000:00:01.2': {
          uevent: '',
          modalias: 'pci:v00008086d00007020sv00001AF4sd00001100bc0Csc03i00\n',
          usb1: {
            uevent: 'DEVTYPE=usb_device\nPRODUCT=1d6b/1/606\n',
            '1-0:1.0': { uevent: 'DEVTYPE=usb_interface\nMODALIAS=usb:v1D6Bp0001d0606dc09dsc00dp00ic09isc00ip00in00\n', modalias: 'usb:v1D6Bp0001d0606dc09dsc00dp00ic09isc00ip00in00\n' },
          },
        },
      },
      system: {
        memory: { memory0: { uevent: '' } },
        // the cpu subsystem's modalias file says once what each CPU's uevent says
        cpu: { modalias: 'cpu:type:x86,ven0002fam0017mod0001:feature:,0000\n', cpu0: { uevent: 'MODALIAS=cpu:type:x86,ven0002fam0017mod0001:feature:,0000\n' } },
      },
    },
    bus: {
      mmc: { devices: { 'mmc0:0001': t.fixture('symlink', `../../../devices/${card}`) } },
      usb: {
        devices: {
          usb1: t.fixture('symlink', '../../../devices/pci0000:00/0000:00:01.2/usb1'),
          '1-0:1.0': t.fixture('symlink', '../../../devices/pci0000:00/0000:00:01.2/usb1/1-0:1.0'),
        },
      },
      memory: { devices: { memory0: t.fixture('symlink', '../../../devices/system/memory/memory0') } },
      cpu: { devices: { cpu0: t.fixture('symlink', '../../../devices/system/cpu/cpu0') } },
      // a bus without devices, and one whose link is broken (the device went away)
      empty: { devices: {} },
      gone: { devices: { x: t.fixture('symlink', '../../../devices/nowhere') } },
    },
  })
  const rel = (l: { device: string; modalias: string }[]) => l.map((d) => [d.device.slice(dir.length + 1), d.modalias]).sort()
  const cpu = 'cpu:type:x86,ven0002fam0017mod0001:feature:,0000'
  t.same(rel(scanBusModaliases(`${dir}/bus`)), [[`devices/${card}`, 'mmc:block'], ['devices/system/cpu/cpu0', cpu]], 'without the walk, the CPUs are new')
  t.same(rel(scanDevices(dir)), [
    ['devices/pci0000:00/0000:00:01.2', 'pci:v00008086d00007020sv00001AF4sd00001100bc0Csc03i00'],
    ['devices/pci0000:00/0000:00:01.2/usb1/1-0:1.0', 'usb:v1D6Bp0001d0606dc09dsc00dp00ic09isc00ip00in00'],
    ['devices/pci0000:00/0000:00:07.0', 'pci:v00001B36d00000007sv00001AF4sd00001100bc08sc05i01'],
    [`devices/${card}`, 'mmc:block'],
    ['devices/system/cpu', cpu],
  ], 'the walk and the buses, each device once; the CPUs not again')
  const order = scanDevices(dir).map((d) => d.device)
  t.same(order, [...order].sort(), "in the order of the devices' paths (udevadm trigger's), not of the walk (kernfs's hash order)")
  // a relative sysfs (mkinitramfs --sysfs DIR) names the card under the same relative root, as
  // host.ts's facts cut the sysfs prefix off each device
  const relDir = relative(process.cwd(), dir)
  t.ok(scanDevices(relDir).some((d) => d.device === `${relDir}/devices/${card}`), 'relative in, relative out')
  t.equal(ueventModalias(`${dir}/devices/${card}`), 'mmc:block')
  t.equal(ueventModalias(`${dir}/devices/system/memory/memory0`), undefined)
  t.same(scanBusModaliases(`${dir}/nothing`), [], 'no /sys/bus is no error')
})
