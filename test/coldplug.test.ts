// The coldplug engine (src/init/coldplug.ts) on a fake machine: a module database, a fake
// kernel that adds devices (uevents) when their bus driver loads, a fake clock. Covers devices
// that appear late, settle, policy (blacklist, options, softdeps, forced modules, built-in and
// live modules), a hanging load under the timeout, usb-storage's delayed scan, and the
// fallback without a uevent socket.
import t from 'tap'
import { buildModuleDb } from '../src/core/moddb.js'
import { buildConfig } from '../src/config/config.js'
import { aliasPriority, coldplug, isFilesystemModule, leadsToWait, modaliasesSeen, parseDelayUse, usbHubHold, usbStorageHold, timerSleep, type ColdplugOptions } from '../src/init/coldplug.js'
import type { Uevent, UeventSource } from '../src/init/uevent.js'
import { SysError } from '../src/sys/syscalls.js'
import { describe, leftToRoot, levelOf, succeeded } from '../src/init/report.js'

const dir = '/lib/modules/k'
const db = buildModuleDb(dir, {
  dep: [
    'kernel/virtio_pci.ko: kernel/virtio_ring.ko kernel/virtio.ko',
    'kernel/virtio_ring.ko:',
    'kernel/virtio.ko:',
    'kernel/virtio_net.ko: kernel/virtio_ring.ko kernel/virtio.ko',
    'kernel/virtio_blk.ko: kernel/virtio_ring.ko kernel/virtio.ko',
    'kernel/xhci_pci.ko:',
    'kernel/ehci_pci.ko:',
    'kernel/usb_storage.ko:',
    'kernel/sd_mod.ko:',
    'kernel/crc_pre.ko:',
    'kernel/snd_pcsp.ko:',
    'kernel/hangs.ko:',
    'kernel/needs_hang.ko: kernel/hangs.ko',
    'kernel/dummy.ko:',
    'kernel/aesni.ko:',
    'kernel/fs/ext4/ext4.ko:',
    '',
  ].join('\n'),
  alias: [
    'alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci',
    'alias virtio:d00000001v* virtio_net',
    'alias virtio:d00000002v* virtio_blk',
    'alias pci:v00001B36d0000000Dsv*sd*bc*sc*i* xhci_pci',
    'alias pci:v*d*sv*sd*bc0Csc03i20* ehci_pci',
    'alias usb:v46F4p0001d*dc*dsc*dp*ic08isc06ip50in* usb_storage',
    'alias scsi:t-0x00* sd_mod',
    'alias platform:pcspkr snd_pcsp',
    'alias platform:hang hangs',
    'alias platform:hang2 needs_hang',
    'alias cpu:type:x86,ven*fam*mod*:feature:*0099* aesni',
    '',
  ].join('\n'),
  builtin: 'kernel/i8042.ko\n',
})

const VIRTIO_PCI = 'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00'
/** a virtio disk on PCI: class 01 (mass storage) */
const VIRTIO_BLK_PCI = 'pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00'
const XHCI = 'pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30'
/** an EHCI USB host (interface 20): a USB controller that does not go first and alone */
const EHCI = 'pci:v00008086d000024CDsv00001AF4sd00001100bc0Csc03i20'

function ev(action: string, devpath: string, env: Record<string, string> = {}): Uevent {
  return { action, devpath, env: new Map(Object.entries({ ACTION: action, DEVPATH: devpath, ...env })) }
}

/** A fake kernel and clock: loads take `loadMs` of virtual time; `onLoad` returns the uevents
 * the load causes, with their delay after the load returns. */
function machine(opts: {
  devices: string[]
  onLoad?: (name: string) => [number, Uevent][]
  hang?: string[]
  fail?: Record<string, number>
  loadMs?: number
  /** load times of single modules (default loadMs) */
  loadMsOf?: Record<string, number>
}) {
  let now = 0
  const timers: { at: number; fire: () => void }[] = []
  const queue: Uevent[] = []
  const calls: { name: string; params: string; at: number }[] = []
  const present = [...opts.devices]
  const later = (ms: number, fire: () => void) => timers.push({ at: now + ms, fire })
  const sys = {
    finitModule() {
      throw new Error('the engine uses finitModuleAsync')
    },
    initModule() {
      throw new Error('not compressed')
    },
    finitModuleAsync(path: string, params = '') {
      const name = path.split('/').at(-1)!.split('.')[0]
      calls.push({ name, params, at: now })
      if (opts.hang?.includes(name)) return new Promise<void>(() => {})
      return new Promise<void>((resolve, reject) =>
        later(opts.loadMsOf?.[name] ?? opts.loadMs ?? 20, () => {
          const errno = opts.fail?.[name]
          if (errno) return reject(new SysError('finit_module', errno, path))
          for (const [delay, e] of opts.onLoad?.(name) ?? []) {
            later(delay, () => {
              queue.push(e)
              const m = e.env.get('MODALIAS')
              if (m) present.push(m)
            })
          }
          resolve()
        }),
      )
    },
  }
  const events: UeventSource = { drain: () => queue.splice(0), overflowed: () => false, close: () => undefined }
  const sleep = async (ms: number) => {
    now += ms
    for (const tm of timers.filter((x) => x.at <= now).sort((a, b) => a.at - b.at)) {
      timers.splice(timers.indexOf(tm), 1)
      tm.fire()
    }
    await new Promise((r) => setImmediate(r))
  }
  const base = (cmdline = '', conf = ''): ColdplugOptions => ({
    db,
    config: buildConfig([{ path: 'test.conf', text: conf }], cmdline).config,
    sys,
    kernelCompression: null,
    live: new Set(),
    scan: () => [...present],
    events,
    quietMs: 300,
    timeoutMs: 10_000,
    concurrency: 4,
    now: () => now,
    sleep: (ms) => ({ done: sleep(ms), cancel: () => undefined }),
  })
  /** time passes up to the next thing that happens, at most `ms` (a wait on the socket) */
  const step = async (ms: number) => {
    const next = Math.min(now + ms, ...timers.map((x) => x.at))
    await sleep(Math.max(0, next - now))
  }
  return { sys, calls, base, present, queue, now: () => now, step }
}

t.test('devices behind a bus driver arrive by uevent and get their driver; /sys is read once', async (t) => {
  const m = machine({
    devices: [VIRTIO_PCI, 'serio:ty01pr00id00ex00'],
    onLoad: (n) => (n === 'virtio_pci' ? [[150, ev('add', '/devices/pci0000:00/0000:00:03.0/virtio0', { MODALIAS: 'virtio:d00000001v00001AF4' })], [250, ev('add', '/devices/pci0000:00/0000:00:04.0/virtio1', { MODALIAS: 'virtio:d00000002v00001AF4' })]] : []),
  })
  const r = await coldplug(m.base())
  t.same(r.results.map((x) => [x.name, x.status]), [['virtio', 'loaded'], ['virtio_ring', 'loaded'], ['virtio_pci', 'loaded'], ['virtio_net', 'loaded'], ['virtio_blk', 'loaded']])
  t.equal(r.scans, 1)
  t.equal(r.events, 2)
  t.same(r.unmatched, ['serio:ty01pr00id00ex00'])
  t.notOk(r.timedOut)
  t.ok(r.ms >= 250 + 300, 'waited out the quiet period after the last uevent')
  t.ok(succeeded(r))
})

t.test('independent modules load at the same time; a module waits for its dependencies', async (t) => {
  const m = machine({ devices: [VIRTIO_PCI, EHCI, 'platform:pcspkr'] })
  await coldplug(m.base())
  const at = new Map(m.calls.map((c) => [c.name, c.at]))
  t.equal(at.get('virtio'), 0)
  t.equal(at.get('virtio_ring'), 0)
  t.equal(at.get('ehci_pci'), 0)
  t.equal(at.get('snd_pcsp'), 0, 'four in flight at once')
  t.ok(at.get('virtio_pci')! > at.get('virtio')!, 'after its dependencies')
})

