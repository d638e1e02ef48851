// The kernel log lines that announce a USB device before its uevent (src/init/kmsg.ts).
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { kmsgText, openKernelLog, usbEnumeration } from '../src/init/kmsg.js'

t.test('a /dev/kmsg record: its text, without the header and the dictionary', async (t) => {
  t.equal(kmsgText('6,339,5600601,-;usb 1-1: new full-speed USB device number 2 using ohci-pci\n SUBSYSTEM=usb\n DEVICE=c189:1\n'), 'usb 1-1: new full-speed USB device number 2 using ohci-pci')
  t.equal(kmsgText('4,12,99,c;no newline'), 'no newline')
  t.equal(kmsgText('garbage;text'), null)
  t.equal(kmsgText(''), null)
})

t.test("the hub driver's lines: start, give-up and disconnect, named as under /sys/bus/usb/devices", async (t) => {
  t.same(usbEnumeration('usb 1-1: new full-speed USB device number 2 using ohci-pci'), { kind: 'start', device: '1-1' })
  t.same(usbEnumeration('usb 3-1.4.2: new high-speed USB device number 9 using xhci_hcd'), { kind: 'start', device: '3-1.4.2' })
  t.same(usbEnumeration('usb 2-2: new SuperSpeed USB device number 3 using xhci_hcd'), { kind: 'start', device: '2-2' })
  t.same(usbEnumeration('usb 1-1.1: USB disconnect, device number 3'), { kind: 'end', device: '1-1.1' })
  t.same(usbEnumeration('usb usb1-port2: unable to enumerate USB device'), { kind: 'end', device: '1-2' }, "a root hub's port")
  t.same(usbEnumeration('usb 1-1-port3: unable to enumerate USB device'), { kind: 'end', device: '1-1.3' }, "a hub's port")
  t.equal(usbEnumeration('usb 1-1: New USB device found, idVendor=0409, idProduct=55aa, bcdDevice= 1.01'), null)
  t.equal(usbEnumeration('usb 1-1: device descriptor read/64, error -71'), null, 'an error the kernel retries after is not the end')
  t.equal(usbEnumeration('hub 1-0:1.0: USB hub found'), null)
})

t.test('a log that cannot be opened drains nothing; a file drains what it holds', async (t) => {
  const missing = openKernelLog('/nonexistent/kmsg')
  t.same(missing.drain(), [])
  missing.close()
  // a regular file stands in for /dev/kmsg: one read returns all of it, as one record
  const dir = mkdtempSync(path.join(tmpdir(), 'kmsg-'))
  const file = path.join(dir, 'kmsg')
  writeFileSync(file, '6,1,10,-;usb 1-1: new full-speed USB device number 2 using ohci-pci\n')
  const log = openKernelLog(file)
  t.same(log.drain(), ['usb 1-1: new full-speed USB device number 2 using ohci-pci'])
  t.same(log.drain(), [], 'then nothing more')
  log.close()
})
