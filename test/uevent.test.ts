import t from 'tap'
import { openUeventSource, parseUevent } from '../src/init/uevent.js'
import { SysError } from '../src/sys/syscalls.js'

const enc = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'))
const USB_ADD = 'add@/devices/pci0000:00/0000:00:03.0/usb2/2-1\0ACTION=add\0DEVPATH=/devices/pci0000:00/0000:00:03.0/usb2/2-1\0SUBSYSTEM=usb\0MODALIAS=usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00\0SEQNUM=1234\0'

t.test('a kernel uevent: action, devpath and the environment', async (t) => {
  const e = parseUevent(enc(USB_ADD))!
  t.equal(e.action, 'add')
  t.equal(e.devpath, '/devices/pci0000:00/0000:00:03.0/usb2/2-1')
  t.equal(e.env.get('MODALIAS'), 'usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00')
  t.equal(e.env.get('SUBSYSTEM'), 'usb')
  t.equal(e.env.get('SEQNUM'), '1234')
})

t.test('the header alone is enough; udev re-broadcasts and junk are not events', async (t) => {
  t.same(parseUevent(enc('remove@/devices/x\0'))?.action, 'remove')
  t.equal(parseUevent(enc('libudev\0\xfe\xed\xca\xfe')), null)
  t.equal(parseUevent(enc('nonsense')), null)
  t.equal(parseUevent(enc('')), null)
})

t.test('the socket source drains what is queued and notes an overflow', async (t) => {
  const queue: (string | 'ENOBUFS')[] = [USB_ADD, 'ENOBUFS', 'libudev\0x', 'change@/devices/y\0ACTION=change\0']
  let closed = -1
  const src = openUeventSource(
    {
      ueventSocket: () => 7,
      recv: (fd, buf) => {
        t.equal(fd, 7)
        const next = queue.shift()
        if (next === undefined) return null
        if (next === 'ENOBUFS') throw new SysError('recv', 105)
        const b = enc(next)
        buf.set(b)
        return b.length
      },
    },
    (fd) => (closed = fd),
  )
  t.notOk(src.overflowed())
  t.same(src.drain().map((e) => e.action), ['add', 'change'])
  t.ok(src.overflowed())
  t.notOk(src.overflowed(), 'reported once per overflow')
  t.same(src.drain(), [])
  src.close()
  t.equal(closed, 7)
})

t.test('wait: one poll of the socket at a time, capped, resolved when it ends', async (t) => {
  const polls: number[] = []
  let finish: (() => void) | null = null
  const sys = {
    ueventSocket: () => 7,
    recv: () => null,
    pollAsync: (fd: number, ms: number) => {
      polls.push(ms)
      return new Promise<boolean>((r) => (finish = () => r(true)))
    },
  }
  const src = openUeventSource(sys, () => undefined)
  const a = src.wait!(30)
  const b = src.wait!(5000)
  t.equal(a, b, 'a second wait joins the pending poll')
  t.same(polls, [30])
  finish!()
  await a
  const c = src.wait!(5000)
  t.same(polls, [30, 100], 'a new poll once the last ended; never longer than 100 ms')
  finish!()
  await c
  t.equal(openUeventSource({ ueventSocket: () => 7, recv: () => null }, () => undefined).wait, undefined, 'no pollAsync: no wait')
})