t.test('policy: blacklist, options from modprobe.d and the command line, softdeps, forced, built-in, live', async (t) => {
  const m = machine({ devices: [VIRTIO_PCI, 'platform:pcspkr'] })
  const o = m.base('modprobe.blacklist=snd_pcsp virtio_pci.force_legacy=1', 'options virtio_pci disable=0\nsoftdep virtio_pci pre: crc_pre\nalias platform:ghost no_such_module\n')
  m.present.push('platform:ghost')
  o.live = new Set(['virtio'])
  o.force = ['dummy', 'nonexistent', 'i8042']
  const r = await coldplug(o)
  const names = m.calls.map((c) => c.name)
  t.notOk(names.includes('snd_pcsp'), 'blacklisted for its device')
  t.same(r.blacklisted, [{ alias: 'platform:pcspkr', module: 'snd_pcsp' }])
  t.notOk(names.includes('virtio'), 'live already')
  t.equal(m.calls.find((c) => c.name === 'virtio_pci')?.params, 'disable=0 force_legacy=1')
  t.ok(names.indexOf('crc_pre') < names.indexOf('virtio_pci') && names.includes('crc_pre'), 'softdep pre first')
  t.ok(names.includes('dummy'), 'forced module loaded')
  t.notOk(r.results.some((x) => x.name === 'i8042'), 'built-in: nothing to load, no failure')
  const missing = r.results.find((x) => x.name === 'nonexistent')
  t.equal(missing?.status, 'failed')
  t.match(r.results.find((x) => x.name === 'no_such_module')?.error?.message, /no_such_module \(for platform:ghost\) not found/, 'a modprobe.d alias to a module the tree lacks')
  t.notOk(succeeded(r))
})

t.test('a hanging load does not hold up the others; the timeout ends the wait and names it', async (t) => {
  const m = machine({ devices: ['platform:hang', 'platform:hang2', VIRTIO_PCI], hang: ['hangs'] })
  const o = m.base()
  o.timeoutMs = 8000
  o.concurrency = 1
  o.slowMs = 3000
  const r = await coldplug(o)
  t.ok(r.timedOut)
  t.ok(r.ms >= 8000)
  t.same(r.hung.map((h) => h.name), ['hangs'])
  t.same(r.blocked, [{ name: 'needs_hang', on: ['hangs'] }])
  t.ok(r.results.some((x) => x.name === 'virtio_pci' && x.status === 'loaded'), 'the rest loaded, even with one slot')
  t.notOk(succeeded(r))
})

t.test('at the timeout no load starts, and those in flight end before the caller is told: only a load past slowMs is hung', async (t) => {
  // the caller may end the process once it returns: a load cut short there would lose its
  // init's killable waits (request_module, request_firmware) and maybe its device
  const m = machine({ devices: [VIRTIO_PCI, 'platform:hang'], hang: ['hangs'], loadMs: 400 })
  const o = m.base()
  o.timeoutMs = 100
  o.concurrency = 4
  o.slowMs = 3000
  const lines: string[] = []
  o.debug = (l) => lines.push(l)
  const r = await coldplug(o)
  t.ok(r.timedOut)
  t.same(m.calls.map((c) => c.name).sort(), ['hangs', 'virtio', 'virtio_ring'], 'the three in flight at the timeout, nothing after it')
  t.same(r.results.map((x) => [x.name, x.status]), [['virtio', 'loaded'], ['virtio_ring', 'loaded']], 'those in flight for 100 ms ended, loaded')
  t.same(r.hung.map((h) => h.name), ['hangs'], 'the one that never returns is hung, once it has been in the kernel for slowMs')
  t.ok(r.ms >= 3000 && r.ms < 3500, `waited for it until slowMs, not longer (${r.ms} ms)`)
  t.same(r.blocked, [{ name: 'virtio_pci', on: [] }], 'ready to start, it did not: named')
  t.ok(lines.some((l) => /^modload\.timeout: no load starts any more; 3 in flight/.test(l)))
})

t.test('a failed dependency: reported with its errno, dependents skipped', async (t) => {
  const m = machine({ devices: [VIRTIO_PCI], fail: { virtio_ring: 8 } })
  const r = await coldplug(m.base())
  t.same(r.results.map((x) => [x.name, x.status]), [['virtio', 'loaded'], ['virtio_ring', 'failed'], ['virtio_pci', 'skipped']])
  t.equal((r.results[1].error as SysError).code, 'ENOEXEC')
})

/** A USB disk behind xHCI: usb-storage adds its SCSI host, and `lun` (a uevent's variables)
 * 1 s later under it, as its delayed scan does; with or without usb-storage's hold. */
async function usbDisk(lun: Record<string, string>, hold = true) {
  const host = '/devices/pci0000:00/0000:00:03.0/usb2/2-1/2-1:1.0/host6'
  const m = machine({
    devices: [XHCI],
    onLoad: (n) =>
      n === 'xhci_pci'
        ? [[200, ev('add', '/devices/pci0000:00/0000:00:03.0/usb2/2-1/2-1:1.0', { MODALIAS: 'usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00' })]]
        : n === 'usb_storage'
          ? [[5, ev('add', `${host}/scsi_host/host6`, { SUBSYSTEM: 'scsi_host' })], [1000, ev('add', `${host}/target6:0:0/6:0:0:0`, lun)]]
          : [],
  })
  const o = m.base()
  if (hold) o.holdFor = (e) => usbStorageHold(e, () => 1000)
  const lines: string[] = []
  o.debug = (l) => lines.push(l)
  const r = await coldplug(o)
  return { names: r.results.map((x) => x.name), end: m.now(), lines }
}

t.test("usb-storage's delayed scan: the SCSI disk arrives after a silence longer than the quiet period", async (t) => {
  t.same((await usbDisk({ SUBSYSTEM: 'scsi', MODALIAS: 'scsi:t-0x00' })).names, ['xhci_pci', 'usb_storage', 'sd_mod'])
  t.same((await usbDisk({ SUBSYSTEM: 'scsi', MODALIAS: 'scsi:t-0x00' }, false)).names, ['xhci_pci', 'usb_storage'], 'without the hold the quiet period ends first')
})

t.test("the usb-storage hold ends once the host's scan added a SCSI device under it", async (t) => {
  const run = (lun: Record<string, string>) => usbDisk(lun)
  const lun = await run({ SUBSYSTEM: 'scsi', DEVTYPE: 'scsi_device', MODALIAS: 'scsi:t-0x00' })
  t.same(lun.names, ['xhci_pci', 'usb_storage', 'sd_mod'])
  t.ok(lun.lines.some((l) => /^hold for .*\/host6\/scsi_host\/host6 ends \d+ ms early: add .*\/6:0:0:0$/.test(l)), 'said in the debug log')
  // a device under the host that is not a LUN (its target) does not end it
  const target = await run({ SUBSYSTEM: 'scsi', DEVTYPE: 'scsi_target' })
  t.ok(lun.end < target.end - 100, `settled at ${lun.end} ms, not at the hold's end (${target.end} ms)`)
  t.notOk(target.lines.some((l) => l.startsWith('hold for')))
})

t.test('the usb-storage hold and its parameter', async (t) => {
  t.equal(usbStorageHold(ev('add', '/devices/pci0/usb1/1-1/1-1:1.0/host0/scsi_host/host0', { SUBSYSTEM: 'scsi_host' }), () => 1000), 1500)
  t.equal(usbStorageHold(ev('add', '/devices/pci0/ata1/host0/scsi_host/host0', { SUBSYSTEM: 'scsi_host' }), () => 1000), 0, 'not behind USB')
  t.equal(usbStorageHold(ev('remove', '/devices/usb1/host0/scsi_host/host0', { SUBSYSTEM: 'scsi_host' }), () => 1000), 0)
  t.equal(parseDelayUse('1\n'), 1000)
  t.equal(parseDelayUse('250ms\n'), 250)
  t.equal(parseDelayUse(null), 1000, 'default when unreadable')
})

t.test('without a uevent socket /sys is rescanned when the loads run dry', async (t) => {
  const m = machine({
    devices: [VIRTIO_PCI],
    onLoad: (n) => (n === 'virtio_pci' ? [[0, ev('add', '/v/virtio0', { MODALIAS: 'virtio:d00000001v00001AF4' })]] : []),
  })
  const o = m.base()
  o.events = null
  const r = await coldplug(o)
  t.ok(r.results.some((x) => x.name === 'virtio_net'))
  t.ok(r.scans >= 2)
  t.equal(r.events, 0)
})

t.test('an overflowed uevent queue makes one rescan of /sys', async (t) => {
  const m = machine({ devices: [] })
  const o = m.base()
  let lost = 0
  // the kernel drops events once, on the first drain
  o.events = {
    drain: () => (lost++ === 0 && m.present.push('virtio:d00000002v00001AF4'), []),
    overflowed: () => lost === 1,
    close: () => undefined,
  }
  const r = await coldplug(o)
  t.equal(r.scans, 2)
  t.ok(r.results.some((x) => x.name === 'virtio_blk'))
})

