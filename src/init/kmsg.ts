// What the kernel's log says before any uevent does: a USB device being enumerated.
//
// A hub finds a device on a port, debounces, resets it, reads its descriptors, and only then
// adds it (its uevent). On a full-speed bus under emulation that takes half a second per device
// and more behind each hub; the hold a new hub gets (usbHubHold) is a guess, and a device two
// hubs deep came after coldplug had settled. The hub driver says when it starts
// ("usb 1-1.2: new full-speed USB device number 4 using ohci-pci", in every kernel since
// 2.6.36) and when it gives up on a port ("usb 1-1-port2: unable to enumerate USB device"):
// between the two lines, or the start and the device's add, the kernel is working on a device
// we will want a driver for. Parsing is pure; openKernelLog reads /dev/kmsg.
import { closeSync, openSync, readSync, constants } from 'node:fs'

/** A record of /dev/kmsg ("6,339,5600601,-;text\n KEY=VALUE\n..."): its message text. */
export function kmsgText(record: string): string | null {
  const semi = record.indexOf(';')
  if (semi < 0 || !/^\d+,\d+,\d+/.test(record)) return null
  const end = record.indexOf('\n', semi)
  return record.slice(semi + 1, end < 0 ? undefined : end)
}

export type UsbEnumeration = { kind: 'start' | 'end'; device: string }

/**
 * A USB hub driver's line about a device it enumerates, with the device's name as it will be
 * under /sys/bus/usb/devices (`1-1.2`): `start` when it begins, `end` when it gives up on the
 * port or the device goes (the add uevent is the other end). Null for any other line.
 */
export function usbEnumeration(text: string): UsbEnumeration | null {
  let m = /^usb (\d+-\d+(?:\.\d+)*): new .*USB device number \d+ using /.exec(text)
  if (m) return { kind: 'start', device: m[1] }
  m = /^usb (\d+-\d+(?:\.\d+)*): USB disconnect/.exec(text)
  if (m) return { kind: 'end', device: m[1] }
  // a port of a root hub (usb1-port2 -> 1-2) or of a hub (1-1-port2 -> 1-1.2)
  m = /^usb (?:usb(\d+)|(\d+-\d+(?:\.\d+)*))-port(\d+): unable to enumerate USB device/.exec(text)
  if (m) return { kind: 'end', device: m[1] !== undefined ? `${m[1]}-${m[3]}` : `${m[2]}.${m[3]}` }
  return null
}

export interface KernelLog {
  /** the messages logged since the last call (all of the buffer the first time) */
  drain(): string[]
  close(): void
}

/** /dev/kmsg for reading, opened at the first drain; a log that cannot be read drains nothing
 * (the holds then are the fixed ones). */
export function openKernelLog(path = '/dev/kmsg'): KernelLog {
  let fd: number | null | undefined
  const buf = Buffer.alloc(8192)
  return {
    drain() {
      if (fd === undefined) {
        try {
          fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
        } catch {
          fd = null
        }
      }
      if (fd === null) return []
      const out: string[] = []
      for (;;) {
        let n: number
        try {
          n = readSync(fd, buf, 0, buf.length, null)
        } catch (err) {
          // EPIPE: records were overwritten before we read them; the next read goes on
          if ((err as NodeJS.ErrnoException).code === 'EPIPE') continue
          break // EAGAIN: nothing more for now
        }
        if (n <= 0) break
        const text = kmsgText(buf.toString('utf8', 0, n))
        if (text !== null) out.push(text)
      }
      return out
    },
    close() {
      if (typeof fd === 'number') closeSync(fd)
      fd = null
    },
  }
}
