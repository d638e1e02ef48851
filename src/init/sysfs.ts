// Finds the modalias strings of the devices present in /sys. Devices come and go while we walk
// (a driver that just loaded adds children), so a vanished entry is normal, not an error.
import { readdirSync, readFileSync, readlinkSync, statSync, type Dirent } from 'node:fs'
import { join } from 'node:path'

// EINVAL: readlink of an entry that is not (or no longer) a link
const VANISHED = new Set(['ENOENT', 'ENOTDIR', 'ENODEV', 'EACCES', 'EIO', 'EINVAL'])

/** f(), or fallback when what it read vanished under it (the errors above). */
export function tolerate<T>(f: () => T, fallback: T): T {
  try {
    return f()
  } catch (err) {
    if (VANISHED.has((err as NodeJS.ErrnoException).code ?? '')) return fallback
    throw err
  }
}

/** Every modalias under `top` (default /sys/devices), with the device directory it came from. */
export function scanModaliases(top: string): { device: string; modalias: string }[] {
  const out: { device: string; modalias: string }[] = []
  const stack = [top]
  while (stack.length) {
    const dir = stack.pop() as string
    const entries = tolerate<Dirent[]>(() => readdirSync(dir, { withFileTypes: true }), [])
    // a device's "power" directory is its PM attribute group, never a device: 40% of the
    // directories of /sys/devices, and each costs a readdir (slow under emulation)
    const isDevice = entries.some((e) => e.name === 'uevent' && e.isFile())
    for (const e of entries) {
      // symlinks (subsystem, driver, device links) would lead out of the tree or in circles
      if (e.isDirectory()) {
        if (!(isDevice && e.name === 'power')) stack.push(`${dir}/${e.name}`)
      } else if (e.name === 'modalias' && e.isFile()) {
        const text = tolerate(() => readFileSync(`${dir}/modalias`, 'latin1'), '').trim()
        if (text.length) out.push({ device: dir, modalias: text })
      }
    }
  }
  return out
}

/** The MODALIAS= line of a device's uevent file, if any. */
export function ueventModalias(dir: string): string | undefined {
  const text = tolerate(() => readFileSync(`${dir}/uevent`, 'latin1'), '')
  return /^MODALIAS=(.+)$/m.exec(text)?.[1]?.trim() || undefined
}

const hasModaliasFile = (dir: string) => tolerate(() => statSync(`${dir}/modalias`).isFile(), false)

/**
 * The modaliases that a bus reports only in its devices' uevent, under `busTop` (/sys/bus). The
 * mmc bus gives an SD card's "mmc:block" so and has no modalias file: the walk of /sys/devices
 * does not see it, and a card that appeared before coldplug listened (a host controller built
 * into the kernel, a rescan after lost uevents) would get no driver, where udev's trigger, which
 * makes every device say "add" again, gets it one. A bus is looked at through its first
 * device: one with a modalias file, or without MODALIAS in its uevent (usb's devices, memory
 * blocks, event sources), or with one the walk already found (`known`: each CPU says in its
 * uevent what the cpu subsystem's modalias file says once) leaves the bus to the walk;
 * otherwise every device of the bus without a modalias file has its uevent read. A readdir per
 * bus and a read per bus without modalias files, not a read per device of the machine.
 */
export function scanBusModaliases(busTop: string, known: ReadonlySet<string> = new Set()): { device: string; modalias: string }[] {
  const out: { device: string; modalias: string }[] = []
  for (const bus of tolerate(() => readdirSync(busTop), [] as string[])) {
    const devices = `${busTop}/${bus}/devices`
    const names = tolerate(() => readdirSync(devices), [] as string[])
    if (!names.length || hasModaliasFile(`${devices}/${names[0]}`)) continue
    const first = ueventModalias(`${devices}/${names[0]}`)
    if (first === undefined || known.has(first)) continue
    for (const name of names) {
      // the device's own directory, as the walk would name it (the entries are links to it):
      // joined, not resolved, so a relative `busTop` gives paths under the same relative root
      const dir = tolerate(() => join(devices, readlinkSync(`${devices}/${name}`)), undefined)
      if (dir === undefined || hasModaliasFile(dir)) continue
      const modalias = ueventModalias(dir)
      if (modalias) out.push({ device: dir, modalias })
    }
  }
  return out
}

/** Every modalias of the devices present under the sysfs mount `sysfs` (/sys): the walk of
 * its devices/ and what its buses report only in uevents, in the order of the devices' paths
 * (a bus's devices by address, a parent before its children), the order udevadm trigger
 * replays them in. A directory's entries come in kernfs's order, a hash of their names. */
export function scanDevices(sysfs: string): { device: string; modalias: string }[] {
  const walked = scanModaliases(`${sysfs}/devices`)
  const all = [...walked, ...scanBusModaliases(`${sysfs}/bus`, new Set(walked.map((d) => d.modalias)))]
  return all.sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0))
}