t.test('alias priority: controllers that reveal devices first, CPU features last', async (t) => {
  t.equal(aliasPriority('pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30'), 0, 'USB controller')
  t.equal(aliasPriority('pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01'), 0, 'AHCI')
  t.equal(aliasPriority('pci:v00001B36d00000007sv00001AF4sd00001100bc08sc05i01'), 0, 'SD host controller (sdhci-pci)')
  t.equal(aliasPriority('pci:v00008086d00007020sv00001AF4sd00001100bc08sc80i00'), 1, 'another system peripheral')
  t.equal(aliasPriority('virtio:d00000002v00001AF4'), 0, 'virtio block')
  t.equal(aliasPriority('virtio:d00000008v00001AF4'), 0, 'virtio SCSI')
  t.equal(aliasPriority('virtio:d0000001Av00001AF4'), 0, 'virtiofs (a root file system)')
  t.equal(aliasPriority('virtio:d000000FEv00001AF4'), 0, 'a type not known to hold no disk')
  t.equal(aliasPriority('virtio:d00000001v00001AF4'), 1, 'virtio network')
  t.equal(aliasPriority('virtio:d00000004v00001AF4'), 1, 'virtio entropy')
  t.equal(aliasPriority('virtio:d00000012v00001AF4'), 1, 'virtio input')
  t.equal(aliasPriority('usb:v0627p0001d0000dc00dsc00dp00ic03isc00ip00in00'), 1, 'USB HID')
  t.equal(aliasPriority('usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00'), 0, 'USB mass storage')
  t.equal(aliasPriority('usb:v1D6Bp0002d0601dc09dsc00dp03ic09isc00ip00in00'), 0, 'USB hub')
  t.equal(aliasPriority('usb:v0BDAp0129d3960dcEFdsc02dp01icFFiscFFipFFin00'), 0, 'vendor-specific (a card reader, perhaps)')
  t.equal(aliasPriority('usb:v0BDAp8153d3000dc00dsc00dp00ic02isc06ip00in00'), 1, 'USB network (CDC)')
  t.equal(aliasPriority('scsi:t-0x00'), 0)
  t.equal(aliasPriority('scsi:t-0x05'), 0, 'CD-ROM')
  t.equal(aliasPriority('scsi:t-0x0d'), 1, 'enclosure')
  t.equal(aliasPriority('pci:v00008086d000010D3sv00001AF4sd00001100bc02sc00i00'), 1, 'network')
  t.equal(aliasPriority('pci:v00008086d000029C0sv00001AF4sd00001100bc06sc00i00'), 1, 'host bridge')
  t.equal(aliasPriority('pci:v00008086d00002930sv00001AF4sd00001100bc0Csc05i00'), 1, 'SMBus')
  t.equal(aliasPriority('hid:b0003g0001v00000627p00000001'), 1)
  t.equal(aliasPriority('acpi:PNP0A08:PNP0A03:'), 2)
  t.equal(aliasPriority('platform:i8042'), 2)
  t.equal(aliasPriority('dmi:bvnSeaBIOS:'), 2)
  t.equal(aliasPriority('ext4'), 2, 'a name, no bus')
  t.equal(aliasPriority('cpu:type:x86,ven0002fam000Fmod006B:feature:,0000'), 3)
})

t.test('the USB hub hold', async (t) => {
  const usb = (type: string, devtype = 'usb_device') => ev('add', '/devices/pci0000:00/0000:00:03.0/usb1', { SUBSYSTEM: 'usb', DEVTYPE: devtype, TYPE: type })
  t.equal(usbHubHold(usb('9/0/3')), 500, 'a hub: its ports enumerate from a work queue')
  t.equal(usbHubHold(usb('0/0/0')), 0, 'a device')
  t.equal(usbHubHold(usb('9/0/0', 'usb_interface')), 0, 'an interface')
  t.equal(usbHubHold(ev('remove', '/devices/usb1', { SUBSYSTEM: 'usb', DEVTYPE: 'usb_device', TYPE: '9/0/3' })), 0)
})

/** A uevent socket on the fake machine: its wait lets the machine's time pass. */
function socketOf(m: ReturnType<typeof machine>, onWait: () => void = () => undefined): UeventSource {
  return {
    drain: () => m.queue.splice(0),
    overflowed: () => false,
    close: () => undefined,
    wait: async (ms) => {
      onWait()
      await m.step(ms)
    },
  }
}

t.test('with a socket it can wait on, the engine sleeps until something happens', async (t) => {
  const m = machine({
    devices: [VIRTIO_PCI],
    onLoad: (n) => (n === 'virtio_pci' ? [[150, ev('add', '/devices/pci0000:00/0000:00:03.0/virtio0', { MODALIAS: 'virtio:d00000001v00001AF4' })]] : []),
  })
  let waits = 0
  const o = m.base()
  o.events = socketOf(m, () => waits++)
  o.sleep = () => ({ done: new Promise(() => {}), cancel: () => undefined }) // only the socket's wait lets time pass
  const r = await coldplug(o)
  t.same(r.results.map((x) => [x.name, x.status]), [['virtio', 'loaded'], ['virtio_ring', 'loaded'], ['virtio_pci', 'loaded'], ['virtio_net', 'loaded']])
  t.equal(r.events, 1)
  t.ok(r.ms >= 20 * 3 + 150 + 300, `waited out the quiet period after the uevent (${r.ms} ms)`)
  t.ok(waits < 15, `${waits} waits, not one per 10 ms tick (${r.ms / 10})`)
})

t.test('timerSleep: done after the time, never once cancelled', async (t) => {
  const a = timerSleep(5)
  let fired = false
  const b = timerSleep(5)
  void b.done.then(() => (fired = true))
  b.cancel()
  await a.done
  await new Promise((r) => setTimeout(r, 20))
  t.notOk(fired, 'the cancelled one never resolved')
})

t.test('a sleep that loses the race to the socket is cancelled: no timer outlives coldplug', async (t) => {
  const m = machine({ devices: [VIRTIO_PCI] })
  const o = m.base()
  o.events = socketOf(m)
  const sleeps: { cancelled: boolean }[] = []
  o.sleep = () => {
    const s = { cancelled: false }
    sleeps.push(s)
    return { done: new Promise(() => {}), cancel: () => void (s.cancelled = true) } // never wins: the socket's wait lets time pass
  }
  await coldplug(o)
  t.ok(sleeps.length > 0, `${sleeps.length} racing sleeps`)
  t.ok(sleeps.every((s) => s.cancelled), 'every one cancelled once its race was over')
})

t.test('the first scan: what reveals devices starts loading before the rest is resolved', async (t) => {
  const m = machine({ devices: ['platform:pcspkr', VIRTIO_PCI, XHCI, VIRTIO_BLK_PCI] })
  const o = m.base()
  const order: string[] = []
  const load = m.sys.finitModuleAsync
  m.sys.finitModuleAsync = (path: string, params = '') => {
    order.push(`load ${path.split('/').at(-1)!.split('.')[0]}`)
    return load(path, params)
  }
  o.debug = (l) => void (l.startsWith('queue ') && order.push(l.split(' ').slice(0, 2).join(' ')))
  await coldplug(o)
  const firstLoad = order.findIndex((l) => l.startsWith('load '))
  t.same(order.slice(0, firstLoad).sort(), ['queue virtio', 'queue virtio_pci', 'queue virtio_ring', 'queue xhci_pci'], 'the USB controller and the PCI disk (with its dependencies) are queued before anything loads')
  t.ok(order.indexOf('queue snd_pcsp') > firstLoad, 'the platform device is resolved after the first loads started')
  t.equal(order.filter((l) => l.startsWith('load ')).length, 5, 'everything is loaded all the same')

  const rooted = machine({ devices: ['platform:pcspkr', XHCI] })
  const r = rooted.base()
  const seen: string[] = []
  r.debug = (l) => void (l.startsWith('queue ') && seen.push(l.split(' ')[1]))
  r.urgent = new Set(['virtio_pci'])
  r.force = ['virtio_pci']
  await coldplug(r)
  t.same(seen.slice(0, 3), ['virtio', 'virtio_ring', 'virtio_pci'], "the root's chain loaded by name (with its dependencies) comes first")
})

