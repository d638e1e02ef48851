// Parser for modules.builtin and modules.order (same format): one module path per line,
// e.g. "kernel/drivers/virtio/virtio_pci.ko", relative to /lib/modules/KVER. Blank lines and
// lines starting with '#' are skipped. Returns normalised module names in file order.
import { modNameFromPath } from '../core/names.js'

export function parseModuleList(text: string): string[] {
  const out: string[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line.length === 0 || line[0] === '#') continue
    out.push(modNameFromPath(line))
  }
  return out
}
