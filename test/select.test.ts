import t from 'tap'
import { buildModuleDb } from '../src/core/moddb.js'
import { parseModprobeConf } from '../src/config/modprobe-conf.js'
import { concatConfigs } from '../src/config/modprobe-conf.js'
import { describeReasons, isCpuModalias, parseSelector, parseSelectors, pathMatches, selectModules, SelectorError, type HostNeeds, type Selection } from '../src/image/select.js'
import { DRIVER_CLASSES, CLASS_NAMES, DEFAULT_SELECTORS } from '../src/image/classes.js'

const dep = `kernel/drivers/ata/ahci.ko: kernel/drivers/ata/libahci.ko kernel/drivers/ata/libata.ko
kernel/drivers/ata/libahci.ko: kernel/drivers/ata/libata.ko
kernel/drivers/ata/libata.ko:
kernel/drivers/block/floppy.ko:
kernel/drivers/usb/host/xhci-pci.ko: kernel/drivers/usb/host/xhci-hcd.ko kernel/drivers/usb/core/usbcore.ko
kernel/drivers/usb/host/xhci-hcd.ko: kernel/drivers/usb/core/usbcore.ko
kernel/drivers/usb/core/usbcore.ko:
kernel/drivers/usb/host/sl811_cs.ko: kernel/drivers/usb/core/usbcore.ko
kernel/drivers/hid/usbhid/usbhid.ko: kernel/drivers/hid/hid.ko kernel/drivers/usb/core/usbcore.ko
kernel/drivers/hid/hid.ko:
kernel/drivers/hid/hid-generic.ko: kernel/drivers/hid/hid.ko
kernel/drivers/hid/hid-sensor-hub.ko: kernel/drivers/hid/hid.ko
kernel/fs/ext4/ext4.ko.xz: kernel/fs/jbd2/jbd2.ko.xz kernel/fs/mbcache.ko.xz
kernel/fs/jbd2/jbd2.ko.xz:
kernel/fs/mbcache.ko.xz:
kernel/crypto/crc32c_generic.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/drivers/net/ethernet/intel/e1000/e1000.ko:
kernel/sound/pci/hda/snd-hda-intel.ko:
updates/dkms/vendor.ko:
`
const alias = `alias pci:v00008086d00002922sv*sd*bc*sc*i* ahci
alias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci
alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000
alias crypto-crc32c crc32c_generic
alias crypto-crc32c crc32c_intel
alias fs-ext4 ext4
alias usb:v*p*d*dc*dsc*dp*ic03isc*ip*in* usbhid
alias pci:v00008086d0000293Esv*sd*bc*sc*i* snd_hda_intel
`
const db = buildModuleDb('/lib/modules/T', { dep, alias, builtin: 'kernel/drivers/virtio/virtio_pci.ko\n' })
const config = concatConfigs([
  parseModprobeConf('softdep ext4 pre: crypto-crc32c\n', '/lib/modules/T/modules.softdep').config,
  parseModprobeConf('blacklist snd_hda_intel\nsoftdep usbhid post: hid-generic\nalias my-alias nosuchmodule\n', '/etc/modprobe.d/x.conf').config,
])
const names = (s: Selection): string[] => s.modules.map((m) => m.name)
const select = (words: string[], host?: HostNeeds): Selection => selectModules({ db, config, selectors: parseSelectors(words), host })

const host: HostNeeds = {
  devices: [
    { path: 'devices/pci0000:00/0000:00:1f.2', modalias: 'pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01' },
    { path: 'devices/pci0000:00/0000:00:02.0', modalias: 'pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00' },
    { path: 'devices/pci0000:00/0000:00:1b.0', modalias: 'pci:v00008086d0000293Esv00001AF4sd00001100bc04sc03i00' },
    { path: 'devices/platform/nothing', modalias: 'platform:nothing' },
  ],
  loaded: ['hid_generic', 'no_such_loaded'],
  builtinBound: ['floppy', 'virtio_pci'],
  root: { source: '/dev/sda1', fstype: 'ext4', modules: ['ahci'] },
}