t.test("the root's file system loads after the drivers that reveal devices, ahead of the rest", async (t) => {
  t.ok(isFilesystemModule('/lib/modules/6.1.0-56-amd64/kernel/fs/ext4/ext4.ko'))
  t.ok(isFilesystemModule('kernel/fs/nfs/nfs.ko.xz'))
  t.notOk(isFilesystemModule('/lib/modules/6.1.0-56-amd64/kernel/drivers/block/virtio_blk.ko'))
  t.notOk(isFilesystemModule('/lib/modules/6.1.0-56-amd64/updates/kernel-fs.ko'))
  const m = machine({ devices: ['platform:pcspkr', EHCI, VIRTIO_PCI] })
  const o = m.base()
  o.concurrency = 1
  o.urgent = new Set(['ext4', 'virtio_pci'])
  o.force = ['ext4', 'virtio_pci']
  await coldplug(o)
  t.same(
    m.calls.map((c) => c.name),
    ['virtio', 'virtio_ring', 'virtio_pci', 'ehci_pci', 'ext4', 'snd_pcsp'],
    "the root's device chain, the USB controller (it may hold the disk), the file system, the rest",
  )
})

t.test("the root's chain (urgent) starts before everything else, its dependencies with it", async (t) => {
  const m = machine({ devices: [EHCI, 'platform:pcspkr', VIRTIO_PCI] })
  const o = m.base()
  o.concurrency = 1
  o.urgent = new Set(['virtio_pci'])
  await coldplug(o)
  t.same(m.calls.map((c) => c.name).slice(0, 3), ['virtio', 'virtio_ring', 'virtio_pci'], 'one load at a time: the urgent chain first, though ehci is a USB controller')
  const plain = machine({ devices: [EHCI, 'platform:pcspkr', VIRTIO_PCI] })
  const p = plain.base()
  p.concurrency = 1
  await coldplug(p)
  t.equal(plain.calls[0].name, 'ehci_pci', 'without it, the first controller found goes first')
})

/** virtio_pci reveals a virtio disk, whose driver then adds its block device: `there` turns
 * true once virtio_blk loaded (the root device is about to appear). */
function diskBehindVirtio(): { there: boolean; onLoad: (name: string) => [number, Uevent][] } {
  const d = {
    there: false,
    onLoad: (n: string): [number, Uevent][] => {
      if (n === 'virtio_pci') return [[10, ev('add', '/devices/pci0000:00/0000:00:04.0/virtio1', { MODALIAS: 'virtio:d00000002v00001AF4' })]]
      if (n === 'virtio_blk') {
        d.there = true
        return [[5, ev('add', '/devices/pci0000:00/0000:00:04.0/virtio1/block/vda', { SUBSYSTEM: 'block', DEVNAME: 'vda' })]]
      }
      return []
    },
  }
  return d
}

/** The disk behind virtio, a USB host and the PC speaker; one load at a time, the root's chain
 * urgent and a forced module queued behind everything. */
function rootAwaited() {
  const disk = diskBehindVirtio()
  const m = machine({ devices: [VIRTIO_BLK_PCI, XHCI, 'platform:pcspkr'], loadMs: 50, onLoad: disk.onLoad })
  const o = m.base()
  o.concurrency = 1
  o.urgent = new Set(['virtio_pci', 'virtio_blk'])
  o.force = ['dummy']
  return { disk, m, o }
}

t.test('enough (modload.handover=early): once the root device is there, no new load starts', async (t) => {
  const { disk, m, o } = rootAwaited()
  let asked = 0
  o.enough = () => {
    asked++
    return disk.there
  }
  const r = await coldplug(o)
  t.ok(r.stoppedEarly)
  // xhci_pci (a USB host: it could lead to a disk) took the free slot while virtio_blk's device
  // was still on its way; the PC speaker and the forced module cannot, and waited
  t.same(m.calls.map((c) => c.name), ['virtio', 'virtio_ring', 'virtio_pci', 'xhci_pci', 'virtio_blk'])
  t.same(r.blocked.map((b) => b.name).sort(), ['dummy', 'snd_pcsp'], 'the rest is left to the root')
  t.equal(asked, 2, 'asked after the first scan and after the block device came, not at every wake-up')
  t.ok(succeeded(r), 'an early stop is not a failure')
  const never = machine({ devices: [XHCI] })
  const n = never.base()
  n.enough = () => false
  const nr = await coldplug(n)
  t.notOk(nr.stoppedEarly)
  t.same(nr.blocked, [])
})

t.test('onEnough (a hook going on with the root): told once, coldplug goes on to settle; stop ends it early', async (t) => {
  const { disk, m, o } = rootAwaited()
  let asked = 0
  const told: number[] = []
  o.enough = () => {
    asked++
    return disk.there
  }
  o.onEnough = () => told.push(m.now())
  const r = await coldplug(o)
  t.equal(told.length, 1, 'told once')
  t.ok(told[0] < r.ms, 'before coldplug settled')
  t.notOk(r.stoppedEarly)
  t.same(r.blocked, [], 'everything loaded: nothing left to the root')
  t.ok(m.calls.some((c) => c.name === 'dummy'), 'the loads went on after the root was there')
  t.equal(asked, 2, 'not asked again once it said yes')
  t.ok(m.calls.find((c) => c.name === 'snd_pcsp')!.at >= told[0], 'the PC speaker (it cannot lead to a disk) waited for the root')

  // stop: asked once the root is there, the loads in flight end and nothing new starts
  const { disk: disk2, m: s, o: so } = rootAwaited()
  so.enough = () => disk2.there
  let stop = (): void => undefined
  so.stop = new Promise<void>((resolve) => (stop = resolve))
  so.onEnough = stop
  const lines: string[] = []
  so.debug = (l) => lines.push(l)
  const sr = await coldplug(so)
  t.ok(sr.stoppedEarly)
  t.equal(sr.stoppedBy, 'stop')
  t.same(sr.blocked.map((b) => b.name), ['dummy'], 'what had not started is left (the chain was loaded: the held PC speaker went at once)')
  t.notOk(s.calls.some((c) => c.name === 'dummy'))
  t.same(sr.hung, [], 'the load in flight was waited for')
  t.ok(lines.some((l) => l.startsWith('asked to stop, ')), lines.join('\n'))
  t.ok(succeeded(sr), 'a stop on request is not a failure')
})

t.test('beforeEnough (a hook\'s modules file): run once the root device is there; onEnough waits for it', async (t) => {
  const { disk, m, o } = rootAwaited()
  o.enough = () => disk.there
  const told: number[] = []
  o.onEnough = () => told.push(m.now())
  const ran: number[] = []
  let endAt = -1
  let end = (): void => undefined
  o.beforeEnough = () => {
    ran.push(m.now())
    // a USB host (it may lead to a disk: not held while the root is awaited) appears meanwhile
    m.queue.push(ev('add', '/devices/pci0000:00/0000:00:05.0', { MODALIAS: EHCI }))
    return new Promise<void>((resolve) => (end = resolve))
  }
  // it ends 1 s later on the machine's clock (a list of modules loading); meanwhile the main
  // loop waits on the socket without polling (a 1 ms loop took the CPU from the list's loads)
  let shortWaits = 0
  o.events = {
    drain: () => m.queue.splice(0),
    overflowed: () => false,
    close: () => undefined,
    wait: async (ms) => {
      const running = ran.length > 0 && endAt < 0
      if (running && ms <= 1) shortWaits++
      if (m.queue.length) return // a uevent is there
      await m.step(running ? Math.min(ms, ran[0] + 1000 - m.now()) : ms)
      if (running && m.now() >= ran[0] + 1000) {
        endAt = m.now()
        end()
      }
    },
  }
  o.sleep = () => ({ done: new Promise(() => {}), cancel: () => undefined }) // only the socket's wait lets time pass
  const r = await coldplug(o)
  t.equal(shortWaits, 0, 'no 1 ms waits while it ran')
  t.equal(ran.length, 1, 'run once')
  t.ok(disk.there, 'the disk came')
  t.ok(endAt >= 0, 'it ended')
  t.equal(told.length, 1, 'told once')
  t.ok(told[0] >= endAt, `onEnough after it ended (${told[0]} ms >= ${endAt} ms)`)
  t.ok(m.calls.find((c) => c.name === 'snd_pcsp')!.at >= told[0], 'what is held while the root is awaited stayed held until then')
  const during = m.calls.filter((c) => c.at >= ran[0] && c.at < endAt).map((c) => c.name)
  t.same(during, [], `nothing started while it ran, the USB host neither (${during.join(' ')})`)
  t.ok(m.calls.some((c) => c.name.startsWith('ehci') && c.at >= endAt), 'the USB host\'s driver loaded after it')
  t.notOk(r.stoppedEarly)

  // one that never ends (a module's init hung): coldplug does not settle meanwhile, and ends
  // at its timeout without telling
  const { disk: disk2, o: o2 } = rootAwaited()
  o2.enough = () => disk2.there
  let told2 = 0
  o2.onEnough = () => told2++
  o2.beforeEnough = () => new Promise<void>(() => undefined)
  const r2 = await coldplug(o2)
  t.equal(told2, 0)
  t.ok(r2.timedOut, 'ended by the timeout')
  t.same(r2.blocked.map((b) => b.name).sort(), ['dummy', 'snd_pcsp'], 'what was held stayed held')
})

