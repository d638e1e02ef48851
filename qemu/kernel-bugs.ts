// Kernel bugs that a QEMU test machine hits now and then whatever loads its drivers, each known by
// what its oops prints. A boot that panics with one of them says nothing about what is tested
// (it died of the kernel's own race): the harness boots again, says so on stderr, and a boot that
// panics for any other reason, or with the same bug every time, still fails.
import { boot, type BootOptions, type BootResult } from './boot.js'

export interface KernelBug {
  name: string
  /** every one of these must be on the console */
  signature: readonly RegExp[]
  /** what goes wrong, and where it was seen */
  reason: string
}

export const knownKernelBugs: readonly KernelBug[] = [
  {
    name: 'am53c974 shared interrupt during probe',
    // the oops's RIP, and the handler on the stack: the rest of the trace varies
    signature: [/\bRIP: 0010:esp_reset_cleanup\b/, /\bscsi_esp_intr\b/],
    reason:
      "am53c974's probe registers esp_scsi's handler on its shared legacy interrupt line and then " +
      'reads the card\'s EEPROM bit by bit before it sets up the state the handler uses; an interrupt of ' +
      'another device on that line meanwhile (seen: uhci_hcd while its USB devices enumerate) runs the ' +
      'handler, which takes the status the firmware left for a bus reset and walks an unset list ' +
      '(NULL dereference in interrupt: a panic). odd-mix, Debian 6.1: modload 1 boot in 8 and 1 capture ' +
      'in 6 with the host loaded, udev + kmod 0 in 8; 2 of 2 capture boots in one CI run',
  },
]

/** The known kernel bug that `r` panicked with, if any. Pure. */
export function knownKernelBug(r: Pick<BootResult, 'panicked' | 'console'>): KernelBug | undefined {
  if (!r.panicked) return undefined
  return knownKernelBugs.find((b) => b.signature.every((re) => re.test(r.console)))
}

/** `once()` again (up to `attempts` boots in all) while its boot panics with a known kernel bug;
 * the last result is returned whatever it is, so a bug that comes every time still fails the
 * caller. `what` names the boot in the stderr line. */
export async function againPastKernelBugs(what: string, once: () => Promise<BootResult>, attempts = 4): Promise<BootResult> {
  let r = await once()
  for (let i = 1; i < attempts; i++) {
    const bug = knownKernelBug(r)
    if (!bug) break
    process.stderr.write(`${what}: the kernel panicked with a known kernel bug (${bug.name}); booting again (${i + 1} of ${attempts})\n`)
    r = await once()
  }
  return r
}

/** `boot(opts)`, again while it panics with a known kernel bug (againPastKernelBugs). */
export function bootPastKernelBugs(opts: BootOptions, what: string): Promise<BootResult> {
  return againPastKernelBugs(what, () => boot(opts))
}
