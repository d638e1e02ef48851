// End-to-end root hand-over: a real ext4 root filesystem (made here with mke2fs -d) holding a
// tiny init (busybox-static as /bin/sh and a script /sbin/init that prints a marker and powers
// off), on each kind of disk, where the disk driver and ext4 exist only as modules in the
// initramfs. modload as /init must coldplug the disk, find root= (UUID, LABEL, path), load
// ext4 (and its crc32c softdep), mount, switch root and exec the script as PID 1. Also the
// failure paths: a root device that never appears and a root filesystem without init, each
// with its message and the modload.onfail action.
import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { chmodSync, closeSync, copyFileSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs'
import path from 'node:path'
import { ensureKernel, kernelFlavors, type Kernel } from '../qemu/kernels.js'
import { ensureDebianPackages, ensureHostTools, findCommand } from '../qemu/deps.js'
import { boot, markers, type BootResult, type DiskOverride } from '../qemu/boot.js'
import { ensureExecutable, ensureImage } from '../qemu/artefacts.js'
import { cacheDir } from '../qemu/paths.js'
import { IMAGE_ROOT_MODULES } from '../src/paths.js'
import { buildGpt } from './fixtures/root/gpt.js'

const UUID = '6d0c9a51-7e0b-4f6e-9a3c-5b1f00c0ffee'
const OTHER_UUID = '00000000-1111-2222-3333-444444444444'
const PARTUUID = 'a1b2c3d4-0001-4e5f-8a9b-0123456789ab'
const work = path.join(cacheDir, 'tmp', `handover-${process.pid}`)
const ROOT_MODULES = ['ext4', 'crc32c_generic'] // ext4's softdep crypto-crc32c: metadata_csum needs it

const INIT_SCRIPT = `#!/bin/sh
export PATH=/bin
echo "modload: handover-ok pid=$$"
busybox awk '{ print "modload: handover-mount " $2 " " $3 }' /proc/mounts
busybox env | busybox sed 's/^/modload: handover-env /'
busybox grep -E '^Sig(Blk|Ign)' /proc/1/status | busybox sed 's/^/modload: handover-status /'
busybox poweroff -f
`

/** An ext4 image of `files` (path in the image -> 'busybox' | 'sh' | text of an executable). */
function makeRootfs(name: string, files: Record<string, string>, busybox: string): string {
  const dir = path.join(work, name)
  rmSync(dir, { recursive: true, force: true })
  for (const d of ['bin', 'sbin', 'dev', 'proc', 'sys', 'run']) mkdirSync(path.join(dir, d), { recursive: true })
  for (const [p, what] of Object.entries(files)) {
    const dest = path.join(dir, p)
    if (what === 'busybox') copyFileSync(busybox, dest)
    else if (what.startsWith('->')) symlinkSync(what.slice(2), dest)
    else writeFileSync(dest, what)
    if (!what.startsWith('->')) chmodSync(dest, 0o755)
  }
  const img = path.join(work, `${name}.raw`)
  rmSync(img, { force: true })
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', dir, '-L', 'rootfs', '-U', UUID, img, '16M'], { env: { ...process.env, PATH: `/usr/sbin:/sbin:${process.env.PATH}` } })
  return img
}

/** A GPT disk whose first partition (1 MiB in) holds the ext4 image `fs`. */
function partitioned(fs: string): string {
  const img = path.join(work, 'gpt.raw')
  const bytes = readFileSync(fs)
  const first = 2048
  const last = first + bytes.length / 512 - 1
  const totalSectors = last + 1 + 2048
  const g = buildGpt({ sectorSize: 512, totalSectors, partitions: [{ index: 0, guid: PARTUUID, first, last, name: 'root' }] })
  writeFileSync(img, '')
  const fd = openSync(img, 'r+')
  try {
    writeSync(fd, g.head, 0, g.head.length, 0)
    writeSync(fd, bytes, 0, bytes.length, first * 512)
    writeSync(fd, g.tail, 0, g.tail.length, g.tailOffset)
  } finally {
    closeSync(fd)
  }
  return img
}

let good = ''
let noInit = ''
let gpt = ''

t.before(async () => {
  await ensureHostTools()
  await ensureDebianPackages(['e2fsprogs', 'busybox-static'])
  await ensureExecutable()
  const busybox = (await findCommand('busybox')) ?? '/bin/busybox'
  mkdirSync(work, { recursive: true })
  good = makeRootfs('good', { 'bin/busybox': 'busybox', 'bin/sh': '->busybox', 'sbin/init': INIT_SCRIPT }, busybox)
  noInit = makeRootfs('no-init', { 'bin/busybox': 'busybox' }, busybox)
  gpt = partitioned(good)
})
t.teardown(() => rmSync(work, { recursive: true, force: true }))

interface Case {
  name: string
  machine: string
  disk: string
  modules: string[]
  root: string
  device: RegExp
  /** the disk image: default the plain ext4 image */
  file?: () => string
  todo?: string
  /** coldplug itself loads the root's drivers (no "root: late device" in the root wait) */
  byColdplug?: string
}

const CASES: Case[] = [
  { name: 'virtio-blk, root=UUID=', machine: 'virtio', disk: 'vd0', modules: ['virtio_pci', 'virtio_blk'], root: `UUID=${UUID}`, device: /^\/dev\/vda$/ },
  { name: 'virtio-blk GPT partition, root=PARTUUID=', machine: 'virtio', disk: 'vd0', modules: ['virtio_pci', 'virtio_blk'], root: `PARTUUID=${PARTUUID}`, device: /^\/dev\/vda1$/, file: () => gpt },
  { name: 'AHCI, root=LABEL=', machine: 'legacy-pc', disk: 'sda', modules: ['ahci', 'sd_mod'], root: 'LABEL=rootfs', device: /^\/dev\/sda$/ },
  { name: 'NVMe, root=/dev/nvme0n1', machine: 'q35', disk: 'nvme0', modules: ['nvme'], root: '/dev/nvme0n1', device: /^\/dev\/nvme0n1$/ },
  { name: 'USB storage, root=UUID=', machine: 'q35', disk: 'usb0', modules: ['xhci_pci', 'usb_storage', 'sd_mod'], root: `UUID=${UUID}`, device: /^\/dev\/sd[a-z]$/ },
  // the card's driver comes through MODALIAS=mmc:block, which the mmc bus reports in uevents only
  { name: 'SD card behind an SDHCI controller, root=UUID=', machine: 'hba-mix', disk: 'sd0', modules: ['sdhci_pci', 'mmc_block'], root: `UUID=${UUID}`, device: /^\/dev\/mmcblk0$/ },
  // no PCI: the virtio-mmio transport is an ACPI device (LNRO0005), its disk a virtio device on it
  { name: 'virtio-blk on virtio-mmio (microvm), root=UUID=', machine: 'microvm', disk: 'vd0', modules: ['virtio_mmio', 'virtio_blk'], root: `UUID=${UUID}`, device: /^\/dev\/vda$/ },
  // USB Attached SCSI: the uas driver, not usb-storage, binds the stick's interface
  { name: 'UAS disk behind xHCI, root=UUID=', machine: 'pcie-mix', disk: 'uas0d', modules: ['xhci_pci', 'uas', 'sd_mod'], root: `UUID=${UUID}`, device: /^\/dev\/sd[a-z]$/ },
  // a USB stick two hubs deep on a full-speed OHCI bus: each hub enumerates before the next
  {
    name: 'USB disk two hubs deep on OHCI, root=UUID=',
    machine: 'usb-deep',
    disk: 'usb0',
    modules: ['ohci_pci', 'usb_storage', 'sd_mod'],
    root: `UUID=${UUID}`,
    device: /^\/dev\/sd[a-z]$/,
    // each hub's ports enumerate after the hub's hold: the kernel's log says so (kmsg.ts)
    byColdplug: 'the kernel announced each device behind the hubs, so coldplug waited for them',
  },
  // persistent memory, as lightweight VMs hand their guests a root image: virtio_pmem makes an
  // nd bus region, whose namespace device (MODALIAS=nd:t4, in a uevent) nd_pmem turns into pmem0
  { name: 'virtio-pmem (persistent memory), root=UUID=', machine: 'topo-mix', disk: 'pm0', modules: ['virtio_pci', 'virtio_pmem', 'nd_pmem'], root: `UUID=${UUID}`, device: /^\/dev\/pmem\d+$/ },
]

async function image(kernel: Kernel, name: string, modules: string[], rootModules = ROOT_MODULES): Promise<string> {
  return ensureImage({ kernel, name: `handover-${name}${rootModules.length ? '' : '-nofs'}`, modules: [...modules, ...rootModules] })
}

function show(t: Test, r: BootResult): string[] {
  // the kernel's own messages ("[ 30.71] reboot: Power down") can land mid-line, after our text
  const m = markers(r.lines).map((l) => l.slice('modload: '.length).replace(/\[\s*\d+\.\d+\] .*$/, ''))
  t.comment(m.join('\n'))
  if (r.timedOut || r.panicked) t.comment(r.lines.slice(-40).join('\n'))
  return m
}

async function bootWith(
  kernel: Kernel,
  c: Pick<Case, 'machine' | 'disk' | 'modules'>,
  file: string,
  append: string,
  stopOn?: RegExp,
  rootModules = ROOT_MODULES,
): Promise<BootResult> {
  const initrd = await image(kernel, c.machine, c.modules, rootModules)
  const disks: DiskOverride[] = [{ id: c.disk, file }]
  const ac = new AbortController()
  return boot({
    kernel,
    initrd,
    machine: c.machine,
    disks,
    append,
    timeoutMs: 240_000,
    signal: ac.signal,
    onLine: stopOn ? (l) => stopOn.test(l) && ac.abort() : undefined,
  })
}

for (const flavor of kernelFlavors) {
  t.test(`root hand-over on ${flavor}`, async (t) => {
    const kernel = await ensureKernel(flavor)

    for (const c of CASES) {
      t.test(c.name, { todo: c.todo }, async (t) => {
        const r = await bootWith(kernel, c, c.file?.() ?? good, `root=${c.root} rootfstype=ext4 modload.onfail=poweroff`)
        const m = show(t, r)
        t.notOk(r.timedOut, 'powered off by itself')
        t.notOk(r.panicked, 'no kernel panic')
        const found = m.find((l) => l.startsWith('root: found '))
        t.match(found ?? '', /^root: found .+: \S+ \(ext4 UUID=6d0c9a51-7e0b-4f6e-9a3c-5b1f00c0ffee LABEL=rootfs( PARTUUID=\S+)?\)/, 'the device is found and identified')
        const mounted = m.find((l) => l.startsWith('root: mounted '))
        t.match(mounted ?? '', /^root: mounted (\S+) on \/root type ext4 \(ro\)$/, 'mounted read-only')
        t.match(/^root: mounted (\S+)/.exec(mounted ?? '')?.[1] ?? '', c.device, 'on the expected device')
        t.ok(m.some((l) => /^root: freed the initramfs: \d+ entries removed/.test(l)), 'the initramfs was freed')
        if (c.byColdplug) t.notOk(m.some((l) => l.startsWith('root: late device ')), `coldplug loaded the root's drivers: ${c.byColdplug}`)
        t.ok(m.includes('handover-ok pid=1'), 'the real init runs as PID 1')
        const mounts = m.filter((l) => l.startsWith('handover-mount ')).map((l) => l.split(' ').slice(1).join(' '))
        for (const want of ['/ ext4', '/dev devtmpfs', '/proc proc', '/sys sysfs', '/run tmpfs']) t.ok(mounts.includes(want), `mounted in the new root: ${want}`)
        t.notOk(mounts.some((l) => l.startsWith('/root ')), 'nothing left on /root')
        const environ = m.filter((l) => l.startsWith('handover-env ')).map((l) => l.slice('handover-env '.length))
        t.ok(environ.includes('HOME=/'), "the kernel's environment for init is passed on")
        t.notOk(environ.some((l) => /^(NODE_|PKG_|UV_)/.test(l)), 'nothing of the runtime leaks into it')
        const sigign = /^handover-status SigIgn:\s*([0-9a-f]+)$/.exec(m.find((l) => l.startsWith('handover-status SigIgn:')) ?? '')?.[1]
        t.equal(BigInt(`0x${sigign ?? 'ffffffff'}`) & 0x1001000n, 0n, "SIGPIPE and SIGXFSZ are not left ignored (Node's dispositions)")
      })
    }

    t.test('modload.handover=early: hands over once the root device is there', { skip: flavor !== '6.1' && 'one kernel is enough' }, async (t) => {
      const c = { machine: 'q35', disk: 'nvme0', modules: ['nvme', 'e1000e', 'xhci_pci', 'usb_storage', 'sd_mod'] }
      const r = await bootWith(kernel, c, good, `root=/dev/nvme0n1 rootfstype=ext4 modload.onfail=poweroff modload.handover=early modload.debug`)
      const m = show(t, r)
      t.notOk(r.timedOut, 'powered off by itself')
      t.notOk(r.panicked, 'no kernel panic')
      t.ok(m.some((l) => l.startsWith('root=/dev/nvme0n1 is there: handing over before coldplug settles')), 'coldplug stopped for the root')
      t.ok(m.includes('handover-ok pid=1'), 'the real init runs as PID 1')
      t.notOk(m.some((l) => l.startsWith('report not started')), 'what was left is not reported as a failure')
    })

    t.test("modload.handover=early, the root's chain through USB behind EHCI: the other SCSI hosts wait for the stick", { skip: flavor !== '6.1' && 'one kernel is enough' }, async (t) => {
      // the chain as an image built on the machine records it; megaraid_sas and vmw_pvscsi scan
      // buses, and every load returns only after those scans (async_synchronize_full)
      const chain = path.join(work, 'root-modules-usb')
      writeFileSync(chain, 'ehci_pci\nusb_storage\nsd_mod\next4\n')
      const initrd = await ensureImage({
        kernel,
        name: 'handover-hba-mix-usb-chain',
        modules: ['ehci_pci', 'usb_storage', 'sd_mod', 'megaraid_sas', 'vmw_pvscsi', ...ROOT_MODULES],
        add: [[chain, IMAGE_ROOT_MODULES]],
      })
      const append = `root=UUID=${UUID} rootfstype=ext4 modload.onfail=poweroff modload.handover=early modload.debug`
      const r = await boot({ kernel, initrd, machine: 'hba-mix', disks: [{ id: 'usb0', file: good }], append, timeoutMs: 240_000 })
      const m = show(t, r)
      t.notOk(r.timedOut, 'powered off by itself')
      t.notOk(r.panicked, 'no kernel panic')
      const chainLine = m.find((l) => l.startsWith('root chain: ')) ?? ''
      t.ok(['ehci_pci', 'usb_storage', 'sd_mod', 'ext4'].every((n) => chainLine.split(' ').includes(n)), `the image's chain is read (${chainLine})`)
      const handed = m.findIndex((l) => l.startsWith(`root=UUID=${UUID} is there: handing over before coldplug settles`))
      t.ok(handed >= 0, 'coldplug stopped for the root')
      const before = m.slice(0, handed)
      t.ok(before.some((l) => l.startsWith('hold ')), "usb-storage's wait was held for")
      for (const mod of ['megaraid_sas', 'vmw_pvscsi']) t.notOk(before.some((l) => l.startsWith(`queue ${mod}`) || l.startsWith(`loaded ${mod} `)), `${mod} was not started while the stick was awaited`)
      t.ok(m.includes('handover-ok pid=1'), 'the real init runs as PID 1')
    })

    t.test('missing root device: named, then modload.onfail=poweroff', async (t) => {
      const c = CASES[0]
      const r = await bootWith(kernel, c, good, `root=UUID=${OTHER_UUID} rootwait=4 modload.onfail=poweroff`)
      const m = show(t, r)
      t.notOk(r.timedOut, 'powered off by itself')
      t.notOk(r.panicked, 'no kernel panic')
      t.ok(m.includes(`root: waiting for UUID=${OTHER_UUID} (up to 4.0 s)`), 'says what it waits for')
      const err = m.find((l) => l.startsWith('root: error: '))
      t.match(err ?? '', `root: error: root device UUID=${OTHER_UUID} did not appear within 4.0 s; block devices: vda (ext4 UUID=${UUID} LABEL=rootfs)`, 'the error names the device and lists what exists')
      t.ok(m.includes('root: modload.onfail=poweroff: powering off'), 'the action')
      t.notOk(m.some((l) => l.startsWith('handover-ok')), 'no hand-over')
    })

    t.test('missing root device, default: waits and says why', async (t) => {
      const c = CASES[0]
      const r = await bootWith(kernel, c, good, `root=UUID=${OTHER_UUID} rootwait=2`, /root: waiting: the root hand-over failed/)
      const m = show(t, r)
      t.notOk(r.panicked, 'no kernel panic')
      t.notOk(r.timedOut, 'stopped by the test once the waiting line came')
      t.ok(m.some((l) => l.startsWith(`root: error: root device UUID=${OTHER_UUID} did not appear`)), 'the error')
      t.ok(m.includes('root: waiting: the root hand-over failed (device: ENODEV); boot with modload.onfail=poweroff|reboot|halt to act instead'), 'waits, saying how not to')
    })

    t.test('no ext4 module in the initramfs: named, with what to do', async (t) => {
      const r = await bootWith(kernel, CASES[0], good, `root=/dev/vda modload.onfail=poweroff`, undefined, [])
      const m = show(t, r)
      t.notOk(r.timedOut, 'powered off by itself')
      t.notOk(r.panicked, 'no kernel panic')
      t.ok(
        m.includes(
          `root: error: the kernel has no ext4 filesystem and no module provides it (neither fs-ext4 nor ext4 in /lib/modules/${kernel.version}); ` +
            'add the module to the initramfs (mkinitramfs --modules ...,ext4) or pass rootfstype=',
        ),
        'the error names the filesystem and where it looked',
      )
      t.ok(m.includes('root: modload.onfail=poweroff: powering off'), 'the action')
    })

    t.test('root filesystem without init: the tried paths, then modload.onfail=poweroff', async (t) => {
      const c = CASES[0]
      const r = await bootWith(kernel, c, noInit, `root=/dev/vda modload.onfail=poweroff`)
      const m = show(t, r)
      t.notOk(r.timedOut, 'powered off by itself')
      t.notOk(r.panicked, 'no kernel panic (PID 1 did not exit)')
      t.ok(m.some((l) => l.startsWith('root: mounted /dev/vda on /root type ext4 (ro)')), 'detected ext4 without rootfstype=')
      t.ok(
        m.includes(
          'root: error: no init to run on /dev/vda: tried /sbin/init: missing; /etc/init: missing; /bin/init: missing; /bin/sh: missing; pass init=PATH or install an init in the root filesystem',
        ),
        'the error names every path tried',
      )
      t.ok(m.includes('root: modload.onfail=poweroff: powering off'), 'the action')
    })
  })
}