t.test("onChainLoaded: after onEnough, once the root's chain, its file system too, is loaded (a hook lowers the rest's priority then)", async (t) => {
  const { disk, m, o } = rootAwaited()
  o.urgent = new Set(['virtio_pci', 'virtio_blk', 'ext4'])
  o.force = ['virtio_pci', 'virtio_blk', 'ext4', 'dummy']
  o.enough = () => disk.there
  const told: number[] = []
  const chain: number[] = []
  o.onEnough = () => told.push(m.now())
  o.onChainLoaded = () => chain.push(m.now())
  await coldplug(o)
  const ext4 = m.calls.find((c) => c.name === 'ext4')?.at ?? -1
  t.equal(told.length, 1)
  t.equal(chain.length, 1, 'called once')
  t.ok(told[0] < ext4 + 50, `the root device was there (${told[0]} ms) before ext4 was loaded (${ext4 + 50} ms)`)
  t.ok(chain[0] >= ext4 + 50, `called once ext4 was loaded (${chain[0]} ms)`)
  const between = m.calls.filter((c) => c.at > told[0] && c.at < chain[0]).map((c) => c.name)
  t.same(between.filter((n) => !['ext4', 'virtio_pci', 'virtio_blk', 'virtio', 'virtio_ring'].includes(n)), [], `nothing held started before (${between.join(' ')})`)
  t.ok((m.calls.find((c) => c.name === 'snd_pcsp')?.at ?? -1) >= chain[0], 'the held PC speaker after it')

  const none = machine({ devices: [VIRTIO_BLK_PCI] })
  const n = none.base()
  const at: number[] = []
  const went: number[] = []
  n.enough = () => true
  n.onEnough = () => went.push(none.now())
  n.onChainLoaded = () => at.push(none.now())
  await coldplug(n)
  t.equal(went.length, 1)
  t.same(at, went, 'no chain: at once, when the caller goes on')

  const never = machine({ devices: [VIRTIO_BLK_PCI] })
  const nv = never.base()
  let called = false
  nv.onChainLoaded = () => (called = true)
  await coldplug(nv)
  t.notOk(called, 'without onEnough (no caller going on) it is never called')
})

t.test('beside a boot (after onEnough and the chain): loads start only on the CPUs the rest of the system leaves idle', async (t) => {
  // the caller's boot script keeps the one CPU busy from the chain's end for 1 s (it mounts
  // the root), then leaves it idle
  const run = (own: boolean, withCaller = true) => {
    const { disk, m, o } = rootAwaited()
    o.concurrency = 2
    let chainAt: number | undefined
    const bootBusy = (at: number) => chainAt !== undefined && at >= chainAt && at < chainAt + 1000
    // the CPU's jiffies (10 ms), summed over the virtual time in 10 ms steps
    let seen = 0
    let busy = 0
    let ownMs = 0
    o.cpu = () => {
      for (; seen + 10 <= m.now(); seen += 10) {
        if (bootBusy(seen)) {
          busy++
          if (own) ownMs += 10 // the same busy time, but ours (our loads in the kernel)
        }
      }
      return { busy, idle: seen / 10 - busy, cpus: 1 }
    }
    o.ownCpuMs = () => ownMs
    o.enough = () => disk.there
    if (withCaller) o.onEnough = () => undefined
    o.onChainLoaded = () => (chainAt = m.now())
    const lines: string[] = []
    o.debug = (l) => lines.push(l)
    return { m, o, lines, chain: () => chainAt ?? -1 }
  }
  const busy = run(false)
  const r = await coldplug(busy.o)
  t.ok(succeeded(r))
  const after = busy.m.calls.filter((c) => c.at >= busy.chain())
  t.ok(after.length > 0, 'the held loads came after the chain')
  t.ok(after.every((c) => c.at >= busy.chain() + 1000), `none started while the boot used the CPU (${after.map((c) => `${c.name}@${c.at}`).join(' ')}, chain at ${busy.chain()})`)
  t.ok(after.every((c) => c.at <= busy.chain() + 1000 + 300), 'they went once it idled, at the next looks')
  t.ok(busy.lines.includes('beside the boot: loads start on the CPUs it leaves idle, from the next look at them'), busy.lines.join('\n'))
  t.ok(busy.lines.some((l) => /^beside the boot: at most 1 in flight \(cpu \d+% idle; \d+ waiting\)$/.test(l)), busy.lines.join('\n'))

  // the same busy CPU, but the time is our own loads': they go on at once
  const mine = run(true)
  await coldplug(mine.o)
  const first = mine.m.calls.find((c) => c.at >= mine.chain())
  t.ok(first !== undefined && first.at < mine.chain() + 300, `our own load time does not hold us back (${first?.name}@${first?.at}, chain at ${mine.chain()})`)

  // no caller going on beside (init's own coldplug): never capped
  const alone = run(false, false)
  await coldplug(alone.o)
  t.notOk(alone.lines.some((l) => l.startsWith('beside the boot')), 'no cap without onEnough')
})

t.test("beside a boot, the scan after the root's chain waits for a CPU the boot leaves idle too", async (t) => {
  // the chain is loaded by name (the image's root-modules), so the devices' scan comes after
  // it; the boot script keeps the one CPU busy for 1 s from the chain's end
  const run = (own: boolean, stopAfterMs?: number, unreadableAfterChain = false) => {
    const { disk, m, o } = rootAwaited()
    // the file system's load ends after the disk is there (as ext4's after virtio_pci's probe)
    o.urgent = new Set(['virtio_pci', 'virtio_blk', 'ext4'])
    o.force = ['virtio_pci', 'virtio_blk', 'ext4']
    let chainAt: number | undefined
    let seen = 0
    let busy = 0
    let ownMs = 0
    let looks = 0
    let stop: () => void = () => undefined
    if (stopAfterMs !== undefined) o.stop = new Promise<void>((resolve) => (stop = resolve))
    // busy from the start: the chain's loads (ours), then the boot script for 1 s
    const advance = (): void => {
      for (; seen + 10 <= m.now(); seen += 10) {
        if (chainAt === undefined || seen < chainAt + 1000) {
          busy++
          if (own || chainAt === undefined || seen < chainAt) ownMs += 10
        }
      }
    }
    o.cpu = () => {
      advance()
      // the boot's end (init-bottom) asks us to stop, at a look on the virtual clock
      if (stopAfterMs !== undefined && chainAt !== undefined && m.now() >= chainAt + stopAfterMs) stop()
      looks++
      if (unreadableAfterChain && chainAt !== undefined) return null
      return { busy, idle: seen / 10 - busy, cpus: 1 }
    }
    o.ownCpuMs = () => {
      advance()
      return ownMs
    }
    o.enough = () => disk.there
    o.onEnough = () => undefined
    o.onChainLoaded = () => (chainAt = m.now())
    const scans: number[] = []
    const scan = o.scan
    o.scan = () => {
      scans.push(m.now())
      return scan()
    }
    const lines: string[] = []
    o.debug = (l) => lines.push(l)
    return { m, o, lines, scans, chain: () => chainAt ?? -1, looks: () => looks }
  }
  const busy = run(false)
  const r = await coldplug(busy.o)
  t.ok(succeeded(r))
  t.ok(busy.lines.includes("scan: after the root's chain"), busy.lines.join('\n'))
  // the boot stays busy past the quiet period (300 ms): coldplug must not end as settled
  // before it scanned
  t.equal(busy.scans.length, 1, 'one scan')
  t.ok(busy.scans[0] >= busy.chain() + 1000, `not while the boot used the CPU (scan at ${busy.scans[0]}, chain at ${busy.chain()})`)
  t.ok(busy.scans[0] <= busy.chain() + 1000 + 300, 'at the next looks once it idled')
  t.ok((busy.m.calls.find((c) => c.name === 'snd_pcsp')?.at ?? -1) >= busy.scans[0], 'what the scan found loaded after it')
  t.equal(r.scans, 1)

  // the busy time is our own loads': the scan goes at once
  const mine = run(true)
  await coldplug(mine.o)
  t.equal(mine.scans.length, 1)
  t.ok(mine.scans[0] < mine.chain() + 300, `our own load time does not hold it back (scan at ${mine.scans[0]}, chain at ${mine.chain()})`)

  // the boot ends (stop) while it still keeps the CPU: no scan at all, what it would have
  // found is the root's udev's
  const stopped = run(false, 500)
  const sr = await coldplug(stopped.o)
  t.same(stopped.scans, [], 'never scanned')
  t.equal(sr.scans, 0)
  t.equal(sr.stoppedBy, 'stop')
  t.ok(succeeded(sr), 'a stop is not a failure')
  t.notOk(stopped.m.calls.some((c) => c.name === 'snd_pcsp'), 'nothing of the scan loaded')

  // /proc/stat unreadable while the scan waits (/proc moved into the root): a look every
  // ADAPT_MS still, not a wake-up every millisecond until the stop
  const blind = run(false, 500, true)
  await coldplug(blind.o)
  t.same(blind.scans, [], 'no look granted a CPU: no scan')
  t.ok(blind.looks() <= 20, `${blind.looks()} looks at the CPU in all`)

})

