// Finds the modalias strings of the devices present in /sys. Devices come and go while we walk
// (a driver that just loaded adds children), so a vanished entry is normal, not an error.
import { readdirSync, readFileSync, type Dirent } from 'node:fs'

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