t.test('selector words', async (t) => {
  t.same(parseSelector('host'), { kind: 'host' })
  t.same(parseSelector('all'), { kind: 'all' })
  t.same(parseSelector('storage'), { kind: 'class', name: 'storage' })
  t.same(parseSelector('ext4'), { kind: 'name', name: 'ext4', optional: false })
  t.same(parseSelector('?nvidia'), { kind: 'name', name: 'nvidia', optional: true })
  t.same(parseSelector('drivers/ata/'), { kind: 'pattern', pattern: 'drivers/ata/', optional: false })
  t.same(parseSelector('*_cs'), { kind: 'pattern', pattern: '*_cs', optional: false })
  t.same(parseSelector('-floppy'), { kind: 'remove', what: { kind: 'name', name: 'floppy', optional: false } })
  t.same(parseSelector('-input'), { kind: 'remove', what: { kind: 'class', name: 'input' } })
  t.throws(() => parseSelector('-host'), SelectorError)
  t.throws(() => parseSelector('?'), /nothing after/)
  t.throws(() => parseSelector(' '), /empty/)
  t.same(parseSelectors(['host,usb-host', 'input  -floppy']).map((s) => s.kind), ['host', 'class', 'class', 'remove'])
  for (const d of DEFAULT_SELECTORS) t.ok(d === 'host' || CLASS_NAMES.includes(d), `default selector ${d} exists`)
  for (const required of ['storage', 'usb-host', 'input', 'net', 'fs', 'crypto', 'virt', 'mmc', 'nvme']) t.ok(DRIVER_CLASSES[required], `class ${required}`)
})

t.test('path patterns', async (t) => {
  t.ok(pathMatches('drivers/ata/', 'kernel/drivers/ata/ahci.ko'))
  t.ok(pathMatches('drivers/ata/', 'kernel/drivers/ata/sub/x.ko.zst'), 'a directory pattern covers subdirectories')
  t.notOk(pathMatches('drivers/ata/', 'kernel/drivers/atarax.ko'))
  t.ok(pathMatches('drivers/usb/host/*_cs', 'kernel/drivers/usb/host/sl811_cs.ko.xz'), 'suffix ignored')
  t.ok(pathMatches('fs/mbcache', 'kernel/fs/mbcache.ko.xz'))
  t.notOk(pathMatches('fs/mbcache', 'kernel/fs/mbcache2.ko'))
  t.ok(pathMatches('kernel/fs/mbcache.ko', 'kernel/fs/mbcache.ko.xz'), 'kernel/ prefix and .ko written out')
  t.ok(pathMatches('updates/dkms/', 'updates/dkms/vendor.ko'))
})

t.test('host: devices, loaded modules, the root, blacklist, closure', async (t) => {
  const s = select(['host'], host)
  t.same(names(s), ['ahci', 'crc32c_generic', 'crc32c_intel', 'e1000', 'ext4', 'floppy', 'hid', 'hid_generic', 'jbd2', 'libahci', 'libata', 'mbcache'])
  const why = Object.fromEntries(s.modules.map((m) => [m.name, m.reasons]))
  t.same(why.ahci, [
    { kind: 'device', device: 'devices/pci0000:00/0000:00:1f.2', modalias: host.devices[0].modalias },
    { kind: 'root', what: 'device /dev/sda1' },
  ])
  t.same(why.ext4, [{ kind: 'root', what: 'filesystem ext4' }])
  t.same(why.crc32c_intel, [{ kind: 'softdep', of: 'ext4', as: 'crypto-crc32c' }], 'softdeps come with the module (kmod loads them)')
  t.same(why.libata, [{ kind: 'dependency', of: 'ahci' }, { kind: 'dependency', of: 'libahci' }])
  t.same(why.floppy, [{ kind: 'builtin-host' }], 'built into the running kernel, a module in the target')
  t.same(why.hid_generic, [{ kind: 'loaded' }])
  t.notOk(names(s).includes('snd_hda_intel'), 'blacklisted: coldplug would not load it')
  t.match(s.warnings.join('\n'), /snd_hda_intel: blacklisted in modprobe.d, left out although device devices\/pci0000:00\/0000:00:1b.0 matches it/)
  t.match(s.warnings.join('\n'), /no_such_loaded: loaded on this machine, but \/lib\/modules\/T has no such module/)
  t.same(s.builtin.map((b) => b.name), [], 'virtio_pci is built into the target: nothing to copy, and builtinBound names only modules')
  t.throws(() => select(['host']), /host selector needs/)
})