t.test("the root's known chain, root= awaited: its loads go first and alone, then the other storage drivers", async (t) => {
  const chainRun = (urgent: string[], hang?: string[]) => {
    const disk = diskBehindVirtio()
    const m = machine({ devices: [XHCI, VIRTIO_BLK_PCI, 'platform:pcspkr'], loadMs: 50, onLoad: disk.onLoad, hang })
    const o = m.base()
    o.urgent = new Set(urgent)
    o.force = urgent
    o.enough = () => disk.there
    const lines: string[] = []
    o.debug = (l) => lines.push(l)
    const scans: number[] = []
    const scan = o.scan
    o.scan = () => {
      scans.push(m.now())
      return scan()
    }
    return { m, o, lines, scans, at: (name: string) => m.calls.find((c) => c.name === name)?.at }
  }
  const known = chainRun(['virtio_pci', 'virtio_blk', 'ext4'])
  const r = await coldplug(known.o)
  t.ok(r.stoppedEarly, 'the root came')
  t.equal(known.at('ext4'), 0, 'the file system loads with the chain')
  // virtio and virtio_ring 0-50 ms, virtio_pci and virtio_blk 50-100 ms: the disk is there
  const xhci = known.at('xhci_pci')
  t.ok(xhci === undefined || xhci >= 100, `the USB controller did not take the CPU from the root's chain (${xhci} ms)`)
  t.notOk(known.at('snd_pcsp') !== undefined, 'what cannot lead to a disk is left to the root')
  t.ok(known.lines.includes("scan: after the root's chain"))
  t.ok(known.scans.length === 0 || known.scans[0] >= 100, `the devices scanned only once the chain was loaded (${known.scans})`)
  // the file system's load still in the kernel when the disk comes
  const early = chainRun(['virtio_pci', 'virtio_blk', 'ext4'], ['ext4'])
  t.ok((await coldplug(early.o)).stoppedEarly)
  t.same(early.scans, [], "the root came before the chain was loaded: no scan (the devices are the root's udev's)")

  const moved = chainRun(['sd_mod', 'ext4'])
  const rm = await coldplug(moved.o)
  t.ok(rm.stoppedEarly, 'a chain that names another disk: the root comes all the same')
  t.equal(moved.at('sd_mod'), 0)
  t.ok((moved.at('virtio_pci') ?? -1) >= 50 && (moved.at('xhci_pci') ?? -1) >= 50, 'the other storage drivers once the chain is loaded')
  t.ok(moved.lines.includes("the root's chain is loaded: the other storage drivers go"))
  t.ok(moved.scans.length >= 1 && moved.scans[0] >= 50, `the devices scanned once the chain was loaded (at ${moved.scans[0]} ms)`)

  // the chain's loads sleep on hardware (300 ms each) while the CPU idles
  const idleMachine = machine({ devices: [XHCI, VIRTIO_BLK_PCI], loadMs: 300, onLoad: diskBehindVirtio().onLoad })
  const io = idleMachine.base()
  io.urgent = new Set(['virtio_pci', 'virtio_blk', 'ext4'])
  io.force = [...io.urgent]
  io.enough = () => false
  io.cpu = () => ({ busy: idleMachine.now() * 0.1, idle: idleMachine.now() * 0.9 })
  const il: string[] = []
  io.debug = (l) => il.push(l)
  await coldplug(io)
  const xhciAt = idleMachine.calls.find((c) => c.name === 'xhci_pci')?.at ?? -1
  t.ok(xhciAt > 0 && xhciAt < 300, `the CPU idles beside the chain: the USB controller goes before the chain is loaded (at ${xhciAt} ms)`)
  t.ok(il.some((l) => /^cpu 90% idle beside the root's chain: the other storage drivers go$/.test(l)))

  const fsOnly = chainRun(['ext4'])
  await coldplug(fsOnly.o)
  t.equal(fsOnly.at('xhci_pci'), 0, 'a chain of only the file system (the disk unknown) holds nothing back')
  t.ok((fsOnly.at('ext4') ?? -1) >= 0)

  const noRoot = chainRun(['virtio_pci', 'virtio_blk', 'ext4'])
  noRoot.o.enough = undefined
  await coldplug(noRoot.o)
  t.equal(noRoot.at('xhci_pci'), 0, 'without root= awaited (settle), the chain only orders')
  t.equal(noRoot.scans[0], 0, 'and the devices are scanned at once')
  t.equal(fsOnly.scans[0], 0, 'as with a chain of only the file system')
})

t.test("a root chain through USB: the other storage drivers wait for the chain's holds and the disk's probe", async (t) => {
  // xHCI adds its root hub as it loads, and the hub enumerates the stick; usb-storage adds its
  // SCSI host, the LUN 1 s later (delay_use), and the disk 40 ms after that; ext4 loads longest
  const run = (rootOnUsb: boolean) => {
    let storageAt = -1
    const virtioDisk = diskBehindVirtio()
    const host = '/devices/pci0000:00/0000:00:03.0/usb2/2-1/2-1:1.0/host6'
    const m = machine({
      devices: [XHCI, VIRTIO_BLK_PCI],
      loadMsOf: { ext4: 100 },
      onLoad: (n) => {
        if (n === 'xhci_pci')
          return [
            [2, ev('add', '/devices/pci0000:00/0000:00:03.0/usb2', { SUBSYSTEM: 'usb', DEVTYPE: 'usb_device', TYPE: '9/0/3' })],
            [200, ev('add', '/devices/pci0000:00/0000:00:03.0/usb2/2-1/2-1:1.0', { MODALIAS: USB_DISK })],
          ]
        if (n !== 'usb_storage') return virtioDisk.onLoad(n)
        storageAt = m.now()
        return [
          [5, ev('add', `${host}/scsi_host/host6`, { SUBSYSTEM: 'scsi_host' })],
          [1000, ev('add', `${host}/target6:0:0/6:0:0:0`, { SUBSYSTEM: 'scsi', DEVTYPE: 'scsi_device', MODALIAS: 'scsi:t-0x00' })],
          [1040, ev('add', `${host}/target6:0:0/6:0:0:0/block/sda`, { SUBSYSTEM: 'block', DEVNAME: 'sda' })],
        ]
      },
    })
    const o = m.base()
    o.urgent = new Set(['xhci_pci', 'usb_storage', 'sd_mod', 'ext4'])
    o.force = [...o.urgent]
    o.enough = rootOnUsb ? () => storageAt >= 0 && m.now() >= storageAt + 1040 : () => virtioDisk.there
    o.holdFor = (e) => Math.max(usbHubHold(e), usbStorageHold(e, () => 1000))
    // the CPU idles while the stick enumerates and usb-storage waits
    o.cpu = () => ({ busy: m.now() * 0.1, idle: m.now() * 0.9 })
    const lines: string[] = []
    o.debug = (l) => lines.push(l)
    return { m, o, lines, at: (name: string) => m.calls.find((c) => c.name === name)?.at, storageAt: () => storageAt }
  }
  const usb = run(true)
  const r = await coldplug(usb.o)
  t.ok(r.stoppedEarly, 'the root came')
  t.ok(usb.storageAt() > 0)
  t.equal(usb.at('virtio_pci'), undefined, 'no other storage driver started while the stick was awaited, the CPU idle or not')
  t.notOk(usb.lines.some((l) => l.endsWith('the other storage drivers go')))

  // the chain was recorded on another boot: the root is not on the stick after all
  const moved = run(false)
  const rm = await coldplug(moved.o)
  t.ok(rm.stoppedEarly, 'the root came from the virtio disk')
  const lunAt = moved.storageAt() + 1000
  const virtioAt = moved.at('virtio_pci') ?? -1
  t.ok(virtioAt >= lunAt + moved.o.quietMs, `the other storage drivers went once the hold ended and the disk's probe was quiet (at ${virtioAt} ms, the LUN at ${lunAt} ms)`)
  t.ok(moved.lines.some((l) => /^(the root's chain is loaded|cpu \d+% idle beside the root's chain): the other storage drivers go$/.test(l)))
})

const USB_DISK = 'usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00'

t.test('what leads to a hardware wait: xHCI hosts and USB disks, not the older USB hosts', async (t) => {
  t.ok(leadsToWait(XHCI), 'xHCI (interface 30)')
  t.ok(leadsToWait(USB_DISK), 'a USB mass-storage interface (class 08)')
  t.notOk(leadsToWait(EHCI), 'EHCI shares a legacy interrupt line')
  t.notOk(leadsToWait('pci:v00008086d00007020sv00001AF4sd00001100bc0Csc03i00'), 'nor UHCI')
  t.notOk(leadsToWait(VIRTIO_BLK_PCI))
  t.notOk(leadsToWait('usb:v0627p0001d0000dc00dsc00dp00ic03isc01ip01in00'), 'a USB keyboard')
})

t.test('settling (nothing awaited): an xHCI host, then its USB disk, load first and alone; the root chain after', async (t) => {
  const run = (cpu?: (now: number) => { busy: number; idle: number }, loadMs = 50) => {
    const m = machine({
      devices: [VIRTIO_BLK_PCI, XHCI, 'platform:pcspkr'],
      loadMs,
      onLoad: (n) => (n === 'xhci_pci' ? [[20, ev('add', '/devices/pci0000:00/0000:00:03.0/usb1/1-1/1-1:1.0', { SUBSYSTEM: 'usb', MODALIAS: USB_DISK })]] : []),
    })
    const o = m.base()
    o.urgent = new Set(['virtio_pci'])
    o.force = ['virtio_pci']
    if (cpu) o.cpu = () => cpu(m.now())
    const lines: string[] = []
    o.debug = (l) => lines.push(l)
    return { m, o, lines, at: (name: string) => m.calls.find((c) => c.name === name)?.at }
  }
  const r = run()
  const report = await coldplug(r.o)
  t.same(report.results.filter((x) => x.status !== 'loaded').map((x) => x.name), [], 'all loaded')
  t.same(r.m.calls.filter((c) => c.at === 0).map((c) => c.name), ['xhci_pci'], 'the xHCI host alone at first, ahead of the root chain')
  t.equal(r.at('virtio'), 50, 'the rest once it is loaded')
  const disk = r.at('usb_storage') ?? -1
  t.equal(disk, 70, 'the USB disk as soon as it is there')
  t.ok(r.m.calls.every((c) => c.name === 'usb_storage' || c.at <= disk || c.at >= disk + 50), `nothing starts beside its load (${r.m.calls.map((c) => `${c.name}@${c.at}`).join(' ')})`)
  t.equal(r.lines.filter((l) => l.startsWith('first and alone')).length, 2, 'said for the host and for the disk')

  // a root chain that only orders (no root=): the scan is one batch, the host still first
  const order = run()
  order.o.force = []
  await coldplug(order.o)
  t.same(order.m.calls.filter((c) => c.at === 0).map((c) => c.name), ['xhci_pci'], 'one batch: the xHCI host alone at first too')

  // no uevent socket: /sys is scanned again when the loads run dry, and the USB disk found
  // there goes first and alone as well
  const polled = run()
  polled.o.events = null
  await coldplug(polled.o)
  t.ok(polled.m.calls.some((c) => c.name === 'usb_storage'), 'found by a rescan')
  t.equal(polled.lines.filter((l) => l.startsWith('first and alone')).length, 2, 'alone after the rescan too')

  // the host's init sleeps on hardware (300 ms) while the CPU idles: the others go beside it
  const idle = run((now) => ({ busy: now * 0.1, idle: now * 0.9 }), 300)
  await coldplug(idle.o)
  const virtio = idle.at('virtio') ?? -1
  t.ok(virtio > 0 && virtio < 300, `the root chain starts before the host is loaded (at ${virtio} ms)`)
  t.ok(idle.lines.includes('cpu 90% idle beside them: the rest goes'))

  // modload.handover=early (the root awaited): the root chain first, as before
  const early = run()
  early.o.enough = () => false
  await coldplug(early.o)
  t.equal(early.at('virtio'), 0)
  t.notOk(early.lines.some((l) => l.startsWith('first and alone')))
})

t.test("a load whose module is live while its call still waits in the kernel: what needs it goes", async (t) => {
  // hangs' init is done at 30 ms, but finit_module does not return (it waits for async probes)
  const m = machine({ devices: ['platform:hang2'], hang: ['hangs'] })
  const o = m.base()
  o.timeoutMs = 1000
  o.moduleState = (name) => (name === 'hangs' && m.now() >= 30 ? 'live' : null)
  const lines: string[] = []
  o.debug = (l) => lines.push(l)
  const r = await coldplug(o)
  const at = m.calls.find((c) => c.name === 'needs_hang')?.at
  t.ok(at !== undefined && at >= 100 && at <= 120, `its dependent started once it was seen live (at ${at} ms)`)
  t.ok(r.results.some((x) => x.name === 'needs_hang' && x.status === 'loaded'))
  t.ok(lines.some((l) => /^hangs: live after \d+ ms, its load still waits in the kernel/.test(l)))
  t.same(r.hung.map((h) => h.name), ['hangs'], 'the call that never returns is still reported at the timeout')

  const without = machine({ devices: ['platform:hang2'], hang: ['hangs'] })
  const w = without.base()
  w.timeoutMs = 1000
  await coldplug(w)
  t.notOk(without.calls.some((c) => c.name === 'needs_hang'), 'without the module state, it waits for the call')
})

t.test('loads that sleep in the kernel while the CPU idles get company: the limit follows the CPU', async (t) => {
  // five HBA-like drivers whose init sleeps 1 s each, nothing for the CPU to do meanwhile
  const devices = ['platform:hang', VIRTIO_BLK_PCI, XHCI, 'platform:pcspkr']
  const m = machine({ devices, loadMs: 1000 })
  const o = m.base()
  o.concurrency = 1
  o.maxConcurrency = 8
  let jiffies = 0
  o.cpu = () => {
    jiffies = m.now()
    return { busy: jiffies * 0.05, idle: jiffies * 0.95 } // 95% idle whatever happens
  }
  const lines: string[] = []
  o.debug = (l) => lines.push(l)
  const r = await coldplug(o)
  t.notOk(r.timedOut)
  t.ok(lines.some((l) => /^jobs 1 -> 2: cpu 95% idle, \d+ ready to start$/.test(l)), 'raised while the CPU idled')
  const fixed = machine({ devices, loadMs: 1000 })
  const f = fixed.base()
  f.concurrency = 1
  const rf = await coldplug(f)
  t.ok(r.ms < rf.ms, `sooner with the limit adapting (${r.ms} ms) than fixed at 1 (${rf.ms} ms)`)
  const busy = machine({ devices, loadMs: 1000 })
  const b = busy.base()
  b.concurrency = 1
  b.maxConcurrency = 8
  b.cpu = () => ({ busy: busy.now(), idle: 0 })
  const rb = await coldplug(b)
  t.equal(rb.ms, rf.ms, 'a busy CPU keeps the configured limit')
})

t.test('while the root is awaited (enough), CPU-feature modules wait; left to the root, or let go when all else is quiet', async (t) => {
  const CPU = 'cpu:type:x86,ven0000fam0006mod003F:feature:,0000,0099'
  const disk = diskBehindVirtio()
  const m = machine({
    devices: [CPU, VIRTIO_BLK_PCI],
    onLoad: disk.onLoad,
  })
  const o = m.base()
  o.enough = () => disk.there
  const r = await coldplug(o)
  t.ok(r.stoppedEarly)
  t.notOk(m.calls.some((c) => c.name === 'aesni'), 'the CPU-feature module never took the CPU from the disk drivers')
  t.same(r.blocked.map((b) => b.name), ['aesni'], 'left to the root')

  const never = machine({ devices: [CPU, VIRTIO_BLK_PCI] })
  const n = never.base()
  n.enough = () => false
  const lines: string[] = []
  n.debug = (l) => lines.push(l)
  const nr = await coldplug(n)
  t.notOk(nr.stoppedEarly)
  t.ok(never.calls.some((c) => c.name === 'aesni'), 'no root: it loads once all else is quiet')
  t.ok(never.calls.findIndex((c) => c.name === 'aesni') > never.calls.findIndex((c) => c.name === 'virtio_pci'), 'after the bus drivers')
  t.ok(lines.some((l) => l.startsWith('the root is not there yet and all else is quiet')))
  t.same(nr.blocked, [])
  t.notOk(nr.timedOut, 'settles, no timeout')

  const plain = machine({ devices: [CPU, VIRTIO_BLK_PCI] })
  await coldplug(plain.base())
  t.equal(plain.calls.find((c) => c.name === 'aesni')?.at, 0, 'without enough, nothing is held')
})

t.test("a module file gone because the image was handed over to the root: left to the root, coldplug stops, no failure", async (t) => {
  // a boot script's stop reaches a process at the lowest CPU priority late: by then the switch
  // to the root may have emptied the image, and a load that starts finds no file (ENOENT)
  for (const gone of [true, false]) {
    const m = machine({ devices: [VIRTIO_PCI, 'platform:pcspkr'], fail: { virtio_ring: 2 } })
    const o = m.base()
    o.concurrency = 2
    o.handedOver = () => gone
    const lines: string[] = []
    o.debug = (l) => lines.push(l)
    const r = await coldplug(o)
    const ring = r.results.find((x) => x.name === 'virtio_ring')!
    if (gone) {
      t.ok(r.stoppedEarly, 'stopped')
      t.equal(r.stoppedBy, 'handed-over')
      t.ok(leftToRoot(ring), 'the load whose file went is left to the root')
      t.match(describe(ring), /^left to the root virtio_ring: .*handed over to the root/)
      t.equal(levelOf(ring), 'detail', 'not an error in the kernel log')
      t.same(r.blocked.map((b) => b.name).sort(), ['snd_pcsp', 'virtio_pci'], 'its dependent is not skipped as failed: left to the root, as what had not started')
      t.notOk(m.calls.some((c) => c.name === 'virtio_pci' || c.name === 'snd_pcsp'), 'nothing new started')
      t.ok(succeeded(r), 'not a failure: the exit code stays 0')
      t.ok(lines.some((l) => l.startsWith("the image's files are gone")), lines.join('\n'))
    } else {
      t.notOk(leftToRoot(ring))
      t.match(describe(ring), /^failed virtio_ring: ENOENT /, 'with the image still there, ENOENT is a failure (a missing file, symbol or firmware)')
      t.equal(levelOf(ring), 'error')
      t.notOk(succeeded(r))
      t.notOk(r.stoppedEarly)
    }
  }
})

t.test('a load in flight when a stop came, whose file then went with the image: left to the root too', async (t) => {
  const m = machine({ devices: [VIRTIO_PCI], fail: { virtio_ring: 2 } })
  const o = m.base()
  o.handedOver = () => true
  o.stop = Promise.resolve() // asked at once: the first loads are in flight
  const r = await coldplug(o)
  t.equal(r.stoppedBy, 'stop')
  t.ok(leftToRoot(r.results.find((x) => x.name === 'virtio_ring')!))
  t.same(r.blocked.map((b) => b.name), ['virtio_pci'])
  t.ok(succeeded(r))
})

/** A kernel log whose lines appear at their time on the fake clock, each drained once. */
function kernelLogAt(log: ReadonlyArray<{ at: number; text: string }>, now: () => number) {
  let given = 0
  return {
    drain() {
      const ready = log.filter((l) => l.at <= now()).slice(given)
      given += ready.length
      return ready.map((l) => l.text)
    },
  }
}

t.test("a USB device the kernel says it enumerates holds the settle until its add, past the hub's hold", async (t) => {
  // a stick on a full-speed port: the root hub's add, the hub driver's line 400 ms later, the
  // device's add 900 ms after the controller's driver returned (the hub's hold is 500 ms)
  const bus = '/devices/pci0000:00/0000:00:03.0/usb2'
  const run = (announce: boolean) => {
    const log: { at: number; text: string }[] = [{ at: 0, text: 'usb 1-1: new full-speed USB device number 2 using ohci-pci' }] // long before; its device is there
    const m = machine({
      devices: [XHCI],
      onLoad: (n) => {
        if (n !== 'xhci_pci') return []
        if (announce) log.push({ at: m.now() + 400, text: 'usb 2-1: new full-speed USB device number 2 using xhci_hcd' })
        return [
          [2, ev('add', bus, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_device', TYPE: '9/0/3' })],
          [900, ev('add', `${bus}/2-1`, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_device', TYPE: '0/0/0' })],
          [901, ev('add', `${bus}/2-1/2-1:1.0`, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_interface', MODALIAS: USB_DISK })],
        ]
      },
    })
    const o = m.base()
    o.holdFor = (e) => usbHubHold(e)
    o.kernelLog = kernelLogAt(log, m.now)
    o.usbDeviceThere = (name) => name === '1-1'
    const lines: string[] = []
    o.debug = (l) => lines.push(l)
    return { o, lines }
  }
  const announced = run(true)
  const r = await coldplug(announced.o)
  t.ok(r.results.some((x) => x.name === 'usb_storage' && x.status === 'loaded'), 'the stick got its driver')
  t.ok(announced.lines.some((l) => l.startsWith('hold for USB device 2-1: the kernel enumerates it')), 'said in the debug log')
  t.ok(announced.lines.some((l) => /^hold for USB device 2-1 ends: add .*\/2-1$/.test(l)), 'ended by its add')
  t.notOk(announced.lines.some((l) => l.startsWith('hold for USB device 1-1')), 'a device already there holds nothing')

  const silent = run(false)
  const rs = await coldplug(silent.o)
  t.notOk(rs.results.some((x) => x.name === 'usb_storage'), "without the kernel's word the hub's hold ends first")
})

t.test('an announced USB device that never comes: the wait ends at the kernel giving up, or after enumerationMs', async (t) => {
  const bus = '/devices/pci0000:00/0000:00:03.0/usb2'
  const run = async (giveUp: boolean) => {
    const log: { at: number; text: string }[] = []
    let hubAt = 0
    const m = machine({
      devices: [XHCI],
      onLoad: (n) => {
        if (n !== 'xhci_pci') return []
        hubAt = m.now()
        log.push({ at: hubAt + 400, text: 'usb 2-1: new full-speed USB device number 2 using xhci_hcd' })
        if (giveUp) log.push({ at: hubAt + 1500, text: 'usb usb2-port1: unable to enumerate USB device' })
        return [[2, ev('add', bus, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_device', TYPE: '9/0/3' })]]
      },
    })
    const o = m.base()
    o.holdFor = (e) => usbHubHold(e)
    o.enumerationMs = 2000
    o.kernelLog = kernelLogAt(log, m.now)
    const r = await coldplug(o)
    return r.ms - hubAt
  }
  const capped = await run(false)
  t.ok(capped >= 400 + 2000 && capped < 400 + 2000 + 400, `settled once enumerationMs passed (${capped} ms after the hub)`)
  const gaveUp = await run(true)
  t.ok(gaveUp >= 1500 && gaveUp < 1500 + 400, `settled soon after the kernel gave up on the port (${gaveUp} ms after the hub)`)
})

t.test('modaliasesSeen: what coldplug looked up, matched or not, blacklisted too', async (t) => {
  const seen = modaliasesSeen({
    results: [],
    hung: [],
    blocked: [],
    unmatched: ['platform:nothing'],
    blacklisted: [{ alias: 'pci:v00008086d0000293E', module: 'snd_hda_intel' }],
    commands: [],
    matched: new Map([['virtio:d00000002v00001AF4', ['virtio_blk']], ['ext4', ['ext4']]]),
    events: 0,
    scans: 1,
    timedOut: false,
    stoppedEarly: false,
    ms: 1,
  })
  t.same([...seen].sort(), ['ext4', 'pci:v00008086d0000293E', 'platform:nothing', 'virtio:d00000002v00001AF4'])
})
