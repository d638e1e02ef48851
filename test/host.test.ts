// Host facts (src/image/host.ts) from the fake sysfs in test/fixtures/sysfs/pc: a PC with an
// AHCI controller and two SATA disks under an md RAID1 under dm-crypt holding /, a virtio NIC,
// an e1000 with no driver, a USB keyboard behind xHCI, a CPU; loadable modules loaded, built-in
// ones with and without drivers. And the capture: saved and read back, it gives the same facts.
import t from 'tap'
import { readFileSync, readlinkSync, lstatSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { captureEntries, parseMountinfo, readHostFacts, rootMount, saveHostCapture, writeCapture, type HostFacts } from '../src/image/host.js'

const PC = fileURLToPath(new URL('./fixtures/sysfs/pc', import.meta.url))
const AHCI = 'devices/pci0000:00/0000:00:01.1'
const XHCI = 'devices/pci0000:00/0000:00:04.0'

const expectedDevices = [
  { path: AHCI, modalias: 'pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01', driver: 'ahci', module: 'ahci' },
  { path: `${AHCI}/ata1/host0/target0:0:0/0:0:0:0`, modalias: 'scsi:t-0x00', driver: 'sd', module: 'sd_mod' },
  { path: `${AHCI}/ata2/host1/target1:0:0/1:0:0:0`, modalias: 'scsi:t-0x00', driver: 'sd', module: 'sd_mod' },
  { path: 'devices/pci0000:00/0000:00:02.0', modalias: 'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00', driver: 'virtio-pci', module: 'virtio_pci' },
  { path: 'devices/pci0000:00/0000:00:02.0/virtio0', modalias: 'virtio:d00000001v00001AF4', driver: 'virtio_net', module: 'virtio_net' },
  { path: 'devices/pci0000:00/0000:00:03.0', modalias: 'pci:v00008086d0000100Esv00008086sd0000001Ebc02sc00i00' },
  { path: XHCI, modalias: 'pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30', driver: 'xhci_hcd', module: 'xhci_pci' },
  { path: `${XHCI}/usb1/1-0:1.0`, modalias: 'usb:v1D6Bp0003d0601dc09dsc00dp03ic09isc00ip00in00', driver: 'hub', module: 'usbcore' },
  { path: `${XHCI}/usb1/1-1/1-1:1.0`, modalias: 'usb:v0627p0001d0000dc00dsc00dp00ic03isc00ip00in00', driver: 'usbhid', module: 'usbhid' },
  // the driver's module link says "hid-generic": names are normalised at this edge
  { path: `${XHCI}/usb1/1-1/1-1:1.0/0003:0627:0001.0001`, modalias: 'hid:b0003g0001v00000627p00000001', driver: 'hid-generic', module: 'hid_generic' },
  { path: 'devices/system/cpu/cpu0', modalias: 'cpu:type:x86,ven0000fam0006mod003A:feature:,0000,0001,0002' },
]

const expectedRoot = {
  source: '/dev/mapper/cryptroot',
  fstype: 'ext4',
  blockDevices: ['dm-0', 'md127', 'sda1', 'sdb1'],
  devicePaths: [AHCI, `${AHCI}/ata1/host0/target0:0:0/0:0:0:0`, `${AHCI}/ata2/host1/target1:0:0/1:0:0:0`],
  modules: ['ahci', 'sd_mod'],
}

t.test('devices, modules and the root chain of the fake PC', async (t) => {
  const f = readHostFacts({ sysfs: PC })
  t.equal(f.sysfs, PC)
  t.same(f.devices, expectedDevices, 'every device with a modalias, its driver and module; a PM group is no device')
  t.notOk(f.devices.some((d) => d.path.includes('/power')), 'the modalias inside virtio0/power is not read')
  t.same(f.loaded, ['ahci', 'dm_crypt', 'dm_mod', 'ext4', 'hid_generic', 'md_mod', 'raid1', 'sd_mod', 'usbhid', 'virtio_net', 'xhci_pci'])
  t.same(f.builtinBound, ['usbcore', 'virtio_pci'], 'virtio_blk is built in but has no drivers/: not listed')
  t.same(f.root, expectedRoot, 'dm-crypt -> md -> two partitions; the disks need ahci and sd_mod')
  t.same(readHostFacts({ sysfs: `${PC}/` }).devices, expectedDevices, 'a trailing slash changes nothing')
})

t.test('root facts: found by number, by /dev/mapper name, by /dev name; none without a block device', async (t) => {
  const line = (devnum: string, fstype: string, source: string): string => `1 0 ${devnum} / / rw - ${fstype} ${source} rw\n`
  const root = (mountinfo: string): HostFacts['root'] => readHostFacts({ sysfs: PC, procSelfMountinfo: mountinfo }).root
  t.same(root(line('9:127', 'xfs', '/dev/md127'))?.blockDevices, ['md127', 'sda1', 'sdb1'], 'md127 by its number')
  // btrfs shows an anonymous device number: the source names the device
  t.same(root(line('0:31', 'btrfs', '/dev/mapper/cryptroot'))?.blockDevices, ['dm-0', 'md127', 'sda1', 'sdb1'], 'dm-0 through dm/name')
  const sda1 = root(line('0:32', 'btrfs', '/dev/sda1'))
  t.same(sda1?.blockDevices, ['sda1'])
  t.same(sda1?.devicePaths, [AHCI, `${AHCI}/ata1/host0/target0:0:0/0:0:0:0`], 'only the first disk')
  t.same(root(line('0:2', 'rootfs', 'rootfs')), { source: 'rootfs', fstype: 'rootfs', blockDevices: [], devicePaths: [], modules: [] }, 'an initramfs')
  t.same(root(line('0:40', 'overlay', 'overlay')), { source: 'overlay', fstype: 'overlay', blockDevices: [], devicePaths: [], modules: [] })
  t.equal(root(''), undefined, 'an empty mountinfo: no root')
  t.equal(readHostFacts({ sysfs: PC, root: false }).root, undefined, 'root: false')
  // a path instead of the text
  t.same(readHostFacts({ sysfs: PC, procSelfMountinfo: `${PC}/mountinfo` }).root, expectedRoot)
})

t.test('mountinfo: octal escapes, the last mount on / wins, bad lines skipped', async (t) => {
  const text = [
    '20 1 8:1 / / rw - ext4 /dev/sda1 rw',
    'garbage',
    '26 20 8:33 / /boot\\040efi rw,relatime shared:30 master:2 - vfat /dev/sdc1 rw',
    '30 20 0:50 / / rw - overlay overlay rw,lowerdir=/a',
    '',
  ].join('\n')
  const m = parseMountinfo(text)
  t.same(m.map((e) => e.mountPoint), ['/', '/boot efi', '/'])
  t.same(m[1], { devnum: '8:33', mountPoint: '/boot efi', fstype: 'vfat', source: '/dev/sdc1' }, 'optional fields before "-"')
  t.equal(rootMount(m)?.fstype, 'overlay')
  t.equal(rootMount(parseMountinfo('garbage\n')), undefined)
})

t.test('an empty or missing sysfs gives no facts, and no error', async (t) => {
  for (const sysfs of [t.testdir({ devices: { 'pci0000:00': {} }, module: {} }), '/nonexistent/sys']) {
    const f = readHostFacts({ sysfs })
    t.same([f.devices, f.loaded, f.builtinBound, f.root], [[], [], [], undefined], sysfs)
  }
})

t.test('capture: the mini-tree reads back as the same facts', async (t) => {
  const dir = t.testdir()
  const entries = saveHostCapture(`${dir}/cap`, { sysfs: PC })
  const back = readHostFacts({ sysfs: `${dir}/cap` })
  t.same({ ...back, sysfs: PC }, readHostFacts({ sysfs: PC }), 'devices, loaded, built-in and root all survive')
  // the files are the documented ones
  const cap = `${dir}/cap`
  t.equal(readFileSync(`${cap}/${AHCI}/modalias`, 'latin1'), 'pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01\n')
  t.equal(readlinkSync(`${cap}/${AHCI}/driver`), '../../../bus/pci/drivers/ahci')
  t.equal(readlinkSync(`${cap}/bus/pci/drivers/ahci/module`), '../../../../module/ahci')
  t.equal(readlinkSync(`${cap}/bus/hid/drivers/hid-generic/module`), '../../../../module/hid-generic', 'the link as the kernel wrote it')
  t.equal(readFileSync(`${cap}/module/raid1/initstate`, 'latin1'), 'live\n')
  t.ok(lstatSync(`${cap}/module/virtio_pci/drivers`).isDirectory())
  t.equal(readFileSync(`${cap}/mountinfo`, 'latin1'), readFileSync(`${PC}/mountinfo`, 'latin1'))
  t.equal(readlinkSync(`${cap}/class/block/dm-0`), '../../devices/virtual/block/dm-0')
  t.equal(readFileSync(`${cap}/devices/virtual/block/dm-0/dm/name`, 'latin1'), 'cryptroot\n')
  t.throws(() => lstatSync(`${cap}/class/block/loop0`), { code: 'ENOENT' }, 'block devices not behind / are left out')
  t.throws(() => lstatSync(`${cap}/module/virtio_blk`), { code: 'ENOENT' }, 'built-in modules without drivers are left out')
  t.notOk(entries.some((e) => e.path.endsWith('/uevent')), 'only what the reader reads')
  // a capture of a capture is the same capture
  t.same(captureEntries({ sysfs: cap }), entries)
})

t.test('a root on an SD card: the card driver has no module link, its modalias is only in uevent', async (t) => {
  // mmc_block registers its "mmcblk" driver without an owner, so the kernel makes no
  // driver/module link, and the mmc bus reports MODALIAS=mmc:block in uevent only
  const SDHCI = 'devices/pci0000:00/0000:00:08.0'
  const CARD = `${SDHCI}/mmc_host/mmc0/mmc0:4567`
  const top = t.testdir({ sys: {
    devices: {
      'pci0000:00': {
        '0000:00:08.0': {
          uevent: 'DRIVER=sdhci-pci\n',
          modalias: 'pci:v00001B36d00000007sv00001AF4sd00001100bc08sc05i01\n',
          driver: t.fixture('symlink', '../../../bus/pci/drivers/sdhci-pci'),
          mmc_host: {
            mmc0: {
              uevent: '',
              'mmc0:4567': {
                uevent: 'DRIVER=mmcblk\nMMC_TYPE=SD\nMODALIAS=mmc:block\n',
                driver: t.fixture('symlink', '../../../../../../bus/mmc/drivers/mmcblk'),
                block: { mmcblk0: { uevent: 'MAJOR=179\n', dev: '179:0\n' } },
              },
            },
          },
        },
      },
    },
    bus: {
      pci: { drivers: { 'sdhci-pci': { module: t.fixture('symlink', '../../../../module/sdhci_pci') } } },
      mmc: { drivers: { mmcblk: {} } },
    },
    class: { block: { mmcblk0: t.fixture('symlink', `../../${CARD}/block/mmcblk0`) } },
    module: { sdhci_pci: { initstate: 'live\n' }, mmc_block: { initstate: 'live\n' }, mmc_core: { initstate: 'live\n' } },
    mountinfo: '1 1 179:0 / / ro - ext4 /dev/mmcblk0 ro\n',
  } })
  const sysfs = `${top}/sys`
  const f = readHostFacts({ sysfs })
  t.same(f.root, { source: '/dev/mmcblk0', fstype: 'ext4', blockDevices: ['mmcblk0'], devicePaths: [SDHCI, CARD], modules: ['sdhci_pci'], modaliases: ['mmc:block'] })
  t.same(
    f.devices.map((d) => [d.path, d.modalias, d.driver, d.module]),
    [
      [SDHCI, 'pci:v00001B36d00000007sv00001AF4sd00001100bc08sc05i01', 'sdhci-pci', 'sdhci_pci'],
      [CARD, 'mmc:block', 'mmcblk', undefined],
    ],
    'the card joins the devices with its uevent modalias',
  )
  saveHostCapture(`${top}/cap`, { sysfs })
  t.equal(readFileSync(`${top}/cap/${CARD}/modalias`, 'latin1'), 'mmc:block\n', 'the capture keeps it as a modalias file')
  t.same({ ...readHostFacts({ sysfs: `${top}/cap` }), sysfs }, f, 'and reads back as the same facts')
})

t.test('writeCapture refuses paths that leave the directory', async (t) => {
  const dir = t.testdir()
  for (const path of ['../x', '/etc/x', 'a/../../x', 'a//b', '']) {
    t.throws(() => writeCapture(dir, [{ kind: 'file', path, text: '' }]), /not a relative path/, JSON.stringify(path))
  }
})