t.test('classes, patterns and names', async (t) => {
  t.same(names(select(['usb-host'])), ['usbcore', 'xhci_hcd', 'xhci_pci'], 'sl811_cs excluded')
  t.same(names(select(['input'])), ['hid', 'hid_generic', 'usbcore', 'usbhid'], 'sensor hubs are not keyboards; usbcore comes as a dependency')
  t.same(names(select(['drivers/ata/'])), ['ahci', 'libahci', 'libata'])
  t.same(names(select(['updates/dkms/'])), ['vendor'])
  t.same(names(select(['fs-ext4'])), ['crc32c_generic', 'crc32c_intel', 'ext4', 'jbd2', 'mbcache'], 'alias, with dependencies and softdeps')
  const usbhid = select(['usbhid'])
  t.same(names(usbhid), ['hid', 'hid_generic', 'usbcore', 'usbhid'], 'modprobe.d softdep post:')
  const virtio = select(['virtio_pci'])
  t.same(virtio.modules, [])
  t.same(virtio.builtin, [{ name: 'virtio_pci', reasons: [{ kind: 'named', as: 'virtio_pci' }] }])
  t.equal(select(['all']).modules.length, 20)
})

t.test('missing names: error, or a warning when optional', async (t) => {
  t.throws(() => select(['nosuch']), /module nosuch: not found in \/lib\/modules\/T .*write \?nosuch to make it optional/)
  t.throws(() => select(['drivers/nosuch/']), /pattern drivers\/nosuch\/: matches no module path/)
  const s = select(['?nosuch', 'ext4'])
  t.same(names(s).includes('ext4'), true)
  t.match(s.warnings[0], /module nosuch: not found/)
  const m = select(['my-alias'])
  t.same(m.modules, [])
  t.match(m.warnings.join('\n'), /nosuchmodule .*neither a module file nor built in/)
})

t.test('removal: whatever added it, softdeps stay out, hard dependencies stay in with a warning', async (t) => {
  t.notOk(names(select(['all', '-floppy'])).includes('floppy'))
  t.notOk(names(select(['-floppy', 'all'])).includes('floppy'), 'order does not matter for removals')
  t.notOk(names(select(['all', '-usb-host'])).includes('xhci_pci'), 'a class')
  t.ok(names(select(['all', '-usb-host'])).includes('usbcore'), 'usbhid still needs usbcore')
  const soft = select(['ext4', '-crc32c_generic'])
  t.same(names(soft), ['crc32c_intel', 'ext4', 'jbd2', 'mbcache'])
  const hard = select(['ext4', '-jbd2'])
  t.ok(names(hard).includes('jbd2'))
  t.match(hard.warnings.join('\n'), /jbd2: kept although removed, because ext4 cannot load without it/)
})

t.test('reasons on one line', async (t) => {
  const long = 'cpu:type:x86,ven0000fam0006mod003F:feature:' + ',0000'.repeat(100)
  const line = describeReasons([
    { kind: 'device', device: 'devices/system/cpu', modalias: long },
    { kind: 'device', device: 'devices/x', modalias: 'x' },
    { kind: 'class', name: 'crypto' },
    { kind: 'dependency', of: 'a' },
    { kind: 'dependency', of: 'b' },
    { kind: 'dependency', of: 'c' },
    { kind: 'dependency', of: 'd' },
    { kind: 'softdep', of: 'ext4', as: 'crypto-crc32c' },
  ])
  t.match(line, /^host: device devices\/system\/cpu \(cpu:type:x86.{40,60}\.\.\.\) \(\+1 more devices\); class crypto; needed by a, b, c \(\+1 more\); softdep of ext4$/)
})

t.test("the root's devices whose driver names no module: the loaded modules their modalias resolves to", async (t) => {
  const usb = 'usb:v0627p0001d0000dc00dsc00dp00ic03isc00ip00in00'
  const root = { source: '/dev/sda1', fstype: 'ext4', modules: ['ahci'], modaliases: [usb, 'mmc:block'] }
  const withUsbhid = select(['host'], { ...host, loaded: [...host.loaded, 'usbhid'], root })
  t.same(
    withUsbhid.modules.find((m) => m.name === 'usbhid')?.reasons,
    [{ kind: 'loaded' }, { kind: 'root', what: `device /dev/sda1 (${usb})` }],
    'loaded and matching: on the root chain',
  )
  const notLoaded = select(['host'], { ...host, root })
  t.notOk(names(notLoaded).includes('usbhid'), 'a match that is not loaded is not the driver: left out')
  t.same(notLoaded.warnings.filter((w) => /mmc:block/.test(w)), [], 'an alias nothing resolves adds nothing, and no warning')
})

t.test('an unknown root filesystem: --rootfs names it, else the fs class goes in', async (t) => {
  const fromInitramfs: HostNeeds = { devices: [], loaded: [], builtinBound: [], root: { source: 'rootfs', fstype: 'rootfs', modules: [] } }
  const all = selectModules({ db, config, selectors: parseSelectors(['host']), host: fromInitramfs })
  t.same(names(all), ['crc32c_generic', 'crc32c_intel', 'ext4', 'jbd2', 'mbcache'], 'every filesystem of the class, with its closure')
  t.match(all.warnings.join('\n'), /the root filesystem is unknown \(\/ is rootfs\): every filesystem of the fs class is added; name it with --rootfs TYPE/)
  const named = selectModules({ db, config, selectors: parseSelectors(['host']), host: { ...fromInitramfs, root: undefined }, rootFs: ['ext4'] })
  t.same(names(named), ['crc32c_generic', 'crc32c_intel', 'ext4', 'jbd2', 'mbcache'])
  t.same(named.modules.find((m) => m.name === 'ext4')?.reasons, [{ kind: 'root', what: 'filesystem ext4' }])
  t.same(named.warnings, [])
  const vfat = selectModules({ db, config, selectors: parseSelectors(['host']), host, rootFs: ['vfat'] })
  t.notOk(names(vfat).includes('ext4'), '--rootfs wins over what the host says')
  t.match(vfat.warnings.join('\n'), /root filesystem vfat: no module or alias/)
})

t.test('processor features: host leaves them to the root, cpu takes them, a dependency or softdep keeps them', async (t) => {
  const cpuDb = buildModuleDb('/lib/modules/T', {
    dep: `${dep}kernel/arch/x86/kvm/kvm.ko: kernel/virt/lib/irqbypass.ko
kernel/arch/x86/kvm/kvm-amd.ko: kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko kernel/drivers/crypto/ccp/ccp.ko
kernel/virt/lib/irqbypass.ko:
kernel/drivers/crypto/ccp/ccp.ko:
kernel/arch/x86/crypto/aesni-intel.ko:
`,
    alias: `${alias}alias cpu:type:x86,ven*fam*mod*:feature:*00C2* kvm_amd
alias cpu:type:x86,ven*fam*mod*:feature:*0099* aesni_intel
alias cpu:type:x86,ven*fam*mod*:feature:*0094* crc32c_intel
alias pci:v00001022d00001537sv*sd*bc*sc*i* ccp
`,
  })
  const cpuHost: HostNeeds = {
    ...host,
    devices: [...host.devices, { path: 'devices/system/cpu/cpu0', modalias: 'cpu:type:x86,ven0002fam000Fmod006B:feature:,0094,0099,00C2' }],
    loaded: [...host.loaded, 'kvm', 'aesni_intel'],
  }
  const sel = (words: string[], h: HostNeeds = cpuHost): Selection => selectModules({ db: cpuDb, config, selectors: parseSelectors(words), host: h })
  const hostOnly = sel(['host'])
  for (const n of ['kvm', 'kvm_amd', 'aesni_intel', 'irqbypass', 'ccp']) t.notOk(names(hostOnly).includes(n), `host leaves ${n} out (matched or loaded because of the processor)`)
  t.ok(names(hostOnly).includes('crc32c_intel'), 'ext4\'s softdep on crc32c still brings the accelerated crc32c')
  t.same(hostOnly.leftToRoot, ['aesni_intel', 'ccp', 'irqbypass', 'kvm', 'kvm_amd'], 'what was left out is said, dependencies included')
  const withCpu = sel(['host', 'cpu'])
  for (const n of ['kvm', 'kvm_amd', 'aesni_intel', 'irqbypass', 'ccp']) t.ok(names(withCpu).includes(n), `cpu takes ${n}`)
  t.same(withCpu.leftToRoot, [], 'nothing left out once cpu is selected')
  t.match(describeReasons(withCpu.modules.find((m) => m.name === 'kvm_amd')?.reasons ?? []), /host: device devices\/system\/cpu\/cpu0 \(cpu:type:x86/)
  // a module a real device matches is that device's, processor or not
  const ccpDevice = sel(['host'], { ...cpuHost, devices: [...cpuHost.devices, { path: 'devices/pci0000:00/0000:00:08.0', modalias: 'pci:v00001022d00001537sv00001022sd00001537bc10sc80i00' }] })
  t.ok(names(ccpDevice).includes('ccp'), 'ccp stays: a PCI device needs it')
  t.same(sel(['cpu']).modules.map((m) => m.name).sort(), ['aesni_intel', 'ccp', 'crc32c_intel', 'irqbypass', 'kvm', 'kvm_amd'], 'cpu alone: the processor modules and their dependencies')
  t.throws(() => parseSelector('-cpu'), SelectorError)
  t.same(parseSelector('cpu'), { kind: 'cpu' })
  t.throws(() => selectModules({ db: cpuDb, config, selectors: parseSelectors(['cpu']) }), /cpu selector needs/)
})

t.test('processor modaliases', async (t) => {
  t.ok(isCpuModalias('cpu:type:x86,ven0002fam000Fmod006B:feature:,0000,0001'))
  t.ok(isCpuModalias('cpu:type:aarch64:feature:,0000,0001'))
  t.ok(isCpuModalias('x86cpu:vendor:0000:family:0006:model:003A:feature:,0000'))
  t.ok(isCpuModalias('acpi:LNXCPU:'), 'an ACPI processor object')
  t.ok(isCpuModalias('acpi:ACPI0007:'), 'an ACPI processor device')
  t.notOk(isCpuModalias('acpi:PNP0A03:'), 'a PCI root bridge is not')
  t.notOk(isCpuModalias('acpi:ACPI0010:PNP0A05:'), 'the processor container is not')
  t.notOk(isCpuModalias('pci:v00001022d00001537sv*'))
  t.notOk(isCpuModalias('platform:cpufreq-dt'))
})

t.test('host leaves the late classes (sound, Wi-Fi, watchdogs, ...) to the root; host-all takes them', async (t) => {
  const lateDb = buildModuleDb('/lib/modules/T', {
    dep: `${dep}kernel/drivers/watchdog/i6300esb.ko: kernel/drivers/watchdog/watchdog.ko
kernel/drivers/watchdog/watchdog.ko:
kernel/drivers/net/wireless/intel/iwlwifi/iwlwifi.ko: kernel/net/wireless/cfg80211.ko
kernel/net/wireless/cfg80211.ko:
kernel/drivers/input/misc/pcspkr.ko:
`,
    alias: `${alias}alias pci:v00008086d000025ABsv*sd*bc*sc*i* i6300esb
alias pci:v00008086d00002723sv*sd*bc*sc*i* iwlwifi
alias platform:pcspkr pcspkr
`,
  })
  const lateHost: HostNeeds = {
    ...host,
    devices: [
      ...host.devices,
      { path: 'devices/pci0000:00/0000:00:05.0', modalias: 'pci:v00008086d000025ABsv00001AF4sd00001100bc08sc80i00' },
      { path: 'devices/pci0000:00/0000:00:14.3', modalias: 'pci:v00008086d00002723sv00008086sd00000084bc02sc80i00' },
      { path: 'devices/platform/pcspkr', modalias: 'platform:pcspkr' },
    ],
    loaded: [...host.loaded, 'cfg80211'],
  }
  const sel = (words: string[]): Selection => selectModules({ db: lateDb, config, selectors: parseSelectors(words), host: lateHost })
  const h = sel(['host'])
  for (const n of ['i6300esb', 'watchdog', 'iwlwifi', 'cfg80211', 'pcspkr']) t.notOk(names(h).includes(n), `host leaves ${n} to the root`)
  t.ok(names(h).includes('ahci') && names(h).includes('e1000'), 'storage and wired network stay')
  t.same(h.leftToRoot, ['cfg80211', 'i6300esb', 'iwlwifi', 'pcspkr'], 'what was left is said (a dependency nobody asked for is not)')
  const all = sel(['host-all'])
  for (const n of ['i6300esb', 'watchdog', 'iwlwifi', 'cfg80211', 'pcspkr']) t.ok(names(all).includes(n), `host-all takes ${n}`)
  t.same(all.leftToRoot, [], 'nothing left with host-all')
  t.same(sel(['host', 'host-all']).leftToRoot, [], 'nor with both')
  t.same(parseSelector('host-all'), { kind: 'host-all' })
  t.throws(() => parseSelector('-host-all'), SelectorError)
})
